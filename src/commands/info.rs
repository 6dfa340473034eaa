//! `hulu info`: what a checkpoint directory holds, checked against its config.

use crate::failure::Categorize;
use anyhow::Result;
use hulu_io::Checkpoint;
use hulu_llm::Quantization;
use hulu_model::{expected_layout, HuluConfig};
use serde_json::json;
use std::path::Path;

/// Bytes the weights need in each dtype and quantization, from the safetensors headers alone:
/// f32, bf16/f16, and the decoder projections in int8 / int4 with the rest in bf16.
fn memory_bytes(ckpt: &Checkpoint) -> [(&'static str, usize); 4] {
    [
        ("f32", hulu_llm::weight_bytes(ckpt, 4, None)),
        ("bf16", hulu_llm::weight_bytes(ckpt, 2, None)),
        (
            "int8",
            hulu_llm::weight_bytes(ckpt, 2, Some(Quantization::Int8)),
        ),
        (
            "int4",
            hulu_llm::weight_bytes(ckpt, 2, Some(Quantization::int4())),
        ),
    ]
}

/// Prints the config, the parameter count and the layout check of the checkpoint `model` (a
/// directory or a cached Hub id), as text or, with `json`, one JSON object.
///
/// # Errors
///
/// A model error when the checkpoint cannot be found or read, or its tensors do not match
/// its config (the keys are named).
pub fn run(model: &Path, json: bool) -> Result<()> {
    let dir = hulu_model::hub::resolve(model).model()?;
    // The config is validated (sizes within limits) before any weight is listed or mapped.
    let config = HuluConfig::from_file(dir.join("config.json")).model()?;
    let ckpt = Checkpoint::open(&dir).model()?;
    let v = &config.vision_encoder_config;
    let d = &config.decoder;
    let report = ckpt.check_layout(&expected_layout(&config).model()?);
    if json {
        let value = json!({
            "model": dir,
            "torch_dtype": config.torch_dtype,
            "decoder": {
                "family": format!("{:?}", d.family),
                "hidden_size": d.hidden_size,
                "num_hidden_layers": d.num_hidden_layers,
                "num_attention_heads": d.num_attention_heads,
                "num_key_value_heads": d.num_key_value_heads,
                "head_dim": d.head_dim,
                "intermediate_size": d.intermediate_size,
                "vocab_size": d.vocab_size,
                "tie_word_embeddings": d.tie_word_embeddings,
            },
            "vision": {
                "hidden_size": v.hidden_size,
                "num_hidden_layers": v.num_hidden_layers,
                "num_attention_heads": v.num_attention_heads,
                "intermediate_size": v.intermediate_size,
                "patch_size": v.patch_size,
            },
            "image_token_index": config.image_token_index,
            "use_token_compression": config.use_token_compression,
            "weights": {
                "tensors": ckpt.len(),
                "files": ckpt.shard_paths().len(),
                "parameters": ckpt.parameter_count(),
            },
            "memory_bytes": memory_bytes(&ckpt)
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect::<serde_json::Map<_, _>>(),
            "layout": {
                "clean": report.is_clean(),
                "missing": report.missing.len(),
                "unexpected": report.unexpected.len(),
                "mis_shaped": report.mis_shaped.len(),
            },
        });
        println!("{value:#}");
    } else {
        println!("model       {}", dir.display());
        println!(
            "decoder     {:?}: hidden {}, {} layers, {} heads ({} kv, head_dim {}), mlp {}, vocab {}, tied {}",
            d.family,
            d.hidden_size,
            d.num_hidden_layers,
            d.num_attention_heads,
            d.num_key_value_heads,
            d.head_dim,
            d.intermediate_size,
            d.vocab_size,
            d.tie_word_embeddings
        );
        println!(
            "vision      hidden {}, {} layers, {} heads, mlp {}, patch {}",
            v.hidden_size,
            v.num_hidden_layers,
            v.num_attention_heads,
            v.intermediate_size,
            v.patch_size
        );
        println!(
            "tokens      image token {}, compression by default: {}",
            config.image_token_index, config.use_token_compression
        );
        println!(
            "weights     {} tensors in {} file(s), {} parameters",
            ckpt.len(),
            ckpt.shard_paths().len(),
            ckpt.parameter_count()
        );
        let gib = |bytes: usize| bytes as f64 / (1u64 << 30) as f64;
        let [f32_, bf16, int8, int4] = memory_bytes(&ckpt).map(|(_, b)| gib(b));
        println!(
            "memory      f32 {f32_:.3} GiB, bf16/f16 {bf16:.3} GiB; decoder projections \
             quantized (rest bf16): int8 {int8:.3} GiB, int4 (group {}) {int4:.3} GiB",
            hulu_llm::DEFAULT_INT4_GROUP
        );
        if report.is_clean() {
            println!("layout      every tensor present with the shape the config implies");
        } else {
            // The keys themselves are listed once, by the error.
            println!(
                "layout      MISMATCH: {} missing, {} unexpected, {} mis-shaped",
                report.missing.len(),
                report.unexpected.len(),
                report.mis_shaped.len()
            );
        }
    }
    report.into_result().model()?;
    Ok(())
}
