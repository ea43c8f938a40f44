//! The step-time model against published measurements (figures.md §4), within ±15 %.
//!
//! Efficiency factors are set once per engine class in `models/engines.toml` and per
//! quantization in `models/quantizations.toml`, from the evidence written there; nothing here is
//! tuned per case. Each test states the workload of the measurement it reproduces.

use capsim::catalog::Catalog;
use capsim::domain::perf::{PerfModel, StepShape};

use crate::support::assert_close;

fn model(gpu: &str, llm: &str, quant: &str, class: &str, group_size: Option<u32>) -> PerfModel {
    let c = Catalog::builtin().unwrap();
    let mut q = c.quantizations[quant].clone();
    if let Some(g) = group_size {
        q.group_size = g;
    }
    PerfModel::new(
        &c.gpus[gpu],
        &c.llms[llm],
        &q,
        1,
        &c.classes[class],
        q.kv_bytes,
        c.overlap_exponent,
    )
    .unwrap()
}

/// Decode tokens per second of one sequence at context `ctx`.
fn batch1_tokens_per_s(m: &PerfModel, ctx: u64) -> f64 {
    1.0 / m.step_seconds(&StepShape::decode(1, ctx))
}

#[test]
fn llama2_7b_fp16_on_a10g_under_tgi_decodes_32_tokens_per_second() {
    // HF SageMaker benchmark: TGI 1.0.3, one user, 50 new tokens: 32.4 tok/s.
    let m = model("a10g", "llama-2-7b", "fp16", "optimized", None);
    assert_close("tok/s", batch1_tokens_per_s(&m, 100), 32.4, 0.15);
}

#[test]
fn llama2_7b_bf16_on_a100_under_an_optimised_engine_decodes_105_tokens_per_second() {
    // gpt-fast, A100-80GB, 5-token prompt: 104.9 tok/s.
    let m = model("a100-80gb", "llama-2-7b", "bf16", "optimized", None);
    assert_close("tok/s", batch1_tokens_per_s(&m, 100), 104.9, 0.15);
}

#[test]
fn llama2_7b_int8_weight_only_on_a100_decodes_156_tokens_per_second() {
    // gpt-fast int8 weight-only: 155.6 tok/s.
    let m = model("a100-80gb", "llama-2-7b", "int8", "optimized", None);
    assert_close("tok/s", batch1_tokens_per_s(&m, 100), 155.6, 0.15);
}

#[test]
fn llama2_7b_int4_weight_only_on_a100_decodes_197_tokens_per_second() {
    // gpt-fast int4 with groups of 32 (as measured): 196.8 tok/s.
    let m = model("a100-80gb", "llama-2-7b", "int4", "optimized", Some(32));
    assert_close("tok/s", batch1_tokens_per_s(&m, 100), 196.8, 0.15);
}

#[test]
fn llama2_13b_under_eager_transformers_on_a100_decodes_27_tokens_per_second() {
    // optimum benchmark: transformers eager FP16, 512 in / 512 out: 27.1 tok/s; mean context 768.
    let m = model("a100-80gb", "llama-2-13b", "fp16", "eager", None);
    assert_close("tok/s", batch1_tokens_per_s(&m, 768), 27.1, 0.15);
}

#[test]
fn llama_7b_fp16_on_a100_takes_16_ms_to_first_token_at_128_prompt_tokens() {
    // TensorRT-LLM v0.5 low-latency table, batch 1.
    let m = model("a100-80gb", "llama-2-7b", "fp16", "optimized", None);
    assert_close(
        "TTFT ms",
        m.step_seconds(&StepShape::prefill(128)) * 1e3,
        16.0,
        0.15,
    );
}

#[test]
fn llama_7b_fp16_on_a100_takes_133_ms_to_first_token_at_2048_prompt_tokens() {
    let m = model("a100-80gb", "llama-2-7b", "fp16", "optimized", None);
    assert_close(
        "TTFT ms",
        m.step_seconds(&StepShape::prefill(2048)) * 1e3,
        133.0,
        0.15,
    );
}

#[test]
#[ignore = "known gap, not tuned away: the model gives about 23 ms against 36 ms measured (-37 %); \
            matching it needs an FP8-specific efficiency fitted to this one figure"]
fn llama_7b_fp8_on_h100_takes_36_ms_to_first_token_at_2048_prompt_tokens() {
    let m = model("h100-sxm", "llama-2-7b", "fp8", "optimized", None);
    assert_close(
        "TTFT ms",
        m.step_seconds(&StepShape::prefill(2048)) * 1e3,
        36.0,
        0.15,
    );
}

#[test]
fn llama_7b_fp8_on_h100_is_faster_than_fp16_on_a100_but_not_by_more_than_its_peak_ratio() {
    // What the model does promise for FP8 on H100: between 1x and the 6.3x ratio of peaks.
    let h = model("h100-sxm", "llama-2-7b", "fp8", "optimized", None)
        .step_seconds(&StepShape::prefill(2048));
    let a = model("a100-80gb", "llama-2-7b", "fp16", "optimized", None)
        .step_seconds(&StepShape::prefill(2048));
    assert!(
        h < a && a / h < 1979.0 / 312.0,
        "H100 fp8 {h}, A100 fp16 {a}"
    );
}

#[test]
fn llama_7b_fp16_on_a100_peaks_near_5600_tokens_per_second_at_batch_384() {
    // TensorRT-LLM peak throughput: batch 384, 128 in / 128 out: 5,586 output tok/s. One step
    // prefills all prompts, then 128 decode steps run with contexts growing from 128.
    let m = model("a100-80gb", "llama-2-7b", "fp16", "optimized", None);
    let batch = 384u64;
    let mut t = m.step_seconds(&StepShape {
        prefill_tokens: batch * 128,
        prefill_pairs: batch * 128 * 129 / 2,
        ..StepShape::default()
    });
    let (alpha, beta) = m.decode_line(batch);
    for k in 0..128 {
        let step = m.step_seconds(&StepShape::decode(batch, 128 + k));
        // The closed form the simulator uses agrees with the step formula.
        assert!((step - (alpha + beta * (batch * (128 + k)) as f64)).abs() < 1e-12);
        t += step;
    }
    assert_close("tok/s", (batch * 128) as f64 / t, 5586.0, 0.15);
}

#[test]
fn weight_only_quantization_helps_small_batches_and_not_large_ones() {
    // figures.md §4.5: int4 W4A16 is much faster than fp16 at batch 1 and loses that advantage
    // (or turns slower) once the step is compute-bound.
    let fp16 = model("a100-80gb", "llama-2-7b", "fp16", "optimized", None);
    let int4 = model("a100-80gb", "llama-2-7b", "int4", "optimized", None);
    let speedup = |batch: u64| {
        fp16.step_seconds(&StepShape::decode(batch, 512))
            / int4.step_seconds(&StepShape::decode(batch, 512))
    };
    let prefill =
        fp16.step_seconds(&StepShape::prefill(4096)) / int4.step_seconds(&StepShape::prefill(4096));
    assert!(speedup(1) > 1.8, "batch 1: {}", speedup(1));
    assert!(
        speedup(1) > speedup(64) && speedup(64) > speedup(256),
        "{} {} {}",
        speedup(1),
        speedup(64),
        speedup(256)
    );
    assert!(
        prefill < 1.0,
        "compute-bound prefill should be slower with int4: {prefill}"
    );
    // bitsandbytes LLM.int8 is slower than fp16 even at batch 1.
    let bnb = model("a100-80gb", "llama-2-7b", "bnb-int8", "optimized", None);
    assert!(
        bnb.step_seconds(&StepShape::decode(1, 512))
            > fp16.step_seconds(&StepShape::decode(1, 512))
    );
}
