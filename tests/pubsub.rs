//! Pub/Sub: single-client behaviour against redis-server byte for byte
//! (confirmations, subscribed mode, PUBSUB introspection, RESP3 pushes), and
//! multi-client delivery: order, patterns, slow subscribers, JSON mode.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{differential_raw_each, Conn, Server};

/// The RESP2 subscribed-mode PING reply, used as a barrier.
const PONG: &[u8] = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n";

/// Confirmations, the subscribed-mode whitelist and its error text, PING's
/// two forms, the null-channel replies, QUIT and RESET. (UNSUBSCRIBE without
/// names leaves at most one channel here: with several, Redis's order is its
/// dict's.)
#[test]
fn single_client_subscribed_mode() {
    differential_raw_each(&[
        b"SUBSCRIBE a1\r\nSUBSCRIBE a1 b1\r\nGET x\r\nCLIENT LIST\r\nCONFIG GET port\r\n\
          PING\r\nPING x\r\nPING a b\r\nFOO\r\nGET\r\nSUBSCRIBE\r\nUNSUBSCRIBE b1\r\n\
          UNSUBSCRIBE nothere b1\r\nPSUBSCRIBE p1*\r\nPSUBSCRIBE p1* p2?\r\nPUNSUBSCRIBE p2?\r\n\
          PUNSUBSCRIBE\r\nPUNSUBSCRIBE\r\nSSUBSCRIBE q1\r\nSSUBSCRIBE q1\r\nSUNSUBSCRIBE\r\n\
          SUNSUBSCRIBE\r\nUNSUBSCRIBE\r\nUNSUBSCRIBE\r\nGET x\r\nPING\r\n",
        b"SSUBSCRIBE s2\r\nGET x\r\nPING\r\nSUNSUBSCRIBE s2\r\nGET x\r\n",
        b"UNSUBSCRIBE\r\nPUNSUBSCRIBE\r\nSUNSUBSCRIBE\r\nUNSUBSCRIBE a b\r\nPING\r\n",
        b"SUBSCRIBE r3\r\nRESET\r\nGET x\r\nPING\r\nPUBSUB NUMSUB r3\r\n",
        b"PSUBSCRIBE t4\r\nQUIT\r\n",
        b"*2\r\n$9\r\nSUBSCRIBE\r\n$3\r\nu\x005\r\n*1\r\n$11\r\nUNSUBSCRIBE\r\n",
    ]);
}

/// reddish and redis-server, for tests that need several connections.
struct Both {
    oracle: Server,
    ours: Server,
}

impl Both {
    fn new() -> Option<Both> {
        Some(Both {
            oracle: Server::oracle()?,
            ours: Server::start(),
        })
    }

    /// One connection to each.
    fn connect(&self) -> [Conn; 2] {
        [self.oracle.connect(), self.ours.connect()]
    }
}

/// Sends `args` on both connections, reads `replies` replies from each and
/// asserts they are the same bytes.
fn same(conns: &mut [Conn; 2], args: &[&str], replies: usize) {
    let [want, got] = conns;
    let request = support::request(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>());
    want.send(&request);
    got.send(&request);
    for _ in 0..replies {
        assert_eq!(
            String::from_utf8_lossy(&got.read_reply()),
            String::from_utf8_lossy(&want.read_reply()),
            "reply to {args:?}"
        );
    }
}

/// Reads pushes until the PING barrier; returns them.
fn pushes_until_pong(conn: &mut Conn) -> Vec<Vec<u8>> {
    conn.send(b"*1\r\n$4\r\nPING\r\n");
    let mut out = Vec::new();
    loop {
        let reply = conn.read_reply();
        if reply == PONG {
            return out;
        }
        out.push(reply);
    }
}

/// RESP3: confirmations and messages are push frames, any command may run,
/// and a message published to oneself arrives before PUBLISH's own reply.
#[test]
fn resp3_pushes() {
    let Some(both) = Both::new() else {
        return;
    };
    let mut c = both.connect();
    for conn in &mut c {
        conn.cmd(&["HELLO", "3"]);
    }
    same(&mut c, &["SUBSCRIBE", "a", "b"], 2);
    same(&mut c, &["GET", "x"], 1);
    same(&mut c, &["PING"], 1);
    same(&mut c, &["PUBLISH", "a", "hi"], 2);
    same(&mut c, &["PSUBSCRIBE", "a*"], 1);
    same(&mut c, &["PUBLISH", "a", "both"], 3);
    same(&mut c, &["SSUBSCRIBE", "s"], 1);
    same(&mut c, &["SPUBLISH", "s", "shard"], 2);
    same(&mut c, &["PUBLISH", "s", "nobody"], 1);
    same(&mut c, &["UNSUBSCRIBE", "a"], 1);
    same(&mut c, &["PUNSUBSCRIBE"], 1);
    same(&mut c, &["SUNSUBSCRIBE"], 1);
    same(&mut c, &["UNSUBSCRIBE"], 1);
    same(&mut c, &["UNSUBSCRIBE"], 1);
    // Back to RESP2 while subscribed: subscribed mode applies.
    same(&mut c, &["SUBSCRIBE", "z"], 1);
    same(&mut c, &["HELLO", "2"], 0);
    for conn in &mut c {
        conn.read_reply();
    }
    same(&mut c, &["GET", "x"], 1);
    same(&mut c, &["PING"], 1);
}

/// PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB / HELP and
/// their errors, with subscribers on other connections; PUBLISH and SPUBLISH
/// counts; INFO's pubsub fields.
#[test]
fn introspection() {
    let Some(both) = Both::new() else {
        return;
    };
    let mut s1 = both.connect();
    let mut s2 = both.connect();
    let mut c = both.connect();
    same(&mut c, &["PUBSUB", "CHANNELS"], 1);
    same(&mut s1, &["SUBSCRIBE", "news.1"], 1);
    same(&mut s2, &["SUBSCRIBE", "news.1"], 1);
    same(&mut s2, &["PSUBSCRIBE", "news.*", "news.*", "other"], 3);
    same(&mut s1, &["PSUBSCRIBE", "news.*"], 1);
    same(&mut s1, &["SSUBSCRIBE", "shard1"], 1);
    for args in [
        &["PUBSUB", "CHANNELS"][..],
        &["PUBSUB", "CHANNELS", "news.?"],
        &["PUBSUB", "CHANNELS", "x*"],
        &["PUBSUB", "CHANNELS", "a", "b"],
        &["PUBSUB", "NUMSUB"],
        &["PUBSUB", "NUMSUB", "news.1", "none", "news.1"],
        &["PUBSUB", "NUMPAT"],
        &["PUBSUB", "NUMPAT", "x"],
        &["PUBSUB", "SHARDCHANNELS"],
        &["PUBSUB", "SHARDCHANNELS", "shard*"],
        &["PUBSUB", "SHARDCHANNELS", "a", "b"],
        &["PUBSUB", "SHARDNUMSUB", "shard1", "news.1"],
        &["PUBSUB", "HELP"],
        &["PUBSUB", "help", "x"],
        &["PUBSUB", "nope"],
        &["PUBSUB"],
        &["PUBLISH", "news.1", "m"],
        &["PUBLISH", "news.2", "m"],
        &["PUBLISH", "shard1", "m"],
        &["SPUBLISH", "shard1", "m"],
        &["SPUBLISH", "news.1", "m"],
        &["PUBLISH", "x"],
        &["SPUBLISH", "x", "y", "z"],
    ] {
        same(&mut c, args, 1);
    }
    // What each subscriber received, in order.
    for conn in [&mut s1, &mut s2] {
        let [want, got] = conn;
        assert_eq!(pushes_until_pong(got), pushes_until_pong(want));
    }
    let pubsub_info = |conn: &mut Conn| -> Vec<String> {
        conn.cmd_str(&["INFO", "stats"])
            .lines()
            .filter(|l| l.starts_with("pubsub"))
            .map(str::to_owned)
            .collect()
    };
    let [want, got] = &mut c;
    assert_eq!(pubsub_info(got), pubsub_info(want));
    assert_eq!(
        pubsub_info(got),
        [
            "pubsub_channels:1",
            "pubsub_patterns:2",
            "pubsubshard_channels:1"
        ]
    );
    // Leaving, by command and by disconnecting, empties the registry.
    same(&mut s2, &["PUNSUBSCRIBE", "other"], 1);
    drop(s1);
    // Both servers notice the disconnect asynchronously: wait until each has
    // dropped all of s1's subscriptions (channels and patterns).
    let deadline = Instant::now() + Duration::from_secs(5);
    let left = |conn: &mut Conn| {
        conn.cmd_str(&["PUBSUB", "NUMPAT"]) == ":1\r\n"
            && conn.cmd_str(&["PUBSUB", "NUMSUB", "news.1"]) == "*2\r\n$6\r\nnews.1\r\n:1\r\n"
    };
    while Instant::now() < deadline && !(left(&mut c[0]) && left(&mut c[1])) {
        std::thread::sleep(Duration::from_millis(10));
    }
    same(&mut c, &["PUBSUB", "NUMSUB", "news.1"], 1);
    same(&mut c, &["PUBSUB", "NUMPAT"], 1);
    same(&mut c, &["PUBSUB", "SHARDCHANNELS"], 1);
}

/// Patterns follow Redis's stringmatch: classes, ranges, negation, `?`, `*`
/// and backslash escapes. One subscriber per pattern, so the order in which
/// Redis walks its pattern dict does not matter.
#[test]
fn pattern_matching() {
    let Some(both) = Both::new() else {
        return;
    };
    let patterns = [
        "h[a-c]llo",
        "h[^e]llo",
        "h?llo",
        "h*o",
        "x\\*y",
        "x\\?y",
        "[\\]]z",
        "news.*",
        "*",
        "\\",
        "[a-",
    ];
    let mut subscribers: Vec<[Conn; 2]> = patterns
        .iter()
        .map(|p| {
            let mut conns = both.connect();
            same(&mut conns, &["PSUBSCRIBE", p], 1);
            conns
        })
        .collect();
    let mut publisher = both.connect();
    for channel in [
        "hallo", "hbllo", "hello", "hllo", "heello", "ho", "x*y", "xay", "x?y", "]z", "\\z",
        "news.", "news.a.b", "\\", "[a-", "a", "",
    ] {
        same(&mut publisher, &["PUBLISH", channel, "m"], 1);
    }
    for (pattern, conns) in patterns.iter().zip(&mut subscribers) {
        let [want, got] = conns;
        assert_eq!(
            pushes_until_pong(got),
            pushes_until_pong(want),
            "messages to {pattern}"
        );
    }
}

/// Messages arrive in publish order, to every channel and pattern
/// subscriber, including from several publishers racing.
#[test]
fn delivery_order_to_many_subscribers() {
    let server = Server::start();
    let mut subscribers: Vec<Conn> = (0..3).map(|_| server.connect()).collect();
    subscribers[0].cmd(&["SUBSCRIBE", "ch"]);
    subscribers[1].cmd(&["SUBSCRIBE", "ch"]);
    subscribers[2].cmd(&["PSUBSCRIBE", "c?"]);
    const N: usize = 2000;
    let publisher = std::thread::spawn({
        let mut conn = server.connect();
        move || {
            let mut pipeline = Vec::new();
            for i in 0..N {
                pipeline.extend(support::request(&[
                    b"PUBLISH",
                    b"ch",
                    i.to_string().as_bytes(),
                ]));
            }
            conn.send(&pipeline);
            for _ in 0..N {
                assert_eq!(conn.read_reply(), b":3\r\n");
            }
        }
    });
    for (n, sub) in subscribers.iter_mut().enumerate() {
        for i in 0..N {
            let body = i.to_string();
            let want = if n == 2 {
                format!(
                    "*4\r\n$8\r\npmessage\r\n$2\r\nc?\r\n$2\r\nch\r\n${}\r\n{body}\r\n",
                    body.len()
                )
            } else {
                format!(
                    "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n${}\r\n{body}\r\n",
                    body.len()
                )
            };
            assert_eq!(String::from_utf8_lossy(&sub.read_reply()), want);
        }
    }
    publisher.join().expect("publisher");
}

/// Waits until `channel` has `n` subscribers on the server behind `conn`.
fn wait_for_numsub(conn: &mut Conn, channel: &str, n: usize) -> bool {
    let want = format!("*2\r\n${}\r\n{channel}\r\n:{n}\r\n", channel.len());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if conn.cmd_str(&["PUBSUB", "NUMSUB", channel]) == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A subscriber that never reads is disconnected once its pending output
/// passes the pubsub hard limit, on both servers; one that keeps reading
/// under the same limit is not.
#[test]
fn slow_subscriber_hits_the_hard_limit() {
    let Some(both) = Both::new() else {
        return;
    };
    for server in [&both.oracle, &both.ours] {
        let mut publisher = server.connect();
        assert_eq!(
            publisher.cmd(&[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "pubsub 1mb 0 0"
            ]),
            b"+OK\r\n"
        );
        let mut slow = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        slow.write_all(b"SUBSCRIBE firehose\r\n")
            .expect("subscribe");
        let mut reader = server.connect();
        reader.cmd(&["SUBSCRIBE", "firehose"]);
        assert!(wait_for_numsub(&mut publisher, "firehose", 2));
        // 32 MB in 64 KB messages: far more than the limit plus what the
        // kernel's socket buffers can hold.
        let message = "x".repeat(64 * 1024);
        let mut received = 0;
        for _ in 0..512 {
            publisher.cmd(&["PUBLISH", "firehose", &message]);
            reader.read_reply();
            received += 1;
        }
        assert_eq!(received, 512);
        assert!(
            wait_for_numsub(&mut publisher, "firehose", 1),
            "the slow subscriber is gone, the reading one stays"
        );
        assert!(publisher
            .cmd_str(&["CLIENT", "LIST", "TYPE", "pubsub"])
            .contains("sub=1"));
        drop(slow);
    }
}

/// The soft limit closes a subscriber that stays over it for longer than
/// its seconds, even when nothing more is published (Redis's `clientsCron`).
#[test]
fn slow_subscriber_hits_the_soft_limit() {
    let Some(both) = Both::new() else {
        return;
    };
    for server in [&both.oracle, &both.ours] {
        let mut publisher = server.connect();
        publisher.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 1mb 1",
        ]);
        let mut slow = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        slow.write_all(b"SUBSCRIBE trickle\r\n").expect("subscribe");
        assert!(wait_for_numsub(&mut publisher, "trickle", 1));
        let message = "x".repeat(64 * 1024);
        for _ in 0..256 {
            publisher.cmd(&["PUBLISH", "trickle", &message]);
        }
        // Over the soft limit, but not yet for long enough.
        assert_eq!(
            publisher.cmd_str(&["PUBSUB", "NUMSUB", "trickle"]),
            "*2\r\n$7\r\ntrickle\r\n:1\r\n"
        );
        assert!(wait_for_numsub(&mut publisher, "trickle", 0));
    }
}

/// CLIENT LIST shows `sub=`, `psub=`, `ssub=` and flag `P`; TYPE pubsub
/// lists subscribers only; RESET leaves everything.
#[test]
fn client_list_and_reset() {
    let server = Server::start();
    let mut sub = server.connect();
    let mut other = server.connect();
    sub.cmd(&["CLIENT", "SETNAME", "listener"]);
    sub.cmd(&["SUBSCRIBE", "a", "b"]);
    sub.read_reply();
    sub.cmd(&["PSUBSCRIBE", "p*"]);
    sub.cmd(&["SSUBSCRIBE", "s"]);
    let list = other.cmd_str(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert_eq!(list.matches("id=").count(), 1, "{list}");
    assert!(list.contains("name=listener"), "{list}");
    assert!(list.contains("flags=P "), "{list}");
    assert!(list.contains(" sub=2 psub=1 ssub=1 "), "{list}");
    let normal = other.cmd_str(&["CLIENT", "LIST", "TYPE", "normal"]);
    assert!(!normal.contains("listener"), "{normal}");
    assert_eq!(sub.cmd(&["RESET"]), b"+RESET\r\n");
    assert_eq!(sub.cmd(&["GET", "x"]), b"$-1\r\n");
    let list = other.cmd_str(&["CLIENT", "LIST"]);
    assert!(list.contains(" sub=0 psub=0 ssub=0 "), "{list}");
    assert_eq!(
        other.cmd_str(&["PUBSUB", "NUMPAT"]),
        ":0\r\n",
        "RESET left the pattern"
    );
    assert_eq!(other.cmd(&["PUBLISH", "a", "m"]), b":0\r\n");
}

/// In JSON mode, confirmations and messages to a client that subscribed
/// with an inline request are JSON answers to its SUBSCRIBE line.
#[test]
fn json_mode_subscriber() {
    let server = Server::start_with(&["--json"]);
    let mut telnet = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    telnet
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut lines = BufReader::new(telnet.try_clone().expect("clone"));
    let mut line = || {
        let mut s = String::new();
        lines.read_line(&mut s).expect("read line");
        s
    };
    telnet
        .write_all(b"SUBSCRIBE news sport\r\n")
        .expect("write");
    assert_eq!(
        line(),
        "{\"command\":\"SUBSCRIBE news sport\",\"response\":[\"subscribe\",\"news\",1]}\n"
    );
    assert_eq!(
        line(),
        "{\"command\":\"SUBSCRIBE news sport\",\"response\":[\"subscribe\",\"sport\",2]}\n"
    );
    let mut publisher = server.connect();
    assert_eq!(publisher.cmd(&["PUBLISH", "news", "hello"]), b":1\r\n");
    assert_eq!(
        line(),
        "{\"command\":\"SUBSCRIBE news sport\",\"response\":[\"message\",\"news\",\"hello\"]}\n"
    );
    telnet.write_all(b"GET x\r\n").expect("write");
    assert_eq!(
        line(),
        "{\"command\":\"GET x\",\"error\":\"ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\"}\n"
    );
}
