//! The readers every part of validation shares: the context that turns a key path into a
//! located error, distributions, files of values and arrival schedules, and the "did you mean"
//! hint. They sit below `validate`, `serving`, `policy` and `workload`, which all use them.

use std::path::{Path, PathBuf};

use super::file::{DistFile, Scalar, Tagged};
use super::locate::locate;
use super::suggest::{self, did_you_mean};
use super::tagged::{self, KeyProblem, Problem};
use super::units::{UnitError, parse_duration, parse_rate};
use crate::domain::{Arrivals, Dist};
use crate::error::ConfigError;
use crate::sim::SimDuration;

/// Most servers one endpoint may have; a guard against typos such as `servers = 40000000`.
pub const MAX_SERVERS: i64 = 1_000_000;

/// What validation needs to know about the file it reads.
pub(crate) struct Ctx<'a> {
    /// The file being read, for messages and to resolve the paths it names.
    pub(crate) file: &'a Path,
    /// Its text, to find the line of a key.
    pub(crate) src: &'a str,
    /// Where the endpoint table being read lives: `endpoint`, or `breaker.fallback`.
    pub(crate) section: &'a str,
    /// The effective catalog: the built-in one, with any `--catalog` folder merged over it.
    pub(crate) catalog: &'a crate::experiment::catalog::Catalog,
    /// Inside a sweep, where settings that have no effect are collected as warnings; `None` for
    /// a single run, where they are errors.
    pub(crate) warnings: Option<&'a std::cell::RefCell<Vec<ConfigError>>>,
}

impl Ctx<'_> {
    /// An error at `key`, located in the source where possible.
    pub(crate) fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
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

    /// An error at `key` with the column where the key is written too: for a value of the
    /// wrong type, which a reader of TOML would point at.
    pub(crate) fn error_with_column(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let err = self.error(key, message);
        match err.key.as_deref().and_then(|k| locate(self.src, k)) {
            Some((line, col)) => err.at_line(line, Some(col)),
            None => err,
        }
    }

    /// A setting that has no effect: an error in a single run (the user wrote something that
    /// does nothing), a warning inside a sweep (where another axis may be what makes it idle).
    pub(crate) fn no_effect(&self, err: ConfigError) -> Result<(), ConfigError> {
        match self.warnings {
            Some(w) => {
                w.borrow_mut().push(err);
                Ok(())
            }
            None => Err(err),
        }
    }

    /// A path written in the file, resolved against the file's own folder.
    pub(crate) fn resolve(&self, written: &str) -> PathBuf {
        let p = Path::new(written);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.file.parent().unwrap_or(Path::new("")).join(p)
        }
    }

    /// A duration written with a unit.
    pub(crate) fn duration(&self, key: &str, v: &Scalar) -> Result<SimDuration, ConfigError> {
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
    pub(crate) fn positive_duration(
        &self,
        key: &str,
        v: &Scalar,
    ) -> Result<SimDuration, ConfigError> {
        let d = self.duration(key, v)?;
        if d.is_zero() {
            return Err(self.error(key, format!("must be longer than zero, found {v}")));
        }
        Ok(d)
    }

    /// A positive rate per second.
    pub(crate) fn rate(&self, key: &str, v: &Scalar) -> Result<f64, ConfigError> {
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
    pub(crate) fn positive_number(&self, key: &str, v: &Scalar) -> Result<f64, ConfigError> {
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

/// Engine options are read through this (`engines` sits below the catalog, which `Ctx` holds).
impl super::engines::Source for Ctx<'_> {
    fn error(&self, key: &str, message: String) -> ConfigError {
        Ctx::error(self, key, message)
    }

    fn duration(&self, key: &str, v: &Scalar) -> Result<SimDuration, ConfigError> {
        Ctx::duration(self, key, v)
    }
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

/// Every distribution kind, in the order they are documented.
pub fn dist_kinds() -> &'static [&'static str] {
    tagged::variants::<DistFile>(Tagged::<DistFile>::TAG)
}

/// Reads a quantity parameter (with its unit) at a key path, as a number in the base unit.
pub(crate) type QuantityReader<'a> = dyn Fn(&str, &Scalar) -> Result<f64, ConfigError> + 'a;

/// Reads a distribution table at a key path (e.g. token counts, which have no unit).
pub(crate) type DistReader<'a> = dyn Fn(&str, &Tagged<DistFile>) -> Result<Dist, ConfigError> + 'a;

/// Reads a file of observed values named at a key path.
pub(crate) type ValuesFileReader<'a> = dyn Fn(&str, &Path) -> Result<Vec<f64>, ConfigError> + 'a;

/// Reads `raw`, the table at `key`, as its kind's variant of `T`, a `what` ("distribution
/// kind"). A missing or unknown kind and a value of the wrong type are worded here, a key that
/// does not fit the kind by `word`, given the kind as written.
pub(crate) fn read_tagged<T: serde::de::DeserializeOwned>(
    ctx: &Ctx<'_>,
    key: &str,
    what: &str,
    raw: &Tagged<T>,
    word: impl FnOnce(&str, KeyProblem) -> ConfigError,
) -> Result<T, ConfigError> {
    let tag = Tagged::<T>::TAG;
    tagged::read(tag, raw.table()).map_err(|p| match p {
        Problem::MissingTag => ctx
            .error(key, format!("needs a `{tag}`"))
            .with_hint(format!(
                "the {what}: one of {}",
                tagged::variants::<T>(tag).join(", ")
            )),
        Problem::UnknownTag { found, expected } => {
            unknown_kind(ctx, &format!("{key}.{tag}"), what, &found, expected)
        }
        Problem::Key(k) => word(raw.kind().unwrap_or_default(), k),
        Problem::Invalid { key: at, message } => ctx.error_with_column(
            &at.map_or_else(|| key.to_string(), |k| format!("{key}.{k}")),
            suggest::plain_types(&message),
        ),
    })
}

/// Builds a distribution at `key` whose quantities (mean, value, bounds, median, p99, list
/// items) are read by `quantity`; `sigma` and `cv` are plain numbers.
pub(crate) fn dist(
    ctx: &Ctx<'_>,
    key: &str,
    unit: &str,
    raw: &Tagged<DistFile>,
    quantity: &QuantityReader<'_>,
    read_file: &ValuesFileReader<'_>,
) -> Result<Dist, ConfigError> {
    let takes = |kind: &str| {
        let keys = tagged::keys::<DistFile>(Tagged::<DistFile>::TAG, kind);
        format!(
            "{} {kind} distribution takes: {}",
            article(kind),
            keys.join(", ")
        )
    };
    let file = read_tagged(ctx, key, "distribution kind", raw, |kind, p| match p {
        KeyProblem::Unknown {
            key: extra,
            expected,
        } => ctx
            .error(
                &format!("{key}.{extra}"),
                format!(
                    "`{extra}` does not apply to {} {kind} distribution",
                    article(kind)
                ),
            )
            .with_hint(match suggest::key_hint(&extra, expected) {
                Some(h) => format!("{h} ({})", takes(kind)),
                None => takes(kind),
            }),
        KeyProblem::Missing(name) => ctx
            .error(
                key,
                format!("{} {kind} distribution needs `{name}`", article(kind)),
            )
            .with_hint(takes(kind)),
    })?;
    let k = |name: &str| format!("{key}.{name}");
    let built = match &file {
        DistFile::Exponential { mean } => Dist::exponential(quantity(&k("mean"), mean)?),
        DistFile::Deterministic { value } => Dist::deterministic(quantity(&k("value"), value)?),
        DistFile::Uniform { min, max } => {
            Dist::uniform(quantity(&k("min"), min)?, quantity(&k("max"), max)?)
        }
        DistFile::Lognormal { median, sigma, p99 } => {
            let median = quantity(&k("median"), median)?;
            match (sigma, p99) {
                (Some(s), None) => Dist::lognormal(median, ctx.positive_number(&k("sigma"), s)?),
                (None, Some(p)) => Dist::lognormal_p99(median, quantity(&k("p99"), p)?),
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
        DistFile::Gamma { mean, cv } => {
            let mean = quantity(&k("mean"), mean)?;
            let cv = match cv {
                Some(cv) => ctx.positive_number(&k("cv"), cv)?,
                None => {
                    return Err(ctx.error(key, "a gamma distribution needs `cv`").with_hint(
                        "cv is the standard deviation divided by the mean; 1 is exponential",
                    ));
                }
            };
            Dist::gamma(mean, cv)
        }
        DistFile::Empirical {
            values,
            file,
            column,
        } => {
            let values = match (values, file) {
                (Some(list), None) => list
                    .iter()
                    .enumerate()
                    .map(|(i, v)| quantity(&format!("{key}.values[{i}]"), v))
                    .collect::<Result<Vec<_>, _>>()?,
                (None, Some(f)) => match column {
                    Some(c) => read_csv_column(ctx, &k("column"), &ctx.resolve(f), c)?,
                    None => read_file(&k("file"), &ctx.resolve(f))?,
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
    let text = super::input::read_text(path, super::input::InputKind::Data).map_err(|e| {
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
    let text = super::input::read_text(path, super::input::InputKind::Data).map_err(|e| {
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
pub(crate) fn read_seconds_file(
    ctx: &Ctx<'_>,
    key: &str,
    path: &Path,
) -> Result<Vec<f64>, ConfigError> {
    read_numbers_file(ctx, key, path, "a number of seconds")
}

/// `workload.arrival` with kind = "schedule".
pub(crate) fn schedule(
    ctx: &Ctx<'_>,
    rates: &Option<Vec<Vec<Scalar>>>,
    period: &Option<Scalar>,
) -> Result<Arrivals, ConfigError> {
    let key = "workload.arrival";
    let Some(rows) = rates else {
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
            Scalar::Text(t) => {
                parse_rate(t).map_err(|e| ctx.error(&format!("{k}[1]"), e.to_string()))?
            }
            Scalar::Number(n) => {
                return Err(ctx.error(
                    &format!("{k}[1]"),
                    format!("a rate needs a unit, found the bare number {n}"),
                ));
            }
        };
        pieces.push((start, rate));
    }
    let period = period
        .as_ref()
        .map(|p| ctx.positive_duration(&format!("{key}.period"), p))
        .transpose()?;
    Arrivals::schedule(pieces, period).map_err(|m| ctx.error(&format!("{key}.rates"), m))
}
