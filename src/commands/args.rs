//! Argument parsing helpers that fail with Redis's exact error reply, so
//! handlers can write `let n = int_arg(&args[2])?;`.

use crate::number::{parse_f64, parse_i64};
use crate::protocol::Reply;

pub const ERR_NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub use crate::number::ERR_NOT_A_FLOAT as ERR_NOT_FLOAT;
pub const ERR_SYNTAX: &str = "ERR syntax error";
pub const ERR_WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const ERR_NO_SUCH_KEY: &str = "ERR no such key";
pub const ERR_DB_INDEX: &str = "ERR DB index is out of range";
pub const ERR_OVERFLOW: &str = "ERR increment or decrement would overflow";

/// An integer argument (`getLongLongFromObjectOrReply`).
pub fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))
}

/// A float argument (`getDoubleFromObjectOrReply`).
pub fn float_arg(arg: &[u8]) -> Result<f64, Reply> {
    parse_f64(arg).ok_or_else(|| Reply::error(ERR_NOT_FLOAT))
}

/// Redis `getRangeLongFromObjectOrReply`: an integer within `min..=max`. With
/// a message, both failures answer it; without, Redis's two generic texts.
pub fn range_arg(arg: &[u8], min: i64, max: i64, msg: Option<&'static str>) -> Result<i64, Reply> {
    match parse_i64(arg) {
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(_) => Err(match msg {
            Some(m) => Reply::error(m),
            None => Reply::error_owned(format!(
                "ERR value is out of range, value must between {min} and {max}"
            )),
        }),
        None => Err(Reply::error(msg.unwrap_or(ERR_NOT_INTEGER))),
    }
}

/// Redis `getPositiveLongFromObjectOrReply`: a non-negative integer.
pub fn positive_arg(arg: &[u8], msg: Option<&'static str>) -> Result<i64, Reply> {
    range_arg(
        arg,
        0,
        i64::MAX,
        Some(msg.unwrap_or("ERR value is out of range, must be positive")),
    )
}

/// Redis `parseScanCursorOrReply`: C `strtoul` in base 10 over the whole
/// argument (read as a C string), so `""` is 0, `-1` wraps to 2^64-1 and
/// `+5` is 5; a leading space, trailing bytes or overflow are rejected.
pub fn scan_cursor_arg(arg: &[u8]) -> Result<u64, Reply> {
    let invalid = || Reply::error("ERR invalid cursor");
    let text = super::table::c_string(arg, usize::MAX);
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        Some((c, _)) if c.is_ascii_whitespace() || *c == 0x0b => return Err(invalid()),
        _ => (false, text),
    };
    if digits.is_empty() && !text.is_empty() {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(invalid());
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative { v.wrapping_neg() } else { v })
}

/// True when option `arg` is `word`. Compared like Redis's `strcasecmp` on a C
/// string: ASCII case-insensitive, and the argument ends at a NUL byte
/// (`SET k v "NX\0junk"` is NX in Redis too).
pub fn is(arg: &[u8], word: &str) -> bool {
    super::table::c_string(arg, usize::MAX).eq_ignore_ascii_case(word.as_bytes())
}

pub fn syntax_error() -> Reply {
    Reply::error(ERR_SYNTAX)
}

pub fn wrong_type() -> Reply {
    Reply::error(ERR_WRONGTYPE)
}

/// Redis's `addReplyHelp`: the usage line, the command's lines, then HELP's own.
pub fn help_reply(command: &str, lines: &[&'static str]) -> Reply {
    let usage = format!("{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    let mut out = vec![Reply::Simple(usage.into_bytes().into())];
    out.extend(
        lines
            .iter()
            .chain(&["HELP", "    Prints this help."])
            .map(|line| Reply::simple(line)),
    );
    Reply::Array(out)
}
