//! Trainable parameters: one registry an optimizer walks, named by checkpoint keys.

use crate::backend::Backend;
use crate::Result;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tch::{Device, Kind, Tensor};

type Predicate = dyn Fn(&str) -> bool + Send + Sync;

struct Inner {
    init: Arc<dyn Backend>,
    trainable: Box<Predicate>,
    vars: Mutex<BTreeMap<String, Tensor>>,
}

/// Parameters initialised from another backend (a checkpoint, or [`crate::RandomBackend`] for a
/// fresh layer), registered under their checkpoint keys; those the trainability rule selects
/// require grad (leaf tensors), the others are frozen.
///
/// Cheap to clone: clones share one registry. A key asked for twice gets the same tensor (tied
/// weights stay tied). Build a model with `VarBuilder::new(var_map.clone(), kind, device)`,
/// then hand [`VarMap::trainable`] to an optimizer.
#[derive(Clone)]
pub struct VarMap {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for VarMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VarMap")
            .field("vars", &self.len())
            .finish_non_exhaustive()
    }
}

impl VarMap {
    /// Every parameter trainable, initial values from `init`.
    pub fn new(init: impl Backend + 'static) -> Self {
        Self::with_rule(init, |_| true)
    }

    /// Parameters whose key satisfies `trainable` require grad; the others are frozen.
    pub fn with_rule(
        init: impl Backend + 'static,
        trainable: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Self {
        VarMap {
            inner: Arc::new(Inner {
                init: Arc::new(init),
                trainable: Box::new(trainable),
                vars: Mutex::default(),
            }),
        }
    }

    fn vars(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Tensor>> {
        self.inner.vars.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of registered parameters.
    pub fn len(&self) -> usize {
        self.vars().len()
    }

    /// Whether nothing was registered yet.
    pub fn is_empty(&self) -> bool {
        self.vars().is_empty()
    }

    /// Every registered parameter by key (shallow clones sharing storage and grad).
    pub fn all(&self) -> Vec<(String, Tensor)> {
        self.vars()
            .iter()
            .map(|(k, t)| (k.clone(), t.shallow_clone()))
            .collect()
    }

    /// The parameters that require grad, by key.
    pub fn trainable(&self) -> Vec<(String, Tensor)> {
        self.vars()
            .iter()
            .filter(|(_, t)| t.requires_grad())
            .map(|(k, t)| (k.clone(), t.shallow_clone()))
            .collect()
    }

    /// The parameter registered under `key`.
    pub fn get(&self, key: &str) -> Option<Tensor> {
        self.vars().get(key).map(Tensor::shallow_clone)
    }
}

impl Backend for VarMap {
    fn tensor(&self, key: &str, shape: &[i64], kind: Kind, device: Device) -> Result<Tensor> {
        if let Some(t) = self.vars().get(key) {
            if t.size() != shape {
                return Err(crate::Error::WeightShape {
                    key: key.to_string(),
                    expected: shape.to_vec(),
                    actual: t.size(),
                });
            }
            return Ok(t.shallow_clone());
        }
        let value = tch::no_grad(|| self.inner.init.tensor(key, shape, kind, device))?;
        let value = if (self.inner.trainable)(key) {
            value.set_requires_grad(true)
        } else {
            value
        };
        self.vars().insert(key.to_string(), value.shallow_clone());
        Ok(value)
    }

    fn contains(&self, key: &str) -> bool {
        self.vars().contains_key(key) || self.inner.init.contains(key)
    }

    fn keys(&self) -> Option<Vec<String>> {
        self.inner.init.keys()
    }
}
