//! Hash commands (Redis's t_hash.c).
//!
//! Handlers follow their Redis counterparts step by step, because the order of
//! checks is visible: arity and argument errors before WRONGTYPE (HINCRBY,
//! HRANDFIELD), WRONGTYPE before option errors (HSCAN).

use rand::seq::index;
use rand::Rng;

use super::args::{
    checked_mut, close_for_output_limit, cursor_arg, int_arg, int_in_range, is, random_reply_len,
    random_reply_overflows, scan_reply, syntax_error, wrong_type, ScanOptions, ERR_OVERFLOW,
};
use super::{argv, cmd, CmdResult, Ctx, Registration};
use crate::config::notify;
use crate::keyspace::{DbView, Value};
use crate::number::{hincr_by_float, parse_hincr_increment, parse_i64};
use crate::protocol::{Reply, Resp};
use crate::server::{Server, Stats};
use crate::types::hash::{Hash, Limits};

pub static COMMANDS: &[Registration] = &[
    cmd("hdel", hdel),
    cmd("hexists", hexists),
    cmd("hget", hget),
    cmd("hgetall", hgetall),
    cmd("hincrby", hincrby),
    cmd("hincrbyfloat", hincrbyfloat),
    cmd("hkeys", hkeys),
    cmd("hlen", hlen),
    cmd("hmget", hmget),
    cmd("hmset", hmset),
    cmd("hrandfield", hrandfield),
    cmd("hscan", hscan),
    cmd("hset", hset),
    cmd("hsetnx", hsetnx),
    cmd("hstrlen", hstrlen),
    cmd("hvals", hvals),
];

const ERR_HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";

fn limits(server: &Server) -> Limits {
    Limits {
        max_entries: server.config.hash_max_listpack_entries(),
        max_value: server.config.hash_max_listpack_value(),
    }
}

/// Redis `lookupKeyRead` + `checkType(OBJ_HASH)`; counts a keyspace hit or miss.
fn read<'d>(db: &'d mut DbView, stats: &Stats, key: &[u8]) -> Result<Option<&'d Hash>, Reply> {
    let entry = db.get_read(key);
    stats.lookup(entry.is_some());
    match entry.map(|e| e.value) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(wrong_type()),
    }
}

/// Redis `lookupKeyWrite` + `checkType(OBJ_HASH)`.
fn write<'d>(db: &'d mut DbView, key: &[u8]) -> Result<Option<&'d mut Hash>, Reply> {
    db.get_mut(key).map(checked_mut::<Hash>).transpose()
}

/// Redis `hashTypeLookupWriteOrCreate`. Callers only create the key when they
/// are sure to add a field, so no empty hash is ever left behind.
fn write_or_create<'d>(db: &'d mut DbView, key: &[u8]) -> Result<&'d mut Hash, Reply> {
    if !db.contains(key) {
        db.set(key, Value::Hash(Hash::default()), None);
    }
    write(db, key)?.ok_or_else(wrong_type)
}

/// HSET and HMSET: Redis checks the pairing itself (the table's arity is -4).
fn set_pairs(ctx: &mut Ctx, args: &[&[u8]], name: &str) -> Result<usize, Reply> {
    if args.len() % 2 == 1 {
        return Err(Reply::error_owned(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    let limits = limits(ctx.server);
    let mut db = ctx.db();
    let set_all = |hash: &mut Hash| {
        args[2..]
            .chunks_exact(2)
            .filter(|pair| hash.set(pair[0], pair[1], limits))
            .count()
    };
    // One lookup: a new hash is filled before it is stored.
    let created = match write(&mut db, args[1])? {
        Some(hash) => set_all(hash),
        None => {
            let mut hash = Hash::default();
            let created = set_all(&mut hash);
            db.set(args[1], Value::Hash(hash), None);
            created
        }
    };
    db.notify(notify::HASH, "hset", args[1]);
    Ok(created)
}

fn hset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    set_pairs(ctx, args, "hset").map(Reply::from)
}

fn hmset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    set_pairs(ctx, args, "hmset").map(|_| Reply::OK)
}

fn hsetnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let limits = limits(ctx.server);
    let mut db = ctx.db();
    let hash = write_or_create(&mut db, args[1])?;
    if hash.contains(args[2]) {
        db.unchanged(args[1]);
        return Ok(Reply::from(false));
    }
    hash.set(args[2], args[3], limits);
    db.notify(notify::HASH, "hset", args[1]);
    Ok(Reply::from(true))
}

fn hget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    let value = read(&mut db, stats, args[1])?.and_then(|h| h.get(args[2]));
    Ok(value.map_or(Reply::Null, Reply::bulk_copy))
}

fn hmget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    let hash = read(&mut db, stats, args[1])?;
    let values = args[2..]
        .iter()
        .map(|f| {
            hash.and_then(|h| h.get(f))
                .map_or(Reply::Null, Reply::bulk_copy)
        })
        .collect();
    Ok(Reply::Array(values))
}

fn hdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let Some(hash) = write(&mut db, args[1])? else {
        return Ok(Reply::from(0i64));
    };
    let mut deleted = 0;
    for field in &args[2..] {
        deleted += usize::from(hash.remove(field));
        if hash.is_empty() {
            break;
        }
    }
    let emptied = hash.is_empty();
    if deleted > 0 {
        db.notify(notify::HASH, "hdel", args[1]);
    } else {
        db.unchanged(args[1]);
    }
    if emptied {
        db.delete(args[1]);
    }
    Ok(Reply::from(deleted))
}

/// A reply computed from the hash at `key` (None when it does not exist).
fn with_hash(ctx: &mut Ctx, key: &[u8], reply: impl FnOnce(Option<&Hash>) -> Reply) -> CmdResult {
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    Ok(reply(read(&mut db, stats, key)?))
}

fn hlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    with_hash(ctx, args[1], |h| Reply::from(h.map_or(0, Hash::len)))
}

fn hstrlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    with_hash(ctx, args[1], |h| {
        Reply::from(h.and_then(|h| h.get(args[2])).map_or(0, <[u8]>::len))
    })
}

fn hexists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    with_hash(ctx, args[1], |h| {
        Reply::from(h.is_some_and(|h| h.contains(args[2])))
    })
}

fn hkeys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    with_hash(ctx, args[1], |h| {
        let mut fields = Vec::with_capacity(h.map_or(0, Hash::len));
        h.into_iter()
            .for_each(|h| h.for_each(|f, _| fields.push(Reply::bulk_copy(f))));
        Reply::Array(fields)
    })
}

fn hvals(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    with_hash(ctx, args[1], |h| {
        let mut values = Vec::with_capacity(h.map_or(0, Hash::len));
        h.into_iter()
            .for_each(|h| h.for_each(|_, v| values.push(Reply::bulk_copy(v))));
        Reply::Array(values)
    })
}

/// A map in RESP3, a flat array in RESP2 (and an empty map for a missing key).
fn hgetall(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    with_hash(ctx, args[1], |h| {
        let mut pairs = Vec::with_capacity(h.map_or(0, Hash::len));
        h.into_iter().for_each(|h| {
            h.for_each(|f, v| pairs.push((Reply::bulk_copy(f), Reply::bulk_copy(v))))
        });
        Reply::Map(pairs)
    })
}

/// Redis `hincrbyCommand`: the increment is checked before the key's type.
fn hincrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let incr = int_arg(args[3])?;
    let limits = limits(ctx.server);
    let mut db = ctx.db();
    let hash = write_or_create(&mut db, args[1])?;
    let current = match hash.get(args[2]) {
        Some(v) => parse_i64(v).ok_or_else(|| Reply::error(ERR_HASH_NOT_INTEGER))?,
        None => 0,
    };
    let new = current
        .checked_add(incr)
        .ok_or_else(|| Reply::error(ERR_OVERFLOW))?;
    hash.set(args[2], itoa::Buffer::new().format(new).as_bytes(), limits);
    db.notify(notify::HASH, "hincrby", args[1]);
    Ok(Reply::from(new))
}

/// Redis `hincrbyfloatCommand`: the increment (a float, not infinite) is
/// checked before the key's type, the stored value after (see number.rs).
fn hincrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let fail = |e: crate::number::IncrFloatError| Reply::error(e.message());
    let incr = parse_hincr_increment(args[3]).map_err(fail)?;
    let limits = limits(ctx.server);
    let mut db = ctx.db();
    let hash = write_or_create(&mut db, args[1])?;
    let current = hash.get(args[2]).unwrap_or(b"0");
    let new = hincr_by_float(current, &incr).map_err(fail)?;
    hash.set(args[2], &new, limits);
    db.notify(notify::HASH, "hincrbyfloat", args[1]);
    // The result, not the increment: float formatting must not differ on replay.
    ctx.propagate_as(|| argv(&[b"HSET", args[1], args[2], &new]));
    Ok(Reply::bulk(new))
}

/// Redis `hrandfieldCommand`: the count and WITHVALUES are checked before the key.
fn hrandfield(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() >= 3 {
        let count = int_in_range(args[2], -i64::MAX, i64::MAX, None)?;
        let withvalues = match args.get(3) {
            _ if args.len() > 4 => return Err(syntax_error()),
            Some(opt) if !is(opt, "withvalues") => return Err(syntax_error()),
            Some(_) if !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) => {
                return Err(Reply::error("ERR value is out of range"))
            }
            opt => opt.is_some(),
        };
        return hrandfield_count(ctx, args[1], count, withvalues);
    }
    with_hash(ctx, args[1], |h| {
        let picked = h.and_then(|h| {
            let fields = h.by_position();
            let picked = fields.get(rand::thread_rng().gen_range(0..fields.len().max(1)));
            picked.map(|(f, _)| Reply::bulk_copy(f))
        });
        picked.unwrap_or(Reply::Null)
    })
}

/// Redis `hrandfieldWithCountCommand`. A negative count samples with
/// repetition; a positive one returns distinct fields (all of them when the
/// count reaches the size, in the hash's order). WITHVALUES pairs are nested
/// arrays in RESP3 and flat in RESP2.
fn hrandfield_count(ctx: &mut Ctx, key: &[u8], count: i64, withvalues: bool) -> CmdResult {
    let nested = withvalues && ctx.client.resp == Resp::V3;
    let overflows = (count < 0)
        .then(|| random_reply_overflows(ctx, count.unsigned_abs()))
        .flatten();
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    let Some(hash) = read(&mut db, stats, key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let fields = hash.by_position();
    let size = fields.len();
    if count == 0 || size == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let mut out = Vec::new();
    let mut emit = |(f, v): (&[u8], &[u8])| {
        if nested {
            out.push(Reply::Array(vec![Reply::bulk_copy(f), Reply::bulk_copy(v)]));
        } else {
            out.push(Reply::bulk_copy(f));
            if withvalues {
                out.push(Reply::bulk_copy(v));
            }
        }
    };
    let rng = &mut rand::thread_rng();
    let wanted = count.unsigned_abs();
    if let Some(client) = overflows {
        return Ok(close_for_output_limit(&client));
    }
    if count < 0 || count == 1 {
        let n = random_reply_len(wanted)?;
        (0..n)
            .filter_map(|_| fields.get(rng.gen_range(0..size)))
            .for_each(&mut emit);
    } else if wanted >= size as u64 {
        (0..size).filter_map(|i| fields.get(i)).for_each(&mut emit);
    } else {
        let picked = index::sample(rng, size, wanted as usize);
        picked
            .iter()
            .filter_map(|i| fields.get(i))
            .for_each(&mut emit);
    }
    Ok(Reply::Array(out))
}

/// Redis `hscanCommand`: cursor, then key and type, then the options.
fn hscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = cursor_arg(args[2])?;
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    let Some(hash) = read(&mut db, stats, args[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let opts = ScanOptions::parse(&args[3..])?;
    let mut found = Vec::new();
    let next = hash.scan(cursor, opts.count, |f, v| {
        if opts.matches(f) {
            found.push(Reply::bulk_copy(f));
            found.push(Reply::bulk_copy(v));
        }
    });
    Ok(scan_reply(next, found))
}
