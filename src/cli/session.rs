//! The state redis-cli keeps between commands (connection, database, MULTI,
//! protocol) and its three ways of running: one command, stdin lines, REPL.
//! Control flow mirrors redis-cli 7.0's `cliConnect`, `issueCommandRepeat`,
//! `cliSendCommand` and `repl`, so messages and exit codes match.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use bytes::BytesMut;
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

use super::connection::{describe, Connection};
use super::format::{self, Output};
use crate::number::parse_i64;
use crate::protocol::inline::split_args;
use crate::protocol::{encode_json, Reply};

/// What the command line asked for.
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub user: Option<Vec<u8>>,
    pub password: Option<Vec<u8>>,
    /// The database to be in: restored with SELECT on every (re)connection.
    pub db: i64,
    /// Whether to speak RESP3: restored with HELLO 3 on every (re)connection.
    pub resp3: bool,
    pub output: Output,
    /// `-e`: a one-shot command's error reply goes to stderr, exit status 1.
    pub errcode: bool,
    /// Print out-of-band RESP3 pushes (on by default on a terminal).
    pub show_pushes: bool,
}

pub struct Session {
    settings: Settings,
    conn: Option<Connection>,
    /// The database selected on the current connection (for the prompt).
    db: i64,
    in_multi: bool,
    pre_multi_db: i64,
}

/// Commands whose replies keep arriving after the first one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Streaming {
    No,
    /// SUBSCRIBE and friends: messages until an error reply.
    Pubsub,
    /// MONITOR: every command the server runs, until the connection ends.
    Monitor,
}

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes to stdout; a closed stdout (`reddish-cli KEYS '*' | head -1`)
/// ends the process quietly instead of panicking, as SIGPIPE ends redis-cli.
fn emit(bytes: &[u8]) {
    let mut stdout = io::stdout().lock();
    if stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(1);
    }
}

/// Replies printed raw even in the human format, because they are text meant
/// to be read as is (redis-cli's `output_raw` list).
fn prints_raw(cmd: &[Vec<u8>]) -> bool {
    let (name, argc) = (cmd[0].as_slice(), cmd.len());
    let sub = |words: &[&str]| argc >= 2 && words.iter().any(|w| is(&cmd[1], w));
    is(name, "info")
        || is(name, "lolwut")
        || (is(name, "debug") && sub(&["htstats", "htstats-key"]))
        || (is(name, "memory") && sub(&["malloc-stats", "doctor"]))
        || (is(name, "cluster") && argc == 2 && sub(&["nodes", "info"]))
        || (is(name, "client") && sub(&["list", "info"]))
        || (is(name, "latency") && argc == 3 && sub(&["graph"]))
        || (is(name, "latency") && argc == 2 && sub(&["doctor"]))
        || (is(name, "proxy") && sub(&["info"]))
}

/// Lines carrying passwords stay out of the history file (redis-cli's
/// `isSensitiveCommand`).
fn is_sensitive(cmd: &[Vec<u8>]) -> bool {
    let Some(name) = cmd.first() else {
        return false;
    };
    let has = |from: usize, words: &[&str]| {
        cmd.iter()
            .skip(from)
            .any(|a| words.iter().any(|w| is(a, w)))
    };
    is(name, "auth")
        || (cmd.len() > 1 && is(name, "acl") && is(&cmd[1], "setuser"))
        || (cmd.len() > 2
            && is(name, "config")
            && is(&cmd[1], "set")
            && has(2, &["masterauth", "masteruser", "requirepass"]))
        || (is(name, "hello") && has(2, &["auth"]))
        || (is(name, "migrate") && has(6, &["auth", "auth2"]))
}

/// The command line as it would be typed, for the `command` field of JSON
/// output in one-shot mode: arguments that would not survive splitting are
/// quoted the way redis-cli shows strings.
fn typed_form(cmd: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, arg) in cmd.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let plain = !arg.is_empty()
            && arg
                .iter()
                .all(|&b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\'));
        if plain {
            out.extend_from_slice(arg);
        } else {
            format::repr(arg, &mut out);
        }
    }
    out
}

/// redis-cli's `N command` repeat prefix, checked as its `strtol` does.
enum Repeat {
    Once,
    Times(u64),
    Invalid,
}

fn repeat_prefix(args: &[Vec<u8>]) -> Repeat {
    if args.len() < 2 {
        return Repeat::Once;
    }
    let first = &args[0];
    let spaces = first
        .iter()
        .take_while(|&&b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count();
    let body = &first[spaces..];
    let (negative, digits) = match body.first() {
        Some(b'+') => (false, &body[1..]),
        Some(b'-') => (true, &body[1..]),
        _ => (false, body),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        // strtol stops at once: only an empty word reads as the number 0.
        return if first.is_empty() {
            Repeat::Invalid
        } else {
            Repeat::Once
        };
    }
    let value = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<u64>().ok());
    match value {
        Some(n) if !negative && n > 0 && n <= i64::MAX as u64 => Repeat::Times(n),
        _ => Repeat::Invalid,
    }
}

impl Session {
    pub fn new(settings: Settings) -> Session {
        Session {
            settings,
            conn: None,
            db: 0,
            in_multi: false,
            pre_multi_db: 0,
        }
    }

    /// `anetFormatAddr`: IPv6 hosts in brackets.
    fn addr(&self) -> String {
        let Settings { host, port, .. } = &self.settings;
        if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }

    fn prompt(&self) -> String {
        if self.conn.is_none() {
            return "not connected> ".into();
        }
        let mut prompt = self.addr();
        if self.db != 0 {
            prompt.push_str(&format!("[{}]", self.db));
        }
        if self.in_multi {
            prompt.push_str("(TX)");
        }
        prompt.push_str("> ");
        prompt
    }

    /// `cliConnect`: a fresh connection, then AUTH, SELECT and HELLO 3 as
    /// configured. True when all of it worked; a failed step is reported and
    /// ends the set-up, but the connection is kept, as redis-cli does.
    fn connect(&mut self, quiet: bool) -> bool {
        self.conn = None;
        self.db = 0;
        self.in_multi = false;
        match Connection::open(&self.settings.host, self.settings.port) {
            Ok(conn) => self.conn = Some(conn),
            Err(e) => {
                if !quiet {
                    eprintln!(
                        "Could not connect to Redis at {}:{}: {}",
                        self.settings.host,
                        self.settings.port,
                        describe(&e)
                    );
                }
                return false;
            }
        }
        if let Some(password) = self.settings.password.clone() {
            let mut auth = vec![b"AUTH".to_vec()];
            auth.extend(self.settings.user.clone());
            auth.push(password);
            if !self.setup(&auth, "AUTH") {
                return false;
            }
        }
        if !self.select_wanted_db() {
            return false;
        }
        !self.settings.resp3 || self.setup(&[b"HELLO".to_vec(), b"3".to_vec()], "HELLO 3")
    }

    /// `cliSelect`: SELECT the wanted database if we are not in it.
    fn select_wanted_db(&mut self) -> bool {
        let want = self.settings.db;
        if want == self.db {
            return true;
        }
        let ok = self.setup(
            &[b"SELECT".to_vec(), want.to_string().into_bytes()],
            &format!("SELECT {want}"),
        );
        if ok {
            self.db = want;
        }
        ok
    }

    /// Runs one set-up command silently; reports `<what> failed: <error>`.
    fn setup(&mut self, cmd: &[Vec<u8>], what: &str) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        match conn.call(cmd) {
            Ok(Reply::Error(text)) => {
                eprintln!("{what} failed: {}", lossy(format::c_str(&text)));
                false
            }
            Ok(_) => true,
            Err(_) => {
                eprintln!("\nI/O error");
                self.conn = None;
                false
            }
        }
    }

    /// `reddish-cli SET a b`: exit status 1 when the command could not be
    /// run (or, with `-e`, when it failed).
    pub fn one_shot(&mut self, cmd: &[Vec<u8>]) -> ExitCode {
        // Quiet: the message comes from the retry in `issue`, printed once.
        self.connect(true);
        if self.issue(cmd, &typed_form(cmd), 1, false) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    /// Commands from a pipe, one per line, like redis-cli's REPL without a
    /// terminal: no prompt, errors reported and skipped, exit status 0.
    pub fn read_stdin(&mut self) -> ExitCode {
        self.connect(false);
        let mut stdin = io::stdin().lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    eprintln!("Error reading standard input: {e}");
                    return ExitCode::FAILURE;
                }
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if self.run_line(&line).quit {
                break;
            }
        }
        ExitCode::SUCCESS
    }

    /// The REPL: line editing, history in `~/.reddish_cli_history`, redis-cli's
    /// prompt (`not connected> ` while the server is away; every command
    /// retries the connection). Ctrl-C or Ctrl-D at the prompt leaves.
    pub fn interactive(&mut self) -> ExitCode {
        self.connect(false);
        let mut editor = match DefaultEditor::new() {
            Ok(editor) => editor,
            Err(e) => {
                eprintln!("Cannot start line editing: {e}");
                return ExitCode::FAILURE;
            }
        };
        let history: Option<PathBuf> =
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".reddish_cli_history"));
        if let Some(path) = &history {
            // A missing history file is the normal first run.
            let _ = editor.load_history(path);
        }
        loop {
            let line = match editor.readline(&self.prompt()) {
                Ok(line) => line,
                Err(ReadlineError::Interrupted | ReadlineError::Eof) => return ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("Error reading the command line: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let outcome = self.run_line(line.as_bytes());
            if outcome.record {
                let _ = editor.add_history_entry(line.as_str());
                if let Some(path) = &history {
                    // History is a convenience: a read-only home must not stop the REPL.
                    let _ = editor.save_history(path);
                }
            }
            if outcome.quit {
                return ExitCode::SUCCESS;
            }
        }
    }

    /// One line of the REPL (or of stdin): redis-cli's `repl()` loop body.
    fn run_line(&mut self, line: &[u8]) -> LineOutcome {
        let Some(args) = split_args(line) else {
            emit(b"Invalid argument(s)\n");
            return LineOutcome {
                record: true,
                quit: false,
            };
        };
        if args.is_empty() {
            return LineOutcome {
                record: false,
                quit: false,
            };
        }
        let (cmd, repeat) = match repeat_prefix(&args) {
            Repeat::Once => (&args[..], 1),
            Repeat::Times(n) => (&args[1..], n),
            Repeat::Invalid => {
                emit(b"Invalid redis-cli repeat command option value.\n");
                return LineOutcome {
                    record: false,
                    quit: false,
                };
            }
        };
        let record = !is_sensitive(cmd);
        if is(&args[0], "quit") || is(&args[0], "exit") {
            return LineOutcome { record, quit: true };
        }
        if args.len() == 3 && is(&args[0], "connect") {
            self.settings.host = lossy(&args[1]);
            self.settings.port = std::str::from_utf8(&args[2])
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            self.connect(false);
        } else if args.len() == 1 && is(&args[0], "clear") {
            emit(b"\x1b[H\x1b[2J");
        } else {
            let start = Instant::now();
            self.issue(cmd, line, repeat, true);
            let elapsed = start.elapsed();
            if elapsed.as_millis() >= 500 && self.settings.output == Output::Human {
                emit(format!("({:.2}s)\n", elapsed.as_secs_f64()).as_bytes());
            }
        }
        LineOutcome {
            record,
            quit: false,
        }
    }

    /// `issueCommandRepeat`: (re)connects if needed, then runs `cmd`
    /// `repeat` times. `typed` is the command as the user wrote it (JSON's
    /// `command` field). False when the command could not be run.
    fn issue(&mut self, cmd: &[Vec<u8>], typed: &[u8], repeat: u64, interactive: bool) -> bool {
        if self.conn.is_none() && !self.connect(false) {
            return false;
        }
        (0..repeat).all(|_| self.run(cmd, typed, interactive))
    }

    /// Sends `cmd` once and prints its reply (or replies, for SUBSCRIBE and
    /// MONITOR). A broken connection is reported and dropped; the next
    /// command reconnects.
    fn run(&mut self, cmd: &[Vec<u8>], typed: &[u8], interactive: bool) -> bool {
        let streaming = if ["subscribe", "psubscribe", "ssubscribe"]
            .iter()
            .any(|w| is(&cmd[0], w))
        {
            Streaming::Pubsub
        } else if is(&cmd[0], "monitor") {
            Streaming::Monitor
        } else {
            Streaming::No
        };
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        if let Err(e) = conn.send(cmd) {
            return self.lost(&e);
        }
        if streaming == Streaming::Pubsub && self.settings.output == Output::Human {
            emit(b"Reading messages... (press Ctrl-C to quit)\n");
        }
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return false;
            };
            let reply = match conn.read_reply() {
                Ok(reply) => reply,
                Err(e) => return self.lost(&e),
            };
            if let (Reply::Push(items), Streaming::No) = (&reply, streaming) {
                if self.settings.show_pushes {
                    self.print_push(typed, &reply, items);
                }
                continue;
            }
            self.track_state(cmd, &reply);
            if let (Reply::Error(text), true, false) = (&reply, self.settings.errcode, interactive)
            {
                eprintln!("{}", lossy(format::c_str(text)));
                return false;
            }
            self.print(typed, &reply, prints_raw(cmd));
            match streaming {
                Streaming::No => return true,
                Streaming::Pubsub if reply.is_error() => return true,
                _ => {}
            }
        }
    }

    /// The connection failed mid-command: say so like redis-cli and forget it.
    fn lost(&mut self, e: &io::Error) -> bool {
        eprintln!("Error: {}", describe(e));
        self.conn = None;
        false
    }

    /// Prints one reply; `as_text` for the replies redis-cli shows raw even
    /// in the human format (see [`prints_raw`]).
    fn print(&self, typed: &[u8], reply: &Reply, as_text: bool) {
        let mut out = Vec::new();
        match self.settings.output {
            Output::Json => {
                let mut json = BytesMut::new();
                encode_json(typed, reply, &mut json);
                out.extend_from_slice(&json);
            }
            // Text meant to be read as is: no quoting, and no extra newline.
            _ if as_text => format::raw(reply, &mut out),
            Output::Human => format::human(reply, &mut out),
            Output::Raw => {
                format::raw(reply, &mut out);
                out.push(b'\n');
            }
        }
        emit(&out);
    }

    /// An out-of-band push (client tracking, RESP3 pub/sub) that arrived
    /// while we waited for a reply: printed, like redis-cli's push handler.
    fn print_push(&self, typed: &[u8], push: &Reply, items: &[Reply]) {
        let special = match self.settings.output {
            Output::Human => format::invalidate_line(items),
            _ => None,
        };
        match special {
            Some(line) => emit(&line),
            None => self.print(typed, push, false),
        }
    }

    /// What redis-cli remembers from replies: the database for the prompt
    /// and reconnection, MULTI's `(TX)`, the protocol HELLO switched to.
    fn track_state(&mut self, cmd: &[Vec<u8>], reply: &Reply) {
        let (name, argc, failed) = (cmd[0].as_slice(), cmd.len(), reply.is_error());
        if is(name, "select") && argc == 2 && !failed {
            if let Some(db) = parse_i64(&cmd[1]) {
                self.settings.db = db;
                self.db = db;
            }
        } else if is(name, "auth") && (argc == 2 || argc == 3) {
            self.select_wanted_db();
        } else if is(name, "multi") && argc == 1 && !failed {
            self.in_multi = true;
            self.pre_multi_db = self.db;
        } else if is(name, "exec") && argc == 1 && self.in_multi {
            self.in_multi = false;
            if failed || matches!(reply, Reply::Null | Reply::NullArray) {
                self.settings.db = self.pre_multi_db;
                self.db = self.pre_multi_db;
            }
        } else if is(name, "discard") && argc == 1 && !failed {
            self.in_multi = false;
            self.settings.db = self.pre_multi_db;
            self.db = self.pre_multi_db;
        } else if is(name, "reset") && argc == 1 && !failed {
            self.in_multi = false;
            self.settings.db = 0;
            self.db = 0;
            self.settings.resp3 = false;
        } else if is(name, "hello") {
            match reply {
                Reply::Map(_) => self.settings.resp3 = true,
                Reply::Array(_) => self.settings.resp3 = false,
                _ => {}
            }
        }
    }
}

struct LineOutcome {
    /// Whether the line goes into the history.
    record: bool,
    /// `quit` or `exit`: leave without sending anything.
    quit: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<Vec<u8>> {
        split_args(line.as_bytes()).unwrap_or_default()
    }

    #[test]
    fn repeat_prefix_follows_strtol() {
        let times = |line: &str| match repeat_prefix(&args(line)) {
            Repeat::Once => Some(1),
            Repeat::Times(n) => Some(n),
            Repeat::Invalid => None,
        };
        assert_eq!(times("PING"), Some(1));
        assert_eq!(times("3 PING"), Some(3));
        assert_eq!(times("+3 PING"), Some(3));
        assert_eq!(times("\" 3\" PING"), Some(3));
        assert_eq!(times("007 PING"), Some(7));
        assert_eq!(times("3"), Some(1));
        assert_eq!(times("0 PING"), None);
        assert_eq!(times("-2 PING"), None);
        assert_eq!(times("\"\" PING"), None);
        assert_eq!(times("99999999999999999999 PING"), None);
        assert_eq!(times("3x PING"), Some(1));
        assert_eq!(times("+ PING"), Some(1));
        assert_eq!(times("- PING"), Some(1));
    }

    #[test]
    fn sensitive_lines() {
        assert!(is_sensitive(&args("auth secret")));
        assert!(is_sensitive(&args("ACL SETUSER bob on >pw")));
        assert!(is_sensitive(&args("config set requirepass x")));
        assert!(is_sensitive(&args("HELLO 3 AUTH default pw")));
        assert!(is_sensitive(&args("MIGRATE h 1 k 0 10 AUTH pw")));
        assert!(!is_sensitive(&args("SET auth x")));
        assert!(!is_sensitive(&args("config get requirepass")));
    }

    #[test]
    fn typed_form_round_trips_through_split_args() {
        let cmd = vec![
            b"SET".to_vec(),
            b"a b".to_vec(),
            b"".to_vec(),
            b"q\"'\\".to_vec(),
            b"\xff\n".to_vec(),
            b"plain".to_vec(),
        ];
        let typed = typed_form(&cmd);
        assert_eq!(split_args(&typed), Some(cmd));
        assert_eq!(typed_form(&args("GET user1")), b"GET user1");
    }

    #[test]
    fn raw_printed_commands() {
        assert!(prints_raw(&args("INFO")));
        assert!(prints_raw(&args("client list")));
        assert!(prints_raw(&args("CLUSTER INFO")));
        assert!(!prints_raw(&args("CLUSTER INFO x")));
        assert!(!prints_raw(&args("CLIENT ID")));
        assert!(!prints_raw(&args("GET info")));
    }
}
