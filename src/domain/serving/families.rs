//! Engine families as the scenario holds them: any family's settings type whose `Batcher`
//! implementation drives an LLM endpoint is an [`EngineFamily`], so a family is added in its own
//! file and this one names none of them.

use std::any::Any;
use std::rc::Rc;

use super::super::llm_service::{EngineFamily, EngineSpec};
use super::batcher::Batcher;
use super::pool::{DynBatcher, Engine, Event};
use crate::sim::Simulation;

impl<B> EngineFamily for B
where
    B: for<'e, 'x> Batcher<Engine<'e, 'x>, Simulation<Event>> + Clone + Send + Sync + 'static,
{
    fn kind(&self) -> &'static str {
        Batcher::<Engine<'_, '_>, Simulation<Event>>::name(self)
    }

    fn refuses_when_full(&self) -> bool {
        Batcher::<Engine<'_, '_>, Simulation<Event>>::admission_cap(self).is_some()
    }

    fn max_running(&self) -> u64 {
        Batcher::<Engine<'_, '_>, Simulation<Event>>::capacity(self)
    }

    fn batcher(&self) -> Box<dyn Any> {
        let batcher: Rc<DynBatcher> = Rc::new(self.clone());
        Box::new(batcher)
    }
}

/// The batcher of `spec`, fresh for one run.
pub fn of(spec: &EngineSpec) -> Rc<DynBatcher> {
    match spec.family().batcher().downcast::<Rc<DynBatcher>>() {
        Ok(b) => *b,
        // Only the implementation above makes batchers, and it makes this type.
        Err(_) => unreachable!("every engine family is a batcher of LLM endpoints"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{StaticBatch, Tgi, Vllm};
    use super::*;
    use crate::sim::SimDuration;

    #[test]
    fn every_family_makes_its_own_batcher_and_answers_for_itself() {
        let specs = [
            EngineSpec::new(Vllm {
                max_num_seqs: 256,
                max_batched_tokens: 2048,
                chunked_prefill: true,
            }),
            EngineSpec::new(Tgi {
                max_concurrent: 128,
                max_prefill_tokens: 4146,
                waiting_served_ratio: 0.3,
                max_waiting_tokens: 20,
            }),
            EngineSpec::new(StaticBatch {
                max_batch: 8,
                max_wait: SimDuration::from_millis(50),
            }),
        ];
        let kinds: Vec<&str> = specs.iter().map(EngineSpec::kind).collect();
        assert_eq!(kinds, ["vllm", "tgi", "static"]);
        for s in &specs {
            let b = of(s);
            assert_eq!(b.name(), s.kind());
            assert_eq!(s.refuses_when_full(), b.admission_cap().is_some());
        }
        assert!(specs[1].refuses_when_full() && !specs[0].refuses_when_full());
        // The scenario's Debug text, which the experiment fingerprint hashes, names the
        // settings as the engine enum's variants did.
        assert_eq!(
            format!("{:?}", specs[0]),
            "Vllm { max_num_seqs: 256, max_batched_tokens: 2048, chunked_prefill: true }"
        );
        assert_eq!(
            format!("{:?}", specs[2]),
            format!(
                "Static {{ max_batch: 8, max_wait: {:?} }}",
                SimDuration::from_millis(50)
            )
        );
    }
}
