//! The results folder: interrupting and resuming a sweep, stale files of an earlier run,
//! merging only shards of one experiment, and `--shard auto` from a job array.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{capsim, write};

/// 8 loads × 30 replications = 240 runs of about 10 ms each: long enough to interrupt on one
/// thread, short enough for a test.
const SWEEP: &str = r#"
name = "resume sweep"
seed = 11
requests = 100000
[workload]
arrival = { kind = "poisson", rate = "0.5/s" }
[endpoint]
servers = 1
service-time = { kind = "exponential", mean = "1s" }
# A client deadline makes the servers keep per-request records (`--requests`); plain servers
# keep no time series.
[client]
deadline = "1h"
[sweep]
replications = 30
workload.arrival.rate = ["0.1/s", "0.2/s", "0.3/s", "0.4/s", "0.5/s", "0.6/s", "0.7/s", "0.8/s"]
"#;

/// Every file under `dir` by relative path, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

fn stderr(out: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

#[test]
fn an_interrupted_240_run_sweep_resumed_ends_byte_identical_to_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "sweep.toml", SWEEP);
    let whole = dir.path().join("whole");
    let cut = dir.path().join("cut");
    capsim()
        .args(["run", "-q", "--out"])
        .arg(&whole)
        .arg(&file)
        .assert()
        .success();

    // One thread, so the sweep takes a few seconds; interrupt it once some runs are saved.
    let bin = env!("CARGO_BIN_EXE_capsim");
    let child = Command::new(bin)
        .current_dir(dir.path())
        .args(["run", "sweep.toml", "--out", "cut", "-q", "--threads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let partial = cut.join("partial.jsonl");
    let started = Instant::now();
    // The header and 10 runs.
    while lines(&partial) < 11 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no runs saved after a minute"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let saved = lines(&partial) - 1;
    assert!(
        (10..240).contains(&saved),
        "{saved} runs saved: the sweep was not stopped part-way"
    );
    assert!(!cut.join("summary.json").exists());
    assert!(
        err.contains(&format!("{saved} of 240 runs finished")),
        "{err}"
    );
    assert!(
        err.contains(
            &partial
                .strip_prefix(dir.path())
                .unwrap()
                .display()
                .to_string()
        ),
        "{err}"
    );
    let command = err
        .lines()
        .find_map(|l| l.strip_prefix("resume with: "))
        .unwrap_or_else(|| panic!("no resume command in:\n{err}"));
    assert_eq!(
        command,
        "capsim run sweep.toml --out cut --threads 1 --quiet --resume"
    );

    // The printed command, as printed, finishes the sweep.
    let resumed = Command::new("sh")
        .current_dir(dir.path())
        .arg("-c")
        .arg(command.replacen("capsim", bin, 1))
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let (a, b) = (files(&whole), files(&cut));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "different files"
    );
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{} differs after resuming",
            name.display()
        );
    }
    assert!(a.contains_key(Path::new("summary.json")) && a.contains_key(Path::new("summary.csv")));
    let summary: serde_json::Value = serde_json::from_slice(&a[Path::new("summary.json")]).unwrap();
    assert_eq!(summary["runs"].as_array().unwrap().len(), 240);
}

#[test]
fn resume_refuses_a_changed_experiment_and_a_folder_with_nothing_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let small = SWEEP
        .replace("requests = 100000", "requests = 2000")
        .replace("replications = 30", "replications = 2");
    let file = write(dir.path(), "s.toml", &small);
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        capsim()
            .args(["run", "-q", "--out"])
            .arg(&out)
            .args(extra)
            .arg(&file)
            .assert()
    };
    run(&[]).success();
    // A finished run has nothing to resume.
    let e = stderr(&run(&["--resume"]).code(2));
    assert!(e.contains("nothing to resume"), "{e}");
    // Leave a partial file as an interrupted run would, then change the experiment.
    let header = format!(
        "{{\"partial\":1,\"capsim\":\"{}\",\"experiment\":\"resume sweep\",\"experiment_hash\":\"fnv1a128:0\",\"seed\":11,\"shard\":null,\"timeseries\":false,\"requests\":false}}\n",
        env!("CARGO_PKG_VERSION")
    );
    std::fs::write(out.join("partial.jsonl"), header).unwrap();
    let e = stderr(&run(&["--resume"]).code(2));
    assert!(e.contains("cannot resume: the experiment changed"), "{e}");
    assert!(e.contains("run without --resume"), "{e}");
    // Other flags than the interrupted run's are refused too.
    let e = stderr(&run(&["--resume", "--seed", "12"]).code(2));
    assert!(e.contains("seed 11 then, 12 now"), "{e}");
}

#[test]
fn a_new_run_removes_the_files_of_an_earlier_larger_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let big = SWEEP
        .replace("requests = 100000", "requests = 1000")
        .replace("replications = 30", "replications = 2");
    let file = write(dir.path(), "s.toml", &big);
    let out = dir.path().join("out");
    let run = |src: &str| {
        std::fs::write(&file, src).unwrap();
        capsim()
            .args(["run", "-q", "--timeseries", "--requests", "--out"])
            .arg(&out)
            .arg(&file)
            .assert()
            .success();
    };
    run(&big);
    assert!(out.join("requests/15.csv").exists());
    assert!(out.join("aggregate.csv").exists());
    assert!(out.join("timeout_rate.png").exists());
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    // Now one configuration, no replications and no load axis: 1 run, no charts.
    let one = big.split("[sweep]").next().unwrap().to_string();
    run(&one);
    let mut left: Vec<String> = files(&out)
        .keys()
        .map(|k| k.display().to_string())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "notes.txt",
            "report.md",
            "requests/0.csv",
            "summary.csv",
            "summary.json",
        ]
    );
}

/// Two shards of a two-run sweep of `src` into `dir/a` and `dir/b`.
fn two_shards(dir: &Path, name: &str, src: &str) -> (PathBuf, PathBuf) {
    let file = write(dir, name, src);
    let shard = |k: &str| {
        let out = dir.join(format!("{name}-{k}"));
        capsim()
            .args([
                "run",
                "-q",
                "--requests",
                "--shard",
                &format!("{k}/2"),
                "--out",
            ])
            .arg(&out)
            .arg(&file)
            .assert()
            .success();
        out
    };
    (shard("1"), shard("2"))
}

#[test]
fn merge_of_shards_of_two_different_files_with_the_same_name_and_seed_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let src = SWEEP
        .replace("requests = 100000", "requests = 1000")
        .replace("replications = 30", "replications = 1")
        .replace(
            "[\"0.1/s\", \"0.2/s\", \"0.3/s\", \"0.4/s\", \"0.5/s\", \"0.6/s\", \"0.7/s\", \"0.8/s\"]",
            "[\"0.1/s\", \"0.2/s\"]",
        );
    let (a1, _) = two_shards(dir.path(), "a.toml", &src);
    // Same name and seed, a different service time.
    let (_, b2) = two_shards(
        dir.path(),
        "b.toml",
        &src.replace("mean = \"1s\"", "mean = \"2s\""),
    );
    let merged = dir.path().join("merged");
    let e = stderr(
        &capsim()
            .args(["merge", "--out"])
            .arg(&merged)
            .arg(&a1)
            .arg(&b2)
            .assert()
            .code(2),
    );
    assert!(e.contains("shards of different experiments"), "{e}");
    assert!(e.contains("experiment hashes differ"), "{e}");
    assert!(!merged.join("summary.json").exists());
    // The shards of one file still merge, and the merged summary carries the hash.
    let a2 = dir.path().join("a.toml-2");
    capsim()
        .args(["merge", "--out"])
        .arg(&merged)
        .arg(&a1)
        .arg(&a2)
        .assert()
        .success();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(merged.join("summary.json")).unwrap()).unwrap();
    let shard: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a1.join("summary.json")).unwrap()).unwrap();
    assert!(
        json["experiment_hash"]
            .as_str()
            .unwrap()
            .starts_with("fnv1a128:")
    );
    assert_eq!(json["experiment_hash"], shard["experiment_hash"]);
    // Each shard's per-run files come along.
    for (from, run) in [(&a1, "0"), (&a2, "1")] {
        let f = format!("requests/{run}.csv");
        assert!(std::fs::read(merged.join(&f)).unwrap() == std::fs::read(from.join(&f)).unwrap());
    }
}

#[test]
fn merge_refuses_an_out_folder_that_is_one_of_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let src = SWEEP
        .replace("requests = 100000", "requests = 1000")
        .replace("replications = 30", "replications = 2");
    let (a1, a2) = two_shards(dir.path(), "a.toml", &src);
    let before = files(&a1);
    // Spelled differently from the input, still the same folder.
    let out = a1.join("..").join(a1.file_name().unwrap());
    let e = stderr(
        &capsim()
            .args(["merge", "--out"])
            .arg(&out)
            .arg(&a1)
            .arg(&a2)
            .assert()
            .code(2),
    );
    assert!(
        e.contains("is one of the shard folders being merged"),
        "{e}"
    );
    assert!(e.contains("--out"), "{e}");
    assert!(files(&a1) == before, "the shard folder was changed");
}

/// Runs `--shard auto` on a 4-run sweep with only `env` set of the job-array variables;
/// returns the command's result.
fn shard_auto(dir: &Path, env: &[(&str, &str)]) -> assert_cmd::assert::Assert {
    let src = SWEEP
        .replace("requests = 100000", "requests = 1000")
        .replace("replications = 30", "replications = 1")
        .replace(
            "[\"0.1/s\", \"0.2/s\", \"0.3/s\", \"0.4/s\", \"0.5/s\", \"0.6/s\", \"0.7/s\", \"0.8/s\"]",
            "[\"0.1/s\", \"0.2/s\", \"0.3/s\", \"0.4/s\"]",
        );
    let file = write(dir, "s.toml", &src);
    let mut cmd = capsim();
    for v in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_STEP",
        "JOB_COMPLETION_INDEX",
        "CAPSIM_SHARD_COUNT",
    ] {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied())
        .args(["run", "-q", "--shard", "auto", "--out"])
        .arg(dir.join("out"))
        .arg(file)
        .assert()
}

/// The shard and run indices of the summary `shard_auto` wrote.
fn shard_of(dir: &Path) -> (u64, u64, Vec<u64>) {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/summary.json")).unwrap()).unwrap();
    let runs = json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    (
        json["shard"]["k"].as_u64().unwrap(),
        json["shard"]["n"].as_u64().unwrap(),
        runs,
    )
}

#[test]
fn shard_auto_takes_the_index_and_count_from_a_slurm_array_or_a_kubernetes_indexed_job() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Slurm, 1-based array (--array=1-2): task 2 is shard 2/2.
    shard_auto(
        d,
        &[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ],
    )
    .success();
    assert_eq!(shard_of(d), (2, 2, vec![1, 3]));
    // Slurm, 0-based (--array=0-3): task 0 is shard 1/4.
    shard_auto(
        d,
        &[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ],
    )
    .success();
    assert_eq!(shard_of(d), (1, 4, vec![0]));
    // Kubernetes Indexed Job: index from 0, the count from CAPSIM_SHARD_COUNT.
    shard_auto(
        d,
        &[("JOB_COMPLETION_INDEX", "2"), ("CAPSIM_SHARD_COUNT", "3")],
    )
    .success();
    assert_eq!(shard_of(d), (3, 3, vec![2]));

    // What is missing is named, with exit code 2.
    let e = stderr(&shard_auto(d, &[("JOB_COMPLETION_INDEX", "2")]).code(2));
    assert!(e.contains("CAPSIM_SHARD_COUNT is not set"), "{e}");
    assert!(e.contains("completions"), "{e}");
    let e = stderr(&shard_auto(d, &[("SLURM_ARRAY_TASK_ID", "2")]).code(2));
    assert!(e.contains("SLURM_ARRAY_TASK_COUNT is not set"), "{e}");
    let e = stderr(&shard_auto(d, &[]).code(2));
    assert!(
        e.contains("SLURM_ARRAY_TASK_ID") && e.contains("JOB_COMPLETION_INDEX"),
        "{e}"
    );
    let e = stderr(
        &shard_auto(
            d,
            &[("JOB_COMPLETION_INDEX", "3"), ("CAPSIM_SHARD_COUNT", "3")],
        )
        .code(2),
    );
    assert!(e.contains("not below CAPSIM_SHARD_COUNT 3"), "{e}");
}
