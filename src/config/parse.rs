//! Ports of the small Redis parsing/formatting helpers the config code
//! relies on (util.c, sds.c, notify.c, server.c), with their quirks.

pub use crate::number::parse_i64 as string2ll;

/// Result of [`strtoll`]: the value (saturated on overflow, like C), how
/// many bytes were consumed, and whether it overflowed (`ERANGE`).
pub struct StrToLl {
    pub value: i64,
    pub consumed: usize,
    pub overflow: bool,
}

/// Port of C `strtoll(s, &end, base)` for bases 8 and 10 as Redis calls it:
/// leading C whitespace, optional sign, digits; saturates on overflow.
/// `consumed` is 0 when no digits were found (C sets `end = s`).
pub fn strtoll(s: &[u8], base: u32) -> StrToLl {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: u128 = 0;
    let mut overflow = false;
    while i < s.len() {
        let Some(d) = char::from(s[i]).to_digit(base) else {
            break;
        };
        v = v * u128::from(base) + u128::from(d);
        if v > u128::from(u64::MAX) {
            overflow = true;
            v = u128::from(u64::MAX);
        }
        i += 1;
    }
    if i == start {
        return StrToLl {
            value: 0,
            consumed: 0,
            overflow: false,
        };
    }
    let value = if negative {
        if v > (i64::MAX as u128) + 1 {
            overflow = true;
            i64::MIN
        } else {
            (v as i128).wrapping_neg() as i64
        }
    } else if v > i64::MAX as u128 {
        overflow = true;
        i64::MAX
    } else {
        v as i64
    };
    StrToLl {
        value,
        consumed: i,
        overflow,
    }
}

/// `strtoll(s, &end, 10)` accepted only if `*end == '\0'` afterwards, as
/// Redis writes it for `save` and `client-output-buffer-limit`: an empty
/// string is 0, leading spaces and `+` are allowed, overflow saturates.
pub fn strtoll_whole(s: &[u8]) -> Option<i64> {
    let r = strtoll(s, 10);
    (r.consumed == s.len()).then_some(r.value)
}

/// Port of Redis `memtoull` (util.c) as in 7.0: digits then an optional
/// unit (`b`, `k`, `kb`, `m`, `mb`, `g`, `gb`, any case). Quirks kept:
/// an empty number is 0 (`""`, `"kb"`), overflow saturates then the unit
/// multiplication wraps, leading zeros are fine, no sign or spaces.
pub fn memtoull(s: &[u8]) -> Option<u64> {
    if s.first() == Some(&b'-') {
        return None;
    }
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = s[digits..].to_ascii_lowercase();
    let mul: u64 = match unit.as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits >= 128 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[..digits] {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .unwrap_or(u64::MAX);
    }
    Some(v.wrapping_mul(mul))
}

/// Port of Redis `string2d` (util.c), i.e. `strtod` that must consume the
/// whole non-empty input, may not start with a space, and may not be NaN
/// or overflow/underflow. Handles C hex floats (`0x10`) too.
pub fn string2d(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    let first = *s.first()?;
    if matches!(first, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return None;
    }
    let (negative, body) = match first {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = if body.len() > 2 && body.as_bytes()[..2].eq_ignore_ascii_case(b"0x") {
        parse_hex_float(&body[2..])?
    } else {
        if body.starts_with(['+', '-']) {
            return None;
        }
        let v: f64 = body.parse().ok()?;
        let lower = body.to_ascii_lowercase();
        let literal_inf = lower == "inf" || lower == "infinity";
        // strtod reports ERANGE for overflow to HUGE_VAL and for underflow
        // to zero; string2d refuses both.
        if v.is_infinite() && !literal_inf {
            return None;
        }
        let mantissa = lower.split('e').next().unwrap_or("");
        if v == 0.0 && mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c)) {
            return None;
        }
        v
    };
    if magnitude.is_nan() {
        return None;
    }
    Some(if negative { -magnitude } else { magnitude })
}

/// The part of C `strtod` after "0x": hex digits, optional `.` fraction,
/// optional binary exponent `p[+-]N`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mantissa, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    if let Some(exp) = exp {
        let e: i64 = exp.parse().ok()?;
        v *= 2f64.powi(i32::try_from(e.clamp(-2000, 2000)).ok()?);
    }
    if v.is_infinite() {
        return None;
    }
    Some(v)
}

/// `printf("%f")` followed by Redis `trimDoubleString` (trailing zeros and
/// a trailing dot removed), as CONFIG GET renders percentiles.
pub fn format_percentile(v: f64) -> String {
    let mut s = format!("{v:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// Redis's `sdscatrepr`, as `main()` quotes command-line option values
/// before appending them to the config text (only ASCII comes out).
pub fn repr(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    crate::util::repr(s, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Keyspace notification class flags (Redis `NOTIFY_*`, server.h), as
/// returned by `Config::notify_keyspace_events()`.
pub mod notify {
    /// `K`: publish to `__keyspace@<db>__`.
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: publish to `__keyevent@<db>__`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: expired events.
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: evicted events.
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u32 = 1 << 10;
    /// `m`: key-miss events (not part of `A`).
    pub const KEY_MISS: u32 = 1 << 11;
    /// `d`: module key type events.
    pub const MODULE: u32 = 1 << 13;
    /// `n`: new key events (not part of `A`).
    pub const NEW: u32 = 1 << 14;
    /// `A`: alias for `g$lshzxetd`.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Port of Redis `keyspaceEventsStringToFlags` (notify.c).
pub fn keyspace_events_from_str(s: &[u8]) -> Option<u32> {
    let mut flags = 0;
    for &c in s {
        flags |= match c {
            b'A' => notify::ALL,
            b'g' => notify::GENERIC,
            b'$' => notify::STRING,
            b'l' => notify::LIST,
            b's' => notify::SET,
            b'h' => notify::HASH,
            b'z' => notify::ZSET,
            b'x' => notify::EXPIRED,
            b'e' => notify::EVICTED,
            b'K' => notify::KEYSPACE,
            b'E' => notify::KEYEVENT,
            b't' => notify::STREAM,
            b'm' => notify::KEY_MISS,
            b'd' => notify::MODULE,
            b'n' => notify::NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// Port of Redis `keyspaceEventsFlagsToString` (notify.c). Quirk kept:
/// when all of `A` is set, `n` is not rendered even if present.
pub fn keyspace_events_to_string(flags: u32) -> String {
    let mut s = String::new();
    if flags & notify::ALL == notify::ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (notify::GENERIC, 'g'),
            (notify::STRING, '$'),
            (notify::LIST, 'l'),
            (notify::SET, 's'),
            (notify::HASH, 'h'),
            (notify::ZSET, 'z'),
            (notify::EXPIRED, 'x'),
            (notify::EVICTED, 'e'),
            (notify::STREAM, 't'),
            (notify::MODULE, 'd'),
            (notify::NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [
        (notify::KEYSPACE, 'K'),
        (notify::KEYEVENT, 'E'),
        (notify::KEY_MISS, 'm'),
    ] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// Port of Redis `validateProcTitleTemplate` (server.c) on top of
/// `sdstemplate` (sds.c): `{name}` variables must be known, `{{` is a
/// literal brace, and the expansion (title empty) must not be blank.
pub fn valid_proc_title_template(t: &[u8]) -> bool {
    let mut out: Vec<u8> = Vec::new();
    let mut p = t;
    while !p.is_empty() {
        let Some(open) = p.iter().position(|&c| c == b'{') else {
            out.extend_from_slice(p);
            break;
        };
        out.extend_from_slice(&p[..open]);
        let var = &p[open + 1..];
        match var.first() {
            None => return false,
            Some(b'{') => {
                out.push(b'{');
                p = &var[1..];
                continue;
            }
            Some(_) => {}
        }
        let Some(close) = var.iter().position(|&c| c == b'}') else {
            return false;
        };
        // Values as seen while validating: the title is empty, the listen
        // address and ports are never empty; the others may be.
        match &var[..close] {
            b"title" | b"server-mode" | b"config-file" | b"unixsocket" => {}
            b"listen-addr" | b"port" | b"tls-port" => out.push(b'x'),
            _ => return false,
        }
        p = &var[close + 1..];
    }
    out.iter().any(|&c| c != b' ')
}

/// Text of C `strerror` for the errors `chdir`/`fopen`/`bind` commonly
/// report, so messages read like Redis's.
pub fn strerror(e: &std::io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(1) => "Operation not permitted",
        Some(2) => "No such file or directory",
        Some(5) => "Input/output error",
        Some(13) => "Permission denied",
        Some(17) => "File exists",
        Some(20) => "Not a directory",
        Some(21) => "Is a directory",
        Some(24) => "Too many open files",
        Some(28) => "No space left on device",
        Some(30) => "Read-only file system",
        Some(36) => "File name too long",
        Some(40) => "Too many levels of symbolic links",
        Some(98) => "Address already in use",
        Some(99) => "Cannot assign requested address",
        // The C library's text, as Rust words it, without its " (os error N)".
        _ => {
            let text = e.to_string();
            return text
                .split(" (os error")
                .next()
                .unwrap_or_default()
                .to_string();
        }
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"-",
            b"1k",
            b"9223372036854775808",
            b"99999999999999999999",
        ] {
            assert_eq!(string2ll(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn strtoll_rules() {
        assert_eq!(strtoll_whole(b""), Some(0));
        assert_eq!(strtoll_whole(b"+7"), Some(7));
        assert_eq!(strtoll_whole(b"\t8"), Some(8));
        assert_eq!(strtoll_whole(b"-5"), Some(-5));
        assert_eq!(strtoll_whole(b"1x"), None);
        assert_eq!(strtoll_whole(b"x"), None);
        assert_eq!(strtoll_whole(b"99999999999999999999"), Some(i64::MAX));
        let r = strtoll(b"777", 8);
        assert_eq!((r.value, r.consumed, r.overflow), (0o777, 3, false));
        assert_eq!(strtoll(b"8", 8).consumed, 0);
    }

    #[test]
    fn memtoull_rules() {
        // All verified against redis-server 7.0.15 via CONFIG SET maxmemory.
        assert_eq!(memtoull(b"1B"), Some(1));
        assert_eq!(memtoull(b"1K"), Some(1000));
        assert_eq!(memtoull(b"1Kb"), Some(1024));
        assert_eq!(memtoull(b"1mB"), Some(1048576));
        assert_eq!(memtoull(b"1G"), Some(1_000_000_000));
        assert_eq!(memtoull(b"1gB"), Some(1073741824));
        assert_eq!(memtoull(b"00012"), Some(12));
        assert_eq!(memtoull(b""), Some(0));
        assert_eq!(memtoull(b"kb"), Some(0));
        assert_eq!(memtoull(b"b"), Some(0));
        assert_eq!(memtoull(b"99999999999999999999"), Some(u64::MAX));
        assert_eq!(
            memtoull(b"18446744073709551615k"),
            Some(18446744073709550616)
        );
        assert_eq!(memtoull(b"9223372036854775808k"), Some(0));
        assert_eq!(memtoull(b"20000000000gb"), Some(3028092406290448384));
        for bad in [&b"1.5gb"[..], b"+1", b" 1", b"-1", b"0x10", b"1kk", b"abc"] {
            assert_eq!(memtoull(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn string2d_rules() {
        assert_eq!(string2d(b"99.9"), Some(99.9));
        assert_eq!(string2d(b"1e1"), Some(10.0));
        assert_eq!(string2d(b"0x10"), Some(16.0));
        assert_eq!(string2d(b"0x1.8p1"), Some(3.0));
        assert_eq!(string2d(b".5"), Some(0.5));
        assert_eq!(string2d(b"5."), Some(5.0));
        assert_eq!(string2d(b"-0"), Some(-0.0));
        assert_eq!(string2d(b"inf"), Some(f64::INFINITY));
        assert_eq!(string2d("0é".as_bytes()), None);
        assert_eq!(string2d("-é".as_bytes()), None);
        assert_eq!(string2d(b"0x"), None);
        assert_eq!(string2d(b"\xff"), None);
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e400",
            b"1e-400",
            b"abc",
            b"1k",
        ] {
            assert_eq!(string2d(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn percentile_format() {
        assert_eq!(format_percentile(50.0), "50");
        assert_eq!(format_percentile(99.9), "99.9");
        assert_eq!(format_percentile(12.3456789), "12.345679");
        assert_eq!(format_percentile(-0.0), "-0");
        assert_eq!(format_percentile(0.5), "0.5");
        // printf rounding, checked against redis-server.
        assert_eq!(format_percentile(0.0078125), "0.007812");
        assert_eq!(format_percentile(0.0000005), "0");
        assert_eq!(format_percentile(2.5000005), "2.500001");
        assert_eq!(format_percentile(99.9999995), "100");
    }

    #[test]
    fn repr_quotes() {
        assert_eq!(repr(b"abc"), "\"abc\"");
        assert_eq!(repr(b""), "\"\"");
        assert_eq!(repr(b"a\"b\\\n\x01\xff"), "\"a\\\"b\\\\\\n\\x01\\xff\"");
    }

    #[test]
    fn keyspace_events() {
        let f = |s: &[u8]| keyspace_events_from_str(s).map(keyspace_events_to_string);
        // Verified against redis-server 7.0.15.
        assert_eq!(f(b"KEA").as_deref(), Some("AKE"));
        assert_eq!(f(b"An").as_deref(), Some("A"));
        assert_eq!(f(b"g$lshzxetdmnKE").as_deref(), Some("AKEm"));
        assert_eq!(f(b"g$lshzxetmnKE").as_deref(), Some("g$lshzxetnKEm"));
        assert_eq!(f(b"").as_deref(), Some(""));
        assert_eq!(f(b"Z"), None);
    }

    #[test]
    fn proc_title_templates() {
        assert!(valid_proc_title_template(
            b"{title} {listen-addr} {server-mode}"
        ));
        assert!(valid_proc_title_template(b"{{literal"));
        assert!(!valid_proc_title_template(b"{foo}"));
        assert!(!valid_proc_title_template(b"{title}"));
        assert!(!valid_proc_title_template(b"  "));
        assert!(!valid_proc_title_template(b"{port"));
        assert!(!valid_proc_title_template(b"x{"));
    }
}
