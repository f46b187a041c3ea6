//! The latency monitor (Redis's latency.c): for each event class
//! (`command`, `fast-command`, `expire-cycle`, ...) the last 160 seconds
//! that saw a spike of at least `latency-monitor-threshold` ms, one sample
//! per second (the worst), and the all-time worst.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, MutexGuard};

use crate::config::Config;
use crate::protocol::Reply;
use crate::util::now_ms;

/// Samples kept per event (Redis's `LATENCY_TS_LEN`).
const SAMPLES: usize = 160;

#[derive(Clone, Copy, Default)]
struct Sample {
    /// Unix seconds; 0: unused.
    time: u64,
    /// Milliseconds.
    latency: u64,
}

struct Series {
    samples: [Sample; SAMPLES],
    /// Where the next sample goes.
    next: usize,
    max: u64,
}

impl Series {
    /// The samples, oldest first.
    fn in_order(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..SAMPLES)
            .map(move |j| self.samples[(self.next + j) % SAMPLES])
            .filter(|s| s.time != 0)
    }
}

/// The events, by name, in the order Redis's dict would not promise either.
#[derive(Default)]
pub struct LatencyMonitor(Mutex<BTreeMap<String, Series>>);

impl LatencyMonitor {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Series>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Redis's `latencyAddSampleIfNeeded`: records `ms` for `event` when the
    /// monitor is on and it reaches the threshold.
    pub fn add_if_needed(&self, config: &Config, event: &str, ms: u64) {
        let threshold = config.latency_monitor_threshold();
        if threshold > 0 && ms >= threshold {
            self.add(event, ms);
        }
    }

    /// Redis's `latencyAddSample`: one sample per second, the worst.
    fn add(&self, event: &str, ms: u64) {
        let now = now_ms() / 1000;
        let mut events = self.lock();
        let series = events.entry(event.to_string()).or_insert_with(|| Series {
            samples: [Sample::default(); SAMPLES],
            next: 0,
            max: 0,
        });
        series.max = series.max.max(ms);
        let prev = &mut series.samples[(series.next + SAMPLES - 1) % SAMPLES];
        if prev.time == now {
            prev.latency = prev.latency.max(ms);
            return;
        }
        series.samples[series.next] = Sample {
            time: now,
            latency: ms,
        };
        series.next = (series.next + 1) % SAMPLES;
    }

    /// LATENCY LATEST: `[event, time, latest, all-time max]` per event.
    pub fn latest(&self) -> Reply {
        let events = self.lock();
        Reply::Array(
            events
                .iter()
                .map(|(name, s)| {
                    let last = s.samples[(s.next + SAMPLES - 1) % SAMPLES];
                    Reply::Array(vec![
                        Reply::bulk(name.clone()),
                        Reply::from(last.time as i64),
                        Reply::from(last.latency as i64),
                        Reply::from(s.max as i64),
                    ])
                })
                .collect(),
        )
    }

    /// LATENCY HISTORY event: `[time, latency]` per sample, oldest first.
    pub fn history(&self, event: &[u8]) -> Reply {
        let events = self.lock();
        let samples = std::str::from_utf8(event)
            .ok()
            .and_then(|e| events.get(e))
            .map(|s| {
                s.in_order()
                    .map(|x| {
                        Reply::Array(vec![
                            Reply::from(x.time as i64),
                            Reply::from(x.latency as i64),
                        ])
                    })
                    .collect()
            })
            .unwrap_or_default();
        Reply::Array(samples)
    }

    /// LATENCY RESET [event ...]: how many events were dropped.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut events = self.lock();
        if names.is_empty() {
            let n = events.len();
            events.clear();
            return n;
        }
        names
            .iter()
            .filter(|n| std::str::from_utf8(n).is_ok_and(|n| events.remove(n).is_some()))
            .count()
    }

    /// LATENCY GRAPH event: Redis's header and an 80-column sparkline of
    /// the samples, oldest left, each labelled with how long ago it was.
    pub fn graph(&self, event: &[u8]) -> Option<String> {
        let events = self.lock();
        let (name, series) = events.get_key_value(std::str::from_utf8(event).ok()?)?;
        let samples: Vec<Sample> = series.in_order().collect();
        let low = samples.iter().map(|s| s.latency).min().unwrap_or(0);
        let high = samples.iter().map(|s| s.latency).max().unwrap_or(0);
        let mut out = format!(
            "{name} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
            series.max,
            "-".repeat(80)
        );
        let now = now_ms() / 1000;
        const ROWS: u64 = 4;
        for row in (0..ROWS).rev() {
            for s in &samples {
                let level = if high == low {
                    ROWS
                } else {
                    (s.latency - low) * ROWS / (high - low)
                };
                out.push(if level > row {
                    '#'
                } else if row == 0 {
                    '_'
                } else {
                    ' '
                });
            }
            out.push('\n');
        }
        let labels: Vec<String> = samples
            .iter()
            .map(|s| ago(now.saturating_sub(s.time)))
            .collect();
        let width = labels.iter().map(String::len).max().unwrap_or(0);
        for i in 0..width {
            for label in &labels {
                out.push(label.chars().nth(i).unwrap_or(' '));
            }
            out.push('\n');
        }
        Some(out)
    }

    /// LATENCY DOCTOR: Redis's report of each event (spikes, average, mean
    /// deviation, period, worst); reddish gives no tuning advice.
    pub fn doctor(&self, config: &Config) -> String {
        let events = self.lock();
        if events.is_empty() && config.latency_monitor_threshold() == 0 {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string();
        }
        if events.is_empty() {
            return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_string();
        }
        let now = now_ms() / 1000;
        let mut out = String::from(
            "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
        );
        for (i, (name, series)) in events.iter().enumerate() {
            let samples: Vec<Sample> = series.in_order().collect();
            let n = samples.len().max(1) as u64;
            let avg = samples.iter().map(|s| s.latency).sum::<u64>() / n;
            let mad = samples.iter().map(|s| s.latency.abs_diff(avg)).sum::<u64>() / n;
            let oldest = samples.iter().map(|s| s.time).min().unwrap_or(now);
            let period = now.saturating_sub(oldest).max(1);
            let _ = writeln!(
                out,
                "{}. {name}: {} latency spikes (average {avg}ms, mean deviation {mad}ms, period {:.2} sec). Worst all time event {}ms.",
                i + 1,
                samples.len(),
                period as f64 / n as f64,
                series.max
            );
        }
        out.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        out
    }
}

/// `12s`, `3m`, `5h`, `2d`: how long ago, as Redis labels graph columns.
fn ago(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeps_the_worst_and_reset_counts_events() {
        let monitor = LatencyMonitor::default();
        monitor.add("command", 120);
        monitor.add("command", 300);
        monitor.add("command", 200);
        monitor.add("expire-cycle", 30);
        let Reply::Array(history) = monitor.history(b"command") else {
            panic!("not an array");
        };
        assert_eq!(history.len(), 1);
        assert!(matches!(&history[0], Reply::Array(s) if s[1] == Reply::Integer(300)));
        assert!(monitor
            .doctor(&Config::default())
            .contains("1. command: 1 latency spikes (average 300ms"));
        assert!(monitor.graph(b"command").is_some_and(
            |g| g.starts_with("command - high 300 ms, low 300 ms (all time high 300 ms)\n")
        ));
        assert_eq!(monitor.reset(&[b"nosuch", b"command"]), 1);
        assert_eq!(monitor.reset(&[]), 1);
        assert_eq!(monitor.history(b"command"), Reply::Array(Vec::new()));
    }
}
