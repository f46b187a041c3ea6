//! MULTI, EXEC, DISCARD, WATCH, UNWATCH: replies compared byte for byte with
//! redis-server (one and two connections, RESP2 and RESP3), EXEC's isolation
//! under concurrent clients, and WATCH against writes from other clients.

mod support;

use std::thread;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::{differential, differential_normalized, differential_raw_each, differential_resp3};
use support::{Conn, Server};

#[test]
fn queueing_exec_and_discard_match_redis() {
    differential(&[
        &["EXEC"],
        &["DISCARD"],
        &["MULTI"],
        &["SET", "a", "1"],
        &["INCR", "a"],
        &["GET", "a"],
        &["EXEC"],
        &["MULTI"],
        &["EXEC"],
        &["MULTI"],
        &["SET", "a", "2"],
        &["DISCARD"],
        &["GET", "a"],
        &["EXEC"],
        // Runtime errors are reported inside EXEC; the rest still runs.
        &["MULTI"],
        &["SET", "s", "x"],
        &["INCR", "s"],
        &["LPUSH", "s", "y"],
        &["APPEND", "s", "z"],
        &["INCRBY", "n", "notanumber"],
        &["EXEC"],
        &["GET", "s"],
        &["TTL", "s"],
    ]);
}

#[test]
fn refused_commands_doom_the_transaction() {
    differential(&[
        &["SET", "k", "before"],
        // Unknown command and wrong arity: error now, EXECABORT later.
        &["MULTI"],
        &["SET", "k", "after"],
        &["NOSUCHCOMMAND", "x", "y"],
        &["GET"],
        &["EXEC"],
        &["GET", "k"],
        &["EXEC"],
        // Unknown subcommand.
        &["MULTI"],
        &["CLIENT", "NOSUCH"],
        &["EXEC"],
        // A no_multi command (SHUTDOWN) is refused while queueing.
        &["MULTI"],
        &["SHUTDOWN"],
        &["EXEC"],
        // MULTI with arguments is refused (wrong arity) and dooms it too.
        &["MULTI"],
        &["MULTI", "x"],
        &["EXEC"],
        // WATCH without keys inside MULTI: an arity error, so EXECABORT.
        &["MULTI"],
        &["WATCH"],
        &["EXEC"],
        // DISCARD with arguments is refused, DISCARD still discards.
        &["MULTI"],
        &["DISCARD", "x"],
        &["DISCARD"],
        &["EXEC"],
        // EXEC with arguments aborts at once, naming the reason.
        &["MULTI"],
        &["SET", "k", "x"],
        &["EXEC", "x"],
        &["EXEC"],
        &["GET", "k"],
        // Outside MULTI the same mistakes are plain errors.
        &["EXEC", "x"],
        &["DISCARD", "x"],
        &["MULTI", "x"],
        &["UNWATCH", "x"],
        &["WATCH"],
    ]);
}

#[test]
fn command_metadata_matches_redis() {
    let names = ["multi", "exec", "discard", "watch", "unwatch"];
    let mut info = vec!["COMMAND", "INFO"];
    info.extend(names);
    let mut docs = vec!["COMMAND", "DOCS"];
    docs.extend(names);
    differential(&[
        &info,
        &docs,
        &["COMMAND", "GETKEYS", "WATCH", "a", "b"],
        &["COMMAND", "GETKEYS", "MULTI"],
    ]);
}

#[test]
fn pipelined_transactions_match_redis() {
    differential_raw_each(&[
        b"MULTI\r\nSET p1 1\r\nINCR p1\r\nGET p1\r\nEXEC\r\nGET p1\r\n",
        b"*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$2\r\np2\r\n*1\r\n$4\r\nEXEC\r\n",
        b"WATCH p3\r\nSET p3 x\r\nMULTI\r\nGET p3\r\nEXEC\r\nMULTI\r\nEXEC\r\n",
    ]);
}

#[test]
fn nesting_and_watch_inside_multi_do_not_doom_the_transaction() {
    differential(&[
        &["MULTI"],
        &["MULTI"],
        &["WATCH", "a"],
        &["SET", "a", "1"],
        &["UNWATCH"],
        &["EXEC"],
        &["GET", "a"],
    ]);
}

#[test]
fn select_inside_multi_moves_the_later_commands() {
    differential(&[
        &["MULTI"],
        &["SET", "k", "db0"],
        &["SELECT", "3"],
        &["SET", "k", "db3"],
        &["SELECT", "99"],
        &["SET", "k2", "db3"],
        &["SWAPDB", "0", "3"],
        &["GET", "k"],
        &["EXEC"],
        &["GET", "k"],
        &["GET", "k2"],
        &["SELECT", "0"],
        &["GET", "k"],
        &["DBSIZE"],
        &["FLUSHALL"],
    ]);
}

#[test]
fn transactions_in_resp3() {
    differential_resp3(&[
        &["MULTI"],
        &["SET", "a", "1"],
        &["HSET", "h", "f", "v"],
        &["HGETALL", "h"],
        &["GET", "missing"],
        &["INCR", "h"],
        &["EXEC"],
        &["MULTI"],
        &["GETT"],
        &["EXEC"],
        &["WATCH", "a"],
        &["SET", "a", "2"],
        &["MULTI"],
        &["GET", "a"],
        &["EXEC"],
    ]);
}

#[test]
fn quit_and_reset_inside_multi() {
    differential_raw_each(&[
        b"MULTI\r\nSET q 1\r\nQUIT\r\nEXEC\r\n",
        b"WATCH w\r\nMULTI\r\nSET r 1\r\nRESET\r\nEXEC\r\nGET r\r\nSET w 1\r\nMULTI\r\nEXEC\r\n",
        b"MULTI\r\nGET\r\nRESET\r\nMULTI\r\nPING\r\nEXEC\r\n",
    ]);
}

/// `flags=` and `multi=` of a CLIENT INFO line (the rest holds ids and ports).
fn client_state(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    if !text.contains("id=") {
        return reply.to_vec();
    }
    text.split(' ')
        .filter(|f| f.starts_with("flags=") || f.starts_with("multi="))
        .collect::<Vec<_>>()
        .join(" ")
        .into_bytes()
}

#[test]
fn client_info_shows_multi_and_dirty_flags() {
    differential_normalized(
        &[
            &["CLIENT", "INFO"],
            &["MULTI"],
            &["CLIENT", "INFO"],
            &["SET", "a", "1"],
            &["CLIENT", "INFO"],
            &["EXEC"],
            &["CLIENT", "INFO"],
            &["WATCH", "a"],
            &["SET", "a", "2"],
            &["CLIENT", "INFO"],
            &["CLIENT", "NO-EVICT", "ON"],
            &["CLIENT", "INFO"],
            &["UNWATCH"],
            &["CLIENT", "INFO"],
            &["CLIENT", "NO-EVICT", "OFF"],
            &["WATCH", "a"],
            &["SET", "a", "3"],
            &["MULTI"],
            &["CLIENT", "INFO"],
            &["EXEC"],
            &["CLIENT", "INFO"],
        ],
        client_state,
    );
}

/// Two connections (0 and 1) to reddish and two to redis-server.
struct Duo {
    want: [Conn; 2],
    got: [Conn; 2],
    _servers: (Server, Server),
}

impl Duo {
    /// None (with a message) when redis-server is not installed.
    fn new(resp3: bool) -> Option<Duo> {
        let oracle = Server::oracle()?;
        let ours = Server::start();
        let mut duo = Duo {
            want: [oracle.connect(), oracle.connect()],
            got: [ours.connect(), ours.connect()],
            _servers: (oracle, ours),
        };
        if resp3 {
            for c in duo.want.iter_mut().chain(duo.got.iter_mut()) {
                c.cmd(&["HELLO", "3"]);
            }
        }
        Some(duo)
    }

    /// Runs `steps`, comparing every reply; `sleep` steps wait a few milliseconds.
    fn run(&mut self, steps: &[(usize, &[&str])]) {
        for (i, (who, args)) in steps.iter().enumerate() {
            if args[0] == "sleep" {
                thread::sleep(Duration::from_millis(args[1].parse().unwrap_or(0)));
                continue;
            }
            let w = self.want[*who].cmd(args);
            let g = self.got[*who].cmd(args);
            assert_eq!(
                String::from_utf8_lossy(&g),
                String::from_utf8_lossy(&w),
                "step #{i} of {steps:?}: reply on connection {who} differs from redis-server"
            );
        }
    }
}

/// On an emptied keyspace: `setup` on connection 1, WATCH k on 0, `touch` on
/// 1, then MULTI PING EXEC on 0.
fn watch_case(duo: &mut Duo, setup: &[&[&str]], touch: &[&[&str]]) {
    let mut steps: Vec<(usize, &[&str])> = vec![(1, &["SELECT", "0"]), (1, &["FLUSHALL"])];
    steps.extend(setup.iter().map(|s| (1, *s)));
    steps.push((0, &["WATCH", "k"]));
    steps.extend(touch.iter().map(|s| (1, *s)));
    steps.extend([(0, &["MULTI"][..]), (0, &["PING"][..]), (0, &["EXEC"][..])]);
    duo.run(&steps);
}

#[test]
fn watch_aborts_on_writes_by_others() {
    let set: &[&str] = &["SET", "k", "v"];
    for resp3 in [false, true] {
        let Some(mut duo) = Duo::new(resp3) else {
            return;
        };
        // Modified, by every kind of write.
        watch_case(&mut duo, &[set], &[&["SET", "k", "w"]]);
        watch_case(&mut duo, &[], &[set]);
        watch_case(&mut duo, &[set], &[&["APPEND", "k", "w"]]);
        watch_case(&mut duo, &[&["SET", "k", "1"]], &[&["INCR", "k"]]);
        watch_case(&mut duo, &[set], &[&["EXPIRE", "k", "100"]]);
        let volatile: &[&str] = &["SET", "k", "v", "EX", "100"];
        watch_case(&mut duo, &[volatile], &[&["GETEX", "k", "PERSIST"]]);
        watch_case(&mut duo, &[volatile], &[&["PERSIST", "k"]]);
        watch_case(&mut duo, &[set], &[&["GETEX", "k", "EX", "100"]]);
        watch_case(&mut duo, &[set], &[&["EXPIRE", "k", "-1"]]);
        watch_case(&mut duo, &[&["RPUSH", "k", "a"]], &[&["LPUSH", "k", "b"]]);
        watch_case(
            &mut duo,
            &[&["SADD", "k", "a"]],
            &[&["SREM", "k", "a", "z"]],
        );
        watch_case(
            &mut duo,
            &[&["SADD", "s", "a"]],
            &[&["SMOVE", "s", "k", "a"]],
        );
        watch_case(
            &mut duo,
            &[&["HSET", "k", "f", "v"]],
            &[&["HSETNX", "k", "g", "w"]],
        );
        watch_case(
            &mut duo,
            &[&["RPUSH", "k", "a", "b"]],
            &[&["LREM", "k", "0", "a"]],
        );
        watch_case(&mut duo, &[], &[&["HSET", "k", "f", "v"]]);
        watch_case(&mut duo, &[], &[&["SADD", "k", "m"]]);
        let zset: &[&str] = &["ZADD", "k", "1", "a", "2", "b"];
        for touch in [
            &["ZADD", "k", "3", "a"][..],
            &["ZADD", "k", "NX", "1", "c"],
            &["ZINCRBY", "k", "1", "a"],
            &["ZADD", "k", "INCR", "-1", "b"],
            &["ZREM", "k", "z", "a"],
            &["ZREMRANGEBYRANK", "k", "0", "0"],
            &["ZREMRANGEBYSCORE", "k", "2", "+inf"],
            &["ZREMRANGEBYLEX", "k", "-", "+"],
            &["ZPOPMIN", "k"],
            &["ZPOPMAX", "k", "5"],
            &["ZMPOP", "2", "none", "k", "MIN"],
            &["ZUNIONSTORE", "k", "1", "k"],
            &["ZINTERSTORE", "k", "2", "k", "none"],
            &["ZDIFFSTORE", "k", "1", "k"],
            &["ZRANGESTORE", "k", "k", "5", "6"],
        ] {
            watch_case(&mut duo, &[zset], &[touch]);
        }
        watch_case(&mut duo, &[], &[&["ZADD", "k", "1", "a"]]);
        watch_case(
            &mut duo,
            &[&["ZADD", "s", "1", "a"]],
            &[&["ZRANGESTORE", "k", "s", "0", "-1"]],
        );
        watch_case(&mut duo, &[set], &[&["RENAME", "k", "other"]]);
        watch_case(
            &mut duo,
            &[&["SET", "src", "v"]],
            &[&["RENAME", "src", "k"]],
        );
        // Deleted.
        watch_case(&mut duo, &[set], &[&["DEL", "k"]]);
        watch_case(&mut duo, &[set], &[&["GETDEL", "k"]]);
        // Flushed or swapped away while it existed.
        watch_case(&mut duo, &[set], &[&["FLUSHDB"]]);
        watch_case(&mut duo, &[set], &[&["FLUSHALL"]]);
        watch_case(&mut duo, &[set], &[&["SWAPDB", "0", "1"]]);
        watch_case(
            &mut duo,
            &[&["SELECT", "1"], set, &["SELECT", "0"]],
            &[&["SWAPDB", "1", "0"]],
        );
    }
}

#[test]
fn watch_survives_reads_and_unrelated_writes() {
    let set: &[&str] = &["SET", "k", "v"];
    for resp3 in [false, true] {
        let Some(mut duo) = Duo::new(resp3) else {
            return;
        };
        watch_case(&mut duo, &[set], &[&["GET", "k"], &["EXISTS", "k"]]);
        watch_case(&mut duo, &[set], &[&["SET", "other", "v"]]);
        watch_case(&mut duo, &[set], &[&["SELECT", "1"], &["SET", "k", "v"]]);
        // Failed writes change nothing.
        watch_case(
            &mut duo,
            &[set],
            &[&["SADD", "k", "m"], &["LPUSH", "k", "x"]],
        );
        watch_case(
            &mut duo,
            &[set],
            &[&["INCR", "k"], &["HSET", "k", "f", "v"]],
        );
        watch_case(
            &mut duo,
            &[&["HSET", "k", "f", "v"]],
            &[&["HINCRBY", "k", "f", "1"]],
        );
        watch_case(&mut duo, &[&["SET", "k", "1"]], &[&["INCRBY", "k", "x"]]);
        // Writes that find nothing to change do not count either.
        let members: &[&str] = &["SADD", "k", "a", "b"];
        watch_case(
            &mut duo,
            &[members],
            &[&["SADD", "k", "a"], &["SREM", "k", "z"]],
        );
        watch_case(&mut duo, &[members], &[&["SMOVE", "k", "d", "z"]]);
        watch_case(&mut duo, &[members], &[&["SMOVE", "k", "k", "a"]]);
        // SMOVE of a member the destination has: only the source changes.
        watch_case(
            &mut duo,
            &[&["SADD", "s", "a", "b"], &["SADD", "k", "a"]],
            &[&["SMOVE", "s", "k", "a"]],
        );
        watch_case(
            &mut duo,
            &[members, &["SADD", "s", "z"]],
            &[&["SMOVE", "s", "k", "y"]],
        );
        watch_case(
            &mut duo,
            &[&["HSET", "k", "f", "v"]],
            &[&["HDEL", "k", "g"], &["HSETNX", "k", "f", "w"]],
        );
        watch_case(
            &mut duo,
            &[&["RPUSH", "k", "a"]],
            &[
                &["LREM", "k", "0", "z"],
                &["LINSERT", "k", "BEFORE", "z", "y"],
            ],
        );
        watch_case(
            &mut duo,
            &[set],
            &[&["SETRANGE", "k", "0", ""], &["PERSIST", "k"]],
        );
        watch_case(&mut duo, &[members], &[&["SPOP", "k", "0"]]);
        let zset: &[&str] = &["ZADD", "k", "1", "a", "2", "b"];
        for touch in [
            &["ZADD", "k", "NX", "5", "a"][..],
            &["ZADD", "k", "XX", "5", "z"],
            &["ZADD", "k", "1", "a"],
            &["ZADD", "k", "GT", "CH", "0", "b"],
            &["ZADD", "k", "LT", "3", "b"],
            &["ZADD", "k", "INCR", "0", "a"],
            &["ZADD", "k", "INCR", "XX", "1", "z"],
            &["ZINCRBY", "k", "0", "a"],
            &["ZREM", "k", "z", "y"],
            &["ZREMRANGEBYRANK", "k", "5", "10"],
            &["ZREMRANGEBYSCORE", "k", "10", "20"],
            &["ZREMRANGEBYLEX", "k", "[x", "[y"],
            &["ZPOPMIN", "k", "0"],
            &["ZPOPMAX", "k", "0"],
            &["ZRANGE", "k", "0", "-1"],
            &["ZUNIONSTORE", "d", "1", "k"],
            &["ZRANGESTORE", "d", "k", "0", "-1"],
        ] {
            watch_case(&mut duo, &[zset], &[touch]);
        }
        // An empty result stored over a missing key deletes nothing.
        watch_case(&mut duo, &[], &[&["ZRANGESTORE", "k", "none", "0", "-1"]]);
        watch_case(&mut duo, &[], &[&["ZINTERSTORE", "k", "1", "none"]]);
        watch_case(&mut duo, &[], &[&["ZADD", "k", "XX", "1", "a"]]);
        watch_case(&mut duo, &[zset], &[&["ZADD", "k", "INCR", "1", "a", "b"]]);
        watch_case(
            &mut duo,
            &[set],
            &[&["GETEX", "k", "PERSIST"], &["GETEX", "k"]],
        );
        watch_case(&mut duo, &[set], &[&["EXPIRE", "k", "100", "XX"]]);
        let list: &[&str] = &["RPUSH", "k", "a"];
        watch_case(
            &mut duo,
            &[list],
            &[&["LPOP", "k", "0"], &["RPOP", "k", "0"]],
        );
        // Deleting a missing key, flushing a database without it.
        watch_case(&mut duo, &[], &[&["DEL", "k"]]);
        watch_case(&mut duo, &[], &[&["FLUSHALL"]]);
        watch_case(&mut duo, &[&["SET", "x", "1"]], &[&["SWAPDB", "0", "1"]]);
        watch_case(&mut duo, &[set], &[&["FLUSHDB"], &["SELECT", "1"]]);
    }
}

#[test]
fn watch_and_expiry_follow_redis_7_0() {
    // Redis 7.0 aborts when a watched key expires between WATCH and EXEC,
    // whether or not it was reclaimed meanwhile. A key already expired when
    // watched is "no key": reclaiming, deleting or flushing it changes
    // nothing, writing it does.
    let volatile: &[&str] = &["SET", "k", "v", "PX", "20"];
    let wait: &[&str] = &["sleep", "60"];
    if let Some(mut duo) = Duo::new(true) {
        watch_case(&mut duo, &[volatile], &[wait]);
    }
    let Some(mut duo) = Duo::new(false) else {
        return;
    };
    watch_case(&mut duo, &[volatile], &[wait]);
    watch_case(&mut duo, &[volatile], &[wait, &["GET", "k"]]);
    watch_case(&mut duo, &[volatile], &[wait, &["FLUSHDB"]]);
    watch_case(&mut duo, &[volatile, wait], &[]);
    watch_case(&mut duo, &[volatile, wait], &[&["GET", "k"]]);
    watch_case(&mut duo, &[volatile, wait], &[&["FLUSHDB"]]);
    watch_case(&mut duo, &[volatile, wait], &[&["DEL", "k"]]);
    watch_case(&mut duo, &[volatile, wait], &[&["SET", "k", "w"]]);
    watch_case(
        &mut duo,
        &[volatile, wait],
        &[&["GET", "k"], &["SET", "k", "w"]],
    );
    // Swapping an expired key in, or an expired key for an expired key.
    let other: &[&str] = &["SELECT", "1"];
    let back: &[&str] = &["SELECT", "0"];
    watch_case(
        &mut duo,
        &[other, volatile, back, wait],
        &[&["SWAPDB", "0", "1"]],
    );
    watch_case(
        &mut duo,
        &[volatile, other, volatile, back, wait],
        &[&["SWAPDB", "0", "1"]],
    );
    watch_case(
        &mut duo,
        &[volatile, other, &["SET", "k", "live"], back, wait],
        &[&["SWAPDB", "0", "1"]],
    );
}

#[test]
fn watch_state_is_per_client_and_cleared() {
    let Some(mut duo) = Duo::new(false) else {
        return;
    };
    duo.run(&[
        // The same client's own write before MULTI aborts too.
        (0, &["WATCH", "k"]),
        (0, &["SET", "k", "mine"]),
        (0, &["MULTI"]),
        (0, &["EXEC"]),
        // UNWATCH forgets the keys and the dirty state.
        (0, &["WATCH", "k"]),
        (1, &["SET", "k", "theirs"]),
        (0, &["UNWATCH"]),
        (0, &["MULTI"]),
        (0, &["EXEC"]),
        // A dirty client stays dirty when it watches more keys.
        (0, &["WATCH", "k"]),
        (1, &["SET", "k", "again"]),
        (0, &["WATCH", "j"]),
        (0, &["MULTI"]),
        (0, &["EXEC"]),
        // DISCARD forgets them as well.
        (0, &["WATCH", "k"]),
        (0, &["MULTI"]),
        (0, &["DISCARD"]),
        (1, &["SET", "k", "later"]),
        (0, &["MULTI"]),
        (0, &["EXEC"]),
        // EXEC ends the watch: a later write does not reach the next one.
        (0, &["WATCH", "k"]),
        (0, &["MULTI"]),
        (0, &["EXEC"]),
        (1, &["SET", "k", "after"]),
        (0, &["MULTI"]),
        (0, &["EXEC"]),
        // Both watch; a transaction's writes abort the other's EXEC.
        (0, &["WATCH", "k"]),
        (1, &["WATCH", "k"]),
        (0, &["MULTI"]),
        (0, &["SET", "k", "tx"]),
        (1, &["MULTI"]),
        (1, &["GET", "k"]),
        (0, &["EXEC"]),
        (1, &["EXEC"]),
        // A refused EXEC drops the watches even outside MULTI; DISCARD does not.
        (0, &["WATCH", "k"]),
        (0, &["EXEC", "x"]),
        (1, &["SET", "k", "refused"]),
        (0, &["MULTI"]),
        (0, &["EXEC"]),
        (0, &["WATCH", "k"]),
        (0, &["DISCARD"]),
        (1, &["SET", "k", "kept"]),
        (0, &["MULTI"]),
        (0, &["EXEC"]),
        // Watching in another database.
        (0, &["SELECT", "2"]),
        (0, &["WATCH", "k"]),
        (1, &["SET", "k", "db0"]),
        (0, &["MULTI"]),
        (0, &["EXEC"]),
        (0, &["WATCH", "k"]),
        (1, &["SELECT", "2"]),
        (1, &["SET", "k", "db2"]),
        (0, &["MULTI"]),
        (0, &["EXEC"]),
    ]);
}

/// Reads an integer reply (`:n`) or a bulk number.
fn number(reply: &str) -> i64 {
    reply
        .lines()
        .filter(|l| !l.starts_with(['*', '$']))
        .find_map(|l| l.trim_start_matches(':').parse().ok())
        .unwrap_or(-1)
}

#[test]
fn exec_is_isolated_from_concurrent_readers() {
    let server = Server::start();
    const WRITERS: usize = 4;
    const ROUNDS: usize = 300;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut conn = server.connect();
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    // Half name the keys in the opposite order.
                    let (x, y) = if w % 2 == 0 { ("a", "b") } else { ("b", "a") };
                    let mut request = Vec::new();
                    for args in [&["MULTI"][..], &["INCR", x], &["INCR", y], &["EXEC"]] {
                        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
                        request.extend(support::request(&args));
                    }
                    conn.send(&request);
                    assert_eq!(conn.read_reply(), b"+OK\r\n");
                    assert_eq!(conn.read_reply(), b"+QUEUED\r\n");
                    assert_eq!(conn.read_reply(), b"+QUEUED\r\n");
                    let exec = String::from_utf8_lossy(&conn.read_reply()).into_owned();
                    let counts: Vec<&str> = exec.lines().skip(1).collect();
                    assert_eq!(counts.len(), 2, "{exec}");
                    assert_eq!(counts[0], counts[1], "EXEC saw the keys differ: {exec}");
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut conn = server.connect();
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let reply = conn.cmd_str(&["MGET", "a", "b"]);
                    let values: Vec<&str> = reply
                        .lines()
                        .filter(|l| !l.starts_with(['*', '$']))
                        .collect();
                    assert!(
                        values.is_empty() || values[0] == values[1],
                        "MGET saw half a transaction: {reply}"
                    );
                }
            })
        })
        .collect();
    for t in writers.into_iter().chain(readers) {
        t.join().expect("client thread");
    }
    let mut conn = server.connect();
    let total = (WRITERS * ROUNDS) as i64;
    assert_eq!(number(&conn.cmd_str(&["GET", "a"])), total);
    assert_eq!(number(&conn.cmd_str(&["GET", "b"])), total);
}

#[test]
fn watch_check_and_set_loses_no_update() {
    // The optimistic-locking pattern: each client retries its WATCH/GET/SET
    // until EXEC succeeds. With WATCH working, no increment is lost.
    let server = Server::start();
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 100;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let mut conn = server.connect();
            thread::spawn(move || {
                let mut aborted = 0;
                for _ in 0..ROUNDS {
                    loop {
                        conn.cmd(&["WATCH", "counter"]);
                        let n = number(&conn.cmd_str(&["GET", "counter"])).max(0);
                        conn.cmd(&["MULTI"]);
                        conn.cmd(&["SET", "counter", &(n + 1).to_string()]);
                        if conn.cmd(&["EXEC"]) != b"*-1\r\n" {
                            break;
                        }
                        aborted += 1;
                    }
                }
                aborted
            })
        })
        .collect();
    let aborted: usize = workers.into_iter().map(|t| t.join().expect("worker")).sum();
    let mut conn = server.connect();
    assert_eq!(
        number(&conn.cmd_str(&["GET", "counter"])),
        (CLIENTS * ROUNDS) as i64
    );
    // Not a proof of contention, but with four clients some EXEC usually aborts.
    eprintln!("{aborted} transactions aborted and retried");
}

#[test]
fn a_disconnected_client_leaves_no_watch_behind() {
    let server = Server::start();
    let mut conn = server.connect();
    {
        let mut gone = server.connect();
        assert_eq!(gone.cmd_str(&["WATCH", "k"]), "+OK\r\n");
        assert_eq!(gone.cmd_str(&["MULTI"]), "+OK\r\n");
        assert_eq!(gone.cmd_str(&["SET", "k", "1"]), "+QUEUED\r\n");
    }
    // The queued SET never runs, and writes keep working.
    thread::sleep(Duration::from_millis(50));
    assert_eq!(conn.cmd_str(&["SET", "k", "2"]), "+OK\r\n");
    assert_eq!(conn.cmd_str(&["GET", "k"]), "$1\r\n2\r\n");
    let list = conn.cmd_str(&["CLIENT", "LIST"]);
    assert_eq!(list.matches("id=").count(), 1, "{list}");
}

#[test]
fn client_list_shows_another_client_in_multi() {
    let server = Server::start();
    let mut a = server.connect();
    let mut b: Conn = server.connect();
    a.cmd(&["MULTI"]);
    a.cmd(&["SET", "x", "1"]);
    a.cmd(&["SET", "y", "1"]);
    let list = b.cmd_str(&["CLIENT", "LIST"]);
    assert!(
        list.contains("flags=x db=0 sub=0 psub=0 ssub=0 multi=2 "),
        "{list}"
    );
    b.cmd(&["WATCH", "x"]);
    a.cmd(&["EXEC"]);
    let list = b.cmd_str(&["CLIENT", "LIST"]);
    assert!(
        list.contains("flags=d db=0 sub=0 psub=0 ssub=0 multi=-1 "),
        "{list}"
    );
    assert!(
        list.contains("flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 "),
        "{list}"
    );
}

/// A random command of two clients sharing three keys: transaction control,
/// writes that change or do not change the keys, reads, flushes.
fn random_step(rng: &mut StdRng) -> (usize, Vec<String>) {
    let key = ["a", "b", "c"][rng.gen_range(0..3)].to_string();
    let member = ["x", "y"][rng.gen_range(0..2)].to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let args = match rng.gen_range(0..100) {
        0..=14 => vec!["WATCH".into(), key],
        15..=19 => s(&["UNWATCH"]),
        20..=32 => s(&["MULTI"]),
        33..=44 => s(&["EXEC"]),
        45..=47 => s(&["DISCARD"]),
        48..=55 => vec!["SET".into(), key, member],
        56..=60 => vec!["DEL".into(), key],
        61..=66 => vec!["INCR".into(), key],
        67..=72 => vec!["SADD".into(), key, member],
        73..=77 => vec!["SREM".into(), key, member],
        78..=84 => vec!["GET".into(), key],
        85..=87 => vec!["EXPIRE".into(), key, "100".into()],
        88..=89 => vec!["PERSIST".into(), key],
        90 => s(&["FLUSHDB"]),
        91 => s(&["SWAPDB", "0", "1"]),
        92 => vec!["NOSUCH".into(), key],
        93 => s(&["GET"]),
        94 => vec!["SELECT".into(), rng.gen_range(0..2).to_string()],
        95 => vec!["RENAME".into(), key, "b".into()],
        96 => vec!["MOVE".into(), key, "1".into()],
        97 => vec!["COPY".into(), key, "c".into(), "DB".into(), "1".into()],
        98 => vec!["HSET".into(), key, "f".into(), member],
        _ => vec!["TYPE".into(), key],
    };
    (rng.gen_range(0..2), args)
}

#[test]
fn seeded_random_transactions_match_redis() {
    let Some(mut duo) = Duo::new(false) else {
        return;
    };
    for seed in 0..8u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let script: Vec<(usize, Vec<String>)> = (0..300).map(|_| random_step(&mut rng)).collect();
        // Both clients leave the previous seed's transaction and watches.
        let mut steps: Vec<(usize, Vec<&str>)> = vec![
            (0, vec!["RESET"]),
            (1, vec!["RESET"]),
            (0, vec!["FLUSHALL"]),
        ];
        steps.extend(
            script
                .iter()
                .map(|(who, args)| (*who, args.iter().map(String::as_str).collect())),
        );
        let steps: Vec<(usize, &[&str])> = steps.iter().map(|(w, a)| (*w, &a[..])).collect();
        duo.run(&steps);
    }
}

/// SUBSCRIBE queued in MULTI: its confirmation sits in EXEC's array, and the
/// connection is in subscribed mode afterwards, as with Redis.
#[test]
fn subscribe_inside_exec_matches_redis() {
    support::differential_raw(b"MULTI\r\nSUBSCRIBE foo\r\nEXEC\r\nPING\r\nMULTI\r\n");
}

/// EXEC of a transaction holding a write is a write: `min-replicas-to-write`
/// raised after the commands were queued aborts it with EXECABORT, its
/// INCR not run, as Redis's `is_write_command` (the suite's "exec with
/// write commands and state change"); one of reads alone still runs.
#[test]
fn exec_of_writes_is_refused_when_too_few_replicas_since_queueing() {
    let Some(mut pair) = support::Pair::new() else {
        return;
    };
    let mut admins = [
        Conn::connect(pair.want_port()),
        Conn::connect(pair.got_port()),
    ];
    pair.check(&["SET", "xx", "1"]);
    pair.check(&["MULTI"]);
    pair.check(&["INCR", "xx"]);
    for admin in &mut admins {
        admin.cmd(&["CONFIG", "SET", "min-replicas-to-write", "2"]);
    }
    let reply = pair.check(&["EXEC"]);
    assert!(String::from_utf8_lossy(&reply).starts_with("-EXECABORT"));
    pair.check(&["MULTI"]);
    pair.check(&["GET", "xx"]);
    pair.check(&["EXEC"]);
    for admin in &mut admins {
        admin.cmd(&["CONFIG", "SET", "min-replicas-to-write", "0"]);
    }
    pair.check(&["GET", "xx"]);
}
