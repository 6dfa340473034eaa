//! Encoding with the real encoder width (1152, 16 heads, MLP 4304) but 2 layers, from seeded
//! random weights, CPU float32.
//!
//! - `encode/volume_8x18x18`: criterion timing of a small volume (8 frames of 18 × 18 patches).
//! - With `--bench` (not in test mode): one timed encode of the 180-slice 512 × 512 volume
//!   (180 frames of 18 × 18 patches, what the processor makes of it) and of a quarter of it,
//!   each reporting the peak resident memory it added (`VmHWM`, reset through
//!   `/proc/self/clear_refs`). The growth must stay flat while the patch count quadruples: no
//!   tensor grows with the square of the total patch count.

use criterion::Criterion;
use hulu_io::{Checkpoint, PatchGrid, VisionEncoderConfig, Weights};
use hulu_vision::{SiglipNavitEncoder, VisionEncoder};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

fn config() -> VisionEncoderConfig {
    VisionEncoderConfig {
        hidden_size: 1152,
        intermediate_size: 4304,
        num_hidden_layers: 2,
        num_attention_heads: 16,
        patch_size: 14,
        num_channels: 3,
        layer_norm_eps: 1e-6,
        hidden_act: "gelu_pytorch_tanh".into(),
    }
}

/// Seeded random weights under the checkpoint's key names, written to a temporary
/// safetensors file so they load through the same path as a real checkpoint.
fn random_checkpoint(cfg: &VisionEncoderConfig) -> (PathBuf, Checkpoint) {
    tch::manual_seed(0);
    let (c, m, p) = (
        cfg.hidden_size as i64,
        cfg.intermediate_size as i64,
        cfg.patch_size as i64,
    );
    let opts = (Kind::Float, Device::Cpu);
    let w =
        |shape: &[i64]| Tensor::randn(shape, opts) * (1.0 / (shape[shape.len() - 1] as f64).sqrt());
    let b = |n: i64| Tensor::randn([n], opts) * 0.02;
    let ln = |n: i64| Tensor::ones([n], opts);
    let root = "model.vision_encoder";
    let mut tensors: Vec<(String, Tensor)> = vec![
        (
            format!("{root}.embeddings.patch_embedding.weight"),
            w(&[c, 3, p, p]) * (1.0 / 24.0f64),
        ),
        (format!("{root}.embeddings.patch_embedding.bias"), b(c)),
        (format!("{root}.post_layernorm.weight"), ln(c)),
        (format!("{root}.post_layernorm.bias"), b(c)),
    ];
    for i in 0..cfg.num_hidden_layers {
        let l = format!("{root}.encoder.layers.{i}");
        for norm in ["layer_norm1", "layer_norm2"] {
            tensors.push((format!("{l}.{norm}.weight"), ln(c)));
            tensors.push((format!("{l}.{norm}.bias"), b(c)));
        }
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            tensors.push((format!("{l}.self_attn.{proj}.weight"), w(&[c, c])));
            tensors.push((format!("{l}.self_attn.{proj}.bias"), b(c)));
        }
        tensors.push((format!("{l}.mlp.fc1.weight"), w(&[m, c])));
        tensors.push((format!("{l}.mlp.fc1.bias"), b(m)));
        tensors.push((format!("{l}.mlp.fc2.weight"), w(&[c, m])));
        tensors.push((format!("{l}.mlp.fc2.bias"), b(c)));
    }
    let dir = std::env::temp_dir().join(format!("hulu-vision-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Tensor::write_safetensors(&tensors, dir.join("model.safetensors")).unwrap();
    let ckpt = Checkpoint::open(&dir).unwrap();
    (dir, ckpt)
}

fn pixels(patches: usize) -> Tensor {
    Tensor::randn([patches as i64, 588], (Kind::Float, Device::Cpu)).clamp(-1.0, 1.0)
}

/// `VmHWM` of this process in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets `VmHWM` to the current resident size (Linux ≥ 4.0); false when not permitted.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn large_volume_report(encoder: &SiglipNavitEncoder) {
    for frames in [45usize, 180] {
        let grid = PatchGrid {
            frames,
            rows: 18,
            cols: 18,
        };
        let input = pixels(grid.patches());
        let reset = reset_peak();
        let before = rss_mib();
        let start = Instant::now();
        let out = encoder.encode(&input, &[grid], &[2]).unwrap();
        let secs = start.elapsed().as_secs_f64();
        let n = grid.patches() as f64;
        println!(
            "encode/volume_{frames}x18x18: {} patches -> {:?} in {secs:.1} s; peak RSS {:.0} MiB, \
             {:.0} MiB above the {before:.0} MiB before the call (VmHWM reset: {reset}); \
             a dense [N, N] f32 mask would be {:.0} MiB",
            grid.patches(),
            out.size(),
            peak_mib(),
            peak_mib() - before,
            n * n * 4.0 / 1048576.0
        );
    }
}

fn main() {
    let cfg = config();
    let (dir, ckpt) = random_checkpoint(&cfg);
    let weights = Weights::new(&ckpt, Kind::Float, Device::Cpu)
        .pp("model")
        .pp("vision_encoder");
    let encoder = SiglipNavitEncoder::load(&cfg, &weights).unwrap();
    drop(ckpt);
    std::fs::remove_dir_all(&dir).ok();

    let mut c = Criterion::default().sample_size(10).configure_from_args();
    let grid = PatchGrid {
        frames: 8,
        rows: 18,
        cols: 18,
    };
    let input = pixels(grid.patches());
    c.bench_function("encode/volume_8x18x18", |b| {
        b.iter(|| black_box(encoder.encode(&input, &[grid], &[2]).unwrap()))
    });
    if std::env::args().any(|a| a == "--bench") {
        large_volume_report(&encoder);
    }
    c.final_summary();
}
