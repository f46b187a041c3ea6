//! The command table: every command we serve with what Redis says about it.

use std::collections::HashMap;

use super::callstats::CallStats;
use super::meta::{info_name, BuiltIn, Catalog, Packed};
use super::{registrations, Handler, Locks, Registration};
use crate::keyspace::{Keyspace, LockSet};
use crate::number::parse_i64;
use crate::protocol::Reply;

/// Defines a set of Redis's named bits (`CMD_*`, `ACL_CATEGORY_*`,
/// `CMD_KEY_*`): the constants, at Redis's bit positions (so code ported from
/// Redis reads the same), and the name Redis's replies use for each, in the
/// order it prints them. One definition for all three, so parsing and
/// printing cannot differ between them.
macro_rules! named_bits {
    ($(#[$doc:meta])* $set:ident { $($(#[$bdoc:meta])* $bit:ident = $pos:expr, $text:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $set(u64);

        impl $set {
            $($(#[$bdoc])* pub const $bit: $set = $set(1 << $pos);)*

            /// Every bit with its name, in Redis's order.
            const NAMES: &'static [($set, &'static str)] = &[$(($set::$bit, $text)),*];

            /// The bit Redis calls `name` (exactly, as its replies spell it).
            pub fn from_name(name: &[u8]) -> Option<$set> {
                Self::NAMES
                    .iter()
                    .find(|(_, n)| n.as_bytes() == name)
                    .map(|(bit, _)| *bit)
            }

            /// Every bit and its name, in Redis's order.
            pub fn all() -> impl Iterator<Item = ($set, &'static str)> {
                Self::NAMES.iter().copied()
            }

            /// The union of two sets of bits.
            pub const fn or(self, other: $set) -> $set {
                $set(self.0 | other.0)
            }

            /// The names of the bits set, in Redis's order.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                Self::NAMES
                    .iter()
                    .filter(move |(bit, _)| self.contains(*bit))
                    .map(|(_, name)| *name)
            }

            /// Whether every bit of `other` is set.
            pub fn contains(self, other: $set) -> bool {
                self.0 & other.0 == other.0
            }

            /// Whether any bit of `other` is set.
            pub fn intersects(self, other: $set) -> bool {
                self.0 & other.0 != 0
            }

            pub fn with(self, other: $set) -> $set {
                $set(self.0 | other.0)
            }

            /// These bits without the bits of `other`.
            pub fn without(self, other: $set) -> $set {
                $set(self.0 & !other.0)
            }
        }
    };
}

named_bits! {
    /// Command flags (Redis 7.0's `CMD_*`, server.h), from COMMAND INFO plus
    /// the ones Redis hides there (`may_replicate`, `sentinel`,
    /// `only_sentinel`, `protected`, `touches_arbitrary_keys`: see
    /// `tools/hidden_command_flags.py`). The `module*` bits are never set
    /// (reddish has no modules); they are here so every name Redis may print
    /// is known and any other fails start-up.
    Flags {
        WRITE = 0, "write";
        READONLY = 1, "readonly";
        DENYOOM = 2, "denyoom";
        MODULE = 3, "module";
        ADMIN = 4, "admin";
        PUBSUB = 5, "pubsub";
        NOSCRIPT = 6, "noscript";
        BLOCKING = 8, "blocking";
        LOADING = 9, "loading";
        STALE = 10, "stale";
        SKIP_MONITOR = 11, "skip_monitor";
        SKIP_SLOWLOG = 12, "skip_slowlog";
        ASKING = 13, "asking";
        FAST = 14, "fast";
        NO_AUTH = 15, "no_auth";
        MAY_REPLICATE = 16, "may_replicate";
        SENTINEL = 17, "sentinel";
        ONLY_SENTINEL = 18, "only_sentinel";
        NO_MANDATORY_KEYS = 19, "no_mandatory_keys";
        PROTECTED = 20, "protected";
        MODULE_GETKEYS = 21, "module_getkeys";
        MODULE_NO_CLUSTER = 22, "module_no_cluster";
        NO_ASYNC_LOADING = 23, "no_async_loading";
        NO_MULTI = 24, "no_multi";
        /// Redis computes it from the key specs (`populateCommandLegacyRangeSpec`):
        /// the legacy first/last/step of COMMAND INFO do not cover every key.
        MOVABLE_KEYS = 25, "movablekeys";
        ALLOW_BUSY = 26, "allow_busy";
        MODULE_GETCHANNELS = 27, "module_getchannels";
        TOUCHES_ARBITRARY_KEYS = 28, "touches_arbitrary_keys";
    }
}

named_bits! {
    /// ACL categories (Redis 7.0's `ACL_CATEGORY_*`), from COMMAND INFO,
    /// where each is written with an `@`. COMMAND LIST FILTERBY ACLCAT
    /// selects by them; ACL users will.
    AclCategories {
        KEYSPACE = 0, "keyspace";
        READ = 1, "read";
        WRITE = 2, "write";
        SET = 3, "set";
        SORTEDSET = 4, "sortedset";
        LIST = 5, "list";
        HASH = 6, "hash";
        STRING = 7, "string";
        BITMAP = 8, "bitmap";
        HYPERLOGLOG = 9, "hyperloglog";
        GEO = 10, "geo";
        STREAM = 11, "stream";
        PUBSUB = 12, "pubsub";
        ADMIN = 13, "admin";
        FAST = 14, "fast";
        SLOW = 15, "slow";
        BLOCKING = 16, "blocking";
        DANGEROUS = 17, "dangerous";
        CONNECTION = 18, "connection";
        TRANSACTION = 19, "transaction";
        SCRIPTING = 20, "scripting";
    }
}

named_bits! {
    /// Key-spec flags (Redis 7.0's `CMD_KEY_*`): how a command uses the keys a
    /// spec finds (COMMAND GETKEYSANDFLAGS prints them), and whether the spec
    /// can be trusted to find them all (`incomplete`, `variable_flags`) or
    /// names something that is not a key at all (`not_key`: a shard channel).
    KeyFlags {
        RO = 0, "RO";
        RW = 1, "RW";
        OW = 2, "OW";
        RM = 3, "RM";
        ACCESS = 4, "access";
        UPDATE = 5, "update";
        INSERT = 6, "insert";
        DELETE = 7, "delete";
        NOT_KEY = 8, "not_key";
        INCOMPLETE = 9, "incomplete";
        VARIABLE_FLAGS = 10, "variable_flags";
    }
}

impl KeyFlags {
    /// The flags as Redis's `addReplyFlagsForKeyArgs` writes them: a set of
    /// simple strings.
    pub fn to_reply(self) -> Reply {
        Reply::Set(self.names().map(Reply::simple).collect())
    }
}

/// Parses a list of flag names from a COMMAND INFO entry into `T`'s bits;
/// a name `T` does not know is an error naming it (Redis grew a flag we do
/// not know about: start-up must fail, not drop it).
fn parse_bits<T: Copy + Default>(
    list: Option<&Reply>,
    what: &str,
    strip: &[u8],
    from_name: fn(&[u8]) -> Option<T>,
    with: fn(T, T) -> T,
) -> Result<T, String> {
    let Some(Reply::Array(names) | Reply::Set(names)) = list else {
        return Err(format!("{what} are not a list"));
    };
    names.iter().try_fold(T::default(), |acc, name| {
        let bit = match name {
            Reply::Simple(text) => text.strip_prefix(strip).and_then(from_name),
            _ => None,
        };
        bit.map(|b| with(acc, b))
            .ok_or_else(|| format!("unknown {what} entry {name:?}"))
    })
}

/// Where a key spec starts looking for keys (Redis's `begin_search`).
#[derive(Debug, Clone)]
enum BeginSearch {
    Index(i64),
    Keyword {
        keyword: Vec<u8>,
        startfrom: i64,
    },
    /// Redis's `KSPEC_BS_UNKNOWN` (SORT's BY/GET keys): the command's getkeys
    /// procedure must find them.
    Unknown,
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
    /// Redis's `KSPEC_FK_UNKNOWN`.
    Unknown,
}

#[derive(Debug, Clone)]
struct KeySpec {
    begin: BeginSearch,
    find: FindKeys,
    flags: KeyFlags,
}

/// How Redis finds the keys of a command when its key specs cannot
/// (a spec that is `incomplete` or has `variable_flags`, or arguments the
/// specs reject): the command's `getkeys_proc` in Redis's commands.c, which
/// COMMAND INFO does not show. Only the ones of commands we implement are
/// ported; [`getkeys_proc`] says which command has which.
#[derive(Debug, Clone, Copy)]
enum GetKeys {
    /// Redis's `genericGetKeys(storeKeyOfs, keyCountOfs, firstKeyOfs, keyStep)`:
    /// a count of keys, the keys, and a destination key (when `store` is not
    /// 0) listed after them, as Redis lists it.
    Generic {
        store: usize,
        count: usize,
        first: usize,
        step: usize,
    },
    /// Redis's `setGetKeys`: SET's key is read as well only with GET.
    Set,
    /// Redis's `bitfieldGetKeys`: the key is only read while the operations
    /// read as GETs and OVERFLOWs; a SET, an INCRBY or anything it cannot
    /// parse makes it a read-write key.
    Bitfield,
    /// Redis's `migrateGetKeys` ([`super::migrate::key_range`]).
    Migrate,
    /// Redis's `sortGetKeys`: the key, and the last STORE's key. It skips
    /// LIMIT's two arguments and BY's and GET's one, but not STORE's.
    Sort,
    /// Redis's `sortROGetKeys`: just the key.
    SortRo,
}

/// The `getkeys_proc` Redis 7.0's command table (commands.c) gives `name`.
/// A name list because Redis's is one: these procedures are code, not
/// metadata COMMAND INFO could carry.
fn getkeys_proc(name: &str) -> Option<GetKeys> {
    let generic = |store, count, first| GetKeys::Generic {
        store,
        count,
        first,
        step: 1,
    };
    Some(match name {
        "set" => GetKeys::Set,
        "bitfield" => GetKeys::Bitfield,
        "migrate" => GetKeys::Migrate,
        "sort" => GetKeys::Sort,
        "sort_ro" => GetKeys::SortRo,
        "sintercard" | "lmpop" | "zmpop" | "zunion" | "zinter" | "zintercard" | "zdiff" => {
            generic(0, 1, 2)
        }
        "zunionstore" | "zinterstore" | "zdiffstore" => generic(1, 2, 3),
        "blmpop" | "bzmpop" | "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall"
        | "fcall_ro" => generic(0, 2, 3),
        _ => return None,
    })
}

impl GetKeys {
    /// The key positions and flags in `args`; none when the command will
    /// answer with an error anyway. Collected into any container, so the
    /// ACL check can keep them on the stack.
    fn keys<C: FromIterator<(usize, KeyFlags)>>(self, args: &[&[u8]]) -> C {
        match self {
            GetKeys::Generic {
                store,
                count,
                first,
                step,
            } => {
                let num = args.get(count).map_or(0, |a| c_atoi(a));
                let room = args.len().saturating_sub(first) / step;
                let Some(num) = usize::try_from(num).ok().filter(|n| (1..=room).contains(n)) else {
                    return std::iter::empty().collect();
                };
                // Redis's generic procedure gives its keys no flags.
                (0..num)
                    .map(|i| first + i * step)
                    .chain((store != 0).then_some(store))
                    .map(|i| (i, KeyFlags::default()))
                    .collect()
            }
            GetKeys::Set => {
                let get = args
                    .iter()
                    .skip(3)
                    .any(|a| c_string(a, usize::MAX).eq_ignore_ascii_case(b"get"));
                let flags = if get {
                    KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE)
                } else {
                    KeyFlags::OW.with(KeyFlags::UPDATE)
                };
                std::iter::once((1, flags)).collect()
            }
            GetKeys::Migrate => super::migrate::key_range(args)
                .map(|i| {
                    let flags = KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::DELETE);
                    (i, flags)
                })
                .collect(),
            GetKeys::Bitfield => {
                let op = |a: &[u8], word: &str| {
                    c_string(a, usize::MAX).eq_ignore_ascii_case(word.as_bytes())
                };
                let mut readonly = true;
                let mut i = 2;
                while i < args.len() {
                    // Arguments left after this one.
                    let rest = args.len() - i - 1;
                    let arg = args[i];
                    if op(arg, "get") && rest >= 2 {
                        i += 2;
                    } else if (op(arg, "set") || op(arg, "incrby")) && rest >= 3 {
                        readonly = false;
                        break;
                    } else if op(arg, "overflow") && rest >= 1 {
                        i += 1;
                    } else {
                        // A syntax error: Redis assumes a write, to be safe.
                        readonly = false;
                        break;
                    }
                    i += 1;
                }
                let flags = if readonly {
                    KeyFlags::RO.with(KeyFlags::ACCESS)
                } else {
                    KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE)
                };
                std::iter::once((1, flags)).collect()
            }
            GetKeys::SortRo => std::iter::once((1, KeyFlags::RO.with(KeyFlags::ACCESS))).collect(),
            GetKeys::Sort => {
                let mut store = None;
                let mut i = 2;
                while i < args.len() {
                    let word = c_string(args[i], usize::MAX);
                    if word.eq_ignore_ascii_case(b"limit") {
                        i += 2;
                    } else if word.eq_ignore_ascii_case(b"get") || word.eq_ignore_ascii_case(b"by")
                    {
                        i += 1;
                    } else if word.eq_ignore_ascii_case(b"store") && i + 1 < args.len() {
                        store = Some(i + 1);
                    }
                    i += 1;
                }
                let store = store.map(|pos| (pos, KeyFlags::OW.with(KeyFlags::UPDATE)));
                std::iter::once((1, KeyFlags::RO.with(KeyFlags::ACCESS)))
                    .chain(store)
                    .collect()
            }
        }
    }
}

/// C's `atoi` (what Redis's `genericGetKeys` reads the key count with):
/// leading blanks, a sign, digits up to the first other byte; a number past
/// `long` saturates, and the `long` is cut to an `int`.
fn c_atoi(s: &[u8]) -> i64 {
    let s = c_string(s, usize::MAX);
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .unwrap_or(s.len());
    let s = &s[start..];
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for d in digits.iter().take_while(|b| b.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        n = match n.checked_mul(10).and_then(|n| {
            if negative {
                n.checked_sub(d)
            } else {
                n.checked_add(d)
            }
        }) {
            Some(n) => n,
            None if negative => i64::MIN,
            None => i64::MAX,
        };
        if n == i64::MIN || n == i64::MAX {
            break;
        }
    }
    i64::from(n as i32)
}

/// One command (or subcommand) as the dispatcher knows it.
pub struct Command {
    /// Lowercase full name: `get`, `client|setname`.
    pub name: String,
    pub arity: i64,
    pub flags: Flags,
    pub acl_categories: AclCategories,
    key_specs: Vec<KeySpec>,
    /// Where the key is when the key specs name exactly one, at a fixed
    /// place (GET, SET, INCR, LPUSH ...: most commands): locking then reads
    /// it without interpreting the specs.
    single_key: Option<usize>,
    /// Redis's `getkeys_proc`, for COMMAND GETKEYS when the specs cannot answer.
    getkeys: Option<GetKeys>,
    pub handler: Handler,
    pub locks: Locks,
    /// This command's bit in an ACL user's command bitmap (`acl.rs`); a bare
    /// container (COMMAND) shares its container's.
    pub acl_id: usize,
    /// A subcommand (`client|kill`): an ACL first-arg is then `args[2]`.
    pub is_subcommand: bool,
    /// This command's COMMAND INFO entry.
    pub info: Packed,
    /// This command's COMMAND DOCS value.
    pub docs: Packed,
    /// INFO commandstats.
    pub stats: CallStats,
}

/// A top-level name: a command, or a container of subcommands (CLIENT, CONFIG).
enum Entry {
    Command(Command),
    Container {
        name: String,
        /// The container's own categories (COMMAND LIST FILTERBY ACLCAT lists
        /// CLIENT under `@slow`, as Redis does).
        acl_categories: AclCategories,
        info: Packed,
        docs: Packed,
        subcommands: HashMap<String, Command>,
        /// What the bare name runs: COMMAND is both a command and a container.
        /// Boxed, as few containers have one, so that a container is no
        /// bigger than a command in the table.
        bare: Option<Box<Command>>,
    },
}

impl Entry {
    /// Name, COMMAND INFO entry and COMMAND DOCS value.
    fn described(&self) -> (&str, &Packed, &Packed) {
        match self {
            Entry::Command(c) => (&c.name, &c.info, &c.docs),
            Entry::Container {
                name, info, docs, ..
            } => (name, info, docs),
        }
    }
}

/// Command names (lowercase bytes: a request's name needs no UTF-8 check),
/// hashed with foldhash: the map is looked up once per request and never
/// grows from client input, so SipHash's DoS resistance buys nothing.
type Names<V> = HashMap<Vec<u8>, V, foldhash::fast::RandomState>;

pub struct CommandTable {
    entries: Names<Entry>,
    /// Every command, container and subcommand in ACL id order.
    acl: Vec<AclEntry>,
}

/// What ACL rules see of a command, a container or a subcommand (Redis's
/// `server.orig_commands` with its `subcommands_dict`s): its id is its index
/// in [`CommandTable::acl_entries`].
pub struct AclEntry {
    /// Full name: `get`, `client`, `client|kill`.
    pub name: String,
    pub categories: AclCategories,
    /// A container's subcommands' ids.
    pub subcommands: Vec<usize>,
    pub is_subcommand: bool,
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

/// Integer field `key` of a key spec's map.
fn int_field(map: &Reply, key: &str) -> Result<i64, String> {
    match field(map, key) {
        Some(Reply::Integer(n)) => Ok(*n),
        _ => Err(format!("key spec without integer '{key}'")),
    }
}

/// The `type` and `spec` of a key spec's `begin_search` or `find_keys`.
fn typed_part<'r>(spec: &'r Reply, part: &str) -> Result<(&'r [u8], &'r Reply), String> {
    let part_map = field(spec, part).ok_or_else(|| format!("key spec without {part}"))?;
    match (field(part_map, "type"), field(part_map, "spec")) {
        (Some(Reply::Bulk(t)), Some(inner)) => Ok((t, inner)),
        _ => Err(format!("key spec with a malformed {part}")),
    }
}

fn items(r: &Reply) -> &[Reply] {
    match r {
        Reply::Array(v) | Reply::Set(v) => v,
        _ => &[],
    }
}

fn parse_key_spec(spec: &Reply) -> Result<KeySpec, String> {
    let (kind, begin_spec) = typed_part(spec, "begin_search")?;
    let begin = match kind {
        b"index" => BeginSearch::Index(int_field(begin_spec, "index")?),
        b"keyword" => BeginSearch::Keyword {
            keyword: match field(begin_spec, "keyword") {
                Some(Reply::Bulk(k)) => k.to_vec(),
                _ => return Err("keyword key spec without a keyword".into()),
            },
            startfrom: int_field(begin_spec, "startfrom")?,
        },
        b"unknown" => BeginSearch::Unknown,
        other => {
            return Err(format!(
                "unknown begin_search type {:?}",
                String::from_utf8_lossy(other)
            ))
        }
    };
    let (kind, find_spec) = typed_part(spec, "find_keys")?;
    let find = match kind {
        b"range" => FindKeys::Range {
            lastkey: int_field(find_spec, "lastkey")?,
            keystep: int_field(find_spec, "keystep")?,
            limit: int_field(find_spec, "limit")?,
        },
        b"keynum" => FindKeys::Keynum {
            keynumidx: int_field(find_spec, "keynumidx")?,
            firstkey: int_field(find_spec, "firstkey")?,
            keystep: int_field(find_spec, "keystep")?,
        },
        b"unknown" => FindKeys::Unknown,
        other => {
            return Err(format!(
                "unknown find_keys type {:?}",
                String::from_utf8_lossy(other)
            ))
        }
    };
    let flags = parse_bits(
        field(spec, "flags"),
        "key spec flags",
        b"",
        KeyFlags::from_name,
        KeyFlags::with,
    )?;
    Ok(KeySpec { begin, find, flags })
}

/// Name, arity, flags and ACL categories of a COMMAND INFO entry (a
/// command's or a container's), with the flags Redis hides there (`hidden`,
/// a set of names) added.
fn parse_header(
    info: &Reply,
    hidden: Option<&Reply>,
) -> Result<(i64, Flags, AclCategories), String> {
    let fields = items(info);
    let arity = match fields.get(1) {
        Some(Reply::Integer(n)) => *n,
        _ => return Err("no arity".into()),
    };
    let flags = parse_bits(fields.get(2), "flags", b"", Flags::from_name, Flags::with)?;
    let flags = match hidden {
        Some(hidden) => flags.with(parse_bits(
            Some(hidden),
            "hidden flags",
            b"",
            Flags::from_name,
            Flags::with,
        )?),
        None => flags,
    };
    let acl = parse_bits(
        fields.get(6),
        "ACL categories",
        b"@",
        AclCategories::from_name,
        AclCategories::with,
    )?;
    Ok((arity, flags, acl))
}

impl Command {
    /// The command `info` describes, or what is wrong with the description.
    fn from_info(
        info: Reply,
        hidden: Option<&Reply>,
        docs: Reply,
        handler: Handler,
        locks: Locks,
        built_in: &BuiltIn,
    ) -> Result<Command, String> {
        let name = info_name(&info).ok_or("no name")?;
        let name_has_parent = name.contains('|');
        let (arity, flags, acl_categories) = parse_header(&info, hidden)?;
        let key_specs = items(items(&info).get(8).ok_or("no key specs")?)
            .iter()
            .map(parse_key_spec)
            .collect::<Result<Vec<_>, _>>()?;
        let getkeys = getkeys_proc(&name);
        // Redis falls back on the command's own procedure for these specs.
        let needs_getkeys = key_specs.iter().any(|s| {
            s.flags
                .intersects(KeyFlags::INCOMPLETE.with(KeyFlags::VARIABLE_FLAGS))
                || matches!(s.begin, BeginSearch::Unknown)
                || matches!(s.find, FindKeys::Unknown)
        });
        if needs_getkeys && getkeys.is_none() {
            return Err("its key specs need a getkeys procedure, and none is ported".into());
        }
        let single_key = match &key_specs[..] {
            [KeySpec {
                begin: BeginSearch::Index(i),
                find: FindKeys::Range { lastkey: 0, .. },
                flags,
            }] if !flags.intersects(KeyFlags::NOT_KEY.with(KeyFlags::INCOMPLETE)) => {
                usize::try_from(*i).ok()
            }
            _ => None,
        };
        Ok(Command {
            name,
            arity,
            flags,
            acl_categories,
            key_specs,
            single_key,
            getkeys,
            handler,
            locks,
            acl_id: 0,
            is_subcommand: name_has_parent,
            info: Packed::new(&info, built_in),
            docs: Packed::new(&docs, built_in),
            stats: CallStats::default(),
        })
    }

    /// Redis's `doesCommandHaveKeys`: a getkeys procedure, or a key spec
    /// naming real keys (COMMAND GETKEYS's "has no key arguments").
    pub fn has_keys(&self) -> bool {
        self.getkeys.is_some() || self.has_keys_in_specs()
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

    /// Positions of the keys in `args` with their flags, as Redis's
    /// `getKeysFromCommandWithSpecs` finds them for COMMAND GETKEYS and
    /// GETKEYSANDFLAGS: from the key specs when they are reliable and fit the
    /// arguments, otherwise from the command's getkeys procedure. Empty when
    /// neither finds a key.
    pub fn keys_and_flags(&self, args: &[&[u8]]) -> Vec<(usize, KeyFlags)> {
        self.keys_into(args)
    }

    /// [`Command::keys_and_flags`] into any container (a `Vec`, or a
    /// `SmallVec` that stays on the stack for the ACL check).
    fn keys_into<C>(&self, args: &[&[u8]]) -> C
    where
        C: Default + Extend<(usize, KeyFlags)> + FromIterator<(usize, KeyFlags)>,
    {
        let has_keyspec = self.has_keys_in_specs();
        let has_varflags = self
            .key_specs
            .iter()
            .any(|s| s.flags.contains(KeyFlags::VARIABLE_FLAGS));
        if has_keyspec && !has_varflags {
            let mut found = C::default();
            if self.for_each_key_position(args, false, |i, flags| found.extend([(i, flags)])) {
                return found;
            }
        }
        self.getkeys.map(|g| g.keys(args)).unwrap_or_default()
    }

    /// Calls `f` with each key position and its flags, as
    /// [`Command::keys_and_flags`] finds them (Redis's ACL check uses
    /// `getKeysFromCommandWithSpecs` too), without allocating unless a
    /// command names more than eight keys.
    pub fn for_each_key(&self, args: &[&[u8]], mut f: impl FnMut(usize, KeyFlags)) {
        if let (Some(i), [spec], None) = (self.single_key, &self.key_specs[..], self.getkeys) {
            if i < args.len() {
                f(i, spec.flags);
            }
            return;
        }
        let keys: smallvec::SmallVec<[(usize, KeyFlags); 8]> = self.keys_into(args);
        for (i, flags) in keys {
            f(i, flags);
        }
    }

    /// Whether a key spec names real keys (not only `not_key` channels).
    fn has_keys_in_specs(&self) -> bool {
        self.key_specs
            .iter()
            .any(|s| !s.flags.contains(KeyFlags::NOT_KEY))
    }

    /// Redis's `getKeysUsingKeySpecs`, without collecting the positions:
    /// locking calls this once per command, so it allocates nothing. Specs
    /// naming no real key (`not_key`) are skipped. A spec that does not fit
    /// the arguments, or is `incomplete`, is skipped when `partial` (what
    /// locking needs: the handler reports the error itself); otherwise the
    /// answer is false (positions already passed to `f` stand, and the
    /// caller drops them, as Redis does).
    fn for_each_key_position(
        &self,
        args: &[&[u8]],
        partial: bool,
        mut f: impl FnMut(usize, KeyFlags),
    ) -> bool {
        let argc = args.len() as i64;
        for spec in &self.key_specs {
            if spec.flags.contains(KeyFlags::NOT_KEY) {
                continue;
            }
            match spec_range(spec, args) {
                SpecKeys::Absent => continue,
                SpecKeys::Range(first, last, step)
                    if last < argc && first <= last && first < argc =>
                {
                    let mut i = first;
                    while i <= last {
                        f(i as usize, spec.flags);
                        i += step;
                    }
                    if !spec.flags.contains(KeyFlags::INCOMPLETE) {
                        continue;
                    }
                }
                _ => {}
            }
            if !partial {
                return false;
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

/// What one key spec finds in a command's arguments.
enum SpecKeys {
    /// Its keyword is not there: the spec names no key (not an error).
    Absent,
    /// First, last and step, still to be checked against the arguments.
    Range(i64, i64, i64),
    /// The spec cannot be read in these arguments (numkeys not a number, or
    /// negative).
    Invalid,
}

/// The keys one key spec names in `args`, as Redis's `getKeysUsingKeySpecs`
/// computes them, including its C `int` arithmetic on numkeys.
fn spec_range(spec: &KeySpec, args: &[&[u8]]) -> SpecKeys {
    let argc = args.len() as i64;
    let first = match &spec.begin {
        BeginSearch::Index(i) => *i,
        BeginSearch::Keyword { keyword, startfrom } => {
            // Forwards from `startfrom` up to the one before last, or
            // backwards from `argc + startfrom` down to argument 2.
            let (start, end) = if *startfrom > 0 {
                (*startfrom, argc - 1)
            } else {
                (argc + startfrom, 1)
            };
            let step = if start <= end { 1 } else { -1 };
            let mut i = start;
            let mut found = None;
            while i != end && (1..argc).contains(&i) {
                if c_string(args[i as usize], usize::MAX).eq_ignore_ascii_case(keyword) {
                    found = Some(i + 1);
                    break;
                }
                i += step;
            }
            match found {
                Some(first) => first,
                None => return SpecKeys::Absent,
            }
        }
        BeginSearch::Unknown => return SpecKeys::Invalid,
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
            SpecKeys::Range(first, last, keystep.max(1))
        }
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => {
            let numkeys = usize::try_from(first + keynumidx)
                .ok()
                .and_then(|i| args.get(i))
                .and_then(|a| parse_i64(a))
                .filter(|n| *n >= 0);
            match numkeys {
                Some(numkeys) if keynumidx < argc => {
                    let first = first + firstkey;
                    // Redis adds numkeys cast to a C int.
                    SpecKeys::Range(first, first + i64::from(numkeys as i32) - 1, keystep.max(1))
                }
                _ => SpecKeys::Invalid,
            }
        }
        FindKeys::Unknown => SpecKeys::Invalid,
    }
}

/// The ACL view of every command Redis 7.0 has (and reddish's own), as
/// Redis's `server.orig_commands`: ACL rules may name a command reddish does
/// not serve, and a category's size (which decides how ACL GETUSER describes
/// a user) is Redis's. Numbered in name order, a container before its
/// subcommands.
fn acl_view(catalog: &Catalog) -> Vec<AclEntry> {
    let mut names: Vec<&String> = catalog.info.keys().collect();
    names.sort();
    let categories =
        |info: &Reply| parse_header(info, None).map_or(AclCategories::default(), |h| h.2);
    let mut acl = Vec::new();
    for name in names {
        let info = &catalog.info[name];
        let id = acl.len();
        acl.push(AclEntry {
            name: name.clone(),
            categories: categories(info),
            subcommands: Vec::new(),
            is_subcommand: false,
        });
        let mut subs: Vec<(String, &Reply)> = items(items(info).get(9).unwrap_or(&Reply::Null))
            .iter()
            .filter_map(|s| Some((info_name(s)?, s)))
            .collect();
        subs.sort_by(|a, b| a.0.cmp(&b.0));
        for (sub, sub_info) in subs {
            let sub_id = acl.len();
            acl[id].subcommands.push(sub_id);
            acl.push(AclEntry {
                name: sub,
                categories: categories(sub_info),
                subcommands: Vec::new(),
                is_subcommand: true,
            });
        }
    }
    acl
}

/// Gives every command its ACL id (a bare container its container's).
fn assign_acl_ids(entries: &mut Names<Entry>, acl: &[AclEntry]) {
    let ids: HashMap<&str, usize> = acl
        .iter()
        .enumerate()
        .map(|(id, e)| (e.name.as_str(), id))
        .collect();
    let id_of = |name: &str| ids.get(name).copied().unwrap_or(usize::MAX);
    for entry in entries.values_mut() {
        match entry {
            Entry::Command(c) => c.acl_id = id_of(&c.name),
            Entry::Container {
                subcommands, bare, ..
            } => {
                for c in subcommands.values_mut().chain(bare.as_deref_mut()) {
                    c.acl_id = id_of(&c.name);
                }
            }
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
    /// Joins the family modules' handlers with Redis's metadata.
    pub fn build() -> CommandTable {
        CommandTable::build_from(registrations())
    }

    /// [`CommandTable::build`] over `registrations`. A registration without
    /// metadata (INFO and DOCS), registered twice, or whose metadata holds
    /// something we do not know (a flag, an ACL category, a key spec form)
    /// panics: a command we serve must be one Redis describes and that we
    /// understand fully, and start-up is where to find out, not a client's
    /// "unknown command".
    pub fn build_from<'r>(
        registrations: impl IntoIterator<Item = &'r Registration>,
    ) -> CommandTable {
        let mut catalog = Catalog::load();
        let acl = acl_view(&catalog);
        let built_in = BuiltIn::index();
        let mut entries: Names<Entry> = Names::default();
        let mut subcommands: HashMap<String, HashMap<String, Command>> = HashMap::new();
        for reg in registrations {
            let name = reg.name.to_string();
            let fail =
                |why: &str| -> ! { panic!("command table: '{name}' is registered but {why}") };
            let info = subcommand_info(&catalog, &name)
                .unwrap_or_else(|| fail("has no COMMAND INFO metadata"));
            let docs = catalog
                .docs_of(&name)
                .unwrap_or_else(|| fail("has no COMMAND DOCS metadata"));
            let command = Command::from_info(
                info,
                catalog.hidden.get(&name),
                docs,
                reg.handler,
                reg.locks,
                &built_in,
            )
            .unwrap_or_else(|why| fail(&format!("its metadata is bad: {why}")));
            let previous = match name.split_once('|') {
                Some((parent, _)) => subcommands
                    .entry(parent.to_string())
                    .or_default()
                    .insert(name.clone(), command)
                    .is_some(),
                None => entries
                    .insert(name.clone().into_bytes(), Entry::Command(command))
                    .is_some(),
            };
            if previous {
                fail("was registered before");
            }
        }
        for (parent, subs) in subcommands {
            let fail = |why: &str| -> ! {
                panic!("command table: container '{parent}' of registered subcommands {why}")
            };
            let mut info = catalog
                .info
                .remove(&parent)
                .unwrap_or_else(|| fail("has no COMMAND INFO metadata"));
            let mut docs = catalog
                .docs
                .remove(&parent)
                .unwrap_or_else(|| fail("has no COMMAND DOCS metadata"));
            let (_, _, acl_categories) = parse_header(&info, None)
                .unwrap_or_else(|why| fail(&format!("has bad metadata: {why}")));
            filter_subcommands(&mut info, &subs);
            filter_subcommands(&mut docs, &subs);
            let bare = match entries.remove(parent.as_bytes()) {
                Some(Entry::Command(command)) => Some(Box::new(command)),
                _ => None,
            };
            entries.insert(
                parent.clone().into_bytes(),
                Entry::Container {
                    name: parent,
                    acl_categories,
                    info: Packed::new(&info, &built_in),
                    docs: Packed::new(&docs, &built_in),
                    subcommands: subs,
                    bare,
                },
            );
        }
        assign_acl_ids(&mut entries, &acl);
        CommandTable { entries, acl }
    }

    /// The ACL view of the table, indexed by `acl_id`.
    pub fn acl_entries(&self) -> &[AclEntry] {
        &self.acl
    }

    /// Redis's `ACLLookupCommand`: a command, a container or `container|sub`
    /// by its original name (any case; `rename-command` does not change what
    /// ACL rules call it), as its ACL id.
    pub fn acl_lookup(&self, name: &[u8]) -> Option<usize> {
        let name = name.to_ascii_lowercase();
        self.acl.iter().position(|e| e.name.as_bytes() == name)
    }

    /// The names the dispatcher finds (lowercase).
    pub fn top_level_names(&self) -> Vec<Vec<u8>> {
        self.entries.keys().cloned().collect()
    }

    /// `rename-command old new` (Redis's config loading): the command is
    /// found under `new` only; an empty `new` removes it.
    pub fn rename(&mut self, from: &[u8], to: &[u8]) -> Result<(), &'static str> {
        let entry = self
            .entries
            .remove(&from.to_ascii_lowercase())
            .ok_or("No such command in rename-command")?;
        if to.is_empty() {
            return Ok(());
        }
        let to = to.to_ascii_lowercase();
        if self.entries.contains_key(&to) {
            self.entries.insert(from.to_ascii_lowercase(), entry);
            return Err("Target command name already exists");
        }
        self.entries.insert(to, entry);
        Ok(())
    }

    /// Finds the command `args` names, or the error Redis gives for it.
    pub fn lookup(&self, args: &[&[u8]]) -> Result<&Command, Reply> {
        // Lowercase into a stack buffer: no allocation per request.
        let mut buf = [0u8; 32];
        let long_name;
        let raw = &args[0];
        let name: &[u8] = match buf.get_mut(..raw.len()) {
            Some(slot) => {
                // Byte by byte: a name is a few bytes, less than a memcpy call costs.
                for (to, from) in slot.iter_mut().zip(raw.iter()) {
                    *to = from.to_ascii_lowercase();
                }
                slot
            }
            // Only a name given by `rename-command` can be this long.
            None => {
                long_name = raw.to_ascii_lowercase();
                &long_name
            }
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
                    return bare.as_deref().ok_or_else(|| {
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

    /// Every top-level command's (or container's) name, INFO entry and
    /// DOCS, for COMMAND, COMMAND INFO and COMMAND DOCS without names.
    pub fn top_level(&self) -> impl Iterator<Item = (&str, &Packed, &Packed)> {
        self.entries.values().map(Entry::described)
    }

    /// Every full name COMMAND LIST shows (commands, containers and
    /// subcommands) with its ACL categories.
    pub fn names(&self) -> impl Iterator<Item = (&str, AclCategories)> {
        self.entries.values().flat_map(
            |e| -> Box<dyn Iterator<Item = (&str, AclCategories)> + '_> {
                match e {
                    Entry::Command(c) => {
                        Box::new(std::iter::once((c.name.as_str(), c.acl_categories)))
                    }
                    Entry::Container {
                        name,
                        acl_categories,
                        subcommands,
                        ..
                    } => Box::new(
                        std::iter::once((name.as_str(), *acl_categories)).chain(
                            subcommands
                                .values()
                                .map(|c| (c.name.as_str(), c.acl_categories)),
                        ),
                    ),
                }
            },
        )
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
                    } => Box::new(bare.as_deref().into_iter().chain(subcommands.values())),
                }
            })
    }

    /// A command or container by name (COMMAND INFO / DOCS).
    pub fn find(&self, name: &str) -> Option<(&str, &Packed, &Packed)> {
        // ASCII only, as Redis compares names (Unicode would fold the
        // Kelvin sign of "\u{212a}eys" into KEYS).
        let name = name.to_ascii_lowercase();
        match name.split_once('|') {
            Some((parent, _)) => match self.entries.get(parent.as_bytes()) {
                Some(Entry::Container { subcommands, .. }) => subcommands
                    .get(&name)
                    .map(|c| (c.name.as_str(), &c.info, &c.docs)),
                _ => None,
            },
            None => self.entries.get(name.as_bytes()).map(Entry::described),
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
    fn docs_of(&self, name: &str) -> Option<Reply> {
        match name.split_once('|') {
            None => self.docs.get(name).cloned(),
            Some((parent, _)) => self
                .docs
                .get(parent)
                .and_then(|d| field(d, "subcommands"))
                .and_then(|subs| field(subs, name))
                .cloned(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{cmd, CmdResult, Ctx};

    fn nothing(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
        Ok(Reply::OK)
    }

    /// Every COMMAND INFO entry of the catalog, subcommands included.
    fn all_entries(catalog: &Catalog) -> Vec<&Reply> {
        catalog
            .info
            .values()
            .flat_map(|e| std::iter::once(e).chain(items(items(e).get(9).unwrap_or(&Reply::Null))))
            .collect()
    }

    #[test]
    #[should_panic(expected = "'nosuchcommand' is registered but has no COMMAND INFO metadata")]
    fn a_handler_without_metadata_fails_the_build() {
        CommandTable::build_from(&[cmd("get", nothing), cmd("nosuchcommand", nothing)]);
    }

    #[test]
    #[should_panic(expected = "'client|nosuch' is registered but has no COMMAND INFO metadata")]
    fn a_subcommand_without_metadata_fails_the_build() {
        CommandTable::build_from(&[cmd("client|nosuch", nothing)]);
    }

    #[test]
    #[should_panic(expected = "'get' is registered but was registered before")]
    fn a_command_registered_twice_fails_the_build() {
        CommandTable::build_from(&[cmd("get", nothing), cmd("get", nothing)]);
    }

    #[test]
    fn the_real_registrations_build() {
        let table = CommandTable::build();
        assert!(table.lookup(&[b"GET", b"k"]).is_ok());
        assert!(table.lookup(&[b"client", b"ID"]).is_ok());
    }

    /// GET's INFO entry with one list (flags 2, categories 6) given an extra name.
    fn get_info_with(index: usize, extra: Reply) -> Reply {
        let mut info = Catalog::load().info["get"].clone();
        if let Reply::Array(fields) = &mut info {
            if let Some(Reply::Array(list) | Reply::Set(list)) = fields.get_mut(index) {
                list.push(extra);
            }
        }
        info
    }

    fn from_info(info: Reply, hidden: Option<&Reply>) -> Result<Command, String> {
        Command::from_info(
            info,
            hidden,
            Reply::Null,
            nothing,
            Locks::Keys,
            &BuiltIn::index(),
        )
    }

    #[test]
    fn unknown_metadata_names_are_errors() {
        let flag = from_info(get_info_with(2, Reply::simple("no_such_flag")), None);
        assert!(
            matches!(&flag, Err(e) if e.contains("unknown flags entry")),
            "{:?}",
            flag.err()
        );
        let cat = from_info(get_info_with(6, Reply::simple("@nosuchcat")), None);
        assert!(matches!(&cat, Err(e) if e.contains("unknown ACL categories entry")));
        // A category must carry Redis's '@'.
        let bare = from_info(get_info_with(6, Reply::simple("read")), None);
        assert!(bare.is_err());
        let hidden = Reply::Set(vec![Reply::simple("secret")]);
        assert!(from_info(get_info_with(2, Reply::simple("fast")), Some(&hidden)).is_err());
        let mut info = Catalog::load().info["get"].clone();
        if let Reply::Array(fields) = &mut info {
            if let Some(Reply::Array(specs) | Reply::Set(specs)) = fields.get_mut(8) {
                if let Some(Reply::Map(spec)) = specs.get_mut(0) {
                    if let Some((_, Reply::Set(flags))) = spec.first_mut() {
                        flags.push(Reply::simple("sometimes"));
                    }
                }
            }
        }
        let spec = from_info(info, None);
        assert!(matches!(&spec, Err(e) if e.contains("unknown key spec flags entry")));
    }

    #[test]
    fn metadata_is_read_into_bits() {
        let catalog = Catalog::load();
        let parse = |name: &str| {
            from_info(catalog.info[name].clone(), catalog.hidden.get(name)).expect("parses")
        };
        let get = parse("get");
        assert_eq!(get.flags, Flags::READONLY.with(Flags::FAST));
        assert_eq!(
            get.acl_categories,
            AclCategories::READ
                .with(AclCategories::STRING)
                .with(AclCategories::FAST)
        );
        assert_eq!(get.key_specs[0].flags, KeyFlags::RO.with(KeyFlags::ACCESS));
        let publish = parse("publish");
        assert!(publish
            .flags
            .contains(Flags::MAY_REPLICATE.with(Flags::SENTINEL)));
        assert!(parse("scan").flags.contains(Flags::TOUCHES_ARBITRARY_KEYS));
        assert!(parse("zunion").flags.contains(Flags::MOVABLE_KEYS));
        let spublish = parse("spublish");
        assert!(!spublish.has_keys());
        assert_eq!(spublish.single_key, None);
        assert_eq!(
            KeyFlags::RW
                .with(KeyFlags::ACCESS)
                .with(KeyFlags::DELETE)
                .to_reply(),
            Reply::Set(vec![
                Reply::simple("RW"),
                Reply::simple("access"),
                Reply::simple("delete")
            ])
        );
    }

    /// Every entry Redis 7.0 describes (not only ours) parses: a name we do
    /// not know anywhere in the captured metadata would fail start-up the day
    /// its command is registered.
    #[test]
    fn every_captured_entry_parses() {
        let catalog = Catalog::load();
        let entries = all_entries(&catalog);
        assert!(entries.len() > 350, "{} entries", entries.len());
        for entry in entries {
            let name = info_name(entry).expect("a name");
            parse_header(entry, catalog.hidden.get(&name))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            for spec in items(&items(entry)[8]) {
                parse_key_spec(spec).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
        // Sentinel's own commands exist only in sentinel mode, which the
        // capture was not made in.
        let only_sentinel = Reply::simple("only_sentinel");
        for (name, hidden) in &catalog.hidden {
            if items(hidden).contains(&only_sentinel) {
                continue;
            }
            let known = match name.split_once('|') {
                None => catalog.info.contains_key(name),
                Some(_) => subcommand_info(&catalog, name).is_some(),
            };
            assert!(
                known,
                "hidden flags for {name}, which Redis does not describe"
            );
        }
    }

    /// Redis's `populateCommandLegacyRangeSpec`: whether the keys are
    /// movable, and COMMAND INFO's legacy (first, last, step), from the specs.
    fn legacy_range(specs: &[KeySpec]) -> (bool, [i64; 3]) {
        let plain_range = |s: &KeySpec| match (&s.begin, &s.find) {
            (
                BeginSearch::Index(pos),
                FindKeys::Range {
                    lastkey, keystep, ..
                },
            ) => Some((*pos, *lastkey, *keystep)),
            _ => None,
        };
        let to_info = |pos: i64, lastkey: i64, step: i64| {
            [
                pos,
                if lastkey >= 0 { lastkey + pos } else { lastkey },
                step,
            ]
        };
        match specs {
            [] => return (false, [0; 3]),
            [only] => {
                if let Some((pos, lastkey, step)) = plain_range(only) {
                    let movable = only.flags.contains(KeyFlags::INCOMPLETE);
                    return (movable, to_info(pos, lastkey, step));
                }
            }
            _ => {}
        }
        let (mut movable, mut firstkey, mut lastkey, mut prev_lastkey) =
            (false, i32::MAX, 0i32, 0i32);
        for spec in specs {
            let Some((pos, last, step)) = plain_range(spec) else {
                movable = true;
                continue;
            };
            let pos = pos as i32;
            if step != 1 || (prev_lastkey != 0 && prev_lastkey != pos - 1) {
                movable = true;
                continue;
            }
            movable |= spec.flags.contains(KeyFlags::INCOMPLETE);
            firstkey = firstkey.min(pos);
            let abs = if last >= 0 {
                last as i32 + pos
            } else {
                last as i32
            };
            lastkey = (lastkey as u32).max(abs as u32) as i32;
            prev_lastkey = lastkey;
        }
        if firstkey == i32::MAX {
            return (true, [0; 3]);
        }
        let relative = if lastkey < 0 {
            lastkey
        } else {
            lastkey - firstkey
        };
        (movable, to_info(firstkey.into(), relative.into(), 1))
    }

    /// Our reading of the key specs agrees with what Redis derived from
    /// them, for every command it has: the `movablekeys` flag and the legacy
    /// first/last/step of COMMAND INFO.
    #[test]
    fn movablekeys_and_legacy_ranges_follow_from_the_specs() {
        let catalog = Catalog::load();
        for entry in all_entries(&catalog) {
            let name = info_name(entry).expect("a name");
            let (_, flags, _) = parse_header(entry, None).expect("header");
            let specs: Vec<KeySpec> = items(&items(entry)[8])
                .iter()
                .map(|s| parse_key_spec(s).expect("spec"))
                .collect();
            let (movable, range) = legacy_range(&specs);
            assert_eq!(flags.contains(Flags::MOVABLE_KEYS), movable, "{name}");
            let shown: Vec<i64> = items(entry)[3..6]
                .iter()
                .map(|r| match r {
                    Reply::Integer(n) => *n,
                    _ => panic!("{name}: not an integer"),
                })
                .collect();
            assert_eq!(shown, range, "{name}");
        }
    }

    #[test]
    fn c_atoi_is_cs() {
        for (text, n) in [
            (&b"12"[..], 12),
            (b"  -3x", -3),
            (b"+7", 7),
            (b"2abc", 2),
            (b"abc", 0),
            (b"", 0),
            (b"4294967297", 1),
            (b"9223372036854775807", -1),
            (b"99999999999999999999", -1),
            (b"-99999999999999999999", 0),
            (b"5\0", 5),
        ] {
            assert_eq!(c_atoi(text), n, "{:?}", String::from_utf8_lossy(text));
        }
    }

    /// BITFIELD's key is read-only exactly while Redis's `bitfieldGetKeys`
    /// reads only GETs and OVERFLOWs up to the first write or bad argument.
    #[test]
    fn bitfield_getkeys_reads_the_operations_as_redis_does() {
        let ro = KeyFlags::RO.with(KeyFlags::ACCESS);
        let rw = KeyFlags::RW.with(KeyFlags::ACCESS).with(KeyFlags::UPDATE);
        for (args, flags) in [
            (&["bitfield", "k"][..], ro),
            (&["bitfield", "k", "get", "u8", "0"], ro),
            (&["bitfield", "k", "overflow", "sat", "GET", "i5", "#3"], ro),
            (
                &["bitfield", "k", "get", "u8", "0", "set", "u8", "0", "1"],
                rw,
            ),
            (&["bitfield", "k", "incrby", "u8", "0", "1"], rw),
            // Too few arguments for the operation: a syntax error, so RW.
            (&["bitfield", "k", "get", "u8"], rw),
            (&["bitfield", "k", "set", "u8", "0"], rw),
            (&["bitfield", "k", "overflow"], rw),
            (&["bitfield", "k", "nosuch"], rw),
        ] {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            let keys: Vec<(usize, KeyFlags)> = GetKeys::Bitfield.keys(&args);
            assert_eq!(keys.len(), 1, "{args:?}");
            assert_eq!(keys[0].0, 1);
            assert!(
                keys[0].1 == flags,
                "{:?}",
                String::from_utf8_lossy(&args.concat())
            );
        }
    }
}
