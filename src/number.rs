//! Number parsing and formatting exactly as redis-server 7.0 does it.
//!
//! Integer parsing is a pure Rust port of `string2ll`. Everything involving
//! floating point goes through the C library (`csrc/number.c`) because Redis's
//! observable behaviour *is* glibc's `strtod`/`strtold`/`snprintf` behaviour,
//! and INCRBYFLOAT computes in C `long double` (x87 80-bit on x86_64), which
//! Rust has no type for.

use std::ffi::CStr;
use std::ffi::{c_char, c_int};

/// Error for an operand of ZADD, INCRBYFLOAT and friends that is not a float
/// (Redis `getDoubleFromObjectOrReply` / `getLongDoubleFromObjectOrReply`).
pub const ERR_NOT_A_FLOAT: &str = "ERR value is not a valid float";
/// Error for an INCRBYFLOAT/HINCRBYFLOAT whose result is NaN or infinite.
pub const ERR_WOULD_PRODUCE_NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
/// Error for HINCRBYFLOAT when the stored hash field is not a float.
pub const ERR_HASH_VALUE_NOT_A_FLOAT: &str = "ERR hash value is not a float";
/// Error for HINCRBYFLOAT when the increment itself is `inf`/`-inf`.
pub const ERR_INCREMENT_NAN_OR_INF: &str = "ERR value is NaN or Infinity";

/// Redis `MAX_LONG_DOUBLE_CHARS`: the buffer size INCRBYFLOAT formats into.
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

unsafe extern "C" {
    fn reddish_string2d(s: *const c_char, slen: usize, dp: *mut f64) -> c_int;
    fn reddish_string2ld(s: *const c_char, slen: usize, out: *mut u8) -> c_int;
    fn reddish_ld_is_finite(a: *const u8) -> c_int;
    fn reddish_ld_add_human(a: *const u8, b: *const u8, buf: *mut c_char, len: usize) -> c_int;
    fn reddish_format_g17(d: f64, buf: *mut c_char, len: usize) -> c_int;
    fn reddish_d_human(d: f64, buf: *mut c_char, len: usize) -> c_int;
}

/// Redis `string2ll` (util.c): the strict integer syntax used by INCR,
/// EXPIRE, LRANGE indexes, etc. No spaces, no `+`, no leading zeros, `-0`
/// rejected, at most 20 bytes, overflow rejected.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    // LONG_STR_SIZE is 21: anything that long cannot be a valid long long.
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &b in rest {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        if v > 1u64 << 63 {
            return None;
        }
        // v == 2^63 wraps to i64::MIN, which is exactly what we want.
        Some(0u64.wrapping_sub(v) as i64)
    } else {
        i64::try_from(v).ok()
    }
}

/// Runs `f` on a NUL-terminated copy of `s` (Redis strings are sds, which
/// always carry a terminator that `strtod` relies on).
fn with_nul<R>(s: &[u8], f: impl FnOnce(*const c_char) -> R) -> R {
    const STACK: usize = 128;
    if s.len() < STACK {
        let mut buf = [0u8; STACK];
        buf[..s.len()].copy_from_slice(s);
        f(buf.as_ptr().cast())
    } else {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s);
        v.push(0);
        f(v.as_ptr().cast())
    }
}

/// Redis `string2d` as used by `getDoubleFromObject` (ZADD, ZINCRBY, ...):
/// glibc `strtod`, so hex floats (`0x10`), `inf`/`infinity` (any case, with
/// sign) are accepted; empty input, leading whitespace, trailing bytes, NaN,
/// overflow to ±inf and underflow to zero are rejected. Subnormals are kept.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    with_nul(s, |ptr| {
        let mut out = 0.0f64;
        // SAFETY: `ptr` points at `s.len()` bytes followed by a NUL byte.
        let ok = unsafe { reddish_string2d(ptr, s.len(), &mut out) };
        (ok != 0).then_some(out)
    })
}

/// C `strtod` on `s` read as a C string, the way Redis's `zslParseRange`
/// reads a ZRANGEBYSCORE bound: leading whitespace is skipped, hex floats and
/// `inf` are accepted, overflow gives ±inf, no digits at all gives 0 (so `""`
/// is a valid bound) and the text ends at the first NUL. `None` when other
/// bytes follow the number or it is NaN.
pub fn strtod_c_string(s: &[u8]) -> Option<f64> {
    with_nul(s, |ptr| {
        let mut end: *mut c_char = std::ptr::null_mut();
        // SAFETY: `ptr` is NUL-terminated; strtod reads no further than the NUL.
        let v = unsafe { libc::strtod(ptr, &mut end) };
        // SAFETY: strtod leaves `end` within the buffer it parsed.
        let at_end = !end.is_null() && unsafe { *end } == 0;
        (at_end && !v.is_nan()).then_some(v)
    })
}

/// SORT's numeric weight (Redis `sortCommandGeneric`): C `strtod` on `s`
/// read as a C string, which must be used up to its end (so `""` is 0),
/// neither overflowing nor underflowing (`ERANGE`) nor NaN.
pub fn strtod_sort_weight(s: &[u8]) -> Option<f64> {
    with_nul(s, |ptr| {
        let mut end: *mut c_char = std::ptr::null_mut();
        // SAFETY: errno is this thread's; `ptr` is NUL-terminated and strtod
        // reads no further than the NUL, leaving `end` within the buffer.
        unsafe {
            *libc::__errno_location() = 0;
            let v = libc::strtod(ptr, &mut end);
            let range = *libc::__errno_location() == libc::ERANGE;
            let at_end = !end.is_null() && *end == 0;
            (at_end && !range && !v.is_nan()).then_some(v)
        }
    })
}

/// C `strtod(s, NULL)` on `s` read as a C string: the number at its start,
/// whatever follows it, 0 when there is none (DEBUG SLEEP reads its argument
/// so). NaN and infinities come back as parsed.
pub fn strtod_prefix(s: &[u8]) -> f64 {
    // SAFETY: `ptr` is NUL-terminated; a null end pointer is allowed.
    with_nul(s, |ptr| unsafe { libc::strtod(ptr, std::ptr::null_mut()) })
}

/// C's `atoi`/`atoll`: optional blanks and sign, then digits, anything
/// after (or a NUL) ignored, 0 when there are none, wrapping as C's does
/// on this platform (DEBUG's numbers, the AOF's headers and manifest).
pub fn atoi(arg: &[u8]) -> i64 {
    let text = arg.split(|&b| b == 0).next().unwrap_or_default();
    let blanks = text
        .iter()
        .take_while(|b| b" \t\n\r\x0b\x0c".contains(b))
        .count();
    let text = &text[blanks..];
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let value = digits
        .iter()
        .take_while(|d| d.is_ascii_digit())
        .fold(0i64, |n, &d| {
            n.wrapping_mul(10).wrapping_add(i64::from(d - b'0'))
        });
    if negative {
        value.wrapping_neg()
    } else {
        value
    }
}

/// Redis 7.0 `addReplyDouble` text: `%.17g` from glibc (so `inf`, `-inf`,
/// `1.1000000000000001`, `1e+21`, `-0`). Redis 7.2 switched to shortest
/// round-trip output; 7.0 did not.
pub fn format_double(d: f64, out: &mut Vec<u8>) {
    // "%.17g" never needs more than 24 bytes ("-2.2250738585072014e-308").
    let mut buf = [0u8; 32];
    // SAFETY: `buf` is writable for `buf.len()` bytes; snprintf NUL-terminates.
    let n = unsafe { reddish_format_g17(d, buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).unwrap_or(0).min(buf.len() - 1);
    out.extend_from_slice(&buf[..n]);
}

/// Redis `addReplyHumanLongDouble` text of a finite double (GEOPOS and
/// WITHCOORD coordinates): `%.17Lf` of it as a long double, trailing zeros
/// and `.` stripped, so `-122.27652043104172` and `13.361389338970184`.
pub fn format_double_human(d: f64) -> Vec<u8> {
    // "%.17Lf" of a finite double: at most 309 integer digits, '-', '.', 17 decimals.
    let mut buf = [0u8; 360];
    // SAFETY: `buf` is writable for `buf.len()` bytes; snprintf NUL-terminates.
    let n = unsafe { reddish_d_human(d, buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).unwrap_or(0).min(buf.len() - 1);
    buf[..n].to_vec()
}

/// C `printf(fmt, d)` for a one-double format of at most 40 bytes of output.
fn format_with(fmt: &CStr, d: f64) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: `buf` is writable for its length; `fmt` takes one double.
    let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), d) };
    let n = usize::try_from(n).unwrap_or(0).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Lua 5.1's `tostring` of a number (`LUA_NUMBER_FMT`, `%.14g`).
pub fn format_lua_number(d: f64) -> String {
    format_with(c"%.14g", d)
}

/// C `%.<precision>g` for a precision from 1 to 17 (lua-cjson's
/// `encode_number_precision`); other precisions are clamped.
pub fn format_g(d: f64, precision: u8) -> String {
    const FORMATS: [&CStr; 17] = [
        c"%.1g", c"%.2g", c"%.3g", c"%.4g", c"%.5g", c"%.6g", c"%.7g", c"%.8g", c"%.9g", c"%.10g",
        c"%.11g", c"%.12g", c"%.13g", c"%.14g", c"%.15g", c"%.16g", c"%.17g",
    ];
    format_with(FORMATS[usize::from(precision.clamp(1, 17)) - 1], d)
}

/// C `strtod` on `s` read as a C string: the number at its start and how
/// many bytes it took (0 when there is none), as lua-cjson's decoder reads
/// its numbers (hex, `inf`, `nan(...)` included).
pub fn strtod_len(s: &[u8]) -> (f64, usize) {
    // Only these bytes can be part of a number, so the copy stays short.
    let len = s
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || b"+-.()_".contains(b)))
        .unwrap_or(s.len());
    with_nul(&s[..len], |ptr| {
        let mut end: *mut c_char = std::ptr::null_mut();
        // SAFETY: `ptr` is NUL-terminated; strtod reads no further than the
        // NUL and leaves `end` within the buffer.
        let v = unsafe { libc::strtod(ptr, &mut end) };
        let used = if end.is_null() {
            0
        } else {
            (end as usize).saturating_sub(ptr as usize)
        };
        (v, used)
    })
}

/// A C `long double` (80-bit x87 on x86_64), kept as its raw bytes because
/// Rust has no such type. Produced by [`parse_hincr_increment`].
#[derive(Debug, Clone, Copy)]
pub struct LongDouble([u8; 16]);

impl LongDouble {
    /// Redis `string2ld`: `strtold`, no leading space, no trailing bytes, no
    /// NaN, overflow/underflow-to-zero rejected, input shorter than 5120 bytes.
    fn parse(s: &[u8]) -> Option<LongDouble> {
        let mut out = LongDouble([0; 16]);
        // SAFETY: `s` is readable for `s.len()` bytes (the C side copies it
        // into its own NUL-terminated buffer); `out` has room for 16 bytes.
        let ok = unsafe { reddish_string2ld(s.as_ptr().cast(), s.len(), out.0.as_mut_ptr()) };
        (ok != 0).then_some(out)
    }

    /// `self + other` in long double, formatted as Redis
    /// `ld2string(LD_STR_HUMAN)`; `None` if the sum is NaN or infinite.
    fn add_human(&self, other: &LongDouble) -> Option<Vec<u8>> {
        let mut buf = [0u8; MAX_LONG_DOUBLE_CHARS];
        // SAFETY: both operands are 16 initialised bytes holding long doubles
        // written by `reddish_string2ld`; `buf` is writable for its length.
        let n = unsafe {
            reddish_ld_add_human(
                self.0.as_ptr(),
                other.0.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        // A zero length (did not fit) yields an empty string, as in Redis.
        let n = usize::try_from(n).ok()?.min(buf.len());
        Some(buf[..n].to_vec())
    }
}

/// Why an INCRBYFLOAT or HINCRBYFLOAT failed; [`IncrFloatError::message`]
/// gives the exact Redis error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrFloatError {
    /// An operand (INCRBYFLOAT: value or increment; HINCRBYFLOAT: increment)
    /// fails `string2ld`.
    NotAFloat,
    /// HINCRBYFLOAT: the stored field fails `string2ld`.
    HashValueNotAFloat,
    /// HINCRBYFLOAT: the increment parsed to ±inf.
    IncrementNanOrInfinity,
    /// The sum is NaN or infinite.
    WouldProduceNanOrInfinity,
}

impl IncrFloatError {
    /// The error line Redis sends (without the leading `-` and CRLF).
    pub fn message(self) -> &'static str {
        match self {
            IncrFloatError::NotAFloat => ERR_NOT_A_FLOAT,
            IncrFloatError::HashValueNotAFloat => ERR_HASH_VALUE_NOT_A_FLOAT,
            IncrFloatError::IncrementNanOrInfinity => ERR_INCREMENT_NAN_OR_INF,
            IncrFloatError::WouldProduceNanOrInfinity => ERR_WOULD_PRODUCE_NAN_OR_INF,
        }
    }
}

/// Redis `incrbyfloatCommand` after its WRONGTYPE check: parses the current
/// value, then the increment (both `string2ld`, both → `NotAFloat`), adds in
/// long double and returns the `ld2string(LD_STR_HUMAN)` text (`%.17Lf`,
/// trailing zeros and `.` stripped, `-0` → `0`) that is both stored and
/// replied. Pass `b"0"` for a missing key (Redis uses 0 there).
pub fn incr_by_float(current: &[u8], incr: &[u8]) -> Result<Vec<u8>, IncrFloatError> {
    let value = LongDouble::parse(current).ok_or(IncrFloatError::NotAFloat)?;
    let incr = LongDouble::parse(incr).ok_or(IncrFloatError::NotAFloat)?;
    value
        .add_human(&incr)
        .ok_or(IncrFloatError::WouldProduceNanOrInfinity)
}

/// First step of Redis `hincrbyfloatCommand`, which runs *before* the key's
/// type is checked: the increment must pass `string2ld` (`NotAFloat`) and
/// must not be infinite (`IncrementNanOrInfinity`).
pub fn parse_hincr_increment(incr: &[u8]) -> Result<LongDouble, IncrFloatError> {
    let incr = LongDouble::parse(incr).ok_or(IncrFloatError::NotAFloat)?;
    // SAFETY: `incr.0` holds a long double written by `reddish_string2ld`.
    if unsafe { reddish_ld_is_finite(incr.0.as_ptr()) } == 0 {
        return Err(IncrFloatError::IncrementNanOrInfinity);
    }
    Ok(incr)
}

/// Second step of Redis `hincrbyfloatCommand`, after the WRONGTYPE check:
/// the field's current value (`b"0"` when the field is missing) must pass
/// `string2ld` (`HashValueNotAFloat`); the sum must be finite
/// (`WouldProduceNanOrInfinity`). Returns the LD_STR_HUMAN text.
pub fn hincr_by_float(current: &[u8], incr: &LongDouble) -> Result<Vec<u8>, IncrFloatError> {
    let value = LongDouble::parse(current).ok_or(IncrFloatError::HashValueNotAFloat)?;
    value
        .add_human(incr)
        .ok_or(IncrFloatError::WouldProduceNanOrInfinity)
}

/// "00".."99", two bytes per entry, for [`format_i64`].
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Redis `ll2string` output (plain decimal, `-` for negatives), appended
/// without allocating beyond `out`'s growth: replies format integers
/// constantly, so this uses the two-digits-at-a-time table trick.
pub fn format_i64(v: i64, out: &mut Vec<u8>) {
    // i64::MIN is 20 bytes: '-' plus 19 digits.
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut n = v.unsigned_abs();
    while n >= 100 {
        let r = (n % 100) as usize * 2;
        n /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[r..r + 2]);
    }
    if n >= 10 {
        let r = n as usize * 2;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[r..r + 2]);
    } else {
        pos -= 1;
        buf[pos] = b'0' + n as u8;
    }
    if v < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    out.extend_from_slice(&buf[pos..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt_d(d: f64) -> String {
        let mut v = Vec::new();
        format_double(d, &mut v);
        String::from_utf8(v).expect("ascii")
    }

    fn fmt_i(i: i64) -> String {
        let mut v = Vec::new();
        format_i64(i, &mut v);
        String::from_utf8(v).expect("ascii")
    }

    fn incr(cur: &str, by: &str) -> Result<String, IncrFloatError> {
        incr_by_float(cur.as_bytes(), by.as_bytes()).map(|v| String::from_utf8(v).expect("ascii"))
    }

    fn hincr(cur: &str, by: &str) -> Result<String, IncrFloatError> {
        let by = parse_hincr_increment(by.as_bytes())?;
        hincr_by_float(cur.as_bytes(), &by).map(|v| String::from_utf8(v).expect("ascii"))
    }

    #[test]
    fn parse_i64_accepts() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"1"), Some(1));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"99"), Some(99));
        assert_eq!(parse_i64(b"-99"), Some(-99));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn parse_i64_rejects() {
        for s in [
            "",
            "-",
            "+1",
            " 1",
            "1 ",
            "01",
            "-0",
            "-01",
            "00",
            "1a",
            "1.0",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
            "99999999999999999999",
            "123456789012345678901",
            "1\0",
        ] {
            assert_eq!(parse_i64(s.as_bytes()), None, "{s:?}");
        }
    }

    #[test]
    fn parse_f64_matches_zadd() {
        // Verified with `ZADD z <s> m` / ZSCORE on redis-server 7.0.15.
        let ok: &[(&str, f64)] = &[
            ("0x10", 16.0),
            ("0x1p3", 8.0),
            ("0X1P-2", 0.25),
            ("inf", f64::INFINITY),
            ("+inf", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
            ("Infinity", f64::INFINITY),
            ("-infinity", f64::NEG_INFINITY),
            ("1e5", 100000.0),
            ("+1.5", 1.5),
            (".5", 0.5),
            ("5.", 5.0),
            ("1.7976931348623157e308", f64::MAX),
            ("4.9e-324", 4.9e-324),
            ("1e-310", 1e-310),
        ];
        for &(s, want) in ok {
            assert_eq!(parse_f64(s.as_bytes()), Some(want), "{s:?}");
        }
        let neg_zero = parse_f64(b"-0").expect("-0 parses");
        assert!(neg_zero == 0.0 && neg_zero.is_sign_negative());
        for s in [
            "", " 1", "1 ", "  ", "nan", "NaN", "-nan", "nan(123)", "1e400", "-1e400", "1e-400",
            "2e-324", "1.8e308", "1_0", "1e", "e1", "1\0", "\t1",
        ] {
            assert_eq!(parse_f64(s.as_bytes()), None, "{s:?}");
        }
        // Longer than the stack buffer.
        let long = format!("1.{}", "0".repeat(300));
        assert_eq!(parse_f64(long.as_bytes()), Some(1.0));
    }

    #[test]
    fn strtod_c_string_is_zrangebyscore_bounds() {
        // Verified with ZRANGEBYSCORE on redis-server 7.0.15.
        let ok: &[(&[u8], f64)] = &[
            (b"", 0.0),
            (b" 1", 1.0),
            (b"\t2", 2.0),
            (b"1e400", f64::INFINITY),
            (b"-inf", f64::NEG_INFINITY),
            (b"+inf", f64::INFINITY),
            (b"0x10", 16.0),
            (b"1\0junk", 1.0),
            (b"1.5", 1.5),
        ];
        for &(s, want) in ok {
            assert_eq!(strtod_c_string(s), Some(want), "{s:?}");
        }
        for s in [&b"nan"[..], b"1 ", b"abc", b"1x", b"-nan"] {
            assert_eq!(strtod_c_string(s), None, "{s:?}");
        }
    }

    #[test]
    fn format_double_is_percent_17g() {
        // Verified with ZADD/ZSCORE and ZINCRBY on redis-server 7.0.15.
        assert_eq!(fmt_d(1.1), "1.1000000000000001");
        assert_eq!(fmt_d(3.0), "3");
        assert_eq!(fmt_d(f64::INFINITY), "inf");
        assert_eq!(fmt_d(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt_d(1e21), "1e+21");
        assert_eq!(fmt_d(0.1), "0.10000000000000001");
        assert_eq!(fmt_d(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(fmt_d(-1e-20), "-9.9999999999999995e-21");
        assert_eq!(fmt_d(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(fmt_d(1e16), "10000000000000000");
        assert_eq!(fmt_d(1e15), "1000000000000000");
        assert_eq!(fmt_d(0.0001), "0.0001");
        assert_eq!(fmt_d(0.00001), "1.0000000000000001e-05");
        assert_eq!(fmt_d(1e-310), "9.9999999999999694e-311");
        assert_eq!(fmt_d(4.9e-324), "4.9406564584124654e-324");
        assert_eq!(fmt_d(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(fmt_d(-0.0), "-0");
        assert_eq!(fmt_d(0.0), "0");
        assert_eq!(fmt_d(-f64::MIN_POSITIVE), "-2.2250738585072014e-308");
        let mut v = b"x".to_vec();
        format_double(2.5, &mut v);
        assert_eq!(v, b"x2.5");
    }

    #[test]
    fn incr_by_float_matches_redis() {
        // Verified with SET k <cur>; INCRBYFLOAT k <by> on redis-server 7.0.15.
        let ok: &[(&str, &str, &str)] = &[
            ("10.50", "0.1", "10.6"),
            ("0.1", "0.2", "0.3"),
            ("5.0e3", "2.0e2", "5200"),
            ("1", "0x10", "17"),
            ("1", "-1", "0"),
            ("-0", "0", "0"),
            ("0", "-0", "0"),
            ("-1e-20", "0", "0"),
            ("1", "1e-20", "1"),
            ("3", "1e-17", "3.00000000000000001"),
            ("1", "1.5e-17", "1.00000000000000001"),
            ("0", "1.1", "1.1"),
            ("0", "0.1", "0.1"),
            ("0", "1e-4940", "0"),
            ("1", "+1", "2"),
            ("0", "1.0e17", "100000000000000000"),
            (
                "0",
                "123456789012345678901234567890",
                "123456789012345678899921813504",
            ),
            ("0", "-5", "-5"),
            ("2", "-2.5", "-0.5"),
            ("0", "3.0", "3"),
            ("0", "1e20", "100000000000000000000"),
            ("0", "1e-18", "0"),
        ];
        for &(cur, by, want) in ok {
            assert_eq!(incr(cur, by).as_deref(), Ok(want), "{cur} + {by}");
        }
        assert_eq!(
            incr("1e300", "1e300").as_deref(),
            Ok("2000000000000000000017994648159118387741047888546581495876520164642531293192361871511698304167500994380700745017228549671807185112369345967826192521041497292574654271283687306588168510215212033579453305864740061102765895241989080589545563779241212358535223254194821301134374772211380178849830208012288")
        );
        assert_eq!(
            incr("1.5e308", "1.5e308").as_deref(),
            Ok("299999999999999999999802952978936936062033681930121889934267370842360212133382092073513329456432044063805856741044049928681709165013290418975721613155792350350455287355122225755520606513477793033688249842856870392034430282663023473578541488576654642706081008486842868180099693230377808905266593729023699845120")
        );
        // 1e4932 is finite in long double: a 4933-digit integer comes back.
        let big = incr("0", "1e4932").expect("finite");
        assert_eq!(big.len(), 4933);
        assert!(big.starts_with("1000000000000000000006018949387963891323837774254533"));
        assert!(big.ends_with("141086538418113791886622720"));
    }

    #[test]
    fn incr_by_float_errors() {
        use IncrFloatError::*;
        let cases: &[(&str, &str, IncrFloatError)] = &[
            (" 1", "1", NotAFloat),
            ("abc", "1", NotAFloat),
            ("1", "abc", NotAFloat),
            ("1", "nan", NotAFloat),
            ("1", " 1", NotAFloat),
            ("1", "1 ", NotAFloat),
            ("1", "", NotAFloat),
            ("", "1", NotAFloat),
            ("0", "1e4933", NotAFloat),
            ("0", "1e-5000", NotAFloat),
            ("0", "1e-4960", NotAFloat),
            ("1", "inf", WouldProduceNanOrInfinity),
            ("1", "-inf", WouldProduceNanOrInfinity),
            ("inf", "1", WouldProduceNanOrInfinity),
            ("inf", "-inf", WouldProduceNanOrInfinity),
            ("1e4932", "1e4932", WouldProduceNanOrInfinity),
        ];
        for &(cur, by, want) in cases {
            assert_eq!(incr(cur, by), Err(want), "{cur} + {by}");
        }
        // string2ld's buffer limit: 5119 bytes is the longest accepted input.
        let ok_len = format!("1.{}", "0".repeat(5117));
        assert_eq!(incr("0", &ok_len).as_deref(), Ok("1"));
        let too_long = format!("1.{}", "0".repeat(5118));
        assert_eq!(incr("0", &too_long), Err(NotAFloat));
        assert_eq!(incr_by_float(b"1", b"1\0"), Err(NotAFloat), "embedded NUL");
    }

    #[test]
    fn hincr_by_float_matches_redis() {
        use IncrFloatError::*;
        // Verified with HSET h f <cur>; HINCRBYFLOAT h f <by> on 7.0.15.
        assert_eq!(hincr("10.50", "0.1").as_deref(), Ok("10.6"));
        assert_eq!(hincr("5", "-5").as_deref(), Ok("0"));
        assert_eq!(hincr("123", "0.5").as_deref(), Ok("123.5"));
        assert_eq!(hincr("abc", "1"), Err(HashValueNotAFloat));
        assert_eq!(hincr("", "1"), Err(HashValueNotAFloat));
        assert_eq!(hincr("1", "abc"), Err(NotAFloat));
        assert_eq!(hincr("abc", "abc"), Err(NotAFloat));
        assert_eq!(hincr("1", "nan"), Err(NotAFloat));
        assert_eq!(hincr("1", "inf"), Err(IncrementNanOrInfinity));
        assert_eq!(hincr("abc", "inf"), Err(IncrementNanOrInfinity));
        assert_eq!(hincr("inf", "1"), Err(WouldProduceNanOrInfinity));
        assert_eq!(hincr("1e4932", "1e4932"), Err(WouldProduceNanOrInfinity));
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            IncrFloatError::NotAFloat.message(),
            "ERR value is not a valid float"
        );
        assert_eq!(
            IncrFloatError::HashValueNotAFloat.message(),
            "ERR hash value is not a float"
        );
        assert_eq!(
            IncrFloatError::IncrementNanOrInfinity.message(),
            "ERR value is NaN or Infinity"
        );
        assert_eq!(
            IncrFloatError::WouldProduceNanOrInfinity.message(),
            "ERR increment would produce NaN or Infinity"
        );
    }

    #[test]
    fn format_i64_matches_decimal() {
        for v in [
            0,
            1,
            -1,
            9,
            10,
            -10,
            99,
            100,
            101,
            12345,
            -987654321,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            assert_eq!(fmt_i(v), v.to_string());
        }
        let mut x: i64 = 1;
        while let Some(next) = x.checked_mul(7) {
            assert_eq!(fmt_i(x), x.to_string());
            assert_eq!(fmt_i(-x), (-x).to_string());
            assert_eq!(fmt_i(x - 1), (x - 1).to_string());
            x = next;
        }
        let mut v = b"*".to_vec();
        format_i64(-42, &mut v);
        assert_eq!(v, b"*-42");
    }
}
