//! List commands (Redis 7.0's t_list.c); the blocking ones, in `blocking.rs`,
//! reuse the helpers marked `pub(super)`.
//!
//! Each handler checks in Redis's order, because the order is visible: some
//! parse their arguments before looking the key up (LRANGE, LPOS: a bad
//! number beats WRONGTYPE), others after (LINDEX, LSET: a missing key beats a
//! bad index). Only the read-only commands count keyspace hits and misses
//! (`lookupKeyRead`); the writing ones use `lookupKeyWrite`, which does not.

use bytes::Bytes;

use super::args::{
    checked, checked_mut, index_range, int_arg, int_in_range, is, mpop_count, positive_arg,
    syntax_error, ERR_NO_SUCH_KEY,
};
use super::{argv, cmd, CmdResult, Ctx, Registration};
use crate::config::notify;
use crate::keyspace::{DbView, Value};
use crate::protocol::Reply;
use crate::server::Server;
use crate::types::list::{End, List};

pub static COMMANDS: &[Registration] = &[
    cmd("lindex", lindex),
    cmd("linsert", linsert),
    cmd("llen", llen),
    cmd("lmove", lmove),
    cmd("lmpop", lmpop),
    cmd("lpop", lpop),
    cmd("lpos", lpos),
    cmd("lpush", lpush),
    cmd("lpushx", lpushx),
    cmd("lrange", lrange),
    cmd("lrem", lrem),
    cmd("lset", lset),
    cmd("ltrim", ltrim),
    cmd("rpop", rpop),
    cmd("rpoplpush", rpoplpush),
    cmd("rpush", rpush),
    cmd("rpushx", rpushx),
];

const ERR_INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
const ERR_RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, \
    2 from the second ... or use negative to start from the end of the list";

/// Redis `lookupKeyRead` then `checkType`: counts a keyspace hit when the
/// key exists (whatever its type) and a miss otherwise.
fn read_list<'d>(
    server: &Server,
    db: &'d mut DbView,
    key: &[u8],
) -> Result<Option<&'d List>, Reply> {
    let entry = db.get_read(key);
    server.stats.lookup(entry.is_some());
    entry.map(|e| checked::<List>(e.value)).transpose()
}

/// Redis `lookupKeyWrite` then `checkType`.
fn write_list<'d>(db: &'d mut DbView, key: &[u8]) -> Result<Option<&'d mut List>, Reply> {
    db.get_mut(key).map(checked_mut::<List>).transpose()
}

/// Runs `f` on the list at `key` (None when there is none), then deletes the
/// key if `f` emptied the list, as Redis does after every removal.
fn modify<T>(
    db: &mut DbView,
    key: &[u8],
    event: &'static str,
    f: impl FnOnce(&mut List) -> (T, bool),
) -> Result<Option<T>, Reply> {
    let Some(list) = write_list(db, key)? else {
        return Ok(None);
    };
    let (out, changed) = f(list);
    let empty = list.is_empty();
    if changed {
        db.notify(notify::LIST, event, key);
    } else {
        // A no-op (LPOP k 0, LREM of an absent element) does not touch WATCH.
        db.unchanged(key);
    }
    if empty {
        db.delete(key);
    }
    Ok(Some(out))
}

/// The keyspace event of a push or pop at `end`.
fn event(end: End, push: bool) -> &'static str {
    match (end, push) {
        (End::Head, true) => "lpush",
        (End::Tail, true) => "rpush",
        (End::Head, false) => "lpop",
        (End::Tail, false) => "rpop",
    }
}

/// Redis `pushGenericCommand` (and LMOVE's push): pushes `values` one by one
/// onto the list at `key`, creating it unless `create` is false (the X
/// variants). Returns the new length, 0 when nothing was created.
fn push_values<'a>(
    db: &mut DbView,
    key: &[u8],
    end: End,
    values: impl IntoIterator<Item = &'a [u8]>,
    fill: i64,
    create: bool,
) -> Result<usize, Reply> {
    let len = if let Some(list) = write_list(db, key)? {
        values.into_iter().for_each(|v| list.push(end, v));
        list.len()
    } else if create {
        let mut list = List::new(fill);
        values.into_iter().for_each(|v| list.push(end, v));
        let len = list.len();
        db.set(key, Value::List(Box::new(list)), None);
        len
    } else {
        return Ok(0);
    };
    db.notify(notify::LIST, event(end, true), key);
    Ok(len)
}

fn push(ctx: &mut Ctx, args: &[&[u8]], end: End, create: bool) -> CmdResult {
    let fill = ctx.server.config.list_max_listpack_size();
    let values = args[2..].iter().map(|v| &v[..]);
    let len = push_values(&mut ctx.db(), args[1], end, values, fill, create)?;
    Ok(Reply::from(len))
}

fn lpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push(ctx, args, End::Head, true)
}

fn rpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push(ctx, args, End::Tail, true)
}

fn lpushx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push(ctx, args, End::Head, false)
}

fn rpushx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push(ctx, args, End::Tail, false)
}

/// Redis `popGenericCommand`. With a COUNT the reply is an array (empty for
/// COUNT 0, a null array for a missing key); without, a bulk or null.
fn pop(ctx: &mut Ctx, args: &[&[u8]], end: End, name: &str) -> CmdResult {
    if args.len() > 3 {
        return Err(Reply::error_owned(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    let count = args.get(2).map(|n| positive_arg(n, None)).transpose()?;
    let popped = modify(
        &mut ctx.db(),
        args[1],
        event(end, false),
        |list| match count {
            None => match list.pop(end) {
                Some(value) => (Reply::Bulk(value), true),
                None => (Reply::Null, false),
            },
            Some(n) => {
                let values = list.pop_many(end, usize::try_from(n).unwrap_or(usize::MAX));
                let changed = !values.is_empty();
                (bulks(values), changed)
            }
        },
    )?;
    Ok(popped.unwrap_or(match count {
        None => Reply::Null,
        Some(_) => Reply::NullArray,
    }))
}

fn bulks(values: Vec<Bytes>) -> Reply {
    Reply::Array(values.into_iter().map(Reply::Bulk).collect())
}

fn lpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    pop(ctx, args, End::Head, "lpop")
}

fn rpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    pop(ctx, args, End::Tail, "rpop")
}

fn llen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    let len = read_list(server, &mut ctx.db(), args[1])?.map_or(0, List::len);
    Ok(Reply::from(len))
}

/// LINDEX looks the key up before parsing the index.
fn lindex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    let mut db = ctx.db();
    let Some(list) = read_list(server, &mut db, args[1])? else {
        return Ok(Reply::Null);
    };
    let index = int_arg(args[2])?;
    Ok(list
        .get(index)
        .map_or(Reply::Null, |e| Reply::bulk_copy(&e)))
}

/// LSET: no such key, then WRONGTYPE, then the index.
fn lset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let list = write_list(&mut db, args[1])?.ok_or_else(|| Reply::error(ERR_NO_SUCH_KEY))?;
    let index = int_arg(args[2])?;
    if list.set(index, args[3]) {
        db.notify(notify::LIST, "lset", args[1]);
        Ok(Reply::OK)
    } else {
        Err(Reply::error(ERR_INDEX_OUT_OF_RANGE))
    }
}

fn lrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = int_arg(args[2])?;
    let stop = int_arg(args[3])?;
    let server = ctx.server;
    let mut db = ctx.db();
    let Some(list) = read_list(server, &mut db, args[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Some((first, count)) = index_range(list.len(), start, stop) else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(Reply::Bulks(list.range(first, count)))
}

fn ltrim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = int_arg(args[2])?;
    let stop = int_arg(args[3])?;
    let mut db = ctx.db();
    let trimmed = modify(&mut db, args[1], "ltrim", |list| {
        let len = list.len();
        match index_range(len, start, stop) {
            Some((first, count)) => list.trim(first, len - first - count),
            None => list.trim(len, 0),
        }
        (len - list.len(), true)
    })?;
    // Redis signals WATCH either way, but counts (and propagates) only a trim.
    if trimmed == Some(0) {
        db.changed_nothing();
    }
    Ok(Reply::OK)
}

fn lrem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = int_arg(args[2])?;
    let removed = modify(&mut ctx.db(), args[1], "lrem", |list| {
        let removed = list.remove(args[3], count);
        (removed, removed > 0)
    })?;
    Ok(Reply::from(removed.unwrap_or(0)))
}

/// LINSERT: the BEFORE|AFTER syntax error comes before the key lookup.
fn linsert(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let after = if is(args[2], "AFTER") {
        true
    } else if is(args[2], "BEFORE") {
        false
    } else {
        return Err(syntax_error());
    };
    let mut db = ctx.db();
    let Some(list) = write_list(&mut db, args[1])? else {
        return Ok(Reply::Integer(0));
    };
    if list.insert(args[3], args[4], after) {
        let len = list.len();
        db.notify(notify::LIST, "linsert", args[1]);
        Ok(Reply::from(len))
    } else {
        db.unchanged(args[1]);
        Ok(Reply::Integer(-1))
    }
}

/// Redis `lposCommand`, including its arithmetic on RANK: a negative rank is
/// negated to search from the tail, and `RANK -9223372036854775808` stays
/// negative in Redis 7.0 (the negation overflows), so every match qualifies
/// and a COUNT never stops the search. Wrapping arithmetic keeps that.
fn lpos(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(args[j], "RANK") && more {
            j += 1;
            rank = int_arg(args[j])?;
            if rank == 0 {
                return Err(Reply::error(ERR_RANK_ZERO));
            }
        } else if is(args[j], "COUNT") && more {
            j += 1;
            count = Some(int_in_range(
                args[j],
                0,
                i64::MAX,
                Some("ERR COUNT can't be negative"),
            )?);
        } else if is(args[j], "MAXLEN") && more {
            j += 1;
            maxlen = int_in_range(args[j], 0, i64::MAX, Some("ERR MAXLEN can't be negative"))?;
        } else {
            return Err(syntax_error());
        }
        j += 1;
    }
    let forward = rank > 0;
    if !forward {
        rank = rank.wrapping_neg();
    }

    let server = ctx.server;
    let mut db = ctx.db();
    let Some(list) = read_list(server, &mut db, args[1])? else {
        return Ok(match count {
            Some(_) => Reply::Array(Vec::new()),
            None => Reply::Null,
        });
    };
    let len = list.len() as i64;
    let mut entries = if forward {
        list.iter()
    } else {
        list.iter_rev()
    };
    let mut matches: i64 = 0;
    let mut found = Vec::new();
    let mut index = -1;
    while let Some(entry) = entries.next_element() {
        index += 1;
        if maxlen != 0 && index >= maxlen {
            break;
        }
        if entry != args[2] {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(Reply::Integer(if forward {
            index
        } else {
            len - index - 1
        }));
        match count {
            None => break,
            Some(c) if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c => break,
            Some(_) => {}
        }
    }
    Ok(match count {
        Some(_) => Reply::Array(found),
        None => found.pop().unwrap_or(Reply::Null),
    })
}

/// Redis `getListPositionFromObjectOrReply`: LEFT or RIGHT.
pub(super) fn end_arg(arg: &[u8]) -> Result<End, Reply> {
    if is(arg, "LEFT") {
        Ok(End::Head)
    } else if is(arg, "RIGHT") {
        Ok(End::Tail)
    } else {
        Err(syntax_error())
    }
}

/// Redis `lmoveGenericCommand`: a missing source answers null before the
/// destination's type is checked; a wrong-typed destination moves nothing.
/// When source and destination are one list the element rotates, and the
/// key (with its TTL) stays even if it held a single element.
pub(super) fn lmove_generic(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> CmdResult {
    let fill = ctx.server.config.list_max_listpack_size();
    let mut db = ctx.db();
    let Some(list) = write_list(&mut db, src)? else {
        return Ok(Reply::Null);
    };
    if src == dst {
        let Some(value) = list.pop(from) else {
            return Ok(Reply::Null);
        };
        list.push(to, &value);
        db.notify(notify::LIST, event(to, true), dst);
        db.notify(notify::LIST, event(from, false), src);
        return Ok(Reply::Bulk(value));
    }
    write_list(&mut db, dst)?;
    // Redis's `lmoveGenericCommand` order: pop, push (events for the
    // destination), then the source's pop event and its deletion.
    let Some(list) = write_list(&mut db, src)? else {
        return Ok(Reply::Null);
    };
    let Some(value) = list.pop(from) else {
        return Ok(Reply::Null);
    };
    let src_empty = list.is_empty();
    push_values(&mut db, dst, to, [&value[..]], fill, true)?;
    db.notify(notify::LIST, event(from, false), src);
    if src_empty {
        db.delete(src);
    }
    Ok(Reply::Bulk(value))
}

fn lmove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let from = end_arg(args[3])?;
    let to = end_arg(args[4])?;
    lmove_generic(ctx, args[1], args[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    lmove_generic(ctx, args[1], args[2], End::Tail, End::Head)
}

/// Redis `lmpopGenericCommand`'s parsing: `numkeys key... LEFT|RIGHT [COUNT n]`
/// with numkeys at `args[at]`. Returns the keys, the end and the count.
pub(super) fn mpop_args<'a>(
    args: &'a [&'a [u8]],
    at: usize,
) -> Result<(&'a [&'a [u8]], End, usize), Reply> {
    let numkeys = int_in_range(
        args[at],
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    )?;
    let first = at + 1;
    let where_at = usize::try_from(numkeys)
        .ok()
        .and_then(|n| first.checked_add(n))
        .filter(|&i| i < args.len())
        .ok_or_else(syntax_error)?;
    let end = end_arg(args[where_at])?;
    let count = mpop_count(args, where_at + 1)?;
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    Ok((&args[first..where_at], end, count))
}

/// Redis `mpopGenericCommand`: pops from the first non-empty list among
/// `keys`; a wrong-typed key met before it is an error.
/// It propagates as the LPOP/RPOP it did, with the number popped when
/// `counted` (LMPOP, BLMPOP; BLPOP and BRPOP pop one without a count).
pub(super) fn mpop(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    end: End,
    count: usize,
    counted: bool,
) -> CmdResult {
    let mut db = ctx.db();
    for key in keys {
        let popped = modify(&mut db, key, event(end, false), |list| {
            let values = list.pop_many(end, count);
            let changed = !values.is_empty();
            (values, changed)
        })?;
        if let Some(values) = popped {
            let verb: &[u8] = match end {
                End::Head => b"LPOP",
                End::Tail => b"RPOP",
            };
            let n = values.len().to_string();
            ctx.propagate_as(|| match counted {
                true => argv(&[verb, key, n.as_bytes()]),
                false => argv(&[verb, key]),
            });
            return Ok(Reply::Array(vec![Reply::bulk_copy(key), bulks(values)]));
        }
    }
    Ok(Reply::NullArray)
}

fn lmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (keys, end, count) = mpop_args(args, 1)?;
    mpop(ctx, keys, end, count, true)
}
