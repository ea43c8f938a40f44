//! Client policies over a plain-server (M/G/c) endpoint: the same client layer drives it as an
//! LLM endpoint, so retries, the breaker with its fallback, timeouts, async jobs and classes
//! work there too. The small cases are worked out by hand.

use capsim::domain::Outcome;
use capsim::domain::serving::BreakerState;
use capsim::sim::SimTime;

use crate::support::{parse, real, run, run_rows};

/// One primary server taking 10 s and letting nobody wait (a second request is refused, 429),
/// arrivals at 1 s, 2 s, ..., 24 s; each 429 is retried once after 0.5 s; three 429s within a
/// minute open the breaker for 10 s; the fallback is four servers taking 1 s.
const BREAKER: &str = r#"
name = "breaker over servers"
requests = 24
[workload]
arrival = { kind = "constant", rate = "1/s" }
[endpoint]
servers = 1
service-time = { kind = "deterministic", value = "10s" }
queue-capacity = 0
[client]
retry = { max-attempts = 2, on = ["429"], backoff = "500ms", jitter = "none" }
[breaker]
failures = 3
window = "60s"
cool-down = "10s"
probes = 1
on = ["429"]
[breaker.fallback]
servers = 4
service-time = { kind = "deterministic", value = "1s" }
"#;

fn at(s: f64) -> SimTime {
    SimTime::ZERO + capsim::sim::SimDuration::from_secs_f64_saturating(s)
}

#[test]
fn a_breaker_with_retries_and_a_fallback_over_plain_servers_matches_the_hand_computation() {
    // By hand:
    // - t=1: R1 takes the primary's server until t=11 (ok, latency 10 s).
    // - t=2: R2 is refused (failure 1), retried at 2.5 s and refused again (failure 2): it
    //   ends `rejected` after its two attempts.
    // - t=3: R3 is refused (failure 3): the breaker opens at 3 s until 13 s; R3's retry at
    //   3.5 s goes to the fallback and is answered at 4.5 s (fallback_ok, latency 1.5 s).
    // - t=4..12: R4..R12 go to the fallback (fallback_ok, 1 s each).
    // - t=13: the breaker half-opens (its timer was set before R13's arrival) and R13 is its
    //   one probe: the idle primary serves it until 23 s (ok). R14..R22 meet a half-open
    //   breaker whose probe is out and go to the fallback.
    // - t=23: R13's answer closes the breaker, just before R23 arrives (the answer was
    //   scheduled first); R23 takes the primary until 33 s (ok).
    // - t=24: R24 is refused, retried at 24.5 s, refused again: `rejected`.
    let exp = parse(BREAKER);
    let observe = capsim::domain::Observe {
        timeseries: false,
        requests: true,
    };
    let out = capsim::domain::simulate_observed(&exp.scenario, 1, observe);
    let s = &out.stats;
    assert_eq!(s.arrived, 24);
    assert_eq!(s.outcome(Outcome::Ok), 3);
    assert_eq!(s.outcome(Outcome::Rejected), 2);
    assert_eq!(s.outcome(Outcome::FallbackOk), 19);
    assert_eq!(s.in_flight, 0);
    assert!(s.is_conserved());
    let c = out.clients.expect("client figures for a breaker run");
    let all = &c.classes[0];
    assert_eq!(
        all.attempts, 27,
        "21 requests sent once, R2, R3 and R24 twice"
    );
    assert_eq!(all.retries, 3);
    assert_eq!(all.attempt_outcomes[Outcome::Rejected.index()], 5);
    assert_eq!(all.attempt_outcomes[Outcome::Ok.index()], 22);
    assert_eq!(c.breaker_opens, 1);
    assert_eq!(
        c.breaker_log,
        [
            (at(3.0), BreakerState::Open),
            (at(13.0), BreakerState::HalfOpen),
            (at(23.0), BreakerState::Closed),
        ]
    );
    // Requests in the order they ended, with their outcomes, attempts and latencies.
    let by_arrival = |t: f64| {
        c.requests
            .iter()
            .find(|r| r.arrived_s == t)
            .unwrap_or_else(|| panic!("a request arrived at {t} s"))
    };
    let expect = |t: f64, o: Outcome, attempts: u32, latency: f64| {
        let r = by_arrival(t);
        assert_eq!(
            (r.outcome, r.attempts, r.latency_s),
            (o, attempts, latency),
            "request arriving at {t} s"
        );
    };
    expect(1.0, Outcome::Ok, 1, 10.0);
    expect(2.0, Outcome::Rejected, 2, 0.5);
    expect(3.0, Outcome::FallbackOk, 2, 1.5);
    for t in 4..=12 {
        expect(f64::from(t), Outcome::FallbackOk, 1, 1.0);
    }
    expect(13.0, Outcome::Ok, 1, 10.0);
    for t in 14..=22 {
        expect(f64::from(t), Outcome::FallbackOk, 1, 1.0);
    }
    expect(23.0, Outcome::Ok, 1, 10.0);
    expect(24.0, Outcome::Rejected, 2, 0.5);
    // The run ends with R23's answer.
    assert_eq!(s.window_end, at(33.0));
}

#[test]
fn a_plain_server_experiment_with_retries_a_breaker_and_a_fallback_runs() {
    let m = run(BREAKER, 7);
    assert_eq!(m.arrived, 24);
    assert_eq!((m.ok, m.rejected, m.fallback_ok), (3, 2, 19));
    assert_eq!(m.attempts, Some(27));
    assert_eq!(m.retries, Some(3));
    assert_eq!(m.breaker_opens, Some(1));
}

#[test]
fn a_client_timeout_over_plain_servers_retries_and_wastes_what_it_abandons() {
    // One server taking 3 s, one request at 1 s, a 2 s read timeout retried once after 1 s.
    let src = r#"
name = "timeouts over servers"
requests = 1
[workload]
arrival = { kind = "constant", rate = "1/s" }
[endpoint]
servers = 1
service-time = { kind = "deterministic", value = "3s" }
[client]
read-timeout = "2s"
retry = { max-attempts = 2, on = ["timeout"], backoff = "1s", jitter = "none" }
"#;
    // One request at 1 s: served 1..4 s, abandoned at 3 s (wasted: the whole 3 s, since the
    // server finishes it anyway); the retry at 4 s is served 4..7 s and abandoned at 6 s
    // (another 3 s wasted). Outcome: client_timeout after 2 attempts, latency 5 s.
    let m = run(src, 1);
    assert_eq!((m.arrived, m.client_timeout), (1, 1));
    assert_eq!(m.attempts, Some(2));
    assert_eq!(m.retries, Some(1));
    assert_eq!(real(&m, "wasted_work_s"), 6.0);
    // Told of the hang-up, the server stops at once: 2 s wasted per attempt.
    let cancelled = src.replace(
        "read-timeout = \"2s\"",
        "read-timeout = \"2s\"\ncancel-on-disconnect = true",
    );
    let c = run(&cancelled, 1);
    assert_eq!(c.client_timeout, 1);
    assert_eq!(real(&c, "wasted_work_s"), 4.0);
}

#[test]
fn async_jobs_over_plain_servers_are_pulled_when_a_server_frees_and_expire_in_the_queue() {
    // One server taking 10 s; jobs submitted at 1, 2, 3 and 4 s live 15 s in the queue. Job 1
    // is pulled at once (answered at 11 s); job 2 is pulled when the server frees at 11 s
    // (answered at 21 s, 19 s after submission); jobs 3 and 4 expire at 18 s and 19 s. Jobs 2, 3
    // and 4 all wait at 4 s: the queue holds at most 3.
    let src = r#"
name = "async over servers"
requests = 4
[workload]
arrival = { kind = "constant", rate = "1/s" }
[endpoint]
servers = 1
service-time = { kind = "deterministic", value = "10s" }
[async]
ttl = "15s"
"#;
    let m = run(src, 1);
    assert_eq!((m.arrived, m.ok, m.expired), (4, 2, 2));
    assert_eq!(m.attempts, Some(2));
    assert_eq!(m.async_queue_max, Some(3));
    assert_eq!(real(&m, "latency_max_s"), 19.0);
    assert_eq!(real(&m, "latency_mean_s"), 14.5);
}

#[test]
fn priority_scheduling_over_plain_servers_serves_the_premium_class_first() {
    // Two servers at 95 % load; a quarter of the requests are premium. Under priority
    // scheduling a premium request waits only behind other premium ones, so its mean latency
    // is lower than the free class's; under FIFO both wait alike.
    let src = |scheduling: &str| {
        format!(
            r#"
name = "tiers over servers"
requests = 20000
[workload]
arrival = {{ kind = "poisson", rate = "1.9/s" }}
[endpoint]
servers = 2
service-time = {{ kind = "exponential", mean = "1s" }}
scheduling = "{scheduling}"
[[classes]]
name = "premium"
share = 0.25
priority = 0
[[classes]]
name = "free"
share = 0.75
priority = 1
"#
        )
    };
    let latency = |scheduling: &str| {
        let rows = run_rows(&src(scheduling), 3);
        let of = |class: &str| {
            let row = rows.iter().find(|r| r.class == class).expect("a class row");
            real(&row.metrics, "latency_mean_s")
        };
        (of("premium"), of("free"))
    };
    let (premium, free) = latency("priority");
    // Non-preemptive M/M/2 priority: premium about 1.6 s, free about 13 s; FIFO about 10 s.
    assert!(
        premium < 2.5 && free > 4.0 * premium,
        "premium {premium} s, free {free} s"
    );
    let (p_fifo, f_fifo) = latency("fifo");
    assert!(
        (p_fifo / f_fifo - 1.0).abs() < 0.15,
        "fifo: premium {p_fifo} s, free {f_fifo} s"
    );
}
