//! Qwen2 / Qwen2.5 (Hulu-Med-7B, -32B): q/k/v projections with bias, o without.

use super::qwen::{model_type_contains, QwenFields};
use super::Family;
use crate::decoder::{CausalDecoder, Qwen2Decoder};
use crate::{DecoderConfig, DecoderFamily, Result};
use hulu_nn::VarBuilder;
use serde_json::Value;

/// The registry entry.
pub static FAMILY: Family = Family {
    family: DecoderFamily::Qwen2,
    architectures: &["HulumedQwen2ForCausalLM", "Qwen2ForCausalLM"],
    detect,
    config,
    load,
};

fn detect(config: &Value) -> bool {
    model_type_contains(config, "qwen2")
}

/// Qwen2's fields: q/k/v always carry a bias (`attention_bias`, when present, decides).
fn config(config: &Value) -> Result<DecoderConfig> {
    let fields = QwenFields::parse(config)?;
    let bias = fields.attention_bias.unwrap_or(true);
    fields.into_config(DecoderFamily::Qwen2, bias)
}

fn load(config: &DecoderConfig, vb: &VarBuilder) -> Result<Box<dyn CausalDecoder>> {
    Ok(Box::new(Qwen2Decoder::load(config, vb)?))
}
