//! Point-in-time snapshots without fork: what BGSAVE, BGREWRITEAOF and a
//! replica's full sync copy out while clients go on writing.
//!
//! Redis forks, and copy-on-write keeps the child's view of memory still,
//! at the price of copying every page a write touches. We cut instead.
//! With every shard locked, each shard of a non-empty database is marked
//! pending (the cut). A walker then copies the shards out one after the
//! other, each under its lock, going through its slots in arena order (in
//! memory order, so the next slots are prefetched). Each key copied gets
//! the snapshot's mark in its access record. A write to a shard still
//! pending first copies the old entry of the key it changes (its
//! pre-image) into the snapshot, unless the key has the mark, and marks
//! it; a key created after the cut is marked without a pre-image. The
//! walker skips marked keys. The snapshot is therefore the dataset exactly
//! as at the cut, while writes continue; what it costs in memory is the
//! encoded pre-images of the keys written before the walker got to them,
//! not copies of pages. Marks cost no memory and no lookup: the walker
//! kept a set of the keys it had copied, and hashing every key into it
//! took a third of its time and most of a writer's extra work.
//!
//! Marks are 7 bits, given out in turn: a snapshot's mark differs from
//! every key's as long as fewer than 127 snapshots in a row were aborted
//! (a completed one leaves every key with its own mark or none), and the
//! cut clears them all after 126 ([`Keyspace::next_snapshot_mark`]).
//!
//! The hooks are in [`super::shard::Shard`], the one place every change
//! to a table goes through; the encoding (RDB, or AOF commands) is the
//! [`Encoder`]'s. One snapshot runs at a time, as Redis runs one child.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::{EntryRef, Guard, Keyspace, SHARDS_PER_DB};
use crate::util::lock;

/// How a snapshot encodes what it copies (an RDB file, an AOF base of
/// commands). Called by the walker and, for pre-images, by writers under
/// their shard locks, so it must not lock a shard.
pub trait Encoder: Send + Sync {
    /// The start of database `db`'s part: `keys` were stored at the cut,
    /// `volatile` of them with a TTL.
    fn database(&self, out: &mut Vec<u8>, db: usize, keys: usize, volatile: usize);
    /// One key as it was at the cut.
    fn key(&self, out: &mut Vec<u8>, key: &[u8], entry: EntryRef<'_>);
}

/// The walker hands the output on once this much is gathered.
const CHUNK: usize = 64 * 1024;

/// A shard is walked in batches of up to this many keys, its lock
/// released between them. A writer waiting for the shard does not wait
/// for the batch: the walker gives way after its current key.
const BATCH: usize = 1024;

/// The highest snapshot mark (7 bits; 0 is none).
const MAX_MARK: u8 = 127;

/// How long the walker, having given way, waits for the writer that asked
/// to take the shard's lock before it takes it back anyway.
const GIVE_WAY: std::time::Duration = std::time::Duration::from_millis(1);

/// Snapshots started, and how long the last cut took: INFO's
/// `total_forks` and `latest_fork_usec`, the fork-less counterparts of
/// Redis's fork count and fork stall. And the marks given out.
#[derive(Default)]
pub struct Counts {
    pub started: AtomicU64,
    pub last_cut_usec: AtomicU64,
    /// The last snapshot's mark.
    last_mark: AtomicU8,
    /// Snapshots started since the last one completed (or since the marks
    /// were cleared): the marks keys may carry besides that one's.
    unfinished: AtomicU8,
}

/// One snapshot in progress.
pub struct Snapshot {
    encoder: Box<dyn Encoder>,
    /// Per database: keys and volatile keys at the cut (0 keys: not part
    /// of the snapshot, none of its shards pending).
    sizes: Vec<(usize, usize)>,
    /// The mark of the keys this snapshot copied or that were stored after
    /// its cut (1..=[`MAX_MARK`]).
    pub(super) mark: u8,
    /// Per database: pre-images written by writers, for the walker to
    /// hand on within that database's part.
    preimages: Box<[Mutex<Vec<u8>>]>,
    /// Set by [`Keyspace::abort_snapshot`] (FLUSHALL, SHUTDOWN, ...) or
    /// [`Snapshot::cancel`] (its background child died).
    aborted: AtomicBool,
    /// Keys copied so far, and at the cut (INFO `current_save_keys_*`).
    pub keys_done: AtomicU64,
    pub keys_total: u64,
    /// Bytes of pre-images writers copied: what the snapshot cost beyond
    /// the walk (INFO's copy-on-write figures stand for it).
    preimage_bytes: AtomicU64,
    /// `rdb-key-save-delay` at the cut, as a forked child keeps the
    /// setting it was born with: lowering it later does not speed the walk
    /// up (the suite kills the child for that).
    key_delay: i64,
}

impl Snapshot {
    pub fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Relaxed)
    }

    /// Stops the walk from outside the keyspace's locks: its background
    /// child died, nothing will take its bytes. The walker gives up at its
    /// next key or sleep and clears the shards' pending marks itself.
    pub fn cancel(&self) {
        self.aborted.store(true, Ordering::Relaxed);
    }

    pub fn preimage_bytes(&self) -> u64 {
        self.preimage_bytes.load(Ordering::Relaxed)
    }

    /// Encodes pre-images into `db`'s buffer, counting their bytes.
    pub(super) fn with_preimages<T>(&self, db: usize, f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
        let mut buf = lock(&self.preimages[db]);
        let before = buf.len();
        let result = f(&mut buf);
        let grown = buf.len().saturating_sub(before) as u64;
        self.preimage_bytes.fetch_add(grown, Ordering::Relaxed);
        result
    }

    /// Encodes `key` as it was at the cut.
    pub(super) fn encode(&self, out: &mut Vec<u8>, key: &[u8], entry: EntryRef<'_>) {
        if !self.aborted() {
            self.encoder.key(out, key, entry);
        }
    }

    /// Counts keys copied (INFO `current_save_keys_processed`).
    pub(super) fn copied(&self, keys: u64) {
        if keys > 0 {
            self.keys_done.fetch_add(keys, Ordering::Relaxed);
        }
    }
}

/// How many threads copy a snapshot's shards out: the cores the event
/// loops leave (at least one, at most 8). The shards are independent, so
/// each thread encodes whole shards into its own buffer and the walk's own
/// thread writes them in order; with one, the walk's thread does it all
/// itself. A walker more than that competes with the loops for their
/// cores: on 2 cores a second one doubled the longest wait of a client
/// during BGSAVE and cost a third of the write load's throughput
/// (BENCHMARKS.md, session 14).
fn walker_threads(event_loops: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_sub(event_loops).clamp(1, 8)
}

/// The snapshot's bytes on their way out: each database's part starts with
/// the encoder's header, and after each shard come the pre-images writers
/// made meanwhile (all of a database's are in before the next database
/// starts, since it has no pending shard left by then).
struct Output<'s> {
    snapshot: &'s Snapshot,
    bytes: Vec<u8>,
    /// The database whose part is being written.
    db: Option<usize>,
}

impl Output<'_> {
    fn start(&mut self, db: usize) {
        if self.db != Some(db) {
            self.db = Some(db);
            let (keys, volatile) = self.snapshot.sizes[db];
            self.snapshot
                .encoder
                .database(&mut self.bytes, db, keys, volatile);
        }
    }

    fn end_shard(
        &mut self,
        db: usize,
        write: &mut impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.bytes.append(&mut lock(&self.snapshot.preimages[db]));
        if self.bytes.len() >= CHUNK {
            write(&self.bytes)?;
            self.bytes.clear();
        }
        Ok(())
    }
}

/// Shards encoded by several threads, handed to the writer in order: a
/// thread claims the next shard only while fewer than `ahead` wait to be
/// written, so the buffers stay bounded.
struct Ordered {
    state: Mutex<OrderedState>,
    changed: Condvar,
    ahead: usize,
}

#[derive(Default)]
struct OrderedState {
    /// The next shard to claim.
    next: usize,
    /// The next shard the writer takes.
    written: usize,
    /// Shards encoded (None: the walk was aborted there), by index.
    ready: BTreeMap<usize, Option<Vec<u8>>>,
    /// Buffers written out, for reuse.
    spare: Vec<Vec<u8>>,
    /// The writer gave up (aborted, or a write failed).
    stopped: bool,
}

/// A shard claimed by an encoding thread: if the thread does not finish it
/// (the snapshot was aborted, or it panicked), the writer learns so.
struct Claim<'o> {
    ordered: &'o Ordered,
    index: usize,
    finished: bool,
}

impl Claim<'_> {
    fn buffer(&mut self) -> Vec<u8> {
        lock(&self.ordered.state).spare.pop().unwrap_or_default()
    }

    fn finish(mut self, keys: Vec<u8>) {
        self.finished = true;
        self.ordered.deliver(self.index, Some(keys));
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.ordered.deliver(self.index, None);
        }
    }
}

impl Ordered {
    fn new(ahead: usize) -> Ordered {
        Ordered {
            state: Mutex::default(),
            changed: Condvar::new(),
            ahead,
        }
    }

    /// The next shard of `count` to encode; None when all are claimed or
    /// the writer stopped.
    fn claim(&self, count: usize) -> Option<Claim<'_>> {
        let mut state = lock(&self.state);
        loop {
            if state.stopped || state.next >= count {
                return None;
            }
            if state.next < state.written + self.ahead {
                state.next += 1;
                return Some(Claim {
                    ordered: self,
                    index: state.next - 1,
                    finished: false,
                });
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn deliver(&self, index: usize, keys: Option<Vec<u8>>) {
        lock(&self.state).ready.insert(index, keys);
        self.changed.notify_all();
    }

    /// Waits for shard `index`'s bytes; None if its thread gave up.
    fn take(&self, index: usize) -> Option<Vec<u8>> {
        let mut state = lock(&self.state);
        loop {
            if let Some(keys) = state.ready.remove(&index) {
                state.written = index + 1;
                drop(state);
                self.changed.notify_all();
                return keys;
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn recycle(&self, mut keys: Vec<u8>) {
        keys.clear();
        lock(&self.state).spare.push(keys);
    }

    fn stop(&self) {
        lock(&self.state).stopped = true;
        self.changed.notify_all();
    }
}

impl Keyspace {
    /// The snapshot a shard being locked must preserve its keys for, if it
    /// is pending (one relaxed load otherwise).
    pub(super) fn snapshot_of(&self, db: usize, shard: usize) -> Option<Arc<Snapshot>> {
        if !self.dbs[db]
            .pending(shard)
            .is_some_and(|p| p.load(Ordering::Relaxed))
        {
            return None;
        }
        lock(&self.snapshot).clone()
    }

    /// Whether a snapshot is being copied out.
    pub fn snapshot_running(&self) -> bool {
        lock(&self.snapshot).is_some()
    }

    /// The running snapshot, for its progress (INFO).
    pub fn running_snapshot(&self) -> Option<Arc<Snapshot>> {
        lock(&self.snapshot).clone()
    }

    /// The cut: `guard` holds every shard. Returns None when a snapshot is
    /// already running.
    pub fn start_snapshot<'k>(
        &'k self,
        guard: &mut Guard<'k>,
        encoder: Box<dyn Encoder>,
    ) -> Option<Arc<Snapshot>> {
        debug_assert!(guard.whole.is_some());
        let started = std::time::Instant::now();
        let mut slot = lock(&self.snapshot);
        if slot.is_some() {
            return None;
        }
        let sizes: Vec<(usize, usize)> = self
            .dbs
            .iter()
            .map(|db| {
                let keys = db.keys.load(Ordering::Relaxed).max(0) as usize;
                let volatile = db.volatile.load(Ordering::Relaxed).max(0) as usize;
                (keys, volatile.min(keys))
            })
            .collect();
        let snapshot = Arc::new(Snapshot {
            encoder,
            keys_total: sizes.iter().map(|(keys, _)| *keys as u64).sum(),
            sizes,
            mark: self.next_snapshot_mark(guard),
            preimages: (0..self.dbs.len()).map(|_| Mutex::default()).collect(),
            aborted: AtomicBool::new(false),
            keys_done: AtomicU64::new(0),
            preimage_bytes: AtomicU64::new(0),
            key_delay: self.config.rdb_key_save_delay(),
        });
        for (db, &(keys, _)) in self.dbs.iter().zip(&snapshot.sizes) {
            // A database with keys has its shards.
            if let (true, Some(tables)) = (keys > 0, db.tables.get()) {
                tables
                    .pending
                    .iter()
                    .for_each(|p| p.store(true, Ordering::Relaxed));
            }
        }
        *slot = Some(snapshot.clone());
        drop(slot);
        // The guard's own shards were locked before the cut: they learn of
        // it now, so the rest of its unit preserves what it changes.
        for ((db, shard), locked) in guard.shards.iter_mut() {
            locked.join_snapshot(self.pending(*db as usize, *shard as usize));
        }
        self.snapshots.started.fetch_add(1, Ordering::Relaxed);
        let usec = started.elapsed().as_micros() as u64;
        self.snapshots.last_cut_usec.store(usec, Ordering::Relaxed);
        Some(snapshot)
    }

    /// The mark of a snapshot starting now (`guard` holds every shard):
    /// the one after the last. Keys carry the last completed snapshot's
    /// mark (or none) and those of the snapshots aborted since; after 126
    /// aborted in a row the next mark could be one of theirs, so every
    /// key's is cleared first, a pass over the keys under the cut's locks
    /// that only that many failures in a row ask for.
    fn next_snapshot_mark(&self, guard: &mut Guard<'_>) -> u8 {
        let counts = &self.snapshots;
        if counts.unfinished.load(Ordering::Relaxed) >= MAX_MARK - 1 {
            for (_, locked) in guard.shards.iter_mut() {
                locked.clear_snapshot_marks();
            }
            counts.unfinished.store(0, Ordering::Relaxed);
        }
        let mark = counts.last_mark.load(Ordering::Relaxed) % MAX_MARK + 1;
        counts.last_mark.store(mark, Ordering::Relaxed);
        counts.unfinished.fetch_add(1, Ordering::Relaxed);
        mark
    }

    /// Stops the running snapshot (Redis's `killRDBChild`): `guard` holds
    /// every shard. The walker notices and gives up.
    pub fn abort_snapshot(&self, guard: &Guard<'_>) {
        debug_assert!(guard.whole.is_some());
        let Some(snapshot) = lock(&self.snapshot).take() else {
            return;
        };
        self.stop(&snapshot);
    }

    /// Marks `snapshot` aborted (writers holding a pending shard skip their
    /// copies) and no shard pending any more.
    fn stop(&self, snapshot: &Snapshot) {
        snapshot.aborted.store(true, Ordering::Relaxed);
        for tables in self.dbs.iter().filter_map(|db| db.tables.get()) {
            tables
                .pending
                .iter()
                .for_each(|p| p.store(false, Ordering::Relaxed));
        }
    }

    /// Copies `snapshot` out, handing `write` its bytes in chunks: each
    /// database's part starts with the encoder's header. Returns false
    /// when the snapshot was aborted meanwhile (nothing more is written).
    pub fn walk_snapshot(
        &self,
        snapshot: &Snapshot,
        mut write: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<bool> {
        let result = self.walk(snapshot, &mut write);
        // Done, failed or aborted: no shard waits for it any more.
        let mut slot = lock(&self.snapshot);
        if slot.as_ref().is_some_and(|s| std::ptr::eq(&**s, snapshot)) {
            *slot = None;
            match result {
                // Every key has this snapshot's mark, or none.
                Ok(true) => self.snapshots.unfinished.store(0, Ordering::Relaxed),
                // Cancelled ([`Snapshot::cancel`]), or failed.
                Ok(false) | Err(_) => self.stop(snapshot),
            }
        }
        result
    }

    fn walk(
        &self,
        snapshot: &Snapshot,
        write: &mut impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<bool> {
        let shards: Vec<(usize, usize)> = (snapshot.sizes.iter().enumerate())
            .filter(|(_, &(keys, _))| keys > 0)
            .flat_map(|(db, _)| (0..SHARDS_PER_DB).map(move |shard| (db, shard)))
            .collect();
        let mut out = Output {
            snapshot,
            bytes: Vec::with_capacity(CHUNK * 2),
            db: None,
        };
        // Under a key delay (a test hook) the walk is one key at a time,
        // as Redis's child goes.
        let threads = match snapshot.key_delay {
            0 => walker_threads(self.config.io_threads().max(1) as usize),
            _ => 1,
        };
        if threads == 1 {
            for &(db, shard) in &shards {
                out.start(db);
                if !self.walk_shard(snapshot, db, shard, &mut out.bytes) {
                    return Ok(false);
                }
                out.end_shard(db, write)?;
            }
        } else {
            let ordered = Ordered::new(threads * 2);
            let done = std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(|| {
                        while let Some(mut claim) = ordered.claim(shards.len()) {
                            let (db, shard) = shards[claim.index];
                            let mut keys = claim.buffer();
                            if !self.walk_shard(snapshot, db, shard, &mut keys) {
                                return;
                            }
                            claim.finish(keys);
                        }
                    });
                }
                let result = (|| -> io::Result<bool> {
                    for (index, &(db, _)) in shards.iter().enumerate() {
                        let Some(keys) = ordered.take(index) else {
                            return Ok(false);
                        };
                        out.start(db);
                        out.bytes.extend_from_slice(&keys);
                        ordered.recycle(keys);
                        out.end_shard(db, write)?;
                    }
                    Ok(true)
                })();
                ordered.stop();
                result
            })?;
            if !done {
                return Ok(false);
            }
        }
        write(&out.bytes)?;
        Ok(!snapshot.aborted())
    }

    /// Lets a thread that asked for the shard the walker just released take
    /// its lock first: a lock released and taken again at once would
    /// otherwise usually go back to the walker.
    fn give_way(wanted: &AtomicBool) {
        let started = std::time::Instant::now();
        while wanted.load(Ordering::Relaxed) && started.elapsed() < GIVE_WAY {
            std::thread::yield_now();
        }
    }

    /// `rdb-key-save-delay` after a key (Redis's `debugDelay`), a test hook,
    /// slept in steps so an abort cuts a long sleep short.
    fn save_delay(snapshot: &Snapshot) {
        let us = snapshot.key_delay;
        if us < 0 {
            crate::util::debug_delay(us);
            return;
        }
        let mut slept = 0;
        while slept < us && !snapshot.aborted() {
            let step = (us - slept).min(10_000);
            crate::util::debug_delay(step);
            slept += step;
        }
    }

    /// Copies one shard's keys not copied yet into `out`, in batches
    /// unlocked in between, and marks the shard done; false if the snapshot
    /// was aborted.
    fn walk_shard(&self, snapshot: &Snapshot, db: usize, shard: usize, out: &mut Vec<u8>) -> bool {
        let tables = self.tables(db);
        let (pending, wanted) = (&tables.pending[shard], &tables.wanted[shard]);
        let step = if snapshot.key_delay == 0 { BATCH } else { 1 };
        let mut from = 0;
        loop {
            let copied;
            let next = {
                let mut locked = self.write_shard(db, shard);
                if snapshot.aborted() {
                    return false;
                }
                // Copied whole by a writer (FLUSHDB, SWAPDB).
                if !pending.load(Ordering::Relaxed) {
                    return true;
                }
                let copied_before = out.len();
                let next = locked.copy_unmarked(from, step, wanted, out);
                copied = out.len() > copied_before;
                if next.is_none() {
                    pending.store(false, Ordering::Relaxed);
                }
                next
            };
            // After the shard's last key too: Redis's child sleeps after
            // every key, so a BGSAVE of one key is still running. Not after
            // an empty shard: Redis has no shards to sleep for.
            if copied {
                Self::save_delay(snapshot);
            }
            let Some(next) = next else {
                return true;
            };
            from = next;
            out.append(&mut lock(&snapshot.preimages[db]));
            Self::give_way(wanted);
        }
    }
}
