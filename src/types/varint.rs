//! LEB128 varints and the length-prefixed entries built on them, shared by the
//! compact encodings (list nodes, listpack hashes, listpack sorted sets).
//!
//! Redis's listpack has its own entry headers and integer encodings; clients
//! never see them, so ours are plain LEB128 lengths (7 bits a byte, low bits
//! first, high bit set on every byte but the last). Two entry forms exist:
//! - *prefixed* (hashes): `varint(len) data`, walked forwards only;
//! - *framed* (lists, sorted sets): `varint(len) data reversed-varint(len)`,
//!   the trailing copy standing in for listpack's `backlen` so an encoding can
//!   be walked backwards from any entry boundary.
//!
//! Readers return `None` on truncated or overlong input instead of panicking.

/// The most bytes a `usize` varint takes.
const MAX_LEN: usize = (usize::BITS as usize).div_ceil(7);

/// Bytes of the varint of `n`.
fn len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Writes the varint of `n` into `out`, which is exactly `len(n)` bytes long.
fn write(out: &mut [u8], mut n: usize) {
    debug_assert_eq!(out.len(), len(n));
    for byte in out.iter_mut() {
        *byte = (n & 0x7f) as u8 | if n >= 0x80 { 0x80 } else { 0 };
        n >>= 7;
    }
}

/// Adds one 7-bit group to a value being decoded; `None` if it overflows.
fn add_group(n: usize, byte: u8, shift: u32) -> Option<usize> {
    let part = usize::from(byte & 0x7f);
    if shift >= usize::BITS || (part << shift) >> shift != part {
        return None;
    }
    Some(n | part << shift)
}

/// The varint starting at `pos`, and the position after it.
fn read(buf: &[u8], mut pos: usize) -> Option<(usize, usize)> {
    let (mut n, mut shift) = (0, 0);
    loop {
        let byte = *buf.get(pos)?;
        pos += 1;
        n = add_group(n, byte, shift)?;
        if byte & 0x80 == 0 {
            return Some((n, pos));
        }
        shift += 7;
    }
}

/// The byte-reversed varint ending at `end`, and the position where it starts.
fn read_back(buf: &[u8], mut end: usize) -> Option<(usize, usize)> {
    let (mut n, mut shift) = (0, 0);
    loop {
        end = end.checked_sub(1)?;
        let byte = *buf.get(end)?;
        n = add_group(n, byte, shift)?;
        if byte & 0x80 == 0 {
            return Some((n, end));
        }
        shift += 7;
    }
}

/// Appends the varint of `n` (a bare number: stream ID deltas, counts).
pub fn push_number(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8);
        return;
    }
    let mut head = [0; MAX_LEN];
    let head = &mut head[..len(n)];
    write(head, n);
    out.extend_from_slice(head);
}

/// The varint number at `pos`, and the position after it.
pub fn read_number(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    match buf.get(pos) {
        Some(&byte) if byte < 0x80 => Some((usize::from(byte), pos + 1)),
        _ => read(buf, pos),
    }
}

/// Bytes the varint of the number `n` takes.
pub fn number_len(n: usize) -> usize {
    len(n)
}

/// Writes the varint of `n` at the start of `out`, returning the rest of `out`.
pub fn write_number(out: &mut [u8], n: usize) -> &mut [u8] {
    let (head, rest) = out.split_at_mut(len(n));
    write(head, n);
    rest
}

/// Appends the prefixed entry `varint(len) data`.
pub fn push_prefixed(out: &mut Vec<u8>, data: &[u8]) {
    let start = out.len();
    out.resize(start + prefixed_len(data.len()), 0);
    write_prefixed(&mut out[start..], data);
}

/// Bytes a prefixed entry of `len` data bytes takes.
pub fn prefixed_len(len: usize) -> usize {
    self::len(len) + len
}

/// Writes the prefixed entry for `data` at the start of `out`, returning
/// the rest of `out`.
pub fn write_prefixed<'a>(out: &'a mut [u8], data: &[u8]) -> &'a mut [u8] {
    let (head, rest) = out.split_at_mut(len(data.len()));
    write(head, data.len());
    let (body, rest) = rest.split_at_mut(data.len());
    body.copy_from_slice(data);
    rest
}

/// The data of the prefixed entry at `pos`, and the position after it.
pub fn read_prefixed(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let (n, start) = read(buf, pos)?;
    let end = start.checked_add(n)?;
    Some((buf.get(start..end)?, end))
}

/// Bytes a framed entry of `len` data bytes takes.
pub fn framed_len(len: usize) -> usize {
    2 * self::len(len) + len
}

/// Appends the framed entry for `data`.
pub fn push_framed(out: &mut Vec<u8>, data: &[u8]) {
    if let Ok(len @ 0..0x80) = u8::try_from(data.len()) {
        out.reserve(data.len() + 2);
        out.push(len);
        out.extend_from_slice(data);
        out.push(len);
        return;
    }
    let start = out.len();
    out.resize(start + framed_len(data.len()), 0);
    write_framed(&mut out[start..], data);
}

/// Writes the framed entry for `data` into `out`, exactly `framed_len` long.
pub fn write_framed(out: &mut [u8], data: &[u8]) {
    debug_assert_eq!(out.len(), framed_len(data.len()));
    let (head, rest) = out.split_at_mut(len(data.len()));
    let (body, tail) = rest.split_at_mut(data.len());
    write(head, data.len());
    body.copy_from_slice(data);
    tail.copy_from_slice(head);
    tail.reverse();
}

/// The data of the framed entry starting at `pos`, and the position after it.
pub fn read_framed(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let (data, after) = read_prefixed(buf, pos)?;
    let next = after.checked_add(len(data.len()))?;
    (next <= buf.len()).then_some((data, next))
}

/// The start and data of the framed entry ending at `end`.
pub fn read_framed_back(buf: &[u8], end: usize) -> Option<(usize, &[u8])> {
    let (n, data_end) = read_back(buf, end)?;
    let data_start = data_end.checked_sub(n)?;
    let start = data_start.checked_sub(end - data_end)?;
    Some((start, buf.get(data_start..data_end)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDARIES: [usize; 8] = [0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 1 << 35, usize::MAX];

    fn encoded(n: usize) -> Vec<u8> {
        let mut out = vec![0; len(n)];
        write(&mut out, n);
        out
    }

    #[test]
    fn lengths_at_the_boundaries() {
        let lens: Vec<usize> = BOUNDARIES.iter().map(|&n| len(n)).collect();
        assert_eq!(lens, [1, 1, 1, 2, 2, 3, 6, MAX_LEN]);
        assert_eq!(encoded(0x7f), [0x7f]);
        assert_eq!(encoded(0x80), [0x80, 0x01]);
        assert_eq!(encoded(0x3fff), [0xff, 0x7f]);
        assert_eq!(encoded(0x4000), [0x80, 0x80, 0x01]);
    }

    #[test]
    fn round_trips_forwards_and_backwards() {
        for n in BOUNDARIES {
            let bytes = encoded(n);
            assert_eq!(read(&bytes, 0), Some((n, bytes.len())));
            let mut reversed = bytes.clone();
            reversed.reverse();
            assert_eq!(read_back(&reversed, reversed.len()), Some((n, 0)));
        }
    }

    #[test]
    fn truncated_or_overlong_input_is_none() {
        for n in BOUNDARIES.into_iter().filter(|&n| n >= 0x80) {
            let bytes = encoded(n);
            let cut = &bytes[..bytes.len() - 1];
            assert_eq!(read(cut, 0), None);
            let mut reversed = bytes.clone();
            reversed.reverse();
            assert_eq!(read_back(&reversed[1..], reversed.len() - 1), None);
        }
        assert_eq!(read(&[], 0), None);
        assert_eq!(read(&[1], 5), None);
        assert_eq!(read_back(&[], 0), None);
        assert_eq!(read_back(&[1], 5), None);
        // Eleven groups, or a tenth carrying more than usize's last bit.
        assert_eq!(read(&[0xff; 11], 0), None);
        let mut too_big = [0xff; MAX_LEN];
        too_big[MAX_LEN - 1] = 0x02;
        assert_eq!(read(&too_big, 0), None);
        too_big.reverse();
        assert_eq!(read_back(&too_big, MAX_LEN), None);
    }

    #[test]
    fn prefixed_entries_walk_forwards() {
        let parts: [&[u8]; 4] = [b"", b"field", &[b'v'; 0x80], &[b'w'; 0x4000]];
        let mut buf = Vec::new();
        for part in parts {
            push_prefixed(&mut buf, part);
        }
        assert_eq!(buf.len(), 1 + 6 + 0x82 + 0x4003);
        let mut pos = 0;
        for part in parts {
            let (data, next) = read_prefixed(&buf, pos).expect("entry");
            assert_eq!(data, part);
            pos = next;
        }
        assert_eq!(pos, buf.len());
        assert_eq!(read_prefixed(&buf, pos), None);
        // A length claiming more bytes than the buffer holds.
        assert_eq!(read_prefixed(&[0x05, b'a', b'b'], 0), None);
        assert_eq!(read_prefixed(&[0xff; MAX_LEN], 0), None);
    }

    #[test]
    fn framed_entries_walk_both_ways() {
        let parts: Vec<Vec<u8>> = [0, 1, 0x7f, 0x80, 0x3fff, 0x4000]
            .iter()
            .map(|&n| vec![b'x'; n])
            .collect();
        let mut buf = Vec::new();
        let mut starts = Vec::new();
        for part in &parts {
            starts.push(buf.len());
            let at = buf.len();
            buf.resize(at + framed_len(part.len()), 0);
            write_framed(&mut buf[at..], part);
        }
        assert_eq!(framed_len(0x80), 0x84);
        assert_eq!(&buf[starts[3]..starts[3] + 2], [0x80, 0x01]);
        assert_eq!(&buf[starts[4] - 2..starts[4]], [0x01, 0x80]);

        let mut pos = 0;
        for (part, &start) in parts.iter().zip(&starts) {
            assert_eq!(pos, start);
            let (data, next) = read_framed(&buf, pos).expect("entry");
            assert_eq!(data, &part[..]);
            pos = next;
        }
        assert_eq!(read_framed(&buf, pos), None);

        let mut end = buf.len();
        for (part, &start) in parts.iter().zip(&starts).rev() {
            let (at, data) = read_framed_back(&buf, end).expect("entry");
            assert_eq!((at, data), (start, &part[..]));
            end = at;
        }
        assert_eq!(read_framed_back(&buf, 0), None);
    }

    #[test]
    fn truncated_framed_entries_are_none() {
        let mut buf = vec![0; framed_len(3)];
        write_framed(&mut buf, b"abc");
        assert_eq!(buf, [3, b'a', b'b', b'c', 3]);
        assert_eq!(read_framed(&buf[..4], 0), None);
        assert_eq!(read_framed_back(&buf[1..], 4), None);
        assert_eq!(read_framed_back(&[9, 9], 2), None);
    }
}
