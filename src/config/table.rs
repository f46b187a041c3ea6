//! The settings table: Redis 7.0's `static_configs[]` (config.c) with the
//! names, aliases, flags, types, bounds and compiled-in defaults of
//! redis-server 7.0.15 (checked with `CONFIG GET *` on a server started
//! without a config file), the TLS settings (Debian's build has TLS) and
//! Redis's hidden test settings included. A setting whose subsystem reddish
//! lacks keeps Redis's default: [`unsupported`] says why another value is
//! refused.

use super::parse::valid_proc_title_template;

/// Redis `IMMUTABLE_CONFIG`: only settable from the config file or the
/// command line; CONFIG SET answers "can't set immutable config".
pub const IMMUTABLE: u8 = 1;
/// Redis `PROTECTED_CONFIG`: CONFIG SET needs `enable-protected-configs`.
pub const PROTECTED: u8 = 2;
/// Redis `MULTI_ARG_CONFIG`: several words in the config file; CONFIG SET
/// splits its value on single spaces.
pub const MULTI_ARG: u8 = 4;
/// Redis `HIDDEN_CONFIG`: CONFIG GET shows it only for its exact name.
pub const HIDDEN: u8 = 8;
/// Redis `SENSITIVE_CONFIG`: a CONFIG SET of it shows its value redacted in
/// the slow log.
pub const SENSITIVE: u8 = 16;
/// Redis `EMPTY_STRING_IS_NULL`: an empty value is no value, which CONFIG
/// REWRITE never writes (and removes from the file).
pub const EMPTY_IS_NULL: u8 = 32;
/// Redis `DENY_LOADING_CONFIG`: CONFIG SET answers `-LOADING` while the
/// data set loads.
pub const DENY_LOADING: u8 = 64;

/// How a numeric setting is parsed and rendered (Redis `INTEGER_CONFIG`,
/// `MEMORY_CONFIG`, `MEMORY_CONFIG | PERCENT_CONFIG`, `OCTAL_CONFIG`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum NumFmt {
    Int,
    Memory,
    MemoryPercent,
    Octal,
}

/// Post-set adjustment done by Redis's `apply` function for the setting.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fixup {
    None,
    /// `updateHZ`: clamp to CONFIG_MIN_HZ..=CONFIG_MAX_HZ (1..=500).
    Hz,
    /// `resizeReplicationBacklog`: at least CONFIG_REPL_BACKLOG_MIN_SIZE.
    MinBacklog,
}

/// Settings whose parsing and rendering Redis writes by hand
/// (`createSpecialConfig` and the notify flags).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Dir,
    Save,
    ClientOutputBufferLimit,
    OomScoreAdjValues,
    NotifyKeyspaceEvents,
    Bind,
    ReplicaOf,
    LatencyPercentiles,
}

pub type StrCheck = fn(&[u8]) -> Result<(), &'static str>;
pub type EnumCheck = fn(i64) -> Result<(), &'static str>;

#[derive(Clone, Copy)]
pub enum Kind {
    Bool {
        default: bool,
        check: Option<EnumCheck>,
    },
    Num {
        default: i64,
        min: i64,
        max: i64,
        /// Redis's unsigned types (uint, size_t, unsigned long long) are
        /// range-checked as unsigned, so `-1` reads as 2^64-1.
        unsigned: bool,
        fmt: NumFmt,
        fixup: Fixup,
    },
    Enum {
        default: i64,
        choices: &'static [(&'static str, i64)],
        check: Option<EnumCheck>,
    },
    Str {
        default: &'static str,
        check: Option<StrCheck>,
    },
    Special(Special),
}

pub struct Def {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub flags: u8,
    pub kind: Kind,
}

const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
const UINT_MAX: i64 = u32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;
/// `ULLONG_MAX` as Redis stores it in its `long long` bound.
const ULLONG_MAX: i64 = -1;

const fn b(name: &'static str, alias: Option<&'static str>, flags: u8, default: bool) -> Def {
    Def {
        name,
        alias,
        flags,
        kind: Kind::Bool {
            default,
            check: None,
        },
    }
}

const fn int(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    min: i64,
    max: i64,
    default: i64,
) -> Def {
    num(name, alias, flags, (min, max, default), false, NumFmt::Int)
}

const fn num(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    (min, max, default): (i64, i64, i64),
    unsigned: bool,
    fmt: NumFmt,
) -> Def {
    Def {
        name,
        alias,
        flags,
        kind: Kind::Num {
            default,
            min,
            max,
            unsigned,
            fmt,
            fixup: Fixup::None,
        },
    }
}

const fn s(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    default: &'static str,
) -> Def {
    Def {
        name,
        alias,
        flags,
        kind: Kind::Str {
            default,
            check: None,
        },
    }
}

const fn s_checked(name: &'static str, flags: u8, default: &'static str, check: StrCheck) -> Def {
    Def {
        name,
        alias: None,
        flags,
        kind: Kind::Str {
            default,
            check: Some(check),
        },
    }
}

const fn e(
    name: &'static str,
    flags: u8,
    choices: &'static [(&'static str, i64)],
    default: i64,
) -> Def {
    Def {
        name,
        alias: None,
        flags,
        kind: Kind::Enum {
            default,
            choices,
            check: None,
        },
    }
}

const fn sp(name: &'static str, alias: Option<&'static str>, flags: u8, special: Special) -> Def {
    Def {
        name,
        alias,
        flags,
        kind: Kind::Special(special),
    }
}

const fn with_fixup(mut d: Def, f: Fixup) -> Def {
    if let Kind::Num { ref mut fixup, .. } = d.kind {
        *fixup = f;
    }
    d
}

pub const LOGLEVELS: &[(&str, i64)] =
    &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
pub const MAXMEMORY_POLICIES: &[(&str, i64)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
pub const APPENDFSYNC: &[(&str, i64)] = &[("everysec", 0), ("always", 1), ("no", 2)];
const SUPERVISED: &[(&str, i64)] = &[("upstart", 0), ("systemd", 1), ("auto", 2), ("no", 3)];
const SYSLOG_FACILITY: &[(&str, i64)] = &[
    ("user", 0),
    ("local0", 1),
    ("local1", 2),
    ("local2", 3),
    ("local3", 4),
    ("local4", 5),
    ("local5", 6),
    ("local6", 7),
    ("local7", 8),
];
const REPL_DISKLESS_LOAD: &[(&str, i64)] = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
const OOM_SCORE_ADJ: &[(&str, i64)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const ACL_PUBSUB_DEFAULT: &[(&str, i64)] = &[("allchannels", 1), ("resetchannels", 0)];
const SANITIZE_DUMP: &[(&str, i64)] = &[("no", 0), ("yes", 1), ("clients", 2)];
/// Redis `tls_auth_clients_enum` (TLS_CLIENT_AUTH_*).
const TLS_AUTH_CLIENTS: &[(&str, i64)] = &[("no", 0), ("yes", 1), ("optional", 2)];
/// Redis `protected_action_enum` (PROTECTED_ACTION_ALLOWED_*).
pub const PROTECTED_ACTION: &[(&str, i64)] = &[("no", 0), ("yes", 1), ("local", 2)];
pub const PROTECTED_ACTION_YES: i64 = 1;
pub const PROTECTED_ACTION_LOCAL: i64 = 2;
const ENDPOINT_TYPE: &[(&str, i64)] = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
const PROPAGATION_ERROR: &[(&str, i64)] = &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
/// Redis `shutdown_on_sig_enum`: bit flags (SHUTDOWN_SAVE, _NOSAVE, _NOW,
/// _FORCE), several may be given.
pub const SHUTDOWN_ON_SIG: &[(&str, i64)] = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];

/// Redis `isValidShutdownOnSigFlags`.
fn valid_shutdown_flags(v: i64) -> Result<(), &'static str> {
    if v & 1 != 0 && v & 2 != 0 {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously");
    }
    Ok(())
}

/// Redis `isValidActiveDefrag` in a build without `HAVE_DEFRAG` (as the
/// Debian 7.0.15 package behaves; reddish has no active defrag either).
fn valid_active_defrag(v: i64) -> Result<(), &'static str> {
    if v != 0 {
        return Err("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution");
    }
    Ok(())
}

/// Redis `pathIsBaseName`.
fn is_base_name(v: &[u8]) -> bool {
    !v.contains(&b'/') && !v.contains(&b'\\')
}

/// Redis `isValidDBfilename`.
fn valid_dbfilename(v: &[u8]) -> Result<(), &'static str> {
    if !is_base_name(v) {
        return Err("dbfilename can't be a path, just a filename");
    }
    Ok(())
}

/// Redis `isValidAOFfilename`.
fn valid_aof_filename(v: &[u8]) -> Result<(), &'static str> {
    if v.is_empty() {
        return Err("appendfilename can't be empty");
    }
    if !is_base_name(v) {
        return Err("appendfilename can't be a path, just a filename");
    }
    Ok(())
}

/// Redis `isValidAOFdirname`.
fn valid_aof_dirname(v: &[u8]) -> Result<(), &'static str> {
    if v.is_empty() {
        return Err("appenddirname can't be empty");
    }
    if !is_base_name(v) {
        return Err("appenddirname can't be a path, just a dirname");
    }
    Ok(())
}

/// Redis `isValidAnnouncedHostname` (NET_HOST_STR_LEN is 256).
fn valid_hostname(v: &[u8]) -> Result<(), &'static str> {
    if v.len() >= 256 {
        return Err("Hostnames must be less than 256 characters");
    }
    if !v
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.')
    {
        return Err("Hostnames may only contain alphanumeric characters, hyphens or dots");
    }
    Ok(())
}

/// Redis `isValidProcTitleTemplate`.
fn valid_proc_title(v: &[u8]) -> Result<(), &'static str> {
    if !valid_proc_title_template(v) {
        return Err("template format is invalid or contains unknown variables");
    }
    Ok(())
}

const I: u8 = IMMUTABLE;
const MB: i64 = 1024 * 1024;

pub const TABLE: &[Def] = &[
    // Booleans.
    b("rdbchecksum", None, I, true),
    b("daemonize", None, I, false),
    b("io-threads-do-reads", None, I, false),
    b("always-show-logo", None, I, false),
    b("protected-mode", None, 0, true),
    b("rdbcompression", None, 0, true),
    b("rdb-del-sync-files", None, 0, false),
    b("activerehashing", None, 0, true),
    b("stop-writes-on-bgsave-error", None, 0, true),
    b("set-proc-title", None, I, true),
    b("dynamic-hz", None, 0, true),
    b("lazyfree-lazy-eviction", None, 0, false),
    b("lazyfree-lazy-expire", None, 0, false),
    b("lazyfree-lazy-server-del", None, 0, false),
    b("lazyfree-lazy-user-del", None, 0, false),
    b("lazyfree-lazy-user-flush", None, 0, false),
    b("repl-disable-tcp-nodelay", None, 0, false),
    b("repl-diskless-sync", None, 0, true),
    b("aof-rewrite-incremental-fsync", None, 0, true),
    b("no-appendfsync-on-rewrite", None, 0, false),
    b("cluster-require-full-coverage", None, 0, true),
    b("rdb-save-incremental-fsync", None, 0, true),
    b("aof-load-truncated", None, 0, true),
    b("aof-use-rdb-preamble", None, 0, true),
    b("aof-timestamp-enabled", None, 0, false),
    b(
        "cluster-replica-no-failover",
        Some("cluster-slave-no-failover"),
        0,
        false,
    ),
    b("replica-lazy-flush", Some("slave-lazy-flush"), 0, false),
    b(
        "replica-serve-stale-data",
        Some("slave-serve-stale-data"),
        0,
        true,
    ),
    b("replica-read-only", Some("slave-read-only"), 0, true),
    b(
        "replica-ignore-maxmemory",
        Some("slave-ignore-maxmemory"),
        0,
        true,
    ),
    b("jemalloc-bg-thread", None, 0, true),
    Def {
        name: "activedefrag",
        alias: None,
        flags: 0,
        kind: Kind::Bool {
            default: false,
            check: Some(valid_active_defrag),
        },
    },
    b("syslog-enabled", None, I, false),
    b("cluster-enabled", None, I, false),
    b("appendonly", None, DENY_LOADING, false),
    b("cluster-allow-reads-when-down", None, 0, false),
    b("cluster-allow-pubsubshard-when-down", None, 0, true),
    b("crash-log-enabled", None, 0, true),
    b("crash-memcheck-enabled", None, 0, true),
    // Redis: yes, against the latency and copy-on-write memory of huge
    // pages when it forks to persist. reddish never forks, and huge pages
    // cut TLB misses on big keyspaces (BENCHMARKS.md, `prefetch`).
    b("disable-thp", None, I, false),
    b("cluster-allow-replica-migration", None, 0, true),
    b("replica-announced", None, 0, true),
    b("latency-tracking", None, 0, true),
    b("aof-disable-auto-gc", None, 0, false),
    b("replica-ignore-disk-write-errors", None, 0, false),
    // reddish's own: not in Redis, so hidden from CONFIG GET patterns.
    b("json", None, HIDDEN, false),
    // A bug exits the process with status 1 instead of ending only the
    // connection that met it (Redis: exit instead of abort).
    b("use-exit-on-panic", None, HIDDEN, false),
    // Strings.
    s("aclfile", None, I, ""),
    s("unixsocket", None, I | EMPTY_IS_NULL, ""),
    s("pidfile", None, I | EMPTY_IS_NULL, ""),
    s(
        "replica-announce-ip",
        Some("slave-announce-ip"),
        EMPTY_IS_NULL,
        "",
    ),
    s("masteruser", None, SENSITIVE | EMPTY_IS_NULL, ""),
    s("cluster-announce-ip", None, EMPTY_IS_NULL, ""),
    s("cluster-config-file", None, I, "nodes.conf"),
    s_checked(
        "cluster-announce-hostname",
        EMPTY_IS_NULL,
        "",
        valid_hostname,
    ),
    s("syslog-ident", None, I, "redis"),
    s_checked("dbfilename", PROTECTED, "dump.rdb", valid_dbfilename),
    s_checked("appendfilename", I, "appendonly.aof", valid_aof_filename),
    s_checked("appenddirname", I, "appendonlydir", valid_aof_dirname),
    s("server_cpulist", None, I | EMPTY_IS_NULL, ""),
    s("bio_cpulist", None, I | EMPTY_IS_NULL, ""),
    s("aof_rewrite_cpulist", None, I | EMPTY_IS_NULL, ""),
    s("bgsave_cpulist", None, I | EMPTY_IS_NULL, ""),
    s("ignore-warnings", None, 0, ""),
    s_checked(
        "proc-title-template",
        0,
        "{title} {listen-addr} {server-mode}",
        valid_proc_title,
    ),
    s("bind-source-addr", None, EMPTY_IS_NULL, ""),
    s("logfile", None, I, ""),
    s("masterauth", None, SENSITIVE | EMPTY_IS_NULL, ""),
    s("requirepass", None, SENSITIVE | EMPTY_IS_NULL, ""),
    // Enums.
    e("supervised", I, SUPERVISED, 3),
    e("syslog-facility", I, SYSLOG_FACILITY, 1),
    e("repl-diskless-load", DENY_LOADING, REPL_DISKLESS_LOAD, 0),
    e("loglevel", 0, LOGLEVELS, 2),
    e("maxmemory-policy", 0, MAXMEMORY_POLICIES, 7),
    e("appendfsync", 0, APPENDFSYNC, 0),
    e("oom-score-adj", 0, OOM_SCORE_ADJ, 0),
    e("acl-pubsub-default", 0, ACL_PUBSUB_DEFAULT, 0),
    e("sanitize-dump-payload", 0, SANITIZE_DUMP, 0),
    e("enable-protected-configs", I, PROTECTED_ACTION, 0),
    e("enable-debug-command", I, PROTECTED_ACTION, 0),
    e("enable-module-command", I, PROTECTED_ACTION, 0),
    e("cluster-preferred-endpoint-type", 0, ENDPOINT_TYPE, 0),
    e("propagation-error-behavior", 0, PROPAGATION_ERROR, 0),
    Def {
        name: "shutdown-on-sigint",
        alias: None,
        flags: MULTI_ARG,
        kind: Kind::Enum {
            default: 0,
            choices: SHUTDOWN_ON_SIG,
            check: Some(valid_shutdown_flags),
        },
    },
    Def {
        name: "shutdown-on-sigterm",
        alias: None,
        flags: MULTI_ARG,
        kind: Kind::Enum {
            default: 0,
            choices: SHUTDOWN_ON_SIG,
            check: Some(valid_shutdown_flags),
        },
    },
    // Integers.
    int("databases", None, I, 1, INT_MAX, 16),
    int("port", None, 0, 0, 65535, 6379),
    int("io-threads", None, I, 1, 128, 1),
    int("auto-aof-rewrite-percentage", None, 0, 0, INT_MAX, 100),
    int(
        "cluster-replica-validity-factor",
        Some("cluster-slave-validity-factor"),
        0,
        0,
        INT_MAX,
        10,
    ),
    int(
        "list-max-listpack-size",
        Some("list-max-ziplist-size"),
        0,
        INT_MIN,
        INT_MAX,
        -2,
    ),
    int("tcp-keepalive", None, 0, 0, INT_MAX, 300),
    int("cluster-migration-barrier", None, 0, 0, INT_MAX, 1),
    int("active-defrag-cycle-min", None, 0, 1, 99, 1),
    int("active-defrag-cycle-max", None, 0, 1, 99, 25),
    int("active-defrag-threshold-lower", None, 0, 0, 1000, 10),
    int("active-defrag-threshold-upper", None, 0, 0, 1000, 100),
    int("lfu-log-factor", None, 0, 0, INT_MAX, 10),
    int("lfu-decay-time", None, 0, 0, INT_MAX, 1),
    int(
        "replica-priority",
        Some("slave-priority"),
        0,
        0,
        INT_MAX,
        100,
    ),
    int("repl-diskless-sync-delay", None, 0, 0, INT_MAX, 5),
    int("maxmemory-samples", None, 0, 1, INT_MAX, 5),
    int("maxmemory-eviction-tenacity", None, 0, 0, 100, 10),
    int("timeout", None, 0, 0, INT_MAX, 0),
    int(
        "replica-announce-port",
        Some("slave-announce-port"),
        0,
        0,
        65535,
        0,
    ),
    int("tcp-backlog", None, I, 0, INT_MAX, 511),
    int("cluster-port", None, I, 0, 65535, 0),
    int("cluster-announce-bus-port", None, 0, 0, 65535, 0),
    int("cluster-announce-port", None, 0, 0, 65535, 0),
    int("cluster-announce-tls-port", None, 0, 0, 65535, 0),
    int("repl-timeout", None, 0, 1, INT_MAX, 60),
    int(
        "repl-ping-replica-period",
        Some("repl-ping-slave-period"),
        0,
        1,
        INT_MAX,
        10,
    ),
    int("list-compress-depth", None, 0, 0, INT_MAX, 0),
    int("active-expire-effort", None, 0, 1, 10, 1),
    with_fixup(int("hz", None, 0, 0, INT_MAX, 10), Fixup::Hz),
    int(
        "min-replicas-to-write",
        Some("min-slaves-to-write"),
        0,
        0,
        INT_MAX,
        0,
    ),
    int(
        "min-replicas-max-lag",
        Some("min-slaves-max-lag"),
        0,
        0,
        INT_MAX,
        10,
    ),
    int("shutdown-timeout", None, 0, 0, INT_MAX, 10),
    int("repl-diskless-sync-max-replicas", None, 0, 0, INT_MAX, 0),
    num(
        "maxclients",
        None,
        0,
        (1, UINT_MAX, 10000),
        true,
        NumFmt::Int,
    ),
    num(
        "unixsocketperm",
        None,
        I,
        (0, 0o777, 0),
        true,
        NumFmt::Octal,
    ),
    num(
        "socket-mark-id",
        None,
        I,
        (0, UINT_MAX, 0),
        true,
        NumFmt::Int,
    ),
    int("active-defrag-max-scan-fields", None, 0, 1, LONG_MAX, 1000),
    int("slowlog-max-len", None, 0, 0, LONG_MAX, 128),
    int("acllog-max-len", None, 0, 0, LONG_MAX, 128),
    int(
        "busy-reply-threshold",
        Some("lua-time-limit"),
        0,
        0,
        LONG_MAX,
        5000,
    ),
    int("cluster-node-timeout", None, 0, 0, LONG_MAX, 15000),
    int("slowlog-log-slower-than", None, 0, -1, LONG_MAX, 10000),
    int("latency-monitor-threshold", None, 0, 0, LONG_MAX, 0),
    num(
        "proto-max-bulk-len",
        None,
        0,
        (MB, LONG_MAX, 512 * MB),
        false,
        NumFmt::Memory,
    ),
    int("stream-node-max-entries", None, 0, 0, LONG_MAX, 100),
    with_fixup(
        num(
            "repl-backlog-size",
            None,
            0,
            (1, LONG_MAX, MB),
            false,
            NumFmt::Memory,
        ),
        Fixup::MinBacklog,
    ),
    num(
        "maxmemory",
        None,
        0,
        (0, ULLONG_MAX, 0),
        true,
        NumFmt::Memory,
    ),
    num(
        "cluster-link-sendbuf-limit",
        None,
        0,
        (0, ULLONG_MAX, 0),
        true,
        NumFmt::Memory,
    ),
    num(
        "hash-max-listpack-entries",
        Some("hash-max-ziplist-entries"),
        0,
        (0, LONG_MAX, 512),
        true,
        NumFmt::Int,
    ),
    num(
        "set-max-intset-entries",
        None,
        0,
        (0, LONG_MAX, 512),
        true,
        NumFmt::Int,
    ),
    num(
        "zset-max-listpack-entries",
        Some("zset-max-ziplist-entries"),
        0,
        (0, LONG_MAX, 128),
        true,
        NumFmt::Int,
    ),
    num(
        "active-defrag-ignore-bytes",
        None,
        0,
        (1, LONG_MAX, 100 * MB),
        true,
        NumFmt::Memory,
    ),
    num(
        "hash-max-listpack-value",
        Some("hash-max-ziplist-value"),
        0,
        (0, LONG_MAX, 64),
        true,
        NumFmt::Memory,
    ),
    num(
        "stream-node-max-bytes",
        None,
        0,
        (0, LONG_MAX, 4096),
        true,
        NumFmt::Memory,
    ),
    num(
        "zset-max-listpack-value",
        Some("zset-max-ziplist-value"),
        0,
        (0, LONG_MAX, 64),
        true,
        NumFmt::Memory,
    ),
    num(
        "hll-sparse-max-bytes",
        None,
        0,
        (0, LONG_MAX, 3000),
        true,
        NumFmt::Memory,
    ),
    num(
        "tracking-table-max-keys",
        None,
        0,
        (0, LONG_MAX, 1_000_000),
        true,
        NumFmt::Int,
    ),
    num(
        "client-query-buffer-limit",
        None,
        0,
        (MB, LONG_MAX, 1024 * MB),
        true,
        NumFmt::Memory,
    ),
    num(
        "maxmemory-clients",
        None,
        0,
        (-100, LONG_MAX, 0),
        false,
        NumFmt::MemoryPercent,
    ),
    int("repl-backlog-ttl", None, 0, 0, LONG_MAX, 3600),
    num(
        "auto-aof-rewrite-min-size",
        None,
        0,
        (0, LONG_MAX, 64 * MB),
        false,
        NumFmt::Memory,
    ),
    // TLS (issue 19): only the defaults, see `unsupported`.
    int("tls-port", None, 0, 0, 65535, 0),
    int("tls-session-cache-size", None, 0, 0, INT_MAX, 20 * 1024),
    int("tls-session-cache-timeout", None, 0, 0, INT_MAX, 300),
    b("tls-cluster", None, 0, false),
    b("tls-replication", None, 0, false),
    e("tls-auth-clients", 0, TLS_AUTH_CLIENTS, 1),
    b("tls-prefer-server-ciphers", None, 0, false),
    b("tls-session-caching", None, 0, true),
    s("tls-cert-file", None, EMPTY_IS_NULL, ""),
    s("tls-key-file", None, EMPTY_IS_NULL, ""),
    s("tls-key-file-pass", None, EMPTY_IS_NULL, ""),
    s("tls-client-cert-file", None, EMPTY_IS_NULL, ""),
    s("tls-client-key-file", None, EMPTY_IS_NULL, ""),
    s("tls-client-key-file-pass", None, EMPTY_IS_NULL, ""),
    s("tls-dh-params-file", None, EMPTY_IS_NULL, ""),
    s("tls-ca-cert-file", None, EMPTY_IS_NULL, ""),
    s("tls-ca-cert-dir", None, EMPTY_IS_NULL, ""),
    s("tls-protocols", None, EMPTY_IS_NULL, ""),
    s("tls-ciphers", None, EMPTY_IS_NULL, ""),
    s("tls-ciphersuites", None, EMPTY_IS_NULL, ""),
    // Redis's hidden settings for its tests: CONFIG GET shows them only by
    // their exact name.
    int("rdb-key-save-delay", None, HIDDEN, INT_MIN, INT_MAX, 0),
    int("key-load-delay", None, HIDDEN, INT_MIN, INT_MAX, 0),
    int("watchdog-period", None, HIDDEN, 0, INT_MAX, 0),
    // How often Redis's loader serves clients between chunks; ours loads on
    // a thread of its own while the event loops serve them all along, so
    // any value holds.
    int(
        "loading-process-events-interval-bytes",
        None,
        HIDDEN,
        1024,
        INT_MAX,
        2 * MB,
    ),
    // Hand-written ones.
    sp("dir", None, PROTECTED | DENY_LOADING, Special::Dir),
    sp("save", None, MULTI_ARG, Special::Save),
    sp(
        "client-output-buffer-limit",
        None,
        MULTI_ARG,
        Special::ClientOutputBufferLimit,
    ),
    sp(
        "oom-score-adj-values",
        None,
        MULTI_ARG,
        Special::OomScoreAdjValues,
    ),
    sp(
        "notify-keyspace-events",
        None,
        0,
        Special::NotifyKeyspaceEvents,
    ),
    sp("bind", None, MULTI_ARG, Special::Bind),
    sp(
        "replicaof",
        Some("slaveof"),
        I | MULTI_ARG,
        Special::ReplicaOf,
    ),
    sp(
        "latency-tracking-info-percentiles",
        None,
        MULTI_ARG,
        Special::LatencyPercentiles,
    ),
];

pub const N: usize = TABLE.len();

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Position of a setting in [`TABLE`], computed at compile time so hot
/// accessors index their atomic directly; an unknown name fails the build.
pub const fn idx(name: &str) -> usize {
    let mut i = 0;
    while i < TABLE.len() {
        if same(TABLE[i].name, name) {
            return i;
        }
        i += 1;
    }
    panic!("unknown setting name in config table lookup")
}

/// Finds a setting by name or alias, ASCII case-insensitively (Redis's
/// `configs` dict uses a case-insensitive hash). Returns the position and
/// whether the alias matched.
pub fn lookup(name: &[u8]) -> Option<(usize, bool)> {
    TABLE.iter().enumerate().find_map(|(i, d)| {
        if d.name.as_bytes().eq_ignore_ascii_case(name) {
            Some((i, false))
        } else if d
            .alias
            .is_some_and(|a| a.as_bytes().eq_ignore_ascii_case(name))
        {
            Some((i, true))
        } else {
            None
        }
    })
}

/// Why a setting reddish has no subsystem for accepts only Redis's default
/// value (so CONFIG SET to the value it has, and a CONFIG REWRITE of every
/// setting, still work); `None` for the settings reddish honours.
pub fn unsupported(name: &str) -> Option<&'static str> {
    match name {
        "watchdog-period" => Some("reddish has no software watchdog"),
        _ => None,
    }
}
