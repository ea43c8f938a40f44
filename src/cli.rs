//! The command line: `capsim run` and `capsim validate`.
//!
//! Exit codes: 0 success, 1 a run or its output failed, 2 a usage or configuration error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use clap::{Parser, Subcommand};

use crate::domain::deployment::Deployment;
use crate::error::{ConfigError, RunError};
use crate::experiment::catalog::Catalog;
use crate::report::ResultsDir;
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
    Run(RunArgs),
    /// Redraw the charts and report.md of a results folder from its summary.json.
    Chart {
        /// The results folder.
        dir: PathBuf,
        /// Chart files: `png`, `svg` or `png,svg` [default: png].
        #[arg(long, value_name = "png,svg", default_value = "png", value_parser = report::charts::Formats::parse)]
        format: report::charts::Formats,
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
    /// Find the highest arrival rate at which an experiment meets its [slo]: bracketing and
    /// bisection on the simulator, the same random numbers at every load, one search per
    /// replication for an interval.
    Capacity {
        /// The experiment file (TOML), with an [slo] and an open-loop workload.
        file: PathBuf,
        /// Master seed; overrides the file's `seed`.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Independent searches (seeds), for a confidence interval [default: the file's
        /// replications, else 5].
        #[arg(long, value_name = "N")]
        replications: Option<u32>,
        /// Stop bisecting when the bracket is narrower than this share of the rate.
        #[arg(long, value_name = "SHARE", default_value_t = 0.005)]
        tolerance: f64,
        /// A catalog folder merged over the built-in one (same layout as models/).
        #[arg(long, value_name = "DIR")]
        catalog: Option<PathBuf>,
    },
    /// Find the cheapest configurations of a plan file's [search] that meet its [slo]: prune
    /// by memory and capacity, search replicas per candidate, confirm the cheapest with
    /// replications; write plan.csv (every candidate and why it was dropped), the Pareto chart
    /// and winner.toml.
    Plan(PlanArgs),
    /// Check experiment files without running them.
    Validate {
        /// Experiment files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// A catalog folder merged over the built-in one (same layout as models/).
        #[arg(long, value_name = "DIR")]
        catalog: Option<PathBuf>,
    },
    /// Fit an engine class's coefficients to a load test and write the fitted class file.
    Calibrate(CalibrateArgs),
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

/// `capsim calibrate`'s arguments.
#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// Load-test results: `vllm bench serve` or SGLang bench_serving JSON, or a per-request CSV.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// GPU id of the tested deployment.
    #[arg(long)]
    pub gpu: String,
    /// Model id.
    #[arg(long)]
    pub model: String,
    /// Quantization id.
    #[arg(long, default_value = "fp16")]
    pub quant: String,
    /// Tensor parallelism.
    #[arg(long, default_value_t = 1)]
    pub tp: u32,
    /// The engine class to start from (its other figures are kept).
    #[arg(long)]
    pub class: String,
    /// Where to write the fitted class file.
    #[arg(long, value_name = "FILE", conflicts_with = "name")]
    pub out: Option<PathBuf>,
    /// A catalog folder: with --name, the class is written to DIR/engines/NAME.toml.
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// Id of the fitted class (default: the --out file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// The request rate of the level held back to check the fit (default: the middle level).
    #[arg(long, value_name = "RATE")]
    pub hold_out: Option<f64>,
    /// Coefficients kept at the base class's values: mbu, mfu, per-step-us, per-seq-us, per-request-ms.
    #[arg(long, value_delimiter = ',')]
    pub fix: Vec<String>,
    /// An engine option of the tested server, as key=value (e.g. max-num-seqs=4096).
    #[arg(long = "engine-option", value_name = "KEY=VALUE")]
    pub engine_option: Vec<String>,
    /// Most Nelder-Mead iterations.
    #[arg(long, default_value_t = 300)]
    pub max_iters: u64,
}

/// `capsim plan`'s arguments.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The plan file: an experiment file with an [slo] and a [search].
    pub file: PathBuf,
    /// Folder for plan.csv, simulations.csv, plan.json, pareto.png, winner.toml and
    /// runner-up.toml [default: results/<file stem>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Master seed; overrides the file's `seed`.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Threads [default: one per core]. The plan is the same whatever the number.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// A catalog folder merged over the built-in one (same layout as models/).
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
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

/// `--shard`: a part given on the command line, or `auto` from a job array's environment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ShardArg {
    /// Shard K of N.
    Fixed(usize, usize),
    /// Read K and N from the environment when the run starts (see [`shard_from_env`]).
    Auto,
}

/// Why a command failed; decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Bad input files or arguments (exit 2).
    Config(Vec<ConfigError>),
    /// The run or its output failed (exit 1).
    Run(RunError),
    /// Ctrl-C stopped a run; what was saved and how to resume is already printed (exit 130,
    /// what a shell reports for a process ended by SIGINT).
    Interrupted,
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Config(_) => 2,
            Failure::Run(_) => 1,
            Failure::Interrupted => 130,
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Config(vec![e])
    }
}

impl From<report::results_dir::CopyError> for Failure {
    fn from(e: report::results_dir::CopyError) -> Self {
        match e {
            report::results_dir::CopyError::Source(c) => c.into(),
            report::results_dir::CopyError::Target(r) => r.into(),
        }
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

/// The default results folder: `results/<file stem>/`.
fn default_out_dir(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map_or_else(|| "experiment".into(), |s| s.to_string_lossy().into_owned());
    Path::new("results").join(stem)
}

/// `K/N` with 1 ≤ K ≤ N, or `auto`.
fn parse_shard(s: &str) -> Result<ShardArg, String> {
    if s.trim() == "auto" {
        return Ok(ShardArg::Auto);
    }
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
    Ok(ShardArg::Fixed(k, n))
}

/// `--shard auto`: K/N from the environment `var` reads. A Slurm job array gives its task id,
/// lowest id, step and task count (`#SBATCH --array=1-16` or `0-15` both work); a Kubernetes
/// Indexed Job gives `JOB_COMPLETION_INDEX` (from 0) but not the number of completions, so
/// that comes from `CAPSIM_SHARD_COUNT`.
pub fn shard_from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<(usize, usize), Failure> {
    let bad = |m: String, hint: &str| arg_error("--shard", m, hint.to_string());
    let num = |name: &str| -> Result<Option<usize>, Failure> {
        match var(name) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                bad(
                    format!("--shard auto: {name} is \"{v}\", not a whole number"),
                    "give the shard as K/N instead, e.g. --shard 2/8",
                )
            }),
        }
    };
    let need = |name: &str, hint: &str| -> Result<usize, Failure> {
        num(name)?.ok_or_else(|| bad(format!("--shard auto: {name} is not set"), hint))
    };
    if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
        let slurm =
            "Slurm sets it in every task of a job array (sbatch --array); or give --shard K/N";
        let count = need("SLURM_ARRAY_TASK_COUNT", slurm)?;
        let min = need("SLURM_ARRAY_TASK_MIN", slurm)?;
        let step = num("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        if id < min || (id - min) % step != 0 || (id - min) / step >= count {
            return Err(bad(
                format!(
                    "--shard auto: SLURM_ARRAY_TASK_ID {id} is not one of {count} evenly spaced tasks from {min} by {step}"
                ),
                "for an array whose ids are not evenly spaced (e.g. --array=1,4,9), give --shard K/N",
            ));
        }
        return Ok(((id - min) / step + 1, count));
    }
    if let Some(index) = num("JOB_COMPLETION_INDEX")? {
        let n = need(
            "CAPSIM_SHARD_COUNT",
            "Kubernetes does not put an Indexed Job's completion count in the environment: set CAPSIM_SHARD_COUNT in the pod template to the Job's `completions`",
        )?;
        if index >= n {
            return Err(bad(
                format!(
                    "--shard auto: JOB_COMPLETION_INDEX {index} is not below CAPSIM_SHARD_COUNT {n}"
                ),
                "set CAPSIM_SHARD_COUNT to the Job's `completions`",
            ));
        }
        return Ok((index + 1, n));
    }
    Err(bad(
        "--shard auto: found neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) in the environment".into(),
        "run it as a task of a job array, or give the shard as K/N, e.g. --shard 2/8",
    ))
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
        summary.aggregates = report::aggregate(&summary.runs, summary.slo.as_ref());
    }
    Ok(summary)
}

/// Draws the charts of a sweep and writes report.md next to them.
fn write_charts(
    dir: &ResultsDir,
    summary: &report::Summary,
    formats: report::charts::Formats,
) -> Result<Vec<report::charts::Chart>, RunError> {
    let charts = report::charts::render_as(summary, dir.path(), formats)?;
    dir.write_report_md(&report::report_md(summary, &charts))?;
    Ok(charts)
}

/// Whether `a` and `b` name the same folder (when both exist, whatever the spelling).
fn same_folder(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn merge_command(dirs: &[PathBuf], out: &Path) -> Result<(), Failure> {
    // The merged folder is cleared before it is written, so it must not be a shard's.
    if let Some(d) = dirs.iter().find(|d| same_folder(d, out)) {
        return Err(arg_error(
            "--out",
            format!(
                "--out {} is one of the shard folders being merged; writing there would remove that shard's results",
                d.display()
            ),
            "give a new folder for the merged results, e.g. --out results/merged".into(),
        ));
    }
    let mut shards = Vec::new();
    for d in dirs {
        shards.push(read_summary(&d.join("summary.json"))?);
    }
    let merged = report::merge(shards).map_err(|m| {
        Failure::from(
            ConfigError::new(&dirs[0], m).with_hint(
                "give every shard of one sweep, each once, all run from the same file, catalog and seed",
            ),
        )
    })?;
    out_is_a_folder(out)?;
    let (dir, _) = ResultsDir::create(out)?;
    dir.write_summary(&merged)?;
    write_charts(&dir, &merged, report::charts::Formats::default())?;
    for d in dirs {
        dir.copy_run_files(d)?;
    }
    Ok(())
}

/// `capsim run`'s flags.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The experiment file (TOML).
    pub(crate) file: PathBuf,
    /// Folder for the results [default: results/FILE_STEM/].
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Master seed; overrides the file's `seed`.
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Also write DIR/timeseries/RUN.csv (LLM endpoints; windows of timeseries-interval).
    #[arg(long)]
    pub(crate) timeseries: bool,
    /// Also write DIR/requests/RUN.csv, one row per request (LLM endpoints, and plain servers
    /// whose clients do more than wait).
    #[arg(long)]
    pub(crate) requests: bool,
    /// Threads for running a sweep's runs in parallel [default: one per core]. Outputs are
    /// the same whatever the number.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) threads: Option<u32>,
    /// Chart files: `png`, `svg` or `png,svg` (an SVG beside each PNG) [default: png].
    #[arg(long, value_name = "png,svg", default_value = "png", value_parser = report::charts::Formats::parse)]
    pub(crate) format: report::charts::Formats,
    /// Run only shard K of N (runs whose index is K−1 modulo N), for a job array; put the
    /// shards together with `capsim merge`. `auto` takes K and N from a Slurm job array
    /// (SLURM_ARRAY_TASK_ID, _MIN, _COUNT) or a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX, with CAPSIM_SHARD_COUNT).
    #[arg(long, value_name = "K/N|auto", value_parser = parse_shard)]
    pub(crate) shard: Option<ShardArg>,
    /// A catalog folder merged over the built-in one (same layout as models/).
    #[arg(long, value_name = "DIR")]
    pub(crate) catalog: Option<PathBuf>,
    /// Continue an interrupted run from DIR/partial.jsonl: the finished runs are kept, the
    /// others run, and the files are those an uninterrupted run writes. Give the same
    /// file, seed, shard and flags.
    #[arg(long)]
    pub(crate) resume: bool,
}

/// `arg` as one shell word: as it is when that is safe, else in single quotes.
fn shell_word(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The command that continues an interrupted run: the same flags, the results folder spelled
/// out, the shard resolved, and `--resume`.
fn resume_command(a: &RunArgs, dir: &Path, shard: Option<(usize, usize)>) -> String {
    let mut w: Vec<String> = vec!["capsim".into(), "run".into()];
    w.push(shell_word(&a.file.to_string_lossy()));
    w.push("--out".into());
    w.push(shell_word(&dir.to_string_lossy()));
    if let Some(s) = a.seed {
        w.push(format!("--seed {s}"));
    }
    if let Some((k, n)) = shard {
        w.push(format!("--shard {k}/{n}"));
    }
    if let Some(c) = &a.catalog {
        w.push(format!("--catalog {}", shell_word(&c.to_string_lossy())));
    }
    if a.format != report::charts::Formats::default() {
        let f = match (a.format.png, a.format.svg) {
            (true, true) => "png,svg",
            (false, _) => "svg",
            _ => "png",
        };
        w.push(format!("--format {f}"));
    }
    if let Some(t) = a.threads {
        w.push(format!("--threads {t}"));
    }
    for (flag, on) in [
        ("--timeseries", a.timeseries),
        ("--requests", a.requests),
        ("--quiet", a.quiet),
    ] {
        if on {
            w.push(flag.into());
        }
    }
    w.push("--resume".into());
    w.join(" ")
}

/// Sets `flag` on the first Ctrl-C; a second one ends the process at once (exit 130), in
/// case a long run is what the user wants to stop.
fn on_interrupt(flag: &Arc<AtomicBool>) {
    use signal_hook::{consts::SIGINT, flag as sig};
    // The order matters: the exit checks the flag before the first signal sets it.
    let r = sig::register_conditional_shutdown(SIGINT, 130, Arc::clone(flag))
        .and_then(|_| sig::register(SIGINT, Arc::clone(flag)));
    if let Err(e) = r {
        eprintln!("warning: Ctrl-C will end the run at once, without saving it: {e}");
    }
}

/// The master seed: `--seed`, else the file's; a usage error without either.
fn seed_of(file: &Path, flag: Option<u64>, exp: &experiment::Experiment) -> Result<u64, Failure> {
    flag.or(exp.seed).ok_or_else(|| {
        Failure::from(
            ConfigError::new(file, "no seed: the file sets no `seed` and none was given with --seed")
                .with_hint("add `seed = 1` at the top of the file, or pass --seed 1; every output records the seed"),
        )
    })
}

/// `capsim capacity`: checks that the experiment can be searched, runs the searches and prints
/// the capacity with its interval.
fn capacity_command(
    file: &Path,
    seed: Option<u64>,
    replications: Option<u32>,
    tolerance: f64,
    catalog: Option<&Path>,
) -> Result<(), Failure> {
    let catalog = Catalog::load(catalog)?;
    let exp = experiment::load_with(file, &catalog)?;
    print_warnings(&exp);
    let refuse = |m: &str, hint: &str| Failure::from(ConfigError::new(file, m).with_hint(hint));
    let seed = seed_of(file, seed, &exp)?;
    let Some(spec) = runner::slo_spec(&exp.scenario) else {
        return Err(refuse(
            "the file has no [slo]: capacity is the highest load that meets one",
            "add e.g. [slo] with failed-rate = \"1%\"",
        ));
    };
    if !matches!(exp.scenario.load, crate::domain::Load::Open(_)) {
        return Err(refuse(
            "capacity scales an open-loop arrival rate; this workload is a closed loop of users",
            "give `workload.arrival` instead of `workload.users`, or sweep `workload.users.count` with `capsim run`",
        ));
    }
    if exp.configs.len() > 1 {
        return Err(refuse(
            "capacity searches one configuration; this file has a [sweep]",
            "remove the [sweep] (replications may stay: they set the number of searches)",
        ));
    }
    if !(tolerance > 0.0 && tolerance < 1.0) {
        return Err(Failure::from(
            ConfigError::new(
                file,
                format!("--tolerance must be between 0 and 1, found {tolerance}"),
            )
            .with_hint("0.005 stops when the bracket is within 0.5 % of the rate"),
        ));
    }
    let reps = replications.unwrap_or(if exp.replications > 1 {
        exp.replications
    } else {
        5
    });
    let found = runner::capacity_at_slo(&exp, seed, reps, tolerance)?;
    print_stdout(&views::capacity::render(&exp.name, seed, &spec, &found));
    Ok(())
}

impl From<runner::plan::PlanFailure> for Failure {
    fn from(e: runner::plan::PlanFailure) -> Self {
        match e {
            runner::plan::PlanFailure::Config(e) => e.into(),
            runner::plan::PlanFailure::Run(e) => e.into(),
        }
    }
}

/// Writes `bytes` to `path`, as a run failure when it cannot.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).map_err(|source| {
        Failure::Run(RunError::Write {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// `capsim plan`: searches the plan, writes its files and prints the ranked table.
fn plan_command(a: &PlanArgs) -> Result<(), Failure> {
    let catalog = Catalog::load(a.catalog.as_deref())?;
    let file = experiment::plan::load(&a.file)?;
    let seed = a.seed.or(file.seed).ok_or_else(|| {
        Failure::from(
            ConfigError::new(&a.file, "no seed: the file sets no `seed` and none was given with --seed")
                .with_hint("add `seed = 1` at the top of the file, or pass --seed 1; every output records the seed"),
        )
    })?;
    let dir = a.out.clone().unwrap_or_else(|| default_out_dir(&a.file));
    out_is_a_folder(&dir)?;
    std::fs::create_dir_all(&dir).map_err(|source| {
        Failure::Run(RunError::Write {
            path: dir.clone(),
            source,
        })
    })?;
    let started = Instant::now();
    let last = std::sync::Mutex::new(Instant::now());
    let quiet = a.quiet;
    // Wall-clock progress goes to stderr, at most every two seconds.
    let progress = move |p: &runner::plan::Progress| {
        let mut last = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if quiet || last.elapsed().as_secs_f64() < 2.0 {
            return;
        }
        *last = Instant::now();
        eprintln!(
            "plan: {} simulations, {} candidates open, cheapest so far {}",
            p.simulations,
            p.open,
            p.best_usd_per_hour
                .map_or_else(|| "none".into(), |c| format!("${c:.2}/h"))
        );
    };
    let opts = runner::plan::PlanOptions {
        threads: a.threads.map(|n| n as usize),
        progress: Some(&progress),
    };
    let found = runner::plan::plan(&file, &catalog, seed, &opts)?;
    let r = &found.report;
    write_file(&dir.join("plan.csv"), &report::plan::plan_csv(r)?)?;
    write_file(
        &dir.join("simulations.csv"),
        &report::plan::simulations_csv(r)?,
    )?;
    write_file(&dir.join("plan.json"), &report::plan::plan_json(r)?)?;
    report::plan::pareto_chart(&dir.join("pareto.png"), r, found.slo_failed_rate)?;
    let ready = |cand: &experiment::plan::Candidate,
                 name: &str,
                 seeds: u32,
                 what: &str|
     -> Result<String, Failure> {
        let mut text = file
            .experiment_text(
                cand,
                name,
                seed,
                &dir,
                &format!(
                    "{what}\nWritten by `capsim plan {}` (seed {seed}); `capsim run` on this file reproduces it.",
                    a.file.display()
                ),
            )
            .map_err(|m| Failure::Run(RunError::Encode { format: "TOML", message: m }))?;
        if seeds > 1 {
            text += &format!("\n[sweep]\nreplications = {seeds}\n");
        }
        Ok(text)
    };
    for (name, picked, what) in [
        (
            "winner.toml",
            &found.winner,
            "The cheapest configuration the plan found to meet its SLO.",
        ),
        (
            "runner-up.toml",
            &found.runner_up,
            "The runner-up the plan dropped for missing the SLO: the costliest configuration simulated\nbelow the winner's cost that missed it (else the cheapest that missed it).",
        ),
    ] {
        let path = dir.join(name);
        match picked {
            Some((cand, seeds)) => {
                let title = format!("{}: {}", file.name, name.trim_end_matches(".toml"));
                write_file(&path, ready(cand, &title, *seeds, what)?.as_bytes())?;
            }
            None if path.exists() => {
                // A stale file from an earlier plan would be read as this plan's answer.
                std::fs::remove_file(&path).map_err(|source| {
                    Failure::Run(RunError::Write {
                        path: path.clone(),
                        source,
                    })
                })?;
            }
            None => {}
        }
    }
    if !a.quiet {
        print_stdout(&report::plan::plan_table(r));
        eprintln!(
            "\nwrote {} (plan.csv, simulations.csv, plan.json, pareto.png{}) in {:.1} s",
            dir.display(),
            if found.winner.is_some() {
                ", winner.toml"
            } else {
                ""
            },
            started.elapsed().as_secs_f64()
        );
    }
    if !r.complete {
        return Err(Failure::Run(RunError::Unfinished {
            message: format!(
                "the search stopped at max-simulations = {} before it was decided; raise it in [search] or narrow the search",
                file.spec.max_simulations
            ),
        }));
    }
    Ok(())
}

fn run_command(a: RunArgs) -> Result<(), Failure> {
    let catalog = Catalog::load(a.catalog.as_deref())?;
    let exp = experiment::load_with(&a.file, &catalog)?;
    print_warnings(&exp);
    let seed = seed_of(&a.file, a.seed, &exp)?;
    let shard = match a.shard {
        None => None,
        Some(ShardArg::Fixed(k, n)) => Some((k, n)),
        Some(ShardArg::Auto) => Some(shard_from_env(&|name| std::env::var(name).ok())?),
    };
    let started = Instant::now();
    let observe = observable(&exp, a.timeseries, a.requests, a.quiet);
    let dir_path = a.out.clone().unwrap_or_else(|| default_out_dir(&a.file));
    out_is_a_folder(&dir_path)?;
    let plans = runner::shard_plan(&exp, seed, shard);
    let header = report::PartialHeader::new(
        &exp.name,
        &experiment::fingerprint(&exp),
        seed,
        shard,
        a.timeseries,
        a.requests,
    );
    let (dir, finished, finished_runs) = if a.resume {
        let (dir, resumed) = ResultsDir::resume(&dir_path)?;
        let refuse = |m: String| {
            Failure::from(
                ConfigError::new(&dir.partial_path(), format!("cannot resume: {m}")).with_hint(
                    "resume with the same file, catalog, seed, shard and flags; or run without --resume to start afresh",
                ),
            )
        };
        let changed = resumed.header.differences(&header);
        if !changed.is_empty() {
            return Err(refuse(changed.join("; ")));
        }
        runner::check_finished(&plans, &resumed.rows).map_err(refuse)?;
        (dir, resumed.rows, resumed.runs)
    } else {
        let (mut dir, removed) = ResultsDir::create(&dir_path)?;
        if removed > 0 && !a.quiet {
            eprintln!(
                "removed {removed} files of an earlier run from {}",
                dir_path.display()
            );
        }
        dir.start_partial(&header)?;
        (dir, Vec::new(), 0)
    };
    let total = plans.len();
    // indicatif draws only on a terminal, so logs and CI output stay clean.
    let bar = if a.quiet || total < 2 {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {elapsed} (eta {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(finished_runs as u64);
    let first = plans.first().map(|p| p.index);
    let interval_s = exp.scenario.timeseries_interval.as_secs_f64();
    // Each run's files are written as it finishes, then the run is saved to partial.jsonl:
    // memory holds only the runs under way, and a saved run always has its files.
    let on_run = |r: &runner::RunResult| -> Result<(), RunError> {
        let i = r.index();
        if observe.timeseries {
            dir.write_timeseries(
                i,
                &report::timeseries_csv(&runner::outcome_names(), &r.timeseries)?,
            )?;
            // The first run's series as a chart.
            if Some(i) == first {
                report::charts::timeseries_chart(
                    &dir.timeseries_chart_path(),
                    &format!("{}: run {i} over time", exp.name),
                    &r.timeseries,
                    interval_s,
                    a.format,
                )?;
            }
        }
        if observe.requests {
            dir.write_requests(i, &report::requests_csv(&r.requests, &r.class_names)?)?;
        }
        dir.record_run(&r.rows)?;
        bar.inc(1);
        Ok(())
    };
    let cancel = Arc::new(AtomicBool::new(false));
    on_interrupt(&cancel);
    let opts = runner::RunOptions {
        threads: a.threads.map(|n| n as usize),
        shard,
        observe,
        finished,
        on_run: Some(&on_run),
        cancel: Some(&cancel),
    };
    let result = runner::run(&exp, seed, opts);
    bar.finish_and_clear();
    let summary = match result {
        Ok(s) => s,
        Err(RunError::Interrupted { finished, total }) => {
            eprintln!(
                "\ninterrupted: {finished} of {total} runs finished and are saved in {}\nresume with: {}",
                dir.partial_path().display(),
                resume_command(&a, &dir_path, shard)
            );
            return Err(Failure::Interrupted);
        }
        Err(e) => return Err(e.into()),
    };
    let elapsed = started.elapsed();
    let (json_path, csv_path) = dir.write_summary(&summary)?;
    if shard.is_none() {
        write_charts(&dir, &summary, a.format)?;
    }
    dir.finish()?;

    if !a.quiet {
        print_stdout(&report::table::render(&summary));
        for w in report::table::warnings(&summary) {
            eprintln!("warning: {w}");
        }
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
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if experiment::plan::is_plan(&text) {
            match experiment::plan::load(file).and_then(|p| {
                let counts = runner::plan::check(&p, &catalog)?;
                Ok((p, counts))
            }) {
                Ok((p, (valid, total))) => print_stdout(&format!(
                    "ok: {} (plan \"{}\", {valid} of {total} candidates valid, {})\n",
                    file.display(),
                    p.name,
                    p.seed
                        .map_or("no seed (pass --seed when planning)".to_string(), |s| {
                            format!("seed {s}")
                        })
                )),
                Err(e) => errors.push(e),
            }
            continue;
        }
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

/// What `--timeseries` and `--requests` can keep for this experiment: an LLM endpoint keeps
/// both; plain servers keep no time series, and per-request records only when their clients do
/// more than wait (retries, a breaker, classes...). A flag nothing can honour is said to be so
/// on stderr and dropped, instead of writing empty CSVs.
fn observable(
    exp: &experiment::Experiment,
    timeseries: bool,
    requests: bool,
    quiet: bool,
) -> runner::Observe {
    use crate::domain::Service;
    let llm = exp
        .configs
        .iter()
        .any(|c| matches!(c.scenario.service, Service::Llm(_)));
    let records = llm
        || exp
            .configs
            .iter()
            .any(|c| crate::domain::run::uses_client_policies(&c.scenario.policies));
    let say = |flag: &str, why: &str| {
        if !quiet {
            eprintln!("note: {flag}: {why}; nothing is written for it");
        }
    };
    if timeseries && !llm {
        say(
            "--timeseries",
            "a plain-server endpoint (`servers`) keeps no time series (LLM endpoints do)",
        );
    }
    if requests && !records {
        say(
            "--requests",
            "a plain-server endpoint whose clients only wait keeps no per-request records (add a client policy such as retries, or use an LLM endpoint)",
        );
    }
    runner::Observe {
        timeseries: timeseries && llm,
        requests: requests && records,
    }
}

/// `--out` must name a folder (or nothing yet): a file there is a usage error, said before any
/// run starts.
fn out_is_a_folder(path: &Path) -> Result<(), Failure> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_dir() => Err(arg_error(
            "--out",
            format!("`{}` is a file, not a folder", path.display()),
            "--out names the folder capsim writes summary.json, summary.csv and the charts into"
                .into(),
        )),
        _ => Ok(()),
    }
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

fn calibrate_command(a: CalibrateArgs) -> Result<(), Failure> {
    use crate::calibrate;
    // The folder the fitted class goes to may not exist yet: then only the built-in catalog
    // describes the deployment.
    let catalog = Catalog::load(a.catalog.as_deref().filter(|d| d.exists()))?;
    let (out, name) = match (&a.out, &a.catalog, &a.name) {
        (Some(o), _, n) => (
            o.clone(),
            n.clone().unwrap_or_else(|| {
                o.file_stem()
                    .map_or("calibrated".into(), |s| s.to_string_lossy().into_owned())
            }),
        ),
        (None, Some(dir), Some(n)) => (dir.join("engines").join(format!("{n}.toml")), n.clone()),
        _ => {
            return Err(arg_error(
                "--out",
                "say where the fitted class goes".into(),
                "give --out NEW.toml, or --catalog DIR --name NAME".into(),
            ));
        }
    };
    let mut fix = Vec::new();
    for f in &a.fix {
        fix.push(calibrate::fit::Coef::from_name(f.trim()).ok_or_else(|| {
            let names: Vec<&str> = calibrate::fit::Coef::ALL.iter().map(|c| c.name()).collect();
            arg_error(
                "--fix",
                format!("unknown coefficient \"{f}\""),
                format!("expected one of {}", names.join(", ")),
            )
        })?);
    }
    let mut options = toml::Table::new();
    for o in &a.engine_option {
        let Some((k, v)) = o.split_once('=') else {
            return Err(arg_error(
                "--engine-option",
                format!("expected KEY=VALUE, found \"{o}\""),
                "e.g. --engine-option max-num-seqs=4096".into(),
            ));
        };
        let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
            .ok()
            .and_then(|t| t.get("v").cloned())
            .unwrap_or_else(|| v.to_string().into());
        options.insert(k.trim().to_string(), value);
    }
    let req = calibrate::Request {
        files: a.files,
        deployment: calibrate::Deployment {
            gpu: a.gpu,
            model: a.model,
            quant: a.quant,
            tp: a.tp,
            family: String::new(),
            options,
        },
        base_class: a.class,
        name,
        hold_out: a.hold_out,
        fix,
        catalog_dir: a.catalog,
        max_iters: a.max_iters,
    };
    let fitted = calibrate::calibrate(&req, &catalog).map_err(|e| match e {
        calibrate::Error::Config(c) => Failure::Config(vec![c]),
        calibrate::Error::Run(r) => Failure::Run(r),
    })?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| RunError::Write {
            path: parent.to_path_buf(),
            source: e,
        })?;
    }
    std::fs::write(&out, &fitted.class_text).map_err(|e| RunError::Write {
        path: out.clone(),
        source: e,
    })?;
    print_stdout(&calibrate::render(&fitted));
    print_stdout(&format!("wrote {}\n", out.display()));
    Ok(())
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
        Command::Run(args) => run_command(args),
        Command::Merge { dirs, out } => merge_command(&dirs, &out),
        Command::Chart { dir, format } => {
            let path = dir.join("summary.json");
            let summary = read_summary(&path)?;
            let charts = write_charts(&ResultsDir::existing(&dir), &summary, format)?;
            for c in charts {
                println!("{}", dir.join(c.file).display());
            }
            Ok(())
        }
        Command::Validate { files, catalog } => validate_command(&files, catalog.as_deref()),
        Command::List { what, catalog } => list_command(what, catalog.as_deref()),
        Command::Capacity {
            file,
            seed,
            replications,
            tolerance,
            catalog,
        } => capacity_command(&file, seed, replications, tolerance, catalog.as_deref()),
        Command::Calibrate(a) => calibrate_command(a),
        Command::Plan(a) => plan_command(&a),
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
                Failure::Interrupted => {}
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_slurm_array_with_a_step_maps_its_ids_to_consecutive_shards() {
        // --array=1-7:2: ids 1, 3, 5, 7.
        let vars = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(shard_from_env(&env(&vars)).ok(), Some((3, 4)));
        // An id off the step (an array such as --array=1,4,9) is refused, not misplaced.
        let vars = [
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ];
        let Err(Failure::Config(e)) = shard_from_env(&env(&vars)) else {
            panic!("accepted")
        };
        assert!(
            e[0].message.contains("not one of 3 evenly spaced tasks"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn the_resume_command_quotes_paths_that_need_it() {
        let a = RunArgs {
            file: PathBuf::from("my study.toml"),
            out: None,
            seed: Some(4),
            quiet: false,
            timeseries: false,
            requests: true,
            threads: None,
            format: report::charts::Formats::default(),
            shard: Some(ShardArg::Auto),
            catalog: None,
            resume: false,
        };
        assert_eq!(
            resume_command(&a, Path::new("results/it's"), Some((2, 8))),
            r"capsim run 'my study.toml' --out 'results/it'\''s' --seed 4 --shard 2/8 --requests --resume"
        );
    }
}
