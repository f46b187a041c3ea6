//! Cuts client requests out of the read buffer, the way Redis's
//! `processMultibulkBuffer` and `processInlineBuffer` do.
//!
//! A request starting with `*` is a RESP multibulk; anything else is an inline
//! (telnet) line. For multibulk requests we first scan the headers ourselves:
//! that is where Redis's limits live (`proto-max-bulk-len`, the multibulk
//! count, the 64 KB header line) with its exact error texts, and it tells us
//! whether the whole frame has arrived without allocating anything sized by a
//! client's number. The scan keeps its place between reads (like the client's
//! `multibulklen`), so a request arriving in many pieces is not rescanned from
//! its start each time. Only a complete, validated frame is then split into
//! zero-copy `Bytes` arguments (slices of the frozen frame), by a second walk
//! over the headers the scan already checked.
//!
//! Kept Redis quirks: the two bytes after a header's `\r` and after an
//! argument's data are skipped unchecked (the scan writes `\r\n` there, because
//! redis-protocol insists on it), and a NUL byte before a line's end hides that
//! end, because Redis looks for it with `strchr`.

use bytes::{Buf, Bytes, BytesMut};

use super::inline::split_args;
use super::Reply;
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

/// A malformed request: Redis replies `-ERR Protocol error: <text>` and
/// closes. Bytes, not `str`: `expected '$', got '%c'` quotes a client byte.
#[derive(Debug, PartialEq, Eq)]
pub struct ProtocolError(pub Vec<u8>, pub Option<Bytes>);

impl ProtocolError {
    fn new(text: &str) -> ProtocolError {
        ProtocolError(text.as_bytes().to_vec(), None)
    }

    /// The same error on an inline request, remembering the line as typed
    /// (empty when there is no complete line) so JSON mode can echo it.
    fn inline(text: &str, line: Bytes) -> ProtocolError {
        ProtocolError(text.as_bytes().to_vec(), Some(line))
    }

    /// The error reply sent before closing the connection.
    pub fn reply(&self) -> Reply {
        let mut text = b"ERR Protocol error: ".to_vec();
        text.extend_from_slice(&self.0);
        Reply::error_owned(text)
    }
}

/// Parser state kept between reads of one connection: how far the scan of a
/// multibulk request still arriving got. After an error the connection closes.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Arguments not yet scanned; 0 when no multibulk request is in progress.
    pending: u64,
    /// Arguments of the multibulk request in progress.
    count: usize,
    /// Where the next argument's header starts in the buffer.
    pos: usize,
}

impl RequestParser {
    /// Takes the next complete request from `buf`. `Ok(None)` means more bytes
    /// are needed. Empty requests (blank lines, `*0`, `*-1`) are consumed silently.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        max_bulk_len: u64,
    ) -> Result<Option<Request>, ProtocolError> {
        while self.pending == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'*' {
                match parse_inline(buf)? {
                    Some(req) if req.args.is_empty() => continue,
                    other => return Ok(other),
                }
            }
            let Some(cr) = header_line(buf, 0, "too big mbulk count string")? else {
                return Ok(None);
            };
            let count = match parse_i64(&buf[1..cr]) {
                Some(n) if n <= MULTIBULK_MAX_LEN => n,
                _ => return Err(ProtocolError::new("invalid multibulk length")),
            };
            if count <= 0 {
                buf.advance(cr + 2);
            } else {
                self.pending = count as u64;
                self.count = count as usize;
                self.pos = cr + 2;
            }
        }
        while self.pending > 0 {
            if !self.scan_arg(buf, max_bulk_len)? {
                return Ok(None);
            }
            self.pending -= 1;
        }
        let len = std::mem::take(&mut self.pos);
        split_multibulk(buf.split_to(len).freeze(), self.count).map(Some)
    }

    /// Scans the next argument of the request in progress; false until all of
    /// its bytes arrived.
    fn scan_arg(&mut self, buf: &mut [u8], max_bulk_len: u64) -> Result<bool, ProtocolError> {
        let pos = self.pos;
        let Some(cr) = header_line(buf, pos, "too big bulk count string")? else {
            return Ok(false);
        };
        if buf[pos] != b'$' {
            let mut text = b"expected '$', got '".to_vec();
            text.extend_from_slice(&[buf[pos], b'\'']);
            return Err(ProtocolError(text, None));
        }
        let len = match parse_i64(&buf[pos + 1..cr]) {
            Some(n) if n >= 0 && n as u64 <= max_bulk_len => n as usize,
            _ => return Err(ProtocolError::new("invalid bulk length")),
        };
        let end = (cr + 2).saturating_add(len);
        if end.saturating_add(2) > buf.len() {
            return Ok(false);
        }
        buf[end..end + 2].copy_from_slice(b"\r\n");
        self.pos = end + 2;
        Ok(true)
    }
}

/// Where `needle` is in `haystack`, as C's `strchr` sees it: the search stops
/// at the first NUL byte. Redis finds line ends this way, so a NUL before the
/// end of a header or inline line leaves the request waiting for more bytes.
fn strchr(haystack: &[u8], needle: u8) -> Option<usize> {
    memchr::memchr2(needle, 0, haystack).filter(|&i| haystack[i] == needle)
}

/// Finds the `\r` ending a header line starting at `from`. `Ok(None)`: not
/// arrived yet. Like Redis, the byte after `\r` is not checked: it is made `\n`.
fn header_line(buf: &mut [u8], from: usize, too_big: &str) -> Result<Option<usize>, ProtocolError> {
    let rest = &buf[from..];
    match strchr(rest, b'\r') {
        None if rest.len() > INLINE_MAX_SIZE => Err(ProtocolError::new(too_big)),
        Some(i) if i + 2 <= rest.len() => {
            buf[from + i + 1] = b'\n';
            Ok(Some(from + i))
        }
        _ => Ok(None),
    }
}

/// Cuts a complete multibulk `frame` of `count` arguments, already scanned
/// (headers valid, `\r\n` written after each line and argument), into
/// slices sharing the frame's memory. Nothing per argument is allocated, and
/// `count` is bounded by the bytes received, since every argument has arrived.
/// The error is unreachable after a successful scan; it guards the slicing.
fn split_multibulk(frame: Bytes, count: usize) -> Result<Request, ProtocolError> {
    let mut args = Vec::with_capacity(count);
    let header_end = |from: usize| memchr::memchr(b'\r', &frame[from..]).map(|i| from + i);
    let mut pos = header_end(0).map_or(frame.len(), |cr| cr + 2);
    while pos < frame.len() {
        let arg = header_end(pos).and_then(|cr| {
            let len = usize::try_from(parse_i64(&frame[pos + 1..cr])?).ok()?;
            let start = cr + 2;
            let end = start
                .checked_add(len)
                .filter(|&end| end + 2 <= frame.len())?;
            Some((start, end))
        });
        let Some((start, end)) = arg else {
            return Err(ProtocolError::new("invalid request"));
        };
        args.push(frame.slice(start..end));
        pos = end + 2;
    }
    Ok(Request { args, inline: None })
}

/// An inline request: one line, split like `sdssplitargs`.
fn parse_inline(buf: &mut BytesMut) -> Result<Option<Request>, ProtocolError> {
    let Some(nl) = strchr(buf, b'\n') else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(ProtocolError::inline(
                "too big inline request",
                Bytes::new(),
            ));
        }
        return Ok(None);
    };
    let mut line = buf.split_to(nl + 1).freeze();
    line.truncate(nl);
    if line.last() == Some(&b'\r') {
        line.truncate(nl - 1);
    }
    let args = split_args(&line)
        .ok_or_else(|| ProtocolError::inline("unbalanced quotes in request", line.clone()))?
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

    type Parsed = (Vec<Vec<Vec<u8>>>, Option<ProtocolError>, usize);

    /// Feeds `chunks` one after the other to one parser, like successive reads.
    fn parse_chunks(chunks: &[&[u8]]) -> Parsed {
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            loop {
                match parser.parse(&mut buf, MAX) {
                    Ok(Some(req)) => out.push(req.args.iter().map(|a| a.to_vec()).collect()),
                    Ok(None) => break,
                    Err(e) => return (out, Some(e), buf.len()),
                }
            }
        }
        (out, None, buf.len())
    }

    fn parse_all(input: &[u8]) -> Parsed {
        parse_chunks(&[input])
    }

    fn err(input: &[u8]) -> Option<String> {
        parse_all(input)
            .1
            .map(|e| String::from_utf8_lossy(&e.0).into_owned())
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
    fn requests_split_anywhere_resume() {
        let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nPING\r\n";
        let whole = parse_all(input);
        for cut in 1..input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(parse_chunks(&[a, b]), whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(parse_chunks(&bytes), whole);
    }

    #[test]
    fn limits_give_redis_errors() {
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
            parse_all(b"*1\r\n\xff\r\n").1,
            Some(ProtocolError(b"expected '$', got '\xff'".to_vec(), None))
        );
        assert_eq!(
            err(&vec![b'a'; INLINE_MAX_SIZE + 1]),
            Some("too big inline request".into())
        );
        let mut long_count = b"*".to_vec();
        long_count.resize(INLINE_MAX_SIZE + 1, b'1');
        assert_eq!(err(&long_count), Some("too big mbulk count string".into()));
        let mut long_len = b"*1\r\n$".to_vec();
        long_len.resize(INLINE_MAX_SIZE + 5, b'1');
        assert_eq!(err(&long_len), Some("too big bulk count string".into()));
    }

    #[test]
    fn unbalanced_quotes() {
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
        let (reqs, err, _) = parse_all(b"*2147483647\r\n$1\r\na\r\n");
        assert!(reqs.is_empty() && err.is_none());
    }

    #[test]
    fn line_ends_are_not_checked_and_nul_hides_them() {
        let (reqs, err, _) = parse_all(b"*1\rx$4\rxPINGxx");
        assert_eq!((reqs, err), (vec![vec![b"PING".to_vec()]], None));
        // strchr stops at NUL: these wait for more bytes.
        for input in [&b"PI\0NG\r\n"[..], b"*1\0\r\n", b"*1\r\n$4\0\r\nPING\r\n"] {
            assert_eq!(parse_all(input), (vec![], None, input.len()));
        }
        // A NUL inside an argument's bytes is just data.
        let (reqs, _, _) = parse_all(b"*1\r\n$3\r\na\0b\r\n");
        assert_eq!(reqs, vec![vec![b"a\0b".to_vec()]]);
    }

    #[test]
    fn empty_requests_are_skipped() {
        let (reqs, err, _) = parse_all(b"*0\r\n*-1\r\n\r\n   \r\nPING\n");
        assert_eq!(err, None);
        assert_eq!(reqs, vec![vec![b"PING".to_vec()]]);
    }
}
