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

/// Redis `getRangeLongFromObjectOrReply` with a message: an integer within
/// `range`, else the error `msg` (a non-integer gets `msg` too, as in Redis).
pub fn int_arg_in(
    arg: &[u8],
    range: std::ops::RangeInclusive<i64>,
    msg: &'static str,
) -> Result<i64, Reply> {
    parse_i64(arg)
        .filter(|n| range.contains(n))
        .ok_or_else(|| Reply::error(msg))
}

/// A float argument (`getDoubleFromObjectOrReply`).
pub fn float_arg(arg: &[u8]) -> Result<f64, Reply> {
    parse_f64(arg).ok_or_else(|| Reply::error(ERR_NOT_FLOAT))
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

pub const ERR_SAME_OBJECT: &str = "ERR source and destination objects are the same";

/// A C `int` argument (`getIntFromObjectOrReply`): not an integer gives the
/// usual error, outside the `int` range Redis's range message; `msg`
/// replaces both when given (SWAPDB's "invalid first DB index").
pub fn int32_arg(arg: &[u8], msg: Option<&'static str>) -> Result<i32, Reply> {
    let n = parse_i64(arg).ok_or_else(|| Reply::error(msg.unwrap_or(ERR_NOT_INTEGER)))?;
    i32::try_from(n).map_err(|_| {
        Reply::error(
            msg.unwrap_or(
                "ERR value is out of range, value must between -2147483648 and 2147483647",
            ),
        )
    })
}

/// A database index argument as MOVE, COPY ... DB and SELECT read it
/// (`getIntFromObjectOrReply` then `selectDb`).
pub fn db_index_arg(arg: &[u8], databases: usize) -> Result<usize, Reply> {
    let db = int32_arg(arg, None)?;
    usize::try_from(db)
        .ok()
        .filter(|&db| db < databases)
        .ok_or_else(|| Reply::error(ERR_DB_INDEX))
}

/// An error built from client bytes, as `addReplyErrorFormat` sends it:
/// `%s` stops at a NUL byte and newlines become spaces, so the reply stays
/// one protocol line.
pub fn error_format(parts: &[&[u8]]) -> Reply {
    let mut text = Vec::new();
    for part in parts {
        let end = memchr::memchr(0, part).unwrap_or(part.len());
        text.extend(part[..end].iter().map(|&b| match b {
            b'\r' | b'\n' => b' ',
            b => b,
        }));
    }
    Reply::error_owned(text)
}

/// The reply to `<COMMAND> HELP` (`addReplyHelp`): a title naming the
/// command in upper case, the given lines, then HELP itself.
pub fn help_reply(command: &[u8], lines: &[&'static str]) -> Reply {
    let mut title = command.to_ascii_uppercase();
    title.extend_from_slice(b" <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    let mut out = vec![Reply::Simple(title.into())];
    out.extend(lines.iter().map(|&l| Reply::simple(l)));
    out.push(Reply::simple("HELP"));
    out.push(Reply::simple("    Prints this help."));
    Reply::Array(out)
}
