//! The built-in catalog of GPUs, LLMs, quantization schemes and engine classes: the TOML files
//! under `models/`, embedded in the binary at build time and parsed once.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::domain::hardware::{Arch, Gpu, Interconnect, Precision, Price};
use crate::domain::llm::{Experts, LlmSpec};
use crate::domain::memory::MemoryPlan;
use crate::domain::perf::{EfficiencyClass, PerfModel};
use crate::domain::quant::Quantization;
use crate::error::ConfigError;

include!(concat!(env!("OUT_DIR"), "/model_files.rs"));

const GB: f64 = 1e9;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct GpuFile {
    id: String,
    name: String,
    architecture: String,
    memory_gb: f64,
    visible_memory_gb: Option<f64>,
    memory_source: String,
    bandwidth_gb_s: f64,
    bandwidth_source: String,
    tflops: BTreeMap<String, f64>,
    tflops_source: String,
    interconnect: InterconnectFile,
    interconnect_source: String,
    #[serde(default)]
    price: Vec<PriceFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct InterconnectFile {
    kind: String,
    bandwidth_gb_s: f64,
    latency_us: f64,
}

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuantizationsFile {
    quantization: Vec<QuantFile>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct EnginesFile {
    model: ModelSection,
    class: Vec<ClassFile>,
    vllm: VllmDefaults,
    tgi: TgiDefaults,
    #[serde(rename = "static")]
    static_batching: StaticDefaults,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ModelSection {
    overlap_exponent: f64,
    overlap_reasoning: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ClassFile {
    id: String,
    description: String,
    mbu: f64,
    mfu: f64,
    step_overhead_ms: f64,
    runtime_overhead_gb: f64,
    reasoning: String,
}

/// vLLM scheduler defaults (figures.md §2.3).
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

/// TGI router defaults (figures.md §2.3).
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

/// Static batching defaults.
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

#[derive(Debug, Deserialize)]
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
    /// Engine efficiency classes by id.
    pub classes: BTreeMap<String, EfficiencyClass>,
    /// The smooth-roofline exponent.
    pub overlap_exponent: f64,
    /// Why it has that value.
    pub overlap_reasoning: String,
    /// vLLM defaults.
    pub vllm: VllmDefaults,
    /// TGI defaults.
    pub tgi: TgiDefaults,
    /// Static batching defaults.
    pub static_batching: StaticDefaults,
    /// Cold-start defaults.
    pub cold_start: ColdStartDefaults,
}

fn parse_file<T: serde::de::DeserializeOwned>(rel: &str, text: &str) -> Result<T, ConfigError> {
    let path = Path::new("models").join(rel);
    toml::from_str(text).map_err(|e| {
        let mut err = ConfigError::new(&path, e.message().to_string());
        if let Some(span) = e.span() {
            let (line, col) = crate::experiment::locate::line_col(text, span.start);
            err = err.at_line(line, Some(col));
        }
        err
    })
}

fn positive(path: &Path, key: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(ConfigError::new(path, format!("must be positive, found {v}")).at_key(key))
    }
}

fn gpu_from(rel: &str, f: GpuFile) -> Result<Gpu, ConfigError> {
    let path = Path::new("models").join(rel);
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
    let memory = positive(&path, "memory-gb", f.memory_gb)? * GB;
    let visible = match f.visible_memory_gb {
        Some(v) => positive(&path, "visible-memory-gb", v)? * GB,
        None => memory,
    };
    let prices = f
        .price
        .into_iter()
        .map(|p| {
            positive(&path, "price.usd-per-hour", p.usd_per_hour)?;
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
        .collect::<Result<Vec<_>, ConfigError>>()?;
    Ok(Gpu {
        id: f.id,
        name: f.name,
        arch,
        memory,
        visible_memory: visible,
        bandwidth: positive(&path, "bandwidth-gb-s", f.bandwidth_gb_s)? * GB,
        peak,
        interconnect: Interconnect {
            kind: f.interconnect.kind,
            bandwidth: positive(
                &path,
                "interconnect.bandwidth-gb-s",
                f.interconnect.bandwidth_gb_s,
            )? * GB,
            latency_s: f.interconnect.latency_us * 1e-6,
        },
        prices,
        sources: vec![
            ("memory".into(), f.memory_source),
            ("bandwidth".into(), f.bandwidth_source),
            ("tflops".into(), f.tflops_source),
            ("interconnect".into(), f.interconnect_source),
        ],
    })
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

fn quant_from(f: QuantFile) -> Result<Quantization, ConfigError> {
    let path = Path::new("models/quantizations.toml");
    let key = format!("quantization.{}", f.id);
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

impl Catalog {
    /// Parses the catalog files given as (path under `models/`, contents).
    pub fn parse(files: &[(&str, &str)]) -> Result<Catalog, ConfigError> {
        let mut gpus = BTreeMap::new();
        let mut llms = BTreeMap::new();
        let mut quantizations = BTreeMap::new();
        let mut engines: Option<EnginesFile> = None;
        let mut lifecycle: Option<LifecycleFile> = None;
        for (rel, text) in files {
            let path = Path::new("models").join(rel);
            let stem = Path::new(rel)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let check_id = |id: &str| {
                if id == stem {
                    Ok(())
                } else {
                    Err(ConfigError::new(
                        &path,
                        format!("id \"{id}\" differs from the file name \"{stem}\""),
                    )
                    .at_key("id"))
                }
            };
            if rel.starts_with("gpus/") {
                let g = gpu_from(rel, parse_file::<GpuFile>(rel, text)?)?;
                check_id(&g.id)?;
                gpus.insert(g.id.clone(), g);
            } else if rel.starts_with("llms/") {
                let m = llm_from(&path, "", parse_file::<LlmFile>(rel, text)?)?;
                check_id(&m.id)?;
                llms.insert(m.id.clone(), m);
            } else if *rel == "quantizations.toml" {
                for q in parse_file::<QuantizationsFile>(rel, text)?.quantization {
                    let q = quant_from(q)?;
                    quantizations.insert(q.id.clone(), q);
                }
            } else if *rel == "engines.toml" {
                engines = Some(parse_file(rel, text)?);
            } else if *rel == "lifecycle.toml" {
                lifecycle = Some(parse_file(rel, text)?);
            }
        }
        let engines =
            engines.ok_or_else(|| ConfigError::new(Path::new("models/engines.toml"), "missing"))?;
        let lifecycle = lifecycle
            .ok_or_else(|| ConfigError::new(Path::new("models/lifecycle.toml"), "missing"))?;
        let classes = engines
            .class
            .into_iter()
            .map(|c| {
                let class = EfficiencyClass {
                    mbu: c.mbu,
                    mfu: c.mfu,
                    step_overhead_s: c.step_overhead_ms / 1e3,
                    runtime_overhead: c.runtime_overhead_gb * GB,
                    description: c.description,
                    reasoning: c.reasoning,
                    id: c.id,
                };
                (class.id.clone(), class)
            })
            .collect();
        Ok(Catalog {
            gpus,
            llms,
            quantizations,
            classes,
            overlap_exponent: engines.model.overlap_exponent,
            overlap_reasoning: engines.model.overlap_reasoning,
            vllm: engines.vllm,
            tgi: engines.tgi,
            static_batching: engines.static_batching,
            cold_start: lifecycle.cold_start,
        })
    }

    /// The catalog shipped in `models/`, parsed on first use.
    pub fn builtin() -> Result<&'static Catalog, ConfigError> {
        static CATALOG: OnceLock<Result<Catalog, ConfigError>> = OnceLock::new();
        CATALOG
            .get_or_init(|| Catalog::parse(MODEL_FILES))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The catalog files as shipped: (path under `models/`, contents).
    pub fn files() -> &'static [(&'static str, &'static str)] {
        MODEL_FILES
    }
}

/// One replica's hardware and model, resolved from the catalog.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// The GPU.
    pub gpu: Gpu,
    /// The model.
    pub llm: LlmSpec,
    /// The quantization.
    pub quant: Quantization,
    /// GPUs per replica (tensor parallelism).
    pub tp: u32,
    /// Engine efficiency class.
    pub class: EfficiencyClass,
    /// Share of GPU memory the engine may use.
    pub memory_utilization: f64,
    /// KV-cache bytes per element.
    pub kv_bytes: f64,
    /// Smooth-roofline exponent.
    pub overlap_exponent: f64,
}

impl Deployment {
    /// Where the memory goes.
    pub fn memory(&self) -> MemoryPlan {
        MemoryPlan::new(
            &self.gpu,
            &self.llm,
            &self.quant,
            self.tp,
            self.memory_utilization,
            self.class.runtime_overhead,
            self.kv_bytes,
        )
    }

    /// The step-time model; fails if the GPU cannot run the quantization.
    pub fn perf(&self) -> Result<PerfModel, String> {
        PerfModel::new(
            &self.gpu,
            &self.llm,
            &self.quant,
            self.tp,
            &self.class,
            self.kv_bytes,
            self.overlap_exponent,
        )
    }

    fn with(&self, gpu: &Gpu, quant: &Quantization, tp: u32) -> Deployment {
        Deployment {
            gpu: gpu.clone(),
            quant: quant.clone(),
            kv_bytes: if quant.id == self.quant.id {
                self.kv_bytes
            } else {
                quant.kv_bytes
            },
            tp,
            ..self.clone()
        }
    }

    fn fits(&self, tokens: u64) -> bool {
        self.quant.on(self.gpu.arch).is_some() && self.memory().fits(tokens)
    }

    /// Checks that one sequence of `tokens` fits; otherwise says why with the numbers, and
    /// suggests quantizations, GPUs and tensor-parallel sizes from `catalog` that would fit.
    pub fn check_fit(&self, catalog: &Catalog, tokens: u64) -> Result<(), (String, String)> {
        if let Some(problem) = self.quant.on(self.gpu.arch).is_none().then(|| {
            format!(
                "{} cannot run {} ({} architecture)",
                self.gpu.name,
                self.quant.name,
                self.gpu.arch.name()
            )
        }) {
            return Err((problem, self.suggestions(catalog, tokens)));
        }
        let m = self.memory();
        if m.fits(tokens) {
            return Ok(());
        }
        let kv = tokens as f64 * m.kv_bytes_per_token / f64::from(m.tp);
        let per = if self.tp > 1 { " per GPU" } else { "" };
        let problem = format!(
            "{} at {} does not fit {} x {}: it needs {:.1} GB of weights + {:.1} GB runtime + {:.1} GB KV cache for one {tokens}-token sequence = {:.1} GB{per}, but each GPU offers {:.1} GB ({:.0} GB x memory utilisation {})",
            self.llm.id,
            self.quant.id,
            self.tp,
            self.gpu.id,
            m.weights_per_gpu / 1e9,
            m.overhead_per_gpu / 1e9,
            kv / 1e9,
            m.needed_per_gpu(tokens) / 1e9,
            m.usable_per_gpu / 1e9,
            self.gpu.visible_memory / 1e9,
            self.memory_utilization
        );
        Err((problem, self.suggestions(catalog, tokens)))
    }

    fn suggestions(&self, catalog: &Catalog, tokens: u64) -> String {
        let mut parts = Vec::new();
        let mut quants: Vec<&Quantization> = catalog.quantizations.values().collect();
        quants.sort_by(|a, b| {
            b.bytes_per_weight()
                .total_cmp(&a.bytes_per_weight())
                .then(a.id.cmp(&b.id))
        });
        let q_fit: Vec<&str> = quants
            .iter()
            .filter(|q| q.id != self.quant.id && self.with(&self.gpu, q, self.tp).fits(tokens))
            .map(|q| q.id.as_str())
            .collect();
        if !q_fit.is_empty() {
            parts.push(format!("{} on {}", q_fit.join(", "), self.gpu.id));
        }
        let g_fit: Vec<&str> = catalog
            .gpus
            .values()
            .filter(|g| g.id != self.gpu.id && self.with(g, &self.quant, self.tp).fits(tokens))
            .map(|g| g.id.as_str())
            .collect();
        if !g_fit.is_empty() {
            parts.push(format!("{} on {}", self.quant.id, g_fit.join(", ")));
        }
        if let Some(tp) = [2u32, 4, 8]
            .into_iter()
            .find(|&tp| tp > self.tp && self.with(&self.gpu, &self.quant, tp).fits(tokens))
        {
            parts.push(format!("tensor-parallel = {tp} ({tp} x {})", self.gpu.id));
        }
        if parts.is_empty() {
            "nothing in the catalog fits; try a smaller model or a shorter max-model-len"
                .to_string()
        } else {
            format!("would fit: {}", parts.join("; "))
        }
    }
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
        assert!(c.classes.contains_key("optimized") && c.classes.contains_key("eager"));
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
            class: c.classes["optimized"].clone(),
            memory_utilization: c.vllm.gpu_memory_utilization,
            kv_bytes: c.quantizations[quant].kv_bytes,
            overlap_exponent: c.overlap_exponent,
        }
    }

    #[test]
    fn llama2_7b_fp16_does_not_fit_a_t4_and_the_error_says_what_would() {
        let c = Catalog::builtin().unwrap();
        let (problem, hint) = deployment("t4", "llama-2-7b", "fp16")
            .check_fit(c, 4096)
            .unwrap_err();
        assert_eq!(
            problem,
            "llama-2-7b at fp16 does not fit 1 x t4: it needs 13.5 GB of weights + 1.5 GB runtime + 2.1 GB KV cache for one 4096-token sequence = 17.1 GB, but each GPU offers 12.6 GB (14 GB x memory utilisation 0.9)"
        );
        assert_eq!(
            hint,
            "would fit: bnb-int8, int8, int4, nf4 on t4; fp16 on a100-40gb, a100-80gb, a10g, h100-pcie, h100-sxm, h200, l4, l40s; tensor-parallel = 2 (2 x t4)"
        );
        assert!(
            deployment("t4", "llama-2-7b", "int8")
                .check_fit(c, 4096)
                .is_ok()
        );
        assert!(
            deployment("t4", "llama-2-7b", "int4")
                .check_fit(c, 4096)
                .is_ok()
        );
    }

    #[test]
    fn formats_a_gpu_cannot_run_are_refused() {
        let c = Catalog::builtin().unwrap();
        let (problem, _) = deployment("t4", "llama-2-7b", "fp8")
            .check_fit(c, 4096)
            .unwrap_err();
        assert_eq!(
            problem,
            "NVIDIA T4 cannot run FP8 (W8A8) (turing architecture)"
        );
        assert!(
            deployment("a100-80gb", "llama-2-7b", "fp8")
                .check_fit(c, 4096)
                .is_ok(),
            "weight-only fp8 on Ampere"
        );
    }
}
