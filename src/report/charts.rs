//! PNG charts of a sweep, drawn from its summary alone (so `capsim chart DIR` can redraw them):
//! timeout rate vs load, latency percentiles vs load, cost vs timeout rate with its Pareto
//! front, and a run's time series. Text is drawn with a bundled font (DejaVu Sans), so charts
//! look the same on any machine.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::summary::{AxisRole, AxisValue, METRIC_COUNT, Metrics, Summary, SweepAxis};
use crate::error::RunError;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Tableau 10: distinguishable, and readable by most colour-blind readers.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const SIZE: (u32, u32) = (1000, 620);

/// Which image files each chart is written as: the PNG (what `report.md` shows) and, on
/// request, an SVG beside it with the same stem, for slides and documents that scale.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Formats {
    /// Write `NAME.png`.
    pub png: bool,
    /// Write `NAME.svg`.
    pub svg: bool,
}

impl Default for Formats {
    fn default() -> Self {
        Formats {
            png: true,
            svg: false,
        }
    }
}

impl Formats {
    /// Reads `png`, `svg` or `png,svg`.
    pub fn parse(s: &str) -> Result<Formats, String> {
        let mut f = Formats {
            png: false,
            svg: false,
        };
        for part in s.split(',').map(str::trim) {
            match part {
                "png" => f.png = true,
                "svg" => f.svg = true,
                other => {
                    return Err(format!(
                        "unknown chart format `{other}`: expected png, svg or png,svg"
                    ));
                }
            }
        }
        if !f.png && !f.svg {
            return Err("no chart format given: expected png, svg or png,svg".into());
        }
        Ok(f)
    }
}

/// Draws `$f(root, args...)` for every format of `$formats`: the PNG at `$path`, the SVG beside
/// it. Chart functions take any plotters backend, so both come from one drawing.
macro_rules! draw {
    ($formats:expr, $path:expr, $size:expr, $f:ident($($arg:expr),* $(,)?)) => {{
        let path: &Path = $path;
        if $formats.png {
            $f(BitMapBackend::new(path, $size).into_drawing_area(), $($arg),*)?;
        }
        if $formats.svg {
            let svg = path.with_extension("svg");
            $f(SVGBackend::new(&svg, $size).into_drawing_area(), $($arg),*)?;
        }
    }};
}

/// Registers the bundled font once; every chart needs it.
pub(crate) fn font() -> Result<(), RunError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    ok.then_some(())
        .ok_or_else(|| chart_error("the bundled font cannot be loaded"))
}

fn chart_error(message: impl std::fmt::Display) -> RunError {
    RunError::Encode {
        format: "PNG",
        message: message.to_string(),
    }
}

/// One chart written: its file name and what it shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// File name inside the results folder.
    pub file: String,
    /// Its title.
    pub title: String,
}

/// The points of a sweep: per configuration its index and (mean) metrics.
struct Point<'a> {
    config: usize,
    /// Whether it meets the SLO (over its replications, when it has several).
    slo_met: Option<bool>,
    /// Every metric as a real number, in [`Metrics::entries`] order.
    values: [Option<f64>; METRIC_COUNT],
    cdf: &'a [f64],
}

impl Point<'_> {
    fn metric(&self, name: &str) -> Option<f64> {
        Metrics::index(name).and_then(|i| self.values[i])
    }
}

fn points(summary: &Summary) -> Vec<Point<'_>> {
    let mut out: Vec<Point<'_>> = Vec::new();
    for r in summary.runs.iter().filter(|r| r.class == "all") {
        if r.replication == 0 {
            out.push(Point {
                config: r.config,
                slo_met: r.slo_met,
                values: r.metrics.reals(),
                cdf: &r.latency_cdf,
            });
        }
    }
    // With replications, use each configuration's means.
    for a in summary.aggregates.iter().filter(|a| a.class == "all") {
        if let Some(p) = out.get_mut(a.config) {
            p.slo_met = a.slo_met;
            for (i, (_, e)) in a.metrics.iter().enumerate() {
                p.values[i] = e.mean;
            }
        }
    }
    out
}

/// The value of axis `axis` at point `p`.
fn at<'a>(axis: &'a SweepAxis, p: &Point<'_>) -> Option<&'a AxisValue> {
    axis.values.get(p.config)
}

/// The value of axis `axis` at point `p` as a number.
fn number(axis: &SweepAxis, p: &Point<'_>) -> Option<f64> {
    at(axis, p)?.number
}

/// Whether every point has a number on `axis`.
fn numeric(axis: &SweepAxis, points: &[Point<'_>]) -> bool {
    points.iter().all(|p| number(axis, p).is_some())
}

/// The swept load (its role says so, and every value is a number), if any.
fn load_axis<'a>(axes: &'a [SweepAxis], points: &[Point<'_>]) -> Option<&'a SweepAxis> {
    axes.iter()
        .find(|a| a.role == AxisRole::Load && numeric(a, points))
}

/// The last segment of a key path: `read-timeout` for `client.read-timeout`.
fn short(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// A label for the other parameters of a point: its scenario.
fn scenario(axes: &[SweepAxis], p: &Point<'_>, load: Option<&SweepAxis>) -> String {
    // What serves the requests first, then the other settings, each by key name.
    let mut others: Vec<&SweepAxis> = axes
        .iter()
        .filter(|a| load.is_none_or(|l| l.key != a.key))
        .collect();
    others.sort_by(|a, b| a.key.cmp(&b.key));
    others.sort_by_key(|a| !a.key.starts_with("endpoint"));
    let parts: Vec<String> = others
        .into_iter()
        .filter_map(|a| {
            let v = &at(a, p)?.written;
            // A table value is already written as key=value pairs.
            Some(if v.contains('=') {
                v.clone()
            } else {
                format!("{}={v}", short(&a.key))
            })
        })
        .collect();
    if parts.is_empty() {
        "all runs".into()
    } else {
        parts.join(", ")
    }
}

type Series = Vec<(String, Vec<(f64, f64)>)>;

/// Per scenario, the (load, metric) points in load order.
fn series(axes: &[SweepAxis], points: &[Point<'_>], load: &SweepAxis, metric: &str) -> Series {
    let mut out: Series = Vec::new();
    for p in points {
        let name = scenario(axes, p, Some(load));
        let Some(x) = number(load, p) else {
            continue;
        };
        let idx = match out.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                out.push((name, Vec::new()));
                out.len() - 1
            }
        };
        if let Some(y) = p.metric(metric) {
            out[idx].1.push((x, y));
        }
    }
    for (_, pts) in &mut out {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

fn bounds(s: &Series) -> (f64, f64, f64, f64) {
    let all = s.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    (x0, x1, y0, y1)
}

fn draw_err<E: std::fmt::Debug>(e: E) -> RunError {
    chart_error(format!("{e:?}"))
}

/// Lowest share a log share axis shows (0.01 %); a share of 0 is drawn there.
const SHARE_FLOOR: f64 = 1e-4;

/// `v` with two significant digits and no trailing zeros (0.01, 0.25, 3, 40, 1200).
pub(crate) fn sig(v: f64) -> String {
    if !(v.is_finite() && v > 0.0) {
        return format!("{v}");
    }
    let digits = (1 - v.log10().floor() as i32).max(0) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Whether a load axis spanning `x0..x1` is drawn on a log scale: when it spans more than 10x,
/// so that the configurations that saturate early are not squeezed into the left edge.
fn log_load(x0: f64, x1: f64) -> bool {
    x0 > 0.0 && x1 / x0 > 10.0
}

/// Where one scenario's share first rises above `target`: the load, interpolated between the
/// last point at or below the target and the first above it (on the log of the share); `None`
/// when even the lowest load is above it or no load is.
pub(crate) fn crossing(pts: &[(f64, f64)], target: f64) -> Option<f64> {
    // `None` both when the line starts above the bound and when it never rises above it.
    let first_over = pts.iter().position(|&(_, y)| y > target)?;
    if first_over == 0 {
        return None;
    }
    let (x0, y0) = pts[first_over - 1];
    let (x1, y1) = pts[first_over];
    let l = |y: f64| y.max(SHARE_FLOOR).ln();
    let span = l(y1) - l(y0);
    let f = if span > 0.0 {
        ((l(target) - l(y0)) / span).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Some(x0 + f * (x1 - x0))
}

/// A share (timeouts or every failure) against load, one line per scenario, on a log share axis
/// from 0.01 % to 100 % where the decisions are made; the SLO's bound as a red line and each
/// scenario's capacity at it (where its line crosses the bound) marked and labelled.
fn share_chart<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    load: &SweepAxis,
    s: &Series,
    slo: Option<f64>,
) -> Result<(), RunError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_err)?;
    let (x0, x1, _, _) = bounds(s);
    // Both axes are drawn on transformed coordinates (log10 where the scale is log), so one
    // chart type serves every case; the tick labels turn them back.
    let logx = log_load(x0, x1);
    let tx = move |x: f64| if logx { x.log10() } else { x };
    let ty = |y: f64| y.max(SHARE_FLOOR).log10();
    let (cx0, cx1) = if logx {
        (tx(x0) - 0.05, tx(x1) + 0.05)
    } else {
        (x0, x1)
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(cx0..cx1, ty(SHARE_FLOOR)..0.0)
        .map_err(draw_err)?;
    let x_label = move |v: &f64| {
        if logx { sig(10f64.powf(*v)) } else { sig(*v) }
    };
    chart
        .configure_mesh()
        .x_desc(format!(
            "{}{}",
            load_desc(load),
            if logx { ", log scale" } else { "" }
        ))
        .y_desc(format!("{y_desc} (%, log scale; 0 drawn at 0.01 %)"))
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 15))
        .y_labels(5)
        .y_label_formatter(&|v| format!("{}%", sig(10f64.powf(*v) * 100.0)))
        .x_label_formatter(&x_label)
        .draw()
        .map_err(draw_err)?;
    let red = RGBColor(0xc0, 0x1c, 0x28);
    if let Some(t) = slo.filter(|t| *t > SHARE_FLOOR && *t < 1.0) {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(cx0, ty(t)), (cx1, ty(t))],
                8,
                5,
                red.stroke_width(2),
            ))
            .map_err(draw_err)?
            .label(format!("SLO: at most {}%", sig(t * 100.0)))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], red.stroke_width(2)));
    }
    for (i, (name, pts)) in s.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|&(x, y)| (tx(x), ty(y))),
                color.stroke_width(3),
            ))
            .map_err(draw_err)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
        chart
            .draw_series(
                pts.iter()
                    .map(|&(x, y)| Circle::new((tx(x), ty(y)), 4, color.filled())),
            )
            .map_err(draw_err)?;
        if let Some(t) = slo.filter(|t| *t > SHARE_FLOOR && *t < 1.0)
            && let Some(cap) = crossing(pts, t)
        {
            let at = (tx(cap), ty(t));
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(at)
                        + TriangleMarker::new((0, 0), 9, color.filled())
                        + Text::new(
                            format!("{}/s", sig(cap)),
                            (-14, 10 + 16 * (i as i32 % 3)),
                            ("sans-serif", 14).into_font().color(&color),
                        ),
                ))
                .map_err(draw_err)?;
        }
    }
    legend_at(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present().map_err(draw_err)
}

/// A tick label in seconds on a log axis: whole seconds, or two decimals below one.
fn seconds_label(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn load_desc(load: &SweepAxis) -> String {
    let rate = load.values.iter().all(|v| v.unit.as_deref() == Some("/s"));
    if rate {
        "offered load (requests/s)".into()
    } else {
        load.key.clone()
    }
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> Result<(), RunError>
where
    DB::ErrorType: 'static,
{
    legend_at(chart, SeriesLabelPosition::LowerRight)
}

fn legend_at<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    at: SeriesLabelPosition,
) -> Result<(), RunError>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(draw_err)
}

/// p50 and p99 latency (log scale) against load, with the client timeouts as dashed lines.
fn latency_chart<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    load: &SweepAxis,
    p50: &Series,
    p95: &Series,
    p99: &Series,
    limits: &[(String, f64)],
) -> Result<(), RunError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_err)?;
    let (x0, x1, _, _) = bounds(p99);
    let (_, _, lo, hi) = bounds(&p50.iter().chain(p99).cloned().collect());
    let lo = (lo.max(1e-3) / 2.0).min(0.1);
    let hi = (hi * 2.0)
        .max(limits.iter().map(|l| l.1).fold(0.0, f64::max) * 1.5)
        .max(1.0);
    // The load axis on transformed coordinates (log10 past a 10x span), as the share charts.
    let logx = log_load(x0, x1);
    let tx = move |x: f64| if logx { x.log10() } else { x };
    let (cx0, cx1) = if logx {
        (tx(x0) - 0.05, tx(x1) + 0.05)
    } else {
        (x0, x1)
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(72)
        .build_cartesian_2d(cx0..cx1, (lo..hi).log_scale())
        .map_err(draw_err)?;
    let x_label = move |v: &f64| if logx { sig(10f64.powf(*v)) } else { sig(*v) };
    chart
        .configure_mesh()
        .x_desc(format!(
            "{}{}",
            load_desc(load),
            if logx { ", log scale" } else { "" }
        ))
        .y_desc("latency of answered requests (s, log scale)")
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 15))
        .x_label_formatter(&x_label)
        .y_label_formatter(&|v| seconds_label(*v))
        .draw()
        .map_err(draw_err)?;
    // Every time limit first, under the lines, each labelled on its own line (no legend entry:
    // several swept timeouts would give identical entries).
    for (name, t) in limits {
        let t = *t;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(cx0, t), (cx1, t)],
                10,
                6,
                BLACK.mix(0.7).stroke_width(2),
            ))
            .map_err(draw_err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{name} {}", seconds_text(t)),
                (cx0 + 0.01 * (cx1 - cx0), t * 1.45),
                ("sans-serif", 15),
            )))
            .map_err(draw_err)?;
    }
    let tr =
        |pts: &[(f64, f64)]| -> Vec<(f64, f64)> { pts.iter().map(|&(x, y)| (tx(x), y)).collect() };
    for (i, (((name, lows), (_, mids)), (_, highs))) in p50.iter().zip(p95).zip(p99).enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(tr(highs), color.stroke_width(3)))
            .map_err(draw_err)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
        chart
            .draw_series(DashedLineSeries::new(
                tr(mids),
                14,
                6,
                color.stroke_width(2),
            ))
            .map_err(draw_err)?;
        chart
            .draw_series(DashedLineSeries::new(tr(lows), 4, 4, color.stroke_width(2)))
            .map_err(draw_err)?;
    }
    // What the three line styles mean, as legend entries of their own (drawn as a point of no
    // size, so only the legend shows them).
    let grey = RGBColor(90, 90, 90);
    chart
        .draw_series(std::iter::once(Circle::new((cx0, lo), 0, grey.filled())))
        .map_err(draw_err)?
        .label("p99: solid")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], grey.stroke_width(3)));
    chart
        .draw_series(std::iter::once(Circle::new((cx0, lo), 0, grey.filled())))
        .map_err(draw_err)?
        .label("p95: long dashes")
        .legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (10, 0)], grey.stroke_width(2))
                + PathElement::new(vec![(14, 0), (24, 0)], grey.stroke_width(2))
        });
    chart
        .draw_series(std::iter::once(Circle::new((cx0, lo), 0, grey.filled())))
        .map_err(draw_err)?
        .label("p50: short dashes")
        .legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (4, 0)], grey.stroke_width(2))
                + PathElement::new(vec![(8, 0), (12, 0)], grey.stroke_width(2))
                + PathElement::new(vec![(16, 0), (20, 0)], grey.stroke_width(2))
        });
    legend(&mut chart)?;
    root.present().map_err(draw_err)
}

/// A duration for a label: whole seconds, or minutes past two.
fn seconds_text(t: f64) -> String {
    if t >= 120.0 && (t / 60.0).fract() == 0.0 {
        format!("{} min", t / 60.0)
    } else {
        format!("{} s", sig(t))
    }
}

/// One point of the cost chart: scenario, load, cost per 1,000 answered, whether it meets the
/// SLO (`None` without one).
type CostPoint = (String, f64, f64, Option<bool>);

/// Cost per 1,000 answered requests (log scale) against load, one line per scenario; points
/// that meet the SLO filled, the others hollow and faint; the cheapest configuration meeting
/// the SLO at each load traced in black and named where it changes.
fn cost_chart<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    load: &SweepAxis,
    pts: &[CostPoint],
) -> Result<(), RunError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_err)?;
    let (mut lo, mut hi, mut x0, mut x1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(_, x, c, _) in pts {
        lo = lo.min(c);
        hi = hi.max(c);
        x0 = x0.min(x);
        x1 = x1.max(x);
    }
    if lo > hi || lo <= 0.0 {
        return Ok(());
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let logx = log_load(x0, x1);
    let tx = move |x: f64| if logx { x.log10() } else { x };
    let (cx0, cx1) = if logx {
        (tx(x0) - 0.05, tx(x1) + 0.05)
    } else {
        (x0, x1)
    };
    let (ly0, ly1) = ((lo / 1.5).log10(), (hi * 1.5).log10());
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(cx0..cx1, ly0..ly1)
        .map_err(draw_err)?;
    let x_label = move |v: &f64| if logx { sig(10f64.powf(*v)) } else { sig(*v) };
    chart
        .configure_mesh()
        .x_desc(format!(
            "{}{}",
            load_desc(load),
            if logx { ", log scale" } else { "" }
        ))
        .y_desc("US$ per 1,000 answered requests (log scale)")
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 15))
        .x_label_formatter(&x_label)
        .y_label_formatter(&|v| format!("${}", sig(10f64.powf(*v))))
        .draw()
        .map_err(draw_err)?;
    let mut names: Vec<&str> = Vec::new();
    for (name, _, _, _) in pts {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    for (i, name) in names.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let mut mine: Vec<(f64, f64, Option<bool>)> = pts
            .iter()
            .filter(|(n, _, _, _)| n == name)
            .map(|&(_, x, c, m)| (tx(x), c.log10(), m))
            .collect();
        mine.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(
                mine.iter().map(|&(x, y, _)| (x, y)),
                color.mix(0.5).stroke_width(2),
            ))
            .map_err(draw_err)?
            .label(*name)
            .legend(move |(x, y)| Circle::new((x + 12, y), 5, color.filled()));
        chart
            .draw_series(mine.iter().map(|&(x, y, m)| {
                if m == Some(false) {
                    Circle::new((x, y), 4, color.mix(0.6).stroke_width(1))
                } else {
                    Circle::new((x, y), 5, color.filled())
                }
            }))
            .map_err(draw_err)?;
    }
    // The cheapest point meeting the SLO at each load, and where the winner changes.
    let mut loads: Vec<f64> = pts.iter().map(|p| p.1).collect();
    loads.sort_by(f64::total_cmp);
    loads.dedup();
    let mut best: Vec<(f64, f64, &str)> = Vec::new();
    for x in loads {
        let cheapest = pts
            .iter()
            .filter(|p| p.1 == x && p.3 != Some(false))
            .min_by(|a, b| a.2.total_cmp(&b.2));
        if let Some(p) = cheapest {
            // A tie (within 0.5 %) keeps the previous winner, so labels mark real changes.
            let kept = best.last().and_then(|&(_, _, prev)| {
                pts.iter()
                    .find(|q| q.1 == x && q.0 == prev && q.3 != Some(false) && q.2 <= p.2 * 1.005)
            });
            let w = kept.unwrap_or(p);
            best.push((x, w.2, w.0.as_str()));
        }
    }
    if pts.iter().any(|p| p.3.is_some()) && !best.is_empty() {
        chart
            .draw_series(LineSeries::new(
                best.iter().map(|&(x, c, _)| (tx(x), c.log10())),
                BLACK.stroke_width(2),
            ))
            .map_err(draw_err)?
            .label("cheapest that meets the SLO at each load (named where it changes)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.stroke_width(2)));
        let mut last: Option<&str> = None;
        for (k, &(x, c, name)) in best.iter().enumerate() {
            if last != Some(name) {
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at((tx(x), c.log10()))
                            + Circle::new((0, 0), 8, BLACK.stroke_width(2))
                            + Text::new(
                                format!("{name} from {}/s", sig(x)),
                                // Labels past the middle are written leftwards of their point.
                                (
                                    if tx(x) > (cx0 + cx1) / 2.0 { -420 } else { 10 },
                                    -22 - 16 * (k as i32 % 2),
                                ),
                                ("sans-serif", 14),
                            ),
                    ))
                    .map_err(draw_err)?;
                last = Some(name);
            }
        }
    }
    legend_at(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(draw_err)
}

/// The points no other point beats on both axes (lower is better on each), by x.
pub fn pareto(mut pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut front: Vec<(f64, f64)> = Vec::new();
    for p in pts {
        if front.last().is_none_or(|l| p.1 < l.1) {
            front.push(p);
        }
    }
    front
}

/// Latency CDFs, one line per (label, quantile values) on a log time axis.
fn cdf_chart<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    lines: &[(String, &[f64])],
) -> Result<(), RunError>
where
    DB::ErrorType: 'static,
{
    let q = super::summary::LATENCY_CDF_QUANTILES;
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for (_, v) in lines {
        for &x in v.iter() {
            lo = lo.min(x);
            hi = hi.max(x);
        }
    }
    if lo > hi {
        return Ok(());
    }
    let (lo, hi) = ((lo / 1.5).max(1e-6), hi * 1.5);
    root.fill(&WHITE).map_err(draw_err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(72)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..100.0)
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("latency of answered requests (s, log scale)")
        .y_desc("share of answered requests at most this fast (%)")
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 15))
        .x_label_formatter(&|v| seconds_label(*v))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(draw_err)?;
    for (i, (name, v)) in lines.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let pts: Vec<(f64, f64)> = v.iter().zip(q).map(|(&x, q)| (x, q * 100.0)).collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(3)))
            .map_err(draw_err)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
    }
    legend(&mut chart)?;
    root.present().map_err(draw_err)
}

/// A share as a cell label: two significant digits below 10 % (the band where an SLO sits:
/// 0.34 %, not "0 %"), whole percent above; exactly 0 as "0".
fn share_label(v: f64) -> String {
    if v <= 0.0 {
        "0".into()
    } else if v < 0.1 {
        format!("{}%", sig(v * 100.0))
    } else {
        format!("{:.0}%", v * 100.0)
    }
}

/// The colour of share `v` on a log scale from 0.01 % (pale yellow) to 100 % (dark red),
/// through orange; exactly 0 is white, so "none" and "a few" differ at a glance.
fn share_colour(v: f64) -> RGBColor {
    if v <= 0.0 {
        return WHITE;
    }
    let t =
        ((v.max(SHARE_FLOOR).log10() - SHARE_FLOOR.log10()) / -SHARE_FLOOR.log10()).clamp(0.0, 1.0);
    // Stops of a sequential yellow-orange-red palette (ColorBrewer YlOrRd, 5 classes).
    const STOPS: [(u8, u8, u8); 5] = [
        (255, 255, 178),
        (254, 204, 92),
        (253, 141, 60),
        (240, 59, 32),
        (189, 0, 38),
    ];
    let f = t * (STOPS.len() - 1) as f64;
    let i = (f.floor() as usize).min(STOPS.len() - 2);
    let w = f - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + w * (f64::from(b) - f64::from(a))).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// An axis name with its unit: the key path, then `(requests/s)` or `(s)` when its values are
/// rates or durations.
fn axis_name(axis: &SweepAxis) -> String {
    match axis.values.first().and_then(|v| v.unit.as_deref()) {
        Some("/s") if axis.values.iter().all(|v| v.unit.as_deref() == Some("/s")) => {
            format!("{} (requests/s)", axis.key)
        }
        Some("s") if axis.values.iter().all(|v| v.unit.as_deref() == Some("s")) => {
            format!("{} (s)", axis.key)
        }
        _ => axis.key.clone(),
    }
}

/// A heatmap of a share over two numeric axes, with a colour bar on a log scale and cell labels
/// with significant digits in the SLO band.
fn heatmap<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    axes: (&SweepAxis, &SweepAxis),
    cells: &[(f64, f64, f64)],
) -> Result<(), RunError>
where
    DB::ErrorType: 'static,
{
    let mut xs: Vec<f64> = cells.iter().map(|c| c.0).collect();
    let mut ys: Vec<f64> = cells.iter().map(|c| c.1).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    ys.sort_by(f64::total_cmp);
    ys.dedup();
    root.fill(&WHITE).map_err(draw_err)?;
    let (main, bar) = root.split_horizontally(SIZE.0 - 120);
    let mut chart = ChartBuilder::on(&main)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(80)
        // A segmented range `0..n` holds n + 1 segments: one per value here.
        .build_cartesian_2d(
            (0..xs.len().saturating_sub(1)).into_segmented(),
            (0..ys.len().saturating_sub(1)).into_segmented(),
        )
        .map_err(draw_err)?;
    // Labels sit at the centre of their cells.
    let label = |values: &[f64], v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => values.get(*i).map_or(String::new(), |x| sig(*x)),
        _ => String::new(),
    };
    let (xv, yv) = (xs.clone(), ys.clone());
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(axis_name(axes.0))
        .y_desc(axis_name(axes.1))
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 15))
        .x_labels(xs.len() + 1)
        .y_labels(ys.len() + 1)
        .x_label_formatter(&|v| label(&xv, v))
        .y_label_formatter(&|v| label(&yv, v))
        .draw()
        .map_err(draw_err)?;
    for &(x, y, v) in cells {
        let (Some(i), Some(j)) = (
            xs.iter().position(|&a| a == x),
            ys.iter().position(|&b| b == y),
        ) else {
            continue;
        };
        let color = share_colour(v);
        let corners = [
            (SegmentValue::Exact(i), SegmentValue::Exact(j)),
            (SegmentValue::Exact(i + 1), SegmentValue::Exact(j + 1)),
        ];
        chart
            .draw_series(std::iter::once(Rectangle::new(corners, color.filled())))
            .map_err(draw_err)?;
        if xs.len() <= 12 && ys.len() <= 12 {
            // White text on the dark end of the scale.
            let ink = if v >= 0.05 { WHITE } else { BLACK };
            let style = TextStyle::from(("sans-serif", 15).into_font())
                .color(&ink)
                .pos(Pos::new(HPos::Center, VPos::Center));
            chart
                .draw_series(std::iter::once(Text::new(
                    share_label(v),
                    (SegmentValue::CenterOf(i), SegmentValue::CenterOf(j)),
                    style,
                )))
                .map_err(draw_err)?;
        }
    }
    // The colour bar: 0.01 % at the bottom to 100 % at the top, labelled each decade.
    let mut scale = ChartBuilder::on(&bar)
        .margin_top(60)
        .margin_bottom(72)
        .margin_right(8)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..1.0, SHARE_FLOOR.log10()..0.0)
        .map_err(draw_err)?;
    scale
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(5)
        .y_label_formatter(&|v| format!("{}%", sig(10f64.powf(*v) * 100.0)))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(draw_err)?;
    let steps = 100;
    let lo = SHARE_FLOOR.log10();
    scale
        .draw_series((0..steps).map(|k| {
            let a = lo + (k as f64) * (-lo) / steps as f64;
            let b = lo + ((k + 1) as f64) * (-lo) / steps as f64;
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                share_colour(10f64.powf((a + b) / 2.0)).filled(),
            )
        }))
        .map_err(draw_err)?;
    root.present().map_err(draw_err)
}

/// A named, coloured line of a time-series panel.
type Line<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// The time series of one run as `path` (PNG) and, with `formats.svg`, an SVG beside it.
pub fn timeseries_chart(
    path: &Path,
    title: &str,
    rows: &[super::rows::WindowRow],
    window_s: f64,
    formats: Formats,
) -> Result<(), RunError> {
    draw!(
        formats,
        path,
        (1000, 900),
        draw_timeseries(title, rows, window_s)
    );
    Ok(())
}

/// The time series of one run: arrivals and failures per second, queue depth, replicas.
fn draw_timeseries<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    rows: &[super::rows::WindowRow],
    window_s: f64,
) -> Result<(), RunError>
where
    DB::ErrorType: 'static,
{
    font()?;
    if rows.is_empty() {
        return Ok(());
    }
    root.fill(&WHITE).map_err(draw_err)?;
    let root = root.titled(title, ("sans-serif", 26)).map_err(draw_err)?;
    let panels = root.split_evenly((3, 1));
    let t_end = rows.last().map_or(1.0, |r| r.start_s + window_s) / 60.0;
    let per_s = |n: u64| n as f64 / window_s;
    let top = rows
        .iter()
        .map(|r| per_s(r.arrivals).max(per_s(r.failures())))
        .fold(0.1, f64::max);
    let lines: [Line<'_>; 2] = [
        (
            "arrivals/s",
            PALETTE[0],
            rows.iter()
                .map(|r| (r.start_s / 60.0, per_s(r.arrivals)))
                .collect(),
        ),
        (
            "failures/s (every outcome but ok)",
            PALETTE[3],
            rows.iter()
                .map(|r| (r.start_s / 60.0, per_s(r.failures())))
                .collect(),
        ),
    ];
    let queue: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r.start_s / 60.0, r.queue_depth as f64))
        .collect();
    let qmax = queue.iter().map(|p| p.1).fold(1.0, f64::max);
    let reps: [Line<'_>; 2] = [
        (
            "replicas ready",
            PALETTE[2],
            rows.iter()
                .map(|r| (r.start_s / 60.0, f64::from(r.replicas[1])))
                .collect(),
        ),
        (
            "replicas starting",
            PALETTE[1],
            rows.iter()
                .map(|r| (r.start_s / 60.0, f64::from(r.replicas[0])))
                .collect(),
        ),
    ];
    let rmax = rows
        .iter()
        .map(|r| f64::from(r.replicas[0] + r.replicas[1]))
        .fold(1.0, f64::max);
    let specs: [(&str, f64, Vec<Line<'_>>); 3] = [
        (
            "requests per second",
            top * 1.1,
            lines.into_iter().collect(),
        ),
        (
            "requests waiting",
            qmax * 1.1,
            vec![("queue depth", PALETTE[4], queue)],
        ),
        ("replicas", rmax + 1.0, reps.into_iter().collect()),
    ];
    for (area, (y_desc, y_max, series)) in panels.iter().zip(specs) {
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..t_end, 0.0..y_max)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("time (minutes)")
            .y_desc(y_desc)
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(draw_err)?;
        for (name, color, pts) in series {
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(draw_err)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
                });
        }
        legend_at(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    root.present().map_err(draw_err)
}

/// Draws every chart the summary supports into `dir`; returns what was written.
pub fn render(summary: &Summary, dir: &Path) -> Result<Vec<Chart>, RunError> {
    render_as(summary, dir, Formats::default())
}

/// As [`render`], writing each chart in every format of `formats` (an SVG beside each PNG).
pub fn render_as(summary: &Summary, dir: &Path, formats: Formats) -> Result<Vec<Chart>, RunError> {
    font()?;
    let pts = points(summary);
    let axes = &summary.axes;
    let mut out = Vec::new();
    // Two numeric axes and nothing else swept: a heatmap of the timeout rate.
    if axes.len() == 2 && pts.len() > 1 && axes.iter().all(|a| numeric(a, &pts)) {
        // The axis whose key sorts first across, the other up.
        let (x, y) = if axes[0].key <= axes[1].key {
            (&axes[0], &axes[1])
        } else {
            (&axes[1], &axes[0])
        };
        let cells: Vec<(f64, f64, f64)> = pts
            .iter()
            .filter_map(|p| Some((number(x, p)?, number(y, p)?, p.metric("failed_rate")?)))
            .collect();
        let title = "What share of requests fails (any cause), by setting?".to_string();
        draw!(
            formats,
            &dir.join("heatmap.png"),
            SIZE,
            heatmap(&title, (x, y), &cells)
        );
        out.push(Chart {
            file: "heatmap.png".into(),
            title,
        });
    }
    let Some(load) = load_axis(axes, &pts) else {
        // Without a load axis, each configuration is a scenario of its own.
        let lines: Vec<(String, &[f64])> = pts
            .iter()
            .filter(|p| !p.cdf.is_empty())
            .take(PALETTE.len())
            .map(|p| (scenario(axes, p, None), p.cdf))
            .collect();
        if pts.len() > 1 && !lines.is_empty() {
            let title = format!("{}: latency CDF", summary.experiment);
            draw!(
                formats,
                &dir.join("latency_cdf.png"),
                SIZE,
                cdf_chart(&title, &lines)
            );
            out.push(Chart {
                file: "latency_cdf.png".into(),
                title,
            });
        }
        return Ok(out);
    };
    let file = |name: &str| -> PathBuf { dir.join(name) };
    let timeouts = series(axes, &pts, load, "timeout_rate");
    let title = "Where does each configuration start timing out?".to_string();
    let target = |metric: &str| {
        summary.slo.as_ref().and_then(|slo| {
            slo.targets
                .iter()
                .find(|t| t.class == "all" && t.metric == metric)
                .map(|t| t.max)
        })
    };
    draw!(
        formats,
        &file("timeout_rate.png"),
        SIZE,
        share_chart(
            &title,
            "requests timing out",
            load,
            &timeouts,
            target("timeout_rate")
        )
    );
    out.push(Chart {
        file: "timeout_rate.png".into(),
        title,
    });
    // Timeouts are one kind of failure: 429s, 503s, breaker rejections, expired jobs and
    // requests left unfinished fail the user too.
    let failed = series(axes, &pts, load, "failed_rate");
    let title = "What share of requests fails, by load? (any cause)".to_string();
    draw!(
        formats,
        &file("failed_rate.png"),
        SIZE,
        share_chart(
            &title,
            "requests failing, any cause",
            load,
            &failed,
            target("failed_rate")
        )
    );
    out.push(Chart {
        file: "failed_rate.png".into(),
        title,
    });
    let p50 = series(axes, &pts, load, "latency_p50_s");
    let p95 = series(axes, &pts, load, "latency_p95_s");
    let p99 = series(axes, &pts, load, "latency_p99_s");
    // Every swept time limit, drawn where latency meets it.
    let mut limits: Vec<(String, f64)> = axes
        .iter()
        .filter(|a| a.role == AxisRole::Limit)
        .flat_map(|a| {
            a.values
                .iter()
                .filter(|v| v.unit.as_deref() == Some("s"))
                .filter_map(|v| Some((short(&a.key).to_string(), v.number?)))
        })
        .collect();
    limits.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    limits.dedup();
    let title = "How long do answered requests take, against each timeout?".to_string();
    draw!(
        formats,
        &file("latency.png"),
        SIZE,
        latency_chart(&title, load, &p50, &p95, &p99, &limits)
    );
    out.push(Chart {
        file: "latency.png".into(),
        title,
    });
    let costs: Vec<CostPoint> = pts
        .iter()
        .filter_map(|p| {
            let c = p.metric("cost_per_1k_ok_usd")?;
            let x = number(load, p)?;
            Some((scenario(axes, p, Some(load)), x, c, p.slo_met))
        })
        .collect();
    // Each scenario's CDF near its capacity: at the most load it carries with at most 1 %
    // timing out (the legend says which load).
    let mut best: Vec<(String, f64, &[f64])> = Vec::new();
    for p in &pts {
        let (Some(x), Some(t)) = (number(load, p), p.metric("timeout_rate")) else {
            continue;
        };
        if t > 0.01 || p.cdf.is_empty() {
            continue;
        }
        let name = scenario(axes, p, Some(load));
        match best.iter_mut().find(|b| b.0 == name) {
            Some(b) if b.1 < x => {
                b.1 = x;
                b.2 = p.cdf;
            }
            Some(_) => {}
            None => best.push((name, x, p.cdf)),
        }
    }
    if !best.is_empty() {
        let unit = load
            .values
            .first()
            .and_then(|v| v.unit.as_deref())
            .unwrap_or("");
        let unit = if unit == "/s" { unit } else { "" };
        let lines: Vec<(String, &[f64])> = best
            .iter()
            .map(|(n, x, c)| (format!("{n} at {x}{unit}"), *c))
            .collect();
        let title = format!("{}: latency CDF near capacity", summary.experiment);
        draw!(
            formats,
            &file("latency_cdf.png"),
            SIZE,
            cdf_chart(&title, &lines)
        );
        out.push(Chart {
            file: "latency_cdf.png".into(),
            title,
        });
    }
    if !costs.is_empty() {
        let title = "What does each answer cost, and which is cheapest within the SLO?".to_string();
        draw!(
            formats,
            &file("cost.png"),
            SIZE,
            cost_chart(&title, load, &costs)
        );
        out.push(Chart {
            file: "cost.png".into(),
            title,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pareto_front_keeps_only_undominated_points() {
        let front = pareto(vec![
            (0.0, 5.0),
            (1.0, 3.0),
            (2.0, 4.0),
            (3.0, 1.0),
            (0.5, 6.0),
        ]);
        assert_eq!(front, [(0.0, 5.0), (1.0, 3.0), (3.0, 1.0)]);
    }

    fn axis(key: &str, role: AxisRole, values: &[(&str, Option<f64>)]) -> SweepAxis {
        SweepAxis {
            key: key.into(),
            role,
            values: values
                .iter()
                .map(|(w, n)| AxisValue {
                    written: w.to_string(),
                    number: *n,
                    unit: None,
                })
                .collect(),
        }
    }

    fn point(config: usize) -> Point<'static> {
        Point {
            config,
            slo_met: None,
            values: [None; METRIC_COUNT],
            cdf: &[],
        }
    }

    #[test]
    fn heatmap_cells_keep_two_significant_digits_in_the_slo_band_and_colour_on_a_log_scale() {
        assert_eq!(share_label(0.0034), "0.34%");
        assert_eq!(share_label(0.0052), "0.52%");
        assert_eq!(share_label(0.0), "0");
        assert_eq!(share_label(0.42), "42%");
        assert_eq!(share_colour(0.0), WHITE);
        // 0.01 % is the pale end, 100 % the dark end, 1 % halfway between them.
        assert_eq!(share_colour(1e-4), RGBColor(255, 255, 178));
        assert_eq!(share_colour(1.0), RGBColor(189, 0, 38));
        assert_eq!(share_colour(0.01), RGBColor(253, 141, 60));
    }

    #[test]
    fn the_capacity_at_the_slo_is_where_a_line_crosses_it_on_the_log_of_the_share() {
        // 0.1 % at 1/s, 10 % at 2/s: 1 % is halfway on a log axis.
        let c = crossing(&[(1.0, 0.001), (2.0, 0.1), (3.0, 0.5)], 0.01).unwrap();
        assert!((c - 1.5).abs() < 1e-12, "{c}");
        // Above the bound from the first load: no capacity within the range.
        assert_eq!(crossing(&[(1.0, 0.2), (2.0, 0.5)], 0.01), None);
        // Never above: no crossing either (the capacity is beyond the highest load tried).
        assert_eq!(crossing(&[(1.0, 0.0), (2.0, 0.001)], 0.01), None);
    }

    #[test]
    fn the_load_is_the_axis_whose_role_says_so_not_the_one_named_like_it() {
        let pts = [point(0), point(1)];
        // `endpoint.max-rate` ends in "rate" but is a limit; `workload.users.count` is the load.
        let axes = [
            axis(
                "endpoint.max-rate",
                AxisRole::Limit,
                &[("1", Some(1.0)), ("2", Some(2.0))],
            ),
            axis(
                "workload.users.count",
                AxisRole::Load,
                &[("4", Some(4.0)), ("8", Some(8.0))],
            ),
        ];
        assert_eq!(
            load_axis(&axes, &pts).map(|a| a.key.as_str()),
            Some("workload.users.count")
        );
        // A load axis with a value that is not a number cannot be an x axis.
        let mixed = [axis(
            "workload.arrival.rate",
            AxisRole::Load,
            &[("1/s", Some(1.0)), ("unset", None)],
        )];
        assert!(load_axis(&mixed, &pts).is_none());
    }

    #[test]
    fn scenario_labels_keep_key_names() {
        let axes = [
            axis(
                "endpoint",
                AxisRole::Choice,
                &[("gpu=t4 quantization=int8", None)],
            ),
            axis(
                "client.read-timeout",
                AxisRole::Limit,
                &[("10s", Some(10.0))],
            ),
            axis(
                "workload.arrival.rate",
                AxisRole::Load,
                &[("2/s", Some(2.0))],
            ),
        ];
        let load = Some(&axes[2]);
        assert_eq!(
            scenario(&axes, &point(0), load),
            "gpu=t4 quantization=int8, read-timeout=10s"
        );
    }
}
