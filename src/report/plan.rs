//! What `capsim plan` writes: its own rows (the runner fills them), and pure functions from them
//! to the bytes of `plan.csv`, `simulations.csv`, `plan.json`, the ranked table and the Pareto
//! chart.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use crate::error::RunError;
use crate::report::charts::sig;

/// Why a candidate was kept or dropped.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanStatus {
    /// Among the cheapest that meet the SLO, confirmed with replications.
    Chosen,
    /// Cannot beat the chosen ones: its cost bound, or its cost where it meets the SLO, is
    /// higher.
    Dominated,
    /// Misses the SLO even at the most replicas allowed.
    SloMissed,
    /// Cannot carry the load even at the most replicas allowed, by the service model's
    /// capacity (an upper bound), so it was not simulated.
    Capacity,
    /// The model does not fit the GPU memory.
    DoesNotFit,
    /// No price is known for it, so it cannot be ranked.
    NoPrice,
    /// The configuration is invalid for another reason (the message says which).
    Invalid,
}

impl PlanStatus {
    /// The status as written in the outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Chosen => "chosen",
            PlanStatus::Dominated => "dominated",
            PlanStatus::SloMissed => "slo-missed",
            PlanStatus::Capacity => "capacity",
            PlanStatus::DoesNotFit => "does-not-fit",
            PlanStatus::NoPrice => "no-price",
            PlanStatus::Invalid => "invalid",
        }
    }

    /// Every status, in the order the table counts them.
    pub const ALL: [PlanStatus; 7] = [
        PlanStatus::Chosen,
        PlanStatus::Dominated,
        PlanStatus::SloMissed,
        PlanStatus::Capacity,
        PlanStatus::DoesNotFit,
        PlanStatus::NoPrice,
        PlanStatus::Invalid,
    ];
}

/// What one simulated configuration (or the mean of its confirmation seeds) measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanMetrics {
    /// Instance cost per hour of the measurement window, US dollars.
    pub usd_per_hour: Option<f64>,
    /// Cost per 1,000 answered requests, US dollars.
    pub usd_per_1k_answered: Option<f64>,
    /// Cost per million output tokens of answered requests, US dollars.
    pub usd_per_1m_tokens: Option<f64>,
    /// Share of requests not answered, unfinished ones included.
    pub failed_rate: Option<f64>,
    /// Share of requests that timed out.
    pub timeout_rate: Option<f64>,
    /// 99th percentile latency of every request as its user saw it, seconds.
    pub latency_all_p99_s: Option<f64>,
    /// 99th percentile time to first token of answered requests, seconds.
    pub ttft_p99_s: Option<f64>,
    /// Time-average replicas starting or running.
    pub replicas_mean: Option<f64>,
    /// `stable`, `backlogged` or `overloaded` (of the first seed).
    pub verdict: String,
    /// Whether the SLO was met: on one seed, or with the SLO's confidence over several.
    pub slo_met: bool,
}

/// One simulation point the planner ran (one seed, or a confirmation over several).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanSimulation {
    /// The candidate's index.
    pub candidate: usize,
    /// Its replica count (the most replicas, with a lifecycle).
    pub replicas: u32,
    /// `screen` (one seed) or `confirm` (every replication seed).
    pub stage: &'static str,
    /// Seeds simulated.
    pub seeds: u32,
    /// What it measured.
    pub metrics: PlanMetrics,
}

/// One candidate: a value of every search axis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanCandidate {
    /// Position in the search space (first axis slowest).
    pub index: usize,
    /// `key=value` of every axis.
    pub label: String,
    /// The axis values by key path.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Kept or why dropped.
    pub status: PlanStatus,
    /// Rank among the chosen (1 = cheapest).
    pub rank: Option<u32>,
    /// Why, in words, with the figures that decided it.
    pub reason: String,
    /// The fewest replicas found to meet the SLO, if any.
    pub replicas: Option<u32>,
    /// US dollars per hour of one replica (instance), when known.
    pub usd_per_replica_hour: Option<f64>,
    /// Requests per second one replica completes at most (the service model's upper bound).
    pub capacity_per_replica_rps: Option<f64>,
    /// Lowest cost per hour it could have had, from its price and capacity, US dollars.
    pub usd_per_hour_bound: Option<f64>,
    /// Simulations run for it.
    pub simulations: u32,
    /// What it measured at `replicas` (confirmation seeds when confirmed).
    pub metrics: Option<PlanMetrics>,
}

/// Everything a plan found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanReport {
    /// capsim's version.
    pub capsim: String,
    /// The plan's name.
    pub plan: String,
    /// The master seed.
    pub seed: u64,
    /// The SLO in words.
    pub slo: String,
    /// The mean arrival rate of the workload, per second.
    pub rate_per_s: f64,
    /// Points of the search space: candidates × replica counts.
    pub points: u64,
    /// Whether the search ran to its end (not stopped by `max-simulations`).
    pub complete: bool,
    /// Simulations run (seeds count one each).
    pub simulations_run: u64,
    /// Every candidate, in search-space order.
    pub candidates: Vec<PlanCandidate>,
    /// Every simulation point, in the order the search ran them.
    pub simulations: Vec<PlanSimulation>,
    /// The runner-up written beside the winner (candidate, replicas): the costliest simulated
    /// point at or below the winner's cost that missed the SLO, else the cheapest that missed.
    pub runner_up: Option<(usize, u32)>,
}

impl PlanReport {
    /// The chosen candidates, cheapest first.
    pub fn chosen(&self) -> Vec<&PlanCandidate> {
        let mut c: Vec<&PlanCandidate> = self
            .candidates
            .iter()
            .filter(|c| c.status == PlanStatus::Chosen)
            .collect();
        c.sort_by_key(|c| c.rank);
        c
    }
}

fn encode(e: impl std::fmt::Display) -> RunError {
    RunError::Encode {
        format: "CSV",
        message: e.to_string(),
    }
}

fn real(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x}"),
        _ => String::new(),
    }
}

const METRIC_COLUMNS: [&str; 10] = [
    "usd_per_hour",
    "usd_per_1k_answered",
    "usd_per_1m_tokens",
    "failed_rate",
    "timeout_rate",
    "latency_all_p99_s",
    "ttft_p99_s",
    "replicas_mean",
    "verdict",
    "slo_met",
];

fn metric_cells(m: Option<&PlanMetrics>) -> Vec<String> {
    match m {
        None => vec![String::new(); METRIC_COLUMNS.len()],
        Some(m) => vec![
            real(m.usd_per_hour),
            real(m.usd_per_1k_answered),
            real(m.usd_per_1m_tokens),
            real(m.failed_rate),
            real(m.timeout_rate),
            real(m.latency_all_p99_s),
            real(m.ttft_p99_s),
            real(m.replicas_mean),
            m.verdict.clone(),
            if m.slo_met { "yes" } else { "no" }.into(),
        ],
    }
}

fn param_keys(r: &PlanReport) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for c in &r.candidates {
        for k in c.params.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys.sort();
    keys
}

fn param_cell(v: Option<&serde_json::Value>) -> String {
    match v {
        None => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `plan.csv`: every candidate with its status and why, in search-space order.
pub fn plan_csv(r: &PlanReport) -> Result<Vec<u8>, RunError> {
    let keys = param_keys(r);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["candidate".into(), "seed".into()];
    header.extend(keys.iter().cloned());
    header.extend(
        [
            "status",
            "rank",
            "replicas",
            "usd_per_replica_hour",
            "capacity_per_replica_rps",
            "usd_per_hour_bound",
            "simulations",
        ]
        .map(String::from),
    );
    header.extend(METRIC_COLUMNS.map(String::from));
    header.push("reason".into());
    w.write_record(&header).map_err(encode)?;
    for c in &r.candidates {
        let mut row = vec![c.index.to_string(), r.seed.to_string()];
        row.extend(keys.iter().map(|k| param_cell(c.params.get(k))));
        row.push(c.status.as_str().into());
        row.push(c.rank.map(|k| k.to_string()).unwrap_or_default());
        row.push(c.replicas.map(|k| k.to_string()).unwrap_or_default());
        row.push(real(c.usd_per_replica_hour));
        row.push(real(c.capacity_per_replica_rps));
        row.push(real(c.usd_per_hour_bound));
        row.push(c.simulations.to_string());
        row.extend(metric_cells(c.metrics.as_ref()));
        row.push(c.reason.clone());
        w.write_record(&row).map_err(encode)?;
    }
    w.into_inner().map_err(encode)
}

/// `simulations.csv`: every simulation point the search ran, in order.
pub fn simulations_csv(r: &PlanReport) -> Result<Vec<u8>, RunError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "step",
        "seed",
        "candidate",
        "label",
        "replicas",
        "stage",
        "seeds",
    ]
    .map(String::from)
    .to_vec();
    header.extend(METRIC_COLUMNS.map(String::from));
    w.write_record(&header).map_err(encode)?;
    for (i, s) in r.simulations.iter().enumerate() {
        let mut row = vec![
            i.to_string(),
            r.seed.to_string(),
            s.candidate.to_string(),
            r.candidates[s.candidate].label.clone(),
            s.replicas.to_string(),
            s.stage.into(),
            s.seeds.to_string(),
        ];
        row.extend(metric_cells(Some(&s.metrics)));
        w.write_record(&row).map_err(encode)?;
    }
    w.into_inner().map_err(encode)
}

/// `plan.json`: the whole report, pretty-printed, ending in a newline.
pub fn plan_json(r: &PlanReport) -> Result<Vec<u8>, RunError> {
    let mut bytes = serde_json::to_vec_pretty(r).map_err(|e| RunError::Encode {
        format: "JSON",
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn money(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("${x:.2}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{:.2} %", x * 100.0))
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.2} s"))
}

/// The ranked table printed on stdout: the answer, the chosen candidates, the counts by status.
pub fn plan_table(r: &PlanReport) -> String {
    let mut out = format!("{} (seed {})\nSLO: {}\n", r.plan, r.seed, r.slo);
    let chosen = r.chosen();
    match chosen.first() {
        Some(w) => {
            let m = w.metrics.as_ref();
            out += &format!(
                "\ncheapest that meets the SLO: {} with {} replica{} at {}/h ({} per 1,000 answered; failed {})\n",
                w.label,
                w.replicas.unwrap_or(0),
                if w.replicas == Some(1) { "" } else { "s" },
                money(m.and_then(|m| m.usd_per_hour)),
                money(m.and_then(|m| m.usd_per_1k_answered)),
                pct(m.and_then(|m| m.failed_rate)),
            );
        }
        None => out += "\nno candidate meets the SLO\n",
    }
    if !chosen.is_empty() {
        let mut rows = vec![[
            "rank".to_string(),
            "candidate".into(),
            "replicas".into(),
            "$/h".into(),
            "$/1k answered".into(),
            "$/1M tokens".into(),
            "failed".into(),
            "p99 all".into(),
            "verdict".into(),
        ]];
        for c in &chosen {
            let m = c.metrics.as_ref();
            rows.push([
                c.rank.map(|k| k.to_string()).unwrap_or_default(),
                c.label.clone(),
                c.replicas.map(|k| k.to_string()).unwrap_or_default(),
                money(m.and_then(|m| m.usd_per_hour)),
                money(m.and_then(|m| m.usd_per_1k_answered)),
                money(m.and_then(|m| m.usd_per_1m_tokens)),
                pct(m.and_then(|m| m.failed_rate)),
                secs(m.and_then(|m| m.latency_all_p99_s)),
                m.map(|m| m.verdict.clone()).unwrap_or_default(),
            ]);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        out.push('\n');
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if i == 1 || i == 8 {
                        format!("{c:<w$}")
                    } else {
                        format!("{c:>w$}")
                    }
                })
                .collect();
            out += cells.join("  ").trim_end();
            out.push('\n');
        }
    }
    out += &format!(
        "\n{} candidates ({} points with the replica range): ",
        r.candidates.len(),
        r.points
    );
    let counts: Vec<String> = PlanStatus::ALL
        .iter()
        .filter_map(|s| {
            let n = r.candidates.iter().filter(|c| c.status == *s).count();
            (n > 0).then(|| format!("{n} {}", s.as_str()))
        })
        .collect();
    out += &counts.join(", ");
    out += &format!("\n{} simulations run", r.simulations_run);
    if !r.complete {
        out += " (stopped at max-simulations: the ranking is incomplete)";
    }
    out.push('\n');
    out
}

/// The Pareto chart: every simulated point as cost per hour against failed share (log axis),
/// the SLO's failed-rate bound as a vertical line, the points no other point beats on both as
/// a front, and the chosen ones labelled.
pub fn pareto_chart(path: &Path, r: &PlanReport, slo_failed: Option<f64>) -> Result<(), RunError> {
    pareto_on(
        BitMapBackend::new(path, (1280, 800)).into_drawing_area(),
        r,
        slo_failed,
    )?;
    pareto_on(
        SVGBackend::new(&path.with_extension("svg"), (1280, 800)).into_drawing_area(),
        r,
        slo_failed,
    )
}

/// [`pareto_chart`] on any backend.
fn pareto_on<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &PlanReport,
    slo_failed: Option<f64>,
) -> Result<(), RunError>
where
    DB::ErrorType: 'static,
{
    let draw = |e: &dyn std::fmt::Debug| RunError::Encode {
        format: "PNG",
        message: format!("{e:?}"),
    };
    // Failed shares of 0 sit at the axis floor so a log axis can show them.
    let floor = 1e-5;
    let pts: Vec<(f64, f64, bool, usize)> = r
        .simulations
        .iter()
        .filter_map(|s| {
            let c = s.metrics.usd_per_hour?;
            let f = s.metrics.failed_rate?.max(floor);
            Some((f, c, s.metrics.slo_met, s.candidate))
        })
        .collect();
    if pts.is_empty() {
        return Ok(());
    }
    crate::report::charts::font()?;
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for p in &pts {
        lo = lo.min(p.1);
        hi = hi.max(p.1);
    }
    // Costs on log10 coordinates of a linear axis, so the ticks fall every few dollars even
    // when the costs span less than a decade (a log axis would label only its decades).
    let (lo, hi) = ((lo / 1.3).log10(), (hi * 1.3).log10());
    let pts: Vec<(f64, f64, bool, usize)> = pts
        .into_iter()
        .map(|(f, c, m, k)| (f, c.log10(), m, k))
        .collect();
    root.fill(&WHITE).map_err(|e| draw(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "What each simulated configuration costs and how many requests it fails (seed {})",
                r.seed
            ),
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(90)
        .build_cartesian_2d((floor..1.0).log_scale(), lo..hi)
        .map_err(|e| draw(&e))?;
    chart
        .configure_mesh()
        .x_desc("requests failed (share, log scale; 0 drawn at 0.001 %)")
        .y_desc("cost (US$ per hour, log scale)")
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 15))
        .x_label_formatter(&|v| format!("{}%", sig(v * 100.0)))
        .y_labels(8)
        .y_label_formatter(&|v| format!("${}", sig(10f64.powf(*v))))
        .draw()
        .map_err(|e| draw(&e))?;
    let met = RGBColor(0x1b, 0x9e, 0x77);
    let missed = RGBColor(0xd9, 0x5f, 0x02);
    chart
        .draw_series(
            pts.iter()
                .filter(|p| p.2)
                .map(|p| Circle::new((p.0, p.1), 5, met.filled())),
        )
        .map_err(|e| draw(&e))?
        .label("meets the SLO")
        .legend(move |(x, y)| Circle::new((x + 12, y), 5, met.filled()));
    chart
        .draw_series(
            pts.iter()
                .filter(|p| !p.2)
                .map(|p| Cross::new((p.0, p.1), 5, missed.stroke_width(2))),
        )
        .map_err(|e| draw(&e))?
        .label("misses it")
        .legend(move |(x, y)| Cross::new((x + 12, y), 5, missed.stroke_width(2)));
    let front = crate::report::charts::pareto(pts.iter().map(|p| (p.0, p.1)).collect());
    chart
        .draw_series(LineSeries::new(front, BLACK.stroke_width(2)))
        .map_err(|e| draw(&e))?
        .label("Pareto front")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.stroke_width(2)));
    if let Some(f) = slo_failed.filter(|f| *f > floor && *f < 1.0) {
        let red = RGBColor(0xc0, 0x1c, 0x28);
        chart
            .draw_series(LineSeries::new(vec![(f, lo), (f, hi)], red.stroke_width(2)))
            .map_err(|e| draw(&e))?
            .label(format!("SLO: failed share at most {}%", sig(f * 100.0)))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], red.stroke_width(2)));
    }
    for c in r.chosen() {
        let (Some(m), Some(k)) = (c.metrics.as_ref(), c.rank) else {
            continue;
        };
        let (Some(cost), Some(f)) = (m.usd_per_hour, m.failed_rate) else {
            continue;
        };
        let at = (f.max(floor), cost.log10());
        chart
            .draw_series(std::iter::once(Circle::new(at, 10, BLACK.stroke_width(2))))
            .map_err(|e| draw(&e))?;
        chart
            .draw_series(std::iter::once(
                EmptyElement::at(at)
                    + Text::new(
                        format!("#{k} {} x{}", c.label, c.replicas.unwrap_or(0)),
                        (14, -20),
                        ("sans-serif", 15),
                    ),
            ))
            .map_err(|e| draw(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(|e| draw(&e))?;
    root.present().map_err(|e| draw(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(cost: f64, failed: f64, met: bool) -> PlanMetrics {
        PlanMetrics {
            usd_per_hour: Some(cost),
            usd_per_1k_answered: Some(cost / 3.6),
            usd_per_1m_tokens: None,
            failed_rate: Some(failed),
            timeout_rate: Some(failed),
            latency_all_p99_s: Some(1.0),
            ttft_p99_s: None,
            replicas_mean: Some(2.0),
            verdict: "stable".into(),
            slo_met: met,
        }
    }

    fn report() -> PlanReport {
        let cand = |i: usize, status, rank, reason: &str| PlanCandidate {
            index: i,
            label: format!("gpu=g{i}"),
            params: BTreeMap::from([(
                "endpoint.gpu".to_string(),
                serde_json::json!(format!("g{i}")),
            )]),
            status,
            rank,
            reason: reason.into(),
            replicas: rank.map(|_| 2),
            usd_per_replica_hour: Some(1.0),
            capacity_per_replica_rps: Some(3.0),
            usd_per_hour_bound: Some(2.0),
            simulations: 1,
            metrics: rank.map(|_| metrics(2.0, 0.001, true)),
        };
        PlanReport {
            capsim: "test".into(),
            plan: "p".into(),
            seed: 7,
            slo: "failed-rate at most 1 %".into(),
            rate_per_s: 5.0,
            points: 8,
            complete: true,
            simulations_run: 2,
            candidates: vec![
                cand(0, PlanStatus::Chosen, Some(1), "cheapest, with a comma"),
                cand(1, PlanStatus::Capacity, None, "capacity 1/s < 5/s"),
            ],
            simulations: vec![PlanSimulation {
                candidate: 0,
                replicas: 2,
                stage: "screen",
                seeds: 1,
                metrics: metrics(2.0, 0.001, true),
            }],
            runner_up: None,
        }
    }

    #[test]
    fn axis_labels_keep_two_significant_digits() {
        assert_eq!(sig(0.001), "0.001");
        assert_eq!(sig(0.25), "0.25");
        assert_eq!(sig(3.0), "3");
        assert_eq!(sig(1234.0), "1234");
        assert_eq!(sig(0.0347), "0.035");
    }

    #[test]
    fn plan_csv_has_a_row_per_candidate_with_its_status_and_quoted_reason() {
        let text = String::from_utf8(plan_csv(&report()).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("candidate,seed,endpoint.gpu,status,rank,replicas"));
        assert!(lines[1].contains(",chosen,1,2,"), "{}", lines[1]);
        assert!(lines[1].ends_with("\"cheapest, with a comma\""));
        assert!(lines[2].contains(",capacity,,,"));
    }

    #[test]
    fn the_table_names_the_winner_and_counts_every_status() {
        let t = plan_table(&report());
        assert!(
            t.contains("cheapest that meets the SLO: gpu=g0 with 2 replicas at $2.00/h"),
            "{t}"
        );
        assert!(t.contains("1 chosen, 1 capacity"), "{t}");
        assert!(t.contains("2 simulations run"));
    }
}
