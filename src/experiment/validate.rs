//! Stage two: turns the file mirror into validated domain types, one rule at a time. Each rule
//! reports the key path, what it found, what it expected and, where useful, how to fix it.

use std::path::{Path, PathBuf};

use super::Experiment;
use super::file::{ArrivalFile, DistFile, EndpointFile, ExperimentFile, Scalar, WorkloadFile};
use super::locate::locate;
use super::units::{UnitError, parse_duration, parse_rate};
use crate::domain::{Arrivals, Dist, EndpointSpec, Load, Scenario, Service, StopRule};
use crate::error::ConfigError;
use crate::sim::SimDuration;

/// Most servers one endpoint may have; a guard against typos such as `servers = 40000000`.
pub const MAX_SERVERS: i64 = 1_000_000;

/// What validation needs to know about the file it reads.
pub struct Ctx<'a> {
    pub file: &'a Path,
    pub src: &'a str,
    /// Where the endpoint table being read lives: `endpoint`, or `breaker.fallback`.
    pub section: &'a str,
    /// The effective catalog: the built-in one, with any `--catalog` folder merged over it.
    pub catalog: &'a crate::catalog::Catalog,
}

impl Ctx<'_> {
    /// An error at `key`, located in the source where possible.
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let moved;
        let key = match key.strip_prefix("endpoint") {
            Some(rest) if self.section != "endpoint" => {
                moved = format!("{}{rest}", self.section);
                moved.as_str()
            }
            _ => key,
        };
        let err = ConfigError::new(self.file, message).at_key(key);
        match locate(self.src, key) {
            Some((line, _)) => err.at_line(line, None),
            None => err,
        }
    }

    /// A path written in the file, resolved against the file's own folder.
    pub fn resolve(&self, written: &str) -> PathBuf {
        let p = Path::new(written);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.file.parent().unwrap_or(Path::new("")).join(p)
        }
    }

    /// A duration written with a unit.
    pub fn duration(&self, key: &str, v: &Scalar) -> Result<SimDuration, ConfigError> {
        match v {
            Scalar::Text(t) => parse_duration(t).map_err(|e| {
                let err = self.error(key, e.to_string());
                match e {
                    UnitError::Negative { .. } | UnitError::TooLarge { .. } => err,
                    _ => err.with_hint(
                        "units: ns, us, ms, s, m (or min), h, d; fractions like \"0.5s\" are fine",
                    ),
                }
            }),
            Scalar::Number(n) => Err(self
                .error(
                    key,
                    format!("a duration needs a unit, found the bare number {n}"),
                )
                .with_hint(format!(
                    "write it as a string with a unit, e.g. \"{n}s\" or \"{n}ms\""
                ))),
        }
    }

    /// A positive duration.
    pub fn positive_duration(&self, key: &str, v: &Scalar) -> Result<SimDuration, ConfigError> {
        let d = self.duration(key, v)?;
        if d.is_zero() {
            return Err(self.error(key, format!("must be longer than zero, found {v}")));
        }
        Ok(d)
    }

    /// A positive rate per second.
    pub fn rate(&self, key: &str, v: &Scalar) -> Result<f64, ConfigError> {
        let hint = "write a rate with a unit, like \"3/s\", \"180/min\" or \"2000/h\"";
        let r = match v {
            Scalar::Text(t) => {
                parse_rate(t).map_err(|e| self.error(key, e.to_string()).with_hint(hint))?
            }
            Scalar::Number(n) => {
                return Err(self
                    .error(
                        key,
                        format!("a rate needs a unit, found the bare number {n}"),
                    )
                    .with_hint(format!("write it as a string, e.g. \"{n}/s\"")));
            }
        };
        if !(r.is_finite() && r > 0.0) {
            return Err(self
                .error(key, format!("the rate must be positive, found {v}"))
                .with_hint(hint));
        }
        Ok(r)
    }

    /// A dimensionless positive number (sigma, cv).
    pub fn positive_number(&self, key: &str, v: &Scalar) -> Result<f64, ConfigError> {
        match v {
            Scalar::Number(n) if n.is_finite() && *n > 0.0 => Ok(*n),
            Scalar::Number(n) => {
                Err(self.error(key, format!("must be a positive number, found {n}")))
            }
            Scalar::Text(t) => Err(self
                .error(
                    key,
                    format!("expected a plain number, found the string \"{t}\""),
                )
                .with_hint("this parameter has no unit; write it without quotes, e.g. 0.5")),
        }
    }
}

/// The closest of `options` to `word`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(word: &str, options: &[&'a str]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                let cost = usize::from(ca != *cb);
                cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }
    options
        .iter()
        .map(|o| (distance(&word.to_lowercase(), o), *o))
        .filter(|(d, o)| *d <= 2.max(o.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o)
}

/// An error for a `kind` that is not one of `options`.
pub(crate) fn unknown_kind(
    ctx: &Ctx<'_>,
    key: &str,
    what: &str,
    found: &str,
    options: &[&str],
) -> ConfigError {
    let err = ctx.error(
        key,
        format!(
            "unknown {what} \"{found}\"; expected one of {}",
            options.join(", ")
        ),
    );
    match did_you_mean(found, options) {
        Some(s) => err.with_hint(format!("did you mean \"{s}\"?")),
        None => err,
    }
}

/// "a" or "an" before `word`.
fn article(word: &str) -> &'static str {
    // "uniform" starts with a consonant sound; no kind starts with a silent or vowel-sounding "u".
    if word.starts_with(['a', 'e', 'i', 'o']) {
        "an"
    } else {
        "a"
    }
}

/// The parameters a distribution kind takes, in the order they are documented.
fn dist_params(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "exponential" => &["mean"],
        "deterministic" => &["value"],
        "uniform" => &["min", "max"],
        "lognormal" => &["median", "sigma", "p99"],
        "gamma" => &["mean", "cv"],
        "empirical" => &["values", "file", "column"],
        _ => return None,
    })
}

/// Every distribution kind.
pub const DIST_KINDS: [&str; 6] = [
    "exponential",
    "deterministic",
    "uniform",
    "lognormal",
    "gamma",
    "empirical",
];

/// Reads a quantity parameter (with its unit) at a key path, as a number in the base unit.
pub(crate) type QuantityReader<'a> = dyn Fn(&str, &Scalar) -> Result<f64, ConfigError> + 'a;

/// Reads a file of observed values named at a key path.
pub(crate) type ValuesFileReader<'a> = dyn Fn(&str, &Path) -> Result<Vec<f64>, ConfigError> + 'a;

/// Builds a distribution at `key` whose quantities (mean, value, bounds, median, p99, list
/// items) are read by `quantity`; `sigma` and `cv` are plain numbers.
pub(crate) fn dist(
    ctx: &Ctx<'_>,
    key: &str,
    unit: &str,
    raw: &DistFile,
    quantity: &QuantityReader<'_>,
    read_file: &ValuesFileReader<'_>,
) -> Result<Dist, ConfigError> {
    let kind = raw.kind.as_str();
    let Some(allowed) = dist_params(kind) else {
        return Err(unknown_kind(
            ctx,
            &format!("{key}.kind"),
            "distribution kind",
            kind,
            &DIST_KINDS,
        ));
    };
    let present: [(&str, bool); 11] = [
        ("mean", raw.mean.is_some()),
        ("value", raw.value.is_some()),
        ("min", raw.min.is_some()),
        ("max", raw.max.is_some()),
        ("median", raw.median.is_some()),
        ("sigma", raw.sigma.is_some()),
        ("p99", raw.p99.is_some()),
        ("cv", raw.cv.is_some()),
        ("values", raw.values.is_some()),
        ("file", raw.file.is_some()),
        ("column", raw.column.is_some()),
    ];
    if let Some((extra, _)) = present
        .iter()
        .find(|(name, set)| *set && !allowed.contains(name))
    {
        return Err(ctx
            .error(
                &format!("{key}.{extra}"),
                format!(
                    "`{extra}` does not apply to {} {kind} distribution",
                    article(kind)
                ),
            )
            .with_hint(format!(
                "{} {kind} distribution takes: {}",
                article(kind),
                allowed.join(", ")
            )));
    }
    let need = |name: &str, v: &Option<Scalar>| -> Result<f64, ConfigError> {
        match v {
            Some(v) => quantity(&format!("{key}.{name}"), v),
            None => Err(ctx
                .error(
                    key,
                    format!("{} {kind} distribution needs `{name}`", article(kind)),
                )
                .with_hint(format!(
                    "{} {kind} distribution takes: {}",
                    article(kind),
                    allowed.join(", ")
                ))),
        }
    };
    let built = match kind {
        "exponential" => Dist::exponential(need("mean", &raw.mean)?),
        "deterministic" => Dist::deterministic(need("value", &raw.value)?),
        "uniform" => Dist::uniform(need("min", &raw.min)?, need("max", &raw.max)?),
        "lognormal" => {
            let median = need("median", &raw.median)?;
            match (&raw.sigma, &raw.p99) {
                (Some(s), None) => {
                    Dist::lognormal(median, ctx.positive_number(&format!("{key}.sigma"), s)?)
                }
                (None, Some(p)) => Dist::lognormal_p99(median, quantity(&format!("{key}.p99"), p)?),
                _ => {
                    return Err(ctx
                        .error(
                            key,
                            "a lognormal distribution needs exactly one of `sigma` and `p99`",
                        )
                        .with_hint(
                            "give the spread either as sigma (of ln X) or as the 99th percentile",
                        ));
                }
            }
        }
        "gamma" => {
            let mean = need("mean", &raw.mean)?;
            let cv = match &raw.cv {
                Some(cv) => ctx.positive_number(&format!("{key}.cv"), cv)?,
                None => {
                    return Err(ctx.error(key, "a gamma distribution needs `cv`").with_hint(
                        "cv is the standard deviation divided by the mean; 1 is exponential",
                    ));
                }
            };
            Dist::gamma(mean, cv)
        }
        "empirical" => {
            let values = match (&raw.values, &raw.file) {
                (Some(list), None) => list
                    .iter()
                    .enumerate()
                    .map(|(i, v)| quantity(&format!("{key}.values[{i}]"), v))
                    .collect::<Result<Vec<_>, _>>()?,
                (None, Some(f)) => match &raw.column {
                    Some(c) => read_csv_column(ctx, &format!("{key}.column"), &ctx.resolve(f), c)?,
                    None => read_file(&format!("{key}.file"), &ctx.resolve(f))?,
                },
                _ => {
                    return Err(ctx
                        .error(
                            key,
                            "an empirical distribution needs exactly one of `values` and `file`",
                        )
                        .with_hint(
                            "list the observed values inline, or name a file with one per line",
                        ));
                }
            };
            Dist::empirical(values)
        }
        _ => unreachable!("dist_params accepted the kind"),
    };
    built.map_err(|message| ctx.error(key, format!("{message} ({unit})")))
}

/// Reads column `column` of a CSV file with a header: non-negative numbers, one per row.
fn read_csv_column(
    ctx: &Ctx<'_>,
    key: &str,
    path: &Path,
    column: &str,
) -> Result<Vec<f64>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ctx.error(key, format!("cannot read `{}`: {e}", path.display()))
            .with_hint("paths are relative to the experiment file's folder")
    })?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .map(|(_, h)| h.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let Some(at) = header.iter().position(|h| *h == column) else {
        return Err(ctx
            .error(
                key,
                format!("`{}` has no column \"{column}\"", path.display()),
            )
            .with_hint(format!("its columns: {}", header.join(", "))));
    };
    let mut values = Vec::new();
    for (i, line) in lines {
        let field = line.split(',').nth(at).map(str::trim).unwrap_or("");
        match field.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => values.push(v),
            _ => {
                return Err(ConfigError::new(
                    path,
                    format!(
                        "expected a number zero or more in column \"{column}\", found \"{field}\""
                    ),
                )
                .at_line(i + 1, None));
            }
        }
    }
    Ok(values)
}

/// Reads a file of non-negative numbers, one per line (`#` comments and blank lines skipped);
/// `what` names them in messages ("a number of seconds", "a token count").
pub(crate) fn read_numbers_file(
    ctx: &Ctx<'_>,
    key: &str,
    path: &Path,
    what: &str,
) -> Result<Vec<f64>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ctx.error(key, format!("cannot read `{}`: {e}", path.display()))
            .with_hint("paths are relative to the experiment file's folder")
    })?;
    let mut values = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => values.push(v),
            _ => {
                return Err(
                    ConfigError::new(path, format!("expected {what}, found \"{line}\""))
                        .at_line(i + 1, None)
                        .with_hint(format!(
                            "one non-negative number ({what}) per line; `#` starts a comment"
                        )),
                );
            }
        }
    }
    Ok(values)
}

/// Reads a file of seconds, one number per line.
fn read_seconds_file(ctx: &Ctx<'_>, key: &str, path: &Path) -> Result<Vec<f64>, ConfigError> {
    read_numbers_file(ctx, key, path, "a number of seconds")
}

/// `workload.arrival` with kind = "schedule".
pub(crate) fn schedule(ctx: &Ctx<'_>, raw: &ArrivalFile) -> Result<Arrivals, ConfigError> {
    let key = "workload.arrival";
    let Some(rows) = &raw.rates else {
        return Err(ctx
                .error(key, "schedule arrivals need `rates`")
                .with_hint("e.g. rates = [[\"0s\", \"1/s\"], [\"8h\", \"5/s\"], [\"20h\", \"1/s\"]], period = \"24h\""));
    };
    let mut pieces = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let k = format!("{key}.rates[{i}]");
        let [start, rate] = row.as_slice() else {
            return Err(ctx.error(
                &k,
                format!("each piece is [start, rate], found {} values", row.len()),
            ));
        };
        let start = ctx.duration(&format!("{k}[0]"), start)?;
        let rate = match rate {
            Scalar::Text(t) => super::units::parse_rate(t)
                .map_err(|e| ctx.error(&format!("{k}[1]"), e.to_string()))?,
            Scalar::Number(n) => {
                return Err(ctx.error(
                    &format!("{k}[1]"),
                    format!("a rate needs a unit, found the bare number {n}"),
                ));
            }
        };
        pieces.push((start, rate));
    }
    let period = raw
        .period
        .as_ref()
        .map(|p| ctx.positive_duration(&format!("{key}.period"), p))
        .transpose()?;
    Arrivals::schedule(pieces, period).map_err(|m| ctx.error(&format!("{key}.rates"), m))
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
    w.arrival.as_ref().is_some_and(|a| a.kind == "trace")
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
    let service = service_of(ctx, &raw.endpoint, &raw.workload)?;
    let fallback_ctx = Ctx {
        file: ctx.file,
        src: ctx.src,
        section: "breaker.fallback",
        catalog: ctx.catalog,
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
        timeseries_interval: match &raw.timeseries_interval {
            Some(v) => ctx.positive_duration("timeseries-interval", v)?,
            None => SimDuration::from_secs(10),
        },
        sizes_from_trace: sizes_from_trace(&raw.workload),
    };
    Ok(Experiment {
        name: raw.name,
        description: raw.description,
        seed: raw.seed,
        source: ctx.file.to_path_buf(),
        configs: vec![super::Config {
            params: Default::default(),
            scenario: scenario.clone(),
        }],
        replications: 1,
        scenario,
    })
}
