//! CLUSTER (Redis's `clusterCommand` in cluster.c). reddish has no cluster
//! mode, so every subcommand answers as Redis 7.0 does with cluster support
//! disabled; the table still knows them, so arity, unknown subcommands and
//! the `noscript` refusal of CLUSTER RESET inside a script are Redis's.

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
];

fn disabled(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Err(Reply::error(
        "ERR This instance has cluster support disabled",
    ))
}
