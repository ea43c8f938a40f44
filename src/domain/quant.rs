//! Quantization schemes: storage, KV precision and kernel speed.

use super::hardware::{Arch, Precision};

/// A quantization scheme from the catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantization {
    /// Catalog id, e.g. `int4`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Bits per quantized weight.
    pub bits: u32,
    /// Bytes of scales and zero points per group.
    pub scale_bytes: f64,
    /// Weights per group sharing a scale.
    pub group_size: u32,
    /// Default KV-cache bytes per element.
    pub kv_bytes: f64,
    /// Precision the matmuls run at where supported natively.
    pub compute: Precision,
    /// Architectures that run it natively.
    pub native_on: Vec<Arch>,
    /// Architectures that run it as weight-only (16-bit matmuls).
    pub weight_only_on: Vec<Arch>,
    /// Achieved bandwidth relative to fp16 kernels (native).
    pub bandwidth_efficiency: f64,
    /// Factor on matmul time when compute-bound (native).
    pub compute_overhead: f64,
    /// Same, when run weight-only.
    pub weight_only_bandwidth_efficiency: f64,
    /// Same, when run weight-only.
    pub weight_only_compute_overhead: f64,
    /// Evidence and reasoning.
    pub source: String,
}

/// How a quantization runs on a given GPU.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct QuantOnGpu {
    /// Matmul precision.
    pub compute: Precision,
    /// Relative achieved bandwidth.
    pub bandwidth_efficiency: f64,
    /// Factor on compute-bound matmul time.
    pub compute_overhead: f64,
    /// Whether it runs as weight-only emulation.
    pub weight_only: bool,
}

impl Quantization {
    /// Stored bytes per quantized weight, scales included.
    pub fn bytes_per_weight(&self) -> f64 {
        f64::from(self.bits) / 8.0 + self.scale_bytes / f64::from(self.group_size.max(1))
    }

    /// Bytes per embedding weight: the embedding table is never quantized below 16 bits.
    pub fn embedding_bytes(&self) -> f64 {
        (f64::from(self.bits) / 8.0).max(2.0)
    }

    /// How it runs on `arch`, or `None` if it cannot.
    pub fn on(&self, arch: Arch) -> Option<QuantOnGpu> {
        if self.native_on.contains(&arch) {
            Some(QuantOnGpu {
                compute: self.compute,
                bandwidth_efficiency: self.bandwidth_efficiency,
                compute_overhead: self.compute_overhead,
                weight_only: false,
            })
        } else if self.weight_only_on.contains(&arch) {
            Some(QuantOnGpu {
                compute: Precision::Fp16,
                bandwidth_efficiency: self.weight_only_bandwidth_efficiency,
                compute_overhead: self.weight_only_compute_overhead,
                weight_only: true,
            })
        } else {
            None
        }
    }
}

/// A quantized matmul kernel family (GPTQ Triton, exllama, Marlin, AWQ GEMM, ...): how fast it
/// runs relative to the fp16 kernels of the same engine. Which family runs is the engine
/// class's choice, per quantization and GPU architecture.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    /// Catalog id, e.g. `marlin`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Architectures it runs on.
    pub runs_on: Vec<Arch>,
    /// Achieved bandwidth relative to fp16 kernels when memory-bound (small batches).
    pub bandwidth_efficiency: f64,
    /// Factor on matmul time when compute-bound (dequantisation, CUDA-core arithmetic).
    pub compute_overhead: f64,
    /// Token rows that share one read of the quantized weights (GEMV-style kernels read the
    /// weights again for every block of rows); 0: one read serves any batch.
    pub rows_per_read: u32,
    /// Above this many tokens in a step the kernel dequantizes the weights to fp16 and runs a
    /// dense GEMM (reads the quantized weights, writes and reads fp16 ones); 0: never.
    pub reconstruct_above: u32,
    /// Evidence.
    pub source: String,
}

impl Kernel {
    /// How `quant` runs on `arch` with this kernel: the scheme's precision, this kernel's
    /// speed. `None` if the kernel does not run there.
    pub fn apply(&self, quant: &Quantization, arch: Arch) -> Option<QuantOnGpu> {
        let base = quant.on(arch)?;
        self.runs_on.contains(&arch).then_some(QuantOnGpu {
            bandwidth_efficiency: self.bandwidth_efficiency,
            compute_overhead: self.compute_overhead,
            ..base
        })
    }
}
