//! MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP (Redis's
//! object.c `memoryCommand`), with Redis 7.0.15's reply shapes. USAGE is our
//! own estimate of our own allocations (`crate::types::memory`), as Redis's
//! is of its own; STATS reports what we can read of the process.

use super::info::{read_memory, MemoryReading};
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
    for name in [
        "startup.allocated",
        "replication.backlog",
        "clients.slaves",
        "clients.normal",
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

/// MEMORY DOCTOR: Redis's report below 5 MB (too little to judge) and its
/// all-clear above (we track none of the issues it looks for: big client
/// buffers, fragmentation of its own allocator, ...).
pub fn doctor(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let report = if read_memory().used < 5 * 1024 * 1024 {
        "Hi Sam, this instance is empty or is using very little memory, \
         my issues detector can't be used in these conditions. \
         Please, leave for your mission on Earth and fill it with some data. \
         The new Sam and I will be back to our programming as soon as I \
         finished rebooting.\n"
    } else {
        "Hi Sam, I can't find any memory issue in your instance. \
         I can only account for what occurs on this base.\n"
    };
    Ok(Reply::Verbatim("txt", report.into()))
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
