//! Client, gateway and server policies: timeouts, retries, circuit breakers, the async task
//! queue and client classes (priority tiers).
//!
//! These are plain validated descriptions; `serving::client` carries them out.

use super::distribution::Dist;
use super::request::Outcome;
use super::reuse::Reuse;
use crate::sim::{SimDuration, SimRng};
use rand::RngExt;

/// A set of outcomes, e.g. those a client retries or a breaker counts as failures.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct OutcomeSet(u32);

impl OutcomeSet {
    /// The empty set.
    pub const EMPTY: OutcomeSet = OutcomeSet(0);

    /// Whether `o` is in the set.
    pub fn contains(self, o: Outcome) -> bool {
        self.0 & (1 << o.index()) != 0
    }

    /// The set with `o` added.
    pub fn with(self, o: Outcome) -> OutcomeSet {
        OutcomeSet(self.0 | 1 << o.index())
    }

    /// Every outcome in the set, in [`Outcome::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Outcome> {
        Outcome::ALL.into_iter().filter(move |&o| self.contains(o))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// How a client waits for one attempt (figures.md §2.4: `requests`/`httpx` semantics).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientPolicy {
    /// Longest wait for a replica to take the connection (a held request is not connected).
    pub connect_timeout: Option<SimDuration>,
    /// Longest silence on the connection once connected: without streaming, the time to the
    /// whole response (the server sends nothing before); with streaming, the time to the
    /// first token and the longest gap between tokens. `None` waits forever (the
    /// `InferenceClient` default).
    pub read_timeout: Option<SimDuration>,
    /// Longest time for the whole request, retries and backoff included.
    pub deadline: Option<SimDuration>,
    /// Server-sent events: tokens reach the client as they are made.
    pub streaming: bool,
    /// Whether the server stops work on an attempt whose client (or the gateway) hung up. If
    /// not, it finishes it anyway, and that GPU time and those tokens are wasted.
    pub cancel_on_disconnect: bool,
    /// Retries of failed attempts, if any.
    pub retry: Option<RetryPolicy>,
}

impl ClientPolicy {
    /// A client that waits forever and never retries.
    pub fn patient() -> Self {
        ClientPolicy {
            connect_timeout: None,
            read_timeout: None,
            deadline: None,
            streaming: false,
            cancel_on_disconnect: false,
            retry: None,
        }
    }
}

/// How backoff delays are spread.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the exponential delay.
    None,
    /// Uniform between zero and the delay.
    Full,
    /// Half the delay plus a uniform share of the other half.
    Equal,
}

/// Retries of failed attempts with exponential backoff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts at most, the first included (so 1 means no retry).
    pub max_attempts: u32,
    /// Attempt outcomes that are retried.
    pub on: OutcomeSet,
    /// Delay before the first retry; it doubles (`multiplier`) for each later one.
    pub base: SimDuration,
    /// Growth of the delay per retry, in thousandths (2000 doubles it).
    pub multiplier_milli: u32,
    /// Largest delay.
    pub cap: SimDuration,
    /// How the delay is spread.
    pub jitter: Jitter,
    /// Most retries as a share of first attempts over the last [`RetryPolicy::BUDGET_WINDOW`],
    /// in thousandths; `None`: unlimited.
    pub budget_milli: Option<u32>,
}

impl RetryPolicy {
    /// The sliding window over which the retry budget is counted.
    pub const BUDGET_WINDOW: SimDuration = SimDuration::from_secs(60);

    /// The delay before retry number `retry` (1 for the first), before jitter.
    pub fn delay(&self, retry: u32) -> SimDuration {
        let factor = (f64::from(self.multiplier_milli) / 1000.0).powi(retry as i32 - 1);
        let d = self.base.as_secs_f64() * factor;
        SimDuration::from_secs_f64_saturating(d.min(self.cap.as_secs_f64()))
    }

    /// The jittered delay before retry number `retry`.
    pub fn sample_delay(&self, retry: u32, rng: &mut SimRng) -> SimDuration {
        let d = self.delay(retry).as_nanos();
        let ns = match self.jitter {
            Jitter::None => d,
            Jitter::Full => rng.random_range(0..=d),
            Jitter::Equal => d / 2 + rng.random_range(0..=d - d / 2),
        };
        SimDuration::from_nanos(ns)
    }
}

/// A circuit breaker in front of the primary endpoint.
#[derive(Clone, Debug)]
pub struct BreakerSpec {
    /// Failures within `window` that open it.
    pub failures: u32,
    /// The sliding window failures are counted over.
    pub window: SimDuration,
    /// How long it stays open before letting probes through.
    pub cool_down: SimDuration,
    /// Probe attempts let through when half-open; that many successes close it, one failure
    /// opens it again.
    pub probes: u32,
    /// Attempt outcomes counted as failures.
    pub on: OutcomeSet,
    /// Where requests go while it is open, an endpoint of the primary's kind; `None`: they
    /// fail at once.
    pub fallback: Option<Box<super::service::Service>>,
}

/// Order of the async task queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum JobOrder {
    /// First submitted, first served.
    Fifo,
    /// By class priority, then first submitted.
    Priority,
}

/// Async task-queue mode: submitting returns a job id at once; replicas pull jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsyncSpec {
    /// Queue order.
    pub order: JobOrder,
    /// A job not started this long after submission expires.
    pub ttl: Option<SimDuration>,
    /// Clients poll for the result this often; `None`: they are called back.
    pub poll: Option<SimDuration>,
    /// Most jobs queued; more are refused (HTTP 429). `None`: unlimited.
    pub max_queue: Option<u64>,
}

/// How a replica chooses among waiting requests of different classes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Discipline {
    /// First come, first served, whatever the class.
    Fifo,
    /// Lower `priority` first; FIFO within a priority.
    Strict,
    /// Each class gets admissions in proportion to its weight while it has requests waiting.
    Weighted,
}

/// One class of clients (a tier): its share of the traffic and how it behaves.
#[derive(Clone, Debug)]
pub struct ClientClass {
    /// Name in outputs.
    pub name: String,
    /// Share of the workload's requests, 0 to 1 (the shares sum to 1).
    pub share: f64,
    /// Prompt tokens; `None`: the workload's.
    pub prompt_tokens: Option<Dist>,
    /// Output tokens; `None`: the workload's.
    pub output_tokens: Option<Dist>,
    /// How these clients wait and retry.
    pub policy: ClientPolicy,
    /// Scheduling priority, 0 first.
    pub priority: u32,
    /// Weight under weighted fair share.
    pub weight: f64,
    /// How its prompts repeat (prefix caching).
    pub reuse: Reuse,
}

/// Everything between the users and the primary endpoint.
#[derive(Clone, Debug)]
pub struct Policies {
    /// The client classes, at least one.
    pub classes: Vec<ClientClass>,
    /// The gateway's idle timeout (HTTP 504).
    pub gateway_timeout: Option<SimDuration>,
    /// The server sends a keep-alive comment this often on streamed responses, even before the
    /// first token (TGI: 15 s), which resets idle timers.
    pub keep_alive: Option<SimDuration>,
    /// Circuit breaker and fallback.
    pub breaker: Option<BreakerSpec>,
    /// Async task-queue mode instead of synchronous calls.
    pub async_queue: Option<AsyncSpec>,
    /// How replicas order waiting requests of different classes.
    pub discipline: Discipline,
}

impl Policies {
    /// One class with `policy` and the workload's sizes, nothing else.
    pub fn single(policy: ClientPolicy) -> Self {
        Policies {
            classes: vec![ClientClass {
                name: "default".into(),
                share: 1.0,
                prompt_tokens: None,
                output_tokens: None,
                policy,
                priority: 0,
                weight: 1.0,
                reuse: Reuse::default(),
            }],
            gateway_timeout: None,
            keep_alive: None,
            breaker: None,
            async_queue: None,
            discipline: Discipline::Fifo,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::RngStreams;

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            on: OutcomeSet::EMPTY.with(Outcome::Rejected),
            base: SimDuration::from_secs(1),
            multiplier_milli: 2000,
            cap: SimDuration::from_secs(5),
            jitter,
            budget_milli: None,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = policy(Jitter::None);
        let d: Vec<u64> = (1..=5).map(|k| p.delay(k).as_nanos() / 1_000_000).collect();
        assert_eq!(d, [1000, 2000, 4000, 5000, 5000]);
    }

    #[test]
    fn jitter_stays_inside_its_range() {
        let mut rng = RngStreams::new(1).stream("t");
        for (jitter, lo) in [(Jitter::Full, 0.0), (Jitter::Equal, 0.5)] {
            let p = policy(jitter);
            let mut sum = 0.0;
            for _ in 0..10_000 {
                let d = p.sample_delay(3, &mut rng).as_secs_f64();
                assert!((lo * 4.0..=4.0).contains(&d), "{jitter:?} {d}");
                sum += d;
            }
            let mean = sum / 10_000.0;
            let expect = 4.0 * (1.0 + lo) / 2.0;
            assert!((mean - expect).abs() < 0.05, "{jitter:?} mean {mean}");
        }
    }
}
