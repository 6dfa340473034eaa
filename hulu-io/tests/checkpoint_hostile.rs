//! Broken and hostile checkpoints each give a typed error that names the problem.

use hulu_io::{Checkpoint, Error};
use hulu_testkit::ScratchModel;
use std::path::Path;

fn open_err(dir: &Path) -> Error {
    Checkpoint::open(dir).expect_err("a broken checkpoint must not open")
}

#[test]
fn truncated_shard_is_invalid_safetensors() {
    let s = ScratchModel::of("tiny-qwen3");
    let file = s.path("model.safetensors");
    let len = std::fs::metadata(&file).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.set_len(len - 1000).unwrap();
    match open_err(s.dir()) {
        Error::InvalidSafetensors { path, reason } => {
            assert_eq!(path, file);
            assert!(reason.contains("truncated"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn header_length_past_end_of_file_is_invalid_safetensors() {
    let s = ScratchModel::of("tiny-qwen3");
    let file = s.path("model.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    let lie = (bytes.len() as u64) * 4;
    bytes[..8].copy_from_slice(&lie.to_le_bytes());
    std::fs::write(&file, &bytes).unwrap();
    match open_err(s.dir()) {
        Error::InvalidSafetensors { reason, .. } => {
            assert!(reason.contains("header length"), "{reason}")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn tiny_and_garbage_files_are_invalid_safetensors() {
    for bytes in [&b"\x01\x02"[..], &[0xffu8; 64][..], b"\x02\0\0\0\0\0\0\0{]"] {
        let s = ScratchModel::of("tiny-qwen3");
        std::fs::write(s.path("model.safetensors"), bytes).unwrap();
        assert!(matches!(
            open_err(s.dir()),
            Error::InvalidSafetensors { .. }
        ));
    }
}

#[test]
fn index_naming_a_missing_shard_is_reported() {
    let s = ScratchModel::of("tiny-qwen2");
    std::fs::remove_file(s.path("model-00002-of-00002.safetensors")).unwrap();
    match open_err(s.dir()) {
        Error::MissingShard { shard, .. } => assert_eq!(shard, "model-00002-of-00002.safetensors"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn index_cannot_point_outside_the_directory() {
    let s = ScratchModel::of("tiny-qwen2");
    s.edit_json("model.safetensors.index.json", |v| {
        v["weight_map"]["model.norm.weight"] = "../../etc/passwd".into();
    });
    assert!(matches!(open_err(s.dir()), Error::MissingShard { shard, .. } if shard.contains("..")));
}

#[test]
fn index_mapping_a_key_to_the_wrong_shard_is_reported() {
    let s = ScratchModel::of("tiny-qwen2");
    let mut moved = String::new();
    s.edit_json("model.safetensors.index.json", |v| {
        let map = v["weight_map"].as_object_mut().unwrap();
        let (key, shard) = map
            .iter_mut()
            .find(|(_, shard)| shard.as_str() == Some("model-00001-of-00002.safetensors"))
            .unwrap();
        moved = key.clone();
        *shard = "model-00002-of-00002.safetensors".into();
    });
    match open_err(s.dir()) {
        Error::IndexMismatch { key, .. } => assert_eq!(key, moved),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn empty_directory_has_no_weights() {
    let s = ScratchModel::of("tiny-qwen3");
    std::fs::remove_file(s.path("model.safetensors")).unwrap();
    assert!(matches!(open_err(s.dir()), Error::NoWeights { .. }));
}
