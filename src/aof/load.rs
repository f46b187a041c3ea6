//! Loading the AOF (Redis's `aofLoadManifestFromDisk`,
//! `loadAppendOnlyFiles`, `loadSingleAppendOnlyFile`): the manifest, then
//! the base file (an RDB file, or commands) and each incremental file in
//! order, each command run through [`crate::commands::execute`] by a
//! client of its own, as Redis runs them with a fake client. A torn last
//! command (or an unfinished MULTI) at the end of the last file is cut off
//! under `aof-load-truncated`; anything else wrong stops the load.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Instant;

use super::manifest::{FileInfo, Manifest, BASE};
use super::Fatal;
use crate::keyspace::LockSet;
use crate::server::Server;

/// Redis's `AOF_OK`, `AOF_NOT_EXIST`, ... results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    NotExist,
    Empty,
    OpenErr,
    Failed,
    Truncated,
}

/// Redis's `AOF_ANNOTATION_LINE_MAX_LEN`: `fgets` reads lines in pieces
/// of at most this many bytes minus one.
const LINE_MAX: usize = 1024;

/// Reads the manifest at start-up (Redis's `aofLoadManifestFromDisk`): no
/// directory or no manifest is an empty one; a bad one stops the server
/// with Redis's lines.
pub fn manifest_from_disk(server: &Server) -> Result<Manifest, Fatal> {
    let aof = &server.aof;
    let dir = aof.dir();
    let name = format!("{}.manifest", server.config.appendfilename());
    let path = dir.join(&name);
    if !dir.is_dir() {
        tracing::trace!("The AOF directory {} doesn't exist", dir.display());
        return Ok(Manifest::default());
    }
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::trace!("The AOF manifest file {name} doesn't exist");
            return Ok(Manifest::default());
        }
        Err(e) => {
            tracing::warn!(
                "Fatal error: can't open the AOF manifest file {} for reading: {e}",
                path.display()
            );
            return Err(Fatal);
        }
    };
    Manifest::parse(&text).map_err(|invalid| {
        tracing::warn!("\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
        if let Some((number, line)) = invalid.line {
            tracing::warn!("Reading the manifest file, at line {number}\n");
            tracing::warn!(">>> '{line}'\n");
        }
        tracing::warn!("{}\n", invalid.why);
        Fatal
    })
}

/// Redis's `aofUpgradePrepare`: an old single-file AOF (`appendfilename`
/// in `dir`) becomes the base of a manifest in `appenddirname`.
fn upgrade(server: &Server, manifest: &mut Manifest) -> Result<(), ()> {
    let dir = server.aof.dir();
    let filename = server.config.appendfilename();
    std::fs::create_dir_all(&dir).map_err(|e| {
        tracing::warn!(
            "Can't open or create append-only dir {}: {e}",
            server.config.appenddirname()
        );
    })?;
    manifest.base = Some(FileInfo {
        name: filename.clone(),
        seq: 1,
        kind: BASE,
    });
    manifest.base_seq = 1;
    manifest.persist(&dir, &filename).map_err(|_| ())?;
    let old = Path::new(&server.config.dir()).join(&filename);
    std::fs::rename(&old, dir.join(&filename)).map_err(|e| {
        tracing::warn!(
            "Error trying to move the old AOF file {filename} into dir {}: {e}",
            server.config.appenddirname()
        );
    })?;
    tracing::info!(
        "Successfully migrated an old-style AOF file ({filename}) into the AOF directory ({}).",
        server.config.appenddirname()
    );
    Ok(())
}

/// Redis's `loadAppendOnlyFiles`: the base then each incremental file;
/// sets the sizes INFO and automatic rewrites use.
pub fn load_all(server: &Server, manifest: &mut Manifest) -> Outcome {
    let dir = server.aof.dir();
    let filename = server.config.appendfilename();
    let old_style = Path::new(&server.config.dir()).join(&filename);
    if old_style.is_file() {
        let upgrade_needed = !dir.is_dir()
            || (manifest.base.is_none() && manifest.incr.is_empty())
            || (manifest.incr.is_empty()
                && manifest.base.as_ref().is_some_and(|b| b.name == filename)
                && !dir.join(&filename).exists());
        if upgrade_needed && upgrade(server, manifest).is_err() {
            std::process::exit(1);
        }
    }
    if manifest.base.is_none() && manifest.incr.is_empty() {
        return Outcome::NotExist;
    }
    let files: Vec<&FileInfo> = manifest.base.iter().chain(&manifest.incr).collect();
    let mut total = 0u64;
    for info in &files {
        match std::fs::metadata(dir.join(&info.name)) {
            Ok(meta) => total += meta.len(),
            Err(e) => {
                tracing::warn!(
                    "Unable to obtain the AOF file {} length. stat: {e}",
                    info.name
                );
                return Outcome::Failed;
            }
        }
    }
    if total == 0 {
        return Outcome::Empty;
    }
    let mut outcome = Outcome::Ok;
    let mut base_size = 0;
    for (i, info) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let is_base = info.kind == BASE;
        if is_base {
            base_size = std::fs::metadata(dir.join(&info.name)).map_or(0, |m| m.len());
        }
        let start = Instant::now();
        outcome = load_file(server, &dir, &info.name, info.name == filename);
        if outcome == Outcome::Ok || (outcome == Outcome::Truncated && last) {
            let kind = if is_base { "base" } else { "incr" };
            tracing::info!(
                "DB loaded from {kind} file {}: {:.3} seconds",
                info.name,
                start.elapsed().as_secs_f64()
            );
        }
        if outcome == Outcome::Empty && !is_base {
            outcome = Outcome::Ok;
        }
        if outcome == Outcome::Truncated && !last {
            tracing::warn!("Fatal error: the truncated file is not the last file");
            return Outcome::Failed;
        }
        if matches!(outcome, Outcome::OpenErr | Outcome::Failed) {
            return outcome;
        }
    }
    let mut inner = server.aof.lock();
    inner.current_size = total;
    inner.base_size = base_size;
    outcome
}

/// C's `fgets` into a buffer of [`LINE_MAX`]: up to and including a
/// newline, at most `LINE_MAX - 1` bytes; None at the end of the data.
fn fgets<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = &data[*pos..];
    if rest.is_empty() {
        return None;
    }
    let take = rest.len().min(LINE_MAX - 1);
    let end = rest[..take]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(take, |i| i + 1);
    *pos += end;
    Some(&rest[..end])
}

/// How reading the commands ended.
enum Stop {
    /// The end of the data, every command whole.
    End,
    /// The data ends inside a command (Redis's `uxeof`).
    Short,
    /// Not the AOF format (`fmterr`), at this offset.
    Format(usize),
    /// A command we do not know.
    Unknown(String),
}

/// Redis's `loadSingleAppendOnlyFile` for `dir/name`.
pub fn load_file(server: &Server, dir: &Path, name: &str, old_style: bool) -> Outcome {
    let path = dir.join(name);
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!("The append log file {name} doesn't exist: {e}");
            return Outcome::NotExist;
        }
        Err(e) => {
            tracing::warn!("Fatal error: can't open the append log file {name} for reading: {e}");
            return Outcome::OpenErr;
        }
    };
    if data.is_empty() {
        return Outcome::Empty;
    }
    let mut pos = 0;
    if data.starts_with(b"REDIS") {
        if old_style {
            tracing::info!("Reading RDB preamble from AOF file...");
        } else {
            tracing::info!("Reading RDB base file on AOF loading...");
        }
        let mut set = LockSet::new();
        set.add_all(&server.keyspace);
        let mut guard = server.keyspace.lock(set);
        let loaded = crate::persistence::load_data(server, &mut guard, &data, false);
        guard.release();
        match loaded {
            Ok(summary) => pos = summary.consumed,
            Err(e) => {
                if let crate::persistence::LoadError::Corrupt(why) = e {
                    tracing::warn!(
                        "Internal error in RDB reading offset 0, function at rdb.c:0 -> {why}"
                    );
                }
                if old_style {
                    tracing::warn!("Error reading the RDB preamble of the AOF file {name}, AOF loading aborted");
                } else {
                    tracing::warn!("Error reading the RDB base file {name}, AOF loading aborted");
                }
                tracing::warn!(
                    "Unrecoverable error reading the append only file {name}: Invalid argument"
                );
                return Outcome::Failed;
            }
        }
        if old_style {
            tracing::info!("Reading the remaining AOF tail...");
        }
    }
    let addr = crate::transport::PeerAddr::Ip(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    let mut client = server.clients.register(addr.clone(), addr, -1, &server.acl);
    client.replaying = true;
    let mut valid_up_to = pos;
    let mut valid_before_multi = pos;
    let stop = run_commands(
        server,
        &mut client,
        &data,
        &mut pos,
        &mut valid_up_to,
        &mut valid_before_multi,
    );
    let in_multi = client.in_multi();
    if in_multi {
        crate::commands::execute(server, &mut client, &[b"DISCARD"]);
    }
    server.clients.unregister(client.id);
    let truncated = match stop {
        Stop::End if in_multi => {
            tracing::warn!("Revert incomplete MULTI/EXEC transaction in AOF file {name}");
            valid_up_to = valid_before_multi;
            true
        }
        Stop::End => false,
        Stop::Short => true,
        Stop::Format(at) => {
            tracing::warn!("The append only file {name} is not in the AOF format at offset {at}");
            tracing::warn!("Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>");
            return Outcome::Failed;
        }
        Stop::Unknown(command) => {
            tracing::warn!("Unknown command '{command}' reading the append only file {name}");
            return Outcome::Failed;
        }
    };
    if !truncated {
        return Outcome::Ok;
    }
    if server.config.aof_load_truncated() {
        tracing::warn!("!!! Warning: short read while loading the AOF file {name}!!!");
        tracing::warn!("!!! Truncating the AOF {name} at offset {valid_up_to} !!!");
        let cut = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(valid_up_to as u64));
        match cut {
            Ok(()) => {
                tracing::warn!("AOF {name} loaded anyway because aof-load-truncated is enabled");
                return Outcome::Truncated;
            }
            Err(e) => tracing::warn!("Error truncating the AOF file {name}: {e}"),
        }
    }
    tracing::warn!("Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.");
    Outcome::Failed
}

/// Runs the commands of `data` from `pos` on, as Redis reads them:
/// `#` annotation lines skipped, `*<argc>` then `$<len>` headers (the
/// two bytes after each argument are not looked at, as in Redis).
fn run_commands(
    server: &Server,
    client: &mut crate::client::Client,
    data: &[u8],
    pos: &mut usize,
    valid_up_to: &mut usize,
    valid_before_multi: &mut usize,
) -> Stop {
    loop {
        let start = *pos;
        let Some(line) = fgets(data, pos) else {
            return Stop::End;
        };
        if line[0] == b'#' {
            continue;
        }
        if line[0] != b'*' {
            return Stop::Format(start);
        }
        if line.len() == 1 {
            return Stop::Short;
        }
        let argc = crate::number::atoi(&line[1..]);
        if argc < 1 {
            return Stop::Format(start);
        }
        // Each argument takes at least its `$` line: a count beyond the
        // data cannot be whole, and must not size an allocation.
        if argc as u64 > (data.len() - *pos) as u64 {
            return Stop::Short;
        }
        let mut args: Vec<&[u8]> = Vec::with_capacity(argc as usize);
        for _ in 0..argc {
            let Some(header) = fgets(data, pos) else {
                return Stop::Short;
            };
            if header[0] != b'$' {
                return Stop::Format(start);
            }
            let len = crate::number::atoi(&header[1..]).max(0) as u64;
            let rest = (data.len() - *pos) as u64;
            if len > rest {
                return Stop::Short;
            }
            let arg = &data[*pos..*pos + len as usize];
            *pos += len as usize;
            if data.len() - *pos < 2 {
                return Stop::Short;
            }
            *pos += 2;
            args.push(arg);
        }
        if server.commands.lookup(&args).is_err() {
            return Stop::Unknown(String::from_utf8_lossy(args[0]).into_owned());
        }
        if args[0].eq_ignore_ascii_case(b"multi") {
            *valid_before_multi = *valid_up_to;
        }
        let reply = crate::commands::execute(server, client, &args);
        crate::commands::error_unread(server, &args, &reply, false);
        crate::util::debug_delay(server.config.key_load_delay());
        *valid_up_to = *pos;
    }
}
