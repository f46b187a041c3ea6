//! Set commands over real sockets, compared byte for byte with redis-server
//! wherever the reply is deterministic (intsets are sorted in both), and by
//! shape, count and membership for the random ones (SRANDMEMBER, SPOP) and
//! for hash-table order.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{
    differential, differential_by, differential_resp3, leaves, sorted_reply, Conn, Server,
};

#[test]
fn add_remove_and_membership_match_redis() {
    differential(&[
        &["SADD", "s", "5", "-3", "100", "5"],
        &["SADD", "s", "70000", "-5000000000", "9223372036854775807"],
        &["SADD", "s", "-9223372036854775808", "0"],
        &["SMEMBERS", "s"],
        &["SCARD", "s"],
        &["SCARD", "nokey"],
        &["SISMEMBER", "s", "5"],
        &["SISMEMBER", "s", "05"],
        &["SISMEMBER", "s", "+5"],
        &["SISMEMBER", "s", "6"],
        &["SISMEMBER", "s", "x"],
        &["SISMEMBER", "nokey", "5"],
        &["SMISMEMBER", "s", "5", "6", "x", "-3"],
        &["SMISMEMBER", "nokey", "5", "6"],
        &["SREM", "s", "5", "5", "x", "6", "-3"],
        &["SREM", "nokey", "5"],
        &["SMEMBERS", "s"],
        &[
            "SREM",
            "s",
            "100",
            "70000",
            "-5000000000",
            "9223372036854775807",
        ],
        &["SREM", "s", "-9223372036854775808", "0", "0"],
        &["EXISTS", "s"],
        &["SMEMBERS", "nokey"],
        &["SADD", "one", "member"],
        &["SADD", "one", "member"],
        &["SMEMBERS", "one"],
        &["SISMEMBER", "one", "member"],
        &["SADD", "bin", "a\0b"],
        &["SISMEMBER", "bin", "a\0b"],
        &["SISMEMBER", "bin", "a"],
        &["SMEMBERS", "bin"],
        &["SADD", "e", ""],
        &["SMEMBERS", "e"],
        &["SREM", "e", ""],
        &["EXISTS", "e"],
        // Members that look like integers but are not canonical.
        &["SADD", "odd", "1"],
        &["SADD", "odd", "01"],
        &["SISMEMBER", "odd", "1"],
        &["SISMEMBER", "odd", "01"],
        &["SCARD", "odd"],
        &["SADD", "neg0", "-0"],
        &["SISMEMBER", "neg0", "0"],
        &["SADD", "n", "1", "2", "3"],
        &["SREM", "n", "01", "+2", " 3"],
        &["SCARD", "n"],
    ]);
}

#[test]
fn every_set_command_refuses_other_types_in_redis_order() {
    differential(&[
        &["SET", "str", "x"],
        &["HSET", "hash", "f", "v"],
        &["SADD", "s", "1"],
        &["SADD", "str", "a"],
        &["SREM", "hash", "a"],
        &["SCARD", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SMEMBERS", "str"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "2"],
        &["SRANDMEMBER", "str", "x"],
        &["SRANDMEMBER", "str", "1", "2"],
        &["SPOP", "str"],
        &["SPOP", "str", "2"],
        &["SPOP", "str", "-1"],
        &["SPOP", "str", "1", "2"],
        &["SMOVE", "str", "s", "a"],
        &["SMOVE", "s", "str", "a"],
        &["SMOVE", "s", "str", "1"],
        &["SMOVE", "nokey", "str", "a"],
        &["SINTER", "s", "str"],
        &["SINTER", "nokey", "str"],
        &["SINTERCARD", "2", "nokey", "str"],
        &["SINTERCARD", "1", "str", "LIMIT", "-1"],
        &["SINTERSTORE", "dst", "s", "str"],
        &["SUNION", "s", "hash"],
        &["SUNIONSTORE", "dst", "nokey", "hash"],
        &["SDIFF", "s", "str"],
        &["SDIFF", "nokey", "str"],
        &["SDIFFSTORE", "dst", "str", "nokey"],
        &["SSCAN", "str", "0"],
        &["SSCAN", "str", "x"],
        &["SSCAN", "str", "0", "COUNT", "0"],
        &["EXISTS", "dst"],
        &["GET", "str"],
        &["HGET", "s", "f"],
    ]);
}

#[test]
fn spop_and_srandmember_deterministic_cases_match_redis() {
    differential(&[
        &["SADD", "s", "3", "1", "2"],
        &["SADD", "one", "only"],
        &["SRANDMEMBER", "s", "3"],
        &["SRANDMEMBER", "s", "10"],
        &["SRANDMEMBER", "s", "0"],
        &["SRANDMEMBER", "one"],
        &["SRANDMEMBER", "one", "1"],
        &["SRANDMEMBER", "one", "-3"],
        &["SRANDMEMBER", "nokey"],
        &["SRANDMEMBER", "nokey", "5"],
        &["SRANDMEMBER", "nokey", "-5"],
        &["SRANDMEMBER", "s", "abc"],
        &["SRANDMEMBER", "s", "1.5"],
        &["SRANDMEMBER", "s", "-9223372036854775808"],
        &["SRANDMEMBER", "nokey", "-9223372036854775808"],
        &["SRANDMEMBER", "s", "9223372036854775807"],
        &["SRANDMEMBER", "s", "1", "2"],
        &["SPOP", "s", "0"],
        &["SPOP", "s", "-1"],
        &["SPOP", "s", "abc"],
        &["SPOP", "s", "1", "2"],
        &["SPOP", "nokey"],
        &["SPOP", "nokey", "3"],
        &["SPOP", "nokey", "0"],
        &["SPOP", "s", "3"],
        &["EXISTS", "s"],
        &["SADD", "s", "3", "1", "2"],
        &["SPOP", "s", "9223372036854775807"],
        &["EXISTS", "s"],
        &["SPOP", "one"],
        &["EXISTS", "one"],
        &["SADD", "one", "only"],
        &["SPOP", "one", "1"],
        &["EXISTS", "one"],
        &["SADD", "t", "x"],
        &["SPOP", "t", "5"],
        // A table of integers only: the whole-set SPOP rebuilds it as an intset.
        &["SADD", "t", "x", "30", "10", "20"],
        &["SREM", "t", "x"],
        &["SPOP", "t", "3"],
    ]);
}

#[test]
fn smove_matches_redis() {
    differential(&[
        &["SADD", "a", "1", "2", "3"],
        &["SADD", "b", "x"],
        &["SMOVE", "nokey", "a", "1"],
        &["SMOVE", "a", "a", "1"],
        &["SMOVE", "a", "a", "9"],
        &["SMOVE", "a", "b", "9"],
        &["SMOVE", "a", "b", "1"],
        &["SMEMBERS", "a"],
        &["SISMEMBER", "b", "1"],
        &["SMOVE", "a", "new", "2"],
        &["SMEMBERS", "new"],
        &["SMOVE", "a", "new2", "3"],
        &["EXISTS", "a"],
        &["SMEMBERS", "new2"],
        &["SMOVE", "b", "new3", "x"],
        &["SMEMBERS", "new3"],
        &["SMOVE", "new2", "new", "3"],
        &["SMEMBERS", "new"],
        &["SADD", "c", "3"],
        &["SMOVE", "c", "new", "3"],
        &["EXISTS", "c"],
        &["SMEMBERS", "new"],
        &["SMOVE", "new", "b", "2"],
        &["SMOVE", "new", "n4", "2"],
    ]);
}

#[test]
fn set_algebra_matches_redis() {
    differential(&[
        &["SADD", "a", "1", "2", "3", "4", "5"],
        &["SADD", "b", "4", "5", "6", "7"],
        &["SADD", "c", "5", "4", "9"],
        &["SADD", "w", "5", "word"],
        &["SINTER", "a", "b"],
        &["SINTER", "a", "b", "c"],
        &["SINTER", "a"],
        &["SINTER", "a", "a"],
        &["SINTER", "a", "nokey"],
        &["SINTER", "nokey"],
        &["SINTER", "a", "w"],
        &["SINTER", "w", "a"],
        &["SINTERCARD", "2", "a", "b"],
        &["SINTERCARD", "3", "a", "b", "c"],
        &["SINTERCARD", "2", "a", "b", "LIMIT", "1"],
        &["SINTERCARD", "2", "a", "b", "LIMIT", "0"],
        &["SINTERCARD", "2", "a", "b", "limit", "100"],
        &["SINTERCARD", "1", "a", "LIMIT", "3", "LIMIT", "2"],
        &["SINTERCARD", "2", "a", "nokey"],
        &["SINTERCARD", "0", "a"],
        &["SINTERCARD", "-1", "a"],
        &["SINTERCARD", "x", "a"],
        &["SINTERCARD", "9223372036854775808", "a"],
        &["SINTERCARD", "2", "a"],
        &["SINTERCARD", "3", "a", "b"],
        &["SINTERCARD", "1", "a", "LIMIT"],
        &["SINTERCARD", "1", "a", "LIMIT", "-1"],
        &["SINTERCARD", "1", "a", "LIMIT", "x"],
        &["SINTERCARD", "1", "a", "FOO", "1"],
        &["SINTERCARD", "1", "a", "b"],
        &["SUNION", "a", "b"],
        &["SUNION", "a", "nokey", "c"],
        &["SUNION", "nokey"],
        &["SDIFF", "a", "b"],
        &["SDIFF", "a", "b", "c"],
        &["SDIFF", "a", "nokey"],
        &["SDIFF", "nokey", "a"],
        &["SDIFF", "a", "a"],
        &["SDIFF", "a", "nokey", "a"],
        &["SDIFF", "c", "w"],
        &["SDIFF", "a"],
        &["SINTERSTORE", "dst", "a", "b"],
        &["SMEMBERS", "dst"],
        &["SINTERSTORE", "dst", "a", "nokey"],
        &["EXISTS", "dst"],
        &["SET", "dst", "string"],
        &["SUNIONSTORE", "dst", "a", "b"],
        &["SMEMBERS", "dst"],
        &["HSET", "dst", "f", "v"],
        &["SDIFFSTORE", "dst", "a", "b"],
        &["SMEMBERS", "dst"],
        &["SDIFFSTORE", "dst", "a", "a"],
        &["EXISTS", "dst"],
        &["SUNIONSTORE", "dst", "nokey"],
        &["EXISTS", "dst"],
        &["SINTERSTORE", "a", "a", "b"],
        &["SMEMBERS", "a"],
        &["SUNIONSTORE", "b", "b", "c"],
        &["SMEMBERS", "b"],
        &["SDIFFSTORE", "c", "c", "a"],
        &["SMEMBERS", "c"],
        &["SUNIONSTORE", "single", "w"],
        &["SCARD", "single"],
        &["SMISMEMBER", "single", "5", "word", "1"],
        &["SINTERSTORE", "one", "w", "c"],
        &["SMEMBERS", "one"],
    ]);
}

#[test]
fn sscan_matches_redis_on_intsets() {
    differential(&[
        &["SADD", "s", "10", "2", "11", "-1", "100"],
        &["SSCAN", "s", "0"],
        &["SSCAN", "s", "0", "MATCH", "1*"],
        &["SSCAN", "s", "0", "MATCH", "-*", "COUNT", "1"],
        &["SSCAN", "s", "42"],
        &["SSCAN", "s", ""],
        &["SSCAN", "s", "-1"],
        &["SSCAN", "s", "x"],
        &["SSCAN", "s", "0", "COUNT", "0"],
        &["SSCAN", "s", "0", "COUNT", "x"],
        &["SSCAN", "s", "0", "MATCH"],
        &["SSCAN", "s", "0", "TYPE", "set"],
        &["SSCAN", "nokey", "0", "BAD"],
        &["SSCAN", "nokey", "bad"],
        &["SADD", "one", "word"],
        &["SSCAN", "one", "0"],
        &["SSCAN", "one", "0", "MATCH", "w?rd"],
        &["SSCAN", "one", "0", "MATCH", "W*"],
    ]);
}

#[test]
fn resp3_replies_match_redis() {
    differential_resp3(&[
        &["SADD", "s", "3", "1", "2"],
        &["SADD", "one", "x"],
        &["SMEMBERS", "s"],
        &["SMEMBERS", "nokey"],
        &["SINTER", "s", "nokey"],
        &["SUNION", "s", "nokey"],
        &["SDIFF", "nokey"],
        &["SMISMEMBER", "s", "1", "9"],
        &["SISMEMBER", "s", "1"],
        &["SRANDMEMBER", "s", "5"],
        &["SRANDMEMBER", "one", "-2"],
        &["SRANDMEMBER", "nokey"],
        &["SRANDMEMBER", "nokey", "2"],
        &["SPOP", "nokey"],
        &["SPOP", "nokey", "2"],
        &["SPOP", "s", "0"],
        &["SPOP", "one", "3"],
        &["SPOP", "s", "5"],
        &["SSCAN", "nokey", "0"],
        &["SINTERCARD", "1", "nokey"],
    ]);
}

/// 512 integers stay an intset (sorted in both servers); the 513th member, or
/// a first non-integer, makes a table, whose order here is no longer sorted.
#[test]
fn intset_limits_keep_redis_order() {
    let members: Vec<String> = (0..512)
        .map(|i| ((i * 7919) % 1024 - 300).to_string())
        .collect();
    let mut sadd = vec!["SADD", "s"];
    sadd.extend(members.iter().map(String::as_str));
    differential(&[
        &sadd,
        &["SCARD", "s"],
        &["SMEMBERS", "s"],
        &["SSCAN", "s", "0", "COUNT", "1"],
        &["SUNION", "s", "nokey"],
    ]);

    let server = Server::start();
    let mut c = server.connect();
    let sorted = |c: &mut Conn, key: &str| {
        let got: Vec<i64> = leaves(&c.cmd(&["SMEMBERS", key]))
            .iter()
            .filter_map(|m| m.parse().ok())
            .collect();
        got.windows(2).all(|w| w[0] < w[1])
    };
    let mut sadd_t = sadd.clone();
    sadd_t[1] = "t";
    c.cmd(&sadd_t);
    // An intset stays sorted whatever is removed; our table moves its last
    // member into the hole left by a removal.
    c.cmd(&["SREM", "t", &members[100]]);
    assert!(sorted(&mut c, "t"), "511 members should be an intset");
    c.cmd(&["SADD", "t", &members[100], "-1000"]);
    c.cmd(&["SREM", "t", &members[100]]);
    assert!(!sorted(&mut c, "t"), "513 members should be a table");
    c.cmd(&["SADD", "u", "2", "1"]);
    assert!(sorted(&mut c, "u"));
    c.cmd(&["SADD", "u", "x", "0"]);
    assert!(
        !sorted(&mut c, "u"),
        "a non-integer member should make a table"
    );
    c.cmd(&["SREM", "u", "x"]);
    assert!(!sorted(&mut c, "u"), "tables never go back to intsets");
    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "set-max-intset-entries", "2"]),
        "+OK\r\n"
    );
    c.cmd(&["SADD", "v", "4", "3", "2", "1"]);
    assert!(!sorted(&mut c, "v"));
    c.cmd(&["SUNIONSTORE", "w", "v"]);
    assert!(
        !sorted(&mut c, "w"),
        "a stored result follows the same limit"
    );

    // SDIFF picks Redis's algorithm 2 for a big first set and several small
    // ones; adding the whole first set first makes the result a table.
    c.cmd(&["CONFIG", "SET", "set-max-intset-entries", "512"]);
    let mut big = vec!["SADD".to_string(), "big".into()];
    big.extend((0..600).map(|i| i.to_string()));
    c.cmd(&big.iter().map(String::as_str).collect::<Vec<_>>());
    let mut low = vec!["SADD".to_string(), "low".into()];
    low.extend((0..200).map(|i| (i * 3).to_string()));
    c.cmd(&low.iter().map(String::as_str).collect::<Vec<_>>());
    c.cmd(&["SADD", "tiny", "1"]);
    c.cmd(&["SDIFFSTORE", "algo1", "big", "low"]);
    assert!(sorted(&mut c, "algo1"));
    c.cmd(&["SDIFFSTORE", "algo2", "big", "low", "tiny"]);
    assert!(!sorted(&mut c, "algo2"));
}

/// Big sets: same contents as Redis, and SSCAN returns every member that
/// stays for the whole scan even while others are removed and added.
#[test]
fn hashtable_sets_and_sscan_guarantees() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let mut expected = oracle.connect();
    let mut actual = ours.connect();
    for c in [&mut expected, &mut actual] {
        for chunk in (0..1500).collect::<Vec<_>>().chunks(100) {
            let mut cmd = vec!["SADD".to_string(), "big".into()];
            cmd.extend(chunk.iter().map(|i| format!("m{i}")));
            c.cmd(&cmd.iter().map(String::as_str).collect::<Vec<_>>());
        }
        let mut cmd = vec!["SADD".to_string(), "ints".into()];
        cmd.extend((0..600).map(|i| (i * 3).to_string()));
        c.cmd(&cmd.iter().map(String::as_str).collect::<Vec<_>>());
    }
    for cmd in [
        &["SMEMBERS", "big"][..],
        &["SMEMBERS", "ints"],
        &["SINTER", "big", "ints"],
        &["SUNION", "ints", "big"],
        &["SDIFF", "ints", "big"],
        &["SSCAN", "big", "0", "COUNT", "100000"],
        &["SINTERCARD", "2", "big", "big"],
        &["SUNIONSTORE", "u", "big", "ints"],
        &["SMEMBERS", "u"],
        &["SINTERSTORE", "i", "ints", "u"],
        &["SMEMBERS", "i"],
        &["SDIFFSTORE", "d", "u", "ints"],
        &["SMEMBERS", "d"],
    ] {
        let got = sorted_reply(&actual.cmd(cmd), 1);
        let want = sorted_reply(&expected.cmd(cmd), 1);
        assert!(got == want, "{cmd:?} differs from redis-server");
    }

    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut removed = 0;
    let mut calls = 0;
    loop {
        let reply = leaves(&actual.cmd(&["SSCAN", "big", &cursor, "COUNT", "30"]));
        cursor = reply[0].clone();
        seen.extend(reply[1..].iter().cloned());
        for _ in 0..5 {
            actual.cmd(&["SREM", "big", &format!("m{removed}")]);
            removed += 1;
        }
        actual.cmd(&["SADD", "big", &format!("new{calls}")]);
        calls += 1;
        if cursor == "0" {
            break;
        }
        assert!(calls < 1500, "scan does not end");
    }
    for i in removed..1500 {
        assert!(seen.contains(&format!("m{i}")), "missed m{i}");
    }
}

/// Shapes, counts and uniqueness of SRANDMEMBER and SPOP against
/// redis-server, for both encodings and both protocols.
#[test]
fn random_member_shapes_match_redis() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let ints: Vec<String> = (0..50).map(|i| (i * 7).to_string()).collect();
    let words: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
    let fill = |server: &Server, key: &str, members: &[String]| {
        let mut c = server.connect();
        c.cmd(&["DEL", key]);
        let mut cmd = vec!["SADD", key];
        cmd.extend(members.iter().map(String::as_str));
        c.cmd(&cmd);
    };
    let shape = |r: &[u8]| {
        String::from_utf8_lossy(r)
            .split("\r\n")
            .filter(|l| l.starts_with(['*', '~', '$']))
            .map(|l| if l.starts_with('$') { "$" } else { l })
            .collect::<Vec<_>>()
            .join(",")
    };
    for (key, members) in [("ints", &ints), ("words", &words)] {
        let size = members.len() as i64;
        for (cmd, count) in [
            ("SRANDMEMBER", 1),
            ("SRANDMEMBER", 2),
            ("SRANDMEMBER", size / 2),
            ("SRANDMEMBER", size - 1),
            ("SRANDMEMBER", size + 1),
            ("SRANDMEMBER", -1),
            ("SRANDMEMBER", -size * 3),
            ("SPOP", 1),
            ("SPOP", 3),
            ("SPOP", size / 5),
            ("SPOP", size - 1),
            ("SPOP", size),
        ] {
            for resp3 in [false, true] {
                let count_arg = count.to_string();
                let run = |server: &Server| {
                    fill(server, key, members);
                    let mut c = server.connect();
                    if resp3 {
                        c.cmd(&["HELLO", "3"]);
                    }
                    let reply = c.cmd(&[cmd, key, &count_arg]);
                    let left = leaves(&c.cmd(&["SMEMBERS", key]));
                    (reply, left)
                };
                let ((want, _), (got, left)) = (run(&oracle), run(&ours));
                let what = format!("{cmd} {key} {count} resp3={resp3}");
                assert_eq!(shape(&got), shape(&want), "{what}");
                let picked = leaves(&got);
                assert!(picked.iter().all(|m| members.contains(m)), "{what}");
                let distinct: BTreeSet<_> = picked.iter().collect();
                if count > 0 {
                    assert_eq!(distinct.len(), picked.len(), "{what}");
                }
                if cmd == "SPOP" {
                    assert_eq!(left.len() + picked.len(), members.len(), "{what}");
                    assert!(left.iter().all(|m| !distinct.contains(m)), "{what}");
                }
            }
        }
    }
    for server in [&oracle, &ours] {
        fill(server, "ints", &ints);
        let mut c = server.connect();
        let popped: BTreeSet<String> = (0..50)
            .map(|_| leaves(&c.cmd(&["SPOP", "ints"]))[0].clone())
            .collect();
        assert_eq!(popped.len(), 50);
        assert_eq!(c.cmd_str(&["EXISTS", "ints"]), ":0\r\n");
    }
}

/// Our one deliberate difference: a with-repetition sample larger than
/// MAX_RANDOM_REPLY is refused instead of built (Redis would try to).
#[test]
fn huge_negative_counts_are_refused() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd(&["SADD", "s", "m"]);
    assert_eq!(
        c.cmd_str(&["SRANDMEMBER", "s", "-100000000"]),
        "-ERR value is out of range\r\n"
    );
    assert_eq!(leaves(&c.cmd(&["SRANDMEMBER", "s", "-1000"])).len(), 1000);
    assert_eq!(c.cmd_str(&["SRANDMEMBER", "nokey", "-100000000"]), "*0\r\n");
}

/// *STORE replaces the destination's TTL with none, like Redis's setKey.
#[test]
fn store_commands_drop_the_destination_ttl() {
    let servers: Vec<Server> = Server::oracle()
        .into_iter()
        .chain([Server::start()])
        .collect();
    for server in &servers {
        let mut c = server.connect();
        c.cmd(&["SADD", "s", "1"]);
        for cmd in ["SUNIONSTORE", "SINTERSTORE", "SDIFFSTORE"] {
            c.cmd(&["SET", "dst", "x", "PX", "60"]);
            c.cmd(&[cmd, "dst", "s"]);
        }
        c.cmd(&["SET", "expiring", "x", "PX", "60"]);
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(c.cmd_str(&["EXISTS", "expiring"]), ":0\r\n");
        assert_eq!(c.cmd_str(&["SMEMBERS", "dst"]), "*1\r\n$1\r\n1\r\n");
    }
}

/// Multi-key commands run atomically: SMOVE ping-pong between two keys from
/// several clients never loses or duplicates a member, and SUNION of both
/// always sees exactly all of them.
#[test]
fn multi_key_commands_are_atomic() {
    let server = Server::start();
    let mut c = server.connect();
    let members: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    let mut sadd = vec!["SADD", "{a}"];
    sadd.extend(members.iter().map(String::as_str));
    c.cmd(&sadd);
    std::thread::scope(|s| {
        for t in 0..3 {
            let port = server.port;
            let members = &members;
            s.spawn(move || {
                let mut c = Conn::connect(port);
                for i in 0..300 {
                    let m = &members[(i * 7 + t) % members.len()];
                    let (from, to) = if i % 2 == 0 {
                        ("{a}", "b")
                    } else {
                        ("b", "{a}")
                    };
                    c.cmd(&["SMOVE", from, to, m]);
                }
            });
        }
        s.spawn(|| {
            let mut c = Conn::connect(server.port);
            for _ in 0..300 {
                let all = leaves(&c.cmd(&["SUNION", "{a}", "b"]));
                assert_eq!(all.len(), 20, "{all:?}");
                let card = leaves(&c.cmd(&["SINTERCARD", "2", "{a}", "b"]));
                assert_eq!(card, [":0"]);
            }
        });
    });
    let total: usize = ["{a}", "b"]
        .iter()
        .map(|k| leaves(&c.cmd(&["SMEMBERS", k])).len())
        .sum();
    assert_eq!(total, 20);
}

/// Reads count keyspace hits and misses as Redis's lookupKeyRead does;
/// writes do not.
#[test]
fn keyspace_hits_and_misses_match_redis() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let stats = |server: &Server| {
        let mut c = server.connect();
        for cmd in [
            &["SADD", "a", "1", "2"][..],
            &["SADD", "b", "2"],
            &["SCARD", "a"],
            &["SISMEMBER", "nokey", "1"],
            &["SMEMBERS", "a"],
            &["SINTER", "a", "b", "nokey"],
            &["SUNIONSTORE", "d", "a", "nokey"],
            &["SINTERCARD", "2", "a", "b"],
            &["SMOVE", "a", "b", "1"],
            &["SPOP", "nokey"],
            &["SRANDMEMBER", "b", "2"],
            &["SSCAN", "nokey", "0"],
            &["HSET", "h", "f", "v"],
            &["HGET", "h", "f"],
            &["HMGET", "nokey", "f"],
            &["HRANDFIELD", "h", "2"],
            &["HGETALL", "nokey"],
        ] {
            c.cmd(cmd);
        }
        let info = leaves(&c.cmd(&["INFO", "stats"])).join("");
        info.split("\r\n")
            .filter(|l| l.starts_with("keyspace_"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let want = stats(&oracle);
    assert_eq!(want.len(), 2, "{want:?}");
    assert_eq!(stats(&ours), want);
}

/// A seeded random mix of every deterministic set command over a few keys,
/// with a limit small enough that keys change encoding along the way.
/// Replies whose order comes from a hash table are compared sorted.
#[test]
fn random_operations_match_redis() {
    for seed in [1u64, 2, 3] {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut script: Vec<Vec<String>> = vec![
            vec![
                "CONFIG".into(),
                "SET".into(),
                "set-max-intset-entries".into(),
                "6".into(),
            ],
            vec!["SET".into(), "str".into(), "x".into()],
        ];
        let keys = ["s1", "s2", "s3", "s4", "str"];
        let members = [
            "1", "2", "3", "4", "5", "6", "7", "-8", "70000", "x", "y", "01",
        ];
        for _ in 0..300 {
            let mut key = || keys[rng.gen_range(0..keys.len())].to_string();
            let (k1, k2, k3) = (key(), key(), key());
            let mut member = || members[rng.gen_range(0..members.len())].to_string();
            let (m1, m2) = (member(), member());
            let limit = rng.gen_range(0..4).to_string();
            let cmd: Vec<String> = match rng.gen_range(0..17) {
                0 | 1 => vec!["SADD".into(), k1, m1, m2],
                2 => vec!["SREM".into(), k1, m1, m2],
                3 => vec!["SCARD".into(), k1],
                4 => vec!["SISMEMBER".into(), k1, m1],
                5 => vec!["SMISMEMBER".into(), k1, m1, m2],
                6 => vec!["SMOVE".into(), k1, k2, m1],
                7 => vec!["SMEMBERS".into(), k1],
                8 => vec!["SINTER".into(), k1, k2, k3],
                9 => vec![
                    "SINTERCARD".into(),
                    "2".into(),
                    k1,
                    k2,
                    "LIMIT".into(),
                    limit,
                ],
                10 => vec!["SINTERSTORE".into(), k1, k2, k3],
                11 => vec!["SUNION".into(), k1, k2],
                12 => vec!["SUNIONSTORE".into(), k1, k2, k3],
                13 => vec!["SDIFF".into(), k1, k2, k3],
                14 => vec!["SDIFFSTORE".into(), k1, k2, k3],
                15 => vec![
                    "SSCAN".into(),
                    k1,
                    "0".into(),
                    "COUNT".into(),
                    "1000".into(),
                ],
                _ => vec!["SPOP".into(), k1, "1000".into()],
            };
            script.push(cmd);
        }
        if !differential_by(&script, |_, reply| sorted_reply(reply, 1)) {
            return;
        }
    }
}

#[test]
fn command_metadata_matches_redis() {
    let names = [
        "sadd",
        "scard",
        "sdiff",
        "sdiffstore",
        "sinter",
        "sintercard",
        "sinterstore",
        "sismember",
        "smembers",
        "smismember",
        "smove",
        "spop",
        "srandmember",
        "srem",
        "sscan",
        "sunion",
        "sunionstore",
    ];
    let mut info = vec!["COMMAND", "INFO"];
    info.extend(names);
    let mut docs = vec!["COMMAND", "DOCS"];
    docs.extend(names);
    differential(&[
        &info,
        &docs,
        &[
            "COMMAND",
            "GETKEYS",
            "sintercard",
            "2",
            "a",
            "b",
            "LIMIT",
            "1",
        ],
        &["COMMAND", "GETKEYS", "sintercard", "x", "a"],
        &["COMMAND", "GETKEYS", "smove", "a", "b", "m"],
        &["COMMAND", "GETKEYS", "sinterstore", "d", "a", "b"],
        &["COMMAND", "GETKEYS", "sdiff", "a", "b", "c"],
        &["SMISMEMBER", "s"],
        &["SINTERCARD", "1"],
    ]);
}
