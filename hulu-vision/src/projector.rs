//! The `mlp2x_gelu` projector: vision features to decoder-width embeddings.

use crate::nn::Linear;
use crate::{Error, Result};
use hulu_nn::VarBuilder;
use tch::Tensor;

/// `Linear → GELU (exact erf) → Linear`, keys `readout.0` and `readout.2`.
#[derive(Debug)]
pub struct Projector {
    fc1: Linear,
    fc2: Linear,
    vision_hidden: usize,
    llm_hidden: usize,
}

impl Projector {
    /// Loads from a view at `model.mm_projector`: `readout.0` maps `vision_hidden → llm_hidden`,
    /// `readout.2` maps `llm_hidden → llm_hidden`.
    ///
    /// # Errors
    ///
    /// [`Error::Weights`] for a missing or mis-shaped `readout` weight, naming its key.
    pub fn load(weights: &VarBuilder, vision_hidden: usize, llm_hidden: usize) -> Result<Self> {
        let readout = weights.pp("readout");
        Ok(Projector {
            fc1: Linear::load(&readout.pp(0), vision_hidden, llm_hidden)?,
            fc2: Linear::load(&readout.pp(2), llm_hidden, llm_hidden)?,
            vision_hidden,
            llm_hidden,
        })
    }

    /// Width of the vision features it takes.
    pub fn input_width(&self) -> usize {
        self.vision_hidden
    }

    /// Width of the embeddings it returns (the decoder's hidden size).
    pub fn output_width(&self) -> usize {
        self.llm_hidden
    }

    /// `[n, vision_hidden]` features to `[n, llm_hidden]` embeddings.
    ///
    /// # Errors
    ///
    /// [`Error::Torch`] for features whose width is not `vision_hidden`.
    pub fn forward(&self, features: &Tensor) -> Result<Tensor> {
        let _span = tracing::info_span!("projector").entered();
        if features.size().last() != Some(&(self.vision_hidden as i64)) {
            return Err(Error::Shape(format!(
                "projector expects features of width {}, got shape {:?}",
                self.vision_hidden,
                features.size()
            )));
        }
        let h = self.fc1.forward(features)?.f_gelu("none")?;
        self.fc2.forward(&h)
    }
}
