//! The batching engine families behind one trait (built by `families`). A replica's engine is a [`Batcher`]: it
//! chooses each step when the GPU is free and says how the KV cache is counted; the step
//! machinery (segments, completions, preemption) in `engine` is shared. Each family has its own
//! file (`vllm`, `tgi`, `static_batch`); the engine classes of the catalog (vllm-v0, vllm-v0.6,
//! vllm-v1, sglang, tgi-1..3, tensorrt-llm, transformers) are mapped onto these families with
//! their settings and costs, and need no code here.

/// A batching engine family and its settings, driving one replica at work (`E`, the pool's
/// `Engine`: the replica's own state with what it shares with the others) whose events are
/// scheduled on `S`. The types are parameters so that this file depends on nothing: every
/// replica holds its batcher without knowing the families, and each family's file knows the
/// replica (`pool`).
pub trait Batcher<E, S>: std::fmt::Debug {
    /// Chooses and starts the next step of the replica `ep`, whose GPU is free; leaves it idle
    /// if there is nothing to do.
    fn plan(&self, ep: &mut E, sim: &mut S);

    /// KV tokens in use on the replica.
    fn kv_used(&self, ep: &E) -> u64;

    /// KV tokens the replica will physically hold when the step being started ends,
    /// after `decode_steps` more decode tokens and `chunk_tokens` more prompt tokens.
    fn kv_at_end(&self, ep: &E, decode_steps: u64, chunk_tokens: u64) -> u64;

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

    /// The family's name in experiment files and outputs (the scheduler an engine class names).
    fn name(&self) -> &'static str;
}
