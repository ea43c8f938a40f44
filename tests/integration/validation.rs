//! The step-time model against published measurements, kept in two sets (docs/validation.md):
//! - the **fit set**: the figures the catalog's coefficients were set from (one or two per
//!   engine class or kernel, named in the catalog files and models/SOURCES.md);
//! - the **check set**: figures that set nothing and only test the model.
//!
//! Nothing here is tuned per case: every prediction comes from the catalog as shipped.
//! `docs/validation.md` is generated from these tables; after a change to the model run
//! `CAPSIM_BLESS=1 cargo test --release validation` to rewrite it, and read the diff.

use capsim::domain::perf::{PerfInputs, PerfModel, StepShape};
use capsim::experiment::catalog::Catalog;

/// Which set a figure belongs to.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Set {
    Fit,
    Check,
}

/// What was measured.
#[derive(Copy, Clone, Debug)]
enum Metric {
    /// Time per output token, ms, of `batch` sequences at context `ctx`.
    Tpot { batch: u64, ctx: u64 },
    /// Time to first token of one request with `prompt` tokens, ms (API server + prefill).
    Ttft { prompt: u64 },
    /// Static batch of `batch` requests of `input` / `output` tokens: end-to-end latency of
    /// the batch, s, from a published output throughput (per GPU when `per_gpu`).
    Batch {
        batch: u64,
        input: u64,
        output: u64,
        tokens_per_s: f64,
        per_gpu: bool,
    },
}

struct Setup {
    gpu: &'static str,
    llm: &'static str,
    quant: &'static str,
    group: Option<u32>,
    tp: u32,
    class: &'static str,
    instance: Option<&'static str>,
    /// Kernels to use instead of the class's own (an engine build that shipped others).
    kernels: Option<&'static [&'static str]>,
    /// KV-cache bytes per element where the measurement set it (FP8 KV cache).
    kv_bytes: Option<f64>,
}

const fn setup(
    gpu: &'static str,
    llm: &'static str,
    quant: &'static str,
    tp: u32,
    class: &'static str,
) -> Setup {
    Setup {
        gpu,
        llm,
        quant,
        group: None,
        tp,
        class,
        instance: None,
        kernels: None,
        kv_bytes: None,
    }
}

struct Case {
    name: &'static str,
    set: Set,
    setup: Setup,
    metric: Metric,
    /// Measured value in the metric's unit (ms, or s for a batch); for `Batch` the throughput
    /// is in the metric and this is unused.
    measured: f64,
    source: &'static str,
}

fn model(s: &Setup) -> PerfModel {
    let c = Catalog::builtin().unwrap();
    let mut q = c.quantizations[s.quant].clone();
    if let Some(g) = s.group {
        q.group_size = g;
    }
    let mut class = c.classes[s.class].clone();
    if let Some(ks) = s.kernels {
        let list = ks.iter().map(|k| c.kernels[*k].clone()).collect();
        class.quant_kernels.retain(|(id, _)| id != s.quant);
        class.quant_kernels.push((s.quant.to_string(), list));
    }
    let gpu = &c.gpus[s.gpu];
    let interconnect = match s.instance {
        Some(i) => c.instances[i].interconnect.clone(),
        None => gpu.interconnect.clone(),
    };
    PerfModel::new(&PerfInputs {
        gpu,
        interconnect: &interconnect,
        llm: &c.llms[s.llm],
        quant: &q,
        tp: s.tp,
        class: &class,
        kv_bytes: s.kv_bytes.unwrap_or(q.kv_bytes),
        exponent: c.overlap_exponent,
    })
    .unwrap()
}

/// Seconds for a static batch: one prefill of every prompt, then `output - 1` decode steps.
fn batch_seconds(m: &PerfModel, batch: u64, input: u64, output: u64) -> f64 {
    let mut t = m.step_seconds(&StepShape {
        prefill_tokens: batch * input,
        prefill_seqs: batch,
        prefill_pairs: batch * input * (input + 1) / 2,
        ..StepShape::default()
    });
    for k in 0..output.saturating_sub(1) {
        t += m.step_seconds(&StepShape::decode(batch, input + 1 + k));
    }
    t
}

impl Case {
    fn kind(&self) -> &'static str {
        match self.metric {
            Metric::Tpot { .. } => "TPOT",
            Metric::Ttft { .. } => "TTFT",
            Metric::Batch { .. } => "E2E",
        }
    }

    /// (predicted, measured) in the metric's unit.
    fn values(&self) -> (f64, f64) {
        let m = model(&self.setup);
        match self.metric {
            Metric::Tpot { batch, ctx } => (
                m.step_seconds(&StepShape::decode(batch, ctx)) * 1e3,
                self.measured,
            ),
            Metric::Ttft { prompt } => (
                (m.api_seconds(prompt) + m.step_seconds(&StepShape::prefill(prompt))) * 1e3,
                self.measured,
            ),
            Metric::Batch {
                batch,
                input,
                output,
                tokens_per_s,
                per_gpu,
            } => {
                let gpus = if per_gpu {
                    f64::from(self.setup.tp)
                } else {
                    1.0
                };
                let measured = (batch * output) as f64 / (tokens_per_s * gpus);
                (batch_seconds(&m, batch, input, output), measured)
            }
        }
    }

    fn error(&self) -> f64 {
        let (p, m) = self.values();
        (p - m) / m
    }
}

const TGI_1315: &str = "huggingface/text-generation-inference#1315: TGI 1.2, CodeLlama-34B fp16, one request at a time, about 100 new tokens";
const TRT_05: &str =
    "NVIDIA/TensorRT-LLM docs/source/performance.md at 138f96d, v0.5 low-latency table, batch 1";
const TRT_061: &str = "NVIDIA/TensorRT-LLM docs/source/performance.md at 138f96d, v0.6.1 throughput table (static batch; throughput = batch x new tokens / latency of generate(), prefill included)";
const TRT_061_FP8: &str = "NVIDIA/TensorRT-LLM docs/source/performance.md at 138f96d, v0.6.1 throughput table (static batch; FP8 weights and FP8 KV cache: the page builds with --enable_fp8 --fp8_kv_cache)";
const GPT_FAST: &str = "pytorch-labs/gpt-fast README: A100-80GB at 330 W, batch 1, 5-token prompt";
const OPTIMUM: &str = "huggingface/optimum tests/benchmark/README.md: transformers on A100-80GB, 512 in / 512 out, batch 1";

fn cases() -> Vec<Case> {
    use Metric::*;
    use Set::*;
    let tpot = |batch, ctx| Tpot { batch, ctx };
    vec![
        // ---- Fit set: these set coefficients (see models/SOURCES.md).
        Case {
            name: "Llama-2-7B bf16, A100, gpt-fast (sets MBU)",
            set: Fit,
            setup: setup("a100-80gb", "llama-2-7b", "bf16", 1, "tensorrt-llm"),
            metric: tpot(1, 100),
            measured: 1e3 / 104.9,
            source: GPT_FAST,
        },
        Case {
            name: "Llama-2-7B int8, A100, gpt-fast (sets int8 kernel)",
            set: Fit,
            setup: setup("a100-80gb", "llama-2-7b", "int8", 1, "tensorrt-llm"),
            metric: tpot(1, 100),
            measured: 1e3 / 155.6,
            source: GPT_FAST,
        },
        Case {
            name: "LLaMA-7B fp16, A100, TTFT 128 (sets MFU)",
            set: Fit,
            setup: setup("a100-80gb", "llama-2-7b", "fp16", 1, "tensorrt-llm"),
            metric: Ttft { prompt: 128 },
            measured: 16.0,
            source: TRT_05,
        },
        Case {
            name: "LLaMA-7B fp16, A100, TTFT 2048 (sets MFU)",
            set: Fit,
            setup: setup("a100-80gb", "llama-2-7b", "fp16", 1, "tensorrt-llm"),
            metric: Ttft { prompt: 2048 },
            measured: 133.0,
            source: TRT_05,
        },
        Case {
            name: "Llama-2-13B fp16, A100, transformers eager (sets its launch floor)",
            set: Fit,
            setup: setup("a100-80gb", "llama-2-13b", "fp16", 1, "transformers"),
            metric: tpot(1, 768),
            measured: 36.96,
            source: OPTIMUM,
        },
        Case {
            name: "Llama-2-13B NF4, A100, transformers (sets bitsandbytes)",
            set: Fit,
            setup: setup("a100-80gb", "llama-2-13b", "nf4", 1, "transformers"),
            metric: tpot(1, 768),
            measured: 52.0,
            source: OPTIMUM,
        },
        Case {
            name: "CodeLlama-34B fp16, 2 x H100, TGI 1.2 (sets tgi-1 launch floor)",
            set: Fit,
            setup: setup("h100-sxm", "codellama-34b", "fp16", 2, "tgi-1"),
            metric: tpot(1, 150),
            measured: 28.02,
            source: TGI_1315,
        },
        // ---- Check set: set nothing.
        Case {
            name: "CodeLlama-34B fp16, 1 x A100, TGI 1.2",
            set: Check,
            setup: setup("a100-80gb", "codellama-34b", "fp16", 1, "tgi-1"),
            metric: tpot(1, 150),
            measured: 46.79,
            source: TGI_1315,
        },
        Case {
            name: "CodeLlama-34B fp16, 2 x A100, TGI 1.2",
            set: Check,
            setup: setup("a100-80gb", "codellama-34b", "fp16", 2, "tgi-1"),
            metric: tpot(1, 150),
            measured: 29.39,
            source: TGI_1315,
        },
        Case {
            name: "CodeLlama-34B fp16, 4 x A100, TGI 1.2",
            set: Check,
            setup: setup("a100-80gb", "codellama-34b", "fp16", 4, "tgi-1"),
            metric: tpot(1, 150),
            measured: 32.06,
            source: TGI_1315,
        },
        Case {
            name: "CodeLlama-34B fp16, 1 x H100, TGI 1.2",
            set: Check,
            setup: setup("h100-sxm", "codellama-34b", "fp16", 1, "tgi-1"),
            metric: tpot(1, 150),
            measured: 27.98,
            source: TGI_1315,
        },
        Case {
            name: "CodeLlama-34B fp16, 4 x H100, TGI 1.2",
            set: Check,
            setup: setup("h100-sxm", "codellama-34b", "fp16", 4, "tgi-1"),
            metric: tpot(1, 150),
            measured: 31.77,
            source: TGI_1315,
        },
        Case {
            name: "Llama-3-8B fp16, g5.12xlarge (4 x A10G PCIe), TGI 2.0",
            set: Check,
            setup: Setup {
                instance: Some("g5.12xlarge"),
                ..setup("a10g", "llama-3-8b", "fp16", 4, "tgi-2")
            },
            metric: tpot(1, 500),
            measured: 13.4,
            source: "aws/sagemaker-python-sdk PR #4707/#4712: JumpStart benchmark metadata, TGI 2.0.0 on ml.g5.12xlarge, 1 concurrent user, 13.4 ms/token",
        },
        Case {
            name: "Llama-2-70B bf16, 2 x A100 NVSwitch, gpt-fast",
            set: Check,
            setup: setup("a100-80gb", "llama-2-70b", "bf16", 2, "tensorrt-llm"),
            metric: tpot(1, 100),
            measured: 1e3 / 21.3,
            source: GPT_FAST,
        },
        Case {
            name: "Llama-2-70B bf16, 4 x A100 NVSwitch, gpt-fast",
            set: Check,
            setup: setup("a100-80gb", "llama-2-70b", "bf16", 4, "tensorrt-llm"),
            metric: tpot(1, 100),
            measured: 1e3 / 38.0,
            source: GPT_FAST,
        },
        Case {
            name: "Llama-2-70B bf16, 8 x A100 NVSwitch, gpt-fast",
            set: Check,
            setup: setup("a100-80gb", "llama-2-70b", "bf16", 8, "tensorrt-llm"),
            metric: tpot(1, 100),
            measured: 1e3 / 62.5,
            source: GPT_FAST,
        },
        Case {
            name: "Llama-3-8B bf16, H100, vLLM 0.6, one token every 13 ms under light load",
            set: Check,
            setup: setup("h100-sxm", "llama-3-8b", "bf16", 1, "vllm-v0.6"),
            metric: tpot(1, 300),
            measured: 13.0,
            source: "vLLM blog 2024-09-05 (perf update): \"Llama3 8B can generate 1 token every 13 ms under light load\" on H100 with v0.6.0; taken as batch 1",
        },
        Case {
            name: "Llama-3.1-8B bf16, A100, SGLang 0.3, 4 req/s of ShareGPT (about 6 in flight)",
            set: Check,
            setup: setup("a100-80gb", "llama-3-8b", "bf16", 1, "sglang"),
            metric: tpot(6, 300),
            measured: 13.17,
            source: "sgl-project/sglang benchmark/benchmark_vllm_060/README.md at 120affb: median TPOT 13.17 ms at 4 req/s; 6 sequences in flight by Little's law (4/s x 1.56 s median end-to-end), context about 300 (ShareGPT prompts of about 220 tokens plus half an answer)",
        },
        Case {
            name: "Llama-2-13B GPTQ int4, A100, transformers + exllama",
            set: Check,
            setup: setup("a100-80gb", "llama-2-13b", "int4", 1, "transformers"),
            metric: tpot(1, 768),
            measured: 33.7,
            source: OPTIMUM,
        },
        Case {
            name: "Llama-2-70B GPTQ int4 g128, A100, TGIS + Marlin, batch 16",
            set: Check,
            setup: Setup {
                kernels: Some(&["marlin"]),
                ..setup("a100-80gb", "llama-2-70b", "int4", 1, "tgi-1")
            },
            metric: tpot(16, 1280),
            measured: 38_570.0 / 512.0,
            source: "IBM/text-generation-inference PR #51: 70B 4-bit g128 on one A100-80GB, 1k context, 512 new tokens, batch 16: decode 38.57 s",
        },
        Case {
            name: "Llama-2-70B GPTQ int4 g128, A100, TGIS + ExLlamaV2, batch 16",
            set: Check,
            setup: Setup {
                kernels: Some(&["exllama-v2"]),
                ..setup("a100-80gb", "llama-2-70b", "int4", 1, "tgi-1")
            },
            metric: tpot(16, 1280),
            measured: 79_700.0 / 512.0,
            source: "IBM/text-generation-inference PR #51: as above with ExLlamaV2: decode 79.7 s",
        },
        Case {
            name: "LLaMA-70B fp16, 4 x A100, TTFT 128",
            set: Check,
            setup: setup("a100-80gb", "llama-2-70b", "fp16", 4, "tensorrt-llm"),
            metric: Ttft { prompt: 128 },
            measured: 47.0,
            source: TRT_05,
        },
        Case {
            name: "LLaMA-70B fp16, 4 x A100, TTFT 2048",
            set: Check,
            setup: setup("a100-80gb", "llama-2-70b", "fp16", 4, "tensorrt-llm"),
            metric: Ttft { prompt: 2048 },
            measured: 377.0,
            source: TRT_05,
        },
        Case {
            name: "LLaMA-7B fp8, L40S, TTFT 128",
            set: Check,
            setup: setup("l40s", "llama-2-7b", "fp8", 1, "tensorrt-llm"),
            metric: Ttft { prompt: 128 },
            measured: 14.0,
            source: TRT_05,
        },
        Case {
            name: "LLaMA-7B fp8, L40S, TTFT 2048",
            set: Check,
            setup: setup("l40s", "llama-2-7b", "fp8", 1, "tensorrt-llm"),
            metric: Ttft { prompt: 2048 },
            measured: 73.0,
            source: TRT_05,
        },
        Case {
            name: "LLaMA-7B fp8, H100, TTFT 128",
            set: Check,
            setup: setup("h100-sxm", "llama-2-7b", "fp8", 1, "tensorrt-llm"),
            metric: Ttft { prompt: 128 },
            measured: 7.0,
            source: TRT_05,
        },
        Case {
            name: "LLaMA-7B fp8, H100, TTFT 2048",
            set: Check,
            setup: setup("h100-sxm", "llama-2-7b", "fp8", 1, "tensorrt-llm"),
            metric: Ttft { prompt: 2048 },
            measured: 36.0,
            source: TRT_05,
        },
        Case {
            name: "LLaMA-70B fp8, 4 x H100, TTFT 128",
            set: Check,
            setup: setup("h100-sxm", "llama-2-70b", "fp8", 4, "tensorrt-llm"),
            metric: Ttft { prompt: 128 },
            measured: 26.0,
            source: TRT_05,
        },
        Case {
            name: "LLaMA-70B fp8, 4 x H100, TTFT 2048",
            set: Check,
            setup: setup("h100-sxm", "llama-2-70b", "fp8", 4, "tensorrt-llm"),
            metric: Ttft { prompt: 2048 },
            measured: 109.0,
            source: TRT_05,
        },
        Case {
            name: "LLaMA-7B fp16, A100, batch 384, 128/128",
            set: Check,
            setup: setup("a100-80gb", "llama-2-7b", "fp16", 1, "tensorrt-llm"),
            metric: Batch {
                batch: 384,
                input: 128,
                output: 128,
                tokens_per_s: 5586.0,
                per_gpu: true,
            },
            measured: 0.0,
            source: TRT_061,
        },
        Case {
            name: "LLaMA-7B fp16, A100, batch 60, 128/2048",
            set: Check,
            setup: setup("a100-80gb", "llama-2-7b", "fp16", 1, "tensorrt-llm"),
            metric: Batch {
                batch: 60,
                input: 128,
                output: 2048,
                tokens_per_s: 1928.0,
                per_gpu: true,
            },
            measured: 0.0,
            source: TRT_061,
        },
        Case {
            name: "LLaMA-7B fp16, A100, batch 52, 2048/128",
            set: Check,
            setup: setup("a100-80gb", "llama-2-7b", "fp16", 1, "tensorrt-llm"),
            metric: Batch {
                batch: 52,
                input: 2048,
                output: 128,
                tokens_per_s: 591.0,
                per_gpu: true,
            },
            measured: 0.0,
            source: TRT_061,
        },
        Case {
            name: "LLaMA-70B fp16, 4 x A100, batch 1280, 128/128",
            set: Check,
            setup: setup("a100-80gb", "llama-2-70b", "fp16", 4, "tensorrt-llm"),
            metric: Batch {
                batch: 1280,
                input: 128,
                output: 128,
                tokens_per_s: 670.0,
                per_gpu: true,
            },
            measured: 0.0,
            source: TRT_061,
        },
        Case {
            name: "LLaMA-7B fp8, L40S, batch 64, 128/128",
            set: Check,
            setup: Setup {
                kv_bytes: Some(1.0),
                ..setup("l40s", "llama-2-7b", "fp8", 1, "tensorrt-llm")
            },
            metric: Batch {
                batch: 64,
                input: 128,
                output: 128,
                tokens_per_s: 3240.0,
                per_gpu: false,
            },
            measured: 0.0,
            source: TRT_061_FP8,
        },
        Case {
            name: "LLaMA-7B fp8, H100, batch 768, 128/128",
            set: Check,
            setup: Setup {
                kv_bytes: Some(1.0),
                ..setup("h100-sxm", "llama-2-7b", "fp8", 1, "tensorrt-llm")
            },
            metric: Batch {
                batch: 768,
                input: 128,
                output: 128,
                tokens_per_s: 19_694.0,
                per_gpu: true,
            },
            measured: 0.0,
            source: TRT_061_FP8,
        },
        Case {
            name: "LLaMA-7B fp8, H100, batch 112, 128/2048",
            set: Check,
            setup: Setup {
                kv_bytes: Some(1.0),
                ..setup("h100-sxm", "llama-2-7b", "fp8", 1, "tensorrt-llm")
            },
            metric: Batch {
                batch: 112,
                input: 128,
                output: 2048,
                tokens_per_s: 6818.0,
                per_gpu: true,
            },
            measured: 0.0,
            source: TRT_061_FP8,
        },
    ]
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// The generated part of docs/validation.md.
fn report() -> String {
    let cases = cases();
    let mut out = String::from(
        "<!-- generated by tests/integration/validation.rs; do not edit by hand -->\n",
    );
    for set in [Set::Fit, Set::Check] {
        out.push_str(match set {
            Set::Fit => "\n### Fit set (these figures set coefficients)\n\n",
            Set::Check => "\n### Check set (these figures set nothing)\n\n",
        });
        out.push_str("| case | engine class | metric | measured | capsim | error | source |\n|---|---|---|---|---|---|---|\n");
        for c in cases.iter().filter(|c| c.set == set) {
            let (p, m) = c.values();
            let unit = if c.kind() == "E2E" { "s" } else { "ms" };
            out.push_str(&format!(
                "| {} | {} | {} | {m:.2} {unit} | {p:.2} {unit} | {:+.1} % | {} |\n",
                c.name,
                c.setup.class,
                c.kind(),
                c.error() * 100.0,
                c.source
            ));
        }
    }
    out.push_str("\n### Check set summary\n\n| metric | cases | median absolute error | worst |\n|---|---|---|---|\n");
    for kind in ["TPOT", "TTFT", "E2E"] {
        let errs: Vec<&Case> = cases
            .iter()
            .filter(|c| c.set == Set::Check && c.kind() == kind)
            .collect();
        let worst = errs
            .iter()
            .max_by(|a, b| a.error().abs().total_cmp(&b.error().abs()))
            .unwrap();
        out.push_str(&format!(
            "| {kind} | {} | {:.1} % | {:+.1} % ({}) |\n",
            errs.len(),
            median(errs.iter().map(|c| c.error().abs()).collect()) * 100.0,
            worst.error() * 100.0,
            worst.name
        ));
    }
    out
}

fn assert_median(kind: &str, bound: f64) {
    let cases = cases();
    {
        let errs: Vec<f64> = cases
            .iter()
            .filter(|c| c.set == Set::Check && c.kind() == kind)
            .map(|c| c.error().abs())
            .collect();
        assert!(errs.len() >= 5, "{kind}: only {} check cases", errs.len());
        let m = median(errs);
        assert!(
            m <= bound,
            "{kind}: median |error| {:.1} % > {:.0} %\n{}",
            m * 100.0,
            bound * 100.0,
            report()
        );
    }
}

#[test]
fn check_set_median_error_of_time_per_output_token_is_within_10_percent() {
    assert_median("TPOT", 0.10);
}

#[test]
fn check_set_median_error_of_time_to_first_token_is_within_20_percent() {
    assert_median("TTFT", 0.20);
}

#[test]
fn check_set_median_error_of_end_to_end_latency_is_within_10_percent() {
    assert_median("E2E", 0.10);
}

#[test]
fn fit_set_figures_are_reproduced_within_15_percent() {
    for c in cases().iter().filter(|c| c.set == Set::Fit) {
        let e = c.error();
        assert!(e.abs() <= 0.15, "{}: {:+.1} %", c.name, e * 100.0);
    }
}

#[test]
fn the_check_set_covers_pcie_multi_gpu_gptq_int4_and_three_engine_classes() {
    let cases = cases();
    let check: Vec<&Case> = cases.iter().filter(|c| c.set == Set::Check).collect();
    let c = Catalog::builtin().unwrap();
    assert!(check.iter().any(|k| {
        let ic = match k.setup.instance {
            Some(i) => &c.instances[i].interconnect,
            None => &c.gpus[k.setup.gpu].interconnect,
        };
        k.setup.tp > 1 && ic.kind == capsim::domain::hardware::LinkKind::PcieHost
    }));
    assert!(check.iter().any(|k| k.setup.quant == "int4"));
    let mut classes: Vec<&str> = check.iter().map(|k| k.setup.class).collect();
    classes.sort_unstable();
    classes.dedup();
    assert!(classes.len() >= 3, "{classes:?}");
}

#[test]
fn docs_validation_md_holds_the_current_tables() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/validation.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let marker = "<!-- generated by tests/integration/validation.rs";
    let generated = report();
    if std::env::var_os("CAPSIM_BLESS").is_some() {
        let head = doc.split(marker).next().unwrap_or("").to_string();
        std::fs::write(&path, head + &generated).unwrap();
        return;
    }
    assert!(
        doc.contains(&generated),
        "docs/validation.md is out of date: run `CAPSIM_BLESS=1 cargo test --release validation`\n{generated}"
    );
}

#[test]
fn the_piecewise_decode_line_agrees_with_the_step_formula() {
    // The simulator sums decode steps in closed form; each piece must match the formula, across
    // the flat part (launch floor or host) and the linear part.
    for s in [
        setup("a100-80gb", "llama-2-7b", "fp16", 1, "tgi-1"),
        setup("a10g", "llama-2-7b", "fp16", 4, "sglang"),
        setup("a100-80gb", "llama-2-13b", "fp16", 1, "transformers"),
    ] {
        let m = model(&s);
        for batch in [1u64, 8, 64] {
            let mut ctx = batch * 10;
            let mut checked = 0;
            while checked < 3000 {
                let (alpha, beta, valid) = m.decode_line(batch, ctx);
                let n = valid.min(50);
                for k in 0..n {
                    let c = ctx + k * batch;
                    let step = m.step_seconds(&StepShape::decode(batch, c / batch));
                    let line = alpha + beta * (batch * (c / batch)) as f64;
                    assert!(
                        (step - line).abs() < 1e-9,
                        "{} batch {batch} ctx {c}: {step} vs {line}",
                        s.class
                    );
                }
                ctx += n * batch;
                checked += n;
            }
        }
    }
}

#[test]
fn adding_pcie_gpus_without_nvlink_does_not_speed_small_batch_decode_in_proportion() {
    // On PCIe without peer-to-peer each all-reduce costs tens of microseconds, and engines
    // without CUDA graphs have a launch floor no GPU count removes.
    let t = |tp: u32, class: &'static str| {
        model(&setup("a10g", "llama-2-7b", "fp16", tp, class))
            .step_seconds(&StepShape::decode(1, 500))
    };
    for class in ["tgi-1", "tgi-3", "vllm-v1"] {
        let speedup = t(1, class) / t(8, class);
        assert!(
            speedup < 0.6 * 8.0,
            "{class}: 8 GPUs {speedup:.2}x faster than 1"
        );
    }
    // The old engine is floor-bound: 8 GPUs are no faster than 4.
    assert!(t(8, "tgi-1") >= t(4, "tgi-1") * 0.98);
}

#[test]
fn weight_only_int4_helps_small_batches_and_kernels_decide_how_far() {
    let fp16 = model(&setup("a100-80gb", "llama-2-7b", "fp16", 1, "vllm-v1"));
    let marlin = model(&setup("a100-80gb", "llama-2-7b", "int4", 1, "vllm-v1"));
    let exllama = model(&setup("a100-80gb", "llama-2-7b", "int4", 1, "tgi-1"));
    let step = |m: &PerfModel, b: u64| m.step_seconds(&StepShape::decode(b, 512));
    assert_eq!(marlin.kernel(), Some("marlin"));
    assert_eq!(exllama.kernel(), Some("exllama-v1"));
    // Marlin stays ahead of fp16 up to batch 16 or more.
    assert!(step(&fp16, 16) / step(&marlin, 16) > 1.5);
    // ExLlama v1 reads the weights per row below 8 rows and reconstructs fp16 above: slower
    // than fp16 beyond batch 1 on the same engine.
    let fp16_tgi1 = model(&setup("a100-80gb", "llama-2-7b", "fp16", 1, "vllm-v0"));
    assert!(step(&exllama, 4) > step(&fp16_tgi1, 4) * 0.9);
    // bitsandbytes is slower than fp16 even at batch 1.
    let bnb = model(&setup(
        "a100-80gb",
        "llama-2-7b",
        "bnb-int8",
        1,
        "transformers",
    ));
    let fp16_tf = model(&setup("a100-80gb", "llama-2-7b", "fp16", 1, "transformers"));
    assert!(step(&bnb, 1) > step(&fp16_tf, 1));
}

#[test]
fn marlin_has_no_turing_kernel_so_vllm_falls_back_to_exllama_v2_on_a_t4() {
    let m = model(&setup("t4", "llama-2-7b", "int4", 1, "vllm-v1"));
    assert_eq!(m.kernel(), Some("exllama-v2"));
}

/// The memory plan of `tp` x `gpu` serving Llama-2-70B fp16 under vLLM V1 at its default 0.9.
fn seventy_b(gpu: &str, tp: u32) -> capsim::domain::deployment::Deployment {
    let c = Catalog::builtin().unwrap();
    let g = c.gpus[gpu].clone();
    capsim::domain::deployment::Deployment {
        interconnect: g.interconnect.clone(),
        instance: None,
        gpu: g,
        llm: c.llms["llama-2-70b"].clone(),
        quant: c.quantizations["fp16"].clone(),
        tp,
        class: c.classes["vllm-v1"].clone(),
        memory_utilization: 0.9,
        kv_bytes: 2.0,
        overlap_exponent: c.overlap_exponent,
    }
}

#[test]
fn llama2_70b_fp16_gets_about_40k_kv_tokens_on_two_a100_80gb_and_fits_four_a100_40gb() {
    // GPU memory is in GiB: 2 x 80 GiB x 0.9 leaves 2 x 6.3 GiB of KV cache at 320 KiB a token.
    let two = seventy_b("a100-80gb", 2).memory().kv_tokens();
    assert!((40_000..42_500).contains(&two), "{two} KV tokens");
    let c = Catalog::builtin().unwrap();
    let four = seventy_b("a100-40gb", 4);
    assert!(
        c.check_fit(&four, 4096).is_ok(),
        "{:?}",
        c.check_fit(&four, 4096)
    );
    assert!(four.memory().kv_tokens() > 30_000);
}
