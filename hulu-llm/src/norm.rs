//! RMSNorm as Qwen computes it: statistics in float32 whatever the activation dtype.

use crate::Result;
use hulu_nn::VarBuilder;
use tch::{Kind, Tensor};

/// Root-mean-square normalisation over the last dimension, times a learned weight.
#[derive(Debug)]
pub(crate) struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    pub(crate) fn load(scope: &VarBuilder, size: usize, eps: f64) -> Result<Self> {
        Ok(RmsNorm {
            weight: scope.get("weight", &[size as i64])?,
            eps,
        })
    }

    pub(crate) fn bytes(&self) -> usize {
        self.weight.numel() * self.weight.kind().elt_size_in_bytes()
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let kind = x.kind();
        let x32 = x.f_to_kind(Kind::Float)?;
        let var = x32.f_square()?.f_mean_dim(-1, true, Kind::Float)?;
        let normed = x32.f_mul(&var.f_add_scalar(self.eps)?.f_rsqrt()?)?;
        // The reference casts back to the activation dtype before applying the weight.
        Ok(normed.f_to_kind(kind)?.f_mul(&self.weight)?)
    }
}
