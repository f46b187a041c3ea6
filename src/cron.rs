//! The server cron (Redis's `serverCron`): one task on the first event
//! loop, `hz` times a second, doing the periodic work every subsystem
//! needs, each job at its own period ([`Cron::every`], Redis's
//! `run_with_period`). Save points and AOF rewrites run here; AOF fsyncs have a
//! thread of their own (`aof.rs`).
//!
//! With `dynamic-hz yes` (the default) the rate doubles for every 200
//! clients per tick, up to 500, as Redis raises `server.hz` so that the
//! per-client work of a tick stays small. INFO shows it as `hz`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::keyspace::ActiveExpiry;
use crate::server::Server;

/// Redis's `MAX_CLIENTS_PER_CLOCK_TICK`.
const MAX_CLIENTS_PER_TICK: usize = 200;
/// Redis's `CONFIG_MAX_HZ`.
const MAX_HZ: u32 = 500;

/// What the cron shows others.
pub struct CronState {
    /// The rate it runs at now (INFO `hz`).
    pub hz: AtomicU32,
    /// DEBUG PAUSE-CRON: ticks do no work (Redis's `pause_cron`).
    pub paused: std::sync::atomic::AtomicBool,
}

impl CronState {
    pub fn new(hz: u32) -> CronState {
        CronState {
            hz: AtomicU32::new(hz),
            paused: Default::default(),
        }
    }
}

/// The cron's own state.
struct Cron {
    /// Ticks so far (Redis's `cronloops`).
    ticks: u64,
    hz: u32,
}

impl Cron {
    /// Whether a job of period `ms` runs this tick: every tick when the
    /// period is shorter than one, otherwise every `ms / tick` ticks.
    fn every(&self, ms: u64) -> bool {
        let tick = 1000 / u64::from(self.hz);
        ms <= tick || self.ticks.is_multiple_of(ms / tick)
    }
}

/// `hz`, raised for many clients when `dynamic-hz` is on.
fn effective_hz(server: &Server) -> u32 {
    let mut hz = server.config.hz().clamp(1, MAX_HZ);
    if server.config.dynamic_hz() {
        let clients = server.clients.len();
        while clients / hz as usize > MAX_CLIENTS_PER_TICK && hz < MAX_HZ {
            hz = (hz * 2).min(MAX_HZ);
        }
    }
    hz
}

/// Starts the cron on the current (first) event loop.
pub fn spawn(server: Arc<Server>) {
    tokio::spawn(async move {
        let mut cron = Cron { ticks: 0, hz: 10 };
        let mut expiry = ActiveExpiry::new(&server.keyspace);
        loop {
            let started = Instant::now();
            if server.cron.paused.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1000 / u64::from(cron.hz))).await;
                continue;
            }
            server.shutdown_if_asked();
            cron.hz = effective_hz(&server);
            server.cron.hz.store(cron.hz, Ordering::Relaxed);
            server.keyspace.lru_clock.refresh();
            crate::replication::start_waiting_syncs(&server);
            if cron.every(crate::server::RATE_PERIOD_MS) {
                server.stats.sample();
            }
            if cron.every(1000) {
                // Redis's `clientsCron` checks timeouts; `replicationCron`
                // runs once a second.
                let timeout = server.config.timeout();
                if timeout > 0 {
                    server.clients.close_idle(timeout);
                }
                let clients = server.clients.all();
                server.clients.memory.sample_peaks(&clients);
                crate::client::ClientRegistry::park_idle(&clients);
                server.replication.cron(&server.config);
                server.migrate_sockets.close_idle();
            }
            // Save points and BGSAVE SCHEDULE start a background save.
            crate::persistence::cron(&server);
            // Redis's `serverCron` AOF work: scheduled and automatic
            // rewrites, a write postponed behind an everysec fsync.
            crate::aof::rewrite::cron(&server);
            if crate::evict::running(&server) {
                // Eviction ran out of time in a command: go on meanwhile
                // (Redis's `evictionTimeProc`).
                tokio::spawn(crate::evict::continue_evicting(server.clone()));
            }
            // A writable replica's own keys with a TTL (Redis's
            // `expireSlaveKeys`, in `databasesCron`).
            if server.keyspace.is_replica() && server.keyspace.active_expiry.enabled() {
                server.keyspace.replica_keys.expire(&server.keyspace);
            }
            // A CLIENT PAUSE keeps the dataset as it is (Redis's
            // `activeExpireCycle` returns while clients are paused).
            // A replica's keys expire by its master's DELs (Redis runs
            // `activeExpireCycle` on masters only).
            if server.keyspace.active_expiry.enabled()
                && !server.keyspace.is_replica()
                && !server.keyspace.expiry_held(crate::util::now_ms())
            {
                let cycle = Instant::now();
                expiry
                    .cycle(&server.keyspace, u64::from(cron.hz), started)
                    .await;
                let ms = cycle.elapsed().as_millis() as u64;
                server
                    .latency
                    .add_if_needed(&server.config, "expire-cycle", ms);
            }
            // Redis's `trackingLimitUsedSlots` in `serverCron`, and the
            // BCAST messages of keys active expiry removed.
            server.tracking.limit();
            server.tracking.broadcast();
            cron.ticks += 1;
            let tick = Duration::from_millis(1000 / u64::from(cron.hz));
            tokio::time::sleep(tick.saturating_sub(started.elapsed())).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_at_their_period() {
        let runs = |hz: u32, ms: u64| {
            (0..100)
                .filter(|&ticks| Cron { ticks, hz }.every(ms))
                .count()
        };
        assert_eq!(runs(10, 100), 100);
        assert_eq!(runs(10, 1000), 10);
        assert_eq!(runs(100, 1000), 1);
        assert_eq!(runs(500, 50), 4);
    }
}
