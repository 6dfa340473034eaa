//! The `config.json` fields Qwen2 and Qwen3 share (`transformers`' `Qwen2Config` /
//! `Qwen3Config`), read once and turned into a [`DecoderConfig`] by each family's rules.

use crate::{DecoderConfig, DecoderFamily, Error, Result};
use serde::Deserialize;
use serde_json::Value;

fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_rms_norm_eps() -> f64 {
    1e-6
}

/// A Qwen decoder's fields of `config.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct QwenFields {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    #[serde(default)]
    pub head_dim: Option<usize>,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub attention_bias: Option<bool>,
    #[serde(default)]
    pub rope_scaling: Option<Value>,
}

impl QwenFields {
    /// Parses the fields, naming the one that fails.
    pub(crate) fn parse(config: &Value) -> Result<Self> {
        serde_path_to_error::deserialize(config)
            .map_err(|e| Error::config(format!("field `{}`: {}", e.path(), e.inner())))
    }

    /// The shared config with this family's bias rule; validated.
    pub(crate) fn into_config(
        self,
        family: DecoderFamily,
        qkv_bias: bool,
    ) -> Result<DecoderConfig> {
        self.into_config_with(family, qkv_bias, None)
    }

    /// As [`QwenFields::into_config`], with the mixture-of-experts layout of a sparse family.
    pub(crate) fn into_config_with(
        self,
        family: DecoderFamily,
        qkv_bias: bool,
        moe: Option<crate::MoeConfig>,
    ) -> Result<DecoderConfig> {
        if self.rope_scaling.as_ref().is_some_and(|s| !s.is_null()) {
            return Err(Error::config("rope_scaling is not supported"));
        }
        if self.num_attention_heads == 0 {
            return Err(Error::config(
                "num_attention_heads = 0 must be between 1 and 1024",
            ));
        }
        if self.head_dim.is_none() && self.hidden_size % self.num_attention_heads != 0 {
            return Err(Error::config(format!(
                "hidden_size {} is not a multiple of num_attention_heads {} and no head_dim is given",
                self.hidden_size, self.num_attention_heads
            )));
        }
        let config = DecoderConfig {
            family,
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads: self.num_attention_heads,
            num_key_value_heads: self.num_key_value_heads.unwrap_or(self.num_attention_heads),
            head_dim: self
                .head_dim
                .unwrap_or(self.hidden_size / self.num_attention_heads),
            rope_theta: self.rope_theta,
            rms_norm_eps: self.rms_norm_eps,
            tie_word_embeddings: self.tie_word_embeddings,
            max_position_embeddings: self.max_position_embeddings,
            qkv_bias,
            moe,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Whether `config.model_type` contains `needle` (`qwen2`, `hulumed_qwen3`, ...).
pub(crate) fn model_type_contains(config: &Value, needle: &str) -> bool {
    config["model_type"]
        .as_str()
        .is_some_and(|t| t.contains(needle))
}
