//! Start-up and shutdown of the real binary: config files, flags, binds, signals.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{free_port, wait_for_log, Conn, Server};

fn temp_conf(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("reddish-{}-{name}.conf", std::process::id()));
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn bad_directive_stops_startup_like_redis() {
    let conf = temp_conf("bad", "port 7000\n# a comment\nnosuch-directive yes\n");
    let out = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
        .arg(&conf)
        .output()
        .expect("run reddish-server");
    let _ = std::fs::remove_file(&conf);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("*** FATAL CONFIG FILE ERROR (reddish ")
            && stderr.contains("Reading the configuration file, at line 3\n")
            && stderr.contains(">>> 'nosuch-directive yes'\n")
            && stderr.contains("Bad directive or wrong number of arguments"),
        "{stderr}"
    );
    if support::installed("redis-server", "config error comparison") {
        let conf = temp_conf(
            "bad-redis",
            "port 7000\n# a comment\nnosuch-directive yes\n",
        );
        let redis = Command::new("redis-server")
            .arg(&conf)
            .output()
            .expect("run redis-server");
        let _ = std::fs::remove_file(&conf);
        let theirs = String::from_utf8_lossy(&redis.stderr).replace("Redis 7.0.15", "");
        let ours = stderr.replace(&format!("reddish {}", env!("CARGO_PKG_VERSION")), "");
        assert_eq!(ours, theirs);
    }
}

/// The command line's odd forms (Redis's suite, "redis-server command line
/// arguments - error cases"): reddish stops with the error redis-server
/// prints for the same arguments.
#[test]
fn command_line_errors_as_redis_server() {
    let cases: &[&[&str]] = &[
        &["--port"],
        &["--port", "6380", "--loglevel"],
        &["--port", "6379", "6380"],
        &["--port", "--loglevel", "verbose"],
        &["--port", "--bla", "--loglevel", "verbose"],
        &["--logfile", "--my--log--file", "--loglevel", "--bla"],
        &["--shutdown-on-sigint"],
        &["--shutdown-on-sigint", "now force", "--shutdown-on-sigterm"],
        &["--replicaof", "127.0.0.1", "abc"],
        &["--replicaof", "--127.0.0.1", "abc"],
        &["--replicaof", "--127.0.0.1", "--abc"],
        &["--port", "1", "--help"],
    ];
    let redis = support::installed("redis-server", "command line comparison");
    for args in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
            .args(*args)
            .output()
            .expect("run reddish-server");
        assert!(!out.status.success(), "{args:?}");
        let ours = String::from_utf8_lossy(&out.stderr)
            .replace(&format!("reddish {}", env!("CARGO_PKG_VERSION")), "");
        assert!(
            ours.contains("*** FATAL CONFIG FILE ERROR"),
            "{args:?}: {ours}"
        );
        if redis {
            let theirs = Command::new("redis-server")
                .args(*args)
                .output()
                .expect("run redis-server");
            let theirs = String::from_utf8_lossy(&theirs.stderr).replace("Redis 7.0.15", "");
            assert_eq!(ours, theirs, "{args:?}");
        }
    }
}

#[test]
fn config_file_with_flags_overriding_and_several_binds() {
    let file_port = free_port();
    let port = free_port();
    let conf = temp_conf(
        "good",
        &format!(
            "# reddish test\nport {file_port}\nbind \"127.0.0.1\" 127.0.0.2\ndatabases 4\nhz 20\n"
        ),
    );
    let server = Server::start_with_args(
        &[
            conf.to_str().expect("utf-8 path"),
            "--port",
            &port.to_string(),
        ],
        port,
    );
    let _ = std::fs::remove_file(&conf);
    for host in ["127.0.0.1", "127.0.0.2"] {
        let stream =
            std::net::TcpStream::connect((host, port)).expect("listening on each bind address");
        drop(stream);
    }
    let mut conn = Conn::connect(server.port);
    assert_eq!(
        conn.cmd_str(&["CONFIG", "GET", "databases"]),
        "*2\r\n$9\r\ndatabases\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        conn.cmd_str(&["SELECT", "4"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        conn.cmd_str(&["CONFIG", "GET", "hz"]),
        "*2\r\n$2\r\nhz\r\n$2\r\n20\r\n"
    );
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
        .args(["--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    // Up and loaded (a signal while it loads is logged as such, as Redis's).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::net::TcpStream::connect(("127.0.0.1", port))
        .is_ok_and(|stream| Conn::from_stream(stream).cmd_str(&["PING"]) == "+PONG\r\n")
    {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "exit status {:?}", out.status);
    let log = String::from_utf8_lossy(&out.stdout);
    let pid = child_pid_line(&log);
    assert!(log.contains("* Ready to accept connections\n"), "{log}");
    assert!(
        log.contains(&format!("{pid}:signal-handler ("))
            && log.contains(") Received SIGTERM scheduling shutdown...\n")
            && log.contains("# User requested shutdown...\n")
            && log.contains("# reddish is now ready to exit, bye bye...\n"),
        "{log}"
    );
    // No save points by default: nothing to warn about on the way out.
    assert!(!log.contains("Saving the final RDB snapshot"), "{log}");
}

/// The pid the log's "pid=N" start-up line names.
fn child_pid_line(log: &str) -> u32 {
    log.split_once("pid=")
        .and_then(|(_, rest)| rest.split(',').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {log}"))
}

/// Whether `line` has Redis's log prefix: `pid:role dd Mon yyyy HH:MM:SS.mmm <level> `.
fn redis_log_line(line: &str, pid: u32, role: char) -> bool {
    let Some(rest) = line.strip_prefix(&format!("{pid}:{role} ")) else {
        return false;
    };
    let fields: Vec<&str> = rest.splitn(6, ' ').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let time: Vec<&str> = fields
        .get(3)
        .map_or(vec![], |t| t.split([':', '.']).collect());
    fields.len() == 6
        && digits(fields[0], 2)
        && fields[1].len() == 3
        && digits(fields[2], 4)
        && time.len() == 4
        && time[..3].iter().all(|t| digits(t, 2))
        && digits(time[3], 3)
        && matches!(fields[4], "." | "-" | "*" | "#")
}

#[test]
fn startup_log_is_redis_shaped_and_in_redis_order() {
    let (server, log) = Server::start_logging(&["--loglevel", "verbose"]);
    let pid = server.pid();
    let lines: Vec<&str> = log.lines().collect();
    let expected = [
        ('C', "# oO0OoO0OoO0Oo reddish is starting oO0OoO0OoO0Oo"),
        (
            'C',
            &format!(
                "# reddish version={}, redis_version=7.0.15, bits=64, pid={pid}, just started",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        ('C', "# Configuration loaded"),
        (
            'M',
            &format!("* Running mode=standalone, port={}.", server.port),
        ),
        ('M', "# Server initialized"),
        ('M', "* Ready to accept connections"),
    ];
    assert_eq!(lines.len(), expected.len(), "{log}");
    for (line, (role, text)) in lines.iter().zip(expected) {
        assert!(redis_log_line(line, pid, role), "{line:?}");
        assert!(line.ends_with(text), "{line:?} should end with {text:?}");
    }
}

#[test]
fn always_show_logo_prints_the_pid_the_suite_looks_for() {
    let (server, log) = Server::start_logging(&["--always-show-logo", "yes"]);
    assert!(log.contains(&format!(" PID: {}\n", server.pid())), "{log}");
    assert!(log.contains(&format!("Port: {}", server.port)), "{log}");
    assert!(!log.contains("Running mode="), "{log}");
    assert!(log.contains("Ready to accept connections"), "{log}");
}

/// A fresh path for a log file.
fn temp_log(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("reddish-{}-{name}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn logfile_and_loglevel_follow_config_set() {
    let path = temp_log("levels");
    let port = free_port();
    let logfile = path.to_string_lossy().into_owned();
    let server = Server::start_with_args(
        &[
            "--port",
            &port.to_string(),
            "--logfile",
            &logfile,
            "--loglevel",
            "warning",
            "--enable-debug-command",
            "yes",
        ],
        port,
    );
    let log = wait_for_log(&path, "Server initialized");
    assert!(log.contains("# Server initialized"), "{log}");
    // Notice lines are below `warning`.
    assert!(!log.contains("Running mode"), "{log}");
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_str(&["CONFIG", "SET", "loglevel", "verbose"]),
        "+OK\r\n"
    );
    // A second client's arrival is a verbose line.
    let mut other = server.connect();
    assert_eq!(other.cmd_str(&["PING"]), "+PONG\r\n");
    let log = wait_for_log(&path, "- Accepted 127.0.0.1:");
    assert!(log.contains("- Accepted 127.0.0.1:"), "{log}");
    assert_eq!(
        conn.cmd_str(&["CONFIG", "SET", "loglevel", "warning"]),
        "+OK\r\n"
    );
    let accepted = log.matches("Accepted").count();
    drop(server.connect());
    assert_eq!(
        conn.cmd_str(&["CONFIG", "SET", "maxmemory-clients", "1mb"]),
        "+OK\r\n"
    );
    assert_eq!(
        conn.cmd_str(&["CONFIG", "SET", "save", "60 5", "hz", "20"]),
        "+OK\r\n"
    );
    assert_eq!(conn.cmd_str(&["DEBUG", "LOG", "settings-set"]), "+OK\r\n");
    let log = wait_for_log(&path, "DEBUG LOG: settings-set");
    // Enforced settings are not warned about (client eviction and save
    // points are both enforced).
    assert_eq!(log.matches("WARNING").count(), 0, "{log}");
    assert_eq!(log.matches("Accepted").count(), accepted, "{log}");
    // logfile is immutable at runtime, as in Redis.
    assert!(conn
        .cmd_str(&["CONFIG", "SET", "logfile", "/tmp/x"])
        .starts_with("-ERR CONFIG SET failed (possibly related to argument 'logfile') - can't set immutable config"));
    // Nothing went to stdout's place: every line is in the file, Redis-shaped.
    let pid = child_pid_line(&log);
    for line in log.lines() {
        assert!(
            redis_log_line(line, pid, 'C') || redis_log_line(line, pid, 'M'),
            "{line:?}"
        );
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn settings_without_their_subsystem_are_accepted_with_a_warning() {
    let (server, log) = Server::start_logging(&[
        "--save",
        "900 1",
        "--maxmemory",
        "100mb",
        "--maxmemory-policy",
        "allkeys-lru",
        "--syslog-enabled",
        "no",
        "--syslog-ident",
        "reddish",
        "--syslog-facility",
        "local0",
    ]);
    // Save points and maxmemory are enforced now: no warning for them.
    assert!(!log.contains("WARNING save points"), "{log}");
    assert!(!log.contains("WARNING maxmemory"), "{log}");
    // CONFIG GET stays truthful about what was configured.
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_str(&["CONFIG", "GET", "save"]),
        "*2\r\n$4\r\nsave\r\n$5\r\n900 1\r\n"
    );
}

/// `daemonize` cannot be honoured (no fork): it is accepted, as the
/// suite's config sets it, and the log says so (`unixsocket`, which it
/// sets too, works: tests/transports.rs); `replicaof` makes the server a
/// replica from the start. `pidfile` is written while the server runs and
/// removed when it exits.
#[test]
fn pidfile_is_written_and_daemonize_warns_and_replicaof_follows() {
    let pidfile = std::env::temp_dir().join(format!("reddish-{}-test.pid", std::process::id()));
    let pidfile_arg = pidfile.to_string_lossy().into_owned();
    let (mut server, log) = Server::start_logging(&[
        "--daemonize",
        "yes",
        "--pidfile",
        &pidfile_arg,
        "--replicaof",
        "127.0.0.1",
        "1",
    ]);
    for warning in [
        "# WARNING daemonize is yes but reddish does not fork: it stays in the foreground",
        "* Connecting to MASTER 127.0.0.1:1",
    ] {
        assert!(log.contains(warning), "{warning}\n{log}");
    }
    let role = server.connect().cmd_str(&["ROLE"]);
    assert!(
        role.starts_with("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:1\r\n"),
        "{role}"
    );
    let written = std::fs::read_to_string(&pidfile).expect("pidfile written");
    assert_eq!(written.trim(), server.pid().to_string());
    server.connect().send(b"SHUTDOWN NOSAVE\r\n");
    assert!(server.wait_exit().is_some(), "SHUTDOWN NOSAVE exits");
    assert!(!pidfile.exists(), "pidfile removed at exit");
}

#[test]
fn default_is_in_memory_with_no_save_points() {
    let (server, log) = Server::start_logging(&[]);
    assert!(!log.contains("WARNING"), "{log}");
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_str(&["CONFIG", "GET", "save"]),
        "*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
    );
}

#[test]
fn redis_suite_default_conf_starts_the_server() {
    let port = free_port();
    // A directory of its own: the SIGTERM below saves dump.rdb there.
    let dir = std::env::temp_dir().join(format!("reddish-suite-conf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let suite_conf = std::fs::read_to_string("/work/shared/redis-suite/tests/assets/default.conf");
    // The suite's own config file when it is there, else the directives it
    // relies on most.
    let text = suite_conf.unwrap_or_else(|_| {
        "always-show-logo yes\nnotify-keyspace-events KEA\ndaemonize no\npidfile /var/run/redis.pid\nport 6379\ntimeout 0\nbind 127.0.0.1\nloglevel verbose\nlogfile ''\ndatabases 16\nlatency-monitor-threshold 1\nrepl-diskless-sync-delay 0\nsave 900 1\nrdbcompression yes\ndbfilename dump.rdb\ndir ./\nslave-serve-stale-data yes\nappendonly no\nappendfsync everysec\nno-appendfsync-on-rewrite no\nactiverehashing yes\nenable-protected-configs yes\nenable-debug-command yes\nenable-module-command yes\npropagation-error-behavior panic\n".to_string()
    });
    let conf = temp_conf(
        "suite",
        &format!(
            "{text}\nport {port}\ndir {}\nunixsocket {}/reddish-suite.sock\n",
            dir.display(),
            dir.display()
        ),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
        .arg(&conf)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().expect("wait");
    let _ = std::fs::remove_file(&conf);
    let log = String::from_utf8_lossy(&out.stdout);
    // What the suite waits for, and the save points it configures: SIGTERM
    // saves, then ends the server.
    assert!(
        log.contains(&format!(" PID: {}\n", child_pid_line(&log))),
        "{log}"
    );
    assert!(log.contains("* Ready to accept connections\n"), "{log}");
    assert!(log.contains("* DB saved on disk\n"), "{log}");
    assert!(dir.join("dump.rdb").is_file());
    assert!(out.status.success(), "{:?}", out.status);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_taken_port_fails_as_redis_words_it() {
    // The suite retries on another port when it reads "Failed listening on port".
    let server = Server::start();
    let out = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
        .args(["--port", &server.port.to_string()])
        .output()
        .expect("run reddish-server");
    assert_eq!(out.status.code(), Some(1));
    let log = String::from_utf8_lossy(&out.stdout);
    let port = server.port;
    assert!(
        log.contains(&format!("# Warning: Could not create server TCP listening socket *:{port}: bind: Address already in use\n"))
            && log.contains(&format!("# Failed listening on port {port} (TCP), aborting.\n")),
        "{log}"
    );
}

/// A signal only asks for a shutdown; the cron runs it (Redis's
/// `shutdown_asap`): with the cron paused SHUTDOWN ABORT cancels it. The
/// cron then runs one with `shutdown-on-sigterm`'s flags: `nosave` leaves
/// no dump although save points are set. A second SIGINT while a
/// shutdown is pending exits at once.
#[test]
fn signals_ask_the_cron_for_a_shutdown_with_their_flags() {
    let dir = std::env::temp_dir().join(format!("reddish-sig-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let log = dir.join("log");
    let mut server = Server::start_logging_to_file(
        &log,
        &[
            "--dir",
            &dir.to_string_lossy(),
            "--save",
            "900 1",
            "--enable-debug-command",
            "yes",
        ],
    );
    let mut conn = server.connect();
    conn.cmd(&["SET", "k", "v"]);
    assert_eq!(
        conn.cmd_str(&["SHUTDOWN", "ABORT"]),
        "-ERR No shutdown in progress.\r\n"
    );
    conn.cmd(&["DEBUG", "PAUSE-CRON", "1"]);
    server.signal("-TERM");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(conn.cmd_str(&["SHUTDOWN", "ABORT"]), "+OK\r\n");
    assert!(wait_for_log(&log, "Shutdown manually aborted").contains("Shutdown manually aborted"));
    conn.cmd(&["DEBUG", "PAUSE-CRON", "0"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(conn.cmd_str(&["PING"]), "+PONG\r\n");

    conn.cmd(&["CONFIG", "SET", "shutdown-on-sigterm", "nosave"]);
    server.signal("-TERM");
    assert!(server.wait_exit().is_some_and(|status| status.success()));
    assert!(!dir.join("dump.rdb").exists(), "nosave saved");

    // Pending (cron paused), then insisted on.
    let mut server = Server::start_logging_to_file(
        &log,
        &[
            "--dir",
            &dir.to_string_lossy(),
            "--enable-debug-command",
            "yes",
        ],
    );
    server.connect().cmd(&["DEBUG", "PAUSE-CRON", "1"]);
    server.signal("-INT");
    std::thread::sleep(Duration::from_millis(200));
    server.signal("-INT");
    let status = server.wait_exit().expect("exited");
    assert_eq!(status.code(), Some(1));
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("You insist... exiting now."));
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a second SIGINT does while the first one's shutdown saves (Redis's
/// suite: "Temp rdb will be deleted in signal handle"): the save's temp
/// file is there from its start (the keys go in one by one, a tenth of a
/// second each), the second signal exits at once with status 1 and the
/// temp file is gone, no dump written.
fn insisting_during_the_save(server: &mut Server) -> Vec<String> {
    let mut conn = server.connect();
    for i in 0..20 {
        conn.cmd(&["SET", &i.to_string(), "v"]);
    }
    conn.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "100000"]);
    let dir = conn.cmd_str(&["CONFIG", "GET", "dir"]);
    let dir = std::path::PathBuf::from(dir.lines().nth(4).expect("dir"));
    let temp = dir.join(format!("temp-{}.rdb", server.pid()));
    server.signal("-INT");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !temp.exists() {
        assert!(Instant::now() < deadline, "no {}", temp.display());
        std::thread::sleep(Duration::from_millis(5));
    }
    server.signal("-INT");
    let status = server.wait_exit().expect("exited");
    vec![
        format!("{:?}", status.code()),
        temp.exists().to_string(),
        dir.join("dump.rdb").exists().to_string(),
    ]
}

#[test]
fn a_second_sigint_during_the_shutdown_save_exits_at_once() {
    let args = ["--save", "900 1"];
    let seen = insisting_during_the_save(&mut Server::start_with(&args));
    assert_eq!(seen, ["Some(1)", "false", "false"]);
    if let Some(mut redis) = Server::oracle_with(&args) {
        assert_eq!(insisting_during_the_save(&mut redis), seen);
    }
}

/// SHUTDOWN's client sees its connection close only once the server no
/// longer listens (Redis exits from the command): a client that reconnects
/// at once is refused, as Redis's suite expects after SHUTDOWN NOSAVE.
#[test]
fn shutdown_closes_its_client_when_nothing_listens_any_more() {
    let mut servers = vec![("reddish", Server::start())];
    servers.extend(Server::oracle().map(|redis| ("redis-server", redis)));
    for (name, server) in servers {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        stream
            .write_all(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
            .expect("send");
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        assert_eq!(rest, b"");
        let again = std::net::TcpStream::connect(("127.0.0.1", server.port));
        // A connection from the port to itself (TCP's simultaneous open, when
        // the kernel picks the freed port as the client's) is no listener.
        let listening =
            again.is_ok_and(|s| s.local_addr().map(|a| a.port()).ok() != Some(server.port));
        assert!(!listening, "{name} still listening on {}", server.port);
    }
}
