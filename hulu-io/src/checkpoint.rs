//! Safetensors checkpoints: one `model.safetensors` or shards listed in
//! `model.safetensors.index.json`.
//!
//! Opening a checkpoint opens every shard (regular files only, see [`crate::file`]), reads its
//! header and validates it (length field, JSON, offsets that tile the data exactly, each
//! problem named by its tensor) without reading tensor data. Tensors are then read one at a
//! time into the dtype and device the caller asks for ([`Checkpoint::tensor`]), so a model is
//! never built from random weights that are then overwritten.
//!
//! **Read, not memory-mapped.** Shards used to be mapped and copied out of the mapping. A
//! shard truncated while mapped (a concurrent download or copy is enough) turns the copy's
//! next access to a lost page into SIGBUS, which kills the process with no message, and no
//! length check before the copy can close that window. Tensors are therefore read with
//! `pread`: straight into the tensor that is kept when no conversion is needed, else in
//! [`READ_CHUNK_BYTES`] chunks converted into the kept tensor. Before each tensor the shard's
//! length is compared (`fstat`) with the length validated at open, and a read that comes back
//! short is caught too; both are [`Error::ShardChanged`], naming the shard and the tensor.
//!
//! Measured with `examples/load_checkpoint.rs` (a bf16 checkpoint with Qwen2.5-0.5B's decoder
//! shapes, 0.99 GB, 217 tensors, page cache warm, dev profile, the project's 2-core VM,
//! 2026-12-01): kept as bf16, the old mapped copy took 1.6-2.2 s at a peak RSS of 1.09-1.23 GB,
//! `pread` takes 0.9 s at 1.08 GB; converted to f32, the mapped copy took 2.5-2.6 s at
//! 2.06 GB, `pread` with 64 MiB chunks takes 3.2 s at 2.05 GB.
//!
//! The headers are parsed here rather than by `safetensors::SafeTensors::read_metadata`,
//! which needs the whole file in memory and whose errors ("invalid shape, data type, or
//! offset for tensor") do not name the tensor.

use crate::file::{open_regular, read_exact_at, read_text, TEXT_BUDGET};
use crate::{Error, Result};
use safetensors::tensor::TensorInfo;
use safetensors::Dtype;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

/// File name of a single-file checkpoint.
pub const SINGLE_FILE: &str = "model.safetensors";
/// File name of a sharded checkpoint's index.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// Largest header a shard may declare: the 100 MB the `safetensors` format itself allows.
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// Size of the staging buffer through which a tensor is converted to another dtype: large,
/// because each chunk's conversion costs a libtorch call (measured on the module doc's
/// checkpoint as f32: 512 KiB chunks 7-9 s, 4 MiB 4.4-8 s, 64 MiB 3.2 s).
pub const READ_CHUNK_BYTES: usize = 64 << 20;

/// Where one tensor lives and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorMeta {
    /// Stored element type.
    pub dtype: Dtype,
    /// Stored shape.
    pub shape: Vec<usize>,
    shard: usize,
    /// Byte range inside the shard file (header included in the offset).
    range: (u64, u64),
}

struct Shard {
    path: PathBuf,
    file: File,
    /// The length validated at open; a different length later means the file changed.
    len: u64,
}

/// A checkpoint whose shards are open and whose headers are validated.
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

/// Whether anything (a file, a FIFO, a dangling link) sits at `path`.
fn present(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

impl Checkpoint {
    /// Opens the checkpoint in `dir`: `model.safetensors.index.json` when present, else
    /// `model.safetensors`.
    ///
    /// # Errors
    ///
    /// [`Error::NoWeights`] when neither file is there; those of [`Checkpoint::open_files`]
    /// for the shards; [`Error::InvalidConfig`], [`Error::RefusedShard`],
    /// [`Error::MissingShard`] and [`Error::IndexMismatch`] for a broken index.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let _span = tracing::info_span!("checkpoint_open", dir = %dir.display()).entered();
        let index = dir.join(INDEX_FILE);
        // Whatever sits at these names is opened, so a FIFO or a device there is refused by
        // name instead of being passed over.
        if present(&index) {
            Self::open_index(dir, &index)
        } else if present(&dir.join(SINGLE_FILE)) {
            Self::open_files(dir, &[dir.join(SINGLE_FILE)])
        } else {
            Err(Error::NoWeights { dir: dir.into() })
        }
    }

    /// Opens the given safetensors files as one checkpoint (keys must not repeat).
    ///
    /// # Errors
    ///
    /// [`Error::NotRegularFile`] or [`Error::Io`] for a shard that cannot be opened;
    /// [`Error::InvalidSafetensors`] for a malformed header or a key found in two shards.
    pub fn open_files(dir: &Path, files: &[PathBuf]) -> Result<Self> {
        let mut shards = Vec::with_capacity(files.len());
        let mut tensors = BTreeMap::new();
        for path in files {
            let shard = shards.len();
            let (opened, metas) = open_shard(path)?;
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
            shards.push(opened);
        }
        Ok(Checkpoint {
            dir: dir.into(),
            shards,
            tensors,
        })
    }

    fn open_index(dir: &Path, index: &Path) -> Result<Self> {
        let text = read_text(index, TEXT_BUDGET)?;
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
            if name.is_empty() || name.contains(['/', '\\']) || name == ".." || name == "." {
                return Err(Error::RefusedShard {
                    index: index.into(),
                    shard: name.clone(),
                    reason: "a shard must be a file name beside the index, not a path".into(),
                });
            }
            let path = dir.join(name);
            if !present(&path) {
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

    /// Paths of the shards.
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

    fn meta_of(&self, key: &str) -> Result<&TensorMeta> {
        self.tensors.get(key).ok_or_else(|| Error::MissingWeight {
            key: key.to_string(),
        })
    }

    /// The stored little-endian bytes of one tensor, read from its shard.
    ///
    /// # Errors
    ///
    /// [`Error::MissingWeight`] for an unknown key; [`Error::ShardChanged`] when the shard
    /// changed since it was opened; [`Error::Io`] when reading fails.
    pub fn raw_bytes(&self, key: &str) -> Result<Vec<u8>> {
        let meta = self.meta_of(key)?;
        let mut bytes = vec![0u8; (meta.range.1 - meta.range.0) as usize];
        self.read_tensor_bytes(key, meta, 0, &mut bytes)?;
        Ok(bytes)
    }

    /// Fills `buf` with the tensor's stored bytes from `skip` bytes into it, after checking
    /// that the shard still has the length validated at open.
    fn read_tensor_bytes(
        &self,
        key: &str,
        meta: &TensorMeta,
        skip: u64,
        buf: &mut [u8],
    ) -> Result<()> {
        let shard = &self.shards[meta.shard];
        let changed = |reason: String| Error::ShardChanged {
            path: shard.path.clone(),
            key: key.to_string(),
            reason,
        };
        let now = shard
            .file
            .metadata()
            .map_err(|e| Error::io(&shard.path, e))?
            .len();
        if now != shard.len {
            return Err(changed(format!(
                "it had {} bytes when opened and has {now} now",
                shard.len
            )));
        }
        match read_exact_at(&shard.file, &shard.path, meta.range.0 + skip, buf) {
            Err(Error::Truncated {
                offset,
                needed,
                got,
                ..
            }) => Err(changed(format!(
                "it ends early: read {got} of {needed} bytes at byte {offset}"
            ))),
            other => other,
        }
    }

    /// One tensor converted to `kind` on `device`, its shape checked against `expected`
    /// (`None` accepts any shape). Read with `pread` into the buffer that is kept (see the
    /// module doc): a shard that changes meanwhile is an error, never a crash.
    ///
    /// # Errors
    ///
    /// [`Error::MissingWeight`], [`Error::WeightShape`], [`Error::UnsupportedDtype`],
    /// [`Error::ShardChanged`], [`Error::Io`] and [`Error::Torch`].
    #[cfg(feature = "tch")]
    pub fn tensor(
        &self,
        key: &str,
        expected: Option<&[i64]>,
        kind: tch::Kind,
        device: tch::Device,
    ) -> Result<tch::Tensor> {
        let meta = self.meta_of(key)?;
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
        let cpu = tch::Device::Cpu;
        if stored == kind || device != cpu {
            // Read the stored bytes straight into a tensor of the stored dtype; the conversion
            // and the move to the device then happen in libtorch (on the device if not CPU).
            let tensor = tch::Tensor::f_empty(&shape, (stored, cpu))?;
            let len = (meta.range.1 - meta.range.0) as usize;
            if len > 0 {
                // SAFETY: `tensor` is a fresh contiguous CPU tensor of `shape` elements of
                // `stored`, whose byte size is exactly `len` (the header check matched every
                // range to its shape and dtype); nothing else references its storage yet.
                let buf =
                    unsafe { std::slice::from_raw_parts_mut(tensor.data_ptr().cast::<u8>(), len) };
                self.read_tensor_bytes(key, meta, 0, buf)?;
            }
            return Ok(if device == cpu {
                tensor
            } else {
                tensor.f_to_device(device)?.f_to_kind(kind)?
            });
        }
        // Converted chunk by chunk into the one buffer that is kept: no whole temporary in the
        // stored dtype, whose freed memory would stay in the heap.
        let out = tch::Tensor::f_empty(&shape, (kind, cpu))?;
        let flat = out.f_view([-1])?;
        let elt = stored.elt_size_in_bytes();
        let numel: usize = meta.shape.iter().product();
        let chunk = (READ_CHUNK_BYTES / elt).max(1).min(numel.max(1));
        // u64 words, so the staging bytes are aligned for every element type.
        let mut staging = vec![0u64; (chunk * elt).div_ceil(8)];
        let mut done = 0;
        while done < numel {
            let n = (numel - done).min(chunk);
            // SAFETY: `staging` holds at least `chunk * elt >= n * elt` bytes and is only
            // accessed through this slice until the view below is dropped.
            let bytes = unsafe {
                std::slice::from_raw_parts_mut(staging.as_mut_ptr().cast::<u8>(), n * elt)
            };
            self.read_tensor_bytes(key, meta, (done * elt) as u64, bytes)?;
            // SAFETY: `bytes` holds `n` elements of `stored`, aligned (u64 staging), and
            // outlives `view`, which is only read by the copy and dropped right after it.
            let view = unsafe {
                tch::Tensor::f_from_blob(bytes.as_ptr(), &[n as i64], &[1], stored, cpu)?
            };
            flat.f_narrow(0, done as i64, n as i64)?.f_copy_(&view)?;
            drop(view);
            done += n;
        }
        Ok(out)
    }
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

type ShardTensors = HashMap<String, (Dtype, Vec<usize>, (u64, u64))>;

/// Opens one shard and validates its header; returns each tensor's absolute byte range.
fn open_shard(path: &Path) -> Result<(Shard, ShardTensors)> {
    use safetensors::SafeTensorError as E;
    let file = open_regular(path)?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let invalid = |reason: String| Error::InvalidSafetensors {
        path: path.into(),
        reason,
    };
    if len < 8 {
        return Err(invalid(describe(&E::HeaderTooSmall, len as usize)));
    }
    let mut n = [0u8; 8];
    read_exact_at(&file, path, 0, &mut n)?;
    let n = u64::from_le_bytes(n);
    if n > MAX_HEADER_BYTES {
        return Err(invalid(format!(
            "header length field ({n}) exceeds the format's {MAX_HEADER_BYTES} byte limit"
        )));
    }
    if n > len - 8 {
        return Err(invalid(describe(&E::InvalidHeaderLength, len as usize)));
    }
    let mut header = vec![0u8; n as usize];
    read_exact_at(&file, path, 8, &mut header)?;
    let base = 8 + n;
    let (end, infos) = parse_header(&header).map_err(invalid)?;
    if end != len - base {
        return Err(invalid(format!(
            "{}: the tensors end at data byte {end}, the file has {} data bytes",
            describe(&E::MetadataIncompleteBuffer, len as usize),
            len - base
        )));
    }
    let tensors = infos
        .into_iter()
        .map(|(name, info)| {
            let (start, end) = info.data_offsets;
            let range = (base + start as u64, base + end as u64);
            (name, (info.dtype, info.shape, range))
        })
        .collect();
    let shard = Shard {
        path: path.into(),
        file,
        len,
    };
    Ok((shard, tensors))
}

/// Parses a safetensors JSON header and checks that the tensors tile the data exactly, each
/// sized by its shape and dtype (the rules of `safetensors`' own validation, with the tensor
/// named in every error). Returns the end of the data and every tensor.
fn parse_header(header: &[u8]) -> std::result::Result<(u64, Vec<(String, TensorInfo)>), String> {
    let text = std::str::from_utf8(header).map_err(|e| format!("header is not UTF-8: {e}"))?;
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("header is not a JSON object: {e}"))?;
    let mut infos = Vec::with_capacity(map.len());
    for (key, value) in map {
        if key == "__metadata__" {
            if !value.is_object() {
                return Err("__metadata__ is not an object".into());
            }
            continue;
        }
        let info: TensorInfo =
            serde_json::from_value(value).map_err(|e| format!("tensor {key:?}: {e}"))?;
        infos.push((key, info));
    }
    infos.sort_by_key(|(_, info)| info.data_offsets);
    let mut at = 0usize;
    let mut previous: Option<&str> = None;
    for (key, info) in &infos {
        let (start, end) = info.data_offsets;
        if start != at {
            return Err(match previous {
                Some(p) => format!(
                    "tensor {key:?} starts at data byte {start}, but tensor {p:?} ends at {at}"
                ),
                None => format!("tensor {key:?} starts at data byte {start}, not at 0"),
            });
        }
        if end < start {
            return Err(format!(
                "tensor {key:?}: data_offsets [{start}, {end}] end before they start"
            ));
        }
        let bits = info
            .shape
            .iter()
            .try_fold(info.dtype.bitsize(), |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("tensor {key:?}: shape {:?} overflows", info.shape))?;
        if bits % 8 != 0 || end - start != bits / 8 {
            return Err(format!(
                "tensor {key:?}: shape {:?} of {} needs {bits} bits, but data_offsets \
                 [{start}, {end}] hold {} bytes",
                info.shape,
                info.dtype,
                end - start
            ));
        }
        at = end;
        previous = Some(key);
    }
    Ok((at as u64, infos))
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
