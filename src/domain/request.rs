//! Requests: their identity and how they end.

/// How a request ended, from the point of view of the client that sent it.
///
/// Every request that arrives ends in exactly one outcome, or is still in flight when the run
/// stops. The set grows as the model does (unavailable replicas, retries, breakers ...).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The client received a complete response (HTTP 200).
    Ok,
    /// The client gave up waiting (its read timeout fired) before the response was complete.
    ClientTimeout,
    /// The server dropped the request after it waited in the queue longer than the queue
    /// timeout (a router or gateway queue; the client sees a 503 or 504).
    QueueTimeout,
    /// The request arrived to a full queue and was refused at once (HTTP 429 or 503).
    Rejected,
    /// No replica was ready and the request was not held, or was held past the scale-up
    /// timeout (HTTP 503 while a scaled-to-zero endpoint starts).
    Unavailable,
}

impl Outcome {
    /// Every outcome, in the order outputs list them.
    pub const ALL: [Outcome; 5] = [
        Outcome::Ok,
        Outcome::ClientTimeout,
        Outcome::QueueTimeout,
        Outcome::Rejected,
        Outcome::Unavailable,
    ];

    /// Number of outcomes.
    pub const COUNT: usize = Self::ALL.len();

    /// The snake_case name used in output columns.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ClientTimeout => "client_timeout",
            Outcome::QueueTimeout => "queue_timeout",
            Outcome::Rejected => "rejected",
            Outcome::Unavailable => "unavailable",
        }
    }

    /// Position in [`Outcome::ALL`], for counting in arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether a time limit caused this outcome (counted in `timeout_rate`).
    pub fn is_timeout(self) -> bool {
        matches!(self, Outcome::ClientTimeout | Outcome::QueueTimeout)
    }
}

/// Names a request slot in the endpoint and which occupant of that slot it is.
///
/// Slots are reused once a request is done; the generation tells a stale reference (a timer
/// scheduled for an earlier occupant) from a live one, which is how timers are cancelled.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}
