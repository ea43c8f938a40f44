//! An LLM endpoint: requests with prompt and output tokens, served by replicas behind a load
//! balancer, each with a batching engine (vLLM-like continuous batching, TGI-like, or static
//! batching) and a step-time model; replicas start cold, scale on load and scale to zero.
//!
//! What an LLM endpoint is (step times, engine, replicas, lifecycle) is described in
//! [`crate::domain::llm_service`]. The simulation is split by concern: `pool` holds the state, the
//! attempt lifecycle and event dispatch, `engine` chooses and runs steps, `lifecycle` starts,
//! scales and bills replicas, `timeseries` summarises windows.
//!
//! Each `Replica` owns its waiting queue, its KV cache, its running sequences, its GPU and the
//! engine (`Batcher`) that plans its steps; what replicas share (the attempts, the router's hold
//! queue, the autoscaler's signals, the statistics) is the pool's `Shared`. Engine code runs on
//! an `Engine`: one replica borrowed together with the shared part, so no replica is ever
//! swapped in or out to be worked on.
//!
//! # Engines
//! - **vllm**: every step carries one token for each decoding sequence plus prompt chunks
//!   (chunked prefill) up to `max-num-batched-tokens`; at most `max-num-seqs` sequences run. KV
//!   cache is paged in blocks; when the next step would not fit, the most recently admitted
//!   sequence is preempted: its KV is freed and it is queued first, to be recomputed (its prompt
//!   and the tokens generated so far are prefilled again). KV use is counted with one partly
//!   filled block per sequence, so it never exceeds the capacity.
//! - **tgi**: queued plus running requests are capped at `max-concurrent-requests`; more are
//!   refused at once (HTTP 429, outcome `rejected`). Waiting requests are prefilled together, up
//!   to `max-batch-prefill-tokens`, in a step that pauses decoding; a prefill happens when the
//!   batch is empty, when waiting/running reaches `waiting-served-ratio`, or after
//!   `max-waiting-tokens` decode steps. Each admitted request reserves KV for its whole length.
//! - **static**: requests are collected until `max-batch` are waiting or the oldest has waited
//!   `max-wait`; the batch is padded to its longest prompt, and runs until its longest output
//!   ends; every request in it is answered then. A running batch cannot be cancelled.
//!
//! # Time
//! A decode step is not an event. While the batch does not change, the engine runs a segment
//! of many steps whose total time is known in closed form (step time is `α + β·Σcontext`, and
//! Σcontext grows by the batch size every step). An arrival or a cancellation cuts the segment
//! at the next step boundary. Sequences store the global step count at which they joined, so
//! advancing a segment costs nothing per sequence.
mod batcher;
mod engine;
pub mod families;
mod lifecycle;
pub mod pool;
mod prefix;
mod static_batch;
mod tgi;
mod timeseries;
mod vllm;

pub use super::client::{BreakerState, ClassStats, ClientOutput, RequestRecord};
pub use super::llm_service::{
    Autoscaler, Balancer, ColdConnections, EngineFamily, EngineSpec, Lifecycle, LlmService,
    ScaleSignal, StepModel, WhenUnavailable,
};
pub use super::stats::{ServingStats, WindowRow};
pub use pool::{LlmEndpoint, LlmEvent};
pub use static_batch::StaticBatch;
pub use tgi::Tgi;
pub use vllm::Vllm;
