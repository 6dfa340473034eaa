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
use hulu_io::{MergedGrid, PatchGrid};
use hulu_nn::VarBuilder;
use hulu_vision::{SiglipNavitEncoder, VisionEncoder, VisionEncoderConfig};
use std::hint::black_box;
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
        let out = encoder
            .encode(&input, &[MergedGrid::new(grid, 2).unwrap()])
            .unwrap();
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
    // The workspace's one seeded generator, under the checkpoint's key names.
    let weights = VarBuilder::random(0, Kind::Float, Device::Cpu)
        .pp("model")
        .pp("vision_encoder");
    let encoder = tch::no_grad(|| SiglipNavitEncoder::load(&cfg, &weights)).unwrap();
    let _no_grad = tch::no_grad_guard();

    let mut c = Criterion::default().sample_size(10).configure_from_args();
    let grid = PatchGrid {
        frames: 8,
        rows: 18,
        cols: 18,
    };
    let input = pixels(grid.patches());
    c.bench_function("encode/volume_8x18x18", |b| {
        b.iter(|| {
            black_box(
                encoder
                    .encode(&input, &[MergedGrid::new(grid, 2).unwrap()])
                    .unwrap(),
            )
        })
    });
    if std::env::args().any(|a| a == "--bench") {
        large_volume_report(&encoder);
    }
    c.final_summary();
}
