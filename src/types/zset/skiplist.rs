//! The big encoding of a sorted set (Redis's "skiplist"): a skiplist with
//! spans, so ranks are O(log n), plus a member → node hash table.
//!
//! Nodes live in an arena (`Vec<Node>`) and link by index, which keeps the
//! structure in safe code. Node 0 is the header. A node holds its member
//! inline when short ([`CompactBytes`]) and its first level; the three in
//! four nodes of one level allocate nothing else, and the levels above the
//! first live in runs of a second arena (`upper`), reused through one free
//! list per run length. So a member of a big sorted set costs 56 bytes of
//! node, about 3 of upper levels and a 4-byte bucket, where Redis's skiplist
//! node, sds member and dict entry take about 110. The hash table chains nodes
//! through their own `chain` field, Redis-dict style, so ZSCAN can use Redis's
//! reverse-binary cursor: every member present for a whole scan is returned
//! at least once, even when the table grows or shrinks in between.

use std::hash::BuildHasher;

use rand::Rng;

use crate::types::compact::CompactBytes;
use crate::types::memory::{alloc_size, sampled};

/// "No node" (Redis's NULL).
const NIL: u32 = u32::MAX;
/// The header node.
const HEAD: u32 = 0;
/// Redis `ZSKIPLIST_MAXLEVEL`.
const MAX_LEVEL: usize = 32;
/// Smallest hash table (Redis `DICT_HT_INITIAL_SIZE`).
const MIN_BUCKETS: usize = 4;

#[derive(Clone, Copy, Debug, Default)]
struct Level {
    forward: u32,
    /// Nodes skipped by `forward` (counting the node it reaches).
    span: u32,
}

#[derive(Clone, Debug)]
struct Node {
    member: CompactBytes,
    score: f64,
    backward: u32,
    /// Next node in the same hash bucket; for a free slot, the next free slot.
    chain: u32,
    /// Level 0.
    first: Level,
    /// Where levels 1.. start in `Skiplist::upper` (when `height` > 1).
    upper: u32,
    /// Levels in all (Redis's `zslRandomLevel` result).
    height: u8,
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<Node>() == 56);

impl Node {
    fn new(member: CompactBytes, score: f64, upper: u32, height: usize) -> Node {
        Node {
            member,
            score,
            backward: NIL,
            chain: NIL,
            first: Level {
                forward: NIL,
                span: 0,
            },
            upper,
            height: height as u8,
        }
    }

    /// Whether this node sorts before (score, member).
    fn before(&self, score: f64, member: &[u8]) -> bool {
        self.score < score || (self.score == score && &*self.member < member)
    }
}

#[derive(Clone, Debug)]
pub struct Skiplist {
    nodes: Vec<Node>,
    /// First free arena slot.
    free: u32,
    tail: u32,
    /// Levels in use (Redis `zsl->level`).
    level: usize,
    len: usize,
    /// Hash buckets (a power of two, or empty): first node of each chain.
    buckets: Vec<u32>,
    /// Levels 1.. of every node, a run of `height - 1` per node.
    upper: Vec<Level>,
    /// First free run of each length (linked through its first level's
    /// `forward`).
    free_upper: [u32; MAX_LEVEL],
    hasher: foldhash::fast::RandomState,
}

impl Default for Skiplist {
    fn default() -> Self {
        let unlinked = Level {
            forward: NIL,
            span: 0,
        };
        Skiplist {
            nodes: vec![Node::new(CompactBytes::default(), 0.0, 0, MAX_LEVEL)],
            free: NIL,
            tail: NIL,
            level: 1,
            len: 0,
            buckets: Vec::new(),
            upper: vec![unlinked; MAX_LEVEL - 1],
            free_upper: [NIL; MAX_LEVEL],
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

/// Redis `zslRandomLevel`: each extra level with probability 1/4.
fn random_level() -> usize {
    let bits: u64 = rand::thread_rng().gen();
    (1 + bits.trailing_zeros() as usize / 2).min(MAX_LEVEL)
}

impl Skiplist {
    /// MEMORY USAGE: the boxed skiplist, its node and level arenas and hash
    /// buckets, plus the heap bytes of long members, sampled in rank order as
    /// Redis walks level 0.
    pub fn memory(&self, samples: usize) -> usize {
        let live = |id: u32| (id != NIL).then_some(id);
        let first = live(self.level_of(0, 0).forward);
        let ranked = std::iter::successors(first, |&id| live(self.level_of(id, 0).forward));
        alloc_size(size_of::<Self>())
            + alloc_size(self.nodes.capacity() * size_of::<Node>())
            + alloc_size(self.buckets.capacity() * size_of::<u32>())
            + alloc_size(self.upper.capacity() * size_of::<Level>())
            + sampled(ranked, self.len, samples, |id| {
                <CompactBytes>::heap_size(&self.node(id).member)
            })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn node(&self, id: u32) -> &Node {
        &self.nodes[id as usize]
    }

    fn node_mut(&mut self, id: u32) -> &mut Node {
        &mut self.nodes[id as usize]
    }

    fn level_of(&self, id: u32, i: usize) -> Level {
        let node = self.node(id);
        match i {
            0 => node.first,
            _ => self.upper[node.upper as usize + i - 1],
        }
    }

    fn level_mut(&mut self, id: u32, i: usize) -> &mut Level {
        let node = &mut self.nodes[id as usize];
        match i {
            0 => &mut node.first,
            _ => &mut self.upper[node.upper as usize + i - 1],
        }
    }

    fn height(&self, id: u32) -> usize {
        self.node(id).height as usize
    }

    pub fn member(&self, id: u32) -> &[u8] {
        &self.node(id).member
    }

    pub fn score_at(&self, id: u32) -> f64 {
        self.node(id).score
    }

    pub fn first(&self) -> Option<u32> {
        some(self.level_of(HEAD, 0).forward)
    }

    pub fn last(&self) -> Option<u32> {
        some(self.tail)
    }

    pub fn next(&self, id: u32) -> Option<u32> {
        some(self.level_of(id, 0).forward)
    }

    pub fn prev(&self, id: u32) -> Option<u32> {
        some(self.node(id).backward)
    }

    // ---- hash table ----

    fn bucket(&self, member: &[u8]) -> usize {
        (self.hasher.hash_one(member) as usize) & (self.buckets.len() - 1)
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut n = self.buckets[self.bucket(member)];
        while n != NIL {
            if &*self.node(n).member == member {
                return Some(n);
            }
            n = self.node(n).chain;
        }
        None
    }

    fn hash_link(&mut self, id: u32) {
        let b = self.bucket(&self.node(id).member);
        self.node_mut(id).chain = self.buckets[b];
        self.buckets[b] = id;
    }

    fn hash_unlink(&mut self, id: u32) {
        let b = self.bucket(&self.node(id).member);
        let next = self.node(id).chain;
        if self.buckets[b] == id {
            self.buckets[b] = next;
            return;
        }
        let mut n = self.buckets[b];
        while n != NIL {
            if self.node(n).chain == id {
                self.node_mut(n).chain = next;
                return;
            }
            n = self.node(n).chain;
        }
    }

    /// Rebuilds the hash table with `size` buckets (a power of two).
    fn rehash(&mut self, size: usize) {
        self.buckets = vec![NIL; size];
        let mut n = self.level_of(HEAD, 0).forward;
        while n != NIL {
            self.hash_link(n);
            n = self.level_of(n, 0).forward;
        }
    }

    /// Redis `_dictExpandIfNeeded` / `htNeedsResize`: grow at load factor 1,
    /// shrink below 10% fill.
    fn resize_if_needed(&mut self) {
        let size = self.buckets.len();
        if self.len >= size {
            self.rehash((self.len + 1).next_power_of_two().max(MIN_BUCKETS));
        } else if size > MIN_BUCKETS && self.len * 10 < size {
            self.rehash(self.len.next_power_of_two().max(MIN_BUCKETS));
        }
    }

    /// Redis `dictScan` on one table: visits the chain at `cursor`, returns the next cursor.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], f64)) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut n = self.buckets[(cursor & mask) as usize];
        while n != NIL {
            let node = self.node(n);
            f(&node.member, node.score);
            n = node.chain;
        }
        (cursor | !mask)
            .reverse_bits()
            .wrapping_add(1)
            .reverse_bits()
    }

    // ---- arena ----

    /// A run of `n` (> 0) unlinked upper levels: a freed one or a new one.
    fn alloc_upper(&mut self, n: usize) -> u32 {
        let unlinked = Level {
            forward: NIL,
            span: 0,
        };
        match self.free_upper[n] {
            NIL => {
                let at = self.upper.len() as u32;
                self.upper.resize(self.upper.len() + n, unlinked);
                at
            }
            at => {
                self.free_upper[n] = self.upper[at as usize].forward;
                self.upper[at as usize..at as usize + n].fill(unlinked);
                at
            }
        }
    }

    fn alloc(&mut self, node: Node) -> u32 {
        if self.free != NIL {
            let id = self.free;
            self.free = self.node(id).chain;
            *self.node_mut(id) = node;
            id
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        }
    }

    fn release(&mut self, id: u32) {
        let (upper, height) = (self.node(id).upper, self.height(id));
        if height > 1 {
            self.upper[upper as usize].forward = self.free_upper[height - 1];
            self.free_upper[height - 1] = upper;
        }
        let free = self.free;
        *self.node_mut(id) = Node {
            chain: free,
            ..Node::new(CompactBytes::default(), 0.0, 0, 0)
        };
        self.free = id;
    }

    /// Rebuilds the arena when most of it is free slots, so a set that shrank
    /// gives its memory back. The hash table keeps its size (and so ZSCAN
    /// cursors keep their meaning).
    fn compact_if_sparse(&mut self) {
        if self.nodes.len() < 64 || self.len * 2 >= self.nodes.len() {
            return;
        }
        let mut fresh = Skiplist {
            hasher: self.hasher,
            buckets: vec![NIL; self.buckets.len()],
            ..Skiplist::default()
        };
        fresh.nodes.reserve_exact(self.len);
        let mut n = self.level_of(HEAD, 0).forward;
        while n != NIL {
            let member = std::mem::take(&mut self.node_mut(n).member);
            fresh.link_new(member, self.node(n).score);
            n = self.level_of(n, 0).forward;
        }
        *self = fresh;
    }

    // ---- skiplist ----

    /// The nodes after which (score, member) sits at each level (Redis's `update[]`),
    /// with the rank of each.
    fn path(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i + 1 == self.level { 0 } else { rank[i + 1] };
            loop {
                let l = self.level_of(x, i);
                if l.forward != NIL && self.node(l.forward).before(score, member) {
                    rank[i] += l.span;
                    x = l.forward;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// Redis `zslInsert` + `dictAdd` for a member that is not present.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        self.link_new(member.into(), score);
        self.resize_if_needed();
    }

    fn link_new(&mut self, member: CompactBytes, score: f64) {
        let (mut update, mut rank) = self.path(score, &member);
        let level = random_level();
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.level_mut(HEAD, i).span = self.len as u32;
            }
            self.level = level;
        }
        let upper = if level > 1 {
            self.alloc_upper(level - 1)
        } else {
            0
        };
        let id = self.alloc(Node::new(member, score, upper, level));
        self.link(id, &update, &rank);
        if !self.buckets.is_empty() {
            self.hash_link(id);
        }
    }

    /// Splices node `id` (with its levels allocated) in after `update`.
    fn link(&mut self, id: u32, update: &[u32; MAX_LEVEL], rank: &[u32; MAX_LEVEL]) {
        let level = self.height(id);
        for i in 0..level {
            let u = self.level_of(update[i], i);
            *self.level_mut(id, i) = Level {
                forward: u.forward,
                span: u.span - (rank[0] - rank[i]),
            };
            *self.level_mut(update[i], i) = Level {
                forward: id,
                span: rank[0] - rank[i] + 1,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            self.level_mut(u, i).span += 1;
        }
        self.node_mut(id).backward = if update[0] == HEAD { NIL } else { update[0] };
        match self.level_of(id, 0).forward {
            NIL => self.tail = id,
            f => self.node_mut(f).backward = id,
        }
        self.len += 1;
    }

    /// Redis `zslDeleteNode`: unlinks `x` from the list (not from the hash).
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            if self.level_of(u, i).forward == x {
                let xl = self.level_of(x, i);
                let ul = self.level_mut(u, i);
                ul.span = ul.span + xl.span - 1;
                ul.forward = xl.forward;
            } else {
                self.level_mut(u, i).span -= 1;
            }
        }
        let backward = self.node(x).backward;
        match self.level_of(x, 0).forward {
            NIL => self.tail = backward,
            f => self.node_mut(f).backward = backward,
        }
        while self.level > 1 && self.level_of(HEAD, self.level - 1).forward == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|id| self.node(id).score)
    }

    /// Removes `member`; returns whether it was there (`zsetRemoveFromSkiplist`).
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let Some(id) = self.find(member) else {
            return false;
        };
        let (update, _) = self.path(self.node(id).score, member);
        self.hash_unlink(id);
        self.unlink(id, &update);
        self.release(id);
        self.resize_if_needed();
        self.compact_if_sparse();
        true
    }

    /// Redis `zslUpdateScore`: moves an existing member to `score`, in place
    /// when its position does not change.
    pub fn set_score(&mut self, member: &[u8], score: f64) {
        let Some(id) = self.find(member) else {
            return;
        };
        let node = self.node(id);
        let after_prev = node.backward == NIL || self.node(node.backward).score < score;
        let forward = node.first.forward;
        let before_next = forward == NIL || self.node(forward).score > score;
        if after_prev && before_next {
            self.node_mut(id).score = score;
            return;
        }
        let (update, _) = self.path(self.node(id).score, member);
        self.unlink(id, &update);
        self.node_mut(id).score = score;
        let (mut update, mut rank) = self.path(score, member);
        let level = self.height(id);
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.level_mut(HEAD, i).span = self.len as u32;
            }
            self.level = level;
        }
        self.link(id, &update, &rank);
    }

    /// 0-based rank of `member` (Redis `zslGetRank` minus one).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let id = self.find(member)?;
        let (_, rank) = self.path(self.node(id).score, member);
        Some(rank[0] as usize)
    }

    /// The node at 0-based `rank` (Redis `zslGetElementByRank`).
    pub fn at(&self, rank: usize) -> Option<u32> {
        if rank >= self.len {
            return None;
        }
        let target = rank + 1;
        let mut traversed = 0usize;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.level_of(x, i);
                if l.forward != NIL && traversed + l.span as usize <= target {
                    traversed += l.span as usize;
                    x = l.forward;
                } else {
                    break;
                }
            }
            if traversed == target {
                return Some(x);
            }
        }
        None
    }

    /// Walks from the header as far as `go` allows, top level down (the
    /// search loop of `zslFirstInRange` and friends). Returns how many nodes
    /// it passed and the last one passed (None: the header).
    pub fn descend(&self, go: impl Fn(&[u8], f64) -> bool) -> (usize, Option<u32>) {
        let mut passed = 0usize;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.level_of(x, i);
                if l.forward == NIL {
                    break;
                }
                let f = self.node(l.forward);
                if !go(&f.member, f.score) {
                    break;
                }
                passed += l.span as usize;
                x = l.forward;
            }
        }
        (passed, (x != HEAD).then_some(x))
    }

    /// Deletes the nodes from 0-based `start` on while `keep_going` holds, at
    /// most `max` of them (`zslDeleteRangeByRank` / `ByScore` / `ByLex`).
    pub fn delete_run(
        &mut self,
        start: usize,
        max: usize,
        keep_going: impl Fn(&[u8], f64) -> bool,
    ) -> usize {
        let mut update = [HEAD; MAX_LEVEL];
        let mut traversed = 0usize;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.level_of(x, i);
                if l.forward != NIL && traversed + (l.span as usize) < start + 1 {
                    traversed += l.span as usize;
                    x = l.forward;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        let mut x = self.level_of(x, 0).forward;
        let mut removed = 0;
        while x != NIL && removed < max {
            let node = self.node(x);
            if !keep_going(&node.member, node.score) {
                break;
            }
            let next = node.first.forward;
            self.hash_unlink(x);
            self.unlink(x, &update);
            self.release(x);
            removed += 1;
            x = next;
        }
        self.resize_if_needed();
        self.compact_if_sparse();
        removed
    }
}

fn some(id: u32) -> Option<u32> {
    (id != NIL).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(n: usize) -> Skiplist {
        let mut sl = Skiplist::default();
        for i in (0..n).rev() {
            sl.insert(format!("m{i:05}").as_bytes(), (i / 3) as f64);
        }
        sl
    }

    fn order(sl: &Skiplist) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut n = sl.first();
        while let Some(id) = n {
            out.push(sl.member(id).to_vec());
            n = sl.next(id);
        }
        out
    }

    #[test]
    fn ranks_and_lookups() {
        let sl = build(500);
        assert_eq!(sl.len(), 500);
        for i in 0..500 {
            let m = format!("m{i:05}");
            assert_eq!(sl.rank(m.as_bytes()), Some(i));
            assert_eq!(
                sl.at(i).map(|id| sl.member(id).to_vec()),
                Some(m.into_bytes())
            );
            assert_eq!(
                sl.score(format!("m{i:05}").as_bytes()),
                Some((i / 3) as f64)
            );
        }
        assert_eq!(sl.at(500), None);
        assert_eq!(sl.rank(b"nope"), None);
        let (passed, last) = sl.descend(|_, s| s < 10.0);
        assert_eq!(passed, 30);
        assert_eq!(
            last.map(|id| sl.member(id).to_vec()),
            Some(b"m00029".to_vec())
        );
    }

    #[test]
    fn remove_update_and_compact() {
        let mut sl = build(300);
        for i in (0..300).step_by(2) {
            assert!(sl.remove(format!("m{i:05}").as_bytes()));
        }
        assert!(!sl.remove(b"m00000"));
        assert_eq!(sl.len(), 150);
        sl.set_score(b"m00001", 1000.0);
        sl.set_score(b"m00003", 1.0);
        assert_eq!(sl.rank(b"m00001"), Some(149));
        assert_eq!(sl.score(b"m00003"), Some(1.0));
        let removed = sl.delete_run(10, 20, |_, _| true);
        assert_eq!(removed, 20);
        assert_eq!(sl.len(), 130);
        let members = order(&sl);
        let mut sorted = members.clone();
        sorted.sort_by(|a, b| {
            let (sa, sb) = (sl.score(a).unwrap_or(0.0), sl.score(b).unwrap_or(0.0));
            sa.total_cmp(&sb).then(a.cmp(b))
        });
        assert_eq!(members, sorted);
        for (i, m) in members.iter().enumerate() {
            assert_eq!(sl.rank(m), Some(i));
        }
        // Drain almost everything: the arena shrinks.
        let removed = sl.delete_run(0, usize::MAX, |_, _| true);
        assert_eq!(removed, 130);
        assert!(sl.nodes.len() < 64);
        assert_eq!(sl.first(), None);
        assert_eq!(sl.last(), None);
    }

    /// Random inserts, removals and score changes against a sorted model:
    /// freed nodes and upper-level runs are reused and ranks stay right.
    #[test]
    fn matches_a_sorted_model_while_reusing_freed_levels() {
        use rand::{rngs::StdRng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(22);
        let mut sl = Skiplist::default();
        let mut model = std::collections::BTreeMap::new();
        for step in 0..4000 {
            let m = format!("member:{}", rng.gen_range(0..300)).into_bytes();
            let score = rng.gen_range(0..50) as f64;
            match (model.remove(&m), rng.gen_range(0..3)) {
                (Some(_), 0) => assert!(sl.remove(&m)),
                (Some(_), _) => {
                    sl.set_score(&m, score);
                    model.insert(m, score);
                }
                (None, _) => {
                    sl.insert(&m, score);
                    model.insert(m, score);
                }
            }
            if step % 500 == 0 || step == 3999 {
                let mut want: Vec<(f64, Vec<u8>)> =
                    model.iter().map(|(m, &s)| (s, m.clone())).collect();
                want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let got: Vec<Vec<u8>> = order(&sl);
                assert_eq!(got, want.iter().map(|w| w.1.clone()).collect::<Vec<_>>());
                for (i, (s, m)) in want.iter().enumerate() {
                    assert_eq!(sl.rank(m), Some(i));
                    assert_eq!(sl.score(m), Some(*s));
                    assert_eq!(sl.at(i).map(|id| sl.member(id).to_vec()), Some(m.clone()));
                }
            }
        }
        // Long members live on the heap and read back whole.
        let long = vec![b'x'; 100];
        sl.insert(&long, -1.0);
        assert_eq!(sl.first().map(|id| sl.member(id).to_vec()), Some(long));
    }

    #[test]
    fn scan_sees_every_stable_member_across_resizes() {
        let mut sl = build(200);
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = sl.scan(cursor, |m, _| {
                seen.insert(m.to_vec());
            });
            step += 1;
            // Shrink and grow the table mid-scan; m0000x (x < 5) stay throughout.
            if step == 20 {
                for i in 5..190 {
                    sl.remove(format!("m{i:05}").as_bytes());
                }
            }
            if step == 25 {
                for i in 0..400 {
                    sl.insert(format!("n{i}").as_bytes(), 1.0);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..5 {
            assert!(seen.contains(format!("m{i:05}").as_bytes()));
        }
        for i in 190..200 {
            assert!(seen.contains(format!("m{i:05}").as_bytes()));
        }
    }
}
