//! Active expiry: reclaims expired keys that nobody reads.
//!
//! Lazy expiry (in [`super::DbView`]) hides an expired key the moment it is
//! touched; this cycle frees the memory of the rest. Like Redis's
//! `activeExpireCycle` it runs in the server cron ([`crate::cron`]) on the
//! first event loop `hz` times a second
//! within a CPU budget of 25% of each tick, and skips databases without
//! volatile keys. Instead of random sampling it sweeps one shard at a time
//! round-robin, holding only that shard's lock, reading only the shard's
//! arrays of expiry times (see `shard.rs`: a chunk of keys without TTLs
//! costs a sweep nothing), and it lets the loop's clients in every
//! millisecond, where Redis runs its whole slow cycle (up to 25 ms)
//! in one go. On its own thread it competed with the loops for the CPU and,
//! when descheduled while holding a shard lock, made that shard's clients wait
//! for the scheduler (BENCHMARKS.md, `prefetch`).
//! Like Redis, it goes on only while sweeping pays: past a few shards per
//! tick, it stops once a shard had few expired keys, so a big database with
//! a handful of TTLs costs almost nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{CommandClock, Keyspace, LockSet};
use crate::lazyfree;

/// The active expiry cycle's place in each database, kept between the
/// cron's ticks (Redis's `activeExpireCycle` state).
pub struct ActiveExpiry {
    cursors: Vec<usize>,
}

impl ActiveExpiry {
    pub fn new(keyspace: &Keyspace) -> ActiveExpiry {
        ActiveExpiry {
            cursors: vec![0; keyspace.databases()],
        }
    }

    /// One tick's cycle at `hz` ticks a second, started at `started`: at
    /// most a quarter of the tick, yielding to the loop's clients every
    /// millisecond.
    pub async fn cycle(&mut self, keyspace: &Keyspace, hz: u64, started: Instant) {
        let budget = Duration::from_millis(1000 / hz.max(1)) / 4;
        let least = min_shards_per_tick(keyspace.shards_per_db(), hz);
        for (db, cursor) in self.cursors.iter_mut().enumerate() {
            // A database of few volatile keys is swept whole each tick: it
            // costs little, and its keys expire as soon as Redis's sampling
            // of its volatile keys would find them.
            let least = if keyspace.db_volatile(db) <= SMALL_DB_VOLATILE {
                keyspace.shards_per_db()
            } else {
                least
            };
            sweep(keyspace, db, cursor, least, started, budget).await;
        }
    }
}

/// Whether the cycle reclaims keys: DEBUG SET-ACTIVE-EXPIRE 0 turns it off
/// (Redis's `server.active_expire_enabled`), so tests can watch expired keys
/// stay in DBSIZE until something touches them. The LRU clock keeps ticking.
pub struct Switch(AtomicBool);

impl Default for Switch {
    fn default() -> Switch {
        Switch(AtomicBool::new(true))
    }
}

impl Switch {
    pub fn enabled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }
}

/// How long the cycle runs before it lets the event loop serve clients.
const SLICE: Duration = Duration::from_millis(1);

/// How long a round over every shard may take however few keys expire.
/// Redis samples its table of volatile keys, so a handful of them expire
/// within a tick or two of their time; a sweep finds a key only when it
/// reaches the key's shard, so the round must be short (Redis's suite
/// expects 500 ms keys gone within 2 s). Sweeping a shard costs a pass over
/// its volatile keys, so not shorter than needed.
const ROUND: Duration = Duration::from_millis(750);

/// Up to this many volatile keys a database is swept whole every tick (a
/// pass over this many expiry times takes well under a millisecond).
const SMALL_DB_VOLATILE: usize = 16_384;

/// Shards swept per database and tick however few keys expire, so a round
/// takes [`ROUND`] at `hz` ticks a second (37 of 256 shards at `hz 10`).
fn min_shards_per_tick(shards: usize, hz: u64) -> usize {
    let ticks_per_round = (ROUND.as_millis() as usize * hz as usize / 1000).max(1);
    shards.div_ceil(ticks_per_round)
}

/// Redis's `ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE`: the sweep goes on past
/// [`min_shards_per_tick`] only while more than this percentage of a shard's
/// share of the volatile keys had expired.
const ACCEPTABLE_STALE_PERCENT: usize = 10;

/// Sweeps shards of `db` from `cursor` until one full round is done, the
/// budget is spent, or (past the minimum) a shard had few expired keys.
async fn sweep(
    keyspace: &Keyspace,
    db: usize,
    cursor: &mut usize,
    least: usize,
    started: Instant,
    budget: Duration,
) {
    let shards = keyspace.shards_per_db();
    let mut slice = Instant::now();
    for swept in 0..shards {
        if slice.elapsed() >= SLICE {
            tokio::task::yield_now().await;
            slice = Instant::now();
        }
        let volatile = keyspace.db_volatile(db);
        if volatile == 0 {
            keyspace.clear_avg_ttl(db);
            return;
        }
        if started.elapsed() >= budget {
            return;
        }
        let mut set = LockSet::new();
        set.add_shard(db, *cursor);
        let mut guard = keyspace.lock(set).without_multi();
        let removed = guard
            .db(db, &CommandClock::default())
            .remove_expired_in_shard(*cursor);
        // Unlock (propagating the DELs) before freeing: the shard's clients wait for the sweep, not
        // for the allocator (a big expired collection frees millions of
        // allocations). The lazyfree thread frees them; Redis frees expired
        // keys synchronously, so INFO does not count them (0 objects).
        drop(guard);
        let expired = removed.len();
        if expired > 0 {
            lazyfree::free(removed, 0);
        }
        *cursor = (*cursor + 1) % shards;
        let share = volatile / shards;
        if swept + 1 >= least && expired * 100 <= share * ACCEPTABLE_STALE_PERCENT {
            return;
        }
    }
}

/// Redis's `slaveKeysWithExpire`: the keys a writable replica's own clients
/// left with a TTL, by name, with a bit per database holding one (the
/// first 64 databases, as Redis). A replica runs no active expiry for its
/// master's keys (the master's DELs remove those), so these are the only
/// keys it reclaims itself, in the cron ([`ReplicaKeys::expire`], Redis's
/// `expireSlaveKeys`).
#[derive(Default)]
pub struct ReplicaKeys(std::sync::Mutex<std::collections::HashMap<Vec<u8>, u64>>);

impl ReplicaKeys {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Vec<u8>, u64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Redis's `rememberSlaveKeyWithExpire`.
    pub fn remember(&self, db: usize, key: &[u8]) {
        if db < 64 {
            *self.map().entry(key.to_vec()).or_default() |= 1 << db;
        }
    }

    /// Redis's `forgetSlaveKeysWithExpire` (the data was replaced, or this
    /// server is a master again and expires every key itself).
    pub fn forget_all(&self) {
        self.map().clear();
    }

    /// Reclaims the remembered keys whose TTL passed; forgets those gone or
    /// without a TTL now.
    pub fn expire(&self, keyspace: &Keyspace) {
        let keys: Vec<(Vec<u8>, u64)> = self.map().iter().map(|(k, d)| (k.clone(), *d)).collect();
        let clock = CommandClock::default();
        for (key, dbs) in keys {
            let mut still = 0;
            for db in (0..64).filter(|db| dbs & (1 << db) != 0) {
                if db >= keyspace.databases() {
                    continue;
                }
                let mut set = LockSet::new();
                set.add_key(keyspace, db, &key);
                let mut guard = keyspace.lock(set);
                if guard.db(db, &clock).reclaim_if_expired(&key) == Some(false) {
                    still |= 1 << db;
                }
                guard.release();
            }
            let mut map = self.map();
            match still {
                0 => map.remove(&key),
                _ => map.insert(key, still),
            };
        }
    }
}
