//! Safe operations on one locked DashMap shard.
//!
//! dashmap's `raw-api` hands out each shard as a hashbrown `RawTable` behind a
//! lock. Everything that needs `unsafe` to work with that table lives in this
//! file, so the rest of the keyspace is safe code.
//!
//! The table holds one pointer per key, to a [`Slot`] holding the key and
//! its entry together. hashbrown keeps tables at most 7/8 full in power-of-two
//! sizes, so a table has up to twice as many buckets as keys: every byte of a
//! bucket costs up to two per key, hence buckets of 8 bytes, and one
//! allocation per key (two when the value is large, or a collection).

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::{DashMap, RwLockWriteGuard, SharedValue};
use hashbrown::raw::RawTable;

use super::snapshot::Snapshot;
use super::{Entry, Key, KeyHasher};

/// A key and its entry, in one allocation. Public only as the element of
/// [`Table`], which FLUSHDB ASYNC carries away to free elsewhere.
#[derive(Debug)]
pub struct Slot {
    key: Key,
    entry: Entry,
}

// The size the keyspace's memory use depends on: 80 bytes are an 80-byte
// malloc chunk; see ARCHITECTURE.md.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Slot>() == 80);

impl Slot {
    /// MEMORY USAGE: what holding `key` costs the keyspace besides its
    /// value's own allocations: the slot (key and entry in one allocation),
    /// the table's pointer to it and a long key's bytes.
    pub fn key_cost(key: &[u8]) -> usize {
        crate::types::memory::alloc_size(size_of::<Slot>())
            + size_of::<Box<Slot>>()
            + Key::heap_size(key)
    }
}

/// A slot hashes and compares as its key: DashMap wants both of its keys,
/// though every lookup here goes through the raw table with a hash of the
/// key's bytes (which `Hash` for [`Key`] agrees with).
impl Hash for Slot {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state)
    }
}

impl PartialEq for Slot {
    fn eq(&self, other: &Slot) -> bool {
        self.key == other.key
    }
}

impl Eq for Slot {}

/// One database's keys: a DashMap used as a set of slots.
pub(crate) type Map = DashMap<Box<Slot>, (), KeyHasher>;

pub(crate) type Table = RawTable<(Box<Slot>, SharedValue<()>)>;

/// What [`Shard::lookup`] found.
pub(crate) enum Lookup<'a> {
    Missing,
    /// The key was past its TTL: removed, here is what it held.
    Expired(Entry),
    Live(&'a mut Entry),
}

/// Where a shard's table is, for [`prefetch_table`] to read without taking
/// the shard's lock (an atomic read-modify-write costs more than the miss it
/// hides when memory is busy). [`Shard`] rewrites it whenever the table is
/// reallocated (it grows, or is taken or swapped away); another thread may
/// read the old one meanwhile, which only misdirects a prefetch.
#[derive(Default)]
pub(crate) struct TableHint {
    ctrl: AtomicUsize,
    mask: AtomicUsize,
}

impl TableHint {
    /// How many buckets the table had.
    pub(crate) fn buckets(&self) -> usize {
        self.mask.load(Ordering::Relaxed) + 1
    }

    fn note(&self, table: &Table) {
        self.ctrl
            .store(table.data_end().as_ptr() as usize, Ordering::Relaxed);
        self.mask.store(table.buckets() - 1, Ordering::Relaxed);
    }
}

/// Hints the CPU to load the lines a lookup of `hash` probes first: the
/// control bytes of its first group and the pointer of its first bucket
/// (where the key usually is). Only addresses are computed, nothing is
/// read, so this is safe whatever hashbrown's layout; it follows hashbrown
/// 0.14's (probing starts at bucket `hash & mask`, control bytes from
/// `data_end`, buckets laid out backwards before it).
pub(crate) fn prefetch_table(hint: &TableHint, hash: u64) {
    let ctrl = hint.ctrl.load(Ordering::Relaxed) as *const u8;
    let pos = hash as usize & hint.mask.load(Ordering::Relaxed);
    let bucket = std::mem::size_of::<(Box<Slot>, SharedValue<()>)>();
    prefetch_line(ctrl.wrapping_add(pos));
    prefetch_line(ctrl.wrapping_sub((pos + 1) * bucket));
}

/// Hints the CPU to load the slot a lookup of `hash` would compare first;
/// best after [`prefetch_table`] had time to work, since finding the slot
/// reads the control bytes and the bucket (not the slot).
pub(crate) fn prefetch_slot(table: &Table, hash: u64) {
    // SAFETY: the caller holds `table` locked (shared) for the borrow, so
    // the buckets `iter_hash` yields are live while we read their pointer.
    // Only the pointer is read; the slot behind it is merely prefetched.
    let slot: Option<*const u8> = unsafe {
        table
            .iter_hash(hash)
            .next()
            .map(|bucket| (&*bucket.as_ref().0 as *const Slot).cast())
    };
    if let Some(slot) = slot {
        prefetch_line(slot);
        prefetch_line(slot.wrapping_add(64));
    }
}

/// Prefetches the cache line holding `addr` (a no-op where there is no
/// stable prefetch instruction). A prefetch never faults, whatever `addr`.
fn prefetch_line(addr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: prefetching is a hint; it reads nothing and cannot fault.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(addr.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// A write-locked shard of one database.
pub(crate) struct Shard<'a> {
    table: RwLockWriteGuard<'a, Table>,
    hint: &'a TableHint,
    /// The database's key count, kept as keys come and go here.
    keys: &'a AtomicI64,
    /// The snapshot this shard is still to be copied into, if any: every
    /// change below first preserves what it changes (see `snapshot.rs`).
    pending: Option<Pending<'a>>,
}

/// A shard's place in a running snapshot that has not copied it yet.
pub(crate) struct Pending<'a> {
    pub(crate) snapshot: Arc<Snapshot>,
    pub(crate) db: usize,
    pub(crate) shard: usize,
    /// The shard's pending flag, cleared when the shard is copied whole.
    pub(crate) flag: &'a AtomicBool,
}

fn eq(key: &[u8]) -> impl Fn(&(Box<Slot>, SharedValue<()>)) -> bool + '_ {
    move |(slot, _)| *slot.key == *key
}

impl<'a> Shard<'a> {
    pub(crate) fn new(
        table: RwLockWriteGuard<'a, Table>,
        hint: &'a TableHint,
        keys: &'a AtomicI64,
        pending: Option<Pending<'a>>,
    ) -> Self {
        Shard {
            table,
            hint,
            keys,
            pending,
        }
    }

    /// A snapshot started while this shard was held (its cut).
    pub(crate) fn join_snapshot(&mut self, pending: Option<Pending<'a>>) {
        self.pending = pending;
    }

    /// `key` is about to change: a pending snapshot gets its entry as it
    /// is now (the cut's, since the key is not done yet), or learns that
    /// the key did not exist. Free when no snapshot waits for this shard.
    pub(crate) fn preserve(&self, hash: u64, key: &[u8]) {
        if let Some(p) = &self.pending {
            p.snapshot.preserve(p.db, p.shard, key, self.get(hash, key));
        }
    }

    /// The whole table is about to change (FLUSHDB, SWAPDB): a pending
    /// snapshot copies what it has not yet, and is done with this shard.
    fn preserve_all(&mut self) {
        if let Some(p) = self.pending.take() {
            p.snapshot.copy_rest(p.db, p.shard, self.iter(), None);
            p.flag.store(false, Ordering::Relaxed);
        }
    }

    /// Room for `additional` more keys is about to be made: if the table
    /// must grow or rehash for it, its entries move to other buckets, and a
    /// pending snapshot's walker, which goes through the buckets in order,
    /// must start over (skipping what it copied).
    fn may_move(&self, additional: usize) {
        if let Some(p) = &self.pending {
            if self.table.capacity() - self.table.len() < additional {
                p.snapshot.moved(p.db, p.shard);
            }
        }
    }

    fn count(&self, delta: i64) {
        if delta != 0 {
            self.keys.fetch_add(delta, Ordering::Relaxed);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        self.table.get(hash, eq(key)).map(|(slot, _)| &slot.entry)
    }

    /// Inserts or replaces, returning the entry that was there.
    pub(crate) fn insert(
        &mut self,
        hasher: &KeyHasher,
        hash: u64,
        key: &[u8],
        entry: Entry,
    ) -> Option<Entry> {
        self.preserve(hash, key);
        self.may_move(1);
        // One probe finds the key or the place for it (a new key in a big
        // table costs a cache miss per probe: loading a file is mostly that).
        let buckets = self.table.buckets();
        let found = self
            .table
            .find_or_find_insert_slot(hash, eq(key), |(slot, _)| hasher.hash_one(&*slot.key));
        if self.table.buckets() != buckets {
            self.hint.note(&self.table);
        }
        match found {
            // SAFETY: the bucket was just found in this table, which we hold
            // write-locked and borrow mutably here.
            Ok(bucket) => Some(std::mem::replace(
                unsafe { &mut bucket.as_mut().0.entry },
                entry,
            )),
            Err(place) => {
                let slot = Box::new(Slot {
                    key: Key::from(key),
                    entry,
                });
                // SAFETY: `place` comes from `find_or_find_insert_slot` just
                // above, and the table has not changed since.
                unsafe {
                    self.table
                        .insert_in_slot(hash, place, (slot, SharedValue::new(())));
                }
                self.count(1);
                None
            }
        }
    }

    /// Room for `additional` more keys without growing.
    pub(crate) fn reserve(&mut self, hasher: &KeyHasher, additional: usize) {
        self.may_move(additional);
        let buckets = self.table.buckets();
        self.table
            .reserve(additional, |(slot, _)| hasher.hash_one(&*slot.key));
        if self.table.buckets() != buckets {
            self.hint.note(&self.table);
        }
    }

    pub(crate) fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        self.preserve(hash, key);
        let (slot, _) = self.table.remove_entry(hash, eq(key))?;
        self.count(-1);
        Some(slot.entry)
    }

    /// Visits entries from bucket `start` on (wrapping) until `visit` has
    /// taken `count` of them or the table is done: Redis's
    /// `dictGetSomeKeys`, which samples a run of buckets from a random
    /// place, for eviction. Returns how many were taken.
    pub(crate) fn sample(
        &self,
        start: usize,
        count: usize,
        mut visit: impl FnMut(&Key, &Entry) -> bool,
    ) -> usize {
        let buckets = self.table.buckets();
        let start = start & (buckets - 1);
        let mut taken = 0;
        if count == 0 {
            return 0;
        }
        let wrapped = self
            .entries_in(start..buckets)
            .chain(self.entries_in(0..start));
        for (_, key, entry) in wrapped {
            if visit(key, entry) {
                taken += 1;
                if taken == count {
                    break;
                }
            }
        }
        taken
    }

    /// How many buckets the table has: the end of [`Shard::entries_in`].
    pub(crate) fn buckets(&self) -> usize {
        self.table.buckets()
    }

    /// The entries in buckets `range`, in table order, with their bucket.
    /// A bucket's entry stays there until the table grows or rehashes.
    pub(crate) fn entries_in(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (usize, &Key, &Entry)> + '_ {
        let end = if self.table.is_empty() {
            0
        } else {
            range.end.min(self.table.buckets())
        };
        (range.start..end).filter_map(move |index| {
            // SAFETY: `index` is below `buckets`, and a full bucket holds a
            // live element; the iterator borrows `self`, which holds the
            // table locked, so nothing changes it meanwhile.
            unsafe {
                if !self.table.is_bucket_full(index) {
                    return None;
                }
                let slot = &self.table.bucket(index).as_ref().0;
                Some((index, &slot.key, &slot.entry))
            }
        })
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
            if expired(&bucket.as_ref().0.entry) {
                if let Some(p) = &self.pending {
                    let slot = &bucket.as_ref().0;
                    p.snapshot.preserve(p.db, p.shard, key, Some(&slot.entry));
                }
                let ((slot, _), _) = self.table.remove(bucket);
                self.count(-1);
                Lookup::Expired(slot.entry)
            } else {
                Lookup::Live(&mut bucket.as_mut().0.entry)
            }
        }
    }

    /// Every entry, in table order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> + '_ {
        // SAFETY: `iter` and `as_ref` require the table to outlive the iterator
        // and the references, and not to change meanwhile; both borrow `self`,
        // which holds the write lock, immutably.
        unsafe { self.table.iter().map(|bucket| bucket.as_ref()) }
            .map(|(slot, _)| (&slot.key, &slot.entry))
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
                let (slot, _) = bucket.as_ref();
                if remove(&slot.key, &slot.entry) {
                    if let Some(p) = &self.pending {
                        p.snapshot
                            .preserve(p.db, p.shard, &slot.key, Some(&slot.entry));
                    }
                    let ((slot, _), _) = self.table.remove(bucket);
                    let Slot { key, entry } = *slot;
                    removed.push((key, entry));
                }
            }
        }
        self.count(-(removed.len() as i64));
        removed
    }

    /// Takes the whole table out, leaving an empty one (FLUSHDB, SWAPDB).
    pub(crate) fn take(&mut self) -> Table {
        self.preserve_all();
        let taken = std::mem::replace(&mut *self.table, RawTable::new());
        self.hint.note(&self.table);
        self.count(-(taken.len() as i64));
        taken
    }

    /// Swaps contents with another shard (SWAPDB).
    pub(crate) fn swap(&mut self, other: &mut Shard<'_>) {
        self.preserve_all();
        other.preserve_all();
        let (mine, theirs) = (self.len() as i64, other.len() as i64);
        std::mem::swap(&mut *self.table, &mut *other.table);
        self.count(theirs - mine);
        other.count(mine - theirs);
        self.hint.note(&self.table);
        other.hint.note(&other.table);
    }
}
