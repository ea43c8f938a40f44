//! Output: pure functions from a [`Summary`] to bytes. Writing files is the caller's job.

pub mod catalog;
pub mod explain;
pub mod summary;
pub mod table;

use crate::error::RunError;
pub use summary::{FORMAT_VERSION, MetricValue, Metrics, RunSummary, Summary};

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

/// `summary.csv`: one row per run; columns `run`, `seed`, the parameters (sorted by key path),
/// then every metric in [`Metrics::entries`] order.
pub fn to_csv(summary: &Summary) -> Result<Vec<u8>, RunError> {
    let encode = |e: csv::Error| RunError::Encode {
        format: "CSV",
        message: e.to_string(),
    };
    let mut params: Vec<&String> = summary.runs.iter().flat_map(|r| r.params.keys()).collect();
    params.sort();
    params.dedup();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["run".into(), "seed".into()];
    header.extend(params.iter().map(|p| p.to_string()));
    header.extend(Metrics::DOCS.iter().map(|(n, _)| n.to_string()));
    w.write_record(&header).map_err(encode)?;
    for run in &summary.runs {
        let mut row: Vec<String> = vec![run.index.to_string(), run.seed.to_string()];
        for p in &params {
            row.push(match run.params.get(*p) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            });
        }
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
