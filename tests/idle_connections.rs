//! What an idle connection costs: 2,000 clients that each ran a command and
//! then wait must not grow the server's resident memory by more than a few
//! kilobytes each (an idle connection holds no read or reply buffer, as in
//! Redis), and `used_memory` must come back when they leave. Memory only,
//! no timing.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use support::{Conn, Server};

const CLIENTS: usize = 2000;

/// What a parked client may hold allocated: its handle, its small task,
/// tokio's registration of its socket and its mailbox come to about 1.36 KB
/// (Redis's idle client: about 1.4 KB).
const PARKED_CLIENT_BYTES: u64 = 1536;

fn used_memory(conn: &mut Conn) -> u64 {
    conn.cmd_str(&["INFO", "memory"])
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

#[test]
fn idle_connections_cost_little_memory_and_give_it_back() {
    if !std::path::Path::new("/proc/self/status").exists() {
        return;
    }
    let server = Server::start_with(&["--maxclients", "10000"]);
    let mut admin = server.connect();
    // Warm up: the first connections create the loops' own structures.
    for _ in 0..50 {
        let mut c = server.connect();
        c.cmd(&["PING"]);
    }
    let (rss_before, used_before) = (support::rss(server.pid()), used_memory(&mut admin));
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        // A 20 KB request, so that its buffers were really used.
        let value = "x".repeat(20_000);
        let request = format!(
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n{value}\r\n",
            value.len()
        );
        stream.write_all(request.as_bytes()).expect("send");
        let mut reply = [0u8; 5];
        stream.read_exact(&mut reply).expect("reply");
        assert_eq!(&reply, b"+OK\r\n");
        clients.push(stream);
    }
    let used_idle = used_memory(&mut admin);
    let rss_idle = support::rss(server.pid());
    let per_client_used = used_idle.saturating_sub(used_before) / CLIENTS as u64;
    let per_client_rss = rss_idle.saturating_sub(rss_before) / CLIENTS as u64;
    eprintln!("per idle client: used_memory {per_client_used} B, RSS {per_client_rss} B");
    assert!(
        per_client_used < 4096,
        "{per_client_used} bytes allocated per idle client"
    );
    assert!(
        per_client_rss < 6144,
        "{per_client_rss} bytes of RSS per idle client"
    );
    // Idle for 2 s, each parks when the cron's once-a-second pass asks it:
    // its read loop's state is freed. Read until down to the bound, or
    // until they must all have parked.
    let idle_since = std::time::Instant::now();
    let per_client_parked = loop {
        std::thread::sleep(std::time::Duration::from_millis(250));
        let per_client = used_memory(&mut admin).saturating_sub(used_before) / CLIENTS as u64;
        if per_client < PARKED_CLIENT_BYTES || idle_since.elapsed().as_secs() >= 10 {
            break per_client;
        }
    };
    eprintln!("per parked client: used_memory {per_client_parked} B");
    assert!(
        per_client_parked < PARKED_CLIENT_BYTES,
        "{per_client_parked} bytes allocated per parked client"
    );
    // A parked client is served as soon as it sends.
    for stream in clients.iter_mut().step_by(97) {
        stream.write_all(b"*1\r\n$4\r\nPING\r\n").expect("send");
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).expect("reply");
        assert_eq!(&reply, b"+PONG\r\n");
    }
    drop(clients);
    // The server notices the hang-ups as it gets to them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let used = used_memory(&mut admin);
        if used < used_before + 256 * 1024 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "used_memory stayed at {used} after the clients left (was {used_before})"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// What waits for more than its socket does not park: a subscriber still
/// gets its messages, a tracking client its invalidations, after idling
/// past the parking delay; a parked client is still closed by CLIENT KILL.
#[test]
fn idle_clients_that_wait_for_pushes_still_get_them() {
    let server = Server::start();
    let mut admin = server.connect();
    let mut subscriber = server.connect();
    subscriber.cmd(&["SUBSCRIBE", "ch"]);
    let mut tracker = server.connect();
    tracker.cmd(&["HELLO", "3"]);
    tracker.cmd(&["CLIENT", "TRACKING", "on"]);
    tracker.cmd(&["GET", "k"]);
    let mut parked = server.connect();
    let parked_id = parked.cmd_str(&["CLIENT", "ID"]);
    let parked_id = parked_id.trim_start_matches(':').trim_end();
    std::thread::sleep(std::time::Duration::from_millis(3500));
    // Neither holds a read buffer while it waits (Redis's cron frees an
    // idle client's query buffer).
    let list = admin.cmd_str(&["CLIENT", "LIST"]);
    for cmd in ["cmd=subscribe ", "cmd=get "] {
        let line = list.lines().find(|l| l.contains(cmd)).expect(cmd);
        assert!(line.contains(" qbuf=0 qbuf-free=0 "), "{line}");
    }
    assert_eq!(admin.cmd(&["PUBLISH", "ch", "hello"]), b":1\r\n");
    assert_eq!(
        subscriber.read_reply(),
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n"
    );
    admin.cmd(&["SET", "k", "v"]);
    assert_eq!(
        tracker.read_reply(),
        b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "ID", parked_id]), b":1\r\n");
    assert!(parked.closed_by_server());
}
