//! Streams (Redis's t_stream.c data structure): entries in nodes of up to
//! `stream-node-max-entries` entries / about `stream-node-max-bytes` bytes,
//! keyed in an ordered map by the ID of their first entry (Redis: a radix
//! tree of listpacks keyed by the master ID), plus the consumer groups with
//! their pending entries lists.
//!
//! A node keeps its entries' field/value pairs packed in one byte buffer
//! (varint-prefixed strings, [`crate::types::varint`]) and a small index of
//! IDs. Deletion only flags an entry, as Redis's XDEL and exact XTRIM do,
//! and a node counts its flagged entries towards its size; a node whose
//! entries are all deleted goes away. Node boundaries follow Redis's rules,
//! so approximate trimming (`~`, which removes whole nodes only) leaves the
//! same entries as Redis's would. Unlike Redis, IDs are not delta-encoded
//! and field names are not shared with a master entry: that is the swap
//! still to make for Redis's memory (see ARCHITECTURE.md).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::memory::alloc_size;
use super::varint::{push_prefixed, read_prefixed};

/// A stream entry ID, `<ms>-<seq>`, ordered as Redis compares them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID (`streamIncrID`), None past the last possible one.
    pub fn incr(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (u64::MAX, u64::MAX) => None,
            (ms, u64::MAX) => Some(StreamId::new(ms + 1, 0)),
            (ms, seq) => Some(StreamId::new(ms, seq + 1)),
        }
    }

    /// The previous ID (`streamDecrID`), None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (0, 0) => None,
            (ms, 0) => Some(StreamId::new(ms - 1, u64::MAX)),
            (ms, seq) => Some(StreamId::new(ms, seq - 1)),
        }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// `<ms>-<seq>` as Redis formats it.
    pub fn to_bytes(self) -> Bytes {
        Bytes::from(format!("{}-{}", self.ms, self.seq))
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Largest total size of an entry's fields and values (Redis's
/// `STREAM_LISTPACK_MAX_SIZE`, a listpack's 32-bit limit).
pub const MAX_ENTRY_BYTES: usize = (1 << 30) - 1;

/// One entry's place in its node.
#[derive(Clone, Copy, Debug)]
struct Item {
    id: StreamId,
    /// Where the entry's packed fields end in the node's `data` (they start
    /// where the previous entry's end).
    end: u32,
    deleted: bool,
}

/// Up to `stream-node-max-entries` entries, live and deleted.
#[derive(Clone, Debug, Default)]
struct Node {
    items: Vec<Item>,
    data: Vec<u8>,
    live: usize,
    /// Redis's listpack size for the same entries, roughly, for the
    /// `stream-node-max-bytes` rule.
    lp_bytes: usize,
}

impl Node {
    fn fields(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |p| self.items[p].end as usize);
        &self.data[start..self.items[i].end as usize]
    }

    fn last_id(&self) -> Option<StreamId> {
        self.items.last().map(|i| i.id)
    }
}

/// An entry as read: its ID and its packed field/value pairs.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub id: StreamId,
    packed: &'a [u8],
}

impl<'a> Entry<'a> {
    /// Fields and values, alternating.
    pub fn items(&self) -> impl Iterator<Item = &'a [u8]> {
        let packed = self.packed;
        let mut pos = 0;
        std::iter::from_fn(move || {
            let (item, next) = read_prefixed(packed, pos)?;
            pos = next;
            Some(item)
        })
    }

    /// How many fields and values (twice the pairs).
    pub fn item_count(&self) -> usize {
        self.items().count()
    }
}

/// How XADD and XTRIM trim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// A pending entry: delivered to `consumer`, not yet acknowledged.
#[derive(Clone, Debug)]
pub struct Nack {
    pub delivery_time: u64,
    pub delivery_count: u64,
    pub consumer: Bytes,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default)]
pub struct Consumer {
    pub seen_time: u64,
    pub pel: BTreeSet<StreamId>,
}

/// `SCG_INVALID_ENTRIES_READ`: the group's read counter is unknown.
pub const INVALID_ENTRIES_READ: i64 = -1;

/// A consumer group.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub last_id: StreamId,
    /// Entries read, or [`INVALID_ENTRIES_READ`].
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            ..Group::default()
        }
    }

    /// Removes `id` from the PEL and from its consumer's; whether it was there.
    pub fn ack(&mut self, id: StreamId) -> Option<Nack> {
        let nack = self.pel.remove(&id)?;
        if let Some(c) = self.consumers.get_mut(&nack.consumer) {
            c.pel.remove(&id);
        }
        Some(nack)
    }

    /// Gives the pending entry `id` to `consumer` (which exists).
    pub fn assign(&mut self, id: StreamId, consumer: &[u8]) {
        let Some(nack) = self.pel.get_mut(&id) else {
            return;
        };
        if nack.consumer != consumer {
            if let Some(old) = self.consumers.get_mut(&nack.consumer) {
                old.pel.remove(&id);
            }
            nack.consumer = Bytes::copy_from_slice(consumer);
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }
}

/// A stream value.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Bytes, Group>,
}

/// Why an append failed.
#[derive(Debug, PartialEq, Eq)]
pub enum AppendError {
    /// The ID is not above the last one (`EDOM`).
    IdTooSmall,
    /// The entry is too big for a node (`ERANGE`).
    TooLarge,
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The radix tree keys Redis would have: one per node.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The ID XADD gives an entry (`streamAppendItem`'s choice): `*` is the
    /// clock or the last ID plus one; `ms-*` the next sequence of `ms`.
    /// `explicit` is the ID given and whether its sequence was.
    pub fn next_id(
        &self,
        now_ms: u64,
        explicit: Option<(StreamId, bool)>,
    ) -> Result<StreamId, AppendError> {
        let id = match explicit {
            Some((id, true)) => id,
            Some((id, false)) => {
                if id.ms == self.last_id.ms {
                    if self.last_id.seq == u64::MAX {
                        // Redis fails here without setting errno, and
                        // the reply it picks by errno is this one.
                        return Err(AppendError::TooLarge);
                    }
                    StreamId::new(id.ms, self.last_id.seq + 1)
                } else {
                    id
                }
            }
            None if now_ms > self.last_id.ms => StreamId::new(now_ms, 0),
            None => self.last_id.incr().unwrap_or(StreamId::MIN),
        };
        if id <= self.last_id {
            return Err(AppendError::IdTooSmall);
        }
        Ok(id)
    }

    /// Appends an entry whose ID came from [`Stream::next_id`].
    pub fn append(
        &mut self,
        id: StreamId,
        pairs: &[&[u8]],
        max_entries: u64,
        max_bytes: u64,
    ) -> Result<(), AppendError> {
        let total: usize = pairs.iter().map(|p| p.len()).sum();
        if total > MAX_ENTRY_BYTES {
            return Err(AppendError::TooLarge);
        }
        let max_bytes = match max_bytes as usize {
            0 => MAX_ENTRY_BYTES,
            n => n.min(MAX_ENTRY_BYTES),
        };
        let tail_full = self.nodes.last_key_value().is_none_or(|(_, node)| {
            node.lp_bytes + total >= max_bytes
                || (max_entries != 0 && node.items.len() as u64 >= max_entries)
        });
        if tail_full {
            let master = Node {
                // A listpack's header and the master entry Redis writes.
                lp_bytes: 7 + 4 + pairs.iter().step_by(2).map(|f| f.len() + 2).sum::<usize>(),
                ..Node::default()
            };
            self.nodes.insert(id, master);
        }
        let Some(mut node) = self.nodes.last_entry() else {
            return Err(AppendError::TooLarge);
        };
        let node = node.get_mut();
        for item in pairs {
            push_prefixed(&mut node.data, item);
        }
        node.lp_bytes += 5 + pairs.iter().map(|p| p.len() + 2).sum::<usize>();
        node.items.push(Item {
            id,
            end: node.data.len() as u32,
            deleted: false,
        });
        node.live += 1;
        self.length += 1;
        self.last_id = id;
        self.entries_added += 1;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(())
    }

    /// The first entry's ID, deleted or not (`streamGetEdgeID(s,1,0)`), or
    /// the last possible ID for an empty stream: what an approximate MINID
    /// trim propagates.
    pub fn first_raw_id(&self) -> StreamId {
        self.nodes
            .values()
            .next()
            .and_then(|n| n.items.first())
            .map_or(StreamId::MAX, |i| i.id)
    }

    /// XINFO's `radix-tree-nodes`: exact for up to one node (a root and a
    /// leaf), estimated beyond (we keep no radix tree to count).
    pub fn rax_nodes(&self) -> usize {
        rax_nodes_for(self.nodes.len())
    }

    /// The live entries from `start` to `end` inclusive, forwards or backwards.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = Entry<'_>> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        let from = self
            .nodes
            .range(..=start)
            .next_back()
            .map_or(StreamId::MIN, |(k, _)| *k);
        let nodes = self.nodes.range(from..=end);
        let in_range = move |e: &Entry| e.id >= start && e.id <= end;
        fn live(node: &Node, i: usize) -> Option<Entry<'_>> {
            let item = node.items[i];
            (!item.deleted).then(|| Entry {
                id: item.id,
                packed: node.fields(i),
            })
        }
        if rev {
            Box::new(
                nodes
                    .rev()
                    .flat_map(move |(_, n)| {
                        (0..n.items.len()).rev().filter_map(move |i| live(n, i))
                    })
                    .skip_while(move |e| e.id > end)
                    .take_while(move |e| e.id >= start)
                    .filter(in_range),
            )
        } else {
            Box::new(
                nodes
                    .flat_map(move |(_, n)| (0..n.items.len()).filter_map(move |i| live(n, i)))
                    .skip_while(move |e| e.id < start)
                    .take_while(move |e| e.id <= end)
                    .filter(in_range),
            )
        }
    }

    /// The live entry `id`.
    pub fn get(&self, id: StreamId) -> Option<Entry<'_>> {
        self.range(id, id, false).next()
    }

    /// The first live entry (`streamGetEdgeID(s,1,1)`), if any.
    pub fn first_entry(&self) -> Option<Entry<'_>> {
        self.range(StreamId::MIN, StreamId::MAX, false).next()
    }

    /// The last live entry (`streamLastValidID`), if any.
    pub fn last_entry(&self) -> Option<Entry<'_>> {
        self.range(StreamId::MIN, StreamId::MAX, true).next()
    }

    /// Marks entry `id` deleted (`streamDeleteItem`); whether it was there.
    /// The caller updates `first_id` and `max_deleted_id` as XDEL does.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(mut node) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let key = *node.0;
        let node = &mut node.1;
        let Ok(i) = node.items.binary_search_by(|it| it.id.cmp(&id)) else {
            return false;
        };
        if node.items[i].deleted {
            return false;
        }
        node.items[i].deleted = true;
        node.live -= 1;
        if node.live == 0 {
            self.nodes.remove(&key);
        }
        self.length -= 1;
        true
    }

    /// Recomputes `first_id` after deletions (XDEL, XTRIM).
    pub fn refresh_first_id(&mut self) {
        self.first_id = self.first_entry().map_or(StreamId::MIN, |e| e.id);
    }

    /// Redis's `streamTrim`: whole nodes from the head while the rule
    /// allows, then (unless `approx`) entries one by one. `limit` (0: none)
    /// caps the entries removed. Returns how many were.
    pub fn trim(&mut self, trim: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some(mut first) = self.nodes.first_entry() {
            if let Trim::MaxLen(max) = trim {
                if self.length <= max {
                    break;
                }
            }
            let node = first.get_mut();
            let entries = node.live as u64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match trim {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => node.last_id().is_some_and(|last| last < min),
            };
            if remove_node {
                first.remove();
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let mut removed_here = 0;
            for item in node.items.iter_mut() {
                let stop = match trim {
                    Trim::MaxLen(max) => self.length - removed_here <= max,
                    Trim::MinId(min) => item.id >= min,
                };
                if stop {
                    break;
                }
                if !item.deleted {
                    item.deleted = true;
                    node.live -= 1;
                    removed_here += 1;
                }
            }
            self.length -= removed_here;
            deleted += removed_here;
            // The node still holds live entries: the rule is satisfied.
            break;
        }
        if deleted > 0 {
            self.refresh_first_id();
        }
        deleted
    }

    /// `streamRangeHasTombstones` from `start` to the end.
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id
    }

    /// `streamEstimateDistanceFromFirstEverEntry`: the read counter of `id`,
    /// or [`INVALID_ENTRIES_READ`].
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.length) as i64;
            } else if id == self.first_id {
                return (self.entries_added - self.length + 1) as i64;
            }
        }
        INVALID_ENTRIES_READ
    }

    /// `streamReplyWithCGLag`: the group's lag, None when unknown.
    pub fn lag(&self, group: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if group.entries_read != INVALID_ENTRIES_READ && !self.has_tombstones_from(group.last_id) {
            return Some(self.entries_added as i64 - group.entries_read);
        }
        let read = self.estimate_distance(group.last_id);
        (read != INVALID_ENTRIES_READ).then(|| self.entries_added as i64 - read)
    }

    /// The group's bookkeeping when it delivers entry `id` (in
    /// `streamReplyWithRange`): its last ID and read counter move on.
    pub fn advance_group(&mut self, name: &[u8], id: StreamId) {
        let tombstones = self.has_tombstones_from(id);
        let estimate = self.estimate_distance(id);
        let added = self.entries_added;
        let Some(group) = self.groups.get_mut(name) else {
            return;
        };
        if id <= group.last_id {
            return;
        }
        if group.entries_read != INVALID_ENTRIES_READ && !tombstones {
            group.entries_read += 1;
        } else if added != 0 {
            group.entries_read = estimate;
        }
        group.last_id = id;
    }

    /// MEMORY USAGE's estimate in the shape of Redis's `objectComputeSize`:
    /// the stream header, its radix tree, the nodes' listpacks (the first
    /// `samples` measured and averaged over all but the last, which is
    /// measured too: it is preallocated), each group's header, PEL and
    /// consumers. Redis counts a radix tree as 16 bytes a key and 244 a
    /// node (`streamRadixTreeMemoryUsage`); we count the nodes its tree
    /// would have ([`rax_nodes_for`]) and the listpack bytes we estimate.
    pub fn memory(&self, samples: usize) -> usize {
        let mut size = STREAM_HEADER + rax_usage(self.nodes.len());
        let count = self.nodes.len();
        let lp_alloc = |node: &Node, last: bool| {
            alloc_size(if last {
                node.lp_bytes.max(LISTPACK_PREALLOC)
            } else {
                node.lp_bytes
            })
        };
        let (mut lpsize, mut taken) = (0usize, 0usize);
        for (i, node) in self.nodes.values().take(samples.max(1)).enumerate() {
            lpsize += lp_alloc(node, i + 1 == count);
            taken += 1;
        }
        if count <= taken {
            size += lpsize;
        } else if let Some(last) = self.nodes.values().next_back() {
            size += lpsize / taken * (count - 1) + lp_alloc(last, true);
        }
        for group in self.groups.values() {
            size += GROUP_HEADER + rax_usage(group.pel.len()) + NACK_SIZE * group.pel.len();
            for (name, consumer) in &group.consumers {
                size += CONSUMER_HEADER + name.len() + rax_usage(consumer.pel.len());
            }
        }
        size
    }
}

/// Redis's `sizeof(stream)`, `sizeof(streamCG)`, `sizeof(streamConsumer)`,
/// `sizeof(streamNACK)`, and the listpack a new node is given
/// (`STREAM_LISTPACK_MAX_PRE_ALLOCATE`).
const STREAM_HEADER: usize = 80;
const GROUP_HEADER: usize = 40;
const CONSUMER_HEADER: usize = 32;
const NACK_SIZE: usize = 24;
const LISTPACK_PREALLOC: usize = 4096;

/// The nodes of a Redis radix tree of `keys` stream IDs: a root and a leaf
/// for one key; about two per key beyond (measured on Redis for
/// consecutive IDs, the common case).
pub fn rax_nodes_for(keys: usize) -> usize {
    match keys {
        0 => 1,
        1 => 2,
        n => 2 * n + 2,
    }
}

/// `streamRadixTreeMemoryUsage` of a tree of `keys` IDs.
fn rax_usage(keys: usize) -> usize {
    keys * 16 + rax_nodes_for(keys) * (4 + 8 * 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &mut Stream, ms: u64, max_entries: u64) {
        let id = s.next_id(0, Some((StreamId::new(ms, 0), true))).unwrap();
        s.append(id, &[b"f", b"v"], max_entries, 4096).unwrap();
    }

    #[test]
    fn nodes_split_and_approximate_trim_removes_whole_nodes() {
        let mut s = Stream::new();
        for ms in 1..=25 {
            add(&mut s, ms, 10);
        }
        assert_eq!(s.node_count(), 3);
        assert_eq!(s.trim(Trim::MaxLen(12), true, 0), 10);
        assert_eq!(s.len(), 15);
        assert_eq!(s.trim(Trim::MaxLen(12), false, 0), 3);
        assert_eq!(s.first_id, StreamId::new(14, 0));
        let ids: Vec<u64> = s
            .range(StreamId::new(14, 0), StreamId::new(16, 0), true)
            .map(|e| e.id.ms)
            .collect();
        assert_eq!(ids, [16, 15, 14]);
        assert!(s.delete(StreamId::new(15, 0)));
        assert!(!s.delete(StreamId::new(15, 0)));
        assert_eq!(s.get(StreamId::new(16, 0)).map(|e| e.item_count()), Some(2));
    }

    #[test]
    fn ids_follow_redis() {
        let mut s = Stream::new();
        assert_eq!(s.next_id(5, None), Ok(StreamId::new(5, 0)));
        s.last_id = StreamId::new(5, 3);
        assert_eq!(s.next_id(4, None), Ok(StreamId::new(5, 4)));
        assert_eq!(
            s.next_id(0, Some((StreamId::new(5, 0), false))),
            Ok(StreamId::new(5, 4))
        );
        assert_eq!(
            s.next_id(0, Some((StreamId::new(5, 3), true))),
            Err(AppendError::IdTooSmall)
        );
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::new(1, 0).decr(), Some(StreamId::new(0, u64::MAX)));
    }
}
