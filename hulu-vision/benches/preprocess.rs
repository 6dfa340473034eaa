//! Preprocessing alone: a 180-slice 512 × 512 volume (synthetic 8-bit slices) to
//! `pixel_values` with the reference settings (merge 2, shared 16 384-token budget).

#![allow(missing_docs)] // criterion_group! generates an undocumented function.

use criterion::{criterion_group, criterion_main, Criterion};
use hulu_io::{RgbFrame, Visual, VisualKind};
use hulu_vision::PreprocessorConfig;
use hulu_vision::{ImageProcessor, VisualInput};
use std::hint::black_box;

/// A smooth phantom with a little texture, different on every slice.
fn slice(index: usize, side: usize) -> RgbFrame {
    let grey: Vec<u8> = (0..side * side)
        .map(|i| {
            let (y, x) = ((i / side) as f32, (i % side) as f32);
            let r = ((x - 256.0).powi(2) + (y - 256.0).powi(2)).sqrt();
            let v =
                128.0 + 100.0 * (r / 40.0 + index as f32 / 9.0).sin() + ((i * 7919) % 23) as f32;
            v.clamp(0.0, 255.0) as u8
        })
        .collect();
    RgbFrame::from_grey(side, side, &grey).unwrap()
}

fn preprocess(c: &mut Criterion) {
    let volume = Visual::new(
        VisualKind::Volume,
        (0..180).map(|i| slice(i, 512)).collect(),
    );
    let processor = ImageProcessor::new(&PreprocessorConfig::default()).unwrap();
    let inputs = [VisualInput::with_default_merge(&volume)];
    let out = processor.process(&inputs).unwrap();
    println!(
        "volume 180x512x512 -> grid {:?}, pixel_values [{}, {}]",
        out.grids[0],
        out.num_patches(),
        out.patch_dim
    );
    let mut group = c.benchmark_group("preprocess");
    group.sample_size(10);
    group.bench_function("volume_180x512x512", |b| {
        b.iter(|| black_box(processor.process(black_box(&inputs)).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, preprocess);
criterion_main!(benches);
