//! The batching schedulers as experiment files and the catalog see them: for each, the options
//! an `[endpoint.engine]` table takes (its variant of [`Options`]), how they become the domain's
//! engine settings with the catalog's defaults (its `Scheduler` implementation), and its table
//! of defaults in `models/engines.toml` (its field of [`EnginesFile`]). The list of schedulers
//! ([`schedulers`]) and of each one's keys are read from the variants; nothing else in the
//! experiment layer names a scheduler.
//!
//! An engine table is read in two stages because the keys it takes depend on the scheduler,
//! and the scheduler on the engine class that `kind` (a family such as `sglang`) and `version`
//! pick: the experiment file's mirror (`file::EngineFile`) reads the keys every engine takes
//! and keeps the others as written; once the class is known, [`Options::read`] reads those as
//! the class's scheduler's variant.
//!
//! The catalog reads the defaults with the types of this file, so it depends on nothing the
//! catalog is read by: errors reach the experiment file through [`Source`].

use serde::Deserialize;

use super::tagged::{self, Problem};
use super::units::Scalar;
use crate::domain::deployment::Deployment;
use crate::domain::perf::EngineClass;
use crate::domain::serving::{EngineSpec, StaticBatch, Tgi, Vllm};
use crate::error::ConfigError;
use crate::sim::SimDuration;

/// What reading engine options needs from the experiment file they are written in
/// (implemented by `read::Ctx`).
pub(crate) trait Source {
    /// An error at `key` (a path from the top of the file), located in the source.
    fn error(&self, key: &str, message: String) -> ConfigError;

    /// A duration written with a unit, at `key`.
    fn duration(&self, key: &str, v: &Scalar) -> Result<SimDuration, ConfigError>;
}

/// The key path of engine option `k`.
fn ek(k: &str) -> String {
    format!("endpoint.engine.{k}")
}

/// A whole number at `key` between `min` and `max`, `default` when not written.
pub(crate) fn count(
    src: &dyn Source,
    key: &str,
    v: Option<i64>,
    default: u64,
    min: i64,
    max: i64,
) -> Result<u64, ConfigError> {
    match v {
        None => Ok(default),
        Some(n) if (min..=max).contains(&n) => Ok(n as u64),
        Some(n) => Err(src.error(key, format!("must be between {min} and {max}, found {n}"))),
    }
}

/// A share in (0, 1] at `key`, `default` when not written.
fn fraction(src: &dyn Source, key: &str, v: Option<f64>, default: f64) -> Result<f64, ConfigError> {
    match v {
        None => Ok(default),
        Some(x) if x > 0.0 && x <= 1.0 => Ok(x),
        Some(x) => Err(src.error(key, format!("must be more than 0 and at most 1, found {x}"))),
    }
}

/// The tag [`Options`] is read with; no experiment key has this name.
const TAG: &str = "scheduler";

/// The options of an `[endpoint.engine]` table besides those every engine takes, by the
/// scheduler its class runs.
#[derive(Debug, Deserialize)]
#[serde(tag = "scheduler", rename_all = "kebab-case")]
pub(crate) enum Options {
    /// vLLM's continuous batching.
    Vllm(VllmOptions),
    /// TGI's router and continuous batching.
    Tgi(TgiOptions),
    /// Static batching (HF transformers, or a dynamic batcher in front of one).
    Static(StaticOptions),
}

/// The schedulers an engine class can run, in their documented order.
pub fn schedulers() -> &'static [&'static str] {
    tagged::variants::<Options>(TAG)
}

/// The options scheduler `scheduler` takes.
pub(crate) fn scheduler_keys(scheduler: &str) -> &'static [&'static str] {
    tagged::keys::<Options>(TAG, scheduler)
}

impl Options {
    /// Reads `written`, the keys of an engine table that every engine does not take, as the
    /// options of `scheduler`. The problem says which key is wrong; the caller words it, since
    /// it knows which engine the user named.
    pub(crate) fn read(scheduler: &str, written: &toml::Table) -> Result<Options, Problem> {
        tagged::read_as(TAG, scheduler, written)
    }

    fn scheduler(&self) -> &dyn Scheduler {
        match self {
            Options::Vllm(o) => o,
            Options::Tgi(o) => o,
            Options::Static(o) => o,
        }
    }

    /// The share of GPU memory the engine takes (with a GPU and model).
    pub(crate) fn memory_utilization(
        &self,
        src: &dyn Source,
        d: &EnginesFile,
    ) -> Result<f64, ConfigError> {
        self.scheduler().memory_utilization(src, d)
    }

    /// Whether the engine keeps a prefix cache, when the options say (else the class's
    /// default holds).
    pub(crate) fn prefix_caching(&self) -> Option<bool> {
        match self {
            Options::Vllm(o) => o.prefix_caching,
            Options::Tgi(_) | Options::Static(_) => None,
        }
    }

    /// Tokens per KV block: as written, else the class's (`class`), else the scheduler's.
    pub(crate) fn block_size(
        &self,
        src: &dyn Source,
        d: &EnginesFile,
        class: Option<u32>,
    ) -> Result<u32, ConfigError> {
        let scheduler = self.scheduler().block_size(src, d)?;
        let written = match self {
            Options::Vllm(o) => o.block_size.is_some(),
            Options::Tgi(o) => o.block_size.is_some(),
            Options::Static(_) => false,
        };
        Ok(match class {
            Some(b) if !written => b,
            _ => scheduler,
        })
    }

    /// The engine's settings, with the catalog's defaults for what is not written.
    pub(crate) fn spec(&self, at: Place<'_>) -> Result<EngineSpec, ConfigError> {
        self.scheduler().spec(at)
    }
}

/// What an engine's settings depend on besides its options.
#[derive(Clone, Copy)]
pub(crate) struct Place<'a> {
    /// Where errors go.
    pub(crate) src: &'a dyn Source,
    /// The catalog's scheduler defaults.
    pub(crate) defaults: &'a EnginesFile,
    /// The engine class.
    pub(crate) class: &'a EngineClass,
    /// The GPU and model, when given.
    pub(crate) deployment: Option<&'a Deployment>,
    /// The longest sequence.
    pub(crate) max_model_len: u32,
}

/// One scheduler's reading of its options.
trait Scheduler {
    /// The share of GPU memory the engine takes for weights, runtime and KV cache.
    fn memory_utilization(&self, src: &dyn Source, d: &EnginesFile) -> Result<f64, ConfigError>;

    /// Tokens per KV block.
    fn block_size(&self, src: &dyn Source, d: &EnginesFile) -> Result<u32, ConfigError>;

    /// The engine's settings.
    fn spec(&self, at: Place<'_>) -> Result<EngineSpec, ConfigError>;
}

/// Tokens per KV block at `block-size`, `default` when not written.
fn block_size(src: &dyn Source, v: Option<i64>, default: u32) -> Result<u32, ConfigError> {
    Ok(count(src, &ek("block-size"), v, u64::from(default), 1, 1024)? as u32)
}

/// `[endpoint.engine]` options of the vllm scheduler.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct VllmOptions {
    max_num_seqs: Option<i64>,
    max_num_batched_tokens: Option<i64>,
    chunked_prefill: Option<bool>,
    gpu_memory_utilization: Option<f64>,
    block_size: Option<i64>,
    /// Keep a prefix cache (default: the engine class's).
    prefix_caching: Option<bool>,
}

/// vLLM scheduler defaults (figures.md §2.3): `[vllm]` in `models/engines.toml`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VllmDefaults {
    /// Running sequences at most.
    pub max_num_seqs: u32,
    /// Tokens per step at most.
    pub max_num_batched_tokens: u32,
    /// `max_num_seqs` on GPUs of 70 GiB or more that are not A100s.
    pub large_gpu_max_num_seqs: u32,
    /// `max_num_batched_tokens` on those GPUs.
    pub large_gpu_max_num_batched_tokens: u32,
    /// Share of GPU memory the engine takes.
    pub gpu_memory_utilization: f64,
    /// Tokens per KV block.
    pub block_size: u32,
    /// Where these come from.
    pub source: String,
}

impl Scheduler for VllmOptions {
    fn memory_utilization(&self, src: &dyn Source, d: &EnginesFile) -> Result<f64, ConfigError> {
        fraction(
            src,
            &ek("gpu-memory-utilization"),
            self.gpu_memory_utilization,
            d.vllm.gpu_memory_utilization,
        )
    }

    fn block_size(&self, src: &dyn Source, d: &EnginesFile) -> Result<u32, ConfigError> {
        block_size(src, self.block_size, d.vllm.block_size)
    }

    /// vLLM's batch defaults depend on the GPU's size.
    fn spec(&self, at: Place<'_>) -> Result<EngineSpec, ConfigError> {
        let (src, d) = (at.src, &at.defaults.vllm);
        let large_gpu = at.deployment.is_some_and(|d| {
            d.gpu.visible_memory >= 70.0 * 1024f64.powi(3) && !d.gpu.id.starts_with("a100")
        });
        let (mut seqs, toks) = if large_gpu {
            (d.large_gpu_max_num_seqs, d.large_gpu_max_num_batched_tokens)
        } else {
            (d.max_num_seqs, d.max_num_batched_tokens)
        };
        if at.class.running_limit_from_kv_pool
            && let Some(dep) = at.deployment
        {
            seqs = kv_pool_running_limit(dep.memory().kv_tokens(), at.max_model_len);
        }
        let chunked = self.chunked_prefill.unwrap_or(at.class.chunked_prefill);
        let max_batched_tokens = count(
            src,
            &ek("max-num-batched-tokens"),
            self.max_num_batched_tokens,
            u64::from(toks),
            1,
            1 << 24,
        )? as u32;
        let max_model_len = at.max_model_len;
        if !chunked && max_batched_tokens < max_model_len {
            return Err(src
                .error(&ek("max-num-batched-tokens"), format!("without chunked prefill it must hold a whole prompt: at least max-model-len ({max_model_len}), found {max_batched_tokens}"))
                .with_hint("raise it, lower max-model-len, or enable chunked-prefill"));
        }
        Ok(EngineSpec::new(Vllm {
            max_num_seqs: count(
                src,
                &ek("max-num-seqs"),
                self.max_num_seqs,
                u64::from(seqs),
                1,
                1 << 20,
            )? as u32,
            max_batched_tokens,
            chunked_prefill: chunked,
        }))
    }
}

/// SGLang's default limit on running requests: `min(kv_tokens / 2, pool)`, the request pool
/// being `kv_tokens / context_len x 512` clamped to 2,048-4,096 (models/SOURCES.md §3,
/// `running-limit-from-kv-pool` in the sglang class).
pub(crate) fn kv_pool_running_limit(kv_tokens: u64, context_len: u32) -> u32 {
    let pool =
        ((kv_tokens as f64 / f64::from(context_len.max(1)) * 512.0) as u64).clamp(2048, 4096);
    (kv_tokens / 2).min(pool).max(1) as u32
}

/// `[endpoint.engine]` options of the tgi scheduler.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct TgiOptions {
    max_concurrent_requests: Option<i64>,
    max_batch_prefill_tokens: Option<i64>,
    waiting_served_ratio: Option<f64>,
    max_waiting_tokens: Option<i64>,
    cuda_memory_fraction: Option<f64>,
    block_size: Option<i64>,
}

/// TGI router defaults (figures.md §2.3): `[tgi]` in `models/engines.toml`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TgiDefaults {
    /// Queued plus running requests at most; more get HTTP 429.
    pub max_concurrent_requests: u32,
    /// `max_batch_prefill_tokens = max_input_tokens + margin`.
    pub max_batch_prefill_tokens_margin: u32,
    /// Waiting / running ratio at which a prefill is considered.
    pub waiting_served_ratio: f64,
    /// Decode steps after which waiting requests are forced in.
    pub max_waiting_tokens: u32,
    /// CUDA_MEMORY_FRACTION.
    pub cuda_memory_fraction: f64,
    /// TGI_WIGGLE_ROOM.
    pub wiggle_room: f64,
    /// Tokens per KV block.
    pub block_size: u32,
    /// Where these come from.
    pub source: String,
}

impl Scheduler for TgiOptions {
    /// TGI sizes its KV cache from free memory times CUDA_MEMORY_FRACTION, less its wiggle room.
    fn memory_utilization(&self, src: &dyn Source, d: &EnginesFile) -> Result<f64, ConfigError> {
        Ok(fraction(
            src,
            &ek("cuda-memory-fraction"),
            self.cuda_memory_fraction,
            d.tgi.cuda_memory_fraction,
        )? * d.tgi.wiggle_room)
    }

    fn block_size(&self, src: &dyn Source, d: &EnginesFile) -> Result<u32, ConfigError> {
        block_size(src, self.block_size, d.tgi.block_size)
    }

    fn spec(&self, at: Place<'_>) -> Result<EngineSpec, ConfigError> {
        let (src, t) = (at.src, &at.defaults.tgi);
        let max_model_len = at.max_model_len;
        let default_prefill = u64::from(max_model_len - 1 + t.max_batch_prefill_tokens_margin);
        let ratio = self
            .waiting_served_ratio
            .or(at.class.waiting_served_ratio)
            .unwrap_or(t.waiting_served_ratio);
        if !(ratio.is_finite() && ratio >= 0.0) {
            return Err(src.error(
                &ek("waiting-served-ratio"),
                format!("must be zero or more, found {ratio}"),
            ));
        }
        let max_prefill_tokens = count(
            src,
            &ek("max-batch-prefill-tokens"),
            self.max_batch_prefill_tokens,
            default_prefill,
            1,
            1 << 24,
        )? as u32;
        if max_prefill_tokens < max_model_len - 1 {
            return Err(src
                .error(&ek("max-batch-prefill-tokens"), format!("must hold the longest prompt: at least max-model-len - 1 ({}), found {max_prefill_tokens}", max_model_len - 1))
                .with_hint("TGI refuses to start with a smaller value"));
        }
        Ok(EngineSpec::new(Tgi {
            max_concurrent: count(
                src,
                &ek("max-concurrent-requests"),
                self.max_concurrent_requests,
                u64::from(t.max_concurrent_requests),
                1,
                1 << 24,
            )? as u32,
            max_prefill_tokens,
            waiting_served_ratio: ratio,
            max_waiting_tokens: count(
                src,
                &ek("max-waiting-tokens"),
                self.max_waiting_tokens,
                u64::from(t.max_waiting_tokens),
                1,
                1 << 20,
            )? as u32,
        }))
    }
}

/// `[endpoint.engine]` options of the static scheduler.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct StaticOptions {
    max_batch: Option<i64>,
    max_wait: Option<Scalar>,
    gpu_memory_utilization: Option<f64>,
}

/// Static batching defaults: `[static]` in `models/engines.toml`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StaticDefaults {
    /// Requests per batch at most.
    pub max_batch: u32,
    /// Longest wait for a batch to fill, milliseconds.
    pub max_wait_ms: f64,
    /// Share of GPU memory the engine takes.
    pub gpu_memory_utilization: f64,
    /// Where these come from.
    pub source: String,
}

impl Scheduler for StaticOptions {
    fn memory_utilization(&self, src: &dyn Source, d: &EnginesFile) -> Result<f64, ConfigError> {
        fraction(
            src,
            &ek("gpu-memory-utilization"),
            self.gpu_memory_utilization,
            d.static_batch.gpu_memory_utilization,
        )
    }

    /// Static batching keeps no paged cache and takes no `block-size`; the scenario records
    /// vLLM's default, as it always has.
    fn block_size(&self, _src: &dyn Source, d: &EnginesFile) -> Result<u32, ConfigError> {
        Ok(d.vllm.block_size)
    }

    fn spec(&self, at: Place<'_>) -> Result<EngineSpec, ConfigError> {
        let (src, d) = (at.src, &at.defaults.static_batch);
        Ok(EngineSpec::new(StaticBatch {
            max_batch: count(
                src,
                &ek("max-batch"),
                self.max_batch,
                u64::from(d.max_batch),
                1,
                1 << 16,
            )? as u32,
            max_wait: match &self.max_wait {
                Some(v) => src.duration(&ek("max-wait"), v)?,
                None => SimDuration::from_secs_f64_saturating(d.max_wait_ms / 1e3),
            },
        }))
    }
}

/// `models/engines.toml`: the step-time model's shape, and one table of defaults per scheduler.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EnginesFile {
    /// `[model]`.
    pub model: ModelSection,
    /// `[vllm]`.
    pub vllm: VllmDefaults,
    /// `[tgi]`.
    pub tgi: TgiDefaults,
    /// `[static]`.
    #[serde(rename = "static")]
    pub static_batch: StaticDefaults,
}

/// `[model]` of `models/engines.toml`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ModelSection {
    /// The smooth-roofline exponent.
    pub overlap_exponent: f64,
    /// Why it has that value.
    pub overlap_reasoning: String,
}

impl EnginesFile {
    /// Each scheduler's defaults in a sentence, then their source, for `capsim list engines`.
    pub fn describe(&self) -> String {
        [
            self.vllm.describe(),
            self.tgi.describe(),
            self.static_batch.describe(),
        ]
        .concat()
    }
}

impl VllmDefaults {
    fn describe(&self) -> String {
        format!(
            "vllm defaults: max-num-seqs {}, max-num-batched-tokens {} ({} and {} on GPUs of 70 GiB or more that are not A100s), gpu-memory-utilization {}, block size {}.\n  {}\n",
            self.max_num_seqs,
            self.max_num_batched_tokens,
            self.large_gpu_max_num_seqs,
            self.large_gpu_max_num_batched_tokens,
            self.gpu_memory_utilization,
            self.block_size,
            self.source
        )
    }
}

impl TgiDefaults {
    fn describe(&self) -> String {
        format!(
            "tgi defaults: max-concurrent-requests {}, max-batch-prefill-tokens = max input + {}, waiting-served-ratio {}, max-waiting-tokens {}.\n  {}\n",
            self.max_concurrent_requests,
            self.max_batch_prefill_tokens_margin,
            self.waiting_served_ratio,
            self.max_waiting_tokens,
            self.source
        )
    }
}

impl StaticDefaults {
    fn describe(&self) -> String {
        format!(
            "static defaults: max-batch {}, max-wait {} ms.\n  {}\n",
            self.max_batch, self.max_wait_ms, self.source
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sglangs_running_limit_is_half_the_kv_pool_capped_by_the_request_pool() {
        // Request pool: 1,000,000 / 8,192 x 512 = 62,500, clamped to 4,096.
        assert_eq!(kv_pool_running_limit(1_000_000, 8192), 4096);
        // 100,000 / 131,072 x 512 = 390, raised to 2,048.
        assert_eq!(kv_pool_running_limit(100_000, 131_072), 2048);
        // A small pool: half its tokens.
        assert_eq!(kv_pool_running_limit(3000, 4096), 1500);
    }

    #[test]
    fn the_schedulers_are_the_variants_of_the_options() {
        assert_eq!(schedulers(), ["vllm", "tgi", "static"]);
        assert_eq!(
            scheduler_keys("static"),
            ["max-batch", "max-wait", "gpu-memory-utilization"]
        );
    }

    #[test]
    fn options_are_read_as_the_scheduler_of_the_class() {
        let t: toml::Table = toml::from_str("max-batch = 4").unwrap();
        assert!(matches!(
            Options::read("static", &t),
            Ok(Options::Static(StaticOptions {
                max_batch: Some(4),
                ..
            }))
        ));
        assert_eq!(
            Options::read("vllm", &t).unwrap_err(),
            Problem::Key(tagged::KeyProblem::Unknown {
                key: "max-batch".into(),
                expected: scheduler_keys("vllm"),
            })
        );
    }
}
