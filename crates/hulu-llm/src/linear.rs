//! A dense projection `x Wᵀ + b` with the weight stored `[out, in]` as in the checkpoint.

use crate::source::Scope;
use crate::Result;
use tch::Tensor;

/// A linear layer, with or without bias.
#[derive(Debug)]
pub(crate) struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    pub(crate) fn load(scope: &Scope, input: usize, output: usize, bias: bool) -> Result<Self> {
        let weight = scope.get("weight", &[output as i64, input as i64])?;
        let bias = if bias {
            Some(scope.get("bias", &[output as i64])?)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }

    pub(crate) fn from_weight(weight: Tensor) -> Self {
        Linear { weight, bias: None }
    }

    pub(crate) fn weight(&self) -> &Tensor {
        &self.weight
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.f_linear(&self.weight, self.bias.as_ref())?)
    }
}
