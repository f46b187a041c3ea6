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
//! 9). The slots, each a key, its value and its access record (72 bytes),
//! sit in chunks of 71 (5,112 bytes of a 5,120-byte jemalloc size class),
//! numbered densely: removing a key moves the shard's last slot into its
//! place and renumbers that slot's bucket, so the chunks stay full and the
//! memory of deleted keys goes back to the allocator chunk by chunk. The
//! table shrinks when it falls below a tenth full, as Redis's dicts do.
//!
//! Expiry times are kept apart, as Redis keeps its `expires` dict: most
//! databases have few or no TTLs, and 8 bytes in every slot cost them 8
//! bytes a key; beside the chunks, only a chunk holding a key with a TTL
//! has an array of times ([`Expiries`]). A flag in the slot's access record
//! says whether a key has one, so a key without a TTL never looks.

use std::cell::UnsafeCell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::{DashMap, RwLockReadGuard, RwLockWriteGuard, SharedValue};
use hashbrown::raw::RawTable;
use smallvec::SmallVec;

use super::snapshot::Snapshot;
use super::{Access, Entry, EntryRef, Key, KeyHasher, Value};

/// A key, its value and its access record: one slot of a shard's arena.
/// The access record's `volatile` flag says whether the shard's
/// [`Expiries`] hold an expiry time for the slot.
struct Slot {
    key: Key,
    value: Value,
    access: Access,
}

// The size the keyspace's memory use depends on; see ARCHITECTURE.md.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Slot>() == 72);

/// MEMORY USAGE: what holding `key` costs the keyspace besides its value's
/// own allocations: its slot (key and entry), the table's slot number and a
/// long key's bytes.
pub fn key_cost(key: &[u8]) -> usize {
    size_of::<Slot>() + size_of::<Bucket>() + Key::heap_size(key)
}

/// Slots per chunk of an arena: 71 slots are 5,112 bytes, 8 short of one
/// of jemalloc's size classes (64 would be 4,608, rounded up to 5,120), and
/// the table of chunks costs 0.3 bytes a key. Not a power of two: finding a
/// slot divides by a constant, a multiplication.
const CHUNK: usize = 71;

/// The capacities a shard's last chunk grows through: each fills one of
/// jemalloc's size classes (72 bytes of 80, 144 of 160, ..., 4,032 of
/// 4,096) to within a slot, so past a dozen slots the last chunk is at most
/// a fifth empty. Keys are spread over 256 shards, so a small database or
/// `maxmemory` leaves few a shard: 8 MB of 200-byte values about 100, where
/// doubling would leave a quarter of the last chunk empty on average, and a
/// shard of one key costs one slot, as a box did. A chunk's array of expiry
/// times grows through the same steps (8 bytes a slot: within a class or
/// two of jemalloc's).
const CHUNK_STEPS: [usize; 20] = [
    1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 17, 21, 24, 28, 35, 42, 49, 56, CHUNK,
];

/// A shard's slots, numbered from 0 with no gaps: slot `n` is in chunk
/// `n / CHUNK`. Every chunk but the last is full, and none is empty. The
/// first two chunks' headers are held inline, in the padding of the arena's
/// cache lines, so a shard of up to 142 keys allocates no list of chunks.
/// Beside them, the expiry times of the slots flagged `volatile`.
#[derive(Default)]
struct Slots {
    chunks: SmallVec<[Vec<Slot>; 2]>,
    expiries: Expiries,
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

    /// Slot `id` as an entry, its expiry looked up only if it has one.
    fn entry(&self, id: u32) -> EntryRef<'_> {
        let slot = self.get(id);
        let expires_at = self.expiries.get(id, &slot.access);
        EntryRef::new(&slot.value, &slot.access, expires_at)
    }

    fn entry_mut(&mut self, id: u32) -> EntryMut<'_> {
        let Slots { chunks, expiries } = self;
        let slot = &mut chunks[id as usize / CHUNK][id as usize % CHUNK];
        EntryMut {
            value: &mut slot.value,
            access: &mut slot.access,
            id,
            expiries,
        }
    }

    /// Adds `key` with `entry` after the last slot, with snapshot mark
    /// `mark`, returning its number.
    fn push(&mut self, key: &[u8], entry: Entry, mark: u8) -> u32 {
        if self.chunks.last().is_none_or(|chunk| chunk.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK_STEPS[0]));
        }
        let full = (self.chunks.len() - 1) * CHUNK;
        let Some(last) = self.chunks.last_mut() else {
            unreachable!("a chunk was just added if there was none");
        };
        grow_by_steps(last, last.len() + 1);
        let id = u32::try_from(full + last.len()).expect("a shard holds fewer than 2^32 keys");
        let (value, mut access, expires_at) = entry.into_parts();
        access.set_volatile(self.expiries.set(id, expires_at));
        access.set_snapshot_mark(mark);
        last.push(Slot {
            key: Key::from(key),
            value,
            access,
        });
        id
    }

    /// Puts `entry` in slot `id`, with snapshot mark `mark`, returning the
    /// entry it held.
    fn replace(&mut self, id: u32, entry: Entry, mark: u8) -> Entry {
        let (value, mut access, expires_at) = entry.into_parts();
        let Slots { chunks, expiries } = self;
        let slot = &mut chunks[id as usize / CHUNK][id as usize % CHUNK];
        let old_expiry = expiries.take(id, &slot.access);
        access.set_volatile(expiries.set(id, expires_at));
        access.set_snapshot_mark(mark);
        let old_value = std::mem::replace(&mut slot.value, value);
        let old_access = std::mem::replace(&mut slot.access, access);
        Entry::from_parts(old_value, old_access, old_expiry)
    }

    /// The number of the last slot, if any.
    fn last(&self) -> Option<u32> {
        let last = self.chunks.last()?;
        Some(((self.chunks.len() - 1) * CHUNK + last.len() - 1) as u32)
    }

    /// Takes slot `id` out, moving the last slot (and its expiry time) into
    /// its place (the caller renumbers that slot's bucket). An emptied
    /// chunk is freed, and a last chunk two steps emptier than its capacity
    /// gives one step back ([`shrink_by_steps`]).
    fn swap_remove(&mut self, id: u32) -> (Key, Entry) {
        let (Some(last_id), Some(chunk)) = (self.last(), self.chunks.last_mut()) else {
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
            shrink_by_steps(chunk);
        }
        let (removed, moved) = match self
            .chunks
            .get_mut(id as usize / CHUNK)
            .and_then(|chunk| chunk.get_mut(id as usize % CHUNK))
        {
            Some(slot) => (std::mem::replace(slot, last), slot.access.volatile()),
            // `id` was the last slot.
            None => (last, false),
        };
        let expires_at = self.expiries.take(id, &removed.access);
        if moved {
            self.expiries.renumber(last_id, id);
        }
        let Slot { key, value, access } = removed;
        (key, Entry::from_parts(value, access, expires_at))
    }

    /// How many slots there are: one a key.
    fn len(&self) -> usize {
        self.last().map_or(0, |last| last as usize + 1)
    }

    /// Every slot as a key and its entry, in arena order.
    fn iter(&self) -> impl Iterator<Item = (&Key, EntryRef<'_>)> + '_ {
        let expiries = &self.expiries;
        self.chunks
            .iter()
            .flatten()
            .zip(0u32..)
            .map(move |(slot, id)| {
                let expires_at = expiries.get(id, &slot.access);
                (
                    &slot.key,
                    EntryRef::new(&slot.value, &slot.access, expires_at),
                )
            })
    }
}

/// Makes room in `v` (a chunk, or a chunk's times) for `len` items, growing
/// it to the next of [`CHUNK_STEPS`].
fn grow_by_steps<T>(v: &mut Vec<T>, len: usize) {
    if v.capacity() < len {
        let next = CHUNK_STEPS[CHUNK_STEPS.partition_point(|&c| c < len)];
        v.reserve_exact(next - v.len());
    }
}

/// Gives one of [`CHUNK_STEPS`] back when `v` is two steps emptier than its
/// capacity (one step of slack, so items coming and going at a step do not
/// reallocate it each time: under eviction a shard's key count wanders).
fn shrink_by_steps<T>(v: &mut Vec<T>) {
    let step = CHUNK_STEPS.partition_point(|&c| c < v.capacity());
    if step >= 2 && v.len() <= CHUNK_STEPS[step - 2] {
        v.shrink_to(CHUNK_STEPS[step - 1]);
    }
}

/// The expiry times of a shard's slots that have one, chunk by chunk: a
/// chunk of slots holding a key with a TTL has an array of its slots' times
/// ([`NO_TIME`] for those without) up to its last volatile slot, grown and
/// shrunk through [`CHUNK_STEPS`] as the chunk is, and freed with its last
/// time. A database whose keys all have a TTL pays about 9 bytes a key, as
/// when the time was in every slot, and one without TTLs nothing; the first
/// chunk's array header is inline, so a shard of a few volatile keys (a
/// small database spread over 256 shards) pays only their times. A hash map
/// by slot number, measured first, cost 24 bytes a volatile key more than
/// the time in the slot (bench/memory.py `ttl`), and some 70 bytes a shard.
/// Only a slot's `volatile` flag sends a lookup here, so a key without a
/// TTL never touches its chunk's array.
#[derive(Default)]
struct Expiries {
    /// By chunk number; the last one is not empty.
    chunks: SmallVec<[Vec<u64>; 1]>,
}

/// The time of a slot without one in a chunk's array (no TTL is
/// `u64::MAX`: Redis refuses times past `i64::MAX`).
const NO_TIME: u64 = u64::MAX;

impl Expiries {
    /// The expiry time of slot `id`, whose record is `access`.
    fn get(&self, id: u32, access: &Access) -> Option<u64> {
        if !access.volatile() {
            return None;
        }
        let (chunk, at) = (id as usize / CHUNK, id as usize % CHUNK);
        let time = self.chunks.get(chunk)?.get(at).copied();
        debug_assert!(
            time.is_some_and(|t| t != NO_TIME),
            "a volatile slot has its time"
        );
        time.filter(|&t| t != NO_TIME)
    }

    /// Records slot `id`'s expiry time, if it has one; returns whether it
    /// does (the slot's `volatile` flag). The slot must have none recorded.
    fn set(&mut self, id: u32, expires_at: Option<u64>) -> bool {
        let Some(time) = expires_at else {
            return false;
        };
        let (chunk, at) = (id as usize / CHUNK, id as usize % CHUNK);
        while self.chunks.len() <= chunk {
            self.chunks.push(Vec::new());
        }
        let times = &mut self.chunks[chunk];
        if times.len() <= at {
            grow_by_steps(times, at + 1);
            times.resize(at + 1, NO_TIME);
        }
        debug_assert_eq!(times[at], NO_TIME, "a slot has one time");
        times[at] = time;
        true
    }

    /// Takes out the expiry time of slot `id`, whose record is `access`.
    fn take(&mut self, id: u32, access: &Access) -> Option<u64> {
        if !access.volatile() {
            return None;
        }
        let time = self.remove(id);
        debug_assert!(time.is_some(), "a volatile slot has its time");
        time
    }

    /// Slot `from`'s expiry time (it has one) is now slot `to`'s (which
    /// had none).
    fn renumber(&mut self, from: u32, to: u32) {
        let time = self.remove(from);
        debug_assert!(time.is_some(), "a volatile slot has its time");
        self.set(to, time);
    }

    /// Takes out slot `id`'s time, if any. A chunk's array ends at its last
    /// time, and goes with it.
    fn remove(&mut self, id: u32) -> Option<u64> {
        let (chunk, at) = (id as usize / CHUNK, id as usize % CHUNK);
        let times = self.chunks.get_mut(chunk)?;
        let time = std::mem::replace(times.get_mut(at)?, NO_TIME);
        if time == NO_TIME {
            return None;
        }
        while times.last() == Some(&NO_TIME) {
            times.pop();
        }
        if !times.is_empty() {
            shrink_by_steps(times);
            return Some(time);
        }
        *times = Vec::new();
        while self.chunks.last().is_some_and(Vec::is_empty) {
            self.chunks.pop();
        }
        if self.chunks.spilled() && self.chunks.len() * 4 <= self.chunks.capacity() {
            self.chunks.shrink_to_fit();
        }
        Some(time)
    }

    /// The numbers of the slots that have an expiry time.
    fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.chunks.iter().enumerate().flat_map(|(chunk, times)| {
            (times.iter().enumerate())
                .filter(|(_, &time)| time != NO_TIME)
                .map(move |(at, _)| (chunk * CHUNK + at) as u32)
        })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.chunks
            .iter()
            .flatten()
            .filter(|&&t| t != NO_TIME)
            .count()
    }
}

/// A stored entry borrowed to change: its value and access record in the
/// slot, its expiry time reached through the shard's [`Expiries`].
pub(crate) struct EntryMut<'a> {
    pub(crate) value: &'a mut Value,
    pub(crate) access: &'a mut Access,
    id: u32,
    expiries: &'a mut Expiries,
}

impl<'a> EntryMut<'a> {
    pub(crate) fn expires_at(&self) -> Option<u64> {
        self.expiries.get(self.id, self.access)
    }

    /// Sets or clears the TTL, returning the previous one.
    pub(crate) fn set_expires_at(&mut self, expires_at: Option<u64>) -> Option<u64> {
        let old = self.expiries.take(self.id, self.access);
        self.access
            .set_volatile(self.expiries.set(self.id, expires_at));
        old
    }

    pub(crate) fn into_ref(self) -> EntryRef<'a> {
        let expires_at = self.expires_at();
        EntryRef::new(self.value, self.access, expires_at)
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

// An arena, its slots' list of chunks and table of expiry times included,
// fills its two cache lines and no more.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<Arena>() == 128);

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
    Live(EntryMut<'a>),
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
    /// The shard's pending flag, cleared when the shard is copied whole.
    pub(crate) flag: &'a AtomicBool,
}

impl Pending<'_> {
    /// Copies slot `id` into the snapshot's pre-images, unless the snapshot
    /// copied it already: unmarked, it is as it was at the cut.
    fn preserve(&self, slots: &mut Slots, id: u32) {
        if !marked(&self.snapshot, slots, id) {
            let snapshot = &*self.snapshot;
            snapshot.with_preimages(self.db, |out| copy_slot(snapshot, slots, id, out));
            snapshot.copied(1);
        }
    }
}

/// Whether `snapshot` copied slot `id` already, or found it stored after
/// its cut.
fn marked(snapshot: &Snapshot, slots: &Slots, id: u32) -> bool {
    slots.get(id).access.snapshot_mark() == snapshot.mark
}

/// Copies slot `id` into `out` for `snapshot`, and gives it the mark.
fn copy_slot(snapshot: &Snapshot, slots: &mut Slots, id: u32, out: &mut Vec<u8>) {
    let slot = slots.get(id);
    snapshot.encode(out, &slot.key, slots.entry(id));
    slots.get_mut(id).access.set_snapshot_mark(snapshot.mark);
}

/// Copies into `out` the slots from `from` on that `snapshot` has not
/// copied yet, and marks them, until it has copied `limit` or (once it
/// copied one) `wanted` is raised. Returns the slot it stopped at (None
/// at the end) and how many it copied.
fn copy_slots(
    snapshot: &Snapshot,
    slots: &mut Slots,
    from: u32,
    limit: usize,
    wanted: Option<&AtomicBool>,
    out: &mut Vec<u8>,
) -> (Option<u32>, u64) {
    let mut copied = 0;
    for id in from..slots.len() as u32 {
        if copied == limit || (copied > 0 && wanted.is_some_and(|w| w.load(Ordering::Relaxed))) {
            return (Some(id), copied as u64);
        }
        if !marked(snapshot, slots, id) {
            copy_slot(snapshot, slots, id, out);
            copied += 1;
        }
    }
    (None, copied as u64)
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

    /// `key` is about to change: a pending snapshot that has not copied it
    /// yet gets its entry as it is now (the cut's). Free when no snapshot
    /// waits for this shard. A key that does not exist yet is marked as
    /// copied when it is stored ([`Shard::insert`]).
    pub(crate) fn preserve(&mut self, hash: u64, key: &[u8]) {
        let Some(p) = &self.pending else {
            return;
        };
        let (index, slots) = self.table.parts_mut();
        if let Some(&(id, _)) = index.get(hash, holds(slots, key)) {
            p.preserve(slots, id);
        }
    }

    /// The whole table is about to change (FLUSHDB, SWAPDB): a pending
    /// snapshot copies what it has not yet, and is done with this shard.
    fn preserve_all(&mut self) {
        if let Some(p) = self.pending.take() {
            let slots = self.table.parts_mut().1;
            let (_, copied) = p.snapshot.with_preimages(p.db, |out| {
                copy_slots(&p.snapshot, slots, 0, usize::MAX, None, out)
            });
            p.snapshot.copied(copied);
            p.flag.store(false, Ordering::Relaxed);
        }
    }

    /// For the pending snapshot's walker: copies into `out` the slots from
    /// `from` on, in arena order, that the snapshot has not copied yet, and
    /// marks them, until it has copied `limit` or (once it copied one)
    /// `wanted` is raised. Returns the slot to go on from, None at the end.
    /// A slot not copied yet never moves ([`Shard::take_slot`] copies one
    /// first) and keys stored after the cut are marked, so a walk resumed
    /// there, whatever happened meanwhile, copies every key of the cut once.
    pub(crate) fn copy_unmarked(
        &mut self,
        from: u32,
        limit: usize,
        wanted: &AtomicBool,
        out: &mut Vec<u8>,
    ) -> Option<u32> {
        let p = self.pending.as_ref()?;
        let slots = self.table.parts_mut().1;
        let (next, copied) = copy_slots(&p.snapshot, slots, from, limit, Some(wanted), out);
        p.snapshot.copied(copied);
        next
    }

    /// Forgets every slot's snapshot mark (see `Keyspace::next_snapshot_mark`).
    pub(crate) fn clear_snapshot_marks(&mut self) {
        let slots = self.table.parts_mut().1;
        (slots.chunks.iter_mut().flatten()).for_each(|slot| slot.access.set_snapshot_mark(0));
    }

    /// The snapshot mark of a key stored now: the pending snapshot's (it
    /// preserved what the key held, if anything), else none.
    fn mark(&self) -> u8 {
        self.pending.as_ref().map_or(0, |p| p.snapshot.mark)
    }

    fn count(&self, delta: i64) {
        if delta != 0 {
            self.keys.fetch_add(delta, Ordering::Relaxed);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.index.len()
    }

    pub(crate) fn get(&self, hash: u64, key: &[u8]) -> Option<EntryRef<'_>> {
        let (index, slots) = self.table.parts();
        let (id, _) = index.get(hash, holds(slots, key))?;
        Some(slots.entry(*id))
    }

    /// Inserts or replaces, returning the entry that was there.
    pub(crate) fn insert(&mut self, hash: u64, key: &[u8], entry: Entry) -> Option<Entry> {
        self.preserve(hash, key);
        self.purge_tombstones();
        let mark = self.mark();
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
                Some(slots.replace(id, entry, mark))
            }
            Err(place) => {
                let id = slots.push(key, entry, mark);
                // SAFETY: `place` comes from `find_or_find_insert_slot` just
                // above, and the table has not changed since.
                unsafe { index.insert_in_slot(hash, place, (id, SharedValue::new(()))) };
                self.count(1);
                None
            }
        }
    }

    /// Rebuilds a table at its size when its tombstones are all that keep
    /// it from taking one more key. A removal in an open-addressing table
    /// leaves a tombstone where probes must go on, and hashbrown counts
    /// them against the table's room, then doubles a table over half full
    /// (it rehashes in place only under half): a shard whose keys come and
    /// go under eviction doubled, though its key count did not grow (10 MB
    /// of 256 MB at `maxmemory`, which then held 4% fewer keys, and RSS
    /// went to 1.11-1.13x of it; Redis's chained dict has no tombstones).
    /// Only while the keys take at most 7/8 of the room, so a rebuild buys
    /// room for an eighth of it: at worst seven rehashes for every key that
    /// then takes an empty bucket, no more CPU per SET measured under that
    /// eviction (BENCHMARKS.md); fuller tables double, as they would to grow.
    fn purge_tombstones(&mut self) {
        let index = &self.table.index;
        let (buckets, len) = (index.buckets(), index.len());
        let room = buckets / 8 * 7;
        if buckets < SHRINK_MIN_BUCKETS || index.capacity() > len || len * 8 > room * 7 {
            return;
        }
        let (hasher, hint) = (self.hasher(), self.hint());
        let (index, slots) = self.table.parts_mut();
        let old = std::mem::replace(index, Index::with_capacity(room));
        let hash = rehash(slots, hasher);
        for bucket in old {
            // SAFETY: the new table has room for `room` keys, and the old
            // one held `len`, fewer.
            unsafe { index.insert_no_grow(hash(&bucket), bucket) };
        }
        hint.note(index);
    }

    /// Room for `additional` more keys without growing.
    pub(crate) fn reserve(&mut self, additional: usize) {
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
        let (_, entry) = self.take_slot(id);
        self.count(-1);
        self.shrink_if_sparse();
        Some(entry)
    }

    /// Takes slot `id`, whose bucket is gone, out of the arena: the last
    /// slot moves into its place, and the bucket naming it is renumbered.
    /// Moves no bucket, so a walk of the table may go on. A pending
    /// snapshot's walker may be past `id`: the last slot is copied before
    /// it moves there, if it was not yet.
    fn take_slot(&mut self, id: u32) -> (Key, Entry) {
        let hasher = self.hasher();
        let (index, slots) = self.table.parts_mut();
        if let Some(last) = slots.last().filter(|&last| last != id) {
            if let Some(p) = &self.pending {
                p.preserve(slots, last);
            }
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

    /// Shrinks a table less than a tenth full to fit its keys.
    fn shrink_if_sparse(&mut self) {
        let buckets = self.table.index.buckets();
        if buckets < SHRINK_MIN_BUCKETS || self.table.index.len() * 10 >= buckets {
            return;
        }
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
        mut visit: impl FnMut(&Key, EntryRef<'_>) -> bool,
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
    ) -> impl Iterator<Item = (usize, &Key, EntryRef<'_>)> + '_ {
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
            Some((i, &slots.get(id).key, slots.entry(id)))
        })
    }

    /// Finds `key` with one probe: its entry if `expired` says it is not
    /// past its TTL, otherwise the entry removed from the table.
    pub(crate) fn lookup(
        &mut self,
        hash: u64,
        key: &[u8],
        expired: impl FnOnce(EntryRef<'_>) -> bool,
    ) -> Lookup<'_> {
        let (index, slots) = self.table.parts();
        let Some(bucket) = index.find(hash, holds(slots, key)) else {
            return Lookup::Missing;
        };
        // SAFETY: `bucket` was just found in this table, which we hold
        // write-locked, so it is a live bucket; it is removed at most once.
        let id = unsafe { bucket.as_ref().0 };
        if !expired(slots.entry(id)) {
            return Lookup::Live(self.table.parts_mut().1.entry_mut(id));
        }
        if let Some(p) = &self.pending {
            p.preserve(self.table.parts_mut().1, id);
        }
        // SAFETY: as above; nothing changed the table since `find`.
        unsafe { self.table.index.remove(bucket) };
        let (_, entry) = self.take_slot(id);
        self.count(-1);
        self.shrink_if_sparse();
        Lookup::Expired(entry)
    }

    /// Every entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Key, EntryRef<'_>)> + '_ {
        self.table.parts().1.iter()
    }

    /// Visits every entry.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Key, EntryRef<'_>)) {
        self.iter().for_each(|(k, e)| f(k, e));
    }

    /// How many keys have a TTL.
    #[cfg(test)]
    pub(crate) fn volatile_len(&self) -> usize {
        self.table.parts().1.expiries.len()
    }

    /// Removes every key with a TTL for which `remove` says so, returning
    /// them: only the keys in the shard's table of expiry times are looked
    /// at (active expiry).
    pub(crate) fn extract_volatile_if(
        &mut self,
        mut remove: impl FnMut(&Key, EntryRef<'_>) -> bool,
    ) -> Vec<(Key, Entry)> {
        let slots = self.table.parts().1;
        let mut doomed: Vec<u32> = (slots.expiries.ids())
            .filter(|&id| remove(&slots.get(id).key, slots.entry(id)))
            .collect();
        // Highest first: removing a slot moves the last one into its place,
        // which is then past every number still to remove, so none moves.
        doomed.sort_unstable_by(|a, b| b.cmp(a));
        let hasher = self.hasher();
        let mut removed = Vec::with_capacity(doomed.len());
        for id in doomed {
            if let Some(p) = &self.pending {
                p.preserve(self.table.parts_mut().1, id);
            }
            let (index, slots) = self.table.parts();
            let key = &slots.get(id).key;
            let bucket = index.find(hasher.hash_one(&**key), |&(n, _)| n == id);
            debug_assert!(bucket.is_some(), "every slot has its bucket");
            if let Some(bucket) = bucket {
                // SAFETY: the bucket was just found in this table, which we
                // hold write-locked, and is removed once; removing a bucket
                // moves no other.
                unsafe { self.table.index.remove(bucket) };
                removed.push(self.take_slot(id));
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

    /// Integer `n`, with a TTL at `n + 1` ms when `n` is a multiple of 10.
    fn entry(n: i64) -> Entry {
        let ttl = (n % 10 == 0).then_some(n as u64 + 1);
        Entry::new(Value::String(StringValue::Int(n)), ttl, 0)
    }

    fn value(v: &Value) -> i64 {
        match v {
            Value::String(StringValue::Int(n)) => *n,
            _ => panic!("an integer"),
        }
    }

    /// A write-locked shard of a fresh map of two, with its database's key
    /// count and the map's hasher.
    fn with_shard(test: impl FnOnce(&mut Shard<'_>, &AtomicI64, &KeyHasher)) {
        let hasher = KeyHasher::default();
        let map = Map::new(hasher, 2);
        let keys = AtomicI64::new(0);
        test(&mut Shard::new(map.write(0), &keys, None), &keys, &hasher);
    }

    fn key(i: i64) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    /// The value and TTL `key` reads in `shard`, whose map hashes with `hasher`.
    fn read(shard: &Shard, hasher: &KeyHasher, key: &[u8]) -> Option<(i64, Option<u64>)> {
        let hash = hasher.hash_one(key);
        shard
            .get(hash, key)
            .map(|e| (value(e.value), e.expires_at()))
    }

    /// Keys come and go in a shard: every key left is found with its
    /// value and TTL, the arena stays dense (its slots are exactly the
    /// keys, the table of expiry times exactly the volatile ones), and a
    /// table emptied of most keys shrinks.
    #[test]
    fn removals_keep_slots_dense_and_tables_shrink() {
        with_shard(|shard, keys, hasher| {
            let hash = |k: &[u8]| hasher.hash_one(k);
            for i in 0..5000 {
                let k = key(i);
                assert!(shard.insert(hash(&k), &k, entry(i)).is_none());
            }
            assert_eq!(shard.volatile_len(), 500);
            let grown = shard.buckets();
            // Remove from the middle, the end and the start, and expire some.
            for i in (0..5000).filter(|i| i % 10 != 0 && i % 7 != 0) {
                let k = key(i);
                assert_eq!(shard.remove(hash(&k), &k).map(|e| value(&e.value)), Some(i));
            }
            let expired = shard.extract_volatile_if(|k, e| {
                assert!(e.expires_at().is_some());
                !k.ends_with(b"00")
            });
            // key:0 too: it does not end in 00.
            assert_eq!(expired.len(), 451);
            assert!(expired
                .iter()
                .all(|(_, e)| e.expires_at() == Some(value(&e.value) as u64 + 1)));
            for (i, k) in [(7, key(7)), (14, key(14)), (100, key(100))] {
                match shard.lookup(hash(&k), &k, |_| true) {
                    Lookup::Expired(e) => {
                        assert_eq!(value(&e.value), i);
                        assert_eq!(e.expires_at(), entry(i).expires_at());
                    }
                    _ => panic!("key:{i} is there"),
                }
            }
            let left: Vec<i64> = (0..5000)
                .filter(|&i| read(shard, hasher, &key(i)).is_some())
                .collect();
            assert_eq!(shard.len(), left.len());
            assert_eq!(keys.load(Ordering::Relaxed), left.len() as i64);
            for &i in &left {
                assert_eq!(
                    read(shard, hasher, &key(i)),
                    Some((i, entry(i).expires_at()))
                );
            }
            let volatile = left.iter().filter(|&&i| i % 10 == 0).count();
            assert_eq!((volatile, shard.volatile_len()), (48, 48));
            assert_eq!(shard.table.parts().1.len(), left.len());
            assert_eq!(shard.iter().count(), left.len());
            assert_eq!(
                shard
                    .iter()
                    .filter(|(_, e)| e.expires_at().is_some())
                    .count(),
                volatile
            );
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
            assert_eq!(shard.volatile_len(), 0);
            // The arrays of expiry times went as they emptied.
            assert!(shard.table.parts().1.expiries.chunks.is_empty());
            assert!(!shard.table.parts().1.expiries.chunks.spilled());
        });
    }

    /// Keys coming and going at a steady count (a cache under eviction)
    /// leave tombstones; the table is rebuilt at its size rather than
    /// doubled for them, while its keys take up to 7/8 of its room.
    #[test]
    fn churn_at_a_steady_count_does_not_grow_the_table() {
        with_shard(|shard, _, hasher| {
            let hash = |k: &[u8]| hasher.hash_one(k);
            // 780 keys: 1,024 buckets, room for 896, and 780 is under 7/8 of it.
            for i in 0..780 {
                shard.insert(hash(&key(i)), &key(i), entry(i));
            }
            let buckets = shard.buckets();
            assert_eq!(buckets, 1024);
            for i in 780..100_000 {
                shard.insert(hash(&key(i)), &key(i), entry(i));
                let old = key(i - 780);
                assert!(shard.remove(hash(&old), &old).is_some());
            }
            assert_eq!(shard.buckets(), buckets);
            assert_eq!(shard.len(), 780);
            for i in 100_000 - 780..100_000 {
                assert_eq!(read(shard, hasher, &key(i)).map(|(v, _)| v), Some(i));
            }
            // Growing past 7/8 of the room still doubles it.
            for i in 100_000..100_200 {
                shard.insert(hash(&key(i)), &key(i), entry(i));
            }
            assert_eq!(shard.buckets(), 2 * buckets);
        });
    }

    /// Removing a key moves the shard's last slot into its place: a TTL
    /// moves with it (and leaves with the removed key), whether the removed
    /// key, the moved one, both or neither have one; setting and clearing a
    /// TTL in place keeps the flag and the table of times in step.
    #[test]
    fn a_moved_slot_keeps_its_ttl() {
        with_shard(|shard, _, hasher| {
            let hash = |k: &[u8]| hasher.hash_one(k);
            // Keys 0..4 in slots 0..4; 0 and 10 and 20 have TTLs (see `entry`).
            let ks: Vec<Vec<u8>> = [0, 1, 10, 3, 20]
                .iter()
                .map(|i| format!("k{i}").into_bytes())
                .collect();
            for (k, i) in ks.iter().zip([0, 1, 10, 3, 20]) {
                shard.insert(hash(k), k, entry(i));
            }
            // Volatile key removed, volatile last slot (k20) moves into slot 0.
            let gone = shard.remove(hash(&ks[0]), &ks[0]).map(|e| e.expires_at());
            assert_eq!(gone, Some(Some(1)));
            assert_eq!(read(shard, hasher, &ks[4]), Some((20, Some(21))));
            // Plain key removed, plain last slot (k3) moves.
            assert_eq!(
                shard.remove(hash(&ks[1]), &ks[1]).map(|e| e.expires_at()),
                Some(None)
            );
            assert_eq!(read(shard, hasher, &ks[3]), Some((3, None)));
            // Slots now k20, k3, k10. A TTL set in place on k3; then k20
            // removed: k10 (volatile, the last slot) moves into slot 0.
            let k3 = &ks[3];
            match shard.lookup(hash(k3), k3, |_| false) {
                Lookup::Live(mut e) => assert_eq!(e.set_expires_at(Some(99)), None),
                _ => panic!("k3 is there"),
            }
            assert_eq!(
                shard.remove(hash(&ks[4]), &ks[4]).map(|e| e.expires_at()),
                Some(Some(21))
            );
            assert_eq!(read(shard, hasher, &ks[2]), Some((10, Some(11))));
            assert_eq!(read(shard, hasher, k3), Some((3, Some(99))));
            assert_eq!(shard.volatile_len(), 2);
            // Replacing keeps the slot: the new entry's TTL (none) replaces.
            let old = shard.insert(hash(k3), k3, entry(5));
            assert_eq!(old.map(|e| e.expires_at()), Some(Some(99)));
            assert_eq!(read(shard, hasher, k3), Some((5, None)));
            match shard.lookup(hash(&ks[2]), &ks[2], |_| false) {
                Lookup::Live(mut e) => assert_eq!(e.set_expires_at(None), Some(11)),
                _ => panic!("k10 is there"),
            }
            assert_eq!(shard.volatile_len(), 0);
            assert_eq!(read(shard, hasher, &ks[2]), Some((10, None)));
            // A volatile key alone, removed as the last slot.
            shard.insert(hash(&ks[0]), &ks[0], entry(0));
            assert_eq!(
                shard.remove(hash(&ks[0]), &ks[0]).map(|e| e.expires_at()),
                Some(Some(1))
            );
            assert_eq!(shard.volatile_len(), 0);
        });
    }
}
