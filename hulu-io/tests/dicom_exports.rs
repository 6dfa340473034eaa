//! Hospital exports: a study folder nested PATIENT/STUDY/SERIES with a DICOMDIR (written by
//! pydicom's FileSet, `tests/data/dicom-tools/make_exports.py`), the same export zipped by
//! Python's zipfile, several series, bare data sets in folders, and hostile archives.

use std::io::Write;
use std::path::{Path, PathBuf};

use hulu_io::dicom::{
    load_dicom, load_dicom_with, DicomRender, DicomScan, MixedOrientation, SeriesChoice,
};
use hulu_io::{Error, Limits};
use hulu_testkit::LargestAllocation;
use serde_json::Value;

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("dicom-exports/expected.json")).unwrap())
        .unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hulu_exports_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The series a scan found match pydicom's DICOMDIR records: UIDs, numbers, image counts.
fn check_scan(scan: &DicomScan) {
    let j = expected();
    let records = j["series"].as_object().unwrap();
    assert_eq!(scan.series.len(), records.len(), "{}", scan.listing());
    for s in &scan.series {
        let uid = s.series_instance_uid.as_deref().unwrap();
        let r = &records[uid];
        assert_eq!(s.len() as u64, r["images"].as_u64().unwrap(), "{uid}");
        assert_eq!(s.series_number(), r["number"].as_i64(), "{uid}");
    }
    // Ordered by Series Number.
    let numbers: Vec<_> = scan.series.iter().map(|s| s.series_number()).collect();
    assert!(numbers.windows(2).all(|w| w[0] <= w[1]), "{numbers:?}");
}

fn reasons(scan: &DicomScan) -> Vec<(String, String)> {
    scan.skipped
        .iter()
        .map(|s| {
            let name = s
                .path
                .to_string_lossy()
                .rsplit(['/', '!'])
                .next()
                .unwrap()
                .to_string();
            (name, s.reason.clone())
        })
        .collect()
}

#[test]
fn nested_study_folders_and_zips_list_every_series_and_what_was_skipped() {
    let limits = Limits::default();
    let folder = DicomScan::open(
        data("dicom-exports/study"),
        MixedOrientation::Reject,
        &limits,
    )
    .unwrap();
    check_scan(&folder);
    let skipped = reasons(&folder);
    assert!(
        skipped
            .iter()
            .any(|(n, r)| n == "DICOMDIR" && r.contains("DICOMDIR")),
        "{skipped:?}"
    );
    assert!(
        skipped
            .iter()
            .any(|(n, r)| n == "README.txt" && r.contains("not DICOM")),
        "{skipped:?}"
    );
    let zipped = DicomScan::open(
        data("dicom-exports/study.zip"),
        MixedOrientation::Reject,
        &limits,
    )
    .unwrap();
    check_scan(&zipped);
    assert_eq!(reasons(&zipped), skipped);
    for (a, b) in folder.series.iter().zip(&zipped.series) {
        assert_eq!(a.positions, b.positions);
    }
}

#[test]
fn a_series_is_chosen_by_uid_number_or_index_with_the_largest_by_default() {
    let limits = Limits::default();
    let scan = || {
        DicomScan::open(
            data("dicom-exports/study"),
            MixedOrientation::Reject,
            &limits,
        )
        .unwrap()
    };
    assert_eq!(scan().choose(&SeriesChoice::Largest).unwrap().len(), 5);
    assert_eq!(scan().choose(&SeriesChoice::Number(1)).unwrap().len(), 1);
    assert_eq!(scan().choose(&SeriesChoice::Index(1)).unwrap().len(), 5);
    let uid = "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457".to_string();
    assert_eq!(scan().choose(&SeriesChoice::Uid(uid)).unwrap().len(), 1);
    let err = scan().choose(&SeriesChoice::Number(99)).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("series number 5")),
        "{err}"
    );

    // The folder, its DICOMDIR and the zip load as the same 5-slice volume, and that volume
    // is the one the plain series folder gives.
    let render = DicomRender::default();
    let plain = load_dicom(
        hulu_testkit::fixtures_root().join("io/dicom/series_ct5n"),
        &render,
        &limits,
    )
    .unwrap();
    for source in [
        "dicom-exports/study",
        "dicom-exports/study/DICOMDIR",
        "dicom-exports/study.zip",
    ] {
        let v = load_dicom(data(source), &render, &limits).unwrap();
        assert_eq!(v.frames, plain.frames, "{source}");
    }
    let one = load_dicom_with(
        data("dicom-exports/study.zip"),
        &render,
        &SeriesChoice::Number(1),
        &limits,
    )
    .unwrap();
    assert_eq!((one.frames.len(), one.frames[0].width), (1, 64));
}

#[test]
fn bare_data_sets_in_folders_are_found_and_nothing_is_skipped_silently() {
    let dir = temp_dir("bare");
    std::fs::create_dir_all(dir.join("SE1")).unwrap();
    std::fs::copy(data("dicom-without-part10/IM0001"), dir.join("SE1/IM0001")).unwrap();
    std::fs::write(dir.join("SE1/notes"), b"nothing to see").unwrap();
    let scan = DicomScan::open(&dir, MixedOrientation::Reject, &Limits::default()).unwrap();
    assert_eq!((scan.series.len(), scan.series[0].len()), (1, 1));
    assert_eq!(
        reasons(&scan),
        [("notes".to_string(), "not DICOM (by content)".to_string())]
    );
    std::fs::remove_file(dir.join("SE1/IM0001")).unwrap();
    let err = DicomScan::open(&dir, MixedOrientation::Reject, &Limits::default()).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        matches!(&err, Error::DicomSeries { reason, .. } if reason.contains("notes (not DICOM")),
        "{err}"
    );
}

fn write_zip(path: &Path, entries: &[(&str, Vec<u8>)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

#[test]
fn hostile_zips_are_refused_in_bounded_memory() {
    let dir = temp_dir("zips");
    let limits = Limits {
        max_bytes: 16 << 20,
        ..Limits::default()
    };
    // A bomb: 64 MiB of zeros in about 64 KiB.
    let bomb = dir.join("bomb.zip");
    write_zip(&bomb, &[("IM0001", vec![0u8; 64 << 20])]);
    LargestAllocation::reset_here();
    let err = DicomScan::open(&bomb, MixedOrientation::Reject, &limits).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(
        LargestAllocation::largest_here() <= 1 << 20,
        "{}",
        LargestAllocation::largest_here()
    );

    // Mutations of the real export: any outcome but a panic or an allocation past the budget.
    let original = std::fs::read(data("dicom-exports/study.zip")).unwrap();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let path = dir.join("mutated.zip");
    let cases = hulu_testkit::fuzz_cases(200);
    for _ in 0..cases {
        let mut bytes = original.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() as usize) % (bytes.len() - 4);
            if next() % 2 == 0 {
                bytes[i] ^= 1 << (next() % 8);
            } else {
                let v = [0xFFFF_FFFFu32, 0x7FFF_FFFF, 0xFFFF, 0][(next() % 4) as usize];
                bytes[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        LargestAllocation::reset_here();
        let _ = DicomScan::open(&path, MixedOrientation::Reject, &limits);
        let largest = LargestAllocation::largest_here();
        if largest > 2 * limits.max_bytes {
            std::fs::copy(
                &path,
                std::env::temp_dir().join("hulu_zip_overallocation.zip"),
            )
            .unwrap();
            panic!("a mutated zip allocated {largest} bytes");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
