//! 12-bit lossy JPEG (DICOM JPEG Extended) through the public API: frame selection, and
//! damaged codestreams inside a valid DICOM file refused with typed errors.

use hulu_io::dicom::DicomFile;
use hulu_io::{Error, Limits};
use hulu_testkit::fixtures_root;

fn fixture_bytes() -> Vec<u8> {
    let path = fixtures_root().join("io/dicom/JPGExtended.dcm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Offset of the frame header (SOF1) of the codestream inside the file.
fn sof_offset(bytes: &[u8]) -> usize {
    let soi = bytes
        .windows(3)
        .position(|w| w == [0xFF, 0xD8, 0xFF])
        .expect("SOI");
    soi + bytes[soi..]
        .windows(2)
        .position(|w| w == [0xFF, 0xC1])
        .expect("SOF1")
}

#[test]
fn repeated_frame_requests_decode_the_same_frame() {
    let file = DicomFile::from_bytes(&fixture_bytes(), &Limits::default()).unwrap();
    let one = file.decode().unwrap();
    let twice = file.decode_frames(&[0, 0]).unwrap();
    let n = one.stored.len();
    assert_eq!(twice.stored.len(), 2 * n);
    assert_eq!(twice.stored.to_i64(0..n), one.stored.to_i64(0..n));
    assert_eq!(twice.stored.to_i64(n..2 * n), one.stored.to_i64(0..n));
    println!("JPGExtended.dcm: {n} samples, frame 0 twice");
}

#[test]
fn damaged_codestreams_are_typed_pixel_errors() {
    let good = fixture_bytes();
    let sof = sof_offset(&good);
    // (what, byte offset from the SOF marker, new value, words the error must contain);
    // the oversized frame is caught by the codestream size check before our decoder runs.
    let damage: [(&str, usize, u8, &str); 4] = [
        ("precision 16", 4, 16, "precision 16"),
        ("progressive SOF2", 1, 0xC2, "progressive"),
        ("a 4096-row frame in a 1024-row image", 5, 0x10, "4096"),
        ("zero width", 7, 0, "width 0"),
    ];
    for (what, at, value, words) in damage {
        let mut bytes = good.clone();
        bytes[sof + at] = value;
        if at == 7 {
            bytes[sof + 8] = 0;
        }
        let file = DicomFile::from_bytes(&bytes, &Limits::default()).unwrap();
        let e = file.decode().expect_err(what);
        println!("{what}: {e}");
        assert!(
            matches!(&e, Error::DicomPixels { reason, .. } if reason.contains(words)),
            "{what}: {e}"
        );
    }
    // Entropy data cut short: an EOI marker written over the middle of the entropy data.
    let mut bytes = good.clone();
    let mid = sof + (good.len() - sof) / 2;
    bytes[mid..mid + 2].copy_from_slice(&[0xFF, 0xD9]);
    let file = DicomFile::from_bytes(&bytes, &Limits::default()).unwrap();
    let e = file.decode().expect_err("cut entropy data");
    println!("cut entropy data: {e}");
    assert!(matches!(e, Error::DicomPixels { .. }), "{e}");
}
