//! INFO [section ...]: Redis 7.0's sections, in its order, with its field names
//! (`genRedisInfoString`). Fields for machinery we do not have (persistence,
//! replication, Lua, defragmentation) carry the values an idle Redis without
//! it reports; process figures come from /proc on Linux.

use std::fmt::{Display, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::commands::{CmdResult, Ctx};
use crate::lazyfree;
use crate::protocol::Reply;
use crate::pubsub::Kind;
use crate::server::{Counter, REDIS_VERSION};
use crate::util::{now_ms, now_us};

type Writer = fn(&mut Ctx, &mut String);

/// One INFO section: its name as requested, its title, whether a plain
/// `INFO` includes it, and what writes its fields.
struct Section {
    name: &'static str,
    title: &'static str,
    default: bool,
    write: Writer,
}

const SECTIONS: &[Section] = &[
    section("server", "Server", true, server),
    section("clients", "Clients", true, clients),
    section("memory", "Memory", true, memory),
    section("persistence", "Persistence", true, persistence),
    section("stats", "Stats", true, stats),
    section("replication", "Replication", true, replication),
    section("cpu", "CPU", true, cpu),
    section("modules", "Modules", true, nothing),
    section("commandstats", "Commandstats", false, commandstats),
    section("errorstats", "Errorstats", true, errorstats),
    section("latencystats", "Latencystats", false, latencystats),
    section("cluster", "Cluster", true, cluster),
    section("keyspace", "Keyspace", true, keyspace),
];

const fn section(name: &'static str, title: &'static str, default: bool, write: Writer) -> Section {
    Section {
        name,
        title,
        default,
        write,
    }
}

/// The requested sections as a bit per entry of [`SECTIONS`] (Redis's
/// `genInfoSectionDict`): none named means `default`; `all` and `everything`
/// mean every section; unknown names are ignored; case does not matter.
fn selection(args: &[&[u8]]) -> u32 {
    let defaults = SECTIONS
        .iter()
        .enumerate()
        .filter(|(_, s)| s.default)
        .fold(0, |acc, (i, _)| acc | 1 << i);
    if args.len() == 1 {
        return defaults;
    }
    args[1..].iter().fold(0, |acc, arg| {
        let arg = arg.to_ascii_lowercase();
        acc | match &arg[..] {
            b"default" => defaults,
            b"all" | b"everything" => u32::MAX,
            name => SECTIONS
                .iter()
                .position(|s| s.name.as_bytes() == name)
                .map_or(0, |i| 1 << i),
        }
    })
}

pub fn info(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let wanted = selection(args);
    let mut out = String::new();
    for (i, section) in SECTIONS.iter().enumerate() {
        if wanted & 1 << i == 0 {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = write!(out, "# {}\r\n", section.title);
        (section.write)(ctx, &mut out);
    }
    Ok(Reply::Verbatim("txt", out.into()))
}

/// Appends `name:value` lines.
fn put(out: &mut String, fields: &[(&str, &dyn Display)]) {
    for (name, value) in fields {
        let _ = write!(out, "{name}:{value}\r\n");
    }
}

fn nothing(_ctx: &mut Ctx, _out: &mut String) {}

fn latencystats(ctx: &mut Ctx, out: &mut String) {
    let percentiles = ctx.server.config.latency_percentiles();
    for cmd in ctx.server.commands.all() {
        cmd.stats.write_latency_line(&cmd.name, &percentiles, out);
    }
}

fn commandstats(ctx: &mut Ctx, out: &mut String) {
    for cmd in ctx.server.commands.all() {
        cmd.stats.write_line(&cmd.name, out);
    }
}

fn errorstats(ctx: &mut Ctx, out: &mut String) {
    ctx.server.stats.errors.write_lines(out);
}

/// A line of a /proc file, e.g. `VmRSS:  1234 kB` from /proc/self/status.
#[cfg(target_os = "linux")]
fn proc_field(file: &str, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix(name)?
            .strip_prefix(':')
            .map(|v| v.trim().to_string())
    })
}

/// A `kB` figure of a /proc file, in bytes; 0 when unavailable.
fn proc_kb(file: &str, name: &str) -> u64 {
    #[cfg(target_os = "linux")]
    {
        proc_field(file, name)
            .and_then(|v| v.trim_end_matches(" kB").parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, name);
        0
    }
}

/// Redis's `bytesToHuman`.
fn human(n: u64) -> String {
    const UNITS: [(u32, char); 5] = [(1, 'K'), (2, 'M'), (3, 'G'), (4, 'T'), (5, 'P')];
    if n < 1024 {
        return format!("{n}B");
    }
    for (power, unit) in UNITS {
        if n < 1024u64.pow(power + 1) {
            return format!("{:.2}{unit}", n as f64 / 1024f64.powi(power as i32));
        }
    }
    format!("{n}B")
}

fn server(ctx: &mut Ctx, out: &mut String) {
    let server = ctx.server;
    let uptime = server.started.elapsed().as_secs();
    #[cfg(target_os = "linux")]
    let os = format!(
        "{} {} {}",
        std::fs::read_to_string("/proc/sys/kernel/ostype")
            .unwrap_or_default()
            .trim(),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        std::env::consts::ARCH
    );
    #[cfg(not(target_os = "linux"))]
    let os = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let hz = server.config.hz();
    put(
        out,
        &[
            ("redis_version", &REDIS_VERSION),
            ("redis_git_sha1", &"00000000"),
            ("redis_git_dirty", &0),
            ("redis_build_id", &0),
            ("redis_mode", &"standalone"),
            ("os", &os),
            ("arch_bits", &usize::BITS),
            ("monotonic_clock", &crate::counters::clock_description()),
            (
                "multiplexing_api",
                &if cfg!(target_os = "linux") {
                    "epoll"
                } else {
                    "kqueue"
                },
            ),
            ("atomicvar_api", &"c11-builtin"),
            ("gcc_version", &"0.0.0"),
            ("process_id", &std::process::id()),
            ("process_supervised", &"no"),
            ("run_id", &server.run_id),
            ("tcp_port", &server.shown_port()),
            ("server_time_usec", &now_us()),
            ("uptime_in_seconds", &uptime),
            ("uptime_in_days", &(uptime / 86400)),
            ("hz", &server.cron.hz.load(Ordering::Relaxed)),
            ("configured_hz", &hz),
            // Redis's LRU clock: seconds, in 24 bits.
            ("lru_clock", &((now_ms() / 1000) & 0xFF_FFFF)),
            ("executable", &executable),
            ("config_file", &""),
            ("io_threads_active", &0),
        ],
    );
}

fn clients(ctx: &mut Ctx, out: &mut String) {
    let (recent_input, recent_output) = ctx.server.clients.memory.recent_peaks();
    put(
        out,
        &[
            ("connected_clients", &ctx.server.clients.len()),
            ("cluster_connections", &0),
            ("maxclients", &ctx.server.config.maxclients()),
            ("client_recent_max_input_buffer", &recent_input),
            ("client_recent_max_output_buffer", &recent_output),
            (
                "blocked_clients",
                &(ctx.server.keyspace.blocking.blocked_clients() + ctx.server.pause.waiting()),
            ),
            ("tracking_clients", &ctx.server.tracking.clients()),
            ("clients_in_timeout_table", &0),
        ],
    );
}

/// The highest `used_memory` INFO has seen (Redis tracks it in its cron).
static PEAK_MEMORY: AtomicU64 = AtomicU64::new(0);

/// The process's memory as INFO and MEMORY STATS report it.
pub(super) struct MemoryReading {
    /// `used_memory`: what the allocator has handed out (Redis's
    /// `zmalloc_used_memory`), or the anonymous resident memory where the
    /// allocator cannot say. Not RSS: freed memory that jemalloc keeps
    /// (or a huge page still partly used) would hide what UNLINK freed.
    pub used: u64,
    /// The whole resident set.
    pub rss: u64,
    /// The highest `used` seen so far.
    pub peak: u64,
}

/// Memory as well as we can read it without an allocator of our own.
pub(super) fn read_memory() -> MemoryReading {
    let rss = proc_kb("/proc/self/status", "VmRSS");
    let used = crate::alloc::used_memory()
        .unwrap_or_else(|| proc_kb("/proc/self/status", "RssAnon"))
        .max(1);
    let peak = PEAK_MEMORY.fetch_max(used, Ordering::Relaxed).max(used);
    MemoryReading { used, rss, peak }
}

/// `mem_allocator`: reddish-server allocates with jemalloc, named as Redis
/// names it (`jemalloc-5.3.0`, without jemalloc's git suffix).
pub(super) fn mem_allocator() -> String {
    match tikv_jemalloc_ctl::version::read() {
        Ok(version) => format!("jemalloc-{}", version.split('-').next().unwrap_or(version)),
        Err(_) => "libc".to_string(),
    }
}

fn memory(ctx: &mut Ctx, out: &mut String) {
    let MemoryReading { used, rss, peak } = read_memory();
    let total = proc_kb("/proc/meminfo", "MemTotal");
    let maxmemory = ctx.server.config.maxmemory();
    let policy = ctx.server.config.maxmemory_policy();
    let ratio = format!("{:.2}", rss as f64 / used as f64);
    let rss_extra = rss as i64 - used as i64;
    let replication_buffers = ctx.server.replication.replica_buffers();
    // The script bodies and library codes held (Redis counts its own
    // structures around them too).
    let scripts_eval = crate::scripting::SCRIPTS.memory();
    let functions = &crate::scripting::functions::LIBRARIES;
    let functions_code: usize = functions.codes().iter().map(|c| c.len()).sum();
    let (libraries, functions) = functions.counts();
    let not_counted = crate::evict::not_counted_for_evict(ctx.server);
    put(
        out,
        &[
            ("used_memory", &used),
            ("used_memory_human", &human(used)),
            ("used_memory_rss", &rss),
            ("used_memory_rss_human", &human(rss)),
            ("used_memory_peak", &peak),
            ("used_memory_peak_human", &human(peak)),
            (
                "used_memory_peak_perc",
                &format!("{:.2}%", used as f64 * 100.0 / peak as f64),
            ),
            ("used_memory_overhead", &0),
            ("used_memory_startup", &0),
            ("used_memory_dataset", &used),
            ("used_memory_dataset_perc", &"100.00%"),
            ("allocator_allocated", &used),
            ("allocator_active", &used),
            ("allocator_resident", &rss),
            ("total_system_memory", &total),
            ("total_system_memory_human", &human(total)),
            ("used_memory_lua", &0),
            ("used_memory_vm_eval", &0),
            ("used_memory_lua_human", &"0B"),
            ("used_memory_scripts_eval", &scripts_eval),
            ("number_of_cached_scripts", &crate::scripting::SCRIPTS.len()),
            ("number_of_functions", &functions),
            ("number_of_libraries", &libraries),
            ("used_memory_vm_functions", &0),
            ("used_memory_vm_total", &0),
            ("used_memory_vm_total_human", &"0B"),
            ("used_memory_functions", &functions_code),
            ("used_memory_scripts", &(scripts_eval + functions_code)),
            (
                "used_memory_scripts_human",
                &human((scripts_eval + functions_code) as u64),
            ),
            ("maxmemory", &maxmemory),
            ("maxmemory_human", &human(maxmemory)),
            ("maxmemory_policy", &policy),
            ("allocator_frag_ratio", &"1.00"),
            ("allocator_frag_bytes", &0),
            ("allocator_rss_ratio", &ratio),
            ("allocator_rss_bytes", &rss_extra),
            ("rss_overhead_ratio", &"1.00"),
            ("rss_overhead_bytes", &0),
            ("mem_fragmentation_ratio", &ratio),
            ("mem_fragmentation_bytes", &rss_extra),
            ("mem_not_counted_for_evict", &not_counted),
            ("mem_replication_backlog", &0),
            ("mem_total_replication_buffers", &replication_buffers),
            // One read for both: the outboxes are all there is of either.
            ("mem_clients_slaves", &replication_buffers),
            ("mem_clients_normal", &ctx.server.clients.memory.normal()),
            ("mem_cluster_links", &0),
            ("mem_aof_buffer", &0),
            ("mem_allocator", &mem_allocator()),
            ("active_defrag_running", &0),
            ("lazyfree_pending_objects", &lazyfree::pending_objects()),
            ("lazyfreed_objects", &lazyfree::freed_objects()),
        ],
    );
}

/// No fork copies pages: the copy-on-write figures are the running
/// snapshot's pre-images, the bytes writers copied for it (the memory it
/// costs beyond the walk), and `current_fork_perc` is its progress.
/// `rdb_last_bgsave_status` is the last BGSAVE's outcome (a failed SAVE
/// leaves it, as in Redis; a successful save of any kind sets ok).
fn persistence(ctx: &mut Ctx, out: &mut String) {
    let aof = &ctx.server.aof;
    let st = &aof.stats;
    let get_bool = |b: &std::sync::atomic::AtomicBool| b.load(Ordering::Relaxed);
    let in_progress = get_bool(&st.rewrite_in_progress);
    let current_rewrite = if in_progress {
        (now_ms() / 1000).saturating_sub(st.rewrite_started.load(Ordering::Relaxed)) as i64
    } else {
        -1
    };
    let state = &ctx.server.save_state;
    let last_save = state.last_save.load(Ordering::Relaxed);
    let saves = state.saves.load(Ordering::Relaxed);
    let load_keys = state.last_load_keys.load(Ordering::Relaxed);
    let load_expired = state.last_load_expired.load(Ordering::Relaxed);
    let changes = ctx.server.keyspace.dirty.load(Ordering::Relaxed);
    let status = if state.last_ok.load(Ordering::Relaxed) {
        "ok"
    } else {
        "err"
    };
    let snapshot = ctx.server.keyspace.running_snapshot();
    let (cow, done, total) = snapshot.as_ref().map_or((0, 0, 0), |s| {
        (
            s.preimage_bytes(),
            s.keys_done.load(Ordering::Relaxed),
            s.keys_total,
        )
    });
    let percent = if total > 0 {
        format!("{:.2}", done as f64 * 100.0 / total as f64)
    } else {
        "0.00".to_string()
    };
    let bgsave_secs = crate::util::lock(&state.bgsave)
        .as_ref()
        .map_or(-1, |run| run.started.elapsed().as_secs() as i64);
    put(
        out,
        &[
            ("loading", &u8::from(ctx.server.is_loading())),
            ("async_loading", &u8::from(ctx.server.is_async_loading())),
            ("current_cow_peak", &cow),
            ("current_cow_size", &cow),
            ("current_cow_size_age", &0),
            ("current_fork_perc", &percent),
            ("current_save_keys_processed", &done),
            ("current_save_keys_total", &total),
            ("rdb_changes_since_last_save", &changes),
            ("rdb_bgsave_in_progress", &u8::from(bgsave_secs >= 0)),
            ("rdb_last_save_time", &last_save),
            ("rdb_last_bgsave_status", &status),
            (
                "rdb_last_bgsave_time_sec",
                &state.last_bgsave_secs.load(Ordering::Relaxed),
            ),
            ("rdb_current_bgsave_time_sec", &bgsave_secs),
            ("rdb_saves", &saves),
            ("rdb_last_cow_size", &state.last_cow.load(Ordering::Relaxed)),
            ("rdb_last_load_keys_expired", &load_expired),
            ("rdb_last_load_keys_loaded", &load_keys),
            (
                "aof_enabled",
                &u8::from(aof.state() != crate::aof::State::Off),
            ),
            ("aof_rewrite_in_progress", &u8::from(in_progress)),
            (
                "aof_rewrite_scheduled",
                &u8::from(get_bool(&st.rewrite_scheduled)),
            ),
            (
                "aof_last_rewrite_time_sec",
                &st.last_rewrite_secs.load(Ordering::Relaxed),
            ),
            ("aof_current_rewrite_time_sec", &current_rewrite),
            (
                "aof_last_bgrewrite_status",
                &ok_err(get_bool(&st.last_rewrite_ok)),
            ),
            ("aof_rewrites", &st.rewrites.load(Ordering::Relaxed)),
            (
                "aof_rewrites_consecutive_failures",
                &st.consecutive_failures.load(Ordering::Relaxed),
            ),
            (
                "aof_last_write_status",
                &ok_err(get_bool(&st.last_write_ok)),
            ),
            ("aof_last_cow_size", &0),
            ("module_fork_in_progress", &0),
            ("module_fork_last_cow_size", &0),
        ],
    );
    if ctx.server.config.appendonly() {
        let (current, base, buffered) = {
            let inner = aof.lock();
            (inner.current_size, inner.base_size, inner.buf_len())
        };
        put(
            out,
            &[
                ("aof_current_size", &current),
                ("aof_base_size", &base),
                (
                    "aof_pending_rewrite",
                    &u8::from(get_bool(&st.rewrite_scheduled)),
                ),
                ("aof_buffer_length", &buffered),
                ("aof_pending_bio_fsync", &u8::from(aof.fsync_running())),
                (
                    "aof_delayed_fsync",
                    &st.delayed_fsync.load(Ordering::Relaxed),
                ),
            ],
        );
    }
}

fn ok_err(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "err"
    }
}

fn stats(ctx: &mut Ctx, out: &mut String) {
    let syncs = ctx.server.replication.syncs();
    let stats = &ctx.server.stats;
    let pubsub = &ctx.server.pubsub;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let rates = stats.instantaneous();
    let kbps = |bytes_per_sec: u64| format!("{:.2}", bytes_per_sec as f64 / 1024.0);
    let (exceeded_total, exceeded_now) = ctx.server.evictor.exceeded_times();
    let (tracked_keys, tracked_items, tracked_prefixes) = ctx.server.tracking.totals();
    put(
        out,
        &[
            (
                "total_connections_received",
                &get(&stats.connections_received),
            ),
            (
                "total_commands_processed",
                &stats.get(Counter::CommandsProcessed),
            ),
            ("instantaneous_ops_per_sec", &rates.ops_per_sec),
            ("total_net_input_bytes", &stats.get(Counter::NetInputBytes)),
            (
                "total_net_output_bytes",
                &stats.get(Counter::NetOutputBytes),
            ),
            ("total_net_repl_input_bytes", &0),
            ("total_net_repl_output_bytes", &0),
            ("instantaneous_input_kbps", &kbps(rates.input_bytes_per_sec)),
            (
                "instantaneous_output_kbps",
                &kbps(rates.output_bytes_per_sec),
            ),
            ("instantaneous_input_repl_kbps", &"0.00"),
            ("instantaneous_output_repl_kbps", &"0.00"),
            ("rejected_connections", &get(&stats.rejected_connections)),
            ("sync_full", &syncs[0]),
            ("sync_partial_ok", &syncs[1]),
            ("sync_partial_err", &syncs[2]),
            ("expired_keys", &get(&ctx.server.keyspace.expired_keys)),
            ("expired_stale_perc", &"0.00"),
            ("expired_time_cap_reached_count", &0),
            ("expire_cycle_cpu_milliseconds", &0),
            ("evicted_keys", &get(&ctx.server.keyspace.evicted_keys)),
            ("evicted_clients", &ctx.server.clients.memory.evicted()),
            ("total_eviction_exceeded_time", &exceeded_total),
            ("current_eviction_exceeded_time", &exceeded_now),
            ("keyspace_hits", &stats.get(Counter::KeyspaceHits)),
            ("keyspace_misses", &stats.get(Counter::KeyspaceMisses)),
            ("pubsub_channels", &pubsub.len(Kind::Channel)),
            ("pubsub_patterns", &pubsub.len(Kind::Pattern)),
            ("pubsubshard_channels", &pubsub.len(Kind::Shard)),
            // No fork: the snapshots' cuts (keyspace::snapshot).
            (
                "latest_fork_usec",
                &ctx.server
                    .keyspace
                    .snapshots
                    .last_cut_usec
                    .load(Ordering::Relaxed),
            ),
            (
                "total_forks",
                &ctx.server
                    .keyspace
                    .snapshots
                    .started
                    .load(Ordering::Relaxed),
            ),
            (
                "migrate_cached_sockets",
                &ctx.server.migrate_sockets.count(),
            ),
            ("slave_expires_tracked_keys", &0),
            ("active_defrag_hits", &0),
            ("active_defrag_misses", &0),
            ("active_defrag_key_hits", &0),
            ("active_defrag_key_misses", &0),
            ("total_active_defrag_time", &0),
            ("current_active_defrag_time", &0),
            ("tracking_total_keys", &tracked_keys),
            ("tracking_total_items", &tracked_items),
            ("tracking_total_prefixes", &tracked_prefixes),
            ("unexpected_error_replies", &0),
            ("total_error_replies", &stats.get(Counter::ErrorReplies)),
            ("dump_payload_sanitizations", &0),
            ("total_reads_processed", &0),
            ("total_writes_processed", &0),
            ("io_threaded_reads_processed", &0),
            ("io_threaded_writes_processed", &0),
            ("reply_buffer_shrinks", &0),
            ("reply_buffer_expands", &0),
        ],
    );
}

/// Redis's replication section: the replica lines when this server
/// follows a master, then its own replicas, replication ids and backlog.
fn replication(ctx: &mut Ctx, out: &mut String) {
    let server = ctx.server;
    let replication = &server.replication;
    let replicas = replication.replicas();
    let link = server.master_link.info();
    put(
        out,
        &[("role", &if link.is_some() { "slave" } else { "master" })],
    );
    if let Some(link) = link {
        replica_lines(server, &link, out);
    }
    put(out, &[("connected_slaves", &replicas.len())]);
    for (i, r) in replicas.iter().enumerate() {
        let line = format!(
            "ip={},port={},state={},offset={},lag={}",
            r.ip, r.port, r.state, r.offset, r.lag
        );
        put(out, &[(&format!("slave{i}"), &line)]);
    }
    let (backlog_active, backlog_first, backlog_len) = replication.backlog_info();
    let (replid2, second_offset) = match replication.replid2() {
        Some((id, offset)) => (id, offset as i64),
        None => ("0".repeat(40), -1),
    };
    put(
        out,
        &[
            ("master_failover_state", &"no-failover"),
            ("master_replid", &replication.replid()),
            ("master_replid2", &replid2),
            ("master_repl_offset", &replication.offset()),
            ("second_repl_offset", &second_offset),
            ("repl_backlog_active", &u8::from(backlog_active)),
            ("repl_backlog_size", &server.config.repl_backlog_size()),
            ("repl_backlog_first_byte_offset", &backlog_first),
            ("repl_backlog_histlen", &backlog_len),
        ],
    );
}

/// The lines of a replica (`server.masterhost` set in Redis's
/// `genRedisInfoString`).
fn replica_lines(
    server: &crate::server::Server,
    link: &crate::replica::LinkInfo,
    out: &mut String,
) {
    use crate::replica::LinkState;
    let now = crate::util::now_ms() / 1000;
    let connected = link.state == LinkState::Connected;
    let offset = server.replication.offset();
    let last_io = if connected {
        now.saturating_sub(link.last_io) as i64
    } else {
        -1
    };
    put(
        out,
        &[
            ("master_host", &link.host),
            ("master_port", &link.port),
            ("master_link_status", &if connected { "up" } else { "down" }),
            ("master_last_io_seconds_ago", &last_io),
            (
                "master_sync_in_progress",
                &u8::from(link.state == LinkState::Transfer),
            ),
            ("slave_read_repl_offset", &(offset + link.read_ahead)),
            ("slave_repl_offset", &offset),
        ],
    );
    if link.state == LinkState::Transfer {
        let t = link.transfer;
        let perc = if t.size > 0 {
            t.read as f64 / t.size as f64 * 100.0
        } else {
            0.0
        };
        put(
            out,
            &[
                ("master_sync_total_bytes", &t.size),
                ("master_sync_read_bytes", &t.read),
                ("master_sync_left_bytes", &(t.size as i64 - t.read as i64)),
                ("master_sync_perc", &format!("{perc:.2}")),
                (
                    "master_sync_last_io_seconds_ago",
                    &now.saturating_sub(t.last_io),
                ),
            ],
        );
    }
    if !connected {
        let down = if link.down_since > 0 {
            now.saturating_sub(link.down_since) as i64
        } else {
            -1
        };
        put(out, &[("master_link_down_since_seconds", &down)]);
    }
    let config = &server.config;
    put(
        out,
        &[
            ("slave_priority", &config.replica_priority()),
            ("slave_read_only", &u8::from(config.replica_read_only())),
            ("replica_announced", &u8::from(config.replica_announced())),
        ],
    );
}

/// CPU seconds from /proc/self/stat (fields 14 to 17: user, system, and the
/// same for waited-for children), in USER_HZ ticks, which Linux fixes at 100.
/// Printed as Redis prints a `timeval`. There is no single main thread here,
/// so the `_main_thread` lines are left out, as Redis does where
/// `RUSAGE_THREAD` does not exist.
/// utime, stime, cutime, cstime of a `/proc` stat file, in clock ticks.
fn proc_cpu_ticks(path: &str) -> Vec<u64> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            // The command name (field 2) may hold spaces; fields resume after its ')'.
            let rest = &s[s.rfind(')')? + 1..];
            Some(
                rest.split_whitespace()
                    .skip(11)
                    .take(4)
                    .filter_map(|f| f.parse().ok())
                    .collect(),
            )
        })
        .unwrap_or_default()
}

/// The process's CPU time, and its main thread's (the thread whose id is
/// the process id: the first event loop, as Redis's main thread).
fn cpu(_ctx: &mut Ctx, out: &mut String) {
    let process = proc_cpu_ticks("/proc/self/stat");
    let main = proc_cpu_ticks(&format!("/proc/self/task/{}/stat", std::process::id()));
    let secs = |ticks: &[u64], i: usize| {
        let t = ticks.get(i).copied().unwrap_or(0);
        format!("{}.{:06}", t / 100, t % 100 * 10_000)
    };
    put(
        out,
        &[
            ("used_cpu_sys", &secs(&process, 1)),
            ("used_cpu_user", &secs(&process, 0)),
            ("used_cpu_sys_children", &secs(&process, 3)),
            ("used_cpu_user_children", &secs(&process, 2)),
            ("used_cpu_sys_main_thread", &secs(&main, 1)),
            ("used_cpu_user_main_thread", &secs(&main, 0)),
        ],
    );
}

fn cluster(_ctx: &mut Ctx, out: &mut String) {
    put(out, &[("cluster_enabled", &0)]);
}

/// `dbN:keys=..,expires=..,avg_ttl=..` for each non-empty database, under
/// INFO's lock of every shard. Keys count as DBSIZE counts them; `avg_ttl`
/// is active expiry's running estimate, as Redis's (0 until it sampled).
fn keyspace(ctx: &mut Ctx, out: &mut String) {
    let keyspace = &ctx.server.keyspace;
    for db in 0..keyspace.databases() {
        // The counts the shards keep as they change, read without locking
        // them: a lock set of all 4,096 shards is a transient ~100 KB,
        // which this reply's own `used_memory` would include.
        let keys = keyspace.db_keys(db);
        let (expires, avg_ttl) = (keyspace.db_volatile(db), keyspace.db_avg_ttl(db));
        if keys > 0 || expires > 0 {
            let _ = write!(
                out,
                "db{db}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_match_redis() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1.00K");
        assert_eq!(human(1957896), "1.87M");
        assert_eq!(human(25276510208), "23.54G");
    }

    #[test]
    fn sections_are_selected_like_redis() {
        let args = |a: &[&'static str]| -> Vec<&'static [u8]> {
            std::iter::once("info")
                .chain(a.iter().copied())
                .map(str::as_bytes)
                .collect()
        };
        let names = |bits: u32| -> Vec<&str> {
            SECTIONS
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & 1 << i != 0)
                .map(|(_, s)| s.name)
                .collect()
        };
        assert!(!names(selection(&args(&[]))).contains(&"commandstats"));
        assert_eq!(
            names(selection(&args(&["CPU", "server", "nope"]))),
            ["server", "cpu"]
        );
        assert_eq!(names(selection(&args(&["all"]))).len(), SECTIONS.len());
        assert!(names(selection(&args(&["nope"]))).is_empty());
    }
}
