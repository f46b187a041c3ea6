//! ACL users side by side with redis-server 7.0: rules and their ACL
//! GETUSER / LIST descriptions, refused commands, keys and channels (at the
//! top level, in MULTI and at EXEC), the ACL log, users losing their
//! clients, the ACL file and `user` lines, `rename-command`, and logging in
//! with redis-cli and the `redis` crate.

mod support;

use std::process::Command;

use support::{installed, parse_reply, Conn, Pair, Server};

/// ACL SETUSER's rules and how ACL GETUSER and ACL LIST describe the users
/// they make: byte for byte Redis's (each user differs from its categories
/// by at most one single command: Redis lists several in its hash order).
#[test]
fn rules_and_descriptions_match_redis() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    pair.run(&[
        &[
            "ACL", "SETUSER", "alice", "on", ">p1", "~app:*", "+@read", "+@write",
        ],
        &["ACL", "GETUSER", "alice"],
        &[
            "ACL", "SETUSER", "bob", "on", "nopass", "%R~r:*", "%W~w:*", "%RW~rw:*", "&chan*",
            "+get",
        ],
        &["ACL", "GETUSER", "bob"],
        &["ACL", "SETUSER", "carol", "reset"],
        &["ACL", "GETUSER", "carol"],
        &[
            "ACL",
            "SETUSER",
            "dave",
            "on",
            ">x",
            ">y",
            "<x",
            "allcommands",
            "-@dangerous",
        ],
        &[
            "ACL",
            "SETUSER",
            "eve",
            "(~a* +get)",
            "(",
            "+set",
            "~b*",
            ")",
            "allchannels",
        ],
        &["ACL", "GETUSER", "eve"],
        &[
            "ACL",
            "SETUSER",
            "eve",
            "clearselectors",
            "resetchannels",
            "&x",
        ],
        &[
            "ACL",
            "SETUSER",
            "frank",
            "on",
            "-@all",
            "+select|0",
            "+select|1",
        ],
        &[
            "ACL",
            "SETUSER",
            "gina",
            "on",
            "nopass",
            "+@all",
            "-client|kill",
        ],
        &["ACL", "SETUSER", "hank", "on", "-@all", "+client", "-@slow"],
        &[
            "ACL",
            "SETUSER",
            "ivan",
            "on",
            "+@all",
            "-@geo",
            "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
        ],
        &[
            "ACL",
            "SETUSER",
            "ivan",
            "!5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
            "skip-sanitize-payload",
        ],
        &[
            "ACL",
            "SETUSER",
            "judy",
            "on",
            "nopass",
            "~*",
            "resetkeys",
            "~k",
            "~k",
            "%R~k",
        ],
        &["ACL", "GETUSER", "judy"],
        &["ACL", "LIST"],
        &["ACL", "USERS"],
        &["ACL", "GETUSER", "nobody"],
        &["ACL", "DELUSER", "carol", "nobody"],
        &["ACL", "DELUSER", "default"],
        &["ACL", "USERS"],
        &["ACL", "CAT"],
        &["ACL", "CAT", "nosuch"],
        &["ACL", "GENPASS", "0"],
        &["ACL", "GENPASS", "4097"],
        &["ACL", "GENPASS", "x"],
        &["ACL", "LOAD"],
        &["ACL", "SAVE"],
        &["ACL", "WHOAMI"],
        &["ACL", "LOG", "x"],
        &["ACL", "HELP"],
        &["ACL", "NOSUCH"],
    ]);
    // Every rule error, in Redis's words; nothing of a refused SETUSER applies.
    for rule in [
        "+nosuchcommand",
        "-@nosuchcategory",
        "blah",
        "#abc",
        "!ABC",
        "<notapassword",
        "+client|kill|x",
        "+get|",
        "~a allkeys ~b",
        "allkeys ~b",
        "allchannels &b",
        "(~a",
        "(+get ~a",
        "~a b",
    ] {
        let mut args = vec!["ACL", "SETUSER", "bob"];
        args.extend(rule.split(' '));
        pair.check(&args);
    }
    pair.check(&["ACL", "SETUSER", "bad user"]);
    pair.check(&["ACL", "GETUSER", "bob"]);
    // Every category is described as Redis describes it: the same
    // categories in the same order, then the same single commands (in
    // Redis's hash order, which changes from run to run).
    let categories = pair.check(&["ACL", "CAT"]);
    for category in parse_reply(&categories).children() {
        let category = category.text();
        for rules in [
            ["+@all".to_string(), format!("-@{category}")],
            [format!("+@{category}"), "-@dangerous".to_string()],
        ] {
            let mut args = vec!["ACL", "SETUSER", "t", "reset"];
            args.extend(rules.iter().map(String::as_str));
            pair.check(&args);
            let (want, got) = pair.send(&["ACL", "GETUSER", "t"]);
            assert_eq!(command_rules(&got), command_rules(&want), "{rules:?}");
        }
    }
}

/// The `commands` field of an ACL GETUSER reply as redis-cli-less text:
/// the category rules in order, then the single-command rules sorted.
fn command_rules(getuser: &str) -> (Vec<String>, Vec<String>) {
    let reply = parse_reply(getuser.as_bytes());
    let fields: Vec<String> = reply.children().iter().map(|f| f.text()).collect();
    let rules = fields
        .chunks(2)
        .find(|kv| kv[0] == "commands")
        .map(|kv| kv[1].clone())
        .unwrap_or_default();
    let (categories, mut singles): (Vec<String>, Vec<String>) = rules
        .split(' ')
        .map(str::to_string)
        .partition(|r| r.starts_with("+@") || r.starts_with("-@"));
    singles.sort();
    (categories, singles)
}

/// The ACL log's entries with the parts that differ between two servers
/// (age, client-info) left out.
fn log_without_times(conn: &mut Conn) -> Vec<String> {
    let log = conn.cmd(&["ACL", "LOG"]);
    parse_reply(&log)
        .children()
        .iter()
        .map(|entry| {
            let fields: Vec<String> = entry.children().iter().map(|f| f.text()).collect();
            fields
                .chunks(2)
                .filter(|kv| kv[0] != "age-seconds" && kv[0] != "client-info")
                .map(|kv| format!("{}={}", kv[0], kv[1]))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// A restricted user's session: refused commands, keys and channels, in and
/// out of MULTI, rules changed between queueing and EXEC, and the log.
#[test]
fn refusals_and_the_acl_log_match_redis() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let mut admin_want = Conn::connect(pair.want_port());
    let mut admin_got = Conn::connect(pair.got_port());
    let admin = |want: &mut Conn, got: &mut Conn, args: &[&str]| {
        assert_eq!(got.cmd_str(args), want.cmd_str(args), "{args:?}");
    };
    admin(
        &mut admin_want,
        &mut admin_got,
        &[
            "ACL",
            "SETUSER",
            "u1",
            "on",
            ">pw",
            "~app:*",
            "%R~ro:*",
            "%W~wo:*",
            "&news*",
            "+@read",
            "+@write",
            "+@pubsub",
            "+multi",
            "+exec",
            "+acl|whoami",
            "+select|0",
            "(+config|get ~cfg)",
        ],
    );
    pair.run(&[
        &["AUTH", "u1", "wrong"],
        &["AUTH", "nosuchuser", "pw"],
        &["AUTH", "u1", "pw"],
        &["ACL", "WHOAMI"],
        &["SET", "app:1", "v"],
        &["GET", "app:1"],
        &["SET", "other", "v"],
        &["GET", "ro:1"],
        &["SET", "ro:1", "x"],
        &["SET", "wo:1", "x"],
        &["GET", "wo:1"],
        &["GETSET", "wo:1", "y"],
        &["COPY", "ro:1", "wo:2"],
        &["MSET", "app:1", "a", "other", "b"],
        // SORT's BY and GET patterns need every key readable.
        &["RPUSH", "app:l", "3", "1", "2"],
        &["SORT", "app:l"],
        &["SORT", "app:l", "BY", "nosort"],
        &["SORT", "app:l", "BY", "app:w_*"],
        &["SORT", "app:l", "GET", "#"],
        &["SORT_RO", "app:l", "GET", "app:*"],
        &["SELECT", "0"],
        &["SELECT", "1"],
        &["CONFIG", "GET", "maxmemory"],
        &["CONFIG", "SET", "maxmemory", "0"],
        &["PUBLISH", "news1", "hi"],
        &["PUBLISH", "sports", "hi"],
        &["SPUBLISH", "sports", "hi"],
        &["FLUSHALL"],
        &["ACL", "LIST"],
        &["MULTI"],
        &["SET", "app:2", "x"],
        &["SET", "bad", "x"],
        &["EXEC"],
        &["MULTI"],
        &["SET", "app:3", "y"],
        &["GET", "app:3"],
    ]);
    // The rules change while the transaction is queued.
    admin(
        &mut admin_want,
        &mut admin_got,
        &["ACL", "SETUSER", "u1", "-get", "resetkeys", "~app:3"],
    );
    pair.run(&[&["EXEC"], &["SUBSCRIBE", "news", "sports"]]);
    assert_eq!(
        log_without_times(&mut admin_got),
        log_without_times(&mut admin_want)
    );
    let log = String::from_utf8_lossy(&admin_got.cmd(&["ACL", "LOG", "1"])).into_owned();
    assert!(
        log.contains("client-info") && log.contains("user=u1"),
        "{log}"
    );
    admin(&mut admin_want, &mut admin_got, &["ACL", "LOG", "RESET"]);
    admin(&mut admin_want, &mut admin_got, &["ACL", "LOG"]);
    // DRYRUN answers what the user would get, without running anything.
    for args in [
        &["ACL", "DRYRUN", "u1", "get", "app:3"][..],
        &["ACL", "DRYRUN", "u1", "get", "x"],
        &["ACL", "DRYRUN", "u1", "set", "app:3", "v"],
        &["ACL", "DRYRUN", "u1", "set", "x", "v"],
        &["ACL", "DRYRUN", "u1", "publish", "nope", "m"],
        &["ACL", "DRYRUN", "u1", "config", "get", "x"],
        &["ACL", "DRYRUN", "u1", "client", "id"],
        &["ACL", "DRYRUN", "u1", "get"],
        &["ACL", "DRYRUN", "u1", "nosuchcommand"],
        &["ACL", "DRYRUN", "nobody", "get", "x"],
    ] {
        admin(&mut admin_want, &mut admin_got, args);
    }
}

fn closed(conn: &mut Conn) -> bool {
    conn.closed_by_server()
}

/// Deleting a user closes its connections (the caller's own after the
/// reply); revoking a subscriber's channels closes it; ACL LOAD closes
/// every non-default user's clients; CLIENT LIST shows `user=` and CLIENT
/// KILL USER picks by it.
#[test]
fn users_lose_their_clients_as_in_redis() {
    let server = Server::start();
    let mut admin = server.connect();
    admin.cmd(&["ACL", "SETUSER", "bob", "on", ">pw", "~*", "&*", "+@all"]);
    let mut bob = server.connect();
    assert_eq!(bob.cmd(&["AUTH", "bob", "pw"]), b"+OK\r\n");
    let mut bystander = server.connect();
    let list = admin.cmd_str(&["CLIENT", "LIST"]);
    assert!(
        list.contains("user=bob") && list.contains("user=default"),
        "{list}"
    );
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "USER", "nobody"]),
        b"-ERR No such user 'nobody'\r\n"
    );
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "USER", "bob"]), b":1\r\n");
    assert!(closed(&mut bob));
    assert!(!closed(&mut bystander), "the default user's clients stay");

    let mut bob = server.connect();
    bob.cmd(&["AUTH", "bob", "pw"]);
    assert_eq!(admin.cmd(&["ACL", "DELUSER", "bob"]), b":1\r\n");
    assert!(closed(&mut bob));

    // A user deleting itself gets its reply, then the connection closes.
    admin.cmd(&["ACL", "SETUSER", "self", "on", "nopass", "+@all"]);
    let mut me = server.connect();
    me.cmd(&["AUTH", "self", "x"]);
    assert_eq!(me.cmd(&["ACL", "DELUSER", "self"]), b":1\r\n");
    assert!(closed(&mut me));

    // A subscriber whose channel is revoked is closed; one whose channel
    // stays is not.
    admin.cmd(&[
        "ACL",
        "SETUSER",
        "sub",
        "on",
        "nopass",
        "+@all",
        "resetchannels",
        "&a",
        "&b",
    ]);
    let mut on_a = server.connect();
    on_a.cmd(&["AUTH", "sub", "x"]);
    on_a.cmd(&["SUBSCRIBE", "a"]);
    let mut on_b = server.connect();
    on_b.cmd(&["AUTH", "sub", "x"]);
    on_b.cmd(&["SUBSCRIBE", "b"]);
    admin.cmd(&["ACL", "SETUSER", "sub", "resetchannels", "&b"]);
    assert!(closed(&mut on_a));
    assert!(!closed(&mut on_b), "its channel is still allowed");
    assert_eq!(
        admin.cmd(&["PUBLISH", "b", "still here"]),
        b":1\r\n",
        "the subscriber of b stays"
    );
}

/// Disabling the default user or giving it a password makes new clients
/// authenticate, and `requirepass` is the default user's password.
#[test]
fn the_default_user_and_requirepass() {
    let Some(mut pair) = Pair::with_args(&["--requirepass", "sec"]) else {
        return;
    };
    pair.run(&[
        &["GET", "x"],
        &["AUTH", "sec"],
        &["ACL", "GETUSER", "default"],
        &["CONFIG", "SET", "requirepass", "other"],
        &["ACL", "LIST"],
        &["ACL", "SETUSER", "default", "nopass"],
        &["CONFIG", "GET", "requirepass"],
        &["ACL", "SETUSER", "default", "off"],
    ]);
    let (want, got) = (pair.want_port(), pair.got_port());
    for port in [want, got] {
        let mut fresh = Conn::connect(port);
        assert_eq!(
            fresh.cmd(&["GET", "x"]),
            b"-NOAUTH Authentication required.\r\n"
        );
        assert_eq!(
            fresh.cmd(&["AUTH", "default", "anything"]),
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
    }
}

/// `aclfile`: loaded at start-up, ACL SAVE writes it, ACL LOAD reads it back
/// all or nothing; `user` lines in the config file; both at once is refused.
#[test]
fn acl_file_and_config_users() {
    let dir = support::server_dir();
    let file = format!("{dir}/users.acl");
    std::fs::write(
        &file,
        "user alice on >pw ~a:* +get\nuser bob on nopass (+set %W~w*) (+get %R~r*)\n",
    )
    .expect("write acl file");
    let server = Server::start_with(&["--dir", &dir, "--aclfile", "users.acl"]);
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd_str(&["ACL", "LIST"]),
        "*3\r\n$109\r\nuser alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~a:* resetchannels -@all +get\r\n$104\r\nuser bob on nopass resetchannels -@all (%W~w* resetchannels -@all +set) (%R~r* resetchannels -@all +get)\r\n$34\r\nuser default on nopass ~* &* +@all\r\n"
    );
    conn.cmd(&["ACL", "SETUSER", "carol", "on", "nopass", "+@read"]);
    assert_eq!(conn.cmd(&["ACL", "SAVE"]), b"+OK\r\n");
    let saved = std::fs::read_to_string(&file).expect("saved");
    assert!(
        saved.contains("user carol on nopass resetchannels -@all +@read\n"),
        "{saved}"
    );
    // A bad file changes nothing.
    std::fs::write(&file, "user x on +nosuch\nuser y on ~a allkeys ~b\nhello\n").expect("write");
    let error = conn.cmd_str(&["ACL", "LOAD"]);
    assert_eq!(
        error,
        "-ERR users.acl:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. users.acl:2: Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns. users.acl:3 should start with user keyword followed by the username. WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n"
    );
    std::fs::write(&file, "user zed on nopass +ping\n").expect("write");
    assert_eq!(conn.cmd(&["ACL", "LOAD"]), b"+OK\r\n");
    assert_eq!(
        conn.cmd_str(&["ACL", "USERS"]),
        "*2\r\n$7\r\ndefault\r\n$3\r\nzed\r\n"
    );

    // `user` lines in the config file.
    let conf = format!("{dir}/users.conf");
    std::fs::write(
        &conf,
        "user default on >sec ~* &* +@all\nuser ro on nopass ~* +@read\n",
    )
    .expect("write conf");
    let configured = Server::start_with(&[&conf]);
    let mut conn = configured.connect();
    assert_eq!(
        conn.cmd(&["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(conn.cmd(&["AUTH", "ro", "x"]), b"+OK\r\n");
    assert_eq!(
        conn.cmd(&["SET", "k", "v"]),
        b"-NOPERM this user has no permissions to run the 'set' command\r\n"
    );
    // A bad rule stops start-up while the file is read, in Redis's words
    // (which name the line's argument at the rule's index).
    let bad = format!("{dir}/bad.conf");
    std::fs::write(&bad, "user bob on blah\n").expect("write conf");
    let out = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
        .args([&bad, "--port", "0", "--dir", &dir])
        .output()
        .expect("run reddish-server");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(">>> 'user bob on blah'\nError in user declaration 'bob': Syntax error"),
        "{text}"
    );
    // Both an ACL file and `user` lines: start-up is refused, as Redis.
    let out = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
        .args([
            &conf,
            "--port",
            "0",
            "--dir",
            &dir,
            "--aclfile",
            "users.acl",
        ])
        .output()
        .expect("run reddish-server");
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("please define either an ACL file or declare users directly in your redis.conf, but not both"), "{log}");
}

/// `rename-command`: the old name is gone, the new one runs the command;
/// an unknown command or a taken name stops start-up with Redis's message.
#[test]
fn rename_command_in_the_config_file() {
    let dir = support::server_dir();
    let conf = format!("{dir}/rename.conf");
    std::fs::write(
        &conf,
        "rename-command flushall \"\"\nrename-command get fetch\n",
    )
    .expect("write");
    let server = Server::start_with(&[&conf]);
    let mut conn = server.connect();
    conn.cmd(&["SET", "k", "v"]);
    assert_eq!(
        conn.cmd(&["FLUSHALL"]),
        b"-ERR unknown command 'FLUSHALL', with args beginning with: \r\n"
    );
    assert!(conn
        .cmd_str(&["GET", "k"])
        .starts_with("-ERR unknown command 'GET'"));
    assert_eq!(conn.cmd(&["FETCH", "k"]), b"$1\r\nv\r\n");
    // ACL rules still use the original names.
    assert_eq!(
        conn.cmd(&["ACL", "SETUSER", "u", "+get", "-flushall"]),
        b"+OK\r\n"
    );
    std::fs::write(&conf, "rename-command nosuch x\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
        .args([&conf, "--port", "0", "--dir", &dir])
        .output()
        .expect("run reddish-server");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("No such command in rename-command"), "{text}");
}

/// redis-cli --user/--pass and the `redis` crate log in as ACL users.
#[test]
fn redis_cli_and_the_redis_crate_log_in_as_users() {
    let server = Server::start();
    let mut admin = server.connect();
    admin.cmd(&[
        "ACL",
        "SETUSER",
        "app",
        "on",
        ">s3cret",
        "~app:*",
        "+@read",
        "+@write",
        "+acl|whoami",
    ]);
    let port = server.port.to_string();
    if installed("redis-cli", "redis-cli --user") {
        let run = |args: &[&str]| {
            let out = Command::new("redis-cli")
                .args([
                    "-p",
                    &port,
                    "--no-auth-warning",
                    "--user",
                    "app",
                    "--pass",
                    "s3cret",
                ])
                .args(args)
                .output()
                .expect("run redis-cli");
            String::from_utf8_lossy(&[out.stdout, out.stderr].concat())
                .trim()
                .to_string()
        };
        assert_eq!(run(&["ACL", "WHOAMI"]), "app");
        assert_eq!(run(&["SET", "app:1", "v"]), "OK");
        assert_eq!(
            run(&["SET", "other", "v"]),
            "NOPERM this user has no permissions to access one of the keys used as arguments"
        );
    }
    let client = redis::Client::open(format!("redis://app:s3cret@127.0.0.1:{port}/")).expect("url");
    let mut conn = client.get_connection().expect("connect as app");
    let () = redis::cmd("SET")
        .arg("app:2")
        .arg("x")
        .query(&mut conn)
        .expect("SET");
    let denied: redis::RedisResult<()> = redis::cmd("SET").arg("nope").arg("x").query(&mut conn);
    let error = denied.expect_err("NOPERM");
    assert_eq!(error.code(), Some("NOPERM"));
    let bad = redis::Client::open(format!("redis://app:wrong@127.0.0.1:{port}/")).expect("url");
    assert!(bad.get_connection().is_err());
}
