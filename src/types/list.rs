//! The list type: a quicklist, as in Redis 7.0 (quicklist.c).
//!
//! A list is a deque of nodes; each node is one packed byte buffer holding up
//! to `list-max-listpack-size` entries (a positive fill) or bytes (a negative
//! fill: -1..-5 = 4..64 KB). Pushes and pops touch only the end node, so both
//! ends are O(1) (plus a memmove within one small node, like Redis's listpack);
//! indexing walks node counts from the nearer end, then entries within one node.
//!
//! An entry is `varint(len) data reversed-varint(len)`: the trailing copy of
//! the length lets a node be walked backwards, which Redis's listpack does
//! with its `backlen` field. Entries are kept byte for byte, so equality is
//! byte equality (Redis's integer-encoded entries only ever hold canonical
//! decimals, which read back identically).
//!
//! Nodes fill by Redis's rule on Redis's sizes: each node tracks the bytes
//! its entries would take in a listpack, so pushes split nodes where
//! Redis's quicklist does and RDB files and DUMP hold Redis's nodes.
//!
//! Interior nodes (all but the head and the tail) are held front-coded
//! ([`frontcoded`]: each element stores only what differs from the one
//! before it) when that saves bytes, much as Redis's quicklist compresses
//! interior nodes with `list-compress-depth 1`, whatever that setting
//! says: pushes and pops only touch the end nodes, which stay plain
//! (issue 22). Reading a packed node (LINDEX, LRANGE, LPOS, a save)
//! decodes at most 16 elements before the first one wanted; a change in
//! one (LSET, LINSERT, LREM) decodes it whole, changes it and encodes it
//! again. Nothing visible depends on it: OBJECT ENCODING, the nodes'
//! counts and sizes, DUMP and RDB bytes are Redis's.
//!
//! Redis 7.0 lists are "quicklist" from the first element (the single
//! listpack encoding arrived in 7.2).

use std::borrow::Cow;
use std::collections::VecDeque;

use super::memory::{alloc_size, sampled};

use crate::protocol::reply::BulkArray;

use bytes::Bytes;

use super::frontcoded::{self, Decoder};
use super::varint;
use crate::rdb::listpack;

/// Bytes a multi-entry node may hold when the fill counts entries
/// (Redis `SIZE_SAFETY_LIMIT`).
const SIZE_SAFETY_LIMIT: usize = 8192;

/// Node byte limits for fills -1 ..= -5 (Redis `optimization_level`).
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// A packed node is kept only if it is at least this much smaller
/// (Redis's `MIN_COMPRESS_IMPROVE` for its compressed nodes).
const MIN_PACK_IMPROVE: usize = 8;

/// The largest entry-count fill (Redis `FILL_MAX`); smaller negative fills
/// than -5 count as -5, as `quicklistSetFill` clamps them.
const FILL_MAX: i64 = 1 << 15;

/// Which end of a list: LEFT/head or RIGHT/tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

/// What one node may hold, from the fill.
#[derive(Debug, Clone, Copy)]
struct Limit {
    bytes: usize,
    entries: usize,
}

impl Limit {
    /// Redis `_quicklistNodeAllowInsert`'s rules: a negative fill limits
    /// bytes, a positive one entries (and bytes to the safety limit).
    fn of(fill: i32) -> Limit {
        if fill < 0 {
            let level = (fill.unsigned_abs() as usize).min(OPTIMIZATION_LEVEL.len());
            Limit {
                bytes: OPTIMIZATION_LEVEL[level - 1],
                entries: usize::MAX,
            }
        } else {
            Limit {
                bytes: SIZE_SAFETY_LIMIT,
                entries: fill as usize,
            }
        }
    }
}

/// One packed node.
#[derive(Debug, Clone, Default)]
struct Node {
    /// The framed entries, or their front-coded run when `packed`.
    buf: Vec<u8>,
    /// Whether `buf` is a front-coded run (the methods that walk or
    /// change framed entries expect a plain node).
    packed: bool,
    count: usize,
    /// The bytes the entries would take in Redis's listpack
    /// ([`listpack::entry_size`]): nodes are filled by Redis's rule on
    /// Redis's sizes, so they split where Redis's do and an RDB file or
    /// DUMP holds the same nodes.
    lp: usize,
}

/// The entries of one node between two offsets, from either end.
#[derive(Clone)]
struct NodeIter<'a> {
    buf: &'a [u8],
    front: usize,
    back: usize,
}

impl<'a> NodeIter<'a> {
    /// The next entry from the front, with its start offset.
    fn next_entry(&mut self) -> Option<(usize, &'a [u8])> {
        if self.front >= self.back {
            return None;
        }
        let start = self.front;
        let (data, next) = varint::read_framed(self.buf, start)?;
        self.front = next;
        Some((start, data))
    }

    /// The `i`th next entry from the front.
    fn nth_entry(&mut self, i: usize) -> Option<(usize, &'a [u8])> {
        for _ in 0..i {
            self.next_entry()?;
        }
        self.next_entry()
    }

    /// The next entry from the back, with its start offset.
    fn next_back_entry(&mut self) -> Option<(usize, &'a [u8])> {
        if self.front >= self.back {
            return None;
        }
        let (start, data) = varint::read_framed_back(self.buf, self.back)?;
        self.back = start;
        Some((start, data))
    }
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.next_entry().map(|(_, e)| e)
    }
}

impl DoubleEndedIterator for NodeIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.next_back_entry().map(|(_, e)| e)
    }
}

impl Node {
    fn is_packed(&self) -> bool {
        self.packed
    }

    /// Front-codes the entries if that saves `MIN_PACK_IMPROVE` bytes;
    /// else drops the buffer's growth slack (an 8 KB node would sit in a
    /// 14 KB buffer).
    fn pack(&mut self) {
        if self.packed {
            return;
        }
        match frontcoded::encode(self.entries()) {
            Some(mut run) if run.len() + MIN_PACK_IMPROVE <= self.buf.len() => {
                run.shrink_to_fit();
                self.buf = run;
                self.packed = true;
            }
            _ => self.buf.shrink_to_fit(),
        }
    }

    /// Makes the node plain again (before its entries change).
    fn unpack(&mut self) {
        if self.packed {
            *self = self.plain().into_owned();
        }
    }

    /// The node with its entries plain: itself, or a decoded copy.
    fn plain(&self) -> Cow<'_, Node> {
        if !self.packed {
            return Cow::Borrowed(self);
        }
        let mut plain = Node {
            buf: Vec::with_capacity(self.lp),
            packed: false,
            count: self.count,
            lp: self.lp,
        };
        let mut elements = self.decoder(0);
        while let Some(element) = elements.next_element() {
            varint::push_framed(&mut plain.buf, element);
        }
        Cow::Owned(plain)
    }

    /// Replaces entry `i` of a packed node in place (recoding its block
    /// only); false if it could not (the node is left as it was).
    fn replace_packed(&mut self, i: usize, data: &[u8]) -> bool {
        let Some(old_lp) = self.decoder(i).next_element().map(listpack::entry_size) else {
            return false;
        };
        let Some(mut run) = frontcoded::replace(&self.buf, self.count, i, data) else {
            return false;
        };
        run.shrink_to_fit();
        self.buf = run;
        self.lp = self.lp - old_lp + listpack::entry_size(data);
        true
    }

    /// The elements of a packed node from entry `first` on.
    fn decoder(&self, first: usize) -> Decoder<'_> {
        debug_assert!(self.packed);
        Decoder::new(&self.buf, self.count, first)
    }

    fn entries(&self) -> NodeIter<'_> {
        self.entries_from(0)
    }

    fn entries_from(&self, offset: usize) -> NodeIter<'_> {
        debug_assert!(!self.is_packed(), "walking a packed list node");
        NodeIter {
            buf: &self.buf,
            front: offset,
            back: self.buf.len(),
        }
    }

    /// Whether one more entry of `len` bytes fits (an empty node takes anything:
    /// an element too big for any node lives in a node of its own).
    fn allows(&self, limit: Limit, len: usize) -> bool {
        // Redis's `_quicklistNodeAllowInsert`: the listpack's bytes plus
        // the element's length plus `SIZE_ESTIMATE_OVERHEAD` (8).
        self.count == 0 || (self.count < limit.entries && self.lp_bytes() + len + 8 <= limit.bytes)
    }

    /// Redis's `lpBytes` of this node.
    fn lp_bytes(&self) -> usize {
        listpack::OVERHEAD + self.lp
    }

    /// Whether the node holds more than its limit allows (after an insert or
    /// a replace in the middle) and should be split.
    fn oversized(&self, limit: Limit) -> bool {
        self.count > 1 && (self.count > limit.entries.max(1) || self.lp_bytes() > limit.bytes)
    }

    /// Start offset of entry `i` (< count), walking from the nearer end.
    fn offset_of(&self, i: usize) -> usize {
        let mut it = self.entries();
        let found = if i <= self.count / 2 {
            it.nth_entry(i)
        } else {
            let mut last = None;
            for _ in i..self.count {
                last = it.next_back_entry();
            }
            last
        };
        found.map_or(self.buf.len(), |(off, _)| off)
    }

    /// The entry starting at `offset`.
    fn entry_at(&self, offset: usize) -> Option<&[u8]> {
        self.entries_from(offset).next()
    }

    /// Gives memory back once a node has shrunk to a quarter of its
    /// allocation (Redis reallocates a listpack to size on every delete).
    fn release_slack(&mut self) {
        if self.buf.capacity() > 64 && self.buf.len() < self.buf.capacity() / 4 {
            self.buf.shrink_to(self.buf.len() * 2);
        }
    }

    fn insert(&mut self, offset: usize, data: &[u8]) {
        let size = varint::framed_len(data.len());
        let old = self.buf.len();
        self.buf.resize(old + size, 0);
        self.buf.copy_within(offset..old, offset + size);
        varint::write_framed(&mut self.buf[offset..offset + size], data);
        self.count += 1;
        self.lp += listpack::entry_size(data);
    }

    fn push(&mut self, end: End, data: &[u8]) {
        let offset = match end {
            End::Head => 0,
            End::Tail => self.buf.len(),
        };
        self.insert(offset, data);
    }

    fn pop(&mut self, end: End) -> Option<Bytes> {
        let mut it = self.entries();
        let (start, data) = match end {
            End::Head => it.next_entry(),
            End::Tail => it.next_back_entry(),
        }?;
        let value = Bytes::copy_from_slice(data);
        let stop = start + varint::framed_len(data.len());
        self.lp -= listpack::entry_size(data);
        self.buf.drain(start..stop);
        self.count -= 1;
        self.release_slack();
        Some(value)
    }

    /// Removes `n` (< count) entries from one end.
    fn drop_entries(&mut self, end: End, n: usize) {
        match end {
            End::Head => {
                let cut = self.offset_of(n);
                self.lp -= lp_size(self.entries().take(n));
                self.buf.drain(..cut);
            }
            End::Tail => {
                let cut = self.offset_of(self.count - n);
                self.lp -= lp_size(self.entries_from(cut));
                self.buf.truncate(cut);
            }
        }
        self.count -= n;
        self.release_slack();
    }

    /// Replaces the entry at `offset` whose data is `old_len` bytes and
    /// `old_lp` listpack bytes.
    fn replace(&mut self, offset: usize, old_len: usize, old_lp: usize, data: &[u8]) {
        self.lp = self.lp - old_lp + listpack::entry_size(data);
        let stop = offset + varint::framed_len(old_len);
        let mut entry = vec![0; varint::framed_len(data.len())];
        varint::write_framed(&mut entry, data);
        self.buf.splice(offset..stop, entry);
    }

    /// Moves entries `at..` into a new node.
    fn split_off(&mut self, at: usize) -> Node {
        let offset = self.offset_of(at);
        let moved = lp_size(self.entries_from(offset));
        let right = Node {
            buf: self.buf[offset..].to_vec(),
            packed: false,
            count: self.count - at,
            lp: moved,
        };
        self.lp -= moved;
        self.buf.truncate(offset);
        self.count = at;
        self.release_slack();
        right
    }

    /// Removes up to `max` entries equal to `value`, scanning from `from`
    /// (a packed node is decoded, and packed again only if it held any).
    fn remove_matching(&mut self, value: &[u8], max: usize, from: End) -> usize {
        let plain = self.plain();
        let mut it = plain.entries();
        let mut spans = Vec::new();
        while spans.len() < max {
            let next = match from {
                End::Head => it.next_entry(),
                End::Tail => it.next_back_entry(),
            };
            let Some((start, data)) = next else { break };
            if data == value {
                spans.push(start..start + varint::framed_len(data.len()));
            }
        }
        if spans.is_empty() {
            return 0;
        }
        if from == End::Tail {
            spans.reverse();
        }
        let mut kept = Vec::with_capacity(plain.buf.len());
        let mut pos = 0;
        for span in &spans {
            kept.extend_from_slice(&plain.buf[pos..span.start]);
            pos = span.end;
        }
        kept.extend_from_slice(&plain.buf[pos..]);
        let repack = self.packed;
        self.buf = kept;
        self.packed = false;
        self.count -= spans.len();
        self.lp -= spans.len() * listpack::entry_size(value);
        if repack {
            self.pack();
        }
        spans.len()
    }
}

/// The listpack bytes of these entries.
fn lp_size<'a>(entries: impl Iterator<Item = &'a [u8]>) -> usize {
    entries.map(listpack::entry_size).sum()
}

/// Copies up to `n` elements out for a reply: one buffer for all of them,
/// sliced, so a long pop costs two allocations instead of one per element.
fn copy_out(elements: &mut Iter<'_>, n: usize) -> Vec<Bytes> {
    let mut buf = Vec::new();
    let mut ends = Vec::with_capacity(n);
    while ends.len() < n {
        let Some(e) = elements.next_element() else {
            break;
        };
        buf.extend_from_slice(e);
        ends.push(buf.len());
    }
    let buf = Bytes::from(buf);
    let mut start = 0;
    ends.into_iter()
        .map(|end| {
            let slice = buf.slice(start..end);
            start = end;
            slice
        })
        .collect()
}

/// A list value (Redis `OBJ_LIST`, encoding quicklist).
#[derive(Debug, Clone)]
pub struct List {
    /// The head and the tail node are plain; the others are packed where
    /// front-coding saves bytes ([`List::settle`]).
    nodes: VecDeque<Node>,
    len: usize,
    /// `list-max-listpack-size` when the list was created, as Redis's
    /// quicklist keeps its own `fill`.
    fill: i32,
}

impl List {
    /// An empty list with the given `list-max-listpack-size`.
    pub fn new(fill: i64) -> List {
        List {
            // One node is all a small list needs.
            nodes: VecDeque::with_capacity(1),
            len: 0,
            fill: fill.clamp(-(OPTIMIZATION_LEVEL.len() as i64), FILL_MAX) as i32,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends a node holding exactly these elements at the tail, as
    /// Redis's loader appends each saved listpack as one node
    /// (`quicklistAppendListpack`), so a reloaded list keeps its nodes.
    pub fn append_node<'a>(&mut self, elements: impl Iterator<Item = &'a [u8]>) {
        let mut node = Node::default();
        for e in elements {
            node.push(End::Tail, e);
        }
        node.buf.shrink_to_fit();
        if node.count > 0 {
            self.len += node.count;
            self.nodes.push_back(node);
            // The former tail is interior now.
            self.settle(self.nodes.len().wrapping_sub(2));
        }
    }

    /// MEMORY USAGE: the boxed list and its node ring, plus the nodes'
    /// buffers (packed ones as they are held), the first `samples` of
    /// them measured (Redis samples nodes).
    pub fn memory(&self, samples: usize) -> usize {
        alloc_size(size_of::<Self>())
            + alloc_size(self.nodes.capacity() * size_of::<Node>())
            + sampled(self.nodes.iter(), self.nodes.len(), samples, |n| {
                alloc_size(n.buf.capacity())
            })
    }

    /// Quicklist nodes: what freeing the list costs (Redis's free effort).
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `list-max-listpack-size` as this list applies it (quicklist `fill`).
    pub fn fill(&self) -> i32 {
        self.fill
    }

    /// Each node's entry count and Redis listpack bytes, head to tail
    /// (DEBUG OBJECT and QUICKLIST describe the nodes, the RDB writer
    /// writes them).
    pub fn node_sizes(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.nodes.iter().map(|n| (n.count, n.lp_bytes()))
    }

    fn limit(&self) -> Limit {
        Limit::of(self.fill)
    }

    /// Puts node `n` (if there is one) in the form its place wants: the
    /// head and the tail plain, as pushes and pops change them in place;
    /// an interior node packed (Redis's `list-compress-depth 1`).
    fn settle(&mut self, n: usize) {
        let interior = n > 0 && n < self.nodes.len().saturating_sub(1);
        if let Some(node) = self.nodes.get_mut(n) {
            if interior {
                node.pack();
            } else {
                node.unpack();
            }
        }
    }

    /// Settles nodes `first..first + count` after a change made them or
    /// split them, and the two ends (which may be other nodes now).
    fn settle_after_change(&mut self, first: usize, count: usize) {
        for n in first..first + count {
            self.settle(n);
        }
        self.settle(0);
        self.settle(self.nodes.len().saturating_sub(1));
    }

    fn end_node(&mut self, end: End) -> Option<&mut Node> {
        match end {
            End::Head => self.nodes.front_mut(),
            End::Tail => self.nodes.back_mut(),
        }
    }

    /// Removes the node at `end`; the one that becomes the end is made
    /// plain.
    fn pop_node(&mut self, end: End) {
        match end {
            End::Head => self.nodes.pop_front(),
            End::Tail => self.nodes.pop_back(),
        };
        if let Some(node) = self.end_node(end) {
            node.unpack();
        }
    }

    pub fn push(&mut self, end: End, data: &[u8]) {
        let limit = self.limit();
        match self.end_node(end) {
            Some(node) if node.allows(limit, data.len()) => node.push(end, data),
            full => {
                // The end node is done growing: drop the slack of its last
                // doubling (an 8 KB node would sit in a 14 KB buffer).
                if let Some(node) = full {
                    node.buf.shrink_to_fit();
                }
                let mut node = Node::default();
                node.push(end, data);
                // The node that filled is interior now, unless it is the
                // other end.
                let filled = match end {
                    End::Head => {
                        self.nodes.push_front(node);
                        1
                    }
                    End::Tail => {
                        self.nodes.push_back(node);
                        self.nodes.len().wrapping_sub(2)
                    }
                };
                self.settle(filled);
            }
        }
        self.len += 1;
    }

    pub fn pop(&mut self, end: End) -> Option<Bytes> {
        let node = self.end_node(end)?;
        let value = node.pop(end)?;
        if node.count == 0 {
            self.pop_node(end);
        }
        self.len -= 1;
        Some(value)
    }

    /// Pops up to `n` elements from `end`, in the order they come off.
    pub fn pop_many(&mut self, end: End, n: usize) -> Vec<Bytes> {
        let n = n.min(self.len);
        let values = match end {
            End::Head => copy_out(&mut self.iter(), n),
            End::Tail => copy_out(&mut self.iter_rev(), n),
        };
        self.drop_entries(end, n);
        values
    }

    /// `count` elements from position `start`, written straight into their
    /// reply (LRANGE): no `Bytes` or `Reply` per element.
    pub fn range(&self, start: usize, count: usize) -> BulkArray {
        let mut out = BulkArray::with_capacity(count, 16);
        let mut elements = self.iter_from(start);
        for _ in 0..count {
            let Some(element) = elements.next_element() else {
                break;
            };
            out.push(element);
        }
        out
    }

    /// Removes `n` elements from `end` (whole nodes at once where possible).
    fn drop_entries(&mut self, end: End, n: usize) {
        let mut n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(node) = self.end_node(end) else {
                break;
            };
            if node.count <= n {
                n -= node.count;
                self.pop_node(end);
            } else {
                node.drop_entries(end, n);
                n = 0;
            }
        }
    }

    /// Keeps the elements after the first `head` and before the last `tail`
    /// (LTRIM's `quicklistDelRange` pair).
    pub fn trim(&mut self, head: usize, tail: usize) {
        self.drop_entries(End::Head, head);
        self.drop_entries(End::Tail, tail);
    }

    /// Resolves a Redis index (negative counts from the tail) to a position.
    fn index(&self, index: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if index < 0 { index + len } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// Node and entry-in-node of element `i` (< len), walking node counts
    /// from the nearer end as `quicklistGetIteratorAtIdx` does.
    fn locate(&self, i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            let mut skipped = 0;
            for (n, node) in self.nodes.iter().enumerate() {
                if i < skipped + node.count {
                    return (n, i - skipped);
                }
                skipped += node.count;
            }
        } else {
            let mut after = self.len;
            for (n, node) in self.nodes.iter().enumerate().rev() {
                after -= node.count;
                if i >= after {
                    return (n, i - after);
                }
            }
        }
        (self.nodes.len(), 0)
    }

    /// The element at a Redis index (LINDEX); a copy when its node is
    /// packed.
    pub fn get(&self, index: i64) -> Option<Cow<'_, [u8]>> {
        let (n, entry) = self.locate(self.index(index)?);
        let node = self.nodes.get(n)?;
        if !node.is_packed() {
            return node.entry_at(node.offset_of(entry)).map(Cow::Borrowed);
        }
        let mut elements = node.decoder(entry);
        elements.next_element().map(|e| Cow::Owned(e.to_vec()))
    }

    /// Replaces the element at a Redis index (LSET). False when out of range.
    pub fn set(&mut self, index: i64, data: &[u8]) -> bool {
        let Some(i) = self.index(index) else {
            return false;
        };
        let (n, entry) = self.locate(i);
        let limit = self.limit();
        let Some(node) = self.nodes.get_mut(n) else {
            return false;
        };
        if node.is_packed() && node.replace_packed(entry, data) {
            if node.oversized(limit) {
                node.unpack();
                self.split_and_settle(n);
            }
            return true;
        }
        node.unpack();
        let offset = node.offset_of(entry);
        let Some(old) = node.entry_at(offset) else {
            return false;
        };
        let (old_len, old_lp) = (old.len(), listpack::entry_size(old));
        node.replace(offset, old_len, old_lp, data);
        self.split_and_settle(n);
        true
    }

    /// Inserts `data` before or after the first element equal to `pivot`
    /// (LINSERT). False when there is no such element.
    pub fn insert(&mut self, pivot: &[u8], data: &[u8], after: bool) -> bool {
        let mut found = None;
        'search: for (n, node) in self.nodes.iter().enumerate() {
            let plain = node.plain();
            let mut it = plain.entries();
            while let Some((start, entry)) = it.next_entry() {
                if entry == pivot {
                    found = Some((n, if after { it.front } else { start }));
                    break 'search;
                }
            }
        }
        let Some((n, offset)) = found else {
            return false;
        };
        // Offsets in the decoded copy are the plain node's.
        self.nodes[n].unpack();
        self.nodes[n].insert(offset, data);
        self.len += 1;
        self.split_and_settle(n);
        true
    }

    /// Splits node `n`, just changed in place, while it is over its limit,
    /// then settles it and its parts.
    fn split_and_settle(&mut self, n: usize) {
        let nodes = self.nodes.len();
        self.split_if_oversized(n);
        self.settle_after_change(n, 1 + self.nodes.len() - nodes);
    }

    /// Splits node `n` in halves, recursively, until every part fits its
    /// limit (Redis splits a full node when inserting into its middle).
    fn split_if_oversized(&mut self, n: usize) {
        let limit = self.limit();
        if !self.nodes[n].oversized(limit) {
            return;
        }
        let half = self.nodes[n].count / 2;
        let right = self.nodes[n].split_off(half);
        self.nodes.insert(n + 1, right);
        self.split_if_oversized(n + 1);
        self.split_if_oversized(n);
    }

    /// Removes up to `count` elements equal to `value` (LREM): from the head
    /// when positive, from the tail when negative, all when zero.
    pub fn remove(&mut self, value: &[u8], count: i64) -> usize {
        let max = if count == 0 {
            usize::MAX
        } else {
            usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
        };
        let from = if count < 0 { End::Tail } else { End::Head };
        let mut removed = 0;
        let mut visit = |node: &mut Node| {
            if removed < max {
                removed += node.remove_matching(value, max - removed, from);
            }
        };
        match from {
            End::Head => self.nodes.iter_mut().for_each(&mut visit),
            End::Tail => self.nodes.iter_mut().rev().for_each(&mut visit),
        }
        if removed > 0 {
            self.nodes.retain(|node| node.count > 0);
            self.len -= removed;
            self.settle_after_change(0, 0);
        }
        removed
    }

    /// Elements from the head.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Elements from position `start` (clamped) towards the tail.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        let (n, entry) = self.locate(start.min(self.len));
        Iter {
            rest: self.nodes.range((n + 1).min(self.nodes.len())..),
            current: self.nodes.get(n).map(|node| Walk::forward(node, entry)),
            forward: true,
        }
    }

    /// Elements from the tail towards the head.
    pub fn iter_rev(&self) -> Iter<'_> {
        Iter {
            rest: self.nodes.iter(),
            current: None,
            forward: false,
        }
    }
}

/// Elements of a list in one direction. Not an `Iterator`: an element of
/// a packed node is decoded into the iterator, so it is lent until the
/// next call.
pub struct Iter<'a> {
    /// Nodes not yet started, consumed from the end `forward` says.
    rest: std::collections::vec_deque::Iter<'a, Node>,
    /// The node being walked.
    current: Option<Walk<'a>>,
    forward: bool,
}

/// A walk through one node's entries.
enum Walk<'a> {
    /// A plain node (or a packed one decoded, to be walked backwards) and
    /// the byte offsets of the entries not yet returned.
    Plain {
        node: Cow<'a, Node>,
        front: usize,
        back: usize,
    },
    /// A packed node, forwards.
    Packed(Decoder<'a>),
}

impl<'a> Walk<'a> {
    /// Entries `first..` of `node`, forwards.
    fn forward(node: &'a Node, first: usize) -> Walk<'a> {
        if node.is_packed() {
            return Walk::Packed(node.decoder(first));
        }
        Walk::Plain {
            front: node.offset_of(first),
            back: node.buf.len(),
            node: Cow::Borrowed(node),
        }
    }

    /// All of `node`'s entries, backwards.
    fn backward(node: &'a Node) -> Walk<'a> {
        let node = node.plain();
        Walk::Plain {
            front: 0,
            back: node.buf.len(),
            node,
        }
    }

    fn is_done(&self) -> bool {
        match self {
            Walk::Packed(decoder) => decoder.is_done(),
            Walk::Plain { front, back, .. } => front >= back,
        }
    }

    fn next_element(&mut self, forward: bool) -> Option<&[u8]> {
        match self {
            Walk::Packed(decoder) => decoder.next_element(),
            Walk::Plain { node, front, back } => {
                let mut entries = node.entries_from(*front);
                entries.back = *back;
                let (_, element) = if forward {
                    entries.next_entry()
                } else {
                    entries.next_back_entry()
                }?;
                (*front, *back) = (entries.front, entries.back);
                Some(element)
            }
        }
    }
}

impl<'a> Iter<'a> {
    /// The next element, or `None` at the end.
    pub fn next_element(&mut self) -> Option<&[u8]> {
        while self.current.as_ref().is_none_or(Walk::is_done) {
            let node = if self.forward {
                self.rest.next()
            } else {
                self.rest.next_back()
            }?;
            self.current = Some(if self.forward {
                Walk::forward(node, 0)
            } else {
                Walk::backward(node)
            });
        }
        self.current.as_mut()?.next_element(self.forward)
    }

    /// Skips up to `n` elements.
    pub fn skip_elements(&mut self, n: usize) {
        for _ in 0..n {
            if self.next_element().is_none() {
                return;
            }
        }
    }

    /// The remaining elements, each copied.
    pub fn copied(mut self) -> impl Iterator<Item = Vec<u8>> + 'a {
        std::iter::from_fn(move || self.next_element().map(<[u8]>::to_vec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// The structure's invariants: counts add up, no empty node, every node
    /// within its limit unless it holds a single (big) entry, entries decode,
    /// the end nodes are plain and an interior one is packed unless
    /// packing it would not pay.
    fn check(list: &List) {
        let limit = list.limit();
        let mut total = 0;
        let last = list.nodes.len().saturating_sub(1);
        for (n, packed) in list.nodes.iter().enumerate() {
            if n == 0 || n == last {
                assert!(!packed.is_packed(), "end node {n} packed");
            } else if !packed.is_packed() {
                let mut again = packed.clone();
                again.pack();
                assert!(!again.is_packed(), "interior node {n} left plain");
            }
            let node = packed.plain();
            assert!(node.count > 0, "empty node");
            assert!(
                !node.oversized(limit),
                "oversized node: {} entries, {} bytes",
                node.count,
                node.buf.len()
            );
            assert_eq!(node.entries().count(), node.count);
            assert_eq!(node.lp, lp_size(node.entries()));
            assert_eq!(node.entries().rev().count(), node.count);
            total += node.count;
        }
        assert_eq!(total, list.len());
    }

    /// Whether the list holds the model's elements, in order.
    fn holds(list: &List, model: &VecDeque<Vec<u8>>) -> bool {
        let mut elements = list.iter();
        model
            .iter()
            .all(|want| elements.next_element() == Some(want))
            && elements.next_element().is_none()
    }

    fn value(rng: &mut StdRng) -> Vec<u8> {
        let len = match rng.gen_range(0..40) {
            0 => rng.gen_range(100..20_000),
            1..=3 => 0,
            _ => rng.gen_range(1..4),
        };
        (0..len).map(|_| b"abc"[rng.gen_range(0..3)]).collect()
    }

    /// Random operations against a VecDeque model, for every kind of fill.
    #[test]
    fn matches_a_plain_deque() {
        for fill in [-5, -2, -1, 0, 1, 2, 3, 128] {
            random_operations(fill, 0);
        }
    }

    /// The same on lists that start with thousands of similar
    /// elements, so that most operations land in packed interior nodes.
    #[test]
    fn packed_nodes_match_a_plain_deque() {
        for fill in [-2, -1, 64] {
            random_operations(fill, 5000);
        }
    }

    /// 2000 random operations on a list of `fill` that starts with
    /// `value:0 .. value:{prefill - 1}`, checked against a VecDeque.
    fn random_operations(fill: i64, prefill: usize) {
        let mut rng = StdRng::seed_from_u64(fill as u64);
        let mut list = List::new(fill);
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        for i in 0..prefill {
            let v = format!("value:{i}").into_bytes();
            list.push(End::Tail, &v);
            model.push_back(v);
        }
        if prefill > 0 {
            assert!(list.nodes.iter().any(Node::is_packed));
        }
        for step in 0..2000 {
            let len = model.len() as i64;
            match rng.gen_range(0..11) {
                0..=2 => {
                    let v = value(&mut rng);
                    if rng.gen() {
                        list.push(End::Head, &v);
                        model.push_front(v);
                    } else {
                        list.push(End::Tail, &v);
                        model.push_back(v);
                    }
                }
                3 => {
                    let got = list.pop(End::Head).map(|b| b.to_vec());
                    assert_eq!(got, model.pop_front());
                }
                4 => {
                    let n = rng.gen_range(0..5);
                    let got: Vec<Vec<u8>> = list
                        .pop_many(End::Tail, n)
                        .iter()
                        .map(|b| b.to_vec())
                        .collect();
                    let want: Vec<Vec<u8>> = (0..n).map_while(|_| model.pop_back()).collect();
                    assert_eq!(got, want);
                }
                5 => {
                    let i = rng.gen_range(-len - 2..len + 2);
                    let v = value(&mut rng);
                    let at = if i < 0 { i + len } else { i };
                    let ok = (0..len).contains(&at);
                    assert_eq!(list.set(i, &v), ok);
                    if ok {
                        model[at as usize] = v;
                    }
                }
                6 => {
                    let pivot = value(&mut rng);
                    let v = value(&mut rng);
                    let after = rng.gen();
                    let pos = model.iter().position(|e| *e == pivot);
                    assert_eq!(list.insert(&pivot, &v, after), pos.is_some());
                    if let Some(p) = pos {
                        model.insert(p + after as usize, v);
                    }
                }
                7 => {
                    let v = value(&mut rng);
                    let count: i64 = rng.gen_range(-3..4);
                    let mut left = if count == 0 {
                        usize::MAX
                    } else {
                        count.unsigned_abs() as usize
                    };
                    let mut removed = 0;
                    let mut keep = |e: &Vec<u8>| {
                        if left > 0 && *e == v {
                            left -= 1;
                            removed += 1;
                            false
                        } else {
                            true
                        }
                    };
                    let kept: VecDeque<Vec<u8>> = if count < 0 {
                        let mut k: Vec<_> =
                            model.iter().rev().filter(|e| keep(e)).cloned().collect();
                        k.reverse();
                        k.into()
                    } else {
                        model.iter().filter(|e| keep(e)).cloned().collect()
                    };
                    assert_eq!(list.remove(&v, count), removed);
                    model = kept;
                }
                8 => {
                    let head = rng.gen_range(0..3usize).min(model.len());
                    let tail = rng.gen_range(0..3usize).min(model.len() - head);
                    list.trim(head, tail);
                    model.drain(..head);
                    model.truncate(model.len() - tail);
                }
                9 => {
                    let i = rng.gen_range(-len - 2..len + 2);
                    let at = if i < 0 { i + len } else { i };
                    let want = usize::try_from(at).ok().and_then(|a| model.get(a));
                    assert_eq!(list.get(i).as_deref(), want.map(|v| &v[..]));
                }
                _ => {
                    let start = rng.gen_range(0..len as usize + 2);
                    let got: Vec<Vec<u8>> = list.iter_from(start).copied().collect();
                    let want: Vec<Vec<u8>> = model.iter().skip(start).cloned().collect();
                    assert_eq!(got, want);
                    let rev: Vec<Vec<u8>> = list.iter_rev().copied().collect();
                    assert_eq!(rev, model.iter().rev().cloned().collect::<Vec<_>>());
                }
            }
            // A long list is checked whole every 10th step.
            if prefill == 0 || step % 10 == 0 {
                check(&list);
                assert!(holds(&list, &model));
            }
        }
        check(&list);
        assert!(holds(&list, &model));
    }

    #[test]
    fn node_bytes_are_length_data_reversed_length() {
        let mut list = List::new(-2);
        list.push(End::Tail, b"ab");
        list.push(End::Tail, &[b'x'; 0x80]);
        let mut want = vec![2, b'a', b'b', 2, 0x80, 0x01];
        want.extend_from_slice(&[b'x'; 0x80]);
        want.extend_from_slice(&[0x01, 0x80]);
        assert_eq!(list.nodes[0].buf, want);
    }

    #[test]
    fn lengths_use_multi_byte_varints() {
        let mut list = List::new(-2);
        for len in [0, 127, 128, 16_383, 16_384, 70_000] {
            list.push(End::Tail, &vec![b'x'; len]);
            list.push(End::Head, &vec![b'y'; len]);
        }
        check(&list);
        let lens: Vec<usize> = list.iter().copied().map(|e| e.len()).collect();
        assert_eq!(
            lens,
            [70_000, 16_384, 16_383, 128, 127, 0, 0, 127, 128, 16_383, 16_384, 70_000]
        );
    }

    #[test]
    fn full_nodes_keep_no_growth_slack() {
        let mut list = List::new(-2);
        for i in 0..10_000 {
            list.push(End::Tail, format!("value:{i}").as_bytes());
            list.push(End::Head, format!("value:{i}").as_bytes());
        }
        let n = list.nodes.len();
        for node in list.nodes.range(1..n - 1) {
            assert_eq!(node.buf.capacity(), node.buf.len());
            assert!(node.buf.len() <= 8192);
        }
    }

    #[test]
    fn small_lists_are_one_node() {
        let mut list = List::new(-2);
        for i in 0..100 {
            list.push(End::Tail, format!("{i}").as_bytes());
        }
        assert_eq!(list.nodes.len(), 1);
        let mut counted = List::new(10);
        for i in 0..100 {
            counted.push(End::Head, format!("{i}").as_bytes());
        }
        assert_eq!(counted.nodes.len(), 10);
    }
}
