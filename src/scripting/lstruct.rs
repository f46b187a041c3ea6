//! The `struct` library scripts get (Roberto Ierusalimschy's struct 0.2,
//! as Redis bundles it): `pack(fmt, ...)`, `unpack(fmt, s [, pos])`,
//! `size(fmt)`. Formats: `<` `>` `=` byte order, `!n` alignment, `x`
//! padding, `b`/`B` 1, `h`/`H` 2, `i[n]`/`I[n]` n (default 4), `l`/`L`/`T`
//! 8 bytes, `f` float, `d` double, `s` zero-terminated string, `c[n]`
//! fixed-size string (`c0`: the size is the previous value), spaces ignored.

use mlua::{Lua, MultiValue, Table, Value};

use super::engine::fail_text;

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| run(lua, args, pack))?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| run(lua, args, unpack))?,
    )?;
    t.set(
        "size",
        lua.create_function(|lua, args: MultiValue| run(lua, args, size))?,
    )?;
    Ok(t)
}

type Body = fn(&Lua, &MultiValue, &[u8]) -> Result<MultiValue, String>;

fn run(lua: &Lua, args: MultiValue, body: Body) -> mlua::Result<MultiValue> {
    let fmt = match args.front() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        _ => return fail_text(lua, "bad argument #1 (string expected)"),
    };
    match body(lua, &args, &fmt) {
        Ok(v) => Ok(v),
        Err(e) => fail_text(lua, &e),
    }
}

/// One item of a format.
enum Item {
    /// An integer of `size` bytes.
    Int {
        size: usize,
        signed: bool,
    },
    Float,
    Double,
    ZString,
    /// A fixed-size string (0: sized by the previous value).
    Chars(usize),
    Pad,
}

struct Format<'a> {
    fmt: &'a [u8],
    pos: usize,
    little: bool,
    align: usize,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Self {
        Format {
            fmt,
            pos: 0,
            little: true,
            align: 1,
        }
    }

    fn number(&mut self, default: usize) -> usize {
        let start = self.pos;
        while self.pos < self.fmt.len() && self.fmt[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        std::str::from_utf8(&self.fmt[start..self.pos])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    }

    /// The next item, after the byte-order and alignment options.
    fn next(&mut self) -> Result<Option<Item>, String> {
        while let Some(&c) = self.fmt.get(self.pos) {
            self.pos += 1;
            let item = match c {
                b' ' => continue,
                b'<' => {
                    self.little = true;
                    continue;
                }
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'=' => {
                    self.little = cfg!(target_endian = "little");
                    continue;
                }
                b'!' => {
                    self.align = self.number(8);
                    continue;
                }
                b'x' => Item::Pad,
                b'b' => Item::Int {
                    size: 1,
                    signed: true,
                },
                b'B' => Item::Int {
                    size: 1,
                    signed: false,
                },
                b'h' => Item::Int {
                    size: 2,
                    signed: true,
                },
                b'H' => Item::Int {
                    size: 2,
                    signed: false,
                },
                b'l' => Item::Int {
                    size: 8,
                    signed: true,
                },
                b'L' | b'T' => Item::Int {
                    size: 8,
                    signed: false,
                },
                b'i' | b'I' => {
                    let size = self.number(4);
                    if !(1..=8).contains(&size) {
                        return Err(format!("integral size {size} is larger than limit of 8"));
                    }
                    Item::Int {
                        size,
                        signed: c == b'i',
                    }
                }
                b'f' => Item::Float,
                b'd' => Item::Double,
                b's' => Item::ZString,
                b'c' => Item::Chars(self.number(1)),
                other => return Err(format!("invalid format option '{}'", other as char)),
            };
            return Ok(Some(item));
        }
        Ok(None)
    }

    /// Padding before an item of `size` bytes at `offset` under `!n`.
    fn padding(&self, size: usize, offset: usize) -> usize {
        let align = size.min(self.align);
        if align <= 1 || !align.is_power_of_two() {
            return 0;
        }
        (align - (offset & (align - 1))) & (align - 1)
    }
}

fn item_size(item: &Item) -> usize {
    match item {
        Item::Int { size, .. } => *size,
        Item::Float => 4,
        Item::Double => 8,
        Item::Pad => 1,
        Item::ZString | Item::Chars(_) => 1,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => std::str::from_utf8(&s.as_bytes()).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn bytes_arg(v: Option<&Value>) -> Option<Vec<u8>> {
    match v? {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(n) => Some(n.to_string().into_bytes()),
        Value::Number(n) => Some(crate::number::format_lua_number(*n).into_bytes()),
        _ => None,
    }
}

fn pack(lua: &Lua, args: &MultiValue, fmt: &[u8]) -> Result<MultiValue, String> {
    let mut f = Format::new(fmt);
    let mut out = Vec::new();
    let mut arg = 1;
    let bad = |i: usize| format!("bad argument #{} to 'pack'", i + 1);
    while let Some(item) = f.next()? {
        out.resize(out.len() + f.padding(item_size(&item), out.len()), 0);
        match item {
            Item::Pad => out.push(0),
            Item::Int { size, .. } => {
                let n = number(args.get(arg)).ok_or_else(|| bad(arg))? as i64 as u64;
                arg += 1;
                let bytes = n.to_le_bytes();
                if f.little {
                    out.extend_from_slice(&bytes[..size]);
                } else {
                    out.extend(bytes[..size].iter().rev());
                }
            }
            Item::Float | Item::Double => {
                let n = number(args.get(arg)).ok_or_else(|| bad(arg))?;
                arg += 1;
                let bytes = if matches!(item, Item::Float) {
                    (n as f32).to_le_bytes().to_vec()
                } else {
                    n.to_le_bytes().to_vec()
                };
                if f.little {
                    out.extend_from_slice(&bytes);
                } else {
                    out.extend(bytes.iter().rev());
                }
            }
            Item::ZString => {
                let s = bytes_arg(args.get(arg)).ok_or_else(|| bad(arg))?;
                arg += 1;
                out.extend_from_slice(&s);
                out.push(0);
            }
            Item::Chars(n) => {
                let s = bytes_arg(args.get(arg)).ok_or_else(|| bad(arg))?;
                arg += 1;
                let n = if n == 0 { s.len() } else { n };
                if s.len() < n {
                    return Err(format!(
                        "bad argument #{} to 'pack' (string too short)",
                        arg
                    ));
                }
                out.extend_from_slice(&s[..n]);
            }
        }
    }
    let s = lua.create_string(out).map_err(|e| e.to_string())?;
    Ok(MultiValue::from_vec(vec![Value::String(s)]))
}

fn unpack(lua: &Lua, args: &MultiValue, fmt: &[u8]) -> Result<MultiValue, String> {
    let data = bytes_arg(args.get(1)).ok_or("bad argument #2 to 'unpack' (string expected)")?;
    let mut pos = number(args.get(2)).map_or(1, |n| n as i64);
    if pos < 1 {
        pos = 1;
    }
    let mut pos = (pos - 1) as usize;
    let mut f = Format::new(fmt);
    let mut values = Vec::new();
    let short = || "data string too short".to_string();
    let mut last_number: Option<usize> = None;
    while let Some(item) = f.next()? {
        pos += f.padding(item_size(&item), pos);
        match item {
            Item::Pad => pos += 1,
            Item::Int { size, signed } => {
                let bytes = data.get(pos..pos + size).ok_or_else(short)?;
                let mut v: u64 = 0;
                for i in 0..size {
                    let b = if f.little {
                        bytes[size - 1 - i]
                    } else {
                        bytes[i]
                    };
                    v = (v << 8) | b as u64;
                }
                let n = if signed && size < 8 && v & (1 << (size * 8 - 1)) != 0 {
                    (v | (u64::MAX << (size * 8))) as i64 as f64
                } else if signed {
                    v as i64 as f64
                } else {
                    v as f64
                };
                last_number = Some(n as usize);
                values.push(Value::Number(n));
                pos += size;
            }
            Item::Float | Item::Double => {
                let size = if matches!(item, Item::Float) { 4 } else { 8 };
                let mut bytes = data.get(pos..pos + size).ok_or_else(short)?.to_vec();
                if !f.little {
                    bytes.reverse();
                }
                let n = if size == 4 {
                    f32::from_le_bytes(bytes.try_into().unwrap_or_default()) as f64
                } else {
                    f64::from_le_bytes(bytes.try_into().unwrap_or_default())
                };
                values.push(Value::Number(n));
                pos += size;
            }
            Item::ZString => {
                let rest = data.get(pos..).ok_or_else(short)?;
                let end = memchr::memchr(0, rest).ok_or("unfinished string in data")?;
                let s = lua.create_string(&rest[..end]).map_err(|e| e.to_string())?;
                values.push(Value::String(s));
                pos += end + 1;
            }
            Item::Chars(n) => {
                let n = if n == 0 {
                    last_number
                        .take()
                        .ok_or("format 'c0' needs a previous size")?
                } else {
                    n
                };
                let bytes = data.get(pos..pos + n).ok_or_else(short)?;
                let s = lua.create_string(bytes).map_err(|e| e.to_string())?;
                values.push(Value::String(s));
                pos += n;
            }
        }
    }
    values.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_vec(values))
}

fn size(_lua: &Lua, _args: &MultiValue, fmt: &[u8]) -> Result<MultiValue, String> {
    let mut f = Format::new(fmt);
    let mut total = 0;
    while let Some(item) = f.next()? {
        if matches!(item, Item::ZString | Item::Chars(0)) {
            return Err("options 'c0' - 's' have undefined sizes".into());
        }
        let size = match item {
            Item::Chars(n) => n,
            ref other => item_size(other),
        };
        total += f.padding(item_size(&item), total) + size;
    }
    Ok(MultiValue::from_vec(vec![Value::Number(total as f64)]))
}
