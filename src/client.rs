//! Per-connection state, and the registry CLIENT LIST / CLIENT KILL see.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::client_memory::{ClientMem, ClientMemory};
use crate::config::OutputBufferLimit;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;

/// Redis's `islocalClient` for TCP: the peer's address written as text is
/// exactly `127.0.0.1` or `::1`, so 127.0.0.2 and a v4-mapped
/// `::ffff:127.0.0.1` are not local. Protected mode, `enable-debug-command
/// local` and `enable-protected-configs local` all ask it.
pub fn is_local_peer(peer: SocketAddr) -> bool {
    match peer.ip() {
        std::net::IpAddr::V4(ip) => ip == std::net::Ipv4Addr::LOCALHOST,
        std::net::IpAddr::V6(ip) => ip == std::net::Ipv6Addr::LOCALHOST,
    }
}

use crate::blocking::{BlockSignal, LazyBlock};
use crate::commands::Command;
use crate::keyspace::Watches;
use crate::protocol::{own_args, Resp};
use crate::pubsub::ClientSubs;

/// What other connections may read about a client (CLIENT LIST, CLIENT INFO).
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// CLIENT SETNAME, CLIENT SETINFO: boxed slices, the smallest owner of
    /// bytes (every connection's handle holds these three).
    pub name: Option<Box<[u8]>>,
    pub lib_name: Option<Box<[u8]>>,
    pub lib_ver: Option<Box<[u8]>>,
    pub db: usize,
    pub resp: Resp,
    pub last_cmd: String,
    /// CLIENT NO-EVICT ON: flag `e` in CLIENT LIST. RESET keeps it, as Redis does.
    pub no_evict: bool,
    /// Channels, patterns and shard channels subscribed to (`sub=`, `psub=`, `ssub=`).
    pub subscriptions: [u32; 3],
    /// Commands queued since MULTI (`multi=`, flag `x`); None outside MULTI.
    pub multi: Option<usize>,
    /// In MONITOR mode (flag `O`).
    pub monitor: bool,
    /// The connection is a replica's link (SYNC/PSYNC): flag `S`, type
    /// `slave` for CLIENT LIST and CLIENT KILL.
    pub replica: bool,
    /// This replica's link to its master (flag `M`).
    pub master: bool,
    /// The ACL user it is authenticated as (`user=`, CLIENT KILL USER).
    pub user: Bytes,
    /// Client-side caching flags (`crate::tracking::flag`: `t`, `R`, `B`)
    /// and the client its invalidations go to (`redir=`), kept by
    /// `crate::tracking`.
    pub tracking: u8,
    pub tracking_redirect: u64,
}

/// The shared half of a client: identity, visible state and the kill switch.
pub struct ClientHandle {
    pub id: u64,
    pub addr: crate::transport::PeerAddr,
    pub laddr: crate::transport::PeerAddr,
    /// The socket's file descriptor, for CLIENT LIST's `fd=`.
    pub fd: i64,
    /// The event loop thread serving the connection (a busy script serves
    /// its loop's other clients, `scripting::busy_loop`).
    pub thread: std::thread::ThreadId,
    pub created: Instant,
    info: Mutex<ClientInfo>,
    /// When the last command ran, in ms since the epoch: the command's own
    /// clock reading, so recording it costs no extra clock read. Outside
    /// `info` so that recording it takes no lock (a relaxed store is a plain
    /// write; the mutex was two atomic operations per command).
    last_interaction_ms: AtomicU64,
    killed: AtomicBool,
    /// Where the connection is in parking (`park::` states).
    park: std::sync::atomic::AtomicU8,
    /// Wakes the connection task for a kill or a push in its mailbox.
    pub doorbell: Doorbell,
    /// A watched key was touched (Redis's `CLIENT_DIRTY_CAS`, flag `d`):
    /// set by whichever client writes the key, read by EXEC.
    dirty_cas: AtomicBool,
    /// What a busy script's loop did to this client's transaction while its
    /// task could not run ([`busy_tx`] bits), applied by `commands::execute`
    /// on the client's next command.
    pub busy_tx: std::sync::atomic::AtomicU8,
    /// The client's `authenticated`, for a busy script's loop, which
    /// answers NOAUTH as the client's task would.
    pub authenticated: AtomicBool,
    /// Wakes the client while it is blocked on keys (flag `b`): made when
    /// it first blocks ([`ClientHandle::block_signal`]), so a client that
    /// never does (most, and every idle one) does not carry it.
    block_signal: std::sync::OnceLock<Arc<BlockSignal>>,
    /// Replies encoded and not yet written to the socket (`omem=`).
    pub reply_bytes: AtomicUsize,
    /// Pushes queued in the mailbox and not yet taken by the connection.
    pub mailbox_bytes: AtomicUsize,
    /// Since when the output went over its soft limit.
    pub soft_limit: SoftLimitClock,
    /// Its buffers' sizes (`crate::client_memory`).
    pub mem: ClientMem,
    /// The server-wide sum it is accounted in, and client eviction.
    pub memory: Arc<ClientMemory>,
    /// The client's mailbox, for pushes from outside its connection
    /// (client-side caching). Weak: the mailbox holds this handle.
    mailbox: std::sync::OnceLock<std::sync::Weak<crate::pubsub::Subscriber>>,
}

impl crate::keyspace::DirtyCas for ClientHandle {
    fn dirty_cas(&self) -> &AtomicBool {
        &self.dirty_cas
    }
}

/// When a client's pending output first went over its class's soft limit
/// (unix ms, 0: it is not), Redis's `obuf_soft_limit_reached_time`.
#[derive(Default)]
pub struct SoftLimitClock(AtomicU64);

impl SoftLimitClock {
    /// Redis's `checkClientOutputBufferLimits`: whether `used` pending bytes
    /// break `limit`: the hard limit at once, the soft one once it has been
    /// exceeded for more than its seconds.
    pub fn over(&self, used: u64, limit: OutputBufferLimit) -> bool {
        let hard = limit.hard_bytes != 0 && used >= limit.hard_bytes;
        let soft = limit.soft_bytes != 0 && used >= limit.soft_bytes;
        if !soft {
            self.0.store(0, Ordering::Relaxed);
            return hard;
        }
        let now = crate::util::now_ms().max(1);
        let since = match self
            .0
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => return hard,
            Err(since) => since,
        };
        // Whole unix seconds, as Redis compares `server.unixtime`.
        let elapsed_secs = (now / 1000).saturating_sub(since / 1000);
        hard || elapsed_secs > u64::try_from(limit.soft_seconds).unwrap_or(0)
    }
}

impl ClientHandle {
    /// The visible state. The lock is never held across an await or a keyspace lock.
    pub fn info(&self) -> MutexGuard<'_, ClientInfo> {
        self.info.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the connection to close (CLIENT KILL, SHUTDOWN, client
    /// eviction, an output buffer limit). What it will never write goes at
    /// once: the pushes queued for it are dropped, and what its connection
    /// still holds stops counting as client memory and for `maxmemory`
    /// ([`crate::client_memory::ClientMemory::release_killed`]), as Redis
    /// frees a killed client on the spot.
    pub fn kill(&self) {
        if !self.killed.swap(true, Ordering::AcqRel) {
            if let Some(mailbox) = self.mailbox() {
                mailbox.discard();
            }
            self.memory.release_killed(self);
        }
        self.doorbell.ring();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Asks the connection to park if it has been idle for [`park::IDLE_MS`]
    /// at `now_ms` and is neither asked nor parked already, nor declined.
    fn ask_to_park_if_idle(&self, now_ms: u64) {
        let idle = now_ms.saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed));
        if idle >= park::IDLE_MS
            && self
                .park
                .compare_exchange(
                    park::ACTIVE,
                    park::ASKED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            self.doorbell.ring();
        }
    }

    /// Completes when the connection is asked to park (it then parks, or
    /// calls [`ClientHandle::set_park_state`] with `DECLINED`).
    pub async fn asked_to_park(&self) {
        std::future::poll_fn(|cx| {
            if self.park.load(Ordering::Relaxed) == park::ASKED {
                return Poll::Ready(());
            }
            self.doorbell.listen(cx);
            if self.park.load(Ordering::Relaxed) == park::ASKED {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    pub fn set_park_state(&self, state: u8) {
        self.park.store(state, Ordering::Relaxed);
    }

    /// Back to serving: a declined client may be asked again once idle.
    pub fn note_active(&self) {
        if self.park.load(Ordering::Relaxed) != park::ACTIVE {
            self.park.store(park::ACTIVE, Ordering::Relaxed);
        }
    }

    /// Ready at the next ring of the doorbell after the first poll (any
    /// change: a kill, a push), or at a spurious wake, which a parked
    /// connection also takes as a reason to look. `listened`: false until
    /// the first poll, kept by the caller (a poll rather than a future, so a
    /// parked connection's task holds no future's state for it).
    pub fn poll_rung(&self, cx: &Context<'_>, listened: &mut bool) -> Poll<()> {
        if *listened {
            return Poll::Ready(());
        }
        *listened = true;
        self.doorbell.listen(cx);
        Poll::Pending
    }

    /// The signal that wakes the client while it is blocked on keys, made
    /// the first time it is asked for (when the client first blocks).
    pub fn block_signal(&self) -> &Arc<BlockSignal> {
        self.block_signal.get_or_init(Arc::default)
    }

    /// The signal, if the client ever blocked.
    pub fn block_signal_if_made(&self) -> Option<&Arc<BlockSignal>> {
        self.block_signal.get()
    }

    /// Blocked on keys now (flag `b`).
    pub fn is_blocked(&self) -> bool {
        self.block_signal.get().is_some_and(|s| s.is_blocked())
    }

    /// CLIENT UNBLOCK, a role change: ends the client's wait on keys, if it
    /// waits; false if it does not.
    pub fn unblock(&self, how: crate::blocking::Unblock) -> bool {
        self.block_signal.get().is_some_and(|s| s.unblock(how))
    }

    /// Completes when the client is killed.
    pub async fn killed(&self) {
        std::future::poll_fn(|cx| {
            if self.is_killed() {
                return Poll::Ready(());
            }
            self.doorbell.listen(cx);
            if self.is_killed() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// Output waiting for the client: replies not yet written and pushes
    /// not yet taken (Redis's `getClientOutputBufferMemoryUsage`).
    pub fn output_bytes(&self) -> usize {
        self.reply_bytes.load(Ordering::Relaxed) + self.mailbox_bytes.load(Ordering::Relaxed)
    }

    /// The client's mailbox while it is connected.
    pub fn mailbox(&self) -> Option<Arc<crate::pubsub::Subscriber>> {
        self.mailbox.get()?.upgrade()
    }

    /// Subscribed to anything: Redis's `CLIENT_PUBSUB` flag (`P`, type `pubsub`).
    pub fn is_subscriber(&self) -> bool {
        self.info().is_subscriber()
    }

    /// Client eviction may close it (Redis's `clientEvictionAllowed`): not
    /// CLIENT NO-EVICT, not the master link, not a replica link.
    pub fn evictable(&self) -> bool {
        let info = self.info();
        !info.no_evict && !info.master && !self.mem.is_detached()
    }

    /// One line of CLIENT LIST / CLIENT INFO, without the newline: Redis 7.0's
    /// `catClientInfoString` fields in its order, then `lib-name` and `lib-ver`
    /// as Redis 7.2 appends them. The reply buffer is one allocation here:
    /// `rbs` and `rbp` show it, `obl` is 0 and what waits for the socket
    /// (replies and queued pushes) is `omem`, in `oll` blocks.
    pub fn describe(&self) -> String {
        let info = self.info();
        let text = |b: &Option<Box<[u8]>>| {
            b.as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned()
        };
        let [sub, psub, ssub] = info.subscriptions;
        let omem = self.output_bytes();
        let m = &self.mem;
        let load = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        let (qbuf, qbuf_room, rbs) = (load(&m.qbuf), load(&m.qbuf_room), load(&m.reply_room));
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} \
             sub={sub} psub={psub} ssub={ssub} multi={} qbuf={qbuf} qbuf-free={} argv-mem={} \
             multi-mem={} rbs={rbs} rbp={rbs} obl=0 oll={} omem={omem} tot-mem={} events=r \
             cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            text(&info.name),
            self.created.elapsed().as_secs(),
            crate::util::now_ms().saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed))
                / 1000,
            self.flags(&info),
            info.db,
            info.multi.map_or(-1, |n| n as i64),
            qbuf_room.saturating_sub(qbuf),
            load(&m.argv),
            load(&m.multi),
            usize::from(omem > 0),
            self.total_memory(),
            info.last_cmd,
            String::from_utf8_lossy(&info.user),
            if info.tracking & crate::tracking::flag::ON != 0 {
                info.tracking_redirect as i64
            } else {
                -1
            },
            match info.resp {
                Resp::V2 => 2,
                Resp::V3 => 3,
            },
            text(&info.lib_name),
            text(&info.lib_ver),
        )
    }
}

impl ClientHandle {
    /// CLIENT LIST's `flags=`, in `catClientInfoString`'s order: `S` replica, `M` master, `O` monitor, `P` subscriber,
    /// `x` in MULTI, `b` blocked, `t` tracking, `R` its redirect gone, `B` broadcast
    /// tracking, `d` watched key touched, `e` no-evict, `N` for none.
    fn flags(&self, info: &ClientInfo) -> String {
        let mut flags = String::new();
        if info.replica {
            flags.push('S');
        }
        if info.master {
            flags.push('M');
        }
        if info.monitor {
            flags.push('O');
        }
        if info.is_subscriber() {
            flags.push('P');
        }
        if info.multi.is_some() {
            flags.push('x');
        }
        if self.is_blocked() {
            flags.push('b');
        }
        use crate::tracking::flag;
        for (bit, c) in [
            (flag::ON, 't'),
            (flag::BROKEN_REDIR, 'R'),
            (flag::BCAST, 'B'),
        ] {
            if info.tracking & bit != 0 {
                flags.push(c);
            }
        }
        if self.dirty_cas.load(Ordering::Relaxed) {
            flags.push('d');
        }
        if matches!(self.addr, crate::transport::PeerAddr::Unix(_)) {
            flags.push('U');
        }
        if info.no_evict {
            flags.push('e');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }
}

/// Wakes a connection task for what does not come through its socket (a
/// kill, a push), whichever of its futures listened last. One waker slot
/// rather than a `Notify` per cause: the connection listens on every request,
/// and listening again with the same waker is one uncontended lock.
#[derive(Default)]
pub struct Doorbell(Mutex<Option<Waker>>);

thread_local! {
    /// A doorbell rung on this thread woke a connection task since
    /// [`Doorbell::woke_from_here`] last looked.
    static WOKE_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Doorbell {
    fn slot(&self) -> MutexGuard<'_, Option<Waker>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the task that listened, if any. Call it after making the change
    /// visible (the flag set, the push queued).
    pub fn ring(&self) {
        let waker = self.slot().take();
        if let Some(waker) = waker {
            waker.wake();
            WOKE_HERE.with(|woke| woke.set(true));
        }
    }

    /// Whether a ring on this thread woke a connection since the last call
    /// (which clears it): a connection asks after its batch of commands, to
    /// let the clients its commands pushed to write first.
    pub fn woke_from_here() -> bool {
        WOKE_HERE.with(|woke| woke.replace(false))
    }

    /// Makes the next ring wake this task. Check for the change after it: a
    /// ring that came before found no waker to wake.
    pub fn listen(&self, cx: &Context<'_>) {
        let mut slot = self.slot();
        if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *slot = Some(cx.waker().clone());
        }
    }
}

/// MULTI and WATCH state (Redis's `c->mstate` and `c->watched_keys`).
#[derive(Default)]
pub struct Transaction {
    /// The requests queued since MULTI; None outside MULTI.
    pub queued: Option<Vec<Vec<Bytes>>>,
    /// What the queued requests hold: their arguments' bytes and slots.
    pub queued_bytes: usize,
    /// The watched keys' bytes (their entries counted apart).
    pub watched_key_bytes: usize,
    /// A command was refused while queueing (`CLIENT_DIRTY_EXEC`): EXEC aborts.
    pub failed: bool,
    /// The (database, key) pairs this client watches.
    pub watched: Vec<(usize, Bytes)>,
}

/// CLIENT REPLY's state: Redis's `CLIENT_REPLY_OFF`, `_SKIP_NEXT` and
/// `_SKIP` flags. It silences command replies only: Pub/Sub messages and
/// (un)subscribe confirmations still go out, as Redis pushes them regardless.
#[derive(Debug, Default)]
pub struct ReplySwitch {
    off: bool,
    /// CLIENT REPLY SKIP just ran: the next command's reply is dropped.
    skip_next: bool,
    /// This command's reply is dropped.
    skip: bool,
    /// The command was CLIENT REPLY OFF or SKIP, which answer nothing.
    quiet: bool,
}

impl ReplySwitch {
    /// CLIENT REPLY ON: clears OFF and a pending skip of this command (a
    /// SKIP right before ON skips nothing more).
    pub fn on(&mut self) {
        self.off = false;
        self.skip = false;
    }

    /// CLIENT REPLY OFF.
    pub fn off(&mut self) {
        self.off = true;
    }

    /// CLIENT REPLY SKIP: ignored while OFF, as in Redis.
    pub fn skip(&mut self) {
        if !self.off {
            self.skip_next = true;
        }
    }

    /// CLIENT REPLY OFF or SKIP ran as a command of its own: it has no
    /// reply. (Inside EXEC its slot in EXEC's array stays.)
    pub fn quiet(&mut self) {
        self.quiet = true;
    }

    /// Whether the reply of the command that just ran is dropped.
    pub fn silenced(&self) -> bool {
        self.off || self.skip || self.quiet
    }

    /// After each command (Redis's `resetClient`): a SKIP that just ran
    /// applies to the next command only.
    pub fn command_done(&mut self) {
        self.skip = std::mem::take(&mut self.skip_next);
        self.quiet = false;
    }
}

/// The connection task's own state.
pub struct Client {
    pub id: u64,
    pub db: usize,
    pub resp: Resp,
    /// Close once the replies so far are written (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// Answer inline requests in JSON (`--json`, `json yes`, CLIENT JSON ON).
    pub json: bool,
    pub handle: Arc<ClientHandle>,
    /// Subscriptions and the mailbox of pushed messages.
    pub subs: ClientSubs,
    /// The command wrote its replies to the mailbox (the (un)subscribe
    /// family), so it has no reply of its own.
    pub skip_reply: bool,
    /// The inline line of the last command that replied through the mailbox:
    /// in JSON mode pushed messages are encoded as answers to it.
    pub push_line: Option<Bytes>,
    pub tx: Transaction,
    /// A script of this client is running: its commands come from Redis's
    /// Lua client (MONITOR shows `lua`) and may not block.
    pub in_script: bool,
    /// The script's error reply repeats an error the stats counted when
    /// its command failed: `call` counts it as a failed call only.
    pub error_counted: bool,
    /// CLIENT REPLY ON|OFF|SKIP.
    pub replies: ReplySwitch,
    /// The unconsumed input, the running command's included: the client's
    /// own `qbuf=` while it runs CLIENT LIST or CLIENT INFO, as Redis keeps
    /// a request in the query buffer until it has run.
    pub query_len: usize,
    /// The keys this client is blocked on (BLPOP, ...).
    pub block: LazyBlock,
    /// The wait for the blocked clients its last command woke: its reply
    /// and next command come after their answers.
    pub woke: Option<Arc<crate::blocking::Ticket>>,
    /// Authenticated (Redis's `c->authenticated`): set on connection and by
    /// RESET while the default user needs no password, and by AUTH / HELLO
    /// AUTH. Setting a password later does not log out clients that were
    /// let in without one, as in Redis.
    pub authenticated: bool,
    /// The ACL user (Redis's `c->user`): `default` until AUTH names another.
    pub user: Arc<crate::acl::User>,
    /// `user`'s permissions as of `acl_epoch`.
    permissions: Arc<crate::acl::UserState>,
    acl_epoch: u64,
    /// MONITOR lines of this client's own commands, written after the reply.
    pub monitor_echo: Vec<Vec<u8>>,
    /// Client-side caching flags as this client's commands need them
    /// (`crate::tracking::flag`, CACHING included); the server's
    /// `crate::tracking::Tracking` has the rest.
    pub tracking: u8,
    /// The bytes of this client's BCAST tracking prefixes, for its `tot-mem`.
    pub tracking_prefix_bytes: usize,
    /// The port a replica said it listens on (REPLCONF listening-port).
    pub listening_port: u16,
    /// REPLCONF capa eof: this replica reads a snapshot of unknown length
    /// (`$EOF:<mark>`), so it can be streamed as it is walked.
    pub capa_eof: bool,
    /// REPLCONF rdb-filter-only: the snapshot holds no keys, and the
    /// function libraries only when this is true (None: no filter).
    pub rdb_functions_only: Option<bool>,
    /// Set by SYNC/PSYNC: the connection becomes a replica link.
    /// Boxed, as `wait_acks`: rare, and every connection carries the field.
    pub replica: Option<Box<crate::replication::ReplicaLink>>,
    /// Set by WAIT when too few replicas acknowledged: the connection
    /// waits for more (`crate::replication::WaitAcks`).
    pub wait_acks: Option<Box<crate::replication::WaitAcks>>,
    /// SHUTDOWN waits for the replicas (`shutdown-timeout`): the reply is
    /// an error if the shutdown is given up; the process exits otherwise.
    pub waits_for_shutdown: bool,
    /// Replays the AOF (Redis's fake AOF client): runs while the server
    /// loads, and what it runs is not propagated again.
    pub replaying: bool,
    /// Applies this replica's master's stream (Redis's `CLIENT_MASTER`).
    pub master: bool,
    /// The master's bytes of the command it is running: they go on to this
    /// replica's replicas before the command's locks are released, so a
    /// replica attaching meanwhile gets each command once, in its snapshot
    /// or in its stream.
    pub forward: Option<Bytes>,
    /// The address of the last command noted in `handle`'s info, so that a
    /// run of the same command updates `last_cmd` (under its lock) once.
    last_cmd: usize,
}

impl Client {
    pub fn set_db(&mut self, db: usize) {
        self.db = db;
        self.handle.info().db = db;
    }

    pub fn set_resp(&mut self, resp: Resp) {
        self.resp = resp;
        self.handle.info().resp = resp;
    }

    /// RESET (Redis's `clearClientConnectionState`): no transaction or
    /// watched keys, database 0, RESP2, no name. The library name and version
    /// stay, as in Redis 7.2: they still describe the library behind the connection.
    pub fn reset(&mut self, watches: &Watches) {
        self.discard(watches);
        self.set_db(0);
        self.set_resp(Resp::V2);
        self.handle.info().name = None;
    }

    /// Redis's `authRequired`: commands other than `no_auth` ones are
    /// refused. Costs one load unless the client is not authenticated.
    pub fn auth_required(&self, acl: &crate::acl::Acl) -> bool {
        !self.authenticated && acl.default_requires_auth()
    }

    /// Redis's `clientSetDefaultAuth` (new connection, RESET): the default
    /// user, authenticated only while it needs no password.
    pub fn set_default_auth(&mut self, acl: &crate::acl::Acl) {
        self.set_user(acl.default_user());
        self.set_authenticated(!acl.default_requires_auth());
    }

    /// Logged in or not; mirrored in the handle for a busy script's loop.
    pub fn set_authenticated(&mut self, on: bool) {
        self.authenticated = on;
        self.handle.authenticated.store(on, Ordering::Relaxed);
    }

    /// Authenticates as `user` (AUTH, HELLO AUTH).
    pub fn set_user(&mut self, user: Arc<crate::acl::User>) {
        self.handle.info().user = user.name.clone();
        self.permissions = user.state();
        self.user = user;
        self.acl_epoch = 0;
    }

    /// The user's current permissions: re-read only when some user changed
    /// since this client last looked (one load on the request path). A
    /// client whose user was deleted falls back to the default user,
    /// unauthenticated, as Redis's `ACLFreeUserAndKillClients` leaves it.
    #[inline]
    pub fn permissions(&mut self, acl: &crate::acl::Acl) -> &crate::acl::UserState {
        let epoch = acl.epoch();
        if epoch != self.acl_epoch {
            if self.user.is_deleted() {
                self.set_user(acl.default_user());
                self.set_authenticated(false);
            }
            self.permissions = self.user.state();
            self.acl_epoch = epoch;
        }
        &self.permissions
    }

    /// A watched key was touched since WATCH (`CLIENT_DIRTY_CAS`).
    pub fn is_dirty(&self) -> bool {
        self.handle.dirty_cas.load(Ordering::Relaxed)
    }

    pub fn in_multi(&self) -> bool {
        self.tx.queued.is_some()
    }

    /// Blocking commands answer at once instead of blocking (Redis's
    /// `CLIENT_DENY_BLOCKING`): inside EXEC and inside a script.
    pub fn deny_blocking(&self) -> bool {
        self.in_multi() || self.in_script || self.master
    }

    /// Redis's `mustObeyClient`: the AOF's replay and the master's stream
    /// run what they are given, past the checks for normal clients
    /// (ACLs, read-only replica, `maxmemory`, loading); keys do not expire
    /// under them.
    pub fn must_obey(&self) -> bool {
        self.replaying || self.master
    }

    /// Makes this the master client of a replica: authenticated, never
    /// timed out, shown with flag `M`.
    pub fn set_master(&mut self) {
        self.master = true;
        self.set_authenticated(true);
        self.handle.info().master = true;
    }

    /// Enters MULTI (Redis's `multiCommand`).
    pub fn begin_multi(&mut self) {
        self.tx.queued = Some(Vec::new());
        self.handle.info().multi = Some(0);
    }

    /// Queues a request for EXEC (Redis's `queueMultiCommand`).
    pub fn queue(&mut self, args: &[&[u8]]) {
        if let Some(queued) = &mut self.tx.queued {
            self.tx.queued_bytes += std::mem::size_of::<Vec<Bytes>>()
                + args
                    .iter()
                    .map(|a| a.len() + std::mem::size_of::<Bytes>())
                    .sum::<usize>();
            queued.push(own_args(args));
            self.handle.info().multi = Some(queued.len());
        }
    }

    /// Applies what a busy script's loop answered for this client inside
    /// MULTI (see [`busy_tx`]): a refused command dooms the transaction, a
    /// refused EXEC discarded it.
    pub fn apply_busy_tx(&mut self, watches: &Watches) {
        let done = self.handle.busy_tx.swap(0, Ordering::Relaxed);
        if done & busy_tx::DISCARDED != 0 {
            self.discard(watches);
        }
        if done & busy_tx::ENTERED != 0 && !self.in_multi() {
            self.begin_multi();
        }
        if done & busy_tx::FAILED != 0 && self.in_multi() {
            self.tx.failed = true;
        }
    }

    /// Leaves MULTI and forgets the watched keys (Redis's
    /// `discardTransaction`: DISCARD, the end of EXEC, RESET, disconnection).
    pub fn discard(&mut self, watches: &Watches) {
        self.tx.queued = None;
        self.tx.queued_bytes = 0;
        self.tx.failed = false;
        self.handle.info().multi = None;
        self.unwatch_all(watches);
    }

    /// Forgets every watched key and clears the dirty flag (UNWATCH). Returns
    /// whether a watched key had been touched.
    pub fn unwatch_all(&mut self, watches: &Watches) -> bool {
        self.tx.watched_key_bytes = 0;
        for (db, key) in self.tx.watched.drain(..) {
            watches.unwatch(db, &key, self.id);
        }
        self.handle.dirty_cas.swap(false, Ordering::Relaxed)
    }

    /// Watches `key` in the selected database (Redis's `watchForKey`);
    /// `expired` when it is there but past its TTL.
    pub fn watch(&mut self, watches: &Watches, key: &[u8], expired: bool) {
        if watches.watch(self.db, key, self.id, &self.handle, expired) {
            self.tx.watched.push((self.db, Bytes::copy_from_slice(key)));
            self.tx.watched_key_bytes += key.len();
        }
    }

    /// Records the command being run at `now_ms`, for CLIENT LIST's `cmd=`
    /// and `idle=`.
    pub fn note_command(&mut self, cmd: &Command, now_ms: u64) {
        self.handle
            .last_interaction_ms
            .store(now_ms, Ordering::Relaxed);
        let addr = cmd as *const Command as usize;
        if self.last_cmd != addr {
            self.last_cmd = addr;
            self.handle.info().last_cmd.clone_from(&cmd.name);
        }
    }
}

/// All connected clients, by id (so CLIENT LIST shows them in connection order).
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: std::sync::atomic::AtomicU64,
    /// Their memory, and client eviction.
    pub memory: Arc<ClientMemory>,
}

impl ClientRegistry {
    pub fn new() -> Arc<ClientRegistry> {
        Arc::new_cyclic(|registry| ClientRegistry {
            clients: Mutex::default(),
            next_id: AtomicU64::new(0),
            memory: Arc::new(ClientMemory::new(registry.clone())),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<ClientHandle>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The clients served by the calling thread's event loop, but `except`.
    pub fn on_this_thread(&self, except: u64) -> Vec<Arc<ClientHandle>> {
        let me = std::thread::current().id();
        self.lock()
            .values()
            .filter(|h| h.thread == me && h.id != except)
            .cloned()
            .collect()
    }

    pub fn register(
        &self,
        addr: crate::transport::PeerAddr,
        laddr: crate::transport::PeerAddr,
        fd: i64,
        acl: &crate::acl::Acl,
    ) -> Client {
        let user = acl.default_user();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            fd,
            thread: std::thread::current().id(),
            created: now,
            info: Mutex::new(ClientInfo {
                name: None,
                lib_name: None,
                lib_ver: None,
                db: 0,
                resp: Resp::V2,
                last_cmd: "NULL".into(),
                no_evict: false,
                subscriptions: [0; 3],
                multi: None,
                monitor: false,
                replica: false,
                master: false,
                user: user.name.clone(),
                tracking: 0,
                tracking_redirect: 0,
            }),
            last_interaction_ms: AtomicU64::new(crate::util::now_ms()),
            reply_bytes: AtomicUsize::new(0),
            mailbox_bytes: AtomicUsize::new(0),
            soft_limit: SoftLimitClock::default(),
            mem: ClientMem::default(),
            memory: self.memory.clone(),
            killed: AtomicBool::new(false),
            park: std::sync::atomic::AtomicU8::new(park::ACTIVE),
            doorbell: Doorbell::default(),
            dirty_cas: AtomicBool::new(false),
            busy_tx: std::sync::atomic::AtomicU8::new(0),
            authenticated: AtomicBool::new(true),
            block_signal: std::sync::OnceLock::new(),
            mailbox: Default::default(),
        });
        self.lock().insert(id, handle.clone());
        handle.account_memory();
        let subs = ClientSubs::new(handle.clone());
        let _ = handle.mailbox.set(Arc::downgrade(&subs.mailbox()));
        Client {
            id,
            db: 0,
            resp: Resp::V2,
            close_after_reply: false,
            json: false,
            subs,
            handle,
            skip_reply: false,
            push_line: None,
            replies: ReplySwitch::default(),
            query_len: 0,
            tx: Transaction::default(),
            in_script: false,
            error_counted: false,
            woke: None,
            block: LazyBlock::default(),
            authenticated: true,
            permissions: user.state(),
            acl_epoch: acl.epoch(),
            user,
            monitor_echo: Vec::new(),
            tracking: 0,
            tracking_prefix_bytes: 0,
            listening_port: 0,
            capa_eof: false,
            rdb_functions_only: None,
            replica: None,
            wait_acks: None,
            waits_for_shutdown: false,
            replaying: false,
            master: false,
            forward: None,
            last_cmd: 0,
        }
    }

    pub fn unregister(&self, id: u64) {
        if let Some(handle) = self.lock().remove(&id) {
            self.memory.detach(&handle);
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.lock().get(&id).cloned()
    }

    /// Closes the clients that sent nothing for more than `timeout_secs`
    /// (Redis's `clientsCronHandleTimeout`). Subscribers, monitors and
    /// blocked clients wait on purpose and are left alone, as in Redis.
    pub fn close_idle(&self, timeout_secs: u64) {
        let now = crate::util::now_ms();
        for handle in self.all() {
            let idle_secs =
                now.saturating_sub(handle.last_interaction_ms.load(Ordering::Relaxed)) / 1000;
            if idle_secs > timeout_secs
                && !handle.is_subscriber()
                && !handle.info().monitor
                && !handle.info().master
                && !handle.is_blocked()
            {
                tracing::debug!(id = handle.id, "Closing idle client");
                handle.kill();
            }
        }
    }

    /// Asks the connections of `clients` idle for [`park::IDLE_MS`] to park.
    pub fn park_idle(clients: &[Arc<ClientHandle>]) {
        let now = crate::util::now_ms();
        for handle in clients {
            handle.ask_to_park_if_idle(now);
        }
    }

    /// A snapshot of all handles, so no lock is held while they are inspected.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.lock().values().cloned().collect()
    }
}

/// Parking (`connection::serve_client`, `connection::wait_parked`): a
/// client idle for [`park::IDLE_MS`] gives up its serving task (the read
/// loop's state, about 1.5 KB) until its socket has something, so an idle
/// connection costs its `Client`, its handle and a small task, as an idle
/// Redis client costs little more than its `client` struct. Asked by the server cron, so a busy
/// client never pays for the allocation.
pub mod park {
    /// Serving, or idle for less than `IDLE_MS`.
    pub const ACTIVE: u8 = 0;
    /// The cron asked it to park.
    pub const ASKED: u8 = 1;
    /// Parked, waiting for its socket.
    pub const PARKED: u8 = 2;
    /// It cannot park now (a subscriber, a tracking client, output waiting):
    /// not asked again until it runs a command.
    pub const DECLINED: u8 = 3;
    /// Redis frees an idle client's query buffer after 2 s
    /// (`clientsCronResizeQueryBuffer`).
    pub const IDLE_MS: u64 = 2000;
}

impl ClientInfo {
    /// Subscribed to anything (see [`ClientHandle::is_subscriber`]), for
    /// callers already holding the info lock.
    pub fn is_subscriber(&self) -> bool {
        self.subscriptions.iter().any(|&n| n > 0)
    }
}

/// [`ClientHandle::busy_tx`] bits.
pub mod busy_tx {
    /// A command was refused with `-BUSY` inside MULTI (`flagTransaction`).
    pub const FAILED: u8 = 1;
    /// EXEC was refused with `-EXECABORT` (`execCommandAbort`): the
    /// transaction the client had is gone.
    pub const DISCARDED: u8 = 2;
    /// MULTI was answered `+OK`: the client is in a new transaction (applied
    /// after DISCARDED, before FAILED).
    pub const ENTERED: u8 = 4;
}
