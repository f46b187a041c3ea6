//! Port of Redis `sdssplitargs` (sds.c): splits an inline command or a
//! redis.conf line into arguments.

/// C `isspace` in the "C" locale: the set `sdssplitargs` skips between
/// arguments (space, `\t`, `\n`, `\v`, `\f`, `\r`).
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits `line` into arguments exactly like Redis `sdssplitargs`, which
/// both the inline protocol and the config file loader use.
///
/// * Arguments are separated by C whitespace; an unquoted argument ends only
///   at space, `\t`, `\n`, `\r` (not `\v`/`\f`, as in Redis).
/// * `"..."` understands `\n \r \t \b \a`, `\xHH` (two hex digits) and
///   `\<any>` meaning `<any>`.
/// * `'...'` understands only `\'`.
/// * A quote may start in the middle of an argument (`a"b c"` is `ab c`),
///   but a closing quote must be followed by whitespace or the end.
/// * A NUL byte ends the input, since Redis works on C strings.
///
/// Returns `None` for unbalanced quotes or a closing quote followed by
/// something else (Redis returns NULL).
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    // Bytes past the end read as NUL, like the C string terminator.
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while at(p) != 0 && is_c_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Some(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = at(p);
            if in_double {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(hi), Some(lo)) = (hex_value(at(p + 2)), hex_value(at(p + 3))) {
                        current.push(hi * 16 + lo);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => current.push(c),
                }
            }
            p += 1;
        }
        args.push(current);
    }
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn split(line: &[u8]) -> Option<Vec<Vec<u8>>> {
        split_args(line)
    }

    fn ok(line: &[u8], want: &[&[u8]]) {
        let got = split(line).expect("should parse");
        let want: Vec<Vec<u8>> = want.iter().map(|w| w.to_vec()).collect();
        assert_eq!(got, want, "line {:?}", String::from_utf8_lossy(line));
    }

    #[test]
    fn whitespace_separation() {
        ok(b"", &[]);
        ok(b"   \t\r\n", &[]);
        ok(b"set a b", &[b"set", b"a", b"b"]);
        ok(b"  set \t a\r\nb  ", &[b"set", b"a", b"b"]);
        // \v and \f are skipped between arguments but do not end one.
        ok(b"\x0bECHO x", &[b"ECHO", b"x"]);
        ok(b"ECHO a\x0bb", &[b"ECHO", b"a\x0bb"]);
        ok(b"ECHO a\x0cb", &[b"ECHO", b"a\x0cb"]);
    }

    #[test]
    fn double_quotes() {
        ok(b"ECHO \"a\\x41\\x4a\\x4\"", &[b"ECHO", b"aAJx4"]);
        ok(
            b"ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\\q\"",
            &[b"ECHO", b"\n\r\t\x08\x07\\\"q"],
        );
        ok(b"ECHO \"\\xZZ\"", &[b"ECHO", b"xZZ"]);
        ok(b"ECHO \"\\xfF\"", &[b"ECHO", b"\xff"]);
        ok(b"ECHO \"\"", &[b"ECHO", b""]);
        ok(b"ECHO \"a b\" c", &[b"ECHO", b"a b", b"c"]);
        // A quote can open mid-argument.
        ok(b"ECHO foo\"bar baz\"", &[b"ECHO", b"foobar baz"]);
        // Closing quote followed by any isspace (also \v, \f) is fine.
        ok(b"ECHO \"a\"\x0b", &[b"ECHO", b"a"]);
        ok(b"ECHO \"a\"\x0c", &[b"ECHO", b"a"]);
        ok(b"SET \"a\\x41\" b", &[b"SET", b"aA", b"b"]);
    }

    #[test]
    fn single_quotes() {
        ok(b"ECHO 'a\\'b\\n'", &[b"ECHO", b"a'b\\n"]);
        ok(b"ECHO ''", &[b"ECHO", b""]);
        ok(b"ECHO 'a \"b\"'", &[b"ECHO", b"a \"b\""]);
    }

    #[test]
    fn errors() {
        assert_eq!(split(b"ECHO \"a\"b"), None);
        assert_eq!(split(b"ECHO 'a'b"), None);
        assert_eq!(split(b"ECHO \"abc"), None);
        assert_eq!(split(b"ECHO 'abc"), None);
        assert_eq!(split(b"ECHO \"x\\\""), None);
        assert_eq!(split(b"ECHO \"x\\"), None);
        assert_eq!(split(b"port \"7001\"x"), None);
    }

    #[test]
    fn nul_ends_input() {
        ok(b"ECHO a\0b c", &[b"ECHO", b"a"]);
        assert_eq!(split(b"ECHO \"a\0b\""), None);
    }
}
