//! WATCH's registry: which clients watch which keys (Redis's `db->watched_keys`).
//!
//! Only watched keys are tracked. Every keyspace write goes through
//! [`super::DbView`], which calls [`Watches::touch`] (Redis's
//! `touchWatchedKey`, reached through `signalModifiedKey`); a flush or swap
//! calls [`Watches::touch_live`] (`touchAllWatchedKeysInDb`). Touching sets the
//! watchers' dirty flag (`CLIENT_DIRTY_CAS`), which makes their EXEC fail.
//! When nobody watches anything a write pays one relaxed atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Key, KeyHasher};

/// One client watching one key.
struct Watcher {
    client: u64,
    dirty: Arc<AtomicBool>,
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

    /// Registers `client` as a watcher of `key` in `db`. Returns false when it
    /// already watches it (Redis keeps one `watchedKey` per client and key).
    pub fn watch(&self, db: usize, key: &[u8], client: u64, dirty: &Arc<AtomicBool>) -> bool {
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

    fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// A write to `key` in `db`: its watchers' transactions must fail.
    pub(super) fn touch(&self, db: usize, key: &[u8]) {
        if !self.any() {
            return;
        }
        if let Some(map) = self.db(db) {
            for w in map.get(key).into_iter().flatten() {
                w.dirty.store(true, Ordering::Relaxed);
            }
        }
    }

    /// A flush or swap of database `db`: the watchers of every key for which
    /// `live` says the key existed (before or after) are touched, as Redis's
    /// `touchAllWatchedKeysInDb` only touches keys that were there.
    pub(super) fn touch_live(&self, db: usize, mut live: impl FnMut(&[u8]) -> bool) {
        if !self.any() {
            return;
        }
        if let Some(map) = self.db(db) {
            for (key, watchers) in map.iter() {
                if live(key) {
                    for w in watchers {
                        w.dirty.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}
