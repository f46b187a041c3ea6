//! String commands (Redis's t_string.c).

use bytes::Bytes;

use super::args::wrong_type;
use super::{cmd, CmdResult, Ctx, Registration};
use crate::keyspace::{StringValue, Value};
use crate::protocol::Reply;

pub static COMMANDS: &[Registration] = &[cmd("get", get), cmd("set", set)];

fn get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match ctx.db().get(&args[1]).map(|e| &e.value) {
        None => Ok(Reply::Null),
        Some(Value::String(s)) => Ok(Reply::Bulk(s.to_bytes())),
        #[allow(unreachable_patterns)]
        Some(_) => Err(wrong_type()),
    }
}

fn set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let value = Value::String(StringValue::from_bytes(Bytes::copy_from_slice(&args[2])));
    ctx.db().set(&args[1], value, None);
    Ok(Reply::OK)
}
