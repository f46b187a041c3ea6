//! A consumer-group cycle benchmark for issue 17's XREADGROUP+XACK target,
//! which redis-benchmark cannot run (each XACK needs the ID its XREADGROUP
//! returned). `bench/compare.py --only xcycle` runs it against reddish and
//! redis-server side by side; it can also run alone:
//!
//! ```text
//! cargo run --release --example stream_cycle -- PORT CLIENTS PIPELINE CYCLES
//! ```
//!
//! The stream `s` must hold at least CLIENTS x PIPELINE x CYCLES entries not
//! yet delivered to group `g` (compare.py sets that up). Each client thread
//! sends PIPELINE `XREADGROUP GROUP g c<n> COUNT 1 STREAMS s >` in one write,
//! reads the replies, then acknowledges the PIPELINE IDs with PIPELINE `XACK
//! s g <id>` in one write, CYCLES times. It prints `cycles <n> seconds <s>`:
//! one cycle is one entry read and acknowledged.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Instant;

/// A RESP2 reply, as much of it as this benchmark looks at.
enum Reply {
    Bulk(Vec<u8>),
    Array(Vec<Reply>),
    Other,
}

fn read_line(r: &mut impl BufRead) -> Vec<u8> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).expect("read");
    assert!(line.ends_with(b"\r\n"), "connection closed mid-reply");
    line.truncate(line.len() - 2);
    line
}

fn number(bytes: &[u8]) -> i64 {
    std::str::from_utf8(bytes)
        .expect("utf8")
        .parse()
        .expect("number")
}

fn read_reply(r: &mut impl BufRead) -> Reply {
    let line = read_line(r);
    match line[0] {
        b'$' => {
            let len = number(&line[1..]);
            if len < 0 {
                return Reply::Other;
            }
            let mut data = vec![0; len as usize + 2];
            r.read_exact(&mut data).expect("read");
            data.truncate(len as usize);
            Reply::Bulk(data)
        }
        b'*' => {
            let len = number(&line[1..]);
            Reply::Array((0..len.max(0)).map(|_| read_reply(r)).collect())
        }
        b'-' => panic!("error reply: {}", String::from_utf8_lossy(&line)),
        _ => Reply::Other,
    }
}

fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// The ID of the one entry an `XREADGROUP ... COUNT 1` reply holds:
/// `[[stream, [[id, fields]]]]`.
fn delivered_id(reply: Reply) -> Vec<u8> {
    let Reply::Array(streams) = reply else {
        panic!("no entry delivered: the stream ran dry")
    };
    let Some(Reply::Array(stream)) = streams.into_iter().next() else {
        panic!("bad reply")
    };
    let Some(Reply::Array(entries)) = stream.into_iter().nth(1) else {
        panic!("bad reply")
    };
    let Some(Reply::Array(entry)) = entries.into_iter().next() else {
        panic!("no entry")
    };
    match entry.into_iter().next() {
        Some(Reply::Bulk(id)) => id,
        _ => panic!("bad entry"),
    }
}

fn client(port: u16, consumer: usize, pipeline: usize, cycles: usize) {
    let socket = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    socket.set_nodelay(true).expect("nodelay");
    let mut writer = socket.try_clone().expect("clone");
    let mut reader = BufReader::new(socket);
    let name = format!("c{consumer}");
    let mut reads = Vec::new();
    for _ in 0..pipeline {
        command(
            &mut reads,
            &[
                b"XREADGROUP",
                b"GROUP",
                b"g",
                name.as_bytes(),
                b"COUNT",
                b"1",
                b"STREAMS",
                b"s",
                b">",
            ],
        );
    }
    let mut acks = Vec::new();
    for _ in 0..cycles {
        writer.write_all(&reads).expect("write");
        acks.clear();
        for _ in 0..pipeline {
            let id = delivered_id(read_reply(&mut reader));
            command(&mut acks, &[b"XACK", b"s", b"g", &id]);
        }
        writer.write_all(&acks).expect("write");
        for _ in 0..pipeline {
            read_reply(&mut reader);
        }
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("usage: stream_cycle PORT CLIENTS PIPELINE CYCLES")
        })
        .collect();
    let [port, clients, pipeline, cycles] = args[..] else {
        panic!("usage: stream_cycle PORT CLIENTS PIPELINE CYCLES")
    };
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|n| std::thread::spawn(move || client(port as u16, n, pipeline, cycles)))
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    println!(
        "cycles {} seconds {:.6}",
        clients * pipeline * cycles,
        start.elapsed().as_secs_f64()
    );
}
