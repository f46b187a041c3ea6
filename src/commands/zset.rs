//! Sorted set commands (Redis 7.0's t_zset.c).
//!
//! Each handler follows its Redis counterpart step by step, because the order
//! of checks is visible: arguments that are parsed before the key is looked
//! up report their errors even on a missing key, WRONGTYPE wins over the
//! options parsed after the lookup, and so on.

use std::borrow::Cow;
use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::Rng;
use smallvec::SmallVec;

use super::args::{
    checked, checked_mut, cursor_arg, float_arg, index_range, int_arg, int_in_range, is,
    mpop_count, positive_arg, syntax_error, wrong_type,
};
use super::{argv, cmd, CmdResult, Ctx, Registration};
use crate::config::notify;
use crate::glob::glob_match;
use crate::keyspace::{DbView, Value};
use crate::number::{format_double, format_i64, parse_f64};
use crate::protocol::{Reply, Resp};
use crate::server::Server;
use crate::types::set::{Member, Set};
use crate::types::zset::{AddFlags, AddOutcome, LexRange, Limits, Range, ScoreRange, ZSet};

pub static COMMANDS: &[Registration] = &[
    cmd("zadd", zadd),
    cmd("zcard", zcard),
    cmd("zcount", zcount),
    cmd("zdiff", zdiff),
    cmd("zdiffstore", zdiffstore),
    cmd("zincrby", zincrby),
    cmd("zinter", zinter),
    cmd("zintercard", zintercard),
    cmd("zinterstore", zinterstore),
    cmd("zlexcount", zlexcount),
    cmd("zmpop", zmpop),
    cmd("zmscore", zmscore),
    cmd("zpopmax", zpopmax),
    cmd("zpopmin", zpopmin),
    cmd("zrandmember", zrandmember),
    cmd("zrange", zrange),
    cmd("zrangebylex", zrangebylex),
    cmd("zrangebyscore", zrangebyscore),
    cmd("zrangestore", zrangestore),
    cmd("zrank", zrank),
    cmd("zrem", zrem),
    cmd("zremrangebylex", zremrangebylex),
    cmd("zremrangebyrank", zremrangebyrank),
    cmd("zremrangebyscore", zremrangebyscore),
    cmd("zrevrange", zrevrange),
    cmd("zrevrangebylex", zrevrangebylex),
    cmd("zrevrangebyscore", zrevrangebyscore),
    cmd("zrevrank", zrevrank),
    cmd("zscan", zscan),
    cmd("zscore", zscore),
    cmd("zunion", zunion),
    cmd("zunionstore", zunionstore),
];

const ERR_NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const ERR_NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
const ERR_NAN_RESULT: &str = "ERR resulting score is not a number (NaN)";
const ERR_OUT_OF_RANGE: &str = "ERR value is out of range";

/// How many random elements one ZRANDMEMBER with a negative count may
/// return. Redis streams any number (up to 2^63); reddish builds a reply in
/// memory, so it refuses more than this with Redis's "out of range" error
/// rather than allocating without bound.
const RANDOM_REPLY_LIMIT: u64 = 1 << 24;

/// The conversion thresholds, read from the config on each use (CONFIG SET applies at once).
pub(super) fn limits(server: &Server) -> Limits {
    let c = &server.config;
    Limits {
        max_entries: usize::try_from(c.zset_max_listpack_entries()).unwrap_or(usize::MAX),
        max_value: usize::try_from(c.zset_max_listpack_value()).unwrap_or(usize::MAX),
    }
}

/// Redis `lookupKeyRead` + `checkType`: counts a keyspace hit or miss; a
/// miss is a `keymiss` event.
pub(super) fn read<'d>(
    server: &Server,
    db: &'d mut DbView<'_, '_>,
    key: &[u8],
) -> Result<Option<&'d ZSet>, Reply> {
    let found = db.get_read(key);
    server.stats.lookup(found.is_some());
    found.map(|e| checked::<ZSet>(e.value)).transpose()
}

/// Members (and scores) as Redis's range replies list them: with scores, a
/// flat member, score, ... array in RESP2 and [member, score] pairs in RESP3.
fn elements_reply<'a>(
    items: impl IntoIterator<Item = (&'a [u8], f64)>,
    withscores: bool,
    resp: Resp,
) -> Reply {
    let mut out = Vec::new();
    for (member, score) in items {
        let member = Reply::bulk_copy(member);
        match (withscores, resp) {
            (false, _) => out.push(member),
            (true, Resp::V2) => out.extend([member, Reply::Double(score)]),
            (true, Resp::V3) => out.push(Reply::Array(vec![member, Reply::Double(score)])),
        }
    }
    Reply::Array(out)
}

// ---- ZADD / ZINCRBY / ZREM ----

fn zadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, args, AddFlags::default())
}

fn zincrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zadd_generic(
        ctx,
        args,
        AddFlags {
            incr: true,
            ..AddFlags::default()
        },
    )
}

/// What a ZADD did to its elements (Redis's added / updated / processed counters).
#[derive(Default)]
struct AddTally {
    added: i64,
    updated: i64,
    processed: i64,
    score: f64,
}

/// Redis `zaddGenericCommand`: options, then every score is parsed before
/// the key is touched (all or nothing), then each pair goes through `zsetAdd`.
pub(super) fn zadd_generic(ctx: &mut Ctx, args: &[&[u8]], mut flags: AddFlags) -> CmdResult {
    let mut ch = false;
    let mut idx = 2;
    while let Some(opt) = args.get(idx) {
        // The option as Redis's `strcasecmp` sees it, cut once, not per word.
        let opt = super::table::c_string(opt, usize::MAX);
        let is = |word: &str| opt.eq_ignore_ascii_case(word.as_bytes());
        if is("nx") {
            flags.nx = true;
        } else if is("xx") {
            flags.xx = true;
        } else if is("ch") {
            ch = true;
        } else if is("incr") {
            flags.incr = true;
        } else if is("gt") {
            flags.gt = true;
        } else if is("lt") {
            flags.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let pairs = &args[idx..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(syntax_error());
    }
    if flags.nx && flags.xx {
        return Err(Reply::error(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(Reply::error(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && pairs.len() > 2 {
        return Err(Reply::error(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    // Inline for the usual one or two pairs: no allocation per ZADD.
    let mut scores = SmallVec::<[f64; 2]>::new();
    for pair in pairs.chunks(2) {
        scores.push(float_arg(pair[0])?);
    }
    let limits = limits(ctx.server);
    let mut db = ctx.db();
    let key = &args[1];
    let mut tally = AddTally::default();
    // ZADD and ZINCRBY share `zaddGenericCommand` and its event.
    let event = if flags.incr { "zincr" } else { "zadd" };
    let result = match db.get_mut(key) {
        Some(value) => add_pairs(
            checked_mut::<ZSet>(value)?,
            pairs,
            &scores,
            flags,
            limits,
            &mut tally,
        ),
        None if flags.xx => Ok(()),
        None => {
            let mut z = ZSet::with_hints(limits, 1, pairs[1].len());
            let result = add_pairs(&mut z, pairs, &scores, flags, limits, &mut tally);
            if !z.is_empty() {
                db.set(key, Value::ZSet(z), None);
            }
            result
        }
    };
    // Redis notifies at `cleanup`, reached by a NaN error too, and only when
    // a member was added or its score changed: a ZINCRBY of 0, or a ZADD
    // that NX, XX, GT or LT held back, is no change (not even for WATCH).
    if tally.added + tally.updated > 0 {
        db.notify(notify::ZSET, event, key);
    } else {
        db.unchanged(key);
    }
    result?;
    Ok(if flags.incr {
        if tally.processed > 0 {
            Reply::Double(tally.score)
        } else {
            Reply::Null
        }
    } else if ch {
        Reply::from(tally.added + tally.updated)
    } else {
        Reply::from(tally.added)
    })
}

fn add_pairs(
    z: &mut ZSet,
    pairs: &[&[u8]],
    scores: &[f64],
    flags: AddFlags,
    limits: Limits,
    tally: &mut AddTally,
) -> Result<(), Reply> {
    for (pair, &score) in pairs.chunks(2).zip(scores) {
        let outcome = z
            .add(score, pair[1], flags, limits)
            .map_err(|_| Reply::error(ERR_NAN_RESULT))?;
        match outcome {
            AddOutcome::Added(s) => {
                tally.added += 1;
                tally.processed += 1;
                tally.score = s;
            }
            AddOutcome::Updated(s) => {
                tally.updated += 1;
                tally.processed += 1;
                tally.score = s;
            }
            AddOutcome::Unchanged(s) => {
                tally.processed += 1;
                tally.score = s;
            }
            AddOutcome::Skipped => {}
        }
    }
    Ok(())
}

/// Redis `zremCommand`: stops (and deletes the key) as soon as the set is empty.
fn zrem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let Some(value) = db.get_mut(args[1]) else {
        return Ok(Reply::from(0i64));
    };
    let z = checked_mut::<ZSet>(value)?;
    let mut deleted = 0i64;
    for member in &args[2..] {
        deleted += i64::from(z.remove(member));
        if z.is_empty() {
            break;
        }
    }
    let emptied = z.is_empty();
    removed(&mut db, args[1], "zrem", deleted > 0, emptied);
    Ok(Reply::from(deleted))
}

/// What follows a removal in t_zset.c: when something was removed, the
/// command's `event`, then, if that emptied the set, its deletion with a
/// `del` event; when nothing was, no event and no change for WATCH.
fn removed(db: &mut DbView, key: &[u8], event: &'static str, any: bool, emptied: bool) {
    if !any {
        db.unchanged(key);
        return;
    }
    db.notify(notify::ZSET, event, key);
    if emptied {
        db.delete(key);
    }
}

// ---- single-key reads ----

fn zcard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    let mut db = ctx.db();
    Ok(Reply::from(
        read(server, &mut db, args[1])?.map_or(0, |z| z.len()),
    ))
}

fn zscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    let mut db = ctx.db();
    Ok(read(server, &mut db, args[1])?
        .and_then(|z| z.score(args[2]))
        .map_or(Reply::Null, Reply::Double))
}

/// Redis `zmscoreCommand`: a missing key reads as an empty set.
fn zmscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    let mut db = ctx.db();
    let z = read(server, &mut db, args[1])?;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|m| {
                z.and_then(|z| z.score(m))
                    .map_or(Reply::Null, Reply::Double)
            })
            .collect(),
    ))
}

fn zrank(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, args, true)
}

fn rank_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) -> CmdResult {
    let server = ctx.server;
    let mut db = ctx.db();
    let Some(z) = read(server, &mut db, args[1])? else {
        return Ok(Reply::Null);
    };
    Ok(match z.rank(args[2]) {
        Some(r) if rev => Reply::from(z.len() - 1 - r),
        Some(r) => Reply::from(r),
        None => Reply::Null,
    })
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
    ScoreRange::parse(min, max).ok_or_else(|| Reply::error(ERR_NOT_FLOAT_RANGE))
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, Reply> {
    LexRange::parse(min, max).ok_or_else(|| Reply::error(ERR_NOT_LEX_RANGE))
}

fn zcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let range = parse_score_range(args[2], args[3])?;
    count_generic(ctx, args[1], &range)
}

fn zlexcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let range = parse_lex_range(args[2], args[3])?;
    count_generic(ctx, args[1], &range)
}

fn count_generic(ctx: &mut Ctx, key: &[u8], range: &impl Range) -> CmdResult {
    let server = ctx.server;
    let mut db = ctx.db();
    Ok(Reply::from(
        read(server, &mut db, key)?.map_or(0, |z| z.count_in_range(range)),
    ))
}

// ---- ZRANGE and friends ----

/// Redis `zrange_type`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Redis `zrange_direction`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// A parsed ZRANGE request.
enum Selection {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

fn zrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 1, None, By::Auto, Direction::Auto)
}

fn zrangestore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 2, Some(args[1]), By::Auto, Direction::Auto)
}

fn zrevrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 1, None, By::Rank, Direction::Reverse)
}

fn zrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 1, None, By::Score, Direction::Forward)
}

fn zrevrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 1, None, By::Score, Direction::Reverse)
}

fn zrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 1, None, By::Lex, Direction::Forward)
}

fn zrevrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 1, None, By::Lex, Direction::Reverse)
}

/// Redis `zrangeGenericCommand`: ZRANGE, ZRANGESTORE and the older
/// Z[REV]RANGE[BYSCORE|BYLEX], which fix the range type and direction.
fn zrange_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    src: usize,
    dst: Option<&[u8]>,
    mut by: By,
    mut direction: Direction,
) -> CmdResult {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = src + 3;
    while let Some(opt) = args.get(j) {
        let left = args.len() - j - 1;
        if dst.is_none() && is(opt, "withscores") {
            withscores = true;
        } else if is(opt, "limit") && left >= 2 {
            offset = int_arg(args[j + 1])?;
            limit = int_arg(args[j + 2])?;
            j += 2;
        } else if direction == Direction::Auto && is(opt, "rev") {
            direction = Direction::Reverse;
        } else if by == By::Auto && is(opt, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && is(opt, "byscore") {
            by = By::Score;
        } else {
            return Err(syntax_error());
        }
        j += 1;
    }
    let rev = direction == Direction::Reverse;
    if by == By::Auto {
        by = By::Rank;
    }
    // Redis tests `limit != -1`, so `LIMIT 0 -1` passes with a rank range.
    if limit != -1 && by == By::Rank {
        return Err(Reply::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(Reply::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min, mut max) = (&args[src + 1], &args[src + 2]);
    if rev && by != By::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let selection = match by {
        By::Score => Selection::Score(parse_score_range(min, max)?),
        By::Lex => Selection::Lex(parse_lex_range(min, max)?),
        _ => Selection::Rank(int_arg(min)?, int_arg(max)?),
    };
    let server = ctx.server;
    let resp = ctx.client.resp;
    let limits = limits(server);
    let mut db = ctx.db();
    let (dst, stored) = {
        let z = read(server, &mut db, args[src])?;
        let items = z.map_or_else(Vec::new, |z| select(z, &selection, rev, offset, limit));
        let Some(dst) = dst else {
            return Ok(elements_reply(items, withscores, resp));
        };
        // zrangeResultBeginStore / EmitCBufferForStore: a set sized by the
        // range length when known (rank ranges), filled with zsetAdd.
        let hint = match selection {
            Selection::Rank(..) => items.len(),
            _ => 0,
        };
        let mut out = ZSet::with_hints(limits, hint, 0);
        for (member, score) in items {
            // Scores come from a set, so never NaN.
            let _ = out.add(score, member, AddFlags::default(), limits);
        }
        (dst, out)
    };
    store_result(&mut db, dst, stored, "zrangestore")
}

/// Stores a computed set at `dst` (Redis `setKey`, dropping any TTL) with
/// the command's `event`, and answers its size; an empty result deletes
/// `dst` (a `del` event only if there was one) and answers 0.
fn store_result(db: &mut DbView, dst: &[u8], result: ZSet, event: &'static str) -> CmdResult {
    let len = result.len();
    if len > 0 {
        db.set(dst, Value::ZSet(result), None);
        db.notify(notify::ZSET, event, dst);
    } else {
        db.delete(dst);
    }
    Ok(Reply::from(len))
}

/// The elements a ZRANGE selects, in reply order.
fn select<'z>(
    z: &'z ZSet,
    selection: &Selection,
    rev: bool,
    offset: i64,
    limit: i64,
) -> Vec<(&'z [u8], f64)> {
    match selection {
        Selection::Rank(start, end) => match index_range(z.len(), *start, *end) {
            Some((start, count)) => {
                let first = if rev { z.len() - 1 - start } else { start };
                z.iter_from(first, rev).take(count).collect()
            }
            None => Vec::new(),
        },
        Selection::Score(range) => select_range(z, range, rev, offset, limit),
        Selection::Lex(range) => select_range(z, range, rev, offset, limit),
    }
}

/// Redis `genericZrangebyscoreCommand` / `genericZrangebylexCommand`: from
/// the first (last, reversed) element in range, skip `offset` elements
/// without looking at them, then take up to `limit` (negative: all) while in
/// range. A negative offset walks off the end, so nothing is returned.
fn select_range<'z>(
    z: &'z ZSet,
    range: &impl Range,
    rev: bool,
    offset: i64,
    limit: i64,
) -> Vec<(&'z [u8], f64)> {
    let start = if rev {
        z.last_in_range(range)
    } else {
        z.first_in_range(range)
    };
    let (Some(start), Ok(offset)) = (start, usize::try_from(offset)) else {
        return Vec::new();
    };
    let begin = if rev {
        start.checked_sub(offset)
    } else {
        start.checked_add(offset).filter(|&b| b < z.len())
    };
    let Some(begin) = begin else {
        return Vec::new();
    };
    z.iter_from(begin, rev)
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .take_while(|&(m, s)| {
            if rev {
                range.gte_min(m, s)
            } else {
                range.lte_max(m, s)
            }
        })
        .collect()
}

// ---- ZREMRANGEBY* ----

fn zremrangebyrank(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let selection = Selection::Rank(int_arg(args[2])?, int_arg(args[3])?);
    zremrange_generic(ctx, args[1], selection)
}

fn zremrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let selection = Selection::Score(parse_score_range(args[2], args[3])?);
    zremrange_generic(ctx, args[1], selection)
}

fn zremrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let selection = Selection::Lex(parse_lex_range(args[2], args[3])?);
    zremrange_generic(ctx, args[1], selection)
}

/// Redis `zremrangeGenericCommand`: the range is parsed before the lookup.
fn zremrange_generic(ctx: &mut Ctx, key: &[u8], selection: Selection) -> CmdResult {
    let mut db = ctx.db();
    let Some(value) = db.get_mut(key) else {
        return Ok(Reply::from(0i64));
    };
    let z = checked_mut::<ZSet>(value)?;
    let (deleted, event) = match &selection {
        Selection::Rank(start, end) => (
            index_range(z.len(), *start, *end)
                .map_or(0, |(start, count)| z.remove_ranks(start, count)),
            "zremrangebyrank",
        ),
        Selection::Score(range) => (z.remove_in_range(range), "zremrangebyscore"),
        Selection::Lex(range) => (z.remove_in_range(range), "zremrangebylex"),
    };
    let emptied = z.is_empty();
    removed(&mut db, key, event, deleted > 0, emptied);
    Ok(Reply::from(deleted))
}

// ---- ZPOPMIN / ZPOPMAX / ZMPOP ----

fn zpopmin(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zpop_generic(ctx, args, false)
}

fn zpopmax(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    zpop_generic(ctx, args, true)
}

/// Redis `zpopMinMaxCommand`: with a COUNT, RESP3 gets [member, score] pairs.
fn zpop_generic(ctx: &mut Ctx, args: &[&[u8]], max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(syntax_error());
    }
    let count = args.get(2).map(|c| positive_arg(c, None)).transpose()?;
    let shape = if ctx.client.resp == Resp::V3 && count.is_some() {
        PopShape::Pairs
    } else {
        PopShape::Flat
    };
    pop_generic(ctx, &args[1..2], max, count, shape)
}

/// How `genericZpopCommand` lays out what it popped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum PopShape {
    /// member, score, member, score, ...
    Flat,
    /// [member, score], ...
    Pairs,
    /// [key, [[member, score], ...]], or a null array when nothing is popped (ZMPOP).
    Keyed,
    /// key, member, score, or a null array when nothing is popped (BZPOPMIN/MAX).
    KeyedFlat,
}

/// Redis `genericZpopCommand`: pops from the first of `keys` that exists.
/// ZMPOP and the blocking pops propagate as the ZPOPMIN/ZPOPMAX they did.
pub(super) fn pop_generic(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    max: bool,
    count: Option<i64>,
    shape: PopShape,
) -> CmdResult {
    let empty = || {
        Ok(if matches!(shape, PopShape::Keyed | PopShape::KeyedFlat) {
            Reply::NullArray
        } else {
            Reply::Array(Vec::new())
        })
    };
    let mut db = ctx.db();
    let Some(key) = keys.iter().find(|k| db.contains(k)) else {
        return empty();
    };
    let Some(value) = db.get_mut(key) else {
        return empty();
    };
    let z = checked_mut::<ZSet>(value)?;
    if count == Some(0) {
        db.unchanged(key);
        return Ok(Reply::Array(Vec::new()));
    }
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    let popped: Vec<(Vec<u8>, f64)> = (0..count.min(z.len())).filter_map(|_| z.pop(max)).collect();
    let emptied = z.is_empty();
    let event = if max { "zpopmax" } else { "zpopmin" };
    removed(&mut db, key, event, !popped.is_empty(), emptied);
    let verb: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    match shape {
        PopShape::Keyed => {
            let n = popped.len().to_string();
            ctx.propagate_as(|| argv(&[verb, key, n.as_bytes()]));
        }
        PopShape::KeyedFlat => ctx.propagate_as(|| argv(&[verb, key])),
        PopShape::Flat | PopShape::Pairs => {}
    }
    let items = popped.iter().map(|(m, s)| (m.as_slice(), *s));
    Ok(match shape {
        PopShape::Flat => elements_reply(items, true, Resp::V2),
        PopShape::Pairs => elements_reply(items, true, Resp::V3),
        PopShape::Keyed => Reply::Array(vec![
            Reply::bulk_copy(key),
            elements_reply(items, true, Resp::V3),
        ]),
        PopShape::KeyedFlat => {
            let mut out = vec![Reply::bulk_copy(key)];
            if let Reply::Array(flat) = elements_reply(items, true, Resp::V2) {
                out.extend(flat);
            }
            Reply::Array(out)
        }
    })
}

/// Redis `zmpopGenericCommand` (non-blocking): numkeys, keys, MIN|MAX, [COUNT n].
fn zmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (keys, max, count) = zmpop_args(args, 1)?;
    pop_generic(ctx, keys, max, count, PopShape::Keyed)
}

/// ZMPOP's keys, whether it pops the maximum, and its count.
type ZmpopArgs<'a> = (&'a [&'a [u8]], bool, Option<i64>);

/// `zmpopGenericCommand`'s parsing of `numkeys key... MIN|MAX [COUNT n]`
/// with numkeys at `args[at]` (ZMPOP and BZMPOP): the keys, MAX, the count.
pub(super) fn zmpop_args<'a>(args: &'a [&'a [u8]], at: usize) -> Result<ZmpopArgs<'a>, Reply> {
    let numkeys = int_in_range(
        args[at],
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    )?;
    let where_idx = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(at + 1))
        .filter(|&w| w < args.len())
        .ok_or_else(syntax_error)?;
    let max = if is(args[where_idx], "max") {
        true
    } else if is(args[where_idx], "min") {
        false
    } else {
        return Err(syntax_error());
    };
    let count = mpop_count(args, where_idx + 1)?;
    Ok((&args[at + 1..where_idx], max, count))
}

// ---- ZRANDMEMBER ----

/// Redis `zrandmemberCommand`: the count is checked (and WITHSCORES with a
/// count beyond ±LONG_MAX/2, whose reply length would overflow, refused)
/// before the key is looked up.
fn zrandmember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if let Some(count) = args.get(2) {
        let count = int_in_range(count, -i64::MAX, i64::MAX, None)?;
        if args.len() > 4 || (args.len() == 4 && !is(args[3], "withscores")) {
            return Err(syntax_error());
        }
        let withscores = args.len() == 4;
        if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
            return Err(Reply::error(ERR_OUT_OF_RANGE));
        }
        return zrandmember_count(ctx, args[1], count, withscores);
    }
    let server = ctx.server;
    let mut db = ctx.db();
    let Some(z) = read(server, &mut db, args[1])?.filter(|z| !z.is_empty()) else {
        return Ok(Reply::Null);
    };
    let rank = rand::thread_rng().gen_range(0..z.len());
    Ok(z.get(rank)
        .map_or(Reply::Null, |(m, _)| Reply::bulk_copy(m)))
}

/// Redis `zrandmemberWithCountCommand` and its four cases.
fn zrandmember_count(ctx: &mut Ctx, key: &[u8], count: i64, withscores: bool) -> CmdResult {
    let server = ctx.server;
    let resp = ctx.client.resp;
    let mut db = ctx.db();
    let Some(z) = read(server, &mut db, key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let size = z.len();
    let (wanted, unique) = (count.unsigned_abs(), count >= 0);
    if wanted == 0 || size == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let mut rng = rand::thread_rng();
    // Case 1: repeats allowed (or a single pick): independent draws, random order.
    if !unique || wanted == 1 {
        if wanted > RANDOM_REPLY_LIMIT {
            return Err(Reply::error(ERR_OUT_OF_RANGE));
        }
        let picks = (0..wanted).map(|_| rng.gen_range(0..size));
        let items: Vec<(&[u8], f64)> = if z.is_listpack() {
            // Redis samples a listpack in batches (lpRandomPairs) rather than seeking each time.
            let all: Vec<(&[u8], f64)> = z.iter_from(0, false).collect();
            picks.map(|r| all[r]).collect()
        } else {
            picks.filter_map(|r| z.get(r)).collect()
        };
        return Ok(elements_reply(items, withscores, resp));
    }
    let wanted = usize::try_from(wanted).unwrap_or(usize::MAX);
    // Case 2: the whole set, walked from the tail as Redis's zset iterator does.
    if wanted >= size {
        return Ok(elements_reply(
            z.iter_from(size - 1, true),
            withscores,
            resp,
        ));
    }
    // Case 3: most of the set: drop random elements until `wanted` remain.
    if wanted.saturating_mul(3) > size {
        let mut all: Vec<(&[u8], f64)> = z.iter_from(0, false).collect();
        while all.len() > wanted {
            let r = rng.gen_range(0..all.len());
            all.swap_remove(r);
        }
        all.shuffle(&mut rng);
        return Ok(elements_reply(all, withscores, resp));
    }
    // Case 4: a few of many. A listpack is sampled in order (lpRandomPairsUnique);
    // a skiplist gets distinct random picks in the order drawn.
    let items: Vec<(&[u8], f64)> = if z.is_listpack() {
        let mut needed = wanted;
        z.iter_from(0, false)
            .enumerate()
            .filter(|&(i, _)| {
                let take = needed > 0 && rng.gen_range(0..size - i) < needed;
                needed -= usize::from(take);
                take
            })
            .map(|(_, e)| e)
            .collect()
    } else {
        let mut seen = std::collections::HashSet::with_capacity(wanted);
        let mut items = Vec::with_capacity(wanted);
        while items.len() < wanted {
            let r = rng.gen_range(0..size);
            if seen.insert(r) {
                items.extend(z.get(r));
            }
        }
        items
    };
    Ok(elements_reply(items, withscores, resp))
}

// ---- ZUNION / ZINTER / ZDIFF / ZINTERCARD and the STORE forms ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis `zunionInterAggregate`. A SUM that comes out NaN (+inf + -inf) is 0;
/// MIN and MAX keep the current score when the new one is NaN.
fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value;
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value;
            }
        }
    }
}

/// One input of a set operation (Redis `zsetopsrc`): a missing key reads as empty.
enum Source<'a> {
    Missing,
    ZSet(&'a ZSet),
    /// A plain set: Redis's ZUNION/ZINTER/ZDIFF read its members with score 1.
    Set(&'a Set),
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::ZSet(z) => z.len(),
            Source::Set(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::ZSet(z) => z.score(member),
            Source::Set(s) => s.contains(member).then_some(1.0),
        }
    }

    /// Elements in the order of Redis's `zuiNext`: a sorted set from the
    /// highest score down, a set in its own order. Intset members are
    /// formatted, so elements are borrowed where they can be.
    fn iter(&self) -> Box<dyn Iterator<Item = (Cow<'_, [u8]>, f64)> + '_> {
        match self {
            Source::Missing => Box::new(std::iter::empty()),
            Source::ZSet(z) => Box::new(
                z.len()
                    .checked_sub(1)
                    .map(|last| z.iter_from(last, true))
                    .into_iter()
                    .flatten()
                    .map(|(m, score)| (Cow::Borrowed(m), score)),
            ),
            Source::Set(s) => Box::new(s.iter().map(|m| {
                let member = match m {
                    Member::Int(n) => Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec()),
                    Member::Str(bytes) => Cow::Borrowed(bytes),
                };
                (member, 1.0)
            })),
        }
    }
}

/// Redis's type check for set-operation inputs: sorted sets and sets.
fn source_of(value: &Value) -> Result<Source<'_>, Reply> {
    match value {
        Value::ZSet(z) => Ok(Source::ZSet(z)),
        Value::Set(s) => Ok(Source::Set(s)),
        _ => Err(wrong_type()),
    }
}

fn zunion(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, args, None, SetOp::Union, false)
}

fn zinter(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, args, None, SetOp::Inter, false)
}

fn zdiff(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, args, None, SetOp::Diff, false)
}

fn zintercard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, args, None, SetOp::Inter, true)
}

fn zunionstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, args, Some(args[1]), SetOp::Union, false)
}

fn zinterstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, args, Some(args[1]), SetOp::Inter, false)
}

fn zdiffstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setop_generic(ctx, args, Some(args[1]), SetOp::Diff, false)
}

/// The options after the keys of a set operation.
struct SetOpOptions {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    /// ZINTERCARD's LIMIT; 0 is no limit.
    limit: usize,
}

/// Redis `zunionInterDiffGenericCommand`'s option loop. WEIGHTS and
/// AGGREGATE are not options of ZDIFF or ZINTERCARD, WITHSCORES only of the
/// replying forms, LIMIT only of ZINTERCARD; anything else is a syntax error.
fn parse_setop_options(
    args: &[&[u8]],
    mut j: usize,
    setnum: usize,
    op: SetOp,
    store: bool,
    cardinality_only: bool,
) -> Result<SetOpOptions, Reply> {
    let mut o = SetOpOptions {
        weights: vec![1.0; setnum],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let scored = op != SetOp::Diff && !cardinality_only;
    while let Some(opt) = args.get(j) {
        let remaining = args.len() - j;
        if scored && remaining > setnum && is(opt, "weights") {
            for (w, arg) in o.weights.iter_mut().zip(&args[j + 1..]) {
                *w = parse_f64(arg)
                    .ok_or_else(|| Reply::error("ERR weight value is not a float"))?;
            }
            j += setnum + 1;
        } else if scored && remaining >= 2 && is(opt, "aggregate") {
            let how = &args[j + 1];
            o.aggregate = if is(how, "sum") {
                Aggregate::Sum
            } else if is(how, "min") {
                Aggregate::Min
            } else if is(how, "max") {
                Aggregate::Max
            } else {
                return Err(syntax_error());
            };
            j += 2;
        } else if !store && !cardinality_only && is(opt, "withscores") {
            o.withscores = true;
            j += 1;
        } else if cardinality_only && remaining >= 2 && is(opt, "limit") {
            let limit = positive_arg(args[j + 1], Some("ERR LIMIT can't be negative"))?;
            o.limit = usize::try_from(limit).unwrap_or(usize::MAX);
            j += 2;
        } else {
            return Err(syntax_error());
        }
    }
    Ok(o)
}

/// Redis `zunionInterDiffGenericCommand`: ZUNION, ZINTER, ZDIFF, ZINTERCARD
/// and the STORE forms. Keys are looked up (and type-checked) before the
/// options are parsed; inputs are combined smallest first, which decides the
/// order a SUM adds its terms in.
fn setop_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    dst: Option<&[u8]>,
    op: SetOp,
    cardinality_only: bool,
) -> CmdResult {
    let numkeys_idx = if dst.is_some() { 2 } else { 1 };
    let setnum = int_arg(args[numkeys_idx])?;
    if setnum < 1 {
        let name = String::from_utf8_lossy(args[0]).to_lowercase();
        return Err(Reply::error_owned(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let first = numkeys_idx + 1;
    let setnum = usize::try_from(setnum)
        .ok()
        .filter(|&n| n <= args.len() - first)
        .ok_or_else(syntax_error)?;
    let keys = &args[first..first + setnum];
    let server = ctx.server;
    let resp = ctx.client.resp;
    let limits = limits(server);
    let mut db = ctx.db();
    for key in keys {
        if let Some(found) = read_any(server, &mut db, key) {
            found?;
        }
    }
    let opts = parse_setop_options(
        args,
        first + setnum,
        setnum,
        op,
        dst.is_some(),
        cardinality_only,
    )?;
    let (result, cardinality) = {
        let mut sources: Vec<(Source, f64)> = db
            .get_many(keys)
            .into_iter()
            .zip(&opts.weights)
            .map(|(entry, &w)| {
                let source = entry.map_or(Ok(Source::Missing), |e| source_of(e.value));
                source.map(|s| (s, w))
            })
            .collect::<Result<_, Reply>>()?;
        if op != SetOp::Diff {
            sources.sort_by_key(|(s, _)| s.len());
        }
        combine(&sources, op, &opts, cardinality_only)
    };
    if cardinality_only {
        return Ok(Reply::from(cardinality));
    }
    match dst {
        Some(dst) => {
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            store_result(&mut db, dst, ZSet::from_sorted(result, limits), event)
        }
        None => Ok(elements_reply(
            result.iter().map(|(m, s)| (m.as_slice(), *s)),
            opts.withscores,
            resp,
        )),
    }
}

/// `lookupKeyRead` + the set-operation type check; None for a missing key.
fn read_any(server: &Server, db: &mut DbView, key: &[u8]) -> Option<Result<(), Reply>> {
    let found = db.get_read(key);
    server.stats.lookup(found.is_some());
    found.map(|e| source_of(e.value).map(|_| ()))
}

/// Computes a set operation over sorted inputs: the result sorted by
/// (score, member), or (ZINTERCARD) just its size.
fn combine(
    sources: &[(Source, f64)],
    op: SetOp,
    opts: &SetOpOptions,
    cardinality_only: bool,
) -> (Vec<(Vec<u8>, f64)>, usize) {
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut cardinality = 0usize;
    let Some(((head, head_weight), rest)) = sources.split_first() else {
        return (result, 0);
    };
    match op {
        SetOp::Inter => {
            for (member, score) in head.iter() {
                let mut score = head_weight * score;
                if score.is_nan() {
                    score = 0.0;
                }
                let in_all = rest.iter().all(|(src, w)| match src.score(&member) {
                    Some(v) => {
                        aggregate(&mut score, v * w, opts.aggregate);
                        true
                    }
                    None => false,
                });
                if !in_all {
                    continue;
                }
                if cardinality_only {
                    cardinality += 1;
                    if opts.limit > 0 && cardinality >= opts.limit {
                        break;
                    }
                } else {
                    result.push((member.into_owned(), score));
                }
            }
        }
        SetOp::Union => {
            let largest = sources.last().map_or(0, |(s, _)| s.len());
            let mut acc: HashMap<Cow<[u8]>, f64, foldhash::fast::RandomState> =
                HashMap::with_capacity_and_hasher(largest, Default::default());
            for (src, weight) in sources {
                for (member, score) in src.iter() {
                    let mut score = weight * score;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    acc.entry(member)
                        .and_modify(|t| aggregate(t, score, opts.aggregate))
                        .or_insert(score);
                }
            }
            result = acc.into_iter().map(|(m, s)| (m.into_owned(), s)).collect();
        }
        SetOp::Diff => {
            for (member, score) in head.iter() {
                if rest.iter().all(|(src, _)| src.score(&member).is_none()) {
                    result.push((member.into_owned(), score));
                }
            }
        }
    }
    // The skiplist order: by score (-0 equal to 0), then member bytes.
    result.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    (result, cardinality)
}

// ---- ZSCAN ----

/// How a listpack stores a score, and so how ZSCAN shows it: an integral
/// value within ±2^62 as an integer (Redis `double2ll`), anything else `%.17g`.
fn listpack_score_text(score: f64, out: &mut Vec<u8>) {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if (-LIMIT..=LIMIT).contains(&score) && score.trunc() == score {
        format_i64(score as i64, out);
    } else {
        format_double(score, out);
    }
}

/// Redis `zscanCommand` → `scanGenericCommand`: the cursor is checked first,
/// then the key, then COUNT / MATCH.
fn zscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = cursor_arg(args[2])?;
    let server = ctx.server;
    let mut db = ctx.db();
    let Some(z) = read(server, &mut db, args[1])? else {
        return Ok(Reply::Array(vec![
            Reply::bulk(&b"0"[..]),
            Reply::Array(Vec::new()),
        ]));
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while let Some(opt) = args.get(i) {
        let left = args.len() - i;
        if is(opt, "count") && left >= 2 {
            let n = int_arg(args[i + 1])?;
            if n < 1 {
                return Err(syntax_error());
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(opt, "match") && left >= 2 {
            // The pattern is a no-op when it is exactly "*".
            pattern = Some(args[i + 1]).filter(|p| *p != b"*");
        } else {
            return Err(syntax_error());
        }
        i += 2;
    }
    let listpack = z.is_listpack();
    let mut items = Vec::new();
    let next = z.scan(cursor, count, |member, score| {
        if pattern.is_some_and(|p| !glob_match(p, member, false)) {
            return;
        }
        let mut text = Vec::with_capacity(24);
        if listpack {
            listpack_score_text(score, &mut text);
        } else {
            format_double(score, &mut text);
        }
        items.push(Reply::bulk_copy(member));
        items.push(Reply::bulk(text));
    });
    let cursor_text = itoa::Buffer::new().format(next).as_bytes().to_vec();
    Ok(Reply::Array(vec![
        Reply::bulk(cursor_text),
        Reply::Array(items),
    ]))
}
