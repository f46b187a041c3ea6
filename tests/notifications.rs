//! Keyspace notifications against redis-server: a subscriber to every
//! channel watches a script of writes on both servers, and the messages it
//! receives (channel, payload, order) must be byte-identical.

mod support;

use support::{Conn, Server};

/// The RESP2 subscribed-mode PING reply, used as a barrier: everything
/// published before it was sent arrives before it.
const PONG: &[u8] = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n";

/// One server with a writer and a subscriber to `*` (all channels).
struct Side {
    writer: Conn,
    subscriber: Conn,
}

impl Side {
    fn new(server: &Server, events: &str) -> Side {
        let mut writer = server.connect();
        assert_eq!(
            writer.cmd(&["CONFIG", "SET", "notify-keyspace-events", events]),
            b"+OK\r\n"
        );
        let mut subscriber = server.connect();
        subscriber.cmd(&["PSUBSCRIBE", "*"]);
        Side { writer, subscriber }
    }

    /// Runs one command; returns its reply and every message it caused.
    fn run(&mut self, args: &[&str]) -> (String, Vec<String>) {
        let reply = String::from_utf8_lossy(&self.writer.cmd(args)).into_owned();
        self.subscriber.send(b"*1\r\n$4\r\nPING\r\n");
        let mut messages = Vec::new();
        loop {
            let message = self.subscriber.read_reply();
            if message == PONG {
                return (reply, messages);
            }
            messages.push(String::from_utf8_lossy(&message).into_owned());
        }
    }
}

/// A script step whose reply is random (SPOP): only its events are compared.
const RANDOM: &str = "?";

/// Runs `script` under `notify-keyspace-events events` on both servers.
fn check(events: &str, script: &[&[&str]]) {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let mut want = Side::new(&oracle, events);
    let mut got = Side::new(&ours, events);
    for args in script {
        let (random, args) = match args {
            [RANDOM, rest @ ..] => (true, rest),
            _ => (false, *args),
        };
        let (want_reply, want_events) = want.run(args);
        let (got_reply, got_events) = got.run(args);
        if !random {
            assert_eq!(got_reply, want_reply, "reply to {args:?}");
        }
        assert_eq!(
            got_events, want_events,
            "events of {args:?} with notify-keyspace-events {events:?}"
        );
    }
}

/// Writes of every family, hitting each notifying path of Redis's handlers,
/// including the ones that do not notify (failed NX, nothing removed).
const SCRIPT: &[&[&str]] = &[
    // Strings.
    &["SET", "s", "1"],
    &["SET", "s", "2", "NX"],
    &["SET", "s", "3", "XX", "EX", "100"],
    &["SET", "s", "4", "KEEPTTL"],
    &["SET", "s", "5", "GET"],
    &["SETNX", "s2", "x"],
    &["SETNX", "s2", "y"],
    &["SETEX", "s3", "100", "v"],
    &["PSETEX", "s4", "100000", "v"],
    &["GETSET", "s2", "z"],
    &["MSET", "m1", "a", "m2", "b"],
    &["MSETNX", "m1", "a", "m3", "b"],
    &["MSETNX", "m4", "a", "m5", "b"],
    &["INCR", "n"],
    &["DECR", "n"],
    &["INCRBY", "n", "5"],
    &["DECRBY", "n", "2"],
    &["INCRBYFLOAT", "n", "1.5"],
    &["APPEND", "ap", "x"],
    &["APPEND", "ap", "y"],
    &["SETRANGE", "sr", "2", "ab"],
    &["SETRANGE", "sr", "0", ""],
    &["SETRANGE", "missing", "0", ""],
    &["GETEX", "s", "EX", "50"],
    &["GETEX", "s", "PERSIST"],
    &["GETEX", "s", "PERSIST"],
    &["GETEX", "s"],
    &["GETEX", "s", "PXAT", "1"],
    &["GETDEL", "s2"],
    &["GETDEL", "s2"],
    // Generic.
    &["DEL", "m1", "nokey", "m2"],
    &["UNLINK", "m3"],
    &["EXPIRE", "m4", "100"],
    &["EXPIRE", "m4", "100", "NX"],
    &["PEXPIRE", "m4", "200000", "GT"],
    &["EXPIREAT", "m4", "99999999999"],
    &["PERSIST", "m4"],
    &["PERSIST", "m4"],
    &["EXPIRE", "m4", "-1"],
    &["PEXPIREAT", "m5", "1"],
    &["SET", "r1", "v"],
    &["RENAME", "r1", "r2"],
    &["SET", "r3", "v"],
    &["RENAME", "r2", "r3"],
    &["RENAMENX", "r3", "r4"],
    &["SET", "r5", "v"],
    &["RENAMENX", "r4", "r5"],
    &["RENAME", "r4", "r4"],
    &["MOVE", "r4", "3"],
    &["COPY", "r5", "c1"],
    &["COPY", "r5", "c1"],
    &["COPY", "r5", "c1", "REPLACE"],
    &["COPY", "r5", "c1", "DB", "2"],
    &["SELECT", "2"],
    &["SET", "indb2", "v"],
    &["DEL", "c1"],
    &["SELECT", "0"],
    // Lists.
    &["LPUSH", "l", "a", "b"],
    &["RPUSH", "l", "c"],
    &["LPUSHX", "l", "d"],
    &["RPUSHX", "nolist", "d"],
    &["LINSERT", "l", "BEFORE", "c", "x"],
    &["LINSERT", "l", "BEFORE", "nothere", "x"],
    &["LSET", "l", "0", "y"],
    &["LREM", "l", "0", "x"],
    &["LREM", "l", "0", "nothere"],
    &["LTRIM", "l", "0", "10"],
    &["LPOP", "l"],
    &["RPOP", "l", "0"],
    &["RPOP", "l", "1"],
    &["RPUSH", "l2", "a", "b", "c"],
    &["LMOVE", "l2", "l3", "LEFT", "RIGHT"],
    &["LMOVE", "l2", "l2", "LEFT", "RIGHT"],
    &["RPOPLPUSH", "l3", "l2"],
    &["LMPOP", "2", "nolist", "l2", "LEFT", "COUNT", "2"],
    &["LMPOP", "1", "l2", "RIGHT", "COUNT", "5"],
    &["RPUSH", "l4", "a"],
    &["RPOPLPUSH", "l4", "l5"],
    &["LTRIM", "l5", "5", "10"],
    &["RPUSH", "l6", "a", "a"],
    &["LREM", "l6", "0", "a"],
    &["LPOP", "l"],
    // Hashes.
    &["HSET", "h", "f", "1", "g", "2"],
    &["HMSET", "h", "f", "3"],
    &["HSETNX", "h", "f", "4"],
    &["HSETNX", "h", "n", "4"],
    &["HINCRBY", "h", "f", "2"],
    &["HINCRBYFLOAT", "h", "f", "0.5"],
    &["HDEL", "h", "nofield"],
    &["HDEL", "h", "f", "g"],
    &["HDEL", "h", "n", "x"],
    &["HINCRBY", "h2", "f", "1"],
    // Sets.
    &["SADD", "st", "a", "b", "c"],
    &["SADD", "st", "a"],
    &["SREM", "st", "nothere"],
    &["SREM", "st", "a"],
    &["SMOVE", "st", "st2", "b"],
    &["SMOVE", "st", "st2", "nothere"],
    &["SMOVE", "st", "st", "c"],
    &["SADD", "st2", "c"],
    &["SMOVE", "st", "st2", "c"],
    &["SADD", "sp", "1", "2", "3", "4"],
    &[RANDOM, "SPOP", "sp"],
    &["SPOP", "sp", "0"],
    &[RANDOM, "SPOP", "sp", "1"],
    &[RANDOM, "SPOP", "sp", "10"],
    &["SADD", "sp", "1"],
    &["SPOP", "sp"],
    &["SADD", "a1", "1", "2"],
    &["SADD", "a2", "2", "3"],
    &["SINTERSTORE", "dst", "a1", "a2"],
    &["SUNIONSTORE", "dst", "a1", "a2"],
    &["SDIFFSTORE", "dst", "a1", "a2"],
    &["SINTERSTORE", "dst", "a1", "nokey"],
    &["SINTERSTORE", "dst", "a1", "nokey"],
    &["SDIFFSTORE", "dst", "a1", "a1"],
    &["SREM", "a1", "1", "2", "3"],
    &["SINTERSTORE", "a2", "a2", "a2"],
    // Failures and type errors notify nothing.
    &["SET", "str", "x"],
    &["INCR", "str"],
    &["LPUSH", "str", "x"],
    &["HSET", "str", "f", "v"],
    &["SADD", "str", "x"],
    &["SMOVE", "a2", "str", "2"],
    &["LSET", "nolist", "0", "x"],
    &["RPUSH", "l7", "x"],
    &["LSET", "l7", "5", "x"],
    &["SET", "str", "y", "GET"],
    &["RENAME", "nokey", "x"],
    &["EXPIRE", "nokey", "0"],
    // SWAPDB and reads notify nothing.
    &["SWAPDB", "0", "1"],
    &["SWAPDB", "0", "1"],
    &["GET", "a2"],
    &["LRANGE", "l7", "0", "-1"],
    &["FLUSHALL"],
];

#[test]
fn every_class_with_both_channels() {
    check("KEA", SCRIPT);
}

#[test]
fn new_key_events() {
    check("KEAn", SCRIPT);
}

#[test]
fn keyevent_channel_only_for_strings() {
    check("E$", SCRIPT);
}

#[test]
fn keyspace_channel_for_generic_lists_and_hashes() {
    check("Kglh", SCRIPT);
}

#[test]
fn sets_only_and_new_only() {
    check("Ks", SCRIPT);
    check("En", SCRIPT);
}

/// `m`: read lookups of missing keys (`lookupKeyRead`) are `keymiss`
/// events; write lookups and OBJECT (`LOOKUP_NONOTIFY`) are not.
#[test]
fn key_miss_events() {
    check(
        "KEm",
        &[
            &["SET", "s", "v"],
            &["RPUSH", "l", "a"],
            &["HSET", "h", "f", "v"],
            &["SADD", "st", "a"],
            &["GET", "s"],
            &["GET", "nos"],
            &["MGET", "s", "m1", "l", "m2"],
            &["EXISTS", "s", "e1", "e2"],
            &["TOUCH", "t1", "s"],
            &["TYPE", "ty"],
            &["TTL", "ttl"],
            &["PTTL", "pttl"],
            &["EXPIRETIME", "et"],
            &["OBJECT", "ENCODING", "obj"],
            &["OBJECT", "IDLETIME", "obj"],
            &["STRLEN", "sl"],
            &["GETRANGE", "gr", "0", "1"],
            &["LCS", "s", "lcs"],
            &["GETDEL", "gd"],
            &["GETEX", "ge"],
            &["GETSET", "gs", "v"],
            &["SET", "sg", "v", "GET"],
            &["COPY", "cp", "x"],
            &["LLEN", "ll"],
            &["LRANGE", "lr", "0", "-1"],
            &["LINDEX", "li", "0"],
            &["LPOS", "lp", "a"],
            &["HGET", "hg", "f"],
            &["HGETALL", "hga"],
            &["HLEN", "hl"],
            &["HSCAN", "hs", "0"],
            &["HRANDFIELD", "hr"],
            &["SCARD", "sc"],
            &["SISMEMBER", "si", "a"],
            &["SMEMBERS", "sm"],
            &["SRANDMEMBER", "sr"],
            &["SSCAN", "ss", "0"],
            &["SINTER", "st", "x1", "x2"],
            &["SUNION", "x3", "st"],
            &["SDIFF", "x4", "st"],
            &["SINTERCARD", "2", "st", "x5"],
            &["SINTERSTORE", "d", "st", "x6"],
            &["SUNIONSTORE", "d", "st", "x7"],
            &["SDIFFSTORE", "d", "st", "x8"],
            // Write lookups.
            &["LPUSHX", "w1", "a"],
            &["INCR", "w2"],
            &["HDEL", "w3", "f"],
            &["SREM", "w4", "a"],
            &["LPOP", "w5"],
            &["RENAME", "w6", "x"],
            &["DEL", "w7"],
            &["EXPIRE", "w8", "10"],
        ],
    );
}

/// Sorted set writes, each notifying path of Redis's t_zset.c and the
/// writes that change nothing (and so notify nothing), plus read lookups of
/// missing keys (`keymiss`) and the lookups that are not reads.
const ZSET_SCRIPT: &[&[&str]] = &[
    &["ZADD", "z", "1", "a", "2", "b"],
    &["ZADD", "z", "NX", "5", "a"],
    &["ZADD", "z", "XX", "5", "nothere"],
    &["ZADD", "z", "1", "a"],
    &["ZADD", "z", "GT", "0", "b"],
    &["ZADD", "z", "LT", "CH", "0", "b", "9", "c"],
    &["ZADD", "z", "XX", "CH", "7", "c"],
    &["ZADD", "nozset", "XX", "1", "a"],
    &["ZADD", "z", "INCR", "0", "a"],
    &["ZADD", "z", "INCR", "2", "a"],
    &["ZADD", "z", "INCR", "NX", "2", "a"],
    &["ZINCRBY", "z", "0", "a"],
    &["ZINCRBY", "z", "1.5", "a"],
    &["ZINCRBY", "zi", "1", "m"],
    &["ZADD", "zn", "-inf", "m"],
    &["ZINCRBY", "zn", "+inf", "m"],
    &["ZADD", "zn", "INCR", "+inf", "m"],
    &["ZREM", "z", "nothere"],
    &["ZREM", "z", "a", "nothere"],
    &["ZREM", "nozset", "a"],
    &["ZREM", "zi", "m", "x"],
    &[
        "ZADD", "r", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
    ],
    &["ZREMRANGEBYRANK", "r", "10", "20"],
    &["ZREMRANGEBYRANK", "r", "0", "0"],
    &["ZREMRANGEBYSCORE", "r", "100", "200"],
    &["ZREMRANGEBYSCORE", "r", "(2", "3"],
    &["ZREMRANGEBYLEX", "r", "[x", "[y"],
    &["ZREMRANGEBYLEX", "r", "[d", "[d"],
    &["ZREMRANGEBYSCORE", "r", "-inf", "+inf"],
    &["ZREMRANGEBYRANK", "nozset", "0", "-1"],
    &["ZADD", "r", "1", "a", "2", "b"],
    &["ZREMRANGEBYLEX", "r", "-", "+"],
    &["ZADD", "r", "1", "a", "2", "b"],
    &["ZREMRANGEBYRANK", "r", "0", "-1"],
    &["ZADD", "p", "1", "a", "2", "b", "3", "c", "4", "d"],
    &["ZPOPMIN", "p", "0"],
    &["ZPOPMAX", "p", "0"],
    &["ZPOPMIN", "p"],
    &["ZPOPMAX", "p", "1"],
    &["ZPOPMIN", "nozset"],
    &["ZPOPMAX", "p", "10"],
    &["ZADD", "p", "1", "a", "2", "b", "3", "c"],
    &["ZMPOP", "2", "nozset", "p", "MAX"],
    &["ZMPOP", "1", "p", "MIN", "COUNT", "1"],
    &["ZMPOP", "2", "nozset", "p", "MIN", "COUNT", "5"],
    &["ZMPOP", "1", "nozset", "MIN"],
    &["ZADD", "s1", "1", "a", "2", "b"],
    &["ZADD", "s2", "3", "b", "4", "c"],
    &["ZUNIONSTORE", "d", "2", "s1", "s2"],
    &["ZINTERSTORE", "d", "2", "s1", "s2", "WEIGHTS", "1", "2"],
    &["ZDIFFSTORE", "d", "2", "s1", "s2"],
    &["ZRANGESTORE", "d", "s1", "0", "-1"],
    &["ZRANGESTORE", "d", "s1", "(5", "+inf", "BYSCORE"],
    &["ZRANGESTORE", "d", "s1", "5", "6"],
    &["ZUNIONSTORE", "d", "1", "nozset"],
    &["ZINTERSTORE", "d", "2", "s1", "nozset"],
    &["ZDIFFSTORE", "d", "2", "s1", "s1"],
    &["ZDIFFSTORE", "s1", "2", "s1", "s2"],
    &["ZINTERSTORE", "s2", "2", "s1", "s2"],
    &["ZUNIONSTORE", "d", "2", "s1", "s2"],
    &["ZRANGESTORE", "d", "nozset", "0", "-1"],
    // Failures and type errors notify nothing.
    &["SET", "str", "x"],
    &["ZADD", "str", "1", "a"],
    &["ZINCRBY", "str", "1", "a"],
    &["ZREM", "str", "a"],
    &["ZREMRANGEBYRANK", "str", "0", "-1"],
    &["ZPOPMIN", "str"],
    &["ZMPOP", "2", "nozset", "str", "MIN"],
    &["ZUNIONSTORE", "d", "2", "s1", "str"],
    &["ZRANGESTORE", "d", "str", "0", "-1"],
    &["ZADD", "z", "NX", "XX", "1", "a"],
    &["ZADD", "z", "1", "a", "x", "b"],
    &["ZREMRANGEBYSCORE", "z", "x", "1"],
    &["ZUNIONSTORE", "str", "1", "z"],
    // Reads.
    &["ZCARD", "zc"],
    &["ZSCORE", "zs", "m"],
    &["ZMSCORE", "zms", "m"],
    &["ZRANK", "zrk", "m"],
    &["ZREVRANK", "zrrk", "m"],
    &["ZCOUNT", "zco", "0", "1"],
    &["ZLEXCOUNT", "zlc", "-", "+"],
    &["ZRANGE", "zr", "0", "-1"],
    &["ZREVRANGE", "zrr", "0", "-1"],
    &["ZRANGEBYSCORE", "zrs", "0", "1"],
    &["ZREVRANGEBYLEX", "zrl", "+", "-"],
    &["ZRANDMEMBER", "zrm"],
    &["ZRANDMEMBER", "zrm", "2"],
    &["ZSCAN", "zsc", "0"],
    &["ZUNION", "2", "zu", "z"],
    &["ZINTER", "1", "zin"],
    &["ZDIFF", "2", "z", "zd"],
    &["ZINTERCARD", "2", "z", "zic"],
    &["ZCARD", "z"],
    &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    &["FLUSHALL"],
];

#[test]
fn zset_events() {
    check("KEA", ZSET_SCRIPT);
    check("KEAnm", ZSET_SCRIPT);
    check("Kz", ZSET_SCRIPT);
    check("Egm", ZSET_SCRIPT);
}

#[test]
fn nothing_without_a_channel_type() {
    check("A", &SCRIPT[..20]);
}

/// Expired keys notify `expired`, whether a read finds them expired (lazy) or
/// active expiry reclaims them first; a write over an expired key expires it
/// before creating it anew. Which of the two finds a key first is a matter of
/// timing, so the events are compared as a whole.
#[test]
fn expired_events() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    for events in ["Kx", "KEAnm", "E$"] {
        let all_events = |server: &Server| {
            let mut side = Side::new(server, events);
            let mut seen = Vec::new();
            for args in [
                &["SET", "e1", "v", "PX", "5"][..],
                &["SET", "e2", "v", "PX", "5"],
                &["HSET", "e3", "f", "v"],
                &["PEXPIRE", "e3", "5"],
            ] {
                seen.extend(side.run(args).1);
            }
            std::thread::sleep(std::time::Duration::from_millis(30));
            for args in [
                &["GET", "e1"][..],
                &["SET", "e2", "new"],
                &["HGET", "e3", "f"],
                &["DEL", "e2"],
            ] {
                seen.extend(side.run(args).1);
            }
            seen.sort();
            seen
        };
        assert_eq!(all_events(&ours), all_events(&oracle), "events {events:?}");
    }
}

/// Bitmaps and HyperLogLogs: `setbit` only for changes (BITFIELD's too),
/// `set`/`del` for BITOP's destination, `pfadd` for PFADD and PFMERGE,
/// `new` for keys they create, key misses of their reads.
#[test]
fn bitmap_and_hyperloglog_events() {
    check(
        "KEAm",
        &[
            &["SETBIT", "b", "3", "1"],
            &["SETBIT", "b", "3", "1"],
            &["SETBIT", "b", "30", "0"],
            &["GETBIT", "nob", "0"],
            &["BITCOUNT", "nob"],
            &[
                "BITFIELD", "b", "SET", "u8", "0", "0", "SET", "u8", "0", "0",
            ],
            &["BITFIELD", "b", "INCRBY", "u8", "0", "1"],
            &[
                "BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9",
            ],
            &["BITFIELD", "nob", "GET", "u8", "0"],
            &["BITOP", "AND", "d", "b", "bf"],
            &["BITOP", "AND", "d", "nob", "nob2"],
            &["PFADD", "h", "a", "b"],
            &["PFADD", "h", "a"],
            &["PFADD", "h"],
            &["PFADD", "h2"],
            &["PFCOUNT", "h"],
            &["PFCOUNT", "noh"],
            &["PFCOUNT", "h", "noh"],
            &["PFMERGE", "h3", "h", "h2"],
            &["PFMERGE", "h3"],
            &["PFDEBUG", "TODENSE", "h3"],
        ],
    );
}

/// GEOADD's `zadd`, the `georadiusstore`/`geosearchstore`/`sortstore` of
/// stored results (`del` for an empty one), `new` for created keys, and
/// the key misses of the reads (SORT's BY/GET lookups included).
#[test]
fn geo_and_sort_events() {
    check(
        "KEAm",
        &[
            &[
                "GEOADD",
                "g",
                "13.361389",
                "38.115556",
                "a",
                "15.087269",
                "37.502669",
                "b",
            ],
            &["GEOADD", "g", "13.361389", "38.115556", "a"],
            &["GEOADD", "g", "XX", "CH", "13", "38", "a"],
            &["GEOPOS", "nog", "a"],
            &["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "d1"],
            &["GEORADIUS", "g", "15", "37", "1", "m", "STORE", "d1"],
            &[
                "GEORADIUSBYMEMBER",
                "g",
                "a",
                "500",
                "km",
                "STOREDIST",
                "d2",
            ],
            &[
                "GEOSEARCHSTORE",
                "d3",
                "g",
                "FROMLONLAT",
                "15",
                "37",
                "BYBOX",
                "900",
                "900",
                "km",
            ],
            &[
                "GEOSEARCHSTORE",
                "d3",
                "nog",
                "FROMLONLAT",
                "15",
                "37",
                "BYBOX",
                "900",
                "900",
                "km",
            ],
            &["RPUSH", "l", "3", "1", "2"],
            &["SORT", "l", "STORE", "sd"],
            &["SORT", "l", "BY", "w_*", "GET", "h_*->f", "STORE", "sd"],
            &["SORT", "nol", "STORE", "sd"],
        ],
    );
}

/// Stream writes at each of Redis's notifying points (`xadd`, `xtrim`,
/// `xdel`, `xgroup-*`, `xsetid`), and those that do not notify.
const STREAM_SCRIPT: &[&[&str]] = &[
    &["XADD", "st", "1-0", "f", "v"],
    &["XADD", "st", "2-0", "f", "v"],
    &["XADD", "st", "MAXLEN", "2", "3-0", "f", "v"],
    &["XADD", "st", "MAXLEN", "5", "4-0", "f", "v"],
    &["XADD", "none", "NOMKSTREAM", "1-0", "f", "v"],
    &["XADD", "st", "1-0", "f", "v"],
    &["XTRIM", "st", "MAXLEN", "9"],
    &["XTRIM", "st", "MAXLEN", "2"],
    &["XDEL", "st", "9-0"],
    &["XDEL", "st", "3-0"],
    &["XGROUP", "CREATE", "st", "g", "0"],
    &["XGROUP", "CREATE", "st", "g", "0"],
    &["XGROUP", "CREATE", "new", "g", "$", "MKSTREAM"],
    &["XGROUP", "CREATECONSUMER", "st", "g", "c0"],
    &["XGROUP", "CREATECONSUMER", "st", "g", "c0"],
    &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "st", ">"],
    &["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "st", ">"],
    &["XACK", "st", "g", "4-0"],
    &["XCLAIM", "st", "g", "c2", "0", "4-0", "FORCE", "JUSTID"],
    &["XAUTOCLAIM", "st", "g", "c3", "0", "0", "JUSTID"],
    &["XGROUP", "SETID", "st", "g", "0"],
    &["XGROUP", "DELCONSUMER", "st", "g", "c1"],
    &["XGROUP", "DELCONSUMER", "st", "g", "nobody"],
    &["XGROUP", "DESTROY", "st", "g"],
    &["XGROUP", "DESTROY", "st", "g"],
    &["XSETID", "st", "10-0"],
    &["XSETID", "st", "1-0"],
    &["DEL", "st", "new"],
];

#[test]
fn stream_events() {
    check("KEA", STREAM_SCRIPT);
    check("Kt", STREAM_SCRIPT);
    check("Eg", STREAM_SCRIPT);
}
