//! List commands (t_list.c, blocking ones excepted), compared byte for byte
//! with redis-server: every command, option and error, RESP3 nulls, big
//! lists spread over many nodes, and seeded random operation sequences.

mod support;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use support::{differential, Pair};

const WRONGTYPE_SETUP: &[&str] = &["SET", "s", "string"];

#[test]
fn push_and_len() {
    differential(&[
        &["LPUSH", "l", "a"],
        &["LPUSH", "l", "b", "c", "d"],
        &["RPUSH", "l", "e", "f"],
        &["LRANGE", "l", "0", "-1"],
        &["LLEN", "l"],
        &["LLEN", "missing"],
        &["LPUSHX", "missing", "a"],
        &["RPUSHX", "missing", "a", "b"],
        &["EXISTS", "missing"],
        &["LPUSHX", "l", "x", "y"],
        &["RPUSHX", "l", "z"],
        &["LRANGE", "l", "0", "-1"],
        &["RPUSH", "e", ""],
        &["LRANGE", "e", "0", "-1"],
        &[
            "RPUSH",
            "n",
            "1",
            "-1",
            "007",
            "9223372036854775808",
            "-0",
            "+1",
            " 2",
        ],
        &["LRANGE", "n", "0", "-1"],
        &["lpush", "l", "lower"],
        &["LINDEX", "l", "0"],
        &["LPUSH", "l"],
        &["RPUSH", "l"],
        &["LPUSHX", "l"],
        &["RPUSHX"],
        &["LLEN"],
        &["LLEN", "l", "x"],
        WRONGTYPE_SETUP,
        &["LPUSH", "s", "a"],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LLEN", "s"],
        &["GET", "l"],
        &["APPEND", "l", "x"],
    ]);
}

#[test]
fn pop_with_and_without_count() {
    differential(&[
        &["RPUSH", "l", "a", "b", "c", "d", "e"],
        &["LPOP", "l"],
        &["RPOP", "l"],
        &["LPOP", "l", "0"],
        &["RPOP", "l", "0"],
        &["LPOP", "l", "2"],
        &["RPUSH", "l", "f", "g", "h"],
        &["RPOP", "l", "2"],
        &["RPOP", "l", "100"],
        &["EXISTS", "l"],
        &["LPOP", "l"],
        &["RPOP", "l"],
        &["LPOP", "l", "1"],
        &["RPOP", "l", "0"],
        &["RPUSH", "l", "only"],
        &["LPOP", "l", "9223372036854775807"],
        &["EXISTS", "l"],
        &["RPUSH", "l", "x"],
        &["LPOP", "l", "-1"],
        &["RPOP", "l", "-9223372036854775808"],
        &["LPOP", "l", "abc"],
        &["LPOP", "l", ""],
        &["LPOP", "l", "1.5"],
        &["LPOP", "l", "1", "2"],
        &["RPOP", "l", "1", "2", "3"],
        &["LPOP", "missing", "x"],
        &["LPOP", "missing", "1", "2"],
        &["LPOP"],
        &["RPOP"],
        &["LRANGE", "l", "0", "-1"],
        WRONGTYPE_SETUP,
        &["LPOP", "s"],
        &["RPOP", "s", "0"],
        &["LPOP", "s", "-1"],
        &["RPOP", "s", "1"],
    ]);
}

#[test]
fn lrange_indices() {
    let mut script: Vec<Vec<String>> = vec![vec![
        "RPUSH".into(),
        "l".into(),
        "a".into(),
        "b".into(),
        "c".into(),
        "d".into(),
        "e".into(),
    ]];
    let bounds = [
        "0",
        "1",
        "2",
        "4",
        "5",
        "6",
        "-1",
        "-2",
        "-5",
        "-6",
        "-100",
        "100",
        "9223372036854775807",
        "-9223372036854775808",
    ];
    for start in bounds {
        for stop in bounds {
            script.push(["LRANGE", "l", start, stop].map(String::from).to_vec());
        }
    }
    for bad in [
        &["LRANGE", "l", "x", "1"][..],
        &["LRANGE", "l", "0", "x"],
        &["LRANGE", "l", "0", "9223372036854775808"],
        &["LRANGE", "l", " 1", "2"],
        &["LRANGE", "missing", "0", "-1"],
        &["LRANGE", "missing", "x", "-1"],
        &["LRANGE", "l", "0"],
        &["LRANGE", "l", "0", "1", "2"],
        WRONGTYPE_SETUP,
        &["LRANGE", "s", "0", "-1"],
        &["LRANGE", "s", "x", "-1"],
        &["LRANGE", "s", "5", "1"],
    ] {
        script.push(bad.iter().map(|s| s.to_string()).collect());
    }
    let script: Vec<Vec<&str>> = script
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let script: Vec<&[&str]> = script.iter().map(Vec::as_slice).collect();
    differential(&script);
}

#[test]
fn lindex_and_lset() {
    differential(&[
        &["RPUSH", "l", "a", "b", "c"],
        &["LINDEX", "l", "0"],
        &["LINDEX", "l", "2"],
        &["LINDEX", "l", "3"],
        &["LINDEX", "l", "-1"],
        &["LINDEX", "l", "-3"],
        &["LINDEX", "l", "-4"],
        &["LINDEX", "l", "9223372036854775807"],
        &["LINDEX", "l", "-9223372036854775808"],
        &["LINDEX", "l", "x"],
        &["LINDEX", "missing", "x"],
        &["LINDEX", "missing", "0"],
        &["LINDEX", "l"],
        &["LSET", "l", "0", "A"],
        &["LSET", "l", "-1", "C"],
        &["LSET", "l", "1", ""],
        &["LRANGE", "l", "0", "-1"],
        &["LSET", "l", "3", "x"],
        &["LSET", "l", "-4", "x"],
        &["LSET", "l", "-9223372036854775808", "x"],
        &["LSET", "l", "9223372036854775807", "x"],
        &["LSET", "l", "x", "x"],
        &["LSET", "missing", "0", "x"],
        &["LSET", "missing", "x", "x"],
        &["EXISTS", "missing"],
        &["LSET", "l", "0"],
        &["LSET", "l", "0", "a", "b"],
        WRONGTYPE_SETUP,
        &["LINDEX", "s", "0"],
        &["LINDEX", "s", "x"],
        &["LSET", "s", "0", "x"],
        &["LSET", "s", "x", "x"],
        &["LRANGE", "l", "0", "-1"],
    ]);
}

#[test]
fn linsert() {
    differential(&[
        &["RPUSH", "l", "a", "b", "c", "b"],
        &["LINSERT", "l", "BEFORE", "b", "x"],
        &["LINSERT", "l", "AFTER", "b", "y"],
        &["LINSERT", "l", "after", "c", "z"],
        &["LINSERT", "l", "Before", "a", "first"],
        &["LINSERT", "l", "AFTER", "b", "last"],
        &["LINSERT", "l", "AFTER", "nope", "x"],
        &["LINSERT", "l", "BEFORE", "", "x"],
        &["LRANGE", "l", "0", "-1"],
        &["LINSERT", "l", "MIDDLE", "a", "x"],
        &["LINSERT", "l", "BEFOREX", "a", "x"],
        &["LINSERT", "missing", "BEFORE", "a", "x"],
        &["LINSERT", "missing", "MIDDLE", "a", "x"],
        &["EXISTS", "missing"],
        &["LINSERT", "l", "BEFORE", "a"],
        &["LINSERT", "l", "BEFORE", "a", "x", "y"],
        WRONGTYPE_SETUP,
        &["LINSERT", "s", "BEFORE", "a", "x"],
        &["LINSERT", "s", "UP", "a", "x"],
        &["RPUSH", "e", ""],
        &["LINSERT", "e", "AFTER", "", "after-empty"],
        &["LRANGE", "e", "0", "-1"],
    ]);
}

#[test]
fn lrem() {
    differential(&[
        &["RPUSH", "l", "a", "b", "a", "c", "a", "b", "a"],
        &["LREM", "l", "1", "a"],
        &["LRANGE", "l", "0", "-1"],
        &["LREM", "l", "-2", "a"],
        &["LRANGE", "l", "0", "-1"],
        &["LREM", "l", "0", "b"],
        &["LRANGE", "l", "0", "-1"],
        &["LREM", "l", "5", "nope"],
        &["LREM", "l", "9223372036854775807", "c"],
        &["LREM", "l", "-9223372036854775808", "a"],
        &["EXISTS", "l"],
        &["LREM", "l", "0", "a"],
        &["LREM", "l", "x", "a"],
        &["LREM", "missing", "x", "a"],
        &["LREM", "l", "1"],
        WRONGTYPE_SETUP,
        &["LREM", "s", "0", "a"],
        &["LREM", "s", "x", "a"],
    ]);
}

#[test]
fn ltrim() {
    let mut pair = match Pair::new() {
        Some(p) => p,
        None => return,
    };
    let bounds = [
        "0",
        "1",
        "3",
        "5",
        "-1",
        "-2",
        "-6",
        "100",
        "-9223372036854775808",
        "9223372036854775807",
    ];
    for start in bounds {
        for stop in bounds {
            pair.run(&[
                &["DEL", "l"],
                &["RPUSH", "l", "a", "b", "c", "d", "e"],
                &["LTRIM", "l", start, stop],
                &["LRANGE", "l", "0", "-1"],
                &["EXISTS", "l"],
            ]);
        }
    }
    pair.run(&[
        &["LTRIM", "missing", "0", "1"],
        &["LTRIM", "missing", "x", "1"],
        &["LTRIM", "l", "0", "x"],
        &["LTRIM", "l", "0"],
        WRONGTYPE_SETUP,
        &["LTRIM", "s", "0", "1"],
        &["LTRIM", "s", "x", "1"],
    ]);
}

#[test]
fn lpos_options() {
    differential(&[
        &["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c", "a"],
        &["LPOS", "l", "a"],
        &["LPOS", "l", "c"],
        &["LPOS", "l", "nope"],
        &["LPOS", "l", "c", "RANK", "1"],
        &["LPOS", "l", "c", "RANK", "2"],
        &["LPOS", "l", "c", "RANK", "3"],
        &["LPOS", "l", "c", "RANK", "4"],
        &["LPOS", "l", "c", "RANK", "-1"],
        &["LPOS", "l", "c", "RANK", "-3"],
        &["LPOS", "l", "c", "RANK", "-4"],
        &["LPOS", "l", "c", "COUNT", "0"],
        &["LPOS", "l", "c", "COUNT", "1"],
        &["LPOS", "l", "c", "COUNT", "2"],
        &["LPOS", "l", "c", "COUNT", "10"],
        &["LPOS", "l", "nope", "COUNT", "0"],
        &["LPOS", "l", "c", "RANK", "2", "COUNT", "0"],
        &["LPOS", "l", "c", "RANK", "-1", "COUNT", "2"],
        &["LPOS", "l", "c", "RANK", "-2", "COUNT", "0"],
        &["LPOS", "l", "c", "MAXLEN", "3"],
        &["LPOS", "l", "c", "MAXLEN", "2"],
        &["LPOS", "l", "c", "MAXLEN", "0"],
        &["LPOS", "l", "c", "MAXLEN", "7", "COUNT", "0"],
        &["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "1"],
        &["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "2", "COUNT", "0"],
        &["LPOS", "l", "c", "count", "0", "rank", "2", "maxlen", "8"],
        &["LPOS", "l", "c", "RANK", "1", "RANK", "-1"],
        &["LPOS", "l", "c", "RANK", "9223372036854775807"],
        &[
            "LPOS",
            "l",
            "c",
            "RANK",
            "9223372036854775807",
            "COUNT",
            "0",
        ],
        &["LPOS", "l", "c", "RANK", "-9223372036854775807"],
        &[
            "LPOS",
            "l",
            "c",
            "RANK",
            "-9223372036854775807",
            "COUNT",
            "0",
        ],
        // Redis 7.0 negates RANK without an overflow check: i64::MIN stays
        // negative, so it matches from the first hit and COUNT never stops it.
        &["LPOS", "l", "c", "RANK", "-9223372036854775808"],
        &[
            "LPOS",
            "l",
            "c",
            "RANK",
            "-9223372036854775808",
            "COUNT",
            "1",
        ],
        &[
            "LPOS",
            "l",
            "c",
            "RANK",
            "-9223372036854775808",
            "COUNT",
            "0",
        ],
        &[
            "LPOS",
            "l",
            "c",
            "RANK",
            "-9223372036854775808",
            "MAXLEN",
            "2",
        ],
        &["LPOS", "l", "c", "COUNT", "9223372036854775807"],
        &["LPOS", "l", "c", "MAXLEN", "9223372036854775807"],
        &["LPOS", "l", "c", "RANK", "0"],
        &["LPOS", "l", "c", "RANK", "x"],
        &["LPOS", "l", "c", "RANK", "9223372036854775808"],
        &["LPOS", "l", "c", "COUNT", "-1"],
        &["LPOS", "l", "c", "COUNT", "x"],
        &["LPOS", "l", "c", "MAXLEN", "-1"],
        &["LPOS", "l", "c", "MAXLEN", "x"],
        &["LPOS", "l", "c", "RANK"],
        &["LPOS", "l", "c", "COUNT"],
        &["LPOS", "l", "c", "MAXLEN"],
        &["LPOS", "l", "c", "FOO", "1"],
        &["LPOS", "l", "c", "COUNT", "1", "RANK", "0"],
        &["LPOS", "l", "c", "RANK", "0", "FOO"],
        &["LPOS", "l"],
        &["LPOS", "missing", "a"],
        &["LPOS", "missing", "a", "COUNT", "0"],
        &[
            "LPOS", "missing", "a", "RANK", "-1", "COUNT", "3", "MAXLEN", "1",
        ],
        &["LPOS", "missing", "a", "RANK", "0"],
        &["LPOS", "missing", "a", "BAR"],
        WRONGTYPE_SETUP,
        &["LPOS", "s", "a"],
        &["LPOS", "s", "a", "COUNT", "0"],
        &["LPOS", "s", "a", "COUNT", "-1"],
        &["LPOS", "s", "a", "RANK", "0"],
        &["LPOS", "s", "a", "BAR"],
    ]);
}

#[test]
fn lmove_and_rpoplpush() {
    differential(&[
        &["RPUSH", "src", "a", "b", "c", "d"],
        &["LMOVE", "src", "dst", "LEFT", "LEFT"],
        &["LMOVE", "src", "dst", "LEFT", "RIGHT"],
        &["LMOVE", "src", "dst", "right", "left"],
        &["LRANGE", "src", "0", "-1"],
        &["LRANGE", "dst", "0", "-1"],
        &["LMOVE", "src", "dst", "RIGHT", "RIGHT"],
        &["EXISTS", "src"],
        &["LRANGE", "dst", "0", "-1"],
        &["LMOVE", "src", "dst", "LEFT", "LEFT"],
        &["LMOVE", "dst", "dst", "LEFT", "RIGHT"],
        &["LMOVE", "dst", "dst", "RIGHT", "LEFT"],
        &["LMOVE", "dst", "dst", "LEFT", "LEFT"],
        &["LMOVE", "dst", "dst", "RIGHT", "RIGHT"],
        &["LRANGE", "dst", "0", "-1"],
        &["RPOPLPUSH", "dst", "dst"],
        &["RPOPLPUSH", "dst", "other"],
        &["RPOPLPUSH", "missing", "other"],
        &["LRANGE", "dst", "0", "-1"],
        &["LRANGE", "other", "0", "-1"],
        &["RPUSH", "one", "x"],
        &["LMOVE", "one", "one", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "one", "one"],
        &["LRANGE", "one", "0", "-1"],
        &["LMOVE", "src", "dst", "UP", "LEFT"],
        &["LMOVE", "src", "dst", "LEFT", "DOWN"],
        &["LMOVE", "missing", "dst", "UP", "LEFT"],
        &["LMOVE", "src", "dst", "LEFT"],
        &["RPOPLPUSH", "src"],
        WRONGTYPE_SETUP,
        &["LMOVE", "s", "dst", "LEFT", "LEFT"],
        &["LMOVE", "dst", "s", "LEFT", "LEFT"],
        &["LRANGE", "dst", "0", "-1"],
        &["LMOVE", "missing", "s", "LEFT", "LEFT"],
        &["LMOVE", "s", "s", "LEFT", "LEFT"],
        &["RPOPLPUSH", "s", "dst"],
        &["RPOPLPUSH", "dst", "s"],
        &["RPOPLPUSH", "missing", "s"],
        &["LRANGE", "dst", "0", "-1"],
    ]);
}

#[test]
fn lmpop() {
    differential(&[
        &["RPUSH", "a", "1", "2", "3"],
        &["RPUSH", "b", "4", "5"],
        &["LMPOP", "2", "missing", "a", "LEFT"],
        &["LMPOP", "2", "missing", "a", "RIGHT"],
        &["LMPOP", "3", "missing", "a", "b", "left", "COUNT", "10"],
        &["EXISTS", "a"],
        &["LMPOP", "2", "a", "b", "RIGHT", "count", "1"],
        &["LMPOP", "1", "b", "LEFT", "COUNT", "9223372036854775807"],
        &["LMPOP", "2", "a", "b", "LEFT"],
        &["LMPOP", "1", "a", "LEFT"],
        &["RPUSH", "a", "x"],
        &["LMPOP", "1", "a", "LEFT", "COUNT", "0"],
        &["LMPOP", "1", "a", "LEFT", "COUNT", "-1"],
        &["LMPOP", "1", "a", "LEFT", "COUNT", "x"],
        &["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"],
        &["LMPOP", "1", "a", "LEFT", "COUNT"],
        &["LMPOP", "1", "a", "LEFT", "FOO"],
        &["LMPOP", "1", "a", "MIDDLE"],
        &["LMPOP", "0", "a", "LEFT"],
        &["LMPOP", "-1", "a", "LEFT"],
        &["LMPOP", "x", "a", "LEFT"],
        &["LMPOP", "2", "a", "LEFT"],
        &["LMPOP", "3", "a", "b", "LEFT"],
        &["LMPOP", "9223372036854775807", "a", "LEFT"],
        &["LMPOP", "-9223372036854775808", "a", "LEFT"],
        &["LMPOP", "1", "a"],
        &["LMPOP", "1"],
        &["LRANGE", "a", "0", "-1"],
        WRONGTYPE_SETUP,
        &["LMPOP", "2", "missing", "s", "LEFT"],
        &["LMPOP", "2", "s", "a", "LEFT"],
        &["LMPOP", "2", "a", "s", "LEFT"],
        &["LMPOP", "1", "s", "LEFT", "COUNT", "0"],
    ]);
}

#[test]
fn resp3_nulls_and_arrays() {
    let Some(mut p) = Pair::new() else { return };
    p.send(&["HELLO", "3"]);
    p.run(&[
        &["LPOP", "missing"],
        &["LPOP", "missing", "1"],
        &["RPOP", "missing", "0"],
        &["LINDEX", "missing", "0"],
        &["LPOS", "missing", "a"],
        &["LPOS", "missing", "a", "COUNT", "0"],
        &["LMPOP", "1", "missing", "LEFT"],
        &["LMOVE", "missing", "x", "LEFT", "LEFT"],
        &["RPOPLPUSH", "missing", "x"],
        &["LRANGE", "missing", "0", "-1"],
        &["RPUSH", "l", "a", "b", "a"],
        &["LPOP", "l", "0"],
        &["LINDEX", "l", "5"],
        &["LPOS", "l", "z"],
        &["LPOS", "l", "a", "COUNT", "0"],
        &["LMPOP", "1", "l", "RIGHT", "COUNT", "2"],
        &["LPOP", "l", "5"],
        &["LPOP", "l"],
        &["LSET", "l", "0", "x"],
    ]);
}

#[test]
fn binary_and_large_elements() {
    let Some(mut p) = Pair::new() else { return };
    let big = vec![b'x'; 70_000];
    let medium = vec![b'm'; 9_000];
    let binary: &[u8] = b"a\r\nb\0c\xff";
    let elements: [&[u8]; 6] = [&big, &medium, binary, b"", b"12345", b"-0"];
    for e in elements {
        p.check_bytes(&[b"RPUSH", b"l", e]);
        p.check_bytes(&[b"LPUSH", b"l", e]);
    }
    p.check(&["LRANGE", "l", "0", "-1"]);
    for e in elements {
        p.check_bytes(&[b"LPOS", b"l", e, b"COUNT", b"0"]);
        p.check_bytes(&[b"LINSERT", b"l", b"AFTER", e, binary]);
        p.check_bytes(&[b"LSET", b"l", b"3", e]);
    }
    p.check(&["LRANGE", "l", "0", "-1"]);
    for i in ["0", "3", "-1", "-4", "7"] {
        p.check(&["LINDEX", "l", i]);
    }
    p.check_bytes(&[b"LREM", b"l", b"0", binary]);
    p.check_bytes(&[b"LREM", b"l", b"-1", &big]);
    p.check(&["LRANGE", "l", "0", "-1"]);
    p.check(&["RPOP", "l", "3"]);
    p.check(&["LPOP", "l", "3"]);
    p.check(&["LRANGE", "l", "0", "-1"]);
}

/// Long lists under several node sizes: both servers keep their own node
/// layout (Redis's quicklist vs ours), the answers must not show it.
#[test]
fn long_lists_under_every_fill() {
    let Some(mut p) = Pair::new() else { return };
    for fill in ["-2", "1", "3", "-1", "-5", "100"] {
        p.check(&["CONFIG", "SET", "list-max-listpack-size", fill]);
        p.check(&["DEL", "l"]);
        for i in 0..300 {
            let v = if i % 50 == 7 {
                "y".repeat(5000)
            } else {
                format!("e{}", i % 23)
            };
            let push = if i % 3 == 0 { "LPUSH" } else { "RPUSH" };
            p.check(&[push, "l", &v]);
        }
        p.run(&[
            &["LLEN", "l"],
            &["LRANGE", "l", "0", "-1"],
            &["LRANGE", "l", "100", "120"],
            &["LRANGE", "l", "-50", "-40"],
            &["LINDEX", "l", "150"],
            &["LINDEX", "l", "-151"],
            &["LSET", "l", "150", "set-in-the-middle"],
            &["LINSERT", "l", "BEFORE", "e5", "inserted"],
            &["LINSERT", "l", "AFTER", "e22", "inserted-after"],
            &["LPOS", "l", "e3", "COUNT", "0"],
            &["LPOS", "l", "e3", "RANK", "-2", "COUNT", "3"],
            &["LREM", "l", "4", "e1"],
            &["LREM", "l", "-4", "e2"],
            &["LREM", "l", "0", "e4"],
            &["LTRIM", "l", "10", "-10"],
            &["LPOP", "l", "20"],
            &["RPOP", "l", "20"],
            &["LMPOP", "1", "l", "LEFT", "COUNT", "7"],
            &["LMOVE", "l", "l", "LEFT", "RIGHT"],
            &["LRANGE", "l", "0", "-1"],
        ]);
    }
}

/// TYPE and OBJECT ENCODING: Redis 7.0 lists are "quicklist" from the first
/// element, whatever list-max-listpack-size says (listpack lists are 7.2).
#[test]
fn type_and_encoding() {
    let Some(mut p) = Pair::new() else { return };
    p.check(&["RPUSH", "l", "a"]);
    if !p.supports(&["TYPE", "l"]) || !p.supports(&["OBJECT", "ENCODING", "l"]) {
        return;
    }
    p.check(&["TYPE", "l"]);
    p.check(&["OBJECT", "ENCODING", "l"]);
    p.check(&["RPUSH", "l", &"x".repeat(10_000)]);
    p.check(&["OBJECT", "ENCODING", "l"]);
    for fill in ["1", "-5", "0"] {
        p.check(&["CONFIG", "SET", "list-max-listpack-size", fill]);
        p.check(&["RPUSH", fill, "a", "b", "c"]);
        p.check(&["OBJECT", "ENCODING", fill]);
    }
}

/// Only LLEN, LINDEX, LRANGE and LPOS look keys up for reading, so only they
/// count keyspace hits and misses, and only once they reach the lookup.
#[test]
fn keyspace_hits_and_misses() {
    let Some(mut p) = Pair::new() else { return };
    p.send(&["CONFIG", "RESETSTAT"]);
    p.run(&[
        &["LPUSH", "l", "a", "b"],
        &["RPOP", "l"],
        &["LPOP", "missing"],
        &["LLEN", "l"],
        &["LLEN", "missing"],
        &["LRANGE", "l", "x", "0"],
        &["LRANGE", "l", "0", "-1"],
        &["LRANGE", "missing", "0", "-1"],
        &["LINDEX", "l", "x"],
        &["LINDEX", "missing", "x"],
        &["LPOS", "l", "a"],
        &["LPOS", "missing", "a"],
        &["LPOS", "l", "a", "RANK", "0"],
        &["LSET", "l", "0", "z"],
        &["LINSERT", "l", "BEFORE", "z", "y"],
        &["LREM", "l", "0", "q"],
        &["LTRIM", "l", "0", "-1"],
        &["LMOVE", "l", "l", "LEFT", "LEFT"],
        &["LMPOP", "2", "missing", "l", "LEFT"],
        &["RPUSHX", "missing", "q"],
    ]);
    let stats = |info: String| -> Vec<String> {
        info.lines()
            .filter(|l| l.starts_with("keyspace_hits") || l.starts_with("keyspace_misses"))
            .map(String::from)
            .collect()
    };
    let (want, got) = p.send(&["INFO", "stats"]);
    assert_eq!(stats(got), stats(want));
}

/// A list keeps its TTL while it changes (a one-element LMOVE onto itself
/// included); once emptied the key is gone and a new list has no TTL.
#[test]
fn ttl_survives_changes_until_emptied() {
    let Some(mut p) = Pair::new() else { return };
    p.check(&["RPUSH", "l", "a"]);
    if !p.supports(&["EXPIRE", "l", "1000"]) || !p.supports(&["TTL", "l"]) {
        return;
    }
    p.run(&[
        &["EXPIRE", "l", "1000"],
        &["RPUSH", "l", "b"],
        &["LPOP", "l"],
        &["LMOVE", "l", "l", "LEFT", "RIGHT"],
        &["LSET", "l", "0", "c"],
        &["TTL", "l"],
        &["RPOP", "l"],
        &["TTL", "l"],
        &["RPUSH", "l", "new"],
        &["TTL", "l"],
    ]);
}

/// One random command over a handful of keys (one of them a string).
fn random_command(rng: &mut StdRng) -> Vec<Vec<u8>> {
    const KEYS: [&str; 4] = ["a", "b", "c", "s"];
    let key = |rng: &mut StdRng| KEYS[rng.gen_range(0..KEYS.len())].as_bytes().to_vec();
    let value = |rng: &mut StdRng| -> Vec<u8> {
        match rng.gen_range(0..30) {
            0 => vec![b'B'; 9000],
            1 => vec![b'M'; 300],
            2 => Vec::new(),
            3 => b"12345".to_vec(),
            n => [b"x", b"y", b"z"][n % 3].to_vec(),
        }
    };
    let int = |rng: &mut StdRng| -> Vec<u8> {
        let n: i64 = match rng.gen_range(0..12) {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => -1,
            _ => rng.gen_range(-12..12),
        };
        n.to_string().into_bytes()
    };
    let side = |rng: &mut StdRng| -> Vec<u8> {
        if rng.gen() {
            b"LEFT".to_vec()
        } else {
            b"RIGHT".to_vec()
        }
    };
    let word = |w: &str| w.as_bytes().to_vec();
    let mut cmd = match rng.gen_range(0..30) {
        0..=7 => {
            let push = ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"][rng.gen_range(0..4)];
            let mut c = vec![word(push), key(rng)];
            for _ in 0..rng.gen_range(1..6) {
                c.push(value(rng));
            }
            c
        }
        8..=10 => {
            let mut c = vec![word(if rng.gen() { "LPOP" } else { "RPOP" }), key(rng)];
            if rng.gen() {
                c.push(rng.gen_range(-1..5i64).to_string().into_bytes());
            }
            c
        }
        11 => vec![word("LLEN"), key(rng)],
        12..=13 => vec![word("LRANGE"), key(rng), int(rng), int(rng)],
        14 => vec![word("LINDEX"), key(rng), int(rng)],
        15 => vec![word("LSET"), key(rng), int(rng), value(rng)],
        16 => {
            let place = if rng.gen() { "BEFORE" } else { "AFTER" };
            vec![
                word("LINSERT"),
                key(rng),
                word(place),
                value(rng),
                value(rng),
            ]
        }
        17 => vec![word("LREM"), key(rng), int(rng), value(rng)],
        18 => vec![word("LTRIM"), key(rng), int(rng), int(rng)],
        19..=21 => {
            let mut c = vec![word("LPOS"), key(rng), value(rng)];
            for opt in ["RANK", "COUNT", "MAXLEN"] {
                if rng.gen_range(0..3) == 0 {
                    c.push(word(opt));
                    c.push(int(rng));
                }
            }
            c
        }
        22..=24 => vec![word("LMOVE"), key(rng), key(rng), side(rng), side(rng)],
        25 => vec![word("RPOPLPUSH"), key(rng), key(rng)],
        _ => {
            let n = rng.gen_range(1..4);
            let mut c = vec![word("LMPOP"), n.to_string().into_bytes()];
            for _ in 0..n {
                c.push(key(rng));
            }
            c.push(side(rng));
            if rng.gen() {
                c.push(word("COUNT"));
                c.push(rng.gen_range(0..5i64).to_string().into_bytes());
            }
            c
        }
    };
    if rng.gen_range(0..40) == 0 {
        cmd.push(word("extra"));
    }
    cmd
}

/// Seeded random operation sequences, each under its own node size, with
/// every reply compared byte for byte and the lists compared at the end.
#[test]
fn random_operations_match_redis() {
    let Some(mut p) = Pair::new() else { return };
    for (seed, fill) in [(1, "-2"), (2, "1"), (3, "3"), (4, "-1"), (5, "2")] {
        p.check(&["FLUSHALL"]);
        p.check(&["CONFIG", "SET", "list-max-listpack-size", fill]);
        p.check(&["SET", "s", "string"]);
        if seed % 2 == 1 {
            p.send(&["HELLO", "3"]);
        } else {
            p.send(&["HELLO", "2"]);
        }
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..400 {
            let cmd = random_command(&mut rng);
            let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
            p.check_bytes(&args);
        }
        for key in ["a", "b", "c"] {
            p.check(&["LRANGE", key, "0", "-1"]);
        }
    }
}
