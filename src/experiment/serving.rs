//! Validation of LLM endpoints: catalog look-ups, engine settings, memory fit, measured profiles.

use std::borrow::Cow;
use std::path::Path;

use super::engines::{self, Options, Place, count};
use super::file::{
    AutoscaleFile, CatalogRef, ColdStartFile, DistFile, EndpointFile, EngineFile, LatencyTable,
    ModelRef, ProfileFile, Scalar, Tagged,
};
use super::read::{Ctx, dist, read_numbers_file, unknown_kind};
use super::suggest;
use super::tagged::{KeyProblem, Problem};

use crate::domain::deployment::Deployment;
use crate::domain::lifecycle::ColdStartSpec;
use crate::domain::memory::stored_weight_bytes;
use crate::domain::perf::EngineClass;
use crate::domain::profile::Profile;
use crate::domain::serving::{
    Autoscaler, Balancer, ColdConnections, Lifecycle, LlmService, ScaleSignal, StepModel,
    WhenUnavailable,
};
use crate::domain::{Dist, Service};
use crate::error::ConfigError;
use crate::experiment::catalog::{
    Catalog, DEFAULT_PROVIDER, check_instance, class_from, default_price, gpu_from, instance_from,
    llm_from,
};
use crate::sim::SimDuration;

/// Token counts are plain numbers (no unit), zero or more.
pub(crate) fn tokens(
    ctx: &Ctx<'_>,
    key: &str,
    raw: &Tagged<DistFile>,
) -> Result<Dist, ConfigError> {
    let quantity = |k: &str, v: &Scalar| match v {
        Scalar::Number(n) if n.is_finite() && *n >= 0.0 => Ok(*n),
        Scalar::Number(n) => {
            Err(ctx.error(k, format!("a token count must be zero or more, found {n}")))
        }
        Scalar::Text(t) => Err(ctx
            .error(
                k,
                format!("a token count is a plain number, found the string \"{t}\""),
            )
            .with_hint("write it without quotes, e.g. median = 400")),
    };
    let read_file = |k: &str, path: &Path| read_numbers_file(ctx, k, path, "a token count");
    dist(ctx, key, "token counts", raw, &quantity, &read_file)
}

/// The prompt and output token distributions an LLM endpoint needs.
pub(crate) fn token_dists(
    ctx: &Ctx<'_>,
    prompt: &Option<Tagged<DistFile>>,
    output: &Option<Tagged<DistFile>>,
) -> Result<(Dist, Dist), ConfigError> {
    let need = |key: &str, d: &Option<Tagged<DistFile>>| match d {
        Some(d) => tokens(ctx, key, d),
        None => Err(ctx
            .error("workload", format!("an LLM endpoint needs `{key}`"))
            .with_hint("e.g. prompt-tokens = { kind = \"lognormal\", median = 400, p99 = 2000 }")),
    };
    Ok((
        need("workload.prompt-tokens", prompt)?,
        need("workload.output-tokens", output)?,
    ))
}

fn profile(ctx: &Ctx<'_>, raw: &ProfileFile) -> Result<Profile, ConfigError> {
    let key = "endpoint.profile";
    let lat = |k: String, v: &Scalar| ctx.positive_duration(&k, v).map(|d| d.as_secs_f64());
    let (batch, context, table) = match (&raw.file, &raw.batch) {
        (Some(f), None) => {
            if raw.context.is_some() || raw.step_latency.is_some() || raw.tokens_per_s.is_some() {
                return Err(ctx.error(key, "a profile `file` replaces `batch`, `context`, `step-latency` and `tokens-per-s`"));
            }
            read_profile_csv(ctx, &format!("{key}.file"), &ctx.resolve(f))?
        }
        (None, Some(batch)) => {
            let context = raw.context.clone().unwrap_or_default();
            let table: Vec<Vec<f64>> = match (&raw.step_latency, &raw.tokens_per_s) {
                (Some(LatencyTable::List(l)), None) if context.is_empty() => {
                    vec![
                        l.iter()
                            .enumerate()
                            .map(|(i, v)| lat(format!("{key}.step-latency[{i}]"), v))
                            .collect::<Result<_, _>>()?,
                    ]
                }
                (Some(LatencyTable::Grid(rows)), None) => rows
                    .iter()
                    .enumerate()
                    .map(|(r, row)| {
                        row.iter()
                            .enumerate()
                            .map(|(i, v)| lat(format!("{key}.step-latency[{r}][{i}]"), v))
                            .collect()
                    })
                    .collect::<Result<_, _>>()?,
                (Some(LatencyTable::List(_)), None) => {
                    return Err(ctx
                        .error(&format!("{key}.step-latency"), "with `context`, step-latency is a table: one row of latencies per context length")
                        .with_hint("e.g. context = [512, 4096], step-latency = [[\"20ms\", \"30ms\"], [\"28ms\", \"45ms\"]]"));
                }
                (None, Some(tps)) if context.is_empty() => {
                    vec![batch.iter().zip(tps).map(|(b, t)| b / t).collect()]
                }
                (None, Some(_)) => {
                    return Err(ctx.error(
                        &format!("{key}.tokens-per-s"),
                        "is given by batch size only; with `context` use step-latency",
                    ));
                }
                _ => {
                    return Err(ctx.error(
                        key,
                        "give exactly one of `step-latency` and `tokens-per-s` with `batch`",
                    ));
                }
            };
            (batch.clone(), context, table)
        }
        _ => {
            return Err(ctx
                .error(key, "a profile needs either `batch` with `step-latency` (or `tokens-per-s`), or a `file`")
                .with_hint("e.g. profile = { batch = [1, 8, 32], step-latency = [\"25ms\", \"30ms\", \"45ms\"] }"));
        }
    };
    Profile::new(batch, context, table, raw.prefill_tokens_per_s).map_err(|m| ctx.error(key, m))
}

/// The columns of a profile table: batch sizes, context lengths and latencies by row.
type ProfileTable = (Vec<f64>, Vec<f64>, Vec<Vec<f64>>);

/// Reads `batch,step_latency_s`, `batch,tokens_per_s` or `batch,context,step_latency_s` rows.
fn read_profile_csv(ctx: &Ctx<'_>, key: &str, path: &Path) -> Result<ProfileTable, ConfigError> {
    let text = super::input::read_text(path, super::input::InputKind::Data).map_err(|e| {
        ctx.error(key, format!("cannot read `{}`: {e}", path.display()))
            .with_hint("paths are relative to the experiment file's folder")
    })?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let header_err = |line: usize| {
        ConfigError::new(path, "expected a header `batch,step_latency_s`, `batch,tokens_per_s` or `batch,context,step_latency_s`")
            .at_line(line, None)
    };
    let (hl, header) = lines.next().ok_or_else(|| header_err(1))?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let (with_context, throughput) = match cols.as_slice() {
        ["batch", "step_latency_s"] => (false, false),
        ["batch", "tokens_per_s"] => (false, true),
        ["batch", "context", "step_latency_s"] => (true, false),
        _ => return Err(header_err(hl + 1)),
    };
    let width = if with_context { 3 } else { 2 };
    let mut cells: Vec<(f64, f64, f64)> = Vec::new();
    for (i, line) in lines {
        let nums: Vec<f64> = line
            .split(',')
            .filter_map(|c| c.trim().parse::<f64>().ok())
            .collect();
        let ok = nums.len() == width
            && line.split(',').count() == width
            && nums[0] >= 1.0
            && nums.iter().all(|v| v.is_finite() && *v >= 0.0)
            && nums[width - 1] > 0.0;
        if !ok {
            return Err(ConfigError::new(
                path,
                format!(
                    "expected {width} non-negative numbers (the last positive), found \"{line}\""
                ),
            )
            .at_line(i + 1, None));
        }
        let (b, c, v) = if with_context {
            (nums[0], nums[1], nums[2])
        } else {
            (nums[0], 0.0, nums[1])
        };
        cells.push((b, c, if throughput { b / v } else { v }));
    }
    let mut batch: Vec<f64> = cells.iter().map(|c| c.0).collect();
    batch.sort_by(f64::total_cmp);
    batch.dedup();
    let mut context: Vec<f64> = cells.iter().map(|c| c.1).collect();
    context.sort_by(f64::total_cmp);
    context.dedup();
    let mut table = vec![vec![f64::NAN; batch.len()]; context.len()];
    for (b, c, v) in &cells {
        let r = context.iter().position(|x| x == c).expect("listed");
        let k = batch.iter().position(|x| x == b).expect("listed");
        table[r][k] = *v;
    }
    if table.iter().flatten().any(|v| v.is_nan()) {
        return Err(ConfigError::new(
            path,
            "every batch size needs a latency at every context length",
        )
        .with_hint("the table must be complete"));
    }
    Ok((batch, if with_context { context } else { vec![] }, table))
}

/// Builds an LLM service from `[endpoint]`.
/// The engine class an `[endpoint.engine]` table means: `kind` names a family (`static` is
/// transformers' static batching), `version` picks the family's class that covers it, `class`
/// names one outright; without either, the family's current class.
fn engine_class<'c>(
    ctx: &Ctx<'_>,
    catalog: &'c Catalog,
    engine: &EngineFile,
) -> Result<Cow<'c, EngineClass>, ConfigError> {
    let family = if engine.kind == "static" {
        "transformers"
    } else {
        engine.kind.as_str()
    };
    if let Some(CatalogRef::Inline(f)) = &engine.class {
        if engine.version.is_some() {
            return Err(ctx
                .error(
                    "endpoint.engine.version",
                    "give either `class` or `version`, not both",
                )
                .with_hint("an inline class says which versions it covers in `versions`"));
        }
        let c = class_from(ctx.file, (**f).clone(), &catalog.kernels)
            .map_err(|e| inline_error(ctx, "endpoint.engine.class", "models/engines/*.toml", e))?;
        if c.family != family {
            return Err(ctx
                .error(
                    "endpoint.engine.class.family",
                    format!(
                        "the class is of the {} family, but the engine's kind is \"{}\"",
                        c.family, engine.kind
                    ),
                )
                .with_hint(format!("set kind = \"{}\"", c.family)));
        }
        return Ok(Cow::Owned(c));
    }
    let families = catalog.families();
    if !families.contains(&family) {
        let mut kinds: Vec<&str> = families.clone();
        kinds.push("static");
        return Err(unknown_kind(
            ctx,
            "endpoint.engine.kind",
            "engine",
            &engine.kind,
            &kinds,
        ));
    }
    let class_id = engine.class.as_ref().and_then(CatalogRef::id);
    match (class_id, &engine.version) {
        (Some(_), Some(_)) => Err(ctx
            .error(
                "endpoint.engine.class",
                "give either `class` or `version`, not both",
            )
            .with_hint("a version picks its class")),
        (Some(id), None) => {
            let ids: Vec<&str> = catalog
                .classes
                .values()
                .filter(|c| c.family == family)
                .map(|c| c.id.as_str())
                .collect();
            catalog
                .classes
                .get(id)
                .filter(|c| c.family == family)
                .map(Cow::Borrowed)
                .ok_or_else(|| unknown_kind(ctx, "endpoint.engine.class", "engine class", id, &ids))
        }
        (None, version) => catalog
            .engine_class(family, version.as_deref())
            .map(Cow::Borrowed)
            .map_err(|m| {
                ctx.error("endpoint.engine.version", m)
                    .with_hint("`capsim list engines` shows each class and the versions it covers")
            }),
    }
}

/// An error found in an inline catalog table at `prefix`, located in the experiment file.
fn inline_error(ctx: &Ctx<'_>, prefix: &str, layout: &str, e: ConfigError) -> ConfigError {
    let key = match e.key.as_deref() {
        Some(k) if !k.is_empty() => format!("{prefix}.{k}"),
        _ => prefix.to_string(),
    };
    let err = ctx.error(&key, e.message);
    err.with_hint(e.hint.unwrap_or_else(|| {
        format!(
            "an inline `{prefix}` table takes the fields of a {layout} file (see models/README.md)"
        )
    }))
}

/// An LLM endpoint (`gpu` and `model`, or a measured `profile`): each knob is read by a function
/// of its own below.
pub(crate) fn llm_service(
    ctx: &Ctx<'_>,
    raw: &EndpointFile,
    prompt_tokens: Dist,
    output_tokens: Dist,
    queue_capacity: Option<u64>,
    queue_timeout: Option<SimDuration>,
) -> Result<Service, ConfigError> {
    let catalog = ctx.catalog;
    let default_engine = EngineFile {
        kind: "vllm".into(),
        ..EngineFile::default()
    };
    let engine = raw.engine.as_ref().unwrap_or(&default_engine);
    let class = engine_class(ctx, catalog, engine)?;
    // From here on the engine is known by the scheduler it runs.
    let options = engine_options(ctx, engine, &class.scheduler)?;
    let ek = |k: &str| format!("endpoint.engine.{k}");

    let deployment = deployment(ctx, raw, engine, &class, &options)?;

    let model_max = deployment
        .as_ref()
        .map_or(1 << 30, |d| i64::from(d.llm.max_context));
    let max_model_len = count(
        ctx,
        &ek("max-model-len"),
        engine.max_model_len,
        model_max as u64,
        2,
        model_max,
    )? as u32;

    let (step, kv_tokens) = match (&deployment, &raw.profile) {
        (Some(d), p) => {
            let perf = d.perf().map_err(|m| {
                ctx.error("endpoint.quantization", m)
                    .with_hint("`capsim list quantizations` shows where each scheme runs")
            })?;
            if let Err((problem, hint)) = catalog.check_fit(d, u64::from(max_model_len)) {
                return Err(ctx
                    .error("endpoint.model", problem)
                    .with_hint(format!("{hint}; or lower engine.max-model-len")));
            }
            let step = match p {
                Some(p) => StepModel::Profile(profile(ctx, p)?),
                None => StepModel::Derived(Box::new(perf)),
            };
            if let Some(p) = p
                && p.kv_tokens.is_some()
            {
                return Err(ctx.error(
                    "endpoint.profile.kv-tokens",
                    "applies only without `gpu` and `model`, which decide the KV cache",
                ));
            }
            (step, d.memory().kv_tokens())
        }
        (None, Some(p)) => {
            let kv = count(
                ctx,
                "endpoint.profile.kv-tokens",
                p.kv_tokens,
                1 << 40,
                1,
                i64::MAX,
            )?;
            (StepModel::Profile(profile(ctx, p)?), kv)
        }
        (None, None) => unreachable!("called only for LLM endpoints"),
    };
    if let StepModel::Profile(p) = &step
        && !p.has_prefill_rate()
        && prompt_tokens.mean() > 0.0
    {
        return Err(ctx
            .error("endpoint.profile", "requests have prompts, so the profile needs `prefill-tokens-per-s`")
            .with_hint("or set workload.prompt-tokens to { kind = \"deterministic\", value = 0 } for non-LLM models"));
    }

    let engine_spec = options.spec(Place {
        src: ctx,
        defaults: &catalog.engines,
        class: &class,
        deployment: deployment.as_ref(),
        max_model_len,
    })?;
    let block_size = options.block_size(ctx, &catalog.engines, class.block_size)?;
    let prefix_caching = options.prefix_caching().unwrap_or(class.prefix_caching);
    let (replicas, lifecycle) = scaling(ctx, raw)?;
    if lifecycle.is_some() && deployment.is_none() {
        return Err(ctx
            .error(
                "endpoint.scaling",
                "applies only with `gpu` and `model`, which decide the cold start",
            )
            .with_hint("a measured profile has no weights to load"));
    }
    let (cold_start, price) = match &deployment {
        Some(d) => (Some(cold_start(ctx, raw, d, catalog)?), price(ctx, raw, d)?),
        None => {
            for (k, set) in [
                ("cold-start", raw.cold_start.is_some()),
                ("billing", raw.billing.is_some()),
            ] {
                if set {
                    return Err(ctx
                        .error(
                            &format!("endpoint.{k}"),
                            "applies only with `gpu` and `model`",
                        )
                        .with_hint(
                            "the GPU decides the price, and the model's weights the load time",
                        ));
                }
            }
            (None, None)
        }
    };
    Ok(Service::Llm(Box::new(LlmService {
        step,
        engine: engine_spec,
        kv_tokens,
        block_size,
        prefix_caching,
        max_model_len,
        prompt_tokens,
        output_tokens,
        queue_timeout,
        queue_capacity,
        max_concurrent: max_concurrent(ctx, raw)?,
        replicas,
        lifecycle,
        balancer: balancer(ctx, raw)?,
        deployment: deployment.map(Box::new),
        cold_start,
        price,
    })))
}

/// The hardware and model, when given (`gpu` or `instance`, `model`, `quantization`,
/// `tensor-parallel`): they decide the KV capacity and the derived step times.
fn deployment(
    ctx: &Ctx<'_>,
    raw: &EndpointFile,
    engine: &EngineFile,
    class: &EngineClass,
    options: &Options,
) -> Result<Option<Deployment>, ConfigError> {
    let catalog = ctx.catalog;
    let ek = |k: &str| format!("endpoint.engine.{k}");
    let inline_gpu = match &raw.gpu {
        Some(CatalogRef::Inline(f)) => Some(
            gpu_from(ctx.file, (**f).clone())
                .map_err(|e| inline_error(ctx, "endpoint.gpu", "models/gpus/*.toml", e))?,
        ),
        _ => None,
    };
    let gpu_named: Option<&str> = match &raw.gpu {
        Some(CatalogRef::Id(id)) => Some(id),
        Some(CatalogRef::Inline(_)) => inline_gpu.as_ref().map(|g| g.id.as_str()),
        None => None,
    };
    let inline_instance = match &raw.instance {
        Some(CatalogRef::Inline(f)) => {
            let err = |e| inline_error(ctx, "endpoint.instance", "models/instances/*.toml", e);
            let i = instance_from(ctx.file, (**f).clone()).map_err(err)?;
            let gpu = inline_gpu
                .as_ref()
                .filter(|g| g.id == i.gpu)
                .or_else(|| catalog.gpus.get(&i.gpu));
            check_instance(ctx.file, &i, gpu, &catalog.gpus).map_err(err)?;
            Some(i)
        }
        _ => None,
    };
    let instance = match &raw.instance {
        None => None,
        Some(CatalogRef::Inline(_)) => inline_instance.as_ref(),
        Some(CatalogRef::Id(id)) => {
            let ids: Vec<&str> = catalog.instances.keys().map(String::as_str).collect();
            Some(
                catalog
                    .instances
                    .get(id)
                    .ok_or_else(|| unknown_kind(ctx, "endpoint.instance", "instance", id, &ids))?,
            )
        }
    };
    if let (Some(g), Some(i)) = (gpu_named, instance)
        && g != i.gpu
    {
        return Err(ctx
            .error(
                "endpoint.gpu",
                format!("instance {} has {} GPUs, not {g}", i.id, i.gpu),
            )
            .with_hint("give either `gpu` or `instance`"));
    }
    let gpu_id = gpu_named.or_else(|| instance.map(|i| i.gpu.as_str()));
    let deployment = match (gpu_id, &raw.model) {
        (Some(gpu), Some(model)) => {
            let gpu_ids: Vec<&str> = catalog.gpus.keys().map(String::as_str).collect();
            let mut gpu = match inline_gpu.as_ref().filter(|g| g.id == gpu) {
                Some(g) => g.clone(),
                None => catalog
                    .gpus
                    .get(gpu)
                    .ok_or_else(|| unknown_kind(ctx, "endpoint.gpu", "GPU", gpu, &gpu_ids))?
                    .clone(),
            };
            if let Some(i) = instance {
                // The instance's own link and prices replace the GPU file's.
                gpu.interconnect = i.interconnect.clone();
                gpu.prices = i.prices.clone();
            }
            let llm = match model {
                ModelRef::Id(id) => {
                    let ids: Vec<&str> = catalog.llms.keys().map(String::as_str).collect();
                    catalog.llms.get(id).cloned().ok_or_else(|| {
                        unknown_kind(ctx, "endpoint.model", "model", id, &ids)
                            .with_hint("name a catalog model (`capsim list models`) or describe yours in a table")
                    })?
                }
                ModelRef::Inline(f) => llm_from(ctx.file, "endpoint.model", (**f).clone())
                    .map_err(|e| {
                        let line = ctx.error(
                            e.key.as_deref().unwrap_or("endpoint.model"),
                            e.message.clone(),
                        );
                        match e.hint {
                            Some(h) => line.with_hint(h),
                            None => line,
                        }
                    })?,
            };
            let quant_id = raw.quantization.as_deref().unwrap_or("fp16");
            let q_ids: Vec<&str> = catalog.quantizations.keys().map(String::as_str).collect();
            let mut quant = catalog
                .quantizations
                .get(quant_id)
                .cloned()
                .ok_or_else(|| {
                    unknown_kind(
                        ctx,
                        "endpoint.quantization",
                        "quantization",
                        quant_id,
                        &q_ids,
                    )
                })?;
            if let Some(g) = raw.quantization_group_size {
                quant.group_size = count(
                    ctx,
                    "endpoint.quantization-group-size",
                    Some(g),
                    1,
                    1,
                    1 << 20,
                )? as u32;
            }
            let max_tp = instance.map_or(64, |i| i64::from(i.gpus));
            let tp = count(
                ctx,
                "endpoint.tensor-parallel",
                raw.tensor_parallel,
                instance.map_or(1, |i| u64::from(i.gpus)),
                1,
                max_tp,
            )? as u32;
            if let Some(problem) = crate::domain::deployment::tensor_parallel_problem(&llm, tp) {
                return Err(ctx.error("endpoint.tensor-parallel", problem));
            }
            let kv_bytes = match engine.kv_cache_dtype.as_deref() {
                None | Some("auto") => quant.kv_bytes,
                Some("fp16") | Some("bf16") => 2.0,
                Some("fp8") => 1.0,
                Some(other) => {
                    return Err(unknown_kind(
                        ctx,
                        &ek("kv-cache-dtype"),
                        "KV-cache type",
                        other,
                        &["auto", "fp16", "fp8"],
                    ));
                }
            };
            let utilization = options.memory_utilization(ctx, &catalog.engines)?;
            Some(Deployment {
                interconnect: gpu.interconnect.clone(),
                instance: instance.map(|i| i.id.clone()),
                gpu,
                llm,
                quant,
                tp,
                class: class.clone(),
                memory_utilization: utilization,
                kv_bytes,
                overlap_exponent: catalog.overlap_exponent,
            })
        }
        (Some(_), None) => {
            return Err(ctx
                .error("endpoint", "`gpu` needs a `model`")
                .with_hint("e.g. model = \"llama-2-7b\""));
        }
        (None, Some(_)) => {
            return Err(ctx
                .error("endpoint", "`model` needs a `gpu`")
                .with_hint("e.g. gpu = \"a100-80gb\""));
        }
        (None, None) => None,
    };
    if deployment.is_none() {
        for (k, set) in [
            ("quantization", raw.quantization.is_some()),
            (
                "quantization-group-size",
                raw.quantization_group_size.is_some(),
            ),
            ("tensor-parallel", raw.tensor_parallel.is_some()),
        ] {
            if set {
                return Err(ctx.error(
                    &format!("endpoint.{k}"),
                    "applies only with `gpu` and `model`",
                ));
            }
        }
    }

    Ok(deployment)
}

/// The options of `engine` besides those every engine takes, read as the scheduler's.
fn engine_options(
    ctx: &Ctx<'_>,
    engine: &EngineFile,
    scheduler: &str,
) -> Result<Options, ConfigError> {
    let kind = &engine.kind;
    let ek = |k: &str| format!("endpoint.engine.{k}");
    Options::read(scheduler, &engine.options).map_err(|p| {
        let takes: Vec<&str> = EngineFile::PICKING
            .iter()
            .chain(engines::scheduler_keys(scheduler))
            .chain(&EngineFile::SHARED)
            .copied()
            .collect();
        let takes_hint = format!("the {kind} engine takes: {}", takes.join(", "));
        match p {
            Problem::Key(KeyProblem::Unknown { key, .. }) => {
                let hint = match suggest::key_hint(&key, &takes) {
                    Some(h) => format!("{h} ({takes_hint})"),
                    None => takes_hint,
                };
                ctx.error(
                    &ek(&key),
                    format!("`{key}` is not a setting of the {kind} engine"),
                )
                .with_hint(hint)
            }
            Problem::Key(KeyProblem::Missing(k)) => ctx
                .error("endpoint.engine", format!("the {kind} engine needs `{k}`"))
                .with_hint(takes_hint),
            Problem::Invalid { key, message } => ctx.error_with_column(
                &key.map_or_else(|| "endpoint.engine".into(), |k| ek(&k)),
                suggest::plain_types(&message),
            ),
            // The catalog checks that each class runs a scheduler there are options for.
            Problem::MissingTag | Problem::UnknownTag { .. } => ctx.error(
                "endpoint.engine",
                format!(
                    "the engine's class runs the scheduler \"{scheduler}\", which has no options"
                ),
            ),
        }
    })
}

/// `endpoint.load-balancer`.
fn balancer(ctx: &Ctx<'_>, raw: &EndpointFile) -> Result<Balancer, ConfigError> {
    Ok(match raw.load_balancer.as_deref() {
        None | Some("least-outstanding") => Balancer::LeastOutstanding,
        Some("round-robin") => Balancer::RoundRobin,
        Some("power-of-two") => Balancer::PowerOfTwo,
        Some(other) => {
            return Err(unknown_kind(
                ctx,
                "endpoint.load-balancer",
                "load balancer",
                other,
                &["least-outstanding", "round-robin", "power-of-two"],
            ));
        }
    })
}

/// `endpoint.max-concurrent-requests`: the gateway's cap, if any.
fn max_concurrent(ctx: &Ctx<'_>, raw: &EndpointFile) -> Result<Option<u32>, ConfigError> {
    Ok(match raw.max_concurrent_requests {
        None => None,
        Some(c) if (1..=1_000_000).contains(&c) => Some(c as u32),
        Some(c) => {
            return Err(ctx
                .error(
                    "endpoint.max-concurrent-requests",
                    format!("must be between 1 and 1000000, found {c}"),
                )
                .with_hint("TGI's default is 128; leave it out for no cap"));
        }
    })
}

/// `replicas`, or `[endpoint.scaling]`: the most replicas and the lifecycle.
fn scaling(ctx: &Ctx<'_>, raw: &EndpointFile) -> Result<(u32, Option<Lifecycle>), ConfigError> {
    let Some(f) = &raw.scaling else {
        return Ok((
            count(ctx, "endpoint.replicas", raw.replicas, 1, 1, 1000)? as u32,
            None,
        ));
    };
    if raw.replicas.is_some() {
        return Err(ctx
            .error(
                "endpoint.replicas",
                "with [endpoint.scaling], set `max-replicas` there instead",
            )
            .with_hint("`replicas` is for a fixed number of replicas"));
    }
    let k = |n: &str| format!("endpoint.scaling.{n}");
    let min = count(ctx, &k("min-replicas"), f.min_replicas, 0, 0, 1000)?;
    let max = count(ctx, &k("max-replicas"), f.max_replicas, min.max(1), 1, 1000)?;
    if min > max {
        return Err(ctx.error(
            &k("min-replicas"),
            format!("min-replicas ({min}) is more than max-replicas ({max})"),
        ));
    }
    let initial = count(
        ctx,
        &k("initial-replicas"),
        f.initial_replicas,
        min,
        0,
        1000,
    )?;
    if initial < min || initial > max {
        return Err(ctx.error(
            &k("initial-replicas"),
            format!(
                "must be between min-replicas ({min}) and max-replicas ({max}), found {initial}"
            ),
        ));
    }
    // Scale-to-zero without a timeout takes HF's default of one hour of inactivity.
    let idle_timeout = match &f.idle_timeout {
        Some(v) => Some(ctx.positive_duration(&k("idle-timeout"), v)?),
        None if min == 0 => Some(SimDuration::from_secs(3600)),
        None => None,
    };
    if min > 0 && idle_timeout.is_some() && min == max {
        ctx.no_effect(ctx.error(
            &k("idle-timeout"),
            "has no effect: min-replicas equals max-replicas, so no replica ever stops",
        ))?;
    }
    let hold_timeout = f
        .scale_up_timeout
        .as_ref()
        .map(|v| ctx.positive_duration(&k("scale-up-timeout"), v))
        .transpose()?;
    let when = match f.when_unavailable.as_deref() {
        None | Some("reject") => {
            if hold_timeout.is_some() {
                return Err(ctx.error(
                    &k("scale-up-timeout"),
                    "applies only with when-unavailable = \"hold\"",
                ));
            }
            WhenUnavailable::Reject
        }
        Some("hold") => WhenUnavailable::Hold(hold_timeout.ok_or_else(|| {
            ctx.error(&k("when-unavailable"), "\"hold\" needs `scale-up-timeout`")
                .with_hint("e.g. scale-up-timeout = \"600s\", like HF's X-Scale-Up-Timeout header")
        })?),
        Some("queue") => {
            if hold_timeout.is_some() {
                return Err(ctx.error(
                    &k("scale-up-timeout"),
                    "applies only with when-unavailable = \"hold\"",
                ));
            }
            WhenUnavailable::Queue
        }
        Some(other) => {
            return Err(unknown_kind(
                ctx,
                &k("when-unavailable"),
                "behaviour",
                other,
                &["reject", "hold", "queue"],
            ));
        }
    };
    let cold_connections = match f.cold_connections.as_deref() {
        None | Some("accepted") => ColdConnections::Accepted,
        Some("unanswered") => {
            // With nothing listening there is no one to answer 503 or to apply a scale-up
            // timeout: the request waits for a replica or the client's connect timeout.
            if when != WhenUnavailable::Queue {
                return Err(ctx
                    .error(
                        &k("cold-connections"),
                        "\"unanswered\" needs when-unavailable = \"queue\": with nothing listening, nothing can answer HTTP 503 or hold a request",
                    )
                    .with_hint("requests then wait for a replica (or the client's connect-timeout); \"accepted\" (the default) is a proxy in front that holds them"));
            }
            ColdConnections::Unanswered
        }
        Some(other) => {
            return Err(unknown_kind(
                ctx,
                &k("cold-connections"),
                "connection behaviour",
                other,
                &["accepted", "unanswered"],
            ));
        }
    };
    let autoscaler = f
        .autoscale
        .as_ref()
        .map(|a| autoscaler(ctx, a))
        .transpose()?;
    Ok((
        max as u32,
        Some(Lifecycle {
            min_replicas: min as u32,
            initial_replicas: initial as u32,
            idle_timeout,
            when_unavailable: when,
            cold_connections,
            autoscaler,
        }),
    ))
}

/// The autoscaler, with HF Inference Endpoints' defaults: 1.5 pending requests per replica over
/// 20 s, scale-up considered every 60 s, scale-down every 120 s, 300 s stabilisation (figures.md
/// §2.2); a GPU-utilisation signal defaults to a 1-minute window.
fn autoscaler(ctx: &Ctx<'_>, a: &AutoscaleFile) -> Result<Autoscaler, ConfigError> {
    let k = |n: &str| format!("endpoint.scaling.autoscale.{n}");
    let dur = |n: &str, v: &Option<Scalar>, default: u64| match v {
        Some(v) => ctx.positive_duration(&k(n), v),
        None => Ok(SimDuration::from_secs(default)),
    };
    let (signal, default_window) = match a.signal.as_str() {
        "pending" | "queue-depth" | "concurrency" => {
            if a.threshold.is_some() {
                return Err(ctx.error(
                    &k("threshold"),
                    format!("applies to gpu-utilization; {} takes `target`", a.signal),
                ));
            }
            let target = a.target.unwrap_or(1.5);
            if !(target.is_finite() && target > 0.0) {
                return Err(ctx.error(&k("target"), format!("must be positive, found {target}")));
            }
            (
                match a.signal.as_str() {
                    "pending" => ScaleSignal::Pending(target),
                    "queue-depth" => ScaleSignal::QueueDepth(target),
                    _ => ScaleSignal::Concurrency(target),
                },
                20,
            )
        }
        "gpu-utilization" => {
            if a.target.is_some() {
                return Err(ctx.error(
                    &k("target"),
                    "applies to pending, queue-depth and concurrency; gpu-utilization takes `threshold`",
                ));
            }
            let t = a.threshold.unwrap_or(0.8);
            if !(t > 0.0 && t <= 1.0) {
                return Err(ctx
                    .error(
                        &k("threshold"),
                        format!("must be more than 0 and at most 1 (100 %), found {t}"),
                    )
                    .with_hint("write 60 % as 0.6"));
            }
            (ScaleSignal::GpuUtilization(t), 60)
        }
        other => {
            return Err(unknown_kind(
                ctx,
                &k("signal"),
                "autoscaling signal",
                other,
                &["pending", "gpu-utilization", "queue-depth", "concurrency"],
            ));
        }
    };
    let window = dur("window", &a.window, default_window)?;
    let up_interval = dur("up-interval", &a.up_interval, 60)?;
    let down_interval = dur("down-interval", &a.down_interval, 120)?;
    if window > up_interval || window > down_interval {
        return Err(ctx
            .error(&k("window"), format!("the window ({window}) must not be longer than the evaluation intervals ({up_interval} up, {down_interval} down)"))
            .with_hint("each evaluation averages over the window that ends at it"));
    }
    Ok(Autoscaler {
        signal,
        window,
        up_interval,
        down_interval,
        stabilization: match &a.stabilization {
            Some(v) => ctx.duration(&k("stabilization"), v)?,
            None => SimDuration::from_secs(300),
        },
        max_step: count(ctx, &k("max-step"), a.max_step, 1, 1, 1000)? as u32,
    })
}

fn positive_rate(
    ctx: &Ctx<'_>,
    key: &str,
    v: Option<f64>,
    default: f64,
) -> Result<f64, ConfigError> {
    match v {
        None => Ok(default),
        Some(x) if x.is_finite() && x > 0.0 => Ok(x),
        Some(x) => Err(ctx.error(key, format!("must be positive, found {x}"))),
    }
}

/// The cold start of one replica of `d`, from `[endpoint.cold-start]` over the catalog defaults.
fn cold_start(
    ctx: &Ctx<'_>,
    raw: &EndpointFile,
    d: &Deployment,
    catalog: &Catalog,
) -> Result<ColdStartSpec, ConfigError> {
    let def = &catalog.cold_start;
    let empty = ColdStartFile::default();
    let f = raw.cold_start.as_ref().unwrap_or(&empty);
    let k = |name: &str| format!("endpoint.cold-start.{name}");
    let duration = |name: &str, v: &Option<Scalar>, default_s: f64| match v {
        Some(v) => ctx.duration(&k(name), v),
        None => Ok(SimDuration::from_secs_f64_saturating(default_s)),
    };
    let image_gb = match f.image_gb {
        None => def.image_gb,
        Some(x) if x.is_finite() && x >= 0.0 => x,
        Some(x) => {
            return Err(ctx.error(&k("image-gb"), format!("must be zero or more, found {x}")));
        }
    };
    let jitter = match f.jitter {
        None => def.jitter,
        Some(j) if (0.0..1.0).contains(&j) => j,
        Some(j) => {
            return Err(ctx.error(
                &k("jitter"),
                format!("must be at least 0 and less than 1, found {j}"),
            ));
        }
    };
    Ok(ColdStartSpec {
        provisioning: duration("provisioning", &f.provisioning, def.provisioning_s)?,
        image_bytes: image_gb * 1e9,
        image_pull_rate: positive_rate(
            ctx,
            &k("image-pull-gb-s"),
            f.image_pull_gb_s,
            def.image_pull_gb_s,
        )? * 1e9,
        cached_image: f.cached_image.unwrap_or(false),
        weight_bytes: stored_weight_bytes(&d.llm, &d.quant),
        download_rate: positive_rate(
            ctx,
            &k("weight-download-gb-s"),
            f.weight_download_gb_s,
            def.weight_download_gb_s,
        )? * 1e9,
        cached_weights: f.cached_weights.unwrap_or(false),
        load_rate: positive_rate(ctx, &k("load-gb-s"), f.load_gb_s, def.load_gb_s)? * 1e9,
        gpus: d.tp,
        warm_up: duration("warm-up", &f.warm_up, def.warm_up_s)?,
        jitter,
    })
}

/// The hourly price of one replica: explicit, or the catalog's price for the provider and size
/// (by default [`default_price`]: the GPU's `aws` price of size `x{tp}`, or an instance's first
/// price).
fn price(
    ctx: &Ctx<'_>,
    raw: &EndpointFile,
    d: &Deployment,
) -> Result<Option<(f64, String)>, ConfigError> {
    let b = raw.billing.as_ref();
    if let Some(usd) = b.and_then(|b| b.usd_per_hour) {
        if b.is_some_and(|b| b.provider.is_some() || b.size.is_some()) {
            return Err(ctx.error(
                "endpoint.billing.usd-per-hour",
                "give either `usd-per-hour` or `provider` and `size`, not both",
            ));
        }
        if !(usd.is_finite() && usd > 0.0) {
            return Err(ctx.error(
                "endpoint.billing.usd-per-hour",
                format!("must be positive, found {usd}"),
            ));
        }
        return Ok(Some((usd, "set in the experiment file".to_string())));
    }
    let provider = b.and_then(|b| b.provider.clone());
    let size = b.and_then(|b| b.size.clone());
    let on_instance = d.instance.is_some();
    let found = match (&provider, &size) {
        (None, None) => default_price(&d.gpu.prices, d.tp, on_instance),
        // An instance is billed whole, whatever its tensor-parallel size.
        _ if on_instance => d.gpu.prices.iter().find(|p| {
            provider.as_ref().is_none_or(|x| p.provider == *x)
                && size.as_ref().is_none_or(|x| p.size == *x)
        }),
        _ => {
            let provider = provider.as_deref().unwrap_or(DEFAULT_PROVIDER);
            let size = size.clone().unwrap_or_else(|| format!("x{}", d.tp));
            d.gpu
                .prices
                .iter()
                .find(|p| p.provider == provider && p.size == size && p.gpus >= d.tp)
        }
    };
    let provider = provider.unwrap_or_else(|| {
        if on_instance {
            "any provider".to_string()
        } else {
            DEFAULT_PROVIDER.to_string()
        }
    });
    let size = size.unwrap_or_else(|| format!("x{}", d.tp));
    match found {
        Some(p) => Ok(Some((
            p.usd_per_hour,
            format!(
                "{} {} {}, ${:.2}/h as of {} ({})",
                p.provider, p.instance, p.size, p.usd_per_hour, p.as_of, p.source
            ),
        ))),
        None if b.is_none() => Ok(None),
        None => {
            let offered: Vec<String> = d
                .gpu
                .prices
                .iter()
                .map(|p| format!("{} {}", p.provider, p.size))
                .collect();
            Err(ctx
                .error(
                    "endpoint.billing",
                    format!("no {provider} {size} price for {} in the catalog", d.gpu.id),
                )
                .with_hint(if offered.is_empty() {
                    "this GPU has no catalog price; set usd-per-hour".to_string()
                } else {
                    format!("offered: {}; or set usd-per-hour", offered.join(", "))
                }))
        }
    }
}
