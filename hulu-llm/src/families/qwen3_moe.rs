//! Qwen3-MoE (Hulu-Med-30A3, -235A22): Qwen3 attention, and MLPs that route each token to the
//! `num_experts_per_tok` best of `num_experts` SwiGLU experts (`transformers`'
//! `Qwen3MoeForCausalLM`; see [`crate::MoeConfig`] for the fields).
//!
//! Chosen for the plain and Hulu-Med architecture names, and for any config carrying
//! `num_experts` and `moe_intermediate_size` whatever its name (detection runs before the dense
//! Qwen3 family's).

use super::qwen::QwenFields;
use super::Family;
use crate::decoder::{CausalDecoder, Qwen3MoeDecoder};
use crate::{DecoderConfig, DecoderFamily, Error, MoeConfig, Result};
use hulu_nn::VarBuilder;
use serde::Deserialize;
use serde_json::Value;

/// The registry entry.
pub static FAMILY: Family = Family {
    family: DecoderFamily::Qwen3Moe,
    architectures: &["HulumedQwen3MoeForCausalLM", "Qwen3MoeForCausalLM"],
    detect,
    config,
    load,
};

fn detect(config: &Value) -> bool {
    config.get("num_experts").is_some() && config.get("moe_intermediate_size").is_some()
}

fn default_sparse_step() -> usize {
    1
}
fn default_norm_topk() -> bool {
    // `Qwen3MoeConfig`'s default.
    false
}

/// The mixture-of-experts fields of `config.json`.
#[derive(Debug, Deserialize)]
struct MoeFields {
    num_experts: usize,
    num_experts_per_tok: usize,
    moe_intermediate_size: usize,
    #[serde(default = "default_norm_topk")]
    norm_topk_prob: bool,
    #[serde(default = "default_sparse_step")]
    decoder_sparse_step: usize,
    #[serde(default)]
    mlp_only_layers: Vec<usize>,
}

/// Qwen3's fields (no bias unless `attention_bias` says so) plus the experts'.
fn config(config: &Value) -> Result<DecoderConfig> {
    let fields = QwenFields::parse(config)?;
    let moe: MoeFields = serde_path_to_error::deserialize(config)
        .map_err(|e| Error::config(format!("field `{}`: {}", e.path(), e.inner())))?;
    let bias = fields.attention_bias.unwrap_or(false);
    fields.into_config_with(
        DecoderFamily::Qwen3Moe,
        bias,
        Some(MoeConfig {
            num_experts: moe.num_experts,
            num_experts_per_tok: moe.num_experts_per_tok,
            moe_intermediate_size: moe.moe_intermediate_size,
            norm_topk_prob: moe.norm_topk_prob,
            decoder_sparse_step: moe.decoder_sparse_step,
            mlp_only_layers: moe.mlp_only_layers,
        }),
    )
}

fn load(config: &DecoderConfig, vb: &VarBuilder) -> Result<Box<dyn CausalDecoder>> {
    Ok(Box::new(Qwen3MoeDecoder::load(config, vb)?))
}
