//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (Redis's multi.c).
//!
//! In MULTI the dispatcher ([`super::execute`]) checks each request as Redis's
//! `processCommand` does and queues it ([`queue`]). EXEC locks the union of
//! the queued commands' lock sets once ([`queued_locks`]) and calls each of
//! them under that guard, so nobody sees a transaction half done. WATCH
//! registers keys with [`crate::keyspace::Watches`]; every keyspace write
//! marks their watchers dirty, and a dirty EXEC replies with a null array.
//!
//! Blocking commands: when BLPOP and friends arrive, a blocking command run
//! inside EXEC must behave as its non-blocking form (Redis's
//! `CLIENT_DENY_BLOCKING`): time out at once instead of waiting. They can tell
//! with `ctx.client.in_multi()`, which stays true while EXEC runs.

use super::args::db_index_arg;
use super::table::Flags;
use super::{acl_denial, call, cmd_locking, resolve, CmdResult, Command, Ctx, Locks, Registration};
use crate::client::Client;
use crate::keyspace::LockSet;
use crate::protocol::{borrow_args, Reply};
use crate::server::Server;

pub static COMMANDS: &[Registration] = &[
    cmd_locking("multi", multi, Locks::Keys),
    cmd_locking("exec", exec, Locks::Queued),
    cmd_locking("discard", discard, Locks::Keys),
    cmd_locking("watch", watch, Locks::Keys),
    cmd_locking("unwatch", unwatch, Locks::Keys),
];

/// Commands that run at once inside MULTI instead of being queued: the list
/// of procedures in Redis 7.0's `processCommand` (no flag says it there
/// either). What may not be queued at all is a flag, `no_multi`.
const RUN_IN_MULTI: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

/// A request the dispatcher refused (unknown, wrong arity). Inside MULTI it
/// dooms the transaction (`flagTransaction`). A refused EXEC, in MULTI or
/// not, discards the transaction and watches and says why
/// (`execCommandAbort`, which Redis's `rejectCommand` calls for any EXEC).
pub(super) fn refused(
    server: &Server,
    client: &mut Client,
    cmd: Option<&Command>,
    reply: Reply,
) -> Reply {
    if cmd.is_some_and(|c| c.name == "exec") {
        if let Reply::Error(text) = &reply {
            let reason = text.strip_prefix(b"ERR ").unwrap_or(text);
            let mut abort = b"EXECABORT Transaction discarded because of: ".to_vec();
            abort.extend_from_slice(reason);
            client.discard(&server.keyspace.watches);
            return Reply::error_owned(abort);
        }
    }
    if client.in_multi() {
        client.tx.failed = true;
    }
    reply
}

/// What happens to a checked request while the client is in MULTI: None when
/// it runs now (EXEC, DISCARD, ...), otherwise its reply: `+QUEUED`, or the
/// refusal of a `no_multi` command, which dooms the transaction.
pub(super) fn queue(
    server: &Server,
    client: &mut Client,
    cmd: &Command,
    args: &[&[u8]],
) -> Option<Reply> {
    if cmd.flags.contains(Flags::NO_MULTI) {
        client.tx.failed = true;
        return Some(
            server
                .stats
                .rejected(Reply::error("ERR Command not allowed inside a transaction")),
        );
    }
    if RUN_IN_MULTI.contains(&cmd.name.as_str()) {
        return None;
    }
    client.queue(args);
    Some(Reply::simple("QUEUED"))
}

/// EXEC's locks: the union of the queued commands' lock sets, each computed
/// in the database it will run in (a queued SELECT moves the later ones),
/// and the watched keys, whose expiry EXEC checks.
pub(super) fn queued_locks(server: &Server, client: &Client) -> LockSet {
    let mut set = LockSet::new();
    for (db, key) in &client.tx.watched {
        set.add_key(&server.keyspace, *db, key);
    }
    let mut db = client.db;
    let databases = server.keyspace.databases();
    for args in client.tx.queued.iter().flatten() {
        let args = borrow_args(args);
        let Ok(cmd) = resolve(server, &args) else {
            continue;
        };
        set.merge(&cmd.lock_set(&server.keyspace, db, &args));
        if cmd.name == "select" {
            if let Some(n) = args.get(1).and_then(|a| db_index_arg(a, databases).ok()) {
                db = n;
            }
        }
    }
    set
}

fn multi(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.in_multi() {
        return Err(Reply::error("ERR MULTI calls can not be nested"));
    }
    ctx.client.begin_multi();
    Ok(Reply::OK)
}

/// Redis's `execCommand`: a transaction doomed while queueing fails with
/// EXECABORT, one whose watched keys were touched, or expired since WATCH,
/// with a null array; otherwise every queued command runs under the guard
/// EXEC holds. Watches are dropped before the commands run, so the
/// transaction's own writes do not count.
fn exec(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let watches = &ctx.server.keyspace.watches;
    let Some(queued) = ctx.client.tx.queued.as_mut().map(std::mem::take) else {
        return Err(Reply::error("ERR EXEC without MULTI"));
    };
    let failed = ctx.client.tx.failed;
    let id = ctx.client.id;
    let watched = std::mem::take(&mut ctx.client.tx.watched);
    // `isWatchedKeyExpired`: keys that were live when watched and are past their TTL now.
    let expired = watched.iter().any(|(db, key)| {
        !watches.watched_expired(*db, key, id) && ctx.db_at(*db).holds_expired(key)
    });
    ctx.client.tx.watched = watched;
    let dirty = ctx.client.unwatch_all(watches) || expired;
    let reply = if failed {
        Err(Reply::error(
            "EXECABORT Transaction discarded because of previous errors.",
        ))
    } else if dirty {
        Ok(Reply::NullArray)
    } else {
        let replies = queued
            .iter()
            .map(|args| {
                let args = borrow_args(args);
                match resolve(ctx.server, &args) {
                    Ok(cmd) => {
                        // The rules may have changed since the command was queued.
                        let context = crate::acl::Context::Multi;
                        match acl_denial(ctx.server, ctx.client, cmd, &args, context) {
                            Some(denied) => Reply::error_owned(denied.exec_error_text()),
                            None => {
                                let reply = call(ctx, cmd, &args);
                                exec_slot(ctx, reply)
                            }
                        }
                    }
                    Err((_, reply)) => reply,
                }
            })
            .collect();
        Ok(Reply::Array(replies))
    };
    ctx.client.discard(watches);
    reply
}

/// The reply a queued command leaves in EXEC's array. The (un)subscribe family
/// answers through the client's mailbox instead (`skip_reply`); inside EXEC its
/// first confirmation takes the slot, as Redis's EXEC array holds it inline.
fn exec_slot(ctx: &mut Ctx, reply: Reply) -> Reply {
    if !std::mem::take(&mut ctx.client.skip_reply) {
        return reply;
    }
    ctx.client.subs.try_recv().unwrap_or(reply)
}

fn discard(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if !ctx.client.in_multi() {
        return Err(Reply::error("ERR DISCARD without MULTI"));
    }
    ctx.client.discard(&ctx.server.keyspace.watches);
    Ok(Reply::OK)
}

/// Redis's `watchCommand`: a client already dirty gains nothing by watching
/// more, so it does not.
fn watch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.client.in_multi() {
        return Err(Reply::error("ERR WATCH inside MULTI is not allowed"));
    }
    if ctx.client.is_dirty() {
        return Ok(Reply::OK);
    }
    let watches = &ctx.server.keyspace.watches;
    for key in &args[1..] {
        let expired = ctx.db().holds_expired(key);
        ctx.client.watch(watches, key, expired);
    }
    Ok(Reply::OK)
}

fn unwatch(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.client.unwatch_all(&ctx.server.keyspace.watches);
    Ok(Reply::OK)
}
