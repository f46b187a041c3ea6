//! JSON mode: inline (telnet) requests answered with one JSON object per line,
//! while RESP clients on the same server are never affected.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use support::{installed, Server};

/// A telnet-like connection: sends typed lines, reads reply lines.
struct Telnet {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Telnet {
    fn connect(server: &Server) -> Telnet {
        let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        Telnet {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        }
    }

    /// Types `line` (with CRLF, as telnet sends it) and returns the reply line.
    fn ask(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("write");
        self.read_line()
    }

    fn read_line(&mut self) -> String {
        let mut reply = String::new();
        self.reader.read_line(&mut reply).expect("read");
        reply
    }
}

#[test]
fn two_telnet_users_share_one_store_in_json() {
    let server = Server::start_with(&["--json"]);
    let mut alice = Telnet::connect(&server);
    let mut bob = Telnet::connect(&server);
    assert_eq!(
        alice.ask("SET user1 Alice"),
        "{\"command\":\"SET user1 Alice\",\"response\":\"OK\"}\n"
    );
    assert_eq!(
        bob.ask("GET user1"),
        "{\"command\":\"GET user1\",\"response\":\"Alice\"}\n"
    );
    assert_eq!(
        bob.ask("SET user2 Bob"),
        "{\"command\":\"SET user2 Bob\",\"response\":\"OK\"}\n"
    );
    assert_eq!(
        alice.ask("MGET user1 user2 user3"),
        "{\"command\":\"MGET user1 user2 user3\",\"response\":[\"Alice\",\"Bob\",null]}\n"
    );
    assert_eq!(
        alice.ask("GET nosuch"),
        "{\"command\":\"GET nosuch\",\"response\":null}\n"
    );
}

#[test]
fn every_reply_type_as_json() {
    let server = Server::start_with(&["--json"]);
    let mut t = Telnet::connect(&server);
    let cases = [
        ("PING", r#"{"command":"PING","response":"PONG"}"#),
        ("  INCR n  ", r#"{"command":"INCR n","response":1}"#),
        (
            "GET",
            r#"{"command":"GET","error":"ERR wrong number of arguments for 'get' command"}"#,
        ),
        (
            "SET \"a b\" \"x\\ny\"",
            r#"{"command":"SET \"a b\" \"x\\ny\"","response":"OK"}"#,
        ),
        (
            "GET \"a b\"",
            r#"{"command":"GET \"a b\"","response":"x\ny"}"#,
        ),
        // Bytes that are not UTF-8 read `\xHH`; a typed backslash before `x`
        // is doubled so the two cannot be confused.
        (
            "SET bin \"\\xff\\x00\"",
            r#"{"command":"SET bin \"\\\\xff\\\\x00\"","response":"OK"}"#,
        ),
        (
            "GET bin",
            r#"{"command":"GET bin","response":"\\xff\u0000"}"#,
        ),
        (
            "EXISTS n nosuch",
            r#"{"command":"EXISTS n nosuch","response":1}"#,
        ),
        (
            "CONFIG GET port",
            &format!(
                r#"{{"command":"CONFIG GET port","response":{{"port":"{}"}}}}"#,
                server.port
            ),
        ),
        (
            "KEYS nomatch*",
            r#"{"command":"KEYS nomatch*","response":[]}"#,
        ),
        ("SET f 1.5", r#"{"command":"SET f 1.5","response":"OK"}"#),
        (
            "INCRBYFLOAT f 1",
            r#"{"command":"INCRBYFLOAT f 1","response":"2.5"}"#,
        ),
    ];
    for (line, want) in cases {
        assert_eq!(t.ask(line), format!("{want}\n"), "reply to {line:?}");
    }
    // RESP3 maps stay objects; HELLO's id varies, so check the shape.
    let hello = t.ask("HELLO 3");
    assert!(
        hello.starts_with(r#"{"command":"HELLO 3","response":{"server":"redis","version":"7.0.15","proto":3,"id":"#),
        "{hello}"
    );
}

#[test]
fn protocol_errors_are_json_too_and_close() {
    let server = Server::start_with(&["--json"]);
    let mut t = Telnet::connect(&server);
    assert_eq!(
        t.ask("GET \"unterminated"),
        "{\"command\":\"GET \\\"unterminated\",\"error\":\"ERR Protocol error: unbalanced quotes in request\"}\n"
    );
    assert_eq!(t.read_line(), "", "connection should be closed");
}

#[test]
fn resp_clients_are_not_affected_by_json_mode() {
    let server = Server::start_with(&["--json"]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd_str(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(conn.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(conn.cmd_str(&["CLIENT", "JSON", "ON"]), "+OK\r\n");
    assert_eq!(conn.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    if installed("redis-cli", "redis-cli against a --json server") {
        let out = Command::new("redis-cli")
            .args(["-p", &server.port.to_string(), "GET", "k"])
            .output()
            .expect("run redis-cli");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "v\n");
    }
    if installed("redis-benchmark", "redis-benchmark against a --json server") {
        let out = Command::new("redis-benchmark")
            .args([
                "-p",
                &server.port.to_string(),
                "-t",
                "set,get",
                "-n",
                "2000",
                "-P",
                "16",
                "-q",
            ])
            .output()
            .expect("run redis-benchmark");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("SET: ") && text.contains("GET: ") && !text.contains("ERR"),
            "{text}"
        );
    }
}

#[test]
fn client_json_switches_one_connection_and_config_file_sets_the_default() {
    let server = Server::start();
    let mut t = Telnet::connect(&server);
    assert_eq!(t.ask("PING"), "+PONG\r\n");
    // The new mode already applies to the switch's own reply.
    assert_eq!(
        t.ask("CLIENT JSON ON"),
        "{\"command\":\"CLIENT JSON ON\",\"response\":\"OK\"}\n"
    );
    assert_eq!(
        t.ask("PING"),
        "{\"command\":\"PING\",\"response\":\"PONG\"}\n"
    );
    let mut other = Telnet::connect(&server);
    assert_eq!(
        other.ask("PING"),
        "+PONG\r\n",
        "other connections keep RESP"
    );
    assert_eq!(
        t.ask("CLIENT JSON MAYBE"),
        "{\"command\":\"CLIENT JSON MAYBE\",\"error\":\"ERR syntax error\"}\n"
    );
    assert_eq!(t.ask("CLIENT JSON OFF"), "+OK\r\n");

    let conf = std::env::temp_dir().join(format!("reddish-json-{}.conf", std::process::id()));
    std::fs::write(&conf, "json yes\n").expect("write config");
    let from_file = Server::start_with(&[conf.to_str().expect("utf-8 path")]);
    let mut t = Telnet::connect(&from_file);
    assert_eq!(
        t.ask("PING"),
        "{\"command\":\"PING\",\"response\":\"PONG\"}\n"
    );
    let _ = std::fs::remove_file(conf);
}
