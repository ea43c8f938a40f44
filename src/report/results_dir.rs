//! The results folder: where `capsim run` and `capsim merge` put their files, laid out in one
//! place.
//!
//! ```text
//! DIR/summary.json, summary.csv, aggregate.csv (with replications)
//! DIR/report.md and the charts (*.png), timeseries.png (with --timeseries)
//! DIR/timeseries/<run>.csv, DIR/requests/<run>.csv
//! DIR/partial.jsonl  (while a run is under way, or after it was interrupted)
//! ```
//!
//! A run opens the folder before its first simulation. A fresh run first removes the files an
//! earlier run left there, so that nothing stale (say the time series of runs a smaller sweep
//! no longer has) sits beside new results. Each finished run is then appended to
//! `partial.jsonl` (after its own files are written), so an interrupted sweep keeps what it
//! has done and `--resume` picks up from it; the file goes once the summaries are written.
//!
//! It writes bytes the rest of `report` produced; it knows nothing of simulations.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::summary::{RunSummary, Summary};
use crate::error::{ConfigError, RunError};

/// The name of the file finished runs are saved to while a sweep is under way.
pub const PARTIAL: &str = "partial.jsonl";

/// Version of the `partial.jsonl` layout.
const PARTIAL_VERSION: u32 = 1;

/// The first line of `partial.jsonl`: what the saved runs belong to. `--resume` continues
/// only the same experiment (by hash), seed, shard, observation flags and capsim version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialHeader {
    /// Layout version of the file.
    pub partial: u32,
    /// capsim version that wrote it.
    pub capsim: String,
    /// Experiment name.
    pub experiment: String,
    /// Hash of the resolved experiment (see [`Summary::experiment_hash`]).
    pub experiment_hash: String,
    /// Master seed.
    pub seed: u64,
    /// `[k, n]` with `--shard K/N`.
    pub shard: Option<[usize; 2]>,
    /// Whether runs write `timeseries/<run>.csv`.
    pub timeseries: bool,
    /// Whether runs write `requests/<run>.csv`.
    pub requests: bool,
}

impl PartialHeader {
    /// The header of a run of `experiment` (its name and hash) with these settings, written by
    /// this capsim.
    pub fn new(
        experiment: &str,
        experiment_hash: &str,
        seed: u64,
        shard: Option<(usize, usize)>,
        timeseries: bool,
        requests: bool,
    ) -> Self {
        PartialHeader {
            partial: PARTIAL_VERSION,
            capsim: env!("CARGO_PKG_VERSION").to_string(),
            experiment: experiment.to_string(),
            experiment_hash: experiment_hash.to_string(),
            seed,
            shard: shard.map(|(k, n)| [k, n]),
            timeseries,
            requests,
        }
    }

    /// What differs between the saved header `self` and the one of the run that would resume
    /// it, in words; empty when they match.
    pub fn differences(&self, now: &PartialHeader) -> Vec<String> {
        let mut d = Vec::new();
        if self.partial != now.partial || self.capsim != now.capsim {
            d.push(format!(
                "it was written by capsim {}, this is capsim {}",
                self.capsim, now.capsim
            ));
        }
        if self.experiment_hash != now.experiment_hash || self.experiment != now.experiment {
            d.push(format!(
                "the experiment changed: \"{}\" ({}) then, \"{}\" ({}) now",
                self.experiment, self.experiment_hash, now.experiment, now.experiment_hash
            ));
        }
        if self.seed != now.seed {
            d.push(format!("seed {} then, {} now", self.seed, now.seed));
        }
        if self.shard != now.shard {
            let text = |s: Option<[usize; 2]>| {
                s.map_or("no shard".to_string(), |[k, n]| format!("shard {k}/{n}"))
            };
            d.push(format!(
                "{} then, {} now",
                text(self.shard),
                text(now.shard)
            ));
        }
        for (flag, then, now) in [
            ("--timeseries", self.timeseries, now.timeseries),
            ("--requests", self.requests, now.requests),
        ] {
            if then != now {
                let word = |b: bool| if b { "with" } else { "without" };
                d.push(format!(
                    "{} {flag} then, {} {flag} now",
                    word(then),
                    word(now)
                ));
            }
        }
        d
    }
}

/// One finished run in `partial.jsonl`: its rows (`all`, then its classes).
#[derive(Serialize, Deserialize)]
struct PartialRun {
    run: usize,
    rows: Vec<RunSummary>,
}

/// What an interrupted run left in `partial.jsonl`.
#[derive(Debug)]
pub struct Resumed {
    /// What the saved runs belong to.
    pub header: PartialHeader,
    /// The rows of every saved run, in the order they were saved.
    pub rows: Vec<RunSummary>,
    /// Runs saved.
    pub runs: usize,
}

/// Why [`ResultsDir::copy_run_files`] failed: reading the other folder (bad input, exit 2) or
/// writing this one (exit 1).
#[derive(Debug)]
pub enum CopyError {
    /// A file of the folder copied from could not be read.
    Source(ConfigError),
    /// A file could not be written here.
    Target(RunError),
}

/// A results folder being written (see the module documentation).
#[derive(Debug)]
pub struct ResultsDir {
    path: PathBuf,
    partial: Option<Mutex<std::fs::File>>,
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Write {
        path: path.to_path_buf(),
        source,
    }
}

impl ResultsDir {
    /// Creates the folder for a fresh run, removing the results an earlier run left in it.
    /// Returns the folder and how many files it removed.
    ///
    /// A folder counts as holding results when it has a `summary.json` or a `partial.jsonl`;
    /// then `summary.*`, `aggregate.csv`, `report.md`, `partial.jsonl`, the charts (`*.png`,
    /// `*.svg`) and the CSV files in `timeseries/` and `requests/` are removed. Other files are
    /// left alone, and so is a folder without results (it may be a user's own).
    pub fn create(path: &Path) -> Result<(Self, usize), RunError> {
        std::fs::create_dir_all(path).map_err(write_error(path))?;
        let removed = remove_earlier_results(path)?;
        Ok((
            ResultsDir {
                path: path.to_path_buf(),
                partial: None,
            },
            removed,
        ))
    }

    /// Opens a folder an earlier run wrote, to add to it (`capsim chart` redraws its charts);
    /// nothing is removed.
    pub fn existing(path: &Path) -> Self {
        ResultsDir {
            path: path.to_path_buf(),
            partial: None,
        }
    }

    /// Opens the folder of an interrupted run to continue it: reads `partial.jsonl` and
    /// appends to it from then on. Nothing else in the folder is touched.
    ///
    /// A last line cut short (the process was killed while writing it) is dropped; any other
    /// line that does not read is an error with its line number.
    pub fn resume(path: &Path) -> Result<(Self, Resumed), ConfigError> {
        let file = path.join(PARTIAL);
        let hint = "run without --resume to start afresh";
        let text = std::fs::read(&file).map_err(|e| {
            let what = if e.kind() == std::io::ErrorKind::NotFound {
                if path.join("summary.json").exists() {
                    "nothing to resume: the run in this folder finished (it has a summary.json and no partial.jsonl)".to_string()
                } else {
                    "nothing to resume: the folder has no partial.jsonl".to_string()
                }
            } else {
                format!("cannot read it: {e}")
            };
            ConfigError::new(&file, what).with_hint(hint)
        })?;
        // Only whole lines count: a line is saved with its newline in one write.
        let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut lines = text[..whole].lines();
        let bad = |line: usize, m: String| {
            ConfigError::new(&file, m)
                .at_line(line, None)
                .with_hint(hint)
        };
        let header: PartialHeader = match lines.next() {
            Some(Ok(l)) => serde_json::from_str(&l)
                .map_err(|e| bad(1, format!("not a capsim partial.jsonl header: {e}")))?,
            _ => {
                return Err(
                    ConfigError::new(&file, "nothing to resume: partial.jsonl is empty")
                        .with_hint(hint),
                );
            }
        };
        let mut rows = Vec::new();
        let mut runs = 0;
        for (i, line) in lines.enumerate() {
            let line = line.map_err(|e| bad(i + 2, format!("cannot read the line: {e}")))?;
            let run: PartialRun = serde_json::from_str(&line)
                .map_err(|e| bad(i + 2, format!("not a saved run: {e}")))?;
            if run.rows.first().is_none_or(|r| r.index != run.run) {
                return Err(bad(
                    i + 2,
                    format!("the rows of run {} are not its own", run.run),
                ));
            }
            rows.extend(run.rows);
            runs += 1;
        }
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .and_then(|f| {
                // Cut a torn last line off so that new lines start on a line of their own.
                f.set_len(whole as u64)?;
                Ok(f)
            })
            .map_err(|e| ConfigError::new(&file, format!("cannot append to it: {e}")))?;
        let mut f = f;
        f.flush()
            .and_then(|_| std::io::Seek::seek(&mut f, std::io::SeekFrom::End(0)))
            .map_err(|e| ConfigError::new(&file, format!("cannot append to it: {e}")))?;
        Ok((
            ResultsDir {
                path: path.to_path_buf(),
                partial: Some(Mutex::new(f)),
            },
            Resumed { header, rows, runs },
        ))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where finished runs are saved.
    pub fn partial_path(&self) -> PathBuf {
        self.path.join(PARTIAL)
    }

    /// Starts `partial.jsonl` with its header line.
    pub fn start_partial(&mut self, header: &PartialHeader) -> Result<(), RunError> {
        let path = self.partial_path();
        let mut f = std::fs::File::create(&path).map_err(write_error(&path))?;
        let line = serde_json::to_string(header).map_err(|e| RunError::Encode {
            format: "JSON",
            message: e.to_string(),
        })?;
        writeln!(f, "{line}").map_err(write_error(&path))?;
        self.partial = Some(Mutex::new(f));
        Ok(())
    }

    /// Saves one finished run's rows to `partial.jsonl` as one line, written at once so that
    /// an interruption leaves at most a torn last line. Call it after the run's own files
    /// are written: a saved run is a run whose files exist.
    pub fn record_run(&self, rows: &[RunSummary]) -> Result<(), RunError> {
        let Some(partial) = &self.partial else {
            return Ok(());
        };
        let Some(first) = rows.first() else {
            return Ok(());
        };
        let mut line = serde_json::to_string(&PartialRun {
            run: first.index,
            rows: rows.to_vec(),
        })
        .map_err(|e| RunError::Encode {
            format: "JSON",
            message: e.to_string(),
        })?;
        line.push('\n');
        let path = self.partial_path();
        // A poisoned lock only means another thread panicked mid-write; the file is still
        // usable, and a torn line is dropped on resume.
        let mut f = partial.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(line.as_bytes())
            .and_then(|_| f.flush())
            .map_err(write_error(&path))
    }

    /// Writes `bytes` to `relative` inside the folder, creating its sub-folder; returns the
    /// path written.
    pub fn write(&self, relative: &str, bytes: &[u8]) -> Result<PathBuf, RunError> {
        let path = self.path.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write_error(parent))?;
        }
        std::fs::write(&path, bytes).map_err(write_error(&path))?;
        Ok(path)
    }

    /// Writes `timeseries/<run>.csv`.
    pub fn write_timeseries(&self, run: usize, csv: &[u8]) -> Result<PathBuf, RunError> {
        self.write(&format!("timeseries/{run}.csv"), csv)
    }

    /// Writes `requests/<run>.csv`.
    pub fn write_requests(&self, run: usize, csv: &[u8]) -> Result<PathBuf, RunError> {
        self.write(&format!("requests/{run}.csv"), csv)
    }

    /// Where the chart of the first run's time series goes.
    pub fn timeseries_chart_path(&self) -> PathBuf {
        self.path.join("timeseries.png")
    }

    /// Writes `report.md`.
    pub fn write_report_md(&self, text: &str) -> Result<PathBuf, RunError> {
        self.write("report.md", text.as_bytes())
    }

    /// Copies the per-run files (`timeseries/`, `requests/`) of another results folder, e.g.
    /// a shard's into the merged folder; they are named by run index, so shards never
    /// collide. A folder without them is fine.
    pub fn copy_run_files(&self, from: &Path) -> Result<(), CopyError> {
        for sub in ["timeseries", "requests"] {
            let mut files: Vec<PathBuf> = std::fs::read_dir(from.join(sub))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            for f in files {
                let bytes = std::fs::read(&f).map_err(|e| {
                    CopyError::Source(ConfigError::new(&f, format!("cannot read the file: {e}")))
                })?;
                let name = f.file_name().unwrap_or_default().to_string_lossy();
                self.write(&format!("{sub}/{name}"), &bytes)
                    .map_err(CopyError::Target)?;
            }
        }
        Ok(())
    }

    /// Writes summary.json, summary.csv and, with replications, aggregate.csv; returns the
    /// paths of the first two.
    pub fn write_summary(&self, summary: &Summary) -> Result<(PathBuf, PathBuf), RunError> {
        let json = self.write("summary.json", &super::export::to_json(summary)?)?;
        let csv = self.write("summary.csv", &super::export::to_csv(summary)?)?;
        if !summary.aggregates.is_empty() {
            self.write("aggregate.csv", &super::export::aggregate_csv(summary)?)?;
        }
        Ok((json, csv))
    }

    /// Ends the run: the summaries are written, so the saved runs are no longer needed.
    pub fn finish(mut self) -> Result<(), RunError> {
        if self.partial.take().is_some() {
            let path = self.partial_path();
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(RunError::Write { path, source: e });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Removes what an earlier run wrote into `dir` (see [`ResultsDir::create`]); returns how many
/// files it removed.
fn remove_earlier_results(dir: &Path) -> Result<usize, RunError> {
    if !(dir.join("summary.json").is_file() || dir.join(PARTIAL).is_file()) {
        return Ok(0);
    }
    let named = [
        "summary.json",
        "summary.csv",
        "aggregate.csv",
        "report.md",
        PARTIAL,
    ];
    let remove = |path: &Path, removed: &mut usize| -> Result<(), RunError> {
        match std::fs::remove_file(path) {
            Ok(()) => {
                *removed += 1;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(RunError::Write {
                path: path.to_path_buf(),
                source,
            }),
        }
    };
    let files_ending = |d: &Path, ends: &[&str]| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .is_some_and(|x| ends.iter().any(|e| x == std::ffi::OsStr::new(e)))
            })
            .collect();
        v.sort();
        v
    };
    let mut removed = 0;
    for n in named {
        remove(&dir.join(n), &mut removed)?;
    }
    for p in files_ending(dir, &["png", "svg"]) {
        remove(&p, &mut removed)?;
    }
    for sub in ["timeseries", "requests"] {
        let d = dir.join(sub);
        for p in files_ending(&d, &["csv"]) {
            remove(&p, &mut removed)?;
        }
        // Only if nothing else is in it.
        let _ = std::fs::remove_dir(&d);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(index: usize, class: &str) -> RunSummary {
        RunSummary {
            index,
            config: 0,
            replication: 0,
            class: class.into(),
            seed: 1,
            params: Default::default(),
            verdict: crate::report::Verdict::Stable,
            slo_met: None,
            metrics: Default::default(),
            latency_cdf: vec![0.5, 1.25],
        }
    }

    fn header() -> PartialHeader {
        PartialHeader::new("x", "fnv1a128:00", 1, Some((1, 2)), true, false)
    }

    #[test]
    fn saved_runs_read_back_and_a_torn_last_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut d, _) = ResultsDir::create(dir.path()).unwrap();
        d.start_partial(&header()).unwrap();
        d.record_run(&[row(0, "all"), row(0, "gold")]).unwrap();
        d.record_run(&[row(2, "all")]).unwrap();
        drop(d);
        let file = dir.path().join(PARTIAL);
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str("{\"run\": 4, \"ro");
        std::fs::write(&file, &text).unwrap();

        let (d, r) = ResultsDir::resume(dir.path()).unwrap();
        assert_eq!(r.header, header());
        assert_eq!(r.runs, 2);
        let got: Vec<(usize, &str)> = r.rows.iter().map(|r| (r.index, r.class.as_str())).collect();
        assert_eq!(got, [(0, "all"), (0, "gold"), (2, "all")]);
        assert_eq!(r.rows[0].latency_cdf, [0.5, 1.25]);
        // Appending after a resume starts on a fresh line.
        d.record_run(&[row(4, "all")]).unwrap();
        drop(d);
        let (_, r) = ResultsDir::resume(dir.path()).unwrap();
        assert_eq!(r.runs, 3);
    }

    #[test]
    fn a_broken_line_in_the_middle_is_an_error_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let (mut d, _) = ResultsDir::create(dir.path()).unwrap();
        d.start_partial(&header()).unwrap();
        drop(d);
        let file = dir.path().join(PARTIAL);
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str("garbage\n{\"run\":1,\"rows\":[]}\n");
        std::fs::write(&file, &text).unwrap();
        let e = ResultsDir::resume(dir.path()).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn headers_name_what_changed() {
        let then = header();
        let mut now = header();
        assert!(then.differences(&now).is_empty());
        now.seed = 2;
        now.experiment_hash = "fnv1a128:11".into();
        now.requests = true;
        let d = then.differences(&now).join("; ");
        assert!(d.contains("seed 1 then, 2 now"), "{d}");
        assert!(d.contains("the experiment changed"), "{d}");
        assert!(
            d.contains("without --requests then, with --requests now"),
            "{d}"
        );
    }

    #[test]
    fn a_folder_without_results_keeps_its_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.png"), b"x").unwrap();
        let (_, removed) = ResultsDir::create(dir.path()).unwrap();
        assert_eq!(removed, 0);
        assert!(dir.path().join("mine.png").exists());
    }
}
