//! Stage two: turns the file mirror into validated domain types, one rule at a time. Each rule
//! reports the key path, what it found, what it expected and, where useful, how to fix it.
//! The readers every part shares (the context, distributions, value files) are in `read`.

use super::file::{EndpointFile, ExperimentFile, Scalar, WorkloadFile};
use super::read::{Ctx, MAX_SERVERS, dist, read_seconds_file};
use super::resolved::{Config, Experiment};
use crate::domain::{Arrivals, Dist, EndpointSpec, Load, Scenario, Service, StopRule};
use crate::error::ConfigError;
use crate::sim::SimDuration;

/// Most time-series windows one run may have.
pub(crate) const MAX_WINDOWS: u64 = 100_000;

/// `timeseries-interval`: 10 s unless given. Every window is a row kept in memory and a line of
/// the CSV (a 1 ms interval over a day would be 86 million), so a run of known length has at most
/// [`MAX_WINDOWS`]: a written interval that cuts more is refused, and the default widens to the
/// next whole second that fits.
fn timeseries_interval(
    ctx: &Ctx<'_>,
    written: Option<&Scalar>,
    stop: StopRule,
    warm_up: SimDuration,
) -> Result<SimDuration, ConfigError> {
    let key = "timeseries-interval";
    let interval = match written {
        Some(v) => ctx.positive_duration(key, v)?,
        None => SimDuration::from_secs(10),
    };
    let StopRule::Duration(d) = stop else {
        return Ok(interval);
    };
    let total = (d + warm_up).as_nanos();
    let windows = total.div_ceil(interval.as_nanos());
    if windows <= MAX_WINDOWS {
        return Ok(interval);
    }
    let shortest = total.div_ceil(MAX_WINDOWS);
    if written.is_none() {
        return Ok(SimDuration::from_secs(shortest.div_ceil(1_000_000_000)));
    }
    Err(ctx
        .error(
            key,
            format!(
                "an interval of {interval} cuts the {} run into {windows} windows, more than the {MAX_WINDOWS} capsim keeps",
                d + warm_up
            ),
        )
        .with_hint(format!(
            "use an interval of at least {}",
            SimDuration::from_nanos(shortest)
        )))
}

fn queue_limits(
    ctx: &Ctx<'_>,
    raw: &EndpointFile,
) -> Result<(Option<u64>, Option<SimDuration>), ConfigError> {
    let queue_capacity = match raw.queue_capacity {
        None => None,
        Some(c) if c >= 0 => Some(c as u64),
        Some(c) => {
            return Err(ctx
                .error(
                    "endpoint.queue-capacity",
                    format!("must be zero or more, found {c}"),
                )
                .with_hint("leave it out for an unlimited queue; 0 means no request may wait"));
        }
    };
    let queue_timeout = raw
        .queue_timeout
        .as_ref()
        .map(|v| ctx.positive_duration("endpoint.queue-timeout", v))
        .transpose()?;
    Ok((queue_capacity, queue_timeout))
}

fn servers(ctx: &Ctx<'_>, raw: &EndpointFile) -> Result<EndpointSpec, ConfigError> {
    let Some(servers) = raw.servers else {
        return Err(ctx
            .error("endpoint", "`service-time` needs `servers`")
            .with_hint("e.g. servers = 4"));
    };
    if !(1..=MAX_SERVERS).contains(&servers) {
        return Err(ctx.error(
            "endpoint.servers",
            format!("must be between 1 and {MAX_SERVERS}, found {servers}"),
        ));
    }
    let Some(service_time) = &raw.service_time else {
        return Err(ctx
            .error("endpoint", "`servers` needs a `service-time` distribution")
            .with_hint("e.g. service-time = { kind = \"exponential\", mean = \"1s\" }"));
    };
    let service_time = dist(
        ctx,
        "endpoint.service-time",
        "values in seconds",
        service_time,
        &|key, v| ctx.duration(key, v).map(|d| d.as_secs_f64()),
        &|key, path| read_seconds_file(ctx, key, path),
    )?;
    let (queue_capacity, queue_timeout) = queue_limits(ctx, raw)?;
    Ok(EndpointSpec {
        servers: servers as u32,
        service_time,
        queue_capacity,
        queue_timeout,
    })
}

/// An endpoint table (`[endpoint]`, or `[breaker.fallback]` with `ctx.section` set).
fn service_of(
    ctx: &Ctx<'_>,
    raw: &EndpointFile,
    workload: &WorkloadFile,
) -> Result<Service, ConfigError> {
    let server_mode = raw.servers.is_some() || raw.service_time.is_some();
    let llm_keys = [
        ("gpu", raw.gpu.is_some()),
        ("instance", raw.instance.is_some()),
        ("model", raw.model.is_some()),
        ("quantization", raw.quantization.is_some()),
        (
            "quantization-group-size",
            raw.quantization_group_size.is_some(),
        ),
        ("tensor-parallel", raw.tensor_parallel.is_some()),
        ("replicas", raw.replicas.is_some()),
        ("scaling", raw.scaling.is_some()),
        ("cold-start", raw.cold_start.is_some()),
        ("billing", raw.billing.is_some()),
        ("load-balancer", raw.load_balancer.is_some()),
        ("engine", raw.engine.is_some()),
        ("profile", raw.profile.is_some()),
    ];
    if server_mode {
        if let Some((k, _)) = llm_keys.iter().find(|(_, set)| *set) {
            return Err(ctx
                .error(&format!("endpoint.{k}"), "an endpoint is either `servers` with a `service-time`, or an LLM; not both")
                .with_hint("remove `servers` and `service-time` to simulate the LLM, or this key to keep plain servers"));
        }
        for (k, set) in [
            ("prompt-tokens", workload.prompt_tokens.is_some()),
            ("output-tokens", workload.output_tokens.is_some()),
        ] {
            if set {
                return Err(ctx
                    .error(&format!("workload.{k}"), "token counts apply only to LLM endpoints (`gpu` and `model`, or a `profile`)")
                    .with_hint("a `servers` endpoint takes its time from `service-time`"));
            }
        }
        return Ok(Service::Servers(servers(ctx, raw)?));
    }
    if raw.gpu.is_none() && raw.instance.is_none() && raw.model.is_none() && raw.profile.is_none() {
        return Err(ctx
            .error("endpoint", "says neither what serves the requests nor how fast")
            .with_hint("give `servers` and `service-time`, or `gpu` and `model` (an LLM), or a measured `profile`"));
    }
    let (prompt, output) = if sizes_from_trace(workload) {
        // Each request takes its tokens from its trace row; these are never drawn.
        (
            Dist::Deterministic { value: 0.0 },
            Dist::Deterministic { value: 1.0 },
        )
    } else {
        super::serving::token_dists(ctx, &workload.prompt_tokens, &workload.output_tokens)?
    };
    let (queue_capacity, queue_timeout) = queue_limits(ctx, raw)?;
    super::serving::llm_service(ctx, raw, prompt, output, queue_capacity, queue_timeout)
}

fn load(ctx: &Ctx<'_>, raw: &WorkloadFile) -> Result<Load, ConfigError> {
    match (&raw.arrival, &raw.users) {
        (Some(a), None) => Ok(Load::Open(super::workload::arrivals(ctx, a)?)),
        (None, Some(u)) => {
            if !(1..=1_000_000).contains(&u.count) {
                return Err(ctx.error("workload.users.count", format!("must be between 1 and 1000000, found {}", u.count)));
            }
            let think = dist(
                ctx,
                "workload.users.think-time",
                "values in seconds",
                &u.think_time,
                &|key, v| ctx.duration(key, v).map(|d| d.as_secs_f64()),
                &|key, path| read_seconds_file(ctx, key, path),
            )?;
            Ok(Load::Closed {
                users: u.count as u32,
                think,
            })
        }
        (Some(_), Some(_)) => Err(ctx
            .error("workload.users", "give either `arrival` (open loop) or `users` (closed loop), not both")
            .with_hint("`arrival` sends requests whatever happens; `users` each wait for an answer before the next")),
        (None, None) => Err(ctx
            .error("workload", "needs `arrival` or `users`")
            .with_hint("e.g. arrival = { kind = \"poisson\", rate = \"3/s\" }")),
    }
}

/// Whether requests take their tokens from a replayed trace: a trace workload that sets no
/// token distributions (setting one means both are drawn).
fn sizes_from_trace(w: &WorkloadFile) -> bool {
    w.arrival
        .as_ref()
        .is_some_and(|a| a.kind() == Some("trace"))
        && w.prompt_tokens.is_none()
        && w.output_tokens.is_none()
}

/// Validates a parsed file into an [`Experiment`].
pub(crate) fn experiment(ctx: &Ctx<'_>, raw: ExperimentFile) -> Result<Experiment, ConfigError> {
    if raw.name.trim().is_empty() {
        return Err(ctx
            .error("name", "must not be empty")
            .with_hint("name the experiment, e.g. name = \"T4 at 3/s\""));
    }
    let stop = match (&raw.duration, raw.requests) {
        (Some(d), None) => StopRule::Duration(ctx.positive_duration("duration", d)?),
        (None, Some(n)) if n >= 1 => StopRule::Requests(n as u64),
        (None, Some(n)) => {
            return Err(ctx.error("requests", format!("must be at least 1, found {n}")));
        }
        (Some(_), Some(_)) => {
            return Err(ctx
                .error("requests", "give either `duration` or `requests`, not both")
                .with_hint(
                    "`duration` stops the clock; `requests` counts arrivals and lets them finish",
                ));
        }
        (None, None) => {
            return Err(ConfigError::new(
                ctx.file,
                "the file sets neither `duration` nor `requests`",
            )
            .with_hint("add e.g. `duration = \"1h\"` or `requests = 100000` at the top"));
        }
    };
    let warm_up = match &raw.warm_up {
        Some(v) => ctx.duration("warm-up", v)?,
        None => SimDuration::ZERO,
    };
    if let StopRule::Duration(d) = stop
        && warm_up >= d
    {
        return Err(ctx
            .error(
                "warm-up",
                format!("the warm-up ({warm_up}) must be shorter than the duration ({d})"),
            )
            .with_hint("nothing would be measured; shorten `warm-up` or lengthen `duration`"));
    }
    let timeseries_interval =
        timeseries_interval(ctx, raw.timeseries_interval.as_ref(), stop, warm_up)?;
    let service = service_of(ctx, &raw.endpoint, &raw.workload)?;
    let fallback_ctx = Ctx {
        file: ctx.file,
        src: ctx.src,
        section: "breaker.fallback",
        catalog: ctx.catalog,
        warnings: ctx.warnings,
    };
    let policies = super::policy::policies(
        ctx,
        &raw,
        &service,
        &|f| service_of(&fallback_ctx, f, &raw.workload),
        &|key, d| super::serving::tokens(ctx, key, d),
    )?;
    let scenario = Scenario {
        load: load(ctx, &raw.workload)?,
        service,
        policies,
        warm_up,
        stop,
        timeseries_interval,
        sizes_from_trace: sizes_from_trace(&raw.workload),
        slo: None,
        in_flight_limit: super::slo::in_flight_limit(ctx, raw.max_in_flight)?,
    };
    let mut scenario = scenario;
    if let Some(s) = &raw.slo {
        let names: Vec<&str> = match &raw.classes {
            Some(c) => c.iter().map(|c| c.name.as_str()).collect(),
            None => Vec::new(),
        };
        let llm = matches!(scenario.service, Service::Llm(_));
        scenario.slo = Some(super::slo::slo(ctx, s, &names, llm)?);
    }
    let mut warnings = Vec::new();
    if let (Load::Open(Arrivals::Replay { trace, .. }), Service::Llm(svc)) =
        (&scenario.load, &scenario.service)
        && svc.prefix_caching
        && trace.conversations.is_empty()
        && scenario.sizes_from_trace
    {
        warnings.push(
            ctx.error(
                "workload.arrival.file",
                format!(
                    "the trace {} names no conversations: its requests share no prefix, so the prefix cache finds nothing to reuse",
                    trace.source
                ),
            )
            .with_hint("a `conversation` (or `session_id`) column makes each row's prompt start with the previous row of its conversation"),
        );
    }
    Ok(Experiment {
        name: raw.name,
        description: raw.description,
        seed: raw.seed,
        source: ctx.file.to_path_buf(),
        configs: vec![Config {
            params: Default::default(),
            swept: Vec::new(),
            scenario: scenario.clone(),
        }],
        replications: 1,
        warnings,
        scenario,
    })
}
