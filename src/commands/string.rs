//! String commands (Redis's t_string.c).
//!
//! Every handler follows its Redis counterpart step by step, because the order
//! of checks is visible: which error wins, whether a missing key short-cuts a
//! bad argument, which lookups count as keyspace hits or misses.

use bytes::{Bytes, BytesMut};

use super::args::{checked, checked_mut, int_arg, is, syntax_error, ERR_OVERFLOW};
use super::{argv, cmd, deletion, CmdResult, Ctx, Registration};
use crate::config::notify;
use crate::keyspace::{CommandClock, DbView, StringValue, Value};
use crate::number::incr_by_float;
use crate::protocol::Reply;
use crate::server::Server;

pub static COMMANDS: &[Registration] = &[
    cmd("append", append),
    cmd("decr", decr),
    cmd("decrby", decrby),
    cmd("get", get),
    cmd("getdel", getdel),
    cmd("getex", getex),
    cmd("getrange", getrange),
    cmd("getset", getset),
    cmd("incr", incr),
    cmd("incrby", incrby),
    cmd("incrbyfloat", incrbyfloat),
    cmd("lcs", lcs),
    cmd("mget", mget),
    cmd("mset", mset),
    cmd("msetnx", msetnx),
    cmd("psetex", psetex),
    cmd("set", set),
    cmd("setex", setex),
    cmd("setnx", setnx),
    cmd("setrange", setrange),
    cmd("strlen", strlen),
    cmd("substr", getrange),
];

const ERR_STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// Redis `lookupKeyRead` then `checkType`: what `read` makes of the string at
/// `key`, if any. Counts a keyspace hit when the key exists (whatever its
/// type) and a miss otherwise.
fn read_string<T>(
    ctx: &mut Ctx,
    key: &[u8],
    read: impl FnOnce(&StringValue) -> T,
) -> Result<Option<T>, Reply> {
    let found = ctx
        .db()
        .get_read(key)
        .map(|e| checked::<StringValue>(e.value).map(read));
    ctx.server.stats.lookup(found.is_some());
    found.transpose()
}

/// Redis `getGenericCommand`: GET's reply for `key` (shared by GETSET, GETDEL, SET ... GET).
fn get_reply(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    Ok(read_string(ctx, key, StringValue::to_bytes)?.map_or(Reply::Null, Reply::Bulk))
}

/// A client argument as SET, MSET, GETSET and APPEND store it: copied out of
/// the request buffer and encoded by `tryObjectEncoding` (int, embstr or raw).
fn stored(arg: &[u8]) -> Value {
    Value::String(StringValue::from_bytes(arg))
}

/// Redis `dbOverwrite` / `dbAdd` as INCR and INCRBYFLOAT use them: replaces
/// the value but keeps the key's TTL.
fn overwrite(db: &mut DbView, key: &[u8], value: Value) {
    match db.get_mut(key) {
        Some(slot) => *slot = value,
        None => {
            db.set(key, value, None);
        }
    }
}

/// Redis `checkStringLength`: the size a string would grow to must not exceed
/// proto-max-bulk-len (overflow included).
fn check_length(server: &Server, size: u64, append: u64) -> Result<(), Reply> {
    let max = server.config.proto_max_bulk_len();
    match size.checked_add(append) {
        Some(total) if total <= max => Ok(()),
        _ => Err(Reply::error(ERR_STRING_TOO_LONG)),
    }
}

fn get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    get_reply(ctx, args[1])
}

fn getdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let reply = get_reply(ctx, args[1])?;
    if !matches!(reply, Reply::Null) && ctx.db().delete(args[1]) {
        let lazy = ctx.server.config.lazyfree_lazy_user_del();
        ctx.propagate_as(|| argv(&[deletion(lazy), args[1]]));
    }
    Ok(reply)
}

/// Like Redis's `getsetCommand`: the new value replaces the TTL too.
fn getset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let reply = get_reply(ctx, args[1])?;
    ctx.db().set(args[1], stored(args[2]), None);
    ctx.notify(notify::STRING, "set", args[1]);
    ctx.propagate_as(|| argv(&[b"SET", args[1], args[2]]));
    Ok(reply)
}

/// How an expiry option counts (Redis `OBJ_EX`, `OBJ_PX`, `OBJ_EXAT`, `OBJ_PXAT`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expire {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl Expire {
    fn named(opt: &[u8]) -> Option<Expire> {
        [
            ("EX", Expire::Ex),
            ("PX", Expire::Px),
            ("EXAT", Expire::ExAt),
            ("PXAT", Expire::PxAt),
        ]
        .into_iter()
        .find(|(name, _)| is(opt, name))
        .map(|(_, kind)| kind)
    }

    fn in_seconds(self) -> bool {
        matches!(self, Expire::Ex | Expire::ExAt)
    }

    fn is_relative(self) -> bool {
        matches!(self, Expire::Ex | Expire::Px)
    }

    /// Redis `getExpireMillisecondsOrReply`: the absolute unix-ms time the
    /// option asks for. Zero, negative and overflowing times are refused with
    /// the command's name in the error.
    fn at(self, arg: &[u8], now_ms: u64, command: &str) -> Result<u64, Reply> {
        let invalid =
            || Reply::error_owned(format!("ERR invalid expire time in '{command}' command"));
        let n = int_arg(arg)?;
        if n <= 0 || (self.in_seconds() && n > i64::MAX / 1000) {
            return Err(invalid());
        }
        let mut ms = if self.in_seconds() { n * 1000 } else { n };
        if self.is_relative() {
            // Redis adds without an overflow check and refuses a wrapped (negative) sum.
            ms = ms.wrapping_add(i64::try_from(now_ms).unwrap_or(i64::MAX));
        }
        u64::try_from(ms)
            .ok()
            .filter(|&ms| ms > 0)
            .ok_or_else(invalid)
    }
}

/// The options of SET and GETEX (Redis `parseExtendedStringArgumentsOrReply`).
#[derive(Default)]
struct SetOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<(Expire, &'a [u8])>,
    /// The command named in "invalid expire time" errors.
    command: &'static str,
}

impl<'a> SetOptions<'a> {
    /// Parses SET's options (`for_set`) or GETEX's. As in Redis, an option is a
    /// syntax error when it conflicts with one seen before (NX after XX, PX
    /// after EX, ...), while repeating the same one is fine (the last value wins).
    fn parse(opts: &'a [&'a [u8]], for_set: bool) -> Result<SetOptions<'a>, Reply> {
        let mut o = SetOptions {
            command: if for_set { "set" } else { "getex" },
            ..SetOptions::default()
        };
        let mut i = 0;
        while i < opts.len() {
            let opt = &opts[i];
            let expire = Expire::named(opt).filter(|&kind| {
                !o.keep_ttl && !o.persist && o.expire.is_none_or(|(seen, _)| seen == kind)
            });
            if for_set && is(opt, "NX") && !o.xx {
                o.nx = true;
            } else if for_set && is(opt, "XX") && !o.nx {
                o.xx = true;
            } else if for_set && is(opt, "GET") {
                o.get = true;
            } else if for_set && is(opt, "KEEPTTL") && o.expire.is_none() {
                o.keep_ttl = true;
            } else if !for_set && is(opt, "PERSIST") && o.expire.is_none() {
                o.persist = true;
            } else if let (Some(kind), Some(value)) = (expire, opts.get(i + 1)) {
                o.expire = Some((kind, value));
                i += 1;
            } else {
                return Err(syntax_error());
            }
            i += 1;
        }
        Ok(o)
    }

    /// The expiry asked for, if any (only then is the clock read).
    fn expires_at(&self, clock: &CommandClock) -> Result<Option<u64>, Reply> {
        self.expire
            .map(|(kind, arg)| kind.at(arg, clock.now_ms(), self.command))
            .transpose()
    }
}

/// Redis `setGenericCommand`, behind SET, SETNX, SETEX and PSETEX: `ok` is the
/// reply after setting, `abort` the one when NX/XX prevents it. With GET the
/// old value is the reply either way (and WRONGTYPE stops everything).
fn set_generic(
    ctx: &mut Ctx,
    opts: &SetOptions,
    key: &[u8],
    value: &[u8],
    ok: Reply,
    abort: Reply,
) -> CmdResult {
    let expires_at = opts.expires_at(ctx.clock())?;
    let old = if opts.get {
        Some(get_reply(ctx, key)?)
    } else {
        None
    };
    let mut db = ctx.db();
    let existing = db.get(key).map(|e| e.expires_at());
    if (opts.nx && existing.is_some()) || (opts.xx && existing.is_none()) {
        return Ok(old.unwrap_or(abort));
    }
    let ttl = match expires_at {
        None if opts.keep_ttl => existing.flatten(),
        ttl => ttl,
    };
    db.set_looked_up(key, stored(value), ttl);
    db.notify(notify::STRING, "set", key);
    if let Some(at) = expires_at {
        db.notify(notify::GENERIC, "expire", key);
        // Replicas and the AOF must not count the TTL from their own now.
        ctx.propagate_as(|| argv(&[b"SET", key, value, b"PXAT", at.to_string().as_bytes()]));
    }
    Ok(old.unwrap_or(ok))
}

fn set(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let opts = SetOptions::parse(&args[3..], true)?;
    let reply = set_generic(ctx, &opts, args[1], args[2], Reply::OK, Reply::Null)?;
    if opts.get && opts.expire.is_none() {
        // Propagated without its GETs, which only shape the reply.
        let kept: Vec<&[u8]> = (args.iter().enumerate())
            .filter(|(i, a)| *i < 3 || !is(a, "GET"))
            .map(|(_, a)| *a)
            .collect();
        ctx.propagate_as(|| argv(&kept));
    }
    Ok(reply)
}

fn setnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let opts = SetOptions {
        nx: true,
        ..SetOptions::default()
    };
    set_generic(
        ctx,
        &opts,
        args[1],
        args[2],
        Reply::Integer(1),
        Reply::Integer(0),
    )
}

/// SETEX and PSETEX: SET with EX or PX, the error naming the command.
fn set_expiring(ctx: &mut Ctx, args: &[&[u8]], kind: Expire, command: &'static str) -> CmdResult {
    let opts = SetOptions {
        expire: Some((kind, args[2])),
        command,
        ..SetOptions::default()
    };
    set_generic(ctx, &opts, args[1], args[3], Reply::OK, Reply::Null)
}

fn setex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    set_expiring(ctx, args, Expire::Ex, "setex")
}

fn psetex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    set_expiring(ctx, args, Expire::Px, "psetex")
}

/// Redis `getexCommand`: options are checked first, then the key (a missing
/// key answers nil even with a bad expiry), then the expiry value. An EXAT or
/// PXAT already in the past deletes the key after replying with its value.
fn getex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let opts = SetOptions::parse(&args[2..], false)?;
    let Some(value) = read_string(ctx, args[1], StringValue::to_bytes)? else {
        return Ok(Reply::Null);
    };
    let expires_at = opts.expires_at(ctx.clock())?;
    let now = ctx.now_ms();
    let expiring = ctx.clock().expires_keys();
    let key = args[1];
    let mut db = ctx.db();
    // Never propagated as itself: as the DEL, PEXPIREAT or PERSIST it did.
    match (opts.expire, expires_at) {
        (Some((kind, _)), Some(at)) if !kind.is_relative() && at <= now && expiring => {
            db.delete(key);
            let lazy = ctx.server.config.lazyfree_lazy_expire();
            ctx.propagate_as(|| argv(&[deletion(lazy), key]));
        }
        (_, Some(at)) => {
            db.set_expiry(key, Some(at));
            db.notify(notify::GENERIC, "expire", key);
            ctx.propagate_as(|| argv(&[b"PEXPIREAT", key, at.to_string().as_bytes()]));
        }
        _ if opts.persist => {
            let had_ttl = db.peek(key).is_some_and(|e| e.expires_at().is_some());
            db.set_expiry(key, None);
            if had_ttl {
                db.notify(notify::GENERIC, "persist", key);
                ctx.propagate_as(|| argv(&[b"PERSIST", key]));
            }
        }
        _ => {}
    }
    Ok(Reply::Bulk(value))
}

fn mget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    let stats = &server.stats;
    let mut db = ctx.db();
    let replies = args[1..]
        .iter()
        .map(|key| {
            let found = db.get_read(key).map(|e| {
                // MGET answers nil for a key of another type instead of failing.
                checked::<StringValue>(e.value).map_or(Reply::Null, |s| Reply::Bulk(s.to_bytes()))
            });
            stats.lookup(found.is_some());
            found.unwrap_or(Reply::Null)
        })
        .collect();
    Ok(Reply::Array(replies))
}

/// Redis `msetGenericCommand`. The arity check only enforces "at least 3", so
/// an unpaired key gets the arity error here; MSETNX sets nothing if any key exists.
fn mset_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) -> Result<bool, Reply> {
    if args.len().is_multiple_of(2) {
        let name = if nx { "msetnx" } else { "mset" };
        return Err(Reply::error_owned(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    let mut db = ctx.db();
    if nx && args[1..].iter().step_by(2).any(|key| db.contains(key)) {
        return Ok(false);
    }
    for pair in args[1..].chunks_exact(2) {
        db.set(pair[0], stored(pair[1]), None);
        db.notify(notify::STRING, "set", pair[0]);
    }
    Ok(true)
}

fn mset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, args, false).map(|_| Reply::OK)
}

fn msetnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    mset_generic(ctx, args, true).map(Reply::from)
}

/// Redis `incrDecrCommand`: the value must be a canonical i64 (string2ll),
/// the sum must not overflow, the result is "int" encoded and keeps the TTL.
fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let mut db = ctx.db();
    let current = match db.get(key) {
        None => 0,
        Some(e) => match checked::<StringValue>(e.value)? {
            StringValue::Int(n) => *n,
            StringValue::Embstr(s) => int_arg(s)?,
            StringValue::Raw(b) => int_arg(b)?,
        },
    };
    let value = current
        .checked_add(by)
        .ok_or_else(|| Reply::error(ERR_OVERFLOW))?;
    overwrite(&mut db, key, Value::String(StringValue::Int(value)));
    db.notify(notify::STRING, "incrby", key);
    Ok(Reply::Integer(value))
}

fn incr(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], 1)
}

fn decr(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], -1)
}

fn incrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = int_arg(args[2])?;
    incr_by(ctx, args[1], by)
}

/// DECRBY refuses i64::MIN itself, since its negation overflows (Redis 7.0 `decrbyCommand`).
fn decrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = int_arg(args[2])?;
    let by = by
        .checked_neg()
        .ok_or_else(|| Reply::error("ERR decrement would overflow"))?;
    incr_by(ctx, args[1], by)
}

/// Redis `incrbyfloatCommand`: type check first, then both operands; the
/// result text (long double arithmetic) is stored without trying the integer
/// encoding, so "3" ends up "embstr" as in Redis. The TTL is kept.
fn incrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let current = match db.get(args[1]) {
        None => None,
        Some(e) => Some(checked::<StringValue>(e.value)?.to_bytes()),
    };
    let sum = incr_by_float(current.as_deref().unwrap_or(b"0"), args[2])
        .map_err(|e| Reply::error(e.message()))?;
    let sum = Bytes::from(sum);
    overwrite(
        &mut db,
        args[1],
        Value::String(StringValue::from_bytes_no_int(&sum)),
    );
    db.notify(notify::STRING, "incrbyfloat", args[1]);
    // The result, not the increment: float formatting must not differ on replay.
    ctx.propagate_as(|| argv(&[b"SET", args[1], &sum, b"KEEPTTL"]));
    Ok(Reply::Bulk(sum))
}

/// Redis `appendCommand`: a new key gets the argument with the usual encoding;
/// an existing string grows in place and becomes "raw", even by nothing.
fn append(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, tail) = (&args[1], &args[2]);
    let server = ctx.server;
    let mut db = ctx.db();
    let s = match db.get_mut(key) {
        None => {
            let value = stored(tail);
            db.set(key, value, None);
            db.notify(notify::STRING, "append", key);
            return Ok(Reply::from(tail.len()));
        }
        Some(value) => checked_mut::<StringValue>(value)?,
    };
    check_length(server, s.len() as u64, tail.len() as u64)?;
    let mut buf = s.take_raw_mut();
    buf.extend_from_slice(tail);
    let len = buf.len();
    *s = StringValue::Raw(buf.freeze());
    db.notify(notify::STRING, "append", key);
    Ok(Reply::from(len))
}

/// Redis `setrangeCommand`. Setting nothing answers the current length without
/// touching the key (0 and no key when it is missing); otherwise the string is
/// zero-padded up to `offset` and ends up "raw".
fn setrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, patch) = (&args[1], &args[3]);
    let offset = int_arg(args[2])?;
    let offset = usize::try_from(offset).map_err(|_| Reply::error("ERR offset is out of range"))?;
    let server = ctx.server;
    let end_check = || check_length(server, offset as u64, patch.len() as u64);
    let mut db = ctx.db();
    let mut buf = match db.get_mut(key) {
        None if patch.is_empty() => return Ok(Reply::Integer(0)),
        None => {
            end_check()?;
            BytesMut::new()
        }
        Some(value) => {
            let s = checked_mut::<StringValue>(value)?;
            if patch.is_empty() {
                let len = s.len();
                db.unchanged(key);
                return Ok(Reply::from(len));
            }
            end_check()?;
            s.take_raw_mut()
        }
    };
    let end = offset + patch.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[offset..end].copy_from_slice(patch);
    let len = buf.len();
    overwrite(&mut db, key, Value::String(StringValue::Raw(buf.freeze())));
    db.notify(notify::STRING, "setrange", key);
    Ok(Reply::from(len))
}

/// Redis `getrangeCommand` (also SUBSTR): both indexes are parsed before the
/// lookup, negative ones count from the end, and a missing key or empty range
/// answers an empty string (not nil). Int-encoded values use their decimal text.
fn getrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = int_arg(args[2])?;
    let end = int_arg(args[3])?;
    let empty = Reply::Bulk(Bytes::new());
    let Some(bytes) = read_string(ctx, args[1], StringValue::to_bytes)? else {
        return Ok(empty);
    };
    if start < 0 && end < 0 && start > end {
        return Ok(empty);
    }
    let len = bytes.len() as i64;
    let from_end = |i: i64| if i < 0 { len.wrapping_add(i).max(0) } else { i };
    let start = from_end(start);
    let end = from_end(end).min(len - 1);
    if len == 0 || start > end {
        return Ok(empty);
    }
    // 0 <= start <= end < len here.
    Ok(Reply::Bulk(bytes.slice(start as usize..=end as usize)))
}

fn strlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    Ok(Reply::from(
        read_string(ctx, args[1], StringValue::len)?.unwrap_or(0),
    ))
}

/// LCS's options (Redis `lcsCommand`).
#[derive(Default)]
struct LcsOptions {
    idx: bool,
    len: bool,
    with_match_len: bool,
    min_match_len: i64,
}

impl LcsOptions {
    fn parse(opts: &[&[u8]]) -> Result<LcsOptions, Reply> {
        let mut o = LcsOptions::default();
        let mut i = 0;
        while i < opts.len() {
            let opt = &opts[i];
            if is(opt, "IDX") {
                o.idx = true;
            } else if is(opt, "LEN") {
                o.len = true;
            } else if is(opt, "WITHMATCHLEN") {
                o.with_match_len = true;
            } else if let (true, Some(value)) = (is(opt, "MINMATCHLEN"), opts.get(i + 1)) {
                o.min_match_len = int_arg(value)?.max(0);
                i += 1;
            } else {
                return Err(syntax_error());
            }
            i += 1;
        }
        if o.idx && o.len {
            return Err(Reply::error(
                "ERR If you want both the length and indexes, please just use IDX.",
            ));
        }
        Ok(o)
    }
}

/// The dynamic-programming table of Redis's LCS: cell (i, j) is the length of
/// the longest common subsequence of `a[..i]` and `b[..j]`.
struct LcsTable {
    cells: Vec<u32>,
    width: usize,
}

impl LcsTable {
    /// Builds the table, refusing (with Redis's errors) one whose size would
    /// exceed proto-max-bulk-len or that cannot be allocated.
    fn build(a: &[u8], b: &[u8], max_bytes: u64) -> Result<LcsTable, Reply> {
        let limit = u64::from(u32::MAX) - 1;
        if a.len() as u64 >= limit || b.len() as u64 >= limit {
            return Err(Reply::error("ERR String too long for LCS"));
        }
        let failed =
            || Reply::error("ERR Insufficient memory, failed allocating transient memory for LCS");
        let width = b.len() + 1;
        let cells = (a.len() as u64 + 1) * width as u64;
        let bytes = cells.checked_mul(4).ok_or_else(failed)?;
        if bytes > max_bytes {
            return Err(Reply::error(
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
            ));
        }
        let cells = usize::try_from(cells).map_err(|_| failed())?;
        let mut table = Vec::new();
        table.try_reserve_exact(cells).map_err(|_| failed())?;
        table.resize(cells, 0u32);
        for (i, &ca) in a.iter().enumerate() {
            let (prev, cur) = table[i * width..(i + 2) * width].split_at_mut(width);
            for (j, &cb) in b.iter().enumerate() {
                cur[j + 1] = if ca == cb {
                    prev[j] + 1
                } else {
                    prev[j + 1].max(cur[j])
                };
            }
        }
        Ok(LcsTable {
            cells: table,
            width,
        })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }
}

/// One IDX match: ranges in `a` and `b` (inclusive).
struct LcsMatch {
    a: (usize, usize),
    b: (usize, usize),
}

impl LcsMatch {
    fn len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }
}

/// Redis `lcsCommand`. Both keys are looked up (and counted) before anything
/// else; the table is walked back from the end exactly as Redis does, so ties
/// resolve the same way and matches come out last to first.
fn lcs(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let a = read_string(ctx, args[1], StringValue::to_bytes);
    let b = read_string(ctx, args[2], StringValue::to_bytes);
    let (Ok(a), Ok(b)) = (a, b) else {
        return Err(Reply::error(
            "ERR The specified keys must contain string values",
        ));
    };
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    let opts = LcsOptions::parse(&args[3..])?;
    let table = LcsTable::build(&a, &b, ctx.server.config.proto_max_bulk_len())?;
    let total = table.at(a.len(), b.len());
    if opts.len {
        return Ok(Reply::Integer(i64::from(total)));
    }

    let mut result = vec![0u8; total as usize];
    let mut matches = Vec::new();
    let mut pos = result.len();
    let (mut i, mut j) = (a.len(), b.len());
    // The range being extended backwards, if any.
    let mut range: Option<LcsMatch> = None;
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[pos - 1] = a[i - 1];
            match &mut range {
                None => {
                    range = Some(LcsMatch {
                        a: (i - 1, i - 1),
                        b: (j - 1, j - 1),
                    })
                }
                Some(r) if r.a.0 == i && r.b.0 == j => {
                    r.a.0 -= 1;
                    r.b.0 -= 1;
                }
                Some(_) => emit = true,
            }
            // Matched the first byte of either string: the walk ends here.
            if range.as_ref().is_some_and(|r| r.a.0 == 0 || r.b.0 == 0) {
                emit = true;
            }
            pos -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table.at(i - 1, j) > table.at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = range.is_some();
        }
        if emit {
            if let Some(r) = range.take() {
                if opts.min_match_len == 0 || r.len() as i64 >= opts.min_match_len {
                    matches.push(r);
                }
            }
        }
    }

    if !opts.idx {
        return Ok(Reply::Bulk(Bytes::from(result)));
    }
    let pair = |(x, y): (usize, usize)| Reply::Array(vec![Reply::from(x), Reply::from(y)]);
    let matches = matches
        .into_iter()
        .map(|m| {
            let mut item = vec![pair(m.a), pair(m.b)];
            if opts.with_match_len {
                item.push(Reply::from(m.len()));
            }
            Reply::Array(item)
        })
        .collect();
    Ok(Reply::Map(vec![
        (
            Reply::bulk(Bytes::from_static(b"matches")),
            Reply::Array(matches),
        ),
        (
            Reply::bulk(Bytes::from_static(b"len")),
            Reply::Integer(i64::from(total)),
        ),
    ]))
}
