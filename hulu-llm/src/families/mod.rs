//! The registry of decoder families: which `config.json` is read by which family, and how each
//! family's decoder is built.
//!
//! Adding a family is one file here (its serde config, validation and loader) plus one line in
//! [`FAMILIES`]. A config is matched by its `architectures` names first; a name no family
//! lists (a fine-tuned checkpoint renamed by its authors) falls back on the fields: the first
//! family whose [`Family::detect`] recognises them.

mod qwen;
pub mod qwen2;
pub mod qwen3;
pub mod qwen3_moe;

use crate::decoder::CausalDecoder;
use crate::{DecoderConfig, DecoderFamily, Error, Result};
use hulu_nn::VarBuilder;
use serde_json::Value;

/// One decoder family of the registry.
#[derive(Debug)]
pub struct Family {
    /// The family.
    pub family: DecoderFamily,
    /// `architectures` names that select it (plain and Hulu-Med checkpoints).
    pub architectures: &'static [&'static str],
    /// Whether a config whose architecture is unknown has this family's fields.
    pub detect: fn(&Value) -> bool,
    /// Reads and validates this family's fields of `config.json`.
    pub config: fn(&Value) -> Result<DecoderConfig>,
    /// Builds the decoder from weights under `model.*` and `lm_head.*`.
    pub load: fn(&DecoderConfig, &VarBuilder) -> Result<Box<dyn CausalDecoder>>,
}

/// Every family hulu can run, most specific first (detection stops at the first match).
pub static FAMILIES: &[&Family] = &[&qwen3_moe::FAMILY, &qwen3::FAMILY, &qwen2::FAMILY];

/// The family `config` (the whole `config.json`) selects.
///
/// # Errors
/// [`Error::UnknownArchitecture`] when neither its `architectures` nor its fields match.
pub fn family_for(config: &Value) -> Result<&'static Family> {
    let names: Vec<String> = config["architectures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let by_name = FAMILIES
        .iter()
        .find(|f| names.iter().any(|n| f.architectures.contains(&n.as_str())));
    if let Some(f) = by_name.or_else(|| FAMILIES.iter().find(|f| (f.detect)(config))) {
        return Ok(f);
    }
    Err(Error::UnknownArchitecture {
        found: names,
        known: FAMILIES
            .iter()
            .flat_map(|f| f.architectures.iter().copied())
            .collect(),
    })
}

/// The registry entry of `family`.
pub fn family(family: DecoderFamily) -> &'static Family {
    FAMILIES
        .iter()
        .find(|f| f.family == family)
        .expect("every DecoderFamily has a registry entry")
}

/// Reads the decoder config out of a whole `config.json`, through the family it selects.
///
/// # Errors
/// [`Error::UnknownArchitecture`], or [`Error::InvalidConfig`] naming the field.
pub fn decoder_config(config: &Value) -> Result<DecoderConfig> {
    (family_for(config)?.config)(config)
}

/// Reads `config.json` at `path` and returns its decoder config (see [`decoder_config`]).
///
/// # Errors
/// [`Error::Io`] for an unreadable file (named), then as [`decoder_config`].
pub fn read_decoder_config(path: impl AsRef<std::path::Path>) -> Result<DecoderConfig> {
    let json: Value = hulu_io::json::read_json(path.as_ref())?;
    decoder_config(&json)
}
