//! Measured step-latency curves: a user's own benchmark in place of the derived model.

/// Step latency by batch size, and optionally by context length, interpolated linearly (which
/// keeps monotone data monotone). In batch it is flat below the first point and extended
/// linearly past the last; in context likewise. Prompt processing, if requests have prompts,
/// runs at a measured rate in tokens per second.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    batch: Vec<f64>,
    /// Context lengths of the rows of `step_s`; a single row at context 0 when not given.
    context: Vec<f64>,
    /// `step_s[row][col]`: seconds at `context[row]` and `batch[col]`.
    step_s: Vec<Vec<f64>>,
    prefill_tokens_per_s: Option<f64>,
}

fn check_increasing(name: &str, xs: &[f64]) -> Result<(), String> {
    for w in xs.windows(2) {
        if w[1] <= w[0] {
            return Err(format!(
                "{name} must increase, found {} after {}",
                w[1], w[0]
            ));
        }
    }
    Ok(())
}

/// Linear interpolation of `ys` over increasing `xs` at `x`: flat below the first point, the
/// last segment extended above the last one.
fn interp(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    if xs.len() == 1 || x <= xs[0] {
        return ys[0];
    }
    let i = xs
        .iter()
        .position(|&v| v >= x)
        .unwrap_or(xs.len() - 1)
        .max(1);
    ys[i - 1] + (ys[i] - ys[i - 1]) * (x - xs[i - 1]) / (xs[i] - xs[i - 1])
}

impl Profile {
    /// A profile from batch sizes, context lengths (one per row, or empty) and a table of
    /// latencies in seconds (one row per context, one column per batch size).
    pub fn new(
        batch: Vec<f64>,
        context: Vec<f64>,
        step_s: Vec<Vec<f64>>,
        prefill_tokens_per_s: Option<f64>,
    ) -> Result<Self, String> {
        if batch.is_empty() {
            return Err("the profile has no points".into());
        }
        check_increasing("batch sizes", &batch)?;
        check_increasing("context lengths", &context)?;
        let context = if context.is_empty() {
            vec![0.0]
        } else {
            context
        };
        if step_s.len() != context.len() || step_s.iter().any(|r| r.len() != batch.len()) {
            return Err(format!(
                "the latency table must have {} row(s) of {} value(s), one per context length and batch size",
                context.len(),
                batch.len()
            ));
        }
        if batch[0] < 1.0 || context[0] < 0.0 {
            return Err("batch sizes start at 1 and context lengths at 0".into());
        }
        for (r, row) in step_s.iter().enumerate() {
            if let Some(bad) = row.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
                return Err(format!("latencies must be positive, found {bad}"));
            }
            for c in 1..row.len() {
                if row[c] < row[c - 1] {
                    return Err(format!(
                        "step latency must not fall as the batch grows, found {} s at batch {} after {} s at batch {}",
                        row[c],
                        batch[c],
                        row[c - 1],
                        batch[c - 1]
                    ));
                }
            }
            if r > 0 {
                for c in 0..row.len() {
                    if row[c] < step_s[r - 1][c] {
                        return Err(format!(
                            "step latency must not fall as the context grows, found {} s at context {} after {} s at context {}",
                            row[c],
                            context[r],
                            step_s[r - 1][c],
                            context[r - 1]
                        ));
                    }
                }
            }
        }
        if let Some(r) = prefill_tokens_per_s
            && !(r.is_finite() && r > 0.0)
        {
            return Err(format!("prefill-tokens-per-s must be positive, found {r}"));
        }
        Ok(Profile {
            batch,
            context,
            step_s,
            prefill_tokens_per_s,
        })
    }

    /// Step latency at each context row for `batch` sequences.
    fn rows_at(&self, batch: f64) -> Vec<f64> {
        self.step_s
            .iter()
            .map(|row| interp(&self.batch, row, batch))
            .collect()
    }

    /// Step latency for `batch` sequences at mean context `context`, seconds.
    pub fn step(&self, batch: f64, context: f64) -> f64 {
        interp(&self.context, &self.rows_at(batch), context)
    }

    /// For `batch` sequences whose contexts sum to `ctx_sum`: `(α, β, steps)` such that a step
    /// takes `α + β·Σcontext` for the next `steps` steps (until the mean context, which grows by
    /// one per step, reaches the next row of the table).
    pub fn decode_line(&self, batch: u64, ctx_sum: u64) -> (f64, f64, u64) {
        let b = batch.max(1) as f64;
        let mean = ctx_sum as f64 / b;
        let ys = self.rows_at(b);
        let cs = &self.context;
        if cs.len() == 1 {
            return (ys[0], 0.0, u64::MAX);
        }
        if mean < cs[0] {
            return (ys[0], 0.0, (cs[0] - mean).ceil().max(1.0) as u64);
        }
        let i = cs
            .iter()
            .position(|&c| c > mean)
            .unwrap_or(cs.len())
            .clamp(1, cs.len() - 1);
        let slope = (ys[i] - ys[i - 1]) / (cs[i] - cs[i - 1]);
        let alpha = ys[i - 1] - slope * cs[i - 1];
        let steps = if mean >= cs[cs.len() - 1] {
            u64::MAX
        } else {
            (cs[i] - mean).ceil().max(1.0) as u64
        };
        (alpha, slope / b, steps)
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

    fn by_batch() -> Profile {
        Profile::new(
            vec![1.0, 4.0, 8.0],
            vec![],
            vec![vec![0.010, 0.016, 0.024]],
            None,
        )
        .unwrap()
    }

    #[test]
    fn interpolates_between_batch_sizes_and_extends_past_the_last() {
        let p = by_batch();
        assert_eq!(p.step(1.0, 0.0), 0.010);
        assert!((p.step(2.0, 0.0) - 0.012).abs() < 1e-12);
        assert!((p.step(6.0, 0.0) - 0.020).abs() < 1e-12);
        assert!((p.step(16.0, 0.0) - 0.040).abs() < 1e-12);
        assert_eq!(p.step(0.5, 0.0), 0.010);
        assert_eq!(p.decode_line(4, 1000), (0.016, 0.0, u64::MAX));
    }

    #[test]
    fn context_rows_make_the_step_linear_in_total_context_within_a_row() {
        // At batch 2: 20 ms at context 100, 40 ms at context 1100.
        let p = Profile::new(
            vec![2.0],
            vec![100.0, 1100.0],
            vec![vec![0.020], vec![0.040]],
            None,
        )
        .unwrap();
        let (a, b, steps) = p.decode_line(2, 2 * 600);
        assert!((a + b * 1200.0 - 0.030).abs() < 1e-12);
        assert_eq!(steps, 500);
        // Below the first row: flat until the mean context reaches it.
        assert_eq!(p.decode_line(2, 2 * 40), (0.020, 0.0, 60));
        // Past the last row: the last slope, for ever.
        let (a, b, steps) = p.decode_line(2, 2 * 2100);
        assert!((a + b * 4200.0 - 0.060).abs() < 1e-12);
        assert_eq!(steps, u64::MAX);
    }

    #[test]
    fn falling_or_unsorted_curves_are_refused() {
        assert!(Profile::new(vec![1.0, 2.0], vec![], vec![vec![0.02, 0.01]], None).is_err());
        assert!(Profile::new(vec![2.0, 1.0], vec![], vec![vec![0.01, 0.02]], None).is_err());
        assert!(Profile::new(vec![], vec![], vec![], None).is_err());
        assert!(
            Profile::new(
                vec![1.0],
                vec![10.0, 20.0],
                vec![vec![0.02], vec![0.01]],
                None
            )
            .is_err()
        );
        assert!(Profile::new(vec![1.0], vec![10.0, 20.0], vec![vec![0.02]], None).is_err());
    }
}
