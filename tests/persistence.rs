//! What reddish says about persistence, which it does not have yet: INFO
//! persistence, LASTSAVE, SAVE/BGSAVE, and SHUTDOWN, which must fail as
//! Redis's does when its final save fails rather than exit having saved
//! nothing.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use support::{free_port, wait_for_log, Conn, Server};

/// INFO persistence as a map.
fn persistence(conn: &mut Conn) -> BTreeMap<String, String> {
    let reply = String::from_utf8_lossy(&conn.cmd(&["INFO", "persistence"])).into_owned();
    reply
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn changes(conn: &mut Conn) -> u64 {
    persistence(conn)["rdb_changes_since_last_save"]
        .parse()
        .expect("a number")
}

/// A fresh, empty directory under the system's temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reddish-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// reddish on a free port, logging to `dir/log`, with `args`.
fn start_logging_to(dir: &Path, args: &[&str]) -> (Server, PathBuf) {
    let port = free_port();
    let log = dir.join("log");
    let port_arg = port.to_string();
    let log_arg = log.to_string_lossy().into_owned();
    let mut all = vec!["--port", &port_arg, "--logfile", &log_arg];
    all.extend(args);
    (Server::start_with_args(&all, port), log)
}

#[test]
fn changes_since_start_count_writes_as_redis_counts_these() {
    // Each of these changes one key once, so Redis's `server.dirty` and our
    // counter agree; the oracle (started with no save points) never saves.
    let script: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["SET", "b", "2"],
        &["INCR", "a"],
        &["GET", "a"],
        &["DEL", "b"],
        &["DEL", "nosuch"],
        &["SADD", "s", "x"],
        &["SADD", "s", "x"],
        &["SREM", "s", "nosuch"],
        &["HSET", "h", "f", "v"],
        &["EXPIRE", "a", "100"],
        &["PERSIST", "a"],
        &["PERSIST", "a"],
        &["INCR", "s"],
        &["LPUSH", "l", "x"],
        &["LPOP", "nosuch"],
        &["APPEND", "a", "z"],
    ];
    let ours = Server::start();
    let mut conn = ours.connect();
    assert_eq!(changes(&mut conn), 0);
    for args in script {
        conn.cmd(args);
    }
    assert_eq!(changes(&mut conn), 10);
    if let Some(oracle) = Server::oracle() {
        let mut redis = oracle.connect();
        for args in script {
            redis.cmd(args);
        }
        assert_eq!(changes(&mut redis), 10, "redis-server counts differently");
    }
    // A transaction's writes count too; FLUSHALL counts the keys it removes.
    conn.cmd(&["MULTI"]);
    conn.cmd(&["SET", "m", "1"]);
    conn.cmd(&["EXEC"]);
    assert_eq!(changes(&mut conn), 11);
    conn.cmd(&["FLUSHALL"]);
    assert_eq!(changes(&mut conn), 16);
}

#[test]
fn save_status_is_an_error_while_save_points_cannot_be_honoured() {
    let server = Server::start();
    let mut conn = server.connect();
    let info = persistence(&mut conn);
    assert_eq!(info["rdb_last_bgsave_status"], "ok");
    assert_eq!(info["rdb_saves"], "0");
    // rdb_last_save_time is the start, as LASTSAVE says.
    let lastsave = String::from_utf8_lossy(&conn.cmd(&["LASTSAVE"])).into_owned();
    assert_eq!(lastsave, format!(":{}\r\n", info["rdb_last_save_time"]));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let started: u64 = info["rdb_last_save_time"].parse().expect("a time");
    assert!(started <= now && now - started < 60, "{started} vs {now}");

    assert_eq!(conn.cmd_str(&["CONFIG", "SET", "save", "900 1"]), "+OK\r\n");
    assert_eq!(persistence(&mut conn)["rdb_last_bgsave_status"], "err");
    assert_eq!(conn.cmd_str(&["CONFIG", "SET", "save", ""]), "+OK\r\n");
    assert_eq!(persistence(&mut conn)["rdb_last_bgsave_status"], "ok");
}

#[test]
fn save_and_bgsave_say_persistence_is_not_implemented() {
    let server = Server::start();
    let mut conn = server.connect();
    for args in [&["SAVE"][..], &["BGSAVE"], &["BGSAVE", "SCHEDULE"]] {
        assert_eq!(
            conn.cmd_str(args),
            "-ERR Persistence is not implemented yet: reddish keeps data in memory only\r\n"
        );
    }
    assert_eq!(
        conn.cmd_str(&["SAVE", "x"]),
        "-ERR wrong number of arguments for 'save' command\r\n"
    );
}

/// The reply of real redis-server to SHUTDOWN when its final save fails
/// (its dump file's name is taken by a directory), or None without it.
fn redis_failed_shutdown_reply(args: &[&str]) -> Option<String> {
    let dir = temp_dir(&format!("redis-{}", args.join("-")));
    let dir_arg = dir.to_string_lossy().into_owned();
    let oracle = Server::oracle_with(&["--save", "900 1", "--dir", &dir_arg])?;
    std::fs::create_dir(dir.join("dump.rdb")).expect("block the dump file");
    let mut conn = oracle.connect();
    conn.cmd(&["SET", "k", "v"]);
    let reply = conn.cmd_str(args);
    drop(oracle);
    let _ = std::fs::remove_dir_all(&dir);
    Some(reply)
}

#[test]
fn shutdown_that_would_save_fails_as_a_failed_save_does_in_redis() {
    let dir = temp_dir("shutdown-fails");
    let (mut server, log) = start_logging_to(&dir, &["--save", "900 1"]);
    let mut conn = server.connect();
    conn.cmd(&["SET", "k", "v"]);
    let want = "-ERR Errors trying to SHUTDOWN. Check logs.\r\n";
    for args in [
        &["SHUTDOWN"][..],
        &["SHUTDOWN", "SAVE"],
        &["SHUTDOWN", "NOW"],
    ] {
        assert_eq!(conn.cmd_str(args), want, "{args:?}");
        if let Some(theirs) = redis_failed_shutdown_reply(args) {
            assert_eq!(theirs, want, "redis-server's reply to {args:?}");
        }
    }
    assert_eq!(conn.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    assert!(server.is_running());
    let text = wait_for_log(&log, "Errors trying to shut down");
    for line in [
        "# User requested shutdown...",
        "* Saving the final RDB snapshot before exiting.",
        "# Persistence is not implemented yet: nothing can be saved (1 changes since start)",
        "# Error trying to save the DB, can't exit.",
        "# Errors trying to shut down the server. Check the logs for more information.",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    // NOSAVE exits, with no reply, as in Redis.
    conn.send(b"SHUTDOWN NOSAVE\r\n");
    assert!(conn.is_closed());
    assert!(server.wait_exit().is_some_and(|s| s.success()));
    let text = wait_for_log(&log, "bye bye");
    assert!(
        text.contains("# reddish is now ready to exit, bye bye..."),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shutdown_save_fails_even_without_save_points() {
    let server = Server::start();
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_str(&["SHUTDOWN", "SAVE"]),
        "-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    assert_eq!(conn.cmd_str(&["PING"]), "+PONG\r\n");
}

#[test]
fn shutdown_force_exits_with_a_warning() {
    let dir = temp_dir("shutdown-force");
    let (mut server, log) = start_logging_to(&dir, &["--save", "900 1"]);
    let mut conn = server.connect();
    conn.send(b"SHUTDOWN FORCE\r\n");
    assert!(conn.is_closed());
    assert!(server.wait_exit().is_some_and(|s| s.success()));
    let text = wait_for_log(&log, "bye bye");
    assert!(
        text.contains("# Error trying to save the DB. Exit anyway.\n")
            && text.contains("# reddish is now ready to exit, bye bye...\n"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_exits_and_says_nothing_was_saved() {
    let dir = temp_dir("sigterm");
    let (mut server, log) = start_logging_to(&dir, &["--save", "900 1"]);
    server.connect().cmd(&["SET", "k", "v"]);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert!(server.wait_exit().is_some_and(|s| s.success()));
    let text = wait_for_log(&log, "bye bye");
    for line in [
        "Received SIGTERM scheduling shutdown...",
        "# Persistence is not implemented yet: nothing can be saved (1 changes since start)",
        "# Error trying to save the DB. Exit anyway.",
        "# reddish is now ready to exit, bye bye...",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
