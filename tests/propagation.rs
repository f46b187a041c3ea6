//! The propagation stream, differentially: a connection attaches to both
//! reddish and a real redis-server as a replica (`PSYNC ? -1`, the snapshot
//! skipped), the same script runs on both, and the two streams must be the
//! same bytes (PINGs aside, absolute times within a day of now masked).
//! This is what a replica, and later the AOF, replays.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{request, Conn, Server};

/// A connection attached as a replica.
struct ReplicaLink {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl ReplicaLink {
    /// Sends `PSYNC ? -1` and skips the FULLRESYNC line and the snapshot
    /// (`$<len>` or, diskless, `$EOF:<mark>` ... `<mark>`).
    fn attach(port: u16) -> ReplicaLink {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream
            .write_all(&request(&[b"PSYNC", b"?", b"-1"]))
            .expect("psync");
        let mut link = ReplicaLink {
            stream,
            buf: Vec::new(),
        };
        let line = link.line();
        assert!(line.starts_with("+FULLRESYNC "), "PSYNC answered {line:?}");
        let header = link.line();
        if let Some(mark) = header.strip_prefix("$EOF:") {
            let mark = mark.as_bytes().to_vec();
            loop {
                if let Some(at) = link.buf.windows(mark.len()).position(|w| w == mark) {
                    link.buf.drain(..at + mark.len());
                    break;
                }
                link.fill();
            }
        } else {
            let len: usize = header[1..].parse().expect("snapshot length");
            while link.buf.len() < len {
                link.fill();
            }
            link.buf.drain(..len);
        }
        link
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 65536];
        let n = self.stream.read(&mut chunk).expect("read the stream");
        assert!(n > 0, "master closed the link");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// One line (empty lines, the keepalive newlines Redis sends while it
    /// prepares a snapshot, are skipped).
    fn line(&mut self) -> String {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..at + 2).collect();
                if at > 0 {
                    return String::from_utf8_lossy(&line[..at]).into_owned();
                }
            } else if self.buf.first() == Some(&b'\n') {
                self.buf.remove(0);
            } else {
                self.fill();
            }
        }
    }

    /// Everything the master sent until it has been quiet for 300 ms.
    fn drain(&mut self) -> Vec<u8> {
        self.stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        let mut chunk = [0u8; 65536];
        while let Ok(n) = self.stream.read(&mut chunk) {
            if n == 0 {
                break;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        std::mem::take(&mut self.buf)
    }
}

/// The stream's commands as readable lines, PINGs dropped and absolute
/// millisecond times near now masked (two servers run a command at
/// slightly different moments).
fn commands(stream: &[u8]) -> Vec<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut out = Vec::new();
    let mut parts = stream
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    while let Some(header) = parts.next() {
        if header.is_empty() {
            continue;
        }
        let n: usize = String::from_utf8_lossy(&header[1..]).parse().unwrap_or(0);
        let mut args = Vec::new();
        for _ in 0..n {
            let _len = parts.next();
            let arg = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let near_now = |ms: &str| {
                ms.parse::<i64>()
                    .is_ok_and(|t| (t - now).abs() < 86_400_000 * 2 && ms.len() == 13)
            };
            // A stream ID of now (`XADD *`): the time masked, the sequence kept.
            let id = arg
                .split_once('-')
                .filter(|(ms, seq)| near_now(ms) && seq.parse::<u64>().is_ok());
            args.push(match id {
                Some((_, seq)) => format!("<ms>-{seq}"),
                None if near_now(&arg) => "<ms>".to_string(),
                None => arg,
            });
        }
        if !(args.len() == 1 && args[0].eq_ignore_ascii_case("ping")) {
            out.push(args.join(" "));
        }
    }
    out
}

/// One side of the comparison: a server, its replica link, two clients.
struct Side {
    _server: Server,
    link: ReplicaLink,
    client: Conn,
    other: Conn,
}

impl Side {
    fn new(server: Server) -> Side {
        Side {
            link: ReplicaLink::attach(server.port),
            client: server.connect(),
            other: server.connect(),
            _server: server,
        }
    }

    /// Runs one script step: a command on the main client, or
    /// `& args...` sent on the second client without waiting (a blocking
    /// command), `&read` for its reply, `#sleep ms`.
    fn step(&mut self, step: &[&str]) {
        match step {
            ["#sleep", ms] => std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0))),
            ["&read"] => {
                self.other.read_reply();
            }
            ["&", args @ ..] => {
                let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
                self.other.send(&request(&args));
                // Let the server see it block before the script goes on.
                std::thread::sleep(Duration::from_millis(50));
            }
            ["function", "restore", "#dump", rest @ ..] => {
                let dump = self.client.cmd(&["function", "dump"]);
                let start = dump.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
                let payload = &dump[start..dump.len().saturating_sub(2)];
                let mut args: Vec<&[u8]> = vec![b"function", b"restore", payload];
                args.extend(rest.iter().map(|a| a.as_bytes()));
                self.client.cmd_bytes(&args);
            }
            args => {
                self.client.cmd(args);
            }
        }
    }
}

/// Runs `script` on reddish and redis-server (both started with `args`)
/// and asserts their streams are the same.
fn same_stream(args: &[&str], script: &[&[&str]]) {
    let Some(oracle) = Server::oracle_with(args) else {
        return;
    };
    let mut redis = Side::new(oracle);
    let mut ours = Side::new(Server::start_with(args));
    for step in script {
        redis.step(step);
        ours.step(step);
    }
    let (want, got) = (commands(&redis.link.drain()), commands(&ours.link.drain()));
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(
            g, w,
            "stream command {i} differs; redis: {want:#?}\nreddish: {got:#?}"
        );
    }
    assert_eq!(got.len(), want.len(), "redis: {want:#?}\nreddish: {got:#?}");
    assert!(!want.is_empty(), "the script propagated nothing");
}

/// Every write command with cases that change something, cases that change
/// nothing (not propagated), and the rewrites Redis makes.
const RESTORE_R13: &str = "\x00\x03r13\n\x00yG;_[-d$";

const WRITES: &[&[&str]] = &[
    // Strings.
    &["set", "s", "1"],
    &["SET", "s", "2", "EX", "100"],
    &["set", "s", "3", "px", "100000", "get"],
    &["set", "s", "4", "get"],
    &["set", "s", "5", "GET", "keepttl"],
    &["set", "s", "x", "nx"],
    &["set", "nope", "x", "xx"],
    &["set", "s", "6", "exat", "4102444800"],
    &["set", "s", "7", "pxat", "4102444800000"],
    &["setnx", "s", "1"],
    &["setnx", "s2", "1"],
    &["setex", "s3", "100", "v"],
    &["psetex", "s4", "100000", "v"],
    &["getset", "s3", "w"],
    &["getdel", "s4"],
    &["getdel", "s4"],
    &["getex", "s", "ex", "100"],
    &["getex", "s", "persist"],
    &["getex", "s", "persist"],
    &["getex", "s", "pxat", "4102444800000"],
    &["getex", "s", "exat", "1"],
    &["getex", "s2"],
    &["append", "s2", "abc"],
    &["setrange", "s2", "1", "xy"],
    &["incr", "n"],
    &["incrby", "n", "5"],
    &["decr", "n"],
    &["decrby", "n", "2"],
    &["incrbyfloat", "n", "1.5"],
    &["incrbyfloat", "n", "1e2"],
    &["mset", "m1", "a", "m2", "b"],
    &["msetnx", "m1", "a", "m3", "c"],
    &["msetnx", "m4", "a", "m5", "c"],
    // Keys.
    &["expire", "m1", "100"],
    &["expire", "m1", "200", "nx"],
    &["expire", "m1", "300", "XX"],
    &["pexpire", "m2", "100000"],
    &["expireat", "m3", "4102444800"],
    &["pexpireat", "m4", "4102444800000"],
    &["expire", "missing", "100"],
    &["persist", "m1"],
    &["persist", "m1"],
    &["expire", "m5", "-1"],
    &["del", "m1", "missing"],
    &["del", "missing"],
    &["unlink", "m2"],
    &["rename", "m3", "r1"],
    &["renamenx", "r1", "r2"],
    &["renamenx", "r2", "s"],
    // RESTORE propagates as itself; a TTL already past deletes (as DEL).
    // The payload is DUMP of the string "r13" (its CRC happens to be text).
    &["restore", "rs", "0", RESTORE_R13],
    &["restore", "rs", "0", RESTORE_R13],
    &["restore", "rs", "0", RESTORE_R13, "replace"],
    &["restore", "rs", "100000", RESTORE_R13, "replace"],
    &["restore", "rs", "1", RESTORE_R13, "replace", "absttl"],
    &["restore", "rs2", "0", "garbage"],
    &["restore-asking", "rs3", "0", RESTORE_R13],
    // Functions: a load and a delete propagate as themselves.
    &[
        "function",
        "load",
        "#!lua name=plib\nredis.register_function('pf', function() return 1 end)",
    ],
    &[
        "function",
        "load",
        "#!lua name=plib\nredis.register_function('pf', function() return 1 end)",
    ],
    // FUNCTION RESTORE propagates as itself ("#dump": the server's own
    // FUNCTION DUMP); a refused one not at all.
    &["function", "restore", "#dump", "replace"],
    &["function", "restore", "#dump"],
    &["function", "restore", "garbage"],
    &["function", "delete", "plib"],
    &["function", "delete", "plib"],
    // MIGRATE of nothing propagates nothing (see the test of its own below).
    &["migrate", "127.0.0.1", "1", "nokey", "0", "100"],
    &["copy", "r2", "r3"],
    &["copy", "r2", "r3"],
    &["copy", "r2", "r3", "replace"],
    &["copy", "r2", "r3", "db", "2"],
    &["move", "r3", "1"],
    &["move", "r3", "1"],
    &["swapdb", "1", "2"],
    // Lists.
    &["lpush", "l", "a", "b", "c"],
    &["rpush", "l", "d"],
    &["lpushx", "l", "e"],
    &["lpushx", "nolist", "e"],
    &["rpushx", "l", "f"],
    &["lset", "l", "0", "z"],
    &["linsert", "l", "before", "z", "y"],
    &["linsert", "l", "before", "nothere", "y"],
    &["lrem", "l", "0", "nothere"],
    &["lrem", "l", "1", "a"],
    &["ltrim", "l", "0", "100"],
    &["ltrim", "l", "1", "-1"],
    &["lpop", "l"],
    &["rpop", "l", "2"],
    &["lpop", "l", "0"],
    &["lmove", "l", "l2", "left", "RIGHT"],
    &["rpoplpush", "l", "l2"],
    &["lmpop", "2", "nolist", "l2", "left", "count", "10"],
    &["lmpop", "1", "nolist", "right"],
    &["rpush", "l3", "a", "b", "c"],
    &["blpop", "nolist", "l3", "0"],
    &["brpop", "l3", "0"],
    &["blmove", "l3", "l4", "left", "left", "0"],
    &["brpoplpush", "l4", "l5", "0"],
    &["blmpop", "0", "1", "l5", "right", "count", "5"],
    // Hashes.
    &["hset", "h", "f", "1", "g", "2"],
    &["hset", "h", "f", "1"],
    &["hmset", "h", "x", "1"],
    &["hsetnx", "h", "f", "9"],
    &["hsetnx", "h", "new", "9"],
    &["hincrby", "h", "f", "3"],
    &["hincrbyfloat", "h", "f", "0.25"],
    &["hdel", "h", "nothere"],
    &["hdel", "h", "f", "g"],
    // Sets.
    &["sadd", "set", "a", "b", "c"],
    &["sadd", "set", "a"],
    &["srem", "set", "zz"],
    &["srem", "set", "c"],
    &["smove", "set", "set2", "a"],
    &["smove", "set", "set2", "zz"],
    &["sadd", "one", "m"],
    &["spop", "one"],
    &["sadd", "three", "1", "2", "3"],
    &["spop", "three", "5"],
    &["spop", "nothing", "2"],
    &["sadd", "s1", "a", "b"],
    &["sadd", "s2x", "b", "c"],
    &["sinterstore", "dst", "s1", "s2x"],
    &["sunionstore", "dst", "s1", "s2x"],
    &["sdiffstore", "dst", "s1", "s2x"],
    &["sdiffstore", "dst", "s1", "s1"],
    // Sorted sets.
    &["zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
    &["zadd", "z", "1", "a"],
    &["zadd", "z", "xx", "ch", "incr", "5", "a"],
    &["zincrby", "z", "1.5", "b"],
    &["zrem", "z", "nothere"],
    &["zrem", "z", "c"],
    &["zadd", "z2", "1", "x", "2", "y", "3", "b"],
    &["zunionstore", "zu", "2", "z", "z2"],
    &["zinterstore", "zi", "2", "z", "z2", "weights", "1", "2"],
    &["zdiffstore", "zd", "2", "z", "z2"],
    &["zrangestore", "zr", "z", "0", "1"],
    &["zremrangebyscore", "zu", "100", "200"],
    &["zremrangebyscore", "zu", "0", "1"],
    &["zremrangebyrank", "zu", "0", "0"],
    &["zremrangebylex", "z2", "[x", "[y"],
    &["zpopmin", "z"],
    &["zpopmax", "z", "5"],
    &["zadd", "z3", "1", "a", "2", "b", "3", "c"],
    &["zmpop", "1", "z3", "min"],
    &["zmpop", "2", "nozset", "z3", "max", "count", "1"],
    &["zadd", "z4", "1", "a", "2", "b", "3", "c"],
    &["bzpopmin", "nozset", "z4", "0"],
    &["bzpopmax", "z4", "0"],
    &["bzmpop", "0", "1", "z4", "min", "count", "9"],
    // Bitmaps: only changes propagate (a key created by a BITFIELD whose
    // every write failed does not).
    &["setbit", "bits", "10", "1"],
    &["setbit", "bits", "10", "1"],
    &["setbit", "bits", "100", "0"],
    &["setbit", "bits", "10", "0"],
    &["bitfield", "bits", "set", "u8", "0", "7", "get", "u4", "0"],
    &["bitfield", "bits", "set", "u8", "0", "7"],
    &["bitfield", "bits", "get", "u8", "0"],
    &[
        "bitfield", "bits", "overflow", "fail", "incrby", "u2", "0", "9",
    ],
    &[
        "bitfield", "bits2", "overflow", "fail", "incrby", "u2", "0", "9",
    ],
    &["bitfield", "bits", "incrby", "i5", "#2", "3"],
    &["bitop", "and", "bdst", "bits", "bits2"],
    &["bitop", "not", "bdst", "nokey"],
    &["bitop", "or", "bdst", "nokey"],
    // HyperLogLogs: PFCOUNT writing its cache back propagates too.
    &["pfadd", "hll", "a", "b"],
    &["pfadd", "hll", "a"],
    &["pfadd", "hll2"],
    &["pfcount", "hll"],
    &["pfcount", "hll"],
    &["pfcount", "hll", "hll2"],
    &["pfmerge", "hll3", "hll", "hll2"],
    &["pfdebug", "encoding", "hll3"],
    &["pfdebug", "todense", "hll3"],
    &["pfdebug", "todense", "hll3"],
    &["pfdebug", "getreg", "hll2"],
    &["pfdebug", "getreg", "hll2"],
    // Geo: GEOADD as the ZADD it runs; stored searches as themselves.
    &[
        "geoadd",
        "geo",
        "13.361389",
        "38.115556",
        "a",
        "15.087269",
        "37.502669",
        "b",
    ],
    &[
        "geoadd",
        "geo",
        "nx",
        "ch",
        "13.361389",
        "38.115556",
        "a",
        "1",
        "2",
        "c",
    ],
    &["geoadd", "geo", "xx", "13.361389", "38.115556", "a"],
    &["georadius", "geo", "15", "37", "200", "km", "store", "geo2"],
    &[
        "georadius",
        "geo",
        "15",
        "37",
        "1",
        "m",
        "storedist",
        "geo2",
    ],
    &[
        "georadiusbymember",
        "geo",
        "a",
        "500",
        "km",
        "storedist",
        "geo3",
    ],
    &["georadius", "geo", "15", "37", "200", "km"],
    &[
        "geosearchstore",
        "geo4",
        "geo",
        "frommember",
        "a",
        "byradius",
        "500",
        "km",
        "storedist",
    ],
    // SORT: only STORE writes.
    &["rpush", "sl", "3", "1", "2"],
    &["sort", "sl", "store", "sl2"],
    &[
        "sort", "sl", "by", "nosort", "get", "#", "get", "x_*", "store", "sl3",
    ],
    &["sort", "nosl", "store", "sl3"],
    &["sort", "sl"],
    // Sorting a listpack zset converts it, which is no change.
    &["zadd", "sz", "2", "b", "1", "a"],
    &["sort_ro", "sz", "alpha"],
    // Streams: `*` IDs go out as the ID chosen, `~` trims as `=` and the
    // result, consumer group reads as XCLAIM / XGROUP SETID.
    &["xadd", "st", "1-1", "f", "v"],
    &["xadd", "st", "1-*", "f", "v"],
    &["xadd", "st", "*", "f", "v"],
    &["xadd", "st", "1-0", "f", "v"],
    &["xadd", "nost", "nomkstream", "5-0", "f", "v"],
    &["xadd", "st2", "maxlen", "~", "1", "1-0", "f", "v"],
    &["xadd", "st2", "maxlen", "=", "1", "2-0", "f", "v"],
    &["xadd", "st2", "minid", "~", "0", "3-0", "f", "v"],
    &["xtrim", "st2", "maxlen", "5"],
    &["xtrim", "st2", "maxlen", "1"],
    &["xtrim", "st2", "minid", "~", "9", "limit", "10"],
    &["xadd", "st3", "1-0", "f", "v"],
    &["xadd", "st3", "2-0", "f", "v"],
    &["xadd", "st3", "3-0", "f", "v"],
    &["xdel", "st3", "9-0"],
    &["xdel", "st3", "2-0"],
    &["xgroup", "create", "st3", "g", "0"],
    &["xgroup", "create", "st3", "g", "0"],
    &["xgroup", "create", "st4", "g", "$", "mkstream"],
    &["xgroup", "createconsumer", "st3", "g", "c0"],
    &["xgroup", "createconsumer", "st3", "g", "c0"],
    &[
        "xreadgroup",
        "group",
        "g",
        "c1",
        "count",
        "1",
        "streams",
        "st3",
        ">",
    ],
    &[
        "xreadgroup",
        "group",
        "g",
        "c2",
        "noack",
        "streams",
        "st3",
        ">",
    ],
    &["xreadgroup", "group", "g", "c1", "streams", "st3", ">"],
    &["xreadgroup", "group", "g", "c1", "streams", "st3", "0"],
    &["xack", "st3", "g", "9-0"],
    &["xack", "st3", "g", "1-0"],
    &["xgroup", "setid", "st3", "g", "0"],
    &["xreadgroup", "group", "g", "c1", "streams", "st3", ">"],
    &[
        "xclaim",
        "st3",
        "g",
        "c3",
        "0",
        "3-0",
        "9-0",
        "retrycount",
        "7",
    ],
    &[
        "xclaim", "st3", "g", "c3", "0", "3-0", "justid", "lastid", "5-0",
    ],
    &["xclaim", "st3", "g", "c3", "0", "8-0", "lastid", "6-0"],
    &["xdel", "st3", "1-0"],
    &["xreadgroup", "group", "g", "c1", "streams", "st3", "0"],
    &["xautoclaim", "st3", "g", "c4", "0", "0", "justid"],
    &["xautoclaim", "st3", "g", "c4", "99999999", "0"],
    &["xgroup", "delconsumer", "st3", "g", "c4"],
    &["xgroup", "delconsumer", "st3", "g", "nobody"],
    &["xgroup", "destroy", "st3", "g"],
    &["xgroup", "destroy", "st3", "g"],
    &["xsetid", "st3", "10-0"],
    &[
        "xsetid",
        "st3",
        "20-0",
        "entriesadded",
        "50",
        "maxdeletedid",
        "15-0",
    ],
    &["xsetid", "st3", "1-0"],
    // Pub/Sub reaches replicas.
    &["publish", "chan", "msg"],
    &["spublish", "chan", "msg"],
    // Databases, flushes, functions.
    &["select", "4"],
    &["set", "in4", "v"],
    &["select", "0"],
    &["flushdb"],
    &["flushall", "sync"],
    &["flushall"],
    &["function", "flush"],
];

#[test]
fn every_write_command_propagates_as_redis_does() {
    same_stream(&[], WRITES);
}

/// MIGRATE propagates as the DEL of the keys the target acknowledged (both
/// sides migrate into one reddish target, replacing).
#[test]
fn migrate_propagates_the_del_of_the_moved_keys() {
    let target = Server::start();
    let port = target.port.to_string();
    let to = |rest: &[&'static str]| -> Vec<&str> {
        let mut args = vec!["migrate", "127.0.0.1", port.as_str()];
        args.extend_from_slice(rest);
        args
    };
    let script: Vec<Vec<&str>> = vec![
        vec!["set", "a", "1"],
        vec!["rpush", "l", "x"],
        vec!["set", "b", "2", "px", "100000"],
        to(&["a", "0", "5000", "replace"]),
        to(&["", "0", "5000", "replace", "keys", "l", "nokey", "b"]),
        to(&["nokey", "0", "5000"]),
        vec!["set", "c", "1"],
        to(&["c", "0", "5000", "copy", "replace"]),
        // BUSYKEY on the target: nothing moved, nothing propagated.
        to(&["c", "0", "5000"]),
        vec!["set", "d", "1"],
    ];
    let steps: Vec<&[&str]> = script.iter().map(Vec::as_slice).collect();
    same_stream(&[], &steps);
}

#[test]
fn transactions_are_wrapped_in_multi_exec_when_they_change_more_than_once() {
    same_stream(
        &[],
        &[
            &["multi"],
            &["set", "a", "1"],
            &["get", "a"],
            &["exec"],
            &["multi"],
            &["set", "b", "1"],
            &["select", "2"],
            &["set", "b", "2"],
            &["incr", "b"],
            &["exec"],
            &["multi"],
            &["get", "b"],
            &["exec"],
            &["multi"],
            &["sadd", "s", "x"],
            &["sadd", "s", "x"],
            &["spop", "s"],
            &["exec"],
            &["multi"],
            &["set", "c", "v", "ex", "100"],
            &["blpop", "nolist", "0"],
            &["lpush", "l", "1"],
            &["brpop", "l", "0"],
            &["exec"],
        ],
    );
}

#[test]
fn blocked_clients_served_later_propagate_their_plain_forms() {
    same_stream(
        &[],
        &[
            &["&", "blpop", "q1", "0"],
            &["rpush", "q1", "a", "b"],
            &["&read"],
            &["&", "brpoplpush", "q2", "d2", "0"],
            &["rpush", "q2", "x"],
            &["&read"],
            &["&", "BLMOVE", "q3", "d3", "RIGHT", "LEFT", "0"],
            &["rpush", "q3", "x"],
            &["&read"],
            &["&", "blmpop", "0", "2", "q4", "q5", "left", "count", "3"],
            &["rpush", "q5", "a", "b"],
            &["&read"],
            &["&", "bzpopmin", "zq", "0"],
            &["zadd", "zq", "1", "a", "2", "b"],
            &["&read"],
            &["&", "bzmpop", "0", "1", "zq2", "max", "count", "2"],
            &["zadd", "zq2", "1", "a", "2", "b", "3", "c"],
            &["&read"],
            // A woken XREADGROUP propagates its XCLAIMs, with NOACK its
            // consumer's creation and the group's new last ID.
            &["xgroup", "create", "sq", "g", "$", "mkstream"],
            &[
                "&",
                "xreadgroup",
                "group",
                "g",
                "c",
                "block",
                "0",
                "streams",
                "sq",
                ">",
            ],
            &["xadd", "sq", "1-0", "f", "v"],
            &["&read"],
            &[
                "&",
                "xreadgroup",
                "group",
                "g",
                "c2",
                "noack",
                "block",
                "0",
                "streams",
                "sq",
                ">",
            ],
            &["xadd", "sq", "2-0", "f", "v"],
            &["&read"],
            &["&", "xread", "block", "0", "streams", "sq", "$"],
            &["xadd", "sq", "3-0", "f", "v"],
            &["&read"],
        ],
    );
}

#[test]
fn lazily_expired_keys_propagate_a_del_before_the_command() {
    let debug = ["--enable-debug-command", "yes"];
    same_stream(
        &debug,
        &[
            &["debug", "set-active-expire", "0"],
            &["set", "k1", "v", "px", "10"],
            &["set", "k2", "v", "px", "10"],
            &["set", "k3", "v", "px", "10"],
            &["lpush", "k4", "v"],
            &["pexpire", "k4", "10"],
            &["#sleep", "50"],
            &["get", "k1"],
            &["set", "k2", "w"],
            &["exists", "k3"],
            &["lpush", "k4", "w"],
            &["config", "set", "lazyfree-lazy-expire", "yes"],
            &["set", "k5", "v", "px", "10"],
            &["#sleep", "50"],
            &["get", "k5"],
        ],
    );
}

/// SCAN reclaims the expired keys it would have returned (those its MATCH
/// takes), RANDOMKEY the ones it draws, each a DEL of its own.
#[test]
fn scan_and_randomkey_reclaim_expired_keys() {
    let debug = ["--enable-debug-command", "yes"];
    same_stream(
        &debug,
        &[
            &["debug", "set-active-expire", "0"],
            &["set", "a1", "v", "px", "10"],
            &["set", "b1", "v", "px", "10"],
            &["#sleep", "50"],
            &["scan", "0", "match", "a*"],
            &["scan", "0", "type", "string"],
            &["dbsize"],
            &["set", "c1", "v", "px", "10"],
            &["#sleep", "50"],
            &["randomkey"],
            &["dbsize"],
        ],
    );
    // Two at once, in an order of the table's: plain DELs, no MULTI.
    let server = Server::start_with(&debug);
    let mut client = server.connect();
    client.cmd(&["debug", "set-active-expire", "0"]);
    client.cmd(&["set", "x", "v", "px", "10"]);
    client.cmd(&["set", "y", "v", "px", "10"]);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mut link = ReplicaLink::attach(server.port);
    assert_eq!(client.cmd_str(&["scan", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    client.cmd(&["ping"]);
    let got = commands(&link.drain());
    let dels: BTreeSet<&str> = got.iter().filter_map(|c| c.strip_prefix("DEL ")).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], "SELECT 0");
    assert_eq!(dels, BTreeSet::from(["x", "y"]), "{got:?}");
}

#[test]
fn active_expiry_propagates_plain_dels() {
    same_stream(
        &[],
        &[
            // One at a time: keys expiring together may go in any order.
            &["set", "a", "v", "px", "100"],
            &["#sleep", "1500"],
            &["select", "3"],
            &["set", "b", "v", "px", "100"],
            &["#sleep", "1500"],
        ],
    );
}

/// SPOP with a count below the set's size draws at random, so the two
/// servers cannot be compared: reddish's stream must hold the SREMs of
/// exactly the members it returned, as one transaction.
#[test]
fn spop_with_a_count_propagates_the_srems_of_what_it_drew() {
    let server = Server::start();
    let mut link = ReplicaLink::attach(server.port);
    let mut client = server.connect();
    client.cmd(&["sadd", "s", "a", "b", "c", "d"]);
    let reply = client.cmd_str(&["spop", "s", "2"]);
    let drawn: BTreeSet<&str> = reply.split("\r\n").filter(|l| l.len() == 1).collect();
    let got = commands(&link.drain());
    let srems: BTreeSet<&str> = got[3..5]
        .iter()
        .map(|c| c.strip_prefix("SREM s ").expect("an SREM"))
        .collect();
    assert_eq!(got[..3], ["SELECT 0", "sadd s a b c d", "MULTI"]);
    assert_eq!(srems, drawn);
    assert_eq!(got[5..], ["EXEC"]);
}

/// The script above must name every write command reddish has, so a new
/// command cannot go untested here.
#[test]
fn the_script_covers_every_write_command() {
    let server = Server::start();
    let mut client = server.connect();
    let listing = client.cmd_str(&["command", "list"]);
    let names: Vec<String> = listing
        .split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with(['*', '$']))
        .map(str::to_string)
        .collect();
    assert!(names.len() > 100, "COMMAND LIST gave {names:?}");
    let covered: BTreeSet<String> = WRITES
        .iter()
        .flat_map(|c| {
            let name = c[0].to_lowercase();
            let sub = c.get(1).map(|s| format!("{name}|{}", s.to_lowercase()));
            std::iter::once(name).chain(sub)
        })
        .collect();
    let mut missing = Vec::new();
    for name in names {
        let info = client.cmd_str(&["command", "info", &name]);
        if info.contains("+write\r\n") && !covered.contains(&name) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "write commands missing from WRITES: {missing:?}"
    );
}

/// A real redis-server can replicate from reddish: it syncs (the dataset is
/// empty) and then follows the stream.
#[test]
fn a_real_redis_replica_follows_reddish() {
    let master = Server::start();
    let port = master.port.to_string();
    let Some(replica) = Server::oracle_with(&["--replicaof", "127.0.0.1", &port]) else {
        return;
    };
    let mut client = master.connect();
    let mut on_replica = replica.connect();
    let deadline = Instant::now() + Duration::from_secs(10);
    wait_for_sync(&mut on_replica, deadline);
    client.cmd(&["set", "k", "v"]);
    client.cmd(&["select", "3"]);
    client.cmd(&["rpush", "l", "a", "b"]);
    on_replica.cmd(&["select", "3"]);
    while on_replica.cmd_str(&["dbsize"]) != ":1\r\n" {
        assert!(Instant::now() < deadline, "the replica never got the list");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        on_replica.cmd_str(&["lrange", "l", "0", "-1"]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    on_replica.cmd(&["select", "0"]);
    assert_eq!(on_replica.cmd_str(&["get", "k"]), "$1\r\nv\r\n");
    let info = client.cmd_str(&["info", "replication"]);
    assert!(
        info.contains("connected_slaves:1\r\nslave0:ip=127.0.0.1,port="),
        "{info}"
    );
    let role = client.cmd_str(&["role"]);
    let port = replica.port.to_string();
    let listening = format!("*3\r\n$9\r\n127.0.0.1\r\n${}\r\n{port}\r\n", port.len());
    assert!(
        role.starts_with("*3\r\n$6\r\nmaster\r\n:") && role.contains(&listening),
        "{role}"
    );
}

/// ROLE of a master without replicas, as a fresh redis-server answers.
#[test]
fn role_of_a_master_without_replicas() {
    support::differential(&[&["role"]]);
}

/// Waits until the replica reports its link to the master up.
fn wait_for_sync(replica: &mut Conn, deadline: Instant) {
    while !replica
        .cmd_str(&["info", "replication"])
        .contains("master_link_status:up")
    {
        assert!(Instant::now() < deadline, "the replica never synced");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A full sync of a non-empty dataset sends the real snapshot: a real
/// redis-server attached afterwards holds every key, type and TTL (same
/// DEBUG DIGEST), then follows the stream.
#[test]
fn a_real_redis_replica_gets_the_dataset_by_full_sync() {
    let master = Server::start_with(&["--enable-debug-command", "yes"]);
    let mut client = master.connect();
    client.cmd(&["set", "k", "v"]);
    client.cmd(&["set", "n", "12345", "ex", "1000"]);
    client.cmd(&["hset", "h", "f", "1", "g", "two"]);
    client.cmd(&["zadd", "z", "1.5", "a", "2", "b"]);
    client.cmd(&["sadd", "s", "1", "2", "x"]);
    client.cmd(&["select", "3"]);
    client.cmd(&["rpush", "l", "a", "b", "c"]);
    client.cmd(&["select", "0"]);
    let digest = client.cmd_str(&["debug", "digest"]);
    let port = master.port.to_string();
    let Some(replica) = Server::oracle_with(&[
        "--replicaof",
        "127.0.0.1",
        &port,
        "--enable-debug-command",
        "yes",
    ]) else {
        return;
    };
    let mut on_replica = replica.connect();
    let deadline = Instant::now() + Duration::from_secs(10);
    wait_for_sync(&mut on_replica, deadline);
    assert_eq!(on_replica.cmd_str(&["debug", "digest"]), digest);
    client.cmd(&["set", "after", "1"]);
    while on_replica.cmd_str(&["get", "after"]) != "$1\r\n1\r\n" {
        assert!(Instant::now() < deadline, "the replica never followed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A replica that stops reading is dropped at `client-output-buffer-limit
/// replica`, as Redis frees it: the stream is never buffered without bound.
#[test]
fn a_replica_that_does_not_read_is_dropped_at_its_output_limit() {
    let server = Server::start();
    let mut client = server.connect();
    client.cmd(&[
        "config",
        "set",
        "client-output-buffer-limit",
        "replica 1mb 0 0",
    ]);
    let _stalled = ReplicaLink::attach(server.port);
    assert!(client
        .cmd_str(&["info", "replication"])
        .contains("connected_slaves:1\r\n"));
    let value = "x".repeat(100_000);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for _ in 0..50 {
            client.cmd(&["set", "k", &value]);
        }
        if client
            .cmd_str(&["info", "replication"])
            .contains("connected_slaves:0\r\n")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stalled replica was never dropped"
        );
    }
}

/// Keys evicted for `maxmemory` reach the stream as DEL, or UNLINK under
/// `lazyfree-lazy-eviction`, one per evicted key, each its own unit.
#[test]
fn evictions_propagate_as_del_or_unlink() {
    let field = |client: &mut Conn, name: &str| -> i64 {
        let info = client.cmd_str(&["INFO", "everything"]);
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in INFO"))
    };
    for (lazy, verb) in [("no", "DEL"), ("yes", "UNLINK")] {
        let server = Server::start_with(&["--lazyfree-lazy-eviction", lazy]);
        let mut link = ReplicaLink::attach(server.port);
        let mut client = server.connect();
        let limit = field(&mut client, "used_memory") + 100 * 1024;
        client.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
        client.cmd(&["CONFIG", "SET", "maxmemory", &limit.to_string()]);
        for i in 0..2000 {
            client.cmd(&["SET", &format!("k:{i}"), &"v".repeat(100)]);
        }
        let evicted = field(&mut client, "evicted_keys");
        assert!(evicted > 0);
        let got = commands(&link.drain());
        let deleted: Vec<&str> = got
            .iter()
            .filter_map(|c| c.strip_prefix(&format!("{verb} ")))
            .collect();
        assert_eq!(deleted.len() as i64, evicted, "lazy {lazy}");
        assert!(
            !got.iter().any(|c| c == "MULTI"),
            "an eviction is its own unit"
        );
        for key in deleted {
            assert_eq!(client.cmd(&["EXISTS", key]), b":0\r\n", "{key}");
        }
    }
}

#[test]
fn scripts_propagate_the_commands_they_ran_as_a_transaction() {
    same_stream(
        &[],
        &[
            // One write: on its own.
            &["eval", "return redis.call('set',KEYS[1],ARGV[1])", "1", "k", "v"],
            // Several: MULTI ... EXEC, reads left out, relative TTLs absolute.
            &[
                "eval",
                "redis.call('incr',KEYS[1]); redis.call('get',KEYS[1]); redis.call('expire',KEYS[1],100); return redis.call('incr',KEYS[1])",
                "1",
                "n",
            ],
            // Nothing written: nothing propagated.
            &["eval", "return redis.call('get','k')", "0"],
            // SELECT inside the script: the script's database only.
            &["eval", "redis.call('select','3'); redis.call('set','x','1'); redis.call('select','0'); return redis.call('set','y','2')", "0"],
            &["set", "after", "1"],
            // An undeclared key, EVALSHA, and a failing command after a write.
            &["script", "load", "redis.call('lpush','undeclared','a'); return redis.call('rpush',KEYS[1],'b')"],
            &["evalsha", "74c9e087e6fcacbb9eaff5c06b2c54e7e4f636ab", "1", "l"],
            &["eval", "redis.call('lpush','undeclared','a'); return redis.call('rpush',KEYS[1],'b')", "1", "l"],
            &["eval", "redis.call('set','s','1'); return redis.pcall('lpush','s','x')", "0"],
            // redis.set_repl: REPL_NONE leaves a write out.
            &["eval", "redis.set_repl(redis.REPL_NONE); redis.call('set','hidden','1'); redis.set_repl(redis.REPL_ALL); return redis.call('set','shown','1')", "0"],
            // Inside MULTI: one transaction with the other commands.
            &["multi"],
            &["set", "m", "1"],
            &["eval", "redis.call('incr','m'); return redis.call('incr','m')", "0"],
            &["exec"],
            // Blocking commands do not block in a script; SPOP as SREM.
            &["sadd", "set", "a"],
            &["eval", "redis.call('blpop','nolist',0); return redis.call('spop','set')", "0"],
        ],
    );
}
