//! What an LLM endpoint is: step times, the batching engine, replicas, their lifecycle and
//! autoscaler. Plain validated descriptions; `serving` simulates them.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use super::distribution::Dist;
use super::perf::{PerfModel, StepShape};
use super::profile::Profile;
use crate::sim::SimDuration;

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

/// The batching engine family and its settings: a handle to the family's own settings type
/// (`serving::vllm`, `serving::tgi`, `serving::static_batch`), which is also the batcher the
/// simulation runs. Everything the simulator knows of a family is in that one file, so nothing
/// here or elsewhere matches on the family.
///
/// `Debug` shows the family's settings as they are (`Vllm { max_num_seqs: 256, .. }`): the
/// experiment's fingerprint hashes that text.
#[derive(Clone)]
pub struct EngineSpec(Arc<dyn EngineFamily>);

impl EngineSpec {
    /// The engine of `family`'s settings (any family's settings type is an [`EngineFamily`]).
    pub fn new(family: impl EngineFamily + 'static) -> Self {
        EngineSpec(Arc::new(family))
    }

    /// The engine's name in experiment files (its scheduler: `vllm`, `tgi`, `static`).
    pub fn kind(&self) -> &'static str {
        self.0.kind()
    }

    /// Whether the engine's own router refuses requests beyond a cap (HTTP 429, as TGI's
    /// `max-concurrent-requests`), so that clients can see rejections with no queue limit set.
    pub fn refuses_when_full(&self) -> bool {
        self.0.refuses_when_full()
    }

    /// Most sequences the engine runs at once (`max-num-seqs`, `max-concurrent-requests`,
    /// `max-batch`).
    pub fn max_running(&self) -> u64 {
        self.0.max_running()
    }

    /// The family's settings, for the simulation to build its batcher from
    /// (`serving::families::of`).
    pub(crate) fn family(&self) -> &dyn EngineFamily {
        &*self.0
    }
}

impl fmt::Debug for EngineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A batching engine family's settings, as the scenario holds them. Every family's settings
/// type implements it through its `Batcher` implementation (`serving::families`), which is
/// where these answers come from.
pub trait EngineFamily: fmt::Debug + Send + Sync {
    /// The family's name in experiment files.
    fn kind(&self) -> &'static str;

    /// Whether the engine's router refuses requests beyond a cap of its own.
    fn refuses_when_full(&self) -> bool;

    /// Most sequences the engine runs at once.
    fn max_running(&self) -> u64;

    /// The batcher these settings make, for one run: an `Rc<serving::pool::DynBatcher>`, typed
    /// `Any` here because naming the simulation's types from this file would make an import
    /// circle (the simulation holds an `LlmService`); `serving::families::of` restores the type.
    fn batcher(&self) -> Box<dyn Any>;
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
    /// Whether the engine keeps a prefix cache: KV blocks of earlier prompts reused by prompts
    /// that start the same way (vLLM's automatic prefix caching).
    pub prefix_caching: bool,
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
    pub deployment: Option<Box<super::deployment::Deployment>>,
    /// What a new replica goes through before serving (used by `capsim explain`; the replica
    /// lifecycle in the simulation is not modelled yet).
    pub cold_start: Option<super::lifecycle::ColdStartSpec>,
    /// The instance price: US dollars per hour and where it comes from.
    pub price: Option<(f64, String)>,
}

impl LlmService {
    /// Requests per second one replica completes at most, for requests of `prompt` tokens of
    /// which `cached` come from the prefix cache, and `output` tokens, on average: the engine
    /// runs as many sequences as its limit and the KV cache allow (each holding its prompt and
    /// half its answer on average), every step decodes one token for each, and each prompt
    /// adds the marginal time of its uncached tokens to a step. Queueing, preemption, padding
    /// and the host's API time are left out, so this is an upper bound: a load above it cannot
    /// be carried; one below it may still not be.
    pub fn capacity_rps(&self, prompt: f64, output: f64, cached: f64) -> f64 {
        let output = output.max(1.0);
        let cached = cached.clamp(0.0, prompt.max(0.0));
        let fresh = (prompt - cached).max(0.0);
        // A sequence's KV on average over its life; cached prefixes are shared, not held per
        // sequence.
        let held = (fresh + output / 2.0).max(1.0);
        let by_kv = (self.kv_tokens as f64 / held).floor().max(1.0) as u64;
        let batch = self.engine.max_running().min(by_kv).max(1);
        let ctx = (prompt + output / 2.0).round().max(1.0) as u64;
        let decode = StepShape::decode(batch, ctx);
        let t_decode = self.step.step_seconds(&decode);
        let (p, c) = (fresh.round() as u64, cached.round() as u64);
        let with_prefill = StepShape {
            prefill_tokens: p,
            prefill_seqs: u64::from(p > 0),
            // Each new token attends every position before it, the cached ones included.
            prefill_pairs: p * c + p * (p + 1) / 2,
            prefill_kv_read: c,
            ..decode
        };
        let t_prefill = (self.step.step_seconds(&with_prefill) - t_decode).max(0.0);
        let per_request = output * t_decode / batch as f64 + t_prefill;
        if per_request > 0.0 {
            1.0 / per_request
        } else {
            f64::INFINITY
        }
    }
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

/// Seconds of `m` decode steps of `b` sequences whose contexts sum to `c0` at the start, each
/// step taking `α + β·Σcontext`.
pub(crate) fn segment_seconds(alpha: f64, beta: f64, c0: f64, b: f64, m: u64) -> f64 {
    let m = m as f64;
    m * alpha + beta * (m * c0 + b * m * (m - 1.0) / 2.0)
}

/// `s` seconds as a duration, saturating.
pub(crate) fn secs(s: f64) -> SimDuration {
    SimDuration::from_secs_f64_saturating(s)
}

/// Steps of a decode segment completed `elapsed` after its start: the largest `m` with
/// `T(m) ≤ elapsed`, from the quadratic, corrected for rounding.
pub(crate) fn completed_steps(alpha: f64, beta: f64, c0: f64, b: u64, elapsed: SimDuration) -> u64 {
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
