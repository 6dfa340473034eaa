//! Self-attention of one encoder layer, confined to each frame.

use super::rotary::apply_rotary;
use crate::nn::Linear;
use crate::Result;
use hulu_nn::VarBuilder;
use tch::Tensor;

/// `self_attn`: q/k/v/out projections with bias; rotary on q and k.
#[derive(Debug)]
pub(crate) struct FrameAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: usize,
    head_dim: usize,
}

impl FrameAttention {
    pub(crate) fn load(w: &VarBuilder, hidden: usize, heads: usize) -> Result<Self> {
        Ok(FrameAttention {
            q_proj: Linear::load(&w.pp("q_proj"), hidden, hidden)?,
            k_proj: Linear::load(&w.pp("k_proj"), hidden, hidden)?,
            v_proj: Linear::load(&w.pp("v_proj"), hidden, hidden)?,
            out_proj: Linear::load(&w.pp("out_proj"), hidden, hidden)?,
            heads,
            head_dim: hidden / heads,
        })
    }

    /// `x` is `[T, S, C]`: `T` frames of one shape, each attending only to its own `S` patches
    /// (frames are the batch dimension, so no mask is ever built).
    pub(crate) fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let size = x.size();
        let (t, s, c) = (size[0], size[1], size[2]);
        let split = [t, s, self.heads as i64, self.head_dim as i64];
        let q = apply_rotary(&self.q_proj.forward(x)?.f_view(split)?, cos, sin)?;
        let k = apply_rotary(&self.k_proj.forward(x)?.f_view(split)?, cos, sin)?;
        let v = self.v_proj.forward(x)?.f_view(split)?;
        let [q, k, v] = [q, k, v].map(|t| t.transpose(1, 2));
        let scale = (self.head_dim as f64).powf(-0.5);
        let out = Tensor::f_scaled_dot_product_attention(
            &q,
            &k,
            &v,
            None::<Tensor>,
            0.0,
            false,
            scale,
            false,
        )?;
        let out = out.f_transpose(1, 2)?.f_reshape([t, s, c])?;
        self.out_proj.forward(&out)
    }
}
