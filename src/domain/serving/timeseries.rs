//! Time-series windows: one row per window, and the alert rule.

use super::super::stats::WindowRow;
use super::pool::{BUSY, LlmEndpoint, Phase, RUNNING, Window};
use crate::sim::SimTime;

impl LlmEndpoint<'_> {
    /// Closes the current window at `now`: a time-series row and the alert rule.
    pub(super) fn close_window(&mut self, now: SimTime) {
        let counts = |p: Phase| self.replicas.iter().filter(|rep| rep.phase == p).count() as u32;
        let replicas = [
            counts(Phase::Starting),
            counts(Phase::Ready),
            counts(Phase::Draining),
        ];
        let sh = &mut self.sh;
        let w = std::mem::take(&mut sh.window);
        let mut lat = w.latencies_ns;
        let p99_s = if lat.is_empty() {
            None
        } else {
            lat.sort_unstable();
            // Nearest rank: the smallest latency with at least 99 % of the window at or below it.
            let rank = ((lat.len() as f64 * 0.99).ceil() as usize).clamp(1, lat.len());
            Some(lat[rank - 1] as f64 / 1e9)
        };
        let busy = sh.signals[BUSY].at(now);
        let running = sh.signals[RUNNING].at(now);
        if now > sh.stats.window_start
            && let (Some(p99), Some(t)) =
                (p99_s, sh.scenario.policies.classes[0].policy.read_timeout)
            && p99 > 0.8 * t.as_secs_f64()
        {
            sh.serving.alert_windows += 1;
        }
        if sh.keep_timeseries {
            let up_time = running - w.running_at_start;
            sh.serving.timeseries.push(WindowRow {
                start_s: w.start.as_secs_f64(),
                arrivals: w.arrivals,
                outcomes: w.outcomes,
                queue_depth: sh.total_waiting + sh.hold_live,
                replicas,
                gpu_util: (up_time > 0.0).then(|| (busy - w.busy_at_start) / up_time),
                p99_s,
                prefix_hit_rate: (sh.svc.prefix_caching && w.prompt_tokens > 0)
                    .then(|| w.hit_tokens as f64 / w.prompt_tokens as f64),
            });
        }
        sh.window = Window {
            start: now,
            busy_at_start: busy,
            running_at_start: running,
            ..Window::default()
        };
    }
}
