//! Generic key commands (Redis's db.c / expire.c).

use bytes::Bytes;

use super::{cmd, CmdResult, Ctx, Registration};
use crate::protocol::Reply;

pub static COMMANDS: &[Registration] = &[cmd("del", del), cmd("exists", exists)];

fn del(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut db = ctx.db();
    Ok(Reply::from(
        args[1..].iter().filter(|k| db.remove(k).is_some()).count(),
    ))
}

fn exists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut db = ctx.db();
    Ok(Reply::from(
        args[1..].iter().filter(|k| db.contains(k)).count(),
    ))
}
