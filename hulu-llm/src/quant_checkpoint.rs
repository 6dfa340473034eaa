//! Writing a quantized checkpoint once, so that a large model is quantized once and then loaded
//! at its quantized size.
//!
//! # Layout
//!
//! A directory holding every non-weight file of the source (`config.json`, tokenizer, ...), the
//! weights as safetensors (`model.safetensors`, or `model-NNNNN.safetensors` shards of about
//! [`SHARD_BYTES`] with a `model.safetensors.index.json`), and [`QUANTIZATION_FILE`] describing
//! the scheme. Each quantized linear layer `<p>` (a decoder projection
//! `model.layers.*.*_proj.weight`, experts included) stores, in place of `<p>.weight` `[out,
//! in]`:
//!
//! - int8: `<p>.weight_int8` (I8 `[out, in]`) and `<p>.weight_scale` (F32 `[out]`), with
//!   `w = weight_int8 · weight_scale[row]`;
//! - int4: `<p>.weight_int4` (U8 `[out, in/2]`, column `2j` in the low nibble of byte `j`, column
//!   `2j+1` in the high one), `<p>.weight_scale` and `<p>.weight_zero` (F32 `[out, in/group]`),
//!   with `w = (q - 8) · scale + zero` per group of `group` consecutive input columns (the
//!   asymmetric layout of libtorch's int4 "tinygemm" kernels).
//!
//! Every other tensor (embeddings, norms, the MoE router, `lm_head`, a vision side) is copied
//! in its stored dtype. The codes are device-neutral: each loader packs them for its own
//! kernel (see [`crate::quant`]). The source is read one tensor at a time, so converting needs
//! memory for one output shard, not for the dense model.

use crate::quant::{int4_group_for, quantize_int4, quantize_int8};
use crate::{Error, Quantization, Result};
use hulu_io::Checkpoint;
use safetensors::Dtype;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// Name of the file describing a quantized checkpoint's scheme.
pub const QUANTIZATION_FILE: &str = "quantization.json";

/// Bytes after which the converter starts a new output shard.
pub const SHARD_BYTES: usize = 2 << 30;

/// What [`quantize_checkpoint`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantizedCheckpoint {
    /// Weight files written, in order.
    pub shards: Vec<PathBuf>,
    /// Linear layers quantized (keys of their dense `weight`).
    pub quantized: Vec<String>,
    /// Projections left dense by int4 (input width not a multiple of a kernel group, or
    /// output width not a multiple of 16).
    pub left_dense: Vec<String>,
    /// Bytes of tensor data written.
    pub bytes: usize,
}

/// Whether checkpoint tensor `key` of `shape` is a decoder projection the scheme quantizes.
pub fn is_quantized_key(key: &str, shape: &[usize]) -> bool {
    key.starts_with("model.layers.") && key.ends_with("_proj.weight") && shape.len() == 2
}

fn kind_of(key: &str, dtype: Dtype) -> Result<Kind> {
    Ok(match dtype {
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
        other => {
            return Err(hulu_io::Error::UnsupportedDtype {
                key: key.to_string(),
                dtype: format!("{other:?}"),
            }
            .into())
        }
    })
}

/// Converts the safetensors checkpoint in `src` into a `q`-quantized one in `dst` (created;
/// see the module doc for the layout).
///
/// # Errors
/// [`Error::Io`] for an unreadable source or an unwritable destination (named),
/// [`Error::InvalidRequest`] for an invalid group size or a `dst` that already holds weights,
/// [`Error::Torch`] when a conversion fails.
pub fn quantize_checkpoint(src: &Path, dst: &Path, q: Quantization) -> Result<QuantizedCheckpoint> {
    q.validate()?;
    let _span = tracing::info_span!("quantize_checkpoint", src = %src.display(), dst = %dst.display(), scheme = %q).entered();
    let ckpt = Checkpoint::open(src)?;
    std::fs::create_dir_all(dst).map_err(|e| io(dst, e))?;
    for name in [
        hulu_io::checkpoint::SINGLE_FILE,
        hulu_io::checkpoint::INDEX_FILE,
    ] {
        if dst.join(name).exists() {
            return Err(Error::request(format!(
                "{} already holds weights ({name})",
                dst.display()
            )));
        }
    }
    copy_side_files(src, dst)?;
    let mut report = QuantizedCheckpoint {
        shards: Vec::new(),
        quantized: Vec::new(),
        left_dense: Vec::new(),
        bytes: 0,
    };
    let mut pending: Vec<(String, Tensor)> = Vec::new();
    let mut pending_bytes = 0usize;
    let mut weight_map: BTreeMap<String, String> = BTreeMap::new();
    let keys: Vec<String> = ckpt.keys().map(str::to_string).collect();
    for key in keys {
        let meta = ckpt.meta(&key).expect("listed key").clone();
        let kind = kind_of(&key, meta.dtype)?;
        let quantize = is_quantized_key(&key, &meta.shape)
            && matches!(
                kind,
                Kind::Float | Kind::Half | Kind::BFloat16 | Kind::Double
            );
        let stem = key.strip_suffix(".weight").unwrap_or(&key).to_string();
        let mut out: Vec<(String, Tensor)> = Vec::new();
        match (quantize, q) {
            (true, Quantization::Int8) => {
                let w = ckpt.tensor(&key, None, Kind::Float, Device::Cpu)?;
                let (codes, scale) = quantize_int8(&w)?;
                out.push((format!("{stem}.weight_int8"), codes));
                out.push((format!("{stem}.weight_scale"), scale));
                report.quantized.push(key.clone());
            }
            (true, Quantization::Int4 { group_size }) => {
                match int4_group_for(meta.shape[0], meta.shape[1], group_size) {
                    Some(group) => {
                        let w = ckpt.tensor(&key, None, Kind::Float, Device::Cpu)?;
                        let (codes, scale, zero) = quantize_int4(&w, group)?;
                        out.push((format!("{stem}.weight_int4"), nibbles(&codes)?));
                        out.push((format!("{stem}.weight_scale"), scale));
                        out.push((format!("{stem}.weight_zero"), zero));
                        report.quantized.push(key.clone());
                    }
                    None => {
                        report.left_dense.push(key.clone());
                        out.push((key.clone(), ckpt.tensor(&key, None, kind, Device::Cpu)?));
                    }
                }
            }
            _ => out.push((key.clone(), ckpt.tensor(&key, None, kind, Device::Cpu)?)),
        }
        for (name, t) in out {
            pending_bytes += t.numel() * t.kind().elt_size_in_bytes();
            pending.push((name, t));
        }
        if pending_bytes >= SHARD_BYTES {
            flush(dst, &mut pending, &mut weight_map, &mut report)?;
            pending_bytes = 0;
        }
    }
    if !pending.is_empty() || report.shards.is_empty() {
        flush(dst, &mut pending, &mut weight_map, &mut report)?;
    }
    if report.shards.len() == 1 {
        let single = dst.join(hulu_io::checkpoint::SINGLE_FILE);
        std::fs::rename(&report.shards[0], &single).map_err(|e| io(&single, e))?;
        report.shards[0] = single;
    } else {
        let index = serde_json::json!({
            "metadata": {"total_size": report.bytes},
            "weight_map": weight_map,
        });
        let path = dst.join(hulu_io::checkpoint::INDEX_FILE);
        write_json(&path, &index)?;
    }
    let (scheme, group) = match q {
        Quantization::Int8 => ("int8", serde_json::Value::Null),
        Quantization::Int4 { group_size } => ("int4", group_size.into()),
    };
    let description = serde_json::json!({
        "format": "hulu-weight-only",
        "version": 1,
        "scheme": scheme,
        "bits": q.bits(),
        "group_size": group,
        "quantized": "decoder projections: model.layers.*.*_proj.weight (experts included)",
        "tensors": match q {
            Quantization::Int8 => serde_json::json!({
                "weight_int8": "I8 [out, in]",
                "weight_scale": "F32 [out]; w = weight_int8 * weight_scale[row]",
            }),
            Quantization::Int4 { .. } => serde_json::json!({
                "weight_int4": "U8 [out, in/2]; column 2j in the low nibble, 2j+1 in the high",
                "weight_scale": "F32 [out, in/group]",
                "weight_zero": "F32 [out, in/group]; w = (q - 8) * scale + zero",
            }),
        },
        "left_dense": report.left_dense,
    });
    write_json(&dst.join(QUANTIZATION_FILE), &description)?;
    Ok(report)
}

/// int32 codes `[out, in]` (0..=15) as bytes `[out, in/2]`, even column in the low nibble.
fn nibbles(codes: &Tensor) -> Result<Tensor> {
    let cols = codes.size()[1];
    let even = codes.f_slice(1, 0, cols, 2)?;
    let odd = codes
        .f_slice(1, 1, cols, 2)?
        .f_bitwise_left_shift_tensor_scalar(4)?;
    Ok(even.f_bitwise_or_tensor(&odd)?.f_to_kind(Kind::Uint8)?)
}

fn flush(
    dst: &Path,
    pending: &mut Vec<(String, Tensor)>,
    weight_map: &mut BTreeMap<String, String>,
    report: &mut QuantizedCheckpoint,
) -> Result<()> {
    let name = format!("model-{:05}.safetensors", report.shards.len() + 1);
    let path = dst.join(&name);
    let tensors: Vec<(String, Tensor)> = std::mem::take(pending)
        .into_iter()
        .map(|(k, t)| Ok((k, t.f_contiguous()?)))
        .collect::<Result<_>>()?;
    for (k, t) in &tensors {
        weight_map.insert(k.clone(), name.clone());
        report.bytes += t.numel() * t.kind().elt_size_in_bytes();
    }
    Tensor::write_safetensors(&tensors, &path)?;
    report.shards.push(path);
    Ok(())
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    std::fs::write(path, text).map_err(|e| io(path, e))
}

/// Copies the source's regular files other than its weights (config, tokenizer, ...).
fn copy_side_files(src: &Path, dst: &Path) -> Result<()> {
    let read = |path: &Path, e: std::io::Error| {
        Error::Io(hulu_io::Error::Io {
            path: path.to_path_buf(),
            source: e,
        })
    };
    for entry in std::fs::read_dir(src).map_err(|e| read(src, e))? {
        let entry = entry.map_err(|e| read(src, e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().map_err(|e| read(&path, e))?.is_file();
        if !is_file || name.ends_with(".safetensors") || name == hulu_io::checkpoint::INDEX_FILE {
            continue;
        }
        std::fs::copy(&path, dst.join(&name)).map_err(|e| io(&path, e))?;
    }
    Ok(())
}
