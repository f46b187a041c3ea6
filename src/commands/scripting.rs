//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (Redis's eval.c).
//!
//! A script locks like any command, through its lock set ([`script_locks`]):
//! a script known to touch only the keys it declares locks their shards;
//! any other (new, or seen reaching further) locks every shard of every
//! database. A run that meets an undeclared key before writing anything is
//! stopped and run again under every lock (see ARCHITECTURE.md).

use super::args::{help_reply, int_arg, is};
use super::{cmd, cmd_locking, CmdResult, Ctx, Locks, Registration};
use crate::keyspace::{Keyspace, LockSet};
use crate::protocol::Reply;
use crate::scripting::engine::{self, Callee, Invocation, Outcome};
use crate::scripting::{self, KillOutcome, Script, ScriptFlags, BUSY, SCRIPTS};

pub static COMMANDS: &[Registration] = &[
    cmd_locking("eval", eval, Locks::Custom(script_locks)),
    cmd_locking("evalsha", evalsha, Locks::Custom(script_locks)),
    cmd_locking("eval_ro", eval_ro, Locks::Custom(script_locks)),
    cmd_locking("evalsha_ro", evalsha_ro, Locks::Custom(script_locks)),
    cmd("script|load", script_load),
    cmd("script|exists", script_exists),
    cmd("script|flush", script_flush),
    cmd("script|kill", script_kill),
    cmd("script|help", script_help),
];

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// The keys an EVAL-style command declares, when its numkeys is valid.
pub(super) fn declared_keys<'a>(args: &'a [&'a [u8]]) -> Option<&'a [&'a [u8]]> {
    let n = usize::try_from(int_arg(args.get(2)?).ok()?).ok()?;
    args.get(3..3 + n)
}

/// EVALSHA or EVALSHA_RO (the command table let only the four EVAL
/// variants through, and only these two start so).
fn is_evalsha(name: &[u8]) -> bool {
    name.get(..7)
        .is_some_and(|start| start.eq_ignore_ascii_case(b"evalsha"))
}

/// The cached script an EVAL-style request names, if any.
fn cached(args: &[&[u8]]) -> Option<std::sync::Arc<Script>> {
    if is_evalsha(args[0]) {
        SCRIPTS.get(&scripting::sha_arg(args[1])?)
    } else {
        SCRIPTS.get_by_body(args[1])
    }
}

/// The locks of an EVAL-style command: its keys' shards for a script known
/// to keep to them, otherwise every shard of every database.
fn script_locks(keyspace: &Keyspace, db: usize, args: &[&[u8]], set: &mut LockSet) {
    match (cached(args), declared_keys(args)) {
        (Some(script), Some(keys)) if script.hint.keys_suffice() => {
            for key in keys {
                set.add_arg_key(keyspace, db, key);
            }
        }
        _ => set.add_all(keyspace),
    }
}

fn eval(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    run_eval(ctx, args, false)
}

fn evalsha(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    run_eval(ctx, args, false)
}

fn eval_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    run_eval(ctx, args, true)
}

fn evalsha_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    run_eval(ctx, args, true)
}

/// Adds `body` to the cache once it parses (Redis's `luaCreateFunction`).
fn create_script(body: &[u8]) -> Result<std::sync::Arc<Script>, Reply> {
    if let Some(script) = SCRIPTS.get_by_body(body) {
        return Ok(script);
    }
    let sha = scripting::sha1hex(body);
    let (flags, shebang_len) =
        scripting::shebang_flags(body).map_err(|e| Reply::error_owned(format!("ERR {e}")))?;
    let script = Script {
        sha,
        body: bytes::Bytes::copy_from_slice(body),
        flags,
        shebang_len,
        hint: Default::default(),
    };
    engine::check_compiles(&script).map_err(|e| Reply::error_owned(format!("ERR {e}")))?;
    Ok(SCRIPTS.insert(script))
}

/// Redis's `evalGenericCommand` and `scriptPrepareForRun`.
fn run_eval(ctx: &mut Ctx, args: &[&[u8]], ro: bool) -> CmdResult {
    // Shown before the commands it runs, as Redis's evalCommand does.
    ctx.server.monitors.feed_script(ctx.client, args);
    ctx.prevent_propagation();
    let numkeys = numkeys(args, super::args::ERR_NOT_INTEGER)?;
    let script = if is_evalsha(args[0]) {
        scripting::sha_arg(args[1])
            .and_then(|sha| SCRIPTS.get(&sha))
            .ok_or_else(|| Reply::error(NOSCRIPT))?
    } else {
        create_script(args[1])?
    };
    let keys = &args[3..3 + numkeys];
    let rest = &args[3 + numkeys..];
    run(
        ctx,
        args,
        Callee::Script(&script),
        &script.hint,
        script.flags,
        ro,
        keys,
        rest,
    )
}

/// `scriptPrepareForRun`'s words for a script that may write while
/// writes are refused: the RDB or the AOF error, as the refusal was.
fn misconf_for_scripts(refusal: Reply) -> Reply {
    let aof_error = match &refusal {
        Reply::Error(text) => {
            text.strip_prefix(b"MISCONF Errors writing to the AOF file: ".as_slice())
        }
        _ => None,
    };
    match aof_error {
        Some(why) => Reply::error_owned(format!(
            "MISCONF Redis is configured to persist data to AOF, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts. AOF error: {}",
            String::from_utf8_lossy(why)
        )),
        None => Reply::error(
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.",
        ),
    }
}

/// The number of keys of EVAL and FCALL: an error when it does not fit
/// (`not_integer`: the command's error for a numkeys that is no number).
pub(super) fn numkeys(args: &[&[u8]], not_integer: &'static str) -> Result<usize, Reply> {
    let numkeys = int_arg(args[2]).map_err(|_| Reply::error(not_integer))?;
    if numkeys > args.len() as i64 - 3 {
        return Err(Reply::error(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(Reply::error("ERR Number of keys can't be negative"));
    }
    Ok(numkeys as usize)
}

/// Runs a script or function (Redis's `scriptPrepareForRun` checks, then
/// the run, again under every lock when it strays before writing).
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    ctx: &mut Ctx,
    command: &[&[u8]],
    callee: Callee,
    hint: &scripting::LockHint,
    flags: ScriptFlags,
    ro: bool,
    keys: &[&[u8]],
    args: &[&[u8]],
) -> CmdResult {
    let declared = !flags.contains(ScriptFlags::EVAL_COMPAT);
    if declared && !flags.contains(ScriptFlags::NO_WRITES) {
        if super::read_only_replica(ctx.server, ctx.client) {
            return Err(Reply::error(
                "READONLY Can not run script with write flag on readonly replica",
            ));
        }
        if let Some(refusal) = crate::persistence::write_refusal(ctx.server) {
            return Err(misconf_for_scripts(refusal));
        }
        if ro {
            return Err(Reply::error(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        if super::too_few_good_replicas(ctx.server) {
            return Err(Reply::error(super::NOREPLICAS));
        }
    }
    // The command's own OOM check saw these flags already; this one counts
    // inside MULTI, where EXEC's did not.
    if declared
        && !flags.contains(ScriptFlags::ALLOW_OOM)
        && !flags.contains(ScriptFlags::NO_WRITES)
        && ctx.server.config.maxmemory() != 0
        && crate::evict::over_maxmemory(ctx.server)
    {
        return Err(Reply::error(
            "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
        ));
    }
    let read_only =
        ro || (!flags.contains(ScriptFlags::EVAL_COMPAT) && flags.contains(ScriptFlags::NO_WRITES));
    let mut key_shards = LockSet::new();
    for key in keys {
        key_shards.add_key(&ctx.server.keyspace, ctx.client.db, key);
    }
    // Inside EXEC the guard is the transaction's: it cannot be given back.
    let mut can_restart = !ctx.client.in_multi();
    loop {
        let invocation = Invocation {
            command,
            callee: match callee {
                Callee::Script(s) => Callee::Script(s),
                Callee::Function(f) => Callee::Function(f),
            },
            hint,
            keys,
            args,
            read_only,
            allow_oom: declared && flags.contains(ScriptFlags::ALLOW_OOM),
            can_restart,
            declared: key_shards.clone(),
        };
        match engine::run(ctx, invocation) {
            Outcome::Reply(reply) => return Ok(reply),
            Outcome::Restart => {
                hint.learn(true);
                ctx.guard().relock_all();
                can_restart = false;
            }
        }
    }
}

fn script_load(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let script = create_script(args[2])?;
    Ok(Reply::bulk(bytes::Bytes::copy_from_slice(&script.sha)))
}

fn script_exists(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|sha| {
                let found = scripting::sha_arg(sha).is_some_and(|s| SCRIPTS.get(&s).is_some());
                Reply::Integer(found as i64)
            })
            .collect(),
    ))
}

fn script_flush(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    match args.get(2) {
        None => {}
        Some(mode) if args.len() == 3 && (is(mode, "sync") || is(mode, "async")) => {}
        Some(_) => {
            return Err(Reply::error(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            ))
        }
    }
    SCRIPTS.flush();
    Ok(Reply::OK)
}

fn script_kill(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    kill_reply(BUSY.kill(true), true)
}

/// SCRIPT KILL's and FUNCTION KILL's replies.
pub(super) fn kill_reply(outcome: KillOutcome, eval: bool) -> CmdResult {
    match outcome {
        KillOutcome::Killed => Ok(Reply::OK),
        KillOutcome::NotBusy => Err(Reply::error("NOTBUSY No scripts in execution right now.")),
        KillOutcome::Unkillable => Err(Reply::error(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        )),
        KillOutcome::OtherKind if eval => Err(Reply::error(
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
        )),
        KillOutcome::OtherKind => Err(Reply::error(
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        )),
    }
}

fn script_help(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        b"script",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    ))
}
