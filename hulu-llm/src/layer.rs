//! One pre-norm decoder block: `x + attn(norm(x))`, then `x + mlp(norm(x))`, where the MLP is
//! dense SwiGLU or (Qwen3-MoE's sparse layers) a mixture of experts.

use crate::attention::{Attention, StepContext};
use crate::cache::KvCache;
use crate::config::DecoderConfig;
use crate::mlp::Mlp;
use crate::moe::SparseMoe;
use crate::norm::RmsNorm;
use crate::{Quantization, Result};
use hulu_nn::VarBuilder;
use tch::Tensor;

/// The feed-forward half of a block.
#[derive(Debug)]
enum FeedForward {
    Dense(Mlp),
    Sparse(SparseMoe),
}

#[derive(Debug)]
pub(crate) struct DecoderLayer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: FeedForward,
}

impl DecoderLayer {
    /// Layer `index` of a decoder of config `c`.
    pub(crate) fn load(scope: &VarBuilder, c: &DecoderConfig, index: usize) -> Result<Self> {
        let mlp = match &c.moe {
            Some(moe) if moe.is_sparse(index) => {
                FeedForward::Sparse(SparseMoe::load(&scope.pp("mlp"), c.hidden_size, moe)?)
            }
            _ => FeedForward::Dense(Mlp::load(
                &scope.pp("mlp"),
                c.hidden_size,
                c.intermediate_size,
            )?),
        };
        Ok(DecoderLayer {
            input_layernorm: RmsNorm::load(
                &scope.pp("input_layernorm"),
                c.hidden_size,
                c.rms_norm_eps,
            )?,
            self_attn: Attention::load(&scope.pp("self_attn"), c)?,
            post_attention_layernorm: RmsNorm::load(
                &scope.pp("post_attention_layernorm"),
                c.hidden_size,
                c.rms_norm_eps,
            )?,
            mlp,
        })
    }

    /// Quantizes the attention and MLP projections (experts included; norms and the router
    /// stay dense).
    pub(crate) fn quantize(&mut self, q: &Quantization) -> Result<()> {
        self.self_attn.quantize(q)?;
        match &mut self.mlp {
            FeedForward::Dense(mlp) => mlp.quantize(q),
            FeedForward::Sparse(moe) => moe.quantize(q),
        }
    }

    /// Bytes of the layer's weights.
    pub(crate) fn bytes(&self) -> usize {
        self.input_layernorm.bytes()
            + self.post_attention_layernorm.bytes()
            + self.self_attn.bytes()
            + match &self.mlp {
                FeedForward::Dense(mlp) => mlp.bytes(),
                FeedForward::Sparse(moe) => moe.bytes(),
            }
    }

    /// The layer's linear projections by their key under the layer (`self_attn.q_proj`, ...).
    pub(crate) fn linears_mut(&mut self) -> Vec<(String, &mut crate::linear::Linear)> {
        let attn = self.self_attn.linears_mut().into_iter();
        // Experts take no adapters (LoRA on a mixture of experts is not supported).
        let mlp: Vec<(&'static str, &mut crate::linear::Linear)> = match &mut self.mlp {
            FeedForward::Dense(mlp) => mlp.linears_mut().into_iter().collect(),
            FeedForward::Sparse(_) => Vec::new(),
        };
        let mlp = mlp.into_iter();
        attn.map(|(n, l)| (format!("self_attn.{n}"), l))
            .chain(mlp.map(|(n, l)| (format!("mlp.{n}"), l)))
            .collect()
    }

    pub(crate) fn forward(
        &self,
        x: &Tensor,
        ctx: &StepContext,
        cache: Option<(&mut KvCache, usize)>,
    ) -> Result<Tensor> {
        let attn = self
            .self_attn
            .forward(&self.input_layernorm.forward(x)?, ctx, cache)?;
        let x = x.f_add(&attn)?;
        let normed = self.post_attention_layernorm.forward(&x)?;
        let mlp = match &self.mlp {
            FeedForward::Dense(mlp) => mlp.forward(&normed)?,
            FeedForward::Sparse(moe) => moe.forward(&normed)?,
        };
        Ok(x.f_add(&mlp)?)
    }
}
