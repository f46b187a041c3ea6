//! `used_memory`, counted as Redis's zmalloc counts it: the usable size of
//! every live allocation (jemalloc's size class, what its `stats.allocated`
//! sums), kept up to date by the global allocator itself.
//!
//! `maxmemory` is checked before every command once it is set, so reading
//! the figure must cost next to nothing. jemalloc's own `stats.allocated`
//! is exact but needs an epoch advance, which merges every arena's
//! statistics under their locks (microseconds); Redis keeps an atomic
//! counter in `zmalloc` for the same reason, and so do we: one relaxed
//! add per allocation. (Per-thread counters flushed in batches were tried:
//! a reader then misses what other threads have not flushed, and the
//! limit check drifted by kilobytes, more than Redis's tests allow.)

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

use tikv_jemallocator::Jemalloc;

/// Bytes allocated now, by every thread.
static USED: AtomicIsize = AtomicIsize::new(0);
/// Whether [`Counting`] is the global allocator (not in unit tests).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// jemalloc, counting what it hands out (reddish-server's global allocator).
pub struct Counting;

fn count(delta: isize) {
    USED.fetch_add(delta, Ordering::Relaxed);
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
    Some(USED.load(Ordering::Relaxed).max(0) as u64)
}

/// jemalloc's count of allocated bytes, fresh (its statistics are cached
/// until the epoch advances); None if jemalloc is not keeping them.
fn jemalloc_allocated() -> Option<u64> {
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    let allocated = tikv_jemalloc_ctl::stats::allocated::read().ok()?;
    (allocated > 0).then_some(allocated as u64)
}
