//! The server's settings, Redis 7.0 style: one table of settings
//! (`table.rs`, Redis's `static_configs[]`), `CONFIG GET`/`CONFIG SET`
//! semantics (`configGetCommand`/`configSetCommand`) and redis.conf plus
//! command-line loading (`loadServerConfigFromString`), with Redis 7.0.15's
//! error texts.
//!
//! Every boolean, enum and numeric setting lives in an atomic, so reading
//! one (e.g. `proto_max_bulk_len()` on every request) never takes a lock.
//! Strings and list-like settings sit behind an `RwLock`.

pub mod command_line;
pub(crate) mod parse;
mod rewrite;
mod table;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use crate::protocol::inline::split_args;
use parse::{
    format_percentile, keyspace_events_from_str, keyspace_events_to_string, string2d, string2ll,
    strtoll, strtoll_whole,
};
pub use parse::{memtoull, notify, strerror};
use table::{
    idx, lookup, Def, Fixup, Kind, NumFmt, Special, DENY_LOADING, HIDDEN, IMMUTABLE, MULTI_ARG, N,
    PROTECTED, SENSITIVE, TABLE,
};

/// What the fatal config error banner names, where Redis prints
/// "Redis 7.0.15".
const BANNER: &str = concat!("reddish ", env!("CARGO_PKG_VERSION"));

/// Redis `CONFIG_BINDADDR_MAX`.
const BINDADDR_MAX: usize = 16;
/// Redis `CONFIG_MIN_HZ` / `CONFIG_MAX_HZ`.
const MIN_HZ: i64 = 1;
const MAX_HZ: i64 = 500;
/// Redis `CONFIG_REPL_BACKLOG_MIN_SIZE`.
const REPL_BACKLOG_MIN_SIZE: i64 = 16 * 1024;

/// Redis's default `bind` when no config file sets one: every IPv4
/// address and, where the machine has IPv6, every IPv6 one; protected mode
/// then serves only loopback clients while the default user has no
/// password.
const DEFAULT_BIND: &[&str] = &["*", "-::*"];
/// Our default `save` points: none. reddish keeps its data in memory only
/// (README), so it promises no snapshots; Redis's default is 3600 1 300 100
/// 60 10000.
const DEFAULT_SAVE: &[(i64, i32)] = &[];
/// Redis `configOOMScoreAdjValuesDefaults`.
const DEFAULT_OOM: [i32; 3] = [0, 200, 800];
/// Redis's default `latency-tracking-info-percentiles`.
const DEFAULT_PERCENTILES: &[f64] = &[50.0, 99.0, 99.9];

/// One client class's output buffer limits (Redis
/// `clientBufferLimitsConfig`): hard and soft limits in bytes (0 = none)
/// and how many seconds the soft limit may be exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputBufferLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_seconds: i32,
}

/// `client-output-buffer-limit` for the classes Redis configures, in its
/// order: normal, replica ("slave"), pubsub.
pub type OutputBufferLimits = [OutputBufferLimit; 3];

/// Redis `clientBufferLimitsDefaults`.
const DEFAULT_OBUF: OutputBufferLimits = [
    OutputBufferLimit {
        hard_bytes: 0,
        soft_bytes: 0,
        soft_seconds: 0,
    },
    OutputBufferLimit {
        hard_bytes: 256 * 1024 * 1024,
        soft_bytes: 64 * 1024 * 1024,
        soft_seconds: 60,
    },
    OutputBufferLimit {
        hard_bytes: 32 * 1024 * 1024,
        soft_bytes: 8 * 1024 * 1024,
        soft_seconds: 60,
    },
];
/// Class names as `getClientTypeName` renders them.
const OBUF_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// `maxmemory-policy` (Redis's `MAXMEMORY_*`), in the table's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictionPolicy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

impl EvictionPolicy {
    /// Keys keep an LFU counter instead of their last access (`MAXMEMORY_FLAG_LFU`).
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLfu | EvictionPolicy::AllkeysLfu
        )
    }

    /// Keys are chosen by their last access (`MAXMEMORY_FLAG_LRU`).
    pub fn is_lru(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru | EvictionPolicy::AllkeysLru
        )
    }

    /// Only keys with a TTL may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        )
    }
}

/// Non-atomic setting values.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    /// Atomic-backed settings have nothing here.
    None,
    Str(Vec<u8>),
    Save(Vec<(i64, i32)>),
    Bind(Vec<String>),
    Obuf(OutputBufferLimits),
    Oom([i32; 3]),
    ReplicaOf(Option<(Vec<u8>, i64)>),
    Percentiles(Vec<f64>),
}

/// A parsed new value, not yet stored.
enum New {
    Num(i64),
    Val(Val),
}

/// State that Redis keeps in statics while reading config text
/// (`reading_config_file`, `save_loaded`).
struct LoadState {
    /// True while reading a config file; an `include` turns it off for the
    /// rest of the including file, as in Redis.
    reading: bool,
    /// Whether a `save` line was seen: the first one replaces the defaults,
    /// later ones append.
    save_loaded: bool,
    /// CONFIG SET rather than config text: Redis runs the settings'
    /// `apply` functions only then.
    runtime: bool,
}

/// The server's settings; share it in an `Arc`.
pub struct Config {
    nums: [AtomicI64; N],
    vals: [RwLock<Val>; N],
    /// Serialises CONFIG SET so a multi-setting change is all or nothing.
    writer: Mutex<()>,
    /// The config file's `user` lines (name, rules...), applied once the
    /// server starts (Redis's `UsersToLoad`).
    users: Mutex<Vec<Vec<Vec<u8>>>>,
    /// The config file's `rename-command` lines, in order (old, new; an
    /// empty new name removes the command).
    renames: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
    /// The config file the server started with, as an absolute path
    /// (CONFIG REWRITE writes it; Redis's `server.configfile`).
    file: std::sync::OnceLock<PathBuf>,
}

// Positions of the settings with typed accessors.
const PORT: usize = idx("port");
const BIND: usize = idx("bind");
const BIND_SOURCE_ADDR: usize = idx("bind-source-addr");
const DATABASES: usize = idx("databases");
const LOGLEVEL: usize = idx("loglevel");
const LOGFILE: usize = idx("logfile");
const ALWAYS_SHOW_LOGO: usize = idx("always-show-logo");
const SYSLOG_ENABLED: usize = idx("syslog-enabled");
const JSON: usize = idx("json");
const MAXCLIENTS: usize = idx("maxclients");
const REPL_PING_REPLICA_PERIOD: usize = idx("repl-ping-replica-period");
const HZ: usize = idx("hz");
const DYNAMIC_HZ: usize = idx("dynamic-hz");
const PROTO_MAX_BULK_LEN: usize = idx("proto-max-bulk-len");
const CLIENT_QUERY_BUFFER_LIMIT: usize = idx("client-query-buffer-limit");
const ACTIVE_EXPIRE_EFFORT: usize = idx("active-expire-effort");
const SAVE: usize = idx("save");
const APPENDONLY: usize = idx("appendonly");
const APPENDFSYNC: usize = idx("appendfsync");
const APPENDFILENAME: usize = idx("appendfilename");
const APPENDDIRNAME: usize = idx("appenddirname");
const AOF_LOAD_TRUNCATED: usize = idx("aof-load-truncated");
const AOF_USE_RDB_PREAMBLE: usize = idx("aof-use-rdb-preamble");
const AOF_TIMESTAMP_ENABLED: usize = idx("aof-timestamp-enabled");
const NO_APPENDFSYNC_ON_REWRITE: usize = idx("no-appendfsync-on-rewrite");
const AOF_DISABLE_AUTO_GC: usize = idx("aof-disable-auto-gc");
const AUTO_AOF_REWRITE_PERCENTAGE: usize = idx("auto-aof-rewrite-percentage");
const AUTO_AOF_REWRITE_MIN_SIZE: usize = idx("auto-aof-rewrite-min-size");
const DIR: usize = idx("dir");
const DBFILENAME: usize = idx("dbfilename");
const RDBCOMPRESSION: usize = idx("rdbcompression");
const STOP_WRITES_ON_BGSAVE_ERROR: usize = idx("stop-writes-on-bgsave-error");
const RDBCHECKSUM: usize = idx("rdbchecksum");
const MAXMEMORY: usize = idx("maxmemory");
const MIN_REPLICAS_TO_WRITE: usize = idx("min-replicas-to-write");
const MIN_REPLICAS_MAX_LAG: usize = idx("min-replicas-max-lag");
const MAXMEMORY_POLICY: usize = idx("maxmemory-policy");
const MAXMEMORY_CLIENTS: usize = idx("maxmemory-clients");
const MAXMEMORY_SAMPLES: usize = idx("maxmemory-samples");
const MAXMEMORY_EVICTION_TENACITY: usize = idx("maxmemory-eviction-tenacity");
const TIMEOUT: usize = idx("timeout");
const TCP_KEEPALIVE: usize = idx("tcp-keepalive");
const TCP_BACKLOG: usize = idx("tcp-backlog");
const PROTECTED_MODE: usize = idx("protected-mode");
const DAEMONIZE: usize = idx("daemonize");
const PIDFILE: usize = idx("pidfile");
const UNIXSOCKET: usize = idx("unixsocket");
const UNIXSOCKETPERM: usize = idx("unixsocketperm");
const TLS_PORT: usize = idx("tls-port");
const TLS_AUTH_CLIENTS: usize = idx("tls-auth-clients");
const TLS_REPLICATION: usize = idx("tls-replication");
const TLS_CLUSTER: usize = idx("tls-cluster");
const REQUIREPASS: usize = idx("requirepass");
const NOTIFY_KEYSPACE_EVENTS: usize = idx("notify-keyspace-events");
const LAZYFREE_LAZY_USER_DEL: usize = idx("lazyfree-lazy-user-del");
const LAZYFREE_LAZY_USER_FLUSH: usize = idx("lazyfree-lazy-user-flush");
const LAZYFREE_LAZY_EXPIRE: usize = idx("lazyfree-lazy-expire");
const LAZYFREE_LAZY_EVICTION: usize = idx("lazyfree-lazy-eviction");
const LAZYFREE_LAZY_SERVER_DEL: usize = idx("lazyfree-lazy-server-del");
const LIST_MAX_LISTPACK_SIZE: usize = idx("list-max-listpack-size");
const LIST_COMPRESS_DEPTH: usize = idx("list-compress-depth");
const HASH_MAX_LISTPACK_ENTRIES: usize = idx("hash-max-listpack-entries");
const HASH_MAX_LISTPACK_VALUE: usize = idx("hash-max-listpack-value");
const SET_MAX_INTSET_ENTRIES: usize = idx("set-max-intset-entries");
const ZSET_MAX_LISTPACK_ENTRIES: usize = idx("zset-max-listpack-entries");
const ZSET_MAX_LISTPACK_VALUE: usize = idx("zset-max-listpack-value");
const STREAM_NODE_MAX_BYTES: usize = idx("stream-node-max-bytes");
const STREAM_NODE_MAX_ENTRIES: usize = idx("stream-node-max-entries");
const HLL_SPARSE_MAX_BYTES: usize = idx("hll-sparse-max-bytes");
const SLOWLOG_LOG_SLOWER_THAN: usize = idx("slowlog-log-slower-than");
const SLOWLOG_MAX_LEN: usize = idx("slowlog-max-len");
const LATENCY_TRACKING: usize = idx("latency-tracking");
const LATENCY_PERCENTILES: usize = idx("latency-tracking-info-percentiles");
const LATENCY_MONITOR_THRESHOLD: usize = idx("latency-monitor-threshold");
const CLUSTER_ENABLED: usize = idx("cluster-enabled");
const REPLICA_READ_ONLY: usize = idx("replica-read-only");
const PROPAGATION_ERROR_BEHAVIOR: usize = idx("propagation-error-behavior");
const REPLICAOF: usize = idx("replicaof");
const REPL_TIMEOUT: usize = idx("repl-timeout");
const MASTERAUTH: usize = idx("masterauth");
const MASTERUSER: usize = idx("masteruser");
const REPLICA_ANNOUNCE_IP: usize = idx("replica-announce-ip");
const REPLICA_ANNOUNCE_PORT: usize = idx("replica-announce-port");
const REPLICA_SERVE_STALE_DATA: usize = idx("replica-serve-stale-data");
const REPLICA_PRIORITY: usize = idx("replica-priority");
const REPLICA_ANNOUNCED: usize = idx("replica-announced");
const BUSY_REPLY_THRESHOLD: usize = idx("busy-reply-threshold");
const RDB_KEY_SAVE_DELAY: usize = idx("rdb-key-save-delay");
const REPL_DISKLESS_SYNC: usize = idx("repl-diskless-sync");
const OOM_SCORE_ADJ: usize = idx("oom-score-adj");
const SHUTDOWN_ON_SIGINT: usize = idx("shutdown-on-sigint");
const SHUTDOWN_TIMEOUT: usize = idx("shutdown-timeout");
const SHUTDOWN_ON_SIGTERM: usize = idx("shutdown-on-sigterm");
const OOM_SCORE_ADJ_VALUES: usize = idx("oom-score-adj-values");
const REPL_DISKLESS_LOAD: usize = idx("repl-diskless-load");
const REPL_DISKLESS_SYNC_DELAY: usize = idx("repl-diskless-sync-delay");
const REPL_DISKLESS_SYNC_MAX_REPLICAS: usize = idx("repl-diskless-sync-max-replicas");
const REPL_BACKLOG_SIZE: usize = idx("repl-backlog-size");
const REPL_BACKLOG_TTL: usize = idx("repl-backlog-ttl");
const KEY_LOAD_DELAY: usize = idx("key-load-delay");
const IO_THREADS: usize = idx("io-threads");
const CLIENT_OUTPUT_BUFFER_LIMIT: usize = idx("client-output-buffer-limit");
const ENABLE_PROTECTED_CONFIGS: usize = idx("enable-protected-configs");
const ENABLE_DEBUG_COMMAND: usize = idx("enable-debug-command");
const ENABLE_MODULE_COMMAND: usize = idx("enable-module-command");
const ACTIVEREHASHING: usize = idx("activerehashing");
const JEMALLOC_BG_THREAD: usize = idx("jemalloc-bg-thread");
const DISABLE_THP: usize = idx("disable-thp");
const USE_EXIT_ON_PANIC: usize = idx("use-exit-on-panic");
const LFU_LOG_FACTOR: usize = idx("lfu-log-factor");
const LFU_DECAY_TIME: usize = idx("lfu-decay-time");
const TRACKING_TABLE_MAX_KEYS: usize = idx("tracking-table-max-keys");
const ACLLOG_MAX_LEN: usize = idx("acllog-max-len");
const ACL_PUBSUB_DEFAULT: usize = idx("acl-pubsub-default");
const ACLFILE: usize = idx("aclfile");

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// The config file the server started with (CONFIG REWRITE's target).
    pub fn file(&self) -> Option<&Path> {
        self.file.get().map(PathBuf::as_path)
    }

    /// All settings at their defaults: Redis 7.0's compiled-in ones (but
    /// no save points: reddish keeps data in memory unless told); `dir` is
    /// the current directory.
    pub fn new() -> Config {
        let nums = std::array::from_fn(|i| {
            AtomicI64::new(match TABLE[i].kind {
                _ if i == IO_THREADS => default_io_threads(),
                Kind::Bool { default, .. } => i64::from(default),
                Kind::Num { default, .. } | Kind::Enum { default, .. } => default,
                Kind::Str { .. } | Kind::Special(_) => 0,
            })
        });
        let vals = std::array::from_fn(|i| {
            RwLock::new(match TABLE[i].kind {
                Kind::Str { default, .. } => Val::Str(default.as_bytes().to_vec()),
                Kind::Special(sp) => default_special(sp),
                Kind::Bool { .. } | Kind::Num { .. } | Kind::Enum { .. } => Val::None,
            })
        });
        Config {
            nums,
            vals,
            writer: Mutex::new(()),
            users: Mutex::default(),
            renames: Mutex::default(),
            file: std::sync::OnceLock::new(),
        }
    }

    /// Loads settings like `redis-server [file] [-] [--name value ...]`
    /// (Redis's `loadServerConfig`): the file (redis.conf syntax), then
    /// config text read from stdin, then `options`, the config lines
    /// [`command_line::parse`] made of the command line's options.
    ///
    /// On error returns exactly what redis-server prints to stderr before
    /// exiting (leading newline included, no trailing one; the banner says
    /// reddish instead of Redis), or, for an unreadable file, the text of
    /// Redis's "Fatal error, can't open config file" log line.
    pub fn load(
        file: Option<&Path>,
        stdin: Option<&[u8]>,
        options: &str,
    ) -> Result<Config, String> {
        let mut text = match file {
            Some(path) => read_config_file(path)?,
            None => Vec::new(),
        };
        text.extend_from_slice(stdin.unwrap_or_default());
        text.push(b'\n');
        text.extend_from_slice(options.as_bytes());

        let config = Config::new();
        let mut state = LoadState {
            reading: true,
            save_loaded: false,
            runtime: false,
        };
        config.load_text(&text, &mut state)?;
        config.check_loaded()?;
        if let Some(path) = file {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            let _ = config.file.set(absolute);
        }
        Ok(config)
    }

    /// CONFIG GET (Redis 7.0 `configGetCommand`): each argument is an exact
    /// name (returned as the caller spelled it) or, if it has `*`, `?` or
    /// `[`, a case-insensitive glob over names and aliases (hidden settings
    /// need their exact name). A name appears once even if several
    /// arguments match it (compared case-insensitively); a setting and its
    /// alias are separate names. Redis orders the reply by hash; ours is in
    /// argument then table order.
    pub fn get(&self, patterns: &[&[u8]]) -> Vec<(String, Vec<u8>)> {
        let mut found: Vec<(String, usize)> = Vec::new();
        let seen = |found: &[(String, usize)], name: &[u8]| {
            found
                .iter()
                .any(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
        };
        for &pattern in patterns {
            if !pattern.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
                if seen(&found, pattern) {
                    continue;
                }
                if let Some((i, _)) = lookup(pattern) {
                    found.push((String::from_utf8_lossy(pattern).into_owned(), i));
                }
                continue;
            }
            for (i, def) in TABLE.iter().enumerate() {
                if def.flags & HIDDEN != 0 {
                    continue;
                }
                for name in std::iter::once(def.name).chain(def.alias) {
                    if !seen(&found, name.as_bytes())
                        && crate::glob::glob_match(pattern, name.as_bytes(), true)
                    {
                        found.push((name.to_string(), i));
                    }
                }
            }
        }
        found
            .into_iter()
            .map(|(name, i)| {
                let value = self.render(i);
                (name, value)
            })
            .collect()
    }

    /// The CONFIG GET value of one setting, by name or alias (any case,
    /// hidden ones included), as text.
    pub fn get_str(&self, name: &str) -> Option<String> {
        let (i, _) = lookup(name.as_bytes())?;
        Some(String::from_utf8_lossy(&self.render(i)).into_owned())
    }

    /// CONFIG SET from a client that is not local: see [`Config::set_from`].
    pub fn set(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), String> {
        self.set_from(pairs, false)
    }

    /// Whether CONFIG SET of `pairs` gets `-LOADING` while the data set
    /// loads: one of them may not change then, and comes before any
    /// argument [`Config::set_from`] refuses otherwise (Redis checks them
    /// in order and stops at the first it refuses, but answers `-LOADING`
    /// before any other error).
    pub fn denied_while_loading(&self, pairs: &[(&[u8], &[u8])], local_client: bool) -> bool {
        for &(name, _) in pairs {
            let Some((i, _)) = lookup(name) else {
                return false;
            };
            if self.set_refusal(&TABLE[i], local_client).is_some() {
                return false;
            }
            if TABLE[i].flags & DENY_LOADING != 0 {
                return true;
            }
        }
        false
    }

    /// Why CONFIG SET may not change `def` at all, if it may not.
    fn set_refusal(&self, def: &Def, local_client: bool) -> Option<&'static str> {
        if def.flags & IMMUTABLE != 0 {
            Some("can't set immutable config")
        } else if def.flags & PROTECTED != 0 && !self.protected_allowed(local_client) {
            Some("can't set protected config")
        } else {
            None
        }
    }

    /// CONFIG SET (Redis 7.0 `configSetCommand`): applies all pairs or none.
    /// `local_client` says whether the client is on a loopback or unix
    /// socket, which `enable-protected-configs local` allows to change
    /// protected settings (`dir`, `dbfilename`). The caller checks the
    /// argument count (odd count: syntax error).
    ///
    /// Errors, as the full reply line without `-` and CRLF:
    /// * unknown name: `ERR Unknown option or number of arguments for CONFIG
    ///   SET - 'name'`;
    /// * immutable, protected or repeated name: `ERR CONFIG SET failed
    ///   (possibly related to argument 'name') - can't set immutable
    ///   config` / `can't set protected config` / `duplicate parameter`
    ///   (the first of these problems in argument order wins; the name is
    ///   as given);
    /// * bad value: the same prefix with the setting's own name (lowercase;
    ///   the alias if the alias was used) and the reason.
    pub fn set_from(&self, pairs: &[(&[u8], &[u8])], local_client: bool) -> Result<(), String> {
        let _guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut targets: Vec<(usize, bool)> = Vec::with_capacity(pairs.len());
        let mut failure: Option<String> = None;
        for &(name, _) in pairs {
            let shown = String::from_utf8_lossy(name);
            let Some(target) = lookup(name) else {
                if failure.is_none() {
                    failure = Some(format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{shown}'"
                    ));
                }
                continue;
            };
            if failure.is_some() {
                continue;
            }
            let reason = self
                .set_refusal(&TABLE[target.0], local_client)
                .or_else(|| targets.contains(&target).then_some("duplicate parameter"));
            if let Some(reason) = reason {
                failure = Some(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{shown}') - {reason}"
                ));
                continue;
            }
            targets.push(target);
        }
        if let Some(failure) = failure {
            return Err(failure);
        }

        let mut updates = Vec::with_capacity(pairs.len());
        let mut state = LoadState {
            reading: false,
            save_loaded: false,
            runtime: true,
        };
        for (&(i, alias), &(_, value)) in targets.iter().zip(pairs) {
            let def = &TABLE[i];
            // `sdssplitlen(value, " ")`: an empty value gives no arguments.
            let args: Vec<&[u8]> = if def.flags & MULTI_ARG != 0 {
                if value.is_empty() {
                    Vec::new()
                } else {
                    value.split(|&c| c == b' ').collect()
                }
            } else {
                vec![value]
            };
            match self.parse(def, i, &args, &mut state) {
                Ok(new) => updates.push((i, new)),
                Err(reason) => {
                    let name = if alias {
                        def.alias.unwrap_or(def.name)
                    } else {
                        def.name
                    };
                    return Err(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
                    ));
                }
            }
        }
        for (i, new) in updates {
            self.store(i, new);
        }
        Ok(())
    }

    // ----- Typed accessors (lock-free unless they return text or lists).

    pub fn port(&self) -> u16 {
        u16::try_from(self.num(PORT)).unwrap_or(0)
    }

    /// The TLS listening port (0: none).
    pub fn tls_port(&self) -> u16 {
        u16::try_from(self.num(TLS_PORT)).unwrap_or(0)
    }

    /// `tls-auth-clients`: 0 no, 1 yes, 2 optional.
    pub fn tls_auth_clients(&self) -> usize {
        usize::try_from(self.num(TLS_AUTH_CLIENTS)).unwrap_or(1)
    }

    /// The link to a master is TLS.
    pub fn tls_replication(&self) -> bool {
        self.flag(TLS_REPLICATION)
    }

    /// Redis configures TLS when any of these asks for it (`applyTlsCfg`).
    pub fn tls_enabled(&self) -> bool {
        self.tls_port() != 0 || self.tls_replication() || self.flag(TLS_CLUSTER)
    }

    /// A `tls-*` setting's text by name ("" when unset).
    pub fn tls_text(&self, name: &str) -> String {
        lookup(name.as_bytes()).map_or_else(String::new, |(i, _)| self.text(i))
    }

    /// A `tls-*` setting's number (yes/no as 1/0) by name.
    pub fn tls_num(&self, name: &str) -> i64 {
        lookup(name.as_bytes()).map_or(0, |(i, _)| self.num(i))
    }

    /// The unix socket to listen on, and its permissions (0: as the umask
    /// leaves them).
    pub fn unixsocket(&self) -> Option<(String, u32)> {
        let path = self.text(UNIXSOCKET);
        let perm = u32::try_from(self.num(UNIXSOCKETPERM)).unwrap_or(0);
        (!path.is_empty()).then_some((path, perm))
    }

    /// Addresses to listen on; empty means none (Redis `bind ""`).
    pub fn bind(&self) -> Vec<String> {
        match &*self.val(BIND) {
            Val::Bind(addrs) => addrs.clone(),
            _ => Vec::new(),
        }
    }

    pub fn databases(&self) -> usize {
        usize::try_from(self.num(DATABASES)).unwrap_or(0)
    }

    /// One of `debug`, `verbose`, `notice`, `warning`.
    pub fn loglevel(&self) -> String {
        enum_name(table::LOGLEVELS, self.num(LOGLEVEL), false)
    }

    /// `loglevel` as Redis's verbosity number (0 debug .. 3 warning), read
    /// without allocating: the log checks it at every line.
    pub fn loglevel_value(&self) -> i64 {
        self.num(LOGLEVEL)
    }

    /// Print the ASCII logo at start-up even when stdout is not a terminal.
    pub fn always_show_logo(&self) -> bool {
        self.flag(ALWAYS_SHOW_LOGO)
    }

    /// Accepted; reddish writes nothing to syslog (ARCHITECTURE.md).
    pub fn syslog_enabled(&self) -> bool {
        self.flag(SYSLOG_ENABLED)
    }

    /// Log file path; empty means standard output.
    pub fn logfile(&self) -> String {
        self.text(LOGFILE)
    }

    /// reddish's own `json` setting (not in Redis; hidden from patterns).
    pub fn json(&self) -> bool {
        self.flag(JSON)
    }

    pub fn maxclients(&self) -> u64 {
        self.unsigned(MAXCLIENTS)
    }

    /// Server cron frequency, already clamped to 1..=500 like Redis.
    pub fn hz(&self) -> u32 {
        u32::try_from(self.num(HZ)).unwrap_or(10)
    }

    /// Seconds between the PINGs a master sends its replicas.
    pub fn repl_ping_replica_period(&self) -> u64 {
        self.unsigned(REPL_PING_REPLICA_PERIOD)
    }

    pub fn dynamic_hz(&self) -> bool {
        self.flag(DYNAMIC_HZ)
    }

    pub fn proto_max_bulk_len(&self) -> u64 {
        self.unsigned(PROTO_MAX_BULK_LEN)
    }

    pub fn client_query_buffer_limit(&self) -> u64 {
        self.unsigned(CLIENT_QUERY_BUFFER_LIMIT)
    }

    pub fn active_expire_effort(&self) -> u32 {
        u32::try_from(self.num(ACTIVE_EXPIRE_EFFORT)).unwrap_or(1)
    }

    /// RDB snapshot points as (seconds, changes); empty means no snapshots.
    pub fn save(&self) -> Vec<(i64, i32)> {
        match &*self.val(SAVE) {
            Val::Save(points) => points.clone(),
            _ => Vec::new(),
        }
    }

    pub fn appendonly(&self) -> bool {
        self.flag(APPENDONLY)
    }

    /// Warnings for settings reddish accepts but does not honour
    /// (`daemonize`), one per setting currently set so.
    /// `only` restricts them to the named settings (CONFIG SET's names, any
    /// case or alias); the server logs them at start-up and on CONFIG SET.
    pub fn unenforced_warnings(&self, only: Option<&[&[u8]]>) -> Vec<String> {
        let named = |i: usize| {
            only.is_none_or(|names| names.iter().any(|n| lookup(n).is_some_and(|(j, _)| j == i)))
        };
        [DAEMONIZE]
            .into_iter()
            .filter(|&i| named(i))
            .filter_map(|i| self.unenforced_warning(i))
            .collect()
    }

    fn unenforced_warning(&self, i: usize) -> Option<String> {
        match i {
            DAEMONIZE => self.daemonize().then(|| {
                "WARNING daemonize is yes but reddish does not fork: it stays in the foreground (run it under a service manager)".to_string()
            }),
            _ => None,
        }
    }

    pub fn repl_diskless_load(&self) -> DisklessLoad {
        match self.num(REPL_DISKLESS_LOAD) {
            1 => DisklessLoad::OnEmptyDb,
            2 => DisklessLoad::Swapdb,
            _ => DisklessLoad::Disabled,
        }
    }

    /// `oom-score-adj` (0 no, 1 relative, 2 absolute) and
    /// `oom-score-adj-values` (master, replica, background child).
    pub fn oom_score_adj(&self) -> (i64, [i32; 3]) {
        let values = match &*self.val(OOM_SCORE_ADJ_VALUES) {
            Val::Oom(values) => *values,
            _ => DEFAULT_OOM,
        };
        (self.num(OOM_SCORE_ADJ), values)
    }

    /// `shutdown-timeout`: seconds a shutdown waits for lagging replicas.
    pub fn shutdown_timeout(&self) -> u64 {
        self.unsigned(SHUTDOWN_TIMEOUT)
    }

    /// `shutdown-on-sigint`'s flag bits (1 save, 2 nosave, 4 now, 8 force).
    pub fn shutdown_on_sigint(&self) -> i64 {
        self.num(SHUTDOWN_ON_SIGINT)
    }

    /// `shutdown-on-sigterm`'s flag bits, as [`Config::shutdown_on_sigint`].
    pub fn shutdown_on_sigterm(&self) -> i64 {
        self.num(SHUTDOWN_ON_SIGTERM)
    }

    /// `appendfsync` (the AOF reads it on every write: no name is made).
    pub fn fsync_policy(&self) -> FsyncPolicy {
        let value = self.num(APPENDFSYNC);
        let name = table::APPENDFSYNC.iter().find(|(_, v)| *v == value);
        match name.map(|(name, _)| *name) {
            Some("always") => FsyncPolicy::Always,
            Some("no") => FsyncPolicy::No,
            _ => FsyncPolicy::Everysec,
        }
    }

    pub fn appendfilename(&self) -> String {
        self.text(APPENDFILENAME)
    }

    pub fn appenddirname(&self) -> String {
        self.text(APPENDDIRNAME)
    }

    /// A torn last command of the AOF is dropped (else loading fails).
    pub fn aof_load_truncated(&self) -> bool {
        self.flag(AOF_LOAD_TRUNCATED)
    }

    /// The AOF base file is an RDB file (else commands).
    pub fn aof_use_rdb_preamble(&self) -> bool {
        self.flag(AOF_USE_RDB_PREAMBLE)
    }

    /// `#TS:<unix secs>` annotations in the AOF.
    pub fn aof_timestamp_enabled(&self) -> bool {
        self.flag(AOF_TIMESTAMP_ENABLED)
    }

    /// No AOF fsync while a rewrite writes its base file.
    pub fn no_appendfsync_on_rewrite(&self) -> bool {
        self.flag(NO_APPENDFSYNC_ON_REWRITE)
    }

    /// History files are kept after a rewrite instead of deleted.
    pub fn aof_disable_auto_gc(&self) -> bool {
        self.flag(AOF_DISABLE_AUTO_GC)
    }

    /// Growth (percent of the base) that starts an automatic rewrite; 0: never.
    pub fn auto_aof_rewrite_percentage(&self) -> u64 {
        self.unsigned(AUTO_AOF_REWRITE_PERCENTAGE)
    }

    pub fn auto_aof_rewrite_min_size(&self) -> u64 {
        self.unsigned(AUTO_AOF_REWRITE_MIN_SIZE)
    }

    /// Working directory, absolute. Redis `chdir`s into it; we only check
    /// and remember it, so paths (dbfilename, AOF) should be joined to it.
    pub fn dir(&self) -> String {
        self.text(DIR)
    }

    pub fn dbfilename(&self) -> String {
        self.text(DBFILENAME)
    }

    /// How many replicas must be within `min-replicas-max-lag` for writes; 0: none.
    pub fn min_replicas_to_write(&self) -> u64 {
        self.unsigned(MIN_REPLICAS_TO_WRITE)
    }

    /// Seconds since a replica's last acknowledgement that still count it as good.
    pub fn min_replicas_max_lag(&self) -> u64 {
        self.unsigned(MIN_REPLICAS_MAX_LAG)
    }

    /// `maxmemory-clients`: bytes, or minus a percentage of `maxmemory`
    /// (as Redis stores it); 0: no client eviction.
    pub fn maxmemory_clients(&self) -> i64 {
        self.num(MAXMEMORY_CLIENTS)
    }

    /// 0 means no limit.
    pub fn maxmemory(&self) -> u64 {
        self.unsigned(MAXMEMORY)
    }

    /// E.g. `noeviction`, `allkeys-lru`.
    pub fn maxmemory_policy(&self) -> String {
        enum_name(table::MAXMEMORY_POLICIES, self.num(MAXMEMORY_POLICY), false)
    }

    /// `maxmemory-policy` as a value, read without allocating: key lookups
    /// consult it to know whether to keep the LRU clock or the LFU counter.
    pub fn eviction_policy(&self) -> EvictionPolicy {
        match self.num(MAXMEMORY_POLICY) {
            0 => EvictionPolicy::VolatileLru,
            1 => EvictionPolicy::VolatileLfu,
            2 => EvictionPolicy::VolatileRandom,
            3 => EvictionPolicy::VolatileTtl,
            4 => EvictionPolicy::AllkeysLru,
            5 => EvictionPolicy::AllkeysLfu,
            6 => EvictionPolicy::AllkeysRandom,
            _ => EvictionPolicy::NoEviction,
        }
    }

    /// `maxmemory-eviction-tenacity`, 0..=100.
    pub fn maxmemory_eviction_tenacity(&self) -> u32 {
        u32::try_from(self.num(MAXMEMORY_EVICTION_TENACITY)).unwrap_or(10)
    }

    pub fn maxmemory_samples(&self) -> u32 {
        u32::try_from(self.num(MAXMEMORY_SAMPLES)).unwrap_or(5)
    }

    /// Idle client timeout in seconds; 0 means never.
    pub fn timeout(&self) -> u64 {
        self.unsigned(TIMEOUT)
    }

    pub fn tcp_keepalive(&self) -> u32 {
        u32::try_from(self.num(TCP_KEEPALIVE)).unwrap_or(0)
    }

    pub fn tcp_backlog(&self) -> u32 {
        u32::try_from(self.num(TCP_BACKLOG)).unwrap_or(511)
    }

    pub fn protected_mode(&self) -> bool {
        self.flag(PROTECTED_MODE)
    }

    pub fn daemonize(&self) -> bool {
        self.flag(DAEMONIZE)
    }

    /// Empty means no pid file.
    pub fn pidfile(&self) -> String {
        self.text(PIDFILE)
    }

    /// The default user's password; `None` when unset (empty).
    pub fn requirepass(&self) -> Option<Vec<u8>> {
        self.bytes_if_set(REQUIREPASS)
    }

    /// Enabled keyspace notification classes, as [`notify`] bits.
    pub fn notify_keyspace_events(&self) -> u32 {
        u32::try_from(self.num(NOTIFY_KEYSPACE_EVENTS)).unwrap_or(0)
    }

    pub fn lazyfree_lazy_user_del(&self) -> bool {
        self.flag(LAZYFREE_LAZY_USER_DEL)
    }

    pub fn lazyfree_lazy_user_flush(&self) -> bool {
        self.flag(LAZYFREE_LAZY_USER_FLUSH)
    }

    pub fn lazyfree_lazy_expire(&self) -> bool {
        self.flag(LAZYFREE_LAZY_EXPIRE)
    }

    pub fn lazyfree_lazy_eviction(&self) -> bool {
        self.flag(LAZYFREE_LAZY_EVICTION)
    }

    pub fn lazyfree_lazy_server_del(&self) -> bool {
        self.flag(LAZYFREE_LAZY_SERVER_DEL)
    }

    /// Negative: size limit per node (-1 = 4kb ... -5 = 64kb); positive:
    /// entries per node.
    pub fn list_max_listpack_size(&self) -> i64 {
        self.num(LIST_MAX_LISTPACK_SIZE)
    }

    pub fn list_compress_depth(&self) -> u64 {
        self.unsigned(LIST_COMPRESS_DEPTH)
    }

    pub fn hash_max_listpack_entries(&self) -> u64 {
        self.unsigned(HASH_MAX_LISTPACK_ENTRIES)
    }

    pub fn hash_max_listpack_value(&self) -> u64 {
        self.unsigned(HASH_MAX_LISTPACK_VALUE)
    }

    pub fn set_max_intset_entries(&self) -> u64 {
        self.unsigned(SET_MAX_INTSET_ENTRIES)
    }

    pub fn zset_max_listpack_entries(&self) -> u64 {
        self.unsigned(ZSET_MAX_LISTPACK_ENTRIES)
    }

    pub fn zset_max_listpack_value(&self) -> u64 {
        self.unsigned(ZSET_MAX_LISTPACK_VALUE)
    }

    pub fn stream_node_max_bytes(&self) -> u64 {
        self.unsigned(STREAM_NODE_MAX_BYTES)
    }

    pub fn stream_node_max_entries(&self) -> u64 {
        self.unsigned(STREAM_NODE_MAX_ENTRIES)
    }

    pub fn hll_sparse_max_bytes(&self) -> u64 {
        self.unsigned(HLL_SPARSE_MAX_BYTES)
    }

    /// Microseconds; -1 disables the slow log, 0 logs everything.
    pub fn slowlog_log_slower_than(&self) -> i64 {
        self.num(SLOWLOG_LOG_SLOWER_THAN)
    }

    pub fn slowlog_max_len(&self) -> u64 {
        self.unsigned(SLOWLOG_MAX_LEN)
    }

    pub fn latency_tracking(&self) -> bool {
        self.flag(LATENCY_TRACKING)
    }

    /// The percentiles INFO latencystats reports.
    pub fn latency_percentiles(&self) -> Vec<f64> {
        match &*self.val(LATENCY_PERCENTILES) {
            Val::Percentiles(ps) => ps.clone(),
            _ => Vec::new(),
        }
    }

    /// Milliseconds; 0 disables the latency monitor.
    pub fn latency_monitor_threshold(&self) -> u64 {
        self.unsigned(LATENCY_MONITOR_THRESHOLD)
    }

    pub fn cluster_enabled(&self) -> bool {
        self.flag(CLUSTER_ENABLED)
    }

    pub fn replica_read_only(&self) -> bool {
        self.flag(REPLICA_READ_ONLY)
    }

    /// `propagation-error-behavior`: whether an error applying the
    /// master's stream (`panic`, `panic-on-replicas`) or the AOF (`panic`)
    /// stops the server.
    pub fn propagation_error_panics(&self, from_master: bool) -> bool {
        match self.num(PROPAGATION_ERROR_BEHAVIOR) {
            1 => true,
            2 => from_master,
            _ => false,
        }
    }

    /// Seconds without a byte from the master before the link is dropped.
    pub fn repl_timeout(&self) -> u64 {
        self.unsigned(REPL_TIMEOUT)
    }

    /// The password (and user) a replica AUTHs with to its master.
    pub fn masterauth(&self) -> Option<Vec<u8>> {
        self.bytes_if_set(MASTERAUTH)
    }

    /// `bind-source-addr`: the address outgoing links (the master link)
    /// connect from, None when unset.
    pub fn bind_source_addr(&self) -> Option<String> {
        Some(self.text(BIND_SOURCE_ADDR)).filter(|addr| !addr.is_empty())
    }

    pub fn masteruser(&self) -> Option<Vec<u8>> {
        self.bytes_if_set(MASTERUSER)
    }

    /// What a replica tells its master to show for it (REPLCONF).
    pub fn replica_announce_ip(&self) -> Option<String> {
        Some(self.text(REPLICA_ANNOUNCE_IP)).filter(|ip| !ip.is_empty())
    }

    pub fn replica_announce_port(&self) -> u16 {
        u16::try_from(self.num(REPLICA_ANNOUNCE_PORT)).unwrap_or(0)
    }

    /// A replica whose link is down still answers from its data.
    pub fn replica_serve_stale_data(&self) -> bool {
        self.flag(REPLICA_SERVE_STALE_DATA)
    }

    pub fn replica_priority(&self) -> i64 {
        self.num(REPLICA_PRIORITY)
    }

    pub fn replica_announced(&self) -> bool {
        self.flag(REPLICA_ANNOUNCED)
    }

    /// REPLICAOF changes the master: CONFIG GET replicaof and CONFIG
    /// REWRITE show the one in use, as Redis reads `server.masterhost`.
    pub fn set_replicaof(&self, master: Option<(&str, u16)>) {
        let val =
            Val::ReplicaOf(master.map(|(host, port)| (host.as_bytes().to_vec(), i64::from(port))));
        self.store(REPLICAOF, New::Val(val));
    }

    /// The master to replicate from (`replicaof host port`), if any.
    pub fn replicaof(&self) -> Option<(String, u16)> {
        match &*self.val(REPLICAOF) {
            Val::ReplicaOf(Some((host, port))) => Some((
                String::from_utf8_lossy(host).into_owned(),
                u16::try_from(*port).unwrap_or(0),
            )),
            _ => None,
        }
    }

    /// `repl-diskless-sync`: a full sync streams its snapshot to a replica
    /// that reads `$EOF:` (otherwise it is gathered and sent with its length).
    pub fn repl_diskless_sync(&self) -> bool {
        self.flag(REPL_DISKLESS_SYNC)
    }

    /// `repl-diskless-sync-delay`: seconds a streamed snapshot waits for
    /// more replicas to share it.
    pub fn repl_diskless_sync_delay(&self) -> u64 {
        self.unsigned(REPL_DISKLESS_SYNC_DELAY)
    }

    /// `repl-diskless-sync-max-replicas`: this many waiting replicas start
    /// the streamed snapshot before the delay is over (0: no such number).
    pub fn repl_diskless_sync_max_replicas(&self) -> u64 {
        self.unsigned(REPL_DISKLESS_SYNC_MAX_REPLICAS)
    }

    /// `repl-backlog-size`: stream bytes kept for partial resyncs.
    pub fn repl_backlog_size(&self) -> u64 {
        self.unsigned(REPL_BACKLOG_SIZE)
    }

    /// `repl-backlog-ttl`: seconds without replicas before the backlog goes
    /// (0: never).
    pub fn repl_backlog_ttl(&self) -> u64 {
        self.unsigned(REPL_BACKLOG_TTL)
    }

    /// `rdb-key-save-delay`: see `keyspace::snapshot`.
    pub fn rdb_key_save_delay(&self) -> i64 {
        self.num(RDB_KEY_SAVE_DELAY)
    }

    /// `key-load-delay`: microseconds the loader sleeps per key.
    pub fn key_load_delay(&self) -> i64 {
        self.num(KEY_LOAD_DELAY)
    }

    pub fn busy_reply_threshold(&self) -> u64 {
        self.unsigned(BUSY_REPLY_THRESHOLD)
    }

    pub fn io_threads(&self) -> u32 {
        u32::try_from(self.num(IO_THREADS)).unwrap_or(1)
    }

    /// Limits for normal, replica and pubsub clients, in that order.
    pub fn client_output_buffer_limits(&self) -> OutputBufferLimits {
        match &*self.val(CLIENT_OUTPUT_BUFFER_LIMIT) {
            Val::Obuf(limits) => *limits,
            _ => DEFAULT_OBUF,
        }
    }

    /// Whether DEBUG may run for this client (`enable-debug-command`:
    /// `yes`, or `local` and the client is local); Redis
    /// `allowProtectedAction`.
    pub fn debug_command_allowed(&self, local_client: bool) -> bool {
        allow_protected(self.num(ENABLE_DEBUG_COMMAND), local_client)
    }

    /// Whether MODULE LOAD/LOADEX/UNLOAD may run for this client
    /// (`enable-module-command`, as `enable-debug-command`).
    pub fn module_command_allowed(&self, local_client: bool) -> bool {
        allow_protected(self.num(ENABLE_MODULE_COMMAND), local_client)
    }

    /// `stop-writes-on-bgsave-error`: refuse writes while saving fails.
    pub fn stop_writes_on_bgsave_error(&self) -> bool {
        self.flag(STOP_WRITES_ON_BGSAVE_ERROR)
    }

    /// `rdbcompression`: LZF for strings over 20 bytes in RDB files and DUMP.
    pub fn rdbcompression(&self) -> bool {
        self.flag(RDBCOMPRESSION)
    }

    /// `rdbchecksum`: write a CRC-64 (else zero) and check it on load.
    pub fn rdbchecksum(&self) -> bool {
        self.flag(RDBCHECKSUM)
    }

    pub fn activerehashing(&self) -> bool {
        self.flag(ACTIVEREHASHING)
    }

    /// Whether the allocator purges freed memory on its own thread.
    pub fn jemalloc_bg_thread(&self) -> bool {
        self.flag(JEMALLOC_BG_THREAD)
    }

    /// Starts or stops jemalloc's purging thread as `jemalloc-bg-thread`
    /// says: at startup, and on CONFIG SET, which Redis applies at once. With
    /// it, memory freed by a flush or a big DEL goes back to the system over
    /// the next seconds even when no later allocation triggers a purge.
    pub fn apply_jemalloc_bg_thread(&self) {
        if let Err(e) = tikv_jemalloc_ctl::background_thread::write(self.jemalloc_bg_thread()) {
            tracing::warn!("cannot set jemalloc's background thread: {e}");
        }
    }

    /// Whether the process refuses transparent huge pages (read at startup).
    pub fn disable_thp(&self) -> bool {
        self.flag(DISABLE_THP)
    }

    pub fn use_exit_on_panic(&self) -> bool {
        self.flag(USE_EXIT_ON_PANIC)
    }

    pub fn lfu_log_factor(&self) -> u32 {
        u32::try_from(self.num(LFU_LOG_FACTOR)).unwrap_or(10)
    }

    pub fn lfu_decay_time(&self) -> u32 {
        u32::try_from(self.num(LFU_DECAY_TIME)).unwrap_or(1)
    }

    pub fn tracking_table_max_keys(&self) -> u64 {
        self.unsigned(TRACKING_TABLE_MAX_KEYS)
    }

    pub fn acllog_max_len(&self) -> u64 {
        self.unsigned(ACLLOG_MAX_LEN)
    }

    /// `acl-pubsub-default allchannels`: new users and selectors may use
    /// every channel (Redis 7.0's default is `resetchannels`).
    pub fn acl_pubsub_default_all(&self) -> bool {
        self.flag(ACL_PUBSUB_DEFAULT)
    }

    /// The config file's `user` lines, each the name and its rules.
    pub fn configured_users(&self) -> Vec<Vec<Vec<u8>>> {
        self.users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The config file's `rename-command` lines, in order.
    pub fn renamed_commands(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.renames
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The ACL file (ACL LOAD / SAVE) as configured; empty when none.
    pub fn aclfile(&self) -> String {
        self.text(ACLFILE)
    }

    /// Where the ACL file is: a relative name is in `dir`, as Redis, which
    /// changes into `dir`, finds it.
    pub fn aclfile_path(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(self.dir()).join(self.aclfile())
    }

    // ----- Internals.

    fn num(&self, i: usize) -> i64 {
        self.nums[i].load(Ordering::Relaxed)
    }

    fn unsigned(&self, i: usize) -> u64 {
        // Unsigned settings are stored as their bit pattern, like Redis's
        // long long casts; signed ones here are never negative.
        self.num(i) as u64
    }

    fn flag(&self, i: usize) -> bool {
        self.num(i) != 0
    }

    fn val(&self, i: usize) -> std::sync::RwLockReadGuard<'_, Val> {
        self.vals[i].read().unwrap_or_else(PoisonError::into_inner)
    }

    /// A string setting's bytes; `None` when empty (unset).
    fn bytes_if_set(&self, i: usize) -> Option<Vec<u8>> {
        match &*self.val(i) {
            Val::Str(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }

    fn text(&self, i: usize) -> String {
        match &*self.val(i) {
            Val::Str(s) => String::from_utf8_lossy(s).into_owned(),
            _ => String::new(),
        }
    }

    fn protected_allowed(&self, local_client: bool) -> bool {
        allow_protected(self.num(ENABLE_PROTECTED_CONFIGS), local_client)
    }

    fn store(&self, i: usize, new: New) {
        match new {
            New::Num(v) => self.nums[i].store(v, Ordering::Relaxed),
            New::Val(v) => {
                *self.vals[i].write().unwrap_or_else(PoisonError::into_inner) = v;
            }
        }
    }

    /// Parses `args` for setting `i` the way its Redis `set` interface
    /// function does, reading current values where Redis merges into them
    /// (`client-output-buffer-limit`, `save` while loading, relative `dir`).
    /// A setting reddish has no subsystem for takes only its default.
    fn parse(
        &self,
        def: &Def,
        i: usize,
        args: &[&[u8]],
        state: &mut LoadState,
    ) -> Result<New, String> {
        let new = self.parse_value(def, i, args, state)?;
        if let New::Val(Val::Str(value)) = &new {
            if let Some(why) = crate::tls::refusal(def.name, value) {
                return Err(why);
            }
        }
        match table::unsupported(def.name) {
            Some(why) if !is_default(def, &new) => Err(why.to_string()),
            _ => Ok(new),
        }
    }

    fn parse_value(
        &self,
        def: &Def,
        i: usize,
        args: &[&[u8]],
        state: &mut LoadState,
    ) -> Result<New, String> {
        let one = || -> Result<&[u8], String> {
            match args {
                [a] => Ok(a),
                _ => Err("wrong number of arguments".to_string()),
            }
        };
        match def.kind {
            Kind::Bool { check, .. } => {
                let v = one()?;
                let b = if v.eq_ignore_ascii_case(b"yes") {
                    1
                } else if v.eq_ignore_ascii_case(b"no") {
                    0
                } else {
                    return Err("argument must be 'yes' or 'no'".to_string());
                };
                if let Some(check) = check {
                    check(b)?;
                }
                Ok(New::Num(b))
            }
            Kind::Num {
                min,
                max,
                unsigned,
                fmt,
                fixup,
                ..
            } => {
                let v = parse_number(one()?, fmt)?;
                check_bounds(v, min, max, unsigned, fmt)?;
                // `hz` is clamped after loading too, so always; the backlog
                // minimum only applies on CONFIG SET (a file's `1k` stays).
                Ok(New::Num(match fixup {
                    Fixup::Hz => v.clamp(MIN_HZ, MAX_HZ),
                    Fixup::MinBacklog if state.runtime => v.max(REPL_BACKLOG_MIN_SIZE),
                    Fixup::None | Fixup::MinBacklog => v,
                }))
            }
            Kind::Enum { choices, check, .. } => {
                let multi = def.flags & MULTI_ARG != 0;
                let v = enum_value(choices, args, multi).ok_or_else(|| {
                    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                    format!(
                        "argument(s) must be one of the following: {}",
                        names.join(", ")
                    )
                })?;
                if let Some(check) = check {
                    check(v)?;
                }
                Ok(New::Num(v))
            }
            Kind::Str { check, .. } => {
                let v = one()?;
                if let Some(check) = check {
                    check(v)?;
                }
                Ok(New::Val(Val::Str(v.to_vec())))
            }
            Kind::Special(sp) => self.parse_special(sp, i, args, state),
        }
    }

    /// A setting with its own syntax: each has the parser of Redis's
    /// `set...Option` for it.
    fn parse_special(
        &self,
        sp: Special,
        i: usize,
        args: &[&[u8]],
        state: &mut LoadState,
    ) -> Result<New, String> {
        match sp {
            Special::Dir => self.parse_dir(i, args),
            Special::Save => self.parse_save(args, state),
            Special::ClientOutputBufferLimit => self.parse_output_buffer_limits(args),
            Special::OomScoreAdjValues => parse_oom_score_adj_values(args),
            Special::NotifyKeyspaceEvents => parse_notify_keyspace_events(args),
            Special::Bind => parse_bind(args),
            Special::ReplicaOf => parse_replicaof(args),
            Special::LatencyPercentiles => parse_latency_percentiles(args),
        }
    }

    /// Redis `setConfigDirOption`: chdir() and report strerror.
    fn parse_dir(&self, i: usize, args: &[&[u8]]) -> Result<New, String> {
        let [arg] = args else {
            return Err("wrong number of arguments".to_string());
        };
        let base = PathBuf::from(self.text(i));
        Ok(New::Val(Val::Str(resolve_dir(&base, arg)?)))
    }

    /// Redis `setConfigSaveOption`.
    fn parse_save(&self, args: &[&[u8]], state: &mut LoadState) -> Result<New, String> {
        let args = if args == [b""] { &[][..] } else { args };
        if args.len() % 2 == 1 {
            return Err("Invalid save parameters".to_string());
        }
        let mut points = Vec::new();
        for pair in args.chunks(2) {
            let seconds = strtoll_whole(pair[0]).filter(|&v| v >= 1);
            let changes = strtoll_whole(pair[1]).filter(|&v| v >= 0);
            let (Some(seconds), Some(changes)) = (seconds, changes) else {
                return Err("Invalid save parameters".to_string());
            };
            // Redis stores the change count in an int.
            points.push((seconds, changes as i32));
        }
        if state.reading && state.save_loaded && !args.is_empty() {
            let mut all = self.save();
            all.extend(points);
            points = all;
        }
        state.save_loaded = true;
        Ok(New::Val(Val::Save(points)))
    }

    /// Redis `updateClientOutputBufferLimit`.
    fn parse_output_buffer_limits(&self, args: &[&[u8]]) -> Result<New, String> {
        if !args.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".to_string());
        }
        let mut limits = self.client_output_buffer_limits();
        for group in args.chunks(4) {
            let class = group[0].to_ascii_lowercase();
            let slot = match class.as_slice() {
                b"normal" => 0,
                b"slave" | b"replica" => 1,
                b"pubsub" => 2,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".to_string(),
                    )
                }
            };
            let hard = memtoull(group[1]);
            let soft = memtoull(group[2]);
            // strtoll() into an int, as Redis does.
            let seconds = strtoll_whole(group[3]).map(|v| v as i32);
            match (hard, soft, seconds) {
                (Some(hard_bytes), Some(soft_bytes), Some(soft_seconds)) if soft_seconds >= 0 => {
                    limits[slot] = OutputBufferLimit {
                        hard_bytes,
                        soft_bytes,
                        soft_seconds,
                    };
                }
                _ => return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .to_string(),
                ),
            }
        }
        Ok(New::Val(Val::Obuf(limits)))
    }

    /// CONFIG GET rendering of setting `i` (each type's Redis `get`).
    fn render(&self, i: usize) -> Vec<u8> {
        let def = &TABLE[i];
        let n = self.num(i);
        let text = match def.kind {
            Kind::Bool { .. } => if n != 0 { "yes" } else { "no" }.to_string(),
            Kind::Num { fmt, .. } => match fmt {
                NumFmt::MemoryPercent if n < 0 => format!("{}%", n.unsigned_abs()),
                NumFmt::Memory | NumFmt::MemoryPercent => (n as u64).to_string(),
                NumFmt::Octal => format!("{n:o}"),
                NumFmt::Int => n.to_string(),
            },
            Kind::Enum { choices, .. } => enum_name(choices, n, def.flags & MULTI_ARG != 0),
            Kind::Special(Special::NotifyKeyspaceEvents) => {
                keyspace_events_to_string(u32::try_from(n).unwrap_or(0))
            }
            Kind::Str { .. } | Kind::Special(_) => return render_val(&self.val(i)),
        };
        text.into_bytes()
    }

    /// Redis `loadServerConfigFromString`: `text` is split on `\n`, each
    /// line trimmed, `#` lines and blank lines skipped, the rest split with
    /// `sdssplitargs` and applied in order.
    fn load_text(&self, text: &[u8], state: &mut LoadState) -> Result<(), String> {
        for (n, raw) in text.split(|&c| c == b'\n').enumerate() {
            let line = trim(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let fail = |msg: &str| {
                format!(
                    "\n*** FATAL CONFIG FILE ERROR ({BANNER}) ***\nReading the configuration file, at line {}\n>>> '{}'\n{msg}",
                    n + 1,
                    String::from_utf8_lossy(line)
                )
            };
            let Some(mut argv) = split_args(line) else {
                return Err(fail("Unbalanced quotes in configuration line"));
            };
            if argv.is_empty() {
                continue;
            }
            argv[0].make_ascii_lowercase();
            let argc = argv.len();
            let args: Vec<&[u8]> = argv[1..].iter().map(Vec::as_slice).collect();
            if let Some((i, _)) = lookup(&argv[0]) {
                let def = &TABLE[i];
                if def.flags & MULTI_ARG == 0 && argc != 2 {
                    return Err(fail("wrong number of arguments"));
                }
                // Redis 7.0.1+: one non-empty argument to a multi-argument
                // setting is split again, so `save "60 1 10 5"` (and the
                // command line's `--save "60 1"`) work; bad quotes inside
                // give no arguments at all.
                let resplit: Vec<Vec<u8>>;
                let args = if def.flags & MULTI_ARG != 0 && argc == 2 && !args[0].is_empty() {
                    resplit = split_args(args[0]).unwrap_or_default();
                    resplit.iter().map(Vec::as_slice).collect()
                } else {
                    args
                };
                let new = self.parse(def, i, &args, state).map_err(|e| fail(&e))?;
                self.store(i, new);
                continue;
            }
            match (argv[0].as_slice(), argc) {
                // Redis's `deprecated_configs`: accepted and ignored.
                (
                    b"list-max-ziplist-entries"
                    | b"list-max-ziplist-value"
                    | b"lua-replicate-commands",
                    2,
                ) => {}
                (b"include", 2) => {
                    let content = read_include(args[0])?;
                    self.load_text(&content, state)?;
                    // Redis clears `reading_config_file` when the included
                    // file is done, for the rest of this file too.
                    state.reading = false;
                }
                (b"rename-command", 3) => {
                    let mut renames = self.renames.lock().unwrap_or_else(PoisonError::into_inner);
                    renames.push((args[0].to_vec(), args[1].to_vec()));
                    crate::commands::check_renames(&renames).map_err(fail)?;
                }
                (b"user", 2..) => {
                    let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
                    if users.iter().any(|u| u[0] == args[0]) {
                        return Err(fail(&format!(
                            "Error in user declaration '{}': Duplicate user found. A user can only be defined once in config files",
                            String::from_utf8_lossy(args[0])
                        )));
                    }
                    let pubsub_all = self.acl_pubsub_default_all();
                    if let Err((j, why)) =
                        crate::commands::validate_config_user(&args[1..], pubsub_all)
                    {
                        // Redis names `argv[j]` of the whole line, which is
                        // not always the rule at fault: kept for the same message.
                        let shown = argv.get(j).map_or(&b""[..], Vec::as_slice);
                        return Err(fail(&format!(
                            "Error in user declaration '{}': {}",
                            String::from_utf8_lossy(shown),
                            why.message()
                        )));
                    }
                    users.push(args.iter().map(|a| a.to_vec()).collect());
                }
                (b"loadmodule", 2..) => {
                    return Err(fail(&format!(
                        "'{}' is not supported by reddish",
                        String::from_utf8_lossy(&argv[0])
                    )));
                }
                (name, _) if name.contains(&b'.') => {
                    // Module settings: queued by Redis for modules; we have
                    // none, so a well-formed one is ignored.
                    if argc != 2 {
                        return Err(fail("Module config specified without value"));
                    }
                }
                (b"sentinel", 1) => {}
                (b"sentinel", _) => {
                    return Err(fail("sentinel directive while not in sentinel mode"));
                }
                _ => return Err(fail("Bad directive or wrong number of arguments")),
            }
        }
        Ok(())
    }

    /// The checks at the end of Redis `loadServerConfigFromString`.
    fn check_loaded(&self) -> Result<(), String> {
        let fatal = |msg: &str| format!("\n*** FATAL CONFIG FILE ERROR ({BANNER}) ***\n{msg}");
        let logfile = self.logfile();
        if !logfile.is_empty() {
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&logfile)
                .map_err(|e| fatal(&format!("Can't open the log file: {}", strerror(&e))))?;
        }
        if self.cluster_enabled() && self.replicaof().is_some() {
            return Err(fatal("replicaof directive not allowed in cluster mode"));
        }
        Ok(())
    }
}

/// Whether `name` (any case, or an alias) is a setting whose value is a
/// secret (`masterauth`, `masteruser`, `requirepass`: Redis's
/// `SENSITIVE_CONFIG`).
pub fn is_sensitive(name: &[u8]) -> bool {
    lookup(name).is_some_and(|(i, _)| TABLE[i].flags & SENSITIVE != 0)
}

/// Redis `allowProtectedAction`.
/// The default `io-threads`: one event loop per core but one, at least one.
/// Redis defaults to 1; reddish is meant to use the machine's cores, but one
/// core is left to the background threads (active expiry, lazyfree), the
/// kernel's network processing and co-located clients: on 2 cores a second
/// loop cost 16% more CPU per request than one (BENCHMARKS.md, `io`).
pub fn default_io_threads() -> i64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores as i64 - 1).clamp(1, 128)
}

fn allow_protected(setting: i64, local_client: bool) -> bool {
    setting == table::PROTECTED_ACTION_YES
        || (setting == table::PROTECTED_ACTION_LOCAL && local_client)
}

fn default_special(sp: Special) -> Val {
    match sp {
        Special::Dir => Val::Str(
            std::env::current_dir()
                .map(|d| d.to_string_lossy().into_owned().into_bytes())
                .unwrap_or_default(),
        ),
        Special::Save => Val::Save(DEFAULT_SAVE.to_vec()),
        Special::ClientOutputBufferLimit => Val::Obuf(DEFAULT_OBUF),
        Special::OomScoreAdjValues => Val::Oom(DEFAULT_OOM),
        Special::Bind => Val::Bind(DEFAULT_BIND.iter().map(|s| s.to_string()).collect()),
        Special::ReplicaOf => Val::ReplicaOf(None),
        Special::LatencyPercentiles => Val::Percentiles(DEFAULT_PERCENTILES.to_vec()),
        Special::NotifyKeyspaceEvents => Val::None,
    }
}

/// Whether a parsed value is the setting's compiled-in default (settings
/// with their own syntax never are: none of them is refused).
fn is_default(def: &Def, new: &New) -> bool {
    match (def.kind, new) {
        (Kind::Bool { default, .. }, New::Num(v)) => *v == i64::from(default),
        (Kind::Num { default, .. } | Kind::Enum { default, .. }, New::Num(v)) => *v == default,
        (Kind::Str { default, .. }, New::Val(Val::Str(v))) => v == default.as_bytes(),
        _ => false,
    }
}

fn render_val(v: &Val) -> Vec<u8> {
    let join = |parts: Vec<String>| parts.join(" ").into_bytes();
    match v {
        Val::None => Vec::new(),
        Val::Str(s) => s.clone(),
        Val::Save(points) => join(points.iter().map(|(s, c)| format!("{s} {c}")).collect()),
        Val::Bind(addrs) => addrs.join(" ").into_bytes(),
        Val::Obuf(limits) => join(
            OBUF_CLASSES
                .iter()
                .zip(limits)
                .map(|(class, l)| {
                    format!(
                        "{class} {} {} {}",
                        l.hard_bytes, l.soft_bytes, l.soft_seconds
                    )
                })
                .collect(),
        ),
        Val::Oom(values) => join(values.iter().map(i32::to_string).collect()),
        Val::ReplicaOf(None) => Vec::new(),
        Val::ReplicaOf(Some((host, port))) => {
            let mut out = host.clone();
            out.extend_from_slice(format!(" {port}").as_bytes());
            out
        }
        Val::Percentiles(ps) => join(ps.iter().map(|p| format_percentile(*p)).collect()),
    }
}

/// Redis `numericParseString` (7.0): memory values via `memtoull`, then
/// `N%` for percent settings (stored negated), octal via `strtoll(.., 8)`,
/// else a strict `string2ll`.
fn parse_number(v: &[u8], fmt: NumFmt) -> Result<i64, String> {
    match fmt {
        NumFmt::Memory | NumFmt::MemoryPercent => {
            if let Some(n) = memtoull(v) {
                return Ok(n as i64);
            }
            if fmt == NumFmt::MemoryPercent && v.len() > 1 && v.ends_with(b"%") {
                if let Some(n) = string2ll(&v[..v.len() - 1]).filter(|&n| n >= 0) {
                    return Ok(-n);
                }
            }
            Err(if fmt == NumFmt::Memory {
                "argument must be a memory value"
            } else {
                "argument must be a memory or percent value"
            }
            .to_string())
        }
        NumFmt::Octal => {
            let r = strtoll(v, 8);
            if !r.overflow && r.consumed == v.len() {
                Ok(r.value)
            } else {
                Err("argument couldn't be parsed as an octal number".to_string())
            }
        }
        NumFmt::Int => {
            string2ll(v).ok_or_else(|| "argument couldn't be parsed into an integer".to_string())
        }
    }
}

/// Redis `numericBoundaryCheck`: unsigned types compare as unsigned (so a
/// huge memory value can wrap to a "negative" that is in range), negative
/// percents only against the lower bound.
fn check_bounds(v: i64, min: i64, max: i64, unsigned: bool, fmt: NumFmt) -> Result<(), String> {
    if unsigned {
        let (u, lo, hi) = (v as u64, min as u64, max as u64);
        if u > hi || u < lo {
            return Err(if fmt == NumFmt::Octal {
                format!("argument must be between {lo:o} and {hi:o} inclusive")
            } else {
                format!("argument must be between {lo} and {hi} inclusive")
            });
        }
    } else if fmt == NumFmt::MemoryPercent && v < 0 {
        if v < min {
            return Err(format!(
                "percentage argument must be less or equal to {}",
                min.unsigned_abs()
            ));
        }
    } else if v > max || v < min {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(())
}

/// Redis `configEnumGetValue` (7.0): case-insensitive names; bit-flag
/// enums (multi-arg) OR several together.
fn enum_value(choices: &[(&str, i64)], args: &[&[u8]], bitflags: bool) -> Option<i64> {
    if args.is_empty() || (!bitflags && args.len() != 1) {
        return None;
    }
    let mut value = 0;
    for arg in args {
        let mut matched = false;
        for (name, v) in choices {
            if name.as_bytes().eq_ignore_ascii_case(arg) {
                value |= v;
                matched = true;
            }
        }
        if !matched {
            return None;
        }
    }
    Some(value)
}

/// `appendfsync`: when the AOF's bytes are fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    Everysec,
    Always,
    No,
}

/// `repl-diskless-load`: how a replica takes in a full sync's snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisklessLoad {
    /// Received whole, then the old data is flushed and the new loaded.
    Disabled,
    /// As it arrives when the replica holds no keys (else as `Disabled`).
    OnEmptyDb,
    /// As it arrives, the old data kept until the new is complete.
    Swapdb,
}

/// Redis `configEnumGetName` (7.0): the first exact match, or for bit
/// flags the names of the set bits in table order; "unknown" otherwise.
fn enum_name(choices: &[(&str, i64)], value: i64, bitflags: bool) -> String {
    let mut names: Vec<&str> = Vec::new();
    let mut unmatched = value;
    for (name, v) in choices {
        if *v == value {
            return name.to_string();
        }
        if bitflags && *v != 0 && *v == unmatched & v {
            names.push(name);
            unmatched &= !v;
        }
    }
    if names.is_empty() || unmatched != 0 {
        return "unknown".to_string();
    }
    names.join(" ")
}

/// `sdstrim(line, " \t\r\n")`.
fn trim(mut s: &[u8]) -> &[u8] {
    let strip = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    while s.first().is_some_and(strip) {
        s = &s[1..];
    }
    while s.last().is_some_and(strip) {
        s = &s[..s.len() - 1];
    }
    s
}

/// What `chdir(arg)` then `getcwd()` would give when the current directory
/// is `base`, or `strerror(errno)`.
fn resolve_dir(base: &Path, arg: &[u8]) -> Result<Vec<u8>, String> {
    let no_entry = || strerror(&std::io::Error::from_raw_os_error(2));
    if arg.is_empty() {
        return Err(no_entry());
    }
    let path = base.join(String::from_utf8_lossy(arg).as_ref());
    let real = std::fs::canonicalize(&path).map_err(|e| strerror(&e))?;
    if !real.is_dir() {
        return Err(strerror(&std::io::Error::from_raw_os_error(20)));
    }
    Ok(real.to_string_lossy().into_owned().into_bytes())
}

fn read_config_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        format!(
            "Fatal error, can't open config file '{}': {}",
            path.display(),
            strerror(&e)
        )
    })
}

/// Redis `loadServerConfig` for `include`: a plain path must be readable;
/// a pattern (`*`, `?`, `[` in the file name part) loads every match in
/// name order, concatenated, and may match nothing.
fn read_include(arg: &[u8]) -> Result<Vec<u8>, String> {
    let path = PathBuf::from(String::from_utf8_lossy(arg).as_ref());
    if !arg.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
        return read_config_file(&path);
    }
    let pattern = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut matches: Vec<PathBuf> = match std::fs::read_dir(&parent) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                !name.starts_with('.')
                    && crate::glob::glob_match(pattern.as_bytes(), name.as_bytes(), false)
            })
            .map(|e| e.path())
            .collect(),
        Err(_) => Vec::new(),
    };
    matches.sort();
    let mut content = Vec::new();
    for m in matches {
        content.extend(read_config_file(&m)?);
    }
    Ok(content)
}

/// Redis `setConfigOOMScoreAdjValuesOption`.
fn parse_oom_score_adj_values(args: &[&[u8]]) -> Result<New, String> {
    let [a, b, c] = args else {
        return Err("wrong number of arguments".to_string());
    };
    let mut values = [0i32; 3];
    for (slot, arg) in values.iter_mut().zip([a, b, c]) {
        match strtoll_whole(arg) {
            Some(v) if (-2000..=2000).contains(&v) => *slot = v as i32,
            _ => {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                        .to_string(),
                )
            }
        }
    }
    Ok(New::Val(Val::Oom(values)))
}

/// Redis `setConfigNotifyKeyspaceEventsOption`.
fn parse_notify_keyspace_events(args: &[&[u8]]) -> Result<New, String> {
    let [arg] = args else {
        return Err("wrong number of arguments".to_string());
    };
    let flags = keyspace_events_from_str(arg)
        .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
    Ok(New::Num(i64::from(flags)))
}

/// Redis `setConfigBindOption`.
fn parse_bind(args: &[&[u8]]) -> Result<New, String> {
    if args.len() > BINDADDR_MAX {
        return Err("Too many bind addresses specified.".to_string());
    }
    let addrs = if args == [b""] {
        Vec::new()
    } else {
        args.iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    };
    Ok(New::Val(Val::Bind(addrs)))
}

/// Redis `setConfigReplicaOfOption`.
fn parse_replicaof(args: &[&[u8]]) -> Result<New, String> {
    let [host, port] = args else {
        return Err("wrong number of arguments".to_string());
    };
    if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        return Ok(New::Val(Val::ReplicaOf(None)));
    }
    match strtoll_whole(port) {
        Some(p) if (0..=65535).contains(&p) => {
            Ok(New::Val(Val::ReplicaOf(Some((host.to_vec(), p)))))
        }
        _ => Err("Invalid master port".to_string()),
    }
}

/// Redis `setConfigLatencyTrackingInfoPercentilesOutputOption`.
fn parse_latency_percentiles(args: &[&[u8]]) -> Result<New, String> {
    let args = if args == [b""] { &[][..] } else { args };
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        let v = string2d(arg).ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&v) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .to_string(),
            );
        }
        out.push(v);
    }
    Ok(New::Val(Val::Percentiles(out)))
}

#[cfg(test)]
mod tests;
