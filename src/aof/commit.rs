//! Group commit: replies wait for the AOF at the end of their event loop's
//! round, as Redis's `beforeSleep` writes (and with `appendfsync always`
//! fsyncs) the AOF buffer once per event loop iteration before any reply
//! of that iteration goes out.
//!
//! A connection about to write replies calls [`Aof::settle`]; when writes
//! it may show are not yet where its replies may rely on them (written, or
//! with `always` fsynced), it waits in its loop's list of waiters, a
//! thread-local: no lock, no cross-thread wake per request. When the loop
//! has run every ready task and is about to sleep, the runtime calls
//! [`end_of_round`] (tokio's `on_thread_park`, Redis's `beforeSleep`): one
//! `write(2)` of the buffer for every client of the round (and of the other
//! loops' rounds so far), then with `always` the fsync: on the loop itself
//! when it is about to sleep, no fsync runs and fsyncs are short
//! ([`Aof::sync_for_sleeping_loop`]), else one request to the fsync thread.
//! While the thread's fsync runs the loop serves the next clients, whose
//! writes the next fsync covers with those of every other loop (group
//! commit across loops). When an fsync completes, whoever ran it wakes
//! each loop that waits once ([`LoopSlot`]), and that loop releases its
//! waiters itself.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::{lock, Aof};

/// How the fsync thread reaches a loop whose clients wait: the waker of one
/// of them, taken (and woken) when an fsync completes, set again by the
/// loop while clients still wait.
#[derive(Default)]
pub(super) struct LoopSlot(Mutex<Option<Waker>>);

impl LoopSlot {
    /// Wakes the loop if it asked to be.
    pub(super) fn wake(&self) {
        if let Some(waker) = lock(&self.0).take() {
            waker.wake();
        }
    }
}

/// One event loop's clients waiting for the AOF.
#[derive(Default)]
struct Waiters {
    /// The server's AOF, and this loop's slot in it (registered on first use).
    aof: Option<(Arc<Aof>, Arc<LoopSlot>)>,
    /// Each waiting task's target offset, waker and ticket.
    waiting: Vec<Waiter>,
    /// The next waiter's ticket.
    next_ticket: u64,
    /// Offsets this loop's last round released without an fsync (any policy
    /// but `always`: replies need the bytes written, or the write attempted).
    released: u64,
    /// A task that ends the round is queued behind the round's ready tasks.
    round_end_queued: bool,
    /// A round's end asked for an fsync without waking the fsync thread,
    /// for the loop to run it when it sleeps ([`Aof::request_fsync_later`]):
    /// the next round's end, if the loop did not sleep first, wakes it.
    fsync_deferred: bool,
}

struct Waiter {
    target: u64,
    waker: Waker,
    /// Names the entry for its [`Settle`] (which removes it when dropped:
    /// a killed connection's wait).
    ticket: u64,
}

thread_local! {
    static WAITERS: RefCell<Waiters> = RefCell::default();
}

impl Waiters {
    /// The offset this loop's replies may rely on now.
    fn settled(&self, aof: &Aof) -> u64 {
        aof.durable.load(Ordering::Acquire).max(self.released)
    }

    /// Wakes the waiters whose bytes are settled, and has the fsync thread
    /// wake the loop when the others may be.
    fn release(&mut self) {
        let Some((aof, slot)) = self.aof.clone() else {
            return;
        };
        let settled = self.settled(&aof);
        self.wake_upto(settled);
        if let Some(first) = self.waiting.first() {
            *lock(&slot.0) = Some(first.waker.clone());
            // An fsync that completed before the slot was set did not see it.
            let settled = self.settled(&aof);
            self.wake_upto(settled);
        }
    }

    fn wake_upto(&mut self, settled: u64) {
        self.waiting.retain(|waiter| {
            let done = waiter.target <= settled;
            if done {
                waiter.waker.wake_by_ref();
            }
            !done
        });
    }
}

/// The end of a round, for a loop that never runs out of ready tasks: the
/// runtime calls its park hook only when it has nothing left to run (and
/// not when it merely polls for I/O between batches), so a loop kept busy
/// by other clients would hold its waiters back. A task queued behind the
/// tasks ready now ends the round when they have run, as Redis's
/// `beforeSleep` follows each iteration's events.
async fn round_end() {
    WAITERS.with(|waiters| waiters.borrow_mut().round_end_queued = false);
    end_round(false);
}

/// The runtime's hook before its loop sleeps (every event loop's runtime is
/// built with it): the loop has nothing else to run, so it runs the fsync
/// its clients wait for itself when none runs (Redis's `beforeSleep`).
pub fn end_of_round() {
    end_round(true);
}

/// Writes what this loop's waiting clients need, has their fsync run (on
/// this loop when it is about to sleep and no fsync runs, else on the fsync
/// thread, while the loop serves other clients), and releases those that
/// may go on.
fn end_round(sleeping: bool) {
    WAITERS.with(|waiters| {
        let mut waiters = waiters.borrow_mut();
        let Some(wanted) = waiters.waiting.iter().map(|waiter| waiter.target).max() else {
            return;
        };
        let Some((aof, _)) = waiters.aof.clone() else {
            return;
        };
        if wanted <= waiters.settled(&aof) {
            waiters.release();
            return;
        }
        if aof.written.load(Ordering::Acquire) < wanted {
            aof.write_pending(false);
        }
        if aof.must_sync() && aof.stats.last_write_ok.load(Ordering::Relaxed) {
            if sleeping {
                aof.sync_for_sleeping_loop(wanted);
                waiters.fsync_deferred = false;
            } else if aof.fsyncs_short() && !waiters.fsync_deferred {
                // The round's last task: the loop most likely sleeps next,
                // and then syncs itself (a thread woken now would find
                // nothing to do: two context switches for nothing).
                aof.request_fsync_later(wanted);
                waiters.fsync_deferred = true;
            } else {
                aof.request_fsync(wanted);
                waiters.fsync_deferred = false;
            }
        } else {
            // Written, or the write was postponed behind an everysec fsync
            // or failed: Redis sends the replies of the round regardless.
            waiters.released = waiters.released.max(wanted);
        }
        waiters.release();
    });
}

/// [`Aof::settle`]'s wait: ready once the loop's round released `target`.
pub(super) struct Settle {
    pub(super) aof: Arc<Aof>,
    pub(super) target: u64,
    /// Its ticket once in the loop's list.
    pub(super) queued: Option<u64>,
}

impl Future for Settle {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        WAITERS.with(|waiters| {
            let mut waiters = waiters.borrow_mut();
            if waiters.aof.is_none() {
                let slot = Arc::new(LoopSlot::default());
                lock(&self.aof.loops).push(slot.clone());
                waiters.aof = Some((self.aof.clone(), slot));
            }
            if self.target <= waiters.settled(&self.aof) {
                // Woken by the fsync thread: the loop's other waiters whose
                // fsync this was go on too (this one's entry with them).
                waiters.release();
                self.queued = None;
                return Poll::Ready(());
            }
            if self.queued.is_none() {
                let ticket = waiters.next_ticket;
                waiters.next_ticket += 1;
                self.queued = Some(ticket);
                waiters.waiting.push(Waiter {
                    target: self.target,
                    waker: cx.waker().clone(),
                    ticket,
                });
                if !waiters.round_end_queued {
                    waiters.round_end_queued = true;
                    tokio::spawn(round_end());
                }
            } else {
                // Polled again before its fsync: the loop's wake-up came
                // for others.
                waiters.release();
            }
            Poll::Pending
        })
    }
}

impl Drop for Settle {
    fn drop(&mut self) {
        if let Some(ticket) = self.queued {
            // Still listed when the wait was given up (the connection ended):
            // its waker must not be the one the fsync thread wakes.
            let _ = WAITERS.try_with(|waiters| {
                if let Ok(mut waiters) = waiters.try_borrow_mut() {
                    waiters.waiting.retain(|waiter| waiter.ticket != ticket);
                    waiters.release();
                }
            });
        }
    }
}
