//! One database's shards, and safe operations on one locked shard.
//!
//! A database is a DashMap whose shards' hashbrown `RawTable`s (dashmap's
//! `raw-api`) hold slot numbers, and beside it one arena per shard holding
//! the slots they name, reached only through that shard's lock. Everything
//! that needs `unsafe` to work with the tables and arenas lives in this
//! file, so the rest of the keyspace is safe code.
//!
//! The layout is for memory (issue 22). hashbrown keeps tables at most 7/8
//! full in power-of-two sizes, so a table has up to twice as many buckets as
//! keys, and every byte of a bucket costs up to two per key: a bucket holds
//! a `u32` slot number (5 bytes with its control byte, where a pointer took
//! 9). The slots, each a key and its entry (80 bytes), sit in chunks of 64
//! (5,120 bytes, one of jemalloc's size classes), numbered densely: removing
//! a key moves the shard's last slot into its place and renumbers that
//! slot's bucket, so the chunks stay full and the memory of deleted keys goes
//! back to the allocator chunk by chunk. The table shrinks when it falls
//! below a tenth full, as Redis's dicts do.

use std::cell::UnsafeCell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::{DashMap, RwLockReadGuard, RwLockWriteGuard, SharedValue};
use hashbrown::raw::RawTable;
use smallvec::SmallVec;

use super::snapshot::Snapshot;
use super::{Entry, Key, KeyHasher};

/// A key and its entry: one slot of a shard's arena.
struct Slot {
    key: Key,
    entry: Entry,
}

// The size the keyspace's memory use depends on; see ARCHITECTURE.md.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Slot>() == 80);

/// MEMORY USAGE: what holding `key` costs the keyspace besides its value's
/// own allocations: its slot (key and entry), the table's slot number and a
/// long key's bytes.
pub fn key_cost(key: &[u8]) -> usize {
    size_of::<Slot>() + size_of::<Bucket>() + Key::heap_size(key)
}

/// Slots per chunk of an arena: 64 slots are 5,120 bytes, exactly one of
/// jemalloc's size classes, and the table of chunks costs 0.4 bytes a key.
const CHUNK: usize = 64;

/// The capacities a shard's last chunk grows through: each fills one of
/// jemalloc's size classes to within 64 bytes (5 slots are 400 bytes of a
/// 448-byte chunk), so the last chunk is at most a fifth empty. Keys are
/// spread over 256 shards, so a small database or `maxmemory` leaves few
/// a shard: 8 MB of 200-byte values about 100, where doubling would leave a
/// quarter of the last chunk empty on average (7 bytes a key), and a shard
/// of one key costs one slot, as a box did.
const CHUNK_STEPS: [usize; 19] = [
    1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 16, 19, 22, 25, 32, 38, 44, 51, CHUNK,
];

/// A shard's slots, numbered from 0 with no gaps: slot `n` is in chunk
/// `n / CHUNK`. Every chunk but the last is full, and none is empty. The
/// first two chunks' headers are held inline, in the padding of the arena's
/// cache lines, so a shard of up to 128 keys allocates no list of chunks.
#[derive(Default)]
struct Slots {
    chunks: SmallVec<[Vec<Slot>; 2]>,
}

impl Slots {
    fn get(&self, id: u32) -> &Slot {
        let id = id as usize;
        &self.chunks[id / CHUNK][id % CHUNK]
    }

    fn get_mut(&mut self, id: u32) -> &mut Slot {
        let id = id as usize;
        &mut self.chunks[id / CHUNK][id % CHUNK]
    }

    /// Adds `slot` after the last one, returning its number.
    fn push(&mut self, slot: Slot) -> u32 {
        if self.chunks.last().is_none_or(|chunk| chunk.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK_STEPS[0]));
        }
        let full = (self.chunks.len() - 1) * CHUNK;
        let Some(last) = self.chunks.last_mut() else {
            unreachable!("a chunk was just added if there was none");
        };
        if last.len() == last.capacity() {
            let next = CHUNK_STEPS[CHUNK_STEPS.partition_point(|&c| c <= last.len())];
            last.reserve_exact(next - last.len());
        }
        let id = full + last.len();
        last.push(slot);
        u32::try_from(id).expect("a shard holds fewer than 2^32 keys")
    }

    /// The number of the last slot, if any.
    fn last(&self) -> Option<u32> {
        let last = self.chunks.last()?;
        Some(((self.chunks.len() - 1) * CHUNK + last.len() - 1) as u32)
    }

    /// Takes slot `id` out, moving the last slot into its place (the caller
    /// renumbers that slot's bucket). An emptied chunk is freed, and a last
    /// chunk two steps emptier than its capacity gives one step back (one
    /// step of slack, so keys coming and going at a step do not reallocate
    /// it each time: under eviction a shard's key count wanders).
    fn swap_remove(&mut self, id: u32) -> Slot {
        let Some(chunk) = self.chunks.last_mut() else {
            unreachable!("slot {id} exists, so a chunk does");
        };
        let Some(last) = chunk.pop() else {
            unreachable!("no chunk is empty");
        };
        if chunk.is_empty() {
            self.chunks.pop();
            if self.chunks.spilled() && self.chunks.len() * 4 <= self.chunks.capacity() {
                self.chunks.shrink_to_fit();
            }
        } else {
            let step = CHUNK_STEPS.partition_point(|&c| c < chunk.capacity());
            if step >= 2 && chunk.len() <= CHUNK_STEPS[step - 2] {
                chunk.shrink_to(CHUNK_STEPS[step - 1]);
            }
        }
        let id = id as usize;
        match self
            .chunks
            .get_mut(id / CHUNK)
            .and_then(|chunk| chunk.get_mut(id % CHUNK))
        {
            Some(slot) => std::mem::replace(slot, last),
            // `id` was the last slot.
            None => last,
        }
    }

    /// How many slots there are: one a key.
    fn len(&self) -> usize {
        self.last().map_or(0, |last| last as usize + 1)
    }

    /// Every slot, in arena order.
    fn iter(&self) -> impl Iterator<Item = &Slot> + '_ {
        self.chunks.iter().flatten()
    }
}

/// A bucket of a shard's table: a slot number. dashmap's shards hold
/// `(key, SharedValue<value>)`; the value is `()`, so a bucket is 4 bytes.
type Bucket = (u32, SharedValue<()>);

/// A shard's table of slot numbers, as the DashMap holds it.
type Index = RawTable<Bucket>;

/// One shard's keys taken out whole: the table of slot numbers and the
/// slots. Public only as what FLUSHDB ASYNC carries away to free elsewhere.
#[derive(Default)]
pub struct Table {
    index: Index,
    slots: Slots,
}

/// One shard's arena, on its own pair of cache lines as dashmap pads its
/// shards, so that writers of neighbouring shards do not share a line; with
/// what else a locked shard needs, in the lines' padding: its table hint and
/// a copy of the map's hasher. A [`Shard`] reaches all three through one
/// pointer, so it is no bigger than it was with boxed slots (a command's
/// guard moves its shards around: two more pointers in each cost about 270
/// instructions a SET+GET in copies, callgrind).
#[repr(align(128))]
struct Arena {
    slots: UnsafeCell<Slots>,
    /// Where the shard's table is, read without the lock (prefetching).
    hint: TableHint,
    hasher: KeyHasher,
}

// SAFETY: an arena's slots are only reached through [`WriteTable`] and
// [`ReadTable`], which hold its shard's lock for as long as they lend them
// out: `&mut Slots` only under the write lock, `&Slots` under either, so the
// lock gives the slots the same exclusion it gives the table beside them.
// `Slots` is `Send` and `Sync` (keys and entries are), so sharing it under a
// lock is sound; the hint (atomics) and the hasher are `Sync` themselves.
unsafe impl Sync for Arena {}

// What the safety of sharing an arena assumes.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Slots>();
    shared::<TableHint>();
    shared::<KeyHasher>()
};

/// One database's shards: a DashMap whose shards' tables hold slot numbers,
/// and beside it one arena per shard, holding the slots those numbers name.
///
/// The DashMap is used only through its raw shards: every lookup, insert,
/// rehash and shrink goes through the shard's table with [`holds`] and
/// [`rehash`], which read keys from the arena. (The map's own `insert` or
/// `get` would hash the slot number, not the key, so they are never called.)
pub(crate) struct Map {
    map: DashMap<u32, (), KeyHasher>,
    arenas: Box<[Arena]>,
}

impl Map {
    pub(crate) fn new(hasher: KeyHasher, shards: usize) -> Map {
        Map {
            map: DashMap::with_hasher_and_shard_amount(hasher, shards),
            arenas: (0..shards)
                .map(|_| Arena {
                    slots: UnsafeCell::default(),
                    hint: TableHint::default(),
                    hasher,
                })
                .collect(),
        }
    }

    /// Shard `shard` locked for writing, waiting for it.
    pub(crate) fn write(&self, shard: usize) -> WriteTable<'_> {
        self.write_table(shard, self.map.shards()[shard].write())
    }

    /// Shard `shard` locked for writing, if nobody holds it now.
    pub(crate) fn try_write(&self, shard: usize) -> Option<WriteTable<'_>> {
        let index = self.map.shards()[shard].try_write()?;
        Some(self.write_table(shard, index))
    }

    /// Shard `shard` locked for reading, if nobody writes it now.
    pub(crate) fn try_read(&self, shard: usize) -> Option<ReadTable<'_>> {
        let index = self.map.shards()[shard].try_read()?;
        Some(ReadTable {
            index,
            arena: &self.arenas[shard],
        })
    }

    /// Pairs shard `shard`'s write guard with the shard's own arena (the
    /// pairing [`WriteTable::parts`]'s safety rests on).
    fn write_table<'m>(
        &'m self,
        shard: usize,
        index: RwLockWriteGuard<'m, Index>,
    ) -> WriteTable<'m> {
        WriteTable {
            index,
            arena: &self.arenas[shard],
        }
    }

    /// Where shard `shard`'s table is, read without its lock.
    pub(crate) fn hint(&self, shard: usize) -> &TableHint {
        &self.arenas[shard].hint
    }

    /// Keys in all shards, each read-locked in turn.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// A shard write-locked: its table, and its arena reached through the lock.
pub(crate) struct WriteTable<'m> {
    index: RwLockWriteGuard<'m, Index>,
    arena: &'m Arena,
}

impl WriteTable<'_> {
    fn parts(&self) -> (&Index, &Slots) {
        // SAFETY: `arena` is this shard's (see `Map::write_table`) and
        // `index` holds the shard's write lock, so no other guard lends the
        // arena out; the `&Slots` borrows `self`, so it ends before the lock
        // is released, and no `&mut` to it exists while it lives.
        (&self.index, unsafe { &*self.arena.slots.get() })
    }

    fn parts_mut(&mut self) -> (&mut Index, &mut Slots) {
        // SAFETY: as in `parts`: the write lock excludes every other guard
        // of this shard, and the `&mut Slots` borrows `self` mutably, so it
        // is the only reference to the arena while it lives.
        (&mut self.index, unsafe { &mut *self.arena.slots.get() })
    }
}

/// A shard read-locked, for [`prefetch_slot`].
pub(crate) struct ReadTable<'m> {
    index: RwLockReadGuard<'m, Index>,
    arena: &'m Arena,
}

impl ReadTable<'_> {
    fn parts(&self) -> (&Index, &Slots) {
        // SAFETY: `arena` is this shard's (see `Map::try_read`) and `index`
        // holds the shard's read lock, so no write guard, the only lender
        // of `&mut Slots`, exists while the `&Slots`, which borrows `self`,
        // lives.
        (&self.index, unsafe { &*self.arena.slots.get() })
    }
}

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
/// reallocated (it grows or shrinks, or is taken or swapped away); another
/// thread may read the old one meanwhile, which only misdirects a prefetch.
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

    fn note(&self, index: &Index) {
        self.ctrl
            .store(index.data_end().as_ptr() as usize, Ordering::Relaxed);
        self.mask.store(index.buckets() - 1, Ordering::Relaxed);
    }
}

/// Hints the CPU to load the lines a lookup of `hash` probes first: the
/// control bytes of its first group and the slot number of its first bucket
/// (where the key usually is). Only addresses are computed, nothing is
/// read, so this is safe whatever hashbrown's layout; it follows hashbrown
/// 0.14's (probing starts at bucket `hash & mask`, control bytes from
/// `data_end`, buckets laid out backwards before it).
pub(crate) fn prefetch_table(hint: &TableHint, hash: u64) {
    let ctrl = hint.ctrl.load(Ordering::Relaxed) as *const u8;
    let pos = hash as usize & hint.mask.load(Ordering::Relaxed);
    prefetch_line(ctrl.wrapping_add(pos));
    prefetch_line(ctrl.wrapping_sub((pos + 1) * size_of::<Bucket>()));
}

/// Hints the CPU to load the slot a lookup of `hash` would compare first;
/// best after [`prefetch_table`] had time to work, since finding the slot
/// reads the control bytes and the bucket (not the slot).
pub(crate) fn prefetch_slot(table: &ReadTable, hash: u64) {
    // SAFETY: the caller holds `table` locked (shared) for the borrow, so
    // the buckets `iter_hash` yields are live while we read their number.
    let (index, slots) = table.parts();
    let id = unsafe { index.iter_hash(hash).next().map(|b| b.as_ref().0) };
    if let Some(slot) = id.map(|id| slots.get(id)) {
        let slot: *const u8 = (slot as *const Slot).cast();
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

/// Whether slot number `id` in `slots` holds `key`.
fn holds<'s>(slots: &'s Slots, key: &'s [u8]) -> impl Fn(&Bucket) -> bool + 's {
    move |&(id, _)| *slots.get(id).key == *key
}

/// The hash of the key in slot `id`, for the table's rehashes.
fn rehash<'s>(slots: &'s Slots, hasher: &'s KeyHasher) -> impl Fn(&Bucket) -> u64 + 's {
    move |&(id, _)| hasher.hash_one(&*slots.get(id).key)
}

/// Tables from this many buckets shrink when less than a tenth full
/// (Redis's `HASHTABLE_MIN_FILL`); smaller ones are not worth a rehash.
const SHRINK_MIN_BUCKETS: usize = 64;

/// A write-locked shard of one database.
pub(crate) struct Shard<'a> {
    table: WriteTable<'a>,
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

impl<'a> Shard<'a> {
    pub(crate) fn new(
        table: WriteTable<'a>,
        keys: &'a AtomicI64,
        pending: Option<Pending<'a>>,
    ) -> Self {
        Shard {
            table,
            keys,
            pending,
        }
    }

    /// The map's hasher, for rehashes (borrowed from the arena, not from
    /// `self`, so it can be held while the table is borrowed mutably).
    fn hasher(&self) -> &'a KeyHasher {
        &self.table.arena.hasher
    }

    /// The shard's table hint, which every reallocation of the table
    /// rewrites (borrowed as [`Shard::hasher`] is).
    fn hint(&self) -> &'a TableHint {
        &self.table.arena.hint
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
        let index = &self.table.index;
        if index.capacity() - index.len() < additional {
            self.moved();
        }
    }

    /// The table's entries moved to other buckets (see [`Shard::may_move`]).
    fn moved(&self) {
        if let Some(p) = &self.pending {
            p.snapshot.moved(p.db, p.shard);
        }
    }

    fn count(&self, delta: i64) {
        if delta != 0 {
            self.keys.fetch_add(delta, Ordering::Relaxed);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.index.len()
    }

    pub(crate) fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        let (index, slots) = self.table.parts();
        let (id, _) = index.get(hash, holds(slots, key))?;
        Some(&slots.get(*id).entry)
    }

    /// Inserts or replaces, returning the entry that was there.
    pub(crate) fn insert(&mut self, hash: u64, key: &[u8], entry: Entry) -> Option<Entry> {
        self.preserve(hash, key);
        self.may_move(1);
        let (hasher, hint) = (self.hasher(), self.hint());
        let (index, slots) = self.table.parts_mut();
        // One probe finds the key or the place for it (a new key in a big
        // table costs a cache miss per probe: loading a file is mostly that).
        let buckets = index.buckets();
        let found = index.find_or_find_insert_slot(hash, holds(slots, key), rehash(slots, hasher));
        if index.buckets() != buckets {
            hint.note(index);
        }
        match found {
            Ok(bucket) => {
                // SAFETY: the bucket was just found in this table, which we
                // hold write-locked and borrow here.
                let id = unsafe { bucket.as_ref().0 };
                Some(std::mem::replace(&mut slots.get_mut(id).entry, entry))
            }
            Err(place) => {
                let id = slots.push(Slot {
                    key: Key::from(key),
                    entry,
                });
                // SAFETY: `place` comes from `find_or_find_insert_slot` just
                // above, and the table has not changed since.
                unsafe { index.insert_in_slot(hash, place, (id, SharedValue::new(()))) };
                self.count(1);
                None
            }
        }
    }

    /// Room for `additional` more keys without growing.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.may_move(additional);
        let (hasher, hint) = (self.hasher(), self.hint());
        let (index, slots) = self.table.parts_mut();
        let buckets = index.buckets();
        index.reserve(additional, rehash(slots, hasher));
        if index.buckets() != buckets {
            hint.note(index);
        }
    }

    pub(crate) fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        self.preserve(hash, key);
        let (index, slots) = self.table.parts_mut();
        let (id, _) = index.remove_entry(hash, holds(slots, key))?;
        let slot = self.take_slot(id);
        self.count(-1);
        self.shrink_if_sparse();
        Some(slot.entry)
    }

    /// Takes slot `id`, whose bucket is gone, out of the arena: the last
    /// slot moves into its place, and the bucket naming it is renumbered.
    /// Moves no bucket, so a walk of the table may go on.
    fn take_slot(&mut self, id: u32) -> Slot {
        let hasher = self.hasher();
        let (index, slots) = self.table.parts_mut();
        if let Some(last) = slots.last().filter(|&last| last != id) {
            let hash = hasher.hash_one(&*slots.get(last).key);
            let bucket = index.find(hash, |&(n, _)| n == last);
            debug_assert!(bucket.is_some(), "every slot has its bucket");
            if let Some(bucket) = bucket {
                // SAFETY: the bucket was just found in this table, which we
                // hold write-locked; only its slot number changes.
                unsafe { bucket.as_mut().0 = id };
            }
        }
        slots.swap_remove(id)
    }

    /// Shrinks a table less than a tenth full to fit its keys (a pending
    /// snapshot's walker starts over, as when it grows).
    fn shrink_if_sparse(&mut self) {
        let buckets = self.table.index.buckets();
        if buckets < SHRINK_MIN_BUCKETS || self.table.index.len() * 10 >= buckets {
            return;
        }
        self.moved();
        let (hasher, hint) = (self.hasher(), self.hint());
        let (index, slots) = self.table.parts_mut();
        index.shrink_to(0, rehash(slots, hasher));
        hint.note(index);
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
        let buckets = self.buckets();
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
        self.table.index.buckets()
    }

    /// The entries in buckets `range`, in table order, with their bucket.
    /// A bucket's entry stays there until the table grows, shrinks or
    /// rehashes.
    pub(crate) fn entries_in(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (usize, &Key, &Entry)> + '_ {
        let (index, slots) = self.table.parts();
        let end = if index.is_empty() {
            0
        } else {
            range.end.min(index.buckets())
        };
        (range.start..end).filter_map(move |i| {
            // SAFETY: `i` is below `buckets`, and a full bucket holds a
            // live element; the iterator borrows `self`, which holds the
            // table locked, so nothing changes it meanwhile.
            let id = unsafe {
                if !index.is_bucket_full(i) {
                    return None;
                }
                index.bucket(i).as_ref().0
            };
            let slot = slots.get(id);
            Some((i, &slot.key, &slot.entry))
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
        let (index, slots) = self.table.parts();
        let Some(bucket) = index.find(hash, holds(slots, key)) else {
            return Lookup::Missing;
        };
        // SAFETY: `bucket` was just found in this table, which we hold
        // write-locked, so it is a live bucket; it is removed at most once.
        let id = unsafe { bucket.as_ref().0 };
        let entry = &slots.get(id).entry;
        if !expired(entry) {
            return Lookup::Live(&mut self.table.parts_mut().1.get_mut(id).entry);
        }
        if let Some(p) = &self.pending {
            p.snapshot.preserve(p.db, p.shard, key, Some(entry));
        }
        // SAFETY: as above; nothing changed the table since `find`.
        unsafe { self.table.index.remove(bucket) };
        let slot = self.take_slot(id);
        self.count(-1);
        self.shrink_if_sparse();
        Lookup::Expired(slot.entry)
    }

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> + '_ {
        self.table
            .parts()
            .1
            .iter()
            .map(|slot| (&slot.key, &slot.entry))
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
        // SAFETY: we hold the write lock, and the table is neither resized
        // nor rehashed while `iter` runs: buckets it yields are erased one at
        // a time, which hashbrown allows during iteration, and `take_slot`
        // only renumbers a bucket (the one it renumbers, if not visited yet,
        // is then read with its new number).
        unsafe {
            for bucket in self.table.index.iter() {
                let id = bucket.as_ref().0;
                let slot = self.table.parts().1.get(id);
                if !remove(&slot.key, &slot.entry) {
                    continue;
                }
                if let Some(p) = &self.pending {
                    p.snapshot
                        .preserve(p.db, p.shard, &slot.key, Some(&slot.entry));
                }
                self.table.index.remove(bucket);
                let Slot { key, entry } = self.take_slot(id);
                removed.push((key, entry));
            }
        }
        self.count(-(removed.len() as i64));
        self.shrink_if_sparse();
        removed
    }

    /// Takes the whole table out, leaving an empty one (FLUSHDB, SWAPDB).
    pub(crate) fn take(&mut self) -> Table {
        self.preserve_all();
        let (index, slots) = self.table.parts_mut();
        let taken = Table {
            index: std::mem::take(index),
            slots: std::mem::take(slots),
        };
        self.hint().note(&self.table.index);
        debug_assert_eq!(taken.index.len(), taken.slots.len(), "a slot a bucket");
        self.count(-(taken.slots.len() as i64));
        taken
    }

    /// Swaps contents with another shard (SWAPDB).
    pub(crate) fn swap(&mut self, other: &mut Shard<'_>) {
        self.preserve_all();
        other.preserve_all();
        let (mine, theirs) = (self.len() as i64, other.len() as i64);
        let (index, slots) = self.table.parts_mut();
        let (other_index, other_slots) = other.table.parts_mut();
        std::mem::swap(index, other_index);
        std::mem::swap(slots, other_slots);
        self.count(theirs - mine);
        other.count(mine - theirs);
        self.hint().note(&self.table.index);
        other.hint().note(&other.table.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{StringValue, Value};

    fn entry(n: i64) -> Entry {
        Entry::new(Value::String(StringValue::Int(n)), None, 0)
    }

    fn value(e: &Entry) -> i64 {
        match e.value {
            Value::String(StringValue::Int(n)) => n,
            _ => panic!("an integer"),
        }
    }

    /// Keys come and go in a shard: every key left is found with its
    /// value, the arena stays dense (its slots are exactly the keys), and
    /// a table emptied of most keys shrinks.
    #[test]
    fn removals_keep_slots_dense_and_tables_shrink() {
        let hasher = KeyHasher::default();
        let map = Map::new(hasher, 2);
        let keys = AtomicI64::new(0);
        let mut shard = Shard::new(map.write(0), &keys, None);
        let key = |i: i64| format!("key:{i}").into_bytes();
        let hash = |k: &[u8]| hasher.hash_one(k);
        for i in 0..5000 {
            let k = key(i);
            assert!(shard.insert(hash(&k), &k, entry(i)).is_none());
        }
        let grown = shard.buckets();
        // Remove from the middle, the end and the start, and expire some.
        for i in (0..5000).filter(|i| i % 10 != 0 && i % 7 != 0) {
            let k = key(i);
            assert_eq!(shard.remove(hash(&k), &k).map(|e| value(&e)), Some(i));
        }
        let expired = shard.extract_if(|k, _| k.ends_with(b"0") && !k.ends_with(b"00"));
        assert!(!expired.is_empty());
        for (i, k) in [(7, key(7)), (14, key(14))] {
            match shard.lookup(hash(&k), &k, |_| true) {
                Lookup::Expired(e) => assert_eq!(value(&e), i),
                _ => panic!("key:{i} is there"),
            }
        }
        let left: Vec<i64> = (0..5000)
            .filter(|&i| shard.get(hash(&key(i)), &key(i)).is_some())
            .collect();
        assert_eq!(shard.len(), left.len());
        assert_eq!(keys.load(Ordering::Relaxed), left.len() as i64);
        for &i in &left {
            assert_eq!(shard.get(hash(&key(i)), &key(i)).map(value), Some(i));
        }
        assert_eq!(shard.table.parts().1.len(), left.len());
        assert_eq!(shard.table.parts().1.iter().count(), left.len());
        let chunks = &shard.table.parts().1.chunks;
        assert!(chunks[..chunks.len() - 1].iter().all(|c| c.len() == CHUNK));
        let last = &chunks[chunks.len() - 1];
        let step = CHUNK_STEPS.partition_point(|&c| c < last.capacity());
        assert_eq!(CHUNK_STEPS[step], last.capacity());
        assert!(step < 2 || last.len() > CHUNK_STEPS[step - 2]);
        assert!(
            shard.buckets() < grown / 4,
            "{} of {grown}",
            shard.buckets()
        );
        // Every key gone: no slots are left, and a small table.
        for i in left {
            assert!(shard.remove(hash(&key(i)), &key(i)).is_some());
        }
        assert!(shard.buckets() < SHRINK_MIN_BUCKETS);
        assert!(shard.table.parts().1.chunks.is_empty());
    }
}
