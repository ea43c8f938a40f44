//! Human units in experiment files: durations like `"30s"`, `"1.5m"`, `"2h 30m"` and rates like
//! `"3/s"` or `"180/min"`, and the value as written before its unit is read ([`Scalar`]).
//!
//! humantime is not used because it rejects fractions (`"0.5s"`), which queueing experiments
//! need constantly.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use thiserror::Error;

use crate::sim::SimDuration;

/// A value as written: text (which usually carries a unit) or a bare number.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A TOML string.
    Text(String),
    /// A TOML integer or float.
    Number(f64),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Text(t) => write!(f, "\"{t}\""),
            Scalar::Number(n) => write!(f, "{n}"),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string such as \"30s\" or \"3/s\", or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Number(v))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// Why a unit string could not be read.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum UnitError {
    /// Nothing was written.
    #[error("expected {what} like {example}, found an empty string")]
    Empty {
        /// "a duration" or "a rate".
        what: &'static str,
        /// An example of the expected form.
        example: &'static str,
    },
    /// A number without a unit.
    #[error("\"{text}\" has no unit; write it like {example}")]
    MissingUnit {
        /// The text as written.
        text: String,
        /// An example of the expected form.
        example: &'static str,
    },
    /// A unit that is not known.
    #[error("unknown unit \"{unit}\" in \"{text}\"; expected one of {expected}")]
    UnknownUnit {
        /// The unknown unit.
        unit: String,
        /// The text as written.
        text: String,
        /// The units that are accepted.
        expected: &'static str,
    },
    /// A negative duration.
    #[error("a duration cannot be negative, found \"{text}\"")]
    Negative {
        /// The text as written.
        text: String,
    },
    /// Text that is not a number followed by a unit.
    #[error("cannot read \"{text}\" as {what}; write it like {example}")]
    Malformed {
        /// The text as written.
        text: String,
        /// "a duration" or "a rate".
        what: &'static str,
        /// An example of the expected form.
        example: &'static str,
    },
    /// A positive duration shorter than the clock's step, which would round to 0.
    #[error(
        "\"{text}\" is below the clock's 1 ns step and would round to 0 ns; write 0 for none or at least \"1ns\""
    )]
    RoundsToZero {
        /// The text as written.
        text: String,
    },
    /// More than the clock can hold (about 584 years).
    #[error("\"{text}\" is too long to simulate")]
    TooLarge {
        /// The text as written.
        text: String,
    },
}

const DURATION_UNITS: &str = "ns, us, ms, s, m (or min), h, d";
const DURATION_EXAMPLE: &str = "\"30s\", \"1.5m\" or \"2h 30m\"";
const RATE_UNITS: &str = "/ms, /s, /m (or /min), /h, /d";
const RATE_EXAMPLE: &str = "\"3/s\" or \"180/min\"";

/// Seconds in one of the named time units.
fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" | "nsec" => 1e-9,
        "us" | "µs" | "usec" => 1e-6,
        "ms" | "msec" => 1e-3,
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600.0,
        "d" | "day" | "days" => 86_400.0,
        _ => return None,
    })
}

/// Splits a leading decimal number (`12`, `1.5`, `.5`, `-3`, `2e3`) from `s`.
fn split_number(s: &str) -> Option<(f64, &str)> {
    let bytes = s.as_bytes();
    let mut end = 0;
    if end < bytes.len() && (bytes[end] == b'-' || bytes[end] == b'+') {
        end += 1;
    }
    let digits_start = end;
    while end < bytes.len()
        && (bytes[end].is_ascii_digit() || bytes[end] == b'.' || bytes[end] == b'_')
    {
        end += 1;
    }
    if end == digits_start {
        return None;
    }
    // An exponent only counts if digits follow it, so "3e" stays "3" + unit "e".
    if end + 1 < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
        let mut k = end + 1;
        if bytes[k] == b'-' || bytes[k] == b'+' {
            k += 1;
        }
        if k < bytes.len() && bytes[k].is_ascii_digit() {
            while k < bytes.len() && bytes[k].is_ascii_digit() {
                k += 1;
            }
            end = k;
        }
    }
    let number: f64 = s[..end].replace('_', "").parse().ok()?;
    Some((number, &s[end..]))
}

/// Reads a duration such as `"30s"`, `"0.5 s"`, `"250ms"`, `"1h 30m"`.
///
/// ```
/// use capsim::experiment::units::parse_duration;
/// assert_eq!(parse_duration("1h 30m").unwrap().as_secs_f64(), 5400.0);
/// assert_eq!(parse_duration("0.5s").unwrap().as_nanos(), 500_000_000);
/// assert!(parse_duration("30 parsecs").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<SimDuration, UnitError> {
    let malformed = || UnitError::Malformed {
        text: text.to_string(),
        what: "a duration",
        example: DURATION_EXAMPLE,
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(UnitError::Empty {
            what: "a duration",
            example: DURATION_EXAMPLE,
        });
    }
    let mut total_secs = 0.0;
    while !rest.is_empty() {
        let (number, after) = split_number(rest).ok_or_else(malformed)?;
        if number < 0.0 {
            return Err(UnitError::Negative {
                text: text.to_string(),
            });
        }
        let after = after.trim_start();
        let unit_len = after
            .char_indices()
            .find(|(_, c)| !c.is_alphabetic())
            .map_or(after.len(), |(i, _)| i);
        let unit = &after[..unit_len];
        if unit.is_empty() {
            return Err(if after.is_empty() {
                UnitError::MissingUnit {
                    text: text.to_string(),
                    example: DURATION_EXAMPLE,
                }
            } else {
                malformed()
            });
        }
        let scale = unit_seconds(unit).ok_or_else(|| UnitError::UnknownUnit {
            unit: unit.to_string(),
            text: text.to_string(),
            expected: DURATION_UNITS,
        })?;
        total_secs += number * scale;
        rest = after[unit_len..].trim_start();
    }
    let d = SimDuration::try_from_secs_f64(total_secs).ok_or_else(|| UnitError::TooLarge {
        text: text.to_string(),
    })?;
    // The clock counts whole nanoseconds: a positive duration below half of one would silently
    // become zero, which means "none" to most keys.
    if d.is_zero() && total_secs > 0.0 {
        return Err(UnitError::RoundsToZero {
            text: text.to_string(),
        });
    }
    Ok(d)
}

/// Reads a rate such as `"3/s"`, `"180 / min"`, `"0.5/h"` and returns events per second. The
/// sign is kept, so that the caller can say why a negative rate is wrong.
///
/// ```
/// use capsim::experiment::units::parse_rate;
/// assert_eq!(parse_rate("180/min").unwrap(), 3.0);
/// assert_eq!(parse_rate("7200/h").unwrap(), 2.0);
/// ```
pub fn parse_rate(text: &str) -> Result<f64, UnitError> {
    let malformed = || UnitError::Malformed {
        text: text.to_string(),
        what: "a rate",
        example: RATE_EXAMPLE,
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(UnitError::Empty {
            what: "a rate",
            example: RATE_EXAMPLE,
        });
    }
    let (number, after) = split_number(trimmed).ok_or_else(malformed)?;
    let after = after.trim_start();
    let Some(unit) = after.strip_prefix('/') else {
        return Err(if after.is_empty() {
            UnitError::MissingUnit {
                text: text.to_string(),
                example: RATE_EXAMPLE,
            }
        } else {
            malformed()
        });
    };
    let unit = unit.trim();
    let per = unit_seconds(unit).ok_or_else(|| UnitError::UnknownUnit {
        unit: unit.to_string(),
        text: text.to_string(),
        expected: RATE_UNITS,
    })?;
    Ok(number / per)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        let cases = [
            ("30s", 30_000_000_000),
            ("0.5s", 500_000_000),
            ("1.5 m", 90_000_000_000),
            ("250ms", 250_000_000),
            ("2h 30m", 9_000_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("10us", 10_000),
            ("7ns", 7),
            ("1d", 86_400_000_000_000),
            ("1e3ms", 1_000_000_000),
            ("1_000s", 1_000_000_000_000),
            ("0s", 0),
        ];
        for (text, nanos) in cases {
            assert_eq!(parse_duration(text).unwrap().as_nanos(), nanos, "{text}");
        }
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        let cases = [
            (
                "30 parsecs",
                "unknown unit \"parsecs\" in \"30 parsecs\"; expected one of ns, us, ms, s, m (or min), h, d",
            ),
            (
                "30",
                "\"30\" has no unit; write it like \"30s\", \"1.5m\" or \"2h 30m\"",
            ),
            ("-5s", "a duration cannot be negative, found \"-5s\""),
            (
                "",
                "expected a duration like \"30s\", \"1.5m\" or \"2h 30m\", found an empty string",
            ),
            (
                "soon",
                "cannot read \"soon\" as a duration; write it like \"30s\", \"1.5m\" or \"2h 30m\"",
            ),
            ("1000000d", "\"1000000d\" is too long to simulate"),
            (
                "0.1ns",
                "\"0.1ns\" is below the clock's 1 ns step and would round to 0 ns; write 0 for none or at least \"1ns\"",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(
                parse_duration(text).unwrap_err().to_string(),
                message,
                "{text}"
            );
        }
    }

    #[test]
    fn rates_in_every_unit() {
        assert_eq!(parse_rate("3/s").unwrap(), 3.0);
        assert_eq!(parse_rate("180 / min").unwrap(), 3.0);
        assert_eq!(parse_rate("7200/h").unwrap(), 2.0);
        assert_eq!(parse_rate("0.5/ms").unwrap(), 500.0);
        assert_eq!(parse_rate("-2/s").unwrap(), -2.0);
        assert!(matches!(
            parse_rate("3"),
            Err(UnitError::MissingUnit { .. })
        ));
        assert!(matches!(
            parse_rate("3/fortnight"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_rate("fast"),
            Err(UnitError::Malformed { .. })
        ));
    }
}
