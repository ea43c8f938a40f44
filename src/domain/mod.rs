//! The domain model: what an inference endpoint is and how requests move through it.
//!
//! Everything here is driven by the engine in [`crate::sim`] through the closed event enum of
//! each model; nothing here reads files or writes output.

pub mod client;
pub mod deployment;
pub mod distribution;
pub mod endpoint;
pub mod hardware;
pub mod lifecycle;
pub mod llm;
pub mod llm_service;
pub mod memory;
pub mod perf;
pub mod policy;
pub mod profile;
pub mod prompt;
pub mod quant;
pub mod request;
pub mod reuse;
pub mod run;
pub mod scenario;
pub mod servers;
pub mod service;
pub mod serving;
pub mod slab;
pub mod slo;
pub mod stats;
pub mod workload;

pub use distribution::Dist;
pub use policy::{ClientPolicy, Policies};
pub use request::Outcome;
pub use run::{RunOutput, capacity_rps, simulate, simulate_observed};
pub use scenario::{EndpointSpec, Load, Observe, Scenario, Service, StopRule};
pub use slo::{Slo, SloTargets};
pub use stats::RunStats;
pub use workload::{ArrivalState, Arrivals, Trace};
