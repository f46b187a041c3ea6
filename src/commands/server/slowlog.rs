//! SLOWLOG GET / LEN / RESET / HELP (Redis's `slowlogCommand`); the log
//! itself is [`crate::slowlog`].

use crate::commands::args::{help_reply, int_in_range};
use crate::commands::{CmdResult, Ctx};
use crate::protocol::Reply;

/// SLOWLOG GET [count]: 10 by default, -1 for all.
pub fn get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = match args.get(2) {
        None => 10,
        Some(arg) => int_in_range(
            arg,
            -1,
            i64::MAX,
            Some("ERR count should be greater than or equal to -1"),
        )?,
    };
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    Ok(ctx.server.slowlog.newest(count))
}

pub fn len(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::from(ctx.server.slowlog.len()))
}

pub fn reset(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.server.slowlog.reset();
    Ok(Reply::OK)
}

pub fn help(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        b"SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    ))
}
