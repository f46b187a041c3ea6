//! `used_memory`, counted as Redis's zmalloc counts it: the usable size of
//! every live allocation (jemalloc's size class, what its `stats.allocated`
//! sums), kept up to date by the global allocator itself.
//!
//! `maxmemory` is checked before every command once it is set, so reading
//! the figure must cost next to nothing. jemalloc's own `stats.allocated`
//! is exact but needs an epoch advance, which merges every arena's
//! statistics under their locks (microseconds); Redis keeps an atomic
//! counter in `zmalloc` for the same reason. We do the same, except that
//! each thread gathers its changes locally and adds them to the shared
//! counter per [`FLUSH_BYTES`], so the event loops do not fight over one
//! cache line on every allocation. A reading is the shared counter plus
//! the reader's own pending bytes: exact for the thread that reads (the
//! one evicting), and off by less than [`FLUSH_BYTES`] per other thread.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

use tikv_jemallocator::Jemalloc;

/// How far a thread's count may drift before it is added to [`USED`].
const FLUSH_BYTES: isize = 8 * 1024;

/// Bytes allocated by every thread, as of their last flush.
static USED: AtomicIsize = AtomicIsize::new(0);
/// Whether [`Counting`] is the global allocator (not in unit tests).
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's change since its last flush. A const `Cell` of a
    /// plain integer: no destructor, no lazy initialisation, so reading
    /// it from inside the allocator cannot allocate or recurse.
    static PENDING: Cell<isize> = const { Cell::new(0) };
}

/// jemalloc, counting what it hands out (reddish-server's global allocator).
pub struct Counting;

fn count(delta: isize) {
    let flushed = PENDING.try_with(|pending| {
        let now = pending.get() + delta;
        if now.abs() >= FLUSH_BYTES {
            USED.fetch_add(now, Ordering::Relaxed);
            pending.set(0);
        } else {
            pending.set(now);
        }
    });
    if flushed.is_err() {
        // The thread is being torn down: count directly.
        USED.fetch_add(delta, Ordering::Relaxed);
    }
}

/// The usable size of a live allocation jemalloc made.
///
/// # Safety
/// `ptr` must come from jemalloc and not be freed yet.
unsafe fn usable(ptr: *mut u8) -> isize {
    // SAFETY: as the caller promises.
    unsafe { tikv_jemallocator::usable_size(ptr) as isize }
}

// SAFETY: every call is forwarded to jemalloc unchanged; the counting only
// reads the usable size of pointers jemalloc itself returned and not yet freed.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = Jemalloc.alloc(layout);
        if !ptr.is_null() {
            count(usable(ptr));
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = Jemalloc.alloc_zeroed(layout);
        if !ptr.is_null() {
            count(usable(ptr));
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-usable(ptr));
        Jemalloc.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = usable(ptr);
        let new = Jemalloc.realloc(ptr, layout, new_size);
        if !new.is_null() {
            count(usable(new) - old);
        }
        new
    }
}

impl Counting {
    /// Marks the counter as the source of `used_memory`. Call once at
    /// start-up, from the binary that installed [`Counting`].
    pub fn install(&self) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
}

/// Redis's `zmalloc_used_memory`: bytes allocated now. Where [`Counting`]
/// is not the global allocator (tests of the library), jemalloc's own
/// statistics if it keeps them, else None.
pub fn used_memory() -> Option<u64> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return jemalloc_allocated();
    }
    let mine = PENDING.try_with(Cell::get).unwrap_or(0);
    Some((USED.load(Ordering::Relaxed) + mine).max(0) as u64)
}

/// jemalloc's count of allocated bytes, fresh (its statistics are cached
/// until the epoch advances); None if jemalloc is not keeping them.
fn jemalloc_allocated() -> Option<u64> {
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    let allocated = tikv_jemalloc_ctl::stats::allocated::read().ok()?;
    (allocated > 0).then_some(allocated as u64)
}
