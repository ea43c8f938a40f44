//! Arrival processes: when requests reach the endpoint.

use std::sync::Arc;

use crate::sim::{SimDuration, SimRng, SimTime};
use rand::RngExt;
use rand_distr::{Distribution, Exp, Gamma};

/// A request trace: arrival offsets from its first row, and each request's tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// Where it was read from (for messages).
    pub source: String,
    /// Rows in time order: offset from the first row, prompt tokens, output tokens.
    pub rows: Vec<(SimDuration, u32, u32)>,
    /// The conversation of each row, when the trace names them (empty: it does not, and its
    /// requests share no prefix): a row's prompt then starts with the previous row of its
    /// conversation, prompt and answer.
    pub conversations: Vec<u64>,
}

impl Trace {
    /// Mean arrival rate over the trace, per second (rows − 1 over its span).
    pub fn mean_rate_per_s(&self) -> f64 {
        let span = self.rows.last().map_or(0.0, |r| r.0.as_secs_f64());
        if span > 0.0 {
            (self.rows.len() - 1) as f64 / span
        } else {
            0.0
        }
    }
}

/// What an arrival process remembers between arrivals: the on/off phase, the position in a
/// trace, and the tokens of the next request when the trace gives them.
#[derive(Clone, Debug, Default)]
pub struct ArrivalState {
    started: bool,
    on: bool,
    phase_end: SimTime,
    cursor: usize,
    lap_start: SimTime,
    /// Prompt and output tokens of the arrival just scheduled (trace replay).
    pub next_sizes: Option<(u32, u32)>,
    /// Its conversation, when the trace names one.
    pub next_conversation: Option<u64>,
}

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
    /// A renewal process with Gamma gaps: mean `1 / rate`, coefficient of variation `cv` (1 is
    /// Poisson, more is burstier, less is more regular).
    Gamma {
        /// Mean arrivals per second.
        rate_per_s: f64,
        /// Coefficient of variation of the gaps.
        cv: f64,
        /// Gap sampler, in seconds.
        gap: Gamma<f64>,
    },
    /// On/off bursts (a two-state Markov-modulated Poisson process): Poisson at `on_rate` during
    /// on phases and `off_rate` during off phases, whose lengths are exponential. Starts off.
    OnOff {
        /// Rate while on, per second.
        on_rate: f64,
        /// Rate while off, per second (may be zero).
        off_rate: f64,
        /// Mean length of an on phase, seconds.
        on_mean_s: f64,
        /// Mean length of an off phase, seconds.
        off_mean_s: f64,
    },
    /// A daily (or any period) cycle: Poisson with rate `mean × (1 + amplitude × cos(2π (t −
    /// peak) / period))`, sampled by thinning.
    Diurnal {
        /// Mean rate over a period, per second.
        mean_rate: f64,
        /// Relative swing, 0 to 1.
        amplitude: f64,
        /// Length of a cycle.
        period: SimDuration,
        /// Time of the highest rate within a cycle.
        peak: SimDuration,
    },
    /// Replay of a recorded trace: its arrival times (gaps multiplied by `scale`) and, unless
    /// the workload sets token distributions, its tokens; `looped` starts it again when it ends.
    Replay {
        /// The recorded requests.
        trace: Arc<Trace>,
        /// Gap multiplier: 0.5 replays twice as fast.
        scale: f64,
        /// Whether the trace starts again after its last row.
        looped: bool,
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

    /// Gamma renewal arrivals at `rate_per_s` with gap coefficient of variation `cv`.
    pub fn gamma(rate_per_s: f64, cv: f64) -> Result<Self, String> {
        if !(rate_per_s.is_finite() && rate_per_s > 0.0) {
            return Err(format!("the rate must be positive, found {rate_per_s}"));
        }
        if !(cv.is_finite() && (0.05..=20.0).contains(&cv)) {
            return Err(format!("cv must be between 0.05 and 20, found {cv}"));
        }
        let shape = 1.0 / (cv * cv);
        let scale = 1.0 / rate_per_s / shape;
        let gap = Gamma::new(shape, scale).map_err(|e| e.to_string())?;
        Ok(Arrivals::Gamma {
            rate_per_s,
            cv,
            gap,
        })
    }

    /// The same process with every rate multiplied by `k` (> 0): a trace replays `k` times as
    /// fast. Samplers draw the same random numbers, so a run at `k` sees the arrivals of the
    /// run at 1 with their gaps divided by `k` (common random numbers across loads).
    pub fn scaled(&self, k: f64) -> Result<Arrivals, String> {
        if !(k.is_finite() && k > 0.0) {
            return Err(format!("the load factor must be positive, found {k}"));
        }
        Ok(match self {
            Arrivals::Poisson { rate_per_s, .. } => Arrivals::poisson(rate_per_s * k)?,
            Arrivals::Constant { rate_per_s, .. } => Arrivals::constant(rate_per_s * k)?,
            Arrivals::Gamma { rate_per_s, cv, .. } => Arrivals::gamma(rate_per_s * k, *cv)?,
            Arrivals::Schedule { pieces, period } => {
                Arrivals::schedule(pieces.iter().map(|&(t, r)| (t, r * k)).collect(), *period)?
            }
            Arrivals::OnOff {
                on_rate,
                off_rate,
                on_mean_s,
                off_mean_s,
            } => Arrivals::OnOff {
                on_rate: on_rate * k,
                off_rate: off_rate * k,
                on_mean_s: *on_mean_s,
                off_mean_s: *off_mean_s,
            },
            Arrivals::Diurnal {
                mean_rate,
                amplitude,
                period,
                peak,
            } => Arrivals::Diurnal {
                mean_rate: mean_rate * k,
                amplitude: *amplitude,
                period: *period,
                peak: *peak,
            },
            Arrivals::Replay {
                trace,
                scale,
                looped,
            } => Arrivals::Replay {
                trace: trace.clone(),
                scale: scale / k,
                looped: *looped,
            },
        })
    }

    /// The long-run mean arrival rate, per second (time-weighted over one period of a schedule,
    /// or the last rate of a schedule that does not repeat).
    pub fn mean_rate_per_s(&self) -> f64 {
        match self {
            Arrivals::Poisson { rate_per_s, .. }
            | Arrivals::Constant { rate_per_s, .. }
            | Arrivals::Gamma { rate_per_s, .. } => *rate_per_s,
            Arrivals::OnOff {
                on_rate,
                off_rate,
                on_mean_s,
                off_mean_s,
            } => (on_rate * on_mean_s + off_rate * off_mean_s) / (on_mean_s + off_mean_s),
            Arrivals::Diurnal { mean_rate, .. } => *mean_rate,
            Arrivals::Replay { trace, scale, .. } => trace.mean_rate_per_s() / scale,
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

    /// The mean arrival rate over `[from, to)`, per second, for shapes whose rate is a function
    /// of time (steady processes, schedules, the diurnal cycle); `None` for on-off bursts and
    /// traces, whose rate at a time is not known ahead.
    pub fn mean_rate_between(&self, from: SimTime, to: SimTime) -> Option<f64> {
        if to <= from {
            return None;
        }
        let rate_at = |t: SimTime| -> Option<f64> {
            match self {
                Arrivals::Poisson { rate_per_s, .. }
                | Arrivals::Constant { rate_per_s, .. }
                | Arrivals::Gamma { rate_per_s, .. } => Some(*rate_per_s),
                Arrivals::Diurnal {
                    mean_rate,
                    amplitude,
                    period,
                    peak,
                } => {
                    let phase = (t.as_secs_f64() - peak.as_secs_f64()) / period.as_secs_f64();
                    Some(mean_rate * (1.0 + amplitude * (std::f64::consts::TAU * phase).cos()))
                }
                Arrivals::Schedule { pieces, period } => Some(Self::piece_at(pieces, *period, t).0),
                Arrivals::OnOff { .. } | Arrivals::Replay { .. } => None,
            }
        };
        // The midpoint rule on 512 slices: exact for the steady and piecewise shapes up to the
        // slices that straddle a step, and well within a percent for a daily cycle.
        const SLICES: u64 = 512;
        let span = to.as_nanos() - from.as_nanos();
        let mut total = 0.0;
        for i in 0..SLICES {
            let mid = from.as_nanos() + (2 * i + 1) * span / (2 * SLICES);
            total += rate_at(SimTime::from_nanos(mid))?;
        }
        Some(total / SLICES as f64)
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

    /// The time from one arrival at `now` to the next (`SimDuration::MAX`: there is none).
    /// Always inlined: Poisson arrivals, the common case, are drawn without a call, and the
    /// other processes go to [`Arrivals::next_gap_other`].
    #[inline(always)]
    pub fn next_gap(&self, now: SimTime, rng: &mut SimRng, st: &mut ArrivalState) -> SimDuration {
        match self {
            Arrivals::Poisson { gap, .. } => SimDuration::from_secs_f64_saturating(gap.sample(rng)),
            _ => self.next_gap_other(now, rng, st),
        }
    }

    /// [`Arrivals::next_gap`] of every process (Poisson included, for completeness).
    #[inline(never)]
    fn next_gap_other(&self, now: SimTime, rng: &mut SimRng, st: &mut ArrivalState) -> SimDuration {
        match self {
            Arrivals::Poisson { gap, .. } => SimDuration::from_secs_f64_saturating(gap.sample(rng)),
            Arrivals::Constant { gap, .. } => *gap,
            Arrivals::Gamma { gap, .. } => SimDuration::from_secs_f64_saturating(gap.sample(rng)),
            Arrivals::OnOff {
                on_rate,
                off_rate,
                on_mean_s,
                off_mean_s,
            } => {
                let phase = |on: bool, rng: &mut SimRng| {
                    let e: f64 = rand_distr::Exp1.sample(rng);
                    SimDuration::from_secs_f64_saturating(
                        e * if on { on_mean_s } else { off_mean_s },
                    )
                };
                if !st.started {
                    st.started = true;
                    st.on = false;
                    st.phase_end = SimTime::ZERO + phase(false, rng);
                }
                let mut t = now;
                loop {
                    let rate = if st.on { *on_rate } else { *off_rate };
                    if rate > 0.0 {
                        let e: f64 = rand_distr::Exp1.sample(rng);
                        let g = SimDuration::from_secs_f64_saturating(e / rate);
                        if t + g < st.phase_end {
                            return (t + g) - now;
                        }
                    }
                    // Memorylessness: the gap restarts at the phase change.
                    t = st.phase_end;
                    st.on = !st.on;
                    st.phase_end = t + phase(st.on, rng);
                }
            }
            Arrivals::Diurnal {
                mean_rate,
                amplitude,
                period,
                peak,
            } => {
                let max = mean_rate * (1.0 + amplitude);
                let per = period.as_secs_f64();
                let mut t = now;
                loop {
                    let e: f64 = rand_distr::Exp1.sample(rng);
                    t += SimDuration::from_secs_f64_saturating(e / max);
                    let phase = (t.as_secs_f64() - peak.as_secs_f64()) / per;
                    let rate =
                        mean_rate * (1.0 + amplitude * (std::f64::consts::TAU * phase).cos());
                    let u: f64 = rng.random();
                    if u * max < rate {
                        return t - now;
                    }
                }
            }
            Arrivals::Replay {
                trace,
                scale,
                looped,
            } => {
                let rows = &trace.rows;
                if st.cursor >= rows.len() {
                    if !looped || rows.is_empty() {
                        st.next_sizes = None;
                        return SimDuration::MAX;
                    }
                    // The next lap starts one mean gap after the last row.
                    let span = rows.last().map_or(SimDuration::ZERO, |r| r.0);
                    let mean_gap = span.as_secs_f64() / (rows.len().max(2) - 1) as f64;
                    st.lap_start += SimDuration::from_secs_f64_saturating(
                        (span.as_secs_f64() + mean_gap) * scale,
                    );
                    st.cursor = 0;
                }
                let (offset, prompt, output) = rows[st.cursor];
                st.next_conversation = trace.conversations.get(st.cursor).copied();
                st.cursor += 1;
                st.next_sizes = Some((prompt, output));
                let at = st.lap_start
                    + SimDuration::from_secs_f64_saturating(offset.as_secs_f64() * scale);
                at.saturating_since(now)
            }
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
            Arrivals::Gamma { .. } => "gamma",
            Arrivals::OnOff { .. } => "on-off",
            Arrivals::Diurnal { .. } => "diurnal",
            Arrivals::Replay { .. } => "trace",
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
        let mut st = ArrivalState::default();
        let (mut t, mut low, mut high) = (SimTime::ZERO, 0u64, 0u64);
        while t < SimTime::ZERO + SimDuration::from_secs(200_000) {
            t += a.next_gap(t, &mut rng, &mut st);
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

    /// Arrivals over `secs` seconds and the squared coefficient of variation of their gaps.
    fn sample(a: &Arrivals, secs: u64) -> (u64, f64) {
        let mut rng = RngStreams::new(7).stream("a");
        let mut st = ArrivalState::default();
        let (mut t, mut n, mut sum, mut sum2) = (SimTime::ZERO, 0u64, 0.0, 0.0);
        let end = SimTime::ZERO + SimDuration::from_secs(secs);
        loop {
            let g = a.next_gap(t, &mut rng, &mut st);
            if t + g >= end || g == SimDuration::MAX {
                break;
            }
            t += g;
            n += 1;
            let x = g.as_secs_f64();
            sum += x;
            sum2 += x * x;
        }
        let mean = sum / n as f64;
        (n, (sum2 / n as f64 - mean * mean) / (mean * mean))
    }

    #[test]
    fn gamma_gaps_have_the_mean_and_burstiness_asked_for() {
        let (n, cv2) = sample(&Arrivals::gamma(2.0, 3.0).unwrap(), 200_000);
        assert!((n as f64 / 400_000.0 - 1.0).abs() < 0.03, "{n}");
        assert!((cv2 / 9.0 - 1.0).abs() < 0.1, "cv² {cv2}");
        let (_, regular) = sample(&Arrivals::gamma(2.0, 0.5).unwrap(), 50_000);
        assert!((regular - 0.25).abs() < 0.02, "cv² {regular}");
    }

    #[test]
    fn on_off_bursts_average_their_two_rates_by_time() {
        // On 10/s for 60 s on average, off 0.5/s for 240 s: mean 2.4/s, and burstier than Poisson.
        let a = Arrivals::OnOff {
            on_rate: 10.0,
            off_rate: 0.5,
            on_mean_s: 60.0,
            off_mean_s: 240.0,
        };
        assert!((a.mean_rate_per_s() - 2.4).abs() < 1e-12);
        let (n, cv2) = sample(&a, 1_000_000);
        assert!((n as f64 / 2_400_000.0 - 1.0).abs() < 0.05, "{n}");
        assert!(cv2 > 2.0, "cv² {cv2}");
    }

    #[test]
    fn a_diurnal_cycle_peaks_when_asked_and_keeps_its_mean() {
        let a = Arrivals::Diurnal {
            mean_rate: 1.0,
            amplitude: 0.8,
            period: SimDuration::from_secs(86_400),
            peak: SimDuration::from_secs(14 * 3600),
        };
        let mut rng = RngStreams::new(3).stream("a");
        let mut st = ArrivalState::default();
        let (mut t, mut by_hour) = (SimTime::ZERO, [0u64; 24]);
        let end = SimTime::ZERO + SimDuration::from_secs(20 * 86_400);
        while t < end {
            t += a.next_gap(t, &mut rng, &mut st);
            by_hour[((t.as_secs_f64() / 3600.0) as usize) % 24] += 1;
        }
        let total: u64 = by_hour.iter().sum();
        assert!(
            (total as f64 / (20.0 * 86_400.0) - 1.0).abs() < 0.02,
            "{total}"
        );
        let peak = (0..24).max_by_key(|&h| by_hour[h]).unwrap();
        assert!((13..=14).contains(&peak), "peak hour {peak}");
        // Hour 2 (opposite the peak) runs at about 1 − 0.8 of the mean.
        assert!(by_hour[2] * 5 < by_hour[14], "{by_hour:?}");
    }

    #[test]
    fn a_trace_replays_its_rows_scaled_and_looped() {
        let trace = Arc::new(Trace {
            source: "t".into(),
            rows: vec![
                (SimDuration::ZERO, 10, 1),
                (SimDuration::from_secs(2), 20, 2),
                (SimDuration::from_secs(4), 30, 3),
            ],
            conversations: Vec::new(),
        });
        let a = Arrivals::Replay {
            trace,
            scale: 0.5,
            looped: true,
        };
        let mut rng = RngStreams::new(1).stream("a");
        let mut st = ArrivalState::default();
        let mut t = SimTime::ZERO;
        let mut seen = Vec::new();
        for _ in 0..5 {
            t += a.next_gap(t, &mut rng, &mut st);
            seen.push((t.as_secs_f64(), st.next_sizes.unwrap().0));
        }
        // Twice as fast: 0, 1, 2 s; the next lap starts one mean gap (2 s, halved) after.
        assert_eq!(
            seen,
            [(0.0, 10), (1.0, 20), (2.0, 30), (3.0, 10), (4.0, 20)]
        );
    }
}
