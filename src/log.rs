//! The server's log, in redis-server's format (Redis's `serverLog`):
//!
//! ```text
//! 28430:M 04 Dec 2026 12:27:12.846 * Ready to accept connections
//! ```
//!
//! pid, role (`C` until the server is initialised, then `M`), local time to
//! the millisecond, a level character (`.` debug, `-` verbose, `*` notice,
//! `#` warning) and the message. Tools that watch Redis's log, Redis's own
//! test suite first, read these lines: the suite waits for `Ready to accept`
//! and finds the pid in the start-up logo.
//!
//! The code keeps logging with `tracing` macros; [`RedisLog`] is the
//! subscriber layer that writes them, mapping tracing's levels onto
//! Redis's: `trace!` debug, `debug!` verbose, `info!` notice, `warn!` and
//! `error!` warning. `loglevel` and `logfile` are read from the config at
//! each line, so CONFIG SET loglevel takes effect at once; `logfile` empty
//! means stdout, otherwise each line is appended to that file (opened per
//! line, as Redis does, so a rotated file is simply recreated).

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::config::Config;

/// Redis's verbosity levels (`LL_DEBUG` .. `LL_WARNING`), the values of the
/// `loglevel` enum setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug = 0,
    Verbose = 1,
    Notice = 2,
    Warning = 3,
}

impl LogLevel {
    /// The character Redis writes for the level.
    fn mark(self) -> char {
        match self {
            LogLevel::Debug => '.',
            LogLevel::Verbose => '-',
            LogLevel::Notice => '*',
            LogLevel::Warning => '#',
        }
    }

    fn of(level: &Level) -> LogLevel {
        match *level {
            Level::TRACE => LogLevel::Debug,
            Level::DEBUG => LogLevel::Verbose,
            Level::INFO => LogLevel::Notice,
            _ => LogLevel::Warning,
        }
    }
}

/// `C` before the server is initialised (Redis prints its start-up lines
/// before `server.pid` is set, hence as a "child"), `M` after.
static ROLE: AtomicU8 = AtomicU8::new(b'C');

/// The settings the log reads; set once by [`init`].
static CONFIG: OnceLock<Arc<Config>> = OnceLock::new();

/// Installs the log as the process's `tracing` subscriber, writing where
/// and as verbosely as `config` says.
pub fn init(config: Arc<Config>) {
    use tracing_subscriber::layer::SubscriberExt;
    let _ = CONFIG.set(config);
    let subscriber = tracing_subscriber::registry().with(RedisLog);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Reports a bug (a panic) in the log as Redis reports a crash, and with
/// `use-exit-on-panic yes` ends the process with status 1. Otherwise only the
/// task that met it ends: a connection closes, the server goes on. A command
/// stopped for touching an undeclared key unwinds on purpose and is answered
/// with an error (`commands::call`), so it is no crash.
pub fn install_panic_hook() {
    let print_backtrace = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().is::<crate::keyspace::UndeclaredKey>() {
            return;
        }
        print_backtrace(info);
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("panic");
        let place = info
            .location()
            .map_or(String::new(), |l| format!(" #{}:{}", l.file(), l.line()));
        line(
            LogLevel::Warning,
            "------------------------------------------------",
        );
        line(
            LogLevel::Warning,
            "!!! Software Failure. Press left mouse button to continue",
        );
        line(
            LogLevel::Warning,
            &format!("Guru Meditation: {message}{place}"),
        );
        if CONFIG.get().is_some_and(|c| c.use_exit_on_panic()) {
            std::process::exit(1);
        }
    }));
}

/// From now on lines carry the role `M` (Redis's `initServer`).
pub fn server_initialized() {
    ROLE.store(b'M', Ordering::Relaxed);
}

/// Whether a line of `level` would be written now.
pub fn enabled(level: LogLevel) -> bool {
    CONFIG
        .get()
        .is_some_and(|c| level as i64 >= c.loglevel_value())
}

/// Writes one log line at `level` (Redis's `serverLog`).
pub fn line(level: LogLevel, message: &str) {
    if enabled(level) {
        write(&format_line(level, message));
    }
}

/// Writes `text` as it is, no prefix (Redis's `LL_RAW`: the ASCII logo).
pub fn raw(level: LogLevel, text: &str) {
    if enabled(level) {
        write(text);
    }
}

/// The line Redis writes from its signal handler (`serverLogFromHandler`):
/// no role, date or level, just the pid, `signal-handler` and Unix time.
pub fn from_signal(message: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    write(&format!(
        "{}:signal-handler ({now}) {message}\n",
        std::process::id()
    ));
}

/// The first lines of the log, written once the configuration is loaded
/// (Redis's `main`): `config_given` is false when the server was started
/// with no arguments at all, which Redis warns about.
pub fn starting(config_given: bool, program: &str) {
    use crate::server::{NAME, REDIS_VERSION, VERSION};
    let warn = |m: &str| line(LogLevel::Warning, m);
    warn(&format!("oO0OoO0OoO0Oo {NAME} is starting oO0OoO0OoO0Oo"));
    warn(&format!(
        "{NAME} version={VERSION}, redis_version={REDIS_VERSION}, bits={}, pid={}, just started",
        usize::BITS,
        std::process::id()
    ));
    if config_given {
        warn("Configuration loaded");
    } else {
        warn(&format!("Warning: no config file specified, using the default config. In order to specify a config file use {program} /path/to/redis.conf"));
    }
}

/// The start-up banner (Redis's `redisAsciiArt`): the ASCII logo, which
/// carries the " PID: <pid>" that Redis's test suite looks for, when
/// stdout is a terminal that is the log, or `always-show-logo yes`;
/// otherwise a one-line "Running mode" notice, as Redis.
pub fn startup_banner(config: &Config, port: u64) {
    let to_tty = !config.syslog_enabled()
        && config.logfile().is_empty()
        && std::io::IsTerminal::is_terminal(&std::io::stdout());
    if to_tty || config.always_show_logo() {
        raw(LogLevel::Notice, &logo(port));
    } else {
        line(
            LogLevel::Notice,
            &format!("Running mode=standalone, port={port}."),
        );
    }
}

/// reddish's own logo, with the facts Redis prints beside its own.
fn logo(port: u64) -> String {
    use crate::server::{NAME, REDIS_VERSION, VERSION};
    let art = [
        r"               _     _ _     _      ",
        r"  _ __ ___  __| | __| (_)___| |__   ",
        r" | '__/ _ \/ _` |/ _` | / __| '_ \  ",
        r" | | |  __/ (_| | (_| | \__ \ | | | ",
        r" |_|  \___|\__,_|\__,_|_|___/_| |_| ",
        r"                                    ",
    ];
    let facts = [
        format!(
            "{NAME} {VERSION} (Redis {REDIS_VERSION} compatible) {} bit",
            usize::BITS
        ),
        String::new(),
        "Running in standalone mode".to_string(),
        format!("Port: {port}"),
        format!("PID: {}", std::process::id()),
        String::new(),
    ];
    let mut out = String::from("\n");
    for (art, fact) in art.iter().zip(&facts) {
        let _ = writeln!(out, "{art}    {fact}");
    }
    out.push('\n');
    out
}

/// `pid:role dd Mon yyyy HH:MM:SS.mmm <mark> message\n`.
fn format_line(level: LogLevel, message: &str) -> String {
    let mut out = String::with_capacity(48 + message.len());
    let role = char::from(ROLE.load(Ordering::Relaxed));
    let _ = write!(out, "{}:{role} ", std::process::id());
    push_local_time(&mut out, SystemTime::now());
    let _ = writeln!(out, " {} {message}", level.mark());
    out
}

/// Redis's `%d %b %Y %H:%M:%S.` plus milliseconds, in local time.
fn push_local_time(out: &mut String, at: SystemTime) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = libc::time_t::try_from(since.as_secs()).unwrap_or(0);
    // SAFETY: `tm` is plain data that localtime_r fills in; both pointers are
    // to live locals.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&secs, &mut tm) };
    let month = MONTHS
        .get(usize::try_from(tm.tm_mon).unwrap_or(0))
        .unwrap_or(&"Jan");
    let _ = write!(
        out,
        "{:02} {month} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        since.subsec_millis()
    );
}

/// Appends `text` to the log file, or writes it to stdout when `logfile`
/// is empty. A file that cannot be opened loses the line, as in Redis.
fn write(text: &str) {
    let logfile = CONFIG.get().map(|c| c.logfile()).unwrap_or_default();
    if logfile.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        return;
    }
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&logfile)
    {
        let _ = file.write_all(text.as_bytes());
    }
}

/// The `tracing` layer writing events as Redis log lines.
struct RedisLog;

impl<S: Subscriber> Layer<S> for RedisLog {
    /// Asked again at every event, so that CONFIG SET loglevel applies at once.
    fn register_callsite(&self, _: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        enabled(LogLevel::of(metadata.level()))
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut message = Message::default();
        event.record(&mut message);
        line(LogLevel::of(event.metadata().level()), &message.0);
    }
}

/// An event's message followed by its other fields as ` name=value`.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}{rest}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logo_carries_the_pid_the_suite_looks_for() {
        let logo = logo(6379);
        assert!(logo.contains(&format!(" PID: {}\n", std::process::id())));
        assert!(logo.contains("Port: 6379"));
    }

    #[test]
    fn line_has_redis_shape() {
        let line = format_line(LogLevel::Warning, "hello");
        let (pid_role, rest) = line.split_once(' ').unwrap_or_default();
        assert_eq!(pid_role, format!("{}:C", std::process::id()));
        // "04 Dec 2026 12:27:12.846 # hello\n"
        let parts: Vec<&str> = rest.trim_end().split(' ').collect();
        assert_eq!(parts.len(), 6, "{line:?}");
        assert_eq!(parts[0].len(), 2);
        assert_eq!(parts[1].len(), 3);
        assert_eq!(parts[2].len(), 4);
        assert_eq!(parts[3].len(), 12);
        assert_eq!(&parts[4..], ["#", "hello"]);
    }
}
