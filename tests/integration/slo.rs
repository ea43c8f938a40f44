//! Failure accounting, the saturation verdict, the in-flight budget and `[slo]`.

use crate::support::{capsim, parse, real, write};
use capsim::report::{Summary, Verdict};

/// Runs experiment text and returns the whole summary.
fn summary(src: &str) -> Summary {
    capsim::runner::run(&parse(src), 1, Default::default()).expect("run succeeds")
}

const MM4: &str = r#"name = "M/M/4"
duration = "1h"
[workload]
arrival = { kind = "poisson", rate = "RATE" }
[endpoint]
servers = 4
service-time = { kind = "exponential", mean = "1s" }
"#;

fn mm4(rate: &str) -> String {
    MM4.replace("RATE", rate)
}

#[test]
fn an_mm4_queue_at_ten_times_its_capacity_is_overloaded_and_its_unfinished_requests_count_as_failed()
 {
    let s = summary(&mm4("40/s"));
    let r = &s.runs[0];
    let m = &r.metrics;
    assert_eq!(r.verdict, Verdict::Overloaded);
    assert_eq!(real(m, "capacity_rps"), 4.0);
    assert!((real(m, "offered_load") - 10.0).abs() < 1e-9);
    // Nothing has a timeout, so nothing times out; 90 % have no answer when the clock stops.
    assert_eq!(real(m, "timeout_rate"), 0.0);
    assert!(m.unfinished > m.arrived * 8 / 10, "{m:?}");
    let failed = (m.arrived - m.ok) as f64 / m.arrived as f64;
    assert!((real(m, "failed_rate") - failed).abs() < 1e-12);
    assert!((real(m, "answered_rate") + real(m, "failed_rate") - 1.0).abs() < 1e-12);
    // Every request's latency as its user saw it includes the long-waiting unfinished ones.
    assert!(real(m, "latency_all_p50_s") > 1000.0, "{m:?}");
}

#[test]
fn the_same_queue_at_ninety_percent_load_is_stable() {
    let s = summary(&mm4("3.6/s"));
    assert_eq!(s.runs[0].verdict, Verdict::Stable);
    assert!(real(&s.runs[0].metrics, "failed_rate") < 0.01);
}

#[test]
fn a_load_that_rises_above_capacity_in_the_last_third_leaves_a_growing_backlog() {
    // 2/s for 40 minutes, then 6/s: the mean, 3.3/s, is within the 4/s capacity, but the queue
    // grows through the last third.
    let src = MM4.replace(
        r#"arrival = { kind = "poisson", rate = "RATE" }"#,
        r#"arrival = { kind = "schedule", rates = [["0s", "2/s"], ["40m", "6/s"]], period = "1h" }"#,
    );
    let s = summary(&src);
    let m = &s.runs[0].metrics;
    assert!(real(m, "offered_load") < 1.0, "{m:?}");
    assert_eq!(s.runs[0].verdict, Verdict::Backlogged);
}

#[test]
fn an_a100_at_ten_times_its_capacity_is_overloaded_and_counts_unfinished_requests_as_failed() {
    let src = r#"name = "A100 at 10x"
duration = "10m"
[workload]
arrival = { kind = "poisson", rate = "95/s" }
prompt-tokens = { kind = "lognormal", median = 400, p99 = 2000 }
output-tokens = { kind = "lognormal", median = 200, p99 = 800 }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
"#;
    let s = summary(src);
    let r = &s.runs[0];
    let m = &r.metrics;
    assert_eq!(r.verdict, Verdict::Overloaded);
    assert!(real(m, "offered_load") > 9.0, "{m:?}");
    assert!(m.unfinished > m.arrived / 2, "{m:?}");
    let answered = m.ok + m.fallback_ok;
    let failed = (m.arrived - answered) as f64 / m.arrived as f64;
    assert!((real(m, "failed_rate") - failed).abs() < 1e-12);
    assert!(real(m, "failed_rate") > 0.8);
    // The estimate is an upper bound: the endpoint completes fewer than it says.
    assert!(real(m, "throughput_rps") < real(m, "capacity_rps"), "{m:?}");
}

#[test]
fn an_absurd_rate_stops_at_the_in_flight_budget_with_the_verdict_overloaded_and_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "absurd.toml", &mm4("1e15/s"));
    let out = dir.path().join("out");
    capsim()
        .args(["run", "--quiet", "--seed", "1", "--out"])
        .arg(&out)
        .arg(&file)
        .assert()
        .success();
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let run = &s["runs"][0];
    assert_eq!(run["verdict"], "overloaded");
    let m = &run["metrics"];
    // The default budget is a million requests in flight; the one past it stops the run.
    assert_eq!(m["unfinished"], 1_000_001);
    assert_eq!(m["arrived"], 1_000_001);
    assert_eq!(m["failed_rate"], 1.0);
}

#[test]
fn max_in_flight_sets_the_budget_and_a_stopped_run_still_balances() {
    let src = format!("max-in-flight = 500\n{}", mm4("40/s"));
    let s = summary(&src);
    let m = &s.runs[0].metrics;
    assert_eq!(s.runs[0].verdict, Verdict::Overloaded);
    // The request that made 501 in flight stopped the run.
    assert_eq!(m.unfinished, 501);
    assert_eq!(m.arrived, m.ok + m.unfinished);
    // The window ends at the stop, long before the hour.
    assert!(real(m, "window_s") < 60.0, "{m:?}");
}

const HAND: &str = r#"name = "hand"
requests = 10
[workload]
arrival = { kind = "constant", rate = "0.5/s" }
[endpoint]
servers = 1
service-time = { kind = "deterministic", value = "1.5s" }
"#;

#[test]
fn goodput_counts_only_answers_within_the_latency_bound() {
    // Every answer takes exactly 1.5 s (no queue at one arrival per 2 s).
    let tight = summary(&format!("{HAND}[slo]\nlatency-p99 = \"1s\"\n"));
    let m = &tight.runs[0].metrics;
    assert_eq!(m.ok, 10);
    assert_eq!(real(m, "goodput_rps"), 0.0);
    assert_eq!(tight.runs[0].slo_met, Some(false));
    let loose = summary(&format!("{HAND}[slo]\nlatency-p99 = \"1.5s\"\n"));
    let m = &loose.runs[0].metrics;
    assert_eq!(real(m, "goodput_rps"), real(m, "throughput_rps"));
    assert_eq!(loose.runs[0].slo_met, Some(true));
    // Without an SLO every answer is goodput, and no row is judged.
    let none = summary(HAND);
    assert_eq!(none.runs[0].slo_met, None);
    assert!(none.slo.is_none());
    assert_eq!(
        real(&none.runs[0].metrics, "goodput_rps"),
        real(&none.runs[0].metrics, "throughput_rps")
    );
}

#[test]
fn a_failed_rate_target_is_met_or_missed_by_the_runs_failed_share() {
    // A 1 s client timeout on 1.5 s services: every request fails.
    let src = format!("{HAND}[client]\ntimeout = \"1s\"\n[slo]\nfailed-rate = \"1%\"\n");
    let s = summary(&src);
    assert_eq!(real(&s.runs[0].metrics, "failed_rate"), 1.0);
    assert_eq!(s.runs[0].slo_met, Some(false));
    let spec = s.slo.as_ref().unwrap();
    assert_eq!(spec.targets.len(), 1);
    assert_eq!(spec.targets[0].metric, "failed_rate");
    assert_eq!(spec.targets[0].max, 0.01);
    assert_eq!(spec.confidence, 0.95);
}

#[test]
fn a_class_with_targets_of_its_own_decides_the_whole_runs_slo_too() {
    let src = r#"name = "tiers"
duration = "30m"
[workload]
arrival = { kind = "poisson", rate = "0.9/s" }
[endpoint]
servers = 1
service-time = { kind = "exponential", mean = "1s" }
[[classes]]
name = "premium"
share = 0.2
priority = 0
[[classes]]
name = "free"
share = 0.8
priority = 1
[slo]
failed-rate = "50%"
[slo.classes.premium]
latency-p99 = "1ms"
"#;
    let s = summary(src);
    let by = |c: &str| s.runs.iter().find(|r| r.class == c).unwrap();
    assert_eq!(by("premium").slo_met, Some(false));
    // `free` has no targets of its own: not judged on its own row.
    assert_eq!(by("free").slo_met, None);
    // The whole run meets its own target but not premium's.
    assert!(real(&by("all").metrics, "failed_rate") < 0.5);
    assert_eq!(by("all").slo_met, Some(false));
}

#[test]
fn with_replications_a_configuration_meets_the_slo_only_with_its_confidence() {
    // ρ = 0.9: p99 latency of every request is around 10 s and varies between replications.
    let base = format!(
        "{}[sweep]\nreplications = 5\n",
        mm4("3.6/s").replace("duration = \"1h\"", "duration = \"10m\"")
    );
    let s = summary(&format!("{base}[slo]\nlatency-p99 = \"1h\"\n"));
    assert_eq!(s.aggregates[0].slo_met, Some(true));
    let values: Vec<f64> = s
        .runs
        .iter()
        .map(|r| real(&r.metrics, "latency_all_p99_s"))
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let max = values.iter().cloned().fold(f64::MIN, f64::max);
    // A target between the mean and the upper bound: every replication's mean is within it,
    // but not with 95 % confidence.
    let upper = capsim::report::aggregate::upper_bound(&values, 0.95).unwrap();
    assert!(upper > mean && max > mean);
    let target = (mean + upper) / 2.0;
    let s = summary(&format!("{base}[slo]\nlatency-p99 = \"{target}s\"\n"));
    assert_eq!(s.aggregates[0].slo_met, Some(false));
    let s = summary(&format!(
        "{base}[slo]\nlatency-p99 = \"{}s\"\n",
        upper * 1.01
    ));
    assert_eq!(s.aggregates[0].slo_met, Some(true));
}

/// The error `capsim` prints for experiment text.
fn refused(src: &str) -> String {
    match capsim::experiment::parse(src, std::path::Path::new("slo.toml")) {
        Ok(_) => panic!("accepted:\n{src}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn slo_mistakes_are_refused_with_the_key_and_a_hint() {
    let e = refused(&format!("{HAND}[slo]\nfailed-rate = 2\n"));
    assert!(
        e.contains("slo.failed-rate") && e.contains("from 0 to 1"),
        "{e}"
    );
    let e = refused(&format!("{HAND}[slo]\nfailed-rate = \"one\"\n"));
    assert!(e.contains("percentage"), "{e}");
    let e = refused(&format!("{HAND}[slo]\nttft-p99 = \"2s\"\n"));
    assert!(
        e.contains("needs an LLM endpoint") && e.contains("latency-p99"),
        "{e}"
    );
    let e = refused(&format!("{HAND}[slo]\nlatency-p99 = 60\n"));
    assert!(e.contains("needs a unit"), "{e}");
    let e = refused(&format!("{HAND}[slo]\nconfidence = 0.3\n"));
    assert!(e.contains("0.5 to 0.999"), "{e}");
    let e = refused(&format!("{HAND}[slo]\n"));
    assert!(e.contains("sets no target"), "{e}");
    let e = refused(&format!("{HAND}[slo]\nlatency-p90 = \"1s\"\n"));
    assert!(e.contains("latency-p90"), "{e}");
    let e = refused(&format!(
        "{HAND}[slo.classes.premium]\nlatency-p99 = \"1s\"\n"
    ));
    assert!(
        e.contains("no client class named \"premium\"") && e.contains("[[classes]]"),
        "{e}"
    );
    let e = refused(&format!("max-in-flight = 0\n{HAND}"));
    assert!(
        e.contains("max-in-flight") && e.contains("400 bytes"),
        "{e}"
    );
}

#[test]
fn a_run_of_few_requests_is_warned_about_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "small.toml", HAND);
    let out = capsim()
        .args(["run", "--seed", "1", "--out"])
        .arg(dir.path().join("out"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("run 0 measured only 10 requests: a share below 1/10 (10.00 %)"),
        "{stderr}"
    );
    // A large run is not warned about.
    let file = write(dir.path(), "large.toml", &mm4("3.6/s"));
    let out = capsim()
        .args(["run", "--seed", "1", "--out"])
        .arg(dir.path().join("out2"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        !String::from_utf8(out.stderr)
            .unwrap()
            .contains("measured only")
    );
}

#[test]
fn capsim_capacity_prints_the_rate_with_its_interval_and_refuses_a_file_without_an_slo() {
    let dir = tempfile::tempdir().unwrap();
    let src = format!("seed = 2\n{}[slo]\nfailed-rate = \"1%\"\n", mm4("3/s"))
        .replace("duration = \"1h\"", "duration = \"20m\"");
    let file = write(dir.path(), "cap.toml", &src);
    let out = capsim()
        .args(["capacity", "--replications", "2", "--tolerance", "0.02"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("SLO: failed_rate <= 1%"), "{stdout}");
    assert!(stdout.contains("capacity at the SLO: "), "{stdout}");
    assert!(stdout.contains("95 % interval"), "{stdout}");
    let bare = write(
        dir.path(),
        "bare.toml",
        &format!("seed = 2\n{}", mm4("3/s")),
    );
    let out = capsim().args(["capacity"]).arg(&bare).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("has no [slo]")
    );
}

#[test]
fn a_retry_storm_is_overloaded_by_its_attempts_though_its_first_tries_fit() {
    let path = crate::support::root().join("experiments/policies/retry-storm.toml");
    let src = std::fs::read_to_string(&path).unwrap();
    let s = summary(&src);
    let m = &s.runs[0].metrics;
    let per = real(m, "attempts_per_request");
    assert!(per > 2.0, "{m:?}");
    // First tries alone would be within the capacity; with the retries they are not.
    assert!(real(m, "offered_load") / per < 1.0, "{m:?}");
    assert!(real(m, "offered_load") > 1.0, "{m:?}");
    assert_eq!(s.runs[0].verdict, Verdict::Overloaded);
}
