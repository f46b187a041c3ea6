//! Blocking pops (Redis 7.0's `blockingPopGenericCommand`, `blmoveGenericCommand`,
//! `blmpopGenericCommand`, `blockingGenericZpopCommand`).
//!
//! Each runs its non-blocking twin's handler first (list.rs and zset.rs
//! helpers). When that finds nothing, the client is queued on its keys
//! ([`crate::blocking`]) and its connection waits; on a wake-up the
//! connection runs the same request again, which either pops or queues
//! nothing new (the client keeps its place). Inside MULTI/EXEC the command
//! never blocks (Redis's `CLIENT_DENY_BLOCKING`) and answers as when empty.

use std::time::Duration;

use tokio::time::Instant;

use super::list::{end_arg, lmove_generic, mpop, mpop_args};
use super::zset::{pop_generic, zmpop_args, PopShape};
use super::{argv, cmd, CmdResult, Ctx, Registration};
use crate::keyspace::Value;
use crate::number::parse_f64;
use crate::protocol::Reply;
use crate::types::list::End;

pub static COMMANDS: &[Registration] = &[
    cmd("blpop", blpop),
    cmd("brpop", brpop),
    cmd("blmove", blmove),
    cmd("brpoplpush", brpoplpush),
    cmd("blmpop", blmpop),
    cmd("bzpopmin", bzpopmin),
    cmd("bzpopmax", bzpopmax),
    cmd("bzmpop", bzmpop),
];

/// Redis 7.0's `getTimeoutFromObjectOrReply` in seconds: a long double
/// times 1000, cast to whole milliseconds with C's truncation (so anything
/// under 1 ms, even -0.0001, is 0: forever). The cast of a value beyond the
/// 64-bit range gives x86's `LLONG_MIN`, so `inf` and 1e17 are "negative".
/// 7.0 has no "timeout is out of range" check (7.2 added it). None waits
/// forever, as does a deadline the clock cannot hold.
fn timeout_arg(arg: &[u8]) -> Result<Option<Instant>, Reply> {
    let secs = parse_f64(arg).ok_or(Reply::error("ERR timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    let ms = if (-(i64::MAX as f64)..i64::MAX as f64).contains(&ms) {
        ms.trunc() as i64
    } else {
        i64::MIN
    };
    if ms < 0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    Ok((ms > 0)
        .then(|| Instant::now().checked_add(Duration::from_millis(ms.unsigned_abs())))
        .flatten())
}

/// Nothing to pop: inside MULTI/EXEC answer `empty` at once, otherwise queue
/// the client on `keys` until `deadline` (its connection does the waiting;
/// the reply returned here is never sent).
pub(super) fn block(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    deadline: Option<Instant>,
    empty: Reply,
) -> CmdResult {
    if ctx.client.deny_blocking() {
        return Ok(empty);
    }
    let client = &mut *ctx.client;
    ctx.server.keyspace.blocking.wait(
        client.id,
        client.handle.block_signal(),
        &mut client.block,
        client.db,
        keys,
        deadline,
    );
    Ok(Reply::NullArray)
}

/// BLPOP/BRPOP: the first non-empty list among the keys, as [key, element].
fn bpop(ctx: &mut Ctx, args: &[&[u8]], end: End) -> CmdResult {
    let (timeout, keys) = args[1..]
        .split_last()
        .ok_or_else(super::args::syntax_error)?;
    let deadline = timeout_arg(timeout)?;
    match mpop(ctx, keys, end, 1, false)? {
        Reply::Array(mut pair) if pair.len() == 2 => {
            if let Some(Reply::Array(mut values)) = pair.pop() {
                pair.extend(values.pop());
            }
            Ok(Reply::Array(pair))
        }
        _ => block(ctx, keys, deadline, Reply::NullArray),
    }
}

fn blpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bpop(ctx, args, End::Head)
}

fn brpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bpop(ctx, args, End::Tail)
}

/// BLMOVE/BRPOPLPUSH: an empty source inside MULTI answers a null bulk, as
/// LMOVE would; a timeout answers a null array. A woken client whose source
/// now holds a list but whose destination holds another type gets the
/// WRONGTYPE error and stops waiting, as Redis serves it (a source of another
/// type keeps it waiting, as for every blocking pop).
fn bmove(
    ctx: &mut Ctx,
    args: &[&[u8]],
    from: End,
    to: End,
    deadline: Option<Instant>,
) -> CmdResult {
    match lmove_generic(ctx, args[1], args[2], from, to) {
        Ok(Reply::Null) => block(ctx, &args[1..2], deadline, Reply::Null),
        Ok(moved) => {
            // As the LMOVE/RPOPLPUSH it did; a client served after waiting
            // names the ends as Redis's `serveClientBlockedOnList` does.
            let served = ctx.client.block.is_queued();
            ctx.propagate_as(|| match args {
                [_, src, dst, _] => argv(&[b"RPOPLPUSH", src, dst]),
                _ if served => argv(&[b"LMOVE", args[1], args[2], end_name(from), end_name(to)]),
                _ => argv(&[b"LMOVE", args[1], args[2], args[3], args[4]]),
            });
            Ok(moved)
        }
        Err(e) if ctx.client.block.is_queued() && source_is_list(ctx, args[1]) => {
            ctx.client.block.end_with_error();
            Err(e)
        }
        failed => failed,
    }
}

/// An end as Redis's shared `left`/`right` objects spell it.
fn end_name(end: End) -> &'static [u8] {
    match end {
        End::Head => b"left",
        End::Tail => b"right",
    }
}

/// Whether `key` holds a list (so a failed move failed on its destination).
fn source_is_list(ctx: &mut Ctx, key: &[u8]) -> bool {
    matches!(ctx.db().peek(key).map(|e| e.value), Some(Value::List(_)))
}

/// Redis `blmoveCommand`: both directions are checked before the timeout.
fn blmove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let from = end_arg(args[3])?;
    let to = end_arg(args[4])?;
    let deadline = timeout_arg(args[5])?;
    bmove(ctx, args, from, to, deadline)
}

fn brpoplpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let deadline = timeout_arg(args[3])?;
    bmove(ctx, args, End::Tail, End::Head, deadline)
}

/// Redis `blmpopCommand`: timeout first, then LMPOP's arguments.
fn blmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let deadline = timeout_arg(args[1])?;
    let (keys, end, count) = mpop_args(args, 2)?;
    match mpop(ctx, keys, end, count, true)? {
        Reply::NullArray => block(ctx, keys, deadline, Reply::NullArray),
        popped => Ok(popped),
    }
}

/// BZPOPMIN/BZPOPMAX: key, member, score from the first non-empty sorted set.
fn bzpop(ctx: &mut Ctx, args: &[&[u8]], max: bool) -> CmdResult {
    let (timeout, keys) = args[1..]
        .split_last()
        .ok_or_else(super::args::syntax_error)?;
    let deadline = timeout_arg(timeout)?;
    match pop_generic(ctx, keys, max, None, PopShape::KeyedFlat)? {
        Reply::NullArray => block(ctx, keys, deadline, Reply::NullArray),
        popped => Ok(popped),
    }
}

fn bzpopmin(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bzpop(ctx, args, false)
}

fn bzpopmax(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bzpop(ctx, args, true)
}

/// Redis `bzmpopCommand`: timeout first, then ZMPOP's arguments.
fn bzmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let deadline = timeout_arg(args[1])?;
    let (keys, max, count) = zmpop_args(args, 2)?;
    match pop_generic(ctx, keys, max, count, PopShape::Keyed)? {
        Reply::NullArray => block(ctx, keys, deadline, Reply::NullArray),
        popped => Ok(popped),
    }
}
