//! Cuts client requests out of the read buffer, the way Redis's
//! `processMultibulkBuffer` and `processInlineBuffer` do.
//!
//! A request starting with `*` is a RESP multibulk; anything else is an inline
//! (telnet) line. For multibulk requests we first scan the headers ourselves:
//! that is where Redis's limits live (`proto-max-bulk-len`, the multibulk
//! count, the 64 KB header line) with its exact error texts, and it tells us
//! whether the whole frame has arrived without allocating anything sized by a
//! client's number. Only a complete, validated frame is handed to
//! `redis-protocol`, which splits it into zero-copy `Bytes` arguments.

use bytes::{Buf, Bytes, BytesMut};
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::BytesFrame;

use super::inline::split_args;
use crate::number::parse_i64;

/// Longest inline request, and longest header line (`PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;

/// Most arguments in one multibulk request. Redis 7.0 checks `INT_MAX` (older
/// versions 1024*1024); memory stays bounded regardless, because nothing is
/// allocated per argument until the arguments' bytes are in the buffer.
pub const MULTIBULK_MAX_LEN: i64 = i32::MAX as i64;

/// A request cut from the buffer.
#[derive(Debug)]
pub struct Request {
    pub args: Vec<Bytes>,
    /// The line as typed, for inline requests (JSON mode echoes it).
    pub inline: Option<Bytes>,
}

/// A malformed request: Redis replies `-ERR Protocol error: <text>` and closes.
#[derive(Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

/// Where the scan of a multibulk frame ended.
enum Scan {
    Incomplete,
    /// `*0` or `*-1`: consumed, nothing to run.
    Empty(usize),
    Complete(usize),
}

/// Takes the next complete request from `buf`. `Ok(None)` means more bytes
/// are needed. Empty requests (blank lines, `*0`) are consumed silently.
pub fn parse_request(
    buf: &mut BytesMut,
    max_bulk_len: u64,
) -> Result<Option<Request>, ProtocolError> {
    loop {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != b'*' {
            match parse_inline(buf)? {
                Some(req) if req.args.is_empty() => continue,
                other => return Ok(other),
            }
        }
        match scan_multibulk(buf, max_bulk_len)? {
            Scan::Incomplete => return Ok(None),
            Scan::Empty(len) => buf.advance(len),
            Scan::Complete(len) => return decode_multibulk(buf, len).map(Some),
        }
    }
}

/// Finds the `\r` ending a header line starting at `from`. `Ok(None)`: not
/// arrived yet. Like Redis, the byte after `\r` is assumed to be `\n`.
fn header_line(buf: &[u8], from: usize, too_big: &str) -> Result<Option<usize>, ProtocolError> {
    match memchr::memchr(b'\r', &buf[from..]) {
        None if buf.len() - from > INLINE_MAX_SIZE => Err(ProtocolError(too_big.into())),
        None => Ok(None),
        Some(i) if from + i + 2 > buf.len() => Ok(None),
        Some(i) => Ok(Some(from + i)),
    }
}

fn scan_multibulk(buf: &[u8], max_bulk_len: u64) -> Result<Scan, ProtocolError> {
    let Some(cr) = header_line(buf, 0, "too big mbulk count string")? else {
        return Ok(Scan::Incomplete);
    };
    let count = match parse_i64(&buf[1..cr]) {
        Some(n) if n <= MULTIBULK_MAX_LEN => n,
        _ => return Err(ProtocolError("invalid multibulk length".into())),
    };
    let mut pos = cr + 2;
    if count <= 0 {
        return Ok(Scan::Empty(pos));
    }
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(Scan::Incomplete);
        }
        let Some(cr) = header_line(buf, pos, "too big bulk count string")? else {
            return Ok(Scan::Incomplete);
        };
        if buf[pos] != b'$' {
            return Err(ProtocolError(format!(
                "expected '$', got '{}'",
                buf[pos] as char
            )));
        }
        let len = match parse_i64(&buf[pos + 1..cr]) {
            Some(n) if n >= 0 && n as u64 <= max_bulk_len => n as usize,
            _ => return Err(ProtocolError("invalid bulk length".into())),
        };
        pos = cr + 2 + len + 2;
        if pos > buf.len() {
            return Ok(Scan::Incomplete);
        }
    }
    Ok(Scan::Complete(pos))
}

fn decode_multibulk(buf: &mut BytesMut, len: usize) -> Result<Request, ProtocolError> {
    let bad = |what: &str| ProtocolError(format!("invalid request: {what}"));
    let mut frame_bytes = buf.split_to(len);
    let frame = match decode_bytes_mut(&mut frame_bytes) {
        Ok(Some((frame, _, _))) => frame,
        Ok(None) => return Err(bad("incomplete frame")),
        Err(e) => return Err(bad(e.details())),
    };
    let BytesFrame::Array(items) = frame else {
        return Err(bad("not an array"));
    };
    let args = items
        .into_iter()
        .map(|item| match item {
            BytesFrame::BulkString(b) => Ok(b),
            _ => Err(bad("not a bulk string")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Request { args, inline: None })
}

/// An inline request: one line, split like `sdssplitargs`.
fn parse_inline(buf: &mut BytesMut) -> Result<Option<Request>, ProtocolError> {
    let Some(nl) = memchr::memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(ProtocolError("too big inline request".into()));
        }
        return Ok(None);
    };
    let mut line = buf.split_to(nl + 1).freeze();
    line.truncate(nl);
    if line.last() == Some(&b'\r') {
        line.truncate(nl - 1);
    }
    let args = split_args(&line)
        .ok_or_else(|| ProtocolError("unbalanced quotes in request".into()))?
        .into_iter()
        .map(Bytes::from)
        .collect();
    Ok(Some(Request {
        args,
        inline: Some(line),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 512 * 1024 * 1024;

    fn parse_all(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>, usize) {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match parse_request(&mut buf, MAX) {
                Ok(Some(req)) => out.push(req.args.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => return (out, None, buf.len()),
                Err(e) => return (out, Some(e), buf.len()),
            }
        }
    }

    #[test]
    fn pipelined_multibulk_and_inline() {
        let (reqs, err, rest) = parse_all(
            b"*1\r\n$4\r\nPING\r\nSET a b\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$3\r\nGE",
        );
        assert_eq!(err, None);
        assert_eq!(
            reqs,
            vec![
                vec![b"PING".to_vec()],
                vec![b"SET".to_vec(), b"a".to_vec(), b"b".to_vec()],
                vec![b"GET".to_vec(), b"a".to_vec()]
            ]
        );
        assert_eq!(rest, 10);
    }

    #[test]
    fn limits_give_redis_errors() {
        let err = |input: &[u8]| parse_all(input).1.map(|e| e.0);
        assert_eq!(err(b"*abc\r\n"), Some("invalid multibulk length".into()));
        assert_eq!(
            err(b"*2147483648\r\n"),
            Some("invalid multibulk length".into())
        );
        assert_eq!(
            err(b"*1\r\n$536870913\r\n"),
            Some("invalid bulk length".into())
        );
        assert_eq!(err(b"*1\r\n$-1\r\n"), Some("invalid bulk length".into()));
        assert_eq!(err(b"*1\r\n:1\r\n"), Some("expected '$', got ':'".into()));
        assert_eq!(
            err(&vec![b'a'; INLINE_MAX_SIZE + 1]),
            Some("too big inline request".into())
        );
        assert_eq!(
            err(b"GET \"a\r\n"),
            Some("unbalanced quotes in request".into())
        );
    }

    #[test]
    fn no_allocation_before_bytes_arrive() {
        // A huge declared bulk is just "incomplete" until its bytes arrive.
        let (reqs, err, rest) = parse_all(b"*1\r\n$536870912\r\nabc");
        assert!(reqs.is_empty() && err.is_none());
        assert_eq!(rest, 19);
    }

    #[test]
    fn empty_requests_are_skipped() {
        let (reqs, err, _) = parse_all(b"*0\r\n*-1\r\n\r\n   \r\nPING\n");
        assert_eq!(err, None);
        assert_eq!(reqs, vec![vec![b"PING".to_vec()]]);
    }
}
