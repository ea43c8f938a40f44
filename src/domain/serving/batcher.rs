//! The batching engine families behind one trait. A replica's engine is a [`Batcher`]: it
//! chooses each step when the GPU is free and says how the KV cache is counted; the step
//! machinery (segments, completions, preemption) in `engine` is shared. Each family has its own
//! file (`vllm`, `tgi`, `static_batch`); the engine classes of the catalog (vllm-v0, vllm-v0.6,
//! vllm-v1, sglang, tgi-1..3, tensorrt-llm, transformers) are mapped onto these families with
//! their settings and costs, and need no code here.

use std::rc::Rc;

use super::super::llm_service::EngineSpec;
use super::pool::{Event, LlmEndpoint};
use super::static_batch::StaticBatch;
use super::tgi::Tgi;
use super::vllm::Vllm;
use crate::sim::Simulation;

/// A batching engine family and its settings.
pub(super) trait Batcher: std::fmt::Debug {
    /// Chooses and starts the next step of the current replica of `ep`, whose GPU is free;
    /// leaves it idle if there is nothing to do.
    fn plan(&self, ep: &mut LlmEndpoint<'_>, sim: &mut Simulation<Event>);

    /// KV tokens in use on the current replica. By default the reservations.
    fn kv_used(&self, ep: &LlmEndpoint<'_>) -> u64 {
        ep.st.reserved
    }

    /// KV tokens the current replica will physically hold when the step being started ends,
    /// after `decode_steps` more decode tokens and `chunk_tokens` more prompt tokens. By
    /// default the reservations, which bound what is stored.
    fn kv_at_end(&self, ep: &LlmEndpoint<'_>, decode_steps: u64, chunk_tokens: u64) -> u64 {
        let _ = (decode_steps, chunk_tokens);
        ep.st.reserved
    }

    /// Whether every admitted attempt reserves KV for its whole length, given back when it
    /// leaves.
    fn reserves_per_attempt(&self) -> bool {
        false
    }

    /// Most attempts the engine runs at once (what a replica pulls from an async queue).
    fn capacity(&self) -> u64;

    /// Most attempts queued plus running that the engine's own router admits; more are refused
    /// (HTTP 429). `None`: no such cap.
    fn admission_cap(&self) -> Option<u64> {
        None
    }
}

/// The batcher of `spec`. The one place the simulation looks at which family an engine is.
pub(super) fn of(spec: &EngineSpec) -> Rc<dyn Batcher> {
    match *spec {
        EngineSpec::Vllm {
            max_num_seqs,
            max_batched_tokens,
            chunked_prefill,
        } => Rc::new(Vllm {
            max_num_seqs,
            max_batched_tokens,
            chunked_prefill,
        }),
        EngineSpec::Tgi {
            max_concurrent,
            max_prefill_tokens,
            waiting_served_ratio,
            max_waiting_tokens,
        } => Rc::new(Tgi {
            max_concurrent,
            max_prefill_tokens,
            waiting_served_ratio,
            max_waiting_tokens,
        }),
        EngineSpec::Static {
            max_batch,
            max_wait,
        } => Rc::new(StaticBatch {
            max_batch,
            max_wait,
        }),
    }
}
