//! DICOM to 8-bit frames: windows, MONOCHROME1, colour, cine sampling, against the rendered
//! inputs of `fixtures/inputs/` (see its SOURCES.json) and the reference's cine decode.

use hulu_io::dicom::{load_dicom, DicomFile, DicomRender, DicomWindow};
use hulu_io::{Error, Limits, VisualKind};
use hulu_testkit::{fixtures_root, TensorFile};
use std::path::PathBuf;

fn dicom(name: &str) -> PathBuf {
    fixtures_root().join("io/dicom").join(name)
}

fn png_rgb(name: &str) -> (u32, u32, Vec<u8>) {
    let path = fixtures_root().join("inputs").join(name);
    let img = image::open(&path).unwrap().to_rgb8();
    (img.width(), img.height(), img.into_raw())
}

/// Panics with the number of differing bytes and the largest difference (not the arrays).
fn assert_same(label: &str, ours: &[u8], want: &[u8]) {
    assert_eq!(ours.len(), want.len(), "{label}: sizes");
    let diffs: Vec<u8> = ours.iter().zip(want).map(|(a, b)| a.abs_diff(*b)).collect();
    let n = diffs.iter().filter(|d| **d > 0).count();
    let max = diffs.iter().max().copied().unwrap_or(0);
    assert_eq!(n, 0, "{label}: {n} bytes differ, by up to {max}");
}

fn render(name: &str, window: DicomWindow) -> Vec<u8> {
    let file = DicomFile::open(dicom(name), &Limits::default()).unwrap();
    let render = DicomRender {
        window,
        ..Default::default()
    };
    let v = file.to_visual(&render).unwrap();
    assert_eq!(v.kind, VisualKind::Image);
    v.frames[0].data.clone()
}

#[test]
fn ct_mediastinum_window_matches_the_rendered_input() {
    // SOURCES.json: ct_small.png is CT_small.dcm in the HU window 40/400.
    println!("CT_small.dcm vs inputs/ct_small.png");
    let (w, h, want) = png_rgb("ct_small.png");
    assert_eq!((w, h), (128, 128));
    let preset = render("CT_small.dcm", DicomWindow::preset("mediastinum").unwrap());
    assert_same("mediastinum", &preset, &want);
    assert_same(
        "40/400",
        &render("CT_small.dcm", DicomWindow::parse("40/400").unwrap()),
        &want,
    );
    // Other presets give other pictures of the same slice.
    let lung = render("CT_small.dcm", DicomWindow::preset("lung").unwrap());
    let bone = render("CT_small.dcm", DicomWindow::preset("bone").unwrap());
    assert_ne!(lung, want);
    assert_ne!(lung, bone);
}

#[test]
fn mr_min_max_matches_the_rendered_input() {
    println!("MR_small.dcm vs inputs/mr_small.png");
    let (_, _, want) = png_rgb("mr_small.png");
    assert_same(
        "min-max",
        &render("MR_small.dcm", DicomWindow::MinMax),
        &want,
    );
    // The file's own window (600/1600) is what Auto uses, and it differs from min-max.
    assert_eq!(
        render("MR_small.dcm", DicomWindow::Auto),
        render("MR_small.dcm", DicomWindow::File(0))
    );
    assert_ne!(render("MR_small.dcm", DicomWindow::Auto), want);
    let no_window = DicomFile::open(dicom("CT_small.dcm"), &Limits::default()).unwrap();
    let err = no_window
        .to_visual(&DicomRender {
            window: DicomWindow::File(0),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
}

#[test]
fn rgb_ultrasound_matches_the_rendered_input() {
    println!("examples_rgb_color.dcm vs inputs/us_rgb.png");
    let (w, h, want) = png_rgb("us_rgb.png");
    assert_eq!((w, h), (320, 240));
    assert_same(
        "rgb",
        &render("examples_rgb_color.dcm", DicomWindow::Auto),
        &want,
    );
}

#[test]
fn monochrome1_renders_inverted() {
    // MR_small.dcm relabelled MONOCHROME1 (same length, so the file stays valid).
    let bytes = std::fs::read(dicom("MR_small.dcm")).unwrap();
    let at = bytes
        .windows(11)
        .position(|w| w == b"MONOCHROME2")
        .expect("photometric value");
    let mut inverted = bytes.clone();
    inverted[at + 10] = b'1';
    let limits = Limits::default();
    for window in [
        DicomWindow::MinMax,
        DicomWindow::Auto,
        DicomWindow::preset("brain").unwrap(),
    ] {
        let frame = |b: &[u8]| {
            let f = DicomFile::from_bytes(b, &limits).unwrap();
            f.decode().unwrap().rgb_frame(0, &window).unwrap().data
        };
        let (m2, m1) = (frame(&bytes), frame(&inverted));
        assert!(
            m2.iter().zip(&m1).all(|(a, b)| *a == 255 - *b),
            "{window:?}"
        );
    }
}

#[test]
fn cine_decodes_like_the_reference_and_samples_like_video() {
    // inputs/us_cine.safetensors: the same file decoded to RGB by pydicom (JPEG baseline, so
    // both sides are JPEG decodes: allowed 8 levels, mean below 0.5; measured max 3).
    println!("examples_ybr_color.dcm vs inputs/us_cine.safetensors");
    let path = dicom("examples_ybr_color.dcm");
    let all = DicomRender {
        fps: None,
        ..Default::default()
    };
    let v = load_dicom(&path, &all, &Limits::default()).unwrap();
    assert_eq!((v.kind, v.frames.len()), (VisualKind::Video, 30));
    let stamps = v.timestamps.as_ref().unwrap();
    for (i, t) in stamps.iter().enumerate() {
        assert!((t - i as f64 * 0.033333).abs() < 1e-9, "frame {i} at {t}");
    }
    let want = TensorFile::open(&fixtures_root().join("inputs/us_cine.safetensors")).get("frames");
    assert_eq!(want.shape, [30, 240, 320, 3]);
    let ours: Vec<u8> = v
        .frames
        .iter()
        .flat_map(|f| f.data.iter().copied())
        .collect();
    let diffs: Vec<i32> = ours
        .iter()
        .zip(want.bytes())
        .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
        .collect();
    let max = *diffs.iter().max().unwrap();
    let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
    println!("  max |diff| {max}, mean {mean:.4}");
    assert!(max <= 8 && mean < 0.5);

    // Video sampling: the default 1 fps keeps frame 0 of this 0.97 s clip; 10 fps every
    // third frame; max_frames thins by linspace. Only the chosen frames are decoded.
    let one = load_dicom(&path, &DicomRender::default(), &Limits::default()).unwrap();
    assert_eq!(one.timestamps.as_deref(), Some(&[0.0][..]));
    assert_eq!(one.frames[0], v.frames[0]);
    let ten = DicomRender {
        fps: Some(10.0),
        max_frames: Some(4),
        ..Default::default()
    };
    let four = load_dicom(&path, &ten, &Limits::default()).unwrap();
    let t = four.timestamps.unwrap();
    let picked: Vec<usize> = t.iter().map(|t| (t / 0.033333).round() as usize).collect();
    assert_eq!(picked, [0, 9, 18, 27]);
    for (frame, &i) in four.frames.iter().zip(&picked) {
        assert_eq!(frame, &v.frames[i]);
    }
}

#[test]
fn series_folders_load_as_volumes() {
    let dir = fixtures_root().join("io/dicom/series_ct5n");
    println!("{}", dir.display());
    let v = load_dicom(&dir, &DicomRender::default(), &Limits::default()).unwrap();
    assert_eq!((v.kind, v.frames.len()), (VisualKind::Volume, 5));
    assert!(v.frames.iter().all(|f| (f.width, f.height) == (16, 16)));
    // Mixed orientations are refused by the one-call loader.
    let mixed = fixtures_root().join("io/dicom/series_mr700");
    let err = load_dicom(&mixed, &DicomRender::default(), &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::DicomSeries { .. }), "{err}");
    // A folder of non-image files is not a series.
    let tmp = std::env::temp_dir().join(format!("hulu_dicom_empty_{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("README"), b"not dicom").unwrap();
    std::fs::copy(dicom("rtplan.dcm"), tmp.join("plan.dcm")).unwrap();
    let err = load_dicom(&tmp, &DicomRender::default(), &Limits::default()).unwrap_err();
    std::fs::remove_dir_all(&tmp).unwrap();
    assert!(
        matches!(err, Error::DicomSeries { ref reason, .. } if reason.contains("no DICOM image")),
        "{err}"
    );
}
