//! A real job queue against reddish: Python `rq` (which dequeues with BLMOVE
//! and records jobs with MULTI/EXEC pipelines) runs 300 jobs through a
//! worker that blocks waiting for them, then a burst worker
//! (`tests/tools/rq_jobs.py`). Skipped with a message when `rq` is not
//! installed; a failure under REDDISH_REQUIRE_ORACLE=1 (CI installs it).

mod support;

use std::process::Command;

use support::Server;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/rq_jobs.py");

#[test]
fn rq_workers_finish_every_job() {
    if !support::python_module("rq", "job queue test") {
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
