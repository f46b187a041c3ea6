//! `reddish-cli`: redis-cli for everyday use, plus the lab's JSON lines.
//!
//! * `reddish-cli -p 6380 SET a b` runs one command and exits (1 when the
//!   server cannot be reached or the connection fails; with `-e` also on an
//!   error reply).
//! * With no command and stdin not a terminal, each stdin line is a command
//!   (`printf 'PING\nGET a\n' | reddish-cli --json`).
//! * On a terminal it is a REPL with line editing and history
//!   (`~/.reddish_cli_history`), redis-cli's prompt, and automatic reconnection.
//!
//! Output follows redis-cli 7.0: human format on a terminal, raw into a
//! pipe, `--raw` / `--no-raw` to choose; `--json` prints one
//! [`encode_json`](crate::protocol::encode_json) object per reply.

mod connection;
mod format;
mod session;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::ffi::OsStringExt;
use std::process::ExitCode;

use clap::{ArgAction, Parser};

use format::Output;
use session::{Session, Settings};

/// Talk to a reddish (or Redis) server. With no command, runs a REPL on a
/// terminal or reads one command per line from stdin.
#[derive(Parser, Debug)]
#[command(
    name = "reddish-cli",
    version,
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct Args {
    /// Server hostname.
    #[arg(short = 'h', value_name = "hostname", default_value = "127.0.0.1")]
    host: String,
    /// Server port.
    #[arg(short = 'p', value_name = "port", default_value_t = 6379)]
    port: u16,
    /// Password (sends AUTH). The REDISCLI_AUTH environment variable is safer.
    #[arg(short = 'a', long = "pass", value_name = "password")]
    password: Option<OsString>,
    /// ACL user for AUTH (needs -a).
    #[arg(long, value_name = "username")]
    user: Option<OsString>,
    /// Database number (sends SELECT).
    #[arg(short = 'n', value_name = "db", default_value_t = 0)]
    db: i64,
    /// Speak RESP2, the default (undoes an earlier -3).
    #[arg(short = '2', overrides_with = "resp3")]
    resp2: bool,
    /// Speak RESP3 (sends HELLO 3).
    #[arg(short = '3', long = "resp3", overrides_with = "resp2")]
    resp3: bool,
    /// Print raw values (the default when stdout is not a terminal).
    #[arg(long, conflicts_with_all = ["no_raw", "json"])]
    raw: bool,
    /// Print the human format even when stdout is not a terminal.
    #[arg(long, conflicts_with = "json")]
    no_raw: bool,
    /// Print each reply as {"command":...,"response":...} on one line.
    #[arg(long)]
    json: bool,
    /// Exit with status 1 when the command's reply is an error.
    #[arg(short = 'e')]
    errcode: bool,
    /// Don't warn about passwords given on the command line.
    #[arg(long)]
    no_auth_warning: bool,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// Print the version.
    #[arg(short = 'v', long, action = ArgAction::Version)]
    version: Option<bool>,
    /// The command to run, e.g. SET key value.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "cmd"
    )]
    command: Vec<OsString>,
}

/// Runs reddish-cli with the process's arguments.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let output = if args.json {
        Output::Json
    } else if args.raw {
        Output::Raw
    } else if args.no_raw || std::io::stdout().is_terminal() {
        Output::Human
    } else {
        Output::Raw
    };
    if args.password.is_some() && !args.no_auth_warning {
        eprintln!(
            "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe."
        );
    }
    let password = args
        .password
        .or_else(|| std::env::var_os("REDISCLI_AUTH"))
        .map(OsString::into_vec);
    let mut session = Session::new(Settings {
        host: args.host,
        port: args.port,
        user: args.user.map(OsString::into_vec),
        password,
        db: args.db,
        resp3: args.resp3 && !args.resp2,
        output,
        errcode: args.errcode,
        show_pushes: std::io::stdout().is_terminal(),
    });
    if !args.command.is_empty() {
        let command: Vec<Vec<u8>> = args.command.into_iter().map(OsString::into_vec).collect();
        return session.one_shot(&command);
    }
    if std::io::stdin().is_terminal() {
        session.interactive()
    } else {
        session.read_stdin()
    }
}
