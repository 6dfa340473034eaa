//! `hulu info`: what a checkpoint directory holds, checked against its config.

use anyhow::Result;
use hulu_io::Checkpoint;
use hulu_llm::Quantization;
use hulu_model::{expected_layout, HuluConfig};
use std::path::Path;

/// Prints the bytes the weights need in each dtype and quantization, from the headers alone.
fn print_memory(ckpt: &Checkpoint) {
    let gib = |bytes: usize| bytes as f64 / (1u64 << 30) as f64;
    let dense = |elt| hulu_llm::weight_bytes(ckpt, elt, None);
    let int8 = Some(Quantization::Int8);
    let int4 = Some(Quantization::int4());
    println!(
        "memory      f32 {:.3} GiB, bf16/f16 {:.3} GiB; decoder projections quantized \
         (rest bf16): int8 {:.3} GiB, int4 (group {}) {:.3} GiB",
        gib(dense(4)),
        gib(dense(2)),
        gib(hulu_llm::weight_bytes(ckpt, 2, int8)),
        hulu_llm::DEFAULT_INT4_GROUP,
        gib(hulu_llm::weight_bytes(ckpt, 2, int4)),
    );
}

/// Prints the config, the parameter count and the layout check of the checkpoint in `dir`.
pub fn run(dir: &Path) -> Result<()> {
    // The config is validated (sizes within limits) before any weight is listed or mapped.
    let config = HuluConfig::from_file(dir.join("config.json"))?;
    let ckpt = Checkpoint::open(dir)?;
    let v = &config.vision_encoder_config;
    let d = &config.decoder;
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
    print_memory(&ckpt);
    let report = ckpt.check_layout(&expected_layout(&config)?);
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
    report.into_result()?;
    Ok(())
}
