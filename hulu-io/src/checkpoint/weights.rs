//! A prefix-scoped view of a checkpoint that model code loads its tensors through, so the module
//! tree mirrors the key tree and loading needs no renaming table.

use super::Checkpoint;
use crate::{Error, Result};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tch::{Device, Kind, Tensor};

/// Tensors under a key prefix, converted to one dtype on one device.
///
/// `Weights::new(&ckpt, Kind::Float, Device::Cpu).pp("model").pp("layers").pp(0)` hands a layer
/// the keys `model.layers.0.*`. Every key fetched is recorded, so after building a model
/// [`Weights::unused`] / [`Weights::finish`] report checkpoint keys it never asked for.
#[derive(Clone)]
pub struct Weights<'a> {
    ckpt: &'a Checkpoint,
    prefix: String,
    kind: Kind,
    device: Device,
    used: Arc<Mutex<BTreeSet<String>>>,
}

impl std::fmt::Debug for Weights<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Weights")
            .field("prefix", &self.prefix)
            .field("kind", &self.kind)
            .field("device", &self.device)
            .finish()
    }
}

impl<'a> Weights<'a> {
    /// A view of the whole checkpoint producing `kind` tensors on `device`.
    pub fn new(ckpt: &'a Checkpoint, kind: Kind, device: Device) -> Self {
        Weights {
            ckpt,
            prefix: String::new(),
            kind,
            device,
            used: Arc::default(),
        }
    }

    /// The view one level down: `prefix.sub`.
    pub fn pp(&self, sub: impl std::fmt::Display) -> Self {
        Weights {
            prefix: self.key(&sub.to_string()),
            ..self.clone()
        }
    }

    /// The same keys in another dtype (e.g. norms kept in float32).
    pub fn with_kind(&self, kind: Kind) -> Self {
        Weights {
            kind,
            ..self.clone()
        }
    }

    /// The dtype tensors are converted to.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The device tensors are placed on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The checkpoint behind this view.
    pub fn checkpoint(&self) -> &'a Checkpoint {
        self.ckpt
    }

    /// The full key of `name` under this prefix.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// Whether `name` exists under this prefix.
    pub fn contains(&self, name: &str) -> bool {
        self.ckpt.meta(&self.key(name)).is_some()
    }

    /// The tensor `name`, which must have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[i64]) -> Result<Tensor> {
        let key = self.key(name);
        let t = self
            .ckpt
            .tensor(&key, Some(shape), self.kind, self.device)?;
        self.used.lock().expect("weights lock").insert(key);
        Ok(t)
    }

    /// The tensor `name` when present (e.g. an optional bias), else `None`.
    pub fn get_opt(&self, name: &str, shape: &[i64]) -> Result<Option<Tensor>> {
        if self.contains(name) {
            self.get(name, shape).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Keys under this prefix that no view sharing this one's record has fetched.
    pub fn unused(&self) -> Vec<String> {
        let used = self.used.lock().expect("weights lock");
        let dotted = format!("{}.", self.prefix);
        self.ckpt
            .keys()
            .filter(|k| self.prefix.is_empty() || k.starts_with(&dotted))
            .filter(|k| !used.contains(*k))
            .map(str::to_string)
            .collect()
    }

    /// Fails with [`Error::UnexpectedWeights`] when keys under this prefix were never fetched.
    pub fn finish(&self) -> Result<()> {
        let keys = self.unused();
        if keys.is_empty() {
            Ok(())
        } else {
            Err(Error::UnexpectedWeights { keys })
        }
    }
}
