//! Every shipped experiment loads, and the queueing examples meet their exact figures.

use std::path::PathBuf;

use capsim::experiment;

use crate::support::{assert_close, real, root};

/// Every experiment file (`*.toml` under `experiments/`, plans left out), sorted.
pub fn shipped() -> Vec<PathBuf> {
    all_toml()
        .into_iter()
        .filter(|p| !p.starts_with(root().join("experiments/plans")))
        .collect()
}

/// Every plan file (`experiments/plans/*.toml`), sorted.
pub fn shipped_plans() -> Vec<PathBuf> {
    all_toml()
        .into_iter()
        .filter(|p| p.starts_with(root().join("experiments/plans")))
        .collect()
}

/// Every `*.toml` under `experiments/`, sorted.
fn all_toml() -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("experiments"), &mut files);
    files.sort();
    files
}

#[test]
fn every_shipped_experiment_loads_and_has_a_seed() {
    let files = shipped();
    assert!(files.len() >= 2);
    for f in files {
        let exp = experiment::load(&f).unwrap_or_else(|e| panic!("{e}"));
        assert!(exp.seed.is_some(), "{} has no seed", f.display());
    }
}

#[test]
fn every_shipped_plan_loads_with_a_seed_and_valid_candidates() {
    let plans = shipped_plans();
    assert!(plans.len() >= 3, "{plans:?}");
    let catalog = capsim::experiment::catalog::Catalog::builtin().unwrap();
    for f in plans {
        let plan = capsim::experiment::plan::load(&f).unwrap_or_else(|e| panic!("{e}"));
        assert!(plan.seed.is_some(), "{} has no seed", f.display());
        let (valid, total) =
            capsim::runner::plan::check(&plan, catalog).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            valid > 0,
            "{}: none of {total} candidates is valid",
            f.display()
        );
    }
}

fn run_shipped(name: &str) -> capsim::report::Metrics {
    let exp = experiment::load(&root().join("experiments/queueing").join(name)).unwrap();
    let summary = capsim::runner::run(&exp, exp.seed.unwrap(), Default::default()).unwrap();
    summary.runs[0].metrics.clone()
}

#[test]
fn the_mmc_example_is_within_one_percent_of_erlang_c() {
    let m = run_shipped("mmc.toml");
    assert_close("Wq", real(&m, "wait_mean_s"), 0.7455, 0.01);
    assert_close("P(wait > 0)", real(&m, "wait_prob"), 0.5964, 0.01);
    assert_close("W", real(&m, "latency_mean_s"), 1.7455, 0.01);
    assert_close("utilisation", real(&m, "utilization"), 0.8, 0.01);
}

#[test]
fn the_patience_example_is_within_one_percent_of_the_exact_model() {
    let m = run_shipped("mmc-patience.toml");
    assert_close(
        "P(abandon)",
        m.queue_timeout as f64 / m.arrived as f64,
        0.1801,
        0.01,
    );
    assert_close("P(wait > 0)", real(&m, "wait_prob"), 0.7737, 0.01);
    assert_close("mean wait", real(&m, "wait_mean_s"), 0.4966, 0.01);
}

#[test]
fn the_readme_documents_every_metric_and_outcome() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    // The metrics table is generated from the one metrics table in the code, whole.
    let table = capsim::report::Metrics::markdown_table();
    assert!(
        readme.contains(&table),
        "README.md's metrics table differs from the code's; replace it with:\n{table}"
    );
    assert_eq!(table.lines().count(), 2 + capsim::report::METRIC_COUNT);
    for outcome in capsim::domain::Outcome::ALL {
        assert!(
            readme.contains(&format!("| `{}` |", outcome.name())),
            "README lacks outcome {}",
            outcome.name()
        );
    }
}

#[test]
fn int8_on_a_t4_answers_typical_chat_well_inside_30_s_at_low_load() {
    let exp = experiment::load(&root().join("experiments/llm/t4-int8-chat.toml")).unwrap();
    let m = capsim::runner::run(&exp, exp.seed.unwrap(), Default::default())
        .unwrap()
        .runs[0]
        .metrics
        .clone();
    assert!(m.arrived > 1000);
    assert!(
        real(&m, "latency_p50_s") < 15.0,
        "median {}",
        real(&m, "latency_p50_s")
    );
    assert!(
        real(&m, "ttft_p99_s") < 2.0,
        "TTFT p99 {}",
        real(&m, "ttft_p99_s")
    );
    // Only the rare answers of more than ~700 tokens run past 30 s at ~26 tokens/s.
    assert!(
        real(&m, "timeout_rate") < 0.01,
        "timeout rate {}",
        real(&m, "timeout_rate")
    );
}

/// Every row of a shipped experiment under `experiments/policies`, run with its own seed.
fn policy_rows(name: &str) -> Vec<capsim::report::RunSummary> {
    let exp = experiment::load(&root().join("experiments/policies").join(name)).unwrap();
    capsim::runner::run(&exp, exp.seed.unwrap(), Default::default())
        .unwrap()
        .runs
}

fn policy(name: &str) -> capsim::report::Metrics {
    policy_rows(name)[0].metrics.clone()
}

#[test]
fn the_policy_experiments_show_what_their_comments_claim() {
    // A 300 s read timeout lets through what a 60 s one kills, with the same traffic.
    let (short, long) = (
        policy("read-timeout-60s.toml"),
        policy("read-timeout-300s.toml"),
    );
    assert_eq!(short.arrived, long.arrived);
    assert!(short.client_timeout > 10 && long.client_timeout == 0);
    assert!(real(&long, "latency_p99_s") > 60.0);

    // Retries without a budget: several attempts per request, and fewer answers than none.
    let storm = policy("retry-storm.toml");
    assert!(real(&storm, "attempts_per_request") > 2.0, "{storm:?}");
    assert!(storm.ok * 2 < storm.arrived);
    // Attempts that had to queue are a share of attempts, not of requests (once 4.9).
    let waited = real(&storm, "wait_prob");
    assert!((0.0..=1.0).contains(&waited), "wait_prob {waited}");

    // The breaker sends part of the spike to the fallback, which is billed too.
    let breaker = policy("breaker-fallback.toml");
    assert!(breaker.fallback_ok > 50 && breaker.breaker_opens.unwrap() > 0);

    // The same burst: synchronous calls time out, async jobs all finish.
    let (sync, jobs) = (policy("sync-burst.toml"), policy("async-burst.toml"));
    assert_eq!(sync.arrived, jobs.arrived);
    assert!(sync.client_timeout > 100);
    assert_eq!(jobs.client_timeout, 0);
    assert!(jobs.ok + jobs.unfinished == jobs.arrived && jobs.polls.unwrap() > jobs.ok);

    // Streaming removes the gateway's 504s.
    let (plain, sse) = (
        policy("gateway-non-streaming.toml"),
        policy("gateway-streaming.toml"),
    );
    assert!(plain.gateway_timeout > 0 && sse.gateway_timeout == 0);

    // Strict priority: premium times out far less than free.
    let rows = policy_rows("tiers.toml");
    let waited = rows[0].metrics.wait_prob.unwrap();
    assert!((0.0..=1.0).contains(&waited), "wait_prob {waited}");
    let tier = |n: &str| rows.iter().find(|r| r.class == n).unwrap().metrics.clone();
    assert!(tier("premium").timeout_rate.unwrap() * 2.0 < tier("free").timeout_rate.unwrap());
}

#[test]
fn the_azure_chat_trace_replays_every_row_with_its_own_tokens() {
    let exp = experiment::load(&root().join("experiments/traces/azure-conv-replay.toml")).unwrap();
    let trace = capsim::experiment::read_trace(&root().join("data/traces/azure-llm-2023-conv.csv"))
        .unwrap();
    assert_eq!(trace.rows.len(), 19_366);
    let in_hour = trace
        .rows
        .iter()
        .filter(|r| r.0.as_secs_f64() < 3600.0)
        .count() as u64;
    let m = capsim::runner::run(&exp, exp.seed.unwrap(), Default::default())
        .unwrap()
        .runs[0]
        .metrics
        .clone();
    assert_eq!(m.arrived, in_hour);
    // Requests carry the trace's tokens: 1,155 prompt and 211 output tokens on average.
    let mean_out: f64 =
        trace.rows.iter().map(|r| f64::from(r.2)).sum::<f64>() / trace.rows.len() as f64;
    assert!((mean_out - 211.1).abs() < 0.1, "{mean_out}");
    let ok_tokens = real(&m, "tokens_per_s") * m.window_s;
    let per_ok = ok_tokens / m.ok as f64;
    assert!(per_ok > 100.0 && per_ok < 400.0, "{per_ok}");
}

#[test]
fn the_t4_vs_a100_study_sweeps_gpus_loads_and_timeouts() {
    // Run labels keep key names: the merged endpoint table reads as its key=value pairs.
    const T4: &str = "gpu=t4 quantization=int8";
    const A10G: &str = "gpu=a10g quantization=fp16";
    const A100: &str = "gpu=a100-80gb quantization=fp16";
    let exp = experiment::load(&root().join("experiments/t4-vs-a100.toml")).unwrap();
    assert_eq!(exp.configs.len(), 3 * 40 * 2);
    let summary = capsim::runner::run(&exp, exp.seed.unwrap(), Default::default()).unwrap();
    let rate = |gpu: &str, load: &str, timeout: &str| {
        summary
            .runs
            .iter()
            .find(|r| {
                r.params["endpoint"] == gpu
                    && r.params["workload.arrival.rate"] == load
                    && r.params["client.read-timeout"] == timeout
            })
            .unwrap()
            .metrics
            .timeout_rate
            .unwrap()
    };
    // Each GPU is fine at 0.5/s; the T4 breaks first, then the A10G, and the A100 last.
    for gpu in [T4, A10G, A100] {
        assert!(rate(gpu, "0.5/s", "60s") < 0.01, "{gpu}");
    }
    assert!(rate(T4, "2/s", "60s") > 0.5);
    assert!(rate(A10G, "2/s", "60s") > rate(A100, "2/s", "60s"));
    assert!(rate(A100, "5/s", "60s") < 0.01);
    assert!(rate(A100, "20/s", "60s") > 0.5);
    // A longer read timeout never times out more.
    assert!(rate(T4, "1/s", "300s") <= rate(T4, "1/s", "60s"));
}

#[test]
fn token_lengths_can_be_drawn_from_a_trace_column() {
    let src = r#"
name = "code sizes"
seed = 1
duration = "10m"
[workload]
arrival = { kind = "poisson", rate = "1/s" }
prompt-tokens = { kind = "empirical", file = "data/traces/azure-llm-2023-code.csv", column = "ContextTokens" }
output-tokens = { kind = "empirical", file = "data/traces/azure-llm-2023-code.csv", column = "GeneratedTokens" }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
"#;
    let exp = crate::support::parse(src);
    let capsim::domain::Service::Llm(svc) = &exp.scenario.service else {
        panic!()
    };
    let capsim::domain::Dist::Empirical { values } = &svc.prompt_tokens else {
        panic!("{:?}", svc.prompt_tokens)
    };
    assert_eq!(values.len(), 8_819);
    let bad = src.replace("column = \"ContextTokens\"", "column = \"Tokens\"");
    let err = capsim::experiment::parse(&bad, &root().join("t.toml")).unwrap_err();
    assert!(
        err.to_string().contains("has no column \"Tokens\""),
        "{err}"
    );
    assert_eq!(
        err.hint.as_deref(),
        Some("its columns: TIMESTAMP, ContextTokens, GeneratedTokens")
    );
}

#[test]
fn every_shipped_experiment_runs_briefly() {
    // Each file, cut to its first two simulated minutes (or 2,000 requests), every
    // configuration of its sweep once.
    for f in shipped() {
        let mut exp = experiment::load(&f).unwrap();
        exp.replications = 1;
        for c in &mut exp.configs {
            c.scenario.warm_up = capsim::sim::SimDuration::ZERO;
            c.scenario.stop = match c.scenario.stop {
                capsim::domain::StopRule::Duration(_) => {
                    capsim::domain::StopRule::Duration(capsim::sim::SimDuration::from_secs(120))
                }
                capsim::domain::StopRule::Requests(n) => {
                    capsim::domain::StopRule::Requests(n.min(2_000))
                }
            };
        }
        let summary = capsim::runner::run(&exp, exp.seed.unwrap(), Default::default())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(
            summary.runs.iter().all(|r| r.metrics.window_s > 0.0),
            "{} measured nothing",
            f.display()
        );
    }
}
