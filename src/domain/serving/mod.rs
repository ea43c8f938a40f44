//! An LLM endpoint: requests with prompt and output tokens, served by replicas behind a load
//! balancer, each with a batching engine (vLLM-like continuous batching, TGI-like, or static
//! batching) and a step-time model; replicas start cold, scale on load and scale to zero.
//!
//! The code is split by concern: `engine` chooses and runs steps, `lifecycle` starts, scales and
//! bills replicas, `timeseries` summarises windows; this module holds the state, the request
//! lifecycle (arrival, assignment, outcome) and the event dispatch.
//!
//! # Engines
//! - **vllm**: every step carries one token for each decoding sequence plus prompt chunks
//!   (chunked prefill) up to `max-num-batched-tokens`; at most `max-num-seqs` sequences run. KV
//!   cache is paged in blocks; when the next step would not fit, the most recently admitted
//!   sequence is preempted: its KV is freed and it is queued first, to be recomputed (its prompt
//!   and the tokens generated so far are prefilled again). KV use is counted with one partly
//!   filled block per sequence, so it never exceeds the capacity.
//! - **tgi**: queued plus running requests are capped at `max-concurrent-requests`; more are
//!   refused at once (HTTP 429, outcome `rejected`). Waiting requests are prefilled together, up
//!   to `max-batch-prefill-tokens`, in a step that pauses decoding; a prefill happens when the
//!   batch is empty, when waiting/running reaches `waiting-served-ratio`, or after
//!   `max-waiting-tokens` decode steps. Each admitted request reserves KV for its whole length.
//! - **static**: requests are collected until `max-batch` are waiting or the oldest has waited
//!   `max-wait`; the batch is padded to its longest prompt, and runs until its longest output
//!   ends; every request in it is answered then. A running batch cannot be cancelled.
//!
//! # Time
//! A decode step is not an event. While the batch does not change, the engine runs a segment
//! of many steps whose total time is known in closed form (step time is `α + β·Σcontext`, and
//! Σcontext grows by the batch size every step). An arrival or a cancellation cuts the segment
//! at the next step boundary. Sequences store the global step count at which they joined, so
//! advancing a segment costs nothing per sequence.
mod client;
mod engine;
mod lifecycle;
mod timeseries;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use super::distribution::Dist;
use super::endpoint::{count_arrival, user_may_send};
use super::perf::{PerfModel, StepShape};
use super::policy::Discipline;
use super::profile::Profile;
use super::request::{Outcome, RequestId};
use super::scenario::{Load, Scenario, StopRule};
use super::stats::RunStats;
use super::workload::ArrivalState;
use crate::sim::{Model, RngStreams, SimDuration, SimRng, SimTime, Simulation};
use rand::RngExt;

/// Where step times come from.
#[derive(Clone, Debug)]
pub enum StepModel {
    /// Derived from hardware and model architecture.
    Derived(Box<PerfModel>),
    /// A measured curve.
    Profile(Profile),
}

impl StepModel {
    /// Duration of one step of `shape`, seconds.
    pub fn step_seconds(&self, shape: &StepShape) -> f64 {
        match self {
            StepModel::Derived(p) => p.step_seconds(shape),
            StepModel::Profile(p) => {
                let mut t = 0.0;
                if shape.decode_seqs > 0 {
                    let mean_ctx = shape.decode_ctx as f64 / shape.decode_seqs as f64;
                    t += p.step(shape.decode_seqs as f64, mean_ctx);
                }
                if shape.prefill_tokens > 0 {
                    t += p.prefill(shape.prefill_tokens as f64).unwrap_or(0.0);
                }
                t
            }
        }
    }

    /// Seconds a request of `prompt_tokens` spends in the API server before the engine sees
    /// it (0 for a measured profile, whose figures are the engine's own).
    pub fn api_seconds(&self, prompt_tokens: u64) -> f64 {
        match self {
            StepModel::Derived(p) => p.api_seconds(prompt_tokens),
            StepModel::Profile(_) => 0.0,
        }
    }

    /// `(α, β, steps)`: a decode step of `seqs` sequences whose contexts sum to `ctx_sum` takes
    /// `α + β·Σcontext` seconds, for the next `steps` steps at least.
    pub fn decode_line(&self, seqs: u64, ctx_sum: u64) -> (f64, f64, u64) {
        match self {
            StepModel::Derived(p) => p.decode_line(seqs, ctx_sum),
            StepModel::Profile(p) => p.decode_line(seqs, ctx_sum),
        }
    }

    /// Seconds for `steps` decode steps of `seqs` sequences starting at total context `c0`,
    /// walking the pieces of the line where it changes.
    pub fn decode_seconds(&self, seqs: u64, c0: u64, steps: u64) -> f64 {
        let (mut left, mut ctx, mut total) = (steps, c0, 0.0);
        while left > 0 {
            let (alpha, beta, valid) = self.decode_line(seqs, ctx);
            let n = left.min(valid.max(1));
            total += segment_seconds(alpha, beta, ctx as f64, seqs as f64, n);
            left -= n;
            ctx += n * seqs;
        }
        total
    }
}

/// The batching engine and its settings.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineSpec {
    /// vLLM-like continuous batching.
    Vllm {
        /// Running sequences at most.
        max_num_seqs: u32,
        /// Tokens per step at most.
        max_batched_tokens: u32,
        /// Whether long prompts are split into chunks that share steps with decodes.
        chunked_prefill: bool,
    },
    /// TGI-like continuous batching.
    Tgi {
        /// Queued plus running requests at most; more are refused with HTTP 429.
        max_concurrent: u32,
        /// Prompt tokens per prefill step at most.
        max_prefill_tokens: u32,
        /// A prefill is considered when waiting / running reaches this.
        waiting_served_ratio: f64,
        /// After this many decode steps waiting requests are prefilled anyway.
        max_waiting_tokens: u32,
    },
    /// Static batching.
    Static {
        /// Requests per batch at most.
        max_batch: u32,
        /// Longest wait for a batch to fill.
        max_wait: SimDuration,
    },
}

impl EngineSpec {
    /// The engine's name in experiment files.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineSpec::Vllm { .. } => "vllm",
            EngineSpec::Tgi { .. } => "tgi",
            EngineSpec::Static { .. } => "static",
        }
    }
}

/// One LLM replica.
#[derive(Clone, Debug)]
pub struct LlmService {
    /// Step times.
    pub step: StepModel,
    /// Batching engine.
    pub engine: EngineSpec,
    /// KV-cache capacity, tokens.
    pub kv_tokens: u64,
    /// Tokens per KV block.
    pub block_size: u32,
    /// Longest sequence (prompt + output); longer requests are clipped to it.
    pub max_model_len: u32,
    /// Prompt tokens per request.
    pub prompt_tokens: Dist,
    /// Output tokens per request.
    pub output_tokens: Dist,
    /// A request still waiting (not admitted) this long after arriving is dropped.
    pub queue_timeout: Option<SimDuration>,
    /// Most requests allowed to wait at one replica; more are refused. `None`: unlimited.
    pub queue_capacity: Option<u64>,
    /// Most requests queued or running at one replica (a router's cap, as TGI's
    /// `max-concurrent-requests`); more are refused with HTTP 429. `None`: unlimited.
    pub max_concurrent: Option<u32>,
    /// Identical replicas behind the load balancer (the most there can be, with a lifecycle).
    pub replicas: u32,
    /// Cold starts, scale-to-zero and what happens while no replica is ready; `None`: fixed.
    pub lifecycle: Option<Lifecycle>,
    /// How requests are spread over replicas.
    pub balancer: Balancer,
    /// What serves the requests, when given by GPU and model (for `capsim explain`).
    pub deployment: Option<Box<crate::domain::deployment::Deployment>>,
    /// What a new replica goes through before serving (used by `capsim explain`; the replica
    /// lifecycle in the simulation is not modelled yet).
    pub cold_start: Option<super::lifecycle::ColdStartSpec>,
    /// The instance price: US dollars per hour and where it comes from.
    pub price: Option<(f64, String)>,
}

/// Events of the serving model: the clients' and those of each endpoint.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The next open-loop request arrives.
    Arrival,
    /// A closed-loop user finished thinking and sends its next request.
    UserReady(u32),
    /// The current attempt of a request may reach a client or gateway time limit (stale if the
    /// request has moved on to another attempt).
    AttemptTimer(RequestId, u32),
    /// A request's backoff ends: it is sent again.
    Retry(RequestId),
    /// An async job's client learns the result (at a poll).
    JobSeen(RequestId),
    /// An async job's time to live ends (stale once it started).
    JobExpire(RequestId),
    /// The circuit breaker's cool-down ends (stale if it opened again since).
    BreakerHalfOpen(u32),
    /// An event of endpoint `0` (primary) or `1` (fallback).
    Ep(u8, EpEvent),
}

/// Events of one endpoint.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EpEvent {
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

/// What an endpoint tells the clients.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Notice {
    /// The server side of an attempt ended: answered, refused or dropped.
    Done {
        /// The client's request.
        owner: RequestId,
        /// The attempt at the endpoint.
        attempt: RequestId,
        /// What the server did.
        outcome: Outcome,
        /// When its first token was made.
        first_token: Option<SimTime>,
    },
    /// An attempt held unconnected (nothing listening) was given to a replica: it is connected.
    Connected {
        /// The client's request.
        owner: RequestId,
        /// The attempt at the endpoint.
        attempt: RequestId,
    },
}

/// One attempt handed to an endpoint.
#[derive(Copy, Clone, Debug)]
pub(super) struct Submit {
    /// The client's request.
    pub owner: RequestId,
    /// Prompt tokens (clipped to the model's context by the endpoint).
    pub prompt: u32,
    /// Output tokens.
    pub output: u32,
    /// Waiting lane (priority tier) at a replica.
    pub lane: u8,
    /// Whether the request is counted.
    pub measured: bool,
    /// Whether the server stops work when the client hangs up.
    pub cancel: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
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

#[derive(Clone, Debug)]
struct Req {
    generation: u32,
    state: State,
    outcome: Option<Outcome>,
    measured: bool,
    cancelled: bool,
    /// The client hung up (timeout): nothing the server does now reaches anyone.
    abandoned: bool,
    /// Whether the server stops work when the client hangs up.
    cancel: bool,
    /// The client's request this attempt belongs to.
    owner: RequestId,
    /// Waiting lane at the replica.
    lane: u8,
    arrived: SimTime,
    /// When the connection was accepted: by a replica, or by the proxy that holds the request
    /// while none is ready.
    connected: Option<SimTime>,
    /// Its last token before it left decoding (a preemption), for idle timers.
    last_tok: Option<SimTime>,
    first_token: Option<SimTime>,
    prompt: u32,
    output: u32,
    /// Tokens to prefill before decoding (prompt, plus generated tokens after a preemption);
    /// their KV is reserved from admission.
    prefill_target: u32,
    prefilled: u32,
    /// Whether the request has been through the API server.
    api_done: bool,
    /// Tokens generated when the request (re)joined decoding; add `global − base_step`.
    generated: u32,
    base_step: u64,
    admit_order: u64,
    /// GPU seconds attributed so far, and the decoder accumulator when it joined decoding.
    share: f64,
    share_base: f64,
    /// KV tokens reserved (tgi, static).
    reserved: u64,
    /// The replica serving it.
    replica: u32,
}

/// A running time integral of a level, seconds × level.
#[derive(Copy, Clone, Debug, Default)]
struct Integral {
    level: f64,
    since: SimTime,
    area: f64,
}

impl Integral {
    fn set(&mut self, now: SimTime, level: f64) {
        self.area += self.level * (now - self.since).as_secs_f64();
        self.level = level;
        self.since = now;
    }

    fn at(&self, now: SimTime) -> f64 {
        self.area + self.level * (now - self.since).as_secs_f64()
    }
}

const PENDING: usize = 0;
const BUSY: usize = 1;
const WAITING: usize = 2;
const RUNNING: usize = 3;

/// `Req::replica` of a request no replica has taken yet.
const UNASSIGNED: u32 = u32::MAX;

/// What the GPU is doing.
#[derive(Clone, Debug)]
enum Busy {
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

fn segment_seconds(alpha: f64, beta: f64, c0: f64, b: f64, m: u64) -> f64 {
    let m = m as f64;
    m * alpha + beta * (m * c0 + b * m * (m - 1.0) / 2.0)
}

fn secs(s: f64) -> SimDuration {
    SimDuration::from_secs_f64_saturating(s)
}

/// One time-series window of an LLM endpoint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowRow {
    /// Window start, seconds.
    pub start_s: f64,
    /// Requests that arrived in the window.
    pub arrivals: u64,
    /// Requests that ended in the window, by outcome (in `Outcome::ALL` order).
    pub outcomes: [u64; Outcome::COUNT],
    /// Requests waiting or held at the end of the window.
    pub queue_depth: u64,
    /// Replicas starting, ready and draining at the end of the window.
    pub replicas: [u32; 3],
    /// Busy share of replica time in the window.
    pub gpu_util: Option<f64>,
    /// 99th percentile latency of the requests answered or timed out in the window, seconds.
    pub p99_s: Option<f64>,
}

/// The current window being filled.
#[derive(Clone, Debug, Default)]
struct Window {
    start: SimTime,
    arrivals: u64,
    outcomes: [u64; Outcome::COUNT],
    latencies_ns: Vec<u64>,
    busy_at_start: f64,
    running_at_start: f64,
}

/// Serving statistics beyond the request counts.
#[derive(Clone, Debug, Default)]
pub struct ServingStats {
    /// Time to first token of requests that ended ok, nanoseconds, summarised.
    pub ttft: Option<super::stats::LatencyStats>,
    /// Sum and count of time per output token (ok requests with more than one output token).
    pub tpot_sum_s: f64,
    /// Count for `tpot_sum_s`.
    pub tpot_count: u64,
    /// Output tokens of ok requests.
    pub ok_output_tokens: u64,
    /// KV tokens in use × seconds, in the window.
    pub kv_area: f64,
    /// KV capacity of all replicas, tokens.
    pub kv_capacity: u64,
    /// KV capacity of one replica, tokens (what `kv_peak` is bounded by).
    pub kv_replica_capacity: u64,
    /// Most KV tokens ever in use on one replica (for the never-exceeds check).
    pub kv_peak: u64,
    /// Sequences in the running batch × seconds, in the window (busy time only).
    pub batch_area: f64,
    /// Preemptions (vllm).
    pub preemptions: u64,
    /// Tokens generated for attempts whose client had gone (or that did not end ok).
    pub wasted_tokens: u64,
    /// Instance cost of the window, US dollars (when a price is known).
    pub cost_usd: Option<f64>,
    /// Replica seconds starting or running, in the window.
    pub replica_seconds: f64,
    /// GPU seconds starting or running, in the window (fallback endpoint included).
    pub gpu_seconds: f64,
    /// Most replicas starting or running at once.
    pub replicas_max: u64,
    /// Cold starts begun in the window.
    pub cold_starts: u64,
    /// GPUs per replica.
    pub gpus_per_replica: u32,
    /// Windows whose p99 latency exceeded 80 % of the client timeout (the alert rule).
    pub alert_windows: u64,
    /// The time series, when kept.
    pub timeseries: Vec<WindowRow>,
    /// Replicas still draining with nothing left to drain when the run ended (a consistency
    /// check: always 0).
    pub empty_draining_at_end: u32,
    /// Replicas starting or running (draining ones excluded) after each autoscaler decision (at
    /// most 10,000 entries).
    pub scaling_log: Vec<(SimTime, u32)>,
}

/// How requests are spread over replicas.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Balancer {
    /// In turn.
    RoundRobin,
    /// To the replica with the fewest requests assigned and not finished.
    LeastOutstanding,
    /// To the less loaded of two replicas drawn at random.
    PowerOfTwo,
}

impl Balancer {
    /// The name in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Balancer::RoundRobin => "round-robin",
            Balancer::LeastOutstanding => "least-outstanding",
            Balancer::PowerOfTwo => "power-of-two",
        }
    }
}

/// What to do with a request when no replica is ready.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WhenUnavailable {
    /// Answer HTTP 503 at once (HF's default).
    Reject,
    /// Hold it until a replica is ready, or answer 503 after this long (HF's X-Scale-Up-Timeout).
    Hold(SimDuration),
    /// Hold it for as long as it takes.
    Queue,
}

/// Whether a connection is accepted while no replica is ready (the endpoint is cold or scaled
/// to zero), which decides which client timeout runs for a held request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ColdConnections {
    /// A proxy in front accepts the connection at once and holds the request: HF Inference
    /// Endpoints, SageMaker, and any gateway or load balancer that terminates TCP. The client
    /// is connected from its arrival, so its read timeout runs from then.
    Accepted,
    /// Nothing listens until a replica is ready (a bare server scaled to zero, e.g. self-hosted
    /// vLLM scaled by KEDA with no proxy holding): the client's connect timeout runs until a
    /// replica takes the request.
    Unanswered,
}

/// The signal an autoscaler watches, averaged over its window.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum ScaleSignal {
    /// Requests without an answer yet (queued, running or held) per replica, against a target.
    Pending(f64),
    /// Share of replica time spent running steps, against a threshold in (0, 1].
    GpuUtilization(f64),
    /// Requests waiting for admission (or held) per replica, against a target.
    QueueDepth(f64),
    /// Requests in service (admitted and running) per replica, against a target.
    Concurrency(f64),
}

/// When and how far to scale (HF Inference Endpoints' semantics as defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct Autoscaler {
    /// What is watched.
    pub signal: ScaleSignal,
    /// The averaging window (no longer than either interval).
    pub window: SimDuration,
    /// How often scaling up is considered.
    pub up_interval: SimDuration,
    /// How often scaling down is considered.
    pub down_interval: SimDuration,
    /// No scaling down until this long after the last scaling.
    pub stabilization: SimDuration,
    /// Most replicas added or removed at once.
    pub max_step: u32,
}

/// How the number of replicas changes over a run (without it, every replica is ready from the
/// start and runs to the end).
#[derive(Clone, Debug, PartialEq)]
pub struct Lifecycle {
    /// Replicas kept running even when idle.
    pub min_replicas: u32,
    /// Replicas ready at time zero (warm).
    pub initial_replicas: u32,
    /// After this long without any request in the system, replicas beyond the minimum stop.
    pub idle_timeout: Option<SimDuration>,
    /// What happens to requests while no replica is ready.
    pub when_unavailable: WhenUnavailable,
    /// Whether held requests are connected (a proxy accepted them) or wait for a replica to
    /// accept the connection.
    pub cold_connections: ColdConnections,
    /// Scaling on load, if any.
    pub autoscaler: Option<Autoscaler>,
}

/// Where a replica is in its life.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Stopped,
    Starting,
    Ready,
    /// Takes no new requests and stops when its last one is done.
    Draining,
}

/// Waiting requests of one replica, one FIFO lane per priority tier.
#[derive(Debug)]
struct Lanes {
    q: Vec<VecDeque<RequestId>>,
    /// Weighted fair share: each lane's virtual finish time, and the last one served.
    vt: Vec<f64>,
    vnow: f64,
    /// The lane `waiting_head` chose.
    head: usize,
}

impl Lanes {
    fn new(lanes: usize) -> Self {
        Lanes {
            q: (0..lanes.max(1)).map(|_| VecDeque::new()).collect(),
            vt: vec![0.0; lanes.max(1)],
            vnow: 0.0,
            head: 0,
        }
    }

    fn push_back(&mut self, lane: usize, id: RequestId) {
        if self.q[lane].is_empty() {
            // A lane that was idle does not bank the share it did not use.
            self.vt[lane] = self.vt[lane].max(self.vnow);
        }
        self.q[lane].push_back(id);
    }
}

/// The engine state of one replica.
#[derive(Debug)]
struct Replica {
    waiting: Lanes,
    waiting_live: u64,
    prefilling: Vec<RequestId>,
    decoding: u64,
    done_heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    admitted: BTreeMap<u64, RequestId>,
    admit_counter: u64,
    global: u64,
    dec_ctx_base: u64,
    base_global: u64,
    prefill_kv: u64,
    reserved: u64,
    g_dec: f64,
    busy: Busy,
    epoch: u64,
    timer_epoch: u64,
    steps_since_prefill: u64,
    /// Requests assigned to this replica whose server side is not done.
    assigned: u64,
    /// Whether this replica is counted among the busy ones.
    counted_busy: bool,
    phase: Phase,
    /// Bumped whenever the replica starts, so a stale readiness event is recognised.
    life: u32,
    /// When billing of the current run of this replica began.
    billed_from: SimTime,
    /// When the last step that gave every decoding sequence a token ended.
    last_decode_end: SimTime,
    /// Running sequences marked for cancellation, dropped at the next step boundary.
    cancel_pending: u32,
}

impl Replica {
    fn new(lanes: usize) -> Self {
        Replica {
            waiting: Lanes::new(lanes),
            waiting_live: 0,
            prefilling: Vec::new(),
            decoding: 0,
            done_heap: BinaryHeap::new(),
            admitted: BTreeMap::new(),
            admit_counter: 0,
            global: 0,
            dec_ctx_base: 0,
            base_global: 0,
            prefill_kv: 0,
            reserved: 0,
            g_dec: 0.0,
            busy: Busy::Idle,
            epoch: 0,
            timer_epoch: 0,
            steps_since_prefill: 0,
            assigned: 0,
            counted_busy: false,
            phase: Phase::Ready,
            life: 0,
            billed_from: SimTime::ZERO,
            last_decode_end: SimTime::ZERO,
            cancel_pending: 0,
        }
    }
}

/// The state of one simulated LLM endpoint: identical replicas behind a load balancer.
///
/// The replica being worked on is held in `st`, swapped in from `replicas` before any event for
/// it is handled, so the engine code reads like single-replica code and switching is O(1).
#[derive(Debug)]
pub struct LlmEndpoint<'a> {
    scenario: &'a Scenario,
    /// Whether to keep the time-series rows (`Observe::timeseries`).
    keep_timeseries: bool,
    svc: &'a LlmService,
    /// 0: the primary endpoint, 1: the fallback.
    ix: u8,
    /// What the clients must be told, drained after each call.
    outbox: Vec<Notice>,
    /// Set by the clients: no more arrivals will come and no request is unfinished.
    client_done: bool,
    /// How waiting lanes are chosen, and their weights.
    discipline: Discipline,
    lane_weights: Vec<f64>,
    balancer_rng: SimRng,
    reqs: Vec<Req>,
    free: Vec<u32>,
    st: Replica,
    cur: usize,
    replicas: Vec<Replica>,
    busy_replicas: u32,
    total_waiting: u64,
    next_rr: usize,
    cold_rng: SimRng,
    hold: VecDeque<RequestId>,
    hold_live: u64,
    /// Requests allocated and not yet released.
    in_system: u64,
    idle_gen: u64,
    /// When a request last arrived or left: the idle timeout counts from here.
    last_activity: SimTime,
    running: u32,
    running_since: SimTime,
    /// Unclipped integrals for the autoscaler: pending, busy replicas, waiting, running.
    signals: [Integral; 4],
    window: Window,
    /// Integral values at the start of the current up and down windows.
    snapshots: [[f64; 4]; 2],
    last_scaled: SimTime,
    stats: RunStats,
    serving: ServingStats,
}

impl<'a> LlmEndpoint<'a> {
    /// A fresh endpoint `ix` (0 primary, 1 fallback) serving `svc` for `scenario`; its
    /// replicas keep one waiting lane per entry of `lane_weights`.
    pub(super) fn new(
        scenario: &'a Scenario,
        svc: &'a LlmService,
        streams: &RngStreams,
        ix: u8,
        lane_weights: Vec<f64>,
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
        let mut e = LlmEndpoint {
            scenario,
            keep_timeseries,
            svc,
            ix,
            outbox: Vec::new(),
            client_done: false,
            discipline: scenario.policies.discipline,
            lane_weights,
            balancer_rng: streams.stream(&name("balancer")),
            reqs: Vec::new(),
            free: Vec::new(),
            st: Replica::new(lanes),
            cur: 0,
            replicas: (0..n).map(|_| Replica::new(lanes)).collect(),
            busy_replicas: 0,
            total_waiting: 0,
            next_rr: 0,
            cold_rng: streams.stream(&name("cold-start")),
            hold: VecDeque::new(),
            hold_live: 0,
            in_system: 0,
            idle_gen: 0,
            last_activity: SimTime::ZERO,
            running: 0,
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
                ..ServingStats::default()
            },
        };
        // Replicas ready at time zero: all of them without a lifecycle, else the initial ones.
        let ready = svc
            .lifecycle
            .as_ref()
            .map_or(n, |l| l.initial_replicas as usize);
        for (r, rep) in e.replicas.iter_mut().enumerate() {
            if r >= ready {
                rep.phase = Phase::Stopped;
            }
        }
        e.st.phase = if ready > 0 {
            Phase::Ready
        } else {
            Phase::Stopped
        };
        e.running = ready as u32;
        e.serving.replicas_max = ready as u64;
        e
    }

    fn req(&self, id: RequestId) -> &Req {
        &self.reqs[id.slot as usize]
    }

    fn req_mut(&mut self, id: RequestId) -> &mut Req {
        &mut self.reqs[id.slot as usize]
    }

    fn live(&self, id: RequestId) -> bool {
        self.req(id).generation == id.generation && self.req(id).state != State::Free
    }

    fn allocate(&mut self, now: SimTime, sub: &Submit) -> RequestId {
        let max_len = self.svc.max_model_len.max(2);
        // Lengths are clipped to this endpoint's context: prompts to max-model-len − 1,
        // outputs to the rest.
        let prompt = sub.prompt.min(max_len - 1);
        let output = sub.output.max(1).min(max_len - prompt);
        let req = Req {
            generation: 0,
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
        };
        match self.free.pop() {
            Some(i) => {
                let generation = self.reqs[i as usize].generation;
                self.reqs[i as usize] = Req { generation, ..req };
                RequestId {
                    slot: i,
                    generation,
                }
            }
            None => {
                let i =
                    u32::try_from(self.reqs.len()).expect("more than 4 billion requests in flight");
                self.reqs.push(req);
                RequestId {
                    slot: i,
                    generation: 0,
                }
            }
        }
    }

    /// Frees a request's slot once the server side is done; decides nothing.
    fn release(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        if self.req(id).replica != UNASSIGNED {
            debug_assert_eq!(
                self.req(id).replica as usize,
                self.cur,
                "released from another replica"
            );
            self.st.assigned -= 1;
            // A draining replica stops once its last request is done.
            if self.st.phase == Phase::Draining && self.st.assigned == 0 {
                let r = self.cur;
                self.stop_replica(sim.now(), r);
            }
        }
        self.in_system -= 1;
        self.last_activity = sim.now();
        self.signals[PENDING].set(sim.now(), self.in_system as f64);
        let r = self.req(id);
        // Every path here has brought `generated` up to date (decoders left decoding first).
        let generated = r.generated;
        if (r.abandoned || r.outcome != Some(Outcome::Ok)) && r.measured {
            // GPU time and tokens spent on an attempt whose client did not get the answer.
            let wasted = r.share;
            self.stats.record_waste(secs(wasted));
            self.serving.wasted_tokens += u64::from(generated);
        }
        let r = self.req_mut(id);
        r.generation = r.generation.wrapping_add(1);
        r.state = State::Free;
        self.free.push(id.slot);
        self.check_idle(sim);
    }

    /// The server side of an attempt ends with `outcome` (once); the client is told unless it
    /// has hung up already.
    fn decide(&mut self, sim: &mut Simulation<Event>, id: RequestId, outcome: Outcome) {
        let now = sim.now();
        let r = self.req_mut(id);
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

    /// Takes the notices for the clients.
    pub(super) fn take_notices(&mut self, into: &mut Vec<Notice>) {
        into.append(&mut self.outbox);
    }

    /// Accepts an attempt: to a ready replica, or (none ready) held or refused with 503.
    pub(super) fn submit(&mut self, sim: &mut Simulation<Event>, sub: &Submit) -> RequestId {
        let now = sim.now();
        let id = self.arrive(now, sub);
        self.route(sim, id);
        id
    }

    /// Gives a request to a ready replica, or holds or refuses it.
    fn route(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        let now = sim.now();
        if let Some(r) = self.choose_replica() {
            self.forward(sim, id, r);
            return;
        }
        // No replica is ready: start one unless one is on its way, then reject or hold.
        if !self.any_coming() {
            self.start_replica(sim);
        }
        let when = self
            .svc
            .lifecycle
            .as_ref()
            .map_or(WhenUnavailable::Reject, |l| l.when_unavailable);
        match when {
            WhenUnavailable::Reject => {
                self.decide(sim, id, Outcome::Unavailable);
                self.release(sim, id);
            }
            WhenUnavailable::Hold(_) | WhenUnavailable::Queue => {
                let accepted = self
                    .svc
                    .lifecycle
                    .as_ref()
                    .is_none_or(|l| l.cold_connections == ColdConnections::Accepted);
                if accepted {
                    // The proxy in front has accepted the connection: the client is connected
                    // now, and its read timeout runs while the request is held.
                    self.req_mut(id).connected = Some(now);
                }
                self.req_mut(id).state = State::Held;
                self.hold.push_back(id);
                self.hold_live += 1;
                if let WhenUnavailable::Hold(t) = when {
                    sim.schedule_in(t, self.ev(EpEvent::HoldTimeout(id)));
                }
            }
        }
    }

    /// Sends a request to replica `r`: first through the replica's API server (HTTP handling,
    /// tokenisation), which takes its time before the engine sees the request, then to the
    /// engine's queue. A request that finishes the API step is routed again, since replicas may
    /// have changed meanwhile.
    pub(super) fn forward(&mut self, sim: &mut Simulation<Event>, id: RequestId, r: usize) {
        let api = self.svc.step.api_seconds(u64::from(self.req(id).prompt));
        if api <= 0.0 || self.req(id).api_done {
            self.assign(sim, id, r);
            return;
        }
        let now = sim.now();
        let req = self.req_mut(id);
        req.api_done = true;
        let was_held = req.state == State::Held;
        req.state = State::Api;
        // The API server has accepted the connection.
        let newly_connected = req.connected.is_none();
        req.connected.get_or_insert(now);
        let (owner, abandoned) = (req.owner, req.abandoned);
        if was_held && newly_connected && !abandoned {
            self.outbox.push(Notice::Connected { owner, attempt: id });
        }
        sim.schedule_in(secs(api), self.ev(EpEvent::ApiDone(id)));
    }

    /// Counts a new attempt in the system.
    fn arrive(&mut self, now: SimTime, sub: &Submit) -> RequestId {
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
    fn ev(&self, e: EpEvent) -> Event {
        Event::Ep(self.ix, e)
    }

    /// The most requests a replica pulls from an async queue: what it can run at once.
    fn pull_capacity(&self) -> u64 {
        let engine = match self.svc.engine {
            EngineSpec::Vllm { max_num_seqs, .. } => u64::from(max_num_seqs),
            EngineSpec::Tgi { max_concurrent, .. } => u64::from(max_concurrent),
            EngineSpec::Static { max_batch, .. } => u64::from(max_batch),
        };
        self.svc
            .max_concurrent
            .map_or(engine, |c| engine.min(u64::from(c)))
    }

    /// The ready replica with the most room for pulled work, if any has room. A replica pulls
    /// only what it can start: nothing while a pulled job still waits for admission there.
    pub(super) fn pull_target(&self) -> Option<usize> {
        let cap = self.pull_capacity();
        (0..self.replicas.len())
            .filter(|&r| self.replica(r).phase == Phase::Ready && self.replica(r).waiting_live == 0)
            .map(|r| (self.replica(r).assigned, r))
            .filter(|&(a, _)| a < cap)
            .min()
            .map(|(_, r)| r)
    }

    /// A replica pulls an async job: it is assigned there directly.
    pub(super) fn pull(
        &mut self,
        sim: &mut Simulation<Event>,
        r: usize,
        sub: &Submit,
    ) -> RequestId {
        let id = self.arrive(sim.now(), sub);
        self.assign(sim, id, r);
        id
    }

    /// Starts a replica if none is ready or starting (work is waiting for one).
    pub(super) fn ensure_coming(&mut self, sim: &mut Simulation<Event>) {
        if !self.any_coming() {
            self.start_replica(sim);
        }
    }

    /// When a replica took the attempt, if one has.
    pub(super) fn connected_at(&self, id: RequestId) -> Option<SimTime> {
        if self.live(id) {
            self.req(id).connected
        } else {
            None
        }
    }

    /// Whether a replica has taken the attempt: only a replica sends keep-alives, not the proxy
    /// holding a request while none is ready.
    pub(super) fn taken(&self, id: RequestId) -> bool {
        self.live(id) && self.req(id).replica != UNASSIGNED
    }

    /// When the attempt's latest token was made, as of `now` (tokens of a decode segment
    /// under way included).
    pub(super) fn last_token(&self, id: RequestId, now: SimTime) -> Option<SimTime> {
        if !self.live(id) {
            return None;
        }
        let r = self.req(id);
        r.first_token?;
        let mut last = r.last_tok.max(r.first_token);
        match r.state {
            State::Decoding => {
                let rep = self.replica(r.replica as usize);
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
    pub(super) fn disconnect(&mut self, sim: &mut Simulation<Event>, id: RequestId) {
        if !self.live(id) {
            return;
        }
        self.req_mut(id).abandoned = true;
        if self.req(id).replica != UNASSIGNED {
            self.switch_to(self.req(id).replica as usize);
        }
        match self.req(id).state {
            // A held attempt was never given to a replica: it just leaves.
            State::Held => {
                self.hold_live -= 1;
                self.decide(sim, id, Outcome::ClientTimeout);
                self.release(sim, id);
            }
            // Still in the API server: it never reaches the engine.
            State::Api => {
                self.decide(sim, id, Outcome::ClientTimeout);
                self.release(sim, id);
            }
            _ if !self.req(id).cancel => {}
            State::Waiting => {
                self.leave_queue(sim.now(), id);
                self.decide(sim, id, Outcome::ClientTimeout);
                self.release(sim, id);
            }
            State::Prefilling | State::Decoding => {
                if !self.req(id).cancelled {
                    self.req_mut(id).cancelled = true;
                    self.st.cancel_pending += 1;
                }
                self.wake(sim);
            }
            // A static batch runs to its end; there is nothing to cancel.
            State::Batched | State::Free => {}
        }
    }

    /// Hands a request to replica `r`: refused there if its limits are reached, else queued.
    fn assign(&mut self, sim: &mut Simulation<Event>, id: RequestId, r: usize) {
        let now = sim.now();
        self.switch_to(r);
        let was_held = self.req(id).state == State::Held;
        let req = self.req_mut(id);
        req.replica = r as u32;
        req.state = State::Waiting;
        // A request a proxy held is connected already; the client hears only of a new one.
        let newly_connected = req.connected.is_none();
        req.connected.get_or_insert(now);
        let (owner, lane, measured) = (req.owner, req.lane, req.measured);
        self.st.assigned += 1;
        if was_held && newly_connected && !self.req(id).abandoned {
            self.outbox.push(Notice::Connected { owner, attempt: id });
        }
        let in_server = self.st.waiting_live + self.st.decoding + self.st.prefilling.len() as u64;
        let over_cap = match self.svc.engine {
            EngineSpec::Tgi { max_concurrent, .. } => in_server >= u64::from(max_concurrent),
            _ => false,
        } || self
            .svc
            .max_concurrent
            .is_some_and(|c| in_server >= u64::from(c));
        let queue_full = self
            .svc
            .queue_capacity
            .is_some_and(|c| self.st.waiting_live >= c);
        if over_cap || queue_full {
            self.decide(sim, id, Outcome::Rejected);
            self.release(sim, id);
            return;
        }
        if measured && !matches!(self.st.busy, Busy::Idle) {
            self.stats.queued += 1;
        }
        self.st.waiting.push_back(usize::from(lane), id);
        self.st.waiting_live += 1;
        self.total_waiting += 1;
        self.stats.set_waiting(now, self.total_waiting);
        self.signals[WAITING].set(now, (self.total_waiting + self.hold_live) as f64);
        if let Some(t) = self.svc.queue_timeout {
            // The queue timeout counts from arrival at the endpoint.
            let at = (self.req(id).arrived + t).max(now);
            sim.schedule_at(at, self.ev(EpEvent::QueueTimeout(id)));
        }
        self.wake(sim);
    }

    /// Ends the run at `end` and returns its statistics (request counts are the clients').
    pub(super) fn finish_run(mut self, end: SimTime, events: u64) -> (RunStats, ServingStats) {
        // Work still under way for clients that have gone is wasted too.
        for i in 0..self.reqs.len() {
            let r = &self.reqs[i];
            if r.state == State::Free || !r.abandoned || !r.measured {
                continue;
            }
            let (mut share, mut tokens) = (r.share, u64::from(r.generated));
            if r.state == State::Decoding {
                let rep = self.replica(r.replica as usize);
                share += rep.g_dec - r.share_base;
                tokens += rep.global - r.base_step;
            }
            self.stats.record_waste(secs(share));
            self.serving.wasted_tokens += tokens;
        }
        // A step under way at the horizon counts as busy up to the horizon, on every replica;
        // replicas still starting or running are billed up to the end.
        for r in 0..self.replicas.len() {
            self.switch_to(r);
            self.close_replica(end);
            if self.st.phase != Phase::Stopped {
                self.bill(r, end);
            }
        }
        let running = self.running;
        self.set_running(end, running);
        if end > self.window.start {
            self.close_window(end);
        }
        self.serving.empty_draining_at_end = (0..self.replicas.len())
            .filter(|&r| self.replica(r).phase == Phase::Draining && self.replica(r).assigned == 0)
            .count() as u32;
        self.stats.close(end);
        self.stats.events = events;
        self.serving.gpu_seconds =
            self.serving.replica_seconds * f64::from(self.serving.gpus_per_replica);
        (self.stats, self.serving)
    }

    fn close_replica(&mut self, end: SimTime) {
        match &self.st.busy {
            Busy::Segment { start, b, .. } => {
                let level = *b as f64;
                self.serving.batch_area += self.area(*start, end, level);
                let kv = self.kv_used() as f64;
                self.serving.kv_area += self.area(*start, end, kv);
            }
            Busy::Mixed { start, chunks, .. } => {
                let level = chunks.len() as f64;
                self.serving.batch_area += self.area(*start, end, level);
            }
            Busy::Static { start, batch, .. } => {
                let level = batch.len() as f64;
                self.serving.batch_area += self.area(*start, end, level);
            }
            Busy::Idle => {}
        }
    }
}

impl LlmEndpoint<'_> {
    /// Whether one of this endpoint's events is stale.
    pub(super) fn is_stale(&self, event: &EpEvent) -> bool {
        match *event {
            EpEvent::StepDone(r, epoch) => epoch != self.replica(r as usize).epoch,
            EpEvent::BatchTimer(r, epoch) => {
                let rep = self.replica(r as usize);
                epoch != rep.timer_epoch || !matches!(rep.busy, Busy::Idle)
            }
            EpEvent::QueueTimeout(id) => !self.live(id) || self.req(id).state != State::Waiting,
            EpEvent::ReplicaReady(r, life) => {
                let rep = self.replica(r as usize);
                rep.life != life || rep.phase != Phase::Starting
            }
            EpEvent::IdleCheck(generation) => {
                generation != self.idle_gen || self.in_system > 0 || self.counted_run_done()
            }
            EpEvent::HoldTimeout(id) => !self.live(id) || self.req(id).state != State::Held,
            EpEvent::ApiDone(id) => !self.live(id) || self.req(id).state != State::Api,
            // Periodic events do not outlive a counted run: it ends with its last answer.
            EpEvent::ScaleSnapshot(_) | EpEvent::ScaleEval(_) | EpEvent::WindowTick => {
                self.counted_run_done()
            }
        }
    }

    /// Handles one of this endpoint's events.
    pub(super) fn handle(&mut self, sim: &mut Simulation<Event>, event: EpEvent) {
        match event {
            EpEvent::StepDone(r, _) => {
                self.switch_to(r as usize);
                self.on_step_done(sim);
            }
            EpEvent::BatchTimer(r, _) => {
                self.switch_to(r as usize);
                self.plan(sim);
            }
            EpEvent::QueueTimeout(id) => {
                self.switch_to(self.req(id).replica as usize);
                self.on_queue_timeout(sim, id);
            }
            EpEvent::ReplicaReady(r, _) => self.on_replica_ready(sim, r as usize),
            EpEvent::IdleCheck(_) => self.on_idle(sim),
            EpEvent::ScaleSnapshot(up) => self.on_scale_snapshot(sim.now(), up),
            EpEvent::WindowTick => {
                self.close_window(sim.now());
                // Windows go on while requests may still come or are in the system.
                if !self.counted_run_done() {
                    let tick = self.ev(EpEvent::WindowTick);
                    sim.schedule_in(self.scenario.timeseries_interval, tick);
                }
            }
            EpEvent::ScaleEval(up) => self.on_scale_eval(sim, up),
            EpEvent::ApiDone(id) => self.route(sim, id),
            EpEvent::HoldTimeout(id) => {
                self.hold_live -= 1;
                self.decide(sim, id, Outcome::Unavailable);
                self.release(sim, id);
            }
        }
    }

    /// Schedules what runs from time zero: the first window, autoscaler checks, idle timer.
    pub(super) fn start(&mut self, sim: &mut Simulation<Event>) {
        // An endpoint that starts idle starts its idle clock at zero.
        self.check_idle(sim);
        let tick = self.ev(EpEvent::WindowTick);
        sim.schedule_in(self.scenario.timeseries_interval, tick);
        self.schedule_scaling(sim, true);
        self.schedule_scaling(sim, false);
        let running = self.running;
        self.signals[RUNNING].set(SimTime::ZERO, f64::from(running));
    }
}

/// Steps of a decode segment completed `elapsed` after its start: the largest `m` with
/// `T(m) ≤ elapsed`, from the quadratic, corrected for rounding.
fn completed_steps(alpha: f64, beta: f64, c0: f64, b: u64, elapsed: SimDuration) -> u64 {
    let elapsed = elapsed.as_secs_f64();
    let (bf, a2) = (b as f64, beta * b as f64 / 2.0);
    let lin = alpha + beta * c0 - a2;
    if segment_seconds(alpha, beta, c0, bf, 1) <= 0.0 {
        // Steps that take no time: all of them are done at once.
        return u64::MAX;
    }
    let mut m = if a2 > 0.0 {
        ((-lin + (lin * lin + 4.0 * a2 * elapsed).sqrt()) / (2.0 * a2)).floor()
    } else {
        (elapsed / lin).floor()
    }
    .max(0.0) as u64;
    while m > 0 && segment_seconds(alpha, beta, c0, bf, m) > elapsed {
        m -= 1;
    }
    while segment_seconds(alpha, beta, c0, bf, m + 1) <= elapsed {
        m += 1;
    }
    m
}

pub use client::{
    BreakerState, ClassStats, ClientOutput, RequestRecord, simulate_llm, simulate_llm_observed,
};
