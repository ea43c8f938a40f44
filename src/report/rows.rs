//! The per-window and per-request rows the report layer writes. The runner fills them from the
//! simulation's records, so exporters and charts never see a domain type.

/// One time-series window of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowRow {
    /// Window start, seconds.
    pub start_s: f64,
    /// Requests that arrived in the window.
    pub arrivals: u64,
    /// Requests that ended in the window, by outcome, in the order of the `outcome_names`
    /// given with the rows.
    pub outcomes: Vec<u64>,
    /// Of those, the requests answered (the outcome `ok`).
    pub answered: u64,
    /// Requests waiting or held at the end of the window.
    pub queue_depth: u64,
    /// Replicas starting, ready and draining at the end of the window.
    pub replicas: [u32; 3],
    /// Busy share of replica time in the window.
    pub gpu_util: Option<f64>,
    /// 99th percentile latency of the requests answered or timed out in the window, seconds.
    pub p99_s: Option<f64>,
    /// Share of the prompt tokens admitted in the window that came from the prefix cache
    /// (engines with one, windows that admitted any).
    pub prefix_hit_rate: Option<f64>,
}

impl WindowRow {
    /// Requests that ended in the window without an answer.
    pub fn failures(&self) -> u64 {
        self.outcomes.iter().sum::<u64>() - self.answered
    }
}

/// One request of a run, as `--requests` writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRow {
    /// Arrival time, seconds.
    pub arrived_s: f64,
    /// Class index into the class names given with the rows.
    pub class: u16,
    /// How it ended: the outcome's name as in the summary's columns.
    pub outcome: &'static str,
    /// Attempts sent.
    pub attempts: u32,
    /// From arrival to outcome, seconds.
    pub latency_s: f64,
    /// Time to first token, seconds, when answered.
    pub ttft_s: Option<f64>,
    /// Prompt tokens.
    pub prompt: u32,
    /// Output tokens.
    pub output: u32,
}
