//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX, BZMPOP) and CLIENT UNBLOCK: errors and immediate results
//! compared byte for byte with redis-server, and multi-client scenarios run
//! on both servers with their transcripts compared (and asserted on reddish).

mod support;

use std::time::{Duration, Instant};

use support::{differential, differential_resp3, on_both, reply, send, wait_blocked, Conn, Server};

#[test]
fn errors_and_immediate_results_match_redis() {
    differential(&[
        &["RPUSH", "l1", "a", "b", "c"],
        &["RPUSH", "l2", "x"],
        &["SET", "s", "v"],
        &["ZADD", "z1", "1", "a", "2", "b", "3", "c"],
        // Timeout parsing (Redis 7.0: truncated to ms, no out-of-range check).
        &["BLPOP", "none", "-1"],
        &["BLPOP", "none", "abc"],
        &["BLPOP", "none", "1e17"],
        &["BLPOP", "none", "inf"],
        &["BLPOP", "none", "-inf"],
        &["BLPOP", "none", "nan"],
        &["BLPOP", "none", " 1"],
        &["BLPOP", "none", ""],
        &["BLPOP", "l1", "-1"],
        &["BRPOP", "none", "x"],
        &["BLMOVE", "l1", "d", "LEFT", "RIGHT", "-1"],
        &["BLMOVE", "l1", "d", "UP", "RIGHT", "-1"],
        &["BLMOVE", "l1", "d", "LEFT", "DOWN", "x"],
        &["BRPOPLPUSH", "l1", "d", "-1"],
        &["BLMPOP", "-1", "1", "l1", "LEFT"],
        &["BLMPOP", "0", "0", "l1", "LEFT"],
        &["BLMPOP", "0", "2", "l1", "LEFT"],
        &["BLMPOP", "0", "1", "l1", "MIDDLE"],
        &["BLMPOP", "0", "1", "l1", "LEFT", "COUNT", "0"],
        &["BLMPOP", "0", "1", "l1", "LEFT", "COUNT", "1", "COUNT", "1"],
        &["BZPOPMIN", "z1", "-1"],
        &["BZPOPMAX", "z1", "x"],
        &["BZMPOP", "-1", "1", "z1", "MIN"],
        &["BZMPOP", "0", "0", "z1", "MIN"],
        &["BZMPOP", "0", "1", "z1", "SIDEWAYS"],
        &["BZMPOP", "0", "1", "z1", "MIN", "COUNT", "0"],
        &["BLPOP"],
        &["BLPOP", "k"],
        &["BZPOPMIN", "k"],
        // Wrong types, in key order.
        &["BLPOP", "s", "l1", "0"],
        &["BLPOP", "none", "s", "0"],
        &["BZPOPMIN", "s", "0"],
        &["BZPOPMIN", "l1", "z1", "0"],
        &["BLMOVE", "s", "d", "LEFT", "LEFT", "0"],
        &["BLMOVE", "l1", "s", "LEFT", "LEFT", "0"],
        &["BLMPOP", "0", "2", "s", "l1", "LEFT"],
        &["BZMPOP", "0", "1", "l1", "MIN"],
        // Immediate results: the first non-empty key wins.
        &["BLPOP", "none", "l1", "l2", "0"],
        &["BRPOP", "none", "l2", "l1", "0"],
        &["EXISTS", "l2"],
        &["BLMOVE", "l1", "d", "RIGHT", "LEFT", "0"],
        &["BRPOPLPUSH", "d", "l1", "0.5"],
        &["LRANGE", "l1", "0", "-1"],
        &["LRANGE", "d", "0", "-1"],
        &["RPUSH", "l3", "1", "2", "3", "4"],
        &["BLMPOP", "0", "2", "none", "l3", "RIGHT", "COUNT", "3"],
        &["BLMPOP", "0", "1", "l3", "LEFT", "COUNT", "9"],
        &["EXISTS", "l3"],
        &["BZPOPMIN", "none", "z1", "0"],
        &["BZPOPMAX", "z1", "0"],
        &["ZADD", "z2", "1.5", "m", "2.5", "n", "-3", "o"],
        &["BZMPOP", "0", "2", "none", "z2", "MAX", "COUNT", "2"],
        &["BZMPOP", "1", "1", "z2", "MIN"],
        &["EXISTS", "z1", "z2"],
        // CLIENT UNBLOCK on nobody, and its argument errors.
        &["CLIENT", "UNBLOCK", "999999"],
        &["CLIENT", "UNBLOCK", "999999", "ERROR"],
        &["CLIENT", "UNBLOCK", "999999", "timeout"],
        &["CLIENT", "UNBLOCK", "x"],
        &["CLIENT", "UNBLOCK", "x", "maybe"],
        &["CLIENT", "UNBLOCK", "1", "error", "extra"],
        &["CLIENT", "UNBLOCK"],
    ]);
}

#[test]
fn blocking_commands_inside_multi_do_not_block() {
    let script: &[&[&str]] = &[
        &["MULTI"],
        &["BLPOP", "e", "0"],
        &["BRPOP", "e", "f", "0"],
        &["BLMOVE", "e", "f", "LEFT", "RIGHT", "0"],
        &["BRPOPLPUSH", "e", "f", "0"],
        &["BLMPOP", "0", "1", "e", "LEFT"],
        &["BZPOPMIN", "e", "0"],
        &["BZPOPMAX", "e", "0"],
        &["BZMPOP", "0", "1", "e", "MIN"],
        &["RPUSH", "e", "x"],
        &["BLPOP", "e", "0"],
        &["ZADD", "z", "1", "a"],
        &["BZPOPMAX", "z", "0"],
        &["EXEC"],
        &["EXISTS", "e", "f", "z"],
    ];
    differential(script);
    differential_resp3(script);
}

#[test]
fn resp3_immediate_replies_match_redis() {
    differential_resp3(&[
        &["ZADD", "z", "1", "a", "2", "b"],
        &["BZPOPMIN", "z", "0"],
        &["BZMPOP", "0", "1", "z", "MAX"],
        &["RPUSH", "l", "a", "b"],
        &["BLPOP", "l", "0"],
        &["BLMPOP", "0", "1", "l", "LEFT"],
        &["BLPOP", "l", "0.01"],
        &["BZPOPMIN", "z", "0.01"],
        &["BLMOVE", "l", "m", "LEFT", "LEFT", "0.01"],
    ]);
}

#[test]
fn push_wakes_the_blocked_client() {
    let t = on_both(|s| {
        let (mut a, mut b) = (s.connect(), s.connect());
        send(&mut a, &["BLPOP", "q", "other", "0"]);
        wait_blocked(&mut b, 1);
        let mut out = vec![b.cmd_str(&["RPUSH", "q", "x", "y"])];
        out.push(reply(&mut a));
        out.push(b.cmd_str(&["LRANGE", "q", "0", "-1"]));
        wait_blocked(&mut b, 0);
        // A client blocked on several keys is woken by the one written.
        send(&mut a, &["BRPOP", "k1", "k2", "0"]);
        wait_blocked(&mut b, 1);
        out.push(b.cmd_str(&["LPUSH", "k2", "z"]));
        out.push(reply(&mut a));
        out
    });
    assert_eq!(t[1], "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    assert_eq!(t[2], "*1\r\n$1\r\ny\r\n");
    assert_eq!(t[4], "*2\r\n$2\r\nk2\r\n$1\r\nz\r\n");
}

/// Redis serves the clients blocked on a key right after the command that
/// stored it: the writer's next command, pipelined or not, finds the value
/// gone, on whichever event loop each client runs (several pairs, so some
/// share a loop and some do not).
#[test]
fn the_woken_client_is_served_before_the_writers_next_command() {
    let t = on_both(|s| {
        let mut out = Vec::new();
        for round in 0..6 {
            let mut waiter = s.connect();
            let mut writer = s.connect();
            for _ in 0..round % 3 {
                drop(s.connect());
            }
            send(
                &mut waiter,
                &["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "2"],
            );
            wait_blocked(&mut writer, 1);
            // Both in one write: LPUSH and the LPOP right behind it.
            let mut pipeline = support::request(&[b"LPUSH", b"b", b"x", b"y", b"z"]);
            pipeline.extend(support::request(&[b"LPOP", b"b", b"5"]));
            writer.send(&pipeline);
            out.push(reply(&mut writer));
            out.push(reply(&mut writer));
            out.push(reply(&mut waiter));
            wait_blocked(&mut writer, 0);
        }
        out
    });
    assert_eq!(t[1], "*1\r\n$1\r\nx\r\n");
    assert_eq!(t[2], "*2\r\n$1\r\nb\r\n*2\r\n$1\r\nz\r\n$1\r\ny\r\n");
}

#[test]
fn blocked_clients_are_served_first_come_first_served() {
    let t = on_both(|s| {
        let mut writer = s.connect();
        let mut clients: Vec<Conn> = (0..3).map(|_| s.connect()).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            send(c, &["BLPOP", "q", "0"]);
            wait_blocked(&mut writer, i + 1);
        }
        let mut out = vec![writer.cmd_str(&["RPUSH", "q", "1", "2"])];
        out.push(reply(&mut clients[0]));
        out.push(reply(&mut clients[1]));
        wait_blocked(&mut writer, 1);
        out.push(writer.cmd_str(&["RPUSH", "q", "3"]));
        out.push(reply(&mut clients[2]));
        out.push(writer.cmd_str(&["EXISTS", "q"]));
        out
    });
    assert_eq!(t[1], "*2\r\n$1\r\nq\r\n$1\r\n1\r\n");
    assert_eq!(t[2], "*2\r\n$1\r\nq\r\n$1\r\n2\r\n");
    assert_eq!(t[4], "*2\r\n$1\r\nq\r\n$1\r\n3\r\n");
    assert_eq!(t[5], ":0\r\n");
}

#[test]
fn fractional_timeouts_return_null() {
    let server = Server::start();
    let mut c = server.connect();
    for cmd in [
        &["BLPOP", "q", "0.1"][..],
        &["BZPOPMIN", "z", "0.1"],
        &["BLMOVE", "q", "d", "LEFT", "LEFT", "0.1"],
        &["BLMPOP", "0.1", "1", "q", "LEFT"],
        &["BZMPOP", "0.1", "1", "z", "MIN"],
    ] {
        let start = Instant::now();
        assert_eq!(c.cmd_str(cmd), "*-1\r\n", "{cmd:?}");
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(95), "{cmd:?} took {took:?}");
        assert!(took < Duration::from_secs(2), "{cmd:?} took {took:?}");
    }
    c.cmd(&["HELLO", "3"]);
    assert_eq!(c.cmd_str(&["BRPOP", "q", "0.05"]), "_\r\n");
    assert!(c
        .cmd_str(&["INFO", "clients"])
        .contains("blocked_clients:0\r"));
}

#[test]
fn a_client_that_disconnects_while_blocked_leaves_no_trace() {
    let t = on_both(|s| {
        let mut writer = s.connect();
        let mut gone = s.connect();
        send(&mut gone, &["BLPOP", "q", "0"]);
        wait_blocked(&mut writer, 1);
        drop(gone);
        wait_blocked(&mut writer, 0);
        let mut waiting = s.connect();
        send(&mut waiting, &["BLPOP", "q", "0"]);
        wait_blocked(&mut writer, 1);
        vec![writer.cmd_str(&["LPUSH", "q", "x"]), reply(&mut waiting)]
    });
    assert_eq!(t[1], "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
}

#[test]
fn waiters_wake_only_after_exec_commits() {
    let t = on_both(|s| {
        let (mut a, mut b) = (s.connect(), s.connect());
        send(&mut a, &["BLPOP", "q", "0"]);
        wait_blocked(&mut b, 1);
        let mut out = vec![b.cmd_str(&["MULTI"])];
        out.push(b.cmd_str(&["RPUSH", "q", "first"]));
        out.push(b.cmd_str(&["LPUSH", "q", "second"]));
        out.push(b.cmd_str(&["EXEC"]));
        out.push(reply(&mut a));
        // A transaction that pushes then empties the list wakes nobody for good.
        send(&mut a, &["BLPOP", "e", "0.3"]);
        wait_blocked(&mut b, 1);
        b.cmd(&["MULTI"]);
        b.cmd(&["RPUSH", "e", "x"]);
        b.cmd(&["DEL", "e"]);
        out.push(b.cmd_str(&["EXEC"]));
        out.push(reply(&mut a));
        out
    });
    assert_eq!(t[4], "*2\r\n$1\r\nq\r\n$6\r\nsecond\r\n");
    assert_eq!(t[6], "*-1\r\n");
}

#[test]
fn blmove_moves_atomically_on_wake_up() {
    let t = on_both(|s| {
        let (mut a, mut b) = (s.connect(), s.connect());
        send(&mut a, &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]);
        wait_blocked(&mut b, 1);
        let mut out = vec![b.cmd_str(&["RPUSH", "src", "x", "y"])];
        out.push(reply(&mut a));
        out.push(b.cmd_str(&["LRANGE", "src", "0", "-1"]));
        out.push(b.cmd_str(&["LRANGE", "dst", "0", "-1"]));
        send(&mut a, &["BRPOPLPUSH", "s2", "s2", "0"]);
        wait_blocked(&mut b, 1);
        out.push(b.cmd_str(&["RPUSH", "s2", "1", "2"]));
        out.push(reply(&mut a));
        out.push(b.cmd_str(&["LRANGE", "s2", "0", "-1"]));
        out
    });
    assert_eq!(t[1], "$1\r\ny\r\n");
    assert_eq!(t[3], "*1\r\n$1\r\ny\r\n");
}

#[test]
fn bzpopmin_and_bzmpop_wake_on_zadd() {
    let t = on_both(|s| {
        let (mut a, mut b) = (s.connect(), s.connect());
        send(&mut a, &["BZPOPMIN", "z1", "z2", "0"]);
        wait_blocked(&mut b, 1);
        let mut out = vec![b.cmd_str(&["ZADD", "z2", "2", "m", "1.5", "n"])];
        out.push(reply(&mut a));
        send(
            &mut a,
            &["BZMPOP", "0", "2", "z3", "z2", "MAX", "COUNT", "5"],
        );
        out.push(reply(&mut a));
        send(&mut a, &["BZPOPMAX", "z9", "0"]);
        wait_blocked(&mut b, 1);
        b.cmd(&["ZADD", "tmp", "7", "t"]);
        out.push(b.cmd_str(&["RENAME", "tmp", "z9"]));
        out.push(reply(&mut a));
        out
    });
    assert_eq!(t[1], "*3\r\n$2\r\nz2\r\n$1\r\nn\r\n$3\r\n1.5\r\n");
    assert_eq!(t[4], "*3\r\n$2\r\nz9\r\n$1\r\nt\r\n$1\r\n7\r\n");
}

#[test]
fn client_unblock_timeout_and_error() {
    let t = on_both(|s| {
        let (mut a, mut b) = (s.connect(), s.connect());
        let id = a.cmd_str(&["CLIENT", "ID"]);
        let id = id.trim_start_matches(':').trim_end().to_string();
        send(&mut a, &["BLPOP", "q", "0"]);
        wait_blocked(&mut b, 1);
        let list = b.cmd_str(&["CLIENT", "LIST", "ID", &id]);
        let mut out = vec![format!("blocked flag: {}", list.contains("flags=b "))];
        out.push(b.cmd_str(&["CLIENT", "UNBLOCK", &id]));
        out.push(reply(&mut a));
        out.push(b.cmd_str(&["CLIENT", "UNBLOCK", &id]));
        send(&mut a, &["BZPOPMIN", "z", "0"]);
        wait_blocked(&mut b, 1);
        out.push(b.cmd_str(&["CLIENT", "UNBLOCK", &id, "ERROR"]));
        out.push(reply(&mut a));
        out.push(a.cmd_str(&["PING"]));
        // Unblocked clients are out of the queue: a push stays in the list.
        b.cmd(&["RPUSH", "q", "x"]);
        out.push(b.cmd_str(&["LLEN", "q"]));
        out
    });
    assert_eq!(t[0], "blocked flag: true");
    assert_eq!(t[1], ":1\r\n");
    assert_eq!(t[2], "*-1\r\n");
    assert_eq!(t[3], ":0\r\n");
    assert_eq!(t[5], "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
}

#[test]
fn pop_on_wake_up_notifies_and_touches_watch() {
    let t = on_both(|s| {
        let (mut a, mut b, mut sub, mut w) = (s.connect(), s.connect(), s.connect(), s.connect());
        b.cmd(&["CONFIG", "SET", "notify-keyspace-events", "El"]);
        sub.cmd(&["SUBSCRIBE", "__keyevent@0__:lpop"]);
        w.cmd(&["SET", "q", "placeholder"]);
        w.cmd(&["DEL", "q"]);
        send(&mut a, &["BLPOP", "q", "0"]);
        wait_blocked(&mut b, 1);
        b.cmd(&["RPUSH", "q", "x", "y"]);
        w.cmd(&["WATCH", "q"]);
        let mut out = vec![reply(&mut a), reply(&mut sub)];
        // A second waiter's wake-up pop invalidates the WATCH.
        send(&mut a, &["BLPOP", "q2", "0"]);
        wait_blocked(&mut b, 1);
        w.cmd(&["WATCH", "q2"]);
        b.cmd(&["RPUSH", "q2", "v"]);
        out.push(reply(&mut a));
        w.cmd(&["MULTI"]);
        w.cmd(&["PING"]);
        out.push(w.cmd_str(&["EXEC"]));
        b.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]);
        out
    });
    assert_eq!(
        t[1],
        "*3\r\n$7\r\nmessage\r\n$19\r\n__keyevent@0__:lpop\r\n$1\r\nq\r\n"
    );
    assert_eq!(t[3], "*-1\r\n");
}

#[test]
fn a_waiter_of_another_type_passes_the_key_on() {
    let t = on_both(|s| {
        let (mut a, mut b, mut c) = (s.connect(), s.connect(), s.connect());
        let id = a.cmd_str(&["CLIENT", "ID"]);
        let id = id.trim_start_matches(':').trim_end().to_string();
        send(&mut a, &["BLPOP", "k", "0"]);
        wait_blocked(&mut c, 1);
        send(&mut b, &["BZPOPMIN", "k", "0"]);
        wait_blocked(&mut c, 2);
        let mut out = vec![c.cmd_str(&["ZADD", "k", "1", "m"])];
        out.push(reply(&mut b));
        wait_blocked(&mut c, 1);
        out.push(c.cmd_str(&["CLIENT", "UNBLOCK", &id]));
        out.push(reply(&mut a));
        out
    });
    assert_eq!(t[1], "*3\r\n$1\r\nk\r\n$1\r\nm\r\n$1\r\n1\r\n");
    assert_eq!(t[2], ":1\r\n");
}

#[test]
fn killed_blocked_client_leaves_and_pipelined_requests_wait_their_turn() {
    let t = on_both(|s| {
        let (mut a, mut b, mut c) = (s.connect(), s.connect(), s.connect());
        let id = a.cmd_str(&["CLIENT", "ID"]);
        let id = id.trim_start_matches(':').trim_end().to_string();
        send(&mut a, &["BLPOP", "q", "0"]);
        wait_blocked(&mut c, 1);
        let mut out = vec![c.cmd_str(&["CLIENT", "KILL", "ID", &id])];
        wait_blocked(&mut c, 0);
        // Requests pipelined behind a blocking one run once it is served.
        let mut pipeline = support::request(&[b"BLPOP", b"q", b"0"]);
        pipeline.extend(support::request(&[b"LLEN", b"q"]));
        b.send(&pipeline);
        wait_blocked(&mut c, 1);
        out.push(c.cmd_str(&["RPUSH", "q", "x", "y"]));
        out.push(reply(&mut b));
        out.push(reply(&mut b));
        out
    });
    assert_eq!(t[0], ":1\r\n");
    assert_eq!(t[2], "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    assert_eq!(t[3], ":1\r\n");
}

/// INFO's `total_commands_processed`.
fn commands_processed(conn: &mut Conn) -> i64 {
    let info = conn.cmd_str(&["INFO", "stats"]);
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(-1)
}

#[test]
fn a_served_blocking_command_counts_once() {
    let t = on_both(|s| {
        let (mut a, mut b, mut c) = (s.connect(), s.connect(), s.connect());
        send(&mut a, &["BLPOP", "q", "0"]);
        wait_blocked(&mut c, 1);
        send(&mut b, &["BLPOP", "q", "0"]);
        wait_blocked(&mut c, 2);
        let before = commands_processed(&mut c);
        c.cmd(&["SET", "q", "string"]);
        c.cmd(&["DEL", "q"]);
        c.cmd(&["RPUSH", "q", "x"]);
        reply(&mut a);
        c.cmd(&["RPUSH", "q", "y"]);
        reply(&mut b);
        vec![(commands_processed(&mut c) - before).to_string()]
    });
    // INFO, SET, DEL and two RPUSH: the BLPOPs counted when they blocked,
    // their wake-ups (two of them on a string) add nothing.
    assert_eq!(t[0], "5");
}

#[test]
fn swapdb_wakes_clients_whose_keys_arrive() {
    let t = on_both(|s| {
        let (mut a, mut c) = (s.connect(), s.connect());
        send(&mut a, &["BLPOP", "q", "0"]);
        wait_blocked(&mut c, 1);
        c.cmd(&["SELECT", "1"]);
        c.cmd(&["RPUSH", "q", "x"]);
        let mut out = vec![c.cmd_str(&["SWAPDB", "0", "1"])];
        out.push(reply(&mut a));
        out.push(c.cmd_str(&["EXISTS", "q"]));
        out
    });
    assert_eq!(t[1], "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
}

#[test]
fn a_blocked_resp3_subscriber_still_gets_messages() {
    let t = on_both(|s| {
        let (mut a, mut c) = (s.connect(), s.connect());
        a.cmd(&["HELLO", "3"]);
        let mut out = vec![a.cmd_str(&["SUBSCRIBE", "ch"])];
        send(&mut a, &["BLPOP", "q", "0"]);
        wait_blocked(&mut c, 1);
        out.push(c.cmd_str(&["PUBLISH", "ch", "hello"]));
        out.push(reply(&mut a));
        c.cmd(&["RPUSH", "q", "x"]);
        out.push(reply(&mut a));
        out
    });
    assert_eq!(t[2], ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
}

#[test]
fn blmove_into_a_destination_of_another_type_is_served_its_error() {
    let t = on_both(|s| {
        let (mut a, mut b, mut c) = (s.connect(), s.connect(), s.connect());
        let mut out = vec![c.cmd_str(&["SET", "dst", "nolist"])];
        send(&mut a, &["BRPOPLPUSH", "src", "dst", "0"]);
        wait_blocked(&mut c, 1);
        send(&mut b, &["BLPOP", "src", "0"]);
        wait_blocked(&mut c, 2);
        out.push(c.cmd_str(&["RPUSH", "src", "x", "y"]));
        out.push(reply(&mut a));
        // The element stays for the next client in line.
        out.push(reply(&mut b));
        wait_blocked(&mut c, 0);
        out.push(c.cmd_str(&["LRANGE", "src", "0", "-1"]));
        send(&mut a, &["BLMOVE", "src2", "dst", "LEFT", "RIGHT", "0"]);
        wait_blocked(&mut c, 1);
        out.push(c.cmd_str(&["LPUSH", "src2", "z"]));
        out.push(reply(&mut a));
        out
    });
    assert!(t[2].starts_with("-WRONGTYPE"), "{t:?}");
    assert_eq!(t[3], "*2\r\n$3\r\nsrc\r\n$1\r\nx\r\n");
    assert_eq!(t[4], "*1\r\n$1\r\ny\r\n");
    assert!(t[6].starts_with("-WRONGTYPE"), "{t:?}");
}

#[test]
fn a_blocking_command_counts_once_in_commandstats() {
    let t = on_both(|s| {
        let (mut a, mut b, mut c) = (s.connect(), s.connect(), s.connect());
        c.cmd(&["CONFIG", "RESETSTAT"]);
        c.cmd(&["SET", "dst", "x"]);
        send(&mut a, &["BRPOP", "q1", "0"]);
        wait_blocked(&mut c, 1);
        send(&mut b, &["BLMOVE", "q2", "dst", "LEFT", "LEFT", "0"]);
        wait_blocked(&mut c, 2);
        c.cmd(&["LPUSH", "q1", "a"]);
        c.cmd(&["LPUSH", "q2", "a"]);
        reply(&mut a);
        reply(&mut b);
        let stats = c.cmd_str(&["INFO", "commandstats"]);
        let mut lines: Vec<String> = stats
            .split("\r\n")
            .filter(|l| l.starts_with("cmdstat_b"))
            .map(|l| {
                let fields: Vec<&str> = l.split(',').filter(|f| !f.starts_with("usec")).collect();
                fields.join(",")
            })
            .collect();
        lines.sort();
        lines.push(c.cmd_str(&["INFO", "errorstats"]));
        lines
    });
    assert_eq!(
        t[0],
        "cmdstat_blmove:calls=1,rejected_calls=0,failed_calls=1"
    );
    assert_eq!(
        t[1],
        "cmdstat_brpop:calls=1,rejected_calls=0,failed_calls=0"
    );
    assert!(t[2].contains("errorstat_WRONGTYPE:count=1"), "{t:?}");
}
