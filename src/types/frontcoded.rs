//! Front-coded runs of byte strings: the interior nodes of a list
//! (issue 22).
//!
//! Neighbouring list elements often share a beginning (`value:1041`,
//! `value:1042`; IDs, paths, JSON with the same first field), so a packed
//! run stores each element as `varint(shared) varint(rest) rest`, where
//! `shared` is how many leading bytes it has in common with the element
//! before it. Every `BLOCK`th element starts a block and shares nothing,
//! and the blocks' byte offsets close the run as little-endian `u16`s, so
//! element `i` is found by decoding at most `BLOCK` elements from its
//! block's start, not all of those before it (LevelDB's restart points).
//! The element count is kept by the caller; the run is walked forwards
//! only.
//!
//! Runs are our own in-memory layout: only decoded elements leave this
//! module. Decoding a malformed run ends early (`None`) instead of panicking.

use super::varint;

/// Elements per block: how many a lookup decodes at most.
const BLOCK: usize = 16;

/// Bytes of the block offsets at the end of a run of `count` elements.
fn table_len(count: usize) -> usize {
    count.div_ceil(BLOCK) * 2
}

/// The front-coded run of `elements`, or `None` if its elements take more
/// than a `u16` offset reaches.
pub fn encode<'a>(elements: impl Iterator<Item = &'a [u8]>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    let mut previous: &[u8] = &[];
    for (i, element) in elements.enumerate() {
        if i % BLOCK == 0 {
            offsets.push(u16::try_from(out.len()).ok()?);
            previous = &[];
        }
        push_element(&mut out, previous, element);
        previous = element;
    }
    u16::try_from(out.len()).ok()?;
    for offset in offsets {
        out.extend_from_slice(&offset.to_le_bytes());
    }
    Some(out)
}

/// How many leading bytes `a` and `b` have in common: what a front-coded
/// string shares with the one before it.
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Appends `element` coded against the one before it in its block
/// (nothing shared at a block's start: `previous` empty).
fn push_element(out: &mut Vec<u8>, previous: &[u8], element: &[u8]) {
    let shared = common_prefix(previous, element);
    varint::push_number(out, shared);
    varint::push_number(out, element.len() - shared);
    out.extend_from_slice(&element[shared..]);
}

/// The run of `count` elements with element `i` replaced by `data`: only
/// its block is coded again, the bytes around it are copied and the
/// offsets after it moved. `None` if `i` is not in the run or the run
/// outgrows `u16` offsets.
pub fn replace(run: &[u8], count: usize, i: usize, data: &[u8]) -> Option<Vec<u8>> {
    let (entries, table) = run.split_at(run.len().checked_sub(table_len(count))?);
    let offset = |block: usize| -> Option<usize> {
        let b = table.get(block * 2..block * 2 + 2)?;
        Some(usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let block = i / BLOCK;
    let start = offset(block)?;
    let end = offset(block + 1).unwrap_or(entries.len());
    let mut old = Decoder {
        entries: entries.get(..end)?,
        pos: start,
        element: Vec::new(),
    };
    let mut elements: Vec<Vec<u8>> = Vec::with_capacity(BLOCK);
    while let Some(element) = old.next_element() {
        elements.push(element.to_vec());
    }
    *elements.get_mut(i % BLOCK)? = data.to_vec();
    let mut out = Vec::with_capacity(run.len() + data.len());
    out.extend_from_slice(&entries[..start]);
    let mut previous: &[u8] = &[];
    for element in &elements {
        push_element(&mut out, previous, element);
        previous = element;
    }
    let moved = out.len();
    out.extend_from_slice(&entries[end..]);
    u16::try_from(out.len()).ok()?;
    for b in 0..table.len() / 2 {
        let at = if b > block {
            offset(b)?.checked_sub(end)? + moved
        } else {
            offset(b)?
        };
        out.extend_from_slice(&u16::try_from(at).ok()?.to_le_bytes());
    }
    Some(out)
}

/// The elements of a run, from one of them towards the end, each decoded
/// into a buffer the decoder owns (so lent until the next call).
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    /// The run's elements, without the block offsets.
    entries: &'a [u8],
    pos: usize,
    element: Vec<u8>,
}

impl<'a> Decoder<'a> {
    /// A decoder over the run `run` of `count` elements whose next
    /// element is element `first` (none if `first` >= `count`).
    pub fn new(run: &'a [u8], count: usize, first: usize) -> Decoder<'a> {
        let split = run.len().saturating_sub(table_len(count));
        let (entries, table) = run.split_at(split);
        let block = table
            .get(first / BLOCK * 2..first / BLOCK * 2 + 2)
            .map_or(entries.len(), |b| {
                usize::from(u16::from_le_bytes([b[0], b[1]]))
            });
        let mut decoder = Decoder {
            entries,
            pos: block,
            element: Vec::new(),
        };
        for _ in 0..first % BLOCK {
            decoder.next_element();
        }
        decoder
    }

    /// Whether the run has no more elements.
    pub fn is_done(&self) -> bool {
        self.pos >= self.entries.len()
    }

    /// The next element, or `None` at the end of the run (or where it
    /// stops making sense: the rest of a malformed run is skipped).
    pub fn next_element(&mut self) -> Option<&[u8]> {
        if self.is_done() {
            return None;
        }
        match self.decode() {
            Some(end) => {
                self.pos = end;
                Some(&self.element)
            }
            None => {
                self.pos = self.entries.len();
                None
            }
        }
    }

    /// Decodes the element at `pos` into `element`; the position after it.
    fn decode(&mut self) -> Option<usize> {
        let (shared, pos) = varint::read_number(self.entries, self.pos)?;
        let (rest, pos) = varint::read_number(self.entries, pos)?;
        let end = pos.checked_add(rest)?;
        let rest = self.entries.get(pos..end)?;
        if shared > self.element.len() {
            return None;
        }
        self.element.truncate(shared);
        self.element.extend_from_slice(rest);
        Some(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(run: &[u8], count: usize, first: usize) -> Vec<Vec<u8>> {
        let mut decoder = Decoder::new(run, count, first);
        let mut out = Vec::new();
        while let Some(e) = decoder.next_element() {
            out.push(e.to_vec());
        }
        out
    }

    #[test]
    fn round_trips_from_every_position() {
        let elements: Vec<Vec<u8>> = (0..100)
            .map(|i| match i % 7 {
                0 => Vec::new(),
                1 => vec![b'x'; 300],
                _ => format!("value:{}", i * 37).into_bytes(),
            })
            .collect();
        let run = encode(elements.iter().map(Vec::as_slice)).expect("small run");
        for first in 0..=elements.len() {
            assert_eq!(decode_all(&run, elements.len(), first), elements[first..]);
        }
    }

    #[test]
    fn shared_beginnings_are_stored_once() {
        let elements: Vec<Vec<u8>> = (1000..1100)
            .map(|i| format!("value:{i}").into_bytes())
            .collect();
        let plain: usize = elements.iter().map(Vec::len).sum();
        let run = encode(elements.iter().map(Vec::as_slice)).expect("small run");
        // 15 elements in 16: one shared count, one length, one digit.
        assert!(run.len() * 5 < plain * 2, "{} of {plain}", run.len());
        assert_eq!(&run[..12], b"\x00\x0avalue:1000");
        assert_eq!(&run[12..15], b"\x09\x011");
    }

    #[test]
    fn replacing_recodes_one_block() {
        let mut elements: Vec<Vec<u8>> = (0..100)
            .map(|i| format!("value:{}", i * 37).into_bytes())
            .collect();
        let mut run = encode(elements.iter().map(Vec::as_slice)).expect("small run");
        for (i, data) in [
            (0, &b""[..]),
            (17, b"value:1"),
            (40, &[b'y'; 200]),
            (99, b"v"),
        ] {
            run = replace(&run, elements.len(), i, data).expect("in the run");
            elements[i] = data.to_vec();
            for first in 0..=elements.len() {
                assert_eq!(decode_all(&run, elements.len(), first), elements[first..]);
            }
        }
        assert!(replace(&run, elements.len(), 100, b"x").is_none());
    }

    #[test]
    fn too_long_for_u16_offsets_is_none() {
        let big = vec![b'x'; 70_000];
        assert!(encode([big.as_slice()].into_iter()).is_none());
        assert!(encode(std::iter::empty()).is_some_and(|run| run.is_empty()));
    }

    #[test]
    fn malformed_runs_end_early() {
        // A shared count longer than the element before it.
        assert_eq!(
            decode_all(b"\x05\x01a\x00\x00", 1, 0),
            Vec::<Vec<u8>>::new()
        );
        // A length past the end.
        assert_eq!(
            decode_all(b"\x00\x09ab\x00\x00", 1, 0),
            Vec::<Vec<u8>>::new()
        );
        assert_eq!(decode_all(b"", 3, 2), Vec::<Vec<u8>>::new());
    }
}
