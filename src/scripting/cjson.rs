//! The `cjson` library scripts get, behaving as the lua-cjson 2.1 Redis
//! bundles: numbers as `%.14g`, `/` escaped, empty tables as `{}`,
//! excessively sparse arrays refused, nesting limited to 1000, and
//! lua-cjson's error texts. `cjson.null` is a null light userdata. The
//! setting functions (`encode_max_depth`, `encode_sparse_array`, ...)
//! change a configuration kept per library table (per Lua state, as in
//! Redis, until SCRIPT FLUSH); `cjson.new()` makes a table with its own.
//! Nesting is also bounded by the Lua stack Redis's C code uses
//! (`LUAI_MAXCSTACK`, 8000 slots), which the encoder and parser count as lua-cjson
//! pushes: about 8000 levels of arrays, 4000 of objects.

use std::cell::Cell;
use std::rc::Rc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::engine::{fail_arg, fail_text, lua_type_name, raising_library, type_error_text};
use super::{deeper, LUA_MAX_C_STACK};
use crate::number::{format_g, format_lua_number, strtod_len};

/// lua-cjson's `json_config_t`.
#[derive(Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 refuse NaN and Inf, 1 write them (`nan`, `inf`), 2 write `null`.
    encode_invalid_numbers: i32,
    decode_invalid_numbers: bool,
    keep_buffer: bool,
    precision: i32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: true,
            keep_buffer: true,
            precision: 14,
        }
    }
}

type Shared = Rc<Cell<Config>>;

/// A setting function's outcome: its results, or a failure to raise.
type Setting = Result<Value, mlua::Result<MultiValue>>;

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let config: Shared = Rc::default();
    let cfg = config.clone();
    t.set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return fail_arg(lua, 1, "expected 1 argument");
            }
            let mut encoder = Encoder {
                config: cfg.get(),
                out: Vec::new(),
            };
            match encoder.value(&args[0], 0, 1) {
                Ok(()) => Ok(MultiValue::from_vec(vec![Value::String(
                    lua.create_string(encoder.out)?,
                )])),
                Err(e) => fail_text(lua, &e),
            }
        })?,
    )?;
    let cfg = config.clone();
    t.set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return fail_arg(lua, 1, "expected 1 argument");
            }
            let text = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(n) => format_lua_number(*n).into_bytes(),
                other => return fail_arg(lua, 1, &type_error_text("string", Some(other))),
            };
            if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
                return fail_text(lua, "JSON parser does not support UTF-16 or UTF-32");
            }
            // lua-cjson reads a C string: a NUL ends the text.
            let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
            let mut parser = Parser {
                lua,
                s: &text[..end],
                pos: 0,
                depth: 0,
                slots: 1,
                config: cfg.get(),
                error_at: 0,
            };
            match parser.document() {
                Ok(v) => Ok(MultiValue::from_vec(vec![v])),
                Err(Failure::Lua(e)) => Err(e),
                Err(Failure::Text(e)) => fail_text(lua, &e),
            }
        })?,
    )?;
    type Apply = fn(&Lua, &MultiValue, &mut Config) -> Result<MultiValue, mlua::Result<MultiValue>>;
    let settings: [(&str, Apply); 7] = [
        ("encode_sparse_array", |lua, args, c| {
            let convert = bool_option(lua, args, 0, &mut c.sparse_convert)?;
            let ratio = integer_option(lua, args, 1, &mut c.sparse_ratio, 0, i32::MAX)?;
            let safe = integer_option(lua, args, 2, &mut c.sparse_safe, 0, i32::MAX)?;
            Ok(MultiValue::from_vec(vec![convert, ratio, safe]))
        }),
        ("encode_max_depth", |lua, args, c| {
            one(integer_option(
                lua,
                args,
                0,
                &mut c.encode_max_depth,
                1,
                i32::MAX,
            ))
        }),
        ("decode_max_depth", |lua, args, c| {
            one(integer_option(
                lua,
                args,
                0,
                &mut c.decode_max_depth,
                1,
                i32::MAX,
            ))
        }),
        ("encode_number_precision", |lua, args, c| {
            one(integer_option(lua, args, 0, &mut c.precision, 1, 14))
        }),
        ("encode_keep_buffer", |lua, args, c| {
            one(bool_option(lua, args, 0, &mut c.keep_buffer))
        }),
        ("encode_invalid_numbers", |lua, args, c| {
            one(enum_option(
                lua,
                args,
                0,
                &mut c.encode_invalid_numbers,
                &["off", "on", "null"],
            ))
        }),
        ("decode_invalid_numbers", |lua, args, c| {
            one(bool_option(lua, args, 0, &mut c.decode_invalid_numbers))
        }),
    ];
    for (name, apply) in settings {
        let cfg = config.clone();
        let takes = if name == "encode_sparse_array" { 3 } else { 1 };
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                if args.len() > takes {
                    return fail_arg(lua, takes + 1, "found too many arguments");
                }
                // Each option is applied in turn, as lua-cjson does: an
                // error in a later one keeps the earlier ones.
                let mut config = cfg.get();
                let outcome = apply(lua, &args, &mut config);
                cfg.set(config);
                match outcome {
                    Ok(values) => Ok(values),
                    Err(failure) => failure,
                }
            })?,
        )?;
    }
    t.set(
        "new",
        lua.create_function(|lua, ()| raising_library(lua, &library(lua)?))?,
    )?;
    t.set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn one(value: Setting) -> Result<MultiValue, mlua::Result<MultiValue>> {
    value.map(|v| MultiValue::from_vec(vec![v]))
}

/// Lua 5.1's `lua_tonumber`: numbers, and strings that read as one.
fn lua_tonumber(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => {
            let bytes = s.as_bytes();
            let text = std::str::from_utf8(&bytes)
                .ok()?
                .trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
            let (n, used) = strtod_len(text.as_bytes());
            if used == text.len() && used > 0 {
                return Some(n);
            }
            // `luaO_str2d`'s hexadecimal integers.
            let hex = text
                .strip_prefix("0x")
                .or_else(|| text.strip_prefix("0X"))?;
            u64::from_str_radix(hex, 16).ok().map(|n| n as u32 as f64)
        }
        _ => None,
    }
}

/// lua-cjson's `json_integer_option`: argument `i` (when not nil) must be
/// a number within `min..=max` (checked as argument #1, as lua-cjson does).
fn integer_option(
    lua: &Lua,
    args: &MultiValue,
    i: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> Setting {
    match args.get(i) {
        None | Some(Value::Nil) => {}
        Some(v) => {
            let Some(n) = lua_tonumber(v) else {
                return Err(fail_arg(lua, i + 1, &type_error_text("number", Some(v))));
            };
            // `luaL_checkinteger` truncates, then lua-cjson keeps an `int`.
            let value = n as i64 as i32;
            if value < min || value > max {
                let text = format!("expected integer between {min} and {max}");
                return Err(fail_arg(lua, 1, &text));
            }
            *setting = value;
        }
    }
    Ok(Value::Integer(i64::from(*setting)))
}

/// lua-cjson's `json_enum_option`: a boolean, or one of `options` by name;
/// answers a boolean for the first two, the name for the others.
fn enum_option(
    lua: &Lua,
    args: &MultiValue,
    i: usize,
    setting: &mut i32,
    options: &[&str],
) -> Setting {
    match args.get(i) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = i32::from(*b),
        Some(v) => {
            // `luaL_checkoption` reads numbers as their text.
            let name = match v {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => format_lua_number(*n as f64).into_bytes(),
                Value::Number(n) => format_lua_number(*n).into_bytes(),
                other => {
                    return Err(fail_arg(
                        lua,
                        i + 1,
                        &type_error_text("string", Some(other)),
                    ))
                }
            };
            match options.iter().position(|o| o.as_bytes() == name.as_slice()) {
                Some(n) => *setting = n as i32,
                None => {
                    let text = format!("invalid option '{}'", String::from_utf8_lossy(&name));
                    return Err(fail_arg(lua, i + 1, &text));
                }
            }
        }
    }
    Ok(match *setting {
        0 => Value::Boolean(false),
        1 => Value::Boolean(true),
        n => Value::String(lua.create_string(options[n as usize]).map_err(Err)?),
    })
}

fn bool_option(lua: &Lua, args: &MultiValue, i: usize, setting: &mut bool) -> Setting {
    let mut n = i32::from(*setting);
    let value = enum_option(lua, args, i, &mut n, &["off", "on"]);
    *setting = n == 1;
    value
}

struct Encoder {
    config: Config,
    out: Vec<u8>,
}

impl Encoder {
    /// Appends `value`, `depth` tables deep, sitting `slots` deep in the
    /// Lua stack lua-cjson would use.
    fn value(&mut self, value: &Value, depth: i32, slots: usize) -> Result<(), String> {
        match value {
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(p) if p.0.is_null() => self.out.extend_from_slice(b"null"),
            Value::Boolean(b) => self
                .out
                .extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Integer(n) => self.number(*n as f64)?,
            Value::Number(n) => self.number(*n)?,
            Value::String(s) => encode_string(&s.as_bytes(), &mut self.out),
            Value::Table(t) => {
                let depth = depth + 1;
                // lua-cjson's `json_check_encode_depth`: its setting, and
                // three free slots of the Lua stack.
                let nesting = || format!("Cannot serialise, excessive nesting ({depth})");
                if depth > self.config.encode_max_depth || slots + 3 > LUA_MAX_C_STACK {
                    return Err(nesting());
                }
                match array_length(t, &self.config).map_err(|e| e.unwrap_or_else(nesting))? {
                    Some(len) => {
                        self.out.push(b'[');
                        for i in 1..=len {
                            if i > 1 {
                                self.out.push(b',');
                            }
                            // mlua holds a reference per level, in a Lua
                            // stack of its own: it may run out a little
                            // before Redis's limit.
                            let v: Value = t.raw_get(i).map_err(|_| nesting())?;
                            deeper(|| self.value(&v, depth, slots + 1))?;
                        }
                        self.out.push(b']');
                    }
                    None => self.object(t, depth, slots)?,
                }
            }
            other => {
                return Err(format!(
                    "Cannot serialise {}: type not supported",
                    lua_type_name(other)
                ))
            }
        }
        Ok(())
    }

    fn object(&mut self, t: &Table, depth: i32, slots: usize) -> Result<(), String> {
        // Keys are written out first and only the values kept: mlua holds
        // a reference per value in a Lua stack of its own, and this way it
        // lasts as deep as Redis's Lua stack (a key's error is raised when
        // its turn comes, as lua-cjson meets it).
        let mut members = Vec::new();
        for pair in t.pairs::<Value, Value>() {
            let (k, v) =
                pair.map_err(|_| format!("Cannot serialise, excessive nesting ({depth})"))?;
            let key = match k {
                Value::String(s) => {
                    let mut key = Vec::new();
                    encode_string(&s.as_bytes(), &mut key);
                    key.push(b':');
                    Ok(key)
                }
                Value::Integer(_) | Value::Number(_) => {
                    let n = match k {
                        Value::Integer(n) => n as f64,
                        Value::Number(n) => n,
                        _ => 0.0,
                    };
                    let mut key = Encoder {
                        config: self.config,
                        out: vec![b'"'],
                    };
                    key.number(n).map(|()| {
                        key.out.extend_from_slice(b"\":");
                        key.out
                    })
                }
                other => Err(format!(
                    "Cannot serialise {}: table key must be a number or string",
                    lua_type_name(&other)
                )),
            };
            members.push((key, v));
        }
        self.out.push(b'{');
        for (i, (key, v)) in members.into_iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.out.extend_from_slice(&key?);
            deeper(|| self.value(&v, depth, slots + 2))?;
        }
        self.out.push(b'}');
        Ok(())
    }

    /// lua-cjson's `json_append_number`.
    fn number(&mut self, n: f64) -> Result<(), String> {
        match self.config.encode_invalid_numbers {
            0 if !n.is_finite() => {
                return Err("Cannot serialise number: must not be NaN or Inf".into())
            }
            1 if n.is_nan() => {
                self.out.extend_from_slice(b"nan");
                return Ok(());
            }
            2 if !n.is_finite() => {
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
        let precision = self.config.precision.clamp(1, 14) as u8;
        self.out
            .extend_from_slice(format_g(n, precision).as_bytes());
        Ok(())
    }
}

/// lua-cjson's `lua_array_length`: Some(largest index) when every key is a
/// positive integer (an empty table is an object); a too sparse array is
/// refused, or written as an object when `encode_sparse_array` says so.
/// `Err(None)` when mlua could not walk the table (out of references).
fn array_length(t: &Table, config: &Config) -> Result<Option<usize>, Option<String>> {
    let (mut max, mut items) = (0f64, 0f64);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|_| None)?;
        let index = match k {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if index < 1.0 || index.floor() != index {
            return Ok(None);
        }
        max = f64::max(max, index);
        items += 1.0;
    }
    let ratio = f64::from(config.sparse_ratio);
    if config.sparse_ratio > 0 && max > items * ratio && max > f64::from(config.sparse_safe) {
        if !config.sparse_convert {
            return Err(Some(
                "Cannot serialise table: excessively sparse array".into(),
            ));
        }
        return Ok(None);
    }
    // lua-cjson counts in a C `int`: past that it is no array.
    if max > f64::from(i32::MAX) {
        return Ok(None);
    }
    Ok((max > 0.0).then_some(max as usize))
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{:04x}", b).as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

enum Failure {
    Lua(mlua::Error),
    Text(String),
}

impl From<mlua::Error> for Failure {
    fn from(e: mlua::Error) -> Self {
        Failure::Lua(e)
    }
}

/// A token as lua-cjson names it in its errors.
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Number(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Token {
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Bool(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(e) => e,
        }
    }
}

struct Parser<'a> {
    lua: &'a Lua,
    s: &'a [u8],
    pos: usize,
    depth: i32,
    /// The Lua stack lua-cjson's decoder would use (the text is slot 1).
    slots: usize,
    config: Config,
    /// Where the last error token's error is (lua-cjson's `token->index`).
    error_at: usize,
}

impl Parser<'_> {
    fn document(&mut self) -> Result<Value, Failure> {
        let (at, token) = self.next();
        let value = self.value(at, token)?;
        let (at, token) = self.next();
        if !matches!(token, Token::End) {
            return Err(self.expected("the end", at, &token));
        }
        Ok(value)
    }

    fn expected(&self, what: &str, at: usize, token: &Token) -> Failure {
        Failure::Text(format!(
            "Expected {what} but found {} at character {}",
            token.name(),
            at + 1
        ))
    }

    fn value(&mut self, at: usize, token: Token) -> Result<Value, Failure> {
        Ok(match token {
            Token::Str(s) => Value::String(self.lua.create_string(s)?),
            Token::Number(n) => Value::Number(n),
            Token::Bool(b) => Value::Boolean(b),
            Token::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
            Token::ObjBegin => deeper(|| self.object())?,
            Token::ArrBegin => deeper(|| self.array())?,
            other => return Err(self.expected("value", at, &other)),
        })
    }

    /// lua-cjson's `json_decode_descend`: its depth setting, and `slots`
    /// free on the Lua stack.
    fn nest(&mut self, slots: usize) -> Result<Table, Failure> {
        self.depth += 1;
        // mlua holds a reference per level in a Lua stack of its own: it
        // may run out a little before Redis's limit.
        let table = (self.depth <= self.config.decode_max_depth
            && self.slots + slots <= LUA_MAX_C_STACK)
            .then(|| self.lua.create_table().ok())
            .flatten();
        let Some(table) = table else {
            return Err(Failure::Text(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.pos
            )));
        };
        Ok(table)
    }

    fn object(&mut self) -> Result<Value, Failure> {
        // The table, a key, a value.
        let t = self.nest(3)?;
        self.slots += 2;
        let (mut at, mut token) = self.next();
        if matches!(token, Token::ObjEnd) {
            self.depth -= 1;
            self.slots -= 2;
            return Ok(Value::Table(t));
        }
        loop {
            let Token::Str(key) = token else {
                return Err(self.expected("object key string", at, &token));
            };
            let (colon_at, colon) = self.next();
            if !matches!(colon, Token::Colon) {
                return Err(self.expected("colon", colon_at, &colon));
            }
            let (value_at, value_token) = self.next();
            let value = self.value(value_at, value_token)?;
            t.raw_set(self.lua.create_string(key)?, value)?;
            let (sep_at, sep) = self.next();
            match sep {
                Token::ObjEnd => {
                    self.slots -= 2;
                    break;
                }
                Token::Comma => {}
                other => return Err(self.expected("comma or object end", sep_at, &other)),
            }
            (at, token) = self.next();
        }
        self.depth -= 1;
        Ok(Value::Table(t))
    }

    fn array(&mut self) -> Result<Value, Failure> {
        // The table, a value.
        let t = self.nest(2)?;
        self.slots += 1;
        let (mut at, mut token) = self.next();
        if matches!(token, Token::ArrEnd) {
            self.depth -= 1;
            self.slots -= 1;
            return Ok(Value::Table(t));
        }
        let mut index = 1;
        loop {
            let value = self.value(at, token)?;
            t.raw_set(index, value)?;
            index += 1;
            let (sep_at, sep) = self.next();
            match sep {
                Token::ArrEnd => {
                    self.slots -= 1;
                    break;
                }
                Token::Comma => {}
                other => return Err(self.expected("comma or array end", sep_at, &other)),
            }
            (at, token) = self.next();
        }
        self.depth -= 1;
        Ok(Value::Table(t))
    }

    /// The next token and where it starts.
    fn next(&mut self) -> (usize, Token) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(&c) = self.s.get(at) else {
            return (at, Token::End);
        };
        let simple = match c {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b':' => Some(Token::Colon),
            b',' => Some(Token::Comma),
            _ => None,
        };
        if let Some(token) = simple {
            self.pos += 1;
            return (at, token);
        }
        self.error_at = at;
        let invalid = self.invalid_number();
        let token = match c {
            b'"' => self.string(),
            b'-' | b'0'..=b'9' if invalid && !self.config.decode_invalid_numbers => {
                Token::Error("invalid number")
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ if self.s[at..].starts_with(b"true") => {
                self.pos += 4;
                Token::Bool(true)
            }
            _ if self.s[at..].starts_with(b"false") => {
                self.pos += 5;
                Token::Bool(false)
            }
            _ if self.s[at..].starts_with(b"null") => {
                self.pos += 4;
                Token::Null
            }
            // Inf, NaN and hexadecimal numbers, when allowed.
            b'+' | b'i' | b'I' | b'n' | b'N' if invalid && self.config.decode_invalid_numbers => {
                self.number()
            }
            _ => Token::Error("invalid token"),
        };
        match token {
            Token::Error(_) => (self.error_at, token),
            token => (at, token),
        }
    }

    /// lua-cjson's `json_is_invalid_number`: what strict JSON refuses but
    /// `strtod` reads (a leading `+`, hex, leading zeros, Inf, NaN).
    fn invalid_number(&self) -> bool {
        let mut p = &self.s[self.pos..];
        match p.first() {
            Some(b'+') => return true,
            Some(b'-') => p = &p[1..],
            _ => {}
        }
        match p.first() {
            Some(b'0') => matches!(p.get(1), Some(b'x' | b'X' | b'0'..=b'9')),
            None => false,
            Some(&c) if c <= b'9' => false,
            _ => {
                let prefix = |word: &[u8]| p.len() >= 3 && p[..3].eq_ignore_ascii_case(word);
                prefix(b"inf") || prefix(b"nan")
            }
        }
    }

    /// A number as lua-cjson reads it: C `strtod`.
    fn number(&mut self) -> Token {
        let (n, used) = strtod_len(&self.s[self.pos..]);
        if used == 0 {
            return Token::Error("invalid number");
        }
        self.pos += used;
        Token::Number(n)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.s.get(at..at + 4)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    }

    fn string(&mut self) -> Token {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                self.error_at = self.pos;
                return Token::Error("unexpected end of string");
            };
            self.pos += 1;
            match c {
                b'"' => return Token::Str(out),
                b'\\' => {
                    // lua-cjson reports escape errors at the backslash.
                    self.error_at = self.pos - 1;
                    let Some(&e) = self.s.get(self.pos) else {
                        return Token::Error("invalid escape code");
                    };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let Some(mut code) = self.hex4(self.pos) else {
                                return Token::Error("invalid unicode escape code");
                            };
                            self.pos += 4;
                            if (0xd800..0xdc00).contains(&code) {
                                let low = (self.s.get(self.pos..self.pos + 2) == Some(b"\\u"))
                                    .then(|| self.hex4(self.pos + 2))
                                    .flatten()
                                    .filter(|l| (0xdc00..0xe000).contains(l));
                                let Some(low) = low else {
                                    return Token::Error("invalid unicode escape code");
                                };
                                self.pos += 6;
                                code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                            } else if (0xdc00..0xe000).contains(&code) {
                                return Token::Error("invalid unicode escape code");
                            }
                            let ch = char::from_u32(code).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Token::Error("invalid escape code"),
                    }
                }
                _ => out.push(c),
            }
        }
    }
}
