//! Reading RDB files and DUMP payloads: every type and encoding Redis 7.0
//! writes and the older ones it still loads (rdb.c's `rdbLoadObject`,
//! `rdbLoadRioWithLoadingCtx`). Everything read is checked before it is
//! used: lengths against the bytes that remain (so no allocation is sized
//! by an unchecked number), packed blobs deeply, duplicates refused.

use std::borrow::Cow;

use super::listpack::{self, Item};
use super::write::{QUICKLIST_NODE_PACKED, QUICKLIST_NODE_PLAIN};
use super::{lzf, opcode, rdb_type, CRC64, RDB_VERSION};
use crate::keyspace::{StringValue, Value};
use crate::number::strtod_c_string;
use crate::types::hash::{self, Hash};
use crate::types::indexed::IndexedDict;
use crate::types::list::{End, List};
use crate::types::set::Set;
use crate::types::zset::{self, ZSet};

/// Why a file or payload was refused.
pub type Error = String;
pub type Result<T> = std::result::Result<T, Error>;

/// The settings that decide the encodings of loaded values, as Redis's
/// loader converts values past them.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub list_fill: i64,
    pub hash: hash::Limits,
    pub set_max_intset: u64,
    pub zset: zset::Limits,
}

/// An RDB stream being read.
pub struct Reader<'a> {
    data: &'a [u8],
    pub pos: usize,
}

fn short() -> Error {
    "unexpected end of data".into()
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn byte(&mut self) -> Result<u8> {
        let b = *self.data.get(self.pos).ok_or_else(short)?;
        self.pos += 1;
        Ok(b)
    }

    /// `n` bytes, refused when fewer remain (checked before anything is
    /// allocated for them).
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(short());
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64> {
        let b = self.bytes(8)?;
        Ok(u64::from_le_bytes(b.try_into().map_err(|_| short())?))
    }

    /// `rdbLoadLenByRef`: a length, or (`Err` side of the inner result) a
    /// special string encoding's number.
    fn len_or_encoding(&mut self) -> Result<std::result::Result<u64, u8>> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Ok(u64::from(first & 0x3F)),
            1 => Ok((u64::from(first & 0x3F) << 8) | u64::from(self.byte()?)),
            2 => match first {
                0x80 => {
                    let b = self.bytes(4)?;
                    Ok(u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
                }
                0x81 => {
                    let b = self.bytes(8)?;
                    Ok(u64::from_be_bytes(b.try_into().map_err(|_| short())?))
                }
                _ => return Err(format!("unknown length encoding {first:#x}")),
            },
            _ => Err(first & 0x3F),
        })
    }

    /// `rdbLoadLen`: a length (a string encoding here is an error).
    pub fn length(&mut self) -> Result<u64> {
        self.len_or_encoding()?
            .map_err(|e| format!("a string encoding ({e}) where a length belongs"))
    }

    /// A length used to count elements that each take at least one byte:
    /// refused when it could not fit in what remains.
    pub(crate) fn count(&mut self) -> Result<usize> {
        let n = self.length()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.remaining())
            .ok_or_else(|| format!("length {n} past the end of the data"))
    }

    /// `rdbGenericLoadStringObject`: plain, integer or LZF.
    pub fn string(&mut self) -> Result<Cow<'a, [u8]>> {
        match self.len_or_encoding()? {
            Ok(len) => {
                let len = usize::try_from(len).map_err(|_| short())?;
                Ok(Cow::Borrowed(self.bytes(len)?))
            }
            Err(0) => Ok(int_text(i64::from(self.byte()? as i8))),
            Err(1) => {
                let b = self.bytes(2)?;
                Ok(int_text(i64::from(i16::from_le_bytes([b[0], b[1]]))))
            }
            Err(2) => {
                let b = self.bytes(4)?;
                Ok(int_text(i64::from(i32::from_le_bytes([
                    b[0], b[1], b[2], b[3],
                ]))))
            }
            Err(3) => {
                let packed_len = self.length()?;
                let len = self.length()?;
                let packed = self.bytes(usize::try_from(packed_len).map_err(|_| short())?)?;
                // LZF expands at most ~88 times (a 3-byte back reference
                // copies 264): a bigger claim is corrupt, not worth a buffer.
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&l| l <= packed.len().saturating_mul(100))
                    .ok_or("LZF length out of proportion")?;
                lzf::decompress(packed, len)
                    .map(Cow::Owned)
                    .ok_or_else(|| "invalid LZF data".into())
            }
            Err(e) => Err(format!("unknown string encoding {e}")),
        }
    }

    /// `rdbLoadBinaryDoubleValue`.
    fn binary_double(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64_le()?))
    }

    /// `rdbLoadDoubleValue` (RDB_TYPE_ZSET): a length byte with 253 NaN,
    /// 254 +inf, 255 -inf, else that many ASCII bytes.
    fn text_double(&mut self) -> Result<f64> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.bytes(usize::from(n))?;
                strtod_c_string(text).ok_or_else(|| "bad double".into())
            }
        }
    }
}

fn int_text(n: i64) -> Cow<'static, [u8]> {
    Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec())
}

/// A score read from a packed zset.
fn item_score(item: Item) -> Result<f64> {
    match item {
        Item::Int(n) => Ok(n as f64),
        Item::Str(s) if s.len() <= 127 => {
            strtod_c_string(s).ok_or_else(|| "bad score in packed sorted set".into())
        }
        Item::Str(_) => Err("bad score in packed sorted set".into()),
    }
}

/// A value of the RDB type `kind`; `None` for an empty collection, which
/// Redis's loader skips (`emptykey`).
pub fn value(r: &mut Reader, kind: u8, limits: &Limits) -> Result<Option<Value>> {
    let value = match kind {
        rdb_type::STRING => Value::String(StringValue::from_bytes(r.string()?)),
        rdb_type::LIST => {
            let n = r.count()?;
            let mut list = List::new(limits.list_fill);
            for _ in 0..n {
                list.push(End::Tail, &r.string()?);
            }
            Value::List(Box::new(list))
        }
        rdb_type::LIST_ZIPLIST => {
            let blob = r.string()?;
            let items =
                listpack::read_ziplist(&blob).ok_or("List ziplist integrity check failed.")?;
            let mut list = List::new(limits.list_fill);
            for item in items {
                list.push(End::Tail, &item.to_vec());
            }
            Value::List(Box::new(list))
        }
        rdb_type::LIST_QUICKLIST | rdb_type::LIST_QUICKLIST_2 => {
            let nodes = r.count()?;
            let mut list = List::new(limits.list_fill);
            for _ in 0..nodes {
                let container = if kind == rdb_type::LIST_QUICKLIST_2 {
                    r.length()?
                } else {
                    QUICKLIST_NODE_PACKED as u64
                };
                let blob = r.string()?;
                if blob.is_empty() {
                    return Err("quicklist node of 0 bytes".into());
                }
                if container == QUICKLIST_NODE_PLAIN as u64 {
                    list.append_node(std::iter::once(&*blob));
                    continue;
                }
                if container != QUICKLIST_NODE_PACKED as u64 {
                    return Err("Quicklist integrity check failed.".into());
                }
                let items = if kind == rdb_type::LIST_QUICKLIST {
                    listpack::read_ziplist(&blob).ok_or("Ziplist integrity check failed.")?
                } else {
                    listpack::read(&blob).ok_or("Listpack integrity check failed.")?
                };
                // Redis skips empty nodes; a list left empty is an empty key.
                if items.is_empty() {
                    continue;
                }
                let elements: Vec<Vec<u8>> = items.into_iter().map(Item::to_vec).collect();
                list.append_node(elements.iter().map(Vec::as_slice));
            }
            Value::List(Box::new(list))
        }
        rdb_type::SET => {
            let n = r.count()?;
            let mut set: Option<Set> = None;
            for _ in 0..n {
                let member = r.string()?;
                let s = set.get_or_insert_with(|| {
                    if n as u64 > limits.set_max_intset {
                        Set::Table(Box::new(IndexedDict::with_capacity(0)))
                    } else {
                        Set::for_member(&member)
                    }
                });
                if !s.add(&member, limits.set_max_intset) {
                    return Err("duplicate set members".into());
                }
            }
            match set {
                Some(set) => Value::Set(set),
                None => return Ok(None),
            }
        }
        rdb_type::SET_INTSET => {
            let blob = r.string()?;
            let members = listpack::read_intset(&blob).ok_or("Intset integrity check failed.")?;
            let mut set = Set::new_intset();
            let mut buf = itoa::Buffer::new();
            for m in members {
                set.add(buf.format(m).as_bytes(), limits.set_max_intset);
            }
            Value::Set(set)
        }
        rdb_type::ZSET | rdb_type::ZSET_2 => {
            let n = r.count()?;
            let mut items = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let member = r.string()?.into_owned();
                let score = if kind == rdb_type::ZSET_2 {
                    r.binary_double()?
                } else {
                    r.text_double()?
                };
                if score.is_nan() {
                    return Err("sorted set with a NaN score".into());
                }
                items.push((member, score));
            }
            sorted_set(items, limits)?
        }
        rdb_type::ZSET_ZIPLIST | rdb_type::ZSET_LISTPACK => {
            let blob = r.string()?;
            let corrupt = if kind == rdb_type::ZSET_ZIPLIST {
                "Zset ziplist integrity check failed."
            } else {
                "Zset listpack integrity check failed."
            };
            let items = packed_pairs(&blob, kind == rdb_type::ZSET_ZIPLIST, corrupt)?;
            let mut pairs = Vec::with_capacity(items.len() / 2);
            for pair in items.chunks_exact(2) {
                let score = item_score(pair[1])?;
                if score.is_nan() {
                    return Err("sorted set with a NaN score".into());
                }
                pairs.push((pair[0].to_vec(), score));
            }
            sorted_set(pairs, limits).map_err(|_| corrupt)?
        }
        rdb_type::HASH => {
            let n = r.count()?;
            let mut pairs = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let field = r.string()?;
                let value = r.string()?;
                pairs.push((field, value));
            }
            hash_of(pairs.iter().map(|(f, v)| (&**f, &**v)), n, limits)?
        }
        rdb_type::HASH_ZIPMAP => {
            let blob = r.string()?;
            let pairs = listpack::read_zipmap(&blob)
                .filter(|pairs| !pairs.is_empty())
                .ok_or("Zipmap integrity check failed.")?;
            let n = pairs.len();
            hash_of(pairs.into_iter(), n, limits).map_err(|_| "Zipmap integrity check failed.")?
        }
        rdb_type::HASH_ZIPLIST | rdb_type::HASH_LISTPACK => {
            let blob = r.string()?;
            let corrupt = if kind == rdb_type::HASH_ZIPLIST {
                "Hash ziplist integrity check failed."
            } else {
                "Hash listpack integrity check failed."
            };
            let items = packed_pairs(&blob, kind == rdb_type::HASH_ZIPLIST, corrupt)?;
            let texts: Vec<Vec<u8>> = items.into_iter().map(Item::to_vec).collect();
            let n = texts.len() / 2;
            hash_of(
                texts
                    .chunks_exact(2)
                    .map(|p| (p[0].as_slice(), p[1].as_slice())),
                n,
                limits,
            )
            .map_err(|_| corrupt)?
        }
        rdb_type::STREAM_LISTPACKS | rdb_type::STREAM_LISTPACKS_2 => Value::Stream(Box::new(
            super::stream::load(r, kind == rdb_type::STREAM_LISTPACKS_2)?,
        )),
        other => return Err(format!("unsupported value type {other}")),
    };
    let empty = match &value {
        Value::String(_) => false,
        Value::List(l) => l.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        Value::Hash(h) => h.is_empty(),
        // A stream with no entries is a key still (groups, IDs), as in Redis.
        Value::Stream(_) => false,
    };
    Ok((!empty).then_some(value))
}

/// The elements of a ziplist or listpack holding pairs (a hash's fields and
/// values, a sorted set's members and scores): refused with the type's
/// `corrupt` text, as Redis's integrity checks do, if damaged or odd.
fn packed_pairs<'b>(blob: &'b [u8], ziplist: bool, corrupt: &'static str) -> Result<Vec<Item<'b>>> {
    let items = if ziplist {
        listpack::read_ziplist(blob)
    } else {
        listpack::read(blob)
    };
    Ok(items.filter(|items| items.len() % 2 == 0).ok_or(corrupt)?)
}

/// A sorted set from its members in any order: sorted as the set keeps
/// them, a duplicate member refused; a listpack when within the limits.
fn sorted_set(mut items: Vec<(Vec<u8>, f64)>, limits: &Limits) -> Result<Value> {
    if items.is_empty() {
        return Ok(Value::ZSet(ZSet::from_sorted(items, limits.zset)));
    }
    let mut members: Vec<&[u8]> = items.iter().map(|(m, _)| m.as_slice()).collect();
    members.sort_unstable();
    if members.windows(2).any(|w| w[0] == w[1]) {
        return Err("duplicate sorted set members".into());
    }
    // -0 and 0 are equal scores: ordered by member, as Redis's.
    items.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    Ok(Value::ZSet(ZSet::from_sorted(items, limits.zset)))
}

/// A hash from its pairs, a duplicate field refused (Redis's loader
/// converts to a hash table past the limits, as `Hash::set` does).
fn hash_of<'p>(
    pairs: impl Iterator<Item = (&'p [u8], &'p [u8])>,
    n: usize,
    limits: &Limits,
) -> Result<Value> {
    let mut hash = if n as u64 > limits.hash.max_entries {
        Hash::Table(Box::new(IndexedDict::with_capacity(0)))
    } else {
        Hash::default()
    };
    for (field, value) in pairs {
        if !hash.set(field, value, limits.hash) {
            return Err("duplicate hash fields".into());
        }
    }
    Ok(Value::Hash(hash))
}

/// One key read from a file.
pub struct Loaded {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    pub expires_at: Option<u64>,
    /// The IDLE (seconds) and FREQ opcodes before the key, if any.
    pub idle: Option<u64>,
    pub freq: Option<u8>,
}

/// What a whole file held besides its keys.
#[derive(Default, Debug)]
pub struct Summary {
    pub keys: usize,
    pub expired_skipped: usize,
    /// Empty collections dropped (an old Redis bug could write them).
    pub empty_skipped: usize,
    pub aux: Vec<(String, String)>,
    /// The function libraries' codes.
    pub functions: Vec<bytes::Bytes>,
    /// Bytes of `data` the file took (an old-style AOF goes on after it).
    pub consumed: usize,
}

/// A function library's code (Redis's `rdbFunctionLoad`): a `FUNCTION2`
/// record is the code; the older `FUNCTION` of 7.0's release candidates
/// has the name, engine and description apart, made into a shebang here.
pub fn function_code(r: &mut Reader, kind: u8) -> Result<bytes::Bytes> {
    if kind == opcode::FUNCTION2 {
        let code = r
            .string()
            .map_err(|_| "Failed loading library payload".to_string())?;
        return Ok(bytes::Bytes::copy_from_slice(&code));
    }
    let name = r
        .string()
        .map_err(|_| "Failed loading library name".to_string())?;
    let engine = r
        .string()
        .map_err(|_| "Failed loading engine name".to_string())?;
    let has_desc = r
        .length()
        .map_err(|_| "Failed loading library description indicator".to_string())?;
    if has_desc != 0 {
        r.string()
            .map_err(|_| "Failed loading library description".to_string())?;
    }
    let blob = r
        .string()
        .map_err(|_| "Failed loading library blob".to_string())?;
    let mut code = Vec::with_capacity(blob.len() + name.len() + engine.len() + 9);
    code.extend_from_slice(b"#!");
    code.extend_from_slice(&engine);
    code.extend_from_slice(b" name=");
    code.extend_from_slice(&name);
    code.push(b'\n');
    code.extend_from_slice(&blob);
    Ok(code.into())
}

/// Reads a whole RDB file, handing each live key to `store` (keys whose
/// expiry is before `now_ms` are skipped, as a master's loader does) and
/// each database's announced size (RESIZEDB: database, keys) to `resize`.
/// The checksum is verified when `checksum` is on and the file has one.
pub fn file(
    data: &[u8],
    limits: &Limits,
    databases: usize,
    now_ms: u64,
    checksum: bool,
    mut resize: impl FnMut(usize, u64),
    mut store: impl FnMut(Loaded) -> Result<()>,
) -> Result<Summary> {
    let mut r = Reader::new(data);
    let magic = r
        .bytes(9)
        .map_err(|_| "too short for an RDB file".to_string())?;
    if &magic[..5] != b"REDIS" {
        return Err("wrong signature (not an RDB file)".into());
    }
    let version = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|v| (1..=RDB_VERSION).contains(v))
        .ok_or("unsupported RDB version")?;
    let mut summary = Summary::default();
    let mut db = 0usize;
    let mut expires_at: Option<u64> = None;
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    loop {
        let kind = r.byte()?;
        match kind {
            opcode::EXPIRETIME => {
                let b = r.bytes(4)?;
                expires_at = Some(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])) * 1000);
                continue;
            }
            opcode::EXPIRETIME_MS => {
                expires_at = Some(r.u64_le()?);
                continue;
            }
            opcode::FREQ => {
                freq = Some(r.byte()?);
                continue;
            }
            opcode::IDLE => {
                idle = Some(r.length()?);
                continue;
            }
            opcode::EOF => break,
            opcode::SELECTDB => {
                let n = r.length()?;
                db = usize::try_from(n)
                    .ok()
                    .filter(|&n| n < databases)
                    .ok_or_else(|| {
                        format!("FATAL: Data file was created with a Redis server configured to handle more than {databases} databases")
                    })?;
                continue;
            }
            opcode::RESIZEDB => {
                resize(db, r.length()?);
                r.length()?;
                continue;
            }
            opcode::AUX => {
                let name = String::from_utf8_lossy(&r.string()?).into_owned();
                let value = String::from_utf8_lossy(&r.string()?).into_owned();
                summary.aux.push((name, value));
                continue;
            }
            opcode::MODULE_AUX => return Err("module data in the file (no modules here)".into()),
            opcode::FUNCTION | opcode::FUNCTION2 => {
                summary.functions.push(function_code(&mut r, kind)?);
                continue;
            }
            _ => {}
        }
        let key = r.string()?.into_owned();
        let value = value(&mut r, kind, limits)?;
        let at = expires_at.take();
        let (key_idle, key_freq) = (idle.take(), freq.take());
        let Some(value) = value else {
            // Redis logs the first ten by name.
            if summary.empty_skipped < 10 {
                tracing::warn!(
                    "rdbLoadObject skipping empty key: {}",
                    String::from_utf8_lossy(&key)
                );
            }
            summary.empty_skipped += 1;
            continue;
        };
        if at.is_some_and(|at| at < now_ms) {
            summary.expired_skipped += 1;
            continue;
        }
        store(Loaded {
            db,
            key,
            value,
            expires_at: at,
            idle: key_idle,
            freq: key_freq,
        })?;
        summary.keys += 1;
    }
    if version >= 5 {
        let body = r.pos;
        let sum = r.u64_le()?;
        let expected = if checksum && sum != 0 {
            CRC64.checksum(&data[..body])
        } else {
            sum
        };
        if sum != expected {
            return Err(format!(
                "RDB CRC error (wrong RDB checksum expected: ({expected:x}) got: ({sum:x}))"
            ));
        }
    }
    summary.consumed = r.pos;
    Ok(summary)
}
