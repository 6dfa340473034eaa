//! [`VarBuilder`]: a key prefix, a dtype and a device over a shared [`Backend`].

use crate::backend::{Backend, CheckpointBackend};
use crate::{Error, RandomBackend, Result};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tch::{Device, Kind, Tensor};

/// Hands each module the tensors under its own key prefix.
///
/// `vb.pp("model").pp("layers").pp(0)` hands a decoder layer the keys `model.layers.0.*`.
/// Clones and sub-prefixes share one record of the keys fetched, so after a model is built
/// [`VarBuilder::unused`] lists the backend keys no module asked for.
#[derive(Clone)]
pub struct VarBuilder {
    backend: Arc<dyn Backend>,
    prefix: String,
    kind: Kind,
    device: Device,
    used: Arc<Mutex<BTreeSet<String>>>,
}

impl std::fmt::Debug for VarBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VarBuilder")
            .field("prefix", &self.prefix)
            .field("kind", &self.kind)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl VarBuilder {
    /// The root of `backend`, producing `kind` tensors on `device`.
    pub fn new(backend: impl Backend + 'static, kind: Kind, device: Device) -> Self {
        Self::from_arc(Arc::new(backend), kind, device)
    }

    /// The root of a shared backend.
    pub fn from_arc(backend: Arc<dyn Backend>, kind: Kind, device: Device) -> Self {
        VarBuilder {
            backend,
            prefix: String::new(),
            kind,
            device,
            used: Arc::default(),
        }
    }

    /// The safetensors checkpoint in `dir`.
    ///
    /// # Errors
    /// [`Error::Io`] when the checkpoint is missing or malformed.
    pub fn from_dir(dir: impl AsRef<std::path::Path>, kind: Kind, device: Device) -> Result<Self> {
        Ok(Self::new(CheckpointBackend::open(dir)?, kind, device))
    }

    /// Seeded random values ([`RandomBackend`] with its default standard deviation).
    pub fn random(seed: u64, kind: Kind, device: Device) -> Self {
        Self::new(RandomBackend::new(seed), kind, device)
    }

    /// The builder one level down: `prefix.sub`.
    pub fn pp(&self, sub: impl std::fmt::Display) -> Self {
        VarBuilder {
            prefix: self.key(&sub.to_string()),
            ..self.clone()
        }
    }

    /// The same keys in another dtype (e.g. norms kept in float32).
    pub fn with_kind(&self, kind: Kind) -> Self {
        VarBuilder {
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

    /// This builder's key prefix (empty at the root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The backend behind this builder.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
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
        self.backend.contains(&self.key(name))
    }

    /// The tensor `name`, which must have exactly `shape`.
    ///
    /// # Errors
    /// [`Error::MissingWeight`], [`Error::WeightShape`] or [`Error::Io`], naming the full key.
    pub fn get(&self, name: &str, shape: &[i64]) -> Result<Tensor> {
        let key = self.key(name);
        let t = self.backend.tensor(&key, shape, self.kind, self.device)?;
        self.used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key);
        Ok(t)
    }

    /// The tensor `name` when present (an optional bias), else `None`.
    ///
    /// # Errors
    /// As [`VarBuilder::get`] for a present key.
    pub fn get_opt(&self, name: &str, shape: &[i64]) -> Result<Option<Tensor>> {
        if self.contains(name) {
            self.get(name, shape).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Every key fetched through this builder or any builder sharing its record.
    pub fn used(&self) -> BTreeSet<String> {
        self.used.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Backend keys under this prefix that no builder sharing this one's record has fetched
    /// (empty for backends without a fixed key set).
    pub fn unused(&self) -> Vec<String> {
        let used = self.used();
        let dotted = format!("{}.", self.prefix);
        self.backend
            .keys()
            .unwrap_or_default()
            .into_iter()
            .filter(|k| self.prefix.is_empty() || k.starts_with(&dotted))
            .filter(|k| !used.contains(k))
            .collect()
    }

    /// Fails when keys under this prefix were never fetched.
    ///
    /// # Errors
    /// [`Error::UnexpectedWeights`] listing them.
    pub fn finish(&self) -> Result<()> {
        let keys = self.unused();
        if keys.is_empty() {
            Ok(())
        } else {
            Err(Error::UnexpectedWeights { keys })
        }
    }
}
