//! An endpoint of `c` identical servers and one FIFO queue: the M/G/c family with optional
//! queue capacity, queue timeout (deterministic patience) and client timeout.
//!
//! # Request lifecycle
//! ```text
//! arrive ──► [server free] ──► in service ──► ok                 (client still waiting)
//!    │                              └───────► wasted work        (client already gone)
//!    ├──► [queue full] ──► rejected
//!    └──► queued ──► in service (as above)
//!            ├──► queue timeout ──► queue_timeout   (server drops it)
//!            └──► client timeout ──► client_timeout (cancelled, or left to waste a server)
//! ```
//! The client-side outcome is decided once, by whichever comes first: completion, a queue
//! timeout, a rejection or the client's timeout. The server side may go on after that (a client
//! that gave up without cancelling leaves its request to be served anyway); the request's slot
//! is freed only when both sides are done.

use std::collections::VecDeque;

use super::request::{Outcome, RequestId};
use super::scenario::Observe;
use super::scenario::{EndpointSpec, Load, Scenario, Service, StopRule};
use super::serving::{ClientOutput, ServingStats, simulate_llm_observed};
use super::stats::RunStats;
use super::workload::ArrivalState;
use crate::sim::{Model, RngStreams, SimDuration, SimRng, SimTime, Simulation};

/// The events of the queueing endpoint.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The next request arrives.
    Arrival,
    /// A server finishes a request.
    ServiceDone(RequestId),
    /// A waiting request reaches the queue timeout.
    QueueTimeout(RequestId),
    /// A client's timeout fires.
    ClientTimeout(RequestId),
    /// A closed-loop user finished thinking and sends its next request.
    UserReady(u32),
}

/// Where a request is on the server side.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// The slot holds no request.
    Free,
    /// Waiting in the queue.
    Queued,
    /// Being served since `Slot::started`.
    InService,
}

#[derive(Clone, Debug)]
struct Slot {
    generation: u32,
    phase: Phase,
    outcome: Option<Outcome>,
    measured: bool,
    user: Option<u32>,
    arrived: SimTime,
    started: SimTime,
    service: SimDuration,
}

/// The state of one simulated endpoint.
#[derive(Debug)]
pub struct QueueEndpoint<'a> {
    scenario: &'a Scenario,
    spec: &'a EndpointSpec,
    arrival_rng: SimRng,
    arrival_state: ArrivalState,
    service_rng: SimRng,
    think_rng: SimRng,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    queue: VecDeque<RequestId>,
    waiting: u64,
    busy: u32,
    /// Counted arrivals still to come under [`StopRule::Requests`].
    arrivals_left: Option<u64>,
    stats: RunStats,
}

impl<'a> QueueEndpoint<'a> {
    /// A fresh endpoint for `scenario` served by `spec`, drawing from `streams`.
    pub fn new(scenario: &'a Scenario, spec: &'a EndpointSpec, streams: &RngStreams) -> Self {
        let window_start = SimTime::ZERO + scenario.warm_up;
        QueueEndpoint {
            scenario,
            spec,
            arrival_rng: streams.stream("arrivals"),
            arrival_state: ArrivalState::default(),
            service_rng: streams.stream("service"),
            think_rng: streams.stream("think-time"),
            slots: Vec::new(),
            free_slots: Vec::new(),
            queue: VecDeque::new(),
            waiting: 0,
            busy: 0,
            arrivals_left: match scenario.stop {
                StopRule::Requests(n) => Some(n),
                StopRule::Duration(_) => None,
            },
            stats: RunStats::new(window_start, spec.servers),
        }
    }

    fn slot(&self, id: RequestId) -> &Slot {
        &self.slots[id.slot as usize]
    }

    fn slot_mut(&mut self, id: RequestId) -> &mut Slot {
        &mut self.slots[id.slot as usize]
    }

    fn is_live(&self, id: RequestId) -> bool {
        self.slot(id).generation == id.generation
    }

    fn allocate(
        &mut self,
        now: SimTime,
        service: SimDuration,
        measured: bool,
        user: Option<u32>,
    ) -> RequestId {
        let slot = Slot {
            generation: 0,
            phase: Phase::Free,
            outcome: None,
            measured,
            user,
            arrived: now,
            started: now,
            service,
        };
        match self.free_slots.pop() {
            Some(i) => {
                let generation = self.slots[i as usize].generation;
                self.slots[i as usize] = Slot { generation, ..slot };
                RequestId {
                    slot: i,
                    generation,
                }
            }
            None => {
                let i = u32::try_from(self.slots.len())
                    .expect("more than 4 billion requests in flight");
                self.slots.push(slot);
                RequestId {
                    slot: i,
                    generation: 0,
                }
            }
        }
    }

    /// Frees the slot once both the client and the server are done with the request. Bumping
    /// the generation turns every timer still pending for it into a stale event.
    fn free(&mut self, id: RequestId) {
        let s = self.slot_mut(id);
        s.generation = s.generation.wrapping_add(1);
        s.phase = Phase::Free;
        self.free_slots.push(id.slot);
    }

    /// Decides the client-side outcome (once); a closed-loop user then starts thinking.
    fn decide(&mut self, sim: &mut Simulation<Event>, id: RequestId, outcome: Outcome) {
        let now = sim.now();
        let s = self.slot_mut(id);
        debug_assert!(s.outcome.is_none(), "outcome decided twice");
        s.outcome = Some(outcome);
        let (measured, latency, user) = (s.measured, now - s.arrived, s.user);
        if measured {
            self.stats.record_outcome(outcome, latency);
        }
        if let (Some(u), Load::Closed { think, .. }) = (user, &self.scenario.load) {
            let wait = think.sample_duration(&mut self.think_rng);
            sim.schedule_in(wait, Event::UserReady(u));
        }
    }

    /// The request leaves the queue at `now` (to a server, or dropped): its wait is over.
    fn leave_queue_stats(&mut self, id: RequestId, now: SimTime) {
        let s = self.slot(id);
        if s.measured {
            let wait = now - s.arrived;
            self.stats.record_wait(wait);
        }
    }

    fn start_service(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        let now = sim.now();
        self.leave_queue_stats(id, now);
        self.busy += 1;
        self.stats.set_busy(now, self.busy);
        let s = self.slot_mut(id);
        s.phase = Phase::InService;
        s.started = now;
        let service = s.service;
        sim.schedule_in(service, Event::ServiceDone(id));
    }

    /// Takes a live request from the head of the queue for each free server.
    fn dispatch(&mut self, sim: &mut Simulation<Event>) {
        while self.busy < self.spec.servers {
            let Some(id) = self.queue.pop_front() else {
                return;
            };
            if self.is_live(id) && self.slot(id).phase == Phase::Queued {
                self.waiting -= 1;
                self.stats.set_waiting(sim.now(), self.waiting);
                self.start_service(sim, id);
            }
        }
    }

    /// Removes a queued request (timed out or cancelled). The queue entry itself is dropped
    /// lazily; stale entries at the head are trimmed right away to keep the deque short.
    fn remove_from_queue(&mut self, id: RequestId, now: SimTime) {
        self.leave_queue_stats(id, now);
        self.waiting -= 1;
        self.stats.set_waiting(now, self.waiting);
        self.slot_mut(id).phase = Phase::Free;
        while let Some(&head) = self.queue.front() {
            if self.is_live(head) && self.slot(head).phase == Phase::Queued && head != id {
                break;
            }
            self.queue.pop_front();
        }
    }

    fn on_arrival(&mut self, sim: &mut Simulation<Event>) {
        let measured = sim.now() >= self.stats.window_start;
        // The next arrival is drawn before anything else so that the arrival stream is consumed
        // identically whatever this request meets.
        if count_arrival(&mut self.arrivals_left, measured)
            && let Load::Open(arrivals) = &self.scenario.load
        {
            let gap = arrivals.next_gap(sim.now(), &mut self.arrival_rng, &mut self.arrival_state);
            sim.schedule_in(gap, Event::Arrival);
        }
        self.new_request(sim, None);
    }

    fn on_user_ready(&mut self, sim: &mut Simulation<Event>, user: u32) {
        let measured = sim.now() >= self.stats.window_start;
        if user_may_send(&mut self.arrivals_left, measured) {
            self.new_request(sim, Some(user));
        }
    }

    fn new_request(&mut self, sim: &mut Simulation<Event>, user: Option<u32>) {
        let now = sim.now();
        let measured = now >= self.stats.window_start;
        if measured {
            self.stats.arrived += 1;
        }
        // Service time is a property of the request, drawn at arrival, so it is the same for
        // the same request in every configuration (common random numbers).
        let service = self
            .spec
            .service_time
            .sample_duration(&mut self.service_rng);
        let id = self.allocate(now, service, measured, user);
        let endpoint = self.spec;

        if self.busy < endpoint.servers {
            self.start_service(sim, id);
        } else if endpoint
            .queue_capacity
            .is_some_and(|cap| self.waiting >= cap)
        {
            self.decide(sim, id, Outcome::Rejected);
            self.free(id);
            return;
        } else {
            if measured {
                self.stats.queued += 1;
            }
            self.slot_mut(id).phase = Phase::Queued;
            self.queue.push_back(id);
            self.waiting += 1;
            self.stats.set_waiting(now, self.waiting);
            if let Some(t) = endpoint.queue_timeout {
                sim.schedule_in(t, Event::QueueTimeout(id));
            }
        }
        if let Some(t) = self.scenario.policies.classes[0].policy.read_timeout {
            sim.schedule_in(t, Event::ClientTimeout(id));
        }
    }

    fn on_service_done(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        let now = sim.now();
        self.busy -= 1;
        self.stats.set_busy(now, self.busy);
        let s = self.slot(id);
        match s.outcome {
            None => self.decide(sim, id, Outcome::Ok),
            Some(_) => {
                // The client left before the answer was ready: the whole service was wasted.
                if s.measured {
                    let service = s.service;
                    self.stats.record_waste(service);
                }
            }
        }
        self.free(id);
        self.dispatch(sim);
    }

    fn on_queue_timeout(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        let now = sim.now();
        self.remove_from_queue(id, now);
        if self.slot(id).outcome.is_none() {
            self.decide(sim, id, Outcome::QueueTimeout);
        }
        self.free(id);
    }

    fn on_client_timeout(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        let now = sim.now();
        self.decide(sim, id, Outcome::ClientTimeout);
        if !self.scenario.policies.classes[0]
            .policy
            .cancel_on_disconnect
        {
            // The server does not notice; the request stays queued or in service.
            return;
        }
        match self.slot(id).phase {
            Phase::Queued => {
                self.remove_from_queue(id, now);
                self.free(id);
            }
            Phase::InService => {
                let s = self.slot(id);
                if s.measured {
                    let done = now - s.started;
                    self.stats.record_waste(done);
                }
                self.busy -= 1;
                self.stats.set_busy(now, self.busy);
                self.free(id);
                self.dispatch(sim);
            }
            Phase::Free => unreachable!("a live request is queued or in service"),
        }
    }

    /// Ends the run at `end` and returns its statistics.
    pub fn finish(mut self, end: SimTime, events: u64) -> RunStats {
        self.stats.in_flight = self
            .slots
            .iter()
            .filter(|s| s.phase != Phase::Free && s.measured && s.outcome.is_none())
            .count() as u64;
        self.stats.close(end);
        self.stats.events = events;
        self.stats
    }
}

impl Model for QueueEndpoint<'_> {
    type Event = Event;

    fn is_stale(&self, event: &Event) -> bool {
        match *event {
            Event::Arrival | Event::UserReady(_) => false,
            Event::ServiceDone(id) => !self.is_live(id) || self.slot(id).phase != Phase::InService,
            Event::QueueTimeout(id) => !self.is_live(id) || self.slot(id).phase != Phase::Queued,
            Event::ClientTimeout(id) => !self.is_live(id) || self.slot(id).outcome.is_some(),
        }
    }

    fn handle(&mut self, sim: &mut Simulation<Event>, event: Event) {
        match event {
            Event::Arrival => self.on_arrival(sim),
            Event::ServiceDone(id) => self.on_service_done(sim, id),
            Event::QueueTimeout(id) => self.on_queue_timeout(sim, id),
            Event::ClientTimeout(id) => self.on_client_timeout(sim, id),
            Event::UserReady(u) => self.on_user_ready(sim, u),
        }
    }
}

/// Counts an open-loop arrival against a `requests = N` budget (`left`); returns whether
/// another arrival should follow. Arrivals during the warm-up do not count.
pub(crate) fn count_arrival(left: &mut Option<u64>, measured: bool) -> bool {
    match left {
        Some(n) if measured => {
            *n -= 1;
            *n > 0
        }
        _ => true,
    }
}

/// Whether a closed-loop user may send another request under a `requests = N` budget, counting
/// it if so.
pub(crate) fn user_may_send(left: &mut Option<u64>, measured: bool) -> bool {
    match left {
        Some(0) if measured => false,
        Some(n) if measured => {
            *n -= 1;
            true
        }
        _ => true,
    }
}

/// What one run measured.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// Request counts, latencies, waits, utilisation.
    pub stats: RunStats,
    /// Token-level serving statistics, for LLM services.
    pub serving: Option<ServingStats>,
    /// Per-class statistics, attempts, breaker and async queue, for LLM services.
    pub clients: Option<ClientOutput>,
}

/// Starts the load: the first open-loop arrival, or every closed-loop user one think time in.
pub(crate) fn start_load<E>(
    sim: &mut Simulation<E>,
    load: &Load,
    arrival_rng: &mut SimRng,
    arrival_state: &mut ArrivalState,
    think_rng: &mut SimRng,
    arrival: E,
    user: impl Fn(u32) -> E,
) {
    match load {
        Load::Open(arrivals) => {
            let first = arrivals.next_gap(SimTime::ZERO, arrival_rng, arrival_state);
            sim.schedule_in(first, arrival);
        }
        Load::Closed { users, think } => {
            for u in 0..*users {
                let wait = think.sample_duration(think_rng);
                sim.schedule_in(wait, user(u));
            }
        }
    }
}

/// Runs `scenario` once with `seed` and returns what was measured, keeping no time series
/// nor request records.
pub fn simulate(scenario: &Scenario, seed: u64) -> RunOutput {
    simulate_observed(scenario, seed, Observe::default())
}

/// Runs `scenario` once with `seed`, keeping what `observe` asks for (LLM endpoints; plain
/// servers keep neither), and returns what was measured.
pub fn simulate_observed(scenario: &Scenario, seed: u64, observe: Observe) -> RunOutput {
    let spec = match &scenario.service {
        Service::Servers(spec) => spec,
        Service::Llm(svc) => {
            let (stats, serving, clients) = simulate_llm_observed(scenario, svc, seed, observe);
            return RunOutput {
                stats,
                serving: Some(serving),
                clients: Some(clients),
            };
        }
    };
    let streams = RngStreams::new(seed);
    let mut endpoint = QueueEndpoint::new(scenario, spec, &streams);
    let mut sim = Simulation::new();
    // The first request arrives one gap after time zero, like every later one.
    start_load(
        &mut sim,
        &scenario.load,
        &mut endpoint.arrival_rng,
        &mut endpoint.arrival_state,
        &mut endpoint.think_rng,
        Event::Arrival,
        Event::UserReady,
    );
    let horizon = match scenario.stop {
        StopRule::Duration(d) => Some(SimTime::ZERO + d),
        StopRule::Requests(_) => None,
    };
    sim.run(&mut endpoint, horizon);
    let end = sim.now();
    let events = sim.events_handled();
    RunOutput {
        stats: endpoint.finish(end, events),
        serving: None,
        clients: None,
    }
}
