//! Step time of one forward pass from first principles.
//!
//! A step processes `decode_seqs` decoding sequences (one new token each) and `prefill_tokens`
//! prompt tokens of `prefill_seqs` prompts (possibly chunks of longer prompts). It has a GPU
//! part and a host part, per GPU of a tensor-parallel group:
//!
//! ```text
//! gpu    = smax(weight bytes read / (BW·MBU·k_q),  linear FLOPs · c_q / (peak_q·MFU))
//!        + smax(KV bytes read / (BW·MBU),           attention FLOPs / (peak_16·MFU))
//!        + layers · (non-GEMM kernels · kernel floor + activation bytes / (BW·MBU))
//!        + all-reduces per layer · layers · all_reduce(tokens · hidden · 2 bytes, tp)
//! device = max(gpu, launch floor)      launch floor: one CUDA-graph launch, or, where no
//!                                      graph covers the step, every kernel launched one by one
//! host   = per step + per sequence · sequences + per prompt token · prompt tokens
//! step   = device + host               engines that wait for the host (serial)
//!        = max(device, host)           engines that schedule the next step while the GPU runs
//! ```
//! `smax(a, b) = (a^p + b^p)^(1/p)` is a smooth roofline (see `models/engines.toml`); `k_q`,
//! `c_q` are the speed of the quantized kernel the engine runs. The all-reduce time comes from
//! measured bus bandwidth and per-call latency of the instance's topology. For a fixed set of
//! decoding sequences the GPU part is `a + b·(Σ context)`, so the step time is piecewise linear
//! in Σ context (flat while a floor or the host dominates) and many steps can be summed in
//! closed form.

use super::hardware::{Gpu, Interconnect, Precision};
use super::llm::LlmSpec;
use super::quant::{Kernel, Quantization};

/// Host-side work of one step: scheduling, input preparation, sampling, detokenisation and
/// output processing, in seconds.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct HostCost {
    /// Fixed part of every step.
    pub per_step_s: f64,
    /// Per running sequence in the step.
    pub per_seq_s: f64,
    /// Per prompt token in the step (input preparation of prefill chunks).
    pub per_prefill_token_s: f64,
}

/// Kernel-launch and small-kernel costs that no faster GPU removes.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct KernelCost {
    /// Kernels launched per decoder layer (GEMMs, attention, norms, rotary, activations,
    /// residual adds, all-reduces).
    pub kernels_per_layer: f64,
    /// Host time to launch one kernel outside a CUDA graph, seconds.
    pub launch_s: f64,
    /// Host time to launch a captured CUDA graph of a whole step, seconds.
    pub graph_launch_s: f64,
    /// Non-GEMM kernels per layer (norms, rotary, activation, residual adds).
    pub non_gemm_per_layer: f64,
    /// Shortest time any kernel occupies the GPU, seconds.
    pub kernel_floor_s: f64,
    /// Passes over the activations (read plus write, bytes = passes · tokens · hidden · 2) the
    /// non-GEMM kernels of one layer make.
    pub activation_passes: f64,
}

/// Time a request spends in the API server outside the engine: HTTP handling, tokenisation
/// of the prompt, and detokenisation and framing of the answer, seconds.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct ApiCost {
    /// Fixed part of every request.
    pub per_request_s: f64,
    /// Per prompt token (tokenisation).
    pub per_prompt_token_s: f64,
}

/// One class of serving engine (an engine at a range of versions): its efficiency, host
/// overheads, CUDA-graph use, scheduling overlap, quantized kernels and sources.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineClass {
    /// Catalog id, e.g. `vllm-v1`.
    pub id: String,
    /// Engine family (`vllm`, `tgi`, `sglang`, `tensorrt-llm`, `transformers`).
    pub family: String,
    /// Batching scheduler it runs (`vllm`, `tgi` or `static`).
    pub scheduler: String,
    /// Versions it covers, as `major.minor` prefixes (e.g. `1.0` covers 1.0.3).
    pub versions: Vec<String>,
    /// Whether it is the family's current release, used when no version is named.
    pub current: bool,
    /// What belongs to the class.
    pub description: String,
    /// Achieved fraction of spec memory bandwidth (model bandwidth utilisation).
    pub mbu: f64,
    /// Achieved fraction of peak tensor throughput (model FLOPs utilisation).
    pub mfu: f64,
    /// Memory per GPU besides weights and KV cache (CUDA context, workspaces), bytes.
    pub runtime_overhead: f64,
    /// Largest decode batch captured in a CUDA graph (0: no CUDA graphs).
    pub cuda_graph_max_batch: u64,
    /// Whether the host prepares the next step while the GPU runs this one.
    pub overlapped: bool,
    /// Whether a vLLM-like scheduler chunks prompts by default.
    pub chunked_prefill: bool,
    /// Whether the default limit on running sequences comes from the KV token pool (SGLang's
    /// `max_running_requests`) rather than from the scheduler's `max-num-seqs` default.
    pub running_limit_from_kv_pool: bool,
    /// TGI's waiting-served ratio in this version, where it differs from the scheduler default.
    pub waiting_served_ratio: Option<f64>,
    /// Share of spec bandwidth the decode-attention kernel reaches on long contexts.
    pub attention_bandwidth: f64,
    /// Fixed cost of attention per sequence, in KV tokens' worth of reading: short contexts
    /// reach a smaller share of the bandwidth (work partitioning, launch, tail effects).
    pub attention_overhead_tokens: f64,
    /// Host work per step.
    pub host: HostCost,
    /// Launch and small-kernel costs.
    pub kernels: KernelCost,
    /// API-server time per request.
    pub api: ApiCost,
    /// Tensor-parallel all-reduces per decoder layer.
    pub all_reduces_per_layer: f64,
    /// Whether the engine keeps a prefix cache by default (vLLM V1's automatic prefix
    /// caching, SGLang's radix cache, TensorRT-LLM's KV block reuse).
    pub prefix_caching: bool,
    /// Tokens per KV block where the class differs from its scheduler's default (SGLang's
    /// page size 1, TensorRT-LLM's 32 tokens per block).
    pub block_size: Option<u32>,
    /// Quantized kernels by quantization id, in order of preference: the first that runs on
    /// the GPU's architecture is used.
    pub quant_kernels: Vec<(String, Vec<Kernel>)>,
    /// Evidence and reasoning, by field.
    pub sources: Vec<(String, String)>,
}

impl EngineClass {
    /// The kernels this class lists for quantization `quant`, if it lists any.
    pub fn kernels_for(&self, quant: &str) -> Option<&[Kernel]> {
        self.quant_kernels
            .iter()
            .find(|(q, _)| q == quant)
            .map(|(_, k)| k.as_slice())
    }

    /// Whether the class covers `version` (a `major.minor` prefix of it is listed).
    pub fn covers(&self, version: &str) -> bool {
        self.versions
            .iter()
            .any(|v| version == v || version.starts_with(&format!("{v}.")))
    }
}

/// The shape of one step.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct StepShape {
    /// Sequences producing one token each.
    pub decode_seqs: u64,
    /// Sum of their context lengths (KV tokens each reads).
    pub decode_ctx: u64,
    /// Prompt tokens processed.
    pub prefill_tokens: u64,
    /// Prompts those tokens belong to.
    pub prefill_seqs: u64,
    /// (query, key) pairs the prompt tokens attend: Σ over prompt tokens of position + 1.
    pub prefill_pairs: u64,
    /// KV tokens from before the chunks that they read (chunked prefill of a long prompt).
    pub prefill_kv_read: u64,
}

impl StepShape {
    /// One whole prompt of `tokens`, prefilled from position zero.
    pub fn prefill(tokens: u64) -> Self {
        StepShape {
            prefill_tokens: tokens,
            prefill_seqs: u64::from(tokens > 0),
            prefill_pairs: tokens * (tokens + 1) / 2,
            ..Self::default()
        }
    }

    /// `seqs` sequences decoding at context `ctx` each.
    pub fn decode(seqs: u64, ctx: u64) -> Self {
        StepShape {
            decode_seqs: seqs,
            decode_ctx: seqs * ctx,
            ..Self::default()
        }
    }
}

/// Where the time of one step goes, seconds.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct StepBreakdown {
    /// Linear layers (weights read or matmul compute, smoothly maxed).
    pub linear: f64,
    /// Attention over the KV cache.
    pub attention: f64,
    /// Norms, rotary, activations, residual adds.
    pub non_gemm: f64,
    /// Tensor-parallel all-reduces.
    pub comm: f64,
    /// Launch floor: the GPU cannot finish the step before its kernels are launched.
    pub launch_floor: f64,
    /// Host work (scheduling, sampling, input and output processing).
    pub host: f64,
    /// The step time.
    pub total: f64,
}

impl StepBreakdown {
    /// GPU work: linear, attention, non-GEMM and all-reduce time.
    pub fn gpu(&self) -> f64 {
        self.linear + self.attention + self.non_gemm + self.comm
    }
}

/// Everything the step-time formula needs, per GPU, with the efficiencies already applied.
#[derive(Clone, Debug, PartialEq)]
pub struct PerfModel {
    dense_weight_bytes: f64,
    expert_weight_bytes: f64,
    experts: Option<(f64, f64)>,
    weight_bandwidth: f64,
    linear_flops_per_token: f64,
    linear_flops_rate: f64,
    kv_bytes_per_token: f64,
    kv_bandwidth: f64,
    attention_overhead_tokens: f64,
    attention_flops_per_pair: f64,
    attention_flops_rate: f64,
    exponent: f64,
    tp: u32,
    layers: f64,
    activation_bytes_per_token: f64,
    interconnect: Interconnect,
    all_reduces_per_layer: f64,
    non_gemm_floor_s: f64,
    non_gemm_s_per_token: f64,
    eager_launch_s: f64,
    graph_launch_s: f64,
    graph_max_batch: u64,
    host: HostCost,
    overlapped: bool,
    api: ApiCost,
    kernel: Option<String>,
    rows_per_read: u32,
    reconstruct_above: u32,
    /// fp16 bytes of the quantized linear weights per GPU: what a reconstructing kernel writes
    /// and the dense GEMM then reads.
    fp16_linear_bytes: f64,
    /// Matmul rate of a dense fp16 GEMM.
    fp16_flops_rate: f64,
    /// Bandwidth of the fp16 path.
    fp16_bandwidth: f64,
    /// Seconds per KV token of attention, computed once (it takes powers, and decode lines
    /// are on the hot path).
    attention_s_per_token: f64,
    /// The constant part of a decode step of `n` sequences for `n` below its length, computed
    /// once for the same reason.
    decode_constant: Vec<f64>,
}

/// Decode batches up to this size have their constant step part precomputed.
const DECODE_TABLE: usize = 1024;

/// Smooth maximum `(a^p + b^p)^(1/p)`.
pub fn smax(a: f64, b: f64, p: f64) -> f64 {
    if a <= 0.0 {
        return b.max(0.0);
    }
    if b <= 0.0 {
        return a;
    }
    // Scaled by the larger term to avoid overflow for large p. That term's ratio is exactly 1,
    // and so is any power of it, so only the smaller term needs a `powf`: the same value as
    // `m * ((a / m)^p + (b / m)^p)^(1/p)`, bit for bit, with one `powf` fewer (they dominate
    // the step-time model's cost).
    let (m, small) = if a >= b { (a, b) } else { (b, a) };
    m * (1.0 + (small / m).powf(p)).powf(1.0 / p)
}

/// What a [`PerfModel`] is built from.
#[derive(Clone, Copy, Debug)]
pub struct PerfInputs<'a> {
    /// The GPU.
    pub gpu: &'a Gpu,
    /// How its GPUs are linked (the GPU's own, or its instance's).
    pub interconnect: &'a Interconnect,
    /// The model.
    pub llm: &'a LlmSpec,
    /// The quantization.
    pub quant: &'a Quantization,
    /// GPUs per replica.
    pub tp: u32,
    /// The engine class.
    pub class: &'a EngineClass,
    /// KV-cache bytes per element.
    pub kv_bytes: f64,
    /// Smooth-roofline exponent.
    pub exponent: f64,
}

impl PerfModel {
    /// The step-time model of one deployment. Fails if the GPU cannot run the quantization
    /// with any kernel the engine class has for it.
    pub fn new(i: &PerfInputs<'_>) -> Result<Self, String> {
        let (gpu, llm, quant, class) = (i.gpu, i.llm, i.quant, i.class);
        let cannot = || {
            format!(
                "{} does not run {} ({} architecture)",
                gpu.name,
                quant.name,
                gpu.arch.name()
            )
        };
        let base = quant.on(gpu.arch).ok_or_else(cannot)?;
        let (on, kernel) = match class.kernels_for(&quant.id) {
            None => (base, None),
            Some(kernels) => kernels
                .iter()
                .find_map(|k| k.apply(quant, gpu.arch).map(|on| (on, Some(k))))
                .ok_or_else(|| {
                    let ids: Vec<&str> = kernels.iter().map(|k| k.id.as_str()).collect();
                    format!(
                        "{} has no {} kernel for {} ({} architecture): its kernels {} do not run there",
                        class.id,
                        quant.id,
                        gpu.name,
                        gpu.arch.name(),
                        ids.join(", ")
                    )
                })?,
        };
        let peak = gpu.peak(on.compute).ok_or_else(|| {
            format!(
                "{} has no {} throughput in its catalog file",
                gpu.name, on.compute
            )
        })?;
        let attention_peak = if on.compute == Precision::Fp32 {
            peak
        } else {
            gpu.peak(Precision::Fp16).unwrap_or(peak)
        };
        let tp = i.tp.max(1);
        let tpf = f64::from(tp);
        let bpw = quant.bytes_per_weight();
        let emb = llm.embedding_params() as f64;
        let tied = if llm.tied_embeddings { emb } else { 0.0 };
        let expert_params = llm.params_per_expert() as f64;
        let all_experts = llm.experts.map_or(0.0, |e| f64::from(e.total)) * expert_params;
        let dense_linear = llm.linear_params() as f64 - all_experts;
        let layers = f64::from(llm.layers);
        let k = &class.kernels;
        // Activations are 16-bit; norms and activations run on the full hidden state on every
        // GPU of the group (it is replicated after each all-reduce).
        let activation_bytes = f64::from(llm.hidden) * 2.0;
        let mut m = PerfModel {
            // The output head of a tied model is the embedding table, kept at 16 bits.
            dense_weight_bytes: ((dense_linear - tied) * bpw + tied * quant.embedding_bytes())
                / tpf,
            expert_weight_bytes: expert_params * bpw / tpf,
            experts: llm
                .experts
                .map(|e| (f64::from(e.total), f64::from(e.active))),
            weight_bandwidth: gpu.bandwidth * class.mbu * on.bandwidth_efficiency,
            linear_flops_per_token: 2.0 * llm.active_linear_params() as f64 / tpf,
            linear_flops_rate: peak * class.mfu / on.compute_overhead,
            kv_bytes_per_token: llm.kv_bytes_per_token(i.kv_bytes) / tpf,
            kv_bandwidth: gpu.bandwidth * class.attention_bandwidth,
            attention_overhead_tokens: class.attention_overhead_tokens,
            attention_flops_per_pair: llm.attention_flops_per_pair() / tpf,
            attention_flops_rate: attention_peak * class.mfu,
            exponent: i.exponent,
            tp,
            layers,
            activation_bytes_per_token: activation_bytes,
            interconnect: i.interconnect.clone(),
            all_reduces_per_layer: class.all_reduces_per_layer,
            non_gemm_floor_s: layers * k.non_gemm_per_layer * k.kernel_floor_s,
            non_gemm_s_per_token: layers * k.activation_passes * activation_bytes
                / (gpu.bandwidth * class.mbu),
            eager_launch_s: layers * k.kernels_per_layer * k.launch_s,
            graph_launch_s: k.graph_launch_s,
            graph_max_batch: class.cuda_graph_max_batch,
            host: class.host,
            overlapped: class.overlapped,
            api: class.api,
            kernel: kernel.map(|k| k.id.clone()),
            rows_per_read: kernel.map_or(0, |k| k.rows_per_read),
            reconstruct_above: kernel.map_or(0, |k| k.reconstruct_above),
            fp16_linear_bytes: 2.0 * (dense_linear - tied) / tpf,
            fp16_flops_rate: gpu.peak(Precision::Fp16).unwrap_or(peak) * class.mfu,
            fp16_bandwidth: gpu.bandwidth * class.mbu,
            attention_s_per_token: 0.0,
            decode_constant: Vec::new(),
        };
        m.attention_s_per_token = smax(
            m.kv_bytes_per_token / m.kv_bandwidth,
            m.attention_flops_per_pair / m.attention_flops_rate,
            m.exponent,
        );
        m.decode_constant = (0..DECODE_TABLE)
            .map(|n| m.decode_constant_of(n as f64))
            .collect();
        Ok(m)
    }

    /// The part of a decode step of `n` sequences that does not grow with their context.
    fn decode_constant_of(&self, n: f64) -> f64 {
        self.linear(n)
            + self.non_gemm(n)
            + self.comm(n)
            + n * self.attention_overhead_tokens * self.attention_s_per_token
    }

    fn weight_bytes(&self, tokens: f64) -> f64 {
        match self.experts {
            Some((n, k)) => {
                let touched = n * (1.0 - (1.0 - k / n).powf(tokens));
                self.dense_weight_bytes + touched * self.expert_weight_bytes
            }
            None => self.dense_weight_bytes,
        }
    }

    fn linear(&self, tokens: f64) -> f64 {
        if tokens <= 0.0 {
            return 0.0;
        }
        if self.reconstruct_above > 0 && tokens > f64::from(self.reconstruct_above) {
            // Dequantize to fp16 (read quantized, write fp16), then a dense GEMM reads fp16.
            let memory = self.weight_bytes(tokens) / self.weight_bandwidth
                + 2.0 * self.fp16_linear_bytes / self.fp16_bandwidth;
            let compute = tokens * self.linear_flops_per_token / self.fp16_flops_rate;
            return smax(memory, compute, self.exponent);
        }
        let reads = if self.rows_per_read > 0 {
            (tokens / f64::from(self.rows_per_read)).ceil()
        } else {
            1.0
        };
        let memory = reads * self.weight_bytes(tokens) / self.weight_bandwidth;
        let compute = tokens * self.linear_flops_per_token / self.linear_flops_rate;
        smax(memory, compute, self.exponent)
    }

    fn non_gemm(&self, tokens: f64) -> f64 {
        if tokens <= 0.0 {
            return 0.0;
        }
        // Each small kernel takes at least the floor; large batches are bandwidth-bound.
        self.non_gemm_floor_s
            .max(tokens * self.non_gemm_s_per_token)
    }

    fn comm(&self, tokens: f64) -> f64 {
        if self.tp <= 1 || tokens <= 0.0 {
            return 0.0;
        }
        self.all_reduces_per_layer
            * self.layers
            * self
                .interconnect
                .all_reduce_seconds(tokens * self.activation_bytes_per_token, self.tp)
    }

    /// Decode attention of `seqs` sequences whose contexts sum to `ctx`: each reads its
    /// context plus the kernel's fixed cost per sequence.
    fn decode_attention(&self, seqs: u64, ctx: u64) -> f64 {
        if seqs == 0 {
            return 0.0;
        }
        (ctx as f64 + seqs as f64 * self.attention_overhead_tokens) * self.attention_per_token()
    }

    /// Seconds per KV token of attention (memory or compute, smoothly maxed).
    fn attention_per_token(&self) -> f64 {
        self.attention_s_per_token
    }

    /// The launch floor of a step: one graph launch when a CUDA graph covers it (decode-only
    /// steps up to the largest captured batch), else every kernel launched one by one.
    fn launch_floor(&self, decode_only: bool, seqs: u64) -> f64 {
        if decode_only && seqs <= self.graph_max_batch {
            self.graph_launch_s
        } else {
            self.eager_launch_s
        }
    }

    fn host_seconds(&self, seqs: u64, prefill_tokens: u64) -> f64 {
        self.host.per_step_s
            + self.host.per_seq_s * seqs as f64
            + self.host.per_prefill_token_s * prefill_tokens as f64
    }

    fn combine(&self, device: f64, host: f64) -> f64 {
        if self.overlapped {
            device.max(host)
        } else {
            device + host
        }
    }

    /// Where the time of one step of `s` goes.
    pub fn breakdown(&self, s: &StepShape) -> StepBreakdown {
        let tokens = (s.decode_seqs + s.prefill_tokens) as f64;
        if tokens == 0.0 {
            return StepBreakdown::default();
        }
        // Decoders read their whole context once per step. A prompt chunk reads the KV of the
        // positions before it once and computes every (query, key) pair it covers.
        let prefill_attention = smax(
            s.prefill_kv_read as f64 * self.kv_bytes_per_token / self.kv_bandwidth,
            s.prefill_pairs as f64 * self.attention_flops_per_pair / self.attention_flops_rate,
            self.exponent,
        );
        let seqs = s.decode_seqs + s.prefill_seqs;
        let mut b = StepBreakdown {
            linear: self.linear(tokens),
            attention: self.decode_attention(s.decode_seqs, s.decode_ctx) + prefill_attention,
            non_gemm: self.non_gemm(tokens),
            comm: self.comm(tokens),
            launch_floor: self.launch_floor(s.prefill_tokens == 0, seqs),
            host: self.host_seconds(seqs, s.prefill_tokens),
            total: 0.0,
        };
        b.total = self.combine(b.gpu().max(b.launch_floor), b.host);
        b
    }

    /// Duration of one step, seconds.
    pub fn step_seconds(&self, s: &StepShape) -> f64 {
        self.breakdown(s).total
    }

    /// For `seqs` decoding sequences whose contexts sum to `ctx_sum`: `(α, β, steps)` with
    /// step time `α + β·Σcontext` seconds for the next `steps` steps (Σcontext grows by `seqs`
    /// a step). While a launch floor or overlapped host work exceeds the GPU work the step
    /// time is flat; once the growing attention term passes it, linear.
    pub fn decode_line(&self, seqs: u64, ctx_sum: u64) -> (f64, f64, u64) {
        if seqs == 0 {
            return (0.0, 0.0, u64::MAX);
        }
        let n = seqs as f64;
        let b = self.attention_per_token();
        let a = match self.decode_constant.get(seqs as usize) {
            Some(&a) => a,
            None => self.decode_constant_of(n),
        };
        let floor = self.launch_floor(true, seqs);
        let host = self.host_seconds(seqs, 0);
        let (flat, serial) = if self.overlapped {
            (floor.max(host), 0.0)
        } else {
            (floor, host)
        };
        if a + b * ctx_sum as f64 >= flat {
            return (a + serial, b, u64::MAX);
        }
        if b <= 0.0 {
            return (flat + serial, 0.0, u64::MAX);
        }
        // Flat until Σcontext reaches the crossing point (`as` saturates at u64::MAX).
        let cross = (flat - a) / b;
        let steps = ((cross - ctx_sum as f64) / n).ceil().max(1.0) as u64;
        (flat + serial, 0.0, steps)
    }

    /// Seconds a request spends in the API server outside the engine (HTTP handling,
    /// tokenising `prompt_tokens`): it adds to time to first token and end-to-end latency.
    pub fn api_seconds(&self, prompt_tokens: u64) -> f64 {
        self.api.per_request_s + self.api.per_prompt_token_s * prompt_tokens as f64
    }

    /// KV-cache bytes per token on one GPU.
    pub fn kv_bytes_per_token_per_gpu(&self) -> f64 {
        self.kv_bytes_per_token
    }

    /// The quantized kernel family the engine runs, if the class chose one.
    pub fn kernel(&self) -> Option<&str> {
        self.kernel.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_max_lies_between_max_and_sum() {
        let (a, b) = (3.0, 4.0);
        let s = smax(a, b, 1.3);
        assert!(s > 4.0 && s < 7.0);
        assert!((smax(a, b, 1.0) - 7.0).abs() < 1e-12);
        assert!((smax(a, b, 200.0) - 4.0).abs() < 0.01);
        assert_eq!(smax(0.0, 2.0, 1.3), 2.0);
    }
}
