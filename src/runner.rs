//! Runs an experiment: plans the runs, simulates them (in parallel, results in plan order) and
//! turns raw statistics into output metrics.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::domain::serving::ServingStats;
use crate::domain::{Outcome, RunOutput, RunStats, Scenario, simulate};
use crate::error::RunError;
use crate::experiment::Experiment;
use crate::report::{FORMAT_VERSION, Metrics, RunSummary, Summary};

/// One run to simulate.
#[derive(Clone, Debug)]
pub struct RunPlan {
    /// Position in the plan.
    pub index: usize,
    /// Seed of this run.
    pub seed: u64,
    /// What distinguishes this run from the others (sweep axes).
    pub params: BTreeMap<String, serde_json::Value>,
    /// What it simulates.
    pub scenario: Scenario,
}

/// The runs of `experiment` under master seed `seed`. One run for now; sweeps and replications
/// add more, each with a seed derived from its replication index so that configurations share
/// random numbers.
pub fn plan(experiment: &Experiment, seed: u64) -> Vec<RunPlan> {
    vec![RunPlan {
        index: 0,
        seed,
        params: BTreeMap::new(),
        scenario: experiment.scenario.clone(),
    }]
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Output metrics from what a run measured.
pub fn metrics(out: &RunOutput) -> Metrics {
    let mut m = request_metrics(&out.stats);
    if let Some(s) = &out.serving {
        serving_metrics(&mut m, &out.stats, s);
    }
    m
}

fn serving_metrics(m: &mut Metrics, stats: &RunStats, s: &ServingStats) {
    let window = stats.window_s();
    let busy_s = stats.busy.level_seconds();
    m.ttft_p50_s = s.ttft.as_ref().and_then(|t| t.quantile_s(0.50));
    m.ttft_p99_s = s.ttft.as_ref().and_then(|t| t.quantile_s(0.99));
    m.tpot_mean_s = (s.tpot_count > 0).then(|| s.tpot_sum_s / s.tpot_count as f64);
    m.tokens_per_s = (window > 0.0).then(|| s.ok_output_tokens as f64 / window);
    // An unlimited KV cache (a profile without kv-tokens) has no meaningful utilisation.
    m.kv_util_mean = (window > 0.0 && s.kv_capacity < 1 << 40)
        .then(|| s.kv_area / (s.kv_capacity as f64 * window));
    m.batch_mean = (busy_s > 0.0).then(|| s.batch_area / busy_s);
    // Busy share of the time replicas were up (starting or running), not of max replicas.
    m.gpu_busy = (s.replica_seconds > 0.0).then(|| busy_s / s.replica_seconds);
    m.utilization = m.gpu_busy;
    m.preemptions = Some(s.preemptions);
    m.cost_usd = s.cost_usd;
    m.cost_per_1k_ok_usd = s
        .cost_usd
        .filter(|_| m.ok > 0)
        .map(|c| c / m.ok as f64 * 1000.0);
    m.gpu_hours = Some(s.replica_seconds * f64::from(s.gpus_per_replica) / 3600.0);
    m.replicas_mean = (window > 0.0).then(|| s.replica_seconds / window);
    m.replicas_max = Some(s.replicas_max);
    m.cold_starts = Some(s.cold_starts);
    m.alert_windows = Some(s.alert_windows);
}

/// Metrics every endpoint has, from request statistics.
fn request_metrics(stats: &RunStats) -> Metrics {
    let window = stats.window_s();
    let per_window = |x: f64| (window > 0.0).then(|| x / window);
    let count = |o| stats.outcome(o);
    let timeouts = count(Outcome::ClientTimeout) + count(Outcome::QueueTimeout);
    let failures = stats.arrived - count(Outcome::Ok) - stats.in_flight;
    Metrics {
        arrived: stats.arrived,
        ok: count(Outcome::Ok),
        client_timeout: count(Outcome::ClientTimeout),
        queue_timeout: count(Outcome::QueueTimeout),
        rejected: count(Outcome::Rejected),
        unavailable: count(Outcome::Unavailable),
        in_flight: stats.in_flight,
        timeout_rate: ratio(timeouts, stats.arrived),
        error_rate: ratio(failures, stats.arrived),
        latency_mean_s: stats.latency.mean_s(),
        latency_p50_s: stats.latency.quantile_s(0.50),
        latency_p95_s: stats.latency.quantile_s(0.95),
        latency_p99_s: stats.latency.quantile_s(0.99),
        latency_max_s: stats.latency.max_s(),
        wait_mean_s: (stats.waits > 0).then(|| stats.wait_sum_ns as f64 / stats.waits as f64 / 1e9),
        wait_prob: ratio(stats.queued, stats.arrived),
        queue_mean: per_window(stats.waiting.level_seconds()),
        throughput_rps: per_window(count(Outcome::Ok) as f64),
        utilization: per_window(stats.busy.level_seconds() / f64::from(stats.servers)),
        wasted_work_s: stats.wasted_ns as f64 / 1e9,
        window_s: window,
        events: stats.events,
        ..Metrics::default()
    }
}

/// One run's summary and, when asked for, its time series.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The summary row.
    pub summary: RunSummary,
    /// Time-series windows (empty unless kept).
    pub timeseries: Vec<crate::domain::serving::WindowRow>,
}

/// Simulates one planned run.
pub fn run_one(plan: &RunPlan) -> Result<RunSummary, RunError> {
    run_one_full(plan).map(|r| r.summary)
}

/// Simulates one planned run, keeping its time series if the scenario asks for it.
pub fn run_one_full(plan: &RunPlan) -> Result<RunResult, RunError> {
    let out = simulate(&plan.scenario, plan.seed);
    let stats = &out.stats;
    if !stats.is_conserved() {
        return Err(RunError::Invariant {
            run: plan.index,
            message: format!(
                "arrived {} but outcomes {:?} + in flight {} do not add up",
                stats.arrived, stats.outcomes, stats.in_flight
            ),
        });
    }
    Ok(RunResult {
        summary: RunSummary {
            index: plan.index,
            seed: plan.seed,
            params: plan.params.clone(),
            metrics: metrics(&out),
        },
        timeseries: out.serving.map(|s| s.timeseries).unwrap_or_default(),
    })
}

/// Runs every planned run of `experiment` with master seed `seed`. Runs execute in parallel on
/// the current rayon pool; results come back in plan order whatever the thread count.
pub fn run(experiment: &Experiment, seed: u64) -> Result<Summary, RunError> {
    run_with_timeseries(experiment, seed, false).map(|(summary, _)| summary)
}

/// Like [`run`], and also returns each run's time series when `timeseries` is set.
pub fn run_with_timeseries(
    experiment: &Experiment,
    seed: u64,
    timeseries: bool,
) -> Result<(Summary, Vec<Vec<crate::domain::serving::WindowRow>>), RunError> {
    let mut plans = plan(experiment, seed);
    for p in &mut plans {
        p.scenario.keep_timeseries = timeseries;
    }
    let results = plans
        .par_iter()
        .map(run_one_full)
        .collect::<Result<Vec<_>, _>>()?;
    let (runs, series): (Vec<_>, Vec<_>) = results
        .into_iter()
        .map(|r| (r.summary, r.timeseries))
        .unzip();
    let summary = Summary {
        version: FORMAT_VERSION,
        capsim: env!("CARGO_PKG_VERSION").to_string(),
        experiment: experiment.name.clone(),
        seed,
        runs,
    };
    Ok((summary, series))
}
