//! `hulu`: command-line interface to the hulu Hulu-Med runtime.

use anyhow::Context;
use hulu_io::{Checkpoint, HuluConfig, Weights};
use std::path::PathBuf;

fn default_model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/tiny-qwen2")
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(default_model_dir);
    let config = HuluConfig::from_file(dir.join("config.json"))?;
    let ckpt = Checkpoint::open(&dir)?;
    println!("model: {}", dir.display());
    println!("family: {:?}", config.family().context("family")?);
    println!("{config:#?}");
    println!(
        "tensors: {}, parameters: {}",
        ckpt.len(),
        ckpt.parameter_count()
    );
    let w = Weights::new(&ckpt, tch::Kind::Float, tch::Device::Cpu);
    let norm = w
        .pp("model.norm")
        .get("weight", &[config.hidden_size as i64])?;
    println!(
        "model.norm.weight mean: {:.6}",
        norm.mean(tch::Kind::Float).double_value(&[])
    );
    Ok(())
}
