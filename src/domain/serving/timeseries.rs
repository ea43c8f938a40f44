//! Time-series windows: one row per window, and the alert rule.

use super::super::stats::WindowRow;
use super::pool::{BUSY, LlmEndpoint, Phase, RUNNING, Window};
use crate::sim::SimTime;

impl LlmEndpoint<'_> {
    /// Closes the current window at `now`: a time-series row and the alert rule.
    pub(super) fn close_window(&mut self, now: SimTime) {
        let w = std::mem::take(&mut self.window);
        let mut lat = w.latencies_ns;
        let p99_s = if lat.is_empty() {
            None
        } else {
            lat.sort_unstable();
            // Nearest rank: the smallest latency with at least 99 % of the window at or below it.
            let rank = ((lat.len() as f64 * 0.99).ceil() as usize).clamp(1, lat.len());
            Some(lat[rank - 1] as f64 / 1e9)
        };
        let busy = self.signals[BUSY].at(now);
        let running = self.signals[RUNNING].at(now);
        if now > self.stats.window_start
            && let (Some(p99), Some(t)) =
                (p99_s, self.scenario.policies.classes[0].policy.read_timeout)
            && p99 > 0.8 * t.as_secs_f64()
        {
            self.serving.alert_windows += 1;
        }
        if self.keep_timeseries {
            let count = |p: Phase| {
                (0..self.replicas.len())
                    .filter(|&r| self.replica(r).phase == p)
                    .count() as u32
            };
            let up_time = running - w.running_at_start;
            self.serving.timeseries.push(WindowRow {
                start_s: w.start.as_secs_f64(),
                arrivals: w.arrivals,
                outcomes: w.outcomes,
                queue_depth: self.total_waiting + self.hold_live,
                replicas: [
                    count(Phase::Starting),
                    count(Phase::Ready),
                    count(Phase::Draining),
                ],
                gpu_util: (up_time > 0.0).then(|| (busy - w.busy_at_start) / up_time),
                p99_s,
            });
        }
        self.window = Window {
            start: now,
            busy_at_start: busy,
            running_at_start: running,
            ..Window::default()
        };
    }
}
