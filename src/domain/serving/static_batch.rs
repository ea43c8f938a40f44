//! Static batching: requests are collected until `max-batch` are waiting or the oldest has
//! waited `max-wait`; the batch is padded to its longest prompt and runs until its longest output
//! ends; every request in it is answered then. A running batch cannot be cancelled.

use super::super::request::RequestId;
use super::batcher::Batcher;
use super::pool::{Busy, Engine, Event, LlmEvent, State};
use crate::domain::llm_service::secs;
use crate::domain::perf::StepShape;
use crate::sim::{SimDuration, Simulation};

/// Static batching settings.
#[derive(Clone)]
pub struct StaticBatch {
    /// Requests per batch at most.
    pub max_batch: u32,
    /// Longest wait for a batch to fill.
    pub max_wait: SimDuration,
}

/// Shown as `Static { .. }`, the name these settings had in the scenario before they moved
/// here, so that experiment fingerprints (a hash of the scenario's `Debug` text) stay the same.
impl std::fmt::Debug for StaticBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Static")
            .field("max_batch", &self.max_batch)
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

impl Batcher<Engine<'_, '_>, Simulation<Event>> for StaticBatch {
    fn plan(&self, ep: &mut Engine<'_, '_>, sim: &mut Simulation<Event>) {
        let (max_batch, max_wait) = (self.max_batch, self.max_wait);
        let now = sim.now();
        let Some(head) = ep.waiting_head() else {
            return;
        };
        let oldest = ep.attempt(head).arrived;
        if ep.rep.queue.live < u64::from(max_batch) && now < oldest + max_wait {
            ep.rep.timer_epoch += 1;
            sim.schedule_at(
                oldest + max_wait,
                ep.ev(LlmEvent::BatchTimer(ep.r, ep.rep.timer_epoch)),
            );
            return;
        }
        // Take requests while the padded batch fits the KV cache.
        let mut batch: Vec<RequestId> = Vec::new();
        let (mut max_p, mut max_o) = (0u64, 0u64);
        while batch.len() < max_batch as usize {
            let Some(h) = ep.waiting_head() else { break };
            let (p, o) = (
                u64::from(ep.attempt(h).prompt),
                u64::from(ep.attempt(h).output),
            );
            let (np, no) = (max_p.max(p), max_o.max(o));
            if !batch.is_empty() && (batch.len() as u64 + 1) * (np + no) > ep.sh.svc.kv_tokens {
                break;
            }
            let id = ep.take_waiting(now).expect("head exists");
            ep.attempt_mut(id).state = State::Batched;
            batch.push(id);
            (max_p, max_o) = (np, no);
        }
        let b = batch.len() as u64;
        ep.rep.kv.reserved = b * (max_p + max_o);
        let prefill_s = ep.sh.svc.step.step_seconds(&StepShape {
            prefill_tokens: b * max_p,
            prefill_seqs: b,
            prefill_pairs: b * max_p * (max_p + 1) / 2,
            ..StepShape::default()
        });
        // The prefill step produces the first token; without prompts the first decode step does.
        let (steps, c0) = if max_p > 0 {
            (max_o - 1, b * (max_p + 1))
        } else {
            (max_o, 0)
        };
        let first_step = if max_p > 0 {
            prefill_s
        } else {
            ep.sh.svc.step.decode_seconds(b, 0, 1)
        };
        let total = prefill_s + ep.sh.svc.step.decode_seconds(b, c0, steps);
        let busy = Busy::Static {
            start: now,
            batch,
            first_token: now + secs(first_step),
        };
        ep.start_busy(sim, busy, total);
        ep.note_kv_at_end(0, 0);
    }

    /// The reservations, which bound what is stored.
    fn kv_used(&self, ep: &Engine<'_, '_>) -> u64 {
        ep.rep.kv.reserved
    }

    fn kv_at_end(&self, ep: &Engine<'_, '_>, _decode_steps: u64, _chunk_tokens: u64) -> u64 {
        ep.rep.kv.reserved
    }

    fn capacity(&self) -> u64 {
        u64::from(self.max_batch)
    }

    fn name(&self) -> &'static str {
        "static"
    }
}
