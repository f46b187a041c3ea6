//! MODULE (Redis's `moduleCommand`): reddish loads no Redis modules (it has
//! no module API), so LIST is always empty and LOAD/LOADEX fail as a module
//! that does not load fails in Redis, with the reason in the log; UNLOAD
//! finds no module. LOAD, LOADEX and UNLOAD are refused first unless
//! `enable-module-command` allows them (`commands::protected_refusal`).

use super::args::help_reply;
use super::{cmd, CmdResult, Ctx, Registration};
use crate::protocol::Reply;

pub static COMMANDS: &[Registration] = &[
    cmd("module|help", help),
    cmd("module|list", list),
    cmd("module|load", load),
    cmd("module|loadex", load),
    cmd("module|unload", unload),
];

fn help(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        args[0],
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    ))
}

fn list(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::Array(Vec::new()))
}

fn load(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // Redis's `moduleLoad` failure line, with the reason dlopen would give.
    tracing::warn!(
        "Module {} failed to load: reddish does not load Redis modules",
        String::from_utf8_lossy(args[2])
    );
    Err(Reply::error(
        "ERR Error loading the extension. Please check the server logs.",
    ))
}

fn unload(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Err(Reply::error(
        "ERR Error unloading module: no such module with that name",
    ))
}
