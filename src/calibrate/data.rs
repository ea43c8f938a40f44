//! What a load test measured, in a form independent of the tool that wrote it.

use std::path::PathBuf;

/// A load test of one deployment: one entry per load level (request rate).
#[derive(Clone, Debug, PartialEq)]
pub struct LoadTest {
    /// The file it was read from (named in messages and in the fitted file's sources).
    pub path: PathBuf,
    /// The levels, in the order of the file.
    pub levels: Vec<Level>,
}

/// One load level: the workload that was offered and what the client measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Level {
    /// Line of the file where the level is described (1-based; 0 when not known).
    pub line: usize,
    /// Poisson request rate, requests per second.
    pub rate: f64,
    /// Requests sent.
    pub requests: u64,
    /// Prompt lengths.
    pub prompt: Tokens,
    /// Output lengths.
    pub output: Tokens,
    /// What was measured.
    pub observed: Observed,
}

/// Token counts of a level's requests: uniform on `min..=max` (`min == max` for a fixed length).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Tokens {
    /// Smallest length.
    pub min: u64,
    /// Largest length.
    pub max: u64,
}

impl Tokens {
    /// Mean length.
    pub fn mean(&self) -> f64 {
        (self.min + self.max) as f64 / 2.0
    }
}

/// Client-side measurements of one level, in seconds. Only `e2e_mean_s` is required: the
/// others are compared when the file has them.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Observed {
    /// Mean end-to-end latency.
    pub e2e_mean_s: f64,
    /// Median end-to-end latency.
    pub e2e_median_s: Option<f64>,
    /// Median time to first token.
    pub ttft_median_s: Option<f64>,
    /// Median inter-token latency (compared with capsim's mean time per output token).
    pub itl_median_s: Option<f64>,
    /// Mean time per output token after the first (`mean_tpot_ms`).
    pub tpot_mean_s: Option<f64>,
}

impl Observed {
    /// The measurements present, with their names, in a fixed order.
    pub fn named(&self) -> Vec<(&'static str, f64)> {
        let mut v = vec![("mean e2e", self.e2e_mean_s)];
        if let Some(x) = self.e2e_median_s {
            v.push(("median e2e", x));
        }
        if let Some(x) = self.ttft_median_s {
            v.push(("median ttft", x));
        }
        if let Some(x) = self.itl_median_s {
            v.push(("median itl", x));
        }
        if let Some(x) = self.tpot_mean_s {
            v.push(("mean tpot", x));
        }
        v
    }
}
