//! The validated description of what one run simulates. Built from an experiment file by
//! `experiment::validate`; the domain never sees the file's strings.

use super::distribution::Dist;
use super::policy::Policies;
pub use super::service::{EndpointSpec, Service};
use super::workload::Arrivals;
use crate::sim::SimDuration;

/// When a run stops.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StopRule {
    /// Stop the clock at this time; requests not finished by then are counted `unfinished`.
    Duration(SimDuration),
    /// Let this many requests arrive after the warm-up, then stop arrivals and run until every
    /// request has ended (nothing is left in flight).
    Requests(u64),
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
    /// The targets answers are judged against (goodput counts answers within them).
    pub slo: Option<super::slo::Slo>,
    /// Most requests in flight at once: a run whose backlog passes it stops there (its
    /// verdict is `overloaded`), so that memory stays bounded ([`DEFAULT_IN_FLIGHT_LIMIT`]).
    pub in_flight_limit: u64,
}

/// The default in-flight budget: a million requests in flight took 253 MB of memory with plain
/// servers and 401 MB with an LLM endpoint (docs/validation.md), under the 1 GB a run may use.
pub const DEFAULT_IN_FLIGHT_LIMIT: u64 = 1_000_000;
