//! capsim: a discrete-event capacity simulator for LLM inference endpoints.
//!
//! Given a workload, an endpoint and a client policy, capsim simulates every request and reports
//! what fraction time out, latency percentiles, utilisation and wasted work, before anyone pays
//! for hardware.
//!
//! # Layers
//! Dependencies point one way, and no two files import each other (checked from the source by
//! the `layering` integration test, which CI runs first):
//! - [`sim`]: the engine. Integer-nanosecond clock, a `(time, sequence)` event queue, named
//!   random streams. Imports nothing.
//! - [`domain`]: requests, endpoints, replicas, engines, policies and their state machines,
//!   driven by a closed event enum. Imports only [`sim`].
//! - [`experiment`]: experiment files and the catalog, parsed in two stages (serde mirror, then
//!   validation) into domain types. Imports [`domain`].
//! - [`runner`]: plans and runs simulations and turns raw statistics into summary rows.
//! - [`report`]: pure functions from summary rows (and row types of its own the runner fills)
//!   to bytes: JSON, CSV, text tables, charts. Sees no domain type.
//! - [`views`]: text views for the terminal (`list`, `curve`, `explain`).
//! - [`cli`]: parses flags and calls the layers above; [`error`] is the user-facing error type
//!   every layer above the domain shares.
//!
//! # Determinism
//! A run is a pure function of its scenario and seed: time is integral, same-time events are
//! delivered FIFO, every random draw comes from a named `Pcg64Mcg` stream derived from the seed,
//! and parallel runs are collected in plan order. The same file and seed give byte-identical
//! `summary.json` and `summary.csv` whatever the thread count.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod cli;
pub mod domain;
pub mod error;
pub mod experiment;
pub mod report;
pub mod runner;
pub mod sim;
pub mod views;
