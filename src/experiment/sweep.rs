//! `[sweep]`: axes over any key of the experiment file, expanded into configurations.
//!
//! ```toml
//! [sweep]
//! mode = "cartesian"            # or "zip": the axes advance together
//! replications = 5              # runs per configuration, each with its own seed
//! max-runs = 10000              # configurations × replications at most
//! endpoint.gpu = ["t4", "a10g"]
//! workload.arrival.rate = { from = "1/s", to = "20/s", step = "1/s" }
//! workload.arrival = [{ kind = "poisson", rate = "2/s" }, { kind = "constant", rate = "2/s" }]
//! endpoint = { merge = [{ gpu = "t4", quantization = "int8" }, { gpu = "a10g" }] }
//! client.deadline = ["300s", { unset = true }]
//! "classes[0].share" = [0.1, 0.2]
//! ```
//!
//! Expansion works on the parsed document: each configuration is the file's value tree with the
//! axis values written in (a table value replaces the table; `{ merge = [...] }` writes only the
//! keys it names; `{ unset = true }` removes the key), handed straight to the typed reading and
//! validation, so a swept value gets the same checks as a written one.

use std::path::Path;

use toml::{Table, Value};

use super::units::{parse_duration, parse_rate};
use crate::error::ConfigError;

/// Default and hard cap on the number of runs a sweep may plan.
pub const MAX_RUNS: u64 = 100_000;

/// What a swept key means to the charts, decided here where the key is known.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// The offered load: an arrival rate, a trace speed-up or a number of users.
    Load,
    /// A limit: a timeout, a deadline, a `max-*` cap or a queue capacity.
    Limit,
    /// Any other setting (a GPU, a policy, a number of servers).
    Choice,
}

/// One segment of a key path: a key, or an index into a list of tables.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// What one axis value does to its key.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// Writes the value, replacing what the file has (a table replaces the whole table).
    Set(Value),
    /// Writes only the keys of the table (nested tables merged too), keeping the others.
    Merge(Table),
    /// Removes the key, as if the file did not set it.
    Unset,
}

/// One axis: a key path and the values it takes, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Key path in the file, e.g. `workload.arrival.rate` or `classes[0].share`.
    pub key: String,
    /// The key path parsed into steps.
    steps: Vec<Step>,
    /// The line of the axis in the `[sweep]` section, where known.
    pub line: Option<usize>,
    /// What the key means to the charts.
    pub role: Role,
    /// The values, in order.
    pub values: Vec<Edit>,
}

/// The value of one axis in one configuration, as the outputs show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Swept {
    /// The key path.
    pub key: String,
    /// What the key means.
    pub role: Role,
    /// The value as a label: strings as written, tables as `key=value` pairs, `unset`.
    pub written: String,
    /// The value as a number in the unit below (a rate per second, a duration in seconds, a
    /// plain number), if it is one.
    pub number: Option<f64>,
    /// `"/s"` for a rate, `"s"` for a duration; `None` for a plain number or a non-number.
    pub unit: Option<&'static str>,
    /// The value as the summary's `params` record it: numbers as numbers, else the label.
    pub json: serde_json::Value,
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
    /// The configurations: for each, the index of its value on every axis (in axis order).
    pub fn configurations(&self) -> Vec<Vec<usize>> {
        if self.axes.is_empty() {
            return vec![Vec::new()];
        }
        if self.zip {
            let n = self.axes[0].values.len();
            return (0..n).map(|i| vec![i; self.axes.len()]).collect();
        }
        cartesian(&self.axes.iter().map(|a| a.values.len()).collect::<Vec<_>>())
    }
}

/// Every combination of one index per axis, for axes of `lens` values: the first axis varies
/// slowest, as in nested loops written in file order.
pub fn cartesian(lens: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new()];
    for &n in lens {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                (0..n).map(move |i| {
                    let mut c = prefix.clone();
                    c.push(i);
                    c
                })
            })
            .collect();
    }
    out
}

fn err(path: &Path, src: &str, key: &str, message: impl Into<String>) -> ConfigError {
    let e = ConfigError::new(path, message).at_key(key);
    match super::locate::locate(src, key) {
        Some((line, _)) => e.at_line(line, None),
        None => e,
    }
}

/// An error at an axis, on the axis's own line.
fn at_line(e: ConfigError, line: Option<usize>) -> ConfigError {
    match line {
        Some(l) => e.at_line(l, None),
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

/// Keys that cannot vary between the runs of one sweep, and why.
fn fixed(key: &str) -> Option<(&'static str, &'static str)> {
    let top = key.split(['.', '[']).next().unwrap_or(key);
    match top {
        "seed" => Some((
            "the seed cannot be swept: every run's seed comes from the one master seed",
            "use `replications = N` in [sweep] for runs with different seeds, or `capsim run --seed N`",
        )),
        "name" => Some((
            "the name cannot be swept: it names the whole experiment, one for all its runs",
            "remove it from [sweep]; the swept values already label each run",
        )),
        "sweep" => Some((
            "a sweep's own settings cannot be swept",
            "write `mode`, `replications` and `max-runs` once, at the top of [sweep]",
        )),
        _ => None,
    }
}

/// Parses a key path such as `classes[0].share` into steps.
fn steps(key: &str) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    for part in key.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(b) => (&part[..b], &part[b..]),
            None => (part, ""),
        };
        if name.is_empty() {
            return Err(format!("`{part}` is not a key or key[index]"));
        }
        out.push(Step::Key(name.to_string()));
        while !rest.is_empty() {
            let index = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .and_then(|(i, after)| Some((i.parse::<usize>().ok()?, after)));
            let Some((i, after)) = index else {
                return Err(format!("`{part}` is not a key or key[index]"));
            };
            out.push(Step::Index(i));
            rest = after;
        }
    }
    Ok(out)
}

/// The role of a key, from where it sits in the file.
fn role(steps: &[Step]) -> Role {
    let names: Vec<&str> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) => None,
        })
        .collect();
    match names.as_slice() {
        [.., "arrival", "rate" | "speed"] | [.., "users", "count"] => Role::Load,
        [.., last]
            if last.ends_with("timeout")
                || *last == "deadline"
                || last.starts_with("max-")
                || *last == "queue-capacity" =>
        {
            Role::Limit
        }
        _ => Role::Choice,
    }
}

/// One axis value as written in a list: `{ unset = true }` removes the key, anything else is
/// written as it is.
fn edit(v: &Value) -> Edit {
    match v {
        Value::Table(t) if t.len() == 1 && t.get("unset") == Some(&Value::Boolean(true)) => {
            Edit::Unset
        }
        other => Edit::Set(other.clone()),
    }
}

/// Collects axes from a (possibly nested) table of the sweep section; `chain` holds the
/// literal keys above it (for finding lines), `prefix` the key path.
fn collect(
    path: &Path,
    src: &str,
    chain: &[&str],
    own: &[&str],
    t: &Table,
    out: &mut Vec<Axis>,
) -> Result<(), ConfigError> {
    let section = chain[0];
    for (k, v) in t {
        let mut here: Vec<&str> = chain.to_vec();
        here.push(k);
        let key = here[1..].join(".");
        if chain.len() == 1 && own.contains(&k.as_str()) {
            continue;
        }
        let line = super::locate::locate_keys(src, &here).map(|(l, _)| l);
        let fail = |message: String| {
            at_line(
                ConfigError::new(path, message).at_key(format!("{section}.{key}")),
                line,
            )
        };
        let nested = matches!(v, Value::Table(t)
            if !(t.contains_key("from") || t.contains_key("to") || t.contains_key("merge")));
        if let Some((message, hint)) = fixed(&key).filter(|_| !nested) {
            return Err(fail(message.to_string()).with_hint(hint));
        }
        let values = match v {
            Value::Array(values) => values.iter().map(edit).collect(),
            Value::Table(inner) if inner.contains_key("from") || inner.contains_key("to") => {
                range(path, src, &format!("{section}.{key}"), inner)?
                    .into_iter()
                    .map(Edit::Set)
                    .collect()
            }
            Value::Table(inner) if inner.contains_key("merge") => {
                // TOML cannot extend an inline table, so `endpoint = { merge = [...] }` cannot
                // sit beside `endpoint.scaling.min-replicas = [...]`; written as
                // `endpoint.merge = [...]` it can, and the keys beside `merge` are axes too.
                let rest: Table = inner
                    .iter()
                    .filter(|(k, _)| k.as_str() != "merge")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                collect(path, src, &here, own, &rest, out)?;
                let Some(Value::Array(items)) = inner.get("merge") else {
                    return Err(fail(
                        "a merge axis is `{ merge = [ { ... }, ... ] }`: a list of tables".into(),
                    )
                    .with_hint(format!(
                        "e.g. {key} = {{ merge = [{{ gpu = \"t4\" }}, {{ gpu = \"a10g\" }}] }}"
                    )));
                };
                let mut values = Vec::new();
                for item in items {
                    let Value::Table(t) = item else {
                        return Err(fail(format!(
                            "a merge axis takes tables, whose keys are written over the file's; found {item}"
                        ))
                        .with_hint(format!("to set `{key}` to plain values, write {key} = [{item}, ...]")));
                    };
                    values.push(Edit::Merge(t.clone()));
                }
                values
            }
            Value::Table(inner) => {
                collect(path, src, &here, own, inner, out)?;
                continue;
            }
            other => {
                return Err(fail(format!(
                    "an axis is a list of values or a range; found {other}"
                ))
                .with_hint(format!("e.g. {key} = [{other}, ...]")));
            }
        };
        if values.is_empty() {
            return Err(fail("an axis needs at least one value".into()));
        }
        let steps = steps(&key).map_err(|m| {
            fail(m).with_hint("index a list of tables like this: \"classes[0].share\" = [0.1, 0.2]")
        })?;
        out.push(Axis {
            key,
            role: role(&steps),
            steps,
            line,
            values,
        });
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
    let axes = axes_of(path, src, "sweep", &["mode", "replications", "max-runs"], t)?;
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

/// The axes of section `section` (table `t`) of the file at `path`, in file order: every key
/// but the section's `own` settings. `[sweep]` and a plan's `[search]` write axes alike.
pub fn axes_of(
    path: &Path,
    src: &str,
    section: &str,
    own: &[&str],
    t: &Table,
) -> Result<Vec<Axis>, ConfigError> {
    let mut axes = Vec::new();
    collect(path, src, &[section], own, t, &mut axes)?;
    // File order, not the table's alphabetical order (stable for axes on one line).
    axes.sort_by_key(|a| a.line.unwrap_or(usize::MAX));
    Ok(axes)
}

/// Writes one axis value into the document `doc`.
pub fn apply(doc: &mut Table, axis: &Axis, edit: &Edit) -> Result<(), String> {
    let mut table = doc;
    let n = axis.steps.len();
    let mut i = 0;
    while i < n {
        let Step::Key(name) = &axis.steps[i] else {
            return Err("a key path starts with a key".into());
        };
        let index = match axis.steps.get(i + 1) {
            Some(Step::Index(idx)) => Some(*idx),
            _ => None,
        };
        let last = i + 1 + usize::from(index.is_some()) == n;
        match index {
            None if last => {
                match edit {
                    Edit::Set(v) => {
                        table.insert(name.clone(), v.clone());
                    }
                    Edit::Merge(values) => {
                        let target = table
                            .entry(name.clone())
                            .or_insert_with(|| Value::Table(Table::new()));
                        let Value::Table(target) = target else {
                            return Err(format!(
                                "`{name}` is a value, not a table, so there is nothing to merge into"
                            ));
                        };
                        merge(target, values);
                    }
                    Edit::Unset => {
                        if table.remove(name).is_none() {
                            return Err(format!(
                                "nothing to unset: the file does not set `{}`",
                                axis.key
                            ));
                        }
                    }
                }
                return Ok(());
            }
            None => {
                let entry = table
                    .entry(name.clone())
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
                    match (edit, item) {
                        (Edit::Set(v), item) => *item = v.clone(),
                        (Edit::Merge(values), Value::Table(target)) => merge(target, values),
                        (Edit::Merge(_), _) => {
                            return Err(format!("`{name}[{idx}]` is a value, not a table"));
                        }
                        (Edit::Unset, _) => {
                            return Err(format!(
                                "`{name}[{idx}]` is a list entry; it can be replaced, not unset"
                            ));
                        }
                    }
                    return Ok(());
                }
                table = match item {
                    Value::Table(t) => t,
                    _ => return Err(format!("`{name}[{idx}]` is a value, not a table")),
                };
                i += 1;
            }
        }
        i += 1;
    }
    Ok(())
}

/// The keys of the file's table at the axis that writing `edit` drops: a table value replaces
/// the table, and a user who meant to change only some keys needs to hear which went.
pub fn dropped(doc: &Table, axis: &Axis, edit: &Edit) -> Vec<String> {
    let Edit::Set(Value::Table(new)) = edit else {
        return Vec::new();
    };
    let mut value: Option<&Value> = None;
    let mut table = Some(doc);
    for step in &axis.steps {
        value = match step {
            Step::Key(k) => table.and_then(|t| t.get(k)),
            Step::Index(i) => value.and_then(Value::as_array).and_then(|a| a.get(*i)),
        };
        table = value.and_then(Value::as_table);
    }
    match value {
        Some(Value::Table(old)) => old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

/// Writes the keys of `values` over `target`, merging tables into tables.
fn merge(target: &mut Table, values: &Table) {
    for (k, v) in values {
        match (target.get_mut(k), v) {
            (Some(Value::Table(t)), Value::Table(inner)) => merge(t, inner),
            _ => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A value as a label: strings without quotes, tables as `key=value` pairs.
fn label(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Table(t) => t
            .iter()
            .map(|(k, v)| match v {
                Value::Table(_) => format!("{k}={{{}}}", label(v)),
                _ => format!("{k}={}", label(v)),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

impl Axis {
    /// Value `i` of this axis as the outputs show it.
    pub fn swept(&self, i: usize) -> Swept {
        let (written, number, unit, json) = match &self.values[i] {
            Edit::Unset => ("unset".to_string(), None, None, None),
            Edit::Merge(t) => (label(&Value::Table(t.clone())), None, None, None),
            Edit::Set(v) => match v {
                Value::Integer(n) => (
                    n.to_string(),
                    Some(*n as f64),
                    None,
                    Some(serde_json::Value::from(*n)),
                ),
                Value::Float(f) => (
                    v.to_string(),
                    Some(*f),
                    None,
                    Some(serde_json::Value::from(*f)),
                ),
                Value::Boolean(b) => (b.to_string(), None, None, Some(serde_json::Value::Bool(*b))),
                Value::String(s) => {
                    // Rates per second and durations in seconds, so charts need no units.
                    let (number, unit) = if let Ok(r) = parse_rate(s) {
                        (Some(r), Some("/s"))
                    } else if let Ok(d) = parse_duration(s) {
                        (Some(d.as_secs_f64()), Some("s"))
                    } else {
                        (None, None)
                    };
                    (s.clone(), number, unit, None)
                }
                other => (label(other), None, None, None),
            },
        };
        Swept {
            key: self.key.clone(),
            role: self.role,
            json: json.unwrap_or_else(|| serde_json::Value::String(written.clone())),
            written,
            number,
            unit,
        }
    }
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

    fn written(a: &Axis) -> Vec<String> {
        (0..a.values.len()).map(|i| a.swept(i).written).collect()
    }

    #[test]
    fn a_merge_written_as_a_dotted_key_leaves_room_for_axes_beside_it() {
        let s = spec(
            "endpoint.merge = [{ gpu = \"t4\" }, { gpu = \"l4\" }]\nendpoint.engine.max-num-seqs = [64, 128]",
        )
        .unwrap();
        let keys: Vec<&str> = s.axes.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["endpoint", "endpoint.engine.max-num-seqs"]);
        assert!(matches!(s.axes[0].values[1], Edit::Merge(_)));
        assert_eq!(s.configurations().len(), 4);
    }

    #[test]
    fn ranges_expand_with_their_unit_and_without_float_noise() {
        let s =
            spec("workload.arrival.rate = { from = \"0.5/s\", to = \"1.2/s\", step = \"0.1/s\" }")
                .unwrap();
        assert_eq!(
            written(&s.axes[0]),
            [
                "0.5/s", "0.6/s", "0.7/s", "0.8/s", "0.9/s", "1/s", "1.1/s", "1.2/s"
            ]
        );
        let n = spec("endpoint.replicas = { from = 1, to = 4, step = 1 }").unwrap();
        assert_eq!(
            n.axes[0].values,
            (1..=4)
                .map(|i| Edit::Set(Value::Integer(i)))
                .collect::<Vec<_>>()
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
        assert_eq!(c[1], [0, 1]);
        assert_eq!(s.axes[1].swept(c[1][1]).written, "300s");
        assert_eq!(s.axes[0].swept(c[3][0]).written, "a10g");
        let z = spec("mode = \"zip\"\nendpoint.gpu = [\"t4\", \"a10g\"]\nendpoint.quantization = [\"int8\", \"fp16\"]").unwrap();
        assert_eq!(z.configurations(), [[0, 0], [1, 1]]);
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

    fn doc() -> Table {
        toml::from_str("[workload]\narrival = { kind = \"lognormal\", median = \"1s\", p99 = \"5s\" }\n[endpoint]\ngpu = \"t4\"\nmodel = \"m\"\n[[classes]]\nshare = 0.5\n").unwrap()
    }

    fn axis(text: &str) -> Axis {
        spec(text).unwrap().axes.remove(0)
    }

    #[test]
    fn a_table_value_replaces_the_table_and_a_merge_keeps_the_other_keys() {
        let mut d = doc();
        let a = axis("workload.arrival = [{ kind = \"poisson\", rate = \"2/s\" }]");
        apply(&mut d, &a, &a.values[0]).unwrap();
        let arrival = d["workload"]["arrival"].as_table().unwrap();
        assert_eq!(arrival.keys().collect::<Vec<_>>(), ["kind", "rate"]);
        let m = axis("endpoint = { merge = [{ gpu = \"a10g\", quantization = \"fp16\" }] }");
        apply(&mut d, &m, &m.values[0]).unwrap();
        assert_eq!(d["endpoint"]["gpu"].as_str(), Some("a10g"));
        assert_eq!(d["endpoint"]["model"].as_str(), Some("m"));
        assert_eq!(m.swept(0).written, "gpu=a10g quantization=fp16");
        assert!(
            spec("endpoint = { merge = [\"t4\"] }")
                .unwrap_err()
                .to_string()
                .contains("a merge axis takes tables")
        );
    }

    #[test]
    fn unset_removes_a_key_and_refuses_one_the_file_does_not_set() {
        let mut d = doc();
        let a = axis("endpoint.model = [\"m2\", { unset = true }]");
        assert_eq!(a.values[1], Edit::Unset);
        assert_eq!(a.swept(1).written, "unset");
        apply(&mut d, &a, &a.values[1]).unwrap();
        assert!(!d["endpoint"].as_table().unwrap().contains_key("model"));
        let e = apply(&mut d, &a, &a.values[1]).unwrap_err();
        assert_eq!(
            e,
            "nothing to unset: the file does not set `endpoint.model`"
        );
    }

    #[test]
    fn quoted_keys_with_an_index_reach_list_entries() {
        let mut d = doc();
        for text in [
            "\"classes[0].share\" = [0.25]",
            "\"classes[0]\".share = [0.25]",
        ] {
            let a = axis(text);
            assert_eq!(a.key, "classes[0].share");
            assert_eq!(a.line, Some(2), "{text}");
            apply(&mut d, &a, &a.values[0]).unwrap();
            assert_eq!(d["classes"][0]["share"].as_float(), Some(0.25));
        }
        let out = axis("\"classes[3].share\" = [0.1]");
        assert!(apply(&mut d, &out, &out.values[0]).is_err());
        let bad = spec("\"classes[x].share\" = [0.1]").unwrap_err();
        assert!(
            bad.to_string().contains("is not a key or key[index]"),
            "{bad}"
        );
    }

    #[test]
    fn keys_that_cannot_vary_are_refused_on_their_line() {
        for (text, words) in [
            ("seed = [1, 2]", "the seed cannot be swept"),
            ("name = [\"a\", \"b\"]", "the name cannot be swept"),
            ("sweep.max-runs = [10, 20]", "own settings cannot be swept"),
        ] {
            let e = spec(&format!("mode = \"cartesian\"\n{text}")).unwrap_err();
            assert!(e.to_string().starts_with("s.toml:3: `sweep."), "{e}");
            assert!(e.message.contains(words), "{e}");
            assert!(e.hint.is_some());
        }
    }

    #[test]
    fn values_carry_numbers_in_base_units_and_keys_their_role() {
        let rate = axis("workload.arrival.rate = [\"180/min\"]");
        let v = rate.swept(0);
        assert_eq!(
            (rate.role, v.number, v.unit),
            (Role::Load, Some(3.0), Some("/s"))
        );
        assert_eq!(v.json, serde_json::json!("180/min"));
        let t = axis("client.read-timeout = [\"2m\"]");
        let v = t.swept(0);
        assert_eq!(
            (t.role, v.number, v.unit),
            (Role::Limit, Some(120.0), Some("s"))
        );
        let n = axis("endpoint.replicas = [4]");
        let v = n.swept(0);
        assert_eq!((n.role, v.number, v.unit), (Role::Choice, Some(4.0), None));
        assert_eq!(v.json, serde_json::json!(4));
        assert_eq!(axis("workload.users.count = [8]").role, Role::Load);
        assert_eq!(
            axis("endpoint.max-concurrent-requests = [8]").role,
            Role::Limit
        );
        assert_eq!(axis("endpoint.gpu = [\"t4\"]").swept(0).number, None);
    }
}
