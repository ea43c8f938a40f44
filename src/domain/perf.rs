//! Step time of one forward pass from first principles.
//!
//! A step processes `decode_seqs` decoding sequences (one new token each) and `prefill_tokens`
//! prompt tokens (possibly a chunk of a longer prompt). Per GPU of a tensor-parallel group:
//!
//! ```text
//! t = overhead
//!   + smax(weight bytes read / (BW·MBU·k_q),  linear FLOPs · c_q / (peak_q·MFU))
//!   + smax(KV bytes read / (BW·MBU),           attention FLOPs / (peak_16·MFU))
//!   + 2 · layers · (link latency + 2(tp−1)/tp · activation bytes / link bandwidth)
//! ```
//! `smax(a, b) = (a^p + b^p)^(1/p)` is a smooth roofline (see `models/engines.toml`). Both smax
//! terms are positively homogeneous, so for a fixed set of decoding sequences the step time is
//! `α + β·(Σ context)`: it grows linearly as every sequence's context grows by one token per
//! step, and many steps can be summed in closed form.

use super::hardware::{Gpu, Precision};
use super::llm::LlmSpec;
use super::quant::Quantization;

/// Efficiency factors of one class of serving engine (optimised, eager).
#[derive(Clone, Debug, PartialEq)]
pub struct EfficiencyClass {
    /// Catalog id.
    pub id: String,
    /// What belongs to the class.
    pub description: String,
    /// Achieved fraction of spec memory bandwidth (model bandwidth utilisation).
    pub mbu: f64,
    /// Achieved fraction of peak tensor throughput (model FLOPs utilisation).
    pub mfu: f64,
    /// Fixed time per step (scheduling, launches), seconds.
    pub step_overhead_s: f64,
    /// Memory per GPU besides weights and KV cache (CUDA context, workspaces), bytes.
    pub runtime_overhead: f64,
    /// Evidence and reasoning.
    pub reasoning: String,
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
    attention_flops_per_pair: f64,
    attention_flops_rate: f64,
    overhead_s: f64,
    exponent: f64,
    tp: u32,
    layers: f64,
    activation_bytes_per_token: f64,
    link_bandwidth: f64,
    link_latency_s: f64,
}

/// Smooth maximum `(a^p + b^p)^(1/p)`.
pub fn smax(a: f64, b: f64, p: f64) -> f64 {
    if a <= 0.0 {
        return b.max(0.0);
    }
    if b <= 0.0 {
        return a;
    }
    let m = a.max(b);
    // Scaled to avoid overflow for large p.
    m * ((a / m).powf(p) + (b / m).powf(p)).powf(1.0 / p)
}

impl PerfModel {
    /// The model of `llm` quantized with `quant` on `tp` GPUs of type `gpu`, run by an engine of
    /// `class`, with KV cache at `kv_bytes` per element. Fails if the GPU cannot run `quant`.
    pub fn new(
        gpu: &Gpu,
        llm: &LlmSpec,
        quant: &Quantization,
        tp: u32,
        class: &EfficiencyClass,
        kv_bytes: f64,
        exponent: f64,
    ) -> Result<Self, String> {
        let on = quant.on(gpu.arch).ok_or_else(|| {
            format!(
                "{} does not run {} ({} architecture)",
                gpu.name,
                quant.name,
                gpu.arch.name()
            )
        })?;
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
        let tpf = f64::from(tp.max(1));
        let bpw = quant.bytes_per_weight();
        let emb = llm.embedding_params() as f64;
        let tied = if llm.tied_embeddings { emb } else { 0.0 };
        let expert_params = llm.params_per_expert() as f64;
        let all_experts = llm.experts.map_or(0.0, |e| f64::from(e.total)) * expert_params;
        let dense_linear = llm.linear_params() as f64 - all_experts;
        Ok(PerfModel {
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
            kv_bytes_per_token: llm.kv_bytes_per_token(kv_bytes) / tpf,
            kv_bandwidth: gpu.bandwidth * class.mbu,
            attention_flops_per_pair: llm.attention_flops_per_pair() / tpf,
            attention_flops_rate: attention_peak * class.mfu,
            overhead_s: class.step_overhead_s,
            exponent,
            tp: tp.max(1),
            layers: f64::from(llm.layers),
            activation_bytes_per_token: f64::from(llm.hidden) * 2.0,
            link_bandwidth: gpu.interconnect.bandwidth,
            link_latency_s: gpu.interconnect.latency_s,
        })
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

    fn linear_and_comm(&self, tokens: f64) -> f64 {
        if tokens <= 0.0 {
            return 0.0;
        }
        let memory = self.weight_bytes(tokens) / self.weight_bandwidth;
        let compute = tokens * self.linear_flops_per_token / self.linear_flops_rate;
        let mut t = smax(memory, compute, self.exponent);
        if self.tp > 1 {
            let tp = f64::from(self.tp);
            let bytes = tokens * self.activation_bytes_per_token;
            t += 2.0
                * self.layers
                * (self.link_latency_s + 2.0 * (tp - 1.0) / tp * bytes / self.link_bandwidth);
        }
        t
    }

    /// Seconds per KV token of attention (memory or compute, smoothly maxed).
    fn attention_per_token(&self) -> f64 {
        smax(
            self.kv_bytes_per_token / self.kv_bandwidth,
            self.attention_flops_per_pair / self.attention_flops_rate,
            self.exponent,
        )
    }

    /// Duration of one step, seconds.
    pub fn step_seconds(&self, s: &StepShape) -> f64 {
        let tokens = (s.decode_seqs + s.prefill_tokens) as f64;
        if tokens == 0.0 {
            return 0.0;
        }
        // Decoders read their whole context once per step. A prompt chunk reads the KV of the
        // positions before it once and computes every (query, key) pair it covers.
        let prefill_attention = smax(
            s.prefill_kv_read as f64 * self.kv_bytes_per_token / self.kv_bandwidth,
            s.prefill_pairs as f64 * self.attention_flops_per_pair / self.attention_flops_rate,
            self.exponent,
        );
        let attention = s.decode_ctx as f64 * self.attention_per_token() + prefill_attention;
        self.overhead_s + self.linear_and_comm(tokens) + attention
    }

    /// For `seqs` decoding sequences: `(α, β)` with step time `α + β·Σcontext` seconds.
    pub fn decode_line(&self, seqs: u64) -> (f64, f64) {
        if seqs == 0 {
            return (0.0, 0.0);
        }
        (
            self.overhead_s + self.linear_and_comm(seqs as f64),
            self.attention_per_token(),
        )
    }

    /// KV-cache bytes per token on one GPU.
    pub fn kv_bytes_per_token_per_gpu(&self) -> f64 {
        self.kv_bytes_per_token
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
