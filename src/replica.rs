//! The replica side of replication (Redis's replication.c): REPLICAOF's
//! state, the link to the master (`connectWithMaster`, `syncWithMaster`,
//! `readSyncBulkPayload`), the master's stream applied as the master
//! client, `REPLCONF ACK` every second and the reconnections of
//! `replicationCron`.
//!
//! One task per master runs the link: connect, handshake (PING, AUTH,
//! REPLCONF listening-port / ip-address / capa), PSYNC, the RDB payload
//! (`$<len>` or the diskless `$EOF:<mark>` form) loaded into the emptied
//! keyspace, then the stream. Every command of the stream goes
//! through `commands::execute` as the master client, so the replica's AOF,
//! keyspace events, WATCH and tracking see it like any write; its replies
//! are dropped but for `REPLCONF GETACK`. When the link fails the task
//! tries again a second later (at once after a link that was up), as
//! Redis's cron does. REPLICAOF aborts the task and starts another.
//!
//! Once a sync succeeded the master is "cached": a reconnection, to it or
//! to another master after REPLICAOF, asks `PSYNC <replid> <offset+1>` and
//! on `+CONTINUE` goes on with the data it has. A master turning replica
//! caches itself the same way; only a replica whose last snapshot failed
//! to load asks `PSYNC ? -1`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::net::TcpStream;

use crate::keyspace::LockSet;
use crate::pause::PauseKind;
use crate::propagate::write_command;
use crate::protocol::{Limits, RequestParser};
use crate::server::{Counter, Server};
use crate::transport::Transport;

/// Where the link to the master is (Redis's `repl_state`, as ROLE names it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LinkState {
    /// Waiting to connect (again).
    Connect,
    Connecting,
    /// PING to PSYNC.
    Handshake,
    /// Receiving the snapshot.
    Transfer,
    Connected,
}

impl LinkState {
    /// ROLE's word for it.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The snapshot being received (INFO `master_sync_*`).
#[derive(Default, Clone, Copy)]
pub struct Transfer {
    /// Announced size (0 for the diskless `$EOF:` form).
    pub size: u64,
    pub read: u64,
    /// Unix seconds of the last bytes.
    pub last_io: u64,
}

struct State {
    master: Option<(String, u16)>,
    link: LinkState,
    task: Option<tokio::task::AbortHandle>,
    /// Unix seconds of the last bytes from the master while connected.
    last_io: u64,
    /// Unix seconds the link went down (0: never was up).
    down_since: u64,
    transfer: Transfer,
    /// Shuts the link's socket down when CLIENT KILL kills the master
    /// client ([`MasterLink::close`]).
    closer: Option<socket2::Socket>,
    /// Redis's cached master: this server's replication id and offset
    /// describe its data, so a (re)connection asks `PSYNC <replid>
    /// <offset+1>`. Set when a sync completes and when a master turns
    /// replica (it caches itself); cleared when a full sync's snapshot is
    /// about to be loaded and by REPLICAOF NO ONE.
    cached: bool,
}

/// This server as a replica: which master, and how the link is.
pub struct MasterLink {
    state: Mutex<State>,
    /// Stream bytes read but not applied yet (a command not complete).
    read_ahead: AtomicU64,
}

/// A replica's state as INFO replication and ROLE show it.
pub struct LinkInfo {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    pub last_io: u64,
    pub down_since: u64,
    pub transfer: Transfer,
    pub read_ahead: u64,
}

impl Default for MasterLink {
    fn default() -> MasterLink {
        MasterLink {
            state: Mutex::new(State {
                master: None,
                link: LinkState::Connect,
                task: None,
                last_io: 0,
                down_since: 0,
                transfer: Transfer::default(),
                closer: None,
                cached: false,
            }),
            read_ahead: AtomicU64::new(0),
        }
    }
}

fn unix_secs() -> u64 {
    crate::util::now_ms() / 1000
}

/// Why a link ended, as the log says it.
type LinkError = String;

impl MasterLink {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The master, when this server is a replica.
    pub fn master(&self) -> Option<(String, u16)> {
        self.lock().master.clone()
    }

    pub fn is_replica(&self) -> bool {
        self.lock().master.is_some()
    }

    /// Whether the link is up (`master_link_status:up`).
    pub fn is_connected(&self) -> bool {
        self.lock().link == LinkState::Connected
    }

    pub fn info(&self) -> Option<LinkInfo> {
        let state = self.lock();
        let (host, port) = state.master.clone()?;
        Some(LinkInfo {
            host,
            port,
            state: state.link,
            last_io: state.last_io,
            down_since: state.down_since,
            transfer: state.transfer,
            read_ahead: self.read_ahead.load(Ordering::Relaxed),
        })
    }

    /// CLIENT KILL of the master client: the socket is shut down now, so
    /// the master sees the link drop even if this server stalls before the
    /// link's task gets to the kill (DEBUG SLEEP in the same transaction),
    /// as Redis frees the master client at once.
    pub fn close(&self) {
        if let Some(socket) = self.lock().closer.take() {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }

    fn set_link(&self, link: LinkState) {
        let mut state = self.lock();
        if state.link == LinkState::Connected && link != LinkState::Connected {
            state.down_since = unix_secs();
        }
        if link == LinkState::Connected {
            state.down_since = 0;
        }
        state.link = link;
    }

    fn touch(&self) {
        self.lock().last_io = unix_secs();
    }

    fn transfer(&self, f: impl FnOnce(&mut Transfer)) {
        let mut state = self.lock();
        f(&mut state.transfer);
        state.transfer.last_io = unix_secs();
    }
}

/// Redis's `replicationSetMaster` (REPLICAOF host port, `replicaof` at
/// start-up): this server follows `host:port` from now on; its data stays
/// until the first snapshot replaces it.
pub fn set_master(server: &Arc<Server>, host: &str, port: u16) {
    let mut state = server.master_link.lock();
    if let Some(task) = state.task.take() {
        task.abort();
    }
    state.master = Some((host.to_string(), port));
    state.link = LinkState::Connect;
    if !server.keyspace.is_replica() {
        tracing::info!("Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.");
        state.cached = true;
    }
    // Redis's `disconnectAllBlockedClients`: what they wait for is the
    // master's to decide now.
    for client in server.clients.all() {
        client.unblock(crate::blocking::Unblock::RoleChange);
    }
    state.transfer = Transfer::default();
    server.keyspace.set_replica(true);
    server.replication.set_proxying(true);
    server.config.set_replicaof(Some((host, port)));
    let _ = server.oom_score.apply(&server.config, true);
    tracing::info!("Connecting to MASTER {host}:{port}");
    let task = tokio::spawn(follow(server.clone(), host.to_string(), port));
    state.task = Some(task.abort_handle());
}

/// Redis's `replicationUnsetMaster` (REPLICAOF NO ONE): a master again,
/// with its data, under a new replication id.
pub fn unset_master(server: &Server) {
    let mut state = server.master_link.lock();
    if let Some(task) = state.task.take() {
        task.abort();
    }
    state.master = None;
    state.link = LinkState::Connect;
    state.down_since = 0;
    state.cached = false;
    drop(state);
    server.keyspace.set_replica(false);
    server.keyspace.replica_keys.forget_all();
    server.replication.set_proxying(false);
    server.replication.shift_replid();
    server.config.set_replicaof(None);
    let _ = server.oom_score.apply(&server.config, false);
}

/// The link's task: connects, syncs and follows the stream; when that
/// fails, tries again a second later (at once when the link had been up).
async fn follow(server: Arc<Server>, host: String, port: u16) {
    let link = &server.master_link;
    loop {
        link.set_link(LinkState::Connecting);
        let mut was_up = false;
        let why = sync_and_follow(&server, &host, port, &mut was_up).await;
        link.set_link(LinkState::Connect);
        link.read_ahead.store(0, Ordering::Relaxed);
        tracing::warn!("{why}");
        if was_up {
            tracing::info!("Reconnecting to MASTER {host}:{port}");
        } else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            tracing::info!("Connecting to MASTER {host}:{port}");
        }
    }
}

/// The socket to the master and what was read from it.
struct Conn {
    socket: Transport,
    input: BytesMut,
}

impl Conn {
    async fn send(&mut self, commands: &[&[&[u8]]]) -> Result<(), LinkError> {
        let mut out = Vec::new();
        for args in commands {
            write_command(&mut out, args);
        }
        self.socket
            .write_all(&out)
            .await
            .map_err(|e| format!("Sending command to master in replication handshake: {e}"))
    }

    async fn fill(&mut self, server: &Server) -> Result<(), LinkError> {
        if self.input.capacity() - self.input.len() < 16 * 1024 {
            self.input.reserve(64 * 1024);
        }
        match self.socket.read_buf(&mut self.input).await {
            Ok(0) => Err("Connection with master lost.".to_string()),
            Ok(n) => {
                server.stats.add(Counter::NetInputBytes, n as u64);
                Ok(())
            }
            Err(e) => Err(format!("Error reading from MASTER: {e}")),
        }
    }

    /// One line without its `\r\n` (Redis's `connSyncReadLine`); an empty
    /// line is the master's keep-alive. Waiting for it longer than
    /// `repl-timeout` fails the attempt, as Redis's cron does.
    async fn line(&mut self, server: &Server) -> Result<Vec<u8>, LinkError> {
        let timeout = Duration::from_secs(server.config.repl_timeout().max(1));
        loop {
            if let Some(end) = memchr::memchr(b'\n', &self.input) {
                let mut line = self.input.split_to(end + 1).to_vec();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            match tokio::time::timeout(timeout, self.fill(server)).await {
                Ok(result) => result?,
                Err(_) => return Err("Timeout connecting to the MASTER...".into()),
            }
        }
    }
}

/// A connection to the master from `source` (`bind-source-addr`) when set:
/// Redis's `anetTcpNonBlockBestEffortBindConnect`, which connects from
/// wherever the system picks if that address cannot be bound.
async fn connect_from(host: &str, port: u16, source: Option<&str>) -> std::io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect((host, port)).await;
    };
    let mut last = None;
    for at in tokio::net::lookup_host((host, port)).await? {
        let socket = if at.is_ipv6() {
            tokio::net::TcpSocket::new_v6()?
        } else {
            tokio::net::TcpSocket::new_v4()?
        };
        if let Ok(from) = source.parse::<std::net::IpAddr>() {
            let _ = socket.bind(std::net::SocketAddr::new(from, 0));
        }
        match socket.connect(at).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no address for the master")))
}

/// One connection to the master, from the connect to the loss of the link.
/// Returns why it ended; `was_up` tells whether the sync had completed.
async fn sync_and_follow(
    server: &Arc<Server>,
    host: &str,
    port: u16,
    was_up: &mut bool,
) -> LinkError {
    let timeout = Duration::from_secs(server.config.repl_timeout().max(1));
    let source = server.config.bind_source_addr();
    let connect = connect_from(host, port, source.as_deref());
    let socket = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(socket)) => socket,
        Ok(Err(e)) => return format!("Unable to connect to MASTER: {e}"),
        Err(_) => return "Timeout connecting to the MASTER...".to_string(),
    };
    let _ = socket.set_nodelay(true);
    let socket = if server.config.tls_replication() {
        let Some(tls) = server.tls.connector() else {
            return "TLS is not configured for the link to the MASTER".to_string();
        };
        match tokio::time::timeout(timeout, crate::tls::connect(tls, host, socket)).await {
            Ok(Ok(socket)) => socket,
            Ok(Err(e)) => return format!("Unable to connect to MASTER: {e}"),
            Err(_) => return "Timeout connecting to the MASTER...".to_string(),
        }
    } else {
        Transport::Tcp(socket)
    };
    tracing::info!("MASTER <-> REPLICA sync started");
    let mut conn = Conn {
        socket,
        input: BytesMut::new(),
    };
    let cached = server.master_link.lock().cached;
    let stream_db = match handshake(server, &mut conn, cached).await {
        Ok(Sync::Full { replid, offset }) => {
            match receive_snapshot(server, &mut conn, &replid, offset).await {
                Ok(db) => db,
                Err(why) => return why,
            }
        }
        Ok(Sync::Continue) => {
            server.master_link.set_link(LinkState::Connected);
            server.master_link.touch();
            server.replication.stream_db()
        }
        Err(why) => return why,
    };
    *was_up = true;
    // A lost link leaves the master cached (Redis's `replicationCacheMaster`).
    server.master_link.lock().cached = true;
    follow_stream(server, conn, stream_db).await
}

/// How the master answered PSYNC.
enum Sync {
    /// `+FULLRESYNC <replid> <offset>`: a snapshot follows.
    Full { replid: String, offset: u64 },
    /// `+CONTINUE`: the stream goes on from this server's offset.
    Continue,
}

/// PING, AUTH, REPLCONF, PSYNC (Redis's `syncWithMaster`): with a cached
/// master, PSYNC asks to go on from this server's replication id and
/// offset; the master's answer says whether a snapshot follows.
async fn handshake(server: &Server, conn: &mut Conn, cached: bool) -> Result<Sync, LinkError> {
    let link = &server.master_link;
    tracing::info!("Non blocking connect for SYNC fired the event.");
    link.set_link(LinkState::Handshake);
    conn.send(&[&[b"PING"]]).await?;
    let pong = conn.line(server).await?;
    let accepted = pong.starts_with(b"+")
        || pong.starts_with(b"-NOAUTH")
        || pong.starts_with(b"-NOPERM")
        || pong.starts_with(b"-ERR operation not permitted");
    if !accepted {
        return Err(format!(
            "Error reply to PING from master: '{}'",
            String::from_utf8_lossy(&pong)
        ));
    }
    tracing::info!("Master replied to PING, replication can continue...");
    let config = &server.config;
    let auth = config.masterauth();
    let user = config.masteruser();
    let port = match config.replica_announce_port() {
        // The master reaches this replica where it listens as it does.
        0 if config.tls_replication() => config.tls_port().to_string(),
        0 => server.tcp_port.load(Ordering::Relaxed).to_string(),
        port => port.to_string(),
    };
    let announce_ip = config.replica_announce_ip();
    let mut commands: Vec<Vec<&[u8]>> = Vec::new();
    if let Some(auth) = &auth {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(user) = &user {
            args.push(user);
        }
        args.push(auth);
        commands.push(args);
    }
    commands.push(vec![b"REPLCONF", b"listening-port", port.as_bytes()]);
    if let Some(ip) = &announce_ip {
        commands.push(vec![b"REPLCONF", b"ip-address", ip.as_bytes()]);
    }
    commands.push(vec![b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]);
    let commands: Vec<&[&[u8]]> = commands.iter().map(Vec::as_slice).collect();
    conn.send(&commands).await?;
    if auth.is_some() {
        let reply = conn.line(server).await?;
        if reply.starts_with(b"-") {
            return Err(format!(
                "Unable to AUTH to MASTER: {}",
                String::from_utf8_lossy(&reply)
            ));
        }
    }
    let mut optional = vec!["listening-port"];
    if announce_ip.is_some() {
        optional.push("ip-address");
    }
    optional.push("capa");
    for what in optional {
        let reply = conn.line(server).await?;
        if reply.starts_with(b"-") {
            tracing::info!(
                "(Non critical) Master does not understand REPLCONF {what}: {}",
                String::from_utf8_lossy(&reply)
            );
        }
    }
    if cached {
        let (replid, next) = (server.replication.replid(), server.replication.offset() + 1);
        tracing::info!("Trying a partial resynchronization (request {replid}:{next}).");
        let next = next.to_string();
        conn.send(&[&[b"PSYNC", replid.as_bytes(), next.as_bytes()]])
            .await?;
    } else {
        tracing::info!("Partial resynchronization not possible (no cached master)");
        conn.send(&[&[b"PSYNC", b"?", b"-1"]]).await?;
    }
    let reply = loop {
        // The master may send newlines while it prepares its reply.
        let line = conn.line(server).await?;
        if !line.is_empty() {
            break String::from_utf8_lossy(&line).into_owned();
        }
    };
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC") {
        let mut parts = rest.split_whitespace();
        let replid = parts.next().filter(|id| id.len() == 40);
        let offset = parts.next().and_then(|o| o.parse::<u64>().ok());
        return match (replid, offset) {
            (Some(replid), Some(offset)) => {
                tracing::info!("Full resync from master: {replid}:{offset}");
                Ok(Sync::Full {
                    replid: replid.to_string(),
                    offset,
                })
            }
            _ => Err("Master replied with wrong +FULLRESYNC syntax.".into()),
        };
    }
    if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        tracing::info!("Successful partial resynchronization with master.");
        if let Some(replid) = rest.split_whitespace().next().filter(|id| id.len() == 40) {
            server.replication.continue_as(replid);
        }
        tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        return Ok(Sync::Continue);
    }
    if reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING") {
        return Err(format!(
            "Master is currently unable to PSYNC but should be in the future: {reply}"
        ));
    }
    if reply.starts_with("-ERR") {
        return Err(format!(
            "Master does not support PSYNC or is in error state (reply: {reply})"
        ));
    }
    Err(format!("Unexpected reply to PSYNC from master: {reply}"))
}

/// Redis's `readSyncBulkPayload`: reads the snapshot, then empties the
/// keyspace and loads it, taking on the master's replication id and offset.
async fn receive_snapshot(
    server: &Server,
    conn: &mut Conn,
    replid: &str,
    offset: u64,
) -> Result<usize, LinkError> {
    let link = &server.master_link;
    link.set_link(LinkState::Transfer);
    let header = loop {
        let line = conn.line(server).await?;
        match line.first() {
            None => link.transfer(|_| {}),
            Some(b'-') => {
                return Err(format!(
                    "MASTER aborted replication with an error: {}",
                    String::from_utf8_lossy(&line[1..])
                ))
            }
            Some(b'$') => break line,
            Some(_) => {
                return Err(format!(
                    "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you sure the host and port are right?",
                    String::from_utf8_lossy(&line)
                ))
            }
        }
    };
    let _shown = LoadingShown::start(server, replid);
    let payload = if header.starts_with(b"$EOF:") && header.len() >= 45 {
        let mark = header[5..45].to_vec();
        tracing::info!(
            "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk"
        );
        link.transfer(|t| *t = Transfer::default());
        read_until_mark(server, conn, &mark).await?
    } else {
        let size = std::str::from_utf8(&header[1..])
            .ok()
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| {
                format!(
                    "Bad protocol from MASTER, the first byte is not '$' (we received '{}'), are you sure the host and port are right?",
                    String::from_utf8_lossy(&header)
                )
            })?;
        tracing::info!("MASTER <-> REPLICA sync: receiving {size} bytes from master to disk");
        link.transfer(|t| {
            *t = Transfer {
                size,
                ..Transfer::default()
            }
        });
        read_exactly(server, conn, size).await?
    };
    load_snapshot(server, &payload, replid, offset)
}

/// Redis's `startLoading`/`stopLoading` around a snapshot its replica
/// loads as it arrives (`repl-diskless-load`): `swapdb` always, keeping
/// the old data until the new is complete, served meanwhile when the
/// snapshot continues this replica's history (`async_loading`: the
/// master's replid is ours) or answered `-LOADING` when not; `on-empty-db`
/// when there is no data to lose. Ours gathers the snapshot, then swaps
/// it in under every shard's lock; clients see what Redis's see.
struct LoadingShown<'s> {
    server: &'s Server,
    async_loading: bool,
}

impl<'s> LoadingShown<'s> {
    fn start(server: &'s Server, replid: &str) -> Option<LoadingShown<'s>> {
        use crate::config::DisklessLoad;
        let empty = || (0..server.keyspace.databases()).all(|db| server.keyspace.db_keys(db) == 0);
        let async_loading = match server.config.repl_diskless_load() {
            DisklessLoad::Swapdb => server.replication.replid() == replid,
            DisklessLoad::OnEmptyDb if empty() => false,
            _ => return None,
        };
        if async_loading {
            server.set_async_loading(true);
        } else {
            server.set_loading(true);
        }
        Some(LoadingShown {
            server,
            async_loading,
        })
    }
}

impl Drop for LoadingShown<'_> {
    /// Loaded, or the transfer failed (the old data is still there).
    fn drop(&mut self) {
        if self.async_loading {
            self.server.set_async_loading(false);
        } else {
            self.server.set_loading(false);
        }
    }
}

/// The diskless form: everything up to the 40-byte mark the master
/// announced.
async fn read_until_mark(
    server: &Server,
    conn: &mut Conn,
    mark: &[u8],
) -> Result<Vec<u8>, LinkError> {
    let mut payload = Vec::new();
    loop {
        let searched_from = payload.len().saturating_sub(mark.len() - 1);
        payload.extend_from_slice(&conn.input);
        conn.input.clear();
        if let Some(at) = memchr::memmem::find(&payload[searched_from..], mark) {
            let end = searched_from + at;
            // What follows the mark is the stream.
            conn.input.extend_from_slice(&payload[end + mark.len()..]);
            payload.truncate(end);
            return Ok(payload);
        }
        let read = payload.len() as u64;
        server.master_link.transfer(|t| t.read = read);
        read_more(server, conn).await?;
    }
}

/// The `$<len>` form: `size` bytes.
async fn read_exactly(server: &Server, conn: &mut Conn, size: u64) -> Result<Vec<u8>, LinkError> {
    let mut payload = Vec::new();
    loop {
        let missing = (size - payload.len() as u64) as usize;
        let take = missing.min(conn.input.len());
        payload.extend_from_slice(&conn.input[..take]);
        conn.input.advance(take);
        let read = payload.len() as u64;
        server.master_link.transfer(|t| t.read = read);
        if read == size {
            return Ok(payload);
        }
        read_more(server, conn).await?;
    }
}

/// More of the snapshot, within `repl-timeout`.
async fn read_more(server: &Server, conn: &mut Conn) -> Result<(), LinkError> {
    let timeout = Duration::from_secs(server.config.repl_timeout().max(1));
    match tokio::time::timeout(timeout, conn.fill(server)).await {
        Ok(result) => result.map_err(|e| format!("I/O error trying to sync with MASTER: {e}")),
        Err(_) => Err("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.".into()),
    }
}

/// Empties every database and loads the master's snapshot, every shard
/// locked, so no client sees half of it and the replica's own replicas
/// (which must sync again) cannot attach in between. Returns the database
/// the master's stream is in (`repl-stream-db`: a replica master's stream
/// goes on without a SELECT).
fn load_snapshot(
    server: &Server,
    payload: &[u8],
    replid: &str,
    offset: u64,
) -> Result<usize, LinkError> {
    // Redis's `replicationDiscardCachedMaster`, once the snapshot is here
    // (a transfer that fails leaves the data, and the cache, as they
    // were): from now on the data is not the old history's to go on from.
    server.master_link.lock().cached = false;
    tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
    let mut set = LockSet::new();
    set.add_all(&server.keyspace);
    let mut guard = server.keyspace.lock(set).unpropagated();
    let clock = crate::keyspace::CommandClock::default();
    let mut removed = Vec::new();
    for db in 0..server.keyspace.databases() {
        removed.extend(guard.db(db, &clock).clear());
    }
    server.keyspace.replica_keys.forget_all();
    // Emptying is not a change to propagate or save.
    guard.command_done(true);
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    let summary = match crate::persistence::load_data(server, &mut guard, payload, false) {
        Ok(summary) => summary,
        Err(e) => {
            guard.release();
            if let crate::persistence::LoadError::Corrupt(why) = e {
                tracing::warn!(
                    "Internal error in RDB reading offset 0, function at rdb.c:0 -> {why}"
                );
            }
            return Err("Failed trying to load the MASTER synchronization DB from socket".into());
        }
    };
    let stream_db = (summary.aux.iter())
        .find(|(name, _)| name == "repl-stream-db")
        .and_then(|(_, db)| db.parse::<usize>().ok())
        .filter(|&db| db < server.keyspace.databases())
        .unwrap_or(0);
    server.replication.adopt(replid, offset);
    // The AOF holds what it held before the sync: it starts over from the
    // new data (Redis's `restartAOFAfterSYNC`).
    if server.aof.state() != crate::aof::State::Off {
        let _ = crate::aof::rewrite::start(server, &mut guard);
    }
    guard.release();
    drop(removed);
    server.master_link.set_link(LinkState::Connected);
    server.master_link.touch();
    tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    Ok(stream_db)
}

/// The master client: registered so CLIENT LIST shows it (flag `M`),
/// gone when the link ends, however it ends.
struct MasterClient<'s> {
    server: &'s Server,
    client: crate::client::Client,
}

impl Drop for MasterClient<'_> {
    fn drop(&mut self) {
        self.server.master_link.lock().closer = None;
        self.client.discard(&self.server.keyspace.watches);
        self.server.clients.unregister(self.client.id);
    }
}

/// `REPLCONF ACK <offset>` (Redis's `replicationSendAck`).
fn ack(out: &mut Vec<u8>, offset: u64) {
    let offset = offset.to_string();
    write_command(out, &[b"REPLCONF".as_slice(), b"ACK", offset.as_bytes()]);
}

/// Applies the master's stream as the master client, acknowledging the
/// offset every second and when asked (REPLCONF GETACK), until the link
/// fails or stays silent past `repl-timeout`.
async fn follow_stream(server: &Server, conn: Conn, stream_db: usize) -> LinkError {
    let Conn { mut socket, input } = conn;
    let mut input = input;
    let Ok((peer, local)) = socket.addrs() else {
        return "Connection with master lost.".into();
    };
    let fd = socket.fd();
    let mut master = MasterClient {
        server,
        client: server.clients.register(peer, local, fd, &server.acl),
    };
    master.client.set_master();
    master.client.set_db(stream_db);
    server.master_link.lock().closer = socket.closer();
    // CLIENT KILL drops the link; it is made again at once.
    let handle = master.client.handle.clone();
    let mut parser = RequestParser::default();
    let mut out = Vec::new();
    ack(&mut out, server.replication.offset());
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let held = match apply(
            server,
            &mut master.client,
            &mut parser,
            &mut input,
            &mut out,
        ) {
            Ok(held) => held,
            Err(why) => return why,
        };
        server
            .master_link
            .read_ahead
            .store(input.len() as u64, Ordering::Relaxed);
        if !out.is_empty() {
            if let Err(e) = socket.write_all(&out).await {
                return format!("Error writing to MASTER: {e}");
            }
            out.clear();
        }
        if input.capacity() - input.len() < 16 * 1024 {
            input.reserve(64 * 1024);
        }
        tokio::select! {
            _ = handle.killed() => return "Connection with master lost.".into(),
            read = socket.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => return "Connection with master lost.".into(),
                Ok(n) => {
                    server.stats.add(Counter::NetInputBytes, n as u64);
                    server.master_link.touch();
                }
            },
            () = server.pause.wait(|kind| kind != PauseKind::Off), if held => {}
            _ = ticks.tick() => {
                let idle = unix_secs().saturating_sub(server.master_link.lock().last_io);
                if idle > server.config.repl_timeout() {
                    return "MASTER timeout: no data nor PING received...".into();
                }
                ack(&mut out, server.replication.offset());
            }
        }
    }
}

/// Runs every complete command in `input` as the master client; the
/// bytes of each go on to this server's own replicas and count in its
/// offset once it ran. Stops at a command a CLIENT PAUSE holds back (Redis
/// postpones its master client too: the stream is read, `slave_read_repl_offset`
/// grows, but not applied) and returns true then.
fn apply(
    server: &Server,
    client: &mut crate::client::Client,
    parser: &mut RequestParser,
    input: &mut BytesMut,
    out: &mut Vec<u8>,
) -> Result<bool, LinkError> {
    // A master is trusted as Redis trusts it: no bulk length limit.
    let limits = Limits {
        max_bulk_len: u64::MAX,
        unauthenticated: false,
    };
    loop {
        let request = match parser.parse(input, limits) {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(false),
            Err(e) => {
                return Err(format!(
                    "Protocol error from MASTER: {}",
                    String::from_utf8_lossy(&e.0)
                ))
            }
        };
        let args = parser.args(&request, input);
        let getack = args.len() >= 2
            && args[0].eq_ignore_ascii_case(b"replconf")
            && args[1].eq_ignore_ascii_case(b"getack");
        if crate::commands::held_by_pause(server, client, &args, server.pause.kind()) {
            return Ok(true);
        }
        let bytes = bytes::Bytes::copy_from_slice(&input[..request.len]);
        if getack {
            ack(out, server.replication.offset());
        } else if !args.is_empty() {
            // Forwarded under the command's locks (`commands::dispatch`),
            // or below when it took none (queued in MULTI, refused).
            client.forward = Some(bytes.clone());
            let reply = crate::commands::execute(server, client, &args);
            crate::commands::error_unread(server, &args, &reply, true);
        }
        drop(args);
        let unforwarded = client.forward.take().is_some();
        if getack || unforwarded {
            server.replication.feed_from_master(&bytes, client.db);
        }
        input.advance(request.len);
    }
}
