//! Active expiry: reclaims expired keys that nobody reads.
//!
//! Lazy expiry (in [`super::DbView`]) hides an expired key the moment it is
//! touched; this background cycle frees the memory of the rest. Like Redis's
//! `activeExpireCycle` it runs `hz` times a second within a CPU budget of 25%
//! of each tick, and skips databases without volatile keys. Instead of random
//! sampling it sweeps one shard at a time round-robin, holding only that
//! shard's lock, so clients never wait for more than one shard's sweep.

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

/// Sweeps shards of `db` from `cursor` until one full round is done or the budget is spent.
fn sweep(keyspace: &Keyspace, db: usize, cursor: &mut usize, started: Instant, budget: Duration) {
    let shards = keyspace.shards_per_db();
    for _ in 0..shards {
        if keyspace.db_volatile(db) == 0 {
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
        // allocations). The lazyfree thread frees them. Effort 0: a trim
        // every 65,536 expired keys stalled clients (bench/stalls.py: 53
        // round trips over 10 ms in 5 rounds against 18 without), and Redis
        // frees expired keys synchronously, so INFO does not count them.
        drop(guard);
        if !removed.is_empty() {
            lazyfree::free(removed, 0);
        }
        *cursor = (*cursor + 1) % shards;
    }
}
