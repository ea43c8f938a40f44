//! Service-level objectives: the targets a run is judged against, and the per-request test
//! that decides goodput (answered requests that also met the latency targets).

use crate::sim::SimDuration;

/// The targets of one SLO (the whole workload, or one client class). Every target is an upper
/// bound; an absent one is not checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SloTargets {
    /// Largest share of requests that may fail (`failed_rate`: every outcome that is not an
    /// answer, unfinished requests included).
    pub failed_rate: Option<f64>,
    /// Largest share of requests that may end in a timeout (`timeout_rate`).
    pub timeout_rate: Option<f64>,
    /// Largest 99th percentile of end-to-end latency of every request as its user saw it
    /// (`latency_all_p99_s`); also the per-request latency bound of goodput.
    pub latency_p99: Option<SimDuration>,
    /// Largest 99th percentile of time to first token (`ttft_p99_s`); also a per-request bound
    /// of goodput.
    pub ttft_p99: Option<SimDuration>,
    /// Largest 99th percentile of time per output token (`tpot_p99_s`); also a per-request
    /// bound of goodput.
    pub tpot_p99: Option<SimDuration>,
}

impl SloTargets {
    /// These targets with every target `self` leaves out taken from `base`.
    pub fn over(&self, base: &SloTargets) -> SloTargets {
        SloTargets {
            failed_rate: self.failed_rate.or(base.failed_rate),
            timeout_rate: self.timeout_rate.or(base.timeout_rate),
            latency_p99: self.latency_p99.or(base.latency_p99),
            ttft_p99: self.ttft_p99.or(base.ttft_p99),
            tpot_p99: self.tpot_p99.or(base.tpot_p99),
        }
    }

    /// The per-request bounds of goodput, in nanoseconds (`u64::MAX` where none is set).
    pub fn request_bounds(&self) -> RequestBounds {
        let ns = |d: Option<SimDuration>| d.map_or(u64::MAX, |d| d.as_nanos());
        RequestBounds {
            latency_ns: ns(self.latency_p99),
            ttft_ns: ns(self.ttft_p99),
            tpot_ns: ns(self.tpot_p99),
        }
    }
}

/// What one answered request must stay within to count as goodput, in nanoseconds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RequestBounds {
    /// End-to-end latency.
    pub latency_ns: u64,
    /// Time to first token (end-to-end latency where there is no first token).
    pub ttft_ns: u64,
    /// Time per output token after the first.
    pub tpot_ns: u64,
}

impl RequestBounds {
    /// No bound: every answer is goodput.
    pub const NONE: RequestBounds = RequestBounds {
        latency_ns: u64::MAX,
        ttft_ns: u64::MAX,
        tpot_ns: u64::MAX,
    };

    /// Whether an answer with these latencies meets every bound.
    #[inline(always)]
    pub fn met(&self, latency_ns: u64, ttft_ns: Option<u64>, tpot_ns: Option<u64>) -> bool {
        latency_ns <= self.latency_ns
            && ttft_ns.unwrap_or(latency_ns) <= self.ttft_ns
            && tpot_ns.is_none_or(|t| t <= self.tpot_ns)
    }
}

/// The SLO of an experiment (`[slo]`): targets for the whole workload, per-class targets where
/// classes have their own, and the confidence with which replications must meet them.
#[derive(Clone, Debug, PartialEq)]
pub struct Slo {
    /// Targets of the whole workload (and default of every class).
    pub targets: SloTargets,
    /// Classes with targets of their own, already merged over `targets`, by class name.
    pub classes: Vec<(String, SloTargets)>,
    /// Confidence level (0.5 to 0.999) for judging a configuration over its replications.
    pub confidence: f64,
}

impl Slo {
    /// The targets that apply to requests of class `name`.
    pub fn for_class(&self, name: &str) -> &SloTargets {
        self.classes
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&self.targets, |(_, t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_target_overrides_and_the_rest_come_from_the_workload() {
        let base = SloTargets {
            failed_rate: Some(0.01),
            latency_p99: Some(SimDuration::from_secs(60)),
            ..SloTargets::default()
        };
        let own = SloTargets {
            latency_p99: Some(SimDuration::from_secs(5)),
            ..SloTargets::default()
        };
        let merged = own.over(&base);
        assert_eq!(merged.failed_rate, Some(0.01));
        assert_eq!(merged.latency_p99, Some(SimDuration::from_secs(5)));
        let slo = Slo {
            targets: base.clone(),
            classes: vec![("chat".into(), merged.clone())],
            confidence: 0.95,
        };
        assert_eq!(slo.for_class("chat"), &merged);
        assert_eq!(slo.for_class("batch"), &base);
    }

    #[test]
    fn a_request_is_goodput_only_within_every_bound() {
        let b = SloTargets {
            latency_p99: Some(SimDuration::from_nanos(100)),
            ttft_p99: Some(SimDuration::from_nanos(10)),
            ..SloTargets::default()
        }
        .request_bounds();
        assert!(b.met(100, Some(10), Some(1_000_000)));
        assert!(!b.met(101, Some(10), None));
        assert!(!b.met(50, Some(11), None));
        // Without a first token the whole latency is the time to it.
        assert!(!b.met(50, None, None));
        assert!(RequestBounds::NONE.met(u64::MAX, None, None));
    }
}
