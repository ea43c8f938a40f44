//! `capsim capacity`: the highest arrival rate that meets the SLO, with its interval over
//! replications and what each search found.

use crate::report::SloSpec;
use crate::report::aggregate::estimate;
use crate::runner::Capacity;

/// A rate per second for people.
fn rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.1}/s")
    } else if r >= 1.0 {
        format!("{r:.3}/s")
    } else {
        format!("{r:.4}/s")
    }
}

/// Renders what the searches of `found` found for experiment `name` under `slo`.
pub fn render(name: &str, seed: u64, slo: &SloSpec, found: &Capacity) -> String {
    let targets: Vec<String> = slo
        .targets
        .iter()
        .map(|t| {
            let class = if t.class == "all" {
                String::new()
            } else {
                format!(" ({})", t.class)
            };
            if t.metric.ends_with("_rate") {
                format!("{} <= {}%{class}", t.metric, t.max * 100.0)
            } else {
                format!("{} <= {} s{class}", t.metric, t.max)
            }
        })
        .collect();
    let mut out = format!(
        "capsim capacity | experiment \"{name}\" | seed {seed} | SLO: {}\n\n",
        targets.join(", ")
    );
    let rates = found.rates();
    let e = estimate(&rates);
    match (e.mean, e.ci95) {
        (Some(m), Some(h)) => out.push_str(&format!(
            "capacity at the SLO: {} (95 % interval {} to {}, {} searches)\n",
            rate(m),
            rate(m - h),
            rate(m + h),
            rates.len()
        )),
        (Some(m), None) => out.push_str(&format!(
            "capacity at the SLO: {} (one search: no interval)\n",
            rate(m)
        )),
        _ => out.push_str("capacity at the SLO: none found\n"),
    }
    out.push_str(&format!(
        "the file's own rate: {} ({})\n\n",
        rate(found.base_rate),
        match e.mean {
            Some(m) if m >= found.base_rate => "meets the SLO",
            Some(_) => "misses the SLO",
            None => "misses the SLO at every rate tried",
        }
    ));
    let mut rows = vec![vec![
        "seed".to_string(),
        "meets at".to_string(),
        "misses at".to_string(),
        "simulations".to_string(),
    ]];
    for r in &found.runs {
        rows.push(vec![
            r.seed.to_string(),
            r.rate.map_or("-".into(), rate),
            r.missed_at.map_or("-".into(), rate),
            r.simulations.to_string(),
        ]);
    }
    out.push_str(&crate::report::table::layout(&rows));
    out
}
