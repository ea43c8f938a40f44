//! Engine benchmarks, reported as throughput so a regression reads directly in customers or
//! events per second.
//!
//! `cargo bench --bench engine` runs all; `cargo bench --bench engine -- mmc` only the queue.

use std::hint::black_box;
use std::path::Path;

use capsim::domain::simulate;
use capsim::experiment;
use capsim::sim::{EventQueue, SimTime};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// M/M/4 at utilisation 0.9 (3.6 arrivals/s, mean service 1 s), counted by customers.
fn mm4(customers: u64) -> capsim::domain::Scenario {
    let src = format!(
        r#"name = "bench M/M/4 rho 0.9"
requests = {customers}
[workload]
arrival = {{ kind = "poisson", rate = "3.6/s" }}
[endpoint]
servers = 4
service-time = {{ kind = "exponential", mean = "1s" }}
"#
    );
    experiment::parse(&src, Path::new("bench.toml"))
        .expect("bench experiment is valid")
        .scenario
}

fn mmc(c: &mut Criterion) {
    let customers = 1_000_000;
    let scenario = mm4(customers);
    let mut group = c.benchmark_group("mmc");
    group.throughput(Throughput::Elements(customers));
    group.sample_size(20);
    group.bench_function(BenchmarkId::new("mm4_rho0.9", customers), |b| {
        b.iter(|| {
            let out = simulate(black_box(&scenario), 42);
            assert_eq!(out.stats.arrived, customers);
            out
        })
    });
    group.finish();
}

fn event_queue(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_queue");
    for size in [1_000u64, 100_000] {
        // Hold `size` pending events and do `size` pop-then-push steps (the hold model).
        group.throughput(Throughput::Elements(size));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.iter(|| {
                let mut q = EventQueue::new();
                let mut x: u64 = 0x9E37_79B9;
                for i in 0..size {
                    q.push(SimTime::from_nanos(i * 7919 % 1_000_003), i);
                }
                for _ in 0..size {
                    let (t, e) = q.pop().expect("queue holds events");
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    q.push(SimTime::from_nanos(t.as_nanos() + x % 1_000_000), e);
                }
                black_box(q.len())
            })
        });
    }
    group.finish();
}

/// Chat traffic at 6 requests/s on one A100-80GB replica of Llama-2-7B fp16 (vLLM-like).
const CHAT_ON_A100: &str = r#"[workload]
arrival = { kind = "poisson", rate = "6/s" }
prompt-tokens = { kind = "lognormal", median = 400, p99 = 2000 }
output-tokens = { kind = "lognormal", median = 200, p99 = 1000 }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
quantization = "fp16"
engine = { kind = "vllm" }
"#;

/// One hour of Poisson chat traffic on one A100-80GB replica of Llama-2-7B fp16 (vLLM-like) at
/// 6 requests/s, about 80 % of the 7.5-8 req/s at which its queue starts to grow without bound.
fn serving(c: &mut Criterion) {
    let src = format!("name = \"bench chat on A100\"\nduration = \"1h\"\n{CHAT_ON_A100}");
    let scenario = experiment::parse(&src, Path::new("bench.toml"))
        .expect("bench experiment is valid")
        .scenario;
    let requests = simulate(&scenario, 42).stats.arrived;
    let mut group = c.benchmark_group("serving");
    group.throughput(Throughput::Elements(requests));
    group.sample_size(30);
    group.bench_function("a100_llama2_7b_chat_1h", |b| {
        b.iter(|| simulate(black_box(&scenario), 42))
    });
    group.finish();
}

/// One hour of chat traffic whose every request starts with the same 2,000-token system prompt,
/// at 3 requests/s on one A100-80GB replica of Llama-2-7B under vLLM V1 with its prefix cache
/// on: what the prefix cache costs the simulator per request (the target is at least 0.5 M
/// simulated requests/s per core).
fn serving_cached(c: &mut Criterion) {
    let src = format!(
        "name = \"bench cached system prompt\"\nduration = \"1h\"\n{}",
        CHAT_ON_A100
            .replace("rate = \"6/s\"", "rate = \"3/s\"")
            .replace(
                "output-tokens = { kind = \"lognormal\", median = 200, p99 = 1000 }",
                "output-tokens = { kind = \"lognormal\", median = 200, p99 = 1000 }\nsystem-prompt = 2000",
            )
            .replace("engine = { kind = \"vllm\" }", "engine = { kind = \"vllm\", prefix-caching = true }")
    );
    let scenario = experiment::parse(&src, Path::new("bench.toml"))
        .expect("bench experiment is valid")
        .scenario;
    let out = simulate(&scenario, 42);
    let saved = out.serving.as_ref().map_or(0, |s| s.prefill_tokens_saved);
    assert!(saved > 0, "the bench's prompts hit the prefix cache");
    let requests = out.stats.arrived;
    let mut group = c.benchmark_group("serving");
    group.throughput(Throughput::Elements(requests));
    group.sample_size(30);
    group.bench_function("a100_llama2_7b_chat_system_prompt_cached_1h", |b| {
        b.iter(|| simulate(black_box(&scenario), 42))
    });
    group.finish();
}

/// 24 hours of Poisson chat traffic following a day (quiet at night, peaking at noon at about
/// 50 requests/s) on Llama-2-7B A100-80GB replicas autoscaling between 0 and 8 (HF's pending
/// requests policy, scale-to-zero after 15 idle minutes, requests held while none is ready).
fn diurnal(c: &mut Criterion) {
    let src = r#"name = "bench diurnal autoscaling"
duration = "24h"
[workload]
arrival = { kind = "schedule", period = "24h", rates = [["0h", "0.2/s"], ["6h", "2/s"], ["8h", "15/s"], ["10h", "35/s"], ["12h", "50/s"], ["14h", "35/s"], ["17h", "15/s"], ["20h", "4/s"], ["22h", "0.5/s"]] }
prompt-tokens = { kind = "lognormal", median = 400, p99 = 2000 }
output-tokens = { kind = "lognormal", median = 200, p99 = 1000 }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
[endpoint.scaling]
min-replicas = 0
max-replicas = 8
initial-replicas = 0
idle-timeout = "15m"
when-unavailable = "hold"
scale-up-timeout = "600s"
autoscale = { signal = "pending" }
"#;
    let scenario = experiment::parse(src, Path::new("bench.toml"))
        .expect("bench experiment is valid")
        .scenario;
    let requests = simulate(&scenario, 42).stats.arrived;
    let mut group = c.benchmark_group("lifecycle");
    group.throughput(Throughput::Elements(requests));
    group.sample_size(10);
    group.bench_function("diurnal_24h_autoscale_0_to_8", |b| {
        b.iter(|| simulate(black_box(&scenario), 42))
    });
    group.finish();
}

/// One million chat requests on an A100, without policies and with all of them on: two tiers
/// with strict priority, streaming and non-streaming read timeouts, a gateway, retries with a
/// budget, a concurrency cap, and a breaker with a fallback endpoint. The ratio of the two is
/// the cost of the policy layer (the target is at most 2x).
fn policies(c: &mut Criterion) {
    let plain = format!("name = \"bench 1M chat on A100\"\nrequests = 1000000\n{CHAT_ON_A100}");
    let all = format!(
        r#"{plain}max-concurrent-requests = 96
scheduling = "priority"
[gateway]
timeout = "60s"
[client]
read-timeout = "30s"
cancel-on-disconnect = true
retry = {{ max-attempts = 3, on = ["429", "504", "timeout"], backoff = "1s", budget = 0.2 }}
[breaker]
failures = 20
window = "30s"
cool-down = "30s"
[breaker.fallback]
gpu = "t4"
model = "llama-2-7b"
quantization = "int4"
[[classes]]
name = "premium"
share = 0.2
priority = 0
client = {{ streaming = true }}
[[classes]]
name = "free"
share = 0.8
priority = 1
"#
    );
    let parse = |src: &str| {
        experiment::parse(src, Path::new("bench.toml"))
            .expect("bench experiment is valid")
            .scenario
    };
    let (plain, all) = (parse(&plain), parse(&all));
    let mut group = c.benchmark_group("policies");
    group.throughput(Throughput::Elements(1_000_000));
    group.sample_size(10);
    group.bench_function("none_1m", |b| b.iter(|| simulate(black_box(&plain), 42)));
    group.bench_function("all_1m", |b| b.iter(|| simulate(black_box(&all), 42)));
    group.finish();
}

criterion_group!(
    benches,
    mmc,
    event_queue,
    serving,
    serving_cached,
    diurnal,
    policies
);
criterion_main!(benches);
