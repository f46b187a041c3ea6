//! The `bit` library scripts get (LuaBitOp 1.0, as Redis bundles it):
//! 32-bit operations on Lua numbers, results as signed 32-bit numbers.

use mlua::{Lua, MultiValue, Table, Value};

use super::engine::fail_text;

/// LuaBitOp's number-to-bits conversion: the low 32 bits after adding
/// 2^52 + 2^51, which rounds to the nearest integer and wraps modulo 2^32.
fn bits(value: &Value) -> Option<u32> {
    let n = match value {
        Value::Integer(n) => *n as f64,
        Value::Number(n) => *n,
        Value::String(s) => std::str::from_utf8(&s.as_bytes())
            .ok()?
            .trim()
            .parse()
            .ok()?,
        _ => return None,
    };
    Some((n + 6_755_399_441_055_744.0).to_bits() as u32)
}

fn number(b: u32) -> Value {
    Value::Number(b as i32 as f64)
}

type Op = fn(&[u32]) -> u32;

/// A bit function: every argument (at least `min`) converted, or Lua's
/// "number expected" error.
fn function(lua: &Lua, name: &'static str, min: usize, op: Op) -> mlua::Result<mlua::Function> {
    lua.create_function(move |lua, args: MultiValue| {
        let mut values = Vec::with_capacity(args.len().max(min));
        for i in 0..args.len().max(min) {
            match args.get(i).and_then(bits) {
                Some(b) => values.push(b),
                None => {
                    let got = match args.get(i) {
                        None => "no value",
                        Some(v) => super::engine::lua_type_name(v),
                    };
                    return fail_text(
                        lua,
                        &format!(
                            "bad argument #{} to '{name}' (number expected, got {got})",
                            i + 1
                        ),
                    );
                }
            }
        }
        Ok(MultiValue::from_vec(vec![number(op(&values))]))
    })
}

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let ops: [(&'static str, usize, Op); 11] = [
        ("tobit", 1, |v| v[0]),
        ("bnot", 1, |v| !v[0]),
        ("band", 1, |v| v.iter().fold(u32::MAX, |a, b| a & b)),
        ("bor", 1, |v| v.iter().fold(0, |a, b| a | b)),
        ("bxor", 1, |v| v.iter().fold(0, |a, b| a ^ b)),
        ("lshift", 2, |v| v[0].wrapping_shl(v[1] & 31)),
        ("rshift", 2, |v| v[0].wrapping_shr(v[1] & 31)),
        ("arshift", 2, |v| ((v[0] as i32) >> (v[1] & 31)) as u32),
        ("rol", 2, |v| v[0].rotate_left(v[1] & 31)),
        ("ror", 2, |v| v[0].rotate_right(v[1] & 31)),
        ("bswap", 1, |v| v[0].swap_bytes()),
    ];
    for (name, min, op) in ops {
        t.set(name, function(lua, name, min, op)?)?;
    }
    t.set(
        "tohex",
        lua.create_function(|lua, args: MultiValue| {
            let Some(b) = args.front().and_then(bits) else {
                return fail_text(lua, "bad argument #1 to 'tohex' (number expected)");
            };
            let n = args.get(1).and_then(bits).map_or(8, |n| n as i32);
            let (upper, n) = if n < 0 { (true, -n) } else { (false, n) };
            let n = n.min(8) as usize;
            let mut out = String::with_capacity(n);
            for i in (0..n).rev() {
                let nibble = (b >> (4 * i)) & 15;
                let digit = std::char::from_digit(nibble, 16).unwrap_or('0');
                out.push(if upper {
                    digit.to_ascii_uppercase()
                } else {
                    digit
                });
            }
            Ok(MultiValue::from_vec(vec![Value::String(
                lua.create_string(out)?,
            )]))
        })?,
    )?;
    Ok(t)
}
