//! Stream commands (Redis 7.0's t_stream.c): XADD, XRANGE, XREAD, the
//! consumer group commands, XINFO, XSETID.
//!
//! The checks run in Redis's order, which is visible (XDEL and XACK look
//! the key up before parsing their IDs, XRANGE parses before). Consumer
//! group state changes propagate as Redis's do: XREADGROUP, XCLAIM and
//! XAUTOCLAIM as XCLAIM ... FORCE JUSTID LASTID and XGROUP SETID /
//! CREATECONSUMER, XADD with `*` as the ID it chose, `~` trims as `=` with
//! the resulting length or first ID.
//!
//! XREAD/XREADGROUP BLOCK use the blocking machinery of the lists
//! (`blocking.rs`): a read that finds nothing queues the client, an XADD
//! signals the key and the client re-runs its request; the IDs it waits
//! past (a `$` resolved when it first blocked) and its COUNT are kept in
//! its [`crate::blocking::StreamWait`].

use bytes::Bytes;
use tokio::time::Instant;

use super::args::{checked, checked_mut, error_format, help_reply, int_arg, is, syntax_error};
use super::{argv, cmd, CmdResult, Ctx, Registration};
use crate::blocking::StreamWait;
use crate::config::notify;
use crate::keyspace::{DbView, Value};
use crate::protocol::reply::BulkArray;
use crate::protocol::{Reply, Resp};
use crate::types::stream::{
    AppendError, Consumer, Entry, Group, Nack, Stream, StreamId, Trim, INVALID_ENTRIES_READ,
};

pub static COMMANDS: &[Registration] = &[
    cmd("xadd", xadd),
    cmd("xlen", xlen),
    cmd("xrange", xrange),
    cmd("xrevrange", xrevrange),
    cmd("xdel", xdel),
    cmd("xtrim", xtrim),
    cmd("xread", xread),
    cmd("xreadgroup", xreadgroup),
    cmd("xack", xack),
    cmd("xpending", xpending),
    cmd("xclaim", xclaim),
    cmd("xautoclaim", xautoclaim),
    cmd("xsetid", xsetid),
    cmd("xgroup|create", xgroup),
    cmd("xgroup|createconsumer", xgroup),
    cmd("xgroup|delconsumer", xgroup),
    cmd("xgroup|destroy", xgroup),
    cmd("xgroup|setid", xgroup),
    cmd("xgroup|help", xgroup_help),
    cmd("xinfo|stream", xinfo),
    cmd("xinfo|groups", xinfo),
    cmd("xinfo|consumers", xinfo),
    cmd("xinfo|help", xinfo_help),
];

const ERR_INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const ERR_START_INTERVAL: &str = "ERR invalid start ID for the interval";
const ERR_END_INTERVAL: &str = "ERR invalid end ID for the interval";
/// Redis's `XREAD_BLOCKED_DEFAULT_COUNT`: a blocked read without COUNT is
/// served at most this many entries per stream.
const BLOCKED_DEFAULT_COUNT: u64 = 1000;

/// Redis's `string2ull`: `string2ll` when it parses (negative refused),
/// else `strtoull` (leading spaces, a sign, and its wrap-around of `-n`).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(n) = crate::number::parse_i64(s) {
        return u64::try_from(n).ok();
    }
    let s = match s
        .iter()
        .position(|&b| !(b == b' ' || (9..=13).contains(&b)))
    {
        Some(p) => &s[p..],
        None => return None,
    };
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { n.wrapping_neg() } else { n })
}

/// `streamGenericParseIDOrReply`: `<ms>[-<seq>]`, `-` and `+` unless
/// `strict`; with `seq_star`, `<ms>-*` too (the bool: whether the sequence
/// was given).
fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Result<(StreamId, bool), Reply> {
    let invalid = || Reply::error(ERR_INVALID_ID);
    // Redis copies into a 128-byte C buffer: longer is invalid, a NUL ends it.
    if arg.len() > 127 {
        return Err(invalid());
    }
    let arg = &arg[..memchr::memchr(0, arg).unwrap_or(arg.len())];
    match arg {
        b"-" | b"+" if strict => return Err(invalid()),
        b"-" => return Ok((StreamId::MIN, true)),
        b"+" => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    let (ms, seq) = match memchr::memchr(b'-', arg) {
        Some(dash) => (&arg[..dash], Some(&arg[dash + 1..])),
        None => (arg, None),
    };
    let ms = string2ull(ms).ok_or_else(invalid)?;
    match seq {
        Some(b"*") if seq_star => Ok((StreamId::new(ms, 0), false)),
        Some(seq) => Ok((
            StreamId::new(ms, string2ull(seq).ok_or_else(invalid)?),
            true,
        )),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

/// A strict ID (no `-`/`+`), a missing sequence being 0.
fn parse_id(arg: &[u8]) -> Result<StreamId, Reply> {
    parse_id_full(arg, 0, true, false).map(|(id, _)| id)
}

/// `streamParseIntervalIDOrReply`: an ID that may be `(`-exclusive,
/// returned already moved past the excluded end.
fn parse_bound(arg: &[u8], missing_seq: u64, start: bool) -> Result<StreamId, Reply> {
    if arg.len() > 1 && arg[0] == b'(' {
        let (id, _) = parse_id_full(&arg[1..], missing_seq, true, false)?;
        let moved = if start { id.incr() } else { id.decr() };
        moved.ok_or_else(|| {
            Reply::error(if start {
                ERR_START_INTERVAL
            } else {
                ERR_END_INTERVAL
            })
        })
    } else {
        parse_id_full(arg, missing_seq, false, false).map(|(id, _)| id)
    }
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

/// An entry as `[id, [field, value, ...]]`, its fields and values in wire
/// form (one buffer, not a `Reply` and an allocation each: XRANGE's cost).
fn entry_reply(entry: Entry) -> Reply {
    let mut items = BulkArray::with_capacity(4, 8);
    for item in entry.items() {
        items.push(item);
    }
    Reply::Array(vec![id_reply(entry.id), Reply::Bulks(items)])
}

/// A client's count (0: all) as an iterator bound.
fn take_count(count: u64) -> usize {
    match count {
        0 => usize::MAX,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    }
}

fn no_group_error(key: &[u8], group: &[u8], suffix: &[u8]) -> Reply {
    error_format(&[
        b"NOGROUP No such key '",
        key,
        b"' or consumer group '",
        group,
        b"'",
        suffix,
    ])
}

fn no_such_group(key: &[u8], group: &[u8]) -> Reply {
    error_format(&[
        b"NOGROUP No such consumer group '",
        group,
        b"' for key name '",
        key,
        b"'",
    ])
}

/// The stream at `key` for a read (`lookupKeyRead` + `checkType`),
/// counting the keyspace hit or miss.
fn read_stream<'d>(
    ctx_server: &crate::server::Server,
    db: &'d mut DbView,
    key: &[u8],
) -> Result<Option<&'d Stream>, Reply> {
    let entry = db.get_read(key);
    ctx_server.stats.lookup(entry.is_some());
    entry.map(|e| checked::<Stream>(e.value)).transpose()
}

/// The stream at `key` to change in place.
fn write_stream<'d>(db: &'d mut DbView, key: &[u8]) -> Result<Option<&'d mut Stream>, Reply> {
    db.get_mut(key).map(checked_mut::<Stream>).transpose()
}

/// The stream at `key` to change its consumer groups: Redis's group
/// commands do not signal WATCH.
fn group_stream<'d>(db: &'d mut DbView, key: &[u8]) -> Result<Option<&'d mut Stream>, Reply> {
    db.get_mut_unwatched(key)
        .map(checked_mut::<Stream>)
        .transpose()
}

/// XADD and XTRIM's options (`streamAddTrimArgs`).
#[derive(Default)]
struct TrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    /// Where the MAXLEN/MINID value is (its `~`/`=` just before it).
    trim_at: usize,
    no_mkstream: bool,
    /// XADD's explicit ID and whether its sequence was given.
    id: Option<(StreamId, bool)>,
    /// Where XADD's ID is (after the options).
    id_at: usize,
}

/// `streamParseAddOrTrimArgsOrReply`. `obey`: the command comes from the
/// AOF (Redis's `mustObeyClient`), whose trims were rewritten exact, so
/// LIMIT is ignored rather than checked.
fn parse_trim_args(
    args: &[&[u8]],
    xadd: bool,
    node_max_entries: u64,
    obey: bool,
) -> Result<TrimArgs, Reply> {
    const BOTH: &str =
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
    let mut parsed = TrimArgs::default();
    let mut limit: Option<i64> = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args[i];
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "MAXLEN") || is(opt, "MINID")) && more > 0 {
            if parsed.trim.is_some() {
                return Err(Reply::error(BOTH));
            }
            parsed.approx = false;
            let next = args[i + 1];
            if more >= 2 && (next == b"~" || next == b"=") {
                parsed.approx = next == b"~";
                i += 1;
            }
            let value = args[i + 1];
            parsed.trim = Some(if is(opt, "MAXLEN") {
                let n = int_arg(value)?;
                let n = u64::try_from(n)
                    .map_err(|_| Reply::error("ERR The MAXLEN argument must be >= 0."))?;
                Trim::MaxLen(n)
            } else {
                Trim::MinId(parse_id(value)?)
            });
            i += 1;
            parsed.trim_at = i;
        } else if is(opt, "LIMIT") && more > 0 {
            let n = int_arg(args[i + 1])?;
            if n < 0 {
                return Err(Reply::error("ERR The LIMIT argument must be >= 0."));
            }
            limit = Some(n);
            i += 1;
        } else if xadd && is(opt, "NOMKSTREAM") {
            parsed.no_mkstream = true;
        } else if xadd {
            parsed.id = Some(parse_id_full(opt, 0, true, true)?);
            break;
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    parsed.id_at = i;
    if limit.is_some_and(|l| l != 0) && parsed.trim.is_none() {
        return Err(Reply::error(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && parsed.trim.is_none() {
        return Err(Reply::error(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    match limit {
        _ if obey => parsed.limit = 0,
        Some(_) if !parsed.approx => {
            return Err(Reply::error(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ))
        }
        Some(l) => parsed.limit = l as u64,
        None if parsed.approx => {
            let l = node_max_entries.saturating_mul(100);
            parsed.limit = if l == 0 || l > i64::MAX as u64 {
                10_000
            } else {
                l.min(1_000_000)
            };
        }
        None => parsed.limit = 0,
    }
    Ok(parsed)
}

/// The arguments to propagate after an approximate trim: `~` becomes `=`
/// and the value the exact length or first ID (`streamRewriteTrimArgument`).
fn rewrite_trim(out: &mut [Bytes], parsed: &TrimArgs, stream: &Stream) {
    let value = match parsed.trim {
        Some(Trim::MaxLen(_)) => Bytes::from(stream.len().to_string()),
        _ => stream.first_raw_id().to_bytes(),
    };
    if let Some(slot) = out.get_mut(parsed.trim_at - 1) {
        *slot = Bytes::from_static(b"=");
    }
    if let Some(slot) = out.get_mut(parsed.trim_at) {
        *slot = value;
    }
}

fn xadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let config = &ctx.server.config;
    let (max_entries, max_bytes) = (
        config.stream_node_max_entries(),
        config.stream_node_max_bytes(),
    );
    let parsed = parse_trim_args(args, true, max_entries, ctx.client.must_obey())?;
    let field_at = parsed.id_at + 1;
    if args.len() < field_at + 2 || (args.len() - field_at) % 2 == 1 {
        return Err(Reply::error(
            "ERR wrong number of arguments for 'xadd' command",
        ));
    }
    if let Some((id, true)) = parsed.id {
        if id.is_zero() {
            return Err(Reply::error(
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let key = args[1];
    let now = ctx.now_ms();
    let mut db = ctx.db();
    let mut created = None;
    let stream = match write_stream(&mut db, key)? {
        Some(stream) => stream,
        None if parsed.no_mkstream => return Ok(Reply::Null),
        None => created.insert(Box::new(Stream::new())),
    };
    if stream.last_id == StreamId::MAX {
        return Err(Reply::error(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let appended = stream.next_id(now, parsed.id).and_then(|id| {
        stream
            .append(id, &args[field_at..], max_entries, max_bytes)
            .map(|()| id)
    });
    let id =
        match appended {
            Ok(id) => id,
            Err(AppendError::IdTooSmall) => return Err(Reply::error(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            )),
            Err(AppendError::TooLarge) => {
                return Err(Reply::error("ERR Elements are too large to be stored"))
            }
        };
    let trimmed = parsed
        .trim
        .map_or(0, |t| stream.trim(t, parsed.approx, parsed.limit));
    let mut out = None;
    if db_propagating_args(&parsed) {
        let mut rewritten = argv(args);
        if parsed.approx {
            rewrite_trim(&mut rewritten, &parsed, stream);
        }
        if !matches!(parsed.id, Some((_, true))) {
            rewritten[parsed.id_at] = id.to_bytes();
        }
        out = Some(rewritten);
    }
    if let Some(stream) = created {
        db.set(key, Value::Stream(stream), None);
    } else {
        db.signal_ready(key);
    }
    db.notify(notify::STREAM, "xadd", key);
    if trimmed > 0 {
        db.notify(notify::STREAM, "xtrim", key);
    }
    if let Some(out) = out {
        ctx.propagate_as(|| out);
    }
    Ok(id_reply(id))
}

/// Whether XADD's arguments change on the way to replicas.
fn db_propagating_args(parsed: &TrimArgs) -> bool {
    parsed.approx || !matches!(parsed.id, Some((_, true)))
}

fn xlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    let len = read_stream(server, &mut ctx.db(), args[1])?.map_or(0, Stream::len);
    Ok(Reply::Integer(len as i64))
}

/// `xrangeGenericCommand`.
fn range_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (args[3], args[2])
    } else {
        (args[2], args[3])
    };
    let start = parse_bound(start_arg, 0, true)?;
    let end = parse_bound(end_arg, u64::MAX, false)?;
    let mut count: Option<u64> = None;
    let mut j = 4;
    while j < args.len() {
        if is(args[j], "COUNT") && j + 1 < args.len() {
            count = Some(int_arg(args[j + 1])?.max(0) as u64);
            j += 2;
        } else {
            return Err(syntax_error());
        }
    }
    let server = ctx.server;
    let mut db = ctx.db();
    let Some(stream) = read_stream(server, &mut db, args[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == Some(0) {
        return Ok(Reply::NullArray);
    }
    let entries = stream
        .range(start, end, rev)
        .take(take_count(count.unwrap_or(0)))
        .map(entry_reply)
        .collect();
    Ok(Reply::Array(entries))
}

fn xrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_generic(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_generic(ctx, args, true)
}

fn xdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut db = ctx.db();
    let Some(stream) = write_stream(&mut db, key)? else {
        return Ok(Reply::Integer(0));
    };
    let ids = args[2..]
        .iter()
        .map(|a| parse_id(a))
        .collect::<Result<Vec<_>, _>>();
    let ids = match ids {
        Ok(ids) => ids,
        Err(e) => {
            db.unchanged(key);
            return Err(e);
        }
    };
    let mut deleted = 0;
    let mut first = false;
    for id in ids {
        if stream.delete(id) {
            first |= id == stream.first_id;
            if id > stream.max_deleted_id {
                stream.max_deleted_id = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        if stream.is_empty() {
            stream.first_id = StreamId::MIN;
        } else if first {
            stream.refresh_first_id();
        }
        db.notify(notify::STREAM, "xdel", key);
    } else {
        db.unchanged(key);
    }
    Ok(Reply::Integer(deleted))
}

fn xtrim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let max_entries = ctx.server.config.stream_node_max_entries();
    let parsed = parse_trim_args(args, false, max_entries, ctx.client.must_obey())?;
    let key = args[1];
    let propagating = ctx.propagating();
    let mut db = ctx.db();
    let Some(stream) = write_stream(&mut db, key)? else {
        return Ok(Reply::Integer(0));
    };
    let trim = parsed.trim.unwrap_or(Trim::MaxLen(u64::MAX));
    let deleted = stream.trim(trim, parsed.approx, parsed.limit);
    let mut out = None;
    if deleted > 0 && parsed.approx && propagating {
        let mut rewritten = argv(args);
        rewrite_trim(&mut rewritten, &parsed, stream);
        out = Some(rewritten);
    }
    if deleted > 0 {
        db.notify(notify::STREAM, "xtrim", key);
    } else {
        db.unchanged(key);
    }
    if let Some(out) = out {
        ctx.propagate_as(|| out);
    }
    Ok(Reply::Integer(deleted as i64))
}

/// Redis's `getTimeoutFromObjectOrReply` in milliseconds (XREAD BLOCK).
fn block_ms_arg(arg: &[u8]) -> Result<Option<Instant>, Reply> {
    let ms = super::args::int_arg(arg)
        .map_err(|_| Reply::error("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    Ok((ms > 0)
        .then(|| Instant::now().checked_add(std::time::Duration::from_millis(ms as u64)))
        .flatten())
}

/// XREAD and XREADGROUP's parsed options.
struct ReadArgs<'a> {
    block: Option<Option<Instant>>,
    count: u64,
    keys: &'a [&'a [u8]],
    ids: &'a [&'a [u8]],
    group: Option<(&'a [u8], &'a [u8])>,
    noack: bool,
}

/// `in_script`: BLOCK is refused from scripts, as Redis does (its own
/// backward-compatible error, before `CLIENT_DENY_BLOCKING` is considered).
fn parse_read_args<'a>(
    args: &'a [&'a [u8]],
    xreadgroup: bool,
    in_script: bool,
) -> Result<ReadArgs<'a>, Reply> {
    let mut parsed = ReadArgs {
        block: None,
        count: 0,
        keys: &[],
        ids: &[],
        group: None,
        noack: false,
    };
    let mut streams_at = None;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let opt = args[i];
        if is(opt, "BLOCK") && more > 0 {
            if in_script {
                return Err(Reply::error_owned(format!(
                    "ERR {} command is not allowed with BLOCK option from scripts",
                    String::from_utf8_lossy(args[0])
                )));
            }
            i += 1;
            parsed.block = Some(block_ms_arg(args[i])?);
        } else if is(opt, "COUNT") && more > 0 {
            i += 1;
            parsed.count = int_arg(args[i])?.max(0) as u64;
        } else if is(opt, "STREAMS") && more > 0 {
            if !more.is_multiple_of(2) {
                return Err(Reply::error(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            streams_at = Some(i + 1);
            break;
        } else if is(opt, "GROUP") && more >= 2 {
            if !xreadgroup {
                return Err(Reply::error(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            parsed.group = Some((args[i + 1], args[i + 2]));
            i += 2;
        } else if is(opt, "NOACK") {
            if !xreadgroup {
                return Err(Reply::error(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            parsed.noack = true;
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    let streams_at = streams_at.ok_or_else(syntax_error)?;
    if xreadgroup && parsed.group.is_none() {
        return Err(Reply::error("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = (args.len() - streams_at) / 2;
    parsed.keys = &args[streams_at..streams_at + n];
    parsed.ids = &args[streams_at + n..];
    Ok(parsed)
}

/// What to serve from one stream of an XREAD/XREADGROUP.
enum Serve {
    Nothing,
    /// Entries after this ID.
    After(StreamId),
    /// The consumer's own pending entries from this ID.
    History(StreamId),
}

fn xread(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    xread_generic(ctx, args, false)
}

fn xreadgroup(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    xread_generic(ctx, args, true)
}

/// `xreadCommand`, also its re-run when a key it waits on was signalled
/// (Redis's `serveClientsBlockedOnStreamKey`: then a stream serves when its
/// last ID passed the one waited for, and a group that vanished meanwhile
/// ends the wait with an error).
fn xread_generic(ctx: &mut Ctx, args: &[&[u8]], xreadgroup: bool) -> CmdResult {
    let parsed = parse_read_args(args, xreadgroup, ctx.client.in_script)?;
    let rerun = ctx.client.block.is_queued();
    let server = ctx.server;
    // Resolve every key, group and ID first, as Redis does before serving.
    let mut ids = Vec::with_capacity(parsed.keys.len());
    {
        let mut db = ctx.db();
        for (key, id_arg) in parsed.keys.iter().zip(parsed.ids) {
            let stream = match read_stream(server, &mut db, key) {
                // Woken because the stream was deleted or replaced
                // (`unblockDeletedStreamReadgroupClients`).
                Err(_) | Ok(None) if rerun && parsed.group.is_some() => {
                    ctx.client.block.end_with_error();
                    return Err(Reply::error("UNBLOCKED the stream key no longer exists"));
                }
                found => found?,
            };
            if let Some((group, _)) = parsed.group {
                if stream.is_none_or(|s| !s.groups.contains_key(group)) {
                    if rerun {
                        ctx.client.block.end_with_error();
                        return Err(Reply::error(
                            "NOGROUP the consumer group this client was blocked on no longer exists",
                        ));
                    }
                    return Err(no_group_error(
                        key,
                        group,
                        b" in XREADGROUP with GROUP option",
                    ));
                }
            }
            let id = match *id_arg {
                b"$" if xreadgroup => return Err(Reply::error(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                )),
                b"$" => stream.map_or(StreamId::MIN, |s| s.last_id),
                b">" if !xreadgroup => return Err(Reply::error(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                )),
                b">" => StreamId::MAX,
                arg => parse_id(arg)?,
            };
            ids.push(id);
        }
    }
    let mut count = parsed.count;
    if let Some(wait) = ctx.client.block.stream.as_ref().filter(|_| rerun) {
        ids.clone_from(&wait.ids);
        count = wait.count;
    }
    let now = ctx.now_ms();
    let resp3 = ctx.client.resp == Resp::V3;
    let mut ops: Vec<Vec<Bytes>> = Vec::new();
    let mut served: Vec<(Reply, Reply)> = Vec::new();
    {
        let mut db = ctx.db();
        for (key, &gt) in parsed.keys.iter().zip(&ids) {
            let entries = match parsed.group {
                None => {
                    let Some(stream) = read_stream(server, &mut db, key)? else {
                        continue;
                    };
                    let top = if rerun {
                        Some(stream.last_id)
                    } else {
                        stream.last_entry().map(|e| e.id)
                    };
                    if stream.is_empty() && !rerun || top.is_none_or(|top| top <= gt) {
                        continue;
                    }
                    let start = gt.incr().unwrap_or(StreamId::MIN);
                    stream
                        .range(start, StreamId::MAX, false)
                        .take(take_count(count))
                        .map(entry_reply)
                        .collect()
                }
                Some((group, consumer)) => {
                    let found = group_stream(&mut db, key)?;
                    // `lookupKeyRead`, as XREAD's: a hit or a miss.
                    server.stats.lookup(found.is_some());
                    let Some(stream) = found else {
                        continue;
                    };
                    let serve = choose_group_serve(stream, group, gt, rerun);
                    if matches!(serve, Serve::Nothing) {
                        db.unchanged(key);
                        continue;
                    }
                    let delivery = Delivery {
                        key,
                        group,
                        consumer,
                        noack: parsed.noack,
                        now,
                        count,
                    };
                    let (entries, created) = delivery.serve(stream, serve, &mut ops);
                    if created {
                        db.notify(notify::STREAM, "xgroup-createconsumer", key);
                    }
                    entries
                }
            };
            served.push((Reply::bulk_copy(key), Reply::Array(entries)));
        }
    }
    ctx.prevent_propagation();
    for op in ops {
        ctx.also_propagate(|| op);
    }
    if !served.is_empty() {
        return Ok(if resp3 {
            Reply::Map(served)
        } else {
            Reply::Array(
                served
                    .into_iter()
                    .map(|(k, v)| Reply::Array(vec![k, v]))
                    .collect(),
            )
        });
    }
    let Some(deadline) = parsed.block else {
        return Ok(Reply::NullArray);
    };
    if !rerun && !ctx.client.deny_blocking() {
        let count = if parsed.count == 0 {
            BLOCKED_DEFAULT_COUNT
        } else {
            parsed.count
        };
        ctx.client.block.stream = Some(StreamWait { ids, count });
    }
    let reply = super::blocking::block(ctx, parsed.keys, deadline, Reply::NullArray)?;
    if rerun {
        // Not served: the client keeps its place, and the one behind it on
        // each key tries (every waiting reader may be served by one XADD).
        let client = &*ctx.client;
        ctx.server
            .keyspace
            .blocking
            .pass_on(client.id, &client.block);
    }
    Ok(reply)
}

/// Whether (and what) XREADGROUP serves from `stream` for ID `gt`.
fn choose_group_serve(stream: &Stream, group: &[u8], gt: StreamId, rerun: bool) -> Serve {
    let Some(last) = stream.groups.get(group).map(|g| g.last_id) else {
        return Serve::Nothing;
    };
    if gt != StreamId::MAX {
        // History after the ID given, as for new entries.
        return Serve::History(gt.incr().unwrap_or(StreamId::MIN));
    }
    let top = if rerun {
        Some(stream.last_id)
    } else {
        stream.last_entry().map(|e| e.id)
    };
    match top {
        Some(top) if top > last && (rerun || !stream.is_empty()) => Serve::After(last),
        _ => Serve::Nothing,
    }
}

/// One XREADGROUP delivery from one stream (`streamReplyWithRange` with a
/// group and consumer, or `streamReplyWithRangeFromConsumerPEL`).
struct Delivery<'a> {
    key: &'a [u8],
    group: &'a [u8],
    consumer: &'a [u8],
    noack: bool,
    now: u64,
    count: u64,
}

impl Delivery<'_> {
    /// The entries served; whether the consumer was created.
    fn serve(
        &self,
        stream: &mut Stream,
        serve: Serve,
        ops: &mut Vec<Vec<Bytes>>,
    ) -> (Vec<Reply>, bool) {
        let created = ensure_consumer(stream, self.group, self.consumer, self.now);
        if created && self.noack {
            ops.push(argv(&[
                b"XGROUP",
                b"CREATECONSUMER",
                self.key,
                self.group,
                self.consumer,
            ]));
        }
        let entries = match serve {
            Serve::Nothing => Vec::new(),
            Serve::History(from) => self.history(stream, from),
            Serve::After(gt) => self.new_entries(stream, gt, ops),
        };
        (entries, created)
    }

    fn history(&self, stream: &mut Stream, from: StreamId) -> Vec<Reply> {
        let Some(group) = stream.groups.get(self.group) else {
            return Vec::new();
        };
        let Some(consumer) = group.consumers.get(self.consumer) else {
            return Vec::new();
        };
        let ids: Vec<StreamId> = consumer
            .pel
            .range(from..)
            .take(take_count(self.count))
            .copied()
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        let mut delivered = Vec::new();
        for id in ids {
            match stream.get(id) {
                Some(entry) => {
                    out.push(entry_reply(entry));
                    delivered.push(id);
                }
                None => out.push(Reply::Array(vec![id_reply(id), Reply::NullArray])),
            }
        }
        if let Some(group) = stream.groups.get_mut(self.group) {
            for id in delivered {
                if let Some(nack) = group.pel.get_mut(&id) {
                    nack.delivery_time = self.now;
                    nack.delivery_count += 1;
                }
            }
        }
        out
    }

    fn new_entries(
        &self,
        stream: &mut Stream,
        gt: StreamId,
        ops: &mut Vec<Vec<Bytes>>,
    ) -> Vec<Reply> {
        let start = gt.incr().unwrap_or(StreamId::MIN);
        let entries: Vec<(StreamId, Reply)> = stream
            .range(start, StreamId::MAX, false)
            .take(take_count(self.count))
            .map(|e| (e.id, entry_reply(e)))
            .collect();
        let mut moved_last_id = false;
        let mut out = Vec::with_capacity(entries.len());
        for (id, reply) in entries {
            let before = stream.groups.get(self.group).map(|g| g.last_id);
            stream.advance_group(self.group, id);
            moved_last_id |= before.is_some_and(|b| id > b);
            out.push(reply);
            if self.noack {
                continue;
            }
            let Some(group) = stream.groups.get_mut(self.group) else {
                continue;
            };
            let nack = Nack {
                delivery_time: self.now,
                delivery_count: 1,
                consumer: Bytes::copy_from_slice(self.consumer),
            };
            if let Some(old) = group.pel.insert(id, nack) {
                if let Some(c) = group.consumers.get_mut(&old.consumer) {
                    c.pel.remove(&id);
                }
            }
            if let Some(c) = group.consumers.get_mut(self.consumer) {
                c.pel.insert(id);
            }
            ops.push(xclaim_op(self.key, self.group, id, group));
        }
        if self.noack && moved_last_id {
            if let Some(group) = stream.groups.get(self.group) {
                ops.push(setid_op(self.key, self.group, group));
            }
        }
        out
    }
}

/// Looks the consumer up, refreshing its seen time, or creates it; whether
/// it was created (`streamLookupConsumer` / `streamCreateConsumer`).
fn ensure_consumer(stream: &mut Stream, group: &[u8], name: &[u8], now: u64) -> bool {
    stream
        .groups
        .get_mut(group)
        .is_some_and(|group| claiming_consumer(group, name, now))
}

/// `streamPropagateXCLAIM`: the idempotent XCLAIM a replica replays.
fn xclaim_op(key: &[u8], group_name: &[u8], id: StreamId, group: &Group) -> Vec<Bytes> {
    let (consumer, time, count) = group.pel.get(&id).map_or((Bytes::new(), 0, 0), |n| {
        (n.consumer.clone(), n.delivery_time, n.delivery_count)
    });
    xclaim_op_of(key, group_name, id, &consumer, time, count, group.last_id)
}

fn xclaim_op_of(
    key: &[u8],
    group: &[u8],
    id: StreamId,
    consumer: &[u8],
    time: u64,
    count: u64,
    last_id: StreamId,
) -> Vec<Bytes> {
    argv(&[
        b"XCLAIM",
        key,
        group,
        consumer,
        b"0",
        &id.to_bytes(),
        b"TIME",
        time.to_string().as_bytes(),
        b"RETRYCOUNT",
        count.to_string().as_bytes(),
        b"FORCE",
        b"JUSTID",
        b"LASTID",
        &last_id.to_bytes(),
    ])
}

/// `streamPropagateGroupID`.
fn setid_op(key: &[u8], group_name: &[u8], group: &Group) -> Vec<Bytes> {
    argv(&[
        b"XGROUP",
        b"SETID",
        key,
        group_name,
        &group.last_id.to_bytes(),
        b"ENTRIESREAD",
        group.entries_read.to_string().as_bytes(),
    ])
}

fn xgroup_help(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        args[0],
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    ))
}

/// `xgroupCommand` for every subcommand but HELP.
fn xgroup(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = args[1];
    let create = is(sub, "CREATE");
    let setid = is(sub, "SETID");
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    let mut i = 5;
    while i < args.len() {
        if create && is(args[i], "MKSTREAM") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(args[i], "ENTRIESREAD") && i + 1 < args.len() {
            entries_read = int_arg(args[i + 1])?;
            if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                return Err(Reply::error(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            i += 2;
        } else {
            return Err(super::args::subcommand_syntax_error(args));
        }
    }
    let (key, name) = (args[2], args[3]);
    let now = ctx.now_ms();
    let mut db = ctx.db();
    let exists = match db.get(key) {
        Some(entry) => {
            checked::<Stream>(entry.value)?;
            true
        }
        None => false,
    };
    if !exists && !mkstream {
        return Err(Reply::error(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    }
    if exists {
        let has_group = db
            .peek(key)
            .and_then(|e| checked::<Stream>(e.value).ok())
            .is_some_and(|s| s.groups.contains_key(name));
        if !has_group && !create && !is(sub, "DESTROY") {
            return Err(no_such_group(key, name));
        }
    }
    if create && (5..=8).contains(&args.len()) {
        let id = match args[4] {
            b"$" => db
                .peek(key)
                .and_then(|e| checked::<Stream>(e.value).ok())
                .map_or(StreamId::MIN, |s| s.last_id),
            arg => parse_id(arg)?,
        };
        if !exists {
            db.set(key, Value::Stream(Box::default()), None);
        }
        let stream = group_stream(&mut db, key)?.ok_or_else(syntax_error)?;
        if stream.groups.contains_key(name) {
            db.unchanged(key);
            return Err(Reply::error("BUSYGROUP Consumer Group name already exists"));
        }
        stream
            .groups
            .insert(Bytes::copy_from_slice(name), Group::new(id, entries_read));
        db.notify(notify::STREAM, "xgroup-create", key);
        return Ok(Reply::OK);
    }
    let Some(stream) = group_stream(&mut db, key)? else {
        return Err(super::args::subcommand_syntax_error(args));
    };
    if setid && (args.len() == 5 || args.len() == 7) {
        let id = match args[4] {
            b"$" => stream.last_id,
            arg => match parse_id_full(arg, 0, false, false) {
                Ok((id, _)) => id,
                Err(e) => {
                    db.unchanged(key);
                    return Err(e);
                }
            },
        };
        if let Some(group) = stream.groups.get_mut(name) {
            group.last_id = id;
            group.entries_read = entries_read;
        }
        db.notify(notify::STREAM, "xgroup-setid", key);
        Ok(Reply::OK)
    } else if is(sub, "DESTROY") && args.len() == 4 {
        if stream.groups.remove(name).is_some() {
            db.notify(notify::STREAM, "xgroup-destroy", key);
            // XREADGROUP clients blocked on it are answered -NOGROUP.
            db.signal_ready(key);
            Ok(Reply::Integer(1))
        } else {
            db.unchanged(key);
            Ok(Reply::Integer(0))
        }
    } else if is(sub, "CREATECONSUMER") && args.len() == 5 {
        let created = ensure_consumer_new(stream, name, args[4], now);
        if created {
            db.notify(notify::STREAM, "xgroup-createconsumer", key);
        } else {
            db.unchanged(key);
        }
        Ok(Reply::Integer(created.into()))
    } else if is(sub, "DELCONSUMER") && args.len() == 5 {
        let removed = stream.groups.get_mut(name).and_then(|g| {
            let consumer = g.consumers.remove(args[4])?;
            for id in &consumer.pel {
                g.pel.remove(id);
            }
            Some(consumer.pel.len())
        });
        match removed {
            Some(pending) => {
                db.notify(notify::STREAM, "xgroup-delconsumer", key);
                Ok(Reply::Integer(pending as i64))
            }
            None => {
                db.unchanged(key);
                Ok(Reply::Integer(0))
            }
        }
    } else {
        db.unchanged(key);
        Err(super::args::subcommand_syntax_error(args))
    }
}

/// XGROUP CREATECONSUMER: creates the consumer unless it exists (no refresh).
fn ensure_consumer_new(stream: &mut Stream, group: &[u8], name: &[u8], now: u64) -> bool {
    let Some(g) = stream.groups.get_mut(group) else {
        return false;
    };
    if g.consumers.contains_key(name) {
        return false;
    }
    g.consumers.insert(
        Bytes::copy_from_slice(name),
        Consumer {
            seen_time: now,
            ..Consumer::default()
        },
    );
    true
}

fn xsetid(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let id = parse_id(args[2])?;
    let mut entries_added: i64 = -1;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(args[i], "ENTRIESADDED") && more > 0 {
            entries_added = int_arg(args[i + 1])?;
            if entries_added < 0 {
                return Err(Reply::error("ERR entries_added must be positive"));
            }
            i += 2;
        } else if is(args[i], "MAXDELETEDID") && more > 0 {
            max_deleted = parse_id(args[i + 1])?;
            if id < max_deleted {
                return Err(Reply::error(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(syntax_error());
        }
    }
    let key = args[1];
    let mut db = ctx.db();
    let stream =
        group_stream(&mut db, key)?.ok_or_else(|| Reply::error(super::args::ERR_NO_SUCH_KEY))?;
    if !stream.is_empty() {
        let top = stream.last_entry().map_or(StreamId::MIN, |e| e.id);
        let error = if id < top {
            Some("ERR The ID specified in XSETID is smaller than the target stream top item")
        } else if entries_added != -1 && stream.len() > entries_added as u64 {
            Some("ERR The entries_added specified in XSETID is smaller than the target stream length")
        } else {
            None
        };
        if let Some(error) = error {
            db.unchanged(key);
            return Err(Reply::error(error));
        }
    }
    stream.last_id = id;
    if entries_added != -1 {
        stream.entries_added = entries_added as u64;
    }
    if !max_deleted.is_zero() {
        stream.max_deleted_id = max_deleted;
    }
    db.notify(notify::STREAM, "xsetid", key);
    Ok(Reply::OK)
}

fn xack(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let server = ctx.server;
    let mut db = ctx.db();
    let has_group =
        read_stream(server, &mut db, key)?.is_some_and(|s| s.groups.contains_key(args[2]));
    if !has_group {
        return Ok(Reply::Integer(0));
    }
    let ids = args[3..]
        .iter()
        .map(|a| parse_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(group) = group_stream(&mut db, key)?.and_then(|s| s.groups.get_mut(args[2])) else {
        return Ok(Reply::Integer(0));
    };
    let acked = ids
        .into_iter()
        .filter(|&id| group.ack(id).is_some())
        .count();
    if acked == 0 {
        db.unchanged(key);
    }
    Ok(Reply::Integer(acked as i64))
}

fn xpending(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, name) = (args[1], args[2]);
    let summary = args.len() == 3;
    if !summary && !(6..=9).contains(&args.len()) {
        return Err(syntax_error());
    }
    let mut min_idle = 0i64;
    let mut range = (StreamId::MIN, StreamId::MAX, 0u64, None);
    if !summary {
        let mut at = 3;
        if is(args[3], "IDLE") {
            min_idle = int_arg(args[4])?;
            if args.len() < 8 {
                return Err(syntax_error());
            }
            at += 2;
        }
        let count = int_arg(args[at + 2])?.max(0) as u64;
        let start = parse_bound(args[at], 0, true)?;
        let end = parse_bound(args[at + 1], u64::MAX, false)?;
        range = (start, end, count, args.get(at + 3).copied());
    }
    let now = ctx.now_ms();
    let server = ctx.server;
    let mut db = ctx.db();
    let stream = read_stream(server, &mut db, key)?;
    let Some(group) = stream.and_then(|s| s.groups.get(name)) else {
        return Err(no_group_error(key, name, b""));
    };
    if summary {
        let (Some(first), Some(last)) = (group.pel.keys().next(), group.pel.keys().next_back())
        else {
            return Ok(Reply::Array(vec![
                Reply::Integer(0),
                Reply::Null,
                Reply::Null,
                Reply::NullArray,
            ]));
        };
        let consumers = group
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| {
                Reply::Array(vec![
                    Reply::Bulk(n.clone()),
                    Reply::bulk(c.pel.len().to_string()),
                ])
            })
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Integer(group.pel.len() as i64),
            id_reply(*first),
            id_reply(*last),
            Reply::Array(consumers),
        ]));
    }
    let (start, end, count, consumer) = range;
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(c) => match group.consumers.get(c) {
            Some(c) if start <= end => Box::new(c.pel.range(start..=end).copied()),
            Some(_) => Box::new(std::iter::empty()),
            None => return Ok(Reply::Array(Vec::new())),
        },
        None if start <= end => Box::new(group.pel.range(start..=end).map(|(id, _)| *id)),
        None => Box::new(std::iter::empty()),
    };
    let mut out = Vec::new();
    for id in ids {
        if out.len() as u64 >= count {
            break;
        }
        let Some(nack) = group.pel.get(&id) else {
            continue;
        };
        let idle = now as i64 - nack.delivery_time as i64;
        if min_idle != 0 && idle < min_idle {
            continue;
        }
        out.push(Reply::Array(vec![
            id_reply(id),
            Reply::Bulk(nack.consumer.clone()),
            Reply::Integer(idle.max(0)),
            Reply::Integer(nack.delivery_count as i64),
        ]));
    }
    Ok(Reply::Array(out))
}

/// Who XCLAIM or XAUTOCLAIM claims for: the consumer is looked up (or
/// created) at the first claim, as Redis does.
struct Claimant<'a> {
    key: &'a [u8],
    group: &'a [u8],
    consumer: &'a [u8],
    now: u64,
    justid: bool,
    looked_up: bool,
    created: bool,
}

impl<'a> Claimant<'a> {
    fn new(key: &'a [u8], group: &'a [u8], consumer: &'a [u8], now: u64, justid: bool) -> Self {
        Claimant {
            key,
            group,
            consumer,
            now,
            justid,
            looked_up: false,
            created: false,
        }
    }

    /// Claims pending entry `id`: moves it, sets its delivery time, counts
    /// the delivery unless told (RETRYCOUNT) or JUSTID. Returns the XCLAIM
    /// that propagates it.
    fn claim(
        &mut self,
        group: &mut Group,
        id: StreamId,
        time: u64,
        retry: Option<u64>,
    ) -> Vec<Bytes> {
        if !self.looked_up {
            self.created = claiming_consumer(group, self.consumer, self.now);
            self.looked_up = true;
        }
        group.assign(id, self.consumer);
        if let Some(nack) = group.pel.get_mut(&id) {
            nack.delivery_time = time;
            match retry {
                Some(n) => nack.delivery_count = n,
                None if !self.justid => nack.delivery_count += 1,
                None => {}
            }
        }
        xclaim_op(self.key, self.group, id, group)
    }
}

/// The consumer named `name`, created if needed (`streamLookupConsumer`
/// then `streamCreateConsumer`); whether it was created.
fn claiming_consumer(group: &mut Group, name: &[u8], now: u64) -> bool {
    match group.consumers.get_mut(name) {
        Some(c) => {
            c.seen_time = now;
            false
        }
        None => {
            let c = Consumer {
                seen_time: now,
                ..Consumer::default()
            };
            group.consumers.insert(Bytes::copy_from_slice(name), c);
            true
        }
    }
}

/// The end of XCLAIM and XAUTOCLAIM: the claims propagate as XCLAIMs (and
/// XGROUP SETID), never as the command itself; a claim of nothing leaves
/// the key unchanged.
fn finish_claims(ctx: &mut Ctx, key: &[u8], ops: Vec<Vec<Bytes>>, created: bool) {
    let mut db = ctx.db();
    if ops.is_empty() && !created {
        db.unchanged(key);
    }
    if created {
        db.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    ctx.prevent_propagation();
    for op in ops {
        ctx.also_propagate(|| op);
    }
}

fn xclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, name, consumer) = (args[1], args[2], args[3]);
    let server = ctx.server;
    let now = ctx.now_ms();
    let mut db = ctx.db();
    let has_group = read_stream(server, &mut db, key)?.is_some_and(|s| s.groups.contains_key(name));
    if !has_group {
        return Err(no_group_error(key, name, b""));
    }
    let min_idle = super::args::int_arg(args[4])
        .map_err(|_| Reply::error("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id(args[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut retry: Option<i64> = None;
    let mut time: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    let int =
        |arg: &[u8], what: &'static str| super::args::int_arg(arg).map_err(|_| Reply::error(what));
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args[j];
        if is(opt, "FORCE") {
            force = true;
        } else if is(opt, "JUSTID") {
            justid = true;
        } else if is(opt, "IDLE") && more > 0 {
            j += 1;
            let idle = int(args[j], "ERR Invalid IDLE option argument for XCLAIM")?;
            time = Some((now as i64).wrapping_sub(idle));
        } else if is(opt, "TIME") && more > 0 {
            j += 1;
            time = Some(int(args[j], "ERR Invalid TIME option argument for XCLAIM")?);
        } else if is(opt, "RETRYCOUNT") && more > 0 {
            j += 1;
            retry = Some(int(
                args[j],
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?);
        } else if is(opt, "LASTID") && more > 0 {
            j += 1;
            last_id = parse_id(args[j])?;
        } else {
            return Err(error_format(&[
                b"ERR Unrecognized XCLAIM option '",
                opt,
                b"'",
            ]));
        }
        j += 1;
    }
    let time = match time {
        Some(t) if t >= 0 && t <= now as i64 => t as u64,
        _ => now,
    };
    let retry = retry.filter(|&r| r >= 0).map(|r| r as u64);
    let Some(stream) = group_stream(&mut db, key)? else {
        return Err(no_group_error(key, name, b""));
    };
    let mut ops = Vec::new();
    let mut out = Vec::new();
    let mut propagate_last_id = false;
    if let Some(group) = stream.groups.get_mut(name) {
        if last_id > group.last_id {
            group.last_id = last_id;
            propagate_last_id = true;
        }
    }
    let mut claimant = Claimant::new(key, name, consumer, now, justid);
    for id in ids {
        let exists = stream.get(id).is_some();
        let reply = exists.then(|| match stream.get(id) {
            Some(e) if !justid => entry_reply(e),
            _ => id_reply(id),
        });
        let Some(group) = stream.groups.get_mut(name) else {
            break;
        };
        let Some(reply) = reply else {
            if let Some(nack) = group.pel.get(&id) {
                let op = xclaim_op_of(
                    key,
                    name,
                    id,
                    &nack.consumer,
                    nack.delivery_time,
                    nack.delivery_count,
                    group.last_id,
                );
                ops.push(op);
                propagate_last_id = false;
                group.ack(id);
            }
            continue;
        };
        let forced = force && !group.pel.contains_key(&id);
        if forced {
            group.pel.insert(
                id,
                Nack {
                    delivery_time: now,
                    delivery_count: 0,
                    consumer: Bytes::new(),
                },
            );
        }
        let Some(nack) = group.pel.get(&id) else {
            continue;
        };
        if !forced && min_idle != 0 && (now as i64 - nack.delivery_time as i64) < min_idle {
            continue;
        }
        ops.push(claimant.claim(group, id, time, retry));
        out.push(reply);
        propagate_last_id = false;
    }
    if propagate_last_id {
        if let Some(group) = stream.groups.get(name) {
            ops.push(setid_op(key, name, group));
        }
    }
    finish_claims(ctx, key, ops, claimant.created);
    Ok(Reply::Array(out))
}

fn xautoclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, name, consumer) = (args[1], args[2], args[3]);
    let min_idle = int_arg(args[4])
        .map_err(|_| Reply::error("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = parse_bound(args[5], 0, true)?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(args[j], "COUNT") && more > 0 {
            let max = i64::MAX / 16;
            count = match int_arg(args[j + 1]) {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => return Err(Reply::error("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if is(args[j], "JUSTID") {
            justid = true;
        } else {
            return Err(syntax_error());
        }
        j += 1;
    }
    let server = ctx.server;
    let now = ctx.now_ms();
    let mut db = ctx.db();
    let has_group = read_stream(server, &mut db, key)?.is_some_and(|s| s.groups.contains_key(name));
    if !has_group {
        return Err(no_group_error(key, name, b""));
    }
    // Redis allocates COUNT stream IDs up front and fails when it cannot.
    if count > (1 << 36) {
        return Err(Reply::error(
            "ERR Insufficient memory, failed allocating transient memory, COUNT too high.",
        ));
    }
    let Some(stream) = group_stream(&mut db, key)? else {
        return Err(no_group_error(key, name, b""));
    };
    let mut attempts = count.saturating_mul(10);
    let mut left = count;
    let mut ops = Vec::new();
    let mut out = Vec::new();
    let mut deleted = Vec::new();
    let mut claimant = Claimant::new(key, name, consumer, now, justid);
    let mut cursor = start;
    let mut next = None;
    while let Some(group) = stream.groups.get(name) {
        let Some((&id, nack)) = group.pel.range(cursor..).next() else {
            next = None;
            break;
        };
        if attempts == 0 || left == 0 {
            next = Some(id);
            break;
        }
        attempts -= 1;
        cursor = id.incr().unwrap_or(StreamId::MAX);
        let idle = now as i64 - nack.delivery_time as i64;
        let entry = stream
            .get(id)
            .map(|e| if justid { id_reply(id) } else { entry_reply(e) });
        let Some(group) = stream.groups.get_mut(name) else {
            break;
        };
        let Some(reply) = entry else {
            if let Some(nack) = group.pel.get(&id) {
                ops.push(xclaim_op_of(
                    key,
                    name,
                    id,
                    &nack.consumer,
                    nack.delivery_time,
                    nack.delivery_count,
                    group.last_id,
                ));
            }
            group.ack(id);
            deleted.push(id_reply(id));
            left -= 1;
            if id == StreamId::MAX {
                break;
            }
            continue;
        };
        if min_idle != 0 && idle < min_idle {
            if id == StreamId::MAX {
                break;
            }
            continue;
        }
        ops.push(claimant.claim(group, id, now, None));
        out.push(reply);
        left -= 1;
        if id == StreamId::MAX {
            break;
        }
    }
    finish_claims(ctx, key, ops, claimant.created);
    Ok(Reply::Array(vec![
        id_reply(next.unwrap_or(StreamId::MIN)),
        Reply::Array(out),
        Reply::Array(deleted),
    ]))
}

fn xinfo_help(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        args[0],
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    ))
}

fn bulk(s: &'static str) -> Reply {
    Reply::bulk(Bytes::from_static(s.as_bytes()))
}

fn lag_reply(stream: &Stream, group: &Group) -> Reply {
    stream.lag(group).map_or(Reply::Null, Reply::Integer)
}

fn entries_read_reply(group: &Group) -> Reply {
    if group.entries_read == INVALID_ENTRIES_READ {
        Reply::Null
    } else {
        Reply::Integer(group.entries_read)
    }
}

fn xinfo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = args[1];
    let key = args[2];
    let now = ctx.now_ms();
    let server = ctx.server;
    let mut db = ctx.db();
    let stream = read_stream(server, &mut db, key)?
        .ok_or_else(|| Reply::error(super::args::ERR_NO_SUCH_KEY))?;
    if is(sub, "CONSUMERS") && args.len() == 4 {
        let group = stream
            .groups
            .get(args[3])
            .ok_or_else(|| no_such_group(key, args[3]))?;
        let consumers = group
            .consumers
            .iter()
            .map(|(n, c)| {
                Reply::Map(vec![
                    (bulk("name"), Reply::Bulk(n.clone())),
                    (bulk("pending"), Reply::Integer(c.pel.len() as i64)),
                    (
                        bulk("idle"),
                        Reply::Integer((now as i64 - c.seen_time as i64).max(0)),
                    ),
                ])
            })
            .collect();
        Ok(Reply::Array(consumers))
    } else if is(sub, "GROUPS") && args.len() == 3 {
        let groups = stream
            .groups
            .iter()
            .map(|(n, g)| {
                Reply::Map(vec![
                    (bulk("name"), Reply::Bulk(n.clone())),
                    (bulk("consumers"), Reply::Integer(g.consumers.len() as i64)),
                    (bulk("pending"), Reply::Integer(g.pel.len() as i64)),
                    (bulk("last-delivered-id"), id_reply(g.last_id)),
                    (bulk("entries-read"), entries_read_reply(g)),
                    (bulk("lag"), lag_reply(stream, g)),
                ])
            })
            .collect();
        Ok(Reply::Array(groups))
    } else if is(sub, "STREAM") {
        xinfo_stream(stream, args)
    } else {
        Err(super::args::subcommand_syntax_error(args))
    }
}

/// A pending entry in XINFO STREAM FULL: its ID, its consumer (in the
/// group's list), last delivery time and delivery count.
fn pending_reply(id: StreamId, nack: Option<&Nack>, with_consumer: bool) -> Reply {
    let mut out = vec![id_reply(id)];
    if with_consumer {
        out.push(nack.map_or(Reply::Null, |n| Reply::Bulk(n.consumer.clone())));
    }
    out.push(Reply::Integer(nack.map_or(0, |n| n.delivery_time as i64)));
    out.push(Reply::Integer(nack.map_or(0, |n| n.delivery_count as i64)));
    Reply::Array(out)
}

/// `xinfoReplyWithStreamInfo`.
fn xinfo_stream(stream: &Stream, args: &[&[u8]]) -> CmdResult {
    let opts = &args[3..];
    let mut count: i64 = 10;
    let full = !opts.is_empty();
    if full {
        if (opts.len() != 1 && opts.len() != 3) || !is(opts[0], "FULL") {
            return Err(super::args::subcommand_syntax_error(args));
        }
        if opts.len() == 3 {
            if !is(opts[1], "COUNT") {
                return Err(super::args::subcommand_syntax_error(args));
            }
            count = int_arg(opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let count = count as u64;
    let mut map = vec![
        (bulk("length"), Reply::Integer(stream.len() as i64)),
        (
            bulk("radix-tree-keys"),
            Reply::Integer(stream.node_count() as i64),
        ),
        (
            bulk("radix-tree-nodes"),
            Reply::Integer(stream.rax_nodes() as i64),
        ),
        (bulk("last-generated-id"), id_reply(stream.last_id)),
        (
            bulk("max-deleted-entry-id"),
            id_reply(stream.max_deleted_id),
        ),
        (
            bulk("entries-added"),
            Reply::Integer(stream.entries_added as i64),
        ),
        (bulk("recorded-first-entry-id"), id_reply(stream.first_id)),
    ];
    if !full {
        map.push((bulk("groups"), Reply::Integer(stream.groups.len() as i64)));
        map.push((
            bulk("first-entry"),
            stream.first_entry().map_or(Reply::Null, entry_reply),
        ));
        map.push((
            bulk("last-entry"),
            stream.last_entry().map_or(Reply::Null, entry_reply),
        ));
        return Ok(Reply::Map(map));
    }
    let limit = take_count(count);
    let entries = stream
        .range(StreamId::MIN, StreamId::MAX, false)
        .take(limit)
        .map(entry_reply)
        .collect();
    map.push((bulk("entries"), Reply::Array(entries)));
    let groups = stream
        .groups
        .iter()
        .map(|(n, g)| {
            let pending = g
                .pel
                .iter()
                .take(limit)
                .map(|(id, nack)| pending_reply(*id, Some(nack), true))
                .collect();
            let consumers = g
                .consumers
                .iter()
                .map(|(cn, c)| {
                    let pel = c
                        .pel
                        .iter()
                        .take(limit)
                        .map(|id| pending_reply(*id, g.pel.get(id), false))
                        .collect();
                    Reply::Map(vec![
                        (bulk("name"), Reply::Bulk(cn.clone())),
                        (bulk("seen-time"), Reply::Integer(c.seen_time as i64)),
                        (bulk("pel-count"), Reply::Integer(c.pel.len() as i64)),
                        (bulk("pending"), Reply::Array(pel)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                (bulk("name"), Reply::Bulk(n.clone())),
                (bulk("last-delivered-id"), id_reply(g.last_id)),
                (bulk("entries-read"), entries_read_reply(g)),
                (bulk("lag"), lag_reply(stream, g)),
                (bulk("pel-count"), Reply::Integer(g.pel.len() as i64)),
                (bulk("pending"), Reply::Array(pending)),
                (bulk("consumers"), Reply::Array(consumers)),
            ])
        })
        .collect();
    map.push((bulk("groups"), Reply::Array(groups)));
    Ok(Reply::Map(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_redis() {
        assert_eq!(parse_id(b"5").ok(), Some(StreamId::new(5, 0)));
        assert_eq!(parse_id(b"5-3").ok(), Some(StreamId::new(5, 3)));
        assert_eq!(parse_id(b"+5-3").ok(), Some(StreamId::new(5, 3)));
        assert!(parse_id(b"-5").is_err());
        assert!(parse_id(b"-").is_err());
        assert!(parse_id(b"5-").is_err());
        assert!(parse_id(b"a").is_err());
        assert_eq!(
            parse_id(b"18446744073709551615-18446744073709551615").ok(),
            Some(StreamId::MAX)
        );
        assert!(parse_id(b"18446744073709551616").is_err());
        assert_eq!(
            parse_id_full(b"7-*", 0, true, true).ok(),
            Some((StreamId::new(7, 0), false))
        );
        assert_eq!(
            parse_bound(b"(5-0", 0, true).ok(),
            Some(StreamId::new(5, 1))
        );
        assert!(parse_bound(b"(0-0", 0, false).is_err());
    }
}
