//! A real job queue against reddish: Python `rq` (which dequeues with BLMOVE
//! and records jobs with MULTI/EXEC pipelines) runs 300 jobs through a
//! worker that blocks waiting for them, then a burst worker
//! (`tests/tools/rq_jobs.py`). Skipped with a message when `rq` is not
//! installed; a failure under REDDISH_REQUIRE_ORACLE=1 (CI installs it).

mod support;

use std::io::Write;
use std::process::Command;

use support::Server;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/rq_jobs.py");

/// True when python3 can import rq; otherwise says the test is skipped, or
/// fails when REDDISH_REQUIRE_ORACLE=1.
fn rq_installed() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import rq"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return true;
    }
    if std::env::var("REDDISH_REQUIRE_ORACLE").as_deref() == Ok("1") {
        panic!("python package rq is not installed but REDDISH_REQUIRE_ORACLE=1");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: python package rq is not installed, job queue test not run"
    );
    false
}

#[test]
fn rq_workers_finish_every_job() {
    if !rq_installed() {
        return;
    }
    let server = Server::start();
    let out = Command::new("python3")
        .args([SCRIPT, &server.port.to_string(), "300"])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rq run failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("done=300 queued=0 failed=0"), "{stdout}");
}
