//! A CT-sized NIfTI (512×512×180 int16, written to a temporary file) to the model's u8 frames.

use criterion::{criterion_main, Criterion};
use hulu_io::nifti::{NiftiFile, NiftiVolume, SliceOptions, Window};
use hulu_io::Limits;

const NI: usize = 512;
const NJ: usize = 512;
const NK: usize = 180;

/// A NIfTI-1 single file: 348-byte header, 4 bytes of extension flags, int16 voxels.
fn synthetic_ct() -> Vec<u8> {
    let mut h = vec![0u8; 352];
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    for (i, d) in [3i16, NI as i16, NJ as i16, NK as i16, 1, 1, 1, 1]
        .iter()
        .enumerate()
    {
        h[40 + 2 * i..42 + 2 * i].copy_from_slice(&d.to_le_bytes());
    }
    h[70..72].copy_from_slice(&4i16.to_le_bytes()); // int16
    h[72..74].copy_from_slice(&16i16.to_le_bytes());
    for (i, p) in [1f32, 0.7, 0.7, 1.25].iter().enumerate() {
        h[76 + 4 * i..80 + 4 * i].copy_from_slice(&p.to_le_bytes());
    }
    h[108..112].copy_from_slice(&352f32.to_le_bytes());
    h[112..116].copy_from_slice(&1f32.to_le_bytes()); // slope
    h[116..120].copy_from_slice(&(-1024f32).to_le_bytes()); // intercept: stored + (-1024) = HU
    h[344..348].copy_from_slice(b"n+1\0");
    let mut out = h;
    out.reserve(NI * NJ * NK * 2);
    for k in 0..NK {
        for j in 0..NJ {
            for i in 0..NI {
                let (x, y) = (i as i32 - 256, j as i32 - 256);
                let body = if x * x + y * y < 200 * 200 { 1064 } else { 0 };
                let v = (body + ((i * 7 + j * 3 + k * 11) % 97) as i32) as i16;
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let path = std::env::temp_dir().join(format!("hulu-bench-ct-{}.nii", std::process::id()));
    std::fs::write(&path, synthetic_ct()).unwrap();
    let mut group = c.benchmark_group("nifti_512x512x180_int16");
    group.sample_size(10);
    group.bench_function("open", |b| b.iter(|| NiftiVolume::open(&path).unwrap()));
    let vol = NiftiVolume::open(&path).unwrap();
    group.bench_function("all_180_slices_to_u8_rgb", |b| {
        b.iter(|| vol.slices(&SliceOptions::default()).unwrap())
    });
    group.bench_function("all_180_slices_lung_window", |b| {
        b.iter(|| {
            vol.slices(&SliceOptions {
                window: Some(Window::LUNG),
                ..SliceOptions::default()
            })
            .unwrap()
        })
    });
    group.bench_function("open_and_all_slices", |b| {
        b.iter(|| {
            NiftiVolume::open(&path)
                .unwrap()
                .slices(&SliceOptions::default())
                .unwrap()
        })
    });
    // What the model asks for: 8 slices. A full read, then the planes alone.
    let eight = SliceOptions {
        count: Some(8),
        ..SliceOptions::default()
    };
    group.bench_function("open_and_8_slices", |b| {
        b.iter(|| NiftiVolume::open(&path).unwrap().slices(&eight).unwrap())
    });
    group.bench_function("header_and_8_planes", |b| {
        b.iter(|| {
            NiftiFile::open(&path)
                .unwrap()
                .read_slices(&eight, &Limits::default())
                .unwrap()
        })
    });
    group.finish();
    std::fs::remove_file(&path).ok();
}

/// The generated `benches` function has no doc comment of its own.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
