//! Measures loading a checkpoint: wall time and peak RSS (`VmHWM`) of reading every tensor
//! into memory as a model keeps it, with the `pread` loader of [`hulu_io::Checkpoint`] or with
//! the memory-mapped copy it replaced (reproduced here to compare against).
//!
//! ```sh
//! cargo run -p hulu-io --release --example load_checkpoint -- synth /tmp/ckpt   # 0.5B-shaped bf16
//! cargo run -p hulu-io --release --example load_checkpoint -- pread /tmp/ckpt f32
//! cargo run -p hulu-io --release --example load_checkpoint -- mmap /tmp/ckpt f32
//! ```
//! Run each mode in its own process: the peak RSS is per process.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use hulu_io::Checkpoint;
use tch::{Device, Kind, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, dir, rest @ ..] = args.as_slice() else {
        return Err("usage: load_checkpoint synth|pread|mmap DIR [f32|bf16]".into());
    };
    let dir = Path::new(dir);
    let kind = match rest.first().map(String::as_str) {
        Some("bf16") => Kind::BFloat16,
        _ => Kind::Float,
    };
    if mode == "synth" {
        return synth(dir);
    }
    let started = Instant::now();
    let kept: Vec<Tensor> = if mode == "mmap" {
        mmap_load(&dir.join("model.safetensors"), kind)?
    } else {
        let ckpt = Checkpoint::open(dir)?;
        let keys: Vec<String> = ckpt.keys().map(str::to_string).collect();
        keys.iter()
            .map(|k| ckpt.tensor(k, None, kind, Device::Cpu))
            .collect::<Result<_, _>>()?
    };
    let seconds = started.elapsed().as_secs_f64();
    let bytes: i64 = kept
        .iter()
        .map(|t| t.numel() as i64 * t.kind().elt_size_in_bytes() as i64)
        .sum();
    println!(
        "{mode} {kind:?}: {} tensors, {:.2} GB kept, {seconds:.2} s, peak RSS {}",
        kept.len(),
        bytes as f64 / 1e9,
        peak_rss()
    );
    Ok(())
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// The loader before: map the shard, then per tensor a view of the mapping copied into the
/// kept tensor, and the copied pages dropped with `MADV_DONTNEED`.
fn mmap_load(path: &Path, kind: Kind) -> Result<Vec<Tensor>, Box<dyn std::error::Error>> {
    let file = std::fs::File::open(path)?;
    // SAFETY: read-only mapping of a file nobody truncates during the measurement.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    let st = safetensors::SafeTensors::deserialize(&map)?;
    let mut out = Vec::new();
    for (_, view) in st.tensors() {
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let stored = match view.dtype() {
            safetensors::Dtype::BF16 => Kind::BFloat16,
            safetensors::Dtype::F16 => Kind::Half,
            _ => Kind::Float,
        };
        let data = view.data();
        let mut strides = vec![1i64; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * shape[i + 1];
        }
        // SAFETY: `data` covers the tensor and outlives the view, dropped after the copy.
        let v =
            unsafe { Tensor::f_from_blob(data.as_ptr(), &shape, &strides, stored, Device::Cpu)? };
        let mut kept = Tensor::f_empty(&shape, (kind, Device::Cpu))?;
        kept.f_copy_(&v)?;
        drop(v);
        let start = data.as_ptr() as usize - map.as_ptr() as usize;
        // SAFETY: as in the old loader: read-only file-backed pages, no reference kept.
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, data.len())
        };
        out.push(kept);
    }
    Ok(out)
}

/// A random bf16 checkpoint with the decoder shapes of Qwen2.5-0.5B (24 layers, width 896,
/// MLP 4864, 151 936 tokens), as `hulu synth --preset bench-qwen2` writes its decoder.
fn synth(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let (h, mlp, kv, vocab) = (896i64, 4864i64, 128i64, 151_936i64);
    let mut shapes: Vec<(String, Vec<i64>)> =
        vec![("model.embed_tokens.weight".into(), vec![vocab, h])];
    for l in 0..24 {
        let p = format!("model.layers.{l}");
        for (name, shape) in [
            ("self_attn.q_proj.weight", vec![h, h]),
            ("self_attn.k_proj.weight", vec![kv, h]),
            ("self_attn.v_proj.weight", vec![kv, h]),
            ("self_attn.o_proj.weight", vec![h, h]),
            ("mlp.gate_proj.weight", vec![mlp, h]),
            ("mlp.up_proj.weight", vec![mlp, h]),
            ("mlp.down_proj.weight", vec![h, mlp]),
            ("input_layernorm.weight", vec![h]),
            ("post_attention_layernorm.weight", vec![h]),
        ] {
            shapes.push((format!("{p}.{name}"), shape));
        }
    }
    tch::manual_seed(0);
    let tensors: HashMap<String, Tensor> = shapes
        .into_iter()
        .map(|(k, s)| (k, Tensor::randn(&s, (Kind::BFloat16, Device::Cpu))))
        .collect();
    let named: Vec<(&str, &Tensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    Tensor::write_safetensors(&named, dir.join("model.safetensors"))?;
    println!("wrote {}", dir.join("model.safetensors").display());
    Ok(())
}
