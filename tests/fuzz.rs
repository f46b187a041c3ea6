//! Property-based fuzzing of what reads client and file bytes: the request
//! parser (RESP multibulk and inline) and the config-file parser. Any input,
//! cut into any reads, must give requests or a protocol error, never a
//! panic, and the same ones however it was cut; the config loader must
//! answer every text with a Config or an error. Bounded: a few thousand
//! cases, a few seconds.

use bytes::{Buf, BytesMut};
use proptest::prelude::*;

use reddish::config::Config;
use reddish::protocol::request::{Limits, RequestParser};

const LIMITS: Limits = Limits {
    max_bulk_len: 512 * 1024 * 1024,
    unauthenticated: false,
};

/// Each request's arguments, then the error that ended the input (if
/// any), and the bytes left unparsed.
type Parsed = (Vec<Vec<Vec<u8>>>, Option<Vec<u8>>, usize);

/// What parsing `input` delivered in reads cut at `cuts`.
fn parse_in_reads(input: &[u8], cuts: &[usize]) -> Parsed {
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(input.len());
    points.sort_unstable();
    let mut fed = 0;
    for point in points {
        buf.extend_from_slice(&input[fed..point.max(fed)]);
        fed = point.max(fed);
        loop {
            match parser.parse(&mut buf, LIMITS) {
                Ok(Some(request)) => {
                    let args = parser.args(&request, &buf);
                    // Arguments are slices of what arrived: never more.
                    let total: usize = args.iter().map(|a| a.len()).sum();
                    assert!(total <= fed);
                    requests.push(args.iter().map(|a| a.to_vec()).collect());
                    drop(args);
                    buf.advance(request.len);
                }
                Ok(None) => break,
                Err(e) => return (requests, Some(e.0), buf.len()),
            }
        }
    }
    (requests, None, buf.len())
}

/// Requests that look like what clients send, with damage: RESP frames of
/// random arguments, inline lines, and random bytes spliced in.
fn requestish() -> impl Strategy<Value = Vec<u8>> {
    let arg = prop::collection::vec(any::<u8>(), 0..40);
    let frame = prop::collection::vec(arg, 0..6).prop_map(|args| {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(&a);
            out.extend_from_slice(b"\r\n");
        }
        out
    });
    let inline = "[a-zA-Z0-9 \"'\\\\{}]{0,60}\r?\n".prop_map(String::into_bytes);
    let noise = prop::collection::vec(any::<u8>(), 0..30);
    let header = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"*-1\r\n".to_vec()),
        Just(b"*1048577\r\n".to_vec()),
        Just(b"$536870913\r\n".to_vec()),
        Just(b"*3\r\n$3\r\nSET\r\n$99999999\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\0".to_vec()),
    ];
    let part = prop_oneof![4 => frame, 2 => inline, 1 => noise, 1 => header];
    prop::collection::vec(part, 0..8).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_request_parser_never_panics_and_ignores_how_reads_are_cut(
        input in requestish(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let (requests, error, left) = parse_in_reads(&input, &[]);
        let (cut_requests, cut_error, cut_left) = parse_in_reads(&input, &cuts);
        prop_assert_eq!(requests, cut_requests);
        // After an error the connection closes: what was left unread then
        // depends on how much had arrived.
        prop_assert_eq!(&error, &cut_error);
        if error.is_none() {
            prop_assert_eq!(left, cut_left);
        }
    }

    #[test]
    fn random_bytes_give_requests_or_a_protocol_error(
        input in prop::collection::vec(any::<u8>(), 0..512),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let (requests, error, _) = parse_in_reads(&input, &cuts);
        let args: usize = requests.iter().map(Vec::len).sum();
        prop_assert!(args <= input.len());
        if let Some(error) = error {
            prop_assert!(!error.is_empty());
        }
    }
}

/// Config text built from real directive names with random values, plus
/// random lines.
fn config_text() -> impl Strategy<Value = Vec<u8>> {
    let names = prop::sample::select(vec![
        "maxmemory",
        "maxmemory-policy",
        "maxmemory-samples",
        "maxmemory-eviction-tenacity",
        "client-output-buffer-limit",
        "client-query-buffer-limit",
        "maxclients",
        "save",
        "bind",
        "port",
        "hz",
        "notify-keyspace-events",
        "lfu-log-factor",
        "latency-tracking-info-percentiles",
        "oom-score-adj-values",
        "rename-command",
        "user",
        "loglevel",
        "tcp-keepalive",
        "appendonly",
        "databases",
        "replicaof",
        "nonsense-directive",
    ]);
    let value = prop_oneof![
        "[0-9]{0,12}[kmgb]{0,2}",
        "-?[0-9]{1,20}",
        "[a-z-]{0,15}",
        "\"[^\"\n]{0,20}\"?",
        "'[^'\n]{0,20}'?",
        "[ -~]{0,30}",
    ];
    let line = prop_oneof![
        4 => (names, prop::collection::vec(value, 0..5))
            .prop_map(|(n, vs)| format!("{n} {}\n", vs.join(" ")).into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..40),
        1 => Just(b"# a comment\n".to_vec()),
    ];
    prop::collection::vec(line, 0..10).prop_map(|lines| lines.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_config_file_parser_answers_every_text(text in config_text()) {
        // `include` would read other files: not what is fuzzed here.
        prop_assume!(!text.windows(7).any(|w| w.eq_ignore_ascii_case(b"include")));
        let dir = std::env::temp_dir().join(format!("reddish-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("fuzz.conf");
        std::fs::write(&path, &text).expect("write config");
        match Config::load(Some(&path), None, "") {
            Ok(config) => {
                // What loaded reads back.
                let _ = config.get(&[b"*"]);
            }
            Err(message) => prop_assert!(!message.is_empty()),
        }
    }
}
