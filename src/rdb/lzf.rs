//! LZF as Redis ships it (liblzf 3.6 with `HLOG 16`, `VERY_FAST`): strings
//! in an RDB file or a DUMP payload are compressed with it, and DUMP must be
//! byte-identical to Redis's, so the compressor makes exactly Redis's
//! choices (hash, match search, re-hashing after a match). The `lzf` crate
//! differs from liblzf near the end of the input, hence our own.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

fn first(data: &[u8], i: usize) -> u32 {
    (u32::from(data[i]) << 8) | u32::from(data[i + 1])
}

fn next(v: u32, data: &[u8], i: usize) -> u32 {
    (v << 8) | u32::from(data[i + 2])
}

/// liblzf's `IDX` with `VERY_FAST`.
fn idx(h: u32) -> usize {
    ((h >> (24 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Copies one literal byte, closing the run at `MAX_LIT` (its control
/// byte, reserved before the run, gets the run's length - 1).
fn literal(out: &mut [u8], op: &mut usize, lit: &mut usize, byte: u8) {
    *lit += 1;
    out[*op] = byte;
    *op += 1;
    if *lit == MAX_LIT {
        out[*op - *lit - 1] = (*lit as u8).wrapping_sub(1);
        *lit = 0;
        *op += 1;
    }
}

thread_local! {
    /// Offsets of the last position seen per hash (0: none, as position 0
    /// can never be a back reference: liblzf requires `ref > in_data`),
    /// all 0 between calls. One per thread, kept: allocating and zeroing
    /// 256 KB per string was most of a snapshot's CPU time.
    static HTAB: std::cell::RefCell<Vec<u32>> = std::cell::RefCell::new(vec![0; HSIZE]);
}

/// `lzf_compress(data, out_len)`: the compressed bytes, or `None` when
/// they would not fit in `out_len` bytes (Redis asks for at most `len - 4`).
/// Inputs over 4 GB are not compressed (liblzf's lengths and offsets are
/// 32-bit).
pub fn compress(data: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let in_len = data.len();
    if in_len < 3 || out_len == 0 || u32::try_from(in_len).is_err() {
        // liblzf reads two bytes ahead; Redis never compresses under 21.
        return None;
    }
    HTAB.with(|htab| {
        let mut htab = htab.borrow_mut();
        let packed = compress_with(&mut htab, data, out_len);
        clear(&mut htab, data);
        packed
    })
}

/// Puts `htab` back to all 0 after compressing `data`. The slot written for
/// a position is the hash of its three bytes (just after a back reference,
/// or at the start) or of those and the byte before (`next` keeps it in
/// the hash's top byte), so a short input clears just those two slots.
fn clear(htab: &mut [u32], data: &[u8]) {
    if data.len() >= HSIZE / 8 {
        htab.fill(0);
        return;
    }
    let mut hval = first(data, 0);
    for ip in 0..data.len() - 2 {
        hval = next(hval, data, ip);
        htab[idx(hval)] = 0;
        htab[idx(next(first(data, ip), data, ip))] = 0;
    }
}

/// [`compress`] with `htab` all 0 on entry (left dirty).
fn compress_with(htab: &mut [u32], data: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let in_len = data.len();
    let mut out = vec![0u8; out_len];
    let mut op = 1usize; // start run
    let mut lit = 0usize;
    let mut ip = 0usize;
    let mut hval = first(data, ip);
    while ip < in_len - 2 {
        hval = next(hval, data, ip);
        let slot = idx(hval);
        let reference = htab[slot] as usize;
        htab[slot] = ip as u32;
        let off = ip.wrapping_sub(reference).wrapping_sub(1);
        if reference > 0
            && off < MAX_OFF
            && data[reference + 2] == data[ip + 2]
            && data[reference] == data[ip]
            && data[reference + 1] == data[ip + 1]
        {
            let mut len = 2;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            let lit_flag = usize::from(lit == 0);
            if op + 3 + 1 >= out_len && op - lit_flag + 3 + 1 >= out_len {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            op -= lit_flag; // undo run if length is zero
                            // liblzf first compares 16 bytes unrolled, without the
                            // `maxlen` check (a match may end up to 2 bytes past it).
            let mut matched = true;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if data[reference + len] != data[ip + len] {
                        matched = false;
                        break;
                    }
                }
            }
            if matched {
                loop {
                    len += 1;
                    if len >= maxlen || data[reference + len] != data[ip + len] {
                        break;
                    }
                }
            }
            len -= 2; // len is now #octets - 1
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 2; // the byte plus the start of the next run
            lit = 0;
            ip += len + 1;
            if ip >= in_len - 2 {
                break;
            }
            ip -= 2;
            hval = first(data, ip);
            hval = next(hval, data, ip);
            htab[idx(hval)] = ip as u32;
            ip += 1;
            hval = next(hval, data, ip);
            htab[idx(hval)] = ip as u32;
            ip += 1;
        } else {
            if op >= out_len {
                return None;
            }
            literal(&mut out, &mut op, &mut lit, data[ip]);
            ip += 1;
        }
    }
    if op + 3 > out_len {
        return None;
    }
    while ip < in_len {
        literal(&mut out, &mut op, &mut lit, data[ip]);
        ip += 1;
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1); // end run
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(out)
}

/// `lzf_decompress` into exactly `out_len` bytes; `None` if the data is
/// malformed or does not decompress to that length.
pub fn decompress(data: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < data.len() {
        let ctrl = usize::from(data[ip]);
        ip += 1;
        if ctrl < 32 {
            let len = ctrl + 1;
            let literal = data.get(ip..ip + len)?;
            if out.len() + len > out_len {
                return None;
            }
            out.extend_from_slice(literal);
            ip += len;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*data.get(ip)?);
                ip += 1;
            }
            len += 2;
            let low = usize::from(*data.get(ip)?);
            ip += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - back;
            for i in 0..len {
                let byte = out[start + i];
                out.push(byte);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for data in [
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            (0..2000u32).map(|i| (i % 7) as u8 + b'a').collect(),
            b"hello world hello world hello world hello".to_vec(),
        ] {
            let c = compress(&data, data.len() - 4).expect("compressible");
            assert_eq!(decompress(&c, data.len()), Some(data));
        }
        assert_eq!(compress(b"abcdefghijklmnopqrstuvwxyz", 22), None);
    }

    #[test]
    fn the_hash_table_is_left_clear() {
        let inputs: Vec<Vec<u8>> = vec![
            b"hello world hello world hello world hello".to_vec(),
            (0..5000u32).map(|i| (i * 7 % 13) as u8).collect(),
            (0..300u32).map(|i| (i % 5) as u8 + b'a').collect(),
            b"abcdefghijklmnopqrstuvwxyz0123456789".to_vec(),
        ];
        for data in inputs {
            let fresh = compress_with(&mut vec![0; HSIZE], &data, data.len() - 4);
            assert_eq!(compress(&data, data.len() - 4), fresh);
            HTAB.with(|htab| assert!(htab.borrow().iter().all(|&slot| slot == 0)));
        }
    }

    #[test]
    fn malformed_input_is_refused() {
        assert_eq!(decompress(&[0xe0], 10), None);
        assert_eq!(decompress(&[0x20, 0x05], 10), None);
        assert_eq!(decompress(&[0x05, b'a'], 10), None);
    }
}
