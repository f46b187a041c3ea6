//! The `cmsgpack` library scripts get (lua-cmsgpack 0.4, as Redis bundles
//! it): `pack(...)` of several values into one string, `unpack(s)`,
//! `unpack_one(s [, offset])`, `unpack_limit(s, limit [, offset])`. Encoded
//! as that library does: integral numbers as the smallest integer form,
//! others as float32 when exact, else float64; strings as str8/16/32;
//! a table whose keys are exactly 1..n as an array, else a map; tables
//! nested 16 deep as nil.

use mlua::{Lua, MultiValue, Table, Value};

use super::engine::{fail_arg, fail_text, type_error_text};
use super::{deeper, LUA_MAX_C_STACK};

const MAX_NESTING: usize = 16;

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return fail_text(lua, "MessagePack pack needs input.");
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack(v, 0, &mut out)?;
            }
            Ok(MultiValue::from_vec(vec![Value::String(
                lua.create_string(out)?,
            )]))
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| unpack(lua, &args, 0, 0, false))?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let offset = int_arg(&args, 1);
            unpack(lua, &args, 1, offset, true)
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let limit = int_arg(&args, 1);
            let offset = int_arg(&args, 2);
            unpack(lua, &args, limit, offset, true)
        })?,
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(t)
}

fn int_arg(args: &MultiValue, i: usize) -> i64 {
    match args.get(i) {
        Some(Value::Integer(n)) => *n,
        Some(Value::Number(n)) => *n as i64,
        _ => 0,
    }
}

fn pack(value: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match value {
        Value::String(s) => pack_bytes(&s.as_bytes(), out),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => pack_int(*n, out),
        Value::Number(n) => {
            if *n == (*n as i64) as f64 {
                pack_int(*n as i64, out)
            } else {
                pack_double(*n, out)
            }
        }
        Value::Table(t) if level < MAX_NESTING => pack_table(t, level, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn pack_double(d: f64, out: &mut Vec<u8>) {
    let f = d as f32;
    if d == f as f64 {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_be_bytes());
    }
}

fn pack_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_table(t: &Table, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    let (mut count, mut max, mut array) = (0usize, 0usize, true);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        match k {
            Value::Integer(n) if n > 0 => max = max.max(n as usize),
            Value::Number(n) if n > 0.0 && n.fract() == 0.0 => max = max.max(n as usize),
            _ => array = false,
        }
        count += 1;
    }
    if array && max == count {
        pack_len(count, 0x90, 0xdc, out);
        for i in 1..=count {
            pack(&t.raw_get::<Value>(i)?, level + 1, out)?;
        }
    } else {
        pack_len(count, 0x80, 0xde, out);
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            pack(&k, level + 1, out)?;
            pack(&v, level + 1, out)?;
        }
    }
    Ok(())
}

/// An array or map header: fix form below 16, else the 16- or 32-bit form.
fn pack_len(n: usize, fix: u8, wide: u8, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Decodes up to `limit` objects (0: all) from `offset`; with `with_offset`
/// the first result is the offset after them (-1 at the end of input).
fn unpack(
    lua: &Lua,
    args: &MultiValue,
    limit: i64,
    offset: i64,
    with_offset: bool,
) -> mlua::Result<MultiValue> {
    let bytes = match args.front() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(Value::Integer(n)) => crate::number::format_lua_number(*n as f64).into_bytes(),
        Some(Value::Number(n)) => crate::number::format_lua_number(*n).into_bytes(),
        other => return fail_arg(lua, 1, &type_error_text("string", other)),
    };
    // Redis's texts, which print the input's length for the limit.
    let len = bytes.len() as i32;
    if offset < 0 || limit < 0 {
        let text = format!(
            "Invalid request to unpack with offset of {} and limit of {len}.",
            offset as i32
        );
        return fail_text(lua, &text);
    }
    if offset as usize > bytes.len() {
        let text = format!(
            "Start offset {} greater than input length {len}.",
            offset as i32
        );
        return fail_text(lua, &text);
    }
    let mut decoder = Decoder {
        lua,
        s: &bytes,
        pos: offset as usize,
        // The input string; each value decoded stays on the stack.
        slots: 1,
    };
    let mut values = Vec::new();
    while decoder.pos < bytes.len() && (limit == 0 || (values.len() as i64) < limit) {
        match decoder.value() {
            Ok(v) => values.push(v),
            Err(Bad::Lua(e)) => return Err(e),
            Err(Bad::Missing) => return fail_text(lua, "Missing bytes in input."),
            Err(Bad::Format) => return fail_text(lua, "Bad data format in input."),
            Err(Bad::Stack(what)) => return fail_text(lua, &format!("stack overflow ({what})")),
        }
        decoder.slots += 1;
    }
    if with_offset {
        let next = if decoder.pos >= bytes.len() {
            -1
        } else {
            decoder.pos as i64
        };
        values.insert(0, Value::Integer(next));
    }
    Ok(MultiValue::from_vec(values))
}

enum Bad {
    Lua(mlua::Error),
    Missing,
    Format,
    /// lua-cmsgpack's `luaL_checkstack` failing: Redis's Lua stack is
    /// 8000 slots, so about 4000 levels of nesting.
    Stack(&'static str),
}

const TOO_MANY_VALUES: &str =
    "too many return values at once; use unpack_one or unpack_limit instead.";
const IN_ARRAY: &str = "in function mp_decode_to_lua_array";

impl From<mlua::Error> for Bad {
    fn from(e: mlua::Error) -> Self {
        Bad::Lua(e)
    }
}

struct Decoder<'a> {
    lua: &'a Lua,
    s: &'a [u8],
    pos: usize,
    /// The Lua stack lua-cmsgpack would be using.
    slots: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Bad> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.s.len())
            .ok_or(Bad::Missing)?;
        let bytes = &self.s[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn uint(&mut self, n: usize) -> Result<u64, Bad> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    fn string(&mut self, len: usize) -> Result<Value, Bad> {
        let lua = self.lua;
        let bytes = self.take(len)?;
        Ok(Value::String(lua.create_string(bytes)?))
    }

    /// A table, or the stack error when mlua is out of references (it
    /// holds one per level, in a Lua stack of its own).
    fn table(&self, what: &'static str) -> Result<mlua::Table, Bad> {
        self.lua.create_table().map_err(|_| Bad::Stack(what))
    }

    /// `f` with `extra` more slots in use.
    fn nested<R>(&mut self, extra: usize, f: impl FnOnce(&mut Self) -> R) -> R {
        self.slots += extra;
        let r = deeper(|| f(self));
        self.slots -= extra;
        r
    }

    fn array(&mut self, len: usize) -> Result<Value, Bad> {
        let t = self.table(IN_ARRAY)?;
        // The table, then an index under each value.
        if self.slots + 2 > LUA_MAX_C_STACK {
            return Err(Bad::Stack(IN_ARRAY));
        }
        for i in 1..=len {
            let v = self.nested(2, Self::value)?;
            t.raw_set(i, v)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, len: usize) -> Result<Value, Bad> {
        let t = self.table(TOO_MANY_VALUES)?;
        for _ in 0..len {
            // The table, then the key under the value.
            let k = self.nested(1, Self::value)?;
            let v = self.nested(2, Self::value)?;
            if !matches!(k, Value::Nil) {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    }

    fn value(&mut self) -> Result<Value, Bad> {
        if self.pos < self.s.len() && self.slots + 1 > LUA_MAX_C_STACK {
            return Err(Bad::Stack(TOO_MANY_VALUES));
        }
        let c = self.uint(1)? as u8;
        Ok(match c {
            0x00..=0x7f => Value::Number(c as f64),
            0x80..=0x8f => self.map((c & 15) as usize)?,
            0x90..=0x9f => self.array((c & 15) as usize)?,
            0xa0..=0xbf => self.string((c & 31) as usize)?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4 | 0xd9 => {
                let n = self.uint(1)? as usize;
                self.string(n)?
            }
            0xc5 | 0xda => {
                let n = self.uint(2)? as usize;
                self.string(n)?
            }
            0xc6 | 0xdb => {
                let n = self.uint(4)? as usize;
                self.string(n)?
            }
            0xca => Value::Number(f32::from_bits(self.uint(4)? as u32) as f64),
            0xcb => Value::Number(f64::from_bits(self.uint(8)?)),
            0xcc => Value::Number(self.uint(1)? as f64),
            0xcd => Value::Number(self.uint(2)? as f64),
            0xce => Value::Number(self.uint(4)? as f64),
            0xcf => Value::Number(self.uint(8)? as f64),
            0xd0 => Value::Number(self.uint(1)? as u8 as i8 as f64),
            0xd1 => Value::Number(self.uint(2)? as u16 as i16 as f64),
            0xd2 => Value::Number(self.uint(4)? as u32 as i32 as f64),
            0xd3 => Value::Number(self.uint(8)? as i64 as f64),
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(n)?
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(n)?
            }
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(n)?
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(n)?
            }
            0xe0..=0xff => Value::Number(c as i8 as f64),
            _ => return Err(Bad::Format),
        })
    }
}
