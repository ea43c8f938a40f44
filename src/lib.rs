//! capsim: a discrete-event capacity simulator for LLM inference endpoints.
//!
//! Given a workload, an endpoint and a client policy, capsim simulates every request and reports
//! what fraction time out, latency percentiles, utilisation and wasted work, before anyone pays
//! for hardware.
//!
//! # Layers
//! Dependencies point one way: [`cli`] → [`experiment`], [`runner`], [`report`];
//! [`runner`] → [`domain`] → [`sim`].
//! - [`sim`]: the engine. Integer-nanosecond clock, a `(time, sequence)` event queue, named
//!   random streams. Knows nothing of requests or GPUs.
//! - [`domain`]: requests, endpoints and their state machines, driven by a closed event enum.
//! - [`experiment`]: experiment files, parsed in two stages (serde mirror, then validation).
//! - [`runner`]: plans and runs simulations and turns raw statistics into metrics.
//! - [`report`]: pure functions from results to bytes (JSON, CSV, text table).
//!
//! # Determinism
//! A run is a pure function of its scenario and seed: time is integral, same-time events are
//! delivered FIFO, every random draw comes from a named `Pcg64Mcg` stream derived from the seed,
//! and parallel runs are collected in plan order. The same file and seed give byte-identical
//! `summary.json` and `summary.csv` whatever the thread count.
#![warn(missing_docs)]

pub mod catalog;
pub mod cli;
pub mod domain;
pub mod error;
pub mod experiment;
pub mod report;
pub mod runner;
pub mod sim;
