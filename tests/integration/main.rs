//! capsim's integration tests: one binary, one module per behaviour (see matklad's "delete cargo
//! integration tests": one binary links once and runs its tests in parallel).

mod calibrate;
mod catalog;
mod cli;
mod config_errors;
mod conservation;
mod determinism;
mod endpoint_behaviour;
mod experiments;
mod input_safety;
mod layering;
mod lifecycle;
mod plan;
mod policies;
mod prefix_cache;
mod queueing_theory;
mod results;
mod server_policies;
mod serving;
mod slo;
mod snapshots;
mod support;
mod sweeps;
mod validation;
