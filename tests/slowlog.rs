//! SLOWLOG against a real redis-server: what gets logged (original
//! arguments, trimmed and redacted as Redis does, EXEC's commands but not
//! EXEC), in which order, with which client name; times are masked.

mod support;

use support::{parse_reply, Node, Pair};

/// An entry without its time, duration and peer port: `id args... | name`.
fn entries(reply: &[u8]) -> Vec<String> {
    let Node::Aggregate(_, list) = parse_reply(reply) else {
        panic!("not an array: {}", String::from_utf8_lossy(reply));
    };
    list.iter()
        .map(|entry| {
            let Node::Aggregate(_, fields) = entry else {
                panic!("entry not an array");
            };
            let text = |n: &Node| String::from_utf8_lossy(&n.bytes()).trim().to_string();
            let args = match &fields[3] {
                Node::Aggregate(_, args) => args.iter().map(text).collect::<Vec<_>>().join(" "),
                leaf => text(leaf),
            };
            assert!(
                text(&fields[4]).contains("127.0.0.1:"),
                "peer {}",
                text(&fields[4])
            );
            format!("{} {args} | {}", text(&fields[0]), text(&fields[5]))
        })
        .collect()
}

#[test]
fn slowlog_logs_what_redis_logs() {
    let Some(mut p) = Pair::new() else { return };
    let long = "A".repeat(129);
    let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let mut sadd = vec!["sadd", "set"];
    sadd.extend(many.iter().map(String::as_str));
    p.run(&[
        &["config", "set", "slowlog-log-slower-than", "0"],
        &["slowlog", "reset"],
        &["client", "setname", "logged"],
        &["set", "k", "v"],
        &["sadd", "s", "foo", &long],
        &sadd,
        &["spop", "set", "100"],
        &["getset", "k", "w"],
        &["multi"],
        &["incr", "n"],
        &["exec"],
        &["auth", "nopass"],
        &[
            "migrate",
            "127.0.0.1",
            "1",
            "nokey",
            "0",
            "9",
            "copy",
            "auth2",
            "u",
            "p",
        ],
        &[
            "migrate",
            "127.0.0.1",
            "1",
            "nokey",
            "0",
            "9",
            "auth",
            "pw",
            "keys",
        ],
        // CONFIG SET's values of secret settings (not of the others, nor
        // of an odd count Redis refuses first).
        &[
            "config",
            "set",
            "masterauth",
            "",
            "hz",
            "10",
            "REQUIREPASS",
            "",
        ],
        &["config", "set", "masteruser", "u", "nosuch", "x"],
        &["config", "set", "masterauth", "x", "hz"],
        &["slowlog", "len"],
        &["slowlog", "get", "-2"],
        &["slowlog", "get", "x"],
        &["slowlog", "foo"],
        &["slowlog", "help"],
    ]);
    let want = entries(&p.want.cmd(&["slowlog", "get", "-1"]));
    let got = entries(&p.got.cmd(&["slowlog", "get", "-1"]));
    assert_eq!(got, want);
    assert!(want.len() > 10, "{want:#?}");
    p.run(&[
        &["config", "set", "slowlog-max-len", "2"],
        &["ping"],
        &["slowlog", "len"],
        &["config", "set", "slowlog-log-slower-than", "-1"],
        &["slowlog", "reset"],
        &["ping"],
        &["slowlog", "len"],
    ]);
    assert_eq!(
        entries(&p.got.cmd(&["slowlog", "get", "0"])),
        entries(&p.want.cmd(&["slowlog", "get", "0"]))
    );
}
