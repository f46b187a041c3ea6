//! The shared server state and the listeners (TCP, TLS, unix socket).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::Notify;

use crate::client::ClientRegistry;
use crate::commands::{CommandTable, ErrorStats};
use crate::config::Config;
use crate::connection;
use crate::counters::LoopCounters;
use crate::cron::CronState;
use crate::keyspace::Keyspace;
use crate::monitor::Monitors;
use crate::propagate::Propagation;
use crate::protocol::Reply;
use crate::pubsub::PubSub;
use crate::replication::Replication;
use crate::util::now_ms;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How the server names itself in its log, where Redis says "Redis".
pub const NAME: &str = "reddish";

/// The Redis version we speak for (HELLO, INFO `redis_version`): clients pick
/// features by it.
pub const REDIS_VERSION: &str = "7.0.15";

/// The request-path counters of INFO stats, per event loop (see
/// [`crate::counters`]); read them with [`Stats::get`].
#[derive(Clone, Copy)]
pub enum Counter {
    CommandsProcessed,
    ErrorReplies,
    NetInputBytes,
    NetOutputBytes,
    KeyspaceHits,
    KeyspaceMisses,
}

/// Counters behind INFO stats.
#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// The [`Counter`]s.
    counters: LoopCounters<6>,
    /// INFO errorstats.
    pub errors: ErrorStats,
    /// Recent rates of commands, input and output bytes.
    rates: Mutex<[Rate; 3]>,
}

/// Samples kept per instantaneous metric (Redis's `STATS_METRIC_SAMPLES`).
const RATE_SAMPLES: usize = 16;

/// How often the cron samples the rates ([`crate::cron`]), as Redis's
/// `serverCron` does.
pub const RATE_PERIOD_MS: u64 = 100;

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
    #[inline]
    pub fn add(&self, counter: Counter, n: u64) {
        self.counters.add(counter as usize, n);
    }

    pub fn get(&self, counter: Counter) -> u64 {
        self.counters.get(counter as usize)
    }

    /// Counts a command that ran, and its reply if an error.
    /// A command ran; its error reply counts unless `error_counted` (a
    /// script's error repeating one counted when its command failed).
    pub fn command_done(&self, reply: &Reply, error_counted: bool) {
        self.add(Counter::CommandsProcessed, 1);
        if !error_counted {
            self.error_reply(reply);
        }
    }

    /// Counts an error reply (INFO `total_error_replies` and errorstats).
    pub fn error_reply(&self, reply: &Reply) {
        if reply.is_error() {
            self.add(Counter::ErrorReplies, 1);
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
            Counter::KeyspaceHits
        } else {
            Counter::KeyspaceMisses
        };
        self.add(counter, 1);
    }

    fn rates(&self) -> std::sync::MutexGuard<'_, [Rate; 3]> {
        self.rates.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn counters(&self) -> [u64; 3] {
        [
            Counter::CommandsProcessed,
            Counter::NetInputBytes,
            Counter::NetOutputBytes,
        ]
        .map(|c| self.get(c))
    }

    /// Takes one sample of each instantaneous metric.
    pub fn sample(&self) {
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
        for counter in [&self.connections_received, &self.rejected_connections] {
            counter.store(0, Ordering::Relaxed);
        }
        self.counters.reset();
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
    pub monitors: Monitors,
    /// SLOWLOG.
    pub slowlog: crate::slowlog::SlowLog,
    /// The latency monitor (LATENCY).
    pub latency: crate::latency::LatencyMonitor,
    /// `oom-score-adj`: the process's score as the OOM killer sees it.
    pub oom_score: crate::oom_score::OomScore,
    /// The server cron's rate.
    pub cron: CronState,
    /// This server as a master: its replicas and their stream.
    pub replication: Arc<Replication>,
    /// This server as a replica (REPLICAOF): its master and the link.
    pub master_link: crate::replica::MasterLink,
    /// The server itself, for the tasks a command starts (REPLICAOF's link).
    me: std::sync::OnceLock<std::sync::Weak<Server>>,
    pub commands: CommandTable,
    /// ACL users and the ACL log.
    pub acl: crate::acl::Acl,
    pub clients: Arc<ClientRegistry>,
    /// CLIENT PAUSE.
    pub pause: crate::pause::ClientPause,
    /// Client-side caching; the keyspace holds it too, for invalidations.
    pub tracking: Arc<crate::tracking::Tracking>,
    pub stats: Stats,
    pub started: Instant,
    /// 40 hex characters identifying this run (INFO `run_id`).
    pub run_id: String,
    /// The port actually bound (differs from the config when it said 0).
    pub tcp_port: AtomicU64,
    /// Notified by SHUTDOWN.
    pub shutdown: Notify,
    /// A shutdown succeeded: the process exits as soon as the main loop
    /// sees it. The connection that asked holds its socket till then, so
    /// its client sees the close when nothing listens any more, as when
    /// Redis exits from the command.
    pub exiting: AtomicBool,
    /// A SIGINT or SIGTERM asked for a shutdown the cron has not started
    /// yet (Redis's `shutdown_asap` and `last_sig_received`; 0: none).
    pub shutdown_asap: std::sync::atomic::AtomicI32,
    /// A shutdown waiting for lagging replicas.
    shutdown_pending: Mutex<Option<PendingShutdown>>,
    /// Wakes SHUTDOWN clients when a pending shutdown is given up.
    pub shutdown_cancelled: Notify,
    /// Saves and their outcome (INFO persistence, LASTSAVE, save points).
    pub save_state: crate::persistence::SaveState,
    /// DEBUG SET-SKIP-CHECKSUM-VALIDATION: RESTORE and loading accept a
    /// payload or file whose CRC-64 does not match (Redis's test hook).
    pub skip_checksum_validation: AtomicBool,
    /// MIGRATE's cached connections to its targets.
    pub migrate_sockets: crate::commands::migrate::SocketCache,
    /// `maxmemory` eviction's pool and state.
    pub evictor: crate::evict::Evictor,
    /// The append-only file.
    pub aof: Arc<crate::aof::Aof>,
    /// Loading the dataset at start-up: commands without the `loading`
    /// flag are answered `-LOADING`.
    loading: std::sync::atomic::AtomicBool,
    /// See [`Server::is_async_loading`].
    async_loading: std::sync::atomic::AtomicBool,
    /// Hands new listeners to the accept loops (CONFIG SET port, true for
    /// the TLS port); None until the server listens.
    rebind: Mutex<Option<UnboundedSender<Rebind>>>,
    /// Duplicates of the listening sockets the accept loops serve, TCP
    /// port's then TLS port's: a new set of listeners (CONFIG SET bind)
    /// takes over an address it keeps from these instead of binding it
    /// again, which the old listener would refuse while it is open.
    bound: Mutex<[Vec<std::net::TcpListener>; 2]>,
    /// The TLS configurations (`tls-*` settings).
    pub tls: crate::tls::Tls,
}

/// SHUTDOWN's options (Redis's `SHUTDOWN_SAVE`, `_NOSAVE`, `_NOW`, `_FORCE`).
#[derive(Clone, Copy, Default, Debug)]
pub struct ShutdownFlags {
    pub save: bool,
    pub nosave: bool,
    /// No wait for lagging replicas (`shutdown-timeout`).
    pub now: bool,
    pub force: bool,
}

/// Where [`Server::prepare_shutdown`] left a shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// Done: the process may exit.
    Exit,
    /// Refused (the final save failed); the server goes on.
    Failed,
    /// Waiting for lagging replicas (`shutdown-timeout`); the cron ends it.
    Waiting,
}

/// A shutdown waiting for its replicas to catch up (Redis's
/// `isShutdownInitiated`): its flags and the time it goes on regardless.
#[derive(Clone, Copy)]
pub struct PendingShutdown {
    flags: ShutdownFlags,
    deadline: Instant,
}

impl Server {
    /// The cron's part of a shutdown (Redis's `serverCron`): one waiting
    /// for its replicas ends once they caught up or its time is up; a
    /// signal's runs with the signal's `shutdown-on-*` flags. A failed one
    /// (its save) is forgotten and the server goes on.
    pub fn shutdown_if_asked(&self) {
        if self.exiting.load(Ordering::Acquire) {
            return;
        }
        let pending = *self.pending_shutdown();
        if let Some(pending) = pending {
            let due = Instant::now() >= pending.deadline || self.replication.all_acked();
            if due && self.finish_shutdown(pending.flags) == Shutdown::Exit {
                self.shutdown.notify_one();
            }
            return;
        }
        // Left set while the shutdown runs (a second SIGINT then exits at
        // once); a shutdown that fails clears it.
        let signal = self.shutdown_asap.load(Ordering::Relaxed);
        if signal == 0 {
            return;
        }
        let bits = if signal == libc::SIGINT {
            self.config.shutdown_on_sigint()
        } else {
            self.config.shutdown_on_sigterm()
        };
        let flags = ShutdownFlags {
            save: bits & 1 != 0,
            nosave: bits & 2 != 0,
            now: bits & 4 != 0,
            force: bits & 8 != 0,
        };
        if self.prepare_shutdown(flags) == Shutdown::Exit {
            self.shutdown.notify_one();
        }
    }

    /// SHUTDOWN ABORT (Redis's `abortShutdown`): a shutdown waiting for
    /// replicas, or one a signal asked for, is called off; false if none.
    pub fn abort_shutdown(&self) -> bool {
        if self.shutdown_waiting() {
            self.cancel_shutdown();
        } else if self.shutdown_asap.swap(0, Ordering::Relaxed) == 0 {
            return false;
        }
        tracing::info!("Shutdown manually aborted.");
        true
    }

    /// Redis's `cancelShutdown`: the writes paused for it go on, and
    /// SHUTDOWN clients waiting for it get their error.
    fn cancel_shutdown(&self) {
        if self.pending_shutdown().take().is_some() {
            self.pause.unpause();
        }
        self.shutdown_asap.store(0, Ordering::Relaxed);
        self.shutdown_cancelled.notify_waiters();
    }

    /// Whether a shutdown waits for its replicas.
    pub fn shutdown_waiting(&self) -> bool {
        self.pending_shutdown().is_some()
    }

    fn pending_shutdown(&self) -> std::sync::MutexGuard<'_, Option<PendingShutdown>> {
        self.shutdown_pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub fn new(config: Arc<Config>) -> Server {
        // Before any counter is made: they have a slot per event loop.
        crate::counters::set_loops(config.io_threads() as usize);
        crate::counters::Ticks::init();
        let pubsub = Arc::new(PubSub::new(config.clone()));
        let propagation = Arc::new(Propagation::new(config.clone()));
        let clients = ClientRegistry::new();
        let tracking = Arc::new(crate::tracking::Tracking::new(
            config.clone(),
            clients.clone(),
        ));
        let keyspace = Arc::new(
            Keyspace::new(config.databases())
                .configured(config.clone())
                .notifying(pubsub.clone())
                .invalidating(tracking.clone())
                .propagating(propagation.clone()),
        );
        let mut commands = CommandTable::build();
        for (from, to) in config.renamed_commands() {
            // Checked when the config file was read.
            if let Err(why) = commands.rename(&from, &to) {
                tracing::warn!("rename-command: {why}");
            }
        }
        let acl = crate::acl::Acl::new();
        acl.set_default_password(config.requirepass().as_deref());
        let run_id = crate::replication::new_replid();
        let aof = crate::aof::Aof::new(config.clone(), propagation.clone());
        Server {
            pause: crate::pause::ClientPause::new(keyspace.clone()),
            aof,
            loading: std::sync::atomic::AtomicBool::new(false),
            async_loading: std::sync::atomic::AtomicBool::new(false),
            cron: CronState::new(config.hz()),
            slowlog: Default::default(),
            latency: Default::default(),
            oom_score: Default::default(),
            replication: Arc::new(Replication::new(
                run_id.clone(),
                propagation,
                config.clone(),
            )),
            monitors: Monitors::new(config.clone()),
            master_link: Default::default(),
            me: Default::default(),
            config,
            keyspace,
            pubsub,
            commands,
            acl,
            clients,
            tracking,
            stats: Stats::default(),
            started: Instant::now(),
            save_state: crate::persistence::SaveState::new(now_ms() / 1000),
            skip_checksum_validation: AtomicBool::new(false),
            migrate_sockets: Default::default(),
            evictor: Default::default(),
            run_id,
            tcp_port: AtomicU64::new(0),
            shutdown: Notify::new(),
            exiting: AtomicBool::new(false),
            shutdown_asap: std::sync::atomic::AtomicI32::new(0),
            shutdown_pending: Mutex::new(None),
            shutdown_cancelled: Notify::new(),
            rebind: Mutex::new(None),
            bound: Mutex::new([Vec::new(), Vec::new()]),
            tls: crate::tls::Tls::default(),
        }
    }

    /// Redis's `ACLLoadUsersAtStartup`: the config file's `user` lines or
    /// the `aclfile`, never both.
    pub fn load_users_at_startup(&self) -> Result<(), String> {
        let users = self.config.configured_users();
        let aclfile = self.config.aclfile();
        let pubsub_all = self.config.acl_pubsub_default_all();
        if !aclfile.is_empty() && !users.is_empty() {
            return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
        }
        self.acl
            .load_config_users(&self.commands, &users, pubsub_all)
            .map_err(|why| format!("{why}\nCritical error while loading ACLs. Exiting."))?;
        if !aclfile.is_empty() {
            self.acl
                .load_file(
                    &self.commands,
                    &aclfile,
                    &self.config.aclfile_path(),
                    pubsub_all,
                )
                .map_err(|why| format!("Aborting Redis startup because of ACL errors: {why}"))?;
        }
        Ok(())
    }

    /// Redis's `changeListenPort` (CONFIG SET port): binds `port` on every
    /// `bind` address, then the accept loops serve those instead of the old
    /// listeners, which close. Nothing changes when a bind fails.
    /// Established connections stay, as in Redis. `tls`: the TLS port's
    /// listeners (CONFIG SET tls-port).
    pub fn listen_on(&self, port: u16, tls: bool) -> std::io::Result<()> {
        let listeners = self.new_listeners(&self.config.bind(), port, tls)?;
        self.serve_instead(tls, listeners)
    }

    /// Redis's `changeBindAddr` (CONFIG SET bind): the TCP port and the TLS
    /// port listen on the `bind` addresses now set; an address listened on
    /// already keeps its socket. When a new address overlaps one listened
    /// on (`*` holds the port on 127.0.0.1 too), the old listeners stop
    /// first, as Redis closes them before binding, and listen again on
    /// `old_bind` if the new addresses still fail. Otherwise nothing
    /// changes when a bind fails.
    pub fn rebind(&self, old_bind: &[String]) -> std::io::Result<()> {
        let listen = |bind: &[String]| -> std::io::Result<_> {
            Ok((
                self.new_listeners(bind, self.config.port(), false)?,
                self.new_listeners(bind, self.config.tls_port(), true)?,
            ))
        };
        let (tcp, tls) = match listen(&self.config.bind()) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {
                self.stop_listening();
                match listen(&self.config.bind()) {
                    Ok(listeners) => listeners,
                    Err(e) => {
                        if let Ok((tcp, tls)) = listen(old_bind) {
                            let _ = self.serve_instead(false, tcp);
                            let _ = self.serve_instead(true, tls);
                        }
                        return Err(e);
                    }
                }
            }
            listeners => listeners?,
        };
        self.serve_instead(false, tcp)?;
        self.serve_instead(true, tls)
    }

    /// Takes every TCP and TLS listener out of the listening state now
    /// (`shutdown`, which the accept loops see as the end of their
    /// listener): a socket bound with SO_REUSEADDR that does not listen
    /// leaves its address free for a new listener.
    fn stop_listening(&self) {
        let mut bound = crate::util::lock(&self.bound);
        for listener in bound.iter_mut().flat_map(|listeners| listeners.drain(..)) {
            let _ = socket2::SockRef::from(&listener).shutdown(std::net::Shutdown::Read);
        }
    }

    /// Listeners on every address of `bind` for `port` (none for port 0),
    /// reusing (duplicating) the ones of the same address and port that
    /// are open now.
    fn new_listeners(
        &self,
        bind: &[String],
        port: u16,
        tls: bool,
    ) -> std::io::Result<Vec<std::net::TcpListener>> {
        let mut listeners = Vec::new();
        if port == 0 {
            // Port 0 listens nowhere (only at start-up does reddish's port 0
            // without a TLS port or unix socket pick a free port).
            return Ok(listeners);
        }
        let bound = crate::util::lock(&self.bound);
        for addr in bind {
            let optional = addr.starts_with('-');
            let at = match resolve(addr.trim_start_matches('-'), port) {
                Ok(at) => at,
                Err(e) if optional && unavailable(&e) => continue,
                Err(e) => return Err(e),
            };
            let open = bound[usize::from(tls)]
                .iter()
                .find(|l| l.local_addr().is_ok_and(|local| local == at));
            let listener = match open {
                Some(open) => open.try_clone(),
                None => listen(at, self.config.tcp_backlog()),
            };
            match listener {
                Ok(listener) => listeners.push(listener),
                Err(e) if optional && unavailable(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(listeners)
    }

    /// Hands `listeners` to the accept loops, whose old listeners close.
    fn serve_instead(
        &self,
        tls: bool,
        listeners: Vec<std::net::TcpListener>,
    ) -> std::io::Result<()> {
        let duplicates = listeners
            .iter()
            .map(std::net::TcpListener::try_clone)
            .collect::<std::io::Result<Vec<_>>>()?;
        let rebind = self.rebind.lock().unwrap_or_else(|e| e.into_inner());
        match rebind.as_ref().map(|tx| tx.send((tls, listeners))) {
            Some(Ok(())) => {
                crate::util::lock(&self.bound)[usize::from(tls)] = duplicates;
                Ok(())
            }
            _ => Err(std::io::Error::other("the server does not listen yet")),
        }
    }

    /// The port the banner and INFO's `tcp_port` show: the TCP port, or
    /// the TLS port when there is no TCP port, as Redis.
    pub fn shown_port(&self) -> u64 {
        match self.tcp_port.load(Ordering::Relaxed) {
            0 => u64::from(self.config.tls_port()),
            port => port,
        }
    }

    /// The shared handle of this server (None before [`run`] made it).
    pub fn arc(&self) -> Option<Arc<Server>> {
        self.me.get()?.upgrade()
    }

    /// Whether the dataset is being loaded (INFO `loading`, `-LOADING`).
    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Relaxed)
    }

    pub fn set_loading(&self, loading: bool) {
        self.loading.store(loading, Ordering::Relaxed);
    }

    /// Whether a replica takes in its master's snapshot while it serves
    /// the old data (`repl-diskless-load swapdb` with the same history:
    /// INFO `async_loading`; commands flagged `no_async_loading` and
    /// settings denied while loading get `-LOADING`).
    pub fn is_async_loading(&self) -> bool {
        self.async_loading.load(Ordering::Relaxed)
    }

    pub fn set_async_loading(&self, loading: bool) {
        self.async_loading.store(loading, Ordering::Relaxed);
    }

    /// Unix time of the start, in seconds: INFO's `rdb_last_save_time` and
    /// LASTSAVE, as a Redis that found no dump file reports its start.
    pub fn started_unix_secs(&self) -> u64 {
        (now_ms() / 1000).saturating_sub(self.started.elapsed().as_secs())
    }

    /// Redis's `prepareForShutdown`, with the logs it writes: unless NOW,
    /// a shutdown waits up to `shutdown-timeout` seconds for lagging
    /// replicas (writes paused, the replicas asked to acknowledge), the
    /// cron finishing it ([`Server::shutdown_if_asked`]).
    pub fn prepare_shutdown(&self, mut flags: ShutdownFlags) -> Shutdown {
        if self.shutdown_waiting() {
            return Shutdown::Waiting;
        }
        // No half-loaded dataset is saved over the file.
        if self.is_loading() {
            flags.save = false;
            flags.nosave = true;
        }
        tracing::warn!("User requested shutdown...");
        let timeout = self.config.shutdown_timeout();
        if !flags.now && timeout != 0 && !self.replication.all_acked() {
            let deadline = Instant::now() + Duration::from_secs(timeout);
            *self.pending_shutdown() = Some(PendingShutdown { flags, deadline });
            if self.pause.kind() == crate::pause::PauseKind::Off {
                self.replication.ask_for_acks();
            }
            // Past the deadline: the cron ends the shutdown first.
            let end = now_ms() + timeout * 1000 + 1000;
            self.pause.pause(crate::pause::PauseKind::Write, end);
            tracing::info!("Waiting for replicas before shutting down.");
            return Shutdown::Waiting;
        }
        self.finish_shutdown(flags)
    }

    /// Redis's `finishShutdown`: lagging replicas logged, the AOF synced,
    /// a running BGSAVE stopped, the final save when due (SAVE, or save
    /// points without NOSAVE); when that fails the shutdown fails too,
    /// unless FORCE says to exit anyway.
    fn finish_shutdown(&self, flags: ShutdownFlags) -> Shutdown {
        let replicas = self.replication.replicas();
        let offset = self.replication.offset();
        let mut lagging = 0;
        for r in replicas.iter().filter(|r| r.offset != offset) {
            lagging += 1;
            let lag = if r.state == "online" { r.lag } else { 0 };
            tracing::warn!(
                "Lagging replica {}:{} reported offset {} behind master, lag={lag}, state={}.",
                r.ip,
                r.port,
                offset.saturating_sub(r.offset),
                r.state
            );
        }
        if !replicas.is_empty() {
            tracing::info!(
                "{} of {} replicas are in sync when shutting down.",
                replicas.len() - lagging,
                replicas.len()
            );
        }
        if self.aof.state() != crate::aof::State::Off {
            tracing::info!("Calling fsync() on the AOF file.");
            self.aof.flush_and_sync();
        }
        crate::persistence::kill_bgsave(self);
        let save_points = !self.config.save().is_empty();
        if flags.save || (save_points && !flags.nosave) {
            tracing::info!("Saving the final RDB snapshot before exiting.");
            if crate::persistence::save_all(self).is_err() {
                if !flags.force {
                    tracing::warn!("Error trying to save the DB, can't exit.");
                    tracing::warn!(
                        "Errors trying to shut down the server. Check the logs for more information."
                    );
                    self.cancel_shutdown();
                    return Shutdown::Failed;
                }
                tracing::warn!("Error trying to save the DB. Exit anyway.");
            }
        }
        // Nothing listens any more before any connection closes: a client
        // that sees its connection close and reconnects is refused.
        self.stop_listening();
        self.exiting.store(true, Ordering::Release);
        Shutdown::Exit
    }
}

/// Binds every configured address, then serves until SIGINT, SIGTERM or
/// SHUTDOWN, logging what redis-server logs on the way.
pub async fn run(config: Arc<Config>) -> std::io::Result<()> {
    crate::log::server_initialized();
    let server = Arc::new(Server::new(config));
    let _ = server.me.set(Arc::downgrade(&server));
    Signals::spawn(server.clone());
    // A replica from the start (`replicaof`) keeps expired keys it loads.
    let master = server.config.replicaof();
    if master.is_some() {
        server.keyspace.set_replica(true);
    }
    if let Err(why) = server.load_users_at_startup() {
        tracing::warn!("{why}");
        std::process::exit(1);
    }
    if server.config.tls_enabled() {
        if let Err(why) = server.tls.configure(&server.config) {
            tracing::warn!("{why}");
            tracing::warn!("Failed to configure TLS. Check logs for more info.");
            std::process::exit(1);
        }
    }
    let listeners = bind(&server).await?;
    crate::log::startup_banner(&server.config, server.shown_port());
    tracing::warn!("Server initialized");
    for warning in server.config.unenforced_warnings(None) {
        tracing::warn!("{warning}");
    }
    server.clients.memory.set_limit(&server.config);
    // The dataset loads on another thread. A load that takes longer than
    // LOADING_GRACE serves connections meanwhile: commands without the
    // `loading` flag are answered `-LOADING`, as Redis answers them between
    // chunks of a big file; a small file (or none) is in before the first
    // connection is accepted, as with Redis, whose clients then wait in
    // the listen backlog.
    server.set_loading(true);
    let loader = server.clone();
    let mut loading = tokio::task::spawn_blocking(move || load_data_from_disk(&loader));
    let early = tokio::select! {
        loaded = &mut loading => Some(loaded),
        _ = tokio::time::sleep(LOADING_GRACE) => None,
    };
    if early
        .as_ref()
        .is_some_and(|loaded| !matches!(loaded, Ok(Ok(()))))
    {
        std::process::exit(1);
    }
    // This thread runs the first event loop.
    crate::counters::enter_loop(0);
    let loops = Arc::new(EventLoops::start(&server));
    // Sockets a busy script's hook accepts on this loop start here when it ends.
    let (adopt, adopted) = unbounded_channel();
    crate::scripting::busy_loop::set_adopter(adopt);
    tokio::spawn(serve_handed(server.clone(), adopted));
    let (rebind, rebinds) = unbounded_channel();
    *server.rebind.lock().unwrap_or_else(|e| e.into_inner()) = Some(rebind);
    tokio::spawn(serve_listeners(server.clone(), listeners, loops, rebinds));
    let loaded = match early {
        Some(loaded) => loaded,
        None => loading.await,
    };
    if !matches!(loaded, Ok(Ok(()))) {
        std::process::exit(1);
    }
    crate::cron::spawn(server.clone());
    if let Some((host, port)) = master {
        crate::replica::set_master(&server, &host, port);
    }
    let pidfile = PidFile::create(&server.config);
    let _ = server
        .oom_score
        .apply(&server.config, server.keyspace.is_replica());
    tracing::info!("Ready to accept connections");
    if let Some((path, _)) = server.config.unixsocket() {
        tracing::info!("The server is now ready to accept connections at {path}");
    }
    server.shutdown.notified().await;
    drop(pidfile);
    if let Some((path, _)) = server.config.unixsocket() {
        tracing::info!("Removing the unix socket file.");
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!("Error removing the unix socket file: {e}");
        }
    }
    tracing::warn!("{NAME} is now ready to exit, bye bye...");
    Ok(())
}

/// Redis's `loadDataFromDisk` and what follows it at start-up: the AOF
/// manifest is read, then the AOF (with `appendonly yes`) or the RDB file
/// loaded, then the AOF opened for appending (a base written first when
/// there is none) and its history files removed. The server is loading
/// until the AOF takes writes.
fn load_data_from_disk(server: &Server) -> Result<(), crate::aof::Fatal> {
    use crate::aof::load::Outcome;
    let mut manifest = crate::aof::load::manifest_from_disk(server)?;
    server.set_loading(true);
    let result = if server.config.appendonly() {
        let start = Instant::now();
        match crate::aof::load::load_all(server, &mut manifest) {
            Outcome::Failed | Outcome::OpenErr => Err(crate::aof::Fatal),
            Outcome::NotExist => Ok(()),
            _ => {
                tracing::info!(
                    "DB loaded from append only file: {:.3} seconds",
                    start.elapsed().as_secs_f64()
                );
                Ok(())
            }
        }
    } else {
        crate::persistence::load_at_startup(server).map_err(|why| {
            tracing::warn!("{why}");
            crate::aof::Fatal
        })
    };
    result?;
    server.aof.lock().manifest = manifest;
    crate::aof::rewrite::open_on_start(server)?;
    server.aof.delete_history();
    server.set_loading(false);
    Ok(())
}

/// The `pidfile` (Redis's `createPidFile`), removed when the server exits.
struct PidFile(Option<std::path::PathBuf>);

impl PidFile {
    /// Writes the pid when `pidfile` is set; a failure is logged, as Redis
    /// goes on without it.
    fn create(config: &Config) -> PidFile {
        let path = config.pidfile();
        if path.is_empty() {
            return PidFile(None);
        }
        match std::fs::write(&path, format!("{}\n", std::process::id())) {
            Ok(()) => PidFile(Some(path.into())),
            Err(e) => {
                tracing::warn!("Failed to write PID file: {e}");
                PidFile(None)
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Listens on every configured address. Port 0 picks a free port on the
/// first address; the other addresses and CONFIG GET port then use that
/// same port. A failure is logged and returned as Redis words it (the
/// suite looks for "Failed listening on port" to retry on another port).
async fn bind(server: &Server) -> std::io::Result<Listeners> {
    let config = &server.config;
    let unix = match config.unixsocket() {
        Some((path, perm)) => Some(listen_unix(&path, perm).map_err(|e| {
            let message = format!("Failed opening Unix socket: {e}");
            tracing::warn!("{message}");
            std::io::Error::new(e.kind(), message)
        })?),
        None => None,
    };
    // Port 0 is no TCP port, as in Redis, when there is another way in;
    // alone, reddish picks a free port (which tests read from the log).
    let tcp = if config.port() != 0 || (unix.is_none() && config.tls_port() == 0) {
        bind_port(server, config.port(), false)?
    } else {
        Vec::new()
    };
    let tls = match config.tls_port() {
        0 => Vec::new(),
        port => bind_port(server, port, true)?,
    };
    if tcp.is_empty() && tls.is_empty() && unix.is_none() {
        tracing::warn!("Configured to not listen anywhere, exiting.");
        std::process::exit(1);
    }
    Ok(Listeners { tcp, tls, unix })
}

/// The listeners of every `bind` address on `port` (the TLS port when `tls`).
fn bind_port(server: &Server, mut port: u16, tls: bool) -> std::io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    let kind = if tls { "TLS" } else { "TCP" };
    for addr in server.config.bind() {
        let optional = addr.starts_with('-');
        let addr = addr.trim_start_matches('-');
        let listener = match resolve(addr, port)
            .and_then(|at| listen(at, server.config.tcp_backlog()))
            .and_then(|listener| {
                let duplicate = listener.try_clone()?;
                crate::util::lock(&server.bound)[usize::from(tls)].push(duplicate);
                TcpListener::from_std(listener)
            }) {
            Ok(listener) => listener,
            Err(e) if optional && unavailable(&e) => continue,
            Err(e) => {
                tracing::warn!(
                    "Warning: Could not create server TCP listening socket {addr}:{port}: bind: {}",
                    crate::config::strerror(&e)
                );
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("Failed listening on port {port} ({kind}), aborting."),
                ));
            }
        };
        if !tls {
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
        }
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Redis's `anetUnixServer`: a stale socket file is removed first, and
/// `unixsocketperm` (when not 0) set on the new one.
fn listen_unix(path: &str, perm: u32) -> std::io::Result<(UnixListener, Arc<str>)> {
    // Whatever was there (a socket left by a crash): Redis does not care
    // whether this fails.
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    if perm != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm))?;
    }
    Ok((listener, Arc::from(path)))
}

/// What the server listens on at start-up.
struct Listeners {
    tcp: Vec<TcpListener>,
    tls: Vec<TcpListener>,
    unix: Option<(UnixListener, Arc<str>)>,
}

/// New listeners for the TCP port (false) or the TLS port (true).
type Rebind = (bool, Vec<std::net::TcpListener>);

/// The socket address of a `bind` address on `port`: `*` is every IPv4
/// address and `::*` every IPv6 one, as in redis.conf. Blocking (a name
/// lookup at most): it runs at start-up and for CONFIG SET.
fn resolve(addr: &str, port: u16) -> std::io::Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let host = match addr {
        "*" => "0.0.0.0",
        "::*" => "::",
        host => host,
    };
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no such address"))
}

/// A listening socket as Redis's `anetTcpServer` makes it: SO_REUSEADDR,
/// IPv6 sockets for IPv6 only, and `tcp-backlog` as the accept queue's
/// length (tokio's own bind always asks for 1024).
fn listen(at: std::net::SocketAddr, backlog: u32) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(at), Type::STREAM, None)?;
    if at.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&at.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    warn_if_backlog_capped(backlog);
    Ok(socket.into())
}

/// The errors that make a `-`-prefixed (optional) bind address skipped, as
/// Redis's `listenToPort` skips them: no such address, or no IPv6 here.
fn unavailable(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT | libc::ENOPROTOOPT)
    )
}

/// Redis's `checkTcpBacklogSettings`: the kernel silently caps the backlog
/// at `net.core.somaxconn`.
fn warn_if_backlog_capped(backlog: u32) {
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    if let Some(max) = somaxconn.filter(|&max| max < backlog) {
        tracing::warn!(
            "WARNING: The TCP backlog setting of {backlog} cannot be enforced because \
             /proc/sys/net/core/somaxconn is set to the lower value of {max}."
        );
    }
}

/// A socket accepted on the first event loop, on its way to another one.
use crate::connection::{Accepted, Handoff};

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

/// How long a start-up load runs before connections are served (with
/// `-LOADING`) while it goes on.
const LOADING_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

impl EventLoops {
    fn start(server: &Arc<Server>) -> EventLoops {
        let extra = server.config.io_threads().saturating_sub(1) as usize;
        let mut others = Vec::with_capacity(extra);
        for n in 1..=extra {
            let (tx, rx) = unbounded_channel();
            let runtime = event_loop_runtime();
            let server = server.clone();
            let started = runtime.and_then(|runtime| {
                std::thread::Builder::new()
                    .name(format!("io-thread-{n}"))
                    // As the main thread's: replies nest up to 8000 levels
                    // (scripts' results), and encoding them recurses.
                    .stack_size(8 << 20)
                    .spawn(move || {
                        crate::counters::enter_loop(n);
                        runtime.block_on(serve_handed(server, rx))
                    })
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
    fn deal(&self, server: &Arc<Server>, socket: Accepted) {
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % (self.others.len() + 1);
        let Some(other) = turn.checked_sub(1).and_then(|i| self.others.get(i)) else {
            tokio::spawn(connection::start(server.clone(), socket));
            return;
        };
        // Leaving this loop's reactor, to join the other's.
        match socket.into_handoff() {
            Ok(socket) => {
                let _ = other.send(socket);
            }
            Err(e) => tracing::warn!("cannot hand a connection over: {e}"),
        }
    }
}

/// An event loop's runtime: one thread, and Redis's `beforeSleep` step of
/// the AOF (its group commit, [`crate::aof::end_of_round`]) each time the
/// loop has run every ready task and is about to wait.
pub fn event_loop_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(crate::aof::end_of_round)
        .build()
}

/// An extra event loop's main task: serves the sockets dealt to it.
async fn serve_handed(server: Arc<Server>, mut handed: UnboundedReceiver<Handoff>) {
    while let Some(socket) = handed.recv().await {
        // A login recorded for this descriptor dies with the socket.
        let fd = match &socket {
            Handoff::Tcp(socket, ..) => std::os::fd::AsRawFd::as_raw_fd(socket),
            Handoff::Unix(socket, _) => std::os::fd::AsRawFd::as_raw_fd(socket),
        };
        match socket.into_accepted() {
            Ok(socket) => {
                tokio::spawn(connection::start(server.clone(), socket));
            }
            Err(e) => {
                crate::scripting::busy_loop::take_login(fd);
                tracing::warn!("cannot take a connection over: {e}");
            }
        }
    }
}

/// Runs an accept loop per listener, replacing those of a port when CONFIG
/// SET port or tls-port sends new ones ([`Server::listen_on`]); the old
/// listeners close.
async fn serve_listeners(
    server: Arc<Server>,
    listeners: Listeners,
    loops: Arc<EventLoops>,
    mut rebinds: UnboundedReceiver<Rebind>,
) {
    let spawn = |listener: TcpListener, tls: bool| {
        tokio::spawn(accept_loop(server.clone(), listener, tls, loops.clone()))
    };
    let Listeners { tcp, tls, unix } = listeners;
    let mut tasks: [Vec<_>; 2] = [
        tcp.into_iter().map(|l| spawn(l, false)).collect(),
        tls.into_iter().map(|l| spawn(l, true)).collect(),
    ];
    if let Some((listener, path)) = unix {
        tokio::spawn(accept_unix(server.clone(), listener, path, loops.clone()));
    }
    while let Some((tls, listeners)) = rebinds.recv().await {
        let tasks = &mut tasks[usize::from(tls)];
        tasks.drain(..).for_each(|task| task.abort());
        if listeners.is_empty() && !tls {
            server.tcp_port.store(0, Ordering::Relaxed);
        }
        for listener in listeners {
            match TcpListener::from_std(listener) {
                Ok(listener) => {
                    if let Ok(local) = listener.local_addr() {
                        if !tls {
                            server
                                .tcp_port
                                .store(local.port() as u64, Ordering::Relaxed);
                        }
                        tracing::debug!("Listening on {local}");
                    }
                    tasks.push(spawn(listener, tls));
                }
                Err(e) => tracing::warn!("cannot listen: {e}"),
            }
        }
    }
}

async fn accept_loop(
    server: Arc<Server>,
    listener: TcpListener,
    tls: bool,
    loops: Arc<EventLoops>,
) {
    // A busy script answers plain TCP clients only (TLS ones wait).
    let _busy_accepts = (!tls).then(|| {
        crate::scripting::busy_loop::register_listener(std::os::fd::AsRawFd::as_raw_fd(&listener))
    });
    loop {
        match listener.accept().await {
            Ok((socket, addr)) => {
                loops.deal(&server, Accepted::Tcp(socket, addr, tls));
            }
            // Shut down by `Server::stop_listening`: its replacement comes.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn accept_unix(
    server: Arc<Server>,
    listener: UnixListener,
    path: Arc<str>,
    loops: Arc<EventLoops>,
) {
    loop {
        match listener.accept().await {
            Ok((socket, _)) => loops.deal(&server, Accepted::Unix(socket, path.clone())),
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// SIGTERM and SIGINT, listened for from before the first bind: a signal
/// that arrives while we start up must shut down cleanly too, not kill us.
struct Signals;

impl Signals {
    /// Starts the thread that takes SIGINT and SIGTERM (Redis's
    /// `sigShutdownHandler`), apart from the event loops: the signal is
    /// only recorded, so the cron runs the shutdown with
    /// `shutdown-on-sigint`/`-sigterm`'s flags (saving when save points are
    /// set, by default; a failed save keeps the server running), DEBUG
    /// PAUSE-CRON holds it back and SHUTDOWN ABORT cancels it. A second
    /// SIGINT meanwhile exits at once, even while the first loop is busy
    /// with the shutdown's save. Returns once the signals are taken.
    fn spawn(server: Arc<Server>) {
        #[cfg(unix)]
        {
            // A closed terminal must not kill the server: Redis ignores SIGHUP
            // (and SIGPIPE, which Rust programs ignore already).
            // SAFETY: setting a signal's disposition to SIG_IGN touches no memory of ours.
            unsafe {
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
            }
            let (taken, wait_taken) = std::sync::mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name("signals".into())
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_io()
                        .build();
                    let Ok(runtime) = runtime else {
                        tracing::warn!("cannot listen for signals: no runtime");
                        let _ = taken.send(());
                        return;
                    };
                    runtime.block_on(Signals::handle(&server, taken));
                });
            if spawned.is_ok() {
                let _ = wait_taken.recv();
            } else {
                tracing::warn!("cannot listen for signals: no thread");
            }
        }
    }

    #[cfg(unix)]
    async fn handle(server: &Server, taken: std::sync::mpsc::Sender<()>) {
        use tokio::signal::unix::{signal, SignalKind};
        let streams = signal(SignalKind::terminate())
            .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
            .map_err(|e| tracing::warn!("cannot listen for signals: {e}"));
        let _ = taken.send(());
        let Ok((mut term, mut int)) = streams else {
            return;
        };
        loop {
            let (name, signal) = tokio::select! {
                _ = term.recv() => ("SIGTERM", libc::SIGTERM),
                _ = int.recv() => ("SIGINT", libc::SIGINT),
            };
            if signal == libc::SIGINT && server.shutdown_asap.load(Ordering::Relaxed) != 0 {
                crate::log::from_signal("You insist... exiting now.");
                let _ = std::fs::remove_file(crate::persistence::save_temp_path(server));
                std::process::exit(1);
            }
            if server.is_loading() {
                crate::log::from_signal(
                    "Received shutdown signal during loading, scheduling shutdown.",
                );
            } else {
                crate::log::from_signal(&format!("Received {name} scheduling shutdown..."));
            }
            server.shutdown_asap.store(signal, Ordering::Relaxed);
        }
    }
}
