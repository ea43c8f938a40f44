//! Requests: their identity and how they end.

/// How a request (or one attempt of it) ended, from the point of view of the client.
///
/// Every request that arrives ends in exactly one outcome, or is still in flight when the run
/// stops. Attempts end in the first seven; the last four exist only for whole requests.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The client received a complete response (HTTP 200).
    Ok,
    /// The client's read timeout or total deadline fired before the response was complete
    /// (`ReadTimeout` in requests or httpx).
    ClientTimeout,
    /// No replica took the connection within the connect timeout (`ConnectTimeout`).
    ConnectTimeout,
    /// The gateway's idle timeout fired first (HTTP 504).
    GatewayTimeout,
    /// The server dropped the request after it waited in the queue longer than the queue
    /// timeout (a router queue; the client sees HTTP 503).
    QueueTimeout,
    /// Refused at once: the server was at its concurrency cap or its queue was full (HTTP 429).
    Rejected,
    /// No replica was ready and the request was not held, or was held past the scale-up
    /// timeout (HTTP 503 while a scaled-to-zero endpoint starts).
    Unavailable,
    /// The circuit breaker was open and the fallback endpoint answered.
    FallbackOk,
    /// The circuit breaker was open and the fallback endpoint failed too.
    FallbackFailed,
    /// The circuit breaker was open and there is no fallback: the client failed at once.
    BreakerRejected,
    /// An async job was not started within its time to live.
    Expired,
}

impl Outcome {
    /// Every outcome, in the order outputs list them.
    pub const ALL: [Outcome; 11] = [
        Outcome::Ok,
        Outcome::ClientTimeout,
        Outcome::ConnectTimeout,
        Outcome::GatewayTimeout,
        Outcome::QueueTimeout,
        Outcome::Rejected,
        Outcome::Unavailable,
        Outcome::FallbackOk,
        Outcome::FallbackFailed,
        Outcome::BreakerRejected,
        Outcome::Expired,
    ];

    /// Number of outcomes.
    pub const COUNT: usize = Self::ALL.len();

    /// The snake_case name used in output columns.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ClientTimeout => "client_timeout",
            Outcome::ConnectTimeout => "connect_timeout",
            Outcome::GatewayTimeout => "gateway_timeout",
            Outcome::QueueTimeout => "queue_timeout",
            Outcome::Rejected => "rejected",
            Outcome::Unavailable => "unavailable",
            Outcome::FallbackOk => "fallback_ok",
            Outcome::FallbackFailed => "fallback_failed",
            Outcome::BreakerRejected => "breaker_rejected",
            Outcome::Expired => "expired",
        }
    }

    /// The outcome named `name` (as in [`Outcome::name`]).
    pub fn from_name(name: &str) -> Option<Outcome> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Position in [`Outcome::ALL`], for counting in arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether a time limit caused this outcome (counted in `timeout_rate`).
    pub fn is_timeout(self) -> bool {
        matches!(
            self,
            Outcome::ClientTimeout
                | Outcome::ConnectTimeout
                | Outcome::GatewayTimeout
                | Outcome::QueueTimeout
        )
    }

    /// Whether the user got an answer.
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::FallbackOk)
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
