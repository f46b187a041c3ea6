//! MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP (Redis's
//! object.c `memoryCommand`), with Redis 7.0.15's reply shapes. USAGE is our
//! own estimate of our own allocations (`crate::types::memory`), as Redis's
//! is of its own; STATS reports what we can read of the process.

use super::info::{mem_allocator, read_memory, MemoryReading};
use crate::commands::args::{help_reply, int_arg, is, syntax_error};
use crate::commands::{CmdResult, Ctx};
use crate::protocol::Reply;
use crate::types::memory::DEFAULT_SAMPLES;

/// MEMORY USAGE key [SAMPLES count]: options are checked before the key is
/// looked up; a negative count is a syntax error, 0 measures every element.
pub fn usage(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut samples = DEFAULT_SAMPLES;
    let mut j = 3;
    while j < args.len() {
        if !(is(args[j], "SAMPLES") && j + 1 < args.len()) {
            return Err(syntax_error());
        }
        samples = match int_arg(args[j + 1])? {
            n if n < 0 => return Err(syntax_error()),
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        j += 2;
    }
    Ok(ctx
        .db()
        .memory_usage(args[2], samples)
        .map_or(Reply::Null, Reply::from))
}

pub fn help(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        b"MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    ))
}

/// MEMORY STATS: Redis's map, fields in its order. We keep no separate
/// overhead accounting, so the process's anonymous memory counts as dataset.
pub fn stats(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let MemoryReading { used, rss, peak } = read_memory();
    let keyspace = &ctx.server.keyspace;
    let keys: usize = (0..keyspace.databases())
        .map(|db| keyspace.db_len(db))
        .sum();
    let int = |n: u64| Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    let field = |name: &str, value: Reply| (Reply::bulk_copy(name.as_bytes()), value);
    let mut map = vec![
        field("peak.allocated", int(peak)),
        field("total.allocated", int(used)),
    ];
    map.push(field("startup.allocated", int(0)));
    map.push(field("replication.backlog", int(0)));
    map.push(field(
        "clients.slaves",
        int(ctx.server.replication.replica_buffers()),
    ));
    map.push(field(
        "clients.normal",
        int(ctx.server.clients.memory.normal() as u64),
    ));
    for name in [
        "cluster.links",
        "aof.buffer",
        "lua.caches",
        "functions.caches",
    ] {
        map.push(field(name, int(0)));
    }
    for db in (0..keyspace.databases()).filter(|&db| keyspace.db_len(db) > 0) {
        let overheads = ["main", "expires", "slot-to-keys"]
            .map(|t| field(&format!("overhead.hashtable.{t}"), int(0)));
        map.push(field(&format!("db.{db}"), Reply::Map(overheads.into())));
    }
    let rss_ratio = rss as f64 / used as f64;
    let rss_extra = Reply::Integer(rss as i64 - used as i64);
    map.extend([
        field("overhead.total", int(0)),
        field("keys.count", int(keys as u64)),
        field("keys.bytes-per-key", int(used / keys.max(1) as u64)),
        field("dataset.bytes", int(used)),
        field("dataset.percentage", Reply::Double(100.0)),
        field(
            "peak.percentage",
            Reply::Double(used as f64 * 100.0 / peak as f64),
        ),
        field("allocator.allocated", int(used)),
        field("allocator.active", int(used)),
        field("allocator.resident", int(rss)),
        field("allocator-fragmentation.ratio", Reply::Double(1.0)),
        field("allocator-fragmentation.bytes", int(0)),
        field("allocator-rss.ratio", Reply::Double(rss_ratio)),
        field("allocator-rss.bytes", rss_extra.clone()),
        field("rss-overhead.ratio", Reply::Double(1.0)),
        field("rss-overhead.bytes", int(0)),
        field("fragmentation", Reply::Double(rss_ratio)),
        field("fragmentation.bytes", rss_extra),
    ]);
    Ok(Reply::Map(map))
}

/// MEMORY DOCTOR: Redis 7.0's `getMemoryDoctorReport`, its conditions read
/// from the figures INFO memory shows (so the allocator's own
/// fragmentation, which INFO reports as 1.00, never raises its item, and
/// the RSS over `used_memory` raises both the total and the allocator RSS
/// items, as INFO puts that overhead in both).
pub fn doctor(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let MemoryReading { used, rss, peak } = read_memory();
    let server = ctx.server;
    let replicas = server.replication.replicas().len() as u64;
    let clients = (server.clients.len() as u64)
        .saturating_sub(replicas)
        .max(1);
    let clients_normal = server.clients.memory.normal() as u64;
    let replica_buffers = server.replication.replica_buffers();
    let over = |ratio: f64, bytes: u64| rss as f64 / used as f64 > ratio && bytes > 10 << 20;
    let rss_extra = rss.saturating_sub(used);
    Ok(Reply::Verbatim(
        "txt",
        doctor_report(&Findings {
            empty: used < 5 * 1024 * 1024,
            big_peak: peak as f64 / used as f64 > 1.5,
            high_frag: over(1.4, rss_extra),
            high_alloc_rss: over(1.1, rss_extra),
            big_client_buf: clients_normal / clients > 200 * 1024,
            big_slave_buf: replicas > 0 && replica_buffers > 10 * 1024 * 1024,
            many_scripts: crate::scripting::SCRIPTS.len() > 1000,
        })
        .into(),
    ))
}

/// What MEMORY DOCTOR found (Redis's flags; `empty` hides the rest).
struct Findings {
    empty: bool,
    big_peak: bool,
    high_frag: bool,
    high_alloc_rss: bool,
    big_client_buf: bool,
    big_slave_buf: bool,
    many_scripts: bool,
}

/// Redis's report texts for `found`, in its order.
fn doctor_report(found: &Findings) -> String {
    if found.empty {
        return "Hi Sam, this instance is empty or is using very little memory, \
                my issues detector can't be used in these conditions. \
                Please, leave for your mission on Earth and fill it with some data. \
                The new Sam and I will be back to our programming as soon as I \
                finished rebooting.\n"
            .to_string();
    }
    let allocator = mem_allocator();
    let items: [(bool, String); 6] = [
        (found.big_peak, " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n".to_string()),
        (found.high_frag, format!(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"{allocator}\".\n\n")),
        (found.high_alloc_rss, " * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n".to_string()),
        (found.big_slave_buf, " * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica (on average). This likely means that there is some replica instance that is struggling receiving data, either because it is too slow or because of networking issues. As a result, data piles on the master output buffers. Please try to identify what replica is not receiving data correctly and why. You can use the INFO output in order to check the replicas delays and the CLIENT LIST command to check the output buffers of each replica.\n\n".to_string()),
        (found.big_client_buf, " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n".to_string()),
        (found.many_scripts, " * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.\n\n".to_string()),
    ];
    let found: Vec<String> = items
        .into_iter()
        .filter_map(|(on, text)| on.then_some(text))
        .collect();
    if found.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. \
                I can only account for what occurs on this base.\n"
            .to_string();
    }
    let mut report =
        "Sam, I detected a few issues in this Redis instance memory implants:\n\n".to_string();
    for text in found {
        report.push_str(&text);
    }
    report.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
    report
}

/// MEMORY MALLOC-STATS: jemalloc's `malloc_stats_print` report, as Redis
/// prints it with jemalloc; Redis's answer for other allocators when
/// jemalloc is not the one in use (library tests).
pub fn malloc_stats(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let mut report = Vec::new();
    match tikv_jemalloc_ctl::stats_print::stats_print(&mut report, Default::default()) {
        Ok(()) if !report.is_empty() => Ok(Reply::bulk(report)),
        _ => Ok(Reply::bulk_copy(
            b"Stats not supported for the current allocator",
        )),
    }
}

/// MEMORY PURGE: Redis's `jemalloc_purge`: every arena gives its dirty
/// pages back to the system now (`arena.<MALLCTL_ARENAS_ALL>.purge`).
pub fn purge(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    purge_arenas();
    Ok(Reply::OK)
}

/// jemalloc's `MALLCTL_ARENAS_ALL` purge; a no-op if jemalloc is not in use.
fn purge_arenas() {
    // jemalloc's MALLCTL_ARENAS_ALL is 4096.
    let name = c"arena.4096.purge";
    // SAFETY: a void mallctl: no old or new value, so null pointers and
    // zero sizes are what it expects; the name is NUL-terminated.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        tracing::debug!("jemalloc purge failed: {rc}");
    }
}
