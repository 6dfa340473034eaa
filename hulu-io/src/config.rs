//! Checkpoint configuration files, deserialised straight from their JSON.

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::path::Path;

/// Which decoder a Hulu-Med checkpoint uses, read from `architectures`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderFamily {
    /// Qwen2 / Qwen2.5 (Hulu-Med-7B, -32B): q/k/v with bias.
    Qwen2,
    /// Qwen3 (Hulu-Med-4B, -14B): per-head q/k RMSNorm, no bias, explicit `head_dim`.
    Qwen3,
}

/// The vision encoder section of `config.json` (`vision_encoder_config`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VisionEncoderConfig {
    /// Encoder width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Patch side in pixels (14 for Hulu-Med).
    pub patch_size: usize,
    /// Input channels.
    #[serde(default = "default_channels")]
    pub num_channels: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// MLP activation (SigLIP uses the tanh approximation of GELU).
    #[serde(default = "default_vision_act")]
    pub hidden_act: String,
}

fn default_channels() -> usize {
    3
}
fn default_layer_norm_eps() -> f64 {
    1e-6
}
fn default_vision_act() -> String {
    "gelu_pytorch_tanh".into()
}
fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_rms_norm_eps() -> f64 {
    1e-6
}
fn default_projector() -> String {
    "mlp2x_gelu".into()
}

/// One id or several, as `eos_token_id` appears in configs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    /// A single id.
    One(i64),
    /// A list of ids.
    Many(Vec<i64>),
}

impl TokenIds {
    /// The ids as a vector.
    pub fn to_vec(&self) -> Vec<i64> {
        match self {
            TokenIds::One(id) => vec![*id],
            TokenIds::Many(ids) => ids.clone(),
        }
    }
}

/// `config.json` of a Hulu-Med checkpoint (`HulumedQwen2ForCausalLM` or
/// `HulumedQwen3ForCausalLM`): the decoder's fields at the top level, the vision encoder's nested.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HuluConfig {
    /// Model class names; decides the [`DecoderFamily`].
    pub architectures: Vec<String>,
    /// `model_type`, e.g. `hulumed_qwen2`.
    #[serde(default)]
    pub model_type: Option<String>,
    /// Vocabulary size (rows of `embed_tokens` and `lm_head`).
    pub vocab_size: usize,
    /// Decoder width.
    pub hidden_size: usize,
    /// Decoder MLP width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention); absent means as many as query heads.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Per-head width; absent means `hidden_size / num_attention_heads`.
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// Rotary base.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// RMSNorm epsilon.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// Whether `lm_head` shares the embedding matrix.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Longest sequence the rotary tables must cover.
    pub max_position_embeddings: usize,
    /// Whether q/k/v projections have a bias (Qwen3 field; Qwen2 always has one).
    #[serde(default)]
    pub attention_bias: Option<bool>,
    /// The id that stands for one visual token (151669 in the fixtures, 151665 in Hulu-Med-7B).
    pub image_token_index: i64,
    /// Whether the checkpoint compresses visual tokens by default.
    #[serde(default)]
    pub use_token_compression: bool,
    /// Projector kind; only `mlp2x_gelu` exists in published checkpoints.
    #[serde(default = "default_projector")]
    pub mm_projector_type: String,
    /// The nested vision encoder config.
    pub vision_encoder_config: VisionEncoderConfig,
    /// Beginning-of-sequence id.
    #[serde(default)]
    pub bos_token_id: Option<i64>,
    /// End-of-sequence id(s).
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
    /// Rope scaling (unsupported unless null).
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    /// The dtype the weights were saved in.
    #[serde(default)]
    pub torch_dtype: Option<String>,
}

impl HuluConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let config: HuluConfig = read_json(path)?;
        config.validate(path)?;
        Ok(config)
    }

    /// The decoder family named by `architectures`.
    pub fn family(&self) -> Option<DecoderFamily> {
        self.architectures.iter().find_map(|a| match a.as_str() {
            "HulumedQwen2ForCausalLM" => Some(DecoderFamily::Qwen2),
            "HulumedQwen3ForCausalLM" => Some(DecoderFamily::Qwen3),
            _ => None,
        })
    }

    /// Key/value heads, defaulting to the query heads.
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Per-head width, defaulting to `hidden_size / num_attention_heads`.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Whether q/k/v projections carry a bias: always for Qwen2, `attention_bias` for Qwen3.
    pub fn qkv_bias(&self) -> bool {
        match self.family() {
            Some(DecoderFamily::Qwen2) => self.attention_bias.unwrap_or(true),
            _ => self.attention_bias.unwrap_or(false),
        }
    }

    fn validate(&self, path: &Path) -> Result<()> {
        if self.family().is_none() {
            return Err(Error::UnknownArchitecture {
                path: path.into(),
                found: self.architectures.clone(),
            });
        }
        let bad = |reason: String| Error::InvalidConfig {
            path: path.into(),
            reason,
        };
        let v = &self.vision_encoder_config;
        for (name, value) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.kv_heads()),
            ("head_dim", self.head_dim()),
            ("max_position_embeddings", self.max_position_embeddings),
            ("vision_encoder_config.hidden_size", v.hidden_size),
            (
                "vision_encoder_config.intermediate_size",
                v.intermediate_size,
            ),
            (
                "vision_encoder_config.num_hidden_layers",
                v.num_hidden_layers,
            ),
            (
                "vision_encoder_config.num_attention_heads",
                v.num_attention_heads,
            ),
            ("vision_encoder_config.patch_size", v.patch_size),
        ] {
            if value == 0 {
                return Err(bad(format!("{name} must be positive")));
            }
        }
        if self.head_dim.is_none() && self.hidden_size % self.num_attention_heads != 0 {
            return Err(bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {} and no head_dim is given",
                self.hidden_size, self.num_attention_heads
            )));
        }
        if self.num_attention_heads % self.kv_heads() != 0 {
            return Err(bad(format!(
                "num_key_value_heads {} does not divide num_attention_heads {}",
                self.kv_heads(),
                self.num_attention_heads
            )));
        }
        if self.head_dim() % 2 != 0 {
            return Err(bad(format!(
                "head_dim {} must be even for rotary embeddings",
                self.head_dim()
            )));
        }
        if v.hidden_size % v.num_attention_heads != 0 {
            return Err(bad(format!(
                "vision hidden_size {} is not a multiple of its {} heads",
                v.hidden_size, v.num_attention_heads
            )));
        }
        if self.vocab_size as i64 <= self.image_token_index || self.image_token_index < 0 {
            return Err(bad(format!(
                "image_token_index {} is outside the vocabulary of {}",
                self.image_token_index, self.vocab_size
            )));
        }
        if self.mm_projector_type != "mlp2x_gelu" {
            return Err(bad(format!(
                "mm_projector_type {:?} is not supported (only mlp2x_gelu)",
                self.mm_projector_type
            )));
        }
        if self.rope_scaling.as_ref().is_some_and(|s| !s.is_null()) {
            return Err(bad("rope_scaling is not supported".into()));
        }
        Ok(())
    }
}

/// `generation_config.json`: sampling defaults and stop ids.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct GenerationConfig {
    /// Beginning-of-sequence id.
    #[serde(default)]
    pub bos_token_id: Option<i64>,
    /// Padding id.
    #[serde(default)]
    pub pad_token_id: Option<i64>,
    /// Ids that end generation.
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
    /// Whether to sample (else greedy).
    #[serde(default)]
    pub do_sample: Option<bool>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Top-k cut-off.
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Min-p cut-off.
    #[serde(default)]
    pub min_p: Option<f64>,
    /// Repetition penalty.
    #[serde(default)]
    pub repetition_penalty: Option<f64>,
    /// Default `max_new_tokens`.
    #[serde(default)]
    pub max_new_tokens: Option<usize>,
}

impl GenerationConfig {
    /// Reads `generation_config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        read_json(path.as_ref())
    }

    /// The stop ids (empty when none are configured).
    pub fn eos_ids(&self) -> Vec<i64> {
        self.eos_token_id
            .as_ref()
            .map(TokenIds::to_vec)
            .unwrap_or_default()
    }
}

fn default_mean_std() -> [f64; 3] {
    [0.5, 0.5, 0.5]
}
fn default_rescale() -> f64 {
    1.0 / 255.0
}
fn default_true() -> bool {
    true
}
fn default_min_tokens() -> usize {
    16
}
fn default_max_tokens() -> usize {
    16384
}
fn default_patch() -> usize {
    14
}
fn default_resample() -> u32 {
    3
}

/// `preprocessor_config.json`: the image processor's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PreprocessorConfig {
    /// Per-channel mean subtracted after rescaling.
    #[serde(default = "default_mean_std")]
    pub image_mean: [f64; 3],
    /// Per-channel standard deviation divided by after subtracting the mean.
    #[serde(default = "default_mean_std")]
    pub image_std: [f64; 3],
    /// Factor applied to 8-bit values (1/255).
    #[serde(default = "default_rescale")]
    pub rescale_factor: f64,
    /// Whether to rescale.
    #[serde(default = "default_true")]
    pub do_rescale: bool,
    /// Whether to normalise.
    #[serde(default = "default_true")]
    pub do_normalize: bool,
    /// Whether to resize.
    #[serde(default = "default_true")]
    pub do_resize: bool,
    /// Fewest patches per call.
    #[serde(default = "default_min_tokens")]
    pub min_tokens: usize,
    /// Pixel budget in patches, shared by every frame and image of a call.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// Patch side in pixels.
    #[serde(default = "default_patch")]
    pub patch_size: usize,
    /// PIL resample filter (3 = bicubic).
    #[serde(default = "default_resample")]
    pub resample: u32,
}

impl Default for PreprocessorConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every field has a default")
    }
}

impl PreprocessorConfig {
    /// Reads `preprocessor_config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        read_json(path.as_ref())
    }
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = crate::file::read_text(path, crate::file::TEXT_BUDGET)?;
    serde_json::from_str(&text).map_err(|e| Error::InvalidConfig {
        path: path.into(),
        reason: e.to_string(),
    })
}
