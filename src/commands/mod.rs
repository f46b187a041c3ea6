//! The command table and the one execution path every command takes.
//!
//! Each family module (`string`, `keys`, `server`, ...) lists its handlers in a
//! `COMMANDS` slice. [`CommandTable::build`] joins them with the metadata Redis
//! publishes about the same commands ([`meta`]): arity, flags, key specs, ACL
//! categories, docs. [`execute`] then runs a request: look up, check arity,
//! queue it if the client is in MULTI, lock the shards of the command's keys,
//! call the handler. EXEC takes the same path: its locks are the union of its
//! queued commands' locks, and it calls each of them under that one guard.

mod acl;
pub mod args;
mod bitmap;
mod blocking;
mod callstats;
mod cluster;
mod connection;
mod debug;
mod functions;
mod geo;
mod hash;
mod hyperloglog;
mod keys;
mod list;
mod lolwut;
pub mod meta;
pub mod migrate;
mod module;
mod pubsub;
mod replication;
mod scripting;
pub mod server;
mod set;
mod sort;
mod stream;
mod string;
mod table;
mod tx;
mod zset;

pub use callstats::ErrorStats;
pub use table::{AclCategories, AclEntry, Command, CommandTable, Flags, KeyFlags};

use std::borrow::Cow;

use bytes::Bytes;

use crate::client::Client;
use crate::keyspace::{CommandClock, DbView, Guard, Keyspace, LockSet, UndeclaredKey};
pub use crate::propagate::deletion;
use crate::propagate::{Op, Target};
use crate::protocol::Reply;
use crate::server::Server;

/// A command handler. `args[0]` is the command name, as in Redis's `argv`.
/// Errors come back as `Err(reply)` so handlers can use `?` and read as their
/// happy path (Redis's `...OrReply` helpers).
pub type Handler = fn(&mut Ctx<'_, '_>, &[&[u8]]) -> CmdResult;

pub type CmdResult = Result<Reply, Reply>;

/// Which shards a command locks beyond its declared keys.
#[derive(Clone, Copy)]
pub enum Locks {
    /// Exactly the keys its key specs name (none for PING, CONFIG, ...).
    Keys,
    /// Every shard of the client's database (KEYS, SCAN, DBSIZE, FLUSHDB).
    Db,
    /// Every shard of every database (FLUSHALL, SWAPDB).
    All,
    /// Computed from the arguments (MOVE and COPY reach into another database).
    Custom(fn(&Keyspace, usize, &[&[u8]], &mut LockSet)),
    /// The union of the locks of the client's queued commands (EXEC).
    Queued,
}

/// A family module's entry for one command: its name (`get`, `client|id`), handler and locks.
pub struct Registration {
    pub name: &'static str,
    pub handler: Handler,
    pub locks: Locks,
}

/// A command whose locks are its declared keys.
pub const fn cmd(name: &'static str, handler: Handler) -> Registration {
    Registration {
        name,
        handler,
        locks: Locks::Keys,
    }
}

/// A command with other locks.
pub const fn cmd_locking(name: &'static str, handler: Handler, locks: Locks) -> Registration {
    Registration {
        name,
        handler,
        locks,
    }
}

/// Every family's registrations.
fn registrations() -> impl Iterator<Item = &'static Registration> {
    [
        connection::COMMANDS,
        acl::COMMANDS,
        keys::COMMANDS,
        list::COMMANDS,
        blocking::COMMANDS,
        server::COMMANDS,
        string::COMMANDS,
        bitmap::COMMANDS,
        hyperloglog::COMMANDS,
        hash::COMMANDS,
        set::COMMANDS,
        zset::COMMANDS,
        geo::COMMANDS,
        sort::COMMANDS,
        stream::COMMANDS,
        pubsub::COMMANDS,
        replication::COMMANDS,
        tx::COMMANDS,
        scripting::COMMANDS,
        functions::COMMANDS,
        debug::COMMANDS,
        migrate::COMMANDS,
        lolwut::COMMANDS,
        cluster::COMMANDS,
        module::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

/// Checks a config file's `rename-command` lines so far against the
/// command names, as Redis applies each line when it reads it: the error of
/// the last line, if it fails.
pub fn check_renames(renames: &[(Vec<u8>, Vec<u8>)]) -> Result<(), &'static str> {
    let mut names: std::collections::HashSet<Vec<u8>> =
        config_time_table().top_level_names().into_iter().collect();
    for (from, to) in renames {
        if !names.remove(&from.to_ascii_lowercase()) {
            return Err("No such command in rename-command");
        }
        if !to.is_empty() && !names.insert(to.to_ascii_lowercase()) {
            return Err("Target command name already exists");
        }
    }
    Ok(())
}

/// The command table as built, for checking config-file lines before the
/// server (and its own table) exists.
fn config_time_table() -> &'static CommandTable {
    static TABLE: std::sync::OnceLock<CommandTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(CommandTable::build)
}

/// Checks a config file `user` line's rules ([`crate::acl::Acl::validate_config_user`]).
pub fn validate_config_user(
    rules: &[&[u8]],
    pubsub_all: bool,
) -> Result<(), (usize, crate::acl::RuleError)> {
    crate::acl::Acl::validate_config_user(config_time_table(), rules, pubsub_all)
}

/// What a handler works with: the server, its client, and the locked keyspace.
pub struct Ctx<'a, 'k> {
    pub server: &'a Server,
    pub client: &'a mut Client,
    guard: &'a mut Guard<'k>,
    /// The command's clock: frozen while it runs, as in Redis.
    clock: &'a CommandClock,
    /// How the running command asked to be propagated.
    propagation: CallPropagation,
}

/// What a handler said about its own propagation (Redis's
/// `rewriteClientCommandVector`, `preventCommandPropagation`,
/// `forceCommandPropagation`); `call` acts on it once the handler returns.
#[derive(Default)]
struct CallPropagation {
    /// The arguments to propagate instead of the command's own.
    rewrite: Option<Vec<Bytes>>,
    /// Nothing of the command itself (its ops went out as `also_propagate`).
    prevent: bool,
    /// Propagated even if it changed nothing (FLUSHALL, PUBLISH).
    force: Option<Target>,
}

/// Redis's `afterErrorReply` for the clients whose replies nobody reads:
/// an error applying the master's stream (`from_master`) or loading the
/// AOF is logged as CRITICAL (the data may now differ from the source's);
/// under `propagation-error-behavior panic` (or `panic-on-replicas`, for a
/// read-only replica) the server stops there, as Redis panics.
pub fn error_unread(server: &Server, args: &[&[u8]], reply: &Reply, from_master: bool) {
    let errors: Vec<&Reply> = match reply {
        Reply::Array(items) => items.iter().filter(|item| item.is_error()).collect(),
        reply if reply.is_error() => vec![reply],
        _ => return,
    };
    let (from, to) = if from_master {
        ("replica", "master")
    } else {
        ("server", "AOF-loading-client")
    };
    let name = server
        .commands
        .lookup(args)
        .map_or("<unknown>", |cmd| cmd.name.as_str());
    let panics = server.config.propagation_error_panics(from_master)
        && (!from_master || server.config.replica_read_only());
    for error in errors {
        let Reply::Error(text) = error else { continue };
        let text = String::from_utf8_lossy(&text[..text.len().min(4096)]);
        tracing::warn!("== CRITICAL == This {from} is sending an error to its {to}: '{text}' after processing the command '{name}'");
        if panics {
            tracing::error!("Guru Meditation: This {from} panicked sending an error to its {to} after processing the command '{name}'");
            std::process::abort();
        }
    }
}

/// Redis's `shared.loadingerr`.
pub const LOADING_ERROR: &str = "LOADING Redis is loading the dataset in memory";

/// Arguments copied for the propagation stream.
pub fn argv(parts: &[&[u8]]) -> Vec<Bytes> {
    parts.iter().map(|p| Bytes::copy_from_slice(p)).collect()
}

impl<'a, 'k> Ctx<'a, 'k> {
    /// The client's selected database.
    pub fn db(&mut self) -> DbView<'_, 'k> {
        self.guard.db(self.client.db, self.clock)
    }

    /// The command's time (reads the clock if nothing did yet).
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn clock(&self) -> &'a CommandClock {
        self.clock
    }

    /// Another database (MOVE, COPY ... DB n), which the command must have locked.
    pub fn db_at(&mut self, db: usize) -> DbView<'_, 'k> {
        self.guard.db(db, self.clock)
    }

    pub fn guard(&mut self) -> &mut Guard<'k> {
        self.guard
    }

    /// Whether anyone reads the propagation stream: when not, the rewrites
    /// below are skipped, so handlers may build their arguments in closures.
    pub fn propagating(&self) -> bool {
        self.guard.propagating()
    }

    /// Propagates the command as `args` instead of its own arguments, if it
    /// changed anything (Redis's `rewriteClientCommandVector`): a relative
    /// TTL as an absolute one, a blocking pop as its plain form, ...
    pub fn propagate_as(&mut self, args: impl FnOnce() -> Vec<Bytes>) {
        if self.propagating() {
            self.propagation.rewrite = Some(args());
        }
    }

    /// Propagates `args` in the client's database now, ahead of the command
    /// itself (Redis's `alsoPropagate`: SPOP's SREMs).
    pub fn also_propagate(&mut self, args: impl FnOnce() -> Vec<Bytes>) {
        let db = self.client.db;
        self.guard.propagate(|| Op::new(db, &args()));
    }

    /// The command itself is not propagated (its ops went out through
    /// [`Ctx::also_propagate`]).
    pub fn prevent_propagation(&mut self) {
        self.propagation.prevent = true;
    }

    /// The command is propagated to `target` even if it changed nothing.
    pub fn force_propagation(&mut self, target: Target) {
        self.propagation.force = Some(target);
    }

    /// Redis's `notifyKeyspaceEvent` for `key` in the client's database:
    /// `class` is a [`crate::config::notify`] bit, `event` Redis's event name.
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        self.guard.notify(class, event, self.client.db, key);
    }
}

/// RESP2 subscribed mode (Redis's `processCommand`): only the subscription
/// commands, PING, QUIT and RESET may run. A list of names, not a flag,
/// because Redis 7.0 lists these commands' procedures there too.
fn subscribed_mode_error(client: &Client, cmd: &Command) -> Option<Reply> {
    const ALLOWED: &[&str] = &[
        "ping",
        "subscribe",
        "ssubscribe",
        "unsubscribe",
        "sunsubscribe",
        "psubscribe",
        "punsubscribe",
        "quit",
        "reset",
    ];
    let subscribed = client.resp == crate::protocol::Resp::V2 && client.subs.active();
    (subscribed && !ALLOWED.contains(&cmd.name.as_str())).then(|| {
        Reply::error_owned(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            cmd.name
        ))
    })
}

/// Looks a request up and checks its arity: the checks Redis's
/// `processCommand` makes before running or queueing a command. A refusal
/// carries the command when it was found (EXEC refused inside MULTI aborts).
fn resolve<'s>(
    server: &'s Server,
    args: &[&[u8]],
) -> Result<&'s Command, (Option<&'s Command>, Reply)> {
    let cmd = server
        .commands
        .lookup(args)
        .map_err(|reply| (None, reply))?;
    if !cmd.arity_ok(args.len()) {
        let reply = Reply::error_owned(format!(
            "ERR wrong number of arguments for '{}' command",
            cmd.name
        ));
        return Err((Some(cmd), reply));
    }
    Ok(cmd)
}

/// Runs a checked command under the guard `ctx` holds (Redis's `call`).
/// A blocked client's re-run after a wake-up is not counted or shown to
/// MONITOR again: Redis counts a blocking command once, when it first runs
/// (but counts the error a woken client is served, as a failed call).
fn call(ctx: &mut Ctx, cmd: &Command, args: &[&[u8]]) -> Reply {
    let rerun = ctx.client.block.is_queued();
    // EXEC's own state, while its queued commands are called.
    let outer = std::mem::take(&mut ctx.propagation);
    let start = crate::counters::Ticks::now();
    let reply = run_handler(ctx, cmd, args);
    let dirty = ctx.guard.command_done(reply.is_error());
    let asked = std::mem::replace(&mut ctx.propagation, outer);
    if ctx.guard.propagating() {
        propagate(ctx, cmd, args, dirty, asked);
    }
    if dirty > 0 && ctx.server.keyspace.is_replica() && !ctx.client.must_obey() {
        remember_replica_keys(ctx, cmd, args);
    }
    if ctx.client.tracking != 0 && cmd.flags.contains(Flags::READONLY) && !ctx.client.in_script {
        remember_keys(ctx, cmd, args);
    }
    let usec = start.elapsed_us();
    let counted = std::mem::take(&mut ctx.client.error_counted);
    if !rerun {
        let track_latency = ctx.server.config.latency_tracking();
        cmd.stats.record(usec, reply.is_error(), track_latency);
        ctx.server.stats.command_done(&reply, counted);
        ctx.server.monitors.feed(ctx.client, cmd, args);
    } else if ctx.client.block.ends_with_error() {
        cmd.stats.fail();
        ctx.server.stats.error_reply(&reply);
    }
    // A command that blocked is logged when it is served.
    if ctx.client.block.pending.is_none() {
        let server = ctx.server;
        server
            .slowlog
            .offer(&server.config, ctx.client, cmd, args, usec);
        let event = if cmd.flags.contains(Flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        server
            .latency
            .add_if_needed(&server.config, event, usec / 1000);
    }
    reply
}

/// A write on a writable replica by one of its own clients: the keys it
/// left with a TTL are the replica's to expire (Redis's
/// `rememberSlaveKeyWithExpire`, which `setExpire` calls).
fn remember_replica_keys(ctx: &mut Ctx, cmd: &Command, args: &[&[u8]]) {
    let db = ctx.client.db;
    for (i, _) in cmd.keys_and_flags(args) {
        if ctx
            .db()
            .stored(args[i])
            .is_some_and(|e| e.expires_at().is_some())
        {
            ctx.server.keyspace.replica_keys.remember(db, args[i]);
        }
    }
}

/// Redis's `trackingRememberKeys` after a read-only command: a tracking
/// client (not BCAST) may now cache the keys it read. A script's commands
/// are not tracked one by one: a script that ran a read-only command makes
/// its caller track the keys it declared ([`remember_script_keys`]), and the
/// read-only script commands themselves track nothing, as in Redis.
fn remember_keys(ctx: &mut Ctx, cmd: &Command, args: &[&[u8]]) {
    if cmd.flags.contains(Flags::PUBSUB)
        || matches!(cmd.name.as_str(), "eval_ro" | "evalsha_ro" | "fcall_ro")
    {
        return;
    }
    let keys = cmd.keys_and_flags(args);
    remember_read_keys(ctx, keys.into_iter().map(|(i, _)| args[i]));
}

/// After a script that ran a read-only command: its caller tracks the
/// script's declared keys (Redis's `call` remembers the keys of
/// `server.script_caller`'s command).
pub fn remember_script_keys(ctx: &mut Ctx, keys: &[&[u8]]) {
    if ctx.client.tracking != 0 {
        remember_read_keys(ctx, keys.iter().copied());
    }
}

/// Remembers `keys` for the client unless OPTIN without CACHING yes, or
/// OPTOUT with CACHING no, says otherwise (or it tracks in BCAST mode).
fn remember_read_keys<'k>(ctx: &mut Ctx, keys: impl ExactSizeIterator<Item = &'k [u8]>) {
    use crate::tracking::flag;
    let tracking = ctx.client.tracking;
    let caching = tracking & flag::CACHING != 0;
    if tracking & flag::ON == 0
        || tracking & flag::BCAST != 0
        || (tracking & flag::OPTIN != 0 && !caching)
        || (tracking & flag::OPTOUT != 0 && caching)
        || keys.len() == 0
    {
        return;
    }
    ctx.server.tracking.remember(ctx.client.id, keys);
}

/// Runs the handler. A handler that reaches a key its command did not
/// declare is stopped there (see `keyspace::UndeclaredKey`) and the client
/// gets an error: a table bug must not take a lock out of order.
fn run_handler(ctx: &mut Ctx, cmd: &Command, args: &[&[u8]]) -> Reply {
    let run = std::panic::AssertUnwindSafe(|| (cmd.handler)(ctx, args));
    match std::panic::catch_unwind(run) {
        Ok(result) => result.unwrap_or_else(|e| e),
        Err(payload) if payload.is::<UndeclaredKey>() => Reply::error_owned(format!(
            "ERR internal error: '{}' touched a key it did not declare",
            cmd.name
        )),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Adds the command that just ran to its unit's ops, as Redis's `call`
/// does: if it changed something or forced it, rewritten if it asked, never
/// EXEC itself (its commands are the ops; the unit is wrapped in MULTI/EXEC).
fn propagate(ctx: &mut Ctx, cmd: &Command, args: &[&[u8]], dirty: u64, asked: CallPropagation) {
    if asked.prevent || matches!(cmd.locks, Locks::Queued) {
        return;
    }
    let target = if dirty > 0 {
        Target::ALL
    } else {
        match asked.force {
            Some(target) => target,
            None => return,
        }
    };
    let db = ctx.client.db;
    ctx.guard.propagate(|| match asked.rewrite {
        Some(rewrite) => Op::with_target(db, &rewrite, target),
        None => Op::with_target(db, args, target),
    });
}

/// What a running script is allowed and has done (Redis's `scriptRunCtx`
/// flags), for [`script_call`].
#[derive(Default)]
pub struct ScriptRun {
    /// EVAL_RO/EVALSHA_RO/FCALL_RO, or a script flagged `no-writes`.
    pub read_only: bool,
    /// Flagged `allow-oom` (or `no-writes`).
    pub allow_oom: bool,
    /// A write command was let through (`SCRIPT_WRITE_DIRTY`): from then on
    /// the script can neither be killed nor be failed by server state.
    pub wrote: bool,
    /// The shards of the keys the script declared.
    pub declared: LockSet,
    /// A command reached a shard outside `declared`.
    pub strayed: bool,
    /// A read-only command ran: the caller tracks the declared keys.
    pub read: bool,
}

/// Why `redis.call` did not run a command.
pub enum ScriptRefusal {
    /// Redis's error for the script, as its `scriptCall` words it: a plain
    /// message (the script makes it `ERR ...`) or `-CODE message`.
    Error(Cow<'static, str>),
    /// The command needs shards the script's guard does not hold, and they
    /// are not free right now (see [`Guard::try_extend`]).
    Undeclared,
}

/// A command run by a script (`redis.call`/`redis.pcall`): Redis's
/// `scriptCall`. The one place a script's command is checked (unknown,
/// arity, `noscript`, writes in a read-only script, the server refusing
/// writes, the user's ACL permissions, `maxmemory`) before it goes through
/// [`call`] like a client's. The client's
/// `db` and `resp` are the script's while this runs.
pub fn script_call(
    ctx: &mut Ctx,
    args: &[&[u8]],
    run: &mut ScriptRun,
) -> Result<Reply, ScriptRefusal> {
    let result = check_script_call(ctx, args, run);
    if let Err(ScriptRefusal::Error(text)) = &result {
        // An error reply of the script's client, as Redis's `scriptCall`
        // counts it (`afterErrorReply`), even when `redis.pcall` catches it.
        let counted = match text.strip_prefix('-') {
            Some(coded) => Reply::error_owned(coded.to_string()),
            None => Reply::error_owned(format!("ERR {text}")),
        };
        ctx.server.stats.error_reply(&counted);
    }
    result
}

/// [`script_call`]'s checks, then the call.
fn check_script_call(
    ctx: &mut Ctx,
    args: &[&[u8]],
    run: &mut ScriptRun,
) -> Result<Reply, ScriptRefusal> {
    let refuse = |text: &'static str| Err(ScriptRefusal::Error(Cow::Borrowed(text)));
    let cmd = match resolve(ctx.server, args) {
        Ok(cmd) => cmd,
        Err((None, _)) => return refuse("Unknown Redis command called from script"),
        Err((Some(_), _)) => {
            return refuse("Wrong number of args calling Redis command from script")
        }
    };
    if cmd.flags.contains(Flags::NOSCRIPT) {
        cmd.stats.reject();
        return refuse("This Redis command is not allowed from script");
    }
    // Redis's `scriptVerifyACL`: the script runs as its caller's user.
    if let Some(denied) = acl_denial(ctx.server, ctx.client, cmd, args, crate::acl::Context::Lua) {
        cmd.stats.reject();
        return refuse(match denied {
            crate::acl::Denied::Command => {
                "The user executing the script can't run this command or subcommand"
            }
            crate::acl::Denied::Key(_) => {
                "The user executing the script can't access at least one of the keys mentioned in the command arguments"
            }
            crate::acl::Denied::Channel(_) => {
                "The user executing the script can't publish to the channel mentioned in the command"
            }
        });
    }
    let writes = cmd.flags.contains(Flags::WRITE);
    if run.read_only && (writes || cmd.flags.contains(Flags::MAY_REPLICATE)) {
        cmd.stats.reject();
        return refuse("Write commands are not allowed from read-only scripts.");
    }
    if writes && !run.wrote {
        let refusal = read_only_replica(ctx.server, ctx.client)
            .then(|| Reply::error("READONLY You can't write against a read only replica."))
            .or_else(|| crate::persistence::write_refusal(ctx.server))
            .or_else(|| too_few_good_replicas(ctx.server).then(|| Reply::error(NOREPLICAS)));
        if let Some(Reply::Error(text)) = refusal {
            cmd.stats.reject();
            let text = format!("-{}", String::from_utf8_lossy(&text));
            return Err(ScriptRefusal::Error(Cow::Owned(text)));
        }
    }
    // Redis's `scriptVerifyOOM`: over `maxmemory`, a script that has not
    // written yet may not run a command that can grow memory.
    if cmd.flags.contains(Flags::DENYOOM)
        && !run.wrote
        && !run.allow_oom
        && crate::evict::over_maxmemory(ctx.server)
    {
        cmd.stats.reject();
        let text = format!("-{}", crate::evict::OOM_ERROR);
        return Err(ScriptRefusal::Error(Cow::Owned(text)));
    }
    let set = cmd.lock_set(&ctx.server.keyspace, ctx.client.db, args);
    if !run.strayed && !run.declared.includes(&set) {
        run.strayed = true;
    }
    if !ctx.guard.covers(&set) && !ctx.guard.try_extend(&set) {
        return Err(ScriptRefusal::Undeclared);
    }
    if writes {
        run.wrote = true;
    }
    run.read |= cmd.flags.contains(Flags::READONLY);
    Ok(call(ctx, cmd, args))
}

/// A blocked command ended by CLIENT UNBLOCK ... ERROR: its error reply
/// counts (errorstats, `total_error_replies`) and the call counts as
/// failed, as Redis's `updateStatsOnUnblock` does.
pub fn unblocked_with_error(server: &Server, args: &[&[u8]], reply: &Reply) {
    if let Ok(cmd) = server.commands.lookup(args) {
        cmd.stats.fail();
    }
    server.stats.error_reply(reply);
}

/// Whether the client's user may run `cmd` with `args` ([`crate::acl::check`]); a
/// refusal is logged in the ACL log with `context`.
pub fn acl_denial(
    server: &Server,
    client: &mut Client,
    cmd: &Command,
    args: &[&[u8]],
    context: crate::acl::Context,
) -> Option<crate::acl::Denied> {
    // The master client runs as Redis's superuser (no ACL user).
    if client.must_obey() {
        return None;
    }
    let denied = crate::acl::check(client.permissions(&server.acl), cmd, args).err()?;
    let (reason, object) = denied.log_parts(cmd, args);
    server.acl.add_log(
        reason,
        context,
        object,
        client.user.name.clone(),
        client.handle.describe(),
        server.config.acllog_max_len(),
    );
    Some(denied)
}

/// Redis's `rejectCommand`: a command refused before it ran counts as a
/// rejected call of its own (when it was found) and as an error reply, and
/// dooms the transaction it was meant for.
fn refuse(server: &Server, client: &mut Client, cmd: Option<&Command>, reply: Reply) -> Reply {
    if let Some(cmd) = cmd {
        cmd.stats.reject();
    }
    server
        .stats
        .rejected(tx::refused(server, client, cmd, reply))
}

/// Whether a CLIENT PAUSE of `kind` holds this request back (Redis's
/// `processCommand`): every command under ALL; under WRITE the ones that
/// write or may replicate, and an EXEC queuing one. A request refused
/// before that point (unknown, wrong arity, not authenticated) is answered
/// at once. Replicas are never paused.
pub fn held_by_pause(
    server: &Server,
    client: &Client,
    args: &[&[u8]],
    kind: crate::pause::PauseKind,
) -> bool {
    use crate::pause::PauseKind;
    if kind == PauseKind::Off || client.replica.is_some() {
        return false;
    }
    let Ok(cmd) = resolve(server, args) else {
        return false;
    };
    if client.auth_required(&server.acl) && !cmd.flags.contains(Flags::NO_AUTH) {
        return false;
    }
    let replicates = |flags: Flags| flags.intersects(Flags::WRITE.with(Flags::MAY_REPLICATE));
    kind == PauseKind::All || any_runs(server, client, cmd, args, replicates)
}

/// Whether `test` holds for the flags of `cmd` ([`command_flags`]: a
/// script's declared ones) or, for EXEC, of one of the queued commands it
/// would run (Redis's `mstate.cmd_flags` / `cmd_inv_flags`).
pub(crate) fn any_runs(
    server: &Server,
    client: &Client,
    cmd: &Command,
    args: &[&[u8]],
    test: impl Fn(Flags) -> bool,
) -> bool {
    test(command_flags(cmd, args))
        || (matches!(cmd.locks, Locks::Queued)
            && client.tx.queued.iter().flatten().any(|queued| {
                let queued = crate::protocol::borrow_args(queued);
                resolve(server, &queued).is_ok_and(|c| test(command_flags(c, &queued)))
            }))
}

/// A command's flags as Redis's `getCommandFlags` sees them: EVAL and
/// FCALL of a script that declared its flags take those instead
/// (`scriptFlagsToCmdFlags`): one that may write is a write command, one
/// not `allow-oom` (nor `no-writes`) a `denyoom` one. Asked only when a
/// refusal or a pause is in force (`maxmemory` reached, writes refused, a
/// replica), as the script's flags cost a lookup.
pub fn command_flags(cmd: &Command, args: &[&[u8]]) -> Flags {
    use crate::scripting::ScriptFlags;
    let Some(script) = crate::scripting::declared_flags(&cmd.name, args) else {
        return cmd.flags;
    };
    let mut flags = cmd.flags.without(
        Flags::STALE
            .with(Flags::DENYOOM)
            .with(Flags::WRITE)
            .with(Flags::MAY_REPLICATE),
    );
    let no_writes = script.contains(ScriptFlags::NO_WRITES);
    if !no_writes && !script.contains(ScriptFlags::ALLOW_OOM) {
        flags = flags.with(Flags::DENYOOM);
    }
    if !no_writes {
        flags = flags.with(Flags::WRITE);
    }
    if script.contains(ScriptFlags::ALLOW_STALE) {
        flags = flags.with(Flags::STALE);
    }
    flags
}

/// Redis's `checkGoodReplicasStatus`: with `min-replicas-to-write` and
/// `min-replicas-max-lag` set, a master takes writes only while that many
/// replicas acknowledged within the lag.
pub fn too_few_good_replicas(server: &Server) -> bool {
    let wanted = server.config.min_replicas_to_write();
    let max_lag = server.config.min_replicas_max_lag();
    if wanted == 0 || max_lag == 0 || server.keyspace.is_replica() {
        return false;
    }
    let good = (server.replication.online_replicas().iter())
        .filter(|r| r.lag <= max_lag)
        .count() as u64;
    good < wanted
}

/// The error of a write refused by [`too_few_good_replicas`].
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

/// Whether this client's writes are refused: a read-only replica takes
/// writes from its master (and its AOF) alone.
pub fn read_only_replica(server: &Server, client: &Client) -> bool {
    server.keyspace.is_replica() && !client.must_obey() && server.config.replica_read_only()
}

/// Redis's `processCommand` on a read-only replica: writes are its
/// master's alone.
fn replica_refusal(
    server: &Server,
    client: &Client,
    cmd: &Command,
    args: &[&[u8]],
) -> Option<Reply> {
    (read_only_replica(server, client)
        && any_runs(server, client, cmd, args, |f| f.contains(Flags::WRITE)))
    .then(|| Reply::error("READONLY You can't write against a read only replica."))
}

/// `replica-serve-stale-data no` while the link to the master is down:
/// only the `stale` commands (INFO, REPLICAOF, ...) run.
fn stale_refusal(server: &Server, client: &Client, cmd: &Command, args: &[&[u8]]) -> Option<Reply> {
    let denied = server.keyspace.is_replica()
        && !server.config.replica_serve_stale_data()
        && !server.master_link.is_connected()
        && any_runs(server, client, cmd, args, |f| !f.contains(Flags::STALE));
    denied.then(|| {
        Reply::error(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        )
    })
}

/// Runs one request and returns its reply: the single path for every command.
pub fn execute(server: &Server, client: &mut Client, args: &[&[u8]]) -> Reply {
    if client
        .handle
        .busy_tx
        .load(std::sync::atomic::Ordering::Relaxed)
        != 0
    {
        client.apply_busy_tx(&server.keyspace.watches);
    }
    let reply = dispatch(server, client, args);
    // CLIENT CACHING applies to the next command, or to a whole transaction
    // (Redis's `resetClient`: any CLIENT subcommand keeps it).
    if client.tracking & crate::tracking::flag::CACHING != 0
        && !client.in_multi()
        && !args[0].eq_ignore_ascii_case(b"client")
    {
        client.tracking &= !crate::tracking::flag::CACHING;
    }
    reply
}

/// Redis's `processCommand` refusal of a `protected` command (DEBUG,
/// MODULE LOAD/LOADEX/UNLOAD) when `enable-debug-command` or
/// `enable-module-command` is `no`, or `local` and the client is not on
/// loopback. None when allowed.
fn protected_refusal(server: &Server, client: &Client, cmd: &Command) -> Option<Reply> {
    if !cmd.flags.contains(Flags::PROTECTED) {
        return None;
    }
    let local = client.handle.addr.is_local();
    let (command, setting, allowed) = if cmd.name.starts_with("module|") {
        let allowed = server.config.module_command_allowed(local);
        ("MODULE", "enable-module-command", allowed)
    } else {
        let allowed = server.config.debug_command_allowed(local);
        ("DEBUG", "enable-debug-command", allowed)
    };
    (!allowed).then(|| {
        Reply::error_owned(format!(
            "ERR {command} command not allowed. If the {setting} option is set to \"local\", \
             you can run it from a local connection, otherwise you need to set this option in the \
             configuration file, and then restart the server."
        ))
    })
}

fn dispatch(server: &Server, client: &mut Client, args: &[&[u8]]) -> Reply {
    // Redis's `processCommand` keeps the tracking table within
    // `tracking-table-max-keys` before each command.
    server.tracking.limit();
    let cmd = match resolve(server, args) {
        Ok(cmd) => cmd,
        Err((cmd, reply)) => return refuse(server, client, cmd, reply),
    };
    client.note_command(cmd, server.keyspace.lru_clock.now_ms());
    if let Some(reply) = protected_refusal(server, client, cmd) {
        return refuse(server, client, Some(cmd), reply);
    }
    if client.auth_required(&server.acl) && !cmd.flags.contains(Flags::NO_AUTH) {
        let reply = Reply::error("NOAUTH Authentication required.");
        return refuse(server, client, Some(cmd), reply);
    }
    // Redis refuses a `no_multi` command in MULTI before asking the ACLs.
    if !(client.in_multi() && cmd.flags.contains(Flags::NO_MULTI)) {
        let context = if client.in_multi() {
            crate::acl::Context::Multi
        } else {
            crate::acl::Context::Toplevel
        };
        if let Some(denied) = acl_denial(server, client, cmd, args, context) {
            let reply = Reply::error_owned(denied.error_text(cmd));
            return refuse(server, client, Some(cmd), reply);
        }
    }
    // Redis's `processCommand` with `maxmemory`: evict before the command
    // locks anything, refuse what may grow memory if that was not enough.
    // The AOF's replay is not refused (Redis runs it outside processCommand).
    if !client.must_obey() {
        if let Some(reply) = crate::evict::before_command(server, client, cmd, args) {
            return refuse(server, client, Some(cmd), reply);
        }
    }
    // Redis's `is_write_command`: EXEC of a transaction holding a write is
    // one (`mstate.cmd_flags`).
    let writes = || any_runs(server, client, cmd, args, |f| f.contains(Flags::WRITE));
    // Redis's `writeCommandsDeniedByDiskError` (PING too, as Redis).
    if !client.must_obey() {
        if let Some(reply) = crate::persistence::write_refusal(server) {
            if cmd.name == "ping" || writes() {
                return refuse(server, client, Some(cmd), reply);
            }
        }
    }
    if !client.must_obey() && too_few_good_replicas(server) && writes() {
        return refuse(server, client, Some(cmd), Reply::error(NOREPLICAS));
    }
    if let Some(reply) = replica_refusal(server, client, cmd, args) {
        return refuse(server, client, Some(cmd), reply);
    }
    if let Some(reply) = subscribed_mode_error(client, cmd) {
        cmd.stats.reject();
        return server.stats.rejected(reply);
    }
    if let Some(reply) = stale_refusal(server, client, cmd, args) {
        return refuse(server, client, Some(cmd), reply);
    }
    // Redis's `processCommand` while loading: only `loading` commands.
    if server.is_loading() && !client.replaying && !cmd.flags.contains(Flags::LOADING) {
        let reply = Reply::error(LOADING_ERROR);
        return refuse(server, client, Some(cmd), reply);
    }
    // Redis's `processCommand` while async-loading: old data is served,
    // but not what must wait for the new (REPLICAOF, FLUSHALL, ...).
    if server.is_async_loading() && cmd.flags.contains(Flags::NO_ASYNC_LOADING) {
        let reply = Reply::error(LOADING_ERROR);
        return refuse(server, client, Some(cmd), reply);
    }
    // Redis's busy-script check: a script past `busy-reply-threshold` on
    // another event loop.
    if crate::scripting::BUSY.any() && !cmd.flags.contains(Flags::ALLOW_BUSY) && !client.master {
        return refuse(server, client, Some(cmd), crate::scripting::busy_error());
    }
    if client.in_multi() {
        if let Some(reply) = tx::queue(server, client, cmd, args) {
            return reply;
        }
    }
    let locks = match cmd.locks {
        Locks::Queued => tx::queued_locks(server, client),
        _ => cmd.lock_set(&server.keyspace, client.db, args),
    };
    let mut guard = server.keyspace.lock(locks);
    if client.replaying {
        guard = guard.unpropagated();
    }
    // SCAN and RANDOMKEY run directly: the expired keys they reclaim are
    // DELs of their own, like active expiry's, not a transaction (Redis's
    // `CMD_TOUCHES_ARBITRARY_KEYS` in `propagatePendingCommands`).
    if cmd.flags.contains(Flags::TOUCHES_ARBITRARY_KEYS) {
        guard = guard.without_multi();
    }
    let clock = if client.must_obey() {
        CommandClock::replaying()
    } else {
        CommandClock::default()
    };
    guard.set_client(client.id);
    let mut ctx = Ctx {
        server,
        client,
        guard: &mut guard,
        clock: &clock,
        propagation: CallPropagation::default(),
    };
    let reply = call(&mut ctx, cmd, args);
    if let Some(bytes) = client.forward.take() {
        server.replication.feed_from_master(&bytes, client.db);
    }
    guard.release();
    client.woke = guard.take_woken();
    reply
}
