//! Glob-style matching, a faithful port of Redis 7.0 `stringmatchlen`
//! (util.c), quirks included: it is used by KEYS, SCAN MATCH, PSUBSCRIBE,
//! CONFIG GET, ACL key/channel patterns, ... and clients see its exact
//! behaviour.

/// Redis stops recursing on `*` past this depth and reports "no match"
/// (protection against abusive patterns).
const MAX_NESTING: u32 = 1000;

/// Redis 7.0 `stringmatchlen`: `*`, `?`, `[...]` (with `^` negation, ranges
/// in either order, `\` escapes), and `\` escapes outside classes.
///
/// Ported byte for byte, including its oddities: bytes compare as C's
/// *signed* `char` in ranges (`[a-\xff]` is the range -1..=97); `nocase`
/// is C-locale `tolower`, applied to range ends after ordering them (so
/// nocase `[Z-a]` matches nothing) but not to `\`-escaped class members;
/// an unterminated `[` class ends at the end of the pattern; reads one past
/// the end see the sds NUL terminator; an empty string only matches an empty
/// pattern (`**` does not match `""`; KEYS/SCAN special-case a lone `*`).
/// Keeps Redis's `skipLongerMatches` pruning, so `a*a*a*...b` is not
/// exponential, and its nesting limit of 1000 `*` levels.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer_matches = false;
    match_impl(pattern, string, nocase, &mut skip_longer_matches, 0)
}

/// C-locale `tolower` on a (possibly negative, signed-char) value.
fn tolower(c: i32) -> i32 {
    if (i32::from(b'A')..=i32::from(b'Z')).contains(&c) {
        c + 32
    } else {
        c
    }
}

/// Redis `stringmatchlen_impl`. `p` and `s` are cursors; the pattern
/// length left is always `pat.len() - p`, exactly as in the C code.
fn match_impl(
    pat: &[u8],
    string: &[u8],
    nocase: bool,
    skip_longer_matches: &mut bool,
    nesting: u32,
) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    // Byte at `i`, or the NUL terminator an sds string has past its end.
    let at = |i: usize| pat.get(i).copied().unwrap_or(0);
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let mut p = 0;
    let mut s = 0;

    while p < pat.len() && s < string.len() {
        match pat[p] {
            b'*' => {
                while at(p + 1) == b'*' {
                    p += 1;
                }
                if pat.len() - p == 1 {
                    return true;
                }
                while s < string.len() {
                    if match_impl(
                        &pat[p + 1..],
                        &string[s..],
                        nocase,
                        skip_longer_matches,
                        nesting + 1,
                    ) {
                        return true;
                    }
                    if *skip_longer_matches {
                        return false;
                    }
                    s += 1;
                }
                // The rest of the pattern matches nowhere in the rest of the
                // string, so no earlier '*' can do better by eating more.
                *skip_longer_matches = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let not = at(p) == b'^';
                if not {
                    p += 1;
                }
                let c = string[s];
                let mut matched = false;
                loop {
                    let left = pat.len() - p;
                    if at(p) == b'\\' && left >= 2 {
                        p += 1;
                        if at(p) == c {
                            matched = true;
                        }
                    } else if at(p) == b']' {
                        break;
                    } else if left == 0 {
                        p -= 1;
                        break;
                    } else if left >= 3 && at(p + 1) == b'-' {
                        // C `char` is signed: compare as i8.
                        let mut start = i32::from(at(p) as i8);
                        let mut end = i32::from(at(p + 2) as i8);
                        let mut ch = i32::from(c as i8);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = tolower(start);
                            end = tolower(end);
                            ch = tolower(ch);
                        }
                        p += 2;
                        if ch >= start && ch <= end {
                            matched = true;
                        }
                    } else if eq(at(p), c) {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
            }
            first => {
                let lit = if first == b'\\' && pat.len() - p >= 2 {
                    p += 1;
                    pat[p]
                } else {
                    first
                };
                if !eq(lit, string[s]) {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == string.len() {
            while at(p) == b'*' {
                p += 1;
            }
            break;
        }
    }
    p == pat.len() && s == string.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys present in the redis-server 7.0.15 session the KEYS results
    /// below were recorded from.
    const KEYS: &[&[u8]] = &[
        b"a", b"b", b"c", b"ab", b"abc", b"[", b"]", b"-", b"^", b"\\", b"A", b"Z", b"z", b"*",
        b"?", b"a]", b"x",
    ];

    fn keys(pattern: &[u8], keys: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| glob_match(pattern, k, false))
            .map(|k| k.to_vec())
            .collect();
        v.sort();
        v
    }

    fn expect(pattern: &[u8], want: &[&[u8]]) {
        let mut want: Vec<Vec<u8>> = want.iter().map(|k| k.to_vec()).collect();
        want.sort();
        assert_eq!(
            keys(pattern, KEYS),
            want,
            "pattern {:?}",
            String::from_utf8_lossy(pattern)
        );
    }

    #[test]
    fn keys_bracket_quirks() {
        // All recorded with KEYS on redis-server 7.0.15.
        let all_but = |skip: &[&[u8]]| -> Vec<&[u8]> {
            let mut v: Vec<&[u8]> = KEYS
                .iter()
                .copied()
                .filter(|k| k.len() == 1 && !skip.contains(k))
                .collect();
            v.sort();
            v
        };
        expect(b"[", &[]);
        expect(b"[^", &all_but(&[]));
        expect(b"[a", &[b"a"]);
        expect(b"[^a", &all_but(&[b"a"]));
        expect(b"[]", &[]);
        expect(b"[]]", &[]);
        expect(b"[a-]", &[b"]", b"^", b"a"]);
        expect(b"[-a]", &[b"-", b"a"]);
        expect(b"[z-a]", &[b"a", b"b", b"c", b"x", b"z"]);
        expect(b"[a-c]", &[b"a", b"b", b"c"]);
        expect(b"[^a-b]", &all_but(&[b"a", b"b"]));
        expect(b"[\\]]", &[b"]"]);
        expect(b"[\\", &[b"\\"]);
        expect(b"\\", &[b"\\"]);
        expect(b"a\\", &[]);
        expect(b"[a-\\]", &[b"\\", b"]", b"^", b"a"]);
        expect(b"[]a]", &[]);
        expect(b"[!a]", &[b"a"]);
        expect(b"[ab", &[b"a", b"b"]);
        expect(b"a[", &[]);
        expect(b"a[]", &[]);
        expect(b"[^]", &all_but(&[]));
        expect(b"[^]]", &[b"a]"]);
        expect(b"\\*", &[b"*"]);
        expect(b"\\?", &[b"?"]);
        expect(b"[[]", &[b"["]);
        expect(b"[\\-]", &[b"-"]);
        expect(b"[A-a]", &[b"A", b"Z", b"[", b"\\", b"]", b"^", b"a"]);
        expect(b"[a-A]", &[b"A", b"Z", b"[", b"\\", b"]", b"^", b"a"]);
        expect(b"[--]", &[b"-", b"?", b"A", b"Z", b"[", b"\\", b"]"]);
        expect(b"[---]", &[b"-"]);
        expect(b"*]", &[b"]", b"a]"]);
        expect(b"a\\]", &[b"a]"]);
        expect(b"\\a", &[b"a"]);
        expect(b"[\\a]", &[b"a"]);
    }

    #[test]
    fn empty_string() {
        // With only the key "" present: KEYS ** / ? / [^ / a* find nothing;
        // KEYS "" finds it (KEYS * is special-cased by Redis itself).
        for p in [
            &b"**"[..],
            b"?",
            b"[",
            b"[^",
            b"\\",
            b"a*",
            b"*a",
            b"*?",
            b"***",
            b"*",
        ] {
            assert!(!glob_match(p, b"", false), "{p:?}");
        }
        assert!(glob_match(b"", b"", false));
        assert!(!glob_match(b"", b"a", false));
    }

    #[test]
    fn signed_char_ranges() {
        // Recorded with KEYS on 7.0.15 over these keys.
        let ks: &[&[u8]] = &[
            b"\xff", b"\x80", b"\xfe", b"a", b"b", b"B", b"0", b"\x01", b"z",
        ];
        let sorted = |v: &[&[u8]]| {
            let mut v: Vec<Vec<u8>> = v.iter().map(|k| k.to_vec()).collect();
            v.sort();
            v
        };
        let both: &[&[u8]] = &[b"0", b"B", b"\x01", b"a", b"\xff"];
        assert_eq!(keys(b"[a-\xff]", ks), sorted(both));
        assert_eq!(keys(b"[\xff-a]", ks), sorted(both));
        assert_eq!(
            keys(b"[\x80-\xff]", ks),
            sorted(&[b"\xff", b"\xfe", b"\x80"])
        );
        assert_eq!(
            keys(b"[\x01-\x80]", ks),
            sorted(&[b"\x01", b"\xff", b"\xfe", b"\x80"])
        );
        assert_eq!(
            keys(b"[^\x80-\xfe]", ks),
            sorted(&[b"0", b"B", b"\x01", b"a", b"\xff", b"b", b"z"])
        );
        assert_eq!(keys(b"[A-b]", ks), sorted(&[b"B", b"a", b"b"]));
    }

    #[test]
    fn nocase_like_config_get() {
        // Recorded with CONFIG GET <pattern> on 7.0.15 (nocase matching).
        let m = |p: &[u8]| glob_match(p, b"maxmemory", true);
        assert!(m(b"[L-N]axmemory"));
        assert!(!m(b"[M-a]axmemory"));
        assert!(!m(b"[a-M]axmemory"));
        assert!(m(b"[A-z]axmemory"));
        assert!(!m(b"[\\M]axmemory"));
        assert!(m(b"[\\m]axmemory"));
        assert!(m(b"MAXMEMOR?"));
        assert!(m(b"MaxMemory"));
        assert!(!m(b"[^M]axmemory"));
        assert!(!glob_match(b"MAXMEMORY", b"maxmemory", false));
    }

    #[test]
    fn basics() {
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h*llo", b"heeeello", false));
        assert!(glob_match(b"h*llo", b"hllo", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[ae]llo", b"hillo", false));
        assert!(glob_match(b"h[^e]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"a*", b"a", false));
        assert!(glob_match(b"a**", b"a", false));
        assert!(glob_match(b"a*b*", b"ab", false));
        assert!(!glob_match(b"a*b", b"abc", false));
        assert!(glob_match(b"*b", b"abcb", false));
        assert!(glob_match(b"a\0b", b"a\0b", false));
    }

    #[test]
    fn nesting_limit() {
        // Recorded with KEYS against a key of 2000 'a's on 7.0.15.
        let key = vec![b'a'; 2000];
        let star_a = |n: usize| b"*a".repeat(n);
        let a_star = |n: usize| b"a*".repeat(n);
        assert!(glob_match(&star_a(999), &key, false));
        assert!(glob_match(&star_a(1000), &key, false));
        assert!(!glob_match(&star_a(1001), &key, false));
        assert!(!glob_match(&star_a(1002), &key, false));
        assert!(glob_match(&a_star(1000), &key, false));
        assert!(glob_match(&a_star(1001), &key, false));
        assert!(!glob_match(&a_star(1002), &key, false));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let key = vec![b'a'; 100_000];
        let mut pat = b"a*".repeat(30);
        pat.push(b'b');
        let start = std::time::Instant::now();
        assert!(!glob_match(&pat, &key, false));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }
}
