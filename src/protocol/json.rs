//! JSON mode: one JSON object per line, for people typing inline requests
//! into telnet (the server's `json yes`) and for `reddish-cli --json`.
//!
//! ```text
//! SET user1 Alice   ->  {"command":"SET user1 Alice","response":"OK"}
//! GET               ->  {"command":"GET","error":"ERR wrong number of arguments for 'get' command"}
//! ```
//!
//! `command` is the request line as typed, trimmed of surrounding whitespace.
//! Replies map onto JSON as: status, bulk, verbatim and big-number strings →
//! string; null → `null`; integer → number; array, set and push → array; map
//! → object (a key that is not a string is written as its own JSON text inside
//! a string, e.g. `"1"`); double → number, except `inf`, `-inf` and `nan`,
//! which JSON cannot express and are written as those strings; bool →
//! `true`/`false`. An error nested inside an aggregate (a failed command in
//! EXEC's reply) becomes `{"error":"..."}`.
//!
//! # Bytes that are not UTF-8
//!
//! Redis strings are binary, JSON strings are Unicode. Valid UTF-8 is written
//! as itself (with JSON's escapes for `"`, `\` and control characters). Each
//! byte that is not part of valid UTF-8 is written as the four characters
//! `\xHH` (lowercase hex), as redis-cli shows it. To keep that unambiguous, a
//! literal backslash is doubled when the next character written is `\` or
//! `x`; every other backslash is written once, so ordinary text, paths and
//! regexes read as typed. After parsing the JSON, the exact bytes come back
//! by scanning left to right: `\\` → `\`, `\xHH` → the byte 0xHH, anything
//! else as is.

use bytes::{BufMut, BytesMut};

use super::Reply;

/// Appends `{"command":...,"response":...}\n` (or `"error"` for an error
/// reply) to `out`: the whole answer to one inline request.
pub fn encode_json(command: &[u8], reply: &Reply, out: &mut BytesMut) {
    out.put_slice(b"{\"command\":");
    put_string(command.trim_ascii(), out);
    match reply {
        Reply::Error(text) => {
            out.put_slice(b",\"error\":");
            put_string(text, out);
        }
        _ => {
            out.put_slice(b",\"response\":");
            put_value(reply, out);
        }
    }
    out.put_slice(b"}\n");
}

/// A JSON array of `items`, each written by `put`.
fn put_list<T>(items: impl Iterator<Item = T>, out: &mut BytesMut, put: impl Fn(T, &mut BytesMut)) {
    out.put_u8(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        put(item, out);
    }
    out.put_u8(b']');
}

fn put_value(reply: &Reply, out: &mut BytesMut) {
    match reply {
        Reply::Simple(text) => put_string(text, out),
        Reply::Bulk(data) | Reply::Verbatim(_, data) | Reply::BigNumber(data) => {
            put_string(data, out)
        }
        Reply::Error(text) => {
            out.put_slice(b"{\"error\":");
            put_string(text, out);
            out.put_u8(b'}');
        }
        Reply::Integer(n) => out.put_slice(itoa::Buffer::new().format(*n).as_bytes()),
        Reply::Null | Reply::NullArray | Reply::NullIn(_) => out.put_slice(b"null"),
        Reply::Bool(b) => out.put_slice(if *b { b"true" } else { b"false" }),
        Reply::Double(d) => put_double(*d, out),
        // Finite decimal text (`-122.27652043104172`): a JSON number as it is.
        Reply::DoubleText(text) => out.put_slice(text),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            put_list(items.iter(), out, put_value)
        }
        Reply::Bulks(bulks) => put_list(bulks.iter(), out, put_string),
        // JSON has no attributes: like RESP2, only the reply itself.
        Reply::Attribute(_, reply) => put_value(reply, out),
        Reply::Map(pairs) => {
            out.put_u8(b'{');
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.put_u8(b',');
                }
                put_key(key, out);
                out.put_u8(b':');
                put_value(value, out);
            }
            out.put_u8(b'}');
        }
    }
}

/// JSON object keys must be strings: string-like keys are written as their
/// text, anything else as its JSON text in a string (like redis-cli --json).
fn put_key(key: &Reply, out: &mut BytesMut) {
    match key {
        Reply::Simple(text) => put_string(text, out),
        Reply::Bulk(data) | Reply::Verbatim(_, data) | Reply::BigNumber(data) => {
            put_string(data, out)
        }
        _ => {
            let mut text = BytesMut::new();
            put_value(key, &mut text);
            put_string(&text, out);
        }
    }
}

/// Finite doubles as the shortest text that reads back to the same value;
/// JSON has no infinities or NaN, so those are strings.
fn put_double(d: f64, out: &mut BytesMut) {
    if d.is_nan() {
        out.put_slice(b"\"nan\"");
    } else if d.is_infinite() {
        out.put_slice(if d > 0.0 { b"\"inf\"" } else { b"\"-inf\"" });
    } else {
        // Debug formatting is Rust's shortest round-trip form, and always
        // valid JSON ("1.5", "1e21", "-0.0").
        out.put_slice(format!("{d:?}").as_bytes());
    }
}

/// Writes `bytes` as a JSON string, with the lossless scheme of the module
/// docs for bytes that are not UTF-8.
fn put_string(bytes: &[u8], out: &mut BytesMut) {
    out.put_u8(b'"');
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        let invalid_follows = !chunk.invalid().is_empty();
        for (i, c) in valid.char_indices() {
            if c == '\\' {
                let doubled = match valid[i + 1..].chars().next() {
                    Some(next) => next == '\\' || next == 'x',
                    None => invalid_follows,
                };
                out.put_slice(if doubled { b"\\\\\\\\" } else { b"\\\\" });
            } else {
                put_char(c, out);
            }
        }
        for &byte in chunk.invalid() {
            out.put_slice(b"\\\\x");
            out.put_slice(&hex_byte(byte));
        }
    }
    out.put_u8(b'"');
}

fn put_char(c: char, out: &mut BytesMut) {
    match c {
        '"' => out.put_slice(b"\\\""),
        '\n' => out.put_slice(b"\\n"),
        '\r' => out.put_slice(b"\\r"),
        '\t' => out.put_slice(b"\\t"),
        '\u{08}' => out.put_slice(b"\\b"),
        '\u{0c}' => out.put_slice(b"\\f"),
        c if (c as u32) < 0x20 => {
            out.put_slice(b"\\u00");
            out.put_slice(&hex_byte(c as u8));
        }
        c => {
            let mut buf = [0u8; 4];
            out.put_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

fn hex_byte(b: u8) -> [u8; 2] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::Value;

    fn json(command: &[u8], reply: &Reply) -> String {
        let mut out = BytesMut::new();
        encode_json(command, reply, &mut out);
        let text = String::from_utf8(out.to_vec()).expect("JSON output is UTF-8");
        assert!(text.ends_with('\n'), "one line: {text:?}");
        assert_eq!(text.matches('\n').count(), 1, "one line: {text:?}");
        text
    }

    fn parsed(command: &[u8], reply: &Reply) -> Value {
        serde_json::from_str(&json(command, reply)).expect("valid JSON")
    }

    /// The inverse of the scheme in the module docs, as a consumer would write it.
    fn unescape(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let hex = |c: u8| (c as char).to_digit(16);
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
                if let (Some(hi), Some(lo)) = (
                    b.get(i + 2).copied().and_then(hex),
                    b.get(i + 3).copied().and_then(hex),
                ) {
                    out.push((hi * 16 + lo) as u8);
                    i += 4;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        out
    }

    fn round_trip(bytes: &[u8]) {
        let v = parsed(b"ECHO x", &Reply::bulk_copy(bytes));
        let s = v["response"].as_str().expect("a string");
        assert_eq!(unescape(s), bytes, "round trip of {bytes:?} via {s:?}");
    }

    #[test]
    fn lab_examples() {
        assert_eq!(
            json(b"SET user1 Alice", &Reply::OK),
            "{\"command\":\"SET user1 Alice\",\"response\":\"OK\"}\n"
        );
        assert_eq!(
            json(
                b"GET",
                &Reply::error("ERR wrong number of arguments for 'get' command")
            ),
            "{\"command\":\"GET\",\"error\":\"ERR wrong number of arguments for 'get' command\"}\n"
        );
        assert_eq!(
            json(b"  GET user1 \r\n", &Reply::bulk_copy(b"Alice")),
            "{\"command\":\"GET user1\",\"response\":\"Alice\"}\n"
        );
    }

    #[test]
    fn every_reply_type() {
        let cases: Vec<(Reply, &str)> = vec![
            (Reply::Null, "null"),
            (Reply::NullArray, "null"),
            (Reply::Integer(-3), "-3"),
            (Reply::Bool(true), "true"),
            (Reply::Bool(false), "false"),
            (Reply::Double(1.5), "1.5"),
            (Reply::Double(0.1), "0.1"),
            (Reply::Double(1e300), "1e300"),
            (Reply::Double(f64::INFINITY), "\"inf\""),
            (Reply::Double(f64::NEG_INFINITY), "\"-inf\""),
            (Reply::Double(f64::NAN), "\"nan\""),
            (
                Reply::DoubleText(Bytes::from_static(b"-122.27652043104172")),
                "-122.27652043104172",
            ),
            (Reply::Verbatim("txt", Bytes::from_static(b"hi")), "\"hi\""),
            (
                Reply::BigNumber(Bytes::from_static(b"123456789012345678901234567890")),
                "\"123456789012345678901234567890\"",
            ),
            (Reply::Array(vec![]), "[]"),
            (
                Reply::Array(vec![
                    Reply::Integer(1),
                    Reply::Array(vec![Reply::Null]),
                    Reply::bulk_copy(b"a"),
                ]),
                "[1,[null],\"a\"]",
            ),
            (Reply::Set(vec![Reply::simple("x")]), "[\"x\"]"),
            (Reply::Push(vec![Reply::simple("x")]), "[\"x\"]"),
            (
                Reply::Map(vec![
                    (Reply::bulk_copy(b"k"), Reply::Integer(1)),
                    (Reply::Integer(2), Reply::Bool(false)),
                    (Reply::Array(vec![Reply::bulk_copy(b"q\"")]), Reply::Null),
                ]),
                "{\"k\":1,\"2\":false,\"[\\\"q\\\\\\\"\\\"]\":null}",
            ),
            (Reply::Map(vec![]), "{}"),
            (
                Reply::Array(vec![Reply::OK, Reply::error("ERR bad")]),
                "[\"OK\",{\"error\":\"ERR bad\"}]",
            ),
        ];
        for (reply, want) in cases {
            let line = json(b"X", &reply);
            assert_eq!(line, format!("{{\"command\":\"X\",\"response\":{want}}}\n"));
            serde_json::from_str::<Value>(&line).expect("valid JSON");
        }
    }

    #[test]
    fn non_string_map_key_reads_back_as_its_json_text() {
        let reply = Reply::Map(vec![(
            Reply::Array(vec![Reply::bulk_copy(b"q\"")]),
            Reply::Null,
        )]);
        let v = parsed(b"X", &reply);
        let key = v["response"]
            .as_object()
            .and_then(|o| o.keys().next().cloned());
        assert_eq!(key.as_deref(), Some("[\"q\\\"\"]"));
    }

    #[test]
    fn json_escapes_for_valid_text() {
        assert_eq!(
            json(b"X", &Reply::bulk_copy(b"a\"b\n\r\t\x08\x0c\x01\x1f\x7f\xc3\xa9\xe2\x82\xac")),
            "{\"command\":\"X\",\"response\":\"a\\\"b\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\u{e9}\u{20ac}\"}\n"
        );
    }

    #[test]
    fn backslashes_are_doubled_only_before_backslash_or_x() {
        let text = |bytes: &[u8]| {
            parsed(b"X", &Reply::bulk_copy(bytes))["response"]
                .as_str()
                .map(str::to_owned)
        };
        assert_eq!(text(b"C:\\dir\\file").as_deref(), Some("C:\\dir\\file"));
        assert_eq!(text(b"a\\").as_deref(), Some("a\\"));
        assert_eq!(text(b"\\x41").as_deref(), Some("\\\\x41"));
        assert_eq!(text(b"\\\\").as_deref(), Some("\\\\\\"));
        assert_eq!(text(b"caf\xe9").as_deref(), Some("caf\\xe9"));
        assert_eq!(text(b"\\\xff").as_deref(), Some("\\\\\\xff"));
    }

    #[test]
    fn binary_strings_round_trip() {
        let mut all_bytes: Vec<u8> = (0..=255).collect();
        all_bytes.extend((0..=255).rev());
        let cases: &[&[u8]] = &[
            b"",
            b"plain",
            b"\\",
            b"\\\\",
            b"\\x",
            b"\\x4",
            b"\\x41",
            b"\\\\x41",
            b"\\xzz",
            b"x\\",
            b"\xff",
            b"\\\xff",
            b"\xff\\",
            b"\xff\\x41",
            b"\xc3",
            b"\xc3\\\xa9",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            "\u{10ffff}\u{2028}é€".as_bytes(),
            &all_bytes,
        ];
        for case in cases {
            round_trip(case);
        }
        // Pseudo-random bytes biased towards the interesting ones.
        let alphabet = b"\\x0aF\xff\xc3\xa9\x80\"\n";
        let mut state = 0x2545_f491_u32;
        for _ in 0..2000 {
            let len = (state % 12) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    alphabet[(state % alphabet.len() as u32) as usize]
                })
                .collect();
            round_trip(&bytes);
        }
    }

    #[test]
    fn command_and_keys_use_the_same_scheme() {
        let v = parsed(
            b"SET caf\xe9 x",
            &Reply::Map(vec![(Reply::bulk_copy(b"k\xff"), Reply::bulk_copy(b"v"))]),
        );
        assert_eq!(v["command"].as_str(), Some("SET caf\\xe9 x"));
        assert!(v["response"].get("k\\xff").is_some());
    }
}
