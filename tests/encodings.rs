//! OBJECT ENCODING and TYPE across Redis's encoding thresholds, compared with
//! redis-server: small collections stay compact exactly as long as Redis's do.

mod support;

use support::Pair;

/// `HSET`/`SADD`/... `key` with `n` generated members, one command.
fn fill(pair: &mut Pair, cmd: &str, key: &str, n: usize, member: impl Fn(usize) -> Vec<String>) {
    let mut args = vec![cmd.to_string(), key.to_string()];
    for i in 0..n {
        args.extend(member(i));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    pair.check(&args);
}

#[test]
fn hash_and_set_encodings_switch_where_redis_switches() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    fill(&mut pair, "HSET", "h512", 512, |i| {
        vec![format!("f{i}"), "v".into()]
    });
    fill(&mut pair, "HSET", "h513", 513, |i| {
        vec![format!("f{i}"), "v".into()]
    });
    pair.check(&["HSET", "hv64", "f", &"x".repeat(64)]);
    pair.check(&["HSET", "hv65", "f", &"x".repeat(65)]);
    pair.check(&["HSET", "hf65", &"x".repeat(65), "v"]);
    fill(&mut pair, "SADD", "s512", 512, |i| vec![i.to_string()]);
    fill(&mut pair, "SADD", "s513", 513, |i| vec![i.to_string()]);
    pair.check(&[
        "SADD",
        "sbig",
        "1",
        "9223372036854775807",
        "-9223372036854775808",
    ]);
    pair.check(&["SADD", "sstr", "1", "2", "x"]);
    pair.check(&["RPUSH", "l", "a"]);
    pair.check(&["SET", "str", "12"]);
    for key in [
        "h512", "h513", "hv64", "hv65", "hf65", "s512", "s513", "sbig", "sstr", "l", "str",
    ] {
        pair.check(&["OBJECT", "ENCODING", key]);
        pair.check(&["TYPE", key]);
    }
    // Removing members never converts back.
    pair.check(&["SREM", "sstr", "x"]);
    pair.check(&["OBJECT", "ENCODING", "sstr"]);
    pair.check(&["HDEL", "h513", "f0", "f1"]);
    pair.check(&["OBJECT", "ENCODING", "h513"]);
    // The thresholds are settings.
    pair.check(&["CONFIG", "SET", "hash-max-listpack-entries", "2"]);
    pair.check(&["CONFIG", "SET", "set-max-intset-entries", "2"]);
    pair.check(&["HSET", "h3", "a", "1", "b", "2", "c", "3"]);
    pair.check(&["SADD", "s3", "1", "2", "3"]);
    pair.check(&["HSET", "h2", "a", "1", "b", "2"]);
    for key in ["h3", "s3", "h2"] {
        pair.check(&["OBJECT", "ENCODING", key]);
    }
}
