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
