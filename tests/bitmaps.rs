//! Bitmap commands (bitops.c), compared byte for byte with redis-server:
//! SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

mod support;

use support::{differential, differential_resp3, Pair, Rng};

#[test]
fn setbit_and_getbit() {
    differential(&[
        &["setbit", "b", "7", "1"],
        &["get", "b"],
        &["object", "encoding", "b"],
        &["setbit", "b", "7", "1"],
        &["setbit", "b", "7", "0"],
        &["setbit", "b", "100", "1"],
        &["strlen", "b"],
        &["getbit", "b", "100"],
        &["getbit", "b", "99"],
        &["getbit", "b", "100000"],
        &["getbit", "nokey", "0"],
        &["get", "b"],
        // Errors: offset, then value, then type.
        &["setbit", "b", "-1", "1"],
        &["setbit", "b", "x", "1"],
        &["setbit", "b", "4294967296", "1"],
        &["setbit", "b", "1", "2"],
        &["setbit", "b", "1", "-1"],
        &["setbit", "b", "1", "x"],
        &["getbit", "b", "-1"],
        &["getbit", "b", "4294967296"],
        &["getbit", "b", "4294967295"],
        &["lpush", "l", "a"],
        &["setbit", "l", "0", "1"],
        &["getbit", "l", "0"],
        &["setbit", "l", "-5", "1"],
        // Ints and embstrs are read as their text, then become raw.
        &["set", "n", "12"],
        &["getbit", "n", "2"],
        &["getbit", "n", "3"],
        &["object", "encoding", "n"],
        &["setbit", "n", "3", "1"],
        &["object", "encoding", "n"],
        &["get", "n"],
        &["set", "e", "hello"],
        &["setbit", "e", "0", "0"],
        &["object", "encoding", "e"],
        &["setbit", "b"],
        &["getbit", "b"],
    ]);
}

/// `rdb_changes_since_last_save` (Redis's `server.dirty`) grows as in Redis:
/// by one per changed bit or field, per raised register, not at all for a
/// write that changed nothing.
#[test]
fn changes_are_counted_as_redis_counts_them() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    for args in [
        &["setbit", "k", "3", "1"][..],
        &["setbit", "k", "3", "1"],
        &["setbit", "k", "3", "0"],
        &["setbit", "k", "3", "0"],
        &["setbit", "k", "20", "0"],
        &[
            "bitfield", "k", "set", "u8", "0", "1", "set", "u8", "8", "1", "get", "u8", "0",
        ],
        &[
            "bitfield", "k", "set", "u8", "0", "1", "set", "u8", "8", "2",
        ],
        &[
            "bitfield", "k2", "set", "u8", "0", "0", "set", "u8", "8", "0",
        ],
        &[
            "bitfield", "k3", "overflow", "fail", "incrby", "u2", "0", "9",
        ],
        &["bitop", "or", "k4", "k", "k2"],
        &["bitop", "or", "k4", "nokey"],
        &["bitop", "or", "k4", "nokey"],
        &["pfadd", "h", "a", "b", "c", "d"],
        &["pfadd", "h", "a", "b", "e"],
        &["pfadd", "h2"],
        &["pfcount", "h"],
        &["pfcount", "h"],
        &["pfmerge", "h3", "h", "h2"],
        &["pfdebug", "todense", "h3"],
        &["pfdebug", "getreg", "h"],
    ] {
        pair.check(args);
        let want = changes(&pair.want.cmd_str(&["info", "persistence"]));
        let got = changes(&pair.got.cmd_str(&["info", "persistence"]));
        assert_eq!(got, want, "rdb_changes_since_last_save after {args:?}");
    }
}

/// `rdb_changes_since_last_save` from INFO persistence.
fn changes(info: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .unwrap_or("?")
        .to_string()
}

#[test]
fn bitcount_ranges_in_bytes_and_bits() {
    differential(&[
        &["set", "s", "foobar"],
        &["bitcount", "s"],
        &["bitcount", "s", "0", "0"],
        &["bitcount", "s", "1", "1"],
        &["bitcount", "s", "1", "1", "byte"],
        &["bitcount", "s", "5", "30", "bit"],
        &["bitcount", "s", "5", "30", "BIT"],
        &["bitcount", "s", "0", "-1", "bit"],
        &["bitcount", "s", "-5", "-1", "bit"],
        &["bitcount", "s", "-2", "-1"],
        &["bitcount", "s", "-100", "100"],
        &["bitcount", "s", "3", "1"],
        &["bitcount", "s", "7", "7", "bit"],
        &["bitcount", "s", "8", "15", "bit"],
        &["bitcount", "s", "1", "6", "bit"],
        &["bitcount", "s", "-1", "-5"],
        &["bitcount", "s", "-1", "-5", "nonsense"],
        &["bitcount", "s", "0"],
        &["bitcount", "s", "0", "1", "bits"],
        &["bitcount", "s", "0", "1", "bit", "extra"],
        &["bitcount", "s", "x", "1"],
        &["bitcount", "s", "0", "y"],
        &["bitcount", "nokey", "x"],
        &["bitcount", "nokey", "0", "1", "nonsense"],
        &["set", "empty", ""],
        &["bitcount", "empty"],
        &["bitcount", "empty", "0", "-1", "bit"],
        &["set", "n", "-1234567"],
        &["bitcount", "n"],
        &["bitcount", "n", "1", "2"],
        &["lpush", "l", "a"],
        &["bitcount", "l"],
        &["bitcount"],
    ]);
}

#[test]
fn bitcount_of_every_length_and_range() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let data: Vec<u8> = (0..200u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for len in [0usize, 1, 7, 8, 9, 31, 32, 33, 100, 200] {
        pair.check_bytes(&[b"set", b"k", &data[..len]]);
        pair.check(&["bitcount", "k"]);
        for (a, b) in [(0, -1), (3, 70), (-9, -2), (1, 1), (17, 161)] {
            let (a, b) = (a.to_string(), b.to_string());
            pair.check(&["bitcount", "k", &a, &b]);
            pair.check(&["bitcount", "k", &a, &b, "bit"]);
        }
    }
}

#[test]
fn bitpos_with_byte_and_bit_ranges() {
    differential(&[
        &["bitpos", "nokey", "1"],
        &["bitpos", "nokey", "0"],
        &["bitpos", "nokey", "0", "5", "10", "bit"],
        &["bitpos", "nokey", "2"],
        &["setbit", "k", "0", "1"],
        &["bitpos", "k", "2"],
        &["bitpos", "k", "x"],
        &["set", "k", "\u{ff}\u{f0}\u{00}"],
        &["bitpos", "k", "0"],
        &["bitpos", "k", "1"],
        &["set", "ones", "\u{7f}"],
        &["append", "z", "\x00\x00\x00"],
        &["bitpos", "z", "1"],
        &["bitpos", "z", "0"],
        &["bitpos", "z", "0", "1"],
        &["bitpos", "z", "0", "1", "1"],
        &["bitpos", "z", "0", "-1", "-1", "bit"],
        &["bitpos", "z", "1", "3"],
        &["bitpos", "z", "0", "3"],
        &["bitpos", "z", "1", "2", "1"],
        &["bitpos", "z", "0", "0", "-1", "bit"],
        &["bitpos", "z", "0", "0", "-1", "BYTE"],
        &["bitpos", "z", "0", "0", "-1", "nonsense"],
        &["bitpos", "z", "0", "x"],
        &["bitpos", "z", "0", "0", "y"],
        &["bitpos", "z", "0", "0", "1", "bit", "extra"],
        &["set", "f", "\u{7f}"],
        &["bitpos", "f", "0"],
        &["bitpos", "f", "1"],
        &["lpush", "l", "a"],
        &["bitpos", "l", "1"],
        &["set", "n", "255"],
        &["bitpos", "n", "1"],
        &["bitpos", "n", "0", "1", "-1"],
    ]);
}

/// Every bit range over strings with runs of ones and zeros, both bits,
/// with and without an end.
#[test]
fn bitpos_over_ranges_agrees_everywhere() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let patterns: [&[u8]; 5] = [
        &[0xff; 20],
        &[0x00; 20],
        &[
            0xff, 0xff, 0x0f, 0xff, 0x00, 0x00, 0x01, 0x80, 0xff, 0xff, 0xff, 0xff, 0xfe,
        ],
        &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10],
        &[0xf0],
    ];
    for pattern in patterns {
        pair.check_bytes(&[b"set", b"k", pattern]);
        let bits = pattern.len() as i64 * 8;
        for bit in ["0", "1"] {
            pair.check(&["bitpos", "k", bit]);
            for start in [0, 1, 3, 7, 8, 9, 15, 17, -1, -9, bits - 1] {
                let s = start.to_string();
                pair.check(&["bitpos", "k", bit, &s]);
                for end in [0, 2, 7, 8, 16, 30, -1, -3, bits + 5] {
                    let e = end.to_string();
                    pair.check(&["bitpos", "k", bit, &s, &e]);
                    pair.check(&["bitpos", "k", bit, &s, &e, "bit"]);
                }
            }
        }
    }
}

#[test]
fn bitop_and_or_xor_not() {
    differential(&[
        &["set", "a", "foobar"],
        &["set", "b", "abcdefghij"],
        &["set", "c", "\u{00}\u{ff}"],
        &["bitop", "and", "d", "a", "b"],
        &["get", "d"],
        &["bitop", "OR", "d", "a", "b", "c"],
        &["get", "d"],
        &["bitop", "xor", "d", "a", "b", "nokey"],
        &["get", "d"],
        &["bitop", "and", "d", "a", "nokey"],
        &["get", "d"],
        &["bitop", "not", "d", "a"],
        &["get", "d"],
        &["object", "encoding", "d"],
        &["bitop", "not", "d", "a", "b"],
        &["bitop", "nand", "d", "a"],
        &["bitop", "and", "d"],
        &["set", "n", "42"],
        &["bitop", "or", "d", "n", "a"],
        &["get", "d"],
        // An empty result deletes the destination.
        &["expire", "d", "100"],
        &["bitop", "or", "d", "a"],
        &["ttl", "d"],
        &["bitop", "and", "d", "nokey", "nokey2"],
        &["exists", "d"],
        &["set", "empty", ""],
        &["set", "d", "x"],
        &["bitop", "or", "d", "empty"],
        &["exists", "d"],
        &["lpush", "l", "x"],
        &["bitop", "and", "d", "a", "l"],
        &["bitop", "and", "l", "a"],
        &["type", "l"],
    ]);
}

/// Long sources take the word-at-a-time paths; lengths around them and
/// many sources check the tails.
#[test]
fn bitop_on_long_strings() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let data: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2246822519) >> 11) as u8)
        .collect();
    let lens = [33usize, 64, 65, 100, 257, 300];
    for (i, len) in lens.iter().enumerate() {
        let key = format!("s{i}");
        pair.check_bytes(&[b"set", key.as_bytes(), &data[i * 3..(i * 3 + len).min(300)]]);
    }
    for op in ["and", "or", "xor"] {
        pair.check(&["bitop", op, "d", "s0", "s1"]);
        pair.check(&["get", "d"]);
        pair.check(&["bitop", op, "d", "s5", "s4", "s3", "s2", "s1", "s0"]);
        pair.check(&["get", "d"]);
    }
    pair.check(&["bitop", "not", "d", "s5"]);
    pair.check(&["get", "d"]);
}

#[test]
fn bitfield_get_set_incrby() {
    differential(&[
        &[
            "bitfield", "bf", "set", "i8", "0", "-100", "get", "i8", "0", "get", "u8", "0",
        ],
        &["get", "bf"],
        &[
            "bitfield", "bf", "incrby", "u2", "100", "1", "overflow", "sat", "incrby", "u2", "102",
            "1",
        ],
        &[
            "bitfield", "bf", "set", "u8", "#1", "255", "get", "u8", "8", "get", "i4", "#3",
        ],
        &[
            "bitfield", "bf", "get", "i64", "0", "get", "u63", "1", "get", "u1", "1000",
        ],
        &["bitfield", "bf", "set", "i64", "64", "-9223372036854775808"],
        &["bitfield", "bf", "incrby", "i64", "64", "-1"],
        &[
            "bitfield", "bf", "overflow", "sat", "incrby", "i64", "64", "-1",
        ],
        &[
            "bitfield", "bf", "overflow", "fail", "incrby", "i64", "64", "-1",
        ],
        &[
            "bitfield",
            "bf",
            "overflow",
            "wrap",
            "incrby",
            "i64",
            "64",
            "9223372036854775807",
        ],
        &[
            "bitfield",
            "bf",
            "incrby",
            "u63",
            "200",
            "9223372036854775807",
        ],
        &["bitfield", "bf", "incrby", "u63", "200", "1"],
        &[
            "bitfield", "bf", "overflow", "fail", "incrby", "u63", "200", "1",
        ],
        &[
            "bitfield", "bf", "overflow", "sat", "set", "u8", "0", "300", "set", "i8", "0", "300",
            "set", "u8", "0", "-1", "set", "i8", "0", "-300",
        ],
        &[
            "bitfield", "bf", "overflow", "wrap", "set", "u8", "0", "300", "set", "i8", "0", "300",
            "set", "u8", "0", "-1", "set", "i8", "0", "-300",
        ],
        &[
            "bitfield", "bf", "overflow", "fail", "set", "u8", "0", "300", "set", "i8", "0",
            "-300", "set", "i8", "0", "7",
        ],
        &[
            "bitfield", "bf", "incrby", "i5", "3", "100", "incrby", "i5", "3", "-100", "incrby",
            "u5", "3", "-100",
        ],
        &[
            "bitfield", "bf", "overflow", "sat", "incrby", "i5", "3", "100", "incrby", "i5", "3",
            "-100", "incrby", "u5", "3", "-100",
        ],
        &["get", "bf"],
        &["bitfield", "bf"],
        &["bitfield", "bf", "overflow", "sat"],
        &["bitfield", "nokey"],
        &["bitfield", "nokey", "get", "u8", "0"],
        &["exists", "nokey"],
        &["bitfield_ro", "bf", "get", "u8", "0", "get", "i3", "#2"],
        &["bitfield_ro", "bf", "overflow", "fail", "get", "u8", "0"],
        &["bitfield_ro", "bf", "set", "u8", "0", "1"],
        &[
            "bitfield_ro",
            "bf",
            "get",
            "u8",
            "0",
            "incrby",
            "u8",
            "0",
            "1",
        ],
        &["bitfield_ro", "nokey", "get", "u8", "0"],
    ]);
}

#[test]
fn bitfield_errors() {
    differential(&[
        &["bitfield", "k", "get", "u64", "0"],
        &["bitfield", "k", "get", "i65", "0"],
        &["bitfield", "k", "get", "i0", "0"],
        &["bitfield", "k", "get", "x8", "0"],
        &["bitfield", "k", "get", "", "0"],
        &["bitfield", "k", "get", "u8", "-1"],
        &["bitfield", "k", "get", "u8", "x"],
        &["bitfield", "k", "get", "u8", "#-1"],
        &["bitfield", "k", "get", "u8", "##1"],
        &["bitfield", "k", "get", "u8", "4294967296"],
        &["bitfield", "k", "get", "u8", "4294967288"],
        &["bitfield", "k", "get", "u8", "#536870912"],
        &["bitfield", "k", "get", "i64", "#1152921504606846976"],
        &["bitfield", "k", "set", "u8", "0", "x"],
        &["bitfield", "k", "set", "u8", "0"],
        &["bitfield", "k", "get", "u8"],
        &["bitfield", "k", "incrby", "u8", "0"],
        &["bitfield", "k", "overflow"],
        &["bitfield", "k", "overflow", "nope", "get", "u8", "0"],
        &["bitfield", "k", "nope"],
        &["bitfield", "k", "get", "u8", "0", "nope"],
        &["bitfield_ro", "k", "nope"],
        &["exists", "k"],
        &["lpush", "l", "a"],
        &["bitfield", "l", "get", "u8", "0"],
        &["bitfield", "l", "set", "u8", "0", "1"],
        &["bitfield_ro", "l", "get", "u8", "0"],
        &["bitfield", "l"],
        &["bitfield"],
        // A write that only fails still creates the key, as in Redis.
        &[
            "bitfield", "f", "overflow", "fail", "incrby", "u2", "0", "5",
        ],
        &["exists", "f"],
        &["get", "f"],
    ]);
}

/// BITFIELD's key is read-only or read-write by its operations (Redis's
/// `bitfieldGetKeys`), which COMMAND GETKEYSANDFLAGS shows.
#[test]
fn bitfield_key_flags_follow_the_operations() {
    differential(&[
        &[
            "command",
            "getkeysandflags",
            "bitfield",
            "k",
            "get",
            "u8",
            "0",
        ],
        &[
            "command",
            "getkeysandflags",
            "bitfield",
            "k",
            "overflow",
            "sat",
            "get",
            "u8",
            "0",
        ],
        &[
            "command",
            "getkeysandflags",
            "bitfield",
            "k",
            "get",
            "u8",
            "0",
            "set",
            "u8",
            "0",
            "1",
        ],
        &[
            "command",
            "getkeysandflags",
            "bitfield",
            "k",
            "incrby",
            "u8",
            "0",
            "1",
        ],
        &["command", "getkeysandflags", "bitfield", "k", "bogus"],
        &["command", "getkeysandflags", "bitfield", "k"],
        &[
            "command",
            "getkeysandflags",
            "bitfield_ro",
            "k",
            "get",
            "u8",
            "0",
        ],
        &["command", "getkeys", "bitfield", "k", "set", "u8", "0", "1"],
    ]);
}

/// Random BITFIELD operations of every type, offset form, overflow mode
/// and value range, on one string, its bytes compared after each.
#[test]
fn random_bitfield_operations_agree() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let values = [
        "0",
        "1",
        "-1",
        "127",
        "-128",
        "255",
        "9223372036854775807",
        "-9223372036854775808",
        "4611686018427387904",
        "1000",
        "-1000",
    ];
    for _ in 0..400 {
        let mut args: Vec<String> = vec!["bitfield".into(), "f".into()];
        for _ in 0..1 + rng.below(4) {
            if rng.below(4) == 0 {
                args.push("overflow".into());
                args.push(rng.pick(&["wrap", "sat", "fail"]).into());
            }
            let signed = rng.below(2) == 0;
            let bits = 1 + rng.below(if signed { 64 } else { 63 });
            let ty = format!("{}{bits}", if signed { "i" } else { "u" });
            let offset = if rng.below(3) == 0 {
                format!("#{}", rng.below(8))
            } else {
                rng.below(200).to_string()
            };
            match rng.below(3) {
                0 => args.extend(["get".into(), ty, offset]),
                1 => args.extend(["set".into(), ty, offset, rng.pick(&values).into()]),
                _ => args.extend(["incrby".into(), ty, offset, rng.pick(&values).into()]),
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        pair.check(&args);
        pair.check(&["get", "f"]);
    }
}

/// Random SETBITs, each followed by BITCOUNT and BITPOS over random ranges.
#[test]
fn random_bit_writes_and_reads_agree() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..300 {
        let offset = rng.below(700).to_string();
        let bit = rng.below(2).to_string();
        pair.check(&["setbit", "r", &offset, &bit]);
        let start = (rng.below(200) as i64 - 100).to_string();
        let end = (rng.below(800) as i64 - 100).to_string();
        let unit = rng.pick(&["bit", "byte"]);
        pair.check(&["bitcount", "r", &start, &end, unit]);
        pair.check(&["bitpos", "r", &bit, &start, &end, unit]);
        pair.check(&["bitpos", "r", &bit, &start]);
    }
    pair.check(&["get", "r"]);
}

/// Keyspace hits and misses: reads count (GETBIT, BITCOUNT, BITPOS,
/// BITOP's sources, read-only BITFIELD, PFCOUNT, PFMERGE's sources), writes
/// do not (SETBIT, writing BITFIELD, PFADD, PFMERGE's destination, PFDEBUG).
#[test]
fn keyspace_hits_and_misses_as_redis() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    for args in [
        &["setbit", "b", "1", "1"][..],
        &["setbit", "nob", "1", "0"],
        &["getbit", "b", "1"],
        &["getbit", "nob2", "1"],
        &["bitcount", "b"],
        &["bitcount", "nob2"],
        &["bitpos", "b", "1"],
        &["bitpos", "nob2", "1"],
        &["bitop", "or", "d", "b", "nob2", "nob3"],
        &["bitfield", "b", "get", "u8", "0"],
        &["bitfield", "nob2", "get", "u8", "0"],
        &["bitfield", "b", "set", "u8", "0", "1"],
        &["bitfield", "nob4", "set", "u8", "0", "1"],
        &["bitfield_ro", "nob2", "get", "u8", "0"],
        &["pfadd", "h", "a"],
        &["pfadd", "noh", "a"],
        &["pfcount", "h"],
        &["pfcount", "noh2"],
        &["pfcount", "h", "noh2", "noh3"],
        &["pfmerge", "noh4", "h", "noh5"],
        &["pfdebug", "encoding", "h"],
        &["pfdebug", "encoding", "noh6"],
    ] {
        pair.check(args);
        let (want, got) = pair.send(&["info", "stats"]);
        let field = |info: &str, name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or("?")
                .to_string()
        };
        for name in ["keyspace_hits:", "keyspace_misses:"] {
            assert_eq!(
                field(&got, name),
                field(&want, name),
                "{name} after {args:?}"
            );
        }
    }
}

/// RESP3: BITFIELD's FAIL is a RESP3 null inside its array.
#[test]
fn resp3_replies() {
    differential_resp3(&[
        &[
            "bitfield", "f", "overflow", "fail", "set", "u2", "0", "9", "get", "u2", "0",
        ],
        &["setbit", "f", "1", "1"],
        &["bitcount", "f"],
        &["bitpos", "f", "1"],
        &["pfadd", "h", "a"],
        &["pfcount", "h"],
        &["pfdebug", "encoding", "h"],
        &["pfdebug", "decode", "h"],
    ]);
}

/// The offset limit follows `proto-max-bulk-len`, for SETBIT, GETBIT and
/// BITFIELD alike.
#[test]
fn offsets_are_limited_by_proto_max_bulk_len() {
    differential(&[
        &["config", "set", "proto-max-bulk-len", "1048576"],
        &["setbit", "k", "8388608", "1"],
        &["setbit", "k", "8388607", "1"],
        &["strlen", "k"],
        &["getbit", "k", "8388608"],
        &["bitfield", "k", "get", "u8", "8388608"],
        &["bitfield", "k", "set", "u8", "8388600", "1"],
        &["bitfield", "k", "set", "u8", "#1048575", "1"],
        &["bitfield", "k", "set", "u8", "#1048576", "1"],
        &["strlen", "k"],
    ]);
}
