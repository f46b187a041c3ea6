//! Clients blocked on keys (Redis's blocking.c): BLPOP, BLMOVE, BZPOPMIN, ...
//!
//! A blocking command first runs as its non-blocking form. When that finds
//! nothing, the handler queues the client on each of its keys ([`Blocking::wait`])
//! while it still holds the keys' locks, so no write can slip in between the
//! look and the queueing, and leaves a [`Pending`] for its connection. The
//! connection then waits on the client's [`BlockSignal`], its deadline and
//! its socket (a client that hangs up leaves at once).
//!
//! Any write that stores a key (`DbView::set_entry`: a push creating a list,
//! ZADD, RENAME, LMOVE into it, ...) marks it ready in its guard, and once the
//! writer's command (or whole EXEC) has released its locks the first client
//! queued on it is signalled ([`crate::keyspace::Guard::release`]). That
//! client re-runs its command through the normal execution path, taking the
//! locks itself. If someone else got there first it keeps its place. Whoever leaves a
//! queue (served, timed out, unblocked, gone) signals the next client on each
//! of its keys, so clients are served first come, first served, as Redis's
//! `serveClientsBlockedOnKey` serves them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

/// What a blocked client's connection is told (`BlockSignal::state`).
const IDLE: u8 = 0;
const BLOCKED: u8 = 1;
const UNBLOCK_TIMEOUT: u8 = 2;
const UNBLOCK_ERROR: u8 = 3;
const UNBLOCK_ROLE_CHANGE: u8 = 4;

/// How CLIENT UNBLOCK (or a change of role) ends a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unblock {
    /// As if the timeout passed (the null reply).
    Timeout,
    /// With `-UNBLOCKED client unblocked via CLIENT UNBLOCK`.
    Error,
    /// This server became a replica (Redis's
    /// `disconnectAllBlockedClients`): an `-UNBLOCKED` error, then the
    /// connection closes.
    RoleChange,
}

/// One client's wake-up call, shared with the queues and CLIENT UNBLOCK.
#[derive(Default)]
pub struct BlockSignal {
    notify: Notify,
    state: AtomicU8,
    /// The tickets of the writers whose wake-ups it has not answered yet.
    tickets: Mutex<Vec<Arc<Ticket>>>,
}

/// A writer's wait for the blocked clients its command woke (Redis's
/// `handleClientsBlockedOnKeys` runs before the writer's next command):
/// how many wake-ups on its behalf are not answered yet. Only writers wait
/// on tickets, never a blocked client, so no two connections wait on each
/// other.
#[derive(Default)]
pub struct Ticket {
    unanswered: AtomicUsize,
    answered: Notify,
}

impl Ticket {
    /// Waits until every client woken on this ticket tried its command or
    /// left its queues.
    pub async fn settled(&self) {
        loop {
            let notified = self.answered.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.unanswered.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    fn answer(&self) {
        if self.unanswered.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.answered.notify_waiters();
        }
    }
}

impl BlockSignal {
    /// Blocked on keys: CLIENT LIST flag `b`.
    pub fn is_blocked(&self) -> bool {
        self.state.load(Ordering::Acquire) != IDLE
    }

    /// CLIENT UNBLOCK: true when the client was blocked.
    pub fn unblock(&self, how: Unblock) -> bool {
        let to = match how {
            Unblock::Timeout => UNBLOCK_TIMEOUT,
            Unblock::Error => UNBLOCK_ERROR,
            Unblock::RoleChange => UNBLOCK_ROLE_CHANGE,
        };
        let done = self
            .state
            .compare_exchange(BLOCKED, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if done {
            self.notify.notify_one();
        }
        done
    }

    /// Waits for a key signal or CLIENT UNBLOCK; Some when unblocked.
    pub async fn woken(&self) -> Option<Unblock> {
        self.notify.notified().await;
        match self.state.load(Ordering::Acquire) {
            UNBLOCK_TIMEOUT => Some(Unblock::Timeout),
            UNBLOCK_ERROR => Some(Unblock::Error),
            UNBLOCK_ROLE_CHANGE => Some(Unblock::RoleChange),
            _ => None,
        }
    }

    fn tickets(&self) -> MutexGuard<'_, Vec<Arc<Ticket>>> {
        self.tickets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tickets of the wake-ups so far: a re-run answers them
    /// ([`answer`]) once it is done, or hands them on ([`Blocking::pass_on`],
    /// [`Blocking::leave`]). Later wake-ups wait for the next re-run.
    pub fn take_tickets(&self) -> Vec<Arc<Ticket>> {
        std::mem::take(&mut *self.tickets())
    }

    /// Wakes the client on behalf of `ticket`'s writer. Called under the
    /// queues' lock, so a client that leaves its queues answers every
    /// wake-up it got.
    fn wake(&self, ticket: &Arc<Ticket>) {
        ticket.unanswered.fetch_add(1, Ordering::AcqRel);
        self.tickets().push(ticket.clone());
        self.notify.notify_one();
    }
}

/// Answers the wake-ups of `tickets`.
pub fn answer(tickets: Vec<Arc<Ticket>>) {
    tickets.iter().for_each(|t| t.answer());
}

/// What a handler leaves for its connection when it found nothing to pop.
pub struct Pending {
    /// None waits forever (timeout 0).
    pub deadline: Option<Instant>,
}

/// A client's blocking state, owned by its connection task.
#[derive(Default)]
pub struct ClientBlock {
    /// Set by a handler that queued the client; taken by the connection.
    pub pending: Option<Pending>,
    /// The (db, key) queues the client is in.
    keys: Vec<(usize, Bytes)>,
    /// Set by a re-run that failed for a reason other than the type of the
    /// keys it waits on (BLMOVE into a destination of another type): the
    /// error ends the wait, as Redis serves such a client its error.
    final_error: bool,
    /// XREAD/XREADGROUP: the IDs the client waits to pass, resolved when it
    /// first blocked (`$` is the last ID then, not at a re-run), and the
    /// COUNT it is served with (Redis's `bpop.xread_count`).
    pub stream: Option<StreamWait>,
    /// While a re-run runs: the tickets of the wake-ups it answers.
    pub tickets: Vec<Arc<Ticket>>,
}

impl ClientBlock {
    const EMPTY: ClientBlock = ClientBlock {
        pending: None,
        keys: Vec::new(),
        final_error: false,
        stream: None,
        tickets: Vec::new(),
    };
}

/// What a client that never blocked reads as its blocking state.
static NEVER_BLOCKED: ClientBlock = ClientBlock::EMPTY;

/// A client's [`ClientBlock`], allocated the first time it is written (the
/// client blocks): most clients never do, and every connection, idle ones
/// included, carries this field. Reading it before shows an empty state.
#[derive(Default)]
pub struct LazyBlock(Option<Box<ClientBlock>>);

impl LazyBlock {
    /// Takes the state out (a closing connection), allocating nothing.
    pub fn take(&mut self) -> ClientBlock {
        self.0.take().map_or(ClientBlock::EMPTY, |block| *block)
    }
}

impl std::ops::Deref for LazyBlock {
    type Target = ClientBlock;

    fn deref(&self) -> &ClientBlock {
        self.0.as_deref().unwrap_or(&NEVER_BLOCKED)
    }
}

impl std::ops::DerefMut for LazyBlock {
    fn deref_mut(&mut self) -> &mut ClientBlock {
        self.0.get_or_insert_with(Box::default)
    }
}

/// What a blocked XREAD/XREADGROUP remembers between its runs.
pub struct StreamWait {
    pub ids: Vec<crate::types::stream::StreamId>,
    pub count: u64,
}

impl ClientBlock {
    /// Whether the client sits in some queue: its command is a re-run after
    /// a wake-up.
    pub fn is_queued(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The error of this re-run is the client's reply: it stops waiting.
    pub fn end_with_error(&mut self) {
        self.final_error = true;
    }

    /// Whether [`ClientBlock::end_with_error`] marked this re-run.
    pub fn ends_with_error(&self) -> bool {
        self.final_error
    }

    /// Takes the mark left by [`ClientBlock::end_with_error`].
    pub fn take_final_error(&mut self) -> bool {
        std::mem::take(&mut self.final_error)
    }
}

type Queue = VecDeque<(u64, Arc<BlockSignal>)>;

/// Wakes `next` on behalf of every writer of `tickets` (just a wake-up
/// when there is none: a client that timed out or was unblocked).
fn wake_for(next: &BlockSignal, tickets: &[Arc<Ticket>]) {
    if tickets.is_empty() {
        next.notify.notify_one();
    }
    for ticket in tickets {
        next.wake(ticket);
    }
}

/// The queues of clients blocked on each (db, key), and how many clients block.
#[derive(Default)]
pub struct Blocking {
    queues: Mutex<HashMap<(usize, Bytes), Queue>>,
    /// Keys with a queue: writes skip the lock while it is zero.
    queued_keys: AtomicUsize,
    /// INFO `blocked_clients`.
    blocked: AtomicUsize,
}

impl Blocking {
    fn queues(&self) -> MutexGuard<'_, HashMap<(usize, Bytes), Queue>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// INFO `blocked_clients`.
    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }

    /// Queues client `id` on `keys` of `db` (keeping its place where it is
    /// queued already, as a client re-running its command after a wake-up is)
    /// and records the wait for its connection. The caller holds the keys' locks.
    pub fn wait(
        &self,
        id: u64,
        signal: &Arc<BlockSignal>,
        block: &mut ClientBlock,
        db: usize,
        keys: &[&[u8]],
        deadline: Option<Instant>,
    ) {
        let mut queues = self.queues();
        for key in keys {
            let slot = (db, Bytes::copy_from_slice(key));
            if block.keys.contains(&slot) {
                continue;
            }
            let queue = queues.entry(slot.clone()).or_insert_with(|| {
                self.queued_keys.fetch_add(1, Ordering::Relaxed);
                VecDeque::new()
            });
            queue.push_back((id, signal.clone()));
            block.keys.push(slot);
        }
        if signal
            .state
            .compare_exchange(IDLE, BLOCKED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.blocked.fetch_add(1, Ordering::Relaxed);
        }
        block.pending = Some(Pending { deadline });
    }

    /// Whether any client is queued on a key: writes record stored keys
    /// only then.
    pub fn any(&self) -> bool {
        self.queued_keys.load(Ordering::Relaxed) != 0
    }

    /// Redis's `signalKeyAsReady`: `key` of `db` now holds a value, so the
    /// first client queued on it tries again, on `ticket`'s behalf.
    pub fn signal(&self, db: usize, key: &[u8], ticket: &Arc<Ticket>) {
        let queues = self.queues();
        if let Some((_, first)) = queues
            .get(&(db, Bytes::copy_from_slice(key)))
            .and_then(|q| q.front())
        {
            first.wake(ticket);
        }
    }

    /// Every key of `db` may have changed (SWAPDB): the first client queued
    /// on each key tries again; those whose keys are still empty keep waiting.
    pub fn signal_db(&self, db: usize, ticket: &Arc<Ticket>) {
        let queues = self.queues();
        for (_, queue) in queues.iter().filter(|((d, _), _)| *d == db) {
            if let Some((_, first)) = queue.front() {
                first.wake(ticket);
            }
        }
    }

    /// Client `id` was woken but the key holds another type (a BLPOP woken
    /// by a ZADD): it keeps waiting, as in Redis, and the client behind it on
    /// each of its keys tries instead (for the writers whose tickets the
    /// re-run holds), so a BZPOPMIN further back is served.
    pub fn pass_on(&self, id: u64, block: &ClientBlock) {
        let queues = self.queues();
        for slot in &block.keys {
            let Some(queue) = queues.get(slot) else {
                continue;
            };
            let behind = queue.iter().skip_while(|(who, _)| *who != id).nth(1);
            if let Some((_, next)) = behind {
                wake_for(next, &block.tickets);
            }
        }
    }

    /// Takes client `id` out of every queue it is in (served, timed out,
    /// unblocked or gone) and signals the next client on each of those keys,
    /// which may now be first in line for a value still there; the writers
    /// whose wake-ups brought it here (`tickets`, and those it had not
    /// tried yet) wait for those clients instead.
    pub fn leave(
        &self,
        id: u64,
        signal: &BlockSignal,
        block: &mut ClientBlock,
        mut tickets: Vec<Arc<Ticket>>,
    ) {
        block.pending = None;
        block.stream = None;
        if block.keys.is_empty() {
            tickets.append(&mut signal.take_tickets());
            answer(tickets);
            return;
        }
        let mut queues = self.queues();
        tickets.append(&mut signal.take_tickets());
        for slot in block.keys.drain(..) {
            let Some(queue) = queues.get_mut(&slot) else {
                continue;
            };
            queue.retain(|(who, _)| *who != id);
            match queue.front() {
                Some((_, next)) => wake_for(next, &tickets),
                None => {
                    queues.remove(&slot);
                    self.queued_keys.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
        if signal.state.swap(IDLE, Ordering::AcqRel) != IDLE {
            self.blocked.fetch_sub(1, Ordering::Relaxed);
        }
        drop(queues);
        answer(tickets);
    }
}
