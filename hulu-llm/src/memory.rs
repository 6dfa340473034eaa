//! Memory a checkpoint's weights need in each dtype and quantization, from its safetensors
//! headers alone (no tensor is read).

use crate::quant::int4_group_for;
use crate::{is_quantized_key, Quantization};
use hulu_io::Checkpoint;

/// Bytes the tensors of `ckpt` take when loaded in a dtype of `elt_bytes` bytes per value
/// (4 for float32, 2 for bf16/f16), with the decoder projections quantized by `q` when given
/// (their scales held in that dtype, as the kernels want; a projection int4 cannot pack
/// stays dense, as the loader leaves it). Tensors the checkpoint already stores quantized
/// (`weight_int8`, `weight_int4`) count at their stored size.
pub fn weight_bytes(ckpt: &Checkpoint, elt_bytes: usize, q: Option<Quantization>) -> usize {
    ckpt.keys()
        .map(|key| {
            let meta = ckpt.meta(key).expect("listed key");
            let n: usize = meta.shape.iter().product();
            if key.ends_with(".weight_int8") || key.ends_with(".weight_int4") {
                return n;
            }
            match q {
                Some(q) if is_quantized_key(key, &meta.shape) => {
                    let (rows, cols) = (meta.shape[0], meta.shape[1]);
                    match q {
                        Quantization::Int4 { group_size } => {
                            match int4_group_for(rows, cols, group_size) {
                                Some(group) => Quantization::Int4 { group_size: group }
                                    .weight_bytes(rows, cols, elt_bytes),
                                None => n * elt_bytes,
                            }
                        }
                        Quantization::Int8 => q.weight_bytes(rows, cols, elt_bytes),
                    }
                }
                _ => n * elt_bytes,
            }
        })
        .sum()
}
