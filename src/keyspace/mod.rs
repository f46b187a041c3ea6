//! The keyspace: numbered databases, each a sharded DashMap from key to [`Entry`].
//!
//! Commands never touch a DashMap directly. The dispatcher first works out
//! which shards a command needs (a [`LockSet`], from the command table's key
//! positions), locks them all in ascending order (a [`Guard`]), and hands the
//! handler a [`DbView`] over that guard. Every command, single-key, multi-key,
//! transaction or script, goes through this one path, so commands are atomic
//! and two commands can never deadlock.

mod expire;
mod shard;
mod value;

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use dashmap::DashMap;

pub use expire::spawn_active_expiry;
pub(crate) use shard::Shard;
pub use value::{Entry, StringValue, Value};

/// Keys are stored as boxed byte slices: 16 bytes plus the bytes themselves.
pub type Key = Box<[u8]>;

/// The keyspace hasher: fast, and seeded per process against collision attacks.
pub type KeyHasher = foldhash::fast::RandomState;

/// Shards per database. More shards mean less lock contention and smaller
/// steps for SCAN and active expiry; each costs a cache line when empty.
const SHARDS_PER_DB: usize = 256;

/// One database (`SELECT n`).
pub struct Db {
    map: DashMap<Key, Entry, KeyHasher>,
    /// Keys with a TTL, for `INFO keyspace` and to skip idle active expiry.
    volatile: AtomicI64,
}

/// All databases.
pub struct Keyspace {
    dbs: Box<[Db]>,
    hasher: KeyHasher,
    /// Keys removed because their TTL passed (INFO `expired_keys`).
    pub expired_keys: AtomicU64,
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        let hasher = KeyHasher::default();
        let dbs = (0..databases)
            .map(|_| Db {
                map: DashMap::with_hasher_and_shard_amount(hasher, SHARDS_PER_DB),
                volatile: AtomicI64::new(0),
            })
            .collect();
        Keyspace {
            dbs,
            hasher,
            expired_keys: AtomicU64::new(0),
        }
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard_of(&self, db: usize, hash: u64) -> usize {
        self.dbs[db].map.determine_shard(hash as usize)
    }

    /// Number of keys in a database, expired-but-not-yet-reclaimed ones included
    /// (Redis's DBSIZE counts those too). Locks each shard briefly, one at a time.
    pub fn db_len(&self, db: usize) -> usize {
        self.dbs[db].map.len()
    }

    /// Keys with a TTL in a database.
    pub fn db_volatile(&self, db: usize) -> usize {
        self.dbs[db].volatile.load(Ordering::Relaxed).max(0) as usize
    }

    /// Locks every shard in `set`, in ascending (db, shard) order: the one
    /// order every command uses, which is what makes locking deadlock-free.
    pub fn lock(&self, mut set: LockSet) -> Guard<'_> {
        set.shards.sort_unstable();
        set.shards.dedup();
        let shards = set
            .shards
            .iter()
            .map(|&(db, shard)| {
                let table = self.dbs[db as usize].map.shards()[shard as usize].write();
                ((db, shard), Shard::new(table))
            })
            .collect();
        Guard {
            keyspace: self,
            shards,
        }
    }

    pub fn shards_per_db(&self) -> usize {
        SHARDS_PER_DB
    }
}

/// The shards a command needs, as sorted unique (db, shard) pairs.
#[derive(Debug, Default, Clone)]
pub struct LockSet {
    shards: Vec<(u32, u32)>,
}

impl LockSet {
    pub fn new() -> Self {
        LockSet::default()
    }

    pub fn add_key(&mut self, keyspace: &Keyspace, db: usize, key: &[u8]) {
        let shard = keyspace.shard_of(db, keyspace.hash(key));
        self.shards.push((db as u32, shard as u32));
    }

    pub fn add_shard(&mut self, db: usize, shard: usize) {
        self.shards.push((db as u32, shard as u32));
    }

    pub fn add_db(&mut self, db: usize) {
        self.shards
            .extend((0..SHARDS_PER_DB).map(|s| (db as u32, s as u32)));
    }

    pub fn add_all(&mut self, keyspace: &Keyspace) {
        for db in 0..keyspace.databases() {
            self.add_db(db);
        }
    }

    pub fn merge(&mut self, other: &LockSet) {
        self.shards.extend_from_slice(&other.shards);
    }

    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }
}

/// The locked shards of one command (or one transaction).
pub struct Guard<'k> {
    keyspace: &'k Keyspace,
    shards: Vec<((u32, u32), Shard<'k>)>,
}

impl<'k> Guard<'k> {
    /// A view of database `db` at time `now_ms` (the command's clock: Redis
    /// freezes time for the duration of a command so its keys expire consistently).
    pub fn db(&mut self, db: usize, now_ms: u64) -> DbView<'_, 'k> {
        DbView {
            guard: self,
            db,
            now_ms,
        }
    }

    pub fn keyspace(&self) -> &'k Keyspace {
        self.keyspace
    }

    fn shard(&mut self, db: usize, hash: u64) -> &mut Shard<'k> {
        let id = (db as u32, self.keyspace.shard_of(db, hash) as u32);
        let pos = match self.shards.binary_search_by_key(&id, |(id, _)| *id) {
            Ok(pos) => pos,
            Err(pos) => {
                // A command touched a key its lock set did not declare: a bug in
                // the command table. Lock it anyway rather than fail the client;
                // debug builds (and so the tests) stop here.
                debug_assert!(false, "shard {id:?} used but not locked");
                tracing::error!(?id, "shard used but not locked");
                let table = self.keyspace.dbs[db].map.shards()[id.1 as usize].write();
                self.shards.insert(pos, (id, Shard::new(table)));
                pos
            }
        };
        &mut self.shards[pos].1
    }

    /// A locked shard, for reading without `&mut` (None if it is not locked,
    /// which debug builds treat as the command-table bug it is).
    fn shard_ref(&self, db: usize, hash: u64) -> Option<&Shard<'k>> {
        let id = (db as u32, self.keyspace.shard_of(db, hash) as u32);
        let pos = self.shards.binary_search_by_key(&id, |(id, _)| *id);
        debug_assert!(pos.is_ok(), "shard {id:?} used but not locked");
        pos.ok().map(|pos| &self.shards[pos].1)
    }

    /// The locked shards of one database, in shard order.
    fn db_shards(&mut self, db: usize) -> impl Iterator<Item = (usize, &mut Shard<'k>)> {
        self.shards
            .iter_mut()
            .filter(move |((d, _), _)| *d as usize == db)
            .map(|((_, s), shard)| (*s as usize, shard))
    }
}

/// One database as a command sees it: lazily expiring, through the guard's locks.
pub struct DbView<'g, 'k> {
    guard: &'g mut Guard<'k>,
    db: usize,
    now_ms: u64,
}

impl<'g, 'k> DbView<'g, 'k> {
    pub fn index(&self) -> usize {
        self.db
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn volatile(&self) -> &AtomicI64 {
        &self.guard.keyspace.dbs[self.db].volatile
    }

    fn note_expired(&self, n: usize) {
        self.guard
            .keyspace
            .expired_keys
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    fn account(&self, old: Option<u64>, new: Option<u64>) {
        let delta = new.is_some() as i64 - old.is_some() as i64;
        if delta != 0 {
            self.volatile().fetch_add(delta, Ordering::Relaxed);
        }
    }

    /// Removes `key` if it has expired. Returns whether it is (still) present.
    fn expire_if_needed(&mut self, hash: u64, key: &[u8]) -> bool {
        let now = self.now_ms;
        let shard = self.guard.shard(self.db, hash);
        match shard.get(hash, key) {
            None => false,
            Some(e) if e.is_expired(now) => {
                if let Some(old) = shard.remove(hash, key) {
                    self.account(old.expires_at, None);
                    self.note_expired(1);
                }
                false
            }
            Some(_) => true,
        }
    }

    /// The live entry for `key`.
    pub fn get(&mut self, key: &[u8]) -> Option<&Entry> {
        let hash = self.guard.keyspace.hash(key);
        if !self.expire_if_needed(hash, key) {
            return None;
        }
        self.guard.shard(self.db, hash).get(hash, key)
    }

    /// The live entry for `key`, borrowed shared so several keys can be read
    /// at once (ZUNION, ZINTER, ...). Unlike [`DbView::get`] it leaves an
    /// expired key in place, so callers `get` each key first to expire it.
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        let hash = self.guard.keyspace.hash(key);
        self.guard
            .shard_ref(self.db, hash)?
            .get(hash, key)
            .filter(|e| !e.is_expired(self.now_ms))
    }

    /// The live value for `key`, to change in place. Its TTL stays as it is.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        let hash = self.guard.keyspace.hash(key);
        if !self.expire_if_needed(hash, key) {
            return None;
        }
        self.guard
            .shard(self.db, hash)
            .get_mut(hash, key)
            .map(|e| &mut e.value)
    }

    pub fn contains(&mut self, key: &[u8]) -> bool {
        let hash = self.guard.keyspace.hash(key);
        self.expire_if_needed(hash, key)
    }

    /// Sets `key` to `value` with the given expiry, replacing whatever was
    /// there (and its TTL). Returns the live entry it replaced.
    pub fn set(&mut self, key: &[u8], value: Value, expires_at: Option<u64>) -> Option<Entry> {
        let hash = self.guard.keyspace.hash(key);
        let hasher = &self.guard.keyspace.hasher;
        let now = self.now_ms;
        let db = self.db;
        let old = self
            .guard
            .shard(db, hash)
            .insert(hasher, hash, key, Entry { value, expires_at });
        self.account(old.as_ref().and_then(|e| e.expires_at), expires_at);
        old.filter(|e| !e.is_expired(now))
    }

    /// Removes `key`, returning its live entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let hash = self.guard.keyspace.hash(key);
        let now = self.now_ms;
        let old = self.guard.shard(self.db, hash).remove(hash, key)?;
        self.account(old.expires_at, None);
        (!old.is_expired(now)).then_some(old)
    }

    /// Sets or clears the TTL of a live key. Returns false if there is no such key.
    pub fn set_expiry(&mut self, key: &[u8], expires_at: Option<u64>) -> bool {
        let hash = self.guard.keyspace.hash(key);
        if !self.expire_if_needed(hash, key) {
            return false;
        }
        let Some(entry) = self.guard.shard(self.db, hash).get_mut(hash, key) else {
            return false;
        };
        let old = std::mem::replace(&mut entry.expires_at, expires_at);
        self.account(old, expires_at);
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
    pub fn for_each_live(&mut self, mut f: impl FnMut(&Key, &Entry)) {
        let now = self.now_ms;
        for (_, shard) in self.guard.db_shards(self.db) {
            shard.for_each(|k, e| {
                if !e.is_expired(now) {
                    f(k, e)
                }
            });
        }
    }

    /// Visits the live entries of one shard.
    pub fn for_each_live_in_shard(&mut self, shard: usize, mut f: impl FnMut(&Key, &Entry)) {
        let now = self.now_ms;
        if let Some((_, s)) = self.guard.db_shards(self.db).find(|(i, _)| *i == shard) {
            s.for_each(|k, e| {
                if !e.is_expired(now) {
                    f(k, e)
                }
            });
        }
    }

    /// Removes every key of this database; returns the removed tables so the
    /// caller may free them elsewhere (FLUSHDB ASYNC).
    pub fn clear(&mut self) -> Vec<shard::Table> {
        let tables = self
            .guard
            .db_shards(self.db)
            .map(|(_, s)| s.take())
            .collect();
        self.volatile().store(0, Ordering::Relaxed);
        tables
    }

    /// Removes the expired keys of the locked shards (used by active expiry).
    pub fn remove_expired_in_shard(&mut self, shard: usize) -> usize {
        let now = self.now_ms;
        let Some((_, s)) = self.guard.db_shards(self.db).find(|(i, _)| *i == shard) else {
            return 0;
        };
        let removed = s.extract_if(|_, e| e.is_expired(now));
        let n = removed.len();
        self.volatile().fetch_sub(n as i64, Ordering::Relaxed);
        self.note_expired(n);
        n
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.guard.keyspace.hash(key)
    }
}

impl<'k> Guard<'k> {
    /// Swaps the contents of two whole databases (SWAPDB). Both must be locked entirely.
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        if a == b {
            return;
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
        let ks = self.keyspace;
        let va = ks.dbs[a].volatile.load(Ordering::Relaxed);
        let vb = ks.dbs[b].volatile.swap(va, Ordering::Relaxed);
        ks.dbs[a].volatile.store(vb, Ordering::Relaxed);
    }
}
