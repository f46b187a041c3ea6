//! HyperLogLog commands (hyperloglog.c), compared byte for byte with
//! redis-server: the stored strings (GET) after every kind of change, sparse
//! and dense, the estimates, PFMERGE, PFDEBUG, and the errors.

mod support;

use support::{differential, Pair};

/// `n` elements named `<prefix><i>`, as PFADD arguments.
fn elements(prefix: &str, from: usize, n: usize) -> Vec<String> {
    (from..from + n).map(|i| format!("{prefix}{i}")).collect()
}

/// PFADD of `items` to `key`, checked on both servers.
fn pfadd(pair: &mut Pair, key: &str, items: &[String]) {
    let mut args = vec!["pfadd", key];
    args.extend(items.iter().map(String::as_str));
    pair.check(&args);
}

#[test]
fn pfadd_and_pfcount_basics() {
    differential(&[
        &["pfadd", "h"],
        &["get", "h"],
        &["pfcount", "h"],
        &["get", "h"],
        &["pfadd", "h", "a", "b", "c"],
        &["get", "h"],
        &["pfadd", "h", "a"],
        &["pfcount", "h"],
        &["get", "h"],
        &["pfcount", "h"],
        &["object", "encoding", "h"],
        &["pfcount", "nokey"],
        &["pfcount", "h", "nokey"],
        &["pfadd", "h", ""],
        &["pfcount", "h"],
        &["pfdebug", "encoding", "h"],
        &["pfdebug", "decode", "h"],
        &["pfadd"],
        &["pfcount"],
    ]);
}

/// The sparse string, opcode by opcode, as elements fill it: runs split,
/// VALs merge, and it turns dense at `hll-sparse-max-bytes` or a register
/// above 32.
#[test]
fn sparse_strings_are_byte_identical_until_they_turn_dense() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    for i in 0..300 {
        pfadd(&mut pair, "h", &elements("e", i * 7, 7));
        pair.check(&["get", "h"]);
        if i % 10 == 0 {
            pair.check(&["pfcount", "h"]);
            pair.check(&["get", "h"]);
            pair.check(&["pfdebug", "encoding", "h"]);
        }
    }
    pair.check(&["pfdebug", "encoding", "h"]);
    pair.check(&["pfcount", "h"]);
    pair.check(&["get", "h"]);
}

#[test]
fn a_smaller_sparse_limit_promotes_sooner() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    pair.check(&["config", "set", "hll-sparse-max-bytes", "60"]);
    for i in 0..20 {
        pfadd(&mut pair, "h", &elements("x", i * 3, 3));
        pair.check(&["get", "h"]);
        pair.check(&["pfdebug", "encoding", "h"]);
    }
    pair.check(&["config", "set", "hll-sparse-max-bytes", "0"]);
    pair.check(&["pfadd", "z", "a"]);
    pair.check(&["pfadd", "z", "b"]);
    pair.check(&["pfdebug", "encoding", "z"]);
}

/// Estimates over many cardinalities, sparse and dense, single and union.
#[test]
fn estimates_match_for_big_sets_and_unions() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let mut added = 0;
    for batch in [1, 10, 100, 1000, 5000, 20000, 50000] {
        let items = elements("big", added, batch);
        for chunk in items.chunks(500) {
            pfadd(&mut pair, "big", chunk);
        }
        added += batch;
        pair.check(&["pfcount", "big"]);
        pair.check(&["get", "big"]);
    }
    for k in 0..5 {
        let key = format!("u{k}");
        let items = elements("u", k * 3000, 4000);
        for chunk in items.chunks(500) {
            pfadd(&mut pair, &key, chunk);
        }
    }
    pfadd(&mut pair, "small", &elements("u", 100, 20));
    pair.check(&["pfcount", "u0", "u1", "u2", "u3", "u4"]);
    pair.check(&["pfcount", "u0", "small", "nokey"]);
    pair.check(&["pfcount", "small", "nokey"]);
    pair.check(&["pfcount", "big", "u0", "u1"]);
}

#[test]
fn pfmerge_into_new_existing_sparse_and_dense() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    pfadd(&mut pair, "s1", &elements("a", 0, 50));
    pfadd(&mut pair, "s2", &elements("a", 25, 50));
    pfadd(&mut pair, "d1", &elements("b", 0, 3000));
    for script in [
        &["pfmerge", "m1", "s1", "s2"][..],
        &["get", "m1"],
        &["pfcount", "m1"],
        &["get", "m1"],
        &["pfmerge", "s1", "s2"],
        &["get", "s1"],
        &["pfmerge", "m2", "s1", "d1"],
        &["get", "m2"],
        &["pfdebug", "encoding", "m2"],
        &["pfmerge", "m3"],
        &["get", "m3"],
        &["pfmerge", "m4", "nokey"],
        &["get", "m4"],
        &["pfmerge", "d1", "s2", "nokey"],
        &["get", "d1"],
        &["pfcount", "d1"],
        &["set", "str", "hello"],
        &["pfmerge", "m5", "s1", "str"],
        &["exists", "m5"],
        &["pfmerge", "str", "s1"],
        &["lpush", "l", "x"],
        &["pfmerge", "m5", "l"],
        &["pfmerge", "l", "s1"],
        &["pfmerge"],
    ] {
        pair.check(script);
    }
}

#[test]
fn pfdebug_subcommands() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    pfadd(&mut pair, "h", &elements("r", 0, 40));
    for script in [
        &["pfdebug", "decode", "h"][..],
        &["pfdebug", "encoding", "h"],
        &["pfdebug", "ENCODING", "h"],
        &["pfdebug", "getreg", "h"],
        &["pfdebug", "encoding", "h"],
        &["get", "h"],
        &["pfdebug", "decode", "h"],
        &["pfdebug", "todense", "h"],
        &["pfadd", "h2", "x"],
        &["pfdebug", "todense", "h2"],
        &["get", "h2"],
        &["pfdebug", "todense", "h2"],
        &["pfdebug", "nosuch", "h2"],
        &["pfdebug", "nosuch", "nokey"],
        &["pfdebug", "getreg", "nokey"],
        &["set", "str", "x"],
        &["pfdebug", "encoding", "str"],
        &["pfdebug", "getreg"],
        &["pfdebug", "getreg", "h", "extra"],
        &["pfselftest", "extra"],
    ] {
        pair.check(script);
    }
}

/// Strings that are not HyperLogLogs, and HyperLogLogs whose sparse
/// opcodes do not add up.
#[test]
fn invalid_and_corrupted_values() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let header = |encoding: u8| {
        let mut h = b"HYLL".to_vec();
        h.push(encoding);
        h.extend_from_slice(&[0; 11]);
        h
    };
    // An XZERO of 16384 registers: a valid empty sparse HLL.
    let mut valid = header(1);
    valid.extend_from_slice(&[0x7f, 0xff]);
    // Runs of 16384 + 64 registers.
    let mut too_long = valid.clone();
    too_long.push(0x3f);
    // Runs of only 100 registers.
    let mut too_short = header(1);
    too_short.push(0x40);
    too_short.push(99);
    // A VAL run past the last register.
    let mut val_over = header(1);
    val_over.extend_from_slice(&[0x7f, 0xfe, 0x83]);
    // An XZERO cut off by the end of the string.
    let mut cut = header(1);
    cut.extend_from_slice(&[0x40, 0xff, 0x7f]);
    let dense_short = header(0);
    let mut bad_encoding = header(2);
    bad_encoding.extend_from_slice(&[0x7f, 0xff]);
    let mut bad_magic = valid.clone();
    bad_magic[0] = b'h';
    let cases: [(&str, &[u8]); 8] = [
        ("valid", &valid),
        ("too_long", &too_long),
        ("too_short", &too_short),
        ("val_over", &val_over),
        ("cut", &cut),
        ("dense_short", &dense_short),
        ("bad_encoding", &bad_encoding),
        ("bad_magic", &bad_magic),
    ];
    for (key, value) in cases {
        for cmd in [
            &["pfcount", key][..],
            &["pfadd", key, "a", "b", "c"],
            &["pfadd", key, "x"],
            &["pfcount", key, "nokey"],
            &["pfmerge", "dest", key],
            &["pfdebug", "getreg", key],
            &["pfdebug", "decode", key],
            &["pfdebug", "todense", key],
        ] {
            pair.check_bytes(&[b"set", key.as_bytes(), value]);
            pair.check(cmd);
            pair.check(&["get", key]);
            pair.check(&["object", "encoding", key]);
        }
    }
    for cmd in [
        &["set", "n", "123"][..],
        &["pfadd", "n", "a"],
        &["pfcount", "n"],
        &["set", "short", "HYLL"],
        &["pfadd", "short", "a"],
        &["lpush", "l", "a"],
        &["pfadd", "l", "a"],
        &["pfcount", "l"],
        &["pfcount", "l", "n"],
        &["pfdebug", "encoding", "l"],
    ] {
        pair.check(cmd);
    }
}

#[test]
fn pfselftest_passes() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    pair.check(&["pfselftest"]);
}

/// Random PFADDs and PFMERGEs over a few keys, at a few sparse limits: the
/// stored strings and the estimates must stay Redis's after each step.
#[test]
fn random_adds_and_merges_agree() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    for limit in ["3000", "200", "9000"] {
        pair.check(&["flushall"]);
        pair.check(&["config", "set", "hll-sparse-max-bytes", limit]);
        for _ in 0..150 {
            let key = format!("h{}", next(4));
            match next(6) {
                0 => {
                    let a = format!("h{}", next(4));
                    let b = format!("h{}", next(4));
                    pair.check(&["pfmerge", &key, &a, &b]);
                }
                1 => {
                    pair.check(&["pfcount", &key]);
                }
                _ => {
                    let n = 1 + next(40) as usize;
                    let from = next(5000) as usize;
                    pfadd(&mut pair, &key, &elements("r", from, n));
                }
            }
            pair.check(&["get", &key]);
        }
        pair.check(&["pfcount", "h0", "h1", "h2", "h3"]);
    }
}

/// WATCH hears of a change only when Redis signals one: a PFADD that raised
/// nothing or a PFCOUNT answered from the cache leaves a transaction alone,
/// a PFCOUNT writing its cache aborts it, as do SETBIT and BITFIELD changes.
#[test]
fn watch_sees_only_real_changes() {
    let mut script: Vec<Vec<&str>> = vec![vec!["pfadd", "h", "a"], vec!["setbit", "b", "3", "1"]];
    for change in [
        &["pfadd", "h", "a"][..],
        &["pfcount", "h"],
        &["pfcount", "h"],
        &["pfadd", "h", "zz"],
        &["setbit", "b", "3", "1"],
        &["setbit", "b", "3", "0"],
        &["bitfield", "b", "set", "u8", "0", "0"],
        &["bitfield", "b", "set", "u8", "0", "5"],
        &["bitfield", "b", "get", "u8", "0"],
        &["pfdebug", "encoding", "h"],
        &["pfdebug", "todense", "h"],
        // A key created by a BITFIELD whose writes all failed is not signalled.
        &[
            "bitfield", "f", "overflow", "fail", "incrby", "u2", "0", "9",
        ],
        &[
            "bitfield", "g", "overflow", "fail", "incrby", "u2", "0", "1",
        ],
    ] {
        let key = if change[0] == "pfdebug" {
            change[2]
        } else {
            change[1]
        };
        script.push(vec!["watch", key]);
        script.push(change.to_vec());
        script.push(vec!["multi"]);
        script.push(vec!["ping"]);
        script.push(vec!["exec"]);
    }
    let script: Vec<&[&str]> = script.iter().map(Vec::as_slice).collect();
    differential(&script);
}
