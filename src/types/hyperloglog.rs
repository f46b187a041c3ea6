//! HyperLogLog in Redis's own representation (hyperloglog.c), byte for
//! byte: a HyperLogLog is a string users can GET, DUMP and send to another
//! server, so its layout and its estimates must be Redis's.
//!
//! ```text
//! +------+---+-----+----------+--------------------------------+
//! | HYLL | E | N/U | Cardin.  | registers (dense) or opcodes   |
//! +------+---+-----+----------+--------------------------------+
//!   4      1   3     8 (LE)
//! ```
//! `E` is 0 (dense) or 1 (sparse). The cardinality is a cache of the last
//! PFCOUNT, valid while the top bit of its last byte is clear.
//!
//! Dense: 16384 registers of 6 bits, packed from the least significant bit
//! of each byte up (12288 bytes). Sparse: run-length opcodes over the
//! registers: `00xxxxxx` ZERO (1-64 zero registers), `01xxxxxx yyyyyyyy`
//! XZERO (1-16384 zero registers), `1vvvvvxx` VAL (1-4 registers of value
//! 1-32). A sparse HLL turns dense when a register needs more than 32 or
//! the string would grow past `hll-sparse-max-bytes`.

use bytes::BytesMut;

/// Registers: 2^14, addressed by the low 14 bits of an element's hash.
pub const REGISTERS: usize = 1 << P;
const P: u32 = 14;
/// Hash bits left to count zeros in (Redis's `HLL_Q`).
const Q: usize = 64 - P as usize;
const REGISTER_MAX: u8 = 63;
pub const HEADER: usize = 16;
pub const DENSE_SIZE: usize = HEADER + REGISTERS * 6 / 8;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;

/// A sparse representation that does not add up (Redis's `-1` / `C_ERR`,
/// answered `INVALIDOBJ Corrupted HLL object detected`).
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt;

/// Redis's `isHLLObjectOrReply` on a string's bytes: the magic, a known
/// encoding, and a dense one of exactly the dense size. (Sparse opcodes are
/// checked as they are walked.)
pub fn is_hll(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER
        && &bytes[..4] == b"HYLL"
        && bytes[4] <= SPARSE
        && (bytes[4] != DENSE || bytes.len() == DENSE_SIZE)
}

pub fn is_sparse(hll: &[u8]) -> bool {
    hll[4] == SPARSE
}

/// Redis's `createHLLObject`: an empty sparse HLL (one XZERO covering all
/// registers), its cached cardinality 0 and valid.
pub fn new_sparse() -> BytesMut {
    let mut hll = BytesMut::with_capacity(HEADER + 2);
    hll.extend_from_slice(b"HYLL");
    hll.extend_from_slice(&[SPARSE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(XZERO_MAX_LEN);
        hll.extend_from_slice(&xzero(run));
        left -= run;
    }
    hll
}

/// The cached cardinality, if valid.
pub fn cached_count(hll: &[u8]) -> Option<u64> {
    let mut card = [0u8; 8];
    card.copy_from_slice(&hll[8..16]);
    (card[7] & 0x80 == 0).then(|| u64::from_le_bytes(card))
}

pub fn set_cached_count(hll: &mut [u8], count: u64) {
    hll[8..16].copy_from_slice(&count.to_le_bytes());
}

pub fn invalidate_cache(hll: &mut [u8]) {
    hll[15] |= 0x80;
}

/// MurmurHash2, 64-bit version, as Redis has it: the words read little
/// endian whatever the machine, so every server hashes alike.
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut words = key.chunks_exact(8);
    for word in &mut words {
        let mut k = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// Redis's `hllPatLen`: the register an element falls in and the length of
/// the `000..1` run of its hash after the index bits (1..=Q+1).
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // A bit past the ones used ends the run at Q+1 at most.
    let rest = (hash >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Register `i` of dense `registers` (bytes after the header). The last
/// register's second byte is past the end: Redis reads the string's
/// terminating NUL there.
fn dense_get(registers: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let shift = (i * 6) & 7;
    let b0 = u16::from(registers[byte]);
    let b1 = u16::from(registers.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> shift) | (b1 << (8 - shift))) & u16::from(REGISTER_MAX)) as u8
}

fn dense_put(registers: &mut [u8], i: usize, value: u8) {
    let byte = i * 6 / 8;
    let shift = (i * 6) & 7;
    let v = u16::from(value);
    let max = u16::from(REGISTER_MAX);
    registers[byte] = ((u16::from(registers[byte]) & !(max << shift)) | (v << shift)) as u8;
    if let Some(next) = registers.get_mut(byte + 1) {
        *next = ((u16::from(*next) & !(max >> (8 - shift))) | (v >> (8 - shift))) as u8;
    }
}

/// Redis's `hllDenseSet`: raises register `i` to `count`; true if it rose.
fn dense_set(registers: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(registers, i) {
        dense_put(registers, i, count);
        true
    } else {
        false
    }
}

/// Every dense register, 16 from each 12 bytes.
fn for_each_dense(registers: &[u8], mut f: impl FnMut(usize, u8)) {
    for (block, r) in registers.chunks_exact(12).enumerate() {
        let word = |i: usize| u64::from(r[i]);
        let lo =
            word(0) | word(1) << 8 | word(2) << 16 | word(3) << 24 | word(4) << 32 | word(5) << 40;
        let hi = word(6)
            | word(7) << 8
            | word(8) << 16
            | word(9) << 24
            | word(10) << 32
            | word(11) << 40;
        for j in 0..8 {
            f(block * 16 + j, ((lo >> (6 * j)) & 63) as u8);
            f(block * 16 + 8 + j, ((hi >> (6 * j)) & 63) as u8);
        }
    }
}

/// One sparse opcode.
#[derive(Clone, Copy)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val { value: u8, len: usize },
}

impl Op {
    /// The opcode at `p` of `bytes` and its size in bytes. An XZERO cut off
    /// by the end reads its second byte as 0, as Redis reads the NUL there.
    fn at(bytes: &[u8], p: usize) -> (Op, usize) {
        let b = bytes[p];
        if b & 0xc0 == 0 {
            (Op::Zero(usize::from(b & 0x3f) + 1), 1)
        } else if b & 0x80 != 0 {
            let value = ((b >> 2) & 0x1f) + 1;
            (
                Op::Val {
                    value,
                    len: usize::from(b & 3) + 1,
                },
                1,
            )
        } else {
            let low = usize::from(bytes.get(p + 1).copied().unwrap_or(0));
            (Op::XZero(((usize::from(b & 0x3f) << 8) | low) + 1), 2)
        }
    }

    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) => n,
            Op::Val { len, .. } => len,
        }
    }
}

fn zero(len: usize) -> u8 {
    (len - 1) as u8
}

fn xzero(len: usize) -> [u8; 2] {
    let l = len - 1;
    [(l >> 8) as u8 | 0x40, (l & 0xff) as u8]
}

fn val(value: u8, len: usize) -> u8 {
    ((value - 1) << 2) | (len - 1) as u8 | 0x80
}

/// Calls `f(first register, value, run)` for each VAL run of a sparse body
/// and checks that the runs cover exactly the registers. A VAL run that
/// would pass the last register stops the walk (Redis's overflow check),
/// which then fails the count.
fn walk_sparse(body: &[u8], mut f: impl FnMut(usize, u8, usize)) -> Result<(), Corrupt> {
    let mut idx = 0;
    let mut p = 0;
    while p < body.len() {
        let (op, size) = Op::at(body, p);
        if let Op::Val { value, len } = op {
            if idx + len > REGISTERS {
                break;
            }
            f(idx, value, len);
        }
        idx += op.span();
        p += size;
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Redis's `hllSparseToDense`: the same registers, dense; the header (and
/// cached cardinality) carried over. False if it was dense already.
pub fn to_dense(hll: &mut BytesMut) -> Result<bool, Corrupt> {
    if hll[4] == DENSE {
        return Ok(false);
    }
    let mut dense = BytesMut::zeroed(DENSE_SIZE);
    dense[..HEADER].copy_from_slice(&hll[..HEADER]);
    dense[4] = DENSE;
    let registers = &mut dense[HEADER..];
    walk_sparse(&hll[HEADER..], |first, value, len| {
        for i in first..first + len {
            dense_put(registers, i, value);
        }
    })?;
    *hll = dense;
    Ok(true)
}

/// Redis's `hllSparseSet` and `hllDenseSet`: raises register `index` to
/// `count` if it is lower; true if the HLL changed. A sparse HLL is edited
/// in place, the opcode holding the register split as Redis splits it and
/// equal VAL neighbours merged again, so the bytes come out as Redis's.
pub fn set_register(
    hll: &mut BytesMut,
    index: usize,
    count: u8,
    sparse_max: u64,
) -> Result<bool, Corrupt> {
    if hll[4] == DENSE {
        return Ok(dense_set(&mut hll[HEADER..], index, count));
    }
    if count > VAL_MAX_VALUE {
        return promote(hll, index, count);
    }
    // Step 1: the opcode covering `index`, the one before it, and the
    // first register it covers.
    let end = hll.len();
    let mut p = HEADER;
    let mut prev = None;
    let mut first = 0;
    let mut span = 0;
    let mut op = Op::Zero(0);
    let mut size = 1;
    while p < end {
        (op, size) = Op::at(hll, p);
        span = op.span();
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += size;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let next = (p + size < end).then_some(p + size);
    // Step 2: the easy cases, in place.
    match op {
        Op::Val { value, .. } if value >= count => return Ok(false),
        Op::Val { len: 1, .. } | Op::Zero(1) => {
            hll[p] = val(count, 1);
            merge_vals(hll, prev.unwrap_or(HEADER));
            return Ok(true);
        }
        _ => {}
    }
    // The general case: the opcode split around the register.
    let last = first + span - 1;
    let mut seq = [0u8; 5];
    let mut n = 0;
    let mut push = |bytes: &[u8]| {
        seq[n..n + bytes.len()].copy_from_slice(bytes);
        n += bytes.len();
    };
    let zeros = |len: usize, push: &mut dyn FnMut(&[u8])| {
        if len > ZERO_MAX_LEN {
            push(&xzero(len));
        } else {
            push(&[zero(len)]);
        }
    };
    match op {
        Op::Zero(_) | Op::XZero(_) => {
            if index != first {
                zeros(index - first, &mut push);
            }
            push(&[val(count, 1)]);
            if index != last {
                zeros(last - index, &mut push);
            }
        }
        Op::Val { value, .. } => {
            if index != first {
                push(&[val(value, index - first)]);
            }
            push(&[val(count, 1)]);
            if index != last {
                push(&[val(value, last - index)]);
            }
        }
    }
    // Step 3: the new sequence in place of the opcode.
    let old_len = if matches!(op, Op::XZero(_)) { 2 } else { 1 };
    let delta = n as isize - old_len;
    if delta > 0 && end as u64 + delta as u64 > sparse_max {
        return promote(hll, index, count);
    }
    let new_len = end.checked_add_signed(delta).ok_or(Corrupt)?;
    if delta > 0 {
        hll.resize(new_len, 0);
    }
    if let (Some(next), true) = (next, delta != 0) {
        let to = next.checked_add_signed(delta).ok_or(Corrupt)?;
        hll.copy_within(next..end, to);
    }
    // Redis writes the whole sequence; only what lies inside the string
    // stays (less than all of it only for a cut-off XZERO at the end).
    for (i, &b) in seq[..n].iter().enumerate() {
        if let Some(byte) = hll.get_mut(p + i) {
            *byte = b;
        }
    }
    hll.truncate(new_len);
    merge_vals(hll, prev.unwrap_or(HEADER));
    Ok(true)
}

/// Redis's step 4 of `hllSparseSet`: from `p`, over up to 5 opcodes, joins
/// adjacent VALs of one value whose lengths fit one opcode. Then the
/// cached cardinality is invalidated.
fn merge_vals(hll: &mut BytesMut, mut p: usize) {
    let mut scan = 5;
    while p < hll.len() && scan > 0 {
        scan -= 1;
        let end = hll.len();
        match Op::at(hll, p) {
            (Op::XZero(_), _) => p += 2,
            (Op::Zero(_), _) => p += 1,
            (Op::Val { value, len }, _) => {
                if p + 1 < end {
                    if let (Op::Val { value: v2, len: l2 }, _) = Op::at(hll, p + 1) {
                        if v2 == value && len + l2 <= VAL_MAX_LEN {
                            hll[p + 1] = val(value, len + l2);
                            hll.copy_within(p + 1..end, p);
                            hll.truncate(end - 1);
                            continue;
                        }
                    }
                }
                p += 1;
            }
        }
    }
    invalidate_cache(hll);
}

/// Sparse to dense, then the register raised there (which it must be).
fn promote(hll: &mut BytesMut, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(hll)?;
    dense_set(&mut hll[HEADER..], index, count);
    Ok(true)
}

/// Redis's `hllAdd`: adds `element`; true if a register rose.
pub fn add(hll: &mut BytesMut, element: &[u8], sparse_max: u64) -> Result<bool, Corrupt> {
    let (index, count) = pattern(element);
    set_register(hll, index, count, sparse_max)
}

/// Redis's `hllMerge`: raises each of `max` to the HLL's register.
pub fn merge_into(max: &mut [u8; REGISTERS], hll: &[u8]) -> Result<(), Corrupt> {
    if hll[4] == DENSE {
        for_each_dense(&hll[HEADER..], |i, v| {
            if v > max[i] {
                max[i] = v;
            }
        });
        return Ok(());
    }
    walk_sparse(&hll[HEADER..], |first, value, len| {
        for m in &mut max[first..first + len] {
            if value > *m {
                *m = value;
            }
        }
    })
}

/// Register values counted: how many registers hold each value.
type Histogram = [u32; 64];

/// Redis's `hllCount` of a stored HLL. A sparse one whose runs do not add
/// up still gets its estimate computed, but is reported corrupt.
pub fn count(hll: &[u8]) -> Result<u64, Corrupt> {
    let mut histogram = [0u32; 64];
    let body = &hll[HEADER..];
    if hll[4] == DENSE {
        for_each_dense(body, |_, v| histogram[usize::from(v)] += 1);
        return Ok(estimate(&histogram));
    }
    let mut idx = 0;
    let mut p = 0;
    while p < body.len() {
        let (op, size) = Op::at(body, p);
        let value = match op {
            Op::Val { value, .. } => usize::from(value),
            _ => 0,
        };
        histogram[value] += op.span() as u32;
        idx += op.span();
        p += size;
    }
    let estimate = estimate(&histogram);
    if idx == REGISTERS {
        Ok(estimate)
    } else {
        Err(Corrupt)
    }
}

/// Redis's `hllCount` of registers one per byte (`HLL_RAW`: PFCOUNT of
/// several keys).
pub fn count_registers(registers: &[u8; REGISTERS]) -> u64 {
    let mut histogram = [0u32; 64];
    for &r in registers {
        histogram[usize::from(r & 63)] += 1;
    }
    estimate(&histogram)
}

/// Ertl's estimator ("New cardinality estimation algorithms for
/// HyperLogLog sketches", arXiv:1702.01284), in Redis's order of
/// floating-point operations so the result is the same integer.
fn estimate(histogram: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histogram[Q + 1])) / m);
    for j in (1..=Q).rev() {
        z += f64::from(histogram[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
    // `llroundl`: half away from zero, as `f64::round`.
    (ALPHA_INF * m * m / z).round() as i64 as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// Every register of a dense HLL (PFDEBUG GETREG).
pub fn dense_registers(hll: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; REGISTERS];
    for_each_dense(&hll[HEADER..], |i, v| out[i] = v);
    out
}

/// PFDEBUG DECODE: the sparse opcodes as Redis prints them
/// (`z:<len>`, `Z:<len>`, `v:<value>,<len>`), space separated.
pub fn decode(hll: &[u8]) -> String {
    let body = &hll[HEADER..];
    let mut parts = Vec::new();
    let mut p = 0;
    while p < body.len() {
        let (op, size) = Op::at(body, p);
        parts.push(match op {
            Op::Zero(n) => format!("z:{n}"),
            Op::XZero(n) => format!("Z:{n}"),
            Op::Val { value, len } => format!("v:{value},{len}"),
        });
        p += size;
    }
    parts.join(" ")
}

/// Redis's `pfselftestCommand`: register access, then 10 million elements
/// added to a dense and a sparse HLL whose estimates must agree and stay
/// within six standard errors. The error is Redis's text.
pub fn self_test(sparse_max: u64) -> Result<(), String> {
    let mut state = rand::random::<u64>() | 1;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut dense = BytesMut::zeroed(DENSE_SIZE);
    dense[..4].copy_from_slice(b"HYLL");
    let mut bytes = [0u8; REGISTERS];
    for _ in 0..1000 {
        let registers = &mut dense[HEADER..];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (random() & 63) as u8;
            dense_put(registers, i, *b);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let v = dense_get(registers, i);
            if v != b {
                return Err(format!("TESTFAILED Register {i} should be {b} but is {v}"));
            }
        }
    }
    dense[HEADER..].fill(0);
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed = random();
    let mut checkpoint = 1u64;
    for j in 1..=10_000_000u64 {
        let element = (j ^ seed).to_le_bytes();
        let (index, run) = pattern(&element);
        dense_set(&mut dense[HEADER..], index, run);
        set_register(&mut sparse, index, run, sparse_max).map_err(|_| "TESTFAILED corrupted")?;
        if j != checkpoint {
            continue;
        }
        if j < sparse_max / 2 && !is_sparse(&sparse) {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let estimate = count(&dense).unwrap_or(0);
        if Ok(estimate) != count(&sparse) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = checkpoint.abs_diff(estimate);
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_known_values() {
        // The hash of the empty string is the finalised seed mix.
        let (index, count) = pattern(b"");
        assert!(index < REGISTERS && (1..=51).contains(&count));
        assert_ne!(murmur64a(b"a", 0), murmur64a(b"b", 0));
    }

    #[test]
    fn dense_registers_read_back() {
        let mut regs = vec![0u8; REGISTERS * 6 / 8];
        for i in 0..REGISTERS {
            dense_put(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
        let mut seen = 0;
        for_each_dense(&regs, |i, v| {
            assert_eq!(v, (i % 64) as u8);
            seen += 1;
        });
        assert_eq!(seen, REGISTERS);
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        for i in 0..5000u32 {
            let e = i.to_string();
            add(&mut sparse, e.as_bytes(), 3000).unwrap();
            add(&mut dense, e.as_bytes(), 3000).unwrap();
            if i % 500 == 0 {
                assert_eq!(count(&sparse), count(&dense), "after {i}");
            }
        }
        let mut copy = sparse.clone();
        to_dense(&mut copy).unwrap();
        assert_eq!(&copy[HEADER..], &dense[HEADER..]);
    }

    #[test]
    fn a_register_above_32_turns_a_sparse_hll_dense() {
        let mut h = new_sparse();
        assert_eq!(set_register(&mut h, 5, 3, 3000), Ok(true));
        assert!(is_sparse(&h));
        assert_eq!(set_register(&mut h, 9, 40, 3000), Ok(true));
        assert!(!is_sparse(&h));
        assert_eq!(h.len(), DENSE_SIZE);
        let regs = dense_registers(&h);
        assert_eq!((regs[5], regs[9], regs[10]), (3, 40, 0));
    }
}
