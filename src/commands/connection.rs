//! Connection commands: PING, ECHO, SELECT, QUIT, RESET, HELLO and CLIENT
//! (Redis's networking.c and server.c), with Redis 7.0.15's replies and error
//! texts, plus CLIENT SETINFO as Redis 7.2 has it.

use std::sync::Arc;

use bytes::Bytes;

use super::args::{db_index_arg, error_format, help_reply, is, syntax_error};
use super::table::c_string;
use super::{cmd, CmdResult, Ctx, Registration};
use crate::blocking::Unblock;
use crate::client::ClientHandle;
use crate::number::parse_i64;
use crate::pause::PauseKind;
use crate::protocol::{Reply, Resp};
use crate::server::REDIS_VERSION;
use crate::tracking::{flag, Options};

pub static COMMANDS: &[Registration] = &[
    cmd("ping", ping),
    cmd("echo", echo),
    cmd("select", select),
    cmd("quit", quit),
    cmd("reset", reset),
    cmd("auth", auth),
    cmd("monitor", monitor),
    cmd("hello", hello),
    cmd("client|id", client_id),
    cmd("client|setname", client_setname),
    cmd("client|getname", client_getname),
    cmd("client|setinfo", client_setinfo),
    cmd("client|info", client_info),
    cmd("client|list", client_list),
    cmd("client|kill", client_kill),
    cmd("client|unblock", client_unblock),
    cmd("client|no-evict", client_no_evict),
    cmd("client|reply", client_reply),
    cmd("client|json", client_json),
    cmd("client|tracking", client_tracking),
    cmd("client|pause", client_pause),
    cmd("client|unpause", client_unpause),
    cmd("client|caching", client_caching),
    cmd("client|getredir", client_getredir),
    cmd("client|trackinginfo", client_trackinginfo),
    cmd("client|help", client_help),
];

/// PING; a RESP2 client in subscribed mode gets `["pong", message or ""]`,
/// as in Redis's `pingCommand`.
fn ping(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 2 {
        return Err(Reply::error(
            "ERR wrong number of arguments for 'ping' command",
        ));
    }
    if ctx.client.resp == Resp::V2 && ctx.client.subs.active() {
        let message = args.get(1).copied().unwrap_or_default();
        return Ok(Reply::Array(vec![
            Reply::bulk("pong"),
            Reply::bulk_copy(message),
        ]));
    }
    match args.get(1) {
        None => Ok(Reply::simple("PONG")),
        Some(message) => Ok(Reply::bulk_copy(message)),
    }
}

fn echo(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    Ok(Reply::bulk_copy(args[1]))
}

/// SELECT reads an `int` (`getIntFromObjectOrReply`), with its own error
/// beyond 32 bits.
fn select(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let db = db_index_arg(args[1], ctx.server.keyspace.databases())?;
    ctx.client.set_db(db);
    Ok(Reply::OK)
}

fn quit(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.client.close_after_reply = true;
    Ok(Reply::OK)
}

/// RESET also leaves every subscription and MONITOR silently
/// (`clearClientConnectionState`).
fn reset(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.server.pubsub.leave(&mut ctx.client.subs);
    disable_tracking(ctx);
    stop_monitoring(ctx);
    ctx.client.reset(&ctx.server.keyspace.watches);
    ctx.client.set_default_auth(&ctx.server.acl);
    Ok(Reply::simple("RESET"))
}

/// MONITOR (Redis's `monitorCommand`): from now on the client sees every
/// command (`crate::monitor`). Inside EXEC it would never get its replies one
/// per command; a client already monitoring gets no reply at all, as in Redis.
fn monitor(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.in_multi() {
        return Err(Reply::error(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    let mut info = ctx.client.handle.info();
    if info.monitor {
        drop(info);
        ctx.client.skip_reply = true;
        return Ok(Reply::OK);
    }
    info.monitor = true;
    drop(info);
    ctx.server.monitors.add(ctx.client);
    Ok(Reply::OK)
}

fn stop_monitoring(ctx: &mut Ctx) {
    ctx.client.handle.info().monitor = false;
    ctx.server.monitors.remove(ctx.client.id);
}

/// Redis's `validateClientAttr`: names and library attributes must not break
/// the space-separated CLIENT LIST line, so only `!`..`~` are allowed.
fn valid_client_attr(value: &[u8]) -> bool {
    value.iter().all(|b| (b'!'..=b'~').contains(b))
}

/// Redis's `clientSetNameOrReply`: an empty name removes the name.
fn set_name(ctx: &mut Ctx, name: &[u8]) -> Result<(), Reply> {
    if !valid_client_attr(name) {
        return Err(Reply::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    ctx.client.handle.info().name = (!name.is_empty()).then(|| name.into());
    Ok(())
}

/// Redis's `ACLAuthenticateUser`: on success the client is authenticated
/// as the user; a failure is logged (reason `auth`) and answered WRONGPASS.
fn authenticate(ctx: &mut Ctx, args: &[&[u8]], user: &[u8], pass: &[u8]) -> Result<(), Reply> {
    match ctx.server.acl.authenticate(user, pass) {
        Some(user) => {
            ctx.client.set_user(user);
            ctx.client.set_authenticated(true);
            Ok(())
        }
        None => {
            let context = if ctx.client.in_multi() {
                crate::acl::Context::Multi
            } else {
                crate::acl::Context::Toplevel
            };
            ctx.server.acl.add_log(
                crate::acl::Reason::Auth,
                context,
                Bytes::copy_from_slice(args[0]),
                Bytes::copy_from_slice(user),
                ctx.client.handle.describe(),
                ctx.server.config.acllog_max_len(),
            );
            Err(Reply::error(
                "WRONGPASS invalid username-password pair or user is disabled.",
            ))
        }
    }
}

/// AUTH [username] password (Redis's `authCommand`). The one-argument form
/// with no password configured is an error, as Redis keeps it for clients
/// that send a password the server does not expect.
fn auth(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (user, pass) = match args {
        [_, pass] => {
            if ctx.server.acl.default_is_nopass() {
                return Err(Reply::error(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            (&b"default"[..], *pass)
        }
        [_, user, pass] => (*user, *pass),
        _ => return Err(syntax_error()),
    };
    authenticate(ctx, args, user, pass)?;
    Ok(Reply::OK)
}

/// HELLO [protover [AUTH user pass] [SETNAME name]] (Redis's `helloCommand`).
/// Options apply in order, so a SETNAME before a bad option still sticks.
fn hello(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut version = None;
    if let Some(arg) = args.get(1) {
        let v = parse_i64(arg).ok_or_else(|| {
            Reply::error("ERR Protocol version is not an integer or out of range")
        })?;
        version = match v {
            2 => Some(Resp::V2),
            3 => Some(Resp::V3),
            _ => return Err(Reply::error("NOPROTO unsupported protocol version")),
        };
    }
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(args[i], "AUTH") && more >= 2 {
            authenticate(ctx, args, args[i + 1], args[i + 2])?;
            i += 3;
        } else if is(args[i], "SETNAME") && more >= 1 {
            set_name(ctx, args[i + 1])?;
            i += 2;
        } else {
            return Err(error_format(&[
                b"ERR Syntax error in HELLO option '",
                args[i],
                b"'",
            ]));
        }
    }
    // Redis checks the client's own flag here, not whether a password is
    // set now: a client that connected while one was set must still log in.
    if !ctx.client.authenticated {
        return Err(Reply::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(resp) = version {
        ctx.client.set_resp(resp);
    }
    let field = |k: &'static str, v: Reply| (Reply::bulk(k), v);
    Ok(Reply::Map(vec![
        field("server", Reply::bulk("redis")),
        field("version", Reply::bulk(REDIS_VERSION)),
        field(
            "proto",
            Reply::Integer(match ctx.client.resp {
                Resp::V2 => 2,
                Resp::V3 => 3,
            }),
        ),
        field("id", Reply::from(ctx.client.id as i64)),
        field("mode", Reply::bulk("standalone")),
        field("role", Reply::bulk("master")),
        field("modules", Reply::Array(Vec::new())),
    ]))
}

fn client_id(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(Reply::from(ctx.client.id as i64))
}

fn client_setname(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    set_name(ctx, args[2])?;
    Ok(Reply::OK)
}

fn client_getname(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(ctx
        .client
        .handle
        .info()
        .name
        .as_deref()
        .map_or(Reply::Null, |name| {
            Reply::Bulk(Bytes::copy_from_slice(name))
        }))
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value, as Redis 7.2's `clientSetinfoCommand`.
fn client_setinfo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (attr, value) = (&args[2], &args[3]);
    let mut info = ctx.client.handle.info();
    let slot = if is(attr, "lib-name") {
        &mut info.lib_name
    } else if is(attr, "lib-ver") {
        &mut info.lib_ver
    } else {
        return Err(error_format(&[b"ERR Unrecognized option '", attr, b"'"]));
    };
    if !valid_client_attr(value) {
        return Err(error_format(&[
            b"ERR ",
            attr,
            b" cannot contain spaces, newlines or special characters.",
        ]));
    }
    *slot = (!value.is_empty()).then(|| (*value).into());
    Ok(Reply::OK)
}

/// CLIENT LIST and CLIENT INFO text: one line per client, each ending in a
/// newline, as a verbatim string. A killed client whose connection has not
/// closed yet is left out: Redis frees a client it kills (or evicts) at once.
fn client_lines<'a>(clients: impl IntoIterator<Item = &'a Arc<ClientHandle>>) -> Reply {
    let mut text = String::new();
    for client in clients.into_iter().filter(|c| !c.is_killed()) {
        text.push_str(&client.describe());
        text.push('\n');
    }
    Reply::Verbatim("txt", text.into())
}

fn client_info(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.client.publish_running(args);
    Ok(client_lines([&ctx.client.handle]))
}

/// Client types as CLIENT LIST/KILL TYPE name them (Redis's `getClientTypeByName`).
#[derive(PartialEq)]
enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

fn client_type(name: &[u8]) -> Result<ClientType, Reply> {
    Ok(match name.to_ascii_lowercase().as_slice() {
        b"normal" => ClientType::Normal,
        b"slave" | b"replica" => ClientType::Replica,
        b"pubsub" => ClientType::PubSub,
        b"master" => ClientType::Master,
        _ => return Err(error_format(&[b"ERR Unknown client type '", name, b"'"])),
    })
}

/// The type of a connected client (`getClientType`): a replica's link to
/// its master is `master`, a replica's link to us `slave`, a subscriber
/// `pubsub`, everyone else `normal`.
fn type_of(client: &ClientHandle) -> ClientType {
    let info = client.info();
    if info.master {
        ClientType::Master
    } else if info.replica {
        ClientType::Replica
    } else if info.is_subscriber() {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

/// CLIENT LIST [TYPE type | ID id ...]: TYPE only as the sole option; IDs are
/// listed in the order given, repeats included, unknown ones skipped.
fn client_list(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.client.publish_running(args);
    let clients = &ctx.server.clients;
    match args.len() {
        2 => Ok(client_lines(&clients.all())),
        4 if is(args[2], "TYPE") => {
            let wanted = client_type(args[3])?;
            let all = clients.all();
            Ok(client_lines(all.iter().filter(|c| type_of(c) == wanted)))
        }
        n if n > 3 && is(args[2], "ID") => {
            let mut found = Vec::new();
            for arg in &args[3..] {
                let id = parse_i64(arg).ok_or_else(|| Reply::error("ERR Invalid client ID"))?;
                found.extend(u64::try_from(id).ok().and_then(|id| clients.get(id)));
            }
            Ok(client_lines(&found))
        }
        _ => Err(syntax_error()),
    }
}

/// Which clients CLIENT KILL's filters select (Redis's `clientKillCommand`).
#[derive(Default)]
struct KillFilter {
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    client_type: Option<ClientType>,
    id: Option<u64>,
    user: Option<Bytes>,
    skip_me: bool,
}

impl KillFilter {
    /// The old form `CLIENT KILL addr` may kill the caller itself.
    fn old_form(addr: &[u8]) -> KillFilter {
        KillFilter {
            addr: Some(Bytes::copy_from_slice(addr)),
            ..KillFilter::default()
        }
    }

    /// `CLIENT KILL <option> <value> ...`; unknown options, a missing value or
    /// a bad SKIPME answer are syntax errors.
    fn parse(acl: &crate::acl::Acl, options: &[&[u8]]) -> Result<KillFilter, Reply> {
        let mut filter = KillFilter {
            skip_me: true,
            ..KillFilter::default()
        };
        for pair in options.chunks(2) {
            let [option, value] = pair else {
                return Err(syntax_error());
            };
            if is(option, "ID") {
                let id = parse_i64(value)
                    .filter(|&id| id > 0)
                    .ok_or_else(|| Reply::error("ERR client-id should be greater than 0"))?;
                filter.id = Some(id as u64);
            } else if is(option, "TYPE") {
                filter.client_type = Some(client_type(value)?);
            } else if is(option, "ADDR") {
                filter.addr = Some(Bytes::copy_from_slice(value));
            } else if is(option, "LADDR") {
                filter.laddr = Some(Bytes::copy_from_slice(value));
            } else if is(option, "USER") {
                let user = acl
                    .user(value)
                    .ok_or_else(|| error_format(&[b"ERR No such user '", value, b"'"]))?;
                filter.user = Some(user.name.clone());
            } else if is(option, "SKIPME") {
                filter.skip_me = if is(value, "YES") {
                    true
                } else if is(value, "NO") {
                    false
                } else {
                    return Err(syntax_error());
                };
            } else {
                return Err(syntax_error());
            }
        }
        Ok(filter)
    }

    fn matches(&self, client: &ClientHandle, me: u64) -> bool {
        let same = |want: &Option<Bytes>, have: &crate::transport::PeerAddr| {
            want.as_ref()
                .is_none_or(|w| c_string(w, usize::MAX) == have.to_string().as_bytes())
        };
        same(&self.addr, &client.addr)
            && same(&self.laddr, &client.laddr)
            && self
                .client_type
                .as_ref()
                .is_none_or(|t| type_of(client) == *t)
            && self.id.is_none_or(|id| client.id == id)
            && self.user.as_ref().is_none_or(|u| client.info().user == *u)
            && !(self.skip_me && client.id == me)
    }
}

/// CLIENT KILL addr | CLIENT KILL [ID id] [TYPE t] [ADDR a] [LADDR a] [USER u]
/// [SKIPME yes|no]. The old form answers OK or "No such client", the new one
/// the number killed. Killing oneself takes effect after the reply.
/// Redis `clientCommand` UNBLOCK: TIMEOUT (the default) ends the wait with
/// the timeout reply, ERROR with `-UNBLOCKED`; 1 if the client was blocked.
fn client_unblock(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 4 {
        return Err(super::args::subcommand_syntax_error(args));
    }
    let how = match args.get(3) {
        None => Unblock::Timeout,
        Some(a) if is(a, "TIMEOUT") => Unblock::Timeout,
        Some(a) if is(a, "ERROR") => Unblock::Error,
        Some(_) => {
            return Err(Reply::error(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    let id =
        parse_i64(args[2]).ok_or(Reply::error("ERR value is not an integer or out of range"))?;
    let unblocked = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.server.clients.get(id))
        .is_some_and(|c| c.unblock(how));
    Ok(Reply::from(unblocked))
}

fn client_kill(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let old_form = args.len() == 3;
    let filter = if old_form {
        KillFilter::old_form(args[2])
    } else {
        KillFilter::parse(&ctx.server.acl, &args[2..])?
    };
    let me = ctx.client.id;
    let mut killed = 0;
    for client in ctx.server.clients.all() {
        if filter.matches(&client, me) {
            if client.id == me {
                ctx.client.close_after_reply = true;
            } else {
                client.kill();
                // A replica leaves the stream now, not when its task gets
                // to the kill: Redis frees it (and its share of the
                // replication buffer) before replying; the master link's
                // socket closes now too.
                ctx.server.replication.remove(client.id);
                if client.info().master {
                    ctx.server.master_link.close();
                }
            }
            killed += 1;
        }
    }
    match (old_form, killed) {
        (true, 0) => Err(Reply::error("ERR No such client")),
        (true, _) => Ok(Reply::OK),
        (false, n) => Ok(Reply::from(n as i64)),
    }
}

/// An `ON|OFF` argument (CLIENT NO-EVICT, CLIENT JSON).
fn on_off(arg: &[u8]) -> Result<bool, Reply> {
    if is(arg, "ON") {
        Ok(true)
    } else if is(arg, "OFF") {
        Ok(false)
    } else {
        Err(syntax_error())
    }
}

/// CLIENT NO-EVICT ON|OFF: the client is never evicted while ON; turned
/// OFF, it may be at once if the clients are over `maxmemory-clients`.
fn client_no_evict(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let on = on_off(args[2])?;
    ctx.client.handle.info().no_evict = on;
    if !on {
        ctx.server.clients.memory.evict();
    }
    Ok(Reply::OK)
}

/// CLIENT REPLY ON|OFF|SKIP: OFF and SKIP answer nothing (the connection
/// drops their reply, as it drops what they silence). Inside EXEC they keep
/// their slot in EXEC's array, which Redis leaves short of its declared length.
fn client_reply(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let in_exec = ctx.client.in_multi();
    let replies = &mut ctx.client.replies;
    match args[2] {
        mode if is(mode, "ON") => replies.on(),
        mode if is(mode, "OFF") => replies.off(),
        mode if is(mode, "SKIP") => replies.skip(),
        _ => return Err(syntax_error()),
    }
    if !in_exec && !is(args[2], "ON") {
        replies.quiet();
    }
    Ok(Reply::OK)
}

/// CLIENT JSON ON|OFF (a reddish extension): whether this connection's inline
/// (telnet) requests are answered with one JSON object per line. RESP requests
/// always get RESP, so switching it on never confuses a client library.
fn client_json(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.client.json = on_off(args[2])?;
    Ok(Reply::OK)
}

/// CLIENT PAUSE timeout [WRITE|ALL] (`crate::pause`): the timeout in
/// milliseconds, read as Redis's `getTimeoutFromObjectOrReply`.
fn client_pause(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 4 {
        return Err(super::args::subcommand_syntax_error(args));
    }
    let kind = match args.get(3) {
        None => PauseKind::All,
        Some(a) if is(a, "WRITE") => PauseKind::Write,
        Some(a) if is(a, "ALL") => PauseKind::All,
        Some(_) => return Err(Reply::error("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let timeout = parse_i64(args[2]).ok_or(Reply::error(
        "ERR timeout is not an integer or out of range",
    ))?;
    if timeout < 0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    let now = ctx.now_ms() as i64;
    let end = match timeout {
        0 => 0,
        t => t
            .checked_add(now)
            .ok_or(Reply::error("ERR timeout is out of range"))?,
    };
    ctx.server.pause.pause(kind, end as u64);
    Ok(Reply::OK)
}

fn client_unpause(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.server.pause.unpause();
    Ok(Reply::OK)
}

/// Tracking off (CLIENT TRACKING OFF, RESET).
fn disable_tracking(ctx: &mut Ctx) {
    if ctx.client.tracking != 0 {
        ctx.server.tracking.disable(ctx.client.id);
        ctx.client.tracking = 0;
        ctx.client.tracking_prefix_bytes = 0;
    }
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN]
/// [OPTOUT] [NOLOOP], with the checks and error texts of Redis's
/// `clientCommand`, in its order.
fn client_tracking(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut options = Options {
        redirect: 0,
        flags: 0,
        prefixes: Vec::new(),
    };
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        let arg = args[i];
        if is(arg, "REDIRECT") && more {
            i += 1;
            if options.redirect != 0 {
                return Err(Reply::error(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let id = parse_i64(args[i])
                .ok_or(Reply::error("ERR value is not an integer or out of range"))?;
            let found = u64::try_from(id)
                .ok()
                .filter(|&id| ctx.server.clients.get(id).is_some());
            options.redirect = found.ok_or(Reply::error(
                "ERR The client ID you want redirect to does not exist",
            ))?;
        } else if is(arg, "BCAST") {
            options.flags |= flag::BCAST;
        } else if is(arg, "OPTIN") {
            options.flags |= flag::OPTIN;
        } else if is(arg, "OPTOUT") {
            options.flags |= flag::OPTOUT;
        } else if is(arg, "NOLOOP") {
            options.flags |= flag::NOLOOP;
        } else if is(arg, "PREFIX") && more {
            i += 1;
            options.prefixes.push(Bytes::copy_from_slice(args[i]));
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    if is(args[2], "OFF") {
        disable_tracking(ctx);
        return Ok(Reply::OK);
    }
    if !is(args[2], "ON") {
        return Err(syntax_error());
    }
    let (new, old) = (options.flags, ctx.client.tracking);
    if new & flag::BCAST == 0 && !options.prefixes.is_empty() {
        return Err(Reply::error(
            "ERR PREFIX option requires BCAST mode to be enabled",
        ));
    }
    if old & flag::ON != 0 && (old ^ new) & flag::BCAST != 0 {
        return Err(Reply::error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
    }
    if new & flag::BCAST != 0 && new & (flag::OPTIN | flag::OPTOUT) != 0 {
        return Err(Reply::error(
            "ERR OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if new & flag::OPTIN != 0 && new & flag::OPTOUT != 0 {
        return Err(Reply::error(
            "ERR You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if (new & flag::OPTIN != 0 && old & flag::OPTOUT != 0)
        || (new & flag::OPTOUT != 0 && old & flag::OPTIN != 0)
    {
        return Err(Reply::error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
    }
    if new & flag::BCAST != 0 {
        ctx.server
            .tracking
            .check_prefixes(ctx.client.id, &options.prefixes)?;
    }
    ctx.client.tracking_prefix_bytes += options
        .prefixes
        .iter()
        .map(|p| p.len() + std::mem::size_of::<bytes::Bytes>())
        .sum::<usize>();
    ctx.server.tracking.enable(&ctx.client.handle, options);
    // Redis keeps CACHING across a re-enable only through its flag
    // word; enabling clears the mode flags but not CACHING.
    ctx.client.tracking = flag::ON | new | (old & flag::CACHING);
    Ok(Reply::OK)
}

/// CLIENT CACHING YES|NO: the next command (or transaction) is cached
/// (OPTIN) or not (OPTOUT) against the mode's default.
fn client_caching(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let tracking = ctx.client.tracking;
    if tracking & flag::ON == 0 {
        return Err(Reply::error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    }
    if is(args[2], "YES") {
        if tracking & flag::OPTIN == 0 {
            return Err(Reply::error(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(args[2], "NO") {
        if tracking & flag::OPTOUT == 0 {
            return Err(Reply::error(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(syntax_error());
    }
    ctx.client.tracking |= flag::CACHING;
    Ok(Reply::OK)
}

fn client_getredir(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.tracking & flag::ON == 0 {
        return Ok(Reply::Integer(-1));
    }
    Ok(Reply::Integer(
        ctx.server.tracking.info(ctx.client.id).1 as i64,
    ))
}

/// CLIENT TRACKINGINFO: flags (a set), redirect and prefixes, as Redis.
fn client_trackinginfo(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let mine = ctx.client.tracking;
    let (flags, redirect, prefixes) = ctx.server.tracking.info(ctx.client.id);
    let on = mine & flag::ON != 0;
    let mut names = vec![if on { "on" } else { "off" }];
    if flags & flag::BCAST != 0 {
        names.push("bcast");
    }
    let caching = mine & flag::CACHING != 0;
    if flags & flag::OPTIN != 0 {
        names.push("optin");
        if caching {
            names.push("caching-yes");
        }
    }
    if flags & flag::OPTOUT != 0 {
        names.push("optout");
        if caching {
            names.push("caching-no");
        }
    }
    if flags & flag::NOLOOP != 0 {
        names.push("noloop");
    }
    if flags & flag::BROKEN_REDIR != 0 {
        names.push("broken_redirect");
    }
    Ok(Reply::Map(vec![
        (
            Reply::bulk("flags"),
            Reply::Set(names.into_iter().map(Reply::bulk).collect()),
        ),
        (
            Reply::bulk("redirect"),
            Reply::Integer(if on { redirect as i64 } else { -1 }),
        ),
        (
            Reply::bulk("prefixes"),
            Reply::Array(prefixes.into_iter().map(Reply::Bulk).collect()),
        ),
    ]))
}

/// Redis 7.0.15's CLIENT HELP text, word for word.
fn client_help(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Ok(help_reply(
        b"CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    ))
}
