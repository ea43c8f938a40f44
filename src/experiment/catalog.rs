//! The built-in catalog of GPUs, LLMs, quantization schemes and engine classes: the TOML files
//! under `models/`, embedded in the binary at build time and parsed once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use crate::domain::deployment::Deployment;
use crate::domain::hardware::{
    AllReducePoint, Arch, Gpu, Instance, Interconnect, LinkKind, Precision, Price,
};
use crate::domain::llm::{Experts, LlmSpec};
use crate::domain::perf::{ApiCost, EngineClass, HostCost, KernelCost};
use crate::domain::quant::{Kernel, Quantization};
use crate::error::ConfigError;
use crate::experiment::engines::EnginesFile;

include!(concat!(env!("OUT_DIR"), "/model_files.rs"));

const GB: f64 = 1e9;
/// GPU memory is labelled in GiB (an "80 GB" A100 has 80 × 2^30 bytes).
const GIB: f64 = 1_073_741_824.0;
const MIB: f64 = 1_048_576.0;

/// The TOML shape of a GPU, in `models/gpus/*.toml`, a user's catalog folder or inline in an
/// experiment file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GpuFile {
    id: String,
    name: String,
    architecture: String,
    memory_gib: f64,
    usable_memory_mib: Option<f64>,
    memory_source: String,
    bandwidth_gb_s: f64,
    bandwidth_source: String,
    tflops: BTreeMap<String, f64>,
    tflops_source: String,
    interconnect: InterconnectFile,
    #[serde(default)]
    price: Vec<PriceFile>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct InterconnectFile {
    kind: String,
    all_reduce: Vec<AllReduceFile>,
    source: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AllReduceFile {
    gpus: u32,
    bus_gb_s: f64,
    latency_us: f64,
}

/// `models/instances/*.toml` (or a user's catalog folder, or inline): a multi-GPU machine whose GPU file alone does not say how its
/// GPUs are linked or what it costs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct InstanceFile {
    id: String,
    name: String,
    gpu: String,
    gpus: u32,
    interconnect: InterconnectFile,
    #[serde(default)]
    price: Vec<PriceFile>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PriceFile {
    provider: String,
    instance: String,
    size: String,
    gpus: u32,
    usd_per_hour: f64,
    as_of: String,
    source: String,
}

/// The TOML shape of an LLM, in `models/llms/*.toml` or inline in an experiment file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LlmFile {
    /// Catalog id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// All parameters.
    pub params: u64,
    /// Parameters per token (MoE).
    pub active_params: Option<u64>,
    /// Decoder layers.
    pub layers: u32,
    /// Hidden size.
    pub hidden: u32,
    /// Query heads.
    pub heads: u32,
    /// Key/value heads.
    pub kv_heads: u32,
    /// Dimension per head.
    pub head_dim: u32,
    /// FFN size.
    pub intermediate: u32,
    /// Vocabulary size.
    pub vocab: u32,
    /// Longest context.
    pub max_context: u32,
    /// Sliding attention window.
    pub sliding_window: Option<u32>,
    /// Output head shares the embedding.
    #[serde(default)]
    pub tied_embeddings: bool,
    /// Mixture of experts.
    pub experts: Option<ExpertsFile>,
    /// Where the figures come from.
    #[serde(default)]
    pub source: String,
}

/// `experts = { total = 8, active = 2 }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExpertsFile {
    /// Experts per layer.
    pub total: u32,
    /// Experts per token.
    pub active: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuantizationsFile {
    quantization: Vec<QuantFile>,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct QuantFile {
    id: String,
    name: String,
    bits: u32,
    #[serde(default)]
    scale_bytes: f64,
    #[serde(default = "one")]
    group_size: u32,
    kv_bytes: f64,
    compute: String,
    native_on: Vec<String>,
    #[serde(default)]
    weight_only_on: Vec<String>,
    bandwidth_efficiency: f64,
    compute_overhead: f64,
    weight_only_bandwidth_efficiency: Option<f64>,
    weight_only_compute_overhead: Option<f64>,
    source: String,
}

/// The TOML shape of an engine class, in `models/engines/*.toml`, a user's catalog folder or
/// inline in an experiment file (`endpoint.engine.class = { ... }`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClassFile {
    id: String,
    family: String,
    scheduler: String,
    versions: Vec<String>,
    #[serde(default)]
    current: bool,
    description: String,
    mbu: f64,
    mfu: f64,
    runtime_overhead_gib: f64,
    cuda_graph_max_batch: u64,
    overlapped: bool,
    #[serde(default = "yes")]
    chunked_prefill: bool,
    #[serde(default)]
    running_limit_from_kv_pool: bool,
    waiting_served_ratio: Option<f64>,
    #[serde(default)]
    prefix_caching: bool,
    block_size: Option<u32>,
    attention_bandwidth: f64,
    attention_overhead_tokens: f64,
    all_reduces_per_layer: f64,
    host: HostFile,
    kernels: KernelCostFile,
    api: ApiFile,
    #[serde(default)]
    quantized_kernels: BTreeMap<String, Vec<String>>,
    sources: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct HostFile {
    per_step_us: f64,
    per_seq_us: f64,
    per_prefill_token_us: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct KernelCostFile {
    per_layer: f64,
    launch_us: f64,
    graph_launch_us: f64,
    non_gemm_per_layer: f64,
    floor_us: f64,
    activation_passes: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ApiFile {
    per_request_ms: f64,
    per_prompt_token_us: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KernelsFile {
    kernel: Vec<KernelFile>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct KernelFile {
    id: String,
    name: String,
    runs_on: Vec<String>,
    bandwidth_efficiency: f64,
    compute_overhead: f64,
    #[serde(default)]
    rows_per_read: u32,
    #[serde(default)]
    reconstruct_above: u32,
    source: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct LifecycleFile {
    cold_start: ColdStartDefaults,
}

/// Cold-start defaults (`models/lifecycle.toml`), each with its source.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ColdStartDefaults {
    /// Machine provisioning, seconds.
    pub provisioning_s: f64,
    /// Source.
    pub provisioning_source: String,
    /// Container image size, GB.
    pub image_gb: f64,
    /// Source.
    pub image_source: String,
    /// Image pull bandwidth, GB/s.
    pub image_pull_gb_s: f64,
    /// Source.
    pub image_pull_source: String,
    /// Weight download bandwidth, GB/s.
    pub weight_download_gb_s: f64,
    /// Source.
    pub weight_download_source: String,
    /// Load bandwidth into one GPU, GB/s.
    pub load_gb_s: f64,
    /// Source.
    pub load_source: String,
    /// Engine warm-up, seconds.
    pub warm_up_s: f64,
    /// Source.
    pub warm_up_source: String,
    /// Relative spread of each phase.
    pub jitter: f64,
    /// Source.
    pub jitter_source: String,
}

/// The whole catalog.
#[derive(Clone, Debug)]
pub struct Catalog {
    /// GPUs by id.
    pub gpus: BTreeMap<String, Gpu>,
    /// LLMs by id.
    pub llms: BTreeMap<String, LlmSpec>,
    /// Quantization schemes by id.
    pub quantizations: BTreeMap<String, Quantization>,
    /// Engine classes by id.
    pub classes: BTreeMap<String, EngineClass>,
    /// Quantized kernel families by id.
    pub kernels: BTreeMap<String, Kernel>,
    /// Multi-GPU instances by id.
    pub instances: BTreeMap<String, Instance>,
    /// The smooth-roofline exponent.
    pub overlap_exponent: f64,
    /// Why it has that value.
    pub overlap_reasoning: String,
    /// `models/engines.toml`: each scheduler's defaults (and the overlap exponent, also above).
    pub engines: EnginesFile,
    /// Cold-start defaults.
    pub cold_start: ColdStartDefaults,
}

/// Reads one catalog file's TOML into its serde shape; errors name the file, the key path and
/// the line.
fn parse_file<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    let located = |e: &toml::de::Error, key: Option<String>| {
        let message = super::suggest::plain_types(e.message().trim_end());
        let mut err = ConfigError::new(path, message.clone());
        // A missing field has no span of its own: name it, at its table.
        let key = match (key, message.strip_prefix("missing field `")) {
            (k, Some(rest)) => {
                let field = rest.split('`').next().unwrap_or_default();
                Some(match k {
                    Some(k) if !k.is_empty() => format!("{k}.{field}"),
                    _ => field.to_string(),
                })
            }
            (k, None) => k.filter(|k| !k.is_empty()),
        };
        if let Some(span) = e.span() {
            let (line, col) = crate::experiment::locate::line_col(text, span.start);
            err = err.at_line(line, Some(col));
        } else if let Some((line, col)) = key
            .as_deref()
            .and_then(|k| crate::experiment::locate::locate(text, k))
        {
            err = err.at_line(line, Some(col));
        }
        if let Some(k) = key {
            if message.starts_with("unknown field") {
                let written = k.rsplit('.').next().unwrap_or(&k).to_string();
                let options: Vec<&str> = message
                    .split_once("expected one of")
                    .map(|(_, l)| {
                        l.split(',')
                            .map(|s| s.trim().trim_matches('`'))
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(s) = super::suggest::did_you_mean(&written, &options) {
                    err = err.with_hint(format!("did you mean `{s}`?"));
                }
            }
            err = err.at_key(k);
        }
        err
    };
    let de = toml::Deserializer::parse(text).map_err(|e| located(&e, None))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let key = (key != ".").then_some(key);
        located(e.inner(), key)
    })
}

fn positive(path: &Path, key: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(ConfigError::new(path, format!("must be positive, found {v}")).at_key(key))
    }
}

/// Checks a GPU description and builds the domain type; errors name `path` and keys relative
/// to the GPU table.
pub(crate) fn gpu_from(path: &Path, f: GpuFile) -> Result<Gpu, ConfigError> {
    let path = path.to_path_buf();
    let arch = Arch::parse(&f.architecture).ok_or_else(|| {
        ConfigError::new(
            &path,
            format!("unknown architecture \"{}\"", f.architecture),
        )
        .at_key("architecture")
    })?;
    let mut peak = BTreeMap::new();
    for (k, v) in &f.tflops {
        let p = Precision::parse(k).ok_or_else(|| {
            ConfigError::new(&path, format!("unknown precision \"{k}\""))
                .at_key(format!("tflops.{k}"))
        })?;
        peak.insert(p, positive(&path, &format!("tflops.{k}"), *v)? * 1e12);
    }
    let memory = positive(&path, "memory-gib", f.memory_gib)? * GIB;
    let visible = match f.usable_memory_mib {
        Some(v) => positive(&path, "usable-memory-mib", v)? * MIB,
        None => memory,
    };
    if visible > memory {
        return Err(ConfigError::new(
            &path,
            format!(
                "usable memory ({:.1} GiB) exceeds the labelled {:.0} GiB",
                visible / GIB,
                memory / GIB
            ),
        )
        .at_key("usable-memory-mib"));
    }
    let prices = prices_from(&path, f.price)?;
    let (interconnect, interconnect_source) = interconnect_from(&path, f.interconnect)?;
    Ok(Gpu {
        id: f.id,
        name: f.name,
        arch,
        memory,
        visible_memory: visible,
        bandwidth: positive(&path, "bandwidth-gb-s", f.bandwidth_gb_s)? * GB,
        peak,
        interconnect,
        prices,
        sources: vec![
            ("memory".into(), f.memory_source),
            ("bandwidth".into(), f.bandwidth_source),
            ("tflops".into(), f.tflops_source),
            ("interconnect".into(), interconnect_source),
        ],
    })
}

fn prices_from(path: &Path, files: Vec<PriceFile>) -> Result<Vec<Price>, ConfigError> {
    files
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            positive(path, &format!("price[{i}].usd-per-hour"), p.usd_per_hour)?;
            if p.gpus == 0 {
                return Err(ConfigError::new(path, "must be at least 1, found 0")
                    .at_key(format!("price[{i}].gpus")));
            }
            Ok(Price {
                provider: p.provider,
                instance: p.instance,
                size: p.size,
                gpus: p.gpus,
                usd_per_hour: p.usd_per_hour,
                as_of: p.as_of,
                source: p.source,
            })
        })
        .collect()
}

fn interconnect_from(
    path: &Path,
    f: InterconnectFile,
) -> Result<(Interconnect, String), ConfigError> {
    let kind = LinkKind::parse(&f.kind).ok_or_else(|| {
        ConfigError::new(path, format!("unknown interconnect kind \"{}\"", f.kind))
            .at_key("interconnect.kind")
            .with_hint(format!("one of: {}", LinkKind::NAMES.join(", ")))
    })?;
    let mut points: Vec<AllReducePoint> = Vec::new();
    for p in &f.all_reduce {
        if p.gpus < 2 || points.last().is_some_and(|q| q.gpus >= p.gpus) {
            return Err(ConfigError::new(
                path,
                "all-reduce points need gpus of at least 2, in increasing order",
            )
            .at_key("interconnect.all-reduce"));
        }
        points.push(AllReducePoint {
            gpus: p.gpus,
            bus_bandwidth: positive(path, "interconnect.all-reduce.bus-gb-s", p.bus_gb_s)? * GB,
            latency_s: positive(path, "interconnect.all-reduce.latency-us", p.latency_us)? * 1e-6,
        });
    }
    if points.is_empty() {
        return Err(ConfigError::new(path, "needs at least one measured point")
            .at_key("interconnect.all-reduce"));
    }
    Ok((Interconnect { kind, points }, f.source))
}

/// Checks an LLM description and builds the domain type. `path` names the file for errors and
/// `key` the table it sits in (empty for a catalog file).
pub fn llm_from(path: &Path, key: &str, f: LlmFile) -> Result<LlmSpec, ConfigError> {
    let at = |k: &str| {
        if key.is_empty() {
            k.to_string()
        } else {
            format!("{key}.{k}")
        }
    };
    for (k, v) in [
        ("layers", f.layers),
        ("hidden", f.hidden),
        ("heads", f.heads),
        ("kv-heads", f.kv_heads),
        ("head-dim", f.head_dim),
        ("vocab", f.vocab),
        ("max-context", f.max_context),
    ] {
        if v == 0 {
            return Err(ConfigError::new(path, "must be at least 1, found 0").at_key(at(k)));
        }
    }
    if f.kv_heads > f.heads || !f.heads.is_multiple_of(f.kv_heads) {
        return Err(ConfigError::new(
            path,
            format!("kv-heads ({}) must divide heads ({})", f.kv_heads, f.heads),
        )
        .at_key(at("kv-heads")));
    }
    let emb = u64::from(f.vocab) * u64::from(f.hidden);
    if f.params <= emb {
        return Err(ConfigError::new(
            path,
            format!(
                "params ({}) must exceed the embedding table (vocab × hidden = {emb})",
                f.params
            ),
        )
        .at_key(at("params")));
    }
    let active = f.active_params.unwrap_or(f.params);
    if active > f.params {
        return Err(ConfigError::new(path, "active-params cannot exceed params")
            .at_key(at("active-params")));
    }
    let experts = match f.experts {
        Some(e) if e.active == 0 || e.active > e.total => {
            return Err(ConfigError::new(
                path,
                "experts.active must be between 1 and experts.total",
            )
            .at_key(at("experts")));
        }
        Some(e) => Some(Experts {
            total: e.total,
            active: e.active,
        }),
        None => None,
    };
    Ok(LlmSpec {
        name: f.name.unwrap_or_else(|| f.id.clone()),
        id: f.id,
        params: f.params,
        active_params: active,
        layers: f.layers,
        hidden: f.hidden,
        heads: f.heads,
        kv_heads: f.kv_heads,
        head_dim: f.head_dim,
        intermediate: f.intermediate,
        vocab: f.vocab,
        max_context: f.max_context,
        sliding_window: f.sliding_window,
        tied_embeddings: f.tied_embeddings,
        experts,
        source: f.source,
    })
}

fn arch_list(path: &Path, key: &str, names: &[String]) -> Result<Vec<Arch>, ConfigError> {
    names
        .iter()
        .map(|n| {
            Arch::parse(n).ok_or_else(|| {
                ConfigError::new(path, format!("unknown architecture \"{n}\"")).at_key(key)
            })
        })
        .collect()
}

fn quant_from(path: &Path, index: usize, f: QuantFile) -> Result<Quantization, ConfigError> {
    let key = format!("quantization[{index}]");
    Ok(Quantization {
        compute: Precision::parse(&f.compute).ok_or_else(|| {
            ConfigError::new(path, format!("unknown precision \"{}\"", f.compute)).at_key(&key)
        })?,
        native_on: arch_list(path, &key, &f.native_on)?,
        weight_only_on: arch_list(path, &key, &f.weight_only_on)?,
        bandwidth_efficiency: positive(path, &key, f.bandwidth_efficiency)?,
        compute_overhead: positive(path, &key, f.compute_overhead)?,
        weight_only_bandwidth_efficiency: f
            .weight_only_bandwidth_efficiency
            .unwrap_or(f.bandwidth_efficiency),
        weight_only_compute_overhead: f.weight_only_compute_overhead.unwrap_or(f.compute_overhead),
        id: f.id,
        name: f.name,
        bits: f.bits,
        scale_bytes: f.scale_bytes,
        group_size: f.group_size,
        kv_bytes: positive(path, &key, f.kv_bytes)?,
        source: f.source,
    })
}

fn kernel_from(path: &Path, index: usize, f: KernelFile) -> Result<Kernel, ConfigError> {
    let key = format!("kernel[{index}]");
    Ok(Kernel {
        runs_on: arch_list(path, &key, &f.runs_on)?,
        bandwidth_efficiency: positive(path, &key, f.bandwidth_efficiency)?,
        compute_overhead: positive(path, &key, f.compute_overhead)?,
        rows_per_read: f.rows_per_read,
        reconstruct_above: f.reconstruct_above,
        id: f.id,
        name: f.name,
        source: f.source,
    })
}

fn non_negative(path: &Path, key: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(ConfigError::new(path, format!("must be zero or more, found {v}")).at_key(key))
    }
}

/// Checks an engine class description against the known quantized kernels and builds the
/// domain type; errors name `path` and keys relative to the class table.
pub(crate) fn class_from(
    path: &Path,
    c: ClassFile,
    kernels: &BTreeMap<String, Kernel>,
) -> Result<EngineClass, ConfigError> {
    let schedulers = super::engines::schedulers();
    if !schedulers.contains(&c.scheduler.as_str()) {
        return Err(
            ConfigError::new(path, format!("unknown scheduler \"{}\"", c.scheduler))
                .at_key("scheduler")
                .with_hint(format!("one of: {}", schedulers.join(", "))),
        );
    }
    let mut quant_kernels = Vec::new();
    for (q, ids) in c.quantized_kernels {
        let mut list = Vec::new();
        for id in ids {
            let k = kernels.get(&id).ok_or_else(|| {
                ConfigError::new(path, format!("unknown kernel \"{id}\""))
                    .at_key(format!("quantized-kernels.{q}"))
                    .with_hint("kernels are listed in models/kernels.toml (and a --catalog folder's kernels.toml); `capsim list engines` shows them")
            })?;
            list.push(k.clone());
        }
        quant_kernels.push((q, list));
    }
    let us = |key: &str, v: f64| non_negative(path, key, v).map(|v| v * 1e-6);
    for key in ["mbu", "attention", "host", "kernels", "api"] {
        if !c.sources.contains_key(key) {
            return Err(ConfigError::new(path, "every figure needs a source")
                .at_key(format!("sources.{key}")));
        }
    }
    Ok(EngineClass {
        mbu: positive(path, "mbu", c.mbu)?,
        mfu: positive(path, "mfu", c.mfu)?,
        runtime_overhead: non_negative(path, "runtime-overhead-gib", c.runtime_overhead_gib)? * GIB,
        cuda_graph_max_batch: c.cuda_graph_max_batch,
        overlapped: c.overlapped,
        chunked_prefill: c.chunked_prefill,
        running_limit_from_kv_pool: c.running_limit_from_kv_pool,
        waiting_served_ratio: c.waiting_served_ratio,
        prefix_caching: c.prefix_caching,
        block_size: match c.block_size {
            Some(b) if (1..=1024).contains(&b) => Some(b),
            Some(b) => {
                return Err(ConfigError::new(
                    path,
                    format!("must be from 1 to 1024 tokens, found {b}"),
                )
                .at_key("block-size"));
            }
            None => None,
        },
        attention_bandwidth: positive(path, "attention-bandwidth", c.attention_bandwidth)?,
        attention_overhead_tokens: non_negative(
            path,
            "attention-overhead-tokens",
            c.attention_overhead_tokens,
        )?,
        all_reduces_per_layer: non_negative(
            path,
            "all-reduces-per-layer",
            c.all_reduces_per_layer,
        )?,
        host: HostCost {
            per_step_s: us("host.per-step-us", c.host.per_step_us)?,
            per_seq_s: us("host.per-seq-us", c.host.per_seq_us)?,
            per_prefill_token_s: us("host.per-prefill-token-us", c.host.per_prefill_token_us)?,
        },
        kernels: KernelCost {
            kernels_per_layer: non_negative(path, "kernels.per-layer", c.kernels.per_layer)?,
            launch_s: us("kernels.launch-us", c.kernels.launch_us)?,
            graph_launch_s: us("kernels.graph-launch-us", c.kernels.graph_launch_us)?,
            non_gemm_per_layer: non_negative(
                path,
                "kernels.non-gemm-per-layer",
                c.kernels.non_gemm_per_layer,
            )?,
            kernel_floor_s: us("kernels.floor-us", c.kernels.floor_us)?,
            activation_passes: non_negative(
                path,
                "kernels.activation-passes",
                c.kernels.activation_passes,
            )?,
        },
        api: ApiCost {
            per_request_s: non_negative(path, "api.per-request-ms", c.api.per_request_ms)? * 1e-3,
            per_prompt_token_s: us("api.per-prompt-token-us", c.api.per_prompt_token_us)?,
        },
        quant_kernels,
        sources: c.sources.into_iter().collect(),
        id: c.id,
        family: c.family,
        scheduler: c.scheduler,
        versions: c.versions,
        current: c.current,
        description: c.description,
    })
}

impl Catalog {
    /// The engine class an experiment means by `family` and an optional `version` (the
    /// family's current class without one), or why there is none.
    pub fn engine_class(
        &self,
        family: &str,
        version: Option<&str>,
    ) -> Result<&EngineClass, String> {
        let of_family: Vec<&EngineClass> = self
            .classes
            .values()
            .filter(|c| c.family == family)
            .collect();
        if of_family.is_empty() {
            return Err(format!("no engine family \"{family}\""));
        }
        let found = match version {
            None => of_family.iter().find(|c| c.current),
            Some(v) => of_family.iter().find(|c| c.covers(v)),
        };
        found.copied().ok_or_else(|| {
            let known: Vec<String> = of_family
                .iter()
                .map(|c| format!("{} ({})", c.id, c.versions.join(", ")))
                .collect();
            format!(
                "no {family} class covers version {}; known: {}",
                version.unwrap_or("(current)"),
                known.join("; ")
            )
        })
    }

    /// Engine families, each once, in id order.
    pub fn families(&self) -> Vec<&str> {
        let mut f: Vec<&str> = self.classes.values().map(|c| c.family.as_str()).collect();
        f.sort_unstable();
        f.dedup();
        f
    }

    /// Checks that one sequence of `tokens` fits `d`; otherwise says why and suggests what in
    /// this catalog would fit (see [`Deployment::check_fit`]).
    pub fn check_fit(&self, d: &Deployment, tokens: u64) -> Result<(), (String, String)> {
        let quants: Vec<&Quantization> = self.quantizations.values().collect();
        let gpus: Vec<&Gpu> = self.gpus.values().collect();
        d.check_fit(&quants, &gpus, tokens)
    }

    /// Parses the catalog files given as (path under `models/`, contents).
    pub fn parse(files: &[(&str, &str)]) -> Result<Catalog, ConfigError> {
        let mut b = Builder::default();
        for (rel, text) in files {
            b.add(Path::new("models"), rel, text)?;
        }
        b.finish()
    }

    /// The catalog shipped in `models/`, parsed on first use.
    pub fn builtin() -> Result<&'static Catalog, ConfigError> {
        builtin_parts().map(|(_, c)| c)
    }

    /// The built-in catalog with the files of a user's catalog folder merged over it: the same
    /// layout as `models/` (`gpus/*.toml`, `instances/*.toml`, `engines/*.toml`, `llms/*.toml`,
    /// `kernels.toml`, `quantizations.toml`, each optional). An entry with a built-in id replaces
    /// it; a new id is added. Files go through the same checks as the built-in ones, and errors
    /// name the user's file.
    pub fn with_folder(dir: &Path) -> Result<Catalog, ConfigError> {
        let (base, _) = builtin_parts()?;
        let mut b = base.clone();
        let meta = std::fs::metadata(dir).map_err(|e| {
            ConfigError::new(dir, format!("cannot read the catalog folder: {e}"))
                .with_hint("--catalog takes a folder laid out like models/: gpus/, instances/, engines/, llms/, kernels.toml, quantizations.toml")
        })?;
        if !meta.is_dir() {
            return Err(ConfigError::new(dir, "--catalog takes a folder, not a file")
                .with_hint("a folder laid out like models/: gpus/*.toml, instances/*.toml, engines/*.toml, llms/*.toml, kernels.toml, quantizations.toml"));
        }
        let mut files = Vec::new();
        walk_toml(dir, dir, &mut files)?;
        files.sort();
        for rel in &files {
            let path = dir.join(rel);
            let text =
                super::input::read_text(&path, super::input::InputKind::Catalog).map_err(|e| {
                    ConfigError::new(&path, format!("cannot read the catalog file: {e}"))
                })?;
            b.add(dir, rel, &text)?;
        }
        b.finish()
    }

    /// The effective catalog: the built-in one, with `dir` merged over it when given.
    pub fn load(dir: Option<&Path>) -> Result<std::borrow::Cow<'static, Catalog>, ConfigError> {
        Ok(match dir {
            None => std::borrow::Cow::Borrowed(Catalog::builtin()?),
            Some(d) => std::borrow::Cow::Owned(Catalog::with_folder(d)?),
        })
    }

    /// The catalog files as shipped: (path under `models/`, contents).
    pub fn files() -> &'static [(&'static str, &'static str)] {
        MODEL_FILES
    }
}

/// The built-in files, checked once: the builder (to merge a user's folder over) and the catalog.
fn builtin_parts() -> Result<&'static (Builder, Catalog), ConfigError> {
    static BUILTIN: OnceLock<Result<(Builder, Catalog), ConfigError>> = OnceLock::new();
    BUILTIN
        .get_or_init(|| {
            let mut b = Builder::default();
            for (rel, text) in MODEL_FILES {
                b.add(Path::new("models"), rel, text)?;
            }
            let c = b.finish()?;
            Ok((b, c))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The TOML files under `dir` (paths relative to `root`, with `/`), in no particular order.
fn walk_toml(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), ConfigError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| ConfigError::new(dir, format!("cannot read the catalog folder: {e}")))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk_toml(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// Where a catalog file came from: its path as errors show it, and its text (to find lines).
#[derive(Clone, Debug)]
struct Origin {
    path: PathBuf,
    text: Arc<str>,
}

impl Origin {
    /// Adds the line of the error's key, and a hint on the file's layout when there is none.
    fn locate(&self, mut e: ConfigError, what: &str) -> ConfigError {
        if e.line.is_none()
            && let Some(key) = e.key.as_deref()
            && let Some((line, col)) = crate::experiment::locate::locate(&self.text, key)
        {
            e = e.at_line(line, Some(col));
        }
        if e.hint.is_none() {
            e = e.with_hint(what.to_string());
        }
        e
    }
}

/// What a catalog file at `rel` describes, for hints.
fn layout_hint(rel: &str) -> String {
    let dir = rel.split('/').next().unwrap_or(rel);
    match dir {
        "gpus" | "instances" | "engines" | "llms" => format!(
            "a file in {dir}/ takes the fields of the built-in models/{dir}/*.toml, and its `id` is its file name (see models/README.md)"
        ),
        _ => format!("{rel} takes the fields of the built-in models/{rel} (see models/README.md)"),
    }
}

/// The catalog being assembled from folders of files: the built-in one, then a user's. Entries
/// are checked as their file is added; references between files (an engine class's kernels,
/// an instance's GPU) when the catalog is finished.
#[derive(Clone, Debug, Default)]
struct Builder {
    gpus: BTreeMap<String, Gpu>,
    llms: BTreeMap<String, LlmSpec>,
    quantizations: BTreeMap<String, Quantization>,
    kernels: BTreeMap<String, Kernel>,
    classes: BTreeMap<String, (Origin, ClassFile)>,
    instances: BTreeMap<String, (Origin, Instance)>,
    engines: Option<EnginesFile>,
    lifecycle: Option<LifecycleFile>,
}

impl Builder {
    /// Adds the file `rel` of the folder `root`; a later file's entries replace earlier ones
    /// with the same id.
    fn add(&mut self, root: &Path, rel: &str, text: &str) -> Result<(), ConfigError> {
        let origin = Origin {
            path: root.join(rel),
            text: text.into(),
        };
        self.add_file(rel, &origin)
            .map_err(|e| origin.locate(e, &layout_hint(rel)))
    }

    fn add_file(&mut self, rel: &str, origin: &Origin) -> Result<(), ConfigError> {
        let path = origin.path.as_path();
        let text = &*origin.text;
        let stem = Path::new(rel)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let check_id = |id: &str| {
            if id == stem {
                Ok(())
            } else {
                Err(ConfigError::new(
                    path,
                    format!("id \"{id}\" differs from the file name \"{stem}\""),
                )
                .at_key("id")
                .with_hint(format!("name the file {id}.toml, or set id = \"{stem}\"")))
            }
        };
        let dir = rel.rsplit_once('/').map(|(d, _)| d);
        match (dir, rel) {
            (Some("gpus"), _) => {
                let g = gpu_from(path, parse_file::<GpuFile>(path, text)?)?;
                check_id(&g.id)?;
                self.gpus.insert(g.id.clone(), g);
            }
            (Some("llms"), _) => {
                let m = llm_from(path, "", parse_file::<LlmFile>(path, text)?)?;
                check_id(&m.id)?;
                self.llms.insert(m.id.clone(), m);
            }
            (Some("engines"), _) => {
                let c = parse_file::<ClassFile>(path, text)?;
                check_id(&c.id)?;
                // Checked once the kernels are known, so a user's kernels.toml counts.
                self.classes.insert(c.id.clone(), (origin.clone(), c));
            }
            (Some("instances"), _) => {
                let i = instance_from(path, parse_file::<InstanceFile>(path, text)?)?;
                check_id(&i.id)?;
                self.instances.insert(i.id.clone(), (origin.clone(), i));
            }
            (None, "quantizations.toml") => {
                let f = parse_file::<QuantizationsFile>(path, text)?;
                for (i, q) in f.quantization.into_iter().enumerate() {
                    let q = quant_from(path, i, q)?;
                    self.quantizations.insert(q.id.clone(), q);
                }
            }
            (None, "kernels.toml") => {
                for (i, k) in parse_file::<KernelsFile>(path, text)?
                    .kernel
                    .into_iter()
                    .enumerate()
                {
                    let k = kernel_from(path, i, k)?;
                    self.kernels.insert(k.id.clone(), k);
                }
            }
            (None, "engines.toml") => self.engines = Some(parse_file(path, text)?),
            (None, "lifecycle.toml") => self.lifecycle = Some(parse_file(path, text)?),
            _ => {
                return Err(ConfigError::new(path, "is not a catalog file").with_hint(
                    "a catalog folder holds gpus/*.toml, instances/*.toml, engines/*.toml, llms/*.toml, kernels.toml, quantizations.toml, engines.toml and lifecycle.toml",
                ));
            }
        }
        Ok(())
    }

    /// Checks the references between files and builds the catalog.
    fn finish(&self) -> Result<Catalog, ConfigError> {
        let engines = self
            .engines
            .clone()
            .ok_or_else(|| ConfigError::new(Path::new("models/engines.toml"), "missing"))?;
        let lifecycle = self
            .lifecycle
            .clone()
            .ok_or_else(|| ConfigError::new(Path::new("models/lifecycle.toml"), "missing"))?;
        let mut classes = BTreeMap::new();
        for (origin, c) in self.classes.values() {
            let class = class_from(&origin.path, c.clone(), &self.kernels)
                .map_err(|e| origin.locate(e, &layout_hint("engines/")))?;
            classes.insert(class.id.clone(), class);
        }
        let mut instances = BTreeMap::new();
        for (origin, i) in self.instances.values() {
            check_instance(&origin.path, i, self.gpus.get(&i.gpu), &self.gpus)
                .map_err(|e| origin.locate(e, &layout_hint("instances/")))?;
            instances.insert(i.id.clone(), i.clone());
        }
        Ok(Catalog {
            gpus: self.gpus.clone(),
            llms: self.llms.clone(),
            quantizations: self.quantizations.clone(),
            classes,
            kernels: self.kernels.clone(),
            instances,
            overlap_exponent: engines.model.overlap_exponent,
            overlap_reasoning: engines.model.overlap_reasoning.clone(),
            engines,
            cold_start: lifecycle.cold_start,
        })
    }
}

/// Checks an instance description and builds the domain type (its GPU is checked by
/// [`check_instance`]).
pub(crate) fn instance_from(path: &Path, f: InstanceFile) -> Result<Instance, ConfigError> {
    let (interconnect, interconnect_source) = interconnect_from(path, f.interconnect)?;
    Ok(Instance {
        prices: prices_from(path, f.price)?,
        id: f.id,
        name: f.name,
        gpu: f.gpu,
        gpus: f.gpus,
        interconnect,
        interconnect_source,
    })
}

/// Checks that an instance names a known GPU (`gpu`, looked up by the caller) and has an
/// all-reduce point for all its GPUs.
pub(crate) fn check_instance(
    path: &Path,
    i: &Instance,
    gpu: Option<&Gpu>,
    known: &BTreeMap<String, Gpu>,
) -> Result<(), ConfigError> {
    let Some(g) = gpu else {
        let ids: Vec<&str> = known.keys().map(String::as_str).collect();
        return Err(ConfigError::new(path, format!("unknown GPU \"{}\"", i.gpu))
            .at_key("gpu")
            .with_hint(format!(
                "one of: {} (or a GPU of the --catalog folder)",
                ids.join(", ")
            )));
    };
    if i.gpus < 2 || i.interconnect.points.iter().all(|p| p.gpus < i.gpus) {
        return Err(ConfigError::new(
            path,
            format!(
                "an instance of {} x {} needs an all-reduce point for {} GPUs",
                i.gpus, g.id, i.gpus
            ),
        )
        .at_key("interconnect.all-reduce"));
    }
    Ok(())
}

/// The provider whose prices a run bills when `[endpoint.billing]` names none: HF Inference
/// Endpoints on AWS, the prices in `models/gpus/*.toml`.
pub const DEFAULT_PROVIDER: &str = "aws";

/// The price a replica of `tp` GPUs bills when `[endpoint.billing]` names none: on a GPU, its
/// [`DEFAULT_PROVIDER`] price of size `x{tp}`; on an instance (`instance` true, `prices` the
/// instance's), the first price of the instance file, for the whole machine. `capsim list gpus`
/// shows the same.
pub fn default_price(prices: &[Price], tp: u32, instance: bool) -> Option<&Price> {
    if instance {
        return prices.first();
    }
    let size = format!("x{tp}");
    prices
        .iter()
        .find(|p| p.provider == DEFAULT_PROVIDER && p.size == size && p.gpus >= tp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalog_parses_and_holds_every_listed_entry() {
        let c = Catalog::builtin().unwrap_or_else(|e| panic!("{e}"));
        for g in [
            "t4",
            "l4",
            "a10g",
            "l40s",
            "a100-40gb",
            "a100-80gb",
            "h100-pcie",
            "h100-sxm",
            "h200",
        ] {
            assert!(c.gpus.contains_key(g), "{g}");
        }
        for m in [
            "llama-2-7b",
            "llama-2-13b",
            "llama-2-70b",
            "llama-3-8b",
            "llama-3-70b",
            "mistral-7b",
            "mixtral-8x7b",
            "phi-3-mini",
            "qwen2.5-0.5b",
            "qwen2.5-1.5b",
        ] {
            assert!(c.llms.contains_key(m), "{m}");
        }
        for q in [
            "fp32", "fp16", "bf16", "fp8", "int8", "bnb-int8", "int4", "nf4",
        ] {
            assert!(c.quantizations.contains_key(q), "{q}");
        }
        for e in [
            "tgi-1",
            "tgi-2",
            "tgi-3",
            "vllm-v0",
            "vllm-v0.6",
            "vllm-v1",
            "sglang",
            "tensorrt-llm",
            "transformers",
        ] {
            assert!(c.classes.contains_key(e), "{e}");
        }
    }

    #[test]
    fn weight_bytes_match_the_reference_table() {
        // figures.md §3: Llama-2-7B 13.48 GB FP16, 6.7 GB INT8, 3.4-3.9 GB INT4.
        let c = Catalog::builtin().unwrap();
        let m = &c.llms["llama-2-7b"];
        let gb = |q: &str| crate::domain::memory::stored_weight_bytes(m, &c.quantizations[q]) / 1e9;
        assert!((gb("fp16") - 13.48).abs() < 0.01, "{}", gb("fp16"));
        assert!((6.7..6.9).contains(&gb("int8")), "{}", gb("int8"));
        assert!((3.4..3.9).contains(&gb("int4")), "{}", gb("int4"));
        // KV per token: 512 KiB for Llama-2-7B, 128 KiB for Llama-3-8B (figures.md §3).
        assert_eq!(m.kv_bytes_per_token(2.0), 524_288.0);
        assert_eq!(c.llms["llama-3-8b"].kv_bytes_per_token(2.0), 131_072.0);
        // Mixtral: 2 of 8 experts active gives the published 12.9 B active parameters.
        let mx = &c.llms["mixtral-8x7b"];
        let non_expert = mx.params - 8 * mx.params_per_expert();
        let active = non_expert + 2 * mx.params_per_expert();
        assert!((active as f64 / mx.active_params as f64 - 1.0).abs() < 0.001);
    }

    fn deployment(gpu: &str, llm: &str, quant: &str) -> Deployment {
        let c = Catalog::builtin().unwrap();
        Deployment {
            gpu: c.gpus[gpu].clone(),
            llm: c.llms[llm].clone(),
            quant: c.quantizations[quant].clone(),
            tp: 1,
            interconnect: c.gpus[gpu].interconnect.clone(),
            instance: None,
            class: c.classes["vllm-v1"].clone(),
            memory_utilization: c.engines.vllm.gpu_memory_utilization,
            kv_bytes: c.quantizations[quant].kv_bytes,
            overlap_exponent: c.overlap_exponent,
        }
    }

    #[test]
    fn llama2_7b_fp16_does_not_fit_a_t4_and_the_error_says_what_would() {
        let c = Catalog::builtin().unwrap();
        let (problem, hint) = c
            .check_fit(&deployment("t4", "llama-2-7b", "fp16"), 4096)
            .unwrap_err();
        assert_eq!(
            problem,
            "llama-2-7b at fp16 does not fit 1 x t4: it needs 12.6 GiB of weights + 1.5 GiB runtime + 2.0 GiB KV cache for one 4096-token sequence = 16.1 GiB, but each GPU offers 13.5 GiB (15.0 GiB x memory utilisation 0.9)"
        );
        assert_eq!(
            hint,
            "would fit: bnb-int8, int8, int4, nf4 on t4; fp16 on a100-40gb, a100-80gb, a10g, h100-pcie, h100-sxm, h200, l4, l40s; tensor-parallel = 2 (2 x t4)"
        );
        assert!(
            c.check_fit(&deployment("t4", "llama-2-7b", "int8"), 4096)
                .is_ok()
        );
        assert!(
            c.check_fit(&deployment("t4", "llama-2-7b", "int4"), 4096)
                .is_ok()
        );
    }

    #[test]
    fn formats_a_gpu_cannot_run_are_refused() {
        let c = Catalog::builtin().unwrap();
        let (problem, _) = c
            .check_fit(&deployment("t4", "llama-2-7b", "fp8"), 4096)
            .unwrap_err();
        assert_eq!(
            problem,
            "NVIDIA T4 cannot run FP8 (W8A8) (turing architecture)"
        );
        assert!(
            c.check_fit(&deployment("a100-80gb", "llama-2-7b", "fp8"), 4096)
                .is_ok(),
            "weight-only fp8 on Ampere"
        );
    }
}
