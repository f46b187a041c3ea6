//! Client buffers: the `normal` output buffer limit against redis-server
//! (a client whose replies pass the hard limit is closed with nothing
//! written), CLIENT LIST's `omem` while a client does not read, and big
//! bulks arriving in many reads.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{request, Pair, Server};

/// Sends `input` and returns everything the server wrote until it closed
/// the connection (None if it stayed open for a second).
fn closed_after(port: u16, input: &[u8]) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    stream.write_all(input).expect("send");
    let mut got = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(_) => return None,
        }
    }
}

#[test]
fn a_client_over_the_normal_hard_limit_is_closed_without_its_replies_as_in_redis() {
    let Some(mut pair) = Pair::new() else { return };
    let item = "x".repeat(1000);
    for _ in 0..150 {
        pair.check(&["RPUSH", "list", &item]);
    }
    pair.check(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "normal 100000 0 0",
    ]);
    let mut input = request(&[b"PING"]);
    input.extend(request(&[b"LRANGE", b"list", b"0", b"-1"]));
    let want = closed_after(pair.want_port(), &input);
    let got = closed_after(pair.got_port(), &input);
    assert_eq!(want, Some(Vec::new()), "redis-server");
    assert_eq!(got, want);
    // Under the limit the same request is answered.
    pair.check(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "normal 0 0 0",
    ]);
    pair.check(&["LRANGE", "list", "0", "2"]);
}

#[test]
fn client_list_shows_the_output_a_client_has_not_read() {
    let server = Server::start();
    let mut admin = server.connect();
    let value = "v".repeat(1 << 20);
    admin.cmd(&["SET", "big", &value]);
    admin.cmd(&["CLIENT", "SETNAME", "admin"]);
    // A client that asks for 64 MB of replies and reads none of them.
    let mut reader = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    reader
        .write_all(&request(&[b"CLIENT", b"SETNAME", b"slow"]))
        .expect("send");
    let mut gets = Vec::new();
    for _ in 0..64 {
        gets.extend(request(&[b"GET", b"big"]));
    }
    reader.write_all(&gets).expect("send");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let omem = loop {
        let list = admin.cmd_str(&["CLIENT", "LIST"]);
        let line = list
            .lines()
            .find(|l| l.contains("name=slow"))
            .unwrap_or_default()
            .to_string();
        let omem: u64 = line
            .split(' ')
            .find_map(|f| f.strip_prefix("omem="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if omem > 0 || std::time::Instant::now() > deadline {
            break omem;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Redis would run all 64 GETs and hold their replies; reddish writes
    // out every megabyte of replies before running more of a pipeline, so
    // the rest of the requests wait unread and `omem` is what of that
    // megabyte the socket did not take.
    assert!(omem > 0, "omem={omem}");
}

#[test]
fn big_bulks_arrive_whole_however_they_are_cut() {
    let server = Server::start();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    let value: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let input = request(&[b"SET", b"k", &value]);
    // In uneven pieces, with pauses, so the server sees it in many reads.
    for piece in input.chunks(700_001) {
        stream.write_all(piece).expect("send");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut reply = [0u8; 5];
    stream.read_exact(&mut reply).expect("reply");
    assert_eq!(&reply, b"+OK\r\n");
    let mut conn = server.connect();
    let got = conn.cmd_bytes(&[b"GET", b"k"]);
    let header = format!("${}\r\n", value.len());
    assert!(got.starts_with(header.as_bytes()));
    assert_eq!(&got[header.len()..got.len() - 2], &value[..]);
}
