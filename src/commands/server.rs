//! Server commands: COMMAND, DBSIZE, FLUSHDB, FLUSHALL, TIME, INFO, CONFIG,
//! SLOWLOG, LATENCY, SHUTDOWN, LASTSAVE, SAVE and BGSAVE (Redis's server.c, db.c and config.c), with Redis 7.0.15's replies.

mod info;
mod latency;
mod memory;
mod slowlog;

use bytes::Bytes;

use super::args::{help_reply, is, syntax_error};
use super::meta::Packed;
use super::table::{c_string, AclCategories};
use super::{cmd, cmd_locking, CmdResult, Ctx, Flags, Locks, Registration};
use crate::glob::glob_match;
use crate::lazyfree;
use crate::propagate::Target;
use crate::protocol::Reply;
use crate::server::{Shutdown, ShutdownFlags};
use crate::util::now_us;
use std::sync::atomic::Ordering;

pub static COMMANDS: &[Registration] = &[
    cmd("command", command),
    cmd("command|count", command_count),
    cmd("command|info", command_info),
    cmd("command|docs", command_docs),
    cmd("command|list", command_list),
    cmd("command|getkeys", command_getkeys),
    cmd("command|getkeysandflags", command_getkeysandflags),
    cmd("command|help", command_help),
    cmd_locking("dbsize", dbsize, Locks::Db),
    cmd_locking("flushdb", flushdb, Locks::Db),
    cmd_locking("flushall", flushall, Locks::All),
    cmd("time", time),
    cmd("info", info::info),
    cmd("config|get", config_get),
    cmd("config|set", config_set),
    cmd("config|resetstat", config_resetstat),
    cmd("config|rewrite", config_rewrite),
    cmd("config|help", config_help),
    cmd("shutdown", shutdown),
    cmd("lastsave", lastsave),
    // SAVE snapshots every database at one moment.
    cmd_locking("save", save, Locks::All),
    // BGSAVE's cut is one moment: every shard, for as long as it takes to
    // mark them (the copying happens later, on a thread).
    cmd_locking("bgsave", bgsave, Locks::All),
    // A rewrite's snapshot is of one moment: every shard, as SAVE.
    cmd_locking("bgrewriteaof", bgrewriteaof, Locks::All),
    cmd("memory|usage", memory::usage),
    cmd("memory|stats", memory::stats),
    cmd("memory|doctor", memory::doctor),
    cmd("memory|malloc-stats", memory::malloc_stats),
    cmd("memory|purge", memory::purge),
    cmd("memory|help", memory::help),
    cmd("slowlog|get", slowlog::get),
    cmd("slowlog|len", slowlog::len),
    cmd("slowlog|reset", slowlog::reset),
    cmd("slowlog|help", slowlog::help),
    cmd("latency|latest", latency::latest),
    cmd("latency|history", latency::history),
    cmd("latency|reset", latency::reset),
    cmd("latency|graph", latency::graph),
    cmd("latency|doctor", latency::doctor),
    cmd("latency|histogram", latency::histogram),
    cmd("latency|help", latency::help),
];

/// INFO's `used_memory` now (the RDB header records it).
pub fn used_memory() -> u64 {
    info::read_memory().used
}

/// Every command's COMMAND INFO entry (COMMAND, COMMAND INFO with no names).
fn all_info(ctx: &Ctx) -> Reply {
    Reply::Array(
        ctx.server
            .commands
            .top_level()
            .map(|(_, info, _)| info.unpack())
            .collect(),
    )
}

fn command(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(all_info(ctx))
}

fn command_count(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::from(ctx.server.commands.len()))
}

/// COMMAND INFO [name ...]: a null for each unknown name; `container|sub` names a subcommand.
fn command_info(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() == 2 {
        return Ok(all_info(ctx));
    }
    let commands = &ctx.server.commands;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|name| {
                commands
                    .find(&String::from_utf8_lossy(name))
                    .map_or(Reply::Null, |(_, info, _)| info.unpack())
            })
            .collect(),
    ))
}

/// COMMAND DOCS [name ...]: a map from full name to docs; unknown names are skipped.
fn command_docs(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let commands = &ctx.server.commands;
    let entry = |(name, _, docs): (&str, _, &Packed)| {
        (
            Reply::Bulk(Bytes::copy_from_slice(name.as_bytes())),
            docs.unpack(),
        )
    };
    Ok(Reply::Map(if args.len() == 2 {
        commands.top_level().map(entry).collect()
    } else {
        args[2..]
            .iter()
            .filter_map(|name| commands.find(&String::from_utf8_lossy(name)))
            .map(entry)
            .collect()
    }))
}

/// COMMAND LIST's filter (Redis's `shouldFilterFromCommandList`).
enum ListFilter {
    All,
    /// No modules are loaded, so no command belongs to one.
    Module,
    /// An ACL category; none (an unknown name) keeps nothing, as in Redis.
    AclCat(Option<AclCategories>),
    Pattern(Bytes),
}

impl ListFilter {
    fn keeps(&self, name: &str, categories: AclCategories) -> bool {
        match self {
            ListFilter::All => true,
            ListFilter::Module => false,
            ListFilter::AclCat(cat) => cat.is_some_and(|cat| categories.intersects(cat)),
            ListFilter::Pattern(pattern) => glob_match(pattern, name.as_bytes(), true),
        }
    }
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]:
/// full names of commands and subcommands. The filter must be the last argument.
fn command_list(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let filter = match &args[2..] {
        [] => ListFilter::All,
        [by, kind, arg] if is(by, "FILTERBY") => {
            if is(kind, "MODULE") {
                ListFilter::Module
            } else if is(kind, "ACLCAT") {
                // Redis's `ACLGetCommandCategoryFlagByName`: strcasecmp.
                ListFilter::AclCat(AclCategories::from_name(
                    &c_string(arg, usize::MAX).to_ascii_lowercase(),
                ))
            } else if is(kind, "PATTERN") {
                ListFilter::Pattern(Bytes::copy_from_slice(arg))
            } else {
                return Err(syntax_error());
            }
        }
        _ => return Err(syntax_error()),
    };
    Ok(Reply::Array(
        ctx.server
            .commands
            .names()
            .filter(|(name, categories)| filter.keeps(name, *categories))
            .map(|(name, _)| Reply::bulk(name.to_string()))
            .collect(),
    ))
}

/// COMMAND GETKEYS command [arg ...]: the keys from the command's key specs,
/// with Redis's errors in Redis's order.
fn command_getkeys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    getkeys(ctx, args, false)
}

fn command_getkeysandflags(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    getkeys(ctx, args, true)
}

/// Redis's `getKeysSubcommandImpl`: the keys of the command in `args[2..]`,
/// each as `[key, flags]` `with_flags`.
fn getkeys(ctx: &mut Ctx, args: &[&[u8]], with_flags: bool) -> CmdResult {
    let target = &args[2..];
    let cmd = ctx
        .server
        .commands
        .lookup(target)
        .map_err(|_| Reply::error("ERR Invalid command specified"))?;
    if !cmd.has_keys() {
        return Err(Reply::error("ERR The command has no key arguments"));
    }
    if !cmd.arity_ok(target.len()) {
        return Err(Reply::error(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys = cmd.keys_and_flags(target);
    if keys.is_empty() && !cmd.flags.contains(Flags::NO_MANDATORY_KEYS) {
        return Err(Reply::error("ERR Invalid arguments specified for command"));
    }
    Ok(Reply::Array(
        keys.into_iter()
            .filter_map(|(i, flags)| {
                let key = Reply::bulk_copy(target.get(i)?);
                Some(match with_flags {
                    true => Reply::Array(vec![key, flags.to_reply()]),
                    false => key,
                })
            })
            .collect(),
    ))
}

/// Redis 7.0.15's COMMAND HELP text, word for word.
fn command_help(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        b"COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    ))
}

fn dbsize(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::from(ctx.db().len()))
}

/// FLUSHDB/FLUSHALL's mode (Redis's `getFlushCommandFlags`): ASYNC or SYNC,
/// else `lazyfree-lazy-user-flush`. True means free in the background.
fn flush_async(ctx: &Ctx, args: &[&[u8]]) -> Result<bool, Reply> {
    match args {
        [_] => Ok(ctx.server.config.lazyfree_lazy_user_flush()),
        [_, mode] if is(mode, "SYNC") => Ok(false),
        [_, mode] if is(mode, "ASYNC") => Ok(true),
        _ => Err(syntax_error()),
    }
}

/// Drops the tables a flush removed: here (SYNC), or for ASYNC on the
/// lazyfree thread, so the shards are unlocked without waiting for the memory
/// to be freed. Redis's `emptyDbAsync` counts every key as a lazyfreed object.
fn free<T: Send + 'static>(removed: T, keys: usize, in_background: bool) {
    if in_background {
        lazyfree::free(removed, keys as u64);
    }
}

fn flushdb(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let in_background = flush_async(ctx, args)?;
    let mut db = ctx.db();
    let keys = db.len();
    free(db.clear(), keys, in_background);
    // Even an empty database's flush reaches replicas (Redis forces it).
    ctx.force_propagation(Target::ALL);
    Ok(Reply::OK)
}

/// FLUSHALL (Redis's `flushAllDataAndResetRDB`): a BGSAVE in progress is
/// stopped (its snapshot would bring the data back), and with save points
/// the empty dataset is saved at once, so no change is left unsaved.
fn flushall(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let in_background = flush_async(ctx, args)?;
    let server = ctx.server;
    crate::persistence::abort_bgsave(server, ctx.guard());
    let (mut removed, mut keys) = (Vec::new(), 0);
    for db in 0..server.keyspace.databases() {
        let mut db = ctx.db_at(db);
        keys += db.len();
        removed.extend(db.clear());
    }
    free(removed, keys, in_background);
    if !server.config.save().is_empty() && crate::persistence::save(server, ctx.guard()).is_ok() {
        ctx.guard().changes_saved();
    }
    ctx.force_propagation(Target::ALL);
    Ok(Reply::OK)
}

/// TIME: seconds and microseconds as two bulk strings.
fn time(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let now = now_us();
    Ok(Reply::Array(vec![
        Reply::bulk((now / 1_000_000).to_string()),
        Reply::bulk((now % 1_000_000).to_string()),
    ]))
}

/// CONFIG GET pattern [pattern ...]: a map of matching settings.
fn config_get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let patterns: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
    Ok(Reply::Map(
        ctx.server
            .config
            .get(&patterns)
            .into_iter()
            .map(|(name, value)| (Reply::bulk(name), Reply::bulk(value)))
            .collect(),
    ))
}

/// CONFIG SET name value [name value ...]: all or nothing, validated by
/// `Config::set_from` (protected settings may be changed from loopback only
/// when `enable-protected-configs local` says so).
fn config_set(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let pairs = args[2..].chunks(2);
    if pairs.len() * 2 != args.len() - 2 {
        return Err(syntax_error());
    }
    let pairs: Vec<(&[u8], &[u8])> = pairs.map(|p| (p[0], p[1])).collect();
    let local = ctx.client.handle.addr.is_local();
    let config = &ctx.server.config;
    let (old_port, old_tls_port, old_bind) = (config.port(), config.tls_port(), config.bind());
    let loading = ctx.server.is_loading() || ctx.server.is_async_loading();
    if loading && config.denied_while_loading(&pairs, local) {
        return Err(Reply::error(super::LOADING_ERROR));
    }
    let before = settings_of(config, &pairs);
    config.set_from(&pairs, local).map_err(Reply::error_owned)?;
    // Redis's apply functions, in its order; a failed one puts every
    // setting of the command back.
    let failed = |argument: &str, why: &str| {
        let before: Vec<(&[u8], &[u8])> = before.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        let _ = config.set_from(&before, true);
        Err(Reply::error_owned(format!(
            "ERR CONFIG SET failed (possibly related to argument '{argument}') - {why}"
        )))
    };
    if config.port() != old_port {
        if let Err(e) = ctx.server.listen_on(config.port(), false) {
            tracing::warn!("cannot listen on port {}: {e}", config.port());
            return failed("port", "Unable to listen on this port. Check server logs.");
        }
    }
    if config.bind() != old_bind {
        if let Err(e) = ctx.server.rebind(&old_bind) {
            tracing::warn!("Failed to bind: {e}");
            return failed("bind", "Failed to bind to specified addresses.");
        }
    }
    // `applyTlsCfg`: any tls-* setting rebuilds the configurations when TLS
    // is in use; `applyTLSPort` builds them if they were not yet.
    let tls_named = pairs
        .iter()
        .find(|(name, _)| name.len() > 4 && name[..4].eq_ignore_ascii_case(b"tls-"));
    if let Some((name, _)) = tls_named {
        let port_change = config.tls_port() != old_tls_port;
        let rebuild = if port_change {
            !ctx.server.tls.is_configured()
        } else {
            config.tls_enabled() && !name.eq_ignore_ascii_case(b"tls-auth-clients")
        };
        let shown = String::from_utf8_lossy(name).into_owned();
        if rebuild {
            if let Err(why) = ctx.server.tls.configure(config) {
                tracing::warn!("{why}");
                return failed(
                    &shown,
                    "Unable to update TLS configuration. Check server logs.",
                );
            }
        }
        if port_change {
            if let Err(e) = ctx.server.listen_on(config.tls_port(), true) {
                tracing::warn!("cannot listen on port {}: {e}", config.tls_port());
                return failed(&shown, "Unable to listen on this port. Check server logs.");
            }
        }
    }
    // Redis's `updateAppendonly`: on writes a base first (a rewrite the
    // cron starts), off flushes and closes the file.
    match (ctx.server.aof.state(), config.appendonly()) {
        (crate::aof::State::Off, true) => {
            let server = ctx.server;
            server.aof.start();
            let rewriting = server.aof.stats.rewrite_in_progress.load(Ordering::Relaxed);
            // Redis's `startAppendOnly`: at once, unless something else
            // runs (then the cron starts it, as Redis schedules it).
            if crate::persistence::snapshot_active(server) && !rewriting {
                tracing::warn!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
            } else if ctx.client.in_multi() || !ctx.guard().holds_no_shard() {
                tracing::warn!("AOF was enabled during a transaction. An AOF background was scheduled to start when possible.");
            } else {
                if rewriting {
                    tracing::warn!("AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
                    crate::aof::rewrite::kill(server, true);
                }
                if let Err(crate::aof::rewrite::NotStarted::Failed) =
                    crate::aof::rewrite::start_locked(server)
                {
                    server.aof.stop();
                    tracing::warn!("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
                    return failed("appendonly", "Unable to turn on AOF. Check server logs.");
                }
            }
        }
        (crate::aof::State::On | crate::aof::State::WaitRewrite, false) => {
            let may_lock = ctx.guard().holds_no_shard();
            crate::aof::rewrite::kill(ctx.server, may_lock);
            ctx.server.aof.stop();
        }
        _ => {}
    }
    let named = |wanted: &[u8]| {
        pairs
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(wanted))
    };
    if named(b"aof-disable-auto-gc") && !config.aof_disable_auto_gc() {
        ctx.server.aof.delete_history();
    }
    // Redis's `updateOOMScoreAdj`.
    for name in ["oom-score-adj", "oom-score-adj-values"] {
        if named(name.as_bytes()) {
            let replica = ctx.server.keyspace.is_replica();
            if ctx.server.oom_score.apply(config, replica).is_err() {
                return failed(
                    name,
                    "Failed to set current oom_score_adj. Check server logs.",
                );
            }
            break;
        }
    }
    if named(b"jemalloc-bg-thread") {
        config.apply_jemalloc_bg_thread();
    }
    // Redis's `updateRequirePass`: the default user's password follows.
    if named(b"requirepass") {
        ctx.server
            .acl
            .set_default_password(config.requirepass().as_deref());
    }
    // Client eviction's limit follows `maxmemory-clients` and `maxmemory`
    // at once, evicting if the clients are over it now.
    if named(b"maxmemory-clients") || named(b"maxmemory") {
        ctx.server.clients.memory.set_limit(config);
    }
    // Redis's `updateMaxmemory`: a limit under what is used now evicts at
    // once (its `evicted` events reach subscribers without waiting for the
    // next command); in a transaction holding locks, the next command does.
    if named(b"maxmemory") && ctx.guard().holds_no_shard() {
        if let Some(over) = crate::evict::bytes_to_free(ctx.server) {
            let max = config.maxmemory();
            let used = max + over;
            tracing::warn!("WARNING: the new maxmemory value set via CONFIG SET ({max}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.");
        }
        crate::evict::perform_evictions(ctx.server);
    }
    let names: Vec<&[u8]> = pairs.iter().map(|(name, _)| *name).collect();
    for warning in config.unenforced_warnings(Some(&names)) {
        tracing::warn!("{warning}");
    }
    Ok(Reply::OK)
}

/// The current values of the settings CONFIG SET names, to put back if
/// applying the new ones fails.
fn settings_of<'a>(
    config: &crate::config::Config,
    pairs: &[(&'a [u8], &[u8])],
) -> Vec<(&'a [u8], String)> {
    pairs
        .iter()
        .filter_map(|(name, _)| Some((*name, config.get_str(&String::from_utf8_lossy(name))?)))
        .collect()
}

fn config_resetstat(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.server.stats.reset();
    ctx.server.commands.all().for_each(|c| c.stats.reset());
    ctx.server
        .keyspace
        .expired_keys
        .store(0, std::sync::atomic::Ordering::Relaxed);
    ctx.server
        .keyspace
        .evicted_keys
        .store(0, std::sync::atomic::Ordering::Relaxed);
    ctx.server.evictor.reset_stats();
    ctx.server.clients.memory.reset_stats();
    lazyfree::reset_stats();
    Ok(Reply::OK)
}

/// CONFIG REWRITE (`config::rewrite`): the start-up config file rewritten
/// with the settings in force, its layout and comments kept.
fn config_rewrite(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let Some(path) = ctx.server.config.file() else {
        return Err(Reply::error(
            "ERR The server is running without a config file",
        ));
    };
    match rewrite_config(ctx.server, path, false) {
        Ok(()) => {
            tracing::info!("CONFIG REWRITE executed with success.");
            Ok(Reply::OK)
        }
        Err(e) => {
            let reason = crate::config::strerror(&e);
            tracing::warn!("CONFIG REWRITE failed: {reason}");
            Err(Reply::error_owned(format!(
                "ERR Rewriting config file: {reason}"
            )))
        }
    }
}

/// Redis's `rewriteConfig`: the settings and the ACL users in force written
/// to the config file; `force_write` writes the defaults too.
pub(super) fn rewrite_config(
    server: &crate::server::Server,
    path: &std::path::Path,
    force_write: bool,
) -> std::io::Result<()> {
    let users: Vec<Vec<u8>> = (server.acl.all_users().iter())
        .map(|user| super::acl::user_line(server, user))
        .collect();
    server.config.rewrite(path, &users, force_write)
}

/// Redis 7.0.15's CONFIG HELP text, word for word.
fn config_help(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        b"CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    ))
}

/// A shutdown refused (its save failed) or given up (SHUTDOWN ABORT).
pub const SHUTDOWN_FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT] (Redis's
/// `shutdownCommand`, through [`crate::server::Server::prepare_shutdown`]):
/// unless NOW it may first wait for lagging replicas, the client waiting
/// too; a final save that fails refuses it ([`SHUTDOWN_FAILED`]) unless
/// FORCE; ABORT calls off a pending one. Otherwise, like Redis (which
/// calls `exit(0)`), the caller gets no reply: its connection is killed.
fn shutdown(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut flags = ShutdownFlags::default();
    let mut abort = false;
    for arg in &args[1..] {
        if is(arg, "NOSAVE") {
            flags.nosave = true;
        } else if is(arg, "SAVE") {
            flags.save = true;
        } else if is(arg, "FORCE") {
            flags.force = true;
        } else if is(arg, "NOW") {
            flags.now = true;
        } else if is(arg, "ABORT") {
            abort = true;
        } else {
            return Err(syntax_error());
        }
    }
    let others = flags.force || flags.now;
    if (abort && (flags.save || flags.nosave || others)) || (flags.save && flags.nosave) {
        return Err(syntax_error());
    }
    if abort {
        if !ctx.server.abort_shutdown() {
            return Err(Reply::error("ERR No shutdown in progress."));
        }
        return Ok(Reply::OK);
    }
    match ctx.server.prepare_shutdown(flags) {
        Shutdown::Failed => Err(Reply::error(SHUTDOWN_FAILED)),
        Shutdown::Waiting => {
            // The client waits for the outcome (Redis's BLOCKED_SHUTDOWN).
            ctx.client.waits_for_shutdown = true;
            Ok(Reply::OK)
        }
        Shutdown::Exit => {
            ctx.client.handle.kill();
            ctx.server.shutdown.notify_one();
            Ok(Reply::OK)
        }
    }
}

/// LASTSAVE: the Unix time of the last successful save (the start time
/// until one succeeds, as Redis answers).
fn lastsave(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let last = ctx
        .server
        .save_state
        .last_save
        .load(std::sync::atomic::Ordering::Relaxed);
    Ok(Reply::from(i64::try_from(last).unwrap_or(i64::MAX)))
}

/// SAVE: the RDB snapshot written synchronously, every shard locked
/// (Redis's error for a failed save is a bare `ERR`).
fn save(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    if crate::persistence::bgsave_running(server) {
        return Err(Reply::error("ERR Background save already in progress"));
    }
    server.save_state.saves.fetch_add(1, Ordering::Relaxed);
    crate::persistence::save(server, ctx.guard())
        .map(|()| Reply::OK)
        .map_err(|_| Reply::error("ERR"))
}

/// BGREWRITEAOF (Redis's `bgrewriteaofCommand`): the snapshot's cut under
/// the command's locks, the base written in the background; scheduled
/// inside EXEC or while a BGSAVE runs.
fn bgrewriteaof(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    use crate::aof::rewrite::{start, NotStarted};
    let server = ctx.server;
    let stats = &server.aof.stats;
    let scheduled = || {
        stats.consecutive_failures.store(0, Ordering::Relaxed);
        Ok(Reply::simple(
            "Background append only file rewriting scheduled",
        ))
    };
    let running = stats.rewrite_in_progress.load(Ordering::Relaxed);
    if ctx.client.in_multi() && !running {
        stats.rewrite_scheduled.store(true, Ordering::Relaxed);
        return scheduled();
    }
    match start(server, ctx.guard()) {
        Ok(()) => Ok(Reply::simple(
            "Background append only file rewriting started",
        )),
        Err(NotStarted::Scheduled) => scheduled(),
        Err(NotStarted::InProgress) => Err(Reply::error(
            "ERR Background append only file rewriting already in progress",
        )),
        Err(NotStarted::Failed) => Err(Reply::error(
            "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
        )),
    }
}

/// BGSAVE [SCHEDULE] (Redis's `bgsaveCommand`): the cut under the
/// command's locks, the file written in the background; scheduled instead
/// inside EXEC, or with SCHEDULE while another snapshot runs.
fn bgsave(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let schedule = match args {
        [_] => false,
        [_, option] if option.eq_ignore_ascii_case(b"schedule") => true,
        _ => return Err(syntax_error()),
    };
    let (server, in_exec) = (ctx.server, ctx.client.in_multi());
    crate::persistence::bgsave_command(server, ctx.guard(), schedule, in_exec)
        .map(Reply::simple)
        .map_err(Reply::error)
}
