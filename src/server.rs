//! The shared server state and the TCP listeners.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::Notify;

use crate::client::ClientRegistry;
use crate::commands::{CommandTable, ErrorStats};
use crate::config::Config;
use crate::connection;
use crate::keyspace::{spawn_active_expiry, Keyspace};
use crate::protocol::Reply;
use crate::pubsub::PubSub;
use crate::util::now_ms;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Redis version we speak for (HELLO, INFO `redis_version`): clients pick
/// features by it.
pub const REDIS_VERSION: &str = "7.0.15";

/// Counters behind INFO stats.
#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub error_replies: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    /// INFO errorstats.
    pub errors: ErrorStats,
    /// Recent rates of commands, input and output bytes.
    rates: Mutex<[Rate; 3]>,
}

/// Samples kept per instantaneous metric (Redis's `STATS_METRIC_SAMPLES`).
const RATE_SAMPLES: usize = 16;

/// How often the rates are sampled: Redis's `serverCron` does it every 100 ms.
const RATE_PERIOD: Duration = Duration::from_millis(100);

/// One instantaneous metric (Redis's `trackInstantaneousMetric`): the
/// per-second rate of a counter over the last 16 samples.
#[derive(Default, Clone, Copy)]
struct Rate {
    last_count: u64,
    last_ms: u64,
    samples: [u64; RATE_SAMPLES],
    next: usize,
}

impl Rate {
    fn track(&mut self, count: u64, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        let delta = count.saturating_sub(self.last_count);
        self.samples[self.next] = delta.saturating_mul(1000).checked_div(elapsed).unwrap_or(0);
        self.next = (self.next + 1) % RATE_SAMPLES;
        self.last_count = count;
        self.last_ms = now_ms;
    }

    fn per_sec(&self) -> u64 {
        self.samples.iter().sum::<u64>() / RATE_SAMPLES as u64
    }
}

/// INFO's `instantaneous_*` fields.
pub struct Instantaneous {
    pub ops_per_sec: u64,
    pub input_bytes_per_sec: u64,
    pub output_bytes_per_sec: u64,
}

impl Stats {
    /// Counts a command that ran, and its reply if an error.
    pub fn command_done(&self, reply: &Reply) {
        self.commands_processed.fetch_add(1, Ordering::Relaxed);
        self.error_reply(reply);
    }

    /// Counts an error reply (INFO `total_error_replies` and errorstats).
    pub fn error_reply(&self, reply: &Reply) {
        if reply.is_error() {
            self.error_replies.fetch_add(1, Ordering::Relaxed);
            self.errors.count(reply);
        }
    }

    /// Counts a command refused before it ran (unknown, wrong arity): an
    /// error reply for INFO, though not a processed command, as in Redis.
    pub fn rejected(&self, reply: Reply) -> Reply {
        self.error_reply(&reply);
        reply
    }

    /// Counts a key lookup as a hit or a miss (INFO `keyspace_hits`/`keyspace_misses`).
    pub fn lookup(&self, hit: bool) {
        let counter = if hit {
            &self.keyspace_hits
        } else {
            &self.keyspace_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn rates(&self) -> std::sync::MutexGuard<'_, [Rate; 3]> {
        self.rates.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn counters(&self) -> [u64; 3] {
        [
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }

    /// Takes one sample of each instantaneous metric.
    fn sample(&self) {
        let counts = self.counters();
        let now = now_ms();
        for (rate, count) in self.rates().iter_mut().zip(counts) {
            rate.track(count, now);
        }
    }

    pub fn instantaneous(&self) -> Instantaneous {
        let [ops, input, output] = self.rates().map(|r| r.per_sec());
        Instantaneous {
            ops_per_sec: ops,
            input_bytes_per_sec: input,
            output_bytes_per_sec: output,
        }
    }

    /// CONFIG RESETSTAT (Redis's `resetServerStats`): every counter back to zero.
    pub fn reset(&self) {
        for counter in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.error_replies,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.keyspace_hits,
            &self.keyspace_misses,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        *self.rates() = Default::default();
        self.errors.reset();
    }
}

/// Everything connections share.
pub struct Server {
    pub config: Arc<Config>,
    pub keyspace: Arc<Keyspace>,
    /// Subscriptions; the keyspace holds it too, for expiry notifications.
    pub pubsub: Arc<PubSub>,
    pub commands: CommandTable,
    pub clients: ClientRegistry,
    pub stats: Stats,
    pub started: Instant,
    /// 40 hex characters identifying this run (INFO `run_id`).
    pub run_id: String,
    /// The port actually bound (differs from the config when it said 0).
    pub tcp_port: AtomicU64,
    /// Notified by SHUTDOWN.
    pub shutdown: Notify,
    /// Hands new listeners to the accept loops (CONFIG SET port); None
    /// until the server listens.
    rebind: Mutex<Option<UnboundedSender<Vec<std::net::TcpListener>>>>,
}

impl Server {
    pub fn new(config: Config) -> Server {
        let config = Arc::new(config);
        let pubsub = Arc::new(PubSub::new(config.clone()));
        let keyspace = Arc::new(Keyspace::new(config.databases()).notifying(pubsub.clone()));
        let run_id = (0..40)
            .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
            .collect();
        Server {
            config,
            keyspace,
            pubsub,
            commands: CommandTable::build(),
            clients: ClientRegistry::default(),
            stats: Stats::default(),
            started: Instant::now(),
            run_id,
            tcp_port: AtomicU64::new(0),
            shutdown: Notify::new(),
            rebind: Mutex::new(None),
        }
    }

    /// Redis's `changeListenPort` (CONFIG SET port): binds `port` on every
    /// `bind` address, then the accept loops serve those instead of the old
    /// listeners, which close. Nothing changes when a bind fails.
    /// Established connections stay, as in Redis.
    pub fn listen_on(&self, port: u16) -> std::io::Result<()> {
        let mut listeners = Vec::new();
        for addr in self.config.bind() {
            let listener = std::net::TcpListener::bind((addr.trim_start_matches('-'), port))?;
            listener.set_nonblocking(true)?;
            listeners.push(listener);
        }
        let rebind = self.rebind.lock().unwrap_or_else(|e| e.into_inner());
        match rebind.as_ref().map(|tx| tx.send(listeners)) {
            Some(Ok(())) => Ok(()),
            _ => Err(std::io::Error::other("the server does not listen yet")),
        }
    }
}

/// Binds every configured address, then serves until SIGINT, SIGTERM or SHUTDOWN.
pub async fn run(config: Config) -> std::io::Result<()> {
    let signals = Signals::install();
    let server = Arc::new(Server::new(config));
    // Port 0 picks a free port on the first address; the other addresses and
    // CONFIG GET port then use that same port.
    let mut port = server.config.port();
    let mut listeners = Vec::new();
    for addr in server.config.bind() {
        let addr = addr.trim_start_matches('-');
        let listener = TcpListener::bind((addr, port)).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("Could not create server TCP listening socket {addr}:{port}: {e}"),
            )
        })?;
        let local = listener.local_addr()?;
        if port == 0 {
            port = local.port();
            let _ = server
                .config
                .set(&[(b"port".as_slice(), port.to_string().as_bytes())]);
        }
        server
            .tcp_port
            .store(local.port() as u64, Ordering::Relaxed);
        tracing::info!("Ready to accept connections tcp on {local}");
        listeners.push(listener);
    }
    tracing::info!(
        "reddish {VERSION} (Redis {REDIS_VERSION} compatible) started, pid {}",
        std::process::id()
    );
    spawn_active_expiry(server.keyspace.clone(), server.config.clone());
    tokio::spawn(sample_rates(server.clone()));
    let loops = Arc::new(EventLoops::start(&server));
    let (rebind, rebinds) = unbounded_channel();
    *server.rebind.lock().unwrap_or_else(|e| e.into_inner()) = Some(rebind);
    tokio::spawn(serve_listeners(server.clone(), listeners, loops, rebinds));
    signals.wait(&server).await;
    tracing::info!("reddish is now ready to exit, bye bye...");
    Ok(())
}

/// Samples the instantaneous metrics, like Redis's `serverCron`.
async fn sample_rates(server: Arc<Server>) {
    let mut tick = tokio::time::interval(RATE_PERIOD);
    loop {
        tick.tick().await;
        server.stats.sample();
    }
}

/// A socket accepted on the first event loop, on its way to another one.
type Handoff = (std::net::TcpStream, SocketAddr);

/// The event loops connections are dealt to round-robin, thread per core:
/// `io-threads` single-threaded runtimes, the caller's first. A connection
/// stays on its loop for life, so a request costs no cross-thread wake-up,
/// work stealing or migration of its socket between cores; the shard locks
/// keep the loops' commands apart as they would any threads'.
struct EventLoops {
    /// One per loop after the first.
    others: Vec<UnboundedSender<Handoff>>,
    next: AtomicUsize,
}

impl EventLoops {
    fn start(server: &Arc<Server>) -> EventLoops {
        let extra = server.config.io_threads().saturating_sub(1) as usize;
        let mut others = Vec::with_capacity(extra);
        for n in 1..=extra {
            let (tx, rx) = unbounded_channel();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let server = server.clone();
            let started = runtime.and_then(|runtime| {
                std::thread::Builder::new()
                    .name(format!("io-thread-{n}"))
                    .spawn(move || runtime.block_on(serve_handed(server, rx)))
            });
            match started {
                Ok(_) => others.push(tx),
                Err(e) => tracing::warn!("cannot start I/O thread {n}: {e}"),
            }
        }
        EventLoops {
            others,
            next: AtomicUsize::new(0),
        }
    }

    /// Serves `socket` on the next loop in turn.
    fn deal(&self, server: &Arc<Server>, socket: TcpStream, addr: SocketAddr) {
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % (self.others.len() + 1);
        let Some(other) = turn.checked_sub(1).and_then(|i| self.others.get(i)) else {
            tokio::spawn(connection::serve(server.clone(), socket, addr));
            return;
        };
        // Leaving this loop's reactor, to join the other's.
        match socket.into_std() {
            Ok(socket) => {
                let _ = other.send((socket, addr));
            }
            Err(e) => tracing::warn!("cannot hand a connection over: {e}"),
        }
    }
}

/// An extra event loop's main task: serves the sockets dealt to it.
async fn serve_handed(server: Arc<Server>, mut handed: UnboundedReceiver<Handoff>) {
    while let Some((socket, addr)) = handed.recv().await {
        match TcpStream::from_std(socket) {
            Ok(socket) => {
                tokio::spawn(connection::serve(server.clone(), socket, addr));
            }
            Err(e) => tracing::warn!("cannot take a connection over: {e}"),
        }
    }
}

/// Runs an accept loop per listener, replacing them all when CONFIG SET
/// port sends new ones ([`Server::listen_on`]); the old listeners close.
async fn serve_listeners(
    server: Arc<Server>,
    listeners: Vec<TcpListener>,
    loops: Arc<EventLoops>,
    mut rebinds: UnboundedReceiver<Vec<std::net::TcpListener>>,
) {
    let spawn =
        |listener: TcpListener| tokio::spawn(accept_loop(server.clone(), listener, loops.clone()));
    let mut tasks: Vec<_> = listeners.into_iter().map(spawn).collect();
    while let Some(listeners) = rebinds.recv().await {
        tasks.drain(..).for_each(|task| task.abort());
        for listener in listeners {
            match TcpListener::from_std(listener) {
                Ok(listener) => {
                    if let Ok(local) = listener.local_addr() {
                        server
                            .tcp_port
                            .store(local.port() as u64, Ordering::Relaxed);
                        tracing::info!("Ready to accept connections tcp on {local}");
                    }
                    tasks.push(spawn(listener));
                }
                Err(e) => tracing::warn!("cannot listen: {e}"),
            }
        }
    }
}

async fn accept_loop(server: Arc<Server>, listener: TcpListener, loops: Arc<EventLoops>) {
    loop {
        match listener.accept().await {
            Ok((socket, addr)) => {
                server
                    .stats
                    .connections_received
                    .fetch_add(1, Ordering::Relaxed);
                loops.deal(&server, socket, addr);
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// SIGTERM and SIGINT, listened for from before the first bind: a signal
/// that arrives while we start up must shut down cleanly too, not kill us.
struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let streams = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .map_err(|e| tracing::warn!("cannot listen for signals: {e}"))
                .ok();
            Signals { streams }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Waits for a signal or SHUTDOWN.
    async fn wait(self, server: &Server) {
        #[cfg(unix)]
        if let Some((mut term, mut int)) = self.streams {
            tokio::select! {
                _ = term.recv() => tracing::info!("Received SIGTERM scheduling shutdown..."),
                _ = int.recv() => tracing::info!("Received SIGINT scheduling shutdown..."),
                _ = server.shutdown.notified() => tracing::info!("User requested shutdown..."),
            }
            return;
        }
        server.shutdown.notified().await;
    }
}
