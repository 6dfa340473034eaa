//! Seeded random parameters: the workspace's one random-weight generator (benchmarks,
//! `hulu synth`, property tests, freshly initialised layers).
//!
//! Our own generator rather than libtorch's: the value of a key must depend only on the seed and
//! the key, never on the order in which modules are built or on which thread (libtorch's global
//! generator is shared state).

use crate::backend::{element_count, Backend};
use crate::Result;
use tch::{Device, Kind, Tensor};

/// Seeded random values for any key.
///
/// Keys ending in `norm.weight` are drawn uniformly around 1 (±0.1), every other key uniformly
/// around 0 with standard deviation `std` (0.02 by default, the Qwen initialiser's). Every key
/// "exists", so optional tensors are created whenever a config asks for them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomBackend {
    seed: u64,
    std: f64,
}

impl RandomBackend {
    /// Values of standard deviation 0.02 from `seed`.
    pub fn new(seed: u64) -> Self {
        RandomBackend { seed, std: 0.02 }
    }

    /// The same generator with another standard deviation.
    pub fn with_std(self, std: f64) -> Self {
        RandomBackend { std, ..self }
    }

    /// The values of `key` as float32, `element_count` of them, row-major.
    pub fn values(&self, key: &str, element_count: usize) -> Vec<f32> {
        let (center, half_width) = if key.ends_with("norm.weight") {
            (1.0f32, 0.1f32)
        } else {
            // A uniform distribution on [-a, a] has standard deviation a / sqrt(3).
            (0.0, (self.std * 3f64.sqrt()) as f32)
        };
        let mut state = self.seed ^ key_hash(key);
        (0..element_count)
            .map(|_| {
                let unit = (splitmix(&mut state) >> 40) as f32 / (1u64 << 24) as f32;
                center + (2.0 * unit - 1.0) * half_width
            })
            .collect()
    }
}

/// One step of SplitMix64: a small, well-mixed generator that needs no dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
fn key_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Backend for RandomBackend {
    fn tensor(&self, key: &str, shape: &[i64], kind: Kind, device: Device) -> Result<Tensor> {
        let n = element_count(key, shape)?;
        let t = Tensor::f_from_slice(&self.values(key, n))?.f_reshape(shape)?;
        Ok(t.f_to_device(device)?.f_to_kind(kind)?)
    }

    fn contains(&self, _key: &str) -> bool {
        true
    }

    fn keys(&self) -> Option<Vec<String>> {
        None
    }
}
