//! Arrival processes: when requests reach the endpoint.

use crate::sim::{SimDuration, SimRng};
use rand_distr::{Distribution, Exp};

/// An open-loop arrival process, started at time zero.
#[derive(Clone, Debug)]
pub enum Arrivals {
    /// Poisson arrivals: exponential gaps with mean `1 / rate`.
    Poisson {
        /// Mean arrivals per second.
        rate_per_s: f64,
        /// Gap sampler, in seconds.
        gap: Exp<f64>,
    },
    /// Evenly spaced arrivals, one every `1 / rate`.
    Constant {
        /// Arrivals per second.
        rate_per_s: f64,
        /// The fixed gap.
        gap: SimDuration,
    },
}

impl Arrivals {
    /// Poisson arrivals at `rate_per_s` (> 0).
    pub fn poisson(rate_per_s: f64) -> Result<Self, String> {
        let gap = Exp::new(rate_per_s).map_err(|e| e.to_string())?;
        if !(rate_per_s.is_finite() && rate_per_s > 0.0) {
            return Err(format!("the rate must be positive, found {rate_per_s}"));
        }
        Ok(Arrivals::Poisson { rate_per_s, gap })
    }

    /// Evenly spaced arrivals at `rate_per_s` (> 0, at most one per nanosecond).
    pub fn constant(rate_per_s: f64) -> Result<Self, String> {
        if !(rate_per_s.is_finite() && rate_per_s > 0.0) {
            return Err(format!("the rate must be positive, found {rate_per_s}"));
        }
        match SimDuration::try_from_secs_f64(1.0 / rate_per_s) {
            Some(gap) if !gap.is_zero() => Ok(Arrivals::Constant { rate_per_s, gap }),
            _ => Err(format!("the rate {rate_per_s}/s is too high to simulate")),
        }
    }

    /// The long-run mean arrival rate, per second.
    pub fn mean_rate_per_s(&self) -> f64 {
        match self {
            Arrivals::Poisson { rate_per_s, .. } | Arrivals::Constant { rate_per_s, .. } => {
                *rate_per_s
            }
        }
    }

    /// The time from one arrival to the next.
    pub fn next_gap(&self, rng: &mut SimRng) -> SimDuration {
        match self {
            Arrivals::Poisson { gap, .. } => SimDuration::from_secs_f64_saturating(gap.sample(rng)),
            Arrivals::Constant { gap, .. } => *gap,
        }
    }

    /// The name of the process, as written in experiment files.
    pub fn kind(&self) -> &'static str {
        match self {
            Arrivals::Poisson { .. } => "poisson",
            Arrivals::Constant { .. } => "constant",
        }
    }
}
