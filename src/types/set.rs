//! The set type (Redis's t_set.c data side): an intset while every member is
//! an integer and there are at most `set-max-intset-entries` of them, a hash
//! table otherwise. Redis 7.0 has no listpack sets. Conversion is one-way.

use bytes::Bytes;
use rand::seq::index;
use rand::Rng;

use super::compact::{CompactBytes, PackedBytes};
use super::indexed::IndexedDict;
use crate::number::parse_i64;

/// Redis's intset: sorted integers, little-endian, in one exactly sized
/// buffer, inline in the value while it takes up to 29 bytes (see
/// [`PackedBytes`]: 14 members of 16 bits, 7 of 32, 3 of 64), each member
/// as wide (2, 4 or 8 bytes) as the widest needs. Adding a member that does
/// not fit widens them all; nothing narrows them.
#[derive(Clone, Debug)]
pub struct Intset(
    /// The members; its count is their width in bytes.
    PackedBytes,
);

impl Default for Intset {
    fn default() -> Self {
        Intset(PackedBytes::new(&[], 2))
    }
}

/// The fewest bytes (2, 4 or 8) that hold `v` (Redis `_intsetValueEncoding`).
fn width_of(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// The `width`-byte member at the start of `bytes`, sign-extended.
fn decode(bytes: &[u8], width: usize) -> i64 {
    let mut le = [0; 8];
    le[..width].copy_from_slice(&bytes[..width]);
    let shift = 64 - 8 * width as u32;
    (i64::from_le_bytes(le) << shift) >> shift
}

impl Intset {
    /// Bytes per member.
    fn width_bytes(&self) -> usize {
        self.0.count()
    }

    pub fn len(&self) -> usize {
        self.0.len() / self.width_bytes()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Bits per element (16, 32 or 64), Redis's `intrev32ifbe(is->encoding) * 8`.
    pub fn width(&self) -> u32 {
        8 * self.width_bytes() as u32
    }

    pub fn get(&self, pos: usize) -> Option<i64> {
        let width = self.width_bytes();
        let bytes = self.0.get(pos * width..(pos + 1) * width)?;
        Some(decode(bytes, width))
    }

    /// Where `v` is, or would go (`intsetSearch`).
    fn search(&self, v: i64) -> Result<usize, usize> {
        let width = self.width_bytes();
        if width_of(v) > width {
            // Wider than every member: below or above them all.
            return Err(if v < 0 { 0 } else { self.len() });
        }
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match decode(&self.0[mid * width..], width).cmp(&v) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// Redis `intsetAdd`: returns false if `v` is already there.
    pub fn insert(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(_) => false,
            Err(pos) if width_of(v) <= self.width_bytes() => {
                let width = self.width_bytes();
                self.0
                    .splice(pos * width..pos * width, &v.to_le_bytes()[..width]);
                true
            }
            Err(pos) => {
                // `intsetUpgradeAndAdd`: every member at the new width.
                let width = width_of(v);
                let mut bytes = Vec::with_capacity((self.len() + 1) * width);
                for (i, member) in self.iter().enumerate() {
                    if i == pos {
                        bytes.extend_from_slice(&v.to_le_bytes()[..width]);
                    }
                    bytes.extend_from_slice(&member.to_le_bytes()[..width]);
                }
                if pos == self.len() {
                    bytes.extend_from_slice(&v.to_le_bytes()[..width]);
                }
                self.0 = PackedBytes::new(&bytes, width);
                true
            }
        }
    }

    pub fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(pos) => {
                let width = self.width_bytes();
                self.0.splice(pos * width..(pos + 1) * width, &[]);
                true
            }
            Err(_) => false,
        }
    }

    /// Removes the members at the sorted positions `drop`, rebuilding once.
    fn remove_at(&mut self, drop: &[usize]) {
        let width = self.width_bytes();
        let mut drop = drop.iter().peekable();
        let kept: Vec<u8> = self
            .0
            .chunks_exact(width)
            .enumerate()
            .filter(|(i, _)| drop.next_if_eq(&i).is_none())
            .flat_map(|(_, member)| member.iter().copied())
            .collect();
        self.0 = PackedBytes::new(&kept, width);
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        let width = self.width_bytes();
        self.0.chunks_exact(width).map(move |b| decode(b, width))
    }

    /// MEMORY USAGE: the heap bytes (none inline).
    fn heap_size(&self) -> usize {
        self.0.heap_size()
    }
}

/// A set member as an encoding yields it: intsets hold integers, tables bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Member<'_> {
    /// The member as a reply or a stored string.
    pub fn to_bytes(self) -> Bytes {
        match self {
            Member::Int(n) => Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Member::Str(s) => Bytes::copy_from_slice(s),
        }
    }

    /// Calls `f` with the member's bytes, formatting an integer on the stack.
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
            Member::Str(s) => f(s),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Set {
    /// "intset".
    Intset(Intset),
    /// "hashtable": members inline up to 22 bytes (see [`CompactBytes`]).
    Table(Box<IndexedDict<CompactBytes>>),
}

impl Set {
    /// Redis `setTypeCreate`: an intset if the first member to be added is an
    /// integer (`string2ll`, so no "+1", "01" or "-0"), else a hash table.
    pub fn for_member(first: &[u8]) -> Set {
        match parse_i64(first) {
            Some(_) => Set::Intset(Intset::default()),
            None => Set::Table(Box::new(IndexedDict::with_capacity(0))),
        }
    }

    /// The empty intset Redis's SINTERSTORE/SUNION/SDIFF start their result from.
    pub fn new_intset() -> Set {
        Set::Intset(Intset::default())
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// MEMORY USAGE's estimate of the set's heap bytes.
    pub fn memory(&self, samples: usize) -> usize {
        match self {
            Set::Intset(ints) => ints.heap_size(),
            Set::Table(t) => t.memory(samples, |m| <CompactBytes>::heap_size(m)),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Intset(s) => s.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis `setTypeIsMember`.
    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Intset(s) => parse_i64(member).is_some_and(|v| s.contains(v)),
            Set::Table(t) => t.contains(member),
        }
    }

    /// [`Set::contains`] for a member of another set, without formatting an
    /// integer when both are intsets.
    pub fn contains_member(&self, member: Member) -> bool {
        match (self, member) {
            (Set::Intset(s), Member::Int(v)) => s.contains(v),
            _ => member.with_bytes(|b| self.contains(b)),
        }
    }

    /// Redis `setTypeAdd`: adds `member`, converting to a hash table for a
    /// non-integer or when the intset grows past `max_intset` entries.
    /// Returns whether it was added.
    pub fn add(&mut self, member: &[u8], max_intset: u64) -> bool {
        self.add_member(Member::Str(member), max_intset)
    }

    /// [`Set::add`] for a member of another set (SUNION, SINTERSTORE, ...):
    /// an integer goes straight into an intset, bytes are parsed as Redis does.
    pub fn add_member(&mut self, member: Member, max_intset: u64) -> bool {
        match self {
            Set::Table(t) => member.with_bytes(|b| t.insert(b.into())),
            Set::Intset(s) => {
                let int = match member {
                    Member::Int(v) => Some(v),
                    Member::Str(b) => parse_i64(b),
                };
                match int {
                    Some(v) => {
                        let added = s.insert(v);
                        if added && s.len() as u64 > max_intset {
                            self.convert(0);
                        }
                        added
                    }
                    None => {
                        self.convert(1);
                        self.add_member(member, max_intset)
                    }
                }
            }
        }
    }

    /// Redis `setTypeConvert` to a hash table, presized for `extra` more members.
    fn convert(&mut self, extra: usize) {
        if let Set::Intset(s) = self {
            let mut table = IndexedDict::with_capacity(s.len() + extra);
            for v in s.iter() {
                table.insert(itoa::Buffer::new().format(v).as_bytes().into());
            }
            *self = Set::Table(Box::new(table));
        }
    }

    /// Redis `setTypeRemove`.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Intset(s) => parse_i64(member).is_some_and(|v| s.remove(v)),
            Set::Table(t) => t.remove(member).is_some(),
        }
    }

    /// [`Set::remove`] for a member of another set.
    pub fn remove_member(&mut self, member: Member) -> bool {
        match (&mut *self, member) {
            (Set::Intset(s), Member::Int(v)) => s.remove(v),
            _ => member.with_bytes(|b| self.remove(b)),
        }
    }

    /// The member at `pos`: intsets in ascending order, tables in slot order.
    pub fn at(&self, pos: usize) -> Option<Member<'_>> {
        match self {
            Set::Intset(s) => s.get(pos).map(Member::Int),
            Set::Table(t) => t.at(pos).map(|m| Member::Str(m)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> {
        (0..self.len()).filter_map(|i| self.at(i))
    }

    /// A uniformly random member (SRANDMEMBER, SPOP without a count).
    pub fn random(&self, rng: &mut impl Rng) -> Option<Member<'_>> {
        match self.len() {
            0 => None,
            n => self.at(rng.gen_range(0..n)),
        }
    }

    /// Removes and returns `count` distinct random members (`count` at most
    /// the size), in random order. An intset is rebuilt once, not shifted per pop.
    pub fn pop_random(&mut self, count: usize, rng: &mut impl Rng) -> Vec<Bytes> {
        let count = count.min(self.len());
        match self {
            Set::Intset(s) => {
                let mut picked = index::sample(rng, s.len(), count).into_vec();
                let popped = picked
                    .iter()
                    .filter_map(|&i| s.get(i))
                    .map(|v| Member::Int(v).to_bytes())
                    .collect();
                picked.sort_unstable();
                s.remove_at(&picked);
                popped
            }
            Set::Table(t) => (0..count)
                .filter_map(|_| {
                    let pos = rng.gen_range(0..t.len());
                    t.remove_at(pos).map(Bytes::from)
                })
                .collect(),
        }
    }

    /// One SSCAN step (see [`IndexedDict::scan`]); an intset is visited
    /// whole and ends the scan, as in Redis.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(Member)) -> u64 {
        match self {
            Set::Intset(s) => {
                s.iter().for_each(|v| visit(Member::Int(v)));
                0
            }
            Set::Table(t) => t.scan(cursor, count, |m| visit(Member::Str(m))),
        }
    }
}

/// Redis `sinterGenericCommand`'s loop: the members of `sets[0]` that every
/// other set has, in `sets[0]`'s order. The caller sorts smallest first.
/// A set compared with itself (the same key twice) is skipped, as in Redis.
pub fn intersection<'a>(sets: &'a [&'a Set]) -> impl Iterator<Item = Member<'a>> + 'a {
    let (first, rest) = match sets.split_first() {
        Some((first, rest)) => (Some(*first), rest),
        None => (None, &[][..]),
    };
    first.into_iter().flat_map(Set::iter).filter(move |&m| {
        rest.iter()
            .all(|s| first.is_some_and(|f| std::ptr::eq(*s, f)) || s.contains_member(m))
    })
}

/// Redis's SUNION: every member of every set, built into a fresh set that
/// starts as an empty intset (so the result's encoding follows its members).
pub fn union(sets: &[Option<&Set>], max_intset: u64) -> Set {
    let mut out = Set::new_intset();
    for set in sets.iter().flatten() {
        for m in set.iter() {
            out.add_member(m, max_intset);
        }
    }
    out
}

/// Redis's SDIFF: the members of the first set found in none of the others,
/// by whichever of Redis's two algorithms it would pick, because they can
/// leave the result in different encodings (algorithm 2 first adds the whole
/// first set, which may turn the result into a table for good).
pub fn difference(sets: &[Option<&Set>], max_intset: u64) -> Set {
    let mut out = Set::new_intset();
    let Some((Some(first), rest)) = sets.split_first() else {
        return out;
    };
    let present = sets.iter().flatten();
    let one_work = first.len().saturating_mul(present.clone().count()) / 2;
    let two_work: usize = present.map(|s| s.len()).sum();
    if one_work <= two_work {
        // Algorithm 1: test each member of the first set against the others.
        // A later set that is the first set itself empties the result.
        for m in first.iter() {
            let elsewhere = rest
                .iter()
                .flatten()
                .any(|s| std::ptr::eq(*s, *first) || s.contains_member(m));
            if !elsewhere {
                out.add_member(m, max_intset);
            }
        }
    } else {
        // Algorithm 2: add the first set, remove every other set's members.
        for m in first.iter() {
            out.add_member(m, max_intset);
        }
        for set in rest.iter().flatten() {
            if out.is_empty() {
                break;
            }
            for m in set.iter() {
                out.remove_member(m);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &Set) -> Vec<Vec<u8>> {
        s.iter().map(|m| m.to_bytes().to_vec()).collect()
    }

    #[test]
    fn intset_stays_sorted_and_widens() {
        let mut s = Intset::default();
        for v in [5, -3, 100, 5] {
            s.insert(v);
        }
        assert_eq!(s.width(), 16);
        assert!(s.insert(70_000));
        assert_eq!(s.width(), 32);
        assert!(s.insert(-5_000_000_000));
        assert_eq!(s.width(), 64);
        assert!(s.insert(i64::MAX) && s.insert(i64::MIN) && s.insert(0));
        let all: Vec<i64> = s.iter().collect();
        assert_eq!(
            all,
            [i64::MIN, -5_000_000_000, -3, 0, 5, 100, 70_000, i64::MAX]
        );
        assert!(s.remove(-3) && !s.remove(-3) && !s.remove(1));
        assert!(s.contains(i64::MIN) && !s.contains(-3));
        assert_eq!(s.width(), 64);

        let mut s = Intset::default();
        s.insert(1);
        s.insert(-40_000);
        assert_eq!(
            (s.width(), s.get(0), s.get(1)),
            (32, Some(-40_000), Some(1))
        );
    }

    #[test]
    fn a_non_integer_or_too_many_members_make_a_table() {
        let mut s = Set::for_member(b"1");
        assert_eq!(s.encoding_name(), "intset");
        for m in [&b"1"[..], b"2", b"3"] {
            s.add(m, 3);
        }
        assert_eq!(s.encoding_name(), "intset");
        assert!(s.add(b"4", 3));
        assert_eq!(s.encoding_name(), "hashtable");
        assert_eq!(s.len(), 4);

        let mut s = Set::for_member(b"1");
        s.add(b"1", 512);
        assert!(s.add(b"01", 512));
        assert_eq!(s.encoding_name(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"01") && !s.contains(b"+1"));
        assert_eq!(Set::for_member(b"-0").encoding_name(), "hashtable");
    }

    #[test]
    fn algebra_follows_redis() {
        let mut a = Set::new_intset();
        let mut b = Set::new_intset();
        for m in [&b"1"[..], b"2", b"3", b"x"] {
            a.add(m, 512);
        }
        for m in [&b"3"[..], b"2", b"9"] {
            b.add(m, 512);
        }
        let both: Vec<_> = intersection(&[&b, &a]).map(|m| m.to_bytes()).collect();
        assert_eq!(both, [&b"2"[..], b"3"]);
        assert_eq!(intersection(&[&a, &a]).count(), 4);
        let u = union(&[Some(&b), None, Some(&b)], 512);
        assert_eq!(
            (u.encoding_name(), members(&u)),
            ("intset", vec![b"2".to_vec(), b"3".to_vec(), b"9".to_vec()])
        );
        let d = difference(&[Some(&a), Some(&b)], 512);
        assert_eq!(d.len(), 2);
        assert!(d.contains(b"1") && d.contains(b"x"));
        assert!(difference(&[Some(&a), None, Some(&a)], 512).is_empty());
        assert!(difference(&[None, Some(&a)], 512).is_empty());

        // A big first set and small others: algorithm 2, whose result keeps
        // the table encoding the whole first set forced on it.
        let (mut big, mut low) = (Set::new_intset(), Set::new_intset());
        for n in 0..600 {
            big.add(n.to_string().as_bytes(), 512);
        }
        for n in 0..200 {
            low.add(n.to_string().as_bytes(), 512);
        }
        let empty = Set::new_intset();
        let d = difference(&[Some(&big), Some(&low), Some(&empty)], 512);
        assert_eq!((d.len(), d.encoding_name()), (400, "hashtable"));
        // Algorithm 1 builds only the result, which fits an intset.
        let d = difference(&[Some(&big), Some(&low)], 512);
        assert_eq!((d.len(), d.encoding_name()), (400, "intset"));
    }

    #[test]
    fn pop_random_removes_what_it_returns() {
        let mut rng = rand::thread_rng();
        for first in [&b"1"[..], b"a"] {
            let mut s = Set::for_member(first);
            for n in 0..100 {
                s.add(n.to_string().as_bytes(), 512);
            }
            let popped = s.pop_random(30, &mut rng);
            assert_eq!((popped.len(), s.len()), (30, 70));
            assert!(popped.iter().all(|m| !s.contains(m)));
            assert_eq!(s.pop_random(1000, &mut rng).len(), 70);
            assert!(s.is_empty());
        }
    }

    #[test]
    fn compact_forms_stay_small() {
        assert!(std::mem::size_of::<Set>() <= 32);
    }
}
