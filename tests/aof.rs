//! The append-only file against real Redis 7.0, both ways: a directory
//! written by reddish (RDB-preamble base and commands base, after a
//! rewrite, with writes after it) passes `redis-check-aof` and loads into
//! redis-server with the same DEBUG DIGEST; one written by redis-server
//! loads into reddish the same; an old single-file AOF is upgraded as
//! Redis upgrades it; a torn last command is dropped under
//! `aof-load-truncated` and a corrupt middle stops the start-up.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{digest, installed, populate, s, temp_dir, wait_loaded, Conn, Server};

fn info_field(conn: &mut Conn, field: &str) -> String {
    let info = conn.cmd_str(&["info", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .to_string()
}

fn wait_rewrite(conn: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(conn, "aof_rewrite_in_progress") != "0" {
        assert!(Instant::now() < deadline, "the rewrite never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The dataset of `tests/rdb.rs`, a rewrite, then writes that only the
/// incremental file holds: a transaction, deletions, TTLs, a stream, in
/// several databases.
fn write_history(conn: &mut Conn) {
    populate(conn);
    // Streams with deletions, a group, a pending entry, an idle consumer,
    // and an empty stream, so the base (RDB or commands) carries them all.
    for args in [
        &["xadd", "stream1", "1-1", "a", "1", "b", "2"][..],
        &["xadd", "stream1", "2-1", "a", "3"],
        &["xadd", "stream1", "3-1", "c", "4"],
        &["xdel", "stream1", "2-1"],
        &["xgroup", "create", "stream1", "g1", "0"],
        &[
            "xreadgroup",
            "group",
            "g1",
            "alice",
            "count",
            "1",
            "streams",
            "stream1",
            ">",
        ],
        &["xgroup", "createconsumer", "stream1", "g1", "bob"],
        &["xadd", "empty", "maxlen", "0", "5-1", "x", "y"],
    ] {
        let reply = conn.cmd_str(args);
        assert!(!reply.starts_with('-'), "{args:?}: {reply}");
    }
    assert_eq!(
        conn.cmd_str(&["bgrewriteaof"]),
        "+Background append only file rewriting started\r\n"
    );
    wait_rewrite(conn);
    for args in [
        &["incr", "counter"][..],
        &["incrbyfloat", "float", "1.5"],
        &["del", "l1"],
        &["multi"],
        &["lpush", "l2", "new"],
        &["hset", "h1", "g", "w"],
        &["exec"],
        &["set", "later", "v", "ex", "1000"],
        &["select", "3"],
        &["sadd", "s3", "a", "b"],
        &["spop", "s3"],
        &["select", "0"],
    ] {
        let reply = conn.cmd_str(args);
        assert!(!reply.starts_with('-'), "{args:?}: {reply}");
    }
}

/// The streams' groups, consumers and pending entries as XINFO STREAM
/// FULL shows them (the digest covers their entries only).
fn xinfo(conn: &mut Conn) -> Vec<String> {
    ["stream1", "empty"]
        .iter()
        .map(|key| conn.cmd_str(&["xinfo", "stream", key, "full"]))
        .collect()
}

fn check_aof(manifest: &Path) {
    if !installed("redis-check-aof", "AOF check") {
        return;
    }
    let out = Command::new("redis-check-aof")
        .arg(manifest)
        .output()
        .expect("redis-check-aof");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "redis-check-aof refused it:\n{text}");
    assert!(
        text.contains("All AOF files and manifest are valid"),
        "{text}"
    );
}

fn reddish_dir_loads_into_redis(preamble: &str) {
    let dir = temp_dir(&format!("ours-{preamble}"));
    let ours = Server::start_with(&[
        "--dir",
        &s(&dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-use-rdb-preamble",
        preamble,
        "--enable-debug-command",
        "yes",
    ]);
    let mut conn = ours.connect();
    write_history(&mut conn);
    let expected = digest(&mut conn);
    let xinfo_expected = xinfo(&mut conn);
    drop(conn);
    drop(ours); // SIGKILL: what is acknowledged is in the files
    let aof_dir = dir.join("appendonlydir");
    let manifest = std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap();
    let suffix = if preamble == "yes" { "rdb" } else { "aof" };
    assert_eq!(
        manifest,
        format!(
            "file appendonly.aof.2.base.{suffix} seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        )
    );
    check_aof(&aof_dir.join("appendonly.aof.manifest"));
    let Some(redis) = Server::oracle_with(&[
        "--dir",
        &s(&dir),
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
    ]) else {
        return;
    };
    let mut theirs = redis.connect();
    wait_loaded(&mut theirs);
    assert_eq!(digest(&mut theirs), expected);
    assert_eq!(theirs.cmd_str(&["get", "counter"]), "$1\r\n1\r\n");
    // A commands base recreates consumers as it loads (XGROUP
    // CREATECONSUMER, XCLAIM), so their seen-time is the load's, in Redis too.
    let seen_time = |infos: Vec<String>| -> Vec<String> {
        infos
            .into_iter()
            .map(|info| {
                let mut parts: Vec<&str> = info.split("\r\n").collect();
                for i in 1..parts.len() {
                    if preamble == "no" && parts[i - 1] == "seen-time" {
                        parts[i] = ":?";
                    }
                }
                parts.join("\r\n")
            })
            .collect()
    };
    assert_eq!(seen_time(xinfo(&mut theirs)), seen_time(xinfo_expected));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_written_by_reddish_loads_into_redis_with_the_same_digest() {
    reddish_dir_loads_into_redis("yes");
}

#[test]
fn a_commands_base_written_by_reddish_loads_into_redis_with_the_same_digest() {
    reddish_dir_loads_into_redis("no");
}

#[test]
fn a_directory_written_by_redis_loads_into_reddish_with_the_same_digest() {
    let dir = temp_dir("theirs");
    let Some(redis) = Server::oracle_with(&[
        "--dir",
        &s(&dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--enable-debug-command",
        "yes",
    ]) else {
        return;
    };
    let mut conn = redis.connect();
    write_history(&mut conn);
    let expected = digest(&mut conn);
    drop(conn);
    drop(redis);
    let ours = Server::start_with(&[
        "--dir",
        &s(&dir),
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
    ]);
    let mut conn = ours.connect();
    assert_eq!(digest(&mut conn), expected);
    assert_eq!(conn.cmd_str(&["get", "counter"]), "$1\r\n1\r\n");
    // Our own writes then go on in Redis's incremental file.
    conn.cmd(&["incr", "counter"]);
    assert_eq!(conn.cmd_str(&["debug", "loadaof"]), "+OK\r\n");
    assert_eq!(conn.cmd_str(&["get", "counter"]), "$1\r\n2\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

fn resp(args: &[&str]) -> Vec<u8> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    support::request(&args)
}

/// Starts reddish on `dir` expecting it to fail; returns its log.
fn failing_start(dir: &Path, extra: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
        .args(["--port", "0", "--dir", &s(dir), "--appendonly", "yes"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start reddish-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(!status.success(), "it should not start");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started on a corrupt AOF");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut log = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut out, &mut log);
    }
    log
}

#[test]
fn an_old_single_file_aof_is_upgraded_into_the_directory() {
    let dir = temp_dir("upgrade");
    let mut old = resp(&["set", "a", "1"]);
    old.extend(resp(&["rpush", "l", "x", "y"]));
    std::fs::write(dir.join("appendonly.aof"), &old).unwrap();
    let (server, log) = Server::start_logging(&["--dir", &s(&dir), "--appendonly", "yes"]);
    assert!(
        log.contains("Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory (appendonlydir)."),
        "{log}"
    );
    let mut conn = server.connect();
    assert_eq!(conn.cmd_str(&["get", "a"]), "$1\r\n1\r\n");
    assert_eq!(conn.cmd_str(&["llen", "l"]), ":2\r\n");
    let aof_dir = dir.join("appendonlydir");
    assert!(!dir.join("appendonly.aof").exists());
    assert!(aof_dir.join("appendonly.aof").exists());
    assert_eq!(
        std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap(),
        "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    drop(server);
    check_aof(&aof_dir.join("appendonly.aof.manifest"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_torn_last_command_is_dropped_and_a_corrupt_middle_refuses_to_start() {
    let dir = temp_dir("torn");
    let aof_dir = dir.join("appendonlydir");
    std::fs::create_dir_all(&aof_dir).unwrap();
    std::fs::write(
        aof_dir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    let incr = aof_dir.join("appendonly.aof.1.incr.aof");
    let whole = [resp(&["set", "foo", "1"]), resp(&["incr", "foo"])].concat();
    let torn = resp(&["incr", "foo"]);
    std::fs::write(&incr, [&whole[..], &torn[..torn.len() - 3]].concat()).unwrap();

    // Without aof-load-truncated: refused, with Redis's line.
    let log = failing_start(&dir, &["--aof-load-truncated", "no"]);
    assert!(
        log.contains(
            "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"
        ),
        "{log}"
    );

    // With it (the default): the torn command is cut off, the rest loads.
    let (server, log) = Server::start_logging(&["--dir", &s(&dir), "--appendonly", "yes"]);
    assert!(
        log.contains(&format!(
            "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {} !!!",
            whole.len()
        )),
        "{log}"
    );
    let mut conn = server.connect();
    assert_eq!(conn.cmd_str(&["get", "foo"]), "$1\r\n2\r\n");
    drop(server);

    // Garbage in the middle: refused, naming the offset.
    let bad = [
        &resp(&["set", "foo", "1"])[..],
        b"!!!\r\n",
        &resp(&["set", "x", "y"]),
    ]
    .concat();
    std::fs::write(&incr, &bad).unwrap();
    let log = failing_start(&dir, &[]);
    let at = resp(&["set", "foo", "1"]).len();
    assert!(log.contains(&format!("at offset {at}")), "{log}");
    assert!(
        log.trim_end()
            .lines()
            .last()
            .unwrap_or_default()
            .contains("Bad file format reading the append only file appendonly.aof.1.incr.aof"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn appendonly_turned_on_at_run_time_writes_a_base_first() {
    let dir = temp_dir("runtime");
    let server = Server::start_with(&["--dir", &s(&dir), "--enable-debug-command", "yes"]);
    let mut conn = server.connect();
    conn.cmd(&["set", "before", "1"]);
    assert_eq!(info_field(&mut conn, "aof_enabled"), "0");
    assert_eq!(
        conn.cmd_str(&["config", "set", "appendonly", "yes"]),
        "+OK\r\n"
    );
    wait_rewrite(&mut conn);
    assert_eq!(info_field(&mut conn, "aof_enabled"), "1");
    conn.cmd(&["set", "after", "2"]);
    let aof_dir = dir.join("appendonlydir");
    assert_eq!(
        std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap(),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    let d = digest(&mut conn);
    assert_eq!(conn.cmd_str(&["debug", "loadaof"]), "+OK\r\n");
    assert_eq!(digest(&mut conn), d);
    assert_eq!(
        conn.cmd_str(&["config", "set", "appendonly", "no"]),
        "+OK\r\n"
    );
    assert_eq!(info_field(&mut conn, "aof_enabled"), "0");
    let _ = std::fs::remove_dir_all(&dir);
}

/// CONFIG SET appendonly no kills a running rewrite, as Redis's
/// `killAppendOnlyChild`: its base is never installed. Inside a transaction
/// that holds shards the rewrite's walk cannot be stopped at once and runs
/// to its end; even then its base must be discarded, not take the
/// manifest's place.
#[test]
fn a_killed_rewrite_never_installs_its_base() {
    let dir = temp_dir("killed-rewrite");
    let server = Server::start_with(&["--dir", &s(&dir), "--appendonly", "yes"]);
    let mut conn = server.connect();
    wait_rewrite(&mut conn);
    for key in ["k1", "k2", "k3"] {
        conn.cmd(&["set", key, "v"]);
    }
    // 300 ms after each key: the walk outlasts the transaction below.
    conn.cmd(&["config", "set", "rdb-key-save-delay", "300000"]);
    assert_eq!(
        conn.cmd_str(&["bgrewriteaof"]),
        "+Background append only file rewriting started\r\n"
    );
    let aof_dir = dir.join("appendonlydir");
    let manifest = || std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap();
    let before = manifest();
    assert_eq!(
        before,
        "file appendonly.aof.1.base.rdb seq 1 type b\n\
         file appendonly.aof.1.incr.aof seq 1 type i\n\
         file appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    conn.cmd(&["multi"]);
    conn.cmd(&["set", "x", "1"]);
    conn.cmd(&["config", "set", "appendonly", "no"]);
    assert_eq!(conn.cmd_str(&["exec"]), "*2\r\n+OK\r\n+OK\r\n");
    assert_eq!(info_field(&mut conn, "aof_rewrite_in_progress"), "0");
    // Lowering the delay ends the walk's sleep: the walk finishes.
    conn.cmd(&["config", "set", "rdb-key-save-delay", "0"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let temp_left = || {
        std::fs::read_dir(&dir).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("temp-rewriteaof")
        })
    };
    while temp_left() {
        assert!(Instant::now() < deadline, "the killed rewrite never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(manifest(), before);
    assert!(!aof_dir.join("appendonly.aof.2.base.rdb").exists());
    assert_eq!(info_field(&mut conn, "aof_last_bgrewrite_status"), "ok");
    let _ = std::fs::remove_dir_all(&dir);
}

/// DEBUG LOADAOF reads the manifest from disk again, as Redis's does: after
/// a rewrite with the AOF off left only a base there, turning the AOF back
/// on numbers the new incremental file 1, not after the files forgotten.
#[test]
fn debug_loadaof_takes_the_manifest_on_disk() {
    let dir = temp_dir("loadaof-manifest");
    let server = Server::start_with(&[
        "--dir",
        &s(&dir),
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
    ]);
    let mut conn = server.connect();
    conn.cmd(&["set", "a", "1"]);
    conn.cmd(&["bgrewriteaof"]);
    wait_rewrite(&mut conn);
    conn.cmd(&["set", "b", "2"]);
    let manifest = dir.join("appendonlydir/appendonly.aof.manifest");
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert_eq!(
        conn.cmd_str(&["config", "set", "appendonly", "no"]),
        "+OK\r\n"
    );
    conn.cmd(&["bgrewriteaof"]);
    wait_rewrite(&mut conn);
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        "file appendonly.aof.3.base.rdb seq 3 type b\n"
    );
    assert_eq!(conn.cmd_str(&["debug", "loadaof"]), "+OK\r\n");
    assert_eq!(conn.cmd_str(&["dbsize"]), ":2\r\n");
    assert_eq!(
        conn.cmd_str(&["config", "set", "appendonly", "yes"]),
        "+OK\r\n"
    );
    wait_rewrite(&mut conn);
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        "file appendonly.aof.4.base.rdb seq 4 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Group commit: with `appendfsync always` a reply waits for the AOF write
/// of its command (DEBUG AOF-FLUSH-SLEEP makes each write take 100 ms), and
/// one write serves every client of an event loop round: 20 clients doing
/// 10 SETs each take about 10 slow writes, not 200 (20 s).
#[test]
fn one_aof_write_serves_every_client_of_a_round() {
    let server = Server::start_with(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--enable-debug-command",
        "yes",
    ]);
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_str(&["debug", "aof-flush-sleep", "100000"]),
        "+OK\r\n"
    );
    let started = Instant::now();
    assert_eq!(conn.cmd_str(&["set", "alone", "1"]), "+OK\r\n");
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "the reply came before its AOF write"
    );
    let port = server.port;
    let started = Instant::now();
    let clients: Vec<_> = (0..20)
        .map(|id| {
            std::thread::spawn(move || {
                let mut conn = Conn::connect(port);
                for n in 0..10 {
                    let key = format!("k:{id}:{n}");
                    assert_eq!(conn.cmd_str(&["set", &key, "v"]), "+OK\r\n");
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "200 SETs took {took:?}");
    assert_eq!(conn.cmd_str(&["dbsize"]), ":201\r\n");
}

/// With `appendfsync always` an fsync runs on an event loop about to sleep
/// (when fsyncs are short) or on the fsync thread (when one already runs,
/// or they are long), and either wakes the loops whose clients wait: two
/// event loops, each serving clients, some of them syncing while the
/// thread syncs for the other, never leave a client without its reply.
#[test]
fn every_client_of_two_loops_gets_its_replies_whoever_fsyncs() {
    let server = Server::start_with(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--io-threads",
        "2",
    ]);
    let port = server.port;
    let clients: Vec<_> = (0..16)
        .map(|id| {
            std::thread::spawn(move || {
                let mut conn = Conn::connect(port);
                for n in 0..150 {
                    let key = format!("k:{id}:{n}");
                    assert_eq!(conn.cmd_str(&["set", &key, "v"]), "+OK\r\n", "{key}");
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client went without a reply");
    }
    let mut conn = server.connect();
    assert_eq!(conn.cmd_str(&["dbsize"]), ":2400\r\n");
    let info = conn.cmd_str(&["info", "persistence"]);
    assert!(info.contains("aof_last_write_status:ok\r\n"), "{info}");
}

/// A rewrite that fails leaves the incremental file it opened behind (the
/// next one opens another), and after three failures in a row the cron
/// holds its rewrites back, 1 minute at first (Redis's `aofRewriteLimited`),
/// while BGREWRITEAOF still starts one at once. The failure is real: a
/// directory where the new base is to be renamed.
#[test]
fn rewrites_that_keep_failing_hold_the_cron_back_not_bgrewriteaof() {
    let dir = temp_dir("rewrite-limit");
    let log = dir.join("log");
    let server =
        support::Server::start_logging_to_file(&log, &["--dir", &s(&dir), "--appendonly", "yes"]);
    let mut conn = server.connect();
    wait_rewrite(&mut conn);
    let aof_dir = dir.join("appendonlydir");
    let manifest = || std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap();
    conn.cmd(&["set", "k", "v"]);
    let blocker = aof_dir.join("appendonly.aof.2.base.rdb");
    std::fs::create_dir(&blocker).unwrap();
    for _ in 0..3 {
        assert_eq!(
            conn.cmd_str(&["bgrewriteaof"]),
            "+Background append only file rewriting started\r\n"
        );
        wait_rewrite(&mut conn);
    }
    let failed = "file appendonly.aof.1.base.rdb seq 1 type b\n\
                  file appendonly.aof.1.incr.aof seq 1 type i\n\
                  file appendonly.aof.2.incr.aof seq 2 type i\n\
                  file appendonly.aof.3.incr.aof seq 3 type i\n\
                  file appendonly.aof.4.incr.aof seq 4 type i\n";
    assert_eq!(manifest(), failed);
    assert_eq!(
        info_field(&mut conn, "aof_rewrites_consecutive_failures"),
        "3"
    );
    assert_eq!(info_field(&mut conn, "aof_last_bgrewrite_status"), "err");

    conn.cmd(&["config", "set", "auto-aof-rewrite-percentage", "1"]);
    conn.cmd(&["config", "set", "auto-aof-rewrite-min-size", "1kb"]);
    conn.cmd(&["set", "x", &"x".repeat(1024)]);
    let limit = "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in 1 minutes";
    assert!(support::wait_for_log(&log, limit).contains(limit));
    // Several cron ticks later: no rewrite started, no new file, one line.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(info_field(&mut conn, "aof_rewrite_in_progress"), "0");
    assert_eq!(info_field(&mut conn, "aof_rewrites"), "3");
    assert_eq!(manifest(), failed);
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(log_text.matches("triggered the limit").count(), 1);

    std::fs::remove_dir(&blocker).unwrap();
    conn.cmd(&["config", "set", "auto-aof-rewrite-percentage", "0"]);
    assert_eq!(
        conn.cmd_str(&["bgrewriteaof"]),
        "+Background append only file rewriting started\r\n"
    );
    wait_rewrite(&mut conn);
    assert_eq!(
        manifest(),
        "file appendonly.aof.2.base.rdb seq 2 type b\n\
         file appendonly.aof.5.incr.aof seq 5 type i\n"
    );
    assert_eq!(
        info_field(&mut conn, "aof_rewrites_consecutive_failures"),
        "0"
    );
    assert_eq!(info_field(&mut conn, "aof_last_bgrewrite_status"), "ok");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits for the running rewrite, and a scheduled one, to end (the suite's
/// `waitForBgrewriteaof`).
fn wait_rewrites(conn: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(20);
    // Both from one INFO: a rewrite starting between two would be missed.
    let busy = |conn: &mut Conn| {
        let info = conn.cmd_str(&["info", "persistence"]);
        info.contains("aof_rewrite_in_progress:1") || info.contains("aof_rewrite_scheduled:1")
    };
    while busy(conn) {
        assert!(Instant::now() < deadline, "the rewrite never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until none of `names` is left in `aof_dir` (history files go in
/// the background).
fn wait_gone(aof_dir: &Path, names: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(name) = names.iter().find(|name| aof_dir.join(name).exists()) {
        assert!(Instant::now() < deadline, "{name} was never deleted");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts the manifest in `aof_dir` lists `want` (each line without its
/// leading `file `) and returns it.
fn check_manifest(aof_dir: &Path, want: &[&str]) -> String {
    let text = std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap();
    let want: String = want.iter().map(|line| format!("file {line}\n")).collect();
    assert_eq!(text, want);
    text
}

/// Part 2 of Redis's integration/aof-multi-part (rewrites at run time,
/// failed ones, the AOF turned off and on, auto gc, DEBUG LOADAOF, a
/// rewrite scheduled behind a BGSAVE), with real failures in place of the
/// suite's `kill -9` of a fork child reddish does not have: a directory
/// where the failing rewrites' base is to go. Returns every manifest seen.
fn multi_part_sequence(conn: &mut Conn, dir: &Path) -> Vec<String> {
    let aof_dir = dir.join("appendonlydir");
    let mut seen = Vec::new();
    let mut manifest = |want: &[&str]| seen.push(check_manifest(&aof_dir, want));
    let reload_keeps_digest = |conn: &mut Conn| {
        let before = digest(conn);
        assert_eq!(conn.cmd_str(&["debug", "loadaof"]), "+OK\r\n");
        assert_eq!(digest(conn), before);
    };
    let write_some = |conn: &mut Conn, round: usize| {
        for i in 0..5 {
            conn.cmd(&["set", &format!("key:{round}:{i}"), "v"]);
        }
        conn.cmd(&["incr", "counter"]);
    };

    // AOF enable will create manifest file.
    conn.cmd(&["config", "set", "appendonly", "yes"]);
    conn.cmd(&["config", "set", "auto-aof-rewrite-percentage", "0"]);
    wait_rewrites(conn);
    write_some(conn, 1);
    manifest(&[
        "appendonly.aof.1.base.rdb seq 1 type b",
        "appendonly.aof.1.incr.aof seq 1 type i",
    ]);
    conn.cmd(&["bgrewriteaof"]);
    wait_rewrites(conn);
    manifest(&[
        "appendonly.aof.2.base.rdb seq 2 type b",
        "appendonly.aof.2.incr.aof seq 2 type i",
    ]);
    wait_gone(
        &aof_dir,
        &["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"],
    );
    reload_keeps_digest(conn);

    // AOF multiple rewrite failures will open multiple INCR AOFs.
    let blocker = aof_dir.join("appendonly.aof.3.base.rdb");
    std::fs::create_dir(&blocker).unwrap();
    for round in 2..5 {
        write_some(conn, round);
        conn.cmd(&["bgrewriteaof"]);
        wait_rewrites(conn);
    }
    let temp_left = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("temp-rewriteaof-bg")
        });
    assert!(!temp_left, "a failed rewrite left its temp file");
    manifest(&[
        "appendonly.aof.2.base.rdb seq 2 type b",
        "appendonly.aof.2.incr.aof seq 2 type i",
        "appendonly.aof.3.incr.aof seq 3 type i",
        "appendonly.aof.4.incr.aof seq 4 type i",
        "appendonly.aof.5.incr.aof seq 5 type i",
    ]);
    reload_keeps_digest(conn);
    std::fs::remove_dir(&blocker).unwrap();
    conn.cmd(&["bgrewriteaof"]);
    wait_rewrites(conn);
    manifest(&[
        "appendonly.aof.3.base.rdb seq 3 type b",
        "appendonly.aof.6.incr.aof seq 6 type i",
    ]);
    wait_gone(
        &aof_dir,
        &[
            "appendonly.aof.2.base.rdb",
            "appendonly.aof.2.incr.aof",
            "appendonly.aof.5.incr.aof",
        ],
    );

    // AOF rewrite doesn't open new aof when AOF turn off.
    conn.cmd(&["config", "set", "appendonly", "no"]);
    conn.cmd(&["bgrewriteaof"]);
    wait_rewrites(conn);
    manifest(&["appendonly.aof.4.base.rdb seq 4 type b"]);
    wait_gone(&aof_dir, &["appendonly.aof.6.incr.aof"]);
    reload_keeps_digest(conn);
    conn.cmd(&["config", "set", "appendonly", "yes"]);
    wait_rewrites(conn);
    manifest(&[
        "appendonly.aof.5.base.rdb seq 5 type b",
        "appendonly.aof.1.incr.aof seq 1 type i",
    ]);
    wait_gone(&aof_dir, &["appendonly.aof.4.base.rdb"]);

    // AOF enable/disable auto gc.
    conn.cmd(&["config", "set", "aof-disable-auto-gc", "yes"]);
    for _ in 0..2 {
        conn.cmd(&["bgrewriteaof"]);
        wait_rewrites(conn);
    }
    manifest(&[
        "appendonly.aof.7.base.rdb seq 7 type b",
        "appendonly.aof.2.incr.aof seq 2 type h",
        "appendonly.aof.6.base.rdb seq 6 type h",
        "appendonly.aof.1.incr.aof seq 1 type h",
        "appendonly.aof.5.base.rdb seq 5 type h",
        "appendonly.aof.3.incr.aof seq 3 type i",
    ]);
    conn.cmd(&["config", "set", "aof-disable-auto-gc", "no"]);
    manifest(&[
        "appendonly.aof.7.base.rdb seq 7 type b",
        "appendonly.aof.3.incr.aof seq 3 type i",
    ]);
    wait_gone(
        &aof_dir,
        &[
            "appendonly.aof.5.base.rdb",
            "appendonly.aof.6.base.rdb",
            "appendonly.aof.1.incr.aof",
            "appendonly.aof.2.incr.aof",
        ],
    );

    // AOF can produce consecutive sequence number after reload.
    assert_eq!(conn.cmd_str(&["debug", "loadaof"]), "+OK\r\n");
    conn.cmd(&["bgrewriteaof"]);
    wait_rewrites(conn);
    manifest(&[
        "appendonly.aof.8.base.rdb seq 8 type b",
        "appendonly.aof.4.incr.aof seq 4 type i",
    ]);

    // AOF enable during BGSAVE will not write data until AOFRW finish.
    conn.cmd(&["config", "set", "appendonly", "no"]);
    conn.cmd(&["config", "set", "save", ""]);
    conn.cmd(&["flushall"]);
    // Three seconds after its one key: the BGSAVE outlasts the steps
    // below on a slow machine too (Redis's lasts that long; ours ends
    // when the delay is lowered).
    conn.cmd(&["config", "set", "rdb-key-save-delay", "3000000"]);
    conn.cmd(&["set", "k1", "v1"]);
    conn.cmd(&["bgsave"]);
    assert_eq!(info_field(conn, "rdb_bgsave_in_progress"), "1");
    conn.cmd(&["config", "set", "appendonly", "yes"]);
    assert_eq!(info_field(conn, "aof_rewrite_scheduled"), "1");
    manifest(&[
        "appendonly.aof.8.base.rdb seq 8 type b",
        "appendonly.aof.4.incr.aof seq 4 type i",
    ]);
    conn.cmd(&["set", "k2", "v2"]);
    assert_eq!(conn.cmd_str(&["debug", "loadaof"]), "+OK\r\n");
    assert_eq!(conn.cmd_str(&["exists", "k1", "k2"]), ":0\r\n");
    assert_eq!(info_field(conn, "rdb_bgsave_in_progress"), "1");
    conn.cmd(&["config", "set", "rdb-key-save-delay", "0"]);
    wait_rewrites(conn);
    manifest(&[
        "appendonly.aof.9.base.rdb seq 9 type b",
        "appendonly.aof.5.incr.aof seq 5 type i",
    ]);
    conn.cmd(&["set", "k3", "v3"]);
    assert_eq!(conn.cmd_str(&["debug", "loadaof"]), "+OK\r\n");
    assert_eq!(conn.cmd_str(&["get", "k3"]), "$2\r\nv3\r\n");
    seen
}

#[test]
fn rewrites_at_run_time_keep_the_manifest_redis_keeps() {
    let args = [
        "--appendonly",
        "no",
        "--aof-use-rdb-preamble",
        "yes",
        "--enable-debug-command",
        "yes",
    ];
    same_manifests_as_redis("multi-part", &args, multi_part_sequence);
}

/// Runs `sequence` on reddish, then on redis-server when it is installed,
/// each started with `args` in a fresh directory of its own, and asserts
/// both went through the same manifests.
fn same_manifests_as_redis(
    name: &str,
    args: &[&str],
    sequence: fn(&mut Conn, &Path) -> Vec<String>,
) {
    let dir = temp_dir(&format!("{name}-ours"));
    let ours = Server::start_with(&[&["--dir", &s(&dir)][..], args].concat());
    let seen = sequence(&mut ours.connect(), &dir);
    drop(ours);
    let _ = std::fs::remove_dir_all(&dir);
    let redis_dir = temp_dir(&format!("{name}-redis"));
    let Some(redis) = Server::oracle_with(&[args, &["--dir", &s(&redis_dir)]].concat()) else {
        return;
    };
    assert_eq!(sequence(&mut redis.connect(), &redis_dir), seen);
    let _ = std::fs::remove_dir_all(&redis_dir);
}

/// The last test of Redis's integration/aof-multi-part, real failures in
/// place of its `kill -9`: turned on at run time, the AOF collects writes
/// in a temporary incremental file until its first rewrite succeeds; a
/// failed one deletes that file and writes no manifest, and the next
/// starts on its own. Returns every manifest seen.
fn enabled_at_run_time_sequence(conn: &mut Conn, dir: &Path) -> Vec<String> {
    let aof_dir = dir.join("appendonlydir");
    let mut seen = Vec::new();
    let mut manifest = |want: &[&str]| seen.push(check_manifest(&aof_dir, want));
    let wait_failures = |conn: &mut Conn, failures: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while info_field(conn, "aof_rewrites_consecutive_failures") != failures {
            assert!(Instant::now() < deadline, "the rewrite did not fail");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    conn.cmd(&["config", "set", "save", ""]);
    // Half a second a key: each rewrite lasts a second and a half, time
    // enough to see one fail and remove the blocker before the next ends.
    conn.cmd(&["config", "set", "rdb-key-save-delay", "500000"]);
    for key in ["a", "b", "c"] {
        conn.cmd(&["set", key, "1"]);
    }
    for (seq, first) in [(1, true), (2, false)] {
        let blocker = aof_dir.join(format!("appendonly.aof.{seq}.base.rdb"));
        std::fs::create_dir_all(&blocker).unwrap();
        conn.cmd(&["config", "set", "appendonly", "yes"]);
        assert_eq!(info_field(conn, "aof_rewrite_in_progress"), "1");
        conn.cmd(&["incr", "a"]);
        wait_failures(conn, "1");
        // The next rewrite starts by itself; this one succeeds.
        std::fs::remove_dir(&blocker).unwrap();
        if first {
            assert!(!aof_dir.join("appendonly.aof.manifest").exists());
        } else {
            manifest(&[
                "appendonly.aof.1.base.rdb seq 1 type b",
                "appendonly.aof.1.incr.aof seq 1 type i",
            ]);
        }
        conn.cmd(&["incr", "b"]);
        wait_rewrites(conn);
        assert_eq!(info_field(conn, "aof_rewrites_consecutive_failures"), "0");
        manifest(&[
            &format!("appendonly.aof.{seq}.base.rdb seq {seq} type b"),
            &format!("appendonly.aof.{seq}.incr.aof seq {seq} type i"),
        ]);
        conn.cmd(&["incr", "c"]);
        let before = digest(conn);
        assert_eq!(conn.cmd_str(&["debug", "loadaof"]), "+OK\r\n");
        assert_eq!(digest(conn), before);
        assert_eq!(
            conn.cmd_str(&["mget", "a", "b", "c"]).matches('2').count(),
            3
        );
        conn.cmd(&["config", "set", "appendonly", "no"]);
        for key in ["a", "b", "c"] {
            conn.cmd(&["set", key, "1"]);
        }
    }
    seen
}

#[test]
fn the_aof_turned_on_at_run_time_waits_for_a_rewrite_that_succeeds() {
    let args = ["--appendonly", "no", "--enable-debug-command", "yes"];
    same_manifests_as_redis("enabled", &args, enabled_at_run_time_sequence);
}

/// CONFIG SET appendonly yes whose rewrite cannot start (the AOF directory
/// cannot be made: a file has its name) fails with Redis's error and leaves
/// the AOF off, in both servers.
#[test]
fn appendonly_yes_that_cannot_start_its_rewrite_is_refused() {
    let turn_on = |conn: &mut Conn| {
        (
            conn.cmd_str(&["config", "set", "appendonly", "yes"]),
            conn.cmd_str(&["config", "get", "appendonly"]),
            info_field(conn, "aof_enabled"),
        )
    };
    let dir = temp_dir("no-aof-dir");
    std::fs::write(dir.join("appendonlydir"), "not a directory").unwrap();
    let ours = Server::start_with(&["--dir", &s(&dir)]);
    let got = turn_on(&mut ours.connect());
    assert_eq!(
        got.0,
        "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.\r\n"
    );
    assert_eq!(got.2, "0");
    drop(ours);
    let redis_dir = temp_dir("no-aof-dir-redis");
    std::fs::write(redis_dir.join("appendonlydir"), "not a directory").unwrap();
    if let Some(redis) = Server::oracle_with(&["--dir", &s(&redis_dir)]) {
        assert_eq!(turn_on(&mut redis.connect()), got);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&redis_dir);
}
