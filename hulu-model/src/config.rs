//! The composed configuration of a Hulu-Med checkpoint: `config.json` (the decoder's fields at
//! the top level, the vision encoder's nested under `vision_encoder_config`) and
//! `generation_config.json`.
//!
//! Each part is read by the crate that owns it: the decoder fields by the family registry of
//! hulu-llm ([`hulu_llm::families`]), the vision encoder's by hulu-vision; this module holds
//! what only the assembled model knows (the image token, compression default, projector kind,
//! stop ids).

use crate::error::{Error, Result};
use hulu_llm::{DecoderConfig, DecoderFamily};
use hulu_vision::VisionEncoderConfig;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

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

fn default_projector() -> String {
    "mlp2x_gelu".into()
}

/// The fields of `config.json` that belong to the assembled model.
#[derive(Debug, Clone, Deserialize)]
struct ModelFields {
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    model_type: Option<String>,
    image_token_index: i64,
    #[serde(default)]
    use_token_compression: bool,
    #[serde(default = "default_projector")]
    mm_projector_type: String,
    vision_encoder_config: VisionEncoderConfig,
    #[serde(default)]
    bos_token_id: Option<i64>,
    #[serde(default)]
    eos_token_id: Option<TokenIds>,
    #[serde(default)]
    torch_dtype: Option<String>,
}

/// `config.json` of a Hulu-Med checkpoint (`HulumedQwen2ForCausalLM`,
/// `HulumedQwen3ForCausalLM`, or any name whose fields a registered decoder family recognises).
#[derive(Debug, Clone, PartialEq)]
pub struct HuluConfig {
    /// Model class names.
    pub architectures: Vec<String>,
    /// `model_type`, e.g. `hulumed_qwen2`.
    pub model_type: Option<String>,
    /// The decoder, as its family reads the top-level fields.
    pub decoder: DecoderConfig,
    /// The nested vision encoder config.
    pub vision_encoder_config: VisionEncoderConfig,
    /// The id that stands for one visual token (151669 in the fixtures, 151665 in Hulu-Med-7B).
    pub image_token_index: i64,
    /// Whether the checkpoint compresses visual tokens by default.
    pub use_token_compression: bool,
    /// Projector kind; only `mlp2x_gelu` exists in published checkpoints.
    pub mm_projector_type: String,
    /// Beginning-of-sequence id.
    pub bos_token_id: Option<i64>,
    /// End-of-sequence id(s).
    pub eos_token_id: Option<TokenIds>,
    /// The dtype the weights were saved in.
    pub torch_dtype: Option<String>,
}

impl HuluConfig {
    /// Reads and validates `config.json`: every size is checked against the owning crate's
    /// limits before anything is built or listed.
    ///
    /// # Errors
    /// [`Error::Config`] for an unreadable file or a missing/mistyped field (both named),
    /// [`Error::Decoder`] for an unknown architecture or an invalid decoder config,
    /// [`Error::Vision`] for an invalid vision config, [`Error::InvalidJson`] for the model's
    /// own fields (image token, projector).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let _span = tracing::info_span!("read_config", path = %path.display()).entered();
        let json: Value = hulu_io::json::read_json(path)?;
        Self::from_json(&json, path)
    }

    /// Validates a parsed `config.json` (`path` names it in errors).
    ///
    /// # Errors
    /// As [`HuluConfig::from_file`].
    pub fn from_json(json: &Value, path: &Path) -> Result<Self> {
        let fields: ModelFields = serde_path_to_error::deserialize(json)
            .map_err(|e| Error::json(path, format!("field `{}`: {}", e.path(), e.inner())))?;
        fields.vision_encoder_config.validate()?;
        let decoder = hulu_llm::families::decoder_config(json)?;
        let config = HuluConfig {
            architectures: fields.architectures,
            model_type: fields.model_type,
            decoder,
            vision_encoder_config: fields.vision_encoder_config,
            image_token_index: fields.image_token_index,
            use_token_compression: fields.use_token_compression,
            mm_projector_type: fields.mm_projector_type,
            bos_token_id: fields.bos_token_id,
            eos_token_id: fields.eos_token_id,
            torch_dtype: fields.torch_dtype,
        };
        if config.image_token_index < 0
            || config.image_token_index as u64 >= config.decoder.vocab_size as u64
        {
            return Err(Error::json(
                path,
                format!(
                    "image_token_index {} is outside the vocabulary of {}",
                    config.image_token_index, config.decoder.vocab_size
                ),
            ));
        }
        if config.mm_projector_type != "mlp2x_gelu" {
            return Err(Error::json(
                path,
                format!(
                    "mm_projector_type {:?} is not supported (only mlp2x_gelu)",
                    config.mm_projector_type
                ),
            ));
        }
        Ok(config)
    }

    /// The decoder family.
    pub fn family(&self) -> DecoderFamily {
        self.decoder.family
    }

    /// Decoder width (`hidden_size`).
    pub fn hidden_size(&self) -> usize {
        self.decoder.hidden_size
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
    ///
    /// # Errors
    /// [`Error::Config`] naming the file and field.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Ok(hulu_io::json::read_json(path.as_ref())?)
    }

    /// The stop ids (empty when none are configured).
    pub fn eos_ids(&self) -> Vec<i64> {
        self.eos_token_id
            .as_ref()
            .map(TokenIds::to_vec)
            .unwrap_or_default()
    }
}
