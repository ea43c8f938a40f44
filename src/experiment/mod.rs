//! Experiment files: from TOML text to a validated [`Experiment`].
//!
//! Parsing happens in two stages, as in a compiler: the `file` module mirrors the TOML shape with serde
//! (unknown keys and wrong types are refused there, with the line), then `validate` checks every
//! value and builds domain types (with the key path and line of the offending value). Paths
//! written inside a file are relative to that file's folder. A sweep's configurations skip the
//! text: each is the parsed document with its axis values written in, read by the same typed
//! mirror and validation, with errors located by key path in the file as written.

pub mod catalog;
pub mod engines;
pub mod file;
mod fingerprint;
pub mod input;
pub mod locate;
pub mod plan;
mod policy;
mod read;
mod resolved;
mod reuse;
mod serving;
pub mod slo;
mod suggest;
pub mod sweep;
mod tagged;
pub mod units;
mod validate;
mod workload;

pub use fingerprint::fingerprint;
pub use resolved::{Config, Experiment};
pub use workload::read_trace;

use std::cell::RefCell;
use std::path::Path;

use crate::error::ConfigError;
use crate::experiment::catalog::Catalog;

pub use read::{MAX_SERVERS, dist_kinds};

/// Reads and validates the experiment file at `path` against the built-in catalog.
pub fn load(path: &Path) -> Result<Experiment, ConfigError> {
    load_with(path, Catalog::builtin()?)
}

/// Reads and validates the experiment file at `path` against `catalog` (e.g. the built-in
/// catalog with a user's folder merged over it: [`Catalog::load`]).
pub fn load_with(path: &Path, catalog: &Catalog) -> Result<Experiment, ConfigError> {
    let src = input::read_text(path, input::InputKind::Experiment).map_err(|e| {
        let err = ConfigError::new(path, format!("cannot read the experiment file: {e}"));
        if e.not_found() {
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
/// assert_eq!(m.arrived, m.ok + m.client_timeout + m.queue_timeout + m.rejected + m.unfinished);
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
    // The parsed document, when the text is TOML; when it is not, the typed reading below says
    // why, with the line.
    let doc = toml::from_str::<toml::Table>(src).ok();
    if let Some(search) = doc.as_ref().and_then(|d| d.get("search")) {
        let mut e = ConfigError::new(path, "this is a plan file: its [search] names choices for `capsim plan` to make")
            .at_key("search")
            .with_hint(format!("run `capsim plan {}`; to run one configuration, remove [search] or run the planner's winner.toml", path.display()));
        if search.is_table()
            && let Some((line, col)) = locate::locate_keys(src, &["search"])
        {
            e = e.at_line(line, Some(col));
        }
        return Err(e);
    }
    let sweep_table = doc
        .as_ref()
        .and_then(|d| d.get("sweep"))
        .and_then(toml::Value::as_table);
    // Inside a sweep, a key that one configuration makes idle is a warning (the file as written
    // is then read only to check it; its own warnings say nothing about the runs).
    let ignored = RefCell::new(Vec::new());
    let mut exp = parse_one(src, path, catalog, sweep_table.map(|_| &ignored))?;
    let (Some(mut doc), Some(table)) = (doc.clone(), sweep_table) else {
        return Ok(exp);
    };
    let spec = sweep::parse(path, src, table)?;
    doc.remove("sweep");
    let configurations = spec.configurations();
    let total = configurations.len();
    let mut configs = Vec::new();
    let mut warnings: Vec<(ConfigError, usize, String)> = Vec::new();
    for choice in configurations {
        let mut d = doc.clone();
        let swept: Vec<sweep::Swept> = spec
            .axes
            .iter()
            .zip(&choice)
            .map(|(a, &i)| a.swept(i))
            .collect();
        let desc: Vec<String> = swept
            .iter()
            .map(|s| match &s.json {
                serde_json::Value::String(_) if s.written.contains('=') => {
                    format!("{} = {{ {} }}", s.key, s.written)
                }
                serde_json::Value::String(w) => format!("{} = \"{w}\"", s.key),
                other => format!("{} = {other}", s.key),
            })
            .collect();
        let desc = desc.join(", ");
        // What replacing a table drops, for the hint when the configuration is then invalid.
        let mut replaced: Option<(String, Vec<String>)> = None;
        for (axis, &i) in spec.axes.iter().zip(&choice) {
            let gone = sweep::dropped(&d, axis, &axis.values[i]);
            if replaced.is_none() && !gone.is_empty() {
                replaced = Some((axis.key.clone(), gone));
            }
            sweep::apply(&mut d, axis, &axis.values[i]).map_err(|m| {
                let e = ConfigError::new(path, format!("cannot sweep `{}`: {m}", axis.key))
                    .at_key(format!("sweep.{}", axis.key));
                match axis.line {
                    Some(line) => e.at_line(line, None),
                    None => e,
                }
            })?;
        }
        // An error names the configuration and points at the axis whose key it is under (the
        // first axis when it is under none).
        let axis_line = |key: Option<&str>| {
            let under = key.and_then(|k| {
                spec.axes.iter().find(|a| {
                    k == a.key
                        || k.strip_prefix(a.key.as_str())
                            .is_some_and(|r| r.starts_with(['.', '[']))
                })
            });
            under.or(spec.axes.first()).and_then(|a| a.line)
        };
        // Without axes nothing varies, so the configuration is the file: errors stay errors.
        let here = RefCell::new(Vec::new());
        let lenient = (!spec.axes.is_empty()).then_some(&here);
        let one = parse_tree(d, src, path, catalog, lenient).map_err(|e| {
            if spec.axes.is_empty() {
                return e;
            }
            let mut out = ConfigError::new(
                path,
                format!("in the sweep configuration {desc}: {}", e.message),
            );
            if let Some(line) = axis_line(e.key.as_deref()) {
                out = out.at_line(line, None);
            }
            if let Some(k) = e.key {
                out = out.at_key(k);
            }
            if let Some((k, gone)) = &replaced {
                let gone: Vec<String> = gone.iter().map(|g| format!("`{g}`")).collect();
                return out.with_hint(format!(
                    "a table value replaces the whole `{k}` table, so this configuration has no {}; to change only the keys it names, write {k} = {{ merge = [...] }}",
                    gone.join(", ")
                ));
            }
            match e.hint {
                Some(h) => out.with_hint(h),
                None => out,
            }
        })?;
        for w in here.into_inner() {
            match warnings.iter_mut().find(|(seen, _, _)| *seen == w) {
                Some((_, n, _)) => *n += 1,
                None => warnings.push((w, 1, desc.clone())),
            }
        }
        configs.push(Config {
            params: swept
                .iter()
                .map(|s| (s.key.clone(), s.json.clone()))
                .collect(),
            swept,
            scenario: one.scenario,
        });
    }
    exp.warnings = warnings
        .into_iter()
        .map(|(mut w, n, first)| {
            w.message = format!(
                "{} (in {n} of the {total} sweep configurations, e.g. {first})",
                w.message
            );
            w
        })
        .collect();
    exp.scenario = configs[0].scenario.clone();
    exp.configs = configs;
    exp.replications = spec.replications;
    Ok(exp)
}

/// Validates one configuration given as text: the file as written.
fn parse_one(
    src: &str,
    path: &Path,
    catalog: &Catalog,
    warnings: Option<&RefCell<Vec<ConfigError>>>,
) -> Result<Experiment, ConfigError> {
    let deserializer =
        toml::Deserializer::parse(src).map_err(|e| toml_error(src, path, None, &e))?;
    let raw: file::ExperimentFile =
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            toml_error(src, path, Some(key), e.inner())
        })?;
    validate_mirror(raw, src, path, catalog, warnings)
}

/// Validates one configuration of a sweep given as the document's value tree (no text is
/// printed and read back); errors are located by key path in the file's source `src`.
fn parse_tree(
    doc: toml::Table,
    src: &str,
    path: &Path,
    catalog: &Catalog,
    warnings: Option<&RefCell<Vec<ConfigError>>>,
) -> Result<Experiment, ConfigError> {
    let raw: file::ExperimentFile = serde_path_to_error::deserialize(toml::Value::Table(doc))
        .map_err(|e| {
            let key = e.path().to_string();
            toml_error(src, path, Some(key), e.inner())
        })?;
    validate_mirror(raw, src, path, catalog, warnings)
}

/// Stage two for a mirror read from `src` (the file at `path`): validation into domain types.
fn validate_mirror(
    raw: file::ExperimentFile,
    src: &str,
    path: &Path,
    catalog: &Catalog,
    warnings: Option<&RefCell<Vec<ConfigError>>>,
) -> Result<Experiment, ConfigError> {
    let ctx = read::Ctx {
        file: path,
        src,
        section: "endpoint",
        catalog,
        warnings,
    };
    validate::experiment(&ctx, raw)
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
    let message = suggest::plain_types(e.message().trim_end());
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
        // `classes[0].share = ...` is how one writes the key path, but a bare TOML key cannot
        // hold brackets.
        let line = at.and_then(|(l, _)| src.lines().nth(l - 1)).unwrap_or("");
        let indexed_key = line
            .split_once('=')
            .map(|(k, _)| k.trim())
            .filter(|k| !k.starts_with(['[', '"', '\'']) && k.contains('[') && k.contains(']'));
        err = match indexed_key {
            Some(k) => err.with_hint(format!(
                "a key with an index must be quoted in TOML: write \"{k}\" = ..."
            )),
            None => err.with_hint(
                "the mistake may be on an earlier line: look for an unclosed `{`, `[` or quote",
            ),
        };
    }
    if let Some(k) = &key {
        if message.starts_with("unknown field") {
            let written = k.rsplit('.').next().unwrap_or(k);
            let options = expected_fields(&message);
            err = err.with_hint(suggest::key_hint(written, &options).unwrap_or_else(|| {
                "see the experiment-file reference in the README for every key".into()
            }));
        }
        err = err.at_key(k.clone());
    }
    err
}
