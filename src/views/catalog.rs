//! Text views of the catalog and of a deployment's step-time curve (`capsim list`, `capsim curve`).

use crate::domain::hardware::{Gpu, Precision};
use crate::domain::llm::LlmSpec;
use crate::domain::memory::MemoryPlan;
use crate::domain::perf::{EngineClass, PerfModel, StepShape};
use crate::domain::quant::Quantization;
use crate::experiment::catalog::{Catalog, DEFAULT_PROVIDER, default_price};

use crate::report::table::layout as table;

const GIB: f64 = 1_073_741_824.0;

fn gib(bytes: f64) -> String {
    format!("{:.1} GiB", bytes / GIB)
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
        "link (busbw GB/s, latency us at 8 GPUs)".into(),
        format!("billed by default ({DEFAULT_PROVIDER}, size x<tp>)"),
    ]];
    for g in c.gpus.values() {
        // Exactly what a run of each size bills without [endpoint.billing].
        let mut sizes: Vec<u32> = g.prices.iter().map(|p| p.gpus).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let billed: Vec<&crate::domain::hardware::Price> = sizes
            .into_iter()
            .filter_map(|tp| default_price(&g.prices, tp, false))
            .collect();
        let price = if billed.is_empty() {
            "- (set [endpoint.billing])".to_string()
        } else {
            let mut dates: Vec<&str> = billed.iter().map(|p| p.as_of.as_str()).collect();
            dates.dedup();
            let each: Vec<String> = billed
                .iter()
                .map(|p| format!("{} ${:.2}/h", p.size, p.usd_per_hour))
                .collect();
            format!("{} ({})", each.join(", "), dates.join(", "))
        };
        let memory = format!(
            "{:.0} GiB label, {:.2} GiB = {:.1} GB usable",
            g.memory / GIB,
            g.visible_memory / GIB,
            g.visible_memory / 1e9
        );
        rows.push(vec![
            g.id.clone(),
            g.name.clone(),
            g.arch.name().into(),
            memory,
            format!("{:.0}", g.bandwidth / 1e9),
            tflops(g, Precision::Fp16),
            tflops(g, Precision::Fp8),
            tflops(g, Precision::Int8),
            {
                let p = g.interconnect.point(8);
                format!(
                    "{} ({:.0}, {:.0})",
                    g.interconnect.kind.name(),
                    p.bus_bandwidth / 1e9,
                    p.latency_s * 1e6
                )
            },
            price,
        ]);
    }
    let mut out = format!(
        "A run bills, unless [endpoint.billing] names another price, the GPU's {DEFAULT_PROVIDER} price (HF Inference Endpoints on AWS) of size x<tensor-parallel>; \
         with `instance`, the instance's first price (below). Every price is listed under Sources.\n\n"
    );
    out.push_str(&table(&rows));
    if !c.instances.is_empty() {
        out.push_str(
            "\nInstances (their own interconnect and prices; the first is billed by default):\n",
        );
        let mut rows = vec![vec![
            "id".into(),
            "name".into(),
            "GPUs".into(),
            "link".into(),
            "prices".into(),
        ]];
        for i in c.instances.values() {
            let prices: Vec<String> = i
                .prices
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    format!(
                        "${:.2}/h {} {}{} ({})",
                        p.usd_per_hour,
                        p.provider,
                        p.size,
                        if k == 0 { ", default" } else { "" },
                        p.as_of
                    )
                })
                .collect();
            rows.push(vec![
                i.id.clone(),
                i.name.clone(),
                format!("{} x {}", i.gpus, i.gpu),
                i.interconnect.kind.name().into(),
                prices.join("; "),
            ]);
        }
        out.push_str(&table(&rows));
    }
    out.push_str("\nSources:\n");
    for i in c.instances.values() {
        out.push_str(&format!(
            "  {} interconnect: {}\n",
            i.id, i.interconnect_source
        ));
        for p in &i.prices {
            out.push_str(&format!(
                "  {} price {} {}: ${:.2}/h as of {} ({})\n",
                i.id, p.provider, p.instance, p.usd_per_hour, p.as_of, p.source
            ));
        }
    }
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
        "Engine classes (an experiment names a family as `kind` and optionally a `version`; without one the family's current class):\n\n",
    );
    let mut rows = vec![vec![
        "class".into(),
        "versions".into(),
        "scheduler".into(),
        "MBU".into(),
        "MFU".into(),
        "CUDA graphs".into(),
        "host/step".into(),
        "host/seq".into(),
        "launch floor/layer".into(),
        "overlap".into(),
        "int4 kernels".into(),
    ]];
    for k in c.classes.values() {
        let int4 = k.kernels_for("int4").map_or("-".to_string(), |ks| {
            ks.iter()
                .map(|k| k.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        });
        rows.push(vec![
            format!("{}{}", k.id, if k.current { " *" } else { "" }),
            k.versions.join(" "),
            k.scheduler.clone(),
            format!("{:.2}", k.mbu),
            format!("{:.2}", k.mfu),
            if k.cuda_graph_max_batch > 0 {
                format!("<= {}", k.cuda_graph_max_batch)
            } else {
                "no".into()
            },
            format!("{:.2} ms", k.host.per_step_s * 1e3),
            format!("{:.0} us", k.host.per_seq_s * 1e6),
            format!(
                "{:.0} us",
                k.kernels.kernels_per_layer * k.kernels.launch_s * 1e6
            ),
            if k.overlapped { "yes" } else { "no" }.into(),
            int4,
        ]);
    }
    out.push_str(&table(&rows));
    out.push_str("* current release of its family\n");
    for k in c.classes.values() {
        out.push_str(&format!(
            "\n{} ({}), runtime memory {}:\n",
            k.id,
            k.description,
            gib(k.runtime_overhead)
        ));
        for (field, src) in &k.sources {
            out.push_str(&format!("  {field}: {src}\n"));
        }
    }
    out.push_str("\nQuantized kernels (speed relative to the engine's fp16 kernels):\n");
    let mut rows = vec![vec![
        "kernel".into(),
        "runs on".into(),
        "bw eff".into(),
        "compute x".into(),
        "rows per weight read".into(),
        "fp16 reconstruct above".into(),
    ]];
    for k in c.kernels.values() {
        let on: Vec<&str> = k.runs_on.iter().map(|a| a.name()).collect();
        rows.push(vec![
            k.id.clone(),
            on.join(","),
            format!("{:.2}", k.bandwidth_efficiency),
            format!("{:.2}", k.compute_overhead),
            if k.rows_per_read == 0 {
                "all".into()
            } else {
                k.rows_per_read.to_string()
            },
            if k.reconstruct_above == 0 {
                "never".into()
            } else {
                format!("{} tokens", k.reconstruct_above)
            },
        ]);
    }
    out.push_str(&table(&rows));
    for k in c.kernels.values() {
        out.push_str(&format!("  {}: {}\n", k.id, k.source));
    }
    out.push_str(&format!(
        "\nOverlap exponent p = {}: {}\n",
        c.overlap_exponent, c.overlap_reasoning
    ));
    out.push('\n');
    out.push_str(&c.engines.describe());
    out
}

/// Everything `capsim curve` shows about one deployment.
#[derive(Debug)]
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
    pub class: &'a EngineClass,
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
        "{} {} on {} x {} ({}, {} link), engine class {} (MBU {:.2}, MFU {:.2}{})\n",
        i.llm.name,
        i.quant.id,
        i.tp,
        i.gpu.name,
        i.gpu.arch.name(),
        i.gpu.interconnect.kind.name(),
        i.class.id,
        i.class.mbu,
        i.class.mfu,
        i.perf
            .kernel()
            .map_or(String::new(), |k| format!(", {k} kernel"))
    );
    out.push_str(&format!(
        "memory per GPU: usable {} ({:.2} GiB x {}) = weights {} + runtime {} + KV cache {}\n",
        gib(m.usable_per_gpu),
        i.gpu.visible_memory / GIB,
        i.memory_utilization,
        gib(m.weights_per_gpu),
        gib(m.overhead_per_gpu),
        gib(m.kv_per_gpu.max(0.0)),
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
                    format!(
                        "{:.1}",
                        (i.perf.api_seconds(p) + i.perf.step_seconds(&StepShape::prefill(p))) * 1e3
                    )
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

    // Where a decode step's time goes, so that floors and communication are visible.
    let ctx = contexts.iter().copied().find(|&c| c >= 512).unwrap_or(128);
    out.push_str(&format!(
        "\nDecode step at context {ctx}, where the time goes (ms; the step is GPU work or the launch floor, whichever is larger, {} the host work):\n",
        if i.class.overlapped { "overlapped with" } else { "plus" }
    ));
    let mut rows = vec![
        [
            "batch",
            "linear",
            "attention",
            "non-GEMM",
            "all-reduce",
            "GPU",
            "launch floor",
            "host",
            "step",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>(),
    ];
    for batch in [1u64, 8, 32, 128] {
        if batch * ctx > kv_tokens {
            continue;
        }
        let b = i.perf.breakdown(&StepShape::decode(batch, ctx));
        rows.push(
            std::iter::once(batch.to_string())
                .chain(
                    [
                        b.linear,
                        b.attention,
                        b.non_gemm,
                        b.comm,
                        b.gpu(),
                        b.launch_floor,
                        b.host,
                        b.total,
                    ]
                    .iter()
                    .map(|t| format!("{:.2}", t * 1e3)),
                )
                .collect(),
        );
    }
    out.push_str(&table(&rows));
    out.push_str(&format!(
        "API server per request: {:.2} ms + tokenisation (in time to first token and end-to-end latency)\n",
        i.perf.api_seconds(0) * 1e3
    ));
    out
}
