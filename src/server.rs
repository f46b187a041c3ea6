//! The shared server state and the TCP listeners.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::client::ClientRegistry;
use crate::commands::CommandTable;
use crate::config::Config;
use crate::connection;
use crate::keyspace::{spawn_active_expiry, Keyspace};

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
}

impl Stats {
    pub fn command_done(&self, failed: bool) {
        self.commands_processed.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.error_replies.fetch_add(1, Ordering::Relaxed);
        }
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
}

/// Everything connections share.
pub struct Server {
    pub config: Arc<Config>,
    pub keyspace: Arc<Keyspace>,
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
}

impl Server {
    pub fn new(config: Config) -> Server {
        let keyspace = Arc::new(Keyspace::new(config.databases()));
        let run_id = (0..40)
            .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
            .collect();
        Server {
            config: Arc::new(config),
            keyspace,
            commands: CommandTable::build(),
            clients: ClientRegistry::default(),
            stats: Stats::default(),
            started: Instant::now(),
            run_id,
            tcp_port: AtomicU64::new(0),
            shutdown: Notify::new(),
        }
    }
}

/// Binds every configured address, then serves until SIGINT, SIGTERM or SHUTDOWN.
pub async fn run(config: Config) -> std::io::Result<()> {
    let server = Arc::new(Server::new(config));
    let port = server.config.port();
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
    for listener in listeners {
        tokio::spawn(accept_loop(server.clone(), listener));
    }
    wait_for_shutdown(&server).await;
    tracing::info!("reddish is now ready to exit, bye bye...");
    Ok(())
}

async fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((socket, addr)) => {
                server
                    .stats
                    .connections_received
                    .fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection::serve(server.clone(), socket, addr));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn wait_for_shutdown(server: &Server) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            server.shutdown.notified().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("Received SIGTERM scheduling shutdown..."),
            _ = int.recv() => tracing::info!("Received SIGINT scheduling shutdown..."),
            _ = server.shutdown.notified() => tracing::info!("User requested shutdown..."),
        }
    }
    #[cfg(not(unix))]
    server.shutdown.notified().await;
}
