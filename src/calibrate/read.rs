//! Readers of load-test results: the JSON of `vllm bench serve` and SGLang's `bench_serving`
//! (one object per file, or one per line as `--output-file` appends them), and a CSV of
//! per-request rows.

use std::path::Path;

use serde_json::{Map, Value};

use super::data::{Level, LoadTest, Observed, Tokens};
use crate::error::ConfigError;

/// Runs of a dataset other than `random` without per-request lengths are skipped: the
/// lengths of their prompts are not in the file.
///
/// Reads a load test, choosing the reader by the file's content: JSON when it starts with `{`,
/// CSV otherwise.
pub fn read(path: &Path) -> Result<LoadTest, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(path, format!("cannot read the load-test file: {e}"))
            .with_hint("give the JSON written by `vllm bench serve` or SGLang's bench_serving, or a CSV of per-request rows")
    })?;
    parse(&text, path)
}

/// Parses load-test text `text` as read from `path`.
pub fn parse(text: &str, path: &Path) -> Result<LoadTest, ConfigError> {
    let levels = if text.trim_start().starts_with('{') {
        parse_bench_json(text, path)?
    } else {
        parse_request_csv(text, path)?
    };
    if levels.is_empty() {
        return Err(ConfigError::new(path, "no load level found in the file")
            .with_hint("a bench JSON needs request_rate, completed and mean end-to-end latency; a CSV needs at least one row"));
    }
    Ok(LoadTest {
        path: path.to_path_buf(),
        levels,
    })
}

fn field<'a>(o: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| o.get(*n).filter(|v| !v.is_null()))
}

fn number(
    o: &Map<String, Value>,
    names: &[&str],
    path: &Path,
    line: usize,
) -> Result<Option<f64>, ConfigError> {
    match field(o, names) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(
                ConfigError::new(path, format!("expected a non-negative number, found {v}"))
                    .at_key(names[0])
                    .at_line(line, None),
            ),
        },
    }
}

fn required(
    o: &Map<String, Value>,
    names: &[&str],
    path: &Path,
    line: usize,
) -> Result<f64, ConfigError> {
    number(o, names, path, line)?.ok_or_else(|| {
        ConfigError::new(path, format!("missing `{}`", names.join("` or `")))
            .at_line(line, None)
            .with_hint("the file should be the result JSON of `vllm bench serve --save-result` or SGLang's `bench_serving --output-file`")
    })
}

/// Token lengths of a `random` dataset: bench_serving draws each length uniformly between
/// `max(1, len x range_ratio)` and `len`; otherwise the mean of the totals, fixed.
fn lengths(
    o: &Map<String, Value>,
    len: &[&str],
    total: &str,
    completed: f64,
    path: &Path,
    line: usize,
) -> Result<Tokens, ConfigError> {
    let random = field(o, &["dataset_name"]).and_then(Value::as_str) == Some("random");
    if random && let Some(l) = number(o, len, path, line)? {
        let ratio = number(o, &["random_range_ratio"], path, line)?.unwrap_or(0.0);
        let max = l.round() as u64;
        let min = ((l * ratio) as u64).max(1);
        return Ok(Tokens { min, max });
    }
    let t = required(o, &[total], path, line)?;
    let mean = (t / completed.max(1.0)).round().max(1.0) as u64;
    Ok(Tokens {
        min: mean,
        max: mean,
    })
}

fn parse_bench_json(text: &str, path: &Path) -> Result<Vec<Level>, ConfigError> {
    // One object in the whole file (vllm), or one per line (SGLang appends a line per run).
    let objects: Vec<(usize, Value)> = match serde_json::from_str::<Value>(text) {
        Ok(v) => vec![(1, v)],
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str::<Value>(l)
                    .map(|v| (i + 1, v))
                    .map_err(|e| {
                        ConfigError::new(path, format!("not a JSON object: {e}"))
                            .at_line(i + 1, Some(e.column()))
                            .with_hint("a bench JSON file holds one result object, or one per line")
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    let mut levels = Vec::new();
    for (line, v) in objects {
        let Some(o) = v.as_object() else {
            return Err(
                ConfigError::new(path, format!("expected a JSON object, found {v}"))
                    .at_line(line, None),
            );
        };
        // A dataset of recorded conversations (sharegpt...) has lengths the file does not
        // give, so its runs cannot be replayed: they are left out.
        let dataset = field(o, &["dataset_name"]).and_then(Value::as_str);
        if dataset.is_some_and(|d| d != "random") && field(o, &["input_lens"]).is_none() {
            continue;
        }
        let rate = field(o, &["request_rate"]);
        let rate = match rate.and_then(Value::as_f64) {
            Some(r) if r > 0.0 && r.is_finite() => r,
            _ => {
                return Err(ConfigError::new(
                    path,
                    format!(
                        "`request_rate` must be a positive number of requests per second, found {}",
                        rate.map_or("nothing".to_string(), Value::to_string)
                    ),
                )
                .at_line(line, None)
                .with_hint("calibrate replays Poisson arrivals at the test's rate: runs with an infinite rate or a max-concurrency limit cannot be replayed"));
            }
        };
        if field(o, &["max_concurrency"]).is_some() {
            return Err(ConfigError::new(path, "a run with `max_concurrency` set")
                .at_line(line, None)
                .with_hint("only open-loop runs (request rate without a concurrency limit) can be replayed"));
        }
        let completed = required(o, &["completed"], path, line)?;
        let ms = |names: &[&str]| -> Result<Option<f64>, ConfigError> {
            Ok(number(o, names, path, line)?.map(|x| x / 1000.0))
        };
        let e2e_mean_s = ms(&["mean_e2e_latency_ms", "mean_e2el_ms"])?.ok_or_else(|| {
            ConfigError::new(path, "missing `mean_e2e_latency_ms` or `mean_e2el_ms`")
                .at_line(line, None)
                .with_hint("the mean end-to-end latency is what calibrate fits")
        })?;
        if e2e_mean_s <= 0.0 {
            return Err(ConfigError::new(path, "mean end-to-end latency is 0").at_line(line, None));
        }
        let requests = number(o, &["num_prompts"], path, line)?.unwrap_or(completed);
        levels.push(Level {
            line,
            rate,
            requests: requests.round() as u64,
            prompt: lengths(
                o,
                &["random_input_len"],
                "total_input_tokens",
                completed,
                path,
                line,
            )?,
            output: lengths(
                o,
                &["random_output_len"],
                "total_output_tokens",
                completed,
                path,
                line,
            )?,
            observed: Observed {
                e2e_mean_s,
                e2e_median_s: ms(&["median_e2e_latency_ms", "median_e2el_ms"])?,
                ttft_median_s: ms(&["median_ttft_ms"])?,
                itl_median_s: ms(&["median_itl_ms"])?,
                tpot_mean_s: ms(&["mean_tpot_ms"])?,
            },
        });
    }
    Ok(levels)
}

/// Per-request rows: `rate` (the level's request rate, per second), `prompt_tokens`,
/// `output_tokens`, `ttft_s` and `e2e_s`; rows of one rate form one level.
fn parse_request_csv(text: &str, path: &Path) -> Result<Vec<Level>, ConfigError> {
    const COLUMNS: [&str; 5] = ["rate", "prompt_tokens", "output_tokens", "ttft_s", "e2e_s"];
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = r
        .headers()
        .map_err(|e| ConfigError::new(path, format!("cannot read the CSV header: {e}")))?
        .clone();
    let mut idx = [0usize; 5];
    for (k, name) in COLUMNS.iter().enumerate() {
        idx[k] = header
            .iter()
            .position(|h| h.trim() == *name)
            .ok_or_else(|| {
                ConfigError::new(path, format!("the CSV header has no `{name}` column"))
                    .at_line(1, None)
                    .with_hint(format!(
                        "per-request rows need the columns {}",
                        COLUMNS.join(", ")
                    ))
            })?;
    }
    // (rate, rows of [prompt, output, ttft, e2e]) in order of first appearance.
    let mut groups: Vec<(f64, usize, Vec<[f64; 4]>)> = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| {
            ConfigError::new(path, format!("malformed CSV row: {e}")).at_line(line, None)
        })?;
        let mut v = [0.0; 5];
        for (k, name) in COLUMNS.iter().enumerate() {
            let cell = rec.get(idx[k]).unwrap_or("").trim();
            v[k] = cell
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    ConfigError::new(
                        path,
                        format!("`{name}` must be a non-negative number, found \"{cell}\""),
                    )
                    .at_line(line, None)
                    .at_key(*name)
                })?;
        }
        if v[0] <= 0.0 {
            return Err(ConfigError::new(path, "`rate` must be above 0").at_line(line, None));
        }
        match groups.iter_mut().find(|g| g.0 == v[0]) {
            Some(g) => g.2.push([v[1], v[2], v[3], v[4]]),
            None => groups.push((v[0], line, vec![[v[1], v[2], v[3], v[4]]])),
        }
    }
    Ok(groups
        .into_iter()
        .map(|(rate, line, rows)| {
            let n = rows.len() as f64;
            let range = |k: usize| Tokens {
                min: rows.iter().map(|r| r[k] as u64).min().unwrap_or(1).max(1),
                max: rows.iter().map(|r| r[k] as u64).max().unwrap_or(1).max(1),
            };
            let median = |k: usize| {
                let mut x: Vec<f64> = rows.iter().map(|r| r[k]).collect();
                x.sort_by(f64::total_cmp);
                x[x.len() / 2]
            };
            // Time per output token after the first, as bench_serving's TPOT.
            let mut tpot: Vec<f64> = rows
                .iter()
                .filter(|r| r[1] > 1.0)
                .map(|r| (r[3] - r[2]) / (r[1] - 1.0))
                .collect();
            tpot.sort_by(f64::total_cmp);
            Level {
                line,
                rate,
                requests: rows.len() as u64,
                prompt: range(0),
                output: range(1),
                observed: Observed {
                    e2e_mean_s: rows.iter().map(|r| r[3]).sum::<f64>() / n,
                    e2e_median_s: Some(median(3)),
                    ttft_median_s: Some(median(2)),
                    itl_median_s: tpot.get(tpot.len() / 2).copied(),
                    tpot_mean_s: (!tpot.is_empty())
                        .then(|| tpot.iter().sum::<f64>() / tpot.len() as f64),
                },
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.json")
    }

    #[test]
    fn an_sglang_line_per_rate_gives_one_level_per_line() {
        let text = concat!(
            r#"{"backend": "sglang", "dataset_name": "random", "request_rate": 1.0, "max_concurrency": null, "total_input_tokens": 1500, "total_output_tokens": 1600, "mean_e2e_latency_ms": 7840.0, "median_e2e_latency_ms": 7819.0, "median_ttft_ms": 85.0, "median_itl_ms": 13.6, "random_input_len": 1024, "random_output_len": 512, "random_range_ratio": 0.0, "completed": 3}"#,
            "\n",
            r#"{"backend": "sglang", "dataset_name": "random", "request_rate": 2.0, "total_input_tokens": 1500, "total_output_tokens": 1600, "mean_e2e_latency_ms": 8000.0, "random_input_len": 1024, "random_output_len": 512, "random_range_ratio": 0.5, "completed": 6}"#,
            "\n"
        );
        let t = parse(text, p()).unwrap();
        assert_eq!(t.levels.len(), 2);
        let a = &t.levels[0];
        assert_eq!((a.line, a.rate, a.requests), (1, 1.0, 3));
        assert_eq!(a.prompt, Tokens { min: 1, max: 1024 });
        assert_eq!(a.observed.ttft_median_s, Some(0.085));
        assert_eq!(t.levels[1].output, Tokens { min: 256, max: 512 });
        assert_eq!(t.levels[1].observed.itl_median_s, None);
    }

    #[test]
    fn a_sharegpt_run_without_lengths_is_left_out() {
        let text = "{\"dataset_name\": \"sharegpt\", \"request_rate\": 4.0, \"completed\": 3, \"mean_e2e_latency_ms\": 1.0}\n{\"dataset_name\": \"random\", \"request_rate\": 2.0, \"completed\": 3, \"random_input_len\": 8, \"random_output_len\": 8, \"mean_e2e_latency_ms\": 1.0}\n";
        let t = parse(text, p()).unwrap();
        assert_eq!(t.levels.len(), 1);
        assert_eq!(t.levels[0].rate, 2.0);
    }

    #[test]
    fn a_vllm_result_object_with_e2el_keys_is_read() {
        let text = r#"{"backend": "vllm", "num_prompts": 100, "request_rate": 4.0, "completed": 98,
            "total_input_tokens": 9800, "total_output_tokens": 19600, "mean_e2el_ms": 3000.0,
            "median_e2el_ms": 2900.0, "median_ttft_ms": 50.0, "median_itl_ms": 12.0}"#;
        let t = parse(text, p()).unwrap();
        let l = &t.levels[0];
        assert_eq!(l.requests, 100);
        assert_eq!(l.prompt, Tokens { min: 100, max: 100 });
        assert_eq!(l.output, Tokens { min: 200, max: 200 });
        assert_eq!(l.observed.e2e_median_s, Some(2.9));
    }

    #[test]
    fn a_bench_line_without_latency_names_its_line_and_key() {
        let text = "{\"request_rate\": 1.0, \"completed\": 3, \"total_input_tokens\": 3, \"total_output_tokens\": 3, \"mean_e2e_latency_ms\": 1.0}\n{\"request_rate\": 2.0, \"completed\": 3}\n";
        let e = parse(text, p()).unwrap_err().to_string();
        assert!(e.contains(":2") && e.contains("mean_e2e_latency_ms"), "{e}");
    }

    #[test]
    fn a_broken_json_line_and_an_infinite_rate_are_refused() {
        let e = parse("{\"request_rate\": 1.0,\n{oops\n", p())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a JSON object"), "{e}");
        let e = parse(r#"{"request_rate": "inf", "completed": 3}"#, p())
            .unwrap_err()
            .to_string();
        assert!(e.contains("request_rate") && e.contains("Poisson"), "{e}");
    }

    #[test]
    fn per_request_rows_are_grouped_by_rate() {
        let text = "rate,prompt_tokens,output_tokens,ttft_s,e2e_s\n1,100,11,0.1,1.1\n1,200,21,0.2,2.2\n2,300,31,0.3,3.3\n";
        let t = parse(text, Path::new("r.csv")).unwrap();
        assert_eq!(t.levels.len(), 2);
        let a = &t.levels[0];
        assert_eq!(a.requests, 2);
        assert_eq!(a.prompt, Tokens { min: 100, max: 200 });
        assert!((a.observed.e2e_mean_s - 1.65).abs() < 1e-12);
        assert_eq!(t.levels[1].line, 4);
    }

    #[test]
    fn a_csv_without_a_column_or_with_a_bad_cell_says_which() {
        let e = parse("rate,prompt_tokens\n1,2\n", Path::new("r.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("output_tokens") && e.contains("r.csv"), "{e}");
        let e = parse(
            "rate,prompt_tokens,output_tokens,ttft_s,e2e_s\n1,100,x,0.1,1\n",
            Path::new("r.csv"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(":2") && e.contains("output_tokens"), "{e}");
    }
}
