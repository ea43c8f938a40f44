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

/// One level of a synthetic load test: request rate, requests, prompt and output lengths
/// (`min..=max`).
#[derive(Copy, Clone)]
struct Design {
    rate: f64,
    requests: u64,
    prompt: (u64, u64),
    output: (u64, u64),
}

/// The synthetic load test of docs/validation.md ("Calibration"). At batch 1 (rates so low
/// that requests rarely overlap): a short prompt with a long output (memory-bound decode steps
/// and a one-step prefill, so time per output token and TTFT differ by the API time), then
/// single-chunk prefills of 128 to 2,048 tokens, across the roofline ridge (about 140 tokens
/// here), which trace step time against tokens per step: its flat part is weight reads plus
/// host time, its slope compute, and its compute-bound asymptote's intercept host time alone.
/// Then three levels at high load, where batches of tens of sequences show the host time per
/// sequence.
const DESIGN: [Design; 9] = [
    Design {
        rate: 0.002,
        requests: 100,
        prompt: (32, 32),
        output: (256, 256),
    },
    Design {
        rate: 0.003,
        requests: 100,
        prompt: (128, 128),
        output: (16, 16),
    },
    Design {
        rate: 0.004,
        requests: 100,
        prompt: (256, 256),
        output: (16, 16),
    },
    Design {
        rate: 0.005,
        requests: 100,
        prompt: (512, 512),
        output: (16, 16),
    },
    Design {
        rate: 0.006,
        requests: 100,
        prompt: (1024, 1024),
        output: (16, 16),
    },
    Design {
        rate: 0.007,
        requests: 100,
        prompt: (2048, 2048),
        output: (16, 16),
    },
    Design {
        rate: 4.0,
        requests: 3000,
        prompt: (64, 64),
        output: (512, 512),
    },
    Design {
        rate: 8.0,
        requests: 3000,
        prompt: (64, 64),
        output: (512, 512),
    },
    Design {
        rate: 12.0,
        requests: 3000,
        prompt: (64, 64),
        output: (512, 512),
    },
];

/// One bench_serving line per level, as SGLang writes it, from what capsim simulated.
fn bench_lines(d: &Deployment, class: &toml::Table, design: &[Design]) -> String {
    let c = Catalog::builtin().unwrap();
    let mut out = String::new();
    for l in design {
        let level = Level {
            line: 0,
            rate: l.rate,
            requests: l.requests,
            prompt: Tokens {
                min: l.prompt.0,
                max: l.prompt.1,
            },
            output: Tokens {
                min: l.output.0,
                max: l.output.1,
            },
            observed: Observed {
                e2e_mean_s: 1.0,
                e2e_median_s: None,
                ttft_median_s: None,
                itl_median_s: None,
                tpot_mean_s: None,
            },
        };
        let m = replay::replay(d, class, &level, c).unwrap();
        let ms = |x: Option<f64>| x.unwrap() * 1000.0;
        // bench_serving draws a length uniformly on [len x ratio, len].
        let ratio = |(lo, hi): (u64, u64)| lo as f64 / hi as f64;
        out.push_str(&format!(
            "{{\"backend\": \"capsim\", \"dataset_name\": \"random\", \"request_rate\": {}, \"max_concurrency\": null, \"num_prompts\": {n}, \"completed\": {n}, \"random_input_len\": {}, \"random_output_len\": {}, \"random_range_ratio\": {}, \"mean_e2e_latency_ms\": {}, \"median_e2e_latency_ms\": {}, \"median_ttft_ms\": {}, \"mean_tpot_ms\": {}, \"capsim_batch_mean\": {}}}\n",
            l.rate,
            l.prompt.1,
            l.output.1,
            ratio(l.prompt).min(ratio(l.output)),
            ms(m.latency_mean_s),
            ms(m.latency_p50_s),
            ms(m.ttft_p50_s),
            ms(m.tpot_mean_s),
            m.batch_mean.unwrap_or(0.0),
            n = l.requests,
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

/// The coefficients the synthetic load tests are generated with (base class vllm-v1: mbu 0.70,
/// mfu 0.70, 1,000 us per step, 25 us per sequence, 1 ms per request). The host time per step
/// is the base class's: the fit keeps it fixed, since the check refuses it (next test).
const KNOWN: [(Coef, f64); 5] = [
    (Coef::Mbu, 0.62),
    (Coef::Mfu, 0.55),
    (Coef::PerStep, 1000.0),
    (Coef::PerSeq, 40.0),
    (Coef::Api, 6.0),
];

fn truth() -> toml::Table {
    let mut truth = class_table("vllm-v1");
    for (c, v) in KNOWN {
        c.set(&mut truth, v);
    }
    truth
}

fn synthetic(design: &[Design]) -> (tempfile::TempDir, PathBuf) {
    let d = deployment("a100-80gb", "llama-2-7b", 1, "vllm");
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "synthetic.jsonl",
        &bench_lines(&d, &truth(), design),
    );
    (dir, file)
}

#[test]
fn calibrate_recovers_the_coefficients_of_a_load_test_capsim_generated() {
    let (_dir, file) = synthetic(&DESIGN);
    let d = deployment("a100-80gb", "llama-2-7b", 1, "vllm");
    let mut req = request(vec![file], d, "vllm-v1", vec![Coef::PerStep]);
    req.hold_out = Some(8.0);
    let fitted =
        calibrate::calibrate(&req, Catalog::builtin().unwrap()).unwrap_or_else(|e| panic!("{e:?}"));
    eprintln!("{}", calibrate::render(&fitted));
    for (&(c, want), &(c2, got)) in KNOWN.iter().zip(&fitted.values) {
        assert_eq!(c, c2);
        eprintln!(
            "{}: known {want}, fitted {got:.4} ({:+.2} %)",
            c.name(),
            100.0 * (got / want - 1.0)
        );
    }
    // Every coefficient within 3 % (the fixed host time per step keeps its value), and the
    // held-back 4/s level predicted within 3 %.
    for (&(c, want), &(_, got)) in KNOWN.iter().zip(&fitted.values) {
        assert!(
            (got / want - 1.0).abs() < 0.03,
            "{}: known {want}, fitted {got}",
            c.name()
        );
    }
    let held = fitted.levels.iter().find(|l| !l.fitted).unwrap();
    assert!(held.e2e_error().unwrap().abs() < 0.03, "{held:?}");
}

#[test]
fn host_time_per_step_free_beside_bandwidth_is_refused_as_a_trade_off() {
    // On this deployment a step's weight reads (mbu) and its host time both add once per
    // step; only the roofline's bend between memory- and compute-bound steps tells them apart,
    // and not to 5 %.
    let (_dir, file) = synthetic(&DESIGN);
    let d = deployment("a100-80gb", "llama-2-7b", 1, "vllm");
    let req = request(vec![file], d, "vllm-v1", vec![]);
    let e = match calibrate::calibrate(&req, Catalog::builtin().unwrap()) {
        Err(calibrate::Error::Config(e)) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    eprintln!("{e}");
    assert!(
        e.contains("cannot identify `per-step-us` apart from `mbu`") && e.contains("trade off"),
        "{e}"
    );
    assert!(e.contains("--fix per-step-us"), "{e}");
}

#[test]
fn rows_at_batch_1_only_are_refused_naming_the_per_sequence_time_and_the_rows_it_needs() {
    let (dir, file) = synthetic(&DESIGN[..6]);
    let o = capsim()
        .args(["calibrate"])
        .arg(&file)
        .args([
            "--gpu",
            "a100-80gb",
            "--model",
            "llama-2-7b",
            "--class",
            "vllm-v1",
        ])
        .args(["--fix", "per-step-us", "--out"])
        .arg(dir.path().join("x.toml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!("{err}");
    assert!(
        err.contains("cannot identify") && err.contains("`per-seq-us`"),
        "{err}"
    );
    assert!(
        err.contains("high load (large batches) next to batch 1"),
        "{err}"
    );
    assert!(!dir.path().join("x.toml").exists());
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
        "--fix",
        "per-step-us,per-seq-us,per-request-ms",
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
        .args(["--class", "sglang"])
        .args([
            "--fix",
            "per-step-us,per-seq-us,per-request-ms",
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
