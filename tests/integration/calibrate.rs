//! `capsim calibrate`: it recovers the coefficients of a load test capsim generated, predicts a
//! held-back level of a real published load test, and writes a class an experiment runs.

use std::path::{Path, PathBuf};

use capsim::Catalog;
use capsim::calibrate::data::{Level, Observed, Tokens};
use capsim::calibrate::fit::Coef;
use capsim::calibrate::{self, Deployment, Request, replay};

use crate::support::{capsim, root, write};

const SAMPLE: &str = "data/calibration/sglang-h200-llama-3.3-70b-tp4.jsonl";

fn deployment(gpu: &str, model: &str, tp: u32, family: &str) -> Deployment {
    Deployment {
        gpu: gpu.into(),
        model: model.into(),
        quant: "fp16".into(),
        tp,
        family: family.into(),
        options: toml::Table::new(),
    }
}

fn class_table(id: &str) -> toml::Table {
    let rel = format!("engines/{id}.toml");
    let (_, text) = Catalog::files().iter().find(|(r, _)| *r == rel).unwrap();
    toml::from_str(text).unwrap()
}

/// One bench_serving line per level, as SGLang writes it, from what capsim simulated.
fn bench_lines(d: &Deployment, class: &toml::Table, rates: &[f64]) -> String {
    let c = Catalog::builtin().unwrap();
    let mut out = String::new();
    for &rate in rates {
        let level = Level {
            line: 0,
            rate,
            requests: 400,
            prompt: Tokens { min: 1, max: 2048 },
            output: Tokens { min: 1, max: 256 },
            observed: Observed {
                e2e_mean_s: 1.0,
                e2e_median_s: None,
                ttft_median_s: None,
                itl_median_s: None,
            },
        };
        let m = replay::replay(d, class, &level, c).unwrap();
        let ms = |x: Option<f64>| x.unwrap() * 1000.0;
        out.push_str(&format!(
            "{{\"backend\": \"capsim\", \"dataset_name\": \"random\", \"request_rate\": {rate}, \"max_concurrency\": null, \"num_prompts\": 400, \"completed\": 400, \"random_input_len\": 2048, \"random_output_len\": 256, \"random_range_ratio\": 0.0, \"mean_e2e_latency_ms\": {}, \"median_e2e_latency_ms\": {}, \"median_ttft_ms\": {}, \"median_itl_ms\": {}}}\n",
            ms(m.latency_mean_s),
            ms(m.latency_p50_s),
            ms(m.ttft_p50_s),
            ms(m.tpot_mean_s)
        ));
    }
    out
}

fn request(files: Vec<PathBuf>, d: Deployment, base: &str, fix: Vec<Coef>) -> Request {
    Request {
        files,
        deployment: d,
        base_class: base.into(),
        name: "fitted".into(),
        hold_out: None,
        fix,
        catalog_dir: None,
        max_iters: 400,
    }
}

#[test]
fn calibrate_recovers_the_coefficients_of_a_load_test_capsim_generated() {
    let d = deployment("a100-80gb", "llama-2-7b", 1, "vllm");
    let mut truth = class_table("vllm-v1");
    // Host time per step and per sequence stay at the base class's values and are fixed: on
    // summary statistics they trade off against mbu (see docs/validation.md).
    let known = [
        (Coef::Mbu, 0.62),
        (Coef::Mfu, 0.55),
        (Coef::PerStep, 1000.0),
        (Coef::PerSeq, 25.0),
        (Coef::Api, 6.0),
    ];
    for (c, v) in known {
        c.set(&mut truth, v);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "synthetic.jsonl",
        &bench_lines(&d, &truth, &[1.0, 4.0, 8.0, 12.0]),
    );
    let fitted = calibrate::calibrate(
        &request(vec![file], d, "vllm-v1", vec![Coef::PerStep, Coef::PerSeq]),
        Catalog::builtin().unwrap(),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let errors: Vec<(Coef, f64, f64)> = known
        .iter()
        .zip(&fitted.values)
        .map(|(&(c, want), &(c2, got))| {
            assert_eq!(c, c2);
            (c, want, got)
        })
        .collect();
    eprintln!("{}", calibrate::render(&fitted));
    for (c, want, got) in &errors {
        eprintln!(
            "{}: known {want}, fitted {got:.4} ({:+.2} %)",
            c.name(),
            100.0 * (got / want - 1.0)
        );
    }
    // mbu and mfu come back within 3 %. The API-server time is a few milliseconds inside a
    // time to first token of 100 ms and more, and comes back within 10 % only (a known gap,
    // docs/validation.md); the fixed host terms keep their values.
    for (c, want, got) in errors {
        let tolerance = if c == Coef::Api { 0.10 } else { 0.03 };
        assert!(
            (got / want - 1.0).abs() < tolerance,
            "{}: known {want}, fitted {got}",
            c.name()
        );
    }
}

fn sample_args(out: &Path) -> Vec<String> {
    [
        SAMPLE,
        "--gpu",
        "h200",
        "--model",
        "llama-3-70b",
        "--tp",
        "4",
        "--class",
        "sglang",
        "--engine-option",
        "max-num-seqs=4096",
        "--fix",
        "per-step-us,per-seq-us",
        "--hold-out",
        "4",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

#[test]
fn calibrating_on_the_published_sglang_test_predicts_the_held_back_rate_within_10_percent() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fitted.toml");
    let o = capsim()
        .current_dir(root())
        .arg("calibrate")
        .args(sample_args(&out))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let check: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" check ") && l.contains("mean e2e"))
        .collect();
    assert_eq!(check.len(), 1, "{stdout}");
    let err: f64 = check[0]
        .split_whitespace()
        .rev()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        err.abs() < 10.0,
        "held-back 4/s mean e2e error {err} %:\n{stdout}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("FIT: capsim calibrate from"), "{text}");
}

#[test]
fn the_written_class_runs_unchanged_in_an_experiment_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    let o = capsim()
        .current_dir(root())
        .args([
            "calibrate",
            SAMPLE,
            "--gpu",
            "h200",
            "--model",
            "llama-3-70b",
            "--tp",
            "4",
        ])
        .args(["--class", "sglang", "--engine-option", "max-num-seqs=4096"])
        .args([
            "--fix",
            "per-step-us,per-seq-us",
            "--max-iters",
            "30",
            "--catalog",
        ])
        .arg(&catalog)
        .args(["--name", "sglang-h200-fitted"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(catalog.join("engines/sglang-h200-fitted.toml").exists());
    let exp = write(
        dir.path(),
        "exp.toml",
        r#"name = "fitted class"
seed = 3
requests = 200
[workload]
arrival = { kind = "poisson", rate = "2/s" }
prompt-tokens = { kind = "uniform", min = 1, max = 1025 }
output-tokens = { kind = "uniform", min = 1, max = 1025 }
[endpoint]
gpu = "h200"
model = "llama-3-70b"
tensor-parallel = 4
engine = { kind = "sglang", class = "sglang-h200-fitted" }
"#,
    );
    let o = capsim()
        .args(["run", "--quiet", "--catalog"])
        .arg(&catalog)
        .arg(&exp)
        .arg("--out")
        .arg(dir.path().join("res"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = std::fs::read_to_string(dir.path().join("res/summary.json")).unwrap();
    assert!(summary.contains("\"ok\": 200"), "{summary}");
}

#[test]
fn one_load_level_is_refused_naming_the_coefficients_and_the_rows_that_would_identify_them() {
    let dir = tempfile::tempdir().unwrap();
    let one = std::fs::read_to_string(root().join(SAMPLE)).unwrap();
    let file = write(dir.path(), "one.jsonl", one.lines().next().unwrap());
    let o = capsim()
        .args(["calibrate"])
        .arg(&file)
        .args([
            "--gpu",
            "h200",
            "--model",
            "llama-3-70b",
            "--tp",
            "4",
            "--class",
            "sglang",
        ])
        .arg("--out")
        .arg(dir.path().join("x.toml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot identify") && err.contains("per-seq-us"),
        "{err}"
    );
    assert!(
        err.contains("more than one load level") && err.contains("--fix"),
        "{err}"
    );
    assert!(!dir.path().join("x.toml").exists());
}

#[test]
fn a_malformed_load_test_is_refused_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.jsonl",
        "{\"request_rate\": 1.0, \"completed\": 3}\n",
    );
    let o = capsim()
        .args(["calibrate"])
        .arg(&file)
        .args([
            "--gpu",
            "h200",
            "--model",
            "llama-3-70b",
            "--class",
            "sglang",
            "--out",
            "x.toml",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.jsonl:1") && err.contains("mean_e2e_latency_ms"),
        "{err}"
    );
}
