//! The command line: `capsim run` and `capsim validate`.
//!
//! Exit codes: 0 success, 1 a run or its output failed, 2 a usage or configuration error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use crate::domain::deployment::Deployment;
use crate::error::{ConfigError, RunError};
use crate::experiment::catalog::Catalog;
use crate::{experiment, report, runner, views};

/// capsim: predict timeout rates, latency percentiles and cost of an inference endpoint.
#[derive(Debug, Parser)]
#[command(name = "capsim", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an experiment file and write summary.json and summary.csv.
    Run {
        /// The experiment file (TOML).
        file: PathBuf,
        /// Folder for the results [default: results/FILE_STEM/].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Master seed; overrides the file's `seed`.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
        /// Also write DIR/timeseries/RUN.csv (LLM endpoints; windows of timeseries-interval).
        #[arg(long)]
        timeseries: bool,
        /// Also write DIR/requests/RUN.csv, one row per request (LLM endpoints).
        #[arg(long)]
        requests: bool,
        /// Threads for running a sweep's runs in parallel [default: one per core]. Outputs are
        /// the same whatever the number.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
        threads: Option<u32>,
        /// Run only shard K of N (runs whose index is K−1 modulo N), for a job array; put the
        /// shards together with `capsim merge`.
        #[arg(long, value_name = "K/N", value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
        /// A catalog folder merged over the built-in one (same layout as models/).
        #[arg(long, value_name = "DIR")]
        catalog: Option<PathBuf>,
    },
    /// Redraw the charts and report.md of a results folder from its summary.json.
    Chart {
        /// The results folder.
        dir: PathBuf,
    },
    /// Merge the result folders of `run --shard K/N` into the results of one whole run.
    Merge {
        /// The shards' result folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Folder for the merged results.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Check experiment files without running them.
    Validate {
        /// Experiment files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// A catalog folder merged over the built-in one (same layout as models/).
        #[arg(long, value_name = "DIR")]
        catalog: Option<PathBuf>,
    },
    /// Explain an experiment's endpoint: memory, speeds, cold start and price.
    Explain {
        /// The experiment file (TOML).
        file: PathBuf,
        /// A catalog folder merged over the built-in one (same layout as models/).
        #[arg(long, value_name = "DIR")]
        catalog: Option<PathBuf>,
    },
    /// Print the catalog: GPUs, models, quantizations or engine classes, with sources.
    List {
        /// What to list.
        #[arg(value_enum)]
        what: ListWhat,
        /// A catalog folder merged over the built-in one (same layout as models/).
        #[arg(long, value_name = "DIR")]
        catalog: Option<PathBuf>,
    },
    /// Print the step-time curve the simulation uses for one deployment: an experiment file's
    /// endpoint, or the one given by --gpu and --model.
    Curve {
        /// An experiment file whose endpoint to show (instead of --gpu and --model).
        file: Option<PathBuf>,
        /// GPU id (see `capsim list gpus`).
        #[arg(long)]
        gpu: Option<String>,
        /// Model id (see `capsim list models`).
        #[arg(long)]
        model: Option<String>,
        /// Quantization id (see `capsim list quantizations`) [default: fp16].
        #[arg(long)]
        quant: Option<String>,
        /// GPUs per replica (tensor parallelism) [default: 1].
        #[arg(long)]
        tp: Option<u32>,
        /// Engine class (see `capsim list engines`) [default: vllm-v1].
        #[arg(long)]
        class: Option<String>,
        /// Multi-GPU instance whose interconnect applies (see `capsim list gpus`).
        #[arg(long)]
        instance: Option<String>,
        /// Share of GPU memory the engine may use [default: 0.9].
        #[arg(long)]
        gpu_memory_utilization: Option<f64>,
        /// A catalog folder merged over the built-in one (same layout as models/).
        #[arg(long, value_name = "DIR")]
        catalog: Option<PathBuf>,
    },
}

/// What `capsim list` prints.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ListWhat {
    /// GPUs: memory, bandwidth, throughput, interconnect, prices.
    Gpus,
    /// LLM architectures.
    Models,
    /// Quantization schemes.
    Quantizations,
    /// Engine classes, quantized kernels and scheduler defaults.
    Engines,
}

/// Why a command failed; decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Bad input files or arguments (exit 2).
    Config(Vec<ConfigError>),
    /// The run or its output failed (exit 1).
    Run(RunError),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Config(_) => 2,
            Failure::Run(_) => 1,
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(vec![e])
    }
}

impl From<RunError> for Failure {
    fn from(e: RunError) -> Self {
        Failure::Run(e)
    }
}

/// Prints to stdout, treating a closed pipe (`capsim run x | head`) as success.
fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("warning: cannot write to stdout: {e}");
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    std::fs::write(path, bytes).map_err(|source| RunError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The default results folder: `results/<file stem>/`.
fn default_out_dir(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map_or_else(|| "experiment".into(), |s| s.to_string_lossy().into_owned());
    Path::new("results").join(stem)
}

/// `K/N` with 1 ≤ K ≤ N.
fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("expected K/N such as 2/8, found \"{s}\""))?;
    let (k, n): (usize, usize) = (
        k.trim()
            .parse()
            .map_err(|_| format!("K in \"{s}\" is not a whole number"))?,
        n.trim()
            .parse()
            .map_err(|_| format!("N in \"{s}\" is not a whole number"))?,
    );
    if n == 0 || k == 0 || k > n {
        return Err(format!("expected 1 <= K <= N, found {k}/{n}"));
    }
    Ok((k, n))
}

/// Writes summary.json, summary.csv and, with replications, aggregate.csv into `dir`.
fn write_summary(dir: &Path, summary: &report::Summary) -> Result<(PathBuf, PathBuf), RunError> {
    std::fs::create_dir_all(dir).map_err(|source| RunError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let json_path = dir.join("summary.json");
    let csv_path = dir.join("summary.csv");
    write_file(&json_path, &report::to_json(summary)?)?;
    write_file(&csv_path, &report::to_csv(summary)?)?;
    if !summary.aggregates.is_empty() {
        write_file(&dir.join("aggregate.csv"), &report::aggregate_csv(summary)?)?;
    }
    Ok((json_path, csv_path))
}

/// Reads a summary.json back; replication intervals are recomputed from its runs.
fn read_summary(path: &Path) -> Result<report::Summary, Failure> {
    let text =
        experiment::input::read_text(path, experiment::input::InputKind::Data).map_err(|e| {
            Failure::from(
                ConfigError::new(path, format!("cannot read the summary: {e}"))
                    .with_hint("give a folder that `capsim run` wrote"),
            )
        })?;
    let mut summary: report::Summary = serde_json::from_str(&text)
        .map_err(|e| Failure::from(ConfigError::new(path, format!("not a capsim summary: {e}"))))?;
    if summary.shard.is_none() && summary.runs.iter().any(|r| r.replication > 0) {
        summary.aggregates = report::aggregate(&summary.runs);
    }
    Ok(summary)
}

/// Draws the charts of a sweep and writes report.md next to them.
fn write_charts(
    dir: &Path,
    summary: &report::Summary,
) -> Result<Vec<report::charts::Chart>, RunError> {
    let charts = report::charts::render(summary, dir)?;
    write_file(
        &dir.join("report.md"),
        report::report_md(summary, &charts).as_bytes(),
    )?;
    Ok(charts)
}

fn merge_command(dirs: &[PathBuf], out: &Path) -> Result<(), Failure> {
    let mut shards = Vec::new();
    for d in dirs {
        shards.push(read_summary(&d.join("summary.json"))?);
    }
    let merged = report::merge(shards).map_err(|m| {
        Failure::from(
            ConfigError::new(&dirs[0], m).with_hint("give every shard of one sweep, each once"),
        )
    })?;
    write_summary(out, &merged)?;
    write_charts(out, &merged)?;
    // Time series files are named by run index, so they are copied as they are.
    for d in dirs {
        let ts = d.join("timeseries");
        if let Ok(entries) = std::fs::read_dir(&ts) {
            let target = out.join("timeseries");
            std::fs::create_dir_all(&target).map_err(|source| RunError::Write {
                path: target.clone(),
                source,
            })?;
            for e in entries.flatten() {
                let to = target.join(e.file_name());
                std::fs::copy(e.path(), &to)
                    .map_err(|source| RunError::Write { path: to, source })?;
            }
        }
    }
    Ok(())
}

fn run_command(
    file: &Path,
    out: Option<PathBuf>,
    seed: Option<u64>,
    quiet: bool,
    keep: runner::Keep,
    shard: Option<(usize, usize)>,
    catalog: Option<&Path>,
) -> Result<(), Failure> {
    let runner::Keep {
        timeseries,
        requests,
    } = keep;
    let catalog = Catalog::load(catalog)?;
    let exp = experiment::load_with(file, &catalog)?;
    print_warnings(&exp);
    let seed = seed.or(exp.seed).ok_or_else(|| {
        ConfigError::new(file, "no seed: the file sets no `seed` and none was given with --seed")
            .with_hint("add `seed = 1` at the top of the file, or pass --seed 1; every output records the seed")
    })?;
    let started = Instant::now();
    let dir = out.unwrap_or_else(|| default_out_dir(file));
    std::fs::create_dir_all(&dir).map_err(|source| RunError::Write {
        path: dir.clone(),
        source,
    })?;
    let total = runner::plan(&exp, seed)
        .iter()
        .filter(|p| shard.is_none_or(|(k, n)| p.index % n == k - 1))
        .count();
    // indicatif draws only on a terminal, so logs and CI output stay clean.
    let bar = if quiet || total < 2 {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed} (eta {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // Each finished run is appended to partial.jsonl at once, so an interrupted sweep keeps
    // what it has done; the file is removed once the summaries are written.
    let partial_path = dir.join("partial.jsonl");
    let partial =
        std::sync::Mutex::new(std::fs::File::create(&partial_path).map_err(|source| {
            RunError::Write {
                path: partial_path.clone(),
                source,
            }
        })?);
    let done = |rows: &[report::RunSummary]| {
        if let Ok(mut f) = partial.lock() {
            for r in rows {
                if let Ok(line) = serde_json::to_string(r) {
                    // A failed write only loses the partial record; the run goes on.
                    let _ = writeln!(f, "{line}");
                }
            }
        }
        bar.inc(1);
    };
    let (summary, details) = runner::run_watched(&exp, seed, keep, shard, &done)?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();

    let (json_path, csv_path) = write_summary(&dir, &summary)?;
    drop(partial);
    let _ = std::fs::remove_file(&partial_path);
    if shard.is_none() {
        write_charts(&dir, &summary)?;
    }
    if timeseries {
        let ts_dir = dir.join("timeseries");
        std::fs::create_dir_all(&ts_dir).map_err(|source| RunError::Write {
            path: ts_dir.clone(),
            source,
        })?;
        let totals = summary.runs.iter().filter(|r| r.class == "all");
        for (run, d) in totals.zip(&details) {
            write_file(
                &ts_dir.join(format!("{}.csv", run.index)),
                &report::timeseries_csv(&runner::outcome_names(), &d.timeseries)?,
            )?;
        }
        // The first run's series as a chart.
        if let (Some(d), Some(run)) = (details.first(), summary.runs.first()) {
            report::charts::timeseries_chart(
                &dir.join("timeseries.png"),
                &format!("{}: run {} over time", summary.experiment, run.index),
                &d.timeseries,
                exp.scenario.timeseries_interval.as_secs_f64(),
            )?;
        }
    }
    if requests {
        let req_dir = dir.join("requests");
        std::fs::create_dir_all(&req_dir).map_err(|source| RunError::Write {
            path: req_dir.clone(),
            source,
        })?;
        let totals = summary.runs.iter().filter(|r| r.class == "all");
        for (run, d) in totals.zip(&details) {
            write_file(
                &req_dir.join(format!("{}.csv", run.index)),
                &report::requests_csv(&d.requests, &d.class_names)?,
            )?;
        }
    }

    if !quiet {
        print_stdout(&report::table::render(&summary));
        let events: u64 = summary.runs.iter().map(|r| r.metrics.events).sum();
        let secs = elapsed.as_secs_f64();
        // Wall-clock figures go to stderr so that stdout stays a pure function of the inputs.
        eprintln!(
            "\nwrote {} and {}\n{} events in {:.2} s ({:.1} M events/s)",
            json_path.display(),
            csv_path.display(),
            events,
            secs,
            if secs > 0.0 {
                events as f64 / secs / 1e6
            } else {
                0.0
            }
        );
    }
    Ok(())
}

/// Settings that have no effect in some configurations of a sweep, on stderr (even with
/// `--quiet`: they may mean the sweep does not measure what it was written to).
fn print_warnings(exp: &experiment::Experiment) {
    for w in &exp.warnings {
        eprintln!("warning: {w}");
    }
}

fn validate_command(files: &[PathBuf], catalog: Option<&Path>) -> Result<(), Failure> {
    let catalog = Catalog::load(catalog)?;
    let mut errors = Vec::new();
    for file in files {
        match experiment::load_with(file, &catalog) {
            Ok(exp) => {
                print_warnings(&exp);
                let seed = exp
                    .seed
                    .map_or("no seed (pass --seed when running)".to_string(), |s| {
                        format!("seed {s}")
                    });
                print_stdout(&format!(
                    "ok: {} (\"{}\", {seed})\n",
                    file.display(),
                    exp.name
                ));
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::Config(errors))
    }
}

fn list_command(what: ListWhat, catalog: Option<&Path>) -> Result<(), Failure> {
    let c = Catalog::load(catalog)?;
    let c = &*c;
    print_stdout(&match what {
        ListWhat::Gpus => views::catalog::gpus(c),
        ListWhat::Models => views::catalog::models(c),
        ListWhat::Quantizations => views::catalog::quantizations(c),
        ListWhat::Engines => views::catalog::engines(c),
    });
    Ok(())
}

/// An error about a command-line argument (exit code 2).
fn arg_error(flag: &str, message: String, hint: String) -> Failure {
    Failure::Config(vec![
        ConfigError::new(Path::new("command line"), message)
            .at_key(flag)
            .with_hint(hint),
    ])
}

fn lookup<'a, T>(
    map: &'a std::collections::BTreeMap<String, T>,
    flag: &str,
    id: &str,
    list: &str,
) -> Result<&'a T, Failure> {
    map.get(id).ok_or_else(|| {
        let ids: Vec<&str> = map.keys().map(String::as_str).collect();
        arg_error(
            flag,
            format!("unknown id \"{id}\"; expected one of {}", ids.join(", ")),
            format!("`capsim list {list}` shows them with their figures"),
        )
    })
}

/// `capsim curve`'s arguments.
struct CurveArgs {
    file: Option<PathBuf>,
    gpu: Option<String>,
    model: Option<String>,
    quant: Option<String>,
    tp: Option<u32>,
    class: Option<String>,
    instance: Option<String>,
    gpu_memory_utilization: Option<f64>,
    catalog: Option<PathBuf>,
}

fn curve_command(a: CurveArgs) -> Result<(), Failure> {
    let c = Catalog::load(a.catalog.as_deref())?;
    let c = &*c;
    let flags = [
        ("--gpu", a.gpu.is_some()),
        ("--model", a.model.is_some()),
        ("--quant", a.quant.is_some()),
        ("--tp", a.tp.is_some()),
        ("--class", a.class.is_some()),
        ("--instance", a.instance.is_some()),
        (
            "--gpu-memory-utilization",
            a.gpu_memory_utilization.is_some(),
        ),
    ];
    let d = match (&a.file, &a.gpu, &a.model) {
        (Some(file), _, _) => {
            if let Some((flag, _)) = flags.iter().find(|(_, set)| *set) {
                return Err(arg_error(
                    flag,
                    format!("give either an experiment FILE or deployment flags, not both ({flag} with {})", file.display()),
                    "the file's [endpoint] decides the GPU, model, quantization, tensor parallelism, engine and memory share".into(),
                ));
            }
            experiment_deployment(file, c)?
        }
        (None, Some(gpu), Some(model)) => flag_deployment(c, gpu, model, &a)?,
        (None, None, None) => {
            return Err(arg_error(
                "curve",
                "give an experiment FILE, or --gpu and --model".into(),
                "e.g. `capsim curve experiments/llm/t4-int8-chat.toml` or `capsim curve --gpu t4 --model llama-2-7b --quant int8`".into(),
            ));
        }
        (None, gpu, _) => {
            let (flag, other) = if gpu.is_some() {
                ("--gpu", "--model")
            } else {
                ("--model", "--gpu")
            };
            return Err(arg_error(
                flag,
                format!("{flag} needs {other}"),
                "or give an experiment FILE instead".into(),
            ));
        }
    };
    let perf = d.perf().map_err(|m| {
        arg_error(
            "--quant",
            m,
            "`capsim list quantizations` shows where each runs".into(),
        )
    })?;
    let memory = d.memory();
    let mut text = String::new();
    if let Err((problem, hint)) = c.check_fit(&d, 1) {
        text.push_str(&format!("warning: {problem}\n  hint: {hint}\n\n"));
    }
    text.push_str(&views::catalog::curve(&views::catalog::CurveInput {
        gpu: &d.gpu,
        llm: &d.llm,
        quant: &d.quant,
        tp: d.tp,
        class: &d.class,
        memory: &memory,
        perf: &perf,
        memory_utilization: d.memory_utilization,
    }));
    print_stdout(&text);
    Ok(())
}

/// The deployment of an experiment file's endpoint (the first configuration of a sweep).
fn experiment_deployment(file: &Path, c: &Catalog) -> Result<Deployment, Failure> {
    let exp = experiment::load_with(file, c)?;
    match &exp.scenario.service {
        crate::domain::Service::Llm(svc) => match &svc.deployment {
            Some(d) => Ok((**d).clone()),
            None => Err(ConfigError::new(file, "the endpoint has a measured `profile` but no `gpu` and `model`, so there is no derived curve")
                .at_key("endpoint")
                .with_hint("`capsim curve` shows the step times derived from a GPU and a model")
                .into()),
        },
        _ => Err(ConfigError::new(file, "the endpoint is not an LLM endpoint (`servers` and `service-time`), so it has no step-time curve")
            .at_key("endpoint")
            .with_hint("give an experiment whose [endpoint] has `gpu` (or `instance`) and `model`")
            .into()),
    }
}

/// The deployment given by `capsim curve`'s flags.
fn flag_deployment(
    c: &Catalog,
    gpu: &str,
    model: &str,
    a: &CurveArgs,
) -> Result<Deployment, Failure> {
    let utilization = a.gpu_memory_utilization.unwrap_or(0.9);
    let instance = a
        .instance
        .as_deref()
        .map(|id| lookup(&c.instances, "--instance", id, "gpus"))
        .transpose()?;
    // As in an experiment file: an instance's replica spans all its GPUs unless told otherwise.
    let tp = a.tp.unwrap_or(instance.map_or(1, |i| i.gpus));
    let max_tp = instance.map_or(64, |i| i.gpus);
    if !(utilization > 0.0 && utilization <= 1.0) {
        return Err(arg_error(
            "--gpu-memory-utilization",
            format!("must be in (0, 1], found {utilization}"),
            "the vLLM default is 0.9".into(),
        ));
    }
    if !(1..=max_tp).contains(&tp) {
        return Err(arg_error(
            "--tp",
            format!("must be between 1 and {max_tp}, found {tp}"),
            match instance {
                Some(i) => format!("{} has {} GPUs", i.id, i.gpus),
                None => "GPUs per replica".into(),
            },
        ));
    }
    let quant = lookup(
        &c.quantizations,
        "--quant",
        a.quant.as_deref().unwrap_or("fp16"),
        "quantizations",
    )?;
    let mut gpu = lookup(&c.gpus, "--gpu", gpu, "gpus")?.clone();
    if let Some(i) = instance {
        if i.gpu != gpu.id {
            return Err(arg_error(
                "--instance",
                format!("{} has {} GPUs, not {}", i.id, i.gpu, gpu.id),
                format!("use --gpu {}", i.gpu),
            ));
        }
        gpu.interconnect = i.interconnect.clone();
    }
    let llm = lookup(&c.llms, "--model", model, "models")?.clone();
    if let Some(problem) = crate::domain::deployment::tensor_parallel_problem(&llm, tp) {
        return Err(arg_error(
            "--tp",
            problem,
            "choose a tensor-parallel size that divides the heads (`capsim list models` shows them)"
                .into(),
        ));
    }
    Ok(Deployment {
        interconnect: gpu.interconnect.clone(),
        instance: a.instance.clone(),
        gpu,
        llm,
        quant: quant.clone(),
        tp,
        class: lookup(
            &c.classes,
            "--class",
            a.class.as_deref().unwrap_or("vllm-v1"),
            "engines",
        )?
        .clone(),
        memory_utilization: utilization,
        kv_bytes: quant.kv_bytes,
        overlap_exponent: c.overlap_exponent,
    })
}

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run {
            file,
            out,
            seed,
            quiet,
            timeseries,
            requests,
            threads,
            shard,
            catalog,
        } => {
            let run = || {
                run_command(
                    &file,
                    out.clone(),
                    seed,
                    quiet,
                    runner::Keep {
                        timeseries,
                        requests,
                    },
                    shard,
                    catalog.as_deref(),
                )
            };
            match threads {
                None => run(),
                Some(n) => {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(n as usize)
                        .build()
                        .map_err(|e| {
                            Failure::Run(RunError::Invariant {
                                run: 0,
                                message: format!("cannot start {n} threads: {e}"),
                            })
                        })?;
                    pool.install(run)
                }
            }
        }
        Command::Merge { dirs, out } => merge_command(&dirs, &out),
        Command::Chart { dir } => {
            let path = dir.join("summary.json");
            let summary = read_summary(&path)?;
            let charts = write_charts(&dir, &summary)?;
            for c in charts {
                println!("{}", dir.join(c.file).display());
            }
            Ok(())
        }
        Command::Validate { files, catalog } => validate_command(&files, catalog.as_deref()),
        Command::List { what, catalog } => list_command(what, catalog.as_deref()),
        Command::Explain { file, catalog } => {
            let catalog = Catalog::load(catalog.as_deref())?;
            let exp = experiment::load_with(&file, &catalog)?;
            print_stdout(&views::explain::render(&exp));
            Ok(())
        }
        Command::Curve {
            file,
            gpu,
            model,
            quant,
            tp,
            class,
            instance,
            gpu_memory_utilization,
            catalog,
        } => curve_command(CurveArgs {
            file,
            gpu,
            model,
            quant,
            tp,
            class,
            instance,
            gpu_memory_utilization,
            catalog,
        }),
    }
}

/// Parses the process arguments, runs the command, prints any error and returns the exit code.
pub fn main() -> ExitCode {
    // clap prints usage errors itself and exits with code 2.
    let cli = Cli::parse();
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            match &failure {
                Failure::Config(errors) => {
                    for e in errors {
                        eprintln!("error: {e}");
                    }
                }
                Failure::Run(e) => eprintln!("error: {e}"),
            }
            ExitCode::from(failure.exit_code())
        }
    }
}
