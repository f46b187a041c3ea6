//! The two clocks keys are judged by. Reading the system clock costs a few
//! percent of a pipelined GET's CPU (BENCHMARKS.md, `clock`), so neither is
//! read per command unless something needs the time.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::util::now_ms;

/// A command's time: read from the system clock the first time something
/// needs it (a TTL to set or check), then frozen for the rest of the command,
/// as Redis freezes time during a command so its keys expire consistently
/// (an EXEC shares one clock for the whole transaction). A command on keys
/// without a TTL never reads it.
/// While the AOF is replayed nothing expires (Redis's `keyIsExpired` is
/// false while loading): a key given a past PEXPIREAT and then pushed to
/// must keep what was pushed before, as it did when those commands ran.
#[derive(Debug, Default)]
pub struct CommandClock(Cell<u64>, bool);

impl CommandClock {
    /// A clock stopped at `now_ms` (active expiry, tests).
    pub fn at(now_ms: u64) -> CommandClock {
        CommandClock(Cell::new(now_ms), false)
    }

    /// The clock of a command replayed from the AOF: no key expires.
    pub fn replaying() -> CommandClock {
        CommandClock(Cell::new(0), true)
    }

    /// Whether keys past their TTL count as expired now.
    pub fn expires_keys(&self) -> bool {
        !self.1
    }

    /// Unix time in milliseconds, the same for every call.
    pub fn now_ms(&self) -> u64 {
        match self.0.get() {
            0 => {
                let now = now_ms().max(1);
                self.0.set(now);
                now
            }
            now => now,
        }
    }
}

/// Redis's LRU clock: the coarse time key accesses are stamped with (OBJECT
/// IDLETIME and FREQ count whole seconds and minutes) and clients' last
/// interaction. The server cron (`crate::cron`) refreshes it every tick, as
/// Redis's `serverCron` does `server.lruclock`.
#[derive(Debug)]
pub struct LruClock(AtomicU64);

impl Default for LruClock {
    fn default() -> Self {
        LruClock(AtomicU64::new(now_ms()))
    }
}

impl LruClock {
    pub fn now_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn refresh(&self) {
        self.0.store(now_ms(), Ordering::Relaxed);
    }
}
