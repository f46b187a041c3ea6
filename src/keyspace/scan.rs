//! Whole-database walks that must not hold a client up: SCAN steps and RANDOMKEY.

use rand::Rng;

use super::{DbView, Entry, Key, SHARDS_PER_DB};

/// The low cursor bits name the shard; the rest is a position in hash space.
const SHARD_MASK: u64 = SHARDS_PER_DB as u64 - 1;

impl DbView<'_, '_> {
    /// One SCAN step: visits about `count` live keys from `cursor` on and
    /// returns the cursor to continue from, 0 when the walk is complete.
    ///
    /// Redis's `dictScan` walks buckets in reverse-binary order so that a
    /// table resized between calls cannot make it skip keys. We get the same
    /// guarantee more simply: within a shard, keys are visited in the order of
    /// their hash, which never changes while a key exists, and the cursor is
    /// `position | shard`, meaning "every key of `shard` whose hash is below
    /// `position` has been visited". Growth, shrinking and rehashing of the
    /// tables therefore cannot skip a key present for the whole scan (nor
    /// repeat one). A step stops on a multiple of `SHARDS_PER_DB` in hash
    /// space, so the shard bits stay free; keys sharing the rest of the hash
    /// are visited together. A step costs one pass over each shard it
    /// touches (a shard holds 1/256 of the database); small shards are
    /// chained until `count` keys are collected, as Redis keeps calling
    /// `dictScan` until COUNT is reached.
    pub fn scan(&mut self, cursor: u64, count: usize, mut visit: impl FnMut(&Key, &Entry)) -> u64 {
        let clock = self.clock;
        let keyspace = self.guard.keyspace;
        let first = (cursor & SHARD_MASK) as usize;
        let mut budget = count.max(1);
        for (index, shard) in self.guard.db_shards(self.db) {
            if index < first {
                continue;
            }
            if budget == 0 {
                return index as u64;
            }
            let from = if index == first {
                cursor & !SHARD_MASK
            } else {
                0
            };
            let mut candidates: Vec<(u64, &Key, &Entry)> = shard
                .iter()
                .filter(|(_, e)| !e.is_expired(clock))
                .map(|(k, e)| (keyspace.hash(k), k, e))
                .filter(|(h, _, _)| *h >= from)
                .collect();
            // The hash below which this step ends inside the shard, if it does.
            let mut end = None;
            if candidates.len() > budget {
                let (_, last, _) = candidates.select_nth_unstable_by_key(budget - 1, |c| c.0);
                end = (last.0 | SHARD_MASK).checked_add(1);
            }
            let mut visited = 0;
            for (_, k, e) in candidates
                .iter()
                .filter(|c| end.is_none_or(|end| c.0 < end))
            {
                visit(k, e);
                visited += 1;
            }
            if let Some(end) = end {
                return end | index as u64;
            }
            budget = budget.saturating_sub(visited);
        }
        0
    }

    /// A uniformly random live key (RANDOMKEY), or None when the database is
    /// empty. Expired keys met on the way are removed, as `dbRandomKey` does;
    /// each retry removes one, so this ends.
    pub fn random_key(&mut self) -> Option<Key> {
        let clock = self.clock;
        loop {
            let total = self.len();
            if total == 0 {
                return None;
            }
            let mut pick = rand::thread_rng().gen_range(0..total);
            let mut found = None;
            for (_, shard) in self.guard.db_shards(self.db) {
                if pick < shard.len() {
                    found = shard
                        .iter()
                        .nth(pick)
                        .map(|(k, e)| (k.clone(), e.is_expired(clock)));
                    break;
                }
                pick -= shard.len();
            }
            let (key, expired) = found?;
            if !expired {
                return Some(key);
            }
            self.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use bytes::Bytes;

    use crate::keyspace::{CommandClock, Keyspace, LockSet, StringValue, Value};

    fn value() -> Value {
        Value::String(StringValue::from_bytes(Bytes::from_static(b"v")))
    }

    #[test]
    fn scan_visits_each_key_once_whatever_the_count() {
        let keyspace = Keyspace::new(1);
        let mut set = LockSet::new();
        set.add_db(0);
        let mut guard = keyspace.lock(set);
        let clock = CommandClock::at(1_000);
        let mut db = guard.db(0, &clock);
        for i in 0..5_000 {
            db.set(format!("k{i}").as_bytes(), value(), None);
        }
        db.set(b"gone", value(), Some(10));
        for count in [1, 3, 10, 100, 100_000] {
            let (mut seen, mut cursor, mut steps) = (Vec::new(), 0, 0);
            loop {
                cursor = db.scan(cursor, count, |k, _| seen.push(k.clone()));
                steps += 1;
                if cursor == 0 {
                    break;
                }
            }
            let unique: HashSet<_> = seen.iter().collect();
            assert_eq!((seen.len(), unique.len()), (5_000, 5_000), "COUNT {count}");
            assert!(
                steps >= 5_000 / count.min(5_000),
                "COUNT {count}: {steps} steps"
            );
        }
    }

    #[test]
    fn random_key_skips_and_reclaims_expired_keys() {
        let keyspace = Keyspace::new(1);
        let mut set = LockSet::new();
        set.add_db(0);
        let mut guard = keyspace.lock(set);
        let clock = CommandClock::at(1_000);
        let mut db = guard.db(0, &clock);
        assert_eq!(db.random_key(), None);
        for i in 0..50 {
            db.set(format!("old{i}").as_bytes(), value(), Some(500));
        }
        db.set(b"live", value(), None);
        assert_eq!(db.random_key().as_deref(), Some(&b"live"[..]));
        for i in 0..50 {
            db.remove(format!("old{i}").as_bytes());
        }
        assert_eq!(keyspace.db_volatile(0), 0);
    }
}
