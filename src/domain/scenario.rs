//! The validated description of what one run simulates. Built from an experiment file by
//! `experiment::validate`; the domain never sees the file's strings.

use super::distribution::Dist;
use super::policy::Policies;
use super::serving::LlmService;
use super::workload::Arrivals;
use crate::sim::SimDuration;

/// When a run stops.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StopRule {
    /// Stop the clock at this time; requests not finished by then are counted `in_flight`.
    Duration(SimDuration),
    /// Let this many requests arrive after the warm-up, then stop arrivals and run until every
    /// request has ended (nothing is left in flight).
    Requests(u64),
}

/// An endpoint of identical servers sharing one FIFO queue.
#[derive(Clone, Debug)]
pub struct EndpointSpec {
    /// Number of servers (requests served at once).
    pub servers: u32,
    /// Service time per request, in seconds.
    pub service_time: Dist,
    /// Most requests allowed to wait; an arrival to a full queue is rejected. `None`: unlimited.
    pub queue_capacity: Option<u64>,
    /// A request still waiting this long after arriving is dropped. `None`: never.
    pub queue_timeout: Option<SimDuration>,
}

/// Where requests come from.
#[derive(Clone, Debug)]
pub enum Load {
    /// An open-loop arrival process: requests arrive whatever happens to earlier ones.
    Open(Arrivals),
    /// A closed loop of users: each sends a request, waits for its outcome, thinks, and sends
    /// the next, as load testers (LLMPerf, GuideLLM) do. Users start one think time after zero.
    Closed {
        /// Number of users.
        users: u32,
        /// Time between an outcome and the user's next request, seconds.
        think: Dist,
    },
}

/// What serves the requests.
#[derive(Clone, Debug)]
pub enum Service {
    /// Identical servers with sampled service times and one FIFO queue.
    Servers(EndpointSpec),
    /// An LLM replica with a batching engine.
    Llm(Box<LlmService>),
}

/// What a run keeps besides its statistics: the observation flags. Kept apart from
/// [`Scenario`] because they never change what is simulated, only what is recorded.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Observe {
    /// Keep the time-series rows (they are always summarised into `alert_windows`).
    pub timeseries: bool,
    /// Keep one record per request (LLM endpoints; memory grows with requests).
    pub requests: bool,
}

/// Everything one run needs besides its seed.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Where requests come from.
    pub load: Load,
    /// What serves them.
    pub service: Service,
    /// Client classes and their timeouts and retries; gateway, breaker, async queue.
    pub policies: Policies,
    /// Requests arriving before this time are simulated but not counted.
    pub warm_up: SimDuration,
    /// When the run ends.
    pub stop: StopRule,
    /// Width of the time-series windows (LLM endpoints).
    pub timeseries_interval: SimDuration,
    /// Whether requests take their tokens from a replayed trace (the workload gives no token
    /// distributions).
    pub sizes_from_trace: bool,
}
