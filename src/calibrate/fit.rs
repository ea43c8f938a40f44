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
                "rows at load levels with different batch sizes and context lengths (several request rates, long outputs)"
            }
            Coef::Mfu => {
                "rows with prompts of different lengths, or prefill-heavy load (long prompts)"
            }
            Coef::PerStep => {
                "rows at low load (batch 1) next to rows at high load, on an engine whose host time is not hidden"
            }
            Coef::PerSeq => "rows at more than one load level, so batch sizes differ",
            Coef::Api => "time-to-first-token rows at low load with short prompts",
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
}

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

    /// Coefficients the fit levels cannot identify near the start: a coefficient that moves no
    /// measurement, or two that move them the same way (the data cannot tell them apart).
    pub fn unidentified(&self) -> Result<Vec<(Coef, Option<Coef>)>, ReplayError> {
        const STEP: f64 = 0.3;
        let x0 = self.start();
        let r0 = self.residuals_of(&self.class_at(&x0), &self.levels)?;
        let mut cols = Vec::new();
        for i in 0..self.free.len() {
            let mut x = x0.clone();
            x[i] += STEP;
            let r = self.residuals_of(&self.class_at(&x), &self.levels)?;
            cols.push(
                r.iter()
                    .zip(&r0)
                    .map(|(a, b)| (a - b) / STEP)
                    .collect::<Vec<f64>>(),
            );
        }
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let mut bad = Vec::new();
        for i in 0..cols.len() {
            // A coefficient whose change of 35 % moves no measurement by 0.1 %.
            if norm(&cols[i]) < 3e-3 {
                bad.push((self.free[i], None));
                continue;
            }
            for j in 0..i {
                let dot: f64 = cols[i].iter().zip(&cols[j]).map(|(a, b)| a * b).sum();
                let cos = dot / (norm(&cols[i]) * norm(&cols[j])).max(1e-300);
                if cos.abs() > 0.9995 {
                    bad.push((self.free[i], Some(self.free[j])));
                }
            }
        }
        Ok(bad)
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, x: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        let r = self
            .residuals_of(&self.class_at(x), &self.levels)
            .map_err(|e| argmin::core::Error::msg(format!("{e:?}")))?;
        Ok(r.iter().map(|e| e * e).sum::<f64>() / r.len().max(1) as f64)
    }
}

/// Nelder-Mead restarts: a simplex that has collapsed along a valley is rebuilt around the
/// best point (a standard remedy for its stalls), until a restart no longer improves the cost.
const RESTARTS: usize = 4;

/// Fits the free coefficients; returns the fitted class and the mean squared log error.
pub fn fit(p: Problem<'_>, max_iters: u64) -> Result<(toml::Table, f64), String> {
    let mut x = p.start();
    let mut cost = f64::INFINITY;
    let mut p = p;
    for round in 0..RESTARTS {
        let size = 0.6 / (1 << round) as f64;
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
