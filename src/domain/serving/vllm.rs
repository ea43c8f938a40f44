//! vLLM-like continuous batching: every step carries one token for each decoding sequence plus
//! prompt chunks (chunked prefill) up to `max-num-batched-tokens`; at most `max-num-seqs`
//! sequences run. The KV cache is paged; when the decoders' next token would not fit, the most
//! recently admitted sequence is preempted and recomputed later.

use super::super::request::RequestId;
use super::batcher::Batcher;
use super::pool::{Engine, Event};
use crate::sim::Simulation;

/// vLLM's scheduler settings.
#[derive(Clone, Debug)]
pub struct Vllm {
    /// Running sequences at most.
    pub max_num_seqs: u32,
    /// Tokens per step at most.
    pub max_batched_tokens: u32,
    /// Whether long prompts are split into chunks that share steps with decodes.
    pub chunked_prefill: bool,
}

/// Prefix-cache tokens running sequences hold: counted once however many share them (each
/// sequence's own count leaves them out, see `Kv::shared`).
fn held_cache(ep: &Engine<'_, '_>) -> u64 {
    ep.rep.cache.as_ref().map_or(0, |c| c.pinned_tokens())
}

/// KV tokens of the partly filled last block a sequence may hold.
fn block_slack(ep: &Engine<'_, '_>) -> u64 {
    u64::from(ep.sh.svc.block_size.max(1) - 1)
}

impl Batcher<Engine<'_, '_>, Simulation<Event>> for Vllm {
    fn plan(&self, ep: &mut Engine<'_, '_>, sim: &mut Simulation<Event>) {
        let (max_seqs, max_tokens, chunked) = (
            self.max_num_seqs,
            self.max_batched_tokens,
            self.chunked_prefill,
        );
        let now = sim.now();
        // Make room for the decoders' next token, preempting the newest sequences if needed.
        while ep.rep.decoding > 0 && ep.kv_used() + ep.rep.decoding > ep.sh.svc.kv_tokens {
            ep.preempt_newest(sim);
        }
        let mut budget = u64::from(max_tokens);
        let mut chunks: Vec<(RequestId, u32)> = Vec::new();
        if chunked {
            budget = budget.saturating_sub(ep.rep.decoding);
        }
        let kv_cap = ep.sh.svc.kv_tokens;
        let mut kv = ep.kv_used() + ep.rep.decoding;
        // Prompts already being prefilled continue first; their KV is already reserved.
        for &id in &ep.rep.prefilling.clone() {
            if budget == 0 {
                break;
            }
            let r = ep.attempt(id);
            let left = u64::from(r.prefill_target - r.prefilled);
            let c = if chunked { left.min(budget) } else { left };
            if !chunked && c > budget {
                break;
            }
            chunks.push((id, c as u32));
            budget -= c;
        }
        // Then new requests, first come first served, while sequences, tokens and KV allow.
        while budget > 0 && (ep.rep.decoding + ep.rep.prefilling.len() as u64) < u64::from(max_seqs)
        {
            let Some(head) = ep.waiting_head() else {
                break;
            };
            let need = u64::from(ep.attempt(head).prefill_target);
            // A cached prefix needs no prefill, and no new blocks unless it was evictable.
            let hit = ep.cache_peek(head);
            let fresh = need - u64::from(hit.tokens);
            let c = if chunked { fresh.min(budget) } else { fresh };
            // A request without a prompt decodes at once: its first token is written this step.
            let first_token = u64::from(need == 0);
            let grows = fresh + hit.idle_tokens + first_token + block_slack(ep);
            if (!chunked && c > budget) || kv + grows > kv_cap {
                break;
            }
            let id = ep.take_waiting(now).expect("head exists");
            ep.admit(id);
            kv += grows;
            if need == 0 {
                // Nothing to prefill (a profile-driven, non-LLM request): decode straight away.
                ep.start_decoding_without_prompt(id);
                continue;
            }
            chunks.push((id, c as u32));
            budget -= c;
        }
        if !chunks.is_empty() {
            // Without chunking, a prefill step pauses decoding (prefill first, as vLLM v0 did).
            let with_decoders = chunked && ep.rep.decoding > 0;
            ep.start_mixed(sim, chunks, with_decoders);
        } else if let Some(kv_steps) = (kv_cap - ep.kv_used()).checked_div(ep.rep.decoding) {
            // Decode until the first completion or until the KV cache would overflow.
            ep.start_segment(sim, kv_steps.max(1));
        }
        ep.note_kv_at_end(0, 0);
    }

    /// Every stored token, counting a partly filled block for every sequence.
    fn kv_used(&self, ep: &Engine<'_, '_>) -> u64 {
        let seqs = ep.rep.decoding + ep.rep.prefilling.len() as u64;
        ep.rep.kv.prefill + ep.dec_ctx() + seqs * block_slack(ep) - ep.rep.kv.shared
            + held_cache(ep)
    }

    /// Decoders after `decode_steps` more tokens, prompts prefilled so far plus `chunk_tokens`,
    /// and one partly filled block per sequence.
    fn kv_at_end(&self, ep: &Engine<'_, '_>, decode_steps: u64, chunk_tokens: u64) -> u64 {
        let prefilled: u64 = ep
            .rep
            .prefilling
            .iter()
            .map(|&id| u64::from(ep.attempt(id).prefilled))
            .sum();
        let seqs = ep.rep.decoding + ep.rep.prefilling.len() as u64;
        ep.dec_ctx()
            + ep.rep.decoding * decode_steps
            + prefilled
            + chunk_tokens
            + seqs * block_slack(ep)
            - ep.rep.kv.shared
            + held_cache(ep)
    }

    fn capacity(&self) -> u64 {
        u64::from(self.max_num_seqs)
    }

    fn name(&self) -> &'static str {
        "vllm"
    }
}
