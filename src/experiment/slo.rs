//! `[slo]`: the targets runs are judged against, read into [`crate::domain::Slo`], and the
//! in-flight budget (`max-in-flight`).

use super::file::{Scalar, SloFile};
use super::read::Ctx;
use super::suggest::did_you_mean;
use crate::domain::{Slo, SloTargets};
use crate::error::ConfigError;

/// Most requests `max-in-flight` may allow: about 400 bytes each, so 4 GB of memory.
pub const MAX_IN_FLIGHT: i64 = 10_000_000;

/// A share between 0 and 1, written as a number (`0.01`) or a percentage (`"1%"`).
fn share(ctx: &Ctx<'_>, key: &str, v: &Scalar) -> Result<f64, ConfigError> {
    let hint = "write a share as a number from 0 to 1 (0.01) or as a percentage (\"1%\")";
    let x = match v {
        Scalar::Number(n) => *n,
        Scalar::Text(t) => match t.trim().strip_suffix('%') {
            Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0).map_err(|_| {
                ctx.error(key, format!("expected a percentage, found \"{t}\""))
                    .with_hint(hint)
            })?,
            None => {
                return Err(ctx
                    .error(key, format!("expected a share, found the string \"{t}\""))
                    .with_hint(hint));
            }
        },
    };
    if !(x.is_finite() && (0.0..=1.0).contains(&x)) {
        return Err(ctx
            .error(
                key,
                format!("must be a share from 0 to 1 (0 % to 100 %), found {v}"),
            )
            .with_hint(hint));
    }
    Ok(x)
}

/// The targets of one `[slo]` or `[slo.classes.NAME]` table at `at`.
fn targets(
    ctx: &Ctx<'_>,
    at: &str,
    rates: [&Option<Scalar>; 2],
    times: [&Option<Scalar>; 3],
    llm: bool,
) -> Result<SloTargets, ConfigError> {
    let key = |k: &str| format!("{at}.{k}");
    let rate = |k: &str, v: &Option<Scalar>| v.as_ref().map(|v| share(ctx, &key(k), v)).transpose();
    let time = |k: &str, v: &Option<Scalar>| {
        v.as_ref()
            .map(|v| ctx.positive_duration(&key(k), v))
            .transpose()
    };
    for (k, v) in [("ttft-p99", times[1]), ("tpot-p99", times[2])] {
        if v.is_some() && !llm {
            return Err(ctx
                .error(
                    &key(k),
                    format!("`{k}` needs an LLM endpoint: plain servers send no tokens"),
                )
                .with_hint("bound the whole answer with `latency-p99` instead"));
        }
    }
    let t = SloTargets {
        failed_rate: rate("failed-rate", rates[0])?,
        timeout_rate: rate("timeout-rate", rates[1])?,
        latency_p99: time("latency-p99", times[0])?,
        ttft_p99: time("ttft-p99", times[1])?,
        tpot_p99: time("tpot-p99", times[2])?,
    };
    Ok(t)
}

/// Reads `[slo]`; `classes` are the client classes' names (`[[classes]]`), `llm` whether the
/// endpoint serves tokens.
pub(crate) fn slo(
    ctx: &Ctx<'_>,
    raw: &SloFile,
    classes: &[&str],
    llm: bool,
) -> Result<Slo, ConfigError> {
    let top = targets(
        ctx,
        "slo",
        [&raw.failed_rate, &raw.timeout_rate],
        [&raw.latency_p99, &raw.ttft_p99, &raw.tpot_p99],
        llm,
    )?;
    let confidence = match &raw.confidence {
        None => 0.95,
        Some(v @ Scalar::Number(c)) => {
            if !(0.5..=0.999).contains(c) {
                return Err(ctx
                    .error("slo.confidence", format!("must be from 0.5 to 0.999, found {v}"))
                    .with_hint("0.95 judges each configuration by the one-sided 95 % upper bound over its replications"));
            }
            *c
        }
        Some(v) => {
            return Err(ctx
                .error(
                    "slo.confidence",
                    format!("expected a number from 0.5 to 0.999, found {v}"),
                )
                .with_hint("write it without quotes, e.g. confidence = 0.95"));
        }
    };
    let mut own = Vec::new();
    for (name, c) in raw.classes.iter().flatten() {
        let at = format!("slo.classes.{name}");
        if !classes.contains(&name.as_str()) {
            let err = ctx.error(&at, format!("there is no client class named \"{name}\""));
            let err = match did_you_mean(name, classes) {
                Some(s) => err.with_hint(format!("did you mean `{s}`?")),
                None if classes.is_empty() => err.with_hint(
                    "per-class targets need [[classes]]; put the targets in [slo] itself",
                ),
                None => err.with_hint(format!("the classes are: {}", classes.join(", "))),
            };
            return Err(err);
        }
        let t = targets(
            ctx,
            &at,
            [&c.failed_rate, &c.timeout_rate],
            [&c.latency_p99, &c.ttft_p99, &c.tpot_p99],
            llm,
        )?;
        if t == SloTargets::default() {
            return Err(ctx.error(&at, "sets no target").with_hint(
                "give any of failed-rate, timeout-rate, latency-p99, ttft-p99, tpot-p99",
            ));
        }
        own.push((name.clone(), t.over(&top)));
    }
    if top == SloTargets::default() && own.is_empty() {
        return Err(ctx
            .error("slo", "sets no target")
            .with_hint("e.g. failed-rate = \"1%\" and latency-p99 = \"60s\""));
    }
    Ok(Slo {
        targets: top,
        classes: own,
        confidence,
    })
}

/// Reads `max-in-flight`, the in-flight budget (default [`DEFAULT_IN_FLIGHT_LIMIT`]).
///
/// [`DEFAULT_IN_FLIGHT_LIMIT`]: crate::domain::scenario::DEFAULT_IN_FLIGHT_LIMIT
pub(crate) fn in_flight_limit(ctx: &Ctx<'_>, raw: Option<i64>) -> Result<u64, ConfigError> {
    match raw {
        None => Ok(crate::domain::scenario::DEFAULT_IN_FLIGHT_LIMIT),
        Some(n) if (1..=MAX_IN_FLIGHT).contains(&n) => Ok(n as u64),
        Some(n) => Err(ctx
            .error("max-in-flight", format!("must be from 1 to {MAX_IN_FLIGHT}, found {n}"))
            .with_hint("each request in flight takes about 400 bytes; the default 1000000 keeps a run under 1 GB")),
    }
}
