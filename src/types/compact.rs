//! Byte strings that live inside the structure holding them when short:
//! keyspace keys, set members, hash fields and values, sorted-set members.
//!
//! A `Box<[u8]>` costs 16 bytes plus a heap chunk (16 bytes at least, with
//! jemalloc's classes) and a cache miss to read; members and fields are
//! short as a rule (`member:123`, `user:1000`), so holding them inline
//! halves their cost and saves the miss. Longer ones go to the heap.

use bytes::Bytes;

use super::memory::bytes_size;

/// A byte string of up to `N` bytes inline, longer ones on the heap: with
/// the default [`INLINE`], 24 bytes either way.
#[derive(Clone)]
pub struct CompactBytes<const N: usize = INLINE>(Repr<N>);

/// Longest string held inline by default: what fits in a `Box<[u8]>`'s 16
/// bytes, the tag's padding and a length byte.
pub const INLINE: usize = 22;

#[derive(Clone)]
enum Repr<const N: usize> {
    Inline { len: u8, bytes: [u8; N] },
    Heap(Box<[u8]>),
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<CompactBytes>() == 24 && size_of::<CompactPair>() == 32);

/// The empty string.
impl<const N: usize> Default for CompactBytes<N> {
    fn default() -> CompactBytes<N> {
        CompactBytes(Repr::Inline {
            len: 0,
            bytes: [0; N],
        })
    }
}

impl<const N: usize> CompactBytes<N> {
    /// MEMORY USAGE: the heap bytes a string of these bytes takes (none inline).
    pub fn heap_size(bytes: &[u8]) -> usize {
        if bytes.len() > N {
            bytes_size(bytes)
        } else {
            0
        }
    }
}

impl<const N: usize> From<&[u8]> for CompactBytes<N> {
    fn from(data: &[u8]) -> CompactBytes<N> {
        let mut bytes = [0; N];
        CompactBytes(match bytes.get_mut(..data.len()) {
            Some(inline) => {
                inline.copy_from_slice(data);
                Repr::Inline {
                    len: data.len() as u8,
                    bytes,
                }
            }
            None => Repr::Heap(data.into()),
        })
    }
}

impl<const N: usize> From<CompactBytes<N>> for Bytes {
    fn from(s: CompactBytes<N>) -> Bytes {
        match s.0 {
            Repr::Inline { .. } => Bytes::copy_from_slice(&s),
            Repr::Heap(bytes) => Bytes::from(bytes),
        }
    }
}

impl<const N: usize> std::ops::Deref for CompactBytes<N> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..*len as usize],
            Repr::Heap(bytes) => bytes,
        }
    }
}

impl<const N: usize> std::borrow::Borrow<[u8]> for CompactBytes<N> {
    fn borrow(&self) -> &[u8] {
        self
    }
}

/// Hashes as the bytes do, so maps keyed by it can be looked up by `&[u8]`.
impl<const N: usize> std::hash::Hash for CompactBytes<N> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl<const N: usize> PartialEq for CompactBytes<N> {
    fn eq(&self, other: &CompactBytes<N>) -> bool {
        **self == **other
    }
}

impl<const N: usize> Eq for CompactBytes<N> {}

impl<const N: usize> std::fmt::Debug for CompactBytes<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self))
    }
}

/// Two byte strings (a hash's field and value) in 32 bytes: inline while
/// together they take up to [`PAIR_INLINE`] bytes, else both in one heap
/// allocation (one chunk where two `Box<[u8]>` would take two).
#[derive(Clone)]
pub struct CompactPair(PairRepr);

/// Longest field + value held inline: 32 bytes less the tag and two lengths.
pub const PAIR_INLINE: usize = 29;

#[derive(Clone)]
enum PairRepr {
    Inline {
        first: u8,
        second: u8,
        bytes: [u8; PAIR_INLINE],
    },
    /// `bytes` is the first string then the second.
    Heap { first: usize, bytes: Box<[u8]> },
}

impl CompactPair {
    pub fn new(first: &[u8], second: &[u8]) -> CompactPair {
        let total = first.len() + second.len();
        let mut bytes = [0; PAIR_INLINE];
        CompactPair(match bytes.get_mut(..total) {
            Some(inline) => {
                let (a, b) = inline.split_at_mut(first.len());
                a.copy_from_slice(first);
                b.copy_from_slice(second);
                PairRepr::Inline {
                    first: first.len() as u8,
                    second: second.len() as u8,
                    bytes,
                }
            }
            None => PairRepr::Heap {
                first: first.len(),
                bytes: [first, second].concat().into_boxed_slice(),
            },
        })
    }

    /// Both strings.
    pub fn parts(&self) -> (&[u8], &[u8]) {
        match &self.0 {
            PairRepr::Inline {
                first,
                second,
                bytes,
            } => {
                let (a, rest) = bytes.split_at(*first as usize);
                (a, &rest[..*second as usize])
            }
            PairRepr::Heap { first, bytes } => bytes.split_at(*first),
        }
    }

    pub fn first(&self) -> &[u8] {
        self.parts().0
    }

    pub fn second(&self) -> &[u8] {
        self.parts().1
    }

    /// Replaces the second string (a hash field's new value). A value of
    /// the same length is overwritten in place.
    pub fn set_second(&mut self, second: &[u8]) {
        match &mut self.0 {
            PairRepr::Inline {
                first,
                second: len,
                bytes,
            } if *len as usize == second.len() => {
                let start = *first as usize;
                bytes[start..start + second.len()].copy_from_slice(second);
            }
            PairRepr::Heap { first, bytes } if bytes.len() - *first == second.len() => {
                bytes[*first..].copy_from_slice(second);
            }
            _ => *self = CompactPair::new(self.first(), second),
        }
    }

    /// MEMORY USAGE: the pair's heap bytes (none inline).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            PairRepr::Inline { .. } => 0,
            PairRepr::Heap { bytes, .. } => bytes_size(bytes),
        }
    }
}

impl std::fmt::Debug for CompactPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b) = self.parts();
        write!(
            f,
            "({:?}, {:?})",
            Bytes::copy_from_slice(a),
            Bytes::copy_from_slice(b)
        )
    }
}

/// The bytes of a compact collection (a small hash's or sorted set's
/// listpack, an intset) and a count the collection keeps beside them (its
/// entries, or an intset's element width), in 32 bytes: inline up to
/// [`PACKED_INLINE`] bytes, else one exactly sized heap chunk. Small
/// collections are the common case (1M hashes of 2 fields, sets of 5
/// integers): held inline, one costs no allocation of its own (a 32-byte
/// chunk each before), and a `Value` is still 40 bytes.
///
/// The small methods are `#[inline]`: the type is not generic, so without
/// it each read of a listpack from another module would be a call.
#[derive(Clone, Debug)]
pub struct PackedBytes(PackedRepr);

/// Longest byte string held inline: 32 bytes less the tag, length and count.
pub const PACKED_INLINE: usize = 29;

#[derive(Clone, Debug)]
enum PackedRepr {
    /// The count fits a byte while inline: a count over 255 moves the bytes
    /// to the heap (none of the users gets there in 29 bytes).
    Inline {
        len: u8,
        count: u8,
        bytes: [u8; PACKED_INLINE],
    },
    Heap {
        bytes: Box<[u8]>,
        count: usize,
    },
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(size_of::<PackedBytes>() == 32);

/// No bytes, a count of 0.
impl Default for PackedBytes {
    fn default() -> PackedBytes {
        PackedBytes(PackedRepr::Inline {
            len: 0,
            count: 0,
            bytes: [0; PACKED_INLINE],
        })
    }
}

impl PackedBytes {
    /// `bytes` with `count`.
    #[inline]
    pub fn new(bytes: &[u8], count: usize) -> PackedBytes {
        let mut packed = PackedBytes::default();
        packed.set_count(count);
        packed.splice(0..0, bytes);
        packed
    }

    #[inline]
    pub fn count(&self) -> usize {
        match &self.0 {
            PackedRepr::Inline { count, .. } => usize::from(*count),
            PackedRepr::Heap { count, .. } => *count,
        }
    }

    #[inline]
    pub fn set_count(&mut self, new: usize) {
        match &mut self.0 {
            PackedRepr::Inline { count, .. } if new <= usize::from(u8::MAX) => *count = new as u8,
            PackedRepr::Inline { .. } => {
                let bytes = self.to_vec().into_boxed_slice();
                self.0 = PackedRepr::Heap { bytes, count: new };
            }
            PackedRepr::Heap { count, .. } => *count = new,
        }
    }

    /// Replaces `range` of the bytes with `with`; see [`PackedBytes::replace`].
    #[inline]
    pub fn splice(&mut self, range: std::ops::Range<usize>, with: &[u8]) {
        self.replace(range, with.len(), |gap| gap.copy_from_slice(with));
    }

    /// Replaces `range` of the bytes with `len` bytes that `fill` writes (it
    /// gets them zeroed), keeping the buffer exactly sized as Redis
    /// reallocates a listpack or intset on every change: inline when the
    /// result fits, else on the heap, reallocated in place where it was.
    /// Panics if `range` is out of bounds, as slicing does.
    pub fn replace(
        &mut self,
        range: std::ops::Range<usize>,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) {
        let old_len = self.len();
        let (start, end) = (range.start, range.end);
        let new_len = old_len - (end - start) + len;
        let count = self.count();
        if new_len <= PACKED_INLINE && count <= usize::from(u8::MAX) {
            let mut bytes = [0; PACKED_INLINE];
            bytes[..start].copy_from_slice(&self[..start]);
            bytes[start + len..new_len].copy_from_slice(&self[end..]);
            fill(&mut bytes[start..start + len]);
            self.0 = PackedRepr::Inline {
                len: new_len as u8,
                count: count as u8,
                bytes,
            };
            return;
        }
        let mut buf = match std::mem::take(self).0 {
            PackedRepr::Heap { bytes, .. } => bytes.into_vec(),
            PackedRepr::Inline { len, bytes, .. } => {
                let mut buf = Vec::with_capacity(new_len);
                buf.extend_from_slice(&bytes[..usize::from(len)]);
                buf
            }
        };
        if new_len > old_len {
            buf.reserve_exact(new_len - old_len);
            buf.resize(new_len, 0);
        }
        buf.copy_within(end..old_len, start + len);
        buf.truncate(new_len);
        let gap = &mut buf[start..start + len];
        gap.fill(0);
        fill(gap);
        self.0 = PackedRepr::Heap {
            bytes: buf.into_boxed_slice(),
            count,
        };
    }

    /// MEMORY USAGE: the heap bytes (none inline).
    #[inline]
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            PackedRepr::Inline { .. } => 0,
            PackedRepr::Heap { bytes, .. } => bytes_size(bytes),
        }
    }
}

impl std::ops::Deref for PackedBytes {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match &self.0 {
            PackedRepr::Inline { len, bytes, .. } => &bytes[..usize::from(*len)],
            PackedRepr::Heap { bytes, .. } => bytes,
        }
    }
}

/// In-place changes of the same length (a hash value overwritten).
impl std::ops::DerefMut for PackedBytes {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            PackedRepr::Inline { len, bytes, .. } => &mut bytes[..usize::from(*len)],
            PackedRepr::Heap { bytes, .. } => bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_of_every_length_read_back() {
        for len in [0, 1, INLINE - 1, INLINE, INLINE + 1, 300] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let s = CompactBytes::<INLINE>::from(&data[..]);
            assert_eq!(&*s, &data[..]);
            assert_eq!(CompactBytes::<INLINE>::heap_size(&data) > 0, len > INLINE);
            assert_eq!(Bytes::from(s.clone()), data);
        }
    }

    #[test]
    fn pairs_split_where_they_were_joined_and_update_in_place_or_not() {
        let lens = [0, 1, 13, PAIR_INLINE - 1, PAIR_INLINE, PAIR_INLINE + 1, 200];
        for a in lens {
            for b in lens {
                let first = vec![b'f'; a];
                let second = vec![b's'; b];
                let mut p = CompactPair::new(&first, &second);
                assert_eq!(p.parts(), (&first[..], &second[..]));
                assert_eq!(p.heap_size() > 0, a + b > PAIR_INLINE);
                for c in lens {
                    let new = vec![b'n'; c];
                    p.set_second(&new);
                    assert_eq!((p.first(), p.second()), (&first[..], &new[..]));
                    assert_eq!(p.heap_size() > 0, a + c > PAIR_INLINE);
                }
            }
        }
    }

    #[test]
    fn packed_bytes_splice_across_the_inline_limit_and_keep_their_count() {
        let mut p = PackedBytes::new(b"abc", 7);
        let mut want = b"abc".to_vec();
        for step in 0..40u8 {
            let at = usize::from(step) % (want.len() + 1);
            let with = vec![step; usize::from(step % 3)];
            p.splice(at..at, &with);
            want.splice(at..at, with);
            if step % 4 == 3 {
                let end = (at + 2).min(want.len());
                p.splice(at..end, &[]);
                want.drain(at..end);
            }
            assert_eq!(&*p, &want[..]);
            assert_eq!(p.heap_size() > 0, want.len() > PACKED_INLINE, "{step}");
            assert_eq!(p.count(), 7);
        }
        while !want.is_empty() {
            p.splice(0..1, &[]);
            want.remove(0);
            assert_eq!(&*p, &want[..]);
        }
        assert_eq!(p.heap_size(), 0);
        p.set_count(300);
        p.splice(0..0, b"x");
        assert_eq!((p.count(), &*p), (300, &b"x"[..]));
        p[0] = b'y';
        p.set_count(3);
        assert_eq!((p.count(), &*p), (3, &b"y"[..]));
    }
}
