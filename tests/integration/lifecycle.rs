//! Replica lifecycle: cold starts, scale-to-zero, unavailability and billing.

use std::path::Path;

use capsim::domain::Service;
use capsim::experiment;

use crate::support::{real, run, serve};

/// A T4 replica of Llama-2-7B int8 with no jitter, so the cold start is its nominal sum:
/// 30 + 150 (15 GB image at 0.1 GB/s) + 13.74 (6.87 GB at 0.5 GB/s) + 2.29 (at 3 GB/s) + 30 s.
fn t4(extra: &str, body: &str) -> String {
    format!(
        r#"
name = "lifecycle"
{extra}
[workload]
{body}
prompt-tokens = {{ kind = "deterministic", value = 200 }}
output-tokens = {{ kind = "deterministic", value = 20 }}
[endpoint]
gpu = "t4"
model = "llama-2-7b"
quantization = "int8"
cold-start = {{ jitter = 0 }}
"#
    )
}

fn cold_start_seconds(src: &str) -> f64 {
    let exp = experiment::parse(src, Path::new("l.toml")).unwrap_or_else(|e| panic!("{e}"));
    let Service::Llm(svc) = &exp.scenario.service else {
        panic!()
    };
    let c = svc.cold_start.as_ref().unwrap().nominal();
    let sum: f64 = c.phases.iter().map(|(_, d)| d.as_secs_f64()).sum();
    assert!(
        (c.total().as_secs_f64() - sum).abs() < 1e-9,
        "the total is the sum of its parts"
    );
    c.total().as_secs_f64()
}

#[test]
fn a_scaled_to_zero_endpoint_answers_503_for_exactly_the_cold_start() {
    // Zero replicas at the start, one request a second from t = 1 s: the first triggers a cold
    // start of C seconds, and every request until the replica is ready gets HTTP 503.
    let src = t4(
        "requests = 400",
        "arrival = { kind = \"constant\", rate = \"1/s\" }",
    ) + "[endpoint.scaling]\nmin-replicas = 0\ninitial-replicas = 0\nmax-replicas = 1\n";
    let c = cold_start_seconds(&src);
    assert!((c - 226.03).abs() < 0.01, "cold start {c}");
    let m = run(&src, 1);
    let expected = (1..=400).filter(|&k| (k as f64) < 1.0 + c).count() as u64;
    assert_eq!(m.unavailable, expected);
    assert_eq!(m.ok + m.unavailable, 400);
    assert_eq!(m.cold_starts, Some(1));
}

#[test]
fn a_held_request_waits_exactly_the_cold_start_and_is_then_served() {
    let base = t4(
        "requests = 1",
        "arrival = { kind = \"constant\", rate = \"1/s\" }",
    );
    let alone = run(&base, 1);
    let held = base.clone()
        + "[endpoint.scaling]\ninitial-replicas = 0\nwhen-unavailable = \"hold\"\nscale-up-timeout = \"600s\"\n";
    let c = cold_start_seconds(&held);
    let m = run(&held, 1);
    assert_eq!(m.ok, 1);
    let waited = real(&m, "latency_p50_s") - real(&alone, "latency_p50_s");
    assert!(
        (waited - c).abs() < 1e-6,
        "held {waited} s for a {c} s cold start"
    );
    // A scale-up timeout shorter than the cold start ends in 503 at the timeout.
    let short = held.replace("600s", "60s");
    let m = run(&short, 1);
    assert_eq!((m.ok, m.unavailable), (0, 1));
}

#[test]
fn an_idle_endpoint_scales_to_zero_and_is_billed_per_started_minute() {
    // One user sends a request every two hours; the endpoint stops after an hour without
    // requests. Replica time: 0-1 h (initial replica), 2-3 h and 4-5 h (cold starts triggered by
    // the requests, which get 503 while they start). 180 minutes at $0.50/h = $1.50.
    let src = t4(
        "duration = \"5h\"",
        "users = { count = 1, think-time = { kind = \"deterministic\", value = \"2h\" } }",
    ) + "[endpoint.scaling]\nmin-replicas = 0\ninitial-replicas = 1\nidle-timeout = \"1h\"\n";
    let m = run(&src, 1);
    assert_eq!((m.arrived, m.unavailable), (2, 2));
    assert_eq!(m.cold_starts, Some(2));
    assert_eq!(m.replicas_max, Some(1));
    let cost = real(&m, "cost_usd");
    assert!((cost - 1.50).abs() < 0.005, "cost ${cost}");
    assert!((real(&m, "gpu_hours") - 3.0).abs() < 1e-9);
    assert!((real(&m, "replicas_mean") - 0.6).abs() < 1e-9);
}

#[test]
fn fixed_replicas_are_billed_for_the_whole_window() {
    // Two A100 x1 replicas (AWS $2.50/h) for 30 minutes after a 1-minute warm-up: 2 x 30 x 2.5/60.
    let src = r#"
name = "fixed"
duration = "31m"
warm-up = "1m"
[workload]
arrival = { kind = "poisson", rate = "1/s" }
prompt-tokens = { kind = "deterministic", value = 100 }
output-tokens = { kind = "deterministic", value = 50 }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
replicas = 2
"#;
    let m = run(src, 2);
    assert!(
        (real(&m, "cost_usd") - 2.5).abs() < 1e-9,
        "{}",
        real(&m, "cost_usd")
    );
    assert!((real(&m, "cost_per_1k_ok_usd") - 2.5 / m.ok as f64 * 1000.0).abs() < 1e-9);
    assert_eq!(m.cold_starts, Some(0));
}

#[test]
fn scaling_settings_are_checked() {
    let base = t4(
        "duration = \"1h\"",
        "arrival = { kind = \"poisson\", rate = \"1/s\" }",
    );
    let err = |extra: &str| {
        experiment::parse(&(base.clone() + extra), Path::new("bad.toml"))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("[endpoint.scaling]\nmin-replicas = 3\nmax-replicas = 2\n"),
        "bad.toml:14: `endpoint.scaling.min-replicas`: min-replicas (3) is more than max-replicas (2)"
    );
    assert_eq!(
        err("[endpoint.scaling]\nwhen-unavailable = \"hold\"\n"),
        "bad.toml:14: `endpoint.scaling.when-unavailable`: \"hold\" needs `scale-up-timeout`\n  hint: e.g. scale-up-timeout = \"600s\", like HF's X-Scale-Up-Timeout header"
    );
    assert_eq!(
        err("[endpoint.scaling]\nscale-up-timeout = \"10s\"\n"),
        "bad.toml:14: `endpoint.scaling.scale-up-timeout`: applies only with when-unavailable = \"hold\""
    );
}

fn autoscaled(signal: &str) -> String {
    format!(
        r#"
name = "autoscaling"
duration = "1h"
[workload]
arrival = {{ kind = "schedule", rates = [["0s", "0.05/s"], ["600s", "20/s"], ["1800s", "0.05/s"]] }}
prompt-tokens = {{ kind = "deterministic", value = 300 }}
output-tokens = {{ kind = "deterministic", value = 150 }}
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
cold-start = {{ jitter = 0 }}
[endpoint.scaling]
min-replicas = 1
max-replicas = 4
initial-replicas = 1
autoscale = {signal}
"#
    )
}

fn scaling_log(src: &str) -> Vec<(f64, u32)> {
    let (_, serving) = serve(src, 4);
    serving
        .scaling_log
        .iter()
        .map(|(t, n)| (t.as_secs_f64(), *n))
        .collect()
}

#[test]
fn after_a_step_in_load_the_first_replica_is_added_at_the_evaluation_the_window_implies() {
    // HF defaults: pending per replica over 20 s, evaluated every 60 s. The load steps up at
    // 600 s; the evaluation at 600 s still averages [580, 600] (quiet), so the first one to see
    // the step is at 660 s.
    let log = scaling_log(&autoscaled(r#"{ signal = "pending" }"#));
    let first_up = log.iter().find(|(_, n)| *n > 1).expect("scales up");
    assert_eq!(first_up.0, 660.0, "{log:?}");
    assert!(
        log.iter().all(|(_, n)| (1..=4).contains(n)),
        "replicas within min and max: {log:?}"
    );
    // Scale-down decisions come at least the stabilisation (300 s) after the decision before.
    for w in log.windows(2) {
        if w[1].1 < w[0].1 {
            assert!(w[1].0 - w[0].0 >= 300.0, "scaled down too soon: {w:?}");
        }
    }
    assert!(
        log.last().unwrap().1 < 4,
        "scales back down after the load drops: {log:?}"
    );
}

#[test]
fn each_autoscaling_signal_name_is_read_as_that_signal() {
    use capsim::domain::serving::ScaleSignal;
    // `concurrency` was once read as `queue-depth`: the two watch different counts (in service
    // versus waiting), so a file naming one must get that one.
    let cases = [
        (
            r#"{ signal = "pending", target = 2 }"#,
            ScaleSignal::Pending(2.0),
        ),
        (
            r#"{ signal = "queue-depth", target = 2 }"#,
            ScaleSignal::QueueDepth(2.0),
        ),
        (
            r#"{ signal = "concurrency", target = 2 }"#,
            ScaleSignal::Concurrency(2.0),
        ),
        (
            r#"{ signal = "gpu-utilization", threshold = 0.6 }"#,
            ScaleSignal::GpuUtilization(0.6),
        ),
    ];
    for (table, want) in cases {
        let exp = experiment::parse(&autoscaled(table), Path::new("a.toml")).expect("valid");
        let Service::Llm(llm) = &exp.scenario.service else {
            panic!("an LLM endpoint")
        };
        let signal = llm
            .lifecycle
            .as_ref()
            .and_then(|l| l.autoscaler.as_ref())
            .map(|a| a.signal);
        assert_eq!(signal, Some(want), "{table}");
    }
}

#[test]
fn a_60_percent_utilisation_threshold_scales_no_later_than_90_percent() {
    let first_up = |t: f64| {
        let log = scaling_log(&autoscaled(&format!(
            r#"{{ signal = "gpu-utilization", threshold = {t} }}"#
        )));
        log.iter()
            .find(|(_, n)| *n > 1)
            .map_or(f64::INFINITY, |e| e.0)
    };
    assert!(first_up(0.6) <= first_up(0.9));
    let m = run(
        &autoscaled(r#"{ signal = "gpu-utilization", threshold = 0.6 }"#),
        4,
    );
    assert!(m.replicas_max.unwrap() > 1 && m.replicas_max.unwrap() <= 4);
    assert!(
        m.arrived
            == m.ok
                + m.client_timeout
                + m.queue_timeout
                + m.rejected
                + m.unavailable
                + m.unfinished
    );
}

#[test]
fn autoscaling_settings_are_checked() {
    let base = autoscaled(r#"{ signal = "gpu-utilization", threshold = 1.5 }"#);
    let e = experiment::parse(&base, Path::new("bad.toml"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "bad.toml:16: `endpoint.scaling.autoscale.threshold`: must be more than 0 and at most 1 (100 %), found 1.5\n  hint: write 60 % as 0.6"
    );
    let e = experiment::parse(
        &autoscaled(r#"{ signal = "pending", window = "2m" }"#),
        Path::new("bad.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(
            "the window (2m) must not be longer than the evaluation intervals (1m up, 2m down)"
        ),
        "{e}"
    );
}

#[test]
fn replicas_drained_by_scale_down_stop_and_every_request_is_still_served() {
    // Half a day of traffic peaking at 50 requests/s on up to 8 replicas: scale-downs drain busy
    // replicas, which must stop when empty so that later scale-ups can reuse them. (A drained
    // replica that never stopped once left this endpoint answering 503 to most of the day.)
    let src = r#"
name = "half a day"
duration = "12h"
[workload]
arrival = { kind = "schedule", period = "24h", rates = [["0h", "0.2/s"], ["6h", "2/s"], ["8h", "15/s"], ["10h", "35/s"], ["12h", "50/s"]] }
prompt-tokens = { kind = "lognormal", median = 400, p99 = 2000 }
output-tokens = { kind = "lognormal", median = 200, p99 = 1000 }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
[endpoint.scaling]
min-replicas = 0
max-replicas = 8
initial-replicas = 0
idle-timeout = "15m"
when-unavailable = "hold"
scale-up-timeout = "600s"
autoscale = { signal = "pending" }
"#;
    let (stats, serving) = serve(src, 1);
    assert_eq!(
        serving.empty_draining_at_end, 0,
        "a drained replica did not stop"
    );
    assert_eq!(stats.outcome(capsim::domain::Outcome::Unavailable), 0);
    assert!(
        stats.in_flight < 500,
        "in flight at the end: {}",
        stats.in_flight
    );
    assert!(serving.replicas_max == 8 && serving.cold_starts >= 8);
}

#[test]
fn the_time_series_accounts_for_every_request_and_flags_alert_windows() {
    // 20 minutes in 10 s windows, no warm-up, so the windows cover every request. Overloaded
    // (one T4 at 20 requests/s) with a 30 s client timeout: p99 passes 24 s, the alert rule.
    let src = t4(
        "duration = \"20m\"\ntimeseries-interval = \"10s\"",
        "arrival = { kind = \"poisson\", rate = \"20/s\" }",
    ) + "[client]\ntimeout = \"30s\"\n";
    let mut exp = experiment::parse(&src, Path::new("ts.toml")).unwrap();
    exp.seed = Some(3);
    let (summary, series) = run_keeping_timeseries(&exp, true);
    let m = &summary.runs[0].metrics;
    let rows = &series[0];
    assert_eq!(rows.len(), 120);
    assert_eq!(rows.iter().map(|r| r.arrivals).sum::<u64>(), m.arrived);
    let ended: u64 = rows.iter().map(|r| r.outcomes.iter().sum::<u64>()).sum();
    assert_eq!(ended + m.unfinished, m.arrived);
    assert!(m.alert_windows.unwrap() > 10, "{:?}", m.alert_windows);
    let csv = String::from_utf8(
        capsim::report::timeseries_csv(&capsim::runner::outcome_names(), rows).unwrap(),
    )
    .unwrap();
    assert!(csv.starts_with("start_s,arrivals,ok,client_timeout,connect_timeout,gateway_timeout,queue_timeout,rejected,unavailable,fallback_ok,fallback_failed,breaker_rejected,expired,queue_depth,replicas_starting,replicas_ready,replicas_draining,gpu_util,p99_s,prefix_hit_rate\n0,"));
    // Without --timeseries nothing is kept, but the alert rule still counts.
    let (plain, none) = run_keeping_timeseries(&exp, false);
    assert!(none[0].is_empty());
    assert_eq!(plain.runs[0].metrics.alert_windows, m.alert_windows);
}

/// Runs `exp` with seed 3, collecting each run's time series (empty unless `keep`).
fn run_keeping_timeseries(
    exp: &capsim::experiment::Experiment,
    keep: bool,
) -> (capsim::report::Summary, Vec<Vec<capsim::report::WindowRow>>) {
    let series = std::sync::Mutex::new(Vec::new());
    let on_run = |r: &capsim::runner::RunResult| {
        series
            .lock()
            .unwrap()
            .push((r.index(), r.timeseries.clone()));
        Ok(())
    };
    let opts = capsim::runner::RunOptions {
        observe: capsim::runner::Observe {
            timeseries: keep,
            requests: false,
        },
        on_run: Some(&on_run),
        ..Default::default()
    };
    let summary = capsim::runner::run(exp, 3, opts).unwrap();
    let mut series = series.into_inner().unwrap();
    series.sort_by_key(|(i, _)| *i);
    (summary, series.into_iter().map(|(_, s)| s).collect())
}

#[test]
fn lifecycle_runs_are_deterministic_and_seed_dependent() {
    // Cold-start jitter and power-of-two balancing each draw from their own stream.
    let src = t4(
        "duration = \"2h\"",
        "arrival = { kind = \"poisson\", rate = \"3/s\" }",
    )
    .replace(
        "cold-start = { jitter = 0 }",
        "cold-start = { jitter = 0.2 }",
    ) + "load-balancer = \"power-of-two\"\n[endpoint.scaling]\nmin-replicas = 0\nmax-replicas = 3\ninitial-replicas = 0\nidle-timeout = \"5m\"\nwhen-unavailable = \"hold\"\nscale-up-timeout = \"300s\"\nautoscale = { signal = \"pending\" }\n";
    let a = run(&src, 10);
    let b = run(&src, 10);
    let c = run(&src, 11);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.cold_starts.unwrap() >= 1);
}

/// Runs `src` (written as `day.toml` next to `trace`, a CSV of `timestamp,prompt_tokens,
/// output_tokens`) through the serving model.
fn serve_with_trace(
    src: &str,
    trace: &str,
) -> (
    capsim::domain::RunStats,
    capsim::domain::serving::ServingStats,
) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("day.csv"), trace).unwrap();
    let exp =
        experiment::parse(src, &dir.path().join("day.toml")).unwrap_or_else(|e| panic!("{e}"));
    let Service::Llm(svc) = &exp.scenario.service else {
        panic!("not an LLM endpoint")
    };
    let (stats, serving, _) = capsim::domain::run::simulate_llm(&exp.scenario, svc, 1);
    (stats, serving)
}

#[test]
fn an_autoscaled_endpoint_with_min_zero_scales_to_zero_only_after_the_idle_timeout() {
    // A constructed day: seven sessions of requests. Inside a session requests come 5 or 14
    // minutes apart (less than the 15-minute idle timeout, so the replica stays up); between
    // sessions there are at least 20 minutes without a request, so it stops. Each session's
    // first request therefore begins a cold start (held for its 226 s), and nothing else does:
    // exactly seven. (The autoscaler, with min-replicas = 0, used to decide zero replicas after
    // one quiet 20 s window and stop the replica minutes after each answer.) In the last
    // session a second request is held during the cold start: the autoscaler sees 2 pending
    // requests per replica, above its 1.5 target, but adds no replica for them while the first
    // is still cold.
    let sessions: Vec<Vec<u64>> = vec![
        vec![0, 300, 600],
        vec![1800, 2640, 3480],
        vec![5280, 5580],
        (0..=44).map(|k| 30_000 + 300 * k).collect(),
        (0..=48).map(|k| 44_400 + 300 * k).collect(),
        vec![65_000, 65_840, 66_680],
        vec![80_000, 80_100, 80_400],
    ];
    let mut trace = String::from("timestamp,prompt_tokens,output_tokens\n");
    for t in sessions.iter().flatten() {
        trace += &format!("{t},200,20\n");
    }
    let scaling = "[endpoint.scaling]\nmin-replicas = 0\nmax-replicas = 3\ninitial-replicas = 0\n\
                   idle-timeout = \"15m\"\nwhen-unavailable = \"hold\"\nscale-up-timeout = \"600s\"\n\
                   autoscale = { signal = \"pending\" }\n";
    let src = t4(
        "duration = \"24h\"",
        "arrival = { kind = \"trace\", file = \"day.csv\" }",
    ) + scaling;
    let (stats, serving) = serve_with_trace(&src, &trace);
    let requests: u64 = sessions.iter().map(|s| s.len() as u64).sum();
    assert_eq!(stats.arrived, requests);
    assert_eq!(stats.outcome(capsim::domain::Outcome::Ok), requests);
    assert_eq!(serving.cold_starts, sessions.len() as u64);
    assert_eq!(serving.replicas_max, 1);
    assert!(serving.scaling_log.is_empty(), "{:?}", serving.scaling_log);
    // The replica runs from each session's first arrival (its cold start) until 15 minutes
    // after the answer to the session's last request, which finds it warm and takes `s`.
    let alone = run(
        &t4(
            "requests = 1",
            "arrival = { kind = \"constant\", rate = \"1/s\" }",
        ),
        1,
    );
    let s = real(&alone, "latency_p50_s");
    let expected: f64 = sessions
        .iter()
        .map(|v| (v[v.len() - 1] - v[0]) as f64 + s + 900.0)
        .sum();
    assert!(
        (serving.replica_seconds - expected).abs() < 1e-3,
        "replica seconds {} expected {expected}",
        serving.replica_seconds
    );
}

#[test]
fn the_autoscaler_never_decides_fewer_than_one_replica_while_requests_keep_coming() {
    // min-replicas = 0 under a load that is quiet (one request every 20 s), then busy, then
    // quiet again: every decision leaves at least one replica, and no cold start other than the
    // scale-ups happens while traffic flows (nothing is idle for the 1-hour default timeout).
    let src =
        autoscaled(r#"{ signal = "pending" }"#).replace("min-replicas = 1", "min-replicas = 0");
    let (stats, serving) = serve(&src, 4);
    let log: Vec<u32> = serving.scaling_log.iter().map(|e| e.1).collect();
    assert!(log.iter().all(|&n| n >= 1), "{log:?}");
    let ups = log
        .iter()
        .zip(std::iter::once(&1).chain(log.iter()))
        .map(|(now, before)| now.saturating_sub(*before))
        .sum::<u32>();
    assert_eq!(serving.cold_starts, u64::from(ups), "{log:?}");
    assert_eq!(stats.outcome(capsim::domain::Outcome::Unavailable), 0);
}
