//! The backend trait and the checkpoint backend.

use crate::{Error, Result};
use hulu_io::Checkpoint;
use tch::{Device, Kind, Tensor};

/// Where parameter values come from. Implementations are shared between threads (a model is
/// loaded on one thread and may be moved to another).
pub trait Backend: Send + Sync {
    /// The tensor `key`, which must have exactly `shape`, converted to `kind` on `device`.
    ///
    /// # Errors
    /// [`Error::MissingWeight`] when the backend has no such key, [`Error::WeightShape`] when
    /// its shape differs, [`Error::Io`] when reading it fails.
    fn tensor(&self, key: &str, shape: &[i64], kind: Kind, device: Device) -> Result<Tensor>;

    /// Whether `key` exists (optional tensors such as biases). Generators say yes to every key.
    fn contains(&self, key: &str) -> bool;

    /// Every key the backend holds, when it holds a fixed set (a checkpoint); `None` for
    /// backends that make values for any key.
    fn keys(&self) -> Option<Vec<String>>;
}

/// A safetensors checkpoint (one file or shards with an index), each tensor read on request.
///
/// Each tensor is converted straight from the file into the dtype and device asked for, one at a
/// time ([`Checkpoint::tensor`]), so a model is never built from values that are then
/// overwritten.
#[derive(Debug)]
pub struct CheckpointBackend {
    ckpt: Checkpoint,
}

impl CheckpointBackend {
    /// Wraps an opened checkpoint.
    pub fn new(ckpt: Checkpoint) -> Self {
        CheckpointBackend { ckpt }
    }

    /// Opens the checkpoint in `dir` (`model.safetensors.index.json` or `model.safetensors`).
    ///
    /// # Errors
    /// [`Error::Io`] for a missing or malformed checkpoint (see [`Checkpoint::open`]).
    pub fn open(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        Ok(CheckpointBackend::new(Checkpoint::open(dir)?))
    }

    /// The checkpoint behind this backend.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.ckpt
    }
}

impl Backend for CheckpointBackend {
    fn tensor(&self, key: &str, shape: &[i64], kind: Kind, device: Device) -> Result<Tensor> {
        self.ckpt
            .tensor(key, Some(shape), kind, device)
            .map_err(|e| match e {
                hulu_io::Error::MissingWeight { key } => Error::MissingWeight { key },
                hulu_io::Error::WeightShape {
                    key,
                    expected,
                    actual,
                } => Error::WeightShape {
                    key,
                    expected,
                    actual,
                },
                other => Error::Io(other),
            })
    }

    fn contains(&self, key: &str) -> bool {
        self.ckpt.meta(key).is_some()
    }

    fn keys(&self) -> Option<Vec<String>> {
        Some(self.ckpt.keys().map(str::to_string).collect())
    }
}

/// The number of elements of `shape`, or [`Error::InvalidShape`].
pub(crate) fn element_count(key: &str, shape: &[i64]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| {
            usize::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        })
        .filter(|&n| i64::try_from(n).is_ok())
        .ok_or_else(|| Error::InvalidShape {
            key: key.to_string(),
            shape: shape.to_vec(),
        })
}
