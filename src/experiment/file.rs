//! The serde mirror of an experiment file (stage one of two).
//!
//! These types follow the TOML shape and nothing more: every value that has a unit or a range is
//! kept as written ([`Scalar`]) and checked in `validate`, where the error can say which key is
//! wrong and why. Unknown keys are refused here.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

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

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExperimentFile {
    /// Shown in outputs.
    pub name: String,
    /// Free text for the reader.
    pub description: Option<String>,
    /// Master seed; `--seed` overrides it.
    pub seed: Option<u64>,
    /// Simulated time to run.
    pub duration: Option<Scalar>,
    /// Or: counted arrivals to run.
    pub requests: Option<i64>,
    /// Time before statistics start.
    pub warm_up: Option<Scalar>,
    /// `[workload]`.
    pub workload: WorkloadFile,
    /// `[endpoint]`.
    pub endpoint: EndpointFile,
    /// `[client]`.
    #[serde(default)]
    pub client: ClientFile,
}

/// `[workload]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WorkloadFile {
    /// `workload.arrival`.
    pub arrival: ArrivalFile,
}

/// `workload.arrival = { kind = "poisson", rate = "3/s" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ArrivalFile {
    /// `poisson` or `constant`.
    pub kind: String,
    /// Mean arrival rate.
    pub rate: Option<Scalar>,
}

/// `[endpoint]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EndpointFile {
    /// Number of servers.
    pub servers: i64,
    /// Service time distribution.
    pub service_time: DistFile,
    /// Waiting room size.
    pub queue_capacity: Option<i64>,
    /// Longest wait before the server drops a request.
    pub queue_timeout: Option<Scalar>,
}

/// A distribution: `{ kind = "...", ...parameters }`. One flat table for every kind, so that
/// validation can name a parameter that does not belong to the chosen kind.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DistFile {
    /// Family name.
    pub kind: String,
    /// Mean (exponential, gamma).
    pub mean: Option<Scalar>,
    /// Constant (deterministic).
    pub value: Option<Scalar>,
    /// Lower bound (uniform).
    pub min: Option<Scalar>,
    /// Upper bound (uniform).
    pub max: Option<Scalar>,
    /// Median (lognormal).
    pub median: Option<Scalar>,
    /// Log-space standard deviation (lognormal).
    pub sigma: Option<Scalar>,
    /// 99th percentile (lognormal, instead of sigma).
    pub p99: Option<Scalar>,
    /// Coefficient of variation (gamma).
    pub cv: Option<Scalar>,
    /// Observed values (empirical).
    pub values: Option<Vec<Scalar>>,
    /// File of observed values, one per line (empirical).
    pub file: Option<String>,
}

/// `[client]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClientFile {
    /// Read timeout from sending to the end of the response.
    pub timeout: Option<Scalar>,
    /// Whether the server stops work when the client gives up.
    pub cancel_on_timeout: Option<bool>,
}
