//! A dense projection `x Wᵀ + b` with the weight stored `[out, in]` as in the checkpoint.

use crate::Result;
use hulu_nn::VarBuilder;
use tch::{Device, Kind, Tensor};

/// A linear layer, with or without bias.
#[derive(Debug)]
pub(crate) struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
    /// A LoRA update added to the output (training, or an unmerged adapter).
    adapter: Option<crate::LoraAdapter>,
}

impl Linear {
    pub(crate) fn load(
        scope: &VarBuilder,
        input: usize,
        output: usize,
        bias: bool,
    ) -> Result<Self> {
        let weight = scope.get("weight", &[output as i64, input as i64])?;
        let bias = if bias {
            Some(scope.get("bias", &[output as i64])?)
        } else {
            None
        };
        Ok(Linear {
            weight,
            bias,
            adapter: None,
        })
    }

    pub(crate) fn from_weight(weight: Tensor) -> Self {
        Linear {
            weight,
            bias: None,
            adapter: None,
        }
    }

    pub(crate) fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// Attaches (or with `None` removes) a LoRA adapter, returning the previous one.
    pub(crate) fn set_adapter(
        &mut self,
        adapter: Option<crate::LoraAdapter>,
    ) -> Option<crate::LoraAdapter> {
        std::mem::replace(&mut self.adapter, adapter)
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if let Some(adapter) = &self.adapter {
            return adapter.add_to(x, x.f_linear(&self.weight, self.bias.as_ref())?);
        }
        let input = self.weight.size()[1];
        if self.weight.kind() == Kind::BFloat16
            && self.weight.device() == Device::Cpu
            && x.numel() as i64 == input
        {
            // One row (a decode step): libtorch's CPU bf16 `linear` takes a GEMM path that is
            // slower than float32 at M = 1, while its matrix-vector kernel is not.
            let mut out = self.weight.f_mv(&x.f_reshape([input])?)?;
            if let Some(bias) = &self.bias {
                out = out.f_add(bias)?;
            }
            let mut shape = x.size();
            *shape.last_mut().expect("x has the input width") = self.weight.size()[0];
            return Ok(out.f_reshape(shape)?);
        }
        Ok(x.f_linear(&self.weight, self.bias.as_ref())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bf16_single_row_path_matches_linear() {
        tch::manual_seed(3);
        let opts = (Kind::Float, Device::Cpu);
        let weight = Tensor::randn([48, 32], opts).to_kind(Kind::BFloat16);
        let bias = Tensor::randn([48], opts).to_kind(Kind::BFloat16);
        let layer = Linear {
            weight: weight.shallow_clone(),
            bias: Some(bias.shallow_clone()),
            adapter: None,
        };
        for shape in [vec![1i64, 1, 32], vec![1, 32], vec![3, 32]] {
            let x = Tensor::randn(shape.as_slice(), opts).to_kind(Kind::BFloat16);
            let ours = layer.forward(&x).unwrap();
            let reference = x.linear(&weight, Some(&bias));
            assert_eq!(ours.size(), reference.size(), "{shape:?}");
            let diff = (ours.to_kind(Kind::Float) - reference.to_kind(Kind::Float))
                .abs()
                .max()
                .double_value(&[]);
            // Both accumulate in float32; only the final bf16 rounding may differ.
            assert!(diff <= 0.07, "{shape:?}: max difference {diff}");
        }
    }
}
