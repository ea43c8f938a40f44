//! Validation of the policy sections: `[client]` (timeouts and `[client.retry]`), `[gateway]`,
//! `[breaker]` (with `[breaker.fallback]`), `[async]` and `[[classes]]`, and the endpoint keys
//! they interact with. Contradictions are refused here, where the key can be named.

use super::file::{ClientFile, ExperimentFile, RetryFile};
use super::read::{Ctx, DistReader, unknown_kind};
use super::reuse::ReuseKeys;
use crate::domain::Outcome;
use crate::domain::Service;
use crate::domain::policy::{
    AsyncSpec, BreakerSpec, ClientClass, ClientPolicy, Discipline, Jitter, JobOrder, OutcomeSet,
    Policies, RetryPolicy,
};
use crate::domain::reuse::Reuse;
use crate::domain::serving::{ColdConnections, LlmService, WhenUnavailable};
use crate::error::ConfigError;
use crate::sim::SimDuration;

/// Outcomes an attempt can end in, by name, and HTTP-style shorthands for groups of them.
const ATTEMPT_NAMES: [&str; 11] = [
    "client_timeout",
    "connect_timeout",
    "gateway_timeout",
    "queue_timeout",
    "rejected",
    "unavailable",
    "timeout",
    "429",
    "503",
    "504",
    "5xx",
];

/// The attempt outcomes `word` stands for.
fn outcomes_named(word: &str) -> Option<Vec<Outcome>> {
    use Outcome::*;
    Some(match word {
        "429" => vec![Rejected],
        "503" => vec![Unavailable, QueueTimeout],
        "504" => vec![GatewayTimeout],
        "5xx" => vec![Unavailable, QueueTimeout, GatewayTimeout],
        "timeout" => vec![ClientTimeout, ConnectTimeout],
        other => match Outcome::from_name(other) {
            Some(
                o @ (ClientTimeout | ConnectTimeout | GatewayTimeout | QueueTimeout | Rejected
                | Unavailable),
            ) => vec![o],
            _ => return None,
        },
    })
}

/// What the rest of the experiment makes possible: which attempt outcomes can happen.
struct Possible {
    gateway: bool,
    queue_timeout: bool,
    rejects: bool,
    unavailable: bool,
    /// Whether a request can wait unconnected: held while nothing listens.
    unconnected: bool,
}

impl Possible {
    /// What `svc` makes possible (behind a gateway when `gateway`); `fallback_unconnected`: the
    /// breaker's fallback endpoint can hold requests unconnected.
    fn of(svc: &LlmService, gateway: bool, fallback_unconnected: bool) -> Self {
        let when = svc.lifecycle.as_ref().map(|l| l.when_unavailable);
        Possible {
            gateway,
            queue_timeout: svc.queue_timeout.is_some(),
            rejects: svc.queue_capacity.is_some()
                || svc.max_concurrent.is_some()
                || svc.engine.refuses_when_full(),
            unavailable: matches!(
                when,
                Some(WhenUnavailable::Reject | WhenUnavailable::Hold(_))
            ),
            unconnected: fallback_unconnected || unconnected(svc),
        }
    }

    /// Why `o` cannot happen for a client with `p`, if it cannot.
    fn why_not(&self, o: Outcome, p: &ClientPolicy) -> Option<&'static str> {
        use Outcome::*;
        match o {
            ClientTimeout if p.read_timeout.is_none() && p.deadline.is_none() => {
                Some("the client has no `read-timeout` or `deadline`")
            }
            ConnectTimeout if p.connect_timeout.is_none() => {
                Some("the client has no `connect-timeout`")
            }
            ConnectTimeout if !self.unconnected => Some(
                "requests are never held unconnected (only with endpoint.scaling.cold-connections = \"unanswered\")",
            ),
            GatewayTimeout if !self.gateway => Some("there is no `[gateway]` timeout"),
            QueueTimeout if !self.queue_timeout => Some("the endpoint has no `queue-timeout`"),
            Rejected if !self.rejects => Some(
                "nothing refuses requests (no `queue-capacity`, `max-concurrent-requests` or TGI engine)",
            ),
            Unavailable if !self.unavailable => Some(
                "replicas are always ready (no `[endpoint.scaling]` that rejects or holds with a timeout)",
            ),
            _ => None,
        }
    }
}

/// Whether `svc` can hold a request without a connection: scaled to zero with nothing
/// listening.
fn unconnected(svc: &LlmService) -> bool {
    svc.lifecycle.as_ref().is_some_and(|l| {
        l.cold_connections == ColdConnections::Unanswered
            && matches!(
                l.when_unavailable,
                WhenUnavailable::Hold(_) | WhenUnavailable::Queue
            )
    })
}

/// A list of outcome names at `key`, each possible for a client with `p` (all classes' policies
/// are checked by the caller for the breaker).
fn outcome_set(
    ctx: &Ctx<'_>,
    key: &str,
    words: &[String],
    possible: &Possible,
    policies: &[&ClientPolicy],
) -> Result<OutcomeSet, ConfigError> {
    if words.is_empty() {
        return Err(ctx
            .error(key, "must name at least one outcome")
            .with_hint(format!(
                "e.g. [\"429\", \"503\", \"timeout\"]; names: {}",
                ATTEMPT_NAMES.join(", ")
            )));
    }
    let mut set = OutcomeSet::EMPTY;
    for (i, w) in words.iter().enumerate() {
        let item = format!("{key}[{i}]");
        let Some(os) = outcomes_named(w) else {
            return Err(unknown_kind(
                ctx,
                &item,
                "attempt outcome",
                w,
                &ATTEMPT_NAMES,
            )
            .with_hint("only the failures of one attempt are retried or counted: timeouts, 429, 503, 504"));
        };
        // A group (e.g. "503") is fine if any of its members can happen for some class.
        let can = os
            .iter()
            .any(|&o| policies.iter().any(|p| possible.why_not(o, p).is_none()));
        if !can {
            let reason = possible.why_not(os[0], policies[0]).unwrap_or("");
            return Err(ctx
                .error(
                    &item,
                    format!("\"{w}\" cannot happen in this experiment: {reason}"),
                )
                .with_hint("remove it from the list, or configure what produces it"));
        }
        for o in os {
            set = set.with(o);
        }
    }
    Ok(set)
}

fn count_in(ctx: &Ctx<'_>, key: &str, v: i64, lo: i64, hi: i64) -> Result<u32, ConfigError> {
    if (lo..=hi).contains(&v) {
        Ok(v as u32)
    } else {
        Err(ctx.error(key, format!("must be between {lo} and {hi}, found {v}")))
    }
}

fn retry(
    ctx: &Ctx<'_>,
    key: &str,
    raw: &RetryFile,
    possible: &Possible,
    p: &ClientPolicy,
) -> Result<RetryPolicy, ConfigError> {
    let max_attempts = match raw.max_attempts {
        Some(n) => count_in(ctx, &format!("{key}.max-attempts"), n, 1, 100)?,
        None => 3,
    };
    let default_on: Vec<String> = ["429", "503", "504", "timeout"]
        .iter()
        .filter(|w| {
            outcomes_named(w)
                .unwrap_or_default()
                .iter()
                .any(|&o| possible.why_not(o, p).is_none())
        })
        .map(|w| w.to_string())
        .collect();
    let on = match &raw.on {
        Some(words) => outcome_set(ctx, &format!("{key}.on"), words, possible, &[p])?,
        None if default_on.is_empty() => {
            return Err(ctx
                .error(key, "no failure this experiment can produce would be retried")
                .with_hint("configure a timeout, a queue limit or a scale-to-zero endpoint, or remove the retry"));
        }
        None => outcome_set(ctx, &format!("{key}.on"), &default_on, possible, &[p])?,
    };
    let base = match &raw.backoff {
        Some(v) => ctx.duration(&format!("{key}.backoff"), v)?,
        None => SimDuration::from_secs(1),
    };
    let multiplier = raw.multiplier.unwrap_or(2.0);
    if !(1.0..=100.0).contains(&multiplier) {
        return Err(ctx
            .error(
                &format!("{key}.multiplier"),
                format!("must be between 1 and 100, found {multiplier}"),
            )
            .with_hint("2 doubles the delay after every failed attempt; 1 keeps it constant"));
    }
    let cap = match &raw.cap {
        Some(v) => ctx.duration(&format!("{key}.cap"), v)?,
        None => SimDuration::from_secs(60).max(base),
    };
    if cap < base {
        return Err(ctx
            .error(
                &format!("{key}.cap"),
                format!("the cap ({cap}) is shorter than the first delay ({base})"),
            )
            .with_hint("the cap bounds the growing delay; make it at least `backoff`"));
    }
    let jitter = match raw.jitter.as_deref() {
        None | Some("full") => Jitter::Full,
        Some("equal") => Jitter::Equal,
        Some("none") => Jitter::None,
        Some(other) => {
            return Err(unknown_kind(
                ctx,
                &format!("{key}.jitter"),
                "jitter",
                other,
                &["full", "equal", "none"],
            ));
        }
    };
    let budget_milli = match raw.budget {
        None => None,
        Some(b) if b > 0.0 && b <= 1.0 => Some((b * 1000.0).round() as u32),
        Some(b) => {
            return Err(ctx
                .error(
                    &format!("{key}.budget"),
                    format!("must be more than 0 and at most 1, found {b}"),
                )
                .with_hint(
                    "0.2 lets retries be at most 20 % of first attempts over the last minute",
                ));
        }
    };
    Ok(RetryPolicy {
        max_attempts,
        on,
        base,
        multiplier_milli: (multiplier * 1000.0).round() as u32,
        cap,
        jitter,
        budget_milli,
    })
}

fn client(
    ctx: &Ctx<'_>,
    key: &str,
    raw: &ClientFile,
    possible: &Possible,
) -> Result<ClientPolicy, ConfigError> {
    let dur = |k: &str, v: &Option<super::file::Scalar>| {
        v.as_ref()
            .map(|v| ctx.positive_duration(&format!("{key}.{k}"), v))
            .transpose()
    };
    if raw.timeout.is_some() && raw.read_timeout.is_some() {
        return Err(ctx
            .error(
                &format!("{key}.timeout"),
                "give `timeout` or `read-timeout`, not both",
            )
            .with_hint("they are the same setting; `read-timeout` is the clearer name"));
    }
    if raw.cancel_on_timeout.is_some() && raw.cancel_on_disconnect.is_some() {
        return Err(ctx
            .error(
                &format!("{key}.cancel-on-timeout"),
                "give `cancel-on-timeout` or `cancel-on-disconnect`, not both",
            )
            .with_hint("they are the same setting"));
    }
    let read_timeout = match &raw.timeout {
        Some(_) => dur("timeout", &raw.timeout)?,
        None => dur("read-timeout", &raw.read_timeout)?,
    };
    let connect_timeout = dur("connect-timeout", &raw.connect_timeout)?;
    let deadline = dur("deadline", &raw.deadline)?;
    if let (Some(c), Some(d)) = (connect_timeout, deadline)
        && c > d
    {
        return Err(ctx
            .error(&format!("{key}.connect-timeout"), format!("the connect timeout ({c}) is longer than the total deadline ({d})"))
            .with_hint("the deadline would always fire first; shorten `connect-timeout` or lengthen `deadline`"));
    }
    // Connections are accepted at once unless nothing listens while the endpoint is cold: a
    // connect timeout that cannot fire would only hide that the read timeout runs instead.
    if connect_timeout.is_some() && !possible.unconnected {
        return Err(ctx
            .error(&format!("{key}.connect-timeout"), "never fires: every connection is accepted at once, by a replica or, while none is ready, by the proxy in front that holds the request (its read timeout runs from arrival)")
            .with_hint("for a bare server scaled to zero with nothing listening, set endpoint.scaling.cold-connections = \"unanswered\" and when-unavailable = \"queue\"; otherwise remove `connect-timeout`"));
    }
    let cancel = raw.cancel_on_disconnect.or(raw.cancel_on_timeout);
    let mut p = ClientPolicy {
        connect_timeout,
        read_timeout,
        deadline,
        streaming: raw.streaming.unwrap_or(false),
        cancel_on_disconnect: cancel.unwrap_or(false),
        retry: None,
    };
    if cancel.is_some()
        && read_timeout.is_none()
        && connect_timeout.is_none()
        && deadline.is_none()
        && !possible.gateway
    {
        let k = if raw.cancel_on_timeout.is_some() {
            "cancel-on-timeout"
        } else {
            "cancel-on-disconnect"
        };
        ctx.no_effect(ctx
            .error(&format!("{key}.{k}"), "has no effect without a timeout (`timeout`, `connect-timeout`, `deadline` or a `[gateway]` timeout)")
            .with_hint(format!("set `timeout = \"30s\"` in [{key}], or remove `{k}`")))?;
    }
    if let Some(r) = &raw.retry {
        p.retry = Some(retry(ctx, &format!("{key}.retry"), r, possible, &p)?);
    }
    Ok(p)
}

/// The first key set that only an LLM endpoint gives meaning to: streaming tokens, keep-alive
/// comments on streams, a router's concurrency cap, fair-share scheduling of replicas' batches,
/// or per-class token counts. Plain servers take every other client policy.
fn llm_only_key_set(raw: &ExperimentFile) -> Option<String> {
    let mut keys: Vec<(String, bool)> = vec![
        ("client.streaming".into(), raw.client.streaming.is_some()),
        (
            "endpoint.max-concurrent-requests".into(),
            raw.endpoint.max_concurrent_requests.is_some(),
        ),
        (
            "endpoint.keep-alive".into(),
            raw.endpoint.keep_alive.is_some(),
        ),
        (
            "endpoint.scheduling".into(),
            raw.endpoint.scheduling.as_deref() == Some("fair"),
        ),
    ];
    for (k, set) in [
        ("system-prompt", raw.workload.system_prompt.is_some()),
        ("prompt-pool", raw.workload.prompt_pool.is_some()),
        ("prefix-groups", raw.workload.prefix_groups.is_some()),
        ("conversation", raw.workload.conversation.is_some()),
    ] {
        keys.push((format!("workload.{k}"), set));
    }
    for (i, c) in raw.classes.iter().flatten().enumerate() {
        if c.system_prompt.is_some()
            || c.prompt_pool.is_some()
            || c.prefix_groups.is_some()
            || c.conversation.is_some()
        {
            keys.push((format!("classes[{i}]"), true));
        }
        keys.push((
            format!("classes[{i}].client.streaming"),
            c.client.as_ref().is_some_and(|o| o.streaming.is_some()),
        ));
        keys.push((
            format!("classes[{i}].prompt-tokens"),
            c.prompt_tokens.is_some(),
        ));
        keys.push((
            format!("classes[{i}].output-tokens"),
            c.output_tokens.is_some(),
        ));
    }
    keys.into_iter().find(|(_, set)| *set).map(|(k, _)| k)
}

/// The policies of `raw`, whose endpoint was validated into `service`; `fallback` builds the
/// breaker's fallback endpoint from its table. Each knob is read by a function of its own below,
/// called in the order the checks always ran, so the first error met is unchanged.
pub(crate) fn policies(
    ctx: &Ctx<'_>,
    raw: &ExperimentFile,
    service: &Service,
    fallback: &dyn Fn(&super::file::EndpointFile) -> Result<Service, ConfigError>,
    tokens: &DistReader<'_>,
) -> Result<Policies, ConfigError> {
    let svc = match service {
        Service::Llm(svc) => Some(svc.as_ref()),
        Service::Servers(_) => {
            if let Some(k) = llm_only_key_set(raw) {
                return Err(ctx
                    .error(
                        &k,
                        "needs an LLM endpoint (`gpu` and `model`, or a `profile`)",
                    )
                    .with_hint(
                        "a `servers` endpoint answers whole and makes no tokens; timeouts, retries, [gateway], [breaker], [async], [[classes]] and scheduling = \"priority\" work with it",
                    ));
            }
            None
        }
    };
    let gateway_timeout = match raw.gateway.as_ref().and_then(|g| g.timeout.as_ref()) {
        Some(v) => Some(ctx.positive_duration("gateway.timeout", v)?),
        None => None,
    };
    if raw.gateway.is_some() && gateway_timeout.is_none() {
        return Err(ctx
            .error("gateway", "needs a `timeout`")
            .with_hint("e.g. timeout = \"60s\" (a typical proxy idle timeout; answers HTTP 504)"));
    }
    if gateway_timeout.is_some() && svc.is_some_and(unconnected) {
        return Err(ctx
            .error(
                "endpoint.scaling.cold-connections",
                "cannot be \"unanswered\" behind a [gateway]: the gateway accepts the client's connection itself and holds the request",
            )
            .with_hint("leave cold-connections at \"accepted\" (the default) with a gateway, or remove [gateway] for a bare server"));
    }
    let fallback_unconnected = raw
        .breaker
        .as_ref()
        .and_then(|b| b.fallback.as_ref())
        .and_then(|f| f.scaling.as_ref())
        .is_some_and(|s| s.cold_connections.as_deref() == Some("unanswered"));
    let possible = match (svc, service) {
        (Some(svc), _) => Possible::of(svc, gateway_timeout.is_some(), fallback_unconnected),
        (None, Service::Servers(spec)) => Possible {
            gateway: gateway_timeout.is_some(),
            queue_timeout: spec.queue_timeout.is_some(),
            rejects: spec.queue_capacity.is_some(),
            unavailable: false,
            unconnected: false,
        },
        (None, Service::Llm(_)) => unreachable!("an LLM service is matched above"),
    };
    let classes = classes(ctx, raw, &possible, tokens)?;
    let discipline = discipline(ctx, raw, classes.len())?;
    let keep_alive = keep_alive(ctx, raw, &classes)?;

    let async_queue = async_queue(ctx, raw, &classes, gateway_timeout)?;

    let breaker = breaker(ctx, raw, service, &classes, &possible, fallback)?;
    Ok(Policies {
        classes,
        gateway_timeout,
        keep_alive,
        breaker,
        async_queue,
        discipline,
    })
}

/// The prompt reuse of `keys`; a replayed trace brings its own prompts.
fn reuse_of(
    ctx: &Ctx<'_>,
    keys: ReuseKeys<'_>,
    replayed: bool,
    written: &dyn Fn(&str) -> String,
) -> Result<Reuse, ConfigError> {
    if replayed && keys.any() {
        let k = [
            "system-prompt",
            "prompt-pool",
            "prefix-groups",
            "conversation",
        ]
        .into_iter()
        .find(|k| match *k {
            "system-prompt" => keys.system.is_some(),
            "prompt-pool" => keys.pool.is_some(),
            "prefix-groups" => keys.groups.is_some(),
            _ => keys.conversation.is_some(),
        })
        .unwrap_or("system-prompt");
        return Err(ctx
            .error(&written(k), "does not apply to a replayed trace: its rows are the prompts")
            .with_hint("replay the trace as it is, or describe the traffic with `arrival` and token distributions"));
    }
    super::reuse::reuse(ctx, keys, written)
}

/// The client classes: one from `[client]`, or one per `[[classes]]` entry with its own
/// overrides.
fn classes(
    ctx: &Ctx<'_>,
    raw: &ExperimentFile,
    possible: &Possible,
    tokens: &DistReader<'_>,
) -> Result<Vec<ClientClass>, ConfigError> {
    let w = &raw.workload;
    let base = ReuseKeys {
        system: w.system_prompt.as_ref(),
        pool: w.prompt_pool.as_ref(),
        groups: w.prefix_groups.as_ref(),
        conversation: w.conversation.as_ref(),
    };
    let replayed = w
        .arrival
        .as_ref()
        .is_some_and(|a| a.kind() == Some("trace"));
    let in_workload = |k: &str| format!("workload.{k}");
    Ok(match &raw.classes {
        None => vec![ClientClass {
            name: "default".into(),
            share: 1.0,
            prompt_tokens: None,
            output_tokens: None,
            policy: client(ctx, "client", &raw.client, possible)?,
            priority: 0,
            weight: 1.0,
            reuse: reuse_of(ctx, base, replayed, &in_workload)?,
        }],
        Some(list) => {
            if list.is_empty() || list.len() > 64 {
                return Err(ctx.error(
                    "classes",
                    format!("needs between 1 and 64 classes, found {}", list.len()),
                ));
            }
            let mut out = Vec::new();
            for (i, c) in list.iter().enumerate() {
                let key = format!("classes[{i}]");
                if c.name.trim().is_empty() || c.name == "all" {
                    return Err(ctx
                        .error(
                            &format!("{key}.name"),
                            format!("\"{}\" cannot name a class", c.name),
                        )
                        .with_hint("\"all\" is the name of the total row; use e.g. \"premium\""));
                }
                if list[..i].iter().any(|o| o.name == c.name) {
                    return Err(ctx.error(
                        &format!("{key}.name"),
                        format!("the class name \"{}\" is used twice", c.name),
                    ));
                }
                if !(c.share > 0.0 && c.share <= 1.0) {
                    return Err(ctx.error(
                        &format!("{key}.share"),
                        format!("must be more than 0 and at most 1, found {}", c.share),
                    ));
                }
                let merged = c
                    .client
                    .as_ref()
                    .map_or(raw.client.clone(), |o| o.over(&raw.client));
                let policy = client(ctx, &format!("{key}.client"), &merged, possible)?;
                let weight = c.weight.unwrap_or(1.0);
                if !(weight.is_finite() && weight > 0.0) {
                    return Err(ctx.error(
                        &format!("{key}.weight"),
                        format!("must be a positive number, found {weight}"),
                    ));
                }
                let own = ReuseKeys {
                    system: c.system_prompt.as_ref(),
                    pool: c.prompt_pool.as_ref(),
                    groups: c.prefix_groups.as_ref(),
                    conversation: c.conversation.as_ref(),
                };
                let written = |k: &str| {
                    let in_class = match k {
                        "system-prompt" => own.system.is_some(),
                        "prompt-pool" => own.pool.is_some(),
                        "prefix-groups" => own.groups.is_some(),
                        _ => own.conversation.is_some(),
                    };
                    if in_class {
                        format!("{key}.{k}")
                    } else {
                        format!("workload.{k}")
                    }
                };
                let reuse = reuse_of(ctx, own.over(base), replayed, &written)?;
                out.push(ClientClass {
                    reuse,
                    name: c.name.clone(),
                    share: c.share,
                    prompt_tokens: c
                        .prompt_tokens
                        .as_ref()
                        .map(|d| tokens(&format!("{key}.prompt-tokens"), d))
                        .transpose()?,
                    output_tokens: c
                        .output_tokens
                        .as_ref()
                        .map(|d| tokens(&format!("{key}.output-tokens"), d))
                        .transpose()?,
                    policy,
                    priority: count_in(
                        ctx,
                        &format!("{key}.priority"),
                        c.priority.unwrap_or(0),
                        0,
                        1000,
                    )?,
                    weight,
                });
            }
            let sum: f64 = out.iter().map(|c| c.share).sum();
            if (sum - 1.0).abs() > 1e-6 {
                return Err(ctx
                    .error(
                        "classes",
                        format!("the shares add up to {}, not 1", (sum * 1e6).round() / 1e6),
                    )
                    .with_hint(
                        "each class takes its share of the workload's requests; make them sum to 1",
                    ));
            }
            out
        }
    })
}

/// `endpoint.scheduling`: how the server orders client classes.
fn discipline(
    ctx: &Ctx<'_>,
    raw: &ExperimentFile,
    classes: usize,
) -> Result<Discipline, ConfigError> {
    let discipline = match raw.endpoint.scheduling.as_deref() {
        None | Some("fifo") => Discipline::Fifo,
        Some("priority") => Discipline::Strict,
        Some("fair") => Discipline::Weighted,
        Some(other) => {
            return Err(unknown_kind(
                ctx,
                "endpoint.scheduling",
                "scheduling",
                other,
                &["fifo", "priority", "fair"],
            ));
        }
    };
    if discipline != Discipline::Fifo && classes < 2 {
        return Err(ctx
            .error(
                "endpoint.scheduling",
                "orders client classes, but there is only one",
            )
            .with_hint("add [[classes]] entries (e.g. premium and free), or remove `scheduling`"));
    }
    Ok(discipline)
}

/// `endpoint.keep-alive`: comments sent on streamed responses.
fn keep_alive(
    ctx: &Ctx<'_>,
    raw: &ExperimentFile,
    classes: &[ClientClass],
) -> Result<Option<SimDuration>, ConfigError> {
    let keep_alive = match &raw.endpoint.keep_alive {
        Some(v) => Some(ctx.positive_duration("endpoint.keep-alive", v)?),
        None => None,
    };
    if keep_alive.is_some() && !classes.iter().any(|c| c.policy.streaming) {
        ctx.no_effect(ctx
            .error("endpoint.keep-alive", "has no effect: no client streams")
            .with_hint("keep-alive comments are sent on streamed (SSE) responses; set `streaming = true` in [client]"))?;
    }
    Ok(keep_alive)
}

/// `[async]`: jobs through a task queue instead of synchronous calls.
fn async_queue(
    ctx: &Ctx<'_>,
    raw: &ExperimentFile,
    classes: &[ClientClass],
    gateway_timeout: Option<SimDuration>,
) -> Result<Option<AsyncSpec>, ConfigError> {
    Ok(match &raw.async_queue {
        None => None,
        Some(a) => {
            for (i, c) in classes.iter().enumerate() {
                let p = &c.policy;
                let key = if raw.classes.is_some() {
                    format!("classes[{i}].client")
                } else {
                    "client".into()
                };
                let set = [
                    ("read-timeout", p.read_timeout.is_some()),
                    ("connect-timeout", p.connect_timeout.is_some()),
                    ("deadline", p.deadline.is_some()),
                    ("streaming", p.streaming),
                    ("retry", p.retry.is_some()),
                ];
                if let Some((k, _)) = set.iter().find(|(_, s)| *s) {
                    return Err(ctx
                        .error(&format!("{key}.{k}"), "does not apply to async jobs: submitting returns a job id at once")
                        .with_hint("use `[async] ttl` to bound how long a job may wait, or remove [async] for synchronous calls"));
                }
            }
            if gateway_timeout.is_some() {
                return Err(ctx
                    .error(
                        "gateway.timeout",
                        "does not apply to async jobs: submitting returns a job id at once",
                    )
                    .with_hint("remove [gateway], or [async] for synchronous calls"));
            }
            Some(AsyncSpec {
                order: match a.order.as_deref() {
                    None | Some("fifo") => JobOrder::Fifo,
                    Some("priority") => JobOrder::Priority,
                    Some(other) => {
                        return Err(unknown_kind(
                            ctx,
                            "async.order",
                            "job order",
                            other,
                            &["fifo", "priority"],
                        ));
                    }
                },
                ttl: a
                    .ttl
                    .as_ref()
                    .map(|v| ctx.positive_duration("async.ttl", v))
                    .transpose()?,
                poll: a
                    .poll
                    .as_ref()
                    .map(|v| ctx.positive_duration("async.poll", v))
                    .transpose()?,
                max_queue: match a.max_queue {
                    None => None,
                    Some(m) if m >= 0 => Some(m as u64),
                    Some(m) => {
                        return Err(ctx.error(
                            "async.max-queue",
                            format!("must be zero or more, found {m}"),
                        ));
                    }
                },
            })
        }
    })
}

/// `[breaker]`: the circuit breaker and its fallback endpoint.
fn breaker(
    ctx: &Ctx<'_>,
    raw: &ExperimentFile,
    service: &Service,
    classes: &[ClientClass],
    possible: &Possible,
    fallback: &dyn Fn(&super::file::EndpointFile) -> Result<Service, ConfigError>,
) -> Result<Option<BreakerSpec>, ConfigError> {
    let is_async = raw.async_queue.is_some();
    Ok(match &raw.breaker {
        None => None,
        Some(b) => {
            if is_async {
                return Err(ctx
                    .error("breaker", "does not apply to async jobs")
                    .with_hint(
                        "a breaker protects synchronous callers; remove [breaker] or [async]",
                    ));
            }
            let policies: Vec<&ClientPolicy> = classes.iter().map(|c| &c.policy).collect();
            let default_on: Vec<String> = ["429", "5xx", "timeout"]
                .iter()
                .filter(|w| {
                    outcomes_named(w)
                        .unwrap_or_default()
                        .iter()
                        .any(|&o| policies.iter().any(|p| possible.why_not(o, p).is_none()))
                })
                .map(|w| w.to_string())
                .collect();
            let on = match &b.on {
                Some(words) => outcome_set(ctx, "breaker.on", words, possible, &policies)?,
                None if default_on.is_empty() => {
                    return Err(ctx
                        .error("breaker", "no failure this experiment can produce would open it")
                        .with_hint("configure a timeout, a queue limit or a scale-to-zero endpoint, or remove [breaker]"));
                }
                None => outcome_set(ctx, "breaker.on", &default_on, possible, &policies)?,
            };
            let fallback = match &b.fallback {
                None => None,
                Some(f) => match (fallback(f)?, service) {
                    (fb @ Service::Llm(_), Service::Llm(_))
                    | (fb @ Service::Servers(_), Service::Servers(_)) => Some(Box::new(fb)),
                    (Service::Servers(_), Service::Llm(_)) => {
                        return Err(ctx
                            .error("breaker.fallback", "must be an LLM endpoint (`gpu` and `model`, or a `profile`), like the primary endpoint")
                            .with_hint("e.g. gpu = \"t4\", model = \"llama-2-7b\", quantization = \"int4-awq\""));
                    }
                    (Service::Llm(_), Service::Servers(_)) => {
                        return Err(ctx
                            .error("breaker.fallback", "must be plain servers (`servers` and `service-time`), like the primary endpoint")
                            .with_hint("the same requests go to either endpoint, and a plain server's requests carry no tokens; e.g. servers = 2, service-time = { kind = \"exponential\", mean = \"2s\" }"));
                    }
                },
            };
            Some(BreakerSpec {
                failures: count_in(
                    ctx,
                    "breaker.failures",
                    b.failures.unwrap_or(5),
                    1,
                    1_000_000,
                )?,
                window: match &b.window {
                    Some(v) => ctx.positive_duration("breaker.window", v)?,
                    None => SimDuration::from_secs(30),
                },
                cool_down: match &b.cool_down {
                    Some(v) => ctx.positive_duration("breaker.cool-down", v)?,
                    None => SimDuration::from_secs(30),
                },
                probes: count_in(ctx, "breaker.probes", b.probes.unwrap_or(1), 1, 1000)?,
                on,
                fallback,
            })
        }
    })
}
