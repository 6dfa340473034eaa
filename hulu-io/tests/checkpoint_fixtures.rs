//! Loads both fixture checkpoints completely and checks them against the config and against an
//! independent read of the raw safetensors bytes.
#![cfg(feature = "tch")]

use hulu_io::checkpoint::expected_weights;
use hulu_io::{Checkpoint, DecoderFamily, HuluConfig, Weights};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{Device, Kind};

/// Reads every tensor of every safetensors file in `dir` by parsing the format by hand:
/// 8-byte little-endian header length, JSON header, raw data. Returns key → (dtype, shape, bytes).
fn independent_read(dir: &Path) -> BTreeMap<String, (String, Vec<usize>, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("safetensors") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        for (key, info) in header.as_object().unwrap() {
            if key == "__metadata__" {
                continue;
            }
            let offsets: Vec<usize> = info["data_offsets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            let shape = info["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            let data = bytes[8 + n + offsets[0]..8 + n + offsets[1]].to_vec();
            out.insert(
                key.clone(),
                (info["dtype"].as_str().unwrap().to_string(), shape, data),
            );
        }
    }
    out
}

#[test]
fn every_fixture_checkpoint_matches_its_config_layout() {
    for dir in hulu_testkit::models() {
        println!("checking {}", dir.display());
        let config = HuluConfig::from_file(dir.join("config.json")).unwrap();
        let ckpt = Checkpoint::open(&dir).unwrap();
        let report = ckpt.check_layout(&expected_weights(&config));
        assert!(report.is_clean(), "{}: {report}", dir.display());
        // Tied embeddings: no lm_head in the checkpoint exactly when the config says so.
        assert_eq!(
            ckpt.meta("lm_head.weight").is_none(),
            config.tie_word_embeddings
        );
    }
}

#[test]
fn qwen3_fixture_uses_explicit_head_dim() {
    let dir = hulu_testkit::fixtures_root().join("models/tiny-qwen3");
    let config = HuluConfig::from_file(dir.join("config.json")).unwrap();
    assert_eq!(config.family(), Some(DecoderFamily::Qwen3));
    assert_eq!(config.head_dim(), 16);
    assert_eq!(config.hidden_size / config.num_attention_heads, 8);
    assert!(config.tie_word_embeddings);
    assert!(!config.qkv_bias());
    let ckpt = Checkpoint::open(&dir).unwrap();
    let w = Weights::new(&ckpt, Kind::Float, Device::Cpu);
    let q = w
        .pp("model.layers.0.self_attn")
        .get("q_proj.weight", &[64, 32])
        .unwrap();
    assert_eq!(q.size(), [64, 32]);
    assert!(!w.contains("model.layers.0.self_attn.q_proj.bias"));
}

#[test]
fn qwen2_fixture_is_sharded_with_biases_and_untied_head() {
    let dir = hulu_testkit::fixtures_root().join("models/tiny-qwen2");
    let config = HuluConfig::from_file(dir.join("config.json")).unwrap();
    assert_eq!(config.family(), Some(DecoderFamily::Qwen2));
    assert!(config.qkv_bias());
    assert_eq!(config.head_dim(), 8);
    let ckpt = Checkpoint::open(&dir).unwrap();
    assert_eq!(ckpt.shard_paths().len(), 2);
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("model.safetensors.index.json")).unwrap(),
    )
    .unwrap();
    let indexed: Vec<&String> = index["weight_map"].as_object().unwrap().keys().collect();
    assert_eq!(indexed.len(), ckpt.len());
    assert!(indexed.iter().all(|k| ckpt.meta(k).is_some()));
}

#[test]
fn every_tensor_converts_bit_exactly_to_f32() {
    for dir in hulu_testkit::models() {
        println!("checking {}", dir.display());
        let ckpt = Checkpoint::open(&dir).unwrap();
        let raw = independent_read(&dir);
        assert_eq!(raw.len(), ckpt.len());
        let w = Weights::new(&ckpt, Kind::Float, Device::Cpu);
        for (key, (dtype, shape, bytes)) in &raw {
            assert_eq!(dtype, "BF16", "{key}");
            let shape_i64: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
            let t = w.get(key, &shape_i64).unwrap();
            assert_eq!(t.kind(), Kind::Float);
            let got = Vec::<f32>::try_from(t.flatten(0, -1)).unwrap();
            // bf16 is the top half of an f32: widening is a 16-bit shift.
            let want = bytes
                .chunks_exact(2)
                .map(|c| (u16::from_le_bytes([c[0], c[1]]) as u32) << 16);
            assert!(
                got.iter().map(|v| v.to_bits()).eq(want),
                "{key}: values differ from the raw bf16 bits"
            );
        }
        // Every key was fetched once: nothing is left unused.
        assert!(w.unused().is_empty());
        w.finish().unwrap();
    }
}

#[test]
fn converts_to_half_precision_kinds_and_records_unused_keys() {
    let dir = hulu_testkit::fixtures_root().join("models/tiny-qwen3");
    let ckpt = Checkpoint::open(&dir).unwrap();
    let w = Weights::new(&ckpt, Kind::BFloat16, Device::Cpu);
    let norm = w.pp("model").get("norm.weight", &[32]).unwrap();
    assert_eq!(norm.kind(), Kind::BFloat16);
    let half = w
        .with_kind(Kind::Half)
        .pp("model")
        .get("norm.weight", &[32])
        .unwrap();
    assert_eq!(half.kind(), Kind::Half);
    let unused = w.pp("model.norm").unused();
    assert!(unused.is_empty(), "{unused:?}");
    let unused = w.pp("model.mm_projector").unused();
    assert_eq!(unused.len(), 4);
    assert!(matches!(
        w.pp("model.mm_projector").finish(),
        Err(hulu_io::Error::UnexpectedWeights { keys }) if keys.len() == 4
    ));
}
