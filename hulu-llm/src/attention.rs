//! Grouped-query self-attention shared by both families: Qwen2 gives q/k/v a bias, Qwen3 gives
//! q and k a per-head RMSNorm before the rotation.

use crate::cache::KvCache;
use crate::config::DecoderConfig;
use crate::linear::Linear;
use crate::norm::RmsNorm;
use crate::rotary;
use crate::{Quantization, Result};
use hulu_nn::VarBuilder;
use tch::Tensor;

/// What every layer of one forward pass shares: rotation angles, the attention mask and where
/// the new tokens go in the cache.
pub(crate) struct StepContext {
    /// `[B, 1, L, d]` in the activation dtype.
    pub cos: Tensor,
    /// `[B, 1, L, d]` in the activation dtype.
    pub sin: Tensor,
    /// `[B, 1, group·L, T]` bool, true where a query may attend to a key column, already tiled
    /// for the query heads that share one key/value head.
    pub mask: Tensor,
    /// First cache column of the new tokens.
    pub start: usize,
}

#[derive(Debug)]
pub(crate) struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    heads: i64,
    kv_heads: i64,
    head_dim: i64,
}

impl Attention {
    pub(crate) fn load(scope: &VarBuilder, c: &DecoderConfig) -> Result<Self> {
        let (h, d) = (c.hidden_size, c.head_dim);
        let (q, kv) = (c.num_attention_heads * d, c.num_key_value_heads * d);
        let (q_norm, k_norm) = if c.qk_norm() {
            (
                Some(RmsNorm::load(&scope.pp("q_norm"), d, c.rms_norm_eps)?),
                Some(RmsNorm::load(&scope.pp("k_norm"), d, c.rms_norm_eps)?),
            )
        } else {
            (None, None)
        };
        Ok(Attention {
            q_proj: Linear::load(&scope.pp("q_proj"), h, q, c.qkv_bias)?,
            k_proj: Linear::load(&scope.pp("k_proj"), h, kv, c.qkv_bias)?,
            v_proj: Linear::load(&scope.pp("v_proj"), h, kv, c.qkv_bias)?,
            o_proj: Linear::load(&scope.pp("o_proj"), q, h, false)?,
            q_norm,
            k_norm,
            heads: c.num_attention_heads as i64,
            kv_heads: c.num_key_value_heads as i64,
            head_dim: d as i64,
        })
    }

    pub(crate) fn quantize(&mut self, q: &Quantization) -> Result<()> {
        for proj in [
            &mut self.q_proj,
            &mut self.k_proj,
            &mut self.v_proj,
            &mut self.o_proj,
        ] {
            proj.quantize(q)?;
        }
        Ok(())
    }

    /// Bytes of the projections and q/k norms.
    pub(crate) fn bytes(&self) -> usize {
        let norms = [&self.q_norm, &self.k_norm]
            .iter()
            .filter_map(|n| n.as_ref().map(RmsNorm::bytes))
            .sum::<usize>();
        norms
            + [&self.q_proj, &self.k_proj, &self.v_proj, &self.o_proj]
                .iter()
                .map(|p| p.bytes())
                .sum::<usize>()
    }

    /// The projections by their key under `self_attn` (adapters attach here).
    pub(crate) fn linears_mut(&mut self) -> [(&'static str, &mut Linear); 4] {
        [
            ("q_proj", &mut self.q_proj),
            ("k_proj", &mut self.k_proj),
            ("v_proj", &mut self.v_proj),
            ("o_proj", &mut self.o_proj),
        ]
    }

    /// Projects to `[B, heads, L, d]`, normalising each head first when the family does.
    fn heads(
        proj: &Linear,
        norm: Option<&RmsNorm>,
        x: &Tensor,
        heads: i64,
        d: i64,
    ) -> Result<Tensor> {
        let (b, l) = (x.size()[0], x.size()[1]);
        let mut t = proj.forward(x)?.f_view([b, l, heads, d])?;
        if let Some(norm) = norm {
            t = norm.forward(&t)?;
        }
        Ok(t.f_transpose(1, 2)?)
    }

    /// `x`: `[B, L, hidden]`. With a cache, the new keys/values are stored in layer `layer` and
    /// the queries attend to every cached column; without, only to the `L` new ones.
    pub(crate) fn forward(
        &self,
        x: &Tensor,
        ctx: &StepContext,
        cache: Option<(&mut KvCache, usize)>,
    ) -> Result<Tensor> {
        let (b, l) = (x.size()[0], x.size()[1]);
        let d = self.head_dim;
        let q = Self::heads(&self.q_proj, self.q_norm.as_ref(), x, self.heads, d)?;
        let k = Self::heads(&self.k_proj, self.k_norm.as_ref(), x, self.kv_heads, d)?;
        let v = Self::heads(&self.v_proj, None, x, self.kv_heads, d)?;
        let q = rotary::apply(&q, &ctx.cos, &ctx.sin)?;
        let k = rotary::apply(&k, &ctx.cos, &ctx.sin)?;
        let (k, v) = match cache {
            Some((cache, layer)) => cache.write(layer, ctx.start, &k, &v)?,
            None => (k, v),
        };
        // Grouped-query attention without copying keys/values per query head: the query heads
        // that share a key/value head are stacked along the sequence axis instead.
        let group = self.heads / self.kv_heads;
        let q = q.f_reshape([b, self.kv_heads, group * l, d])?;
        let out = Tensor::f_scaled_dot_product_attention(
            &q,
            &k,
            &v,
            Some(&ctx.mask),
            0.0,
            false,
            None,
            false,
        )?;
        let out = out
            .f_reshape([b, self.heads, l, d])?
            .f_transpose(1, 2)?
            .f_reshape([b, l, self.heads * d])?;
        self.o_proj.forward(&out)
    }
}
