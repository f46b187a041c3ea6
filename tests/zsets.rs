//! Sorted set commands (t_zset.c), compared byte for byte with redis-server,
//! in RESP2 and RESP3. Random replies (ZRANDMEMBER, ZSCAN of a skiplist) are
//! checked by shape and membership instead.

mod support;

use std::collections::{BTreeMap, HashSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{Conn, Pair, Server};

/// Runs `script` on fresh databases in RESP2, then again in RESP3.
fn both_protocols(script: &[&[&str]]) {
    let Some(mut p) = Pair::new() else { return };
    p.run(script);
    p.send(&["FLUSHALL"]);
    p.resp3();
    p.run(script);
}

/// A script built at run time.
fn run_owned(script: &[Vec<String>]) {
    let refs: Vec<Vec<&str>> = script
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let cmds: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
    both_protocols(&cmds);
}

fn cmd(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// A parsed reply, for the checks that cannot compare bytes.
#[derive(Debug, Clone, PartialEq)]
enum R {
    Bulk(Vec<u8>),
    Double(String),
    Int(i64),
    Array(Vec<R>),
    Null,
    Error(String),
    Simple(String),
}

fn parse(reply: &[u8]) -> R {
    fn one(b: &[u8], pos: &mut usize) -> R {
        let end = *pos
            + b[*pos..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("CRLF");
        let kind = b[*pos];
        let line = String::from_utf8_lossy(&b[*pos + 1..end]).into_owned();
        *pos = end + 2;
        match kind {
            b'$' if line == "-1" => R::Null,
            b'$' => {
                let n: usize = line.parse().expect("length");
                let data = b[*pos..*pos + n].to_vec();
                *pos += n + 2;
                R::Bulk(data)
            }
            b',' => R::Double(line),
            b':' => R::Int(line.parse().expect("integer")),
            b'_' => R::Null,
            b'-' => R::Error(line),
            b'+' => R::Simple(line),
            b'*' if line == "-1" => R::Null,
            b'*' => {
                let n: usize = line.parse().expect("count");
                R::Array((0..n).map(|_| one(b, pos)).collect())
            }
            other => panic!("unexpected reply type {}", other as char),
        }
    }
    let mut pos = 0;
    one(reply, &mut pos)
}

fn items(r: R) -> Vec<R> {
    match r {
        R::Array(v) => v,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn bulk(r: &R) -> Vec<u8> {
    match r {
        R::Bulk(b) => b.clone(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// The score text of a reply element: a bulk (RESP2) or a double (RESP3).
fn score_text(r: &R) -> String {
    match r {
        R::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        R::Double(d) => d.clone(),
        other => panic!("expected a score, got {other:?}"),
    }
}

#[test]
fn zadd_options_and_errors() {
    both_protocols(&[
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZADD", "z", "1", "a"],
        &["ZADD", "z", "CH", "5", "a", "2", "b", "9", "new"],
        &["ZADD", "z", "NX", "100", "a", "4", "d"],
        &["ZADD", "z", "XX", "100", "a", "4", "e"],
        &["ZADD", "z", "XX", "CH", "101", "a", "4", "f"],
        &["ZADD", "z", "GT", "CH", "50", "a", "3", "b", "7", "g"],
        &["ZADD", "z", "LT", "CH", "60", "a", "1", "b", "8", "h"],
        &["ZADD", "z", "XX", "GT", "CH", "200", "a", "1", "b"],
        &["ZADD", "z", "xx", "lt", "ch", "200", "a", "0", "b"],
        &["ZADD", "z", "gt", "gt", "ch", "ch", "300", "a"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZADD", "z", "NX", "XX", "1", "a"],
        &["ZADD", "z", "GT", "LT", "1", "a"],
        &["ZADD", "z", "GT", "NX", "1", "a"],
        &["ZADD", "z", "NX", "LT", "1", "a"],
        &["ZADD", "z", "INCR", "1", "a", "2", "b"],
        &["ZADD", "z", "NX", "XX", "1"],
        &["ZADD", "z", "1"],
        &["ZADD", "z", "1", "a", "2"],
        &["ZADD", "z", "NX"],
        &["ZADD", "z", "abc", "a"],
        &["ZADD", "z", "1", "a", "x", "b"],
        &["ZADD", "z", "nan", "a"],
        &["ZADD", "z", " 1", "a"],
        &["ZADD", "z", "1 ", "a"],
        &["ZADD", "z", "", "a"],
        &["ZADD", "z", "1e400", "a"],
        &[
            "ZADD", "z", "0x10", "hex", "1e3", "exp", "-inf", "lo", "+inf", "hi",
        ],
        &["ZADD", "z", "1.5", "1.5", "-2.25", "neg", "1e-310", "tiny"],
        &["ZADD", "z", "INCR", "1", "a"],
        &["ZADD", "z", "INCR", "NX", "1", "a"],
        &["ZADD", "z", "INCR", "NX", "1", "fresh"],
        &["ZADD", "z", "INCR", "XX", "1", "missing"],
        &["ZADD", "z", "INCR", "GT", "-1", "a"],
        &["ZADD", "z", "INCR", "LT", "-1", "a"],
        &["ZADD", "z", "INCR", "0", "a"],
        &["ZADD", "z", "INCR", "-inf", "hi"],
        &["ZADD", "z", "INCR", "inf", "hi"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZADD", "missing", "XX", "1", "a"],
        &["ZADD", "missing", "XX", "INCR", "1", "a"],
        &["EXISTS", "missing"],
        &["ZADD", "z2", "GT", "1", "a"],
        &["ZADD", "z2", "LT", "INCR", "5", "b"],
        &["ZRANGE", "z2", "0", "-1", "WITHSCORES"],
        &["ZADD", "z"],
        &["ZADD"],
    ]);
}

#[test]
fn zincrby_and_scores() {
    both_protocols(&[
        &["ZINCRBY", "z", "1.5", "a"],
        &["ZINCRBY", "z", "1.5", "a"],
        &["ZINCRBY", "z", "-3", "a"],
        &["ZINCRBY", "z", "0.1", "b"],
        &["ZINCRBY", "z", "0.2", "b"],
        &["ZINCRBY", "z", "abc", "a"],
        &["ZINCRBY", "z", "nan", "a"],
        &["ZINCRBY", "z", "inf", "a"],
        &["ZINCRBY", "z", "-inf", "a"],
        &["ZINCRBY", "z", "inf", "a"],
        &["ZINCRBY", "z", "INCR", "a"],
        &["ZINCRBY", "z", "1e308", "c"],
        &["ZINCRBY", "z", "1e308", "c"],
        &["ZINCRBY", "z", "-0", "negzero"],
        &["ZSCORE", "z", "negzero"],
        &["ZINCRBY", "z", "1"],
        &["ZSCORE", "z", "a"],
        &["ZSCORE", "z", "b"],
        &["ZSCORE", "z", "c"],
        &["ZSCORE", "z", "nope"],
        &["ZSCORE", "nokey", "a"],
        &["ZMSCORE", "z", "a", "nope", "b"],
        &["ZMSCORE", "nokey", "a", "b"],
        &["ZMSCORE", "z"],
        &["ZCARD", "z"],
        &["ZCARD", "nokey"],
        &["ZRANK", "z", "a"],
        &["ZRANK", "z", "c"],
        &["ZREVRANK", "z", "a"],
        &["ZREVRANK", "z", "c"],
        &["ZRANK", "z", "nope"],
        &["ZRANK", "nokey", "a"],
        &["ZREVRANK", "nokey", "a"],
        &["ZRANK", "z", "a", "withscore"],
        &["ZSCORE", "z"],
    ]);
}

#[test]
fn zrem_deletes_empty_keys() {
    both_protocols(&[
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZREM", "z", "a", "nope", "a"],
        &["ZCARD", "z"],
        &["ZREM", "z", "b", "c", "d"],
        &["EXISTS", "z"],
        &["ZREM", "z", "a"],
        &["ZREM", "nokey", "a"],
        &["ZREM", "z"],
    ]);
}

#[test]
fn score_ranges_parse_like_strtod() {
    let Some(mut p) = Pair::new() else { return };
    for proto in 0..2 {
        if proto == 1 {
            p.send(&["FLUSHALL"]);
            p.resp3();
        }
        p.check(&[
            "ZADD", "z", "-inf", "lo", "-1", "a", "0", "b", "1", "c", "1.5", "d", "2", "e", "inf",
            "hi",
        ]);
        for (min, max) in [
            ("-inf", "+inf"),
            ("(-inf", "(+inf"),
            ("0", "1"),
            ("(0", "1"),
            ("0", "(1"),
            ("(0", "(1"),
            ("(1", "(1"),
            ("1", "1"),
            ("(1", "1"),
            ("2", "1"),
            ("", ""),
            ("(", "("),
            (" 1", "\t2"),
            ("0x1", "0X2"),
            ("1e0", "2E0"),
            ("-1e400", "1e400"),
            ("infinity", "-INFINITY"),
            ("-Infinity", "+inf"),
            ("1.", ".5"),
            ("nan", "1"),
            ("1", "nan"),
            ("(nan", "1"),
            ("a", "1"),
            ("1", "1 "),
            ("1x", "2"),
            ("((1", "2"),
            ("[1", "2"),
        ] {
            p.check(&["ZCOUNT", "z", min, max]);
            p.check(&["ZRANGEBYSCORE", "z", min, max, "WITHSCORES"]);
            p.check(&["ZREVRANGEBYSCORE", "z", max, min]);
            p.check(&["ZCOUNT", "nokey", min, max]);
        }
        // strtod stops at a NUL, and Redis then sees the end of the string.
        p.check_bytes(&[b"ZCOUNT", b"z", b"1\0junk", b"2"]);
        p.check_bytes(&[b"ZRANGEBYSCORE", b"z", b"(1\0", b"2\0x"]);
        p.check_bytes(&[b"ZCOUNT", b"z", b"\0", b"2"]);
    }
}

#[test]
fn lex_ranges_and_their_errors() {
    let Some(mut p) = Pair::new() else { return };
    for proto in 0..2 {
        if proto == 1 {
            p.send(&["FLUSHALL"]);
            p.resp3();
        }
        p.check(&[
            "ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "", "0", "bb", "0",
            "B",
        ]);
        for (min, max) in [
            ("-", "+"),
            ("+", "-"),
            ("-", "-"),
            ("+", "+"),
            ("[a", "[c"),
            ("(a", "(c"),
            ("[b", "(bb"),
            ("[", "(c"),
            ("(", "+"),
            ("[c", "[a"),
            ("[c", "[c"),
            ("(c", "[c"),
            ("[c", "(c"),
            ("-", "[B"),
            ("a", "[c"),
            ("[a", "c"),
            ("", "+"),
            ("-a", "+"),
            ("-", "++"),
            ("1", "2"),
        ] {
            p.check(&["ZLEXCOUNT", "z", min, max]);
            p.check(&["ZRANGEBYLEX", "z", min, max]);
            p.check(&["ZREVRANGEBYLEX", "z", max, min]);
            p.check(&["ZRANGEBYLEX", "z", min, max, "LIMIT", "1", "2"]);
            p.check(&["ZLEXCOUNT", "nokey", min, max]);
        }
        // `+`/`-` followed by a NUL still count as alone.
        p.check_bytes(&[b"ZLEXCOUNT", b"z", b"-\0x", b"+\0"]);
        p.check_bytes(&[b"ZRANGEBYLEX", b"z", b"[a\0", b"[c\0z"]);
    }
}

#[test]
fn lex_ranges_over_mixed_scores_in_a_listpack() {
    // Unspecified by the docs, but deterministic for a listpack: Redis walks it in order.
    both_protocols(&[
        &[
            "ZADD", "z", "1", "d", "2", "a", "3", "c", "4", "b", "5", "e",
        ],
        &["ZRANGEBYLEX", "z", "[b", "[d"],
        &["ZREVRANGEBYLEX", "z", "[d", "[b"],
        &["ZLEXCOUNT", "z", "[b", "[d"],
        &["ZRANGEBYLEX", "z", "-", "[c", "LIMIT", "1", "5"],
        &["ZREVRANGEBYLEX", "z", "+", "(a", "LIMIT", "2", "5"],
        &["ZRANGEBYLEX", "z", "[a", "[c"],
        &["ZREMRANGEBYLEX", "z", "[c", "+"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ]);
}

#[test]
fn zrange_by_rank() {
    both_protocols(&[
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
        &["ZRANGE", "z", "0", "-1"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZRANGE", "z", "1", "3", "withscores"],
        &["ZRANGE", "z", "-2", "-1"],
        &["ZRANGE", "z", "-100", "100"],
        &["ZRANGE", "z", "3", "1"],
        &["ZRANGE", "z", "5", "10"],
        &["ZRANGE", "z", "-1", "-5"],
        &["ZRANGE", "z", "-9223372036854775808", "9223372036854775807"],
        &["ZRANGE", "z", "9223372036854775807", "-9223372036854775808"],
        &["ZRANGE", "z", "0", "-1", "REV"],
        &["ZRANGE", "z", "1", "2", "REV", "WITHSCORES"],
        &["ZREVRANGE", "z", "0", "1"],
        &["ZREVRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZREVRANGE", "z", "-3", "-2", "WITHSCORES"],
        &["ZRANGE", "z", "a", "1"],
        &["ZRANGE", "z", "0", "b"],
        &["ZRANGE", "z", "1.5", "2"],
        &["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"],
        &["ZRANGE", "z", "0", "-1", "LIMIT", "5", "-1"],
        &["ZRANGE", "z", "0", "-1", "LIMIT", "x", "1"],
        &["ZRANGE", "z", "0", "-1", "LIMIT", "0"],
        &["ZREVRANGE", "z", "0", "-1", "REV"],
        &["ZREVRANGE", "z", "0", "-1", "BYSCORE"],
        &["ZREVRANGE", "z", "0", "-1", "LIMIT", "0", "1"],
        &["ZRANGE", "z", "0", "-1", "FOO"],
        &["ZRANGE", "z", "0", "-1", "REV", "REV"],
        &["ZRANGE", "z", "0", "-1", "BYSCORE", "BYLEX"],
        &["ZRANGE", "nokey", "0", "-1"],
        &["ZRANGE", "nokey", "x", "-1"],
        &["ZREVRANGE", "nokey", "0", "-1", "WITHSCORES"],
    ]);
}

#[test]
fn zrange_by_score_and_lex_with_limits() {
    both_protocols(&[
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
        &["ZRANGE", "z", "2", "4", "BYSCORE"],
        &["ZRANGE", "z", "(2", "+inf", "BYSCORE", "WITHSCORES"],
        &["ZRANGE", "z", "4", "2", "BYSCORE", "REV", "WITHSCORES"],
        &["ZRANGE", "z", "2", "4", "BYSCORE", "REV"],
        &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"],
        &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1"],
        &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-5"],
        &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"],
        &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "0"],
        &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "5", "1"],
        &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "4", "10"],
        &[
            "ZRANGE",
            "z",
            "-inf",
            "+inf",
            "BYSCORE",
            "LIMIT",
            "9223372036854775807",
            "1",
        ],
        &[
            "ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2",
        ],
        &[
            "ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "4", "5",
        ],
        &["ZRANGE", "z", "(3", "(3", "BYSCORE"],
        &["ZRANGE", "z", "[b", "[d", "BYLEX"],
        &["ZRANGE", "z", "[d", "[b", "BYLEX", "REV"],
        &["ZRANGE", "z", "-", "+", "BYLEX", "LIMIT", "2", "2"],
        &["ZRANGE", "z", "+", "-", "BYLEX", "REV", "LIMIT", "1", "3"],
        &["ZRANGE", "z", "-", "+", "BYLEX", "LIMIT", "-1", "3"],
        &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"],
        &["ZRANGE", "z", "a", "b", "BYSCORE"],
        &["ZRANGE", "z", "a", "b", "BYLEX"],
        &["ZRANGE", "z", "1", "2", "BYSCORE", "LIMIT", "1"],
        &["ZRANGE", "z", "1", "2", "BYSCORE", "LIMIT", "1", "x"],
        &[
            "ZRANGE", "z", "1", "2", "byscore", "limit", "0", "1", "limit", "1", "1",
        ],
        &["ZRANGEBYSCORE", "z", "1", "3"],
        &[
            "ZRANGEBYSCORE",
            "z",
            "1",
            "3",
            "WITHSCORES",
            "LIMIT",
            "1",
            "1",
        ],
        &["ZRANGEBYSCORE", "z", "1", "3", "LIMIT", "1"],
        &["ZRANGEBYSCORE", "z", "1", "3", "REV"],
        &["ZRANGEBYSCORE", "z", "1", "3", "BYSCORE"],
        &["ZREVRANGEBYSCORE", "z", "3", "1"],
        &["ZREVRANGEBYSCORE", "z", "1", "3"],
        &[
            "ZREVRANGEBYSCORE",
            "z",
            "+inf",
            "-inf",
            "WITHSCORES",
            "LIMIT",
            "0",
            "2",
        ],
        &["ZRANGEBYLEX", "z", "-", "+"],
        &["ZRANGEBYLEX", "z", "-", "+", "LIMIT", "1", "1"],
        &["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"],
        &["ZRANGEBYLEX", "z", "-", "+", "BYLEX"],
        &["ZREVRANGEBYLEX", "z", "+", "-", "LIMIT", "0", "2"],
        &["ZREVRANGEBYLEX", "z", "-", "+"],
        &["ZRANGEBYSCORE", "nokey", "0", "1"],
        &["ZRANGEBYSCORE", "nokey", "x", "1"],
        &["ZRANGEBYLEX", "nokey", "x", "1"],
        &["ZRANGEBYLEX", "nokey", "-", "+", "LIMIT", "0", "1"],
    ]);
}

#[test]
fn zrangestore_creates_deletes_and_reencodes() {
    both_protocols(&[
        &["ZADD", "src", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZRANGESTORE", "dst", "src", "0", "-1"],
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        &["ZRANGESTORE", "dst", "src", "1", "2", "REV"],
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        &[
            "ZRANGESTORE",
            "dst",
            "src",
            "(1",
            "+inf",
            "BYSCORE",
            "LIMIT",
            "1",
            "1",
        ],
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        &["ZRANGESTORE", "dst", "src", "[c", "-", "BYLEX", "REV"],
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        &["ZRANGESTORE", "dst", "src", "5", "9"],
        &["EXISTS", "dst"],
        &["SET", "dst", "string"],
        &["ZRANGESTORE", "dst", "nokey", "0", "-1"],
        &["EXISTS", "dst"],
        &["SET", "dst", "string"],
        &["ZRANGESTORE", "dst", "src", "0", "0"],
        &["ZRANGESTORE", "src", "src", "0", "1"],
        &["ZRANGE", "src", "0", "-1", "WITHSCORES"],
        &["ZRANGESTORE", "dst", "src", "0", "-1", "WITHSCORES"],
        &["ZRANGESTORE", "dst", "src", "0", "-1", "LIMIT", "0", "1"],
        &["ZRANGESTORE", "dst", "src", "a", "b", "BYSCORE"],
        &["ZRANGESTORE", "dst", "src", "0", "-1", "FOO"],
        &["SET", "str", "x"],
        &["ZRANGESTORE", "dst", "str", "0", "-1"],
        &["ZRANGESTORE", "dst", "src"],
    ]);
}

#[test]
fn stored_results_drop_the_old_ttl() {
    let Some(mut p) = Pair::new() else { return };
    if !p.supports(&["TTL", "probe"]) {
        return;
    }
    p.run(&[
        &["ZADD", "src", "1", "a", "2", "b"],
        &["SET", "d1", "x", "EX", "1000"],
        &["ZRANGESTORE", "d1", "src", "0", "-1"],
        &["TTL", "d1"],
        &["SET", "d2", "x", "EX", "1000"],
        &["ZUNIONSTORE", "d2", "1", "src"],
        &["TTL", "d2"],
        &["EXPIRE", "src", "1000"],
        &["ZADD", "src", "3", "c"],
        &["ZREM", "src", "a"],
        &["TTL", "src"],
    ]);
}

#[test]
fn zremrange_commands() {
    both_protocols(&[
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f",
        ],
        &["ZREMRANGEBYRANK", "z", "1", "2"],
        &["ZREMRANGEBYRANK", "z", "-1", "-1"],
        &["ZREMRANGEBYRANK", "z", "5", "10"],
        &["ZREMRANGEBYRANK", "z", "2", "1"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZREMRANGEBYSCORE", "z", "(1", "4"],
        &["ZREMRANGEBYSCORE", "z", "10", "1"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d"],
        &["ZREMRANGEBYLEX", "l", "(a", "[c"],
        &["ZREMRANGEBYLEX", "l", "[c", "(a"],
        &["ZRANGE", "l", "0", "-1"],
        &["ZREMRANGEBYLEX", "l", "-", "+"],
        &["EXISTS", "l"],
        &["ZREMRANGEBYRANK", "z", "0", "-1"],
        &["EXISTS", "z"],
        &["ZREMRANGEBYRANK", "nokey", "0", "-1"],
        &["ZREMRANGEBYRANK", "nokey", "x", "-1"],
        &["ZREMRANGEBYSCORE", "nokey", "x", "1"],
        &["ZREMRANGEBYLEX", "nokey", "x", "+"],
        &["ZADD", "z", "1", "a"],
        &["ZREMRANGEBYRANK", "z", "0", "1.5"],
        &["ZREMRANGEBYSCORE", "z", "nan", "1"],
        &["ZREMRANGEBYLEX", "z", "a", "+"],
        &["ZREMRANGEBYRANK", "z", "0"],
    ]);
}

#[test]
fn zpop_and_zmpop() {
    both_protocols(&[
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
        &["ZPOPMIN", "z"],
        &["ZPOPMAX", "z"],
        &["ZPOPMIN", "z", "1"],
        &["ZPOPMAX", "z", "0"],
        &["ZPOPMIN", "z", "-1"],
        &["ZPOPMIN", "z", "abc"],
        &["ZPOPMIN", "z", "1", "2"],
        &["ZPOPMAX", "z", "10"],
        &["EXISTS", "z"],
        &["ZPOPMIN", "z"],
        &["ZPOPMIN", "z", "3"],
        &["ZPOPMIN", "z", "0"],
        &["ZADD", "y", "1", "a", "2", "b", "3", "c"],
        &["ZMPOP", "2", "nokey", "y", "MIN"],
        &["ZMPOP", "2", "nokey", "y", "max", "COUNT", "10"],
        &["EXISTS", "y"],
        &["ZMPOP", "2", "nokey", "y", "MIN"],
        &["ZMPOP", "1", "y", "MIN", "COUNT", "1"],
        &["ZMPOP", "0", "y", "MIN"],
        &["ZMPOP", "-1", "y", "MIN"],
        &["ZMPOP", "abc", "y", "MIN"],
        &["ZMPOP", "2", "y", "MIN"],
        &["ZMPOP", "5", "y", "MIN"],
        &["ZMPOP", "9223372036854775807", "y", "MIN"],
        &["ZMPOP", "1", "y", "MIDDLE"],
        &["ZMPOP", "1", "y", "MIN", "COUNT"],
        &["ZMPOP", "1", "y", "MIN", "COUNT", "0"],
        &["ZMPOP", "1", "y", "MIN", "COUNT", "-1"],
        &["ZMPOP", "1", "y", "MIN", "COUNT", "x"],
        &["ZMPOP", "1", "y", "MIN", "COUNT", "1", "COUNT", "1"],
        &["ZMPOP", "1", "y", "MIN", "FOO"],
        &["SET", "s", "x"],
        &["ZADD", "w", "1", "a"],
        &["ZMPOP", "2", "s", "w", "MIN"],
        &["ZMPOP", "2", "w", "s", "MIN"],
        &["ZPOPMIN", "s"],
        &["ZPOPMIN", "s", "0"],
    ]);
}

#[test]
fn set_operations() {
    both_protocols(&[
        &["ZADD", "a", "1", "x", "2", "y", "3", "z"],
        &["ZADD", "b", "2", "y", "3", "z", "4", "w"],
        &["ZADD", "c", "10", "z"],
        &["ZUNION", "2", "a", "b"],
        &["ZUNION", "2", "a", "b", "WITHSCORES"],
        &[
            "ZUNION",
            "3",
            "a",
            "b",
            "c",
            "WEIGHTS",
            "1",
            "2",
            "0.5",
            "WITHSCORES",
        ],
        &["ZUNION", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES"],
        &["ZUNION", "2", "a", "b", "AGGREGATE", "max", "WITHSCORES"],
        &["ZUNION", "2", "a", "nokey", "WITHSCORES"],
        &["ZUNION", "1", "nokey"],
        &["ZINTER", "2", "a", "b", "WITHSCORES"],
        &["ZINTER", "3", "a", "b", "c", "WITHSCORES"],
        &[
            "ZINTER",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "2",
            "3",
            "AGGREGATE",
            "MAX",
            "WITHSCORES",
        ],
        &["ZINTER", "2", "a", "nokey"],
        &["ZINTER", "2", "a", "a", "WITHSCORES"],
        &["ZDIFF", "2", "a", "b", "WITHSCORES"],
        &["ZDIFF", "2", "b", "a"],
        &["ZDIFF", "3", "a", "b", "c"],
        &["ZDIFF", "2", "a", "a"],
        &["ZDIFF", "1", "nokey"],
        &["ZINTERCARD", "2", "a", "b"],
        &["ZINTERCARD", "2", "a", "b", "LIMIT", "1"],
        &["ZINTERCARD", "2", "a", "b", "LIMIT", "0"],
        &["ZINTERCARD", "1", "nokey"],
        &["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "-1"],
        &["ZRANGE", "d", "0", "-1", "WITHSCORES"],
        &["ZINTERSTORE", "d", "2", "a", "b", "AGGREGATE", "MIN"],
        &["ZRANGE", "d", "0", "-1", "WITHSCORES"],
        &["ZDIFFSTORE", "d", "2", "a", "b"],
        &["ZRANGE", "d", "0", "-1", "WITHSCORES"],
        &["ZINTERSTORE", "d", "2", "a", "nokey"],
        &["EXISTS", "d"],
        &["ZUNIONSTORE", "a", "2", "a", "b"],
        &["ZRANGE", "a", "0", "-1", "WITHSCORES"],
        &["SET", "s", "x"],
        &["ZUNIONSTORE", "s", "1", "b"],
        &["ZRANGE", "s", "0", "-1"],
    ]);
}

#[test]
fn set_operation_float_rules() {
    // inf * 0 is NaN, which the first factor turns into 0; a SUM of +inf
    // and -inf is 0; MIN and MAX ignore a NaN term of ZINTER.
    both_protocols(&[
        &["ZADD", "a", "1", "x", "inf", "y", "-inf", "z", "0", "n"],
        &["ZADD", "b", "inf", "x", "-inf", "y", "-inf", "z", "-0", "n"],
        &["ZUNION", "2", "a", "b", "WITHSCORES"],
        &["ZINTER", "2", "a", "b", "WITHSCORES"],
        &["ZUNION", "2", "a", "b", "WEIGHTS", "0", "1", "WITHSCORES"],
        &["ZUNION", "2", "a", "b", "WEIGHTS", "inf", "0", "WITHSCORES"],
        &[
            "ZUNION",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "inf",
            "0",
            "AGGREGATE",
            "MIN",
            "WITHSCORES",
        ],
        &[
            "ZUNION",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "inf",
            "0",
            "AGGREGATE",
            "MAX",
            "WITHSCORES",
        ],
        &["ZINTER", "2", "a", "b", "WEIGHTS", "inf", "0", "WITHSCORES"],
        &["ZINTER", "2", "a", "b", "WEIGHTS", "0", "inf", "WITHSCORES"],
        &[
            "ZINTER",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "1",
            "0",
            "AGGREGATE",
            "MIN",
            "WITHSCORES",
        ],
        &[
            "ZINTER",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "1",
            "0",
            "AGGREGATE",
            "MAX",
            "WITHSCORES",
        ],
        &["ZINTER", "2", "a", "b", "WEIGHTS", "-1", "1", "WITHSCORES"],
        &["ZUNION", "2", "a", "b", "WEIGHTS", "-1", "-1", "WITHSCORES"],
        &["ZUNION", "1", "a", "WEIGHTS", "-0", "WITHSCORES"],
        &["ZUNIONSTORE", "d", "1", "a", "WEIGHTS", "-1"],
        &["ZRANGE", "d", "0", "-1", "WITHSCORES"],
        &["ZADD", "p", "0.1", "m"],
        &["ZADD", "q", "0.2", "m", "9", "other"],
        &["ZADD", "r", "0.3", "m", "8", "x1", "7", "x2"],
        &["ZUNION", "3", "r", "q", "p", "WITHSCORES"],
        &["ZINTER", "3", "r", "p", "q", "WITHSCORES"],
    ]);
}

#[test]
fn set_operation_errors() {
    both_protocols(&[
        &["ZADD", "a", "1", "x"],
        &["SET", "s", "str"],
        &["ZUNION", "0", "a"],
        &["ZUNION", "-1", "a"],
        &["ZUNION", "abc", "a"],
        &["ZUNION", "2", "a"],
        &["ZUNION", "9223372036854775807", "a"],
        &["ZUNION", "-9223372036854775808", "a"],
        &["ZUNION", "1", "a", "b"],
        &["ZUNION", "1", "s"],
        &["ZUNION", "2", "a", "s", "FOO"],
        &["ZUNION", "2", "nokey", "s"],
        &["ZUNION", "1", "a", "WEIGHTS"],
        &["ZUNION", "1", "a", "WEIGHTS", "x"],
        &["ZUNION", "1", "a", "WEIGHTS", "nan"],
        &["ZUNION", "1", "a", "WEIGHTS", "1", "2"],
        &["ZUNION", "1", "a", "AGGREGATE"],
        &["ZUNION", "1", "a", "AGGREGATE", "AVG"],
        &["ZUNION", "1", "a", "WITHSCORES", "WITHSCORES"],
        &["ZUNION", "1", "a", "LIMIT", "1"],
        &["ZINTER", "1", "a", "LIMIT", "1"],
        &["ZDIFF", "1", "a", "WEIGHTS", "1"],
        &["ZDIFF", "1", "a", "AGGREGATE", "SUM"],
        &["ZUNIONSTORE", "d", "1", "a", "WITHSCORES"],
        &["ZUNIONSTORE", "d", "0", "a"],
        &["ZINTERSTORE", "d", "0", "a"],
        &["ZDIFFSTORE", "d", "0", "a"],
        &["ZINTER", "0", "a"],
        &["ZDIFF", "0", "a"],
        &["ZINTERCARD", "0", "a"],
        &["ZINTERCARD", "1", "a", "LIMIT"],
        &["ZINTERCARD", "1", "a", "LIMIT", "-1"],
        &["ZINTERCARD", "1", "a", "LIMIT", "x"],
        &["ZINTERCARD", "1", "a", "WITHSCORES"],
        &["ZINTERCARD", "1", "a", "WEIGHTS", "1"],
        &["ZINTERCARD", "2", "a", "s"],
        &["ZUNIONSTORE", "d", "2", "a"],
    ]);
}

#[test]
fn zscan_of_a_listpack_is_one_exact_batch() {
    both_protocols(&[
        &[
            "ZADD",
            "z",
            "1e18",
            "big",
            "0.1",
            "frac",
            "1e19",
            "huge",
            "-0",
            "negzero",
            "inf",
            "i",
            "-inf",
            "ni",
            "4611686018427387904",
            "p62",
            "4611686018427387905",
            "p62x",
            "-4611686018427387904",
            "n62",
            "123456789012345678",
            "long",
            "1e-310",
            "sub",
        ],
        &["ZSCAN", "z", "0"],
        &["ZSCAN", "z", "0", "COUNT", "1"],
        &["ZSCAN", "z", "0", "MATCH", "n*"],
        &["ZSCAN", "z", "0", "MATCH", "*", "COUNT", "100"],
        &[
            "ZSCAN", "z", "0", "match", "?", "count", "3", "match", "*i*",
        ],
        &["ZSCAN", "z", "123"],
        &["ZSCAN", "z", "0", "COUNT", "0"],
        &["ZSCAN", "z", "0", "COUNT", "-1"],
        &["ZSCAN", "z", "0", "COUNT", "x"],
        &["ZSCAN", "z", "0", "COUNT"],
        &["ZSCAN", "z", "0", "MATCH"],
        &["ZSCAN", "z", "0", "TYPE", "zset"],
        &["ZSCAN", "z", "0", "FOO", "bar"],
        &["ZSCAN", "z", "abc"],
        &["ZSCAN", "z", " 0"],
        &["ZSCAN", "z", "-1"],
        &["ZSCAN", "z", "+0"],
        &["ZSCAN", "z", "-"],
        &["ZSCAN", "z", ""],
        &["ZSCAN", "z", "18446744073709551615"],
        &["ZSCAN", "z", "18446744073709551616"],
        &["ZSCAN", "nokey", "0"],
        &["ZSCAN", "nokey", "0", "COUNT", "0"],
        &["ZSCAN", "nokey", "x"],
        &["SET", "s", "x"],
        &["ZSCAN", "s", "0"],
        &["ZSCAN", "s", "0", "COUNT", "0"],
    ]);
}

/// Full ZSCAN of `key` on our server: every (member, score text) pair seen.
fn scan_all(conn: &mut Conn, key: &str, extra: &[&str]) -> BTreeMap<Vec<u8>, String> {
    let mut seen = BTreeMap::new();
    let mut cursor = "0".to_string();
    for _ in 0..100_000 {
        let mut args = vec!["ZSCAN", key, &cursor];
        args.extend_from_slice(extra);
        let reply = items(parse(&conn.cmd(&args)));
        cursor = String::from_utf8(bulk(&reply[0])).expect("cursor");
        let flat = items(reply[1].clone());
        for pair in flat.chunks(2) {
            seen.insert(bulk(&pair[0]), score_text(&pair[1]));
        }
        if cursor == "0" {
            return seen;
        }
    }
    panic!("ZSCAN did not finish");
}

#[test]
fn zscan_of_a_skiplist_returns_everything() {
    let server = Server::start();
    let mut c = server.connect();
    let mut args = vec!["ZADD".to_string(), "z".to_string()];
    for i in 0..1000 {
        args.push(format!("{}.5", i % 37));
        args.push(format!("m{i}"));
    }
    args.extend(["-0".to_string(), "negzero".to_string()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(c.cmd_str(&refs), ":1001\r\n");
    let seen = scan_all(&mut c, "z", &["COUNT", "7"]);
    assert_eq!(seen.len(), 1001);
    assert_eq!(seen[&b"m40"[..]], "3.5");
    assert_eq!(seen[&b"negzero"[..]], "-0");
    let matched = scan_all(&mut c, "z", &["MATCH", "m1?"]);
    let want: Vec<Vec<u8>> = (10..20).map(|i| format!("m{i}").into_bytes()).collect();
    assert_eq!(matched.keys().cloned().collect::<Vec<_>>(), want);
    // Members present for the whole scan are returned even if the set shrinks and grows.
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        let reply = items(parse(&c.cmd(&["ZSCAN", "z", &cursor, "COUNT", "5"])));
        cursor = String::from_utf8(bulk(&reply[0])).expect("cursor");
        for pair in items(reply[1].clone()).chunks(2) {
            seen.insert(bulk(&pair[0]));
        }
        step += 1;
        if step == 10 {
            assert_eq!(
                c.cmd_str(&["ZREMRANGEBYSCORE", "z", "(0.5", "+inf"]),
                ":972\r\n"
            );
        }
        if step == 12 {
            for i in 0..500 {
                c.cmd(&["ZADD", "z", "1", &format!("new{i}")]);
            }
        }
        if cursor == "0" {
            break;
        }
    }
    for i in (0..1000).filter(|i| i % 37 == 0) {
        assert!(seen.contains(format!("m{i}").as_bytes()), "m{i} missed");
    }
}

#[test]
fn zrandmember_errors_and_exact_cases() {
    both_protocols(&[
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
        &["ZRANDMEMBER", "nokey"],
        &["ZRANDMEMBER", "nokey", "5"],
        &["ZRANDMEMBER", "nokey", "-5", "WITHSCORES"],
        &["ZRANDMEMBER", "z", "0"],
        &["ZRANDMEMBER", "z", "0", "WITHSCORES"],
        // A count at least the size returns the whole set, highest score first.
        &["ZRANDMEMBER", "z", "5"],
        &["ZRANDMEMBER", "z", "100", "WITHSCORES"],
        &["ZRANDMEMBER", "z", "9223372036854775807"],
        &["ZRANDMEMBER", "z", "abc"],
        &["ZRANDMEMBER", "z", "1.5"],
        &["ZRANDMEMBER", "z", "-9223372036854775808"],
        &["ZRANDMEMBER", "z", "1", "WITHSCORE"],
        &["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"],
        &["ZRANDMEMBER", "z", "4611686018427387904", "WITHSCORES"],
        &["ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES"],
        &["ZRANDMEMBER", "nokey", "4611686018427387904", "WITHSCORES"],
        &["ZRANDMEMBER", "z", "4611686018427387903", "WITHSCORES"],
        &["ZRANDMEMBER", "z", "-9223372036854775808", "x"],
        &["ZRANDMEMBER", "z", "abc", "x"],
        &["SET", "s", "x"],
        &["ZRANDMEMBER", "s"],
        &["ZRANDMEMBER", "s", "0"],
        &["ZRANDMEMBER", "s", "abc"],
    ]);
}

/// Checks one ZRANDMEMBER reply against the rules: membership, scores,
/// distinctness for a positive count, and the reply layout.
fn check_random_reply(
    reply: &[u8],
    set: &BTreeMap<String, String>,
    count: i64,
    withscores: bool,
    resp3: bool,
) {
    let elems = items(parse(reply));
    let pairs: Vec<(String, Option<String>)> = if !withscores {
        elems
            .iter()
            .map(|e| (String::from_utf8(bulk(e)).expect("utf8"), None))
            .collect()
    } else if resp3 {
        elems
            .into_iter()
            .map(|e| {
                let pair = items(e);
                assert_eq!(pair.len(), 2);
                (
                    String::from_utf8(bulk(&pair[0])).expect("utf8"),
                    Some(score_text(&pair[1])),
                )
            })
            .collect()
    } else {
        assert_eq!(elems.len() % 2, 0);
        elems
            .chunks(2)
            .map(|p| {
                (
                    String::from_utf8(bulk(&p[0])).expect("utf8"),
                    Some(score_text(&p[1])),
                )
            })
            .collect()
    };
    let want_len = if count < 0 {
        count.unsigned_abs() as usize
    } else {
        (count as usize).min(set.len())
    };
    assert_eq!(
        pairs.len(),
        want_len,
        "ZRANDMEMBER {count} returned {}",
        pairs.len()
    );
    for (member, score) in &pairs {
        let stored = set
            .get(member)
            .unwrap_or_else(|| panic!("{member} is not in the set"));
        if let Some(score) = score {
            assert_eq!(score, stored);
        }
    }
    if count > 0 {
        let distinct: HashSet<&String> = pairs.iter().map(|(m, _)| m).collect();
        assert_eq!(
            distinct.len(),
            pairs.len(),
            "repeated member for a positive count"
        );
    }
}

#[test]
fn zrandmember_shapes() {
    let server = Server::start();
    for resp3 in [false, true] {
        let mut c = server.connect();
        if resp3 {
            c.cmd(&["HELLO", "3"]);
        }
        c.cmd(&["DEL", "small", "big"]);
        let mut small = BTreeMap::new();
        for i in 0..20 {
            c.cmd(&["ZADD", "small", &format!("{i}.5"), &format!("s{i}")]);
            small.insert(format!("s{i}"), format!("{i}.5"));
        }
        let mut big = BTreeMap::new();
        for i in 0..300 {
            c.cmd(&["ZADD", "big", &i.to_string(), &format!("b{i}")]);
            big.insert(format!("b{i}"), i.to_string());
        }
        for (key, set) in [("small", &small), ("big", &big)] {
            // Every case of zrandmemberWithCountCommand: repeats, whole set,
            // most of the set, a few of many.
            for count in [
                1i64, -1, -7, -1000, 3, 7, 15, 19, 20, 25, 150, 299, 300, 301,
            ] {
                for withscores in [false, true] {
                    let n = count.to_string();
                    let mut args = vec!["ZRANDMEMBER", key, &n];
                    if withscores {
                        args.push("WITHSCORES");
                    }
                    check_random_reply(&c.cmd(&args), set, count, withscores, resp3);
                }
            }
            let one = parse(&c.cmd(&["ZRANDMEMBER", key]));
            assert!(set.contains_key(&String::from_utf8(bulk(&one)).expect("utf8")));
        }
        // Over many draws every member of the small set shows up.
        let reply = items(parse(&c.cmd(&["ZRANDMEMBER", "small", "-2000"])));
        let seen: HashSet<Vec<u8>> = reply.iter().map(bulk).collect();
        assert_eq!(seen.len(), 20);
    }
    // Beyond what fits in one reply, reddish answers "out of range" instead of allocating.
    let mut c = server.connect();
    assert_eq!(
        c.cmd_str(&["ZRANDMEMBER", "small", "-4611686018427387903"]),
        "-ERR value is out of range\r\n"
    );
}

#[test]
fn encodings_and_conversions() {
    let Some(mut p) = Pair::new() else { return };
    let encoding = p.supports(&["OBJECT", "ENCODING", "probe"]);
    let long = "x".repeat(65);
    let mut script: Vec<Vec<String>> = vec![
        // A listpack stores -0 as the integer 0; a skiplist keeps -0. ZSCORE shows
        // which encoding holds a member, so these compare even without OBJECT.
        cmd(&["ZADD", "lp", "-0", "a"]),
        cmd(&["ZSCORE", "lp", "a"]),
        cmd(&["ZADD", "sl", "-0", &long]),
        cmd(&["ZSCORE", "sl", &long]),
        cmd(&["ZADD", "sl", "-0", "b"]),
        cmd(&["ZSCORE", "sl", "b"]),
        // Only ZADD's first member decides a new key's encoding.
        cmd(&["ZADD", "mix", "-0", "a", "-0", &long, "-0", "c"]),
        cmd(&["ZRANGE", "mix", "0", "-1", "WITHSCORES"]),
    ];
    // 128 entries stay a listpack, the 129th converts; values past 64 bytes convert.
    let mut add = cmd(&["ZADD", "n"]);
    for i in 0..128 {
        add.push(i.to_string());
        add.push(format!("m{i}"));
    }
    script.push(add);
    script.extend([
        cmd(&["ZADD", "n", "-0", "z128"]),
        cmd(&["ZADD", "n", "-0", "z129"]),
        cmd(&["ZSCORE", "n", "z128"]),
        cmd(&["ZSCORE", "n", "z129"]),
        cmd(&["ZADD", "v", "-0", &"y".repeat(64)]),
        cmd(&["ZADD", "v", "-0", &long]),
        cmd(&["ZRANGE", "v", "0", "-1", "WITHSCORES"]),
        // Big sets never go back, even when they shrink.
        cmd(&["ZREMRANGEBYRANK", "n", "0", "-3"]),
        cmd(&["ZADD", "n", "-0", "again"]),
        cmd(&["ZSCORE", "n", "again"]),
        // Results that are stored are re-encoded by their own size.
        cmd(&["ZADD", "neg", "-0", &long, "-0", "q"]),
        cmd(&["ZUNIONSTORE", "u", "1", "neg"]),
        cmd(&["ZRANGE", "u", "0", "-1", "WITHSCORES"]),
        cmd(&["ZREM", "neg", &long]),
        cmd(&["ZUNIONSTORE", "u", "1", "neg"]),
        cmd(&["ZRANGE", "u", "0", "-1", "WITHSCORES"]),
        cmd(&["ZUNION", "1", "neg", "WITHSCORES"]),
        cmd(&["ZDIFFSTORE", "u", "1", "neg"]),
        cmd(&["ZSCORE", "u", "q"]),
        cmd(&["ZRANGESTORE", "r", "neg", "0", "-1"]),
        cmd(&["ZSCORE", "r", "q"]),
        cmd(&["ZINCRBY", "fresh", "-0", "m"]),
        cmd(&["ZSCORE", "fresh", "m"]),
        cmd(&["ZSCAN", "fresh", "0"]),
    ]);
    if encoding {
        for key in ["lp", "sl", "mix", "n", "v", "u", "r", "fresh"] {
            script.push(cmd(&["OBJECT", "ENCODING", key]));
        }
    }
    for proto in 0..2 {
        if proto == 1 {
            p.send(&["FLUSHALL"]);
            p.resp3();
        }
        for c in &script {
            let args: Vec<&str> = c.iter().map(String::as_str).collect();
            p.check(&args);
        }
    }
}

#[test]
fn conversion_thresholds_follow_config_set() {
    let Some(mut p) = Pair::new() else { return };
    let encoding = p.supports(&["OBJECT", "ENCODING", "probe"]);
    let mut script: Vec<Vec<String>> = vec![
        cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "2"]),
        cmd(&["CONFIG", "SET", "zset-max-listpack-value", "3"]),
        cmd(&["ZADD", "a", "-0", "x", "-0", "y"]),
        cmd(&["ZADD", "a", "-0", "z"]),
        cmd(&["ZRANGE", "a", "0", "-1", "WITHSCORES"]),
        cmd(&["ZADD", "b", "-0", "abcd"]),
        cmd(&["ZSCORE", "b", "abcd"]),
        // ZRANGESTORE sizes its result by a rank range's length up front.
        cmd(&["ZRANGESTORE", "r1", "a", "0", "-1", "REV"]),
        cmd(&["ZRANGE", "r1", "0", "-1", "WITHSCORES"]),
        cmd(&["ZRANGESTORE", "r2", "a", "-inf", "+inf", "BYSCORE", "REV"]),
        cmd(&["ZRANGE", "r2", "0", "-1", "WITHSCORES"]),
        cmd(&["ZRANGESTORE", "r3", "a", "0", "0"]),
        cmd(&["ZRANGE", "r3", "0", "-1", "WITHSCORES"]),
        cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "0"]),
        cmd(&["ZADD", "c", "-0", "x"]),
        cmd(&["ZSCORE", "c", "x"]),
        cmd(&["ZRANGESTORE", "r4", "a", "0", "0"]),
        cmd(&["ZRANGE", "r4", "0", "-1", "WITHSCORES"]),
        cmd(&["ZUNIONSTORE", "u", "1", "a"]),
        cmd(&["ZRANGE", "u", "0", "-1", "WITHSCORES"]),
        cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "128"]),
        cmd(&["CONFIG", "SET", "zset-max-listpack-value", "64"]),
    ];
    if encoding {
        for key in ["a", "b", "r1", "r2", "r3", "c", "r4", "u"] {
            script.push(cmd(&["OBJECT", "ENCODING", key]));
        }
    }
    for c in &script {
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        p.check(&args);
    }
}

#[test]
fn big_sets_match_redis() {
    // 2000 members with repeated scores: a skiplist on both sides.
    let mut script = Vec::new();
    let mut add = cmd(&["ZADD", "big"]);
    for i in 0..2000 {
        add.push(format!("{}", (i * 7919) % 500));
        add.push(format!("member:{i:04}"));
    }
    script.push(add);
    let mut add = cmd(&["ZADD", "other"]);
    for i in (0..3000).step_by(3) {
        add.push(format!("{}", i % 11));
        add.push(format!("member:{i:04}"));
    }
    script.push(add);
    for c in [
        &["ZCARD", "big"][..],
        &["ZRANGE", "big", "0", "9", "WITHSCORES"],
        &["ZRANGE", "big", "1000", "1010", "WITHSCORES"],
        &["ZRANGE", "big", "-5", "-1", "WITHSCORES"],
        &["ZRANGE", "big", "3", "8", "REV", "WITHSCORES"],
        &["ZRANGE", "big", "100", "(101", "BYSCORE", "WITHSCORES"],
        &[
            "ZRANGE", "big", "(400", "300", "BYSCORE", "REV", "LIMIT", "3", "5",
        ],
        &[
            "ZRANGE", "big", "-inf", "+inf", "BYSCORE", "LIMIT", "1990", "100",
        ],
        &["ZRANGEBYSCORE", "big", "250", "250"],
        &["ZCOUNT", "big", "100", "200"],
        &["ZCOUNT", "big", "(100", "(200"],
        &["ZCOUNT", "big", "-inf", "+inf"],
        &["ZCOUNT", "big", "600", "700"],
        &["ZRANK", "big", "member:1234"],
        &["ZREVRANK", "big", "member:1234"],
        &["ZRANK", "big", "member:0000"],
        &["ZREVRANK", "big", "member:1999"],
        &["ZSCORE", "big", "member:1500"],
        &["ZMSCORE", "big", "member:0001", "nope", "member:1999"],
        &["ZINCRBY", "big", "1000", "member:0007"],
        &["ZRANK", "big", "member:0007"],
        &[
            "ZADD",
            "big",
            "GT",
            "CH",
            "-5",
            "member:0008",
            "5000",
            "member:0009",
        ],
        &["ZRANGE", "big", "-3", "-1", "WITHSCORES"],
        &[
            "ZUNION",
            "2",
            "big",
            "other",
            "WEIGHTS",
            "2",
            "0.5",
            "AGGREGATE",
            "MAX",
            "WITHSCORES",
        ],
        &["ZINTER", "2", "big", "other", "WITHSCORES"],
        &["ZINTERCARD", "2", "big", "other", "LIMIT", "100"],
        &["ZDIFF", "2", "other", "big"],
        &["ZINTERSTORE", "d", "2", "big", "other"],
        &["ZRANGE", "d", "0", "-1", "WITHSCORES"],
        &["ZRANGESTORE", "d", "big", "10", "20"],
        &["ZRANGE", "d", "0", "-1", "WITHSCORES"],
        &["ZREMRANGEBYSCORE", "big", "(100", "120"],
        &["ZREMRANGEBYRANK", "big", "500", "599"],
        &["ZREM", "big", "member:0001", "member:0002", "nope"],
        &["ZPOPMIN", "big", "3"],
        &["ZPOPMAX", "big", "3"],
        &["ZMPOP", "1", "big", "MAX", "COUNT", "2"],
        &["ZCARD", "big"],
        &["ZRANGE", "big", "0", "-1"],
        &["ZREMRANGEBYRANK", "big", "0", "-1"],
        &["EXISTS", "big"],
    ] {
        script.push(cmd(c));
    }
    let mut add = cmd(&["ZADD", "lex"]);
    for i in 0..500 {
        add.push("0".into());
        add.push(format!("w{:03}", (i * 37) % 500));
    }
    script.push(add);
    for c in [
        &["ZRANGEBYLEX", "lex", "[w100", "(w110"][..],
        &["ZREVRANGEBYLEX", "lex", "(w300", "[w290", "LIMIT", "2", "3"],
        &["ZLEXCOUNT", "lex", "[w100", "+"],
        &["ZLEXCOUNT", "lex", "(w499", "+"],
        &["ZREMRANGEBYLEX", "lex", "-", "(w250"],
        &["ZRANGE", "lex", "0", "4"],
        &["ZCARD", "lex"],
    ] {
        script.push(cmd(c));
    }
    run_owned(&script);
}

#[test]
fn wrong_type_errors() {
    let mut script: Vec<Vec<String>> = vec![cmd(&["SET", "s", "x"])];
    for c in [
        &["ZADD", "s", "1", "a"][..],
        &["ZADD", "s", "XX", "1", "a"],
        &["ZINCRBY", "s", "1", "a"],
        &["ZREM", "s", "a"],
        &["ZCARD", "s"],
        &["ZSCORE", "s", "a"],
        &["ZMSCORE", "s", "a"],
        &["ZRANK", "s", "a"],
        &["ZREVRANK", "s", "a"],
        &["ZCOUNT", "s", "0", "1"],
        &["ZLEXCOUNT", "s", "-", "+"],
        &["ZRANGE", "s", "0", "-1"],
        &["ZRANGESTORE", "d", "s", "0", "-1"],
        &["ZREVRANGE", "s", "0", "-1"],
        &["ZRANGEBYSCORE", "s", "0", "1"],
        &["ZREVRANGEBYSCORE", "s", "1", "0"],
        &["ZRANGEBYLEX", "s", "-", "+"],
        &["ZREVRANGEBYLEX", "s", "+", "-"],
        &["ZREMRANGEBYRANK", "s", "0", "1"],
        &["ZREMRANGEBYSCORE", "s", "0", "1"],
        &["ZREMRANGEBYLEX", "s", "-", "+"],
        &["ZPOPMIN", "s"],
        &["ZPOPMAX", "s", "2"],
        &["ZMPOP", "1", "s", "MIN"],
        &["ZRANDMEMBER", "s"],
        &["ZRANDMEMBER", "s", "2"],
        &["ZUNION", "1", "s"],
        &["ZINTER", "1", "s"],
        &["ZDIFF", "1", "s"],
        &["ZINTERCARD", "1", "s"],
        &["ZUNIONSTORE", "d", "1", "s"],
        &["ZSCAN", "s", "0"],
        // Argument errors parsed before the lookup win over WRONGTYPE.
        &["ZCOUNT", "s", "x", "1"],
        &["ZLEXCOUNT", "s", "x", "+"],
        &["ZRANGE", "s", "x", "1"],
        &["ZREMRANGEBYRANK", "s", "x", "1"],
        &["ZADD", "s", "x", "a"],
        &["ZPOPMIN", "s", "-1"],
        &["ZSCAN", "s", "x"],
        &["ZRANDMEMBER", "s", "x"],
        // ...and WRONGTYPE wins over options parsed after it.
        &["ZSCAN", "s", "0", "COUNT", "0"],
        &["ZUNION", "1", "s", "FOO"],
        &["EXISTS", "d"],
    ] {
        script.push(cmd(c));
    }
    run_owned(&script);
}

#[test]
fn arity_errors() {
    both_protocols(&[
        &["ZADD", "z"],
        &["ZCARD"],
        &["ZCARD", "a", "b"],
        &["ZSCORE", "z"],
        &["ZRANGE", "z", "0"],
        &["ZRANGESTORE", "d", "z", "0"],
        &["ZPOPMIN"],
        &["ZMPOP", "1"],
        &["ZRANDMEMBER"],
        &["ZUNION", "1"],
        &["ZUNIONSTORE", "d", "1"],
        &["ZINTERCARD", "1"],
        &["ZSCAN", "z"],
        &["ZREMRANGEBYLEX", "z", "-"],
        &["ZINCRBY", "z", "1"],
        &["ZMSCORE", "z"],
    ]);
}

#[test]
fn keyspace_hits_and_misses() {
    let Some(mut p) = Pair::new() else { return };
    p.send(&["CONFIG", "RESETSTAT"]);
    for c in [
        &["ZADD", "z", "1", "a"][..],
        &["ZSCORE", "z", "a"],
        &["ZSCORE", "nokey", "a"],
        &["ZRANGE", "z", "0", "-1"],
        &["ZRANGE", "nokey", "0", "-1"],
        &["ZRANGESTORE", "d", "z", "0", "-1"],
        &["ZUNION", "3", "z", "nokey", "d"],
        &["ZMSCORE", "nokey", "a"],
        &["ZCARD", "z"],
        &["ZRANDMEMBER", "nokey", "3"],
        &["ZSCAN", "z", "0"],
        &["ZPOPMIN", "nokey"],
        &["ZREM", "nokey", "a"],
    ] {
        p.check(c);
    }
    let stats = |info: Vec<u8>| {
        String::from_utf8_lossy(&info)
            .lines()
            .filter(|l| l.starts_with("keyspace_"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let want = stats(p.want.cmd(&["INFO", "stats"]));
    let got = stats(p.got.cmd(&["INFO", "stats"]));
    assert_eq!(got, want);
}

/// One random command of the seeded differential test.
fn random_command(rng: &mut StdRng) -> Vec<String> {
    const KEYS: [&str; 4] = ["z1", "z2", "z3", "z4"];
    const SCORES: [&str; 15] = [
        "0", "-0", "1", "2", "2.5", "-1", "inf", "-inf", "+inf", "1e300", "-1e300", "0.1", "3",
        "1e18", "7",
    ];
    const BOUNDS: [&str; 11] = [
        "-inf", "+inf", "(1", "1", "2", "(2", "0", "(0", "3", "-1", "(inf",
    ];
    const LEX: [&str; 11] = ["-", "+", "[a", "(a", "[c", "(e", "[k", "[z", "(z", "[", "("];
    let long_x = "x".repeat(70);
    let long_y = "y".repeat(65);
    let mut members: Vec<String> = (b'a'..=b't').map(|c| (c as char).to_string()).collect();
    members.extend([long_x, long_y, String::new(), "10".into(), "-5".into()]);
    let key = |rng: &mut StdRng| KEYS[rng.gen_range(0..KEYS.len())].to_string();
    let pick = |rng: &mut StdRng, from: &[&str]| from[rng.gen_range(0..from.len())].to_string();
    let member = |rng: &mut StdRng| members[rng.gen_range(0..members.len())].clone();
    let mut c: Vec<String> = Vec::new();
    match rng.gen_range(0..36) {
        0..=7 => {
            let opts: &[&str] = match rng.gen_range(0..9) {
                0 => &["NX"],
                1 => &["XX"],
                2 => &["GT"],
                3 => &["LT"],
                4 => &["CH"],
                5 => &["XX", "GT", "CH"],
                6 => &["INCR"],
                _ => &[],
            };
            c.extend(["ZADD".to_string(), key(rng)]);
            c.extend(opts.iter().map(|s| s.to_string()));
            let pairs = if opts.contains(&"INCR") {
                1
            } else {
                rng.gen_range(1..=5)
            };
            for _ in 0..pairs {
                c.push(pick(rng, &SCORES));
                c.push(member(rng));
            }
        }
        8 | 9 => {
            // Lex commands only make sense when all scores are equal.
            c.extend([
                "ZADD".into(),
                "lex".into(),
                "0".into(),
                member(rng),
                "0".into(),
                member(rng),
            ]);
        }
        10 | 11 => c.extend(["ZINCRBY".into(), key(rng), pick(rng, &SCORES), member(rng)]),
        12 => c.extend(["ZREM".into(), key(rng), member(rng), member(rng)]),
        13 => c.extend(["ZMSCORE".into(), key(rng), member(rng), member(rng)]),
        14 => c.extend([
            pick(rng, &["ZRANK", "ZREVRANK", "ZSCORE"]),
            key(rng),
            member(rng),
        ]),
        15 => c.extend([
            "ZCOUNT".into(),
            key(rng),
            pick(rng, &BOUNDS),
            pick(rng, &BOUNDS),
        ]),
        16 => c.extend([
            "ZLEXCOUNT".into(),
            "lex".into(),
            pick(rng, &LEX),
            pick(rng, &LEX),
        ]),
        17..=19 => {
            let kind = rng.gen_range(0..3);
            let store = rng.gen_bool(0.2);
            if store {
                c.extend(["ZRANGESTORE".into(), "dst".into()]);
            } else {
                c.push("ZRANGE".into());
            }
            match kind {
                0 => c.extend([
                    key(rng),
                    rng.gen_range(-8..8).to_string(),
                    rng.gen_range(-8..8).to_string(),
                ]),
                1 => c.extend([
                    key(rng),
                    pick(rng, &BOUNDS),
                    pick(rng, &BOUNDS),
                    "BYSCORE".into(),
                ]),
                _ => c.extend([
                    "lex".into(),
                    pick(rng, &LEX),
                    pick(rng, &LEX),
                    "BYLEX".into(),
                ]),
            }
            if rng.gen_bool(0.5) {
                c.push("REV".into());
            }
            if !store && kind != 2 && rng.gen_bool(0.5) {
                c.push("WITHSCORES".into());
            }
            if kind != 0 && rng.gen_bool(0.5) {
                c.extend([
                    "LIMIT".into(),
                    rng.gen_range(-1..5).to_string(),
                    rng.gen_range(-1..5).to_string(),
                ]);
            }
        }
        20 => {
            c.extend([pick(rng, &["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]), key(rng)]);
            c.extend([pick(rng, &BOUNDS), pick(rng, &BOUNDS), "WITHSCORES".into()]);
        }
        21 => c.extend([
            pick(rng, &["ZRANGEBYLEX", "ZREVRANGEBYLEX"]),
            "lex".into(),
            pick(rng, &LEX),
            pick(rng, &LEX),
        ]),
        22 => c.extend([
            "ZREMRANGEBYRANK".into(),
            key(rng),
            rng.gen_range(-5..5).to_string(),
            rng.gen_range(-5..5).to_string(),
        ]),
        23 => c.extend([
            "ZREMRANGEBYSCORE".into(),
            key(rng),
            pick(rng, &BOUNDS),
            pick(rng, &BOUNDS),
        ]),
        24 => c.extend([
            "ZREMRANGEBYLEX".into(),
            "lex".into(),
            pick(rng, &LEX),
            pick(rng, &LEX),
        ]),
        25 => {
            c.extend([pick(rng, &["ZPOPMIN", "ZPOPMAX"]), key(rng)]);
            if rng.gen_bool(0.5) {
                c.push(rng.gen_range(0..3).to_string());
            }
        }
        26 => c.extend([
            "ZMPOP".into(),
            "2".into(),
            key(rng),
            key(rng),
            pick(rng, &["MIN", "MAX"]),
            "COUNT".into(),
            rng.gen_range(1..4).to_string(),
        ]),
        27..=31 => {
            let op = pick(
                rng,
                &[
                    "ZUNION",
                    "ZINTER",
                    "ZDIFF",
                    "ZUNIONSTORE",
                    "ZINTERSTORE",
                    "ZDIFFSTORE",
                    "ZINTERCARD",
                ],
            );
            let keys: Vec<String> = (0..rng.gen_range(1..=3)).map(|_| key(rng)).collect();
            c.push(op.clone());
            if op.ends_with("STORE") {
                c.push("dst".into());
            }
            c.push(keys.len().to_string());
            c.extend(keys.iter().cloned());
            let scored = matches!(
                op.as_str(),
                "ZUNION" | "ZINTER" | "ZUNIONSTORE" | "ZINTERSTORE"
            );
            if scored && rng.gen_bool(0.5) {
                c.push("WEIGHTS".into());
                for _ in &keys {
                    c.push(pick(rng, &["1", "2", "-1", "0", "inf", "0.5"]));
                }
            }
            if scored && rng.gen_bool(0.5) {
                c.extend(["AGGREGATE".into(), pick(rng, &["SUM", "MIN", "MAX"])]);
            }
            if matches!(op.as_str(), "ZUNION" | "ZINTER" | "ZDIFF") && rng.gen_bool(0.6) {
                c.push("WITHSCORES".into());
            }
            if op == "ZINTERCARD" && rng.gen_bool(0.5) {
                c.extend(["LIMIT".into(), rng.gen_range(0..4).to_string()]);
            }
        }
        32 => c.extend([
            "ZRANGE".into(),
            "dst".into(),
            "0".into(),
            "-1".into(),
            "WITHSCORES".into(),
        ]),
        33 => c.extend([
            "ZRANGE".into(),
            key(rng),
            "0".into(),
            "-1".into(),
            "WITHSCORES".into(),
        ]),
        34 => c.extend(["ZCARD".into(), key(rng)]),
        _ => c.extend([
            "ZRANGE".into(),
            "lex".into(),
            "0".into(),
            "-1".into(),
            "WITHSCORES".into(),
        ]),
    }
    c
}

#[test]
fn seeded_random_operations() {
    let Some(mut p) = Pair::new() else { return };
    for seed in 0..6u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        p.send(&["FLUSHALL"]);
        if seed == 3 {
            p.resp3();
        }
        // Small thresholds so sets cross between encodings all the time.
        let entries = ["4", "8", "128"][rng.gen_range(0..3)];
        let value = ["3", "64"][rng.gen_range(0..2)];
        p.check(&["CONFIG", "SET", "zset-max-listpack-entries", entries]);
        p.check(&["CONFIG", "SET", "zset-max-listpack-value", value]);
        for _ in 0..400 {
            let c = random_command(&mut rng);
            let args: Vec<&str> = c.iter().map(String::as_str).collect();
            p.check(&args);
        }
        for key in ["z1", "z2", "z3", "z4", "lex", "dst"] {
            p.check(&["ZRANGE", key, "0", "-1", "WITHSCORES"]);
        }
    }
}

/// ZUNION, ZINTER, ZDIFF (and their STORE forms) read plain sets as sorted
/// sets whose members all score 1, intsets and hashtables alike.
#[test]
fn set_operations_accept_plain_sets() {
    support::differential(&[
        &["SADD", "ints", "1", "2", "3"],
        &["SADD", "words", "a", "b", "2"],
        &["ZADD", "z", "5", "a", "7", "2", "9", "x"],
        &["ZUNION", "3", "ints", "words", "z", "WITHSCORES"],
        &[
            "ZUNION",
            "2",
            "ints",
            "z",
            "WEIGHTS",
            "2",
            "3",
            "AGGREGATE",
            "MAX",
            "WITHSCORES",
        ],
        &["ZINTER", "2", "words", "z", "WITHSCORES"],
        &["ZINTER", "2", "ints", "words"],
        &["ZINTERCARD", "2", "ints", "words"],
        &["ZDIFF", "2", "words", "z", "WITHSCORES"],
        &["ZDIFF", "2", "z", "ints", "WITHSCORES"],
        &["ZUNIONSTORE", "dst", "2", "ints", "words"],
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        &["ZINTERSTORE", "dst2", "2", "ints", "z"],
        &["ZRANGE", "dst2", "0", "-1", "WITHSCORES"],
        &["SET", "str", "x"],
        &["ZUNION", "2", "ints", "str"],
        &["RPUSH", "list", "a"],
        &["ZINTER", "2", "list", "ints"],
    ]);
}
