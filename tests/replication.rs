//! The replica side of replication: REPLICAOF / SLAVEOF, the sync from a
//! reddish or a real redis-server master, the stream applied afterwards,
//! WAIT, ROLE and INFO on both ends, read-only replicas, expired keys on a
//! replica, reconnection after the master restarts, REPLICAOF NO ONE, and
//! a real redis-server still following reddish.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::{Conn, Server};

/// A fresh, empty directory under the system's temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reddish-repl-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// reddish in its own directory, saving nothing, logging to `dir/log`.
fn start(dir: &std::path::Path, args: &[&str]) -> Server {
    let dir_arg = dir.to_string_lossy().into_owned();
    let mut all = vec![
        "--dir",
        &dir_arg,
        "--save",
        "",
        "--enable-debug-command",
        "yes",
    ];
    all.extend_from_slice(args);
    Server::start_logging_to_file(&dir.join("log"), &all)
}

/// INFO replication as a map.
fn replication(conn: &mut Conn) -> BTreeMap<String, String> {
    let reply = conn.cmd_str(&["INFO", "replication"]);
    reply
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Waits (10 s at most) until `test` holds.
fn wait_until(what: &str, mut test: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !test() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_link_up(replica: &mut Conn) {
    wait_until("master_link_status:up", || {
        replication(replica)
            .get("master_link_status")
            .map(String::as_str)
            == Some("up")
    });
}

fn replicaof(replica: &mut Conn, port: u16) -> String {
    replica.cmd_str(&["REPLICAOF", "127.0.0.1", &port.to_string()])
}

#[test]
fn replica_of_reddish_gets_data_before_and_writes_after_the_sync() {
    let (mdir, rdir) = (temp_dir("m1"), temp_dir("r1"));
    let master = start(&mdir, &[]);
    let replica = start(&rdir, &[]);
    let (mut m, mut r) = (master.connect(), replica.connect());
    m.cmd(&["SET", "before", "1"]);
    m.cmd(&["SET", "ttl", "v", "EX", "100"]);
    m.cmd(&["RPUSH", "list", "a", "b", "c"]);
    m.cmd(&["SELECT", "3"]);
    m.cmd(&["HSET", "h", "f", "v"]);
    m.cmd(&["SELECT", "0"]);
    r.cmd(&["SET", "replica-own", "gone after the sync"]);

    assert_eq!(replicaof(&mut r, master.port), "+OK\r\n");
    wait_link_up(&mut r);
    assert_eq!(r.cmd_str(&["EXISTS", "replica-own"]), ":0\r\n");
    assert_eq!(r.cmd_str(&["GET", "before"]), "$1\r\n1\r\n");
    assert_eq!(
        r.cmd_str(&["LRANGE", "list", "0", "-1"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    r.cmd(&["SELECT", "3"]);
    assert_eq!(r.cmd_str(&["HGET", "h", "f"]), "$1\r\nv\r\n");
    r.cmd(&["SELECT", "0"]);

    // Writes after the sync, TTLs as absolute times, acknowledged for WAIT.
    m.cmd(&["SET", "after", "2", "PX", "100000"]);
    m.cmd(&["SET", "e", "x"]);
    m.cmd(&["EXPIRE", "e", "100"]);
    m.cmd(&["INCR", "counter"]);
    m.cmd(&["MULTI"]);
    m.cmd(&["INCR", "counter"]);
    m.cmd(&["DEL", "before"]);
    m.cmd(&["EXEC"]);
    assert_eq!(m.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
    for key in ["ttl", "after", "e"] {
        let on_master = m.cmd_str(&["PEXPIRETIME", key]);
        assert!(on_master.starts_with(":1"), "{on_master}");
        assert_eq!(r.cmd_str(&["PEXPIRETIME", key]), on_master, "{key}");
    }
    assert_eq!(r.cmd_str(&["GET", "counter"]), "$1\r\n2\r\n");
    assert_eq!(r.cmd_str(&["EXISTS", "before"]), ":0\r\n");
    assert_eq!(m.cmd(&["DEBUG", "DIGEST"]), r.cmd(&["DEBUG", "DIGEST"]));

    // Both ends describe the link.
    let ri = replication(&mut r);
    assert_eq!(ri["role"], "slave");
    assert_eq!(ri["master_host"], "127.0.0.1");
    assert_eq!(ri["master_port"], master.port.to_string());
    assert_eq!(ri["master_sync_in_progress"], "0");
    assert_eq!(ri["slave_read_only"], "1");
    let mi = replication(&mut m);
    assert_eq!(mi["role"], "master");
    assert_eq!(mi["connected_slaves"], "1");
    assert_eq!(ri["master_replid"], mi["master_replid"]);
    wait_until("the replica's offset to reach the master's", || {
        replication(&mut r)["slave_repl_offset"] == replication(&mut m)["master_repl_offset"]
    });
    let offset = replication(&mut m)["master_repl_offset"].clone();
    let role = r.cmd_str(&["ROLE"]);
    let expected = format!(
        "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{}\r\n$9\r\nconnected\r\n:{offset}\r\n",
        master.port
    );
    assert_eq!(role, expected);
    assert!(m.cmd_str(&["ROLE"]).starts_with("*3\r\n$6\r\nmaster\r\n"));
    let clients = r.cmd_str(&["CLIENT", "LIST", "TYPE", "master"]);
    assert!(clients.contains("flags=M"), "{clients}");
    // Killing the master client drops the link, which comes back at once.
    assert_eq!(r.cmd_str(&["CLIENT", "KILL", "TYPE", "master"]), ":1\r\n");
    wait_link_up(&mut r);
    m.cmd(&["SET", "after-kill", "1"]);
    assert_eq!(m.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
    assert_eq!(r.cmd_str(&["GET", "after-kill"]), "$1\r\n1\r\n");

    // A read-only replica refuses writes from its clients, in MULTI too.
    assert_eq!(
        r.cmd_str(&["SET", "x", "1"]),
        "-READONLY You can't write against a read only replica.\r\n"
    );
    r.cmd(&["MULTI"]);
    assert!(r.cmd_str(&["INCR", "x"]).starts_with("-READONLY"));
    assert!(r.cmd_str(&["EXEC"]).starts_with("-EXECABORT"));
    assert_eq!(
        replicaof(&mut r, master.port),
        "+OK Already connected to specified master\r\n"
    );
    assert_eq!(
        r.cmd_str(&["CONFIG", "GET", "replicaof"]),
        format!(
            "*2\r\n$9\r\nreplicaof\r\n${}\r\n127.0.0.1 {}\r\n",
            10 + master.port.to_string().len(),
            master.port
        )
    );

    // REPLICAOF NO ONE: a master again, with the data, under a new id.
    let old_id = replication(&mut r)["master_replid"].clone();
    assert_eq!(r.cmd_str(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    let ri = replication(&mut r);
    assert_eq!(ri["role"], "master");
    assert_ne!(ri["master_replid"], old_id);
    assert_eq!(ri["master_replid2"], old_id);
    assert_eq!(r.cmd_str(&["GET", "counter"]), "$1\r\n2\r\n");
    assert_eq!(r.cmd_str(&["SET", "x", "1"]), "+OK\r\n");
    m.cmd(&["SET", "not-followed", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(r.cmd_str(&["EXISTS", "not-followed"]), ":0\r\n");
    wait_until("the master to see the replica leave", || {
        replication(&mut m)["connected_slaves"] == "0"
    });
}

#[test]
fn replicaof_replies_and_errors_are_redis_ones() {
    let dir = temp_dir("errors");
    let reddish = start(&dir, &[]);
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let (mut ours, mut theirs) = (reddish.connect(), oracle.connect());
    for args in [
        &["REPLICAOF", "NO", "ONE"][..],
        &["SLAVEOF", "no", "one"],
        &["REPLICAOF", "127.0.0.1", "notaport"],
        &["REPLICAOF", "127.0.0.1", "70000"],
        &["REPLICAOF", "127.0.0.1", "-1"],
        &["REPLICAOF", "127.0.0.1"],
        &["SLAVEOF", "a", "b", "c"],
        &["ROLE"],
        &["CONFIG", "GET", "replicaof"],
    ] {
        assert_eq!(ours.cmd_str(args), theirs.cmd_str(args), "{args:?}");
    }
}

#[test]
fn replica_keeps_expired_keys_until_its_master_deletes_them() {
    let (mdir, rdir) = (temp_dir("m2"), temp_dir("r2"));
    let master = start(&mdir, &[]);
    let replica = start(
        &rdir,
        &["--replicaof", "127.0.0.1", &master.port.to_string()],
    );
    let (mut m, mut r) = (master.connect(), replica.connect());
    wait_link_up(&mut r);
    m.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    m.cmd(&["SET", "k", "v", "PX", "200"]);
    assert_eq!(m.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
    std::thread::sleep(Duration::from_millis(400));
    // Logically expired: reads miss, but the key stays for the master's DEL.
    assert_eq!(r.cmd_str(&["GET", "k"]), "$-1\r\n");
    assert_eq!(r.cmd_str(&["EXISTS", "k"]), ":0\r\n");
    assert_eq!(r.cmd_str(&["DBSIZE"]), ":1\r\n");
    assert_eq!(m.cmd_str(&["GET", "k"]), "$-1\r\n");
    assert_eq!(m.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
    assert_eq!(r.cmd_str(&["DBSIZE"]), ":0\r\n");
    // A writable replica's own writes reclaim expired keys as a master does.
    m.cmd(&["SET", "w", "v", "PX", "200"]);
    assert_eq!(m.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
    std::thread::sleep(Duration::from_millis(400));
    r.cmd(&["CONFIG", "SET", "replica-read-only", "no"]);
    assert_eq!(r.cmd_str(&["SETNX", "w", "mine"]), ":1\r\n");
    assert_eq!(r.cmd_str(&["GET", "w"]), "$4\r\nmine\r\n");
    // ... and the keys they give a TTL expire there without being read.
    r.cmd(&["SET", "own", "v", "PX", "100"]);
    assert_eq!(r.cmd_str(&["DBSIZE"]), ":2\r\n");
    wait_until("the replica's own key to expire", || {
        r.cmd_str(&["DBSIZE"]) == ":1\r\n"
    });
}

#[test]
fn replica_reconnects_and_resyncs_after_its_master_restarts() {
    let (mdir, rdir) = (temp_dir("m3"), temp_dir("r3"));
    let master = start(&mdir, &[]);
    let port = master.port.to_string();
    let replica = start(&rdir, &["--replica-serve-stale-data", "no"]);
    let mut r = replica.connect();
    master.connect().cmd(&["SET", "first", "1"]);
    assert_eq!(replicaof(&mut r, master.port), "+OK\r\n");
    wait_link_up(&mut r);
    assert_eq!(r.cmd_str(&["GET", "first"]), "$1\r\n1\r\n");
    drop(master);
    wait_until("master_link_status:down", || {
        replication(&mut r)["master_link_status"] == "down"
    });
    // replica-serve-stale-data no: only `stale` commands while down.
    assert_eq!(
        r.cmd_str(&["GET", "first"]),
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    let info = replication(&mut r);
    assert_eq!(info["master_last_io_seconds_ago"], "-1");
    assert!(info.contains_key("master_link_down_since_seconds"));
    let role = r.cmd_str(&["ROLE"]);
    assert!(role.ends_with(":-1\r\n"), "{role}");

    // Back on the same port (the replica knows no other).
    let mdir_arg = mdir.to_string_lossy().into_owned();
    let master = Server::start_with_args(
        &["--port", &port, "--save", "", "--dir", &mdir_arg],
        port.parse().expect("port"),
    );
    let mut m = master.connect();
    m.cmd(&["SET", "second", "2"]);
    wait_link_up(&mut r);
    assert_eq!(r.cmd_str(&["EXISTS", "first"]), ":0\r\n");
    assert_eq!(r.cmd_str(&["GET", "second"]), "$1\r\n2\r\n");
    m.cmd(&["SET", "third", "3"]);
    assert_eq!(m.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
    assert_eq!(r.cmd_str(&["GET", "third"]), "$1\r\n3\r\n");
}

/// The same data on a real redis-server master and on reddish following it
/// (the master's diskless `$EOF:` snapshot, then its stream).
#[test]
fn replica_of_redis_server_holds_the_same_data() {
    let Some(oracle) = Server::oracle_with(&[
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]) else {
        return;
    };
    let dir = temp_dir("of-redis");
    let replica = start(&dir, &[]);
    let (mut m, mut r) = (oracle.connect(), replica.connect());
    m.cmd(&["SET", "s", "v", "EX", "1000"]);
    m.cmd(&["RPUSH", "l", "1", "2", "3"]);
    m.cmd(&["ZADD", "z", "1", "a", "2.5", "b"]);
    m.cmd(&["HSET", "h", "f", "v", "g", "w"]);
    m.cmd(&["SADD", "set", "1", "2", "x"]);
    m.cmd(&["XADD", "st", "1-1", "f", "v"]);
    m.cmd(&["PFADD", "hll", "a", "b"]);
    assert_eq!(replicaof(&mut r, oracle.port), "+OK\r\n");
    wait_link_up(&mut r);
    m.cmd(&["INCRBYFLOAT", "f", "1.5"]);
    m.cmd(&["LPOP", "l"]);
    m.cmd(&["SELECT", "2"]);
    m.cmd(&["SET", "other-db", "1", "PX", "500000"]);
    m.cmd(&["SELECT", "0"]);
    m.cmd(&[
        "EVAL",
        "redis.call('set', KEYS[1], 'lua') return 1",
        "1",
        "scripted",
    ]);
    assert_eq!(m.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
    assert_eq!(m.cmd(&["DEBUG", "DIGEST"]), r.cmd(&["DEBUG", "DIGEST"]));
    assert_eq!(m.cmd(&["PEXPIRETIME", "s"]), r.cmd(&["PEXPIRETIME", "s"]));
    wait_until("the replica's offset to reach the master's", || {
        replication(&mut r)["slave_repl_offset"] == replication(&mut m)["master_repl_offset"]
    });
    assert_eq!(
        replication(&mut r)["master_replid"],
        replication(&mut m)["master_replid"]
    );
}

/// A real redis-server replica of reddish (master side) still syncs and
/// follows.
#[test]
fn redis_server_replica_of_reddish_follows_it() {
    let dir = temp_dir("redis-replica");
    let master = start(&dir, &[]);
    let mut m = master.connect();
    m.cmd(&["SET", "a", "1"]);
    m.cmd(&["SADD", "s", "x", "y"]);
    let Some(oracle) = Server::oracle_with(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut r = oracle.connect();
    assert_eq!(replicaof(&mut r, master.port), "+OK\r\n");
    wait_link_up(&mut r);
    m.cmd(&["INCR", "n"]);
    m.cmd(&["SET", "t", "v", "EX", "100"]);
    assert_eq!(m.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
    assert_eq!(m.cmd(&["DEBUG", "DIGEST"]), r.cmd(&["DEBUG", "DIGEST"]));
}

/// A master with a password: the replica AUTHs with `masteruser` and
/// `masterauth`; without them the link never comes up.
#[test]
fn replica_authenticates_with_masterauth() {
    let (mdir, rdir) = (temp_dir("m-auth"), temp_dir("r-auth"));
    let master = start(&mdir, &[]);
    let mut m = master.connect();
    let setuser = [
        "ACL", "SETUSER", "repl", "on", ">secret", "~*", "&*", "+@all",
    ];
    assert_eq!(m.cmd_str(&setuser), "+OK\r\n");
    assert_eq!(
        m.cmd_str(&["CONFIG", "SET", "requirepass", "pw"]),
        "+OK\r\n"
    );
    assert_eq!(m.cmd_str(&["AUTH", "pw"]), "+OK\r\n");
    m.cmd(&["SET", "k", "v"]);
    let replica = start(&rdir, &[]);
    let mut r = replica.connect();
    assert_eq!(replicaof(&mut r, master.port), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(replication(&mut r)["master_link_status"], "down");
    r.cmd(&["CONFIG", "SET", "masteruser", "repl"]);
    r.cmd(&["CONFIG", "SET", "masterauth", "secret"]);
    wait_link_up(&mut r);
    assert_eq!(r.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
}

/// A replica of a replica gets the master's stream as it is, going on in
/// the database it was in when it attached (`repl-stream-db`), with the
/// same replication id and offsets all down the chain.
#[test]
fn replica_of_a_replica_follows_the_chain() {
    let (mdir, r1dir, r2dir) = (
        temp_dir("chain-m"),
        temp_dir("chain-r1"),
        temp_dir("chain-r2"),
    );
    let master = start(&mdir, &[]);
    let first = start(&r1dir, &[]);
    let second = start(&r2dir, &[]);
    let (mut m, mut r1, mut r2) = (master.connect(), first.connect(), second.connect());
    assert_eq!(replicaof(&mut r1, master.port), "+OK\r\n");
    wait_link_up(&mut r1);
    m.cmd(&["SELECT", "3"]);
    m.cmd(&["SET", "a", "1"]);
    assert_eq!(m.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
    assert_eq!(replicaof(&mut r2, first.port), "+OK\r\n");
    wait_link_up(&mut r2);
    // No SELECT comes before this one: the stream is still in database 3.
    m.cmd(&["SET", "b", "2"]);
    r2.cmd(&["SELECT", "3"]);
    wait_until("the write to reach the second replica", || {
        r2.cmd_str(&["GET", "b"]) == "$1\r\n2\r\n"
    });
    assert_eq!(r2.cmd_str(&["GET", "a"]), "$1\r\n1\r\n");
    assert_eq!(m.cmd(&["DEBUG", "DIGEST"]), r2.cmd(&["DEBUG", "DIGEST"]));
    wait_until("the offsets to agree down the chain", || {
        let offset = replication(&mut m)["master_repl_offset"].clone();
        replication(&mut r1)["slave_repl_offset"] == offset
            && replication(&mut r2)["slave_repl_offset"] == offset
    });
    assert_eq!(
        replication(&mut r2)["master_replid"],
        replication(&mut m)["master_replid"]
    );
    // The first replica counts its own replica for WAIT.
    assert_eq!(replication(&mut r1)["connected_slaves"], "1");
}

/// Clients blocked when a server becomes a replica get Redis's
/// `-UNBLOCKED` error and are disconnected (`disconnectAllBlockedClients`).
#[test]
fn becoming_a_replica_unblocks_blocked_clients() {
    let dir = temp_dir("unblock");
    let master = start(&dir, &[]);
    let ours = start(&temp_dir("unblock-r"), &[]);
    let Some(theirs) = Server::oracle() else {
        return;
    };
    let mut replies = Vec::new();
    for server in [&ours, &theirs] {
        let mut blocked = server.connect();
        blocked.send(b"*3\r\n$5\r\nBLPOP\r\n$3\r\nfoo\r\n$1\r\n0\r\n");
        let mut admin = server.connect();
        wait_until("the client to block", || {
            admin
                .cmd_str(&["INFO", "clients"])
                .contains("blocked_clients:1")
        });
        assert_eq!(replicaof(&mut admin, master.port), "+OK\r\n");
        replies.push(blocked.read_reply());
        assert!(blocked.closed_by_server(), "the blocked client is closed");
    }
    assert_eq!(
        String::from_utf8_lossy(&replies[0]),
        String::from_utf8_lossy(&replies[1])
    );
}

/// The keys of INFO stats' sync counters (`sync_full`, `sync_partial_ok`,
/// `sync_partial_err`), in that order.
fn syncs(conn: &mut Conn) -> Vec<String> {
    let reply = conn.cmd_str(&["INFO", "stats"]);
    ["sync_full", "sync_partial_ok", "sync_partial_err"]
        .iter()
        .map(|name| {
            reply
                .split("\r\n")
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}

/// A replica whose link drops comes back with PSYNC <replid> <offset> and
/// goes on from the backlog (`+CONTINUE`) instead of a full sync: a reddish
/// replica and a real redis-server replica of reddish, and a reddish
/// replica of a real redis-server master. Writes made while the link was
/// down arrive, and the datasets end equal.
#[test]
fn a_dropped_link_resumes_with_a_partial_resync() {
    let dir = temp_dir("psync");
    let master = start(&dir, &[]);
    let mut m = master.connect();
    m.cmd(&["SET", "a", "1"]);
    let port = master.port.to_string();
    let replica_args = [
        "--replicaof",
        "127.0.0.1",
        &port,
        "--enable-debug-command",
        "yes",
    ];
    let ours = Server::start_with(&replica_args);
    let oracle = Server::oracle_with(&replica_args);
    let mut replicas: Vec<Conn> = std::iter::once(&ours)
        .chain(&oracle)
        .map(Server::connect)
        .collect();
    for r in &mut replicas {
        wait_link_up(r);
    }
    for r in &mut replicas {
        assert_eq!(r.cmd_str(&["CLIENT", "KILL", "TYPE", "master"]), ":1\r\n");
    }
    m.cmd(&["SELECT", "2"]);
    m.cmd(&["SET", "while-down", "x"]);
    m.cmd(&["INCR", "n"]);
    let want = m.cmd(&["DEBUG", "DIGEST"]);
    for r in &mut replicas {
        wait_until("the replica caught up", || {
            r.cmd(&["DEBUG", "DIGEST"]) == want
        });
    }
    let expected = (replicas.len() as u64).to_string();
    assert_eq!(syncs(&mut m), [&expected, &expected, "0"]);
    let log = std::fs::read_to_string(dir.join("log")).expect("log");
    assert!(
        log.contains("Partial resynchronization request from"),
        "{log}"
    );
    // A history the backlog does not hold is a full sync, counted as a
    // refused partial one.
    let mut raw = master.connect();
    let reply = raw.cmd_str(&["PSYNC", &"f".repeat(40), "1"]);
    assert!(reply.starts_with("+FULLRESYNC"), "{reply}");
    assert_eq!(syncs(&mut m)[2], "1");

    // reddish following redis-server resumes the same way.
    let Some(redis) = Server::oracle_with(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut theirs = redis.connect();
    let mut r = ours.connect();
    assert_eq!(replicaof(&mut r, redis.port), "+OK\r\n");
    wait_link_up(&mut r);
    theirs.cmd(&["SET", "k", "v"]);
    assert_eq!(theirs.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
    assert_eq!(r.cmd_str(&["CLIENT", "KILL", "TYPE", "master"]), ":1\r\n");
    theirs.cmd(&["SET", "later", "v"]);
    let want = theirs.cmd(&["DEBUG", "DIGEST"]);
    wait_until("the replica caught up", || {
        r.cmd(&["DEBUG", "DIGEST"]) == want
    });
    assert_eq!(syncs(&mut theirs)[1], "1");
}

/// A replica's link is a `slave` client (flag `S`) whose waiting stream is
/// counted as Redis counts it: in `mem_clients_slaves` and
/// `mem_not_counted_for_evict`, so that what a stalled replica has not
/// read leaves the rest of `used_memory` where it was, and gone at once
/// with CLIENT KILL TYPE slave (unit/maxmemory's replica buffer tests).
#[test]
fn a_stalled_replicas_stream_is_counted_apart_and_freed_by_client_kill() {
    let (master_dir, replica_dir) = (temp_dir("stalled-master"), temp_dir("stalled-replica"));
    let master = start(&master_dir, &["--repl-backlog-size", "10240"]);
    let replica = start(&replica_dir, &[]);
    let mut m = master.connect();
    let mut r = replica.connect();
    assert_eq!(replicaof(&mut r, master.port), "+OK\r\n");
    wait_link_up(&mut r);
    let links = m.cmd_str(&["CLIENT", "LIST", "TYPE", "slave"]);
    assert_eq!(links.matches("flags=S ").count(), 1, "{links}");
    assert!(m
        .cmd_str(&["CLIENT", "LIST", "TYPE", "normal"])
        .contains("flags=N "));
    m.cmd(&["SET", "k", "v"]);
    assert_eq!(m.cmd_str(&["WAIT", "1", "5000"]), ":1\r\n");
    let counted = |m: &mut Conn| {
        m.info_number("memory", "used_memory")
            - m.info_number("memory", "mem_not_counted_for_evict")
    };
    let before = counted(&mut m);
    replica.signal("-STOP");
    // 30 MB of stream, more than the sockets' buffers hold.
    let value = "x".repeat(100);
    let mut batch = Vec::new();
    for _ in 0..1000 {
        batch.extend(support::request(&[b"SET", b"k", value.as_bytes()]));
    }
    for _ in 0..250 {
        m.send(&batch);
        for _ in 0..1000 {
            assert_eq!(m.read_reply(), b"+OK\r\n");
        }
    }
    let waiting = m.info_number("memory", "mem_clients_slaves");
    let grown = counted(&mut m) - before;
    // Read while the replica is still stopped: once it runs it drains
    // the stream between two INFO calls.
    let not_counted = m.info_number("memory", "mem_not_counted_for_evict");
    replica.signal("-CONT");
    assert!(waiting > 4 << 20, "mem_clients_slaves:{waiting}");
    assert_eq!(not_counted, waiting);
    assert!(
        grown.abs() < 64 << 10,
        "used_memory less the stream grew by {grown}"
    );
    assert_eq!(m.cmd_str(&["CLIENT", "KILL", "TYPE", "slave"]), ":1\r\n");
    assert_eq!(m.info_number("memory", "mem_clients_slaves"), 0);
}

/// An error applying the master's stream is logged as Redis logs it (the
/// data may now differ from the master's); under
/// `propagation-error-behavior panic-on-replicas` a read-only replica
/// stops there instead of going on diverged.
#[test]
fn a_command_the_replica_fails_is_logged_and_may_stop_it() {
    let master_dir = temp_dir("diverge-master");
    let master = start(&master_dir, &[]);
    let replica_dir = temp_dir("diverge-replica");
    let mut replica = start(&replica_dir, &[]);
    let mut master_conn = master.connect();
    let mut replica_conn = replica.connect();
    assert_eq!(replicaof(&mut replica_conn, master.port), "+OK\r\n");
    wait_link_up(&mut replica_conn);

    // DEBUG REPLICATE goes to the replicas alone.
    assert_eq!(
        master_conn.cmd_str(&["DEBUG", "REPLICATE", "fake-command-1"]),
        "+OK\r\n"
    );
    let log = support::wait_for_log(&replica_dir.join("log"), "fake-command-1");
    assert!(
        log.contains("== CRITICAL == This replica is sending an error to its master: 'ERR unknown command 'fake-command-1'"),
        "{log}"
    );
    assert!(
        log.contains("after processing the command '<unknown>'"),
        "{log}"
    );

    // A key the master holds as a string and the replica does not: the
    // replica's INCRBY fails where the master's succeeds.
    assert_eq!(
        replica_conn.cmd_str(&[
            "CONFIG",
            "SET",
            "propagation-error-behavior",
            "panic-on-replicas"
        ]),
        "+OK\r\n"
    );
    assert_eq!(
        master_conn.cmd_str(&["DEBUG", "REPLICATE", "SET", "n", "foo"]),
        "+OK\r\n"
    );
    assert_eq!(master_conn.cmd_str(&["INCRBY", "n", "1"]), ":1\r\n");
    let status = replica.wait_exit().expect("the replica stopped");
    assert!(!status.success());
    let log = std::fs::read_to_string(replica_dir.join("log")).expect("log");
    assert!(
        log.contains("This replica panicked sending an error to its master after processing the command 'incrby'"),
        "{log}"
    );
}

/// CLIENT KILL of the master client closes the link's socket before the
/// command returns, as Redis frees the master client at once: the master
/// sees its replica leave even while the replica then stalls (DEBUG SLEEP
/// in the same transaction), so its backlog's `repl-backlog-ttl` runs.
#[test]
fn killing_the_master_client_drops_the_link_at_once() {
    let master_dir = temp_dir("kill-master");
    let master = start(&master_dir, &[]);
    let replica_dir = temp_dir("kill-replica");
    let replica = start(&replica_dir, &[]);
    let mut master_conn = master.connect();
    let mut replica_conn = replica.connect();
    assert_eq!(replicaof(&mut replica_conn, master.port), "+OK\r\n");
    wait_link_up(&mut replica_conn);
    wait_until("the master to list its replica", || {
        replication(&mut master_conn)
            .get("connected_slaves")
            .map(String::as_str)
            == Some("1")
    });
    replica_conn.cmd_str(&["MULTI"]);
    replica_conn.cmd_str(&["CLIENT", "KILL", "TYPE", "master"]);
    replica_conn.cmd_str(&["DEBUG", "SLEEP", "2"]);
    support::send(&mut replica_conn, &["EXEC"]);
    // Within the replica's sleep.
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut left = false;
    while Instant::now() < deadline && !left {
        left = replication(&mut master_conn)
            .get("connected_slaves")
            .map(String::as_str)
            == Some("0");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(left, "the master still lists its replica");
    assert_eq!(support::reply(&mut replica_conn), "*2\r\n:1\r\n+OK\r\n");
}

/// ROLE on a replica: its link state and offset.
fn role_state(replica: &mut Conn) -> String {
    let reply = replica.cmd_str(&["ROLE"]);
    let parts: Vec<&str> = reply.split("\r\n").collect();
    // *5 $5 slave $9 127.0.0.1 :port $N state :offset
    format!("{} {}", parts[7], parts[8])
}

/// `repl-diskless-sync-delay` holds a streamed sync back that many seconds
/// so more replicas can share its snapshot, as Redis's does: the replicas
/// stay in `handshake` (the master shows them `wait_bgsave`), then one
/// snapshot goes to both. With `repl-diskless-sync-max-replicas` it starts
/// as soon as that many wait.
#[test]
fn a_diskless_sync_waits_its_delay_and_shares_one_snapshot() {
    let dirs = [
        temp_dir("delay-m"),
        temp_dir("delay-a"),
        temp_dir("delay-b"),
    ];
    let master = start(
        &dirs[0],
        &[
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "2",
        ],
    );
    let replicas = [start(&dirs[1], &[]), start(&dirs[2], &[])];
    let mut m = master.connect();
    m.cmd(&["SET", "before", "1"]);
    let mut conns: Vec<Conn> = replicas.iter().map(Server::connect).collect();
    let asked = Instant::now();
    assert_eq!(replicaof(&mut conns[0], master.port), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(replicaof(&mut conns[1], master.port), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(role_state(&mut conns[0]), "handshake :-1");
    let info = replication(&mut m);
    assert_eq!(info["connected_slaves"], "2");
    assert!(info["slave0"].contains("state=wait_bgsave"), "{info:?}");
    assert!(info["slave1"].contains("state=wait_bgsave"), "{info:?}");
    for conn in &mut conns {
        wait_link_up(conn);
    }
    assert!(
        asked.elapsed() >= Duration::from_secs(2),
        "the delay was not kept"
    );
    let log = std::fs::read_to_string(dirs[0].join("log")).unwrap();
    assert_eq!(
        log.matches("Delay next BGSAVE for diskless SYNC").count(),
        2
    );
    assert_eq!(log.matches("Starting BGSAVE for SYNC").count(), 1, "{log}");
    m.cmd(&["SET", "after", "2"]);
    for conn in &mut conns {
        assert_eq!(conn.cmd_str(&["GET", "before"]), "$1\r\n1\r\n");
        wait_until("the write after the sync", || {
            conn.cmd_str(&["GET", "after"]) == "$1\r\n2\r\n"
        });
    }

    // A long delay, but two replicas are enough.
    m.cmd(&["CONFIG", "SET", "repl-diskless-sync-delay", "100"]);
    m.cmd(&["CONFIG", "SET", "repl-diskless-sync-max-replicas", "2"]);
    let asked = Instant::now();
    for conn in &mut conns {
        conn.cmd(&["REPLICAOF", "NO", "ONE"]);
        assert_eq!(replicaof(conn, master.port), "+OK\r\n");
    }
    for conn in &mut conns {
        wait_link_up(conn);
    }
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert_eq!(conns[1].cmd_str(&["GET", "after"]), "$1\r\n2\r\n");
    drop((master, replicas));
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A sync asked for while a BGSAVE runs waits for it to end and then gets
/// a snapshot of its own, as Redis's "Waiting for next BGSAVE for SYNC"
/// (ours serialised the whole dataset under every shard's lock instead).
#[test]
fn a_sync_during_a_bgsave_waits_for_the_next_snapshot() {
    let (mdir, rdir) = (temp_dir("bgsave-m"), temp_dir("bgsave-r"));
    let master = start(&mdir, &[]);
    let replica = start(&rdir, &[]);
    let (mut m, mut r) = (master.connect(), replica.connect());
    m.cmd(&["SET", "k", "v"]);
    m.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "1000000"]);
    assert_eq!(m.cmd_str(&["BGSAVE"]), "+Background saving started\r\n");
    assert_eq!(replicaof(&mut r, master.port), "+OK\r\n");
    wait_until("the replica's request", || {
        replication(&mut m)
            .get("slave0")
            .is_some_and(|s| s.contains("state=wait_bgsave"))
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(role_state(&mut r), "handshake :-1");
    m.cmd(&["SET", "during", "1"]);
    m.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    wait_link_up(&mut r);
    assert_eq!(
        r.cmd_str(&["MGET", "k", "during"]),
        "*2\r\n$1\r\nv\r\n$1\r\n1\r\n"
    );
    let log = std::fs::read_to_string(mdir.join("log")).unwrap();
    assert!(log.contains(
        "Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE for SYNC"
    ));
    drop((master, replica));
    let _ = std::fs::remove_dir_all(mdir);
    let _ = std::fs::remove_dir_all(rdir);
}

/// INFO replication's or persistence's `field` on `conn`.
fn info_value(conn: &mut Conn, section: &str, field: &str) -> String {
    let reply = conn.cmd_str(&["INFO", section]);
    (reply.split("\r\n"))
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .to_string()
}

/// `repl-diskless-load swapdb`, as Redis: while a replica takes in a
/// snapshot of another history it is `loading` (clients get `-LOADING`),
/// of its own history `async_loading` (the old data is served, REPLICAOF
/// is refused); either way a transfer that fails leaves the old data.
#[test]
fn a_swapdb_replica_shows_its_loading_and_keeps_its_data_if_the_sync_fails() {
    let (mdir, rdir) = (temp_dir("swapdb-m"), temp_dir("swapdb-r"));
    let master = start(&mdir, &["--repl-diskless-sync-delay", "0"]);
    let replica = start(
        &rdir,
        &[
            "--repl-diskless-load",
            "swapdb",
            "--replica-read-only",
            "no",
        ],
    );
    let (mut m, mut r) = (master.connect(), replica.connect());
    for i in 0..20 {
        m.cmd(&["SET", &format!("master:{i}"), "v"]);
    }
    r.cmd(&["SET", "mykey", "myvalue"]);
    // A tenth of a second a key: the transfer lasts two seconds.
    m.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "100000"]);
    let fail_transfer = |m: &mut Conn, r: &mut Conn, field: &str| {
        m.cmd(&["CONFIG", "SET", "repl-diskless-sync-delay", "5"]);
        m.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
        wait_until("the transfer's end", || {
            info_value(r, "persistence", field) == "0"
        });
        assert_eq!(r.cmd_str(&["GET", "mykey"]), "$7\r\nmyvalue\r\n");
        assert_eq!(r.cmd_str(&["DBSIZE"]), ":1\r\n");
    };

    // Another history: loading.
    assert_eq!(replicaof(&mut r, master.port), "+OK\r\n");
    wait_until("loading", || {
        info_value(&mut r, "persistence", "loading") == "1"
    });
    assert_eq!(info_value(&mut r, "persistence", "async_loading"), "0");
    assert!(r.cmd_str(&["GET", "mykey"]).starts_with("-LOADING"));
    fail_transfer(&mut m, &mut r, "loading");

    // Synced, then a full sync of the same history: async loading.
    m.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    m.cmd(&["CONFIG", "SET", "repl-diskless-sync-delay", "0"]);
    wait_link_up(&mut r);
    r.cmd(&["FLUSHALL"]);
    r.cmd(&["SET", "mykey", "myvalue"]);
    m.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "100000"]);
    // The backlog cannot serve the replica's return: a full sync.
    m.cmd(&["MULTI"]);
    m.cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    m.cmd(&["CONFIG", "SET", "repl-backlog-size", "16384"]);
    for i in 0..10 {
        m.cmd(&["SET", &format!("big:{i}"), &"A".repeat(16384)]);
    }
    m.cmd(&["EXEC"]);
    wait_until("async loading", || {
        info_value(&mut r, "persistence", "async_loading") == "1"
    });
    assert_eq!(info_value(&mut r, "persistence", "loading"), "0");
    assert_eq!(r.cmd_str(&["GET", "mykey"]), "$7\r\nmyvalue\r\n");
    assert!(r
        .cmd_str(&["REPLICAOF", "NO", "ONE"])
        .starts_with("-LOADING"));
    assert!(r
        .cmd_str(&["CONFIG", "SET", "appendonly", "no"])
        .starts_with("-LOADING"));
    fail_transfer(&mut m, &mut r, "async_loading");
    drop((master, replica));
    let _ = std::fs::remove_dir_all(mdir);
    let _ = std::fs::remove_dir_all(rdir);
}

/// A replica moved to another replica of its master goes on with a
/// partial resync, as Redis's keeps its cached master across REPLICAOF;
/// a master turned replica tries one with its own history first (the
/// suite's "replicaof right after disconnection").
#[test]
fn a_replica_moved_to_another_replica_resyncs_partially() {
    let dirs = [temp_dir("move-m"), temp_dir("move-a"), temp_dir("move-b")];
    let args = ["--repl-diskless-sync-delay", "0"];
    let servers: Vec<Server> = dirs.iter().map(|dir| start(dir, &args)).collect();
    let mut conns: Vec<Conn> = servers.iter().map(Server::connect).collect();
    conns[0].cmd(&["SET", "k", "1"]);
    for conn in &mut conns[1..] {
        assert_eq!(replicaof(conn, servers[0].port), "+OK\r\n");
        wait_link_up(conn);
    }
    let log = std::fs::read_to_string(dirs[2].join("log")).unwrap();
    assert!(log.contains("Before turning into a replica, using my own master parameters to synthesize a cached master"));
    conns[0].cmd(&["INCR", "k"]);
    conns[0].cmd(&["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(replicaof(&mut conns[2], servers[1].port), "+OK\r\n");
    wait_link_up(&mut conns[2]);
    wait_until("the write after the move", || {
        conns[2].cmd_str(&["GET", "k"]) == "$1\r\n2\r\n"
    });
    assert_eq!(syncs(&mut conns[0])[0], "2");
    assert_eq!(syncs(&mut conns[1]), ["0", "1", "0"]);
    drop(servers);
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A replica still getting its snapshot is `wait_bgsave` in INFO, is not
/// in ROLE and does not count for `min-replicas-to-write`, as in Redis;
/// once the snapshot is sent it is `online`.
#[test]
fn a_replica_is_online_only_once_its_snapshot_is_sent() {
    let (mdir, rdir) = (temp_dir("online-m"), temp_dir("online-r"));
    let master = start(
        &mdir,
        &[
            "--repl-diskless-sync-delay",
            "0",
            "--min-replicas-to-write",
            "1",
        ],
    );
    let replica = start(&rdir, &[]);
    let (mut m, mut r) = (master.connect(), replica.connect());
    m.cmd(&["CONFIG", "SET", "min-replicas-to-write", "0"]);
    m.cmd(&["SET", "k", "v"]);
    m.cmd(&["CONFIG", "SET", "min-replicas-to-write", "1"]);
    m.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "1000000"]);
    assert_eq!(replicaof(&mut r, master.port), "+OK\r\n");
    wait_until("the transfer", || {
        info_value(&mut m, "persistence", "rdb_bgsave_in_progress") == "1"
    });
    let info = replication(&mut m);
    assert!(info["slave0"].contains("state=wait_bgsave"), "{info:?}");
    assert!(m.cmd_str(&["ROLE"]).ends_with("*0\r\n"));
    assert_eq!(
        m.cmd_str(&["SET", "x", "1"]),
        "-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    m.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    wait_link_up(&mut r);
    wait_until("online", || {
        replication(&mut m)["slave0"].contains("state=online")
    });
    assert!(!m.cmd_str(&["ROLE"]).ends_with("*0\r\n"));
    assert_eq!(m.cmd_str(&["SET", "x", "1"]), "+OK\r\n");
    drop((master, replica));
    let _ = std::fs::remove_dir_all(mdir);
    let _ = std::fs::remove_dir_all(rdir);
}

/// CLIENT PAUSE WRITE on a replica holds its master's stream back too, as
/// Redis postpones its master client: the bytes are read
/// (`slave_read_repl_offset`) but not applied (`slave_repl_offset`) until
/// the pause ends.
#[test]
fn a_paused_replica_reads_its_masters_stream_but_applies_it_after() {
    let (mdir, rdir) = (temp_dir("pause-m"), temp_dir("pause-r"));
    let master = start(
        &mdir,
        &[
            "--repl-diskless-sync-delay",
            "0",
            "--repl-ping-replica-period",
            "3600",
        ],
    );
    let replica = start(&rdir, &[]);
    let (mut m, mut r) = (master.connect(), replica.connect());
    assert_eq!(replicaof(&mut r, master.port), "+OK\r\n");
    wait_link_up(&mut r);
    m.cmd(&["SET", "foo", "bar"]);
    let offset = replication(&mut m)["master_repl_offset"].clone();
    wait_until("the SET applied", || {
        replication(&mut r)["slave_repl_offset"] == offset
    });
    assert_eq!(
        r.cmd_str(&["CLIENT", "PAUSE", "100000", "WRITE"]),
        "+OK\r\n"
    );
    m.cmd(&["SET", "foo2", "bar2"]);
    let now = replication(&mut m)["master_repl_offset"].clone();
    wait_until("the SET read", || {
        replication(&mut r)["slave_read_repl_offset"] == now
    });
    assert_eq!(replication(&mut r)["slave_repl_offset"], offset);
    assert_eq!(r.cmd_str(&["GET", "foo2"]), "$-1\r\n");
    r.cmd(&["CLIENT", "UNPAUSE"]);
    wait_until("the SET applied after the pause", || {
        r.cmd_str(&["GET", "foo2"]) == "$4\r\nbar2\r\n"
    });
    assert_eq!(replication(&mut r)["slave_repl_offset"], now);
    drop((master, replica));
    let _ = std::fs::remove_dir_all(mdir);
    let _ = std::fs::remove_dir_all(rdir);
}

/// WAIT asks the replicas for their offset at once (`REPLCONF GETACK *`
/// in the stream, as Redis's), instead of waiting for their once-a-second
/// ACK: a replica that reads the stream sees it, in both servers.
#[test]
fn wait_asks_the_replicas_to_acknowledge_now() {
    use std::io::{Read, Write};
    let dir = temp_dir("getack");
    let ours = start(&dir, &[]);
    let mut servers = vec![("reddish", ours)];
    if let Some(redis) = Server::oracle() {
        servers.push(("redis", redis));
    }
    for (name, server) in &servers {
        let mut replica = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        replica.write_all(b"SYNC\r\n").unwrap();
        let mut conn = server.connect();
        wait_until("the raw replica attached", || {
            replication(&mut conn)["connected_slaves"] == "1"
        });
        conn.cmd(&["SET", "k", "v"]);
        // The raw replica never acknowledges: WAIT times out with 0.
        assert_eq!(conn.cmd_str(&["WAIT", "1", "100"]), ":0\r\n", "{name}");
        replica
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut stream = Vec::new();
        let mut buf = [0u8; 65536];
        while let Ok(n) = replica.read(&mut buf) {
            if n == 0 {
                break;
            }
            stream.extend_from_slice(&buf[..n]);
        }
        let getack = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
        assert!(
            stream.windows(getack.len()).any(|w| w == getack),
            "{name}: no GETACK in {:?}",
            String::from_utf8_lossy(&stream[stream.len().saturating_sub(200)..])
        );
    }
    drop(servers);
    let _ = std::fs::remove_dir_all(dir);
}

/// SHUTDOWN waits up to `shutdown-timeout` for a lagging replica, as
/// Redis's: writes are paused, SHUTDOWN ABORT calls it off (the waiting
/// SHUTDOWN gets Redis's error), and at the timeout the server exits
/// logging the lagging replica.
#[test]
fn shutdown_waits_for_lagging_replicas_up_to_its_timeout() {
    let (mdir, rdir) = (temp_dir("sdwait-m"), temp_dir("sdwait-r"));
    let mut master = start(&mdir, &["--repl-diskless-sync-delay", "0"]);
    let replica = start(&rdir, &[]);
    let (mut m, mut r) = (master.connect(), replica.connect());
    assert_eq!(replicaof(&mut r, master.port), "+OK\r\n");
    wait_link_up(&mut r);
    replica.signal("-STOP");
    m.cmd(&["SET", "k", "v"]);
    let mut waiting = master.connect();
    waiting.send(b"SHUTDOWN\r\n");
    wait_until("the shutdown waits", || {
        std::fs::read_to_string(mdir.join("log"))
            .unwrap()
            .contains("Waiting for replicas before shutting down.")
    });
    assert_eq!(m.cmd_str(&["SHUTDOWN", "ABORT"]), "+OK\r\n");
    assert_eq!(
        String::from_utf8_lossy(&waiting.read_reply()),
        "-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    assert_eq!(m.cmd_str(&["SET", "k2", "v"]), "+OK\r\n");

    m.cmd(&["CONFIG", "SET", "shutdown-timeout", "1"]);
    let asked = Instant::now();
    m.send(b"SHUTDOWN\r\n");
    assert!(master.wait_exit().is_some_and(|s| s.success()));
    assert!(asked.elapsed() >= Duration::from_millis(900));
    let log = std::fs::read_to_string(mdir.join("log")).unwrap();
    assert!(log.contains("Lagging replica 127.0.0.1:"), "{log}");
    assert!(log.contains("0 of 1 replicas are in sync when shutting down."));
    replica.signal("-CONT");
    drop(replica);
    let _ = std::fs::remove_dir_all(mdir);
    let _ = std::fs::remove_dir_all(rdir);
}

/// PSYNC with an offset that is not a number is refused and the client
/// stays an ordinary one (Redis 7 used to start a full sync as well).
#[test]
fn psync_with_a_wrong_offset_is_refused_as_redis_refuses_it() {
    support::differential(&[
        &["PSYNC", "replicationid", "offset_str"],
        &["PING"],
        &["PSYNC", "replicationid", "1.5"],
        &["PING"],
    ]);
}

/// A replica link that sends a command which would be answered (anything
/// but REPLCONF) is logged and dropped, as Redis drops it rather than
/// write a reply into the replication stream.
#[test]
fn a_replica_link_sending_a_command_is_dropped() {
    use std::io::{Read, Write};
    let dir = temp_dir("replica-cmd");
    let server = start(&dir, &[]);
    let mut replica = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    replica.write_all(b"SYNC\r\n").unwrap();
    let mut conn = server.connect();
    wait_until("the raw replica attached", || {
        replication(&mut conn)["connected_slaves"] == "1"
    });
    replica.write_all(b"XINFO HELP\r\n").unwrap();
    wait_until("the replica dropped", || {
        replication(&mut conn)["connected_slaves"] == "0"
    });
    let log = std::fs::read_to_string(dir.join("log")).unwrap();
    assert!(log.contains("Replica generated a reply to command 'xinfo|help', disconnecting it: "));
    replica
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = replica.read_to_end(&mut rest);
    assert!(
        !String::from_utf8_lossy(&rest).contains("XINFO"),
        "a reply was sent"
    );
    assert_eq!(conn.cmd_str(&["PING"]), "+PONG\r\n");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
