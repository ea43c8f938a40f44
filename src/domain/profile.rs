//! Measured step-latency curves: a user's own benchmark in place of the derived model.

/// Step latency by batch size, interpolated linearly (which keeps monotone data monotone) and
/// extended linearly beyond the last point. Prompt processing, if requests have prompts, runs
/// at a measured rate in tokens per second.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    batch: Vec<f64>,
    step_s: Vec<f64>,
    prefill_tokens_per_s: Option<f64>,
}

impl Profile {
    /// A profile from points `(batch, seconds)` sorted by batch (validated by the caller:
    /// at least one point, batches strictly increasing, latencies positive).
    pub fn new(points: Vec<(f64, f64)>, prefill_tokens_per_s: Option<f64>) -> Result<Self, String> {
        if points.is_empty() {
            return Err("the profile has no points".into());
        }
        for w in points.windows(2) {
            if w[1].0 <= w[0].0 {
                return Err(format!(
                    "batch sizes must increase, found {} after {}",
                    w[1].0, w[0].0
                ));
            }
            if w[1].1 < w[0].1 {
                return Err(format!(
                    "step latency must not fall as the batch grows, found {} s at batch {} after {} s at batch {}",
                    w[1].1, w[1].0, w[0].1, w[0].0
                ));
            }
        }
        if let Some(p) = points
            .iter()
            .find(|p| !(p.0 >= 1.0 && p.1 > 0.0 && p.1.is_finite()))
        {
            return Err(format!(
                "each point needs a batch of at least 1 and a positive latency, found ({}, {})",
                p.0, p.1
            ));
        }
        if let Some(r) = prefill_tokens_per_s
            && !(r.is_finite() && r > 0.0)
        {
            return Err(format!("prefill-tokens-per-s must be positive, found {r}"));
        }
        Ok(Profile {
            batch: points.iter().map(|p| p.0).collect(),
            step_s: points.iter().map(|p| p.1).collect(),
            prefill_tokens_per_s,
        })
    }

    /// Step latency for `batch` sequences, seconds.
    pub fn step(&self, batch: f64) -> f64 {
        let n = self.batch.len();
        if n == 1 {
            return self.step_s[0];
        }
        // Below the first point the latency stays at the first point's (never extrapolated down).
        if batch <= self.batch[0] {
            return self.step_s[0];
        }
        let i = match self.batch.iter().position(|&b| b >= batch) {
            Some(i) => i,
            None => n - 1,
        };
        let (b0, b1, t0, t1) = (
            self.batch[i - 1],
            self.batch[i],
            self.step_s[i - 1],
            self.step_s[i],
        );
        (t0 + (t1 - t0) * (batch - b0) / (b1 - b0)).max(t0.min(t1))
    }

    /// Seconds to process `tokens` prompt tokens, if a prefill rate was given.
    pub fn prefill(&self, tokens: f64) -> Option<f64> {
        self.prefill_tokens_per_s.map(|r| tokens / r)
    }

    /// Whether a prefill rate was given.
    pub fn has_prefill_rate(&self) -> bool {
        self.prefill_tokens_per_s.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_between_points_and_extends_past_the_last() {
        let p = Profile::new(vec![(1.0, 0.010), (4.0, 0.016), (8.0, 0.024)], None).unwrap();
        assert_eq!(p.step(1.0), 0.010);
        assert!((p.step(2.0) - 0.012).abs() < 1e-12);
        assert!((p.step(6.0) - 0.020).abs() < 1e-12);
        assert!((p.step(16.0) - 0.040).abs() < 1e-12);
        assert_eq!(p.step(0.5), 0.010);
    }

    #[test]
    fn falling_or_unsorted_curves_are_refused() {
        assert!(Profile::new(vec![(1.0, 0.02), (2.0, 0.01)], None).is_err());
        assert!(Profile::new(vec![(2.0, 0.01), (1.0, 0.02)], None).is_err());
        assert!(Profile::new(vec![], None).is_err());
    }
}
