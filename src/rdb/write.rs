//! Writing values and whole datasets in Redis 7.0's RDB encodings
//! (rdb.c's `rdbSaveObject`, `rdbSaveRawString`, `rdbSaveRio`).

use super::listpack::{self, Builder};
use super::{lzf, opcode, rdb_type, Access, MAGIC};
use crate::keyspace::{CommandClock, EntryRef, Guard, StringValue, Value};
use crate::types::hash::Hash;
use crate::types::set::Set;
use crate::types::zset::ZSet;

/// How much of a file [`Writer::databases`] encodes before handing it on.
const FLUSH_AT: usize = 1 << 20;

/// An RDB stream being written (a file, a DUMP payload).
pub struct Writer {
    pub out: Vec<u8>,
    /// `rdbcompression`: LZF for strings over 20 bytes.
    pub(super) compress: bool,
}

impl Writer {
    pub fn new(compress: bool) -> Writer {
        Writer {
            out: Vec::new(),
            compress,
        }
    }

    /// A file: starts with the magic and version.
    pub fn file(compress: bool) -> Writer {
        let mut w = Writer::new(compress);
        w.out.extend_from_slice(MAGIC);
        w
    }

    /// Redis's `rdbSaveLen`: 6, 14 or 32 bits (or 64 beyond u32).
    pub fn len(&mut self, n: usize) {
        match n {
            0..0x40 => self.out.push(n as u8),
            0x40..0x4000 => self
                .out
                .extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]),
            _ => match u32::try_from(n) {
                Ok(n) => {
                    self.out.push(0x80);
                    self.out.extend_from_slice(&n.to_be_bytes());
                }
                Err(_) => {
                    self.out.push(0x81);
                    self.out.extend_from_slice(&(n as u64).to_be_bytes());
                }
            },
        }
    }

    /// `rdbEncodeInteger`: 8, 16 or 32-bit integers as a type byte and the
    /// value; `false` for wider ones.
    fn small_int(&mut self, n: i64) -> bool {
        if let Ok(n) = i8::try_from(n) {
            self.out.extend_from_slice(&[0xC0, n as u8]);
        } else if let Ok(n) = i16::try_from(n) {
            self.out.push(0xC1);
            self.out.extend_from_slice(&n.to_le_bytes());
        } else if let Ok(n) = i32::try_from(n) {
            self.out.push(0xC2);
            self.out.extend_from_slice(&n.to_le_bytes());
        } else {
            return false;
        }
        true
    }

    /// Redis's `rdbSaveRawString`: a string of up to 11 bytes that is a
    /// canonical 32-bit integer is saved as that integer, one over 20
    /// bytes LZF-compressed when that saves at least 4 bytes (and
    /// `rdbcompression` is on), anything else as length and bytes.
    pub fn string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(n) = crate::number::parse_i64(s) {
                if self.small_int(n) {
                    return;
                }
            }
        }
        if self.compress && s.len() > 20 {
            if let Some(packed) = lzf::compress(s, s.len() - 4) {
                self.out.push(0xC3);
                self.len(packed.len());
                self.len(s.len());
                self.out.extend_from_slice(&packed);
                return;
            }
        }
        self.len(s.len());
        self.out.extend_from_slice(s);
    }

    /// `rdbSaveLongLongAsStringObject`: an integer string value.
    fn int_string(&mut self, n: i64) {
        if !self.small_int(n) {
            let mut buf = itoa::Buffer::new();
            let text = buf.format(n).as_bytes();
            self.len(text.len());
            self.out.extend_from_slice(text);
        }
    }

    /// The function libraries, one `FUNCTION2` record each (Redis's
    /// `rdbSaveFunctions`).
    pub fn functions(&mut self, codes: &[bytes::Bytes]) {
        for code in codes {
            self.out.push(super::opcode::FUNCTION2);
            self.string(code);
        }
    }

    pub fn aux(&mut self, name: &str, value: &str) {
        self.out.push(opcode::AUX);
        self.string(name.as_bytes());
        self.string(value.as_bytes());
    }

    /// The RDB type byte for a value, as `rdbSaveObjectType`.
    pub fn value_type(value: &Value) -> u8 {
        match value {
            Value::String(_) => rdb_type::STRING,
            Value::List(_) => rdb_type::LIST_QUICKLIST_2,
            Value::Set(Set::Intset(_)) => rdb_type::SET_INTSET,
            Value::Set(_) => rdb_type::SET,
            Value::ZSet(ZSet::Listpack(_)) => rdb_type::ZSET_LISTPACK,
            Value::ZSet(_) => rdb_type::ZSET_2,
            Value::Hash(Hash::Listpack(_)) => rdb_type::HASH_LISTPACK,
            Value::Hash(_) => rdb_type::HASH,
            Value::Stream(_) => rdb_type::STREAM_LISTPACKS_2,
        }
    }

    /// `rdbSaveObject`: the value in the encoding its type byte names.
    pub fn value(&mut self, value: &Value) {
        match value {
            Value::String(StringValue::Int(n)) => self.int_string(*n),
            Value::String(StringValue::Embstr(e)) => self.string(e),
            Value::String(StringValue::Raw(b)) => self.string(b),
            Value::List(list) => {
                // Quicklist 2: node count, then each node as a packed
                // listpack (container 2), nodes as the list holds them.
                self.len(list.nodes());
                let mut elements = list.iter();
                for (count, _) in list.node_sizes() {
                    let mut lp = Builder::default();
                    for _ in 0..count {
                        if let Some(e) = elements.next_element() {
                            lp.push(e);
                        }
                    }
                    self.len(QUICKLIST_NODE_PACKED);
                    self.string(&lp.finish());
                }
            }
            Value::Set(Set::Intset(ints)) => {
                let members: Vec<i64> = ints.iter().collect();
                self.string(&listpack::write_intset(&members, ints.width() as usize / 8))
            }
            Value::Set(set) => {
                self.len(set.len());
                for m in set.iter() {
                    m.with_bytes(|b| self.string(b));
                }
            }
            Value::ZSet(zset @ ZSet::Listpack(_)) => {
                let mut lp = Builder::default();
                let mut text = Vec::with_capacity(24);
                for (member, score) in zset.iter_from(0, false) {
                    lp.push(member);
                    listpack::score_text(score, &mut text);
                    lp.push(&text);
                }
                self.string(&lp.finish());
            }
            Value::ZSet(zset) => {
                // Greatest first, as Redis walks its skiplist from the tail
                // (so its loader inserts each at the head).
                self.len(zset.len());
                for (member, score) in zset.iter_from(zset.len().saturating_sub(1), true) {
                    self.string(member);
                    self.out.extend_from_slice(&score.to_le_bytes());
                }
            }
            Value::Hash(hash @ Hash::Listpack(_)) => {
                let mut lp = Builder::default();
                hash.for_each(|field, value| {
                    lp.push(field);
                    lp.push(value);
                });
                self.string(&lp.finish());
            }
            Value::Hash(hash) => {
                self.len(hash.len());
                hash.for_each(|field, value| {
                    self.string(field);
                    self.string(value);
                });
            }
            Value::Stream(stream) => super::stream::write(self, stream),
        }
    }

    /// One key: its expiry, type, name and value (`rdbSaveKeyValuePair`).
    pub fn key(&mut self, key: &[u8], entry: EntryRef<'_>, access: Access, now_ms: u64) {
        if let Some(at) = entry.expires_at() {
            self.out.push(opcode::EXPIRETIME_MS);
            self.out.extend_from_slice(&at.to_le_bytes());
        }
        match access {
            Access::Idle => {
                self.out.push(opcode::IDLE);
                self.len(entry.access.idle_secs(now_ms) as usize);
            }
            Access::Freq { decay_minutes } => {
                self.out.push(opcode::FREQ);
                self.out.push(entry.access.frequency(now_ms, decay_minutes));
            }
            Access::None => {}
        }
        self.out.push(Writer::value_type(entry.value));
        self.string(key);
        self.value(entry.value);
    }

    /// Every database of the locked keyspace, as `rdbSaveRio` writes them:
    /// SELECTDB and RESIZEDB before each non-empty one, then its keys
    /// (keys past their TTL that are still stored included, as Redis's
    /// dict walk; the loader drops them), each followed by `key_delay`.
    /// What is encoded goes to `write` each time a megabyte is ready; the
    /// rest stays in `out`. Returns the key count.
    pub fn databases(
        &mut self,
        guard: &mut Guard<'_>,
        databases: usize,
        access: Access,
        key_delay: i64,
        write: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<usize> {
        let now = crate::util::now_ms();
        let clock = CommandClock::at(now);
        let mut keys = 0;
        // The first failed write: the keys after it are skipped.
        let mut failed = None;
        for db in 0..databases {
            let mut view = guard.db(db, &clock);
            let (mut size, mut volatile) = (0usize, 0usize);
            view.for_each_stored(|_, e| {
                size += 1;
                volatile += usize::from(e.expires_at().is_some());
            });
            if size == 0 {
                continue;
            }
            self.database(db, size, volatile);
            view.for_each_stored(|k, e| {
                if failed.is_some() {
                    return;
                }
                self.key(k, e, access, now);
                if self.out.len() >= FLUSH_AT {
                    failed = write(&self.out).err();
                    self.out.clear();
                }
                crate::util::debug_delay(key_delay);
            });
            if let Some(e) = failed.take() {
                return Err(e);
            }
            keys += size;
        }
        Ok(keys)
    }

    /// The start of a database's keys: SELECTDB, and RESIZEDB with its
    /// sizes (keys, keys with a TTL).
    pub fn database(&mut self, db: usize, keys: usize, volatile: usize) {
        self.out.push(opcode::SELECTDB);
        self.len(db);
        self.out.push(opcode::RESIZEDB);
        self.len(keys);
        self.len(volatile);
    }
}

/// A quicklist node holding a listpack (`QUICKLIST_NODE_CONTAINER_PACKED`).
pub const QUICKLIST_NODE_PACKED: usize = 2;
/// A node holding one big element as is (`QUICKLIST_NODE_CONTAINER_PLAIN`).
pub const QUICKLIST_NODE_PLAIN: usize = 1;
