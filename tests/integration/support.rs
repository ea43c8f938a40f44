//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use capsim::experiment::{self, Experiment};
use capsim::report::{MetricValue, Metrics};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parses experiment text as if it came from `test.toml` in the repository root.
pub fn parse(src: &str) -> Experiment {
    match experiment::parse(src, &root().join("test.toml")) {
        Ok(e) => e,
        Err(e) => panic!("test experiment does not parse:\n{e}\n---\n{src}"),
    }
}

/// Runs experiment text with `seed` and returns the metrics of its single run.
pub fn run(src: &str, seed: u64) -> Metrics {
    let exp = parse(src);
    let summary = capsim::runner::run(&exp, seed, Default::default()).expect("run succeeds");
    summary.runs.into_iter().next().expect("one run").metrics
}

/// A real-valued metric that must be defined.
pub fn real(m: &Metrics, name: &str) -> f64 {
    match m.get(name) {
        Some(MetricValue::Real(Some(x))) => x,
        Some(MetricValue::Count(c)) => c as f64,
        other => panic!("metric {name} is {other:?}"),
    }
}

/// Asserts `actual` is within `tolerance` (relative) of `expected`.
#[track_caller]
pub fn assert_close(what: &str, actual: f64, expected: f64, tolerance: f64) {
    let rel = (actual - expected).abs() / expected.abs();
    assert!(
        rel <= tolerance,
        "{what}: simulated {actual:.6}, exact {expected:.6}, relative error {:.3}% > {:.1}%",
        rel * 100.0,
        tolerance * 100.0
    );
}

/// The path of the compiled `capsim` binary, for CLI tests.
pub fn capsim() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("capsim").expect("the capsim binary is built")
}

/// Writes `text` to `name` inside `dir` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// Runs experiment text through the serving model directly, to see its internal statistics.
pub fn serve(
    src: &str,
    seed: u64,
) -> (
    capsim::domain::RunStats,
    capsim::domain::serving::ServingStats,
) {
    let exp = capsim::experiment::parse(src, Path::new("serving.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{src}"));
    let capsim::domain::Service::Llm(svc) = &exp.scenario.service else {
        panic!("not an LLM endpoint")
    };
    let (stats, serving, _) = capsim::domain::run::simulate_llm(&exp.scenario, svc, seed);
    (stats, serving)
}

/// Like [`serve`], with the clients' statistics too (per class, breaker log, ...).
pub fn serve_clients(
    src: &str,
    seed: u64,
) -> (
    capsim::domain::RunStats,
    capsim::domain::serving::ServingStats,
    capsim::domain::serving::ClientOutput,
) {
    let exp = capsim::experiment::parse(src, Path::new("serving.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{src}"));
    let capsim::domain::Service::Llm(svc) = &exp.scenario.service else {
        panic!("not an LLM endpoint")
    };
    capsim::domain::run::simulate_llm(&exp.scenario, svc, seed)
}

/// Runs experiment text with `seed` and returns every summary row (`all`, then each class).
pub fn run_rows(src: &str, seed: u64) -> Vec<capsim::report::RunSummary> {
    let exp = parse(src);
    capsim::runner::run(&exp, seed, Default::default())
        .expect("run succeeds")
        .runs
}
