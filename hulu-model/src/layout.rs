//! The checkpoint layout a config implies, from a dry run of the model itself.
//!
//! The encoder, projector and decoder are built over a [`RecordingBackend`], which records every
//! key and shape they ask for and materialises nothing. The module tree is thus the only
//! description of the key tree: a new decoder family or encoder changes the layout by itself.

use crate::config::HuluConfig;
use crate::error::Result;
use crate::model::load_vision;
use hulu_nn::{RecordingBackend, VarBuilder};
use std::collections::BTreeMap;
use std::sync::Arc;
use tch::{Device, Kind};

/// Every tensor key of a Hulu-Med checkpoint for `config`, with its shape.
///
/// # Errors
/// Whatever building the components over the recording backend reports (an invalid config).
pub fn expected_layout(config: &HuluConfig) -> Result<BTreeMap<String, Vec<usize>>> {
    let _span = tracing::info_span!("expected_layout").entered();
    let recorder = Arc::new(RecordingBackend::new());
    let vb = VarBuilder::from_arc(recorder.clone(), Kind::Float, Device::Cpu);
    // Nothing here is trained: no autograd graph for the stride-0 placeholders.
    tch::no_grad(|| -> Result<()> {
        load_vision(config, &vb, hulu_vision::EncoderOptions::default())?;
        hulu_llm::load_decoder(&config.decoder, &vb)?;
        Ok(())
    })?;
    Ok(recorder
        .layout()
        .into_iter()
        .map(|(k, shape)| (k, shape.into_iter().map(|d| d as usize).collect()))
        .collect())
}
