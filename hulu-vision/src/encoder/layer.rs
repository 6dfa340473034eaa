//! One pre-LayerNorm encoder layer: `x + attn(LN1(x))`, then `x + mlp(LN2(x))`.

use super::attention::FrameAttention;
use crate::config::VisionEncoderConfig;
use crate::nn::{LayerNorm, Linear};
use crate::{Error, Result};
use hulu_nn::VarBuilder;
use tch::Tensor;

/// The MLP activation named by `hidden_act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    /// GELU, tanh approximation (SigLIP's `gelu_pytorch_tanh`).
    GeluTanh,
    /// GELU with the exact erf.
    Gelu,
}

impl Activation {
    pub(crate) fn parse(name: &str) -> Result<Self> {
        match name {
            "gelu_pytorch_tanh" | "gelu_new" | "gelu_fast" => Ok(Activation::GeluTanh),
            "gelu" => Ok(Activation::Gelu),
            other => Err(Error::Config(format!(
                "vision hidden_act {other:?} is not supported"
            ))),
        }
    }

    fn apply(self, x: &Tensor) -> Result<Tensor> {
        let approximate = match self {
            Activation::GeluTanh => "tanh",
            Activation::Gelu => "none",
        };
        Ok(x.f_gelu(approximate)?)
    }
}

#[derive(Debug)]
pub(crate) struct EncoderLayer {
    layer_norm1: LayerNorm,
    self_attn: FrameAttention,
    layer_norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    act: Activation,
}

impl EncoderLayer {
    pub(crate) fn load(w: &VarBuilder, cfg: &VisionEncoderConfig, act: Activation) -> Result<Self> {
        let (c, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        let mlp = w.pp("mlp");
        Ok(EncoderLayer {
            layer_norm1: LayerNorm::load(&w.pp("layer_norm1"), c, eps)?,
            self_attn: FrameAttention::load(&w.pp("self_attn"), c, cfg.num_attention_heads)?,
            layer_norm2: LayerNorm::load(&w.pp("layer_norm2"), c, eps)?,
            fc1: Linear::load(&mlp.pp("fc1"), c, cfg.intermediate_size)?,
            fc2: Linear::load(&mlp.pp("fc2"), cfg.intermediate_size, c)?,
            act,
        })
    }

    /// `x` is `[T, S, C]`, frames of one shape; `cos`/`sin` are that shape's rotary tables.
    pub(crate) fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let h = self.layer_norm1.forward(x)?;
        let x = x.f_add(&self.self_attn.forward(&h, cos, sin)?)?;
        let h = self.layer_norm2.forward(&x)?;
        let h = self.fc2.forward(&self.act.apply(&self.fc1.forward(&h)?)?)?;
        Ok(x.f_add(&h)?)
    }
}
