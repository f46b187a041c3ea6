//! A blocking connection to the server: commands go out as RESP multibulk,
//! replies (RESP2 or RESP3) come back as [`Reply`] trees.

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use bytes::Bytes;
use redis_protocol::resp3::decode::complete::decode_range;
use redis_protocol::resp3::types::{RangeFrame, VerbatimStringFormat};

use crate::number::parse_i64;
use crate::protocol::Reply;

/// Deepest aggregate nesting accepted, so a hostile server cannot overflow
/// our stack.
const MAX_DEPTH: usize = 256;

/// Aggregates reserve room for at most this many elements up front; a larger
/// declared count grows as the elements actually arrive.
const MAX_PREALLOC: usize = 1024;

pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Connection {
    pub fn open(host: &str, port: u16) -> io::Result<Connection> {
        let stream = TcpStream::connect((host, port))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Sends one command as a RESP multibulk request.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        self.writer.write_all(&encode_command(args))
    }

    pub fn read_reply(&mut self) -> io::Result<Reply> {
        read_reply(&mut self.reader, 0)
    }

    /// Sends a command and reads the reply to it, skipping out-of-band
    /// pushes (for the handshake, where nothing is shown).
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        self.send(args)?;
        loop {
            match self.read_reply()? {
                Reply::Push(_) => continue,
                reply => return Ok(reply),
            }
        }
    }
}

pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// hiredis's wording for a connection error, which redis-cli prints
/// ("Connection refused", "Server closed the connection").
pub fn describe(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return "Server closed the connection".into();
    }
    let text = e.to_string();
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text.to_string(),
    }
}

fn protocol_error(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn closed() -> io::Error {
    io::Error::from(io::ErrorKind::UnexpectedEof)
}

/// Reads one reply. Aggregates are walked here and every scalar frame is
/// decoded by redis-protocol: its RESP3 decoder keeps maps and sets in hash
/// tables, which would reorder Redis's replies (HGETALL, HELLO) and cannot
/// hold aggregates as keys or members. Attributes (`|`) describe the reply
/// that follows them; like hiredis we show only that reply.
pub fn read_reply(r: &mut impl BufRead, depth: usize) -> io::Result<Reply> {
    if depth > MAX_DEPTH {
        return Err(protocol_error("Protocol error, reply nested too deep"));
    }
    let mut frame = Vec::new();
    if r.read_until(b'\n', &mut frame)? == 0 {
        return Err(closed());
    }
    if !frame.ends_with(b"\n") {
        return Err(closed());
    }
    if frame.len() < 3 || !frame.ends_with(b"\r\n") {
        return Err(protocol_error(
            "Protocol error, reply line not ended by CRLF",
        ));
    }
    let kind = frame[0];
    let number = || {
        parse_i64(&frame[1..frame.len() - 2])
            .ok_or_else(|| protocol_error("Protocol error, bad length in reply"))
    };
    match kind {
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = number()?;
            if n < 0 {
                return match kind {
                    b'*' => Ok(Reply::NullArray),
                    _ => Err(protocol_error("Protocol error, bad length in reply")),
                };
            }
            let n = usize::try_from(n)
                .map_err(|_| protocol_error("Protocol error, bad length in reply"))?;
            match kind {
                b'*' => Ok(Reply::Array(read_items(r, n, depth)?)),
                b'~' => Ok(Reply::Set(read_items(r, n, depth)?)),
                b'>' => Ok(Reply::Push(read_items(r, n, depth)?)),
                b'%' => Ok(Reply::Map(read_pairs(r, n, depth)?)),
                _ => {
                    read_pairs(r, n, depth)?;
                    read_reply(r, depth)
                }
            }
        }
        b'$' | b'!' | b'=' => {
            let n = number()?;
            if kind == b'$' && n == -1 {
                return Ok(Reply::Null);
            }
            let n = u64::try_from(n)
                .map_err(|_| protocol_error("Protocol error, bad length in reply"))?;
            let before = frame.len();
            // `take` + `read_to_end` grows the buffer as bytes arrive rather
            // than trusting the declared length.
            r.take(n + 2).read_to_end(&mut frame)?;
            if (frame.len() - before) as u64 != n + 2 {
                return Err(closed());
            }
            decode_scalar(frame)
        }
        b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => decode_scalar(frame),
        other => Err(protocol_error(format!(
            "Protocol error, got \"{}\" as reply type byte",
            other.escape_ascii()
        ))),
    }
}

fn read_items(r: &mut impl BufRead, n: usize, depth: usize) -> io::Result<Vec<Reply>> {
    let mut items = Vec::with_capacity(n.min(MAX_PREALLOC));
    for _ in 0..n {
        items.push(read_reply(r, depth + 1)?);
    }
    Ok(items)
}

fn read_pairs(r: &mut impl BufRead, n: usize, depth: usize) -> io::Result<Vec<(Reply, Reply)>> {
    let mut pairs = Vec::with_capacity(n.min(MAX_PREALLOC));
    for _ in 0..n {
        let key = read_reply(r, depth + 1)?;
        pairs.push((key, read_reply(r, depth + 1)?));
    }
    Ok(pairs)
}

/// Decodes one complete scalar frame with redis-protocol.
fn decode_scalar(frame: Vec<u8>) -> io::Result<Reply> {
    let buf = Bytes::from(frame);
    let decoded = decode_range(&buf).map_err(|e| protocol_error(format!("Protocol error, {e}")))?;
    let Some((frame, _)) = decoded else {
        return Err(protocol_error("Protocol error, incomplete reply"));
    };
    let text = |(start, end): (usize, usize)| Cow::Owned(buf[start..end].to_vec());
    Ok(match frame {
        RangeFrame::SimpleString { data, .. } => Reply::Simple(text(data)),
        RangeFrame::SimpleError { data, .. } | RangeFrame::BlobError { data, .. } => {
            Reply::Error(text(data))
        }
        RangeFrame::BlobString { data, .. } => Reply::Bulk(buf.slice(data.0..data.1)),
        RangeFrame::Number { data, .. } => Reply::Integer(data),
        RangeFrame::Double { data, .. } => Reply::Double(data),
        RangeFrame::Boolean { data, .. } => Reply::Bool(data),
        RangeFrame::Null => Reply::Null,
        RangeFrame::BigNumber { data, .. } => Reply::BigNumber(buf.slice(data.0..data.1)),
        RangeFrame::VerbatimString { data, format, .. } => Reply::Verbatim(
            match format {
                VerbatimStringFormat::Text => "txt",
                VerbatimStringFormat::Markdown => "mkd",
            },
            buf.slice(data.0..data.1),
        ),
        other => {
            return Err(protocol_error(format!(
                "Protocol error, unexpected {:?} frame",
                other.kind()
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{encode, Resp};
    use bytes::BytesMut;

    fn read(bytes: &[u8]) -> io::Result<Reply> {
        read_reply(&mut &bytes[..], 0)
    }

    #[test]
    fn every_type_round_trips_through_our_encoder() {
        let replies = vec![
            Reply::OK,
            Reply::error("ERR x"),
            Reply::Integer(-7),
            Reply::bulk_copy(b"a\r\nb"),
            Reply::bulk_copy(b""),
            Reply::Array(vec![]),
            Reply::Array(vec![
                Reply::Integer(1),
                Reply::Array(vec![Reply::bulk_copy(b"x")]),
            ]),
            Reply::Set(vec![
                Reply::Integer(1),
                Reply::Integer(1),
                Reply::Array(vec![]),
            ]),
            Reply::Map(vec![
                (Reply::bulk_copy(b"z"), Reply::Integer(1)),
                (Reply::bulk_copy(b"a"), Reply::Map(vec![])),
                (Reply::Array(vec![]), Reply::Bool(true)),
            ]),
            Reply::Double(0.5),
            Reply::Double(f64::NEG_INFINITY),
            Reply::Bool(false),
            Reply::Verbatim("txt", Bytes::from_static(b"hi")),
            Reply::Verbatim("mkd", Bytes::from_static(b"# t")),
            Reply::BigNumber(Bytes::from_static(b"12345678901234567890")),
            Reply::Push(vec![Reply::bulk_copy(b"message")]),
        ];
        for reply in replies {
            let mut out = BytesMut::new();
            encode(&reply, Resp::V3, &mut out);
            assert_eq!(read(&out).expect("decodes"), reply);
        }
    }

    #[test]
    fn resp2_nulls() {
        assert_eq!(read(b"$-1\r\n").ok(), Some(Reply::Null));
        assert_eq!(read(b"*-1\r\n").ok(), Some(Reply::NullArray));
        assert_eq!(read(b"_\r\n").ok(), Some(Reply::Null));
    }

    #[test]
    fn attributes_are_skipped() {
        assert_eq!(
            read(b"|1\r\n+key\r\n*1\r\n:1\r\n:42\r\n").ok(),
            Some(Reply::Integer(42))
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"+OK",
            b"+OK\n",
            b"?x\r\n",
            b"$5\r\nab\r\n",
            b"$-2\r\n",
            b"*x\r\n",
            b"%-1\r\n",
            b"*2\r\n:1\r\n",
            b"=5\r\nabc:x\r\n",
            b",notanumber\r\n",
            b"#x\r\n",
            b"$99999999999\r\nshort\r\n",
        ] {
            assert!(read(bad).is_err(), "{:?}", bad.escape_ascii().to_string());
        }
        let deep = "*1\r\n".repeat(MAX_DEPTH + 10);
        assert!(read(deep.as_bytes()).is_err());
    }

    #[test]
    fn unknown_type_byte_is_named_like_hiredis() {
        let e = read(b"?x\r\n").err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("Protocol error, got \"?\" as reply type byte")
        );
    }

    #[test]
    fn describes_errors_like_hiredis() {
        assert_eq!(describe(&closed()), "Server closed the connection");
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(describe(&refused), "Connection refused");
    }

    #[test]
    fn commands_are_multibulk() {
        assert_eq!(
            encode_command(&[b"SET".to_vec(), b"a b".to_vec(), b"".to_vec()]),
            b"*3\r\n$3\r\nSET\r\n$3\r\na b\r\n$0\r\n\r\n"
        );
    }
}
