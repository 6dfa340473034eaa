//! One pre-norm decoder block: `x + attn(norm(x))`, then `x + mlp(norm(x))`.

use crate::attention::{Attention, StepContext};
use crate::cache::KvCache;
use crate::config::DecoderConfig;
use crate::mlp::Mlp;
use crate::norm::RmsNorm;
use crate::Result;
use hulu_nn::VarBuilder;
use tch::Tensor;

#[derive(Debug)]
pub(crate) struct DecoderLayer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

impl DecoderLayer {
    pub(crate) fn load(scope: &VarBuilder, c: &DecoderConfig) -> Result<Self> {
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
            mlp: Mlp::load(&scope.pp("mlp"), c.hidden_size, c.intermediate_size)?,
        })
    }

    /// The layer's linear projections by their key under the layer (`self_attn.q_proj`, ...).
    pub(crate) fn linears_mut(&mut self) -> Vec<(String, &mut crate::linear::Linear)> {
        let attn = self.self_attn.linears_mut().into_iter();
        let mlp = self.mlp.linears_mut().into_iter();
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
        let mlp = self
            .mlp
            .forward(&self.post_attention_layernorm.forward(&x)?)?;
        Ok(x.f_add(&mlp)?)
    }
}
