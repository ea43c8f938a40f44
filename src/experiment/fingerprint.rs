//! A fingerprint of a resolved experiment: what `summary.json` records as `experiment_hash`,
//! so that `capsim merge` and `capsim run --resume` can tell two experiments apart even when
//! they share a name and a seed.
//!
//! It hashes what the runs are made of after validation (every configuration's axis values
//! and scenario, with catalog figures resolved, units converted and defaults filled in), not
//! the file's bytes: comments, key order, spacing and where the file lies do not change it,
//! while any value that changes a run does, including a catalog entry the experiment uses and
//! the contents of a replayed trace. Its input is the `Debug` rendering of the validated types
//! (every field, floats in Rust's shortest round-trip form), so it is the same on every
//! machine; a capsim version that changes those types may change it too, which is why it is
//! compared together with the capsim version.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::resolved::Experiment;
use crate::domain::workload::{Arrivals, Trace};
use crate::domain::{Load, Scenario};

/// 128-bit FNV-1a: simple, fixed and dependency-free. Not for adversaries: it tells honest
/// experiments apart.
struct Fnv128(u128);

impl Fnv128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

    fn new() -> Self {
        Fnv128(Self::OFFSET)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u128::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    fn hex(&self) -> String {
        format!("{:032x}", self.0)
    }
}

/// Lets `write!` stream a `Debug` rendering into the hash without building the string.
impl std::fmt::Write for Fnv128 {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

/// The hash of the experiment's resolved content, as `fnv1a128:<32 hex digits>`.
///
/// Covers the name, the replications and every configuration; not the description, the
/// file's path nor the seed (the seed is recorded and compared on its own).
pub fn fingerprint(exp: &Experiment) -> String {
    let mut h = Fnv128::new();
    // A format tag, so that a different rendering of the same content never collides with
    // this one by accident.
    h.bytes(b"capsim-experiment-1\n");
    let _ = writeln!(h, "name {:?}", exp.name);
    let _ = writeln!(h, "replications {}", exp.replications);
    // Traces are hashed once each (sweeps share one `Arc`), and without the path they were
    // read from, which depends on where the file lies.
    let mut traces: BTreeMap<usize, Arc<Trace>> = BTreeMap::new();
    for (i, c) in exp.configs.iter().enumerate() {
        let _ = writeln!(h, "config {i} params {:?}", c.params);
        let scenario = without_trace_paths(&c.scenario, &mut traces);
        let _ = writeln!(h, "scenario {scenario:?}");
    }
    format!("fnv1a128:{}", h.hex())
}

/// `scenario` with a replayed trace replaced by its rows' digest (memoised by address).
fn without_trace_paths(scenario: &Scenario, seen: &mut BTreeMap<usize, Arc<Trace>>) -> Scenario {
    let mut s = scenario.clone();
    if let Load::Open(Arrivals::Replay { trace, .. }) = &mut s.load {
        let key = Arc::as_ptr(trace) as usize;
        let digest = seen
            .entry(key)
            .or_insert_with(|| {
                let mut h = Fnv128::new();
                let _ = write!(h, "{:?}", trace.rows);
                if !trace.conversations.is_empty() {
                    let _ = write!(h, "{:?}", trace.conversations);
                }
                Arc::new(Trace {
                    source: format!("rows {} digest {}", trace.rows.len(), h.hex()),
                    rows: Vec::new(),
                    conversations: Vec::new(),
                })
            })
            .clone();
        *trace = digest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const SRC: &str = r#"
name = "fp"
seed = 1
duration = "1h"
[workload]
arrival = { kind = "poisson", rate = "2/s" }
[endpoint]
servers = 1
service-time = { kind = "lognormal", median = "300ms", p99 = "2s" }
"#;

    fn hash(src: &str, path: &str) -> String {
        fingerprint(&super::super::parse(src, Path::new(path)).unwrap())
    }

    #[test]
    fn comments_spacing_seed_and_path_do_not_change_the_hash() {
        let a = hash(SRC, "a.toml");
        let reworded = format!("# a comment\n{}", SRC.replace("seed = 1", "seed   =   99"));
        assert_eq!(a, hash(&reworded, "elsewhere/b.toml"));
        assert!(a.starts_with("fnv1a128:") && a.len() == 9 + 32, "{a}");
    }

    #[test]
    fn a_changed_value_or_unit_spelling_of_a_different_value_changes_the_hash() {
        let a = hash(SRC, "a.toml");
        assert_ne!(a, hash(&SRC.replace("2/s", "3/s"), "a.toml"));
        assert_ne!(a, hash(&SRC.replace("300ms", "301ms"), "a.toml"));
        // The same value in another unit is the same experiment.
        assert_eq!(a, hash(&SRC.replace("300ms", "0.3s"), "a.toml"));
    }
}
