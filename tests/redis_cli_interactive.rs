//! Interactive redis-cli against reddish, on a pseudo-terminal: it must start,
//! show its hints and run commands exactly as against redis-server. (redis-cli
//! 7.0 takes hints from its built-in table; 7.2+ asks the server's COMMAND DOCS,
//! which we replay from Redis's own metadata.)

mod support;

use std::process::Command;

use support::Server;

fn hints(port: u16, prefixes: &[&str]) -> Option<String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/tools/redis_cli_hints.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .args(prefixes)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn redis_cli_shows_the_same_hints_as_with_redis() {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let prefixes = ["SET ", "GETEX k ", "CLIENT KILL "];
    let want = hints(oracle.port, &prefixes).expect("python3 and redis-cli run");
    let got = hints(ours.port, &prefixes).expect("python3 and redis-cli run");
    assert!(
        want.contains("key value [NX|XX]"),
        "redis-cli showed no hints: {want}"
    );
    assert_eq!(got, want);
}
