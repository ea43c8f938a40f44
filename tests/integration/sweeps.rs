//! Sweeps and replications: configurations from axes, parallel runs with identical outputs,
//! confidence intervals that cover the truth as often as they claim.

use crate::support::{capsim, parse, write};

const MM1: &str = r#"
name = "M/M/1 sweep"
seed = 3
requests = 20000
warm-up = "200s"
[workload]
arrival = { kind = "poisson", rate = "0.5/s" }
[endpoint]
servers = 1
service-time = { kind = "exponential", mean = "1s" }
"#;

#[test]
fn a_sweep_runs_every_configuration_and_replication_in_order() {
    let src = format!(
        "{MM1}[sweep]\nreplications = 3\nworkload.arrival.rate = {{ from = \"0.3/s\", to = \"0.7/s\", step = \"0.2/s\" }}\n"
    );
    let exp = parse(&src);
    assert_eq!((exp.configs.len(), exp.replications), (3, 3));
    let summary = capsim::runner::run(&exp, 3, Default::default()).unwrap();
    assert_eq!(summary.runs.len(), 9);
    for (i, r) in summary.runs.iter().enumerate() {
        assert_eq!(
            (r.index, r.config, r.replication as usize),
            (i, i / 3, i % 3)
        );
        let rate = ["0.3/s", "0.5/s", "0.7/s"][i / 3];
        assert_eq!(r.params["workload.arrival.rate"], rate);
    }
    // Common random numbers: replication r has one seed across configurations.
    assert_eq!(summary.runs[1].seed, summary.runs[4].seed);
    assert_ne!(summary.runs[0].seed, summary.runs[1].seed);
    assert_eq!(summary.runs[0].seed, 3);
    // Busier configurations wait longer, and the aggregate has one row per configuration.
    assert_eq!(summary.aggregates.len(), 3);
    let wait = |c: usize| {
        summary.aggregates[c]
            .metrics
            .iter()
            .find(|(n, _)| *n == "wait_mean_s")
            .unwrap()
            .1
            .mean
            .unwrap()
    };
    assert!(wait(0) < wait(1) && wait(1) < wait(2));
}

#[test]
fn one_and_two_threads_write_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let src = format!(
        "{MM1}[sweep]\nreplications = 4\nendpoint.servers = [1, 2]\nworkload.arrival.rate = [\"0.4/s\", \"0.8/s\"]\n"
    );
    let file = write(dir.path(), "s.toml", &src);
    let outputs = |threads: &str| {
        let out = dir.path().join(format!("t{threads}"));
        capsim()
            .args(["run", "--quiet", "--threads", threads, "--out"])
            .arg(&out)
            .arg(&file)
            .assert()
            .success();
        ["summary.json", "summary.csv", "aggregate.csv"]
            .map(|f| std::fs::read(out.join(f)).unwrap())
    };
    let (one, two) = (outputs("1"), outputs("2"));
    assert_eq!(one, two);
    let csv = String::from_utf8(one[1].clone()).unwrap();
    assert_eq!(csv.lines().count(), 1 + 16);
    assert!(csv.lines().next().unwrap().starts_with(
        "run,config,replication,class,seed,endpoint.servers,workload.arrival.rate,arrived"
    ));
    let agg = String::from_utf8(one[2].clone()).unwrap();
    assert_eq!(agg.lines().count(), 1 + 4);
}

#[test]
fn the_exact_mm1_mean_lies_inside_the_95_percent_interval_about_95_percent_of_the_time() {
    // M/M/1 at ρ = 0.5: mean time in system W = 1 / (μ − λ) = 2 s. 200 sets of 10 replications.
    let src = format!("{MM1}[sweep]\nreplications = 10\n");
    let exp = parse(&src);
    let mut covered = 0;
    let sets = 200;
    for set in 0..sets {
        let summary = capsim::runner::run(&exp, 1000 + set, Default::default()).unwrap();
        let e = summary.aggregates[0]
            .metrics
            .iter()
            .find(|(n, _)| *n == "latency_mean_s")
            .unwrap()
            .1;
        let (mean, half) = (e.mean.unwrap(), e.ci95.unwrap());
        if (mean - 2.0).abs() <= half {
            covered += 1;
        }
    }
    let share = f64::from(covered) / f64::from(sets as u32);
    // Binomial(200, 0.95): 0.90 to 0.99 is about ±3 standard deviations.
    assert!((0.90..=0.99).contains(&share), "coverage {share}");
}

#[test]
fn a_bad_swept_value_names_its_configuration() {
    let src = format!("{MM1}[sweep]\nendpoint.servers = [1, 0]\n");
    let err = capsim::experiment::parse(&src, std::path::Path::new("s.toml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "s.toml:12: `endpoint.servers`: in the sweep configuration endpoint.servers = 0: must be between 1 and 1000000, found 0"
    );
    let src = format!("{MM1}[sweep]\nendpoint.replicas = [\"x\"]\n");
    let err = capsim::experiment::parse(&src, std::path::Path::new("s.toml")).unwrap_err();
    assert!(
        err.to_string().contains("endpoint.replicas = \"x\""),
        "{err}"
    );
}

#[test]
fn shards_merge_into_exactly_the_bytes_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let src = format!(
        "{MM1}[sweep]\nreplications = 3\nendpoint.servers = [1, 2]\nworkload.arrival.rate = [\"0.4/s\", \"0.8/s\", \"0.9/s\"]\n"
    );
    let file = write(dir.path(), "s.toml", &src);
    let run = |out: &str, extra: &[&str]| {
        capsim()
            .args(["run", "--quiet", "--out"])
            .arg(dir.path().join(out))
            .args(extra)
            .arg(&file)
            .assert()
            .success();
    };
    run("whole", &[]);
    for k in 1..=3 {
        run(&format!("part{k}"), &["--shard", &format!("{k}/3")]);
    }
    // Any order of the shard folders.
    capsim()
        .args(["merge", "--out"])
        .arg(dir.path().join("merged"))
        .arg(dir.path().join("part3"))
        .arg(dir.path().join("part1"))
        .arg(dir.path().join("part2"))
        .assert()
        .success();
    for f in ["summary.json", "summary.csv", "aggregate.csv"] {
        let a = std::fs::read(dir.path().join("whole").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("merged").join(f)).unwrap();
        assert!(a == b, "{f} differs after merging");
    }
    // A missing shard is refused, with exit code 2.
    let out = capsim()
        .args(["merge", "--out"])
        .arg(dir.path().join("bad"))
        .arg(dir.path().join("part1"))
        .arg(dir.path().join("part2"))
        .assert()
        .code(2);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(err.contains("shard 3/3 is missing"), "{err}");
    capsim()
        .args(["run", "--quiet", "--shard", "4/3"])
        .arg(&file)
        .assert()
        .code(2);
}

#[test]
fn a_sweep_writes_charts_and_a_report_that_chart_redraws_identically() {
    let dir = tempfile::tempdir().unwrap();
    let src = format!(
        "{MM1}[sweep]\nendpoint.servers = [1, 2]\nworkload.arrival.rate = [\"0.4/s\", \"0.8/s\", \"1.6/s\"]\n"
    );
    let file = write(dir.path(), "s.toml", &src);
    let out = dir.path().join("out");
    capsim()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .assert()
        .success();
    let png = |name: &str| std::fs::read(out.join(name)).unwrap();
    let first = png("timeout_rate.png");
    assert_eq!(&first[..8], b"\x89PNG\r\n\x1a\n");
    assert!(first.len() > 10_000);
    for f in ["latency.png", "latency_cdf.png", "heatmap.png"] {
        assert_eq!(&png(f)[..4], b"\x89PNG", "{f}");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("![M/M/1 sweep: timeouts vs load](timeout_rate.png)"),
        "{report}"
    );
    assert!(report.contains("| 5 | all | 2 | 1.6/s |"), "{report}");
    std::fs::remove_file(out.join("timeout_rate.png")).unwrap();
    capsim().arg("chart").arg(&out).assert().success();
    assert_eq!(
        png("timeout_rate.png"),
        first,
        "redrawn from summary.json, byte for byte"
    );
}
