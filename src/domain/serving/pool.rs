//! The LLM replica pool: the state of one LLM endpoint, the attempt lifecycle (arrival,
//! assignment, outcome) and its event dispatch; it implements the endpoint protocol.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::rc::Rc;

use super::super::endpoint::{Endpoint, Notice, Submit};
use super::super::policy::Discipline;
use super::super::prompt::{self, Content};
use super::super::request::{Outcome, RequestId};
use super::super::scenario::Scenario;
use super::super::slab::Slab;
use super::super::stats::{RunStats, ServingStats};
use super::batcher::Batcher;
use super::prefix::{Path, PrefixCache};
use crate::sim::{RngStreams, SimDuration, SimRng, SimTime, Simulation};

/// A batcher of LLM endpoints, of any family (see `families`).
pub type DynBatcher = dyn for<'e, 'x> Batcher<Engine<'e, 'x>, Simulation<Event>>;

/// The system's events, with this endpoint's own.
pub(crate) type Event = super::super::endpoint::Event<LlmEvent>;
use super::super::llm_service::{
    ColdConnections, LlmService, WhenUnavailable, completed_steps, secs, segment_seconds,
};

/// Events of one LLM endpoint.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LlmEvent {
    /// A replica's current step or segment ends (stale if its epoch moved on).
    StepDone(u32, u64),
    /// A static batcher's wait for a fuller batch ends (stale if its epoch moved on).
    BatchTimer(u32, u64),
    /// A waiting request reaches the queue timeout.
    QueueTimeout(RequestId),
    /// A replica finishes its cold start (stale if it was restarted since).
    ReplicaReady(u32, u32),
    /// The endpoint has been idle for the idle timeout (stale if anything arrived since).
    IdleCheck(u64),
    /// A held request reaches the scale-up timeout.
    HoldTimeout(RequestId),
    /// A request leaves the API server for the engine (stale if it was dropped meanwhile).
    ApiDone(RequestId),
    /// The current time-series window ends.
    WindowTick,
    /// Start of an autoscaler window (`true`: scale-up, `false`: scale-down).
    ScaleSnapshot(bool),
    /// An autoscaler evaluation (`true`: scale-up, `false`: scale-down).
    ScaleEval(bool),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum State {
    Free,
    /// In the API server (HTTP handling, tokenisation) before it reaches the engine.
    Api,
    /// Held at the endpoint while no replica is ready.
    Held,
    Waiting,
    Prefilling,
    Decoding,
    Batched,
}

/// One attempt at the endpoint, from its arrival to the end of its server side (a request's
/// retry is a new attempt).
#[derive(Clone, Debug)]
pub(super) struct Attempt {
    pub(super) state: State,
    pub(super) outcome: Option<Outcome>,
    pub(super) measured: bool,
    pub(super) cancelled: bool,
    /// The client hung up (timeout): nothing the server does now reaches anyone.
    pub(super) abandoned: bool,
    /// Whether the server stops work when the client hangs up.
    pub(super) cancel: bool,
    /// The client's request this attempt belongs to.
    pub(super) owner: RequestId,
    /// Waiting lane at the replica.
    pub(super) lane: u8,
    pub(super) arrived: SimTime,
    /// When the connection was accepted: by a replica, or by the proxy that holds the request
    /// while none is ready.
    pub(super) connected: Option<SimTime>,
    /// Its last token before it left decoding (a preemption), for idle timers.
    pub(super) last_tok: Option<SimTime>,
    pub(super) first_token: Option<SimTime>,
    pub(super) prompt: u32,
    pub(super) output: u32,
    /// Tokens to prefill before decoding (prompt, plus generated tokens after a preemption);
    /// their KV is reserved from admission.
    pub(super) prefill_target: u32,
    pub(super) prefilled: u32,
    /// Whether the request has been through the API server.
    pub(super) api_done: bool,
    /// Tokens generated when the request (re)joined decoding; add `global − base_step`.
    pub(super) generated: u32,
    pub(super) base_step: u64,
    pub(super) admit_order: u64,
    /// GPU seconds attributed so far, and the decoder accumulator when it joined decoding.
    pub(super) share: f64,
    pub(super) share_base: f64,
    /// KV tokens reserved (tgi, static).
    pub(super) reserved: u64,
    /// The replica serving it.
    pub(super) replica: u32,
    /// What the prompt is made of (clipped to the context), when it may share a prefix.
    pub(super) content: Option<Content>,
    /// The id of the answer's tokens, cached with the prompt when the attempt ends.
    pub(super) answer: u64,
    /// Its nodes in the replica's prefix cache while it runs.
    pub(super) path: Path,
    /// Tokens of prefix-cache blocks it uses that are counted once, in the cache: its hit and
    /// the blocks it added.
    pub(super) shared: u32,
}

/// A running time integral of a level, seconds × level.
#[derive(Copy, Clone, Debug, Default)]
pub(super) struct Integral {
    pub(super) level: f64,
    pub(super) since: SimTime,
    pub(super) area: f64,
}

impl Integral {
    pub(super) fn set(&mut self, now: SimTime, level: f64) {
        self.area += self.level * (now - self.since).as_secs_f64();
        self.level = level;
        self.since = now;
    }

    pub(super) fn at(&self, now: SimTime) -> f64 {
        self.area + self.level * (now - self.since).as_secs_f64()
    }
}

pub(super) const PENDING: usize = 0;
pub(super) const BUSY: usize = 1;
pub(super) const WAITING: usize = 2;
pub(super) const RUNNING: usize = 3;

/// `Attempt::replica` of a request no replica has taken yet.
pub(super) const UNASSIGNED: u32 = u32::MAX;

/// What the GPU is doing.
#[derive(Clone, Debug)]
pub(super) enum Busy {
    Idle,
    /// One step with prompt chunks (and, for vllm, the decoders).
    Mixed {
        start: SimTime,
        chunks: Vec<(RequestId, u32)>,
        with_decoders: bool,
        seconds: f64,
    },
    /// `steps` decode steps of `b` sequences whose contexts sum to `c0` at the start.
    Segment {
        start: SimTime,
        steps: u64,
        alpha: f64,
        beta: f64,
        c0: f64,
        b: u64,
    },
    /// A static batch: prefill done at `decode_start`, then `steps` decode steps.
    Static {
        start: SimTime,
        batch: Vec<RequestId>,
        /// When the first token of the batch exists.
        first_token: SimTime,
    },
}

/// The current window being filled.
#[derive(Clone, Debug, Default)]
pub(super) struct Window {
    pub(super) start: SimTime,
    pub(super) arrivals: u64,
    pub(super) outcomes: [u64; Outcome::COUNT],
    pub(super) latencies_ns: Vec<u64>,
    pub(super) busy_at_start: f64,
    /// Prompt tokens admitted in the window, and those taken from the prefix cache.
    pub(super) prompt_tokens: u64,
    pub(super) hit_tokens: u64,
    pub(super) running_at_start: f64,
}

/// Where a replica is in its life.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Stopped,
    Starting,
    Ready,
    /// Takes no new requests and stops when its last one is done.
    Draining,
}

/// Waiting requests of one replica, one FIFO lane per priority tier.
#[derive(Debug)]
pub(super) struct Lanes {
    pub(super) q: Vec<VecDeque<RequestId>>,
    /// Live entries (stale ones are dropped lazily from the lanes).
    pub(super) live: u64,
    /// Weighted fair share: each lane's virtual finish time, and the last one served.
    pub(super) vt: Vec<f64>,
    pub(super) vnow: f64,
    /// The lane `waiting_head` chose.
    pub(super) head: usize,
}

impl Lanes {
    pub(super) fn new(lanes: usize) -> Self {
        Lanes {
            q: (0..lanes.max(1)).map(|_| VecDeque::new()).collect(),
            live: 0,
            vt: vec![0.0; lanes.max(1)],
            vnow: 0.0,
            head: 0,
        }
    }

    pub(super) fn push_back(&mut self, lane: usize, id: RequestId) {
        if self.q[lane].is_empty() {
            // A lane that was idle does not bank the share it did not use.
            self.vt[lane] = self.vt[lane].max(self.vnow);
        }
        self.q[lane].push_back(id);
    }
}

/// KV cache a replica has set aside besides what its decoding sequences hold (their context is
/// counted by [`Replica::dec_ctx_base`] and the step count).
#[derive(Debug, Default)]
pub(super) struct Kv {
    /// Tokens reserved for the prompts being prefilled (whole prompts, from admission).
    pub(super) prefill: u64,
    /// Tokens reserved for whole attempts (engines that reserve prompt plus output).
    pub(super) reserved: u64,
    /// Tokens of running sequences that sit in prefix-cache blocks (counted once, by the
    /// cache, however many sequences use them).
    pub(super) shared: u64,
}

/// One replica: its life (phase, billing), its waiting queue, its KV cache, its running
/// sequences and its GPU, and the engine that chooses its steps.
#[derive(Debug)]
pub(super) struct Replica {
    /// The batching engine that plans this replica's steps.
    pub(super) engine: Rc<DynBatcher>,
    pub(super) queue: Lanes,
    pub(super) kv: Kv,
    /// The prefix cache, for engines that keep one.
    pub(super) cache: Option<PrefixCache>,
    pub(super) prefilling: Vec<RequestId>,
    pub(super) decoding: u64,
    pub(super) done_heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    pub(super) admitted: BTreeMap<u64, RequestId>,
    pub(super) admit_counter: u64,
    pub(super) global: u64,
    pub(super) dec_ctx_base: u64,
    pub(super) base_global: u64,
    pub(super) g_dec: f64,
    pub(super) busy: Busy,
    pub(super) epoch: u64,
    pub(super) timer_epoch: u64,
    pub(super) steps_since_prefill: u64,
    /// Requests assigned to this replica whose server side is not done.
    pub(super) assigned: u64,
    /// Whether this replica is counted among the busy ones.
    pub(super) counted_busy: bool,
    pub(super) phase: Phase,
    /// Bumped whenever the replica starts, so a stale readiness event is recognised.
    pub(super) life: u32,
    /// When billing of the current run of this replica began.
    pub(super) billed_from: SimTime,
    /// When the last step that gave every decoding sequence a token ended.
    pub(super) last_decode_end: SimTime,
    /// Running sequences marked for cancellation, dropped at the next step boundary.
    pub(super) cancel_pending: u32,
}

impl Replica {
    pub(super) fn new(
        lanes: usize,
        engine: Rc<DynBatcher>,
        phase: Phase,
        cache: Option<PrefixCache>,
    ) -> Self {
        Replica {
            engine,
            queue: Lanes::new(lanes),
            kv: Kv::default(),
            cache,
            prefilling: Vec::new(),
            decoding: 0,
            done_heap: BinaryHeap::new(),
            admitted: BTreeMap::new(),
            admit_counter: 0,
            global: 0,
            dec_ctx_base: 0,
            base_global: 0,
            g_dec: 0.0,
            busy: Busy::Idle,
            epoch: 0,
            timer_epoch: 0,
            steps_since_prefill: 0,
            assigned: 0,
            counted_busy: false,
            phase,
            life: 0,
            billed_from: SimTime::ZERO,
            last_decode_end: SimTime::ZERO,
            cancel_pending: 0,
        }
    }
}

/// What the replicas of one endpoint share: the attempts, the router's hold queue, the
/// autoscaler's signals, the time-series window, the notices for the clients and the
/// statistics.
#[derive(Debug)]
pub(crate) struct Shared<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) svc: &'a LlmService,
    /// 0: the primary endpoint, 1: the fallback.
    pub(super) ix: u8,
    /// Whether to keep the time-series rows (they are always summarised into alert windows).
    pub(super) keep_timeseries: bool,
    /// What the clients must be told, drained after each call.
    pub(super) outbox: Vec<Notice>,
    /// Set by the clients: no more arrivals will come and no request is unfinished.
    pub(super) client_done: bool,
    /// How waiting lanes are chosen, and their weights.
    pub(super) discipline: Discipline,
    pub(super) lane_weights: Vec<f64>,
    pub(super) balancer_rng: SimRng,
    pub(super) attempts: Slab<Attempt>,
    pub(super) busy_replicas: u32,
    pub(super) total_waiting: u64,
    pub(super) next_rr: usize,
    pub(super) cold_rng: SimRng,
    pub(super) hold: VecDeque<RequestId>,
    pub(super) hold_live: u64,
    /// Requests allocated and not yet released.
    pub(super) in_system: u64,
    pub(super) idle_gen: u64,
    /// When a request last arrived or left: the idle timeout counts from here.
    pub(super) last_activity: SimTime,
    pub(super) running: u32,
    pub(super) running_since: SimTime,
    /// Unclipped integrals for the autoscaler: pending, busy replicas, waiting, running.
    pub(super) signals: [Integral; 4],
    pub(super) window: Window,
    /// Integral values at the start of the current up and down windows.
    pub(super) snapshots: [[f64; 4]; 2],
    pub(super) last_scaled: SimTime,
    pub(super) stats: RunStats,
    pub(super) serving: ServingStats,
}

/// The state of one simulated LLM endpoint: identical replicas behind a load balancer, and
/// what they share.
#[derive(Debug)]
pub struct LlmEndpoint<'a> {
    pub(super) replicas: Vec<Replica>,
    pub(super) sh: Shared<'a>,
}

/// One replica at work, with what it shares with the others: the engine code (`engine` and
/// each family's file) runs on this, so it reads like single-replica code while every replica
/// keeps its own state.
#[derive(Debug)]
pub struct Engine<'e, 'a> {
    pub(super) rep: &'e mut Replica,
    pub(super) sh: &'e mut Shared<'a>,
    /// The replica's index, for its events.
    pub(super) r: u32,
}

impl<'a> LlmEndpoint<'a> {
    /// A fresh endpoint `ix` (0 primary, 1 fallback) serving `svc` for `scenario`; its
    /// replicas run `engine` and keep one waiting lane per entry of `lane_weights`.
    pub fn new(
        scenario: &'a Scenario,
        svc: &'a LlmService,
        streams: &RngStreams,
        ix: u8,
        lane_weights: Vec<f64>,
        engine: Rc<DynBatcher>,
        keep_timeseries: bool,
    ) -> Self {
        let window_start = SimTime::ZERO + scenario.warm_up;
        let n = svc.replicas.max(1) as usize;
        let lanes = lane_weights.len();
        // The fallback draws from its own streams, so adding one leaves the primary unchanged.
        let name = |s: &str| {
            if ix == 0 {
                s.to_string()
            } else {
                format!("fallback-{s}")
            }
        };
        // Replicas ready at time zero: all of them without a lifecycle, else the initial ones.
        let ready = svc
            .lifecycle
            .as_ref()
            .map_or(n, |l| l.initial_replicas as usize);
        let replicas = (0..n)
            .map(|r| {
                let phase = if r < ready {
                    Phase::Ready
                } else {
                    Phase::Stopped
                };
                let cache = svc.prefix_caching.then(|| PrefixCache::new(svc.block_size));
                Replica::new(lanes, Rc::clone(&engine), phase, cache)
            })
            .collect();
        let sh = Shared {
            keep_timeseries,
            scenario,
            svc,
            ix,
            outbox: Vec::new(),
            client_done: false,
            discipline: scenario.policies.discipline,
            lane_weights,
            balancer_rng: streams.stream(&name("balancer")),
            attempts: Slab::default(),
            busy_replicas: 0,
            total_waiting: 0,
            next_rr: 0,
            cold_rng: streams.stream(&name("cold-start")),
            hold: VecDeque::new(),
            hold_live: 0,
            in_system: 0,
            idle_gen: 0,
            last_activity: SimTime::ZERO,
            running: ready as u32,
            running_since: SimTime::ZERO,
            signals: [Integral::default(); 4],
            window: Window::default(),
            snapshots: [[0.0; 4]; 2],
            last_scaled: SimTime::ZERO,
            stats: RunStats::new(window_start, n as u32),
            serving: ServingStats {
                kv_capacity: svc.kv_tokens * n as u64,
                kv_replica_capacity: svc.kv_tokens,
                cost_usd: svc.price.as_ref().map(|_| 0.0),
                gpus_per_replica: svc.deployment.as_ref().map_or(1, |d| d.tp),
                replicas_max: ready as u64,
                prefix_caching: svc.prefix_caching,
                ..ServingStats::default()
            },
        };
        LlmEndpoint { replicas, sh }
    }

    /// Replica `r` at work.
    pub(super) fn engine(&mut self, r: usize) -> Engine<'_, 'a> {
        Engine {
            rep: &mut self.replicas[r],
            sh: &mut self.sh,
            r: r as u32,
        }
    }

    /// Frees an attempt's slot once the server side is done (see [`Shared::release`]).
    pub(super) fn release(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        let r = self.sh.attempt(id).replica;
        let rep = (r != UNASSIGNED).then(|| &mut self.replicas[r as usize]);
        self.sh.release(sim, id, rep);
    }

    /// Gives a request to a ready replica, or holds or refuses it.
    pub(super) fn route(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        let now = sim.now();
        if let Some(r) = self.choose_replica() {
            self.forward(sim, id, r);
            return;
        }
        // No replica is ready: start one unless one is on its way, then reject or hold.
        if !self.any_coming() {
            self.start_replica(sim);
        }
        let sh = &mut self.sh;
        let when = sh
            .svc
            .lifecycle
            .as_ref()
            .map_or(WhenUnavailable::Reject, |l| l.when_unavailable);
        match when {
            WhenUnavailable::Reject => {
                sh.decide(sim, id, Outcome::Unavailable);
                sh.release(sim, id, None);
            }
            WhenUnavailable::Hold(_) | WhenUnavailable::Queue => {
                let accepted = sh
                    .svc
                    .lifecycle
                    .as_ref()
                    .is_none_or(|l| l.cold_connections == ColdConnections::Accepted);
                if accepted {
                    // The proxy in front has accepted the connection: the client is connected
                    // now, and its read timeout runs while the request is held.
                    sh.attempt_mut(id).connected = Some(now);
                }
                sh.attempt_mut(id).state = State::Held;
                sh.hold.push_back(id);
                sh.hold_live += 1;
                if let WhenUnavailable::Hold(t) = when {
                    sim.schedule_in(t, sh.ev(LlmEvent::HoldTimeout(id)));
                }
            }
        }
    }

    /// Sends a request to replica `r`: first through the replica's API server (HTTP handling,
    /// tokenisation), which takes its time before the engine sees the request, then to the
    /// engine's queue. A request that finishes the API step is routed again, since replicas may
    /// have changed meanwhile.
    pub(super) fn forward(&mut self, sim: &mut Simulation<Event>, id: RequestId, r: usize) {
        let sh = &mut self.sh;
        let api = sh.svc.step.api_seconds(u64::from(sh.attempt(id).prompt));
        if api <= 0.0 || sh.attempt(id).api_done {
            self.engine(r).assign(sim, id);
            return;
        }
        let now = sim.now();
        let req = sh.attempt_mut(id);
        req.api_done = true;
        let was_held = req.state == State::Held;
        req.state = State::Api;
        // The API server has accepted the connection.
        let newly_connected = req.connected.is_none();
        req.connected.get_or_insert(now);
        let (owner, abandoned) = (req.owner, req.abandoned);
        if was_held && newly_connected && !abandoned {
            sh.outbox.push(Notice::Connected { owner, attempt: id });
        }
        sim.schedule_in(secs(api), sh.ev(LlmEvent::ApiDone(id)));
    }

    /// The most requests a replica pulls from an async queue: what it can run at once.
    pub(super) fn pull_capacity(&self) -> u64 {
        let engine = self.replicas[0].engine.capacity();
        self.sh
            .svc
            .max_concurrent
            .map_or(engine, |c| engine.min(u64::from(c)))
    }

    /// Ends the run at `end` and returns its statistics (request counts are the clients').
    pub fn finish_run(mut self, end: SimTime, events: u64) -> (RunStats, ServingStats) {
        // Work still under way for clients that have gone is wasted too.
        let mut wasted = Vec::new();
        for r in self.sh.attempts.values() {
            if r.state == State::Free || !r.abandoned || !r.measured {
                continue;
            }
            let (mut share, mut tokens) = (r.share, u64::from(r.generated));
            if r.state == State::Decoding {
                let rep = &self.replicas[r.replica as usize];
                share += rep.g_dec - r.share_base;
                tokens += rep.global - r.base_step;
            }
            wasted.push((share, tokens));
        }
        for (share, tokens) in wasted {
            self.sh.stats.record_waste(secs(share));
            self.sh.serving.wasted_tokens += tokens;
        }
        // A step under way at the horizon counts as busy up to the horizon, on every replica;
        // replicas still starting or running are billed up to the end.
        for r in 0..self.replicas.len() {
            let mut e = self.engine(r);
            e.close_replica(end);
            if e.rep.phase != Phase::Stopped {
                e.sh.bill(e.rep, end);
            }
        }
        let sh = &mut self.sh;
        let running = sh.running;
        sh.set_running(end, running);
        if end > sh.window.start {
            self.close_window(end);
        }
        let sh = &mut self.sh;
        sh.serving.empty_draining_at_end = self
            .replicas
            .iter()
            .filter(|rep| rep.phase == Phase::Draining && rep.assigned == 0)
            .count() as u32;
        sh.stats.close(end);
        sh.stats.events = events;
        sh.serving.gpu_seconds =
            sh.serving.replica_seconds * f64::from(sh.serving.gpus_per_replica);
        (self.sh.stats, self.sh.serving)
    }
}

impl Shared<'_> {
    pub(super) fn attempt(&self, id: RequestId) -> &Attempt {
        self.attempts.get(id)
    }

    pub(super) fn attempt_mut(&mut self, id: RequestId) -> &mut Attempt {
        self.attempts.get_mut(id)
    }

    pub(super) fn live(&self, id: RequestId) -> bool {
        self.attempts.is_current(id) && self.attempt(id).state != State::Free
    }

    pub(super) fn allocate(&mut self, now: SimTime, sub: &Submit) -> RequestId {
        let max_len = self.svc.max_model_len.max(2);
        // Lengths are clipped to this endpoint's context: prompts to max-model-len − 1,
        // outputs to the rest.
        let prompt = sub.prompt.min(max_len - 1);
        let output = sub.output.max(1).min(max_len - prompt);
        let req = Attempt {
            state: State::Waiting,
            outcome: None,
            measured: sub.measured,
            cancelled: false,
            abandoned: false,
            cancel: sub.cancel,
            owner: sub.owner,
            lane: sub
                .lane
                .min(self.lane_weights.len().saturating_sub(1) as u8),
            arrived: now,
            connected: None,
            last_tok: None,
            first_token: None,
            prompt,
            output: output.max(1),
            prefill_target: prompt,
            prefilled: 0,
            generated: 0,
            base_step: 0,
            api_done: false,
            admit_order: 0,
            share: 0.0,
            share_base: 0.0,
            reserved: 0,
            replica: UNASSIGNED,
            content: sub.content.as_ref().map(|c| {
                if prompt::tokens(c) > u64::from(prompt) {
                    Content::from(prompt::clip(c, prompt))
                } else {
                    Rc::clone(c)
                }
            }),
            answer: sub.answer,
            path: Path::default(),
            shared: 0,
        };
        self.attempts.insert(req)
    }

    /// Frees an attempt's slot once the server side is done; decides nothing. `rep` is the
    /// replica it was assigned to, if any: a draining replica stops with its last attempt.
    pub(super) fn release(
        &mut self,
        sim: &mut Simulation<Event>,
        id: RequestId,
        rep: Option<&mut Replica>,
    ) {
        if let Some(rep) = rep {
            rep.assigned -= 1;
            // A draining replica stops once its last request is done.
            if rep.phase == Phase::Draining && rep.assigned == 0 {
                self.stop_replica(sim.now(), rep);
            }
        }
        self.in_system -= 1;
        self.last_activity = sim.now();
        self.signals[PENDING].set(sim.now(), self.in_system as f64);
        let r = self.attempt(id);
        // Every path here has brought `generated` up to date (decoders left decoding first).
        let generated = r.generated;
        if (r.abandoned || r.outcome != Some(Outcome::Ok)) && r.measured {
            // GPU time and tokens spent on an attempt whose client did not get the answer.
            let wasted = r.share;
            self.stats.record_waste(secs(wasted));
            self.serving.wasted_tokens += u64::from(generated);
        }
        self.attempt_mut(id).state = State::Free;
        self.attempts.remove(id);
        self.check_idle(sim);
    }

    /// The server side of an attempt ends with `outcome` (once); the client is told unless it
    /// has hung up already.
    pub(super) fn decide(&mut self, sim: &mut Simulation<Event>, id: RequestId, outcome: Outcome) {
        let now = sim.now();
        let r = self.attempt_mut(id);
        if r.outcome.is_some() {
            return;
        }
        r.outcome = Some(outcome);
        if r.abandoned {
            return;
        }
        let (owner, first_token, latency) = (r.owner, r.first_token, now - r.arrived);
        self.note_outcome(outcome, latency);
        self.outbox.push(Notice::Done {
            owner,
            attempt: id,
            outcome,
            first_token,
        });
    }

    /// Counts an attempt's outcome in the current time-series window. The window's latency is
    /// what a monitor sees: answers, and clients giving up at their timeout (requests refused
    /// at once would only hide a slow endpoint).
    pub(super) fn note_outcome(&mut self, outcome: Outcome, latency: SimDuration) {
        self.window.outcomes[outcome.index()] += 1;
        if matches!(
            outcome,
            Outcome::Ok | Outcome::ClientTimeout | Outcome::GatewayTimeout
        ) {
            self.window.latencies_ns.push(latency.as_nanos());
        }
    }

    /// Counts a new attempt in the system.
    pub(super) fn arrive(&mut self, now: SimTime, sub: &Submit) -> RequestId {
        let id = self.allocate(now, sub);
        self.in_system += 1;
        self.window.arrivals += 1;
        self.signals[PENDING].set(now, self.in_system as f64);
        // Activity: any idle check already scheduled is now stale.
        self.idle_gen += 1;
        self.last_activity = now;
        if sub.measured {
            self.stats.arrived += 1;
        }
        id
    }

    /// Wraps one of this endpoint's events.
    pub(super) fn ev(&self, e: LlmEvent) -> Event {
        Event::Ep(self.ix, e)
    }

    /// Adds `level` × the part of [start, end] inside the window.
    pub(super) fn area(&self, start: SimTime, end: SimTime, level: f64) -> f64 {
        let from = start.max(self.stats.window_start);
        if end > from {
            level * (end - from).as_secs_f64()
        } else {
            0.0
        }
    }
}

impl Endpoint for LlmEndpoint<'_> {
    type Event = LlmEvent;

    fn note_outcome(&mut self, outcome: Outcome, latency: SimDuration) {
        self.sh.note_outcome(outcome, latency);
    }

    /// Takes the notices for the clients.
    fn take_notices(&mut self, into: &mut Vec<Notice>) {
        into.append(&mut self.sh.outbox);
    }

    /// Accepts an attempt: to a ready replica, or (none ready) held or refused with 503.
    fn submit(&mut self, sim: &mut Simulation<Event>, sub: &Submit) -> RequestId {
        let now = sim.now();
        let id = self.sh.arrive(now, sub);
        self.route(sim, id);
        id
    }

    /// The ready replica with the most room for pulled work, if any has room. A replica pulls
    /// only what it can start: nothing while a pulled job still waits for admission there.
    fn pull_target(&self) -> Option<usize> {
        let cap = self.pull_capacity();
        self.replicas
            .iter()
            .enumerate()
            .filter(|(_, rep)| rep.phase == Phase::Ready && rep.queue.live == 0)
            .map(|(r, rep)| (rep.assigned, r))
            .filter(|&(a, _)| a < cap)
            .min()
            .map(|(_, r)| r)
    }

    /// A replica pulls an async job: it is assigned there directly.
    fn pull(&mut self, sim: &mut Simulation<Event>, r: usize, sub: &Submit) -> RequestId {
        let id = self.sh.arrive(sim.now(), sub);
        self.engine(r).assign(sim, id);
        id
    }

    /// Starts a replica if none is ready or starting (work is waiting for one).
    fn ensure_coming(&mut self, sim: &mut Simulation<Event>) {
        if !self.any_coming() {
            self.start_replica(sim);
        }
    }

    /// When a replica took the attempt, if one has.
    fn connected_at(&self, id: RequestId) -> Option<SimTime> {
        if self.sh.live(id) {
            self.sh.attempt(id).connected
        } else {
            None
        }
    }

    /// Whether a replica has taken the attempt: only a replica sends keep-alives, not the proxy
    /// holding a request while none is ready.
    fn taken(&self, id: RequestId) -> bool {
        self.sh.live(id) && self.sh.attempt(id).replica != UNASSIGNED
    }

    /// When the attempt's latest token was made, as of `now` (tokens of a decode segment
    /// under way included).
    fn last_token(&self, id: RequestId, now: SimTime) -> Option<SimTime> {
        if !self.sh.live(id) {
            return None;
        }
        let r = self.sh.attempt(id);
        r.first_token?;
        let mut last = r.last_tok.max(r.first_token);
        match r.state {
            State::Decoding => {
                let rep = &self.replicas[r.replica as usize];
                last = last.max(Some(rep.last_decode_end));
                if let Busy::Segment {
                    start,
                    steps,
                    alpha,
                    beta,
                    c0,
                    b,
                } = rep.busy
                {
                    let m =
                        completed_steps(alpha, beta, c0, b, now.saturating_since(start)).min(steps);
                    if m > 0 {
                        let t = start + secs(segment_seconds(alpha, beta, c0, b as f64, m));
                        last = last.max(Some(t));
                    }
                }
            }
            // Tokens of a static batch flow one step apart once the first exists.
            State::Batched => last = Some(now),
            _ => {}
        }
        last
    }

    /// The client hung up on an attempt (a timeout). The server cancels its work if the
    /// attempt asked for that, else it goes on, for nobody.
    fn disconnect(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        if !self.sh.live(id) {
            return;
        }
        self.sh.attempt_mut(id).abandoned = true;
        let a = self.sh.attempt(id);
        let (state, cancel, cancelled, replica) = (a.state, a.cancel, a.cancelled, a.replica);
        match state {
            // A held attempt was never given to a replica: it just leaves.
            State::Held => {
                self.sh.hold_live -= 1;
                self.sh.decide(sim, id, Outcome::ClientTimeout);
                self.release(sim, id);
            }
            // Still in the API server: it never reaches the engine.
            State::Api => {
                self.sh.decide(sim, id, Outcome::ClientTimeout);
                self.release(sim, id);
            }
            _ if !cancel => {}
            State::Waiting => {
                let mut e = self.engine(replica as usize);
                e.leave_queue(sim.now(), id);
                e.sh.decide(sim, id, Outcome::ClientTimeout);
                e.release(sim, id);
            }
            State::Prefilling | State::Decoding => {
                let mut e = self.engine(replica as usize);
                if !cancelled {
                    e.sh.attempt_mut(id).cancelled = true;
                    e.rep.cancel_pending += 1;
                }
                e.wake(sim);
            }
            // A static batch runs to its end; there is nothing to cancel.
            State::Batched | State::Free => {}
        }
    }

    /// Whether one of this endpoint's events is stale.
    fn is_stale(&self, event: &LlmEvent) -> bool {
        match *event {
            LlmEvent::StepDone(r, epoch) => epoch != self.replicas[r as usize].epoch,
            LlmEvent::BatchTimer(r, epoch) => {
                let rep = &self.replicas[r as usize];
                epoch != rep.timer_epoch || !matches!(rep.busy, Busy::Idle)
            }
            LlmEvent::QueueTimeout(id) => {
                !self.sh.live(id) || self.sh.attempt(id).state != State::Waiting
            }
            LlmEvent::ReplicaReady(r, life) => {
                let rep = &self.replicas[r as usize];
                rep.life != life || rep.phase != Phase::Starting
            }
            LlmEvent::IdleCheck(generation) => {
                generation != self.sh.idle_gen
                    || self.sh.in_system > 0
                    || self.sh.counted_run_done()
            }
            LlmEvent::HoldTimeout(id) => {
                !self.sh.live(id) || self.sh.attempt(id).state != State::Held
            }
            LlmEvent::ApiDone(id) => !self.sh.live(id) || self.sh.attempt(id).state != State::Api,
            // Periodic events do not outlive a counted run: it ends with its last answer.
            LlmEvent::ScaleSnapshot(_) | LlmEvent::ScaleEval(_) | LlmEvent::WindowTick => {
                self.sh.counted_run_done()
            }
        }
    }

    /// Handles one of this endpoint's events.
    fn handle(&mut self, sim: &mut Simulation<Event>, event: LlmEvent) {
        match event {
            LlmEvent::StepDone(r, _) => self.engine(r as usize).on_step_done(sim),
            LlmEvent::BatchTimer(r, _) => self.engine(r as usize).plan(sim),
            LlmEvent::QueueTimeout(id) => {
                let r = self.sh.attempt(id).replica as usize;
                self.engine(r).on_queue_timeout(sim, id);
            }
            LlmEvent::ReplicaReady(r, _) => self.on_replica_ready(sim, r as usize),
            LlmEvent::IdleCheck(_) => self.on_idle(sim),
            LlmEvent::ScaleSnapshot(up) => self.sh.on_scale_snapshot(sim.now(), up),
            LlmEvent::WindowTick => {
                self.close_window(sim.now());
                // Windows go on while requests may still come or are in the system.
                if !self.sh.counted_run_done() {
                    let tick = self.sh.ev(LlmEvent::WindowTick);
                    sim.schedule_in(self.sh.scenario.timeseries_interval, tick);
                }
            }
            LlmEvent::ScaleEval(up) => self.on_scale_eval(sim, up),
            LlmEvent::ApiDone(id) => self.route(sim, id),
            LlmEvent::HoldTimeout(id) => {
                self.sh.hold_live -= 1;
                self.sh.decide(sim, id, Outcome::Unavailable);
                self.release(sim, id);
            }
        }
    }

    /// Schedules what runs from time zero: the first window, autoscaler checks, idle timer.
    fn start(&mut self, sim: &mut Simulation<Event>) {
        let sh = &mut self.sh;
        // An endpoint that starts idle starts its idle clock at zero.
        sh.check_idle(sim);
        let tick = sh.ev(LlmEvent::WindowTick);
        sim.schedule_in(sh.scenario.timeseries_interval, tick);
        sh.schedule_scaling(sim, true);
        sh.schedule_scaling(sim, false);
        let running = sh.running;
        sh.signals[RUNNING].set(SimTime::ZERO, f64::from(running));
    }

    fn has_notices(&self) -> bool {
        !self.sh.outbox.is_empty()
    }

    fn set_client_done(&mut self, done: bool) {
        self.sh.client_done = done;
    }

    fn finish(self, end: SimTime, events: u64) -> (RunStats, Option<ServingStats>) {
        let (stats, serving) = self.finish_run(end, events);
        (stats, Some(serving))
    }
}
