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
//! its start each time. The scan notes where each argument's bytes are, so a
//! complete, validated frame's arguments are handed out as slices of the read
//! buffer without walking its headers again, and the request is consumed from
//! the buffer only once it has run: no copy, no allocation, and no reference
//! count to bump per argument (cutting `Bytes` out of the buffer cost an atomic
//! increment and decrement per argument, 8% of a pipelined SET's CPU). Most headers are a
//! few digits: they are read in one pass that finds the line end and the
//! number together, and only an unusual one takes the general path (line
//! search, then `string2ll`).
//!
//! Kept Redis quirks: the two bytes after a header's `\r` and after an
//! argument's data are skipped unchecked (the scan writes `\r\n` there, because
//! redis-protocol insists on it), and a NUL byte before a line's end hides that
//! end, because Redis looks for it with `strchr`.

use bytes::{Buf, Bytes, BytesMut};
use smallvec::SmallVec;

use super::inline::split_args;
use super::Reply;
use crate::number::parse_i64;

/// Longest inline request, and longest header line (`PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;

/// Most arguments in one multibulk request. Redis 7.0 checks `INT_MAX` (older
/// versions 1024*1024); memory stays bounded regardless, because nothing is
/// allocated per argument until the arguments' bytes are in the buffer.
pub const MULTIBULK_MAX_LEN: i64 = i32::MAX as i64;

/// Before a client authenticates, Redis allows at most 10 arguments of at
/// most 16 KiB each, so an unauthenticated client cannot make the server
/// buffer much (`processMultibulkBuffer`).
const UNAUTHENTICATED_MAX_ARGS: i64 = 10;
const UNAUTHENTICATED_MAX_BULK: u64 = 16 * 1024;

/// What a client may send: `proto-max-bulk-len`, and whether the small
/// limits of a client that must authenticate first apply.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bulk_len: u64,
    pub unauthenticated: bool,
}

/// Arguments of one request, borrowed from the read buffer (or from an
/// inline request's split). Kept inline up to eight: no allocation per request
/// for the commands that dominate real traffic.
pub type Args<'a> = SmallVec<[&'a [u8]; 8]>;

/// Copies of a request's arguments, for a command that outlives its place
/// in the read buffer (queued by MULTI, blocked on keys).
pub fn own_args(args: &[&[u8]]) -> Vec<Bytes> {
    args.iter().map(|a| Bytes::copy_from_slice(a)).collect()
}

/// Owned arguments (a queued or blocked command's) as [`Args`].
pub fn borrow_args(owned: &[Bytes]) -> Args<'_> {
    owned.iter().map(|a| &a[..]).collect()
}

/// A complete request at the front of the read buffer, still in it: the
/// caller takes its arguments with [`RequestParser::args`], runs it, then
/// consumes its `len` bytes.
#[derive(Debug)]
pub struct Request {
    /// How many bytes at the front of the buffer it takes.
    pub len: usize,
    /// An inline request's arguments, unquoted, and the line as typed
    /// (JSON mode echoes it).
    pub inline: Option<(Vec<Vec<u8>>, Bytes)>,
}

impl Request {
    /// The line as typed, for an inline request.
    pub fn line(&self) -> Option<&Bytes> {
        self.inline.as_ref().map(|(_, line)| line)
    }
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
    /// Where the next argument's header starts in the buffer.
    pos: usize,
    /// Where the arguments scanned so far start and end in the buffer. Only
    /// arguments whose bytes have arrived are noted, so this is bounded by
    /// the bytes received; its capacity is reused by the next request.
    spans: Vec<(usize, usize)>,
    /// How many bytes the buffer must hold for the bulk being scanned to
    /// be complete (0: none known), so the connection can make room for a
    /// big bulk in one allocation.
    wanted: usize,
    /// Where that bulk's bytes start (after its header).
    bulk_start: usize,
    /// The bytes of the arguments scanned so far (Redis's `argv_len_sum`).
    args_bytes: usize,
}

/// A `spans` capacity beyond which it is released when the next request
/// starts, so one huge request does not pin its memory for the connection's life.
const SPANS_KEPT: usize = 1024;

impl RequestParser {
    /// Finds the next complete request at the front of `buf`. `Ok(None)` means
    /// more bytes are needed. Empty requests (blank lines, `*0`, `*-1`) are
    /// consumed silently. The request found must be consumed (`buf.advance`)
    /// before the next call.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: Limits,
    ) -> Result<Option<Request>, ProtocolError> {
        while self.pending == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'*' {
                match parse_inline(buf)? {
                    Some(Request {
                        len,
                        inline: Some((args, _)),
                    }) if args.is_empty() => buf.advance(len),
                    other => return Ok(other),
                }
                continue;
            }
            let (cr, count) = match short_header(buf, 0, b'*') {
                Some((cr, n)) => (cr, n as i64),
                None => {
                    let Some(cr) = header_line(buf, 0, "too big mbulk count string")? else {
                        return Ok(None);
                    };
                    match parse_i64(&buf[1..cr]) {
                        Some(n) => (cr, n),
                        None => return Err(ProtocolError::new("invalid multibulk length")),
                    }
                }
            };
            if count > MULTIBULK_MAX_LEN {
                return Err(ProtocolError::new("invalid multibulk length"));
            }
            if count > UNAUTHENTICATED_MAX_ARGS && limits.unauthenticated {
                return Err(ProtocolError::new("unauthenticated multibulk length"));
            }
            buf[cr + 1] = b'\n';
            if count <= 0 {
                buf.advance(cr + 2);
            } else {
                self.pending = count as u64;
                self.pos = cr + 2;
                self.spans.clear();
                self.bulk_start = 0;
                self.args_bytes = 0;
                if self.spans.capacity() > SPANS_KEPT {
                    self.spans = Vec::new();
                }
            }
        }
        while self.pending > 0 {
            if !self.scan_arg(buf, limits)? {
                return Ok(None);
            }
            self.pending -= 1;
        }
        Ok(Some(Request {
            len: std::mem::take(&mut self.pos),
            inline: None,
        }))
    }

    /// The buffer length at which the bulk argument still arriving is
    /// complete, when its header has been read (0 otherwise).
    pub fn wanted(&self) -> usize {
        if self.pending > 0 {
            self.wanted
        } else {
            0
        }
    }

    /// The request still arriving, as Redis's CLIENT LIST shows it, given
    /// the `buffered` bytes: the bytes not yet made arguments (`qbuf`,
    /// Redis having consumed the headers before a bulk arriving) and those
    /// of the arguments already scanned (`argv-mem`). Here the scanned
    /// arguments stay in the buffer, as views of it.
    pub fn progress(&self, buffered: usize) -> (usize, usize) {
        if self.pending == 0 {
            return (buffered, 0);
        }
        // A bulk noted before the current argument started is behind `pos`.
        let consumed = self.pos.max(self.bulk_start);
        (buffered.saturating_sub(consumed), self.args_bytes)
    }

    /// The arguments of `request`, the last one [`RequestParser::parse`]
    /// found at the front of `buf`.
    pub fn args<'a>(&'a self, request: &'a Request, buf: &'a [u8]) -> Args<'a> {
        match &request.inline {
            Some((args, _)) => args.iter().map(Vec::as_slice).collect(),
            None => self
                .spans
                .iter()
                .map(|&(start, end)| &buf[start..end])
                .collect(),
        }
    }

    /// Scans the next argument of the request in progress; false until all of
    /// its bytes arrived.
    fn scan_arg(&mut self, buf: &mut [u8], limits: Limits) -> Result<bool, ProtocolError> {
        let pos = self.pos;
        let (cr, len) = match short_header(buf, pos, b'$') {
            Some(header) => header,
            None => {
                let Some(cr) = header_line(buf, pos, "too big bulk count string")? else {
                    return Ok(false);
                };
                if buf[pos] != b'$' {
                    let mut text = b"expected '$', got '".to_vec();
                    text.extend_from_slice(&[buf[pos], b'\'']);
                    return Err(ProtocolError(text, None));
                }
                match parse_i64(&buf[pos + 1..cr]) {
                    Some(n) if n >= 0 => (cr, n as u64),
                    _ => return Err(ProtocolError::new("invalid bulk length")),
                }
            }
        };
        if len > limits.max_bulk_len {
            return Err(ProtocolError::new("invalid bulk length"));
        }
        if len > UNAUTHENTICATED_MAX_BULK && limits.unauthenticated {
            return Err(ProtocolError::new("unauthenticated bulk length"));
        }
        let start = cr + 2;
        let end = start.saturating_add(len as usize);
        if end.saturating_add(2) > buf.len() {
            self.wanted = end.saturating_add(2);
            self.bulk_start = start;
            return Ok(false);
        }
        buf[cr + 1] = b'\n';
        buf[end..end + 2].copy_from_slice(b"\r\n");
        self.spans.push((start, end));
        self.args_bytes += end - start;
        self.pos = end + 2;
        Ok(true)
    }
}

/// The common header line, `prefix` (`*` or `$`) and up to 18 digits without
/// a leading zero, then `\r` and one more byte, read in one pass: where its
/// `\r` is and the number. `None` for anything else (not arrived, a sign, a
/// NUL, a longer number, an error), which [`header_line`] and [`parse_i64`]
/// then handle exactly as Redis does; whatever this accepts they read alike.
fn short_header(buf: &[u8], pos: usize, prefix: u8) -> Option<(usize, u64)> {
    let line = buf.get(pos..)?;
    let leading_zero = line.get(1) == Some(&b'0') && line.get(2) != Some(&b'\r');
    if line.first() != Some(&prefix) || leading_zero {
        return None;
    }
    let mut n = 0u64;
    for (i, &b) in line.iter().enumerate().skip(1).take(19) {
        match b {
            b'0'..=b'9' => n = n * 10 + u64::from(b - b'0'),
            b'\r' if i > 1 && i + 1 < line.len() => return Some((pos + i, n)),
            _ => return None,
        }
    }
    None
}

/// Most arguments [`peek`] steps over: beyond this a request is left to the
/// parser, so looking ahead stays a few steps per request.
const PEEK_MAX_ARGS: u64 = 16;

/// A multibulk request seen in the buffer before it is cut out.
#[derive(Debug, PartialEq, Eq)]
pub struct Peeked {
    /// Where its second argument is: the key, for most commands.
    pub key: Option<(usize, usize)>,
    /// Where the request ends (the next one starts).
    pub end: usize,
}

/// Looks at the request starting at `at` without cutting it out or checking
/// it: where its key probably is and where it ends, read from its headers
/// alone (argument bytes are jumped over). `None` unless it is an ordinary
/// multibulk request of a few arguments that has fully arrived; the parser
/// deals with everything else when it gets there. Used to prefetch the
/// memory of keys ahead of their commands, so a wrong guess costs nothing
/// but a wasted hint.
pub fn peek(buf: &[u8], at: usize) -> Option<Peeked> {
    let (cr, count) = short_header(buf, at, b'*')?;
    if count > PEEK_MAX_ARGS {
        return None;
    }
    let (mut pos, mut key) = (cr + 2, None);
    for i in 0..count {
        let (cr, len) = short_header(buf, pos, b'$')?;
        let start = cr + 2;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        if i == 1 {
            key = Some((start, end));
        }
        pos = end.checked_add(2)?;
    }
    (pos <= buf.len()).then_some(Peeked { key, end: pos })
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

/// An inline request: one line, split like `sdssplitargs`.
fn parse_inline(buf: &[u8]) -> Result<Option<Request>, ProtocolError> {
    let Some(nl) = strchr(buf, b'\n') else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(ProtocolError::inline(
                "too big inline request",
                Bytes::new(),
            ));
        }
        return Ok(None);
    };
    let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
    let line = Bytes::copy_from_slice(line);
    let args = split_args(&line)
        .ok_or_else(|| ProtocolError::inline("unbalanced quotes in request", line.clone()))?;
    Ok(Some(Request {
        len: nl + 1,
        inline: Some((args, line)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Limits = Limits {
        max_bulk_len: 512 * 1024 * 1024,
        unauthenticated: false,
    };

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
                    Ok(Some(req)) => {
                        out.push(parser.args(&req, &buf).iter().map(|a| a.to_vec()).collect());
                        buf.advance(req.len);
                    }
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
    fn unusual_headers_take_the_general_path() {
        assert_eq!(err(b"*01\r\n"), Some("invalid multibulk length".into()));
        assert_eq!(
            err(b"*1\r\n$01\r\na\r\n"),
            Some("invalid bulk length".into())
        );
        assert_eq!(err(b"*1\r\n$\r\n"), Some("invalid bulk length".into()));
        assert_eq!(
            err(b"*2\r\n$0\r\n\r\n$-0\r\n"),
            Some("invalid bulk length".into())
        );
        let long = format!("*1\r\n${}\r\n", "9".repeat(19));
        assert_eq!(err(long.as_bytes()), Some("invalid bulk length".into()));
        assert_eq!(err(b"*+1\r\n"), Some("invalid multibulk length".into()));
        let (reqs, error, _) = parse_all(b"*2\r\n$0\r\n\r\n$10\r\n0123456789\r\n");
        assert_eq!(
            (reqs, error),
            (vec![vec![b"".to_vec(), b"0123456789".to_vec()]], None)
        );
    }

    #[test]
    fn a_request_of_many_arguments_resumes_across_reads() {
        let count = SPANS_KEPT * 2;
        let mut input = format!("*{count}\r\n").into_bytes();
        for i in 0..count {
            let arg = i.to_string();
            input.extend(format!("${}\r\n{arg}\r\n", arg.len()).bytes());
        }
        input.extend(b"PING\r\n");
        let (a, b) = input.split_at(input.len() / 2);
        let (reqs, err, rest) = parse_chunks(&[a, b]);
        assert_eq!((err, rest), (None, 0));
        let expected: Vec<Vec<u8>> = (0..count).map(|i| i.to_string().into_bytes()).collect();
        assert_eq!(reqs, vec![expected, vec![b"PING".to_vec()]]);
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

    #[test]
    fn peek_finds_the_key_and_the_end_of_a_complete_request() {
        let buf = b"*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$1\r\nv\r\n*2\r\n$3\r\nGET";
        let first = peek(buf, 0).expect("complete");
        assert_eq!(&buf[first.key.unwrap().0..first.key.unwrap().1], b"k1");
        assert_eq!(&buf[first.end..first.end + 2], b"*2");
        // The next one has not fully arrived.
        assert_eq!(peek(buf, first.end), None);
    }

    #[test]
    fn peek_a_request_without_arguments_has_no_key() {
        let buf = b"*1\r\n$4\r\nPING\r\n";
        assert_eq!(
            peek(buf, 0),
            Some(Peeked {
                key: None,
                end: buf.len()
            })
        );
    }

    #[test]
    fn peek_leaves_everything_unusual_to_the_parser() {
        for buf in [
            &b"GET k1\r\n"[..],                                // inline
            b"*2\r\n$3\r\nGET\r\n$-1\r\n",                     // negative length
            b"*2\r\n$3\r\nGET\r\n$99999999999999999\r\nk\r\n", // past the buffer
            b"*17\r\n",                                        // too many arguments to step over
            b"*2\r\n$3\r\nGET\r\n$2\r\nk1",                    // not arrived
            b"",
        ] {
            assert_eq!(peek(buf, 0), None, "{:?}", String::from_utf8_lossy(buf));
        }
        // An offset past the end is not a request either.
        assert_eq!(peek(b"*1\r\n", 10), None);
    }
}
