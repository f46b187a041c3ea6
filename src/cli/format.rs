//! Reply printing, ported from redis-cli 7.0 (`cliFormatReplyTTY`,
//! `cliFormatReplyRaw`, `sdscatrepr`) so the output is byte-identical.

use crate::number::format_double;
use crate::protocol::Reply;

/// How replies are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// redis-cli's default on a terminal: `"Alice"`, `(integer) 3`, `1) ...`.
    Human,
    /// redis-cli's default into a pipe (`--raw`): values only.
    Raw,
    /// One `{"command":...,"response":...}` object per line (the lab's format).
    Json,
}

pub use crate::util::repr;

/// Status and error lines are printed with `%s` in redis-cli, so they end at
/// the first NUL.
pub fn c_str(text: &[u8]) -> &[u8] {
    text.split(|&b| b == 0).next().unwrap_or_default()
}

fn double_text(d: f64) -> Vec<u8> {
    let mut text = Vec::with_capacity(24);
    format_double(d, &mut text);
    text
}

/// The human (TTY) format of a whole reply.
pub fn human(reply: &Reply, out: &mut Vec<u8>) {
    tty(reply, b"", out);
}

/// `cliFormatReplyTTY`. `prefix` is the indentation of nested lines; the
/// first line of an aggregate is not indented because the caller already
/// wrote its index there.
fn tty(reply: &Reply, prefix: &[u8], out: &mut Vec<u8>) {
    match reply {
        Reply::Error(text) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(c_str(text));
            out.push(b'\n');
        }
        Reply::Simple(text) => {
            out.extend_from_slice(c_str(text));
            out.push(b'\n');
        }
        Reply::Integer(n) => out.extend_from_slice(format!("(integer) {n}\n").as_bytes()),
        Reply::Double(d) => {
            out.extend_from_slice(b"(double) ");
            out.extend_from_slice(&double_text(*d));
            out.push(b'\n');
        }
        Reply::DoubleText(text) => {
            out.extend_from_slice(b"(double) ");
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        Reply::Bulk(data) => {
            repr(data, out);
            out.push(b'\n');
        }
        Reply::Verbatim(_, data) => {
            out.extend_from_slice(data);
            out.push(b'\n');
        }
        // redis-cli 7.0 dies on big numbers ("Unknown reply type: 13");
        // this is what later versions print.
        Reply::BigNumber(digits) => {
            out.extend_from_slice(b"(big number) ");
            out.extend_from_slice(digits);
            out.push(b'\n');
        }
        // The server never sends reddish-cli attributes it did not ask for.
        Reply::Attribute(_, reply) => tty(reply, prefix, out),
        Reply::Null | Reply::NullArray | Reply::NullIn(_) => out.extend_from_slice(b"(nil)\n"),
        Reply::Bool(b) => out.extend_from_slice(if *b { b"(true)\n" } else { b"(false)\n" }),
        Reply::Array(items) => tty_items(items, b')', b"(empty array)\n", prefix, out),
        Reply::Push(items) => tty_items(items, b')', b"(empty push)\n", prefix, out),
        Reply::Set(items) => tty_items(items, b'~', b"(empty set)\n", prefix, out),
        Reply::Bulks(bulks) => tty(&bulks.to_array(), prefix, out),
        Reply::Map(pairs) => {
            if pairs.is_empty() {
                out.extend_from_slice(b"(empty hash)\n");
                return;
            }
            let inner = nested_prefix(prefix, pairs.len());
            for (i, (key, value)) in pairs.iter().enumerate() {
                put_index(i, pairs.len(), b'#', prefix, out);
                tty(key, &inner, out);
                // The key's newline gives way to " => " and the value.
                out.pop();
                out.extend_from_slice(b" => ");
                if is_multiline(value) {
                    out.push(b'\n');
                    out.extend_from_slice(&inner);
                }
                tty(value, &inner, out);
            }
        }
    }
}

fn tty_items(items: &[Reply], sep: u8, empty: &[u8], prefix: &[u8], out: &mut Vec<u8>) {
    if items.is_empty() {
        out.extend_from_slice(empty);
        return;
    }
    let inner = nested_prefix(prefix, items.len());
    for (i, item) in items.iter().enumerate() {
        put_index(i, items.len(), sep, prefix, out);
        tty(item, &inner, out);
    }
}

/// Nested elements are indented by the width of the largest index plus two.
fn nested_prefix(prefix: &[u8], count: usize) -> Vec<u8> {
    let mut inner = prefix.to_vec();
    inner.resize(prefix.len() + count.to_string().len() + 2, b' ');
    inner
}

/// `%s%*d) ` with the index right-aligned to the width of the largest one.
fn put_index(i: usize, count: usize, sep: u8, prefix: &[u8], out: &mut Vec<u8>) {
    if i > 0 {
        out.extend_from_slice(prefix);
    }
    let width = count.to_string().len();
    out.extend_from_slice(format!("{:>width$}{} ", i + 1, sep as char).as_bytes());
}

/// `cliIsMultilineValueTTY`: whether a map value needs its own lines.
fn is_multiline(reply: &Reply) -> bool {
    match reply {
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => match items.as_slice() {
            [] => false,
            [only] => is_multiline(only),
            _ => true,
        },
        Reply::Map(pairs) => match pairs.as_slice() {
            [] => false,
            [(_, value)] => is_multiline(value),
            _ => true,
        },
        _ => false,
    }
}

/// `cliFormatReplyRaw`: values only, aggregate elements one per line, map
/// entries as `key value`. The caller adds the final newline.
pub fn raw(reply: &Reply, out: &mut Vec<u8>) {
    match reply {
        Reply::Null | Reply::NullArray | Reply::NullIn(_) => {}
        Reply::Error(text) => {
            out.extend_from_slice(text);
            out.push(b'\n');
        }
        Reply::Simple(text) => out.extend_from_slice(text),
        Reply::Bulk(data) | Reply::Verbatim(_, data) | Reply::BigNumber(data) => {
            out.extend_from_slice(data)
        }
        Reply::Bool(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Reply::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Double(d) => out.extend_from_slice(&double_text(*d)),
        Reply::DoubleText(text) => out.extend_from_slice(text),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw(item, out);
            }
        }
        Reply::Bulks(bulks) => raw(&bulks.to_array(), out),
        Reply::Attribute(_, reply) => raw(reply, out),
        Reply::Map(pairs) => {
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw(key, out);
                out.push(b' ');
                raw(value, out);
            }
        }
    }
}

/// `cliFormatInvalidateTTY`: client-tracking invalidations on a terminal
/// read `-> invalidate: 'k1', 'k2'`. `None` when `push` is another message.
pub fn invalidate_line(push: &[Reply]) -> Option<Vec<u8>> {
    let [Reply::Bulk(kind), Reply::Array(keys)] = push else {
        return None;
    };
    if !kind.starts_with(b"invalidate") {
        return None;
    }
    let mut out = b"-> invalidate: ".to_vec();
    for (i, key) in keys.iter().enumerate() {
        let Reply::Bulk(key) = key else {
            return None;
        };
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.push(b'\'');
        out.extend_from_slice(key);
        out.push(b'\'');
    }
    out.push(b'\n');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn h(reply: &Reply) -> String {
        let mut out = Vec::new();
        human(reply, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn r(reply: &Reply) -> String {
        let mut out = Vec::new();
        raw(reply, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn bulk(s: &str) -> Reply {
        Reply::bulk_copy(s.as_bytes())
    }

    #[test]
    fn scalars() {
        assert_eq!(h(&Reply::OK), "OK\n");
        assert_eq!(h(&Reply::error("ERR x")), "(error) ERR x\n");
        assert_eq!(h(&Reply::Integer(3)), "(integer) 3\n");
        assert_eq!(h(&Reply::Null), "(nil)\n");
        assert_eq!(h(&Reply::NullArray), "(nil)\n");
        assert_eq!(h(&Reply::Double(0.1)), "(double) 0.10000000000000001\n");
        assert_eq!(h(&Reply::Double(f64::INFINITY)), "(double) inf\n");
        assert_eq!(h(&Reply::Bool(true)), "(true)\n");
        assert_eq!(
            h(&Reply::Verbatim("txt", Bytes::from_static(b"a\nb"))),
            "a\nb\n"
        );
        assert_eq!(
            h(&Reply::BigNumber(Bytes::from_static(b"123"))),
            "(big number) 123\n"
        );
        assert_eq!(h(&Reply::simple("A\0B")), "A\n");
    }

    #[test]
    fn repr_escapes_like_sdscatrepr() {
        assert_eq!(
            h(&Reply::bulk_copy(
                b"a\x01\x7f\xff\"\\\n\r\t\x07\x08 \xc3\xa9"
            )),
            "\"a\\x01\\x7f\\xff\\\"\\\\\\n\\r\\t\\a\\b \\xc3\\xa9\"\n"
        );
    }

    #[test]
    fn nested_arrays_and_maps() {
        let reply = Reply::Array(vec![
            Reply::Integer(1),
            Reply::Array(vec![
                Reply::Integer(2),
                Reply::Array(vec![Reply::Integer(3), bulk("a")]),
            ]),
            Reply::Array(vec![]),
        ]);
        assert_eq!(
            h(&reply),
            "1) (integer) 1\n2) 1) (integer) 2\n   2) 1) (integer) 3\n      2) \"a\"\n3) (empty array)\n"
        );
        let map = Reply::Map(vec![
            (
                bulk("a"),
                Reply::Array(vec![Reply::Integer(1), Reply::Integer(2)]),
            ),
            (bulk("b"), Reply::Array(vec![Reply::Integer(1)])),
            (bulk("c"), Reply::Map(vec![])),
        ]);
        assert_eq!(
            h(&map),
            "1# \"a\" => \n   1) (integer) 1\n   2) (integer) 2\n2# \"b\" => 1) (integer) 1\n3# \"c\" => (empty hash)\n"
        );
        assert_eq!(r(&map), "a 1\n2\nb 1\nc ");
        assert_eq!(h(&Reply::Set(vec![bulk("x")])), "1~ \"x\"\n");
        assert_eq!(h(&Reply::Set(vec![])), "(empty set)\n");
        assert_eq!(h(&Reply::Push(vec![])), "(empty push)\n");
    }

    #[test]
    fn indexes_are_right_aligned() {
        let reply = Reply::Array(
            (1..=10)
                .map(|i| Reply::Array(vec![Reply::Integer(i)]))
                .collect(),
        );
        let text = h(&reply);
        assert!(text.starts_with(" 1) 1) (integer) 1\n 2) "), "{text}");
        assert!(text.ends_with("10) 1) (integer) 10\n"), "{text}");
    }

    #[test]
    fn raw_values() {
        assert_eq!(r(&Reply::Null), "");
        assert_eq!(r(&Reply::error("ERR x")), "ERR x\n");
        assert_eq!(r(&Reply::Bool(false)), "(false)");
        assert_eq!(
            r(&Reply::Array(vec![
                bulk("a"),
                Reply::Integer(2),
                Reply::Null
            ])),
            "a\n2\n"
        );
    }

    #[test]
    fn invalidations() {
        let push = [bulk("invalidate"), Reply::Array(vec![bulk("a"), bulk("b")])];
        assert_eq!(
            invalidate_line(&push).map(String::from_utf8),
            Some(Ok("-> invalidate: 'a', 'b'\n".to_string()))
        );
        assert_eq!(
            invalidate_line(&[bulk("message"), bulk("ch"), bulk("x")]),
            None
        );
    }
}
