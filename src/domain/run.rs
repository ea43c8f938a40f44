//! One run: the clients of a scenario in front of its endpoints, whatever their kind.

use super::client::{self, ClientOutput, System};
use super::llm_service::LlmService;
use super::policy::Policies;
use super::scenario::{EndpointSpec, Observe, Scenario, Service};
use super::servers::ServerPool;
use super::serving::families;
use super::serving::pool::LlmEndpoint;
use super::stats::{RunStats, ServingStats};
use crate::sim::{RngStreams, SimTime};

/// What one run measured.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// Request counts, latencies, waits, utilisation.
    pub stats: RunStats,
    /// Token-level serving statistics, for LLM services.
    pub serving: Option<ServingStats>,
    /// Per-class statistics, attempts, breaker and async queue: for LLM services, and for plain
    /// servers whose clients do more than wait with one timeout (see [`uses_client_policies`]).
    pub clients: Option<ClientOutput>,
}

/// Whether the policies go beyond one class of clients that send once and wait (with a
/// timeout or not): retries, a gateway, a breaker, async jobs or several classes. Plain-server
/// runs report attempt and breaker figures only then, so a bare M/G/c study keeps its
/// queueing-theory columns alone.
pub fn uses_client_policies(p: &Policies) -> bool {
    p.classes.len() > 1
        || p.classes.iter().any(|c| {
            let p = &c.policy;
            p.retry.is_some() || p.deadline.is_some() || p.connect_timeout.is_some()
        })
        || p.gateway_timeout.is_some()
        || p.breaker.is_some()
        || p.async_queue.is_some()
}

/// The most requests per second the primary endpoint can complete, from its service model:
/// servers over the mean service time for plain servers; for an LLM endpoint, the most
/// replicas it may have times [`LlmService::capacity_rps`] of the workload's average request
/// (weighted over client classes), counting repeated prompt prefixes as cached when the engine
/// keeps a prefix cache. An upper bound: see [`LlmService::capacity_rps`].
pub fn capacity_rps(scenario: &Scenario) -> Option<f64> {
    match &scenario.service {
        Service::Servers(spec) => {
            let mean = spec.service_time.mean();
            (mean > 0.0).then(|| f64::from(spec.servers) / mean)
        }
        Service::Llm(svc) => {
            let (mut prompt, mut output, mut cached) = (0.0, 0.0, 0.0);
            for c in &scenario.policies.classes {
                let body = c
                    .prompt_tokens
                    .as_ref()
                    .unwrap_or(&svc.prompt_tokens)
                    .mean();
                let out = c
                    .output_tokens
                    .as_ref()
                    .unwrap_or(&svc.output_tokens)
                    .mean();
                let r = &c.reuse;
                let system: f64 = r.system.iter().map(|(t, s)| f64::from(*t) * s).sum();
                let docs = r
                    .groups
                    .as_ref()
                    .map_or(0.0, |g| g.share * f64::from(g.tokens));
                let whole = system + docs + body;
                // A pool's prompts and a conversation's history repeat whole; an upper bound
                // takes them as cached.
                let repeated = if r.pool.is_some() || r.conversation.is_some() {
                    whole
                } else {
                    system + docs
                };
                prompt += c.share * whole;
                output += c.share * out;
                if svc.prefix_caching {
                    cached += c.share * repeated;
                }
            }
            let one = svc.capacity_rps(prompt, output, cached);
            Some(one * f64::from(svc.replicas.max(1)))
        }
    }
}

/// The breaker's fallback endpoint, when it is of the kind `pick` takes.
fn fallback<'a, T>(
    scenario: &'a Scenario,
    pick: impl Fn(&'a Service) -> Option<&'a T>,
) -> Option<&'a T> {
    let fb = scenario.policies.breaker.as_ref()?.fallback.as_deref()?;
    // Validation gives a fallback of the primary's kind; another kind cannot be driven by the
    // same clients (requests of plain servers carry no tokens).
    Some(pick(fb).expect("the fallback endpoint is of the primary's kind"))
}

/// Runs `scenario` once with `seed` and returns what was measured, keeping no time series nor
/// request records.
pub fn simulate(scenario: &Scenario, seed: u64) -> RunOutput {
    simulate_observed(scenario, seed, Observe::default())
}

/// Runs `scenario` once with `seed`, keeping what `observe` asks for, and returns what was
/// measured. Plain servers keep no time series; their request records are kept when their
/// client figures are reported (see [`uses_client_policies`]).
pub fn simulate_observed(scenario: &Scenario, seed: u64, observe: Observe) -> RunOutput {
    match &scenario.service {
        Service::Servers(spec) => {
            let (stats, _, clients) = simulate_servers(scenario, spec, seed, observe);
            RunOutput {
                stats,
                serving: None,
                clients: uses_client_policies(&scenario.policies).then_some(clients),
            }
        }
        Service::Llm(svc) => {
            let (stats, serving, clients) = simulate_llm_observed(scenario, svc, seed, observe);
            RunOutput {
                stats,
                serving: Some(serving),
                clients: Some(clients),
            }
        }
    }
}

/// Runs a scenario of plain servers `spec` once with `seed`.
fn simulate_servers(
    scenario: &Scenario,
    spec: &EndpointSpec,
    seed: u64,
    observe: Observe,
) -> (RunStats, Option<ServingStats>, ClientOutput) {
    let streams = RngStreams::new(seed);
    let window_start = SimTime::ZERO + scenario.warm_up;
    let lanes = client::lanes(&scenario.policies).1.len();
    let mut eps = vec![ServerPool::new(spec, &streams, 0, window_start, lanes)];
    if let Some(fb) = fallback(scenario, |s| match s {
        Service::Servers(f) => Some(f),
        Service::Llm(_) => None,
    }) {
        eps.push(ServerPool::new(fb, &streams, 1, window_start, lanes));
    }
    client::run(System::new(scenario, eps, None, &streams).keeping_requests(observe.requests))
}

/// Runs an LLM scenario once with `seed`, keeping no time series nor request records.
pub fn simulate_llm(
    scenario: &Scenario,
    svc: &LlmService,
    seed: u64,
) -> (RunStats, ServingStats, ClientOutput) {
    simulate_llm_observed(scenario, svc, seed, Observe::default())
}

/// Runs an LLM scenario once with `seed`, keeping what `observe` asks for.
pub fn simulate_llm_observed(
    scenario: &Scenario,
    svc: &LlmService,
    seed: u64,
    observe: Observe,
) -> (RunStats, ServingStats, ClientOutput) {
    let streams = RngStreams::new(seed);
    let weights = client::lanes(&scenario.policies).1;
    let engine = |s: &LlmService| families::of(&s.engine);
    let mut eps = vec![LlmEndpoint::new(
        scenario,
        svc,
        &streams,
        0,
        weights.clone(),
        engine(svc),
        observe.timeseries,
    )];
    if let Some(fb) = fallback(scenario, |s| match s {
        Service::Llm(f) => Some(f.as_ref()),
        Service::Servers(_) => None,
    }) {
        eps.push(LlmEndpoint::new(
            scenario,
            fb,
            &streams,
            1,
            weights,
            engine(fb),
            observe.timeseries,
        ));
    }
    let tokens = Some((&svc.prompt_tokens, &svc.output_tokens));
    let system = System::new(scenario, eps, tokens, &streams).keeping_requests(observe.requests);
    let (stats, serving, clients) = client::run(system);
    (
        stats,
        serving.expect("an LLM endpoint measures serving statistics"),
        clients,
    )
}
