//! Client memory accounting and client eviction: Redis 7.0's
//! `getClientMemoryUsage` (CLIENT LIST's `qbuf`, `argv-mem`, `multi-mem`,
//! `omem`, `tot-mem`; INFO's `mem_clients_normal`,
//! `client_recent_max_input_buffer` and `..._output_buffer`) and
//! `maxmemory-clients` (`evictClients`: the biggest clients are closed until
//! the clients' memory is under the limit).
//!
//! Each connection publishes its buffers' sizes in its handle's
//! [`ClientMem`] (relaxed stores to its own handle, where its buffers
//! change: after a read, after a batch of replies, while it waits) and then
//! [`ClientMemory::account`]s itself: the server-wide sum moves only when
//! the client's figure changed, by one atomic add. So a command costs no
//! lock and no shared write. Pushes queued in a mailbox by other threads
//! (pub/sub messages, invalidations) are accounted by the pusher while client
//! eviction is on, so a client that does not read is evicted as the push
//! lands, as Redis updates the target's bucket when it writes to it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, Weak};

use crate::client::{Client, ClientHandle, ClientRegistry};
use crate::types::memory::alloc_size;

/// What a connection costs before any buffer: its two halves of state. An
/// idle client is accounted at this (tests/idle_connections.rs measures the
/// whole connection's RSS).
pub const CLIENT_BASE_BYTES: usize =
    std::mem::size_of::<ClientHandle>() + std::mem::size_of::<Client>();

/// Buffers up to this size (a request or reply of a few KB in flight) do not
/// move the server-wide sum: the client stays accounted at
/// [`CLIENT_BASE_BYTES`], so a busy connection whose small buffers come and
/// go at every request writes no shared counter. Client eviction's limit is
/// at least 128 KB, as in Redis, so what this leaves out never decides it.
pub const SMALL_BUFFERS: usize = 32 * 1024;

/// Redis's `CLIENTS_PEAK_MEM_USAGE_SLOTS`: the recent maxima cover 8 seconds.
const PEAK_SLOTS: usize = 8;

/// One client's buffer figures, published by its connection.
#[derive(Default)]
pub struct ClientMem {
    /// Unconsumed request bytes (`qbuf=`).
    pub qbuf: AtomicUsize,
    /// The query buffer's allocation (`qbuf` + `qbuf-free`).
    pub qbuf_room: AtomicUsize,
    /// The running command's argument bytes (`argv-mem=`), shown by the
    /// client's own CLIENT LIST / CLIENT INFO.
    pub argv: AtomicUsize,
    /// Queued MULTI commands and watched keys (Redis's `multiStateMemOverhead`).
    pub multi: AtomicUsize,
    /// The reply buffer's allocation (`rbs=`).
    pub reply_room: AtomicUsize,
    /// Replies already written that are still allocated in front of the
    /// reply buffer's unsent bytes, and the address those start at: the
    /// buffer's `capacity()` leaves them out (`connection::reply_room`).
    pub written_front: AtomicUsize,
    pub written_front_ends_at: AtomicUsize,
    /// Subscriptions and tracking prefixes (Redis's `pubsubMemOverhead` and
    /// the tracking rax's share).
    pub other: AtomicUsize,
    /// What the server-wide sum holds for this client.
    accounted: AtomicUsize,
    /// No longer a normal client (a replica link now, killed, or gone): not
    /// accounted.
    detached: AtomicBool,
    /// What it held when it was killed, counted in
    /// [`ClientMemory::held_by_killed`] until its connection closes.
    held_when_killed: AtomicUsize,
}

impl ClientMem {
    /// Taken out of the accounting (a replica link, evicted, gone).
    pub fn is_detached(&self) -> bool {
        self.detached.load(Ordering::Relaxed)
    }
}

impl ClientHandle {
    /// Redis's `getClientMemoryUsage`: every buffer and overhead of the
    /// client. The arguments (`argv-mem`) are views of the query buffer here,
    /// so its allocation counts them. The two buffers count as jemalloc's
    /// size classes hold them, as `used_memory` counts them (and Redis its
    /// buffers, `zmalloc_size`): a 3 MB reply buffer sits in a 3.5 MB
    /// class, and twenty clients' rounding, left out, took `used_memory`
    /// over `maxmemory` while the clients still looked under
    /// `maxmemory-clients` (unit/maxmemory's MGET client eviction test).
    pub fn total_memory(&self) -> usize {
        let m = &self.mem;
        let load = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        let allocated = |a: &AtomicUsize| alloc_size(load(a));
        CLIENT_BASE_BYTES
            + allocated(&m.qbuf_room)
            + load(&m.multi)
            + load(&m.other)
            + allocated(&m.reply_room).max(load(&self.reply_bytes))
            + load(&self.mailbox_bytes)
    }

    /// Accounts this client's current figures (see [`ClientMemory::account`]).
    pub fn account_memory(&self) {
        self.memory.account(self);
    }
}

impl Client {
    /// Publishes the sizes of the connection's buffers and of what its
    /// commands keep (transaction, watched keys, subscriptions, tracking
    /// prefixes), then accounts them. `input`: the request arriving as
    /// `RequestParser::progress` tells it (bytes still raw, bytes already
    /// arguments) and the query buffer's allocation; `reply_room`: the reply
    /// buffer's allocation.
    pub fn publish_memory(&self, input: ((usize, usize), usize), reply_room: usize) {
        let m = &self.handle.mem;
        let ((qbuf, argv), room) = input;
        m.qbuf.store(qbuf, Ordering::Relaxed);
        m.argv.store(argv, Ordering::Relaxed);
        m.qbuf_room.store(room, Ordering::Relaxed);
        m.reply_room.store(reply_room, Ordering::Relaxed);
        let watched = self.tx.watched.len() * WATCHED_KEY_BYTES + self.tx.watched_key_bytes;
        m.multi
            .store(self.tx.queued_bytes + watched, Ordering::Relaxed);
        m.other.store(
            self.subs.memory() + self.tracking_prefix_bytes,
            Ordering::Relaxed,
        );
        self.handle.account_memory();
    }

    /// Shows the running command as Redis's query buffer and `argv` show it
    /// while it runs (before CLIENT LIST / CLIENT INFO describe the client).
    pub fn publish_running(&self, args: &[&[u8]]) {
        let m = &self.handle.mem;
        m.qbuf.store(self.query_len, Ordering::Relaxed);
        m.argv
            .store(args.iter().map(|a| a.len()).sum(), Ordering::Relaxed);
    }
}

/// A watched key's entry in the client's list (the key's bytes counted apart).
const WATCHED_KEY_BYTES: usize = std::mem::size_of::<(usize, bytes::Bytes)>();

/// The memory of all normal and pub/sub clients, and client eviction.
pub struct ClientMemory {
    /// Sum of the clients' accounted figures (`mem_clients_normal`).
    normal: AtomicUsize,
    /// `maxmemory-clients` in bytes (0: no client eviction), Redis's
    /// `getClientEvictionLimit`, kept current by [`Self::set_limit`].
    limit: AtomicUsize,
    /// INFO `evicted_clients`.
    evicted: AtomicU64,
    /// What killed clients hold until their connections close
    /// ([`Self::release_killed`]).
    held_by_killed: AtomicUsize,
    /// One eviction at a time, so two threads over the limit together do
    /// not both close clients for the same excess.
    evicting: Mutex<()>,
    /// The biggest input and output buffers seen in each of the last
    /// seconds (Redis's `ClientsPeakMemInput` / `ClientsPeakMemOutput`).
    peak_input: [AtomicUsize; PEAK_SLOTS],
    peak_output: [AtomicUsize; PEAK_SLOTS],
    registry: Weak<ClientRegistry>,
}

impl ClientMemory {
    pub fn new(registry: Weak<ClientRegistry>) -> ClientMemory {
        ClientMemory {
            normal: AtomicUsize::new(0),
            limit: AtomicUsize::new(0),
            evicted: AtomicU64::new(0),
            held_by_killed: AtomicUsize::new(0),
            evicting: Mutex::new(()),
            peak_input: Default::default(),
            peak_output: Default::default(),
            registry,
        }
    }

    /// `mem_clients_normal`.
    pub fn normal(&self) -> usize {
        self.normal.load(Ordering::Relaxed)
    }

    /// INFO `evicted_clients`.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.evicted.store(0, Ordering::Relaxed);
    }

    /// Client eviction is on.
    pub fn evicting_clients(&self) -> bool {
        self.limit.load(Ordering::Relaxed) != 0
    }

    /// Takes `maxmemory-clients` (and `maxmemory`, for a percentage) as
    /// configured, then evicts at once if the clients are over the new
    /// limit, as Redis's CONFIG SET does.
    pub fn set_limit(&self, config: &crate::config::Config) {
        self.limit.store(eviction_limit(config), Ordering::Relaxed);
        self.evict();
    }

    /// Puts the client's current figure in the server-wide sum (Redis's
    /// `updateClientMemUsageAndBucket`), evicting clients if that takes the
    /// sum over the limit. Safe from any thread: the swap keeps the sum equal
    /// to the clients' accounted figures whoever accounts last.
    pub fn account(&self, handle: &ClientHandle) {
        let m = &handle.mem;
        if m.detached.load(Ordering::Relaxed) {
            return;
        }
        let full = handle.total_memory();
        let value = if full <= CLIENT_BASE_BYTES + SMALL_BUFFERS {
            CLIENT_BASE_BYTES
        } else {
            full
        };
        if m.accounted.load(Ordering::Relaxed) == value {
            return;
        }
        let old = m.accounted.swap(value, Ordering::Relaxed);
        self.normal
            .fetch_add(value.wrapping_sub(old), Ordering::Relaxed);
        if value > old {
            self.evict();
        }
    }

    /// Takes the client out of the sum for good: it is gone (its buffers
    /// freed, so what it held when killed stops being set apart too), or it
    /// became a replica link, whose memory Redis counts apart
    /// (`mem_clients_slaves`).
    pub fn detach(&self, handle: &ClientHandle) {
        handle.mem.detached.store(true, Ordering::Relaxed);
        self.unaccount(handle);
        let held = handle.mem.held_when_killed.swap(0, Ordering::Relaxed);
        self.held_by_killed.fetch_sub(held, Ordering::Relaxed);
    }

    /// A client was just killed (client eviction, an output buffer limit,
    /// CLIENT KILL): Redis frees it then and there (`freeClient`), so its
    /// memory stops counting for `maxmemory-clients` and for `maxmemory`
    /// before the command that killed it, or the next one, evicts keys.
    /// Its buffers belong to its connection task, which frees them when it
    /// next runs (on this loop, once the running batch yields; a request
    /// already read may run before that): until then they leave the sum
    /// and are set apart in [`Self::held_by_killed`], which key eviction
    /// does not count. A replica link, counted apart already, is left as is.
    pub fn release_killed(&self, handle: &ClientHandle) {
        if handle.mem.detached.swap(true, Ordering::Relaxed) {
            return;
        }
        self.unaccount(handle);
        let held = handle.total_memory();
        handle.mem.held_when_killed.store(held, Ordering::Relaxed);
        self.held_by_killed.fetch_add(held, Ordering::Relaxed);
    }

    /// Bytes that killed clients still hold until their connections close
    /// (part of `mem_not_counted_for_evict`, see [`Self::release_killed`]).
    pub fn held_by_killed(&self) -> usize {
        self.held_by_killed.load(Ordering::Relaxed)
    }

    fn unaccount(&self, handle: &ClientHandle) {
        let old = handle.mem.accounted.swap(0, Ordering::Relaxed);
        self.normal.fetch_sub(old, Ordering::Relaxed);
    }

    /// Redis's `evictClients`: while the clients' memory is at or over the
    /// limit, closes the client that uses the most (Redis takes them from
    /// its top memory bucket down; exact order is the same up to a bucket).
    /// Replica links, the master link and CLIENT NO-EVICT clients stay.
    pub fn evict(&self) {
        let limit = self.limit.load(Ordering::Relaxed);
        if limit == 0 || self.normal() < limit {
            return;
        }
        let _one_at_a_time = self.evicting.lock().unwrap_or_else(|e| e.into_inner());
        let Some(registry) = self.registry.upgrade() else {
            return;
        };
        let mut candidates: Vec<_> = registry
            .all()
            .into_iter()
            .filter(|h| !h.is_killed() && h.evictable())
            .map(|h| (h.mem.accounted.load(Ordering::Relaxed), h))
            .collect();
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
        let mut candidates = candidates.into_iter();
        while self.normal() >= limit {
            let Some((_, handle)) = candidates.next() else {
                tracing::warn!("Over client maxmemory after evicting all evictable clients");
                break;
            };
            tracing::info!("Evicting client: {}", handle.describe());
            handle.kill();
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Redis's `clientsCronTrackExpansiveClients`, for every client once a
    /// second from the cron: the biggest input (query buffer, the arguments
    /// in it) and output (pending replies) this second.
    pub fn sample_peaks(&self, clients: &[std::sync::Arc<ClientHandle>]) {
        let slot = (crate::util::now_ms() / 1000) as usize % PEAK_SLOTS;
        let next = (slot + 1) % PEAK_SLOTS;
        self.peak_input[next].store(0, Ordering::Relaxed);
        self.peak_output[next].store(0, Ordering::Relaxed);
        for handle in clients {
            let m = &handle.mem;
            let input = m.qbuf_room.load(Ordering::Relaxed);
            self.peak_input[slot].fetch_max(input, Ordering::Relaxed);
            self.peak_output[slot].fetch_max(handle.output_bytes(), Ordering::Relaxed);
        }
    }

    /// INFO's `client_recent_max_input_buffer` and `..._output_buffer`.
    pub fn recent_peaks(&self) -> (usize, usize) {
        let max = |slots: &[AtomicUsize; PEAK_SLOTS]| {
            slots
                .iter()
                .map(|s| s.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0)
        };
        (max(&self.peak_input), max(&self.peak_output))
    }
}

/// Redis's `getClientEvictionLimit`: `maxmemory-clients` in bytes, or its
/// percentage of `maxmemory` (none while `maxmemory` is 0), never under
/// 128 KB so that a tiny setting still lets clients talk; 0 when off.
pub fn eviction_limit(config: &crate::config::Config) -> usize {
    let setting = config.maxmemory_clients();
    let bytes = if setting < 0 {
        let maxmemory = config.maxmemory();
        if maxmemory == 0 {
            return 0;
        }
        (maxmemory as f64 * -(setting as f64) / 100.0) as usize
    } else if setting > 0 {
        usize::try_from(setting).unwrap_or(usize::MAX)
    } else {
        return 0;
    };
    bytes.max(128 * 1024)
}
