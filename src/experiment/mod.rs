//! Experiment files: from TOML text to a validated [`Experiment`].
//!
//! Parsing happens in two stages, as in a compiler: the `file` module mirrors the TOML shape with serde
//! (unknown keys and wrong types are refused there, with the line), then `validate` checks every
//! value and builds domain types (with the key path and line of the offending value). Paths
//! written inside a file are relative to that file's folder.

pub mod file;
mod fingerprint;
pub mod locate;
mod policy;
mod serving;
pub mod sweep;
pub mod units;
mod validate;
mod workload;

pub use fingerprint::fingerprint;
pub use workload::read_trace;

use std::path::{Path, PathBuf};

use crate::catalog::Catalog;
use crate::domain::Scenario;
use crate::error::ConfigError;

pub(crate) use validate::did_you_mean;
pub use validate::{DIST_KINDS, MAX_SERVERS};

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
}

/// One configuration of a sweep.
#[derive(Clone, Debug)]
pub struct Config {
    /// The axis values that make it, by key path (empty without a sweep).
    pub params: std::collections::BTreeMap<String, serde_json::Value>,
    /// What it simulates.
    pub scenario: Scenario,
}

/// Reads and validates the experiment file at `path` against the built-in catalog.
pub fn load(path: &Path) -> Result<Experiment, ConfigError> {
    load_with(path, Catalog::builtin()?)
}

/// Reads and validates the experiment file at `path` against `catalog` (e.g. the built-in
/// catalog with a user's folder merged over it: [`Catalog::load`]).
pub fn load_with(path: &Path, catalog: &Catalog) -> Result<Experiment, ConfigError> {
    let src = std::fs::read_to_string(path).map_err(|e| {
        let err = ConfigError::new(path, format!("cannot read the experiment file: {e}"));
        if e.kind() == std::io::ErrorKind::NotFound {
            err.with_hint("check the path; shipped examples are under experiments/")
        } else {
            err
        }
    })?;
    parse_with(&src, path, catalog)
}

/// Validates experiment text `src` as if it were read from `path` (used for messages and to
/// resolve relative paths).
///
/// ```
/// use std::path::Path;
/// let src = r#"
/// name = "one T4"
/// seed = 1
/// duration = "1h"
/// [workload]
/// arrival = { kind = "poisson", rate = "2/s" }
/// [endpoint]
/// servers = 1
/// service-time = { kind = "lognormal", median = "300ms", p99 = "2s" }
/// "#;
/// let exp = capsim::experiment::parse(src, Path::new("t4.toml")).unwrap();
/// let summary = capsim::runner::run(&exp, exp.seed.unwrap(), Default::default()).unwrap();
/// let m = &summary.runs[0].metrics;
/// assert_eq!(m.arrived, m.ok + m.client_timeout + m.queue_timeout + m.rejected + m.in_flight);
///
/// let err = capsim::experiment::parse(&src.replace("2/s", "-2/s"), Path::new("t4.toml")).unwrap_err();
/// assert_eq!(err.line, Some(6)); // the `arrival` line
/// ```
pub fn parse(src: &str, path: &Path) -> Result<Experiment, ConfigError> {
    parse_with(src, path, Catalog::builtin()?)
}

/// Validates experiment text `src` as if it were read from `path`, against `catalog`.
pub fn parse_with(src: &str, path: &Path, catalog: &Catalog) -> Result<Experiment, ConfigError> {
    workload::forget_traces();
    let mut exp = parse_one(src, path, catalog)?;
    // A sweep writes each configuration's axis values into the file and validates the result
    // like any file; the file as written (first values aside) is already valid here.
    let Some(toml::Value::Table(table)) = toml::from_str::<toml::Table>(src)
        .ok()
        .and_then(|mut doc| doc.remove("sweep"))
    else {
        return Ok(exp);
    };
    let spec = sweep::parse(path, src, &table)?;
    let mut doc: toml::Table = toml::from_str(src).map_err(|e| toml_error(src, path, None, &e))?;
    doc.remove("sweep");
    let mut configs = Vec::new();
    for values in spec.configurations() {
        let mut d = doc.clone();
        for (k, v) in &values {
            sweep::set(&mut d, k, v.clone()).map_err(|m| {
                let e = ConfigError::new(path, format!("cannot sweep `{k}`: {m}"))
                    .at_key(format!("sweep.{k}"));
                match locate::locate(src, &format!("sweep.{k}")) {
                    Some((line, _)) => e.at_line(line, None),
                    None => e,
                }
            })?;
        }
        let text = toml::to_string(&d).map_err(|e| {
            ConfigError::new(path, format!("cannot write a sweep configuration: {e}"))
        })?;
        let one = parse_one(&text, path, catalog).map_err(|e| {
            let desc: Vec<String> = values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            let mut out = ConfigError::new(
                path,
                format!(
                    "in the sweep configuration {}: {}",
                    desc.join(", "),
                    e.message
                ),
            );
            if let Some(k) = e.key {
                out = out.at_key(k);
            }
            if let Some((k, _)) = values.first()
                && let Some((line, _)) = locate::locate(src, &format!("sweep.{k}"))
            {
                out = out.at_line(line, None);
            }
            match e.hint {
                Some(h) => out.with_hint(h),
                None => out,
            }
        })?;
        configs.push(Config {
            params: sweep::params(&values),
            scenario: one.scenario,
        });
    }
    exp.scenario = configs[0].scenario.clone();
    exp.configs = configs;
    exp.replications = spec.replications;
    Ok(exp)
}

/// Validates one configuration: the file without its sweep.
fn parse_one(src: &str, path: &Path, catalog: &Catalog) -> Result<Experiment, ConfigError> {
    let deserializer =
        toml::Deserializer::parse(src).map_err(|e| toml_error(src, path, None, &e))?;
    let raw: file::ExperimentFile =
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            toml_error(src, path, Some(key), e.inner())
        })?;
    let ctx = validate::Ctx {
        file: path,
        src,
        section: "endpoint",
        catalog,
    };
    validate::experiment(&ctx, raw)
}

/// Rewrites serde's type names into words a user of the file knows.
fn plain_types(message: &str) -> String {
    message
        .replace("expected i64", "expected an integer")
        .replace("expected u64", "expected a whole number, 0 or more")
        .replace("expected a boolean", "expected true or false")
}

/// The backquoted names after "expected one of" in serde's unknown-field message.
fn expected_fields(message: &str) -> Vec<&str> {
    message
        .split_once("expected one of")
        .map(|(_, list)| {
            list.split(',')
                .map(|s| s.trim().trim_matches('`'))
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Turns a toml or serde error into a [`ConfigError`] with the line and, where known, the key.
fn toml_error(src: &str, path: &Path, key: Option<String>, e: &toml::de::Error) -> ConfigError {
    let key = key.filter(|k| k != ".");
    let message = plain_types(e.message().trim_end());
    let mut err = ConfigError::new(path, message.clone());
    let at = e
        .span()
        .map(|s| locate::line_col(src, s.start))
        .or_else(|| key.as_deref().and_then(|k| locate::locate(src, k)));
    if let Some((line, col)) = at {
        err = err.at_line(line, Some(col));
    }
    if key.is_none() && e.span().is_some() && !message.starts_with("missing field") {
        err.message = format!("invalid TOML: {message}");
        err = err.with_hint(
            "the mistake may be on an earlier line: look for an unclosed `{`, `[` or quote",
        );
    }
    if let Some(k) = &key {
        if message.starts_with("unknown field") {
            let written = k.rsplit('.').next().unwrap_or(k);
            let kebab = written.replace('_', "-");
            let options = expected_fields(&message);
            err = if written.contains('_') && options.contains(&kebab.as_str()) {
                err.with_hint(format!(
                    "keys are kebab-case: write `{kebab}`, not `{written}`"
                ))
            } else if let Some(s) = validate::did_you_mean(written, &options) {
                err.with_hint(format!("did you mean `{s}`?"))
            } else {
                err.with_hint("see the experiment-file reference in the README for every key")
            };
        }
        err = err.at_key(k.clone());
    }
    err
}
