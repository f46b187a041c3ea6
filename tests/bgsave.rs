//! BGSAVE without fork: the file is the dataset as it was when BGSAVE was
//! answered, however many writes run while it is written, and it loads
//! into real redis-server with the same digest; the replies, the INFO
//! figures, FLUSHALL's abort and the save points behave as Redis's.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::{
    assert_rdb_checks, digest, info_section, populate, s, temp_dir, wait_loaded, Conn, Server,
};

/// INFO persistence as a map.
fn persistence(conn: &mut Conn) -> BTreeMap<String, String> {
    info_section(conn, "persistence")
}

fn wait_for_bgsave(conn: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while persistence(conn)["rdb_bgsave_in_progress"] != "0" {
        assert!(Instant::now() < deadline, "BGSAVE never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every kind of write, over keys that existed at the cut and new ones,
/// in several databases, as a client would send them during a BGSAVE.
fn write_during(conn: &mut Conn, round: usize) {
    let n = round.to_string();
    let key = format!("key:{}", (round * 7919) % 20_000);
    let other = format!("key:{}", (round * 104_729) % 20_000);
    let new = format!("new:{n}");
    let ttl = format!("key:{}", (round * 31) % 20_000);
    let field = format!("f{n}");
    let (from, to) = (
        format!("key:{}", (round * 13) % 20_000),
        format!("moved:{n}"),
    );
    let steps: Vec<Vec<&str>> = vec![
        vec!["select", "0"],
        vec!["set", &key, "changed"],
        vec!["del", &other],
        vec!["set", &new, "x"],
        vec!["expire", &ttl, "1000"],
        vec!["rpush", "l2", &n],
        vec!["lpop", "l1"],
        vec!["sadd", "st", &n],
        vec!["hset", "h1", &field, "v"],
        vec!["zadd", "z1", "1.5", &n],
        vec!["incr", "int"],
        vec!["append", "raw", "tail"],
        vec!["rename", &from, &to],
        vec!["select", "1"],
        vec!["srem", "stbig", &n],
        vec!["rpush", "l3", &n],
    ];
    for step in steps {
        let reply = conn.cmd_str(&step);
        // (A key renamed or deleted in an earlier round is gone.)
        let fine = !reply.starts_with('-') || reply == "-ERR no such key\r\n";
        assert!(fine, "{step:?}: {reply}");
    }
}

/// Rounds of [`write_during`] (up to 300) while INFO's `flag` says the
/// snapshot runs; how many ran.
fn write_while(conn: &mut Conn, server: &Server, flag: &str) -> usize {
    let mut writer = server.connect();
    let mut rounds = 0;
    while rounds < 300 && persistence(conn)[flag] == "1" {
        write_during(&mut writer, rounds);
        rounds += 1;
    }
    rounds
}

#[test]
fn the_file_is_the_dataset_at_the_cut_while_writes_go_on() {
    let ours_dir = temp_dir("bgsave-ours");
    let ours = Server::start_with(&["--dir", &s(&ours_dir), "--enable-debug-command", "yes"]);
    let mut conn = ours.connect();
    populate(&mut conn);
    conn.cmd(&["select", "0"]);
    conn.cmd(&["debug", "populate", "20000", "key", "20"]);
    let want = digest(&mut conn);
    // Slow enough that the writes below land while it runs (a few
    // seconds; lowered once they did).
    conn.cmd(&["config", "set", "rdb-key-save-delay", "100"]);
    assert_eq!(conn.cmd_str(&["bgsave"]), "+Background saving started\r\n");
    let info = persistence(&mut conn);
    assert!(info["current_save_keys_total"].parse::<u64>().unwrap() > 20_000);
    // FLUSHDB and SWAPDB during the save: the snapshot copies what they
    // would take away first.
    let mut writer = ours.connect();
    writer.cmd(&["select", "2"]);
    writer.cmd(&["set", "gone", "soon"]);
    assert_eq!(writer.cmd_str(&["swapdb", "1", "2"]), "+OK\r\n");
    assert_eq!(writer.cmd_str(&["flushdb"]), "+OK\r\n");
    let rounds = write_while(&mut conn, &ours, "rdb_bgsave_in_progress");
    assert!(
        rounds >= 50,
        "only {rounds} rounds of writes during the save"
    );
    wait_for_bgsave(&mut conn);
    let info = persistence(&mut conn);
    assert_eq!(info["rdb_last_bgsave_status"], "ok");
    assert!(
        info["rdb_last_cow_size"].parse::<u64>().unwrap() > 0,
        "{info:?}"
    );
    assert_ne!(digest(&mut conn), want, "the writes changed the dataset");
    let file = ours_dir.join("dump.rdb");
    assert_rdb_checks(&file);
    let theirs_dir = temp_dir("bgsave-theirs");
    std::fs::copy(&file, theirs_dir.join("dump.rdb")).expect("copy");
    assert_eq!(conn.cmd_str(&["debug", "reload", "nosave"]), "+OK\r\n");
    assert_eq!(digest(&mut conn), want);
    if let Some(redis) =
        Server::oracle_with(&["--dir", &s(&theirs_dir), "--enable-debug-command", "yes"])
    {
        let mut theirs = redis.connect();
        wait_loaded(&mut theirs);
        assert_eq!(digest(&mut theirs), want);
    }
    let _ = std::fs::remove_dir_all(&ours_dir);
    let _ = std::fs::remove_dir_all(&theirs_dir);
}

/// Without a key delay the shards are walked by several threads on a
/// machine with more than one core, a thousand keys at a time; keys
/// created meanwhile make the tables grow and land in the shards' arenas
/// ahead of the walker, which must skip them (they were not there at the
/// cut) without missing a key or copying one twice: the file still loads
/// (no duplicate key) to the dataset at the cut.
#[test]
fn tables_growing_under_the_walker_change_nothing_in_the_file() {
    // About 1,720 keys a shard, walked in batches: a table of 2,048
    // buckets holds 1,792, so the writes below make most tables grow.
    saved_at_the_cut_under_writes("bgsave-growing", 440_000, 0, |batch| {
        // 5,000 new keys, some 20 a shard, and changes to old ones.
        let mut pipeline = Vec::new();
        for i in 0..5_000 {
            let n = batch * 5_000 + i;
            let (new, old) = (format!("new:{n}"), format!("key:{}", n * 7 % 440_000));
            pipeline.extend(support::request(&[b"SET", new.as_bytes(), b"v"]));
            pipeline.extend(support::request(&[b"SET", old.as_bytes(), b"changed"]));
        }
        Some((pipeline, 10_000))
    });
}

/// Deleting most keys while the walker goes through the shards (slowed by
/// `rdb-key-save-delay`, one key at a time) moves the last slots of each
/// shard's arena into the holes, behind the walker's place too, and
/// shrinks its table under a tenth full: the file is still the dataset at
/// the cut.
#[test]
fn tables_shrinking_under_the_walker_change_nothing_in_the_file() {
    // 100k keys, about 390 a shard in 512 buckets; 95% go.
    saved_at_the_cut_under_writes("bgsave-shrinking", 100_000, 1, |batch| {
        let gone: Vec<usize> = (batch * 5_000..(batch + 1) * 5_000)
            .filter(|n| n % 20 != 0)
            .collect();
        (batch < 20).then(|| {
            let mut pipeline = Vec::new();
            for n in &gone {
                pipeline.extend(support::request(&[b"DEL", format!("key:{n}").as_bytes()]));
            }
            (pipeline, gone.len())
        })
    });
}

/// BGSAVE of `keys` keys (`DEBUG POPULATE`) with `rdb-key-save-delay`
/// `delay` while `batch(n)` (a pipeline and how many replies it gets, None
/// when done) is sent again and again: the file loads back to the dataset
/// as it was at the cut.
fn saved_at_the_cut_under_writes(
    name: &str,
    keys: usize,
    delay: u64,
    mut batch: impl FnMut(usize) -> Option<(Vec<u8>, usize)>,
) {
    let dir = temp_dir(name);
    let ours = Server::start_with(&["--dir", &s(&dir), "--enable-debug-command", "yes"]);
    let mut conn = ours.connect();
    // DIGEST and DEBUG RELOAD of 900k keys take long in a debug build.
    conn.set_read_timeout(Duration::from_secs(300));
    conn.cmd(&["debug", "populate", &keys.to_string(), "key", "10"]);
    let want = digest(&mut conn);
    let mut writer = ours.connect();
    writer.set_read_timeout(Duration::from_secs(300));
    conn.cmd(&["config", "set", "rdb-key-save-delay", &delay.to_string()]);
    assert_eq!(conn.cmd_str(&["bgsave"]), "+Background saving started\r\n");
    let mut batches = 0;
    while batches < 100 && persistence(&mut conn)["rdb_bgsave_in_progress"] == "1" {
        let Some((pipeline, replies)) = batch(batches) else {
            break;
        };
        writer.send(&pipeline);
        for _ in 0..replies {
            let reply = writer.read_reply();
            assert!(
                !reply.starts_with(b"-"),
                "{}",
                String::from_utf8_lossy(&reply)
            );
        }
        batches += 1;
    }
    assert!(batches > 0, "the save ended before any write");
    conn.cmd(&["config", "set", "rdb-key-save-delay", "0"]);
    wait_for_bgsave(&mut conn);
    assert_eq!(persistence(&mut conn)["rdb_last_bgsave_status"], "ok");
    assert_rdb_checks(&dir.join("dump.rdb"));
    assert_eq!(conn.cmd_str(&["debug", "reload", "nosave"]), "+OK\r\n");
    assert_eq!(digest(&mut conn), want);
    let _ = std::fs::remove_dir_all(&dir);
}

/// BGREWRITEAOF writes its base from the same snapshot, cut when the stream
/// moves to the new incremental file: after writes during the rewrite, the
/// AOF (base and increment) loads back to the dataset as it is, in both
/// base forms.
#[test]
fn an_aof_rewrite_under_writes_loads_back_to_the_same_dataset() {
    for preamble in ["yes", "no"] {
        let ours = Server::start_with(&[
            "--enable-debug-command",
            "yes",
            "--appendonly",
            "yes",
            "--aof-use-rdb-preamble",
            preamble,
        ]);
        let mut conn = ours.connect();
        populate(&mut conn);
        conn.cmd(&["select", "0"]);
        conn.cmd(&["debug", "populate", "20000", "key", "20"]);
        conn.cmd(&["config", "set", "rdb-key-save-delay", "100"]);
        assert_eq!(
            conn.cmd_str(&["bgrewriteaof"]),
            "+Background append only file rewriting started\r\n"
        );
        // BGSAVE waits for it, as for Redis's AOF child.
        assert_eq!(
            conn.cmd_str(&["bgsave", "schedule"]),
            "+Background saving scheduled\r\n"
        );
        let rounds = write_while(&mut conn, &ours, "aof_rewrite_in_progress");
        assert!(
            rounds >= 50,
            "only {rounds} rounds of writes during the rewrite"
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while persistence(&mut conn)["aof_rewrite_in_progress"] != "0" {
            assert!(Instant::now() < deadline, "the rewrite never ended");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(persistence(&mut conn)["aof_last_bgrewrite_status"], "ok");
        wait_for_bgsave(&mut conn);
        let want = digest(&mut conn);
        assert_eq!(conn.cmd_str(&["debug", "loadaof"]), "+OK\r\n");
        assert_eq!(digest(&mut conn), want, "preamble {preamble}");
    }
}

/// The same steps on a server: BGSAVE's syntax, what it and SAVE answer
/// while one runs, BGSAVE inside EXEC, and FLUSHALL stopping it.
fn bgsave_replies(conn: &mut Conn) -> Vec<String> {
    let mut replies = Vec::new();
    for args in [&["bgsave", "x", "y"][..], &["bgsave", "now"]] {
        replies.push(conn.cmd_str(args));
    }
    conn.cmd(&["config", "set", "save", ""]);
    conn.cmd(&["debug", "populate", "2000"]);
    conn.cmd(&["config", "set", "rdb-key-save-delay", "1000"]);
    for args in [
        &["bgsave"][..],
        &["bgsave"],
        &["bgsave", "schedule"],
        &["save"],
    ] {
        replies.push(conn.cmd_str(args));
    }
    replies.push(persistence(conn)["rdb_bgsave_in_progress"].clone());
    replies.push(conn.cmd_str(&["flushall"]));
    let deadline = Instant::now() + Duration::from_secs(1);
    while persistence(conn)["rdb_bgsave_in_progress"] != "0" {
        assert!(
            Instant::now() < deadline,
            "FLUSHALL did not stop the BGSAVE"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // It failed: the changes are still unsaved.
    let changes: u64 = persistence(conn)["rdb_changes_since_last_save"]
        .parse()
        .expect("a number");
    replies.push((changes >= 2000).to_string());
    conn.cmd(&["config", "set", "rdb-key-save-delay", "0"]);
    conn.cmd(&["multi"]);
    replies.push(conn.cmd_str(&["bgsave"]));
    replies.push(conn.cmd_str(&["exec"]));
    // The cron starts the scheduled one.
    let deadline = Instant::now() + Duration::from_secs(5);
    while persistence(conn)["rdb_changes_since_last_save"] != "0" {
        assert!(Instant::now() < deadline, "the scheduled BGSAVE never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    replies.push(persistence(conn)["rdb_last_bgsave_status"].clone());
    replies
}

#[test]
fn replies_and_flushall_abort_match_redis() {
    let ours = Server::start_with(&["--enable-debug-command", "yes"]);
    let mine = bgsave_replies(&mut ours.connect());
    assert_eq!(
        mine,
        [
            "-ERR syntax error\r\n",
            "-ERR syntax error\r\n",
            "+Background saving started\r\n",
            "-ERR Background save already in progress\r\n",
            "-ERR Background save already in progress\r\n",
            "-ERR Background save already in progress\r\n",
            "1",
            "+OK\r\n",
            "true",
            "+QUEUED\r\n",
            "*1\r\n+Background saving scheduled\r\n",
            "ok",
        ]
    );
    if let Some(redis) = Server::oracle_with(&["--enable-debug-command", "yes"]) {
        assert_eq!(bgsave_replies(&mut redis.connect()), mine);
    }
}

#[test]
fn a_save_point_saves_in_the_background() {
    let dir = temp_dir("bgsave-point");
    let log = dir.join("log");
    let server = Server::start_logging_to_file(&log, &["--dir", &s(&dir), "--save", "1 1"]);
    let mut conn = server.connect();
    conn.cmd(&["set", "k", "v"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while persistence(&mut conn)["rdb_saves"] == "0" {
        assert!(Instant::now() < deadline, "no save point ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_for_bgsave(&mut conn);
    let info = persistence(&mut conn);
    assert_eq!(info["rdb_changes_since_last_save"], "0");
    assert_eq!(info["rdb_last_bgsave_status"], "ok");
    let text = std::fs::read_to_string(&log).expect("log");
    for line in [
        "1 changes in 1 seconds. Saving...",
        "Background saving started by pid",
        "Background saving terminated with success",
    ] {
        assert!(text.contains(line), "{line} not in {text}");
    }
    assert!(dir.join("dump.rdb").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A replica syncing while clients write gets the snapshot at its join
/// (streamed as `$EOF:` to a replica that reads it, or gathered and sent
/// with its length under `repl-diskless-sync no`) and then the writes:
/// once they stop, it holds what the master holds. With real redis-server
/// as the replica, and with reddish.
#[test]
fn a_full_sync_under_writes_ends_with_the_masters_dataset() {
    for (diskless, redis_replica) in [("yes", true), ("no", false)] {
        let master = Server::start_with(&[
            "--enable-debug-command",
            "yes",
            "--repl-diskless-sync",
            diskless,
        ]);
        let mut conn = master.connect();
        populate(&mut conn);
        conn.cmd(&["select", "0"]);
        conn.cmd(&["debug", "populate", "20000", "key", "20"]);
        conn.cmd(&["config", "set", "rdb-key-save-delay", "100"]);
        let port = master.port.to_string();
        let args = [
            "--replicaof",
            "127.0.0.1",
            &port,
            "--enable-debug-command",
            "yes",
        ];
        let replica = if redis_replica {
            match Server::oracle_with(&args) {
                Some(replica) => replica,
                None => continue,
            }
        } else {
            Server::start_with(&args)
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while persistence(&mut conn)["rdb_bgsave_in_progress"] != "1" {
            assert!(Instant::now() < deadline, "the sync never started");
            std::thread::sleep(Duration::from_millis(5));
        }
        let rounds = write_while(&mut conn, &master, "rdb_bgsave_in_progress");
        assert!(
            rounds >= 50,
            "only {rounds} rounds of writes during the sync"
        );
        wait_for_bgsave(&mut conn);
        let want = digest(&mut conn);
        let mut on_replica = replica.connect();
        let deadline = Instant::now() + Duration::from_secs(30);
        while on_replica.cmd_str(&["debug", "digest"]) != want {
            assert!(
                Instant::now() < deadline,
                "the replica (redis: {redis_replica}) never caught up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The background child of the server `pid` (Redis's suite finds Redis's
/// fork child the same way, `pgrep -P`), waiting up to 5 s for one.
fn child_of(pid: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let children = std::fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|entry| {
                let child: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
                // `pid (comm) state ppid ...`: the comm may hold spaces.
                let ppid: u32 = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()?;
                (ppid == pid).then_some(child)
            });
        if let Some(child) = children.min() {
            return child;
        }
        assert!(Instant::now() < deadline, "no background child");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill_9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// What a BGSAVE whose child is killed with `kill -9` leaves: the child's
/// temp file (there while it ran, gone after), its OOM score, the save's
/// status and the writes refused (a save point is set).
fn killed_bgsave(server: &Server) -> Vec<String> {
    let mut conn = server.connect();
    let mut seen = Vec::new();
    let dir = conn.cmd_str(&["config", "get", "dir"]);
    let dir = dir.lines().nth(4).expect("dir").to_string();
    conn.cmd(&["set", "a", "1"]);
    conn.cmd(&["set", "b", "2"]);
    conn.cmd(&["config", "set", "rdb-key-save-delay", "1000000"]);
    seen.push(conn.cmd_str(&["bgsave"]));
    let child = child_of(server.pid());
    let temp = std::path::Path::new(&dir).join(format!("temp-{child}.rdb"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !temp.exists() {
        assert!(Instant::now() < deadline, "no {}", temp.display());
        std::thread::sleep(Duration::from_millis(10));
    }
    seen.push(std::fs::read_to_string(format!("/proc/{child}/oom_score_adj")).expect("score"));
    kill_9(child);
    wait_for_bgsave(&mut conn);
    seen.push(temp.exists().to_string());
    seen.push(persistence(&mut conn)["rdb_last_bgsave_status"].clone());
    seen.push(conn.cmd_str(&["set", "c", "3"]));
    seen.push(conn.cmd_str(&["get", "a"]));
    seen
}

/// Redis's suite (`integration/rdb` "failed bgsave prevents writes") kills
/// the BGSAVE child to make a save fail; reddish's child is killed the
/// same way and the server answers as Redis does.
#[test]
fn a_bgsave_whose_child_is_killed_fails_as_redis_does() {
    let args = [
        "--save",
        "900 1",
        "--oom-score-adj",
        "absolute",
        "--oom-score-adj-values",
        "0 200 800",
    ];
    let seen = killed_bgsave(&Server::start_with(&args));
    assert_eq!(
        seen,
        [
            "+Background saving started\r\n",
            "800\n",
            "false",
            "err",
            "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.\r\n",
            "$1\r\n1\r\n",
        ]
    );
    if let Some(redis) = Server::oracle_with(&args) {
        assert_eq!(killed_bgsave(&redis), seen);
    }
}

/// What an AOF rewrite whose child is killed leaves: INFO's rewrite
/// status and the AOF directory's files (a new incremental file was
/// opened for the rewrite and stays, as Redis's).
fn killed_rewrite(server: &Server) -> Vec<String> {
    let mut conn = server.connect();
    let dir = conn.cmd_str(&["config", "get", "dir"]);
    let dir = std::path::PathBuf::from(dir.lines().nth(4).expect("dir"));
    conn.cmd(&["set", "a", "1"]);
    conn.cmd(&["config", "set", "rdb-key-save-delay", "1000000"]);
    let mut seen = vec![conn.cmd_str(&["bgrewriteaof"])];
    let child = child_of(server.pid());
    kill_9(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while persistence(&mut conn)["aof_rewrite_in_progress"] != "0" {
        assert!(Instant::now() < deadline, "the rewrite never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    let info = persistence(&mut conn);
    seen.push(info["aof_last_bgrewrite_status"].clone());
    seen.push(info["aof_rewrites_consecutive_failures"].clone());
    seen.push(conn.cmd_str(&["set", "b", "2"]));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .chain(std::fs::read_dir(dir.join("appendonlydir")).expect("aof dir"))
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name != "log")
        .collect();
    files.sort();
    seen.extend(files);
    seen
}

#[test]
fn a_rewrite_whose_child_is_killed_fails_as_redis_does() {
    let args = ["--appendonly", "yes"];
    let seen = killed_rewrite(&Server::start_with(&args));
    assert_eq!(
        seen,
        [
            "+Background append only file rewriting started\r\n",
            "err",
            "1",
            "+OK\r\n",
            "appendonly.aof.1.base.rdb",
            "appendonly.aof.1.incr.aof",
            "appendonly.aof.2.incr.aof",
            "appendonly.aof.manifest",
            "appendonlydir",
        ]
    );
    if let Some(redis) = Server::oracle_with(&args) {
        assert_eq!(killed_rewrite(&redis), seen);
    }
}

/// A server killed with `kill -9` mid-BGSAVE: its child, which has only
/// part of the file, removes it and exits (Redis's child would go on: it
/// holds the whole dataset; ours gets it from the server). The dump file
/// saved before is left as it was, never replaced by a partial one.
#[test]
fn a_child_whose_server_dies_leaves_the_old_dump_file() {
    let dir = temp_dir("bgsave-orphan");
    let mut server = Server::start_with(&["--dir", &s(&dir)]);
    let mut conn = server.connect();
    conn.cmd(&["set", "a", "1"]);
    assert_eq!(conn.cmd_str(&["save"]), "+OK\r\n");
    let saved = std::fs::read(dir.join("dump.rdb")).expect("dump.rdb");
    conn.cmd(&["set", "b", "2"]);
    conn.cmd(&["config", "set", "rdb-key-save-delay", "1000000"]);
    assert_eq!(conn.cmd_str(&["bgsave"]), "+Background saving started\r\n");
    let child = child_of(server.pid());
    let temp = dir.join(format!("temp-{child}.rdb"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !temp.exists() {
        assert!(Instant::now() < deadline, "no {}", temp.display());
        std::thread::sleep(Duration::from_millis(10));
    }
    server.signal("-KILL");
    server.wait_exit().expect("the server died");
    let deadline = Instant::now() + Duration::from_secs(5);
    // Gone, or a zombie nobody reaped yet (its new parent's business).
    let alive = || {
        std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
    };
    while alive() {
        assert!(Instant::now() < deadline, "the child outlived its server");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!temp.exists(), "the partial file is left");
    assert_eq!(
        std::fs::read(dir.join("dump.rdb")).expect("dump.rdb"),
        saved
    );
    let _ = std::fs::remove_dir_all(&dir);
}
