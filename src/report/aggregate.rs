//! Replications: each metric's mean and 95 % confidence interval per configuration and class.

use std::collections::BTreeMap;

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::summary::{Aggregate, Estimate, Metrics, RunSummary, SloSpec};

/// The mean and Student-t 95 % half-width of `xs`.
pub fn estimate(xs: &[f64]) -> Estimate {
    let n = xs.len();
    if n == 0 {
        return Estimate {
            mean: None,
            ci95: None,
            n: 0,
        };
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let ci95 = (n > 1).then(|| {
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
            .map(|d| d.inverse_cdf(0.975))
            .unwrap_or(f64::NAN);
        t * (var / n as f64).sqrt()
    });
    Estimate {
        mean: Some(mean),
        ci95,
        n: n as u32,
    }
}

/// The one-sided upper confidence bound at `confidence` of the mean of `xs` (Student t);
/// `None` with fewer than two values.
pub fn upper_bound(xs: &[f64], confidence: f64) -> Option<f64> {
    let n = xs.len();
    if n < 2 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .map(|d| d.inverse_cdf(confidence))
        .ok()?;
    Some(mean + t * (var / n as f64).sqrt())
}

/// Whether the replications `group` (one configuration and class) meet every target of `slo`
/// for their class with its confidence: each metric's upper confidence bound is within the
/// target. A metric undefined in some replication misses. `None` without a target for the class.
fn slo_met(slo: &SloSpec, group: &[&RunSummary]) -> Option<bool> {
    let class = &group.first()?.class;
    let mut applies = false;
    let mut met = true;
    for t in slo.targets.iter().filter(|t| &t.class == class) {
        applies = true;
        let Some(i) = Metrics::index(&t.metric) else {
            met = false;
            continue;
        };
        let xs: Option<Vec<f64>> = group.iter().map(|r| r.metrics.reals()[i]).collect();
        met &= match xs {
            Some(xs) if xs.len() >= 2 => {
                upper_bound(&xs, slo.confidence).is_some_and(|u| u <= t.max)
            }
            Some(xs) => xs.first().is_some_and(|&x| x <= t.max),
            None => false,
        };
    }
    applies.then_some(met)
}

/// One [`Aggregate`] per configuration and class, in run order, judged against `slo` if given.
pub fn aggregate(runs: &[RunSummary], slo: Option<&SloSpec>) -> Vec<Aggregate> {
    let mut groups: BTreeMap<(usize, usize), Vec<&RunSummary>> = BTreeMap::new();
    let mut class_order: Vec<&str> = Vec::new();
    for r in runs {
        let k = match class_order.iter().position(|c| *c == r.class) {
            Some(k) => k,
            None => {
                class_order.push(&r.class);
                class_order.len() - 1
            }
        };
        groups.entry((r.config, k)).or_default().push(r);
    }
    groups
        .into_values()
        .map(|group| {
            let first = group[0];
            let reals: Vec<_> = group.iter().map(|r| r.metrics.reals()).collect();
            let metrics = Metrics::DOCS
                .iter()
                .enumerate()
                .map(|(i, (name, _))| {
                    let xs: Vec<f64> = reals.iter().filter_map(|r| r[i]).collect();
                    (*name, estimate(&xs))
                })
                .collect();
            Aggregate {
                config: first.config,
                class: first.class.clone(),
                params: first.params.clone(),
                replications: group.len() as u32,
                metrics,
                slo_met: slo.and_then(|s| slo_met(s, &group)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_uses_student_t() {
        // n = 4, sd 1: t(0.975, 3) = 3.182, half-width 3.182 / 2.
        let e = estimate(&[1.0, 2.0, 3.0, 2.0 + 2f64.sqrt() / 2.0 * 0.0]);
        assert_eq!(e.n, 4);
        let xs = [10.0, 12.0, 9.0, 11.0];
        let e = estimate(&xs);
        let sd = (((10.0f64 - 10.5).powi(2) + 1.5f64.powi(2) + 1.5f64.powi(2) + 0.25) / 3.0).sqrt();
        assert!(
            (e.ci95.unwrap() - 3.182_446 * sd / 2.0).abs() < 1e-4,
            "{e:?}"
        );
        assert_eq!(estimate(&[5.0]).ci95, None);
    }

    #[test]
    fn the_upper_bound_is_one_sided() {
        // n = 4, sd 1, mean 10: t(0.95, 3) = 2.353, bound 10 + 2.353 / 2.
        let xs = [10.0 - 1.5f64.sqrt(), 10.0 + 1.5f64.sqrt(), 10.0, 10.0];
        let sd = ((1.5 + 1.5) / 3.0f64).sqrt();
        assert!((sd - 1.0).abs() < 1e-12);
        let u = upper_bound(&xs, 0.95).unwrap();
        assert!((u - (10.0 + 2.353_363 / 2.0)).abs() < 1e-5, "{u}");
        assert_eq!(upper_bound(&[1.0], 0.95), None);
    }
}
