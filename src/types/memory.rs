//! MEMORY USAGE's estimates: what a value's allocations cost, in the shape
//! of Redis's `objectComputeSize`. Compact encodings (listpacks, intsets)
//! are measured whole; for the others the first `samples` elements are
//! measured and their average is multiplied by the element count, so a big
//! collection costs a few element visits, as in Redis.

/// Redis's `OBJ_COMPUTE_SIZE_DEF_SAMPLES`.
pub const DEFAULT_SAMPLES: usize = 5;

/// The bytes jemalloc hands out for a request of `n` (its size class), as
/// Redis counts `zmalloc_size` rather than the bytes asked for: 8, then
/// steps of 16 up to 128, then four classes per power of two up to 32 KiB,
/// computed here because the allocation counter ([`crate::alloc`]) needs it
/// on every allocation; bigger sizes are asked of jemalloc (`nallocx`),
/// whose large classes are spaced by pages.
pub fn alloc_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => n.div_ceil(16) * 16,
        129..=32_768 => {
            let step = 1usize << ((usize::BITS - 1 - (n - 1).leading_zeros()) - 2);
            n.div_ceil(step) * step
        }
        // SAFETY: `nallocx` only computes a size; any size is valid.
        _ => unsafe { tikv_jemalloc_sys::nallocx(n, 0) },
    }
}

/// The heap bytes of a boxed byte string (none for an empty one).
pub fn bytes_size(bytes: &[u8]) -> usize {
    alloc_size(bytes.len())
}

/// Redis's sampling: the first `samples` of `items` (the collection holds
/// `total`) are measured with `size`, and their average counts for each.
pub fn sampled<T>(
    items: impl Iterator<Item = T>,
    total: usize,
    samples: usize,
    size: impl Fn(T) -> usize,
) -> usize {
    let (mut measured, mut bytes) = (0usize, 0usize);
    for item in items.take(samples) {
        bytes = bytes.saturating_add(size(item));
        measured += 1;
    }
    if measured == 0 {
        return 0;
    }
    (bytes as f64 / measured as f64 * total as f64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size up to 70,000 bytes, and a spread of sizes up to 1 GiB,
    /// gets jemalloc's own size class.
    #[test]
    fn size_classes_are_jemallocs() {
        let big = (17..=30).flat_map(|k| {
            let base = 1usize << k;
            [
                base - 1,
                base,
                base + 1,
                base + base / 3,
                base + base / 2 + 7,
            ]
        });
        for n in (1..=70_000).chain(big) {
            // SAFETY: `nallocx` only computes a size.
            let jemalloc = unsafe { tikv_jemalloc_sys::nallocx(n, 0) };
            assert_eq!(alloc_size(n), jemalloc, "{n}");
        }
    }

    #[test]
    fn sampling_extrapolates_the_average() {
        assert_eq!(sampled([10, 20].into_iter(), 100, 5, |x| x), 1500);
        assert_eq!(sampled([10, 20, 90].into_iter(), 30, 2, |x| x), 450);
        assert_eq!(sampled(std::iter::empty::<usize>(), 0, 5, |x| x), 0);
    }
}
