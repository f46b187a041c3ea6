//! Conversions between replies and Lua values, as Redis's script_lua.c
//! makes them: a command's reply as the script sees it in RESP2 or RESP3
//! (`redisProtocolToLuaType_*`), and the script's result as a reply
//! (`luaReplyToRedisReply`).

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use super::{deeper, LUA_MAX_C_STACK};
use crate::protocol::Reply;

/// Redis's error table for `text` (`luaPushErrorBuff`): `-CODE message`
/// keeps its code, a plain message gets `ERR`; trailing CR/LF go.
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let (code, msg): (&[u8], &[u8]) = match text.strip_prefix(b"-") {
        Some(rest) => match memchr::memchr(b' ', rest) {
            Some(space) => (&rest[..space], &rest[space + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", text),
    };
    let mut msg = msg;
    while let Some(start) = msg.first().filter(|b| matches!(b, b'\r' | b'\n')) {
        let _ = start;
        msg = &msg[1..];
    }
    while let Some(last) = msg.last().filter(|b| matches!(b, b'\r' | b'\n')) {
        let _ = last;
        msg = &msg[..msg.len() - 1];
    }
    let mut full = Vec::with_capacity(code.len() + 1 + msg.len());
    full.extend_from_slice(code);
    full.push(b' ');
    full.extend_from_slice(msg);
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(full)?)?;
    Ok(t)
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

/// A command's reply as the script sees it (the script's protocol is
/// RESP3 when `resp3`).
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp3: bool) -> mlua::Result<Value> {
    let string = |b: &[u8]| -> mlua::Result<Value> { Ok(Value::String(lua.create_string(b)?)) };
    let field = |name: &str, value: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(name, value)?;
        Ok(Value::Table(t))
    };
    Ok(match reply {
        Reply::Simple(text) => field("ok", string(text)?)?,
        Reply::Error(text) => {
            let mut line = Vec::with_capacity(text.len() + 1);
            line.push(b'-');
            line.extend_from_slice(text);
            let t = error_table(lua, &line)?;
            t.raw_set("ignore_error_stats_update", true)?;
            Value::Table(t)
        }
        Reply::Integer(n) => Value::Number(*n as f64),
        Reply::Bulk(b) => string(b)?,
        Reply::DoubleText(text) => {
            if resp3 {
                let d = std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok())
                    .unwrap_or(0.0);
                field("double", Value::Number(d))?
            } else {
                string(text)?
            }
        }
        Reply::Null | Reply::NullArray | Reply::NullIn(_) => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Array(items) | Reply::Push(items) => array(lua, items, resp3)?,
        Reply::Set(items) => {
            if resp3 {
                let set = lua.create_table()?;
                for item in items {
                    set.raw_set(reply_to_lua(lua, item, resp3)?, true)?;
                }
                field("set", Value::Table(set))?
            } else {
                array(lua, items, resp3)?
            }
        }
        Reply::Map(pairs) => {
            if resp3 {
                let map = lua.create_table()?;
                for (k, v) in pairs {
                    map.raw_set(reply_to_lua(lua, k, resp3)?, reply_to_lua(lua, v, resp3)?)?;
                }
                field("map", Value::Table(map))?
            } else {
                let t = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    t.raw_set(2 * i + 1, reply_to_lua(lua, k, resp3)?)?;
                    t.raw_set(2 * i + 2, reply_to_lua(lua, v, resp3)?)?;
                }
                Value::Table(t)
            }
        }
        Reply::Double(d) => {
            if resp3 {
                field("double", Value::Number(*d))?
            } else {
                let mut text = Vec::new();
                crate::number::format_double(*d, &mut text);
                string(&text)?
            }
        }
        Reply::Bool(b) => {
            if resp3 {
                Value::Boolean(*b)
            } else {
                Value::Number(*b as i64 as f64)
            }
        }
        Reply::Verbatim(format, data) => {
            if resp3 {
                let t = lua.create_table()?;
                t.raw_set("string", lua.create_string(data)?)?;
                t.raw_set("format", *format)?;
                field("verbatim_string", Value::Table(t))?
            } else {
                string(data)?
            }
        }
        Reply::BigNumber(digits) => {
            if resp3 {
                field("big_number", string(digits)?)?
            } else {
                string(digits)?
            }
        }
        Reply::Attribute(_, inner) => reply_to_lua(lua, inner, resp3)?,
        Reply::Bulks(bulks) => {
            let t = lua.create_table_with_capacity(bulks.len(), 0)?;
            for (i, item) in bulks.iter().enumerate() {
                t.raw_set(i + 1, lua.create_string(item)?)?;
            }
            Value::Table(t)
        }
    })
}

fn array(lua: &Lua, items: &[Reply], resp3: bool) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        t.raw_set(i + 1, reply_to_lua(lua, item, resp3)?)?;
    }
    Ok(Value::Table(t))
}

/// A string field of a table, raw.
fn string_field(t: &Table, name: &str) -> Option<mlua::LuaString> {
    match t.raw_get::<Value>(name).ok()? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// The script's result as the reply (Redis's `luaReplyToRedisReply`); the
/// script's protocol decides what booleans become.
pub fn lua_to_reply(value: Value, resp3: bool) -> Reply {
    // Redis's result sits two slots deep in its Lua stack.
    to_reply(value, resp3, 2)
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

/// `slots`: how deep in Redis's Lua stack the value would be. Redis wants
/// four free slots for each level (`lua_checkstack`), so a result nests
/// about 8000 levels before the innermost is `reached lua stack limit`.
fn to_reply(value: Value, resp3: bool, slots: usize) -> Reply {
    if slots + 4 > LUA_MAX_C_STACK {
        return stack_limit();
    }
    match value {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) => match (resp3, b) {
            (true, b) => Reply::Bool(b),
            (false, true) => Reply::Integer(1),
            (false, false) => Reply::Null,
        },
        Value::Integer(n) => Reply::Integer(n),
        Value::Number(n) => Reply::Integer(lua_number_to_i64(n)),
        Value::Table(t) => deeper(|| table_to_reply(&t, resp3, slots)),
        _ => Reply::Null,
    }
}

fn stack_limit() -> Reply {
    Reply::error("ERR reached lua stack limit")
}

fn table_to_reply(t: &Table, resp3: bool, slots: usize) -> Reply {
    if let Some(err) = string_field(t, "err") {
        return Reply::error_owned(one_line(err.as_bytes().to_vec()));
    }
    if let Some(ok) = string_field(t, "ok") {
        return Reply::Simple(one_line(ok.as_bytes().to_vec()).into());
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return Reply::Double(d),
        Ok(Value::Integer(n)) => return Reply::Double(n as f64),
        _ => {}
    }
    if let Some(digits) = string_field(t, "big_number") {
        return Reply::BigNumber(one_line(digits.as_bytes().to_vec()).into());
    }
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string") {
        if let (Some(format), Some(s)) = (string_field(&v, "format"), string_field(&v, "string")) {
            let format = match &*format.as_bytes() {
                b"mkd" => "mkd",
                _ => "txt",
            };
            return Reply::Verbatim(format, Bytes::copy_from_slice(&s.as_bytes()));
        }
    }
    if let Ok(Value::Table(map)) = t.raw_get::<Value>("map") {
        let mut pairs = Vec::new();
        for (k, v) in map.pairs::<Value, Value>().flatten() {
            // The map, a key, its value, the key's copy being converted.
            pairs.push((to_reply(k, resp3, slots + 4), to_reply(v, resp3, slots + 3)));
        }
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(set)) = t.raw_get::<Value>("set") {
        let items = set
            .pairs::<Value, Value>()
            .flatten()
            .map(|(k, _)| to_reply(k, resp3, slots + 3))
            .collect();
        return Reply::Set(items);
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) => break,
            Ok(v) => items.push(to_reply(v, resp3, slots + 1)),
            // mlua holds a reference per level in a Lua stack of its own:
            // it may run out a little before Redis's limit.
            Err(_) => {
                items.push(stack_limit());
                break;
            }
        }
    }
    Reply::Array(items)
}
