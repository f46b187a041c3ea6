//! CLUSTER, READONLY, READWRITE and ASKING of a server without cluster
//! support: every one answers Redis's "cluster support disabled" error, as
//! redis-server does when `cluster-enabled` is no (its `clusterCommand`,
//! `readonlyCommand`, `readwriteCommand` and `askingCommand`), and they are
//! listed by COMMAND as Redis lists them, so cluster-aware clients see a
//! standalone server.

use super::{cmd, CmdResult, Ctx, Registration};
use crate::protocol::Reply;

pub static COMMANDS: &[Registration] = &[
    cmd("cluster|addslots", disabled),
    cmd("cluster|addslotsrange", disabled),
    cmd("cluster|bumpepoch", disabled),
    cmd("cluster|count-failure-reports", disabled),
    cmd("cluster|countkeysinslot", disabled),
    cmd("cluster|delslots", disabled),
    cmd("cluster|delslotsrange", disabled),
    cmd("cluster|failover", disabled),
    cmd("cluster|flushslots", disabled),
    cmd("cluster|forget", disabled),
    cmd("cluster|getkeysinslot", disabled),
    cmd("cluster|help", disabled),
    cmd("cluster|info", disabled),
    cmd("cluster|keyslot", disabled),
    cmd("cluster|links", disabled),
    cmd("cluster|meet", disabled),
    cmd("cluster|myid", disabled),
    cmd("cluster|nodes", disabled),
    cmd("cluster|replicas", disabled),
    cmd("cluster|replicate", disabled),
    cmd("cluster|reset", disabled),
    cmd("cluster|saveconfig", disabled),
    cmd("cluster|set-config-epoch", disabled),
    cmd("cluster|setslot", disabled),
    cmd("cluster|shards", disabled),
    cmd("cluster|slaves", disabled),
    cmd("cluster|slots", disabled),
    cmd("readonly", disabled),
    cmd("readwrite", disabled),
    cmd("asking", disabled),
];

fn disabled(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Err(Reply::error(
        "ERR This instance has cluster support disabled",
    ))
}
