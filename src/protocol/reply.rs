//! The one reply type every command handler returns.
//!
//! Handlers say *what* they answer; how it looks on the wire (RESP2, RESP3 or
//! JSON) is decided by the connection when it encodes the reply.

use std::borrow::Cow;

use bytes::Bytes;

/// Text of a status or error line. Errors may quote client bytes, so this is
/// bytes, not `str`.
pub type Text = Cow<'static, [u8]>;

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Simple(Text),
    /// `-ERR ...`: the full text including the code (`ERR`, `WRONGTYPE`, ...).
    Error(Text),
    Integer(i64),
    Bulk(Bytes),
    /// The null of a missing value: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// The null of a missing array: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    /// The null of the given protocol, whatever the connection speaks: an
    /// invalidation for a FLUSH carries the tracking client's null (Redis
    /// writes `shared.null[c->resp]`) even to a redirect target speaking
    /// the other protocol.
    NullIn(crate::protocol::Resp),
    Array(Vec<Reply>),
    /// A RESP3 set; an array in RESP2.
    Set(Vec<Reply>),
    /// A RESP3 map; a flat array of key, value, ... in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A RESP3 double; a bulk string in RESP2.
    Double(f64),
    /// A RESP3 double already formatted (Redis's `addReplyHumanLongDouble`:
    /// GEOPOS and WITHCOORD coordinates); a bulk string in RESP2.
    DoubleText(Bytes),
    /// A RESP3 boolean; an integer 1 or 0 in RESP2.
    Bool(bool),
    /// A RESP3 verbatim string with its three-letter format; a bulk string in RESP2.
    Verbatim(&'static str, Bytes),
    /// A RESP3 big number (decimal digits); a bulk string in RESP2.
    BigNumber(Bytes),
    /// A RESP3 out-of-band push; an array in RESP2.
    Push(Vec<Reply>),
    /// A RESP3 attribute map (`|n`) followed by the reply it annotates;
    /// RESP2 has no attributes and sees only the reply (DEBUG PROTOCOL attrib).
    Attribute(Vec<(Reply, Reply)>, Box<Reply>),
    /// An array of bulk strings kept in wire form, the same in RESP2 and
    /// RESP3 (LRANGE): one buffer instead of a `Bytes` and a `Reply` per
    /// element, encoded with one copy.
    Bulks(BulkArray),
}

/// Bulk strings already written as `$<len>\r\n<data>\r\n`, back to back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BulkArray {
    count: usize,
    wire: Vec<u8>,
}

impl BulkArray {
    /// Room for `count` elements of about `size` bytes each.
    pub fn with_capacity(count: usize, size: usize) -> BulkArray {
        BulkArray {
            count: 0,
            wire: Vec::with_capacity(count * (size + 5)),
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.wire.push(b'$');
        self.wire
            .extend_from_slice(itoa::Buffer::new().format(data.len()).as_bytes());
        self.wire.extend_from_slice(b"\r\n");
        self.wire.extend_from_slice(data);
        self.wire.extend_from_slice(b"\r\n");
        self.count += 1;
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The elements in RESP form, without the array header.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The same reply as a plain array (for code that walks elements as
    /// `Reply`s, such as redis-cli's formatter; the server never needs it).
    pub fn to_array(&self) -> Reply {
        Reply::Array(self.iter().map(Reply::bulk_copy).collect())
    }

    /// The elements' data, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = self.wire.as_slice();
        std::iter::from_fn(move || {
            // Each element is `$`, digits, CRLF, data, CRLF, as `push` wrote it.
            let digits = rest.get(1..)?;
            let header = digits.iter().position(|&b| b == b'\r')?;
            let len = digits[..header]
                .iter()
                .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0'));
            let data = digits.get(header + 2..header + 2 + len)?;
            rest = &digits[header + 4 + len..];
            Some(data)
        })
    }
}

impl Reply {
    pub const OK: Reply = Reply::Simple(Cow::Borrowed(b"OK"));

    pub fn simple(text: &'static str) -> Reply {
        Reply::Simple(Cow::Borrowed(text.as_bytes()))
    }

    /// An error with a static text, e.g. `Reply::error("ERR syntax error")`.
    pub fn error(text: &'static str) -> Reply {
        Reply::Error(Cow::Borrowed(text.as_bytes()))
    }

    /// An error built at run time.
    pub fn error_owned(text: impl Into<Vec<u8>>) -> Reply {
        Reply::Error(Cow::Owned(text.into()))
    }

    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    /// A bulk string copied from a borrowed slice.
    pub fn bulk_copy(data: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(data))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

impl From<i64> for Reply {
    fn from(n: i64) -> Reply {
        Reply::Integer(n)
    }
}

impl From<usize> for Reply {
    fn from(n: usize) -> Reply {
        Reply::Integer(n as i64)
    }
}

impl From<bool> for Reply {
    /// Redis answers most yes/no questions (EXISTS, SETNX, EXPIRE) with 1 or 0.
    fn from(b: bool) -> Reply {
        Reply::Integer(b as i64)
    }
}
