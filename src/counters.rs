//! Statistics kept on the request path without atomic read-modify-writes,
//! and the cheap clock that times commands.
//!
//! Every request bumps a few counters (INFO's `total_commands_processed`,
//! `keyspace_hits`, its command's `calls` and `usec`). An atomic
//! `fetch_add` is a locked instruction on the hot path, and several event
//! loops adding to one cache line would contend for it. So a
//! [`LoopCounters`] has one cache line per event loop: a loop adds to its
//! own with a plain load and store (it is the only writer), and INFO sums
//! the loops when it reads. Threads that are not event loops (tests,
//! background work) share one more slot and use real atomic adds.
//! CONFIG RESETSTAT does not write the slots (a loop's store could undo
//! it): it remembers the sums as a base that reads subtract.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

thread_local! {
    /// The event loop this thread runs (usize::MAX: none).
    static LOOP: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// How many event loops counters made from now on have a slot for.
static LOOPS: AtomicUsize = AtomicUsize::new(1);

/// Sets the number of event loops (`io-threads`, fixed for the process's
/// life), before the server makes its counters. A loop beyond it would
/// share the slot of non-loop threads: still counted, just with atomics.
pub fn set_loops(loops: usize) {
    LOOPS.store(loops.max(1), Ordering::Relaxed);
}

/// Marks the calling thread as event loop `index` for the rest of its life:
/// from now on it writes its own slot of every [`LoopCounters`].
pub fn enter_loop(index: usize) {
    LOOP.with(|l| l.set(index));
}

/// `N` counters in one cache line.
#[repr(align(64))]
struct Slot<const N: usize>([AtomicU64; N]);

impl<const N: usize> Default for Slot<N> {
    fn default() -> Self {
        Slot(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// `N` counters, one slot per event loop plus a shared one, then the sums
/// at the last reset, all in one allocation: held inline, a cache-aligned
/// slot made every command table entry 64-byte aligned and 0.2 MB of
/// `used_memory` in all.
pub struct LoopCounters<const N: usize> {
    slots: Box<[Slot<N>]>,
}

impl<const N: usize> LoopCounters<N> {
    /// Counters with a slot for each event loop (see [`set_loops`]).
    pub fn new() -> Self {
        let loops = LOOPS.load(Ordering::Relaxed);
        LoopCounters {
            slots: (0..loops + 2).map(|_| Slot::default()).collect(),
        }
    }

    /// The sums at the last reset: the last slot.
    fn base(&self) -> &Slot<N> {
        &self.slots[self.slots.len() - 1]
    }

    /// Adds `n` to counter `field`.
    #[inline]
    pub fn add(&self, field: usize, n: u64) {
        let index = LOOP.with(Cell::get);
        let shared = self.slots.len() - 2;
        if index < shared {
            let counter = &self.slots[index].0[field];
            counter.store(
                counter.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Relaxed,
            );
        } else {
            self.slots[shared].0[field].fetch_add(n, Ordering::Relaxed);
        }
    }

    fn sum(&self, field: usize) -> u64 {
        let counting = &self.slots[..self.slots.len() - 1];
        counting.iter().fold(0u64, |sum, s| {
            sum.wrapping_add(s.0[field].load(Ordering::Relaxed))
        })
    }

    /// Counter `field` since the last reset.
    pub fn get(&self, field: usize) -> u64 {
        self.sum(field)
            .wrapping_sub(self.base().0[field].load(Ordering::Relaxed))
    }

    /// Every counter back to zero (CONFIG RESETSTAT).
    pub fn reset(&self) {
        for field in 0..N {
            self.base().0[field].store(self.sum(field), Ordering::Relaxed);
        }
    }
}

impl<const N: usize> Default for LoopCounters<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A monotonic tick count, read with `rdtsc` where the CPU's time-stamp
/// counter runs at a constant rate (as Redis's `getMonotonicUs` uses it),
/// else from the OS clock. About 8 ns a read against 25 for `Instant::now`;
/// a command is timed with two.
#[derive(Clone, Copy)]
pub struct Ticks(u64);

/// How ticks turn into microseconds: TSC ticks per microsecond, or None
/// when ticks are nanoseconds of the OS clock.
fn tsc_per_us() -> Option<f64> {
    static RATE: OnceLock<Option<f64>> = OnceLock::new();
    *RATE.get_or_init(calibrate_tsc)
}

/// Measures the TSC against the OS clock over 10 ms, if the CPU says it
/// ticks at a constant rate (Linux's `constant_tsc` flag).
fn calibrate_tsc() -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
        let flags = cpuinfo.lines().find(|l| l.starts_with("flags"))?;
        if !flags.split_whitespace().any(|f| f == "constant_tsc") {
            return None;
        }
        let (start, tsc) = (Instant::now(), read_tsc());
        std::thread::sleep(std::time::Duration::from_millis(10));
        let (us, ticks) = (start.elapsed().as_secs_f64() * 1e6, read_tsc() - tsc);
        let rate = ticks as f64 / us;
        (rate.is_finite() && rate > 1.0).then_some(rate)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

#[cfg(target_arch = "x86_64")]
fn read_tsc() -> u64 {
    // SAFETY: rdtsc has no preconditions on x86_64.
    unsafe { std::arch::x86_64::_rdtsc() }
}

/// The OS clock's origin, for tick counts in nanoseconds.
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// INFO's `monotonic_clock`, as Redis words it.
pub fn clock_description() -> String {
    match tsc_per_us() {
        Some(rate) => format!("X86 TSC @ {} ticks/us", rate.round() as u64),
        None => "POSIX clock_gettime".to_string(),
    }
}

impl Ticks {
    /// Calibrates the clock (at start-up, so the first command does not wait).
    pub fn init() {
        let _ = tsc_per_us();
        let _ = origin();
    }

    #[inline]
    pub fn now() -> Ticks {
        #[cfg(target_arch = "x86_64")]
        if tsc_per_us().is_some() {
            return Ticks(read_tsc());
        }
        Ticks(origin().elapsed().as_nanos() as u64)
    }

    /// Whole microseconds from `self` to now.
    #[inline]
    pub fn elapsed_us(self) -> u64 {
        let ticks = Ticks::now().0.saturating_sub(self.0);
        match tsc_per_us() {
            Some(rate) => (ticks as f64 / rate) as u64,
            None => ticks / 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_write_their_own_slots_and_reads_sum_them() {
        set_loops(2);
        let counters = LoopCounters::<2>::new();
        counters.add(0, 5);
        let other = std::thread::scope(|s| {
            s.spawn(|| {
                enter_loop(1);
                counters.add(0, 2);
                counters.add(1, 7);
            })
            .join()
        });
        assert!(other.is_ok());
        assert_eq!((counters.get(0), counters.get(1)), (7, 7));
        counters.reset();
        assert_eq!(counters.get(0), 0);
        counters.add(0, 1);
        assert_eq!(counters.get(0), 1);
    }

    #[test]
    fn ticks_measure_time() {
        Ticks::init();
        let start = Ticks::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let us = start.elapsed_us();
        assert!((15_000..2_000_000).contains(&us), "{us} µs");
    }
}
