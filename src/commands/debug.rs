//! DEBUG (Redis's debug.c): the subcommands Redis's own test suite and client
//! libraries' tests lean on, with Redis 7.0.15's replies.
//!
//! DEBUG is refused unless `enable-debug-command` allows it ([`refusal`],
//! checked by the dispatcher where Redis's `processCommand` checks it: after
//! the arity check, before authentication). Subcommands are matched on their
//! name *and* argument count, as debug.c does: `DEBUG LOG` without a message
//! gets the same "unknown subcommand or wrong number of arguments" error as
//! `DEBUG NOSUCH`.
//!
//! What is left out, and why: of the crash subcommands only PANIC is here
//! (a Rust panic, which ends the connection, or the process under
//! `use-exit-on-panic yes`): SEGFAULT, ASSERT, OOM and MALLCTL are not worth
//! their risk; Redis 7.0.15 has no `JMAP` or `STRINGMATCH-LEN` (its
//! fuzz test is STRINGMATCH-TEST), so those names get Redis's
//! unknown-subcommand error like every other name we do not implement.

mod digest;
mod object;

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::args::{error_format, help_reply, positive_arg};
use super::table::c_string;
use super::{cmd_locking, CmdResult, Ctx, Locks, Registration};
use crate::keyspace::{Keyspace, LockSet, StringValue, Value};
use crate::number::{atoi, strtod_prefix};
use crate::propagate::{Op, Target};
use crate::protocol::{Reply, Resp};

pub static COMMANDS: &[Registration] = &[cmd_locking("debug", debug, Locks::Custom(locks))];

/// DEBUG's metadata names no keys, so the locks come from the subcommand:
/// every database for DIGEST (it reads the whole dataset), the named keys
/// for the subcommands that look at keys, nothing otherwise (SLEEP must not
/// sit on shard locks while it sleeps).
fn locks(keyspace: &Keyspace, db: usize, args: &[&[u8]], set: &mut LockSet) {
    let Some(sub) = args.get(1) else { return };
    let sub = sub.to_ascii_lowercase();
    match sub.as_slice() {
        // RELOAD saves, empties and loads every database.
        b"digest" | b"reload" => set.add_all(keyspace),
        // The keys POPULATE creates are many and not known before it runs.
        b"populate" => set.add_db(db),
        b"digest-value" | b"object" | b"listpack" | b"quicklist" => {
            // QUICKLIST's optional third argument is a verbosity, not a key;
            // locking its shard too is harmless.
            for key in &args[2..] {
                set.add_arg_key(keyspace, db, key);
            }
        }
        _ => {}
    }
}

fn debug(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = args[1].to_ascii_lowercase();
    let argc = args.len();
    match (sub.as_slice(), argc) {
        (b"help", 2) => Ok(help(args[0])),
        (b"panic", 2) => panic!("DEBUG PANIC called at Unix time {}", ctx.now_ms() / 1000),
        (b"log", 3) => {
            tracing::warn!(
                "DEBUG LOG: {}",
                String::from_utf8_lossy(c_string(args[2], usize::MAX))
            );
            Ok(Reply::OK)
        }
        // Unlike Redis, which writes this reply raw, INFO counts it as an
        // error reply (errorstats, failed_calls).
        (b"error", 3) => Ok(error_format(&[args[2]])),
        (b"object", 3) => object::describe(ctx, args[2]),
        (b"listpack", 3) => object::listpack_dump(ctx, args[2]),
        (b"quicklist", 3 | 4) => object::quicklist_dump(ctx, args[2], args.get(3).copied()),
        (b"populate", 3..=5) => populate(ctx, args),
        (b"reload", _) => reload(ctx, &args[2..]),
        (b"loadaof", 2) => loadaof(ctx),
        (b"replicate", 3..) => {
            // To the replicas alone, allowing data divergence (a test's
            // way to make a replica fail a command).
            let db = ctx.client.db;
            let op = Op::with_target(db, &args[2..], Target::REPL);
            ctx.guard().propagate(|| op);
            Ok(Reply::OK)
        }
        (b"aof-flush-sleep", 3) => {
            let usec = u64::try_from(atoi(args[2])).unwrap_or(0);
            ctx.server
                .aof
                .flush_sleep_us
                .store(usec, std::sync::atomic::Ordering::Relaxed);
            Ok(Reply::OK)
        }
        (b"digest", 2) => Ok(status(digest::hex(&digest::dataset(ctx)))),
        (b"digest-value", _) => Ok(Reply::Array(
            args[2..]
                .iter()
                .map(|key| status(digest::hex(&digest::key(ctx, key))))
                .collect(),
        )),
        (b"protocol", 3) => protocol(ctx, args[2]),
        (b"sleep", 3) => {
            sleep(args[2]);
            Ok(Reply::OK)
        }
        (b"set-active-expire", 3) => {
            ctx.server.keyspace.active_expiry.set(atoi(args[2]) != 0);
            Ok(Reply::OK)
        }
        (b"set-skip-checksum-validation", 3) => {
            let skip = atoi(args[2]) != 0;
            ctx.server
                .skip_checksum_validation
                .store(skip, Ordering::Relaxed);
            Ok(Reply::OK)
        }
        (b"pause-cron", 3) => {
            let paused = atoi(args[2]) != 0;
            ctx.server.cron.paused.store(paused, Ordering::Relaxed);
            Ok(Reply::OK)
        }
        (b"quicklist-packed-threshold", 3) => packed_threshold(args[2]),
        (b"replybuffer", 4) => reply_buffer(args),
        (b"config-rewrite-force-all", 2) => {
            // Without a config file Redis's rewrite opens a NULL path.
            let path =
                ctx.server.config.file().ok_or_else(|| {
                    Reply::error("ERR CONFIG-REWRITE-FORCE-ALL failed: Bad address")
                })?;
            super::server::rewrite_config(ctx.server, path, true).map_err(|e| {
                let reason = crate::config::strerror(&e);
                Reply::error_owned(format!("ERR CONFIG-REWRITE-FORCE-ALL failed: {reason}"))
            })?;
            Ok(Reply::OK)
        }
        (b"change-repl-id", 2) => {
            // No replication yet: nothing to change but the log line.
            tracing::warn!("Changing replication IDs after receiving DEBUG change-repl-id");
            Ok(Reply::OK)
        }
        (b"stringmatch-test", 2) => {
            stringmatch_test();
            Ok(Reply::simple("Apparently Redis did not crash: test passed"))
        }
        _ => Err(super::args::subcommand_syntax_error(args)),
    }
}

/// DEBUG REPLYBUFFER PEAK-RESET-TIME <NEVER|RESET|ms> | RESIZING <0|1>,
/// checked as Redis checks them. Redis's reply buffer is a fixed block its
/// cron resizes to the recent peak; ours is allocated for a batch of
/// replies and freed once written, so its size never lags behind and there
/// is nothing to switch.
fn reply_buffer(args: &[&[u8]]) -> CmdResult {
    let value = args[3];
    match args[2].to_ascii_lowercase().as_slice() {
        b"peak-reset-time" => {
            if !is_word(value, "never")
                && !is_word(value, "reset")
                && crate::number::parse_i64(value).is_none()
            {
                return Err(Reply::error("ERR value is not an integer or out of range"));
            }
            Ok(Reply::OK)
        }
        b"resizing" => Ok(Reply::OK),
        _ => Err(super::args::subcommand_syntax_error(args)),
    }
}

fn is_word(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: SAVE, empty every database,
/// load the file back (Redis's test suite checks that a dataset survives
/// its own RDB round trip this way). MERGE keeps keys already there over
/// duplicates instead of failing.
fn reload(ctx: &mut Ctx, options: &[&[u8]]) -> CmdResult {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for opt in options {
        match opt.to_ascii_uppercase().as_slice() {
            b"MERGE" => merge = true,
            b"NOFLUSH" => flush = false,
            b"NOSAVE" => save = false,
            _ => {
                return Err(Reply::error(
                    "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                ))
            }
        }
    }
    let server = ctx.server;
    if save && crate::persistence::save(server, ctx.guard()).is_err() {
        return Err(Reply::error("ERR"));
    }
    if flush {
        for db in 0..server.keyspace.databases() {
            drop(ctx.db_at(db).clear());
        }
    }
    match crate::persistence::load_into(server, ctx.guard(), merge) {
        Ok(_) => {
            tracing::info!("DB reloaded by DEBUG RELOAD");
            Ok(Reply::OK)
        }
        Err(e) => {
            if let crate::persistence::LoadError::Corrupt(why) = e {
                tracing::warn!("Error loading the RDB file: {why}");
            }
            Err(Reply::error(
                "ERR Error trying to load the RDB dump, check server logs.",
            ))
        }
    }
}

/// DEBUG LOADAOF: the AOF flushed, every database emptied, the manifest
/// read again from disk (so the next files' sequence numbers follow the
/// files there, as Redis's `aofLoadManifestFromDisk`), its history files
/// removed, and the AOF loaded back (Redis exits when that fails, and so
/// do we). DEBUG locks nothing for it: the load runs its commands as the
/// start-up load does.
fn loadaof(ctx: &mut Ctx) -> CmdResult {
    let server = ctx.server;
    // Replaying takes each command's locks: a transaction holding some
    // would wait on itself.
    if !ctx.guard().holds_no_shard() {
        return Err(Reply::error(
            "ERR DEBUG LOADAOF cannot run in a transaction that touches keys",
        ));
    }
    if server.aof.state() != crate::aof::State::Off {
        server.aof.write_pending(true);
    }
    let mut set = LockSet::new();
    set.add_all(&server.keyspace);
    let mut guard = server.keyspace.lock(set).unpropagated();
    let clock = crate::keyspace::CommandClock::default();
    for db in 0..server.keyspace.databases() {
        drop(guard.db(db, &clock).clear());
    }
    guard.release();
    let Ok(mut manifest) = crate::aof::load::manifest_from_disk(server) else {
        std::process::exit(1);
    };
    crate::aof::rewrite::delete_history(&server.config, &server.aof.dir(), &mut manifest);
    server.set_loading(true);
    let outcome = crate::aof::load::load_all(server, &mut manifest);
    server.set_loading(false);
    server.aof.lock().manifest = manifest;
    if !matches!(
        outcome,
        crate::aof::load::Outcome::Ok | crate::aof::load::Outcome::Empty
    ) {
        std::process::exit(1);
    }
    server
        .keyspace
        .dirty
        .store(0, std::sync::atomic::Ordering::Relaxed);
    tracing::warn!("Append Only File loaded by DEBUG LOADAOF");
    Ok(Reply::OK)
}

/// DEBUG HELP: Redis's lines for the subcommands we implement, in its order.
fn help(command: &[u8]) -> Reply {
    help_reply(
        command,
        &[
            "CHANGE-REPL-ID",
            "    Change the replication IDs of the instance.",
            "    Dangerous: should be used only for testing the replication subsystem.",
            "CONFIG-REWRITE-FORCE-ALL",
            "    Like CONFIG REWRITE but writes all configuration options, including",
            "    keywords not listed in original configuration file or default values.",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "ERROR <string>",
            "    Return a Redis protocol error with <string> as message. Useful for clients",
            "    unit tests to simulate Redis errors.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "REPLICATE <string>",
            "    Replicates the provided string to replicas, allowing data divergence.",
            "OBJECT <key>",
            "    Show low level info about `key` and associated value.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas. Cluster slots are not respected so keys not belonging to the",
            "    current node can be created in cluster mode.",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type. <type> can be: string,",
            "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
            "    true, false.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "QUICKLIST-PACKED-THRESHOLD <size>",
            "    Sets the threshold for elements to be inserted as plain vs packed nodes",
            "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "STRINGMATCH-TEST",
            "    Run a fuzz tester against the stringmatchlen() function.",
            "LISTPACK <key>",
            "    Show low level info about the listpack encoding of <key>.",
            "QUICKLIST <key> [<0|1>]",
            "    Show low level info about the quicklist encoding of <key>.",
            "    The optional argument (0 by default) sets the level of detail",
            "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
            "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
            "    In case NEVER is provided the last observed peak will never be reset",
            "    In case RESET is provided the peak reset time will be restored to the default value",
            "REPLYBUFFER RESIZING <0|1>",
            "    Enable or disable the reply buffer resize cron job",
        ],
    )
}

/// DEBUG SLEEP <seconds>: Redis `nanosleep`s in its only thread, stopping
/// the whole server, and the suite relies on that (a client's replies pile
/// up, a command shows in SLOWLOG and the latency monitor). We block the
/// calling client's event loop the same way, with `std::thread::sleep`
/// rather than an async sleep: every client of that loop waits, as every
/// client of Redis does, and with the default single event loop that is the
/// whole server. Clients of further loops (`io-threads` > 1) go on, which is
/// a difference from Redis we accept. No shard lock is held meanwhile (see
/// [`locks`]), unless the sleep runs inside EXEC.
///
/// The argument is read as C's `strtod` reads it (a number prefix, anything
/// else 0), and as in Redis a negative, NaN or overflowing time sleeps not
/// at all (`nanosleep` refuses it).
fn sleep(arg: &[u8]) {
    let seconds = strtod_prefix(arg);
    let micros = seconds * 1_000_000.0;
    if micros.is_finite() && micros >= 1.0 && micros < i64::MAX as f64 {
        std::thread::sleep(Duration::from_micros(micros as u64));
    }
}

/// A status reply built at run time.
fn status(text: String) -> Reply {
    Reply::Simple(text.into_bytes().into())
}

/// DEBUG POPULATE <count> [<prefix>] [<size>]: creates string keys
/// `<prefix>:<n>` (prefix `key`, cut to 127 bytes as Redis's buffer cuts it)
/// holding `value:<n>`, padded with zero bytes or cut to `size` bytes when a
/// size is given; existing keys are left alone, and none counts as a change
/// (Redis's populate is not a write to save or propagate). Values larger than
/// `proto-max-bulk-len` are refused (Redis would try to allocate them).
fn populate(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = positive_arg(args[2], None)?;
    let size = match args.get(4) {
        Some(size) => positive_arg(size, None)? as u64,
        None => 0,
    };
    if size > ctx.server.config.proto_max_bulk_len() {
        return Err(Reply::error(
            "ERR value size is larger than proto-max-bulk-len",
        ));
    }
    let prefix = args.get(3).map_or(&b"key"[..], |p| c_string(p, usize::MAX));
    let mut db = ctx.db();
    let mut key = Vec::new();
    for n in 0..count {
        let number = n.to_string();
        key.clear();
        key.extend_from_slice(prefix);
        key.push(b':');
        key.extend_from_slice(number.as_bytes());
        key.truncate(127);
        if db.contains(&key) {
            continue;
        }
        let mut value = format!("value:{number}").into_bytes();
        if size != 0 {
            value.resize(size as usize, 0);
        }
        let value = Value::String(StringValue::from_bytes_no_int(value));
        db.set(&key, value, None);
        // Redis's populate signals the keys (WATCH) but counts no change:
        // nothing propagates to replicas or the AOF, nothing makes a save
        // point due.
        db.changed_nothing();
    }
    Ok(Reply::OK)
}

/// DEBUG QUICKLIST-PACKED-THRESHOLD <size>: Redis's quicklist stores an
/// element at least this big alone in a "plain" node instead of a listpack.
/// Ours has no plain nodes: an element too big for a node's byte limit
/// already gets a node of its own, whatever its size, which is all a client
/// can observe. So the size is validated exactly as Redis validates it
/// (`memtoull`, at most 4 GB less 1 MB) and otherwise has no effect.
fn packed_threshold(arg: &[u8]) -> CmdResult {
    const LIMIT: u64 = (1 << 32) - (1 << 20);
    match crate::config::memtoull(c_string(arg, usize::MAX)) {
        Some(size) if size <= LIMIT => Ok(Reply::OK),
        _ => Err(Reply::error(
            "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
        )),
    }
}

/// DEBUG PROTOCOL <type>: one value of each RESP3 type, for client tests.
/// RESP2 clients get each type's RESP2 form (the encoder's job), except a
/// push, which Redis refuses to send them.
fn protocol(ctx: &mut Ctx, kind: &[u8]) -> CmdResult {
    let kind = kind.to_ascii_lowercase();
    let counting = || (0..3).map(Reply::Integer).collect::<Vec<_>>();
    Ok(match kind.as_slice() {
        b"string" => Reply::bulk("Hello World"),
        b"integer" => Reply::Integer(12345),
        // Redis's test value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        b"double" => Reply::Double(3.141),
        b"bignum" => Reply::BigNumber("1234567999999999999999999999999999999".into()),
        b"null" => Reply::Null,
        b"array" => Reply::Array(counting()),
        b"set" => Reply::Set(counting()),
        b"map" => Reply::Map(
            (0..3)
                .map(|j| (Reply::Integer(j), Reply::Bool(j == 1)))
                .collect(),
        ),
        b"attrib" => Reply::Attribute(
            vec![(
                Reply::bulk("key-popularity"),
                Reply::Array(vec![Reply::bulk("key:123"), Reply::Integer(90)]),
            )],
            Box::new(Reply::bulk("Some real reply following the attribute")),
        ),
        b"push" => {
            if ctx.client.resp == Resp::V2 {
                return Err(Reply::error("ERR RESP2 is not supported by this command"));
            }
            // Out of band, through the client's mailbox, which the connection
            // writes out before this command's own reply, as Redis writes
            // the push first. No output buffer limit applies to it.
            let push = Reply::Push(vec![Reply::bulk("server-cpu-usage"), Reply::Integer(42)]);
            let unlimited = crate::config::OutputBufferLimit {
                hard_bytes: 0,
                soft_bytes: 0,
                soft_seconds: 0,
            };
            ctx.client.subs.mailbox().push(push, unlimited);
            Reply::bulk("Some real reply following the push reply")
        }
        b"true" => Reply::Bool(true),
        b"false" => Reply::Bool(false),
        b"verbatim" => Reply::Verbatim("txt", "This is a verbatim\nstring".into()),
        _ => {
            return Err(Reply::error(
                "ERR Wrong protocol type name. Please use one of the following: \
                 string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    })
}

/// DEBUG STRINGMATCH-TEST: Redis's `stringmatchlen_fuzz_test`, against our
/// glob matcher: random patterns over random strings, 100,000 times. It
/// checks only that nothing crashes (a panic would be a bug to fix).
fn stringmatch_test() {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let random_bytes = |rng: &mut rand::rngs::ThreadRng| {
        let len = rng.gen_range(0..32);
        (0..len).map(|_| rng.gen::<u8>()).collect::<Vec<u8>>()
    };
    for _ in 0..100_000 {
        let pattern = random_bytes(&mut rng);
        let string = random_bytes(&mut rng);
        let nocase = rng.gen::<bool>();
        std::hint::black_box(crate::glob::glob_match(&pattern, &string, nocase));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_reads_like_c() {
        assert_eq!(atoi(b"1"), 1);
        assert_eq!(atoi(b"  -12abc"), -12);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b""), 0);
        assert_eq!(atoi(b"+7"), 7);
    }

    #[test]
    fn strtod_prefix_reads_like_c() {
        assert_eq!(strtod_prefix(b"0.5"), 0.5);
        assert_eq!(strtod_prefix(b"1.5abc"), 1.5);
        assert_eq!(strtod_prefix(b"abc"), 0.0);
        assert_eq!(strtod_prefix(b""), 0.0);
        assert_eq!(strtod_prefix(b" -1"), -1.0);
    }

    #[test]
    fn packed_threshold_limits() {
        assert!(packed_threshold(b"1b").is_ok());
        assert!(packed_threshold(b"0").is_ok());
        assert!(packed_threshold(b"4gb").is_err());
        assert!(packed_threshold(b"-1").is_err());
        assert!(packed_threshold(b"1x").is_err());
    }
}
