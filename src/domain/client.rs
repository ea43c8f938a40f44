//! The clients in front of the endpoints: requests (what users want) and their attempts (what
//! an endpoint sees), client and gateway timeouts, retries with backoff and a budget, the
//! circuit breaker with its fallback endpoint, the async task queue, and client classes.
//!
//! A request lives here until it has its one outcome. Each attempt is handed to an endpoint
//! (`submit`, or `pull` for async jobs); the endpoint reports back through notices. Time limits
//! are one timer per attempt, re-armed lazily: when it fires it works out the earliest limit
//! from what is known now (the latest token of a streamed answer moves the idle limits), and
//! either ends the attempt or sleeps until that limit.
//!
//! ```text
//! request ──► attempt ──► ok ───────────────────────────────► ok (fallback_ok)
//!    ▲           ├──► 429/503/504/timeout ─► retry? ─ yes ─► backoff ─┐
//!    │           │                              └─ no ──► that outcome (fallback_failed)
//!    └───────────┴──────────────────────────────────────────────────────┘
//! breaker open, no fallback ─► breaker_rejected;   async job not started in time ─► expired
//! ```

use std::collections::{BTreeMap, VecDeque};

use super::distribution::Dist;
use super::endpoint::{Endpoint, Event, Notice, Submit};
use super::policy::{ClientPolicy, Discipline, JobOrder, Policies, RetryPolicy};
use super::prompt::Content;
use super::request::{Outcome, RequestId};
use super::reuse::{Prompts, Sessions, Turn};
use super::scenario::{Load, Scenario, StopRule};
use super::slab::Slab;
use super::slo::RequestBounds;
use super::stats::{Backlog, LatencyStats, RunStats, ServingStats};
use super::workload::{ArrivalState, Arrivals};
use crate::sim::{Model, RngStreams, SimDuration, SimRng, SimTime, Simulation};
use rand::RngExt;

/// What one client class measured.
#[derive(Clone, Debug)]
pub struct ClassStats {
    /// Class name (`all` for the sum over classes).
    pub name: String,
    /// Requests: arrivals, outcomes, in flight, latency of `ok` requests.
    pub run: RunStats,
    /// Time to first token of answered requests (from the request's arrival).
    pub ttft: LatencyStats,
    /// Sum of time per output token over answered requests with more than one token.
    pub tpot_sum_s: f64,
    /// Time per output token of those requests, summarised (for its percentiles).
    pub tpot: LatencyStats,
    /// Count for `tpot_sum_s`.
    pub tpot_count: u64,
    /// Output tokens of answered requests.
    pub ok_output_tokens: u64,
    /// Attempts sent to an endpoint (first tries and retries).
    pub attempts: u64,
    /// Attempts by outcome (indexed by [`Outcome::index`]).
    pub attempt_outcomes: [u64; Outcome::COUNT],
    /// Attempts without an outcome when the run stopped.
    pub attempts_in_flight: u64,
    /// Retries sent.
    pub retries: u64,
    /// Retries the budget refused.
    pub retries_refused: u64,
    /// Status polls of async jobs.
    pub polls: u64,
}

impl ClassStats {
    fn new(name: &str, window_start: SimTime) -> Self {
        ClassStats {
            name: name.to_string(),
            run: RunStats::new(window_start, 1),
            ttft: LatencyStats::default(),
            tpot_sum_s: 0.0,
            tpot: LatencyStats::default(),
            tpot_count: 0,
            ok_output_tokens: 0,
            attempts: 0,
            attempt_outcomes: [0; Outcome::COUNT],
            attempts_in_flight: 0,
            retries: 0,
            retries_refused: 0,
            polls: 0,
        }
    }

    /// Checks `attempts = every attempt outcome + attempts in flight`.
    pub fn attempts_conserved(&self) -> bool {
        self.attempts == self.attempt_outcomes.iter().sum::<u64>() + self.attempts_in_flight
    }
}

/// The circuit breaker's state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests go to the primary endpoint; failures are counted.
    Closed,
    /// Requests go to the fallback, or fail at once.
    Open,
    /// A few probe requests go to the primary.
    HalfOpen,
}

/// One request, as `--requests` writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRecord {
    /// Arrival time, seconds.
    pub arrived_s: f64,
    /// Class index.
    pub class: u16,
    /// How it ended.
    pub outcome: Outcome,
    /// Attempts sent.
    pub attempts: u32,
    /// From arrival to outcome, seconds.
    pub latency_s: f64,
    /// Time to first token, seconds, when answered.
    pub ttft_s: Option<f64>,
    /// Prompt tokens.
    pub prompt: u32,
    /// Output tokens.
    pub output: u32,
}

/// What the clients measured beyond their classes.
#[derive(Clone, Debug, Default)]
pub struct ClientOutput {
    /// Per class, in the experiment's order.
    pub classes: Vec<ClassStats>,
    /// Times the breaker opened.
    pub breaker_opens: u64,
    /// Breaker transitions (at most 10,000), for inspection and tests.
    pub breaker_log: Vec<(SimTime, BreakerState)>,
    /// Most async jobs queued at once.
    pub async_queue_max: u64,
    /// One record per counted request that ended, in the order they ended (when asked for).
    pub requests: Vec<RequestRecord>,
}

/// One request (what a user wants), from its arrival to its one outcome; it sends one or more
/// attempts to the endpoints. Only what every request needs is here: small and `Copy`, it is
/// written straight into its slot (what repeated prompts and async jobs add is in [`Extra`]).
#[derive(Copy, Clone, Debug)]
struct Request {
    /// Whether the request is still without its outcome (false in a slot left free).
    live: bool,
    class: u16,
    measured: bool,
    arrived: SimTime,
    prompt: u32,
    output: u32,
    user: Option<u32>,
    /// Attempts sent so far.
    attempts: u32,
    /// Bumped whenever the attempt timer is re-armed or the attempt ends.
    seq: u32,
    /// The attempt under way: endpoint and its id there.
    cur: Option<(u8, RequestId)>,
    started: SimTime,
    connected: Option<SimTime>,
    probe: bool,
}

/// What a request carries when prompts repeat or jobs queue, kept beside the requests (same
/// slot) and only then: a plain server's request does without, and without its reference
/// count the request stays small enough to be stored without a copy.
#[derive(Clone, Debug, Default)]
struct Extra {
    /// Key in the async queue while queued.
    queued: Option<(u32, u64)>,
    /// An async job's first token, once done and waiting for the client's next poll.
    first_token: Option<SimTime>,
    /// What the prompt is made of, when prompts repeat.
    content: Option<Content>,
    /// The id of its answer's tokens (sent back by a conversation's next turn).
    answer: u64,
    /// The conversation it is a turn of.
    session: Option<RequestId>,
}

/// What the hot path needs of a class's policy, looked up once per run.
#[derive(Copy, Clone, Debug)]
struct ClassInfo {
    /// Waiting lane (priority tier) at a server or replica.
    lane: u8,
    /// Whether attempts have any time limit (client or gateway).
    timed: bool,
    /// Whether the server stops work when the client hangs up.
    cancel: bool,
}

enum Route {
    Primary { probe: bool },
    Fallback,
    Reject,
}

/// How a measured request ended, as its class (and the total) count it.
#[derive(Copy, Clone, Debug)]
struct End {
    now: SimTime,
    arrived: SimTime,
    outcome: Outcome,
    first_token: Option<SimTime>,
    output: u32,
    polls: u64,
    /// The SLO's per-request bounds for the request's class.
    bounds: RequestBounds,
}

impl End {
    #[inline(always)]
    fn count(&self, s: &mut ClassStats) {
        let latency = self.now - self.arrived;
        s.run.record_outcome(self.outcome, latency);
        s.polls += self.polls;
        if self.outcome.is_success() {
            let (mut ttft, mut tpot) = (None, None);
            if let Some(first) = self.first_token {
                let to_first = first - self.arrived;
                s.ttft.record(to_first);
                ttft = Some(to_first.as_nanos());
                if self.output > 1 {
                    let per = (self.now - first).as_nanos() / u64::from(self.output - 1);
                    s.tpot_sum_s += (self.now - first).as_secs_f64() / f64::from(self.output - 1);
                    s.tpot_count += 1;
                    s.tpot.record(SimDuration::from_nanos(per));
                    tpot = Some(per);
                }
            }
            s.ok_output_tokens += u64::from(self.output);
            if self.bounds.met(latency.as_nanos(), ttft, tpot) {
                s.run.good += 1;
                s.run.good_tokens += u64::from(self.output);
            }
        }
    }
}

/// Clients and the endpoints they call: the whole simulated system. `eps[0]` is the primary
/// endpoint and `eps[1]`, if any, the breaker's fallback.
pub struct System<'a, E: Endpoint> {
    /// Whether to keep one record per counted request (`--requests`).
    keep_requests: bool,
    scenario: &'a Scenario,
    pol: &'a Policies,
    eps: Vec<E>,
    /// The workload's prompt and output token distributions (LLM endpoints; plain servers
    /// take no tokens).
    tokens: Option<(&'a Dist, &'a Dist)>,
    /// Whether the endpoints were last told the clients are done.
    client_done: bool,
    /// Lane, time limits and cancelling of each class.
    info: Vec<ClassInfo>,
    /// The SLO's per-request bounds of each class (goodput).
    bounds: Vec<RequestBounds>,
    /// Requests in the system over the window, sampled.
    backlog: Backlog,
    /// Whether the run stopped because `live` passed the scenario's in-flight budget.
    stopped: bool,
    /// Requests made since time zero.
    created: u64,
    /// How often async jobs' clients poll, if they do.
    poll: Option<SimDuration>,
    arrival_rng: SimRng,
    arrival_state: ArrivalState,
    /// Whether arrivals replay a trace (only then do they carry tokens or a conversation).
    replayed: bool,
    /// The scenario's in-flight budget, read once.
    in_flight_limit: u64,
    class_rng: SimRng,
    prompt_rng: SimRng,
    output_rng: SimRng,
    think_rng: SimRng,
    retry_rng: SimRng,
    requests: Slab<Request>,
    /// Each request's [`Extra`], by slot, when `extras` (else empty).
    extra: Vec<Extra>,
    /// Whether requests carry an [`Extra`]: prompts repeat, or jobs queue.
    extras: bool,
    live: u64,
    arrivals_left: Option<u64>,
    breaker: BreakerState,
    failures: VecDeque<SimTime>,
    breaker_epoch: u32,
    probes_out: u32,
    probes_ok: u32,
    /// Whether any class's retries have a budget: only then are attempt times kept.
    budgeted: bool,
    /// First attempts and retries sent in the last [`RetryPolicy::BUDGET_WINDOW`].
    budget_firsts: VecDeque<SimTime>,
    budget_retries: VecDeque<SimTime>,
    queue: BTreeMap<(u32, u64), RequestId>,
    queue_seq: u64,
    classes: Vec<ClassStats>,
    /// The sum over classes, when there are several.
    total: Option<ClassStats>,
    out: ClientOutput,
    notices: Vec<Notice>,
    window_start: SimTime,
    /// Prompts that repeat and conversations under way, when any class's prompts repeat.
    sessions: Option<Sessions>,
}

/// The system's events, for endpoints of type `E`.
type Ev<E> = Event<<E as Endpoint>::Event>;

/// Lanes of the classes: one per distinct priority (strict), one per class (weighted), or one;
/// and the weight of each lane.
pub fn lanes(pol: &Policies) -> (Vec<u8>, Vec<f64>) {
    let n = pol.classes.len();
    match pol.discipline {
        Discipline::Fifo => (vec![0; n], vec![1.0]),
        Discipline::Weighted => (
            (0..n as u8).collect(),
            pol.classes.iter().map(|c| c.weight).collect(),
        ),
        Discipline::Strict => {
            let mut prios: Vec<u32> = pol.classes.iter().map(|c| c.priority).collect();
            prios.sort_unstable();
            prios.dedup();
            let lane = |p: u32| prios.iter().position(|&q| q == p).unwrap_or(0) as u8;
            (
                pol.classes.iter().map(|c| lane(c.priority)).collect(),
                vec![1.0; prios.len()],
            )
        }
    }
}

impl<E: Endpoint> std::fmt::Debug for System<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The endpoints and their queues are large; name the system by its shape.
        f.debug_struct("System")
            .field("endpoints", &self.eps.len())
            .field("keep_requests", &self.keep_requests)
            .finish_non_exhaustive()
    }
}

impl<'a, E: Endpoint> System<'a, E> {
    /// Keeps one record per counted request when `on` (memory grows with the requests).
    pub fn keeping_requests(mut self, on: bool) -> Self {
        self.keep_requests = on;
        self
    }

    /// The clients of `scenario` in front of `eps` (the primary, then the fallback if any);
    /// `tokens`: the workload's prompt and output token distributions, if requests carry
    /// tokens.
    pub fn new(
        scenario: &'a Scenario,
        eps: Vec<E>,
        tokens: Option<(&'a Dist, &'a Dist)>,
        streams: &RngStreams,
    ) -> Self {
        let pol = &scenario.policies;
        let (lanes, _) = lanes(pol);
        let window_start = SimTime::ZERO + scenario.warm_up;
        let classes: Vec<ClassStats> = pol
            .classes
            .iter()
            .map(|c| ClassStats::new(&c.name, window_start))
            .collect();
        let mut system = System {
            keep_requests: false,
            scenario,
            pol,
            eps,
            tokens,
            client_done: false,
            info: pol
                .classes
                .iter()
                .zip(lanes)
                .map(|(c, lane)| {
                    let p = &c.policy;
                    ClassInfo {
                        lane,
                        timed: pol.gateway_timeout.is_some()
                            || p.connect_timeout.is_some()
                            || p.read_timeout.is_some()
                            || p.deadline.is_some(),
                        cancel: p.cancel_on_disconnect,
                    }
                })
                .collect(),
            bounds: pol
                .classes
                .iter()
                .map(|c| {
                    scenario.slo.as_ref().map_or(RequestBounds::NONE, |s| {
                        s.for_class(&c.name).request_bounds()
                    })
                })
                .collect(),
            backlog: Backlog::new(window_start),
            stopped: false,
            created: 0,
            poll: pol.async_queue.as_ref().and_then(|a| a.poll),
            arrival_rng: streams.stream("arrivals"),
            arrival_state: ArrivalState::default(),
            replayed: matches!(&scenario.load, Load::Open(Arrivals::Replay { .. })),
            in_flight_limit: scenario.in_flight_limit,
            class_rng: streams.stream("classes"),
            prompt_rng: streams.stream("prompt-tokens"),
            output_rng: streams.stream("output-tokens"),
            think_rng: streams.stream("think-time"),
            retry_rng: streams.stream("retry-backoff"),
            requests: Slab::default(),
            extra: Vec::new(),
            extras: false,
            live: 0,
            arrivals_left: match scenario.stop {
                StopRule::Requests(n) => Some(n),
                StopRule::Duration(_) => None,
            },
            breaker: BreakerState::Closed,
            failures: VecDeque::new(),
            breaker_epoch: 0,
            probes_out: 0,
            probes_ok: 0,
            budgeted: pol.classes.iter().any(|c| {
                c.policy
                    .retry
                    .as_ref()
                    .is_some_and(|r| r.budget_milli.is_some())
            }),
            budget_firsts: VecDeque::new(),
            budget_retries: VecDeque::new(),
            queue: BTreeMap::new(),
            queue_seq: 0,
            total: (classes.len() > 1).then(|| ClassStats::new("all", window_start)),
            classes,
            out: ClientOutput::default(),
            notices: Vec::new(),
            window_start,
            sessions: match tokens {
                Some((prompt, _))
                    if pol.classes.iter().any(|c| c.reuse.is_some())
                        || traced_conversations(scenario) =>
                {
                    let prompts = Prompts::new(
                        pol.classes
                            .iter()
                            .map(|c| (&c.reuse, c.prompt_tokens.as_ref().unwrap_or(prompt))),
                        streams.stream("prompt-pool"),
                        streams.stream("reuse"),
                    );
                    Some(Sessions::new(prompts, streams.stream("conversations")))
                }
                _ => None,
            },
        };
        system.extras = system.sessions.is_some() || pol.async_queue.is_some();
        system
    }

    fn request(&self, id: RequestId) -> &Request {
        self.requests.get(id)
    }

    fn request_mut(&mut self, id: RequestId) -> &mut Request {
        self.requests.get_mut(id)
    }

    /// The request's [`Extra`]; only when `self.extras`.
    fn extra(&self, id: RequestId) -> &Extra {
        &self.extra[id.slot as usize]
    }

    /// The request's [`Extra`], mutably; only when `self.extras`.
    fn extra_mut(&mut self, id: RequestId) -> &mut Extra {
        &mut self.extra[id.slot as usize]
    }

    /// Whether `id` is a request still without its outcome (slots of ended ones are reused).
    fn request_live(&self, id: RequestId) -> bool {
        self.requests.is_current(id) && self.request(id).live
    }

    fn policy(&self, id: RequestId) -> &'a ClientPolicy {
        &self.pol.classes[usize::from(self.request(id).class)].policy
    }

    /// Applies `f` to the statistics of `class` and to the total.
    #[inline(always)]
    fn count(&mut self, class: u16, f: impl Fn(&mut ClassStats)) {
        f(&mut self.classes[usize::from(class)]);
        if let Some(t) = self.total.as_mut() {
            f(t);
        }
    }

    fn sample_tokens(dist: &Dist, rng: &mut SimRng, min: f64) -> u32 {
        dist.sample(rng).round().max(min).min(f64::from(u32::MAX)) as u32
    }

    /// A new request from `user` (closed loop) or an arrival. Always inlined: it runs once per
    /// request, and a call would pass its arguments through memory.
    #[inline(always)]
    fn new_request(
        &mut self,
        sim: &mut Simulation<Ev<E>>,
        user: Option<u32>,
        sizes: Option<(u32, u32)>,
        conversation: Option<u64>,
    ) {
        let classes = &self.pol.classes;
        let class = if classes.len() == 1 {
            0
        } else {
            let u: f64 = self.class_rng.random();
            let mut acc = 0.0;
            classes
                .iter()
                .position(|c| {
                    acc += c.share;
                    u < acc
                })
                .unwrap_or(classes.len() - 1)
        };
        let c = &classes[class];
        let (prompt, output) = match (sizes, self.tokens) {
            // The trace's own tokens, unless the class or the workload sets distributions.
            (Some((p, o)), _) if self.scenario.sizes_from_trace && c.prompt_tokens.is_none() => {
                (p, o.max(1))
            }
            (_, Some((prompt, output))) => {
                let prompt_dist = c.prompt_tokens.as_ref().unwrap_or(prompt);
                let output_dist = c.output_tokens.as_ref().unwrap_or(output);
                (
                    Self::sample_tokens(prompt_dist, &mut self.prompt_rng, 0.0),
                    Self::sample_tokens(output_dist, &mut self.output_rng, 1.0),
                )
            }
            // A plain server takes no tokens.
            (_, None) => (0, 0),
        };
        let turn = match (self.sessions.as_mut(), conversation) {
            (Some(sessions), Some(conv)) if self.scenario.sizes_from_trace => Some(Turn {
                made: sessions.traced(conv, prompt, output),
                session: None,
            }),
            (Some(sessions), _) if c.reuse.is_some() => {
                Some(sessions.start(class as u16, &c.reuse, prompt, user))
            }
            _ => None,
        };
        self.create_request(sim, class as u16, user, prompt, output, turn);
    }

    /// A conversation's next turn: its user sends the history and a new message.
    fn next_turn(&mut self, sim: &mut Simulation<Ev<E>>, session: RequestId) {
        let Some(sessions) = self.sessions.as_mut() else {
            return;
        };
        let measured = sim.now() >= self.window_start;
        if !user_may_send(&mut self.arrivals_left, measured) {
            sessions.stop(session);
            return;
        }
        let class = sessions.class(session);
        let c = &self.pol.classes[usize::from(class)];
        let (prompt, output) = self.tokens.expect("conversations carry tokens");
        let conv = c.reuse.conversation.as_ref().expect("a conversation");
        let own_dist = conv
            .user_tokens
            .as_ref()
            .or(c.prompt_tokens.as_ref())
            .unwrap_or(prompt);
        let own = Self::sample_tokens(own_dist, &mut self.prompt_rng, 0.0);
        let output_dist = c.output_tokens.as_ref().unwrap_or(output);
        let output = Self::sample_tokens(output_dist, &mut self.output_rng, 1.0);
        let user = sessions.user(session);
        let turn = sessions.next(session, own);
        self.create_request(sim, class, user, own, output, Some(turn));
    }

    /// Counts a new request and sends it (or queues it as an async job); `turn`: its prompt
    /// when prompts repeat (else it has `prompt` tokens of its own). Always inlined into the
    /// arrival handler, its one caller on the hot path, to save a call and a copy per request.
    #[inline(always)]
    fn create_request(
        &mut self,
        sim: &mut Simulation<Ev<E>>,
        class: u16,
        user: Option<u32>,
        prompt: u32,
        output: u32,
        turn: Option<Turn>,
    ) {
        let now = sim.now();
        let prompt = turn.as_ref().map_or(prompt, |t| t.made.tokens);
        let measured = now >= self.window_start;
        let job = Request {
            live: true,
            class,
            measured,
            arrived: now,
            prompt,
            output,
            user,
            attempts: 0,
            seq: 0,
            cur: None,
            started: now,
            connected: None,
            probe: false,
        };
        let id = self.requests.insert(job);
        if self.extras {
            let extra = match turn {
                Some(t) => Extra {
                    content: Some(t.made.content),
                    answer: t.made.answer,
                    session: t.session,
                    ..Extra::default()
                },
                None => Extra::default(),
            };
            // Slots are handed out in order, so a new slot is the next one here too.
            match self.extra.get_mut(id.slot as usize) {
                Some(e) => *e = extra,
                None => self.extra.push(extra),
            }
        }
        self.backlog.observe(now, self.live);
        self.live += 1;
        self.created += 1;
        if (self.live > self.in_flight_limit || self.created > ARRIVAL_LIMIT) && !self.stopped {
            // The backlog has passed the memory budget (or the run has made more requests than
            // any run needs, as an absurd rate whose requests are all refused at once would):
            // the run ends here, its requests in flight counted unfinished, rather than growing
            // until memory or patience runs out.
            self.stopped = true;
            sim.stop();
        }
        if measured {
            self.count(class, |s| s.run.arrived += 1);
        }
        if self.pol.async_queue.is_some() {
            self.enqueue(sim, id);
        } else {
            self.start_attempt(sim, id);
        }
    }

    /// Counts an attempt about to be sent, for the statistics and the retry budget, and says
    /// what the endpoint is handed.
    #[inline(always)]
    fn count_attempt(&mut self, now: SimTime, id: RequestId) -> Submit {
        let j = self.requests.get_mut(id);
        j.attempts += 1;
        let (first, measured, class) = (j.attempts == 1, j.measured, j.class);
        let info = self.info[usize::from(class)];
        let (prompt, output) = (j.prompt, j.output);
        let (content, answer) = if self.extras {
            let e = &self.extra[id.slot as usize];
            (e.content.clone(), e.answer)
        } else {
            (None, 0)
        };
        let sub = Submit {
            owner: id,
            prompt,
            output,
            lane: info.lane,
            measured,
            cancel: info.cancel,
            content,
            answer,
        };
        if self.budgeted {
            // Times older than the window never count again (time only moves on), so they are
            // dropped here too: memory stays bounded by one window of attempts.
            let q = if first {
                &mut self.budget_firsts
            } else {
                &mut self.budget_retries
            };
            while q
                .front()
                .is_some_and(|&t| now - t >= RetryPolicy::BUDGET_WINDOW)
            {
                q.pop_front();
            }
            q.push_back(now);
        }
        if measured {
            self.count(class, |s| {
                s.attempts += 1;
                s.retries += u64::from(!first);
            });
        }
        sub
    }

    /// Sends the request's next attempt where the breaker says.
    #[inline(always)]
    fn start_attempt(&mut self, sim: &mut Simulation<Ev<E>>, id: RequestId) {
        let now = sim.now();
        let (ep, probe) = if self.pol.breaker.is_none() {
            (0u8, false)
        } else {
            match self.route() {
                Route::Primary { probe } => (0u8, probe),
                Route::Fallback => (1, false),
                Route::Reject => {
                    self.finish(sim, id, Outcome::BreakerRejected, None);
                    return;
                }
            }
        };
        let sub = self.count_attempt(now, id);
        let e = &mut self.eps[usize::from(ep)];
        let attempt = e.submit(sim, &sub);
        let connected = e.connected_at(attempt);
        let j = self.requests.get_mut(id);
        j.cur = Some((ep, attempt));
        j.started = now;
        j.connected = connected;
        j.probe = probe;
        let class = j.class;
        self.drain(sim);
        // `arm` would return at once for a class without time limits.
        if self.info[usize::from(class)].timed
            && self.request_live(id)
            && self.request(id).cur == Some((ep, attempt))
        {
            self.arm(sim, id);
        }
    }

    /// Where the next attempt goes.
    fn route(&mut self) -> Route {
        let Some(b) = &self.pol.breaker else {
            return Route::Primary { probe: false };
        };
        let away = if b.fallback.is_some() {
            Route::Fallback
        } else {
            Route::Reject
        };
        match self.breaker {
            BreakerState::Closed => Route::Primary { probe: false },
            BreakerState::Open => away,
            BreakerState::HalfOpen => {
                if self.probes_out + self.probes_ok < b.probes {
                    self.probes_out += 1;
                    Route::Primary { probe: true }
                } else {
                    away
                }
            }
        }
    }

    fn log_breaker(&mut self, now: SimTime) {
        if self.out.breaker_log.len() < 10_000 {
            self.out.breaker_log.push((now, self.breaker));
        }
    }

    fn open_breaker(&mut self, sim: &mut Simulation<Ev<E>>) {
        let b = self.pol.breaker.as_ref().expect("a breaker");
        self.breaker = BreakerState::Open;
        self.breaker_epoch = self.breaker_epoch.wrapping_add(1);
        self.failures.clear();
        if sim.now() >= self.window_start {
            self.out.breaker_opens += 1;
        }
        self.log_breaker(sim.now());
        sim.schedule_in(b.cool_down, Event::BreakerHalfOpen(self.breaker_epoch));
    }

    /// The breaker learns how an attempt at the primary ended.
    fn breaker_sees(&mut self, sim: &mut Simulation<Ev<E>>, outcome: Outcome, probe: bool) {
        let Some(b) = &self.pol.breaker else {
            return;
        };
        let now = sim.now();
        let failure = b.on.contains(outcome);
        match self.breaker {
            BreakerState::Closed if failure => {
                self.failures.push_back(now);
                while self.failures.front().is_some_and(|&t| now - t >= b.window) {
                    self.failures.pop_front();
                }
                if self.failures.len() >= b.failures as usize {
                    self.open_breaker(sim);
                }
            }
            BreakerState::HalfOpen if probe => {
                self.probes_out -= 1;
                if failure {
                    self.open_breaker(sim);
                } else {
                    self.probes_ok += 1;
                    if self.probes_ok >= b.probes {
                        self.breaker = BreakerState::Closed;
                        self.log_breaker(now);
                    }
                }
            }
            // Late answers to attempts sent before it opened, and successes, change nothing.
            _ => {}
        }
    }

    /// The earliest time limit of the request's current attempt, and the outcome it gives.
    fn next_limit(&self, id: RequestId, now: SimTime) -> Option<(SimTime, Outcome)> {
        let j = self.request(id);
        let (ep, attempt) = j.cur?;
        let p = self.policy(id);
        let e = &self.eps[usize::from(ep)];
        let last_token = if p.streaming {
            e.last_token(attempt, now)
        } else {
            None
        };
        // A streamed answer with keep-alives more frequent than a limit never looks idle, once
        // a replica (not a proxy holding the request) sends them.
        let taken = e.taken(attempt);
        let kept_alive = |limit: SimDuration| {
            p.streaming && taken && self.pol.keep_alive.is_some_and(|k| k < limit)
        };
        let mut best: Option<(SimTime, Outcome)> = None;
        let mut consider = |t: SimTime, o: Outcome| {
            if best.is_none_or(|(b, _)| t < b) {
                best = Some((t, o));
            }
        };
        // The gateway is nearer the server: on a tie, its 504 reaches the client first.
        if let Some(g) = self.pol.gateway_timeout
            && !kept_alive(g)
        {
            consider(
                j.started.max(last_token.unwrap_or(j.started)) + g,
                Outcome::GatewayTimeout,
            );
        }
        if let Some(c) = p.connect_timeout
            && j.connected.is_none()
        {
            consider(j.started + c, Outcome::ConnectTimeout);
        }
        if let (Some(r), Some(conn)) = (p.read_timeout, j.connected)
            && !kept_alive(r)
        {
            consider(
                conn.max(last_token.unwrap_or(conn)) + r,
                Outcome::ClientTimeout,
            );
        }
        if let Some(d) = p.deadline {
            consider(j.arrived + d, Outcome::ClientTimeout);
        }
        best
    }

    /// (Re-)arms the attempt timer at the earliest limit, or ends the attempt if it is due.
    fn arm(&mut self, sim: &mut Simulation<Ev<E>>, id: RequestId) {
        if !self.info[usize::from(self.request(id).class)].timed {
            return;
        }
        let now = sim.now();
        let Some((at, outcome)) = self.next_limit(id, now) else {
            return;
        };
        if at <= now {
            self.give_up(sim, id, outcome);
            return;
        }
        let j = self.request_mut(id);
        j.seq = j.seq.wrapping_add(1);
        let seq = j.seq;
        sim.schedule_at(at, Event::AttemptTimer(id, seq));
    }

    /// The client (or the gateway) hangs up on the current attempt.
    fn give_up(&mut self, sim: &mut Simulation<Ev<E>>, id: RequestId, outcome: Outcome) {
        let (ep, attempt) = self.request(id).cur.expect("an attempt under way");
        let latency = sim.now() - self.request(id).started;
        let e = &mut self.eps[usize::from(ep)];
        e.note_outcome(outcome, latency);
        e.disconnect(sim, attempt);
        self.attempt_ended(sim, id, outcome, None);
    }

    /// The current attempt ended with `outcome`: the request ends, or is retried.
    #[inline(always)]
    fn attempt_ended(
        &mut self,
        sim: &mut Simulation<Ev<E>>,
        id: RequestId,
        outcome: Outcome,
        first_token: Option<SimTime>,
    ) {
        let j = self.requests.get_mut(id);
        let (ep, _) = j.cur.take().expect("an attempt under way");
        j.seq = j.seq.wrapping_add(1);
        let (measured, class, probe) = (j.measured, j.class, j.probe);
        if measured {
            self.count(class, |s| s.attempt_outcomes[outcome.index()] += 1);
        }
        if ep == 0 && self.pol.breaker.is_some() {
            self.breaker_sees(sim, outcome, probe);
        }
        // The usual end, inline: answered, and no async job waiting for its client's poll.
        if outcome == Outcome::Ok && self.poll.is_none() {
            let o = if ep == 1 {
                Outcome::FallbackOk
            } else {
                Outcome::Ok
            };
            self.finish(sim, id, o, first_token);
            return;
        }
        self.attempt_failed_or_polled(sim, id, ep, outcome, first_token);
    }

    /// [`System::attempt_ended`] for an async job's answer (seen at the next poll) or an
    /// attempt that failed (retried, or the request's outcome).
    #[inline(never)]
    fn attempt_failed_or_polled(
        &mut self,
        sim: &mut Simulation<Ev<E>>,
        id: RequestId,
        ep: u8,
        outcome: Outcome,
        first_token: Option<SimTime>,
    ) {
        let now = sim.now();
        let arrived = self.request(id).arrived;
        let fallback = ep == 1;
        if outcome == Outcome::Ok {
            if let Some(p) = self.poll {
                // The client learns of it at its next poll.
                let waited = (now - arrived).as_nanos();
                let polls = waited.div_ceil(p.as_nanos().max(1));
                let seen = arrived + SimDuration::from_nanos(polls * p.as_nanos());
                self.extra_mut(id).first_token = first_token;
                sim.schedule_at(seen.max(now), Event::JobSeen(id));
                return;
            }
            let o = if fallback {
                Outcome::FallbackOk
            } else {
                Outcome::Ok
            };
            self.finish(sim, id, o, first_token);
            return;
        }
        if let Some(delay) = self.retry_delay(id, outcome, now) {
            sim.schedule_in(delay, Event::Retry(id));
            return;
        }
        let o = if fallback {
            Outcome::FallbackFailed
        } else {
            outcome
        };
        self.finish(sim, id, o, None);
    }

    /// The backoff before the next attempt, if the policy retries this outcome now.
    fn retry_delay(
        &mut self,
        id: RequestId,
        outcome: Outcome,
        now: SimTime,
    ) -> Option<SimDuration> {
        let p = self.policy(id);
        let r = p.retry.as_ref()?;
        let j = self.request(id);
        if !r.on.contains(outcome) || j.attempts >= r.max_attempts {
            return None;
        }
        let (attempts, arrived, measured, class) = (j.attempts, j.arrived, j.measured, j.class);
        let delay = r.sample_delay(attempts, &mut self.retry_rng);
        if p.deadline.is_some_and(|d| now + delay >= arrived + d) {
            return None;
        }
        if let Some(b) = r.budget_milli {
            let w = RetryPolicy::BUDGET_WINDOW;
            for q in [&mut self.budget_firsts, &mut self.budget_retries] {
                while q.front().is_some_and(|&t| now - t >= w) {
                    q.pop_front();
                }
            }
            let allowed = self.budget_firsts.len() as u64 * u64::from(b);
            if (self.budget_retries.len() as u64 + 1) * 1000 > allowed {
                if measured {
                    self.count(class, |s| s.retries_refused += 1);
                }
                return None;
            }
        }
        Some(delay)
    }

    /// The request ends with `outcome`.
    #[inline(always)]
    fn finish(
        &mut self,
        sim: &mut Simulation<Ev<E>>,
        id: RequestId,
        outcome: Outcome,
        first_token: Option<SimTime>,
    ) {
        let now = sim.now();
        let j = self.requests.get_mut(id);
        j.live = false;
        // One copy of the request serves everything below: no second lookup of its slot.
        let j = *j;
        let (measured, user, class, output) = (j.measured, j.user, j.class, j.output);
        if measured {
            self.count_end(&j, now, outcome, first_token);
        }
        let mut user = user;
        if let (Some(session), Some(sessions)) = (
            self.extras.then(|| self.extra(id).session).flatten(),
            self.sessions.as_mut(),
        ) {
            let conv = self.pol.classes[usize::from(class)]
                .reuse
                .conversation
                .as_ref()
                .expect("a turn of a conversation");
            // Until the session ends, its user goes on with the conversation, not with a new
            // request.
            if let Ok(think) = sessions.ended(session, conv, outcome.is_success().then_some(output))
            {
                sim.schedule_in(think, Event::Turn(session));
                user = None;
            }
        }
        if let (Some(u), Load::Closed { think, .. }) = (user, &self.scenario.load) {
            let wait = think.sample_duration(&mut self.think_rng);
            sim.schedule_in(wait, Event::UserReady(u));
        }
        self.requests.remove(id);
        self.backlog.observe(now, self.live);
        self.live -= 1;
    }

    /// Counts a measured request that ended at `now` (and keeps its record if asked to).
    #[inline(always)]
    fn count_end(
        &mut self,
        j: &Request,
        now: SimTime,
        outcome: Outcome,
        first_token: Option<SimTime>,
    ) {
        let polls = self.polls(j, now);
        let (arrived, class, output) = (j.arrived, j.class, j.output);
        if self.keep_requests {
            self.keep_record(j, now, outcome, first_token);
        }
        let end = End {
            now,
            arrived,
            outcome,
            first_token,
            output,
            polls,
            bounds: self.bounds[usize::from(class)],
        };
        end.count(&mut self.classes[usize::from(class)]);
        if let Some(t) = self.total.as_mut() {
            end.count(t);
        }
    }

    /// Keeps the record of a measured request that ended (`--requests`).
    #[inline(never)]
    fn keep_record(
        &mut self,
        j: &Request,
        now: SimTime,
        outcome: Outcome,
        first_token: Option<SimTime>,
    ) {
        let arrived = j.arrived;
        let record = RequestRecord {
            arrived_s: arrived.as_secs_f64(),
            class: j.class,
            outcome,
            attempts: j.attempts,
            latency_s: (now - arrived).as_secs_f64(),
            ttft_s: first_token
                .filter(|_| outcome.is_success())
                .map(|f| (f - arrived).as_secs_f64()),
            prompt: j.prompt,
            output: j.output,
        };
        self.out.requests.push(record);
    }

    /// Status polls an async job's client has made by `now`.
    fn polls(&self, j: &Request, now: SimTime) -> u64 {
        match self.poll {
            Some(p) => (now - j.arrived).as_nanos() / p.as_nanos().max(1),
            None => 0,
        }
    }

    /// Puts an async job in the queue (or refuses it when the queue is full).
    fn enqueue(&mut self, sim: &mut Simulation<Ev<E>>, id: RequestId) {
        let spec = self.pol.async_queue.as_ref().expect("async mode");
        if spec.max_queue.is_some_and(|m| self.queue.len() as u64 >= m) {
            self.finish(sim, id, Outcome::Rejected, None);
            return;
        }
        let prio = match spec.order {
            JobOrder::Fifo => 0,
            JobOrder::Priority => self.pol.classes[usize::from(self.request(id).class)].priority,
        };
        self.queue_seq += 1;
        let key = (prio, self.queue_seq);
        self.queue.insert(key, id);
        self.extra_mut(id).queued = Some(key);
        self.out.async_queue_max = self.out.async_queue_max.max(self.queue.len() as u64);
        if let Some(ttl) = spec.ttl {
            sim.schedule_in(ttl, Event::JobExpire(id));
        }
        self.dispatch(sim);
    }

    /// Replicas with room pull queued jobs; with none ready, one is started.
    fn dispatch(&mut self, sim: &mut Simulation<Ev<E>>) {
        while let Some((&key, &id)) = self.queue.first_key_value() {
            let Some(r) = self.eps[0].pull_target() else {
                self.eps[0].ensure_coming(sim);
                break;
            };
            self.queue.remove(&key);
            self.extra_mut(id).queued = None;
            let sub = self.count_attempt(sim.now(), id);
            let attempt = self.eps[0].pull(sim, r, &sub);
            let j = self.request_mut(id);
            j.cur = Some((0, attempt));
            j.started = sim.now();
            j.connected = Some(sim.now());
            self.drain(sim);
        }
    }

    /// Whether some endpoint has notices queued.
    #[inline(always)]
    fn any_notices(&self) -> bool {
        match &self.eps[..] {
            [e] => e.has_notices(),
            eps => eps.iter().any(|e| e.has_notices()),
        }
    }

    /// Handles what the endpoints reported, until they have nothing more to say.
    #[inline(always)]
    fn drain(&mut self, sim: &mut Simulation<Ev<E>>) {
        // Most calls into an endpoint say nothing back: only then is the batch machinery run.
        if self.any_notices() {
            self.drain_notices(sim);
        }
    }

    /// [`System::drain`] once some endpoint has notices: they are taken in rounds, the
    /// primary's before the fallback's, and what handling a round makes waits for the next.
    fn drain_notices(&mut self, sim: &mut Simulation<Ev<E>>) {
        let mut batch = std::mem::take(&mut self.notices);
        loop {
            for e in &mut self.eps {
                e.take_notices(&mut batch);
            }
            if batch.is_empty() {
                break;
            }
            for &n in &batch {
                self.on_notice(sim, n);
            }
            batch.clear();
        }
        self.notices = batch;
    }

    /// Takes a notice endpoint `i` handed back (see [`Endpoint::handle_one`]) while notices
    /// are queued: one round, with it last of endpoint `i`'s, as if it had been queued.
    #[inline(never)]
    fn notice_after_queued(&mut self, sim: &mut Simulation<Ev<E>>, i: usize, n: Notice) {
        let mut batch = std::mem::take(&mut self.notices);
        for (k, e) in self.eps.iter_mut().enumerate() {
            e.take_notices(&mut batch);
            if k == i {
                batch.push(n);
            }
        }
        for &n in &batch {
            self.on_notice(sim, n);
        }
        batch.clear();
        self.notices = batch;
    }

    #[inline(always)]
    fn on_notice(&mut self, sim: &mut Simulation<Ev<E>>, n: Notice) {
        let (owner, attempt) = match n {
            Notice::Done { owner, attempt, .. } | Notice::Connected { owner, attempt } => {
                (owner, attempt)
            }
        };
        let current = self.request_live(owner)
            && self
                .request(owner)
                .cur
                .is_some_and(|(_, a)| a.slot == attempt.slot && a.generation == attempt.generation);
        if !current {
            return;
        }
        match n {
            Notice::Done {
                outcome,
                first_token,
                ..
            } => self.attempt_ended(sim, owner, outcome, first_token),
            Notice::Connected { .. } => {
                self.request_mut(owner).connected = Some(sim.now());
                self.arm(sim, owner);
            }
        }
    }

    /// Tells the endpoints whether the clients are done (no more arrivals, nothing pending).
    fn sync_done(&mut self) {
        let done = self.arrivals_left == Some(0) && self.live == 0;
        if done != self.client_done {
            self.client_done = done;
            for e in &mut self.eps {
                e.set_client_done(done);
            }
        }
    }

    /// Ends the run at `end`: the primary endpoint's statistics with the clients' request
    /// counts (and what the fallback wasted and queued), its token-level statistics for an LLM
    /// endpoint, and what the clients measured.
    pub fn finish_run(
        mut self,
        end: SimTime,
        events: u64,
    ) -> (RunStats, Option<ServingStats>, ClientOutput) {
        let mut in_flight = Vec::new();
        for j in self.requests.values() {
            if j.live && j.measured {
                in_flight.push((
                    j.class,
                    j.cur.is_some(),
                    self.polls(j, end),
                    end - j.arrived,
                ));
            }
        }
        for (class, attempt, polls, age) in in_flight {
            self.count(class, |s| {
                s.run.record_unfinished(age);
                s.attempts_in_flight += u64::from(attempt);
                s.polls += polls;
            });
        }
        let backlog = self.backlog.thirds(end, self.live);
        let mut eps = std::mem::take(&mut self.eps).into_iter();
        let (mut stats, mut serving) = eps.next().expect("a primary").finish(end, events);
        if let Some(fb) = eps.next() {
            let (fs, fserv) = fb.finish(end, events);
            stats.wasted_ns += fs.wasted_ns;
            // Attempts sent to the fallback wait there too; `wait_prob` is over all attempts.
            stats.queued += fs.queued;
            if let (Some(serving), Some(fserv)) = (serving.as_mut(), fserv) {
                serving.cost_usd = match (serving.cost_usd, fserv.cost_usd) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
                serving.gpu_seconds += fserv.gpu_seconds;
                serving.wasted_tokens += fserv.wasted_tokens;
            }
        }
        let all = self
            .total
            .clone()
            .unwrap_or_else(|| self.classes[0].clone());
        stats.arrived = all.run.arrived;
        stats.outcomes = all.run.outcomes;
        stats.in_flight = all.run.in_flight;
        stats.latency = all.run.latency.clone();
        stats.latency_failed = all.run.latency_failed.clone();
        stats.backlog = backlog;
        stats.good = all.run.good;
        stats.good_tokens = all.run.good_tokens;
        stats.stopped = self.stopped;
        if let Some(serving) = serving.as_mut() {
            serving.ttft = Some(all.ttft.clone());
            serving.tpot_sum_s = all.tpot_sum_s;
            serving.tpot_count = all.tpot_count;
            serving.tpot = Some(all.tpot.clone());
            serving.ok_output_tokens = all.ok_output_tokens;
        }
        let mut out = self.out;
        out.classes = self.classes;
        for c in &mut out.classes {
            c.run.close(end);
            c.run.stopped = self.stopped;
        }
        if let Some(mut t) = self.total {
            t.run.close(end);
            t.run.stopped = self.stopped;
            out.classes.insert(0, t);
        }
        (stats, serving, out)
    }
}

impl<E: Endpoint> Model for System<'_, E> {
    type Event = Ev<E>;

    #[inline(always)]
    fn is_stale(&self, event: &Ev<E>) -> bool {
        match *event {
            Event::Arrival | Event::UserReady(_) => false,
            Event::AttemptTimer(id, seq) => !self.request_live(id) || self.request(id).seq != seq,
            Event::Retry(id) | Event::JobSeen(id) => !self.request_live(id),
            Event::Turn(session) => !self.sessions.as_ref().is_some_and(|s| s.is_live(session)),
            Event::JobExpire(id) => !self.request_live(id) || self.extra(id).queued.is_none(),
            Event::BreakerHalfOpen(epoch) => {
                epoch != self.breaker_epoch || self.breaker != BreakerState::Open
            }
            Event::Ep(i, e) => self.eps[usize::from(i)].is_stale(&e),
        }
    }

    fn handle(&mut self, sim: &mut Simulation<Ev<E>>, event: Ev<E>) {
        let fresh = self.handle_if_fresh(sim, event);
        debug_assert!(fresh, "a stale event was handed to `handle`");
    }

    /// One look at the event decides both whether it is stale (as [`Model::is_stale`] says)
    /// and what it does.
    #[inline(always)]
    fn handle_if_fresh(&mut self, sim: &mut Simulation<Ev<E>>, event: Ev<E>) -> bool {
        match event {
            // Arrivals are never stale.
            Event::Arrival => {
                let measured = sim.now() >= self.window_start;
                // A replayed trace gives this arrival's tokens; take them before the next. Other
                // arrivals carry none: nothing to take.
                let (sizes, conversation) = if self.replayed {
                    (
                        self.arrival_state.next_sizes.take(),
                        self.arrival_state.next_conversation.take(),
                    )
                } else {
                    (None, None)
                };
                if count_arrival(&mut self.arrivals_left, measured)
                    && let Load::Open(arrivals) = &self.scenario.load
                {
                    let gap = arrivals.next_gap(
                        sim.now(),
                        &mut self.arrival_rng,
                        &mut self.arrival_state,
                    );
                    sim.schedule_in(gap, Event::Arrival);
                }
                self.new_request(sim, None, sizes, conversation);
            }
            Event::UserReady(u) => {
                let measured = sim.now() >= self.window_start;
                if user_may_send(&mut self.arrivals_left, measured) {
                    self.new_request(sim, Some(u), None, None);
                }
            }
            Event::Ep(i, e) => {
                let i = usize::from(i);
                let Some(notice) = self.eps[i].handle_one_if_fresh(sim, e) else {
                    return false;
                };
                if let Some(n) = notice {
                    if self.any_notices() {
                        self.notice_after_queued(sim, i, n);
                    } else {
                        // The only notice: it is the whole first round.
                        self.on_notice(sim, n);
                    }
                }
                self.drain(sim);
            }
            _ => {
                if self.is_stale(&event) {
                    return false;
                }
                self.on_client_timer(sim, event);
            }
        }
        match &mut self.eps[..] {
            // Without a fallback (the usual case), no loop.
            [e] => e.settle(sim),
            eps => {
                for e in eps {
                    e.settle(sim);
                }
            }
        }
        if !self.queue.is_empty() {
            self.dispatch(sim);
        }
        if E::HEEDS_CLIENT_DONE {
            self.sync_done();
        }
        true
    }
}

impl<E: Endpoint> System<'_, E> {
    /// The clients' own timers: time limits, retries, async jobs, the breaker.
    fn on_client_timer(&mut self, sim: &mut Simulation<Ev<E>>, event: Ev<E>) {
        match event {
            Event::AttemptTimer(id, _) => self.arm(sim, id),
            Event::Turn(session) => self.next_turn(sim, session),
            Event::Retry(id) => self.start_attempt(sim, id),
            Event::JobSeen(id) => {
                let first = self.extra(id).first_token;
                self.finish(sim, id, Outcome::Ok, first);
            }
            Event::JobExpire(id) => {
                if let Some(key) = self.extra_mut(id).queued.take() {
                    self.queue.remove(&key);
                }
                self.finish(sim, id, Outcome::Expired, None);
            }
            Event::BreakerHalfOpen(_) => {
                self.breaker = BreakerState::HalfOpen;
                self.probes_out = 0;
                self.probes_ok = 0;
                self.log_breaker(sim.now());
            }
            Event::Arrival | Event::UserReady(_) | Event::Ep(..) => {
                unreachable!("handled in `handle_if_fresh`")
            }
        }
    }
}

/// Most requests one run makes before it is stopped (verdict `overloaded`): about three minutes
/// of simulation, and more than any workload in `experiments/` sends (a day at 1,000/s is
/// 86 million).
pub const ARRIVAL_LIMIT: u64 = 1_000_000_000;

/// Whether the scenario replays a trace that names each row's conversation.
fn traced_conversations(scenario: &Scenario) -> bool {
    matches!(&scenario.load, Load::Open(Arrivals::Replay { trace, .. }) if !trace.conversations.is_empty())
}

/// Counts an open-loop arrival against a `requests = N` budget (`left`); returns whether
/// another arrival should follow. Arrivals during the warm-up do not count.
fn count_arrival(left: &mut Option<u64>, measured: bool) -> bool {
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
fn user_may_send(left: &mut Option<u64>, measured: bool) -> bool {
    match left {
        Some(0) if measured => false,
        Some(n) if measured => {
            *n -= 1;
            true
        }
        _ => true,
    }
}

/// Runs the system from time zero to the scenario's stop rule and returns what it measured
/// (see [`System::finish_run`]).
pub fn run<E: Endpoint>(
    mut system: System<'_, E>,
) -> (RunStats, Option<ServingStats>, ClientOutput) {
    let scenario = system.scenario;
    let mut sim = Simulation::new();
    // The first request arrives one gap after time zero, like every later one.
    match &scenario.load {
        Load::Open(arrivals) => {
            let first = arrivals.next_gap(
                SimTime::ZERO,
                &mut system.arrival_rng,
                &mut system.arrival_state,
            );
            sim.schedule_in(first, Event::Arrival);
        }
        Load::Closed { users, think } => {
            for u in 0..*users {
                let wait = think.sample_duration(&mut system.think_rng);
                sim.schedule_in(wait, Event::UserReady(u));
            }
        }
    }
    for e in &mut system.eps {
        e.start(&mut sim);
    }
    let horizon = match scenario.stop {
        StopRule::Duration(d) => Some(SimTime::ZERO + d),
        StopRule::Requests(_) => None,
    };
    sim.run(&mut system, horizon);
    let end = sim.now();
    let events = sim.events_handled();
    system.finish_run(end, events)
}
