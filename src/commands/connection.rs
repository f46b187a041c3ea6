//! Connection commands: PING, ECHO, SELECT, HELLO, QUIT, RESET, CLIENT ...

use bytes::Bytes;

use super::args::{int_arg, ERR_DB_INDEX};
use super::{cmd, CmdResult, Ctx, Registration};
use crate::protocol::Reply;

pub static COMMANDS: &[Registration] = &[
    cmd("ping", ping),
    cmd("echo", echo),
    cmd("select", select),
    cmd("quit", quit),
];

fn ping(_ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match args.len() {
        1 => Ok(Reply::simple("PONG")),
        2 => Ok(Reply::Bulk(args[1].clone())),
        _ => Err(Reply::error(
            "ERR wrong number of arguments for 'ping' command",
        )),
    }
}

fn echo(_ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    Ok(Reply::Bulk(args[1].clone()))
}

fn select(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let db = int_arg(&args[1])?;
    if db < 0 || db as usize >= ctx.server.keyspace.databases() {
        return Err(Reply::error(ERR_DB_INDEX));
    }
    ctx.client.set_db(db as usize);
    Ok(Reply::OK)
}

fn quit(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.client.close_after_reply = true;
    Ok(Reply::OK)
}
