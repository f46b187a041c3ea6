//! Propagation: the stream of write commands that replicas and the AOF replay
//! (Redis's `alsoPropagate`, `propagatePendingCommands`, `propagateNow`).
//!
//! A command's effects record ([`crate::keyspace::Effects`]) collects the
//! [`Op`]s of one *unit*: a command, or a whole EXEC, or one step of active
//! expiry. Handlers never write the stream; they only say what to write
//! instead of their own arguments when those would not replay the same
//! (`SET k v EX 10` becomes `SET k v PXAT <ms>`, `SPOP` becomes `SREM`s, see
//! [`crate::commands::Ctx::propagate_as`]). `commands::call` appends the
//! command itself when it changed something; lazy expiry appends the `DEL`s.
//! When the guard that ran the unit is released, the unit goes to
//! [`Propagation::feed`] **while the shard locks are still held**: two units
//! that touch the same key hold the same shard lock, so they reach the
//! stream in the order they executed, whichever event loops ran them.
//! Units over disjoint keys may interleave in any order, as they commute.
//!
//! The stream is written as Redis writes it: RESP arrays of bulk strings,
//! a `SELECT` whenever an op's database differs from the one the sink last
//! selected, a unit of more than one op wrapped in `MULTI` ... `EXEC`
//! (the `MULTI` in the first op's database, the `EXEC` in the last's), except
//! for active expiry's batches (Redis's `propagate_no_multi`).
//!
//! With no sink attached (no replica, no AOF) nothing is collected at all:
//! [`Propagation::active`] is one atomic load per command.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::Config;

/// Where an op goes (Redis's `PROPAGATE_AOF` / `PROPAGATE_REPL`): PUBLISH
/// reaches replicas but not the AOF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target(u8);

impl Target {
    pub const AOF: Target = Target(1);
    pub const REPL: Target = Target(2);
    pub const ALL: Target = Target(3);

    pub const NONE: Target = Target(0);

    pub fn includes(self, other: Target) -> bool {
        self.0 & other.0 != 0
    }

    pub fn intersect(self, other: Target) -> Target {
        Target(self.0 & other.0)
    }

    pub fn is_none(self) -> bool {
        self.0 == 0
    }

    /// From Redis's `PROPAGATE_AOF` (1) | `PROPAGATE_REPL` (2) bits.
    pub fn from_bits(bits: u8) -> Target {
        Target(bits & 3)
    }
}

/// One command of the stream, in database `db`, encoded as it is written
/// (a RESP array of bulk strings) when the command runs: one allocation,
/// where keeping its arguments took one per argument and another for their
/// list, and the stream's readers only ever copy these bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub db: usize,
    pub command: Vec<u8>,
    pub target: Target,
}

impl Op {
    /// The command `args` in database `db`, for every reader.
    pub fn new<A: AsRef<[u8]>>(db: usize, args: &[A]) -> Op {
        Op::with_target(db, args, Target::ALL)
    }

    pub fn with_target<A: AsRef<[u8]>>(db: usize, args: &[A], target: Target) -> Op {
        let size = 16
            + args
                .iter()
                .map(|arg| arg.as_ref().len() + 16)
                .sum::<usize>();
        let mut command = Vec::with_capacity(size);
        write_command(&mut command, args);
        Op {
            db,
            command,
            target,
        }
    }
}

/// How Redis propagates a key's removal: UNLINK when the matching
/// `lazyfree-lazy-*` setting is on, else DEL.
pub fn deletion(lazy: bool) -> &'static [u8] {
    if lazy {
        b"UNLINK"
    } else {
        b"DEL"
    }
}

/// A reader of the stream: the replicas' link, later the AOF.
pub trait Sink: Send {
    /// The ops this sink takes.
    fn target(&self) -> Target;
    /// A unit's part of the stream, SELECTs and MULTI/EXEC included.
    fn append(&mut self, stream: &[u8]);
}

/// A sink with the database its stream last selected (None: a SELECT comes
/// first), as Redis keeps `slaveseldb` and `aof_selected_db`.
struct Attached {
    id: u64,
    sink: Box<dyn Sink>,
    selected: Option<usize>,
}

#[derive(Default)]
struct Sinks {
    next_id: u64,
    list: Vec<Attached>,
    /// Where a unit's stream is built for each sink, kept between units
    /// (up to [`SCRATCH_KEPT`] bytes) so feeding one allocates nothing.
    scratch: Vec<u8>,
}

/// The most [`Sinks::scratch`] keeps between units.
const SCRATCH_KEPT: usize = 64 * 1024;

/// The sinks, and the rules that turn units of ops into their streams.
pub struct Propagation {
    config: Arc<Config>,
    /// How many sinks are attached: zero means nothing is collected.
    active: AtomicUsize,
    sinks: Mutex<Sinks>,
}

impl Propagation {
    pub fn new(config: Arc<Config>) -> Propagation {
        Propagation {
            config,
            active: AtomicUsize::new(0),
            sinks: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Sinks> {
        self.sinks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether anyone reads the stream: when not, commands collect no ops.
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    /// Starts feeding `sink`; its stream begins with a SELECT. Attach while
    /// holding the locks of whatever snapshot the sink starts from, so no
    /// unit falls between the snapshot and the stream.
    pub fn attach(&self, sink: Box<dyn Sink>) -> u64 {
        let mut sinks = self.lock();
        sinks.next_id += 1;
        let id = sinks.next_id;
        sinks.list.push(Attached {
            id,
            sink,
            selected: None,
        });
        self.active.store(sinks.list.len(), Ordering::Relaxed);
        id
    }

    pub fn detach(&self, id: u64) {
        let mut sinks = self.lock();
        sinks.list.retain(|a| a.id != id);
        self.active.store(sinks.list.len(), Ordering::Relaxed);
    }

    /// The sink's next unit starts with a SELECT (a new AOF file must, as
    /// Redis resets `aof_selected_db`).
    pub fn reselect(&self, id: u64) {
        let mut sinks = self.lock();
        if let Some(attached) = sinks.list.iter_mut().find(|a| a.id == id) {
            attached.selected = None;
        }
    }

    /// The op that removes a key whose TTL passed (Redis's
    /// `propagateDeletion`): UNLINK under `lazyfree-lazy-expire`, else DEL.
    pub fn expired_key(&self, db: usize, key: &[u8]) -> Op {
        let verb = deletion(self.config.lazyfree_lazy_expire());
        Op::new(db, &[verb, key])
    }

    /// Writes one unit to every sink. `wrap`: a unit of more than one op is
    /// a transaction (false for active expiry's batches of DELs).
    pub fn feed(&self, ops: &[Op], wrap: bool) {
        if ops.is_empty() {
            return;
        }
        let transaction = wrap && ops.len() > 1;
        let mut sinks = self.lock();
        // Room for the whole unit at once (headers, SELECT, MULTI/EXEC),
        // not a dozen reallocations as it grows.
        let size: usize = ops.iter().map(|op| op.command.len() + 32).sum();
        let sinks = &mut *sinks;
        let stream = &mut sinks.scratch;
        stream.reserve(size + 64);
        for attached in &mut sinks.list {
            stream.clear();
            let target = attached.sink.target();
            let mut selected = attached.selected;
            if transaction {
                select(stream, &mut selected, ops[0].db);
                write_command(stream, &[b"MULTI"]);
            }
            for op in ops.iter().filter(|op| op.target.includes(target)) {
                select(stream, &mut selected, op.db);
                stream.extend_from_slice(&op.command);
            }
            if transaction {
                // In the last op's database, so no SELECT comes before EXEC.
                select(stream, &mut selected, ops[ops.len() - 1].db);
                write_command(stream, &[b"EXEC"]);
            }
            attached.selected = selected;
            attached.sink.append(stream);
        }
        stream.clear();
        if stream.capacity() > SCRATCH_KEPT {
            *stream = Vec::new();
        }
    }
}

/// Appends a SELECT when `db` is not the one selected.
fn select(out: &mut Vec<u8>, selected: &mut Option<usize>, db: usize) {
    if *selected != Some(db) {
        let index = db.to_string();
        write_command(out, &[b"SELECT".as_slice(), index.as_bytes()]);
        *selected = Some(db);
    }
}

/// `*<n>\r\n` then `$<len>\r\n<arg>\r\n` per argument.
pub fn write_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    let mut n = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(n.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        let arg = arg.as_ref();
        out.push(b'$');
        out.extend_from_slice(n.format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// A sink keeping its stream in memory, for tests.
#[derive(Clone, Default)]
pub struct MemorySink {
    pub stream: Arc<Mutex<Vec<u8>>>,
}

impl Sink for MemorySink {
    fn target(&self) -> Target {
        Target::ALL
    }

    fn append(&mut self, stream: &[u8]) {
        self.stream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(stream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(db: usize, args: &[&'static str]) -> Op {
        Op::new(db, args)
    }

    #[test]
    fn units_are_selected_and_wrapped_as_redis_writes_them() {
        let propagation = Propagation::new(Arc::new(Config::default()));
        assert!(!propagation.active());
        let sink = MemorySink::default();
        let id = propagation.attach(Box::new(sink.clone()));
        assert!(propagation.active());
        propagation.feed(&[op(0, &["set", "a", "1"])], true);
        propagation.feed(&[op(0, &["DEL", "k"]), op(2, &["set", "k", "v"])], true);
        propagation.feed(&[op(2, &["DEL", "x"]), op(2, &["DEL", "y"])], false);
        let expected = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n\
             *1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n\
             *2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nEXEC\r\n\
             *2\r\n$3\r\nDEL\r\n$1\r\nx\r\n*2\r\n$3\r\nDEL\r\n$1\r\ny\r\n";
        assert_eq!(
            String::from_utf8_lossy(&sink.stream.lock().unwrap()),
            expected
        );
        propagation.detach(id);
        assert!(!propagation.active());
    }
}
