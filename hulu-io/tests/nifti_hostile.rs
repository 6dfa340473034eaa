//! Hostile NIfTI input: random bytes, random headers and mutated fixture files must give
//! `Ok` or a typed error, never a panic, and never one allocation beyond the budget.

use hulu_testkit::LargestAllocation;
use std::io::Write;

use hulu_io::nifti::{NiftiFile, NiftiVolume, SliceAxis, SliceOptions, Window};
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
    let bound = proportional_bound(bytes.len());
    assert!(
        largest <= bound,
        "an allocation of {largest} bytes from {} input bytes exceeds {bound}",
        bytes.len()
    );
}

/// The largest single allocation a NIfTI input of `len` bytes may cost: its voxels are at
/// most `len` bytes (plain) or 1032 times that (deflate) or the budget's expansion floor,
/// at most 4 bytes of f32 each, never beyond the budget; plus fixed buffers.
fn proportional_bound(len: usize) -> usize {
    let voxels = (limits().expansion_floor() as usize).max(1032 * len);
    (4 * voxels).min(BUDGET) + (64 << 10)
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

/// A scratch file holding `bytes`, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!("hulu-nifti-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const ALL_AXES: [SliceAxis; 3] = [
    SliceAxis::Index(0),
    SliceAxis::Index(1),
    SliceAxis::Index(2),
];

#[test]
fn a_header_claiming_1gb_without_voxels_is_refused_before_reserving() {
    // /work/shared/hostile/nifti-header-claims-1gb, vendored: 1024 x 1024 x 1000 u8 declared,
    // 1.3 KB present. Every axis, plain and gzip, whole-volume and plane reads.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/hostile/short_1GB_claim.nii"
    );
    let bytes = std::fs::read(path).unwrap();
    let gz = TempFile::new("claim.nii.gz", &gzip(&bytes));
    for file in [std::path::Path::new(path), gz.0.as_path()] {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        for axis in ALL_AXES {
            LargestAllocation::reset_here();
            let e = NiftiFile::open(file)
                .unwrap()
                .read_slices(
                    &SliceOptions {
                        axis,
                        count: Some(8),
                        ..SliceOptions::default()
                    },
                    &Limits::default(),
                )
                .unwrap_err();
            let largest = LargestAllocation::largest_here();
            assert!(
                matches!(
                    e,
                    hulu_io::Error::InvalidNifti { .. } | hulu_io::Error::TooLarge { .. }
                ),
                "{e}"
            );
            assert!(e.to_string().contains(&name), "{e}");
            assert!(largest < 1 << 20, "{name} {axis:?}: {largest} bytes");
        }
        LargestAllocation::reset_here();
        let e = NiftiVolume::open(file).unwrap_err();
        assert!(e.to_string().contains(&name), "{e}");
        assert!(LargestAllocation::largest_here() < 1 << 20);
    }
}

#[test]
fn a_gzip_volume_of_zeros_streams_only_the_chosen_slices() {
    // 256 x 256 x 128 u8 zeros with a ramp in the last plane: 8 MB of voxels, 32 MB as f32,
    // deflated to a few KB (within deflate's 1032:1). Slices along every axis cost the
    // slices and one plane, never the volume.
    let (n0, n1, n2) = (256usize, 256usize, 128usize);
    let mut bytes = header(
        [3, n0 as i16, n1 as i16, n2 as i16, 1, 1, 1, 1],
        2,
        8,
        352.0,
        0.0,
    );
    let mut voxels = vec![0u8; n0 * n1 * n2];
    for (i, v) in voxels[(n2 - 1) * n0 * n1..].iter_mut().enumerate() {
        *v = (i % 251) as u8;
    }
    bytes.extend(&voxels);
    let plain = TempFile::new("zeros.nii", &bytes);
    let gz = TempFile::new("zeros.nii.gz", &gzip(&bytes));
    let limits = Limits {
        max_bytes: 64 << 20,
        ..Limits::default()
    };
    for axis in ALL_AXES {
        let options = SliceOptions {
            axis,
            count: Some(3),
            ..SliceOptions::default()
        };
        let expected = NiftiVolume::open(&plain.0)
            .unwrap()
            .slices_with_limits(&options, &limits)
            .unwrap();
        LargestAllocation::reset_here();
        let got = NiftiFile::open(&gz.0)
            .unwrap()
            .read_slices(&options, &limits)
            .unwrap();
        let largest = LargestAllocation::largest_here();
        assert_eq!(got.frames, expected.frames, "{axis:?}");
        assert!(
            largest <= 1 << 20,
            "{axis:?}: {largest} bytes for a 32 MB volume"
        );
    }
}

#[test]
fn slice_errors_name_the_file() {
    let bytes = {
        let mut b = header([3, 4, 4, 4, 1, 1, 1, 1], 2, 8, 352.0, 0.0);
        b.extend([0u8; 64]);
        b
    };
    let f = TempFile::new("tiny.nii", &bytes);
    let tight = Limits {
        max_frames: 2,
        ..Limits::default()
    };
    for e in [
        NiftiFile::open(&f.0)
            .unwrap()
            .read_slices(&SliceOptions::default(), &tight)
            .unwrap_err(),
        NiftiVolume::open(&f.0)
            .unwrap()
            .slices_with_limits(&SliceOptions::default(), &tight)
            .unwrap_err(),
    ] {
        assert!(matches!(e, hulu_io::Error::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("tiny.nii"), "{e}");
    }
}
