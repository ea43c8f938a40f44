//! The endpoint protocol: what the client layer (`client`) asks of any endpoint and what an
//! endpoint tells it back. The M/G/c server pool (`servers`) and the LLM replica pool
//! (`serving`) implement it, and either can stand behind a circuit breaker as the fallback, so
//! every client policy (timeouts, retries, breaker, async queue, classes) works with every
//! endpoint kind.
//!
//! An attempt is handed over with [`Endpoint::submit`] (or [`Endpoint::pull`] for async jobs);
//! the endpoint answers with [`Notice`]s (connected, done: answered, refused or dropped) that the
//! client layer drains after every call; the client hangs up with [`Endpoint::disconnect`].

use super::prompt::Content;
use super::request::{Outcome, RequestId};
use super::stats::RunStats;
use super::stats::ServingStats;
use crate::sim::{SimDuration, SimTime, Simulation};

/// Events of a simulated system: the clients' own, and those of each endpoint (`X`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event<X> {
    /// The next open-loop request arrives.
    Arrival,
    /// A closed-loop user finished thinking and sends its next request.
    UserReady(u32),
    /// The current attempt of a request may reach a client or gateway time limit (stale if the
    /// request has moved on to another attempt).
    AttemptTimer(RequestId, u32),
    /// A request's backoff ends: it is sent again.
    Retry(RequestId),
    /// An async job's client learns the result (at a poll).
    JobSeen(RequestId),
    /// An async job's time to live ends (stale once it started).
    JobExpire(RequestId),
    /// A conversation's user has thought after an answer and sends the next turn.
    Turn(RequestId),
    /// The circuit breaker's cool-down ends (stale if it opened again since).
    BreakerHalfOpen(u32),
    /// An event of endpoint `0` (primary) or `1` (fallback).
    Ep(u8, X),
}

/// What an endpoint tells the clients.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The server side of an attempt ended: answered, refused or dropped.
    Done {
        /// The client's request.
        owner: RequestId,
        /// The attempt at the endpoint.
        attempt: RequestId,
        /// What the server did.
        outcome: Outcome,
        /// When its first token (the first byte of the answer) was made.
        first_token: Option<SimTime>,
    },
    /// An attempt held unconnected (nothing listening) was taken by a server: it is connected.
    Connected {
        /// The client's request.
        owner: RequestId,
        /// The attempt at the endpoint.
        attempt: RequestId,
    },
}

/// One attempt handed to an endpoint.
#[derive(Clone, Debug)]
pub struct Submit {
    /// The client's request.
    pub owner: RequestId,
    /// Prompt tokens (clipped to the model's context by an LLM endpoint; unused by servers).
    pub prompt: u32,
    /// Output tokens (unused by servers).
    pub output: u32,
    /// Waiting lane (priority tier) at a server or replica.
    pub lane: u8,
    /// Whether the request is counted.
    pub measured: bool,
    /// Whether the server stops work when the client hangs up.
    pub cancel: bool,
    /// What the prompt is made of, when parts of it repeat across requests (prefix caching);
    /// `None`: tokens no other request shares.
    pub content: Option<Content>,
    /// The id the answer's tokens go by, should a later prompt send them back (a
    /// conversation's next turn).
    pub answer: u64,
}

/// An endpoint the client layer drives. `Self::Event` is the endpoint's own closed event enum;
/// the system wraps it in [`Event::Ep`] with the endpoint's index.
pub trait Endpoint {
    /// The endpoint's own events.
    type Event: Copy + std::fmt::Debug;

    /// Schedules what runs from time zero (windows, autoscaler checks, idle timers).
    fn start(&mut self, sim: &mut Simulation<Event<Self::Event>>);

    /// Accepts an attempt; what becomes of it is told through notices.
    fn submit(&mut self, sim: &mut Simulation<Event<Self::Event>>, sub: &Submit) -> RequestId;

    /// The server that would take a pulled async job now, if one has room.
    fn pull_target(&self) -> Option<usize>;

    /// Server `target` (from [`Endpoint::pull_target`]) pulls an async job.
    fn pull(
        &mut self,
        sim: &mut Simulation<Event<Self::Event>>,
        target: usize,
        sub: &Submit,
    ) -> RequestId;

    /// Work is waiting for a server: start one if none is ready or on its way.
    fn ensure_coming(&mut self, sim: &mut Simulation<Event<Self::Event>>);

    /// When a server took the attempt's connection, if one has.
    fn connected_at(&self, id: RequestId) -> Option<SimTime>;

    /// Whether a server (not a proxy holding it) has the attempt: only servers send
    /// keep-alives.
    fn taken(&self, id: RequestId) -> bool;

    /// When the attempt's latest token was made, as of `now`, if any was.
    fn last_token(&self, id: RequestId, now: SimTime) -> Option<SimTime>;

    /// The client hung up on an attempt (a timeout): the server cancels its work if the attempt
    /// asked for that, else it goes on, for nobody.
    fn disconnect(&mut self, sim: &mut Simulation<Event<Self::Event>>, id: RequestId);

    /// Counts an attempt outcome the client decided (a timeout) in the endpoint's time series.
    fn note_outcome(&mut self, outcome: Outcome, latency: SimDuration);

    /// Whether notices wait to be taken.
    fn has_notices(&self) -> bool;

    /// Moves the notices for the clients into `into`.
    fn take_notices(&mut self, into: &mut Vec<Notice>);

    /// The clients say whether they are done: no more arrivals, no request unfinished.
    fn set_client_done(&mut self, done: bool);

    /// Whether [`Endpoint::set_client_done`] does anything: when it does not, the clients do
    /// not work out after every event whether they are done.
    const HEEDS_CLIENT_DONE: bool = true;

    /// Work an endpoint put off until the clients heard its notices of this instant (a server
    /// pool takes its next queued attempt only after the clients learnt how the last one
    /// ended, so a closed-loop user's next request is scheduled first on a tie).
    fn settle(&mut self, _sim: &mut Simulation<Event<Self::Event>>) {}

    /// Whether one of the endpoint's events is stale.
    fn is_stale(&self, event: &Self::Event) -> bool;

    /// Handles one of the endpoint's events.
    fn handle(&mut self, sim: &mut Simulation<Event<Self::Event>>, event: Self::Event);

    /// Handles one of the endpoint's events like [`Endpoint::handle`], but may hand back the
    /// last notice it makes instead of queueing it: the clients take it as if it were the last
    /// of the endpoint's queued notices, without moving it through the notice buffers (most
    /// events of a plain server end one attempt and say just that). By default everything is
    /// queued.
    #[inline]
    fn handle_one(
        &mut self,
        sim: &mut Simulation<Event<Self::Event>>,
        event: Self::Event,
    ) -> Option<Notice> {
        self.handle(sim, event);
        None
    }

    /// [`Endpoint::handle_one`] unless the event is stale (then `None`, and nothing is done).
    /// By default [`Endpoint::is_stale`] first; an endpoint may decide both in one look at the
    /// attempt the event is for.
    #[inline]
    fn handle_one_if_fresh(
        &mut self,
        sim: &mut Simulation<Event<Self::Event>>,
        event: Self::Event,
    ) -> Option<Option<Notice>> {
        if self.is_stale(&event) {
            return None;
        }
        Some(self.handle_one(sim, event))
    }

    /// Ends the run at `end`: the endpoint's statistics (request counts are the clients'), and
    /// token-level ones for an LLM endpoint.
    fn finish(self, end: SimTime, events: u64) -> (RunStats, Option<ServingStats>);
}
