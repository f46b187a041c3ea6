//! INFO commandstats and errorstats (Redis's per-command `calls`,
//! `microseconds`, `rejected_calls`, `failed_calls`, and its error-code
//! counts).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};

use crate::config::parse::format_percentile;
use crate::counters::LoopCounters;
use crate::protocol::Reply;

const CALLS: usize = 0;
const USEC: usize = 1;
const REJECTED: usize = 2;
const FAILED: usize = 3;

/// One command's counters, kept in its table entry, per event loop
/// (see [`crate::counters`]: no atomic read-modify-write per call), and
/// its latency histogram once it ran with `latency-tracking yes`.
#[derive(Default)]
pub struct CallStats(LoopCounters<4>, OnceLock<Box<Latencies>>);

/// Sub-buckets per power of two: durations are told apart to 1/16 (6%).
const SUB_BUCKETS_LOG2: u32 = 4;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKETS_LOG2;
/// Buckets for 1 ns to 2^31 ns (Redis tracks up to 1 s).
const BUCKETS: usize = (SUB_BUCKETS + (31 - SUB_BUCKETS_LOG2 as u64) * SUB_BUCKETS) as usize;

/// A log-linear histogram of call durations in nanoseconds, as Redis keeps
/// an HdrHistogram per command (INFO latencystats); one per event loop.
struct Latencies(LoopCounters<BUCKETS>);

impl Latencies {
    /// The bucket of `ns`: exact below [`SUB_BUCKETS`], then
    /// [`SUB_BUCKETS`] per power of two.
    fn bucket(ns: u64) -> usize {
        let ns = ns.clamp(1, (1 << 31) - 1);
        if ns < SUB_BUCKETS {
            return ns as usize;
        }
        let shift = 63 - ns.leading_zeros() - SUB_BUCKETS_LOG2;
        let octave = u64::from(shift) * SUB_BUCKETS;
        (SUB_BUCKETS + octave + (ns >> shift) - SUB_BUCKETS) as usize
    }

    /// The highest duration bucket `index` holds (what HdrHistogram's
    /// `value_at_percentile` reports).
    fn highest(index: usize) -> u64 {
        let index = index as u64;
        if index < SUB_BUCKETS {
            return index;
        }
        let shift = (index - SUB_BUCKETS) / SUB_BUCKETS;
        let lowest = (SUB_BUCKETS + (index - SUB_BUCKETS) % SUB_BUCKETS) << shift;
        lowest + (1 << shift) - 1
    }

    /// The count in each bucket since the last reset.
    fn counts(&self) -> Vec<u64> {
        (0..BUCKETS).map(|b| self.0.get(b)).collect()
    }

    /// The duration at percentile `p` (0 to 100), None when empty.
    fn at_percentile(&self, counts: &[u64], p: f64) -> Option<u64> {
        let total: u64 = counts.iter().sum();
        let wanted = ((p / 100.0 * total as f64 + 0.5) as u64).max(1);
        let mut seen = 0;
        for (index, n) in counts.iter().enumerate() {
            seen += n;
            if seen >= wanted {
                return Some(Self::highest(index));
            }
        }
        None
    }
}

impl CallStats {
    /// A call that ran (a blocked command counts once, when it first runs),
    /// its duration in the histogram when `track_latency`.
    #[inline]
    pub fn record(&self, usec: u64, failed: bool, track_latency: bool) {
        self.0.add(CALLS, 1);
        self.0.add(USEC, usec);
        if failed {
            self.0.add(FAILED, 1);
        }
        if track_latency {
            let latencies = self
                .1
                .get_or_init(|| Box::new(Latencies(LoopCounters::new())));
            latencies
                .0
                .add(Latencies::bucket(usec.saturating_mul(1000)), 1);
        }
    }

    /// Redis's `latency_percentiles_usec_<name>:p50=..,p99=..` line, for a
    /// command with durations recorded since the last reset.
    pub fn write_latency_line(&self, name: &str, percentiles: &[f64], out: &mut String) {
        let Some(latencies) = self.1.get() else {
            return;
        };
        let counts = latencies.counts();
        if counts.iter().all(|&n| n == 0) {
            return;
        }
        let _ = write!(out, "latency_percentiles_usec_{name}:");
        for (i, &p) in percentiles.iter().enumerate() {
            let ns = latencies.at_percentile(&counts, p).unwrap_or(0);
            let sep = if i + 1 < percentiles.len() { "," } else { "" };
            let _ = write!(
                out,
                "p{}={:.3}{sep}",
                format_percentile(p),
                ns as f64 / 1000.0
            );
        }
        out.push_str("\r\n");
    }

    /// A blocked call served an error after a wake-up.
    pub fn fail(&self) {
        self.0.add(FAILED, 1);
    }

    /// A call refused before it ran (arity, subscribed mode, ...).
    pub fn reject(&self) {
        self.0.add(REJECTED, 1);
    }

    /// LATENCY HISTOGRAM's entry for this command, None without samples:
    /// `{calls, histogram_usec: {upper µs: calls up to it}}` in powers of
    /// two from 1 µs, as Redis iterates its HdrHistogram logarithmically
    /// (buckets that add nothing are left out).
    pub fn histogram_reply(&self) -> Option<Reply> {
        let latencies = self.1.get()?;
        let counts = latencies.counts();
        let calls: u64 = counts.iter().sum();
        if calls == 0 {
            return None;
        }
        let (mut cumulative, mut previous, mut at) = (0u64, 0u64, 0usize);
        let mut pairs = Vec::new();
        for k in 10..=31u32 {
            let upper = 1u64 << k;
            while at < BUCKETS && Latencies::highest(at) < upper {
                cumulative += counts[at];
                at += 1;
            }
            if cumulative > previous {
                pairs.push((
                    Reply::from(((upper - 1) / 1000) as i64),
                    Reply::from(cumulative as i64),
                ));
            }
            previous = cumulative;
        }
        Some(Reply::Map(vec![
            (Reply::bulk("calls"), Reply::from(calls as i64)),
            (Reply::bulk("histogram_usec"), Reply::Map(pairs)),
        ]))
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        self.0.reset();
        if let Some(latencies) = self.1.get() {
            latencies.0.reset();
        }
    }

    /// Redis's `cmdstat_<name>:` line, for a command that was called,
    /// rejected or failed since the last reset.
    pub fn write_line(&self, name: &str, out: &mut String) {
        let [calls, usec, rejected, failed] =
            [CALLS, USEC, REJECTED, FAILED].map(|f| self.0.get(f));
        if calls == 0 && rejected == 0 && failed == 0 {
            return;
        }
        let per_call = if calls == 0 {
            0.0
        } else {
            usec as f64 / calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},\
             rejected_calls={rejected},failed_calls={failed}\r\n"
        );
    }
}

/// Redis tracks at most this many error codes (`ERROR_STATS_NUMBER`); later
/// new codes are counted in the total only.
const MAX_ERROR_CODES: usize = 128;

/// Error replies by code: the error's first word (`ERR`, `WRONGTYPE`).
#[derive(Default)]
pub struct ErrorStats {
    codes: Mutex<BTreeMap<Vec<u8>, u64>>,
}

impl ErrorStats {
    fn codes(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, u64>> {
        self.codes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts an error reply under its code (Redis's `afterErrorReply`: the
    /// text up to a space within its first 32 bytes, else `ERR`).
    pub fn count(&self, reply: &Reply) {
        let Reply::Error(text) = reply else {
            return;
        };
        let head = &text[..text.len().min(32)];
        let code = match head.iter().position(|&b| b == b' ') {
            Some(end) => &text[..end],
            None => b"ERR",
        };
        let mut codes = self.codes();
        let room = codes.len() < MAX_ERROR_CODES;
        match codes.get_mut(code) {
            Some(n) => *n += 1,
            None if room => {
                codes.insert(code.to_vec(), 1);
            }
            None => {}
        }
    }

    pub fn reset(&self) {
        self.codes().clear();
    }

    /// The `errorstat_<code>:count=<n>` lines, codes in byte order as
    /// Redis's radix tree lists them.
    pub fn write_lines(&self, out: &mut String) {
        for (code, n) in self.codes().iter() {
            let _ = write!(
                out,
                "errorstat_{}:count={n}\r\n",
                String::from_utf8_lossy(code)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_durations_in_order_within_a_sixteenth() {
        let mut last = 0;
        for ns in (1..5_000_000u64).step_by(7) {
            let b = Latencies::bucket(ns);
            assert!(b >= last && b < BUCKETS, "{ns} ns in bucket {b}");
            let highest = Latencies::highest(b);
            assert!(
                highest >= ns && highest - ns <= ns / 16,
                "{ns} ns shown as {highest}"
            );
            last = b;
        }
        assert_eq!(Latencies::bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn histograms_are_cumulative_over_powers_of_two() {
        let stats = CallStats::default();
        assert_eq!(stats.histogram_reply(), None);
        for usec in [1, 1, 100] {
            stats.record(usec, false, true);
        }
        let int = |n| Reply::Integer(n);
        assert_eq!(
            stats.histogram_reply(),
            Some(Reply::Map(vec![
                (Reply::bulk("calls"), int(3)),
                (
                    Reply::bulk("histogram_usec"),
                    Reply::Map(vec![(int(1), int(2)), (int(131), int(3))])
                ),
            ]))
        );
    }

    #[test]
    fn latency_lines_give_the_configured_percentiles() {
        let stats = CallStats::default();
        let mut out = String::new();
        stats.write_latency_line("get", &[50.0], &mut out);
        assert_eq!(out, "");
        for usec in [1, 1, 1, 100] {
            stats.record(usec, false, true);
        }
        stats.write_latency_line("get", &[0.0, 50.0, 99.9, 100.0], &mut out);
        assert_eq!(
            out,
            "latency_percentiles_usec_get:p0=1.023,p50=1.023,p99.9=102.399,p100=102.399\r\n"
        );
        stats.reset();
        out.clear();
        stats.write_latency_line("get", &[50.0], &mut out);
        assert_eq!(out, "");
    }
}
