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

/// How the GPUs of one multi-GPU instance reach each other. Decides which all-reduce figures
/// apply: an NVSwitch or NVLink fabric, PCIe with peer-to-peer transfers, or PCIe without them,
/// where NCCL stages every transfer through host memory.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// Every GPU on an NVSwitch fabric (HGX/DGX boards: p4d, p5).
    NvSwitch,
    /// NVLink bridges between pairs of cards.
    NvLink,
    /// PCIe with GPU peer-to-peer transfers.
    PcieP2p,
    /// PCIe without peer-to-peer: transfers go through host memory.
    PcieHost,
}

impl LinkKind {
    /// Parses a catalog name.
    pub fn parse(s: &str) -> Option<LinkKind> {
        Some(match s {
            "nvswitch" => LinkKind::NvSwitch,
            "nvlink" => LinkKind::NvLink,
            "pcie-p2p" => LinkKind::PcieP2p,
            "pcie-host" => LinkKind::PcieHost,
            _ => return None,
        })
    }

    /// The catalog name.
    pub fn name(self) -> &'static str {
        match self {
            LinkKind::NvSwitch => "nvswitch",
            LinkKind::NvLink => "nvlink",
            LinkKind::PcieP2p => "pcie-p2p",
            LinkKind::PcieHost => "pcie-host",
        }
    }

    /// Names accepted by [`LinkKind::parse`].
    pub const NAMES: [&'static str; 4] = ["nvswitch", "nvlink", "pcie-p2p", "pcie-host"];
}

/// Measured all-reduce performance of one group size (nccl-tests `all_reduce_perf`).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct AllReducePoint {
    /// GPUs taking part.
    pub gpus: u32,
    /// Bus bandwidth of large messages, bytes per second. nccl-tests defines it so that an
    /// all-reduce of `m` bytes moves `2(n-1)/n · m` bytes over it.
    pub bus_bandwidth: f64,
    /// Time of a small all-reduce, where latency dominates, seconds.
    pub latency_s: f64,
}

/// The link between the GPUs of one multi-GPU instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Interconnect {
    /// Topology.
    pub kind: LinkKind,
    /// Measured points by GPU count, ascending.
    pub points: Vec<AllReducePoint>,
}

impl Interconnect {
    /// The measured point for `gpus`: the exact count if measured, else the next larger one
    /// (a conservative choice: bandwidth falls and latency grows with the group), else the
    /// largest measured.
    pub fn point(&self, gpus: u32) -> AllReducePoint {
        self.points
            .iter()
            .find(|p| p.gpus >= gpus)
            .or(self.points.last())
            .copied()
            .unwrap_or(AllReducePoint {
                gpus,
                bus_bandwidth: f64::INFINITY,
                latency_s: 0.0,
            })
    }

    /// Seconds for one all-reduce of `bytes` over `gpus` GPUs: the per-call latency plus the
    /// ring traffic at the measured bus bandwidth.
    pub fn all_reduce_seconds(&self, bytes: f64, gpus: u32) -> f64 {
        if gpus <= 1 {
            return 0.0;
        }
        let p = self.point(gpus);
        let n = f64::from(gpus);
        p.latency_s + 2.0 * (n - 1.0) / n * bytes / p.bus_bandwidth
    }
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
    /// Memory as labelled by the vendor, bytes (the label is in GiB: an "80 GB" A100 has
    /// 80 GiB).
    pub memory: f64,
    /// Memory the driver reports as total (`nvidia-smi`, `torch.cuda.mem_get_info`), bytes:
    /// what an engine's memory-utilisation share is taken of. Below the label on GDDR cards,
    /// which reserve part of it (ECC, driver).
    pub visible_memory: f64,
    /// Spec memory bandwidth, bytes per second.
    pub bandwidth: f64,
    /// Dense peak throughput by precision, FLOP/s (or OP/s).
    pub peak: BTreeMap<Precision, f64>,
    /// Link between GPUs of the multi-GPU instances this GPU is usually sold in (an instance
    /// file can say otherwise).
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

/// A multi-GPU machine named by its provider (an AWS `g5.12xlarge`: 4 A10Gs on PCIe without
/// peer-to-peer), where the GPU file alone does not say how the GPUs are linked or what the
/// machine costs.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// Catalog id, e.g. `g5.12xlarge`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Catalog id of its GPU.
    pub gpu: String,
    /// GPUs in the machine.
    pub gpus: u32,
    /// How they are linked.
    pub interconnect: Interconnect,
    /// Where the interconnect figures come from.
    pub interconnect_source: String,
    /// Prices of the whole machine.
    pub prices: Vec<Price>,
}
