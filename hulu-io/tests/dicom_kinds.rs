//! Whole kinds of real hospital files, each against values pydicom 3.0.2 (+pylibjpeg) gives
//! for the same bytes (`tests/data/dicom-expected.json`, written by
//! `tests/data/dicom-tools/make_kinds.py`; the files from `/work/shared/bugs` are vendored
//! byte-identical).

use std::path::PathBuf;

use hulu_io::dicom::{DicomFile, DicomRender, DicomWindow, MixedOrientation, Samples};
use hulu_io::{Error, Limits, VisualKind};
use serde_json::Value;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(data("dicom-expected.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all["files"][name].clone()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Min, max, sum and first values of `values` equal pydicom's (`tol` absolute).
fn check_stats(label: &str, values: &[f64], j: &Value, tol: f64) {
    let n: f64 = f64s(&j["shape"]).iter().product();
    assert_eq!(values.len() as f64, n, "{label}: sample count");
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = values.iter().sum();
    let close = |a: f64, b: f64, t: f64| (a - b).abs() <= t.max(b.abs() * 1e-12);
    assert!(
        close(min, j["min"].as_f64().unwrap(), tol),
        "{label}: min {min} vs {}",
        j["min"]
    );
    assert!(
        close(max, j["max"].as_f64().unwrap(), tol),
        "{label}: max {max} vs {}",
        j["max"]
    );
    assert!(
        close(sum, j["sum"].as_f64().unwrap(), tol * values.len() as f64),
        "{label}: sum {sum} vs {}",
        j["sum"]
    );
    for (i, (a, b)) in values.iter().zip(f64s(&j["first"])).enumerate() {
        assert!(close(*a, b, tol), "{label}: value {i} is {a}, pydicom {b}");
    }
}

fn stored_of(path: &PathBuf) -> (Samples, Vec<f64>) {
    let file = DicomFile::open(path, &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    let image = file.decode().unwrap_or_else(|e| panic!("{e}"));
    let values = image.stored.to_f64(0..image.stored.len());
    (image.stored, values)
}

#[test]
fn native_pixel_data_of_every_width_and_byte_order() {
    let cases = [
        ("rtdose_expb_1frame.dcm", "U32"),
        ("be_u8_ob.dcm", "U8"),
        ("be_u8_ow.dcm", "U8"),
        ("be_i16_ow.dcm", "I16"),
        ("be_u32_ol.dcm", "U32"),
        ("be_i32_ow.dcm", "I32"),
        ("le_i32_ow.dcm", "I32"),
        ("le_float_of.dcm", "F32"),
        ("be_double_od.dcm", "F64"),
    ];
    for (name, kind) in cases {
        let (stored, values) = stored_of(&data(&format!("dicom-native-widths/{name}")));
        let ours = format!("{stored:?}");
        assert!(ours.starts_with(kind), "{name}: samples are {}", &ours[..8]);
        check_stats(name, &values, &expected(name), 0.0);
    }
    // The RT dose's first row, as the bug report gives it.
    let (_, dose) = stored_of(&data("dicom-native-widths/rtdose_expb_1frame.dcm"));
    assert_eq!(
        dose[..5],
        [1249000.0, 1249000.0, 1250000.0, 1250000.0, 1247000.0]
    );
}

#[test]
fn photometric_interpretation_decides_the_jpeg_colour_transform() {
    // RGB without JFIF/Adobe: no transform (mean 244 grey, not magenta). YBR_FULL without a
    // marker: YCbCr. Baseline JPEG decoders differ by a level or two in their IDCT.
    for name in ["SC_jpeg_no_color_transform.dcm", "ybr_full_no_jfif.dcm"] {
        let (_, values) = stored_of(&data(&format!("dicom-jpeg-colour/{name}")));
        let j = expected(name);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let n: f64 = f64s(&j["shape"]).iter().product();
        let theirs = j["sum"].as_f64().unwrap() / n;
        assert!(
            (mean - theirs).abs() < 1.0,
            "{name}: mean {mean}, pydicom {theirs}"
        );
        for (i, (a, b)) in values.iter().zip(f64s(&j["first"])).enumerate() {
            assert!(
                (a - b).abs() <= 3.0,
                "{name}: sample {i} is {a}, pydicom {b}"
            );
        }
    }
    let (_, rgb) = stored_of(&data("dicom-jpeg-colour/SC_jpeg_no_color_transform.dcm"));
    let means: Vec<f64> = (0..3)
        .map(|c| rgb.iter().skip(c).step_by(3).sum::<f64>() / (rgb.len() / 3) as f64)
        .collect();
    assert!(means.iter().all(|m| (m - 244.0).abs() < 1.0), "{means:?}");
}

#[test]
fn vr_mode_is_detected_from_the_data_set_as_pydicom_does() {
    for name in [
        "meta_implicit_data_explicit.dcm",
        "meta_explicit_data_implicit.dcm",
    ] {
        let path = data(&format!("dicom-vr-mode/{name}"));
        let (_, values) = stored_of(&path);
        check_stats(name, &values, &expected(name), 0.0);
        let file = DicomFile::open(&path, &Limits::default()).unwrap();
        let hu = file.decode().unwrap().modality().unwrap();
        let (lo, hi) = hu
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert_eq!((lo, hi), (-896.0, 1167.0), "{name}");
    }
    // Implicit VR under a transfer syntax that must be explicit cannot be read: typed error.
    let mut bytes = std::fs::read(data("dicom-vr-mode/meta_explicit_data_implicit.dcm")).unwrap();
    let at = bytes
        .windows(20)
        .position(|w| w == b"1.2.840.10008.1.2.1\0")
        .unwrap();
    bytes[at..at + 20].copy_from_slice(b"1.2.840.10008.1.2.2\0");
    let err = DicomFile::from_bytes(&bytes, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, Error::DicomEncodingMismatch { found, declared, .. }
            if found == "implicit VR" && declared.contains("Big Endian")),
        "{err}"
    );
}

#[test]
fn data_sets_without_the_part10_header_are_read_by_content() {
    for name in ["IM0001", "IMPLICIT1", "EXPLICIT1"] {
        let path = data(&format!("dicom-without-part10/{name}"));
        assert!(hulu_io::dicom::is_dicom(&path), "{name}");
        let (_, values) = stored_of(&path);
        check_stats(name, &values, &expected(name), 0.0);
    }
    let file = DicomFile::open(data("dicom-without-part10/IM0001"), &Limits::default()).unwrap();
    let hu = file.decode().unwrap().modality().unwrap();
    let (lo, hi) = hu
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert_eq!(
        (file.info().columns, file.info().rows, lo, hi),
        (128, 128, -896.0, 1167.0)
    );
    // A cut bare data set is refused with an error that says what it is.
    let bytes = std::fs::read(data("dicom-without-part10/IM0001")).unwrap();
    let err = DicomFile::from_bytes(&bytes[..bytes.len() - 1000], &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidDicom { reason, .. } if reason.contains("without the Part 10 header")),
        "{err}"
    );
    // A PNG is not taken for DICOM.
    let png = hulu_testkit::fixtures_root().join("inputs/ct_small.png");
    assert!(png.exists() && !hulu_io::dicom::is_dicom(&png));
}

#[test]
fn enhanced_frames_use_their_own_functional_groups() {
    for name in ["perframe.dcm", "perframe_unordered.dcm"] {
        let j = expected(name);
        let file =
            DicomFile::open(data(&format!("dicom-enhanced/{name}")), &Limits::default()).unwrap();
        let image = file.decode().unwrap();
        for (k, hu) in j["hu"].as_array().unwrap().iter().enumerate() {
            let ours: Vec<f64> = image
                .modality_frame(k)
                .unwrap()
                .iter()
                .map(|&v| v.into())
                .collect();
            check_stats(&format!("{name} frame {k}"), &ours, hu, 0.0);
        }
        let order: Vec<usize> = j["order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(
            file.frames_along_normal(MixedOrientation::Reject).unwrap(),
            order,
            "{name}"
        );
        if let Some(windows) = j["window"].as_array() {
            for (k, w) in windows.iter().enumerate() {
                let info = image.frame_info(k);
                assert_eq!(
                    (info.window_center[0], info.window_width[0]),
                    (w[0].as_f64().unwrap(), w[1].as_f64().unwrap()),
                    "{name} frame {k}"
                );
            }
            // The volume shows the slices in anatomical order: frame `order[i]` as slice i,
            // each through its own window.
            let render = DicomRender {
                window: DicomWindow::Auto,
                max_frames: None,
                fps: None,
            };
            let v = file.to_visual(&render).unwrap();
            assert_eq!(v.kind, VisualKind::Volume);
            for (i, &k) in order.iter().enumerate() {
                assert_eq!(
                    v.frames[i],
                    image.rgb_frame(k, &DicomWindow::Auto).unwrap(),
                    "slice {i}"
                );
            }
        }
    }
    let mixed = DicomFile::open(
        data("dicom-enhanced/mixed_orientation.dcm"),
        &Limits::default(),
    )
    .unwrap();
    let err = mixed
        .frames_along_normal(MixedOrientation::Reject)
        .unwrap_err();
    assert!(
        matches!(&err, Error::DicomSeries { reason, .. } if reason.contains("mix orientations")),
        "{err}"
    );
    assert_eq!(
        mixed
            .frames_along_normal(MixedOrientation::OwnNormal)
            .unwrap()
            .len(),
        3
    );
    let render = DicomRender::default();
    assert!(matches!(
        mixed.to_visual(&render),
        Err(Error::DicomSeries { .. })
    ));
}
