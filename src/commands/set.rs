//! Set commands (Redis's t_set.c).
//!
//! Handlers follow their Redis counterparts step by step, because the order of
//! checks is visible: count errors before WRONGTYPE (SPOP, SRANDMEMBER,
//! SINTERCARD), every key's type checked even after a missing one (SINTER).

use rand::seq::index;

use super::args::{
    checked, checked_mut, close_for_output_limit, cursor_arg, int_in_range, is, positive_arg,
    random_reply_len, random_reply_overflows, scan_reply, syntax_error, ScanOptions,
};
use super::{argv, cmd, CmdResult, Ctx, Registration};
use crate::config::notify;
use crate::keyspace::{DbView, Value};
use crate::protocol::Reply;
use crate::server::Stats;
use crate::types::set::{self, Member, Set};

pub static COMMANDS: &[Registration] = &[
    cmd("sadd", sadd),
    cmd("scard", scard),
    cmd("sdiff", sdiff),
    cmd("sdiffstore", sdiffstore),
    cmd("sinter", sinter),
    cmd("sintercard", sintercard),
    cmd("sinterstore", sinterstore),
    cmd("sismember", sismember),
    cmd("smembers", sinter),
    cmd("smismember", smismember),
    cmd("smove", smove),
    cmd("spop", spop),
    cmd("srandmember", srandmember),
    cmd("srem", srem),
    cmd("sscan", sscan),
    cmd("sunion", sunion),
    cmd("sunionstore", sunionstore),
];

/// Redis `lookupKeyRead` + `checkType(OBJ_SET)`; counts a keyspace hit or miss.
fn read<'d>(db: &'d mut DbView, stats: &Stats, key: &[u8]) -> Result<Option<&'d Set>, Reply> {
    let entry = db.get_read(key);
    stats.lookup(entry.is_some());
    entry.map(|e| checked::<Set>(e.value)).transpose()
}

/// Redis `lookupKeyWrite` + `checkType(OBJ_SET)`.
fn write<'d>(db: &'d mut DbView, key: &[u8]) -> Result<Option<&'d mut Set>, Reply> {
    db.get_mut(key).map(checked_mut::<Set>).transpose()
}

/// A reply computed from the set at `key` (None when it does not exist).
fn with_set(ctx: &mut Ctx, key: &[u8], reply: impl FnOnce(Option<&Set>) -> Reply) -> CmdResult {
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    Ok(reply(read(&mut db, stats, key)?))
}

/// Members as a RESP3 set reply (an array in RESP2).
fn set_reply<'a>(members: impl Iterator<Item = Member<'a>>) -> Reply {
    Reply::Set(members.map(|m| Reply::Bulk(m.to_bytes())).collect())
}

/// Redis `saddCommand`: a new key's encoding follows its first member.
fn sadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let max_intset = ctx.server.config.set_max_intset_entries();
    let mut db = ctx.db();
    let add_all = |set: &mut Set| args[2..].iter().filter(|m| set.add(m, max_intset)).count();
    // One lookup: a new set is filled before it is stored.
    let added = match write(&mut db, args[1])? {
        Some(set) => add_all(set),
        None => {
            let mut set = Set::for_member(args[2]);
            let added = add_all(&mut set);
            db.set(args[1], Value::Set(set), None);
            added
        }
    };
    if added > 0 {
        db.notify(notify::SET, "sadd", args[1]);
    } else {
        db.unchanged(args[1]);
    }
    Ok(Reply::from(added))
}

fn srem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let Some(set) = write(&mut db, args[1])? else {
        return Ok(Reply::from(0i64));
    };
    let mut removed = 0;
    for member in &args[2..] {
        removed += usize::from(set.remove(member));
        if set.is_empty() {
            break;
        }
    }
    let emptied = set.is_empty();
    if removed > 0 {
        db.notify(notify::SET, "srem", args[1]);
    } else {
        db.unchanged(args[1]);
    }
    if emptied {
        db.delete(args[1]);
    }
    Ok(Reply::from(removed))
}

fn scard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    with_set(ctx, args[1], |s| Reply::from(s.map_or(0, Set::len)))
}

fn sismember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    with_set(ctx, args[1], |s| {
        Reply::from(s.is_some_and(|s| s.contains(args[2])))
    })
}

fn smismember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    with_set(ctx, args[1], |s| {
        Reply::Array(
            args[2..]
                .iter()
                .map(|m| Reply::from(s.is_some_and(|s| s.contains(m))))
                .collect(),
        )
    })
}

/// Redis `smoveCommand`: a missing source answers 0 before any type check,
/// both types are checked before anything moves, and moving within one key
/// only reports membership.
fn smove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let max_intset = ctx.server.config.set_max_intset_entries();
    let mut db = ctx.db();
    let Some(source) = write(&mut db, src)? else {
        return Ok(Reply::from(0i64));
    };
    let in_source = source.contains(member);
    let dst_exists = write(&mut db, dst)?.is_some();
    if src == dst || !in_source {
        db.unchanged(src);
        db.unchanged(dst);
        return Ok(Reply::from(in_source));
    }
    if let Some(source) = write(&mut db, src)? {
        source.remove(member);
        let emptied = source.is_empty();
        db.notify(notify::SET, "srem", src);
        if emptied {
            db.delete(src);
        }
    }
    if !dst_exists {
        db.set(dst, Value::Set(Set::for_member(member)), None);
    }
    if let Some(target) = write(&mut db, dst)? {
        if target.add(member, max_intset) {
            db.notify(notify::SET, "sadd", dst);
        } else {
            // Already a member: the destination is untouched (no WATCH
            // signal), as Redis signals it only for a successful addition.
            db.unchanged(dst);
        }
    }
    Ok(Reply::from(true))
}

/// Redis `spopCommand` / `spopWithCountCommand`. With a count the reply is a
/// set, and a count reaching the size takes the whole set (rebuilt, so an
/// all-integer table answers sorted like an intset, as in Redis).
fn spop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => Some(positive_arg(args[2], None)?.unsigned_abs()),
        _ => return Err(syntax_error()),
    };
    let max_intset = ctx.server.config.set_max_intset_entries();
    let mut db = ctx.db();
    let Some(set) = write(&mut db, args[1])? else {
        return Ok(count.map_or(Reply::Null, |_| Reply::Set(Vec::new())));
    };
    let rng = &mut rand::thread_rng();
    let popped = match count {
        None => set.pop_random(1, rng),
        Some(0) => {
            db.unchanged(args[1]);
            return Ok(Reply::Set(Vec::new()));
        }
        Some(n) if n >= set.len() as u64 => {
            // Redis replies through SUNION of the one set, i.e. a rebuilt set.
            let all = set_reply(set::union(&[Some(set)], max_intset).iter());
            db.notify(notify::SET, "spop", args[1]);
            db.delete(args[1]);
            ctx.propagate_as(|| argv(&[b"DEL", args[1]]));
            return Ok(all);
        }
        Some(n) => set.pop_random(n as usize, rng),
    };
    let emptied = set.is_empty();
    db.notify(notify::SET, "spop", args[1]);
    if emptied {
        db.delete(args[1]);
    }
    // Replayed as the SREMs of what it drew, not as a random draw.
    for member in &popped {
        ctx.also_propagate(|| argv(&[b"SREM", args[1], member]));
    }
    ctx.prevent_propagation();
    Ok(match count {
        None => popped.into_iter().next().map_or(Reply::Null, Reply::Bulk),
        Some(_) => Reply::Set(popped.into_iter().map(Reply::Bulk).collect()),
    })
}

/// Redis `srandmemberCommand` / `srandmemberWithCountCommand`: a negative
/// count samples with repetition, a positive one returns distinct members
/// (all of them, in the set's order, when it reaches the size).
fn srandmember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => Some(int_in_range(args[2], -i64::MAX, i64::MAX, None)?),
        _ => return Err(syntax_error()),
    };
    let overflows = count
        .filter(|&n| n < 0)
        .and_then(|n| random_reply_overflows(ctx, n.unsigned_abs()));
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    let set = read(&mut db, stats, args[1])?;
    let rng = &mut rand::thread_rng();
    let Some(count) = count else {
        let member = set.and_then(|s| s.random(rng));
        return Ok(member.map_or(Reply::Null, |m| Reply::Bulk(m.to_bytes())));
    };
    let Some(set) = set.filter(|s| !s.is_empty() && count != 0) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let size = set.len();
    let wanted = count.unsigned_abs();
    if let Some(client) = overflows {
        return Ok(close_for_output_limit(&client));
    }
    let members: Vec<Member> = if count < 0 || count == 1 {
        let n = random_reply_len(wanted)?;
        (0..n).filter_map(|_| set.random(rng)).collect()
    } else if wanted >= size as u64 {
        set.iter().collect()
    } else {
        let picked = index::sample(rng, size, wanted as usize);
        picked.iter().filter_map(|i| set.at(i)).collect()
    };
    Ok(Reply::Array(
        members
            .into_iter()
            .map(|m| Reply::Bulk(m.to_bytes()))
            .collect(),
    ))
}

/// Looks up every source set (Redis's loop over `lookupKeyRead` and
/// `checkType`, the STORE variants included): a missing key is None (and a
/// `keymiss` event), any wrong type fails the command.
fn sources<'d>(
    db: &'d mut DbView,
    stats: &Stats,
    keys: &[&[u8]],
) -> Result<Vec<Option<&'d Set>>, Reply> {
    for key in keys {
        // Redis's `lookupKeyRead` of each source: an access, or a miss.
        if db.get(key).is_none() {
            db.notify(notify::KEY_MISS, "keymiss", key);
        }
    }
    db.get_many(keys)
        .into_iter()
        .map(|e| {
            stats.lookup(e.is_some());
            e.map(|e| checked::<Set>(e.value)).transpose()
        })
        .collect()
}

/// Stores a computed set at `dst` (Redis `setKey`, which drops any TTL and
/// any previous value of any type), or deletes `dst` when it is empty.
/// Replies with the stored size.
/// `event` is the keyspace event of a store; deleting `dst` is a `del`.
fn store(db: &mut DbView, dst: &[u8], result: Set, event: &'static str) -> Reply {
    let size = result.len();
    if size == 0 {
        db.delete(dst);
    } else {
        db.set(dst, Value::Set(result), None);
        db.notify(notify::SET, event, dst);
    }
    Reply::from(size)
}

/// Where SINTER's result goes.
enum Inter<'a> {
    Reply,
    /// SINTERCARD with its LIMIT (0: none).
    Card(usize),
    Store(&'a [u8]),
}

/// Redis `sinterGenericCommand`: intersects from the smallest set, whose
/// order the reply follows; any missing key makes the result empty.
fn inter_generic(ctx: &mut Ctx, keys: &[&[u8]], target: Inter) -> CmdResult {
    let max_intset = ctx.server.config.set_max_intset_entries();
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    let found = sources(&mut db, stats, keys)?;
    let mut sets: Vec<&Set> = found.iter().flatten().copied().collect();
    if sets.len() < found.len() {
        sets.clear();
    }
    sets.sort_by_key(|s| s.len());
    let common = set::intersection(&sets);
    match target {
        Inter::Reply => Ok(set_reply(common)),
        Inter::Card(0) => Ok(Reply::from(common.count())),
        Inter::Card(limit) => Ok(Reply::from(common.take(limit).count())),
        Inter::Store(dst) => {
            let mut result = Set::new_intset();
            for m in common {
                result.add_member(m, max_intset);
            }
            Ok(store(&mut db, dst, result, "sinterstore"))
        }
    }
}

/// SINTER, and SMEMBERS (which Redis 7.0 serves with the same function).
fn sinter(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    inter_generic(ctx, &args[1..], Inter::Reply)
}

fn sinterstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    inter_generic(ctx, &args[2..], Inter::Store(args[1]))
}

/// Redis `sinterCardCommand`: numkeys, then LIMIT, then the keys' types.
fn sintercard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let numkeys = int_in_range(
        args[1],
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    )?;
    let numkeys = match usize::try_from(numkeys) {
        Ok(n) if n <= args.len() - 2 => n,
        _ => {
            return Err(Reply::error(
                "ERR Number of keys can't be greater than number of args",
            ))
        }
    };
    let mut limit = 0;
    let mut opts = args[2 + numkeys..].iter();
    while let Some(opt) = opts.next() {
        match opts.next() {
            Some(value) if is(opt, "limit") => {
                limit = positive_arg(value, Some("ERR LIMIT can't be negative"))?;
            }
            _ => return Err(syntax_error()),
        }
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    inter_generic(ctx, &args[2..2 + numkeys], Inter::Card(limit))
}

/// Redis `sunionDiffGenericCommand`: the result is built as a new set (so its
/// encoding and order are a fresh set's), then replied or stored.
fn union_diff(ctx: &mut Ctx, keys: &[&[u8]], dst: Option<&[u8]>, diff: bool) -> CmdResult {
    let max_intset = ctx.server.config.set_max_intset_entries();
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    let found = sources(&mut db, stats, keys)?;
    let result = if diff {
        set::difference(&found, max_intset)
    } else {
        set::union(&found, max_intset)
    };
    Ok(match dst {
        None => set_reply(result.iter()),
        Some(dst) => store(
            &mut db,
            dst,
            result,
            if diff { "sdiffstore" } else { "sunionstore" },
        ),
    })
}

fn sunion(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    union_diff(ctx, &args[1..], None, false)
}

fn sunionstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    union_diff(ctx, &args[2..], Some(args[1]), false)
}

fn sdiff(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    union_diff(ctx, &args[1..], None, true)
}

fn sdiffstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    union_diff(ctx, &args[2..], Some(args[1]), true)
}

/// Redis `sscanCommand`: cursor, then key and type, then the options.
fn sscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = cursor_arg(args[2])?;
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    let Some(set) = read(&mut db, stats, args[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let opts = ScanOptions::parse(&args[3..])?;
    let mut found = Vec::new();
    let next = set.scan(cursor, opts.count, |m| {
        m.with_bytes(|b| {
            if opts.matches(b) {
                found.push(Reply::bulk_copy(b));
            }
        })
    });
    Ok(scan_reply(next, found))
}
