//! The one result schema: a [`Summary`] of [`RunSummary`] rows whose [`Metrics`] are flat and
//! named. Every exporter reads these and nothing else.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// Version of the output format; bumped when a column changes meaning or is removed.
pub const FORMAT_VERSION: u32 = 1;

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
    /// One entry per run and class, in run order.
    pub runs: Vec<RunSummary>,
    /// With replications: per configuration and class, each metric's mean and 95 % confidence
    /// interval over the replications.
    #[serde(default, skip_serializing_if = "Vec::is_empty", skip_deserializing)]
    pub aggregates: Vec<Aggregate>,
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

/// The measured metrics of one run. Names are stable: scripts depend on them.
// Deserialised from the map `Serialize` writes: field names are the metric names.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[allow(missing_docs)] // Each field is documented in `Metrics::DOCS` and in the README.
pub struct Metrics {
    pub arrived: u64,
    pub ok: u64,
    pub client_timeout: u64,
    pub connect_timeout: u64,
    pub gateway_timeout: u64,
    pub queue_timeout: u64,
    pub rejected: u64,
    pub unavailable: u64,
    pub fallback_ok: u64,
    pub fallback_failed: u64,
    pub breaker_rejected: u64,
    pub expired: u64,
    pub in_flight: u64,
    pub timeout_rate: Option<f64>,
    pub error_rate: Option<f64>,
    pub latency_mean_s: Option<f64>,
    pub latency_p50_s: Option<f64>,
    pub latency_p95_s: Option<f64>,
    pub latency_p99_s: Option<f64>,
    pub latency_max_s: Option<f64>,
    pub wait_mean_s: Option<f64>,
    pub wait_prob: Option<f64>,
    pub queue_mean: Option<f64>,
    pub throughput_rps: Option<f64>,
    pub utilization: Option<f64>,
    pub wasted_work_s: Option<f64>,
    pub wasted_tokens: Option<u64>,
    pub attempts: Option<u64>,
    pub retries: Option<u64>,
    pub attempts_per_request: Option<f64>,
    pub retries_refused: Option<u64>,
    pub breaker_opens: Option<u64>,
    pub polls: Option<u64>,
    pub async_queue_max: Option<u64>,
    pub ttft_p50_s: Option<f64>,
    pub ttft_p99_s: Option<f64>,
    pub tpot_mean_s: Option<f64>,
    pub tokens_per_s: Option<f64>,
    pub kv_util_mean: Option<f64>,
    pub batch_mean: Option<f64>,
    pub gpu_busy: Option<f64>,
    pub preemptions: Option<u64>,
    pub cost_usd: Option<f64>,
    pub cost_per_1k_ok_usd: Option<f64>,
    pub gpu_hours: Option<f64>,
    pub replicas_mean: Option<f64>,
    pub replicas_max: Option<u64>,
    pub cold_starts: Option<u64>,
    pub alert_windows: Option<u64>,
    pub window_s: f64,
    pub events: u64,
}

impl Metrics {
    /// Every metric's name and one-line meaning, in output order.
    pub const DOCS: [(&'static str, &'static str); 51] = [
        ("arrived", "requests that arrived after the warm-up"),
        ("ok", "requests answered completely in time"),
        (
            "client_timeout",
            "requests whose client gave up: read timeout or total deadline (ReadTimeout)",
        ),
        (
            "connect_timeout",
            "requests no replica took within the connect timeout (ConnectTimeout)",
        ),
        (
            "gateway_timeout",
            "requests ended by the gateway's idle timeout (HTTP 504)",
        ),
        (
            "queue_timeout",
            "requests the server dropped after waiting longer than the queue timeout",
        ),
        (
            "rejected",
            "requests refused at once: concurrency cap or full queue (HTTP 429)",
        ),
        (
            "unavailable",
            "requests answered HTTP 503 because no replica was ready (LLM endpoints with a lifecycle)",
        ),
        (
            "fallback_ok",
            "requests answered by the fallback endpoint while the breaker was open",
        ),
        (
            "fallback_failed",
            "requests sent to the fallback endpoint that failed there too",
        ),
        (
            "breaker_rejected",
            "requests failed at once by an open breaker without a fallback",
        ),
        (
            "expired",
            "async jobs not started within their time to live",
        ),
        (
            "in_flight",
            "requests without an outcome when the run stopped",
        ),
        (
            "timeout_rate",
            "(client_timeout + connect_timeout + gateway_timeout + queue_timeout) / arrived",
        ),
        (
            "error_rate",
            "every outcome other than ok and fallback_ok / arrived (in-flight requests excluded)",
        ),
        (
            "latency_mean_s",
            "mean end-to-end latency of ok requests, seconds",
        ),
        (
            "latency_p50_s",
            "median end-to-end latency of ok requests, seconds",
        ),
        (
            "latency_p95_s",
            "95th percentile end-to-end latency of ok requests, seconds",
        ),
        (
            "latency_p99_s",
            "99th percentile end-to-end latency of ok requests, seconds",
        ),
        (
            "latency_max_s",
            "largest end-to-end latency of an ok request, seconds",
        ),
        (
            "wait_mean_s",
            "mean queue wait of every request that left the queue (served, dropped or cancelled), seconds",
        ),
        (
            "wait_prob",
            "share of attempts (one per request without retries) that found every server busy and had to queue, between 0 and 1",
        ),
        (
            "queue_mean",
            "time-average number of requests waiting in the queue",
        ),
        (
            "throughput_rps",
            "ok requests per second of the measurement window",
        ),
        ("utilization", "busy server time / (servers x window)"),
        (
            "wasted_work_s",
            "server (GPU) seconds spent on attempts that did not end ok: the client had gone, or they were cancelled",
        ),
        (
            "wasted_tokens",
            "tokens generated for attempts whose client had gone (LLM endpoints)",
        ),
        (
            "attempts",
            "attempts sent to an endpoint: first tries and retries (LLM endpoints)",
        ),
        ("retries", "retries sent (LLM endpoints)"),
        (
            "attempts_per_request",
            "attempts / arrived: above 1 is retry load, far above is a retry storm",
        ),
        ("retries_refused", "retries the retry budget did not allow"),
        ("breaker_opens", "times the circuit breaker opened"),
        ("polls", "status polls made by async clients"),
        ("async_queue_max", "most async jobs queued at once"),
        (
            "ttft_p50_s",
            "median time to first token of ok requests, seconds (LLM endpoints)",
        ),
        (
            "ttft_p99_s",
            "99th percentile time to first token of ok requests, seconds (LLM endpoints)",
        ),
        (
            "tpot_mean_s",
            "mean time per output token after the first, of ok requests, seconds (LLM endpoints)",
        ),
        (
            "tokens_per_s",
            "output tokens of ok requests per second of the window (LLM endpoints)",
        ),
        (
            "kv_util_mean",
            "time-average share of the KV cache in use (LLM endpoints)",
        ),
        (
            "batch_mean",
            "mean number of sequences in a step while the GPU is busy (LLM endpoints)",
        ),
        (
            "gpu_busy",
            "share of the window the GPU spends running steps (LLM endpoints)",
        ),
        (
            "preemptions",
            "sequences preempted because the KV cache ran out (LLM endpoints)",
        ),
        (
            "cost_usd",
            "instance cost of the window, billed per started minute while replicas start or run",
        ),
        ("cost_per_1k_ok_usd", "cost_usd per 1,000 ok requests"),
        (
            "gpu_hours",
            "GPU hours of replicas starting or running in the window",
        ),
        (
            "replicas_mean",
            "time-average number of replicas starting or running",
        ),
        ("replicas_max", "most replicas starting or running at once"),
        ("cold_starts", "replica cold starts begun in the window"),
        (
            "alert_windows",
            "time-series windows whose p99 latency exceeded 80 % of the client timeout (LLM endpoints)",
        ),
        (
            "window_s",
            "length of the measurement window (after the warm-up), seconds",
        ),
        ("events", "simulation events handled"),
    ];

    /// The metrics as (name, value) pairs in output order. This is the column schema.
    pub fn entries(&self) -> [(&'static str, MetricValue); 51] {
        use MetricValue::{Count, Real};
        let opt = |v: Option<u64>| v.map_or(Real(None), Count);
        [
            ("arrived", Count(self.arrived)),
            ("ok", Count(self.ok)),
            ("client_timeout", Count(self.client_timeout)),
            ("connect_timeout", Count(self.connect_timeout)),
            ("gateway_timeout", Count(self.gateway_timeout)),
            ("queue_timeout", Count(self.queue_timeout)),
            ("rejected", Count(self.rejected)),
            ("unavailable", Count(self.unavailable)),
            ("fallback_ok", Count(self.fallback_ok)),
            ("fallback_failed", Count(self.fallback_failed)),
            ("breaker_rejected", Count(self.breaker_rejected)),
            ("expired", Count(self.expired)),
            ("in_flight", Count(self.in_flight)),
            ("timeout_rate", Real(self.timeout_rate)),
            ("error_rate", Real(self.error_rate)),
            ("latency_mean_s", Real(self.latency_mean_s)),
            ("latency_p50_s", Real(self.latency_p50_s)),
            ("latency_p95_s", Real(self.latency_p95_s)),
            ("latency_p99_s", Real(self.latency_p99_s)),
            ("latency_max_s", Real(self.latency_max_s)),
            ("wait_mean_s", Real(self.wait_mean_s)),
            ("wait_prob", Real(self.wait_prob)),
            ("queue_mean", Real(self.queue_mean)),
            ("throughput_rps", Real(self.throughput_rps)),
            ("utilization", Real(self.utilization)),
            ("wasted_work_s", Real(self.wasted_work_s)),
            ("wasted_tokens", opt(self.wasted_tokens)),
            ("attempts", opt(self.attempts)),
            ("retries", opt(self.retries)),
            ("attempts_per_request", Real(self.attempts_per_request)),
            ("retries_refused", opt(self.retries_refused)),
            ("breaker_opens", opt(self.breaker_opens)),
            ("polls", opt(self.polls)),
            ("async_queue_max", opt(self.async_queue_max)),
            ("ttft_p50_s", Real(self.ttft_p50_s)),
            ("ttft_p99_s", Real(self.ttft_p99_s)),
            ("tpot_mean_s", Real(self.tpot_mean_s)),
            ("tokens_per_s", Real(self.tokens_per_s)),
            ("kv_util_mean", Real(self.kv_util_mean)),
            ("batch_mean", Real(self.batch_mean)),
            ("gpu_busy", Real(self.gpu_busy)),
            ("preemptions", self.preemptions.map_or(Real(None), Count)),
            ("cost_usd", Real(self.cost_usd)),
            ("cost_per_1k_ok_usd", Real(self.cost_per_1k_ok_usd)),
            ("gpu_hours", Real(self.gpu_hours)),
            ("replicas_mean", Real(self.replicas_mean)),
            ("replicas_max", self.replicas_max.map_or(Real(None), Count)),
            ("cold_starts", self.cold_starts.map_or(Real(None), Count)),
            (
                "alert_windows",
                self.alert_windows.map_or(Real(None), Count),
            ),
            ("window_s", Real(Some(self.window_s))),
            ("events", Count(self.events)),
        ]
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
    fn docs_and_entries_list_the_same_names_in_the_same_order() {
        let names: Vec<&str> = Metrics::default()
            .entries()
            .iter()
            .map(|(n, _)| *n)
            .collect();
        let documented: Vec<&str> = Metrics::DOCS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, documented);
    }
}
