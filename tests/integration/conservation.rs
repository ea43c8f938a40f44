//! Every request is accounted for: arrived = ok + client_timeout + queue_timeout + rejected +
//! unfinished, over random configurations.

use proptest::prelude::*;

use crate::support::run;

fn service() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..3000).prop_map(|ms| format!(r#"{{ kind = "exponential", mean = "{ms}ms" }}"#)),
        (0u32..3000).prop_map(|ms| format!(r#"{{ kind = "deterministic", value = "{ms}ms" }}"#)),
        (0u32..1000, 1u32..3000).prop_map(|(a, b)| format!(
            r#"{{ kind = "uniform", min = "{a}ms", max = "{}ms" }}"#,
            a + b
        )),
        (1u32..2000, 1u32..20).prop_map(|(ms, s)| format!(
            r#"{{ kind = "lognormal", median = "{ms}ms", sigma = {} }}"#,
            f64::from(s) / 10.0
        )),
        (1u32..2000, 1u32..30).prop_map(|(ms, cv)| format!(
            r#"{{ kind = "gamma", mean = "{ms}ms", cv = {} }}"#,
            f64::from(cv) / 10.0
        )),
        proptest::collection::vec(0u32..3000, 1..5).prop_map(|v| format!(
            r#"{{ kind = "empirical", values = [{}] }}"#,
            v.iter()
                .map(|ms| format!("\"{ms}ms\""))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    ]
}

prop_compose! {
    fn experiment()(
        servers in 1u32..6,
        rate_centi in 10u32..1000,
        constant in any::<bool>(),
        service in service(),
        capacity in proptest::option::of(0u32..6),
        queue_timeout_ms in proptest::option::of(1u32..3000),
        client_timeout_ms in proptest::option::of(1u32..4000),
        cancel in any::<bool>(),
        by_count in any::<bool>(),
        length in 1u32..1500,
        warm_up_s in 0u32..20,
    ) -> String {
        let kind = if constant { "constant" } else { "poisson" };
        let stop = if by_count { format!("requests = {length}") } else { format!("duration = \"{}s\"", length + warm_up_s) };
        let mut s = format!(
            "name = \"prop\"\n{stop}\nwarm-up = \"{warm_up_s}s\"\n[workload]\narrival = {{ kind = \"{kind}\", rate = \"{}/s\" }}\n[endpoint]\nservers = {servers}\nservice-time = {service}\n",
            f64::from(rate_centi) / 100.0
        );
        if let Some(c) = capacity { s += &format!("queue-capacity = {c}\n"); }
        if let Some(t) = queue_timeout_ms { s += &format!("queue-timeout = \"{t}ms\"\n"); }
        if let Some(t) = client_timeout_ms {
            s += &format!("[client]\ntimeout = \"{t}ms\"\ncancel-on-timeout = {cancel}\n");
        }
        s
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn every_arrival_ends_in_exactly_one_outcome_or_is_unfinished(src in experiment(), seed in any::<u64>()) {
        let m = run(&src, seed);
        prop_assert_eq!(
            m.arrived,
            m.ok + m.client_timeout + m.queue_timeout + m.rejected + m.unfinished,
            "{}", src
        );
        if src.contains("requests =") {
            prop_assert_eq!(m.unfinished, 0, "a counted run drains: {}", src);
        }
        if !src.contains("queue-timeout") { prop_assert_eq!(m.queue_timeout, 0); }
        if !src.contains("[client]") { prop_assert_eq!(m.client_timeout, 0); prop_assert_eq!(m.wasted_work_s, Some(0.0)); }
        if !src.contains("queue-capacity") { prop_assert_eq!(m.rejected, 0); }
        if let Some(u) = m.utilization { prop_assert!((0.0..=1.0 + 1e-12).contains(&u), "utilization {}", u); }
        if let Some(p) = m.wait_prob { prop_assert!((0.0..=1.0).contains(&p)); }
        if let (Some(p50), Some(p99)) = (m.latency_p50_s, m.latency_p99_s) { prop_assert!(p50 <= p99); }
    }
}
