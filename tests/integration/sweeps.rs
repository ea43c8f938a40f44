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
        "run,config,replication,class,seed,endpoint.servers,workload.arrival.rate,verdict,slo_met,arrived"
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
fn format_png_svg_writes_an_svg_beside_every_png_and_chart_redraws_them() {
    let dir = tempfile::tempdir().unwrap();
    let src = format!(
        "{MM1}[sweep]\nendpoint.servers = [1, 2]\nworkload.arrival.rate = [\"0.4/s\", \"0.8/s\", \"1.6/s\"]\n"
    );
    let file = write(dir.path(), "s.toml", &src);
    let out = dir.path().join("out");
    capsim()
        .args(["run", "--quiet", "--format", "png,svg", "--out"])
        .arg(&out)
        .arg(&file)
        .assert()
        .success();
    let names = |ext: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().to_string();
                n.strip_suffix(ext).map(str::to_string)
            })
            .collect();
        v.sort();
        v
    };
    let (pngs, svgs) = (names(".png"), names(".svg"));
    assert!(pngs.len() >= 4, "{pngs:?}");
    assert_eq!(pngs, svgs);
    let svg = std::fs::read_to_string(out.join("failed_rate.svg")).unwrap();
    assert!(svg.starts_with("<svg") && !svg.contains("SLO") && svg.contains("<text"));
    // `chart` redraws both; an unknown format is a usage error.
    let before = std::fs::read(out.join("heatmap.svg")).unwrap();
    capsim()
        .args(["chart", "--format", "svg"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read(out.join("heatmap.svg")).unwrap(), before);
    capsim()
        .args(["chart", "--format", "gif"])
        .arg(&out)
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
        report.contains("![Where does each configuration start timing out?](timeout_rate.png)"),
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

/// An LLM endpoint on a T4, for the sweep rules that need clients and classes.
const LLM: &str = r#"
name = "LLM sweep"
seed = 5
duration = "2m"
[workload]
arrival = { kind = "poisson", rate = "1/s" }
prompt-tokens = { kind = "lognormal", median = 400, p99 = 2000 }
output-tokens = { kind = "lognormal", median = 200, p99 = 1000 }
[endpoint]
gpu = "t4"
model = "llama-2-7b"
quantization = "int8"
"#;

fn parse_err(src: &str) -> capsim::error::ConfigError {
    capsim::experiment::parse(src, std::path::Path::new("s.toml")).unwrap_err()
}

#[test]
fn a_table_value_replaces_the_table_unless_written_as_a_merge() {
    // The file's gamma arrivals have a `cv`; a constant process takes only a rate.
    let base = MM1.replace(
        "arrival = { kind = \"poisson\", rate = \"0.5/s\" }",
        "arrival = { kind = \"gamma\", rate = \"0.5/s\", cv = 2 }",
    );
    let replace = format!(
        "{base}[sweep]\nworkload.arrival = [{{ kind = \"constant\", rate = \"0.5/s\" }}, {{ kind = \"poisson\", rate = \"0.6/s\" }}]\n"
    );
    let exp = parse(&replace);
    assert_eq!(exp.configs.len(), 2);
    assert_eq!(
        exp.configs[0].params["workload.arrival"],
        "kind=constant rate=0.5/s"
    );
    // Written as a merge, the file's `cv` stays and the constant process refuses it.
    let merge =
        format!("{base}[sweep]\nworkload.arrival = {{ merge = [{{ kind = \"constant\" }}] }}\n");
    let err = parse_err(&merge);
    assert!(
        err.message.contains("workload.arrival = { kind=constant }"),
        "{err}"
    );
    assert!(err.to_string().contains("cv"), "{err}");
    assert_eq!(err.line, Some(12), "the line of the axis: {err}");
    // A replacing table that drops a key the configuration needs says how to merge instead.
    let dropped = format!("{LLM}[sweep]\nendpoint = [{{ gpu = \"a10g\" }}]\n");
    let err = parse_err(&dropped);
    let hint = err.hint.clone().unwrap_or_default();
    assert!(
        hint.contains("replaces the whole `endpoint` table")
            && hint.contains("`model`")
            && hint.contains("endpoint = { merge = [...] }"),
        "{err}"
    );
    let merged = parse(&format!(
        "{LLM}[sweep]\nendpoint = {{ merge = [{{ gpu = \"a10g\", quantization = \"fp16\" }}] }}\n"
    ));
    assert_eq!(
        merged.configs[0].params["endpoint"],
        "gpu=a10g quantization=fp16"
    );
}

#[test]
fn a_key_can_be_unset_in_a_sweep_and_a_misspelt_one_is_refused() {
    let base = MM1.replace("servers = 1\n", "servers = 1\nqueue-timeout = \"1s\"\n");
    let src = format!("{base}[sweep]\nendpoint.queue-timeout = [\"1s\", {{ unset = true }}]\n");
    let exp = parse(&src);
    assert_eq!(exp.configs[1].params["endpoint.queue-timeout"], "unset");
    let summary = capsim::runner::run(&exp, 3, Default::default()).unwrap();
    let (timed, unset) = (&summary.runs[0].metrics, &summary.runs[1].metrics);
    assert!(timed.queue_timeout > 0, "{timed:?}");
    assert_eq!(unset.queue_timeout, 0);
    assert_eq!(unset.arrived, unset.ok + unset.unfinished);
    let typo = format!("{base}[sweep]\nendpoint.queue-timeuot = [{{ unset = true }}]\n");
    let err = parse_err(&typo);
    assert_eq!(
        err.to_string(),
        "s.toml:13: `sweep.endpoint.queue-timeuot`: cannot sweep `endpoint.queue-timeuot`: nothing to unset: the file does not set `endpoint.queue-timeuot`"
    );
}

#[test]
fn has_no_effect_is_an_error_in_a_single_run_and_a_warning_in_a_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let base = LLM.replace(
        "quantization = \"int8\"\n",
        "quantization = \"int8\"\nkeep-alive = \"15s\"\n[client]\nstreaming = true\n",
    );
    let single = write(
        dir.path(),
        "single.toml",
        &base.replace("streaming = true", "streaming = false"),
    );
    let out = capsim().arg("validate").arg(&single).assert().code(2);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        err.contains("`endpoint.keep-alive`: has no effect: no client streams"),
        "{err}"
    );
    let swept = write(
        dir.path(),
        "swept.toml",
        &format!("{base}[sweep]\nclient.streaming = [true, false, false]\n"),
    );
    let out = capsim().arg("validate").arg(&swept).assert().success();
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(
        err.matches("warning:").count(),
        1,
        "one warning for the setting, not one per configuration: {err}"
    );
    assert!(
        err.contains("`endpoint.keep-alive`: has no effect: no client streams (in 2 of the 3 sweep configurations, e.g. client.streaming = false)"),
        "{err}"
    );
    // `run` says so too, even when told to be quiet, and runs every configuration.
    let out = capsim()
        .args(["run", "--quiet", "--out"])
        .arg(dir.path().join("out"))
        .arg(&swept)
        .assert()
        .success();
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        err.contains("warning:") && err.contains("in 2 of the 3 sweep configurations"),
        "{err}"
    );
    let csv = std::fs::read_to_string(dir.path().join("out/summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3);
    let exp = capsim::experiment::parse(
        &std::fs::read_to_string(&swept).unwrap(),
        &dir.path().join("swept.toml"),
    )
    .unwrap();
    assert_eq!(exp.warnings.len(), 1);
    // A sweep without axes varies nothing: the setting is as idle as in a single run.
    let replications =
        base.replace("streaming = true", "streaming = false") + "[sweep]\nreplications = 2\n";
    let err = parse_err(&replications);
    assert!(
        err.message.starts_with("has no effect: no client streams"),
        "{err}"
    );
    // A sweep in which every configuration streams has nothing to warn about.
    let fine = format!("{base}[sweep]\nworkload.arrival.rate = [\"1/s\", \"2/s\"]\n");
    assert!(parse(&fine).warnings.is_empty());
}

#[test]
fn keys_with_an_index_work_quoted_as_the_readme_writes_them() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("\"classes[0].share\" = "))
        .expect("the README shows an indexed key");
    assert!(
        line.starts_with("\"classes[0].share\" = [0.1, 0.2]"),
        "{line}"
    );
    let classes =
        "[[classes]]\nname = \"premium\"\nshare = 0.2\n[[classes]]\nname = \"free\"\nshare = 0.8\n";
    let src = format!(
        "{LLM}{classes}[sweep]\nmode = \"zip\"\n\"classes[0].share\" = [0.1, 0.2]\n\"classes[1]\".share = [0.9, 0.8]\n"
    );
    let exp = parse(&src);
    let shares: Vec<Vec<f64>> = exp
        .configs
        .iter()
        .map(|c| {
            c.scenario
                .policies
                .classes
                .iter()
                .map(|k| k.share)
                .collect()
        })
        .collect();
    assert_eq!(shares, [[0.1, 0.9], [0.2, 0.8]]);
    assert_eq!(exp.configs[0].params["classes[0].share"], 0.1);
    // Unquoted, the file is not TOML; the error says to quote the key.
    let bare = src.replace("\"classes[0].share\"", "classes[0].share");
    let err = parse_err(&bare);
    assert_eq!(err.line, Some(21), "{err}");
    assert_eq!(
        err.hint.as_deref(),
        Some("a key with an index must be quoted in TOML: write \"classes[0].share\" = ...")
    );
}

#[test]
fn the_sweep_refuses_keys_that_cannot_vary_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    for (axis, words) in [
        ("seed = [1, 2]", "`sweep.seed`: the seed cannot be swept"),
        (
            "name = [\"a\", \"b\"]",
            "`sweep.name`: the name cannot be swept",
        ),
        (
            "sweep.max-runs = [10, 20]",
            "`sweep.sweep.max-runs`: a sweep's own settings cannot be swept",
        ),
    ] {
        let file = write(dir.path(), "s.toml", &format!("{MM1}[sweep]\n{axis}\n"));
        let out = capsim()
            .args(["run", "--quiet", "--out"])
            .arg(dir.path().join("out"))
            .arg(&file)
            .assert()
            .code(2);
        let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(err.contains(&format!("s.toml:12: {words}")), "{err}");
        assert!(err.contains("hint:"), "{err}");
    }
}

#[test]
fn run_labels_keep_key_names() {
    let dir = tempfile::tempdir().unwrap();
    let src = format!(
        "{LLM}[client]\nread-timeout = \"60s\"\n[sweep]\nclient = [{{ read-timeout = \"10s\", deadline = \"300s\" }}, {{ read-timeout = \"30s\" }}]\n"
    );
    let file = write(dir.path(), "s.toml", &src);
    let out = dir.path().join("out");
    capsim()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&file)
        .assert()
        .success();
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let cells: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(5).unwrap())
        .collect();
    assert_eq!(
        cells,
        ["deadline=300s read-timeout=10s", "read-timeout=30s"]
    );
    // summary.json types the axis: a table is a choice with no number.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["axes"][0]["key"], "client");
    assert_eq!(json["axes"][0]["role"], "choice");
    assert_eq!(
        json["axes"][0]["values"][1],
        serde_json::json!({ "written": "read-timeout=30s" })
    );
}

#[test]
fn axis_values_reach_the_summary_typed_with_their_role() {
    let src = format!(
        "{MM1}[sweep]\nworkload.arrival.rate = [\"30/min\", \"0.8/s\"]\nendpoint.queue-timeout = [\"2m\"]\nendpoint.servers = [1]\n"
    );
    let exp = parse(&src);
    let summary = capsim::runner::run(&exp, 3, Default::default()).unwrap();
    let axes = &summary.axes;
    let keys: Vec<&str> = axes.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "workload.arrival.rate",
            "endpoint.queue-timeout",
            "endpoint.servers"
        ],
        "file order"
    );
    use capsim::report::AxisRole;
    let roles: Vec<AxisRole> = axes.iter().map(|a| a.role).collect();
    assert_eq!(roles, [AxisRole::Load, AxisRole::Limit, AxisRole::Choice]);
    let rate = &axes[0].values[0];
    assert_eq!(
        (rate.written.as_str(), rate.number, rate.unit.as_deref()),
        ("30/min", Some(0.5), Some("/s"))
    );
    let limit = &axes[1].values[1];
    assert_eq!(
        (limit.number, limit.unit.as_deref()),
        (Some(120.0), Some("s"))
    );
    assert_eq!(
        (axes[2].values[0].number, axes[2].values[0].unit.as_deref()),
        (Some(1.0), None)
    );
    // The params columns still show the values as written.
    assert_eq!(summary.runs[0].params["workload.arrival.rate"], "30/min");
}

#[test]
fn an_error_points_at_the_axis_its_key_is_under() {
    let src =
        format!("{MM1}[sweep]\nworkload.arrival.rate = [\"1/s\"]\nendpoint.servers = [1, 0]\n");
    let err = parse_err(&src);
    assert_eq!(err.line, Some(13), "{err}");
    assert_eq!(err.key.as_deref(), Some("endpoint.servers"));
}
