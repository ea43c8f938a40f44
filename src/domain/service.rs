//! What serves the requests: plain servers with sampled service times, or an LLM endpoint.
//! Plain descriptions, validated by `experiment`; `servers` and `serving` simulate them.

use super::distribution::Dist;
use super::llm_service::LlmService;
use crate::sim::SimDuration;

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

/// What serves the requests.
#[derive(Clone, Debug)]
pub enum Service {
    /// Identical servers with sampled service times and one FIFO queue.
    Servers(EndpointSpec),
    /// An LLM replica with a batching engine.
    Llm(Box<LlmService>),
}
