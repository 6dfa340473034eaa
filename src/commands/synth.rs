//! `hulu synth`: writes a Hugging Face-layout checkpoint with seeded random bf16 weights, so
//! anyone can benchmark the real pipeline at real sizes without downloading real weights.

use anyhow::{bail, Context, Result};
use hulu_model::{expected_layout, HuluConfig};
use hulu_nn::RandomBackend;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Largest shard written, so big presets exercise the sharded (index) layout.
const SHARD_BYTES: usize = 1 << 30;

/// Files copied from the tiny fixture model: tokenizer, templates, processor and generation
/// settings are the real Hulu-Med ones there.
const COPIED: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "added_tokens.json",
    "special_tokens_map.json",
    "chat_template.json",
    "generation_config.json",
    "preprocessor_config.json",
];

/// Names of the presets `hulu synth` knows.
pub const PRESETS: &[&str] = &["bench-qwen2", "bench-qwen3", "bench-qwen2-27l"];

/// The config of a preset: the fixture's `tiny-qwen2` config with the preset's dimensions.
pub fn preset_config(preset: &str, template: &Path) -> Result<Value> {
    let mut config: Value = serde_json::from_str(
        &std::fs::read_to_string(template.join("config.json")).context("template config")?,
    )?;
    let vision = json!({
        "hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 4,
        "num_attention_heads": 16, "patch_size": 14, "model_type": "hulumed_vision_encoder"
    });
    let overrides = match preset {
        "bench-qwen2" | "bench-qwen2-27l" => json!({
            "architectures": ["HulumedQwen2ForCausalLM"], "model_type": "hulumed_qwen2",
            "hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14,
            "num_key_value_heads": 2, "intermediate_size": 4864, "vocab_size": 151936,
            "tie_word_embeddings": true, "rope_theta": 1000000.0,
            "max_position_embeddings": 32768, "vision_encoder_config": vision
        }),
        "bench-qwen3" => json!({
            "architectures": ["HulumedQwen3ForCausalLM"], "model_type": "hulumed_qwen3",
            "hidden_size": 1024, "num_hidden_layers": 28, "num_attention_heads": 16,
            "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 3072,
            "vocab_size": 151936, "tie_word_embeddings": true, "rope_theta": 1000000.0,
            "max_position_embeddings": 40960, "attention_bias": false,
            "vision_encoder_config": vision
        }),
        other => bail!("unknown preset {other:?}; known: {}", PRESETS.join(", ")),
    };
    for (k, v) in overrides.as_object().expect("object") {
        config[k] = v.clone();
    }
    if preset == "bench-qwen2-27l" {
        // The real SigLIP-so400m encoder depth, for GPU benchmarks.
        config["vision_encoder_config"]["num_hidden_layers"] = 27.into();
    }
    Ok(config)
}

/// bf16 bytes for one tensor: the workspace's one seeded generator ([`RandomBackend`]), so a
/// synthesised checkpoint holds exactly what `VarBuilder::random(seed, ..)` builds in memory
/// (norms near 1, everything else uniform with standard deviation 0.02).
fn tensor_bytes(key: &str, shape: &[usize], seed: u64) -> Vec<u8> {
    let n: usize = shape.iter().product();
    RandomBackend::new(seed)
        .values(key, n)
        .into_iter()
        .flat_map(|v| half::bf16::from_f32(v).to_le_bytes())
        .collect()
}

fn write_shard(path: &Path, tensors: &[(String, Vec<usize>)], seed: u64) -> Result<()> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut offset = 0usize;
    for (key, shape) in tensors {
        let bytes = 2 * shape.iter().product::<usize>();
        header.insert(
            key.clone(),
            json!({"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    let mut head = serde_json::to_vec(&Value::Object(header))?;
    while head.len() % 8 != 0 {
        head.push(b' ');
    }
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    file.write_all(&(head.len() as u64).to_le_bytes())?;
    file.write_all(&head)?;
    for (key, shape) in tensors {
        file.write_all(&tensor_bytes(key, shape, seed))?;
    }
    file.flush()?;
    Ok(())
}

/// Writes the preset's checkpoint directory to `out`.
pub fn synth(preset: &str, out: &Path, template: &Path, seed: u64) -> Result<PathBuf> {
    let config_json = preset_config(preset, template)?;
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join("config.json"),
        serde_json::to_string_pretty(&config_json)?,
    )?;
    for name in COPIED {
        let src = template.join(name);
        if src.is_file() {
            std::fs::copy(&src, out.join(name))?;
        }
    }
    let config = HuluConfig::from_file(out.join("config.json"))?;
    let weights: BTreeMap<String, Vec<usize>> = expected_layout(&config)?;

    let mut shards: Vec<Vec<(String, Vec<usize>)>> = vec![Vec::new()];
    let mut size = 0usize;
    for (key, shape) in weights {
        let bytes = 2 * shape.iter().product::<usize>();
        if size > 0 && size + bytes > SHARD_BYTES {
            shards.push(Vec::new());
            size = 0;
        }
        size += bytes;
        shards.last_mut().expect("one shard").push((key, shape));
    }
    let count = shards.len();
    let mut weight_map = serde_json::Map::new();
    let mut total = 0usize;
    for (i, shard) in shards.iter().enumerate() {
        let name = if count == 1 {
            "model.safetensors".to_string()
        } else {
            format!("model-{:05}-of-{count:05}.safetensors", i + 1)
        };
        write_shard(&out.join(&name), shard, seed)?;
        for (key, shape) in shard {
            total += 2 * shape.iter().product::<usize>();
            weight_map.insert(key.clone(), name.clone().into());
        }
    }
    if count > 1 {
        let index = json!({"metadata": {"total_size": total}, "weight_map": weight_map});
        std::fs::write(
            out.join("model.safetensors.index.json"),
            serde_json::to_string_pretty(&index)?,
        )?;
    }
    Ok(out.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_weights_repeat_and_depend_on_key_and_seed() {
        let a = tensor_bytes("x.weight", &[4, 8], 7);
        assert_eq!(a, tensor_bytes("x.weight", &[4, 8], 7));
        assert_ne!(a, tensor_bytes("y.weight", &[4, 8], 7));
        assert_ne!(a, tensor_bytes("x.weight", &[4, 8], 8));
        let values: Vec<f32> = a
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect();
        assert!(values.iter().all(|v| v.abs() <= 0.035));
        assert!(values.iter().any(|v| *v != 0.0));
    }

    #[test]
    fn norms_are_near_one() {
        let norm = tensor_bytes("model.norm.weight", &[64], 1);
        assert!(norm
            .chunks_exact(2)
            .all(|c| (0.89..=1.11).contains(&half::bf16::from_le_bytes([c[0], c[1]]).to_f32())));
    }
}
