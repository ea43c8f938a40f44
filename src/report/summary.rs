//! The one result schema: a [`Summary`] of [`RunSummary`] rows whose [`Metrics`] are flat and
//! named. Every exporter reads these and nothing else.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// Version of the output format; bumped when a column changes meaning or is removed.
pub const FORMAT_VERSION: u32 = 2;

/// Everything one invocation of `capsim run` produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Output format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// Version of capsim that wrote it.
    pub capsim: String,
    /// Experiment name.
    pub experiment: String,
    /// Hash of the resolved experiment (`experiment::fingerprint`): tells apart two
    /// experiments with the same name, so that `merge` and `run --resume` refuse to mix them.
    /// Absent in summaries written before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_hash: Option<String>,
    /// Master seed of the invocation.
    pub seed: u64,
    /// Which part of the plan this is, when run with `--shard K/N` (absent for a whole run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// The sweep's axes, typed (absent without a sweep).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub axes: Vec<SweepAxis>,
    /// The experiment's SLO, as the targets each row was judged against (absent without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloSpec>,
    /// One entry per run and class, in run order.
    pub runs: Vec<RunSummary>,
    /// With replications: per configuration and class, each metric's mean and 95 % confidence
    /// interval over the replications.
    #[serde(default, skip_serializing_if = "Vec::is_empty", skip_deserializing)]
    pub aggregates: Vec<Aggregate>,
}

/// What a swept key means, decided where the key is known (the experiment file's reader):
/// the charts read it instead of guessing from key names.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AxisRole {
    /// The offered load: an arrival rate, a trace speed-up, a number of users.
    Load,
    /// A limit such as a timeout or a `max-*` cap.
    Limit,
    /// Any other setting.
    Choice,
}

/// One value of a sweep axis: as written, and as a number where it is one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AxisValue {
    /// The value as a label: a string as written (`"2.5/s"`), a number, a table as
    /// `key=value` pairs, or `unset`.
    pub written: String,
    /// The value as a number in `unit` (rates per second, durations in seconds), if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<f64>,
    /// `"/s"` for a rate, `"s"` for a duration; absent for a plain number or a non-number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A sweep axis: its key, its role and its value in every configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepAxis {
    /// Key path in the experiment file, e.g. `workload.arrival.rate`.
    pub key: String,
    /// What the key means.
    pub role: AxisRole,
    /// The value in configuration `c` at index `c`.
    pub values: Vec<AxisValue>,
}

/// An SLO as the report reads it: upper bounds on named metrics of named rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloSpec {
    /// Confidence with which a configuration's replications must meet every target (the
    /// one-sided upper confidence bound of the metric's mean is compared with the target).
    pub confidence: f64,
    /// Every target.
    pub targets: Vec<SloTarget>,
}

/// One target of an SLO.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloTarget {
    /// The rows it applies to: `all` or a class name.
    pub class: String,
    /// The metric bounded, e.g. `failed_rate`.
    pub metric: String,
    /// Its largest allowed value.
    pub max: f64,
}

impl SloSpec {
    /// Whether `metrics` (a row of class `class`) meet every target of that class; `None` if
    /// no target applies to it. An undefined metric (a percentile of no answers) misses.
    pub fn met_by(&self, class: &str, metrics: &Metrics) -> Option<bool> {
        let mut applies = false;
        let mut met = true;
        for t in self.targets.iter().filter(|t| t.class == class) {
            applies = true;
            let v = match metrics.get(&t.metric) {
                Some(MetricValue::Count(c)) => Some(c as f64),
                Some(MetricValue::Real(x)) => x.filter(|x| x.is_finite()),
                None => None,
            };
            met &= v.is_some_and(|v| v <= t.max);
        }
        applies.then_some(met)
    }
}

/// How a run's queue behaved: what the table prints beside every run.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The offered load is within the capacity and the backlog did not grow.
    Stable,
    /// The number of requests in the system was still growing at the end: the last third of
    /// the window held well over the first (a longer run would look worse).
    Backlogged,
    /// The offered load is above the capacity the service model gives, or the backlog passed
    /// the in-flight budget and the run was stopped.
    Overloaded,
}

impl Verdict {
    /// The word printed in tables.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Stable => "stable",
            Verdict::Backlogged => "backlogged",
            Verdict::Overloaded => "overloaded",
        }
    }
}

/// Which runs a shard holds: those whose index is `k − 1` modulo `n`, of `runs` in all.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, from 1.
    pub k: usize,
    /// Shards in all.
    pub n: usize,
    /// Runs in the whole plan.
    pub runs: usize,
    /// Replications per configuration in the whole plan.
    pub replications: u32,
}

/// A metric over the replications of one configuration.
#[derive(Copy, Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// Mean over the replications where it is defined.
    pub mean: Option<f64>,
    /// Half-width of the 95 % confidence interval (Student t); `None` with fewer than two
    /// values.
    pub ci95: Option<f64>,
    /// Replications where it is defined.
    pub n: u32,
}

/// One configuration and class, summarised over its replications.
#[derive(Clone, Debug, Serialize)]
pub struct Aggregate {
    /// Which configuration of the sweep.
    pub config: usize,
    /// `all` or a class name.
    pub class: String,
    /// The axis values of the configuration.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Replications summarised.
    pub replications: u32,
    /// Every metric, in [`Metrics::entries`] order.
    #[serde(serialize_with = "estimates_in_order")]
    pub metrics: Vec<(&'static str, Estimate)>,
    /// Whether the configuration meets the SLO's targets for this class with the SLO's
    /// confidence over its replications (absent without an SLO target for the class).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo_met: Option<bool>,
}

fn estimates_in_order<S: Serializer>(
    v: &[(&'static str, Estimate)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(v.len()))?;
    for (name, e) in v {
        map.serialize_entry(name, e)?;
    }
    map.end()
}

/// One run: its identity, the parameters that distinguish it, and what it measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    /// Position in the run plan, from 0.
    pub index: usize,
    /// Which configuration of the sweep (0 without one).
    pub config: usize,
    /// Which replication of that configuration (0 without replications).
    pub replication: u32,
    /// The client class these metrics cover: `all` for the whole run, else a class name.
    pub class: String,
    /// Seed this run used.
    pub seed: u64,
    /// Parameters that vary between runs (sweep axes), by key path; empty for a single run.
    pub params: BTreeMap<String, serde_json::Value>,
    /// How the run's queue behaved (the same on every row of a run).
    pub verdict: Verdict,
    /// Whether the row meets the SLO (for `all`: its own targets and every class's); absent
    /// without an SLO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_met: Option<bool>,
    /// What was measured.
    pub metrics: Metrics,
    /// Latency of ok requests at the quantiles [`LATENCY_CDF_QUANTILES`], seconds (for the
    /// CDF chart; empty without answers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latency_cdf: Vec<f64>,
}

/// The quantiles `latency_cdf` holds: 1 % to 99 % by 1 %, then 99.9 % and the maximum.
pub const LATENCY_CDF_QUANTILES: [f64; 101] = {
    let mut q = [0.0; 101];
    let mut i = 0;
    while i < 99 {
        q[i] = (i + 1) as f64 / 100.0;
        i += 1;
    }
    q[99] = 0.999;
    q[100] = 1.0;
    q
};

/// A metric value: a count, or a real number that may be undefined (e.g. a percentile of no
/// requests), written as `null` in JSON and an empty cell in CSV.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum MetricValue {
    /// An exact count.
    Count(u64),
    /// A real number, `None` when undefined.
    Real(Option<f64>),
}

/// Declares every metric once: name, kind (`count`: always an exact count; `maybe_count`: a
/// count some endpoints do not have; `real`: a real number that may be undefined;
/// `always_real`: a real number every run has), unit and meaning. From this one table come the
/// [`Metrics`] fields, [`Metrics::DOCS`] and [`Metrics::UNITS`] (the README table and
/// `docs/metrics.md`), [`Metrics::entries`] (the column order of every output, JSON and CSV)
/// and so the values replications average (every metric, as a real number).
macro_rules! metrics_table {
    ($($name:ident : $kind:ident, $unit:literal, $doc:literal;)*) => {
        /// The measured metrics of one run. Names are stable: scripts depend on them.
        // Deserialised from the map `Serialize` writes: field names are the metric names.
        #[derive(Clone, Debug, Default, PartialEq, Deserialize)]
        pub struct Metrics {
            $(#[doc = $doc] pub $name: metric_type!($kind),)*
        }

        /// How many metrics there are.
        pub const METRIC_COUNT: usize = [$(stringify!($name)),*].len();

        impl Metrics {
            /// Every metric's name and one-line meaning, in output order.
            pub const DOCS: [(&'static str, &'static str); METRIC_COUNT] =
                [$((stringify!($name), $doc)),*];

            /// Every metric's name and unit (`count`, `s`, `share` between 0 and 1, ...), in
            /// output order.
            pub const UNITS: [(&'static str, &'static str); METRIC_COUNT] =
                [$((stringify!($name), $unit)),*];

            /// The metrics as (name, value) pairs in output order. This is the column schema.
            pub fn entries(&self) -> [(&'static str, MetricValue); METRIC_COUNT] {
                [$((stringify!($name), metric_value!($kind, self.$name))),*]
            }
        }
    };
}

/// The Rust type of a metric of each kind.
macro_rules! metric_type {
    (count) => { u64 };
    (maybe_count) => { Option<u64> };
    (real) => { Option<f64> };
    (always_real) => { f64 };
}

/// A metric's field as a [`MetricValue`], by kind.
macro_rules! metric_value {
    (count, $v:expr) => {
        MetricValue::Count($v)
    };
    (maybe_count, $v:expr) => {
        $v.map_or(MetricValue::Real(None), MetricValue::Count)
    };
    (real, $v:expr) => {
        MetricValue::Real($v)
    };
    (always_real, $v:expr) => {
        MetricValue::Real(Some($v))
    };
}

metrics_table! {
    arrived: count, "count", "requests that arrived after the warm-up";
    ok: count, "count", "requests answered completely in time";
    client_timeout: count, "count", "requests whose client gave up: read timeout or total deadline (ReadTimeout)";
    connect_timeout: count, "count", "requests no replica took within the connect timeout (ConnectTimeout)";
    gateway_timeout: count, "count", "requests ended by the gateway's idle timeout (HTTP 504)";
    queue_timeout: count, "count", "requests the server dropped after waiting longer than the queue timeout";
    rejected: count, "count", "requests refused at once: concurrency cap or full queue (HTTP 429)";
    unavailable: count, "count", "requests answered HTTP 503 because no replica was ready (LLM endpoints with a lifecycle)";
    fallback_ok: count, "count", "requests answered by the fallback endpoint while the breaker was open";
    fallback_failed: count, "count", "requests sent to the fallback endpoint that failed there too";
    breaker_rejected: count, "count", "requests failed at once by an open breaker without a fallback";
    expired: count, "count", "async jobs not started within their time to live";
    unfinished: count, "count", "requests without an outcome when the run stopped (still queued or in service)";
    timeout_rate: real, "share", "(client_timeout + connect_timeout + gateway_timeout + queue_timeout) / arrived";
    failed_rate: real, "share", "every request not answered (timeouts, 429, 503, breaker, fallback failures, expired, unfinished) / arrived";
    answered_rate: real, "share", "(ok + fallback_ok) / arrived: 1 - failed_rate";
    latency_mean_s: real, "s", "mean end-to-end latency of ok requests, seconds";
    latency_p50_s: real, "s", "median end-to-end latency of ok requests, seconds";
    latency_p95_s: real, "s", "95th percentile end-to-end latency of ok requests, seconds";
    latency_p99_s: real, "s", "99th percentile end-to-end latency of ok requests, seconds";
    latency_max_s: real, "s", "largest end-to-end latency of an ok request, seconds";
    latency_all_p50_s: real, "s", "median latency of every request as its user saw it: until the answer, the failure, or the end for unfinished ones, seconds";
    latency_all_p95_s: real, "s", "95th percentile of the latency of every request (as latency_all_p50_s), seconds";
    latency_all_p99_s: real, "s", "99th percentile of the latency of every request (as latency_all_p50_s), seconds";
    wait_mean_s: real, "s", "mean queue wait of every request that left the queue (served, dropped or cancelled), seconds";
    wait_prob: real, "share", "share of attempts (one per request without retries) that found every server busy and had to queue, between 0 and 1";
    queue_mean: real, "requests", "time-average number of requests waiting in the queue";
    throughput_rps: real, "requests/s", "ok requests per second of the measurement window";
    goodput_rps: real, "requests/s", "answered requests per second within the SLO's per-request latency, ttft and tpot bounds (every answer without an SLO)";
    capacity_rps: real, "requests/s", "most requests per second the endpoint can complete, from its service model (an upper bound; LLM: at its most replicas)";
    offered_load: real, "ratio", "mean arrival rate x attempts_per_request (retries are load) / capacity_rps (open-loop workloads): above 1 cannot be carried";
    utilization: real, "share", "busy server time / (servers x window)";
    wasted_work_s: real, "s", "server (GPU) seconds spent on attempts that did not end ok: the client had gone, or they were cancelled";
    wasted_tokens: maybe_count, "tokens", "tokens generated for attempts whose client had gone (LLM endpoints)";
    attempts: maybe_count, "count", "attempts sent to an endpoint: first tries and retries (LLM endpoints)";
    retries: maybe_count, "count", "retries sent (LLM endpoints)";
    attempts_per_request: real, "ratio", "attempts / arrived: above 1 is retry load, far above is a retry storm";
    retries_refused: maybe_count, "count", "retries the retry budget did not allow";
    breaker_opens: maybe_count, "count", "times the circuit breaker opened";
    polls: maybe_count, "count", "status polls made by async clients";
    async_queue_max: maybe_count, "count", "most async jobs queued at once";
    ttft_p50_s: real, "s", "median time to first token of ok requests, seconds (LLM endpoints)";
    ttft_p99_s: real, "s", "99th percentile time to first token of ok requests, seconds (LLM endpoints)";
    tpot_mean_s: real, "s", "mean time per output token after the first, of ok requests, seconds (LLM endpoints)";
    tpot_p99_s: real, "s", "99th percentile time per output token after the first, of ok requests, seconds (LLM endpoints)";
    tokens_per_s: real, "tokens/s", "output tokens of ok requests per second of the window (LLM endpoints)";
    goodput_tokens_per_s: real, "tokens/s", "output tokens of the answers counted in goodput_rps per second of the window (LLM endpoints)";
    kv_util_mean: real, "share", "time-average share of the KV cache in use (LLM endpoints)";
    batch_mean: real, "sequences", "mean number of sequences in a step while the GPU is busy (LLM endpoints)";
    gpu_busy: real, "share", "share of the window the GPU spends running steps (LLM endpoints)";
    preemptions: maybe_count, "count", "sequences preempted because the KV cache ran out (LLM endpoints)";
    prefix_hit_rate: real, "share", "prompt tokens whose KV came from the prefix cache / prompt tokens admitted, recomputations included (LLM engines with a prefix cache)";
    prefill_tokens_saved: maybe_count, "tokens", "prompt tokens not prefilled because their KV blocks were cached (LLM engines with a prefix cache)";
    cost_usd: real, "USD", "instance cost of the window, billed per started minute while replicas start or run";
    cost_per_1k_ok_usd: real, "USD per 1,000 ok", "cost_usd per 1,000 ok requests";
    gpu_hours: real, "h", "GPU hours of replicas starting or running in the window";
    replicas_mean: real, "replicas", "time-average number of replicas starting or running";
    replicas_max: maybe_count, "count", "most replicas starting or running at once";
    cold_starts: maybe_count, "count", "replica cold starts begun in the window";
    alert_windows: maybe_count, "count", "time-series windows whose p99 latency exceeded 80 % of the client timeout (LLM endpoints)";
    window_s: always_real, "s", "length of the measurement window (after the warm-up), seconds";
    events: count, "count", "simulation events handled";
}

impl Metrics {
    /// Every metric as a real number (counts converted, undefined and non-finite values
    /// `None`), in output order: what replications average and charts draw.
    pub fn reals(&self) -> [Option<f64>; METRIC_COUNT] {
        self.entries().map(|(_, v)| match v {
            MetricValue::Count(c) => Some(c as f64),
            MetricValue::Real(x) => x.filter(|x| x.is_finite()),
        })
    }

    /// The position of the metric called `name` in output order.
    pub fn index(name: &str) -> Option<usize> {
        Self::DOCS.iter().position(|(n, _)| *n == name)
    }

    /// The metrics table of the README: one row per metric with its unit and meaning.
    pub fn markdown_table() -> String {
        let mut s = String::from("| metric | unit | meaning |\n| --- | --- | --- |\n");
        for ((name, doc), (_, unit)) in Self::DOCS.iter().zip(Self::UNITS) {
            s += &format!("| `{name}` | {unit} | {doc} |\n");
        }
        s
    }

    /// The value of the metric called `name`.
    pub fn get(&self, name: &str) -> Option<MetricValue> {
        self.entries()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}

/// Serialises as a JSON object in [`Metrics::entries`] order (not alphabetical).
impl Serialize for Metrics {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entries = self.entries();
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (name, value) in entries {
            match value {
                MetricValue::Count(c) => map.serialize_entry(name, &c)?,
                MetricValue::Real(r) => map.serialize_entry(name, &r.filter(|x| x.is_finite()))?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reals_follow_the_column_order_and_drop_undefined_values() {
        let m = Metrics {
            ok: 7,
            timeout_rate: Some(0.25),
            latency_p99_s: Some(f64::NAN),
            window_s: 60.0,
            ..Metrics::default()
        };
        let r = m.reals();
        let at = |n: &str| r[Metrics::index(n).unwrap()];
        assert_eq!(at("ok"), Some(7.0));
        assert_eq!(at("timeout_rate"), Some(0.25));
        assert_eq!(at("latency_p99_s"), None);
        assert_eq!(at("ttft_p50_s"), None);
        assert_eq!(at("window_s"), Some(60.0));
        assert_eq!(Metrics::index("events"), Some(METRIC_COUNT - 1));
    }
}
