//! NRRD and MetaImage volumes against SimpleITK and pynrrd: the files in `tests/data/volume`
//! were written by those libraries from one int16 array and read back equal by both;
//! `ct_expected.json` holds that array (x fastest), its spacing and the orientation code
//! SimpleITK derives from its direction cosines. Every encoding (raw, gzip, zlib; attached
//! and detached; little and big endian) must give those values, slice by slice on every
//! axis, and the frames NIfTI's slicing code makes of them. Mutated headers and data give a
//! typed error or a result, never a panic, within a bounded allocation.

use std::path::{Path, PathBuf};

use hulu_io::nifti::{minmax_to_u8, SliceAxis, SliceOptions, Window};
use hulu_io::volume::RawVolume;
use hulu_io::{Error, Limits};
use hulu_testkit::LargestAllocation;
use proptest::prelude::*;

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

const FILES: [&str; 7] = [
    "ct.nrrd",
    "ct_gzip.nrrd",
    "ct_detached.nhdr",
    "ct_detached_gz.nhdr",
    "ct.mha",
    "ct_zlib.mha",
    "ct.mhd",
];

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/volume")
        .join(name)
}

struct Expected {
    dims: [usize; 3],
    spacing: [f64; 3],
    codes: Vec<char>,
    values: Vec<f32>,
}

fn expected() -> Expected {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("ct_expected.json")).unwrap()).unwrap();
    let list = |k: &str| v[k].as_array().unwrap().clone();
    let dims = list("dims");
    let spacing = list("spacing");
    Expected {
        dims: [0, 1, 2].map(|i| dims[i].as_u64().unwrap() as usize),
        spacing: [0, 1, 2].map(|i| spacing[i].as_f64().unwrap()),
        codes: v["axis_codes"].as_str().unwrap().chars().collect(),
        values: list("values_x_fastest")
            .iter()
            .map(|x| x.as_i64().unwrap() as f32)
            .collect(),
    }
}

impl Expected {
    fn at(&self, i: usize, j: usize, k: usize) -> f32 {
        let [n0, n1, _] = self.dims;
        self.values[i + n0 * (j + n1 * k)]
    }

    /// Slice `idx` along array axis `a`, rows along the first remaining axis.
    fn slice(&self, a: usize, idx: usize) -> Vec<f32> {
        let [n0, n1, n2] = self.dims;
        match a {
            0 => (0..n1)
                .flat_map(|j| (0..n2).map(move |k| (j, k)))
                .map(|(j, k)| self.at(idx, j, k))
                .collect(),
            1 => (0..n0)
                .flat_map(|i| (0..n2).map(move |k| (i, k)))
                .map(|(i, k)| self.at(i, idx, k))
                .collect(),
            _ => (0..n0)
                .flat_map(|i| (0..n1).map(move |j| (i, j)))
                .map(|(i, j)| self.at(i, j, idx))
                .collect(),
        }
    }
}

#[test]
fn every_encoding_gives_the_reference_values_and_geometry() {
    let e = expected();
    let limits = Limits::default();
    for name in FILES {
        let vol = RawVolume::open(data(name)).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(vol.dims(), [e.dims[0], e.dims[1], e.dims[2], 1], "{name}");
        for (got, want) in vol.spacing().iter().zip(e.spacing) {
            assert!(
                (got - want).abs() < 1e-9,
                "{name}: spacing {:?}",
                vol.spacing()
            );
        }
        assert_eq!(vol.axis_codes().to_vec(), e.codes, "{name}");
        for a in 0..3 {
            for idx in 0..e.dims[a] {
                let s = vol.slice(SliceAxis::Index(a), idx, 0, &limits).unwrap();
                assert_eq!(s.values, e.slice(a, idx), "{name} axis {a} slice {idx}");
            }
        }
    }
}

#[test]
fn anatomical_axes_and_frames_follow_the_nifti_rules() {
    // Codes ALS: array axis 2 is the axial one, axis 1 the sagittal, axis 0 the coronal.
    let e = expected();
    let limits = Limits::default();
    for name in FILES {
        let vol = RawVolume::open(data(name)).unwrap();
        assert_eq!(vol.slice_count(SliceAxis::Axial).unwrap(), e.dims[2]);
        assert_eq!(vol.slice_count(SliceAxis::Sagittal).unwrap(), e.dims[1]);
        assert_eq!(vol.slice_count(SliceAxis::Coronal).unwrap(), e.dims[0]);
        for (axis, a) in [
            (SliceAxis::Axial, 2),
            (SliceAxis::Sagittal, 1),
            (SliceAxis::Coronal, 0),
        ] {
            for window in [None, Some(Window::BRAIN)] {
                let options = SliceOptions {
                    axis,
                    count: Some(3),
                    volume: 0,
                    window,
                };
                let frames = vol.read_slices(&options, &limits).unwrap().frames;
                let n = e.dims[a];
                let chosen = hulu_io::video::linspace_indices(n, 3);
                for (frame, &idx) in frames.iter().zip(&chosen) {
                    let grey = minmax_to_u8(&e.slice(a, idx), window).unwrap();
                    let rgb: Vec<u8> = grey.iter().flat_map(|&g| [g, g, g]).collect();
                    assert_eq!(frame.data, rgb, "{name} {axis:?} slice {idx}");
                }
            }
        }
    }
}

#[test]
fn broken_headers_and_data_are_typed_errors_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("hulu-volume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let nrrd = std::fs::read(data("ct.nrrd")).unwrap();
    let mha = std::fs::read(data("ct.mha")).unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // Voxels cut short.
        ("cut.nrrd", nrrd[..nrrd.len() - 7].to_vec()),
        ("cut.mha", mha[..mha.len() - 7].to_vec()),
        // A data file outside the header's folder.
        (
            "escape.nhdr",
            text(&std::fs::read(data("ct_detached.nhdr")).unwrap())
                .replace("data file: ct_detached.raw", "data file: ../../etc/passwd")
                .into_bytes(),
        ),
        // Sizes that disagree with the dimension, and no blank line.
        (
            "sizes.nrrd",
            text(&nrrd)
                .replacen("sizes: 7 6 5", "sizes: 7 6", 1)
                .into_bytes(),
        ),
        (
            "bad.mha",
            b"NDims = 3\nDimSize = 2 2 2\nElementType = MET_QUAD\nElementDataFile = LOCAL\n"
                .to_vec(),
        ),
    ];
    for (name, bytes) in cases {
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        let result = RawVolume::open(&path)
            .and_then(|v| v.read_slices(&SliceOptions::default(), &Limits::default()));
        match result {
            Err(e @ (Error::InvalidVolume { .. } | Error::UnsupportedMedia { .. })) => {
                assert!(e.to_string().contains(name), "{e}");
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mutated_volumes_never_panic_and_stay_bounded() {
    let dir = std::env::temp_dir().join(format!("hulu-volume-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let originals: Vec<(&str, Vec<u8>)> = ["ct.nrrd", "ct_gzip.nrrd", "ct.mha", "ct_zlib.mha"]
        .iter()
        .map(|n| (*n, std::fs::read(data(n)).unwrap()))
        .collect();
    let limits = Limits {
        max_bytes: 4 << 20,
        max_frames: 64,
        max_dim: 4096,
    };
    let cases = hulu_testkit::fuzz_cases(300);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (
        0..originals.len(),
        proptest::collection::vec(
            (prop_oneof![0usize..400, any::<usize>()], any::<u8>()),
            1..6,
        ),
        proptest::option::weighted(0.2, any::<usize>()),
    );
    runner
        .run(&strategy, |(which, edits, cut)| {
            let (name, original) = &originals[which];
            let mut bytes = original.clone();
            for (at, value) in edits {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            let path = dir.join(name);
            std::fs::write(&path, &bytes).unwrap();
            LargestAllocation::reset_here();
            if let Ok(v) = RawVolume::open(&path) {
                for axis in [SliceAxis::Axial, SliceAxis::Index(0)] {
                    let _ = v.read_slices(
                        &SliceOptions {
                            axis,
                            count: Some(4),
                            ..SliceOptions::default()
                        },
                        &limits,
                    );
                }
            }
            let largest = LargestAllocation::largest_here();
            // The 1 MiB header read, else the voxels: at most the budget.
            prop_assert!(largest <= (4 << 20) + (64 << 10), "{largest}");
            Ok(())
        })
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
