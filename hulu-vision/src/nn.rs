//! The small layers the encoder and projector are built from, loaded by checkpoint key.

use crate::Result;
use hulu_nn::VarBuilder;
use tch::Tensor;

/// `y = x Wᵀ + b` with the checkpoint's `weight` `[out, in]` and `bias` `[out]`.
#[derive(Debug)]
pub(crate) struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    pub(crate) fn load(w: &VarBuilder, in_dim: usize, out_dim: usize) -> Result<Self> {
        Ok(Linear {
            weight: w.get("weight", &[out_dim as i64, in_dim as i64])?,
            bias: w.get("bias", &[out_dim as i64])?,
        })
    }

    /// A linear map from an explicit weight (e.g. a reshaped convolution) and bias.
    pub(crate) fn from_parts(weight: Tensor, bias: Tensor) -> Self {
        Linear { weight, bias }
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.f_linear(&self.weight, Some(&self.bias))?)
    }
}

/// LayerNorm over the last dimension with `weight` and `bias`.
#[derive(Debug)]
pub(crate) struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub(crate) fn load(w: &VarBuilder, dim: usize, eps: f64) -> Result<Self> {
        Ok(LayerNorm {
            weight: w.get("weight", &[dim as i64])?,
            bias: w.get("bias", &[dim as i64])?,
            eps,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dim = self.weight.size();
        Ok(x.f_layer_norm(dim, Some(&self.weight), Some(&self.bias), self.eps, false)?)
    }
}
