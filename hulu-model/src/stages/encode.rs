//! Stage 3: vision encoder and projector.

use crate::error::Result;
use crate::model::HuluMed;
use crate::stages::PreprocessedVisuals;
use tch::Tensor;

/// What the vision side makes of a call's visuals; the part worth caching per study.
#[derive(Debug)]
pub struct EncodedVisuals {
    /// Vision encoder output after the merge, `[Σ merged tokens, Cv]`.
    pub vision_features: Tensor,
    /// Projected features, `[Σ merged tokens, H]`, before compression.
    pub mm_features: Tensor,
}

impl HuluMed {
    /// Stage 3: encodes the patches and projects them to the decoder's width. Computes
    /// gradients unless the caller runs it under `tch::no_grad` (as
    /// [`HuluMed::prepare`] does).
    ///
    /// # Errors
    ///
    /// [`Error::Vision`](crate::Error::Vision) when the encoder or the projector fails (patches
    /// that do not match the grids, a device or dtype mismatch).
    pub fn encode_visuals(&self, visuals: &PreprocessedVisuals) -> Result<EncodedVisuals> {
        let _span = tracing::info_span!("vision", inputs = visuals.grids.len()).entered();
        let vision_features = self.vision.encode(&visuals.pixel_values, &visuals.grids)?;
        let _span = tracing::info_span!("project").entered();
        let mm_features = self.projector.forward(&vision_features)?;
        Ok(EncodedVisuals {
            vision_features,
            mm_features,
        })
    }
}
