//! `used_memory`, counted as Redis's zmalloc counts it: the usable size of
//! every live allocation (jemalloc's size class, what its `stats.allocated`
//! sums), kept up to date by the global allocator itself.
//!
//! `maxmemory` is checked before every command once it is set, so reading
//! the figure must cost next to nothing. jemalloc's own `stats.allocated`
//! is exact but needs an epoch advance, which merges every arena's
//! statistics under their locks (microseconds); Redis keeps an atomic
//! counter in `zmalloc` for the same reason. One counter shared by every
//! thread made each allocation fight the other cores for its cache line
//! (a fifth of XRANGE's CPU), so each thread adds to a slot of its own, on
//! its own cache line, with a plain load and store, and the reader sums the
//! slots: always exact, as every add lands at once. (Per-thread counters flushed in batches were
//! tried before: a reader then missed what other threads had not flushed,
//! and the limit check drifted by kilobytes, more than Redis's tests allow.)

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};

use tikv_jemallocator::Jemalloc;

use crate::types::memory::alloc_size;

/// Counter slots. Each thread takes one of its own, written by it alone,
/// so its adds need no atomic read-modify-write (a `lock` add was half of
/// a free's cost even uncontended); threads past the first `SLOTS - 1`
/// (the blocking pool's come and go) share the last slot with atomic adds.
const SLOTS: usize = 128;
const SHARED: usize = SLOTS - 1;

/// One thread's bytes allocated minus freed, alone on its cache line.
#[repr(align(128))]
struct Slot(AtomicIsize);

/// Bytes allocated now, by every thread: the sum of the slots.
static USED: [Slot; SLOTS] = [const { Slot(AtomicIsize::new(0)) }; SLOTS];
/// Slots handed out so far (the reader sums no more than these).
static SLOTS_TAKEN: AtomicUsize = AtomicUsize::new(0);
/// Whether [`Counting`] is the global allocator (not in unit tests).
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's slot, `usize::MAX` until its first allocation. Const
    /// and without a destructor, so reading it never allocates.
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// jemalloc, counting what it hands out (reddish-server's global allocator).
pub struct Counting;

fn count(delta: isize) {
    let slot = MY_SLOT
        .try_with(|mine| {
            let mut slot = mine.get();
            if slot == usize::MAX {
                slot = SLOTS_TAKEN.fetch_add(1, Ordering::Relaxed).min(SHARED);
                mine.set(slot);
            }
            slot
        })
        .unwrap_or(SHARED);
    let used = &USED[slot].0;
    if slot == SHARED {
        used.fetch_add(delta, Ordering::Relaxed);
    } else {
        // The only writer of this slot: readers see the old or the new sum.
        used.store(used.load(Ordering::Relaxed) + delta, Ordering::Relaxed);
    }
}

/// Bytes allocated now: the sum of the slots in use.
fn used() -> isize {
    let own = SLOTS_TAKEN.load(Ordering::Relaxed).min(SHARED);
    let sum: isize = USED[..own]
        .iter()
        .map(|slot| slot.0.load(Ordering::Relaxed))
        .sum();
    sum + USED[SHARED].0.load(Ordering::Relaxed)
}

/// The usable size jemalloc gives an allocation of `size` bytes aligned to
/// `align`: what `malloc_usable_size` would say of the pointer, without
/// looking the pointer up (that lookup was a fifth of a Lua script's CPU,
/// which allocates on every call). Plain layouts get the size class
/// [`alloc_size`] computes; over-aligned ones are asked of `nallocx` with
/// the flags tikv-jemallocator passes for them.
fn usable(size: usize, align: usize) -> isize {
    if align <= 16 && align <= size {
        return alloc_size(size) as isize;
    }
    // SAFETY: `nallocx` only computes a size; any arguments are valid.
    unsafe { tikv_jemalloc_sys::nallocx(size, tikv_jemalloc_sys::MALLOCX_ALIGN(align)) as isize }
}

// SAFETY: every call is forwarded to jemalloc unchanged; the counting only
// computes the size classes of the layouts it is given.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = Jemalloc.alloc(layout);
        if !ptr.is_null() {
            count(usable(layout.size(), layout.align()));
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = Jemalloc.alloc_zeroed(layout);
        if !ptr.is_null() {
            count(usable(layout.size(), layout.align()));
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-usable(layout.size(), layout.align()));
        Jemalloc.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Jemalloc.realloc(ptr, layout, new_size);
        if !new.is_null() {
            let old = usable(layout.size(), layout.align());
            count(usable(new_size, layout.align()) - old);
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
    Some(used().max(0) as u64)
}

/// jemalloc's count of allocated bytes, fresh (its statistics are cached
/// until the epoch advances); None if jemalloc is not keeping them.
fn jemalloc_allocated() -> Option<u64> {
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    let allocated = tikv_jemalloc_ctl::stats::allocated::read().ok()?;
    (allocated > 0).then_some(allocated as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size classes computed for a layout are what jemalloc reports of
    /// the pointer, through allocation and growing and shrinking reallocs,
    /// small and large, aligned or not.
    #[test]
    fn computed_usable_sizes_are_jemallocs() {
        let sizes = [
            1,
            7,
            8,
            15,
            16,
            17,
            24,
            80,
            100,
            1000,
            4096,
            5000,
            20_000,
            100_000,
            3 << 20,
        ];
        for align in [1, 8, 16, 32, 64, 4096] {
            for &size in &sizes {
                let layout = Layout::from_size_align(size, align).expect("layout");
                // SAFETY: a non-zero layout; the pointer is checked, used
                // with the same layout, and freed once.
                unsafe {
                    let mut ptr = Jemalloc.alloc(layout);
                    assert!(!ptr.is_null());
                    let reported = tikv_jemallocator::usable_size(ptr) as isize;
                    assert_eq!(usable(size, align), reported, "{size} {align}");
                    for &new_size in &sizes {
                        let ptr2 = Jemalloc.realloc(ptr, layout, new_size);
                        assert!(!ptr2.is_null());
                        let reported = tikv_jemallocator::usable_size(ptr2) as isize;
                        assert_eq!(
                            usable(new_size, align),
                            reported,
                            "{size}->{new_size} {align}"
                        );
                        let layout2 = Layout::from_size_align(new_size, align).expect("layout");
                        Jemalloc.dealloc(ptr2, layout2);
                        ptr = Jemalloc.alloc(layout);
                        assert!(!ptr.is_null());
                    }
                    Jemalloc.dealloc(ptr, layout);
                }
            }
        }
    }
}
