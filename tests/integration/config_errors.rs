//! Bad input: one case per validation rule, each asserting the exact message a user reads.

use std::path::Path;

use capsim::experiment;

use crate::support::{capsim, write};

const BASE: &str = r#"name = "bad"
seed = 1
duration = "10m"

[workload]
arrival = { kind = "poisson", rate = "3/s" }

[endpoint]
servers = 4
service-time = { kind = "exponential", mean = "1s" }
"#;

/// BASE with the first `from` replaced by `to`.
fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from:?} is not in the base file");
    BASE.replacen(from, to, 1)
}

/// BASE with `extra` appended.
fn plus(extra: &str) -> String {
    format!("{BASE}{extra}\n")
}

/// Asserts every case's message, reporting all that differ at once.
fn check_messages(cases: &[(&str, String, &str)]) {
    let mut failures = Vec::new();
    for (case, src, expected) in cases {
        let got = message(src);
        if got != *expected {
            failures.push(format!(
                "{case}:\n  expected: {expected:?}\n  got:      {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn message(src: &str) -> String {
    match experiment::parse(src, Path::new("bad.toml")) {
        Ok(_) => panic!("accepted a bad file:\n{src}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_base_file_of_these_cases_is_valid() {
    experiment::parse(BASE, Path::new("bad.toml")).expect("valid");
}

#[test]
fn each_rule_reports_file_line_key_and_exact_message() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "negative rate",
            with(r#"rate = "3/s""#, r#"rate = "-2/s""#),
            "bad.toml:6: `workload.arrival.rate`: the rate must be positive, found \"-2/s\"\n  hint: write a rate with a unit, like \"3/s\", \"180/min\" or \"2000/h\"",
        ),
        (
            "zero rate",
            with(r#"rate = "3/s""#, r#"rate = "0/s""#),
            "bad.toml:6: `workload.arrival.rate`: the rate must be positive, found \"0/s\"\n  hint: write a rate with a unit, like \"3/s\", \"180/min\" or \"2000/h\"",
        ),
        (
            "rate without a unit",
            with(r#"rate = "3/s""#, "rate = 3"),
            "bad.toml:6: `workload.arrival.rate`: a rate needs a unit, found the bare number 3\n  hint: write it as a string, e.g. \"3/s\"",
        ),
        (
            "rate with an unknown unit",
            with(r#"rate = "3/s""#, r#"rate = "3/fortnight""#),
            "bad.toml:6: `workload.arrival.rate`: unknown unit \"fortnight\" in \"3/fortnight\"; expected one of /ms, /s, /m (or /min), /h, /d\n  hint: write a rate with a unit, like \"3/s\", \"180/min\" or \"2000/h\"",
        ),
        (
            "zero servers",
            with("servers = 4", "servers = 0"),
            "bad.toml:9: `endpoint.servers`: must be between 1 and 1000000, found 0",
        ),
        (
            "negative servers",
            with("servers = 4", "servers = -3"),
            "bad.toml:9: `endpoint.servers`: must be between 1 and 1000000, found -3",
        ),
        (
            "warm-up as long as the duration",
            with(
                r#"duration = "10m""#,
                "duration = \"10m\"\nwarm-up = \"10m\"",
            ),
            "bad.toml:4: `warm-up`: the warm-up (10m) must be shorter than the duration (10m)\n  hint: nothing would be measured; shorten `warm-up` or lengthen `duration`",
        ),
        (
            "unknown key",
            with("servers = 4", "servrs = 4"),
            "bad.toml:9:1: `endpoint.servrs`: unknown field `servrs`, expected one of `servers`, `service-time`, `gpu`, `instance`, `model`, `quantization`, `quantization-group-size`, `tensor-parallel`, `replicas`, `load-balancer`, `engine`, `profile`, `cold-start`, `billing`, `scaling`, `queue-capacity`, `queue-timeout`, `max-concurrent-requests`, `keep-alive`, `scheduling`\n  hint: did you mean `servers`?",
        ),
        (
            "snake_case key",
            plus(r#"queue_timeout = "1s""#),
            "bad.toml:11:1: `endpoint.queue_timeout`: unknown field `queue_timeout`, expected one of `servers`, `service-time`, `gpu`, `instance`, `model`, `quantization`, `quantization-group-size`, `tensor-parallel`, `replicas`, `load-balancer`, `engine`, `profile`, `cold-start`, `billing`, `scaling`, `queue-capacity`, `queue-timeout`, `max-concurrent-requests`, `keep-alive`, `scheduling`\n  hint: keys are kebab-case: write `queue-timeout`, not `queue_timeout`",
        ),
        (
            "unknown key in [client]",
            plus("[client]\nretries = 3"),
            "bad.toml:12:1: `client.retries`: unknown field `retries`, expected one of `timeout`, `read-timeout`, `connect-timeout`, `deadline`, `streaming`, `cancel-on-timeout`, `cancel-on-disconnect`, `retry`\n  hint: see the experiment-file reference in the README for every key",
        ),
        (
            "unknown unit",
            plus(r#"queue-timeout = "30 parsecs""#),
            "bad.toml:11: `endpoint.queue-timeout`: unknown unit \"parsecs\" in \"30 parsecs\"; expected one of ns, us, ms, s, m (or min), h, d\n  hint: units: ns, us, ms, s, m (or min), h, d; fractions like \"0.5s\" are fine",
        ),
        (
            "duration without a unit",
            plus("queue-timeout = 30"),
            "bad.toml:11: `endpoint.queue-timeout`: a duration needs a unit, found the bare number 30\n  hint: write it as a string with a unit, e.g. \"30s\" or \"30ms\"",
        ),
        (
            "malformed TOML",
            with(r#"rate = "3/s" }"#, r#"rate = "3/s""#),
            "bad.toml:8:1: invalid TOML: missing key for inline table element, expected `,`\n  hint: the mistake may be on an earlier line: look for an unclosed `{`, `[` or quote",
        ),
        (
            "wrong type",
            with("servers = 4", r#"servers = "four""#),
            "bad.toml:9:11: `endpoint.servers`: invalid type: string \"four\", expected an integer",
        ),
        (
            "negative seed",
            with("seed = 1", "seed = -1"),
            "bad.toml:2:8: `seed`: invalid value: integer `-1`, expected a whole number, 0 or more",
        ),
        (
            "missing section",
            BASE.split("[endpoint]").next().unwrap().to_string(),
            "bad.toml:1:1: missing field `endpoint`",
        ),
        (
            "neither duration nor requests",
            with("duration = \"10m\"\n", ""),
            "bad.toml: the file sets neither `duration` nor `requests`\n  hint: add e.g. `duration = \"1h\"` or `requests = 100000` at the top",
        ),
        (
            "both duration and requests",
            with(r#"duration = "10m""#, "duration = \"10m\"\nrequests = 100"),
            "bad.toml:4: `requests`: give either `duration` or `requests`, not both\n  hint: `duration` stops the clock; `requests` counts arrivals and lets them finish",
        ),
        (
            "zero requests",
            with(r#"duration = "10m""#, "requests = 0"),
            "bad.toml:3: `requests`: must be at least 1, found 0",
        ),
        (
            "empty name",
            with(r#"name = "bad""#, r#"name = " ""#),
            "bad.toml:1: `name`: must not be empty\n  hint: name the experiment, e.g. name = \"T4 at 3/s\"",
        ),
        (
            "unknown arrival kind",
            with(r#"kind = "poisson""#, r#"kind = "poison""#),
            "bad.toml:6: `workload.arrival.kind`: unknown arrival kind \"poison\"; expected one of poisson, constant, gamma, on-off, diurnal, schedule, trace\n  hint: did you mean \"poisson\"?",
        ),
        (
            "unknown distribution kind",
            with(r#"kind = "exponential""#, r#"kind = "expo""#),
            "bad.toml:10: `endpoint.service-time.kind`: unknown distribution kind \"expo\"; expected one of exponential, deterministic, uniform, lognormal, gamma, empirical",
        ),
        (
            "parameter of another distribution",
            with(r#"mean = "1s" }"#, r#"mean = "1s", sigma = 0.5 }"#),
            "bad.toml:10: `endpoint.service-time.sigma`: `sigma` does not apply to an exponential distribution\n  hint: an exponential distribution takes: mean",
        ),
        (
            "misspelt distribution parameter",
            with(r#"mean = "1s" }"#, r#"meen = "1s" }"#),
            "bad.toml:10: `endpoint.service-time.meen`: `meen` does not apply to an exponential distribution\n  hint: did you mean `mean`? (an exponential distribution takes: mean)",
        ),
        (
            "distribution without a kind",
            with(
                r#"{ kind = "exponential", mean = "1s" }"#,
                r#"{ mean = "1s" }"#,
            ),
            "bad.toml:10: `endpoint.service-time`: needs a `kind`\n  hint: the distribution kind: one of exponential, deterministic, uniform, lognormal, gamma, empirical",
        ),
        (
            "distribution parameter of the wrong type",
            with(
                r#"{ kind = "exponential", mean = "1s" }"#,
                r#"{ kind = "empirical", values = [["1s"], true] }"#,
            ),
            "bad.toml:10:48: `endpoint.service-time.values[0]`: invalid type: sequence, expected a string such as \"30s\" or \"3/s\", or a number",
        ),
        (
            "misspelt arrival key",
            with(r#"rate = "3/s""#, r#"raet = "3/s""#),
            "bad.toml:6: `workload.arrival.raet`: `raet` is not a key of poisson arrivals\n  hint: did you mean `rate`? (poisson arrivals take: rate)",
        ),
        (
            "key of another arrival kind",
            with(r#"rate = "3/s""#, r#"rate = "3/s", cv = 2"#),
            "bad.toml:6: `workload.arrival.cv`: applies only to kind = \"gamma\", not poisson",
        ),
        (
            "missing distribution parameter",
            with(
                r#"{ kind = "exponential", mean = "1s" }"#,
                r#"{ kind = "uniform", min = "1s" }"#,
            ),
            "bad.toml:10: `endpoint.service-time`: a uniform distribution needs `max`\n  hint: a uniform distribution takes: min, max",
        ),
        (
            "uniform bounds reversed",
            with(
                r#"{ kind = "exponential", mean = "1s" }"#,
                r#"{ kind = "uniform", min = "2s", max = "1s" }"#,
            ),
            "bad.toml:10: `endpoint.service-time`: min (2) must be less than max (1) (values in seconds)",
        ),
        (
            "lognormal with sigma and p99",
            with(
                r#"{ kind = "exponential", mean = "1s" }"#,
                r#"{ kind = "lognormal", median = "1s", sigma = 0.5, p99 = "5s" }"#,
            ),
            "bad.toml:10: `endpoint.service-time`: a lognormal distribution needs exactly one of `sigma` and `p99`\n  hint: give the spread either as sigma (of ln X) or as the 99th percentile",
        ),
        (
            "unitless parameter given as text",
            with(
                r#"{ kind = "exponential", mean = "1s" }"#,
                r#"{ kind = "lognormal", median = "1s", sigma = "0.5" }"#,
            ),
            "bad.toml:10: `endpoint.service-time.sigma`: expected a plain number, found the string \"0.5\"\n  hint: this parameter has no unit; write it without quotes, e.g. 0.5",
        ),
        (
            "empty empirical list",
            with(
                r#"{ kind = "exponential", mean = "1s" }"#,
                r#"{ kind = "empirical", values = [] }"#,
            ),
            "bad.toml:10: `endpoint.service-time`: the list of values is empty (values in seconds)",
        ),
        (
            "bad item in an empirical list",
            with(
                r#"{ kind = "exponential", mean = "1s" }"#,
                r#"{ kind = "empirical", values = ["1s", "2 parsecs"] }"#,
            ),
            "bad.toml:10: `endpoint.service-time.values[1]`: unknown unit \"parsecs\" in \"2 parsecs\"; expected one of ns, us, ms, s, m (or min), h, d\n  hint: units: ns, us, ms, s, m (or min), h, d; fractions like \"0.5s\" are fine",
        ),
        (
            "negative queue capacity",
            plus("queue-capacity = -1"),
            "bad.toml:11: `endpoint.queue-capacity`: must be zero or more, found -1\n  hint: leave it out for an unlimited queue; 0 means no request may wait",
        ),
        (
            "zero queue timeout",
            plus(r#"queue-timeout = "0s""#),
            "bad.toml:11: `endpoint.queue-timeout`: must be longer than zero, found \"0s\"",
        ),
        (
            "negative client timeout",
            plus("[client]\ntimeout = \"-5s\""),
            "bad.toml:12: `client.timeout`: a duration cannot be negative, found \"-5s\"",
        ),
        (
            "cancel-on-timeout without a timeout",
            plus("[client]\ncancel-on-timeout = true"),
            "bad.toml:12: `client.cancel-on-timeout`: has no effect without a timeout (`timeout`, `connect-timeout`, `deadline` or a `[gateway]` timeout)\n  hint: set `timeout = \"30s\"` in [client], or remove `cancel-on-timeout`",
        ),
    ];
    check_messages(&cases);
}

#[test]
fn a_missing_file_is_named_with_the_reason() {
    let err = experiment::load(Path::new("no/such/experiment.toml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no/such/experiment.toml: cannot read the experiment file: No such file or directory (os error 2)\n  hint: check the path; shipped examples are under experiments/"
    );
}

#[test]
fn empirical_files_are_read_relative_to_the_experiment_and_bad_lines_are_located() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    write(
        &dir.path().join("data"),
        "ok.txt",
        "# seconds\n0.5\n\n1.5\n",
    );
    write(&dir.path().join("data"), "bad.txt", "0.5\n1.5\nslow\n");
    let exp = |file: &str| {
        with(
            r#"{ kind = "exponential", mean = "1s" }"#,
            &format!(r#"{{ kind = "empirical", file = "data/{file}" }}"#),
        )
    };
    let good = write(dir.path(), "good.toml", &exp("ok.txt"));
    let loaded = experiment::load(&good).expect("relative path resolves against the file's folder");
    let capsim::domain::Service::Servers(spec) = &loaded.scenario.service else {
        panic!("a servers endpoint")
    };
    assert_eq!(spec.service_time.mean(), 1.0);

    let bad = write(dir.path(), "bad.toml", &exp("bad.txt"));
    let err = experiment::load(&bad).unwrap_err();
    assert_eq!(err.file, dir.path().join("data").join("bad.txt"));
    assert_eq!(err.line, Some(3u32));
    assert_eq!(err.message, "expected a number of seconds, found \"slow\"");
}

#[test]
fn no_input_panics_on_arbitrary_bytes() {
    // Truncations of a valid file and garbage must give errors, never panics.
    for cut in 0..BASE.len() {
        let _ = experiment::parse(&BASE[..cut], Path::new("cut.toml"));
    }
    for junk in [
        "\u{0}",
        "[[[",
        "name = \"x\"\n[workload]\narrival = 5",
        "= = =",
        "servers = 1e999",
        "duration = \"1e400s\"",
    ] {
        let _ = experiment::parse(junk, Path::new("junk.toml"));
    }
}

#[test]
fn validate_exits_with_code_2_and_reports_every_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.toml", &with("servers = 4", "servers = 0"));
    let b = write(
        dir.path(),
        "b.toml",
        &with(r#"rate = "3/s""#, r#"rate = "-2/s""#),
    );
    let out = capsim().arg("validate").arg(&a).arg(&b).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("a.toml:9: `endpoint.servers`"), "{stderr}");
    assert!(
        stderr.contains("b.toml:6: `workload.arrival.rate`"),
        "{stderr}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

    /// Random lines built from the file's own vocabulary: many are valid TOML with odd values,
    /// which exercises validation rather than only the TOML parser.
    #[test]
    fn random_experiment_text_gives_an_error_or_an_experiment_never_a_panic(
        lines in proptest::collection::vec(
            proptest::sample::select(vec![
                "name = \"x\"", "seed = 1", "seed = -5", "duration = \"1s\"", "duration = \"0s\"",
                "requests = 3", "requests = -1", "warm-up = \"2s\"", "warm-up = 5", "[workload]",
                "arrival = { kind = \"poisson\", rate = \"3/s\" }", "arrival = { kind = \"constant\", rate = \"1e12/s\" }",
                "arrival = { kind = \"constant\", rate = \"1e-300/s\" }", "arrival = { kind = \"poisson\" }",
                "[endpoint]", "servers = 1", "servers = 99999999999", "queue-capacity = 0",
                "service-time = { kind = \"gamma\", mean = \"1s\", cv = 1e-200 }",
                "service-time = { kind = \"lognormal\", median = \"1ns\", sigma = 1e300 }",
                "service-time = { kind = \"uniform\", min = \"0s\", max = \"1ns\" }",
                "service-time = { kind = \"empirical\", values = [\"0s\"] }",
                "service-time = { kind = \"exponential\", mean = \"1e30d\" }",
                "queue-timeout = \"1ns\"", "[client]", "timeout = \"1 parsecs\"", "cancel-on-timeout = true",
                "= = =", "[[endpoint]]", "\"", "x.y.z = 1", "servers = 1.5", "rate = \"\"",
            ]),
            0..14,
        )
    ) {
        let _ = experiment::parse(&lines.join("\n"), Path::new("fuzz.toml"));
    }
}

const LLM_BASE: &str = r#"name = "bad"
seed = 1
duration = "10m"

[workload]
arrival = { kind = "poisson", rate = "1/s" }
prompt-tokens = { kind = "lognormal", median = 400, p99 = 2000 }
output-tokens = { kind = "lognormal", median = 200, p99 = 1000 }

[endpoint]
gpu = "t4"
model = "llama-2-7b"
quantization = "int8"
"#;

#[test]
fn llm_endpoint_rules_report_their_exact_messages() {
    let with = |from: &str, to: &str| {
        assert!(LLM_BASE.contains(from), "{from:?}");
        LLM_BASE.replacen(from, to, 1)
    };
    experiment::parse(LLM_BASE, Path::new("bad.toml")).expect("the base is valid");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "a model that does not fit the GPU",
            with(r#"quantization = "int8""#, r#"quantization = "fp16""#),
            "bad.toml:12: `endpoint.model`: llama-2-7b at fp16 does not fit 1 x t4: it needs 12.6 GiB of weights + 1.5 GiB runtime + 2.0 GiB KV cache for one 4096-token sequence = 16.1 GiB, but each GPU offers 13.5 GiB (15.0 GiB x memory utilisation 0.9)\n  hint: would fit: bnb-int8, int8, int4, nf4 on t4; fp16 on a100-40gb, a100-80gb, a10g, h100-pcie, h100-sxm, h200, l4, l40s; tensor-parallel = 2 (2 x t4); or lower engine.max-model-len",
        ),
        (
            "unknown GPU",
            with(r#"gpu = "t4""#, r#"gpu = "t5""#),
            "bad.toml:11: `endpoint.gpu`: unknown GPU \"t5\"; expected one of a100-40gb, a100-80gb, a10g, h100-pcie, h100-sxm, h200, l4, l40s, t4\n  hint: did you mean \"t4\"?",
        ),
        (
            "a format the GPU cannot run",
            with(r#"quantization = "int8""#, r#"quantization = "fp8""#),
            "bad.toml:13: `endpoint.quantization`: NVIDIA T4 does not run FP8 (W8A8) (turing architecture)\n  hint: `capsim list quantizations` shows where each scheme runs",
        ),
        (
            "a setting of another engine",
            with(
                r#"quantization = "int8""#,
                "quantization = \"int8\"\nengine = { kind = \"vllm\", max-batch = 4 }",
            ),
            "bad.toml:14: `endpoint.engine.max-batch`: `max-batch` is not a setting of the vllm engine\n  hint: the vllm engine takes: version, class, max-num-seqs, max-num-batched-tokens, chunked-prefill, gpu-memory-utilization, block-size, prefix-caching, kv-cache-dtype, max-model-len",
        ),
        (
            "a misspelt engine setting",
            with(
                r#"quantization = "int8""#,
                "quantization = \"int8\"\nengine = { kind = \"tgi\", max-concurent-requests = 4 }",
            ),
            "bad.toml:14: `endpoint.engine.max-concurent-requests`: `max-concurent-requests` is not a setting of the tgi engine\n  hint: did you mean `max-concurrent-requests`? (the tgi engine takes: version, class, max-concurrent-requests, max-batch-prefill-tokens, waiting-served-ratio, max-waiting-tokens, cuda-memory-fraction, block-size, kv-cache-dtype, max-model-len)",
        ),
        (
            "an engine setting of the wrong type",
            with(
                r#"quantization = "int8""#,
                "quantization = \"int8\"\nengine = { kind = \"sglang\", max-num-seqs = \"64\" }",
            ),
            "bad.toml:14:29: `endpoint.engine.max-num-seqs`: invalid type: string \"64\", expected an integer",
        ),
        (
            "a token count written as text",
            with("median = 400, p99 = 2000", r#"median = "400", p99 = 2000"#),
            "bad.toml:7: `workload.prompt-tokens.median`: a token count is a plain number, found the string \"400\"\n  hint: write it without quotes, e.g. median = 400",
        ),
        (
            "servers and an LLM at once",
            with(r#"gpu = "t4""#, "servers = 2\ngpu = \"t4\""),
            "bad.toml:12: `endpoint.gpu`: an endpoint is either `servers` with a `service-time`, or an LLM; not both\n  hint: remove `servers` and `service-time` to simulate the LLM, or this key to keep plain servers",
        ),
        (
            "open and closed loop at once",
            with(
                r#"arrival = { kind = "poisson", rate = "1/s" }"#,
                "arrival = { kind = \"poisson\", rate = \"1/s\" }\nusers = { count = 2, think-time = { kind = \"exponential\", mean = \"1s\" } }",
            ),
            "bad.toml:7: `workload.users`: give either `arrival` (open loop) or `users` (closed loop), not both\n  hint: `arrival` sends requests whatever happens; `users` each wait for an answer before the next",
        ),
        (
            "tensor parallelism that does not split the heads",
            with(
                r#"quantization = "int8""#,
                "quantization = \"int8\"\ntensor-parallel = 3",
            ),
            "bad.toml:14: `endpoint.tensor-parallel`: 32 attention heads cannot be split over 3 GPUs",
        ),
        (
            "a falling measured curve",
            with(
                "gpu = \"t4\"\nmodel = \"llama-2-7b\"\nquantization = \"int8\"",
                r#"profile = { batch = [1, 8], step-latency = ["60ms", "30ms"], prefill-tokens-per-s = 5000 }"#,
            ),
            "bad.toml:11: `endpoint.profile`: step latency must not fall as the batch grows, found 0.03 s at batch 8 after 0.06 s at batch 1",
        ),
        (
            "a memory utilisation above one",
            with(
                r#"quantization = "int8""#,
                "quantization = \"int8\"\nengine = { kind = \"vllm\", gpu-memory-utilization = 1.5 }",
            ),
            "bad.toml:14: `endpoint.engine.gpu-memory-utilization`: must be more than 0 and at most 1, found 1.5",
        ),
        (
            "an inline model with impossible heads",
            with(
                r#"model = "llama-2-7b""#,
                r#"model = { id = "mine", params = 7_000_000_000, layers = 32, hidden = 4096, heads = 32, kv-heads = 5, head-dim = 128, intermediate = 11008, vocab = 32000, max-context = 4096 }"#,
            ),
            "bad.toml:12: `endpoint.model.kv-heads`: kv-heads (5) must divide heads (32)",
        ),
        (
            "a negative bandwidth",
            with(
                r#"quantization = "int8""#,
                "quantization = \"int8\"\ncold-start = { load-gb-s = -2 }",
            ),
            "bad.toml:14: `endpoint.cold-start.load-gb-s`: must be positive, found -2",
        ),
        (
            "a jitter of 100 % or more",
            with(
                r#"quantization = "int8""#,
                "quantization = \"int8\"\ncold-start = { jitter = 1.5 }",
            ),
            "bad.toml:14: `endpoint.cold-start.jitter`: must be at least 0 and less than 1, found 1.5",
        ),
        (
            "an instance size the catalog does not offer",
            with(
                r#"quantization = "int8""#,
                "quantization = \"int8\"\nbilling = { provider = \"gcp\", size = \"x8\" }",
            ),
            "bad.toml:14: `endpoint.billing`: no gcp x8 price for t4 in the catalog\n  hint: offered: aws x1, aws x4, gcp x1; or set usd-per-hour",
        ),
    ];
    check_messages(&cases);
}

#[test]
fn policy_rules_report_their_exact_messages() {
    let llm = |extra: &str| format!("{LLM_BASE}{extra}\n");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "connect timeout longer than the deadline",
            llm("[client]\nconnect-timeout = \"2m\"\ndeadline = \"1m\""),
            "bad.toml:15: `client.connect-timeout`: the connect timeout (2m) is longer than the total deadline (1m)\n  hint: the deadline would always fire first; shorten `connect-timeout` or lengthen `deadline`",
        ),
        (
            "a connect timeout that cannot fire: a proxy accepts connections while cold",
            llm(
                "[endpoint.scaling]\nmin-replicas = 0\nwhen-unavailable = \"queue\"\n[client]\nconnect-timeout = \"10s\"",
            ),
            "bad.toml:18: `client.connect-timeout`: never fires: every connection is accepted at once, by a replica or, while none is ready, by the proxy in front that holds the request (its read timeout runs from arrival)\n  hint: for a bare server scaled to zero with nothing listening, set endpoint.scaling.cold-connections = \"unanswered\" and when-unavailable = \"queue\"; otherwise remove `connect-timeout`",
        ),
        (
            "nothing listening, yet requests are answered 503",
            llm("[endpoint.scaling]\nmin-replicas = 0\ncold-connections = \"unanswered\""),
            "bad.toml:16: `endpoint.scaling.cold-connections`: \"unanswered\" needs when-unavailable = \"queue\": with nothing listening, nothing can answer HTTP 503 or hold a request\n  hint: requests then wait for a replica (or the client's connect-timeout); \"accepted\" (the default) is a proxy in front that holds them",
        ),
        (
            "nothing listening behind a gateway",
            llm(
                "[endpoint.scaling]\nmin-replicas = 0\nwhen-unavailable = \"queue\"\ncold-connections = \"unanswered\"\n[gateway]\ntimeout = \"60s\"",
            ),
            "bad.toml:17: `endpoint.scaling.cold-connections`: cannot be \"unanswered\" behind a [gateway]: the gateway accepts the client's connection itself and holds the request\n  hint: leave cold-connections at \"accepted\" (the default) with a gateway, or remove [gateway] for a bare server",
        ),
        (
            "unknown cold-connections behaviour",
            llm("[endpoint.scaling]\nmin-replicas = 0\ncold-connections = \"accept\""),
            "bad.toml:16: `endpoint.scaling.cold-connections`: unknown connection behaviour \"accept\"; expected one of accepted, unanswered\n  hint: did you mean \"accepted\"?",
        ),
        (
            "retry on a gateway timeout without a gateway",
            llm("[client]\nread-timeout = \"30s\"\nretry = { on = [\"504\"] }"),
            "bad.toml:16: `client.retry.on[0]`: \"504\" cannot happen in this experiment: there is no `[gateway]` timeout\n  hint: remove it from the list, or configure what produces it",
        ),
        (
            "retry on 429 when nothing refuses",
            llm("[client]\nretry = { on = [\"429\", \"timeout\"] }"),
            "bad.toml:15: `client.retry.on[0]`: \"429\" cannot happen in this experiment: nothing refuses requests (no `queue-capacity`, `max-concurrent-requests` or TGI engine)\n  hint: remove it from the list, or configure what produces it",
        ),
        (
            "retry on an outcome that is not an attempt's",
            llm("[client]\nread-timeout = \"30s\"\nretry = { on = [\"expired\"] }"),
            "bad.toml:16: `client.retry.on[0]`: unknown attempt outcome \"expired\"; expected one of client_timeout, connect_timeout, gateway_timeout, queue_timeout, rejected, unavailable, timeout, 429, 503, 504, 5xx\n  hint: only the failures of one attempt are retried or counted: timeouts, 429, 503, 504",
        ),
        (
            "a retry with nothing to retry",
            llm("[client.retry]\nmax-attempts = 3"),
            "bad.toml:14: `client.retry`: no failure this experiment can produce would be retried\n  hint: configure a timeout, a queue limit or a scale-to-zero endpoint, or remove the retry",
        ),
        (
            "backoff cap below the first delay",
            llm("[client]\nread-timeout = \"30s\"\nretry = { backoff = \"10s\", cap = \"5s\" }"),
            "bad.toml:16: `client.retry.cap`: the cap (5s) is shorter than the first delay (10s)\n  hint: the cap bounds the growing delay; make it at least `backoff`",
        ),
        (
            "unknown jitter",
            llm("[client]\nread-timeout = \"30s\"\nretry = { jitter = \"fulll\" }"),
            "bad.toml:16: `client.retry.jitter`: unknown jitter \"fulll\"; expected one of full, equal, none\n  hint: did you mean \"full\"?",
        ),
        (
            "timeout and read-timeout both",
            llm("[client]\ntimeout = \"30s\"\nread-timeout = \"30s\""),
            "bad.toml:15: `client.timeout`: give `timeout` or `read-timeout`, not both\n  hint: they are the same setting; `read-timeout` is the clearer name",
        ),
        (
            "a breaker with async jobs",
            llm("[async]\n[breaker]\nfailures = 5"),
            "bad.toml:15: `breaker`: does not apply to async jobs\n  hint: a breaker protects synchronous callers; remove [breaker] or [async]",
        ),
        (
            "a read timeout with async jobs",
            llm("[client]\nread-timeout = \"30s\"\n[async]\nttl = \"10m\""),
            "bad.toml:15: `client.read-timeout`: does not apply to async jobs: submitting returns a job id at once\n  hint: use `[async] ttl` to bound how long a job may wait, or remove [async] for synchronous calls",
        ),
        (
            "class shares that do not add up",
            llm(
                "[[classes]]\nname = \"premium\"\nshare = 0.2\n[[classes]]\nname = \"free\"\nshare = 0.7",
            ),
            "bad.toml:14: `classes`: the shares add up to 0.9, not 1\n  hint: each class takes its share of the workload's requests; make them sum to 1",
        ),
        (
            "priority scheduling with one class",
            LLM_BASE.replace(
                "quantization = \"int8\"",
                "quantization = \"int8\"\nscheduling = \"priority\"",
            ),
            "bad.toml:14: `endpoint.scheduling`: orders client classes, but there is only one\n  hint: add [[classes]] entries (e.g. premium and free), or remove `scheduling`",
        ),
        (
            "keep-alive without streaming",
            LLM_BASE.replace(
                "quantization = \"int8\"",
                "quantization = \"int8\"\nkeep-alive = \"15s\"",
            ),
            "bad.toml:14: `endpoint.keep-alive`: has no effect: no client streams\n  hint: keep-alive comments are sent on streamed (SSE) responses; set `streaming = true` in [client]",
        ),
        (
            "a fallback that does not fit its GPU",
            llm(
                "[client]\nread-timeout = \"30s\"\n[breaker]\n[breaker.fallback]\ngpu = \"t4\"\nmodel = \"llama-2-13b\"\nquantization = \"fp16\"",
            ),
            "bad.toml:19: `breaker.fallback.model`: llama-2-13b at fp16 does not fit 1 x t4: it needs 24.2 GiB of weights + 1.5 GiB runtime + 3.1 GiB KV cache for one 4096-token sequence = 28.9 GiB, but each GPU offers 13.5 GiB (15.0 GiB x memory utilisation 0.9)\n  hint: would fit: int4, nf4 on t4; fp16 on a100-40gb, a100-80gb, h100-pcie, h100-sxm, h200, l40s; tensor-parallel = 4 (4 x t4); or lower engine.max-model-len",
        ),
        (
            "a gateway without a timeout",
            llm("[gateway]"),
            "bad.toml:14: `gateway`: needs a `timeout`\n  hint: e.g. timeout = \"60s\" (a typical proxy idle timeout; answers HTTP 504)",
        ),
        (
            "policies on a plain servers endpoint",
            plus("[client]\nstreaming = true"),
            "bad.toml:12: `client.streaming`: needs an LLM endpoint (`gpu` and `model`, or a `profile`)\n  hint: a `servers` endpoint answers whole and makes no tokens; timeouts, retries, [gateway], [breaker], [async], [[classes]] and scheduling = \"priority\" work with it",
        ),
    ];
    check_messages(&cases);
}

#[test]
fn malformed_trace_rows_are_reported_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |rows: &str| {
        let p = write(
            dir.path(),
            "t.csv",
            &format!("TIMESTAMP,ContextTokens,GeneratedTokens\n{rows}"),
        );
        capsim::experiment::read_trace(&p).unwrap_err().to_string()
    };
    let path = dir.path().join("t.csv");
    let p = path.display();
    assert_eq!(
        trace("2023-11-16 18:15:46.68,374,44\n2023-11-16 18:15:50.99,396\n"),
        format!(
            "{p}:3: expected 3 fields, found 2\n  hint: each row: a time, prompt tokens and output tokens, as in the header"
        )
    );
    assert_eq!(
        trace("2023-11-16 18:15:46.68,374,44\n2023-11-16 18:15:50.99,396,-1\n"),
        format!(
            "{p}:3: expected output tokens (a whole number), found \"-1\"\n  hint: each row: a time, prompt tokens and output tokens, as in the header"
        )
    );
    assert_eq!(
        trace("2023-11-16 18:15:46.68,374,44\n2023-11-16 18:15:40.00,396,5\n"),
        format!(
            "{p}:3: the time goes backwards; rows must be in time order\n  hint: each row: a time, prompt tokens and output tokens, as in the header"
        )
    );
    assert_eq!(
        trace("16/11/2023,374,44\n"),
        format!(
            "{p}:2: cannot read the time \"16/11/2023\"\n  hint: each row: a time, prompt tokens and output tokens, as in the header"
        )
    );
    // Through an experiment file, the trace's own line is named.
    let exp = "name = \"t\"\nseed = 1\nduration = \"1h\"\n[workload]\narrival = { kind = \"trace\", file = \"t.csv\" }\n[endpoint]\nservers = 1\nservice-time = { kind = \"exponential\", mean = \"1s\" }\n";
    let f = write(dir.path(), "e.toml", exp);
    trace("x,1,1\n");
    let err = experiment::load(&f).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{p}:2: cannot read the time")),
        "{err}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]

    #[test]
    fn no_trace_file_makes_the_reader_panic(body in "(TIMESTAMP,ContextTokens,GeneratedTokens\n)?[0-9 :.,\n-]{0,200}") {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.csv", &body);
        // Either a trace or an error naming the file; never a panic.
        match capsim::experiment::read_trace(&p) {
            Ok(t) => proptest::prop_assert!(!t.rows.is_empty()),
            Err(e) => proptest::prop_assert!(e.to_string().starts_with(&p.display().to_string())),
        }
    }
}
