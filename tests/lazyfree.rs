//! Freeing in the background (UNLINK, DEL, FLUSHALL/FLUSHDB ASYNC of big
//! values) answers exactly as redis-server does, and INFO's lazyfree counters
//! count what Redis counts.

mod support;

use std::time::{Duration, Instant};

use support::{Conn, Pair};

/// Members or elements per big value: far above Redis's lazyfree threshold
/// of 64 (for a list: 64 quicklist nodes, so elements of 1,000 bytes).
const BIG: usize = 1_000;

/// Sends `cmd` followed by `n` generated arguments to both servers, compared.
fn fill(pair: &mut Pair, cmd: &[&str], n: usize, arg: impl Fn(usize) -> Vec<String>) {
    let generated: Vec<String> = (0..n).flat_map(arg).collect();
    let mut args: Vec<&str> = cmd.to_vec();
    args.extend(generated.iter().map(String::as_str));
    pair.check(&args);
}

/// Creates one big value of each collection type under `prefix:set`, `:list`, ...
fn big_values(pair: &mut Pair, prefix: &str) {
    fill(pair, &["SADD", &format!("{prefix}:set")], BIG, |i| {
        vec![format!("member:{i}")]
    });
    let element = "x".repeat(1_000);
    fill(pair, &["RPUSH", &format!("{prefix}:list")], BIG, |i| {
        vec![format!("{i}{element}")]
    });
    fill(pair, &["HSET", &format!("{prefix}:hash")], BIG, |i| {
        vec![format!("field:{i}"), format!("{i}")]
    });
    fill(pair, &["ZADD", &format!("{prefix}:zset")], BIG, |i| {
        vec![format!("{i}"), format!("member:{i}")]
    });
    for ty in ["set", "list", "hash", "zset"] {
        pair.check(&["OBJECT", "ENCODING", &format!("{prefix}:{ty}")]);
    }
}

/// INFO's `lazyfree_pending_objects` and `lazyfreed_objects` of one server,
/// once nothing is pending any more (the background thread has caught up).
fn lazyfree_fields(conn: &mut Conn) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = conn.cmd_str(&["INFO", "memory"]);
        let fields: Vec<&str> = info
            .split("\r\n")
            .filter(|l| l.starts_with("lazyfree"))
            .collect();
        if fields.contains(&"lazyfree_pending_objects:0") || Instant::now() > deadline {
            return fields.join(" ");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn same_lazyfree_fields(pair: &mut Pair, after: &str) {
    assert_eq!(
        lazyfree_fields(&mut pair.got),
        lazyfree_fields(&mut pair.want),
        "INFO lazyfree fields after {after} differ from redis-server"
    );
}

#[test]
fn unlink_and_del_of_big_values_match_redis() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    same_lazyfree_fields(&mut pair, "start");
    big_values(&mut pair, "u");
    big_values(&mut pair, "d");
    pair.run(&[
        &["SADD", "small", "a", "b", "c"],
        &["SADD", "ints", "1", "2", "3"],
        &["UNLINK", "u:set", "u:list", "nosuch", "small", "ints"],
        &["UNLINK", "u:hash", "u:hash"],
        &["DEL", "d:set", "d:list", "nosuch"],
        &[
            "EXISTS", "u:set", "u:list", "u:hash", "d:set", "d:list", "small",
        ],
        &["DBSIZE"],
        &["SCARD", "u:set"],
        &["SADD", "u:set", "again"],
        &["SMEMBERS", "u:set"],
    ]);
    // UNLINK frees big values lazily (3 here); DEL frees synchronously by default.
    same_lazyfree_fields(&mut pair, "UNLINK and DEL");
    pair.run(&[
        &["CONFIG", "SET", "lazyfree-lazy-user-del", "yes"],
        &["DEL", "d:hash", "d:zset"],
        &["UNLINK", "u:zset"],
    ]);
    same_lazyfree_fields(&mut pair, "DEL with lazyfree-lazy-user-del");
    pair.run(&[&["CONFIG", "RESETSTAT"], &["DBSIZE"]]);
    same_lazyfree_fields(&mut pair, "CONFIG RESETSTAT");
}

#[test]
fn flushes_async_match_redis() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    big_values(&mut pair, "a");
    pair.run(&[
        &["MSET", "k1", "1", "k2", "2", "k3", "3"],
        &["SELECT", "1"],
        &["MSET", "k1", "1", "k2", "2"],
        &["FLUSHDB", "ASYNC"],
        &["DBSIZE"],
        &["SELECT", "0"],
        &["DBSIZE"],
    ]);
    same_lazyfree_fields(&mut pair, "FLUSHDB ASYNC");
    pair.run(&[
        &["SELECT", "2"],
        &["SET", "k", "v"],
        &["FLUSHALL", "ASYNC"],
        &["DBSIZE"],
        &["SELECT", "0"],
        &["DBSIZE"],
        &["EXISTS", "a:set", "k1"],
        &["SADD", "a:set", "x"],
        &["FLUSHALL", "SYNC"],
        &["FLUSHDB"],
    ]);
    same_lazyfree_fields(&mut pair, "FLUSHALL ASYNC and SYNC");
    pair.run(&[
        &["SET", "k", "v"],
        &["CONFIG", "SET", "lazyfree-lazy-user-flush", "yes"],
        &["FLUSHALL"],
        &["DBSIZE"],
    ]);
    same_lazyfree_fields(&mut pair, "FLUSHALL with lazyfree-lazy-user-flush");
}

/// How many of the server's threads are jemalloc's purging threads.
fn purging_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("threads")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("jemalloc_bg_thd"))
        .count()
}

/// Waits up to 5 s for `check` to hold.
fn eventually(check: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn config_set_jemalloc_bg_thread_takes_effect_at_once() {
    let server = support::Server::start();
    let mut conn = server.connect();
    let pid = server.pid();
    assert!(eventually(|| purging_threads(pid) > 0), "on by default");
    assert_eq!(
        conn.cmd_str(&["CONFIG", "SET", "jemalloc-bg-thread", "no"]),
        "+OK\r\n"
    );
    assert!(eventually(|| purging_threads(pid) == 0), "stopped");
    assert_eq!(
        conn.cmd_str(&["CONFIG", "GET", "jemalloc-bg-thread"]),
        "*2\r\n$18\r\njemalloc-bg-thread\r\n$2\r\nno\r\n"
    );
    conn.cmd(&["CONFIG", "SET", "jemalloc-bg-thread", "yes"]);
    assert!(eventually(|| purging_threads(pid) > 0), "started again");
}
