//! GPUs: memory, bandwidth, tensor throughput, interconnect and prices.

use std::collections::BTreeMap;
use std::fmt;

/// GPU generation; decides which number formats run natively.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    /// T4.
    Turing,
    /// A10G, A100.
    Ampere,
    /// L4, L40S.
    Ada,
    /// H100, H200.
    Hopper,
}

impl Arch {
    /// Parses a lower-case architecture name.
    pub fn parse(s: &str) -> Option<Arch> {
        Some(match s {
            "turing" => Arch::Turing,
            "ampere" => Arch::Ampere,
            "ada" => Arch::Ada,
            "hopper" => Arch::Hopper,
            _ => return None,
        })
    }

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Turing => "turing",
            Arch::Ampere => "ampere",
            Arch::Ada => "ada",
            Arch::Hopper => "hopper",
        }
    }
}

/// The number format a matmul runs in, which picks the GPU's peak throughput.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    /// FP32 (CUDA cores).
    Fp32,
    /// FP16 / BF16 tensor cores.
    Fp16,
    /// FP8 tensor cores.
    Fp8,
    /// INT8 tensor cores.
    Int8,
}

impl Precision {
    /// Parses a lower-case precision name.
    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s {
            "fp32" => Precision::Fp32,
            "fp16" => Precision::Fp16,
            "fp8" => Precision::Fp8,
            "int8" => Precision::Int8,
            _ => return None,
        })
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Fp8 => "fp8",
            Precision::Int8 => "int8",
        })
    }
}

/// The link between the GPUs of one multi-GPU instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Interconnect {
    /// e.g. `nvlink4`, `pcie-gen4`.
    pub kind: String,
    /// Bandwidth per direction, bytes per second.
    pub bandwidth: f64,
    /// Fixed cost of one collective operation, seconds.
    pub latency_s: f64,
}

/// An hourly price of an instance with this GPU.
#[derive(Clone, Debug, PartialEq)]
pub struct Price {
    /// e.g. `aws`.
    pub provider: String,
    /// e.g. `nvidia-a100`.
    pub instance: String,
    /// e.g. `x1`.
    pub size: String,
    /// GPUs in the instance.
    pub gpus: u32,
    /// US dollars per hour.
    pub usd_per_hour: f64,
    /// Date the price was read, `YYYY-MM-DD`.
    pub as_of: String,
    /// Where it was read.
    pub source: String,
}

/// One GPU model.
#[derive(Clone, Debug, PartialEq)]
pub struct Gpu {
    /// Catalog id, e.g. `a100-80gb`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Generation.
    pub arch: Arch,
    /// Physical memory, bytes.
    pub memory: f64,
    /// Memory an instance exposes to the user (HF's AWS T4: 14 GB), bytes.
    pub visible_memory: f64,
    /// Spec memory bandwidth, bytes per second.
    pub bandwidth: f64,
    /// Dense peak throughput by precision, FLOP/s (or OP/s).
    pub peak: BTreeMap<Precision, f64>,
    /// Link between GPUs of one instance.
    pub interconnect: Interconnect,
    /// Instance prices.
    pub prices: Vec<Price>,
    /// Source of each group of figures, by field.
    pub sources: Vec<(String, String)>,
}

impl Gpu {
    /// Dense peak at `p`, if the GPU has tensor support for it.
    pub fn peak(&self, p: Precision) -> Option<f64> {
        self.peak.get(&p).copied()
    }
}
