//! `workload.arrival`: every arrival process, and reading request traces for replay.

use std::path::Path;
use std::sync::Arc;

use super::file::{ArrivalFile, Scalar, Tagged};
use super::read::{Ctx, read_tagged};
use super::suggest;
use super::tagged::{self, KeyProblem};
use crate::domain::{Arrivals, Trace};
use crate::error::ConfigError;
use crate::sim::SimDuration;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Nanoseconds since the epoch of `YYYY-MM-DD HH:MM:SS[.fraction]`, or seconds as a number.
fn timestamp_ns(s: &str) -> Option<i128> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| (secs * 1e9).round() as i128);
    }
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nanos: i128 = format!("{digits:0<9}").parse().ok()?;
    let secs = days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + se;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

/// Reads a trace CSV: a header naming a time column (`TIMESTAMP`, `timestamp` or `time`), a
/// prompt-token column (`ContextTokens` or `prompt_tokens`) and an output-token column
/// (`GeneratedTokens` or `output_tokens`), and optionally a conversation column
/// (`conversation`, `conversation_id`, `session_id` or `session`). Times are date-times or
/// seconds, in order.
pub fn read_trace(path: &Path) -> Result<Trace, ConfigError> {
    let text = super::input::read_text(path, super::input::InputKind::Data).map_err(|e| {
        ConfigError::new(path, format!("cannot read the trace: {e}"))
            .with_hint("paths are relative to the experiment file's folder; shipped traces are under data/traces/")
    })?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(ConfigError::new(path, "the trace is empty"));
    };
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let find = |names: &[&str]| cols.iter().position(|c| names.contains(&c.as_str()));
    let (Some(ti), Some(pi), Some(oi)) = (
        find(&["timestamp", "time"]),
        find(&["contexttokens", "prompt_tokens"]),
        find(&["generatedtokens", "output_tokens"]),
    ) else {
        return Err(ConfigError::new(path, format!("the header `{header}` lacks a time, prompt-token or output-token column"))
            .at_line(1, None)
            .with_hint("expected columns TIMESTAMP,ContextTokens,GeneratedTokens (Azure) or timestamp,prompt_tokens,output_tokens"));
    };
    // A conversation column names each row's conversation: hashed, so any id text works.
    let ci = find(&["conversation", "conversation_id", "session_id", "session"]);
    let mut conversations = Vec::new();
    let mut rows = Vec::new();
    let mut first: Option<i128> = None;
    let mut last = 0i128;
    for (i, line) in lines {
        let n = i + 1;
        let fields: Vec<&str> = line.split(',').collect();
        let bad = |what: String| {
            ConfigError::new(path, what)
                .at_line(n, None)
                .with_hint("each row: a time, prompt tokens and output tokens, as in the header")
        };
        if fields.len() != cols.len() {
            return Err(bad(format!(
                "expected {} fields, found {}",
                cols.len(),
                fields.len()
            )));
        }
        let t = timestamp_ns(fields[ti])
            .ok_or_else(|| bad(format!("cannot read the time \"{}\"", fields[ti].trim())))?;
        let count = |k: usize, what: &str| {
            fields[k].trim().parse::<u32>().map_err(|_| {
                bad(format!(
                    "expected {what} (a whole number), found \"{}\"",
                    fields[k].trim()
                ))
            })
        };
        let (prompt, output) = (count(pi, "prompt tokens")?, count(oi, "output tokens")?);
        let base = *first.get_or_insert(t);
        if t < last {
            return Err(bad(
                "the time goes backwards; rows must be in time order".into()
            ));
        }
        last = t;
        let offset = u64::try_from(t - base).map_err(|_| bad("the time is out of range".into()))?;
        rows.push((SimDuration::from_nanos(offset), prompt, output));
        if let Some(ci) = ci {
            let id = fields[ci].trim();
            if id.is_empty() {
                return Err(bad("the conversation is empty".into()));
            }
            conversations.push(fnv64(id));
        }
    }
    if rows.is_empty() {
        return Err(ConfigError::new(path, "the trace has a header but no rows"));
    }
    Ok(Trace {
        source: path.display().to_string(),
        rows,
        conversations,
    })
}

/// FNV-1a of a conversation id's text.
fn fnv64(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    })
}

thread_local! {
    /// Traces read while validating one file: a sweep validates its file once per
    /// configuration, and a trace of 20,000 rows takes milliseconds to read.
    static TRACES: std::cell::RefCell<std::collections::HashMap<std::path::PathBuf, Arc<Trace>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Forgets the traces read so far (at the start of reading an experiment file, so that an
/// edited trace is read again).
pub(crate) fn forget_traces() {
    TRACES.with(|t| t.borrow_mut().clear());
}

fn cached_trace(path: &Path) -> Result<Arc<Trace>, ConfigError> {
    if let Some(t) = TRACES.with(|t| t.borrow().get(path).cloned()) {
        return Ok(t);
    }
    let t = Arc::new(read_trace(path)?);
    TRACES.with(|m| m.borrow_mut().insert(path.to_path_buf(), Arc::clone(&t)));
    Ok(t)
}

fn number(ctx: &Ctx<'_>, key: &str, v: &Scalar, lo: f64, hi: f64) -> Result<f64, ConfigError> {
    match v {
        Scalar::Number(n) if *n >= lo && *n <= hi => Ok(*n),
        _ => Err(ctx.error(
            key,
            format!("must be a number from {lo} to {hi}, found {v}"),
        )),
    }
}

/// `workload.arrival`, validated.
pub(crate) fn arrivals(ctx: &Ctx<'_>, raw: &Tagged<ArrivalFile>) -> Result<Arrivals, ConfigError> {
    let key = "workload.arrival";
    let k = |name: &str| format!("{key}.{name}");
    let tag = Tagged::<ArrivalFile>::TAG;
    let file = read_tagged(ctx, key, "arrival kind", raw, |kind, p| {
        let takes = |kind: &str| tagged::keys::<ArrivalFile>(tag, kind);
        match p {
            KeyProblem::Unknown { key: name, .. } => {
                // A key of other kinds says which; a key of none is a typo.
                let takers: Vec<String> = tagged::variants::<ArrivalFile>(tag)
                    .iter()
                    .filter(|other| takes(other).contains(&name.as_str()))
                    .map(|other| format!("\"{other}\""))
                    .collect();
                if takers.is_empty() {
                    let own = format!("{kind} arrivals take: {}", takes(kind).join(", "));
                    ctx.error(
                        &k(&name),
                        format!("`{name}` is not a key of {kind} arrivals"),
                    )
                    .with_hint(match suggest::key_hint(&name, takes(kind)) {
                        Some(h) => format!("{h} ({own})"),
                        None => own,
                    })
                } else {
                    ctx.error(
                        &k(&name),
                        format!("applies only to kind = {}, not {kind}", takers.join(" or ")),
                    )
                }
            }
            KeyProblem::Missing(name) => ctx
                .error(key, format!("{kind} arrivals need `{name}`"))
                .with_hint(format!("{kind} arrivals take: {}", takes(kind).join(", "))),
        }
    })?;
    let rate = |what: &str, r: &Option<Scalar>| -> Result<f64, ConfigError> {
        match r {
            Some(r) => ctx.rate(&k("rate"), r),
            None => Err(ctx
                .error(key, format!("{what} arrivals need a `rate`"))
                .with_hint("e.g. rate = \"3/s\"")),
        }
    };
    let built = match &file {
        ArrivalFile::Poisson { rate: r } => Arrivals::poisson(rate("poisson", r)?),
        ArrivalFile::Constant { rate: r } => Arrivals::constant(rate("constant", r)?),
        ArrivalFile::Gamma { rate: r, cv } => {
            let cv = match cv {
                Some(v) => number(ctx, &k("cv"), v, 0.05, 20.0)?,
                None => {
                    return Err(ctx
                        .error(
                            key,
                            "gamma arrivals need `cv`, the coefficient of variation of the gaps",
                        )
                        .with_hint("1 is Poisson; 2 or 3 is bursty; 0.5 is more regular"));
                }
            };
            Arrivals::gamma(rate("gamma", r)?, cv)
        }
        ArrivalFile::OnOff {
            rate: r,
            off_rate,
            on,
            off,
        } => {
            let on_rate = rate("on-off", r)?;
            // Off phases may be silent: zero is a valid rate here.
            let off_rate = match off_rate {
                Some(Scalar::Text(t)) => match super::units::parse_rate(t) {
                    Ok(r) if r.is_finite() && r >= 0.0 => r,
                    Ok(r) => {
                        return Err(
                            ctx.error(&k("off-rate"), format!("must be zero or more, found {r}"))
                        );
                    }
                    Err(e) => return Err(ctx.error(&k("off-rate"), e.to_string())),
                },
                Some(v) => ctx.rate(&k("off-rate"), v)?,
                None => 0.0,
            };
            let dur = |name: &str, v: &Option<Scalar>| match v {
                Some(v) => ctx.positive_duration(&k(name), v),
                None => Err(ctx
                    .error(
                        key,
                        format!("on-off arrivals need `{name}`, the mean length of a phase"),
                    )
                    .with_hint("e.g. on = \"2m\", off = \"10m\"")),
            };
            let (on, off) = (dur("on", on)?, dur("off", off)?);
            Ok(Arrivals::OnOff {
                on_rate,
                off_rate,
                on_mean_s: on.as_secs_f64(),
                off_mean_s: off.as_secs_f64(),
            })
        }
        ArrivalFile::Diurnal {
            rate: r,
            amplitude,
            period,
            peak,
        } => {
            let amplitude = match amplitude {
                Some(v) => number(ctx, &k("amplitude"), v, 0.0, 1.0)?,
                None => 0.8,
            };
            let period = match period {
                Some(v) => ctx.positive_duration(&k("period"), v)?,
                None => SimDuration::from_secs(86_400),
            };
            let peak = match peak {
                Some(v) => ctx.duration(&k("peak"), v)?,
                None => SimDuration::from_secs(14 * 3600),
            };
            Ok(Arrivals::Diurnal {
                mean_rate: rate("diurnal", r)?,
                amplitude,
                period,
                peak,
            })
        }
        ArrivalFile::Schedule { rates, period } => {
            return super::read::schedule(ctx, rates, period);
        }
        ArrivalFile::Trace {
            file,
            rate: r,
            speed,
            looped,
        } => {
            let Some(file) = file else {
                return Err(ctx
                    .error(key, "trace arrivals need a `file`")
                    .with_hint("e.g. file = \"../../data/traces/azure-llm-2023-conv.csv\""));
            };
            let trace = cached_trace(&ctx.resolve(file))?;
            let mean = trace.mean_rate_per_s();
            let scale = match (r, speed) {
                (Some(_), Some(_)) => {
                    return Err(ctx
                        .error(&k("speed"), "give `rate` or `speed`, not both")
                        .with_hint(
                            "`rate` sets the mean rate; `speed` multiplies the trace's own",
                        ));
                }
                (Some(_), None) if mean > 0.0 => mean / rate("trace", r)?,
                (Some(_), None) => {
                    return Err(ctx.error(
                        &k("rate"),
                        "the trace spans no time, so it has no rate to scale",
                    ));
                }
                (None, Some(v)) => 1.0 / number(ctx, &k("speed"), v, 1e-6, 1e6)?,
                (None, None) => 1.0,
            };
            Ok(Arrivals::Replay {
                trace,
                scale,
                looped: looped.unwrap_or(false),
            })
        }
    };
    built.map_err(|m| ctx.error(&k("rate"), m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_date_times_or_seconds() {
        let a = timestamp_ns("2023-11-16 18:17:03.9799600").unwrap();
        let b = timestamp_ns("2023-11-16 18:17:04.0319600").unwrap();
        assert_eq!(b - a, 52_000_000);
        assert_eq!(
            timestamp_ns("1970-01-02 00:00:00"),
            Some(86_400_000_000_000)
        );
        assert_eq!(timestamp_ns("12.5"), Some(12_500_000_000));
        assert_eq!(timestamp_ns("2023-13-01 00:00:00"), None);
        assert_eq!(timestamp_ns("yesterday"), None);
    }
}
