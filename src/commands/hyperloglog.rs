//! HyperLogLog commands (Redis's hyperloglog.c): PFADD, PFCOUNT, PFMERGE,
//! PFDEBUG, PFSELFTEST. A HyperLogLog is a string in Redis's representation
//! ([`crate::types::hyperloglog`]), changed in place and left "raw".

use bytes::{Bytes, BytesMut};

use super::args::{checked, checked_mut, error_format, is};
use super::{cmd, CmdResult, Ctx, Registration};
use crate::config::notify;
use crate::keyspace::{StringValue, Value};
use crate::protocol::Reply;
use crate::types::hyperloglog::{self as hll, Corrupt, REGISTERS};

pub static COMMANDS: &[Registration] = &[
    cmd("pfadd", pfadd),
    cmd("pfcount", pfcount),
    cmd("pfdebug", pfdebug),
    cmd("pfmerge", pfmerge),
    cmd("pfselftest", pfselftest),
];

const ERR_CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";
const ERR_NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";

fn corrupt(_: Corrupt) -> Reply {
    Reply::error(ERR_CORRUPT)
}

/// Redis `isHLLObjectOrReply`: the value's bytes if it is a string holding
/// a HyperLogLog (an "int" never does).
fn hll_bytes(value: &Value) -> Result<&[u8], Reply> {
    checked::<StringValue>(value)?
        .as_sds()
        .filter(|bytes| hll::is_hll(bytes))
        .ok_or_else(|| Reply::error(ERR_NOT_HLL))
}

/// [`hll_bytes`] for changing the HLL in place: its buffer, unshared and to
/// be stored back raw (Redis's `dbUnshareStringValue`).
fn hll_mut(value: &mut Value) -> Result<&mut StringValue, Reply> {
    hll_bytes(value)?;
    checked_mut::<StringValue>(value)
}

/// Runs `f` on the HLL buffer taken out of `s` and stores it back raw,
/// whatever `f` answers (Redis edits in place: a corrupt HLL found half-way
/// keeps what was done to it).
fn edit<T>(s: &mut StringValue, f: impl FnOnce(&mut BytesMut) -> T) -> T {
    let mut buf = s.take_raw_mut();
    let out = f(&mut buf);
    *s = StringValue::Raw(buf.freeze());
    out
}

/// Redis `pfaddCommand`: answers 1 if a register rose (or the key was
/// created), which is when it counts as changed, invalidates the cached
/// count and fires `pfadd`.
fn pfadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let sparse_max = ctx.server.config.hll_sparse_max_bytes();
    let add_all = |buf: &mut BytesMut| -> Result<u64, Corrupt> {
        let mut raised = 0;
        for element in &args[2..] {
            raised += u64::from(hll::add(buf, element, sparse_max)?);
        }
        if raised > 0 {
            hll::invalidate_cache(buf);
        }
        Ok(raised)
    };
    let mut db = ctx.db();
    let updated = match db.get_mut(key) {
        None => {
            let mut buf = hll::new_sparse();
            let raised = add_all(&mut buf).map_err(corrupt)?;
            hll::invalidate_cache(&mut buf);
            db.set(key, Value::String(StringValue::Raw(buf.freeze())), None);
            raised + 1
        }
        Some(value) => {
            let s = hll_mut(value)?;
            let raised = edit(s, add_all).map_err(corrupt)?;
            if raised == 0 {
                db.unchanged(key);
            }
            raised
        }
    };
    if updated == 0 {
        return Ok(Reply::Integer(0));
    }
    db.add_changes(updated - 1);
    db.notify(notify::STRING, "pfadd", key);
    Ok(Reply::Integer(1))
}

/// Redis `pfcountCommand`. One key: the cached count, or a fresh estimate
/// written back as the cache, which changes the string (so it counts as a
/// change and PFCOUNT is propagated, though Redis flags it read-only).
/// Several keys: the estimate of their union, nothing written.
fn pfcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 2 {
        let mut max = [0u8; REGISTERS];
        merge_sources(ctx, &args[1..], &mut max)?;
        return Ok(Reply::Integer(hll::count_registers(&max) as i64));
    }
    let key = args[1];
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    let Some(value) = db.get_mut(key) else {
        stats.lookup(false);
        db.notify(notify::KEY_MISS, "keymiss", key);
        return Ok(Reply::Integer(0));
    };
    stats.lookup(true);
    let s = hll_mut(value)?;
    let counted = edit(s, |buf| match hll::cached_count(buf) {
        Some(count) => Ok((count, false)),
        None => {
            let count = hll::count(buf)?;
            hll::set_cached_count(buf, count);
            Ok((count, true))
        }
    });
    let (count, written) = counted.map_err(corrupt)?;
    if !written {
        db.unchanged(key);
    }
    Ok(Reply::Integer(count as i64))
}

/// Raises `max` to the registers of each HLL in `keys` (Redis's merge loop
/// of PFCOUNT and PFMERGE: missing keys are empty HLLs, each lookup counts
/// as a read). Returns whether any of them is dense.
fn merge_sources(ctx: &mut Ctx, keys: &[&[u8]], max: &mut [u8; REGISTERS]) -> Result<bool, Reply> {
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    let mut any_dense = false;
    for key in keys {
        let found = db.get_read(key);
        stats.lookup(found.is_some());
        let Some(entry) = found else { continue };
        let bytes = hll_bytes(entry.value)?;
        any_dense |= !hll::is_sparse(bytes);
        hll::merge_into(max, bytes).map_err(corrupt)?;
    }
    Ok(any_dense)
}

/// Redis `pfmergeCommand`: the destination (one of the sources too) gets
/// the registers' maximum, dense if any source was; always a change.
fn pfmerge(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut max = [0u8; REGISTERS];
    let use_dense = merge_sources(ctx, &args[1..], &mut max)?;
    let dest = args[1];
    let sparse_max = ctx.server.config.hll_sparse_max_bytes();
    let fill = |buf: &mut BytesMut| -> Result<(), Corrupt> {
        if use_dense {
            hll::to_dense(buf)?;
        }
        for (i, &m) in max.iter().enumerate() {
            if m != 0 {
                // The destination was checked as a source: no error here.
                let _ = hll::set_register(buf, i, m, sparse_max);
            }
        }
        hll::invalidate_cache(buf);
        Ok(())
    };
    let mut db = ctx.db();
    match db.get_mut(dest) {
        None => {
            let mut buf = hll::new_sparse();
            fill(&mut buf).map_err(corrupt)?;
            db.set(dest, Value::String(StringValue::Raw(buf.freeze())), None);
        }
        Some(value) => {
            let s = checked_mut::<StringValue>(value)?;
            edit(s, fill).map_err(corrupt)?;
        }
    }
    db.notify(notify::STRING, "pfadd", dest);
    Ok(Reply::OK)
}

/// Redis `pfdebugCommand`: GETREG, DECODE, ENCODING, TODENSE on an
/// existing HLL. The key is checked (and made raw) before the subcommand
/// is; turning a sparse HLL dense counts as a change but is not signalled.
fn pfdebug(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (sub, key) = (args[1], args[2]);
    let mut db = ctx.db();
    let Some(value) = db.get_mut(key) else {
        return Err(Reply::error("ERR The specified key does not exist"));
    };
    let s = hll_mut(value)?;
    let mut converted = false;
    let reply = edit(s, |buf| -> CmdResult {
        if is(sub, "getreg") {
            converted = hll::to_dense(buf).map_err(corrupt)?;
            let registers = hll::dense_registers(buf);
            Ok(Reply::Array(
                registers
                    .iter()
                    .map(|&r| Reply::Integer(i64::from(r)))
                    .collect(),
            ))
        } else if is(sub, "decode") {
            if !hll::is_sparse(buf) {
                return Err(Reply::error("ERR HLL encoding is not sparse"));
            }
            Ok(Reply::Bulk(Bytes::from(hll::decode(buf))))
        } else if is(sub, "encoding") {
            Ok(Reply::simple(if hll::is_sparse(buf) {
                "sparse"
            } else {
                "dense"
            }))
        } else if is(sub, "todense") {
            converted = hll::to_dense(buf).map_err(corrupt)?;
            Ok(Reply::Integer(i64::from(converted)))
        } else {
            Err(error_format(&[
                b"ERR Unknown PFDEBUG subcommand '",
                sub,
                b"'",
            ]))
        }
    });
    // Redis counts the conversion (so it is propagated) without signalling
    // the key: WATCH does not hear of it.
    db.unchanged(key);
    if converted {
        db.add_changes(1);
    }
    reply
}

/// Redis `pfselftestCommand`.
fn pfselftest(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    hll::self_test(ctx.server.config.hll_sparse_max_bytes())
        .map(|()| Reply::OK)
        .map_err(Reply::error_owned)
}
