//! MONITOR, side by side with the real redis-server: the same script run on
//! both must show the same lines to a monitoring client (times and client
//! ports aside).

mod support;

use support::{Conn, Server};

/// A monitor line with its time and client port masked:
/// `+1700000000.123456 [0 127.0.0.1:5555] "get" "k"` -> `+T [0 127.0.0.1:P] "get" "k"`.
fn mask(line: &str) -> String {
    let (time, rest) = line.split_once(' ').expect("a time, then the origin");
    assert!(
        time.len() > 8
            && time[1..]
                .split_once('.')
                .is_some_and(|(s, us)| { s.bytes().all(|b| b.is_ascii_digit()) && us.len() == 6 }),
        "not a monitor line: {line:?}"
    );
    let (origin, args) = rest.split_once(']').expect("an origin in brackets");
    if origin.ends_with(" lua") {
        return format!("+T {origin}]{args}");
    }
    let (db, _addr) = origin.split_once(" 127.0.0.1:").expect("a client address");
    format!("+T {db} 127.0.0.1:P]{args}")
}

/// Runs `script` on a second connection while a first one monitors; returns
/// what the monitor saw, masked, up to the closing `ECHO`.
fn transcript(server: &Server, script: &[&[&str]]) -> Vec<String> {
    let mut monitor = server.connect();
    assert_eq!(monitor.cmd(&["MONITOR"]), b"+OK\r\n");
    let mut client = server.connect();
    for args in script {
        client.cmd(args);
    }
    client.cmd(&["ECHO", "end of script"]);
    let mut lines = Vec::new();
    loop {
        let line = String::from_utf8(monitor.read_reply()).expect("text");
        let line = mask(line.trim_end());
        if line.ends_with("\"ECHO\" \"end of script\"") {
            return lines;
        }
        lines.push(line);
    }
}

#[test]
fn monitor_shows_what_redis_shows() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let script: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["SET", "quoted key", "a\u{1}\"b\n\\"],
        &["SET", "n", "12345"],
        // Refused before running: not shown.
        &["NOSUCHCOMMAND", "x"],
        &["GET"],
        // Admin commands are not shown; CLIENT ID is not admin.
        &["CONFIG", "GET", "port"],
        &["CLIENT", "LIST"],
        &["CLIENT", "ID"],
        // Errors that ran are shown.
        &["INCR", "k"],
        // A transaction: its commands, then EXEC.
        &["MULTI"],
        &["INCR", "n"],
        &["LPUSH", "l", "a", "b"],
        &["EXEC"],
        // The database after the command.
        &["SELECT", "3"],
        &["set", "lower", "case"],
        &["HELLO", "2", "SETNAME", "me"],
        // Passwords are redacted, whether or not they were right.
        &["AUTH", "someone", "secret"],
        &["HELLO", "2", "AUTH", "default", "secret", "SETNAME", "x"],
        &["PING"],
        // Scripts and functions: shown before the commands they run.
        &["EVAL", "return redis.call('set', KEYS[1], 'e')", "1", "ek"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib\nredis.register_function('f', function(k) return redis.call('set', k[1], 'f') end)",
        ],
        &["FCALL", "f", "1", "fk"],
        &["FCALL_RO", "nosuch", "0"],
    ];
    let ours = Server::start();
    assert_eq!(transcript(&ours, script), transcript(&oracle, script));
}

#[test]
fn monitor_shows_a_blocked_command_once() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let saw = |server: &Server| {
        let mut monitor = server.connect();
        assert_eq!(monitor.cmd(&["MONITOR"]), b"+OK\r\n");
        let mut blocked = server.connect();
        blocked.send(&support::request(&[b"BLPOP", b"q", b"0"]));
        assert_eq!(
            mask(
                String::from_utf8(monitor.read_reply())
                    .expect("text")
                    .trim_end()
            ),
            "+T [0 127.0.0.1:P] \"BLPOP\" \"q\" \"0\""
        );
        server.connect().cmd(&["RPUSH", "q", "x"]);
        assert_eq!(blocked.read_reply(), b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
        server.connect().cmd(&["ECHO", "done"]);
        let mut rest = Vec::new();
        loop {
            let line = mask(
                String::from_utf8(monitor.read_reply())
                    .expect("text")
                    .trim_end(),
            );
            if line.ends_with("\"ECHO\" \"done\"") {
                return rest;
            }
            rest.push(line);
        }
    };
    let ours = Server::start();
    let expected = vec!["+T [0 127.0.0.1:P] \"RPUSH\" \"q\" \"x\"".to_string()];
    assert_eq!(saw(&oracle), expected);
    assert_eq!(saw(&ours), expected);
}

/// The monitor's own commands: the reply first, then its line; MONITOR again
/// gets no reply; inside EXEC it is refused; RESET ends monitoring.
#[test]
fn monitor_own_commands_reset_and_exec_as_redis() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let run = |server: &Server| {
        let mut tx = server.connect();
        let refused = [tx.cmd(&["MULTI"]), tx.cmd(&["MONITOR"]), tx.cmd(&["EXEC"])].concat();
        let mut conn: Conn = server.connect();
        conn.send(b"MONITOR\r\nMONITOR\r\nPING\r\n");
        let mut seen = [conn.read_reply(), conn.read_reply()].concat();
        let own = mask(
            String::from_utf8(conn.read_reply())
                .expect("text")
                .trim_end(),
        );
        let flags = conn.cmd_str(&["CLIENT", "INFO"]);
        let _client_info_line = conn.read_reply();
        seen.extend(conn.cmd(&["RESET"]));
        seen.extend(conn.cmd(&["PING"]));
        let listed = server.connect().cmd_str(&["CLIENT", "LIST"]);
        (
            refused,
            seen,
            own,
            flags.contains(" flags=O "),
            listed.contains(" flags=O "),
        )
    };
    let ours = Server::start();
    let expected = run(&oracle);
    assert!(expected.3 && !expected.4, "{expected:?}");
    assert_eq!(run(&ours), expected);
}
