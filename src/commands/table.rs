//! The command table: every command we serve with what Redis says about it.

use std::collections::HashMap;

use super::callstats::CallStats;
use super::meta::{info_name, Catalog};
use super::{registrations, Handler, Locks};
use crate::keyspace::{Keyspace, LockSet};
use crate::number::parse_i64;
use crate::protocol::Reply;

/// Command flags we act on (Redis's `CMD_*`), read from COMMAND INFO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags(u32);

impl Flags {
    pub const WRITE: Flags = Flags(1);
    pub const READONLY: Flags = Flags(1 << 1);
    pub const DENYOOM: Flags = Flags(1 << 2);
    pub const ADMIN: Flags = Flags(1 << 3);
    pub const PUBSUB: Flags = Flags(1 << 4);
    pub const NOSCRIPT: Flags = Flags(1 << 5);
    pub const BLOCKING: Flags = Flags(1 << 6);
    pub const FAST: Flags = Flags(1 << 7);
    pub const NO_AUTH: Flags = Flags(1 << 8);
    pub const NO_MULTI: Flags = Flags(1 << 9);
    pub const SKIP_MONITOR: Flags = Flags(1 << 10);

    fn from_name(name: &[u8]) -> Flags {
        match name {
            b"write" => Flags::WRITE,
            b"readonly" => Flags::READONLY,
            b"denyoom" => Flags::DENYOOM,
            b"admin" => Flags::ADMIN,
            b"pubsub" => Flags::PUBSUB,
            b"noscript" => Flags::NOSCRIPT,
            b"blocking" => Flags::BLOCKING,
            b"fast" => Flags::FAST,
            b"no_auth" => Flags::NO_AUTH,
            b"no_multi" => Flags::NO_MULTI,
            b"skip_monitor" => Flags::SKIP_MONITOR,
            _ => Flags(0),
        }
    }

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Where a key spec starts looking for keys (Redis's `begin_search`).
#[derive(Debug, Clone)]
enum BeginSearch {
    Index(i64),
    Keyword { keyword: Vec<u8>, startfrom: i64 },
}

/// How a key spec finds the keys from there (Redis's `find_keys`).
#[derive(Debug, Clone)]
enum FindKeys {
    Range {
        lastkey: i64,
        keystep: i64,
        limit: i64,
    },
    Keynum {
        keynumidx: i64,
        firstkey: i64,
        keystep: i64,
    },
}

#[derive(Debug, Clone)]
struct KeySpec {
    begin: BeginSearch,
    find: FindKeys,
    /// The spec's flags as COMMAND INFO shows them (RW, access, ...), for
    /// COMMAND GETKEYSANDFLAGS.
    flags: Reply,
}

/// One command (or subcommand) as the dispatcher knows it.
pub struct Command {
    /// Lowercase full name: `get`, `client|setname`.
    pub name: String,
    pub arity: i64,
    pub flags: Flags,
    key_specs: Vec<KeySpec>,
    /// Where the key is when the key specs name exactly one, at a fixed
    /// place (GET, SET, INCR, LPUSH ...: most commands): locking then reads
    /// it without interpreting the specs.
    single_key: Option<usize>,
    pub handler: Handler,
    pub locks: Locks,
    /// This command's COMMAND INFO entry.
    pub info: Reply,
    /// This command's COMMAND DOCS value.
    pub docs: Reply,
    /// INFO commandstats.
    pub stats: CallStats,
}

/// A top-level name: a command, or a container of subcommands (CLIENT, CONFIG).
enum Entry {
    Command(Command),
    Container {
        name: String,
        info: Reply,
        docs: Reply,
        subcommands: HashMap<String, Command>,
        /// What the bare name runs: COMMAND is both a command and a container.
        bare: Option<Command>,
    },
}

/// Command names (lowercase bytes: a request's name needs no UTF-8 check),
/// hashed with foldhash: the map is looked up once per request and never
/// grows from client input, so SipHash's DoS resistance buys nothing.
type Names<V> = HashMap<Vec<u8>, V, foldhash::fast::RandomState>;

pub struct CommandTable {
    entries: Names<Entry>,
}

/// Field `key` of a RESP3 map.
fn field<'r>(map: &'r Reply, key: &str) -> Option<&'r Reply> {
    match map {
        Reply::Map(pairs) => pairs.iter().find_map(|(k, v)| match k {
            Reply::Bulk(b) if &b[..] == key.as_bytes() => Some(v),
            _ => None,
        }),
        _ => None,
    }
}

fn int_field(map: &Reply, key: &str) -> i64 {
    match field(map, key) {
        Some(Reply::Integer(n)) => *n,
        _ => 0,
    }
}

fn items(r: &Reply) -> &[Reply] {
    match r {
        Reply::Array(v) | Reply::Set(v) => v,
        _ => &[],
    }
}

fn parse_key_spec(spec: &Reply) -> Option<KeySpec> {
    let begin = field(spec, "begin_search")?;
    let begin_spec = field(begin, "spec")?;
    let begin = match field(begin, "type") {
        Some(Reply::Bulk(t)) if &t[..] == b"index" => {
            BeginSearch::Index(int_field(begin_spec, "index"))
        }
        Some(Reply::Bulk(t)) if &t[..] == b"keyword" => BeginSearch::Keyword {
            keyword: match field(begin_spec, "keyword") {
                Some(Reply::Bulk(k)) => k.to_vec(),
                _ => return None,
            },
            startfrom: int_field(begin_spec, "startfrom"),
        },
        _ => return None,
    };
    let find = field(spec, "find_keys")?;
    let find_spec = field(find, "spec")?;
    let find = match field(find, "type") {
        Some(Reply::Bulk(t)) if &t[..] == b"range" => FindKeys::Range {
            lastkey: int_field(find_spec, "lastkey"),
            keystep: int_field(find_spec, "keystep"),
            limit: int_field(find_spec, "limit"),
        },
        Some(Reply::Bulk(t)) if &t[..] == b"keynum" => FindKeys::Keynum {
            keynumidx: int_field(find_spec, "keynumidx"),
            firstkey: int_field(find_spec, "firstkey"),
            keystep: int_field(find_spec, "keystep"),
        },
        _ => return None,
    };
    let flags = field(spec, "flags")
        .cloned()
        .unwrap_or(Reply::Set(Vec::new()));
    Some(KeySpec { begin, find, flags })
}

impl Command {
    fn from_info(info: Reply, docs: Reply, handler: Handler, locks: Locks) -> Option<Command> {
        let name = info_name(&info)?;
        let fields = items(&info);
        let arity = match fields.get(1) {
            Some(Reply::Integer(n)) => *n,
            _ => return None,
        };
        let flags = items(fields.get(2)?)
            .iter()
            .fold(Flags(0), |acc, f| match f {
                Reply::Simple(name) => Flags(acc.0 | Flags::from_name(name).0),
                _ => acc,
            });
        let key_specs: Vec<KeySpec> = fields
            .get(8)
            .map(|specs| items(specs).iter().filter_map(parse_key_spec).collect())
            .unwrap_or_default();
        let single_key = match &key_specs[..] {
            [KeySpec {
                begin: BeginSearch::Index(i),
                find: FindKeys::Range { lastkey: 0, .. },
                ..
            }] => usize::try_from(*i).ok(),
            _ => None,
        };
        Some(Command {
            name,
            arity,
            flags,
            key_specs,
            single_key,
            handler,
            locks,
            info,
            docs,
            stats: CallStats::default(),
        })
    }

    /// Whether any key spec names keys (COMMAND GETKEYS's "has no key arguments").
    pub fn has_keys(&self) -> bool {
        !self.key_specs.is_empty()
    }

    /// Redis's arity: exact when positive, a minimum when negative.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    /// Positions of the keys in `args`, from the key specs, as Redis's
    /// `getKeysUsingKeySpecs` finds them (COMMAND GETKEYS), each with its key
    /// spec's flags (COMMAND GETKEYSANDFLAGS). None when a spec does not fit
    /// the arguments (a numkeys beyond the end, a missing keyword).
    pub fn keys_and_flags(&self, args: &[&[u8]]) -> Option<Vec<(usize, &Reply)>> {
        let mut found = Vec::new();
        self.for_each_key_position(args, false, |i, flags| found.push((i, flags)))
            .then_some(found)
    }

    /// The key positions without collecting them: locking calls this once
    /// per command, so it allocates nothing. A spec that does not fit is
    /// skipped when `partial` (what locking needs: the handler reports the
    /// error itself); otherwise the answer is false (positions already
    /// passed to `f` stand).
    fn for_each_key_position<'s>(
        &'s self,
        args: &[&[u8]],
        partial: bool,
        mut f: impl FnMut(usize, &'s Reply),
    ) -> bool {
        let argc = args.len() as i64;
        for spec in &self.key_specs {
            match spec_range(spec, args) {
                Some((first, last, step)) if last < argc && first <= last && first < argc => {
                    let mut i = first;
                    while i <= last {
                        f(i as usize, &spec.flags);
                        i += step;
                    }
                }
                _ if partial => continue,
                _ => return false,
            }
        }
        true
    }

    /// The shards this command must lock for `args` run in database `db`,
    /// with the keys' hashes for the command's lookups: `args` must outlive
    /// the [`crate::keyspace::Guard`] taken with it (see `LockSet::add_arg_key`).
    pub fn lock_set(&self, keyspace: &Keyspace, db: usize, args: &[&[u8]]) -> LockSet {
        let mut set = LockSet::new();
        match self.locks {
            Locks::Keys => match self.single_key {
                Some(i) => {
                    if let Some(key) = args.get(i) {
                        set.add_arg_key(keyspace, db, key);
                    }
                }
                None => {
                    self.for_each_key_position(args, true, |i, _| {
                        set.add_arg_key(keyspace, db, args[i])
                    });
                }
            },
            Locks::Db => set.add_db(db),
            Locks::All => set.add_all(keyspace),
            Locks::Custom(f) => f(keyspace, db, args, &mut set),
            // The dispatcher asks the client's queue (`tx::queued_locks`).
            Locks::Queued => {}
        }
        set
    }
}

/// First, last and step of the keys one key spec names in `args` (Redis's
/// `getKeysUsingKeySpecs`), or None when the spec finds nothing (keyword
/// absent, numkeys not a number or negative).
fn spec_range(spec: &KeySpec, args: &[&[u8]]) -> Option<(i64, i64, i64)> {
    let argc = args.len() as i64;
    let first = match &spec.begin {
        BeginSearch::Index(i) => *i,
        BeginSearch::Keyword { keyword, startfrom } => {
            let matches =
                |i: &i64| c_string(args[*i as usize], usize::MAX).eq_ignore_ascii_case(keyword);
            let found = if *startfrom >= 0 {
                (*startfrom..argc).find(matches)
            } else {
                (1..=argc + startfrom).rev().find(matches)
            };
            found? + 1
        }
    };
    match spec.find {
        FindKeys::Range {
            lastkey,
            keystep,
            limit,
        } => {
            let last = if lastkey >= 0 {
                first + lastkey
            } else if limit == 0 {
                argc + lastkey
            } else {
                first + ((argc - first) / limit + lastkey)
            };
            Some((first, last, keystep.max(1)))
        }
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => {
            let numkeys = args
                .get(usize::try_from(first + keynumidx).ok()?)
                .and_then(|a| parse_i64(a))
                .filter(|n| *n >= 0)?;
            let first = first + firstkey;
            // Redis casts numkeys to int; a client's huge number must not overflow.
            Some((first, first.saturating_add(numkeys) - 1, keystep.max(1)))
        }
    }
}

/// Keeps only the subcommands we implement in a container's INFO entry
/// (element 9) or DOCS map (field `subcommands`).
fn filter_subcommands(container: &mut Reply, keep: &HashMap<String, Command>) {
    match container {
        Reply::Array(fields) => {
            if let Some(Reply::Array(subs)) = fields.get_mut(9) {
                subs.retain(|s| info_name(s).is_some_and(|n| keep.contains_key(&n)));
            }
        }
        Reply::Map(fields) => {
            for (k, v) in fields.iter_mut() {
                if matches!(k, Reply::Bulk(b) if &b[..] == b"subcommands") {
                    if let Reply::Map(subs) = v {
                        subs.retain(|(name, _)| match name {
                            Reply::Bulk(n) => {
                                keep.contains_key(&String::from_utf8_lossy(n).to_lowercase())
                            }
                            _ => false,
                        });
                    }
                }
            }
        }
        _ => {}
    }
}

impl CommandTable {
    /// Joins the family modules' handlers with Redis's metadata. A registration
    /// without metadata is skipped with an error log (the tests catch it).
    pub fn build() -> CommandTable {
        let mut catalog = Catalog::load();
        let mut entries: Names<Entry> = Names::default();
        let mut subcommands: HashMap<String, HashMap<String, Command>> = HashMap::new();
        for reg in registrations() {
            let name = reg.name.to_string();
            let (Some(info), docs) = (subcommand_info(&catalog, &name), catalog.docs_of(&name))
            else {
                tracing::error!("no metadata for command '{name}'");
                continue;
            };
            let Some(command) = Command::from_info(info, docs, reg.handler, reg.locks) else {
                tracing::error!("bad metadata for command '{name}'");
                continue;
            };
            match name.split_once('|') {
                Some((parent, _)) => {
                    subcommands
                        .entry(parent.to_string())
                        .or_default()
                        .insert(name, command);
                }
                None => {
                    entries.insert(name.into_bytes(), Entry::Command(command));
                }
            }
        }
        for (parent, subs) in subcommands {
            let mut info = catalog.info.remove(&parent).unwrap_or(Reply::Null);
            let mut docs = catalog.docs.remove(&parent).unwrap_or(Reply::Null);
            filter_subcommands(&mut info, &subs);
            filter_subcommands(&mut docs, &subs);
            let bare = match entries.remove(parent.as_bytes()) {
                Some(Entry::Command(command)) => Some(command),
                _ => None,
            };
            entries.insert(
                parent.clone().into_bytes(),
                Entry::Container {
                    name: parent,
                    info,
                    docs,
                    subcommands: subs,
                    bare,
                },
            );
        }
        CommandTable { entries }
    }

    /// Finds the command `args` names, or the error Redis gives for it.
    pub fn lookup(&self, args: &[&[u8]]) -> Result<&Command, Reply> {
        // Lowercase into a stack buffer: no allocation per request.
        let mut buf = [0u8; 32];
        let raw = &args[0];
        let name: &[u8] = match buf.get_mut(..raw.len()) {
            Some(slot) => {
                // Byte by byte: a name is a few bytes, less than a memcpy call costs.
                for (to, from) in slot.iter_mut().zip(raw.iter()) {
                    *to = from.to_ascii_lowercase();
                }
                slot
            }
            None => b"",
        };
        match self.entries.get(name) {
            Some(Entry::Command(cmd)) => Ok(cmd),
            Some(Entry::Container {
                name,
                subcommands,
                bare,
                ..
            }) => {
                let Some(sub) = args.get(1) else {
                    return bare.as_ref().ok_or_else(|| {
                        Reply::error_owned(format!(
                            "ERR wrong number of arguments for '{name}' command"
                        ))
                    });
                };
                let full = format!(
                    "{name}|{}",
                    String::from_utf8_lossy(sub).to_ascii_lowercase()
                );
                subcommands.get(&full).ok_or_else(|| {
                    let mut text = b"ERR unknown subcommand '".to_vec();
                    text.extend_from_slice(c_string(sub, 128));
                    text.extend_from_slice(
                        format!("'. Try {} HELP.", name.to_uppercase()).as_bytes(),
                    );
                    Reply::error_owned(text)
                })
            }
            None => Err(unknown_command(args)),
        }
    }

    /// Every command and subcommand, for COMMAND and COMMAND COUNT.
    pub fn top_level(&self) -> impl Iterator<Item = (&str, &Reply, &Reply)> {
        self.entries.values().map(|e| match e {
            Entry::Command(c) => (c.name.as_str(), &c.info, &c.docs),
            Entry::Container {
                name, info, docs, ..
            } => (name.as_str(), info, docs),
        })
    }

    /// Every command and subcommand (INFO commandstats, CONFIG RESETSTAT).
    pub fn all(&self) -> impl Iterator<Item = &Command> {
        self.entries
            .values()
            .flat_map(|e| -> Box<dyn Iterator<Item = &Command> + '_> {
                match e {
                    Entry::Command(c) => Box::new(std::iter::once(c)),
                    Entry::Container {
                        subcommands, bare, ..
                    } => Box::new(bare.iter().chain(subcommands.values())),
                }
            })
    }

    /// A command or container by name (COMMAND INFO / DOCS).
    pub fn find(&self, name: &str) -> Option<(&Reply, &Reply)> {
        let name = name.to_lowercase();
        match name.split_once('|') {
            Some((parent, _)) => match self.entries.get(parent.as_bytes()) {
                Some(Entry::Container { subcommands, .. }) => {
                    subcommands.get(&name).map(|c| (&c.info, &c.docs))
                }
                _ => None,
            },
            None => match self.entries.get(name.as_bytes())? {
                Entry::Command(c) => Some((&c.info, &c.docs)),
                Entry::Container { info, docs, .. } => Some((info, docs)),
            },
        }
    }

    /// Number of top-level commands (COMMAND COUNT).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Catalog {
    fn docs_of(&self, name: &str) -> Reply {
        match name.split_once('|') {
            None => self.docs.get(name).cloned(),
            Some((parent, _)) => self
                .docs
                .get(parent)
                .and_then(|d| field(d, "subcommands"))
                .and_then(|subs| field(subs, name))
                .cloned(),
        }
        .unwrap_or(Reply::Map(Vec::new()))
    }
}

/// The INFO entry of a command, or of a subcommand inside its container's entry.
fn subcommand_info(catalog: &Catalog, name: &str) -> Option<Reply> {
    match name.split_once('|') {
        None => catalog.info.get(name).cloned(),
        Some((parent, _)) => {
            let parent = catalog.info.get(parent)?;
            items(items(parent).get(9)?)
                .iter()
                .find(|s| info_name(s).as_deref() == Some(name))
                .cloned()
        }
    }
}

/// C's `%.Ns` of a Redis string: stops at a NUL byte and after `max` bytes.
pub fn c_string(s: &[u8], max: usize) -> &[u8] {
    let end = memchr::memchr(0, s).unwrap_or(s.len()).min(max);
    &s[..end]
}

/// Redis 7's unknown-command error, quoting the first arguments.
fn unknown_command(args: &[&[u8]]) -> Reply {
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(c_string(args[0], 128));
    text.extend_from_slice(b"', with args beginning with: ");
    let mut quoted = Vec::new();
    for arg in &args[1..] {
        if quoted.len() >= 128 {
            break;
        }
        quoted.push(b'\'');
        quoted.extend_from_slice(c_string(arg, 128 - quoted.len() + 1));
        quoted.extend_from_slice(b"' ");
    }
    text.extend_from_slice(&quoted);
    Reply::error_owned(text)
}
