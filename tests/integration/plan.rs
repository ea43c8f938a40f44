//! `capsim plan`: the cheapest configuration that meets an SLO, checked against brute force,
//! reproduced by `capsim run`, and its errors.

use std::path::Path;

use capsim::experiment::catalog::Catalog;
use capsim::report::plan::{PlanReport, PlanStatus};
use capsim::runner::plan::{PlanOptions, plan};

use crate::support::{capsim, root, write};

/// Llama-2-7B chat at 12 requests/s on five GPUs, two client timeouts, 1 to 12 replicas.
fn base(duration: &str) -> String {
    base_at(duration, 12.0)
}

/// As [`base`], at `rate` requests/s.
fn base_at(duration: &str, rate: f64) -> String {
    format!(
        r#"
name = "plan test"
seed = 11
duration = "{duration}"
warm-up = "2m"

[workload]
arrival = {{ kind = "poisson", rate = "{rate}/s" }}
prompt-tokens = {{ kind = "lognormal", median = 400, p99 = 2000 }}
output-tokens = {{ kind = "lognormal", median = 200, p99 = 800 }}

[endpoint]
gpu = "t4"
model = "llama-2-7b"
quantization = "int8"
load-balancer = "least-outstanding"

[client]
read-timeout = "60s"
cancel-on-disconnect = true

[slo]
failed-rate = "1%"
"#
    )
}

const GPUS: &str = r#"endpoint = { merge = [
  { gpu = "t4", quantization = "int8" },
  { gpu = "a10g", quantization = "fp16" },
  { gpu = "l4", quantization = "fp16" },
  { gpu = "a100-80gb", quantization = "fp16" },
  { gpu = "h100-sxm", quantization = "fp16" },
] }
client.read-timeout = ["20s", "60s"]
"#;

fn plan_text(duration: &str, search: &str) -> String {
    format!("{}\n[search]\n{search}", base(duration))
}

fn run_plan(src: &str, threads: Option<usize>) -> PlanReport {
    let file = capsim::experiment::plan::parse(src, &root().join("plan.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let opts = PlanOptions {
        threads,
        progress: None,
    };
    plan(&file, Catalog::builtin().unwrap(), 11, &opts)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .report
}

/// Brute force against the plan at `rate` requests/s.
fn brute_force_agrees_at(rate: f64) {
    // Brute force: every GPU x timeout x replica count, one run each on the same seed.
    let sweep = format!(
        "{}\n[sweep]\n{GPUS}\"endpoint.replicas\" = {{ from = 1, to = 12, step = 1 }}\nmax-runs = 1000\n",
        base_at("15m", rate)
    );
    let exp = crate::support::parse(&sweep);
    let summary = capsim::runner::run(&exp, 11, Default::default()).unwrap();
    let per_hour = |m: &capsim::report::Metrics| m.cost_usd.unwrap() / m.window_s * 3600.0;
    let brute = summary
        .runs
        .iter()
        .filter(|r| r.class == "all" && r.slo_met == Some(true))
        // Configurations in sweep order: the first axis slowest, as the plan numbers them.
        .min_by(|a, b| per_hour(&a.metrics).total_cmp(&per_hour(&b.metrics)))
        .expect("some configuration meets the SLO");
    let brute_runs = summary.runs.iter().filter(|r| r.class == "all").count();
    assert_eq!(brute_runs, 5 * 2 * 12);

    let plan_src = format!(
        "{}\n[search]\n{GPUS}replicas = {{ min = 1, max = 12 }}\ntop = 1\nreplications = 1\n",
        base_at("15m", rate)
    );
    let report = run_plan(&plan_src, None);
    let winner = report.chosen()[0];
    let cost = winner.metrics.as_ref().unwrap().usd_per_hour.unwrap();
    assert!(
        (cost - per_hour(&brute.metrics)).abs() < 1e-9,
        "at {rate}/s: plan ${cost}/h, brute force ${}/h",
        per_hour(&brute.metrics)
    );
    assert_eq!(
        Some(i64::from(winner.replicas.unwrap())),
        brute.params["endpoint.replicas"].as_i64()
    );
    assert_eq!(winner.params["endpoint"], brute.params["endpoint"]);
    assert_eq!(
        winner.params["client.read-timeout"],
        brute.params["client.read-timeout"]
    );
    assert!(
        report.simulations_run * 10 <= brute_runs as u64,
        "at {rate}/s: plan ran {} simulations, brute force {brute_runs}",
        report.simulations_run
    );
}

#[test]
fn plan_finds_the_brute_force_cheapest_configuration_with_ten_times_fewer_simulations() {
    // At 4/s a single A100 competes with several cheaper GPUs; at 12/s the cheap ones cannot
    // carry the load at all.
    for rate in [4.0, 12.0] {
        brute_force_agrees_at(rate);
    }
}

#[test]
fn every_candidate_gets_a_status_and_the_bounds_drop_what_cannot_fit_or_carry_the_load() {
    // Llama-2-13B at fp16 does not fit a T4; at 12/s a single T4 int8 replica cannot carry it.
    let search = r#"endpoint = { merge = [
  { gpu = "t4", quantization = "int8", model = "llama-2-7b" },
  { gpu = "t4", quantization = "fp16", model = "llama-2-13b" },
  { gpu = "a100-80gb", quantization = "fp16", model = "llama-2-7b" },
] }
replicas = { min = 1, max = 4 }
top = 1
replications = 1
"#;
    let report = run_plan(&plan_text("10m", search), Some(1));
    let status: Vec<PlanStatus> = report.candidates.iter().map(|c| c.status).collect();
    assert_eq!(
        status,
        [
            PlanStatus::Capacity,
            PlanStatus::DoesNotFit,
            PlanStatus::Chosen
        ]
    );
    assert_eq!(report.candidates[0].simulations, 0);
    assert!(
        report.candidates[0]
            .reason
            .contains("below the 11.88/s the SLO needs")
    );
    assert!(report.candidates[1].reason.contains("does not fit"));
}

#[test]
fn a_plan_is_the_same_whatever_the_thread_count() {
    let src = plan_text(
        "10m",
        &format!("{GPUS}replicas = {{ min = 1, max = 12 }}\ntop = 2\nreplications = 2\n"),
    );
    let one = run_plan(&src, Some(1));
    let two = run_plan(&src, Some(2));
    assert_eq!(
        capsim::report::plan::plan_csv(&one).unwrap(),
        capsim::report::plan::plan_csv(&two).unwrap()
    );
    assert_eq!(
        capsim::report::plan::simulations_csv(&one).unwrap(),
        capsim::report::plan::simulations_csv(&two).unwrap()
    );
}

/// The SLO verdict of a finished `capsim run` folder: every aggregate (with replications) or
/// the run's own.
fn slo_met(dir: &Path) -> bool {
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let aggs = s["aggregates"].as_array().cloned().unwrap_or_default();
    if aggs.is_empty() {
        s["runs"][0]["slo_met"].as_bool().unwrap()
    } else {
        aggs.iter().all(|a| a["slo_met"].as_bool() != Some(false))
    }
}

#[test]
fn capsim_run_reproduces_the_winner_meeting_the_slo_and_the_runner_up_missing_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "plan.toml",
        &plan_text(
            "15m",
            &format!("{GPUS}replicas = {{ min = 1, max = 12 }}\ntop = 2\nreplications = 2\n"),
        ),
    );
    let out = dir.path().join("out");
    capsim()
        .args(["plan", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .assert()
        .success();
    let csv = std::fs::read_to_string(out.join("plan.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 5 * 2, "a row per candidate");
    for chart in ["pareto.png", "pareto.svg"] {
        assert!(out.join(chart).exists(), "{chart}");
    }
    for (name, meets) in [("winner.toml", true), ("runner-up.toml", false)] {
        let run_dir = dir.path().join(name);
        capsim()
            .args(["run", "--quiet", "--out"])
            .arg(&run_dir)
            .arg(out.join(name))
            .assert()
            .success();
        assert_eq!(slo_met(&run_dir), meets, "{name}");
    }
}

#[test]
fn a_plan_without_an_slo_or_with_a_mistyped_axis_value_is_refused_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let no_slo = plan_text(
        "10m",
        "endpoint.gpu = [\"a100-80gb\"]\nreplicas = { min = 1, max = 2 }\n",
    )
    .replace("[slo]\nfailed-rate = \"1%\"", "");
    let f = write(dir.path(), "no-slo.toml", &no_slo);
    let out = capsim().arg("plan").arg(&f).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("a plan needs an [slo]"), "{err}");

    let typo = plan_text(
        "10m",
        "endpoint.gpu = [\"a100-80gb\", \"a100\"]\nendpoint.quantization = [\"fp16\"]\nreplicas = { min = 1, max = 2 }\n",
    );
    let f = write(dir.path(), "typo.toml", &typo);
    let out = capsim().arg("plan").arg(&f).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("every candidate with endpoint.gpu = a100 is invalid"),
        "{err}"
    );

    // `run` on a plan says which command reads it.
    let out = capsim().arg("run").arg(&f).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("capsim plan"), "{err}");
}

#[test]
fn a_search_that_runs_out_of_simulations_says_so_and_exits_1_with_its_candidates_written() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "budget.toml",
        &plan_text(
            "10m",
            &format!("{GPUS}replicas = {{ min = 1, max = 12 }}\nmax-simulations = 2\n"),
        ),
    );
    let out_dir = dir.path().join("out");
    let out = capsim()
        .args(["plan", "--quiet", "--out"])
        .arg(&out_dir)
        .arg(&f)
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("max-simulations = 2"), "{err}");
    let csv = std::fs::read_to_string(out_dir.join("plan.csv")).unwrap();
    assert!(csv.contains("not decided"), "{csv}");
}
