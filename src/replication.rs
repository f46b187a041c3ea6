//! The master side of replication: replicas that attach with SYNC or PSYNC
//! get a full resynchronisation and then the propagation stream (Redis's
//! `replicationFeedSlaves`), byte for byte as Redis 7.0 writes it, PINGs
//! included. The replica side (REPLICAOF) is in [`crate::replica`].
//!
//! The snapshot is the RDB file of the whole dataset, from a fork-less
//! background snapshot (`keyspace::snapshot`) cut at the moment the
//! replica joins the stream, streamed as it is walked. A replica that comes
//! back goes on from the backlog when it still holds what it missed.
//!
//! While this server is itself a replica, its replicas get its master's
//! stream as it is applied ([`Replication::feed_from_master`], Redis's
//! `replicationFeedStreamFromMasterStream`), not what its own commands
//! propagate, so offsets and replication ids agree down the chain.
//!
//! All replicas read one stream: one [`Sink`] attached to the keyspace's
//! [`crate::propagate::Propagation`] while at least one replica is
//! connected, fanning each unit out to the replicas' channels. The stream
//! starts with a SELECT whenever a replica joins (the sink is attached
//! anew), as Redis resets `slaveseldb` on every full sync.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::sync::Notify;

use crate::config::Config;
use crate::propagate::{Propagation, Sink, Target};
use crate::rdb;
use crate::server::Server;

/// Lowercase, as Redis's shared `ping` object writes it.
const PING: &[u8] = b"*1\r\n$4\r\nping\r\n";

struct Replica {
    client_id: u64,
    addr: SocketAddr,
    /// The port it says it listens on (REPLCONF listening-port), for INFO.
    listening_port: u16,
    outbox: Arc<Outbox>,
    acked: Arc<Acked>,
    /// Since when its outbox has been over the soft limit.
    over_soft_since: Option<std::time::Instant>,
}

impl Drop for Replica {
    /// Dropped from the list (over its output limit, or gone): its
    /// connection ends at once, without sending what is left, as Redis
    /// frees such a client.
    fn drop(&mut self) {
        let mut queue = lock(&self.outbox.queue);
        queue.closed = true;
        // Freed now, not when the connection's task gets to the close:
        // the stream leaves `mem_not_counted_for_evict` at once, so its
        // memory must leave `used_memory` too, or eviction would make up
        // for it (unit/maxmemory's replica buffer tests).
        queue.blocks.clear();
        queue.allocated = queue.in_flight;
        drop(queue);
        self.outbox.ready.notify_one();
    }
}

/// Smallest block of a replica's outbox (Redis's `PROTO_REPLY_CHUNK_BYTES`
/// for its `replBufBlock`s).
const OUTBOX_BLOCK: usize = 16 * 1024;

/// What a replica has yet to be sent of the stream. The stream is copied
/// into blocks of 16 KB or more, so a propagated command costs its bytes
/// and not an allocation and a queue slot of its own (a million queued
/// small commands took 2.5 times their size that way), and what the
/// blocks hold is what the replica costs: `mem_clients_slaves`, and what
/// eviction leaves out of `used_memory`.
#[derive(Default)]
struct Outbox {
    queue: Mutex<OutboxQueue>,
    /// Woken when blocks are queued or the replica is dropped.
    ready: Notify,
}

#[derive(Default)]
struct OutboxQueue {
    /// Each block with the size it was allocated at: the writer splits the
    /// front off a block, so its capacity no longer says.
    blocks: VecDeque<(BytesMut, u64)>,
    /// Bytes the blocks take from the allocator, the one being written
    /// included.
    allocated: u64,
    /// The size of the block [`Outbox::next`] last handed out whole: it is
    /// alive until the writer asks for the next bytes.
    in_flight: u64,
    closed: bool,
}

impl OutboxQueue {
    /// Bytes taken: the blocks, and the queue of them.
    fn total(&self) -> u64 {
        let queue = self.blocks.capacity() * std::mem::size_of::<(BytesMut, u64)>();
        self.allocated + crate::types::memory::alloc_size(queue) as u64
    }
}

/// What a replica's writer gets from its outbox.
enum Next {
    Send(BytesMut),
    Wait,
    Closed,
}

impl Outbox {
    /// Appends `bytes`, filling the last block's room first; returns the
    /// bytes now allocated.
    fn push(&self, mut bytes: &[u8]) -> u64 {
        let mut queue = lock(&self.queue);
        let queue = &mut *queue;
        if let Some((last, _)) = queue.blocks.back_mut() {
            let fits = bytes.len().min(last.capacity() - last.len());
            last.put_slice(&bytes[..fits]);
            bytes = &bytes[fits..];
        }
        if !bytes.is_empty() {
            let mut block = BytesMut::with_capacity(bytes.len().max(OUTBOX_BLOCK));
            block.put_slice(bytes);
            let size = crate::types::memory::alloc_size(block.capacity()) as u64;
            queue.allocated += size;
            queue.blocks.push_back((block, size));
        }
        self.ready.notify_one();
        queue.total()
    }

    /// The oldest bytes to send, the ones handed out before being written.
    /// The last block is split, not taken: its room stays for the next
    /// pushes.
    fn next(&self) -> Next {
        let mut queue = lock(&self.queue);
        let queue = &mut *queue;
        queue.allocated -= std::mem::take(&mut queue.in_flight);
        if queue.closed {
            return Next::Closed;
        }
        if queue.blocks.len() > 1 {
            if let Some((block, size)) = queue.blocks.pop_front() {
                queue.in_flight = size;
                return Next::Send(block);
            }
        }
        match queue.blocks.front_mut() {
            Some((last, size)) if !last.is_empty() => {
                let bytes = last.split();
                if last.capacity() == 0 {
                    queue.in_flight = *size;
                    queue.blocks.clear();
                }
                Next::Send(bytes)
            }
            _ => Next::Wait,
        }
    }

    fn allocated(&self) -> u64 {
        lock(&self.queue).total()
    }
}

/// A replica as ROLE and INFO show it.
pub struct ReplicaState {
    /// INFO's `state`: `wait_bgsave` until its snapshot is sent, then
    /// `online`; only online replicas are in ROLE and count for
    /// `min-replicas-to-write`, as in Redis.
    pub state: &'static str,
    pub ip: String,
    /// The port it says it listens on (REPLCONF listening-port).
    pub port: u16,
    /// The offset it last acknowledged.
    pub offset: u64,
    /// Seconds since that acknowledgement.
    pub lag: u64,
}

/// What a replica last acknowledged (REPLCONF ACK), for INFO and WAIT.
pub struct Acked {
    offset: AtomicU64,
    /// Unix seconds of the last acknowledgement.
    at: AtomicU64,
    /// Its snapshot is sent (a partial resync: at once).
    online: std::sync::atomic::AtomicBool,
    /// Woken on every acknowledgement of any replica (WAIT).
    arrived: Arc<Notify>,
}

impl Acked {
    /// A `REPLCONF ACK <offset>` came in.
    fn record(&self, offset: u64) {
        self.offset.store(offset, Ordering::Relaxed);
        self.at
            .store(crate::util::now_ms() / 1000, Ordering::Relaxed);
        self.arrived.notify_waiters();
    }
}

struct Replicas {
    config: Arc<Config>,
    list: Vec<Replica>,
    /// Bytes of stream written since start (INFO `master_repl_offset`).
    offset: u64,
    /// The sink's id in the propagation registry while replicas exist.
    sink: Option<u64>,
    /// Runs of [`Replication::cron`].
    cron_seconds: u64,
    /// This server is a replica: the stream is its master's, proxied.
    proxying: bool,
    /// The database the proxied stream is in (a replica's snapshot says
    /// so: `repl-stream-db`).
    stream_db: usize,
    /// 40 hex characters naming this history (INFO `master_replid`).
    replid: String,
    /// The history this one continues (`master_replid2`) and the first
    /// offset that is not part of it (`second_repl_offset`, -1: none).
    replid2: Option<(String, u64)>,
    /// The last stream bytes, for replicas that come back (partial resync).
    backlog: Option<Backlog>,
    /// Since when no replica is attached (the backlog's `repl-backlog-ttl`).
    alone_since: Option<std::time::Instant>,
    /// INFO's `sync_full`, `sync_partial_ok`, `sync_partial_err`.
    pub syncs: [u64; 3],
    /// Replicas whose full sync waits for its snapshot to start.
    waiting: Vec<Waiting>,
}

/// A replica asking for a full sync: who it is and what it reads.
pub struct SyncRequest {
    pub client_id: u64,
    pub addr: SocketAddr,
    /// The port it says it listens on (REPLCONF listening-port).
    pub listening_port: u16,
    /// PSYNC, answered `+FULLRESYNC <replid> <offset>` (SYNC: no line).
    pub psync: bool,
    /// It reads a streamed snapshot (`REPLCONF capa eof`).
    pub capa_eof: bool,
}

/// A full sync that waits for its snapshot to start (Redis's
/// `SLAVE_STATE_WAIT_BGSAVE_START`): another snapshot runs, or the master
/// waits `repl-diskless-sync-delay` seconds for more replicas to share the
/// one it streams. [`start_waiting_syncs`] starts it.
struct Waiting {
    request: SyncRequest,
    since: std::time::Instant,
    /// Where the replica's connection waits for its start.
    start: tokio::sync::oneshot::Sender<ReplicaStart>,
}

/// Redis's replication backlog: the last `repl-backlog-size` bytes of the
/// stream, so a replica whose link dropped can go on from its offset
/// (`PSYNC <replid> <offset>` answered `+CONTINUE`) instead of a full sync.
/// Kept while replicas come and go, freed `repl-backlog-ttl` seconds after
/// the last one left.
struct Backlog {
    data: std::collections::VecDeque<u8>,
    /// The stream offset of `data`'s first byte (offsets count from 1).
    first: u64,
}

impl Backlog {
    /// A backlog starting at stream offset `first`, its room (up to 1 MB,
    /// the default size) taken at once: memory that comes with the stream
    /// after a replica attached would be eviction's to make up for
    /// (unit/maxmemory's replica buffer tests).
    fn new(first: u64, size: usize) -> Backlog {
        Backlog {
            data: std::collections::VecDeque::with_capacity(size.clamp(1, 1 << 20)),
            first,
        }
    }

    /// Appends `bytes`, dropping what goes past `size` from the front
    /// first, so the backlog does not outgrow its room.
    fn push(&mut self, bytes: &[u8], size: usize) {
        let size = size.max(1);
        let total = self.data.len() + bytes.len();
        let excess = total.saturating_sub(size);
        let from_data = excess.min(self.data.len());
        self.data.drain(..from_data);
        self.data.extend(&bytes[excess - from_data..]);
        self.first += excess as u64;
    }
}

fn backlog_size(config: &Config) -> usize {
    usize::try_from(config.repl_backlog_size()).unwrap_or(usize::MAX)
}

/// This server as a master: its replication id, offset and replicas.
pub struct Replication {
    propagation: Arc<Propagation>,
    replicas: Arc<Mutex<Replicas>>,
    /// Notified when any replica acknowledges (see [`Acked::arrived`]).
    acks: Arc<Notify>,
}

/// What SYNC or PSYNC hands the connection task, which from then on
/// carries the replication link.
pub enum ReplicaLink {
    /// The snapshot and the stream start now.
    Start(ReplicaStart),
    /// The start comes when the snapshot can begin ([`Waiting`]).
    Waiting(tokio::sync::oneshot::Receiver<ReplicaStart>),
}

/// A replica's connection, handed from PSYNC to the connection task:
/// what to write first, then the stream.
pub struct ReplicaStart {
    pub preamble: Vec<u8>,
    /// The snapshot as a background thread walks it, after the preamble
    /// (None: it is in the preamble). A None in it: the snapshot failed.
    pub snapshot: Option<tokio::sync::mpsc::Receiver<Option<Bytes>>>,
    /// The snapshot ends with an `$EOF:` mark: the stream waits for the
    /// replica's first REPLCONF ACK, as a replica reading to the mark would
    /// read stream bytes sent right after it as part of the file (Redis's
    /// `repl_start_cmd_stream_on_ack`).
    pub stream_on_ack: bool,
    pub stream: ReplicaStream,
    pub acked: Arc<Acked>,
}

/// A replica's end of the stream.
pub struct ReplicaStream {
    outbox: Arc<Outbox>,
}

/// The sink all replicas share.
struct Fanout(Arc<Mutex<Replicas>>);

impl Sink for Fanout {
    fn target(&self) -> Target {
        Target::REPL
    }

    fn append(&mut self, stream: &[u8]) {
        let mut replicas = lock(&self.0);
        if !replicas.proxying {
            broadcast(&mut replicas, stream);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes `bytes` to every replica's stream. A replica whose connection is
/// gone is dropped by its own task ([`Replication::remove`]); one that does
/// not keep up is dropped here once it is past `client-output-buffer-limit
/// replica` (hard, or soft for its seconds), as Redis frees such a replica:
/// the stream is never buffered without bound.
fn broadcast(replicas: &mut Replicas, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    replicas.offset += bytes.len() as u64;
    let size = backlog_size(&replicas.config);
    if let Some(backlog) = &mut replicas.backlog {
        backlog.push(bytes, size);
    }
    let limit = replicas.config.client_output_buffer_limits()[1];
    let now = std::time::Instant::now();
    replicas.list.retain_mut(|replica| {
        let pending = replica.outbox.push(bytes);
        let soft = limit.soft_bytes > 0 && pending > limit.soft_bytes;
        let since = match (soft, replica.over_soft_since) {
            (false, _) => None,
            (true, None) => Some(now),
            (true, since) => since,
        };
        replica.over_soft_since = since;
        let soft_expired = since.is_some_and(|t| {
            now.duration_since(t).as_secs() >= u64::try_from(limit.soft_seconds).unwrap_or(0)
        });
        let over = (limit.hard_bytes > 0 && pending > limit.hard_bytes) || soft_expired;
        if over {
            tracing::warn!(
                "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                replica.addr
            );
            // Dropping it ends the replica's connection.
            return false;
        }
        true
    });
}

impl Replication {
    pub fn new(replid: String, propagation: Arc<Propagation>, config: Arc<Config>) -> Replication {
        Replication {
            propagation,
            acks: Arc::new(Notify::new()),
            replicas: Arc::new(Mutex::new(Replicas {
                config,
                list: Vec::new(),
                offset: 0,
                sink: None,
                cron_seconds: 0,
                proxying: false,
                stream_db: 0,
                replid,
                replid2: None,
                backlog: None,
                alone_since: None,
                syncs: [0; 3],
                waiting: Vec::new(),
            })),
        }
    }

    /// INFO `master_replid`: the history this server's stream belongs to.
    pub fn replid(&self) -> String {
        lock(&self.replicas).replid.clone()
    }

    /// INFO `master_replid2` and `second_repl_offset`.
    pub fn replid2(&self) -> Option<(String, u64)> {
        lock(&self.replicas).replid2.clone()
    }

    /// Becoming a replica, or a master again (REPLICAOF): a replica's
    /// replicas get its master's stream instead of its own.
    pub fn set_proxying(&self, proxying: bool) {
        let mut replicas = lock(&self.replicas);
        replicas.proxying = proxying;
        if !proxying && (replicas.sink.is_some() || replicas.backlog.is_some()) {
            // The next unit starts with a SELECT (Redis sets `slaveseldb`
            // to -1 in `replicationUnsetMaster`); the backlog is fed from here.
            self.reattach(&mut replicas);
        }
    }

    /// After a full resynchronisation the replica continues its master's
    /// history: its id and offset (Redis's `readSyncBulkPayload`), and its
    /// own replicas must sync again.
    pub fn adopt(&self, replid: &str, offset: u64) {
        let mut replicas = lock(&self.replicas);
        replicas.replid = replid.to_string();
        replicas.offset = offset;
        replicas.replid2 = None;
        self.disconnect(&mut replicas);
        // A fresh backlog from here, for replicas of this replica
        // (Redis's `createReplicationBacklog` after a full sync).
        let size = backlog_size(&replicas.config);
        replicas.backlog = Some(Backlog::new(offset + 1, size));
        replicas.alone_since = Some(std::time::Instant::now());
    }

    /// A partial resync went on from `offset` under the master's `replid`
    /// (`+CONTINUE <replid>`): a new id keeps the old one as the secondary
    /// up to here, as Redis's replica does when its master changed history.
    pub fn continue_as(&self, replid: &str) {
        let mut replicas = lock(&self.replicas);
        if replicas.replid != replid {
            let old = std::mem::replace(&mut replicas.replid, replid.to_string());
            tracing::info!("Master replication ID changed to {replid}");
            replicas.replid2 = Some((old, replicas.offset + 1));
            self.disconnect(&mut replicas);
        }
    }

    /// Redis's `masterTryPartialResynchronization`: when `replid` is this
    /// history (or the previous one, up to where it ended) and the backlog
    /// still holds the stream from `offset` on, the replica is attached
    /// there and gets `+CONTINUE` and the bytes it missed; None means a
    /// full sync. Call it holding every shard, as [`Replication::add`].
    pub fn try_continue(
        &self,
        replid: &str,
        offset: u64,
        client_id: u64,
        addr: SocketAddr,
        listening_port: u16,
    ) -> Option<(Vec<u8>, ReplicaStream, Arc<Acked>)> {
        let mut replicas = lock(&self.replicas);
        let known = replicas.replid == replid
            || (replicas.replid2.as_ref()).is_some_and(|(id, end)| id == replid && offset <= *end);
        let backlog = replicas.backlog.as_ref();
        let end = replicas.offset + 1;
        let held = backlog.filter(|b| known && offset >= b.first && offset <= end);
        let Some(backlog) = held else {
            if replid != "?" {
                replicas.syncs[2] += 1;
            }
            return None;
        };
        let skip = usize::try_from(offset - backlog.first).unwrap_or(usize::MAX);
        let mut preamble = format!("+CONTINUE {}\r\n", replicas.replid).into_bytes();
        preamble.extend(backlog.data.iter().skip(skip));
        let missed = preamble.len();
        let (stream, acked) = self.attach(&mut replicas, client_id, addr, listening_port);
        replicas.syncs[1] += 1;
        tracing::info!(
            "Partial resynchronization request from {addr} accepted. Sending {} bytes of backlog starting from offset {offset}.",
            missed - replicas.replid.len() - 12
        );
        Some((preamble, stream, acked))
    }

    /// Redis's `shiftReplicationId` (REPLICAOF NO ONE): a new history,
    /// the old one kept as the secondary id up to the current offset.
    pub fn shift_replid(&self) {
        let mut replicas = lock(&self.replicas);
        let old = std::mem::replace(&mut replicas.replid, new_replid());
        tracing::warn!(
            "Setting secondary replication ID to {old}, valid up to offset: {}. New replication ID is {}",
            replicas.offset + 1,
            replicas.replid
        );
        replicas.replid2 = Some((old, replicas.offset + 1));
        self.disconnect(&mut replicas);
    }

    /// Drops every replica (Redis's `disconnectSlaves`): their connections
    /// end. A master's stream goes on into the backlog if there is one.
    fn disconnect(&self, replicas: &mut Replicas) {
        replicas.list.clear();
        if let Some(id) = replicas.sink.take() {
            self.propagation.detach(id);
        }
        if replicas.backlog.is_some() {
            replicas.alone_since = Some(std::time::Instant::now());
            if !replicas.proxying {
                self.reattach(replicas);
            }
        }
    }

    /// Attaches the replicas' sink anew: the stream's next unit selects its
    /// database again.
    fn reattach(&self, replicas: &mut Replicas) {
        if let Some(id) = replicas.sink.take() {
            self.propagation.detach(id);
        }
        let sink = Box::new(Fanout(self.replicas.clone()));
        replicas.sink = Some(self.propagation.attach(sink));
    }

    /// Bytes of the master's stream this replica applied, after which the
    /// stream is in database `db`: its replicas get them as they are, and
    /// the offset moves with them.
    pub fn feed_from_master(&self, bytes: &[u8], db: usize) {
        let mut replicas = lock(&self.replicas);
        replicas.stream_db = db;
        broadcast(&mut replicas, bytes);
    }

    /// Adds a replica at the current end of the stream and returns its
    /// channel and the offset it starts at. Call it holding the locks of
    /// every shard (so no unit is half in the snapshot and half in the stream).
    pub fn add(
        &self,
        client_id: u64,
        addr: SocketAddr,
        listening_port: u16,
    ) -> (ReplicaStream, Arc<Acked>, rdb::ReplicationInfo) {
        let mut replicas = lock(&self.replicas);
        let (stream, acked) = self.attach(&mut replicas, client_id, addr, listening_port);
        replicas.syncs[0] += 1;
        // Attached anew, the stream selects its database again for everyone.
        self.reattach(&mut replicas);
        if replicas.backlog.is_none() {
            let size = backlog_size(&replicas.config);
            replicas.backlog = Some(Backlog::new(replicas.offset + 1, size));
        }
        // A master's stream starts with a SELECT; a replica's goes on in
        // its master's database.
        let start = rdb::ReplicationInfo {
            replid: replicas.replid.clone(),
            offset: replicas.offset,
            stream_db: if replicas.proxying {
                replicas.stream_db
            } else {
                0
            },
        };
        (stream, acked, start)
    }

    /// A replica joins the list at the stream's current end.
    fn attach(
        &self,
        replicas: &mut Replicas,
        client_id: u64,
        addr: SocketAddr,
        listening_port: u16,
    ) -> (ReplicaStream, Arc<Acked>) {
        let outbox = Arc::new(Outbox::default());
        let acked = Arc::new(Acked {
            offset: AtomicU64::new(0),
            at: AtomicU64::new(crate::util::now_ms() / 1000),
            online: std::sync::atomic::AtomicBool::new(false),
            arrived: self.acks.clone(),
        });
        replicas.list.push(Replica {
            client_id,
            addr,
            listening_port,
            outbox: outbox.clone(),
            acked: acked.clone(),
            over_soft_since: None,
        });
        replicas.alone_since = None;
        (ReplicaStream { outbox }, acked)
    }

    /// The replica's connection ended. The stream goes on into the backlog,
    /// for it to come back to.
    pub fn remove(&self, client_id: u64) {
        let mut replicas = lock(&self.replicas);
        replicas.list.retain(|r| r.client_id != client_id);
        if replicas.list.is_empty() && replicas.alone_since.is_none() {
            replicas.alone_since = Some(std::time::Instant::now());
        }
    }

    /// Queues a full sync until its snapshot can start; the receiver gets
    /// its start ([`start_waiting_syncs`]).
    pub fn wait_for_snapshot(
        &self,
        request: SyncRequest,
    ) -> tokio::sync::oneshot::Receiver<ReplicaStart> {
        let (start, receiver) = tokio::sync::oneshot::channel();
        lock(&self.replicas).waiting.push(Waiting {
            request,
            since: std::time::Instant::now(),
            start,
        });
        receiver
    }

    /// Redis's `shouldStartChildReplication` (no snapshot runs): the
    /// waiting syncs, taken from the queue, when their snapshot is due:
    /// at once for a snapshot sent whole; for a streamed one once the
    /// first waited `repl-diskless-sync-delay` seconds, or
    /// `repl-diskless-sync-max-replicas` wait. Syncs whose replica left
    /// are dropped.
    fn take_due(
        &self,
        config: &Config,
    ) -> Vec<(SyncRequest, tokio::sync::oneshot::Sender<ReplicaStart>)> {
        let mut replicas = lock(&self.replicas);
        replicas.waiting.retain(|w| !w.start.is_closed());
        let Some(oldest) = replicas.waiting.iter().map(|w| w.since).min() else {
            return Vec::new();
        };
        let max = config.repl_diskless_sync_max_replicas();
        let due = !config.repl_diskless_sync()
            || (max > 0 && replicas.waiting.len() as u64 >= max)
            || oldest.elapsed().as_secs() >= config.repl_diskless_sync_delay();
        if !due {
            return Vec::new();
        }
        (replicas.waiting.drain(..))
            .map(|w| (w.request, w.start))
            .collect()
    }

    /// INFO's backlog fields: its size setting, whether it exists, the
    /// offset of its first byte and how many bytes it holds.
    pub fn backlog_info(&self) -> (bool, u64, u64) {
        let replicas = lock(&self.replicas);
        match &replicas.backlog {
            Some(b) => (true, b.first, b.data.len() as u64),
            None => (false, 0, 0),
        }
    }

    /// The database the master's stream is in, as last applied.
    pub fn stream_db(&self) -> usize {
        lock(&self.replicas).stream_db
    }

    /// INFO's `sync_full`, `sync_partial_ok`, `sync_partial_err`.
    pub fn syncs(&self) -> [u64; 3] {
        lock(&self.replicas).syncs
    }

    /// Whether client `client_id` is a replica's link.
    pub fn is_replica(&self, client_id: u64) -> bool {
        lock(&self.replicas)
            .list
            .iter()
            .any(|r| r.client_id == client_id)
    }

    /// Bytes the replicas' outboxes hold: what eviction leaves out of
    /// `used_memory` (Redis's `freeMemoryGetNotCountedMemory`), and
    /// `mem_clients_slaves`.
    pub fn replica_buffers(&self) -> u64 {
        lock(&self.replicas)
            .list
            .iter()
            .map(|r| r.outbox.allocated())
            .sum()
    }

    /// INFO `master_repl_offset`.
    pub fn offset(&self) -> u64 {
        lock(&self.replicas).offset
    }

    /// Redis's `isReadyToShutdown`: every replica acknowledged the whole
    /// stream (none: true).
    pub fn all_acked(&self) -> bool {
        let replicas = lock(&self.replicas);
        (replicas.list.iter()).all(|r| r.acked.offset.load(Ordering::Relaxed) == replicas.offset)
            && replicas.waiting.iter().all(|w| w.start.is_closed())
    }

    /// `REPLCONF GETACK *` to every replica (Redis's `replicationRequestAckFromSlaves`):
    /// part of the stream, counted in its offset.
    pub fn ask_for_acks(&self) {
        const GETACK: &[u8] = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
        let mut replicas = lock(&self.replicas);
        if !replicas.list.is_empty() && !replicas.proxying {
            broadcast(&mut replicas, GETACK);
        }
    }

    /// Redis's `replicationCountAcksByOffset`: replicas that acknowledged
    /// `offset` or more (WAIT).
    pub fn acked_at_least(&self, offset: u64) -> usize {
        (lock(&self.replicas).list.iter())
            .filter(|r| r.acked.offset.load(Ordering::Relaxed) >= offset)
            .count()
    }

    /// The replicas as INFO shows them: those attached, in order of
    /// arrival, then the syncs still waiting for their snapshot.
    pub fn replicas(&self) -> Vec<ReplicaState> {
        let now = crate::util::now_ms() / 1000;
        let replicas = lock(&self.replicas);
        let attached = replicas.list.iter().map(|r| {
            let online = r.acked.online.load(Ordering::Relaxed);
            ReplicaState {
                state: if online { "online" } else { "wait_bgsave" },
                ip: r.addr.ip().to_string(),
                port: r.listening_port,
                offset: r.acked.offset.load(Ordering::Relaxed),
                lag: now.saturating_sub(r.acked.at.load(Ordering::Relaxed)),
            }
        });
        let waiting = (replicas.waiting.iter())
            .filter(|w| !w.start.is_closed())
            .map(|w| ReplicaState {
                state: "wait_bgsave",
                ip: w.request.addr.ip().to_string(),
                port: w.request.listening_port,
                offset: 0,
                lag: 0,
            });
        attached.chain(waiting).collect()
    }

    /// The replicas that got their snapshot (ROLE, `min-replicas-to-write`).
    pub fn online_replicas(&self) -> Vec<ReplicaState> {
        let mut replicas = self.replicas();
        replicas.retain(|r| r.state == "online");
        replicas
    }

    /// Redis's `replicationCron`, run by the server cron once a second:
    /// every `repl-ping-replica-period` seconds the replicas get a PING, so
    /// they do not time out an idle master.
    pub fn cron(&self, config: &Config) {
        let mut replicas = lock(&self.replicas);
        // The backlog goes `repl-backlog-ttl` seconds after the last replica
        // left, with a new history id so no replica continues from data it
        // no longer matches (Redis's `freeReplicationBacklog` on a master).
        let ttl = config.repl_backlog_ttl();
        let expired = replicas
            .alone_since
            .is_some_and(|t| ttl > 0 && t.elapsed().as_secs() >= ttl);
        if expired && replicas.backlog.is_some() && !replicas.proxying {
            replicas.backlog = None;
            replicas.alone_since = None;
            replicas.replid = new_replid();
            replicas.replid2 = None;
            if let Some(id) = replicas.sink.take() {
                self.propagation.detach(id);
            }
            tracing::info!(
                "Replication backlog freed after {ttl} seconds without connected replicas."
            );
        }
        let period = config.repl_ping_replica_period().max(1);
        // A replica's replicas hear its master's PINGs instead.
        if replicas.cron_seconds.is_multiple_of(period)
            && !replicas.list.is_empty()
            && !replicas.proxying
        {
            broadcast(&mut replicas, PING);
        }
        replicas.cron_seconds += 1;
    }
}

/// 40 random hex characters: a replication id or run id.
pub fn new_replid() -> String {
    (0..40)
        .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
        .collect()
}

/// Why a full sync must wait for its snapshot (Redis's `syncCommand` log
/// line), or None when it starts now.
pub fn wait_reason(server: &Server, request: &SyncRequest) -> Option<&'static str> {
    if let Some(to_replica) = crate::persistence::bgsave_target(server) {
        return Some(if to_replica {
            "Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC"
        } else {
            "Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC"
        });
    }
    if crate::persistence::snapshot_active(server) {
        return Some("No BGSAVE in progress, but another BG operation is active. BGSAVE for replication delayed");
    }
    let config = &server.config;
    (config.repl_diskless_sync() && request.capa_eof && config.repl_diskless_sync_delay() > 0)
        .then_some("Delay next BGSAVE for diskless SYNC")
}

/// Starts the full syncs of `requests` on one snapshot, cut now under
/// `guard`'s locks of every shard, so the snapshot's cut and the stream's
/// start are one moment for all of them. The snapshot is walked in the
/// background and streamed as it goes (to several replicas alike); a
/// filtered one (`rdb_functions_only`), or one while another snapshot runs,
/// is serialised here instead, under the locks.
pub fn start_full_syncs(
    server: &Server,
    guard: &mut crate::keyspace::Guard<'_>,
    requests: &[SyncRequest],
    filter: Option<bool>,
) -> Vec<ReplicaStart> {
    let mut attached = Vec::with_capacity(requests.len());
    let mut cut = None;
    for request in requests {
        let (stream, acked, start) =
            server
                .replication
                .add(request.client_id, request.addr, request.listening_port);
        let mut preamble = Vec::new();
        if request.psync {
            let line = format!("+FULLRESYNC {} {}\r\n", start.replid, start.offset);
            preamble.extend_from_slice(line.as_bytes());
        }
        attached.push((preamble, stream, acked));
        cut = Some(start);
    }
    let Some(cut) = cut else {
        return Vec::new();
    };
    let eof = server.config.repl_diskless_sync() && requests.iter().all(|r| r.capa_eof);
    let background = if crate::persistence::snapshot_active(server) || filter.is_some() {
        None
    } else {
        crate::persistence::bgsave_to_replica(server, guard, &cut, eof)
    };
    let stream_on_ack = eof && background.is_some();
    let snapshots: Vec<_> = match background {
        Some(walk) if attached.len() == 1 => vec![Some(walk)],
        Some(walk) => fan_out(walk, attached.len())
            .into_iter()
            .map(Some)
            .collect(),
        None => {
            let mut options = rdb::Options::from_config(&server.config);
            let mut databases = server.keyspace.databases();
            if let Some(functions) = filter {
                // A filtered snapshot (`redis-cli --functions-rdb`): no keys.
                options.functions = functions;
                databases = 0;
            }
            let used = crate::commands::server::used_memory();
            let (snapshot, _) = rdb::snapshot(guard, databases, options, Some(&cut), used);
            for (preamble, _, _) in &mut attached {
                preamble.extend_from_slice(format!("${}\r\n", snapshot.len()).as_bytes());
                preamble.extend_from_slice(&snapshot);
            }
            attached.iter().map(|_| None).collect()
        }
    };
    (attached.into_iter().zip(snapshots))
        .map(|((preamble, stream, acked), snapshot)| ReplicaStart {
            preamble,
            snapshot,
            stream_on_ack,
            stream,
            acked,
        })
        .collect()
}

/// One snapshot's chunks to `replicas` channels alike, as Redis's parent
/// relays its RDB pipe to every replica: the slowest sets the pace, and one
/// that leaves stops getting them. Once all have left, the walk is dropped.
fn fan_out(
    mut walk: tokio::sync::mpsc::Receiver<Option<Bytes>>,
    replicas: usize,
) -> Vec<tokio::sync::mpsc::Receiver<Option<Bytes>>> {
    let (mut senders, receivers): (Vec<_>, Vec<_>) = (0..replicas)
        .map(|_| tokio::sync::mpsc::channel(16))
        .unzip();
    tokio::spawn(async move {
        while let Some(chunk) = walk.recv().await {
            let mut open = Vec::with_capacity(senders.len());
            for sender in senders {
                if sender.send(chunk.clone()).await.is_ok() {
                    open.push(sender);
                }
            }
            senders = open;
            if senders.is_empty() {
                break;
            }
        }
    });
    receivers
}

/// Redis's `replicationStartPendingFork`, every cron tick while no
/// snapshot runs: the waiting full syncs, once due, start on one snapshot.
pub fn start_waiting_syncs(server: &Server) {
    if crate::persistence::snapshot_active(server) {
        return;
    }
    let (requests, starters): (Vec<_>, Vec<_>) = server
        .replication
        .take_due(&server.config)
        .into_iter()
        .unzip();
    if requests.is_empty() {
        return;
    }
    let mut guard = crate::persistence::lock_all(server);
    let starts = start_full_syncs(server, &mut guard, &requests, None);
    guard.release();
    for ((request, starter), start) in requests.iter().zip(starters).zip(starts) {
        if starter.send(start).is_err() {
            // Its connection ended meanwhile.
            server.replication.remove(request.client_id);
        }
    }
}

/// Serves a replica for the rest of its connection: the preamble (the
/// FULLRESYNC line and the snapshot), then the stream as it comes. What the
/// replica sends is `REPLCONF ACK <offset>` every second; only the offset is
/// kept, for INFO and WAIT.
pub async fn serve(
    server: &Server,
    socket: &mut crate::transport::Transport,
    link: ReplicaLink,
) -> std::io::Result<()> {
    let start = match link {
        ReplicaLink::Start(start) => start,
        ReplicaLink::Waiting(starting) => match wait_for_start(socket, starting).await? {
            Some(start) => start,
            None => return Ok(()),
        },
    };
    let ReplicaStart {
        preamble,
        snapshot,
        stream_on_ack,
        stream,
        acked,
    } = start;
    socket.write_all(&preamble).await?;
    if let Some(mut snapshot) = snapshot {
        // The stream waits in its channel meanwhile, as in Redis's
        // output buffer of a replica waiting for its snapshot.
        while let Some(chunk) = snapshot.recv().await {
            let Some(chunk) = chunk else {
                return Err(std::io::Error::other("the snapshot failed"));
            };
            socket.write_all(&chunk).await?;
        }
    }
    acked.online.store(true, Ordering::Relaxed);
    let mut input = BytesMut::with_capacity(1024);
    let mut parser = crate::protocol::RequestParser::default();
    let name_of = |args: &[&[u8]]| match server.commands.lookup(args) {
        Ok(cmd) => cmd.name.clone(),
        Err(_) => String::from_utf8_lossy(args[0]).to_lowercase(),
    };
    let peer = socket
        .addrs()
        .map(|(peer, _)| peer.to_string())
        .unwrap_or_default();
    let mut from_replica = |input: &mut BytesMut| {
        read_replica_requests(input, &mut parser, &name_of).map_err(|command| {
            tracing::warn!(
                "Replica generated a reply to command '{command}', disconnecting it: addr={peer}"
            );
            std::io::Error::other("the replica sent a command")
        })
    };
    if stream_on_ack {
        loop {
            if socket.read_buf(&mut input).await? == 0 {
                return Ok(());
            }
            if let Some(offset) = from_replica(&mut input)? {
                acked.record(offset);
                break;
            }
        }
    }
    loop {
        match stream.outbox.next() {
            Next::Send(bytes) => {
                socket.write_all(&bytes).await?;
                continue;
            }
            Next::Closed => return Ok(()),
            Next::Wait => {}
        }
        tokio::select! {
            () = stream.outbox.ready.notified() => {}
            read = socket.read_buf(&mut input) => {
                if read? == 0 {
                    return Ok(());
                }
                if let Some(offset) = from_replica(&mut input)? {
                    acked.record(offset);
                }
            }
        }
    }
}

/// A waiting full sync's connection until its start comes (None: the
/// replica left first). Like Redis's `replicationCron` for a replica in
/// `WAIT_BGSAVE_START`, it gets a newline every second, so it does not
/// time the silent master out.
async fn wait_for_start(
    socket: &mut crate::transport::Transport,
    mut starting: tokio::sync::oneshot::Receiver<ReplicaStart>,
) -> std::io::Result<Option<ReplicaStart>> {
    let mut input = BytesMut::with_capacity(64);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            start = &mut starting => return Ok(start.ok()),
            _ = tick.tick() => socket.write_all(b"\n").await?,
            read = socket.read_buf(&mut input) => {
                if read? == 0 {
                    return Ok(None);
                }
                input.clear();
            }
        }
    }
}

/// The complete requests a replica sent, taken out of `input`: the offset
/// of its last `REPLCONF ACK` (None: none), or, for any command but
/// REPLCONF, its name (`name_of`): Redis drops a replica whose command
/// would write a reply into the replication link. A request still
/// arriving stays in `input`.
fn read_replica_requests(
    input: &mut BytesMut,
    parser: &mut crate::protocol::RequestParser,
    name_of: &dyn Fn(&[&[u8]]) -> String,
) -> Result<Option<u64>, String> {
    let limits = crate::protocol::Limits {
        max_bulk_len: 1 << 20,
        unauthenticated: false,
    };
    let mut acked = None;
    loop {
        let request = match parser.parse(input, limits) {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(acked),
            Err(_) => return Err("(protocol error)".into()),
        };
        let args = parser.args(&request, input);
        if let Some(command) = args.first() {
            if !command.eq_ignore_ascii_case(b"replconf") {
                return Err(name_of(&args));
            }
            let ack = args.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"ack"));
            if let Some(offset) = args.get(2).filter(|_| ack) {
                acked = crate::number::parse_i64(offset)
                    .and_then(|o| u64::try_from(o).ok())
                    .or(acked);
            }
        }
        drop(args);
        input.advance(request.len);
    }
}

/// A WAIT still waiting (Redis's `BLOCKED_WAIT`): for `replicas` replicas
/// to acknowledge `offset`, until `deadline` (None: no limit).
pub struct WaitAcks {
    pub replicas: usize,
    pub offset: u64,
    pub deadline: Option<tokio::time::Instant>,
}

impl WaitAcks {
    /// Asks the replicas for their offset now (`REPLCONF GETACK *` in the
    /// stream, as Redis's `beforeSleep` does for clients blocked in WAIT:
    /// they would otherwise ack only once a second), then waits until
    /// enough acknowledged or the time is up; the count then (WAIT's reply).
    pub async fn wait(self, replication: &Replication) -> usize {
        replication.ask_for_acks();
        loop {
            let arrived = replication.acks.notified();
            let acked = replication.acked_at_least(self.offset);
            let timed_out = self
                .deadline
                .is_some_and(|d| d <= tokio::time::Instant::now());
            if acked >= self.replicas || timed_out {
                return acked;
            }
            match self.deadline {
                Some(deadline) => {
                    let _ = tokio::time::timeout_at(deadline, arrived).await;
                }
                None => arrived.await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_are_read_from_complete_requests_only() {
        let ack = |n: &str| {
            format!(
                "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{n}\r\n",
                n.len()
            )
        };
        let name_of = |args: &[&[u8]]| String::from_utf8_lossy(args[0]).to_lowercase();
        let mut parser = crate::protocol::RequestParser::default();
        let mut read = |bytes: &str| {
            let mut input = BytesMut::from(bytes);
            let found = read_replica_requests(&mut input, &mut parser, &name_of);
            (found, input.len())
        };
        assert_eq!(read(&ack("120")), (Ok(Some(120)), 0));
        assert_eq!(read(&(ack("5") + &ack("4096"))), (Ok(Some(4096)), 0));
        let cut = ack("4096");
        assert_eq!(read(&cut[..cut.len() - 3]), (Ok(None), cut.len() - 3));
        let ping = ack("7") + "*1\r\n$4\r\nPING\r\n";
        assert_eq!(read(&ping).0, Err("ping".to_string()));
    }
}
