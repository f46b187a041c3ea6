//! String commands (t_string.c), compared byte for byte with redis-server.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{differential, Pair, Server};

fn pause(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[test]
fn get_and_set_basics() {
    let long = "x".repeat(100);
    differential(&[
        &["GET", "k"],
        &["SET", "k", "v"],
        &["GET", "k"],
        &["SET", "k", ""],
        &["GET", "k"],
        &["SET", "k", "12345"],
        &["GET", "k"],
        &["SET", "k", "-9223372036854775808"],
        &["GET", "k"],
        &["SET", "k", &long],
        &["GET", "k"],
        &["set", "K", "upper"],
        &["get", "K"],
        &["GET", "k"],
        &["SET", "k"],
        &["GET"],
        &["GET", "a", "b"],
    ]);
}

#[test]
fn set_nx_xx_get_combinations() {
    differential(&[
        &["SET", "k", "v", "XX"],
        &["GET", "k"],
        &["SET", "k", "v", "NX"],
        &["SET", "k", "w", "NX"],
        &["GET", "k"],
        &["SET", "k", "w", "XX"],
        &["GET", "k"],
        &["SET", "k", "x", "GET"],
        &["SET", "new", "x", "GET"],
        &["GET", "new"],
        &["SET", "k", "y", "NX", "GET"],
        &["GET", "k"],
        &["SET", "k2", "y", "NX", "GET"],
        &["GET", "k2"],
        &["SET", "k", "z", "XX", "GET"],
        &["GET", "k"],
        &["SET", "k3", "z", "XX", "GET"],
        &["GET", "k3"],
        &["SET", "k", "a", "get", "nx"],
        &["SET", "k", "b", "nX", "nx", "GET", "get"],
        &["SET", "k", "c", "xx", "XX"],
        &["GET", "k"],
        &["SET", "k", "d", "GET", "EX", "100"],
        &["SET", "k", "e", "GET", "KEEPTTL", "XX"],
        &["GET", "k"],
    ]);
}

#[test]
fn set_option_syntax_errors() {
    let mut script: Vec<Vec<&str>> = Vec::new();
    let bad: &[&[&str]] = &[
        &["NX", "XX"],
        &["XX", "NX"],
        &["EX"],
        &["PX"],
        &["EXAT"],
        &["PXAT"],
        &["EX", "10", "PX", "10"],
        &["PX", "10", "EX", "10"],
        &["EX", "10", "EXAT", "10"],
        &["EXAT", "10", "PXAT", "10"],
        &["PXAT", "10", "EX", "10"],
        &["KEEPTTL", "EX", "10"],
        &["EX", "10", "KEEPTTL"],
        &["PXAT", "10", "KEEPTTL"],
        &["PERSIST"],
        &["EX", "10", "EX"],
        &["FOO"],
        &["NXX"],
        &["GETT"],
        &["EX", "10", "10"],
        &["KEEPTTL", "PERSIST"],
        &["GET", "NX", "XX"],
    ];
    for opts in bad {
        let mut cmd = vec!["SET", "k", "v"];
        cmd.extend_from_slice(opts);
        script.push(cmd);
        script.push(vec!["GET", "k"]);
    }
    // A syntax error beats a bad expire value and WRONGTYPE-free GET alike.
    script.push(vec!["SET", "k", "v", "EX", "abc", "FOO"]);
    script.push(vec!["SET", "k", "v", "EX", "0", "NX", "XX"]);
    // Repeating an option is fine: the last value wins.
    script.push(vec!["SET", "k", "v", "EX", "10", "EX", "20"]);
    script.push(vec![
        "SET", "k", "v", "px", "10000", "PX", "20000", "KEEPTTL",
    ]);
    script.push(vec!["SET", "k", "v", "KEEPTTL", "keepttl"]);
    script.push(vec![
        "SET",
        "k",
        "v",
        "ExAt",
        "99999999999",
        "exat",
        "99999999998",
    ]);
    script.push(vec!["GET", "k"]);
    let refs: Vec<&[&str]> = script.iter().map(|c| c.as_slice()).collect();
    differential(&refs);
}

#[test]
fn options_match_like_c_strings() {
    // Redis compares options with C string functions, so a NUL ends them.
    let Some(mut p) = Pair::new() else { return };
    for args in [
        &[&b"SET"[..], b"k", b"v", b"nx\0junk"][..],
        &[b"SET", b"k", b"w", b"XX\0"],
        &[b"SET", b"k", b"x", b"KEEPTTL\0abc"],
        &[b"SET", b"k", b"y", b"ex\0", b"100"],
        &[b"SET", b"k", b"y", b"\0ex", b"100"],
        &[b"GETEX", b"k", b"persist\0a"],
        &[b"GET", b"k"],
        &[b"LCS", b"k", b"k", b"len\0x"],
        &[b"LCS", b"k", b"k", b"IDX\0", b"MINMATCHLEN\0?", b"1"],
        &[b"SET", b"k", b"z", b"N\0X"],
    ] {
        p.check_bytes(args);
    }
}

#[test]
fn expire_values_and_errors() {
    let far_s = (unix_ms() / 1000 + 100_000).to_string();
    let far_ms = (unix_ms() + 100_000_000).to_string();
    differential(&[
        &["SET", "k", "v", "EX", "0"],
        &["SET", "k", "v", "EX", "-1"],
        &["SET", "k", "v", "PX", "0"],
        &["SET", "k", "v", "PX", "-5"],
        &["SET", "k", "v", "EXAT", "0"],
        &["SET", "k", "v", "PXAT", "-1"],
        &["SET", "k", "v", "EX", "abc"],
        &["SET", "k", "v", "PX", "1.5"],
        &["SET", "k", "v", "EX", "9223372036854775808"],
        &["SET", "k", "v", "EX", "9223372036854775"],
        &["SET", "k", "v", "EX", "9223372036854776"],
        &["SET", "k", "v", "PX", "9223372036854775807"],
        &["SET", "k", "v", "EXAT", "9223372036854776"],
        &["GET", "k"],
        &["SET", "k", "v", "EXAT", "9223372036854775"],
        &["SET", "k", "v", "PXAT", "9223372036854775807"],
        &["SET", "k", "v", "EXAT", &far_s],
        &["SET", "k", "v", "PXAT", &far_ms],
        &["SET", "k", "v", "EX", "100"],
        &["SET", "k", "v", "PX", "100000"],
        &["GET", "k"],
        &["SETEX", "k", "0", "v"],
        &["SETEX", "k", "-10", "v"],
        &["SETEX", "k", "x", "v"],
        &["SETEX", "k", "9223372036854776", "v"],
        &["PSETEX", "k", "0", "v"],
        &["PSETEX", "k", "9223372036854775807", "v"],
        &["PSETEX", "k", "1.0", "v"],
        &["GET", "k"],
        &["SETEX", "k", "100", "w"],
        &["GET", "k"],
        &["PSETEX", "k", "100000", "x"],
        &["GET", "k"],
        &["SETEX", "k", "100"],
        &["PSETEX", "k", "100", "x", "y"],
        // SET with an expiry in the past stores a key that is already gone.
        &["SET", "past", "v", "EXAT", "1"],
        &["GET", "past"],
        &["SET", "past", "v", "PXAT", "1000", "GET"],
        &["EXISTS", "past"],
    ]);
}

#[test]
fn expiry_takes_effect() {
    let Some(mut p) = Pair::new() else { return };
    p.run(&[
        &["SET", "px", "v", "PX", "100"],
        &["PSETEX", "psetex", "100", "v"],
        &["SET", "keep", "v", "PX", "100"],
        &["SET", "keep", "v2", "KEEPTTL"],
        &["SET", "keep2", "v", "PX", "100"],
        &["SET", "keep2", "v2", "KEEPTTL", "GET", "XX"],
        &["SET", "cleared", "v", "PX", "100"],
        &["SET", "cleared", "v2"],
        &["SET", "getset", "v", "PX", "100"],
        &["GETSET", "getset", "v2"],
        &["SET", "mset", "v", "PX", "100"],
        &["MSET", "mset", "v2"],
        &["SET", "incr", "1", "PX", "100"],
        &["INCR", "incr"],
        &["SET", "incrbyfloat", "1", "PX", "100"],
        &["INCRBYFLOAT", "incrbyfloat", "1.5"],
        &["SET", "append", "a", "PX", "100"],
        &["APPEND", "append", "b"],
        &["SET", "setrange", "abc", "PX", "100"],
        &["SETRANGE", "setrange", "1", "x"],
        &["SET", "getex", "v"],
        &["GETEX", "getex", "PX", "100"],
        &["SET", "persist", "v", "PX", "100"],
        &["GETEX", "persist", "PERSIST"],
        &["SET", "plain", "v", "PX", "100"],
        &["GETEX", "plain"],
        &["SET", "nx", "v", "PX", "100"],
        &["SET", "nx", "v2", "NX"],
    ]);
    pause(150);
    p.run(&[
        &["GET", "px"],
        &["GET", "psetex"],
        &["GET", "keep"],
        &["GET", "keep2"],
        &["GET", "cleared"],
        &["GET", "getset"],
        &["GET", "mset"],
        &["GET", "incr"],
        &["GET", "incrbyfloat"],
        &["GET", "append"],
        &["GET", "setrange"],
        &["GET", "getex"],
        &["GET", "persist"],
        &["GET", "plain"],
        // An expired key is missing for every command.
        &["SET", "nx", "v3", "NX"],
        &["GET", "nx"],
        &["SET", "px", "v", "XX"],
        &["INCR", "incr"],
        &["APPEND", "append", "z"],
        &["STRLEN", "psetex"],
        &["GETRANGE", "psetex", "0", "-1"],
        &["MGET", "px", "psetex", "nx"],
    ]);
}

#[test]
fn getex_options_and_errors() {
    let past_s = "1";
    let past_ms = (unix_ms() - 1000).to_string();
    differential(&[
        &["GETEX", "missing"],
        &["GETEX", "missing", "EX", "-1"],
        &["GETEX", "missing", "EX", "abc"],
        &["GETEX", "missing", "FOO"],
        &["SET", "k", "v"],
        &["GETEX", "k"],
        &["GETEX", "k", "EX"],
        &["GETEX", "k", "EX", "10", "PX", "10"],
        &["GETEX", "k", "PERSIST", "EX", "10"],
        &["GETEX", "k", "EX", "10", "PERSIST"],
        &["GETEX", "k", "NX"],
        &["GETEX", "k", "XX"],
        &["GETEX", "k", "GET"],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "k", "EX", "abc"],
        &["GETEX", "k", "EX", "0"],
        &["GETEX", "k", "PX", "-1"],
        &["GETEX", "k", "EXAT", "0"],
        &["GETEX", "k", "EX", "9223372036854776"],
        &["GETEX", "k", "PX", "9223372036854775807"],
        &["GETEX", "k", "EX", "100"],
        &["GETEX", "k", "EX", "100", "EX", "200"],
        &["GETEX", "k", "PX", "100000"],
        &["GETEX", "k", "persist", "PERSIST"],
        &["GETEX", "k", "EXAT", "99999999999"],
        &["GETEX", "k", "PXAT", "99999999999999"],
        &["GET", "k"],
        &["GETEX", "k", "EXAT", past_s],
        &["GET", "k"],
        &["EXISTS", "k"],
        &["SET", "k", "v"],
        &["GETEX", "k", "PXAT", &past_ms],
        &["EXISTS", "k"],
        &["SET", "k", "12"],
        &["GETEX", "k", "PX", "100000"],
        &["GETEX"],
    ]);
}

#[test]
fn ttls_match_when_ttl_exists() {
    let Some(mut p) = Pair::new() else { return };
    if !p.supports(&["TTL", "probe"]) {
        return;
    }
    let far_ms = (unix_ms() + 100_000_250).to_string();
    p.run(&[
        &["SET", "ex", "v", "EX", "100"],
        &["TTL", "ex"],
        &["SET", "ex", "v", "KEEPTTL"],
        &["TTL", "ex"],
        &["SET", "ex", "v", "EX", "100", "GET"],
        &["SET", "ex", "v"],
        &["TTL", "ex"],
        &["SET", "pxat", "v", "PXAT", &far_ms],
        &["TTL", "pxat"],
        &["SETEX", "setex", "50", "v"],
        &["TTL", "setex"],
        &["PSETEX", "psetex", "50000", "v"],
        &["TTL", "psetex"],
        &["INCR", "setex"],
        &["TTL", "setex"],
        &["GETEX", "psetex", "EX", "70"],
        &["TTL", "psetex"],
        &["GETEX", "psetex", "PERSIST"],
        &["TTL", "psetex"],
        &["GETEX", "pxat", "PXAT", &far_ms],
        &["TTL", "pxat"],
        &["GETSET", "pxat", "x"],
        &["TTL", "pxat"],
        &["SET", "m", "v", "EX", "100"],
        &["MSET", "m", "w"],
        &["TTL", "m"],
        &["SET", "m", "1", "EX", "100"],
        &["INCRBYFLOAT", "m", "1"],
        &["APPEND", "m", "0"],
        &["SETRANGE", "m", "0", "3"],
        &["TTL", "m"],
        &["GET", "m"],
    ]);
}

#[test]
fn incr_and_decr() {
    differential(&[
        &["INCR", "n"],
        &["INCR", "n"],
        &["DECR", "n"],
        &["DECR", "n"],
        &["DECR", "n"],
        &["INCRBY", "n", "100"],
        &["INCRBY", "n", "-1000"],
        &["DECRBY", "n", "-5"],
        &["DECRBY", "n", "5"],
        &["DECRBY", "fresh", "7"],
        &["INCRBY", "n", "abc"],
        &["INCRBY", "n", "1.5"],
        &["INCRBY", "n", " 1"],
        &["INCRBY", "n", "+1"],
        &["INCRBY", "n", "9223372036854775808"],
        &["DECRBY", "n", "x"],
        &["DECRBY", "n", "-9223372036854775808"],
        &["GET", "n"],
        &["SET", "max", "9223372036854775807"],
        &["INCR", "max"],
        &["INCRBY", "max", "0"],
        &["DECR", "max"],
        &["INCRBY", "max", "2"],
        &["SET", "min", "-9223372036854775808"],
        &["DECR", "min"],
        &["DECRBY", "min", "1"],
        &["INCRBY", "min", "-1"],
        &["INCRBY", "min", "9223372036854775807"],
        &["GET", "min"],
        &["SET", "s", "abc"],
        &["INCR", "s"],
        &["SET", "s", " 1"],
        &["INCR", "s"],
        &["SET", "s", "01"],
        &["INCR", "s"],
        &["SET", "s", "1.0"],
        &["DECR", "s"],
        &["SET", "s", "-0"],
        &["INCR", "s"],
        &["SET", "s", ""],
        &["INCR", "s"],
        &["SET", "s", "9223372036854775808"],
        &["INCR", "s"],
        &["GET", "s"],
        &["SET", "s", "12"],
        &["APPEND", "s", "3"],
        &["INCR", "s"],
        &["GET", "s"],
        &["INCR"],
        &["INCRBY", "n"],
        &["DECR", "a", "b"],
    ]);
}

#[test]
fn incrbyfloat_matches_redis() {
    differential(&[
        &["INCRBYFLOAT", "f", "1"],
        &["INCRBYFLOAT", "f", "0.1"],
        &["INCRBYFLOAT", "f", "-1.1"],
        &["INCRBYFLOAT", "f", "1e3"],
        &["INCRBYFLOAT", "f", "5.0e3"],
        &["INCRBYFLOAT", "f", "0x10"],
        &["INCRBYFLOAT", "f", "-5e-20"],
        &["INCRBYFLOAT", "f", "abc"],
        &["INCRBYFLOAT", "f", ""],
        &["INCRBYFLOAT", "f", " 1"],
        &["INCRBYFLOAT", "f", "nan"],
        &["INCRBYFLOAT", "f", "inf"],
        &["INCRBYFLOAT", "f", "-inf"],
        &["INCRBYFLOAT", "f", "1e5000"],
        &["GET", "f"],
        &["SET", "i", "9223372036854775807"],
        &["INCRBYFLOAT", "i", "1"],
        &["SET", "i", "10.50"],
        &["INCRBYFLOAT", "i", "0.1"],
        &["SET", "i", "abc"],
        &["INCRBYFLOAT", "i", "1"],
        &["SET", "i", "1 "],
        &["INCRBYFLOAT", "i", "1"],
        &["SET", "i", "inf"],
        &["INCRBYFLOAT", "i", "1"],
        &[
            "INCRBYFLOAT",
            "big",
            "123456789012345678901234567890123456789012345",
        ],
        &["INCRBYFLOAT", "big", "1e300"],
        &["INCRBYFLOAT", "zero", "-0"],
        &["INCR", "f"],
        &["SET", "g", "3"],
        &["INCRBYFLOAT", "g", "0"],
        &["INCR", "g"],
        &["INCRBYFLOAT", "g"],
    ]);
}

#[test]
fn append_and_strlen() {
    let big = "y".repeat(50);
    differential(&[
        &["STRLEN", "a"],
        &["APPEND", "a", "hello"],
        &["APPEND", "a", " world"],
        &["GET", "a"],
        &["STRLEN", "a"],
        &["APPEND", "a", ""],
        &["APPEND", "empty", ""],
        &["EXISTS", "empty"],
        &["STRLEN", "empty"],
        &["APPEND", "n", "123"],
        &["STRLEN", "n"],
        &["APPEND", "n", "456"],
        &["GET", "n"],
        &["SET", "i", "-42"],
        &["STRLEN", "i"],
        &["APPEND", "i", "0"],
        &["GET", "i"],
        &["APPEND", "a", &big],
        &["STRLEN", "a"],
        &["GET", "a"],
        &["STRLEN"],
        &["APPEND", "a"],
    ]);
}

#[test]
fn setrange_and_getrange() {
    differential(&[
        &["SETRANGE", "r", "0", ""],
        &["EXISTS", "r"],
        &["SETRANGE", "r", "5", ""],
        &["EXISTS", "r"],
        &["SETRANGE", "r", "3", "abc"],
        &["GET", "r"],
        &["SETRANGE", "r", "0", "X"],
        &["SETRANGE", "r", "10", ""],
        &["SETRANGE", "r", "4", "longer text"],
        &["GET", "r"],
        &["STRLEN", "r"],
        &["SETRANGE", "r", "-1", "x"],
        &["SETRANGE", "r", "-1", ""],
        &["SETRANGE", "r", "abc", "x"],
        &["SETRANGE", "r", "9223372036854775808", "x"],
        &["SETRANGE", "r", "536870912", "x"],
        &["SETRANGE", "r", "536870911", "xy"],
        &["SETRANGE", "r", "9223372036854775807", "x"],
        &["SETRANGE", "missing", "536870912", "x"],
        &["SETRANGE", "missing", "9223372036854775807", ""],
        &["EXISTS", "missing"],
        &["SET", "i", "1234"],
        &["SETRANGE", "i", "1", "9"],
        &["GET", "i"],
        &["INCR", "i"],
        &["SET", "s", "Hello World"],
        &["GETRANGE", "s", "0", "4"],
        &["GETRANGE", "s", "-5", "-1"],
        &["GETRANGE", "s", "0", "-1"],
        &["GETRANGE", "s", "0", "100"],
        &["GETRANGE", "s", "5", "3"],
        &["GETRANGE", "s", "-1", "-5"],
        &["GETRANGE", "s", "-100", "2"],
        &["GETRANGE", "s", "-100", "-50"],
        &["GETRANGE", "s", "100", "200"],
        &["GETRANGE", "s", "10", "10"],
        &["GETRANGE", "s", "11", "-1"],
        &["GETRANGE", "s", "0", "-12"],
        &[
            "GETRANGE",
            "s",
            "-9223372036854775808",
            "9223372036854775807",
        ],
        &[
            "GETRANGE",
            "s",
            "9223372036854775807",
            "-9223372036854775808",
        ],
        &["GETRANGE", "s", "a", "1"],
        &["GETRANGE", "s", "1", "b"],
        &["GETRANGE", "missing", "0", "-1"],
        &["GETRANGE", "missing", "x", "1"],
        &["SET", "e", ""],
        &["GETRANGE", "e", "0", "-1"],
        &["GETRANGE", "e", "0", "0"],
        &["GETRANGE", "e", "-1", "0"],
        &["SET", "n", "-123456"],
        &["GETRANGE", "n", "0", "2"],
        &["GETRANGE", "n", "-3", "-1"],
        &["SUBSTR", "s", "0", "4"],
        &["SUBSTR", "s", "-3", "-1"],
        &["SUBSTR", "n", "1", "1"],
        &["SUBSTR", "missing", "0", "1"],
        &["GETRANGE", "s", "0"],
        &["SUBSTR", "s"],
        &["SETRANGE", "s", "0"],
    ]);
}

#[test]
fn setrange_writes_binary_data() {
    let Some(mut p) = Pair::new() else { return };
    p.check_bytes(&[b"SETRANGE", b"b", b"2", b"\x00\xff\r\n"]);
    p.check_bytes(&[b"GET", b"b"]);
    p.check_bytes(&[b"APPEND", b"b", b"\x00"]);
    p.check_bytes(&[b"GETRANGE", b"b", b"1", b"-2"]);
    p.check_bytes(&[b"STRLEN", b"b"]);
    p.check_bytes(&[b"SET", b"b", b"\x00\x01 binary \xfe"]);
    p.check_bytes(&[b"GET", b"b"]);
}

#[test]
fn mget_mset_msetnx() {
    differential(&[
        &["MGET", "a", "b", "c"],
        &["MSET", "a", "1", "b", "2"],
        &["MGET", "a", "b", "c", "a"],
        &["MSET", "a", "1", "b"],
        &["MSET", "a"],
        &["MSET"],
        &["MSETNX", "c", "3", "a", "x"],
        &["MGET", "a", "b", "c"],
        &["MSETNX", "c", "3", "d", "4"],
        &["MGET", "a", "b", "c", "d"],
        &["MSETNX", "e", "5", "f"],
        &["MSETNX", "e"],
        &["MSETNX", "dup", "1", "dup", "2"],
        &["GET", "dup"],
        &["MSET", "dup", "3", "dup", "4", "other", "5"],
        &["MGET", "dup", "other"],
        &["MGET"],
    ]);
}

#[test]
fn getset_and_getdel() {
    differential(&[
        &["GETSET", "k", "v1"],
        &["GETSET", "k", "v2"],
        &["GET", "k"],
        &["GETSET", "k", "123"],
        &["INCR", "k"],
        &["GETDEL", "k"],
        &["GETDEL", "k"],
        &["EXISTS", "k"],
        &["GETSET", "k"],
        &["GETDEL"],
        &["GETDEL", "a", "b"],
    ]);
}

#[test]
fn setnx() {
    differential(&[
        &["SETNX", "k", "v"],
        &["SETNX", "k", "w"],
        &["GET", "k"],
        &["SETNX", "k"],
        &["SETNX", "k", "v", "NX"],
    ]);
}

#[test]
fn lcs_matches_redis() {
    let long_a = "a".repeat(12_000);
    let long_b = "b".repeat(12_000);
    differential(&[
        &["LCS", "x", "y"],
        &["LCS", "x", "y", "LEN"],
        &["LCS", "x", "y", "IDX"],
        &["MSET", "key1", "ohmytext", "key2", "mynewtext"],
        &["LCS", "key1", "key2"],
        &["LCS", "key1", "key2", "LEN"],
        &["LCS", "key1", "key2", "IDX"],
        &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"],
        &[
            "LCS",
            "key1",
            "key2",
            "IDX",
            "MINMATCHLEN",
            "4",
            "WITHMATCHLEN",
        ],
        &["LCS", "key1", "key2", "idx", "withmatchlen"],
        &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "-3"],
        &["LCS", "key1", "key2", "MINMATCHLEN", "2"],
        &["LCS", "key1", "key2", "WITHMATCHLEN"],
        &["LCS", "key1", "key2", "LEN", "MINMATCHLEN", "100"],
        &["LCS", "key2", "key1", "IDX", "WITHMATCHLEN"],
        &["LCS", "key1", "key1", "IDX", "WITHMATCHLEN"],
        &["LCS", "key1", "nokey", "IDX"],
        &["LCS", "key1", "key2", "IDX", "LEN"],
        &["LCS", "key1", "key2", "LEN", "IDX", "FOO"],
        &["LCS", "key1", "key2", "FOO"],
        &["LCS", "key1", "key2", "MINMATCHLEN"],
        &["LCS", "key1", "key2", "MINMATCHLEN", "x"],
        &["LCS", "key1", "key2", "IDX", "IDX", "LEN", "LEN"],
        &[
            "MSET",
            "a",
            "ACCGGTCGAGTGCGCGGAAGCCGGCCGAA",
            "b",
            "GTCGTTCGGAATGCCGTTGCTCTGTAAA",
        ],
        &["LCS", "a", "b"],
        &["LCS", "a", "b", "IDX", "WITHMATCHLEN"],
        &["LCS", "b", "a", "IDX", "MINMATCHLEN", "3", "WITHMATCHLEN"],
        &["MSET", "n1", "1234567", "n2", "-12377"],
        &["LCS", "n1", "n2", "IDX", "WITHMATCHLEN"],
        &["LCS", "n1", "n2"],
        &["MSET", "e", "", "f", "abc"],
        &["LCS", "e", "f", "IDX"],
        &["LCS", "f", "f"],
        &["SET", "big1", &long_a],
        &["SET", "big2", &long_b],
        &["LCS", "big1", "big2", "LEN"],
        &["LCS", "big1", "big2", "IDX", "LEN"],
        &["LCS", "big1", "key1", "LEN"],
        &["LCS", "key1"],
    ]);
}

#[test]
fn arity_and_unknown_options() {
    differential(&[
        &["SET"],
        &["SETEX", "k", "1"],
        &["PSETEX", "k"],
        &["MGET"],
        &["APPEND", "k", "v", "w"],
        &["STRLEN", "a", "b"],
        &["INCRBYFLOAT", "k", "1", "2"],
        &["LCS"],
        &["GETEX", "k", "EX", "10", "extra"],
    ]);
}

/// Redis's OBJECT ENCODING after each way of writing a string. Runs once
/// reddish has OBJECT.
#[test]
fn encodings_match_redis() {
    let Some(mut p) = Pair::new() else { return };
    if !p.supports(&["OBJECT", "ENCODING", "probe"]) {
        return;
    }
    let s44 = "x".repeat(44);
    let s45 = "x".repeat(45);
    let writes: &[&[&str]] = &[
        &["SET", "int", "123"],
        &["SET", "neg", "-9223372036854775808"],
        &["SET", "big", "9223372036854775808"],
        &["SET", "lead0", "0123"],
        &["SET", "s44", &s44],
        &["SET", "s45", &s45],
        &["SET", "empty", ""],
        &["SET", "app", "123"],
        &["APPEND", "app", "4"],
        &["SET", "app0", "abc"],
        &["APPEND", "app0", ""],
        &["APPEND", "appnew", "77"],
        &["APPEND", "appnew2", "abc"],
        &["SETRANGE", "sr", "0", "12"],
        &["SET", "sr2", "12"],
        &["SETRANGE", "sr2", "0", "3"],
        &["SET", "sr3", "12"],
        &["SETRANGE", "sr3", "0", ""],
        &["INCR", "incr"],
        &["SET", "incr2", "abc"],
        &["SETRANGE", "incr2", "0", "99"],
        &["INCR", "incr2"],
        &["INCRBYFLOAT", "fl", "1"],
        &["INCRBYFLOAT", "fl2", "1.5"],
        &[
            "INCRBYFLOAT",
            "fl3",
            "123456789012345678901234567890123456789012345",
        ],
        &["GETSET", "gs", "55"],
        &["MSET", "ms", "66", "ms2", "abc"],
        &["SETEX", "sx", "100", "77"],
        &["PSETEX", "psx", "100000", "abc"],
        &["SETNX", "nx", "8"],
        &["SET", "get", "1"],
        &["SET", "get", "abc", "GET"],
        &["SET", "ttl", "5", "EX", "100"],
        &["GETEX", "ttl", "PERSIST"],
    ];
    p.run(writes);
    for key in [
        "int", "neg", "big", "lead0", "s44", "s45", "empty", "app", "app0", "appnew", "appnew2",
        "sr", "sr2", "sr3", "incr", "incr2", "fl", "fl2", "fl3", "gs", "ms", "ms2", "sx", "psx",
        "nx", "get", "ttl",
    ] {
        p.check(&["OBJECT", "ENCODING", key]);
    }
}

/// Every string command against a key of another type. Runs once reddish has lists.
#[test]
fn wrong_type_errors() {
    let Some(mut p) = Pair::new() else { return };
    if !p.supports(&["RPUSH", "list", "a"]) {
        return;
    }
    p.send(&["RPUSH", "list", "a"]);
    p.run(&[
        &["GET", "list"],
        &["GETDEL", "list"],
        &["GETEX", "list"],
        &["GETEX", "list", "EX", "abc"],
        &["GETEX", "list", "FOO"],
        &["GETSET", "list", "v"],
        &["GETRANGE", "list", "0", "-1"],
        &["GETRANGE", "list", "x", "-1"],
        &["SUBSTR", "list", "0", "-1"],
        &["STRLEN", "list"],
        &["APPEND", "list", "x"],
        &["SETRANGE", "list", "0", "x"],
        &["SETRANGE", "list", "0", ""],
        &["SETRANGE", "list", "-1", "x"],
        &["INCR", "list"],
        &["DECR", "list"],
        &["INCRBY", "list", "2"],
        &["INCRBY", "list", "x"],
        &["DECRBY", "list", "2"],
        &["INCRBYFLOAT", "list", "1.5"],
        &["INCRBYFLOAT", "list", "abc"],
        &["MGET", "list", "missing"],
        &["LCS", "list", "missing"],
        &["LCS", "missing", "list", "FOO"],
        &["SET", "list", "v", "GET"],
        &["SET", "list", "v", "NX", "GET"],
        &["SET", "list", "v", "EX", "0", "GET"],
        &["SETNX", "list", "v"],
        &["MSETNX", "list", "v"],
        &["SET", "list", "v", "XX"],
        &["GET", "list"],
        &["RPUSH", "list2", "a"],
        &["MSET", "list2", "v"],
        &["GET", "list2"],
        &["RPUSH", "list3", "a"],
        &["SETEX", "list3", "100", "v"],
        &["GET", "list3"],
    ]);
}

/// INFO keyspace_hits / keyspace_misses after reads. Runs once reddish has INFO.
#[test]
fn keyspace_hits_and_misses() {
    let Some(mut p) = Pair::new() else { return };
    if !p.supports(&["INFO", "stats"]) {
        return;
    }
    let script: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["GET", "a"],
        &["GET", "missing"],
        &["MGET", "a", "missing", "a"],
        &["STRLEN", "a"],
        &["STRLEN", "missing"],
        &["GETRANGE", "a", "0", "1"],
        &["GETRANGE", "missing", "0", "1"],
        &["GETRANGE", "a", "x", "1"],
        &["SUBSTR", "missing", "0", "1"],
        &["GETEX", "a"],
        &["GETEX", "missing", "FOO"],
        &["GETEX", "missing"],
        &["GETSET", "a", "2"],
        &["GETSET", "new", "2"],
        &["GETDEL", "new"],
        &["GETDEL", "new"],
        &["SET", "a", "3", "GET"],
        &["SET", "b", "3", "GET", "NX"],
        &["SET", "c", "3", "NX"],
        &["SETNX", "c", "3"],
        &["INCR", "n"],
        &["INCRBYFLOAT", "n", "1"],
        &["APPEND", "n", "1"],
        &["SETRANGE", "n", "0", "1"],
        &["MSETNX", "a", "1", "zz", "2"],
        &["LCS", "a", "missing"],
        &["LCS", "a", "a", "LEN"],
    ];
    let stat = |info: &str, name: &str| -> String {
        info.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let before = p.send(&["INFO", "stats"]);
    p.run(script);
    let after = p.send(&["INFO", "stats"]);
    for name in ["keyspace_hits:", "keyspace_misses:"] {
        assert_eq!(
            stat(&before.0, name),
            stat(&before.1, name),
            "{name} before"
        );
        assert_eq!(stat(&after.0, name), stat(&after.1, name), "{name} after");
    }
}

/// APPEND's proto-max-bulk-len check, with a small limit. Runs once reddish has CONFIG SET.
#[test]
fn append_respects_proto_max_bulk_len() {
    let Some(mut p) = Pair::new() else { return };
    if !p.supports(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]) {
        return;
    }
    let half = "h".repeat(600_000);
    p.send(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]);
    p.run(&[
        &["SET", "k", &half],
        &["APPEND", "k", &half],
        &["STRLEN", "k"],
        &["SETRANGE", "k", "1048575", "x"],
        &["SETRANGE", "k", "1048576", "x"],
        &["SETRANGE", "new", "1048576", "x"],
        &["LCS", "k", "k", "LEN"],
        &["STRLEN", "k"],
    ]);
}

/// RESP3 nulls and maps. Runs once reddish has HELLO.
#[test]
fn resp3_replies() {
    let Some(mut p) = Pair::new() else { return };
    if !p.supports(&["HELLO", "3"]) {
        return;
    }
    p.send(&["HELLO", "3"]);
    p.run(&[
        &["GET", "missing"],
        &["SET", "k", "v", "NX"],
        &["SET", "k", "w", "NX"],
        &["SET", "k", "w", "NX", "GET"],
        &["SET", "new", "w", "GET"],
        &["GETEX", "missing"],
        &["GETDEL", "missing"],
        &["GETSET", "missing", "x"],
        &["MGET", "k", "missing"],
        &["GETRANGE", "missing", "0", "-1"],
        &["INCRBYFLOAT", "f", "1.5"],
        &["MSET", "key1", "ohmytext", "key2", "mynewtext"],
        &[
            "LCS",
            "key1",
            "key2",
            "IDX",
            "MINMATCHLEN",
            "2",
            "WITHMATCHLEN",
        ],
        &["LCS", "key1", "key2", "LEN"],
        &["LCS", "key1", "key2"],
    ]);
}

/// Repeated APPENDs grow one string; the result must be exact at every size.
#[test]
fn many_appends_build_the_right_string() {
    let server = Server::start();
    let mut conn = server.connect();
    let mut want = String::new();
    for i in 0..500 {
        let piece = format!("{i},");
        want.push_str(&piece);
        let reply = conn.cmd_str(&["APPEND", "k", &piece]);
        assert_eq!(reply, format!(":{}\r\n", want.len()));
        if i % 100 == 0 {
            // A reply still holding the bytes must not be changed by the next APPEND.
            assert_eq!(
                conn.cmd_str(&["GET", "k"]),
                format!("${}\r\n{want}\r\n", want.len())
            );
        }
    }
    assert_eq!(
        conn.cmd_str(&["GET", "k"]),
        format!("${}\r\n{want}\r\n", want.len())
    );
}
