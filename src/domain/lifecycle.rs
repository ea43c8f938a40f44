//! Replica cold start and billing.
//!
//! A new replica goes through provisioning, pulling its image, downloading its weights, loading
//! them into GPU memory and warming up the engine before it serves. Each phase's duration comes
//! from a size and a bandwidth, so it follows the model, its quantization and the tensor-parallel
//! split. Billing follows HF Inference Endpoints: per started minute while a replica is
//! initializing or running.

use crate::sim::{SimDuration, SimRng};
use rand::RngExt;

/// The phases of a cold start, in order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ColdPhase {
    /// Getting a VM or node.
    Provisioning,
    /// Pulling the container image.
    PullingImage,
    /// Downloading the weights from the hub or object storage.
    DownloadingWeights,
    /// Reading the weights into GPU memory.
    LoadingToGpu,
    /// Engine warm-up (profiling, CUDA-graph capture).
    WarmingUp,
}

impl ColdPhase {
    /// Every phase, in order.
    pub const ALL: [ColdPhase; 5] = [
        ColdPhase::Provisioning,
        ColdPhase::PullingImage,
        ColdPhase::DownloadingWeights,
        ColdPhase::LoadingToGpu,
        ColdPhase::WarmingUp,
    ];

    /// The phase's name.
    pub fn name(self) -> &'static str {
        match self {
            ColdPhase::Provisioning => "provisioning",
            ColdPhase::PullingImage => "pulling image",
            ColdPhase::DownloadingWeights => "downloading weights",
            ColdPhase::LoadingToGpu => "loading to GPU",
            ColdPhase::WarmingUp => "warming up",
        }
    }
}

/// What a cold start depends on.
#[derive(Clone, Debug, PartialEq)]
pub struct ColdStartSpec {
    /// Time to get a machine.
    pub provisioning: SimDuration,
    /// Container image size, bytes.
    pub image_bytes: f64,
    /// Image pull bandwidth, bytes/s.
    pub image_pull_rate: f64,
    /// Whether the image is already on the machine.
    pub cached_image: bool,
    /// Bytes of weights to download and load (the whole model).
    pub weight_bytes: f64,
    /// Download bandwidth, bytes/s.
    pub download_rate: f64,
    /// Whether the weights are already on local disk.
    pub cached_weights: bool,
    /// Load bandwidth into each GPU, bytes/s; the GPUs of a replica load their shards at once.
    pub load_rate: f64,
    /// GPUs per replica.
    pub gpus: u32,
    /// Engine warm-up.
    pub warm_up: SimDuration,
    /// Relative spread of each phase: a factor drawn uniformly from [1 − jitter, 1 + jitter].
    pub jitter: f64,
}

/// A cold start, phase by phase.
#[derive(Clone, Debug, PartialEq)]
pub struct ColdStart {
    /// Duration of each phase, in [`ColdPhase::ALL`] order.
    pub phases: [(ColdPhase, SimDuration); 5],
}

impl ColdStart {
    /// The whole cold start: exactly the sum of its phases.
    pub fn total(&self) -> SimDuration {
        self.phases
            .iter()
            .fold(SimDuration::ZERO, |acc, (_, d)| acc + *d)
    }
}

impl ColdStartSpec {
    /// Nominal phase durations, without jitter.
    pub fn nominal(&self) -> ColdStart {
        self.build(|_| 1.0)
    }

    /// Phase durations with each phase scaled by its own draw from `rng`.
    pub fn sample(&self, rng: &mut SimRng) -> ColdStart {
        let j = self.jitter;
        self.build(|_| {
            if j > 0.0 {
                rng.random_range(1.0 - j..=1.0 + j)
            } else {
                1.0
            }
        })
    }

    fn build(&self, mut factor: impl FnMut(ColdPhase) -> f64) -> ColdStart {
        let secs = |s: f64| SimDuration::from_secs_f64_saturating(s);
        let image = if self.cached_image {
            0.0
        } else {
            self.image_bytes / self.image_pull_rate
        };
        let download = if self.cached_weights {
            0.0
        } else {
            self.weight_bytes / self.download_rate
        };
        let load = self.weight_bytes / f64::from(self.gpus.max(1)) / self.load_rate;
        let base = [
            self.provisioning.as_secs_f64(),
            image,
            download,
            load,
            self.warm_up.as_secs_f64(),
        ];
        let phases = std::array::from_fn(|i| {
            let p = ColdPhase::ALL[i];
            (p, secs(base[i] * factor(p)))
        });
        ColdStart { phases }
    }
}

/// The bill for one replica running over `[start, end)`: per started minute at `usd_per_hour`.
pub fn bill_usd(start: crate::sim::SimTime, end: crate::sim::SimTime, usd_per_hour: f64) -> f64 {
    let nanos = (end - start).as_nanos();
    let minute = 60_000_000_000u64;
    let minutes = nanos.div_ceil(minute);
    minutes as f64 * usd_per_hour / 60.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{RngStreams, SimTime};

    fn spec(weight_gb: f64, gpus: u32) -> ColdStartSpec {
        ColdStartSpec {
            provisioning: SimDuration::from_secs(30),
            image_bytes: 15e9,
            image_pull_rate: 0.1e9,
            cached_image: false,
            weight_bytes: weight_gb * 1e9,
            download_rate: 0.5e9,
            cached_weights: false,
            load_rate: 3e9,
            gpus,
            warm_up: SimDuration::from_secs(30),
            jitter: 0.1,
        }
    }

    #[test]
    fn a_fresh_7b_replica_starts_in_three_to_five_minutes_and_a_70b_one_in_five_to_ten() {
        let seven = spec(13.48, 1).nominal().total().as_secs_f64();
        assert!((180.0..=300.0).contains(&seven), "7B: {seven} s");
        let seventy = spec(137.95, 4).nominal().total().as_secs_f64();
        assert!((300.0..=600.0).contains(&seventy), "70B: {seventy} s");
    }

    #[test]
    fn the_total_is_exactly_the_sum_of_the_phases_and_caches_skip_their_phase() {
        let s = spec(13.48, 1);
        let mut rng = RngStreams::new(1).stream("cold-start");
        let c = s.sample(&mut rng);
        let sum: u64 = c.phases.iter().map(|(_, d)| d.as_nanos()).sum();
        assert_eq!(c.total().as_nanos(), sum);
        let cached = ColdStartSpec {
            cached_image: true,
            cached_weights: true,
            ..s
        }
        .nominal();
        assert_eq!(cached.phases[1].1, SimDuration::ZERO);
        assert_eq!(cached.phases[2].1, SimDuration::ZERO);
        assert!(cached.total() < spec(13.48, 1).nominal().total());
    }

    #[test]
    fn billing_counts_every_started_minute() {
        let t = |s: u64| SimTime::from_nanos(s * 1_000_000_000);
        // 61 s is two started minutes; at $2.50/h a minute costs 4.1666... cents.
        assert!((bill_usd(t(0), t(61), 2.5) - 2.0 * 2.5 / 60.0).abs() < 1e-12);
        assert!((bill_usd(t(0), t(60), 2.5) - 2.5 / 60.0).abs() < 1e-12);
        assert_eq!(bill_usd(t(5), t(5), 2.5), 0.0);
        // Four hours and one second at $0.50/h: 241 minutes = $2.0083.
        assert!((bill_usd(t(0), t(4 * 3600 + 1), 0.5) - 241.0 * 0.5 / 60.0).abs() < 1e-12);
    }
}
