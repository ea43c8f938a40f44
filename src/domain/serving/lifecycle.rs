//! Replicas: load balancing, cold starts, readiness, idle scale-to-zero, autoscaling on a
//! windowed signal, draining, and per-minute billing.

use super::super::llm_service::{Autoscaler, Balancer, ScaleSignal};
use super::pool::{
    BUSY, Event, LlmEndpoint, LlmEvent, PENDING, Phase, RUNNING, Replica, Shared, State, WAITING,
};
use crate::sim::{SimDuration, SimTime, Simulation};
use rand::RngExt;

impl LlmEndpoint<'_> {
    /// Picks a ready replica for a new request, if there is one.
    pub(super) fn choose_replica(&mut self) -> Option<usize> {
        let reps = &self.replicas;
        let sh = &mut self.sh;
        let n = reps.len();
        let ready = |r: usize| reps[r].phase == Phase::Ready;
        if n == 1 {
            return ready(0).then_some(0);
        }
        match sh.svc.balancer {
            Balancer::RoundRobin => {
                let r = (0..n).map(|k| (sh.next_rr + k) % n).find(|&r| ready(r))?;
                sh.next_rr = (r + 1) % n;
                Some(r)
            }
            Balancer::LeastOutstanding => (0..n)
                .filter(|&r| ready(r))
                .min_by_key(|&r| (reps[r].assigned, r)),
            Balancer::PowerOfTwo => {
                let up: Vec<usize> = (0..n).filter(|&r| ready(r)).collect();
                match up.len() {
                    0 => None,
                    1 => Some(up[0]),
                    k => {
                        let a = sh.balancer_rng.random_range(0..k);
                        let mut b = sh.balancer_rng.random_range(0..k - 1);
                        if b >= a {
                            b += 1;
                        }
                        let (a, b) = (up[a], up[b]);
                        Some(if (reps[b].assigned, b) < (reps[a].assigned, a) {
                            b
                        } else {
                            a
                        })
                    }
                }
            }
        }
    }

    /// Begins a cold start on a stopped replica, if one is left.
    pub(super) fn start_replica(&mut self, sim: &mut Simulation<Event>) {
        let Some(r) = self
            .replicas
            .iter()
            .position(|rep| rep.phase == Phase::Stopped)
        else {
            return;
        };
        let now = sim.now();
        let sh = &mut self.sh;
        let total = match &sh.svc.cold_start {
            Some(c) => c.sample(&mut sh.cold_rng).total(),
            None => SimDuration::ZERO,
        };
        let rep = &mut self.replicas[r];
        rep.phase = Phase::Starting;
        rep.life = rep.life.wrapping_add(1);
        rep.billed_from = now;
        let life = rep.life;
        if now >= sh.stats.window_start {
            sh.serving.cold_starts += 1;
        }
        let running = sh.running + 1;
        sh.set_running(now, running);
        sim.schedule_in(total, sh.ev(LlmEvent::ReplicaReady(r as u32, life)));
    }

    /// Records an autoscaler decision: the time and the replicas it leaves starting or running.
    pub(super) fn log_scaling(&mut self, now: SimTime) {
        if self.sh.serving.scaling_log.len() < 10_000 {
            let up = self
                .replicas
                .iter()
                .filter(|rep| matches!(rep.phase, Phase::Starting | Phase::Ready))
                .count();
            self.sh.serving.scaling_log.push((now, up as u32));
        }
    }

    pub(super) fn on_scale_eval(&mut self, sim: &mut Simulation<Event>, up: bool) {
        let now = sim.now();
        let Some(life) = self.sh.svc.lifecycle.as_ref() else {
            return;
        };
        let Some(a) = life.autoscaler.clone() else {
            return;
        };
        let value = self.sh.signal_value(now, &a, up);
        let target = match a.signal {
            ScaleSignal::Pending(t)
            | ScaleSignal::GpuUtilization(t)
            | ScaleSignal::QueueDepth(t)
            | ScaleSignal::Concurrency(t) => t,
        };
        // The current count: replicas starting (cold), ready or draining. Counting the ones
        // still starting keeps a scale-up from being asked for again while they start.
        let running = self.sh.running;
        let max = self.replicas.len() as u32;
        // Replicas the signal asks for, as a horizontal pod autoscaler computes it, never fewer
        // than one: stopping the last replica is the idle timeout's decision alone (no request
        // for that long), not the autoscaler's after one quiet window while traffic flows.
        let desired = ((f64::from(running.max(1)) * value / target).ceil() as u32)
            .clamp(life.min_replicas.max(1), max);
        // While no replica is ready, every request is held for the ones already starting: a
        // replica started now could take none of them sooner, so scaling up waits until one is
        // ready and the load per serving replica shows.
        let any_ready = self.replicas.iter().any(|rep| rep.phase == Phase::Ready);
        if up {
            if value > target && running < max && any_ready {
                let add = desired
                    .saturating_sub(running)
                    .clamp(1, a.max_step)
                    .min(max - running);
                for _ in 0..add {
                    self.start_replica(sim);
                }
                self.sh.last_scaled = now;
                self.log_scaling(now);
            }
        } else if desired < running && now - self.sh.last_scaled >= a.stabilization {
            let remove = (running - desired).min(a.max_step);
            for _ in 0..remove {
                // Drain the ready replica with the fewest requests; it stops when it is empty.
                let Some(r) = (0..self.replicas.len())
                    .filter(|&r| self.replicas[r].phase == Phase::Ready)
                    .min_by_key(|&r| (self.replicas[r].assigned, std::cmp::Reverse(r)))
                else {
                    break;
                };
                let rep = &mut self.replicas[r];
                if rep.assigned == 0 {
                    self.sh.stop_replica(now, rep);
                } else {
                    rep.phase = Phase::Draining;
                }
            }
            self.sh.last_scaled = now;
            self.log_scaling(now);
        }
        self.sh.schedule_scaling(sim, up);
    }

    /// Whether any replica is ready or starting.
    pub(super) fn any_coming(&self) -> bool {
        self.replicas
            .iter()
            .any(|rep| matches!(rep.phase, Phase::Starting | Phase::Ready))
    }

    pub(super) fn on_replica_ready(&mut self, sim: &mut Simulation<Event>, r: usize) {
        self.replicas[r].phase = Phase::Ready;
        // Held requests go to the replicas now ready, in arrival order.
        while let Some(id) = self.sh.hold.pop_front() {
            if !(self.sh.live(id) && self.sh.attempt(id).state == State::Held) {
                continue;
            }
            self.sh.hold_live -= 1;
            let Some(target) = self.choose_replica() else {
                break;
            };
            self.forward(sim, id, target);
        }
        self.sh.check_idle(sim);
    }

    /// Idle for the whole timeout: stop ready replicas beyond the minimum.
    pub(super) fn on_idle(&mut self, sim: &mut Simulation<Event>) {
        let min = self.sh.svc.lifecycle.as_ref().map_or(0, |l| l.min_replicas);
        let now = sim.now();
        for rep in self.replicas.iter_mut().rev() {
            if self.sh.running <= min {
                break;
            }
            if rep.phase == Phase::Ready && rep.assigned == 0 {
                self.sh.stop_replica(now, rep);
            }
        }
    }
}

impl Shared<'_> {
    /// Replicas starting or running changes to `running` at `now`.
    pub(super) fn set_running(&mut self, now: SimTime, running: u32) {
        let level = f64::from(self.running);
        let since = self.running_since;
        self.serving.replica_seconds += self.area(since, now, level);
        self.running = running;
        self.running_since = now;
        self.signals[RUNNING].set(now, f64::from(running));
        self.serving.replicas_max = self.serving.replicas_max.max(u64::from(running));
    }

    /// Bills replica `rep` from its start to `now`, per started minute inside the window.
    pub(super) fn bill(&mut self, rep: &Replica, now: SimTime) {
        let from = rep.billed_from.max(self.stats.window_start);
        if let (Some(cost), Some((usd, _))) =
            (self.serving.cost_usd.as_mut(), self.svc.price.as_ref())
            && now > from
        {
            *cost += crate::domain::lifecycle::bill_usd(from, now, *usd);
        }
    }

    /// Stops replica `rep` (idle or drained) and bills it.
    pub(super) fn stop_replica(&mut self, now: SimTime, rep: &mut Replica) {
        self.bill(rep, now);
        rep.phase = Phase::Stopped;
        let running = self.running - 1;
        self.set_running(now, running);
    }

    /// Schedules the next window start and evaluation of the scale-up (`up`) or scale-down check.
    pub(super) fn schedule_scaling(&mut self, sim: &mut Simulation<Event>, up: bool) {
        let Some(a) = self
            .svc
            .lifecycle
            .as_ref()
            .and_then(|l| l.autoscaler.as_ref())
        else {
            return;
        };
        // A counted run ends when its last request is answered; evaluations would keep it going.
        if self.client_done && self.in_system == 0 {
            return;
        }
        let interval = if up { a.up_interval } else { a.down_interval };
        let eval = sim.now() + interval;
        let window_start = SimTime::from_nanos(eval.as_nanos() - a.window.as_nanos());
        sim.schedule_at(
            window_start.max(sim.now()),
            self.ev(LlmEvent::ScaleSnapshot(up)),
        );
        sim.schedule_at(eval, self.ev(LlmEvent::ScaleEval(up)));
    }

    pub(super) fn on_scale_snapshot(&mut self, now: SimTime, up: bool) {
        let values = std::array::from_fn(|i| self.signals[i].at(now));
        self.snapshots[usize::from(!up)] = values;
    }

    /// The watched signal averaged over the window that ends now.
    pub(super) fn signal_value(&self, now: SimTime, a: &Autoscaler, up: bool) -> f64 {
        let snap = self.snapshots[usize::from(!up)];
        let avg = |i: usize| (self.signals[i].at(now) - snap[i]) / a.window.as_secs_f64();
        // Replicas still starting count (they are in RUNNING), and a window that began with no
        // replica at all counts as one: dividing by a count near zero would turn a single
        // request into a demand for every replica there may be.
        let running = avg(RUNNING).max(1.0);
        match a.signal {
            ScaleSignal::Pending(_) => avg(PENDING) / running,
            ScaleSignal::GpuUtilization(_) => avg(BUSY) / running,
            ScaleSignal::QueueDepth(_) => avg(WAITING) / running,
            ScaleSignal::Concurrency(_) => (avg(PENDING) - avg(WAITING)).max(0.0) / running,
        }
    }

    /// Whether a `requests = N` run has had all its arrivals and answered them all.
    pub(super) fn counted_run_done(&self) -> bool {
        self.client_done && self.in_system == 0
    }

    /// With nothing in the system, schedules the idle check for the idle timeout after the
    /// last activity.
    pub(super) fn check_idle(&mut self, sim: &mut Simulation<Event>) {
        if self.in_system == 0
            && let Some(t) = self.svc.lifecycle.as_ref().and_then(|l| l.idle_timeout)
        {
            let at = (self.last_activity + t).max(sim.now());
            sim.schedule_at(at, self.ev(LlmEvent::IdleCheck(self.idle_gen)));
        }
    }
}
