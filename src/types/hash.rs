//! The hash type (Redis's t_hash.c data side): a listpack while small, a
//! hash table once it outgrows `hash-max-listpack-entries` or gets a field or
//! value longer than `hash-max-listpack-value`. Conversion is one-way, as in Redis.

use super::compact::{CompactPair, PackedBytes};
use super::indexed::{IndexedDict, Keyed};
use super::varint;

/// One field of a hash in its "hashtable" encoding: field and value inline
/// when short, else in one allocation (see [`CompactPair`]).
#[derive(Clone, Debug)]
pub struct Pair(CompactPair);

impl Pair {
    fn new(field: &[u8], value: &[u8]) -> Pair {
        Pair(CompactPair::new(field, value))
    }

    pub fn field(&self) -> &[u8] {
        self.0.first()
    }

    pub fn value(&self) -> &[u8] {
        self.0.second()
    }
}

impl Keyed for Pair {
    fn key(&self) -> &[u8] {
        self.0.first()
    }
}

/// The two settings that decide a hash's encoding.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `hash-max-listpack-entries`: more fields than this means a hash table.
    pub max_entries: u64,
    /// `hash-max-listpack-value`: a longer field or value means a hash table.
    pub max_value: u64,
}

#[derive(Clone, Debug)]
pub enum Hash {
    /// "listpack": field, value, field, value ... in insertion order.
    Listpack(Listpack),
    /// "hashtable".
    Table(Box<IndexedDict<Pair>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Listpack::default())
    }
}

impl Hash {
    /// The name `OBJECT ENCODING` answers.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// MEMORY USAGE's estimate of the hash's heap bytes.
    pub fn memory(&self, samples: usize) -> usize {
        match self {
            Hash::Listpack(lp) => lp.buf.heap_size(),
            Hash::Table(t) => t.memory(samples, |p| p.0.heap_size()),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.buf.count(),
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Listpack(lp) => lp.find(field).map(|p| p.value),
            Hash::Table(t) => t.get(field).map(Pair::value),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Redis `hashTypeSet`: sets `field` to `value`, converting to a hash
    /// table first when either is too long for a listpack and afterwards when
    /// the listpack has too many fields. Returns true if the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        let too_long =
            field.len() as u64 > limits.max_value || value.len() as u64 > limits.max_value;
        if too_long {
            self.convert();
        }
        match self {
            Hash::Listpack(lp) => {
                let added = lp.set(field, value);
                if lp.buf.count() as u64 > limits.max_entries {
                    self.convert();
                }
                added
            }
            Hash::Table(t) => match t.get_mut(field) {
                Some(pair) => {
                    pair.0.set_second(value);
                    false
                }
                None => t.insert(Pair::new(field, value)),
            },
        }
    }

    /// Removes `field`; returns whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => lp.remove(field),
            Hash::Table(t) => t.remove(field).is_some(),
        }
    }

    /// Redis `hashTypeConvert` to `OBJ_ENCODING_HT`.
    fn convert(&mut self) {
        if let Hash::Listpack(lp) = self {
            let mut table = IndexedDict::with_capacity(lp.buf.count());
            for (field, value) in lp.iter() {
                table.insert(Pair::new(field, value));
            }
            *self = Hash::Table(Box::new(table));
        }
    }

    /// Every (field, value), in the encoding's order (insertion order for a listpack).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let (lp, table) = match self {
            Hash::Listpack(lp) => (Some(lp.iter()), None),
            Hash::Table(t) => (None, Some(t.entries().iter())),
        };
        lp.into_iter()
            .flatten()
            .chain(table.into_iter().flatten().map(|p| p.0.parts()))
    }

    /// The fields by position, for random picks (HRANDFIELD). A listpack is
    /// walked once; a table is indexed directly.
    pub fn by_position(&self) -> ByPosition<'_> {
        match self {
            Hash::Listpack(lp) => ByPosition::Listed(lp.iter().collect()),
            Hash::Table(t) => ByPosition::Table(t.entries()),
        }
    }

    /// One HSCAN step (see [`IndexedDict::scan`]); a listpack is visited
    /// whole and ends the scan, as in Redis.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Listpack(lp) => {
                lp.iter().for_each(|(f, v)| visit(f, v));
                0
            }
            Hash::Table(t) => t.scan(cursor, count, |p| {
                let (field, value) = p.0.parts();
                visit(field, value)
            }),
        }
    }
}

/// Random access to a hash's fields: see [`Hash::by_position`].
pub enum ByPosition<'a> {
    Listed(Vec<(&'a [u8], &'a [u8])>),
    Table(&'a [Pair]),
}

impl<'a> ByPosition<'a> {
    pub fn len(&self) -> usize {
        match self {
            ByPosition::Listed(v) => v.len(),
            ByPosition::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, pos: usize) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            ByPosition::Listed(v) => v.get(pos).copied(),
            ByPosition::Table(t) => t.get(pos).map(|p| p.0.parts()),
        }
    }
}

/// A compact hash: one exactly sized buffer of length-prefixed strings,
/// field then value, like Redis's listpack (whose per-entry headers and
/// integer encodings are not visible to clients, so lengths here are plain
/// LEB128 varints), inline in the value while short (see [`PackedBytes`]).
/// Lookups are linear, which is fine for the few hundred short entries a
/// listpack holds.
#[derive(Clone, Debug, Default)]
pub struct Listpack {
    /// The pairs; its count is how many.
    buf: PackedBytes,
}

/// A pair found in a listpack: where it starts and ends, and its parts.
struct Found<'a> {
    start: usize,
    value_start: usize,
    end: usize,
    value: &'a [u8],
}

impl Listpack {
    fn iter(&self) -> ListpackIter<'_> {
        ListpackIter {
            buf: &self.buf,
            pos: 0,
        }
    }

    fn find(&self, field: &[u8]) -> Option<Found<'_>> {
        let buf: &[u8] = &self.buf;
        let mut pos = 0;
        while pos < buf.len() {
            let (f, value_start) = varint::read_prefixed(buf, pos)?;
            let (value, end) = varint::read_prefixed(buf, value_start)?;
            if f == field {
                return Some(Found {
                    start: pos,
                    value_start,
                    end,
                    value,
                });
            }
            pos = end;
        }
        None
    }

    /// Replaces `range` of the buffer with `parts`, each length-prefixed,
    /// written in place.
    fn put(&mut self, range: std::ops::Range<usize>, parts: &[&[u8]]) {
        let len = parts.iter().map(|p| varint::prefixed_len(p.len())).sum();
        self.buf.replace(range, len, |mut out| {
            for part in parts {
                out = varint::write_prefixed(out, part);
            }
        });
    }

    /// Updates in place or appends; returns true if the field is new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self
            .find(field)
            .map(|f| (f.value_start, f.end, f.value.len()))
        {
            // Same length, same prefix: overwrite the data, no re-encoding
            // or reallocation (HSET of a field to a value of its size).
            Some((_, end, old_len)) if old_len == value.len() => {
                self.buf[end - old_len..end].copy_from_slice(value);
                false
            }
            Some((start, end, _)) => {
                self.put(start..end, &[value]);
                false
            }
            None => {
                let end = self.buf.len();
                self.put(end..end, &[field, value]);
                self.buf.set_count(self.buf.count() + 1);
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let Some((start, end)) = self.find(field).map(|f| (f.start, f.end)) else {
            return false;
        };
        self.buf.splice(start..end, &[]);
        self.buf.set_count(self.buf.count() - 1);
        true
    }
}

struct ListpackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for ListpackIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (field, next) = varint::read_prefixed(self.buf, self.pos)?;
        let (value, next) = varint::read_prefixed(self.buf, next)?;
        self.pos = next;
        Some((field, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        max_entries: 4,
        max_value: 8,
    };

    #[test]
    fn listpack_keeps_insertion_order_and_updates_in_place() {
        let mut h = Hash::default();
        assert!(h.set(b"a", b"1", SMALL));
        assert!(h.set(b"b", b"", SMALL));
        assert!(h.set(b"", b"3", SMALL));
        assert!(!h.set(b"a", b"long one", SMALL));
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(
            pairs,
            [(&b"a"[..], &b"long one"[..]), (b"b", b""), (b"", b"3")]
        );
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.len(), 2);
        assert_eq!(h.get(b""), Some(&b"3"[..]));
        assert_eq!(h.encoding_name(), "listpack");
    }

    #[test]
    fn converts_on_too_many_fields_or_a_long_string() {
        let mut h = Hash::default();
        for f in [b"1", b"2", b"3", b"4"] {
            h.set(f, b"v", SMALL);
        }
        assert_eq!(h.encoding_name(), "listpack");
        h.set(b"5", b"v", SMALL);
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.len(), 5);

        let mut h = Hash::default();
        h.set(b"f", b"123456789", SMALL);
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.get(b"f"), Some(&b"123456789"[..]));
    }

    #[test]
    fn listpack_bytes_are_length_prefixed_strings() {
        let mut lp = Listpack::default();
        lp.set(b"f", &[b'v'; 0x80]);
        let mut want = vec![1, b'f', 0x80, 0x01];
        want.extend_from_slice(&[b'v'; 0x80]);
        assert_eq!(&*lp.buf, &want[..]);
    }

    #[test]
    fn long_strings_survive_the_varint_lengths() {
        let big = vec![b'x'; 70_000];
        let mut h = Hash::default();
        let limits = Limits {
            max_entries: 10,
            max_value: u64::MAX,
        };
        h.set(&big, &big[..300], limits);
        h.set(b"k", &big, limits);
        assert_eq!(h.get(&big).map(<[u8]>::len), Some(300));
        assert_eq!(h.get(b"k").map(<[u8]>::len), Some(70_000));
        assert_eq!(h.encoding_name(), "listpack");
    }

    #[test]
    fn compact_forms_stay_small() {
        assert!(std::mem::size_of::<Hash>() <= 32);
    }
}
