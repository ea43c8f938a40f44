//! `capsim explain`: what an experiment's endpoint is made of, with the numbers the simulation
//! uses: memory plan, step speeds, cold-start breakdown and price.

const GIB: f64 = 1_073_741_824.0;

use crate::domain::perf::StepShape;
use crate::domain::serving::StepModel;
use crate::domain::{Load, Service};
use crate::experiment::Experiment;

/// Renders the explanation of `exp` as text.
pub fn render(exp: &Experiment) -> String {
    let mut out = format!("{} ({})\n\n", exp.name, exp.source.display());
    let s = &exp.scenario;
    let rate = match &s.load {
        Load::Open(a) => {
            out.push_str(&format!(
                "Load: {} arrivals at {} requests/s\n",
                a.kind(),
                a.mean_rate_per_s()
            ));
            Some(a.mean_rate_per_s())
        }
        Load::Closed { users, think } => {
            out.push_str(&format!(
                "Load: {users} closed-loop users, think time {} with mean {:.3} s\n",
                think.kind(),
                think.mean()
            ));
            None
        }
    };
    match &s.service {
        Service::Servers(spec) => {
            let mean = spec.service_time.mean();
            out.push_str(&format!(
                "Endpoint: {} servers, {} service time with mean {:.4} s\n",
                spec.servers,
                spec.service_time.kind(),
                mean
            ));
            if let Some(r) = rate {
                let rho = r * mean / f64::from(spec.servers);
                out.push_str(&format!(
                    "Offered load: {rho:.3} of capacity{}\n",
                    if rho >= 1.0 {
                        " (overloaded: the queue grows without timeouts)"
                    } else {
                        ""
                    }
                ));
            }
        }
        Service::Llm(svc) => {
            let prompt = svc.prompt_tokens.mean().round().max(0.0) as u64;
            let output = svc.output_tokens.mean();
            out.push_str(&format!(
                "Requests: prompt {} tokens on average, output {:.0}\n",
                prompt, output
            ));
            if let Some(d) = &svc.deployment {
                let m = d.memory();
                out.push_str(&format!(
                    "Endpoint: {} {} on {} x {} ({}), engine {} (class {})\n",
                    d.llm.id,
                    d.quant.id,
                    d.tp,
                    d.gpu.id,
                    d.gpu.name,
                    svc.engine.kind(),
                    d.class.id
                ));
                out.push_str(&format!(
                    "Memory per GPU: usable {:.1} GiB = weights {:.1} GiB + runtime {:.1} GiB + KV cache {:.1} GiB ({} tokens in all)\n",
                    m.usable_per_gpu / GIB,
                    m.weights_per_gpu / GIB,
                    m.overhead_per_gpu / GIB,
                    m.kv_per_gpu / GIB,
                    svc.kv_tokens
                ));
            } else {
                out.push_str(&format!(
                    "Endpoint: measured profile, engine {}\n",
                    svc.engine.kind()
                ));
            }
            let ttft = svc.step.step_seconds(&StepShape::prefill(prompt));
            let alone = svc.step.step_seconds(&StepShape::decode(1, prompt + 1));
            out.push_str(&format!(
                "Speed alone: time to first token {:.0} ms at {} prompt tokens, then {:.1} tokens/s ({} step model)\n",
                ttft * 1e3,
                prompt,
                1.0 / alone,
                match svc.step {
                    StepModel::Derived(_) => "derived",
                    StepModel::Profile(_) => "measured",
                }
            ));
            if let (Some(c), Some(d)) = (&svc.cold_start, &svc.deployment) {
                let n = c.nominal();
                out.push_str(&format!(
                    "\nCold start of one replica (nominal; each phase varies by up to ±{:.0} %):\n",
                    c.jitter * 100.0
                ));
                let detail = [
                    String::new(),
                    if c.cached_image {
                        "cached".into()
                    } else {
                        format!(
                            "{:.1} GB at {:.2} GB/s",
                            c.image_bytes / 1e9,
                            c.image_pull_rate / 1e9
                        )
                    },
                    if c.cached_weights {
                        "cached".into()
                    } else {
                        format!(
                            "{:.1} GB at {:.2} GB/s",
                            c.weight_bytes / 1e9,
                            c.download_rate / 1e9
                        )
                    },
                    format!(
                        "{:.1} GB over {} GPU(s) at {:.1} GB/s each",
                        c.weight_bytes / 1e9,
                        d.tp,
                        c.load_rate / 1e9
                    ),
                    String::new(),
                ];
                let mut rows: Vec<Vec<String>> = n
                    .phases
                    .iter()
                    .zip(&detail)
                    .map(|((p, dur), det)| {
                        vec![
                            format!("  {}", p.name()),
                            format!("{:.1} s", dur.as_secs_f64()),
                            det.clone(),
                        ]
                    })
                    .collect();
                rows.push(vec![
                    "  total".into(),
                    format!("{:.1} s", n.total().as_secs_f64()),
                    format!("{:.1} min", n.total().as_secs_f64() / 60.0),
                ]);
                out.push_str(&crate::report::table::layout(&rows));
            }
            if let Some(cap) = crate::domain::capacity_rps(s) {
                out.push_str(&format!(
                    "\nCapacity: at most {cap:.3} requests/s over {} replica(s) (engine limit and KV cache full, no queueing: an upper bound)\n",
                    svc.replicas.max(1)
                ));
                if let Some(r) = rate {
                    let rho = r / cap;
                    out.push_str(&format!(
                        "Offered load: {rho:.3} of that capacity{}\n",
                        if rho > 1.0 { " (overloaded)" } else { "" }
                    ));
                }
            }
            match &svc.price {
                Some((usd, what)) => out.push_str(&format!("\nPrice: ${usd:.2} per replica-hour ({what}), billed per started minute\n")),
                None if svc.deployment.is_some() => out.push_str("\nPrice: none in the catalog for this GPU and size; set [endpoint.billing] usd-per-hour\n"),
                None => {}
            }
        }
    }
    out
}
