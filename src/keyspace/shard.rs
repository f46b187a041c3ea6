//! Safe operations on one locked DashMap shard.
//!
//! dashmap's `raw-api` hands out each shard as a hashbrown `RawTable` behind a
//! lock. Everything that needs `unsafe` to work with that table lives in this
//! file, so the rest of the keyspace is safe code.

use dashmap::{RwLockWriteGuard, SharedValue};
use hashbrown::raw::RawTable;

use super::{Entry, Key, KeyHasher};
use std::hash::BuildHasher;

pub(crate) type Table = RawTable<(Key, SharedValue<Entry>)>;

/// What [`Shard::lookup`] found.
pub(crate) enum Lookup<'a> {
    Missing,
    /// The key was past its TTL: removed, here is what it held.
    Expired(Entry),
    Live(&'a mut Entry),
}

/// A write-locked shard of one database.
pub(crate) struct Shard<'a> {
    table: RwLockWriteGuard<'a, Table>,
}

fn eq(key: &[u8]) -> impl Fn(&(Key, SharedValue<Entry>)) -> bool + '_ {
    move |(k, _)| &**k == key
}

impl<'a> Shard<'a> {
    pub(crate) fn new(table: RwLockWriteGuard<'a, Table>) -> Self {
        Shard { table }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        self.table.get(hash, eq(key)).map(|(_, v)| v.get())
    }

    pub(crate) fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        self.table.get_mut(hash, eq(key)).map(|(_, v)| v.get_mut())
    }

    /// Inserts or replaces, returning the entry that was there.
    pub(crate) fn insert(
        &mut self,
        hasher: &KeyHasher,
        hash: u64,
        key: &[u8],
        entry: Entry,
    ) -> Option<Entry> {
        if let Some(slot) = self.get_mut(hash, key) {
            return Some(std::mem::replace(slot, entry));
        }
        self.table
            .insert(hash, (Key::from(key), SharedValue::new(entry)), |(k, _)| {
                hasher.hash_one(&**k)
            });
        None
    }

    pub(crate) fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        self.table
            .remove_entry(hash, eq(key))
            .map(|(_, v)| v.into_inner())
    }

    /// Finds `key` with one probe: its entry if `expired` says it is not
    /// past its TTL, otherwise the entry removed from the table.
    pub(crate) fn lookup(
        &mut self,
        hash: u64,
        key: &[u8],
        expired: impl FnOnce(&Entry) -> bool,
    ) -> Lookup<'_> {
        let Some(bucket) = self.table.find(hash, eq(key)) else {
            return Lookup::Missing;
        };
        // SAFETY: `bucket` was just found in this table, which we hold
        // write-locked and borrow mutably for the lifetime of the result, so it
        // is a live bucket and nothing else reads or changes it meanwhile. It
        // is either removed (once) or handed out, never both.
        unsafe {
            if expired(bucket.as_ref().1.get()) {
                let ((_, v), _) = self.table.remove(bucket);
                Lookup::Expired(v.into_inner())
            } else {
                Lookup::Live(bucket.as_mut().1.get_mut())
            }
        }
    }

    /// Every entry, in table order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> + '_ {
        // SAFETY: `iter` and `as_ref` require the table to outlive the iterator
        // and the references, and not to change meanwhile; both borrow `self`,
        // which holds the write lock, immutably.
        unsafe { self.table.iter().map(|bucket| bucket.as_ref()) }.map(|(k, v)| (k, v.get()))
    }

    /// Visits every entry.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Key, &Entry)) {
        self.iter().for_each(|(k, e)| f(k, e));
    }

    /// Removes every entry for which `remove` says so, returning them.
    pub(crate) fn extract_if(
        &mut self,
        mut remove: impl FnMut(&Key, &Entry) -> bool,
    ) -> Vec<(Key, Entry)> {
        let mut removed = Vec::new();
        // SAFETY: we hold the write lock; buckets yielded by `iter` are erased
        // one at a time, which hashbrown allows during iteration
        // (erasing the current bucket does not move other buckets).
        unsafe {
            for bucket in self.table.iter() {
                let (k, v) = bucket.as_ref();
                if remove(k, v.get()) {
                    let ((k, v), _) = self.table.remove(bucket);
                    removed.push((k, v.into_inner()));
                }
            }
        }
        removed
    }

    /// Takes the whole table out, leaving an empty one (FLUSHDB, SWAPDB).
    pub(crate) fn take(&mut self) -> Table {
        std::mem::replace(&mut *self.table, RawTable::new())
    }

    /// Swaps contents with another shard (SWAPDB).
    pub(crate) fn swap(&mut self, other: &mut Shard<'_>) {
        std::mem::swap(&mut *self.table, &mut *other.table);
    }
}
