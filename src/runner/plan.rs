//! `capsim plan`: the cheapest configurations of a plan file's search space that meet its SLO,
//! found without simulating every point.
//!
//! The search is a branch and bound over candidates (one value of every search axis), each with
//! a replica count to find:
//! 1. **Build** every candidate at its most replicas, as a run would read it. A model that does
//!    not fit, an invalid combination or a missing price drops it without a simulation.
//! 2. **Bound** each from its service model: one replica completes at most `capacity` requests/s
//!    (an upper bound), so with a failed-rate target `f` it needs at least
//!    `rate × (1 − f) / capacity` replicas. Fewer cannot meet the SLO; if even the most allowed
//!    are fewer, the candidate is dropped for capacity. The bound also gives its lowest possible
//!    cost per hour: price × replicas (fixed), or price × the larger of the minimum replicas and
//!    that fluid replica count (autoscaled: the average of running replicas is at least it).
//! 3. **Search** the candidates in order of that bound, cheapest first, a batch at a time: each
//!    step simulates one replica count (the bound first, then doubling steps up, then
//!    bisection: meeting the SLO is taken as monotone in replicas). A candidate whose bound is
//!    above the `top`-th cheapest cost found so far is never simulated again.
//! 4. **Confirm** the `top` cheapest with every replication seed (the SLO judged at its
//!    confidence, as `capsim run` judges replications). One that fails goes back to the search
//!    from the next replica count, judged on all seeds from then on.
//!
//! Batches have a fixed size and each is decided on the state before it, so the result does not
//! depend on the thread count. Screening already simulates the file's whole workload with its
//! full dynamics (cold starts, autoscaling, retries): the confirmation adds seeds, not detail.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::{Observe, RunPlan, replication_seed, run_one, slo_spec};
use crate::domain::{Load, Service, capacity_rps};
use crate::error::{ConfigError, RunError};
use crate::experiment::catalog::Catalog;
use crate::experiment::plan::{Candidate, PlanFile};
use crate::report::plan::{PlanCandidate, PlanMetrics, PlanReport, PlanSimulation, PlanStatus};
use crate::report::{Metrics, RunSummary};

/// Candidates simulated side by side in one step of the search. Fixed, not the thread count,
/// so that every thread count takes the same steps.
pub const BATCH: usize = 8;

/// Relative slack when comparing a cost bound with a cost found: billing per started minute
/// and float sums must not make equal costs look different.
const SLACK: f64 = 1e-9;

/// Why a plan could not be made.
#[derive(Debug)]
pub enum PlanFailure {
    /// The plan file (or one of its axis values) is wrong.
    Config(ConfigError),
    /// A simulation failed.
    Run(RunError),
}

impl From<ConfigError> for PlanFailure {
    fn from(e: ConfigError) -> Self {
        PlanFailure::Config(e)
    }
}

impl From<RunError> for PlanFailure {
    fn from(e: RunError) -> Self {
        PlanFailure::Run(e)
    }
}

/// How far the search has come, for a progress line.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Simulations run so far (one per seed).
    pub simulations: u64,
    /// Candidates still open (neither decided nor bounded out).
    pub open: usize,
    /// The cheapest cost per hour found to meet the SLO so far.
    pub best_usd_per_hour: Option<f64>,
}

/// Options of [`plan`].
#[derive(Default)]
pub struct PlanOptions<'a> {
    /// Worker threads; `None`: one per core.
    pub threads: Option<usize>,
    /// Called after every step of the search.
    pub progress: Option<&'a (dyn Fn(&Progress) + Sync)>,
}

impl std::fmt::Debug for PlanOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanOptions")
            .field("threads", &self.threads)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Builds every candidate of `file` as `capsim plan` would and refuses an axis value that makes
/// all its candidates invalid; returns how many candidates are valid, of how many.
pub fn check(file: &PlanFile, catalog: &Catalog) -> Result<(usize, usize), ConfigError> {
    let choices = file.candidates();
    let built: Vec<Result<Candidate, ConfigError>> = choices
        .par_iter()
        .map(|c| file.build(c, file.spec.replicas.max, catalog))
        .collect();
    refuse_bad_axis_values(file, &choices, &built)?;
    Ok((built.iter().filter(|b| b.is_ok()).count(), built.len()))
}

/// What [`plan`] found: the report and the candidates to write out as experiment files.
#[derive(Debug)]
pub struct PlanResult {
    /// Every candidate and simulation.
    pub report: PlanReport,
    /// The winner at its replica count, with the replications it was judged on.
    pub winner: Option<(Candidate, u32)>,
    /// The runner-up that missed the SLO, with the seeds it was judged on.
    pub runner_up: Option<(Candidate, u32)>,
    /// The SLO's failed-rate bound for the whole workload, if it has one (for the chart).
    pub slo_failed_rate: Option<f64>,
}

/// A viable candidate's search state.
#[derive(Debug)]
struct Search {
    /// Index into the candidate list.
    index: usize,
    price: f64,
    capacity1: f64,
    /// `Some(min replicas)` when the endpoint has a lifecycle (the count searched is its most).
    lifecycle_min: Option<u32>,
    /// Replicas the capacity bound needs, as a real number.
    fluid: f64,
    lo: u32,
    hi: u32,
    /// Largest count known to miss.
    missed: Option<u32>,
    /// Smallest count known to meet, with what it measured and on how many seeds.
    met: Option<(u32, PlanMetrics, u32)>,
    misses: u32,
    /// Judged on every replication seed (after a failed confirmation).
    strict: bool,
    confirmed: bool,
    state: State,
    simulations: u32,
    last_missed: Option<(u32, PlanMetrics)>,
}

#[derive(Copy, Clone, Debug, PartialEq)]
enum State {
    Open,
    /// The fewest replicas that meet the SLO are known (in `met`).
    Resolved,
    /// Missed even at `hi`.
    Missed,
}

impl Search {
    /// The next replica count not known to miss.
    fn floor(&self) -> u32 {
        self.missed.map_or(self.lo, |m| m + 1)
    }

    /// The lowest cost per hour this candidate can still have.
    fn bound(&self) -> f64 {
        match self.lifecycle_min {
            None => self.price * f64::from(self.floor()),
            Some(min) => self.price * f64::from(min).max(self.fluid),
        }
    }

    /// The replica count to simulate next: the floor first, then doubling steps up from the
    /// last miss until one meets, then bisection between the last miss and the first meet.
    fn next(&self) -> u32 {
        match (&self.missed, &self.met) {
            (None, _) => self.lo,
            (Some(m), None) => {
                let step = 1u32 << (self.misses.saturating_sub(1)).min(20);
                m.saturating_add(step).min(self.hi)
            }
            (Some(m), Some((h, _, _))) => m + (h - m) / 2,
        }
    }

    /// Records that `r` replicas met (or missed) the SLO, and whether the search is decided.
    fn record(&mut self, r: u32, metrics: PlanMetrics, seeds: u32) {
        if metrics.slo_met {
            if self.met.as_ref().is_none_or(|(h, _, _)| r < *h) {
                self.met = Some((r, metrics, seeds));
            }
        } else {
            self.misses += 1;
            if self.missed.is_none_or(|m| r > m) {
                self.missed = Some(r);
            }
            self.last_missed = Some((r, metrics));
        }
        if let Some((h, _, _)) = &self.met {
            if self.floor() >= *h {
                self.state = State::Resolved;
                if self.strict {
                    self.confirmed = true;
                }
            }
        } else if self.missed == Some(self.hi) {
            self.state = State::Missed;
        }
    }

    fn cost(&self) -> Option<f64> {
        self.met.as_ref().and_then(|(_, m, _)| m.usd_per_hour)
    }
}

/// A candidate dropped before any simulation: why, and what was known of it.
#[derive(Clone, Debug)]
struct Dropped {
    status: PlanStatus,
    reason: String,
    price: Option<f64>,
    capacity1: Option<f64>,
}

/// Dropped before any simulation, or a state to search.
enum Built {
    Dropped(Dropped),
    Viable(Box<Search>),
}

/// Finds the cheapest configurations of `file`'s search space that meet its SLO, with master
/// seed `seed`.
pub fn plan(
    file: &PlanFile,
    catalog: &Catalog,
    seed: u64,
    opts: &PlanOptions<'_>,
) -> Result<PlanResult, PlanFailure> {
    match opts.threads {
        None => plan_here(file, catalog, seed, opts),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| {
                PlanFailure::Run(RunError::Invariant {
                    run: 0,
                    message: format!("cannot start {n} threads: {e}"),
                })
            })?
            .install(|| plan_here(file, catalog, seed, opts)),
    }
}

/// What one simulation point measured: one row per seed, reduced to the plan's metrics.
fn measure(rows: &[RunSummary], spec: Option<&crate::report::SloSpec>) -> PlanMetrics {
    let n = rows.len() as f64;
    let mean = |f: &dyn Fn(&Metrics) -> Option<f64>| -> Option<f64> {
        let xs: Vec<f64> = rows.iter().filter_map(|r| f(&r.metrics)).collect();
        (xs.len() == rows.len() && !xs.is_empty()).then(|| xs.iter().sum::<f64>() / n)
    };
    let per_hour = |m: &Metrics| {
        m.cost_usd
            .filter(|_| m.window_s > 0.0)
            .map(|c| c / m.window_s * 3600.0)
    };
    let per_1k = |m: &Metrics| {
        let answered = m.answered_rate? * m.arrived as f64;
        m.cost_usd
            .filter(|_| answered > 0.0)
            .map(|c| c / answered * 1000.0)
    };
    let per_1m_tokens = |m: &Metrics| {
        let tokens = m.tokens_per_s? * m.window_s;
        m.cost_usd
            .filter(|_| tokens > 0.0)
            .map(|c| c / tokens * 1e6)
    };
    let slo_met = if rows.len() == 1 {
        rows[0].slo_met == Some(true)
    } else {
        let aggs = crate::report::aggregate(rows, spec);
        aggs.iter().all(|a| a.slo_met != Some(false)) && aggs.iter().any(|a| a.slo_met.is_some())
    };
    PlanMetrics {
        usd_per_hour: mean(&per_hour),
        usd_per_1k_answered: mean(&per_1k),
        usd_per_1m_tokens: mean(&per_1m_tokens),
        failed_rate: mean(&|m| m.failed_rate),
        timeout_rate: mean(&|m| m.timeout_rate),
        latency_all_p99_s: mean(&|m| m.latency_all_p99_s),
        ttft_p99_s: mean(&|m| m.ttft_p99_s),
        replicas_mean: mean(&|m| m.replicas_mean),
        verdict: rows
            .first()
            .map(|r| r.verdict.name().to_string())
            .unwrap_or_default(),
        slo_met,
    }
}

fn plan_here(
    file: &PlanFile,
    catalog: &Catalog,
    seed: u64,
    opts: &PlanOptions<'_>,
) -> Result<PlanResult, PlanFailure> {
    let spec = &file.spec;
    let choices = file.candidates();
    let range = spec.replicas;
    // Step 1 and 2: every candidate built at its most replicas, and bounded.
    let built: Vec<Result<Candidate, ConfigError>> = choices
        .par_iter()
        .map(|c| file.build(c, range.max, catalog))
        .collect();
    refuse_bad_axis_values(file, &choices, &built)?;
    let first = built.iter().find_map(|b| b.as_ref().ok()).ok_or_else(|| {
        let e = built
            .iter()
            .find_map(|b| b.as_ref().err())
            .cloned()
            .unwrap_or_else(|| ConfigError::new(&file.path, "the search has no candidates"));
        let mut e = e;
        e.message = format!(
            "no candidate of the search is valid; the first: {}",
            e.message
        );
        e
    })?;
    let scenario = &first.experiment.scenario;
    let Load::Open(arrivals) = &scenario.load else {
        return Err(ConfigError::new(
            &file.path,
            "a plan needs an open-loop workload (an arrival rate, a schedule or a trace); this one is a closed loop of users",
        )
        .at_key("workload")
        .with_hint("give `workload.arrival` instead of `workload.users`")
        .into());
    };
    let rate = arrivals.mean_rate_per_s();
    let Some(slo) = scenario.slo.as_ref() else {
        return Err(ConfigError::new(
            &file.path,
            "a plan needs an [slo]: the planner looks for the cheapest configuration that meets it",
        )
        .with_hint("e.g. [slo] with failed-rate = \"1%\" and latency-p99 = \"60s\"")
        .into());
    };
    let slo_failed_rate = slo.targets.failed_rate;
    let slo_text = slo_words(slo_spec(scenario).as_ref());
    // Answers per second the SLO needs at least: without a failed-rate bound none can be
    // inferred (a latency bound can be met by refusing requests fast).
    let need = slo_failed_rate.map_or(0.0, |f| rate * (1.0 - f));
    let mut drops: Vec<Option<Dropped>> = Vec::new();
    let mut searches: Vec<Search> = Vec::new();
    for (i, b) in built.iter().enumerate() {
        match classify(i, b, range, need, rate, slo_failed_rate) {
            Built::Dropped(d) => drops.push(Some(d)),
            Built::Viable(s) => {
                drops.push(None);
                searches.push(*s);
            }
        }
    }

    let reps = spec.replications.max(1);
    let top = spec.top.max(1) as usize;
    let budget = u64::from(spec.max_simulations);
    let mut simulations: Vec<PlanSimulation> = Vec::new();
    let mut run_count: u64 = 0;
    let mut complete = true;
    let spec_slo = slo_spec(scenario);
    // One simulation point: candidate `s` at `r` replicas on one seed or every seed.
    let simulate = |s: &Search, r: u32, strict: bool| -> Result<(PlanMetrics, u32), PlanFailure> {
        let cand = file.build(&choices[s.index], r, catalog)?;
        let seeds = if strict { reps } else { 1 };
        let rows: Vec<RunSummary> = (0..seeds)
            .into_par_iter()
            .map(|k| {
                let plan = RunPlan {
                    index: k as usize,
                    config: 0,
                    replication: k,
                    seed: replication_seed(seed, k),
                    params: BTreeMap::new(),
                    scenario: cand.experiment.scenario.clone(),
                };
                run_one(&plan, Observe::default()).map(|mut res| res.rows.swap_remove(0))
            })
            .collect::<Result<_, _>>()?;
        Ok((measure(&rows, spec_slo.as_ref()), seeds))
    };
    loop {
        let kth = kth_cost(&searches, top);
        let mut open: Vec<usize> = (0..searches.len())
            .filter(|&i| {
                searches[i].state == State::Open && searches[i].bound() <= kth * (1.0 + SLACK)
            })
            .collect();
        open.sort_by(|&a, &b| {
            searches[a]
                .bound()
                .total_cmp(&searches[b].bound())
                .then(searches[a].index.cmp(&searches[b].index))
        });
        open.truncate(BATCH);
        let (batch, stage): (Vec<(usize, u32, bool)>, &'static str) = if open.is_empty() {
            // Nothing can beat the cheapest found: confirm them.
            let mut resolved: Vec<usize> = (0..searches.len())
                .filter(|&i| searches[i].state == State::Resolved)
                .collect();
            resolved.sort_by(|&a, &b| {
                let c = |i: usize| searches[i].cost().unwrap_or(f64::INFINITY);
                c(a).total_cmp(&c(b))
                    .then(searches[a].index.cmp(&searches[b].index))
            });
            resolved.truncate(top);
            let pending: Vec<usize> = resolved
                .into_iter()
                .filter(|&i| !searches[i].confirmed)
                .collect();
            if pending.is_empty() {
                break;
            }
            if reps == 1 {
                // The screening seed is the only seed: screening was the confirmation.
                for i in pending {
                    searches[i].confirmed = true;
                }
                continue;
            }
            let batch = pending
                .into_iter()
                .map(|i| {
                    let r = searches[i].met.as_ref().map_or(searches[i].hi, |m| m.0);
                    (i, r, true)
                })
                .collect();
            (batch, "confirm")
        } else {
            let batch = open
                .into_iter()
                .map(|i| (i, searches[i].next(), searches[i].strict))
                .collect();
            (batch, "screen")
        };
        let cost: u64 = batch
            .iter()
            .map(|&(_, _, strict)| if strict { u64::from(reps) } else { 1 })
            .sum();
        if run_count + cost > budget {
            complete = false;
            break;
        }
        let results: Vec<Result<(PlanMetrics, u32), PlanFailure>> = batch
            .par_iter()
            .map(|&(i, r, strict)| simulate(&searches[i], r, strict))
            .collect();
        for (&(i, r, _), res) in batch.iter().zip(results) {
            let (metrics, seeds) = res?;
            run_count += u64::from(seeds);
            let s = &mut searches[i];
            s.simulations += seeds;
            simulations.push(PlanSimulation {
                candidate: s.index,
                replicas: r,
                stage,
                seeds,
                metrics: metrics.clone(),
            });
            if stage == "confirm" {
                if metrics.slo_met {
                    s.confirmed = true;
                    s.met = Some((r, metrics, seeds));
                } else {
                    // Back to the search, from the next count, on every seed.
                    s.strict = true;
                    s.met = None;
                    s.state = State::Open;
                    s.missed = Some(r);
                    s.misses = 1;
                    s.last_missed = Some((r, metrics));
                    if r == s.hi {
                        s.state = State::Missed;
                    }
                }
            } else {
                s.record(r, metrics, seeds);
            }
        }
        if let Some(p) = opts.progress {
            p(&Progress {
                simulations: run_count,
                open: searches.iter().filter(|s| s.state == State::Open).count(),
                best_usd_per_hour: searches
                    .iter()
                    .filter(|s| s.state == State::Resolved)
                    .filter_map(Search::cost)
                    .min_by(f64::total_cmp),
            });
        }
    }
    finish(
        file,
        catalog,
        seed,
        FinishInput {
            drops,
            searches,
            simulations,
            run_count,
            complete,
            top,
            reps,
            rate,
            slo_text,
            slo_failed_rate,
        },
    )
}

struct FinishInput {
    drops: Vec<Option<Dropped>>,
    searches: Vec<Search>,
    simulations: Vec<PlanSimulation>,
    run_count: u64,
    complete: bool,
    top: usize,
    reps: u32,
    rate: f64,
    slo_text: String,
    slo_failed_rate: Option<f64>,
}

/// Statuses, reasons, the winner and the runner-up.
fn finish(
    file: &PlanFile,
    catalog: &Catalog,
    seed: u64,
    input: FinishInput,
) -> Result<PlanResult, PlanFailure> {
    let FinishInput {
        drops,
        searches,
        simulations,
        run_count,
        complete,
        top,
        reps,
        rate,
        slo_text,
        slo_failed_rate,
    } = input;
    let choices = file.candidates();
    let mut chosen: Vec<usize> = (0..searches.len())
        .filter(|&i| searches[i].state == State::Resolved && searches[i].confirmed)
        .collect();
    chosen.sort_by(|&a, &b| {
        let c = |i: usize| searches[i].cost().unwrap_or(f64::INFINITY);
        c(a).total_cmp(&c(b))
            .then(searches[a].index.cmp(&searches[b].index))
    });
    chosen.truncate(top);
    let kth = chosen
        .last()
        .and_then(|&i| searches[i].cost())
        .filter(|_| chosen.len() == top);
    let best = chosen.first().and_then(|&i| searches[i].cost());
    let by_index: BTreeMap<usize, usize> = searches
        .iter()
        .enumerate()
        .map(|(k, s)| (s.index, k))
        .collect();
    let money = |x: f64| format!("${x:.2}/h");
    let mut candidates = Vec::with_capacity(choices.len());
    for (i, choice) in choices.iter().enumerate() {
        let mut c = PlanCandidate {
            index: i,
            label: file.label(choice),
            params: file.params(choice),
            status: PlanStatus::Invalid,
            rank: None,
            reason: String::new(),
            replicas: None,
            usd_per_replica_hour: None,
            capacity_per_replica_rps: None,
            usd_per_hour_bound: None,
            simulations: 0,
            metrics: None,
        };
        if let Some(d) = &drops[i] {
            c.status = d.status;
            c.reason = d.reason.clone();
            c.usd_per_replica_hour = d.price;
            c.capacity_per_replica_rps = d.capacity1;
            candidates.push(c);
            continue;
        }
        let s = &searches[by_index[&i]];
        c.usd_per_replica_hour = Some(s.price);
        c.capacity_per_replica_rps = Some(s.capacity1);
        c.usd_per_hour_bound = Some(s.bound());
        c.simulations = s.simulations;
        let tried = match &s.last_missed {
            Some((r, m)) => format!(
                "; with {} it failed {}",
                replicas(*r),
                m.failed_rate
                    .map_or_else(|| "-".into(), |f| format!("{:.2} %", f * 100.0))
            ),
            None => String::new(),
        };
        if let Some(rank) = chosen.iter().position(|&k| searches[k].index == i) {
            let (r, m, seeds) = s.met.clone().expect("a chosen candidate met the SLO");
            c.status = PlanStatus::Chosen;
            c.rank = Some(rank as u32 + 1);
            c.replicas = Some(r);
            c.reason = format!(
                "meets the SLO with {}{} at {}{tried}",
                replicas(r),
                if seeds > 1 {
                    format!(" (judged on {seeds} seeds at the SLO's confidence)")
                } else {
                    String::new()
                },
                m.usd_per_hour.map_or_else(|| "-".into(), money)
            );
            c.metrics = Some(m);
        } else {
            match s.state {
                State::Missed => {
                    c.status = PlanStatus::SloMissed;
                    c.reason = format!("misses the SLO even with {}{tried}", replicas(s.hi));
                    c.metrics = s.last_missed.as_ref().map(|(_, m)| m.clone());
                    c.replicas = None;
                }
                State::Resolved => {
                    let (r, m, _) = s.met.clone().expect("resolved means met");
                    c.status = PlanStatus::Dominated;
                    c.replicas = Some(r);
                    c.reason = format!(
                        "meets the SLO with {} at {}, more than the {} chosen (up to {})",
                        replicas(r),
                        m.usd_per_hour.map_or_else(|| "-".into(), money),
                        chosen.len(),
                        kth.or(best).map_or_else(|| "-".into(), money)
                    );
                    c.metrics = Some(m);
                }
                State::Open if !complete => {
                    c.status = PlanStatus::Dominated;
                    c.reason = format!(
                        "not decided: the search stopped at max-simulations; it costs at least {}",
                        money(s.bound())
                    );
                }
                State::Open => {
                    c.status = PlanStatus::Dominated;
                    c.reason = format!(
                        "costs at least {} (with {} or more{}), more than the {} chosen (up to {}){tried}",
                        money(s.bound()),
                        replicas(s.floor()),
                        if s.lifecycle_min.is_some() {
                            ", autoscaled: price x the replicas its load needs on average"
                        } else {
                            ""
                        },
                        chosen.len(),
                        kth.or(best).map_or_else(|| "-".into(), money)
                    );
                }
            }
        }
        candidates.push(c);
    }
    // The runner-up: the costliest simulated point at or below the winner's cost that missed
    // the SLO (the saving the SLO forbids), else the cheapest point that missed; a lower
    // failed share, then the candidate order, break ties.
    let missed: Vec<&PlanSimulation> = simulations
        .iter()
        .filter(|p| !p.metrics.slo_met && p.metrics.usd_per_hour.is_some())
        .collect();
    let cost = |p: &PlanSimulation| p.metrics.usd_per_hour.unwrap_or(0.0);
    let failed = |p: &PlanSimulation| p.metrics.failed_rate.unwrap_or(1.0);
    let cheaper = missed
        .iter()
        .filter(|p| best.is_some_and(|b| cost(p) <= b * (1.0 + SLACK)))
        .max_by(|a, b| {
            cost(a)
                .total_cmp(&cost(b))
                .then(failed(b).total_cmp(&failed(a)))
                .then(b.candidate.cmp(&a.candidate))
        });
    let runner_up_point = cheaper
        .or_else(|| {
            missed.iter().min_by(|a, b| {
                cost(a)
                    .total_cmp(&cost(b))
                    .then(failed(a).total_cmp(&failed(b)))
                    .then(a.candidate.cmp(&b.candidate))
            })
        })
        .filter(|_| best.is_some())
        .map(|p| (p.candidate, p.replicas, p.seeds));
    let winner = match chosen.first() {
        Some(&k) => {
            let s = &searches[k];
            let r = s.met.as_ref().map_or(s.hi, |m| m.0);
            Some((file.build(&choices[s.index], r, catalog)?, reps))
        }
        None => None,
    };
    let runner_up = match runner_up_point {
        Some((c, r, seeds)) => Some((file.build(&choices[c], r, catalog)?, seeds)),
        None => None,
    };
    let points =
        choices.len() as u64 * u64::from(file.spec.replicas.max - file.spec.replicas.min + 1);
    Ok(PlanResult {
        report: PlanReport {
            capsim: env!("CARGO_PKG_VERSION").to_string(),
            plan: file.name.clone(),
            seed,
            slo: slo_text,
            rate_per_s: rate,
            points,
            complete,
            simulations_run: run_count,
            candidates,
            simulations,
            runner_up: runner_up_point.map(|(c, r, _)| (c, r)),
        },
        winner,
        runner_up,
        slo_failed_rate,
    })
}

/// `n replicas`, singular for one.
fn replicas(n: u32) -> String {
    if n == 1 {
        "1 replica".into()
    } else {
        format!("{n} replicas")
    }
}

/// The `top`-th cheapest cost per hour found to meet the SLO (a met point of any candidate is a
/// feasible configuration), or infinity while fewer are known.
fn kth_cost(searches: &[Search], top: usize) -> f64 {
    let mut costs: Vec<f64> = searches.iter().filter_map(Search::cost).collect();
    if costs.len() < top {
        return f64::INFINITY;
    }
    costs.sort_by(f64::total_cmp);
    costs[top - 1]
}

/// A built candidate dropped or turned into a search.
fn classify(
    index: usize,
    built: &Result<Candidate, ConfigError>,
    range: crate::experiment::plan::ReplicaRange,
    need: f64,
    rate: f64,
    failed: Option<f64>,
) -> Built {
    let cand = match built {
        Err(e) => {
            let status = if e.message.contains(" does not fit ") {
                PlanStatus::DoesNotFit
            } else {
                PlanStatus::Invalid
            };
            return Built::Dropped(Dropped {
                status,
                reason: e.message.clone(),
                price: None,
                capacity1: None,
            });
        }
        Ok(c) => c,
    };
    let scenario = &cand.experiment.scenario;
    let Service::Llm(svc) = &scenario.service else {
        return Built::Dropped(Dropped {
            status: PlanStatus::NoPrice,
            reason: "plain servers carry no price; the planner ranks LLM endpoints by their instance price".into(),
            price: None,
            capacity1: None,
        });
    };
    let Some((price, _)) = svc.price.clone() else {
        return Built::Dropped(Dropped {
            status: PlanStatus::NoPrice,
            reason: "no price is known for this GPU and tensor-parallel size; set endpoint.billing.usd-per-hour".into(),
            price: None,
            capacity1: None,
        });
    };
    let total = capacity_rps(scenario).unwrap_or(f64::INFINITY);
    let capacity1 = total / f64::from(svc.replicas.max(1));
    let fluid = if capacity1 > 0.0 {
        need / capacity1
    } else {
        f64::INFINITY
    };
    let lifecycle_min = svc.lifecycle.as_ref().map(|l| l.min_replicas);
    // The fewest replicas whose summed capacity reaches what the SLO needs.
    let needed = (fluid * (1.0 - SLACK)).ceil().max(1.0);
    let lo = f64::from(range.min.max(lifecycle_min.unwrap_or(0)))
        .max(needed)
        .min(f64::from(u32::MAX)) as u32;
    if lo > range.max {
        return Built::Dropped(Dropped {
            status: PlanStatus::Capacity,
            reason: format!(
                "carries at most {:.2} requests/s with {} replicas by its service model (an upper bound), below the {:.2}/s the SLO needs ({:.2}/s x (1 - {}))",
                capacity1 * f64::from(range.max),
                range.max,
                need,
                rate,
                failed.unwrap_or(0.0)
            ),
            price: Some(price),
            capacity1: Some(capacity1),
        });
    }
    Built::Viable(Box::new(Search {
        index,
        price,
        capacity1,
        lifecycle_min,
        fluid,
        lo,
        hi: range.max,
        missed: None,
        met: None,
        misses: 0,
        strict: false,
        confirmed: false,
        state: State::Open,
        simulations: 0,
        last_missed: None,
    }))
}

/// Refuses an axis value that makes every candidate holding it invalid for a reason other than
/// memory: a typo (`gpu = "a100"`) should be an error, not a column of dropped candidates.
fn refuse_bad_axis_values(
    file: &PlanFile,
    choices: &[Vec<usize>],
    built: &[Result<Candidate, ConfigError>],
) -> Result<(), ConfigError> {
    let fatal = |b: &Result<Candidate, ConfigError>| matches!(b, Err(e) if !e.message.contains(" does not fit ") && !e.message.contains("price"));
    for (a, axis) in file.spec.axes.iter().enumerate() {
        for v in 0..axis.values.len() {
            let with: Vec<&Result<Candidate, ConfigError>> = choices
                .iter()
                .zip(built)
                .filter(|(c, _)| c[a] == v)
                .map(|(_, b)| b)
                .collect();
            if !with.is_empty()
                && with.iter().all(|b| fatal(b))
                && let Some(Err(e)) = with.first()
            {
                let mut e = e.clone();
                e.message = format!(
                    "every candidate with {} = {} is invalid: {}",
                    axis.key,
                    axis.swept(v).written,
                    e.message
                );
                if let Some(line) = axis.line {
                    e = e.at_line(line, None);
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The SLO in words, for the table.
fn slo_words(spec: Option<&crate::report::SloSpec>) -> String {
    let Some(spec) = spec else {
        return "none".into();
    };
    let parts: Vec<String> = spec
        .targets
        .iter()
        .map(|t| {
            let value = if t.metric.ends_with("_rate") {
                format!("{} %", t.max * 100.0)
            } else {
                format!("{} s", t.max)
            };
            if t.class == "all" {
                format!("{} <= {value}", t.metric)
            } else {
                format!("{} <= {value} ({})", t.metric, t.class)
            }
        })
        .collect();
    format!(
        "{} (replications judged at {} % confidence)",
        parts.join(", "),
        spec.confidence * 100.0
    )
}
