//! Saving and what reddish says about it: INFO persistence, LASTSAVE,
//! SAVE (BGSAVE is in `bgsave.rs`), load at start-up, and SHUTDOWN/SIGTERM, which
//! save when due and fail as Redis's do when that save fails.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use support::{free_port, info_section, wait_for_log, Conn, Server};

/// INFO persistence as a map.
fn persistence(conn: &mut Conn) -> BTreeMap<String, String> {
    info_section(conn, "persistence")
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
    let log = dir.join("log");
    (Server::start_logging_to_file(&log, args), log)
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
fn save_writes_the_file_and_resets_the_counters() {
    let dir = temp_dir("save");
    let (server, _log) = start_logging_to(&dir, &["--dir", &dir.to_string_lossy()]);
    let mut conn = server.connect();
    let info = persistence(&mut conn);
    assert_eq!(info["rdb_last_bgsave_status"], "ok");
    assert_eq!(info["rdb_saves"], "0");
    // rdb_last_save_time is the start until a save, as LASTSAVE says.
    let lastsave = String::from_utf8_lossy(&conn.cmd(&["LASTSAVE"])).into_owned();
    assert_eq!(lastsave, format!(":{}\r\n", info["rdb_last_save_time"]));
    conn.cmd(&["SET", "k", "v"]);
    assert_eq!(changes(&mut conn), 1);
    assert_eq!(conn.cmd_str(&["SAVE"]), "+OK\r\n");
    let info = persistence(&mut conn);
    assert_eq!(info["rdb_saves"], "1");
    assert_eq!(info["rdb_changes_since_last_save"], "0");
    assert!(dir.join("dump.rdb").is_file());
    assert!(!dir.join(format!("temp-{}.rdb", server.pid())).exists());
    assert_eq!(
        conn.cmd_str(&["SAVE", "x"]),
        "-ERR wrong number of arguments for 'save' command\r\n"
    );
    // A failed SAVE is a bare error; as in Redis it leaves the background
    // status alone.
    std::fs::remove_file(dir.join("dump.rdb")).expect("remove");
    std::fs::create_dir(dir.join("dump.rdb")).expect("block the dump file");
    assert_eq!(conn.cmd_str(&["SAVE"]), "-ERR\r\n");
    assert_eq!(persistence(&mut conn)["rdb_last_bgsave_status"], "ok");
    // A failed save point sets it, and then writes (and PING) are refused
    // (`stop-writes-on-bgsave-error`), as Redis's MISCONF.
    conn.cmd(&["SET", "k", "v"]);
    assert_eq!(conn.cmd_str(&["CONFIG", "SET", "save", "1 1"]), "+OK\r\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while persistence(&mut conn)["rdb_last_bgsave_status"] != "err" {
        assert!(std::time::Instant::now() < deadline, "no save point ran");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(conn
        .cmd_str(&["SET", "k", "v"])
        .starts_with("-MISCONF Redis is configured to save RDB snapshots"));
    assert!(conn.cmd_str(&["PING"]).starts_with("-MISCONF"));
    assert_eq!(conn.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    conn.cmd(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]);
    assert_eq!(conn.cmd_str(&["SET", "k", "w"]), "+OK\r\n");
    let _ = std::fs::remove_dir_all(&dir);
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
    let (mut server, log) =
        start_logging_to(&dir, &["--save", "900 1", "--dir", &dir.to_string_lossy()]);
    std::fs::create_dir(dir.join("dump.rdb")).expect("block the dump file");
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
        "# Error moving temp DB file",
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
fn shutdown_save_saves_and_the_next_start_loads_it() {
    let dir = temp_dir("shutdown-save");
    let dir_arg = dir.to_string_lossy().into_owned();
    let (mut server, log) = start_logging_to(&dir, &["--dir", &dir_arg]);
    let mut conn = server.connect();
    conn.cmd(&["SET", "k", "v"]);
    conn.cmd(&["RPUSH", "l", "a", "b"]);
    conn.send(b"SHUTDOWN SAVE\r\n");
    assert!(conn.is_closed());
    assert!(server.wait_exit().is_some_and(|s| s.success()));
    let text = wait_for_log(&log, "bye bye");
    assert!(text.contains("* DB saved on disk\n"), "{text}");
    let (server, log) = start_logging_to(&dir, &["--dir", &dir_arg]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(conn.cmd_str(&["LLEN", "l"]), ":2\r\n");
    let text = wait_for_log(&log, "DB loaded from disk");
    assert!(text.contains("* DB loaded from disk: "), "{text}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_file_stops_the_start() {
    let dir = temp_dir("corrupt");
    std::fs::write(dir.join("dump.rdb"), b"REDIS0010\xfe\x00\x00\x01k").expect("write");
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_reddish-server"))
        .args(["--port", &port.to_string(), "--dir", &dir.to_string_lossy()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start");
    let status = child.wait().expect("exit");
    assert!(!status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shutdown_force_exits_with_a_warning() {
    let dir = temp_dir("shutdown-force");
    let (mut server, log) =
        start_logging_to(&dir, &["--save", "900 1", "--dir", &dir.to_string_lossy()]);
    std::fs::create_dir(dir.join("dump.rdb")).expect("block the dump file");
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
fn sigterm_saves_when_save_points_are_set() {
    let dir = temp_dir("sigterm");
    let dir_arg = dir.to_string_lossy().into_owned();
    let (mut server, log) = start_logging_to(&dir, &["--save", "900 1", "--dir", &dir_arg]);
    server.connect().cmd(&["SET", "k", "v"]);
    server.signal("-TERM");
    assert!(server.wait_exit().is_some_and(|s| s.success()));
    let text = wait_for_log(&log, "bye bye");
    for line in [
        "Received SIGTERM scheduling shutdown...",
        "* Saving the final RDB snapshot before exiting.",
        "* DB saved on disk",
        "# reddish is now ready to exit, bye bye...",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    let (server, _) = start_logging_to(&dir, &["--dir", &dir_arg]);
    assert_eq!(server.connect().cmd_str(&["GET", "k"]), "$1\r\nv\r\n");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_keeps_running_when_its_save_fails() {
    let dir = temp_dir("sigterm-fails");
    let dir_arg = dir.to_string_lossy().into_owned();
    let (mut server, log) = start_logging_to(&dir, &["--save", "900 1", "--dir", &dir_arg]);
    std::fs::create_dir(dir.join("dump.rdb")).expect("block the dump file");
    let mut conn = server.connect();
    conn.cmd(&["SET", "k", "v"]);
    server.signal("-TERM");
    let text = wait_for_log(&log, "can't exit");
    assert!(
        text.contains("# Error trying to save the DB, can't exit."),
        "{text}"
    );
    assert_eq!(conn.cmd_str(&["PING"]), "+PONG\r\n");
    assert!(server.is_running());
    conn.send(b"SHUTDOWN NOSAVE\r\n");
    assert!(conn.is_closed());
    assert!(server.wait_exit().is_some_and(|s| s.success()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A big file loads while clients are served: until it is in, commands
/// get Redis's `-LOADING` (those allowed while loading, such as INFO and
/// DEBUG LOG, are answered), INFO says `loading:1`, and "Ready to accept
/// connections" is logged only once the data is there.
#[test]
fn clients_get_loading_while_the_file_loads() {
    let dir = temp_dir("loading");
    let (server, _log) = start_logging_to(
        &dir,
        &[
            "--dir",
            &dir.to_string_lossy(),
            "--enable-debug-command",
            "yes",
        ],
    );
    let mut conn = server.connect();
    conn.cmd(&["DEBUG", "POPULATE", "20000"]);
    assert_eq!(conn.cmd_str(&["SAVE"]), "+OK\r\n");
    drop(conn);
    drop(server);
    let port = free_port();
    let log = dir.join("log2");
    let args = [
        "--port",
        &port.to_string(),
        "--dir",
        &dir.to_string_lossy(),
        "--logfile",
        &log.to_string_lossy(),
        "--key-load-delay",
        "200",
        "--enable-debug-command",
        "yes",
    ];
    let server = Server::start_listening(&args, port, false);
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_str(&["GET", "key:1"]),
        "-LOADING Redis is loading the dataset in memory\r\n"
    );
    assert!(persistence(&mut conn)["loading"] == "1");
    assert_eq!(conn.cmd_str(&["DEBUG", "LOG", "hello"]), "+OK\r\n");
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(!text.contains("Ready to accept connections"), "{text}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while conn.cmd_str(&["GET", "key:1"]) != "$7\r\nvalue:1\r\n" {
        assert!(std::time::Instant::now() < deadline, "never loaded");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(conn.cmd_str(&["DBSIZE"]), ":20000\r\n");
    wait_for_log(&log, "Ready to accept connections");
    let _ = std::fs::remove_dir_all(&dir);
}
