//! Access control: users, their permissions, the one check every command
//! passes, and the ACL log (Redis 7.0's acl.c).
//!
//! A user's permissions are a [`UserState`]: flags, password hashes and
//! selectors, each selector a bitmap of the commands it allows (indexed by
//! the command table's `acl_id`), key patterns with read/write access and
//! channel patterns. A change builds a new state and swaps it in whole, so a
//! client reads a consistent snapshot: it keeps an `Arc` of its user's state
//! and refreshes it only when [`Acl::epoch`] moved (one load per command).
//! The default user with every permission is `unrestricted`, and [`check`]
//! returns at once for it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use bytes::Bytes;

use crate::commands::{AclCategories, Command, CommandTable, Flags, KeyFlags};
use crate::glob::glob_match;

/// Bits in a selector's command bitmap (Redis's `USER_COMMAND_BITS_COUNT`).
const COMMAND_BITS: usize = 1024;
const WORDS: usize = COMMAND_BITS / 64;
/// Set only by `+@all` / `allcommands`: the selector also allows commands
/// that do not exist yet, and describes itself starting from `+@all`.
const FUTURE_BIT: usize = COMMAND_BITS - 1;

/// A key pattern's access (Redis's `ACL_READ_PERMISSION`, `_WRITE_`).
const READ: u8 = 1;
const WRITE: u8 = 2;
const READ_WRITE: u8 = READ | WRITE;

/// Why ACL SETUSER refused a rule (Redis's errno values in `ACLSetUser`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// ENOENT
    UnknownCommand,
    /// EINVAL
    Syntax,
    /// EEXIST
    KeyAfterAll,
    /// EISDIR
    ChannelAfterAll,
    /// ENODEV
    NoSuchPassword,
    /// EBADMSG
    BadHash,
    /// EALREADY
    DuplicateUser,
    /// ECHILD
    FirstArgOfSubcommand,
}

impl RuleError {
    /// Redis's `ACLSetUserStringError`.
    pub fn message(self) -> &'static str {
        match self {
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::DuplicateUser => "Duplicate user found. A user can only be defined once in config files",
            RuleError::FirstArgOfSubcommand => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyPattern {
    access: u8,
    pattern: Vec<u8>,
}

impl KeyPattern {
    /// Redis's `sdsCatPatternString`.
    fn describe(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.access {
            READ => b"%R~",
            WRITE => b"%W~",
            _ => b"~",
        });
        out.extend_from_slice(&self.pattern);
    }
}

/// One set of permissions: a user's root selector, or one of its `(...)`.
#[derive(Debug, Clone)]
struct Selector {
    root: bool,
    all_keys: bool,
    all_channels: bool,
    all_commands: bool,
    commands: [u64; WORDS],
    /// First arguments allowed for a command whose bit is clear (`+select|0`).
    firstargs: BTreeMap<usize, Vec<Vec<u8>>>,
    patterns: Vec<KeyPattern>,
    channels: Vec<Vec<u8>>,
}

/// Redis's `ACLStringHasSpaces`: `isspace` or NUL.
fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0))
}

fn is(op: &[u8], word: &str) -> bool {
    op.eq_ignore_ascii_case(word.as_bytes())
}

impl Selector {
    /// Redis's `ACLCreateSelector`: no permissions but the channels
    /// `acl-pubsub-default` gives.
    fn new(root: bool, pubsub_all: bool) -> Selector {
        Selector {
            root,
            all_keys: false,
            all_channels: pubsub_all,
            all_commands: false,
            commands: [0; WORDS],
            firstargs: BTreeMap::new(),
            patterns: Vec::new(),
            channels: Vec::new(),
        }
    }

    fn bit(&self, id: usize) -> bool {
        id < COMMAND_BITS && self.commands[id / 64] & (1 << (id % 64)) != 0
    }

    /// Redis's `ACLSetSelectorCommandBit`: clearing a bit loses `allcommands`.
    fn set_bit(&mut self, id: usize, on: bool) {
        if id >= COMMAND_BITS {
            return;
        }
        if on {
            self.commands[id / 64] |= 1 << (id % 64);
        } else {
            self.commands[id / 64] &= !(1 << (id % 64));
            self.all_commands = false;
        }
    }

    /// Redis's `ACLChangeSelectorPerm`: a container takes its subcommands along.
    fn change_perm(&mut self, table: &CommandTable, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.firstargs.remove(&id);
        for &sub in &table.acl_entries()[id].subcommands {
            self.set_bit(sub, allow);
            self.firstargs.remove(&sub);
        }
    }

    /// `+@category` / `-@category` over every command, container and subcommand.
    fn change_category(&mut self, table: &CommandTable, category: AclCategories, allow: bool) {
        for (id, entry) in table.acl_entries().iter().enumerate() {
            if entry.categories.intersects(category) {
                self.change_perm(table, id, allow);
            }
        }
    }

    /// Redis's `ACLSetSelector`: one rule applied to this selector.
    fn apply(&mut self, table: &CommandTable, op: &[u8]) -> Result<(), RuleError> {
        if is(op, "allkeys") || is(op, "~*") {
            self.all_keys = true;
            self.patterns.clear();
        } else if is(op, "resetkeys") {
            self.all_keys = false;
            self.patterns.clear();
        } else if is(op, "allchannels") || is(op, "&*") {
            self.all_channels = true;
            self.channels.clear();
        } else if is(op, "resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is(op, "allcommands") || is(op, "+@all") {
            self.commands = [u64::MAX; WORDS];
            self.all_commands = true;
            self.firstargs.clear();
        } else if is(op, "nocommands") || is(op, "-@all") {
            self.commands = [0; WORDS];
            self.all_commands = false;
            self.firstargs.clear();
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelAfterAll);
            }
            if has_spaces(&op[1..]) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c[..] == op[1..]) {
                self.channels.push(op[1..].to_vec());
            }
            self.all_channels = false;
        } else if op[0] == b'+' && op.get(1) != Some(&b'@') {
            self.allow_command(table, &op[1..])?;
        } else if op[0] == b'-' && op.get(1) != Some(&b'@') {
            let id = table
                .acl_lookup(&op[1..])
                .ok_or(RuleError::UnknownCommand)?;
            self.change_perm(table, id, false);
        } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
            let name = op[2..].to_ascii_lowercase();
            let category = AclCategories::from_name(&name).ok_or(RuleError::UnknownCommand)?;
            self.change_category(table, category, op[0] == b'+');
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`.
    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAll);
        }
        let (access, offset) = if op[0] == b'%' {
            let mut access = 0;
            let mut offset = 1;
            while offset < op.len() {
                match op[offset].to_ascii_uppercase() {
                    b'R' if access & READ == 0 => access |= READ,
                    b'W' if access & WRITE == 0 => access |= WRITE,
                    b'~' => {
                        offset += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
            (access, offset)
        } else {
            (READ_WRITE, 1)
        };
        let pattern = &op[offset.min(op.len())..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.patterns.iter_mut().find(|p| p.pattern == pattern) {
            Some(existing) => existing.access |= access,
            None => self.patterns.push(KeyPattern {
                access,
                pattern: pattern.to_vec(),
            }),
        }
        self.all_keys = false;
        Ok(())
    }

    /// `+command`, `+container|subcommand`, `+command|first-arg`.
    fn allow_command(&mut self, table: &CommandTable, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let id = table.acl_lookup(name).ok_or(RuleError::UnknownCommand)?;
            self.change_perm(table, id, true);
            return Ok(());
        };
        let (command, sub) = (&name[..bar], &name[bar + 1..]);
        let id = table.acl_lookup(command).ok_or(RuleError::UnknownCommand)?;
        let entry = &table.acl_entries()[id];
        if entry.is_subcommand {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if entry.subcommands.is_empty() {
            tracing::warn!(
                "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{})",
                String::from_utf8_lossy(name)
            );
            let allowed = self.firstargs.entry(id).or_default();
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                allowed.push(sub.to_vec());
            }
        } else {
            let id = table.acl_lookup(name).ok_or(RuleError::UnknownCommand)?;
            self.change_perm(table, id, true);
        }
        Ok(())
    }

    /// Redis's `ACLDescribeSelectorCommandRules`: `+@all` or `-@all`, then
    /// the categories that best fit the bitmap, then single commands.
    fn describe_commands(&self, table: &CommandTable) -> String {
        let mut rules = String::new();
        let additive = !self.bit(FUTURE_BIT);
        let mut fake = Selector::new(false, false);
        if additive {
            rules.push_str("-@all ");
        } else {
            rules.push_str("+@all ");
            fake.commands = [u64::MAX; WORDS];
        }
        let mut temp = self.clone();
        let mut applied = [false; 32];
        loop {
            let mut best: Option<(usize, AclCategories, &str)> = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, (category, name)) in AclCategories::all().enumerate() {
                if applied[j] {
                    continue;
                }
                let (mut on, mut off) = (0, 0);
                for (id, entry) in table.acl_entries().iter().enumerate() {
                    if entry.categories.intersects(category) {
                        if temp.bit(id) {
                            on += 1;
                        } else {
                            off += 1;
                        }
                    }
                }
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some((j, category, name));
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some((j, category, name)) = best else {
                break;
            };
            fake.change_category(table, category, additive);
            temp.change_category(table, category, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(name);
            rules.push(' ');
            applied[j] = true;
        }
        for (id, entry) in table.acl_entries().iter().enumerate() {
            if !entry.is_subcommand {
                self.describe_single(table, &mut fake, id, &mut rules);
                for &sub in &entry.subcommands {
                    self.describe_single(table, &mut fake, sub, &mut rules);
                }
            }
        }
        rules.pop();
        if fake.commands[..] != self.commands[..] {
            tracing::warn!("CRITICAL ERROR: User ACLs don't match final bitmap: '{rules}'");
        }
        rules
    }

    /// One command's part of `ACLDescribeSelectorCommandRulesSingleCommands`.
    fn describe_single(
        &self,
        table: &CommandTable,
        fake: &mut Selector,
        id: usize,
        rules: &mut String,
    ) {
        let name = &table.acl_entries()[id].name;
        let userbit = self.bit(id);
        if userbit != fake.bit(id) {
            rules.push(if userbit { '+' } else { '-' });
            rules.push_str(name);
            rules.push(' ');
            fake.change_perm(table, id, userbit);
        }
        if !userbit {
            for arg in self.firstargs.get(&id).into_iter().flatten() {
                rules.push('+');
                rules.push_str(name);
                rules.push('|');
                rules.push_str(&String::from_utf8_lossy(arg));
                rules.push(' ');
            }
        }
    }

    /// Redis's `ACLDescribeSelector`: keys, channels, commands.
    fn describe(&self, table: &CommandTable, out: &mut Vec<u8>) {
        if self.all_keys {
            out.extend_from_slice(b"~* ");
        } else {
            for p in &self.patterns {
                p.describe(out);
                out.push(b' ');
            }
        }
        if self.all_channels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for c in &self.channels {
                out.push(b'&');
                out.extend_from_slice(c);
                out.push(b' ');
            }
        }
        out.extend_from_slice(self.describe_commands(table).as_bytes());
    }

    /// The keys, as ACL GETUSER shows them.
    fn keys_text(&self) -> Vec<u8> {
        if self.all_keys {
            return b"~*".to_vec();
        }
        let mut out = Vec::new();
        for (i, p) in self.patterns.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            p.describe(&mut out);
        }
        out
    }

    /// The channels, as ACL GETUSER shows them.
    fn channels_text(&self) -> Vec<u8> {
        if self.all_channels {
            return b"&*".to_vec();
        }
        let mut out = Vec::new();
        for (i, c) in self.channels.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.push(b'&');
            out.extend_from_slice(c);
        }
        out
    }

    /// Redis's `ACLSelectorCheckCmd`.
    fn check(&self, cmd: &Command, args: &[&[u8]]) -> Result<(), Denied> {
        if !self.all_commands && !cmd.flags.contains(Flags::NO_AUTH) && !self.bit(cmd.acl_id) {
            let idx = if cmd.is_subcommand { 2 } else { 1 };
            let allowed = match (self.firstargs.get(&cmd.acl_id), args.get(idx)) {
                (Some(list), Some(arg)) if args.len() >= 2 => {
                    list.iter().any(|a| a.eq_ignore_ascii_case(arg))
                }
                _ => false,
            };
            if !allowed {
                return Err(Denied::Command);
            }
        }
        if !self.all_keys && cmd.has_keys() {
            let mut denied = None;
            cmd.for_each_key(args, |i, flags| {
                if denied.is_none() && !self.key_allowed(args[i], flags) {
                    denied = Some(i);
                }
            });
            if let Some(i) = denied {
                return Err(Denied::Key(i));
            }
        }
        if !self.all_channels {
            if let Some((stop, pattern)) = channel_args(cmd, args.len()) {
                for (i, channel) in args.iter().enumerate().take(stop).skip(1) {
                    if !channel_allowed(&self.channels, channel, pattern) {
                        return Err(Denied::Channel(i));
                    }
                }
            }
        }
        Ok(())
    }

    /// Redis's `ACLSelectorCheckKey`.
    /// Redis's `ACLSelectorHasUnrestrictedKeyAccess` for reads: `allkeys`,
    /// or a `*` pattern that reads.
    fn reads_all_keys(&self) -> bool {
        self.all_keys
            || self
                .patterns
                .iter()
                .any(|p| p.access & READ == READ && p.pattern == b"*")
    }

    fn key_allowed(&self, key: &[u8], flags: KeyFlags) -> bool {
        let mut need = 0;
        if flags.contains(KeyFlags::ACCESS) {
            need |= READ;
        }
        if flags.intersects(KeyFlags::INSERT.or(KeyFlags::DELETE).or(KeyFlags::UPDATE)) {
            need |= WRITE;
        }
        self.patterns
            .iter()
            .any(|p| p.access & need == need && glob_match(&p.pattern, key, false))
    }
}

/// Where the channels of a Pub/Sub command are (Redis's
/// `commands_with_channels`, only the publish and subscribe ones the check
/// reads): the end of the range, and whether they are patterns.
fn channel_args(cmd: &Command, argc: usize) -> Option<(usize, bool)> {
    match cmd.name.as_str() {
        "subscribe" | "ssubscribe" => Some((argc, false)),
        "psubscribe" => Some((argc, true)),
        "publish" | "spublish" => Some((2.min(argc), false)),
        _ => None,
    }
}

/// Redis's `ACLCheckChannelAgainstList`: a PSUBSCRIBE pattern must be one
/// of the user's patterns literally; a channel is matched against them.
fn channel_allowed(allowed: &[Vec<u8>], channel: &[u8], is_pattern: bool) -> bool {
    allowed.iter().any(|p| {
        if is_pattern {
            p[..] == *channel
        } else {
            glob_match(p, channel, false)
        }
    })
}

/// Why a command was refused (Redis's `ACL_DENIED_*`, in its order of
/// relevance), with the position of the key or channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(i) => (2, i),
            Denied::Channel(i) => (4, i),
        }
    }

    /// The error a refused command gets (Redis's `processCommand`).
    pub fn error_text(self, cmd: &Command) -> String {
        match self {
            Denied::Command => format!(
                "NOPERM this user has no permissions to run the '{}' command",
                cmd.name
            ),
            Denied::Key(_) => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .into()
            }
            Denied::Channel(_) => "NOPERM this user has no permissions to access one of the channels used as arguments".into(),
        }
    }

    /// The error a queued command gets at EXEC when the rules changed meanwhile.
    pub fn exec_error_text(self) -> String {
        let reason = match self {
            Denied::Command => "no permission to execute the command or subcommand",
            Denied::Key(_) => "no permission to touch the specified keys",
            Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        };
        format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}")
    }

    /// The log's `reason` and `object` for this refusal.
    pub fn log_parts(self, cmd: &Command, args: &[&[u8]]) -> (Reason, Bytes) {
        match self {
            Denied::Command => (Reason::Command, Bytes::from(cmd.name.clone())),
            Denied::Key(i) => (Reason::Key, Bytes::copy_from_slice(args[i])),
            Denied::Channel(i) => (Reason::Channel, Bytes::copy_from_slice(args[i])),
        }
    }
}

/// What a user may do: Redis's `user` minus the name.
#[derive(Debug, Clone)]
pub struct UserState {
    enabled: bool,
    nopass: bool,
    /// `sanitize-payload` (true) or `skip-sanitize-payload` (false), if set.
    sanitize: Option<bool>,
    /// SHA-256 hashes, lowercase hex.
    passwords: Vec<String>,
    /// The root selector first.
    selectors: Vec<Selector>,
    /// The root selector allows every command, key and channel: [`check`]
    /// has nothing to do.
    unrestricted: bool,
}

/// Redis's `ACLHashPassword`.
fn hash_password(password: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(password);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Redis's `ACLCheckPasswordHash`.
fn valid_hash(hash: &[u8]) -> bool {
    hash.len() == 64 && hash.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Compares two hashes in time independent of where they differ.
fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl UserState {
    /// Redis's `ACLCreateUser`: disabled, no passwords, no permissions.
    fn new(pubsub_all: bool) -> UserState {
        UserState {
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            selectors: vec![Selector::new(true, pubsub_all)],
            unrestricted: false,
        }
    }

    /// Redis's `ACLCreateDefaultUser`: `+@all ~* &* on nopass`.
    fn default_user() -> UserState {
        let mut state = UserState::new(true);
        let root = &mut state.selectors[0];
        root.commands = [u64::MAX; WORDS];
        root.all_commands = true;
        root.all_keys = true;
        state.enabled = true;
        state.nopass = true;
        state.finish()
    }

    fn root(&mut self) -> &mut Selector {
        &mut self.selectors[0]
    }

    fn finish(mut self) -> UserState {
        let root = &self.selectors[0];
        self.unrestricted = root.all_commands && root.all_keys && root.all_channels;
        self
    }

    /// Redis's `ACLSetUser`: one rule.
    fn apply(
        &mut self,
        table: &CommandTable,
        op: &[u8],
        pubsub_all: bool,
    ) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        if is(op, "on") {
            self.enabled = true;
        } else if is(op, "off") {
            self.enabled = false;
        } else if is(op, "skip-sanitize-payload") {
            self.sanitize = Some(false);
        } else if is(op, "sanitize-payload") {
            self.sanitize = Some(true);
        } else if is(op, "nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is(op, "resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            let at = self
                .passwords
                .iter()
                .position(|p| *p == hash)
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut selector = Selector::new(false, pubsub_all);
            let inner = &op[1..op.len() - 1];
            for rule in crate::protocol::inline::split_args(inner).unwrap_or_default() {
                if rule.is_empty() {
                    continue;
                }
                selector.apply(table, &rule)?;
            }
            self.selectors.push(selector);
        } else if is(op, "clearselectors") {
            self.selectors.truncate(1);
        } else if is(op, "reset") {
            self.nopass = false;
            self.passwords.clear();
            let root = self.root();
            root.all_keys = false;
            root.patterns.clear();
            root.all_channels = pubsub_all;
            root.channels.clear();
            self.enabled = false;
            self.sanitize = Some(true);
            self.selectors.truncate(1);
            let root = self.root();
            root.commands = [0; WORDS];
            root.all_commands = false;
            root.firstargs.clear();
        } else {
            self.root().apply(table, op)?;
        }
        Ok(())
    }

    /// Redis's `ACLDescribeUser`: the rules that rebuild this user.
    pub fn describe(&self, table: &CommandTable) -> Vec<u8> {
        let mut out = Vec::new();
        for flag in self.flag_names() {
            out.extend_from_slice(flag.as_bytes());
            out.push(b' ');
        }
        for p in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(p.as_bytes());
            out.push(b' ');
        }
        for s in &self.selectors {
            if s.root {
                s.describe(table, &mut out);
            } else {
                out.extend_from_slice(b" (");
                s.describe(table, &mut out);
                out.push(b')');
            }
        }
        out
    }

    /// The user's flags in Redis's `ACLUserFlags` order.
    fn flag_names(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize {
            Some(false) => flags.push("skip-sanitize-payload"),
            Some(true) => flags.push("sanitize-payload"),
            None => {}
        }
        flags
    }

    /// ACL GETUSER's map (Redis's `aclCommand` getuser branch).
    pub fn getuser_reply(&self, table: &CommandTable) -> crate::protocol::Reply {
        use crate::protocol::Reply;
        let selector_fields = |s: &Selector| {
            vec![
                (
                    Reply::bulk("commands"),
                    Reply::bulk(s.describe_commands(table)),
                ),
                (Reply::bulk("keys"), Reply::bulk(s.keys_text())),
                (Reply::bulk("channels"), Reply::bulk(s.channels_text())),
            ]
        };
        let mut fields = vec![
            (
                Reply::bulk("flags"),
                Reply::Set(self.flag_names().into_iter().map(Reply::bulk).collect()),
            ),
            (
                Reply::bulk("passwords"),
                Reply::Array(
                    self.passwords
                        .iter()
                        .map(|p| Reply::bulk(p.clone()))
                        .collect(),
                ),
            ),
        ];
        fields.extend(selector_fields(&self.selectors[0]));
        fields.push((
            Reply::bulk("selectors"),
            Reply::Array(
                self.selectors[1..]
                    .iter()
                    .map(|s| Reply::Map(selector_fields(s)))
                    .collect(),
            ),
        ));
        Reply::Map(fields)
    }

    /// Whether `password` opens this user (Redis's `ACLCheckUserCredentials`
    /// once the user is found).
    fn accepts(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hashed = hash_password(password);
        self.passwords.iter().any(|p| same_hash(p, &hashed))
    }

    /// Every channel pattern of every selector, or None when one allows all.
    fn channel_patterns(&self) -> Option<Vec<&[u8]>> {
        let mut all = Vec::new();
        for s in &self.selectors {
            if s.all_channels {
                return None;
            }
            all.extend(s.channels.iter().map(Vec::as_slice));
        }
        Some(all)
    }
}

/// Whether `user` may run `cmd` with `args` (Redis's
/// `ACLCheckAllUserCommandPerm`): the one check of the dispatcher, of EXEC's
/// queued commands and of scripts' `redis.call`. Free for an unrestricted user.
#[inline]
pub fn check(user: &UserState, cmd: &Command, args: &[&[u8]]) -> Result<(), Denied> {
    if user.unrestricted {
        return Ok(());
    }
    check_selectors(user, cmd, args)
}

/// Redis's `ACLUserCheckCmdWithUnrestrictedKeyAccess(.., CMD_KEY_ACCESS)`:
/// whether a selector that allows `cmd` also reads every key. SORT's BY and
/// GET patterns name keys no key spec declares, so they need it.
pub fn reads_every_key(user: &UserState, cmd: &Command, args: &[&[u8]]) -> bool {
    user.unrestricted
        || user
            .selectors
            .iter()
            .any(|s| s.check(cmd, args).is_ok() && s.reads_all_keys())
}

/// The selectors one by one: the first that allows wins; otherwise the most
/// relevant refusal (a channel over a key over the command, then the later
/// argument), as Redis picks the one it reports.
fn check_selectors(user: &UserState, cmd: &Command, args: &[&[u8]]) -> Result<(), Denied> {
    let mut relevant = Denied::Command;
    for s in &user.selectors {
        match s.check(cmd, args) {
            Ok(()) => return Ok(()),
            Err(d) => {
                if d.rank() > relevant.rank() {
                    relevant = d;
                }
            }
        }
    }
    Err(relevant)
}

/// A user: a name and its current permissions.
#[derive(Debug)]
pub struct User {
    pub name: Bytes,
    state: RwLock<Arc<UserState>>,
    /// Deleted (ACL DELUSER, ACL LOAD): its clients fall back to the
    /// default user, unauthenticated, until their connection closes.
    deleted: AtomicBool,
}

impl User {
    fn new(name: &[u8], state: UserState) -> Arc<User> {
        Arc::new(User {
            name: Bytes::copy_from_slice(name),
            state: RwLock::new(Arc::new(state)),
            deleted: AtomicBool::new(false),
        })
    }

    pub fn state(&self) -> Arc<UserState> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, state: UserState) {
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(state);
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }
}

/// Redis's `ACL_DENIED_*` as the log names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where a refusal happened (Redis's `ACL_LOG_CTX_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

/// One ACL LOG entry (Redis's `ACLLogEntry`).
#[derive(Debug, Clone)]
pub struct LogEntry {
    count: u64,
    reason: Reason,
    context: Context,
    object: Bytes,
    username: Bytes,
    /// Unix milliseconds of the last occurrence.
    ctime: u64,
    client_info: String,
}

/// Entries within a minute of each other with the same reason, context,
/// object and user are one entry with a count.
const LOG_GROUPING_MS: u64 = 60_000;

/// Every user, the ACL log, and the epoch clients compare to know that
/// permissions changed.
pub struct Acl {
    users: RwLock<BTreeMap<Bytes, Arc<User>>>,
    default: Arc<User>,
    epoch: AtomicU64,
    log: Mutex<VecDeque<LogEntry>>,
}

impl Default for Acl {
    fn default() -> Self {
        Acl::new()
    }
}

/// Redis's `ACLMergeSelectorArguments`: a selector split over several
/// arguments (`(~a` `+get)`) joined into one; the index of an unmatched `(`
/// on failure.
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut merged = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, op) in args.iter().enumerate() {
        let closes = op.last() == Some(&b')');
        if let Some((_, selector)) = &mut open {
            selector.push(b' ');
            selector.extend_from_slice(op);
            if closes {
                if let Some((_, selector)) = open.take() {
                    merged.push(selector);
                }
            }
            continue;
        }
        if op.first() == Some(&b'(') && !closes {
            open = Some((j, op.to_vec()));
            continue;
        }
        merged.push(op.to_vec());
    }
    match open {
        Some((j, _)) => Err(j),
        None => Ok(merged),
    }
}

impl Acl {
    pub fn new() -> Acl {
        let default = User::new(b"default", UserState::default_user());
        let mut users = BTreeMap::new();
        users.insert(default.name.clone(), default.clone());
        Acl {
            users: RwLock::new(users),
            default,
            epoch: AtomicU64::new(1),
            log: Mutex::new(VecDeque::new()),
        }
    }

    /// Moves whenever any user changes: a client holding an older epoch
    /// re-reads its user's permissions.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    pub fn default_user(&self) -> Arc<User> {
        self.default.clone()
    }

    /// Redis's `authRequired` without the client: the default user needs a
    /// password or is off.
    pub fn default_requires_auth(&self) -> bool {
        let state = self.default.state();
        !state.nopass || !state.enabled
    }

    /// The default user is `nopass` (protected mode's condition).
    pub fn default_is_nopass(&self) -> bool {
        self.default.state().nopass
    }

    fn users(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Bytes, Arc<User>>> {
        self.users.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        self.users().get(name).cloned()
    }

    /// Every user in name order (ACL LIST, USERS, SAVE).
    pub fn all_users(&self) -> Vec<Arc<User>> {
        self.users().values().cloned().collect()
    }

    /// Redis's `ACLUpdateDefaultUserPassword` (`requirepass`).
    pub fn set_default_password(&self, password: Option<&[u8]>) {
        let mut state = (*self.default.state()).clone();
        state.passwords.clear();
        state.nopass = false;
        match password {
            Some(p) => {
                state.passwords.push(hash_password(p));
            }
            None => state.nopass = true,
        }
        self.default.replace(state.finish());
        self.changed();
    }

    /// Redis's `ACLCheckUserCredentials`: the user `name` if `password` opens it.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        let user = self.user(name)?;
        user.state().accepts(password).then_some(user)
    }

    /// Redis's `ACLStringSetUser`: applies `rules` to user `name` (created
    /// if missing) all or nothing. Returns the error text, and the user's
    /// permissions before and after (to drop subscribers that lost channels).
    pub fn set_user(
        &self,
        table: &CommandTable,
        name: &[u8],
        rules: &[&[u8]],
        pubsub_all: bool,
    ) -> Result<(Option<Arc<UserState>>, Arc<User>), String> {
        let merged = merge_selector_args(rules).map_err(|j| {
            format!(
                "Unmatched parenthesis in acl selector starting at '{}'.",
                String::from_utf8_lossy(rules[j])
            )
        })?;
        let mut users = self.users.write().unwrap_or_else(PoisonError::into_inner);
        let existing = users.get(name).cloned();
        let before = existing.as_ref().map(|u| u.state());
        let mut state = match &before {
            Some(s) => (**s).clone(),
            None => UserState::new(pubsub_all),
        };
        for rule in &merged {
            state.apply(table, rule, pubsub_all).map_err(|e| {
                format!(
                    "Error in ACL SETUSER modifier '{}': {}",
                    String::from_utf8_lossy(c_str(rule)),
                    e.message()
                )
            })?;
        }
        let state = state.finish();
        let user = match existing {
            Some(user) => {
                user.replace(state);
                user
            }
            None => {
                let user = User::new(name, state);
                users.insert(user.name.clone(), user.clone());
                user
            }
        };
        drop(users);
        self.changed();
        Ok((before, user))
    }

    /// ACL DELUSER of one user: the removed user, if it existed.
    pub fn delete_user(&self, name: &[u8]) -> Option<Arc<User>> {
        let user = self
            .users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)?;
        user.deleted.store(true, Ordering::Release);
        self.changed();
        Some(user)
    }

    /// Redis's `ACLLoadFromFile` after parsing: replaces every user but
    /// keeps the default user's identity (its permissions are the file's, or
    /// the built-in default's). Returns the users that were replaced.
    fn install(&self, mut users: BTreeMap<Bytes, UserState>) -> Vec<Arc<User>> {
        let default_state = users
            .remove(&b"default"[..])
            .unwrap_or_else(UserState::default_user);
        let mut map = self.users.write().unwrap_or_else(PoisonError::into_inner);
        let old: Vec<Arc<User>> = std::mem::take(&mut *map)
            .into_values()
            .filter(|u| !Arc::ptr_eq(u, &self.default))
            .collect();
        for u in &old {
            u.deleted.store(true, Ordering::Release);
        }
        self.default.replace(default_state);
        map.insert(self.default.name.clone(), self.default.clone());
        for (name, state) in users {
            map.insert(name.clone(), User::new(&name, state));
        }
        drop(map);
        self.changed();
        old
    }

    /// Parses an ACL file's text as Redis's `ACLLoadFromFile` does (every
    /// line checked, errors collected) and installs it if it has none.
    pub fn load_text(
        &self,
        table: &CommandTable,
        filename: &str,
        text: &[u8],
        pubsub_all: bool,
    ) -> Result<Vec<Arc<User>>, String> {
        let mut errors = String::new();
        let mut users: BTreeMap<Bytes, UserState> = BTreeMap::new();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let linenum = i + 1;
            let line = trim(line, b" \t\r\n");
            if line.is_empty() {
                continue;
            }
            let argv: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            if argv[0] != b"user" || argv.len() < 2 {
                errors.push_str(&format!(
                    "{filename}:{linenum} should start with user keyword followed by the username. "
                ));
                continue;
            }
            let name = argv[1];
            if has_spaces(name) || name.is_empty() {
                errors.push_str(&format!(
                    "'{filename}:{linenum}: username '{}' contains invalid characters. ",
                    String::from_utf8_lossy(name)
                ));
                continue;
            }
            if users.contains_key(name) {
                errors.push_str(&format!(
                    "WARNING: Duplicate user '{}' found on line {linenum}. ",
                    String::from_utf8_lossy(name)
                ));
                continue;
            }
            let mut state = UserState::new(pubsub_all);
            let merged = match merge_selector_args(&argv[2..]) {
                Ok(m) => m,
                Err(_) => {
                    errors.push_str(&format!(
                        "{filename}:{linenum}: Unmatched parenthesis in selector definition."
                    ));
                    Vec::new()
                }
            };
            let mut syntax_error = false;
            for rule in &merged {
                let rule = trim(rule, b"\t\r\n");
                if let Err(e) = state.apply(table, rule, pubsub_all) {
                    if e == RuleError::UnknownCommand {
                        errors.push_str(&format!(
                            "{filename}:{linenum}: Error in applying operation '{}': {}. ",
                            String::from_utf8_lossy(rule),
                            e.message()
                        ));
                    } else if !syntax_error {
                        errors.push_str(&format!("{filename}:{linenum}: {}. ", e.message()));
                        syntax_error = true;
                    }
                }
            }
            users.insert(Bytes::copy_from_slice(name), state.finish());
        }
        if !errors.is_empty() {
            errors.push_str(
                "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
            );
            return Err(errors);
        }
        Ok(self.install(users))
    }

    /// ACL LOAD and start-up with `aclfile`.
    pub fn load_file(
        &self,
        table: &CommandTable,
        filename: &str,
        path: &std::path::Path,
        pubsub_all: bool,
    ) -> Result<Vec<Arc<User>>, String> {
        let text = std::fs::read(path).map_err(|e| {
            format!(
                "Error loading ACLs, opening file '{filename}': {}",
                crate::config::strerror(&e)
            )
        })?;
        self.load_text(table, filename, &text, pubsub_all)
    }

    /// `user ...` lines of the config file, applied at start-up (Redis's
    /// `ACLLoadConfiguredUsers`); a `user default` line starts from `reset`.
    pub fn load_config_users(
        &self,
        table: &CommandTable,
        lines: &[Vec<Vec<u8>>],
        pubsub_all: bool,
    ) -> Result<(), String> {
        for line in lines {
            let Some((name, rules)) = line.split_first() else {
                continue;
            };
            if has_spaces(name) {
                return Err("Spaces not allowed in ACL usernames".into());
            }
            let rules: Vec<&[u8]> = rules.iter().map(Vec::as_slice).collect();
            let rules = merge_selector_args(&rules)
                .map_err(|_| "Unmatched parenthesis in selector definition.".to_string())?;
            let mut state = match self.user(name) {
                Some(_) => {
                    let mut s = UserState::new(pubsub_all);
                    let _ = s.apply(table, b"reset", pubsub_all);
                    s
                }
                None => UserState::new(pubsub_all),
            };
            for rule in &rules {
                state.apply(table, rule, pubsub_all).map_err(|e| {
                    format!(
                        "Error loading ACL rule '{}' for the user named '{}': {}",
                        String::from_utf8_lossy(rule),
                        String::from_utf8_lossy(name),
                        e.message()
                    )
                })?;
            }
            if !state.enabled {
                tracing::info!(
                    "The user '{}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.",
                    String::from_utf8_lossy(name)
                );
            }
            let state = state.finish();
            match self.user(name) {
                Some(user) => user.replace(state),
                None => {
                    let user = User::new(name, state);
                    self.users
                        .write()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(user.name.clone(), user);
                }
            }
        }
        self.changed();
        Ok(())
    }

    /// Checks the rules of a `user` line of the config file while it is
    /// read (Redis's `ACLAppendUserForLoading`): unknown commands are let
    /// through (they fail at start-up), other errors give the index of the
    /// rule, after joining selectors, and why.
    pub fn validate_config_user(
        table: &CommandTable,
        rules: &[&[u8]],
        pubsub_all: bool,
    ) -> Result<(), (usize, RuleError)> {
        // Redis reports an unmatched `(` with whatever `errno` was left:
        // an unknown command, in practice.
        let merged = merge_selector_args(rules).map_err(|j| (j, RuleError::UnknownCommand))?;
        let mut state = UserState::new(pubsub_all);
        for (j, rule) in merged.iter().enumerate() {
            match state.apply(table, rule, pubsub_all) {
                Err(e) if e != RuleError::UnknownCommand => return Err((j, e)),
                _ => {}
            }
        }
        Ok(())
    }

    fn log(&self) -> MutexGuard<'_, VecDeque<LogEntry>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Redis's `addACLLogEntry`.
    pub fn add_log(
        &self,
        reason: Reason,
        context: Context,
        object: Bytes,
        username: Bytes,
        client_info: String,
        max_len: u64,
    ) {
        let entry = LogEntry {
            count: 1,
            reason,
            context,
            object,
            username,
            ctime: crate::util::now_ms(),
            client_info,
        };
        let mut log = self.log();
        let found = log.iter().take(10).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && e.ctime.abs_diff(entry.ctime) <= LOG_GROUPING_MS
                && e.object == entry.object
                && e.username == entry.username
        });
        match found.and_then(|i| log.remove(i)) {
            Some(mut e) => {
                e.client_info = entry.client_info;
                e.ctime = entry.ctime;
                e.count += 1;
                log.push_front(e);
            }
            None => {
                log.push_front(entry);
                log.truncate(usize::try_from(max_len).unwrap_or(usize::MAX));
            }
        }
    }

    pub fn reset_log(&self) {
        self.log().clear();
    }

    /// ACL LOG [count]: the newest `count` entries.
    pub fn log_reply(&self, count: usize) -> crate::protocol::Reply {
        use crate::protocol::Reply;
        let now = crate::util::now_ms();
        Reply::Array(
            self.log()
                .iter()
                .take(count)
                .map(|e| {
                    Reply::Map(vec![
                        (Reply::bulk("count"), Reply::Integer(e.count as i64)),
                        (Reply::bulk("reason"), Reply::bulk(e.reason.name())),
                        (Reply::bulk("context"), Reply::bulk(e.context.name())),
                        (Reply::bulk("object"), Reply::Bulk(e.object.clone())),
                        (Reply::bulk("username"), Reply::Bulk(e.username.clone())),
                        (
                            Reply::bulk("age-seconds"),
                            Reply::Double(now.saturating_sub(e.ctime) as f64 / 1000.0),
                        ),
                        (
                            Reply::bulk("client-info"),
                            Reply::bulk(e.client_info.clone()),
                        ),
                    ])
                })
                .collect(),
        )
    }
}

/// Whether `before` → `after` took channels away (Redis's
/// `ACLKillPubsubClientsIfNeeded` shortcut): None when nothing can break,
/// otherwise the channel patterns now allowed.
pub fn narrowed_channels<'a>(before: &UserState, after: &'a UserState) -> Option<Vec<&'a [u8]>> {
    let upcoming = after.channel_patterns()?;
    let still = match before.channel_patterns() {
        None => false,
        Some(old) => old.iter().all(|c| upcoming.contains(c)),
    };
    (!still).then_some(upcoming)
}

/// Whether a subscriber's channels and patterns all stay allowed by `upcoming`.
pub fn subscriptions_allowed(upcoming: &[&[u8]], channels: &[Bytes], patterns: &[Bytes]) -> bool {
    let list: Vec<Vec<u8>> = upcoming.iter().map(|c| c.to_vec()).collect();
    patterns.iter().all(|p| channel_allowed(&list, p, true))
        && channels.iter().all(|c| channel_allowed(&list, c, false))
}

/// ACL SAVE's write: a temporary file renamed over `filename`, so the file
/// is never half written.
pub fn write_file(path: &std::path::Path, text: &[u8]) -> std::io::Result<()> {
    let tmp = format!(
        "{}.tmp-{}-{}",
        path.display(),
        std::process::id(),
        crate::util::now_ms()
    );
    let result = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Text up to the first NUL, as Redis's `%s` prints an argument.
fn c_str(s: &[u8]) -> &[u8] {
    s.iter().position(|&b| b == 0).map_or(s, |i| &s[..i])
}

fn trim<'a>(s: &'a [u8], set: &[u8]) -> &'a [u8] {
    let start = s.iter().position(|b| !set.contains(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !set.contains(b))
        .map_or(start, |i| i + 1);
    &s[start..end]
}

/// ACL GENPASS: `bits` random bits as lowercase hex, rounded up to whole digits.
pub fn genpass(bits: usize) -> String {
    (0..bits.div_ceil(4))
        .map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0'))
        .collect()
}

/// The category names for ACL CAT, in Redis's order.
pub fn category_names() -> impl Iterator<Item = &'static str> {
    AclCategories::all().map(|(_, name)| name)
}

/// ACL CAT category: the commands (and subcommands) in it.
pub fn commands_in(table: &CommandTable, category: &[u8]) -> Option<Vec<String>> {
    let category = AclCategories::from_name(&category.to_ascii_lowercase())?;
    Some(
        table
            .acl_entries()
            .iter()
            .filter(|e| e.categories.intersects(category))
            .map(|e| e.name.clone())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_selector_arguments() {
        let args: Vec<&[u8]> = vec![b"on", b"(~a", b"+get)", b"(+set)"];
        assert_eq!(
            merge_selector_args(&args),
            Ok(vec![
                b"on".to_vec(),
                b"(~a +get)".to_vec(),
                b"(+set)".to_vec()
            ])
        );
        let args: Vec<&[u8]> = vec![b"on", b"(~a"];
        assert_eq!(merge_selector_args(&args), Err(1));
    }

    #[test]
    fn password_hashes_are_sha256_hex() {
        assert_eq!(
            hash_password(b"foo"),
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        );
        assert!(valid_hash(hash_password(b"x").as_bytes()));
        assert!(!valid_hash(b"ABC"));
    }
}
