//! The compact encoding of a small sorted set (Redis's "listpack"): one byte
//! buffer of (member, score) entries sorted by (score, member).
//!
//! Entry layout: `score (8 bytes, f64 LE)` then the member as a framed entry of
//! [`varint`]: `len (varint) | member | len (varint, bytes reversed)`.
//! The trailing length lets a walk go backwards from any entry boundary, as
//! Redis's listpack back-length does, so ZREVRANGE and ZPOPMAX do not rescan.
//! Operations are O(n), as in Redis: the set stays small by construction.

use crate::types::memory::alloc_size;
use crate::types::varint;

/// Redis `LISTPACK_MAX_SAFETY_SIZE`: a listpack never grows past 1 GiB.
pub const MAX_SAFE_BYTES: usize = 1 << 30;

const SCORE_BYTES: usize = 8;

/// Bytes one entry takes for a member of `len` bytes.
fn entry_len(len: usize) -> usize {
    SCORE_BYTES + varint::framed_len(len)
}

#[derive(Clone, Debug, Default)]
pub struct Listpack {
    buf: Vec<u8>,
    len: usize,
}

/// Redis stores a listpack score that is an integral `long long` as an
/// integer (`zzlInsertAt` via `double2ll`), so -0 comes back as 0. Kept,
/// because ZSCORE and friends show it.
fn stored_score(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

impl Listpack {
    /// MEMORY USAGE: the buffer's allocation.
    pub fn memory(&self) -> usize {
        alloc_size(self.buf.capacity())
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Redis `lpSafeToAdd`: whether `add` more bytes keep the buffer under 1 GiB.
    pub fn safe_to_add(&self, add: usize) -> bool {
        self.buf.len().saturating_add(add) <= MAX_SAFE_BYTES
    }

    /// The entry starting at byte `pos`: member, score and where the next one
    /// starts (None past the end).
    pub fn entry(&self, pos: usize) -> Option<(&[u8], f64, usize)> {
        let score = self.buf.get(pos..pos.checked_add(SCORE_BYTES)?)?;
        let score = f64::from_le_bytes(score.try_into().ok()?);
        let (member, next) = varint::read_framed(&self.buf, pos + SCORE_BYTES)?;
        Some((member, score, next))
    }

    /// Start of the entry after the one at `pos` (None after the last).
    pub fn next(&self, pos: usize) -> Option<usize> {
        let next = self.entry(pos)?.2;
        (next < self.buf.len()).then_some(next)
    }

    /// Start of the entry that ends at byte `end` (None at the start).
    pub fn prev(&self, end: usize) -> Option<usize> {
        let (member_start, _) = varint::read_framed_back(&self.buf, end)?;
        member_start.checked_sub(SCORE_BYTES)
    }

    /// Start of the last entry.
    pub fn last(&self) -> Option<usize> {
        self.prev(self.buf.len())
    }

    /// Start of the entry at 0-based `rank`, walking from the nearer end (`lpSeek`).
    pub fn seek(&self, rank: usize) -> Option<usize> {
        if rank >= self.len {
            return None;
        }
        if rank <= self.len / 2 {
            let mut pos = 0;
            for _ in 0..rank {
                pos = self.entry(pos)?.2;
            }
            Some(pos)
        } else {
            let mut pos = self.buf.len();
            for _ in rank..self.len {
                pos = self.prev(pos)?;
            }
            Some(pos)
        }
    }

    /// Entries in order: (start, member, score).
    pub fn iter(&self) -> impl Iterator<Item = (usize, &[u8], f64)> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            let (member, score, next) = self.entry(pos)?;
            let start = std::mem::replace(&mut pos, next);
            Some((start, member, score))
        })
    }

    /// Start and score of `member` (`zzlFind`).
    pub fn find(&self, member: &[u8]) -> Option<(usize, f64)> {
        self.iter()
            .find(|(_, m, _)| *m == member)
            .map(|(pos, _, score)| (pos, score))
    }

    /// Inserts a member that is not present at its sorted place (`zzlInsert`).
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let score = stored_score(score);
        let at = self
            .iter()
            .find(|&(_, m, s)| s > score || (s == score && m > member))
            .map_or(self.buf.len(), |(pos, _, _)| pos);
        self.insert_at(at, member, score);
    }

    /// Appends a member that sorts after every present one.
    pub fn push(&mut self, member: &[u8], score: f64) {
        self.insert_at(self.buf.len(), member, stored_score(score));
    }

    fn insert_at(&mut self, at: usize, member: &[u8], score: f64) {
        let size = entry_len(member.len());
        let old = self.buf.len();
        // Exact growth, as Redis reallocates a listpack to its exact size.
        self.buf.reserve_exact(size);
        self.buf.resize(old + size, 0);
        self.buf.copy_within(at..old, at + size);
        let (score_bytes, framed) = self.buf[at..at + size].split_at_mut(SCORE_BYTES);
        score_bytes.copy_from_slice(&score.to_le_bytes());
        varint::write_framed(framed, member);
        self.len += 1;
    }

    /// Removes `count` consecutive entries starting at byte `pos`.
    pub fn delete(&mut self, pos: usize, count: usize) {
        let mut end = pos;
        let mut removed = 0;
        while removed < count {
            let Some((_, _, next)) = self.entry(end) else {
                break;
            };
            end = next;
            removed += 1;
        }
        self.buf.drain(pos..end);
        self.len -= removed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(lp: &Listpack) -> Vec<(Vec<u8>, f64)> {
        lp.iter().map(|(_, m, s)| (m.to_vec(), s)).collect()
    }

    #[test]
    fn insert_sorts_by_score_then_member() {
        let mut lp = Listpack::default();
        lp.insert(b"b", 1.0);
        lp.insert(b"a", 1.0);
        lp.insert(b"z", -5.0);
        lp.insert(&[b'x'; 300], 2.0);
        lp.insert(b"", 1.0);
        let got = members(&lp);
        let want: Vec<(Vec<u8>, f64)> = vec![
            (b"z".to_vec(), -5.0),
            (b"".to_vec(), 1.0),
            (b"a".to_vec(), 1.0),
            (b"b".to_vec(), 1.0),
            (vec![b'x'; 300], 2.0),
        ];
        assert_eq!(got, want);
        assert_eq!(lp.len(), 5);
    }

    #[test]
    fn entry_bytes_are_score_length_member_reversed_length() {
        let mut lp = Listpack::default();
        lp.insert(b"ab", 1.5);
        lp.insert(&[b'm'; 0x80], 2.0);
        let mut want = 1.5f64.to_le_bytes().to_vec();
        want.extend_from_slice(&[2, b'a', b'b', 2]);
        want.extend_from_slice(&2.0f64.to_le_bytes());
        want.extend_from_slice(&[0x80, 0x01]);
        want.extend_from_slice(&[b'm'; 0x80]);
        want.extend_from_slice(&[0x01, 0x80]);
        assert_eq!(lp.buf, want);
    }

    #[test]
    fn walks_both_ways() {
        let mut lp = Listpack::default();
        for i in 0..40u8 {
            lp.insert(&vec![b'm'; usize::from(i) * 7], f64::from(i));
        }
        let starts: Vec<usize> = lp.iter().map(|(p, _, _)| p).collect();
        let mut back = Vec::new();
        let mut end = lp.buf.len();
        while let Some(p) = lp.prev(end) {
            back.push(p);
            end = p;
        }
        back.reverse();
        assert_eq!(starts, back);
        for (rank, &p) in starts.iter().enumerate() {
            assert_eq!(lp.seek(rank), Some(p));
        }
        assert_eq!(lp.seek(40), None);
        assert_eq!(lp.last(), starts.last().copied());
    }

    #[test]
    fn delete_and_negative_zero() {
        let mut lp = Listpack::default();
        lp.insert(b"a", -0.0);
        let (_, s) = lp.find(b"a").expect("present");
        assert!(s == 0.0 && s.is_sign_positive());
        lp.insert(b"b", 2.0);
        lp.insert(b"c", 3.0);
        let (pos, _) = lp.find(b"b").expect("present");
        lp.delete(pos, 2);
        assert_eq!(members(&lp), vec![(b"a".to_vec(), 0.0)]);
        assert_eq!(lp.find(b"c"), None);
    }
}
