//! Input that cannot hurt: files are checked for kind and size before they are read, messages
//! speak TOML rather than Rust, and values that would silently change meaning are refused.

use capsim::experiment;

use crate::support::{capsim, write};

const BASE: &str = r#"name = "safe"
seed = 1
duration = "10m"

[workload]
arrival = { kind = "poisson", rate = "3/s" }

[endpoint]
servers = 4
service-time = { kind = "exponential", mean = "1s" }
"#;

fn message(src: &str) -> String {
    experiment::parse(src, std::path::Path::new("safe.toml"))
        .map(|_| String::from("(accepted)"))
        .unwrap_or_else(|e| e.to_string())
}

#[test]
fn a_device_given_as_a_trace_is_refused_before_a_byte_is_read() {
    let src = BASE.replace(
        r#"arrival = { kind = "poisson", rate = "3/s" }"#,
        r#"arrival = { kind = "trace", file = "/dev/zero" }"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "zero.toml", &src);
    let out = capsim().arg("validate").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(
            "/dev/zero: cannot read the trace: it is a device, pipe or socket, not a regular file"
        ),
        "{err}"
    );
}

#[test]
fn a_folder_given_as_the_experiment_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = capsim().arg("run").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot read the experiment file: it is a folder, not a regular file"),
        "{err}"
    );
}

#[test]
fn wrong_shapes_are_described_in_toml_words_never_rust_type_names() {
    let cases = [
        (
            r#"arrival = { kind = "poisson", rate = "3/s" }"#,
            r#"arrival = "poisson""#,
        ),
        (
            r#"arrival = { kind = "poisson", rate = "3/s" }"#,
            "arrival = 3",
        ),
        (r#"servers = 4"#, r#"servers = "four""#),
        (r#"servers = 4"#, "servers = [4]"),
        (r#"mean = "1s""#, "mean = [1]"),
        (r#"mean = "1s""#, "mean = { s = 1 }"),
        ("[endpoint]", "endpoint = 3\n[other]"),
    ];
    for (from, to) in cases {
        let got = message(&BASE.replacen(from, to, 1));
        for word in [
            "struct ", "enum ", "File", "Scalar", "i64", "u64", "u32", "f64",
        ] {
            assert!(
                !got.contains(word),
                "{to:?}: the message shows {word:?}: {got}"
            );
        }
        assert!(got.starts_with("safe.toml:"), "{to:?}: {got}");
    }
    assert_eq!(
        message(&BASE.replacen(
            r#"arrival = { kind = "poisson", rate = "3/s" }"#,
            r#"arrival = "poisson""#,
            1
        )),
        "safe.toml:6:11: `workload.arrival`: invalid type: string \"poisson\", expected a table"
    );
}

#[test]
fn a_duration_below_one_nanosecond_is_refused_rather_than_rounded_to_zero() {
    assert_eq!(
        message(&BASE.replace(r#"mean = "1s""#, r#"mean = "0.4ns""#)),
        "safe.toml:10: `endpoint.service-time.mean`: \"0.4ns\" is below the clock's 1 ns step and would round to 0 ns; write 0 for none or at least \"1ns\"\n  hint: units: ns, us, ms, s, m (or min), h, d; fractions like \"0.5s\" are fine"
    );
}

#[test]
fn a_timeseries_interval_that_cuts_too_many_windows_is_refused_and_the_default_widens() {
    let day = BASE.replace(r#"duration = "10m""#, r#"duration = "30d""#);
    assert_eq!(
        message(&format!("timeseries-interval = \"1s\"\n{day}")),
        "safe.toml:1: `timeseries-interval`: an interval of 1s cuts the 30d run into 2592000 windows, more than the 100000 capsim keeps\n  hint: use an interval of at least 25.92s"
    );
    // Without a written interval, 10 s would cut 259,200 windows: the default widens to the
    // next whole second that fits (30 d / 100,000 = 25.92 s, so 26 s).
    let exp = experiment::parse(&day, std::path::Path::new("safe.toml")).unwrap();
    assert_eq!(exp.scenario.timeseries_interval.as_nanos(), 26_000_000_000);
}

#[test]
fn curve_refuses_a_tensor_parallel_size_that_run_refuses() {
    let out = capsim()
        .args([
            "curve",
            "--gpu",
            "a100-80gb",
            "--model",
            "llama-2-7b",
            "--tp",
            "3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("`--tp`: 32 attention heads cannot be split over 3 GPUs"),
        "{err}"
    );
    let src = "name = \"tp\"\nseed = 1\nrequests = 10\n[workload]\narrival = { kind = \"poisson\", rate = \"1/s\" }\nprompt-tokens = { kind = \"deterministic\", value = 100 }\noutput-tokens = { kind = \"deterministic\", value = 10 }\n[endpoint]\ngpu = \"a100-80gb\"\nmodel = \"llama-2-7b\"\ntensor-parallel = 3\n";
    assert!(
        message(src).contains("32 attention heads cannot be split over 3 GPUs"),
        "{}",
        message(src)
    );
}

#[test]
fn an_out_flag_that_names_a_file_is_a_usage_error_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "e.toml", BASE);
    let file = write(dir.path(), "taken", "not a folder");
    let out = capsim()
        .arg("run")
        .arg(&exp)
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("`--out`:") && err.contains("is a file, not a folder"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder");
}

#[test]
fn timeseries_and_requests_on_plain_servers_that_keep_none_say_so_instead_of_writing_empty_csvs() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "e.toml", BASE);
    let out_dir = dir.path().join("out");
    let out = capsim()
        .arg("run")
        .arg(&exp)
        .arg("--out")
        .arg(&out_dir)
        .args(["--timeseries", "--requests"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(
            "note: --timeseries: a plain-server endpoint (`servers`) keeps no time series"
        ),
        "{err}"
    );
    assert!(err.contains("note: --requests:"), "{err}");
    assert!(!out_dir.join("timeseries").exists());
    assert!(!out_dir.join("requests").exists());
    // With a client policy, plain servers keep per-request records and write them.
    let retrying = format!(
        "{BASE}\n[client]\ntimeout = \"2s\"\nretry = {{ max-attempts = 2, on = [\"timeout\"], backoff = \"1s\" }}\n"
    );
    let exp = write(dir.path(), "r.toml", &retrying);
    let out = capsim()
        .arg("run")
        .arg(&exp)
        .arg("--out")
        .arg(&out_dir)
        .arg("--requests")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(out_dir.join("requests/0.csv")).unwrap();
    assert!(csv.lines().count() > 1000, "{}", &csv[..200.min(csv.len())]);
}
