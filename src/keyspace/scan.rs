//! Whole-database walks that must not hold a client up: SCAN steps and RANDOMKEY.

use rand::Rng;

use super::{DbView, EntryRef, Key, SHARDS_PER_DB};

/// The low cursor bits name the shard; the bits above them a position.
const SHARD_BITS: u32 = SHARDS_PER_DB.trailing_zeros();
const SHARD_MASK: u64 = SHARDS_PER_DB as u64 - 1;
/// Bits of a position: with the shard bits they keep every cursor below
/// 2^63, so clients that read cursors as signed 64-bit numbers (Go, Java,
/// the Prometheus exporter) never see a negative one.
const POSITION_BITS: u32 = 63 - SHARD_BITS;
/// The hash bits below the ones DashMap chooses the shard from (it leaves
/// the top 7 to hashbrown's tag and takes the next `SHARD_BITS`).
const LOW_BITS: u32 = 64 - 7 - SHARD_BITS;

/// A key's place in its shard's scan order, `POSITION_BITS` wide: its hash
/// without the shard bits, which every key of a shard shares (and which
/// would otherwise make every cursor long), and without its lowest bit.
/// Any fixed function of the hash keeps SCAN's guarantees; this one keeps
/// cursors short.
fn order(hash: u64) -> u64 {
    let tag = hash >> (64 - 7);
    let low = hash & ((1 << LOW_BITS) - 1);
    ((tag << LOW_BITS) | low) >> (LOW_BITS + 7 - POSITION_BITS)
}

/// A position as cursor bits: reversed, as Redis reverses its bucket
/// index, so a position with few significant high bits (the ones
/// [`boundary`] picks) is a small number.
fn encode(position: u64) -> u64 {
    position.reverse_bits() >> (64 - POSITION_BITS)
}

/// The position a cursor's bits name (any bits above the width ignored).
fn decode(bits: u64) -> u64 {
    let bits = bits & ((1 << POSITION_BITS) - 1);
    (bits << (64 - POSITION_BITS)).reverse_bits()
}

/// The position in `(last, next]` with the most trailing zero bits: the
/// step ends there, so every key up to `last` is visited and none from
/// `next` on, and the cursor needs about as many bits as it takes to tell
/// the shard's keys apart (a handful for small shards, like Redis's
/// cursors over a small table).
fn boundary(last: u64, next: u64) -> u64 {
    let split = 63 - (last ^ next).leading_zeros();
    (next >> split) << split
}

/// Where a step that may visit about `budget` of `candidates` (keyed by
/// [`order`]) ends: None when it visits them all. It visits `budget` to
/// `budget * 3 / 2` keys, stopping at the boundary needing the fewest
/// cursor bits, so cursors stay short however close two keys' places are.
/// Reorders `candidates`.
fn step_end<T>(candidates: &mut [(u64, T)], budget: usize) -> Option<u64> {
    let window = budget.saturating_add(budget / 2);
    if candidates.len() <= window {
        return None;
    }
    // The `window + 1` first places, in order.
    candidates.select_nth_unstable_by_key(window, |c| c.0);
    let head = &mut candidates[..=window];
    head.sort_unstable_by_key(|c| c.0);
    let best = head[budget - 1..]
        .windows(2)
        .filter(|pair| pair[0].0 < pair[1].0)
        .map(|pair| boundary(pair[0].0, pair[1].0))
        .max_by_key(|end| (end.trailing_zeros(), std::cmp::Reverse(*end)));
    if best.is_some() {
        return best;
    }
    // Every place in the window is the same: end after the first other one.
    let last = head[window].0;
    let next = candidates.iter().map(|c| c.0).filter(|&o| o > last).min()?;
    Some(boundary(last, next))
}

impl DbView<'_, '_> {
    /// One SCAN step: visits about `count` live keys from `cursor` on and
    /// returns the cursor to continue from, 0 when the walk is complete.
    ///
    /// Redis's `dictScan` walks buckets in reverse-binary order so that a
    /// table resized between calls cannot make it skip keys. We get the same
    /// guarantee more simply: within a shard, keys are visited in an order
    /// fixed by their hash ([`order`]), which never changes while a key
    /// exists, and the cursor is `position | shard`, meaning "every key of
    /// `shard` placed below `position` has been visited". Growth, shrinking
    /// and rehashing of the tables therefore cannot skip a key present for
    /// the whole scan (nor repeat one). Keys sharing a place are visited
    /// together. A step costs one pass over each shard it touches (a shard
    /// holds 1/256 of the database); small shards are chained until `count`
    /// keys are collected, as Redis keeps calling `dictScan` until COUNT is
    /// reached, but a shard is only split by a step that starts in it.
    /// Cursors stay below 2^63 and small (see [`boundary`]).
    ///
    /// A key past its TTL is visited with `None`, and counts towards
    /// `count`, as it does in Redis's table; SCAN reclaims the ones it would
    /// have returned.
    pub fn scan(
        &mut self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&Key, Option<EntryRef<'_>>),
    ) -> u64 {
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
                decode(cursor >> SHARD_BITS)
            } else {
                0
            };
            let mut candidates: Vec<(u64, (&Key, EntryRef<'_>))> = shard
                .iter()
                .map(|(k, e)| (order(keyspace.hash(k)), (k, e)))
                .filter(|(o, _)| *o >= from)
                .collect();
            // The position at which this step ends inside the shard, if it does.
            let end = step_end(&mut candidates, budget);
            if end.is_some() && budget < count.max(1) {
                // A step that has visited keys already ends before a shard it
                // would split with what is left of its budget: the little
                // choice of boundary that leaves would make long cursors.
                return index as u64;
            }
            let mut visited = 0;
            for (_, (k, e)) in candidates
                .iter()
                .filter(|c| end.is_none_or(|end| c.0 < end))
            {
                visit(k, Some(*e).filter(|e| !e.is_expired(clock)));
                visited += 1;
            }
            if let Some(end) = end {
                return (encode(end) << SHARD_BITS) | index as u64;
            }
            budget = budget.saturating_sub(visited);
        }
        0
    }

    /// A uniformly random live key (RANDOMKEY), or None when the database is
    /// empty. Expired keys met on the way are reclaimed (propagated as DELs),
    /// as `dbRandomKey` does; each retry removes one, so this ends. Where
    /// expired keys stay (a replica, a paused server), an expired key is the
    /// answer after 100 tries, as Redis answers when every key is volatile.
    pub fn random_key(&mut self) -> Option<Key> {
        let clock = self.clock;
        let mut tries = 100;
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
            self.contains(&key);
            tries -= 1;
            if tries == 0 && self.len() == total {
                return Some(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use bytes::Bytes;

    use super::{boundary, decode, encode, LOW_BITS, POSITION_BITS, SHARD_MASK};
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
                cursor = db.scan(cursor, count, |k, e| {
                    if e.is_some() {
                        seen.push(k.clone())
                    }
                });
                steps += 1;
                if cursor == 0 {
                    break;
                }
            }
            let unique: HashSet<_> = seen.iter().collect();
            assert_eq!((seen.len(), unique.len()), (5_000, 5_000), "COUNT {count}");
            // A step visits COUNT to 1.5 COUNT keys, or ends its shard.
            assert!(
                steps * count * 3 / 2 >= 5_000,
                "COUNT {count}: {steps} steps"
            );
        }
    }

    #[test]
    fn cursors_stay_small_and_cover_keys_added_during_the_scan() {
        let keyspace = Keyspace::new(1);
        let mut set = LockSet::new();
        set.add_db(0);
        let mut guard = keyspace.lock(set);
        let clock = CommandClock::at(1_000);
        let mut db = guard.db(0, &clock);
        for i in 0..10_000 {
            db.set(format!("k{i}").as_bytes(), value(), None);
        }
        let (mut seen, mut cursor, mut added, mut cursors) = (HashSet::new(), 0, 0, Vec::new());
        loop {
            cursor = db.scan(cursor, 10, |k, _| {
                seen.insert(k.clone());
            });
            cursors.push(cursor);
            // Keep the tables growing (and rehashing) while the scan runs.
            for _ in 0..40 {
                db.set(format!("new{added}").as_bytes(), value(), None);
                added += 1;
            }
            if cursor == 0 {
                break;
            }
        }
        assert!(added > 10_000, "{added} keys added");
        for i in 0..10_000 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "k{i} missed");
        }
        // Redis's cursors over a table of 65536 buckets stay below 2^16; ours
        // name a shard (8 bits) and a place among its ~40..200 keys.
        assert_short(&mut cursors);
    }

    /// 99% of `cursors` below 2^18, all below 2^32: a place among a shard's
    /// keys takes a few bits, and only rarely (two keys very close in hash
    /// order at every boundary a step may choose) many more.
    fn assert_short(cursors: &mut [u64]) {
        cursors.sort_unstable();
        let p99 = cursors[cursors.len() * 99 / 100];
        let largest = cursors[cursors.len() - 1];
        assert!(
            p99 < 1 << 18 && largest < 1 << 32,
            "p99 {p99}, largest {largest}"
        );
    }

    #[test]
    fn positions_round_trip_and_boundaries_split() {
        for position in [1, 2, 3, 1 << 54, (1 << 55) - 1, 0x2A_5A5A_5A5A_5A5A] {
            let bits = encode(position);
            assert!(bits < 1 << POSITION_BITS);
            assert_eq!(decode(bits), position);
        }
        // Whatever a client sends decodes to some position.
        assert!(decode(u64::MAX) < 1 << POSITION_BITS);
        for (last, next) in [
            (0, 1),
            (5, 6),
            (0b1011, 0b1100),
            (7, 1 << 40),
            (1 << 40, (1 << 40) + 1),
        ] {
            let end = boundary(last, next);
            assert!(last < end && end <= next, "{last} {next} -> {end}");
        }
        assert_eq!(boundary(0b1011, 0b1101), 0b1100);
    }

    #[test]
    fn shard_bits_are_where_order_expects_them() {
        // Only cursor length depends on this (any order fixed by the hash is
        // correct), but a DashMap that chose shards differently would make
        // every cursor 8 bits longer.
        let keyspace = Keyspace::new(1);
        for i in 0..1_000 {
            let hash = keyspace.hash(format!("k{i}").as_bytes());
            let shard = (hash >> LOW_BITS) & SHARD_MASK;
            assert_eq!(keyspace.shard_of(0, hash) as u64, shard);
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
