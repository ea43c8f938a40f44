//! The readable summary printed by `capsim run`: one column per run, one line per metric.

use super::summary::{MetricValue, Summary};

/// Formats a metric for people: counts as integers, rates as percentages, seconds with four
/// significant digits.
fn human(name: &str, v: MetricValue) -> String {
    match v {
        MetricValue::Count(c) => c.to_string(),
        MetricValue::Real(None) => "-".to_string(),
        MetricValue::Real(Some(x))
            if name.ends_with("_rate") || name == "wait_prob" || name == "utilization" =>
        {
            format!("{:.2}%", x * 100.0)
        }
        MetricValue::Real(Some(0.0)) => "0".to_string(),
        MetricValue::Real(Some(x)) if x.abs() >= 1e5 || x.abs() < 1e-3 => format!("{x:.3e}"),
        MetricValue::Real(Some(x)) => {
            let digits = (3 - x.abs().log10().floor() as i32).max(0) as usize;
            format!("{x:.digits$}")
        }
    }
}

/// Lays out rows as columns: the first left-aligned, the others right-aligned, two spaces apart.
pub fn layout(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == 0 {
                line.push_str(&format!("{cell:<w$}", w = widths[c]));
            } else {
                line.push_str(&format!("  {cell:>w$}", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A parameter's cell: its value, or `-` for a run without it.
fn cell(v: Option<&serde_json::Value>) -> String {
    v.map_or_else(|| "-".to_string(), |v| super::export::param_text(Some(v)))
}

/// Whether a row meets the SLO, as the table prints it.
fn slo_cell(met: Option<bool>) -> String {
    match met {
        Some(true) => "met".into(),
        Some(false) => "missed".into(),
        None => "-".into(),
    }
}

/// Runs beyond which the table turns: one line per run with the headline metrics.
const WIDE: usize = 6;

/// One line per run and class: its parameters and the metrics most read.
fn long(summary: &Summary) -> String {
    let params = super::export::param_names(summary.runs.iter().map(|r| &r.params));
    let cols = [
        "arrived",
        "failed_rate",
        "timeout_rate",
        "latency_p50_s",
        "latency_p99_s",
        "cost_per_1k_ok_usd",
    ];
    let slo = summary.slo.is_some();
    let mut head: Vec<String> = vec!["run".into(), "class".into()];
    head.extend(params.iter().map(|p| p.to_string()));
    head.push("verdict".into());
    if slo {
        head.push("slo".into());
    }
    head.extend(cols.iter().map(|c| c.to_string()));
    let mut rows = vec![head];
    for r in &summary.runs {
        let mut row = vec![r.index.to_string(), r.class.clone()];
        row.extend(params.iter().map(|p| cell(r.params.get(*p))));
        row.push(r.verdict.name().to_string());
        if slo {
            row.push(slo_cell(r.slo_met));
        }
        row.extend(cols.iter().map(|c| {
            r.metrics
                .get(c)
                .map_or_else(|| "-".to_string(), |v| human(c, v))
        }));
        rows.push(row);
    }
    layout(&rows)
}

/// Runs with fewer measured requests than this get a warning: a failure share of 1 % rests on
/// fewer than ten failures below it.
pub const FEW_REQUESTS: u64 = 1000;

/// Warnings about the runs' figures that the table cannot show: runs that measured too few
/// requests for their shares and percentiles to mean much.
pub fn warnings(summary: &Summary) -> Vec<String> {
    let small: Vec<(usize, u64)> = summary
        .runs
        .iter()
        .filter(|r| r.class == "all" && r.metrics.arrived < FEW_REQUESTS)
        .map(|r| (r.index, r.metrics.arrived))
        .collect();
    let Some(&(first, n)) = small.first() else {
        return Vec::new();
    };
    let which = if small.len() == 1 {
        format!("run {first} measured only {n} requests")
    } else {
        format!(
            "{} runs measured fewer than {FEW_REQUESTS} requests (run {first}: {n})",
            small.len()
        )
    };
    let floor = if n > 0 {
        format!(
            "a share below 1/{n} ({:.2} %) cannot be told from zero",
            100.0 / n as f64
        )
    } else {
        "nothing was measured".to_string()
    };
    vec![format!(
        "{which}: {floor} and its p99 rests on a handful of requests; lengthen `duration` or add `replications` for an interval"
    )]
}

/// Renders the table as text.
pub fn render(summary: &Summary) -> String {
    let runs = summary.runs.iter().filter(|r| r.class == "all").count();
    let mut out = format!(
        "capsim {} | experiment \"{}\" | seed {} | {} run{}\n\n",
        summary.capsim,
        summary.experiment,
        summary.seed,
        runs,
        if runs == 1 { "" } else { "s" }
    );
    if summary.runs.len() > WIDE {
        out.push_str(&long(summary));
        return out;
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut head = vec!["metric".to_string()];
    head.extend(summary.runs.iter().map(|r| {
        if r.class == "all" {
            format!("run {}", r.index)
        } else {
            format!("run {} {}", r.index, r.class)
        }
    }));
    rows.push(head);
    for p in super::export::param_names(summary.runs.iter().map(|r| &r.params)) {
        let mut row = vec![p.clone()];
        row.extend(summary.runs.iter().map(|r| cell(r.params.get(p))));
        rows.push(row);
    }
    let mut verdicts = vec!["verdict".to_string()];
    verdicts.extend(summary.runs.iter().map(|r| r.verdict.name().to_string()));
    rows.push(verdicts);
    if summary.slo.is_some() {
        let mut met = vec!["slo".to_string()];
        met.extend(summary.runs.iter().map(|r| slo_cell(r.slo_met)));
        rows.push(met);
    }
    if let Some(first) = summary.runs.first() {
        for (i, (name, _)) in first.metrics.entries().iter().enumerate() {
            // A metric no run has (e.g. cost without a price) is left out of the table.
            let defined = summary.runs.iter().any(|r| {
                !matches!(
                    r.metrics.entries()[i].1,
                    crate::report::MetricValue::Real(None)
                )
            });
            if !defined {
                continue;
            }
            let mut row = vec![name.to_string()];
            row.extend(
                summary
                    .runs
                    .iter()
                    .map(|r| human(name, r.metrics.entries()[i].1)),
            );
            rows.push(row);
        }
    }
    out.push_str(&layout(&rows));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shown_for_people() {
        assert_eq!(
            human("timeout_rate", MetricValue::Real(Some(0.1234))),
            "12.34%"
        );
        assert_eq!(
            human("latency_p99_s", MetricValue::Real(Some(1.23456))),
            "1.235"
        );
        assert_eq!(
            human("latency_p99_s", MetricValue::Real(Some(123.456))),
            "123.5"
        );
        assert_eq!(human("latency_p99_s", MetricValue::Real(None)), "-");
        assert_eq!(human("ok", MetricValue::Count(42)), "42");
        assert_eq!(human("window_s", MetricValue::Real(Some(1e7))), "1.000e7");
    }
}
