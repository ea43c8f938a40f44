//! One replica's hardware and model, resolved: the GPU, the model, its quantization, the
//! tensor-parallel size, the link between the GPUs and the engine class, with the memory and
//! step-time views derived from them.

use super::hardware::{Gpu, Interconnect};
use super::llm::LlmSpec;
use super::memory::MemoryPlan;
use super::perf::{EngineClass, PerfInputs, PerfModel};
use super::quant::Quantization;

/// GPU memory is labelled in GiB (an "80 GB" A100 has 80 × 2^30 bytes).
const GIB: f64 = 1_073_741_824.0;
/// One replica's hardware and model, resolved from a catalog.
#[derive(Clone, Debug)]
pub struct Deployment {
    /// The GPU.
    pub gpu: Gpu,
    /// The model.
    pub llm: LlmSpec,
    /// The quantization.
    pub quant: Quantization,
    /// GPUs per replica (tensor parallelism).
    pub tp: u32,
    /// How the replica's GPUs are linked (the GPU's usual instance, or a named instance).
    pub interconnect: Interconnect,
    /// The named instance, if the experiment gave one.
    pub instance: Option<String>,
    /// Engine class.
    pub class: EngineClass,
    /// Share of GPU memory the engine may use.
    pub memory_utilization: f64,
    /// KV-cache bytes per element.
    pub kv_bytes: f64,
    /// Smooth-roofline exponent.
    pub overlap_exponent: f64,
}

/// Why `llm` cannot be split over `tp` GPUs, if it cannot: tensor parallelism gives each GPU an
/// equal share of the attention heads. Both `capsim run` and `capsim curve` apply it.
pub fn tensor_parallel_problem(llm: &LlmSpec, tp: u32) -> Option<String> {
    (tp == 0 || !llm.heads.is_multiple_of(tp)).then(|| {
        format!(
            "{} attention heads cannot be split over {tp} GPUs",
            llm.heads
        )
    })
}

impl Deployment {
    /// Where the memory goes.
    pub fn memory(&self) -> MemoryPlan {
        MemoryPlan::new(
            &self.gpu,
            &self.llm,
            &self.quant,
            self.tp,
            self.memory_utilization,
            self.class.runtime_overhead,
            self.kv_bytes,
        )
    }

    /// The step-time model; fails if the GPU cannot run the quantization.
    pub fn perf(&self) -> Result<PerfModel, String> {
        PerfModel::new(&PerfInputs {
            gpu: &self.gpu,
            interconnect: &self.interconnect,
            llm: &self.llm,
            quant: &self.quant,
            tp: self.tp,
            class: &self.class,
            kv_bytes: self.kv_bytes,
            exponent: self.overlap_exponent,
        })
    }

    /// The same deployment on another GPU, quantization or tensor-parallel size (the KV cache
    /// follows the quantization unless it is the deployment's own).
    pub fn with(&self, gpu: &Gpu, quant: &Quantization, tp: u32) -> Deployment {
        Deployment {
            gpu: gpu.clone(),
            quant: quant.clone(),
            kv_bytes: if quant.id == self.quant.id {
                self.kv_bytes
            } else {
                quant.kv_bytes
            },
            interconnect: gpu.interconnect.clone(),
            tp,
            ..self.clone()
        }
    }

    /// Whether the GPU runs the quantization and one sequence of `tokens` fits in memory.
    pub fn fits(&self, tokens: u64) -> bool {
        self.perf().is_ok() && self.memory().fits(tokens)
    }

    /// Checks that one sequence of `tokens` fits; otherwise says why with the numbers, and
    /// suggests, among the `quantizations` and `gpus` a catalog offers, the ones (and the
    /// tensor-parallel sizes) that would fit.
    pub fn check_fit(
        &self,
        quantizations: &[&Quantization],
        gpus: &[&Gpu],
        tokens: u64,
    ) -> Result<(), (String, String)> {
        if self.quant.on(self.gpu.arch).is_none() {
            let problem = format!(
                "{} cannot run {} ({} architecture)",
                self.gpu.name,
                self.quant.name,
                self.gpu.arch.name()
            );
            return Err((problem, self.suggestions(quantizations, gpus, tokens)));
        }
        if let Err(problem) = self.perf() {
            return Err((problem, self.suggestions(quantizations, gpus, tokens)));
        }
        let m = self.memory();
        if m.fits(tokens) {
            return Ok(());
        }
        let kv = tokens as f64 * m.kv_bytes_per_token / f64::from(m.tp);
        let per = if self.tp > 1 { " per GPU" } else { "" };
        let problem = format!(
            "{} at {} does not fit {} x {}: it needs {:.1} GiB of weights + {:.1} GiB runtime + {:.1} GiB KV cache for one {tokens}-token sequence = {:.1} GiB{per}, but each GPU offers {:.1} GiB ({:.1} GiB x memory utilisation {})",
            self.llm.id,
            self.quant.id,
            self.tp,
            self.gpu.id,
            m.weights_per_gpu / GIB,
            m.overhead_per_gpu / GIB,
            kv / GIB,
            m.needed_per_gpu(tokens) / GIB,
            m.usable_per_gpu / GIB,
            self.gpu.visible_memory / GIB,
            self.memory_utilization
        );
        Err((problem, self.suggestions(quantizations, gpus, tokens)))
    }

    fn suggestions(&self, quantizations: &[&Quantization], gpus: &[&Gpu], tokens: u64) -> String {
        let mut parts = Vec::new();
        let mut quants: Vec<&Quantization> = quantizations.to_vec();
        quants.sort_by(|a, b| {
            b.bytes_per_weight()
                .total_cmp(&a.bytes_per_weight())
                .then(a.id.cmp(&b.id))
        });
        let q_fit: Vec<&str> = quants
            .iter()
            .filter(|q| q.id != self.quant.id && self.with(&self.gpu, q, self.tp).fits(tokens))
            .map(|q| q.id.as_str())
            .collect();
        if !q_fit.is_empty() {
            parts.push(format!("{} on {}", q_fit.join(", "), self.gpu.id));
        }
        let g_fit: Vec<&str> = gpus
            .iter()
            .filter(|g| g.id != self.gpu.id && self.with(g, &self.quant, self.tp).fits(tokens))
            .map(|g| g.id.as_str())
            .collect();
        if !g_fit.is_empty() {
            parts.push(format!("{} on {}", self.quant.id, g_fit.join(", ")));
        }
        if let Some(tp) = [2u32, 4, 8]
            .into_iter()
            .find(|&tp| tp > self.tp && self.with(&self.gpu, &self.quant, tp).fits(tokens))
        {
            parts.push(format!("tensor-parallel = {tp} ({tp} x {})", self.gpu.id));
        }
        if parts.is_empty() {
            "nothing in the catalog fits; try a smaller model or a shorter max-model-len"
                .to_string()
        } else {
            format!("would fit: {}", parts.join("; "))
        }
    }
}
