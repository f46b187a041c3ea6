//! `maxmemory`: Redis's evict.c. Before a command runs (and before it takes
//! its own locks) [`before_command`] checks `used_memory` against the limit
//! and, under an eviction policy, evicts keys until it fits; under
//! `noeviction`, or when nothing is left to evict, commands flagged
//! `denyoom` are refused with the OOM error.
//!
//! The choice of keys is Redis's approximation: LRU, LFU and TTL policies
//! sample `maxmemory-samples` keys of every database into a pool of the 16
//! best candidates seen so far (kept between calls) and evict the best;
//! random policies take a random key of the next database in turn. A
//! sample is a run of buckets of one random shard, locked on its own; each
//! eviction locks the one shard of its key, so eviction never holds two
//! shard locks, and runs before the command locks anything. Work per call
//! is bounded by `maxmemory-eviction-tenacity`'s time limit; past it the
//! command goes ahead and eviction goes on in the background
//! ([`continue_evicting`], Redis's `evictionTimeProc`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::commands::{Command, Flags};
use crate::config::EvictionPolicy;
use crate::keyspace::{CommandClock, Entry, EntryRef, Key, Keyspace, LockSet};
use crate::protocol::Reply;
use crate::server::Server;

/// Redis's `shared.oomerr`.
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Redis's `EVPOOL_SIZE`.
const POOL_SIZE: usize = 16;

/// What [`perform_evictions`] achieved (Redis's `EVICT_OK`, `EVICT_RUNNING`,
/// `EVICT_FAIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Memory is under the limit (or there is none).
    Ok,
    /// Over the limit, but eviction goes on in the background.
    Running,
    /// Over the limit and nothing more could be evicted.
    Fail,
}

/// One candidate of the eviction pool: the higher `idle`, the better.
struct Candidate {
    idle: u64,
    db: usize,
    key: Key,
}

/// Eviction's state between calls.
#[derive(Default)]
pub struct Evictor {
    /// The eviction pool, best candidates last (Redis's `EvictionPoolLRU`).
    /// Its lock also makes evictions from several event loops take turns,
    /// as they would in Redis's one thread.
    pool: Mutex<Vec<Option<Candidate>>>,
    /// The database the random policies take from next.
    next_db: AtomicU64,
    /// Eviction goes on in the background (Redis's `isEvictionProcRunning`).
    running: AtomicBool,
    /// Since when memory has been over the limit after eviction (INFO
    /// `current_eviction_exceeded_time`).
    exceeded_since: Mutex<Option<Instant>>,
    /// Whether `exceeded_since` is set: commands under the limit read only this.
    exceeded: AtomicBool,
    /// Total time spent over the limit with eviction running, in ms
    /// (INFO `total_eviction_exceeded_time`).
    exceeded_ms: AtomicU64,
}

impl Evictor {
    /// INFO `total_eviction_exceeded_time` and `current_eviction_exceeded_time`, in ms.
    pub fn exceeded_times(&self) -> (u64, u64) {
        let current = self
            .exceeded_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map_or(0, |since| since.elapsed().as_millis() as u64);
        (self.exceeded_ms.load(Ordering::Relaxed) + current, current)
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.exceeded_ms.store(0, Ordering::Relaxed);
    }

    /// Notes whether memory is over the limit after an eviction attempt
    /// (Redis's `update_metrics` label).
    fn note_exceeded(&self, over: bool) {
        if over == self.exceeded.load(Ordering::Relaxed) {
            return;
        }
        let mut since = self
            .exceeded_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match (*since, over) {
            (None, true) => *since = Some(Instant::now()),
            (Some(start), false) => {
                self.exceeded_ms
                    .fetch_add(start.elapsed().as_millis() as u64, Ordering::Relaxed);
                *since = None;
            }
            _ => {}
        }
        // Set under the lock, from the state it leaves.
        self.exceeded.store(since.is_some(), Ordering::Relaxed);
    }
}

/// Redis's `freeMemoryGetNotCountedMemory`: what the replicas' outboxes
/// hold (the backlog, a fixed room, stays counted, as Redis counts the
/// backlog's size), which eviction must not try to free; and what killed
/// clients hold until their connections close, which Redis would have
/// freed already (`ClientMemory::release_killed`).
pub fn not_counted_for_evict(server: &Server) -> u64 {
    server.replication.replica_buffers() + server.clients.memory.held_by_killed() as u64
}

/// Redis's `getMaxmemoryState`: how many bytes to free to get under
/// `maxmemory`, None when under it (or there is no limit).
pub fn bytes_to_free(server: &Server) -> Option<u64> {
    let max = server.config.maxmemory();
    if max == 0 {
        return None;
    }
    let reported = crate::alloc::used_memory()?;
    if reported <= max {
        return None;
    }
    let used = reported.saturating_sub(not_counted_for_evict(server));
    (used > max).then(|| used - max)
}

/// What the dispatcher asks before every command (Redis's `processCommand`
/// with `maxmemory` set): evict as needed, then refuse the command when
/// memory is still over the limit and it may grow it (`denyoom`, or EXEC of
/// a transaction holding one), or it would be queued in MULTI (queuing may
/// grow memory without bound). Call it holding no shard lock.
pub fn before_command(
    server: &Server,
    client: &Client,
    cmd: &Command,
    args: &[&[u8]],
) -> Option<Reply> {
    if server.config.maxmemory() == 0 {
        return None;
    }
    let out_of_memory = perform_evictions(server) == Outcome::Fail;
    if !out_of_memory {
        return None;
    }
    let queued = client.in_multi()
        && !matches!(
            cmd.name.as_str(),
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        );
    let denyoom =
        crate::commands::any_runs(server, client, cmd, args, |f| f.contains(Flags::DENYOOM));
    (denyoom || queued).then(|| Reply::error(OOM_ERROR))
}

/// Whether memory is over `maxmemory` now, without evicting: what a script
/// checks for its `denyoom` calls (Redis's `server.script_oom`).
pub fn over_maxmemory(server: &Server) -> bool {
    bytes_to_free(server).is_some()
}

/// Redis's `evictionTimeLimitUs`: how long one call may evict, by
/// `maxmemory-eviction-tenacity` (None: no limit).
fn time_limit(tenacity: u32) -> Option<Duration> {
    match tenacity {
        0..=10 => Some(Duration::from_micros(50 * u64::from(tenacity))),
        11..=99 => Some(Duration::from_micros(
            (500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64,
        )),
        _ => None,
    }
}

/// Redis's `performEvictions`: evicts keys by `maxmemory-policy` until
/// memory is under `maxmemory`, nothing is left to evict, or the time limit
/// passes (then eviction goes on in the background and the command may run).
pub fn perform_evictions(server: &Server) -> Outcome {
    let Some(to_free) = bytes_to_free(server) else {
        server.evictor.note_exceeded(false);
        return Outcome::Ok;
    };
    let config = &server.config;
    let policy = config.eviction_policy();
    let mut outcome = Outcome::Fail;
    if policy != EvictionPolicy::NoEviction {
        outcome = evict_until(server, policy, to_free);
    }
    if outcome == Outcome::Fail && crate::lazyfree::pending_objects() > 0 {
        // Nothing left to evict, but the lazyfree thread is still freeing
        // what was: give it a moment, as Redis does.
        let wait =
            time_limit(config.maxmemory_eviction_tenacity()).unwrap_or(Duration::from_millis(1));
        std::thread::sleep(wait);
        if bytes_to_free(server).is_none() {
            outcome = Outcome::Ok;
        }
    }
    server.evictor.note_exceeded(outcome != Outcome::Ok);
    outcome
}

/// The eviction loop of [`perform_evictions`].
fn evict_until(server: &Server, policy: EvictionPolicy, to_free: u64) -> Outcome {
    let config = &server.config;
    let lazy = config.lazyfree_lazy_eviction();
    let limit = time_limit(config.maxmemory_eviction_tenacity());
    let started = Instant::now();
    let mut pool = server
        .evictor
        .pool
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if pool.len() != POOL_SIZE {
        pool.clear();
        pool.resize_with(POOL_SIZE, || None);
    }
    let (mut freed, mut keys_freed) = (0u64, 0u64);
    while freed < to_free {
        let evicted = match policy {
            EvictionPolicy::AllkeysRandom | EvictionPolicy::VolatileRandom => {
                evict_random(server, policy.volatile_only(), lazy)
            }
            _ => evict_from_pool(server, &mut pool, policy, lazy),
        };
        let Some(Evicted { entry, key_cost }) = evicted else {
            return Outcome::Fail;
        };
        // Freed here, shard unlocked, so the memory it held is measured;
        // under lazyfree-lazy-eviction big values go to the lazyfree thread.
        // Only the deletion counts, as Redis measures only `dbDelete`: the
        // value's freeing here and the key's share of the shard. What the
        // eviction's DEL propagation and the invalidation messages to
        // tracking clients allocated as the shard was unlocked (which may
        // still hold the key's bytes) is not set against it, or the
        // messages of the keys evicted would have more keys evicted.
        let before = crate::alloc::used_memory().unwrap_or(0);
        if lazy {
            crate::lazyfree::free_value(entry.value, true);
        } else {
            drop(entry);
        }
        let after = crate::alloc::used_memory().unwrap_or(0);
        freed += (key_cost as u64) + before.saturating_sub(after);
        keys_freed += 1;
        if keys_freed % 16 == 0 {
            // Lazily freed memory does not show in `freed`: look again.
            if lazy && bytes_to_free(server).is_none() {
                break;
            }
            if limit.is_some_and(|limit| started.elapsed() > limit) {
                server.evictor.running.store(true, Ordering::Relaxed);
                break;
            }
        }
    }
    if server.evictor.running.load(Ordering::Relaxed) {
        Outcome::Running
    } else {
        Outcome::Ok
    }
}

/// Keeps evicting in the background while a call ran out of time (Redis's
/// `evictionTimeProc`): the server cron calls it every tick, and it runs
/// until memory fits, letting the loop's clients in between calls.
pub async fn continue_evicting(server: Arc<Server>) {
    while server.evictor.running.load(Ordering::Relaxed) {
        server.evictor.running.store(false, Ordering::Relaxed);
        if perform_evictions(&server) != Outcome::Running {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// Whether a background eviction should be started (see [`continue_evicting`]).
pub fn running(server: &Server) -> bool {
    server.evictor.running.load(Ordering::Relaxed)
}

/// Keys eviction may take from database `db` under `volatile_only`.
fn candidates(keyspace: &Keyspace, db: usize, volatile_only: bool) -> usize {
    if volatile_only {
        keyspace.db_volatile(db)
    } else {
        keyspace.db_keys(db)
    }
}

/// An LRU, LFU or TTL eviction: refills the pool until it holds a key that
/// still exists, then evicts the best one.
fn evict_from_pool(
    server: &Server,
    pool: &mut [Option<Candidate>],
    policy: EvictionPolicy,
    lazy: bool,
) -> Option<Evicted> {
    let keyspace = &server.keyspace;
    let volatile_only = policy.volatile_only();
    loop {
        let score = Score::now(server, policy);
        let mut total = 0;
        for db in 0..keyspace.databases() {
            let keys = candidates(keyspace, db, volatile_only);
            if keys > 0 {
                populate(server, db, &score, pool);
                total += keys;
            }
        }
        if total == 0 {
            return None;
        }
        // The best candidate is last; those no longer there are skipped
        // (ghosts), as Redis does.
        let mut tried = false;
        for slot in pool.iter_mut().rev() {
            let Some(best) = slot.take() else {
                continue;
            };
            tried = true;
            // Only if it is still as good as when it was sampled: a key
            // used since then is left (Redis evicts it all the same, so a
            // key read while it waited in the pool was lost).
            let still_best = |entry: EntryRef<'_>| score.of(entry) >= best.idle;
            let (db, key) = (best.db, &best.key);
            if let Some(entry) = evict_key(keyspace, db, key, volatile_only, lazy, still_best) {
                return Some(entry);
            }
        }
        if !tried {
            // The counts said there were keys, but sampling found none
            // (they went meanwhile): nothing to evict this time.
            return None;
        }
    }
}

/// A random eviction: a random key of the next database that has one.
fn evict_random(server: &Server, volatile_only: bool, lazy: bool) -> Option<Evicted> {
    let keyspace = &server.keyspace;
    let dbs = keyspace.databases() as u64;
    for _ in 0..dbs {
        let db = (server.evictor.next_db.fetch_add(1, Ordering::Relaxed) % dbs) as usize;
        if candidates(keyspace, db, volatile_only) == 0 {
            continue;
        }
        let mut picked = None;
        sample(keyspace, db, 1, volatile_only, |key, _| {
            picked = Some(key.clone());
        });
        if let Some(key) = picked {
            if let Some(entry) = evict_key(keyspace, db, &key, volatile_only, lazy, |_| true) {
                return Some(entry);
            }
        }
    }
    None
}

/// Visits up to `count` keys of database `db` (with a TTL when
/// `volatile_only`) from a random place: a random shard, from a random
/// bucket, going on to the next shards while there are fewer (Redis's
/// `dictGetSomeKeys`). Each shard is locked on its own.
fn sample(
    keyspace: &Keyspace,
    db: usize,
    count: usize,
    volatile_only: bool,
    mut visit: impl FnMut(&Key, EntryRef<'_>),
) {
    let shards = keyspace.shards_per_db();
    let first = rand::random::<u32>() as usize % shards;
    let mut taken = 0;
    for i in 0..shards {
        let shard = (first + i) % shards;
        let mut set = LockSet::new();
        set.add_shard(db, shard);
        let mut guard = keyspace.lock(set);
        let clock = CommandClock::default();
        let start = rand::random::<u32>() as usize;
        taken += guard.db(db, &clock).sample_shard(
            shard,
            start,
            count - taken,
            volatile_only,
            &mut visit,
        );
        if taken == count {
            return;
        }
    }
}

/// Redis's `evictionPoolPopulate`: samples `maxmemory-samples` keys of
/// database `db` and inserts those better than the pool's worst by
/// `score`, keeping it sorted by `idle` ascending.
fn populate(server: &Server, db: usize, score: &Score, pool: &mut [Option<Candidate>]) {
    let samples = server.config.maxmemory_samples() as usize;
    let mut sampled = Vec::with_capacity(samples);
    sample(
        &server.keyspace,
        db,
        samples,
        score.policy.volatile_only(),
        |key, entry| sampled.push((score.of(entry), key.clone())),
    );
    for (idle, key) in sampled {
        insert(pool, Candidate { idle, db, key });
    }
}

/// How good an eviction candidate is under a pool policy, at one moment:
/// the higher, the better (Redis's `idle` in the pool).
struct Score {
    policy: EvictionPolicy,
    now_ms: u64,
    decay_minutes: u32,
}

impl Score {
    fn now(server: &Server, policy: EvictionPolicy) -> Score {
        Score {
            policy,
            now_ms: server.keyspace.lru_clock.now_ms(),
            decay_minutes: server.config.lfu_decay_time(),
        }
    }

    fn of(&self, entry: EntryRef<'_>) -> u64 {
        if self.policy.is_lru() {
            entry.access.idle_ticks(self.now_ms)
        } else if self.policy.is_lfu() {
            // The least used first, and of those the longest idle.
            let rarity = 255 - u64::from(entry.access.frequency(self.now_ms, self.decay_minutes));
            rarity << 32 | entry.access.idle_ticks(self.now_ms)
        } else {
            // volatile-ttl: the sooner it expires, the better.
            u64::MAX - entry.expires_at().unwrap_or(u64::MAX)
        }
    }
}

/// Inserts a candidate into the sorted pool as Redis does: after the
/// candidates with a lower `idle`; into a free slot, or shifting the rest
/// right when the end is free, or dropping the worst (first) one; not at
/// all when the pool is full and it is worse than all of them.
fn insert(pool: &mut [Option<Candidate>], candidate: Candidate) {
    let size = pool.len();
    let mut k = 0;
    while k < size && pool[k].as_ref().is_some_and(|c| c.idle < candidate.idle) {
        k += 1;
    }
    if k == 0 && pool[size - 1].is_some() {
        return;
    }
    if k < size && pool[k].is_none() {
        // A free slot right there.
    } else if pool[size - 1].is_none() {
        pool[k..].rotate_right(1);
    } else {
        k -= 1;
        pool[..=k].rotate_left(1);
    }
    pool[k] = Some(candidate);
}

/// A key evicted: its entry, to be freed once its shard is unlocked, and
/// what its name and slot took in the shard (freed with the removal).
struct Evicted {
    entry: Entry,
    key_cost: usize,
}

/// Evicts one key, locking only its shard, if it still has a TTL under
/// `volatile_only` and `still_good` says it may go.
fn evict_key(
    keyspace: &Keyspace,
    db: usize,
    key: &[u8],
    volatile_only: bool,
    lazy: bool,
    still_good: impl FnOnce(EntryRef<'_>) -> bool,
) -> Option<Evicted> {
    let mut set = LockSet::new();
    set.add_key(keyspace, db, key);
    let mut guard = keyspace.lock(set).without_multi();
    let clock = CommandClock::default();
    let evictable =
        |entry: EntryRef<'_>| (!volatile_only || entry.expires_at().is_some()) && still_good(entry);
    let entry = guard.db(db, &clock).evict(key, lazy, evictable);
    guard.release();
    Some(Evicted {
        entry: entry?,
        key_cost: crate::keyspace::key_cost(key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pool: &[Option<Candidate>]) -> Vec<Option<u64>> {
        pool.iter().map(|c| c.as_ref().map(|c| c.idle)).collect()
    }

    fn candidate(idle: u64) -> Candidate {
        Candidate {
            idle,
            db: 0,
            key: Key::from(&b"k"[..]),
        }
    }

    #[test]
    fn the_pool_keeps_the_best_candidates_sorted() {
        let mut pool: Vec<Option<Candidate>> = (0..4).map(|_| None).collect();
        for idle in [5, 1, 9, 3] {
            insert(&mut pool, candidate(idle));
        }
        assert_eq!(keys(&pool), [Some(1), Some(3), Some(5), Some(9)]);
        // Full: a worse one than all is not taken; a better one drops the worst.
        insert(&mut pool, candidate(0));
        assert_eq!(keys(&pool), [Some(1), Some(3), Some(5), Some(9)]);
        insert(&mut pool, candidate(7));
        assert_eq!(keys(&pool), [Some(3), Some(5), Some(7), Some(9)]);
        insert(&mut pool, candidate(10));
        assert_eq!(keys(&pool), [Some(5), Some(7), Some(9), Some(10)]);
        // A slot freed by an eviction is refilled in order.
        pool[3] = None;
        insert(&mut pool, candidate(6));
        assert_eq!(keys(&pool), [Some(5), Some(6), Some(7), Some(9)]);
    }

    #[test]
    fn the_time_limit_follows_tenacity_as_in_redis() {
        assert_eq!(time_limit(0), Some(Duration::ZERO));
        assert_eq!(time_limit(10), Some(Duration::from_micros(500)));
        assert_eq!(time_limit(11), Some(Duration::from_micros(575)));
        assert_eq!(time_limit(100), None);
    }
}
