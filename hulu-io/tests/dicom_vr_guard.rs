//! An element whose VR was changed without fixing its length (`dicom-vr-changed` in
//! `/work/shared/hostile`): the guard and the parser used to disagree on where the next
//! element starts, and the parser then allocated 1.4–4.4 GB from a 10 KB file. Now: a typed
//! error naming the file, fast, with no allocation beyond a small multiple of the file.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hulu_io::dicom::{load_dicom, DicomFile, DicomRender};
use hulu_io::{Error, Limits};
use hulu_testkit::LargestAllocation;

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Largest single allocation accepted while refusing a file of about 10 KB.
const BOUND: usize = 1 << 20;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

#[test]
fn a_vr_changed_to_ul_is_refused_quickly_in_bounded_memory() {
    let path = data("dicom-hostile/vr_ul_only.dcm");
    LargestAllocation::reset_here();
    let start = Instant::now();
    let err = DicomFile::open(&path, &Limits::default()).unwrap_err();
    let via_loader = load_dicom(&path, &DicomRender::default(), &Limits::default()).unwrap_err();
    let (elapsed, largest) = (start.elapsed(), LargestAllocation::largest_here());
    println!("{err}\n{elapsed:?}, largest allocation {largest} bytes");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(largest <= BOUND, "allocated {largest} bytes");
    for e in [&err, &via_loader] {
        assert!(
            matches!(e, Error::InvalidDicom { path: p, reason }
                if *p == path && reason.contains("(0028,0002)") && reason.contains("UL")),
            "{e}"
        );
    }
}

/// Every short-form element of real files, its VR swapped for each fixed-size VR with the
/// length kept: a typed error or a correct read, never a large allocation.
#[test]
fn every_vr_swap_in_real_files_stays_within_bounds() {
    let limits = Limits {
        max_bytes: 16 << 20,
        ..Limits::default()
    };
    let mut cases = 0;
    for name in ["MR_small.dcm", "CT_small.dcm", "rtdose_1frame.dcm"] {
        let original =
            std::fs::read(hulu_testkit::fixtures_root().join("io/dicom").join(name)).unwrap();
        let vr_at: Vec<usize> = (132..original.len() - 2)
            .filter(|&i| {
                matches!(
                    &original[i..i + 2],
                    b"US" | b"UL" | b"DS" | b"IS" | b"CS" | b"SH" | b"LO"
                )
            })
            .collect();
        for &i in vr_at
            .iter()
            .step_by(1 + vr_at.len() / hulu_testkit::fuzz_cases(60) as usize)
        {
            for vr in [b"UL", b"FD", b"FL", b"SS", b"AT", b"SV"] {
                let mut bytes = original.clone();
                bytes[i..i + 2].copy_from_slice(vr);
                LargestAllocation::reset_here();
                if let Ok(file) = DicomFile::from_bytes(&bytes, &limits) {
                    let _ = file.decode();
                }
                cases += 1;
                let largest = LargestAllocation::largest_here();
                assert!(
                    largest <= 2 * limits.max_bytes,
                    "{name}: VR at byte {i} set to {}: {largest} bytes",
                    String::from_utf8_lossy(vr)
                );
            }
        }
    }
    println!("{cases} VR swaps");
    assert!(cases > 100);
}

/// VR-mode detection and bare data sets under mutation: the first element's VR bytes, its
/// tag and lengths are where detection looks, so mutations concentrate there.
#[test]
fn vr_detection_and_bare_data_sets_survive_mutation() {
    let limits = Limits {
        max_bytes: 16 << 20,
        ..Limits::default()
    };
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut cases = 0;
    for rel in [
        "dicom-without-part10/IM0001",
        "dicom-without-part10/EXPLICIT1",
        "dicom-vr-mode/meta_implicit_data_explicit.dcm",
        "dicom-vr-mode/meta_explicit_data_implicit.dcm",
    ] {
        let original = std::fs::read(data(rel)).unwrap();
        // The data set starts at 0 (bare) or after the file meta (found by its first 0008).
        let start = if rel.ends_with(".dcm") {
            (132..original.len() - 2)
                .find(|&i| original[i..i + 2] == [8, 0])
                .unwrap()
        } else {
            0
        };
        for _ in 0..hulu_testkit::fuzz_cases(150) {
            let mut bytes = original.clone();
            let near = |r: u64| start + (r as usize) % 64;
            match next() % 4 {
                0 => {
                    let i = near(next());
                    bytes[i] ^= 1 << (next() % 8);
                }
                1 => {
                    let i = near(next());
                    let v = [0xFFFF_FFFFu32, 0x4F42_0000, 0x5355, 0x10][(next() % 4) as usize];
                    bytes[i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
                2 => bytes.truncate(near(next()) + (next() as usize) % 2000),
                _ => {
                    let i = (next() as usize) % (bytes.len() - 4);
                    bytes[i] = next() as u8;
                }
            }
            LargestAllocation::reset_here();
            if let Ok(file) = DicomFile::from_bytes(&bytes, &limits) {
                let _ = file.decode();
            }
            cases += 1;
            let largest = LargestAllocation::largest_here();
            assert!(largest <= 2 * limits.max_bytes, "{rel}: {largest} bytes");
        }
    }
    println!("{cases} mutated cases");
}
