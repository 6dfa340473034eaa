//! Hostile NIfTI input: random bytes, random headers and mutated fixture files must give
//! `Ok` or a typed error, never a panic, and never one allocation beyond the budget.

use hulu_testkit::LargestAllocation;
use std::io::Write;

use hulu_io::nifti::{NiftiVolume, SliceAxis, SliceOptions, Window};
use hulu_io::Limits;
use hulu_testkit::io_files;
use proptest::prelude::*;

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Budget for one load; the largest fixture (example4d) decodes to 2.4 MB of f32.
const BUDGET: usize = 4 << 20;

fn limits() -> Limits {
    Limits {
        max_bytes: BUDGET,
        max_frames: 512,
        max_dim: 4096,
    }
}

/// Loads `bytes` and, when that works, renders frames along every axis: must not panic.
fn exercise(bytes: &[u8]) {
    let limits = limits();
    LargestAllocation::reset_here();
    if let Ok(vol) = NiftiVolume::from_bytes(bytes, &limits) {
        for axis in [SliceAxis::Axial, SliceAxis::Index(0), SliceAxis::Sagittal] {
            let _ = vol.slices_with_limits(
                &SliceOptions {
                    axis,
                    count: Some(5),
                    volume: vol.volumes() - 1,
                    window: Some(Window::BRAIN),
                },
                &limits,
            );
        }
    }
    let largest = LargestAllocation::largest_here();
    assert!(
        largest <= BUDGET,
        "an allocation of {largest} bytes exceeds the budget"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// The fixture files, decompressed (mutations then reach the header, not the deflate stream).
fn fixtures() -> Vec<Vec<u8>> {
    io_files("nifti", "")
        .into_iter()
        .filter(|p| {
            let s = p.to_string_lossy();
            s.ends_with(".nii") || s.ends_with(".nii.gz")
        })
        .map(|p| {
            let raw = std::fs::read(&p).unwrap();
            if raw.starts_with(&[0x1f, 0x8b]) {
                let mut out = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::MultiGzDecoder::new(&raw[..]),
                    &mut out,
                )
                .unwrap();
                out
            } else {
                raw
            }
        })
        .collect()
}

/// A NIfTI-1 header with the given fields and valid magic, so parsing gets past the magic.
fn header(dims: [i16; 8], datatype: i16, bitpix: i16, vox_offset: f32, slope: f32) -> Vec<u8> {
    let mut h = vec![0u8; 352];
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    for (i, d) in dims.iter().enumerate() {
        h[40 + 2 * i..42 + 2 * i].copy_from_slice(&d.to_le_bytes());
    }
    h[70..72].copy_from_slice(&datatype.to_le_bytes());
    h[72..74].copy_from_slice(&bitpix.to_le_bytes());
    h[108..112].copy_from_slice(&vox_offset.to_le_bytes());
    h[112..116].copy_from_slice(&slope.to_le_bytes());
    h[344..348].copy_from_slice(b"n+1\0");
    h
}

proptest! {
    #![proptest_config(ProptestConfig { cases: hulu_testkit::fuzz_cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048), gz in any::<bool>()) {
        let bytes = if gz { gzip(&bytes) } else { bytes };
        exercise(&bytes);
    }

    #[test]
    fn random_headers(
        dims in proptest::array::uniform8(prop_oneof![Just(1i16), 0i16..40, any::<i16>()]),
        datatype in prop_oneof![Just(2i16), Just(4), Just(16), Just(64), Just(128), any::<i16>()],
        bitpix in prop_oneof![Just(8i16), Just(16), Just(32), Just(64), any::<i16>()],
        vox_offset in prop_oneof![Just(352f32), 0f32..2000.0, any::<f32>()],
        slope in prop_oneof![Just(0f32), Just(f32::NAN), Just(1.5), any::<f32>()],
        payload in proptest::collection::vec(any::<u8>(), 0..4096),
        gz in any::<bool>(),
    ) {
        let mut bytes = header(dims, datatype, bitpix, vox_offset, slope);
        bytes.extend_from_slice(&payload);
        let bytes = if gz { gzip(&bytes) } else { bytes };
        exercise(&bytes);
    }
}

#[test]
fn mutated_fixture_files() {
    let files = fixtures();
    assert!(!files.is_empty());
    let cases = hulu_testkit::fuzz_cases(400);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (
        0..files.len(),
        // Mostly in the header (first 540 bytes), sometimes anywhere.
        proptest::collection::vec(
            (prop_oneof![0usize..540, any::<usize>()], any::<u8>()),
            1..8,
        ),
        proptest::option::of(any::<usize>()),
        any::<bool>(),
    );
    runner
        .run(&strategy, |(which, edits, cut, gz)| {
            let mut bytes = files[which].clone();
            for (at, value) in edits {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            let bytes = if gz { gzip(&bytes) } else { bytes };
            exercise(&bytes);
            Ok(())
        })
        .unwrap();
    println!(
        "{cases} mutated NIfTI files: no panic, largest allocation {} bytes",
        LargestAllocation::largest()
    );
}

#[test]
fn lying_dimensions_are_refused_before_allocation() {
    // 30000^3 int16 voxels declared, 10 bytes present: refused by the budget, not by OOM.
    let mut bytes = header([3, 30000, 30000, 30000, 1, 1, 1, 1], 4, 16, 352.0, 1.0);
    bytes.extend_from_slice(&[0; 10]);
    let err = NiftiVolume::from_bytes(&bytes, &limits()).unwrap_err();
    assert!(matches!(err, hulu_io::Error::TooLarge { .. }), "{err}");
    // Within budget but truncated: a typed error naming the truncation.
    let mut bytes = header([3, 10, 10, 10, 1, 1, 1, 1], 4, 16, 352.0, 1.0);
    bytes.extend_from_slice(&[0; 100]);
    let err = NiftiVolume::from_bytes(&bytes, &limits()).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    // A two-file header and complex voxels are refused as unsupported.
    let mut pair = header([3, 2, 2, 2, 1, 1, 1, 1], 4, 16, 0.0, 1.0);
    pair[344..348].copy_from_slice(b"ni1\0");
    assert!(matches!(
        NiftiVolume::from_bytes(&pair, &limits()),
        Err(hulu_io::Error::UnsupportedMedia { .. })
    ));
    let complex = header([3, 2, 2, 2, 1, 1, 1, 1], 32, 64, 352.0, 1.0);
    assert!(matches!(
        NiftiVolume::from_bytes(&complex, &limits()),
        Err(hulu_io::Error::UnsupportedMedia { .. })
    ));
}
