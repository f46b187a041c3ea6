//! Streams (Redis's t_stream.c data structure): entries in nodes of up to
//! `stream-node-max-entries` entries / about `stream-node-max-bytes` bytes,
//! keyed in an ordered map by the ID of their first entry (Redis: a radix
//! tree of listpacks keyed by the master ID), plus the consumer groups with
//! their pending entries lists.
//!
//! A node is packed as Redis packs its listpack: one byte buffer of
//! framed records (walkable both ways, [`crate::types::varint`]), each the
//! entry's flags, its ID as deltas from the node's master ID (the first
//! entry's) and its values, preceded by its field names unless they are the
//! first entry's (the master fields, kept once per node). Deletion only
//! flags an entry, as Redis's XDEL and exact XTRIM do, and a node counts its
//! flagged entries towards its size; a node whose entries are all deleted
//! goes away. Node boundaries follow Redis's rules, so approximate trimming
//! (`~`, which removes whole nodes only) leaves the same entries as Redis's.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::memory::alloc_size;
use super::varint::{
    framed_len, push_number, push_prefixed, read_framed, read_framed_back, read_number,
    read_prefixed, write_framed,
};

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
        let (mut ms, mut seq) = (itoa::Buffer::new(), itoa::Buffer::new());
        let (ms, seq) = (
            ms.format(self.ms).as_bytes(),
            seq.format(self.seq).as_bytes(),
        );
        let mut id = Vec::with_capacity(ms.len() + 1 + seq.len());
        id.extend_from_slice(ms);
        id.push(b'-');
        id.extend_from_slice(seq);
        Bytes::from(id)
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

/// The bytes of a listpack element (`lpEncodeGetType` plus its backlen):
/// integers of up to 64 bits in 1 to 9 bytes.
fn lp_int_len(v: i64) -> usize {
    let enc = match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    };
    enc + 1
}

/// [`lp_int_len`] for a string: stored as an integer when it reads as one
/// (`lpStringToInt64`, Redis's strict `string2ll`), else with a 1, 2 or 5
/// byte header and a backlen of 1 to 5 bytes.
fn lp_str_len(s: &[u8]) -> usize {
    if let Some(v) = crate::number::parse_i64(s) {
        return lp_int_len(v);
    }
    let len = s.len();
    let enc = match len {
        0..=63 => 1 + len,
        64..=4095 => 2 + len,
        _ => 5 + len,
    };
    let backlen = match enc {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    enc + backlen
}

/// An entry's flags (Redis's `STREAM_ITEM_FLAG_*`): deleted, and whether
/// it has its node's master field names (then only its values are stored).
const FLAG_DELETED: u8 = 1;
const FLAG_SAMEFIELDS: u8 = 2;

/// Up to `stream-node-max-entries` entries, live and deleted, packed as
/// Redis packs a listpack node: each entry is one framed record (walkable
/// both ways) of its flags, its ID as deltas from the node's master ID, and
/// its values, preceded by its field names unless they are the master's.
#[derive(Clone, Debug)]
struct Node {
    /// The ID of the first entry added (the node's key in the map).
    master: StreamId,
    /// The first entry's field names, prefixed one after another.
    master_fields: Box<[u8]>,
    master_count: usize,
    data: Vec<u8>,
    /// Entries, live and deleted.
    total: usize,
    live: usize,
    last: StreamId,
    /// The bytes of Redis's listpack for the same entries, but for the
    /// master entry's live and deleted counts (see [`Node::lp_bytes`]).
    lp_base: usize,
    /// What Redis allocates for a new node's listpack (MEMORY USAGE counts
    /// it for the last node, which is not shrunk yet).
    prealloc: usize,
}

/// One record of a node as read: where its flags byte is, its ID, its
/// deletion flag and the entry.
struct Slot<'a> {
    flags_at: usize,
    deleted: bool,
    entry: Entry<'a>,
}

impl Node {
    /// A node whose master entry takes its field names from `pairs`.
    fn new(master: StreamId, pairs: &[&[u8]], prealloc: usize) -> Node {
        Node::with_fields(master, pairs.iter().step_by(2).copied(), prealloc)
    }

    /// A node whose master entry has the field names `names` (a loaded
    /// node's master entry need not be its first live entry's).
    fn with_fields<'n>(
        master: StreamId,
        names: impl Iterator<Item = &'n [u8]>,
        prealloc: usize,
    ) -> Node {
        let (mut packed, mut count, mut names_lp) = (Vec::new(), 0usize, 0usize);
        for name in names {
            push_prefixed(&mut packed, name);
            count += 1;
            names_lp += lp_str_len(name);
        }
        Node {
            master,
            master_fields: packed.into_boxed_slice(),
            master_count: count,
            data: Vec::new(),
            total: 0,
            live: 0,
            last: master,
            // A listpack's header and end, and the master entry: field
            // count, names, the 0 that ends it.
            lp_base: 7 + lp_int_len(count as i64) + names_lp + lp_int_len(0),
            prealloc,
        }
    }

    /// Whether `pairs` has the master entry's field names.
    fn same_fields(&self, pairs: &[&[u8]]) -> bool {
        if pairs.len() / 2 != self.master_count {
            return false;
        }
        let mut pos = 0;
        pairs
            .iter()
            .step_by(2)
            .all(|name| match read_prefixed(&self.master_fields, pos) {
                Some((master, next)) => {
                    pos = next;
                    master == *name
                }
                None => false,
            })
    }

    fn push(&mut self, id: StreamId, pairs: &[&[u8]]) {
        let same = self.same_fields(pairs);
        let mut record = vec![if same { FLAG_SAMEFIELDS } else { 0 }];
        push_number(&mut record, (id.ms - self.master.ms) as usize);
        let seq = if id.ms == self.master.ms {
            id.seq - self.master.seq
        } else {
            id.seq
        };
        push_number(&mut record, seq as usize);
        if same {
            for value in pairs.iter().skip(1).step_by(2) {
                push_prefixed(&mut record, value);
            }
        } else {
            push_number(&mut record, pairs.len() / 2);
            for item in pairs {
                push_prefixed(&mut record, item);
            }
        }
        let at = self.data.len();
        self.data.resize(at + framed_len(record.len()), 0);
        write_framed(&mut self.data[at..], &record);
        // Redis's record: flags, ID deltas (its seq delta wraps when the
        // ms differ), [field count, names], values, then the lp-count.
        let n = pairs.len() / 2;
        let names: usize = if same {
            0
        } else {
            lp_int_len(n as i64)
                + pairs
                    .iter()
                    .step_by(2)
                    .map(|f| lp_str_len(f))
                    .sum::<usize>()
        };
        let values: usize = pairs.iter().skip(1).step_by(2).map(|v| lp_str_len(v)).sum();
        let lp_count = if same { n + 3 } else { 2 * n + 4 };
        self.lp_base += lp_int_len(i64::from(if same { FLAG_SAMEFIELDS } else { 0 }))
            + lp_int_len(id.ms.wrapping_sub(self.master.ms) as i64)
            + lp_int_len(id.seq.wrapping_sub(self.master.seq) as i64)
            + names
            + values
            + lp_int_len(lp_count as i64);
        self.total += 1;
        self.live += 1;
        self.last = id;
    }

    /// The record framed at `at..next` (`data` is its payload) as a slot.
    fn slot<'a>(&'a self, at: usize, data: &'a [u8]) -> Option<Slot<'a>> {
        let flags = *data.first()?;
        let (ms, pos) = read_number(data, 1)?;
        let (seq, pos) = read_number(data, pos)?;
        let ms = self.master.ms + ms as u64;
        let seq = if ms == self.master.ms {
            self.master.seq + seq as u64
        } else {
            seq as u64
        };
        let (names, values) = if flags & FLAG_SAMEFIELDS != 0 {
            (Some(&self.master_fields[..]), &data[pos..])
        } else {
            let (_, pos) = read_number(data, pos)?;
            (None, &data[pos..])
        };
        Some(Slot {
            flags_at: at + (framed_len(data.len()) - data.len()) / 2,
            deleted: flags & FLAG_DELETED != 0,
            entry: Entry {
                id: StreamId::new(ms, seq),
                names,
                values,
            },
        })
    }

    /// Every record, deleted ones too, front to back or back to front.
    fn slots(&self) -> Slots<'_> {
        Slots {
            node: self,
            front: 0,
            back: self.data.len(),
        }
    }

    /// Redis's `lpBytes` of this node: the base plus the master entry's
    /// counts of live and deleted entries, whose sizes change with them.
    fn lp_bytes(&self) -> usize {
        self.lp_base + lp_int_len(self.live as i64) + lp_int_len((self.total - self.live) as i64)
    }

    fn mark_deleted(&mut self, flags_at: usize) {
        if let Some(flags) = self.data.get_mut(flags_at) {
            *flags |= FLAG_DELETED;
        }
        self.live -= 1;
    }
}

/// A node as the RDB writer reads it (Redis's listpack node): its master
/// entry and every record, deleted ones included, so the saved listpack
/// is the one Redis would hold.
#[derive(Clone, Copy)]
pub(crate) struct NodeView<'a>(&'a Node);

/// One record of a node as saved: its deletion flag, whether it shares the
/// master field names (`STREAM_ITEM_FLAG_SAMEFIELDS`), and the entry.
pub(crate) struct Record<'a> {
    pub deleted: bool,
    pub same_fields: bool,
    pub entry: Entry<'a>,
}

impl<'a> NodeView<'a> {
    /// The node's key: its first entry's ID.
    pub fn master(&self) -> StreamId {
        self.0.master
    }

    /// The master entry's live and deleted counts.
    pub fn live(&self) -> usize {
        self.0.live
    }

    pub fn deleted(&self) -> usize {
        self.0.total - self.0.live
    }

    pub fn master_field_count(&self) -> usize {
        self.0.master_count
    }

    /// The master entry's field names.
    pub fn master_fields(&self) -> impl Iterator<Item = &'a [u8]> {
        let buf: &'a [u8] = &self.0.master_fields;
        let mut pos = 0;
        std::iter::from_fn(move || {
            let (name, next) = read_prefixed(buf, pos)?;
            pos = next;
            Some(name)
        })
    }

    /// Every record in order, deleted ones too.
    pub fn records(&self) -> impl Iterator<Item = Record<'a>> {
        self.0.slots().map(|slot| Record {
            deleted: slot.deleted,
            same_fields: slot.entry.names.is_some(),
            entry: slot.entry,
        })
    }
}

impl<'a> Slot<'a> {
    /// The entry unless deleted.
    fn live(self) -> Option<Entry<'a>> {
        (!self.deleted).then_some(self.entry)
    }
}

/// [`Node::slots`].
struct Slots<'a> {
    node: &'a Node,
    front: usize,
    back: usize,
}

impl<'a> Iterator for Slots<'a> {
    type Item = Slot<'a>;

    fn next(&mut self) -> Option<Slot<'a>> {
        if self.front >= self.back {
            return None;
        }
        let (data, next) = read_framed(&self.node.data, self.front)?;
        let slot = self.node.slot(self.front, data);
        self.front = next;
        slot
    }
}

impl DoubleEndedIterator for Slots<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let (start, data) = read_framed_back(&self.node.data, self.back)?;
        self.back = start;
        self.node.slot(start, data)
    }
}

/// An entry as read: its ID, and its field names and values.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub id: StreamId,
    /// The node's master field names when the entry shares them (`values`
    /// then holds only values), else None (`values` holds both, alternating).
    names: Option<&'a [u8]>,
    values: &'a [u8],
}

impl<'a> Entry<'a> {
    /// Fields and values, alternating.
    pub fn items(&self) -> impl Iterator<Item = &'a [u8]> {
        let (names, values) = (self.names, self.values);
        let (mut npos, mut vpos, mut name_next) = (0, 0, names.is_some());
        std::iter::from_fn(move || {
            let (buf, pos) = match names {
                Some(names) if name_next => (names, &mut npos),
                _ => (values, &mut vpos),
            };
            let (item, next) = read_prefixed(buf, *pos)?;
            *pos = next;
            if names.is_some() {
                name_next = !name_next;
            }
            Some(item)
        })
    }

    /// The values alone, in order.
    pub fn values(&self) -> impl Iterator<Item = &'a [u8]> {
        self.items().skip(1).step_by(2)
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
    nodes: BTreeMap<StreamId, Box<Node>>,
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

    /// The nodes in ID order, for the RDB writer.
    pub(crate) fn node_views(&self) -> impl Iterator<Item = NodeView<'_>> {
        self.nodes.values().map(|node| NodeView(node))
    }

    /// Adds a node read from an RDB file after the ones already loaded:
    /// its key `master`, its master field names, and its records in order
    /// (ID, deleted, fields and values alternating), kept as they were
    /// saved, deleted entries included, so a later save writes Redis's
    /// listpack again. The IDs must rise strictly from `master` on and lie
    /// past every earlier node's, which our ordered ranges rely on; the
    /// caller checks the stream's saved counters against the nodes.
    pub(crate) fn push_loaded_node<'n>(
        &mut self,
        master: StreamId,
        names: impl Iterator<Item = &'n [u8]>,
        records: &[(StreamId, bool, Vec<&[u8]>)],
    ) -> Result<(), &'static str> {
        if let Some((_, last)) = self.nodes.last_key_value() {
            if master <= last.last {
                return Err("stream node IDs out of order");
            }
        }
        let mut node = Node::with_fields(master, names, 0);
        let mut previous: Option<StreamId> = None;
        for (id, deleted, pairs) in records {
            if *id < master || previous.is_some_and(|p| *id <= p) {
                return Err("stream entry IDs out of order");
            }
            if pairs.len() % 2 != 0 {
                return Err("stream entry with an odd item count");
            }
            previous = Some(*id);
            node.push(*id, pairs);
            if *deleted {
                let at = node.slots().next_back().map(|slot| slot.flags_at);
                node.mark_deleted(at.ok_or("stream record unreadable")?);
            }
        }
        self.length += node.live as u64;
        self.nodes.insert(master, Box::new(node));
        Ok(())
    }

    /// The live entries the loaded nodes hold and the greatest ID in any
    /// of them, deleted or not (checked against the saved counters).
    pub(crate) fn loaded_extent(&self) -> (u64, Option<StreamId>) {
        (self.length, self.nodes.values().next_back().map(|n| n.last))
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
            node.lp_bytes() + total >= max_bytes
                || (max_entries != 0 && node.total as u64 >= max_entries)
        });
        if tail_full {
            // The tail is done growing: give back its buffer's spare room
            // (a quarter of it on average, from doubling), as Redis
            // shrinks a full node's listpack to fit.
            if let Some(mut tail) = self.nodes.last_entry() {
                tail.get_mut().data.shrink_to_fit();
            }
            let prealloc = max_bytes.min(LISTPACK_PREALLOC);
            self.nodes
                .insert(id, Box::new(Node::new(id, pairs, prealloc)));
        }
        let Some(mut node) = self.nodes.last_entry() else {
            return Err(AppendError::TooLarge);
        };
        node.get_mut().push(id, pairs);
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
        self.nodes.keys().next().copied().unwrap_or(StreamId::MAX)
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
        if rev {
            Box::new(
                nodes
                    .rev()
                    .flat_map(move |(_, n)| n.slots().rev().filter_map(Slot::live))
                    .skip_while(move |e| e.id > end)
                    .take_while(move |e| e.id >= start)
                    .filter(in_range),
            )
        } else {
            Box::new(
                nodes
                    .flat_map(move |(_, n)| n.slots().filter_map(Slot::live))
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
        let Some(flags_at) = node
            .slots()
            .find(|slot| slot.entry.id == id && !slot.deleted)
            .map(|slot| slot.flags_at)
        else {
            return false;
        };
        node.mark_deleted(flags_at);
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
                Trim::MinId(min) => node.last < min,
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
            let slots: Vec<(usize, StreamId, bool)> = node
                .slots()
                .map(|slot| (slot.flags_at, slot.entry.id, slot.deleted))
                .collect();
            let mut removed_here = 0;
            for (flags_at, id, deleted) in slots {
                let stop = match trim {
                    Trim::MaxLen(max) => self.length - removed_here <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                if !deleted {
                    node.mark_deleted(flags_at);
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
                return self.entries_added.saturating_sub(self.length) as i64;
            } else if id == self.first_id {
                return (self.entries_added.saturating_sub(self.length) + 1) as i64;
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
            return Some((self.entries_added as i64).wrapping_sub(group.entries_read));
        }
        let read = self.estimate_distance(group.last_id);
        (read != INVALID_ENTRIES_READ).then(|| (self.entries_added as i64).wrapping_sub(read))
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
            // Wrapping, as Redis's counter does after ENTRIESREAD near the top.
            group.entries_read = group.entries_read.wrapping_add(1);
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
                node.lp_bytes().max(node.prealloc)
            } else {
                node.lp_bytes()
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
    fn entries_share_master_fields_and_read_both_ways() {
        let mut s = Stream::new();
        let entries: [(StreamId, &[&[u8]]); 4] = [
            (StreamId::new(5, 7), &[b"a", b"1", b"b", b"2"]),
            (StreamId::new(5, 9), &[b"a", b"3", b"b", b"4"]),
            (StreamId::new(6, 2), &[b"x", b"5"]),
            (StreamId::new(1 << 40, 0), &[b"a", b"", b"b", b"6"]),
        ];
        for (id, pairs) in entries {
            s.append(id, pairs, 100, 4096).unwrap();
        }
        let read = |rev| -> Vec<(StreamId, Vec<Vec<u8>>)> {
            s.range(StreamId::MIN, StreamId::MAX, rev)
                .map(|e| (e.id, e.items().map(<[u8]>::to_vec).collect()))
                .collect()
        };
        let forward = read(false);
        let want: Vec<(StreamId, Vec<Vec<u8>>)> = entries
            .iter()
            .map(|(id, pairs)| (*id, pairs.iter().map(|p| p.to_vec()).collect()))
            .collect();
        assert_eq!(forward, want);
        let mut backward = read(true);
        backward.reverse();
        assert_eq!(backward, want);
        assert!(s.delete(StreamId::new(5, 9)));
        assert_eq!(
            s.range(StreamId::new(5, 8), StreamId::new(6, 2), true)
                .count(),
            1
        );
        assert_eq!(s.first_raw_id(), StreamId::new(5, 7));
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
