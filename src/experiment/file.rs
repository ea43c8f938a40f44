//! The serde mirror of an experiment file (stage one of two).
//!
//! These types follow the TOML shape and nothing more: every value that has a unit or a range is
//! kept as written ([`Scalar`]) and checked in `validate`, where the error can say which key is
//! wrong and why. Unknown keys are refused here, except in tables whose keys depend on what
//! another key picks (an engine's options depend on the scheduler of its class): those are
//! kept as written and read in stage two.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

pub use super::units::Scalar;

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
    /// Width of the time-series windows.
    pub timeseries_interval: Option<Scalar>,
    /// `[workload]`.
    pub workload: WorkloadFile,
    /// `[endpoint]`.
    pub endpoint: EndpointFile,
    /// `[client]`.
    #[serde(default)]
    pub client: ClientFile,
    /// `[gateway]`: a proxy between clients and the endpoint.
    pub gateway: Option<GatewayFile>,
    /// `[breaker]`: a circuit breaker, with an optional fallback endpoint.
    pub breaker: Option<BreakerFile>,
    /// `[async]`: an async task queue instead of synchronous calls.
    #[serde(rename = "async")]
    pub async_queue: Option<AsyncFile>,
    /// `[[classes]]`: client classes (tiers).
    pub classes: Option<Vec<ClassFile>>,
    /// `[slo]`: the targets runs are judged against.
    pub slo: Option<SloFile>,
    /// Most requests in flight before a run is stopped as overloaded.
    pub max_in_flight: Option<i64>,
    /// `[sweep]`: read separately (`experiment::sweep`); accepted here so the file's own
    /// values can be checked with their lines.
    pub sweep: Option<toml::Table>,
}

/// `[workload]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WorkloadFile {
    /// `workload.arrival`: an open-loop arrival process.
    pub arrival: Option<Tagged<ArrivalFile>>,
    /// `workload.users`: a closed loop of users instead.
    pub users: Option<UsersFile>,
    /// Prompt tokens per request (LLM endpoints).
    pub prompt_tokens: Option<Tagged<DistFile>>,
    /// Output tokens per request (LLM endpoints).
    pub output_tokens: Option<Tagged<DistFile>>,
    /// A system prompt every request starts with (or variants with shares).
    pub system_prompt: Option<SystemPromptFile>,
    /// A fixed pool of prompts, reused.
    pub prompt_pool: Option<PoolFile>,
    /// Documents shared by groups of requests.
    pub prefix_groups: Option<GroupsFile>,
    /// Multi-turn sessions.
    pub conversation: Option<ConversationFile>,
}

/// `workload.users = { count = 16, think-time = { ... } }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct UsersFile {
    /// Number of users.
    pub count: i64,
    /// Time between an outcome and the next request.
    pub think_time: Tagged<DistFile>,
}

/// A model: a catalog id, or an inline table with the architecture.
#[derive(Debug)]
pub enum ModelRef {
    /// `model = "llama-2-7b"`.
    Id(String),
    /// `model = { id = "my-model", params = ..., ... }`.
    Inline(Box<crate::experiment::catalog::LlmFile>),
}

impl<'de> Deserialize<'de> for ModelRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModelVisitor;
        impl<'de> Visitor<'de> for ModelVisitor {
            type Value = ModelRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a model id such as \"llama-2-7b\", or a table describing the model")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ModelRef, E> {
                Ok(ModelRef::Id(v.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<ModelRef, A::Error> {
                let inline = crate::experiment::catalog::LlmFile::deserialize(
                    de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(ModelRef::Inline(Box::new(inline)))
            }
        }
        deserializer.deserialize_any(ModelVisitor)
    }
}

/// A catalog entry named by id, or described inline with the fields of its catalog file.
#[derive(Debug)]
pub enum CatalogRef<T> {
    /// `gpu = "t4"`.
    Id(String),
    /// `gpu = { id = "my-gpu", ... }`.
    Inline(Box<T>),
}

/// What an id or inline table of a catalog entry stands for, for serde's messages.
pub trait Described {
    /// e.g. "a GPU id such as \"t4\", or a table describing the GPU".
    const EXPECTING: &'static str;
}

impl Described for crate::experiment::catalog::GpuFile {
    const EXPECTING: &'static str =
        "a GPU id such as \"t4\", or a table with the fields of a models/gpus/*.toml file";
}

impl Described for crate::experiment::catalog::InstanceFile {
    const EXPECTING: &'static str = "an instance id such as \"g5.12xlarge\", or a table with the fields of a models/instances/*.toml file";
}

impl Described for crate::experiment::catalog::ClassFile {
    const EXPECTING: &'static str = "an engine class id such as \"vllm-v1\", or a table with the fields of a models/engines/*.toml file";
}

impl<'de, T: Deserialize<'de> + Described> Deserialize<'de> for CatalogRef<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RefVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Described> Visitor<'de> for RefVisitor<T> {
            type Value = CatalogRef<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CatalogRef<T>, E> {
                Ok(CatalogRef::Id(v.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<CatalogRef<T>, A::Error> {
                let inline = T::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(CatalogRef::Inline(Box::new(inline)))
            }
        }
        deserializer.deserialize_any(RefVisitor(std::marker::PhantomData))
    }
}

impl<T> CatalogRef<T> {
    /// The id when one is named.
    pub fn id(&self) -> Option<&str> {
        match self {
            CatalogRef::Id(id) => Some(id),
            CatalogRef::Inline(_) => None,
        }
    }
}

/// `endpoint.engine = { kind = "vllm", ... }`: the keys every engine takes. The others are the
/// options of the scheduler the engine's class runs, which is known only once `kind` and
/// `version` have picked the class: they are kept as written, and read then as that
/// scheduler's variant of `experiment::engines::Options`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EngineFile {
    /// Engine family (`vllm`, `tgi`, `sglang`, `tensorrt-llm`, `transformers`) or `static`.
    pub kind: String,
    /// Engine version (`"1.0"`, `"0.6.3"`): picks the family's engine class covering it.
    pub version: Option<String>,
    /// Engine class id (`tgi-1`, `vllm-v1`, ...) or an inline class table, instead of a version.
    pub class: Option<CatalogRef<crate::experiment::catalog::ClassFile>>,
    /// `auto`, `fp16` or `fp8`.
    pub kv_cache_dtype: Option<String>,
    /// Longest sequence, prompt and output.
    pub max_model_len: Option<i64>,
    /// Every other key: the scheduler's options.
    #[serde(flatten)]
    pub options: toml::Table,
}

impl EngineFile {
    /// The keys above that pick the class, for messages listing what an engine takes.
    pub const PICKING: [&'static str; 2] = ["version", "class"];
    /// The keys above that every engine takes as options, for the same messages.
    pub const SHARED: [&'static str; 2] = ["kv-cache-dtype", "max-model-len"];
}

/// Measured latencies: one list over batch sizes, or rows over context lengths.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum LatencyTable {
    /// `["20ms", "25ms"]`.
    List(Vec<Scalar>),
    /// `[["20ms", "25ms"], ["30ms", "40ms"]]`.
    Grid(Vec<Vec<Scalar>>),
}

/// `endpoint.profile`: a measured step-latency curve.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProfileFile {
    /// Batch sizes.
    pub batch: Option<Vec<f64>>,
    /// Context lengths, one per row of `step-latency`.
    pub context: Option<Vec<f64>>,
    /// Step latency at each batch size (a list), or a table with one row per context length.
    pub step_latency: Option<LatencyTable>,
    /// Or: tokens (or requests) per second of the whole batch at each size.
    pub tokens_per_s: Option<Vec<f64>>,
    /// Or: a CSV file with columns `batch,step_latency_s`, `batch,tokens_per_s` or
    /// `batch,context,step_latency_s`.
    pub file: Option<String>,
    /// Prompt tokens per second in prefill.
    pub prefill_tokens_per_s: Option<f64>,
    /// KV-cache capacity in tokens, when no GPU and model are given.
    pub kv_tokens: Option<i64>,
}

/// A table whose keys depend on its `kind` (`kind = "uniform"` takes `min` and `max`), kept as
/// written in stage one and read in stage two as `T`, an internally tagged enum with one
/// variant per kind, where an error can name the key and say what the kind takes.
#[derive(Debug, Clone)]
pub struct Tagged<T> {
    table: toml::Table,
    of: PhantomData<fn() -> T>,
}

impl<T> Tagged<T> {
    /// The tag every such table has.
    pub const TAG: &'static str = "kind";

    /// The table as written.
    pub fn table(&self) -> &toml::Table {
        &self.table
    }

    /// The kind as written, when it is a string.
    pub fn kind(&self) -> Option<&str> {
        self.table.get(Self::TAG).and_then(toml::Value::as_str)
    }
}

impl<'de, T> Deserialize<'de> for Tagged<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Tagged {
            table: toml::Table::deserialize(deserializer)?,
            of: PhantomData,
        })
    }
}

/// `workload.arrival = { kind = "poisson", rate = "3/s" }`: one variant per arrival process.
/// Keys whose absence has a specific message (`rate`, `rates`, `file`) are optional here and
/// required in `workload`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    deny_unknown_fields
)]
pub enum ArrivalFile {
    /// Exponential gaps.
    Poisson {
        /// Mean arrival rate.
        rate: Option<Scalar>,
    },
    /// Equal gaps.
    Constant {
        /// Arrival rate.
        rate: Option<Scalar>,
    },
    /// Gamma-distributed gaps.
    Gamma {
        /// Mean arrival rate.
        rate: Option<Scalar>,
        /// Coefficient of variation of the gaps.
        cv: Option<Scalar>,
    },
    /// Poisson at `rate` during on phases and `off-rate` during off phases.
    OnOff {
        /// The rate while on.
        rate: Option<Scalar>,
        /// The rate while off.
        off_rate: Option<Scalar>,
        /// Mean length of an on phase.
        on: Option<Scalar>,
        /// Mean length of an off phase.
        off: Option<Scalar>,
    },
    /// A sinusoidal daily cycle.
    Diurnal {
        /// Mean rate over the cycle.
        rate: Option<Scalar>,
        /// Relative swing of the rate, 0 to 1.
        amplitude: Option<Scalar>,
        /// The cycle (default 24h).
        period: Option<Scalar>,
        /// Time of the peak within the cycle (default 14h).
        peak: Option<Scalar>,
    },
    /// Piecewise-constant rates.
    Schedule {
        /// `[["0s", "1/s"], ["8h", "5/s"], ...]`: start time and rate of each piece.
        rates: Option<Vec<Vec<Scalar>>>,
        /// Repeat with this period (e.g. `"24h"`).
        period: Option<Scalar>,
    },
    /// A request trace replayed.
    Trace {
        /// The CSV file to replay.
        file: Option<String>,
        /// Replay at this mean rate (instead of `speed`).
        rate: Option<Scalar>,
        /// Replay this many times faster (instead of `rate`).
        speed: Option<Scalar>,
        /// Start again after the last row.
        #[serde(rename = "loop")]
        looped: Option<bool>,
    },
}

/// `[endpoint]`: either `servers` and `service-time`, or an LLM (`gpu` and `model`, and/or a
/// measured `profile`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EndpointFile {
    /// Number of servers.
    pub servers: Option<i64>,
    /// Service time distribution.
    pub service_time: Option<Tagged<DistFile>>,
    /// GPU id, or an inline GPU table.
    pub gpu: Option<CatalogRef<crate::experiment::catalog::GpuFile>>,
    /// Multi-GPU instance id (`g5.12xlarge`) or an inline instance table: its GPU,
    /// interconnect and prices.
    pub instance: Option<CatalogRef<crate::experiment::catalog::InstanceFile>>,
    /// Model id or inline model.
    pub model: Option<ModelRef>,
    /// Quantization id.
    pub quantization: Option<String>,
    /// Weights per quantization group, overriding the scheme's default.
    pub quantization_group_size: Option<i64>,
    /// GPUs per replica.
    pub tensor_parallel: Option<i64>,
    /// Identical replicas.
    pub replicas: Option<i64>,
    /// `round-robin`, `least-outstanding` or `power-of-two`.
    pub load_balancer: Option<String>,
    /// Batching engine.
    pub engine: Option<EngineFile>,
    /// Measured step-latency curve.
    pub profile: Option<ProfileFile>,
    /// `[endpoint.cold-start]`: what a new replica goes through before it serves.
    pub cold_start: Option<ColdStartFile>,
    /// `[endpoint.billing]`: the instance price.
    pub billing: Option<BillingFile>,
    /// `[endpoint.scaling]`: cold starts, scale-to-zero and unavailability.
    pub scaling: Option<ScalingFile>,
    /// Waiting room size.
    pub queue_capacity: Option<i64>,
    /// Longest wait before the server drops a request.
    pub queue_timeout: Option<Scalar>,
    /// Requests queued or running per replica at most; more get HTTP 429.
    pub max_concurrent_requests: Option<i64>,
    /// SSE keep-alive interval on streamed responses.
    pub keep_alive: Option<Scalar>,
    /// `fifo`, `priority` or `fair`: how replicas order classes.
    pub scheduling: Option<String>,
}

/// A distribution: `{ kind = "...", ...parameters }`, one variant per family. `sigma` and
/// `p99`, `values` and `file` are alternatives, checked in `read`; `cv` of a gamma has a
/// message of its own when missing.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    deny_unknown_fields
)]
pub enum DistFile {
    /// Exponential.
    Exponential {
        /// Mean.
        mean: Scalar,
    },
    /// A constant.
    Deterministic {
        /// The value.
        value: Scalar,
    },
    /// Uniform between two bounds.
    Uniform {
        /// Lower bound.
        min: Scalar,
        /// Upper bound.
        max: Scalar,
    },
    /// Lognormal, by its median and spread.
    Lognormal {
        /// Median.
        median: Scalar,
        /// Log-space standard deviation (or `p99`).
        sigma: Option<Scalar>,
        /// 99th percentile (or `sigma`).
        p99: Option<Scalar>,
    },
    /// Gamma, by its mean and coefficient of variation.
    Gamma {
        /// Mean.
        mean: Scalar,
        /// Coefficient of variation.
        cv: Option<Scalar>,
    },
    /// Observed values, drawn with equal weight.
    Empirical {
        /// The values inline (or `file`).
        values: Option<Vec<Scalar>>,
        /// A file of values, one per line (or `values`).
        file: Option<String>,
        /// With `file`: read this column of a CSV with a header instead (e.g. a trace's
        /// `ContextTokens`).
        column: Option<String>,
    },
}

/// `[endpoint.cold-start]`; every key overrides a default from `models/lifecycle.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ColdStartFile {
    /// Machine provisioning time.
    pub provisioning: Option<Scalar>,
    /// Container image size, GB.
    pub image_gb: Option<f64>,
    /// Image pull bandwidth, GB/s.
    pub image_pull_gb_s: Option<f64>,
    /// Whether the image is cached on the machine.
    pub cached_image: Option<bool>,
    /// Weight download bandwidth, GB/s.
    pub weight_download_gb_s: Option<f64>,
    /// Whether the weights are cached on local disk.
    pub cached_weights: Option<bool>,
    /// Load bandwidth into each GPU, GB/s.
    pub load_gb_s: Option<f64>,
    /// Engine warm-up time.
    pub warm_up: Option<Scalar>,
    /// Relative spread of each phase, 0 to under 1.
    pub jitter: Option<f64>,
}

/// `[endpoint.scaling]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScalingFile {
    /// Replicas kept running when idle.
    pub min_replicas: Option<i64>,
    /// Most replicas.
    pub max_replicas: Option<i64>,
    /// Replicas ready at time zero.
    pub initial_replicas: Option<i64>,
    /// Idle time after which replicas beyond the minimum stop.
    pub idle_timeout: Option<Scalar>,
    /// `reject` (HTTP 503), `hold` (until ready or scale-up-timeout) or `queue`.
    pub when_unavailable: Option<String>,
    /// With `hold`: how long a request is held.
    pub scale_up_timeout: Option<Scalar>,
    /// While no replica is ready: `accepted` (a proxy holds the connection) or `unanswered`
    /// (nothing listens).
    pub cold_connections: Option<String>,
    /// Scaling on load.
    pub autoscale: Option<AutoscaleFile>,
}

/// `autoscale = { signal = "pending", target = 1.5, window = "20s", ... }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AutoscaleFile {
    /// `pending`, `gpu-utilization` or `queue-depth`.
    pub signal: String,
    /// Target per replica (pending, queue-depth).
    pub target: Option<f64>,
    /// Utilisation threshold (gpu-utilization), 0 to 1.
    pub threshold: Option<f64>,
    /// Averaging window.
    pub window: Option<Scalar>,
    /// How often scaling up is considered.
    pub up_interval: Option<Scalar>,
    /// How often scaling down is considered.
    pub down_interval: Option<Scalar>,
    /// No scaling down until this long after the last scaling.
    pub stabilization: Option<Scalar>,
    /// Most replicas added or removed at once.
    pub max_step: Option<i64>,
}

/// `[endpoint.billing]`: a catalog instance price, or an explicit one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BillingFile {
    /// e.g. `aws`.
    pub provider: Option<String>,
    /// e.g. `x1`.
    pub size: Option<String>,
    /// An explicit price instead.
    pub usd_per_hour: Option<f64>,
}

/// `[client]` (and `client` in a class, whose keys override it).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClientFile {
    /// Same as `read-timeout`.
    pub timeout: Option<Scalar>,
    /// Longest silence once connected.
    pub read_timeout: Option<Scalar>,
    /// Longest wait for a replica to take the connection.
    pub connect_timeout: Option<Scalar>,
    /// Longest time for the whole request, retries included.
    pub deadline: Option<Scalar>,
    /// Server-sent events.
    pub streaming: Option<bool>,
    /// Same as `cancel-on-disconnect`.
    pub cancel_on_timeout: Option<bool>,
    /// Whether the server stops work when the client hangs up.
    pub cancel_on_disconnect: Option<bool>,
    /// Retries.
    pub retry: Option<RetryFile>,
}

impl ClientFile {
    /// `self`'s keys where set, else `base`'s.
    pub fn over(&self, base: &ClientFile) -> ClientFile {
        ClientFile {
            timeout: self.timeout.clone().or(base.timeout.clone()),
            read_timeout: self.read_timeout.clone().or(base.read_timeout.clone()),
            connect_timeout: self
                .connect_timeout
                .clone()
                .or(base.connect_timeout.clone()),
            deadline: self.deadline.clone().or(base.deadline.clone()),
            streaming: self.streaming.or(base.streaming),
            cancel_on_timeout: self.cancel_on_timeout.or(base.cancel_on_timeout),
            cancel_on_disconnect: self.cancel_on_disconnect.or(base.cancel_on_disconnect),
            retry: self.retry.clone().or(base.retry.clone()),
        }
    }
}

/// `[client.retry]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RetryFile {
    /// Attempts at most, the first included.
    pub max_attempts: Option<i64>,
    /// Outcomes retried: names or HTTP statuses.
    pub on: Option<Vec<String>>,
    /// First delay.
    pub backoff: Option<Scalar>,
    /// Growth per retry.
    pub multiplier: Option<f64>,
    /// Largest delay.
    pub cap: Option<Scalar>,
    /// `none`, `full` or `equal`.
    pub jitter: Option<String>,
    /// Most retries as a share of first attempts over the last minute.
    pub budget: Option<f64>,
}

/// `[gateway]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GatewayFile {
    /// Idle timeout (HTTP 504).
    pub timeout: Option<Scalar>,
}

/// `[breaker]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BreakerFile {
    /// Failures that open it.
    pub failures: Option<i64>,
    /// Window they are counted over.
    pub window: Option<Scalar>,
    /// Time open before probing.
    pub cool_down: Option<Scalar>,
    /// Probes when half-open.
    pub probes: Option<i64>,
    /// Outcomes counted as failures.
    pub on: Option<Vec<String>>,
    /// `[breaker.fallback]`: an endpoint table.
    pub fallback: Option<Box<EndpointFile>>,
}

/// `[async]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AsyncFile {
    /// `fifo` or `priority`.
    pub order: Option<String>,
    /// Time to live of a queued job.
    pub ttl: Option<Scalar>,
    /// Poll interval; absent: callbacks.
    pub poll: Option<Scalar>,
    /// Most jobs queued.
    pub max_queue: Option<i64>,
}

/// `[[classes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClassFile {
    /// Name in outputs.
    pub name: String,
    /// Share of the workload's requests.
    pub share: f64,
    /// Prompt tokens, overriding the workload's.
    pub prompt_tokens: Option<Tagged<DistFile>>,
    /// Output tokens, overriding the workload's.
    pub output_tokens: Option<Tagged<DistFile>>,
    /// Scheduling priority, 0 first.
    pub priority: Option<i64>,
    /// Weight under fair share.
    pub weight: Option<f64>,
    /// Client keys overriding `[client]`.
    pub client: Option<ClientFile>,
    /// A system prompt every request starts with (or variants with shares).
    pub system_prompt: Option<SystemPromptFile>,
    /// A fixed pool of prompts, reused.
    pub prompt_pool: Option<PoolFile>,
    /// Documents shared by groups of requests.
    pub prefix_groups: Option<GroupsFile>,
    /// Multi-turn sessions.
    pub conversation: Option<ConversationFile>,
}

/// `system-prompt = 2000`, or variants with shares.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SystemPromptFile {
    /// One system prompt of this many tokens on every request.
    Tokens(i64),
    /// Variants: `[{ tokens = 2000, share = 0.7 }, { tokens = 500, share = 0.3 }]`.
    Variants(Vec<VariantFile>),
}

/// One system prompt variant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantFile {
    /// Tokens.
    pub tokens: i64,
    /// Share of requests.
    pub share: f64,
}

/// `prompt-pool = { size = 100, order = "cycle" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolFile {
    /// Distinct prompts.
    pub size: i64,
    /// `cycle` (default) or `random`.
    pub order: Option<String>,
}

/// `prefix-groups = { share = 0.4, groups = 20, tokens = 1500 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupsFile {
    /// Share of requests that start with a group's document.
    pub share: f64,
    /// Distinct documents.
    pub groups: i64,
    /// Tokens of each.
    pub tokens: i64,
}

/// `turns = 5`, or a distribution of turns per session.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TurnsFile {
    /// This many turns in every session.
    Count(i64),
    /// Turns drawn per session (rounded, at least 1).
    Dist(Box<Tagged<DistFile>>),
}

/// `conversation = { turns = 5, think-time = "20s", user-tokens = { ... } }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConversationFile {
    /// Turns per session.
    pub turns: TurnsFile,
    /// Time between an answer and the next message: a duration or a distribution.
    pub think_time: ThinkFile,
    /// Tokens of each user message; default: the prompt-token distribution.
    pub user_tokens: Option<Tagged<DistFile>>,
}

/// A think time: one duration, or a distribution.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ThinkFile {
    /// `"20s"`.
    Fixed(Scalar),
    /// `{ kind = "exponential", mean = "20s" }`.
    Dist(Box<Tagged<DistFile>>),
}

/// `[slo]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SloFile {
    /// Largest share of failed requests: a number from 0 to 1 or a percentage ("1%").
    pub failed_rate: Option<Scalar>,
    /// Largest share of timed-out requests.
    pub timeout_rate: Option<Scalar>,
    /// Largest p99 latency of every request (a duration).
    pub latency_p99: Option<Scalar>,
    /// Largest p99 time to first token (a duration; LLM endpoints).
    pub ttft_p99: Option<Scalar>,
    /// Largest p99 time per output token (a duration; LLM endpoints).
    pub tpot_p99: Option<Scalar>,
    /// Confidence with which replications must meet the targets (default 0.95).
    pub confidence: Option<Scalar>,
    /// `[slo.classes.NAME]`: targets of one client class.
    pub classes: Option<std::collections::BTreeMap<String, SloClassFile>>,
}

/// `[slo.classes.NAME]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SloClassFile {
    /// As in `[slo]`.
    pub failed_rate: Option<Scalar>,
    /// As in `[slo]`.
    pub timeout_rate: Option<Scalar>,
    /// As in `[slo]`.
    pub latency_p99: Option<Scalar>,
    /// As in `[slo]`.
    pub ttft_p99: Option<Scalar>,
    /// As in `[slo]`.
    pub tpot_p99: Option<Scalar>,
}
