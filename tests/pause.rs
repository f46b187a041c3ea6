//! CLIENT PAUSE / UNPAUSE and WAIT, on reddish and on the real redis-server.

mod support;

use std::time::{Duration, Instant};

use support::{Conn, Pair, Server};

/// A write waits while paused for writes, a read does not, and UNPAUSE lets
/// the write through; on both servers alike.
#[test]
fn write_pause_holds_writes_not_reads() {
    for port in servers() {
        let port = port.0;
        let mut admin = Conn::connect(port);
        let mut writer = Conn::connect(port);
        let mut reader = Conn::connect(port);
        assert_eq!(
            admin.cmd_str(&["CLIENT", "PAUSE", "100000", "WRITE"]),
            "+OK\r\n"
        );
        writer.send(&support::request(&[b"SET", b"k", b"v"]));
        assert!(
            !writer.has_reply_within(Duration::from_millis(200)),
            "port {port}: a write ran while paused"
        );
        assert_eq!(reader.cmd_str(&["GET", "k"]), "$-1\r\n");
        let info = admin.cmd_str(&["INFO", "clients"]);
        assert!(
            info.contains("blocked_clients:1\r\n"),
            "port {port}: {info}"
        );
        admin.cmd(&["CLIENT", "UNPAUSE"]);
        assert_eq!(String::from_utf8_lossy(&writer.read_reply()), "+OK\r\n");
        assert_eq!(reader.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    }
}

/// Expired keys read as missing during a pause but are not deleted until it ends.
#[test]
fn pause_keeps_expired_keys_until_it_ends() {
    for port in servers() {
        let mut c = Conn::connect(port.0);
        c.cmd(&["SET", "e", "1", "PX", "20"]);
        c.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]);
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(c.cmd_str(&["GET", "e"]), "$-1\r\n");
        let expired = |c: &mut Conn| {
            let info = c.cmd_str(&["INFO", "stats"]);
            info.lines()
                .find_map(|l| l.strip_prefix("expired_keys:"))
                .map(str::to_string)
        };
        assert_eq!(expired(&mut c).as_deref(), Some("0"));
        c.cmd(&["CLIENT", "UNPAUSE"]);
        c.cmd(&["GET", "e"]);
        assert_eq!(expired(&mut c).as_deref(), Some("1"));
    }
}

/// An ALL pause with a timeout ends by itself.
#[test]
fn all_pause_ends_at_its_timeout() {
    let server = Server::start();
    let mut admin = server.connect();
    let mut other = server.connect();
    admin.cmd(&["CLIENT", "PAUSE", "300", "ALL"]);
    let start = Instant::now();
    assert_eq!(other.cmd_str(&["PING"]), "+PONG\r\n");
    assert!(start.elapsed() >= Duration::from_millis(200));
}

/// Argument errors and WAIT without replicas answer as Redis.
#[test]
fn errors_and_wait_match_redis() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    pair.run(&[
        &["CLIENT", "PAUSE", "-1"],
        &["CLIENT", "PAUSE", "x"],
        &["CLIENT", "PAUSE", "10", "SOME"],
        &["CLIENT", "PAUSE", "10", "WRITE", "x"],
        &["CLIENT", "UNPAUSE"],
        &["WAIT", "0", "0"],
        &["WAIT", "1", "50"],
        &["WAIT", "x", "0"],
        &["WAIT", "1", "-1"],
        &["MULTI"],
        &["WAIT", "1", "0"],
        &["EXEC"],
    ]);
}

/// Both servers' ports when redis-server is installed, else reddish's alone
/// (the servers live as long as the returned guards).
fn servers() -> Vec<Port> {
    let mut ports = vec![Port::of(Server::start())];
    if let Some(oracle) = Server::oracle() {
        ports.push(Port::of(oracle));
    }
    ports
}

struct Port(u16, #[allow(dead_code)] Server);

impl Port {
    fn of(server: Server) -> Port {
        Port(server.port, server)
    }
}
