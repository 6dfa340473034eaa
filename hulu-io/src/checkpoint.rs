//! Memory-mapped safetensors checkpoints: one `model.safetensors` or shards listed in
//! `model.safetensors.index.json`.
//!
//! Opening a checkpoint maps every shard and validates its header (length field, JSON, offsets
//! that tile the data exactly) without reading tensor data. Tensors are materialised one at a
//! time, straight from the mapping into the dtype and device the caller asks for
//! ([`Checkpoint::tensor`]), so a model is never built from random weights that are then overwritten.

use crate::{Error, Result};
use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

/// File name of a single-file checkpoint.
pub const SINGLE_FILE: &str = "model.safetensors";
/// File name of a sharded checkpoint's index.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// Where one tensor lives and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorMeta {
    /// Stored element type.
    pub dtype: Dtype,
    /// Stored shape.
    pub shape: Vec<usize>,
    shard: usize,
    /// Byte range inside the shard's mapping (header included in the offset).
    range: (usize, usize),
}

struct Shard {
    path: PathBuf,
    map: Mmap,
}

/// A checkpoint whose shards are memory-mapped and whose headers are validated.
pub struct Checkpoint {
    dir: PathBuf,
    shards: Vec<Shard>,
    tensors: BTreeMap<String, TensorMeta>,
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("dir", &self.dir)
            .field(
                "shards",
                &self.shards.iter().map(|s| &s.path).collect::<Vec<_>>(),
            )
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct IndexFile {
    weight_map: BTreeMap<String, String>,
}

impl Checkpoint {
    /// Opens the checkpoint in `dir`: `model.safetensors.index.json` when present, else
    /// `model.safetensors`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let _span = tracing::info_span!("checkpoint_open", dir = %dir.display()).entered();
        let index = dir.join(INDEX_FILE);
        if index.is_file() {
            Self::open_index(dir, &index)
        } else if dir.join(SINGLE_FILE).is_file() {
            Self::open_files(dir, &[dir.join(SINGLE_FILE)])
        } else {
            Err(Error::NoWeights { dir: dir.into() })
        }
    }

    /// Opens the given safetensors files as one checkpoint (keys must not repeat).
    pub fn open_files(dir: &Path, files: &[PathBuf]) -> Result<Self> {
        let mut shards = Vec::with_capacity(files.len());
        let mut tensors = BTreeMap::new();
        for path in files {
            let shard = shards.len();
            let (map, metas) = map_shard(path)?;
            for (key, (dtype, shape, range)) in metas {
                let meta = TensorMeta {
                    dtype,
                    shape,
                    shard,
                    range,
                };
                if tensors.insert(key.clone(), meta).is_some() {
                    return Err(Error::InvalidSafetensors {
                        path: path.clone(),
                        reason: format!("tensor {key:?} appears in more than one shard"),
                    });
                }
            }
            shards.push(Shard {
                path: path.clone(),
                map,
            });
        }
        Ok(Checkpoint {
            dir: dir.into(),
            shards,
            tensors,
        })
    }

    fn open_index(dir: &Path, index: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(index).map_err(|e| Error::io(index, e))?;
        let parsed: IndexFile = serde_json::from_str(&text).map_err(|e| Error::InvalidConfig {
            path: index.into(),
            reason: e.to_string(),
        })?;
        let mut names: Vec<&String> = parsed.weight_map.values().collect();
        names.sort();
        names.dedup();
        let mut files = Vec::with_capacity(names.len());
        for name in names {
            // A shard name is a file name beside the index, never a path out of the directory.
            let path = dir.join(name);
            if name.contains('/') || name.contains('\\') || name == ".." || !path.is_file() {
                return Err(Error::MissingShard {
                    index: index.into(),
                    shard: name.clone(),
                });
            }
            files.push(path);
        }
        let ckpt = Self::open_files(dir, &files)?;
        for (key, shard_name) in &parsed.weight_map {
            let in_named = ckpt
                .tensors
                .get(key)
                .is_some_and(|m| ckpt.shards[m.shard].path == dir.join(shard_name));
            if !in_named {
                return Err(Error::IndexMismatch {
                    index: index.into(),
                    key: key.clone(),
                    shard: shard_name.clone(),
                });
            }
        }
        Ok(ckpt)
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Paths of the mapped shards.
    pub fn shard_paths(&self) -> Vec<&Path> {
        self.shards.iter().map(|s| s.path.as_path()).collect()
    }

    /// Every tensor key, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the checkpoint holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Dtype and shape of one tensor.
    pub fn meta(&self, key: &str) -> Option<&TensorMeta> {
        self.tensors.get(key)
    }

    /// Total number of parameters (elements of every tensor).
    pub fn parameter_count(&self) -> usize {
        self.tensors
            .values()
            .map(|m| m.shape.iter().product::<usize>())
            .sum()
    }

    /// The stored little-endian bytes of one tensor, borrowed from the mapping.
    pub fn raw_bytes(&self, key: &str) -> Result<&[u8]> {
        let meta = self.tensors.get(key).ok_or_else(|| Error::MissingWeight {
            key: key.to_string(),
        })?;
        Ok(&self.shards[meta.shard].map[meta.range.0..meta.range.1])
    }

    /// One tensor converted to `kind` on `device`, its shape checked against `expected`
    /// (`None` accepts any shape).
    #[cfg(feature = "tch")]
    pub fn tensor(
        &self,
        key: &str,
        expected: Option<&[i64]>,
        kind: tch::Kind,
        device: tch::Device,
    ) -> Result<tch::Tensor> {
        let meta = self.tensors.get(key).ok_or_else(|| Error::MissingWeight {
            key: key.to_string(),
        })?;
        let shape: Vec<i64> = meta.shape.iter().map(|&d| d as i64).collect();
        if let Some(expected) = expected {
            if expected != shape.as_slice() {
                return Err(Error::WeightShape {
                    key: key.to_string(),
                    expected: expected.to_vec(),
                    actual: shape,
                });
            }
        }
        let stored = stored_kind(meta.dtype).ok_or_else(|| Error::UnsupportedDtype {
            key: key.to_string(),
            dtype: format!("{:?}", meta.dtype),
        })?;
        let bytes = &self.shards[meta.shard].map[meta.range.0..meta.range.1];
        let tensor = if device == tch::Device::Cpu
            && bytes.as_ptr() as usize % stored.elt_size_in_bytes() == 0
        {
            // Converted straight out of the mapping into the one buffer that is kept: no
            // temporary in the stored dtype, whose freed memory would stay in the process's
            // heap (half a gigabyte for a 0.5B model loaded as float32).
            let strides = contiguous_strides(&shape);
            // SAFETY: `bytes` covers exactly `shape` elements of `stored` (safetensors'
            // `read_metadata` validated every range against its shape and dtype), is aligned for it (checked above), and outlives `view`, which
            // is only read, by the copy below, and dropped before this function returns.
            let view = unsafe {
                tch::Tensor::f_from_blob(bytes.as_ptr(), &shape, &strides, stored, device)?
            };
            let mut out = tch::Tensor::f_empty(&shape, (kind, device))?;
            out.f_copy_(&view)?;
            drop(view);
            out
        } else {
            // One copy out of the mapping in the stored dtype; the conversion and the move to
            // the device then happen in libtorch (on the device when it is not the CPU).
            let tensor = tch::Tensor::f_from_data_size(bytes, &shape, stored)?;
            if device == tch::Device::Cpu {
                tensor.f_to_kind(kind)?
            } else {
                tensor.f_to_device(device)?.f_to_kind(kind)?
            }
        };
        self.release(meta);
        Ok(tensor)
    }
}

impl Checkpoint {
    /// Drops the page cache mapping of one tensor's bytes once they have been copied, so a
    /// loaded model's peak memory is its converted weights, not those plus the whole mapped
    /// file. The mapping stays valid: untouched pages are read from the file again on access.
    #[cfg(feature = "tch")]
    fn release(&self, meta: &TensorMeta) {
        #[cfg(unix)]
        {
            let map = &self.shards[meta.shard].map;
            // SAFETY: the mapping is read-only and file-backed, and no reference into this range
            // outlives the copy that precedes this call; MADV_DONTNEED on such pages only drops
            // them from this process, and later reads fault them in from the file unchanged.
            let _ = unsafe {
                map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    meta.range.0,
                    meta.range.1 - meta.range.0,
                )
            };
        }
    }
}

/// Row-major strides of a contiguous tensor of `shape`, in elements.
#[cfg(feature = "tch")]
fn contiguous_strides(shape: &[i64]) -> Vec<i64> {
    let mut strides = vec![1i64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

#[cfg(feature = "tch")]
fn stored_kind(dtype: Dtype) -> Option<tch::Kind> {
    use tch::Kind;
    Some(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F64 => Kind::Double,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::I16 => Kind::Int16,
        Dtype::I8 => Kind::Int8,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        _ => return None,
    })
}

type ShardTensors = HashMap<String, (Dtype, Vec<usize>, (usize, usize))>;

/// Maps one shard and validates its header; returns each tensor's absolute byte range.
fn map_shard(path: &Path) -> Result<(Mmap, ShardTensors)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: the mapping is read-only; a file truncated underneath a running process is the
    // same hazard every mmap-based loader (safetensors, candle, PyTorch) accepts.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    let (header_len, metadata) =
        SafeTensors::read_metadata(&map).map_err(|e| Error::InvalidSafetensors {
            path: path.into(),
            reason: describe(&e, map.len()),
        })?;
    let base = 8 + header_len;
    let tensors = metadata
        .tensors()
        .into_iter()
        .map(|(name, info)| {
            let (start, end) = info.data_offsets;
            (
                name,
                (info.dtype, info.shape.clone(), (base + start, base + end)),
            )
        })
        .collect();
    Ok((map, tensors))
}

fn describe(e: &safetensors::SafeTensorError, file_len: usize) -> String {
    use safetensors::SafeTensorError as E;
    match e {
        E::HeaderTooSmall => format!("file of {file_len} bytes is too short for a header"),
        E::InvalidHeaderLength => {
            format!("header length field points past the end of the {file_len}-byte file")
        }
        E::MetadataIncompleteBuffer => {
            format!(
                "tensor data does not fill the {file_len}-byte file exactly (truncated or padded)"
            )
        }
        other => other.to_string(),
    }
}

mod layout;
pub use layout::{MisShaped, WeightReport};
