//! Active expiry: reclaims expired keys that nobody reads.
//!
//! Lazy expiry (in [`super::DbView`]) hides an expired key the moment it is
//! touched; this background cycle frees the memory of the rest. Like Redis's
//! `activeExpireCycle` it runs `hz` times a second within a CPU budget of 25%
//! of each tick, and skips databases without volatile keys. Instead of random
//! sampling it sweeps one shard at a time round-robin, holding only that
//! shard's lock, so clients never wait for more than one shard's sweep.
//! Like Redis, it goes on only while sweeping pays: past a few shards per
//! tick, it stops once a shard had few expired keys, so a big database with
//! a handful of TTLs costs almost nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Keyspace, LockSet};
use crate::config::Config;
use crate::lazyfree;
use crate::util::now_ms;

/// Starts the cycle on its own thread (it is CPU work, not async work).
pub fn spawn_active_expiry(keyspace: Arc<Keyspace>, config: Arc<Config>) {
    let spawned = std::thread::Builder::new()
        .name("active-expiry".into())
        .spawn(move || {
            let mut cursors = vec![0usize; keyspace.databases()];
            loop {
                let hz = u64::from(config.hz()).clamp(1, 500);
                let tick = Duration::from_millis(1000 / hz);
                let budget = tick / 4;
                let started = Instant::now();
                for (db, cursor) in cursors.iter_mut().enumerate() {
                    sweep(&keyspace, db, cursor, started, budget);
                }
                std::thread::sleep(tick.saturating_sub(started.elapsed()));
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the active expiry thread: {e}");
    }
}

/// Shards swept per database and tick however few keys expire: with 256
/// shards and `hz 10`, every key is looked at within 1.6 s.
const MIN_SHARDS_PER_TICK: usize = 16;

/// Redis's `ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE`: the sweep goes on past
/// [`MIN_SHARDS_PER_TICK`] only while more than this percentage of a shard's
/// share of the volatile keys had expired.
const ACCEPTABLE_STALE_PERCENT: usize = 10;

/// Sweeps shards of `db` from `cursor` until one full round is done, the
/// budget is spent, or (past the minimum) a shard had few expired keys.
fn sweep(keyspace: &Keyspace, db: usize, cursor: &mut usize, started: Instant, budget: Duration) {
    let shards = keyspace.shards_per_db();
    for swept in 0..shards {
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
        let removed = guard.db(db, now_ms()).remove_expired_in_shard(*cursor);
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
        if swept + 1 >= MIN_SHARDS_PER_TICK && expired * 100 <= share * ACCEPTABLE_STALE_PERCENT {
            return;
        }
    }
}
