//! LoRA adapters on the decoder's linear projections, as PEFT builds them: the layer computes
//! `W x + b + (alpha / r) · B (A x)` with `A` `[r, in]` and `B` `[out, r]` (PEFT's `LoraLayer`
//! without dropout; `tests/fixtures/train/*/lora_image.json` pins it).
//!
//! Adapters attach to a loaded decoder by the projection's checkpoint key prefix
//! ([`CausalDecoder::linear_names`](crate::CausalDecoder::linear_names),
//! [`CausalDecoder::set_adapter`](crate::CausalDecoder::set_adapter)), so a trainer can add
//! them to any family without the family knowing.

use crate::{Error, Result};
use tch::Tensor;

/// One low-rank update `scale · B (A x)` added to a linear layer's output.
#[derive(Debug)]
pub struct LoraAdapter {
    a: Tensor,
    b: Tensor,
    scale: f64,
}

impl LoraAdapter {
    /// An adapter from `a` (`[r, in]`, PEFT's `lora_A.weight`), `b` (`[out, r]`,
    /// `lora_B.weight`) and `scale` (`lora_alpha / r`).
    ///
    /// # Errors
    /// [`Error::BadInput`] when `a` and `b` are not matrices of one rank `r`.
    pub fn new(a: Tensor, b: Tensor, scale: f64) -> Result<Self> {
        let (sa, sb) = (a.size(), b.size());
        if sa.len() != 2 || sb.len() != 2 || sa[0] != sb[1] || sa[0] == 0 {
            return Err(Error::BadInput {
                what: "LoRA adapter",
                expected: "A [r, in] and B [out, r] of one rank r > 0".into(),
                actual: [sa, sb].concat(),
                kind: a.kind(),
            });
        }
        Ok(LoraAdapter { a, b, scale })
    }

    /// `A`, `[r, in]`.
    pub fn a(&self) -> &Tensor {
        &self.a
    }

    /// `B`, `[out, r]`.
    pub fn b(&self) -> &Tensor {
        &self.b
    }

    /// `lora_alpha / r`.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// `[in]` and `[out]` of the layer this adapter fits.
    pub fn widths(&self) -> (i64, i64) {
        (self.a.size()[1], self.b.size()[0])
    }

    /// `base + scale · B (A x)`: the adapted layer's output from its plain output.
    pub(crate) fn add_to(&self, x: &Tensor, base: Tensor) -> Result<Tensor> {
        let delta = x
            .f_linear::<&Tensor>(&self.a, None)?
            .f_linear::<&Tensor>(&self.b, None)?;
        Ok(base.f_add(&delta.f_mul_scalar(self.scale)?)?)
    }
}
