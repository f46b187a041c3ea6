//! Hash commands over real sockets, compared byte for byte with redis-server
//! wherever the reply is deterministic (small hashes are listpacks in both,
//! so their order is insertion order), and by shape, count and membership for
//! the random ones (HRANDFIELD) and for hash-table order.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{
    differential, differential_by, differential_resp3, leaves, sorted_reply, Conn, Server,
};

#[test]
fn set_get_delete_and_read_commands_match_redis() {
    differential(&[
        &["HSET", "h", "f1", "v1"],
        &["HSET", "h", "f2", "v2", "f1", "new", "f3", ""],
        &["HSET", "h", "f4"],
        &["HSET", "h", "f4", "v4", "f5"],
        &["hset", "h"],
        &["HMSET", "h", "f5", "5", "f6"],
        &["HMSET", "h", "f5", "5", "f6", "6", "f5", "55"],
        &["HSETNX", "h", "f5", "x"],
        &["HSETNX", "h", "f7", "7"],
        &["HSETNX", "fresh", "a", "b"],
        &["HSETNX", "h", "f8"],
        &["HGETALL", "h"],
        &["HKEYS", "h"],
        &["HVALS", "h"],
        &["HLEN", "h"],
        &["HLEN", "nokey"],
        &["HGET", "h", "f1"],
        &["HGET", "h", "nofield"],
        &["HGET", "nokey", "f1"],
        &["HMGET", "h", "f1", "nofield", "f3", "f1"],
        &["HMGET", "nokey", "a", "b"],
        &["HEXISTS", "h", "f1"],
        &["HEXISTS", "h", "nofield"],
        &["HEXISTS", "nokey", "f1"],
        &["HSTRLEN", "h", "f1"],
        &["HSTRLEN", "h", "f3"],
        &["HSTRLEN", "h", "nofield"],
        &["HSTRLEN", "nokey", "f1"],
        &["HDEL", "h", "f1", "f1", "nofield", "f2"],
        &["HDEL", "nokey", "a"],
        &["HGETALL", "h"],
        &["HSET", "h", "f1", "back at the end"],
        &["HKEYS", "h"],
        &["HDEL", "fresh", "a"],
        &["EXISTS", "fresh"],
        &["HDEL", "h", "f3", "f4", "f5", "f6", "f7", "f1", "f1"],
        &["EXISTS", "h"],
        &["HGETALL", "nokey"],
        &["HKEYS", "nokey"],
        &["HVALS", "nokey"],
        &[
            "HSET",
            "bin",
            "",
            "",
            "a\0b",
            "c\r\nd",
            "\u{e9}",
            "\u{e9}\u{e9}",
        ],
        &["HGETALL", "bin"],
        &["HSTRLEN", "bin", "\u{e9}"],
        &["HGET", "bin", "a\0b"],
        &["HGET", "bin", "a"],
        &["HEXISTS", "bin", ""],
        &["HINCRBY", "bin", "", "7"],
        &["HGET", "bin", ""],
    ]);
}

#[test]
fn every_hash_command_refuses_other_types_in_redis_order() {
    differential(&[
        &["SET", "str", "x"],
        &["SADD", "set", "m"],
        &["HSET", "str", "a", "b"],
        &["HSET", "str", "a"],
        &["HMSET", "set", "a", "b"],
        &["HSETNX", "str", "a", "b"],
        &["HGET", "str", "a"],
        &["HMGET", "str", "a"],
        &["HDEL", "str", "a"],
        &["HLEN", "set"],
        &["HEXISTS", "str", "a"],
        &["HGETALL", "str"],
        &["HKEYS", "str"],
        &["HVALS", "str"],
        &["HSTRLEN", "str", "a"],
        &["HINCRBY", "str", "a", "1"],
        &["HINCRBY", "str", "a", "x"],
        &["HINCRBYFLOAT", "str", "a", "1"],
        &["HINCRBYFLOAT", "str", "a", "x"],
        &["HINCRBYFLOAT", "str", "a", "inf"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "1"],
        &["HRANDFIELD", "str", "1", "WITHVALUES"],
        &["HRANDFIELD", "str", "1", "nope"],
        &["HRANDFIELD", "str", "x"],
        &["HSCAN", "str", "0"],
        &["HSCAN", "str", "x"],
        &["HSCAN", "str", "0", "COUNT", "0"],
        &["HSET", "h", "a", "b"],
        &["SADD", "h", "x"],
        &["GET", "h"],
        &["GET", "str"],
    ]);
}

#[test]
fn hincrby_and_hincrbyfloat_match_redis() {
    differential(&[
        &["HINCRBY", "n", "f", "5"],
        &["HINCRBY", "n", "f", "-10"],
        &["HINCRBY", "n", "f", "abc"],
        &["HINCRBY", "n", "f", "1.5"],
        &["HINCRBY", "n", "f", " 1"],
        &["HINCRBY", "n", "f", "99999999999999999999"],
        &["HINCRBY", "n", "f", "9223372036854775807"],
        &["HINCRBY", "n", "f", "-9223372036854775808"],
        &[
            "HSET",
            "n",
            "big",
            "9223372036854775807",
            "small",
            "-9223372036854775808",
        ],
        &["HINCRBY", "n", "big", "1"],
        &["HINCRBY", "n", "big", "-1"],
        &["HINCRBY", "n", "small", "-1"],
        &["HINCRBY", "n", "small", "0"],
        &[
            "HSET", "n", "sp", " 1", "lead", "01", "word", "x", "empty", "",
        ],
        &["HINCRBY", "n", "sp", "1"],
        &["HINCRBY", "n", "lead", "1"],
        &["HINCRBY", "n", "word", "1"],
        &["HINCRBY", "n", "empty", "1"],
        &["HINCRBY", "fresh", "f", "-3"],
        &["HGETALL", "fresh"],
        &["HINCRBYFLOAT", "n", "x", "1.5"],
        &["HINCRBYFLOAT", "n", "x", "1e3"],
        &["HINCRBYFLOAT", "n", "x", "-0.5e1"],
        &["HINCRBYFLOAT", "n", "x", "0.1"],
        &["HINCRBYFLOAT", "n", "x", "-1496.1"],
        &["HINCRBYFLOAT", "n", "x", "abc"],
        &["HINCRBYFLOAT", "n", "x", "inf"],
        &["HINCRBYFLOAT", "n", "x", "-inf"],
        &["HINCRBYFLOAT", "n", "x", "nan"],
        &["HINCRBYFLOAT", "n", "x", "1e5000"],
        &["HINCRBYFLOAT", "n", "x", " 1"],
        &["HINCRBYFLOAT", "n", "x", "0x10"],
        &["HINCRBYFLOAT", "n", "x", ""],
        &["HINCRBYFLOAT", "n", "word", "1"],
        &["HINCRBYFLOAT", "n", "empty", "1"],
        &["HINCRBYFLOAT", "n", "sp", "1"],
        &["HINCRBYFLOAT", "n", "big", "1.5"],
        &["HINCRBYFLOAT", "n", "f", "2.5"],
        &["HINCRBY", "n", "f", "1"],
        &["HINCRBYFLOAT", "n", "y", "1.7976931348623157e308"],
        &["HINCRBYFLOAT", "n", "y", "1.7976931348623157e308"],
        &["HINCRBYFLOAT", "n", "z", "1e4932"],
        &["HINCRBYFLOAT", "n", "z", "1e4932"],
        &["HSTRLEN", "n", "z"],
        &["HINCRBYFLOAT", "n", "z", "-1e4932"],
        &["HINCRBYFLOAT", "n", "w", "5.0e3"],
        &["HINCRBYFLOAT", "n", "w", "-5000"],
        // The long results made "n" a hash table, whose order is Redis's own.
        &["HLEN", "n"],
        &["HMGET", "n", "f", "big", "small", "sp", "x", "y", "z", "w"],
    ]);
}

#[test]
fn hrandfield_deterministic_cases_match_redis() {
    differential(&[
        &["HSET", "r", "a", "1", "b", "2", "c", "3"],
        &["HSET", "one", "only", "value"],
        &["HRANDFIELD", "r", "3"],
        &["HRANDFIELD", "r", "10"],
        &["HRANDFIELD", "r", "3", "WITHVALUES"],
        &["HRANDFIELD", "r", "100", "withvalues"],
        &["HRANDFIELD", "r", "0"],
        &["HRANDFIELD", "r", "0", "WITHVALUES"],
        &["HRANDFIELD", "one"],
        &["HRANDFIELD", "one", "1"],
        &["HRANDFIELD", "one", "-3"],
        &["HRANDFIELD", "one", "-3", "WITHVALUES"],
        &["HRANDFIELD", "one", "1", "WITHVALUES"],
        &["HRANDFIELD", "nokey"],
        &["HRANDFIELD", "nokey", "5"],
        &["HRANDFIELD", "nokey", "-5", "WITHVALUES"],
        &["HRANDFIELD", "nokey", "0"],
        &["HRANDFIELD", "r", "abc"],
        &["HRANDFIELD", "r", "1.5"],
        &["HRANDFIELD", "r", ""],
        &["HRANDFIELD", "r", "-9223372036854775808"],
        &["HRANDFIELD", "nokey", "-9223372036854775808"],
        &["HRANDFIELD", "r", "9223372036854775807", "WITHVALUES"],
        &["HRANDFIELD", "r", "-4611686018427387904", "WITHVALUES"],
        &["HRANDFIELD", "r", "4611686018427387904", "WITHVALUES"],
        &["HRANDFIELD", "r", "4611686018427387903", "WITHVALUES"],
        &["HRANDFIELD", "r", "9223372036854775807"],
        &["HRANDFIELD", "r", "1", "WITHVALUES", "junk"],
        &["HRANDFIELD", "r", "1", "junk"],
        &["HRANDFIELD", "r", "x", "junk"],
        &["HRANDFIELD", "one", "1", "WITHVALUES\0x"],
    ]);
}

#[test]
fn hscan_matches_redis_on_listpacks() {
    differential(&[
        &["HSET", "h", "f1", "v1", "f2", "v2", "g1", "w1", "F3", "v3"],
        &["HSCAN", "h", "0"],
        &["HSCAN", "h", "0", "MATCH", "f*"],
        &["HSCAN", "h", "0", "match", "*1", "count", "1"],
        &["HSCAN", "h", "0", "MATCH", "*"],
        &["HSCAN", "h", "0", "MATCH", "[fg]?"],
        &["HSCAN", "h", "0", "MATCH", "nothing"],
        &[
            "HSCAN", "h", "0", "COUNT", "1", "MATCH", "g*", "COUNT", "100",
        ],
        &["HSCAN", "h", "123"],
        &["HSCAN", "h", ""],
        &["HSCAN", "h", "-1"],
        &["HSCAN", "h", "+7"],
        &["HSCAN", "h", "-"],
        &["HSCAN", "h", " 1"],
        &["HSCAN", "h", "1 "],
        &["HSCAN", "h", "1x"],
        &["HSCAN", "h", "18446744073709551615"],
        &["HSCAN", "h", "18446744073709551616"],
        &["HSCAN", "h", "0", "COUNT", "0"],
        &["HSCAN", "h", "0", "COUNT", "-1"],
        &["HSCAN", "h", "0", "COUNT", "abc"],
        &["HSCAN", "h", "0", "COUNT"],
        &["HSCAN", "h", "0", "MATCH"],
        &["HSCAN", "h", "0", "FOO", "bar"],
        &["HSCAN", "h", "0", "TYPE", "string"],
        &["HSCAN", "h", "0", "COUNT\0x", "5"],
        &["HSCAN", "nokey", "0", "COUNT", "0"],
        &["HSCAN", "nokey", "0", "FOO"],
        &["HSCAN", "nokey", "x"],
    ]);
}

#[test]
fn resp3_replies_match_redis() {
    differential_resp3(&[
        &["HSET", "h", "a", "1", "b", "2"],
        &["HSET", "one", "f", "v"],
        &["HGETALL", "h"],
        &["HGETALL", "nokey"],
        &["HMGET", "h", "a", "zz"],
        &["HGET", "h", "zz"],
        &["HKEYS", "nokey"],
        &["HRANDFIELD", "nokey"],
        &["HRANDFIELD", "nokey", "3", "WITHVALUES"],
        &["HRANDFIELD", "h", "5", "WITHVALUES"],
        &["HRANDFIELD", "one", "-3", "WITHVALUES"],
        &["HRANDFIELD", "one", "-2"],
        &["HSCAN", "h", "0"],
        &["HSCAN", "nokey", "0"],
        &["HINCRBYFLOAT", "h", "a", "0.5"],
        &["HEXISTS", "h", "a"],
    ]);
}

/// Listpack limits: 512 fields and 64-byte strings stay a listpack (insertion
/// order, byte for byte with Redis); beyond them Redis's order is its dict's.
#[test]
fn listpack_limits_keep_redis_order() {
    let fields: Vec<String> = (0..512)
        .map(|i| format!("field:{}", (i * 7919) % 512))
        .collect();
    let mut hset = vec!["HSET".to_string(), "h".to_string()];
    for f in &fields {
        hset.push(f.clone());
        hset.push(format!("v{f}"));
    }
    let hset: Vec<&str> = hset.iter().map(String::as_str).collect();
    let v64 = "x".repeat(64);
    let f64 = "y".repeat(64);
    differential(&[
        &hset,
        &["HLEN", "h"],
        &["HGETALL", "h"],
        &["HSCAN", "h", "0", "COUNT", "1"],
        &["HSET", "long", "a", "1", &f64, &v64, "b", "2"],
        &["HGETALL", "long"],
        &["HINCRBY", "long", &f64, "1"],
        &["HSETNX", "long", "c", &v64],
        &["HGETALL", "long"],
    ]);
}

/// Past the limits a hash is a table: after HDEL of its first field our
/// table moves its last field into the hole, where a listpack keeps order.
#[test]
fn conversion_happens_exactly_past_the_limits() {
    let server = Server::start();
    let mut c = server.connect();
    let first_key_after_deleting_f0 = |c: &mut Conn, key: &str| {
        c.cmd(&["HDEL", key, "f0"]);
        leaves(&c.cmd(&["HKEYS", key]))[0].clone()
    };
    let fill = |c: &mut Conn, key: &str, n: usize| {
        for i in 0..n {
            c.cmd(&["HSET", key, &format!("f{i}"), "v"]);
        }
    };
    fill(&mut c, "at", 512);
    assert_eq!(first_key_after_deleting_f0(&mut c, "at"), "f1");
    fill(&mut c, "past", 513);
    assert_eq!(first_key_after_deleting_f0(&mut c, "past"), "f512");

    let v64 = "v".repeat(64);
    let v65 = "v".repeat(65);
    for (key, value, first) in [("v64", &v64, "f1"), ("v65", &v65, "f2")] {
        c.cmd(&["HSET", key, "f0", "a", "f1", "b", "f2", value]);
        assert_eq!(first_key_after_deleting_f0(&mut c, key), first, "{key}");
    }
    c.cmd(&["HSET", "incr", "f0", "a", "f1", "b"]);
    c.cmd(&["HINCRBYFLOAT", "incr", "f2", "1e100"]);
    assert_eq!(first_key_after_deleting_f0(&mut c, "incr"), "f2");

    assert_eq!(
        c.cmd_str(&["CONFIG", "SET", "hash-max-listpack-entries", "2"]),
        "+OK\r\n"
    );
    c.cmd(&["HSET", "cfg", "f0", "a", "f1", "b", "f2", "c"]);
    assert_eq!(first_key_after_deleting_f0(&mut c, "cfg"), "f2");
}

/// Big hashes: same contents as Redis, and HSCAN returns every field that
/// stays for the whole scan even while others are deleted and added.
#[test]
fn hashtable_hashes_and_hscan_guarantees() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let mut expected = oracle.connect();
    let mut actual = ours.connect();
    for c in [&mut expected, &mut actual] {
        for i in 0..1000 {
            c.cmd(&["HSET", "big", &format!("f{i}"), &format!("{i}")]);
        }
    }
    for (cmd, group) in [
        (&["HGETALL", "big"][..], 2),
        (&["HKEYS", "big"], 1),
        (&["HVALS", "big"], 1),
        (&["HSCAN", "big", "0", "COUNT", "100000"], 2),
    ] {
        let got = sorted_reply(&actual.cmd(cmd), group);
        let want = sorted_reply(&expected.cmd(cmd), group);
        assert!(got == want, "{cmd:?} differs from redis-server");
    }

    let mut seen = BTreeMap::new();
    let mut cursor = "0".to_string();
    let mut removed = 0;
    let mut calls = 0;
    loop {
        let reply = leaves(&actual.cmd(&["HSCAN", "big", &cursor, "COUNT", "25"]));
        cursor = reply[0].clone();
        for pair in reply[1..].chunks(2) {
            seen.insert(pair[0].clone(), pair[1].clone());
        }
        // Fields f0..f199 go during the scan; new ones arrive.
        for _ in 0..5 {
            actual.cmd(&["HDEL", "big", &format!("f{removed}")]);
            removed += 1;
        }
        actual.cmd(&["HSET", "big", &format!("new{calls}"), "x"]);
        calls += 1;
        if cursor == "0" {
            break;
        }
        assert!(calls < 1000, "scan does not end");
    }
    for i in removed..1000 {
        assert_eq!(seen.get(&format!("f{i}")), Some(&i.to_string()), "f{i}");
    }
    assert!(calls <= 1000 / 25 + 1, "{calls} calls");
}

/// Shapes, counts and uniqueness of HRANDFIELD against redis-server, for both
/// encodings and both protocols.
#[test]
fn hrandfield_shapes_match_redis() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let small: Vec<String> = (0..5).map(|i| format!("s{i}")).collect();
    let big: Vec<String> = (0..300).map(|i| format!("b{i}")).collect();
    for server in [&oracle, &ours] {
        let mut c = server.connect();
        c.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "128"]);
        for f in &small {
            c.cmd(&["HSET", "small", f, &format!("v{f}")]);
        }
        for f in &big {
            c.cmd(&["HSET", "big", f, &format!("v{f}")]);
        }
    }
    for (key, fields) in [("small", &small), ("big", &big)] {
        let size = fields.len() as i64;
        for count in [1, 2, size - 1, size, size + 1, size * 3, -1, -2, -size * 3] {
            for withvalues in [false, true] {
                for resp3 in [false, true] {
                    let count_arg = count.to_string();
                    let mut cmd = vec!["HRANDFIELD", key, &count_arg];
                    if withvalues {
                        cmd.push("WITHVALUES");
                    }
                    let run = |server: &Server| {
                        let mut c = server.connect();
                        if resp3 {
                            c.cmd(&["HELLO", "3"]);
                        }
                        c.cmd(&cmd)
                    };
                    let (want, got) = (run(&oracle), run(&ours));
                    let what = format!("{cmd:?} resp3={resp3}");
                    // Same header and nesting: compare the reply with every
                    // bulk string blanked out.
                    let shape = |r: &[u8]| {
                        String::from_utf8_lossy(r)
                            .split("\r\n")
                            .filter(|l| l.starts_with(['*', '$']))
                            .map(|l| if l.starts_with('$') { "$" } else { l })
                            .collect::<Vec<_>>()
                            .join(",")
                    };
                    assert_eq!(shape(&got), shape(&want), "{what}");
                    let items = leaves(&got);
                    let picked: Vec<&String> = if withvalues {
                        for pair in items.chunks(2) {
                            assert_eq!(pair[1], format!("v{}", pair[0]), "{what}");
                        }
                        items.iter().step_by(2).collect()
                    } else {
                        items.iter().collect()
                    };
                    assert!(picked.iter().all(|f| fields.contains(f)), "{what}");
                    let distinct: BTreeSet<_> = picked.iter().collect();
                    if count > 0 {
                        assert_eq!(distinct.len(), picked.len(), "{what}");
                    }
                }
            }
        }
    }
}

/// Our one deliberate difference: a with-repetition sample larger than
/// MAX_RANDOM_REPLY is refused instead of built (Redis would try to).
#[test]
fn huge_negative_counts_are_refused() {
    let server = Server::start();
    let mut c = server.connect();
    c.cmd(&["HSET", "h", "f", "v"]);
    assert_eq!(
        c.cmd_str(&["HRANDFIELD", "h", "-100000000"]),
        "-ERR value is out of range\r\n"
    );
    assert_eq!(
        c.cmd_str(&["HRANDFIELD", "h", "-1048577", "WITHVALUES"]),
        "-ERR value is out of range\r\n"
    );
    assert_eq!(leaves(&c.cmd(&["HRANDFIELD", "h", "-1000"])).len(), 1000);
    assert_eq!(c.cmd_str(&["HRANDFIELD", "nokey", "-100000000"]), "*0\r\n");
}

/// A seeded random mix of every deterministic hash command over a few keys,
/// with limits small enough that keys change encoding along the way. Replies
/// whose order comes from a hash table are compared sorted.
#[test]
fn random_operations_match_redis() {
    for seed in [1u64, 2, 3] {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut script: Vec<Vec<String>> = vec![
            vec![
                "CONFIG".into(),
                "SET".into(),
                "hash-max-listpack-entries".into(),
                "6".into(),
            ],
            vec![
                "CONFIG".into(),
                "SET".into(),
                "hash-max-listpack-value".into(),
                "8".into(),
            ],
            vec!["SET".into(), "str".into(), "x".into()],
        ];
        let keys = ["h1", "h2", "h3", "str"];
        let fields = [
            "a",
            "b",
            "c",
            "d",
            "e",
            "f",
            "g",
            "h",
            "i",
            "long-field-name",
        ];
        let values = [
            "1",
            "-2",
            "x",
            "",
            "3.5",
            "9223372036854775807",
            "a longer value",
        ];
        for _ in 0..300 {
            let key = keys[rng.gen_range(0..keys.len())].to_string();
            let mut field = || fields[rng.gen_range(0..fields.len())].to_string();
            let f1 = field();
            let f2 = field();
            let value = values[rng.gen_range(0..values.len())].to_string();
            let n = rng.gen_range(-3i64..20).to_string();
            let cmd: Vec<String> = match rng.gen_range(0..17) {
                0 => vec!["HSET".into(), key, f1, value.clone(), f2, value],
                1 => vec!["HSETNX".into(), key, f1, value],
                2 => vec!["HMSET".into(), key, f1, value],
                3 => vec!["HDEL".into(), key, f1, f2],
                4 => vec!["HGET".into(), key, f1],
                5 => vec!["HMGET".into(), key, f1, f2],
                6 => vec!["HLEN".into(), key],
                7 => vec!["HEXISTS".into(), key, f1],
                8 => vec!["HSTRLEN".into(), key, f1],
                9 => vec!["HINCRBY".into(), key, f1, n],
                10 => vec!["HINCRBYFLOAT".into(), key, f1, format!("{n}.25")],
                11 => vec!["HGETALL".into(), key],
                12 => vec!["HKEYS".into(), key],
                13 => vec!["HVALS".into(), key],
                14 => vec![
                    "HSCAN".into(),
                    key,
                    "0".into(),
                    "COUNT".into(),
                    "1000".into(),
                ],
                15 => vec!["HRANDFIELD".into(), key, "100".into(), "WITHVALUES".into()],
                _ => vec!["EXISTS".into(), key],
            };
            script.push(cmd);
        }
        let ran = differential_by(&script, |cmd, reply| {
            let group = match cmd[0].as_str() {
                "HGETALL" | "HSCAN" | "HRANDFIELD" => 2,
                _ => 1,
            };
            sorted_reply(reply, group)
        });
        if !ran {
            return;
        }
    }
}

#[test]
fn command_metadata_matches_redis() {
    let names = [
        "hdel",
        "hexists",
        "hget",
        "hgetall",
        "hincrby",
        "hincrbyfloat",
        "hkeys",
        "hlen",
        "hmget",
        "hmset",
        "hrandfield",
        "hscan",
        "hset",
        "hsetnx",
        "hstrlen",
        "hvals",
    ];
    let mut info = vec!["COMMAND", "INFO"];
    info.extend(names);
    let mut docs = vec!["COMMAND", "DOCS"];
    docs.extend(names);
    differential(&[
        &info,
        &docs,
        &["COMMAND", "GETKEYS", "hset", "h", "f", "v"],
        &["COMMAND", "GETKEYS", "hscan", "h", "0", "MATCH", "*"],
        &["HGETALL"],
        &["HRANDFIELD"],
    ]);
}
