//! Mask and merge for a 180-slice 512×512 volume on CPU.
//!
//! 512 px slices are sized to 504 px (36 × 36 patches of 14 px, a multiple of 28 for m = 2), so
//! the call holds 180 · 1296 = 233 280 patches: pixel values `[233280, 588]` and encoder features
//! `[233280, 1152]` (SigLIP-so400m width), merged 2 × 2 into 58 320 tokens.

use criterion::Criterion;
use hulu_compress::{apply_mask, merge_tokens, MedicalCompressor, TokenCompressor};
use hulu_io::{MergedGrid, PatchGrid};
use std::time::Duration;
use tch::{Device, Kind, Tensor};

const SLICES: usize = 180;
const SIDE: usize = 36;
const MERGE: usize = 2;
const CHANNELS: i64 = 1152;

fn volume(c: &mut Criterion) {
    tch::manual_seed(0);
    let grids = [PatchGrid {
        frames: SLICES,
        rows: SIDE,
        cols: SIDE,
    }];
    let patches = grids[0].patches() as i64;
    let merges = [MERGE];
    // Slices sharing an anatomy-like base with per-patch noise of random amplitude, so that
    // consecutive slices differ by a mean of 0 to ~0.13 per patch and the mask drops a share of
    // tokens as on real volumes.
    let per_slice = patches / SLICES as i64;
    let base = Tensor::rand([1, per_slice, 588], (Kind::Float, Device::Cpu)) * 1.2 - 0.6;
    let amplitude = Tensor::rand([1, per_slice, 1], (Kind::Float, Device::Cpu)) * 0.4;
    let noise = Tensor::rand([SLICES as i64, per_slice, 588], (Kind::Float, Device::Cpu));
    let pixels = (base + noise * amplitude).view([patches, 588]);
    let features = Tensor::randn([patches, CHANNELS], (Kind::Float, Device::Cpu));
    let compressor = MedicalCompressor::default();

    let mut group = c.benchmark_group("volume_180x512x512_m2");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    group.bench_function("mask_f32", |b| {
        b.iter(|| {
            compressor
                .keep_mask(&pixels, &MergedGrid::zip(&grids, &merges).unwrap())
                .unwrap()
        })
    });
    let pixels_bf16 = pixels.to_kind(Kind::BFloat16);
    group.bench_function("mask_bf16", |b| {
        b.iter(|| {
            compressor
                .keep_mask(&pixels_bf16, &MergedGrid::zip(&grids, &merges).unwrap())
                .unwrap()
        })
    });
    let merged_grids = MergedGrid::zip(&grids, &merges).unwrap();
    group.bench_function("merge_c1152", |b| {
        b.iter(|| merge_tokens(&features, &merged_grids).unwrap())
    });
    let merged = merge_tokens(&features, &merged_grids).unwrap();
    let mask = compressor
        .keep_mask(&pixels, &MergedGrid::zip(&grids, &merges).unwrap())
        .unwrap();
    let ids = vec![7i64; mask.len()];
    eprintln!(
        "volume: kept {} of {} merged tokens (reduction {:.1}%)",
        mask.kept(),
        mask.len(),
        100.0 * mask.reduction()
    );
    group.bench_function("apply_c1152", |b| {
        b.iter(|| apply_mask(&merged, &ids, 7, &mask).unwrap())
    });
    group.bench_function("mask_and_merge", |b| {
        b.iter(|| {
            let mask = compressor
                .keep_mask(&pixels, &MergedGrid::zip(&grids, &merges).unwrap())
                .unwrap();
            let merged = merge_tokens(&features, &merged_grids).unwrap();
            apply_mask(&merged, &ids, 7, &mask).unwrap()
        })
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    volume(&mut criterion);
    criterion.final_summary();
}
