//! MONITOR: clients that see every command the server runs, as Redis's
//! `replicationFeedMonitors` writes it:
//! `+<sec>.<usec> [<db> <addr>] "arg" "arg" ...`.
//!
//! A command is shown after it ran (so `SELECT 2` shows database 2, and a
//! transaction's commands come before its `EXEC`), unless it is an admin
//! command, flagged `skip_monitor`, refused before running (unknown, wrong
//! arity) or a blocked command run again when its key was served. Passwords
//! are shown as `(redacted)`. With no monitor, the cost per command is one
//! atomic load.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::client::Client;
use crate::commands::args::is;
use crate::commands::{Command, Flags};
use crate::config::Config;
use crate::protocol::Reply;
use crate::pubsub::Subscriber;
use crate::util::{now_us, repr};

/// The monitors, by client id.
pub struct Monitors {
    config: Arc<Config>,
    count: AtomicUsize,
    list: Mutex<Vec<(u64, Arc<Subscriber>)>>,
}

impl Monitors {
    pub fn new(config: Arc<Config>) -> Monitors {
        Monitors {
            config,
            count: AtomicUsize::new(0),
            list: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(u64, Arc<Subscriber>)>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// MONITOR: the client sees every command from now on.
    pub fn add(&self, client: &Client) {
        let mut list = self.lock();
        if !list.iter().any(|(id, _)| *id == client.id) {
            list.push((client.id, client.subs.mailbox()));
            self.count.store(list.len(), Ordering::Release);
        }
    }

    /// RESET, or the client is gone.
    pub fn remove(&self, id: u64) {
        let mut list = self.lock();
        list.retain(|(other, _)| *other != id);
        self.count.store(list.len(), Ordering::Release);
    }

    /// Shows a command that just ran to every monitor. A monitor's own
    /// command is shown after its reply (as Redis appends the line to the
    /// output buffer that already holds the reply), so its line goes to
    /// `client.monitor_echo`, written after the reply, not to its mailbox.
    /// A blocked client's re-run is not shown: `call` does not feed it.
    pub fn feed(&self, client: &mut Client, cmd: &Command, args: &[&[u8]]) {
        if self.count.load(Ordering::Acquire) == 0
            || cmd.flags.contains(Flags::ADMIN)
            || cmd.flags.contains(Flags::SKIP_MONITOR)
        {
            return;
        }
        self.feed_line(client, args);
    }

    /// EVAL and friends (flagged `skip_monitor`) show themselves before
    /// the commands their script runs, as Redis's `evalCommand` does.
    pub fn feed_script(&self, client: &mut Client, args: &[&[u8]]) {
        if self.count.load(Ordering::Acquire) > 0 {
            self.feed_line(client, args);
        }
    }

    fn feed_line(&self, client: &mut Client, args: &[&[u8]]) {
        let line = monitor_line(client, args);
        // Monitors are normal clients: their output buffer limit is that class's.
        let limit = self.config.client_output_buffer_limits()[0];
        for (id, mailbox) in self.lock().iter() {
            if *id == client.id {
                client.monitor_echo.push(line.clone());
            } else {
                mailbox.push(Reply::Simple(Cow::Owned(line.clone())), limit);
            }
        }
    }
}

/// One monitor line without its `+` and CRLF (a simple string reply).
fn monitor_line(client: &Client, args: &[&[u8]]) -> Vec<u8> {
    let now = now_us();
    let mut line = format!(
        "{}.{:06} [{} {}]",
        now / 1_000_000,
        now % 1_000_000,
        client.db,
        // A script's commands come from Redis's Lua client.
        if client.in_script {
            "lua".to_string()
        } else {
            match &client.handle.addr {
                crate::transport::PeerAddr::Unix(path) => format!("unix:{path}"),
                addr => addr.to_string(),
            }
        }
    )
    .into_bytes();
    let secrets = redacted(args);
    for (i, arg) in args.iter().enumerate() {
        line.push(b' ');
        if secrets.contains(args, i) {
            line.extend_from_slice(b"\"(redacted)\"");
        } else {
            repr(arg, &mut line);
        }
    }
    line
}

/// The arguments that are secrets (Redis's `redactClientCommandArgument`
/// calls), for MONITOR and the slow log: every argument of AUTH, the user
/// and rules of ACL SETUSER, the user and password after HELLO's AUTH,
/// MIGRATE's AUTH password or AUTH2 user and password (the first of those
/// options, if a client gives both), and CONFIG SET's values of sensitive
/// settings.
pub(crate) enum Secrets {
    /// One run of arguments (none for most commands).
    Run(std::ops::Range<usize>),
    /// CONFIG SET: the value after each sensitive setting's name.
    SensitiveSettings,
}

impl Secrets {
    pub(crate) fn contains(&self, args: &[&[u8]], i: usize) -> bool {
        match self {
            Secrets::Run(run) => run.contains(&i),
            Secrets::SensitiveSettings => {
                i >= 3 && i % 2 == 1 && crate::config::is_sensitive(args[i - 1])
            }
        }
    }
}

pub(crate) fn redacted(args: &[&[u8]]) -> Secrets {
    // An odd count is refused as a syntax error before Redis redacts.
    if is(args[0], "CONFIG")
        && args.len() >= 4
        && args.len().is_multiple_of(2)
        && is(args[1], "SET")
    {
        return Secrets::SensitiveSettings;
    }
    Secrets::Run(run_redacted(args))
}

fn run_redacted(args: &[&[u8]]) -> std::ops::Range<usize> {
    if is(args[0], "AUTH") {
        return 1..args.len();
    }
    if is(args[0], "MIGRATE") {
        let options = args.iter().enumerate().skip(6);
        for (i, arg) in options.take_while(|(_, a)| !is(a, "KEYS")) {
            if is(arg, "AUTH") {
                return (i + 1).min(args.len())..(i + 2).min(args.len());
            }
            if is(arg, "AUTH2") {
                return (i + 1).min(args.len())..(i + 3).min(args.len());
            }
        }
    }
    if is(args[0], "ACL") && args.len() >= 3 && is(args[1], "SETUSER") {
        return 2..args.len();
    }
    if is(args[0], "HELLO") {
        if let Some(at) = args.iter().skip(2).position(|a| is(a, "AUTH")) {
            return at + 3..at + 5;
        }
    }
    0..0
}
