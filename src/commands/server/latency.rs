//! LATENCY LATEST / HISTORY / RESET / GRAPH / DOCTOR / HISTOGRAM / HELP
//! (Redis's `latencyCommand`); the monitor is [`crate::latency`], the
//! histograms are the commands' own (INFO latencystats).

use crate::commands::args::help_reply;
use crate::commands::{CmdResult, Command, Ctx};
use crate::protocol::Reply;

pub fn latest(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(ctx.server.latency.latest())
}

pub fn history(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    Ok(ctx.server.latency.history(args[2]))
}

pub fn reset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    Ok(Reply::from(ctx.server.latency.reset(&args[2..])))
}

pub fn graph(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    match ctx.server.latency.graph(args[2]) {
        Some(graph) => Ok(Reply::Verbatim("txt", graph.into())),
        None => Err(Reply::error_owned(format!(
            "ERR No samples available for event '{}'",
            String::from_utf8_lossy(args[2])
        ))),
    }
}

pub fn doctor(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let report = ctx.server.latency.doctor(&ctx.server.config);
    Ok(Reply::Verbatim("txt", report.into()))
}

/// LATENCY HISTOGRAM [command ...]: the histograms of the named commands
/// (a container name gives its subcommands too; unknown names are
/// skipped), or of every command that has one.
pub fn histogram(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let commands = &ctx.server.commands;
    let entry = |cmd: &Command| {
        cmd.stats
            .histogram_reply()
            .map(|h| (Reply::bulk(cmd.name.clone()), h))
    };
    let entries = if args.len() == 2 {
        commands.all().filter_map(entry).collect()
    } else {
        let mut found = Vec::new();
        for name in &args[2..] {
            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
            let sub = format!("{name}|");
            found.extend(
                commands
                    .all()
                    .filter(|c| c.name == name || c.name.starts_with(&sub))
                    .filter_map(entry),
            );
        }
        found
    };
    Ok(Reply::Map(entries))
}

pub fn help(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        b"LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    ))
}
