//! The element type training computes in. `bf16` runs the forward and backward on bfloat16
//! copies of the weights while the optimizer keeps float32 master weights and float32 Adam
//! moments (mixed precision as `torch.autocast` + float32 parameters do it in the reference's
//! DeepSpeed/`transformers` setups): each step the bf16 gradients are widened into the
//! masters' update, and the copies are refreshed from the masters after it. A step's change
//! is often below bf16's resolution; kept in float32 it accumulates instead of rounding away.

use crate::{Error, Result};
use tch::Kind;

/// Compute precision of a trainer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Everything in float32.
    #[default]
    F32,
    /// bf16 forward and backward, float32 master weights and optimizer state.
    Bf16,
}

impl Precision {
    /// A precision by its recipe name (`f32`, `bf16`).
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for another name.
    pub fn named(name: &str) -> Result<Precision> {
        match name {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            other => Err(Error::setting(
                "precision",
                format!("{other:?} is not f32 or bf16"),
            )),
        }
    }

    /// The element type of the weights the model computes with.
    pub fn compute_kind(self) -> Kind {
        match self {
            Precision::F32 => Kind::Float,
            Precision::Bf16 => Kind::BFloat16,
        }
    }
}
