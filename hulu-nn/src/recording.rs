//! A dry run: the keys and shapes a model asks for, without materialising any value.
//!
//! Building a model over a [`RecordingBackend`] yields the exact layout its config implies (the
//! module tree is the only description of the key tree; there is no hand-written copy to keep
//! in step). Each tensor handed out is one zero broadcast to the shape (stride 0), so even a
//! 70B config costs no memory.

use crate::backend::{element_count, Backend};
use crate::Result;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// Records every key and shape asked for.
#[derive(Debug, Default)]
pub struct RecordingBackend {
    seen: Mutex<BTreeMap<String, Vec<i64>>>,
}

impl RecordingBackend {
    /// An empty record.
    pub fn new() -> Self {
        RecordingBackend::default()
    }

    /// Every key asked for so far, with its shape.
    pub fn layout(&self) -> BTreeMap<String, Vec<i64>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Backend for RecordingBackend {
    fn tensor(&self, key: &str, shape: &[i64], kind: Kind, device: Device) -> Result<Tensor> {
        element_count(key, shape)?;
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), shape.to_vec());
        Ok(Tensor::f_zeros([1], (kind, device))?
            .f_reshape(vec![1; shape.len()])?
            .f_expand(shape, false)?)
    }

    fn contains(&self, _key: &str) -> bool {
        true
    }

    fn keys(&self) -> Option<Vec<String>> {
        None
    }
}
