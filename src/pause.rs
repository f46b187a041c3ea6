//! CLIENT PAUSE (Redis's `pauseClients` in networking.c): for a while,
//! every command (ALL), or those that write or may replicate (WRITE), waits
//! in its connection before it runs; keys are neither expired nor evicted
//! meanwhile, so the dataset stays as it is (a failover's point).
//!
//! The connection asks [`crate::commands::held_by_pause`] before running a
//! request and waits on [`ClientPause::wait`]; a waiting client counts as
//! blocked (INFO `blocked_clients`), as Redis blocks it with
//! `BLOCKED_POSTPONE`. Expiry reads the end time the keyspace keeps
//! (`Keyspace::expiry_held_until`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::keyspace::Keyspace;
use crate::util::now_ms;

/// What a pause holds; a stronger pause wins when two overlap.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum PauseKind {
    Off,
    /// Commands that write or may replicate (PUBLISH, PFCOUNT, EVAL, ...).
    Write,
    All,
}

pub struct ClientPause {
    /// The kind and its end (unix ms).
    state: Mutex<(PauseKind, u64)>,
    /// Rung when the pause is lifted or changed.
    changed: Notify,
    /// Clients waiting (part of INFO `blocked_clients`).
    waiting: AtomicUsize,
    keyspace: Arc<Keyspace>,
    /// The end while a pause is on, 0 otherwise: one load on the request path.
    until: AtomicU64,
}

impl ClientPause {
    pub fn new(keyspace: Arc<Keyspace>) -> ClientPause {
        ClientPause {
            state: Mutex::new((PauseKind::Off, 0)),
            changed: Notify::new(),
            waiting: AtomicUsize::new(0),
            keyspace,
            until: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, (PauseKind, u64)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// CLIENT PAUSE: pauses until `end_ms` (a pause already on keeps the
    /// later end and the stronger kind, as Redis's `pauseClients`).
    pub fn pause(&self, kind: PauseKind, end_ms: u64) {
        let mut state = self.lock();
        let now = now_ms();
        if state.0 == PauseKind::Off || state.1 < now {
            *state = (kind, end_ms);
        } else {
            *state = (state.0.max(kind), state.1.max(end_ms));
        }
        self.publish(&state);
    }

    /// CLIENT UNPAUSE.
    pub fn unpause(&self) {
        let mut state = self.lock();
        *state = (PauseKind::Off, 0);
        self.publish(&state);
    }

    fn publish(&self, state: &(PauseKind, u64)) {
        let until = if state.0 == PauseKind::Off {
            0
        } else {
            state.1
        };
        self.until.store(until, Ordering::Relaxed);
        self.keyspace.hold_expiry_until(until);
        self.changed.notify_waiters();
    }

    /// What is paused now (Off once the end has passed).
    pub fn kind(&self) -> PauseKind {
        let until = self.until.load(Ordering::Relaxed);
        if until == 0 || until < now_ms() {
            return PauseKind::Off;
        }
        self.lock().0
    }

    /// Waits while `held` says the pause holds the request.
    pub async fn wait(&self, held: impl Fn(PauseKind) -> bool) {
        /// Counts the client out however the wait ends (a hang-up drops it).
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        loop {
            let notified = self.changed.notified();
            let kind = self.kind();
            if !held(kind) {
                break;
            }
            let left = self.until.load(Ordering::Relaxed).saturating_sub(now_ms());
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(Duration::from_millis(left + 1)) => {}
            }
        }
    }

    /// Clients waiting for the pause to end.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}
