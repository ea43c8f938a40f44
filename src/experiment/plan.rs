//! Plan files: an experiment file whose `[search]` section names the choices a planner may make.
//!
//! ```toml
//! [search]
//! endpoint = { merge = [{ gpu = "t4", quantization = "int8" }, { gpu = "a100-80gb" }] }
//! endpoint.engine.max-num-seqs = [64, 256]
//! replicas = { min = 1, max = 16 }   # searched per candidate, not enumerated
//! top = 3                            # the cheapest this many are confirmed
//! replications = 3                   # seeds per confirmation
//! max-simulations = 2000             # the search stops with an error beyond this
//! ```
//!
//! Every key but the section's own settings is an axis, written as in `[sweep]` (lists, ranges,
//! `merge`, `unset`). A candidate is one value of every axis; the replica count is not an axis
//! because the planner searches it (the answer is monotone in replicas). Its key is
//! `endpoint.replicas` for a fixed endpoint and `endpoint.scaling.max-replicas` for one with a
//! lifecycle. A candidate is built exactly as a sweep's configuration: the parsed document with
//! the values written in, read by the same typed mirror and validation.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use toml::{Table, Value};

use super::catalog::Catalog;
use super::sweep::{self, Axis};
use super::{Experiment, locate};
use crate::error::ConfigError;

/// The settings of `[search]` that are not axes.
const OWN: &[&str] = &["replicas", "top", "replications", "max-simulations"];

/// Most candidates (axis combinations) a plan may hold.
pub const MAX_CANDIDATES: u64 = 1_000_000;

/// The replica counts the planner may choose from, inclusive.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ReplicaRange {
    /// Fewest.
    pub min: u32,
    /// Most.
    pub max: u32,
}

/// The parsed `[search]` section.
#[derive(Clone, Debug)]
pub struct PlanSpec {
    /// The axes, in file order.
    pub axes: Vec<Axis>,
    /// The replica counts searched per candidate.
    pub replicas: ReplicaRange,
    /// How many of the cheapest candidates are confirmed with replications.
    pub top: u32,
    /// Seeds per confirmation; 1 confirms on the screening seed alone.
    pub replications: u32,
    /// Most simulations the search may run.
    pub max_simulations: u32,
}

/// A plan file, read and checked: the document without `[search]`, and the search.
#[derive(Clone, Debug)]
pub struct PlanFile {
    /// The file it came from.
    pub path: PathBuf,
    /// Its name (`name` in the file).
    pub name: String,
    /// The seed written in the file, if any.
    pub seed: Option<u64>,
    /// The search.
    pub spec: PlanSpec,
    src: String,
    doc: Table,
}

/// One candidate at one replica count, validated.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// What to simulate.
    pub experiment: Experiment,
    /// The document it was read from, for writing it out as an experiment file.
    pub doc: Table,
}

/// Whether the experiment text `src` is a plan (has a `[search]` table).
pub fn is_plan(src: &str) -> bool {
    toml::from_str::<Table>(src)
        .ok()
        .is_some_and(|d| matches!(d.get("search"), Some(Value::Table(_))))
}

/// Reads the plan file at `path` and checks its search section and base document.
pub fn load(path: &Path) -> Result<PlanFile, ConfigError> {
    let src = super::input::read_text(path, super::input::InputKind::Experiment).map_err(|e| {
        let err = ConfigError::new(path, format!("cannot read the plan file: {e}"));
        if e.not_found() {
            err.with_hint("check the path; shipped plans are under experiments/plans/")
        } else {
            err
        }
    })?;
    parse(&src, path)
}

/// Reads plan text `src` as if from `path`.
pub fn parse(src: &str, path: &Path) -> Result<PlanFile, ConfigError> {
    let mut doc = toml::from_str::<Table>(src).map_err(|e| {
        let mut err = ConfigError::new(path, format!("invalid TOML: {}", e.message().trim_end()));
        if let Some(s) = e.span() {
            let (line, col) = locate::line_col(src, s.start);
            err = err.at_line(line, Some(col));
        }
        err
    })?;
    let err = |key: &str, message: String| {
        let mut e = ConfigError::new(path, message).at_key(key.to_string());
        let parts: Vec<&str> = key.split('.').collect();
        if let Some((line, col)) = locate::locate_keys(src, &parts) {
            e = e.at_line(line, Some(col));
        }
        e
    };
    let Some(Value::Table(search)) = doc.remove("search") else {
        return Err(ConfigError::new(path, "not a plan file: it has no [search] table")
            .with_hint("a plan is an experiment file plus [search] with the choices to make, e.g. [search] endpoint.gpu = [\"t4\", \"l4\"] and replicas = { min = 1, max = 8 }; to run one experiment use `capsim run`"));
    };
    if doc.contains_key("sweep") {
        return Err(err(
            "sweep",
            "a plan file cannot also have a [sweep]: the planner chooses the values".into(),
        )
        .with_hint("move the axes into [search]; to chart a sweep use `capsim run`"));
    }
    let whole = |key: &str, default: u32, lo: u32, hi: u32| -> Result<u32, ConfigError> {
        match search.get(key) {
            None => Ok(default),
            Some(Value::Integer(n)) if (i64::from(lo)..=i64::from(hi)).contains(n) => Ok(*n as u32),
            Some(other) => Err(err(
                &format!("search.{key}"),
                format!("must be a whole number from {lo} to {hi}, found {other}"),
            )),
        }
    };
    let top = whole("top", 3, 1, 100)?;
    let replications = whole("replications", 3, 1, 100)?;
    let max_simulations = whole("max-simulations", 2_000, 1, 1_000_000)?;
    let replicas = match search.get("replicas") {
        None => {
            return Err(err(
                "search",
                "[search] needs `replicas = { min = ..., max = ... }`: the replica counts to choose from".into(),
            )
            .with_hint("e.g. replicas = { min = 1, max = 16 }; for one fixed count write min = max"));
        }
        Some(Value::Table(t)) => {
            let bound = |k: &str| -> Result<u32, ConfigError> {
                match t.get(k) {
                    Some(Value::Integer(n)) if (1..=1000).contains(n) => Ok(*n as u32),
                    Some(other) => Err(err(
                        "search.replicas",
                        format!("`{k}` must be a whole number from 1 to 1000, found {other}"),
                    )),
                    None => Err(err("search.replicas", format!("needs `{k}`"))
                        .with_hint("replicas = { min = 1, max = 16 }")),
                }
            };
            if let Some(k) = t.keys().find(|k| !matches!(k.as_str(), "min" | "max")) {
                return Err(err(
                    "search.replicas",
                    format!("unknown key `{k}`: expected `min` and `max`"),
                ));
            }
            let (min, max) = (bound("min")?, bound("max")?);
            if min > max {
                return Err(err(
                    "search.replicas",
                    format!("min ({min}) is more than max ({max})"),
                ));
            }
            ReplicaRange { min, max }
        }
        Some(other) => {
            return Err(err(
                "search.replicas",
                format!("expected a table {{ min = ..., max = ... }}, found {other}"),
            )
            .with_hint("replicas = { min = 1, max = 16 }"));
        }
    };
    let axes = sweep::axes_of(path, src, "search", OWN, &search)?;
    for a in &axes {
        if a.key == "endpoint.replicas" || a.key == "endpoint.scaling.max-replicas" {
            return Err(err(
                &format!("search.{}", a.key),
                "the replica count is searched, not enumerated".into(),
            )
            .with_hint("give its range as `replicas = { min = 1, max = 16 }` in [search]"));
        }
    }
    let count: u64 = axes
        .iter()
        .map(|a| a.values.len() as u64)
        .fold(1, u64::saturating_mul);
    if count > MAX_CANDIDATES {
        return Err(err(
            "search",
            format!("the search has {count} candidates, more than {MAX_CANDIDATES}"),
        )
        .with_hint("narrow the axes; the replica range does not count here"));
    }
    let name = match doc.get("name") {
        Some(Value::String(s)) => s.clone(),
        _ => path
            .file_stem()
            .map_or_else(|| "plan".into(), |s| s.to_string_lossy().into_owned()),
    };
    let seed = match doc.get("seed") {
        Some(Value::Integer(n)) if *n >= 0 => Some(*n as u64),
        _ => None,
    };
    Ok(PlanFile {
        path: path.to_path_buf(),
        name,
        seed,
        spec: PlanSpec {
            axes,
            replicas,
            top,
            replications,
            max_simulations,
        },
        src: src.to_string(),
        doc,
    })
}

impl PlanFile {
    /// Every candidate: for each, the index of its value on every axis, the first axis varying
    /// slowest (as nested loops in file order).
    pub fn candidates(&self) -> Vec<Vec<usize>> {
        let lens: Vec<usize> = self.spec.axes.iter().map(|a| a.values.len()).collect();
        sweep::cartesian(&lens)
    }

    /// The axis values of candidate `choice`, as a sweep's params record them.
    pub fn params(&self, choice: &[usize]) -> BTreeMap<String, serde_json::Value> {
        self.spec
            .axes
            .iter()
            .zip(choice)
            .map(|(a, &i)| {
                let s = a.swept(i);
                (s.key, s.json)
            })
            .collect()
    }

    /// Candidate `choice` as a short label: `key=value` for every axis, short keys.
    pub fn label(&self, choice: &[usize]) -> String {
        let parts: Vec<String> = self
            .spec
            .axes
            .iter()
            .zip(choice)
            .map(|(a, &i)| {
                let s = a.swept(i);
                let key = a.key.rsplit('.').next().unwrap_or(&a.key);
                if s.written.contains('=') {
                    s.written
                } else {
                    format!("{key}={}", s.written)
                }
            })
            .collect();
        if parts.is_empty() {
            "the file as written".into()
        } else {
            parts.join(" ")
        }
    }

    /// Candidate `choice` with `replicas` replicas, validated as a run would be. Settings that
    /// have no effect in this candidate are not errors (as in a sweep).
    pub fn build(
        &self,
        choice: &[usize],
        replicas: u32,
        catalog: &Catalog,
    ) -> Result<Candidate, ConfigError> {
        let mut d = self.doc.clone();
        for (axis, &i) in self.spec.axes.iter().zip(choice) {
            sweep::apply(&mut d, axis, &axis.values[i]).map_err(|m| {
                ConfigError::new(&self.path, format!("cannot set `{}`: {m}", axis.key))
                    .at_key(format!("search.{}", axis.key))
            })?;
        }
        set_replicas(&mut d, replicas);
        let lenient = RefCell::new(Vec::new());
        let experiment =
            super::parse_tree(d.clone(), &self.src, &self.path, catalog, Some(&lenient)).map_err(
                |mut e| {
                    e.message = format!("candidate {}: {}", self.label(choice), e.message);
                    e
                },
            )?;
        Ok(Candidate { experiment, doc: d })
    }

    /// Candidate `cand` as a ready experiment file to be written into folder `out_dir`: its
    /// document with `seed` and `name` set and relative `file` paths rewritten to still point
    /// at the files the plan named. `header` becomes the leading comment.
    pub fn experiment_text(
        &self,
        cand: &Candidate,
        name: &str,
        seed: u64,
        out_dir: &Path,
        header: &str,
    ) -> Result<String, String> {
        let mut d = cand.doc.clone();
        d.insert("name".into(), Value::String(name.into()));
        d.insert("seed".into(), Value::Integer(seed as i64));
        let from = self.path.parent().unwrap_or(Path::new(""));
        rebase_files(&mut d, from, out_dir);
        let body = toml::to_string(&d).map_err(|e| e.to_string())?;
        let mut text = String::new();
        for line in header.lines() {
            text.push_str("# ");
            text.push_str(line);
            text.push('\n');
        }
        // Top-level scalars first, as a person would write them.
        text.push_str(&body);
        Ok(text)
    }
}

/// Writes the replica count where the endpoint keeps it.
fn set_replicas(d: &mut Table, replicas: u32) {
    let endpoint = d
        .entry("endpoint")
        .or_insert_with(|| Value::Table(Table::new()));
    let Value::Table(endpoint) = endpoint else {
        return;
    };
    match endpoint.get_mut("scaling") {
        Some(Value::Table(scaling)) => {
            scaling.insert("max-replicas".into(), Value::Integer(i64::from(replicas)));
        }
        _ => {
            endpoint.insert("replicas".into(), Value::Integer(i64::from(replicas)));
        }
    }
}

/// Rewrites every relative `file = "..."` under `d`, written relative to `from`, to be
/// relative to `to` (absolute when no relative path joins them).
fn rebase_files(d: &mut Table, from: &Path, to: &Path) {
    for (k, v) in d.iter_mut() {
        match v {
            Value::String(s) if k == "file" && Path::new(s.as_str()).is_relative() => {
                let target = from.join(s.as_str());
                *s = relative_to(&target, to)
                    .unwrap_or(target)
                    .to_string_lossy()
                    .into_owned();
            }
            Value::Table(t) => rebase_files(t, from, to),
            Value::Array(items) => {
                for item in items {
                    if let Value::Table(t) = item {
                        rebase_files(t, from, to);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `target` as a path relative to folder `base`, both made absolute first.
fn relative_to(target: &Path, base: &Path) -> Option<PathBuf> {
    let abs = |p: &Path| -> Option<PathBuf> {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(p)
        };
        // Lexical normalisation: the folder may not exist yet.
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        Some(out)
    };
    let (t, b) = (abs(target)?, abs(base)?);
    let tc: Vec<_> = t.components().collect();
    let bc: Vec<_> = b.components().collect();
    let common = tc.iter().zip(&bc).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut out = PathBuf::new();
    for _ in common..bc.len() {
        out.push("..");
    }
    for c in &tc[common..] {
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
name = "p"
seed = 3
duration = "10m"
[workload]
arrival = { kind = "poisson", rate = "2/s" }
prompt-tokens = { kind = "deterministic", value = 100 }
output-tokens = { kind = "deterministic", value = 50 }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
[search]
endpoint.gpu = ["a100-80gb", "h100-sxm"]
endpoint.quantization = ["fp16", "int8"]
replicas = { min = 1, max = 4 }
"#;

    #[test]
    fn a_search_section_gives_axes_candidates_and_its_settings() {
        let p = parse(BASE, Path::new("p.toml")).unwrap();
        assert_eq!(p.spec.axes.len(), 2);
        assert_eq!(p.candidates().len(), 4);
        assert_eq!(p.spec.replicas, ReplicaRange { min: 1, max: 4 });
        assert_eq!((p.spec.top, p.spec.replications), (3, 3));
        assert_eq!(p.label(&[1, 0]), "gpu=h100-sxm quantization=fp16");
    }

    #[test]
    fn a_candidate_is_built_with_its_replica_count() {
        let p = parse(BASE, Path::new("p.toml")).unwrap();
        let c = p.build(&[0, 1], 3, Catalog::builtin().unwrap()).unwrap();
        let ep = c.doc["endpoint"].as_table().unwrap();
        assert_eq!(ep["replicas"].as_integer(), Some(3));
        assert_eq!(ep["quantization"].as_str(), Some("int8"));
    }

    #[test]
    fn searching_the_replica_count_as_an_axis_is_refused() {
        let src = BASE.replace("replicas = {", "endpoint.replicas = [1, 2]\nreplicas = {");
        let e = parse(&src, Path::new("p.toml")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("search.endpoint.replicas"));
        assert!(e.hint.unwrap().contains("replicas = { min"));
    }

    #[test]
    fn a_search_without_a_replica_range_or_with_a_sweep_is_refused() {
        let no_range = BASE.replace("replicas = { min = 1, max = 4 }", "");
        let e = parse(&no_range, Path::new("p.toml")).unwrap_err();
        assert!(e.message.contains("needs `replicas"), "{e}");
        let swept = format!("{BASE}\n[sweep]\nendpoint.gpu = [\"t4\"]\n");
        let e = parse(&swept, Path::new("p.toml")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("sweep"));
        let bad = BASE.replace("max = 4", "max = 0");
        let e = parse(&bad, Path::new("p.toml")).unwrap_err();
        assert!(e.message.contains("`max` must be"), "{e}");
    }

    #[test]
    fn relative_files_are_rewritten_for_the_output_folder() {
        let p = relative_to(Path::new("/a/b/data/t.csv"), Path::new("/a/c/out")).unwrap();
        assert_eq!(p, PathBuf::from("../../b/data/t.csv"));
        let mut d: Table = toml::from_str("[w]\narrival = { file = \"../t.csv\" }").unwrap();
        rebase_files(&mut d, Path::new("/x/plans"), Path::new("/x/plans/out"));
        assert_eq!(d["w"]["arrival"]["file"].as_str(), Some("../../t.csv"));
    }
}
