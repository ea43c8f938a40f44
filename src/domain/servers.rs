//! An endpoint of `c` identical servers and one FIFO queue: the M/G/c family with optional
//! queue capacity and queue timeout (deterministic patience). It serves plain-server endpoints
//! (vision, embeddings, any model whose service time is sampled) and is driven by the client
//! layer like the LLM endpoint, so client timeouts, retries, the breaker, async jobs and client
//! classes all work over it.
//!
//! # Attempt lifecycle
//! ```text
//! submit ──► [server free] ──► in service ──► ok                 (client still waiting)
//!    │                              └───────► wasted work        (client already gone)
//!    ├──► [queue full] ──► rejected
//!    └──► queued ──► in service (as above)
//!            ├──► queue timeout ──► queue_timeout   (server drops it)
//!            └──► client hangs up ──► cancelled, or left to waste a server
//! ```
//! The server side may go on after the client has hung up (a client that gave up without
//! cancelling leaves its attempt to be served anyway); the slot is freed only when the server
//! is done with it.

use std::collections::VecDeque;

use super::endpoint::{Endpoint, Event, Notice, Submit};
use super::request::{Outcome, RequestId};
use super::scenario::EndpointSpec;
use super::slab::Slab;
use super::stats::{RunStats, ServingStats};
use crate::sim::{RngStreams, SimDuration, SimRng, SimTime, Simulation};

/// The events of a server pool.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PoolEvent {
    /// A server finishes an attempt.
    ServiceDone(RequestId),
    /// A waiting attempt reaches the queue timeout.
    QueueTimeout(RequestId),
}

type Sim = Simulation<Event<PoolEvent>>;

/// Where an attempt is on the server side.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// The slot holds no attempt.
    Free,
    /// Waiting in the queue.
    Queued,
    /// Being served since `Attempt::started`.
    InService,
}

/// One attempt at the pool (a request's retry is a new attempt).
#[derive(Clone, Debug)]
struct Attempt {
    phase: Phase,
    /// The server side has ended (answered or dropped).
    decided: bool,
    /// The client hung up: nothing the server does now reaches anyone.
    abandoned: bool,
    /// Whether the server stops work when the client hangs up.
    cancel: bool,
    owner: RequestId,
    lane: u8,
    measured: bool,
    arrived: SimTime,
    started: SimTime,
    service: SimDuration,
}

/// The state of one server pool.
#[derive(Debug)]
pub struct ServerPool<'a> {
    spec: &'a EndpointSpec,
    /// 0: the primary endpoint, 1: the fallback.
    ix: u8,
    service_rng: SimRng,
    attempts: Slab<Attempt>,
    /// One FIFO lane per priority tier, served lowest first (a single lane without tiers).
    queue: Vec<VecDeque<RequestId>>,
    waiting: u64,
    busy: u32,
    outbox: Vec<Notice>,
    /// A server was freed: the queue is served in [`Endpoint::settle`].
    dispatch_pending: bool,
    stats: RunStats,
}

impl<'a> ServerPool<'a> {
    /// A fresh pool `ix` (0 primary, 1 fallback) of `spec` whose measurement window opens at
    /// `window_start`, with `lanes` priority lanes.
    pub fn new(
        spec: &'a EndpointSpec,
        streams: &RngStreams,
        ix: u8,
        window_start: SimTime,
        lanes: usize,
    ) -> Self {
        // The fallback draws from its own stream, so adding one leaves the primary unchanged.
        let service = if ix == 0 {
            "service"
        } else {
            "fallback-service"
        };
        ServerPool {
            spec,
            ix,
            service_rng: streams.stream(service),
            attempts: Slab::default(),
            queue: (0..lanes.max(1)).map(|_| VecDeque::new()).collect(),
            waiting: 0,
            busy: 0,
            outbox: Vec::new(),
            dispatch_pending: false,
            stats: RunStats::new(window_start, spec.servers),
        }
    }

    fn attempt(&self, id: RequestId) -> &Attempt {
        self.attempts.get(id)
    }

    fn attempt_mut(&mut self, id: RequestId) -> &mut Attempt {
        self.attempts.get_mut(id)
    }

    fn is_live(&self, id: RequestId) -> bool {
        self.attempts.is_current(id) && self.attempt(id).phase != Phase::Free
    }

    fn ev(&self, e: PoolEvent) -> Event<PoolEvent> {
        Event::Ep(self.ix, e)
    }

    /// Frees the slot once the server is done with the attempt. The new generation turns
    /// every timer still pending for it into a stale event.
    fn free(&mut self, id: RequestId) {
        self.attempt_mut(id).phase = Phase::Free;
        self.attempts.remove(id);
    }

    /// The server side ends with `outcome` (once); the notice for the client, unless it has
    /// gone.
    #[inline]
    fn decide(&mut self, id: RequestId, outcome: Outcome) -> Option<Notice> {
        let s = self.attempt_mut(id);
        debug_assert!(!s.decided, "outcome decided twice");
        s.decided = true;
        // A plain server makes no tokens: its answer has no first token to time.
        (!s.abandoned).then_some(Notice::Done {
            owner: s.owner,
            attempt: id,
            outcome,
            first_token: None,
        })
    }

    /// The attempt leaves the queue at `now` (to a server, or dropped): its wait is over.
    fn leave_queue_stats(&mut self, id: RequestId, now: SimTime) {
        let s = self.attempt(id);
        if s.measured {
            let wait = now - s.arrived;
            self.stats.record_wait(wait);
        }
    }

    fn start_service(&mut self, sim: &mut Sim, id: RequestId) {
        let now = sim.now();
        self.leave_queue_stats(id, now);
        self.busy += 1;
        self.stats.set_busy(now, self.busy);
        let s = self.attempt_mut(id);
        s.phase = Phase::InService;
        s.started = now;
        let service = s.service;
        sim.schedule_in(service, self.ev(PoolEvent::ServiceDone(id)));
    }

    /// Whether `id` is a live attempt still waiting.
    fn is_waiting(&self, id: RequestId) -> bool {
        self.is_live(id) && self.attempt(id).phase == Phase::Queued
    }

    /// Takes a live attempt from the head of the first non-empty lane for each free server.
    /// Always inlined into [`Endpoint::settle`], its one caller, run after every service.
    #[inline(always)]
    fn dispatch(&mut self, sim: &mut Sim) {
        let mut lane = 0;
        // With nothing waiting, what is left in the lanes is stale entries: they may stay.
        while self.waiting > 0 && self.busy < self.spec.servers && lane < self.queue.len() {
            let Some(id) = self.queue[lane].pop_front() else {
                lane += 1;
                continue;
            };
            if self.is_waiting(id) {
                self.waiting -= 1;
                self.stats.set_waiting(sim.now(), self.waiting);
                self.start_service(sim, id);
            }
        }
    }

    /// Removes a queued attempt (timed out or cancelled). The queue entry itself is dropped
    /// lazily; stale entries at the head are trimmed right away to keep the lane short.
    fn remove_from_queue(&mut self, id: RequestId, now: SimTime) {
        self.leave_queue_stats(id, now);
        self.waiting -= 1;
        self.stats.set_waiting(now, self.waiting);
        let lane = usize::from(self.attempt(id).lane);
        self.attempt_mut(id).phase = Phase::Free;
        while let Some(&head) = self.queue[lane].front() {
            if self.is_waiting(head) && head != id {
                break;
            }
            self.queue[lane].pop_front();
        }
    }

    /// A server is done with attempt `id`, which the caller found in service. The attempt is
    /// read once, before the statistics change, and its slot freed at once.
    #[inline]
    fn on_service_done(&mut self, sim: &mut Sim, id: RequestId) -> Option<Notice> {
        let now = sim.now();
        let s = self.attempt_mut(id);
        debug_assert!(s.phase == Phase::InService && !s.decided);
        let (abandoned, measured, service, owner) = (s.abandoned, s.measured, s.service, s.owner);
        s.decided = true;
        s.phase = Phase::Free;
        self.attempts.remove(id);
        self.busy -= 1;
        self.stats.set_busy(now, self.busy);
        self.dispatch_pending = true;
        if abandoned {
            // The client left before the answer was ready: the whole service was wasted.
            if measured {
                self.stats.record_waste(service);
            }
            return None;
        }
        // A plain server makes no tokens: its answer has no first token to time.
        Some(Notice::Done {
            owner,
            attempt: id,
            outcome: Outcome::Ok,
            first_token: None,
        })
    }

    fn on_queue_timeout(&mut self, sim: &mut Sim, id: RequestId) -> Option<Notice> {
        let now = sim.now();
        self.remove_from_queue(id, now);
        let notice = self.decide(id, Outcome::QueueTimeout);
        self.free(id);
        notice
    }
}

impl Endpoint for ServerPool<'_> {
    type Event = PoolEvent;

    fn start(&mut self, _sim: &mut Sim) {}

    /// Always inlined into the clients' attempt path, its caller once per attempt: the
    /// attempt's fields then go straight into the slot, not through a `Submit` in memory.
    #[inline(always)]
    fn submit(&mut self, sim: &mut Sim, sub: &Submit) -> RequestId {
        let now = sim.now();
        // Service time is drawn when the attempt arrives, so without retries it is the same
        // for the same request in every configuration (common random numbers).
        let service = self
            .spec
            .service_time
            .sample_duration(&mut self.service_rng);
        let lane = sub.lane.min(self.queue.len().saturating_sub(1) as u8);
        let id = self.attempts.insert(Attempt {
            phase: Phase::Queued,
            decided: false,
            abandoned: false,
            cancel: sub.cancel,
            owner: sub.owner,
            lane,
            measured: sub.measured,
            arrived: now,
            started: now,
            service,
        });
        if self.busy < self.spec.servers {
            self.start_service(sim, id);
        } else if self
            .spec
            .queue_capacity
            .is_some_and(|cap| self.waiting >= cap)
        {
            let notice = self.decide(id, Outcome::Rejected);
            self.outbox.extend(notice);
            self.free(id);
        } else {
            if sub.measured {
                self.stats.queued += 1;
            }
            self.queue[usize::from(lane)].push_back(id);
            self.waiting += 1;
            self.stats.set_waiting(now, self.waiting);
            if let Some(t) = self.spec.queue_timeout {
                sim.schedule_in(t, self.ev(PoolEvent::QueueTimeout(id)));
            }
        }
        id
    }

    fn pull_target(&self) -> Option<usize> {
        // A pool pulls a job only when a server is free to start it (and none of its own
        // queue is waiting for that server).
        (self.busy < self.spec.servers && self.waiting == 0).then_some(0)
    }

    fn pull(&mut self, sim: &mut Sim, _target: usize, sub: &Submit) -> RequestId {
        self.submit(sim, sub)
    }

    fn ensure_coming(&mut self, _sim: &mut Sim) {}

    #[inline]
    fn connected_at(&self, id: RequestId) -> Option<SimTime> {
        // The pool accepts every connection at once (it may refuse the request after).
        self.is_live(id).then(|| self.attempt(id).arrived)
    }

    fn taken(&self, id: RequestId) -> bool {
        self.is_live(id)
    }

    fn last_token(&self, _id: RequestId, _now: SimTime) -> Option<SimTime> {
        // Nothing is streamed: the answer comes whole at the end of service.
        None
    }

    fn disconnect(&mut self, sim: &mut Sim, id: RequestId) {
        if !self.is_live(id) {
            return;
        }
        let now = sim.now();
        let s = self.attempt_mut(id);
        s.abandoned = true;
        if !s.cancel {
            // The server does not notice; the attempt stays queued or in service.
            return;
        }
        match s.phase {
            Phase::Queued => {
                self.remove_from_queue(id, now);
                self.free(id);
            }
            Phase::InService => {
                let s = self.attempt(id);
                if s.measured {
                    let done = now - s.started;
                    self.stats.record_waste(done);
                }
                self.busy -= 1;
                self.stats.set_busy(now, self.busy);
                self.free(id);
                self.dispatch_pending = true;
            }
            Phase::Free => unreachable!("a live attempt is queued or in service"),
        }
    }

    #[inline]
    fn note_outcome(&mut self, _outcome: Outcome, _latency: SimDuration) {}

    #[inline]
    fn has_notices(&self) -> bool {
        !self.outbox.is_empty()
    }

    #[inline]
    fn take_notices(&mut self, into: &mut Vec<Notice>) {
        if into.is_empty() {
            // The usual case (the clients' batch is empty): trading buffers copies nothing.
            std::mem::swap(into, &mut self.outbox);
        } else {
            into.append(&mut self.outbox);
        }
    }

    #[inline]
    fn set_client_done(&mut self, _done: bool) {}

    // A pool schedules nothing of its own that would need to know.
    const HEEDS_CLIENT_DONE: bool = false;

    #[inline]
    fn settle(&mut self, sim: &mut Sim) {
        if std::mem::take(&mut self.dispatch_pending) {
            self.dispatch(sim);
        }
    }

    #[inline]
    fn is_stale(&self, event: &PoolEvent) -> bool {
        match *event {
            PoolEvent::ServiceDone(id) => {
                !self.is_live(id) || self.attempt(id).phase != Phase::InService
            }
            PoolEvent::QueueTimeout(id) => !self.is_waiting(id),
        }
    }

    fn handle(&mut self, sim: &mut Sim, event: PoolEvent) {
        let notice = self.handle_one(sim, event);
        self.outbox.extend(notice);
    }

    /// One look at the attempt says whether the event is stale and what it does.
    #[inline]
    fn handle_one_if_fresh(&mut self, sim: &mut Sim, event: PoolEvent) -> Option<Option<Notice>> {
        match event {
            PoolEvent::ServiceDone(id) => {
                // In service means live: a freed slot's phase is `Free`.
                let fresh =
                    self.attempts.is_current(id) && self.attempt(id).phase == Phase::InService;
                fresh.then(|| self.on_service_done(sim, id))
            }
            PoolEvent::QueueTimeout(id) => {
                if !self.is_waiting(id) {
                    return None;
                }
                Some(self.on_queue_timeout(sim, id))
            }
        }
    }

    /// Every event ends at most one attempt, so its one notice (if any) is handed back.
    #[inline]
    fn handle_one(&mut self, sim: &mut Sim, event: PoolEvent) -> Option<Notice> {
        match event {
            PoolEvent::ServiceDone(id) => self.on_service_done(sim, id),
            PoolEvent::QueueTimeout(id) => self.on_queue_timeout(sim, id),
        }
    }

    fn finish(mut self, end: SimTime, events: u64) -> (RunStats, Option<ServingStats>) {
        self.stats.close(end);
        self.stats.events = events;
        (self.stats, None)
    }
}
