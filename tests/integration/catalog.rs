//! The open catalog: a user's `--catalog` folder merged over the built-in one, inline GPU,
//! instance and engine-class tables in experiment files, `capsim curve FILE`, and the price a
//! run bills by default.

use std::path::{Path, PathBuf};

use crate::support::{capsim, root, write};

/// A built-in catalog file's text, from `models/`.
fn builtin(rel: &str) -> String {
    std::fs::read_to_string(root().join("models").join(rel)).expect("a shipped catalog file")
}

/// Writes `text` to `rel` under `dir`, creating folders.
fn put(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// A short chat experiment on `endpoint` (TOML lines of `[endpoint]`).
fn experiment(endpoint: &str) -> String {
    format!(
        r#"name = "open catalog"
seed = 3
duration = "20m"

[workload]
arrival = {{ kind = "poisson", rate = "0.05/s" }}
prompt-tokens = {{ kind = "lognormal", median = 400, p99 = 2000 }}
output-tokens = {{ kind = "lognormal", median = 200, p99 = 600 }}

[client]
timeout = "60s"

[endpoint]
{endpoint}
"#
    )
}

/// Runs `capsim run FILE --quiet` with `extra` arguments and returns summary.json's first
/// run's metrics.
fn run_metrics(file: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let status = capsim()
        .arg("run")
        .arg(file)
        .arg("--quiet")
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["runs"][0]["metrics"].clone()
}

fn number(m: &serde_json::Value, name: &str) -> f64 {
    m[name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} is {}", m[name]))
}

/// A GPU file like the T4's under a new id, with a price of its own.
fn my_gpu(id: &str, usd: f64) -> String {
    let t4 = builtin("gpus/t4.toml");
    let body = t4
        .split("[[price]]")
        .next()
        .unwrap()
        .replace("id = \"t4\"", &format!("id = \"{id}\""))
        .replace("name = \"NVIDIA T4\"", "name = \"My T4\"");
    format!(
        "{body}\n[[price]]\nprovider = \"aws\"\ninstance = \"my-box\"\nsize = \"x1\"\ngpus = 1\nusd-per-hour = {usd}\nas-of = \"2026-01-01\"\nsource = \"the user's own quote\"\n"
    )
}

/// An engine class like vLLM V1's under a new id, with a slower host.
fn my_class(id: &str) -> String {
    builtin("engines/vllm-v1.toml")
        .replace("id = \"vllm-v1\"", &format!("id = \"{id}\""))
        .replace("current = true", "current = false")
        .replace(
            "versions = [\"0.8\", \"0.9\", \"0.10\", \"0.11\", \"0.12\"]",
            "versions = [\"9.9\"]",
        )
        .replace("per-step-us = 1000", "per-step-us = 5000")
}

#[test]
fn a_user_catalog_folder_with_a_new_gpu_and_an_engine_class_is_used_by_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("catalog");
    put(&cat, "gpus/my-t4.toml", &my_gpu("my-t4", 0.42));
    put(&cat, "engines/my-vllm.toml", &my_class("my-vllm"));
    let file = write(
        dir.path(),
        "x.toml",
        &experiment(
            "gpu = \"my-t4\"\nmodel = \"llama-2-7b\"\nquantization = \"int8\"\nengine = { kind = \"vllm\", class = \"my-vllm\" }",
        ),
    );
    // Without the folder the ids are unknown: a configuration error.
    let bare = capsim().arg("validate").arg(&file).output().unwrap();
    assert_eq!(bare.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bare.stderr).contains("unknown engine class \"my-vllm\""));

    let cat_arg = cat.to_str().unwrap();
    let m = run_metrics(&file, &dir.path().join("out"), &["--catalog", cat_arg]);
    assert!(number(&m, "ok") > 0.0);
    let billed = number(&m, "cost_usd") / number(&m, "gpu_hours");
    assert!((billed - 0.42).abs() < 1e-9, "billed {billed}/h");

    let explain = capsim()
        .args(["explain", "--catalog", cat_arg])
        .arg(&file)
        .output()
        .unwrap();
    assert!(explain.status.success());
    let text = String::from_utf8(explain.stdout).unwrap();
    assert!(text.contains("1 x my-t4 (My T4)"), "{text}");
    assert!(text.contains("class my-vllm"), "{text}");
    let list = capsim()
        .args(["list", "gpus", "--catalog", cat_arg])
        .output()
        .unwrap();
    assert!(String::from_utf8(list.stdout).unwrap().contains("my-t4"));
}

#[test]
fn a_user_file_with_a_built_in_id_replaces_the_built_in_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("catalog");
    // The T4 under its own id, at a different price.
    put(
        &cat,
        "gpus/t4.toml",
        &my_gpu("t4", 0.37).replace("My T4", "Our T4"),
    );
    let file = write(
        dir.path(),
        "x.toml",
        &experiment("gpu = \"t4\"\nmodel = \"llama-2-7b\"\nquantization = \"int8\""),
    );
    let built_in = run_metrics(&file, &dir.path().join("a"), &[]);
    let ours = run_metrics(
        &file,
        &dir.path().join("b"),
        &["--catalog", cat.to_str().unwrap()],
    );
    let rate = |m: &serde_json::Value| number(m, "cost_usd") / number(m, "gpu_hours");
    assert!((rate(&built_in) - 0.50).abs() < 1e-9);
    assert!((rate(&ours) - 0.37).abs() < 1e-9);
    let list = capsim()
        .args(["list", "gpus", "--catalog", cat.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(list.stdout).unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with("t4 "))
        .expect("a t4 row");
    assert!(
        row.contains("Our T4") && row.contains("x1 $0.37/h"),
        "{row}"
    );
    // The other GPUs are still there.
    assert!(text.lines().any(|l| l.starts_with("a10g")), "{text}");
}

#[test]
fn an_inline_gpu_table_in_an_experiment_works_like_a_catalog_gpu() {
    let dir = tempfile::tempdir().unwrap();
    // The T4 file as an inline table under a new id: the same results as `gpu = "t4"`.
    let t4 = builtin("gpus/t4.toml")
        .replace("id = \"t4\"", "id = \"inline-t4\"")
        .replace("[interconnect]", "[endpoint.gpu.interconnect]")
        .replace("[[price]]", "[[endpoint.gpu.price]]");
    let base = experiment("model = \"llama-2-7b\"\nquantization = \"int8\"");
    let inline = write(
        dir.path(),
        "inline.toml",
        &format!("{base}\n[endpoint.gpu]\n{t4}"),
    );
    let named = write(
        dir.path(),
        "named.toml",
        &experiment("gpu = \"t4\"\nmodel = \"llama-2-7b\"\nquantization = \"int8\""),
    );
    let a = run_metrics(&inline, &dir.path().join("a"), &[]);
    let b = run_metrics(&named, &dir.path().join("b"), &[]);
    assert_eq!(a, b);

    // An inline instance and engine class too.
    let g5 = builtin("instances/g5.12xlarge.toml")
        .replace("id = \"g5.12xlarge\"", "id = \"my-g5\"")
        .replace("[interconnect]", "[endpoint.instance.interconnect]")
        .replace("[[price]]", "[[endpoint.instance.price]]");
    let class = my_class("inline-vllm")
        .replace("[host]", "[endpoint.engine.class.host]")
        .replace("[kernels]", "[endpoint.engine.class.kernels]")
        .replace("[api]", "[endpoint.engine.class.api]")
        .replace(
            "[quantized-kernels]",
            "[endpoint.engine.class.quantized-kernels]",
        )
        .replace("[sources]", "[endpoint.engine.class.sources]");
    let both = write(
        dir.path(),
        "both.toml",
        &format!(
            "{}\n[endpoint.instance]\n{g5}\n[endpoint.engine]\nkind = \"vllm\"\n[endpoint.engine.class]\n{class}",
            experiment("model = \"llama-2-13b\"")
        ),
    );
    let out = capsim().arg("explain").arg(&both).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("on 4 x a10g"), "{text}");
    assert!(text.contains("class inline-vllm"), "{text}");
    assert!(text.contains("$5.67 per replica-hour (aws-ec2"), "{text}");

    // A bad value inside the inline table is located in the experiment file.
    let bad = write(
        dir.path(),
        "bad.toml",
        &std::fs::read_to_string(&inline)
            .unwrap()
            .replace("bandwidth-gb-s = 320", "bandwidth-gb-s = 0"),
    );
    let err = capsim().arg("validate").arg(&bad).output().unwrap();
    assert_eq!(err.status.code(), Some(2));
    let stderr = String::from_utf8(err.stderr).unwrap();
    assert!(
        stderr.contains("bad.toml:")
            && stderr.contains("`endpoint.gpu.bandwidth-gb-s`: must be positive, found 0"),
        "{stderr}"
    );
}

#[test]
fn a_bad_user_catalog_file_is_reported_with_its_path_key_and_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("catalog");
    let gpu = put(
        &cat,
        "gpus/my-t4.toml",
        &my_gpu("my-t4", 0.42).replace("bandwidth-gb-s = 320", "bandwidth-gb-s = -5"),
    );
    let line = std::fs::read_to_string(&gpu)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("bandwidth-gb-s"))
        .unwrap()
        + 1;
    for args in [
        vec!["list", "gpus"],
        vec!["validate", "experiments/llm/t4-int8-chat.toml"],
        vec!["curve", "--gpu", "t4", "--model", "llama-2-7b"],
    ] {
        let out = capsim()
            .args(&args)
            .arg("--catalog")
            .arg(&cat)
            .current_dir(root())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let want = format!(
            "error: {}:{line}:1: `bandwidth-gb-s`: must be positive, found -5\n  hint: a file in gpus/",
            gpu.display()
        );
        assert!(stderr.contains(&want), "{args:?}: {stderr}");
    }

    // An unknown key, with a suggestion; and a kernel no catalog has.
    std::fs::write(
        &gpu,
        my_gpu("my-t4", 0.42).replace("bandwidth-gb-s", "bandwith-gb-s"),
    )
    .unwrap();
    let out = capsim()
        .args(["list", "gpus", "--catalog"])
        .arg(&cat)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "{}:{line}:1: `bandwith-gb-s`: unknown field `bandwith-gb-s`",
            gpu.display()
        )) && stderr.contains("hint: did you mean `bandwidth-gb-s`?"),
        "{stderr}"
    );
    std::fs::remove_file(&gpu).unwrap();
    let class = put(
        &cat,
        "engines/my-vllm.toml",
        &my_class("my-vllm").replace("\"marlin\", ", "\"no-such-kernel\", "),
    );
    let out = capsim()
        .args(["list", "engines", "--catalog"])
        .arg(&cat)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("{}:", class.display()))
            && stderr.contains("`quantized-kernels.int4`: unknown kernel \"no-such-kernel\""),
        "{stderr}"
    );
    // A folder that does not exist.
    let out = capsim()
        .args(["list", "gpus", "--catalog", "/no/such/folder"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn curve_of_a_shipped_experiment_file_shows_its_endpoint() {
    let file = root().join("experiments/llm/t4-int8-chat.toml");
    let from_file = capsim().arg("curve").arg(&file).output().unwrap();
    assert!(from_file.status.success());
    let from_flags = capsim()
        .args([
            "curve",
            "--gpu",
            "t4",
            "--model",
            "llama-2-7b",
            "--quant",
            "int8",
        ])
        .output()
        .unwrap();
    assert!(from_flags.status.success());
    let text = String::from_utf8(from_file.stdout).unwrap();
    assert!(
        text.starts_with("Llama-2-7B int8 on 1 x NVIDIA T4"),
        "{text}"
    );
    assert_eq!(text, String::from_utf8(from_flags.stdout).unwrap());

    // Both or neither: a usage error.
    let both = capsim()
        .arg("curve")
        .arg(&file)
        .args(["--gpu", "t4"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    assert!(
        String::from_utf8(both.stderr)
            .unwrap()
            .contains("give either an experiment FILE or deployment flags, not both")
    );
    let neither = capsim().arg("curve").output().unwrap();
    assert_eq!(neither.status.code(), Some(2));
    assert!(
        String::from_utf8(neither.stderr)
            .unwrap()
            .contains("give an experiment FILE, or --gpu and --model")
    );
    let plain = capsim()
        .arg("curve")
        .arg(root().join("experiments/queueing/mmc.toml"))
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(2));
}

#[test]
fn the_price_list_gpus_shows_is_the_one_a_default_run_bills() {
    let list = capsim().args(["list", "gpus"]).output().unwrap();
    let text = String::from_utf8(list.stdout).unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with("l4 "))
        .expect("an l4 row");
    // L4 is $0.70 on GCP and $0.80 on AWS: the list shows what a run bills, AWS x1.
    assert!(row.contains("x1 $0.80/h"), "{row}");
    let listed: f64 = row
        .split("x1 $")
        .nth(1)
        .and_then(|s| s.split("/h").next())
        .and_then(|s| s.parse().ok())
        .expect("a listed x1 price");

    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "x.toml",
        &experiment("gpu = \"l4\"\nmodel = \"llama-2-7b\""),
    );
    let m = run_metrics(&file, &dir.path().join("out"), &[]);
    let hours = number(&m, "gpu_hours");
    assert!(hours > 0.0);
    assert!(
        (number(&m, "cost_usd") - hours * listed).abs() < 1e-9,
        "cost {} for {hours} h at ${listed}/h",
        number(&m, "cost_usd")
    );

    // An instance bills its first listed price, which the list marks as the default.
    let p4d = text
        .lines()
        .find(|l| l.starts_with("p4d.24xlarge"))
        .expect("a p4d row");
    assert!(p4d.contains("$21.96/h aws-ec2 x8, default"), "{p4d}");
    let file = write(
        dir.path(),
        "p4d.toml",
        &experiment("instance = \"p4d.24xlarge\"\nmodel = \"llama-2-70b\""),
    );
    let m = run_metrics(&file, &dir.path().join("p4d"), &[]);
    let replica_hours = number(&m, "gpu_hours") / 8.0;
    assert!(
        (number(&m, "cost_usd") - replica_hours * 21.957642).abs() < 1e-6,
        "{m}"
    );
}

#[test]
fn a_sweep_over_user_catalog_gpus_gives_the_same_files_sharded_and_whole() {
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("catalog");
    put(&cat, "gpus/my-t4.toml", &my_gpu("my-t4", 0.42));
    let file = write(
        dir.path(),
        "sweep.toml",
        &format!(
            "{}\n[sweep]\nendpoint.gpu = [\"t4\", \"my-t4\"]\n",
            experiment("gpu = \"t4\"\nmodel = \"llama-2-7b\"\nquantization = \"int8\"")
        ),
    );
    let run = |out: &str, extra: &[&str]| {
        let status = capsim()
            .arg("run")
            .arg(&file)
            .args(["--quiet", "--catalog"])
            .arg(&cat)
            .arg("--out")
            .arg(dir.path().join(out))
            .args(extra)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    run("whole", &[]);
    run("s1", &["--shard", "1/2"]);
    run("s2", &["--shard", "2/2"]);
    let merged = capsim()
        .arg("merge")
        .arg(dir.path().join("s1"))
        .arg(dir.path().join("s2"))
        .arg("--out")
        .arg(dir.path().join("merged"))
        .output()
        .unwrap();
    assert!(merged.status.success());
    for f in ["summary.json", "summary.csv"] {
        let a = std::fs::read(dir.path().join("whole").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("merged").join(f)).unwrap();
        assert_eq!(a, b, "{f}");
    }
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("whole/summary.json")).unwrap(),
    )
    .unwrap();
    let rate = |i: usize| {
        let m = &json["runs"][i]["metrics"];
        number(m, "cost_usd") / number(m, "gpu_hours")
    };
    assert!((rate(0) - 0.50).abs() < 1e-9 && (rate(1) - 0.42).abs() < 1e-9);
}
