//! WATCH's registry: which clients watch which keys (Redis's `db->watched_keys`).
//!
//! Only watched keys are tracked. Every keyspace write goes through
//! [`super::DbView`], which calls [`Watches::touch`] (Redis's
//! `touchWatchedKey`, reached through `signalModifiedKey`), expiry included;
//! a flush or swap calls [`Watches::touch_db`] (`touchAllWatchedKeysInDb`).
//! Touching sets the watchers' dirty flag (`CLIENT_DIRTY_CAS`), which makes
//! their EXEC fail. A dirty watcher counts as unwatched, as Redis unwatches it.
//! Redis 7.0 remembers whether a key was already expired when it was watched:
//! its reclaiming is then no change. When nobody watches anything a write
//! pays one relaxed atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Key, KeyHasher};

/// Where a watcher's dirty flag lives: the client's handle, which the
/// registry keeps alive while the client watches (a flag allocated apart
/// would cost every connection an allocation).
pub trait DirtyCas: Send + Sync {
    fn dirty_cas(&self) -> &AtomicBool;
}

impl DirtyCas for AtomicBool {
    fn dirty_cas(&self) -> &AtomicBool {
        self
    }
}

/// One client watching one key.
struct Watcher {
    client: u64,
    dirty: Arc<dyn DirtyCas>,
    /// The key was expired but not yet reclaimed when watched (`wk->expired`).
    expired: bool,
}

impl Watcher {
    fn is_dirty(&self) -> bool {
        self.dirty.dirty_cas().load(Ordering::Relaxed)
    }

    fn set_dirty(&self) {
        self.dirty.dirty_cas().store(true, Ordering::Relaxed);
    }
}

/// What a flush or swap finds for one watched key: present (even expired) in
/// the emptied database, present in the one swapped in, expired there.
pub(super) struct Presence {
    pub here: bool,
    pub there: bool,
    pub there_expired: bool,
}

type WatchMap = HashMap<Key, Vec<Watcher>, KeyHasher>;

pub struct Watches {
    /// Watchers registered in all databases; writes skip the locks when zero.
    count: AtomicUsize,
    dbs: Box<[Mutex<WatchMap>]>,
}

impl Watches {
    pub(super) fn new(databases: usize) -> Watches {
        Watches {
            count: AtomicUsize::new(0),
            dbs: (0..databases)
                .map(|_| Mutex::new(WatchMap::default()))
                .collect(),
        }
    }

    /// The watch map of one database. Taken while holding shard locks, never
    /// the other way round, so it cannot deadlock with them.
    fn db(&self, db: usize) -> Option<MutexGuard<'_, WatchMap>> {
        let map = self.dbs.get(db)?;
        Some(map.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Registers `client` as a watcher of `key` in `db`, `expired` when the key
    /// is there but past its TTL. Returns false when it already watches it
    /// (Redis keeps one `watchedKey` per client and key).
    pub fn watch<D: DirtyCas + 'static>(
        &self,
        db: usize,
        key: &[u8],
        client: u64,
        dirty: &Arc<D>,
        expired: bool,
    ) -> bool {
        let Some(mut map) = self.db(db) else {
            return false;
        };
        let watchers = map.entry(Key::from(key)).or_default();
        if watchers.iter().any(|w| w.client == client) {
            return false;
        }
        watchers.push(Watcher {
            client,
            dirty: dirty.clone(),
            expired,
        });
        self.count.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Removes `client`'s watch on `key` in `db` (Redis's `unwatchAllKeys`, one key).
    pub fn unwatch(&self, db: usize, key: &[u8], client: u64) {
        let Some(mut map) = self.db(db) else {
            return;
        };
        let Some(watchers) = map.get_mut(key) else {
            return;
        };
        let before = watchers.len();
        watchers.retain(|w| w.client != client);
        self.count
            .fetch_sub(before - watchers.len(), Ordering::Relaxed);
        if watchers.is_empty() {
            map.remove(key);
        }
    }

    /// Whether `client` watched `key` when it was already expired (such a key
    /// expiring is no change: `isWatchedKeyExpired` skips it).
    pub fn watched_expired(&self, db: usize, key: &[u8], client: u64) -> bool {
        self.db(db)
            .and_then(|map| {
                let w = map.get(key)?.iter().find(|w| w.client == client)?;
                Some(w.expired)
            })
            .unwrap_or(false)
    }

    pub(super) fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// A write to `key` in `db`, or its expiry; `present` says whether the
    /// key is still there afterwards. Redis's `touchWatchedKey`, including its
    /// quirk: a watcher of an already expired key that is still there stops
    /// the walk, so the watchers after it are not touched either.
    pub(super) fn touch(&self, db: usize, key: &[u8], present: bool) {
        if !self.any() {
            return;
        }
        let Some(mut map) = self.db(db) else {
            return;
        };
        for w in map.get_mut(key).into_iter().flatten() {
            if w.is_dirty() {
                continue;
            }
            if w.expired {
                if present {
                    break;
                }
                w.expired = false;
                continue;
            }
            w.set_dirty();
        }
    }

    /// A flush (nothing swapped in) or a swap of database `db`: Redis's
    /// `touchAllWatchedKeysInDb`, with `presence` telling for each watched key
    /// whether it was there and what replaces it.
    pub(super) fn touch_db(&self, db: usize, mut presence: impl FnMut(&[u8]) -> Presence) {
        if !self.any() {
            return;
        }
        let Some(mut map) = self.db(db) else {
            return;
        };
        for (key, watchers) in map.iter_mut() {
            let p = presence(key);
            if !p.here && !p.there {
                continue;
            }
            for w in watchers.iter_mut().filter(|w| !w.is_dirty()) {
                if w.expired {
                    if !p.there {
                        w.expired = false;
                        continue;
                    }
                    if p.there_expired {
                        continue;
                    }
                } else if !p.here && p.there_expired {
                    w.expired = true;
                    continue;
                }
                w.set_dirty();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag() -> Arc<AtomicBool> {
        Arc::new(AtomicBool::new(false))
    }

    #[test]
    fn unwatching_leaves_no_trace() {
        let watches = Watches::new(2);
        let (a, b) = (flag(), flag());
        assert!(watches.watch(0, b"k", 1, &a, false));
        assert!(!watches.watch(0, b"k", 1, &a, false));
        assert!(watches.watch(0, b"k", 2, &b, false));
        assert!(watches.watch(1, b"k", 1, &a, false));
        watches.unwatch(0, b"k", 1);
        watches.unwatch(1, b"k", 1);
        watches.unwatch(0, b"k", 2);
        assert_eq!(watches.count.load(Ordering::Relaxed), 0);
        assert!(watches
            .dbs
            .iter()
            .all(|m| m.lock().is_ok_and(|m| m.is_empty())));
        // Nobody watches: a write touches no one.
        watches.touch(0, b"k", true);
        assert!(!a.load(Ordering::Relaxed));
    }

    #[test]
    fn touch_follows_redis_including_the_expired_watcher_quirk() {
        let watches = Watches::new(1);
        let (expired, live) = (flag(), flag());
        watches.watch(0, b"k", 1, &expired, true);
        watches.watch(0, b"k", 2, &live, false);
        // The expired key is still there: Redis's loop stops at the first watcher.
        watches.touch(0, b"k", true);
        assert!(!expired.load(Ordering::Relaxed) && !live.load(Ordering::Relaxed));
        // Reclaimed: no change for the first watcher, a change for the second.
        watches.touch(0, b"k", false);
        assert!(!expired.load(Ordering::Relaxed) && live.load(Ordering::Relaxed));
        // Now the key is "no key" for the first watcher: writing it is a change.
        watches.touch(0, b"k", true);
        assert!(expired.load(Ordering::Relaxed));
    }
}
