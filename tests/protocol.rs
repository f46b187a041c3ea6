//! The wire protocol over real sockets: pipelining, inline requests, bad input.
//!
//! Most tests are differential: the same bytes go to reddish and to a real
//! redis-server, and everything each sends back (including whether it closes
//! the connection) must be identical.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{differential, differential_raw, differential_raw_each, request, Server};

/// `PROTO_INLINE_MAX_SIZE`: the longest inline request or header line.
const INLINE_MAX: usize = 64 * 1024;

/// `prefix` followed by `fill` bytes up to `len` bytes in total.
fn padded(prefix: &[u8], fill: u8, len: usize) -> Vec<u8> {
    let mut out = prefix.to_vec();
    out.resize(len, fill);
    out
}

#[test]
fn ping_echo_and_unknown_commands_match_redis() {
    differential(&[
        &["PING"],
        &["PING", "hello"],
        &["ECHO", "x y"],
        &["ping", "a", "b"],
        &["foo", "a", "b"],
        &["GET"],
    ]);
}

#[test]
fn pipelined_requests_get_all_replies_in_order() {
    differential_raw(b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n");
}

#[test]
fn pipelines_mix_inline_and_resp() {
    differential_raw_each(&[
        b"PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nSET k v\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nGET k\r\n",
        b"*1\r\n$4\r\nPING\r\nECHO a\n*2\r\n$4\r\nECHO\r\n$3\r\nb c\r\nSET j v\nDEL j\nEXISTS j\r\n",
        // An inline line may follow a multibulk request in the same segment
        // and a multibulk request may follow a blank line.
        b"ECHO x\r\n\r\n*1\r\n$4\r\nPING\r\n\nPING\r\n",
        // Replies already due are sent before a protocol error closes.
        b"PING\r\n*1\r\n$4\r\nPING\r\nECHO a\r\n*1\r\n:1\r\nPING\r\n",
    ]);
}

#[test]
fn protocol_errors_reply_then_close() {
    differential_raw_each(&[
        b"PING\r\n*1\r\n:1\r\n",
        b"*abc\r\n",
        b"*1\r\n$-5\r\n",
        b"*2147483648\r\n",
    ]);
}

#[test]
fn bulk_length_must_be_a_valid_number_within_proto_max_bulk_len() {
    differential_raw_each(&[
        // proto-max-bulk-len is 512 MB: one byte more is refused at once.
        b"*1\r\n$536870913\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$9223372036854775807\r\n",
        b"*1\r\n$9223372036854775808\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$-0\r\n",
        b"*1\r\n$abc\r\n",
        b"*1\r\n$04\r\nPING\r\n",
        b"*1\r\n$+4\r\nPING\r\n",
        b"*1\r\n$ 4\r\nPING\r\n",
        b"*1\r\n$\r\n",
        // Exactly the limit is accepted: the server waits for the bytes.
        b"*1\r\n$536870912\r\nabc",
        b"*1\r\n$0\r\n\r\n",
    ]);
}

#[test]
fn multibulk_count_is_limited_to_int_max() {
    differential_raw_each(&[
        b"*2147483648\r\n",
        b"*9223372036854775808\r\n",
        // INT_MAX itself is accepted, and waits for its arguments.
        b"*2147483647\r\n$4\r\nPING\r\n",
        // Counts of zero or less are empty requests, skipped silently.
        b"*0\r\nPING\r\n",
        b"*-1\r\nPING\r\n",
        b"*-5\r\nPING\r\n",
        b"*-0\r\n",
        b"*01\r\n",
        b"*\r\n",
        b"* 1\r\n",
        b"*1x\r\n",
    ]);
}

#[test]
fn expected_dollar_quotes_the_byte_found() {
    differential_raw_each(&[
        b"*1\r\n:1\r\n",
        b"*2\r\n$4\r\nECHO\r\nhello\r\n",
        b"*1\r\n $4\r\nPING\r\n",
        b"*1\r\n*1\r\n",
        // A newline is quoted as a space (error lines cannot hold one) and a
        // non-ASCII byte raw, not as UTF-8.
        b"*1\r\n\n\r\n",
        b"*1\r\n\r\n",
        b"*1\r\n\xff\r\n",
    ]);
}

#[test]
fn too_big_lines_without_their_end_are_refused() {
    // Each input is exactly one byte over the limit, so the error comes only
    // after the server has read all of it (no reset from unread bytes).
    differential_raw_each(&[
        &padded(b"", b'a', INLINE_MAX + 1),
        &padded(b"PING\r\nSET k ", b'a', 6 + INLINE_MAX + 1),
        &padded(b"*", b'1', INLINE_MAX + 1),
        &padded(b"*1\r\n$", b'1', 4 + INLINE_MAX + 1),
        // At the limit they still wait.
        &padded(b"", b'a', INLINE_MAX),
        &padded(b"*", b'1', INLINE_MAX),
    ]);
}

#[test]
fn empty_lines_are_ignored() {
    differential_raw_each(&[
        b"\r\n",
        b"\n",
        b"\r\n\r\nPING\r\n",
        b"\n\n\nPING\n",
        b"   \r\nPING\r\n",
        b"\t \r\n*1\r\n$4\r\nPING\r\n",
        b"\r\r\n",
    ]);
}

#[test]
fn newline_only_endings() {
    differential_raw_each(&[
        b"PING\nECHO hi\nSET k v\nGET k\n",
        // Multibulk header lines end at '\r': with bare '\n' nothing completes.
        b"*1\n$4\nPING\n",
        // Redis skips the two bytes after a header's '\r' and after an
        // argument's data without looking at them.
        b"*1\r\n$4\r\nPING\n\n",
        b"*1\rx$4\rxPINGxy",
        b"*2\r\n$4\r\nECHO\r\n$3\r\na\r\n\r\n",
        // A declared length shorter than the data: the rest is the next request.
        b"*2\r\n$4\r\nECHO\r\n$1\r\nab\r\nPING\r\n",
    ]);
}

#[test]
fn nul_bytes_hide_line_ends_but_not_data() {
    differential_raw_each(&[
        // Redis finds line ends with strchr, which stops at NUL: these wait...
        b"PI\0NG\r\nPING\r\n",
        b"*1\0\r\n$4\r\nPING\r\n",
        b"*1\r\n$4\0\r\nPING\r\n",
        // ... until the 64 KB limit.
        &padded(b"PI\0NG\r\n", b'a', INLINE_MAX + 1),
        &padded(b"*1\r\n$1\0\r\n", b'a', 4 + INLINE_MAX + 1),
        // NUL inside an argument or after the line end is just data.
        b"*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n",
        b"PING\r\n\0",
    ]);
}

#[test]
fn inline_quotes_follow_sdssplitargs() {
    differential_raw_each(&[
        b"SET a \"b\r\nPING\r\n",
        b"ECHO 'x\r\n",
        b"ECHO \"a\"b\r\n",
        b"PING\r\nECHO \"x\r\nPING\r\n",
        b"ECHO \"a b\"\r\n",
        b"ECHO \"\\x41\\n\"\r\n",
        b"ECHO 'it\\'s'\r\n",
        b"ECHO \"\"\r\n",
    ]);
}

/// Writes `input` one byte at a time and returns what arrived before the last
/// byte (nothing, if requests wait until complete) and the first `reply_len`
/// bytes after it.
fn trickle(port: u16, input: &[u8], reply_len: usize) -> (Vec<u8>, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
        .set_read_timeout(Some(Duration::from_millis(2)))
        .expect("timeout");
    let mut early = Vec::new();
    let mut buf = [0u8; 256];
    let (last, head) = input.split_last().expect("non-empty input");
    for byte in head {
        stream.write_all(&[*byte]).expect("write");
        match stream.read(&mut buf) {
            Ok(n) => early.extend_from_slice(&buf[..n]),
            Err(e) => assert!(matches!(
                e.kind(),
                ErrorKind::WouldBlock | ErrorKind::TimedOut
            )),
        }
    }
    stream.write_all(&[*last]).expect("write");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut reply = vec![0; reply_len];
    stream.read_exact(&mut reply).expect("reply");
    (early, reply)
}

#[test]
fn a_request_written_byte_by_byte_is_answered_once_complete() {
    let server = Server::start();
    let set = request(&[b"SET", b"k", b"hello"]);
    assert_eq!(trickle(server.port, &set, 5), (vec![], b"+OK\r\n".to_vec()));
    assert_eq!(
        trickle(server.port, b"GET k\r\n", 11),
        (vec![], b"$5\r\nhello\r\n".to_vec())
    );
    if let Some(oracle) = Server::oracle() {
        assert_eq!(
            trickle(oracle.port, &set, 5),
            (vec![], b"+OK\r\n".to_vec()),
            "redis-server agrees"
        );
    }
}

/// A value with no repeating pattern, so a misplaced chunk shows.
fn big_value(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn ten_megabyte_value_roundtrip() {
    let server = Server::start();
    let mut conn = server.connect();
    let value = big_value(10 * 1024 * 1024);
    assert_eq!(conn.cmd_bytes(&[b"SET", b"big", &value]), b"+OK\r\n");
    let mut want = format!("${}\r\n", value.len()).into_bytes();
    want.extend_from_slice(&value);
    want.extend_from_slice(b"\r\n");
    let got = conn.cmd_bytes(&[b"GET", b"big"]);
    assert!(
        got == want,
        "GET returned {} bytes, not the value",
        got.len()
    );
    // The same in one pipelined write, with a small request on either side.
    let mut pipeline = request(&[b"PING"]);
    pipeline.extend(request(&[b"SET", b"big2", &value]));
    pipeline.extend(request(&[b"GET", b"big2"]));
    pipeline.extend_from_slice(b"PING\r\n");
    conn.send(&pipeline);
    assert_eq!(conn.read_reply(), b"+PONG\r\n");
    assert_eq!(conn.read_reply(), b"+OK\r\n");
    assert!(conn.read_reply() == want, "pipelined GET differs");
    assert_eq!(conn.read_reply(), b"+PONG\r\n");
}

/// `VmRSS` and `VmData` of a process, in kB.
fn memory_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("memory field")
    };
    (field("VmRSS:"), field("VmData:"))
}

#[test]
fn declared_sizes_do_not_allocate_memory() {
    let server = Server::start();
    // Warm up, so every worker thread has its allocator arena already.
    let mut warm: Vec<_> = (0..4).map(|_| server.connect()).collect();
    for conn in &mut warm {
        assert_eq!(conn.cmd_str(&["PING"]), "+PONG\r\n");
    }
    let (rss_before, data_before) = memory_kb(server.pid());
    // Clients that declare the largest bulk and the largest multibulk count
    // allowed, send a little, and then nothing.
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut conn = server.connect();
        let mut head = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n".to_vec();
        head.extend_from_slice(&[b'x'; 1000]);
        conn.send(&head);
        idle.push(conn);
    }
    let mut conn = server.connect();
    conn.send(b"*2147483647\r\n$4\r\nPING\r\n");
    idle.push(conn);
    std::thread::sleep(Duration::from_millis(200));
    let (rss_after, data_after) = memory_kb(server.pid());
    // Allocating the declared sizes would add 2 GB to VmData (reserved) even
    // if untouched; resident memory must not grow either.
    assert!(
        rss_after < rss_before + 32 * 1024,
        "VmRSS grew from {rss_before} kB to {rss_after} kB"
    );
    assert!(
        data_after < data_before + 128 * 1024,
        "VmData grew from {data_before} kB to {data_after} kB"
    );
    // The server still serves everyone else.
    assert_eq!(warm[0].cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn connection_survives_command_errors() {
    let server = Server::start();
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_str(&["NOPE"]),
        "-ERR unknown command 'NOPE', with args beginning with: \r\n"
    );
    assert_eq!(conn.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn query_buffer_limit_closes_the_connection_without_reply() {
    let settings = ["--client-query-buffer-limit", "1mb"];
    let Some(oracle) = Server::oracle_with(&settings) else {
        return;
    };
    let ours = Server::start_with(&settings);
    let big = 2 * 1024 * 1024;
    let mut input = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${big}\r\n").into_bytes();
    input.resize(input.len() + big + 2, b'x');
    let want = support::exchange_raw(oracle.port, &input);
    let got = support::exchange_raw(ours.port, &input);
    assert!(want.starts_with(b"<"), "redis-server replied: {want:?}");
    assert!(
        got.starts_with(b"<"),
        "reddish replied: {:?}",
        String::from_utf8_lossy(&got)
    );
    // Below the limit the same request works.
    let mut conn = ours.connect();
    assert_eq!(
        conn.cmd_str(&["SET", "k", &"y".repeat(512 * 1024)]),
        "+OK\r\n"
    );
}
