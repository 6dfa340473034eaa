//! The decoder's hyper-parameters, independent of the Hulu-Med `config.json` that usually holds
//! them, so that researchers can build other sizes (or random-weight decoders) directly.

use crate::{Error, Result};
use hulu_io::{DecoderFamily, HuluConfig};

/// Hyper-parameters of a Qwen2 / Qwen2.5 / Qwen3 causal decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct DecoderConfig {
    /// Which block layout: Qwen2 (q/k/v bias) or Qwen3 (per-head q/k RMSNorm).
    pub family: DecoderFamily,
    /// Rows of `embed_tokens` and `lm_head`.
    pub vocab_size: usize,
    /// Residual stream width.
    pub hidden_size: usize,
    /// SwiGLU inner width.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_layers: usize,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads; must divide `num_heads` (grouped-query attention).
    pub num_kv_heads: usize,
    /// Width of one head (Qwen3 may set it independently of `hidden_size / num_heads`).
    pub head_dim: usize,
    /// Rotary base.
    pub rope_theta: f64,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// Whether `lm_head` is the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Longest sequence (in positions) the model accepts.
    pub max_position_embeddings: usize,
    /// Whether q/k/v projections carry a bias (Qwen2: yes; Qwen3: `attention_bias`, normally no).
    pub qkv_bias: bool,
}

impl DecoderConfig {
    /// The decoder part of a Hulu-Med `config.json`.
    pub fn from_hulu(config: &HuluConfig) -> Result<Self> {
        let family = config.family().ok_or_else(|| {
            Error::config(format!("unknown architectures {:?}", config.architectures))
        })?;
        let out = DecoderConfig {
            family,
            vocab_size: config.vocab_size,
            hidden_size: config.hidden_size,
            intermediate_size: config.intermediate_size,
            num_layers: config.num_hidden_layers,
            num_heads: config.num_attention_heads,
            num_kv_heads: config.kv_heads(),
            head_dim: config.head_dim(),
            rope_theta: config.rope_theta,
            rms_norm_eps: config.rms_norm_eps,
            tie_word_embeddings: config.tie_word_embeddings,
            max_position_embeddings: config.max_position_embeddings,
            qkv_bias: config.qkv_bias(),
        };
        out.validate()?;
        Ok(out)
    }

    /// The dimensions of Qwen2.5-0.5B (hidden 896, 24 layers, 14 heads, 2 KV heads, MLP 4864,
    /// vocabulary 151936, tied embeddings), used by the benchmark.
    pub fn qwen2_5_0_5b() -> Self {
        DecoderConfig {
            family: DecoderFamily::Qwen2,
            vocab_size: 151_936,
            hidden_size: 896,
            intermediate_size: 4864,
            num_layers: 24,
            num_heads: 14,
            num_kv_heads: 2,
            head_dim: 64,
            rope_theta: 1_000_000.0,
            rms_norm_eps: 1e-6,
            tie_word_embeddings: true,
            max_position_embeddings: 32_768,
            qkv_bias: true,
        }
    }

    /// Whether q and k get a per-head RMSNorm before the rotation (Qwen3).
    pub fn qk_norm(&self) -> bool {
        self.family == DecoderFamily::Qwen3
    }

    /// Query heads sharing one key/value head.
    pub fn group_size(&self) -> usize {
        self.num_heads / self.num_kv_heads.max(1)
    }

    /// Checks the invariants the layers rely on.
    pub fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_layers", self.num_layers),
            ("num_heads", self.num_heads),
            ("num_kv_heads", self.num_kv_heads),
            ("head_dim", self.head_dim),
            ("max_position_embeddings", self.max_position_embeddings),
        ] {
            if value == 0 {
                return Err(Error::config(format!("{name} must be positive")));
            }
            // Everything becomes an i64 tensor dimension; refuse absurd values up front.
            if value > i32::MAX as usize {
                return Err(Error::config(format!("{name} = {value} is too large")));
            }
        }
        if self.num_heads % self.num_kv_heads != 0 {
            return Err(Error::config(format!(
                "num_kv_heads {} does not divide num_heads {}",
                self.num_kv_heads, self.num_heads
            )));
        }
        if self.head_dim % 2 != 0 {
            return Err(Error::config(format!(
                "head_dim {} must be even for rotary embeddings",
                self.head_dim
            )));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
            return Err(Error::config(format!(
                "rope_theta {} must be finite and above 1",
                self.rope_theta
            )));
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps >= 0.0) {
            return Err(Error::config(format!(
                "rms_norm_eps {} must be finite and non-negative",
                self.rms_norm_eps
            )));
        }
        Ok(())
    }

    /// Number of parameters the decoder holds (the tied `lm_head` counted once).
    pub fn parameter_count(&self) -> usize {
        let (h, i, v) = (self.hidden_size, self.intermediate_size, self.vocab_size);
        let (q, kv) = (
            self.num_heads * self.head_dim,
            self.num_kv_heads * self.head_dim,
        );
        let mut attn = h * q + 2 * h * kv + q * h;
        if self.qkv_bias {
            attn += q + 2 * kv;
        }
        if self.qk_norm() {
            attn += 2 * self.head_dim;
        }
        let layer = attn + 3 * h * i + 2 * h;
        let head = if self.tie_word_embeddings { 0 } else { v * h };
        v * h + self.num_layers * layer + h + head
    }
}
