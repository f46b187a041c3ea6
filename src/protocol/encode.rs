//! Writes a [`Reply`] in RESP2 or RESP3, byte for byte as Redis does.
//!
//! We write straight into the connection's output buffer instead of building
//! `redis-protocol` frames first: it saves an allocation per reply, and Redis's
//! exact forms (`*-1` for null arrays, `%.17g` doubles, errors with newlines
//! replaced by spaces) are easier to guarantee here.

use bytes::{BufMut, BytesMut};

use super::Reply;
use crate::number::format_double;

/// The protocol a client speaks, switched by HELLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resp {
    V2,
    V3,
}

/// A header line: `prefix`, the number, CRLF. Counts and lengths below 100
/// (most of them) are written digit by digit, cheaper than formatting them
/// and copying the text.
fn put_line(out: &mut BytesMut, prefix: u8, n: i64) {
    out.put_u8(prefix);
    match n {
        0..=9 => out.put_u8(b'0' + n as u8),
        10..=99 => out.put_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]),
        _ => out.put_slice(itoa::Buffer::new().format(n).as_bytes()),
    }
    out.put_slice(b"\r\n");
}

fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    put_line(out, b'$', data.len() as i64);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// Status and error lines must not break the protocol: Redis replaces CR and LF
/// in them with spaces.
fn put_text_line(out: &mut BytesMut, prefix: u8, text: &[u8]) {
    out.put_u8(prefix);
    out.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.put_slice(b"\r\n");
}

/// Appends `reply` to `out` in protocol `resp`.
pub fn encode(reply: &Reply, resp: Resp, out: &mut BytesMut) {
    match reply {
        Reply::Simple(text) => put_text_line(out, b'+', text),
        Reply::Error(text) => put_text_line(out, b'-', text),
        Reply::Integer(n) => put_line(out, b':', *n),
        Reply::Bulk(data) => put_bulk(out, data),
        Reply::Null => match resp {
            Resp::V2 => out.put_slice(b"$-1\r\n"),
            Resp::V3 => out.put_slice(b"_\r\n"),
        },
        Reply::NullIn(Resp::V2) => out.put_slice(b"$-1\r\n"),
        Reply::NullIn(Resp::V3) => out.put_slice(b"_\r\n"),
        Reply::NullArray => match resp {
            Resp::V2 => out.put_slice(b"*-1\r\n"),
            Resp::V3 => out.put_slice(b"_\r\n"),
        },
        Reply::Array(items) => encode_items(b'*', items, resp, out),
        Reply::Set(items) => {
            encode_items(if resp == Resp::V3 { b'~' } else { b'*' }, items, resp, out)
        }
        Reply::Push(items) => {
            encode_items(if resp == Resp::V3 { b'>' } else { b'*' }, items, resp, out)
        }
        Reply::Bulks(bulks) => {
            put_line(out, b'*', bulks.len() as i64);
            out.put_slice(bulks.wire());
        }
        Reply::Map(pairs) => {
            match resp {
                Resp::V2 => put_line(out, b'*', 2 * pairs.len() as i64),
                Resp::V3 => put_line(out, b'%', pairs.len() as i64),
            }
            encode_pairs(pairs, resp, out);
        }
        Reply::Attribute(pairs, reply) => {
            if resp == Resp::V3 {
                put_line(out, b'|', pairs.len() as i64);
                encode_pairs(pairs, resp, out);
            }
            encode(reply, resp, out);
        }
        Reply::Double(d) => {
            let mut text = Vec::with_capacity(24);
            format_double(*d, &mut text);
            put_double(out, &text, resp);
        }
        Reply::DoubleText(text) => put_double(out, text, resp),
        Reply::Bool(b) => match resp {
            Resp::V2 => put_line(out, b':', *b as i64),
            Resp::V3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        },
        Reply::Verbatim(format, data) => match resp {
            Resp::V2 => put_bulk(out, data),
            Resp::V3 => {
                put_line(out, b'=', (data.len() + 4) as i64);
                out.put_slice(format.as_bytes());
                out.put_u8(b':');
                out.put_slice(data);
                out.put_slice(b"\r\n");
            }
        },
        Reply::BigNumber(digits) => match resp {
            Resp::V2 => put_bulk(out, digits),
            Resp::V3 => {
                out.put_u8(b'(');
                out.put_slice(digits);
                out.put_slice(b"\r\n");
            }
        },
    }
}

/// A double's text: a bulk string in RESP2, `,<text>` in RESP3.
fn put_double(out: &mut BytesMut, text: &[u8], resp: Resp) {
    match resp {
        Resp::V2 => put_bulk(out, text),
        Resp::V3 => {
            out.put_u8(b',');
            out.put_slice(text);
            out.put_slice(b"\r\n");
        }
    }
}

fn encode_pairs(pairs: &[(Reply, Reply)], resp: Resp, out: &mut BytesMut) {
    for (k, v) in pairs {
        encode(k, resp, out);
        encode(v, resp, out);
    }
}

fn encode_items(prefix: u8, items: &[Reply], resp: Resp, out: &mut BytesMut) {
    put_line(out, prefix, items.len() as i64);
    for item in items {
        encode(item, resp, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: Reply, resp: Resp) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(&r, resp, &mut out);
        out.to_vec()
    }

    #[test]
    fn header_numbers() {
        for n in [0, 7, 9, 10, 42, 99, 100, 12345, -1, -42, i64::MIN, i64::MAX] {
            assert_eq!(
                enc(Reply::Integer(n), Resp::V2),
                format!(":{n}\r\n").as_bytes()
            );
        }
    }

    #[test]
    fn nulls_differ_by_protocol() {
        assert_eq!(enc(Reply::Null, Resp::V2), b"$-1\r\n");
        assert_eq!(enc(Reply::NullArray, Resp::V2), b"*-1\r\n");
        assert_eq!(enc(Reply::NullArray, Resp::V3), b"_\r\n");
    }

    #[test]
    fn maps_flatten_in_resp2() {
        let m = Reply::Map(vec![(Reply::bulk_copy(b"a"), Reply::Integer(1))]);
        assert_eq!(enc(m.clone(), Resp::V2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(m, Resp::V3), b"%1\r\n$1\r\na\r\n:1\r\n");
    }

    #[test]
    fn attributes_only_in_resp3() {
        let a = Reply::Attribute(
            vec![(Reply::bulk_copy(b"k"), Reply::Integer(1))],
            Box::new(Reply::bulk_copy(b"v")),
        );
        assert_eq!(enc(a.clone(), Resp::V2), b"$1\r\nv\r\n");
        assert_eq!(enc(a, Resp::V3), b"|1\r\n$1\r\nk\r\n:1\r\n$1\r\nv\r\n");
    }

    #[test]
    fn errors_cannot_break_lines() {
        assert_eq!(
            enc(Reply::error_owned("ERR a\r\nb"), Resp::V2),
            b"-ERR a  b\r\n"
        );
    }

    #[test]
    fn bulk_arrays_encode_as_arrays_of_bulks() {
        let items: [&[u8]; 3] = [b"", b"a", &[b'x'; 120]];
        let mut bulks = crate::protocol::reply::BulkArray::default();
        for item in items {
            bulks.push(item);
        }
        assert_eq!(bulks.iter().collect::<Vec<_>>(), items);
        let plain = bulks.to_array();
        for resp in [Resp::V2, Resp::V3] {
            assert_eq!(
                enc(Reply::Bulks(bulks.clone()), resp),
                enc(plain.clone(), resp)
            );
        }
    }

    #[test]
    fn doubles_and_verbatim() {
        assert_eq!(enc(Reply::Double(1.5), Resp::V3), b",1.5\r\n");
        assert_eq!(enc(Reply::Double(1.5), Resp::V2), b"$3\r\n1.5\r\n");
        let text = || Reply::DoubleText(bytes::Bytes::from_static(b"13.361389"));
        assert_eq!(enc(text(), Resp::V3), b",13.361389\r\n");
        assert_eq!(enc(text(), Resp::V2), b"$9\r\n13.361389\r\n");
        assert_eq!(
            enc(Reply::Verbatim("txt", "hi".into()), Resp::V3),
            b"=6\r\ntxt:hi\r\n"
        );
        assert_eq!(enc(Reply::Bool(true), Resp::V2), b":1\r\n");
    }
}
