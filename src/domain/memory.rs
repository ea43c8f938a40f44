//! Does a model fit a GPU, and how much KV cache is left?
//!
//! Per GPU: usable = visible memory × memory utilisation; weights = stored weight bytes / tp;
//! KV cache = usable − weights − runtime overhead. The replica holds `kv_tokens` tokens of KV
//! cache in total. A deployment fits if its KV cache holds at least one sequence of the longest
//! allowed length (vLLM refuses to start otherwise).

use super::hardware::Gpu;
use super::llm::LlmSpec;
use super::quant::Quantization;

/// Where the memory of one replica goes.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryPlan {
    /// GPUs in the replica (tensor parallelism).
    pub tp: u32,
    /// Memory the engine may use on each GPU, bytes.
    pub usable_per_gpu: f64,
    /// Weights on each GPU, bytes.
    pub weights_per_gpu: f64,
    /// Runtime overhead on each GPU, bytes.
    pub overhead_per_gpu: f64,
    /// Left for the KV cache on each GPU, bytes (negative when it does not fit).
    pub kv_per_gpu: f64,
    /// KV-cache bytes per token for the whole model.
    pub kv_bytes_per_token: f64,
}

impl MemoryPlan {
    /// The memory plan of `llm` at `quant` on `tp` × `gpu`.
    pub fn new(
        gpu: &Gpu,
        llm: &LlmSpec,
        quant: &Quantization,
        tp: u32,
        memory_utilization: f64,
        overhead_per_gpu: f64,
        kv_bytes: f64,
    ) -> Self {
        let tpf = f64::from(tp.max(1));
        let usable = gpu.visible_memory * memory_utilization;
        let weights = stored_weight_bytes(llm, quant) / tpf;
        MemoryPlan {
            tp: tp.max(1),
            usable_per_gpu: usable,
            weights_per_gpu: weights,
            overhead_per_gpu,
            kv_per_gpu: usable - weights - overhead_per_gpu,
            kv_bytes_per_token: llm.kv_bytes_per_token(kv_bytes),
        }
    }

    /// Tokens of KV cache the replica holds (0 when nothing is left).
    pub fn kv_tokens(&self) -> u64 {
        let total = self.kv_per_gpu * f64::from(self.tp);
        if total <= 0.0 {
            0
        } else {
            (total / self.kv_bytes_per_token).floor() as u64
        }
    }

    /// Whether the KV cache holds one sequence of `tokens`.
    pub fn fits(&self, tokens: u64) -> bool {
        self.kv_per_gpu > 0.0 && self.kv_tokens() >= tokens
    }

    /// Memory one replica needs per GPU to hold `tokens` of KV cache, bytes.
    pub fn needed_per_gpu(&self, tokens: u64) -> f64 {
        self.weights_per_gpu
            + self.overhead_per_gpu
            + tokens as f64 * self.kv_bytes_per_token / f64::from(self.tp)
    }
}

/// Bytes of the stored weights: linear layers at the quantized size, the embedding at 16 bits.
pub fn stored_weight_bytes(llm: &LlmSpec, quant: &Quantization) -> f64 {
    let emb = llm.embedding_params() as f64;
    (llm.params as f64 - emb) * quant.bytes_per_weight() + emb * quant.embedding_bytes()
}
