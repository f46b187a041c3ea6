//! Bit-level work on string bytes for the bitmap commands (Redis's
//! bitops.c): population count, first set or clear bit, and BITFIELD's
//! integers of 1 to 64 bits at any bit offset.
//!
//! Bits are numbered as Redis numbers them: bit 0 is the most significant
//! bit of the first byte, so a bitmap reads left to right.

/// How BITFIELD treats a SET or INCRBY result that does not fit its type
/// (Redis's `BFOVERFLOW_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// The number of set bits. Works eight bytes at a time over four
/// independent sums, which the compiler keeps in registers (Redis's
/// `redisPopcount` does the same with a SWAR sum over 28 bytes).
pub fn popcount(bytes: &[u8]) -> u64 {
    let mut blocks = bytes.chunks_exact(32);
    let mut sums = [0u64; 4];
    for block in &mut blocks {
        for (sum, word) in sums.iter_mut().zip(block.chunks_exact(8)) {
            *sum += u64::from(word_at(word).count_ones());
        }
    }
    let tail: u64 = blocks
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum();
    sums.iter().sum::<u64>() + tail
}

/// Eight bytes as one word (any byte order does for counting and comparing).
fn word_at(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    u64::from_ne_bytes(word)
}

/// Redis's `redisBitpos`: the position of the first bit equal to `bit` in
/// `bytes`. A 1 that is not there is -1; a 0 that is not there is the first
/// bit past the end, since a string is taken as zero-padded on the right.
/// Skips whole words of the wrong value first.
pub fn bitpos(bytes: &[u8], bit: bool) -> i64 {
    let skip_byte = if bit { 0 } else { u8::MAX };
    let skip_word = if bit { 0 } else { u64::MAX };
    let words = bytes.chunks_exact(8);
    let whole = words.len();
    let first_word = words.take_while(|w| word_at(w) == skip_word).count();
    let from = first_word * 8;
    let found = if first_word < whole {
        bytes[from..from + 8].iter().position(|&b| b != skip_byte)
    } else {
        bytes[from..].iter().position(|&b| b != skip_byte)
    };
    match found {
        Some(i) => {
            let byte = bytes[from + i];
            let in_byte = if bit {
                byte.leading_zeros()
            } else {
                (!byte).leading_zeros()
            };
            ((from + i) * 8) as i64 + i64::from(in_byte)
        }
        None if bit => -1,
        None => bytes.len() as i64 * 8,
    }
}

/// The bit at `offset` (0 past the end).
fn bit_at(bytes: &[u8], offset: u64) -> u64 {
    let byte = bytes.get((offset >> 3) as usize).copied().unwrap_or(0);
    u64::from((byte >> (7 - (offset & 7))) & 1)
}

/// Redis's `getUnsignedBitfield`: `bits` (1..=64) bits from `offset`, most
/// significant first; bits past the end of `bytes` read as 0.
pub fn get_unsigned(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0u64, |value, i| (value << 1) | bit_at(bytes, offset + i))
}

/// Redis's `getSignedBitfield`: [`get_unsigned`] read as two's complement.
pub fn get_signed(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let value = get_unsigned(bytes, offset, bits);
    if bits < 64 && value & (1 << (bits - 1)) != 0 {
        (value | (u64::MAX << bits)) as i64
    } else {
        value as i64
    }
}

/// Redis's `setUnsignedBitfield`: the low `bits` bits of `value` written at
/// `offset`. The caller has grown `bytes` to hold them.
pub fn set_unsigned(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        let bit = (value >> (u64::from(bits) - 1 - i)) & 1;
        let at = offset + i;
        let shift = 7 - (at & 7);
        if let Some(byte) = bytes.get_mut((at >> 3) as usize) {
            *byte = (*byte & !(1 << shift)) | ((bit as u8) << shift);
        }
    }
}

/// What a BITFIELD write does with a value: the direction it overflowed,
/// if it did (1 above the type's range, -1 below), and the value to store
/// (the result, wrapped or saturated; None under FAIL).
pub struct Checked<T> {
    pub overflow: i8,
    pub value: Option<T>,
}

/// Redis's `checkUnsignedBitfieldOverflow` for `value + incr` in `bits`
/// (1..=63) unsigned bits. A SET is checked as `value + 0` with the new
/// value, so a negative one (a huge u64) overflows upwards.
pub fn check_unsigned(value: u64, incr: i64, bits: u32, kind: Overflow) -> Checked<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    // Redis's signed differences (the value is in range when they are used).
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let wrapped = || {
        let mask = if bits == 64 { 0 } else { u64::MAX << bits };
        value.wrapping_add(incr as u64) & !mask
    };
    let (overflow, saturated) = if value > max || (incr > 0 && incr > max_incr) {
        (1, max)
    } else if incr < 0 && incr < min_incr {
        (-1, 0)
    } else {
        return Checked {
            overflow: 0,
            value: Some(value.wrapping_add(incr as u64)),
        };
    };
    Checked {
        overflow,
        value: match kind {
            Overflow::Wrap => Some(wrapped()),
            Overflow::Sat => Some(saturated),
            Overflow::Fail => None,
        },
    }
}

/// Redis's `checkSignedBitfieldOverflow` for `value + incr` in `bits`
/// (1..=64) two's complement bits; a wrapped result is sign-extended.
pub fn check_signed(value: i64, incr: i64, bits: u32, kind: Overflow) -> Checked<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || {
        let mut sum = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if sum & (1 << (bits - 1)) != 0 {
                sum |= mask;
            } else {
                sum &= !mask;
            }
        }
        sum as i64
    };
    let (overflow, saturated) = if value > max
        || (bits != 64 && incr > max_incr)
        || (value >= 0 && incr > 0 && incr > max_incr)
    {
        (1, max)
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        (-1, min)
    } else {
        return Checked {
            overflow: 0,
            value: Some(value.wrapping_add(incr)),
        };
    };
    Checked {
        overflow,
        value: match kind {
            Overflow::Wrap => Some(wrapped()),
            Overflow::Sat => Some(saturated),
            Overflow::Fail => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One bit at a time, as a reference.
    fn naive_count(bytes: &[u8]) -> u64 {
        (0..bytes.len() as u64 * 8).map(|i| bit_at(bytes, i)).sum()
    }

    fn naive_pos(bytes: &[u8], bit: bool) -> i64 {
        (0..bytes.len() as u64 * 8)
            .find(|&i| bit_at(bytes, i) == u64::from(bit))
            .map_or(if bit { -1 } else { bytes.len() as i64 * 8 }, |i| i as i64)
    }

    #[test]
    fn popcount_and_bitpos_agree_with_a_bit_by_bit_scan() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in 0..80 {
            for fill in [0u8, 0xff, 0x10, 0x7f] {
                let mut bytes = vec![fill; len];
                if len > 0 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let at = (state % len as u64) as usize;
                    bytes[at] ^= 1 << (state % 8);
                }
                assert_eq!(popcount(&bytes), naive_count(&bytes), "{bytes:?}");
                for bit in [false, true] {
                    assert_eq!(bitpos(&bytes, bit), naive_pos(&bytes, bit), "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn bitfields_read_back_what_was_written() {
        let mut bytes = vec![0u8; 16];
        set_unsigned(&mut bytes, 5, 13, 0x1abc);
        assert_eq!(get_unsigned(&bytes, 5, 13), 0x1abc);
        assert_eq!(get_unsigned(&bytes, 0, 8), 0b0000_0110);
        set_unsigned(&mut bytes, 64, 64, u64::MAX - 1);
        assert_eq!(get_signed(&bytes, 64, 64), -2);
        assert_eq!(get_signed(&bytes, 70, 4), -1);
        // Past the end reads zeros.
        assert_eq!(get_unsigned(&bytes, 120, 64), 0xfe << 56);
    }

    #[test]
    fn overflow_wraps_saturates_or_fails_as_redis() {
        let c = check_unsigned(250, 10, 8, Overflow::Wrap);
        assert_eq!((c.overflow, c.value), (1, Some(4)));
        let c = check_unsigned(5, -10, 8, Overflow::Sat);
        assert_eq!((c.overflow, c.value), (-1, Some(0)));
        let c = check_unsigned(u64::MAX, 0, 8, Overflow::Sat);
        assert_eq!((c.overflow, c.value), (1, Some(255)));
        let c = check_signed(127, 1, 8, Overflow::Wrap);
        assert_eq!((c.overflow, c.value), (1, Some(-128)));
        let c = check_signed(-100, -100, 8, Overflow::Fail);
        assert_eq!((c.overflow, c.value), (-1, None));
        let c = check_signed(i64::MAX, 1, 64, Overflow::Wrap);
        assert_eq!((c.overflow, c.value), (1, Some(i64::MIN)));
        let c = check_signed(3, 4, 4, Overflow::Sat);
        assert_eq!((c.overflow, c.value), (0, Some(7)));
    }
}
