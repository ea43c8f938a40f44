//! The simulation core: a clock, a future-event list and a dispatch loop.
//!
//! This module knows nothing about GPUs, requests or endpoints; it imports nothing from the rest
//! of the crate (CI checks that). A domain plugs in by implementing [`Model`] with its own closed
//! event enum.
//!
//! # Ordering guarantees
//! 1. Events are delivered in non-decreasing time order.
//! 2. Events scheduled for the same instant are delivered in the order they were scheduled.
//!
//! Together with seeded [`rng::RngStreams`] this makes a run a pure function of its inputs.
//!
//! # Cancellation
//! Cancellation is lazy: instead of removing an event from the heap (O(n)), the model reports it
//! as stale in [`Model::is_stale`] when it comes up, and the engine drops it without dispatching
//! it. A timeout, for example, carries the identity of the request it guards and is stale once
//! that request has finished.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::EventQueue;
pub use rng::{RngStreams, SimRng};
pub use time::{SimDuration, SimTime};

/// A domain model driven by the engine.
///
/// ```
/// use capsim::sim::{Model, SimDuration, SimTime, Simulation};
///
/// /// Counts ticks; each tick schedules the next one second later, three in all.
/// struct Clock { ticks: u32 }
/// #[derive(Copy, Clone)]
/// enum Tick { Tick }
///
/// impl Model for Clock {
///     type Event = Tick;
///     fn handle(&mut self, sim: &mut Simulation<Tick>, _event: Tick) {
///         self.ticks += 1;
///         if self.ticks < 3 {
///             sim.schedule_in(SimDuration::from_secs(1), Tick::Tick);
///         }
///     }
/// }
///
/// let mut sim = Simulation::new();
/// let mut clock = Clock { ticks: 0 };
/// sim.schedule_at(SimTime::ZERO, Tick::Tick);
/// sim.run(&mut clock, None);
/// assert_eq!(clock.ticks, 3);
/// assert_eq!(sim.now(), SimTime::ZERO + SimDuration::from_secs(2));
/// ```
pub trait Model {
    /// The closed set of events this model schedules.
    type Event;

    /// Whether `event` has been overtaken by what happened since it was scheduled. Stale events
    /// are dropped without being handled. The default says no event is ever stale.
    fn is_stale(&self, _event: &Self::Event) -> bool {
        false
    }

    /// Reacts to `event` at `sim.now()`, possibly scheduling more events.
    fn handle(&mut self, sim: &mut Simulation<Self::Event>, event: Self::Event);

    /// Handles `event` at `sim.now()` unless it is stale, and says whether it did; the engine
    /// calls only this. By default [`Model::is_stale`], then [`Model::handle`]; a model may
    /// decide both in one look at the event. `sim.now()` is the event's time even when it
    /// turns out stale (the engine then sets the clock back).
    #[inline]
    fn handle_if_fresh(&mut self, sim: &mut Simulation<Self::Event>, event: Self::Event) -> bool {
        if self.is_stale(&event) {
            return false;
        }
        self.handle(sim, event);
        true
    }
}

/// Why [`Simulation::run`] returned.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// No event was left to process.
    Drained,
    /// The next event lies after the horizon; the clock now stands at the horizon.
    Horizon,
    /// The model asked to stop ([`Simulation::stop`]); the clock stands at that event and
    /// later events stay pending.
    Stopped,
}

/// The clock and the pending events of one run.
#[derive(Debug)]
pub struct Simulation<E> {
    now: SimTime,
    queue: EventQueue<E>,
    handled: u64,
    skipped: u64,
    stopped: bool,
}

impl<E: Copy> Default for Simulation<E> {
    fn default() -> Self {
        Self::new()
    }
}

/// Events are small plain values (`Copy`): the future-event list moves them as it sifts.
impl<E: Copy> Simulation<E> {
    /// A simulation at time zero with nothing scheduled.
    pub fn new() -> Self {
        Simulation {
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            handled: 0,
            skipped: 0,
            stopped: false,
        }
    }

    /// Asks the run to stop once the event being handled is done, e.g. when the model has
    /// grown past a memory budget. [`Simulation::run`] then returns [`RunEnd::Stopped`].
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether [`Simulation::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The current simulation time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at the absolute time `at`. Scheduling in the past is a logic error in
    /// the model; such an event is delivered at the current time so the clock never goes back.
    pub fn schedule_at(&mut self, at: SimTime, event: E) {
        debug_assert!(
            at >= self.now,
            "event scheduled in the past: {at} < {}",
            self.now
        );
        self.queue.push(at.max(self.now), event);
    }

    /// Schedules `event` after `delay` from now.
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) {
        self.queue.push(self.now + delay, event);
    }

    /// Number of events pending (stale ones included).
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Number of events handled so far.
    pub fn events_handled(&self) -> u64 {
        self.handled
    }

    /// Number of stale events dropped so far.
    pub fn events_skipped(&self) -> u64 {
        self.skipped
    }

    /// Processes events in order until none is left or the next one lies after `horizon`
    /// (events exactly at the horizon are processed). With a horizon, the clock ends at it.
    #[inline]
    pub fn run<M: Model<Event = E>>(&mut self, model: &mut M, horizon: Option<SimTime>) -> RunEnd {
        let limit = horizon.unwrap_or(SimTime::MAX);
        while let Some(time) = self.queue.peek_time() {
            if time > limit {
                self.now = limit;
                return RunEnd::Horizon;
            }
            let Some((time, event)) = self.queue.pop() else {
                break;
            };
            // A stale event does not move the clock: the run ends at the last thing that
            // actually happened, not at a timer nobody needed any more.
            let before = self.now;
            self.now = time;
            self.handled += 1;
            if !model.handle_if_fresh(self, event) {
                self.now = before;
                self.handled -= 1;
                self.skipped += 1;
            }
            if self.stopped {
                return RunEnd::Stopped;
            }
        }
        if let Some(h) = horizon {
            self.now = self.now.max(h);
        }
        RunEnd::Drained
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy model: each `Tick(n)` schedules `Tick(n + 1)` one second later until 5, and records
    /// what it saw. `Cancelled` events are always stale.
    #[derive(Default)]
    struct Ticker {
        seen: Vec<(u64, u32)>,
    }

    #[derive(Copy, Clone)]
    enum Ev {
        Tick(u32),
        Cancelled,
    }

    impl Model for Ticker {
        type Event = Ev;
        fn is_stale(&self, event: &Ev) -> bool {
            matches!(event, Ev::Cancelled)
        }
        fn handle(&mut self, sim: &mut Simulation<Ev>, event: Ev) {
            let Ev::Tick(n) = event else {
                panic!("a stale event was dispatched");
            };
            self.seen.push((sim.now().as_nanos(), n));
            if n < 5 {
                sim.schedule_in(SimDuration::from_secs(1), Ev::Tick(n + 1));
            }
        }
    }

    #[test]
    fn runs_until_drained_and_skips_stale_events() {
        let mut sim = Simulation::new();
        let mut model = Ticker::default();
        sim.schedule_at(SimTime::ZERO, Ev::Tick(0));
        sim.schedule_at(SimTime::from_nanos(3), Ev::Cancelled);
        assert_eq!(sim.run(&mut model, None), RunEnd::Drained);
        assert_eq!(model.seen.len(), 6);
        assert_eq!(model.seen[5], (5_000_000_000, 5));
        assert_eq!(sim.events_handled(), 6);
        assert_eq!(sim.events_skipped(), 1);
    }

    #[test]
    fn a_stale_event_does_not_move_the_clock() {
        let mut sim = Simulation::new();
        let mut model = Ticker::default();
        sim.schedule_at(SimTime::from_nanos(5), Ev::Tick(5));
        sim.schedule_at(SimTime::from_nanos(99), Ev::Cancelled);
        sim.run(&mut model, None);
        assert_eq!(sim.now(), SimTime::from_nanos(5));
    }

    /// Decides staleness in the same look as handling: odd ticks are stale. Records the clock
    /// it saw for every event, stale or not.
    #[derive(Default)]
    struct OneLook {
        seen: Vec<(u64, u32, bool)>,
    }

    impl Model for OneLook {
        type Event = Ev;
        fn handle(&mut self, _sim: &mut Simulation<Ev>, _event: Ev) {
            panic!("the engine calls `handle_if_fresh`");
        }
        fn handle_if_fresh(&mut self, sim: &mut Simulation<Ev>, event: Ev) -> bool {
            let Ev::Tick(n) = event else {
                return false;
            };
            let fresh = n % 2 == 0;
            self.seen.push((sim.now().as_nanos(), n, fresh));
            fresh
        }
    }

    #[test]
    fn a_model_deciding_staleness_in_one_look_sees_the_event_time_and_stale_ones_leave_the_clock() {
        let mut sim = Simulation::new();
        let mut model = OneLook::default();
        for n in 0..4 {
            sim.schedule_at(SimTime::from_nanos(10 * u64::from(n)), Ev::Tick(n));
        }
        sim.run(&mut model, None);
        assert_eq!(
            model.seen,
            [(0, 0, true), (10, 1, false), (20, 2, true), (30, 3, false)]
        );
        // The last event was stale: the clock stays at the last one handled.
        assert_eq!(sim.now(), SimTime::from_nanos(20));
        assert_eq!(sim.events_handled(), 2);
        assert_eq!(sim.events_skipped(), 2);
    }

    #[test]
    fn stops_at_the_horizon_and_keeps_later_events() {
        let mut sim = Simulation::new();
        let mut model = Ticker::default();
        sim.schedule_at(SimTime::ZERO, Ev::Tick(0));
        let horizon = SimTime::from_nanos(2_000_000_000);
        assert_eq!(sim.run(&mut model, Some(horizon)), RunEnd::Horizon);
        // Events at exactly the horizon are processed; the next one stays pending.
        assert_eq!(model.seen.len(), 3);
        assert_eq!(sim.now(), horizon);
        assert_eq!(sim.pending(), 1);
        sim.run(&mut model, None);
        assert_eq!(model.seen.len(), 6);
    }

    /// Stops at its third tick.
    struct Stopper(u32);

    impl Model for Stopper {
        type Event = Ev;
        fn handle(&mut self, sim: &mut Simulation<Ev>, _event: Ev) {
            self.0 += 1;
            if self.0 == 3 {
                sim.stop();
            }
            sim.schedule_in(SimDuration::from_secs(1), Ev::Tick(self.0));
        }
    }

    #[test]
    fn a_model_that_asks_to_stop_ends_the_run_at_that_event() {
        let mut sim = Simulation::new();
        let mut model = Stopper(0);
        sim.schedule_at(SimTime::ZERO, Ev::Tick(0));
        assert_eq!(sim.run(&mut model, None), RunEnd::Stopped);
        assert_eq!(model.0, 3);
        assert_eq!(sim.now(), SimTime::from_nanos(2_000_000_000));
        assert!(sim.is_stopped());
        assert_eq!(sim.pending(), 1);
    }
}
