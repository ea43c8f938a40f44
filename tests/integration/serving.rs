//! The LLM serving model: engines, KV limits, preemption, closed loops, profiles.

use capsim::domain::perf::{PerfInputs, PerfModel, StepShape};
use capsim::experiment;
use capsim::experiment::catalog::Catalog;
use proptest::prelude::*;

use crate::support::{real, run, serve};

const T4_TIGHT: &str = r#"
name = "tight KV"
requests = 400
[workload]
arrival = { kind = "poisson", rate = "2/s" }
prompt-tokens = { kind = "uniform", min = 200, max = 800 }
output-tokens = { kind = "uniform", min = 300, max = 900 }
[endpoint]
gpu = "t4"
model = "llama-2-7b"
quantization = "int8"
"#;

#[test]
fn continuous_batching_never_exceeds_kv_capacity_and_preempted_requests_still_finish() {
    // 8,069 tokens of KV on a T4 at int8, and requests that need up to 1,700 each: the engine
    // must preempt to keep going.
    let (stats, serving) = serve(T4_TIGHT, 3);
    assert!(serving.preemptions > 0, "this load should force preemption");
    assert!(
        serving.kv_peak <= serving.kv_replica_capacity,
        "KV {} > capacity {}",
        serving.kv_peak,
        serving.kv_replica_capacity
    );
    assert_eq!(stats.arrived, 400);
    assert_eq!(stats.in_flight, 0);
    assert_eq!(
        stats.outcome(capsim::domain::Outcome::Ok),
        400,
        "every preempted request is recomputed and finishes"
    );
}

#[test]
fn one_request_alone_takes_exactly_its_prefill_and_decode_steps() {
    let src = r#"
name = "alone"
requests = 1
[workload]
arrival = { kind = "constant", rate = "1/s" }
prompt-tokens = { kind = "deterministic", value = 128 }
output-tokens = { kind = "deterministic", value = 20 }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
"#;
    let m = run(src, 1);
    let c = Catalog::builtin().unwrap();
    let q = &c.quantizations["fp16"];
    let perf = PerfModel::new(&PerfInputs {
        gpu: &c.gpus["a100-80gb"],
        interconnect: &c.gpus["a100-80gb"].interconnect,
        llm: &c.llms["llama-2-7b"],
        quant: q,
        tp: 1,
        class: &c.classes["vllm-v1"],
        kv_bytes: 2.0,
        exponent: c.overlap_exponent,
    })
    .unwrap();
    // The API server takes its time first (HTTP handling, tokenising 128 tokens); then the
    // prefill step yields token 1 and 19 decode steps follow at contexts 129, 130, ...
    let prefill = perf.api_seconds(128) + perf.step_seconds(&StepShape::prefill(128));
    let decode: f64 = (0..19)
        .map(|k| perf.step_seconds(&StepShape::decode(1, 129 + k)))
        .sum();
    assert!(
        (real(&m, "ttft_p50_s") - prefill).abs() < 2e-9,
        "{} vs {prefill}",
        real(&m, "ttft_p50_s")
    );
    assert!((real(&m, "latency_p50_s") - (prefill + decode)).abs() < 1e-6);
    assert!((real(&m, "tpot_mean_s") - decode / 19.0).abs() < 1e-6);
    assert_eq!(m.preemptions, Some(0));
}

#[test]
fn closed_loop_users_keep_exactly_n_requests_outstanding() {
    let src = r#"
name = "closed loop"
duration = "10m"
[workload]
users = { count = 8, think-time = { kind = "deterministic", value = "0s" } }
prompt-tokens = { kind = "lognormal", median = 300, sigma = 0.5 }
output-tokens = { kind = "lognormal", median = 150, sigma = 0.5 }
[endpoint]
gpu = "a10g"
model = "llama-2-7b"
"#;
    let m = run(src, 5);
    // With no think time every user always has exactly one request out.
    assert_eq!(m.unfinished, 8);
    assert!(m.ok > 100);
    assert_eq!(m.arrived, m.ok + m.unfinished);
    // With think time, never more than N.
    let thinking = run(
        &src.replace(
            "deterministic\", value = \"0s\"",
            "exponential\", mean = \"5s\"",
        ),
        5,
    );
    assert!(thinking.unfinished <= 8);
    assert!(real(&thinking, "batch_mean") <= 8.0 + 1e-9);
}

#[test]
fn tgi_refuses_requests_beyond_max_concurrent_requests_at_once() {
    let src = r#"
name = "tgi burst"
requests = 300
[workload]
arrival = { kind = "poisson", rate = "50/s" }
prompt-tokens = { kind = "deterministic", value = 500 }
output-tokens = { kind = "deterministic", value = 300 }
[endpoint]
gpu = "a10g"
model = "llama-2-7b"
engine = { kind = "tgi", max-concurrent-requests = 16 }
"#;
    let (stats, serving) = serve(src, 2);
    let rejected = stats.outcome(capsim::domain::Outcome::Rejected);
    assert!(
        rejected > 100,
        "a 50/s burst against 16 slots must be refused: {rejected}"
    );
    assert!(serving.kv_peak <= serving.kv_replica_capacity);
    assert!(stats.is_conserved());
    assert_eq!(stats.in_flight, 0);
}

#[test]
fn a_static_batch_answers_all_its_requests_when_the_longest_ends() {
    // Four requests 1 ms apart form one batch (max-batch 4); outputs differ, answers do not.
    let src = r#"
name = "static"
requests = 4
[workload]
arrival = { kind = "constant", rate = "1000/s" }
prompt-tokens = { kind = "deterministic", value = 100 }
output-tokens = { kind = "empirical", values = [10, 400] }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
engine = { kind = "static", max-batch = 4, max-wait = "1s" }
"#;
    let m = run(src, 9);
    assert_eq!(m.ok, 4);
    let spread =
        real(&m, "latency_max_s") - real(&m, "latency_p50_s").min(real(&m, "latency_max_s"));
    assert!(
        spread <= 0.003 + 1e-9,
        "answers arrive together (arrivals 1 ms apart): spread {spread}"
    );
    assert!(
        real(&m, "latency_p50_s") > 1.0,
        "the batch runs until its longest output ends"
    );
}

#[test]
fn a_measured_profile_models_a_non_llm_service() {
    // An embedding model measured at 100 ms per request alone and 200 ms for a batch of 8.
    let src = r#"
name = "embeddings"
requests = 50
[workload]
arrival = { kind = "constant", rate = "1/s" }
prompt-tokens = { kind = "deterministic", value = 0 }
output-tokens = { kind = "deterministic", value = 1 }
[endpoint]
profile = { batch = [1, 8], step-latency = ["100ms", "200ms"] }
engine = { kind = "vllm", max-num-seqs = 8 }
"#;
    let m = run(src, 1);
    assert_eq!(m.ok, 50);
    assert!((real(&m, "latency_p50_s") - 0.1).abs() < 1e-9);
    assert!((real(&m, "latency_max_s") - 0.1).abs() < 1e-9);
    // At 20/s requests share steps, and a step of b requests takes 100 + (b - 1) x 100/7 ms.
    let busy = run(&src.replace("\"1/s\"", "\"20/s\""), 1);
    assert!(
        real(&busy, "batch_mean") > 1.5,
        "{}",
        real(&busy, "batch_mean")
    );
    assert!(real(&busy, "latency_p50_s") > 0.1);
}

#[test]
fn llm_runs_are_deterministic_and_seed_dependent() {
    let a = run(T4_TIGHT, 4);
    let b = run(T4_TIGHT, 4);
    let c = run(T4_TIGHT, 5);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

fn llm_experiment() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("vllm"), Just("tgi"), Just("static")],
        prop_oneof![Just("t4\"\nquantization = \"int4"), Just("a10g"), Just("a100-80gb")],
        1u32..400,
        prop_oneof![
            (1u32..60).prop_map(|r| format!("arrival = {{ kind = \"poisson\", rate = \"{}/s\" }}", f64::from(r) / 4.0)),
            (1u32..40, 0u32..3000).prop_map(|(n, t)| format!(
                "users = {{ count = {n}, think-time = {{ kind = \"exponential\", mean = \"{}ms\" }} }}",
                t + 1
            )),
        ],
        (0u32..5000, 1u32..1200),
        proptest::option::of(1u32..30_000),
        any::<bool>(),
        proptest::option::of(1u32..20_000),
        any::<bool>(),
        (1u32..4, prop_oneof![Just("round-robin"), Just("least-outstanding"), Just("power-of-two")]),
        proptest::option::of((0u32..2, 0usize..3, proptest::option::of(1u32..600))),
    )
        .prop_map(|(engine, gpu, n, load, (p, o), timeout, cancel, queue_timeout, by_count, (replicas, balancer), scaling)| {
            let stop = if by_count { format!("requests = {n}") } else { format!("duration = \"{}s\"", n * 2) };
            let mut s = format!(
                "name = \"prop\"\n{stop}\n[workload]\n{load}\nprompt-tokens = {{ kind = \"uniform\", min = 0, max = {} }}\noutput-tokens = {{ kind = \"uniform\", min = 1, max = {} }}\n[endpoint]\ngpu = \"{gpu}\"\nmodel = \"llama-2-7b\"\nengine = {{ kind = \"{engine}\" }}\nreplicas = {replicas}\nload-balancer = \"{balancer}\"\n",
                p + 1,
                o + 1
            );
            if let Some(q) = queue_timeout {
                s += &format!("queue-timeout = \"{q}ms\"\n");
            }
            if let Some((initial, when, idle)) = scaling {
                s = s.replace(&format!("replicas = {replicas}\n"), "");
                s += &format!("[endpoint.scaling]\nmax-replicas = {replicas}\ninitial-replicas = {initial}\ncold-start = 0\n");
                s = s.replace("cold-start = 0\n", "");
                s += ["when-unavailable = \"reject\"\n", "when-unavailable = \"hold\"\nscale-up-timeout = \"120s\"\n", "when-unavailable = \"queue\"\n"][when];
                if let Some(idle) = idle {
                    s += &format!("idle-timeout = \"{idle}s\"\n");
                }
            }
            if let Some(t) = timeout {
                s += &format!("[client]\ntimeout = \"{t}ms\"\ncancel-on-timeout = {cancel}\n");
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_llm_request_ends_in_one_outcome_and_kv_stays_within_capacity(src in llm_experiment(), seed in any::<u64>()) {
        let (stats, serving) = serve(&src, seed);
        prop_assert!(stats.is_conserved(), "arrived {} outcomes {:?} in flight {}\n{}", stats.arrived, stats.outcomes, stats.in_flight, src);
        prop_assert!(serving.kv_peak <= serving.kv_replica_capacity, "KV {} > {}\n{}", serving.kv_peak, serving.kv_replica_capacity, src);
        if src.contains("requests =") {
            prop_assert_eq!(stats.in_flight, 0, "a counted run drains\n{}", src);
        }
        prop_assert_eq!(serving.empty_draining_at_end, 0, "{}", src);
    }
}

#[test]
fn a_profile_by_context_length_is_followed_step_by_step_across_its_rows() {
    // Batch 1: 20 ms at context 100, 40 ms at 1100, 100 ms at 2100 (slopes 0.02 then 0.06 ms per
    // token). Prompt 1000 at 10,000 tokens/s = 100 ms. Decode steps run at contexts 1001..=1300:
    // Σ_{c=1001}^{1100} (20 + 0.02(c−100)) + Σ_{c=1101}^{1300} (40 + 0.06(c−1100)) = 3901 + 9206 ms.
    let src = r#"
name = "profile by context"
requests = 1
[workload]
arrival = { kind = "constant", rate = "1/s" }
prompt-tokens = { kind = "deterministic", value = 1000 }
output-tokens = { kind = "deterministic", value = 301 }
[endpoint]
profile = { batch = [1], context = [100, 1100, 2100], step-latency = [["20ms"], ["40ms"], ["100ms"]], prefill-tokens-per-s = 10000 }
"#;
    let m = run(src, 1);
    assert!(
        (real(&m, "ttft_p50_s") - 0.1).abs() < 1e-9,
        "{}",
        real(&m, "ttft_p50_s")
    );
    assert!(
        (real(&m, "latency_p50_s") - (0.1 + 3.901 + 9.206)).abs() < 1e-6,
        "{}",
        real(&m, "latency_p50_s")
    );
}

#[test]
fn a_profile_can_be_read_from_a_csv_file_beside_the_experiment() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::write(
        dir.path(),
        "bench.csv",
        "batch,context,step_latency_s\n1,100,0.020\n1,1100,0.040\n4,100,0.030\n4,1100,0.060\n",
    );
    let exp = crate::support::write(
        dir.path(),
        "e.toml",
        r#"name = "csv profile"
requests = 1
[workload]
arrival = { kind = "constant", rate = "1/s" }
prompt-tokens = { kind = "deterministic", value = 100 }
output-tokens = { kind = "deterministic", value = 2 }
[endpoint]
profile = { file = "bench.csv", prefill-tokens-per-s = 1000 }
"#,
    );
    let e = experiment::load(&exp).unwrap_or_else(|e| panic!("{e}"));
    let m = capsim::runner::run(&e, 1, Default::default()).unwrap().runs[0]
        .metrics
        .clone();
    // Prefill 100 ms, then one decode step at context 101: 20 ms + 1 x 0.02 ms.
    assert!(
        (real(&m, "latency_p50_s") - (0.1 + 0.02002)).abs() < 1e-9,
        "{}",
        real(&m, "latency_p50_s")
    );
    crate::support::write(
        dir.path(),
        "bench.csv",
        "batch,context,step_latency_s\n1,100,0.020\n4,1100,0.060\n",
    );
    let err = experiment::load(&exp).unwrap_err();
    assert_eq!(
        err.message,
        "every batch size needs a latency at every context length"
    );
}

const TWO_AT_ONCE: &str = r#"
name = "two at once"
requests = 2
[workload]
arrival = { kind = "constant", rate = "1000000/s" }
prompt-tokens = { kind = "deterministic", value = 128 }
output-tokens = { kind = "deterministic", value = 50 }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
replicas = 2
load-balancer = "round-robin"
"#;

#[test]
fn round_robin_replicas_serve_simultaneous_requests_each_alone() {
    // Two requests 1 µs apart on two replicas: each runs alone, exactly as a single request.
    let two = run(TWO_AT_ONCE, 1);
    let alone = run(&TWO_AT_ONCE.replace("requests = 2", "requests = 1"), 1);
    assert_eq!(two.ok, 2);
    assert!((real(&two, "latency_max_s") - real(&alone, "latency_max_s")).abs() < 2e-6);
    // On one replica they share steps and take longer than alone.
    let shared = run(&TWO_AT_ONCE.replace("replicas = 2", "replicas = 1"), 1);
    assert!(real(&shared, "latency_max_s") > real(&alone, "latency_max_s") + 1e-3);
    // Busy time is spread over two GPUs: utilisation is per replica.
    assert!(real(&two, "gpu_busy") > 0.99 && real(&two, "gpu_busy") <= 1.0);
}

#[test]
fn three_replicas_cut_the_tail_of_the_same_arrivals() {
    let one = r#"
name = "replicas"
duration = "30m"
warm-up = "2m"
[workload]
arrival = { kind = "poisson", rate = "5/s" }
prompt-tokens = { kind = "lognormal", median = 400, p99 = 2000 }
output-tokens = { kind = "lognormal", median = 200, p99 = 1000 }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
"#;
    let a = run(one, 3);
    let b = run(
        &one.replace(
            "model = \"llama-2-7b\"",
            "model = \"llama-2-7b\"\nreplicas = 3",
        ),
        3,
    );
    assert_eq!(
        a.arrived, b.arrived,
        "same arrivals (common random numbers)"
    );
    assert!(
        real(&b, "latency_p99_s") < real(&a, "latency_p99_s"),
        "{} vs {}",
        real(&b, "latency_p99_s"),
        real(&a, "latency_p99_s")
    );
    assert!(real(&b, "gpu_busy") < real(&a, "gpu_busy"));
}

#[test]
fn least_outstanding_balances_better_than_round_robin_under_uneven_requests() {
    let src = r#"
name = "balancers"
duration = "20m"
warm-up = "1m"
[workload]
arrival = { kind = "poisson", rate = "12/s" }
prompt-tokens = { kind = "lognormal", median = 400, p99 = 4000 }
output-tokens = { kind = "lognormal", median = 200, p99 = 2000 }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
replicas = 3
load-balancer = "least-outstanding"
"#;
    let lor = run(src, 8);
    let rr = run(&src.replace("least-outstanding", "round-robin"), 8);
    let p2 = run(&src.replace("least-outstanding", "power-of-two"), 8);
    assert_eq!(lor.arrived, rr.arrived);
    assert!(
        real(&lor, "latency_p99_s") <= real(&rr, "latency_p99_s"),
        "{} vs {}",
        real(&lor, "latency_p99_s"),
        real(&rr, "latency_p99_s")
    );
    assert!(p2.ok > 0 && p2.arrived == lor.arrived);
}
