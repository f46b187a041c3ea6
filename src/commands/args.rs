//! Argument parsing helpers that fail with Redis's exact error reply, so
//! handlers can write `let n = int_arg(&args[2])?;`.

use crate::keyspace::{StringValue, Value};
use crate::number::{parse_f64, parse_i64};
use crate::protocol::Reply;
use crate::types::{hash::Hash, list::List, set::Set, stream::Stream, zset::ZSet};

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

/// True when option `arg` is `word`. Compared like Redis's `strcasecmp` on a C
/// string: ASCII case-insensitive, and the argument ends at a NUL byte
/// (`SET k v "NX\0junk"` is NX in Redis too).
pub fn is(arg: &[u8], word: &str) -> bool {
    super::table::c_string(arg, usize::MAX).eq_ignore_ascii_case(word.as_bytes())
}

/// A value type a command expects of a key: Redis's `checkType`, which
/// answers WRONGTYPE for any other type. See [`checked`] and [`checked_mut`].
pub trait Typed {
    fn of(value: &Value) -> Option<&Self>;
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
}

macro_rules! typed {
    ($type:ty, $variant:ident) => {
        impl Typed for $type {
            fn of(value: &Value) -> Option<&Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn of_mut(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}

typed!(StringValue, String);
typed!(List, List);
typed!(Hash, Hash);
typed!(Set, Set);
typed!(ZSet, ZSet);
typed!(Stream, Stream);

/// The value as type `T`, or WRONGTYPE.
pub fn checked<T: Typed>(value: &Value) -> Result<&T, Reply> {
    T::of(value).ok_or_else(wrong_type)
}

/// [`checked`] for changing the value in place.
pub fn checked_mut<T: Typed>(value: &mut Value) -> Result<&mut T, Reply> {
    T::of_mut(value).ok_or_else(wrong_type)
}

/// Redis's index sanitizing for LRANGE, LTRIM and rank ranges of sorted
/// sets: `start..=stop` with negative indexes counting from the end, as the
/// first position and the number of elements, or None when it is empty.
pub fn index_range(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    let stop = stop.min(len - 1);
    Some((start as usize, (stop - start + 1) as usize))
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

/// Redis's `addReplySubcommandSyntaxError`: a subcommand given arguments
/// its command does not take, named as the client typed it.
pub fn subcommand_syntax_error(args: &[&[u8]]) -> Reply {
    let name = args[0].to_ascii_uppercase();
    error_format(&[
        b"ERR unknown subcommand or wrong number of arguments for '",
        crate::commands::table::c_string(args[1], 128),
        b"'. Try ",
        &name,
        b" HELP.",
    ])
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

/// The optional trailing `COUNT n` of LMPOP/BLMPOP/ZMPOP/BZMPOP, from
/// `args[from..]`: given once, at least 1; anything else is a syntax error.
pub fn mpop_count(args: &[&[u8]], from: usize) -> Result<Option<i64>, Reply> {
    let mut count = None;
    let mut j = from;
    while let Some(opt) = args.get(j) {
        if count.is_none() && is(opt, "COUNT") && j + 1 < args.len() {
            j += 1;
            count = Some(int_in_range(
                args[j],
                1,
                i64::MAX,
                Some("ERR count should be greater than 0"),
            )?);
        } else {
            return Err(syntax_error());
        }
        j += 1;
    }
    Ok(count)
}

/// Redis `getRangeLongFromObjectOrReply`: an integer in `min..=max`. With a
/// `msg`, a non-integer and an out-of-range value both get that error, as in Redis.
pub fn int_in_range(
    arg: &[u8],
    min: i64,
    max: i64,
    msg: Option<&'static str>,
) -> Result<i64, Reply> {
    let v = parse_i64(arg).ok_or_else(|| Reply::error(msg.unwrap_or(ERR_NOT_INTEGER)))?;
    if v < min || v > max {
        return Err(match msg {
            Some(msg) => Reply::error(msg),
            None => Reply::error_owned(format!(
                "ERR value is out of range, value must between {min} and {max}"
            )),
        });
    }
    Ok(v)
}

/// Redis `getPositiveLongFromObjectOrReply`: 0 or more.
pub fn positive_arg(arg: &[u8], msg: Option<&'static str>) -> Result<i64, Reply> {
    let msg = msg.unwrap_or("ERR value is out of range, must be positive");
    int_in_range(arg, 0, i64::MAX, Some(msg))
}

/// The most elements a reply sampled with repetition may have (SRANDMEMBER
/// and HRANDFIELD with a negative count). Redis streams such a reply and
/// would exhaust memory on a huge count; a reply here is built whole first,
/// so it is capped and a larger count is refused.
pub const MAX_RANDOM_REPLY: u64 = 1 << 20;

/// A reply sampled with repetition of `count` elements that is over
/// [`MAX_RANDOM_REPLY`] and whose smallest encoding (an empty bulk, 6
/// bytes, an element) breaks the client's hard output buffer limit: Redis
/// streams it and closes the client midway, on the limit. Returns the
/// client to close (after the key was found, as Redis gets that far);
/// None when the count is served or refused as usual.
pub fn random_reply_overflows(
    ctx: &super::Ctx,
    count: u64,
) -> Option<std::sync::Arc<crate::client::ClientHandle>> {
    if count <= MAX_RANDOM_REPLY {
        return None;
    }
    let class = if ctx.client.subs.active() { 2 } else { 0 };
    let hard = ctx.server.config.client_output_buffer_limits()[class].hard_bytes;
    (hard != 0 && count.saturating_mul(6) >= hard).then(|| ctx.client.handle.clone())
}

/// Closes a client whose reply [`random_reply_overflows`]: no reply.
pub fn close_for_output_limit(handle: &crate::client::ClientHandle) -> Reply {
    tracing::warn!(
        "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
        handle.describe()
    );
    handle.kill();
    Reply::Null
}

/// [`MAX_RANDOM_REPLY`] as a check.
pub fn random_reply_len(count: u64) -> Result<usize, Reply> {
    match usize::try_from(count) {
        Ok(n) if count <= MAX_RANDOM_REPLY => Ok(n),
        _ => Err(Reply::error("ERR value is out of range")),
    }
}

/// Redis `parseScanCursorOrReply`: `strtoul` on the argument as a C string,
/// refusing a leading space, trailing bytes and overflow. So, as in Redis,
/// "" is 0, "+5" is 5 and "-1" wraps to 2^64-1.
pub fn cursor_arg(arg: &[u8]) -> Result<u64, Reply> {
    let invalid = || Reply::error("ERR invalid cursor");
    let s = super::table::c_string(arg, usize::MAX);
    if s.first().is_some_and(|c| b" \t\n\x0b\x0c\r".contains(c)) {
        return Err(invalid());
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        // No conversion: strtoul points at the start, fine only for "".
        return if s.is_empty() { Ok(0) } else { Err(invalid()) };
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(invalid());
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative { n.wrapping_neg() } else { n })
}

/// The COUNT and MATCH options of HSCAN, SSCAN and ZSCAN.
pub struct ScanOptions<'a> {
    pub count: usize,
    /// None when there is no pattern or it is "*" (Redis skips matching then).
    pub pattern: Option<&'a [u8]>,
}

impl<'a> ScanOptions<'a> {
    /// Step 1 of Redis `scanGenericCommand` for a key's elements (no TYPE).
    pub fn parse(opts: &'a [&'a [u8]]) -> Result<ScanOptions<'a>, Reply> {
        let mut parsed = ScanOptions {
            count: 10,
            pattern: None,
        };
        let mut rest = opts;
        while let Some((opt, after)) = rest.split_first() {
            match after.split_first() {
                Some((value, after)) if is(opt, "count") => {
                    let count = int_arg(value)?;
                    parsed.count = usize::try_from(count)
                        .ok()
                        .filter(|&c| c >= 1)
                        .ok_or_else(syntax_error)?;
                    rest = after;
                }
                Some((value, after)) if is(opt, "match") => {
                    parsed.pattern = (&value[..] != b"*").then_some(&value[..]);
                    rest = after;
                }
                _ => return Err(syntax_error()),
            }
        }
        Ok(parsed)
    }

    pub fn matches(&self, element: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| crate::glob::glob_match(p, element, false))
    }
}

/// A SCAN-family reply: the next cursor and the elements.
pub fn scan_reply(cursor: u64, elements: Vec<Reply>) -> Reply {
    let cursor = itoa::Buffer::new().format(cursor).as_bytes().to_vec();
    Reply::Array(vec![Reply::bulk(cursor), Reply::Array(elements)])
}

#[cfg(test)]
mod tests {
    use super::cursor_arg;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(cursor_arg(b"").ok(), Some(0));
        assert_eq!(cursor_arg(b"00").ok(), Some(0));
        assert_eq!(cursor_arg(b"+5").ok(), Some(5));
        assert_eq!(cursor_arg(b"-1").ok(), Some(u64::MAX));
        assert_eq!(cursor_arg(b"1\0junk").ok(), Some(1));
        assert_eq!(cursor_arg(b"18446744073709551615").ok(), Some(u64::MAX));
        for bad in [
            &b"-"[..],
            b"+",
            b" 1",
            b"\t1",
            b"1 ",
            b"0x1",
            b"18446744073709551616",
        ] {
            assert!(cursor_arg(bad).is_err(), "{bad:?}");
        }
    }
}
