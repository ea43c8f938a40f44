//! TGI-like continuous batching: queued plus running requests are capped at
//! `max-concurrent-requests` (more are refused, HTTP 429). Waiting requests are prefilled
//! together, up to `max-batch-prefill-tokens`, in a step that pauses decoding; a prefill happens
//! when the batch is empty, when waiting/running reaches `waiting-served-ratio`, or after
//! `max-waiting-tokens` decode steps. Each admitted request reserves KV for its whole length.

use super::batcher::Batcher;
use super::pool::{Engine, Event};
use crate::sim::Simulation;

/// TGI's router and scheduler settings.
#[derive(Clone, Debug)]
pub struct Tgi {
    /// Queued plus running requests at most; more are refused with HTTP 429.
    pub max_concurrent: u32,
    /// Prompt tokens per prefill step at most.
    pub max_prefill_tokens: u32,
    /// A prefill is considered when waiting / running reaches this.
    pub waiting_served_ratio: f64,
    /// After this many decode steps waiting requests are prefilled anyway.
    pub max_waiting_tokens: u32,
}

impl Batcher<Engine<'_, '_>, Simulation<Event>> for Tgi {
    fn plan(&self, ep: &mut Engine<'_, '_>, sim: &mut Simulation<Event>) {
        let (max_prefill, ratio, max_waiting_tokens) = (
            self.max_prefill_tokens,
            self.waiting_served_ratio,
            self.max_waiting_tokens,
        );
        let now = sim.now();
        let waiting = ep.rep.queue.live;
        let running = ep.rep.decoding;
        let prefill_now = waiting > 0
            && (running == 0
                || waiting as f64 / running as f64 >= ratio
                || ep.rep.steps_since_prefill >= u64::from(max_waiting_tokens));
        if prefill_now {
            let mut budget = u64::from(max_prefill);
            let mut chunks = Vec::new();
            while let Some(head) = ep.waiting_head() {
                let (p, o) = (
                    u64::from(ep.attempt(head).prefill_target),
                    u64::from(ep.attempt(head).output),
                );
                if (p > budget && !chunks.is_empty())
                    || ep.rep.kv.reserved + p + o > ep.sh.svc.kv_tokens
                {
                    break;
                }
                let id = ep.take_waiting(now).expect("head exists");
                ep.admit(id);
                ep.attempt_mut(id).reserved = p + o;
                ep.rep.kv.reserved += p + o;
                if p == 0 {
                    ep.start_decoding_without_prompt(id);
                    continue;
                }
                chunks.push((id, p as u32));
                budget = budget.saturating_sub(p);
                if budget == 0 {
                    break;
                }
            }
            if !chunks.is_empty() {
                ep.rep.steps_since_prefill = 0;
                ep.start_mixed(sim, chunks, false);
                ep.note_kv_at_end(0, 0);
                return;
            }
        }
        if ep.rep.decoding > 0 {
            let forced = if waiting > 0 {
                u64::from(max_waiting_tokens)
                    .saturating_sub(ep.rep.steps_since_prefill)
                    .max(1)
            } else {
                u64::MAX
            };
            ep.start_segment(sim, forced);
        }
        ep.note_kv_at_end(0, 0);
    }

    fn reserves_per_attempt(&self) -> bool {
        true
    }

    /// The reservations, which bound what is stored.
    fn kv_used(&self, ep: &Engine<'_, '_>) -> u64 {
        ep.rep.kv.reserved
    }

    fn kv_at_end(&self, ep: &Engine<'_, '_>, _decode_steps: u64, _chunk_tokens: u64) -> u64 {
        ep.rep.kv.reserved
    }

    fn capacity(&self) -> u64 {
        u64::from(self.max_concurrent)
    }

    fn admission_cap(&self) -> Option<u64> {
        Some(u64::from(self.max_concurrent))
    }

    fn name(&self) -> &'static str {
        "tgi"
    }
}
