//! The `cjson` library scripts get, behaving as the lua-cjson 2.1 Redis
//! bundles with its default settings: numbers as `%.14g`, `/` escaped,
//! empty tables as `{}`, excessively sparse arrays refused, nesting
//! limited to 1000, and lua-cjson's error texts. `cjson.null` is a null
//! light userdata. Of the `encode_*`/`decode_*` setting functions only
//! `encode_keep_buffer` is there (it changes no output).

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::engine::fail_text;

const MAX_DEPTH: usize = 1000;
/// lua-cjson's sparse array rule: refused when the largest index passes
/// both this and `ratio` times the element count.
const SPARSE_SAFE: usize = 10;
const SPARSE_RATIO: usize = 2;

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "encode",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return fail_text(lua, "bad argument #1 to 'encode' (expected 1 argument)");
            }
            let mut out = Vec::new();
            match encode(&args[0], 0, &mut out) {
                Ok(()) => Ok(MultiValue::from_vec(vec![Value::String(
                    lua.create_string(out)?,
                )])),
                Err(e) => fail_text(lua, &e),
            }
        })?,
    )?;
    t.set(
        "decode",
        lua.create_function(|lua, args: MultiValue| {
            let text = match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => s.as_bytes().to_vec(),
                (1, Some(Value::Integer(n))) => n.to_string().into_bytes(),
                (1, Some(Value::Number(n))) => crate::number::format_lua_number(*n).into_bytes(),
                (1, _) => return fail_text(lua, "bad argument #1 to 'decode' (string expected)"),
                _ => return fail_text(lua, "bad argument #1 to 'decode' (expected 1 argument)"),
            };
            let mut parser = Parser {
                lua,
                s: &text,
                pos: 0,
                depth: 0,
            };
            match parser.document() {
                Ok(v) => Ok(MultiValue::from_vec(vec![v])),
                Err(Failure::Lua(e)) => Err(e),
                Err(Failure::Text(e)) => fail_text(lua, &e),
            }
        })?,
    )?;
    // Whether lua-cjson keeps its encode buffer between calls: a memory
    // setting with no effect on output, answered as lua-cjson answers it.
    let keep_buffer = std::cell::Cell::new(true);
    t.set(
        "encode_keep_buffer",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() > 1 {
                return fail_text(
                    lua,
                    "bad argument #2 to 'encode_keep_buffer' (found too many arguments)",
                );
            }
            match args.front() {
                None | Some(Value::Nil) => {}
                Some(Value::Boolean(on)) => keep_buffer.set(*on),
                Some(Value::String(s)) if s.as_bytes() == b"on" => keep_buffer.set(true),
                Some(Value::String(s)) if s.as_bytes() == b"off" => keep_buffer.set(false),
                Some(Value::String(s)) => {
                    let text = format!(
                        "bad argument #1 to 'encode_keep_buffer' (invalid option '{}')",
                        s.to_string_lossy()
                    );
                    return fail_text(lua, &text);
                }
                Some(Value::Integer(n)) => {
                    let text =
                        format!("bad argument #1 to 'encode_keep_buffer' (invalid option '{n}')");
                    return fail_text(lua, &text);
                }
                Some(Value::Number(n)) => {
                    let text = format!(
                        "bad argument #1 to 'encode_keep_buffer' (invalid option '{}')",
                        crate::number::format_lua_number(*n)
                    );
                    return fail_text(lua, &text);
                }
                Some(other) => {
                    let text = format!(
                        "bad argument #1 to 'encode_keep_buffer' (string expected, got {})",
                        other.type_name()
                    );
                    return fail_text(lua, &text);
                }
            }
            Ok(MultiValue::from_vec(vec![Value::Boolean(
                keep_buffer.get(),
            )]))
        })?,
    )?;
    t.set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn encode(value: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            out.extend_from_slice(crate::number::format_lua_number(*n).as_bytes());
        }
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > MAX_DEPTH {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            match array_length(t)? {
                Some(len) => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let v: Value = t.raw_get(i).unwrap_or(Value::Nil);
                        encode(&v, depth, out)?;
                    }
                    out.push(b']');
                }
                None => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, v) = pair.map_err(|e| e.to_string())?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => encode_string(&s.as_bytes(), out),
                            Value::Integer(n) => encode_string(n.to_string().as_bytes(), out),
                            Value::Number(n) => {
                                encode_string(crate::number::format_lua_number(*n).as_bytes(), out)
                            }
                            _ => {
                                return Err(
                                    "Cannot serialise table: table key must be a number or string"
                                        .into(),
                                )
                            }
                        }
                        out.push(b':');
                        encode(&v, depth, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

/// lua-cjson's `lua_array_length`: Some(largest index) when every key is a
/// positive integer (an empty table is an object), an error when too sparse.
fn array_length(t: &Table) -> Result<Option<usize>, String> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        let index = match k {
            Value::Integer(n) if n >= 1 => n as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(index);
        items += 1;
    }
    if max > SPARSE_SAFE && max > items * SPARSE_RATIO {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok((max > 0).then_some(max))
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
    depth: usize,
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
            Token::ObjBegin => self.object(at)?,
            Token::ArrBegin => self.array(at)?,
            other => return Err(self.expected("value", at, &other)),
        })
    }

    fn nest(&mut self, at: usize) -> Result<(), Failure> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Failure::Text(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth,
                at + 1
            )));
        }
        Ok(())
    }

    fn object(&mut self, at: usize) -> Result<Value, Failure> {
        self.nest(at)?;
        let t = self.lua.create_table()?;
        let (mut at, mut token) = self.next();
        if matches!(token, Token::ObjEnd) {
            self.depth -= 1;
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
                Token::ObjEnd => break,
                Token::Comma => {}
                other => return Err(self.expected("comma or object end", sep_at, &other)),
            }
            (at, token) = self.next();
        }
        self.depth -= 1;
        Ok(Value::Table(t))
    }

    fn array(&mut self, at: usize) -> Result<Value, Failure> {
        self.nest(at)?;
        let t = self.lua.create_table()?;
        let (mut at, mut token) = self.next();
        if matches!(token, Token::ArrEnd) {
            self.depth -= 1;
            return Ok(Value::Table(t));
        }
        let mut index = 1;
        loop {
            let value = self.value(at, token)?;
            t.raw_set(index, value)?;
            index += 1;
            let (sep_at, sep) = self.next();
            match sep {
                Token::ArrEnd => break,
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
        let token = match c {
            b'"' => self.string(),
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
            _ => Token::Error("invalid token"),
        };
        (at, token)
    }

    fn number(&mut self) -> Token {
        let start = self.pos;
        while self.pos < self.s.len()
            && matches!(
                self.s[self.pos],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(n) => Token::Number(n),
            Err(_) => Token::Error("invalid number"),
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.s.get(at..at + 4)?;
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    }

    fn string(&mut self) -> Token {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Token::Error("unexpected end of string");
            };
            self.pos += 1;
            match c {
                b'"' => return Token::Str(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return Token::Error("unexpected end of string");
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
