//! Stage 2: every visual of a conversation through the image processor.

use crate::error::{Error, Result};
use crate::model::HuluMed;
use crate::prepare::PrepareOptions;
use hulu_io::{MergedGrid, Visual, VisualKind};
use hulu_vision::{ImageProcessor, ProcessorOptions, VisualInput};
use tch::Tensor;

/// The patches of every visual input of a call.
#[derive(Debug)]
pub struct PreprocessedVisuals {
    /// Preprocessed patches `[N, 588]` in the model's dtype, on its device.
    pub pixel_values: Tensor,
    /// Patch grid and merge size of each visual input.
    pub grids: Vec<MergedGrid>,
}

impl HuluMed {
    /// Stage 2: resizes, normalises and patchifies `visuals` with one pixel budget for the
    /// call (the processor options given to the builder, with
    /// [`PrepareOptions::max_visual_tokens`] and [`PrepareOptions::merge_size`] applied).
    /// `None` without visuals.
    ///
    /// # Errors
    ///
    /// [`Error::Vision`](crate::Error::Vision) for a visual the processor refuses (no frames,
    /// a merge size of 0, over the allocation limit); [`Error::Tensor`](crate::Error::Tensor)
    /// when moving the patches to the device fails.
    pub fn preprocess_visuals(
        &self,
        visuals: &[&Visual],
        options: &PrepareOptions,
    ) -> Result<Option<PreprocessedVisuals>> {
        if visuals.is_empty() {
            return Ok(None);
        }
        let _span = tracing::info_span!("preprocess", inputs = visuals.len()).entered();
        let inputs: Vec<VisualInput> = visuals
            .iter()
            .map(|v| match (options.merge_size, v.kind) {
                (Some(m), VisualKind::Volume | VisualKind::Video) => VisualInput::new(v, m),
                _ => VisualInput::with_default_merge(v),
            })
            .collect();
        let processed = match options.max_visual_tokens {
            None => self.processor.process(&inputs),
            Some(budget) => ImageProcessor::with_options(
                &self.preprocessor,
                ProcessorOptions {
                    max_tokens: Some(budget),
                    ..self.processor_options.clone()
                },
            )?
            .process(&inputs),
        }
        .map_err(|e| name_the_input(e, visuals))?;
        let pixel_values = processed
            .to_tensor()?
            .f_to_device(self.device)?
            .f_to_kind(self.kind)?;
        Ok(Some(PreprocessedVisuals {
            pixel_values,
            grids: processed.grids,
        }))
    }
}

/// An error about one input names the file it was read from, when it was read from one.
fn name_the_input(error: hulu_vision::Error, visuals: &[&Visual]) -> Error {
    let origin = match &error {
        hulu_vision::Error::InvalidInput { index, .. } => {
            visuals.get(*index).and_then(|v| v.origin.clone())
        }
        _ => None,
    };
    match origin {
        Some(path) => Error::VisualInput {
            path,
            source: error,
        },
        None => Error::Vision(error),
    }
}
