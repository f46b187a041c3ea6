//! ACL and its subcommands (Redis's `aclCommand`); the users, rules and
//! checks themselves are in `crate::acl`.

use bytes::Bytes;

use super::args::{error_format, help_reply, int_arg};
use super::{cmd, CmdResult, Ctx, Registration};
use crate::acl::{self, User, UserState};
use crate::protocol::Reply;
use crate::server::Server;

pub(super) static COMMANDS: &[Registration] = &[
    cmd("acl|setuser", acl_setuser),
    cmd("acl|getuser", acl_getuser),
    cmd("acl|deluser", acl_deluser),
    cmd("acl|list", acl_list),
    cmd("acl|users", acl_users),
    cmd("acl|whoami", acl_whoami),
    cmd("acl|cat", acl_cat),
    cmd("acl|genpass", acl_genpass),
    cmd("acl|dryrun", acl_dryrun),
    cmd("acl|log", acl_log),
    cmd("acl|load", acl_load),
    cmd("acl|save", acl_save),
    cmd("acl|help", acl_help),
];

/// Closes every client authenticated as `user` (Redis's
/// `ACLFreeUserAndKillClients`); the caller itself after this reply.
fn kill_clients_of(ctx: &mut Ctx, user: &User) {
    let me = ctx.client.id;
    for client in ctx.server.clients.all() {
        if client.info().user == user.name {
            if client.id == me {
                ctx.client.close_after_reply = true;
            } else {
                client.kill();
            }
        }
    }
}

/// Closes `user`'s subscribers whose subscriptions `after` no longer allows
/// (Redis's `ACLKillPubsubClientsIfNeeded`).
fn kill_unauthorized_subscribers(
    ctx: &mut Ctx,
    user: &User,
    before: &UserState,
    after: &UserState,
) {
    let Some(upcoming) = acl::narrowed_channels(before, after) else {
        return;
    };
    let me = ctx.client.id;
    for client in ctx.server.clients.all() {
        if client.info().user != user.name || !client.is_subscriber() {
            continue;
        }
        let [channels, patterns, shard] = ctx.server.pubsub.subscriptions_of(client.id);
        let mut all_channels = channels;
        all_channels.extend(shard);
        if !acl::subscriptions_allowed(&upcoming, &all_channels, &patterns) {
            if client.id == me {
                ctx.client.close_after_reply = true;
            } else {
                client.kill();
            }
        }
    }
}

fn acl_setuser(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let name = args[2];
    if name
        .iter()
        .any(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0))
    {
        return Err(Reply::error(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    let server = ctx.server;
    let pubsub_all = server.config.acl_pubsub_default_all();
    let (before, user) = server
        .acl
        .set_user(&server.commands, name, &args[3..], pubsub_all)
        .map_err(|e| Reply::error_owned(format!("ERR {e}")))?;
    if let Some(before) = before {
        kill_unauthorized_subscribers(ctx, &user, &before, &user.state());
    }
    Ok(Reply::OK)
}

fn acl_getuser(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    Ok(match ctx.server.acl.user(args[2]) {
        Some(user) => user.state().getuser_reply(&ctx.server.commands),
        None => Reply::Null,
    })
}

fn acl_deluser(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args[2..].iter().any(|name| &name[..] == b"default") {
        return Err(Reply::error("ERR The 'default' user cannot be removed"));
    }
    let mut deleted = 0;
    for name in &args[2..] {
        if let Some(user) = ctx.server.acl.delete_user(name) {
            kill_clients_of(ctx, &user);
            deleted += 1;
        }
    }
    Ok(Reply::Integer(deleted))
}

/// `user <name> <rules>`, as ACL LIST and the ACL file write a user.
pub(super) fn user_line(server: &Server, user: &User) -> Vec<u8> {
    let mut line = b"user ".to_vec();
    line.extend_from_slice(&user.name);
    line.push(b' ');
    line.extend_from_slice(&user.state().describe(&server.commands));
    line
}

fn acl_list(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    Ok(Reply::Array(
        server
            .acl
            .all_users()
            .iter()
            .map(|u| Reply::Bulk(Bytes::from(user_line(server, u))))
            .collect(),
    ))
}

fn acl_users(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Array(
        ctx.server
            .acl
            .all_users()
            .iter()
            .map(|u| Reply::Bulk(u.name.clone()))
            .collect(),
    ))
}

fn acl_whoami(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Bulk(ctx.client.user.name.clone()))
}

fn acl_cat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    match args {
        [_, _] => Ok(Reply::Array(
            acl::category_names().map(Reply::bulk).collect(),
        )),
        [_, _, category] => {
            let names = acl::commands_in(&ctx.server.commands, category).ok_or_else(|| {
                let shown = &category[..category.len().min(128)];
                error_format(&[b"ERR Unknown category '", shown, b"'"])
            })?;
            Ok(Reply::Array(names.into_iter().map(Reply::bulk).collect()))
        }
        _ => Err(super::args::subcommand_syntax_error(args)),
    }
}

/// Redis's `GENPASS_MAX_BITS`.
const GENPASS_MAX_BITS: i64 = 4096;

fn acl_genpass(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let bits = match args {
        [_, _] => 256,
        [_, _, bits] => int_arg(bits)?,
        _ => return Err(super::args::subcommand_syntax_error(args)),
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Err(Reply::error_owned(format!(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_MAX_BITS}"
        )));
    }
    Ok(Reply::bulk(acl::genpass(bits as usize)))
}

fn acl_dryrun(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    let user = server
        .acl
        .user(args[2])
        .ok_or_else(|| error_format(&[b"ERR User '", args[2], b"' not found"]))?;
    let command = &args[3..];
    let cmd = server
        .commands
        .lookup(command)
        .map_err(|_| error_format(&[b"ERR Command '", args[3], b"' not found"]))?;
    if !cmd.arity_ok(command.len()) {
        return Err(Reply::error_owned(format!(
            "ERR wrong number of arguments for '{}' command",
            cmd.name
        )));
    }
    Ok(match acl::check(&user.state(), cmd, command) {
        Ok(()) => Reply::OK,
        Err(acl::Denied::Command) => Reply::bulk(format!(
            "This user has no permissions to run the '{}' command",
            cmd.name
        )),
        Err(acl::Denied::Key(i)) => {
            let mut text = b"This user has no permissions to access the '".to_vec();
            text.extend_from_slice(command[i]);
            text.extend_from_slice(b"' key");
            Reply::Bulk(text.into())
        }
        Err(acl::Denied::Channel(i)) => {
            let mut text = b"This user has no permissions to access the '".to_vec();
            text.extend_from_slice(command[i]);
            text.extend_from_slice(b"' channel");
            Reply::Bulk(text.into())
        }
    })
}

fn acl_log(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = match args {
        [_, _] => 10,
        [_, _, arg] if arg.eq_ignore_ascii_case(b"reset") => {
            ctx.server.acl.reset_log();
            return Ok(Reply::OK);
        }
        [_, _, arg] => int_arg(arg)?.max(0),
        _ => return Err(super::args::subcommand_syntax_error(args)),
    };
    Ok(ctx
        .server
        .acl
        .log_reply(usize::try_from(count).unwrap_or(usize::MAX)))
}

/// ACL LOAD and SAVE need `aclfile`.
fn aclfile(server: &Server) -> Result<String, Reply> {
    let file = server.config.aclfile();
    if file.is_empty() {
        return Err(Reply::error("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."));
    }
    Ok(file)
}

/// ACL LOAD: every user is replaced, and the clients of the old users
/// (the default user's excepted) are closed, as Redis frees them.
fn acl_load(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    let file = aclfile(server)?;
    let replaced = server
        .acl
        .load_file(
            &server.commands,
            &file,
            &server.config.aclfile_path(),
            server.config.acl_pubsub_default_all(),
        )
        .map_err(|e| Reply::error_owned(format!("ERR {e}")))?;
    for user in replaced {
        kill_clients_of(ctx, &user);
    }
    Ok(Reply::OK)
}

fn acl_save(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    aclfile(server)?;
    let mut text = Vec::new();
    for user in server.acl.all_users() {
        text.extend_from_slice(&user_line(server, &user));
        text.push(b'\n');
    }
    acl::write_file(&server.config.aclfile_path(), &text).map_err(|e| {
        tracing::warn!("Writing ACL file for ACL SAVE: {}", crate::config::strerror(&e));
        Reply::error("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
    })?;
    Ok(Reply::OK)
}

/// Redis 7.0.15's ACL HELP text, word for word.
fn acl_help(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        b"ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    ))
}
