//! The slow log (Redis's slowlog.c): the commands that took at least
//! `slowlog-log-slower-than` microseconds, newest first, at most
//! `slowlog-max-len` of them. `commands::call` offers every command it ran;
//! a blocked command is offered when it is served, not when it blocks.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;

use crate::client::Client;
use crate::commands::{Command, Flags};
use crate::config::Config;
use crate::monitor::redacted;
use crate::protocol::Reply;

/// Arguments kept per entry (Redis's `SLOWLOG_ENTRY_MAX_ARGC`); the last
/// one kept says how many more there were.
const MAX_ARGC: usize = 32;
/// Bytes kept per argument (`SLOWLOG_ENTRY_MAX_STRING`).
const MAX_STRING: usize = 128;

struct Entry {
    id: u64,
    /// Unix seconds.
    time: u64,
    /// Microseconds.
    duration: u64,
    args: Vec<Bytes>,
    peer: String,
    name: Bytes,
}

#[derive(Default)]
struct Log {
    entries: VecDeque<Entry>,
    next_id: u64,
}

#[derive(Default)]
pub struct SlowLog(Mutex<Log>);

impl SlowLog {
    fn lock(&self) -> MutexGuard<'_, Log> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Redis's `slowlogPushCurrentCommand`: logs the command if it was slow
    /// enough and is not `skip_slowlog` (EXEC, whose commands are logged
    /// one by one), with its secrets redacted.
    pub fn offer(
        &self,
        config: &Config,
        client: &Client,
        cmd: &Command,
        args: &[&[u8]],
        usec: u64,
    ) {
        let threshold = config.slowlog_log_slower_than();
        if threshold < 0
            || usec < threshold.unsigned_abs()
            || cmd.flags.contains(Flags::SKIP_SLOWLOG)
        {
            return;
        }
        let secrets = redacted(args);
        let kept = args.len().min(MAX_ARGC);
        let args = (0..kept)
            .map(|i| {
                if kept < args.len() && i == kept - 1 {
                    Bytes::from(format!("... ({} more arguments)", args.len() - kept + 1))
                } else if secrets.contains(args, i) {
                    Bytes::from_static(b"(redacted)")
                } else if args[i].len() > MAX_STRING {
                    let mut arg = args[i][..MAX_STRING].to_vec();
                    arg.extend_from_slice(
                        format!("... ({} more bytes)", args[i].len() - MAX_STRING).as_bytes(),
                    );
                    Bytes::from(arg)
                } else {
                    Bytes::copy_from_slice(args[i])
                }
            })
            .collect();
        let (peer, name) = {
            let info = client.handle.info();
            (
                client.handle.addr.to_string(),
                info.name
                    .as_deref()
                    .map(Bytes::copy_from_slice)
                    .unwrap_or_default(),
            )
        };
        let mut log = self.lock();
        let id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(Entry {
            id,
            time: crate::util::now_ms() / 1000,
            duration: usec,
            args,
            peer,
            name,
        });
        let max = usize::try_from(config.slowlog_max_len()).unwrap_or(usize::MAX);
        log.entries.truncate(max);
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.lock().entries.clear();
    }

    /// SLOWLOG GET's reply: the newest `count` entries, each `[id, time,
    /// duration, [args...], "ip:port", name]`.
    pub fn newest(&self, count: usize) -> Reply {
        let log = self.lock();
        Reply::Array(
            log.entries
                .iter()
                .take(count)
                .map(|e| {
                    Reply::Array(vec![
                        Reply::from(e.id as i64),
                        Reply::from(e.time as i64),
                        Reply::from(e.duration as i64),
                        Reply::Array(e.args.iter().cloned().map(Reply::Bulk).collect()),
                        Reply::bulk(e.peer.clone()),
                        Reply::Bulk(e.name.clone()),
                    ])
                })
                .collect(),
        )
    }
}
