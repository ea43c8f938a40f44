//! Output: pure functions from a [`Summary`] to bytes. Writing files is the caller's job.

pub mod aggregate;
pub mod charts;
pub mod export;
pub mod plan;
pub mod results_dir;
pub mod rows;
pub mod summary;
pub mod table;

pub use aggregate::aggregate;
pub use export::{aggregate_csv, merge, report_md, requests_csv, timeseries_csv, to_csv, to_json};
pub use results_dir::{PartialHeader, ResultsDir};
pub use rows::{RequestRow, WindowRow};
pub use summary::{
    Aggregate, AxisRole, AxisValue, Estimate, FORMAT_VERSION, METRIC_COUNT, MetricValue, Metrics,
    RunSummary, Shard, SloSpec, SloTarget, Summary, SweepAxis, Verdict,
};
