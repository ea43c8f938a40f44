//! Runs an experiment: plans the runs, simulates them (in parallel, results in plan order) and
//! turns raw statistics into output metrics.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rayon::prelude::*;

pub mod plan;

use crate::domain::serving::{ClassStats, ServingStats};
use crate::domain::{
    Load, Outcome, RunOutput, RunStats, Scenario, capacity_rps, simulate_observed,
};
use crate::error::RunError;
use crate::experiment::Experiment;
use crate::experiment::sweep::Role;
use crate::report::{
    AxisRole, AxisValue, FORMAT_VERSION, Metrics, RunSummary, SloSpec, SloTarget, Summary,
    SweepAxis, Verdict,
};

/// One run to simulate.
#[derive(Clone, Debug)]
pub struct RunPlan {
    /// Position in the plan.
    pub index: usize,
    /// Which configuration of the sweep.
    pub config: usize,
    /// Which replication of that configuration.
    pub replication: u32,
    /// Seed of this run.
    pub seed: u64,
    /// What distinguishes this run from the others (sweep axes).
    pub params: BTreeMap<String, serde_json::Value>,
    /// What it simulates.
    pub scenario: Scenario,
}

/// The runs of `experiment` under master seed `seed`: every configuration × replication, the
/// first configuration's replications first. Replication `r` has the same seed in every
/// configuration (the master seed for `r = 0`), so configurations are compared on common
/// random numbers: the same arrivals and request sizes.
pub fn plan(experiment: &Experiment, seed: u64) -> Vec<RunPlan> {
    let reps = experiment.replications.max(1);
    let mut plans = Vec::new();
    for (c, config) in experiment.configs.iter().enumerate() {
        for r in 0..reps {
            plans.push(RunPlan {
                index: plans.len(),
                config: c,
                replication: r,
                seed: replication_seed(seed, r),
                params: config.params.clone(),
                scenario: config.scenario.clone(),
            });
        }
    }
    plans
}

/// The seed of replication `r`: the master seed itself for the first.
pub fn replication_seed(seed: u64, r: u32) -> u64 {
    if r == 0 {
        seed
    } else {
        crate::sim::rng::derive_seed(seed, u64::from(r))
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Output metrics from what a run measured (the `all` row).
pub fn metrics(out: &RunOutput) -> Metrics {
    let mut m = request_metrics(&out.stats);
    if let Some(s) = &out.serving {
        serving_metrics(&mut m, &out.stats, s);
    }
    if let Some(c) = &out.clients {
        client_metrics(&mut m, &c.classes[0]);
        m.breaker_opens = Some(c.breaker_opens);
        m.async_queue_max = Some(c.async_queue_max);
        // Queueing happens to attempts: with retries one request can wait several times, so
        // the share is of attempts (waited attempts never outnumber attempts), not requests.
        m.wait_prob = ratio(out.stats.queued, c.classes[0].attempts);
    }
    m
}

/// Metrics of one client class: its requests, attempts and tokens. Endpoint-wide figures
/// (utilisation, queue, cost, replicas) are left empty: they belong to the `all` row.
pub fn class_metrics(c: &ClassStats) -> Metrics {
    let mut m = request_metrics(&c.run);
    m.wait_mean_s = None;
    m.wait_prob = None;
    m.queue_mean = None;
    m.utilization = None;
    m.wasted_work_s = None;
    m.events = 0;
    client_metrics(&mut m, c);
    let window = c.run.window_s();
    m.ttft_p50_s = c.ttft.quantile_s(0.50);
    m.ttft_p99_s = c.ttft.quantile_s(0.99);
    m.tpot_mean_s = (c.tpot_count > 0).then(|| c.tpot_sum_s / c.tpot_count as f64);
    m.tpot_p99_s = c.tpot.quantile_s(0.99);
    m.tokens_per_s = (window > 0.0).then(|| c.ok_output_tokens as f64 / window);
    m.goodput_tokens_per_s = (window > 0.0).then(|| c.run.good_tokens as f64 / window);
    m
}

fn client_metrics(m: &mut Metrics, c: &ClassStats) {
    m.attempts = Some(c.attempts);
    m.retries = Some(c.retries);
    m.retries_refused = Some(c.retries_refused);
    m.attempts_per_request = ratio(c.attempts, c.run.arrived);
    m.polls = Some(c.polls);
}

fn serving_metrics(m: &mut Metrics, stats: &RunStats, s: &ServingStats) {
    let window = stats.window_s();
    let busy_s = stats.busy.level_seconds();
    m.ttft_p50_s = s.ttft.as_ref().and_then(|t| t.quantile_s(0.50));
    m.ttft_p99_s = s.ttft.as_ref().and_then(|t| t.quantile_s(0.99));
    m.tpot_mean_s = (s.tpot_count > 0).then(|| s.tpot_sum_s / s.tpot_count as f64);
    m.tpot_p99_s = s.tpot.as_ref().and_then(|t| t.quantile_s(0.99));
    m.tokens_per_s = (window > 0.0).then(|| s.ok_output_tokens as f64 / window);
    m.goodput_tokens_per_s = (window > 0.0).then(|| stats.good_tokens as f64 / window);
    // An unlimited KV cache (a profile without kv-tokens) has no meaningful utilisation.
    m.kv_util_mean = (window > 0.0 && s.kv_capacity < 1 << 40)
        .then(|| s.kv_area / (s.kv_capacity as f64 * window));
    m.batch_mean = (busy_s > 0.0).then(|| s.batch_area / busy_s);
    // Busy share of the time replicas were up (starting or running), not of max replicas.
    m.gpu_busy = (s.replica_seconds > 0.0).then(|| busy_s / s.replica_seconds);
    m.utilization = m.gpu_busy;
    m.preemptions = Some(s.preemptions);
    if s.prefix_caching {
        m.prefix_hit_rate = ratio(s.prefill_tokens_saved, s.prompt_tokens_admitted);
        m.prefill_tokens_saved = Some(s.prefill_tokens_saved);
    }
    m.cost_usd = s.cost_usd;
    m.cost_per_1k_ok_usd = s
        .cost_usd
        .filter(|_| m.ok > 0)
        .map(|c| c / m.ok as f64 * 1000.0);
    m.gpu_hours = Some(s.gpu_seconds / 3600.0);
    m.wasted_tokens = Some(s.wasted_tokens);
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
    let timeouts: u64 = Outcome::ALL
        .iter()
        .filter(|o| o.is_timeout())
        .map(|&o| count(o))
        .sum();
    let answered = count(Outcome::Ok) + count(Outcome::FallbackOk);
    let all = stats.latency_all();
    Metrics {
        arrived: stats.arrived,
        ok: count(Outcome::Ok),
        client_timeout: count(Outcome::ClientTimeout),
        connect_timeout: count(Outcome::ConnectTimeout),
        gateway_timeout: count(Outcome::GatewayTimeout),
        queue_timeout: count(Outcome::QueueTimeout),
        rejected: count(Outcome::Rejected),
        unavailable: count(Outcome::Unavailable),
        fallback_ok: count(Outcome::FallbackOk),
        fallback_failed: count(Outcome::FallbackFailed),
        breaker_rejected: count(Outcome::BreakerRejected),
        expired: count(Outcome::Expired),
        unfinished: stats.in_flight,
        timeout_rate: ratio(timeouts, stats.arrived),
        failed_rate: ratio(stats.arrived - answered, stats.arrived),
        answered_rate: ratio(answered, stats.arrived),
        latency_mean_s: stats.latency.mean_s(),
        latency_p50_s: stats.latency.quantile_s(0.50),
        latency_p95_s: stats.latency.quantile_s(0.95),
        latency_p99_s: stats.latency.quantile_s(0.99),
        latency_max_s: stats.latency.max_s(),
        latency_all_p50_s: all.quantile_s(0.50),
        latency_all_p95_s: all.quantile_s(0.95),
        latency_all_p99_s: all.quantile_s(0.99),
        goodput_rps: per_window(stats.good as f64),
        wait_mean_s: (stats.waits > 0).then(|| stats.wait_sum_ns as f64 / stats.waits as f64 / 1e9),
        wait_prob: ratio(stats.queued, stats.arrived),
        queue_mean: per_window(stats.waiting.level_seconds()),
        throughput_rps: per_window(count(Outcome::Ok) as f64),
        utilization: per_window(stats.busy.level_seconds() / f64::from(stats.servers)),
        wasted_work_s: Some(stats.wasted_ns as f64 / 1e9),
        window_s: window,
        events: stats.events,
        ..Metrics::default()
    }
}

/// The sweep's axes as the report shows them: each key's role (known here, where keys have
/// meaning) and its value in every configuration, as a label and, where it is one, a number.
pub fn axes(experiment: &Experiment) -> Vec<SweepAxis> {
    let Some(first) = experiment.configs.first() else {
        return Vec::new();
    };
    first
        .swept
        .iter()
        .enumerate()
        .map(|(j, s)| SweepAxis {
            key: s.key.clone(),
            role: match s.role {
                Role::Load => AxisRole::Load,
                Role::Limit => AxisRole::Limit,
                Role::Choice => AxisRole::Choice,
            },
            values: experiment
                .configs
                .iter()
                .map(|c| {
                    let v = &c.swept[j];
                    AxisValue {
                        written: v.written.clone(),
                        number: v.number,
                        unit: v.unit.map(str::to_string),
                    }
                })
                .collect(),
        })
        .collect()
}

/// One run's summary rows and, when asked for, its time series.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The summary rows: `all`, then one per client class when there are several.
    pub rows: Vec<RunSummary>,
    /// Time-series windows (empty unless kept).
    pub timeseries: Vec<crate::report::WindowRow>,
    /// One record per request (empty unless kept).
    pub requests: Vec<crate::report::RequestRow>,
    /// Class names, by class index of the records.
    pub class_names: Vec<String>,
}

impl RunResult {
    /// The run's position in the plan.
    pub fn index(&self) -> usize {
        self.rows[0].index
    }
}

/// What a run records besides its summary: the observation flags of `capsim run`
/// (`--timeseries`, `--requests`). They do not change what a run simulates, only what it
/// keeps.
pub use crate::domain::Observe;

/// Called with each run's result as soon as it finishes (in whatever order runs finish), e.g.
/// to write its files, save it for `--resume` and move a progress bar. An error stops the
/// sweep.
pub type OnRun<'a> = &'a (dyn Fn(&RunResult) -> Result<(), RunError> + Sync);

/// How to run an experiment; `capsim run` builds it once from its flags. The default runs
/// every run on the current rayon pool, keeps nothing besides the summary and cannot be
/// stopped.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Threads to run on; `None` runs on the current rayon pool (one thread per core unless
    /// the caller installed another). Outputs are the same whatever the number.
    pub threads: Option<usize>,
    /// `Some((k, n))` runs only shard `k` of `n`: the runs whose index is `k − 1` modulo `n`.
    /// [`crate::report::merge`] puts shards together into exactly the summary of a whole run.
    pub shard: Option<(usize, usize)>,
    /// What each run keeps besides its summary rows.
    pub observe: Observe,
    /// Rows of runs an earlier, interrupted invocation finished (`--resume`; see
    /// [`check_finished`]). They are not run again, and the summary is the one an
    /// uninterrupted run writes: runs are pure functions of their scenario and seed.
    pub finished: Vec<RunSummary>,
    /// Called with each run as it finishes.
    pub on_run: Option<OnRun<'a>>,
    /// Once this is set (by Ctrl-C), no new run starts; runs under way finish and are passed
    /// to `on_run`, then [`run`] returns [`RunError::Interrupted`].
    pub cancel: Option<&'a AtomicBool>,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The callback has no Debug of its own; say whether there is one.
        f.debug_struct("RunOptions")
            .field("threads", &self.threads)
            .field("shard", &self.shard)
            .field("observe", &self.observe)
            .field("finished", &self.finished.len())
            .field("on_run", &self.on_run.is_some())
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// A run's queue behaviour: `overloaded` if it was stopped at the in-flight budget or its
/// offered load is above the capacity estimate; `backlogged` if the mean number of requests in
/// the system over the last third of the window is more than twice that of the first third
/// (scaled by how much the arrival rate itself rose between them, so a daily cycle's evening is
/// not read as growth) plus ten (the ten keeps small queues' noise from counting as growth);
/// `stable` otherwise. `rise` is the last third's mean arrival rate over the first's, where the
/// workload's shape gives it.
pub fn verdict(stats: &RunStats, offered_load: Option<f64>, rise: Option<f64>) -> Verdict {
    let rise = rise.filter(|r| r.is_finite()).unwrap_or(1.0).max(1.0);
    if stats.stopped || offered_load.is_some_and(|x| x > 1.0) {
        Verdict::Overloaded
    } else if stats
        .backlog
        .is_some_and(|(first, last)| last > 2.0 * first * rise + 10.0)
    {
        Verdict::Backlogged
    } else {
        Verdict::Stable
    }
}

/// How much the arrival rate of `scenario` rises from the first to the last third of its
/// measurement window: their mean rates' ratio, when the workload's shape and a fixed duration
/// give them.
fn rate_rise(scenario: &Scenario) -> Option<f64> {
    let (Load::Open(a), crate::domain::StopRule::Duration(d)) = (&scenario.load, &scenario.stop)
    else {
        return None;
    };
    let start = crate::sim::SimTime::ZERO + scenario.warm_up;
    let end = crate::sim::SimTime::ZERO + *d;
    let third = (end.as_nanos().checked_sub(start.as_nanos())?) / 3;
    let t = |n: u64| crate::sim::SimTime::from_nanos(n);
    let first = a.mean_rate_between(start, t(start.as_nanos() + third))?;
    let last = a.mean_rate_between(t(end.as_nanos() - third), end)?;
    (first > 0.0).then(|| last / first)
}

/// The scenario's SLO as the report judges rows: one target per metric bounded, for `all`
/// and for each class with targets of its own.
pub fn slo_spec(scenario: &Scenario) -> Option<SloSpec> {
    let slo = scenario.slo.as_ref()?;
    let mut targets = Vec::new();
    let mut push = |class: &str, t: &crate::domain::SloTargets| {
        let secs = |d: Option<crate::sim::SimDuration>| d.map(|d| d.as_secs_f64());
        for (metric, max) in [
            ("failed_rate", t.failed_rate),
            ("timeout_rate", t.timeout_rate),
            ("latency_all_p99_s", secs(t.latency_p99)),
            ("ttft_p99_s", secs(t.ttft_p99)),
            ("tpot_p99_s", secs(t.tpot_p99)),
        ] {
            if let Some(max) = max {
                targets.push(SloTarget {
                    class: class.to_string(),
                    metric: metric.to_string(),
                    max,
                });
            }
        }
    };
    push("all", &slo.targets);
    for (name, t) in &slo.classes {
        push(name, t);
    }
    Some(SloSpec {
        confidence: slo.confidence,
        targets,
    })
}

/// Simulates one planned run, keeping what `observe` asks for.
pub fn run_one(plan: &RunPlan, observe: Observe) -> Result<RunResult, RunError> {
    let out = simulate_observed(&plan.scenario, plan.seed, observe);
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
    let cdf = |l: &crate::domain::stats::LatencyStats| -> Vec<f64> {
        crate::report::summary::LATENCY_CDF_QUANTILES
            .iter()
            .filter_map(|&q| l.quantile_s(q))
            .collect()
    };
    let capacity = capacity_rps(&plan.scenario);
    // Retries are load too: a retry storm offers the endpoint several attempts per request.
    let attempts_per_request = out
        .clients
        .as_ref()
        .map(|c| &c.classes[0])
        .filter(|c| c.run.arrived > 0)
        .map_or(1.0, |c| c.attempts as f64 / c.run.arrived as f64);
    let offered = match (&plan.scenario.load, capacity) {
        (Load::Open(a), Some(c)) if c > 0.0 => {
            Some(a.mean_rate_per_s() * attempts_per_request.max(1.0) / c)
        }
        _ => None,
    };
    let verdict = verdict(stats, offered, rate_rise(&plan.scenario));
    let slo = slo_spec(&plan.scenario);
    let row = |class: &str, mut metrics: Metrics, latency_cdf: Vec<f64>| {
        if class == "all" {
            metrics.capacity_rps = capacity;
            metrics.offered_load = offered;
        }
        RunSummary {
            index: plan.index,
            config: plan.config,
            replication: plan.replication,
            class: class.to_string(),
            seed: plan.seed,
            params: plan.params.clone(),
            verdict,
            slo_met: slo.as_ref().and_then(|s| s.met_by(class, &metrics)),
            metrics,
            latency_cdf,
        }
    };
    let mut rows = vec![row("all", metrics(&out), cdf(&out.stats.latency))];
    if let Some(c) = &out.clients {
        for class in &c.classes {
            if !(class.run.is_conserved() && class.attempts_conserved()) {
                return Err(RunError::Invariant {
                    run: plan.index,
                    message: format!(
                        "class {}: arrived {} = outcomes {:?} + in flight {}; attempts {} = {:?} + {} in flight",
                        class.name,
                        class.run.arrived,
                        class.run.outcomes,
                        class.run.in_flight,
                        class.attempts,
                        class.attempt_outcomes,
                        class.attempts_in_flight
                    ),
                });
            }
        }
        if c.classes.len() > 1 {
            rows.extend(
                c.classes[1..]
                    .iter()
                    .map(|k| row(&k.name, class_metrics(k), cdf(&k.run.latency))),
            );
        }
    }
    // The whole run meets the SLO only if every class with targets of its own does too.
    if slo.is_some() {
        let classes_met = rows[1..].iter().all(|r| r.slo_met != Some(false));
        rows[0].slo_met = Some(rows[0].slo_met != Some(false) && classes_met);
    }
    let (requests, class_names) = match out.clients {
        Some(c) => {
            // Record class indices count from the first class; the `all` entry comes first
            // when there are several.
            let skip = usize::from(c.classes.len() > 1);
            let names = c.classes[skip..].iter().map(|k| k.name.clone()).collect();
            (c.requests.iter().map(request_row).collect(), names)
        }
        None => (Vec::new(), Vec::new()),
    };
    Ok(RunResult {
        rows,
        requests,
        class_names,
        timeseries: out
            .serving
            .map(|s| s.timeseries.iter().map(window_row).collect())
            .unwrap_or_default(),
    })
}

/// The outcome names that label [`crate::report::WindowRow::outcomes`], in order.
pub fn outcome_names() -> Vec<&'static str> {
    crate::domain::Outcome::ALL
        .iter()
        .map(|o| o.name())
        .collect()
}

/// A simulated window as the report layer writes it.
fn window_row(w: &crate::domain::serving::WindowRow) -> crate::report::WindowRow {
    crate::report::WindowRow {
        start_s: w.start_s,
        arrivals: w.arrivals,
        outcomes: w.outcomes.to_vec(),
        answered: w.outcomes[crate::domain::Outcome::Ok.index()],
        queue_depth: w.queue_depth,
        replicas: w.replicas,
        gpu_util: w.gpu_util,
        p99_s: w.p99_s,
        prefix_hit_rate: w.prefix_hit_rate,
    }
}

/// A simulated request record as the report layer writes it.
fn request_row(r: &crate::domain::serving::RequestRecord) -> crate::report::RequestRow {
    crate::report::RequestRow {
        arrived_s: r.arrived_s,
        class: r.class,
        outcome: r.outcome.name(),
        attempts: r.attempts,
        latency_s: r.latency_s,
        ttft_s: r.ttft_s,
        prompt: r.prompt,
        output: r.output,
    }
}

/// Runs the planned runs of `experiment` with master seed `seed` as `opts` says: in parallel,
/// results in plan order whatever the thread count, so the summary is a pure function of the
/// experiment, the seed and the shard.
pub fn run(experiment: &Experiment, seed: u64, opts: RunOptions<'_>) -> Result<Summary, RunError> {
    match opts.threads {
        None => run_here(experiment, seed, &opts),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| RunError::Invariant {
                run: 0,
                message: format!("cannot start {n} threads: {e}"),
            })?
            .install(|| run_here(experiment, seed, &opts)),
    }
}

/// The runs of `experiment`'s plan that shard `shard` holds (all without one).
pub fn shard_plan(
    experiment: &Experiment,
    seed: u64,
    shard: Option<(usize, usize)>,
) -> Vec<RunPlan> {
    let mut plans = plan(experiment, seed);
    if let Some((k, n)) = shard {
        plans.retain(|p| p.index % n == k - 1);
    }
    plans
}

/// Checks rows saved by an interrupted invocation against the plan they are to complete:
/// every run is one of the shard's, with the seed the plan gives it, and appears once.
/// The message says what does not match.
pub fn check_finished(plans: &[RunPlan], finished: &[RunSummary]) -> Result<(), String> {
    let seeds: BTreeMap<usize, u64> = plans.iter().map(|p| (p.index, p.seed)).collect();
    let mut seen = BTreeSet::new();
    for r in finished {
        match seeds.get(&r.index) {
            None => return Err(format!("run {} is not one of this plan's runs", r.index)),
            Some(&s) if s != r.seed => {
                return Err(format!(
                    "run {} was run with seed {}, but the plan gives it seed {s}",
                    r.index, r.seed
                ));
            }
            _ => {}
        }
        // Each run has exactly one `all` row, saved with its class rows.
        if r.class == "all" && !seen.insert(r.index) {
            return Err(format!("run {} is saved twice", r.index));
        }
    }
    Ok(())
}

fn run_here(
    experiment: &Experiment,
    seed: u64,
    opts: &RunOptions<'_>,
) -> Result<Summary, RunError> {
    let total = plan_len(experiment);
    let plans = shard_plan(experiment, seed, opts.shard);
    let earlier: BTreeSet<usize> = opts.finished.iter().map(|r| r.index).collect();
    let finished_now = AtomicUsize::new(0);
    let outcome = plans
        .par_iter()
        .filter(|p| !earlier.contains(&p.index))
        .map(|p| {
            if opts.cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
                return Err(RunError::Interrupted {
                    finished: 0,
                    total: 0,
                });
            }
            let r = run_one(p, opts.observe)?;
            if let Some(on_run) = opts.on_run {
                on_run(&r)?;
            }
            finished_now.fetch_add(1, Ordering::SeqCst);
            Ok(r.rows)
        })
        .collect::<Result<Vec<_>, RunError>>();
    let fresh = match outcome {
        Ok(rows) => rows,
        Err(RunError::Interrupted { .. }) => {
            return Err(RunError::Interrupted {
                finished: earlier.len() + finished_now.load(Ordering::SeqCst),
                total: plans.len(),
            });
        }
        Err(e) => return Err(e),
    };
    let mut runs: Vec<RunSummary> = opts.finished.clone();
    runs.extend(fresh.into_iter().flatten());
    // Stable: the rows of one run (`all`, then its classes) keep their order.
    runs.sort_by_key(|r| r.index);
    let aggregates = if experiment.replications > 1 && opts.shard.is_none() {
        crate::report::aggregate(&runs, slo_spec(&experiment.scenario).as_ref())
    } else {
        Vec::new()
    };
    Ok(Summary {
        version: FORMAT_VERSION,
        capsim: env!("CARGO_PKG_VERSION").to_string(),
        experiment: experiment.name.clone(),
        experiment_hash: Some(crate::experiment::fingerprint(experiment)),
        seed,
        shard: opts.shard.map(|(k, n)| crate::report::Shard {
            k,
            n,
            runs: total,
            replications: experiment.replications,
        }),
        axes: axes(experiment),
        slo: slo_spec(&experiment.scenario),
        runs,
        aggregates,
    })
}

/// Runs in the whole plan: configurations × replications.
fn plan_len(experiment: &Experiment) -> usize {
    experiment.configs.len() * experiment.replications.max(1) as usize
}

/// How a capacity search ended for one replication.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityRun {
    /// The replication's seed (the same arrivals and sizes at every load tried).
    pub seed: u64,
    /// The highest arrival rate found to meet the SLO, per second: `None` when even the
    /// lowest rate tried missed it.
    pub rate: Option<f64>,
    /// The lowest rate found to miss it, per second: `None` when even the highest tried met it.
    pub missed_at: Option<f64>,
    /// Simulations run.
    pub simulations: u32,
}

/// What [`capacity_at_slo`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Capacity {
    /// The experiment's own mean arrival rate, per second (the search scales it).
    pub base_rate: f64,
    /// One search per replication.
    pub runs: Vec<CapacityRun>,
}

impl Capacity {
    /// The rates found, over the replications whose search ended inside its range.
    pub fn rates(&self) -> Vec<f64> {
        self.runs.iter().filter_map(|r| r.rate).collect()
    }
}

/// Most doublings or halvings of the load while bracketing the capacity.
const BRACKET_STEPS: u32 = 30;

/// The highest arrival rate at which `experiment` (one configuration, an open-loop workload and
/// an `[slo]`) meets its SLO: for each of `replications` seeds (derived from `seed` as for
/// replications), the load is doubled or halved from the file's until the SLO flips, then
/// bisected until the bracket is narrower than `tolerance` (relative). Every load of one search
/// runs on the same seed, so the runs compared differ only in the load (common random numbers).
/// The replications run in parallel; the result does not depend on the thread count.
pub fn capacity_at_slo(
    experiment: &Experiment,
    seed: u64,
    replications: u32,
    tolerance: f64,
) -> Result<Capacity, RunError> {
    let scenario = &experiment.scenario;
    let Load::Open(arrivals) = &scenario.load else {
        return Err(RunError::Invariant {
            run: 0,
            message: "a capacity search needs an open-loop workload".into(),
        });
    };
    let base_rate = arrivals.mean_rate_per_s();
    let seeds: Vec<u64> = (0..replications.max(1))
        .map(|r| replication_seed(seed, r))
        .collect();
    let runs = seeds
        .par_iter()
        .map(|&s| search_one(scenario, arrivals, base_rate, s, tolerance))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Capacity { base_rate, runs })
}

/// One replication's bracketing and bisection.
fn search_one(
    scenario: &Scenario,
    arrivals: &crate::domain::Arrivals,
    base_rate: f64,
    seed: u64,
    tolerance: f64,
) -> Result<CapacityRun, RunError> {
    let mut simulations = 0u32;
    let mut met = |k: f64| -> Result<bool, RunError> {
        let mut s = scenario.clone();
        s.load = Load::Open(
            arrivals
                .scaled(k)
                .map_err(|message| RunError::Invariant { run: 0, message })?,
        );
        simulations += 1;
        let plan = RunPlan {
            index: 0,
            config: 0,
            replication: 0,
            seed,
            params: BTreeMap::new(),
            scenario: s,
        };
        Ok(run_one(&plan, Observe::default())?.rows[0].slo_met == Some(true))
    };
    let (mut lo, mut hi) = if met(1.0)? {
        let (mut lo, mut hi) = (1.0, 2.0);
        let mut steps = 0;
        while met(hi)? {
            lo = hi;
            hi *= 2.0;
            steps += 1;
            if steps == BRACKET_STEPS {
                return Ok(CapacityRun {
                    seed,
                    rate: Some(lo * base_rate),
                    missed_at: None,
                    simulations,
                });
            }
        }
        (lo, hi)
    } else {
        let (mut lo, mut hi) = (0.5, 1.0);
        let mut steps = 0;
        while !met(lo)? {
            hi = lo;
            lo /= 2.0;
            steps += 1;
            if steps == BRACKET_STEPS {
                return Ok(CapacityRun {
                    seed,
                    rate: None,
                    missed_at: Some(hi * base_rate),
                    simulations,
                });
            }
        }
        (lo, hi)
    };
    while (hi - lo) / lo > tolerance {
        let mid = (lo + hi) / 2.0;
        if met(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(CapacityRun {
        seed,
        rate: Some(lo * base_rate),
        missed_at: Some(hi * base_rate),
        simulations,
    })
}
