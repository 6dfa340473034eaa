//! `VisualSource::detect`: a file's kind by its content, whatever its name; a FIFO refused
//! without blocking; anything else an error that lists what is supported.

use hulu_model::{Error, LoadOptions, VisualKind, VisualSource};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hulu-model-detect-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies `from` (relative to the workspace) to a file called `name` with no telling suffix.
fn disguised(dir: &Path, from: &str, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(workspace().join(from), &to).unwrap();
    to
}

fn kind(source: &VisualSource) -> &'static str {
    match source {
        VisualSource::Image(_) => "image",
        VisualSource::Nifti(_) => "nifti",
        VisualSource::Volume(_) => "volume",
        VisualSource::Dicom(_) => "dicom",
        VisualSource::Video(_) => "video",
        VisualSource::Frames(_) => "frames",
    }
}

#[test]
fn kinds_come_from_content_not_names() {
    let dir = scratch("kinds");
    let cases = [
        ("tests/fixtures/io/dicom/CT_small.dcm", "a.png", "dicom"),
        (
            "hulu-io/tests/data/dicom-without-part10/IMPLICIT1",
            "b.jpg",
            "dicom",
        ),
        (
            "hulu-io/tests/data/dicom-without-part10/EXPLICIT1",
            "c",
            "dicom",
        ),
        ("tests/fixtures/inputs/anatomical.nii", "d.dcm", "nifti"),
        ("tests/fixtures/inputs/example4d.nii.gz", "e.bin", "nifti"),
        ("hulu-io/tests/data/volume/ct.nrrd", "f.mp4", "volume"),
        ("hulu-io/tests/data/volume/ct.mha", "g.nii", "volume"),
        (
            "hulu-io/tests/data/video-ffmpeg/video-plain.mp4",
            "h.dcm",
            "video",
        ),
        ("tests/fixtures/inputs/ct_small.png", "i.nii", "image"),
        (
            "hulu-io/tests/data/dicom-exports/study.zip",
            "j.dat",
            "dicom",
        ),
    ];
    for (from, name, want) in cases {
        let path = disguised(&dir, from, name);
        let source = VisualSource::detect(&path).unwrap_or_else(|e| panic!("{from}: {e}"));
        assert_eq!(kind(&source), want, "{from} as {name}");
    }
    // A DICOMDIR names its export; a folder is one.
    let study = workspace().join("hulu-io/tests/data/dicom-exports/study");
    assert_eq!(
        kind(&VisualSource::detect(study.join("DICOMDIR")).unwrap()),
        "dicom"
    );
    assert_eq!(kind(&VisualSource::detect(&study).unwrap()), "dicom");
}

#[test]
fn a_metaimage_volume_is_sliced_like_nifti() {
    // ct_expected.json (SimpleITK and pynrrd wrote the files): dims 7x6x5; 3 of the 5
    // slices along the third axis, as for NIfTI, from each format.
    let data = workspace().join("hulu-io/tests/data/volume");
    for name in ["ct.mha", "ct.mhd", "ct.nrrd"] {
        let visual = VisualSource::detect(data.join(name))
            .unwrap()
            .load(&LoadOptions {
                slices: Some(3),
                ..LoadOptions::default()
            })
            .unwrap();
        assert_eq!(visual.kind, VisualKind::Volume, "{name}");
        assert_eq!(visual.frames.len(), 3, "{name}");
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = scratch("fifo");
    let fifo = dir.join("scan.nii");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable; skipped");
        return;
    }
    let err = VisualSource::detect(&fifo).unwrap_err();
    assert!(
        matches!(err, Error::Media(hulu_io::Error::NotRegularFile { .. })),
        "{err:?}"
    );
    // from_path falls back to a source whose load fails the same way, without blocking.
    let err = VisualSource::from_path(&fifo)
        .load(&LoadOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("scan.nii"), "{err}");
}

#[test]
fn an_unsupported_file_lists_what_is_supported() {
    let dir = scratch("unsupported");
    let text = dir.join("report.dcm");
    std::fs::write(&text, "Findings: none.\n".repeat(40)).unwrap();
    let err = VisualSource::detect(&text).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, Error::Media(hulu_io::Error::UnsupportedMedia { .. })),
        "{err:?}"
    );
    for kind in [
        "report.dcm",
        "DICOM",
        "NIfTI",
        "NRRD",
        "MetaImage",
        "MP4",
        "PNG",
    ] {
        assert!(message.contains(kind), "{kind} missing: {message}");
    }
}
