//! Snapshots of what a user reads: the text table, `summary.csv`, `summary.json` and `report.md`
//! of two shipped experiments, one M/M/c queue and one LLM endpoint. A change to any byte shows
//! up as a diff to review; bless an intended one with `INSTA_UPDATE=always cargo test --release
//! snapshots` and commit the files under `tests/integration/snapshots/`.

use crate::support::{capsim, root};

/// Runs a shipped experiment into a fresh folder and returns (stdout without the lines that name
/// the folder or the wall-clock speed, summary.csv, summary.json, report.md).
fn outputs(rel: &str) -> (String, String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = capsim()
        .arg("run")
        .arg(root().join(rel))
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table: String = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("wrote ") && !l.contains(" events in "))
        .map(|l| format!("{l}\n"))
        .collect();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    (
        table,
        read("summary.csv"),
        read("summary.json"),
        read("report.md"),
    )
}

fn check(tag: &str, rel: &str) {
    let (table, csv, json, md) = outputs(rel);
    insta::assert_snapshot!(format!("{tag}_table"), table);
    insta::assert_snapshot!(format!("{tag}_summary_csv"), csv);
    insta::assert_snapshot!(format!("{tag}_summary_json"), json);
    insta::assert_snapshot!(format!("{tag}_report_md"), md);
}

#[test]
fn the_mmc_queue_outputs_are_unchanged_byte_for_byte() {
    check("mmc_patience", "experiments/queueing/mmc-patience.toml");
}

#[test]
fn the_t4_chat_endpoint_outputs_are_unchanged_byte_for_byte() {
    check("t4_int8_chat", "experiments/llm/t4-int8-chat.toml");
}
