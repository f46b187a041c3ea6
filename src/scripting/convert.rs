//! Conversions between replies and Lua values, as Redis's script_lua.c
//! makes them: a command's reply as the script sees it in RESP2 or RESP3
//! (`redisProtocolToLuaType_*`), and the script's result as a reply
//! (`luaReplyToRedisReply`).
//!
//! Both directions work on the Lua stack through the C API, as Redis's
//! do: they run once per `redis.call` and once per script, and going
//! through mlua's values cost a registry reference and a protected call
//! per value. Neither raises a Lua error except when Lua cannot allocate
//! (the same exception mlua's own stack checks live with; Redis aborts
//! there), and `redis.call` keeps its frames free of destructors while it
//! pushes (see engine.rs).

use std::ffi::{c_int, CStr};

use bytes::Bytes;
use mlua::{ffi, Lua, Table};

use super::{deeper, LUA_MAX_C_STACK};
use crate::protocol::Reply;

/// Redis's error text for `text` (`luaPushErrorBuff`): `-CODE message`
/// keeps its code, a plain message gets `ERR`; leading and trailing CR/LF
/// go.
fn error_text(text: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match text.strip_prefix(b"-") {
        Some(rest) => match memchr::memchr(b' ', rest) {
            Some(space) => (&rest[..space], &rest[space + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", text),
    };
    let is_line_end = |b: &u8| matches!(b, b'\r' | b'\n');
    let start = msg
        .iter()
        .position(|b| !is_line_end(b))
        .unwrap_or(msg.len());
    let end = msg
        .iter()
        .rposition(|b| !is_line_end(b))
        .map_or(start, |i| i + 1);
    let msg = &msg[start..end.max(start)];
    let mut full = Vec::with_capacity(code.len() + 1 + msg.len());
    full.extend_from_slice(code);
    full.push(b' ');
    full.extend_from_slice(msg);
    full
}

/// Redis's error table for `text`, for the functions written with mlua.
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(error_text(text))?)?;
    Ok(t)
}

/// Pushes Redis's error table for `text`.
///
/// # Safety
/// `l` is a Lua state with room for 3 more values.
pub unsafe fn push_error_table(l: *mut ffi::lua_State, text: &[u8]) {
    ffi::lua_createtable(l, 0, 1);
    push_bytes(l, &error_text(text));
    set_field(l, c"err");
}

/// Error and status lines cannot hold CR or LF: Redis maps them to spaces.
pub fn one_line(mut text: Vec<u8>) -> Vec<u8> {
    for b in &mut text {
        if *b == b'\r' || *b == b'\n' {
            *b = b' ';
        }
    }
    text
}

pub(super) unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    ffi::lua_pushlstring_(l, b.as_ptr().cast(), b.len());
}

/// `t[name] = v` for the table below the value on top, raw; pops the value.
pub(super) unsafe fn set_field(l: *mut ffi::lua_State, name: &CStr) {
    ffi::lua_pushstring_(l, name.as_ptr());
    ffi::lua_insert(l, -2);
    ffi::lua_rawset(l, -3);
}

/// `t[k] = v` with the key and value on top and the table below them;
/// pops both. A nil or NaN key, which a table cannot hold, is skipped.
unsafe fn set_pair(l: *mut ffi::lua_State) {
    let key_type = ffi::lua_type(l, -2);
    let nan = key_type == ffi::LUA_TNUMBER && ffi::lua_tonumber(l, -2).is_nan();
    if key_type == ffi::LUA_TNIL || nan {
        ffi::lua_settop(l, -3);
    } else {
        ffi::lua_rawset(l, -3);
    }
}

/// A one-field table `{name = v}` of the value on top, which it replaces.
unsafe fn wrap(l: *mut ffi::lua_State, name: &CStr) {
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_insert(l, -2);
    set_field(l, name);
}

/// Pushes a command's reply as the script sees it (its protocol is RESP3
/// when `resp3`). Command replies nest a few levels at most; each level
/// makes sure of its stack room.
///
/// # Safety
/// `l` is a Lua state with room for 4 more values.
pub unsafe fn push_reply(l: *mut ffi::lua_State, reply: &Reply, resp3: bool) {
    match reply {
        Reply::Simple(text) => {
            push_bytes(l, text);
            wrap(l, c"ok");
        }
        Reply::Error(text) => {
            let mut line = Vec::with_capacity(text.len() + 1);
            line.push(b'-');
            line.extend_from_slice(text);
            push_error_table(l, &line);
            ffi::lua_pushboolean(l, 1);
            set_field(l, c"ignore_error_stats_update");
        }
        Reply::Integer(n) => ffi::lua_pushnumber(l, *n as f64),
        Reply::Bulk(b) => push_bytes(l, b),
        Reply::DoubleText(text) if resp3 => {
            let d = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or(0.0);
            ffi::lua_pushnumber(l, d);
            wrap(l, c"double");
        }
        Reply::DoubleText(text) => push_bytes(l, text),
        Reply::Null | Reply::NullArray | Reply::NullIn(_) if resp3 => ffi::lua_pushnil(l),
        Reply::Null | Reply::NullArray | Reply::NullIn(_) => ffi::lua_pushboolean(l, 0),
        Reply::Array(items) | Reply::Push(items) => push_array(l, items, resp3),
        Reply::Set(items) if resp3 => {
            room(l);
            ffi::lua_createtable(l, 0, c_len(items.len()));
            for item in items {
                push_reply(l, item, resp3);
                ffi::lua_pushboolean(l, 1);
                set_pair(l);
            }
            wrap(l, c"set");
        }
        Reply::Set(items) => push_array(l, items, resp3),
        Reply::Map(pairs) if resp3 => {
            room(l);
            ffi::lua_createtable(l, 0, c_len(pairs.len()));
            for (k, v) in pairs {
                push_reply(l, k, resp3);
                push_reply(l, v, resp3);
                set_pair(l);
            }
            wrap(l, c"map");
        }
        Reply::Map(pairs) => {
            room(l);
            ffi::lua_createtable(l, c_len(pairs.len() * 2), 0);
            for (i, (k, v)) in pairs.iter().enumerate() {
                push_reply(l, k, resp3);
                ffi::lua_rawseti_(l, -2, c_len(2 * i + 1));
                push_reply(l, v, resp3);
                ffi::lua_rawseti_(l, -2, c_len(2 * i + 2));
            }
        }
        Reply::Double(d) if resp3 => {
            ffi::lua_pushnumber(l, *d);
            wrap(l, c"double");
        }
        Reply::Double(d) => {
            let mut text = Vec::new();
            crate::number::format_double(*d, &mut text);
            push_bytes(l, &text);
        }
        Reply::Bool(b) if resp3 => ffi::lua_pushboolean(l, c_int::from(*b)),
        Reply::Bool(b) => ffi::lua_pushnumber(l, f64::from(u8::from(*b))),
        Reply::Verbatim(format, data) if resp3 => {
            ffi::lua_createtable(l, 0, 2);
            push_bytes(l, data);
            set_field(l, c"string");
            push_bytes(l, format.as_bytes());
            set_field(l, c"format");
            wrap(l, c"verbatim_string");
        }
        Reply::Verbatim(_, data) => push_bytes(l, data),
        Reply::BigNumber(digits) if resp3 => {
            push_bytes(l, digits);
            wrap(l, c"big_number");
        }
        Reply::BigNumber(digits) => push_bytes(l, digits),
        Reply::Attribute(_, inner) => push_reply(l, inner, resp3),
        Reply::Bulks(bulks) => {
            ffi::lua_createtable(l, c_len(bulks.len()), 0);
            for (i, item) in bulks.iter().enumerate() {
                push_bytes(l, item);
                ffi::lua_rawseti_(l, -2, c_len(i + 1));
            }
        }
    }
}

unsafe fn push_array(l: *mut ffi::lua_State, items: &[Reply], resp3: bool) {
    room(l);
    ffi::lua_createtable(l, c_len(items.len()), 0);
    for (i, item) in items.iter().enumerate() {
        push_reply(l, item, resp3);
        ffi::lua_rawseti_(l, -2, c_len(i + 1));
    }
}

/// Stack room for one more level of a nested reply (its table, a key, a
/// value and a wrapper). Lua's stack holds 8,000 slots for C functions;
/// replies never nest near that, and Redis panics when one would.
unsafe fn room(l: *mut ffi::lua_State) {
    ffi::lua_checkstack(l, 4);
}

/// A length or index as Lua's C API takes it (a reply never has 2^31 items).
fn c_len(n: usize) -> c_int {
    c_int::try_from(n).unwrap_or(c_int::MAX)
}

/// The script's result, the value at `index`, as the reply (Redis's
/// `luaReplyToRedisReply`); the script's protocol decides what booleans
/// become. Leaves the stack as it was.
///
/// # Safety
/// `l` is a Lua state and `index` a valid absolute index in it.
pub unsafe fn lua_to_reply(l: *mut ffi::lua_State, index: c_int, resp3: bool) -> Reply {
    // Redis's result sits two slots deep in its Lua stack.
    to_reply(l, index, resp3, 2)
}

/// A Lua number as C's `(long long)` cast gives it on x86-64: NaN and
/// whatever is out of range become the smallest integer.
pub fn lua_number_to_i64(n: f64) -> i64 {
    // 2^63: the first double past i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if n.is_nan() || !(-LIMIT..LIMIT).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// The bytes of the string at `index` (a string, not a number).
unsafe fn bytes_at<'a>(l: *mut ffi::lua_State, index: c_int) -> &'a [u8] {
    let mut len = 0;
    let ptr = ffi::lua_tolstring(l, index, &mut len);
    if ptr.is_null() {
        return &[];
    }
    std::slice::from_raw_parts(ptr.cast(), len)
}

/// `slots`: how deep in Redis's Lua stack the value would be. Redis wants
/// four free slots for each level (`lua_checkstack`), so a result nests
/// about 8000 levels before the innermost is `reached lua stack limit`.
unsafe fn to_reply(l: *mut ffi::lua_State, index: c_int, resp3: bool, slots: usize) -> Reply {
    if slots + 4 > LUA_MAX_C_STACK {
        return stack_limit();
    }
    match ffi::lua_type(l, index) {
        ffi::LUA_TSTRING => Reply::Bulk(Bytes::copy_from_slice(bytes_at(l, index))),
        ffi::LUA_TBOOLEAN => match (resp3, ffi::lua_toboolean(l, index) != 0) {
            (true, b) => Reply::Bool(b),
            (false, true) => Reply::Integer(1),
            (false, false) => Reply::Null,
        },
        ffi::LUA_TNUMBER => Reply::Integer(lua_number_to_i64(ffi::lua_tonumber(l, index))),
        ffi::LUA_TTABLE => deeper(|| {
            // This level's values are pushed above the table: a few slots.
            if ffi::lua_checkstack(l, 4) == 0 {
                return stack_limit();
            }
            let top = ffi::lua_gettop(l);
            let reply = table_to_reply(l, index, resp3, slots);
            ffi::lua_settop(l, top);
            reply
        }),
        _ => Reply::Null,
    }
}

fn stack_limit() -> Reply {
    Reply::error("ERR reached lua stack limit")
}

/// Pushes `t[name]` (raw) for the table at `index`; its type.
unsafe fn field(l: *mut ffi::lua_State, index: c_int, name: &CStr) -> c_int {
    ffi::lua_pushstring_(l, name.as_ptr());
    ffi::lua_rawget(l, index)
}

/// The string field `name` of the table at `index`, if it is a string.
unsafe fn string_field<'a>(l: *mut ffi::lua_State, index: c_int, name: &CStr) -> Option<&'a [u8]> {
    let found = field(l, index, name) == ffi::LUA_TSTRING;
    let text = found.then(|| bytes_at(l, -1));
    // The table still holds the string: the bytes stay valid.
    ffi::lua_settop(l, -2);
    text
}

/// The table at `index` as a reply; may leave values on the stack (the
/// caller restores it).
unsafe fn table_to_reply(l: *mut ffi::lua_State, index: c_int, resp3: bool, slots: usize) -> Reply {
    if let Some(err) = string_field(l, index, c"err") {
        return Reply::error_owned(one_line(err.to_vec()));
    }
    if let Some(ok) = string_field(l, index, c"ok") {
        return Reply::Simple(one_line(ok.to_vec()).into());
    }
    if field(l, index, c"double") == ffi::LUA_TNUMBER {
        return Reply::Double(ffi::lua_tonumber(l, -1));
    }
    ffi::lua_settop(l, -2);
    if let Some(digits) = string_field(l, index, c"big_number") {
        return Reply::BigNumber(one_line(digits.to_vec()).into());
    }
    if field(l, index, c"verbatim_string") == ffi::LUA_TTABLE {
        let v = ffi::lua_gettop(l);
        if let (Some(format), Some(s)) =
            (string_field(l, v, c"format"), string_field(l, v, c"string"))
        {
            let format = match format {
                b"mkd" => "mkd",
                _ => "txt",
            };
            return Reply::Verbatim(format, Bytes::copy_from_slice(s));
        }
    }
    ffi::lua_settop(l, -2);
    if field(l, index, c"map") == ffi::LUA_TTABLE {
        let map = ffi::lua_gettop(l);
        let mut pairs = Vec::new();
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, map) != 0 {
            let top = ffi::lua_gettop(l);
            // The map, a key, its value, the key's copy being converted.
            pairs.push((
                to_reply(l, top - 1, resp3, slots + 4),
                to_reply(l, top, resp3, slots + 3),
            ));
            ffi::lua_settop(l, -2);
        }
        return Reply::Map(pairs);
    }
    ffi::lua_settop(l, -2);
    if field(l, index, c"set") == ffi::LUA_TTABLE {
        let set = ffi::lua_gettop(l);
        let mut items = Vec::new();
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, set) != 0 {
            items.push(to_reply(l, ffi::lua_gettop(l) - 1, resp3, slots + 3));
            ffi::lua_settop(l, -2);
        }
        return Reply::Set(items);
    }
    ffi::lua_settop(l, -2);
    let mut items = Vec::new();
    for i in 1.. {
        ffi::lua_rawgeti_(l, index, i);
        if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
            break;
        }
        items.push(to_reply(l, ffi::lua_gettop(l), resp3, slots + 1));
        ffi::lua_settop(l, -2);
    }
    Reply::Array(items)
}
