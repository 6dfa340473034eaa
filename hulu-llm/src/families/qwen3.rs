//! Qwen3 (Hulu-Med-4B, -14B): no projection bias, per-head RMSNorm on q and k before the
//! rotation, and a `head_dim` that may differ from `hidden_size / num_attention_heads`.

use super::qwen::{model_type_contains, QwenFields};
use super::Family;
use crate::decoder::{CausalDecoder, Qwen3Decoder};
use crate::{DecoderConfig, DecoderFamily, Result};
use hulu_nn::VarBuilder;
use serde_json::Value;

/// The registry entry.
pub static FAMILY: Family = Family {
    family: DecoderFamily::Qwen3,
    architectures: &["HulumedQwen3ForCausalLM", "Qwen3ForCausalLM"],
    detect,
    config,
    load,
};

fn detect(config: &Value) -> bool {
    model_type_contains(config, "qwen3") && config.get("num_experts").is_none()
}

/// Qwen3's fields: no bias unless `attention_bias` says so.
fn config(config: &Value) -> Result<DecoderConfig> {
    let fields = QwenFields::parse(config)?;
    let bias = fields.attention_bias.unwrap_or(false);
    fields.into_config(DecoderFamily::Qwen3, bias)
}

fn load(config: &DecoderConfig, vb: &VarBuilder) -> Result<Box<dyn CausalDecoder>> {
    Ok(Box::new(Qwen3Decoder::load(config, vb)?))
}
