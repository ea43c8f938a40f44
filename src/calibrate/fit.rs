//! The fit: the coefficients, their bounds, the objective (squared log errors of the simulated
//! measurements against the observed ones over the fit levels), an identifiability check and
//! Nelder-Mead (argmin) in a bounded space.

use argmin::core::{CostFunction, Executor, State};
use argmin::solver::neldermead::NelderMead;
use rayon::prelude::*;

use super::data::Level;
use super::replay::{Deployment, ReplayError, replay, simulated};
use crate::experiment::catalog::Catalog;

/// A fitted coefficient of an engine class.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Coef {
    /// Share of spec bandwidth reached by weight reads (`mbu`).
    Mbu,
    /// Share of spec compute reached by matrix multiplies (`mfu`).
    Mfu,
    /// Host time per engine step (`host.per-step-us`).
    PerStep,
    /// Host time per running sequence per step (`host.per-seq-us`).
    PerSeq,
    /// API-server time per request (`api.per-request-ms`).
    Api,
}

impl Coef {
    /// Every coefficient, in the order of a parameter vector.
    pub const ALL: [Coef; 5] = [Coef::Mbu, Coef::Mfu, Coef::PerStep, Coef::PerSeq, Coef::Api];

    /// The name used by `--fix` and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Coef::Mbu => "mbu",
            Coef::Mfu => "mfu",
            Coef::PerStep => "per-step-us",
            Coef::PerSeq => "per-seq-us",
            Coef::Api => "per-request-ms",
        }
    }

    /// The coefficient a `--fix` name means.
    pub fn from_name(s: &str) -> Option<Coef> {
        Coef::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Plausible bounds: the fit stays within them. The host bounds are wide but physical: a
    /// Python scheduler step takes tens of microseconds to a few milliseconds.
    pub fn bounds(self) -> (f64, f64) {
        match self {
            Coef::Mbu | Coef::Mfu => (0.1, 1.0),
            Coef::PerStep => (1.0, 5000.0),
            Coef::PerSeq => (0.1, 1000.0),
            Coef::Api => (0.01, 200.0),
        }
    }

    /// (table, key) of the coefficient in an engine-class file.
    pub fn key(self) -> (Option<&'static str>, &'static str) {
        match self {
            Coef::Mbu => (None, "mbu"),
            Coef::Mfu => (None, "mfu"),
            Coef::PerStep => (Some("host"), "per-step-us"),
            Coef::PerSeq => (Some("host"), "per-seq-us"),
            Coef::Api => (Some("api"), "per-request-ms"),
        }
    }

    /// The value in a class table.
    pub fn get(self, class: &toml::Table) -> Option<f64> {
        let (t, k) = self.key();
        let v = match t {
            None => class.get(k),
            Some(t) => class
                .get(t)
                .and_then(|x| x.as_table())
                .and_then(|x| x.get(k)),
        }?;
        v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
    }

    /// Sets the value in a class table.
    pub fn set(self, class: &mut toml::Table, value: f64) {
        let (t, k) = self.key();
        let table = match t {
            None => class,
            Some(t) => class
                .entry(t)
                .or_insert_with(|| toml::Table::new().into())
                .as_table_mut()
                .expect("host and api are tables in a class file"),
        };
        table.insert(k.into(), value.into());
    }

    /// Which rows would tell this coefficient apart from the rest.
    pub fn needs(self) -> &'static str {
        match self {
            Coef::Mbu => {
                "time per output token at batch 1 (a request rate low enough that requests rarely overlap): memory-bound decode steps, whose weight reads it sets"
            }
            Coef::Mfu => {
                "time to first token at batch 1 for prompts of two or more lengths, one of them long (a thousand tokens and more): prefill time grows with the prompt at the compute rate it sets"
            }
            Coef::PerStep => {
                "time to first token at batch 1 for long prompts (compute-bound steps, where bandwidth does not count) next to time per output token at batch 1 (memory-bound steps); on an engine that overlaps host work, load at which host time is not hidden"
            }
            Coef::PerSeq => {
                "rows at more than one load level: high load (large batches) next to batch 1, since its time grows with the batch size"
            }
            Coef::Api => {
                "time to first token at batch 1 with short prompts next to time per output token: API time comes once per request, not once per step"
            }
        }
    }
}

/// Maps an unbounded parameter to a coefficient inside its bounds (a logistic in log space).
fn to_value(c: Coef, x: f64) -> f64 {
    let (lo, hi) = c.bounds();
    let (lo, hi) = (lo.ln(), hi.ln());
    (lo + (hi - lo) / (1.0 + (-x).exp())).exp()
}

/// The inverse of [`to_value`] (values at or beyond a bound are moved just inside).
fn to_param(c: Coef, v: f64) -> f64 {
    let (lo, hi) = c.bounds();
    let s = ((v.ln() - lo.ln()) / (hi.ln() - lo.ln())).clamp(1e-6, 1.0 - 1e-6);
    (s / (1.0 - s)).ln()
}

/// The problem: the base class, which coefficients move, the levels to fit.
#[derive(Debug)]
pub struct Problem<'a> {
    /// Deployment and engine options.
    pub deployment: &'a Deployment,
    /// The base class table (fixed coefficients keep its values).
    pub base: &'a toml::Table,
    /// Coefficients that move.
    pub free: Vec<Coef>,
    /// The levels fitted.
    pub levels: Vec<&'a Level>,
    /// The catalog the deployment names.
    pub catalog: &'a Catalog,
    /// How much each measurement of `levels` varies by chance (standard deviation of its log
    /// over replays with other seeds, see [`Problem::chance`]), in the order of
    /// [`Problem::residuals_of`]; residuals are divided by it. Empty: every one counts alike.
    pub noise: Vec<f64>,
}

/// Seeds of the replays that measure chance variation (besides the fit's own).
const NOISE_SEEDS: u64 = 4;

/// The least chance variation assumed for a measurement: 0.1 % (a level of a few hundred
/// requests at batch 1 repeats its figures almost exactly, but no load test repeats better).
pub const NOISE_FLOOR: f64 = 1e-3;

/// Residual given when a replay answers nothing (so the optimiser moves away from it).
const MISSING: f64 = 10.0;

impl Problem<'_> {
    /// The class with the free coefficients at parameter vector `x`.
    pub fn class_at(&self, x: &[f64]) -> toml::Table {
        let mut class = self.base.clone();
        for (c, &xi) in self.free.iter().zip(x) {
            c.set(&mut class, to_value(*c, xi));
        }
        class
    }

    /// The start: the base class's values.
    pub fn start(&self) -> Vec<f64> {
        self.free
            .iter()
            .map(|c| to_param(*c, c.get(self.base).unwrap_or(1.0)))
            .collect()
    }

    /// Log errors ln(simulated / observed) of every measurement of `levels` under `class`.
    pub fn residuals_of(
        &self,
        class: &toml::Table,
        levels: &[&Level],
    ) -> Result<Vec<f64>, ReplayError> {
        let per_level: Vec<Result<Vec<f64>, ReplayError>> = levels
            .par_iter()
            .map(|l| {
                let m = replay(self.deployment, class, l, self.catalog)?;
                Ok(simulated(l, &m)
                    .into_iter()
                    .zip(l.observed.named())
                    .map(|(s, (_, o))| match s {
                        Some(s) if s > 0.0 => (s / o).ln(),
                        _ => MISSING,
                    })
                    .collect())
            })
            .collect();
        let mut out = Vec::new();
        for r in per_level {
            out.extend(r?);
        }
        Ok(out)
    }

    /// The chance variation of every measurement of the fit levels under `class`: the
    /// standard deviation of ln(figure) over replays with the fit's seed and
    /// [`NOISE_SEEDS`] others (at least [`NOISE_FLOOR`]). Replays of a load level vary from
    /// seed to seed as much as load tests of it do, so this is also the expected noise of the
    /// measured figures.
    pub fn chance(&self, class: &toml::Table) -> Result<Vec<f64>, ReplayError> {
        let mut runs: Vec<Vec<f64>> = Vec::new();
        for k in 0..=NOISE_SEEDS {
            let seed = super::replay::SEED + k;
            let per_level: Vec<Result<Vec<f64>, ReplayError>> = self
                .levels
                .par_iter()
                .map(|l| {
                    let m = super::replay::replay_seeded(
                        self.deployment,
                        class,
                        l,
                        self.catalog,
                        seed,
                    )?;
                    Ok(simulated(l, &m)
                        .into_iter()
                        .map(|s| s.filter(|s| *s > 0.0).map_or(f64::NAN, f64::ln))
                        .collect())
                })
                .collect();
            let mut v = Vec::new();
            for r in per_level {
                v.extend(r?);
            }
            runs.push(v);
        }
        let n = runs.len() as f64;
        Ok((0..runs[0].len())
            .map(|i| {
                let x: Vec<f64> = runs.iter().map(|r| r[i]).collect();
                if x.iter().any(|v| !v.is_finite()) {
                    return 1.0;
                }
                let mean = x.iter().sum::<f64>() / n;
                let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                var.sqrt().max(NOISE_FLOOR)
            })
            .collect())
    }

    /// Residuals divided by the chance variation of their measurement.
    fn weighted(&self, mut r: Vec<f64>) -> Vec<f64> {
        if self.noise.len() == r.len() {
            r.iter_mut().zip(&self.noise).for_each(|(x, s)| *x /= s);
        }
        r
    }

    /// The sensitivity of every measurement to every free coefficient at the start: column
    /// `i` holds d ln(simulated) / d ln(coefficient i), by a one-sided difference of 10 % (taken
    /// downwards at the upper bound).
    pub fn sensitivity(&self) -> Result<Vec<Vec<f64>>, ReplayError> {
        const STEP: f64 = 0.1;
        let base: Vec<f64> = self
            .free
            .iter()
            .map(|c| c.get(self.base).unwrap_or(1.0))
            .collect();
        let class_of = |v: &[f64]| {
            let mut class = self.base.clone();
            for (c, &vi) in self.free.iter().zip(v) {
                c.set(&mut class, vi);
            }
            class
        };
        let r0 = self.weighted(self.residuals_of(&class_of(&base), &self.levels)?);
        let mut cols = Vec::new();
        for (i, c) in self.free.iter().enumerate() {
            let up = base[i] * STEP.exp() <= c.bounds().1;
            let h = if up { STEP } else { -STEP };
            let mut v = base.clone();
            v[i] *= h.exp();
            let r = self.weighted(self.residuals_of(&class_of(&v), &self.levels)?);
            cols.push(r.iter().zip(&r0).map(|(a, b)| (a - b) / h).collect());
        }
        Ok(cols)
    }

    /// Coefficients the fit levels cannot identify near the start, with the coefficients they
    /// trade off against (none: it moves no measurement) and its independent effect (see
    /// [`independent_effects`]).
    pub fn unidentified(&self) -> Result<Vec<Unidentified>, ReplayError> {
        let cols = self.sensitivity()?;
        Ok(independent_effects(&cols)
            .into_iter()
            .enumerate()
            .filter(|(_, (effect, _))| *effect * MAX_SE < 1.0)
            .map(|(i, (effect, partners))| Unidentified {
                coef: self.free[i],
                partners: partners.into_iter().map(|j| self.free[j]).collect(),
                effect,
            })
            .collect())
    }
}

/// A coefficient the data cannot pin down.
#[derive(Clone, Debug, PartialEq)]
pub struct Unidentified {
    /// The coefficient.
    pub coef: Coef,
    /// The coefficients whose changes can undo its effect (empty: it has almost none).
    pub partners: Vec<Coef>,
    /// Norm of the change of the measurements (in units of their chance variation) per unit
    /// change of ln(coefficient) that no change of the other coefficients can undo: 1 / the
    /// standard error of ln(coefficient).
    pub effect: f64,
}

/// The largest standard error (of ln coefficient) at which a coefficient counts as identified:
/// 5 %, so that a fitted coefficient is good to a few per cent (the precision calibration is
/// asked for). With residuals in units of their chance variation, the linearised least-squares
/// standard error of a coefficient is 1 / (the norm of the part of its sensitivity column
/// that the other columns cannot reproduce): a trade-off between coefficients shows as a
/// large standard error for each of them, whatever the optimiser does.
pub const MAX_SE: f64 = 0.05;

/// For each column of the sensitivity matrix `cols` (one per coefficient, one row per
/// measurement): the norm of what is left of it after its least-squares projection on the
/// other columns, i.e. the part of its effect that no combination of the other coefficients
/// reproduces (`norm x sin` of its angle to their span), and the other columns that make up
/// the projection, largest share first (those over a fifth of the largest; none when the
/// column itself is below `1 / MAX_SE`, so that it moves nothing).
pub fn independent_effects(cols: &[Vec<f64>]) -> Vec<(f64, Vec<usize>)> {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    (0..cols.len())
        .map(|i| {
            let others: Vec<usize> = (0..cols.len()).filter(|&j| j != i).collect();
            // Modified Gram-Schmidt on the other columns, then the residual of column i.
            let mut basis: Vec<Vec<f64>> = Vec::new();
            for &j in &others {
                let mut q = cols[j].clone();
                for b in &basis {
                    let d = dot(&q, b);
                    q.iter_mut().zip(b).for_each(|(x, y)| *x -= d * y);
                }
                let n = dot(&q, &q).sqrt();
                if n > 1e-12 {
                    q.iter_mut().for_each(|x| *x /= n);
                    basis.push(q);
                }
            }
            let mut r = cols[i].clone();
            for b in &basis {
                let d = dot(&r, b);
                r.iter_mut().zip(b).for_each(|(x, y)| *x -= d * y);
            }
            let effect = dot(&r, &r).sqrt();
            // Which others make up the projection: their least-squares weights times their
            // column norms, from the normal equations on the others (small, solved directly).
            let proj: Vec<f64> = cols[i].iter().zip(&r).map(|(a, b)| a - b).collect();
            let share: Vec<f64> = others
                .iter()
                .map(|&j| dot(&proj, &cols[j]).abs() / dot(&cols[j], &cols[j]).sqrt().max(1e-300))
                .collect();
            let top = share.iter().copied().fold(0.0, f64::max);
            let mut partners: Vec<(usize, f64)> = others
                .iter()
                .zip(&share)
                .filter(|(_, s)| top > 1e-12 && **s > 0.2 * top)
                .map(|(&j, &s)| (j, s))
                .collect();
            partners.sort_by(|a, b| b.1.total_cmp(&a.1));
            if dot(&cols[i], &cols[i]).sqrt() < 1.0 / MAX_SE {
                partners.clear();
            }
            (effect, partners.into_iter().map(|(j, _)| j).collect())
        })
        .collect()
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, x: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        // Unweighted: every figure counts alike in the fit. (Weighting by chance variation,
        // as the identifiability check does, lets the figures that repeat best dominate; on
        // the shipped sample, whose errors are the model's more than chance's, that fits the
        // low levels better and the held-back one worse: docs/validation.md.)
        let r = self
            .residuals_of(&self.class_at(x), &self.levels)
            .map_err(|e| argmin::core::Error::msg(format!("{e:?}")))?;
        Ok(r.iter().map(|e| e * e).sum::<f64>() / r.len().max(1) as f64)
    }
}

/// Nelder-Mead restarts: a simplex that has collapsed along a valley is rebuilt around the
/// best point (a standard remedy for its stalls), until a restart no longer improves the cost.
const RESTARTS: usize = 8;

/// Fits the free coefficients; returns the fitted class and the mean squared log error.
pub fn fit(p: Problem<'_>, max_iters: u64) -> Result<(toml::Table, f64), String> {
    let mut x = p.start();
    let mut cost = f64::INFINITY;
    let mut p = p;
    for round in 0..RESTARTS {
        // Full-size simplices again and again: a small one is caught by the objective's
        // roughness (a replay's figures move in small jumps as events reorder).
        let size = if round % 2 == 0 { 0.6 } else { 0.3 };
        let mut simplex = vec![x.clone()];
        for i in 0..x.len() {
            let mut v = x.clone();
            v[i] += size;
            simplex.push(v);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(1e-12)
            .map_err(|e| e.to_string())?;
        let mut res = Executor::new(p, solver)
            .configure(|s| s.max_iters(max_iters))
            .run()
            .map_err(|e| e.to_string())?;
        let best = res.state().get_best_cost();
        let improved = best < cost * (1.0 - 1e-6);
        if best < cost {
            cost = best;
            x = res.state().get_best_param().cloned().unwrap_or(x);
        }
        p = res
            .problem
            .take_problem()
            .expect("the executor gives the problem back");
        if !improved || cost < 1e-14 {
            break;
        }
    }
    Ok((p.class_at(&x), cost))
}
