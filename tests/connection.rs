//! Connection commands over real sockets: PING, ECHO, SELECT, QUIT, RESET,
//! HELLO and CLIENT, compared with redis-server wherever the reply is
//! deterministic.

mod support;

use support::{
    differential, differential_normalized, differential_raw_each, mask_hello_id, Conn, Server,
};

/// The `name=` fields of a CLIENT LIST / CLIENT INFO line, in order.
fn field_names(line: &str) -> Vec<String> {
    line.split(' ')
        .map(|f| f.split_once('=').map_or(f, |(k, _)| k).to_string())
        .collect()
}

/// The text of a bulk (RESP2) or verbatim (RESP3) string reply.
fn text_of(reply: &[u8]) -> String {
    let reply = String::from_utf8_lossy(reply);
    let body = reply.split_once("\r\n").map_or("", |(_, b)| b);
    let body = body.strip_suffix("\r\n").unwrap_or(body);
    body.strip_prefix("txt:").unwrap_or(body).to_string()
}

/// CLIENT INFO's value of `field`.
fn client_field(conn: &mut Conn, field: &str) -> String {
    let info = text_of(&conn.cmd(&["CLIENT", "INFO"]));
    info.trim_end()
        .split(' ')
        .find_map(|f| f.strip_prefix(field)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {field}= in {info:?}"))
        .to_string()
}

#[test]
fn select_and_echo_match_redis() {
    differential(&[
        &["SELECT", "15"],
        &["SET", "k", "v"],
        &["SELECT", "0"],
        &["GET", "k"],
        &["SELECT", "16"],
        &["SELECT", "-1"],
        &["SELECT", "x"],
        &["SELECT", "1.5"],
        &["SELECT", "4294967296"],
        &["SELECT", "-2147483649"],
        &["SELECT", "99999999999999999999"],
        &["SELECT"],
        &["ECHO", ""],
        &["ECHO", "a", "b"],
        &["PING", "x y"],
    ]);
}

#[test]
fn hello_matches_redis_but_for_the_id() {
    differential_normalized(
        &[
            &["HELLO"],
            &["HELLO", "3"],
            &["PING"],
            &["ECHO", "x"],
            &["CLIENT", "GETNAME"],
            &["HELLO", "2", "SETNAME", "conn-1"],
            &["CLIENT", "GETNAME"],
            &["HELLO", "2", "AUTH", "default", "anything"],
            &["HELLO", "4"],
            &["HELLO", "1"],
            &["HELLO", "0"],
            &["HELLO", "x"],
            &["HELLO", "3", "foo"],
            &["HELLO", "3", "AUTH"],
            &["HELLO", "2", "AUTH", "default"],
            &["HELLO", "3", "AUTH", "nobody", "pw"],
            &["HELLO", "3", "SETNAME"],
            &["HELLO", "3", "SETNAME", "a b"],
            // Options apply in order: the name sticks although HELLO fails.
            &["HELLO", "3", "SETNAME", "kept", "BOGUS"],
            &["CLIENT", "GETNAME"],
            &["HELLO", "3", "SETNAME", ""],
            &["CLIENT", "GETNAME"],
        ],
        mask_hello_id,
    );
}

#[test]
fn reset_returns_to_resp2_db0_and_no_name() {
    differential_normalized(
        &[
            &["HELLO", "3"],
            &["CLIENT", "SETNAME", "x"],
            &["CLIENT", "NO-EVICT", "on"],
            &["SELECT", "2"],
            &["SET", "k", "v"],
            &["RESET"],
            &["GET", "k"],
            &["CLIENT", "GETNAME"],
            &["RESET"],
        ],
        mask_hello_id,
    );
    // RESET keeps NO-EVICT (flag e) and, as Redis 7.2, the library name.
    let server = Server::start();
    let mut conn = server.connect();
    conn.cmd(&["CLIENT", "NO-EVICT", "on"]);
    conn.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "lib"]);
    conn.cmd(&["HELLO", "3"]);
    assert_eq!(conn.cmd_str(&["RESET"]), "+RESET\r\n");
    assert_eq!(client_field(&mut conn, "flags"), "e");
    assert_eq!(client_field(&mut conn, "lib-name"), "lib");
    assert_eq!(client_field(&mut conn, "resp"), "2");
}

#[test]
fn quit_replies_ok_then_closes() {
    let server = Server::start();
    let mut conn = server.connect();
    assert_eq!(conn.cmd_str(&["QUIT"]), "+OK\r\n");
    assert!(conn.is_closed());
}

#[test]
fn client_names_match_redis() {
    differential(&[
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME", "name-1"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME", "a b"],
        &["CLIENT", "SETNAME", "a\nb"],
        &["CLIENT", "SETNAME", "caf\u{e9}"],
        &["CLIENT", "SETNAME", "~!"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME", ""],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME"],
        &["CLIENT", "GETNAME", "x"],
        &["CLIENT", "NO-EVICT", "on"],
        &["CLIENT", "NO-EVICT", "OFF"],
        &["CLIENT", "NO-EVICT", "maybe"],
        &["CLIENT", "NOPE"],
        &["CLIENT"],
        &["CLIENT", "HELP"],
    ]);
}

#[test]
fn client_list_and_kill_errors_match_redis() {
    differential(&[
        &["CLIENT", "LIST", "foo"],
        &["CLIENT", "LIST", "ID"],
        &["CLIENT", "LIST", "ID", "1", "x"],
        &["CLIENT", "LIST", "ID", "0", "-5"],
        &["CLIENT", "LIST", "TYPE", "foo"],
        &["CLIENT", "LIST", "TYPE", "normal", "extra"],
        &["CLIENT", "LIST", "TYPE", "pubsub"],
        &["CLIENT", "LIST", "TYPE", "MASTER"],
        &["CLIENT", "LIST", "TYPE", "replica"],
        &["CLIENT", "KILL"],
        &["CLIENT", "KILL", "1.2.3.4:5"],
        &["CLIENT", "KILL", "ID"],
        &["CLIENT", "KILL", "ID", "0"],
        &["CLIENT", "KILL", "ID", "-1"],
        &["CLIENT", "KILL", "ID", "abc"],
        &["CLIENT", "KILL", "ID", "9223372036854775808"],
        &["CLIENT", "KILL", "ID", "999999"],
        &["CLIENT", "KILL", "TYPE", "bogus"],
        &["CLIENT", "KILL", "TYPE", "pubsub"],
        &["CLIENT", "KILL", "USER", "nobody"],
        &["CLIENT", "KILL", "SKIPME", "maybe"],
        &["CLIENT", "KILL", "SKIPME", "no", "ID"],
        &["CLIENT", "KILL", "foo", "bar"],
        &["CLIENT", "KILL", "ADDR", "1.1.1.1:1", "TYPE", "normal"],
        &["CLIENT", "KILL", "LADDR", "1.1.1.1:1"],
        &["CLIENT", "KILL", "USER", "default", "ID", "999999"],
    ]);
}

#[test]
fn client_info_has_redis_fields_in_order_then_lib_fields() {
    let ours = Server::start();
    let mut conn = ours.connect();
    let line = text_of(&conn.cmd(&["CLIENT", "INFO"]));
    assert!(line.ends_with('\n'), "{line:?}");
    let mut expected = vec![
        "id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db",
    ];
    expected.extend([
        "sub",
        "psub",
        "ssub",
        "multi",
        "qbuf",
        "qbuf-free",
        "argv-mem",
        "multi-mem",
        "rbs",
        "rbp",
        "obl",
        "oll",
        "omem",
        "tot-mem",
        "events",
        "cmd",
        "user",
        "redir",
        "resp",
        "lib-name",
        "lib-ver",
    ]);
    assert_eq!(field_names(line.trim_end()), expected);
    if let Some(oracle) = Server::oracle() {
        let theirs = text_of(&oracle.connect().cmd(&["CLIENT", "INFO"]));
        let mut names = field_names(theirs.trim_end());
        names.extend(["lib-name".to_string(), "lib-ver".to_string()]);
        assert_eq!(field_names(line.trim_end()), names);
    }
    assert_eq!(client_field(&mut conn, "cmd"), "client|info");
    assert_eq!(client_field(&mut conn, "flags"), "N");
    assert_eq!(client_field(&mut conn, "user"), "default");
    assert_eq!(
        client_field(&mut conn, "laddr"),
        format!("127.0.0.1:{}", ours.port)
    );
}

#[test]
fn client_id_list_and_filters() {
    let server = Server::start();
    let mut a = server.connect();
    let mut b = server.connect();
    a.cmd(&["CLIENT", "SETNAME", "alpha"]);
    b.cmd(&["CLIENT", "SETNAME", "beta"]);
    b.cmd(&["SELECT", "3"]);
    let id_a = String::from_utf8(a.cmd(&["CLIENT", "ID"])).unwrap();
    let id_a = id_a.trim_start_matches(':').trim_end();
    assert_eq!(client_field(&mut a, "id"), id_a);
    let id_b = client_field(&mut b, "id");

    let list = text_of(&a.cmd(&["CLIENT", "LIST"]));
    assert_eq!(list.lines().count(), 2, "{list}");
    let line_of = |id: &str| {
        list.lines()
            .find(|l| l.starts_with(&format!("id={id} ")))
            .unwrap_or_else(|| panic!("no client {id} in {list}"))
    };
    let (line_a, line_b) = (line_of(id_a), line_of(&id_b));
    assert!(line_a.contains(" name=alpha ") && line_a.contains(" db=0 "));
    assert!(line_a.contains(" cmd=client|list "));
    assert!(line_b.contains(" name=beta ") && line_b.contains(" db=3 "));
    assert!(line_b.contains(" cmd=client|info "));

    // IDs come back in the order asked, repeats included, unknown ones skipped.
    let by_id = text_of(&a.cmd(&["CLIENT", "LIST", "ID", &id_b, "999", id_a, &id_b]));
    let names: Vec<&str> = by_id
        .lines()
        .map(|l| l.split(' ').nth(4).unwrap_or(""))
        .collect();
    assert_eq!(names, ["name=beta", "name=alpha", "name=beta"]);
    assert_eq!(
        text_of(&a.cmd(&["CLIENT", "LIST", "TYPE", "normal"]))
            .lines()
            .count(),
        2
    );
    assert_eq!(
        a.cmd_str(&["CLIENT", "LIST", "TYPE", "pubsub"]),
        "$0\r\n\r\n"
    );

    // RESP3: a verbatim string.
    a.cmd(&["HELLO", "3"]);
    assert!(a.cmd_str(&["CLIENT", "LIST"]).starts_with('='));
}

#[test]
fn client_kill_by_id_addr_and_laddr() {
    let server = Server::start();
    let mut a = server.connect();
    let mut b = server.connect();
    let id_b = client_field(&mut b, "id");
    assert_eq!(a.cmd_str(&["CLIENT", "KILL", "ID", &id_b]), ":1\r\n");
    assert!(b.is_closed());
    assert_eq!(a.cmd_str(&["CLIENT", "KILL", "ID", &id_b]), ":0\r\n");

    // The old form names a peer address.
    let mut c = server.connect();
    let addr_c = client_field(&mut c, "addr");
    assert_eq!(a.cmd_str(&["CLIENT", "KILL", &addr_c]), "+OK\r\n");
    assert!(c.is_closed());
    assert_eq!(
        a.cmd_str(&["CLIENT", "KILL", &addr_c]),
        "-ERR No such client\r\n"
    );

    // LADDR with the default SKIPME yes kills everyone else.
    let mut d = server.connect();
    let mut e = server.connect();
    d.cmd(&["PING"]);
    e.cmd(&["PING"]);
    let laddr = client_field(&mut a, "laddr");
    assert_eq!(a.cmd_str(&["CLIENT", "KILL", "LADDR", &laddr]), ":2\r\n");
    assert!(d.is_closed() && e.is_closed());
    assert_eq!(a.cmd_str(&["PING"]), "+PONG\r\n");

    // USER default matches every client here.
    let mut f = server.connect();
    f.cmd(&["PING"]);
    assert_eq!(a.cmd_str(&["CLIENT", "KILL", "USER", "default"]), ":1\r\n");
    assert!(f.is_closed());
}

#[test]
fn client_kill_self_replies_first() {
    let server = Server::start();
    let mut a = server.connect();
    let id = client_field(&mut a, "id");
    assert_eq!(a.cmd_str(&["CLIENT", "KILL", "ID", &id]), ":0\r\n");
    assert_eq!(
        a.cmd_str(&["CLIENT", "KILL", "ID", &id, "SKIPME", "no"]),
        ":1\r\n"
    );
    assert!(a.is_closed());

    let mut b = server.connect();
    let addr = client_field(&mut b, "addr");
    assert_eq!(b.cmd_str(&["CLIENT", "KILL", &addr]), "+OK\r\n");
    assert!(b.is_closed());
}

#[test]
fn client_setinfo_as_redis_7_2() {
    let server = Server::start();
    let mut conn = server.connect();
    assert_eq!(client_field(&mut conn, "lib-name"), "");
    assert_eq!(
        conn.cmd_str(&["CLIENT", "SETINFO", "LIB-NAME", "my-lib"]),
        "+OK\r\n"
    );
    assert_eq!(
        conn.cmd_str(&["CLIENT", "SETINFO", "lib-ver", "1.2.3"]),
        "+OK\r\n"
    );
    assert_eq!(client_field(&mut conn, "lib-name"), "my-lib");
    assert_eq!(client_field(&mut conn, "lib-ver"), "1.2.3");
    assert_eq!(
        conn.cmd_str(&["CLIENT", "SETINFO", "lib-Name", "a b"]),
        "-ERR lib-Name cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        conn.cmd_str(&["CLIENT", "SETINFO", "color", "red"]),
        "-ERR Unrecognized option 'color'\r\n"
    );
    assert_eq!(
        conn.cmd_str(&["CLIENT", "SETINFO", "lib-name"]),
        "-ERR wrong number of arguments for 'client|setinfo' command\r\n"
    );
    assert_eq!(
        conn.cmd_str(&["CLIENT", "SETINFO", "LIB-VER", ""]),
        "+OK\r\n"
    );
    assert_eq!(client_field(&mut conn, "lib-ver"), "");
    assert_eq!(client_field(&mut conn, "lib-name"), "my-lib");
}

#[test]
fn redis_rs_over_resp3_sets_its_library_info() {
    let server = Server::start();
    let url = format!("redis://127.0.0.1:{}/?protocol=resp3", server.port);
    let client = redis::Client::open(url).expect("client");
    let mut con = client.get_connection().expect("connect over RESP3");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut con)
        .expect("SET");
    let v: String = redis::cmd("GET").arg("k").query(&mut con).expect("GET");
    assert_eq!(v, "v");
    let info: String = redis::cmd("CLIENT")
        .arg("INFO")
        .query(&mut con)
        .expect("CLIENT INFO");
    assert!(info.contains(" resp=3 "), "{info}");
    assert!(info.contains(" lib-name=redis-rs lib-ver="), "{info}");
    let _: () = redis::cmd("CLIENT")
        .arg("SETINFO")
        .arg("LIB-NAME")
        .arg("reddish-test")
        .query(&mut con)
        .expect("CLIENT SETINFO");
    let info: String = redis::cmd("CLIENT")
        .arg("INFO")
        .query(&mut con)
        .expect("CLIENT INFO");
    assert!(info.contains(" lib-name=reddish-test "), "{info}");
    let hello: redis::Value = redis::cmd("HELLO").arg(3).query(&mut con).expect("HELLO");
    assert!(matches!(hello, redis::Value::Map(_)), "{hello:?}");
}

/// With `io-threads 3` connections are dealt to three event loops: a push, a
/// BLPOP wake-up and a CLIENT KILL each cross from one loop to another.
#[test]
fn io_threads_deal_connections_to_loops_that_wake_each_other() {
    let server = Server::start_with(&["--io-threads", "3"]);
    let mut conns: Vec<Conn> = (0..3).map(|_| server.connect()).collect();
    let (first, rest) = conns.split_at_mut(1);
    let (second, third) = rest.split_at_mut(1);
    let (sub, blocked, other) = (&mut first[0], &mut second[0], &mut third[0]);

    sub.cmd(&["SUBSCRIBE", "ch"]);
    assert_eq!(other.cmd_str(&["PUBLISH", "ch", "hi"]), ":1\r\n");
    assert_eq!(
        String::from_utf8_lossy(&sub.read_reply()),
        "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    );

    blocked.send(&support::request(&[b"BLPOP", b"list", b"0"]));
    while !other.cmd_str(&["CLIENT", "LIST"]).contains("flags=b") {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(other.cmd_str(&["RPUSH", "list", "x"]), ":1\r\n");
    assert_eq!(
        String::from_utf8_lossy(&blocked.read_reply()),
        "*2\r\n$4\r\nlist\r\n$1\r\nx\r\n"
    );

    // The subscriber's loop still serves it after the push.
    assert!(text_of(&sub.cmd(&["PING"])).contains("pong"));
    let sub_id = other
        .cmd_str(&["CLIENT", "LIST"])
        .lines()
        .find(|l| l.contains("sub=1"))
        .and_then(|l| l.split(' ').next())
        .map(|f| f.trim_start_matches("id=").to_string())
        .expect("the subscriber in CLIENT LIST");
    assert_eq!(other.cmd_str(&["CLIENT", "KILL", "ID", &sub_id]), ":1\r\n");
    assert!(sub.is_closed());
    assert_eq!(other.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn client_reply_silences_replies_but_not_pushes_as_redis() {
    differential_raw_each(&[
        // SKIP drops the next reply only; OFF drops all, its own included;
        // ON answers and cancels a SKIP right before it; errors and arity.
        b"CLIENT REPLY SKIP\r\nPING a\r\nPING b\r\nCLIENT REPLY OFF\r\nPING c\r\n\
          CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING d\r\nCLIENT REPLY SKIP\r\n\
          CLIENT REPLY ON\r\nPING e\r\nCLIENT REPLY x\r\nCLIENT REPLY\r\n\
          CLIENT REPLY on\r\nCLIENT REPLY sKiP\r\nGET k\r\nGET k\r\n",
        // A skipped command that blocks stays skipped until it is answered.
        b"CLIENT REPLY SKIP\r\nBLPOP q 0.1\r\nPING\r\n",
        // Confirmations and messages are pushed even while OFF, in RESP2 and RESP3.
        b"CLIENT REPLY OFF\r\nSUBSCRIBE ch1\r\nPSUBSCRIBE c*\r\nPUBLISH ch1 hi\r\nPING x\r\n\
          UNSUBSCRIBE\r\nPUNSUBSCRIBE\r\nPING y\r\n",
        // (HELLO's reply, with its connection id, is skipped.)
        b"CLIENT REPLY SKIP\r\nHELLO 3\r\nCLIENT REPLY OFF\r\nSUBSCRIBE ch2\r\nPUBLISH ch2 hi\r\nGET k\r\n\
          CLIENT REPLY ON\r\nUNSUBSCRIBE ch2\r\nGET k\r\n",
    ]);
}

/// `qbuf=` of the calling client in CLIENT INFO and CLIENT LIST TYPE normal.
fn own_qbuf(s: &Server) -> [String; 2] {
    let mut c = s.connect();
    let list = text_of(&c.cmd(&["CLIENT", "LIST", "TYPE", "normal"]));
    let qbuf = |line: &str| {
        line.split(' ')
            .find_map(|f| f.strip_prefix("qbuf="))
            .unwrap_or_default()
            .to_string()
    };
    [client_field(&mut c, "qbuf"), qbuf(list.trim_end())]
}

#[test]
fn a_client_sees_its_running_request_in_its_qbuf_as_redis() {
    let ours = own_qbuf(&Server::start());
    // `*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n` and the four-argument LIST.
    assert_eq!(ours, ["26", "48"]);
    if let Some(oracle) = Server::oracle() {
        assert_eq!(own_qbuf(&oracle), ours);
    }
}

#[test]
fn client_reply_skip_inside_exec_silences_the_command_after_exec() {
    let server = Server::start();
    let out = support::exchange_raw(
        server.port,
        b"MULTI\r\nCLIENT REPLY SKIP\r\nPING d\r\nEXEC\r\nPING e\r\nPING f\r\n",
    );
    // Redis sends EXEC's array one element short of its declared length
    // there (SKIP adds no reply); ours keeps SKIP's slot, so the array stays
    // well formed. The skip applies to the command after EXEC, as in Redis.
    assert_eq!(
        String::from_utf8_lossy(&out),
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\nd\r\n$1\r\nf\r\n"
    );
}

/// A client may write a whole long pipeline before it reads any reply:
/// the server keeps reading and running requests while the replies wait
/// for the client, as Redis does (it used to stop reading until the client
/// took its replies, and both waited for ever).
#[test]
fn a_pipeline_written_before_any_reply_is_read_completes() {
    use std::io::{Read, Write};
    let server = Server::start();
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    socket
        .set_write_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    // 12 MB of requests and 14 MB of replies: far past the sockets' buffers.
    let count = 2_000_000;
    socket
        .write_all(&b"PING\r\n".repeat(count))
        .expect("the whole pipeline is taken before any reply is read");
    let want = b"+PONG\r\n".len() * count;
    let mut got = 0;
    let mut buf = vec![0u8; 1 << 20];
    while got < want {
        let n = socket.read(&mut buf).expect("replies");
        assert!(n > 0, "closed after {got} bytes");
        got += n;
    }
    assert_eq!(got, want);
}

/// A client whose next request is always already there when its last one
/// finishes does not keep the others waiting: each ready client gets its
/// turn, as each gets one read per round of Redis's event loop. The busy
/// client keeps two 10 ms `DEBUG SLEEP`s outstanding for 1.5 s; a PING sent
/// meanwhile on the same event loop is answered within a few of them (its
/// task used to wait until the busy client stopped).
#[test]
fn a_client_with_requests_always_waiting_does_not_starve_the_others() {
    use std::io::{BufRead, BufReader, Write};
    use std::time::{Duration, Instant};

    let server = Server::start_with(&["--enable-debug-command", "yes", "--io-threads", "1"]);
    let mut idle = server.connect();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    let sleep = support::request(&[b"DEBUG", b"SLEEP", b"0.01"]);
    let mut busy = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let busy_until = Instant::now() + Duration::from_millis(1500);
    let busy_client = std::thread::spawn(move || {
        let mut replies = BufReader::new(busy.try_clone().unwrap());
        busy.write_all(&sleep).unwrap();
        busy.write_all(&sleep).unwrap();
        let mut outstanding = 2;
        let mut line = String::new();
        while outstanding > 0 {
            line.clear();
            replies.read_line(&mut line).unwrap();
            assert_eq!(line, "+OK\r\n");
            outstanding -= 1;
            if Instant::now() < busy_until {
                busy.write_all(&sleep).unwrap();
                outstanding += 1;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    let waited = sent.elapsed();
    busy_client.join().unwrap();
    assert!(
        waited < Duration::from_millis(400),
        "PING waited {waited:?} behind the busy client"
    );
}

/// A read that fills its room leaves bytes in the socket, one that does not
/// drained it (the server then waits for the socket without asking the
/// kernel again): a pipeline sent at once is read to its end although no
/// more bytes arrive after it, a request in pieces is served once its last
/// piece comes, a client that sends one request at a time gets every reply,
/// and a half request followed by the end of the stream closes the
/// connection.
#[test]
fn reads_go_on_while_bytes_wait_and_wait_once_the_socket_is_dry() {
    use std::io::Write;
    use std::time::Duration;
    let server = Server::start();
    let mut conn = server.connect();
    // 2,000 SETs in one write: far more than one read's room, all of it in
    // the socket before the server reads, nothing sent after it.
    let value = "v".repeat(100);
    let pipeline: Vec<u8> = (0..2000)
        .flat_map(|i| support::request(&[b"SET", format!("k{i}").as_bytes(), value.as_bytes()]))
        .collect();
    conn.send(&pipeline);
    for i in 0..2000 {
        assert_eq!(conn.read_reply(), b"+OK\r\n", "reply {i}");
    }
    assert_eq!(conn.cmd(&["DBSIZE"]), b":2000\r\n");
    // One request in three pieces, each after the server drained the socket.
    let request = support::request(&[b"GET", b"k1999"]);
    for piece in request.chunks(request.len() / 3 + 1) {
        conn.send(piece);
        std::thread::sleep(Duration::from_millis(30));
    }
    assert_eq!(conn.read_reply(), format!("$100\r\n{value}\r\n").as_bytes());
    // One request at a time, each read whole by one short read.
    for i in 0..300 {
        assert_eq!(
            conn.cmd(&["INCR", "counter"]),
            format!(":{}\r\n", i + 1).as_bytes()
        );
    }
    // Half a request, then the end of the stream.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream.write_all(b"*2\r\n$3\r\nGET\r\n").expect("write");
    std::thread::sleep(Duration::from_millis(30));
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut rest = Vec::new();
    let read = std::io::Read::read_to_end(&mut stream, &mut rest);
    assert!(
        read.is_ok() && rest.is_empty(),
        "closed without a reply: {read:?} {rest:?}"
    );
}
