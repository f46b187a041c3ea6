//! Redis's `setOOMScoreAdj`: with `oom-score-adj` on, the process's
//! `/proc/self/oom_score_adj` is the `oom-score-adj-values` entry for its
//! role (master or replica), added to the score it had before (`relative`)
//! or as it is (`absolute`), within -1000..1000; turned off, the score goes
//! back to what it was. The third value is the background child's
//! (`crate::child`), which sets it on itself as it starts.

use std::sync::Mutex;

use crate::config::Config;

const PROC_FILE: &str = "/proc/self/oom_score_adj";

/// The score the process had before the server first adjusted it (None:
/// not adjusted now).
#[derive(Default)]
pub struct OomScore(Mutex<Option<i64>>);

impl OomScore {
    /// Writes the score `config` asks for this role; the error is logged
    /// (CONFIG SET then fails, as Redis's `updateOOMScoreAdj`).
    pub fn apply(&self, config: &Config, replica: bool) -> std::io::Result<()> {
        let (mode, values) = config.oom_score_adj();
        let mut base = crate::util::lock(&self.0);
        let score = if mode != 0 {
            let before = match *base {
                Some(before) => before,
                None => {
                    let text = std::fs::read_to_string(PROC_FILE)
                        .inspect_err(|e| log_failure("read", e))?;
                    let before = text.trim().parse().unwrap_or(0);
                    *base = Some(before);
                    before
                }
            };
            adjusted(mode, values[usize::from(replica)], before)
        } else {
            match base.take() {
                Some(before) => before,
                None => return Ok(()),
            }
        };
        std::fs::write(PROC_FILE, format!("{score}\n")).inspect_err(|e| log_failure("write", e))
    }

    /// The score a background child gives itself (Redis's
    /// `CONFIG_OOM_BGCHILD`): None while `oom-score-adj` is off.
    pub fn child_score(&self, config: &Config) -> Option<i64> {
        let (mode, values) = config.oom_score_adj();
        if mode == 0 {
            return None;
        }
        let before = crate::util::lock(&self.0).unwrap_or(0);
        Some(adjusted(mode, values[2], before))
    }
}

/// `value` relative to the score the process had (`mode` 1) or as it is.
fn adjusted(mode: i64, value: i32, before: i64) -> i64 {
    let value = i64::from(value);
    let value = if mode == 1 { value + before } else { value };
    value.clamp(-1000, 1000)
}

fn log_failure(what: &str, e: &std::io::Error) {
    tracing::warn!(
        "Unable to {what} oom_score_adj: {}",
        crate::config::strerror(e)
    );
}
