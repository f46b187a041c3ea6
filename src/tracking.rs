//! Client-side caching (Redis's tracking.c): which clients may hold which
//! keys, and the invalidation messages they get when those keys change.
//!
//! A client in the default mode is remembered for every key a read-only
//! command of its served (`commands::call`); the first change to such a key
//! sends it one invalidation and forgets it. A BCAST client is remembered
//! per prefix instead and hears of every key under its prefixes that
//! changed, batched until the connection has run its pending requests (Redis
//! sends those in `beforeSleep`). The changes come from the keyspace's
//! effects record ([`crate::keyspace::InvalidationSink`]): every write,
//! expiry and FLUSH already goes through it, so no command family knows
//! about tracking.
//!
//! A message goes to the client itself as a RESP3 push `invalidate [keys]`,
//! or to the client it redirects to: as that push when the target speaks
//! RESP3, as a `message` on `__redis__:invalidate` when it is a RESP2
//! subscriber, otherwise nowhere. An invalidation caused by the client's
//! own command waits until that command's reply is out (Redis's
//! `tracking_pending_keys`); a FLUSH invalidates everything with a null.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::client::{ClientHandle, ClientRegistry};
use crate::config::Config;
use crate::keyspace::{InvalidationSink, Key};
use crate::protocol::{Reply, Resp};

/// A client's tracking flags (Redis's `CLIENT_TRACKING*` bits).
pub mod flag {
    pub const ON: u8 = 1;
    pub const BCAST: u8 = 2;
    pub const OPTIN: u8 = 4;
    pub const OPTOUT: u8 = 8;
    pub const NOLOOP: u8 = 16;
    /// The client it redirects to is gone.
    pub const BROKEN_REDIR: u8 = 32;
    /// CLIENT CACHING yes/no was given for the next command.
    pub const CACHING: u8 = 64;
}

/// What CLIENT TRACKING ON asks for.
pub struct Options {
    pub redirect: u64,
    /// BCAST, OPTIN, OPTOUT, NOLOOP.
    pub flags: u8,
    pub prefixes: Vec<Bytes>,
}

/// What an invalidation says: these keys, or every key (a FLUSH).
enum Payload {
    Keys(Vec<Bytes>),
    All,
}

impl Payload {
    /// The message's value; a FLUSH's null is written in the tracking
    /// client's protocol, as Redis does, even to a redirect target.
    fn reply(&self, tracker_resp: Resp) -> Reply {
        match self {
            Payload::Keys(keys) => Reply::Array(keys.iter().cloned().map(Reply::Bulk).collect()),
            Payload::All => Reply::NullIn(tracker_resp),
        }
    }
}

/// One client with tracking on.
struct Tracker {
    flags: u8,
    redirect: u64,
    /// BCAST prefixes, in byte order (TRACKINGINFO lists them so).
    prefixes: BTreeSet<Bytes>,
    handle: Arc<ClientHandle>,
}

/// A BCAST prefix: the keys under it changed since the last broadcast (with
/// the client that last changed each, for NOLOOP; 0 for none) and its clients.
#[derive(Default)]
struct Prefix {
    keys: BTreeMap<Bytes, u64>,
    clients: BTreeSet<u64>,
}

#[derive(Default)]
struct State {
    /// Key → the clients that may cache it (Redis's `TrackingTable`; keys
    /// of every database share it, as in Redis).
    table: HashMap<Bytes, BTreeSet<u64>>,
    /// Client ids stored across the table (`tracking_total_items`).
    items: usize,
    prefixes: BTreeMap<Bytes, Prefix>,
    trackers: HashMap<u64, Tracker>,
    /// Invalidations caused by a client's own running command, sent once
    /// its reply is written (None: a FLUSH).
    deferred: HashMap<u64, Vec<Option<Bytes>>>,
    /// Rounds of table eviction that did not get under the limit.
    over_limit_rounds: usize,
}

pub struct Tracking {
    config: Arc<Config>,
    clients: Arc<ClientRegistry>,
    state: Mutex<State>,
    /// Clients with tracking on (INFO `tracking_clients`).
    trackers: AtomicUsize,
    /// Whether a change can concern anyone: read once per unit of work.
    active: AtomicBool,
    /// BCAST keys wait to be sent.
    broadcast_due: AtomicBool,
}

impl Tracking {
    pub fn new(config: Arc<Config>, clients: Arc<ClientRegistry>) -> Tracking {
        Tracking {
            config,
            clients,
            state: Mutex::default(),
            trackers: AtomicUsize::new(0),
            active: AtomicBool::new(false),
            broadcast_due: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the cheap checks true to `st`.
    fn update_counts(&self, st: &State) {
        self.trackers.store(st.trackers.len(), Ordering::Relaxed);
        let active = !st.trackers.is_empty() || !st.table.is_empty();
        self.active.store(active, Ordering::Relaxed);
    }

    /// INFO `tracking_clients`.
    pub fn clients(&self) -> usize {
        self.trackers.load(Ordering::Relaxed)
    }

    /// INFO `tracking_total_keys`, `tracking_total_items`, `tracking_total_prefixes`.
    pub fn totals(&self) -> (usize, usize, usize) {
        let st = self.lock();
        (st.table.len(), st.items, st.prefixes.len())
    }

    /// Redis's `checkPrefixCollisionsOrReply`: the new prefixes must not
    /// overlap each other or the client's current ones.
    pub fn check_prefixes(&self, id: u64, prefixes: &[Bytes]) -> Result<(), Reply> {
        let st = self.lock();
        let existing = st.trackers.get(&id).map(|t| &t.prefixes);
        let overlap = |a: &[u8], b: &[u8]| {
            let n = a.len().min(b.len());
            a[..n] == b[..n]
        };
        for (i, new) in prefixes.iter().enumerate() {
            if let Some(old) = existing.and_then(|set| set.iter().find(|old| overlap(old, new))) {
                return Err(overlap_error(new, "an existing", old));
            }
            if let Some(other) = prefixes[i + 1..].iter().find(|o| overlap(new, o)) {
                return Err(overlap_error(new, "another provided", other));
            }
        }
        Ok(())
    }

    /// Redis's `enableTracking`.
    pub fn enable(&self, handle: &Arc<ClientHandle>, options: Options) {
        let mut st = self.lock();
        let id = handle.id;
        let tracker = st.trackers.entry(id).or_insert_with(|| Tracker {
            flags: 0,
            redirect: 0,
            prefixes: BTreeSet::new(),
            handle: handle.clone(),
        });
        tracker.flags = flag::ON | options.flags;
        tracker.redirect = options.redirect;
        let mut prefixes = options.prefixes;
        if options.flags & flag::BCAST != 0 && prefixes.is_empty() {
            prefixes.push(Bytes::new());
        }
        if options.flags & flag::BCAST != 0 {
            tracker.prefixes.extend(prefixes.iter().cloned());
            for prefix in prefixes {
                st.prefixes.entry(prefix).or_default().clients.insert(id);
            }
        }
        show(handle, flag::ON | options.flags, options.redirect);
        self.update_counts(&st);
    }

    /// Redis's `disableTracking`: RESET, CLIENT TRACKING OFF, disconnection.
    /// The keys remembered for the client stay until they change, as in Redis.
    pub fn disable(&self, id: u64) {
        let mut st = self.lock();
        st.deferred.remove(&id);
        let Some(tracker) = st.trackers.remove(&id) else {
            return;
        };
        for prefix in &tracker.prefixes {
            if let Some(p) = st.prefixes.get_mut(prefix) {
                p.clients.remove(&id);
                if p.clients.is_empty() {
                    st.prefixes.remove(prefix);
                }
            }
        }
        show(&tracker.handle, 0, 0);
        self.update_counts(&st);
    }

    /// The client's flags, redirect and prefixes (CLIENT TRACKINGINFO).
    pub fn info(&self, id: u64) -> (u8, u64, Vec<Bytes>) {
        let st = self.lock();
        st.trackers.get(&id).map_or((0, 0, Vec::new()), |t| {
            (t.flags, t.redirect, t.prefixes.iter().cloned().collect())
        })
    }

    /// Redis's `trackingRememberKeys`: the client may now cache `keys`.
    pub fn remember<'a>(&self, id: u64, keys: impl Iterator<Item = &'a [u8]>) {
        let mut st = self.lock();
        let st = &mut *st;
        for key in keys {
            let ids = st.table.entry(Bytes::copy_from_slice(key)).or_default();
            if ids.insert(id) {
                st.items += 1;
            }
        }
        self.update_counts(st);
    }

    /// Redis's `trackingLimitUsedSlots` (before each command and in the
    /// cron): over `tracking-table-max-keys`, keys are dropped from the
    /// table, their clients told as if the keys changed; the effort grows
    /// with each round that did not get under the limit.
    pub fn limit(&self) {
        if self.clients() == 0 {
            return;
        }
        let max = self.config.tracking_table_max_keys() as usize;
        let mut st = self.lock();
        if max == 0 || st.table.len() <= max {
            st.over_limit_rounds = 0;
            return;
        }
        let effort = 100 * (st.over_limit_rounds + 1);
        for _ in 0..effort {
            let Some(key) = st.table.keys().next().cloned() else {
                break;
            };
            self.invalidate_key(&mut st, 0, key, false);
            if st.table.len() <= max {
                st.over_limit_rounds = 0;
                self.update_counts(&st);
                return;
            }
        }
        st.over_limit_rounds += 1;
        self.update_counts(&st);
    }

    /// Redis's `trackingInvalidateKey` for a key changed by client `by` (0
    /// for none): BCAST prefixes note it when `bcast`, and every client
    /// remembered for it is told (or, for `by` itself, told after its reply)
    /// and forgotten.
    fn invalidate_key(&self, st: &mut State, by: u64, key: Bytes, bcast: bool) {
        if bcast && !st.prefixes.is_empty() {
            for (prefix, p) in st.prefixes.iter_mut() {
                if key.starts_with(prefix) {
                    p.keys.insert(key.clone(), by);
                    self.broadcast_due.store(true, Ordering::Relaxed);
                }
            }
        }
        let Some(ids) = st.table.remove(&key) else {
            return;
        };
        st.items -= ids.len();
        for id in ids {
            let Some(tracker) = st.trackers.get(&id) else {
                continue;
            };
            if tracker.flags & flag::BCAST != 0 || (tracker.flags & flag::NOLOOP != 0 && id == by) {
                continue;
            }
            if id == by {
                st.deferred.entry(id).or_default().push(Some(key.clone()));
            } else {
                self.send(st, id, &Payload::Keys(vec![key.clone()]));
            }
        }
    }

    /// Redis's `trackingInvalidateKeysOnFlush`: every tracking client is
    /// told that all keys are invalid, and the table is emptied.
    fn invalidate_all(&self, st: &mut State, by: u64) {
        // In connection order, as Redis walks its client list.
        let mut ids: Vec<u64> = st.trackers.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if id == by {
                st.deferred.entry(id).or_default().push(None);
            } else {
                self.send(st, id, &Payload::All);
            }
        }
        st.table.clear();
        st.items = 0;
    }

    /// Redis's `sendTrackingMessage` for tracking client `id`.
    fn send(&self, st: &mut State, id: u64, payload: &Payload) {
        let Some(tracker) = st.trackers.get_mut(&id) else {
            return;
        };
        let resp = tracker.handle.info().resp;
        let (target, redirected) = if tracker.redirect == 0 {
            (tracker.handle.clone(), false)
        } else {
            match self.clients.get(tracker.redirect) {
                Some(target) => (target, true),
                None => {
                    tracker.flags |= flag::BROKEN_REDIR;
                    show(&tracker.handle, tracker.flags, tracker.redirect);
                    if resp == Resp::V3 {
                        let reply = Reply::Push(vec![
                            Reply::bulk("tracking-redir-broken"),
                            Reply::from(tracker.redirect as i64),
                        ]);
                        self.push(&tracker.handle, reply);
                    }
                    return;
                }
            }
        };
        let reply = if target.info().resp == Resp::V3 {
            Reply::Push(vec![Reply::bulk("invalidate"), payload.reply(resp)])
        } else if redirected && target.is_subscriber() {
            Reply::Push(vec![
                Reply::bulk("message"),
                Reply::bulk("__redis__:invalidate"),
                payload.reply(resp),
            ])
        } else {
            // A RESP2 connection cannot take a push between replies.
            return;
        };
        self.push(&target, reply);
    }

    fn push(&self, target: &ClientHandle, reply: Reply) {
        if let Some(mailbox) = target.mailbox() {
            let class = if target.is_subscriber() { 2 } else { 0 };
            mailbox.push(reply, self.config.client_output_buffer_limits()[class]);
        }
    }

    /// Sends what client `id`'s own command invalidated, now that its reply
    /// is written (Redis's `trackingHandlePendingKeyInvalidations`).
    pub fn send_deferred(&self, id: u64) {
        let mut st = self.lock();
        let Some(pending) = st.deferred.remove(&id) else {
            return;
        };
        for key in pending {
            let payload = match key {
                Some(key) => Payload::Keys(vec![key]),
                None => Payload::All,
            };
            self.send(&mut st, id, &payload);
        }
    }

    /// Whether BCAST messages wait (one load).
    pub fn broadcast_due(&self) -> bool {
        self.broadcast_due.load(Ordering::Relaxed)
    }

    /// Redis's `trackingBroadcastInvalidationMessages`: each prefix's changed
    /// keys to its clients, in byte order, without a NOLOOP client's own.
    pub fn broadcast(&self) {
        if !self.broadcast_due.swap(false, Ordering::Relaxed) {
            return;
        }
        let mut st = self.lock();
        let mut messages = Vec::new();
        for p in st.prefixes.values_mut() {
            let keys = std::mem::take(&mut p.keys);
            if keys.is_empty() {
                continue;
            }
            for &id in &p.clients {
                messages.push((id, keys.clone()));
            }
        }
        for (id, keys) in messages {
            let noloop = st
                .trackers
                .get(&id)
                .is_some_and(|t| t.flags & flag::NOLOOP != 0);
            let keys: Vec<Bytes> = keys
                .into_iter()
                .filter(|(_, by)| !noloop || *by != id)
                .map(|(key, _)| key)
                .collect();
            if !keys.is_empty() {
                self.send(&mut st, id, &Payload::Keys(keys));
            }
        }
    }
}

/// Mirrors a client's tracking state into what CLIENT LIST shows.
fn show(handle: &ClientHandle, flags: u8, redirect: u64) {
    let mut info = handle.info();
    info.tracking = flags;
    info.tracking_redirect = redirect;
}

fn overlap_error(new: &[u8], which: &str, old: &[u8]) -> Reply {
    Reply::error_owned(format!(
        "ERR Prefix '{}' overlaps with {which} prefix '{}'. Prefixes for a single client must not overlap.",
        String::from_utf8_lossy(new),
        String::from_utf8_lossy(old)
    ))
}

impl InvalidationSink for Tracking {
    fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    fn invalidate(&self, by: u64, keys: Vec<Option<Key>>) {
        let mut st = self.lock();
        for key in keys {
            match key {
                Some(key) => self.invalidate_key(&mut st, by, Bytes::copy_from_slice(&key), true),
                None => self.invalidate_all(&mut st, by),
            }
        }
        self.update_counts(&st);
    }
}
