//! Client, gateway and server policies: timeouts with their real semantics, admission, retries,
//! the circuit breaker and its fallback, the async task queue and priority tiers.

use capsim::domain::serving::BreakerState;
use capsim::report::Metrics;

use crate::support::{real, run, run_rows, serve_clients};

/// Llama-2-7B int8 on one T4 (about 26 tokens/s alone), 200-token prompts, `output` tokens.
fn t4(head: &str, workload: &str, output: u32, tail: &str) -> String {
    format!(
        r#"
name = "policies"
{head}
[workload]
{workload}
prompt-tokens = {{ kind = "deterministic", value = 200 }}
output-tokens = {{ kind = "deterministic", value = {output} }}
[endpoint]
gpu = "t4"
model = "llama-2-7b"
quantization = "int8"
cold-start = {{ jitter = 0 }}
{tail}
"#
    )
}

const ONE: &str = "arrival = { kind = \"constant\", rate = \"1/s\" }";

/// A scaled-to-zero T4 that answers 503 during its 226 s cold start.
const COLD: &str = "[endpoint.scaling]\nmin-replicas = 0\ninitial-replicas = 0\nmax-replicas = 1\n";

fn secs(m: &Metrics, name: &str) -> f64 {
    real(m, name)
}

#[test]
fn without_retries_attempts_equal_requests() {
    // Overloaded (5/s of 200-token answers) with a 10 s read timeout and a cap of 24.
    let src = t4(
        "requests = 600",
        "arrival = { kind = \"poisson\", rate = \"5/s\" }",
        200,
        "max-concurrent-requests = 24\n[client]\nread-timeout = \"10s\"",
    );
    let m = run(&src, 1);
    assert!(m.client_timeout > 0 && m.rejected > 0, "{m:?}");
    assert_eq!(m.attempts, Some(m.arrived));
    assert_eq!(m.retries, Some(0));
    assert_eq!(real(&m, "attempts_per_request"), 1.0);
    // The same run with retries sends more attempts than requests.
    let retried = src.replace(
        "read-timeout = \"10s\"",
        "read-timeout = \"10s\"\nretry = { max-attempts = 3, on = [\"429\"], backoff = \"1s\" }",
    );
    let r = run(&retried, 1);
    assert!(r.attempts.unwrap() > r.arrived, "{r:?}");
    assert_eq!(r.attempts.unwrap(), r.arrived + r.retries.unwrap());
}

#[test]
fn wait_prob_is_the_share_of_attempts_that_queued_so_retries_keep_it_within_one() {
    // Overloaded with 3 attempts per request on a 10 s read timeout: most attempts queue, and
    // a request can queue once per attempt, so per request the share would pass 1.
    let src = t4(
        "requests = 600",
        "arrival = { kind = \"poisson\", rate = \"5/s\" }",
        200,
        "[client]\nread-timeout = \"10s\"\nretry = { max-attempts = 3, on = [\"timeout\"], backoff = \"1s\" }",
    );
    let exp = crate::support::parse(&src);
    let out = capsim::domain::simulate(&exp.scenario, 1);
    let m = capsim::runner::metrics(&out);
    let attempts = m.attempts.unwrap();
    let queued = out.stats.queued;
    assert!(
        queued > m.arrived,
        "{queued} queued attempts, {} requests",
        m.arrived
    );
    assert_eq!(m.wait_prob, Some(queued as f64 / attempts as f64));
    assert!(m.wait_prob.unwrap() <= 1.0);
}

#[test]
fn retry_times_follow_the_backoff_schedule() {
    // One request at t = 1 s to an endpoint cold for 226.03 s, retried on 503 with delays
    // 1, 2, 4, ... s: attempts at 1, 2, 4, 8, ..., 128, 256 s. The one at 256 s is the first
    // after the replica is ready, so the request is answered 255 s + one service time late.
    let warm = run(&t4("requests = 1", ONE, 20, ""), 1);
    let service = secs(&warm, "latency_max_s");
    let retry = |r: &str| {
        t4(
            "requests = 1",
            ONE,
            20,
            &format!(
                "{COLD}[client.retry]\nmax-attempts = 20\non = [\"503\"]\nbackoff = \"1s\"\njitter = \"none\"\n{r}"
            ),
        )
    };
    let m = run(&retry("cap = \"1000s\""), 1);
    assert_eq!((m.ok, m.attempts, m.retries), (1, Some(9), Some(8)));
    let latency = secs(&m, "latency_max_s");
    assert!(
        (latency - (255.0 + service)).abs() < 1e-6,
        "{latency} vs {service}"
    );
    // With a 50 s cap the delays are 1, 2, 4, 8, 16, 32, 50, 50, ...: attempts at 1, 2, 4, 8,
    // 16, 32, 64, 114, 164, 214 and 264 s.
    let capped = run(&retry("cap = \"50s\""), 1);
    assert_eq!(capped.attempts, Some(11));
    let latency = secs(&capped, "latency_max_s");
    assert!((latency - (263.0 + service)).abs() < 1e-6, "{latency}");
    // At most 5 attempts: the last at 16 s, and the request ends 503.
    let few = run(
        &retry("").replace("max-attempts = 20", "max-attempts = 5"),
        1,
    );
    // The default cap is 60 s: attempts at 1, 2, 4, ..., 32, 64, 124, 184 and 244 s.
    let default_cap = run(&retry(""), 1);
    assert_eq!(default_cap.attempts, Some(10));
    let latency = secs(&default_cap, "latency_max_s");
    assert!((latency - (243.0 + service)).abs() < 1e-6, "{latency}");
    assert_eq!((few.unavailable, few.attempts), (1, Some(5)));
}

#[test]
fn a_retry_budget_bounds_the_share_of_retries() {
    let src = t4(
        "duration = \"20m\"",
        "arrival = { kind = \"poisson\", rate = \"2/s\" }",
        100,
        "max-concurrent-requests = 8\n[client]\nretry = { max-attempts = 5, on = [\"429\"], backoff = \"100ms\", budget = 0.1 }",
    );
    let m = run(&src, 2);
    let (retries, attempts) = (m.retries.unwrap() as f64, m.attempts.unwrap() as f64);
    let firsts = attempts - retries;
    assert!(m.retries_refused.unwrap() > 0, "{m:?}");
    // Within any minute retries are at most 10 % of first attempts (+1 at a window edge).
    assert!(
        retries <= 0.1 * firsts * 1.02 + 1.0,
        "{retries} retries, {firsts} firsts"
    );
    let unbounded = run(&src.replace(", budget = 0.1", ""), 2);
    assert!(unbounded.retries.unwrap() as f64 > 2.0 * retries);
}

#[test]
fn a_breaker_opens_after_exactly_n_failures_in_the_window_and_half_opens_after_the_cool_down() {
    // Requests every second from t = 1 s, each answered 503 while the replica starts (226 s).
    let src = t4(
        "duration = \"300s\"",
        ONE,
        20,
        &format!(
            "{COLD}[breaker]\nfailures = 5\nwindow = \"30s\"\ncool-down = \"10s\"\non = [\"503\"]"
        ),
    );
    let (_, _, out) = serve_clients(&src, 1);
    let log: Vec<(f64, BreakerState)> = out
        .breaker_log
        .iter()
        .map(|&(t, s)| (t.as_secs_f64(), s))
        .collect();
    // Five failures at 1..=5 s open it at 5 s, not at the fourth.
    assert_eq!(log[0], (5.0, BreakerState::Open));
    // After the 10 s cool-down one probe goes through at 15 s, fails, and opens it again.
    assert_eq!(log[1], (15.0, BreakerState::HalfOpen));
    assert_eq!(log[2], (15.0, BreakerState::Open));
    // Probes at 15, 25, ..., 225 s fail; the one at 235 s (replica ready at 227 s) closes it.
    let closed = log
        .iter()
        .find(|(_, s)| *s == BreakerState::Closed)
        .unwrap();
    assert!(closed.0 > 235.0 && closed.0 < 240.0, "{log:?}");
    assert_eq!(out.breaker_opens, 1 + 22);
    let m = &out.classes[0];
    let unavailable = m.run.outcomes[capsim::domain::Outcome::Unavailable.index()];
    assert_eq!(unavailable, 5 + 22);

    // Failures 10 s apart never number 5 within 30 s: it stays closed.
    let sparse = src.replace("rate = \"1/s\"", "rate = \"0.1/s\"");
    let (_, _, out) = serve_clients(&sparse, 1);
    assert_eq!(out.breaker_opens, 0, "{:?}", out.breaker_log);
}

#[test]
fn an_open_breaker_sends_requests_to_the_fallback_endpoint() {
    let fallback =
        "[breaker.fallback]\ngpu = \"t4\"\nmodel = \"llama-2-7b\"\nquantization = \"int4\"\n";
    let src = t4(
        "duration = \"300s\"",
        ONE,
        20,
        &format!("{COLD}[breaker]\nfailures = 5\ncool-down = \"10s\"\non = [\"503\"]\n{fallback}"),
    );
    let m = run(&src, 1);
    // The first five fail at the primary; while it is open the fallback answers.
    assert_eq!(m.breaker_rejected, 0);
    assert!(m.fallback_ok > 150, "{m:?}");
    assert_eq!(m.fallback_failed, 0);
    assert_eq!(m.unavailable, 5 + 22);
    assert_eq!(
        m.arrived,
        m.ok + m.fallback_ok + m.unavailable + m.unfinished
    );
    // Both endpoints are billed: the fallback runs all along.
    let alone = run(&t4("duration = \"300s\"", ONE, 20, COLD), 1);
    assert!(m.gpu_hours.unwrap() > alone.gpu_hours.unwrap());
}

/// One request with a 2,000-token answer (about 77 s on the T4) and a short TTFT.
fn long_answer(client: &str) -> String {
    t4("requests = 1", ONE, 2000, client)
}

#[test]
fn streaming_survives_a_read_timeout_that_kills_the_same_non_streaming_request() {
    let plain = run(&long_answer("[client]\nread-timeout = \"30s\""), 1);
    assert_eq!((plain.ok, plain.client_timeout), (0, 1));
    let streamed = run(
        &long_answer("[client]\nread-timeout = \"30s\"\nstreaming = true"),
        1,
    );
    assert_eq!((streamed.ok, streamed.client_timeout), (1, 0));
    assert!(secs(&streamed, "latency_max_s") > 60.0);
    // A total deadline still bounds the streamed answer.
    let deadline = run(
        &long_answer("[client]\nread-timeout = \"30s\"\nstreaming = true\ndeadline = \"60s\""),
        1,
    );
    assert_eq!((deadline.ok, deadline.client_timeout), (0, 1));
}

#[test]
fn a_gateway_idle_timeout_ends_non_streamed_answers_but_not_streamed_ones() {
    let plain = run(&long_answer("[gateway]\ntimeout = \"60s\""), 1);
    assert_eq!((plain.ok, plain.gateway_timeout), (0, 1));
    let streamed = run(
        &long_answer("[gateway]\ntimeout = \"60s\"\n[client]\nstreaming = true"),
        1,
    );
    assert_eq!((streamed.ok, streamed.gateway_timeout), (1, 0));
    // The server kept generating for nobody: those tokens are wasted.
    assert_eq!(plain.wasted_tokens, Some(2000));
    let cancelled = run(
        &long_answer("[gateway]\ntimeout = \"60s\"\n[client]\ncancel-on-disconnect = true"),
        1,
    );
    let wasted = cancelled.wasted_tokens.unwrap();
    assert!(
        wasted > 1000 && wasted < 2000,
        "cancelled after 60 s: {wasted}"
    );
}

#[test]
fn keep_alives_reset_the_idle_timeout_before_the_first_token() {
    // A static batcher waits 60 s for a fuller batch: no token for 60 s.
    let engine = "engine = { kind = \"static\", max-batch = 8, max-wait = \"60s\" }";
    let src = |client: &str, keep: &str| {
        t4(
            "requests = 1",
            ONE,
            20,
            &format!("{engine}\n{keep}\n[client]\n{client}"),
        )
    };
    let idle = run(&src("read-timeout = \"30s\"\nstreaming = true", ""), 1);
    assert_eq!(idle.client_timeout, 1);
    let kept = run(
        &src(
            "read-timeout = \"30s\"\nstreaming = true",
            "keep-alive = \"15s\"",
        ),
        1,
    );
    assert_eq!(kept.ok, 1);
}

#[test]
fn a_connect_timeout_fails_requests_no_replica_takes() {
    // A bare server scaled to zero: nothing listens until the replica is ready.
    let hold = "[endpoint.scaling]\nmin-replicas = 0\ninitial-replicas = 0\nmax-replicas = 1\nwhen-unavailable = \"queue\"\ncold-connections = \"unanswered\"\n";
    let src = t4(
        "requests = 300",
        ONE,
        20,
        &format!("{hold}[client]\nconnect-timeout = \"10s\""),
    );
    let m = run(&src, 1);
    // Held requests that arrive more than 10 s before the replica is ready fail.
    let ready = 1.0 + 226.03;
    let expected = (1..=300).filter(|&k| f64::from(k) + 10.0 < ready).count() as u64;
    assert_eq!(m.connect_timeout, expected, "{m:?}");
    assert_eq!(m.ok + m.connect_timeout, 300);
    assert_eq!(m.unavailable, 0);
}

/// The one record of a `requests = 1` run of `src`.
fn only_request(src: &str) -> capsim::domain::serving::RequestRecord {
    let exp = capsim::experiment::parse(src, std::path::Path::new("one.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{src}"));
    let capsim::domain::Service::Llm(svc) = &exp.scenario.service else {
        panic!("not an LLM endpoint")
    };
    let observe = capsim::domain::Observe {
        timeseries: false,
        requests: true,
    };
    let (_, _, out) = capsim::domain::run::simulate_llm_observed(&exp.scenario, svc, 1, observe);
    assert_eq!(out.requests.len(), 1, "{:?}", out.requests);
    out.requests[0].clone()
}

#[test]
fn a_read_timeout_runs_from_arrival_while_a_proxy_holds_the_request_for_a_cold_endpoint() {
    // One request at t = 1 s to a scaled-to-zero T4 whose cold start takes 226 s. The proxy in
    // front (the default) accepts the connection at once and holds the request, so the
    // client's 60 s read timeout runs from its arrival and fires at exactly t = 61 s.
    let cold = "[endpoint.scaling]\nmin-replicas = 0\ninitial-replicas = 0\nmax-replicas = 1\n";
    let src = |scaling: &str, client: &str| {
        t4(
            "requests = 1",
            ONE,
            20,
            &format!("{cold}{scaling}\n[client]\nread-timeout = \"60s\"\n{client}"),
        )
    };
    let held = "when-unavailable = \"hold\"\nscale-up-timeout = \"600s\"";
    let r = only_request(&src(held, ""));
    assert_eq!(r.outcome, capsim::domain::Outcome::ClientTimeout, "{r:?}");
    assert_eq!((r.arrived_s, r.latency_s, r.attempts), (1.0, 60.0, 1));
    // The same with "queue" (no scale-up timeout), and streamed with keep-alives: the proxy
    // sends none while it holds the request, so nothing resets the read timeout.
    let queued = "when-unavailable = \"queue\"";
    let r = only_request(&src(queued, ""));
    assert_eq!(
        (r.outcome, r.latency_s),
        (capsim::domain::Outcome::ClientTimeout, 60.0)
    );
    let streamed = src(queued, "streaming = true").replace(
        "cold-start = { jitter = 0 }",
        "cold-start = { jitter = 0 }\nkeep-alive = \"15s\"",
    );
    let r = only_request(&streamed);
    assert_eq!(
        (r.outcome, r.latency_s),
        (capsim::domain::Outcome::ClientTimeout, 60.0)
    );
    // A bare server with nothing listening: the request is not connected until the replica is
    // ready, so the read timeout only starts then and the answer comes after the cold start.
    let r = only_request(&src(
        &format!("{queued}\ncold-connections = \"unanswered\""),
        "",
    ));
    assert_eq!(r.outcome, capsim::domain::Outcome::Ok, "{r:?}");
    assert!(r.latency_s > 226.03 && r.latency_s < 230.0, "{r:?}");
}

#[test]
fn a_connect_timeout_behind_a_proxy_that_accepts_connections_is_refused_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let src = t4(
        "requests = 1",
        ONE,
        20,
        "[endpoint.scaling]\nmin-replicas = 0\nwhen-unavailable = \"queue\"\n[client]\nconnect-timeout = \"10s\"",
    );
    let path = crate::support::write(dir.path(), "proxy.toml", &src);
    let out = crate::support::capsim()
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "`client.connect-timeout`: never fires: every connection is accepted at once"
        ),
        "{stderr}"
    );
}

#[test]
fn cancelling_on_disconnect_saves_gpu_work() {
    let src = |cancel: bool| {
        t4(
            "duration = \"20m\"",
            "arrival = { kind = \"poisson\", rate = \"2/s\" }",
            200,
            &format!("[client]\nread-timeout = \"15s\"\ncancel-on-disconnect = {cancel}"),
        )
    };
    let kept = run(&src(false), 3);
    let cancelled = run(&src(true), 3);
    // Overloaded (about 1.7/s of capacity): without cancellation the GPU serves clients that
    // have gone, and hardly anyone gets an answer in time.
    assert!(kept.client_timeout > 1000, "{kept:?}");
    assert!(
        kept.wasted_tokens.unwrap() as f64 > 1.5 * cancelled.wasted_tokens.unwrap() as f64,
        "{:?} vs {:?}",
        kept.wasted_tokens,
        cancelled.wasted_tokens
    );
    assert!(
        // It also answers more: 1,657 against 1,164 with the current step model. The margin
        // depends on how far past capacity the load is (10x with the 14 GB T4 of earlier
        // versions, whose KV cache was 30 % smaller), so only the direction is asserted.
        cancelled.ok > kept.ok,
        "{} vs {}",
        cancelled.ok,
        kept.ok
    );
}

/// Premium (20 %) and free (80 %) clients on an overloaded T4.
fn tiers(scheduling: &str) -> String {
    t4(
        "duration = \"30m\"\nwarm-up = \"5m\"",
        "arrival = { kind = \"poisson\", rate = \"3.5/s\" }",
        150,
        &format!(
            "scheduling = \"{scheduling}\"\n[client]\nread-timeout = \"60s\"\ncancel-on-disconnect = true\n\
             [[classes]]\nname = \"premium\"\nshare = 0.2\npriority = 0\nweight = 4\n\
             [[classes]]\nname = \"free\"\nshare = 0.8\npriority = 1\nweight = 1\n"
        ),
    )
}

fn class<'a>(rows: &'a [capsim::report::RunSummary], name: &str) -> &'a Metrics {
    &rows.iter().find(|r| r.class == name).unwrap().metrics
}

#[test]
fn under_overload_strict_priority_keeps_premium_latency_below_free() {
    let rows = run_rows(&tiers("priority"), 1);
    assert_eq!(rows.len(), 3);
    let (all, premium, free) = (
        class(&rows, "all"),
        class(&rows, "premium"),
        class(&rows, "free"),
    );
    assert_eq!(all.arrived, premium.arrived + free.arrived);
    assert_eq!(all.ok, premium.ok + free.ok);
    let share = premium.arrived as f64 / all.arrived as f64;
    assert!((share - 0.2).abs() < 0.03, "premium share {share}");
    assert!(free.client_timeout > 0, "{free:?}");
    assert!(
        secs(premium, "latency_p99_s") <= secs(free, "latency_p99_s"),
        "premium {} free {}",
        secs(premium, "latency_p99_s"),
        secs(free, "latency_p99_s")
    );
    assert!(premium.timeout_rate.unwrap() < 0.5 * free.timeout_rate.unwrap());
    // Without priority both tiers wait in one FIFO queue and fare alike.
    let fifo = run_rows(&tiers("fifo"), 1);
    let (p, f) = (class(&fifo, "premium"), class(&fifo, "free"));
    let ratio = p.timeout_rate.unwrap() / f.timeout_rate.unwrap();
    assert!((0.7..1.4).contains(&ratio), "fifo ratio {ratio}");
    // Weighted fair share lands in between.
    let fair = run_rows(&tiers("fair"), 1);
    let (p, f) = (class(&fair, "premium"), class(&fair, "free"));
    assert!(p.timeout_rate.unwrap() < f.timeout_rate.unwrap());
}

/// A burst: 6 requests/s for 2 minutes against about 2/s of capacity, then a trickle.
fn burst(tail: &str) -> String {
    t4(
        "requests = 800",
        "arrival = { kind = \"schedule\", rates = [[\"0s\", \"6/s\"], [\"120s\", \"0.2/s\"]] }",
        150,
        tail,
    )
}

#[test]
fn async_jobs_see_no_client_timeouts_where_synchronous_calls_do() {
    let sync = run(&burst("[client]\nread-timeout = \"60s\""), 1);
    assert!(sync.client_timeout > 50, "{sync:?}");
    let jobs = run(&burst("[async]\npoll = \"5s\""), 1);
    assert_eq!(jobs.client_timeout, 0);
    assert_eq!(jobs.ok, 800);
    assert!(jobs.async_queue_max.unwrap() > 50, "{jobs:?}");
    // Completion is seen at a poll: at least one poll per job, and latencies on the 5 s grid.
    assert!(jobs.polls.unwrap() >= 800);
    let max = secs(&jobs, "latency_max_s");
    assert!((max / 5.0 - (max / 5.0).round()).abs() < 1e-9, "max {max}");
    // Callbacks instead: no polls, and answers a little sooner.
    let called = run(&burst("[async]"), 1);
    assert_eq!(called.polls, Some(0));
    assert!(secs(&called, "latency_mean_s") < secs(&jobs, "latency_mean_s"));
    // A time to live expires jobs that wait too long.
    let ttl = run(&burst("[async]\nttl = \"60s\""), 1);
    assert!(ttl.expired > 0 && ttl.ok + ttl.expired == 800, "{ttl:?}");
}

#[test]
fn requests_and_attempts_are_both_conserved_with_every_policy_on() {
    let src = t4(
        "duration = \"10m\"",
        "arrival = { kind = \"poisson\", rate = \"6/s\" }",
        120,
        "max-concurrent-requests = 32\nqueue-timeout = \"40s\"\n\
         [gateway]\ntimeout = \"60s\"\n\
         [client]\nread-timeout = \"30s\"\nstreaming = true\ncancel-on-disconnect = true\n\
         retry = { max-attempts = 3, on = [\"429\", \"503\", \"504\", \"timeout\"], backoff = \"2s\", budget = 0.3 }\n\
         [breaker]\nfailures = 20\nwindow = \"10s\"\ncool-down = \"20s\"\n\
         [breaker.fallback]\ngpu = \"t4\"\nmodel = \"llama-2-7b\"\nquantization = \"int4\"\n",
    );
    for seed in 1..=3 {
        let (_, _, out) = serve_clients(&src, seed);
        let c = &out.classes[0];
        assert!(c.run.is_conserved(), "requests: {:?}", c.run.outcomes);
        assert!(c.attempts_conserved(), "attempts: {:?}", c.attempt_outcomes);
        assert!(c.retries > 0);
        assert!(out.breaker_opens > 0);
    }
}

mod conservation {
    use proptest::prelude::*;

    prop_compose! {
        /// A small LLM endpoint (a 0.5B model on a T4, fast to simulate) with a random mix of
        /// policies, always a valid file.
        fn experiment()(
            tgi in any::<bool>(),
            cap in proptest::option::of(1u32..12),
            scale in proptest::option::of(0u32..3),
            connect_ms in proptest::option::of(200u32..3000),
            read_ms in proptest::option::of(200u32..4000),
            streaming in any::<bool>(),
            deadline_ms in proptest::option::of(500u32..8000),
            gateway_ms in proptest::option::of(300u32..5000),
            retry in any::<bool>(),
            breaker in proptest::option::of(any::<bool>()),
            jobs in proptest::option::of(proptest::option::of(200u32..3000)),
            tiers in proptest::option::of(0u32..3),
            cancel in any::<bool>(),
            rate_deci in 5u32..400,
            n in 1u32..300,
        ) -> String {
            let mut s = format!(
                "name = \"prop\"\nrequests = {n}\n[workload]\narrival = {{ kind = \"poisson\", rate = \"{}/s\" }}\n\
                 prompt-tokens = {{ kind = \"uniform\", min = 0, max = 300 }}\n\
                 output-tokens = {{ kind = \"uniform\", min = 1, max = 60 }}\n[endpoint]\n\
                 gpu = \"t4\"\nmodel = \"qwen2.5-0.5b\"\n\
                 cold-start = {{ provisioning = \"3s\", cached-image = true, cached-weights = true, warm-up = \"1s\" }}\n",
                f64::from(rate_deci) / 10.0
            );
            s += if tgi { "engine = { kind = \"tgi\", max-concurrent-requests = 16 }\n" } else { "engine = { kind = \"vllm\", max-num-seqs = 8 }\n" };
            if let Some(c) = cap { s += &format!("max-concurrent-requests = {c}\n"); }
            if let Some(t) = tiers { s += ["scheduling = \"fifo\"\n", "scheduling = \"priority\"\n", "scheduling = \"fair\"\n"][t as usize]; }
            // 0: reject, 1: a proxy holds requests, 2: a bare server with nothing listening.
            if let Some(how) = scale {
                s += "[endpoint.scaling]\nmin-replicas = 0\ninitial-replicas = 0\nmax-replicas = 2\nidle-timeout = \"5s\"\n";
                s += ["", "when-unavailable = \"hold\"\nscale-up-timeout = \"3s\"\n", "when-unavailable = \"queue\"\ncold-connections = \"unanswered\"\n"][how as usize];
            }
            let bare = scale == Some(2);
            let sync = jobs.is_none();
            let mut failures: Vec<&str> = Vec::new();
            if tgi || cap.is_some() { failures.push("\"429\""); }
            if matches!(scale, Some(0 | 1)) { failures.push("\"503\""); }
            if let Some(ttl) = jobs {
                s += "[async]\npoll = \"1s\"\n";
                if let Some(t) = ttl { s += &format!("ttl = \"{t}ms\"\n"); }
            } else {
                // A gateway accepts connections itself: there is no bare server behind one.
                let gateway_ms = gateway_ms.filter(|_| !bare);
                if let Some(g) = gateway_ms { s += &format!("[gateway]\ntimeout = \"{g}ms\"\n"); failures.push("\"504\""); }
                s += "[client]\n";
                if streaming { s += "streaming = true\n"; }
                if let Some(r) = read_ms { s += &format!("read-timeout = \"{r}ms\"\n"); }
                if let Some(d) = deadline_ms { s += &format!("deadline = \"{d}ms\"\n"); }
                // A connect timeout fires only at a bare server, and not after the deadline.
                let connect_ms = connect_ms.filter(|_| bare).map(|c| c.min(deadline_ms.unwrap_or(c)));
                if let Some(c) = connect_ms { s += &format!("connect-timeout = \"{c}ms\"\n"); }
                if read_ms.is_some() || deadline_ms.is_some() || connect_ms.is_some() { failures.push("\"timeout\""); }
                if read_ms.is_some() || deadline_ms.is_some() || gateway_ms.is_some() {
                    s += &format!("cancel-on-disconnect = {cancel}\n");
                }
                if retry && !failures.is_empty() {
                    s += &format!("retry = {{ max-attempts = 3, on = [{}], backoff = \"100ms\" }}\n", failures.join(", "));
                }
            }
            if let (Some(fallback), true, false) = (breaker, sync, failures.is_empty()) {
                s += &format!("[breaker]\nfailures = 3\nwindow = \"5s\"\ncool-down = \"2s\"\non = [{}]\n", failures.join(", "));
                if fallback {
                    s += "[breaker.fallback]\nprofile = { batch = [1, 4], step-latency = [\"10ms\", \"30ms\"], prefill-tokens-per-s = 8000, kv-tokens = 2000 }\n";
                }
            }
            if tiers.is_some() {
                s += "[[classes]]\nname = \"a\"\nshare = 0.3\npriority = 0\nweight = 3\n[[classes]]\nname = \"b\"\nshare = 0.7\npriority = 1\n";
            }
            s
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn requests_and_attempts_balance_for_every_class_under_any_policy_mix(src in experiment(), seed in any::<u64>()) {
            let exp = capsim::experiment::parse(&src, std::path::Path::new("prop.toml"))
                .unwrap_or_else(|e| panic!("{e}\n{src}"));
            let run = capsim::domain::simulate(&exp.scenario, seed);
            // Every row's wait_prob is a probability: a share of attempts, however many retries.
            let all = capsim::runner::metrics(&run);
            prop_assert!(all.wait_prob.is_none_or(|w| (0.0..=1.0).contains(&w)), "wait_prob {:?}\n{}", all.wait_prob, src);
            let (stats, out) = (run.stats, run.clients.expect("an LLM endpoint has clients"));
            prop_assert!(stats.is_conserved(), "{}", src);
            let total = &out.classes[0];
            prop_assert_eq!(total.run.in_flight, 0, "a counted run drains: {}", src);
            for c in &out.classes {
                prop_assert!(c.run.is_conserved(), "{} requests {:?}\n{}", c.name, c.run.outcomes, src);
                prop_assert!(c.attempts_conserved(), "{} attempts {:?} + {}\n{}", c.name, c.attempt_outcomes, c.attempts_in_flight, src);
            }
            if out.classes.len() > 1 {
                let sum: u64 = out.classes[1..].iter().map(|c| c.run.arrived).sum();
                prop_assert_eq!(sum, total.run.arrived);
                let attempts: u64 = out.classes[1..].iter().map(|c| c.attempts).sum();
                prop_assert_eq!(attempts, total.attempts);
            }
            if !src.contains("retry") {
                prop_assert_eq!(total.retries, 0);
                prop_assert!(total.attempts <= total.run.arrived);
            }
        }
    }
}

#[test]
fn a_concurrency_cap_refuses_at_once_what_exceeds_it() {
    // Five requests 1 ms apart, each generating for over a minute; the replica takes 2.
    let src = t4(
        "requests = 5",
        "arrival = { kind = \"constant\", rate = \"1000/s\" }",
        2000,
        "max-concurrent-requests = 2",
    );
    let m = run(&src, 1);
    assert_eq!((m.ok, m.rejected), (2, 3));
    // A refusal is immediate: the client is told in no time, so retries on 429 come back
    // exactly one backoff later, still refused while both slots are busy.
    let retried = run(
        &src.replace(
            "max-concurrent-requests = 2",
            "max-concurrent-requests = 2\n[client.retry]\nmax-attempts = 4\non = [\"429\"]\nbackoff = \"1s\"\njitter = \"none\"",
        ),
        1,
    );
    assert_eq!((retried.rejected, retried.attempts), (3, Some(2 + 3 * 4)));
}

#[test]
fn an_async_queue_by_priority_serves_premium_jobs_first() {
    let src = |order: &str| {
        burst(&format!(
            "[async]\norder = \"{order}\"\n\
             [[classes]]\nname = \"premium\"\nshare = 0.2\npriority = 0\n\
             [[classes]]\nname = \"free\"\nshare = 0.8\npriority = 1\n"
        ))
    };
    let mean =
        |rows: &[capsim::report::RunSummary], n: &str| secs(class(rows, n), "latency_mean_s");
    let fifo = run_rows(&src("fifo"), 1);
    let prio = run_rows(&src("priority"), 1);
    assert!(mean(&prio, "premium") < 0.5 * mean(&prio, "free"));
    assert!(mean(&prio, "premium") < 0.5 * mean(&fifo, "premium"));
    let ratio = mean(&fifo, "premium") / mean(&fifo, "free");
    assert!((0.8..1.25).contains(&ratio), "fifo ratio {ratio}");
}
