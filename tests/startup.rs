//! Start-up and shutdown of the real binary: config files, flags, binds, signals.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{free_port, Conn, Server};

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
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
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
    assert!(
        log.contains(&format!(
            "Ready to accept connections tcp on 127.0.0.1:{port}"
        )),
        "{log}"
    );
    assert!(
        log.contains("Received SIGTERM") && log.contains("ready to exit"),
        "{log}"
    );
}
