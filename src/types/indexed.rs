//! The "hashtable" encoding of hashes and sets: a dense vector of entries plus
//! a hash index of their positions (the layout of `indexmap`).
//!
//! Redis uses a chained `dict` there. A dense vector serves what Redis needs
//! the dict for just as well and adds two things the keyspace rules want:
//! O(1) uniform random picks by position (SRANDMEMBER, SPOP, HRANDFIELD) and a
//! scan cursor that is simply a position. Removal swaps the last entry into
//! the hole, so an entry only ever moves from the end towards the front; the
//! scan walks positions from the end down, which is why it never misses an
//! entry that stays for the whole scan (see [`IndexedDict::scan`]).

use std::hash::BuildHasher;

use hashbrown::raw::RawTable;

use super::compact::CompactBytes;
use super::memory::{alloc_size, sampled};

/// An entry with a byte-string key (a set member, a hash field).
pub trait Keyed {
    fn key(&self) -> &[u8];
}

impl Keyed for CompactBytes {
    fn key(&self) -> &[u8] {
        self
    }
}

/// Below this many slots a table is never shrunk (Redis `DICT_HT_INITIAL_SIZE`).
const MIN_SHRINK_SIZE: usize = 4;

#[derive(Clone)]
pub struct IndexedDict<E> {
    entries: Vec<E>,
    /// Positions in `entries`, hashed by their entry's key: `u32`, as Redis
    /// caps sets and hashes at 2^32 - 1 elements, so a bucket is 5 bytes
    /// (with its control byte) rather than 9.
    index: RawTable<u32>,
    hasher: foldhash::fast::RandomState,
}

/// Shows the entries; the index is derived from them.
impl<E: std::fmt::Debug> std::fmt::Debug for IndexedDict<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.entries).finish()
    }
}

impl<E: Keyed> IndexedDict<E> {
    /// An empty table with room for `capacity` entries (Redis presizes the
    /// dict when converting from a compact encoding).
    pub fn with_capacity(capacity: usize) -> Self {
        IndexedDict {
            entries: Vec::with_capacity(capacity),
            index: RawTable::with_capacity(capacity),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// MEMORY USAGE: the table itself (boxed, as hashes and sets hold it),
    /// its entry vector and index, plus the entries' own heap bytes
    /// (`heap`), sampled.
    pub fn memory(&self, samples: usize, heap: impl Fn(&E) -> usize) -> usize {
        let index = match self.index.buckets() {
            // hashbrown: a u32 per bucket, a control byte per bucket plus a group.
            n if self.index.capacity() > 0 => alloc_size(n * (size_of::<u32>() + 1) + 16),
            _ => 0,
        };
        alloc_size(size_of::<Self>())
            + alloc_size(self.entries.capacity() * size_of::<E>())
            + index
            + sampled(self.entries.iter(), self.len(), samples, heap)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in position order.
    pub fn entries(&self) -> &[E] {
        &self.entries
    }

    /// The entry at `pos` (for random picks and scans).
    pub fn at(&self, pos: usize) -> Option<&E> {
        self.entries.get(pos)
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Position of the entry with `key`.
    pub fn position(&self, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .get(self.hash(key), |&i| {
                entries.get(i as usize).is_some_and(|e| e.key() == key)
            })
            .map(|&i| i as usize)
    }

    pub fn get(&self, key: &[u8]) -> Option<&E> {
        self.position(key).and_then(|i| self.entries.get(i))
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut E> {
        let pos = self.position(key)?;
        self.entries.get_mut(pos)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.position(key).is_some()
    }

    /// Adds `entry` unless its key is present. Returns whether it was added.
    /// Positions are `u32`: past Redis's 2^32 - 1 elements (some 100 GB of
    /// members) they would wrap.
    pub fn insert(&mut self, entry: E) -> bool {
        let hash = self.hash(entry.key());
        let IndexedDict {
            entries,
            index,
            hasher,
        } = self;
        let key = entry.key();
        if index
            .get(hash, |&i| {
                entries.get(i as usize).is_some_and(|e| e.key() == key)
            })
            .is_some()
        {
            return false;
        }
        index.insert(hash, entries.len() as u32, |&i| {
            entries
                .get(i as usize)
                .map_or(0, |e| hasher.hash_one(e.key()))
        });
        entries.push(entry);
        true
    }

    /// Removes the entry with `key`, moving the last entry into its place.
    pub fn remove(&mut self, key: &[u8]) -> Option<E> {
        let hash = self.hash(key);
        let entries = &self.entries;
        let pos = self.index.remove_entry(hash, |&i| {
            entries.get(i as usize).is_some_and(|e| e.key() == key)
        })?;
        Some(self.take_at(pos as usize))
    }

    /// Removes the entry at `pos` (from the index too), moving the last entry
    /// into its place.
    pub fn remove_at(&mut self, pos: usize) -> Option<E> {
        let key_hash = self.hash(self.entries.get(pos)?.key());
        self.index.remove_entry(key_hash, |&i| i as usize == pos)?;
        Some(self.take_at(pos))
    }

    /// Second half of a removal whose index slot is already gone.
    fn take_at(&mut self, pos: usize) -> E {
        let last = self.entries.len() - 1;
        if pos != last {
            let moved_hash = self.hash(self.entries[last].key());
            if let Some(slot) = self.index.get_mut(moved_hash, |&i| i as usize == last) {
                *slot = pos as u32;
            }
        }
        let entry = self.entries.swap_remove(pos);
        self.shrink_if_sparse();
        entry
    }

    /// Gives memory back once less than a tenth of it is used, like Redis's
    /// `htNeedsResize` (`HASHTABLE_MIN_FILL` is 10%).
    fn shrink_if_sparse(&mut self) {
        let len = self.entries.len();
        if self.entries.capacity() > MIN_SHRINK_SIZE && len * 10 < self.entries.capacity() {
            let target = len.max(MIN_SHRINK_SIZE);
            self.entries.shrink_to(target);
            let IndexedDict {
                entries,
                index,
                hasher,
            } = self;
            index.shrink_to(target, |&i| {
                entries
                    .get(i as usize)
                    .map_or(0, |e| hasher.hash_one(e.key()))
            });
        }
    }

    /// One step of a scan: visits up to `count` entries below position
    /// `cursor` (cursor 0 starts at the end), highest first, and returns the
    /// next cursor (0 when done). Entries only move downwards (into a hole
    /// left by a removal) and only from the end, which the scan has already
    /// passed or not yet reached as a whole, so an entry present for the
    /// whole scan is visited at least once: the SCAN guarantee.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&E)) -> u64 {
        let len = self.entries.len();
        let start = match usize::try_from(cursor) {
            Ok(0) => len,
            Ok(c) => c.min(len),
            Err(_) => len,
        };
        let end = start.saturating_sub(count);
        for entry in self.entries[end..start].iter().rev() {
            visit(entry);
        }
        end as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> CompactBytes {
        n.to_string().as_bytes().into()
    }

    #[test]
    fn insert_find_remove_keep_the_index_consistent() {
        let mut d = IndexedDict::with_capacity(0);
        for n in 0..1000 {
            assert!(d.insert(key(n)));
        }
        assert!(!d.insert(key(7)));
        for n in (0..1000).step_by(3) {
            assert_eq!(d.remove(&key(n)).as_deref(), Some(&*key(n)));
        }
        assert!(d.remove(&key(0)).is_none());
        for n in 0..1000 {
            assert_eq!(d.contains(&key(n)), n % 3 != 0, "{n}");
        }
        for (pos, e) in d.entries().iter().enumerate() {
            assert_eq!(d.position(e), Some(pos));
        }
        while !d.is_empty() {
            assert!(d.remove_at(d.len() / 2).is_some());
        }
        assert!(d.entries.capacity() <= MIN_SHRINK_SIZE);
    }

    #[test]
    fn scan_visits_every_entry_present_throughout_despite_removals() {
        let mut d = IndexedDict::with_capacity(0);
        for n in 0..500 {
            d.insert(key(n));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut removed = 0;
        loop {
            cursor = d.scan(cursor, 7, |e| {
                seen.insert(e.clone());
            });
            // Remove from the front, which pulls unvisited tail entries into holes.
            if d.remove_at(removed % 50).is_some() {
                removed += 1;
            }
            d.insert(key(10_000 + removed));
            if cursor == 0 {
                break;
            }
        }
        for e in d.entries().iter().filter(|e| e.len() < 5) {
            assert!(seen.contains(e), "missed {:?}", e);
        }
    }
}
