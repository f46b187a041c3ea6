//! FUNCTION and FCALL/FCALL_RO (Redis's functions.c). The libraries are in
//! `scripting::functions`; a function runs as an EVAL script does
//! ([`super::scripting::run`]), its keys and arguments passed to it.

use super::args::{help_reply, is};
use super::scripting::{declared_keys, kill_reply, numkeys, run};
use super::{cmd, cmd_locking, CmdResult, Ctx, Locks, Registration};
use crate::glob;
use crate::keyspace::{Keyspace, LockSet};
use crate::propagate::Target;
use crate::protocol::Reply;
use crate::scripting::engine::Callee;
use crate::scripting::functions::LIBRARIES;
use crate::scripting::{ScriptFlags, BUSY};

pub static COMMANDS: &[Registration] = &[
    cmd_locking("fcall", fcall, Locks::Custom(function_locks)),
    cmd_locking("fcall_ro", fcall_ro, Locks::Custom(function_locks)),
    cmd("function|load", function_load),
    cmd("function|delete", function_delete),
    cmd("function|flush", function_flush),
    cmd("function|list", function_list),
    cmd("function|stats", function_stats),
    cmd("function|kill", function_kill),
    cmd("function|help", function_help),
    cmd("function|dump", function_dump),
    cmd("function|restore", function_restore),
];

/// As [`super::scripting`]'s: the keys' shards for a function known to keep
/// to them, otherwise every shard.
fn function_locks(keyspace: &Keyspace, db: usize, args: &[&[u8]], set: &mut LockSet) {
    let name = String::from_utf8_lossy(args[1]);
    match (LIBRARIES.function(&name), declared_keys(args)) {
        (Some(f), Some(keys)) if f.hint.keys_suffice() => {
            for key in keys {
                set.add_arg_key(keyspace, db, key);
            }
        }
        _ => set.add_all(keyspace),
    }
}

fn fcall(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    run_fcall(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    run_fcall(ctx, args, true)
}

fn run_fcall(ctx: &mut Ctx, args: &[&[u8]], ro: bool) -> CmdResult {
    // Shown before the commands it runs, as Redis's fcallCommandGeneric does.
    ctx.server.monitors.feed_script(ctx.client, args);
    ctx.prevent_propagation();
    let name = String::from_utf8_lossy(args[1]).into_owned();
    let function = LIBRARIES
        .function(&name)
        .ok_or_else(|| Reply::error("ERR Function not found"))?;
    let numkeys = numkeys(args, "ERR Bad number of keys provided")?;
    let keys = &args[3..3 + numkeys];
    let rest = &args[3 + numkeys..];
    run(
        ctx,
        args,
        Callee::Function(&name),
        &function.hint,
        function.flags,
        ro,
        keys,
        rest,
    )
}

/// Library changes go to replicas as the command itself.
fn propagated(ctx: &mut Ctx) {
    ctx.force_propagation(Target::ALL);
}

fn function_load(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut replace = false;
    for arg in &args[2..args.len() - 1] {
        if is(arg, "replace") {
            replace = true;
        } else {
            return Err(Reply::error_owned(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(arg)
            )));
        }
    }
    if args.len() < 3 {
        return Err(Reply::error("ERR Function code is missing"));
    }
    let name = LIBRARIES
        .load(args[args.len() - 1], replace)
        .map_err(|e| Reply::error_owned(format!("ERR {e}")))?;
    propagated(ctx);
    Ok(Reply::bulk(name.into_bytes()))
}

fn function_delete(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if !LIBRARIES.delete(&String::from_utf8_lossy(args[2])) {
        return Err(Reply::error("ERR Library not found"));
    }
    propagated(ctx);
    Ok(Reply::OK)
}

/// FUNCTION DUMP: every library, in DUMP's payload format.
fn function_dump(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let compress = ctx.server.config.rdbcompression();
    let payload = crate::rdb::dump_functions(&LIBRARIES.full_codes(), compress);
    Ok(Reply::bulk(payload))
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE] (`functionRestoreCommand`).
fn function_restore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    use crate::scripting::functions::RestorePolicy;
    if args.len() > 4 {
        return Err(super::args::subcommand_syntax_error(args));
    }
    let policy =
        match args.get(3) {
            None => RestorePolicy::Append,
            Some(p) if is(p, "append") => RestorePolicy::Append,
            Some(p) if is(p, "replace") => RestorePolicy::Replace,
            Some(p) if is(p, "flush") => RestorePolicy::Flush,
            Some(_) => return Err(Reply::error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let checksum = !ctx
        .server
        .skip_checksum_validation
        .load(std::sync::atomic::Ordering::Relaxed);
    let codes = crate::rdb::restore_functions(args[2], checksum)
        .map_err(|e| Reply::error_owned(format!("ERR {e}")))?;
    LIBRARIES
        .restore(&codes, policy)
        .map_err(|e| Reply::error_owned(format!("ERR {e}")))?;
    propagated(ctx);
    Ok(Reply::OK)
}

fn function_flush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(super::args::subcommand_syntax_error(args));
    }
    match args.get(2) {
        None => {}
        Some(mode) if args.len() == 3 && (is(mode, "sync") || is(mode, "async")) => {}
        Some(_) => {
            return Err(Reply::error(
                "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
            ))
        }
    }
    LIBRARIES.flush();
    propagated(ctx);
    Ok(Reply::OK)
}

fn function_list(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut with_code, mut pattern): (bool, Option<&[u8]>) = (false, None);
    let mut i = 2;
    while i < args.len() {
        let arg = args[i];
        if !with_code && is(arg, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(arg, "libraryname") {
            if i >= args.len() - 1 {
                return Err(Reply::error("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(args[i]);
        } else {
            return Err(Reply::error_owned(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            )));
        }
        i += 1;
    }
    let text = |s: &str| Reply::bulk(s.as_bytes().to_vec());
    let libraries = LIBRARIES.with_libraries(|libraries| {
        libraries
            .filter(|l| pattern.is_none_or(|p| glob::glob_match(p, l.name.as_bytes(), true)))
            .map(|l| {
                let functions = l
                    .functions
                    .values()
                    .map(|f| {
                        let flags = ScriptFlags::NAMES
                            .iter()
                            .filter(|(_, flag)| f.flags.contains(*flag))
                            .map(|(name, _)| Reply::simple(name))
                            .collect();
                        Reply::Map(vec![
                            (text("name"), text(&f.name)),
                            (
                                text("description"),
                                f.description.as_deref().map_or(Reply::Null, text),
                            ),
                            (text("flags"), Reply::Set(flags)),
                        ])
                    })
                    .collect();
                let mut fields = vec![
                    (text("library_name"), text(&l.name)),
                    (text("engine"), text("LUA")),
                    (text("functions"), Reply::Array(functions)),
                ];
                if with_code {
                    fields.push((text("library_code"), Reply::bulk(l.code.clone())));
                }
                Reply::Map(fields)
            })
            .collect()
    });
    Ok(Reply::Array(libraries))
}

fn function_stats(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(crate::scripting::functions::stats_reply())
}

fn function_kill(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    kill_reply(BUSY.kill(false), false)
}

fn function_help(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        b"function",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    ))
}
