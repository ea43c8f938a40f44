//! `capsim calibrate`: fits an engine class's coefficients (bandwidth and compute efficiency,
//! host time per step and per sequence, API-server time) to a load test of one deployment, by
//! replaying the test's workload in simulation and minimising the error, and writes the fitted
//! class as an engine-class file an experiment can name.
//!
//! It sits between the runner and the CLI: it builds experiments and runs them.

pub mod data;
pub mod fit;
pub mod read;
pub mod replay;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{ConfigError, RunError};
use crate::experiment::catalog::Catalog;
use data::{Level, LoadTest};
use fit::{Coef, Problem};
pub use replay::Deployment;
use replay::ReplayError;

/// What to calibrate and where the result goes.
#[derive(Clone, Debug)]
pub struct Request {
    /// Load-test files (their levels are put together).
    pub files: Vec<PathBuf>,
    /// The deployment tested (its `family` and `options` are filled from the base class).
    pub deployment: Deployment,
    /// The engine class the fit starts from and whose other figures it keeps.
    pub base_class: String,
    /// Id of the written class.
    pub name: String,
    /// The request rate of the level held back to check the fit; `None` holds back the middle
    /// level of three or more.
    pub hold_out: Option<f64>,
    /// Coefficients kept at the base class's values.
    pub fix: Vec<Coef>,
    /// The user's catalog folder, where the base class may be.
    pub catalog_dir: Option<PathBuf>,
    /// Nelder-Mead iterations at most.
    pub max_iters: u64,
}

/// Why calibrating failed.
#[derive(Debug)]
pub enum Error {
    /// Bad input, or data that cannot identify a coefficient (exit 2).
    Config(ConfigError),
    /// A replay failed (exit 1).
    Run(RunError),
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

impl From<ReplayError> for Error {
    fn from(e: ReplayError) -> Self {
        match e {
            ReplayError::Config(c) => Error::Config(c),
            ReplayError::Run(r) => Error::Run(r),
        }
    }
}

/// The result: the class file's text and a report of the fit.
#[derive(Clone, Debug)]
pub struct Fitted {
    /// The engine-class file (TOML).
    pub class_text: String,
    /// The fitted coefficients, in [`Coef::ALL`] order.
    pub values: Vec<(Coef, f64)>,
    /// Per level: rate, whether it was fitted, and (measurement, observed, simulated).
    pub levels: Vec<LevelError>,
}

/// How well one level is reproduced.
#[derive(Clone, Debug)]
pub struct LevelError {
    /// Request rate, per second.
    pub rate: f64,
    /// In the fit set (true) or held back (false).
    pub fitted: bool,
    /// (measurement, observed, simulated) in seconds.
    pub errors: Vec<(&'static str, f64, Option<f64>)>,
}

impl LevelError {
    /// Relative error of the simulated mean end-to-end latency.
    pub fn e2e_error(&self) -> Option<f64> {
        let (_, o, s) = self.errors[0];
        s.map(|s| s / o - 1.0)
    }
}

/// The text of the base class's file: from the catalog folder when it has it, else built in.
fn base_class_text(req: &Request) -> Result<(PathBuf, String), ConfigError> {
    let rel = format!("engines/{}.toml", req.base_class);
    if let Some(dir) = &req.catalog_dir {
        let p = dir.join(&rel);
        if let Ok(t) = std::fs::read_to_string(&p) {
            return Ok((p, t));
        }
    }
    Catalog::files()
        .iter()
        .find(|(r, _)| *r == rel)
        .map(|(_, t)| (Path::new("models").join(&rel), t.to_string()))
        .ok_or_else(|| {
            ConfigError::new(
                Path::new("command line"),
                format!("no engine class file {rel} in the catalog"),
            )
            .at_key("--class")
            .with_hint("`capsim list engines` shows the classes; the base class's file must be named after its id")
        })
}

fn fmt_rate(r: f64) -> String {
    format!("{r}/s")
}

/// Calibrates: reads the files, checks that the fit levels identify the free coefficients,
/// fits them and measures the error on every level.
pub fn calibrate(req: &Request, catalog: &Catalog) -> Result<Fitted, Error> {
    let mut levels: Vec<(PathBuf, Level)> = Vec::new();
    for f in &req.files {
        let t: LoadTest = read::read(f)?;
        levels.extend(t.levels.into_iter().map(|l| (f.clone(), l)));
    }
    levels.sort_by(|a, b| a.1.rate.total_cmp(&b.1.rate));
    let (base_path, base_text) = base_class_text(req)?;
    let base: toml::Table = toml::from_str(&base_text)
        .map_err(|e| ConfigError::new(&base_path, format!("not a TOML table: {e}")))?;
    let mut d = req.deployment.clone();
    d.family = base
        .get("family")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let cli = Path::new("command line");
    let held = match req.hold_out {
        Some(r) => Some(
            levels
                .iter()
                .position(|(_, l)| (l.rate - r).abs() < 1e-9)
                .ok_or_else(|| {
                    let rates: Vec<String> = levels.iter().map(|(_, l)| fmt_rate(l.rate)).collect();
                    ConfigError::new(cli, format!("no load level at {}", fmt_rate(r)))
                        .at_key("--hold-out")
                        .with_hint(format!("the files have levels at {}", rates.join(", ")))
                })?,
        ),
        None => (levels.len() >= 3).then_some(levels.len() / 2),
    };
    let free: Vec<Coef> = Coef::ALL
        .into_iter()
        .filter(|c| !req.fix.contains(c))
        .collect();
    let mut problem = Problem {
        deployment: &d,
        base: &base,
        free: free.clone(),
        levels: levels
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != held)
            .map(|(_, (_, l))| l)
            .collect(),
        catalog,
        noise: Vec::new(),
    };
    if problem.levels.is_empty() {
        return Err(
            ConfigError::new(cli, "no load level is left to fit once one is held back")
                .at_key("--hold-out")
                .with_hint("give a load test with at least two levels")
                .into(),
        );
    }
    problem.noise = problem.chance(&base)?;
    let bad = problem.unidentified()?;
    if !bad.is_empty() {
        let rates: Vec<String> = problem.levels.iter().map(|l| fmt_rate(l.rate)).collect();
        let mut msg = format!(
            "the load levels fitted ({}) cannot identify ",
            rates.join(", ")
        );
        let mut hint = String::new();
        for (i, u) in bad.iter().enumerate() {
            if i > 0 {
                msg.push_str("; nor ");
            }
            let se = 100.0 / u.effect.max(1e-9);
            let se = if se > 1000.0 {
                "more than 1000".to_string()
            } else {
                format!("{se:.0}")
            };
            if u.partners.is_empty() {
                write!(
                    msg,
                    "`{}`: it moves the measurements too little to be pinned (standard error {se} %, at most {:.0} % is needed)",
                    u.coef.name(),
                    100.0 * fit::MAX_SE
                )
                .unwrap();
            } else {
                let p: Vec<String> = u
                    .partners
                    .iter()
                    .map(|c| format!("`{}`", c.name()))
                    .collect();
                write!(
                    msg,
                    "`{}` apart from {}: they trade off (standard error {se} %, at most {:.0} % is needed)",
                    u.coef.name(),
                    p.join(", "),
                    100.0 * fit::MAX_SE
                )
                .unwrap();
            }
            write!(hint, "\n  `{}` needs {}", u.coef.name(), u.coef.needs()).unwrap();
        }
        let fix: Vec<&str> = bad.iter().map(|u| u.coef.name()).collect();
        return Err(ConfigError::new(cli, msg)
            .with_hint(format!(
                "add such rows, or keep the base class's value with --fix {}{hint}",
                fix.join(",")
            ))
            .into());
    }
    let (mut class, cost) = fit::fit(problem, req.max_iters).map_err(|e| {
        Error::Run(RunError::Invariant {
            run: 0,
            message: format!("the fit failed: {e}"),
        })
    })?;
    let mut out = Vec::new();
    for (i, (_, l)) in levels.iter().enumerate() {
        let m = replay::replay(&d, &class, l, catalog)?;
        let sim = replay::simulated(l, &m);
        out.push(LevelError {
            rate: l.rate,
            fitted: Some(i) != held,
            errors: l
                .observed
                .named()
                .into_iter()
                .zip(sim)
                .map(|((n, o), s)| (n, o, s))
                .collect(),
        });
    }
    let pct = |e: Option<f64>| e.map_or("n/a".to_string(), |e| format!("{:+.1} %", 100.0 * e));
    let fit_e2e: Vec<String> = out
        .iter()
        .filter(|l| l.fitted)
        .map(|l| format!("{} {}", fmt_rate(l.rate), pct(l.e2e_error())))
        .collect();
    let held_e2e = out
        .iter()
        .find(|l| !l.fitted)
        .map(|l| format!("{} {}", fmt_rate(l.rate), pct(l.e2e_error())))
        .unwrap_or_else(|| "none held back".to_string());
    let files: Vec<String> = req.files.iter().map(|f| f.display().to_string()).collect();
    let fixed: Vec<&str> = req.fix.iter().map(|c| c.name()).collect();
    class.insert("id".into(), req.name.clone().into());
    class.insert("current".into(), false.into());
    class.insert(
        "description".into(),
        format!(
            "{} fitted to a load test on {} x{} {} by capsim calibrate",
            req.base_class, d.gpu, d.tp, d.model
        )
        .into(),
    );
    let sources = class
        .entry("sources")
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .expect("sources is a table");
    sources.insert(
        "calibrate".into(),
        format!(
            "FIT: capsim calibrate from {} (deployment {} x{} {} {}, base class {}{}); mean squared log error {:.2e}; mean e2e error on fit levels: {}; held back: {}",
            files.join(", "),
            d.gpu,
            d.tp,
            d.model,
            d.quant,
            req.base_class,
            if fixed.is_empty() { String::new() } else { format!(", fixed {}", fixed.join(", ")) },
            cost,
            fit_e2e.join(", "),
            held_e2e
        )
        .into(),
    );
    let values = Coef::ALL
        .into_iter()
        .map(|c| (c, c.get(&class).unwrap_or(f64::NAN)))
        .collect();
    let class_text = format!(
        "# Engine class {} written by capsim calibrate; see [sources] calibrate.\n{}",
        req.name,
        toml::to_string(&class).expect("a TOML table serialises")
    );
    Ok(Fitted {
        class_text,
        values,
        levels: out,
    })
}

/// A table of the fit for the terminal.
pub fn render(f: &Fitted) -> String {
    let mut s = String::from("fitted coefficients:\n");
    for (c, v) in &f.values {
        writeln!(s, "  {:<15} {v:.4}", c.name()).unwrap();
    }
    s.push_str("\nlevel     set    measurement  observed    simulated   error\n");
    for l in &f.levels {
        for (n, o, sim) in &l.errors {
            let (sv, e) = match sim {
                Some(x) => (
                    format!("{x:.4} s"),
                    format!("{:+.1} %", 100.0 * (x / o - 1.0)),
                ),
                None => ("n/a".to_string(), "n/a".to_string()),
            };
            writeln!(
                s,
                "{:<9} {:<6} {:<12} {:<11} {:<11} {e}",
                fmt_rate(l.rate),
                if l.fitted { "fit" } else { "check" },
                n,
                format!("{o:.4} s"),
                sv
            )
            .unwrap();
        }
    }
    s
}
