//! Replays a load level in simulation: an experiment with the test's Poisson rate, request
//! count and token lengths, on the deployment being calibrated, with a candidate engine class.

use std::path::Path;

use super::data::Level;
use crate::domain::Observe;
use crate::error::{ConfigError, RunError};
use crate::experiment::catalog::Catalog;
use crate::report::Metrics;

/// The deployment the load test ran on and the engine settings it used.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// GPU id.
    pub gpu: String,
    /// Model id.
    pub model: String,
    /// Quantization id.
    pub quant: String,
    /// Tensor parallelism.
    pub tp: u32,
    /// Engine family (the base class's `family`).
    pub family: String,
    /// Engine options (`max-num-seqs = 4096` ...), as TOML values.
    pub options: toml::Table,
}

/// Seed of every replay: fixed, so the objective is a deterministic function of the coefficients.
pub const SEED: u64 = 1;

/// The experiment text that replays `level` with engine class `class` (a class file's table).
pub fn experiment_text(d: &Deployment, class: &toml::Table, level: &Level, seed: u64) -> String {
    let mut doc = toml::Table::new();
    doc.insert(
        "name".into(),
        format!("calibrate replay at {}/s", level.rate).into(),
    );
    doc.insert("seed".into(), (seed as i64).into());
    doc.insert("requests".into(), (level.requests.max(1) as i64).into());
    let tokens = |t: super::data::Tokens| -> toml::Value {
        let mut m = toml::Table::new();
        if t.min == t.max {
            m.insert("kind".into(), "deterministic".into());
            m.insert("value".into(), (t.min as i64).into());
        } else {
            m.insert("kind".into(), "uniform".into());
            m.insert("min".into(), (t.min as i64).into());
            m.insert("max".into(), (t.max as i64 + 1).into());
        }
        m.into()
    };
    let mut arrival = toml::Table::new();
    arrival.insert("kind".into(), "poisson".into());
    arrival.insert("rate".into(), format!("{}/s", level.rate).into());
    let mut workload = toml::Table::new();
    workload.insert("arrival".into(), arrival.into());
    workload.insert("prompt-tokens".into(), tokens(level.prompt));
    workload.insert("output-tokens".into(), tokens(level.output));
    doc.insert("workload".into(), workload.into());
    let mut engine = d.options.clone();
    engine.insert("kind".into(), d.family.clone().into());
    engine.insert("class".into(), class.clone().into());
    let mut endpoint = toml::Table::new();
    endpoint.insert("gpu".into(), d.gpu.clone().into());
    endpoint.insert("model".into(), d.model.clone().into());
    endpoint.insert("quantization".into(), d.quant.clone().into());
    endpoint.insert("tensor-parallel".into(), i64::from(d.tp).into());
    endpoint.insert("engine".into(), engine.into());
    doc.insert("endpoint".into(), endpoint.into());
    toml::to_string(&doc).expect("a TOML table serialises")
}

/// Why a replay failed.
#[derive(Debug)]
pub enum ReplayError {
    /// The deployment, class or options are not a valid experiment.
    Config(ConfigError),
    /// The simulation failed.
    Run(RunError),
}

/// Simulates `level` with `class` and returns the run's metrics.
pub fn replay(
    d: &Deployment,
    class: &toml::Table,
    level: &Level,
    catalog: &Catalog,
) -> Result<Metrics, ReplayError> {
    replay_seeded(d, class, level, catalog, SEED)
}

/// [`replay`] with another seed (to measure how much a level's figures vary by chance alone).
pub fn replay_seeded(
    d: &Deployment,
    class: &toml::Table,
    level: &Level,
    catalog: &Catalog,
    seed: u64,
) -> Result<Metrics, ReplayError> {
    let text = experiment_text(d, class, level, seed);
    let exp = crate::experiment::parse_with(&text, Path::new("calibrate replay"), catalog)
        .map_err(ReplayError::Config)?;
    let plans = crate::runner::plan(&exp, seed);
    let r = crate::runner::run_one(&plans[0], Observe::default()).map_err(ReplayError::Run)?;
    Ok(r.rows[0].metrics.clone())
}

/// The simulated counterparts of a level's measurements, in [`super::data::Observed::named`]'s
/// order (`None` where the run has no such figure, e.g. nothing was answered).
pub fn simulated(level: &Level, m: &Metrics) -> Vec<Option<f64>> {
    let o = level.observed;
    let mut v = vec![m.latency_mean_s];
    if o.e2e_median_s.is_some() {
        v.push(m.latency_p50_s);
    }
    if o.ttft_median_s.is_some() {
        v.push(m.ttft_p50_s);
    }
    if o.itl_median_s.is_some() {
        v.push(m.tpot_mean_s);
    }
    if o.tpot_mean_s.is_some() {
        v.push(m.tpot_mean_s);
    }
    v
}
