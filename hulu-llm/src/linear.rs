//! A projection `x Wᵀ + b` with the weight stored `[out, in]` as in the checkpoint, dense or
//! weight-only quantized ([`crate::quant`]).
//!
//! A quantized checkpoint ([`crate::quantize_checkpoint`]) stores `weight_int8` + `weight_scale`
//! or `weight_int4` + `weight_scale` + `weight_zero` in place of `weight`; either is read here.

use crate::quant::{int4_group_for, quantize_int4, quantize_int8, Int4Weight, Int8Weight};
use crate::{Quantization, Result};
use hulu_nn::VarBuilder;
use tch::{Device, Kind, Tensor};

/// How a linear layer's weight is held.
#[derive(Debug)]
pub(crate) enum Weight {
    /// `[out, in]` in the compute dtype.
    Dense(Tensor),
    /// int8 codes with one scale per output row.
    Int8(Int8Weight),
    /// int4 codes packed for the device's kernel, with per-group scales and zeros.
    Int4(Int4Weight),
}

/// A linear layer, with or without bias.
#[derive(Debug)]
pub(crate) struct Linear {
    weight: Weight,
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
        let weight = load_weight(scope, input as i64, output as i64)?;
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
            weight: Weight::Dense(weight),
            bias: None,
            adapter: None,
        }
    }

    /// The dense weight; `None` once quantized.
    pub(crate) fn weight(&self) -> Option<&Tensor> {
        match &self.weight {
            Weight::Dense(w) => Some(w),
            _ => None,
        }
    }

    /// Bytes the weight (and bias) hold in memory.
    pub(crate) fn bytes(&self) -> usize {
        let bias = self.bias.as_ref().map_or(0, tensor_bytes);
        bias + match &self.weight {
            Weight::Dense(w) => tensor_bytes(w),
            Weight::Int8(q) => q.bytes(),
            Weight::Int4(q) => q.bytes(),
        }
    }

    /// Replaces a dense weight by its `q` quantization (an int4 layer whose width no kernel
    /// group divides stays dense); the activations keep the dense weight's dtype.
    pub(crate) fn quantize(&mut self, q: &Quantization) -> Result<()> {
        let Weight::Dense(w) = &self.weight else {
            return Ok(());
        };
        let (kind, device) = (w.kind(), w.device());
        self.weight = match *q {
            Quantization::Int8 => {
                let (codes, scale) = quantize_int8(w)?;
                Weight::Int8(Int8Weight::new(codes, &scale, kind)?)
            }
            Quantization::Int4 { group_size } => {
                let Some(group) =
                    int4_group_for(w.size()[0] as usize, w.size()[1] as usize, group_size)
                else {
                    return Ok(());
                };
                let (codes, scale, zero) = quantize_int4(w, group)?;
                Weight::Int4(Int4Weight::new(&codes, &scale, &zero, group, kind, device)?)
            }
        };
        Ok(())
    }

    /// Attaches (or with `None` removes) a LoRA adapter, returning the previous one.
    pub(crate) fn set_adapter(
        &mut self,
        adapter: Option<crate::LoraAdapter>,
    ) -> Option<crate::LoraAdapter> {
        std::mem::replace(&mut self.adapter, adapter)
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let out = self.forward_base(x)?;
        match &self.adapter {
            Some(adapter) => adapter.add_to(x, out),
            None => Ok(out),
        }
    }

    /// `x Wᵀ + b` without the adapter.
    fn forward_base(&self, x: &Tensor) -> Result<Tensor> {
        let weight = match &self.weight {
            Weight::Dense(w) => w,
            Weight::Int8(q) => {
                return self.forward_quantized(x, |x2| q.matmul(x2), q.out_features())
            }
            Weight::Int4(q) => {
                return self.forward_quantized(x, |x2| q.matmul(x2), q.out_features())
            }
        };
        let input = weight.size()[1];
        if weight.kind() == Kind::BFloat16
            && weight.device() == Device::Cpu
            && x.numel() as i64 == input
        {
            // One row (a decode step): libtorch's CPU bf16 `linear` takes a GEMM path that is
            // slower than float32 at M = 1, while its matrix-vector kernel is not.
            let mut out = weight.f_mv(&x.f_reshape([input])?)?;
            if let Some(bias) = &self.bias {
                out = out.f_add(bias)?;
            }
            let mut shape = x.size();
            *shape.last_mut().expect("x has the input width") = weight.size()[0];
            return Ok(out.f_reshape(shape)?);
        }
        Ok(x.f_linear(weight, self.bias.as_ref())?)
    }

    /// The packed kernels take a matrix: rows of `x` flattened, then the shape restored.
    fn forward_quantized(
        &self,
        x: &Tensor,
        matmul: impl Fn(&Tensor) -> Result<Tensor>,
        out: i64,
    ) -> Result<Tensor> {
        let mut shape = x.size();
        let input = *shape.last().expect("x has the input width");
        let mut y = matmul(&x.f_reshape([-1, input])?)?;
        if let Some(bias) = &self.bias {
            y = y.f_add(bias)?;
        }
        *shape.last_mut().expect("x has the input width") = out;
        Ok(y.f_reshape(shape)?)
    }
}

fn tensor_bytes(t: &Tensor) -> usize {
    t.numel() * t.kind().elt_size_in_bytes()
}

/// The weight under `scope`: dense `weight`, or the codes of a quantized checkpoint (only
/// looked for when `weight` is absent: generator backends claim every key).
fn load_weight(scope: &VarBuilder, input: i64, output: i64) -> Result<Weight> {
    if scope.contains("weight") || !(scope.contains("weight_int8") || scope.contains("weight_int4"))
    {
        return Ok(Weight::Dense(scope.get("weight", &[output, input])?));
    }
    let (kind, device) = (scope.kind(), scope.device());
    let f32s = scope.with_kind(Kind::Float);
    if scope.contains("weight_int8") {
        let codes = scope
            .with_kind(Kind::Int8)
            .get("weight_int8", &[output, input])?;
        let scale = f32s.get("weight_scale", &[output])?;
        return Ok(Weight::Int8(Int8Weight::new(codes, &scale, kind)?));
    }
    let bytes = scope
        .with_kind(Kind::Uint8)
        .get("weight_int4", &[output, input / 2])?;
    // The group size is the one whose scale shape the checkpoint holds.
    let mut found = None;
    for group in crate::quant::INT4_GROUPS {
        if input % group as i64 != 0 {
            continue;
        }
        let groups = input / group as i64;
        if let Ok(scale) = f32s.get("weight_scale", &[output, groups]) {
            found = Some((group, scale, f32s.get("weight_zero", &[output, groups])?));
            break;
        }
    }
    let Some((group, scale, zero)) = found else {
        return Err(crate::Error::config(format!(
            "{}: no int4 group of {:?} splits the {input} input columns as its scales do",
            scope.key("weight_scale"),
            crate::quant::INT4_GROUPS
        )));
    };
    // Low nibble = even column, high nibble = odd column (the saved layout).
    let bytes = bytes.f_to_kind(Kind::Int)?;
    let low = bytes.f_bitwise_and(15)?;
    let high = bytes.f_bitwise_right_shift_tensor_scalar(4)?;
    let codes = Tensor::f_stack(&[low, high], 2)?.f_reshape([output, input])?;
    Ok(Weight::Int4(Int4Weight::new(
        &codes, &scale, &zero, group, kind, device,
    )?))
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
            weight: Weight::Dense(weight.shallow_clone()),
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
