//! `hulu info`: what a checkpoint directory holds, checked against its config.

use anyhow::Result;
use hulu_io::checkpoint::expected_weights;
use hulu_io::{Checkpoint, HuluConfig};
use std::path::Path;

/// Prints the config, the parameter count and the layout check of the checkpoint in `dir`.
pub fn run(dir: &Path) -> Result<()> {
    let config = HuluConfig::from_file(dir.join("config.json"))?;
    let ckpt = Checkpoint::open(dir)?;
    let v = &config.vision_encoder_config;
    println!("model       {}", dir.display());
    println!(
        "decoder     {:?}: hidden {}, {} layers, {} heads ({} kv, head_dim {}), mlp {}, vocab {}, tied {}",
        config.family().expect("validated"),
        config.hidden_size,
        config.num_hidden_layers,
        config.num_attention_heads,
        config.kv_heads(),
        config.head_dim(),
        config.intermediate_size,
        config.vocab_size,
        config.tie_word_embeddings
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
    let report = ckpt.check_layout(&expected_weights(&config));
    if report.is_clean() {
        println!("layout      every tensor present with the shape the config implies");
    } else {
        println!("layout      MISMATCH: {report}");
    }
    report.into_result()?;
    Ok(())
}
