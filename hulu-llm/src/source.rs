//! Where decoder parameters come from: a checkpoint (through [`hulu_io::Weights`]) or seeded
//! random values (benchmarks, tests of properties that hold for any weights).

use crate::Result;
use tch::{Device, Kind, Tensor};

/// A provider of named parameter tensors, already in the dtype and on the device the decoder
/// runs in.
///
/// Keys are the Hugging Face checkpoint keys (`model.layers.0.self_attn.q_proj.weight`,
/// `lm_head.weight`, ...), so the decoder's module tree mirrors the key tree.
pub trait TensorSource {
    /// The tensor `key`, which must have exactly `shape`.
    fn tensor(&self, key: &str, shape: &[i64]) -> Result<Tensor>;
    /// Whether `key` exists (optional tensors such as biases).
    fn contains(&self, key: &str) -> bool;
    /// Element type of the tensors handed out.
    fn kind(&self) -> Kind;
    /// Device of the tensors handed out.
    fn device(&self) -> Device;
}

impl TensorSource for hulu_io::Weights<'_> {
    fn tensor(&self, key: &str, shape: &[i64]) -> Result<Tensor> {
        Ok(self.get(key, shape)?)
    }
    fn contains(&self, key: &str) -> bool {
        hulu_io::Weights::contains(self, key)
    }
    fn kind(&self) -> Kind {
        hulu_io::Weights::kind(self)
    }
    fn device(&self) -> Device {
        hulu_io::Weights::device(self)
    }
}

/// A key prefix over a [`TensorSource`], so each module asks for its own names.
#[derive(Clone)]
pub(crate) struct Scope<'a> {
    source: &'a dyn TensorSource,
    prefix: String,
}

impl<'a> Scope<'a> {
    pub(crate) fn root(source: &'a dyn TensorSource) -> Self {
        Scope {
            source,
            prefix: String::new(),
        }
    }

    pub(crate) fn pp(&self, sub: impl std::fmt::Display) -> Self {
        Scope {
            source: self.source,
            prefix: self.key(&sub.to_string()),
        }
    }

    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    pub(crate) fn get(&self, name: &str, shape: &[i64]) -> Result<Tensor> {
        self.source.tensor(&self.key(name), shape)
    }

    pub(crate) fn kind(&self) -> Kind {
        self.source.kind()
    }

    pub(crate) fn device(&self) -> Device {
        self.source.device()
    }
}

/// Seeded random parameters for any key, independent of libtorch's global generator so that
/// the same seed and key give the same values in any thread and any order.
///
/// Norm weights (keys ending in `norm.weight`) are drawn around 1, everything else uniformly
/// with standard deviation `std`. Every key "exists", so optional tensors (biases) are created
/// whenever the decoder's config asks for them.
#[derive(Debug, Clone)]
pub struct RandomWeights {
    seed: u64,
    std: f64,
    kind: Kind,
    device: Device,
}

impl RandomWeights {
    /// Random weights of standard deviation 0.02 (the Qwen initialiser's) from `seed`.
    pub fn new(seed: u64, kind: Kind, device: Device) -> Self {
        RandomWeights {
            seed,
            std: 0.02,
            kind,
            device,
        }
    }

    /// The same source with another standard deviation.
    pub fn with_std(self, std: f64) -> Self {
        RandomWeights { std, ..self }
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

fn key_hash(key: &str) -> u64 {
    // FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl TensorSource for RandomWeights {
    fn tensor(&self, key: &str, shape: &[i64]) -> Result<Tensor> {
        let n = shape.iter().try_fold(1usize, |acc, &d| {
            usize::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        });
        let n = n.ok_or_else(|| crate::Error::request(format!("bad shape {shape:?} for {key}")))?;
        let (center, half_width) = if key.ends_with("norm.weight") {
            (1.0f32, 0.1f32)
        } else {
            // A uniform distribution on [-a, a] has standard deviation a / sqrt(3).
            (0.0, (self.std * 3f64.sqrt()) as f32)
        };
        let mut state = self.seed ^ key_hash(key);
        let values: Vec<f32> = (0..n)
            .map(|_| {
                let unit = (splitmix(&mut state) >> 40) as f32 / (1u64 << 24) as f32;
                center + (2.0 * unit - 1.0) * half_width
            })
            .collect();
        let t = Tensor::f_from_slice(&values)?.f_reshape(shape)?;
        Ok(t.f_to_device(self.device)?.f_to_kind(self.kind)?)
    }

    fn contains(&self, _key: &str) -> bool {
        true
    }

    fn kind(&self) -> Kind {
        self.kind
    }

    fn device(&self) -> Device {
        self.device
    }
}
