//! Redis's RDB file format (version 10, Redis 7.0): the snapshot SAVE,
//! DEBUG RELOAD and a full resynchronisation write, the file loaded at
//! start-up, and DUMP/RESTORE's payloads.
//!
//! Written by hand because it must be byte-compatible with Redis's both
//! ways: a file or DUMP payload from us must load into redis-server (and
//! DUMP be byte-identical for the same value and encoding), and theirs into
//! us, including encodings Redis stopped writing (ziplist, zipmap,
//! quicklist 1). `write.rs` is `rdbSaveObject` and friends, `load.rs`
//! `rdbLoadObject` with full validation, `listpack.rs` the packed blobs,
//! `lzf.rs` Redis's LZF. A file is `REDIS0010`, auxiliary fields, per
//! database SELECTDB/RESIZEDB and its keys, `0xFF`, then the CRC-64 (Jones,
//! Redis's `crc64`) of everything before, little-endian.

pub mod listpack;
pub mod load;
mod lzf;
mod stream;
pub mod write;

use crc::{Crc, Table, CRC_64_REDIS};

use crate::keyspace::{Guard, Value};
use crate::server::REDIS_VERSION;
pub use load::Limits;
use write::Writer;

/// RDB version 10: Redis 7.0's.
pub const RDB_VERSION: u32 = 10;
const MAGIC: &[u8] = b"REDIS0010";

/// The opcodes between keys (`RDB_OPCODE_*`).
pub mod opcode {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// The value type bytes (`RDB_TYPE_*`).
pub mod rdb_type {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// Redis's `crc64`, sixteen bytes at a time (Redis's `crcspeed`): the
/// whole file is summed on every save and load.
pub const CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// How a file is written: `rdbcompression`, `rdbchecksum`, and which
/// access record each key carries (IDLE under an LRU `maxmemory-policy`,
/// FREQ under an LFU one, as `rdbSaveKeyValuePair`).
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub compress: bool,
    pub checksum: bool,
    pub access: Access,
    /// An AOF base file (aux `aof-base` 1, as Redis's `RDBFLAGS_AOF_PREAMBLE`).
    pub aof_base: bool,
    /// The function libraries are saved (a replica's `rdb-filter-only`
    /// may leave them out).
    pub functions: bool,
}

/// The access record saved with each key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Access {
    None,
    Idle,
    /// The counter after decay by `lfu-decay-time` minutes.
    Freq {
        decay_minutes: u32,
    },
}

impl Options {
    /// From the settings.
    pub fn from_config(config: &crate::config::Config) -> Options {
        let policy = config.eviction_policy();
        Options {
            compress: config.rdbcompression(),
            checksum: config.rdbchecksum(),
            access: if policy.is_lru() {
                Access::Idle
            } else if policy.is_lfu() {
                Access::Freq {
                    decay_minutes: config.lfu_decay_time(),
                }
            } else {
                Access::None
            },
            aof_base: false,
            functions: true,
        }
    }
}

/// Where a replica's stream starts (the `repl-*` auxiliary fields).
pub struct ReplicationInfo {
    pub replid: String,
    pub offset: u64,
    /// The database the stream goes on in.
    pub stream_db: usize,
}

/// The auxiliary fields Redis 7.0 writes first (`rdbSaveInfoAuxFields`);
/// the `repl-*` ones only for a replica's snapshot, as Redis.
fn aux_fields(w: &mut Writer, repl: Option<&ReplicationInfo>, used_memory: u64, aof_base: bool) {
    w.aux("redis-ver", REDIS_VERSION);
    w.aux("redis-bits", &(usize::BITS).to_string());
    w.aux("ctime", &(crate::util::now_ms() / 1000).to_string());
    w.aux("used-mem", &used_memory.to_string());
    if let Some(repl) = repl {
        w.aux("repl-stream-db", &repl.stream_db.to_string());
        w.aux("repl-id", &repl.replid);
        w.aux("repl-offset", &repl.offset.to_string());
    }
    w.aux("aof-base", if aof_base { "1" } else { "0" });
}

/// The RDB file of every database the guard holds (it must lock them all,
/// so the snapshot is of one moment). Returns the file and its key count.
pub fn snapshot(
    guard: &mut Guard<'_>,
    databases: usize,
    options: Options,
    repl: Option<&ReplicationInfo>,
    used_memory: u64,
) -> (Vec<u8>, usize) {
    let mut file = Vec::new();
    let keys = save(guard, databases, options, repl, used_memory, 0, |bytes| {
        file.extend_from_slice(bytes);
        Ok(())
    });
    (file, keys.unwrap_or(0))
}

/// Redis's `rdbSaveRio`: [`snapshot`]'s file handed to `write` in chunks
/// as it is encoded (a SAVE of a big dataset never holds the whole file),
/// `key_delay` (`rdb-key-save-delay`) slept after each key. Returns the
/// key count.
pub fn save(
    guard: &mut Guard<'_>,
    databases: usize,
    options: Options,
    repl: Option<&ReplicationInfo>,
    used_memory: u64,
    key_delay: i64,
    write: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<usize> {
    let keys = checksummed(options.checksum, write, |out| {
        let mut w = head(options, repl, used_memory);
        let keys = w.databases(guard, databases, options.access, key_delay, out)?;
        out(&w.out)?;
        Ok(Some(keys))
    })?;
    Ok(keys.unwrap_or(0))
}

/// Hands `write` a file: what `body` writes (through the CRC-64), then,
/// unless the body gave up (None), the EOF opcode and the checksum (zero
/// when `rdbchecksum` is off), as Redis's `rdbSaveRio` ends a file.
fn checksummed<T>(
    checksum: bool,
    mut write: impl FnMut(&[u8]) -> std::io::Result<()>,
    body: impl FnOnce(&mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<Option<T>>,
) -> std::io::Result<Option<T>> {
    let mut digest = CRC64.digest();
    let done = body(&mut |bytes: &[u8]| {
        digest.update(bytes);
        write(bytes)
    })?;
    if done.is_some() {
        digest.update(&[opcode::EOF]);
        write(&[opcode::EOF])?;
        let sum = if checksum { digest.finalize() } else { 0 };
        write(&sum.to_le_bytes())?;
    }
    Ok(done)
}

/// What comes before the databases: the magic, the auxiliary fields and
/// the function libraries.
fn head(options: Options, repl: Option<&ReplicationInfo>, used_memory: u64) -> Writer {
    let mut w = Writer::file(options.compress);
    aux_fields(&mut w, repl, used_memory, options.aof_base);
    if options.functions {
        w.functions(&crate::scripting::functions::LIBRARIES.full_codes());
    }
    w
}

/// An RDB file written from a background snapshot
/// ([`crate::keyspace::snapshot`]): its head taken at the cut, the
/// databases from the walk, then EOF and the CRC-64 of all of it,
/// computed as the bytes go out.
pub struct Background {
    head: Vec<u8>,
    options: Options,
}

impl Background {
    /// Call at the cut (every shard locked): the head's libraries and
    /// replication offset are that moment's.
    pub fn at_cut(
        options: Options,
        repl: Option<&ReplicationInfo>,
        used_memory: u64,
    ) -> Background {
        Background {
            head: head(options, repl, used_memory).out,
            options,
        }
    }

    /// How the snapshot encodes databases and keys.
    pub fn encoder(&self) -> Box<dyn crate::keyspace::snapshot::Encoder> {
        Box::new(KeyEncoder {
            compress: self.options.compress,
            access: self.options.access,
        })
    }

    /// Writes the whole file through `write`: false if the snapshot was
    /// aborted (the file is then incomplete).
    pub fn write(
        self,
        keyspace: &crate::keyspace::Keyspace,
        snapshot: &crate::keyspace::snapshot::Snapshot,
        write: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<bool> {
        let whole = checksummed(self.options.checksum, write, |out| {
            out(&self.head)?;
            Ok(keyspace.walk_snapshot(snapshot, out)?.then_some(()))
        })?;
        Ok(whole.is_some())
    }
}

/// A background snapshot's keys in RDB form.
struct KeyEncoder {
    compress: bool,
    access: Access,
}

impl KeyEncoder {
    fn writing(&self, out: &mut Vec<u8>, f: impl FnOnce(&mut Writer)) {
        let mut w = Writer {
            out: std::mem::take(out),
            compress: self.compress,
        };
        f(&mut w);
        *out = w.out;
    }
}

impl crate::keyspace::snapshot::Encoder for KeyEncoder {
    fn database(&self, out: &mut Vec<u8>, db: usize, keys: usize, volatile: usize) {
        self.writing(out, |w| w.database(db, keys, volatile));
    }

    fn key(&self, out: &mut Vec<u8>, key: &[u8], entry: crate::keyspace::EntryRef<'_>) {
        // The clock only for IDLE / FREQ: reading it per key cost more
        // than encoding a small string.
        let now = match self.access {
            Access::None => 0,
            _ => crate::util::now_ms(),
        };
        self.writing(out, |w| w.key(key, entry, self.access, now));
    }
}

/// DUMP's payload (`createDumpPayload`): the type byte, the value, the
/// RDB version as two bytes little-endian, then the CRC-64 of all that.
pub fn dump(value: &Value, compress: bool) -> Vec<u8> {
    let mut w = Writer::new(compress);
    w.out.push(Writer::value_type(value));
    w.value(value);
    with_dump_footer(w.out)
}

/// FUNCTION DUMP's payload (`functionDumpCommand`): each library as the
/// RDB file's `FUNCTION2` record, then DUMP's footer.
pub fn dump_functions(codes: &[bytes::Bytes], compress: bool) -> Vec<u8> {
    let mut w = Writer::new(compress);
    w.functions(codes);
    with_dump_footer(w.out)
}

/// DUMP's footer: the RDB version as two bytes little-endian, then the
/// CRC-64 of all before it.
fn with_dump_footer(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let sum = CRC64.checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Redis's `verifyDumpPayload`: the body of a DUMP payload whose version
/// this server reads and whose checksum holds (unless `checksum` is off).
fn verified_body(payload: &[u8], checksum: bool) -> Result<&[u8], RestoreError> {
    if payload.len() < 10 {
        return Err(RestoreError::VersionOrChecksum);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if u32::from(version) > RDB_VERSION {
        return Err(RestoreError::VersionOrChecksum);
    }
    if checksum {
        let sum = CRC64.checksum(&payload[..payload.len() - 8]);
        if footer[2..] != sum.to_le_bytes() {
            return Err(RestoreError::VersionOrChecksum);
        }
    }
    Ok(body)
}

/// FUNCTION RESTORE's payload back to the libraries' codes, or Redis's
/// error text.
pub fn restore_functions(payload: &[u8], checksum: bool) -> Result<Vec<bytes::Bytes>, String> {
    let body = verified_body(payload, checksum)
        .map_err(|_| "DUMP payload version or checksum are wrong".to_string())?;
    let mut r = load::Reader::new(body);
    let mut codes = Vec::new();
    while r.remaining() > 0 {
        let kind = r.byte().map_err(|_| "can not read data type".to_string())?;
        if kind != opcode::FUNCTION && kind != opcode::FUNCTION2 {
            return Err("given type is not a function".into());
        }
        codes.push(load::function_code(&mut r, kind)?);
    }
    Ok(codes)
}

/// Why RESTORE refused a payload, with Redis's texts.
#[derive(Debug, PartialEq)]
pub enum RestoreError {
    VersionOrChecksum,
    BadFormat,
}

impl RestoreError {
    pub fn message(&self) -> &'static str {
        match self {
            RestoreError::VersionOrChecksum => "ERR DUMP payload version or checksum are wrong",
            RestoreError::BadFormat => "ERR Bad data format",
        }
    }
}

/// RESTORE's payload back to a value (`verifyDumpPayload`, then
/// `rdbLoadObject`): `None` for an empty collection (Redis refuses those
/// as bad data too).
pub fn restore(payload: &[u8], limits: &Limits, checksum: bool) -> Result<Value, RestoreError> {
    let body = verified_body(payload, checksum)?;
    let mut r = load::Reader::new(body);
    let kind = r.byte().map_err(|_| RestoreError::BadFormat)?;
    match load::value(&mut r, kind, limits) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(RestoreError::BadFormat),
        Err(why) => {
            // Redis's `rdbReportCorruptRDB` line for a bad payload.
            tracing::warn!(
                "Internal error in RDB reading offset {}, function at rdb.c:0 -> {why}",
                r.pos
            );
            Err(RestoreError::BadFormat)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_strings_use_redis_encodings() {
        let mut w = Writer::file(true);
        w.string(b"64");
        w.string(b"-200");
        w.string(b"100000");
        w.string(b"007");
        w.len(300);
        assert_eq!(
            &w.out[MAGIC.len()..],
            [
                0xC0, 64, 0xC1, 0x38, 0xFF, 0xC2, 0xA0, 0x86, 0x01, 0x00, 3, b'0', b'0', b'7',
                0x41, 0x2C
            ]
        );
    }

    #[test]
    fn the_checksum_is_redis_crc64() {
        // Redis's crc64 test vector (crc64.c): "123456789".
        assert_eq!(CRC64.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
        let mut w = Writer::file(false);
        aux_fields(
            &mut w,
            Some(&ReplicationInfo {
                replid: "0123456789012345678901234567890123456789".into(),
                offset: 0,
                stream_db: 0,
            }),
            1,
            false,
        );
        let mut file = Vec::new();
        checksummed(
            true,
            |bytes| {
                file.extend_from_slice(bytes);
                Ok(())
            },
            |out| out(&w.out).map(Some),
        )
        .expect("a Vec takes every write");
        let (body, sum) = file.split_at(file.len() - 8);
        assert!(body.starts_with(b"REDIS0010"));
        assert_eq!(body.last(), Some(&opcode::EOF));
        assert_eq!(sum, CRC64.checksum(body).to_le_bytes());
    }
}
