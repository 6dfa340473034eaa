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
        let weight = load_weight(scope, input as i64, output as i64, false)?;
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

    /// A vocabulary table `[rows, width]` under `scope` (`model.embed_tokens`): dense, or
    /// quantized with its rows readable for lookups ([`Linear::rows`]).
    pub(crate) fn load_table(scope: &VarBuilder, rows: usize, width: usize) -> Result<Self> {
        Ok(Linear {
            weight: load_weight(scope, width as i64, rows as i64, true)?,
            bias: None,
            adapter: None,
        })
    }

    #[cfg(test)]
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
        self.quantize_as(q, false)
    }

    /// [`Linear::quantize`] for a vocabulary table, whose rows are also looked up
    /// ([`Linear::rows`]).
    pub(crate) fn quantize_table(&mut self, q: &Quantization) -> Result<()> {
        self.quantize_as(q, true)
    }

    fn quantize_as(&mut self, q: &Quantization, table: bool) -> Result<()> {
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
                let mut packed = Int4Weight::new(&codes, &scale, &zero, group, kind, device)?;
                if table {
                    packed.attach_rows(&codes, &scale, &zero)?;
                }
                Weight::Int4(packed)
            }
        };
        Ok(())
    }

    /// Rows `ids` (int64, any shape `S`) of the `[out, in]` weight, `[S.., in]`: the lookup of
    /// an embedding table. A quantized table returns its rows dequantized.
    ///
    /// # Errors
    /// [`crate::Error::InvalidRequest`] for an int4 weight quantized as a projection (no row
    /// reader attached), [`crate::Error::Torch`] when libtorch refuses.
    pub(crate) fn rows(&self, ids: &Tensor) -> Result<Tensor> {
        let flat = || ids.f_reshape([-1]);
        let rows = match &self.weight {
            Weight::Dense(w) => return Ok(Tensor::f_embedding(w, ids, -1, false, false)?),
            Weight::Int8(q) => q.rows(&flat()?)?,
            Weight::Int4(q) => q.rows(&flat()?)?,
        };
        let mut shape = ids.size();
        shape.push(rows.size()[1]);
        Ok(rows.f_reshape(shape)?)
    }

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
fn load_weight(scope: &VarBuilder, input: i64, output: i64, table: bool) -> Result<Weight> {
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
    let mut packed = Int4Weight::new(&codes, &scale, &zero, group, kind, device)?;
    if table {
        packed.attach_rows(&codes, &scale, &zero)?;
    }
    Ok(Weight::Int4(packed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bf16_single_row_path_matches_linear() {
        // Several draws: the bound must hold for whatever values a machine generates.
        let seeds: i64 = std::env::var("HULU_TEST_SEEDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(16);
        for seed in 0..seeds {
            single_row_matches_linear(seed);
        }
    }

    fn single_row_matches_linear(seed: i64) {
        tch::manual_seed(seed);
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
            let (ours, reference) = (ours.to_kind(Kind::Float), reference.to_kind(Kind::Float));
            // Both accumulate in float32; they differ in rounding only: `linear` rounds
            // `x·w + b` once, the single-row path rounds `x·w` to bf16 and then the sum with
            // `b`. The first rounding is at the magnitude of `x·w`, which exceeds that of the
            // result where `b` cancels it, so each element may differ by half a bf16 step at
            // |x·w| plus one at |y| (a step is 2^(⌊log2 |v|⌋ − 7): 8 significant bits); allow
            // 2 steps at the larger. A fixed bound, or one at |y| alone, would depend on the
            // values the machine's random generator happened to draw.
            let product = x
                .to_kind(Kind::Float)
                .linear::<Tensor>(&weight.to_kind(Kind::Float), None)
                .abs();
            let step = ours
                .abs()
                .maximum(&reference.abs())
                .maximum(&product)
                .clamp_min(f64::MIN_POSITIVE)
                .log2()
                .floor()
                .f_sub_scalar(7.0)
                .unwrap()
                .exp2();
            let excess = ((&ours - &reference).abs() - step * 2.0)
                .max()
                .double_value(&[]);
            assert!(
                excess <= 0.0,
                "seed {seed}, {shape:?}: a difference over two bf16 steps (by {excess})"
            );
        }
    }

    #[test]
    fn a_quantized_table_looks_up_the_rows_its_kernel_multiplies_with() {
        // The lookup (embed_tokens) and the projection (a tied lm_head) read one stored table;
        // they must agree on every row, including a shorter last block of the packed layout.
        let (rows, width) = (208i64, 128i64);
        tch::manual_seed(9);
        let dense = Tensor::randn([rows, width], (Kind::Float, Device::Cpu)) * 0.02;
        let ids = Tensor::from_slice(&[0i64, 5, 63, 64, 127, 128, 191, 192, 207, 31, 31]);
        for q in [Quantization::Int8, Quantization::Int4 { group_size: 64 }] {
            let mut table = Linear::from_weight(dense.shallow_clone());
            table.quantize_table(&q).unwrap();
            assert!(table.weight().is_none(), "{q}: left dense");
            // x = I gives x Wᵀ = Wᵀ: the weight as the kernel dequantizes it.
            let seen_by_kernel = table
                .forward(&Tensor::eye(width, (Kind::Float, Device::Cpu)))
                .unwrap()
                .tr()
                .index_select(0, &ids);
            let looked_up = table.rows(&ids.reshape([1, -1])).unwrap();
            assert_eq!(looked_up.size(), [1, ids.size()[0], width], "{q}");
            let diff = (looked_up.squeeze_dim(0) - &seen_by_kernel)
                .abs()
                .max()
                .double_value(&[]);
            assert!(diff < 1e-6, "{q}: lookup and kernel differ by {diff}");
            let err = (&seen_by_kernel - dense.index_select(0, &ids))
                .norm()
                .double_value(&[])
                / dense.index_select(0, &ids).norm().double_value(&[]);
            assert!(err > 1e-4 && err < 0.12, "{q}: quantization error {err}");
        }
        // A projection's int4 weight has no row reader: asking is an error, not garbage.
        let mut proj = Linear::from_weight(dense.shallow_clone());
        proj.quantize(&Quantization::int4()).unwrap();
        assert!(proj.rows(&ids).is_err());
    }
}
