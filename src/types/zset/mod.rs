//! Sorted sets: the data side of Redis's t_zset.c.
//!
//! Small sets are a [`Listpack`] (one byte buffer sorted by (score, member));
//! they become a [`Skiplist`] (order-statistic skiplist + hash table) past
//! zset-max-listpack-entries / zset-max-listpack-value and never go back,
//! as in Redis. Every operation here follows the Redis function named in its
//! doc, including how it behaves on the odd cases clients can see (lex ranges
//! over members with different scores, -0 scores, NaN from INCR).

mod listpack;
mod skiplist;

use std::cmp::Ordering;

use listpack::Listpack;
use skiplist::Skiplist;

use crate::number::strtod_c_string;

/// A sorted set in one of Redis's two encodings.
#[derive(Clone, Debug)]
pub enum ZSet {
    Listpack(Listpack),
    Skiplist(Box<Skiplist>),
}

/// The conversion thresholds (zset-max-listpack-entries / -value).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

/// ZADD's NX / XX / GT / LT / INCR (Redis `ZADD_IN_*`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AddFlags {
    pub incr: bool,
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

/// What `zsetAdd` did (Redis `ZADD_OUT_*`); the processed cases carry the new score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AddOutcome {
    Added(f64),
    Updated(f64),
    /// Processed, but the score stayed the same.
    Unchanged(f64),
    /// Not processed (NX on an existing member, XX on a missing one, GT/LT).
    Skipped,
}

/// INCR produced NaN (`ZADD_OUT_NAN`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NanScore;

/// A score or lex interval, as the range commands use them.
pub trait Range {
    /// Redis's "test for ranges that will always be empty".
    fn is_empty(&self) -> bool;
    fn gte_min(&self, member: &[u8], score: f64) -> bool;
    fn lte_max(&self, member: &[u8], score: f64) -> bool;
}

/// Redis `zrangespec`: a score interval, each end open or closed.
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub min_ex: bool,
    pub max_ex: bool,
}

/// One bound of ZRANGEBYSCORE: `(` makes it exclusive, the rest goes to C `strtod`.
fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    match arg.split_first() {
        Some((b'(', rest)) => Some((strtod_c_string(rest)?, true)),
        _ => Some((strtod_c_string(arg)?, false)),
    }
}

impl ScoreRange {
    /// Redis `zslParseRange`.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let (min, min_ex) = parse_score_bound(min)?;
        let (max, max_ex) = parse_score_bound(max)?;
        Some(ScoreRange {
            min,
            max,
            min_ex,
            max_ex,
        })
    }
}

impl Range for ScoreRange {
    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_ex || self.max_ex))
    }

    fn gte_min(&self, _: &[u8], score: f64) -> bool {
        if self.min_ex {
            score > self.min
        } else {
            score >= self.min
        }
    }

    fn lte_max(&self, _: &[u8], score: f64) -> bool {
        if self.max_ex {
            score < self.max
        } else {
            score <= self.max
        }
    }
}

/// One end of a lex range: `-`, `+`, or a string, inclusive (`[`) or not (`(`).
#[derive(Clone, Debug)]
pub enum LexBound {
    /// `-`: Redis's `shared.minstring`.
    Min,
    /// `+`: Redis's `shared.maxstring`.
    Max,
    Value {
        data: Box<[u8]>,
        exclusive: bool,
    },
}

impl LexBound {
    /// Redis `zslParseLexRangeItem`. `+`/`-` must be alone, but a byte after
    /// a NUL does not count (Redis looks at the C string).
    fn parse(arg: &[u8]) -> Option<LexBound> {
        let alone = arg.get(1).copied().unwrap_or(0) == 0;
        match arg.first() {
            Some(b'+') if alone => Some(LexBound::Max),
            Some(b'-') if alone => Some(LexBound::Min),
            Some(b'(') => Some(LexBound::Value {
                data: arg[1..].into(),
                exclusive: true,
            }),
            Some(b'[') => Some(LexBound::Value {
                data: arg[1..].into(),
                exclusive: false,
            }),
            _ => None,
        }
    }

    /// `-` and `+` count as exclusive, as Redis parses them.
    fn exclusive(&self) -> bool {
        match self {
            LexBound::Value { exclusive, .. } => *exclusive,
            _ => true,
        }
    }

    /// Redis `sdscmplex(value, bound)` for a member `value`.
    fn cmp_member(&self, value: &[u8]) -> Ordering {
        match self {
            LexBound::Min => Ordering::Greater,
            LexBound::Max => Ordering::Less,
            LexBound::Value { data, .. } => value.cmp(data),
        }
    }
}

/// Redis `zlexrangespec`.
#[derive(Clone, Debug)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    /// Redis `zslParseLexRange`.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<LexRange> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }
}

impl Range for LexRange {
    fn is_empty(&self) -> bool {
        // Redis `sdscmplex(min, max)`, where `-`/`+` equal only themselves.
        let cmp = match (&self.min, &self.max) {
            (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Ordering::Equal,
            (LexBound::Min, _) | (_, LexBound::Max) => Ordering::Less,
            (LexBound::Max, _) | (_, LexBound::Min) => Ordering::Greater,
            (LexBound::Value { data: a, .. }, LexBound::Value { data: b, .. }) => a.cmp(b),
        };
        cmp == Ordering::Greater
            || (cmp == Ordering::Equal && (self.min.exclusive() || self.max.exclusive()))
    }

    fn gte_min(&self, member: &[u8], _: f64) -> bool {
        let cmp = self.min.cmp_member(member);
        cmp == Ordering::Greater || (cmp == Ordering::Equal && !self.min.exclusive())
    }

    fn lte_max(&self, member: &[u8], _: f64) -> bool {
        let cmp = self.max.cmp_member(member);
        cmp == Ordering::Less || (cmp == Ordering::Equal && !self.max.exclusive())
    }
}

/// Walks a sorted set from one element, forwards or backwards.
pub enum Iter<'a> {
    Listpack {
        lp: &'a Listpack,
        pos: Option<usize>,
        rev: bool,
    },
    Skiplist {
        sl: &'a Skiplist,
        node: Option<u32>,
        rev: bool,
    },
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Listpack { lp, pos, rev } => {
                let p = (*pos)?;
                let (member, score, _) = lp.entry(p)?;
                *pos = if *rev { lp.prev(p) } else { lp.next(p) };
                Some((member, score))
            }
            Iter::Skiplist { sl, node, rev } => {
                let id = (*node)?;
                *node = if *rev { sl.prev(id) } else { sl.next(id) };
                Some((sl.member(id), sl.score_at(id)))
            }
        }
    }
}

impl ZSet {
    /// MEMORY USAGE's estimate of the sorted set's heap bytes.
    pub fn memory(&self, samples: usize) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.memory(),
            ZSet::Skiplist(sl) => sl.memory(samples),
        }
    }

    /// Redis `zsetTypeCreate`: a new, empty set, a listpack unless the
    /// expected number of elements or element length is past the limits.
    /// ZADD passes (1, length of its first member), ZRANGESTORE (range length, 0).
    pub fn with_hints(limits: Limits, size: usize, value_len: usize) -> ZSet {
        if size <= limits.max_entries && value_len <= limits.max_value {
            ZSet::Listpack(Listpack::default())
        } else {
            ZSet::Skiplist(Box::default())
        }
    }

    /// A set from members already sorted by (score, member): a listpack if it
    /// fits (`zsetConvertToListpackIfNeeded`), else a skiplist.
    pub fn from_sorted(items: Vec<(Vec<u8>, f64)>, limits: Limits) -> ZSet {
        let longest = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let total = items.iter().map(|(m, _)| m.len()).sum::<usize>();
        if items.len() <= limits.max_entries
            && longest <= limits.max_value
            && total <= listpack::MAX_SAFE_BYTES
        {
            let mut lp = Listpack::default();
            for (m, s) in &items {
                lp.push(m, *s);
            }
            ZSet::Listpack(lp)
        } else {
            let mut sl = Skiplist::default();
            for (m, s) in items {
                sl.insert(&m, s);
            }
            ZSet::Skiplist(Box::new(sl))
        }
    }

    /// The name OBJECT ENCODING shows.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Skiplist(_) => "skiplist",
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self, ZSet::Listpack(_))
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.len(),
            ZSet::Skiplist(sl) => sl.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis `zsetScore`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(lp) => lp.find(member).map(|(_, s)| s),
            ZSet::Skiplist(sl) => sl.score(member),
        }
    }

    /// 0-based rank from the lowest score (Redis `zsetRank`, not reversed).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Listpack(lp) => lp.iter().position(|(_, m, _)| m == member),
            ZSet::Skiplist(sl) => sl.rank(member),
        }
    }

    /// Iterates from the element at 0-based `rank` (counted from the lowest
    /// score), towards higher scores or, with `rev`, lower ones.
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        match self {
            ZSet::Listpack(lp) => Iter::Listpack {
                lp,
                pos: lp.seek(rank),
                rev,
            },
            ZSet::Skiplist(sl) => {
                // As Redis: no log(N) lookup for the trivial starting points.
                let node = match rank {
                    0 => sl.first(),
                    r if r + 1 == sl.len() => sl.last(),
                    r => sl.at(r),
                };
                Iter::Skiplist { sl, node, rev }
            }
        }
    }

    /// The element at 0-based `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.iter_from(rank, false).next()
    }

    /// Redis `zsetAdd`, including the listpack → skiplist conversion.
    pub fn add(
        &mut self,
        score: f64,
        member: &[u8],
        flags: AddFlags,
        limits: Limits,
    ) -> Result<AddOutcome, NanScore> {
        if score.is_nan() {
            return Err(NanScore);
        }
        if let Some(current) = self.score(member) {
            if flags.nx {
                return Ok(AddOutcome::Skipped);
            }
            let score = if flags.incr { score + current } else { score };
            if score.is_nan() {
                return Err(NanScore);
            }
            if (flags.lt && score >= current) || (flags.gt && score <= current) {
                return Ok(AddOutcome::Skipped);
            }
            if score == current {
                return Ok(AddOutcome::Unchanged(score));
            }
            match self {
                ZSet::Listpack(lp) => {
                    if let Some((pos, _)) = lp.find(member) {
                        lp.delete(pos, 1);
                    }
                    lp.insert(member, score);
                }
                ZSet::Skiplist(sl) => sl.set_score(member, score),
            }
            return Ok(AddOutcome::Updated(score));
        }
        if flags.xx {
            return Ok(AddOutcome::Skipped);
        }
        if let ZSet::Listpack(lp) = self {
            if lp.len() + 1 > limits.max_entries
                || member.len() > limits.max_value
                || !lp.safe_to_add(member.len())
            {
                self.convert_to_skiplist();
            }
        }
        match self {
            ZSet::Listpack(lp) => lp.insert(member, score),
            ZSet::Skiplist(sl) => sl.insert(member, score),
        }
        Ok(AddOutcome::Added(score))
    }

    /// Redis `zsetConvert(zobj, OBJ_ENCODING_SKIPLIST)`.
    pub fn convert_to_skiplist(&mut self) {
        if let ZSet::Listpack(lp) = self {
            let mut sl = Skiplist::default();
            for (_, member, score) in lp.iter() {
                sl.insert(member, score);
            }
            *self = ZSet::Skiplist(Box::new(sl));
        }
    }

    /// Redis `zsetDel`.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Listpack(lp) => match lp.find(member) {
                Some((pos, _)) => {
                    lp.delete(pos, 1);
                    true
                }
                None => false,
            },
            ZSet::Skiplist(sl) => sl.remove(member),
        }
    }

    /// Removes up to `count` elements from 0-based `start` on (ZREMRANGEBYRANK).
    pub fn remove_ranks(&mut self, start: usize, count: usize) -> usize {
        self.remove_run(start, count, |_, _| true)
    }

    /// Removes the elements from `start` on while `keep_going` holds, at most `max`.
    fn remove_run(
        &mut self,
        start: usize,
        max: usize,
        keep_going: impl Fn(&[u8], f64) -> bool,
    ) -> usize {
        match self {
            ZSet::Listpack(lp) => {
                let count = Iter::Listpack {
                    lp,
                    pos: lp.seek(start),
                    rev: false,
                }
                .take(max)
                .take_while(|&(m, s)| keep_going(m, s))
                .count();
                if let Some(pos) = lp.seek(start) {
                    lp.delete(pos, count);
                }
                count
            }
            ZSet::Skiplist(sl) => sl.delete_run(start, max, keep_going),
        }
    }

    /// Removes the lowest (or, with `max`, highest) element and returns it.
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        let rank = if max { self.len().checked_sub(1)? } else { 0 };
        let (member, score) = self.get(rank).map(|(m, s)| (m.to_vec(), s))?;
        self.remove_ranks(rank, 1);
        Some((member, score))
    }

    /// Redis `zslIsInRange` / `zzlIsInRange` (and the lex twins): whether the
    /// range can touch the set at all, judged by its first and last elements.
    fn overlaps<R: Range>(&self, range: &R) -> bool {
        if range.is_empty() {
            return false;
        }
        let Some(len) = self.len().checked_sub(1) else {
            return false;
        };
        match (self.get(len), self.get(0)) {
            (Some((lm, ls)), Some((fm, fs))) => range.gte_min(lm, ls) && range.lte_max(fm, fs),
            _ => false,
        }
    }

    /// Rank of the first element in `range` (Redis `zslFirstInRange` /
    /// `zzlFirstInRange` and the lex twins): the first one at or past the
    /// minimum, if it is not past the maximum.
    pub fn first_in_range<R: Range>(&self, range: &R) -> Option<usize> {
        if !self.overlaps(range) {
            return None;
        }
        let rank = match self {
            ZSet::Listpack(lp) => lp.iter().position(|(_, m, s)| range.gte_min(m, s))?,
            ZSet::Skiplist(sl) => sl.descend(|m, s| !range.gte_min(m, s)).0,
        };
        let (m, s) = self.get(rank)?;
        range.lte_max(m, s).then_some(rank)
    }

    /// Rank of the last element in `range` (Redis `zslLastInRange` /
    /// `zzlLastInRange`): a listpack is searched from its end.
    pub fn last_in_range<R: Range>(&self, range: &R) -> Option<usize> {
        if !self.overlaps(range) {
            return None;
        }
        let rank = match self {
            ZSet::Listpack(lp) => {
                let last = lp.len().checked_sub(1)?;
                let back = self
                    .iter_from(last, true)
                    .position(|(m, s)| range.lte_max(m, s))?;
                last - back
            }
            ZSet::Skiplist(sl) => match sl.descend(|m, s| range.lte_max(m, s)) {
                (passed, Some(_)) => passed - 1,
                (_, None) => return None,
            },
        };
        let (m, s) = self.get(rank)?;
        range.gte_min(m, s).then_some(rank)
    }

    /// ZCOUNT / ZLEXCOUNT: a listpack counts from the first element in range
    /// while in range; a skiplist subtracts the ranks of the first and last.
    pub fn count_in_range<R: Range>(&self, range: &R) -> usize {
        let Some(first) = self.first_in_range(range) else {
            return 0;
        };
        match self {
            ZSet::Listpack(_) => self
                .iter_from(first, false)
                .take_while(|&(m, s)| range.lte_max(m, s))
                .count(),
            ZSet::Skiplist(_) => {
                let mut count = self.len() - first;
                if let Some(last) = self.last_in_range(range) {
                    count = count.saturating_sub(self.len() - (last + 1));
                }
                count
            }
        }
    }

    /// ZREMRANGEBYSCORE / ZREMRANGEBYLEX (Redis `zzlDeleteRangeByScore`, ...).
    pub fn remove_in_range<R: Range>(&mut self, range: &R) -> usize {
        match self.first_in_range(range) {
            Some(first) => self.remove_run(first, usize::MAX, |m, s| range.lte_max(m, s)),
            None => 0,
        }
    }

    /// One ZSCAN step on a skiplist (Redis `scanGenericCommand` over the
    /// dict): visits buckets until `count` items (two per element) are
    /// collected or ten times that many buckets were seen. A listpack is
    /// visited whole and the cursor is 0.
    pub fn scan(&self, cursor: u64, count: usize, mut emit: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Listpack(lp) => {
                for (_, m, s) in lp.iter() {
                    emit(m, s);
                }
                0
            }
            ZSet::Skiplist(sl) => {
                let count = count.saturating_mul(2);
                let mut max_iterations = count.saturating_mul(10);
                let mut collected = 0usize;
                let mut cursor = cursor;
                loop {
                    cursor = sl.scan(cursor, |m, s| {
                        emit(m, s);
                        collected += 2;
                    });
                    if cursor == 0 || max_iterations == 0 || collected >= count {
                        return cursor;
                    }
                    max_iterations -= 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        max_entries: 4,
        max_value: 8,
    };

    fn add(z: &mut ZSet, score: f64, member: &str) -> AddOutcome {
        z.add(score, member.as_bytes(), AddFlags::default(), SMALL)
            .expect("not NaN")
    }

    fn members(z: &ZSet) -> Vec<String> {
        z.iter_from(0, false)
            .map(|(m, _)| String::from_utf8_lossy(m).into_owned())
            .collect()
    }

    #[test]
    fn converts_past_the_limits_and_ranks_agree() {
        let mut lp = ZSet::with_hints(SMALL, 0, 0);
        for (i, m) in ["d", "c", "b", "a"].iter().enumerate() {
            assert_eq!(add(&mut lp, i as f64, m), AddOutcome::Added(i as f64));
        }
        assert!(lp.is_listpack());
        let mut sl = lp.clone();
        add(&mut sl, 9.0, "e");
        assert_eq!(sl.encoding_name(), "skiplist");
        let mut long = lp.clone();
        add(&mut long, -1.0, "123456789");
        assert!(!long.is_listpack());
        for z in [&lp, &sl] {
            assert_eq!(members(z)[..4], ["d", "c", "b", "a"]);
            assert_eq!(z.rank(b"b"), Some(2));
            let range = ScoreRange::parse(b"(0", b"2").expect("valid");
            assert_eq!(z.first_in_range(&range), Some(1));
            assert_eq!(z.last_in_range(&range), Some(2));
            assert_eq!(z.count_in_range(&range), 2);
            let rev: Vec<_> = z.iter_from(2, true).map(|(_, s)| s).collect();
            assert_eq!(rev, [2.0, 1.0, 0.0]);
        }
    }

    #[test]
    fn add_flags_follow_zset_add() {
        let mut z = ZSet::with_hints(SMALL, 0, 0);
        add(&mut z, 5.0, "m");
        let gt = AddFlags {
            gt: true,
            ..AddFlags::default()
        };
        assert_eq!(z.add(4.0, b"m", gt, SMALL), Ok(AddOutcome::Skipped));
        assert_eq!(z.add(6.0, b"m", gt, SMALL), Ok(AddOutcome::Updated(6.0)));
        let incr = AddFlags {
            incr: true,
            ..AddFlags::default()
        };
        assert_eq!(
            z.add(0.0, b"m", incr, SMALL),
            Ok(AddOutcome::Unchanged(6.0))
        );
        add(&mut z, f64::INFINITY, "m");
        assert_eq!(z.add(f64::NEG_INFINITY, b"m", incr, SMALL), Err(NanScore));
        let xx = AddFlags {
            xx: true,
            ..AddFlags::default()
        };
        assert_eq!(z.add(1.0, b"new", xx, SMALL), Ok(AddOutcome::Skipped));
        assert_eq!(z.len(), 1);
    }

    #[test]
    fn lex_ranges_parse_like_redis() {
        assert!(LexRange::parse(b"-", b"+").is_some());
        assert!(LexRange::parse(b"a", b"+").is_none());
        assert!(LexRange::parse(b"", b"+").is_none());
        assert!(LexRange::parse(b"-x", b"+").is_none());
        assert!(LexRange::parse(b"-\0x", b"+\0").is_some());
        let r = LexRange::parse(b"[b", b"(d").expect("valid");
        assert!(!r.is_empty());
        assert!(r.gte_min(b"b", 0.0) && !r.gte_min(b"a", 0.0));
        assert!(r.lte_max(b"c", 0.0) && !r.lte_max(b"d", 0.0));
        assert!(LexRange::parse(b"-", b"-").expect("valid").is_empty());
        assert!(LexRange::parse(b"+", b"-").expect("valid").is_empty());
        assert!(!LexRange::parse(b"[a", b"[a").expect("valid").is_empty());
        assert!(LexRange::parse(b"(a", b"[a").expect("valid").is_empty());
    }

    #[test]
    fn removals_and_pops() {
        for limits in [
            SMALL,
            Limits {
                max_entries: 0,
                ..SMALL
            },
        ] {
            let mut z = ZSet::with_hints(limits, 1, 1);
            for (i, m) in ["a", "b", "c", "d"].iter().enumerate() {
                z.add(i as f64, m.as_bytes(), AddFlags::default(), limits)
                    .expect("not NaN");
            }
            let r = LexRange::parse(b"[b", b"[c").expect("valid");
            assert_eq!(z.remove_in_range(&r), 2);
            assert_eq!(members(&z), ["a", "d"]);
            assert_eq!(z.pop(true), Some((b"d".to_vec(), 3.0)));
            assert_eq!(z.pop(false), Some((b"a".to_vec(), 0.0)));
            assert_eq!(z.pop(false), None);
        }
    }
}
