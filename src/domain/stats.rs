//! Streaming statistics of one run: memory stays fixed however many requests run.
//!
//! Counts and sums are exact integers (nanoseconds in `u128`), so means do not depend on the
//! order of floating-point additions. Latency percentiles come from an HDR histogram with three
//! significant digits (at most 0.1 % relative error), clamped to the exact minimum and maximum
//! so that, for example, a deterministic service time reports its exact value.

use hdrhistogram::Histogram;

use super::request::Outcome;
use crate::sim::{SimDuration, SimTime};

/// Largest latency the percentile histogram resolves, in nanoseconds (about 52 days).
const HIST_MAX_NS: u64 = 1 << 52;

/// The time integral of a piecewise-constant level (busy servers, queue length) over the
/// measurement window.
#[derive(Clone, Debug)]
pub struct TimeIntegral {
    level: u64,
    since: SimTime,
    area: u128,
}

impl TimeIntegral {
    fn new() -> Self {
        TimeIntegral {
            level: 0,
            since: SimTime::ZERO,
            area: 0,
        }
    }

    /// The level changes to `level` at `now`; time before `window_start` is not counted.
    fn set(&mut self, now: SimTime, level: u64, window_start: SimTime) {
        let from = self.since.max(window_start);
        if now > from {
            self.area += u128::from(self.level) * u128::from((now - from).as_nanos());
        }
        self.level = level;
        self.since = now;
    }

    /// The integral in level × seconds.
    pub fn level_seconds(&self) -> f64 {
        self.area as f64 / 1e9
    }
}

/// Latency distribution of completed requests.
#[derive(Clone, Debug)]
pub struct LatencyStats {
    hist: Histogram<u64>,
    count: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
}

impl Default for LatencyStats {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyStats {
    fn new() -> Self {
        LatencyStats {
            // Fixed bounds so memory never grows: 1 ns to 2^52 ns (about 52 days) at three
            // significant digits is about 350 KiB. Longer latencies are clamped to the top bucket
            // (the exact maximum is still kept in `max_ns`).
            hist: Histogram::new_with_bounds(1, HIST_MAX_NS, 3)
                .expect("static HDR bounds are valid"),
            count: 0,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
        }
    }

    /// Always inlined: every answered request comes through here, and the call cost about
    /// as much as the sums.
    #[inline(always)]
    pub(crate) fn record(&mut self, d: SimDuration) {
        let ns = d.as_nanos();
        self.hist.saturating_record(ns);
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean in seconds, `None` without samples.
    pub fn mean_s(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_ns as f64 / self.count as f64 / 1e9)
    }

    /// The `q` quantile (0 ≤ q ≤ 1) in seconds, `None` without samples.
    pub fn quantile_s(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let v = self
            .hist
            .value_at_quantile(q)
            .clamp(self.min_ns, self.max_ns);
        Some(v as f64 / 1e9)
    }

    /// Largest sample in seconds, `None` without samples.
    pub fn max_s(&self) -> Option<f64> {
        (self.count > 0).then(|| self.max_ns as f64 / 1e9)
    }

    /// Adds every sample of `other`.
    pub(crate) fn merge(&mut self, other: &LatencyStats) {
        if other.count == 0 {
            return;
        }
        // Both histograms have the same fixed bounds, so adding cannot fail.
        self.hist
            .add(&other.hist)
            .expect("histograms with the same bounds add");
        self.count += other.count;
        self.sum_ns += other.sum_ns;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }
}

/// How many requests are in the system over the measurement window, sampled at a fixed step
/// that doubles whenever the samples fill their budget: memory is bounded whatever the run's
/// length, and the samples stay evenly spaced. It tells a queue that is still growing at the end
/// (the backlog of the last third well above the first) from one that is only large.
#[derive(Clone, Debug)]
pub struct Backlog {
    step_ns: u64,
    next: SimTime,
    samples: Vec<u64>,
}

/// Most samples a [`Backlog`] keeps before it halves them.
const BACKLOG_SAMPLES: usize = 1536;

impl Backlog {
    /// Samples from `window_start`, first every millisecond.
    pub(crate) fn new(window_start: SimTime) -> Self {
        Backlog {
            step_ns: 1_000_000,
            next: window_start,
            samples: Vec::new(),
        }
    }

    /// `level` requests were in the system until `now` (called before each change). Cheap
    /// unless a sample is due.
    #[inline(always)]
    pub(crate) fn observe(&mut self, now: SimTime, level: u64) {
        if now >= self.next {
            self.sample(now, level);
        }
    }

    #[inline(never)]
    fn sample(&mut self, now: SimTime, level: u64) {
        while now >= self.next {
            self.samples.push(level);
            self.next += SimDuration::from_nanos(self.step_ns);
            if self.samples.len() == BACKLOG_SAMPLES {
                // Keep the samples at even positions: evenly spaced at twice the step, and the
                // next one (already due one step after the last taken) is one doubled step
                // after the last kept, since the budget is even.
                let kept: Vec<u64> = self.samples.iter().step_by(2).copied().collect();
                self.samples = kept;
                self.step_ns *= 2;
            }
        }
    }

    /// The mean number in the system over the first and the last third of the samples taken
    /// up to `end`, with `level` in the system then; `None` with fewer than three samples.
    pub(crate) fn thirds(&mut self, end: SimTime, level: u64) -> Option<(f64, f64)> {
        self.observe(end, level);
        let n = self.samples.len() / 3;
        if n == 0 {
            return None;
        }
        let mean = |s: &[u64]| s.iter().sum::<u64>() as f64 / s.len() as f64;
        Some((
            mean(&self.samples[..n]),
            mean(&self.samples[self.samples.len() - n..]),
        ))
    }
}

/// Everything measured in one run, in raw form. The runner turns it into output metrics.
#[derive(Clone, Debug)]
pub struct RunStats {
    /// Start of the measurement window (the end of the warm-up).
    pub window_start: SimTime,
    /// End of the measurement window (the end of the run).
    pub window_end: SimTime,
    /// Number of servers, for utilisation.
    pub servers: u32,
    /// Requests that arrived inside the window.
    pub arrived: u64,
    /// Counted requests by outcome, indexed by [`Outcome::index`].
    pub outcomes: [u64; Outcome::COUNT],
    /// Counted requests without an outcome when the run stopped.
    pub in_flight: u64,
    /// Counted arrivals at a server (requests; attempts for LLM endpoints, where retries are
    /// new arrivals) that found every server busy and joined the queue.
    pub queued: u64,
    /// End-to-end latency of requests that ended `ok`.
    pub latency: LatencyStats,
    /// Time from arrival to the outcome of every other counted request, and the age at the
    /// end of those unfinished: with `latency`, what every user experienced
    /// ([`RunStats::latency_all`]).
    pub latency_failed: LatencyStats,
    /// The mean number of requests in the system over the first and the last third of the
    /// window ([`Backlog::thirds`]), where the clients sampled it.
    pub backlog: Option<(f64, f64)>,
    /// Answered requests within the SLO's per-request bounds (every answer without an SLO).
    pub good: u64,
    /// Output tokens of those answers.
    pub good_tokens: u64,
    /// Whether the run was stopped early because more requests were in flight than the
    /// scenario's budget allows (the window then ends at the stop).
    pub stopped: bool,
    /// Counted requests that left the queue (to a server, or dropped, or cancelled).
    pub waits: u64,
    /// Total queue wait of those requests, nanoseconds.
    pub wait_sum_ns: u128,
    /// Server time spent on counted requests that did not end `ok`, nanoseconds.
    pub wasted_ns: u128,
    /// Busy servers integrated over the window.
    pub busy: TimeIntegral,
    /// Waiting requests integrated over the window.
    pub waiting: TimeIntegral,
    /// Events the engine handled (stale ones excluded).
    pub events: u64,
}

impl RunStats {
    /// Empty statistics whose window opens at `window_start`.
    pub fn new(window_start: SimTime, servers: u32) -> Self {
        RunStats {
            window_start,
            window_end: window_start,
            servers,
            arrived: 0,
            outcomes: [0; Outcome::COUNT],
            in_flight: 0,
            queued: 0,
            latency: LatencyStats::new(),
            latency_failed: LatencyStats::new(),
            backlog: None,
            good: 0,
            good_tokens: 0,
            stopped: false,
            waits: 0,
            wait_sum_ns: 0,
            wasted_ns: 0,
            busy: TimeIntegral::new(),
            waiting: TimeIntegral::new(),
            events: 0,
        }
    }

    /// Count of one outcome.
    pub fn outcome(&self, o: Outcome) -> u64 {
        self.outcomes[o.index()]
    }

    /// Length of the measurement window in seconds.
    pub fn window_s(&self) -> f64 {
        (self.window_end - self.window_start).as_secs_f64()
    }

    #[inline(always)]
    pub(crate) fn record_outcome(&mut self, o: Outcome, latency: SimDuration) {
        self.outcomes[o.index()] += 1;
        if o == Outcome::Ok {
            self.latency.record(latency);
        } else {
            self.record_failed(latency);
        }
    }

    /// Failures are rarer than answers: kept out of line so the answer path stays short.
    #[inline(never)]
    fn record_failed(&mut self, latency: SimDuration) {
        self.latency_failed.record(latency);
    }

    /// A counted request still without an outcome at the end, `age` after it arrived.
    pub(crate) fn record_unfinished(&mut self, age: SimDuration) {
        self.in_flight += 1;
        self.latency_failed.record(age);
    }

    /// The latency of every counted request as its user experienced it: until the answer,
    /// until the failure, or until the end for those unfinished (a lower bound for them).
    pub fn latency_all(&self) -> LatencyStats {
        let mut all = self.latency.clone();
        all.merge(&self.latency_failed);
        all
    }

    pub(crate) fn record_wait(&mut self, wait: SimDuration) {
        self.waits += 1;
        self.wait_sum_ns += u128::from(wait.as_nanos());
    }

    pub(crate) fn record_waste(&mut self, d: SimDuration) {
        self.wasted_ns += u128::from(d.as_nanos());
    }

    pub(crate) fn set_busy(&mut self, now: SimTime, busy: u32) {
        self.busy.set(now, u64::from(busy), self.window_start);
    }

    pub(crate) fn set_waiting(&mut self, now: SimTime, waiting: u64) {
        self.waiting.set(now, waiting, self.window_start);
    }

    /// Closes the window at `end`, flushing the time integrals.
    pub(crate) fn close(&mut self, end: SimTime) {
        let end = end.max(self.window_start);
        self.window_end = end;
        let (b, w) = (self.busy.level, self.waiting.level);
        self.set_busy(end, b as u32);
        self.set_waiting(end, w);
    }

    /// Checks `arrived = every outcome + in flight`.
    pub fn is_conserved(&self) -> bool {
        self.arrived == self.outcomes.iter().sum::<u64>() + self.in_flight
    }
}

/// One time-series window of an LLM endpoint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowRow {
    /// Window start, seconds.
    pub start_s: f64,
    /// Requests that arrived in the window.
    pub arrivals: u64,
    /// Requests that ended in the window, by outcome (in `Outcome::ALL` order).
    pub outcomes: [u64; Outcome::COUNT],
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

/// Serving statistics beyond the request counts.
#[derive(Clone, Debug, Default)]
pub struct ServingStats {
    /// Time to first token of requests that ended ok, nanoseconds, summarised.
    pub ttft: Option<LatencyStats>,
    /// Sum and count of time per output token (ok requests with more than one output token).
    pub tpot_sum_s: f64,
    /// Count for `tpot_sum_s`.
    pub tpot_count: u64,
    /// Time per output token of those requests, summarised.
    pub tpot: Option<LatencyStats>,
    /// Output tokens of ok requests.
    pub ok_output_tokens: u64,
    /// KV tokens in use × seconds, in the window.
    pub kv_area: f64,
    /// KV capacity of all replicas, tokens.
    pub kv_capacity: u64,
    /// KV capacity of one replica, tokens (what `kv_peak` is bounded by).
    pub kv_replica_capacity: u64,
    /// Most KV tokens ever in use on one replica (for the never-exceeds check).
    pub kv_peak: u64,
    /// Sequences in the running batch × seconds, in the window (busy time only).
    pub batch_area: f64,
    /// Preemptions (vllm).
    pub preemptions: u64,
    /// Whether the engine keeps a prefix cache.
    pub prefix_caching: bool,
    /// Prompt tokens of counted attempts at admission (a recomputed one again), the
    /// denominator of the prefix-cache hit rate.
    pub prompt_tokens_admitted: u64,
    /// Of those, tokens whose KV came from the prefix cache instead of a prefill.
    pub prefill_tokens_saved: u64,
    /// Tokens generated for attempts whose client had gone (or that did not end ok).
    pub wasted_tokens: u64,
    /// Instance cost of the window, US dollars (when a price is known).
    pub cost_usd: Option<f64>,
    /// Replica seconds starting or running, in the window.
    pub replica_seconds: f64,
    /// GPU seconds starting or running, in the window (fallback endpoint included).
    pub gpu_seconds: f64,
    /// Most replicas starting or running at once.
    pub replicas_max: u64,
    /// Cold starts begun in the window.
    pub cold_starts: u64,
    /// GPUs per replica.
    pub gpus_per_replica: u32,
    /// Windows whose p99 latency exceeded 80 % of the client timeout (the alert rule).
    pub alert_windows: u64,
    /// The time series, when kept.
    pub timeseries: Vec<WindowRow>,
    /// Replicas still draining with nothing left to drain when the run ended (a consistency
    /// check: always 0).
    pub empty_draining_at_end: u32,
    /// Replicas starting or running (draining ones excluded) after each autoscaler decision (at
    /// most 10,000 entries).
    pub scaling_log: Vec<(SimTime, u32)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrals_ignore_time_before_the_window() {
        let mut t = TimeIntegral::new();
        let w = SimTime::from_nanos(10);
        t.set(SimTime::from_nanos(0), 2, w);
        t.set(SimTime::from_nanos(20), 5, w); // level 2 over [10, 20]
        t.set(SimTime::from_nanos(30), 0, w); // level 5 over [20, 30]
        assert_eq!(t.area, 2 * 10 + 5 * 10);
    }

    #[test]
    fn the_backlog_keeps_evenly_spaced_samples_within_its_budget() {
        let mut b = Backlog::new(SimTime::ZERO);
        // A level that rises by one every millisecond for ten seconds.
        for ms in 0..10_000u64 {
            b.observe(SimTime::from_nanos(ms * 1_000_000), ms);
        }
        assert!(b.samples.len() < BACKLOG_SAMPLES);
        // After halvings the step is 8 ms and every kept sample is the level at its time.
        assert_eq!(b.step_ns, 8_000_000);
        for (i, &level) in b.samples.iter().enumerate() {
            assert_eq!(level, i as u64 * 8);
        }
        let (first, last) = b
            .thirds(SimTime::from_nanos(10_000_000_000), 10_000)
            .unwrap();
        assert!(last > 4.0 * first, "{first} {last}");
    }

    #[test]
    fn percentiles_of_a_constant_are_exact() {
        let mut l = LatencyStats::new();
        for _ in 0..1000 {
            l.record(SimDuration::from_secs(1));
        }
        assert_eq!(l.quantile_s(0.5), Some(1.0));
        assert_eq!(l.quantile_s(0.99), Some(1.0));
        assert_eq!(l.mean_s(), Some(1.0));
    }

    #[test]
    fn percentiles_are_within_a_tenth_of_a_percent() {
        let mut l = LatencyStats::new();
        for i in 1..=100_000u64 {
            l.record(SimDuration::from_nanos(i * 1000));
        }
        let p95 = l.quantile_s(0.95).unwrap();
        assert!((p95 - 0.095).abs() / 0.095 < 0.001, "p95 {p95}");
    }
}
