//! INFO commandstats and errorstats (Redis's per-command `calls`,
//! `microseconds`, `rejected_calls`, `failed_calls`, and its error-code
//! counts).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::protocol::Reply;

/// One command's counters, kept in its table entry.
#[derive(Default)]
pub struct CallStats {
    calls: AtomicU64,
    usec: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

impl CallStats {
    /// A call that ran (a blocked command counts once, when it first runs).
    pub fn record(&self, usec: u64, failed: bool) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.usec.fetch_add(usec, Ordering::Relaxed);
        if failed {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A blocked call served an error after a wake-up.
    pub fn fail(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// A call refused before it ran (arity, subscribed mode, ...).
    pub fn reject(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for counter in [&self.calls, &self.usec, &self.rejected, &self.failed] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// Redis's `cmdstat_<name>:` line, for a command that was called,
    /// rejected or failed since the last reset.
    pub fn write_line(&self, name: &str, out: &mut String) {
        let [calls, usec, rejected, failed] =
            [&self.calls, &self.usec, &self.rejected, &self.failed]
                .map(|c| c.load(Ordering::Relaxed));
        if calls == 0 && rejected == 0 && failed == 0 {
            return;
        }
        let per_call = if calls == 0 {
            0.0
        } else {
            usec as f64 / calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},\
             rejected_calls={rejected},failed_calls={failed}\r\n"
        );
    }
}

/// Redis tracks at most this many error codes (`ERROR_STATS_NUMBER`); later
/// new codes are counted in the total only.
const MAX_ERROR_CODES: usize = 128;

/// Error replies by code: the error's first word (`ERR`, `WRONGTYPE`).
#[derive(Default)]
pub struct ErrorStats {
    codes: Mutex<BTreeMap<Vec<u8>, u64>>,
}

impl ErrorStats {
    fn codes(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, u64>> {
        self.codes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts an error reply under its code (Redis's `afterErrorReply`: the
    /// text up to a space within its first 32 bytes, else `ERR`).
    pub fn count(&self, reply: &Reply) {
        let Reply::Error(text) = reply else {
            return;
        };
        let head = &text[..text.len().min(32)];
        let code = match head.iter().position(|&b| b == b' ') {
            Some(end) => &text[..end],
            None => b"ERR",
        };
        let mut codes = self.codes();
        let room = codes.len() < MAX_ERROR_CODES;
        match codes.get_mut(code) {
            Some(n) => *n += 1,
            None if room => {
                codes.insert(code.to_vec(), 1);
            }
            None => {}
        }
    }

    pub fn reset(&self) {
        self.codes().clear();
    }

    /// The `errorstat_<code>:count=<n>` lines, codes in byte order as
    /// Redis's radix tree lists them.
    pub fn write_lines(&self, out: &mut String) {
        for (code, n) in self.codes().iter() {
            let _ = write!(
                out,
                "errorstat_{}:count={n}\r\n",
                String::from_utf8_lossy(code)
            );
        }
    }
}
