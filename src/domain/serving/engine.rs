//! The step machinery all engine families share: waking the engine, running decode segments
//! in closed form, admission, preemption, completions and cancellations. Which step comes next
//! is the family's [`super::batcher::Batcher`].

use std::cmp::Reverse;
use std::rc::Rc;

use super::super::endpoint::Notice;
use super::super::llm_service::{completed_steps, secs, segment_seconds};
use super::super::policy::Discipline;
use super::super::prompt::Segment;
use super::super::request::{Outcome, RequestId};
use super::pool::{Attempt, BUSY, Busy, Engine, Event, LlmEvent, State, WAITING};
use super::prefix::Hit;
use crate::domain::perf::StepShape;
use crate::sim::{SimTime, Simulation};

impl Engine<'_, '_> {
    pub(super) fn attempt(&self, id: RequestId) -> &Attempt {
        self.sh.attempt(id)
    }

    pub(super) fn attempt_mut(&mut self, id: RequestId) -> &mut Attempt {
        self.sh.attempt_mut(id)
    }

    pub(super) fn live(&self, id: RequestId) -> bool {
        self.sh.live(id)
    }

    /// Wraps one of this endpoint's events.
    pub(super) fn ev(&self, e: LlmEvent) -> Event {
        self.sh.ev(e)
    }

    /// Frees an attempt of this replica once the server side is done.
    pub(super) fn release(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        self.sh.release(sim, id, Some(self.rep));
    }

    /// Takes a request on this replica: refused if its limits are reached, else queued.
    pub(super) fn assign(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        let now = sim.now();
        let r = self.r;
        let req = self.attempt_mut(id);
        let was_held = req.state == State::Held;
        req.replica = r;
        req.state = State::Waiting;
        // A request a proxy held is connected already; the client hears only of a new one.
        let newly_connected = req.connected.is_none();
        req.connected.get_or_insert(now);
        let (owner, lane, measured, abandoned) = (req.owner, req.lane, req.measured, req.abandoned);
        self.rep.assigned += 1;
        if was_held && newly_connected && !abandoned {
            self.sh
                .outbox
                .push(Notice::Connected { owner, attempt: id });
        }
        let rep = &*self.rep;
        let in_server = rep.queue.live + rep.decoding + rep.prefilling.len() as u64;
        let svc = self.sh.svc;
        let over_cap = rep.engine.admission_cap().is_some_and(|c| in_server >= c)
            || svc
                .max_concurrent
                .is_some_and(|c| in_server >= u64::from(c));
        let queue_full = svc.queue_capacity.is_some_and(|c| rep.queue.live >= c);
        if over_cap || queue_full {
            self.sh.decide(sim, id, Outcome::Rejected);
            self.release(sim, id);
            return;
        }
        if measured && !matches!(self.rep.busy, Busy::Idle) {
            self.sh.stats.queued += 1;
        }
        self.rep.queue.push_back(usize::from(lane), id);
        self.rep.queue.live += 1;
        let sh = &mut *self.sh;
        sh.total_waiting += 1;
        sh.stats.set_waiting(now, sh.total_waiting);
        sh.signals[WAITING].set(now, (sh.total_waiting + sh.hold_live) as f64);
        if let Some(t) = svc.queue_timeout {
            // The queue timeout counts from arrival at the endpoint.
            let at = (self.attempt(id).arrived + t).max(now);
            sim.schedule_at(at, self.ev(LlmEvent::QueueTimeout(id)));
        }
        self.wake(sim);
    }

    /// Counts a step under way at `end` (the horizon) as busy up to then.
    pub(super) fn close_replica(&mut self, end: SimTime) {
        let kv = self.kv_used() as f64;
        let (sh, rep) = (&mut *self.sh, &*self.rep);
        match &rep.busy {
            Busy::Segment { start, b, .. } => {
                let level = *b as f64;
                sh.serving.batch_area += sh.area(*start, end, level);
                sh.serving.kv_area += sh.area(*start, end, kv);
            }
            Busy::Mixed { start, chunks, .. } => {
                let level = chunks.len() as f64;
                sh.serving.batch_area += sh.area(*start, end, level);
            }
            Busy::Static { start, batch, .. } => {
                let level = batch.len() as f64;
                sh.serving.batch_area += sh.area(*start, end, level);
            }
            Busy::Idle => {}
        }
    }

    /// Σ context of decoding sequences now.
    pub(super) fn dec_ctx(&self) -> u64 {
        self.rep.dec_ctx_base + self.rep.decoding * (self.rep.global - self.rep.base_global)
    }

    pub(super) fn rebase(&mut self) {
        self.rep.dec_ctx_base = self.dec_ctx();
        self.rep.base_global = self.rep.global;
    }

    /// KV tokens in use on the current replica, as its engine counts them.
    pub(super) fn kv_used(&self) -> u64 {
        self.rep.engine.kv_used(self)
    }

    /// Records the KV cache a step will physically hold when it ends (after `decode_steps`
    /// more decode tokens and `chunk_tokens` more prompt tokens), for the never-exceeds check.
    pub(super) fn note_kv_at_end(&mut self, decode_steps: u64, chunk_tokens: u64) {
        let held = self.rep.engine.kv_at_end(self, decode_steps, chunk_tokens);
        // Cached blocks no sequence holds give way to what the running ones need.
        let idle = match self.rep.cache.as_mut() {
            Some(cache) => {
                cache.evict_to(self.sh.svc.kv_tokens.saturating_sub(held));
                cache.idle_tokens()
            }
            None => 0,
        };
        self.sh.serving.kv_peak = self.sh.serving.kv_peak.max(held + idle);
    }

    pub(super) fn generated_now(&self, id: RequestId) -> u32 {
        let r = self.attempt(id);
        match r.state {
            State::Decoding => r.generated + (self.rep.global - r.base_step) as u32,
            _ => r.generated,
        }
    }

    /// Something changed (arrival, cancellation): let the engine react at the next chance.
    pub(super) fn wake(&mut self, sim: &mut Simulation<Event>) {
        match &self.rep.busy {
            Busy::Idle => self.plan(sim),
            Busy::Segment { .. } => self.cut_segment(sim),
            Busy::Mixed { .. } | Busy::Static { .. } => {}
        }
    }

    /// Ends the running decode segment at the next step boundary.
    pub(super) fn cut_segment(&mut self, sim: &mut Simulation<Event>) {
        let Busy::Segment {
            start,
            steps,
            alpha,
            beta,
            c0,
            b,
        } = self.rep.busy.clone()
        else {
            return;
        };
        let bf = b as f64;
        let m = completed_steps(alpha, beta, c0, b, sim.now() - start).min(steps);
        let at_boundary =
            m > 0 && start + secs(segment_seconds(alpha, beta, c0, bf, m)) == sim.now();
        let new_steps = if at_boundary { m } else { m + 1 };
        if new_steps < steps {
            self.rep.epoch += 1;
            self.rep.busy = Busy::Segment {
                start,
                steps: new_steps,
                alpha,
                beta,
                c0,
                b,
            };
            let end = start + secs(segment_seconds(alpha, beta, c0, bf, new_steps));
            let done = self.ev(LlmEvent::StepDone(self.r, self.rep.epoch));
            sim.schedule_at(end.max(sim.now()), done);
        }
    }

    pub(super) fn start_busy(&mut self, sim: &mut Simulation<Event>, busy: Busy, seconds: f64) {
        self.rep.busy = busy;
        self.rep.epoch += 1;
        if !self.rep.counted_busy {
            self.rep.counted_busy = true;
            self.sh.busy_replicas += 1;
            self.sh.stats.set_busy(sim.now(), self.sh.busy_replicas);
            self.sh.signals[BUSY].set(sim.now(), f64::from(self.sh.busy_replicas));
        }
        let done = self.ev(LlmEvent::StepDone(self.r, self.rep.epoch));
        sim.schedule_in(secs(seconds), done);
    }

    /// Chooses and starts the next step when the GPU is free.
    pub(super) fn plan(&mut self, sim: &mut Simulation<Event>) {
        self.rep.busy = Busy::Idle;
        let batcher = Rc::clone(&self.rep.engine);
        batcher.plan(self, sim);
        if matches!(self.rep.busy, Busy::Idle) && self.rep.counted_busy {
            self.rep.counted_busy = false;
            self.sh.busy_replicas -= 1;
            self.sh.stats.set_busy(sim.now(), self.sh.busy_replicas);
            self.sh.signals[BUSY].set(sim.now(), f64::from(self.sh.busy_replicas));
        }
    }

    /// The next live waiting request, dropping stale entries.
    pub(super) fn waiting_head(&mut self) -> Option<RequestId> {
        let lanes = self.rep.queue.q.len();
        // Drop stale entries at the front of every lane.
        for l in 0..lanes {
            while let Some(&id) = self.rep.queue.q[l].front() {
                if self.live(id) && self.attempt(id).state == State::Waiting {
                    break;
                }
                self.rep.queue.q[l].pop_front();
            }
        }
        let w = &self.rep.queue;
        let lane = match self.sh.discipline {
            // One lane, or lanes in priority order: the first non-empty one.
            Discipline::Fifo | Discipline::Strict => (0..lanes).find(|&l| !w.q[l].is_empty()),
            Discipline::Weighted => (0..lanes)
                .filter(|&l| !w.q[l].is_empty())
                .min_by(|&a, &b| w.vt[a].total_cmp(&w.vt[b]).then(a.cmp(&b))),
        }?;
        self.rep.queue.head = lane;
        self.rep.queue.q[lane].front().copied()
    }

    pub(super) fn take_waiting(&mut self, now: SimTime) -> Option<RequestId> {
        let id = self.waiting_head()?;
        let lane = self.rep.queue.head;
        let w = &mut self.rep.queue;
        w.q[lane].pop_front();
        w.vnow = w.vt[lane];
        w.vt[lane] += 1.0 / self.sh.lane_weights[lane];
        self.leave_queue(now, id);
        Some(id)
    }

    pub(super) fn admit(&mut self, id: RequestId) {
        self.rep.admit_counter += 1;
        let order = self.rep.admit_counter;
        let r = self.attempt_mut(id);
        r.state = State::Prefilling;
        r.admit_order = order;
        r.prefilled = 0;
        // KV for the whole prompt is reserved at admission (as vLLM allocates a prompt's
        // blocks), so later chunks of a long prompt always fit.
        let target = u64::from(r.prefill_target);
        let measured = r.measured;
        self.rep.kv.prefill += target;
        self.rep.admitted.insert(order, id);
        self.rep.prefilling.push(id);
        // A cached prefix is not prefilled again: its tokens count as done (their KV is still
        // read by the rest of the prompt's attention), and its blocks are counted once.
        let mut hit = 0;
        if let Some(cache) = self.rep.cache.as_mut() {
            let r = self.sh.attempts.get_mut(id);
            if let Some(content) = &r.content {
                let (h, path) = cache.acquire(content);
                hit = h.tokens;
                r.prefilled = hit;
                r.path = path;
                r.shared = hit;
                self.rep.kv.shared += u64::from(hit);
            }
        }
        if measured {
            let s = &mut self.sh.serving;
            s.prompt_tokens_admitted += target;
            s.prefill_tokens_saved += u64::from(hit);
            self.sh.window.prompt_tokens += target;
            self.sh.window.hit_tokens += u64::from(hit);
        }
    }

    /// What the head of the queue would take from the prefix cache if admitted now.
    pub(super) fn cache_peek(&self, id: RequestId) -> Hit {
        match (&self.rep.cache, &self.attempt(id).content) {
            (Some(cache), Some(content)) => cache.peek(content),
            _ => Hit::default(),
        }
    }

    /// The attempt's prompt is computed up to `prefilled`: its whole blocks join the cache.
    pub(super) fn cache_progress(&mut self, id: RequestId) {
        let Some(cache) = self.rep.cache.as_mut() else {
            return;
        };
        let r = self.sh.attempts.get_mut(id);
        let Some(content) = r.content.clone() else {
            return;
        };
        let added = cache.extend(&mut r.path, &content, None, r.prefilled);
        r.shared += added as u32;
        self.rep.kv.shared += added;
    }

    /// The attempt leaves the engine (`answered`: with all its tokens): an answered one leaves
    /// its prompt and answer in the cache; either way the cache no longer counts it as held.
    pub(super) fn cache_leave(&mut self, id: RequestId, answered: bool) {
        let Some(cache) = self.rep.cache.as_mut() else {
            return;
        };
        let r = self.sh.attempts.get_mut(id);
        if answered && let Some(content) = r.content.clone() {
            let answer = Segment {
                id: r.answer,
                len: r.output,
            };
            // The last token was sampled but never run through the model: it has no KV.
            let computed = r.prompt + r.output - 1;
            cache.extend(&mut r.path, &content, Some(answer), computed);
        }
        cache.release(&mut r.path);
        self.rep.kv.shared -= u64::from(r.shared);
        r.shared = 0;
    }

    pub(super) fn start_decoding_without_prompt(&mut self, id: RequestId) {
        self.rep.prefilling.retain(|&p| p != id);
        self.join_decoding(id);
    }

    pub(super) fn start_mixed(
        &mut self,
        sim: &mut Simulation<Event>,
        chunks: Vec<(RequestId, u32)>,
        with_decoders: bool,
    ) {
        let mut shape = StepShape::default();
        for &(id, c) in &chunks {
            let r = self.attempt(id);
            let (done, c) = (u64::from(r.prefilled), u64::from(c));
            shape.prefill_tokens += c;
            shape.prefill_seqs += 1;
            shape.prefill_kv_read += done;
            // Pairs of positions done+1 ..= done+c with everything before them.
            shape.prefill_pairs += c * done + c * (c + 1) / 2;
        }
        if with_decoders {
            shape.decode_seqs = self.rep.decoding;
            shape.decode_ctx = self.dec_ctx();
        }
        let seconds = self.sh.svc.step.step_seconds(&shape);
        self.note_kv_at_end(u64::from(with_decoders), shape.prefill_tokens);
        let busy = Busy::Mixed {
            start: sim.now(),
            chunks,
            with_decoders,
            seconds,
        };
        self.start_busy(sim, busy, seconds);
    }

    pub(super) fn start_segment(&mut self, sim: &mut Simulation<Event>, limit: u64) {
        let to_done = self
            .rep
            .done_heap
            .peek()
            .map_or(1, |Reverse((done, _, _))| {
                done.saturating_sub(self.rep.global).max(1)
            });
        let b = self.rep.decoding;
        let (alpha, beta, valid) = self.sh.svc.step.decode_line(b, self.dec_ctx());
        let steps = to_done.min(limit).min(valid).max(1);
        self.note_kv_at_end(steps, 0);
        let c0 = self.dec_ctx() as f64;
        let seconds = segment_seconds(alpha, beta, c0, b as f64, steps);
        let busy = Busy::Segment {
            start: sim.now(),
            steps,
            alpha,
            beta,
            c0,
            b,
        };
        self.start_busy(sim, busy, seconds);
    }

    pub(super) fn join_decoding(&mut self, id: RequestId) {
        self.rebase();
        let global = self.rep.global;
        let g = self.rep.g_dec;
        let r = self.attempt_mut(id);
        r.state = State::Decoding;
        r.base_step = global;
        r.share_base = g;
        let ctx = u64::from(r.prompt + r.generated);
        let done = global + u64::from(r.output - r.generated);
        self.rep.dec_ctx_base += ctx;
        self.rep.decoding += 1;
        self.rep
            .done_heap
            .push(Reverse((done, id.slot, id.generation)));
    }

    pub(super) fn leave_decoding(&mut self, id: RequestId) {
        self.rebase();
        let generated = self.generated_now(id);
        let g = self.rep.g_dec;
        let r = self.attempt_mut(id);
        r.generated = generated;
        r.share += g - r.share_base;
        let ctx = u64::from(r.prompt + generated);
        let order = r.admit_order;
        self.rep.dec_ctx_base -= ctx;
        self.rep.decoding -= 1;
        self.rep.admitted.remove(&order);
    }

    pub(super) fn preempt_newest(&mut self, sim: &mut Simulation<Event>) {
        let Some((&order, &id)) = self.rep.admitted.iter().next_back() else {
            return;
        };
        self.sh.serving.preemptions += 1;
        match self.attempt(id).state {
            State::Decoding => self.leave_decoding(id),
            State::Prefilling => {
                self.rep.prefilling.retain(|&p| p != id);
                self.rep.kv.prefill -= u64::from(self.attempt(id).prefill_target);
                self.rep.admitted.remove(&order);
            }
            _ => {
                self.rep.admitted.remove(&order);
                return;
            }
        }
        // Its blocks stay cached (unheld): a recompute may find them again.
        self.cache_leave(id, false);
        let now = sim.now();
        if self.attempt(id).cancelled {
            // Its client asked to cancel: it leaves instead of waiting for a recompute.
            self.rep.cancel_pending = self.rep.cancel_pending.saturating_sub(1);
            if self.rep.engine.reserves_per_attempt() {
                self.rep.kv.reserved -= self.attempt(id).reserved;
            }
            self.release(sim, id);
            return;
        }
        let r = self.attempt_mut(id);
        if r.first_token.is_some() {
            r.last_tok = Some(now);
        }
        // Recompute: prefill the prompt and what was generated, then continue.
        r.prefill_target = r.prompt + r.generated;
        r.prefilled = 0;
        r.state = State::Waiting;
        let lane = usize::from(self.attempt(id).lane);
        self.rep.queue.q[lane].push_front(id);
        self.rep.queue.live += 1;
        self.sh.total_waiting += 1;
        self.sh.stats.set_waiting(sim.now(), self.sh.total_waiting);
        self.sh.signals[WAITING].set(
            sim.now(),
            (self.sh.total_waiting + self.sh.hold_live) as f64,
        );
    }

    /// Finishes a request on the server: it produced all its tokens (or was cancelled).
    pub(super) fn finish(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        // Requests without a prompt have no prefill step; their first token is their last
        // (exact for one-token, profile-driven requests).
        if self.attempt(id).first_token.is_none() {
            self.attempt_mut(id).first_token = Some(sim.now());
        }
        if self.attempt(id).outcome.is_none() {
            self.sh.decide(sim, id, Outcome::Ok);
        }
        self.cache_leave(id, true);
        let r = self.attempt(id);
        if self.rep.engine.reserves_per_attempt() {
            self.rep.kv.reserved -= r.reserved;
        }
        self.release(sim, id);
    }

    pub(super) fn on_step_done(&mut self, sim: &mut Simulation<Event>) {
        let now = sim.now();
        match std::mem::replace(&mut self.rep.busy, Busy::Idle) {
            Busy::Idle => {}
            Busy::Mixed {
                start,
                chunks,
                with_decoders,
                seconds,
            } => {
                let participants = chunks.len() as f64
                    + if with_decoders {
                        self.rep.decoding as f64
                    } else {
                        0.0
                    };
                let share = seconds / participants.max(1.0);
                let level = participants;
                self.sh.serving.batch_area += self.sh.area(start, now, level);
                let kv = self.kv_used() as f64;
                self.sh.serving.kv_area += self.sh.area(start, now, kv);
                if with_decoders {
                    self.rep.g_dec += share;
                    self.rep.global += 1;
                    self.rep.steps_since_prefill += 1;
                    self.rep.last_decode_end = now;
                }
                for (id, c) in chunks {
                    self.attempt_mut(id).prefilled += c;
                    self.cache_progress(id);
                    let r = self.attempt_mut(id);
                    r.share += share;
                    if r.prefilled >= r.prefill_target {
                        // The step that completes a prompt also produces the next token.
                        r.generated += 1;
                        if r.first_token.is_none() {
                            r.first_token = Some(now);
                        }
                        let (done_all, reserved) =
                            (r.generated >= r.output, u64::from(r.prefill_target));
                        self.rep.kv.prefill -= reserved;
                        self.rep.prefilling.retain(|&p| p != id);
                        if done_all {
                            let order = self.attempt(id).admit_order;
                            self.rep.admitted.remove(&order);
                            self.finish(sim, id);
                        } else {
                            self.join_decoding(id);
                        }
                    }
                }
            }
            Busy::Segment {
                start,
                steps,
                alpha,
                beta,
                c0,
                b,
            } => {
                let seconds = segment_seconds(alpha, beta, c0, b as f64, steps);
                self.sh.serving.batch_area += self.sh.area(start, now, b as f64);
                // KV grows linearly through the segment: use its mean.
                let kv_start = self.kv_used() as f64;
                self.sh.serving.kv_area +=
                    self.sh
                        .area(start, now, kv_start + (b * steps) as f64 / 2.0);
                self.rep.g_dec += seconds / b.max(1) as f64;
                self.rep.global += steps;
                self.rep.steps_since_prefill += steps;
                self.rep.last_decode_end = now;
            }
            Busy::Static {
                start,
                batch,
                first_token,
            } => {
                let b = batch.len() as f64;
                let total = (now - start).as_secs_f64();
                self.sh.serving.batch_area += self.sh.area(start, now, b);
                self.sh.serving.kv_area += self.sh.area(start, now, self.rep.kv.reserved as f64);
                let first = first_token;
                for id in batch {
                    let r = self.attempt_mut(id);
                    r.first_token = Some(first);
                    r.share = total / b;
                    r.generated = r.output;
                    self.finish(sim, id);
                }
                self.rep.kv.reserved = 0;
            }
        }
        // Completions reached by the global step count.
        while let Some(&Reverse((done, slot, generation))) = self.rep.done_heap.peek() {
            if done > self.rep.global {
                break;
            }
            self.rep.done_heap.pop();
            let id = RequestId { slot, generation };
            // A preempted and re-admitted request has a newer entry; this one is stale.
            let current = self.live(id) && self.attempt(id).state == State::Decoding && {
                let r = self.attempt(id);
                r.base_step + u64::from(r.output - r.generated) == done
            };
            if current {
                self.leave_decoding(id);
                self.finish(sim, id);
            }
        }
        self.drop_cancelled(sim);
        self.plan(sim);
    }

    /// Removes sequences whose client gave up and asked to cancel (at a step boundary).
    pub(super) fn drop_cancelled(&mut self, sim: &mut Simulation<Event>) {
        if self.rep.cancel_pending == 0 {
            return;
        }
        self.rep.cancel_pending = 0;
        let cancelled: Vec<RequestId> = self
            .rep
            .admitted
            .values()
            .copied()
            .filter(|&id| self.attempt(id).cancelled)
            .collect();
        for id in cancelled {
            match self.attempt(id).state {
                State::Decoding => self.leave_decoding(id),
                State::Prefilling => {
                    self.rep.prefilling.retain(|&p| p != id);
                    self.rep.kv.prefill -= u64::from(self.attempt(id).prefill_target);
                    let order = self.attempt(id).admit_order;
                    self.rep.admitted.remove(&order);
                }
                _ => continue,
            }
            self.cache_leave(id, false);
            let r = self.attempt(id);
            if self.rep.engine.reserves_per_attempt() {
                self.rep.kv.reserved -= r.reserved;
            }
            self.release(sim, id);
        }
    }

    /// A waiting request leaves the queue: admitted, or not (then its entry is dropped lazily).
    pub(super) fn leave_queue(&mut self, now: SimTime, id: RequestId) {
        self.rep.queue.live -= 1;
        self.sh.total_waiting -= 1;
        self.sh.stats.set_waiting(now, self.sh.total_waiting);
        self.sh.signals[WAITING].set(now, (self.sh.total_waiting + self.sh.hold_live) as f64);
        let r = self.attempt(id);
        if r.measured {
            let wait = now - r.arrived;
            self.sh.stats.record_wait(wait);
        }
    }

    pub(super) fn on_queue_timeout(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        self.leave_queue(sim.now(), id);
        self.sh.decide(sim, id, Outcome::QueueTimeout);
        self.release(sim, id);
    }
}
