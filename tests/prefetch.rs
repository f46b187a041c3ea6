//! Pipelines over a keyspace big enough for connections to look ahead and
//! prefetch keys (`Lookahead` in src/connection.rs; from 1,024 buckets per
//! shard): whatever a pipeline mixes (database switches, inline and empty
//! requests, transactions, blocking, many-key commands, a protocol error),
//! and however it is split over reads, the replies must be redis-server's,
//! byte for byte.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{exchange_raw, request, Server};

/// Enough keys for each of reddish's 256 shards to pass 1,024 buckets.
const KEYS: usize = 300_000;

/// SETs `key:0` .. `key:{KEYS-1}` over one pipelined connection.
fn load(port: u16) {
    let mut payload = Vec::with_capacity(KEYS * 40);
    for i in 0..KEYS {
        let (key, value) = (format!("key:{i}"), format!("value:{i}"));
        payload.extend(request(&[b"SET", key.as_bytes(), value.as_bytes()]));
    }
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut writer = stream.try_clone().expect("clone");
    let sender = std::thread::spawn(move || writer.write_all(&payload).expect("write"));
    let mut left = KEYS * b"+OK\r\n".len();
    let mut buf = vec![0u8; 1 << 16];
    while left > 0 {
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "connection closed while loading");
        assert!(
            buf[..n].iter().all(|b| b"+OK\r\n".contains(b)),
            "a SET failed"
        );
        left = left.checked_sub(n).expect("more replies than requests");
    }
    sender.join().expect("sender");
}

fn pipeline() -> Vec<u8> {
    let mut out = Vec::new();
    let mut cmd = |args: &[&str]| {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        out.extend(request(&args));
    };
    for i in (0..KEYS).step_by(1_499).take(200) {
        cmd(&["GET", &format!("key:{i}")]);
        cmd(&["GET", &format!("missing:{i}")]);
        cmd(&["SET", &format!("key:{}", i + 1), "changed"]);
        cmd(&["APPEND", &format!("key:{}", i + 1), "!"]);
    }
    cmd(&["GET", "key:2"]);
    cmd(&["SELECT", "1"]);
    cmd(&["GET", "key:2"]);
    cmd(&["SET", "key:2", "in db 1"]);
    cmd(&["GET", "key:2"]);
    cmd(&["SELECT", "0"]);
    cmd(&["GET", "key:2"]);
    cmd(&["MULTI"]);
    cmd(&["INCR", "counter"]);
    cmd(&["GET", "key:4"]);
    cmd(&["EXEC"]);
    let pairs: Vec<String> = (0..12).map(|i| format!("key:{}", 10 + i % 6)).collect();
    let mut mset = vec!["MSET"];
    mset.extend(pairs.iter().map(String::as_str));
    cmd(&mset);
    cmd(&["MGET", "key:10", "nothing", "key:11"]);
    cmd(&["BLPOP", "no-list", "0.01"]);
    cmd(&["GET", "key:7"]);
    cmd(&["DEL", "key:8"]);
    cmd(&["GET", "key:8"]);
    cmd(&["STRLEN", "key:9"]);
    cmd(&["PING"]);
    // An empty request, skipped; inline requests between multibulk ones.
    out.extend_from_slice(b"*0\r\nPING\r\nGET key:3\r\n");
    out.extend(request(&[b"GET", b"key:5"]));
    // A protocol error ends the connection after the replies before it.
    out.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$x\r\n");
    out
}

/// Sends `input` in pieces of `piece` bytes, a little apart so they arrive
/// as separate reads, then ends it, and returns everything read back.
fn exchange_in_pieces(port: u16, input: &[u8], piece: usize) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut reader = stream.try_clone().expect("clone");
    let pieces: Vec<Vec<u8>> = input.chunks(piece).map(<[u8]>::to_vec).collect();
    let sender = std::thread::spawn(move || {
        for p in pieces {
            // The server may close on the protocol error before the last piece.
            if stream.write_all(&p).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // The end of the input: the server closes after its replies.
        let _ = stream.shutdown(std::net::Shutdown::Write);
    });
    reader
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut out = Vec::new();
    let _ = reader.read_to_end(&mut out);
    sender.join().expect("sender");
    out
}

#[test]
fn pipelines_over_a_big_keyspace_answer_as_redis() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    std::thread::scope(|s| {
        s.spawn(|| load(oracle.port));
        s.spawn(|| load(ours.port));
    });
    let input = pipeline();
    let want = exchange_raw(oracle.port, &input);
    let got = exchange_raw(ours.port, &input);
    assert!(
        want.ends_with(b"<closed>"),
        "{}",
        String::from_utf8_lossy(&want)
    );
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
    // Again, split so requests straddle reads (the keys changed above are
    // changed again, alike on both servers).
    for piece in [1_000, 37] {
        let input = &input[..input.len().min(piece * 60)];
        let want = exchange_in_pieces(oracle.port, input, piece);
        let got = exchange_in_pieces(ours.port, input, piece);
        assert!(!want.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "split in pieces of {piece} bytes"
        );
    }
}
