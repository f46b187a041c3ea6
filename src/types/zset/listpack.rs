//! The compact encoding of a small sorted set (Redis's "listpack"): one byte
//! buffer of (member, score) entries sorted by (score, member).
//!
//! Entry layout: the score's code (see [`encode_score`]: one byte for a small
//! integer, as Redis's listpack stores integral scores as integers) then the
//! member as a framed entry of [`varint`]: `len (varint) | member | len
//! (varint, bytes reversed)`. Both read from either end, so a walk goes
//! backwards from any entry boundary, as Redis's listpack back-length allows,
//! and ZREVRANGE and ZPOPMAX do not rescan.
//! Operations are O(n), as in Redis: the set stays small by construction.

use crate::types::compact::PackedBytes;
use crate::types::varint;

/// Redis `LISTPACK_MAX_SAFETY_SIZE`: a listpack never grows past 1 GiB.
pub const MAX_SAFE_BYTES: usize = 1 << 30;

/// Score codes: a byte below `INT_TAG` is a small integer (the byte minus
/// `SMALL_BIAS`); `INT_TAG + n` brackets an n-byte little-endian integer
/// (`tag, bytes, tag`); `F64_TAG` brackets the 8 bytes of an f64.
const INT_TAG: u8 = 0xf0;
const F64_TAG: u8 = 0xff;
const SMALL_BIAS: i64 = 16;
/// The longest code: an f64 and its two tags.
const MAX_SCORE_CODE: usize = 10;

/// `score`'s code and its length: integral scores in as few bytes as they
/// need (0 to 223 in one), the rest as f64.
fn encode_score(score: f64) -> ([u8; MAX_SCORE_CODE], usize) {
    let mut code = [0; MAX_SCORE_CODE];
    let int = score as i64;
    // `as` saturates, so a score past i64's range fails the round trip.
    if int as f64 != score || !(-9.0e18..9.0e18).contains(&score) {
        code[0] = F64_TAG;
        code[1..9].copy_from_slice(&score.to_le_bytes());
        code[9] = F64_TAG;
        return (code, MAX_SCORE_CODE);
    }
    if let Ok(small) = u8::try_from(int + SMALL_BIAS) {
        if small < INT_TAG {
            code[0] = small;
            return (code, 1);
        }
    }
    // The fewest bytes whose sign extension gives `int` back.
    let n = (1..8)
        .find(|&n| (int << (64 - 8 * n)) >> (64 - 8 * n) == int)
        .unwrap_or(8);
    code[0] = INT_TAG + n as u8;
    code[1..=n].copy_from_slice(&int.to_le_bytes()[..n]);
    code[n + 1] = INT_TAG + n as u8;
    (code, n + 2)
}

/// The length of a score code from its first or last byte (its tag).
fn score_code_len(tag: u8) -> usize {
    match tag {
        F64_TAG => MAX_SCORE_CODE,
        t if t > INT_TAG => usize::from(t - INT_TAG) + 2,
        _ => 1,
    }
}

/// The score whose code starts at `buf[pos]`, and the code's length.
fn decode_score(buf: &[u8], pos: usize) -> Option<(f64, usize)> {
    let tag = *buf.get(pos)?;
    let len = score_code_len(tag);
    if len == 1 {
        return Some(((i64::from(tag) - SMALL_BIAS) as f64, 1));
    }
    let payload = buf.get(pos + 1..pos + len - 1)?;
    let score = if tag == F64_TAG {
        f64::from_le_bytes(payload.try_into().ok()?)
    } else {
        let mut bytes = [0; 8];
        bytes[..payload.len()].copy_from_slice(payload);
        let shift = 64 - 8 * payload.len() as u32;
        ((i64::from_le_bytes(bytes) << shift) >> shift) as f64
    };
    Some((score, len))
}

/// Inline in the value while short (see [`PackedBytes`]).
#[derive(Clone, Debug, Default)]
pub struct Listpack {
    /// The entries; its count is how many.
    buf: PackedBytes,
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
        self.buf.heap_size()
    }

    pub fn len(&self) -> usize {
        self.buf.count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis `lpSafeToAdd`: whether `add` more bytes keep the buffer under 1 GiB.
    pub fn safe_to_add(&self, add: usize) -> bool {
        self.buf.len().saturating_add(add) <= MAX_SAFE_BYTES
    }

    /// The entry starting at byte `pos`: member, score and where the next one
    /// starts (None past the end).
    pub fn entry(&self, pos: usize) -> Option<(&[u8], f64, usize)> {
        let (score, code_len) = decode_score(&self.buf, pos)?;
        let (member, next) = varint::read_framed(&self.buf, pos + code_len)?;
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
        let tag = *self.buf.get(member_start.checked_sub(1)?)?;
        member_start.checked_sub(score_code_len(tag))
    }

    /// Start of the last entry.
    pub fn last(&self) -> Option<usize> {
        self.prev(self.buf.len())
    }

    /// Start of the entry at 0-based `rank`, walking from the nearer end (`lpSeek`).
    pub fn seek(&self, rank: usize) -> Option<usize> {
        let len = self.len();
        if rank >= len {
            return None;
        }
        if rank <= len / 2 {
            let mut pos = 0;
            for _ in 0..rank {
                pos = self.entry(pos)?.2;
            }
            Some(pos)
        } else {
            let mut pos = self.buf.len();
            for _ in rank..len {
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
        let (code, code_len) = encode_score(score);
        let size = code_len + varint::framed_len(member.len());
        // Exact growth, as Redis reallocates a listpack to its exact size.
        self.buf.replace(at..at, size, |entry| {
            let (score_bytes, framed) = entry.split_at_mut(code_len);
            score_bytes.copy_from_slice(&code[..code_len]);
            varint::write_framed(framed, member);
        });
        self.buf.set_count(self.len() + 1);
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
        self.buf.splice(pos..end, &[]);
        self.buf.set_count(self.len() - removed);
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
        let mut want = vec![F64_TAG];
        want.extend_from_slice(&1.5f64.to_le_bytes());
        want.extend_from_slice(&[F64_TAG, 2, b'a', b'b', 2]);
        want.push(2 + SMALL_BIAS as u8);
        want.extend_from_slice(&[0x80, 0x01]);
        want.extend_from_slice(&[b'm'; 0x80]);
        want.extend_from_slice(&[0x01, 0x80]);
        assert_eq!(&*lp.buf, &want[..]);
    }

    #[test]
    fn scores_round_trip_in_their_shortest_code() {
        let cases: [(f64, usize); 16] = [
            (0.0, 1),
            (-16.0, 1),
            (223.0, 1),
            (224.0, 4),
            (-17.0, 3),
            (-128.0, 3),
            (-129.0, 4),
            (65_535.0, 5),
            (1_700_000_000_000.0, 8),
            (-8.9e18, 10),
            (9.1e18, 10),
            (1.5, 10),
            (f64::INFINITY, 10),
            (f64::NEG_INFINITY, 10),
            (1e300, 10),
            (f64::MIN_POSITIVE, 10),
        ];
        for (score, len) in cases {
            let (code, n) = encode_score(score);
            assert_eq!(n, len, "{score}");
            assert_eq!(score_code_len(code[0]), n);
            assert_eq!(score_code_len(code[n - 1]), n);
            let (back, m) = decode_score(&code[..n], 0).expect("decodes");
            assert_eq!((back.to_bits(), m), (score.to_bits(), n), "{score}");
        }
        for int in [i64::MIN / 2, -1 << 40, -(1 << 15), 1 << 31, (1 << 53) - 1] {
            let (code, n) = encode_score(int as f64);
            assert_eq!(decode_score(&code[..n], 0).map(|d| d.0), Some(int as f64));
        }
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
