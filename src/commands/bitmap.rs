//! Bitmap commands (Redis's bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD and BITFIELD_RO. A bitmap is a plain string; the bit
//! arithmetic is in [`crate::types::bitmap`].
//!
//! As in string.rs, each handler follows its Redis counterpart's order of
//! checks, since which error wins (or whether a missing key answers before
//! a bad argument is noticed) is visible to clients.

use bytes::{Bytes, BytesMut};

use super::args::{checked, checked_mut, int_arg, is, syntax_error, ERR_NOT_INTEGER};
use super::table::c_string;
use super::{cmd, CmdResult, Ctx, Registration};
use crate::config::notify;
use crate::keyspace::{StringValue, Value};
use crate::number::parse_i64;
use crate::protocol::Reply;
use crate::types::bitmap::{self, Overflow};

pub static COMMANDS: &[Registration] = &[
    cmd("bitcount", bitcount),
    cmd("bitfield", bitfield),
    cmd("bitfield_ro", bitfield_ro),
    cmd("bitop", bitop),
    cmd("bitpos", bitpos),
    cmd("getbit", getbit),
    cmd("setbit", setbit),
];

const ERR_BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// Redis `getBitOffsetFromArgument`: a bit offset whose byte lies below
/// `proto-max-bulk-len` (512 MB by default), so no client number can ask for
/// a bigger string than a client could send. With `hash_bits` (BITFIELD), an
/// offset written `#n` counts in fields of that width (multiplied as C does,
/// wrapping, then refused if negative).
fn bit_offset(ctx: &Ctx, arg: &[u8], hash_bits: Option<u32>) -> Result<u64, Reply> {
    let (digits, width) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    let offset = parse_i64(digits)
        .ok_or_else(|| Reply::error(ERR_BIT_OFFSET))?
        .wrapping_mul(width);
    match u64::try_from(offset) {
        Ok(offset) if (offset >> 3) < ctx.server.config.proto_max_bulk_len() => Ok(offset),
        _ => Err(Reply::error(ERR_BIT_OFFSET)),
    }
}

/// Redis `lookupKeyRead` + `checkType` for the bitmap readers: calls `read`
/// with the string's bytes (an integer's decimal text) without copying
/// them, or answers `missing` when there is no key.
fn read_bits(
    ctx: &mut Ctx,
    key: &[u8],
    read: impl FnOnce(&[u8]) -> CmdResult,
    missing: impl FnOnce() -> CmdResult,
) -> CmdResult {
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    let Some(entry) = db.get_read(key) else {
        stats.lookup(false);
        return missing();
    };
    stats.lookup(true);
    checked::<StringValue>(entry.value)?.with_bytes(read)
}

/// What a write made of a bitmap: how many changes Redis counts
/// (`server.dirty`), 0 meaning the command changed nothing.
struct Written<T> {
    reply: T,
    changes: u64,
}

/// Redis `lookupStringForBitCommand` and the write after it: the string at
/// `key` (a new one, or the existing one made raw) zero-padded so bit
/// `max_bit` exists, handed to `write` with whether it was created or
/// grown (which Redis counts as a change whatever `write` does). The key
/// counts as changed (WATCH, propagation, the `setbit` event) only if
/// `write` reports changes.
fn write_bits<T>(
    ctx: &mut Ctx,
    key: &[u8],
    max_bit: u64,
    write: impl FnOnce(&mut [u8], bool) -> Written<T>,
) -> Result<T, Reply> {
    let len = usize::try_from(max_bit >> 3)
        .ok()
        .and_then(|byte| byte.checked_add(1))
        .ok_or_else(|| Reply::error(ERR_BIT_OFFSET))?;
    let mut db = ctx.db();
    let written = match db.get_mut(key) {
        None => {
            let mut buf = zeroed(len)?;
            let written = write(&mut buf, true);
            let value = Value::String(StringValue::Raw(buf.freeze()));
            if written.changes == 0 {
                // Created but left as it was: Redis neither counts nor signals it.
                db.add_unsignalled(key, value);
            } else {
                db.set(key, value, None);
            }
            written
        }
        Some(value) => {
            let s = checked_mut::<StringValue>(value)?;
            let mut buf = s.take_raw_mut();
            let grown = buf.len() < len;
            if grown {
                if let Err(e) = grow(&mut buf, len) {
                    *s = StringValue::Raw(buf.freeze());
                    return Err(e);
                }
            }
            let written = write(&mut buf, grown);
            *s = StringValue::Raw(buf.freeze());
            if written.changes == 0 {
                db.unchanged(key);
            }
            written
        }
    };
    if written.changes > 0 {
        // SETBIT's event, which BITFIELD's writes share.
        db.notify(notify::STRING, "setbit", key);
        db.add_changes(written.changes - 1);
    }
    Ok(written.reply)
}

const ERR_NO_MEMORY: &str = "ERR Out of memory allocating the bitmap";

/// `len` zero bytes, refused rather than aborting when the allocation fails.
fn zeroed(len: usize) -> Result<BytesMut, Reply> {
    let mut buf = BytesMut::new();
    grow(&mut buf, len)?;
    Ok(buf)
}

/// Zero-pads `buf` to `len` bytes (Redis's `sdsgrowzero`). Goes through a
/// `Vec` for its fallible reservation (neither copies when the buffer is
/// not shared).
fn grow(buf: &mut BytesMut, len: usize) -> Result<(), Reply> {
    let mut bytes = Vec::from(std::mem::take(buf));
    let more = len.saturating_sub(bytes.len());
    let reserved = bytes.try_reserve(more);
    if reserved.is_ok() {
        bytes.resize(len, 0);
    }
    *buf = Bytes::from(bytes)
        .try_into_mut()
        .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
    reserved.map_err(|_| Reply::error(ERR_NO_MEMORY))
}

/// Redis `setbitCommand`: answers the bit's old value. Nothing changes (no
/// event, nothing propagated) when the string already held that bit; a
/// string created or grown by the offset always counts as changed.
fn setbit(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    const ERR_BIT: &str = "ERR bit is not an integer or out of range";
    let offset = bit_offset(ctx, args[2], None)?;
    let on = parse_i64(args[3]).ok_or_else(|| Reply::error(ERR_BIT))?;
    if on & !1 != 0 {
        return Err(Reply::error(ERR_BIT));
    }
    let old = write_bits(ctx, args[1], offset, |bytes, grown| {
        let byte = &mut bytes[(offset >> 3) as usize];
        let mask = 1u8 << (7 - (offset & 7));
        let old = *byte & mask != 0;
        let changes = u64::from(grown || old != (on == 1));
        if changes > 0 {
            *byte = if on == 1 { *byte | mask } else { *byte & !mask };
        }
        Written {
            reply: old,
            changes,
        }
    })?;
    Ok(Reply::Integer(i64::from(old)))
}

/// Redis `getbitCommand`: the offset is checked before the key.
fn getbit(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(ctx, args[2], None)?;
    read_bits(
        ctx,
        args[1],
        |bytes| {
            let bits = bitmap::get_unsigned(bytes, offset, 1);
            Ok(Reply::Integer(bits as i64))
        },
        || Ok(Reply::Integer(0)),
    )
}

/// A BITCOUNT or BITPOS range: `start..=end` in bytes, with masks for the
/// bits of the first and last byte that lie outside a BIT range.
struct Range {
    start: i64,
    end: i64,
    /// The bits of the first byte before the range.
    first_mask: u8,
    /// The bits of the last byte after the range.
    last_mask: u8,
}

impl Range {
    /// Redis's conversion of `start` and `end` (negative ones counting from
    /// the end, in bytes or with `bit` in bits) into a byte range of a
    /// string of `len` bytes, clamped to it. Empty when `start > end`.
    fn new(len: usize, start: i64, end: i64, bit: bool) -> Range {
        let total = if bit { (len as i64) << 3 } else { len as i64 };
        let from_end = |i: i64| if i < 0 { (total + i).max(0) } else { i };
        let (start, end) = (from_end(start), from_end(end).min(total - 1));
        if bit && start <= end {
            Range {
                start: start >> 3,
                end: end >> 3,
                first_mask: !((1u16 << (8 - (start & 7))) - 1) as u8,
                last_mask: ((1u16 << (7 - (end & 7))) - 1) as u8,
            }
        } else {
            Range {
                start,
                end,
                first_mask: 0,
                last_mask: 0,
            }
        }
    }

    fn whole(len: usize) -> Range {
        Range::new(len, 0, -1, false)
    }
}

/// BYTE or BIT, the unit of a range (a syntax error otherwise).
fn unit_is_bit(arg: &[u8]) -> Result<bool, Reply> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(syntax_error())
    }
}

/// Redis `bitcountCommand`. A missing key answers 0 before the arguments
/// are looked at; a range of two negative indexes in the wrong order
/// answers 0 before the unit is.
fn bitcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    read_bits(
        ctx,
        args[1],
        |bytes| {
            let range = match args.len() {
                2 => Range::whole(bytes.len()),
                4 | 5 => {
                    let start = int_arg(args[2])?;
                    let end = int_arg(args[3])?;
                    if start < 0 && end < 0 && start > end {
                        return Ok(Reply::Integer(0));
                    }
                    let bit = match args.get(4) {
                        Some(unit) => unit_is_bit(unit)?,
                        None => false,
                    };
                    Range::new(bytes.len(), start, end, bit)
                }
                _ => return Err(syntax_error()),
            };
            if range.start > range.end {
                return Ok(Reply::Integer(0));
            }
            let (start, end) = (range.start as usize, range.end as usize);
            let mut count = bitmap::popcount(&bytes[start..=end]);
            // Take off the bits of the edge bytes outside a BIT range.
            let outside = [
                bytes[start] & range.first_mask,
                bytes[end] & range.last_mask,
            ];
            count -= bitmap::popcount(&outside);
            Ok(Reply::Integer(count as i64))
        },
        || Ok(Reply::Integer(0)),
    )
}

/// Redis `bitposCommand` (7.0: BYTE|BIT). A missing key is all zeros. A
/// clear bit past an explicit end is not found (-1); without an end the
/// string counts as zero-padded, so the first bit after it is the answer.
fn bitpos(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let bit = parse_i64(args[2]).ok_or_else(|| Reply::error(ERR_NOT_INTEGER))?;
    if bit != 0 && bit != 1 {
        return Err(Reply::error("ERR The bit argument must be 1 or 0."));
    }
    let bit = bit == 1;
    read_bits(
        ctx,
        args[1],
        |bytes| {
            let mut end_given = false;
            let range = match args.len() {
                3 => Range::whole(bytes.len()),
                4..=6 => {
                    let start = int_arg(args[3])?;
                    let unit_bit = match args.get(5) {
                        Some(unit) => unit_is_bit(unit)?,
                        None => false,
                    };
                    let end = match args.get(4) {
                        Some(end) => {
                            end_given = true;
                            int_arg(end)?
                        }
                        None => -1,
                    };
                    Range::new(bytes.len(), start, end, unit_bit)
                }
                _ => return Err(syntax_error()),
            };
            if range.start > range.end {
                return Ok(Reply::Integer(-1));
            }
            let found = first_bit(bytes, &range, bit);
            let len = (range.end - range.start + 1) as usize;
            // `found` counts from the range's first byte.
            Ok(Reply::Integer(match found {
                Some(pos) if !bit && end_given && pos == len as i64 * 8 => -1,
                Some(pos) => pos + (range.start << 3),
                None => -1,
            }))
        },
        || Ok(Reply::Integer(if bit { -1 } else { 0 })),
    )
}

/// The first bit equal to `bit` in `range` of `bytes`, from the range's
/// first byte: edge bytes of a BIT range have their outside bits set to
/// the value not looked for. None when a 1 is not there; a 0 that is not
/// there is the first bit after the range (as [`bitmap::bitpos`]).
fn first_bit(bytes: &[u8], range: &Range, bit: bool) -> Option<i64> {
    let (start, end) = (range.start as usize, range.end as usize);
    let mut region: &[u8] = &bytes[start..=end];
    // Positions before `region`'s first byte.
    let mut skipped = 0i64;
    let hide = |byte: u8, mask: u8| if bit { byte & !mask } else { byte | mask };
    if range.first_mask != 0 {
        let mut first = hide(region[0], range.first_mask);
        if range.last_mask != 0 && region.len() == 1 {
            first = hide(first, range.last_mask);
        }
        let pos = bitmap::bitpos(&[first], bit);
        if region.len() == 1 || (pos != -1 && pos != 8) {
            return (pos != -1).then_some(pos);
        }
        region = &region[1..];
        skipped = 8;
    }
    let whole = region.len() - usize::from(range.last_mask != 0);
    if whole > 0 {
        let pos = bitmap::bitpos(&region[..whole], bit);
        if whole == region.len() || (pos != -1 && pos != whole as i64 * 8) {
            return (pos != -1).then_some(pos + skipped);
        }
        skipped += whole as i64 * 8;
    }
    let last = hide(bytes[end], range.last_mask);
    let pos = bitmap::bitpos(&[last], bit);
    (pos != -1).then_some(pos + skipped)
}

/// A BITOP operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// Redis `bitopCommand`: the result is as long as the longest source
/// (shorter ones count as zero-padded), stored raw without a TTL; an empty
/// result deletes the destination. Answers the result's length.
fn bitop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let op = [
        ("and", BitOp::And),
        ("or", BitOp::Or),
        ("xor", BitOp::Xor),
        ("not", BitOp::Not),
    ]
    .into_iter()
    .find(|(name, _)| is(args[1], name))
    .map(|(_, op)| op)
    .ok_or_else(syntax_error)?;
    if op == BitOp::Not && args.len() != 4 {
        return Err(Reply::error(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let dest = args[2];
    let stats = &ctx.server.stats;
    let mut db = ctx.db();
    // The sources, shared (a raw string is not copied).
    let mut sources: Vec<Bytes> = Vec::with_capacity(args.len() - 3);
    for key in &args[3..] {
        let found = db.get_read(key);
        stats.lookup(found.is_some());
        sources.push(match found {
            Some(entry) => checked::<StringValue>(entry.value)?.to_bytes(),
            None => Bytes::new(),
        });
    }
    let len = sources.iter().map(Bytes::len).max().unwrap_or(0);
    if len == 0 {
        db.delete(dest);
        return Ok(Reply::Integer(0));
    }
    let result = combine(op, &sources, len)?;
    db.set(dest, Value::String(StringValue::Raw(result.freeze())), None);
    db.notify(notify::STRING, "set", dest);
    Ok(Reply::from(len))
}

/// `op` over `sources`, into a new string of `len` bytes. Each source is
/// applied to the whole result at once, a loop the compiler turns into
/// wide vector instructions.
fn combine(op: BitOp, sources: &[Bytes], len: usize) -> Result<BytesMut, Reply> {
    let mut out = zeroed(len)?;
    let first = &sources[0];
    out[..first.len()].copy_from_slice(first);
    if op == BitOp::Not {
        out.iter_mut().for_each(|b| *b = !*b);
        return Ok(out);
    }
    for src in &sources[1..] {
        let (head, tail) = out.split_at_mut(src.len());
        match op {
            BitOp::And => {
                head.iter_mut().zip(src.iter()).for_each(|(o, s)| *o &= s);
                // Past this source's end it is all zeros.
                tail.fill(0);
            }
            BitOp::Or => head.iter_mut().zip(src.iter()).for_each(|(o, s)| *o |= s),
            BitOp::Xor => head.iter_mut().zip(src.iter()).for_each(|(o, s)| *o ^= s),
            BitOp::Not => {}
        }
    }
    Ok(out)
}

/// One BITFIELD operation, parsed.
struct FieldOp {
    kind: FieldOpKind,
    offset: u64,
    bits: u32,
    signed: bool,
    overflow: Overflow,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOpKind {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// Redis `getBitfieldTypeFromArgument`: `i1`..`i64` or `u1`..`u63` (the
/// width read as a C string, up to a NUL byte).
fn field_type(arg: &[u8]) -> Result<(bool, u32), Reply> {
    let err = || {
        Reply::error(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    let max = if signed { 64 } else { 63 };
    let bits = parse_i64(c_string(&arg[1..], usize::MAX)).ok_or_else(err)?;
    if !(1..=max).contains(&bits) {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

/// Redis `bitfieldGeneric`'s parse: the operations in order, each with the
/// OVERFLOW in force when it was given. Stops at the first bad argument.
fn parse_field_ops(ctx: &Ctx, args: &[&[u8]]) -> Result<Vec<FieldOp>, Reply> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let rest = args.len() - j - 1;
        let sub = args[j];
        let kind = if is(sub, "get") && rest >= 2 {
            FieldOpKind::Get
        } else if is(sub, "set") && rest >= 3 {
            FieldOpKind::Set(0)
        } else if is(sub, "incrby") && rest >= 3 {
            FieldOpKind::IncrBy(0)
        } else if is(sub, "overflow") && rest >= 1 {
            let name = args[j + 1];
            overflow = if is(name, "wrap") {
                Overflow::Wrap
            } else if is(name, "sat") {
                Overflow::Sat
            } else if is(name, "fail") {
                Overflow::Fail
            } else {
                return Err(Reply::error("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(syntax_error());
        };
        let (signed, bits) = field_type(args[j + 1])?;
        let offset = bit_offset(ctx, args[j + 2], Some(bits))?;
        let kind = match kind {
            FieldOpKind::Get => kind,
            FieldOpKind::Set(_) => FieldOpKind::Set(int_arg(args[j + 3])?),
            FieldOpKind::IncrBy(_) => FieldOpKind::IncrBy(int_arg(args[j + 3])?),
        };
        ops.push(FieldOp {
            kind,
            offset,
            bits,
            signed,
            overflow,
        });
        j += if kind == FieldOpKind::Get { 3 } else { 4 };
    }
    Ok(ops)
}

impl FieldOp {
    /// A GET: the field read from `bytes`, zero-padded past their end.
    fn get(&self, bytes: &[u8]) -> Reply {
        if self.signed {
            Reply::Integer(bitmap::get_signed(bytes, self.offset, self.bits))
        } else {
            Reply::Integer(bitmap::get_unsigned(bytes, self.offset, self.bits) as i64)
        }
    }

    /// A SET or INCRBY on `bytes` (long enough): its reply (the old value
    /// for SET, the new one for INCRBY, nil when FAIL refused it) and
    /// whether the field changed. A SET is checked as the new value plus
    /// 0, as Redis checks it.
    fn write(&self, bytes: &mut [u8]) -> (Reply, bool) {
        let (offset, bits, overflow) = (self.offset, self.bits, self.overflow);
        let (operand, incr) = match self.kind {
            FieldOpKind::Get => return (self.get(bytes), false),
            FieldOpKind::Set(value) => (value, false),
            FieldOpKind::IncrBy(by) => (by, true),
        };
        if self.signed {
            let old = bitmap::get_signed(bytes, offset, bits);
            let checked = if incr {
                bitmap::check_signed(old, operand, bits, overflow)
            } else {
                bitmap::check_signed(operand, 0, bits, overflow)
            };
            let Some(new) = checked.value else {
                return (Reply::Null, false);
            };
            bitmap::set_unsigned(bytes, offset, bits, new as u64);
            (Reply::Integer(if incr { new } else { old }), old != new)
        } else {
            let old = bitmap::get_unsigned(bytes, offset, bits);
            let checked = if incr {
                bitmap::check_unsigned(old, operand, bits, overflow)
            } else {
                bitmap::check_unsigned(operand as u64, 0, bits, overflow)
            };
            let Some(new) = checked.value else {
                return (Reply::Null, false);
            };
            bitmap::set_unsigned(bytes, offset, bits, new);
            let reply = if incr { new } else { old };
            (Reply::Integer(reply as i64), old != new)
        }
    }
}

/// Redis `bitfieldGeneric`. With only GETs (and OVERFLOWs) it reads the key
/// (a missing one reads as zeros); otherwise the string is created or grown
/// to the farthest bit written first, and the operations run in order on
/// it. A field counts as a change when it differs, or when the string was
/// created or grown; with none, nothing is signalled or propagated.
fn bitfield_generic(ctx: &mut Ctx, args: &[&[u8]], read_only: bool) -> CmdResult {
    let ops = parse_field_ops(ctx, args)?;
    let highest = ops
        .iter()
        .filter(|op| op.kind != FieldOpKind::Get)
        .map(|op| op.offset + u64::from(op.bits) - 1)
        .max();
    let Some(highest) = highest else {
        let reply = |bytes: &[u8]| Ok(Reply::Array(ops.iter().map(|op| op.get(bytes)).collect()));
        return read_bits(ctx, args[1], reply, || reply(&[]));
    };
    if read_only {
        return Err(Reply::error(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    write_bits(ctx, args[1], highest, |bytes, grown| {
        let mut changes = 0;
        let replies = ops
            .iter()
            .map(|op| {
                let (reply, changed) = op.write(bytes);
                if op.kind != FieldOpKind::Get
                    && (changed || grown)
                    && !matches!(reply, Reply::Null)
                {
                    changes += 1;
                }
                reply
            })
            .collect();
        Written {
            reply: Reply::Array(replies),
            changes,
        }
    })
}

fn bitfield(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, args, true)
}
