//! Arrival processes: when requests reach the endpoint.

use crate::sim::{SimDuration, SimRng, SimTime};
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
    /// Poisson arrivals whose rate is piecewise constant: `(start, rate)` pieces from time zero,
    /// optionally repeating every `period` (e.g. a daily cycle).
    Schedule {
        /// Piece start times (the first is zero) and their rates per second.
        pieces: Vec<(SimDuration, f64)>,
        /// Repeat the schedule with this period; `None`: the last rate holds for ever.
        period: Option<SimDuration>,
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

    /// A piecewise-constant Poisson schedule. Pieces must start at zero, in increasing order,
    /// with rates of zero or more (at least one positive); a period must exceed the last start.
    pub fn schedule(
        pieces: Vec<(SimDuration, f64)>,
        period: Option<SimDuration>,
    ) -> Result<Self, String> {
        if pieces.first().is_none_or(|p| !p.0.is_zero()) {
            return Err("the first piece must start at 0s".into());
        }
        if let Some(w) = pieces.windows(2).find(|w| w[1].0 <= w[0].0) {
            return Err(format!(
                "pieces must start in increasing order, found {} after {}",
                w[1].0, w[0].0
            ));
        }
        if let Some(p) = pieces.iter().find(|p| !(p.1.is_finite() && p.1 >= 0.0)) {
            return Err(format!("rates must be zero or more, found {}", p.1));
        }
        if !pieces.iter().any(|p| p.1 > 0.0) {
            return Err("at least one piece needs a positive rate".into());
        }
        if let Some(per) = period
            && per <= pieces.last().map_or(SimDuration::ZERO, |p| p.0)
        {
            return Err(format!(
                "the period ({per}) must be longer than the last piece's start"
            ));
        }
        Ok(Arrivals::Schedule { pieces, period })
    }

    /// The long-run mean arrival rate, per second (time-weighted over one period of a schedule,
    /// or the last rate of a schedule that does not repeat).
    pub fn mean_rate_per_s(&self) -> f64 {
        match self {
            Arrivals::Poisson { rate_per_s, .. } | Arrivals::Constant { rate_per_s, .. } => {
                *rate_per_s
            }
            Arrivals::Schedule { pieces, period } => match period {
                None => pieces.last().map_or(0.0, |p| p.1),
                Some(per) => {
                    let mut total = 0.0;
                    for (i, (start, rate)) in pieces.iter().enumerate() {
                        let end = pieces.get(i + 1).map_or(*per, |p| p.0);
                        total += rate * (end.as_secs_f64() - start.as_secs_f64());
                    }
                    total / per.as_secs_f64()
                }
            },
        }
    }

    /// The schedule's rate at `t` and when that piece ends (`None`: never).
    fn piece_at(
        pieces: &[(SimDuration, f64)],
        period: Option<SimDuration>,
        t: SimTime,
    ) -> (f64, Option<SimTime>) {
        let (offset, base) = match period {
            Some(p) => {
                let n = t.as_nanos() / p.as_nanos();
                (
                    SimDuration::from_nanos(t.as_nanos() % p.as_nanos()),
                    SimTime::from_nanos(n * p.as_nanos()),
                )
            }
            None => (SimDuration::from_nanos(t.as_nanos()), SimTime::ZERO),
        };
        let i = pieces.iter().rposition(|p| p.0 <= offset).unwrap_or(0);
        let end = match pieces.get(i + 1) {
            Some(next) => Some(base + next.0),
            None => period.map(|p| base + p),
        };
        (pieces[i].1, end)
    }

    /// The time from one arrival at `now` to the next.
    pub fn next_gap(&self, now: SimTime, rng: &mut SimRng) -> SimDuration {
        match self {
            Arrivals::Poisson { gap, .. } => SimDuration::from_secs_f64_saturating(gap.sample(rng)),
            Arrivals::Constant { gap, .. } => *gap,
            Arrivals::Schedule { pieces, period } => {
                // Memorylessness: a gap that crosses a piece boundary restarts there at the new rate.
                let mut t = now;
                loop {
                    let (rate, end) = Self::piece_at(pieces, *period, t);
                    let gap = if rate > 0.0 {
                        let e: f64 = rand_distr::Exp1.sample(rng);
                        Some(SimDuration::from_secs_f64_saturating(e / rate))
                    } else {
                        None
                    };
                    match (gap, end) {
                        (Some(g), Some(end)) if t + g < end => return (t + g) - now,
                        (Some(g), None) => return (t + g) - now,
                        (_, Some(end)) => t = end,
                        (None, None) => return SimDuration::MAX,
                    }
                }
            }
        }
    }

    /// The name of the process, as written in experiment files.
    pub fn kind(&self) -> &'static str {
        match self {
            Arrivals::Poisson { .. } => "poisson",
            Arrivals::Schedule { .. } => "schedule",
            Arrivals::Constant { .. } => "constant",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::RngStreams;

    #[test]
    fn a_schedule_follows_its_rates_piece_by_piece() {
        // 1/s for 1000 s, then 10/s for 1000 s, repeating every 2000 s.
        let a = Arrivals::schedule(
            vec![
                (SimDuration::ZERO, 1.0),
                (SimDuration::from_secs(1000), 10.0),
            ],
            Some(SimDuration::from_secs(2000)),
        )
        .unwrap();
        assert!((a.mean_rate_per_s() - 5.5).abs() < 1e-12);
        let mut rng = RngStreams::new(1).stream("a");
        let (mut t, mut low, mut high) = (SimTime::ZERO, 0u64, 0u64);
        while t < SimTime::ZERO + SimDuration::from_secs(200_000) {
            t += a.next_gap(t, &mut rng);
            if (t.as_nanos() / 1_000_000_000) % 2000 < 1000 {
                low += 1
            } else {
                high += 1
            }
        }
        // 100 periods: 100,000 expected at 1/s and 1,000,000 at 10/s (sd 316 and 1000).
        assert!((low as f64 - 100_000.0).abs() < 2_000.0, "{low}");
        assert!((high as f64 - 1_000_000.0).abs() < 5_000.0, "{high}");
    }

    #[test]
    fn bad_schedules_are_refused() {
        let s = |v: Vec<(u64, f64)>| {
            v.into_iter()
                .map(|(t, r)| (SimDuration::from_secs(t), r))
                .collect::<Vec<_>>()
        };
        assert!(Arrivals::schedule(s(vec![(5, 1.0)]), None).is_err());
        assert!(Arrivals::schedule(s(vec![(0, 1.0), (0, 2.0)]), None).is_err());
        assert!(Arrivals::schedule(s(vec![(0, 0.0)]), None).is_err());
        assert!(
            Arrivals::schedule(
                s(vec![(0, 1.0), (100, 2.0)]),
                Some(SimDuration::from_secs(50))
            )
            .is_err()
        );
    }
}
