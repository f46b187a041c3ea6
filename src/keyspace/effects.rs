//! The effects record: what one unit of work (a command, a whole EXEC, an
//! active expiry step) did to the keyspace, gathered in its [`super::Guard`]
//! and handed to their readers when the guard is released.
//!
//! This is the one place Redis's `call()` gathers from: the change count
//! (`server.dirty`: INFO, later save points), the keys WATCH must hear of,
//! the keys blocked clients wait on, the keyspace events to publish, the
//! keys client-side caching must invalidate, and the ops to propagate
//! (replicas, AOF).
//! [`super::DbView`]'s writes and expiry fill it, so no command family has
//! to remember any of it; `Guard`'s `Drop` flushes it, so no path can
//! forget it.

use super::Key;
use crate::propagate::Op;

/// A keyspace event (Redis's `notifyKeyspaceEvent`): `name` happened to
/// `key` in database `db`; `class` is a [`crate::config::notify`] bit.
pub struct Event {
    pub class: u32,
    pub name: &'static str,
    pub db: usize,
    pub key: Key,
}

/// Who publishes keyspace events (pub/sub), so the keyspace needs no
/// knowledge of subscribers.
pub trait EventSink: Send + Sync {
    /// The `notify-keyspace-events` flags now: events of other classes are
    /// not even recorded.
    fn flags(&self) -> u32;
    /// Publishes a unit's events, in order, under the `flags` they were
    /// recorded with.
    fn publish(&self, events: Vec<Event>, flags: u32);
}

/// Who tells caching clients that keys changed (client-side caching,
/// `crate::tracking`), so the keyspace needs no knowledge of them.
pub trait InvalidationSink: Send + Sync {
    /// Whether any change can concern a client now: when not, a unit
    /// records no keys.
    fn active(&self) -> bool;
    /// The keys a unit changed so far, in order (None: a FLUSH, every key),
    /// changed by client `by` (0: none, as active expiry).
    fn invalidate(&self, by: u64, keys: Vec<Option<Key>>);
}

#[derive(Default)]
pub(super) struct Effects {
    /// Changes the current command made (keys stored, removed, changed in
    /// place, TTLs set); moved to [`super::Keyspace::dirty`] when it ends.
    pub dirty: u64,
    /// Watched keys handed out by `get_mut` during the current command:
    /// modified for WATCH once the command succeeds.
    pub changed: Vec<(usize, Key)>,
    /// Keys stored while clients block on keys, and databases swapped (key
    /// None): their blocked clients are signalled once the locks are
    /// released, so they look after the writer committed.
    pub ready: Vec<(usize, Option<Key>)>,
    /// Whether ops are collected: a sink was attached when the guard was
    /// taken ([`crate::propagate::Propagation::active`]).
    pub propagating: bool,
    /// The unit's ops so far, in execution order.
    pub ops: Vec<Op>,
    /// Active expiry's units are never wrapped in MULTI/EXEC.
    pub no_multi: bool,
    /// `notify-keyspace-events` when the guard was taken (0: none wanted).
    pub event_flags: u32,
    /// The unit's keyspace events so far.
    pub events: Vec<Event>,
    /// Whether changed keys are recorded for client-side caching
    /// ([`InvalidationSink::active`] when the guard was taken).
    pub tracking: bool,
    /// Keys changed and not yet handed to the invalidation sink (None: a FLUSH).
    pub invalidated: Vec<Option<Key>>,
    /// The client whose command this is (0: none): its own invalidations
    /// wait for its reply, and NOLOOP spares it.
    pub client: u64,
}

impl Effects {
    /// Records a keyspace event, if its class is wanted.
    pub fn notify(&mut self, class: u32, name: &'static str, db: usize, key: &[u8]) {
        if self.event_flags & class != 0 {
            self.events.push(Event {
                class,
                name,
                db,
                key: Key::from(key),
            });
        }
    }

    /// Records a changed key for client-side caching (Redis's
    /// `trackingInvalidateKey` in `signalModifiedKey`).
    pub fn invalidate(&mut self, key: &[u8]) {
        if self.tracking {
            self.invalidated.push(Some(Key::from(key)));
        }
    }

    /// Records a FLUSH: every key is invalid (once per command, as Redis's
    /// `signalFlushedDb` for all databases at once).
    pub fn invalidate_all(&mut self) {
        if self.tracking && self.invalidated.last() != Some(&None) {
            self.invalidated.push(None);
        }
    }

    /// Adds an op to the unit, if anyone reads the stream.
    pub fn propagate(&mut self, op: impl FnOnce() -> Op) {
        if self.propagating {
            self.ops.push(op());
        }
    }
}
