//! DEBUG, compared with a real redis-server where its output is
//! deterministic: the dataset digest, the RESP test replies, the refusal
//! texts of `enable-debug-command`, the errors; and checked on reddish alone
//! where it is not (SLEEP's stall, SET-ACTIVE-EXPIRE, LOG).

mod support;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use support::{Conn, Pair, Server};

const ENABLED: &[&str] = &["--enable-debug-command", "yes"];

/// Both servers with DEBUG enabled; None when redis-server is missing.
fn pair() -> Option<Pair> {
    Pair::with_args(ENABLED)
}

/// Runs `setup` on both servers (replies compared), then compares DEBUG
/// DIGEST and the DIGEST-VALUE of `keys`, asserting the digest is not the
/// empty one, so a dataset we failed to build cannot pass.
fn digests_agree(pair: &mut Pair, setup: &[&[&str]], keys: &[&str]) {
    pair.run(setup);
    pair.check(&["DEBUG", "DIGEST"]);
    let (_, ours) = pair.send(&["DEBUG", "DIGEST"]);
    assert_ne!(ours, format!("+{}\r\n", "0".repeat(40)), "after {setup:?}");
    let mut args = vec!["DEBUG", "DIGEST-VALUE"];
    args.extend_from_slice(keys);
    pair.check(&args);
}

#[test]
fn digest_of_an_empty_dataset_is_zeros() {
    let server = Server::start_with(ENABLED);
    let mut conn = server.connect();
    let zeros = format!("+{}\r\n", "0".repeat(40));
    assert_eq!(conn.cmd_str(&["DEBUG", "DIGEST"]), zeros);
    assert_eq!(
        conn.cmd_str(&["DEBUG", "DIGEST-VALUE", "nokey"]),
        format!("*1\r\n{zeros}")
    );
    assert_eq!(conn.cmd_str(&["DEBUG", "DIGEST-VALUE"]), "*0\r\n");
}

#[test]
fn digest_of_strings_matches_redis() {
    let Some(mut pair) = pair() else { return };
    digests_agree(
        &mut pair,
        &[
            &["SET", "int", "12345"],
            &["SET", "negative", "-7"],
            &["SET", "embstr", "hello"],
            &["SET", "raw", &"x".repeat(100)],
            &["SET", "appended", "abc"],
            &["APPEND", "appended", "def"],
            &["SET", "empty", ""],
        ],
        &[
            "int", "negative", "embstr", "raw", "appended", "empty", "missing",
        ],
    );
}

#[test]
fn digest_of_streams_matches_redis() {
    let Some(mut pair) = pair() else { return };
    digests_agree(
        &mut pair,
        &[
            &["XADD", "s1", "1-1", "f", "v", "g", "w"],
            &["XADD", "s1", "2-0", "f", "x"],
            &["XADD", "s1", "3-5", "other", "7"],
            &["XDEL", "s1", "2-0"],
            &["XGROUP", "CREATE", "s1", "grp", "0"],
            &["XADD", "s2", "5-0", "a", "1"],
        ],
        &["s1", "s2"],
    );
}

#[test]
fn digest_of_lists_depends_on_order_and_matches_redis() {
    let Some(mut pair) = pair() else { return };
    digests_agree(
        &mut pair,
        &[
            &["RPUSH", "l1", "a", "b", "c", "1", "-2", "300000"],
            &["RPUSH", "l2", "c", "b", "a"],
            &["LPUSH", "big", &"y".repeat(5000), &"z".repeat(9000), "x"],
        ],
        &["l1", "l2", "big"],
    );
    let (want, got) = pair.send(&["DEBUG", "DIGEST-VALUE", "l2"]);
    pair.run(&[&["DEL", "l2"], &["RPUSH", "l2", "a", "b", "c"]]);
    let (want2, got2) = pair.send(&["DEBUG", "DIGEST-VALUE", "l2"]);
    assert_ne!(want, want2, "redis-server: order changes a list's digest");
    assert_ne!(got, got2, "reddish: order changes a list's digest");
}

#[test]
fn digest_of_hashes_and_sets_matches_redis() {
    let Some(mut pair) = pair() else { return };
    digests_agree(
        &mut pair,
        &[
            &["CONFIG", "SET", "hash-max-listpack-entries", "4"],
            &["CONFIG", "SET", "set-max-intset-entries", "4"],
            &["HSET", "small", "f1", "v1", "f2", "2"],
            &[
                "HSET", "big", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5",
            ],
            &["SADD", "ints", "1", "2", "-3", "100000"],
            &["SADD", "intsbig", "1", "2", "3", "4", "5", "6"],
            &["SADD", "strs", "a", "b", "1"],
            &["OBJECT", "ENCODING", "small"],
            &["OBJECT", "ENCODING", "big"],
            &["OBJECT", "ENCODING", "ints"],
            &["OBJECT", "ENCODING", "intsbig"],
            &["OBJECT", "ENCODING", "strs"],
        ],
        &["small", "big", "ints", "intsbig", "strs"],
    );
}

#[test]
fn digest_of_sorted_sets_matches_redis() {
    let Some(mut pair) = pair() else { return };
    digests_agree(
        &mut pair,
        &[
            &["CONFIG", "SET", "zset-max-listpack-entries", "4"],
            &[
                "ZADD", "small", "1", "a", "1.5", "b", "-0", "c", "1e20", "d",
            ],
            &[
                "ZADD", "big", "1", "a", "2.5", "b", "3", "c", "inf", "d", "-inf", "e", "0.1", "f",
            ],
            &["ZADD", "ints", "1", "10", "2", "20"],
            &["OBJECT", "ENCODING", "small"],
            &["OBJECT", "ENCODING", "big"],
        ],
        &["small", "big", "ints"],
    );
}

#[test]
fn digest_mixes_in_expiry_and_database_matches_redis() {
    let Some(mut pair) = pair() else { return };
    digests_agree(
        &mut pair,
        &[&["SET", "plain", "v"], &["SET", "timed", "v", "EX", "1000"]],
        &["plain", "timed"],
    );
    // The TTL's presence counts, not its value.
    let (_, before) = pair.send(&["DEBUG", "DIGEST"]);
    pair.run(&[&["EXPIRE", "timed", "5000"]]);
    pair.check(&["DEBUG", "DIGEST"]);
    let (_, same) = pair.send(&["DEBUG", "DIGEST"]);
    assert_eq!(before, same);
    pair.run(&[&["PERSIST", "timed"]]);
    pair.check(&["DEBUG", "DIGEST"]);
    let (_, persisted) = pair.send(&["DEBUG", "DIGEST"]);
    assert_ne!(before, persisted);
    // The same key in another database gives another digest.
    pair.run(&[&["MOVE", "plain", "3"]]);
    pair.check(&["DEBUG", "DIGEST"]);
    let (_, moved) = pair.send(&["DEBUG", "DIGEST"]);
    assert_ne!(persisted, moved);
    // Several databases, seen from another one.
    pair.run(&[
        &["SELECT", "5"],
        &["RPUSH", "l", "x"],
        &["SET", "timed", "v", "PX", "100000"],
    ]);
    digests_agree(&mut pair, &[&["SELECT", "9"]], &["l", "timed"]);
}

#[test]
fn protocol_replies_match_redis_in_resp2_and_resp3() {
    let Some(mut pair) = pair() else { return };
    let types = [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "true", "false",
        "verbatim", "STRING", "nosuch",
    ];
    for resp in ["2", "3"] {
        pair.send(&["HELLO", resp]);
        for kind in types {
            pair.check(&["DEBUG", "PROTOCOL", kind]);
        }
        // The attribute comes before the real reply; RESP2 sees the reply.
        pair.check(&["DEBUG", "PROTOCOL", "attrib"]);
        if resp == "3" {
            assert_eq!(pair.got.read_reply(), pair.want.read_reply());
        }
    }
    // A push is RESP3 only; it comes before the real reply.
    pair.send(&["HELLO", "2"]);
    pair.check(&["DEBUG", "PROTOCOL", "push"]);
    pair.send(&["HELLO", "3"]);
    pair.check(&["DEBUG", "PROTOCOL", "push"]);
    let real = pair.got.read_reply();
    assert_eq!(real, pair.want.read_reply());
    assert_eq!(
        String::from_utf8_lossy(&real),
        "$40\r\nSome real reply following the push reply\r\n"
    );
    pair.check(&["PING"]);
}

#[test]
fn attribute_bytes_in_resp3() {
    let server = Server::start_with(ENABLED);
    let mut conn = server.connect();
    conn.cmd(&["HELLO", "3"]);
    let mut reply = conn.cmd(&["DEBUG", "PROTOCOL", "attrib"]);
    reply.extend(conn.read_reply());
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n\
         $39\r\nSome real reply following the attribute\r\n"
    );
}

#[test]
fn errors_and_small_subcommands_match_redis() {
    let Some(mut pair) = pair() else { return };
    // redis-server's DEBUG STRINGMATCH-TEST runs its matcher over many
    // random patterns: seconds alone, past the usual timeout under load.
    for conn in [&mut pair.want, &mut pair.got] {
        conn.set_read_timeout(std::time::Duration::from_secs(120));
    }
    pair.run(&[
        &["DEBUG"],
        &["DEBUG", "JMAP"],
        &["DEBUG", "STRINGMATCH-LEN"],
        &["DEBUG", "nosuch", "a", "b"],
        &["DEBUG", "LOG"],
        &["DEBUG", "DIGEST", "extra"],
        &["DEBUG", "OBJECT", "missing"],
        &["DEBUG", "LISTPACK", "missing"],
        &["DEBUG", "QUICKLIST", "missing"],
        &["RPUSH", "list", "a"],
        &["HSET", "hash", "f", "v"],
        &["SET", "str", "v"],
        &["DEBUG", "LISTPACK", "list"],
        &["DEBUG", "LISTPACK", "str"],
        &["DEBUG", "LISTPACK", "hash"],
        &["DEBUG", "QUICKLIST", "hash"],
        &["DEBUG", "QUICKLIST", "list"],
        &["DEBUG", "QUICKLIST", "list", "1"],
        &["DEBUG", "QUICKLIST", "list", "1", "2"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1b"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "4gb"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "4000mb"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "-1"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1x"],
        &["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
        &["DEBUG", "REPLYBUFFER", "RESIZING", "0"],
        &["DEBUG", "REPLYBUFFER", "resizing", "1"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "never"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "RESET"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "100"],
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "soon"],
        &["DEBUG", "REPLYBUFFER", "NOSUCH", "1"],
        &["DEBUG", "REPLYBUFFER", "RESIZING"],
        &["DEBUG", "SLEEP", "0"],
        &["DEBUG", "SLEEP", "nonsense"],
        &["DEBUG", "SLEEP", "-1"],
        &["DEBUG", "ERROR", "MYERR some\r\ntext"],
        &["DEBUG", "LOG", "a line"],
        &["DEBUG", "CHANGE-REPL-ID"],
        &["DEBUG", "STRINGMATCH-TEST"],
        &["debug", "help", "extra"],
    ]);
    // HELP lists only what we implement, under Redis's title.
    let help = pair.got.cmd_str(&["DEBUG", "HELP"]);
    assert!(help.starts_with(
        "*" // the count differs from Redis's
    ));
    assert!(help.contains("+DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"));
    assert!(help.contains("+DIGEST-VALUE <key> [<key> ...]\r\n"));
    assert!(help.ends_with("+HELP\r\n+    Prints this help.\r\n"));
}

/// Inside EXEC, each subcommand's locks (the keys, a database, everything)
/// must be part of the transaction's; a debug build asserts it.
#[test]
fn subcommands_in_a_transaction_match_redis() {
    let Some(mut pair) = pair() else { return };
    pair.run(&[
        &["MULTI"],
        &["SET", "a", "1"],
        &["DEBUG", "DIGEST-VALUE", "a", "b"],
        &["DEBUG", "DIGEST"],
        &["SELECT", "2"],
        &["RPUSH", "l", "x"],
        &["DEBUG", "DIGEST-VALUE", "l"],
        &["DEBUG", "POPULATE", "3"],
        &["DEBUG", "LISTPACK", "l"],
        &["DEBUG", "QUICKLIST", "l"],
        &["DEBUG", "DIGEST"],
        &["EXEC"],
        &["DBSIZE"],
    ]);
}

#[test]
fn populate_matches_redis() {
    let Some(mut pair) = pair() else { return };
    pair.run(&[
        &["SET", "key:3", "mine"],
        &["DEBUG", "POPULATE", "100"],
        &["DEBUG", "POPULATE", "10", "pre", "3"],
        &["DEBUG", "POPULATE", "5", "padded", "50"],
        &["DEBUG", "POPULATE", "0"],
        &["DEBUG", "POPULATE", "-1"],
        &["DEBUG", "POPULATE", "abc"],
        &["DEBUG", "POPULATE", "1", "x", "-5"],
        &["DEBUG", "POPULATE", "1", "x", "1", "extra"],
        &["DBSIZE"],
        &["GET", "key:3"],
        &["GET", "key:99"],
        &["GET", "pre:7"],
        &["GET", "padded:4"],
        &["OBJECT", "ENCODING", "key:1"],
        &["OBJECT", "ENCODING", "padded:1"],
        &["DEBUG", "DIGEST"],
    ]);
    assert_eq!(pair.got.cmd_str(&["DBSIZE"]), ":115\r\n");
    // The SET alone is a change: populate's keys are not saved for, nor
    // propagated to replicas or the AOF.
    for conn in [&mut pair.want, &mut pair.got] {
        assert_eq!(
            conn.info_number("persistence", "rdb_changes_since_last_save"),
            1
        );
    }
}

/// DEBUG OBJECT with the parts that differ between two processes (address,
/// access clock) masked.
fn masked_object_line(reply: &str) -> String {
    let mut out = Vec::new();
    for field in reply.trim_end().split(' ') {
        let masked = match field.split_once(':') {
            Some(("at", _)) => "at:ADDR".to_string(),
            Some(("lru", _)) => "lru:N".to_string(),
            Some(("lru_seconds_idle", _)) => "lru_seconds_idle:N".to_string(),
            _ => field.to_string(),
        };
        out.push(masked);
    }
    out.join(" ")
}

#[test]
fn object_lines_match_redis_without_compression() {
    // Without `rdbcompression` the serialized lengths are exact, not estimates.
    let Some(mut pair) =
        Pair::with_args(&["--enable-debug-command", "yes", "--rdbcompression", "no"])
    else {
        return;
    };
    pair.run(&[
        &["SET", "small", "7"],
        &["SET", "int", "1234567"],
        &["SET", "bigint", "1099511627776"],
        &["SET", "embstr", "hello"],
        &["SET", "raw", &"r".repeat(300)],
        &["RPUSH", "list", "a", "b", "1", "70000", &"x".repeat(100)],
        &["HSET", "hash", "f", "v", "n", "12"],
        &["SADD", "intset", "1", "2", "70000"],
        &["SADD", "set", "a", "b"],
        &["ZADD", "zset", "1", "a", "2.5", "b"],
        &["CONFIG", "SET", "zset-max-listpack-entries", "1"],
        &["ZADD", "skiplist", "1", "a", "2.5", "b"],
    ]);
    for key in [
        "small", "int", "bigint", "embstr", "raw", "list", "hash", "intset", "set", "zset",
        "skiplist",
    ] {
        let (want, got) = pair.send(&["DEBUG", "OBJECT", key]);
        assert_eq!(
            masked_object_line(&got),
            masked_object_line(&want),
            "DEBUG OBJECT {key}"
        );
        assert!(got.starts_with("+Value at:0x"), "{got}");
    }
}

#[test]
fn object_sees_an_expired_key_until_it_is_reclaimed() {
    let Some(mut pair) = pair() else { return };
    pair.run(&[
        &["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
        &["SET", "k", "v", "PX", "1"],
    ]);
    std::thread::sleep(Duration::from_millis(50));
    let (want, got) = pair.send(&["DEBUG", "OBJECT", "k"]);
    assert_eq!(masked_object_line(&got), masked_object_line(&want));
    assert!(got.contains("encoding:embstr"), "{got}");
    pair.run(&[&["GET", "k"], &["DEBUG", "OBJECT", "k"]]);
}

#[test]
fn set_active_expire_0_keeps_expired_keys_until_accessed() {
    let Some(mut pair) = pair() else { return };
    pair.run(&[&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]]);
    for i in 0..20 {
        let key = format!("k{i}");
        pair.run(&[&["SET", &key, "v", "PX", "10"]]);
    }
    // Several active expiry rounds (0.75 s each at hz 10) go by.
    std::thread::sleep(Duration::from_millis(1600));
    pair.check(&["DBSIZE"]);
    assert_eq!(pair.got.cmd_str(&["DBSIZE"]), ":20\r\n");
    pair.run(&[&["GET", "k0"], &["EXISTS", "k1"], &["DBSIZE"]]);
    assert_eq!(pair.got.cmd_str(&["DBSIZE"]), ":18\r\n");
    // Switched back on, active expiry reclaims the rest.
    pair.run(&[&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while pair.got.cmd_str(&["DBSIZE"]) != ":0\r\n" {
        assert!(Instant::now() < deadline, "active expiry did not resume");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const REFUSED: &str = "-ERR DEBUG command not allowed. If the enable-debug-command option is set \
to \"local\", you can run it from a local connection, otherwise you need to set this option in \
the configuration file, and then restart the server.\r\n";

#[test]
fn refused_by_default_as_redis() {
    let Some(mut pair) = Pair::with_args(&["--enable-debug-command", "no"]) else {
        return;
    };
    pair.run(&[
        &["DEBUG", "HELP"],
        &["DEBUG", "DIGEST"],
        &["DEBUG", "SLEEP", "10"],
        // The arity check comes first.
        &["DEBUG"],
        // Refused in MULTI, it dooms the transaction.
        &["MULTI"],
        &["DEBUG", "DIGEST"],
        &["EXEC"],
    ]);
    let (_, refused) = pair.send(&["DEBUG", "DIGEST"]);
    assert_eq!(refused, REFUSED);
    let errorstats = |conn: &mut Conn| {
        let info = conn.cmd_str(&["INFO", "commandstats"]);
        info.lines()
            .find(|l| l.starts_with("cmdstat_debug:"))
            .map(|l| {
                l.split(',')
                    .filter(|f| f.starts_with("rejected_calls"))
                    .collect::<String>()
            })
    };
    assert_eq!(errorstats(&mut pair.got), errorstats(&mut pair.want));

    // Default settings refuse it too.
    let ours = Server::start();
    assert_eq!(ours.connect().cmd_str(&["DEBUG", "DIGEST"]), REFUSED);
}

#[test]
fn local_allows_loopback_only_as_redis() {
    // Without protected mode, which would turn 127.0.0.2 away at once.
    let Some(mut pair) =
        Pair::with_args(&["--enable-debug-command", "local", "--protected-mode", "no"])
    else {
        return;
    };
    pair.run(&[&["SET", "k", "v"], &["DEBUG", "DIGEST"]]);
    assert!(pair.got.cmd_str(&["DEBUG", "DIGEST"]).starts_with("+"));
    let from = Ipv4Addr::new(127, 0, 0, 2);
    let mut want = Conn::connect_from(from, pair.want_port());
    let mut got = Conn::connect_from(from, pair.got_port());
    let (w, g) = (
        want.cmd_str(&["DEBUG", "DIGEST"]),
        got.cmd_str(&["DEBUG", "DIGEST"]),
    );
    assert_eq!(g, w);
    assert_eq!(g, REFUSED);
}

#[test]
fn sleep_stalls_the_event_loop() {
    let server = Server::start_with(&["--enable-debug-command", "yes", "--io-threads", "1"]);
    let mut sleeper = server.connect();
    let mut other = server.connect();
    assert_eq!(other.cmd_str(&["PING"]), "+PONG\r\n");
    let start = Instant::now();
    sleeper.send(&support::request(&[b"DEBUG", b"SLEEP", b"0.5"]));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(other.cmd_str(&["PING"]), "+PONG\r\n");
    assert!(
        start.elapsed() >= Duration::from_millis(450),
        "PING was answered during DEBUG SLEEP after {:?}",
        start.elapsed()
    );
    assert_eq!(String::from_utf8_lossy(&sleeper.read_reply()), "+OK\r\n");
}

#[test]
fn log_writes_a_warning_line() {
    let path = std::env::temp_dir().join(format!("reddish-{}-debug-log.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let server = Server::start_logging_to_file(&path, &["--enable-debug-command", "yes"]);
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_str(&["DEBUG", "LOG", "hello from the test"]),
        "+OK\r\n"
    );
    let log = support::wait_for_log(&path, "DEBUG LOG: hello from the test");
    let line = log
        .lines()
        .find(|l| l.contains("DEBUG LOG: hello from the test"))
        .unwrap_or_else(|| panic!("no DEBUG LOG line in {log}"));
    assert!(
        line.contains(" # DEBUG LOG: "),
        "not a warning line: {line}"
    );
    let _ = std::fs::remove_file(&path);
}

/// DEBUG PANIC ends only its own connection by default; with
/// `use-exit-on-panic yes` the process exits with status 1 after logging
/// Redis's panic lines.
#[test]
fn debug_panic_ends_the_connection_or_with_use_exit_on_panic_the_process() {
    let mut server = Server::start_with(ENABLED);
    let mut conn = server.connect();
    conn.send(b"*2\r\n$5\r\nDEBUG\r\n$5\r\nPANIC\r\n");
    assert!(conn.is_closed(), "the panicking connection stays open");
    let mut other = server.connect();
    assert_eq!(other.cmd_str(&["PING"]), "+PONG\r\n");
    assert!(server.is_running());
    assert_eq!(
        other.cmd_str(&["CONFIG", "GET", "use-exit-on-panic"]),
        "*2\r\n$17\r\nuse-exit-on-panic\r\n$2\r\nno\r\n"
    );
    assert_eq!(
        other.cmd_str(&["CONFIG", "SET", "use-exit-on-panic", "yes"]),
        "+OK\r\n"
    );
    other.send(b"*2\r\n$5\r\nDEBUG\r\n$5\r\nPANIC\r\n");
    let status = server.wait_exit().expect("the server exits");
    assert_eq!(status.code(), Some(1));
}
