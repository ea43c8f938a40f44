//! Small scenarios worked out by hand, request by request, checking each rule of the endpoint.

use crate::support::{real, run};

fn endpoint(body: &str) -> String {
    format!("name = \"hand\"\n{body}\n")
}

#[track_caller]
fn approx(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "got {actual}, expected {expected}"
    );
}

#[test]
fn a_client_that_gives_up_without_cancelling_leaves_the_whole_service_wasted() {
    // One request every 100 s, each needing 10 s; the client waits 5 s. Every request times out
    // on the client and the server still spends its 10 s on it.
    let m = run(
        &endpoint(
            r#"requests = 10
[workload]
arrival = { kind = "constant", rate = "0.01/s" }
[endpoint]
servers = 1
service-time = { kind = "deterministic", value = "10s" }
[client]
timeout = "5s"
cancel-on-timeout = false"#,
        ),
        1,
    );
    assert_eq!((m.arrived, m.ok, m.client_timeout), (10, 0, 10));
    approx(m.wasted_work_s.unwrap(), 100.0);
    approx(real(&m, "timeout_rate"), 1.0);
    // Busy 10 × 10 s over a run that ends when the last service does, at 1010 s.
    approx(real(&m, "window_s"), 1010.0);
    approx(real(&m, "utilization"), 100.0 / 1010.0);
    assert_eq!(m.latency_p50_s, None, "no request ended ok");
}

#[test]
fn cancel_on_timeout_frees_the_server_at_the_timeout() {
    let m = run(
        &endpoint(
            r#"requests = 10
[workload]
arrival = { kind = "constant", rate = "0.01/s" }
[endpoint]
servers = 1
service-time = { kind = "deterministic", value = "10s" }
[client]
timeout = "5s"
cancel-on-timeout = true"#,
        ),
        1,
    );
    assert_eq!((m.ok, m.client_timeout), (0, 10));
    approx(m.wasted_work_s.unwrap(), 50.0);
    approx(real(&m, "window_s"), 1005.0);
}

#[test]
fn cancelled_requests_leave_the_queue_and_the_next_one_starts_at_once() {
    // Arrivals at 1, 2, 3 s; service 10 s; client timeout 2.5 s with cancellation.
    // r1 runs [1, 3.5) then is cancelled; r2 starts at 3.5 (waited 1.5), cancelled at 4.5;
    // r3 starts at 4.5 (waited 1.5), cancelled at 5.5. Waste 2.5 + 1 + 1 s.
    let m = run(
        &endpoint(
            r#"requests = 3
[workload]
arrival = { kind = "constant", rate = "1/s" }
[endpoint]
servers = 1
service-time = { kind = "deterministic", value = "10s" }
[client]
timeout = "2.5s"
cancel-on-timeout = true"#,
        ),
        1,
    );
    assert_eq!((m.arrived, m.client_timeout), (3, 3));
    approx(m.wasted_work_s.unwrap(), 4.5);
    approx(real(&m, "wait_mean_s"), 1.0);
    approx(real(&m, "wait_prob"), 2.0 / 3.0);
}

#[test]
fn a_full_queue_rejects_at_once() {
    // Capacity 0: an arrival that finds the server busy is refused. Arrivals every 1 s, each
    // served 1.5 s: every other request is rejected.
    let m = run(
        &endpoint(
            r#"requests = 10
[workload]
arrival = { kind = "constant", rate = "1/s" }
[endpoint]
servers = 1
service-time = { kind = "deterministic", value = "1.5s" }
queue-capacity = 0"#,
        ),
        1,
    );
    assert_eq!((m.ok, m.rejected), (5, 5));
    approx(real(&m, "latency_p50_s"), 1.5);
    approx(real(&m, "latency_p99_s"), 1.5);
    approx(real(&m, "failed_rate"), 0.5);
    approx(real(&m, "answered_rate"), 0.5);
    approx(real(&m, "timeout_rate"), 0.0);
    approx(real(&m, "wait_prob"), 0.0);
}

#[test]
fn the_queue_timeout_drops_requests_that_wait_too_long_and_same_time_events_are_fifo() {
    // Arrivals at 1, 2, 3, 4 s; service 3 s; queue timeout 1.5 s.
    // r1 served [1, 4). r2 waits, dropped at 3.5. r3 waits from 3; at 4 the completion of r1
    // (scheduled at 1) comes before the arrival of r4 (scheduled at 3), so r3 takes the server
    // (waited 1 s) and r4 queues, to be dropped at 5.5.
    let m = run(
        &endpoint(
            r#"requests = 4
[workload]
arrival = { kind = "constant", rate = "1/s" }
[endpoint]
servers = 1
service-time = { kind = "deterministic", value = "3s" }
queue-timeout = "1.5s""#,
        ),
        1,
    );
    assert_eq!((m.ok, m.queue_timeout), (2, 2));
    approx(real(&m, "latency_mean_s"), 3.5);
    approx(real(&m, "latency_max_s"), 4.0);
    approx(real(&m, "wait_mean_s"), 1.0);
    approx(real(&m, "wait_prob"), 0.75);
    approx(real(&m, "timeout_rate"), 0.5);
}

#[test]
fn the_warm_up_is_not_counted_and_requests_without_an_outcome_are_unfinished() {
    // One arrival per second, 0.5 s each, run 100 s, warm-up 50 s: arrivals at 50..=100 count.
    // The one at 100 s is still in service when the clock stops.
    let m = run(
        &endpoint(
            r#"duration = "100s"
warm-up = "50s"
[workload]
arrival = { kind = "constant", rate = "1/s" }
[endpoint]
servers = 1
service-time = { kind = "deterministic", value = "0.5s" }"#,
        ),
        1,
    );
    assert_eq!((m.arrived, m.ok, m.unfinished), (51, 50, 1));
    approx(real(&m, "window_s"), 50.0);
    approx(real(&m, "utilization"), 0.5);
    approx(real(&m, "throughput_rps"), 1.0);
}
