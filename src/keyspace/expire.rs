//! Active expiry: reclaims expired keys that nobody reads.
//!
//! Lazy expiry (in [`super::DbView`]) hides an expired key the moment it is
//! touched; this cycle frees the memory of the rest. Like Redis's
//! `activeExpireCycle` it runs on the (first) event loop `hz` times a second
//! within a CPU budget of 25% of each tick, and skips databases without
//! volatile keys. Instead of random sampling it sweeps one shard at a time
//! round-robin, holding only that shard's lock, and it lets the loop's clients
//! in every millisecond, where Redis runs its whole slow cycle (up to 25 ms)
//! in one go. On its own thread it competed with the loops for the CPU and,
//! when descheduled while holding a shard lock, made that shard's clients wait
//! for the scheduler (BENCHMARKS.md, `prefetch`).
//! Like Redis, it goes on only while sweeping pays: past a few shards per
//! tick, it stops once a shard had few expired keys, so a big database with
//! a handful of TTLs costs almost nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{CommandClock, Keyspace, LockSet};
use crate::config::Config;
use crate::lazyfree;

/// Starts the cycle as a task of the current (the first) event loop. Each
/// tick also refreshes the keyspace's [`super::LruClock`] (Redis's cron
/// refreshes its LRU clock alike).
pub fn spawn_active_expiry(keyspace: Arc<Keyspace>, config: Arc<Config>) {
    tokio::spawn(async move {
        let mut cursors = vec![0usize; keyspace.databases()];
        loop {
            let hz = u64::from(config.hz()).clamp(1, 500);
            let tick = Duration::from_millis(1000 / hz);
            let budget = tick / 4;
            let started = Instant::now();
            keyspace.lru_clock.refresh();
            let least = min_shards_per_tick(keyspace.shards_per_db(), hz);
            if keyspace.active_expiry.enabled() {
                for (db, cursor) in cursors.iter_mut().enumerate() {
                    sweep(&keyspace, db, cursor, least, started, budget).await;
                }
            }
            tokio::time::sleep(tick.saturating_sub(started.elapsed())).await;
        }
    });
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
/// its keys, so not shorter than needed.
const ROUND: Duration = Duration::from_millis(750);

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
        let mut guard = keyspace.lock(set);
        let removed = guard
            .db(db, &CommandClock::default())
            .remove_expired_in_shard(*cursor);
        // Unlock before freeing: the shard's clients wait for the sweep, not
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
