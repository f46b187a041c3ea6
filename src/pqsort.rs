//! Redis's partial quicksort (pqsort.c: Bentley & McIlroy's qsort that
//! only recurses into partitions overlapping the wanted range).
//!
//! SORT with BY and a LIMIT, and GEORADIUS/GEOSEARCH with COUNT, sort with
//! it. It is not stable, so elements that compare equal (two members at the
//! same distance, equal BY values under ALPHA) come out in the order this
//! exact algorithm leaves them; a different sort would answer differently.

use std::cmp::Ordering;

/// Sorts `v` enough that positions `lrange..=rrange` hold what a full sort
/// would put there, moving elements exactly as Redis's `pqsort` does.
pub fn pqsort<T>(
    v: &mut [T],
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
    lrange: usize,
    rrange: usize,
) {
    partial(v, 0, cmp, lrange, rrange);
}

/// Redis `med3`: the index of the median of three.
fn med3<T>(
    v: &[T],
    a: usize,
    b: usize,
    c: usize,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
) -> usize {
    if cmp(&v[a], &v[b]).is_lt() {
        if cmp(&v[b], &v[c]).is_lt() {
            b
        } else if cmp(&v[a], &v[c]).is_lt() {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]).is_gt() {
        b
    } else if cmp(&v[a], &v[c]).is_lt() {
        a
    } else {
        c
    }
}

/// Redis `vecswap`: swaps `n` elements from `a` and from `b`, pairwise in order.
fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Redis `_pqsort` on `v`, which starts at absolute position `base` of the
/// whole array (the range is in absolute positions).
fn partial<T>(
    mut v: &mut [T],
    mut base: usize,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
    lrange: usize,
    rrange: usize,
) {
    // Whether a partition at absolute `start`, `len` long, misses the range.
    let outside = |start: usize, len: usize| {
        (lrange < start && rrange < start) || (lrange >= start + len && rrange >= start + len)
    };
    loop {
        let n = v.len();
        if n < 7 {
            for m in 1..n {
                let mut l = m;
                while l > 0 && cmp(&v[l - 1], &v[l]).is_gt() {
                    v.swap(l, l - 1);
                    l -= 1;
                }
            }
            return;
        }
        let mut pm = n / 2;
        if n > 7 {
            let mut pl = 0;
            let mut pn = n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(0, pm);
        let (mut pa, mut pb) = (1usize, 1usize);
        // `pc`/`pd` may step below `pb`; kept signed as C's pointers are.
        let (mut pc, mut pd) = (n as isize - 1, n as isize - 1);
        loop {
            while pb as isize <= pc {
                let r = cmp(&v[pb], &v[0]);
                if r.is_gt() {
                    break;
                }
                if r.is_eq() {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb as isize <= pc {
                let r = cmp(&v[pc as usize], &v[0]);
                if r.is_lt() {
                    break;
                }
                if r.is_eq() {
                    v.swap(pc as usize, pd as usize);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb as isize > pc {
                break;
            }
            v.swap(pb, pc as usize);
            pb += 1;
            pc -= 1;
        }
        let r = pa.min(pb - pa);
        vecswap(v, 0, pb - r, r);
        let (pc, pd) = (pc as usize, pd as usize);
        let r = (pd - pc).min(n - pd - 1);
        vecswap(v, pb, n - r, r);
        let left = pb - pa;
        if left > 1 && !outside(base, left) {
            partial(&mut v[..left], base, cmp, lrange, rrange);
        }
        let right = pd - pc;
        if right <= 1 {
            return;
        }
        let start = n - right;
        if outside(base + start, right) {
            return;
        }
        v = &mut v[start..];
        base += start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_sorted() {
        let mut seed = 12345u64;
        for n in [0usize, 1, 5, 7, 8, 40, 41, 100, 1000] {
            let v: Vec<u32> = (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed % 50) as u32
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort();
            for (l, r) in [(0, 0), (0, 3), (2, 9), (n / 2, n / 2 + 5)] {
                if r >= n {
                    continue;
                }
                let mut p = v.clone();
                pqsort(&mut p, &mut |a: &u32, b: &u32| a.cmp(b), l, r);
                assert_eq!(p[l..=r], sorted[l..=r], "n={n} range {l}..={r}");
            }
        }
    }
}
