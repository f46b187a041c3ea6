//! Server commands: COMMAND, DBSIZE, FLUSHDB, FLUSHALL, INFO, CONFIG, ...

use bytes::Bytes;

use super::{cmd_locking, CmdResult, Ctx, Locks, Registration};
use crate::protocol::Reply;

pub static COMMANDS: &[Registration] = &[cmd_locking("dbsize", dbsize, Locks::Db)];

fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Ok(Reply::from(ctx.db().len()))
}
