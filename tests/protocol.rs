//! The wire protocol over real sockets: pipelining, inline requests, bad input.

mod support;

use support::{differential, differential_raw, Server};

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
fn protocol_errors_reply_then_close() {
    differential_raw(b"PING\r\n*1\r\n:1\r\n");
    differential_raw(b"*abc\r\n");
    differential_raw(b"*1\r\n$-5\r\n");
    differential_raw(b"*2147483648\r\n");
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
