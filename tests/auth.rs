//! Authentication and connection settings, side by side with redis-server:
//! `requirepass`, AUTH, HELLO AUTH, NOAUTH, the unauthenticated request
//! limits, protected mode, `timeout`, `tcp-backlog`, SIGHUP.

mod support;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{exchange_raw, installed, mask_hello_id, Conn, Server};

/// Both servers with the same password, one connection each: every reply of
/// `script` must be the same (HELLO's client id aside).
fn differential_with_password(script: &[&[&str]]) {
    let Some(oracle) = Server::oracle_with(&["--requirepass", "sec"]) else {
        return;
    };
    let ours = Server::start_with(&["--requirepass", "sec"]);
    let (mut want, mut got) = (oracle.connect(), ours.connect());
    for args in script {
        assert_eq!(
            String::from_utf8_lossy(&mask_hello_id(&got.cmd(args))),
            String::from_utf8_lossy(&mask_hello_id(&want.cmd(args))),
            "reply to {args:?} differs from redis-server"
        );
    }
}

#[test]
fn requirepass_refuses_commands_until_auth() {
    differential_with_password(&[
        &["PING"],
        &["GET", "k"],
        // Unknown commands and wrong arity are answered before NOAUTH.
        &["NOSUCHCOMMAND"],
        &["GET"],
        // EXEC refused is an EXECABORT, even outside MULTI.
        &["EXEC"],
        &["MULTI"],
        &["HELLO"],
        &["HELLO", "3"],
        &["HELLO", "3", "SETNAME", "early"],
        &["HELLO", "3", "AUTH", "default", "wrong"],
        &["HELLO", "2", "AUTH", "default", "sec", "BAD"],
        &["AUTH"],
        &["AUTH", "a", "b", "c"],
        &["AUTH", "wrong"],
        &["AUTH", "nobody", "sec"],
        &["AUTH", "sec"],
        &["PING"],
        &["CLIENT", "GETNAME"],
        &["AUTH", "default", "wrong"],
        // A failed AUTH does not log an authenticated client out.
        &["SET", "k", "v"],
        &["RESET"],
        &["GET", "k"],
        &["HELLO", "3", "AUTH", "default", "sec", "SETNAME", "n"],
        &["CLIENT", "GETNAME"],
        &["GET", "k"],
        &["RESET"],
        &["AUTH", "default", "sec"],
        &["MULTI"],
        &["GET", "k"],
        &["EXEC"],
    ]);
}

#[test]
fn auth_without_a_password_configured() {
    support::differential_normalized(
        &[
            &["AUTH", "anything"],
            &["AUTH", "default", "anything"],
            &["AUTH", "nobody", "anything"],
            &["HELLO", "2", "AUTH", "nobody", "x"],
            &["HELLO", "2", "AUTH", "default", "x"],
            &["PING"],
        ],
        mask_hello_id,
    );
}

/// Before AUTH, at most 10 arguments of at most 16 KiB each; after it, the
/// usual limits.
#[test]
fn unauthenticated_clients_get_small_request_limits() {
    let Some(oracle) = Server::oracle_with(&["--requirepass", "sec"]) else {
        return;
    };
    let ours = Server::start_with(&["--requirepass", "sec"]);
    let eleven = support::request(&[&b"MSET"[..]; 11]);
    let big = vec![b'x'; 16 * 1024 + 1];
    let big_bulk = support::request(&[b"ECHO", &big]);
    let auth = support::request(&[b"AUTH", b"sec"]);
    let after_auth = [auth.clone(), eleven.clone(), big_bulk.clone()].concat();
    for input in [&eleven, &big_bulk, &after_auth] {
        let want = exchange_raw(oracle.port, input);
        let got = exchange_raw(ours.port, input);
        assert_eq!(
            String::from_utf8_lossy(&got[..got.len().min(300)]),
            String::from_utf8_lossy(&want[..want.len().min(300)])
        );
        assert_eq!(got.len(), want.len());
    }
}

/// Setting a password keeps clients that were let in without one; new ones
/// must authenticate; clearing it lets everybody in again.
#[test]
fn config_set_requirepass_applies_to_new_clients() {
    let server = Server::start();
    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "requirepass", "s3"]),
        b"+OK\r\n"
    );
    assert_eq!(admin.cmd(&["PING"]), b"+PONG\r\n");
    let mut newcomer = server.connect();
    assert_eq!(
        newcomer.cmd_str(&["PING"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(newcomer.cmd(&["AUTH", "s3"]), b"+OK\r\n");
    assert_eq!(newcomer.cmd(&["PING"]), b"+PONG\r\n");
    let mut refused = server.connect();
    assert!(refused.cmd_str(&["GET", "x"]).starts_with("-NOAUTH"));
    // A refused command counts as a rejected call, as Redis's rejectCommand counts it.
    let stats = admin.cmd_str(&["INFO", "commandstats"]);
    assert!(
        stats.contains(
            "cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0"
        ),
        "{stats}"
    );
    assert_eq!(admin.cmd(&["CONFIG", "SET", "requirepass", ""]), b"+OK\r\n");
    assert_eq!(refused.cmd(&["PING"]), b"+PONG\r\n");
}

/// A client that connected while a password was set is still not logged in
/// when it is cleared: commands run, but HELLO wants AUTH, as in Redis.
#[test]
fn hello_after_the_password_is_cleared() {
    let Some(oracle) = Server::oracle_with(&["--requirepass", "sec"]) else {
        return;
    };
    let ours = Server::start_with(&["--requirepass", "sec"]);
    let run = |server: &Server| {
        let mut early = server.connect();
        let mut admin = server.connect();
        admin.cmd(&["AUTH", "sec"]);
        admin.cmd(&["CONFIG", "SET", "requirepass", ""]);
        let replies = [
            early.cmd_str(&["PING"]),
            early.cmd_str(&["HELLO", "2"]),
            mask_hello_id_text(&early.cmd(&["HELLO", "2", "AUTH", "default", "x"])),
        ];
        replies.concat()
    };
    assert_eq!(run(&ours), run(&oracle));
}

fn mask_hello_id_text(reply: &[u8]) -> String {
    String::from_utf8_lossy(&mask_hello_id(reply)).into_owned()
}

#[test]
fn redis_cli_and_the_redis_crate_log_in_with_a_password() {
    let server = Server::start_with(&["--requirepass", "p@ss word"]);
    let port = server.port.to_string();
    if installed("redis-cli", "redis-cli -a") {
        let run = |extra: &[&str]| {
            let out = Command::new("redis-cli")
                .args(["-p", &port, "--no-auth-warning"])
                .args(extra)
                .args(["SET", "from", "cli"])
                .output()
                .expect("run redis-cli");
            let text = [out.stdout, out.stderr].concat();
            String::from_utf8_lossy(&text).trim().to_string()
        };
        assert_eq!(run(&["-a", "p@ss word"]), "OK");
        assert_eq!(run(&["--user", "default", "--pass", "p@ss word"]), "OK");
        assert!(run(&[]).contains("NOAUTH"), "no password, no access");
        assert!(run(&["-a", "wrong"]).contains("WRONGPASS"));
    }
    for url in [
        format!("redis://:p%40ss%20word@127.0.0.1:{port}/"),
        format!("redis://default:p%40ss%20word@127.0.0.1:{port}/"),
    ] {
        let client = redis::Client::open(url.as_str()).expect("url");
        let mut conn = client.get_connection().expect("connect and authenticate");
        let () = redis::cmd("SET")
            .arg("from")
            .arg(url.as_str())
            .query(&mut conn)
            .expect("SET");
        let value: String = redis::cmd("GET").arg("from").query(&mut conn).expect("GET");
        assert_eq!(value, url);
    }
    let bad = redis::Client::open(format!("redis://:wrong@127.0.0.1:{port}/")).expect("url");
    assert!(bad.get_connection().is_err());
}

/// Connects to `port` from 127.0.0.2 (still loopback, but not the address
/// Redis's protected mode calls local), sends `request` and returns all it
/// gets until the server closes or goes quiet for a second.
fn from_other_address(port: u16, request: &[u8]) -> Vec<u8> {
    let mut stream = support::stream_from(std::net::Ipv4Addr::new(127, 0, 0, 2), port);
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    // A denied client sends nothing: data the server never read would turn
    // its close into a reset.
    let _ = stream.write_all(request);
    support::read_all(&mut stream)
}

#[test]
fn protected_mode_denies_non_local_clients_without_a_password() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let want = from_other_address(oracle.port, b"");
    assert!(want.starts_with(b"-DENIED Redis is running in protected mode"));
    assert!(want.ends_with(b"\r\n<closed>"));
    assert_eq!(
        String::from_utf8_lossy(&from_other_address(ours.port, b"")),
        String::from_utf8_lossy(&want)
    );
    let stats = ours.connect().cmd_str(&["INFO", "stats"]);
    assert!(stats.contains("rejected_connections:1\r\n"), "{stats}");
    // Local clients are served; a password or protected-mode no lets others in.
    assert_eq!(ours.connect().cmd(&["PING"]), b"+PONG\r\n");
    let open = Server::start_with(&["--protected-mode", "no"]);
    assert_eq!(from_other_address(open.port, b"PING\r\n"), b"+PONG\r\n");
    let guarded = Server::start_with(&["--requirepass", "x"]);
    assert_eq!(
        String::from_utf8_lossy(&from_other_address(guarded.port, b"PING\r\n")),
        "-NOAUTH Authentication required.\r\n"
    );
}

/// `timeout`: idle clients are closed; subscribers and blocked clients are
/// not; CONFIG SET applies to clients already connected.
#[test]
fn idle_clients_are_closed_after_timeout() {
    let server = Server::start();
    let mut idle = server.connect();
    let mut subscriber = server.connect();
    subscriber.cmd(&["SUBSCRIBE", "ch"]);
    let mut blocked = server.connect();
    blocked.send(&support::request(&[b"BLPOP", b"nothing", b"0"]));
    let mut busy = server.connect();
    let mut admin = server.connect();
    assert_eq!(admin.cmd(&["CONFIG", "SET", "timeout", "1"]), b"+OK\r\n");
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(3500) {
        assert_eq!(busy.cmd(&["PING"]), b"+PONG\r\n");
        assert_eq!(admin.cmd(&["PING"]), b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(idle.is_closed(), "an idle client is closed");
    assert_eq!(
        server.connect().cmd_str(&["PUBLISH", "ch", "still here"]),
        ":1\r\n"
    );
    assert_eq!(busy.cmd(&["LPUSH", "nothing", "x"]), b":1\r\n");
    assert_eq!(
        blocked.read_reply(),
        b"*2\r\n$7\r\nnothing\r\n$1\r\nx\r\n",
        "a blocked client waits as long as it asked to"
    );
}

#[test]
fn tcp_backlog_is_the_listen_queue_length() {
    if !installed("ss", "tcp-backlog check") {
        return;
    }
    let server = Server::start_with(&["--tcp-backlog", "77"]);
    let out = Command::new("ss")
        .args(["-Hltn", &format!("sport = :{}", server.port)])
        .output()
        .expect("run ss");
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    // State, Recv-Q, Send-Q: for a listening socket Send-Q is the backlog.
    let send_q = line.split_whitespace().nth(2);
    assert_eq!(send_q, Some("77"), "{line}");
}

#[test]
fn sighup_does_not_stop_the_server() {
    let mut server = Server::start();
    server.signal("-HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.is_running(), "SIGHUP killed the server");
    let mut conn: Conn = server.connect();
    assert_eq!(conn.cmd(&["PING"]), b"+PONG\r\n");
}
