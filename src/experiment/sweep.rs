//! `[sweep]`: axes over any key of the experiment file, expanded into configurations.
//!
//! ```toml
//! [sweep]
//! mode = "cartesian"            # or "zip": the axes advance together
//! replications = 5              # runs per configuration, each with its own seed
//! max-runs = 10000              # configurations × replications at most
//! endpoint.gpu = ["t4", "a10g"]
//! workload.arrival.rate = { from = "1/s", to = "20/s", step = "1/s" }
//! ```
//!
//! Each configuration is the file with the axis values written in, validated like any file, so a
//! swept value gets the same checks (and an error names the axis and the value).

use std::collections::BTreeMap;
use std::path::Path;

use toml::{Table, Value};

use super::units::{parse_duration, parse_rate};
use crate::error::ConfigError;

/// Default and hard cap on the number of runs a sweep may plan.
pub const MAX_RUNS: u64 = 100_000;

/// One axis: a key path and the values it takes, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Key path in the file, e.g. `workload.arrival.rate`.
    pub key: String,
    /// The values, as written in the file.
    pub values: Vec<Value>,
}

/// The parsed `[sweep]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    /// The axes, in the order they are written.
    pub axes: Vec<Axis>,
    /// Cartesian product (`false`) or zipped (`true`).
    pub zip: bool,
    /// Runs per configuration.
    pub replications: u32,
}

impl SweepSpec {
    /// The configurations: for each, the value of every axis (by key path).
    pub fn configurations(&self) -> Vec<Vec<(String, Value)>> {
        if self.axes.is_empty() {
            return vec![Vec::new()];
        }
        if self.zip {
            let n = self.axes[0].values.len();
            return (0..n)
                .map(|i| {
                    self.axes
                        .iter()
                        .map(|a| (a.key.clone(), a.values[i].clone()))
                        .collect()
                })
                .collect();
        }
        // The first axis varies slowest, as in nested loops written in file order.
        let mut out: Vec<Vec<(String, Value)>> = vec![Vec::new()];
        for a in &self.axes {
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    a.values.iter().map(move |v| {
                        let mut c = prefix.clone();
                        c.push((a.key.clone(), v.clone()));
                        c
                    })
                })
                .collect();
        }
        out
    }
}

fn err(path: &Path, src: &str, key: &str, message: impl Into<String>) -> ConfigError {
    let e = ConfigError::new(path, message).at_key(key);
    match super::locate::locate(src, key) {
        Some((line, _)) => e.at_line(line, None),
        None => e,
    }
}

/// A number with a unit suffix, as written in a range bound: `"1/s"` is (1, "/s").
fn split_unit(v: &Value) -> Option<(f64, String, bool)> {
    match v {
        Value::Integer(i) => Some((*i as f64, String::new(), true)),
        Value::Float(f) => Some((*f, String::new(), false)),
        Value::String(s) => {
            let s = s.trim();
            let end = s
                .find(|c: char| {
                    !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e')
                })
                .unwrap_or(s.len());
            let (num, unit) = s.split_at(end);
            let x: f64 = num.parse().ok()?;
            // The unit must be one the file understands, so a typo fails here, not per run.
            let unit = unit.trim().to_string();
            let known = unit.is_empty()
                || parse_rate(&format!("1{unit}")).is_ok()
                || parse_duration(&format!("1{unit}")).is_ok();
            known.then_some((x, unit, false))
        }
        _ => None,
    }
}

/// Writes `x` the shortest way that reads back the same (`0.1`, not `0.1000000000000000055`).
fn short(x: f64) -> String {
    let r = (x * 1e9).round() / 1e9;
    if r == r.trunc() && r.abs() < 1e15 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

fn range(path: &Path, src: &str, key: &str, t: &Table) -> Result<Vec<Value>, ConfigError> {
    for k in t.keys() {
        if !matches!(k.as_str(), "from" | "to" | "step") {
            return Err(err(
                path,
                src,
                key,
                format!("a range takes `from`, `to` and `step`; found `{k}`"),
            )
            .with_hint(
                "e.g. { from = \"1/s\", to = \"20/s\", step = \"1/s\" }, or a list of values",
            ));
        }
    }
    let get = |k: &str| -> Result<(f64, String, bool), ConfigError> {
        let v = t.get(k).ok_or_else(|| {
            err(path, src, key, format!("a range needs `{k}`"))
                .with_hint("e.g. { from = \"1/s\", to = \"20/s\", step = \"1/s\" }")
        })?;
        split_unit(v).ok_or_else(|| {
            err(
                path,
                src,
                &format!("{key}.{k}"),
                format!("expected a number, with a unit where the key needs one; found {v}"),
            )
        })
    };
    let (from, unit, int_a) = get("from")?;
    let (to, unit_b, int_b) = get("to")?;
    let (step, unit_c, int_c) = get("step")?;
    if unit != unit_b || unit != unit_c {
        return Err(err(
            path,
            src,
            key,
            format!("the range mixes units: \"{unit}\", \"{unit_b}\", \"{unit_c}\""),
        )
        .with_hint("write from, to and step in the same unit"));
    }
    if !(step > 0.0 && step.is_finite()) || to < from {
        return Err(err(
            path,
            src,
            key,
            format!(
                "the range must have from ≤ to and a positive step; found from {from}, to {to}, step {step}"
            ),
        ));
    }
    let n = ((to - from) / step + 1e-9).floor() as u64 + 1;
    if n > MAX_RUNS {
        return Err(err(
            path,
            src,
            key,
            format!("the range has {n} values, more than {MAX_RUNS}"),
        ));
    }
    let integers = int_a && int_b && int_c && unit.is_empty();
    Ok((0..n)
        .map(|i| {
            let x = from + i as f64 * step;
            if integers {
                Value::Integer(x.round() as i64)
            } else if unit.is_empty() {
                Value::Float(x)
            } else {
                Value::String(format!("{}{unit}", short(x)))
            }
        })
        .collect())
}

/// Collects axes from a (possibly nested) table of the sweep section.
fn collect(
    path: &Path,
    src: &str,
    prefix: &str,
    t: &Table,
    out: &mut Vec<Axis>,
) -> Result<(), ConfigError> {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if prefix.is_empty() && matches!(k.as_str(), "mode" | "replications" | "max-runs") {
            continue;
        }
        match v {
            Value::Array(values) => {
                if values.is_empty() {
                    return Err(err(
                        path,
                        src,
                        &format!("sweep.{key}"),
                        "an axis needs at least one value",
                    ));
                }
                out.push(Axis {
                    key,
                    values: values.clone(),
                });
            }
            Value::Table(inner) if inner.contains_key("from") || inner.contains_key("to") => {
                let values = range(path, src, &format!("sweep.{key}"), inner)?;
                out.push(Axis { key, values });
            }
            Value::Table(inner) => collect(path, src, &key, inner, out)?,
            other => {
                return Err(err(
                    path,
                    src,
                    &format!("sweep.{key}"),
                    format!("an axis is a list of values or a range; found {other}"),
                )
                .with_hint(format!("e.g. {key} = [{other}, ...]")));
            }
        }
    }
    Ok(())
}

/// Parses the `[sweep]` table of the file at `path` (source `src`).
pub fn parse(path: &Path, src: &str, t: &Table) -> Result<SweepSpec, ConfigError> {
    let zip = match t.get("mode") {
        None => false,
        Some(Value::String(m)) if m == "cartesian" => false,
        Some(Value::String(m)) if m == "zip" => true,
        Some(other) => {
            return Err(err(
                path,
                src,
                "sweep.mode",
                format!("expected \"cartesian\" or \"zip\", found {other}"),
            ));
        }
    };
    let replications = match t.get("replications") {
        None => 1,
        Some(Value::Integer(r)) if (1..=10_000).contains(r) => *r as u32,
        Some(other) => {
            return Err(err(
                path,
                src,
                "sweep.replications",
                format!("must be a whole number from 1 to 10000, found {other}"),
            ));
        }
    };
    let max_runs = match t.get("max-runs") {
        None => 10_000,
        Some(Value::Integer(r)) if (1..=MAX_RUNS as i64).contains(r) => *r as u64,
        Some(other) => {
            return Err(err(
                path,
                src,
                "sweep.max-runs",
                format!("must be a whole number from 1 to {MAX_RUNS}, found {other}"),
            ));
        }
    };
    let mut axes = Vec::new();
    collect(path, src, "", t, &mut axes)?;
    // File order, not the table's alphabetical order.
    axes.sort_by_key(|a| {
        super::locate::locate(src, &format!("sweep.{}", a.key)).unwrap_or((usize::MAX, 0))
    });
    if zip && let Some(a) = axes.iter().find(|a| a.values.len() != axes[0].values.len()) {
        return Err(err(
            path,
            src,
            &format!("sweep.{}", a.key),
            format!(
                "zipped axes must have the same length: `{}` has {}, `{}` has {}",
                axes[0].key,
                axes[0].values.len(),
                a.key,
                a.values.len()
            ),
        )
        .with_hint("give every axis as many values, or use mode = \"cartesian\""));
    }
    let spec = SweepSpec {
        axes,
        zip,
        replications,
    };
    let configs = if spec.zip {
        spec.axes.first().map_or(1, |a| a.values.len() as u64)
    } else {
        spec.axes.iter().map(|a| a.values.len() as u64).product()
    };
    let runs = configs.saturating_mul(u64::from(replications));
    if runs > max_runs {
        return Err(err(path, src, "sweep", format!(
            "the sweep plans {runs} runs ({configs} configurations × {replications} replications), more than max-runs = {max_runs}"
        ))
        .with_hint("narrow the axes, use fewer replications, or raise `max-runs` (at most 100000)"));
    }
    Ok(spec)
}

/// Writes `value` at `key` (e.g. `workload.arrival.rate`, `classes[1].share`) into `doc`.
pub fn set(doc: &mut Table, key: &str, value: Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut table = doc;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let (name, index) = match part.find('[') {
            Some(b) => {
                let idx: usize = part[b + 1..part.len() - 1]
                    .parse()
                    .map_err(|_| format!("`{part}` is not a key or key[index]"))?;
                (&part[..b], Some(idx))
            }
            None => (*part, None),
        };
        match index {
            None if last => {
                // A table value sets several keys at once (e.g. a GPU with its quantization),
                // leaving the table's other keys as written.
                match (value, table.get_mut(name)) {
                    (Value::Table(values), Some(Value::Table(target))) => {
                        for (k, v) in values {
                            set(target, &k, v)?;
                        }
                    }
                    (value, _) => {
                        table.insert(name.to_string(), value);
                    }
                }
                return Ok(());
            }
            None => {
                let entry = table
                    .entry(name.to_string())
                    .or_insert_with(|| Value::Table(Table::new()));
                table = match entry {
                    Value::Table(t) => t,
                    _ => return Err(format!("`{name}` is a value, not a table")),
                };
            }
            Some(idx) => {
                let Some(Value::Array(items)) = table.get_mut(name) else {
                    return Err(format!("`{name}` is not a list in the file"));
                };
                let len = items.len();
                let Some(item) = items.get_mut(idx) else {
                    return Err(format!(
                        "`{name}` has {len} entries; index {idx} is out of range"
                    ));
                };
                if last {
                    *item = value;
                    return Ok(());
                }
                table = match item {
                    Value::Table(t) => t,
                    _ => return Err(format!("`{name}[{idx}]` is a value, not a table")),
                };
            }
        }
    }
    Ok(())
}

/// The axis values of one configuration as output parameters.
pub fn params(config: &[(String, Value)]) -> BTreeMap<String, serde_json::Value> {
    config
        .iter()
        .map(|(k, v)| {
            let j = match v {
                Value::String(s) => serde_json::Value::String(s.clone()),
                Value::Integer(i) => serde_json::Value::from(*i),
                Value::Float(f) => serde_json::Value::from(*f),
                Value::Boolean(b) => serde_json::Value::Bool(*b),
                // A table of several keys reads as its values joined, e.g. "t4 int8".
                Value::Table(t) => serde_json::Value::String(
                    t.values()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                other => serde_json::Value::String(other.to_string()),
            };
            (k.clone(), j)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Result<SweepSpec, ConfigError> {
        let src = format!("[sweep]\n{text}\n");
        let doc: Table = toml::from_str(&src).unwrap();
        let Some(Value::Table(t)) = doc.get("sweep") else {
            panic!()
        };
        parse(Path::new("s.toml"), &src, t)
    }

    #[test]
    fn ranges_expand_with_their_unit_and_without_float_noise() {
        let s =
            spec("workload.arrival.rate = { from = \"0.5/s\", to = \"1.2/s\", step = \"0.1/s\" }")
                .unwrap();
        let v: Vec<String> = s.axes[0]
            .values
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            v,
            [
                "0.5/s", "0.6/s", "0.7/s", "0.8/s", "0.9/s", "1/s", "1.1/s", "1.2/s"
            ]
        );
        let n = spec("endpoint.replicas = { from = 1, to = 4, step = 1 }").unwrap();
        assert_eq!(
            n.axes[0].values,
            (1..=4).map(Value::Integer).collect::<Vec<_>>()
        );
    }

    #[test]
    fn cartesian_varies_the_first_axis_slowest_and_zip_pairs_values() {
        let s = spec(
            "endpoint.gpu = [\"t4\", \"a10g\"]\nclient.timeout = [\"60s\", \"300s\", \"600s\"]",
        )
        .unwrap();
        let c = s.configurations();
        assert_eq!(c.len(), 6);
        assert_eq!(c[1][0].1.as_str(), Some("t4"));
        assert_eq!(c[1][1].1.as_str(), Some("300s"));
        assert_eq!(c[3][0].1.as_str(), Some("a10g"));
        let z = spec("mode = \"zip\"\nendpoint.gpu = [\"t4\", \"a10g\"]\nendpoint.quantization = [\"int8\", \"fp16\"]").unwrap();
        assert_eq!(z.configurations().len(), 2);
        let bad = spec(
            "mode = \"zip\"\nendpoint.gpu = [\"t4\", \"a10g\"]\nendpoint.quantization = [\"int8\"]",
        );
        assert!(bad.unwrap_err().to_string().contains("same length"));
    }

    #[test]
    fn too_many_runs_is_an_error_naming_the_count() {
        let e = spec(
            "replications = 10\nmax-runs = 50\nendpoint.replicas = { from = 1, to = 10, step = 1 }",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains(
                "plans 100 runs (10 configurations × 10 replications), more than max-runs = 50"
            ),
            "{e}"
        );
    }

    #[test]
    fn values_are_written_at_key_paths_and_list_entries() {
        let mut doc: Table = toml::from_str("[workload]\narrival = { kind = \"poisson\", rate = \"1/s\" }\n[[classes]]\nshare = 0.5\n").unwrap();
        set(
            &mut doc,
            "workload.arrival.rate",
            Value::String("2/s".into()),
        )
        .unwrap();
        set(&mut doc, "classes[0].share", Value::Float(0.25)).unwrap();
        let text = toml::to_string(&doc).unwrap();
        assert!(
            text.contains("rate = \"2/s\"") && text.contains("share = 0.25"),
            "{text}"
        );
        assert!(set(&mut doc, "classes[3].share", Value::Float(0.1)).is_err());
        let both: Table = toml::from_str("rate = \"5/s\"\nkind = \"constant\"").unwrap();
        set(&mut doc, "workload.arrival", Value::Table(both)).unwrap();
        let text = toml::to_string(&doc).unwrap();
        assert!(
            text.contains("kind = \"constant\"") && text.contains("rate = \"5/s\""),
            "{text}"
        );
    }
}
