//! The engine families by name: the one place the simulation looks at which family an
//! engine is.

use std::rc::Rc;

use super::super::llm_service::EngineSpec;
use super::pool::DynBatcher;
use super::static_batch::StaticBatch;
use super::tgi::Tgi;
use super::vllm::Vllm;

/// The batcher of `spec`.
pub fn of(spec: &EngineSpec) -> Rc<DynBatcher> {
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
