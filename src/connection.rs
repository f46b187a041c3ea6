//! One client connection: read, run every complete request, write all replies once.
//!
//! Pipelining is the fast path: a read may bring many requests, and their
//! replies go out together in one write, never one write per reply.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;

use bytes::{Buf, Bytes, BytesMut};
use tokio::net::{TcpStream, UnixStream};
use tokio::task::JoinSet;

use crate::blocking::Unblock;
use crate::client::{park, Client, ClientHandle, Doorbell};
use crate::client_memory::ClientMem;
use crate::commands::{execute, held_by_pause};
use crate::pause::PauseKind;
use crate::protocol::{
    borrow_args, encode, encode_json, own_args, peek, Limits, Reply, RequestParser,
};
use crate::server::{Counter, Server};
use crate::transport::{PeerAddr, Transport};

/// Read buffer growth step; large values arrive in chunks of at least this.
const READ_CHUNK: usize = 16 * 1024;

/// A big bulk up to this long gets its whole room as soon as its header is
/// read, as Redis sizes the query buffer for a big argument at once; a
/// longer one grows toward its end in steps ([`make_room`]).
const BULK_ROOM_AT_ONCE: usize = 1024 * 1024;

/// Replies beyond this are written out before the rest of a batch runs, so a
/// huge pipeline does not buffer all of its replies.
const OUTPUT_FLUSH_AT: usize = 1024 * 1024;

/// The reply buffer kept between batches of a busy client: replies of a
/// few hundred bytes (most) reuse it, bigger ones free theirs when written.
const OUTPUT_KEPT: usize = 1024;

/// Replies are held to `client-output-buffer-limit` from this size on:
/// checking costs a settings read, and smaller limits would close clients
/// for replies as small as a bulk header.
const OUTPUT_LIMIT_CHECKED_FROM: usize = 4 * 1024;

/// How many requests past the running one are looked at (see [`Lookahead`]).
const LOOKAHEAD: usize = 2;

/// Requests looked at before their turn, so that their keys' memory is on
/// its way while earlier ones run: over a keyspace bigger than the CPU
/// caches, a pipelined batch otherwise waits for memory miss after miss,
/// request after request (BENCHMARKS.md, `prefetch`). A request's table
/// lines are fetched when it is first seen, up to [`LOOKAHEAD`] requests
/// ahead; its slot when it is next, once those lines had time to arrive.
#[derive(Default)]
struct Lookahead {
    /// How far into the input requests have been looked at.
    seen: usize,
    /// The key hashes of the requests looked at, next first (`None`: no key).
    hashes: [Option<u64>; LOOKAHEAD],
    len: usize,
}

impl Lookahead {
    fn forget(&mut self) {
        (self.seen, self.len) = (0, 0);
    }

    /// Follows a request of `consumed` bytes about to run, `input` being the
    /// bytes after it, and looks further ahead.
    fn advance(&mut self, server: &Server, db: usize, input: &[u8], consumed: usize) {
        if self.len > 0 && self.seen >= consumed {
            self.seen -= consumed;
            self.hashes.copy_within(1.., 0);
            self.len -= 1;
            // The next request's table lines were asked for a command ago.
            if let Some(Some(hash)) = self.hashes[..self.len].first() {
                server.keyspace.prefetch_slot(db, *hash);
            }
        } else {
            // Not the request we looked at (inline, or not arrived then).
            self.forget();
        }
        while self.len < LOOKAHEAD {
            let Some(next) = peek(input, self.seen) else {
                break;
            };
            self.hashes[self.len] = next
                .key
                .map(|(start, end)| server.keyspace.prefetch_table(db, &input[start..end]));
            self.len += 1;
            self.seen = next.end;
        }
    }
}

/// Redis's reply to a client refused by protected mode, before it closes.
const PROTECTED_MODE_DENIED: &[u8] =
    b"-DENIED Redis is running in protected mode because protected \
mode is enabled and no password is set for the default user. In this mode connections are only \
accepted from the loopback interface. If you want to connect from external computers to Redis you \
may adopt one of the following solutions: 1) Just disable protected mode sending the command \
'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same \
host the server is running, however MAKE SURE Redis is not publicly accessible from internet if \
you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just \
disable the protected mode by editing the Redis configuration file, and setting the protected \
mode option to 'no', and then restarting the server. 3) If you started the server manually just \
for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication \
password for the default user. NOTE: You only need to do one of the above things in order for \
the server to start accepting connections from the outside.\r\n";

/// Protected mode (on by default) with no password lets in only local
/// clients ([`crate::client::is_local_peer`]).
pub(crate) fn denied_by_protected_mode(server: &Server, peer: &PeerAddr) -> bool {
    !peer.is_local() && server.config.protected_mode() && server.acl.default_is_nopass()
}

/// Redis's `anetKeepAlive` with `tcp-keepalive` seconds (0: off): probes
/// after that long idle, then every third of it, dropping the peer after 3
/// unanswered, so dead peers are noticed and middleboxes keep the flow.
fn set_keepalive(socket: &TcpStream, secs: u32) {
    if secs == 0 {
        return;
    }
    let idle = std::time::Duration::from_secs(u64::from(secs));
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval((idle / 3).max(std::time::Duration::from_secs(1)))
        .with_retries(3);
    if let Err(e) = socket2::SockRef::from(socket).set_tcp_keepalive(&keepalive) {
        tracing::debug!("cannot set TCP keepalive: {e}");
    }
}

/// A socket just accepted, as its listener's kind says: TCP (with TLS on
/// the TLS port), or a unix socket (with its path).
pub enum Accepted {
    Tcp(TcpStream, SocketAddr, bool),
    Unix(UnixStream, Arc<str>),
}

/// An [`Accepted`] socket on its way to another event loop (out of this
/// loop's reactor).
pub enum Handoff {
    Tcp(std::net::TcpStream, SocketAddr, bool),
    Unix(std::os::unix::net::UnixStream, Arc<str>),
}

impl Accepted {
    pub fn into_handoff(self) -> std::io::Result<Handoff> {
        Ok(match self {
            Accepted::Tcp(socket, addr, tls) => Handoff::Tcp(socket.into_std()?, addr, tls),
            Accepted::Unix(socket, path) => Handoff::Unix(socket.into_std()?, path),
        })
    }
}

impl Handoff {
    /// Joins the current loop's reactor.
    pub fn into_accepted(self) -> std::io::Result<Accepted> {
        Ok(match self {
            Handoff::Tcp(socket, addr, tls) => {
                Accepted::Tcp(TcpStream::from_std(socket)?, addr, tls)
            }
            Handoff::Unix(socket, path) => Accepted::Unix(UnixStream::from_std(socket)?, path),
        })
    }
}

/// Sets up an accepted socket (TCP options, the TLS handshake) and serves
/// it. A failed handshake is logged as Redis logs it and closes the socket.
pub async fn start(server: Arc<Server>, accepted: Accepted) {
    let (socket, addr, laddr) = match accepted {
        Accepted::Tcp(socket, addr, tls) => {
            let _ = socket.set_nodelay(true);
            set_keepalive(&socket, server.config.tcp_keepalive());
            let laddr = PeerAddr::Ip(socket.local_addr().unwrap_or(addr));
            let socket = if tls {
                let Some(config) = server.tls.acceptor(server.config.tls_auth_clients()) else {
                    return;
                };
                // Boxed: the session under handshake would otherwise make
                // every connection's future (plain ones too) bigger.
                match Box::pin(crate::tls::accept(config, socket)).await {
                    Ok(socket) => socket,
                    Err(e) => {
                        tracing::warn!("Error accepting a client connection: {e}");
                        return;
                    }
                }
            } else {
                Transport::Tcp(socket)
            };
            (socket, PeerAddr::Ip(addr), laddr)
        }
        Accepted::Unix(socket, path) => (
            Transport::Unix(socket),
            PeerAddr::Unix(path.clone()),
            PeerAddr::Unix(path),
        ),
    };
    serve(server, socket, addr, laddr).await;
}

async fn serve(server: Arc<Server>, mut socket: Transport, addr: PeerAddr, laddr: PeerAddr) {
    // Logged in while a busy script held this loop (taken first, so that
    // no later socket with this descriptor inherits it).
    #[cfg(unix)]
    let login = crate::scripting::busy_loop::take_login(socket.fd() as std::os::fd::RawFd);
    if server.clients.len() as u64 >= server.config.maxclients() {
        server
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = socket
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    if denied_by_protected_mode(&server, &addr) {
        server
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = socket.write_all(PROTECTED_MODE_DENIED).await;
        return;
    }
    server
        .stats
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    let fd = socket.fd();
    let mut client = server
        .clients
        .register(addr.clone(), laddr, fd, &server.acl);
    client.json = server.config.json();
    client.set_default_auth(&server.acl);
    #[cfg(unix)]
    if let Some(user) = login {
        client.set_user(user);
        client.set_authenticated(true);
    }
    tracing::debug!("Accepted {addr}");
    // A task of its own: this one (the TLS handshake, the checks above)
    // ends, and its state with it.
    tokio::spawn(serve_client(server, socket, client));
}

/// Serves `client` until it closes, or parks (`client::park`): then a
/// small task holds the client and its socket ([`wait_parked`]) and this
/// one ends, so an idle connection does not keep this task's state. An
/// async block rather than an async fn (here and in [`wait_parked`]): what
/// it captures is its only copy of the client, where an async fn's
/// coroutine would also keep its arguments' moved-to locals.
#[allow(clippy::manual_async_fn)]
fn serve_client(
    server: Arc<Server>,
    mut socket: Transport,
    mut client: Client,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        // A kill (CLIENT KILL, an output buffer limit) ends the connection
        // even while it waits on a write to a client that does not read.
        let handle = client.handle.clone();
        let ran = tokio::select! {
            biased;
            _ = handle.killed() => Ok(Ran::Closed),
            ran = run(&server, &mut client, &mut socket) => ran,
        };
        match ran {
            Ok(Ran::Parked) => {
                handle.set_park_state(park::PARKED);
                tokio::spawn(wait_parked(server, socket, client));
            }
            // SHUTDOWN's own client: the process exit closes its socket.
            Ok(Ran::Closed) if server.exiting.load(Ordering::Acquire) => {
                std::future::pending::<()>().await;
                drop(socket);
            }
            Ok(Ran::Closed) => close(&server, client, Ok(())),
            Err(e) => close(&server, client, Err(e)),
        }
    }
}

/// A parked connection: waits for its socket to have something or its
/// doorbell to ring (a kill, a push), then a new task serves it.
// Not an async fn: see `serve_client`.
#[allow(clippy::manual_async_fn)]
fn wait_parked(
    server: Arc<Server>,
    socket: Transport,
    client: Client,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        // Polled by hand rather than a `select!` over `readable()` and a
        // doorbell future: their waiter state made this task, which every
        // idle connection keeps, a 768-byte allocation instead of 512.
        let mut listened = false;
        let woke = std::future::poll_fn(|cx| match socket.poll_read_ready(cx) {
            Poll::Ready(ready) => Poll::Ready(ready),
            Poll::Pending => client.handle.poll_rung(cx, &mut listened).map(Ok),
        })
        .await;
        client.handle.set_park_state(park::ACTIVE);
        match woke {
            Ok(()) => {
                tokio::spawn(serve_client(server, socket, client));
            }
            Err(e) => close(&server, client, Err(e)),
        }
    }
}

/// A connection's end: the client leaves everything it took part in.
fn close(server: &Server, mut client: Client, result: std::io::Result<()>) {
    if let Err(e) = result {
        tracing::debug!(id = client.id, "connection error: {e}");
    }
    server.pubsub.leave(&mut client.subs);
    if client.tracking != 0 {
        server.tracking.disable(client.id);
    }
    server.monitors.remove(client.id);
    server.replication.remove(client.id);
    // A client that never blocked has nothing to leave.
    if let Some(signal) = client.handle.block_signal_if_made() {
        let mut block = client.block.take();
        server
            .keyspace
            .blocking
            .leave(client.id, signal, &mut block, Vec::new());
    }
    client.discard(&server.keyspace.watches);
    server.clients.unregister(client.id);
    tracing::debug!(
        "Client closed connection id={} addr={}",
        client.id,
        client.handle.addr
    );
}

/// How [`run`] ended.
enum Ran {
    /// The connection is over.
    Closed,
    /// Asked to park while it had nothing to do: wait for the socket.
    Parked,
}

async fn run(server: &Server, client: &mut Client, socket: &mut Transport) -> std::io::Result<Ran> {
    // No read buffer while waiting: the loop's spare is taken when there is
    // something to read and given back once every request ran
    // ([`SpareInput`]); the reply buffer is allocated when there is
    // something to answer, and kept small ([`keep_reply_room`]).
    let mut input = BytesMut::new();
    let mut output = BytesMut::new();
    let mut parser = RequestParser::default();
    let mut lookahead = Lookahead::default();
    let handle = client.handle.clone();
    // The output buffer limit's watchdog, from the first subscription on (only
    // a subscriber gets pushes); dropping the set when the connection ends
    // stops it.
    let mut watchdog = JoinSet::new();
    loop {
        make_room(&mut input, parser.wanted());
        let room = input.capacity() - input.len();
        let n = match socket.try_read_buf(&mut input) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // Nothing to read: wait holding no read buffer (the loop's
                // next client to read takes it) and at most a small reply
                // buffer; a parked client holds neither, as an idle Redis
                // client holds no query buffer and no reply buffer.
                SpareInput::give_back(&mut input);
                keep_reply_room(&mut output, &handle.mem);
                client.publish_memory(
                    (parser.progress(input.len()), input.capacity()),
                    reply_room(&output, &handle.mem),
                );
                // Replies the client has not taken yet wait for it to read
                // (or to send more, which is read and run meanwhile).
                let unwritten = !output.is_empty();
                tokio::select! {
                    biased;
                    ready = socket.readable() => ready?,
                    ready = socket.writable(), if unwritten || socket.unsent() => {
                        ready?;
                        write_some(server, &handle, socket, &mut output).await?;
                    }
                    push = client.subs.recv() => {
                        // A subscriber's pushes wait for the socket here,
                        // the next ones in its mailbox, where the pubsub
                        // output limits see them (`limit_watchdog`).
                        encode_push(client, &push, &mut output);
                        drain_pushes(client, &mut output);
                        flush(server, &handle, socket, &mut output).await?;
                    }
                    () = handle.asked_to_park() => {
                        // Only a client that waits for nothing but its
                        // socket parks: pushes (subscriptions, tracking,
                        // MONITOR) and unwritten replies need this loop.
                        let waits_for_more = unwritten
                            || socket.unsent()
                            || !input.is_empty()
                            || !watchdog.is_empty()
                            || client.subs.active()
                            || client.tracking != 0
                            || handle.info().monitor;
                        if !waits_for_more {
                            return Ok(Ran::Parked);
                        }
                        handle.set_park_state(park::DECLINED);
                    }
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(Ran::Closed);
        }
        handle.note_active();
        server.stats.add(Counter::NetInputBytes, n as u64);
        client.publish_memory(
            (parser.progress(input.len()), input.capacity()),
            reply_room(&output, &handle.mem),
        );
        if handle.is_killed() {
            // Evicted (`maxmemory-clients`) for what it sent.
            return Ok(Ran::Closed);
        }
        if input.len() as u64 > server.config.client_query_buffer_limit() {
            tracing::warn!(
                id = client.id,
                "closing client that reached max query buffer length"
            );
            return Ok(Ran::Closed);
        }
        let mut ran = 0;
        let closing = run_buffered(
            server,
            client,
            &mut parser,
            &mut lookahead,
            &mut input,
            &mut output,
            socket,
            &mut ran,
        )
        .await?;
        // Every request ran: the read buffer goes back to the loop before
        // the replies are written (other clients may read meanwhile).
        SpareInput::give_back(&mut input);
        if handle.is_killed() {
            return Ok(Ran::Closed);
        }
        // BCAST invalidations go out once the pending requests ran, as
        // Redis sends them before it sleeps.
        if server.tracking.broadcast_due() {
            server.tracking.broadcast();
            drain_pushes(client, &mut output);
        }
        if watchdog.is_empty() && client.subs.active() {
            watchdog.spawn(client.subs.limit_watchdog(&server.pubsub));
        }
        if closing || client.replica.is_some() {
            // Everything out before the connection closes or carries the
            // replication stream.
            flush(server, &handle, socket, &mut output).await?;
        } else {
            // What the socket does not take now stays buffered: the client
            // may be writing a long pipeline before it reads any reply, and
            // its requests are read and run meanwhile, as Redis does.
            if ran > 1 {
                // A pipeline's replies go out after the other ready clients
                // ran theirs, as Redis writes every client's replies at the
                // end of its event loop round: the clients then find
                // several replies each time they wake. Written at once, a
                // benchmark client of 50 pipelines woke twice as often as
                // with Redis (`SET -P 16`: 65k context switches for 2M
                // requests, Redis 34k), and each wake-up costs both sides
                // kernel time (BENCHMARKS.md, session 17). A lone request
                // is answered at once, for its latency.
                tokio::task::yield_now().await;
            }
            write_some(server, &handle, socket, &mut output).await?;
        }
        // A big reply's room goes at once, not when the client next waits:
        // the next request may already be here, and its command should not
        // run (nor `used_memory` be read) with it.
        keep_reply_room(&mut output, &handle.mem);
        if Doorbell::woke_from_here() {
            // The batch pushed to clients of this loop (invalidations of the
            // keys it changed or evicted, messages it published): they write
            // them before this client's next request runs, as Redis writes
            // every client's output before it reads again. Otherwise a
            // client whose next request is already here keeps the loop, and
            // the pushes it queued count in `used_memory` for that request:
            // eviction's invalidations then evicted more keys, whose
            // invalidations evicted more (unit/maxmemory "client tracking
            // don't cause eviction feedback loop").
            tokio::task::yield_now().await;
        }
        if closing {
            return Ok(Ran::Closed);
        }
        client.publish_memory(
            (parser.progress(input.len()), input.capacity()),
            reply_room(&output, &handle.mem),
        );
        if handle.is_killed() {
            // Evicted for the replies it has not read.
            return Ok(Ran::Closed);
        }
        if let Some(link) = client.replica.take() {
            // SYNC/PSYNC: from now on this connection carries the stream,
            // and its memory is a replica's (`mem_clients_slaves`).
            server.clients.memory.detach(&handle);
            handle.info().replica = true;
            Box::pin(crate::replication::serve(server, socket, *link)).await?;
            return Ok(Ran::Closed);
        }
        // A read that filled all the room offered likely left more of a big
        // pipeline in the socket: let the other ready clients take their turn
        // first, as Redis reads at most 16 KiB per client per event loop round,
        // so no client waits for whole batches of the clients before it.
        // A big bulk still arriving is read on at once, as Redis reads
        // the rest of a big argument in one read.
        if n == room && parser.wanted() <= input.len() {
            tokio::task::yield_now().await;
        }
    }
}

/// Redis's `closeClientOnOutputBufferLimitReached` for replies encoded and
/// not yet written: the `normal` class's limits, or `pubsub`'s for a
/// subscriber (whose mailbox counts too).
fn over_output_limit(server: &Server, client: &Client, output: &BytesMut) -> bool {
    let handle = &client.handle;
    let class = if client.subs.active() { 2 } else { 0 };
    let limit = server.config.client_output_buffer_limits()[class];
    if limit.hard_bytes == 0 && limit.soft_bytes == 0 {
        return false;
    }
    let used = output.len() + handle.mailbox_bytes.load(Ordering::Relaxed);
    let over = handle.soft_limit.over(used as u64, limit);
    if over {
        tracing::warn!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            handle.describe()
        );
    }
    over
}

/// Makes room in `input` for the next read once less than a quarter of a
/// [`READ_CHUNK`] is left (and less than the bulk arriving still needs): a
/// [`READ_CHUNK`] more, or for a big bulk whose
/// header said how long it is (`wanted`: the buffer length that completes
/// it), up to its end: at once up to [`BULK_ROOM_AT_ONCE`], as Redis sizes
/// the query buffer for a big argument (so its memory shows in `tot-mem`,
/// and counts for `maxmemory-clients`, before its bytes are all here:
/// unit/client-eviction reads `tot-mem` just after sending one), and past
/// that in steps of at most eight times what the buffer holds, so a client
/// that announces hundreds of MB gets room only as it sends them. A big
/// bulk's allocations are exact, so the last one ends where the bulk does
/// and two clients sending the same bulk hold the same memory (`tot-mem`),
/// however their bytes were cut.
fn make_room(input: &mut BytesMut, wanted: usize) {
    if input.capacity() == 0 {
        *input = SpareInput::take();
    }
    let room = input.capacity() - input.len();
    let missing = wanted.saturating_sub(input.len());
    if room >= READ_CHUNK / 4 || (missing > 0 && room >= missing) {
        // Room to read into, or for the rest of the bulk arriving.
        return;
    }
    if missing > READ_CHUNK {
        let step = missing.min((input.len().max(READ_CHUNK) * 8).max(BULK_ROOM_AT_ONCE));
        let mut bigger = BytesMut::with_capacity(input.len() + step);
        bigger.extend_from_slice(input);
        *input = bigger;
    } else {
        input.reserve(READ_CHUNK);
    }
}

/// The reply buffer's allocation while it holds replies: an empty one keeps
/// at most [`OUTPUT_KEPT`] bytes, freed when the client parks, and counts
/// for nothing, so a client's figure does not depend on whether its next
/// request came before it waited. `capacity()` counts from the unsent bytes
/// on; what was written before them and is still allocated is added
/// ([`written_front`]).
fn reply_room(output: &BytesMut, mem: &ClientMem) -> usize {
    if output.is_empty() {
        return 0;
    }
    output.capacity() + written_front(output, mem)
}

/// The written bytes still allocated in front of `output`'s unsent ones.
/// Redis counts its reply blocks whole and frees them as they are written;
/// a `BytesMut` keeps what was written in front of the rest until it moves
/// the rest back to the start (then the start moves back by exactly that
/// much), and a reallocation carries that front into the new allocation
/// (the start moves elsewhere, the front stays as long). Left out, twenty
/// clients not reading their MGET replies held megabytes uncounted, and
/// `used_memory` reached `maxmemory` (keys evicted) while the clients still
/// looked under `maxmemory-clients` (unit/maxmemory).
fn written_front(output: &BytesMut, mem: &ClientMem) -> usize {
    let front = mem.written_front.load(Ordering::Relaxed);
    if front == 0 {
        return 0;
    }
    let start = output.as_ptr() as usize;
    let recorded = mem.written_front_ends_at.load(Ordering::Relaxed);
    if start == recorded {
        return front;
    }
    if recorded.checked_sub(front) == Some(start) {
        // Moved back to the start of the same allocation: no front now.
        mem.written_front.store(0, Ordering::Relaxed);
        return 0;
    }
    // Reallocated, front and all.
    mem.written_front_ends_at.store(start, Ordering::Relaxed);
    front
}

/// After writing `written` bytes of `output`, which had `front` written
/// bytes before them ([`written_front`] before the write): moves what is
/// left to the start of the allocation when what was written before it is
/// at least as long (a copy that costs no more than the writing did), and
/// otherwise records the front and where the rest starts.
fn note_written_front(output: &mut BytesMut, written: usize, front: usize, mem: &ClientMem) {
    if written == 0 {
        return;
    }
    let spare = output.capacity() - output.len();
    // False when less than the rest was written: that front stays, under
    // half of the allocation.
    if !output.is_empty() && output.try_reclaim(spare + 1) {
        mem.written_front.store(0, Ordering::Relaxed);
        return;
    }
    mem.written_front.store(front + written, Ordering::Relaxed);
    mem.written_front_ends_at
        .store(output.as_ptr() as usize, Ordering::Relaxed);
}

/// A new reply buffer replaces the old one: nothing written is in front of
/// it.
fn replace_replies(output: &mut BytesMut, mem: &ClientMem) {
    *output = BytesMut::new();
    mem.written_front.store(0, Ordering::Relaxed);
}

/// An empty reply buffer keeps its allocation for the client's next replies
/// up to [`OUTPUT_KEPT`] bytes (a small allocation, freed when the client
/// parks); a bigger one goes. `capacity()` counts from the unsent bytes on:
/// reclaiming the written front first shows the whole allocation.
fn keep_reply_room(output: &mut BytesMut, mem: &ClientMem) {
    if !output.is_empty() || output.capacity() == 0 {
        return;
    }
    if output.try_reclaim(1) && output.capacity() <= OUTPUT_KEPT {
        mem.written_front.store(0, Ordering::Relaxed);
    } else {
        replace_replies(output, mem);
    }
}

thread_local! {
    /// The event loop's spare read buffer ([`SpareInput`]).
    static SPARE_INPUT: std::cell::RefCell<BytesMut> = std::cell::RefCell::default();
}

/// An event loop's spare read buffer: a client whose requests have all
/// run gives its empty read buffer back here rather than freeing it, and
/// the loop's next client to read takes it. A client sending one request at
/// a time then neither allocates nor frees a 16 KB buffer per request (7% of
/// the instructions of `SET`/`GET` at `-P 1`, BENCHMARKS.md session 18), and
/// a client waiting for its next request holds no read buffer, as Redis 7.4
/// shares one query buffer per thread. A client whose request is still
/// arriving keeps its own.
struct SpareInput;

impl SpareInput {
    /// The loop's spare read buffer, or an empty one (no allocation).
    fn take() -> BytesMut {
        SPARE_INPUT.with(|spare| std::mem::take(&mut *spare.borrow_mut()))
    }

    /// Gives `input` back to the loop when it is empty: kept when the loop
    /// has no spare and it is a normal read buffer's size (a big argument's
    /// room goes, as Redis shrinks a query buffer over
    /// `PROTO_RESIZE_THRESHOLD`), freed otherwise.
    fn give_back(input: &mut BytesMut) {
        if !input.is_empty() || input.capacity() == 0 {
            return;
        }
        let mut buf = std::mem::take(input);
        // All of its allocation, from the start (false while a value still
        // shares it).
        if !buf.try_reclaim(1) || buf.capacity() > 2 * READ_CHUNK {
            return;
        }
        SPARE_INPUT.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.capacity() == 0 {
                *spare = buf;
            }
        });
    }
}

/// Runs every complete request in `input`, counting them in `ran`. Returns
/// true when the connection must close after the replies are written
/// (QUIT, protocol error).
#[allow(clippy::too_many_arguments)]
async fn run_buffered(
    server: &Server,
    client: &mut Client,
    parser: &mut RequestParser,
    lookahead: &mut Lookahead,
    input: &mut BytesMut,
    output: &mut BytesMut,
    socket: &mut Transport,
    ran: &mut usize,
) -> std::io::Result<bool> {
    loop {
        let limits = Limits {
            max_bulk_len: server.config.proto_max_bulk_len(),
            unauthenticated: client.auth_required(&server.acl),
        };
        let request = match parser.parse(input, limits) {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(false),
            Err(e) => {
                encode_reply(client, e.1.as_ref(), &e.reply(), output);
                tracing::debug!(
                    id = client.id,
                    "protocol error: {}",
                    String::from_utf8_lossy(&e.0)
                );
                return Ok(true);
            }
        };
        if server.keyspace.prefetch_pays(client.db) {
            lookahead.advance(server, client.db, &input[request.len..], request.len);
        } else {
            lookahead.forget();
        }
        client.skip_reply = false;
        client.query_len = input.len();
        let args = parser.args(&request, input);
        let paused = server.pause.kind();
        if paused != PauseKind::Off && held_by_pause(server, client, &args, paused) {
            // CLIENT PAUSE: the request waits here until the pause ends.
            flush(server, &client.handle.clone(), socket, output).await?;
            let client = &*client;
            server
                .pause
                .wait(|kind| held_by_pause(server, client, &args, kind))
                .await;
        }
        let mut reply = execute(server, client, &args);
        *ran += 1;
        // The socket is read while the client waits: the arguments must
        // leave the read buffer.
        let blocked = client.block.pending.is_some().then(|| own_args(&args));
        drop(args);
        if let Some(args) = blocked {
            // Boxed: its state would otherwise sit in every connection's
            // future, blocked or not.
            let args = borrow_args(&args);
            let wait = Box::pin(wait_blocked(server, client, &args, input, output, socket));
            match wait.await? {
                Some(r) => reply = r,
                None => return Ok(true),
            }
        }
        await_woken(client).await;
        if let Some(wait) = client.wait_acks.take() {
            flush(server, &client.handle.clone(), socket, output).await?;
            reply = Reply::from(wait.wait(&server.replication).await as i64);
        }
        if std::mem::take(&mut client.waits_for_shutdown) {
            flush(server, &client.handle.clone(), socket, output).await?;
            loop {
                let cancelled = server.shutdown_cancelled.notified();
                if !server.shutdown_waiting() {
                    break;
                }
                cancelled.await;
            }
            // Still here: given up (the process exits otherwise).
            reply = Reply::error(crate::commands::server::SHUTDOWN_FAILED);
        }
        input.advance(request.len);
        // A killed client (CLIENT KILL from elsewhere, SHUTDOWN) gets no more
        // replies: Redis frees it with its output buffer.
        if client.handle.is_killed() {
            return Ok(true);
        }
        if client.skip_reply {
            client.push_line = request.line().cloned();
        }
        // Pushes queued while the command ran (its own confirmations, a
        // message it published to itself) precede its reply, as in Redis.
        drain_pushes(client, output);
        if !client.skip_reply && !client.replies.silenced() {
            encode_reply(client, request.line(), &reply, output);
        }
        if client.tracking != 0 {
            // Invalidations the command caused to the client's own keys
            // follow its reply.
            server.tracking.send_deferred(client.id);
            drain_pushes(client, output);
        }
        for line in client.monitor_echo.drain(..) {
            encode(&Reply::Simple(line.into()), client.resp, output);
        }
        client.replies.command_done();
        if client.close_after_reply {
            return Ok(true);
        }
        if output.len() >= OUTPUT_LIMIT_CHECKED_FROM && over_output_limit(server, client, output) {
            // Redis frees the client with its output buffer: nothing of
            // this batch is written.
            output.clear();
            return Ok(true);
        }
        if output.capacity() > crate::client_memory::SMALL_BUFFERS
            && client.handle.memory.evicting_clients()
        {
            // Redis accounts a client's memory after each command
            // (`updateClientMemUsageAndBucket`) and evicts clients before
            // the next one's key eviction. A batch of many big replies
            // (twenty clients sending MGETs of 100 KB values, not reading)
            // grew megabytes unaccounted until it ended: the next command's
            // key eviction met them in `used_memory` while the clients still
            // looked under `maxmemory-clients`, and evicted keys instead of
            // clients (unit/maxmemory "eviction due to output buffers of many
            // MGET clients, client eviction: true").
            client.publish_memory(
                (parser.progress(input.len()), input.capacity()),
                reply_room(output, &client.handle.mem),
            );
            if client.handle.is_killed() {
                // Evicted itself: the rest of the batch does not run.
                return Ok(true);
            }
        }
        if output.len() >= OUTPUT_FLUSH_AT {
            write_some(server, &client.handle.clone(), socket, output).await?;
        }
    }
}

/// Waits while the command just run left the client blocked on keys: a key
/// signal runs the command again (it pops, or keeps waiting when someone got
/// there first, or the key holds another type, as Redis keeps such a client
/// blocked); the deadline and CLIENT UNBLOCK end the wait with their replies.
/// The socket is still read meanwhile (pipelined requests wait in `input`);
/// None when the client hung up or overflowed its query buffer, which leaves
/// every queue at once, so a later push is not lost on it.
async fn wait_blocked(
    server: &Server,
    client: &mut Client,
    args: &[&[u8]],
    input: &mut BytesMut,
    output: &mut BytesMut,
    socket: &mut Transport,
) -> std::io::Result<Option<Reply>> {
    let handle = client.handle.clone();
    let result = flush(server, &handle, socket, output).await;
    let signal = client.handle.block_signal().clone();
    let deadline = client.block.pending.take().and_then(|p| p.deadline);
    let (outcome, tickets) = loop {
        if result.is_err() {
            break (None, Vec::new());
        }
        let timeout = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            woken = signal.woken() => match woken {
                Some(Unblock::Timeout) => break (Some(Reply::NullArray), Vec::new()),
                Some(Unblock::Error) => {
                    let reply = Reply::error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
                    crate::commands::unblocked_with_error(server, args, &reply);
                    break (Some(reply), Vec::new());
                }
                Some(Unblock::RoleChange) => {
                    let reply = Reply::error("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)");
                    crate::commands::unblocked_with_error(server, args, &reply);
                    client.close_after_reply = true;
                    break (Some(reply), Vec::new());
                }
                None => {
                    client.block.tickets = signal.take_tickets();
                    let reply = execute(server, client, args);
                    if reply.is_error() && client.block.take_final_error() {
                        break (Some(reply), std::mem::take(&mut client.block.tickets));
                    } else if reply.is_error() {
                        server.keyspace.blocking.pass_on(client.id, &client.block);
                    }
                    let tickets = std::mem::take(&mut client.block.tickets);
                    let served = !reply.is_error() && client.block.pending.take().is_none();
                    if served {
                        break (Some(reply), tickets);
                    }
                    crate::blocking::answer(tickets);
                }
            },
            _ = timeout => break (Some(Reply::NullArray), Vec::new()),
            // A RESP3 client may block while subscribed: messages still arrive.
            push = client.subs.recv() => {
                encode_push(client, &push, output);
                drain_pushes(client, output);
                if flush(server, &handle, socket, output).await.is_err() {
                    break (None, Vec::new());
                }
            }
            read = socket.read_buf(input) => match read {
                Ok(n) if n > 0 => {
                    server.stats.add(Counter::NetInputBytes, n as u64);
                    if input.len() as u64 > server.config.client_query_buffer_limit() {
                        break (None, Vec::new());
                    }
                }
                _ => break (None, Vec::new()),
            },
        }
    };
    server
        .keyspace
        .blocking
        .leave(client.id, &signal, &mut client.block, tickets);
    result.map(|()| outcome)
}

/// Waits until the blocked clients the last command woke have tried their
/// commands (see [`crate::blocking::Ticket`]): Redis serves them before the
/// writer's reply and next command.
async fn await_woken(client: &mut Client) {
    if let Some(ticket) = client.woke.take() {
        ticket.settled().await;
    }
}

/// Encodes a reply for this client: JSON for an inline request in JSON mode,
/// otherwise RESP2 or RESP3 as the client chose. RESP requests always get RESP.
fn encode_reply(client: &Client, inline: Option<&Bytes>, reply: &Reply, output: &mut BytesMut) {
    match inline {
        Some(line) if client.json => encode_json(line, reply, output),
        _ => encode(reply, client.resp, output),
    }
}

/// Encodes a pushed message or confirmation. In JSON mode, once the client
/// subscribed with an inline request, pushes are JSON answers to that
/// (P|S)SUBSCRIBE line, one object per push.
fn encode_push(client: &Client, push: &Reply, output: &mut BytesMut) {
    encode_reply(client, client.push_line.as_ref(), push, output);
}

/// Encodes every push waiting in the client's mailbox.
fn drain_pushes(client: &mut Client, output: &mut BytesMut) {
    while let Some(push) = client.subs.try_recv() {
        encode_push(client, &push, output);
    }
}

/// Writes what of `output` the socket takes now, without waiting; the rest
/// stays in `output` (the client's `omem`).
async fn write_some(
    server: &Server,
    handle: &ClientHandle,
    socket: &mut Transport,
    output: &mut BytesMut,
) -> std::io::Result<()> {
    if output.is_empty() && !socket.unsent() {
        return Ok(());
    }
    // No reply before the AOF holds the writes it may show (and, with
    // `appendfsync always`, the disk does).
    server.aof.settle().await;
    let front = written_front(output, &handle.mem);
    let mut written = 0;
    while !output.is_empty() {
        match socket.try_write(output) {
            Ok(n) => {
                server.stats.add(Counter::NetOutputBytes, n as u64);
                output.advance(n);
                written += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    note_written_front(output, written, front, &handle.mem);
    if output.is_empty() && socket.unsent() {
        // TLS records of replies already taken: an empty write sends them.
        match socket.try_write(&[]) {
            Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => return Err(e),
            _ => {}
        }
    }
    if !output.is_empty() || handle.reply_bytes.load(Ordering::Relaxed) != 0 {
        handle.reply_bytes.store(output.len(), Ordering::Relaxed);
    }
    Ok(())
}

/// Writes `output` out: what the socket takes at once ([`write_some`]),
/// then the rest as the socket becomes writable.
async fn flush(
    server: &Server,
    handle: &ClientHandle,
    socket: &mut Transport,
    output: &mut BytesMut,
) -> std::io::Result<()> {
    write_some(server, handle, socket, output).await?;
    if !output.is_empty() || socket.unsent() {
        // What the client has not taken shows as its `omem` meanwhile
        // (`write_some` left it there).
        let result = socket.write_all(output).await;
        handle.reply_bytes.store(0, Ordering::Relaxed);
        result?;
        server
            .stats
            .add(Counter::NetOutputBytes, output.len() as u64);
        output.clear();
    }
    Ok(())
}
