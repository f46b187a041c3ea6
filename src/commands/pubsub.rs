//! Pub/Sub commands (Redis's pubsub.c): the (un)subscribe family, PUBLISH,
//! SPUBLISH and PUBSUB introspection, over the registry in [`crate::pubsub`].
//!
//! The (un)subscribe commands answer through the client's mailbox (one push
//! per channel, in order with the messages) and set `skip_reply`.

use super::args::help_reply;
use super::{cmd, CmdResult, Ctx, Registration};
use crate::propagate::Target;
use crate::protocol::Reply;
use crate::pubsub::Kind;

pub static COMMANDS: &[Registration] = &[
    cmd("subscribe", subscribe),
    cmd("psubscribe", psubscribe),
    cmd("ssubscribe", ssubscribe),
    cmd("unsubscribe", unsubscribe),
    cmd("punsubscribe", punsubscribe),
    cmd("sunsubscribe", sunsubscribe),
    cmd("publish", publish),
    cmd("spublish", spublish),
    cmd("pubsub|channels", pubsub_channels),
    cmd("pubsub|shardchannels", pubsub_shardchannels),
    cmd("pubsub|numsub", pubsub_numsub),
    cmd("pubsub|shardnumsub", pubsub_shardnumsub),
    cmd("pubsub|numpat", pubsub_numpat),
    cmd("pubsub|help", pubsub_help),
];

fn subscribe_kind(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> CmdResult {
    ctx.server
        .pubsub
        .subscribe(&mut ctx.client.subs, kind, &args[1..]);
    ctx.client.skip_reply = true;
    Ok(Reply::OK)
}

fn unsubscribe_kind(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> CmdResult {
    let pubsub = &ctx.server.pubsub;
    match &args[1..] {
        [] => pubsub.unsubscribe_all(&mut ctx.client.subs, kind, true),
        names => pubsub.unsubscribe(&mut ctx.client.subs, kind, names),
    }
    ctx.client.skip_reply = true;
    Ok(Reply::OK)
}

fn subscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe_kind(ctx, args, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe_kind(ctx, args, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe_kind(ctx, args, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe_kind(ctx, args, Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe_kind(ctx, args, Kind::Pattern)
}

fn sunsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe_kind(ctx, args, Kind::Shard)
}

/// PUBLISH and SPUBLISH reach replicas (whose subscribers get the message
/// too), never the AOF.
fn publish(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.force_propagation(Target::REPL);
    let receivers = ctx.server.pubsub.publish(Kind::Channel, args[1], args[2]);
    Ok(Reply::from(receivers))
}

fn spublish(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.force_propagation(Target::REPL);
    let receivers = ctx.server.pubsub.publish(Kind::Shard, args[1], args[2]);
    Ok(Reply::from(receivers))
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern]: at most one pattern, else
/// Redis's `addReplySubcommandSyntaxError`.
fn names(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> CmdResult {
    if args.len() > 3 {
        return Err(super::args::subcommand_syntax_error(args));
    }
    let names = ctx.server.pubsub.names(kind, args.get(2).map(|p| &p[..]));
    Ok(Reply::Array(names.into_iter().map(Reply::Bulk).collect()))
}

fn pubsub_channels(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    names(ctx, args, Kind::Channel)
}

fn pubsub_shardchannels(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    names(ctx, args, Kind::Shard)
}

/// PUBSUB NUMSUB / SHARDNUMSUB: a flat name, count, ... array (not a map,
/// even in RESP3, as in Redis 7.0).
fn counts(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> CmdResult {
    let pubsub = &ctx.server.pubsub;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .flat_map(|name| {
                [
                    Reply::bulk_copy(name),
                    Reply::from(pubsub.subscribers(kind, name)),
                ]
            })
            .collect(),
    ))
}

fn pubsub_numsub(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    counts(ctx, args, Kind::Channel)
}

fn pubsub_shardnumsub(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    counts(ctx, args, Kind::Shard)
}

fn pubsub_numpat(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::from(ctx.server.pubsub.len(Kind::Pattern)))
}

fn pubsub_help(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        b"PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    ))
}
