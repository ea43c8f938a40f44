//! Probability distributions for sampled quantities (service times now, token counts later).
//!
//! A [`Dist`] is built once, at validation time, with its parameters already checked, so
//! sampling never fails and never re-validates. It samples plain `f64` values in whatever unit
//! the caller gives its parameters in; [`Dist::sample_duration`] reads them as seconds.

use rand::RngExt;
use rand_distr::{Distribution, Exp, Gamma, LogNormal, Uniform};

use crate::sim::{SimDuration, SimRng};

/// A validated, ready-to-sample distribution over non-negative values.
#[derive(Clone, Debug)]
pub enum Dist {
    /// Exponential with the given mean.
    Exponential {
        /// Mean value.
        mean: f64,
        /// Sampler with rate `1 / mean`.
        sampler: Exp<f64>,
    },
    /// Always the same value.
    Deterministic {
        /// The value.
        value: f64,
    },
    /// Uniform on `[min, max)`.
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// Sampler.
        sampler: Uniform<f64>,
    },
    /// Log-normal: `ln X ~ Normal(ln median, sigma)`.
    LogNormal {
        /// Median value (`exp(mu)`).
        median: f64,
        /// Standard deviation of `ln X`.
        sigma: f64,
        /// Sampler.
        sampler: LogNormal<f64>,
    },
    /// Gamma with the given shape and scale (mean = shape × scale, CV = 1/sqrt(shape)).
    Gamma {
        /// Shape `k`.
        shape: f64,
        /// Scale `θ`.
        scale: f64,
        /// Sampler.
        sampler: Gamma<f64>,
    },
    /// Draws uniformly from a list of observed values (a bootstrap of measurements).
    Empirical {
        /// The observed values; never empty.
        values: Vec<f64>,
    },
}

/// z such that P(Z ≤ z) = 0.99 for a standard normal; converts a p99 into a log-normal sigma.
pub const Z_99: f64 = 2.326_347_874_040_841;

fn positive(name: &str, v: f64) -> Result<f64, String> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("{name} must be positive and finite, found {v}"))
    }
}

impl Dist {
    /// Exponential with mean `mean` (> 0).
    pub fn exponential(mean: f64) -> Result<Self, String> {
        let mean = positive("the mean", mean)?;
        let sampler = Exp::new(1.0 / mean).map_err(|e| e.to_string())?;
        Ok(Dist::Exponential { mean, sampler })
    }

    /// The constant `value` (≥ 0).
    pub fn deterministic(value: f64) -> Result<Self, String> {
        if value.is_finite() && value >= 0.0 {
            Ok(Dist::Deterministic { value })
        } else {
            Err(format!("the value must be zero or positive, found {value}"))
        }
    }

    /// Uniform on `[min, max)` with `0 ≤ min < max`.
    pub fn uniform(min: f64, max: f64) -> Result<Self, String> {
        if !(min.is_finite() && max.is_finite() && min >= 0.0) {
            return Err(format!(
                "min and max must be zero or positive, found {min} and {max}"
            ));
        }
        if min >= max {
            return Err(format!("min ({min}) must be less than max ({max})"));
        }
        let sampler = Uniform::new(min, max).map_err(|e| e.to_string())?;
        Ok(Dist::Uniform { min, max, sampler })
    }

    /// Log-normal with the given median and log-space standard deviation `sigma` (> 0).
    pub fn lognormal(median: f64, sigma: f64) -> Result<Self, String> {
        let median = positive("the median", median)?;
        let sigma = positive("sigma", sigma)?;
        let sampler = LogNormal::new(median.ln(), sigma).map_err(|e| e.to_string())?;
        Ok(Dist::LogNormal {
            median,
            sigma,
            sampler,
        })
    }

    /// Log-normal with the given median and 99th percentile (`p99 > median`).
    pub fn lognormal_p99(median: f64, p99: f64) -> Result<Self, String> {
        let median = positive("the median", median)?;
        let p99 = positive("p99", p99)?;
        if p99 <= median {
            return Err(format!(
                "p99 ({p99}) must be greater than the median ({median})"
            ));
        }
        Self::lognormal(median, (p99 / median).ln() / Z_99)
    }

    /// Gamma with the given mean and coefficient of variation (`cv` = std / mean, > 0).
    pub fn gamma(mean: f64, cv: f64) -> Result<Self, String> {
        let mean = positive("the mean", mean)?;
        let cv = positive("cv", cv)?;
        let shape = 1.0 / (cv * cv);
        let scale = mean / shape;
        let sampler = Gamma::new(shape, scale).map_err(|e| e.to_string())?;
        Ok(Dist::Gamma {
            shape,
            scale,
            sampler,
        })
    }

    /// Uniform draws from `values` (non-empty, each ≥ 0).
    pub fn empirical(values: Vec<f64>) -> Result<Self, String> {
        if values.is_empty() {
            return Err("the list of values is empty".to_string());
        }
        if let Some(bad) = values.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(format!("every value must be zero or positive, found {bad}"));
        }
        Ok(Dist::Empirical { values })
    }

    /// Draws one value.
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        match self {
            Dist::Exponential { sampler, .. } => sampler.sample(rng),
            Dist::Deterministic { value } => *value,
            Dist::Uniform { sampler, .. } => sampler.sample(rng),
            Dist::LogNormal { sampler, .. } => sampler.sample(rng),
            Dist::Gamma { sampler, .. } => sampler.sample(rng),
            Dist::Empirical { values } => values[rng.random_range(0..values.len())],
        }
    }

    /// Draws one value and reads it as seconds. The exponential, the commonest service and
    /// think time, is drawn here without a call; the same draw as [`Dist::sample`] makes.
    #[inline(always)]
    pub fn sample_duration(&self, rng: &mut SimRng) -> SimDuration {
        let x = match self {
            Dist::Exponential { sampler, .. } => sampler.sample(rng),
            _ => self.sample(rng),
        };
        SimDuration::from_secs_f64_saturating(x)
    }

    /// The exact mean of the distribution.
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Exponential { mean, .. } => *mean,
            Dist::Deterministic { value } => *value,
            Dist::Uniform { min, max, .. } => (min + max) / 2.0,
            Dist::LogNormal { median, sigma, .. } => median * (sigma * sigma / 2.0).exp(),
            Dist::Gamma { shape, scale, .. } => shape * scale,
            Dist::Empirical { values } => values.iter().sum::<f64>() / values.len() as f64,
        }
    }

    /// A short name of the family, as written in experiment files.
    pub fn kind(&self) -> &'static str {
        match self {
            Dist::Exponential { .. } => "exponential",
            Dist::Deterministic { .. } => "deterministic",
            Dist::Uniform { .. } => "uniform",
            Dist::LogNormal { .. } => "lognormal",
            Dist::Gamma { .. } => "gamma",
            Dist::Empirical { .. } => "empirical",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::RngStreams;

    fn sample_mean(d: &Dist, n: usize) -> f64 {
        let mut rng = RngStreams::new(3).stream("test");
        (0..n).map(|_| d.sample(&mut rng)).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_exact_means() {
        let cases = [
            Dist::exponential(2.0).unwrap(),
            Dist::deterministic(1.5).unwrap(),
            Dist::uniform(1.0, 3.0).unwrap(),
            Dist::lognormal(1.0, 0.5).unwrap(),
            Dist::gamma(2.0, 0.5).unwrap(),
            Dist::empirical(vec![1.0, 2.0, 6.0]).unwrap(),
        ];
        for d in &cases {
            let m = sample_mean(d, 200_000);
            let rel = (m - d.mean()).abs() / d.mean();
            assert!(
                rel < 0.01,
                "{}: sample mean {m} vs exact {}",
                d.kind(),
                d.mean()
            );
        }
    }

    #[test]
    fn lognormal_p99_puts_one_percent_above_p99() {
        let d = Dist::lognormal_p99(400.0, 2000.0).unwrap();
        let mut rng = RngStreams::new(5).stream("test");
        let n = 200_000;
        let above = (0..n).filter(|_| d.sample(&mut rng) > 2000.0).count();
        let share = above as f64 / n as f64;
        assert!((share - 0.01).abs() < 0.001, "share above p99: {share}");
    }

    /// Kolmogorov-Smirnov distance between `n` samples of `d` and the CDF `cdf`.
    fn ks_distance(d: &Dist, cdf: impl Fn(f64) -> f64, n: usize) -> f64 {
        let mut rng = RngStreams::new(11).stream("ks");
        let mut xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        xs.sort_by(f64::total_cmp);
        xs.iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = cdf(x);
                (f - i as f64 / n as f64)
                    .abs()
                    .max(((i + 1) as f64 / n as f64 - f).abs())
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn samples_follow_the_exact_distributions_computed_independently_by_statrs() {
        use statrs::distribution::{ContinuousCDF, Exp, Gamma, LogNormal, Uniform};
        // Critical value of the KS statistic at significance 0.001 is 1.95 / sqrt(n).
        let n = 20_000;
        let critical = 1.95 / (n as f64).sqrt();
        let exp = Exp::new(0.5).unwrap();
        let uni = Uniform::new(1.0, 3.0).unwrap();
        // median 400, p99 2000: sigma = ln(5) / z_0.99.
        let logn = LogNormal::new(400f64.ln(), 5f64.ln() / Z_99).unwrap();
        // mean 2, cv 0.5: shape 4, rate 2 (statrs takes a rate, not a scale).
        let gam = Gamma::new(4.0, 2.0).unwrap();
        let check = |name: &str, dist: Dist, cdf: &dyn Fn(f64) -> f64| {
            let d = ks_distance(&dist, cdf, n);
            assert!(d < critical, "{name}: KS distance {d:.4} >= {critical:.4}");
        };
        check("exponential", Dist::exponential(2.0).unwrap(), &|x| {
            exp.cdf(x)
        });
        check("uniform", Dist::uniform(1.0, 3.0).unwrap(), &|x| uni.cdf(x));
        check(
            "lognormal",
            Dist::lognormal_p99(400.0, 2000.0).unwrap(),
            &|x| logn.cdf(x),
        );
        check("gamma", Dist::gamma(2.0, 0.5).unwrap(), &|x| gam.cdf(x));
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(Dist::exponential(0.0).is_err());
        assert!(Dist::uniform(3.0, 1.0).is_err());
        assert!(Dist::lognormal_p99(2.0, 1.0).is_err());
        assert!(Dist::gamma(1.0, -1.0).is_err());
        assert!(Dist::empirical(vec![]).is_err());
        assert!(Dist::deterministic(f64::NAN).is_err());
    }
}
