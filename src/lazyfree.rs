//! Background freeing: Redis's bio lazyfree thread.
//!
//! Dropping a big collection (a set of a million members) or a flushed
//! database frees millions of allocations, tens of milliseconds on whichever
//! thread does it. Done by a command, that is under the command's shard locks
//! and on a tokio worker, so every client of those shards, and every client
//! queued behind the command on that worker, waits. Instead the command hands
//! the value to one background thread (a channel send) and answers at once,
//! as Redis's `bioCreateLazyFreeJob` does.
//!
//! INFO's `lazyfree_pending_objects` and `lazyfreed_objects` count what Redis
//! counts: one object per value UNLINK (or DEL with `lazyfree-lazy-user-del`)
//! frees in the background, one per key of a database flushed ASYNC. We also
//! free big values DEL removes in the background, which a client cannot tell
//! apart from Redis's synchronous free except by the missing stall, so those
//! are not counted; nor are the keys active expiry reclaims, which it hands
//! over once it has unlocked their shard.
//!
//! Freed memory goes back to the system through jemalloc's background thread,
//! which reddish-server turns on as Redis does (`jemalloc-bg-thread yes`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

use crate::keyspace::Value;
use crate::types::hash::Hash;
use crate::types::set::Set;
use crate::types::zset::ZSet;

/// Redis's `LAZYFREE_THRESHOLD`: a value whose free effort is at most this is
/// freed on the spot, handing it over would cost more than freeing it.
const THRESHOLD: usize = 64;

/// Objects handed over and not yet freed (INFO `lazyfree_pending_objects`).
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Objects freed in the background (INFO `lazyfreed_objects`, reset by CONFIG RESETSTAT).
static FREED: AtomicU64 = AtomicU64::new(0);

/// Something to drop, and how many objects INFO counts it as.
struct Job {
    garbage: Box<dyn Send>,
    objects: u64,
}

/// The queue of the lazyfree thread, started on first use; None if no thread
/// could be started (everything is then freed on the spot).
fn queue() -> Option<&'static Sender<Job>> {
    static QUEUE: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (jobs, todo) = channel::<Job>();
            let spawned = std::thread::Builder::new()
                .name("lazyfree".into())
                .spawn(move || todo.iter().for_each(done));
            match spawned {
                Ok(_) => Some(jobs),
                Err(e) => {
                    tracing::error!("cannot start the lazyfree thread: {e}");
                    None
                }
            }
        })
        .as_ref()
}

/// Frees a job's garbage.
fn done(job: Job) {
    drop(job.garbage);
    PENDING.fetch_sub(job.objects, Ordering::Relaxed);
    FREED.fetch_add(job.objects, Ordering::Relaxed);
}

/// Drops `garbage` on the lazyfree thread. `objects` is what INFO counts it
/// as: 0 where Redis would have freed it synchronously.
pub fn free<T: Send + 'static>(garbage: T, objects: u64) {
    PENDING.fetch_add(objects, Ordering::Relaxed);
    let job = Job {
        garbage: Box::new(garbage),
        objects,
    };
    match queue() {
        Some(jobs) => {
            if let Err(unsent) = jobs.send(job) {
                done(unsent.0);
            }
        }
        None => {
            done(job);
        }
    }
}

/// Frees a removed value: in the background if it is big (Redis's
/// `freeObjAsync`), else here. `counted` says whether Redis would free it
/// lazily (UNLINK, `lazyfree-lazy-user-del`), and so count it in INFO.
pub fn free_value(value: Value, counted: bool) {
    if free_effort(&value) > THRESHOLD {
        free(value, counted.into());
    }
}

/// Redis's `lazyfreeGetFreeEffort`: roughly the allocations freeing `value`
/// takes. Compact encodings (intset, listpack, strings) are one allocation.
fn free_effort(value: &Value) -> usize {
    match value {
        Value::List(list) => list.nodes(),
        Value::Set(Set::Table(set)) => set.len(),
        Value::Hash(Hash::Table(hash)) => hash.len(),
        Value::ZSet(ZSet::Skiplist(zset)) => zset.len(),
        // Redis: the radix tree's nodes, one per group plus its PEL entries.
        Value::Stream(stream) => {
            stream.rax_nodes()
                + stream
                    .groups
                    .values()
                    .map(|g| g.pel.len() + 1)
                    .sum::<usize>()
        }
        _ => 1,
    }
}

/// INFO `lazyfree_pending_objects`.
pub fn pending_objects() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// INFO `lazyfreed_objects`.
pub fn freed_objects() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// CONFIG RESETSTAT (Redis's `lazyfreeResetStats`).
pub fn reset_stats() {
    FREED.store(0, Ordering::Relaxed);
}
