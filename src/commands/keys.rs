//! Generic key commands (Redis's db.c, expire.c and OBJECT from object.c).

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::args::{
    cursor_arg, db_index_arg, error_format, help_reply, int32_arg, int_arg, is, syntax_error,
    ERR_DB_INDEX, ERR_NO_SUCH_KEY, ERR_SAME_OBJECT,
};
use super::table::c_string;
use super::{argv, cmd, cmd_locking, deletion, CmdResult, Ctx, Locks, Registration};
use crate::config::notify;
use crate::glob::glob_match;
use crate::keyspace::{Entry, EntryRef, Keyspace, LockSet, StringValue, Value};
use crate::lazyfree;
use crate::protocol::Reply;

pub static COMMANDS: &[Registration] = &[
    cmd("del", del),
    cmd("unlink", del),
    cmd("exists", exists),
    cmd("touch", touch),
    cmd("type", type_),
    cmd("ttl", ttl),
    cmd("pttl", pttl),
    cmd("expiretime", expiretime),
    cmd("pexpiretime", pexpiretime),
    cmd("expire", expire),
    cmd("pexpire", pexpire),
    cmd("expireat", expireat),
    cmd("pexpireat", pexpireat),
    cmd("persist", persist),
    cmd("rename", rename),
    cmd("renamenx", renamenx),
    cmd_locking("move", move_, Locks::Custom(move_locks)),
    cmd_locking("copy", copy, Locks::Custom(copy_locks)),
    cmd("dump", dump),
    cmd("restore", restore),
    cmd("restore-asking", restore),
    cmd_locking("swapdb", swapdb, Locks::All),
    cmd_locking("keys", keys, Locks::Db),
    cmd_locking("scan", scan, Locks::Db),
    cmd_locking("randomkey", randomkey, Locks::Db),
    cmd("object|encoding", object_encoding),
    cmd("object|refcount", object_refcount),
    cmd("object|idletime", object_idletime),
    cmd("object|freq", object_freq),
    cmd("object|help", object_help),
];

/// A read lookup (`lookupKeyRead`, or `lookupKeyReadWithFlags(LOOKUP_NOTOUCH)`
/// when `touch` is false): counts a keyspace hit or miss for INFO and maps the
/// live entry through `f`.
pub(super) fn read_key<T>(
    ctx: &mut Ctx,
    key: &[u8],
    touch: bool,
    f: impl FnOnce(EntryRef<'_>) -> T,
) -> Option<T> {
    let found = object_lookup(ctx, key, touch, f);
    if found.is_none() {
        ctx.notify(notify::KEY_MISS, "keymiss", key);
    }
    found
}

/// [`read_key`] without the `keymiss` event of a missing key: OBJECT's
/// lookup (`LOOKUP_NONOTIFY`), which DEBUG LISTPACK and QUICKLIST share.
pub(super) fn object_lookup<T>(
    ctx: &mut Ctx,
    key: &[u8],
    touch: bool,
    f: impl FnOnce(EntryRef<'_>) -> T,
) -> Option<T> {
    let mut db = ctx.db();
    let found = if touch { db.get(key) } else { db.peek(key) }.map(f);
    ctx.server.stats.lookup(found.is_some());
    found
}

/// DEL and UNLINK. Both free big values on the lazyfree thread (for DEL a
/// client cannot tell, except that nobody stalls); INFO counts those as lazily
/// freed only where Redis frees them lazily: UNLINK, or DEL with
/// `lazyfree-lazy-user-del`.
fn del(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let counted = is(args[0], "UNLINK") || ctx.server.config.lazyfree_lazy_user_del();
    let mut db = ctx.db();
    let mut deleted = 0usize;
    for key in &args[1..] {
        if let Some(entry) = db.take(key) {
            lazyfree::free_value(entry.value, counted);
            deleted += 1;
        }
    }
    Ok(Reply::from(deleted))
}

/// EXISTS counts a key as often as it is named.
fn exists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let found = args[1..]
        .iter()
        .filter(|k| read_key(ctx, k, false, |_| ()).is_some())
        .count();
    Ok(Reply::from(found))
}

fn touch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let found = args[1..]
        .iter()
        .filter(|k| read_key(ctx, k, true, |_| ()).is_some())
        .count();
    Ok(Reply::from(found))
}

fn type_(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let name = read_key(ctx, args[1], false, |e| e.value.type_name());
    Ok(Reply::simple(name.unwrap_or("none")))
}

fn ttl(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], false, false)
}

fn pttl(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], true, false)
}

fn expiretime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], true, true)
}

/// Redis's `ttlGenericCommand`: -2 for no key, -1 for no TTL, else the time
/// left (or the absolute expiry), seconds rounded to the nearest. The rounding
/// is unsigned, as the compiled Redis does it, so an expiry near i64::MAX
/// (PEXPIREAT k 9223372036854775807) rounds up instead of overflowing.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], ms: bool, absolute: bool) -> CmdResult {
    let now = ctx.now_ms();
    let reply = match read_key(ctx, key, false, |e| e.expires_at()) {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let ttl = if absolute { at } else { at.saturating_sub(now) };
            (if ms { ttl } else { (ttl + 500) / 1000 }) as i64
        }
    };
    Ok(Reply::Integer(reply))
}

fn expire(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms() as i64;
    expire_generic(ctx, args, "expire", now, 1000)
}

fn pexpire(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms() as i64;
    expire_generic(ctx, args, "pexpire", now, 1)
}

fn expireat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, "expireat", 0, 1000)
}

fn pexpireat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, "pexpireat", 0, 1)
}

/// The NX / XX / GT / LT conditions of the EXPIRE family.
#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// Redis's `parseExtendedExpireArgumentsOrReply`.
fn expire_flags(options: &[&[u8]]) -> Result<ExpireFlags, Reply> {
    let mut f = ExpireFlags::default();
    for opt in options {
        if is(opt, "nx") {
            f.nx = true;
        } else if is(opt, "xx") {
            f.xx = true;
        } else if is(opt, "gt") {
            f.gt = true;
        } else if is(opt, "lt") {
            f.lt = true;
        } else {
            return Err(error_format(&[b"ERR Unsupported option ", opt]));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(Reply::error(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(Reply::error(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

/// Redis's `expireGenericCommand`: `when` (times `unit` ms) plus `base` is
/// the new absolute expiry; overflow is an error naming the command; a time
/// not in the future (`when <= now`) deletes the key and still answers 1.
fn expire_generic(ctx: &mut Ctx, args: &[&[u8]], name: &str, base: i64, unit: i64) -> CmdResult {
    let flags = expire_flags(&args[3..])?;
    let invalid = || Reply::error_owned(format!("ERR invalid expire time in '{name}' command"));
    let when = int_arg(args[2])?
        .checked_mul(unit)
        .ok_or_else(invalid)?
        .checked_add(base)
        .ok_or_else(invalid)?;
    let now = ctx.now_ms() as i64;
    let expiring = ctx.clock().expires_keys();
    let key = &args[1];
    let mut db = ctx.db();
    let Some(entry) = db.get(key) else {
        return Ok(Reply::Integer(0));
    };
    // No TTL counts as an infinite one for GT and LT.
    let current = entry.expires_at().map(|at| at as i64);
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.is_none_or(|c| when <= c))
        || (flags.lt && current.is_some_and(|c| when >= c));
    if refused {
        return Ok(Reply::Integer(0));
    }
    // Redis's `checkAlreadyExpired`: never while the AOF is replayed.
    if when <= now && expiring {
        db.delete(key);
        let lazy = ctx.server.config.lazyfree_lazy_expire();
        ctx.propagate_as(|| argv(&[deletion(lazy), key]));
    } else {
        db.set_expiry(key, Some(when as u64));
        db.notify(notify::GENERIC, "expire", key);
        // As PEXPIREAT with the absolute time, the options kept.
        ctx.propagate_as(|| {
            let mut rewritten = argv(args);
            if name != "pexpireat" {
                rewritten[0] = Bytes::from_static(b"PEXPIREAT");
                rewritten[2] = Bytes::from(when.to_string());
            }
            rewritten
        });
    }
    Ok(Reply::Integer(1))
}

fn persist(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let had_ttl = db.get(args[1]).is_some_and(|e| e.expires_at().is_some());
    let persisted = had_ttl && db.set_expiry(args[1], None);
    if persisted {
        db.notify(notify::GENERIC, "persist", args[1]);
    }
    Ok(Reply::from(persisted))
}

fn rename(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// Redis's `renameGenericCommand`: the value moves with its TTL; renaming a
/// key to itself only checks that it exists.
fn rename_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) -> CmdResult {
    let (src, dst) = (&args[1], &args[2]);
    let done = |renamed: bool| match nx {
        true => Reply::from(renamed),
        false => Reply::OK,
    };
    let mut db = ctx.db();
    if db.get(src).is_none() {
        return Err(Reply::error(ERR_NO_SUCH_KEY));
    }
    if src == dst {
        return Ok(done(false));
    }
    if nx && db.contains(dst) {
        return Ok(done(false));
    }
    let entry = db
        .remove(src)
        .ok_or_else(|| Reply::error(ERR_NO_SUCH_KEY))?;
    // Redis deletes an existing destination before `dbAdd`, so even then
    // the destination is a `new` key.
    db.remove(dst);
    db.set_entry(dst, entry);
    db.notify(notify::GENERIC, "rename_from", src);
    db.notify(notify::GENERIC, "rename_to", dst);
    Ok(done(true))
}

/// MOVE locks its key in both databases.
fn move_locks(keyspace: &Keyspace, db: usize, args: &[&[u8]], set: &mut LockSet) {
    set.add_key(keyspace, db, args[1]);
    if let Ok(target) = db_index_arg(args[2], keyspace.databases()) {
        set.add_key(keyspace, target, args[1]);
    }
}

fn move_(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = &args[1];
    let target = db_index_arg(args[2], ctx.server.keyspace.databases())?;
    if target == ctx.client.db {
        return Err(Reply::error(ERR_SAME_OBJECT));
    }
    if ctx.db().get(key).is_none() || ctx.db_at(target).contains(key) {
        return Ok(Reply::Integer(0));
    }
    let Some(entry) = ctx.db().remove(key) else {
        return Ok(Reply::Integer(0));
    };
    ctx.db_at(target).set_entry(key, entry);
    ctx.db().notify(notify::GENERIC, "move_from", key);
    ctx.db_at(target).notify(notify::GENERIC, "move_to", key);
    Ok(Reply::Integer(1))
}

/// COPY's options: the target database (if given) and REPLACE, parsed in
/// order so the first bad one is reported, as `copyCommand` does.
fn copy_options(options: &[&[u8]], databases: usize) -> Result<(Option<usize>, bool), Reply> {
    let (mut target, mut replace) = (None, false);
    let mut i = 0;
    while i < options.len() {
        if is(options[i], "replace") {
            replace = true;
        } else if is(options[i], "db") && i + 1 < options.len() {
            target = Some(db_index_arg(options[i + 1], databases)?);
            i += 1;
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    Ok((target, replace))
}

/// COPY locks the source, and the destination in its target database.
fn copy_locks(keyspace: &Keyspace, db: usize, args: &[&[u8]], set: &mut LockSet) {
    set.add_key(keyspace, db, args[1]);
    let target = copy_options(&args[3..], keyspace.databases())
        .ok()
        .and_then(|(target, _)| target)
        .unwrap_or(db);
    set.add_key(keyspace, target, args[2]);
}

/// COPY duplicates the value (a new object: fresh access record) and its TTL.
fn copy(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (src, dst) = (&args[1], &args[2]);
    let (target, replace) = copy_options(&args[3..], ctx.server.keyspace.databases())?;
    let target = target.unwrap_or(ctx.client.db);
    if target == ctx.client.db && src == dst {
        return Err(Reply::error(ERR_SAME_OBJECT));
    }
    let Some((value, expires_at)) = read_key(ctx, src, true, |e| (e.value.clone(), e.expires_at()))
    else {
        return Ok(Reply::Integer(0));
    };
    let mut db = ctx.db_at(target);
    if db.contains(dst) {
        if !replace {
            return Ok(Reply::Integer(0));
        }
        // Deleted first, as in Redis, so the copy is a `new` key either way.
        db.remove(dst);
    }
    db.set(dst, value, expires_at);
    db.notify(notify::GENERIC, "copy_to", dst);
    Ok(Reply::Integer(1))
}

fn swapdb(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let a = int32_arg(args[1], Some("ERR invalid first DB index"))?;
    let b = int32_arg(args[2], Some("ERR invalid second DB index"))?;
    let databases = ctx.server.keyspace.databases();
    let index = |n: i32| usize::try_from(n).ok().filter(|&n| n < databases);
    let (Some(a), Some(b)) = (index(a), index(b)) else {
        return Err(Reply::error(ERR_DB_INDEX));
    };
    let clock = ctx.clock();
    ctx.guard().swap_dbs(a, b, clock);
    Ok(Reply::OK)
}

fn keys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let pattern = &args[1];
    let all = &pattern[..] == b"*";
    let mut out = Vec::new();
    ctx.db().for_each_live(|key, _| {
        if all || glob_match(pattern, key, false) {
            out.push(Reply::bulk_copy(key));
        }
    });
    Ok(Reply::Array(out))
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. COUNT bounds the
/// keys examined; MATCH and TYPE filter them afterwards, as in Redis, so a
/// step may return fewer keys (or none) before the cursor reaches 0.
fn scan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = cursor_arg(args[1])?;
    let (mut count, mut pattern, mut type_name) = (10usize, None, None);
    let mut i = 2;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(args[i], "count") && has_value {
            let n = int_arg(args[i + 1])?;
            if n < 1 {
                return Err(syntax_error());
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(args[i], "match") && has_value {
            // A lone "*" matches everything, so it is no filter at all.
            pattern = Some(&args[i + 1]).filter(|p| &p[..] != b"*");
        } else if is(args[i], "type") && has_value {
            type_name = Some(c_string(args[i + 1], usize::MAX));
        } else {
            return Err(syntax_error());
        }
        i += 2;
    }
    let (mut keys, mut expired) = (Vec::new(), Vec::new());
    let mut type_checks = 0;
    let next = ctx.db().scan(cursor, count, |key, entry| {
        if pattern.is_some_and(|p| !glob_match(p, key, false)) {
            return;
        }
        let Some(entry) = entry else {
            // Past its TTL: reclaimed below, as Redis's filter step does.
            expired.push(key.clone());
            return;
        };
        if let Some(t) = type_name {
            // Redis looks the key up again to read its type, a keyspace hit.
            type_checks += 1;
            if !t.eq_ignore_ascii_case(entry.value.type_name().as_bytes()) {
                return;
            }
        }
        keys.push(Reply::bulk_copy(key));
    });
    for _ in 0..type_checks {
        ctx.server.stats.lookup(true);
    }
    // With TYPE, Redis reclaims them in the lookup that reads the type (a
    // keyspace miss); without, in `expireIfNeeded`.
    let mut db = ctx.db();
    for key in expired {
        if type_name.is_some() {
            db.get_read(&key);
        } else {
            db.contains(&key);
        }
    }
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(keys),
    ]))
}

fn randomkey(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(match ctx.db().random_key() {
        Some(key) => Reply::bulk_copy(&key),
        None => Reply::Null,
    })
}

/// Whether the maxmemory policy is an LFU one (`MAXMEMORY_FLAG_LFU`).
fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.server.config.eviction_policy().is_lfu()
}

/// Redis's `shared.integers` refcount (`OBJ_SHARED_REFCOUNT`, INT_MAX).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// `OBJ_SHARED_INTEGERS`: 0..10000 are shared objects in Redis.
const SHARED_INTEGERS: i64 = 10_000;

/// OBJECT REFCOUNT: 1, except for the small integers Redis shares between
/// keys, which it does unless an LRU/LFU policy with a maxmemory limit needs
/// per-key access data (`canUseSharedObject`). (A COPY of a shared integer
/// is a private object with refcount 1 in Redis; we do not track that.)
pub(super) fn refcount(ctx: &Ctx, small_int: bool) -> i64 {
    let policy = ctx.server.config.maxmemory_policy();
    let sharing = ctx.server.config.maxmemory() == 0
        || !(policy.ends_with("-lru") || policy.ends_with("-lfu"));
    if small_int && sharing {
        SHARED_REFCOUNT
    } else {
        1
    }
}

/// Whether Redis would store `value` as one of its shared integer objects.
pub(super) fn is_shared_integer(value: &Value) -> bool {
    matches!(value, Value::String(StringValue::Int(n)) if (0..SHARED_INTEGERS).contains(n))
}

// The OBJECT subcommands look the key up without touching it and answer
// null when it does not exist, before any other check.

fn object_encoding(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    Ok(
        object_lookup(ctx, args[2], false, |e| e.value.encoding_name())
            .map_or(Reply::Null, Reply::bulk),
    )
}

fn object_refcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let Some(small_int) = object_lookup(ctx, args[2], false, |e| is_shared_integer(e.value)) else {
        return Ok(Reply::Null);
    };
    Ok(Reply::from(refcount(ctx, small_int)))
}

fn object_idletime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let now = ctx.server.keyspace.lru_clock.now_ms();
    let Some(idle) = object_lookup(ctx, args[2], false, |e| e.access.idle_secs(now)) else {
        return Ok(Reply::Null);
    };
    if lfu_policy(ctx) {
        return Err(Reply::error(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    Ok(Reply::from(idle as i64))
}

fn object_freq(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let now = ctx.server.keyspace.lru_clock.now_ms();
    let decay = ctx.server.config.lfu_decay_time();
    let Some(freq) = object_lookup(ctx, args[2], false, |e| e.access.frequency(now, decay)) else {
        return Ok(Reply::Null);
    };
    if !lfu_policy(ctx) {
        return Err(Reply::error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    Ok(Reply::from(i64::from(freq)))
}

fn object_help(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        args[0],
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    ))
}

/// DUMP key: the value in Redis's payload form (`createDumpPayload`),
/// compressed as `rdbcompression` says, as Redis's.
fn dump(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let compress = ctx.server.config.rdbcompression();
    Ok(
        read_key(ctx, args[1], true, |e| crate::rdb::dump(e.value, compress))
            .map_or(Reply::Null, |payload| Reply::Bulk(Bytes::from(payload))),
    )
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], with
/// Redis's `restoreCommand` checks in its order: options, BUSYKEY, TTL,
/// payload version and checksum, then the value itself. A TTL already in
/// the past stores nothing (a replaced key is deleted, propagated as DEL).
fn restore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let mut i = 4;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(args[i], "replace") {
            replace = true;
        } else if is(args[i], "absttl") {
            absttl = true;
        } else if is(args[i], "idletime") && more && freq.is_none() {
            let v = int_arg(args[i + 1])?;
            if v < 0 {
                return Err(Reply::error("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v as u64);
            i += 1;
        } else if is(args[i], "freq") && more && idle.is_none() {
            let v = int_arg(args[i + 1])?;
            let Ok(v) = u8::try_from(v) else {
                return Err(Reply::error(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            };
            freq = Some(v);
            i += 1;
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    if !replace && ctx.db().contains(key) {
        return Err(Reply::error("BUSYKEY Target key name already exists."));
    }
    let ttl = int_arg(args[2])?;
    if ttl < 0 {
        return Err(Reply::error("ERR Invalid TTL value, must be >= 0"));
    }
    let limits = crate::persistence::load_limits(ctx.server);
    // Unlike loading a file, RESTORE checks the CRC whatever `rdbchecksum` says.
    let checksum = !ctx.server.skip_checksum_validation.load(Ordering::Relaxed);
    let value =
        crate::rdb::restore(args[3], &limits, checksum).map_err(|e| Reply::error(e.message()))?;
    let policy = ctx.server.config.maxmemory_policy();
    let now = ctx.now_ms();
    let lru_now = ctx.server.keyspace.lru_clock.now_ms();
    let expiring = ctx.clock().expires_keys();
    let mut db = ctx.db();
    let deleted = replace && db.remove(key).is_some();
    let expires_at = match ttl {
        0 => None,
        t if absttl => Some(t as u64),
        t => Some(now.saturating_add(t as u64)),
    };
    if expires_at.is_some_and(|at| at <= now) && expiring {
        if deleted {
            db.notify(notify::GENERIC, "del", key);
            ctx.propagate_as(|| argv(&[b"DEL", key]));
        }
        return Ok(Reply::OK);
    }
    // Redis's `objectSetLRUOrLFU`: FREQ under an LFU policy, IDLETIME
    // under any other, from the LRU clock OBJECT IDLETIME reads.
    let mut entry = Entry::new(value, expires_at, lru_now);
    if policy.contains("lfu") {
        if let Some(f) = freq {
            entry.access.set_frequency(f, lru_now);
        }
    } else if let Some(s) = idle {
        entry.access.set_idle(s, lru_now);
    }
    db.set_entry(key, entry);
    db.notify(notify::GENERIC, "restore", key);
    if let (Some(at), false) = (expires_at, absttl) {
        // Propagated with the absolute time, ABSTTL appended, as Redis.
        ctx.propagate_as(|| {
            let mut out: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
            out[2] = Bytes::from(at.to_string());
            out.push(Bytes::from_static(b"ABSTTL"));
            out
        });
    }
    Ok(Reply::OK)
}
