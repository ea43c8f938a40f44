//! The `capsim` command line: outputs, exit codes and messages.

use crate::support::{capsim, root, write};

const SMALL: &str = r#"
name = "small M/M/2"
seed = 7
requests = 20000
[workload]
arrival = { kind = "poisson", rate = "1.5/s" }
[endpoint]
servers = 2
service-time = { kind = "exponential", mean = "1s" }
"#;

#[test]
fn run_prints_a_table_with_the_seed_and_writes_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "small.toml", SMALL);
    let out_dir = dir.path().join("out");
    let out = capsim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("experiment \"small M/M/2\" | seed 7"),
        "{stdout}"
    );
    assert!(stdout.contains("wait_mean_s"), "{stdout}");

    let text = std::fs::read_to_string(out_dir.join("summary.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["version"], 2);
    assert_eq!(json["runs"][0]["verdict"], "stable");
    assert_eq!(json["experiment"], "small M/M/2");
    assert_eq!(json["seed"], 7);
    assert_eq!(json["runs"][0]["index"], 0);
    assert_eq!(json["runs"][0]["metrics"]["arrived"], 20000);
    // Metrics are written in schema order, not alphabetically (serde_json's Value would sort
    // them, so look at the text).
    let position = |key: &str| {
        text.find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} missing"))
    };
    let order = [
        "arrived",
        "ok",
        "client_timeout",
        "queue_timeout",
        "rejected",
        "unfinished",
        "timeout_rate",
        "failed_rate",
        "answered_rate",
    ];
    assert!(
        order.windows(2).all(|w| position(w[0]) < position(w[1])),
        "{text}"
    );

    let csv = std::fs::read_to_string(out_dir.join("summary.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("run,config,replication,class,seed,verdict,slo_met,arrived,ok,client_timeout,connect_timeout,gateway_timeout,queue_timeout,rejected,unavailable,fallback_ok,fallback_failed,breaker_rejected,expired,unfinished,timeout_rate,failed_rate,answered_rate,latency_mean_s,latency_p50_s,latency_p95_s,latency_p99_s"), "{header}");
    for name in [
        "wait_mean_s",
        "wait_prob",
        "throughput_rps",
        "utilization",
        "wasted_work_s",
    ] {
        assert!(
            header.split(',').any(|c| c == name),
            "{name} missing from {header}"
        );
    }
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("0,0,0,all,7,stable,,20000,20000,")
    );
    assert_eq!(lines.next(), None);
}

#[test]
fn the_seed_flag_overrides_the_file_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "small.toml", SMALL);
    let out_dir = dir.path().join("out");
    capsim()
        .args(["run", "--quiet", "--seed", "99"])
        .arg(&file)
        .arg("--out")
        .arg(&out_dir)
        .assert()
        .success()
        .stdout("");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["seed"], 99);
    assert_eq!(json["runs"][0]["seed"], 99);
}

#[test]
fn the_default_output_folder_is_results_slash_the_file_stem() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "my-study.toml", SMALL);
    capsim()
        .current_dir(dir.path())
        .args(["run", "--quiet"])
        .arg(&file)
        .assert()
        .success();
    assert!(dir.path().join("results/my-study/summary.json").is_file());
    assert!(dir.path().join("results/my-study/summary.csv").is_file());
}

#[test]
fn a_file_without_a_seed_needs_the_seed_flag() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "noseed.toml", &SMALL.replace("seed = 7\n", ""));
    let out = capsim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("no seed: the file sets no `seed` and none was given with --seed"),
        "{stderr}"
    );
    capsim()
        .args(["run", "--quiet", "--seed", "1"])
        .arg(&file)
        .arg("--out")
        .arg(dir.path().join("o"))
        .assert()
        .success();
}

#[test]
fn config_errors_exit_with_code_2_and_print_the_location() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.toml",
        &SMALL.replace("servers = 2", "servers = 0"),
    );
    let out = capsim().arg("run").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains("bad.toml:8: `endpoint.servers`: must be between 1 and 1000000, found 0"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_with_code_2() {
    capsim().assert().code(2);
    capsim().arg("run").assert().code(2);
    capsim().args(["frobnicate", "x.toml"]).assert().code(2);
    capsim()
        .args(["run", "x.toml", "--seed", "minus-one"])
        .assert()
        .code(2);
}

#[test]
fn an_unwritable_output_folder_is_a_run_failure_with_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "small.toml", SMALL);
    // A folder inside a file cannot be created. (`--out` naming the file itself is a usage
    // error, tested in input_safety.)
    let blocker = write(dir.path(), "not-a-folder", "");
    let out = capsim()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(blocker.join("results"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("cannot write")
    );
}

#[test]
fn validate_accepts_every_shipped_experiment() {
    let mut cmd = capsim();
    cmd.arg("validate");
    for f in crate::experiments::shipped() {
        cmd.arg(f);
    }
    // Plans too: `validate` builds every candidate of a plan's search.
    for f in crate::experiments::shipped_plans() {
        cmd.arg(f);
    }
    cmd.current_dir(root()).assert().success();
}

#[test]
fn list_prints_the_catalog_with_sources_and_price_dates() {
    let out = capsim().args(["list", "gpus"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for id in [
        "t4",
        "l4",
        "a10g",
        "l40s",
        "a100-40gb",
        "a100-80gb",
        "h100-pcie",
        "h100-sxm",
        "h200",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(id)),
            "{id} missing:\n{text}"
        );
    }
    assert!(
        text.contains("x1 $0.50/h, x4 $3.00/h (2026-08-20)"),
        "{text}"
    );
    assert!(
        text.contains("t4 memory: label 16 GiB: 16 GB GDDR6: NVIDIA T4 datasheet")
            && text.contains("16 GiB label, 15.00 GiB = 16.1 GB usable"),
        "{text}"
    );
    let models =
        String::from_utf8(capsim().args(["list", "models"]).output().unwrap().stdout).unwrap();
    assert!(
        models.contains("mixtral-8x7b") && models.contains("46.70 B") && models.contains("12.88 B"),
        "{models}"
    );
    assert!(models.contains("Sources:"));
    for what in ["quantizations", "engines"] {
        capsim().args(["list", what]).assert().success();
    }
    capsim().args(["list", "tpus"]).assert().code(2);
}

#[test]
fn curve_shows_memory_ttft_and_decode_speed_and_warns_when_the_model_does_not_fit() {
    let out = capsim()
        .args([
            "curve",
            "--gpu",
            "a100-80gb",
            "--model",
            "llama-2-7b",
            "--quant",
            "fp16",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("weights 12.6 GiB + runtime 1.5 GiB + KV cache 57.9 GiB"),
        "{text}"
    );
    assert!(text.contains("TTFT ms"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("1 ") && l.contains("/ 93")),
        "batch-1 decode at ~93 tok/s under vLLM V1, host work included:\n{text}"
    );
    let t4 = String::from_utf8(
        capsim()
            .args(["curve", "--gpu", "t4", "--model", "llama-2-7b"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        t4.starts_with("warning: llama-2-7b at fp16 does not fit 1 x t4"),
        "{t4}"
    );
    let bad = capsim()
        .args(["curve", "--gpu", "t5", "--model", "llama-2-7b"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8(bad.stderr)
            .unwrap()
            .contains("`--gpu`: unknown id \"t5\"")
    );
}

#[test]
fn explain_shows_memory_speed_cold_start_and_price() {
    let out = capsim()
        .arg("explain")
        .arg(root().join("experiments/llm/t4-int8-chat.toml"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Endpoint: llama-2-7b int8 on 1 x t4"),
        "{text}"
    );
    assert!(
        text.contains("weights 6.4 GiB + runtime 1.5 GiB + KV cache 5.6 GiB (11473 tokens in all)"),
        "{text}"
    );
    assert!(text.contains("pulling image        150.0 s"), "{text}");
    assert!(text.contains("total                226.0 s"), "{text}");
    assert!(
        text.contains("Price: $0.50 per replica-hour (aws nvidia-t4 x1"),
        "{text}"
    );
    // The same capacity as the run's `capacity_rps` (the t4_int8_chat snapshot).
    assert!(
        text.contains("Capacity: at most 1.043 requests/s over 1 replica(s)"),
        "{text}"
    );
    let mmc = String::from_utf8(
        capsim()
            .arg("explain")
            .arg(root().join("experiments/queueing/mmc.toml"))
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(mmc.contains("Offered load: 0.800 of capacity"), "{mmc}");
}

#[test]
fn the_timeseries_flag_writes_one_csv_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    capsim()
        .args(["run", "--quiet", "--timeseries"])
        .arg(root().join("experiments/llm/t4-int8-chat.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(out.join("timeseries/0.csv")).unwrap();
    // 8 hours of 10 s windows plus the header.
    assert_eq!(text.lines().count(), 8 * 360 + 1);
}

#[test]
fn per_request_records_add_up_to_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    capsim()
        .args(["run", "--quiet", "--requests", "--out"])
        .arg(&out)
        .arg(crate::support::root().join("experiments/policies/tiers.toml"))
        .assert()
        .success();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let m = &summary["runs"][0]["metrics"];
    let csv = std::fs::read_to_string(out.join("requests/0.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let count = |field: usize, value: &str| {
        rows.iter()
            .filter(|r| r.split(',').nth(field) == Some(value))
            .count() as u64
    };
    let ended = m["arrived"].as_u64().unwrap() - m["unfinished"].as_u64().unwrap();
    assert_eq!(rows.len() as u64, ended);
    assert_eq!(count(2, "ok"), m["ok"].as_u64().unwrap());
    assert_eq!(
        count(2, "client_timeout"),
        m["client_timeout"].as_u64().unwrap()
    );
    assert_eq!(
        count(1, "premium"),
        summary["runs"][1]["metrics"]["arrived"].as_u64().unwrap()
            - summary["runs"][1]["metrics"]["unfinished"]
                .as_u64()
                .unwrap()
    );
    assert!(
        !out.join("partial.jsonl").exists(),
        "the partial record goes once the summary is written"
    );
}
