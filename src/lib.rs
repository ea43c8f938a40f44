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
//! # Start here
//! [`load`] (or [`parse`]) an experiment file into an [`Experiment`], [`run`] it with a seed
//! and [`RunOptions`], and turn the [`Summary`] into bytes with the functions of [`report`]
//! ([`report::to_json`], [`report::to_csv`]) or a [`ResultsDir`].
//!
//! ```
//! let src = r#"
//! name = "m/m/1"
//! seed = 1
//! requests = 1000
//! [workload]
//! arrival = { kind = "poisson", rate = "1/s" }
//! [endpoint]
//! servers = 1
//! service-time = { kind = "exponential", mean = "500ms" }
//! "#;
//! let exp = capsim::parse(src, std::path::Path::new("mm1.toml")).unwrap();
//! let summary = capsim::run(&exp, 1, capsim::RunOptions::default()).unwrap();
//! assert_eq!(summary.runs[0].metrics.arrived, 1000);
//! assert_eq!(summary.runs[0].metrics.ok, 1000);
//! ```
//!
//! # Determinism
//! A run is a pure function of its scenario and seed: time is integral, same-time events are
//! delivered FIFO, every random draw comes from a named `Pcg64Mcg` stream derived from the seed,
//! and parallel runs are collected in plan order. The same file and seed give byte-identical
//! `summary.json` and `summary.csv` whatever the thread count.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod calibrate;
pub mod cli;
pub mod domain;
pub mod error;
pub mod experiment;
pub mod report;
pub mod runner;
pub mod sim;
pub mod views;

// The curated API: the few names a program embedding capsim needs, from load to bytes. Every
// module stays public for the tests and the curious, but these are the ones to start from.
pub use domain::Scenario;
pub use error::{ConfigError, RunError};
pub use experiment::catalog::Catalog;
pub use experiment::{Experiment, load, load_with, parse};
pub use report::{Metrics, ResultsDir, Summary};
pub use runner::{RunOptions, run};
