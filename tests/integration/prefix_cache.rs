//! Prompt reuse and the prefix cache: hits on whole blocks, the time of the uncached tail,
//! conversations that send their history back, and the invariants under random reuse.

use std::path::Path;

use capsim::domain::perf::StepShape;
use capsim::domain::serving::RequestRecord;
use capsim::domain::{Observe, Service};
use capsim::report::MetricValue;
use proptest::prelude::*;

use crate::support::{real, run, serve};

/// A pool of 5 prompts of 810 tokens sent one per second (never two at once) to one A100
/// replica of Llama-2-7B under vLLM V1, with or without its prefix cache; the warm-up covers
/// the pool's first lap.
fn pool(cache: bool) -> String {
    format!(
        r#"name = "pool"
seed = 1
duration = "60s"
warm-up = "10s"
[workload]
arrival = {{ kind = "constant", rate = "1/s" }}
prompt-tokens = {{ kind = "deterministic", value = 810 }}
output-tokens = {{ kind = "deterministic", value = 2 }}
prompt-pool = {{ size = 5 }}
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
engine = {{ kind = "vllm", version = "0.10", prefix-caching = {cache} }}
"#
    )
}

/// The time to first token of a lone 810-token prompt of which `cached` tokens are in the
/// cache: the API server, then one prefill step over the uncached tail that reads the cached
/// KV for its attention.
fn lone_ttft(src: &str, cached: u64) -> f64 {
    let exp = capsim::experiment::parse(src, Path::new("t.toml")).expect("parses");
    let Service::Llm(svc) = &exp.scenario.service else {
        panic!("an LLM endpoint")
    };
    let tail = 810 - cached;
    let step = svc.step.step_seconds(&StepShape {
        prefill_tokens: tail,
        prefill_seqs: 1,
        prefill_kv_read: cached,
        prefill_pairs: tail * cached + tail * (tail + 1) / 2,
        ..StepShape::default()
    });
    svc.step.api_seconds(810) + step
}

/// The per-request records of a run of `src` with `seed`.
fn records(src: &str, seed: u64) -> Vec<RequestRecord> {
    let exp = capsim::experiment::parse(src, Path::new("t.toml")).expect("parses");
    let observe = Observe {
        requests: true,
        ..Observe::default()
    };
    let out = capsim::domain::simulate_observed(&exp.scenario, seed, observe);
    out.clients.expect("client records").requests
}

#[test]
fn a_reused_pool_hits_its_whole_blocks_and_prefills_only_the_uncached_tail() {
    // 810 tokens in blocks of 16: 50 whole blocks (800 tokens) are cached after the first lap;
    // the partly filled 51st block is computed again every time.
    let on = run(&pool(true), 1);
    assert_eq!(real(&on, "prefix_hit_rate"), 800.0 / 810.0);
    let (_, serving) = serve(&pool(true), 1);
    let admitted = serving.prompt_tokens_admitted / 810;
    assert!(
        admitted + 1 >= on.arrived,
        "{admitted} admitted of {}",
        on.arrived
    );
    assert_eq!(serving.prefill_tokens_saved, 800 * admitted);
    let cached = records(&pool(true), 1);
    assert_eq!(cached.len() as u64, on.ok);
    let expected = lone_ttft(&pool(true), 800);
    for r in cached {
        let ttft = r.ttft_s.expect("answered");
        assert!(
            (ttft - expected).abs() < 2e-9,
            "ttft {ttft} s, the uncached tail takes {expected} s"
        );
    }
    // Without the cache every prompt is prefilled whole.
    let off = run(&pool(false), 1);
    assert!(matches!(
        off.get("prefix_hit_rate"),
        Some(MetricValue::Real(None))
    ));
    let whole = lone_ttft(&pool(false), 0);
    for r in records(&pool(false), 1) {
        let ttft = r.ttft_s.expect("answered");
        assert!(
            (ttft - whole).abs() < 2e-9,
            "ttft {ttft} s, a whole prefill takes {whole} s"
        );
    }
    // The tail is 10 tokens of 810, yet the time falls by about 4.7x, not 81x: a short prefill is
    // bound by reading the 13.5 GB of weights once, plus the step's fixed host and API costs.
    assert!(expected < whole, "tail {expected} s, whole {whole} s");
}

/// One closed-loop user holding conversations of `turns` turns (a 300-token system prompt,
/// 50-token messages, 20-token answers, 2 s between turns, 5 s between sessions) until
/// `requests` requests.
fn chat(requests: u32, turns: u32) -> String {
    format!(
        r#"name = "chat"
seed = 3
requests = {requests}
[workload]
users = {{ count = 1, think-time = {{ kind = "deterministic", value = "5s" }} }}
prompt-tokens = {{ kind = "deterministic", value = 50 }}
output-tokens = {{ kind = "deterministic", value = 20 }}
system-prompt = 300
conversation = {{ turns = {turns}, think-time = "2s" }}
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
engine = {{ kind = "vllm" }}
"#
    )
}

#[test]
fn a_conversation_turn_sends_the_previous_prompt_and_answer_and_a_new_message() {
    // One user, sessions of 4 turns: a 300-token system prompt, 50-token messages, 20-token
    // answers. Turn prompts: 350, 350 + 20 + 50 = 420, 490, 560, then a new session.
    let src = chat(8, 4);
    let turns = records(&src, 3);
    let prompts: Vec<u32> = turns.iter().map(|r| r.prompt).collect();
    assert_eq!(prompts, [350, 420, 490, 560, 350, 420, 490, 560]);
    // Turns follow their answers by the conversation's think time, sessions by the user's.
    let gaps: Vec<f64> = turns
        .windows(2)
        .map(|w| w[1].arrived_s - (w[0].arrived_s + w[0].latency_s))
        .collect();
    for (i, g) in gaps.iter().enumerate() {
        let think = if i == 3 { 5.0 } else { 2.0 };
        assert!((g - think).abs() < 1e-6, "gap {i}: {g} s");
    }
}

#[test]
fn the_second_turn_of_a_conversation_hits_the_first_turn_up_to_its_last_whole_block() {
    // As above, one session of 2 turns: turn 1 computes 350 prompt tokens and 19 of its 20
    // answer tokens (the last is sampled, never run through the model): 369 tokens, 23 whole
    // blocks of 16 = 368 tokens. Turn 1 itself hits nothing (the system prompt is new).
    let src = chat(2, 2);
    let (_, serving) = serve(&src, 3);
    assert_eq!(serving.prefill_tokens_saved, 368);
    assert_eq!(serving.prompt_tokens_admitted, 350 + 420);
}

/// Random reuse workloads on a small KV cache (T4, int8) so that caching, eviction and
/// preemption all happen.
fn reuse_experiment() -> impl Strategy<Value = String> {
    (
        1u32..4,
        prop_oneof![Just(None), (1u32..3000).prop_map(Some)],
        prop_oneof![Just(None), (1u32..40).prop_map(Some)],
        prop_oneof![Just(None), (1u32..6, 0u32..3).prop_map(Some)],
        prop_oneof![Just(None), (0.1f64..1.0, 1u32..8, 1u32..2000).prop_map(Some)],
        1u32..3000,
        1u32..600,
        prop_oneof![Just("vllm"), Just("sglang"), Just("tensorrt-llm")],
        any::<bool>(),
    )
        .prop_map(
            |(rate, system, pool, conv, groups, p, o, engine, timeout)| {
                let mut w = String::new();
                if let Some(s) = system {
                    w += &format!("system-prompt = {s}\n");
                }
                match (conv, pool) {
                    (Some((turns, think)), _) => {
                        w += &format!(
                            "conversation = {{ turns = {turns}, think-time = \"{think}s\" }}\n"
                        )
                    }
                    (None, Some(n)) => {
                        w += &format!("prompt-pool = {{ size = {n}, order = \"random\" }}\n")
                    }
                    (None, None) => {}
                }
                if let Some((share, groups, tokens)) = groups {
                    w += &format!(
                        "prefix-groups = {{ share = {share:.3}, groups = {groups}, tokens = {tokens} }}\n"
                    );
                }
                let client = if timeout {
                    "[client]\ntimeout = \"20s\"\ncancel-on-timeout = true\n"
                } else {
                    ""
                };
                format!(
                    "name = \"prop\"\nduration = \"5m\"\n[workload]\narrival = {{ kind = \"poisson\", rate = \"{rate}/s\" }}\nprompt-tokens = {{ kind = \"uniform\", min = 1, max = {} }}\noutput-tokens = {{ kind = \"uniform\", min = 1, max = {} }}\n{w}[endpoint]\ngpu = \"t4\"\nmodel = \"llama-2-7b\"\nquantization = \"int8\"\nengine = {{ kind = \"{engine}\", max-model-len = 2048 }}\n{client}",
                    p + 1,
                    o + 1
                )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn with_prompt_reuse_every_request_ends_once_kv_and_cache_stay_within_capacity_and_runs_repeat(src in reuse_experiment(), seed in any::<u64>()) {
        let (stats, serving) = serve(&src, seed);
        prop_assert!(stats.is_conserved(), "arrived {} outcomes {:?} in flight {}\n{}", stats.arrived, stats.outcomes, stats.in_flight, src);
        // `kv_peak` is what running sequences hold plus the cached blocks nobody holds.
        prop_assert!(serving.kv_peak <= serving.kv_replica_capacity, "KV {} > {}\n{}", serving.kv_peak, serving.kv_replica_capacity, src);
        prop_assert!(serving.prefill_tokens_saved <= serving.prompt_tokens_admitted);
        let (again, serving_again) = serve(&src, seed);
        prop_assert_eq!(format!("{stats:?}"), format!("{again:?}"));
        prop_assert_eq!(serving.prefill_tokens_saved, serving_again.prefill_tokens_saved);
    }
}

#[test]
fn a_replayed_trace_with_a_conversation_column_reuses_each_conversation_s_previous_turn() {
    // Conversation "a": 100 prompt tokens and a 20-token answer, then 150 = 100 + 20 + 30 new.
    // The first turn leaves 100 + 19 computed tokens: 7 whole blocks of 16 (112 tokens), which
    // the second turn hits. Conversation "b" is new.
    let dir = tempfile::tempdir().expect("temp dir");
    crate::support::write(
        dir.path(),
        "chat.csv",
        "timestamp,conversation,prompt_tokens,output_tokens\n0,a,100,20\n10,a,150,10\n20,b,50,5\n",
    );
    let src = r#"name = "traced chat"
requests = 3
[workload]
arrival = { kind = "trace", file = "chat.csv" }
[endpoint]
gpu = "a100-80gb"
model = "llama-2-7b"
engine = { kind = "vllm" }
"#;
    let path = crate::support::write(dir.path(), "t.toml", src);
    let exp = capsim::experiment::parse(src, &path).expect("parses");
    assert!(exp.warnings.is_empty(), "{:?}", exp.warnings);
    let Service::Llm(svc) = &exp.scenario.service else {
        panic!("an LLM endpoint")
    };
    let (_, serving, _) = capsim::domain::run::simulate_llm(&exp.scenario, svc, 1);
    assert_eq!(serving.prefill_tokens_saved, 112);
    assert_eq!(serving.prompt_tokens_admitted, 300);
}

#[test]
fn a_replayed_trace_without_conversations_says_its_requests_share_no_prefix() {
    let path = crate::support::root().join("experiments/traces/azure-conv-replay.toml");
    let src = std::fs::read_to_string(&path).expect("shipped experiment");
    let exp = capsim::experiment::parse(&src, &path).expect("parses");
    let said: Vec<String> = exp.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        said.iter().any(|w| w.contains("names no conversations")),
        "{said:?}"
    );
}
