//! Redis's listpack (listpack.c) as bytes: written from elements for the
//! RDB file and DUMP (our in-memory packed nodes use another layout, see
//! `types/list.rs`), and read back with every check Redis's deep
//! `lpValidateIntegrity` makes. Also the older packed forms Redis 7.0 still
//! loads: ziplist, zipmap and intset.

use crate::number::{format_double, parse_i64};

/// The end-of-listpack byte.
const EOF: u8 = 0xFF;
/// The header: total bytes (u32 LE) and element count (u16 LE).
const HEADER: usize = 6;
/// The element count stored when it does not fit in 16 bits.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// One element read from a packed encoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Item<'_> {
    /// The element as the string Redis would give back.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Item::Str(s) => s.to_vec(),
            Item::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
        }
    }
}

/// Redis's `d2string`: a score as the text a listpack stores (integers
/// without a decimal point, then `%.17g`).
pub fn score_text(score: f64, out: &mut Vec<u8>) {
    out.clear();
    if score.is_nan() {
        out.extend_from_slice(b"nan");
    } else if score.is_infinite() {
        out.extend_from_slice(if score < 0.0 { b"-inf" } else { b"inf" });
    } else if score == 0.0 {
        out.extend_from_slice(if score.is_sign_negative() {
            b"-0"
        } else {
            b"0"
        });
    } else if (-(i64::MAX / 2) as f64..=(i64::MAX / 2) as f64).contains(&score)
        && (score as i64) as f64 == score
    {
        out.extend_from_slice(itoa::Buffer::new().format(score as i64).as_bytes());
    } else {
        format_double(score, out);
    }
}

/// The bytes one element takes in a listpack: its encoding, data and
/// back length (`lpEncodeGetType` + `lpEncodeBacklen`). Lists size their
/// nodes by it, as Redis's quicklist sizes nodes by `lpBytes`.
pub fn entry_size(element: &[u8]) -> usize {
    let encoded = match parse_i64(element) {
        Some(v) if (0..=127).contains(&v) => 1,
        Some(v) if (-4096..=4095).contains(&v) => 2,
        Some(v) if i16::try_from(v).is_ok() => 3,
        Some(v) if (-(1 << 23)..1 << 23).contains(&v) => 4,
        Some(v) if i32::try_from(v).is_ok() => 5,
        Some(_) => 9,
        None => {
            let len = element.len();
            len + match len {
                0..64 => 1,
                64..4096 => 2,
                _ => 5,
            }
        }
    };
    encoded + backlen_size(encoded)
}

/// The header and terminator of every listpack.
pub const OVERHEAD: usize = HEADER + 1;

/// A listpack being built, element by element (`lpAppend`).
pub struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            buf: vec![0; HEADER],
            count: 0,
        }
    }
}

impl Builder {
    /// Appends a string, stored as an integer when it is a canonical one
    /// (`lpEncodeGetType`).
    pub fn push(&mut self, element: &[u8]) {
        let start = self.buf.len();
        match parse_i64(element) {
            Some(v) => self.int(v),
            None => {
                let len = element.len();
                if len < 64 {
                    self.buf.push(0x80 | len as u8);
                } else if len < 4096 {
                    self.buf
                        .extend_from_slice(&[0xE0 | (len >> 8) as u8, len as u8]);
                } else {
                    self.buf.push(0xF0);
                    self.buf.extend_from_slice(&(len as u32).to_le_bytes());
                }
                self.buf.extend_from_slice(element);
            }
        }
        let encoded = self.buf.len() - start;
        backlen(encoded, &mut self.buf);
        debug_assert_eq!(self.buf.len() - start, entry_size(element));
        self.count += 1;
    }

    /// Appends an integer (`lpAppendInteger`), as pushing its decimal
    /// text would.
    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        self.int(v);
        let encoded = self.buf.len() - start;
        backlen(encoded, &mut self.buf);
        self.count += 1;
    }

    /// `lpEncodeIntegerGetType`.
    fn int(&mut self, v: i64) {
        let buf = &mut self.buf;
        if (0..=127).contains(&v) {
            buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1FFF;
            buf.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
        } else if i16::try_from(v).is_ok() {
            buf.push(0xF1);
            buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1 << 23)..1 << 23).contains(&v) {
            buf.push(0xF2);
            buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if i32::try_from(v).is_ok() {
            buf.push(0xF3);
            buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            buf.push(0xF4);
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// The finished listpack.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// `lpEncodeBacklen`: the entry's encoded size, 7 bits a byte, read from
/// the end backwards.
fn backlen(l: usize, out: &mut Vec<u8>) {
    let l = l as u64;
    if l <= 127 {
        out.push(l as u8);
    } else if l < 16383 {
        out.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
    } else if l < 2097151 {
        out.extend_from_slice(&[
            (l >> 14) as u8,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    } else if l < 268435455 {
        out.extend_from_slice(&[
            (l >> 21) as u8,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    } else {
        out.extend_from_slice(&[
            (l >> 28) as u8,
            ((l >> 21) & 127) as u8 | 128,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    }
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Sign-extends the low `bits` bits of `u`.
fn signed(u: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((u << shift) as i64) >> shift
}

fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// Every element of a listpack, validated as Redis's deep check does:
/// header size and terminator, each entry's encoding, length and back
/// length inside the blob, and the header's count. `None` if corrupt.
pub fn read(lp: &[u8]) -> Option<Vec<Item<'_>>> {
    if lp.len() < HEADER + 1 || le(&lp[..4]) != lp.len() as u64 || lp[lp.len() - 1] != EOF {
        return None;
    }
    let declared = le(&lp[4..6]) as u16;
    let end = lp.len() - 1;
    let mut items = Vec::with_capacity(usize::from(declared).min(end / 2));
    let mut p = HEADER;
    while p < end {
        let b = lp[p];
        let (item, encoded) = if b & 0x80 == 0 {
            (Item::Int(i64::from(b)), 1)
        } else if b & 0xC0 == 0x80 {
            let len = usize::from(b & 0x3F);
            (Item::Str(lp.get(p + 1..p + 1 + len)?), 1 + len)
        } else if b & 0xE0 == 0xC0 {
            let u = (u64::from(b & 0x1F) << 8) | u64::from(*lp.get(p + 1)?);
            (Item::Int(signed(u, 13)), 2)
        } else if b & 0xF0 == 0xE0 {
            let len = (usize::from(b & 0x0F) << 8) | usize::from(*lp.get(p + 1)?);
            (Item::Str(lp.get(p + 2..p + 2 + len)?), 2 + len)
        } else {
            match b {
                0xF0 => {
                    let len = le(lp.get(p + 1..p + 5)?) as usize;
                    let data = lp.get(p + 5..p.checked_add(5)?.checked_add(len)?)?;
                    (Item::Str(data), 5 + len)
                }
                0xF1 => (Item::Int(signed(le(lp.get(p + 1..p + 3)?), 16)), 3),
                0xF2 => (Item::Int(signed(le(lp.get(p + 1..p + 4)?), 24)), 4),
                0xF3 => (Item::Int(signed(le(lp.get(p + 1..p + 5)?), 32)), 5),
                0xF4 => (Item::Int(le(lp.get(p + 1..p + 9)?) as i64), 9),
                _ => return None,
            }
        };
        let blen = backlen_size(encoded);
        let back = lp.get(p + encoded..p + encoded + blen)?;
        let mut expected = Vec::with_capacity(5);
        backlen(encoded, &mut expected);
        if back != expected.as_slice() {
            return None;
        }
        p += encoded + blen;
        if p > end {
            return None;
        }
        items.push(item);
    }
    if declared != COUNT_UNKNOWN && usize::from(declared) != items.len() {
        return None;
    }
    Some(items)
}

/// Every element of a ziplist (Redis before 7.0), validated: header size,
/// each entry's prevlen, encoding and bounds, the tail offset, the count
/// (unless it is the 65535 "unknown") and the terminator.
pub fn read_ziplist(zl: &[u8]) -> Option<Vec<Item<'_>>> {
    const ZL_HEADER: usize = 10;
    if zl.len() < ZL_HEADER + 1 || le(&zl[..4]) != zl.len() as u64 || zl[zl.len() - 1] != EOF {
        return None;
    }
    let tail = le(&zl[4..8]) as usize;
    let declared = le(&zl[8..10]) as u16;
    let end = zl.len() - 1;
    let mut items = Vec::new();
    let mut p = ZL_HEADER;
    let mut prev_len = 0usize;
    let mut last_start = ZL_HEADER;
    while p < end {
        let start = p;
        let (prev, prev_size) = if zl[p] < 254 {
            (usize::from(zl[p]), 1)
        } else if zl[p] == 254 {
            (le(zl.get(p + 1..p + 5)?) as usize, 5)
        } else {
            return None;
        };
        if prev != prev_len {
            return None;
        }
        p += prev_size;
        let b = *zl.get(p)?;
        let (item, size) = match b >> 6 {
            0 => {
                let len = usize::from(b & 0x3F);
                (Item::Str(zl.get(p + 1..p + 1 + len)?), 1 + len)
            }
            1 => {
                let len = (usize::from(b & 0x3F) << 8) | usize::from(*zl.get(p + 1)?);
                (Item::Str(zl.get(p + 2..p + 2 + len)?), 2 + len)
            }
            2 => {
                let bytes = zl.get(p + 1..p + 5)?;
                let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
                let data = zl.get(p + 5..p.checked_add(5)?.checked_add(len)?)?;
                (Item::Str(data), 5 + len)
            }
            _ => match b {
                0xC0 => (Item::Int(signed(le(zl.get(p + 1..p + 3)?), 16)), 3),
                0xD0 => (Item::Int(signed(le(zl.get(p + 1..p + 5)?), 32)), 5),
                0xE0 => (Item::Int(le(zl.get(p + 1..p + 9)?) as i64), 9),
                0xF0 => (Item::Int(signed(le(zl.get(p + 1..p + 4)?), 24)), 4),
                0xFE => (Item::Int(signed(le(zl.get(p + 1..p + 2)?), 8)), 2),
                0xF1..=0xFD => (Item::Int(i64::from(b & 0x0F) - 1), 1),
                _ => return None,
            },
        };
        p += size;
        if p > end {
            return None;
        }
        prev_len = p - start;
        last_start = start;
        items.push(item);
    }
    let expected_tail = if items.is_empty() {
        ZL_HEADER
    } else {
        last_start
    };
    if tail != expected_tail || (declared != u16::MAX && usize::from(declared) != items.len()) {
        return None;
    }
    Some(items)
}

/// The field/value pairs of a zipmap (hashes before Redis 2.6), validated.
pub fn read_zipmap(zm: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    fn length(zm: &[u8], p: &mut usize) -> Option<usize> {
        let b = *zm.get(*p)?;
        *p += 1;
        match b {
            0..=253 => Some(usize::from(b)),
            254 => {
                let len = le(zm.get(*p..*p + 4)?) as usize;
                *p += 4;
                Some(len)
            }
            _ => None,
        }
    }
    let mut p = 1;
    let mut pairs = Vec::new();
    loop {
        if *zm.get(p)? == EOF {
            break;
        }
        let flen = length(zm, &mut p)?;
        let field = zm.get(p..p.checked_add(flen)?)?;
        p += flen;
        let vlen = length(zm, &mut p)?;
        let free = usize::from(*zm.get(p)?);
        p += 1;
        let value = zm.get(p..p.checked_add(vlen)?)?;
        p += vlen + free;
        pairs.push((field, value));
    }
    (p == zm.len() - 1).then_some(pairs)
}

/// The members of an intset blob, validated: a known width, the declared
/// length matching the size, strictly ascending.
pub fn read_intset(blob: &[u8]) -> Option<Vec<i64>> {
    if blob.len() < 8 {
        return None;
    }
    let width = le(&blob[..4]) as usize;
    let len = le(&blob[4..8]) as usize;
    if !matches!(width, 2 | 4 | 8) || len == 0 || blob.len() - 8 != len.checked_mul(width)? {
        return None;
    }
    let members: Vec<i64> = blob[8..]
        .chunks_exact(width)
        .map(|c| signed(le(c), (width * 8) as u32))
        .collect();
    members.windows(2).all(|w| w[0] < w[1]).then_some(members)
}

/// An intset blob of these ascending members, `width` bytes each (Redis
/// never narrows an intset, so the width is the set's, not the members').
pub fn write_intset(members: &[i64], width: usize) -> Vec<u8> {
    let mut blob = Vec::with_capacity(8 + members.len() * width);
    blob.extend_from_slice(&(width as u32).to_le_bytes());
    blob.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for v in members {
        blob.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    blob
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpacks_round_trip() {
        let elements: Vec<Vec<u8>> = vec![
            b"1".to_vec(),
            b"-1".to_vec(),
            b"300".to_vec(),
            b"-40000".to_vec(),
            b"5000000".to_vec(),
            b"3000000000".to_vec(),
            b"9223372036854775807".to_vec(),
            b"hello".to_vec(),
            vec![b'x'; 100],
            vec![b'y'; 5000],
            b"007".to_vec(),
        ];
        let mut b = Builder::default();
        for e in &elements {
            b.push(e);
        }
        let lp = b.finish();
        let read: Vec<Vec<u8>> = read(&lp)
            .expect("valid")
            .into_iter()
            .map(Item::to_vec)
            .collect();
        assert_eq!(read, elements);
        for cut in 0..lp.len() {
            assert!(read_truncated(&lp[..cut]));
        }
    }

    fn read_truncated(lp: &[u8]) -> bool {
        read(lp).is_none()
    }

    #[test]
    fn redis_listpack_bytes() {
        // HSET h a 1 on Redis 7.0: DUMP's listpack.
        let mut b = Builder::default();
        b.push(b"a");
        b.push(b"1");
        assert_eq!(b.finish(), [12, 0, 0, 0, 2, 0, 0x81, b'a', 2, 1, 1, 0xFF]);
    }

    #[test]
    fn scores_as_redis_writes_them() {
        let mut out = Vec::new();
        for (s, text) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (0.1, "0.10000000000000001"),
        ] {
            score_text(s, &mut out);
            assert_eq!(out, text.as_bytes());
        }
    }

    #[test]
    fn intsets() {
        let blob = write_intset(&[1, 70000], 4);
        assert_eq!(blob.len(), 8 + 8);
        assert_eq!(read_intset(&blob), Some(vec![1, 70000]));
        assert_eq!(read_intset(&write_intset(&[2, 1], 2)), None);
    }
}
