//! The exporters: pure functions from a summary (or the report layer's own rows) to the bytes
//! of each output file, and `merge`, which puts shards back together.

use super::aggregate::aggregate;
use super::charts;
use super::rows::{RequestRow, WindowRow};
use super::summary::{MetricValue, Metrics, RunSummary, Summary};
use crate::error::RunError;

/// `summary.json`: `{"version", "capsim", "experiment", "seed", "runs": [...]}`, pretty-printed,
/// ending in a newline.
pub fn to_json(summary: &Summary) -> Result<Vec<u8>, RunError> {
    let mut bytes = serde_json::to_vec_pretty(summary).map_err(|e| RunError::Encode {
        format: "JSON",
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Formats a real number for CSV: shortest text that reads back to the same `f64`; empty when
/// undefined.
fn csv_real(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x}"),
        _ => String::new(),
    }
}

/// Whether an SLO was met, as a cell: `yes`, `no`, or empty without an SLO.
pub(crate) fn slo_text(met: Option<bool>) -> String {
    match met {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => String::new(),
    }
}

/// `summary.csv`: one row per run and class (`all`, then each class of a run with several);
/// columns `run`, `class`, `seed`, the parameters (sorted by key path),
/// then every metric in [`Metrics::entries`] order.
pub fn to_csv(summary: &Summary) -> Result<Vec<u8>, RunError> {
    let encode = |e: csv::Error| RunError::Encode {
        format: "CSV",
        message: e.to_string(),
    };
    let params = param_names(summary.runs.iter().map(|r| &r.params));
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec![
        "run".into(),
        "config".into(),
        "replication".into(),
        "class".into(),
        "seed".into(),
    ];
    header.extend(params.iter().map(|p| p.to_string()));
    header.push("verdict".into());
    header.push("slo_met".into());
    header.extend(Metrics::DOCS.iter().map(|(n, _)| n.to_string()));
    w.write_record(&header).map_err(encode)?;
    for run in &summary.runs {
        let mut row: Vec<String> = vec![
            run.index.to_string(),
            run.config.to_string(),
            run.replication.to_string(),
            run.class.clone(),
            run.seed.to_string(),
        ];
        for p in &params {
            row.push(param_text(run.params.get(*p)));
        }
        row.push(run.verdict.name().to_string());
        row.push(slo_text(run.slo_met));
        for (_, value) in run.metrics.entries() {
            row.push(match value {
                MetricValue::Count(c) => c.to_string(),
                MetricValue::Real(r) => csv_real(r),
            });
        }
        w.write_record(&row).map_err(encode)?;
    }
    w.into_inner().map_err(|e| RunError::Encode {
        format: "CSV",
        message: e.to_string(),
    })
}

/// `aggregate.csv` (with replications): one row per configuration and class; columns
/// `config`, `class`, the parameters, `replications`, then for every metric its mean and the
/// half-width of its 95 % confidence interval (`<metric>_ci95`).
pub fn aggregate_csv(summary: &Summary) -> Result<Vec<u8>, RunError> {
    let encode = |e: csv::Error| RunError::Encode {
        format: "CSV",
        message: e.to_string(),
    };
    let params = param_names(summary.aggregates.iter().map(|a| &a.params));
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["config".into(), "class".into()];
    header.extend(params.iter().map(|p| p.to_string()));
    header.push("replications".into());
    header.push("slo_met".into());
    for (n, _) in Metrics::DOCS {
        header.push(n.to_string());
        header.push(format!("{n}_ci95"));
    }
    w.write_record(&header).map_err(encode)?;
    for a in &summary.aggregates {
        let mut row = vec![a.config.to_string(), a.class.clone()];
        for p in &params {
            row.push(param_text(a.params.get(*p)));
        }
        row.push(a.replications.to_string());
        row.push(slo_text(a.slo_met));
        for (_, e) in &a.metrics {
            row.push(csv_real(e.mean));
            row.push(csv_real(e.ci95));
        }
        w.write_record(&row).map_err(encode)?;
    }
    w.into_inner().map_err(|e| RunError::Encode {
        format: "CSV",
        message: e.to_string(),
    })
}

/// `timeseries/<run>.csv`: one row per window: start, arrivals, each outcome, queue depth,
/// replicas by state, GPU utilisation and p99 latency of the window.
/// `outcome_names` labels the rows' outcome counts, in their order.
pub fn timeseries_csv(outcome_names: &[&str], rows: &[WindowRow]) -> Result<Vec<u8>, RunError> {
    let encode = |e: csv::Error| RunError::Encode {
        format: "CSV",
        message: e.to_string(),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["start_s".to_string(), "arrivals".to_string()];
    header.extend(outcome_names.iter().map(|o| o.to_string()));
    header.extend(
        [
            "queue_depth",
            "replicas_starting",
            "replicas_ready",
            "replicas_draining",
            "gpu_util",
            "p99_s",
            "prefix_hit_rate",
        ]
        .map(String::from),
    );
    w.write_record(&header).map_err(encode)?;
    for r in rows {
        let mut row = vec![csv_real(Some(r.start_s)), r.arrivals.to_string()];
        row.extend(r.outcomes.iter().map(u64::to_string));
        row.push(r.queue_depth.to_string());
        row.extend(r.replicas.iter().map(u32::to_string));
        row.push(csv_real(r.gpu_util));
        row.push(csv_real(r.p99_s));
        row.push(csv_real(r.prefix_hit_rate));
        w.write_record(&row).map_err(encode)?;
    }
    w.into_inner().map_err(|e| RunError::Encode {
        format: "CSV",
        message: e.to_string(),
    })
}

/// Puts the shards of one sweep (`capsim run --shard K/N`) back together: the result is the
/// summary a whole run writes, byte for byte once exported.
pub fn merge(mut shards: Vec<Summary>) -> Result<Summary, String> {
    let Some(first) = shards.first() else {
        return Err("nothing to merge".into());
    };
    let Some(plan) = first.shard else {
        return Err(
            "the first folder holds a whole run, not a shard (written without --shard)".into(),
        );
    };
    let same = |s: &Summary| {
        s.version == first.version
            && s.capsim == first.capsim
            && s.experiment == first.experiment
            && s.seed == first.seed
    };
    let mut seen = vec![false; plan.n];
    for s in &shards {
        // Two files may share a name and a seed; the hash of what they resolve to tells them
        // apart.
        if same(s) && s.experiment_hash != first.experiment_hash {
            let text = |h: &Option<String>| h.clone().unwrap_or_else(|| "no hash".into());
            return Err(format!(
                "shards of different experiments: both are \"{}\" with seed {}, but their experiment hashes differ ({} and {}): the files, or the catalogs they were run with, are not the same",
                first.experiment,
                first.seed,
                text(&first.experiment_hash),
                text(&s.experiment_hash)
            ));
        }
        if !same(s) {
            return Err(format!(
                "shards of different runs: \"{}\" seed {} (capsim {}) and \"{}\" seed {} (capsim {})",
                first.experiment, first.seed, first.capsim, s.experiment, s.seed, s.capsim
            ));
        }
        let Some(sh) = s.shard else {
            return Err("a folder holds a whole run, not a shard".into());
        };
        if sh.n != plan.n || sh.runs != plan.runs || sh.replications != plan.replications {
            return Err(format!(
                "shards split differently: {}/{} and {}/{}",
                plan.k, plan.n, sh.k, sh.n
            ));
        }
        if std::mem::replace(&mut seen[sh.k - 1], true) {
            return Err(format!("shard {}/{} is given twice", sh.k, sh.n));
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(format!("shard {}/{} is missing", missing + 1, plan.n));
    }
    let mut runs: Vec<RunSummary> = shards
        .iter_mut()
        .flat_map(|s| std::mem::take(&mut s.runs))
        .collect();
    // Stable: the rows of one run (all, then its classes) keep their order.
    runs.sort_by_key(|r| r.index);
    let mut indices: Vec<usize> = runs.iter().map(|r| r.index).collect();
    indices.dedup();
    if indices != (0..plan.runs).collect::<Vec<_>>() {
        return Err(format!(
            "the shards hold {} of the plan's {} runs",
            indices.len(),
            plan.runs
        ));
    }
    let aggregates = if plan.replications > 1 {
        aggregate(&runs, shards[0].slo.as_ref())
    } else {
        Vec::new()
    };
    let first = &shards[0];
    Ok(Summary {
        version: first.version,
        capsim: first.capsim.clone(),
        experiment: first.experiment.clone(),
        experiment_hash: first.experiment_hash.clone(),
        seed: first.seed,
        shard: None,
        axes: first.axes.clone(),
        slo: first.slo.clone(),
        runs,
        aggregates,
    })
}

/// `report.md`: the experiment, one row per run (its parameters and the headline metrics) and
/// the charts, readable on GitHub.
pub fn report_md(summary: &Summary, charts: &[charts::Chart]) -> String {
    let mut s = format!(
        "# {}\n\ncapsim {} · seed {} · {} runs\n\n",
        summary.experiment,
        summary.capsim,
        summary.seed,
        summary.runs.iter().filter(|r| r.class == "all").count()
    );
    for c in charts {
        s += &format!("![{}]({})\n\n", c.title, c.file);
    }
    let params = param_names(summary.runs.iter().map(|r| &r.params));
    let cols = [
        "arrived",
        "failed_rate",
        "timeout_rate",
        "unfinished",
        "latency_p50_s",
        "latency_p99_s",
        "latency_all_p99_s",
        "ttft_p99_s",
        "cost_per_1k_ok_usd",
    ];
    let slo = summary.slo.is_some();
    s += "| run | class |";
    for p in &params {
        s += &format!(" {p} |");
    }
    s += " verdict |";
    if slo {
        s += " SLO met |";
    }
    for c in cols {
        s += &format!(" {c} |");
    }
    s += "\n|";
    s += &" --- |".repeat(3 + usize::from(slo) + params.len() + cols.len());
    s += "\n";
    for r in &summary.runs {
        s += &format!("| {} | {} |", r.index, r.class);
        for p in &params {
            let v = param_text(r.params.get(*p));
            s += &format!(" {v} |");
        }
        s += &format!(" {} |", r.verdict.name());
        if slo {
            s += &format!(" {} |", slo_text(r.slo_met));
        }
        for c in cols {
            let v = match r.metrics.get(c) {
                Some(MetricValue::Count(n)) => n.to_string(),
                Some(MetricValue::Real(Some(x))) if c.ends_with("rate") => {
                    format!("{:.2} %", x * 100.0)
                }
                Some(MetricValue::Real(Some(x))) => format!("{x:.3}"),
                _ => "–".into(),
            };
            s += &format!(" {v} |");
        }
        s += "\n";
    }
    s
}

/// `requests/<run>.csv`: one row per counted request, in the order they ended: arrival time,
/// class, outcome, attempts, latency, time to first token (answered requests), tokens.
pub fn requests_csv(rows: &[RequestRow], classes: &[String]) -> Result<Vec<u8>, RunError> {
    let encode = |e: csv::Error| RunError::Encode {
        format: "CSV",
        message: e.to_string(),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "arrived_s",
        "class",
        "outcome",
        "attempts",
        "latency_s",
        "ttft_s",
        "prompt_tokens",
        "output_tokens",
    ])
    .map_err(encode)?;
    for r in rows {
        w.write_record([
            csv_real(Some(r.arrived_s)),
            classes
                .get(usize::from(r.class))
                .cloned()
                .unwrap_or_default(),
            r.outcome.to_string(),
            r.attempts.to_string(),
            csv_real(Some(r.latency_s)),
            csv_real(r.ttft_s),
            r.prompt.to_string(),
            r.output.to_string(),
        ])
        .map_err(encode)?;
    }
    w.into_inner().map_err(|e| RunError::Encode {
        format: "CSV",
        message: e.to_string(),
    })
}

/// Every parameter key of the given runs, sorted, once each.
pub(crate) fn param_names<'a>(
    params: impl Iterator<Item = &'a std::collections::BTreeMap<String, serde_json::Value>>,
) -> Vec<&'a String> {
    let mut names: Vec<&String> = params.flat_map(|p| p.keys()).collect();
    names.sort();
    names.dedup();
    names
}

/// A parameter's value as a table cell: strings as written, other values as JSON; empty when
/// the run does not have it.
pub(crate) fn param_text(v: Option<&serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}
