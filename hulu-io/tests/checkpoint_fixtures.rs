//! Loads both fixture checkpoints completely and checks them against an independent read of the
//! raw safetensors bytes. (The layout a config implies is checked in hulu-model, from a dry run
//! of the model itself.)
#![cfg(feature = "tch")]

use hulu_io::Checkpoint;
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
fn qwen2_fixture_is_sharded_and_its_index_lists_every_key() {
    let dir = hulu_testkit::fixtures_root().join("models/tiny-qwen2");
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
        for (key, (dtype, shape, bytes)) in &raw {
            assert_eq!(dtype, "BF16", "{key}");
            let shape_i64: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
            let t = ckpt
                .tensor(key, Some(&shape_i64), Kind::Float, Device::Cpu)
                .unwrap();
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
    }
}

#[test]
fn converts_to_half_precision_kinds_and_refuses_a_mis_shaped_request() {
    let dir = hulu_testkit::fixtures_root().join("models/tiny-qwen3");
    let ckpt = Checkpoint::open(&dir).unwrap();
    for kind in [Kind::BFloat16, Kind::Half, Kind::Double] {
        let norm = ckpt
            .tensor("model.norm.weight", Some(&[32]), kind, Device::Cpu)
            .unwrap();
        assert_eq!(norm.kind(), kind);
    }
    match ckpt.tensor("model.norm.weight", Some(&[33]), Kind::Float, Device::Cpu) {
        Err(hulu_io::Error::WeightShape { key, actual, .. }) => {
            assert_eq!(key, "model.norm.weight");
            assert_eq!(actual, [32]);
        }
        other => panic!("unexpected {other:?}"),
    }
}
