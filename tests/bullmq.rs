//! BullMQ (node) against reddish: 200 jobs through a worker, some delayed,
//! some failing once and retried, completion events through QueueEvents
//! (`tests/tools/bullmq_jobs.js`). BullMQ runs on Lua scripts (EVALSHA,
//! cmsgpack, cjson, keys its scripts build themselves). Needs `node` and
//! the `bullmq` and `ioredis` packages in the folder `BULLMQ_NODE_PATH`
//! names (.ci/run installs them); skipped with a message otherwise, a
//! failure under REDDISH_REQUIRE_ORACLE=1.

mod support;

use std::io::Write;
use std::process::Command;

use support::Server;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/bullmq_jobs.js");

fn node_path() -> Option<String> {
    let path = std::env::var("BULLMQ_NODE_PATH").ok().filter(|p| {
        std::path::Path::new(p).join("bullmq").exists()
            && Command::new("node").arg("--version").output().is_ok()
    });
    if path.is_none() {
        if std::env::var("REDDISH_REQUIRE_ORACLE").as_deref() == Ok("1") {
            panic!("BULLMQ_NODE_PATH does not hold bullmq (or node is missing) but REDDISH_REQUIRE_ORACLE=1");
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: set BULLMQ_NODE_PATH to a node_modules with bullmq and ioredis to run the BullMQ test"
        );
    }
    path
}

#[test]
fn bullmq_runs_jobs_retries_delays_and_events() {
    let Some(path) = node_path() else {
        return;
    };
    let server = Server::start();
    let out = Command::new("node")
        .args([SCRIPT, &server.port.to_string()])
        .env("NODE_PATH", path)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bullmq run failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("completed=200 failed=0 retried=29 delayed=20 events=200 values=200"),
        "{stdout}"
    );
}
