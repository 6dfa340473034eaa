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
    match open_err(s.dir()) {
        e @ Error::RefusedShard { .. } => {
            let text = e.to_string();
            assert!(
                text.contains("../../etc/passwd") && text.contains("refused"),
                "{text}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// A one-file checkpoint in `dir` whose header is `header` and whose data is `data_len` bytes.
fn write_shard(dir: &Path, header: &str, data_len: usize) -> std::path::PathBuf {
    let path = dir.join("model.safetensors");
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.resize(bytes.len() + data_len, 0);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn header_errors_name_the_tensor() {
    let s = ScratchModel::of("tiny-qwen3");
    let cases = [
        // b's shape needs 12 bytes, its offsets hold 8.
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[3],"data_offsets":[8,16]}}"#,
            16,
            "\"b\"",
        ),
        // A gap between a and b.
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
            12,
            "\"b\"",
        ),
        // An unknown dtype.
        (
            r#"{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#,
            1,
            "\"w\"",
        ),
    ];
    for (header, data_len, named) in cases {
        let path = write_shard(s.dir(), header, data_len);
        match open_err(s.dir()) {
            Error::InvalidSafetensors { path: p, reason } => {
                assert_eq!(p, path);
                assert!(reason.contains(named), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn truncate_from_another_thread(file: &Path, len: u64) {
    let file = file.to_path_buf();
    std::thread::spawn(move || {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(len)
            .unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn a_shard_truncated_after_opening_is_a_typed_error_naming_shard_and_tensor() {
    let s = ScratchModel::of("tiny-qwen3");
    let file = s.path("model.safetensors");
    let ckpt = Checkpoint::open(s.dir()).unwrap();
    let before: Vec<Vec<u8>> = ckpt.keys().map(|k| ckpt.raw_bytes(k).unwrap()).collect();
    assert!(before.iter().any(|b| !b.is_empty()));
    let len = std::fs::metadata(&file).unwrap().len();
    truncate_from_another_thread(&file, len / 2);
    for key in ckpt.keys() {
        match ckpt.raw_bytes(key) {
            Err(e @ Error::ShardChanged { .. }) => {
                let text = e.to_string();
                assert!(text.contains(&file.display().to_string()), "{text}");
                assert!(text.contains(key), "{text}");
            }
            other => panic!("{key}: unexpected {other:?}"),
        }
    }
}

#[cfg(feature = "tch")]
#[test]
fn tensors_from_a_shard_truncated_while_loading_are_errors_not_crashes() {
    let s = ScratchModel::of("tiny-qwen3");
    let file = s.path("model.safetensors");
    let ckpt = Checkpoint::open(s.dir()).unwrap();
    let keys: Vec<String> = ckpt.keys().map(str::to_string).collect();
    let stored = |k: &str| match ckpt.meta(k).unwrap().dtype {
        safetensors::Dtype::F32 => tch::Kind::Float,
        safetensors::Dtype::BF16 => tch::Kind::BFloat16,
        safetensors::Dtype::F16 => tch::Kind::Half,
        other => panic!("fixture dtype {other:?}"),
    };
    // Loaded whole before: both the direct read and the converting read work.
    for k in &keys {
        let direct = ckpt.tensor(k, None, stored(k), tch::Device::Cpu).unwrap();
        let converted = ckpt
            .tensor(k, None, tch::Kind::Double, tch::Device::Cpu)
            .unwrap();
        assert!(direct.to_kind(tch::Kind::Double).equal(&converted), "{k}");
    }
    let len = std::fs::metadata(&file).unwrap().len();
    // Cut in the middle of the data, from another thread, between opening and reading.
    truncate_from_another_thread(&file, len - len / 3);
    for k in &keys {
        for kind in [stored(k), tch::Kind::Double] {
            match ckpt.tensor(k, None, kind, tch::Device::Cpu) {
                Err(Error::ShardChanged { path, key, .. }) => {
                    assert_eq!(path, file);
                    assert_eq!(&key, k);
                }
                other => panic!("{k}: unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn loading_while_another_thread_truncates_never_crashes() {
    // The race of a concurrent download: every read is whole or a typed error, never SIGBUS.
    let s = ScratchModel::of("tiny-qwen3");
    let file = s.path("model.safetensors");
    let ckpt = Checkpoint::open(s.dir()).unwrap();
    let len = std::fs::metadata(&file).unwrap().len();
    let cutter = {
        let file = file.clone();
        std::thread::spawn(move || {
            let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
            for step in 1..=64u64 {
                f.set_len(len - len * step / 64).unwrap();
                std::thread::yield_now();
            }
        })
    };
    let mut errors = 0;
    while !cutter.is_finished() || errors == 0 {
        for key in ckpt.keys() {
            match ckpt.raw_bytes(key) {
                Ok(bytes) => {
                    let meta = ckpt.meta(key).unwrap();
                    let expected = meta.shape.iter().product::<usize>() * meta.dtype.bitsize() / 8;
                    assert_eq!(bytes.len(), expected, "{key}");
                }
                Err(Error::ShardChanged { .. }) => errors += 1,
                Err(other) => panic!("{key}: unexpected {other:?}"),
            }
        }
    }
    cutter.join().unwrap();
    assert!(errors > 0);
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
