//! LLM architectures: what determines weight bytes, KV-cache bytes and FLOPs per token.

/// Mixture-of-experts layout.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Experts {
    /// Experts per layer.
    pub total: u32,
    /// Experts each token is routed to.
    pub active: u32,
}

/// A transformer decoder.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmSpec {
    /// Catalog id, e.g. `llama-2-7b`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// All parameters.
    pub params: u64,
    /// Parameters used per token (differs for mixture-of-experts).
    pub active_params: u64,
    /// Decoder layers.
    pub layers: u32,
    /// Hidden size.
    pub hidden: u32,
    /// Query heads.
    pub heads: u32,
    /// Key/value heads (fewer than `heads` with grouped-query attention).
    pub kv_heads: u32,
    /// Dimension per head.
    pub head_dim: u32,
    /// FFN intermediate size (per expert for MoE).
    pub intermediate: u32,
    /// Vocabulary size.
    pub vocab: u32,
    /// Longest context the model supports.
    pub max_context: u32,
    /// Sliding attention window, if any (recorded, not modelled: attention is taken as full).
    pub sliding_window: Option<u32>,
    /// Whether the output head shares the embedding matrix.
    pub tied_embeddings: bool,
    /// Mixture-of-experts layout.
    pub experts: Option<Experts>,
    /// Where the figures come from.
    pub source: String,
}

impl LlmSpec {
    /// Parameters of the input embedding table.
    pub fn embedding_params(&self) -> u64 {
        u64::from(self.vocab) * u64::from(self.hidden)
    }

    /// Parameters in linear layers (everything but the input embedding; includes the output head,
    /// which for tied embeddings is the embedding matrix itself).
    pub fn linear_params(&self) -> u64 {
        if self.tied_embeddings {
            self.params
        } else {
            self.params - self.embedding_params()
        }
    }

    /// Linear parameters one token passes through.
    pub fn active_linear_params(&self) -> u64 {
        self.linear_params() - (self.params - self.active_params)
    }

    /// Parameters of one expert (gate, up and down projections in every layer), or 0.
    pub fn params_per_expert(&self) -> u64 {
        match self.experts {
            Some(_) => {
                3 * u64::from(self.hidden) * u64::from(self.intermediate) * u64::from(self.layers)
            }
            None => 0,
        }
    }

    /// KV-cache bytes per token at `bytes_per_elem` (keys and values, every layer).
    pub fn kv_bytes_per_token(&self, bytes_per_elem: f64) -> f64 {
        2.0 * f64::from(self.layers)
            * f64::from(self.kv_heads)
            * f64::from(self.head_dim)
            * bytes_per_elem
    }

    /// Attention FLOPs per (query, key) pair across all layers: QK^T and AV, 2 FLOPs per MAC.
    pub fn attention_flops_per_pair(&self) -> f64 {
        4.0 * f64::from(self.layers) * f64::from(self.heads) * f64::from(self.head_dim)
    }

    /// Expected number of distinct experts a batch of `tokens` touches in one layer.
    pub fn experts_touched(&self, tokens: f64) -> f64 {
        match self.experts {
            Some(e) => {
                let (n, k) = (f64::from(e.total), f64::from(e.active));
                n * (1.0 - (1.0 - k / n).powf(tokens.max(0.0)))
            }
            None => 0.0,
        }
    }
}
