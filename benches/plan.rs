//! The planner's bench: `capsim plan` on the shipped wide search (11,200 candidates, 1 to 16
//! replicas each, a one-hour Llama-2-7B chat workload at 20 requests/s). The acceptance bound is
//! one search in under 60 s on a 2-core machine; criterion reports the time per search, and the
//! bench prints how many simulations one search runs.
//!
//! `cargo bench --bench plan`.

use std::path::Path;

use capsim::experiment::catalog::Catalog;
use capsim::runner::plan::{PlanOptions, plan};
use criterion::{Criterion, criterion_group, criterion_main};

fn wide_search(c: &mut Criterion) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/plans/llama2-7b-wide-search.toml");
    let file = capsim::experiment::plan::load(&path).expect("the shipped plan is valid");
    let catalog = Catalog::builtin().expect("the built-in catalog loads");
    let once = plan(&file, catalog, 7, &PlanOptions::default()).expect("the plan runs");
    eprintln!(
        "plan: {} candidates, {} points, {} simulations per search",
        once.report.candidates.len(),
        once.report.points,
        once.report.simulations_run
    );
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    // One search takes seconds; ten of them fit in this budget without a warning.
    group.measurement_time(std::time::Duration::from_secs(60));
    group.bench_function("wide_search_11200_candidates", |b| {
        b.iter(|| plan(&file, catalog, 7, &PlanOptions::default()).expect("the plan runs"))
    });
    group.finish();
}

criterion_group!(benches, wide_search);
criterion_main!(benches);
