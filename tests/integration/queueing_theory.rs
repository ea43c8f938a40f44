//! The simulator against exact queueing theory, computed here from first principles.
//!
//! M/M/c: Erlang C. M/M/c+D (deterministic patience T): the M/M/n+G results of
//! Baccelli & Hébuterne (1981) and Zeltyn & Mandelbaum (2005). With the virtual waiting time V
//! (the wait an arrival with infinite patience would face), level crossing gives the density
//! of V on (0, ∞) as `g(x) = λ p_{n-1} exp(λ H(x) − nμ x)` with `H(x) = ∫_0^x P(τ > u) du`,
//! here `H(x) = min(x, T)`. Then, with `J = ∫_0^∞ exp(λ H(x) − nμ x) dx`:
//! `P(W > 0) = λ p_{n-1} J`, `P(abandon) = ∫ g(x) P(τ < x) dx`, `E[wait] = ∫ g(x) min(x, T) dx`,
//! and `p_{n-1}` follows from normalisation with the birth-death probabilities below n.
//! Without patience (T = ∞) the same expressions reduce to Erlang C, which is checked below.
//!
//! Run lengths: each case is long enough that the root-mean-square relative error of its
//! estimates, measured over ten seeds, is about 0.67 %, so the 2 % tolerance sits at three
//! standard errors. Rare waits (16 servers at ρ = 0.5) and heavy traffic (ρ = 0.95) need the most
//! customers.

use crate::support::{assert_close, real, run};

/// Exact stationary figures of an M/M/n(+D) queue.
#[derive(Debug)]
struct Exact {
    p_wait: f64,
    p_abandon: f64,
    mean_wait: f64,
}

fn factorial_term(a: f64, k: u32) -> f64 {
    (1..=k).fold(1.0, |acc, i| acc * a / f64::from(i))
}

/// M/M/n with arrival rate λ, service rate μ and deterministic patience `patience` (None: ∞).
fn mmn_patience(n: u32, lambda: f64, mu: f64, patience: Option<f64>) -> Exact {
    let a = lambda / mu;
    let below: f64 = (0..n).map(|k| factorial_term(a, k)).sum();
    let q = factorial_term(a, n - 1); // p_{n-1} / p_0
    let nmu = f64::from(n) * mu;
    let d = lambda - nmu;
    let (j, wait_integral, tail) = match patience {
        None => {
            assert!(d < 0.0, "unstable queue without patience");
            (1.0 / -d, 1.0 / (d * d), 0.0)
        }
        Some(t) => {
            let e = (d * t).exp();
            let head = if d == 0.0 { t } else { (e - 1.0) / d };
            let wait_head = if d == 0.0 {
                t * t / 2.0
            } else {
                (e * (d * t - 1.0) + 1.0) / (d * d)
            };
            (head + e / nmu, wait_head + t * e / nmu, e / nmu)
        }
    };
    let p0 = 1.0 / (below + lambda * q * j);
    Exact {
        p_wait: lambda * p0 * q * j,
        p_abandon: lambda * p0 * q * tail,
        mean_wait: lambda * p0 * q * wait_integral,
    }
}

/// Erlang C in its textbook form: P(wait) and Wq for c servers at offered load a = λ/μ, μ = 1.
fn erlang_c(c: u32, a: f64) -> (f64, f64) {
    let below: f64 = (0..c).map(|k| factorial_term(a, k)).sum();
    let top = factorial_term(a, c) * f64::from(c) / (f64::from(c) - a);
    let p = top / (below + top);
    (p, p / (f64::from(c) - a))
}

#[test]
fn exact_formulas_reproduce_the_published_reference_values() {
    let mm4 = mmn_patience(4, 3.2, 1.0, None);
    assert!((mm4.p_wait - 0.5964).abs() < 5e-5, "{mm4:?}");
    assert!((mm4.mean_wait - 0.7455).abs() < 5e-5, "{mm4:?}");
    let mm4d = mmn_patience(4, 4.4, 1.0, Some(1.0));
    assert!((mm4d.p_abandon - 0.1801).abs() < 5e-5, "{mm4d:?}");
    assert!((mm4d.p_wait - 0.7737).abs() < 5e-5, "{mm4d:?}");
    assert!((mm4d.mean_wait - 0.4966).abs() < 5e-5, "{mm4d:?}");
}

#[test]
fn the_patience_formulas_reduce_to_erlang_c_without_patience() {
    for c in [1, 4, 16] {
        for rho in [0.5, 0.8, 0.95] {
            let a = f64::from(c) * rho;
            let general = mmn_patience(c, a, 1.0, None);
            let (p, wq) = erlang_c(c, a);
            assert!((general.p_wait - p).abs() < 1e-12 && (general.mean_wait - wq).abs() < 1e-9);
            // A very long patience is the same as none.
            let long = mmn_patience(c, a, 1.0, Some(1e4));
            assert!((long.p_wait - p).abs() < 1e-9 && long.p_abandon < 1e-12);
        }
    }
}

fn experiment(servers: u32, lambda: f64, requests: u64, patience: Option<f64>) -> String {
    let queue_timeout = patience.map_or(String::new(), |t| format!("queue-timeout = \"{t}s\""));
    format!(
        r#"
name = "theory"
requests = {requests}
warm-up = "1h"
[workload]
arrival = {{ kind = "poisson", rate = "{lambda}/s" }}
[endpoint]
servers = {servers}
service-time = {{ kind = "exponential", mean = "1s" }}
{queue_timeout}
"#
    )
}

/// Simulates one case and checks it against the exact figures, Little's law and utilisation.
fn check(servers: u32, rho: f64, patience: Option<f64>, requests: u64) {
    let lambda = f64::from(servers) * rho;
    let exact = mmn_patience(servers, lambda, 1.0, patience);
    let m = run(
        &experiment(servers, lambda, requests, patience),
        0x51ED + u64::from(servers),
    );
    let case = format!(
        "M/M/{servers}{} at rho {rho}",
        patience.map_or(String::new(), |t| format!("+D(T={t}s)"))
    );
    assert_eq!(m.arrived, requests);
    assert_eq!(m.unfinished, 0, "{case}: a counted run drains");
    assert_close(
        &format!("{case}: mean wait"),
        real(&m, "wait_mean_s"),
        exact.mean_wait,
        0.02,
    );
    assert_close(
        &format!("{case}: P(wait > 0)"),
        real(&m, "wait_prob"),
        exact.p_wait,
        0.02,
    );
    let abandoned = m.queue_timeout as f64 / m.arrived as f64;
    if patience.is_some() {
        assert_close(
            &format!("{case}: P(abandon)"),
            abandoned,
            exact.p_abandon,
            0.02,
        );
    } else {
        assert_eq!(m.queue_timeout, 0);
    }
    // Little's law on the queue: Lq = λ × Wq, both measured on the same sample path.
    let lambda_measured = m.arrived as f64 / real(&m, "window_s");
    assert_close(
        &format!("{case}: Little's law"),
        real(&m, "queue_mean"),
        lambda_measured * real(&m, "wait_mean_s"),
        0.01,
    );
    // Served work per server: λ (1 − P(abandon)) / (c μ).
    let expected_utilisation = rho * (1.0 - exact.p_abandon);
    assert_close(
        &format!("{case}: utilisation"),
        real(&m, "utilization"),
        expected_utilisation,
        0.02,
    );
}

#[test]
fn mm1_matches_erlang_c_at_half_load() {
    check(1, 0.5, None, 2_000_000);
}

#[test]
fn mm1_matches_erlang_c_at_eighty_percent() {
    check(1, 0.8, None, 4_000_000);
}

#[test]
fn mm1_matches_erlang_c_in_heavy_traffic() {
    check(1, 0.95, None, 50_000_000);
}

#[test]
fn mm4_matches_erlang_c_at_half_load() {
    check(4, 0.5, None, 6_000_000);
}

#[test]
fn mm4_matches_erlang_c_at_eighty_percent() {
    check(4, 0.8, None, 5_000_000);
}

#[test]
fn mm4_matches_erlang_c_in_heavy_traffic() {
    check(4, 0.95, None, 50_000_000);
}

#[test]
fn mm16_matches_erlang_c_at_half_load() {
    check(16, 0.5, None, 150_000_000);
}

#[test]
fn mm16_matches_erlang_c_at_eighty_percent() {
    check(16, 0.8, None, 10_000_000);
}

#[test]
fn mm16_matches_erlang_c_in_heavy_traffic() {
    check(16, 0.95, None, 70_000_000);
}

#[test]
fn mm4_with_half_second_patience_matches_the_exact_model_below_saturation() {
    check(4, 0.9, Some(0.5), 2_000_000);
}

#[test]
fn mm4_with_one_second_patience_matches_the_exact_model_below_saturation() {
    check(4, 0.9, Some(1.0), 4_000_000);
}

#[test]
fn mm4_with_half_second_patience_matches_the_exact_model_in_overload() {
    check(4, 1.1, Some(0.5), 2_000_000);
}

#[test]
fn mm4_with_one_second_patience_matches_the_exact_model_in_overload() {
    check(4, 1.1, Some(1.0), 2_000_000);
}

#[test]
fn capacity_at_a_failed_rate_slo_matches_the_exact_mmc_with_deterministic_patience_within_1_percent()
 {
    // M/M/4+D, μ = 1/s, patience 1 s: the highest λ with P(abandon) ≤ 5 %, from the exact
    // formula by bisection, against capsim's search on the simulator (failed_rate counts the
    // abandoned requests: they end `queue_timeout`).
    let (servers, patience, target) = (4, 1.0, 0.05);
    let (mut lo, mut hi) = (0.1, 20.0);
    while hi - lo > 1e-9 {
        let mid = (lo + hi) / 2.0;
        if mmn_patience(servers, mid, 1.0, Some(patience)).p_abandon <= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let exact = lo;
    let src = format!(
        "{}[slo]\nfailed-rate = \"5%\"\n",
        experiment(servers, 3.0, 500_000, Some(patience))
    );
    let exp = crate::support::parse(&src);
    let found = capsim::runner::capacity_at_slo(&exp, 11, 3, 0.002).unwrap();
    let rates = found.rates();
    assert_eq!(rates.len(), 3);
    let mean = rates.iter().sum::<f64>() / 3.0;
    assert_close("capacity at P(abandon) <= 5 %", mean, exact, 0.01);
    // Each search brackets the crossing it reports.
    for r in &found.runs {
        assert!(r.rate.unwrap() < r.missed_at.unwrap());
        assert!(r.missed_at.unwrap() / r.rate.unwrap() - 1.0 <= 0.002 + 1e-12);
    }
}
