//! The SwiGLU feed-forward block: `down(silu(gate(x)) * up(x))`.

use crate::linear::Linear;
use crate::{Quantization, Result};
use hulu_nn::VarBuilder;
use tch::Tensor;

#[derive(Debug)]
pub(crate) struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    pub(crate) fn load(scope: &VarBuilder, hidden: usize, inner: usize) -> Result<Self> {
        Ok(Mlp {
            gate_proj: Linear::load(&scope.pp("gate_proj"), hidden, inner, false)?,
            up_proj: Linear::load(&scope.pp("up_proj"), hidden, inner, false)?,
            down_proj: Linear::load(&scope.pp("down_proj"), inner, hidden, false)?,
        })
    }

    pub(crate) fn quantize(&mut self, q: &Quantization) -> Result<()> {
        for proj in [&mut self.gate_proj, &mut self.up_proj, &mut self.down_proj] {
            proj.quantize(q)?;
        }
        Ok(())
    }

    pub(crate) fn bytes(&self) -> usize {
        [&self.gate_proj, &self.up_proj, &self.down_proj]
            .iter()
            .map(|p| p.bytes())
            .sum()
    }

    /// The projections by their key under `mlp` (adapters attach here).
    pub(crate) fn linears_mut(&mut self) -> [(&'static str, &mut Linear); 3] {
        [
            ("gate_proj", &mut self.gate_proj),
            ("up_proj", &mut self.up_proj),
            ("down_proj", &mut self.down_proj),
        ]
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let gate = self.gate_proj.forward(x)?.f_silu()?;
        let up = self.up_proj.forward(x)?;
        self.down_proj.forward(&gate.f_mul(&up)?)
    }
}
