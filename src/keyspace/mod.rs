//! The keyspace: numbered databases, each a sharded DashMap from key to [`Entry`].
//!
//! Commands never touch a DashMap directly. The dispatcher first works out
//! which shards a command needs (a [`LockSet`], from the command table's key
//! positions), locks them all in ascending order (a [`Guard`]), and hands the
//! handler a [`DbView`] over that guard. Every command, single-key, multi-key,
//! transaction or script, goes through this one path, so commands are atomic
//! and two commands can never deadlock.

mod clock;
mod effects;
mod expire;
mod scan;
mod shard;
pub mod snapshot;
mod value;
mod watch;

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use smallvec::SmallVec;

pub use clock::{CommandClock, LruClock};
pub use expire::{ActiveExpiry, ReplicaKeys};
pub(crate) use shard::Shard;
use shard::{EntryMut, Lookup};
pub use value::{Access, AccessMode, Entry, EntryRef, Key, StringValue, Value};
use watch::Presence;
pub use watch::{DirtyCas, Watches};

use crate::blocking::Blocking;
use crate::config::{notify, Config};
pub use effects::{Event, EventSink, InvalidationSink};

use crate::propagate::{Op, Propagation};

/// The keyspace hasher: fast, and seeded per process against collision attacks.
pub type KeyHasher = foldhash::fast::RandomState;

/// Shards per database. More shards mean less lock contention and smaller
/// steps for SCAN and active expiry; each costs four cache lines when empty
/// (dashmap pads its locks, and the arenas beside them are padded alike,
/// with the table hints in their padding), about 64 KB a database.
const SHARDS_PER_DB: usize = 256;

/// How a key's hash picks its shard: dashmap's `determine_shard` (the top 7
/// bits are hashbrown's tag), computed without a database's map, which may
/// not exist yet.
const SHARD_SHIFT: u32 = usize::BITS - SHARDS_PER_DB.trailing_zeros();

/// Buckets per shard from which [`Keyspace::prefetch_pays`]: 256 shards of
/// 1,024 buckets hold 115k to 230k keys, over 10 MB of slots and tables.
const PREFETCH_MIN_BUCKETS: usize = 1024;

/// One database (`SELECT n`).
pub struct Db {
    /// Its shards, created when a command first locks one of them (see
    /// [`Keyspace::create_tables`]): 16 databases of empty shards took
    /// 0.6 MB of `used_memory` (Redis starts at 0.9 MB in all), room a small
    /// `maxmemory` then lacked for keys. SELECT alone creates nothing, nor
    /// do the locks of the whole keyspace (FLUSHALL, SAVE, loading, a
    /// script without keys), which skip databases without shards. Database
    /// 0 has them from the start.
    tables: OnceLock<Tables>,
    /// Keys with a TTL, for `INFO keyspace` and to skip idle active expiry.
    volatile: AtomicI64,
    /// Keys stored, expired ones included (kept by [`Shard`]), so eviction
    /// skips empty databases without locking their shards.
    keys: AtomicI64,
    /// Running estimate of the remaining TTL of volatile keys in ms, kept by
    /// active expiry as Redis's `db->avg_ttl` is (INFO `avg_ttl`).
    avg_ttl: AtomicU64,
}

/// A database's shards and what is kept for each.
struct Tables {
    /// The shards, with each shard's table hint (for
    /// [`Keyspace::prefetch_table`]).
    map: shard::Map,
    /// Per shard: a running snapshot has not copied it yet (see
    /// [`snapshot`]). Read whenever the shard is locked.
    pending: Box<[AtomicBool]>,
    /// Per shard: a thread waits for the shard's lock while it is pending,
    /// so the walker holding it lets go after the key it is copying (see
    /// [`Keyspace::write_shard`]).
    wanted: Box<[AtomicBool]>,
}

impl Tables {
    fn new(hasher: KeyHasher) -> Tables {
        Tables {
            map: shard::Map::new(hasher, SHARDS_PER_DB),
            pending: (0..SHARDS_PER_DB).map(|_| AtomicBool::new(false)).collect(),
            wanted: (0..SHARDS_PER_DB).map(|_| AtomicBool::new(false)).collect(),
        }
    }
}

impl Db {
    /// Whether a running snapshot still has to copy `shard` (never, for a
    /// database with no shards yet: it was empty at the cut).
    fn pending(&self, shard: usize) -> Option<&AtomicBool> {
        self.tables.get().map(|tables| &tables.pending[shard])
    }
}

/// All databases.
pub struct Keyspace {
    dbs: Box<[Db]>,
    hasher: KeyHasher,
    /// Keys removed because their TTL passed (INFO `expired_keys`).
    pub expired_keys: AtomicU64,
    /// Changes made by write commands since the last save (Redis's
    /// `server.dirty`, INFO `rdb_changes_since_last_save`). Each
    /// guard counts its command's changes and adds them here once, in
    /// [`Guard::command_done`].
    pub dirty: AtomicU64,
    /// Who publishes keyspace events (none in unit tests).
    events: Option<Arc<dyn EventSink>>,
    /// Who invalidates client-side caches (none in unit tests).
    invalidations: Option<Arc<dyn InvalidationSink>>,
    /// Where each unit's ops go (replicas, later the AOF).
    pub propagation: Arc<Propagation>,
    /// Who WATCHes which keys; every write below tells it.
    pub watches: Watches,
    /// Clients blocked on keys (BLPOP, ...); every key stored tells it.
    pub blocking: Blocking,
    /// The time key accesses are stamped with.
    pub lru_clock: LruClock,
    /// DEBUG SET-ACTIVE-EXPIRE's switch (Redis's `active_expire_enabled`).
    pub active_expiry: expire::Switch,
    /// A writable replica's own keys with a TTL, which it expires itself.
    pub replica_keys: ReplicaKeys,
    /// The settings key accesses depend on (`maxmemory-policy`, `lfu-*`).
    config: Arc<Config>,
    /// Keys evicted for `maxmemory` (INFO `evicted_keys`).
    pub evicted_keys: AtomicU64,
    /// Until when (unix ms, 0: not) CLIENT PAUSE keeps expired keys stored:
    /// they read as missing but are not deleted, as Redis's `expireIfNeeded`
    /// does while clients are paused.
    expiry_hold: AtomicU64,
    /// This server is a replica: reads of expired keys see them missing but
    /// leave them stored, as the master's DELs remove them (Redis's
    /// `expireIfNeeded` with `masterhost` set); writes (on a writable
    /// replica) still reclaim them.
    keep_expired_on_read: AtomicBool,
    /// Held to create a database's shards, and by a guard of the whole
    /// keyspace for its life: such a guard locks the shards that exist, and
    /// no database gets shards (and keys) behind its back meanwhile. Taken
    /// before any shard lock, as the lock order requires.
    creating: std::sync::Mutex<()>,
    /// The snapshot being copied out (BGSAVE, BGREWRITEAOF, a full sync).
    snapshot: std::sync::Mutex<Option<Arc<snapshot::Snapshot>>>,
    pub snapshots: snapshot::Counts,
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        let hasher = KeyHasher::default();
        let dbs: Box<[Db]> = (0..databases)
            .map(|_| Db {
                tables: OnceLock::new(),
                volatile: AtomicI64::new(0),
                keys: AtomicI64::new(0),
                avg_ttl: AtomicU64::new(0),
            })
            .collect();
        if let Some(first) = dbs.first() {
            first.tables.get_or_init(|| Tables::new(hasher));
        }
        Keyspace {
            dbs,
            hasher,
            expired_keys: AtomicU64::new(0),
            dirty: AtomicU64::new(0),
            events: None,
            invalidations: None,
            propagation: Arc::new(Propagation::new(Arc::default())),
            watches: Watches::new(databases),
            blocking: Blocking::default(),
            lru_clock: LruClock::default(),
            active_expiry: expire::Switch::default(),
            replica_keys: ReplicaKeys::default(),
            config: Arc::new(Config::new()),
            evicted_keys: AtomicU64::new(0),
            expiry_hold: AtomicU64::new(0),
            keep_expired_on_read: AtomicBool::new(false),
            creating: Default::default(),
            snapshot: Default::default(),
            snapshots: Default::default(),
        }
    }

    /// Reads the maxmemory policy and LFU settings from `config`.
    pub fn configured(self, config: Arc<Config>) -> Keyspace {
        Keyspace { config, ..self }
    }

    /// What a key access records under the current `maxmemory-policy`.
    pub fn access_mode(&self) -> AccessMode {
        if self.config.eviction_policy().is_lfu() {
            AccessMode::Lfu {
                log_factor: self.config.lfu_log_factor(),
                decay_minutes: self.config.lfu_decay_time(),
            }
        } else {
            AccessMode::Lru
        }
    }

    /// Keys stored in a database, expired ones included, without locking.
    pub fn db_keys(&self, db: usize) -> usize {
        self.dbs[db].keys.load(Ordering::Relaxed).max(0) as usize
    }

    /// Hands each unit's keyspace events to `sink`.
    pub fn notifying(self, sink: Arc<dyn EventSink>) -> Keyspace {
        Keyspace {
            events: Some(sink),
            ..self
        }
    }

    /// Hands the keys each unit changes to `sink` (client-side caching).
    pub fn invalidating(self, sink: Arc<dyn InvalidationSink>) -> Keyspace {
        Keyspace {
            invalidations: Some(sink),
            ..self
        }
    }

    /// Feeds each unit's ops to `propagation`.
    pub fn propagating(self, propagation: Arc<Propagation>) -> Keyspace {
        Keyspace {
            propagation,
            ..self
        }
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard_of(&self, _db: usize, hash: u64) -> usize {
        ((hash as usize) << 7) >> SHARD_SHIFT
    }

    /// The shards of database `db`, which has them: it was created by
    /// [`Keyspace::create_tables`] before any of its shards was locked.
    /// (Creating them here would be a fallback that cannot happen.)
    fn tables(&self, db: usize) -> &Tables {
        self.dbs[db].tables.get_or_init(|| Tables::new(self.hasher))
    }

    /// Whether database `db` has its shards.
    fn has_tables(&self, db: usize) -> bool {
        self.dbs[db].tables.get().is_some()
    }

    /// Creates the shards of database `db` if it has none, holding
    /// `creating` (the caller's proof that no guard of the whole keyspace
    /// is meanwhile locking only the databases that have shards).
    fn create_tables(&self, db: usize, _creating: &std::sync::MutexGuard<'_, ()>) {
        self.tables(db);
    }

    /// Takes the lock that creating shards and guarding the whole keyspace
    /// share.
    fn creating(&self) -> std::sync::MutexGuard<'_, ()> {
        self.creating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Number of keys in a database, expired-but-not-yet-reclaimed ones included
    /// (Redis's DBSIZE counts those too). Locks each shard briefly, one at a time.
    pub fn db_len(&self, db: usize) -> usize {
        self.dbs[db]
            .tables
            .get()
            .map_or(0, |tables| tables.map.len())
    }

    /// Keys with a TTL in a database.
    pub fn db_volatile(&self, db: usize) -> usize {
        self.dbs[db].volatile.load(Ordering::Relaxed).max(0) as usize
    }

    /// Estimated average remaining TTL of the volatile keys in ms (0 when none).
    pub fn db_avg_ttl(&self, db: usize) -> u64 {
        self.dbs[db].avg_ttl.load(Ordering::Relaxed)
    }

    /// Redis zeroes `avg_ttl` whenever active expiry finds no volatile keys.
    fn clear_avg_ttl(&self, db: usize) {
        self.dbs[db].avg_ttl.store(0, Ordering::Relaxed);
    }

    /// Folds the TTLs one active expiry pass saw into `avg_ttl`, weighting
    /// each pass 1/50 as Redis's `activeExpireCycle` does.
    fn note_ttls(&self, db: usize, ttl_sum: u64, samples: u64) {
        if samples == 0 {
            return;
        }
        let sample = ttl_sum / samples;
        let avg = &self.dbs[db].avg_ttl;
        let old = avg.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old / 50 * 49 + sample / 50
        };
        avg.store(new, Ordering::Relaxed);
    }

    /// Whether prefetching keys of database `db` pays: only when it is big
    /// enough to spill out of the CPU's own caches, since otherwise there is
    /// no miss to hide and the work is wasted (about 400 instructions per
    /// request, callgrind). Judged from one shard's table, lock-free: keys
    /// spread evenly over the shards.
    pub fn prefetch_pays(&self, db: usize) -> bool {
        self.dbs[db]
            .tables
            .get()
            .is_some_and(|tables| tables.map.hint(0).buckets() >= PREFETCH_MIN_BUCKETS)
    }

    /// Starts fetching the table memory a lookup of `key` in database `db`
    /// reads first, without waiting for it nor taking a lock. Returns the
    /// key's hash for [`Keyspace::prefetch_slot`], the second stage, which
    /// needs these lines and so should come a little later. With pipelining
    /// the next requests' keys are known while the current one runs; over a
    /// keyspace larger than the CPU caches each lookup otherwise waits on a
    /// chain of cache misses (BENCHMARKS.md, `prefetch`).
    pub fn prefetch_table(&self, db: usize, key: &[u8]) -> u64 {
        let hash = self.hash(key);
        if let Some(tables) = self.dbs[db].tables.get() {
            shard::prefetch_table(tables.map.hint(self.shard_of(db, hash)), hash);
        }
        hash
    }

    /// Starts fetching the slot of the key with this hash, which
    /// [`Keyspace::prefetch_table`] was given. A busy shard is skipped: a
    /// hint is not worth waiting for a lock.
    pub fn prefetch_slot(&self, db: usize, hash: u64) {
        let Some(tables) = self.dbs[db].tables.get() else {
            return;
        };
        if let Some(table) = tables.map.try_read(self.shard_of(db, hash)) {
            shard::prefetch_slot(&table, hash);
        }
    }

    /// Write-locks one shard (with its table hint, which it keeps current),
    /// creating the database's shards if it has none yet.
    fn write_shard(&self, db: usize, shard: usize) -> Shard<'_> {
        let tables = self.tables(db);
        let table = match tables.map.try_write(shard) {
            Some(table) => table,
            // A snapshot's walker may hold it for a batch of keys: it gives
            // way after its current key rather than making a client wait
            // for the whole batch.
            None if tables.pending[shard].load(Ordering::Relaxed) => {
                tables.wanted[shard].store(true, Ordering::Relaxed);
                let table = tables.map.write(shard);
                tables.wanted[shard].store(false, Ordering::Relaxed);
                table
            }
            None => tables.map.write(shard),
        };
        let keys = &self.dbs[db].keys;
        Shard::new(table, keys, self.pending(db, shard))
    }

    /// What a shard just locked must preserve for a running snapshot.
    fn pending(&self, db: usize, shard: usize) -> Option<shard::Pending<'_>> {
        self.snapshot_of(db, shard).map(|snapshot| shard::Pending {
            snapshot,
            db,
            flag: &self.tables(db).pending[shard],
        })
    }

    /// Write-locks one shard if nobody holds it now (a script reaching a key
    /// it did not declare: waiting could deadlock, see [`Guard::try_extend`]).
    fn try_write_shard(&self, db: usize, shard: usize) -> Option<Shard<'_>> {
        let tables = self.tables(db);
        let table = tables.map.try_write(shard)?;
        let pending = self.pending(db, shard);
        let keys = &self.dbs[db].keys;
        Some(Shard::new(table, keys, pending))
    }

    /// Locks every shard in `set`, in ascending (db, shard) order: the one
    /// order every command uses, which is what makes locking deadlock-free.
    /// A set of the whole keyspace first takes `creating`, then every shard
    /// of the databases that have them.
    pub fn lock(&self, mut set: LockSet) -> Guard<'_> {
        let whole = set.whole.then(|| self.creating());
        match &whole {
            Some(creating) => {
                // Databases named without shards (EXEC of keyed commands
                // with a whole-keyspace one) get them under this hold, and
                // then, like every database with shards, are locked whole.
                for &(db, _) in &set.shards {
                    self.create_tables(db as usize, creating);
                }
                for db in 0..self.databases() {
                    if self.has_tables(db) {
                        set.add_db(db);
                    }
                }
            }
            None => {
                for &(db, _) in &set.shards {
                    if !self.has_tables(db as usize) {
                        self.create_tables(db as usize, &self.creating());
                    }
                }
            }
        }
        set.shards.sort_unstable();
        set.shards.dedup();
        // A plain loop: SmallVec's `collect` cost about 85 more instructions
        // per command here (callgrind).
        let mut shards = SmallVec::with_capacity(set.shards.len());
        for &(db, shard) in &set.shards {
            shards.push(((db, shard), self.write_shard(db as usize, shard as usize)));
        }
        Guard {
            keyspace: self,
            shards,
            whole,
            hashes: set.hashes,
            effects: effects::Effects {
                propagating: self.propagation.active(),
                event_flags: self.events.as_ref().map_or(0, |sink| sink.flags()),
                tracking: self
                    .invalidations
                    .as_ref()
                    .is_some_and(|sink| sink.active()),
                ..Default::default()
            },
            woken: None,
        }
    }

    /// Redis's `deleteExpiredKeyAndPropagate`, after the entry of `key` in
    /// database `db` was removed because its TTL passed (lazily on access,
    /// by a write replacing it, or by active expiry): the counters, the
    /// `expired` event, WATCH, and a DEL (or UNLINK) in the unit's ops.
    /// The one place expiry is accounted for.
    fn expired(&self, effects: &mut effects::Effects, db: usize, key: &[u8], had_ttl: bool) {
        if had_ttl {
            self.dbs[db].volatile.fetch_sub(1, Ordering::Relaxed);
        }
        self.expired_keys.fetch_add(1, Ordering::Relaxed);
        effects.notify(notify::EXPIRED, "expired", db, key);
        self.watches.touch(db, key, false);
        effects.invalidate(key);
        effects.propagate(|| self.propagation.expired_key(db, key));
    }

    /// CLIENT PAUSE: expired keys stay stored until `until_ms` (0: from now on
    /// they go as usual).
    pub fn hold_expiry_until(&self, until_ms: u64) {
        self.expiry_hold.store(until_ms, Ordering::Relaxed);
    }

    /// Whether a pause keeps expired keys now (active expiry skips its
    /// cycles then).
    pub fn expiry_held(&self, now_ms: u64) -> bool {
        let until = self.expiry_hold.load(Ordering::Relaxed);
        until != 0 && now_ms <= until
    }

    /// A replica keeps expired keys for its master to delete
    /// ([`Keyspace::keep_expired_on_read`]'s field).
    pub fn set_replica(&self, replica: bool) {
        self.keep_expired_on_read.store(replica, Ordering::Relaxed);
    }

    pub fn is_replica(&self) -> bool {
        self.keep_expired_on_read.load(Ordering::Relaxed)
    }

    pub fn shards_per_db(&self) -> usize {
        SHARDS_PER_DB
    }
}

/// The shards a command needs, as (db, shard) pairs, sorted and deduplicated
/// when locked. Inline up to three: most commands name one to three keys,
/// and they then lock without allocating. (Three, not four, keeps the set
/// small enough to be returned without a `memcpy` call.)
#[derive(Debug, Default, Clone)]
pub struct LockSet {
    shards: SmallVec<[(u32, u32); 3]>,
    /// Every shard of every database ([`LockSet::add_all`]), listed when
    /// locked: only then is it known which databases have shards.
    whole: bool,
    /// Hashes of the request's keys, computed for locking and reused by the
    /// command's lookups (see [`KeyHash`]).
    hashes: SmallVec<[KeyHash; 3]>,
}

/// A key's hash, remembered by the address and length of the request
/// argument it was computed from, so a command hashes each key once: the
/// handler looks the key up through a slice of that same argument. The
/// argument must outlive the [`Guard`] (the dispatcher's `args` do): while it
/// is alive no other bytes can sit at its address, so an equal address and
/// length mean equal bytes. Any other slice just misses and is hashed.
#[derive(Debug, Clone, Copy)]
struct KeyHash {
    addr: usize,
    len: usize,
    hash: u64,
}

impl LockSet {
    pub fn new() -> Self {
        LockSet::default()
    }

    pub fn add_key(&mut self, keyspace: &Keyspace, db: usize, key: &[u8]) {
        self.add_hashed(keyspace, db, keyspace.hash(key));
    }

    /// [`LockSet::add_key`] for a key that is an argument of the request the
    /// [`Guard`] will serve, and outlives it: its hash is kept for the
    /// command's own lookups of that argument.
    pub(crate) fn add_arg_key(&mut self, keyspace: &Keyspace, db: usize, key: &[u8]) {
        let hash = keyspace.hash(key);
        self.add_hashed(keyspace, db, hash);
        self.hashes.push(KeyHash {
            addr: key.as_ptr() as usize,
            len: key.len(),
            hash,
        });
    }

    fn add_hashed(&mut self, keyspace: &Keyspace, db: usize, hash: u64) {
        let shard = keyspace.shard_of(db, hash);
        self.shards.push((db as u32, shard as u32));
    }

    pub fn add_shard(&mut self, db: usize, shard: usize) {
        self.shards.push((db as u32, shard as u32));
    }

    pub fn add_db(&mut self, db: usize) {
        self.shards
            .extend((0..SHARDS_PER_DB).map(|s| (db as u32, s as u32)));
    }

    pub fn add_all(&mut self, _keyspace: &Keyspace) {
        self.whole = true;
    }

    /// Adds `other`'s shards (EXEC: the union of its queued commands'). Not
    /// their key hashes: the queued arguments are not the request's.
    pub fn merge(&mut self, other: &LockSet) {
        self.shards.extend_from_slice(&other.shards);
        self.whole |= other.whole;
    }

    pub fn is_empty(&self) -> bool {
        self.shards.is_empty() && !self.whole
    }

    /// Whether every shard of `other` is in this set.
    pub fn includes(&self, other: &LockSet) -> bool {
        self.whole || (!other.whole && other.shards.iter().all(|s| self.shards.contains(s)))
    }
}

/// The locked shards of one command (or one transaction), inline up to three
/// like the [`LockSet`] they come from.
pub struct Guard<'k> {
    keyspace: &'k Keyspace,
    shards: SmallVec<[((u32, u32), Shard<'k>); 3]>,
    /// A guard of the whole keyspace holds `creating` (see
    /// [`Keyspace::lock`]), and creates the shards of a database it writes
    /// to that has none ([`Guard::shard_and_effects`]).
    whole: Option<std::sync::MutexGuard<'k, ()>>,
    /// The request's key hashes, from its [`LockSet`].
    hashes: SmallVec<[KeyHash; 3]>,
    /// What the unit did, for its readers (see [`effects`]).
    effects: effects::Effects,
    /// The wait for the blocked clients [`Guard::release`] woke.
    woken: Option<Arc<crate::blocking::Ticket>>,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<'k> Guard<'k> {
    /// A view of database `db` on the command's clock.
    pub fn db<'g>(&'g mut self, db: usize, clock: &'g CommandClock) -> DbView<'g, 'k> {
        DbView {
            guard: self,
            db,
            clock,
        }
    }

    pub fn keyspace(&self) -> &'k Keyspace {
        self.keyspace
    }

    /// Ends the unit: its ops go to the propagation stream while the shards
    /// are still locked (so units touching the same keys reach it in the
    /// order they ran), then every shard is unlocked and the clients blocked
    /// on the keys stored meanwhile are signalled (Redis's
    /// `handleClientsBlockedOnKeys` after a command or a whole EXEC).
    /// Dropping the guard does it too.
    pub fn release(&mut self) {
        self.flush_invalidations();
        if !self.effects.ops.is_empty() {
            let ops = std::mem::take(&mut self.effects.ops);
            self.keyspace.propagation.feed(&ops, !self.effects.no_multi);
        }
        if let (false, Some(sink)) = (self.effects.events.is_empty(), &self.keyspace.events) {
            sink.publish(
                std::mem::take(&mut self.effects.events),
                self.effects.event_flags,
            );
        }
        self.shards.clear();
        self.whole = None;
        if self.effects.ready.is_empty() {
            return;
        }
        let ticket = self.woken.get_or_insert_with(Default::default);
        for (db, key) in self.effects.ready.drain(..) {
            match key {
                Some(key) => self.keyspace.blocking.signal(db, &key, ticket),
                None => self.keyspace.blocking.signal_db(db, ticket),
            }
        }
    }

    /// The wait for the blocked clients the released unit woke: the
    /// client's reply and next command wait for it (see
    /// [`crate::blocking::Ticket`]).
    pub fn take_woken(&mut self) -> Option<Arc<crate::blocking::Ticket>> {
        self.woken.take()
    }

    /// Ends a command for WATCH: the keys it took with `get_mut` count as
    /// modified unless it failed, as Redis's write commands signal a key only
    /// once they changed it (a WRONGTYPE or a bad argument changes nothing).
    ///
    /// Its changes count in [`Keyspace::dirty`] on the same terms; returns
    /// how many there were (Redis's `dirty` delta in `call`, which decides
    /// whether the command is propagated).
    pub fn command_done(&mut self, failed: bool) -> u64 {
        for (db, key) in self.effects.changed.drain(..) {
            if !failed {
                self.keyspace.watches.touch(db, &key, true);
                if self.effects.tracking {
                    self.effects.invalidated.push(Some(key));
                }
            }
        }
        // Redis invalidates as a key changes: before the command's reads are
        // remembered, and in order with the next command of an EXEC.
        self.flush_invalidations();
        let dirty = std::mem::take(&mut self.effects.dirty);
        if dirty > 0 && !failed {
            self.keyspace.dirty.fetch_add(dirty, Ordering::Relaxed);
            return dirty;
        }
        0
    }

    /// The unit's changes so far are in a file just saved (FLUSHALL's save):
    /// they do not count as unsaved changes.
    pub fn changes_saved(&mut self) {
        self.effects.dirty = 0;
    }

    /// Hands the keys changed so far to the invalidation sink, while the
    /// shards are locked (so a client's read of a key and a change to it
    /// reach client-side caching in the order they happened).
    fn flush_invalidations(&mut self) {
        if let (false, Some(sink)) = (
            self.effects.invalidated.is_empty(),
            &self.keyspace.invalidations,
        ) {
            sink.invalidate(
                self.effects.client,
                std::mem::take(&mut self.effects.invalidated),
            );
        }
    }

    /// The unit is client `id`'s command (see [`effects::Effects::client`]).
    pub fn set_client(&mut self, id: u64) {
        self.effects.client = id;
    }

    /// Whether this unit collects ops: someone reads the stream.
    pub fn propagating(&self) -> bool {
        self.effects.propagating
    }

    /// Redis's `notifyKeyspaceEvent` for `key` in database `db`: published
    /// when the unit ends, in order, if `notify-keyspace-events` wants it.
    pub fn notify(&mut self, class: u32, event: &'static str, db: usize, key: &[u8]) {
        self.effects.notify(class, event, db, key);
    }

    /// Adds an op to the unit (Redis's `alsoPropagate`); `op` is built only
    /// when someone reads the stream.
    pub fn propagate(&mut self, op: impl FnOnce() -> Op) {
        self.effects.propagate(op);
    }

    /// Whether the guard holds no shard, so its holder may lock others
    /// (in any order) without deadlocking against itself.
    pub fn holds_no_shard(&self) -> bool {
        self.shards.is_empty()
    }

    /// Nothing of this unit is propagated (the AOF being replayed).
    pub fn unpropagated(mut self) -> Self {
        self.effects.propagating = false;
        self
    }

    /// Whether every shard of `set` is locked by this guard (a guard of the
    /// whole keyspace covers all: it creates and locks what it lacks).
    pub fn covers(&self, set: &LockSet) -> bool {
        self.whole.is_some()
            || (!set.whole
                && set
                    .shards
                    .iter()
                    .all(|id| self.shards.binary_search_by_key(id, |(id, _)| *id).is_ok()))
    }

    /// Adds the shards of `set` this guard lacks, but only if each is free
    /// right now: they come out of the ascending lock order, so waiting for
    /// one could deadlock against a command waiting for a shard we hold.
    /// All or nothing: on false the guard holds what it held before.
    pub fn try_extend(&mut self, set: &LockSet) -> bool {
        if self.whole.is_some() {
            return true;
        }
        if set.whole {
            return false;
        }
        for &(db, _) in &set.shards {
            if !self.keyspace.has_tables(db as usize) {
                // Creating waits for no shard, only for `creating`, which
                // a holder of shards must not wait for either.
                let Ok(creating) = self.keyspace.creating.try_lock() else {
                    return false;
                };
                self.keyspace.create_tables(db as usize, &creating);
            }
        }
        let mut taken: SmallVec<[((u32, u32), Shard<'k>); 3]> = SmallVec::new();
        for &(db, shard) in &set.shards {
            let id = (db, shard);
            let held = self.shards.binary_search_by_key(&id, |(id, _)| *id).is_ok()
                || taken.iter().any(|(t, _)| *t == id);
            if held {
                continue;
            }
            match self.keyspace.try_write_shard(db as usize, shard as usize) {
                Some(locked) => taken.push((id, locked)),
                None => return false,
            }
        }
        for (id, locked) in taken {
            let pos = self
                .shards
                .binary_search_by_key(&id, |(id, _)| *id)
                .unwrap_or_else(|p| p);
            self.shards.insert(pos, (id, locked));
        }
        true
    }

    /// Ends the unit so far ([`Guard::release`]) and locks every shard of
    /// every database, in the one order: a script that turned out to reach
    /// keys it did not declare runs again under this, before it wrote.
    pub fn relock_all(&mut self) {
        self.release();
        let keyspace = self.keyspace;
        self.whole = Some(keyspace.creating());
        for db in (0..keyspace.databases()).filter(|&db| keyspace.has_tables(db)) {
            self.lock_db(db);
        }
    }

    /// Locks every shard of database `db` (which has them), in order after
    /// those held: only a guard of the whole keyspace does, for a database
    /// it holds all of or, just created, none of (nobody else can hold its
    /// shards before it exists).
    fn lock_db(&mut self, db: usize) {
        let keyspace = self.keyspace;
        for shard in 0..SHARDS_PER_DB {
            let id = (db as u32, shard as u32);
            let pos = self
                .shards
                .binary_search_by_key(&id, |(id, _)| *id)
                .unwrap_or_else(|p| p);
            self.shards
                .insert(pos, (id, keyspace.write_shard(db, shard)));
        }
    }

    /// Gives database `db` its shards, locked, if it has none and this is a
    /// guard of the whole keyspace (whose `creating` hold makes it the only
    /// one who could). False when the shards were not this guard's to
    /// create.
    fn create_locked(&mut self, db: usize) -> bool {
        let keyspace = self.keyspace;
        match &self.whole {
            Some(creating) if !keyspace.has_tables(db) => {
                keyspace.create_tables(db, creating);
                self.lock_db(db);
                true
            }
            _ => false,
        }
    }

    /// How many ops the unit collected so far.
    pub fn ops_len(&self) -> usize {
        self.effects.ops.len()
    }

    /// Keeps the ops collected since `start` only for `target`'s readers
    /// (a script's `redis.set_repl`); ops going nowhere are dropped.
    pub fn restrict_ops_since(&mut self, start: usize, target: crate::propagate::Target) {
        let mut index = start;
        while index < self.effects.ops.len() {
            let op = &mut self.effects.ops[index];
            let kept = op.target.intersect(target);
            if kept.is_none() {
                self.effects.ops.remove(index);
            } else {
                op.target = kept;
                index += 1;
            }
        }
    }

    /// Active expiry, and SCAN or RANDOMKEY run directly: this unit's DELs
    /// are not a transaction.
    pub fn without_multi(mut self) -> Self {
        self.effects.no_multi = true;
        self
    }

    /// The hash of `key`: the one computed for locking when `key` is that
    /// request argument, otherwise computed now.
    fn hash(&self, key: &[u8]) -> u64 {
        let (addr, len) = (key.as_ptr() as usize, key.len());
        match self.hashes.iter().find(|h| h.addr == addr && h.len == len) {
            Some(h) => h.hash,
            None => self.keyspace.hash(key),
        }
    }

    fn shard(&mut self, db: usize, hash: u64) -> &mut Shard<'k> {
        self.shard_and_effects(db, hash).0
    }

    /// The shard of `hash` and the unit's effects, borrowed together so a
    /// lookup can count a change on the entry it returns, or record its expiry.
    fn shard_and_effects(
        &mut self,
        db: usize,
        hash: u64,
    ) -> (&mut Shard<'k>, &mut effects::Effects) {
        let id = (db as u32, self.keyspace.shard_of(db, hash) as u32);
        let pos = match self.position(id) {
            Some(pos) => pos,
            None if self.create_locked(db) => self.position(id).unwrap_or_else(|| undeclared(id)),
            None => undeclared(id),
        };
        (&mut self.shards[pos].1, &mut self.effects)
    }

    /// Where shard `id` is among the held ones. A guard holding every
    /// shard (SAVE, loading, FLUSHALL) finds it at its own index, without
    /// a search through thousands of them.
    fn position(&self, id: (u32, u32)) -> Option<usize> {
        let direct = id.0 as usize * SHARDS_PER_DB + id.1 as usize;
        if self.shards.get(direct).is_some_and(|(held, _)| *held == id) {
            return Some(direct);
        }
        self.shards.binary_search_by_key(&id, |(id, _)| *id).ok()
    }

    /// Whether `key` is in `db`, and whether it is past its TTL (its shard
    /// must be locked). Nothing is reclaimed: WATCH bookkeeping looks at the
    /// table as Redis's `dictFind` and `keyIsExpired` do.
    fn presence(&self, db: usize, key: &[u8], clock: &CommandClock) -> (bool, bool) {
        let hash = self.hash(key);
        match self.shard_ref(db, hash).and_then(|s| s.get(hash, key)) {
            Some(e) => (true, e.is_expired(clock)),
            None => (false, false),
        }
    }

    /// A locked shard, read-only, so several entries can be borrowed at
    /// once; None for a database without shards under a guard of the whole
    /// keyspace (it holds no key).
    fn shard_ref(&self, db: usize, hash: u64) -> Option<&Shard<'k>> {
        let id = (db as u32, self.keyspace.shard_of(db, hash) as u32);
        match self.position(id) {
            Some(pos) => Some(&self.shards[pos].1),
            None if self.whole.is_some() && !self.keyspace.has_tables(db) => None,
            None => undeclared(id),
        }
    }

    /// The locked shards of one database, in shard order.
    fn db_shards(&mut self, db: usize) -> impl Iterator<Item = (usize, &mut Shard<'k>)> {
        self.shards
            .iter_mut()
            .filter(move |((d, _), _)| *d as usize == db)
            .map(|((_, s), shard)| (*s as usize, shard))
    }
}

/// What a command that touched a key it did not declare unwinds with (see
/// [`undeclared`]); `commands::call` turns it into an error reply.
#[derive(Debug)]
pub struct UndeclaredKey(pub (u32, u32));

/// A command reached a shard outside its lock set: a bug in the command
/// table. Locking it now would break the one lock order and could deadlock,
/// so the command is stopped instead, by unwinding out of the handler with
/// [`UndeclaredKey`] (the guard still releases what it holds).
fn undeclared(id: (u32, u32)) -> ! {
    tracing::error!(?id, "a command used a shard it had not locked");
    std::panic::panic_any(UndeclaredKey(id))
}

/// One database as a command sees it: lazily expiring, through the guard's locks.
pub struct DbView<'g, 'k> {
    guard: &'g mut Guard<'k>,
    db: usize,
    clock: &'g CommandClock,
}

impl<'g, 'k> DbView<'g, 'k> {
    pub fn index(&self) -> usize {
        self.db
    }

    /// The command's time (reads the clock if nothing did yet).
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn volatile(&self) -> &AtomicI64 {
        &self.guard.keyspace.dbs[self.db].volatile
    }

    /// A keyspace event for `key` in this database (`notifyKeyspaceEvent`).
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.guard.effects.notify(class, event, self.db, key);
    }

    fn account(&self, old: Option<u64>, new: Option<u64>) {
        let delta = new.is_some() as i64 - old.is_some() as i64;
        if delta != 0 {
            self.volatile().fetch_add(delta, Ordering::Relaxed);
        }
    }

    /// Removes `key` if it has expired. Returns whether it is (still) present.
    fn expire_if_needed(&mut self, hash: u64, key: &[u8]) -> bool {
        self.lookup(hash, key, 0, false).is_some()
    }

    /// The live entry for `key` (one probe of its shard), reclaiming it if
    /// it is past its TTL, as Redis's `expireIfNeeded` does.
    /// `changes` is added to the command's change count if the key is live
    /// (1 for a write taking the value to change it, 0 otherwise).
    /// A `read` that finds nothing is a `keymiss` event.
    fn lookup(&mut self, hash: u64, key: &[u8], changes: u64, read: bool) -> Option<EntryMut<'_>> {
        let (keyspace, db, clock) = (self.guard.keyspace, self.db, self.clock);
        let (shard, effects) = self.guard.shard_and_effects(db, hash);
        // Two loads unless a pause is on or this is a replica.
        // Redis's `lookupKey`: only a writable replica's writes reclaim.
        let replica_read =
            keyspace.is_replica() && (changes == 0 || keyspace.config.replica_read_only());
        if (replica_read || keyspace.expiry_hold.load(Ordering::Relaxed) != 0)
            && shard.get(hash, key).is_some_and(|e| e.is_expired(clock))
            && (replica_read || keyspace.expiry_held(clock.now_ms()))
        {
            // Paused, or a replica's read: the key reads as expired but stays.
            if read {
                effects.notify(notify::KEY_MISS, "keymiss", db, key);
            }
            return None;
        }
        if changes > 0 {
            shard.preserve(hash, key);
        }
        match shard.lookup(hash, key, |e| e.is_expired(clock)) {
            Lookup::Live(entry) => {
                effects.dirty += changes;
                return Some(entry);
            }
            Lookup::Missing => {}
            Lookup::Expired(old) => keyspace.expired(effects, db, key, old.expires_at().is_some()),
        }
        if read {
            effects.notify(notify::KEY_MISS, "keymiss", db, key);
        }
        None
    }

    /// The live entry for `key`, recording the access (Redis's `lookupKey`).
    pub fn get(&mut self, key: &[u8]) -> Option<EntryRef<'_>> {
        self.touch(key, 0, false).map(EntryMut::into_ref)
    }

    /// [`DbView::get`] for a read (Redis's `lookupKeyRead`): a missing key is
    /// a `keymiss` event.
    pub fn get_read(&mut self, key: &[u8]) -> Option<EntryRef<'_>> {
        self.touch(key, 0, true).map(EntryMut::into_ref)
    }

    /// The live value for `key`, to change in place. Its TTL stays as it is.
    /// Only writes may call it: unless the command fails, it counts as a
    /// modification for WATCH (see [`Guard::command_done`]).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        if (self.guard.keyspace.watches.any() || self.guard.effects.tracking) && self.contains(key)
        {
            self.guard.effects.changed.push((self.db, Key::from(key)));
        }
        self.touch(key, 1, false).map(|e| e.value)
    }

    /// [`DbView::get_mut`] for a change Redis makes without
    /// `signalModifiedKey`, so WATCH does not hear of it (a stream's
    /// consumer groups: XREADGROUP, XACK, XCLAIM, XGROUP, XSETID). It still
    /// counts as a change.
    pub fn get_mut_unwatched(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.touch(key, 1, false).map(|e| e.value)
    }

    /// Takes back the modification `get_mut` recorded for `key`: the command
    /// looked but changed nothing, and Redis signals a key only when it
    /// changes (SADD of members already there, SREM of absent ones, ...).
    pub fn unchanged(&mut self, key: &[u8]) {
        let db = self.db;
        let effects = &mut self.guard.effects;
        effects.changed.retain(|(d, k)| *d != db || &**k != key);
        effects.dirty = effects.dirty.saturating_sub(1);
    }

    /// Takes back the change `get_mut` counted, keeping the WATCH signal:
    /// for the writes Redis signals but does not count in `server.dirty`
    /// (an LTRIM that trims nothing), which are then not propagated.
    pub fn changed_nothing(&mut self) {
        let effects = &mut self.guard.effects;
        effects.dirty = effects.dirty.saturating_sub(1);
    }

    /// Counts `n` more changes than the store or `get_mut` did: Redis adds
    /// one per register a PFADD raised, per field a BITFIELD changed
    /// (`server.dirty += changes`), which INFO's `rdb_changes_since_last_save` shows.
    pub fn add_changes(&mut self, n: u64) {
        self.guard.effects.dirty += n;
    }

    /// The live entry for `key` with its access time updated.
    fn touch(&mut self, key: &[u8], changes: u64, read: bool) -> Option<EntryMut<'_>> {
        let keyspace = self.guard.keyspace;
        let now = keyspace.lru_clock.now_ms();
        let entry = self.lookup(self.guard.hash(key), key, changes, read)?;
        entry.access.touch(now, keyspace.access_mode());
        Some(entry)
    }

    /// The live entry for `key` without counting as an access
    /// (`LOOKUP_NOTOUCH`: TYPE, TTL, OBJECT, ...).
    pub fn peek(&mut self, key: &[u8]) -> Option<EntryRef<'_>> {
        let hash = self.guard.hash(key);
        self.lookup(hash, key, 0, false).map(EntryMut::into_ref)
    }

    /// MEMORY USAGE: the bytes `key` and its value take (the value's
    /// collections sampled up to `samples` elements), None without the key.
    pub fn memory_usage(&mut self, key: &[u8], samples: usize) -> Option<usize> {
        let value = self.peek(key)?.value.memory(samples);
        Some(value + shard::key_cost(key))
    }

    /// The live entries of several keys at once, for commands that read many
    /// keys together (SINTER, SUNION, SDIFF). Expired ones are removed first.
    pub fn get_many(&mut self, keys: &[&[u8]]) -> Vec<Option<EntryRef<'_>>> {
        let hashes: Vec<u64> = keys.iter().map(|k| self.hash(k)).collect();
        for (key, &hash) in keys.iter().zip(&hashes) {
            self.expire_if_needed(hash, key);
        }
        let guard: &Guard<'k> = self.guard;
        keys.iter()
            .zip(hashes)
            .map(|(key, hash)| guard.shard_ref(self.db, hash)?.get(hash, key))
            .collect()
    }

    /// Whether `key` is there but past its TTL, without reclaiming it
    /// (Redis's `keyIsExpired`, which WATCH and EXEC consult).
    pub fn holds_expired(&self, key: &[u8]) -> bool {
        self.guard.presence(self.db, key, self.clock).1
    }

    pub fn contains(&mut self, key: &[u8]) -> bool {
        let hash = self.guard.hash(key);
        self.expire_if_needed(hash, key)
    }

    /// Sets `key` to `value` with the given expiry, replacing whatever was
    /// there (and its TTL): Redis's `setKey`. Returns the live entry it
    /// replaced. Under an LFU policy a replaced value hands its access
    /// record to the new one, touched once for `setKey`'s lookup (Redis's
    /// `dbSetValue` keeps `lru`), so overwriting a hot key does not send
    /// its counter back to `LFU_INIT_VAL`; under LRU the new value's record
    /// (now) is what the touch would give.
    pub fn set(&mut self, key: &[u8], value: Value, expires_at: Option<u64>) -> Option<Entry> {
        self.replace(key, value, expires_at, true)
    }

    /// [`DbView::set`] for a command that has just looked `key` up with
    /// [`DbView::get`] (Redis's `setKey` with `SETKEY_ALREADY_EXIST` or
    /// `SETKEY_DOESNT_EXIST`: SET), so the replaced value is not touched twice.
    pub fn set_looked_up(
        &mut self,
        key: &[u8],
        value: Value,
        expires_at: Option<u64>,
    ) -> Option<Entry> {
        self.replace(key, value, expires_at, false)
    }

    fn replace(
        &mut self,
        key: &[u8],
        value: Value,
        expires_at: Option<u64>,
        touch: bool,
    ) -> Option<Entry> {
        let keyspace = self.guard.keyspace;
        let now = keyspace.lru_clock.now_ms();
        let mut entry = Entry::new(value, expires_at, now);
        let mode = keyspace.access_mode();
        if matches!(mode, AccessMode::Lfu { .. }) {
            if let Some(old) = self.stored(key).filter(|old| !old.is_expired(self.clock)) {
                entry.access = *old.access;
                if touch {
                    entry.access.touch(now, mode);
                }
            }
        }
        self.set_entry(key, entry)
    }

    /// Stores a whole entry (value, TTL and access record) under `key`, as
    /// RENAME and MOVE carry one over. Returns the live entry it replaced.
    pub fn set_entry(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        self.store(key, entry, true).0
    }

    /// Stores a key read from a file (RDB load): false when the key was
    /// there already, which a file without MERGE must not do.
    pub fn load(&mut self, key: &[u8], entry: Entry) -> bool {
        !self.store(key, entry, true).1
    }

    /// Creates `key` as Redis's bare `dbAdd` does when the command then
    /// neither signals the key nor counts a change: WATCH does not hear of
    /// it and nothing is propagated (a BITFIELD whose every write failed
    /// under OVERFLOW FAIL still leaves the zeroed string it made room in).
    pub fn add_unsignalled(&mut self, key: &[u8], value: Value) {
        let now = self.guard.keyspace.lru_clock.now_ms();
        self.store(key, Entry::new(value, None, now), false);
    }

    /// [`DbView::set_entry`], the key signalled and counted when `signal`;
    /// also whether an entry was stored under `key` before, live or not.
    fn store(&mut self, key: &[u8], entry: Entry, signal: bool) -> (Option<Entry>, bool) {
        let hash = self.guard.hash(key);
        let clock = self.clock;
        let db = self.db;
        let expires_at = entry.expires_at();
        let old = self.guard.shard(db, hash).insert(hash, key, entry);
        let existed = old.is_some();
        self.account(old.as_ref().and_then(|e| e.expires_at()), expires_at);
        let keyspace = self.guard.keyspace;
        let effects = &mut self.guard.effects;
        let live = match old {
            // Redis reclaims the expired key first (an `expired` event, a
            // DEL propagated before the command), then adds the new one.
            // (`account` above already took its TTL off the count.)
            Some(e) if e.is_expired(clock) => {
                keyspace.expired(effects, db, key, false);
                None
            }
            old => old,
        };
        if signal {
            keyspace.watches.touch(db, key, true);
            effects.invalidate(key);
            effects.dirty += 1;
        }
        if keyspace.blocking.any() {
            effects.ready.push((db, Some(Key::from(key))));
        }
        if live.is_none() {
            // `dbAdd`: a key that did not exist is created.
            self.notify(notify::NEW, "new", key);
        }
        (live, existed)
    }

    /// Makes room for `keys` more keys in this database's locked shards
    /// (RESIZEDB while loading), so the tables do not grow step by step.
    pub fn reserve(&mut self, keys: usize) {
        let per_shard = keys / SHARDS_PER_DB + keys / SHARDS_PER_DB / 8;
        let db = self.db;
        for (_, shard) in self
            .guard
            .shards
            .iter_mut()
            .filter(|((d, _), _)| *d as usize == db)
        {
            shard.reserve(per_shard);
        }
    }

    /// Redis's `signalKeyAsReady` for a key changed in place: clients
    /// blocked on it try again once the guard is released (XADD to an
    /// existing stream, XGROUP DESTROY waking XREADGROUP with its error).
    pub fn signal_ready(&mut self, key: &[u8]) {
        if self.guard.keyspace.blocking.any() {
            self.guard
                .effects
                .ready
                .push((self.db, Some(Key::from(key))));
        }
    }

    /// Deletes `key` as a command does (Redis's `dbDelete` followed by a
    /// `del` keyspace event): DEL, an emptied collection, an expiry in the
    /// past, a STORE with an empty result. Returns whether the key existed.
    pub fn delete(&mut self, key: &[u8]) -> bool {
        self.take(key).is_some()
    }

    /// [`DbView::delete`] handing back the live entry, so the caller decides
    /// where its value is freed (DEL and UNLINK: big ones in the background).
    pub fn take(&mut self, key: &[u8]) -> Option<Entry> {
        let old = self.remove(key)?;
        self.notify(notify::GENERIC, "del", key);
        Some(old)
    }

    /// Removes `key`, returning its live entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let hash = self.guard.hash(key);
        let old = self.guard.shard(self.db, hash).remove(hash, key)?;
        self.account(old.expires_at(), None);
        self.guard.keyspace.watches.touch(self.db, key, false);
        self.guard.effects.invalidate(key);
        if matches!(old.value, Value::Stream(_)) {
            // Redis's `dbGenericDelete`: XREADGROUP clients blocked on a
            // deleted stream are answered that it no longer exists.
            self.signal_ready(key);
        }
        let live = !old.is_expired(self.clock);
        self.guard.effects.dirty += u64::from(live);
        live.then_some(old)
    }

    /// Sets or clears the TTL of a live key. Returns false if there is no such key.
    pub fn set_expiry(&mut self, key: &[u8], expires_at: Option<u64>) -> bool {
        let hash = self.guard.hash(key);
        self.guard.shard(self.db, hash).preserve(hash, key);
        let Some(mut entry) = self.lookup(hash, key, 0, false) else {
            return false;
        };
        let old = entry.set_expires_at(expires_at);
        self.account(old, expires_at);
        // Clearing a TTL that was not there is no change (GETEX PERSIST).
        if old.is_some() || expires_at.is_some() {
            self.guard.keyspace.watches.touch(self.db, key, true);
            self.guard.effects.invalidate(key);
            self.guard.effects.dirty += 1;
        }
        true
    }

    /// Keys in the locked shards of this database (all of them when the whole
    /// database is locked), expired ones included, as DBSIZE counts them.
    pub fn len(&mut self) -> usize {
        self.guard.db_shards(self.db).map(|(_, s)| s.len()).sum()
    }

    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Visits every live entry of the locked shards of this database.
    pub fn for_each_live(&mut self, mut f: impl FnMut(&Key, EntryRef<'_>)) {
        let clock = self.clock;
        for (_, shard) in self.guard.db_shards(self.db) {
            shard.for_each(|k, e| {
                if !e.is_expired(clock) {
                    f(k, e)
                }
            });
        }
    }

    /// The entry stored under `key`, expired or not, without touching or
    /// reclaiming it: what Redis's DEBUG finds with `dictFind`.
    pub fn stored(&self, key: &[u8]) -> Option<EntryRef<'_>> {
        let hash = self.guard.hash(key);
        self.guard.shard_ref(self.db, hash)?.get(hash, key)
    }

    /// Visits every stored entry of the locked shards of this database,
    /// logically expired ones too (DEBUG DIGEST, as Redis's dict iterator).
    pub fn for_each_stored(&mut self, mut f: impl FnMut(&Key, EntryRef<'_>)) {
        for (_, shard) in self.guard.db_shards(self.db) {
            shard.for_each(|k, e| f(k, e));
        }
    }

    /// Visits the live entries of one shard.
    pub fn for_each_live_in_shard(&mut self, shard: usize, mut f: impl FnMut(&Key, EntryRef<'_>)) {
        let clock = self.clock;
        if let Some((_, s)) = self.guard.db_shards(self.db).find(|(i, _)| *i == shard) {
            s.for_each(|k, e| {
                if !e.is_expired(clock) {
                    f(k, e)
                }
            });
        }
    }

    /// Removes every key of this database; returns the removed tables so the
    /// caller may free them elsewhere (FLUSHDB ASYNC).
    pub fn clear(&mut self) -> Vec<shard::Table> {
        let (keyspace, db, clock) = (self.guard.keyspace, self.db, self.clock);
        let guard: &Guard<'k> = self.guard;
        keyspace.watches.touch_db(db, |key| Presence {
            here: guard.presence(db, key, clock).0,
            there: false,
            there_expired: false,
        });
        self.guard.effects.dirty += self.len() as u64;
        self.guard.effects.invalidate_all();
        if keyspace.blocking.any() {
            // Redis's `scanDatabaseForDeletedStreams`: blocked XREADGROUP
            // clients learn their stream is gone.
            self.guard.effects.ready.push((db, None));
        }
        let tables = self
            .guard
            .db_shards(self.db)
            .map(|(_, s)| s.take())
            .collect();
        self.volatile().store(0, Ordering::Relaxed);
        tables
    }

    /// Removes the expired keys of a locked shard (used by active expiry,
    /// which looks only at the shard's keys with a TTL), and feeds the TTLs
    /// of the volatile keys that remain into INFO's `avg_ttl`. Returns them,
    /// so that the caller frees them after unlocking the shard.
    pub fn remove_expired_in_shard(&mut self, shard: usize) -> Vec<(Key, Entry)> {
        let now = self.now_ms();
        let Some((_, s)) = self.guard.db_shards(self.db).find(|(i, _)| *i == shard) else {
            return Vec::new();
        };
        let (mut ttl_sum, mut samples) = (0u64, 0u64);
        let removed = s.extract_volatile_if(|_, e| match e.expires_at() {
            Some(at) if at < now => true,
            Some(at) => {
                if at > now {
                    ttl_sum = ttl_sum.saturating_add(at - now);
                    samples += 1;
                }
                false
            }
            None => false,
        });
        let keyspace = self.guard.keyspace;
        for (key, _) in &removed {
            keyspace.expired(&mut self.guard.effects, self.db, key, true);
        }
        keyspace.note_ttls(self.db, ttl_sum, samples);
        removed
    }

    /// Eviction's sample of one locked shard (Redis's `dictGetSomeKeys`):
    /// from bucket `start` on, up to `count` stored entries, only those
    /// with a TTL when `volatile_only`, each shown to `visit`.
    pub fn sample_shard(
        &mut self,
        shard: usize,
        start: usize,
        count: usize,
        volatile_only: bool,
        mut visit: impl FnMut(&Key, EntryRef<'_>),
    ) -> usize {
        let Some((_, s)) = self.guard.db_shards(self.db).find(|(i, _)| *i == shard) else {
            return 0;
        };
        s.sample(start, count, |key, entry| {
            let wanted = !volatile_only || entry.expires_at().is_some();
            if wanted {
                visit(key, entry);
            }
            wanted
        })
    }

    /// Evicts `key` for `maxmemory` (the deletion in Redis's
    /// `performEvictions`), if it is stored and `evictable` says its entry
    /// still may go: WATCH hears of it, the `evicted` event fires,
    /// INFO `evicted_keys` counts it and it is propagated as DEL, or as
    /// UNLINK when `lazy` (`lazyfree-lazy-eviction`). It does not count as
    /// a change. Returns the entry, for the caller to free once unlocked.
    pub fn evict(
        &mut self,
        key: &[u8],
        lazy: bool,
        evictable: impl FnOnce(EntryRef<'_>) -> bool,
    ) -> Option<Entry> {
        let (keyspace, db) = (self.guard.keyspace, self.db);
        let hash = self.guard.hash(key);
        let shard = self.guard.shard(db, hash);
        if !evictable(shard.get(hash, key)?) {
            return None;
        }
        let old = shard.remove(hash, key)?;
        self.account(old.expires_at(), None);
        keyspace.watches.touch(db, key, false);
        if matches!(old.value, Value::Stream(_)) {
            self.signal_ready(key);
        }
        keyspace.evicted_keys.fetch_add(1, Ordering::Relaxed);
        let effects = &mut self.guard.effects;
        // Redis's `signalModifiedKey`: client-side caches forget it too.
        effects.invalidate(key);
        effects.notify(notify::EVICTED, "evicted", db, key);
        effects.propagate(|| Op::new(db, &[crate::propagate::deletion(lazy), key]));
        Some(old)
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.guard.hash(key)
    }

    /// Reclaims `key` if its TTL passed, even on a replica (Redis's
    /// `expireSlaveKeys`): Some(true) when it was, Some(false) when it is
    /// live with a TTL, None when it is not there or has no TTL.
    pub fn reclaim_if_expired(&mut self, key: &[u8]) -> Option<bool> {
        let (keyspace, db, clock) = (self.guard.keyspace, self.db, self.clock);
        let hash = self.guard.hash(key);
        let (shard, effects) = self.guard.shard_and_effects(db, hash);
        match shard.lookup(hash, key, |e| e.is_expired(clock)) {
            Lookup::Live(entry) => entry.expires_at().map(|_| false),
            Lookup::Missing => None,
            Lookup::Expired(old) => {
                keyspace.expired(effects, db, key, old.expires_at().is_some());
                Some(true)
            }
        }
    }
}

impl<'k> Guard<'k> {
    /// Swaps the contents of two whole databases (SWAPDB). Both must be
    /// locked entirely. A watched key live in either database is touched
    /// (Redis's `touchAllWatchedKeysInDb` both ways).
    pub fn swap_dbs(&mut self, a: usize, b: usize, clock: &CommandClock) {
        if a == b {
            return;
        }
        // Shards for a database without any to take the other's keys.
        let keyspace = self.keyspace;
        if keyspace.db_keys(a) > 0 || keyspace.db_keys(b) > 0 {
            self.create_locked(a);
            self.create_locked(b);
        }
        for (x, y) in [(a, b), (b, a)] {
            let this: &Guard<'k> = self;
            self.keyspace.watches.touch_db(x, |key| {
                let (there, there_expired) = this.presence(y, key, clock);
                Presence {
                    here: this.presence(x, key, clock).0,
                    there,
                    there_expired,
                }
            });
        }
        let (lo, hi) = (a.min(b) as u32, a.max(b) as u32);
        let split = self
            .shards
            .iter()
            .position(|((d, _), _)| *d == hi)
            .unwrap_or(self.shards.len());
        let (left, right) = self.shards.split_at_mut(split);
        let lows = left.iter_mut().filter(|((d, _), _)| *d == lo);
        let highs = right.iter_mut().filter(|((d, _), _)| *d == hi);
        for ((_, x), (_, y)) in lows.zip(highs) {
            x.swap(y);
        }
        self.effects.dirty += 1;
        let ks = self.keyspace;
        let va = ks.dbs[a].volatile.load(Ordering::Relaxed);
        let vb = ks.dbs[b].volatile.swap(va, Ordering::Relaxed);
        ks.dbs[a].volatile.store(vb, Ordering::Relaxed);
        // `scanDatabaseForReadyKeys` on both: clients blocked in either may
        // now find their keys.
        if ks.blocking.any() {
            self.effects.ready.extend([(a, None), (b, None)]);
        }
    }
}

/// What a key's name and slot take in its shard (MEMORY USAGE's share of
/// the key; eviction counts it as freed with the key).
pub fn key_cost(key: &[u8]) -> usize {
    shard::key_cost(key)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn a_key_outside_the_lock_set_stops_the_command_instead_of_locking() {
        let keyspace = Keyspace::new(1);
        let mut set = LockSet::new();
        set.add_key(&keyspace, 0, b"declared");
        let mut guard = keyspace.lock(set);
        // A key in another shard than the declared one.
        let other = (0..1000)
            .map(|i| format!("k{i}"))
            .find(|k| {
                keyspace.shard_of(0, keyspace.hash(k.as_bytes()))
                    != keyspace.shard_of(0, keyspace.hash(b"declared"))
            })
            .expect("a key in another shard");
        let clock = CommandClock::default();
        let touched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            guard.db(0, &clock).contains(other.as_bytes())
        }));
        let payload = touched.expect_err("the undeclared shard must not be locked");
        assert!(payload.is::<UndeclaredKey>());
        // The guard still works, and releases its own shard.
        assert!(!guard.db(0, &clock).contains(b"declared"));
        drop(guard);
        let mut all = LockSet::new();
        all.add_db(0);
        drop(keyspace.lock(all));
    }

    #[test]
    fn volatile_counts_and_ttl_estimates_follow_writes_and_expiry() {
        let keyspace = Keyspace::new(4);
        let value = || Value::String(StringValue::from_bytes(Bytes::from_static(b"v")));
        let now = 1_000_000;
        // Runs `f` on database `db` at time `at`, all of it locked.
        let with_db = |db: usize, at: u64, f: &dyn Fn(&mut DbView)| {
            let mut set = LockSet::new();
            set.add_db(db);
            let mut guard = keyspace.lock(set);
            f(&mut guard.db(db, &CommandClock::at(at)));
        };
        with_db(0, now, &|db| {
            db.set(b"a", value(), None);
            db.set(b"b", value(), Some(now + 10_000));
        });
        with_db(2, now, &|db| {
            db.set(b"c", value(), None);
        });
        let counts = |db| {
            (
                keyspace.db_len(db),
                keyspace.db_volatile(db),
                keyspace.db_avg_ttl(db),
            )
        };
        assert_eq!(
            [counts(0), counts(1), counts(2)],
            [(2, 1, 0), (0, 0, 0), (1, 0, 0)]
        );
        let sweep = |db: &mut DbView| {
            for shard in 0..SHARDS_PER_DB {
                db.remove_expired_in_shard(shard);
            }
        };
        with_db(0, now, &sweep);
        assert_eq!(keyspace.db_avg_ttl(0), 10_000);
        // Once the key has expired, active expiry reclaims it.
        with_db(0, now + 20_000, &sweep);
        assert_eq!(keyspace.db_volatile(0), 0);
        assert_eq!((keyspace.db_len(0), keyspace.db_volatile(0)), (1, 0));
    }

    #[test]
    fn a_writer_waits_for_the_walkers_current_key_not_its_batch() {
        use std::sync::atomic::AtomicUsize;
        use std::time::{Duration, Instant};
        /// Takes 5 ms a key: a batch of 200 keys would hold their shard 1 s.
        struct SlowEncoder(Arc<AtomicUsize>);
        impl snapshot::Encoder for SlowEncoder {
            fn database(&self, _: &mut Vec<u8>, _: usize, _: usize, _: usize) {}
            fn key(&self, out: &mut Vec<u8>, key: &[u8], _: EntryRef<'_>) {
                self.0.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
                out.extend_from_slice(key);
            }
        }
        let keyspace = Keyspace::new(1);
        let shard = keyspace.shard_of(0, keyspace.hash(b"k0"));
        let keys: Vec<String> = (0..)
            .map(|i| format!("k{i}"))
            .filter(|k| keyspace.shard_of(0, keyspace.hash(k.as_bytes())) == shard)
            .take(200)
            .collect();
        let clock = CommandClock::default();
        let mut all = LockSet::new();
        all.add_all(&keyspace);
        let mut guard = keyspace.lock(all);
        for key in &keys {
            let value = Value::String(StringValue::from_bytes(Bytes::from_static(b"v")));
            guard.db(0, &clock).set(key.as_bytes(), value, None);
        }
        let encoded = Arc::new(AtomicUsize::new(0));
        let encoder = Box::new(SlowEncoder(encoded.clone()));
        let snapshot = keyspace
            .start_snapshot(&mut guard, encoder)
            .expect("no snapshot yet");
        drop(guard);
        std::thread::scope(|scope| {
            let walker = scope.spawn(|| keyspace.walk_snapshot(&snapshot, |_| Ok(())));
            while encoded.load(Ordering::Relaxed) == 0 {
                std::thread::yield_now();
            }
            // The walker holds the shard now, in the middle of its batch.
            let started = Instant::now();
            let mut set = LockSet::new();
            set.add_key(&keyspace, 0, keys[0].as_bytes());
            drop(keyspace.lock(set));
            let waited = started.elapsed();
            assert!(
                waited < Duration::from_millis(300),
                "waited {waited:?} for the walker"
            );
            assert!(matches!(walker.join().expect("walker"), Ok(true)));
        });
        assert_eq!(encoded.load(Ordering::Relaxed), keys.len());
    }

    /// A key marked by an aborted snapshot, and untouched since, is copied
    /// by every later snapshot, however many were aborted in between: marks
    /// are given out in turn, and the 128th snapshot's would be the first
    /// one's again.
    #[test]
    fn keys_marked_by_aborted_snapshots_are_copied_by_later_ones() {
        /// Each key copied, on a line.
        struct KeyNames;
        impl snapshot::Encoder for KeyNames {
            fn database(&self, _: &mut Vec<u8>, _: usize, _: usize, _: usize) {}
            fn key(&self, out: &mut Vec<u8>, key: &[u8], _: EntryRef<'_>) {
                out.extend_from_slice(key);
                out.push(b'\n');
            }
        }
        let keyspace = Keyspace::new(1);
        let clock = CommandClock::default();
        let value = || Value::String(StringValue::from_bytes(Bytes::from_static(b"v")));
        let whole = || {
            let mut all = LockSet::new();
            all.add_all(&keyspace);
            keyspace.lock(all)
        };
        {
            let mut guard = whole();
            guard.db(0, &clock).set(b"stale", value(), None);
            guard.db(0, &clock).set(b"other", value(), None);
        }
        for round in 0..300 {
            let mut guard = whole();
            let snapshot = keyspace
                .start_snapshot(&mut guard, Box::new(KeyNames))
                .expect("none running");
            if round == 0 {
                // Its pre-image is copied, and it gets this snapshot's mark.
                guard.db(0, &clock).set(b"stale", value(), None);
            }
            if round != 127 && round != 299 {
                keyspace.abort_snapshot(&guard);
                continue;
            }
            drop(guard);
            let mut out = Vec::new();
            let walked = keyspace.walk_snapshot(&snapshot, |bytes| {
                out.extend_from_slice(bytes);
                Ok(())
            });
            assert!(matches!(walked, Ok(true)), "round {round}");
            let mut names: Vec<&[u8]> = out
                .split(|&b| b == b'\n')
                .filter(|n| !n.is_empty())
                .collect();
            names.sort();
            assert_eq!(names, [&b"other"[..], b"stale"], "round {round}");
        }
    }
}
