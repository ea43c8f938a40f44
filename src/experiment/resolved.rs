//! The validated experiment: what the runner plans from.

use std::path::PathBuf;

use crate::domain::Scenario;
use crate::error::ConfigError;

/// A validated experiment.
#[derive(Clone, Debug)]
pub struct Experiment {
    /// Its name, shown in outputs.
    pub name: String,
    /// Free text from the file.
    pub description: Option<String>,
    /// The seed written in the file, if any (the command line may override it).
    pub seed: Option<u64>,
    /// The file it came from.
    pub source: PathBuf,
    /// What to simulate (the first configuration of a sweep).
    pub scenario: Scenario,
    /// Every configuration of the sweep, in order (one, without a `[sweep]`): the axis values
    /// by key path, and the scenario.
    pub configs: Vec<Config>,
    /// Runs per configuration, each with its own seed.
    pub replications: u32,
    /// Settings that have no effect in some configurations of the sweep, each with how many
    /// (a single run refuses them as errors instead).
    pub warnings: Vec<ConfigError>,
}

/// One configuration of a sweep.
#[derive(Clone, Debug)]
pub struct Config {
    /// The axis values that make it, by key path (empty without a sweep).
    pub params: std::collections::BTreeMap<String, serde_json::Value>,
    /// The same values typed, in axis order: label, number and unit, and the key's role.
    pub swept: Vec<super::sweep::Swept>,
    /// What it simulates.
    pub scenario: Scenario,
}
