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
    let known = [
        (Coef::Mbu, 0.62),
        (Coef::Mfu, 0.55),
        (Coef::PerStep, 1500.0),
        (Coef::PerSeq, 40.0),
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
        &request(vec![file], d, "vllm-v1", Vec::new()),
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
    for (c, want, got) in &errors {
        eprintln!("{}: known {want}, fitted {got:.4} ({:+.2} %)", c.name(), 100.0 * (got / want - 1.0));
    }
    for (c, want, got) in errors {
        assert!((got / want - 1.0).abs() < 0.03, "{}: known {want}, fitted {got}", c.name());
    }
}
