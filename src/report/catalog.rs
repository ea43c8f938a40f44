//! Text views of the catalog and of a deployment's step-time curve (`capsim list`, `capsim curve`).

use crate::catalog::Catalog;
use crate::domain::hardware::{Gpu, Precision};
use crate::domain::llm::LlmSpec;
use crate::domain::memory::MemoryPlan;
use crate::domain::perf::{EfficiencyClass, PerfModel, StepShape};
use crate::domain::quant::Quantization;

use super::table::layout as table;

fn gb(bytes: f64) -> String {
    format!("{:.1} GB", bytes / 1e9)
}

fn tflops(g: &Gpu, p: Precision) -> String {
    g.peak(p).map_or("-".into(), |v| format!("{:.0}", v / 1e12))
}

/// `capsim list gpus`.
pub fn gpus(c: &Catalog) -> String {
    let mut rows = vec![vec![
        "id".into(),
        "name".into(),
        "arch".into(),
        "memory".into(),
        "GB/s".into(),
        "fp16 TF".into(),
        "fp8 TF".into(),
        "int8 TOPS".into(),
        "link GB/s".into(),
        "1-GPU price".into(),
    ]];
    for g in c.gpus.values() {
        let price = g
            .prices
            .iter()
            .filter(|p| p.gpus == 1)
            .min_by(|a, b| a.usd_per_hour.total_cmp(&b.usd_per_hour))
            .map_or("-".into(), |p| {
                format!("${:.2}/h {} ({})", p.usd_per_hour, p.provider, p.as_of)
            });
        let memory = if g.visible_memory < g.memory {
            format!(
                "{:.0} GB ({:.0} visible)",
                g.memory / 1e9,
                g.visible_memory / 1e9
            )
        } else {
            format!("{:.0} GB", g.memory / 1e9)
        };
        rows.push(vec![
            g.id.clone(),
            g.name.clone(),
            g.arch.name().into(),
            memory,
            format!("{:.0}", g.bandwidth / 1e9),
            tflops(g, Precision::Fp16),
            tflops(g, Precision::Fp8),
            tflops(g, Precision::Int8),
            format!("{:.0}", g.interconnect.bandwidth / 1e9),
            price,
        ]);
    }
    let mut out = table(&rows);
    out.push_str("\nSources:\n");
    for g in c.gpus.values() {
        for (field, src) in &g.sources {
            out.push_str(&format!("  {} {field}: {src}\n", g.id));
        }
        for p in &g.prices {
            out.push_str(&format!(
                "  {} price {} {} {}: ${:.2}/h as of {} ({})\n",
                g.id, p.provider, p.instance, p.size, p.usd_per_hour, p.as_of, p.source
            ));
        }
    }
    out
}

/// `capsim list models`.
pub fn models(c: &Catalog) -> String {
    let mut rows = vec![vec![
        "id".into(),
        "name".into(),
        "params".into(),
        "active".into(),
        "layers".into(),
        "heads/kv".into(),
        "KV/token fp16".into(),
        "max context".into(),
    ]];
    for m in c.llms.values() {
        rows.push(vec![
            m.id.clone(),
            m.name.clone(),
            format!("{:.2} B", m.params as f64 / 1e9),
            format!("{:.2} B", m.active_params as f64 / 1e9),
            m.layers.to_string(),
            format!("{}/{}", m.heads, m.kv_heads),
            format!("{:.0} KiB", m.kv_bytes_per_token(2.0) / 1024.0),
            m.max_context.to_string(),
        ]);
    }
    let mut out = table(&rows);
    out.push_str("\nSources:\n");
    for m in c.llms.values() {
        out.push_str(&format!("  {}: {}\n", m.id, m.source));
    }
    out
}

/// `capsim list quantizations`.
pub fn quantizations(c: &Catalog) -> String {
    let mut rows = vec![vec![
        "id".into(),
        "name".into(),
        "bytes/weight".into(),
        "KV bytes".into(),
        "matmul".into(),
        "native on".into(),
        "bw eff".into(),
        "compute x".into(),
    ]];
    for q in c.quantizations.values() {
        let native: Vec<&str> = q.native_on.iter().map(|a| a.name()).collect();
        let mut on = native.join(",");
        if !q.weight_only_on.is_empty() {
            let wo: Vec<&str> = q.weight_only_on.iter().map(|a| a.name()).collect();
            on.push_str(&format!(" (weight-only: {})", wo.join(",")));
        }
        rows.push(vec![
            q.id.clone(),
            q.name.clone(),
            format!("{:.3}", q.bytes_per_weight()),
            format!("{}", q.kv_bytes),
            q.compute.to_string(),
            on,
            format!("{:.2}", q.bandwidth_efficiency),
            format!("{:.2}", q.compute_overhead),
        ]);
    }
    let mut out = table(&rows);
    out.push_str("\nEvidence:\n");
    for q in c.quantizations.values() {
        out.push_str(&format!("  {}: {}\n", q.id, q.source));
    }
    out
}

/// `capsim list engines`.
pub fn engines(c: &Catalog) -> String {
    let mut out = String::from(
        "Efficiency classes (vllm and tgi use `optimized`, static uses `eager` unless set):\n\n",
    );
    let mut rows = vec![vec![
        "class".into(),
        "MBU".into(),
        "MFU".into(),
        "step overhead".into(),
        "runtime memory".into(),
    ]];
    for k in c.classes.values() {
        rows.push(vec![
            k.id.clone(),
            format!("{:.2}", k.mbu),
            format!("{:.2}", k.mfu),
            format!("{:.1} ms", k.step_overhead_s * 1e3),
            gb(k.runtime_overhead),
        ]);
    }
    out.push_str(&table(&rows));
    for k in c.classes.values() {
        out.push_str(&format!(
            "\n{} ({}): {}\n",
            k.id, k.description, k.reasoning
        ));
    }
    out.push_str(&format!(
        "\nOverlap exponent p = {}: {}\n",
        c.overlap_exponent, c.overlap_reasoning
    ));
    out.push_str(&format!(
        "\nvllm defaults: max-num-seqs {}, max-num-batched-tokens {} ({} and {} on GPUs of 70 GiB or more that are not A100s), gpu-memory-utilization {}, block size {}.\n  {}\n",
        c.vllm.max_num_seqs,
        c.vllm.max_num_batched_tokens,
        c.vllm.large_gpu_max_num_seqs,
        c.vllm.large_gpu_max_num_batched_tokens,
        c.vllm.gpu_memory_utilization,
        c.vllm.block_size,
        c.vllm.source
    ));
    out.push_str(&format!(
        "tgi defaults: max-concurrent-requests {}, max-batch-prefill-tokens = max input + {}, waiting-served-ratio {}, max-waiting-tokens {}.\n  {}\n",
        c.tgi.max_concurrent_requests, c.tgi.max_batch_prefill_tokens_margin, c.tgi.waiting_served_ratio, c.tgi.max_waiting_tokens, c.tgi.source
    ));
    out.push_str(&format!(
        "static defaults: max-batch {}, max-wait {} ms.\n  {}\n",
        c.static_batching.max_batch, c.static_batching.max_wait_ms, c.static_batching.source
    ));
    out
}

/// Everything `capsim curve` shows about one deployment.
pub struct CurveInput<'a> {
    /// The GPU.
    pub gpu: &'a Gpu,
    /// The model.
    pub llm: &'a LlmSpec,
    /// The quantization.
    pub quant: &'a Quantization,
    /// GPUs per replica.
    pub tp: u32,
    /// Engine class.
    pub class: &'a EfficiencyClass,
    /// Memory plan.
    pub memory: &'a MemoryPlan,
    /// Step-time model.
    pub perf: &'a PerfModel,
    /// Memory utilisation used.
    pub memory_utilization: f64,
}

/// `capsim curve`: memory plan, time to first token by prompt length, and decode step latency
/// and throughput by batch size and context length.
pub fn curve(i: &CurveInput<'_>) -> String {
    let m = i.memory;
    let mut out = format!(
        "{} {} on {} x {} ({}), engine class {} (MBU {:.2}, MFU {:.2})\n",
        i.llm.name,
        i.quant.id,
        i.tp,
        i.gpu.name,
        i.gpu.arch.name(),
        i.class.id,
        i.class.mbu,
        i.class.mfu
    );
    out.push_str(&format!(
        "memory per GPU: usable {} ({:.0} GB x {}) = weights {} + runtime {} + KV cache {}\n",
        gb(m.usable_per_gpu),
        i.gpu.visible_memory / 1e9,
        i.memory_utilization,
        gb(m.weights_per_gpu),
        gb(m.overhead_per_gpu),
        gb(m.kv_per_gpu.max(0.0)),
    ));
    let kv_tokens = m.kv_tokens();
    out.push_str(&format!(
        "KV cache: {} tokens in all at {:.0} KiB per token\n\n",
        kv_tokens,
        m.kv_bytes_per_token / 1024.0
    ));
    let max_ctx = u64::from(i.llm.max_context);
    let prompts: Vec<u64> = [128u64, 512, 1024, 2048, 4096, 8192, 16384, 32768]
        .into_iter()
        .filter(|&p| p <= max_ctx)
        .collect();
    out.push_str("Prefill, one request: time to first token\n");
    let mut rows = vec![
        std::iter::once("prompt tokens".to_string())
            .chain(prompts.iter().map(|p| p.to_string()))
            .collect::<Vec<_>>(),
    ];
    rows.push(
        std::iter::once("TTFT ms".to_string())
            .chain(prompts.iter().map(|&p| {
                if p > kv_tokens {
                    "no KV".into()
                } else {
                    format!("{:.1}", i.perf.step_seconds(&StepShape::prefill(p)) * 1e3)
                }
            }))
            .collect(),
    );
    rows.push(
        std::iter::once("prompt tok/s".to_string())
            .chain(prompts.iter().map(|&p| {
                if p > kv_tokens {
                    "-".into()
                } else {
                    format!(
                        "{:.0}",
                        p as f64 / i.perf.step_seconds(&StepShape::prefill(p))
                    )
                }
            }))
            .collect(),
    );
    out.push_str(&table(&rows));

    let contexts: Vec<u64> = [128u64, 512, 2048, 8192, 32768]
        .into_iter()
        .filter(|&c| c <= max_ctx)
        .collect();
    out.push_str("\nDecode step: latency ms / output tokens per second of the whole batch\n");
    let mut rows = vec![
        std::iter::once("batch \\ context".to_string())
            .chain(contexts.iter().map(|c| c.to_string()))
            .collect::<Vec<_>>(),
    ];
    for batch in [1u64, 2, 4, 8, 16, 32, 64, 128, 256, 512] {
        let mut row = vec![batch.to_string()];
        for &ctx in &contexts {
            if batch * ctx > kv_tokens {
                row.push("no KV".into());
            } else {
                let t = i.perf.step_seconds(&StepShape::decode(batch, ctx));
                row.push(format!("{:.1} / {:.0}", t * 1e3, batch as f64 / t));
            }
        }
        rows.push(row);
    }
    out.push_str(&table(&rows));
    out.push_str("\n\"no KV\": the batch does not fit the KV cache.\n");
    out
}
