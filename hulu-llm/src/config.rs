//! The decoder's hyper-parameters, shared by every family, and the bounds a config must respect.
//!
//! Each family reads its own `config.json` fields into a [`DecoderConfig`] (see
//! [`crate::families`]); researchers can also build one directly (other sizes, random-weight
//! decoders).

use crate::{Error, Result};

/// Which block layout a decoder uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecoderFamily {
    /// Qwen2 / Qwen2.5 (Hulu-Med-7B, -32B): q/k/v with bias.
    Qwen2,
    /// Qwen3 (Hulu-Med-4B, -14B): per-head q/k RMSNorm, no bias, explicit `head_dim`.
    Qwen3,
    /// Qwen3-MoE (Hulu-Med-30A3, -235A22): Qwen3 attention, mixture-of-experts MLPs
    /// ([`MoeConfig`]).
    Qwen3Moe,
}

/// The mixture-of-experts fields of a Qwen3-MoE `config.json` (`transformers`'
/// `Qwen3MoeConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoeConfig {
    /// Experts per sparse layer (`num_experts`).
    pub num_experts: usize,
    /// Experts each token is routed to (`num_experts_per_tok`, the top-k).
    pub num_experts_per_tok: usize,
    /// SwiGLU inner width of one expert (`moe_intermediate_size`).
    pub moe_intermediate_size: usize,
    /// Whether the top-k router probabilities are renormalised to sum 1 (`norm_topk_prob`).
    pub norm_topk_prob: bool,
    /// Every `decoder_sparse_step`-th layer is sparse (`(layer + 1) % step == 0`).
    pub decoder_sparse_step: usize,
    /// Layers that keep a dense MLP of width `intermediate_size` (`mlp_only_layers`).
    pub mlp_only_layers: Vec<usize>,
}

impl MoeConfig {
    /// Whether layer `layer` uses the experts, by `transformers`' `Qwen3MoeDecoderLayer` rule:
    /// not listed in `mlp_only_layers` and on the `decoder_sparse_step` grid.
    pub fn is_sparse(&self, layer: usize) -> bool {
        !self.mlp_only_layers.contains(&layer)
            && self.num_experts > 0
            && (layer + 1) % self.decoder_sparse_step.max(1) == 0
    }
}

/// Bounds on decoder sizes, far above any published Qwen model (Qwen3-235B-A22B: 94 layers,
/// width 4096, 64 query heads, vocabulary 151,936) and low enough that a hostile config cannot
/// make a loader list or allocate without end. Checked before anything is built.
pub mod limits {
    /// Most decoder layers.
    pub const MAX_LAYERS: usize = 1024;
    /// Widest residual stream.
    pub const MAX_HIDDEN: usize = 65_536;
    /// Widest MLP.
    pub const MAX_INTERMEDIATE: usize = 262_144;
    /// Most attention heads.
    pub const MAX_HEADS: usize = 1024;
    /// Widest head.
    pub const MAX_HEAD_DIM: usize = 1024;
    /// Largest vocabulary.
    pub const MAX_VOCAB: usize = 1 << 22;
    /// Longest context.
    pub const MAX_POSITIONS: usize = 1 << 24;
    /// Most experts per layer (Qwen3-235B-A22B has 128, the largest published MoE 384).
    pub const MAX_EXPERTS: usize = 1024;
}

/// Hyper-parameters of a Qwen2 / Qwen2.5 / Qwen3 causal decoder, named as in `config.json`.
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
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads; must divide `num_attention_heads` (grouped-query attention).
    pub num_key_value_heads: usize,
    /// Width of one head (Qwen3 may set it independently of `hidden_size / num_attention_heads`).
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
    /// The mixture-of-experts layout (Qwen3-MoE only); `None` for dense decoders.
    pub moe: Option<MoeConfig>,
}

impl DecoderConfig {
    /// The dimensions of Qwen2.5-0.5B (hidden 896, 24 layers, 14 heads, 2 KV heads, MLP 4864,
    /// vocabulary 151936, tied embeddings), used by the benchmark.
    pub fn qwen2_5_0_5b() -> Self {
        DecoderConfig {
            family: DecoderFamily::Qwen2,
            vocab_size: 151_936,
            hidden_size: 896,
            intermediate_size: 4864,
            num_hidden_layers: 24,
            num_attention_heads: 14,
            num_key_value_heads: 2,
            head_dim: 64,
            rope_theta: 1_000_000.0,
            rms_norm_eps: 1e-6,
            tie_word_embeddings: true,
            max_position_embeddings: 32_768,
            qkv_bias: true,
            moe: None,
        }
    }

    /// Qwen3-30B-A3B's ratios scaled down to fit a small machine (hidden 1024, 8 layers, 16
    /// query / 4 KV heads of 64, 64 experts of width 256, top-8, vocabulary 151936), used by
    /// the benchmark's dense-versus-MoE comparison. (30B-A3B itself: hidden 2048, 48 layers,
    /// 128 experts of width 768, top-8.)
    pub fn qwen3_moe_bench() -> Self {
        DecoderConfig {
            family: DecoderFamily::Qwen3Moe,
            vocab_size: 151_936,
            hidden_size: 1024,
            intermediate_size: 3072,
            num_hidden_layers: 8,
            num_attention_heads: 16,
            num_key_value_heads: 4,
            head_dim: 64,
            rope_theta: 1_000_000.0,
            rms_norm_eps: 1e-6,
            tie_word_embeddings: false,
            max_position_embeddings: 32_768,
            qkv_bias: false,
            moe: Some(MoeConfig {
                num_experts: 64,
                num_experts_per_tok: 8,
                moe_intermediate_size: 256,
                norm_topk_prob: true,
                decoder_sparse_step: 1,
                mlp_only_layers: Vec::new(),
            }),
        }
    }

    /// Whether q and k get a per-head RMSNorm before the rotation (Qwen3).
    pub fn qk_norm(&self) -> bool {
        matches!(self.family, DecoderFamily::Qwen3 | DecoderFamily::Qwen3Moe)
    }

    /// Query heads sharing one key/value head.
    pub fn group_size(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads.max(1)
    }

    /// Checks every size against [`limits`] and the invariants the layers rely on.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field.
    pub fn validate(&self) -> Result<()> {
        use limits::*;
        for (name, value, max) in [
            ("vocab_size", self.vocab_size, MAX_VOCAB),
            ("hidden_size", self.hidden_size, MAX_HIDDEN),
            (
                "intermediate_size",
                self.intermediate_size,
                MAX_INTERMEDIATE,
            ),
            ("num_hidden_layers", self.num_hidden_layers, MAX_LAYERS),
            ("num_attention_heads", self.num_attention_heads, MAX_HEADS),
            ("num_key_value_heads", self.num_key_value_heads, MAX_HEADS),
            ("head_dim", self.head_dim, MAX_HEAD_DIM),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                MAX_POSITIONS,
            ),
        ] {
            if value == 0 || value > max {
                return Err(Error::config(format!(
                    "{name} = {value} must be between 1 and {max}"
                )));
            }
        }
        if (self.family == DecoderFamily::Qwen3Moe) != self.moe.is_some() {
            return Err(Error::config(format!(
                "the {:?} family {} mixture-of-experts fields",
                self.family,
                if self.moe.is_some() {
                    "takes no"
                } else {
                    "needs"
                }
            )));
        }
        if let Some(moe) = &self.moe {
            moe.validate(self.num_hidden_layers)?;
        }
        if self.num_attention_heads % self.num_key_value_heads != 0 {
            return Err(Error::config(format!(
                "num_key_value_heads {} does not divide num_attention_heads {}",
                self.num_key_value_heads, self.num_attention_heads
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

    /// Number of parameters the decoder holds (the tied `lm_head` counted once; every expert).
    pub fn parameter_count(&self) -> usize {
        let (h, i, v) = (self.hidden_size, self.intermediate_size, self.vocab_size);
        let (q, kv) = (
            self.num_attention_heads * self.head_dim,
            self.num_key_value_heads * self.head_dim,
        );
        let mut attn = h * q + 2 * h * kv + q * h;
        if self.qkv_bias {
            attn += q + 2 * kv;
        }
        if self.qk_norm() {
            attn += 2 * self.head_dim;
        }
        let mlps: usize = (0..self.num_hidden_layers)
            .map(|layer| match &self.moe {
                // The router (`h × experts`) and every expert's three projections.
                Some(moe) if moe.is_sparse(layer) => {
                    moe.num_experts * (h + 3 * h * moe.moe_intermediate_size)
                }
                _ => 3 * h * i,
            })
            .sum();
        let layer = attn + 2 * h;
        let head = if self.tie_word_embeddings { 0 } else { v * h };
        v * h + self.num_hidden_layers * layer + mlps + h + head
    }
}

impl MoeConfig {
    /// Checks the expert counts against [`limits::MAX_EXPERTS`] and the layer count.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn validate(&self, layers: usize) -> Result<()> {
        use limits::*;
        for (name, value, max) in [
            ("num_experts", self.num_experts, MAX_EXPERTS),
            (
                "num_experts_per_tok",
                self.num_experts_per_tok,
                self.num_experts,
            ),
            (
                "moe_intermediate_size",
                self.moe_intermediate_size,
                MAX_INTERMEDIATE,
            ),
            ("decoder_sparse_step", self.decoder_sparse_step, MAX_LAYERS),
        ] {
            if value == 0 || value > max {
                return Err(Error::config(format!(
                    "{name} = {value} must be between 1 and {max}"
                )));
            }
        }
        if let Some(&bad) = self.mlp_only_layers.iter().find(|&&l| l >= layers) {
            return Err(Error::config(format!(
                "mlp_only_layers names layer {bad}, but there are {layers}"
            )));
        }
        Ok(())
    }
}
