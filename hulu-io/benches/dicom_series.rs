//! A CT-sized DICOM series (180 slices of 512×512 int16, built in a temporary folder from the
//! `CT_small.dcm` fixture) to the model's u8 frames.

use criterion::{criterion_main, Criterion};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::OpenFileOptions;
use hulu_io::dicom::{
    load_dicom, DicomFile, DicomRender, DicomSeries, DicomWindow, MixedOrientation,
};
use hulu_io::Limits;
use std::path::PathBuf;

const SIDE: usize = 512;
const SLICES: usize = 180;

/// Writes the series: the fixture slice upsampled ×4 (nearest), one file per slice, slice k
/// at z = 1.25·k mm, files named and numbered in a shuffled order so that only sorting by
/// position along the normal gives the anatomical order.
fn build_series() -> PathBuf {
    let fixture = hulu_testkit::fixtures_root().join("io/dicom/CT_small.dcm");
    let small = DicomFile::open(&fixture, &Limits::default())
        .unwrap()
        .decode()
        .unwrap();
    let (w, h) = (small.width(), small.height());
    let stored = small.stored_frame(0);
    let big: Vec<i16> = (0..SIDE * SIDE)
        .map(|p| {
            let (y, x) = (p / SIDE * h / SIDE, p % SIDE * w / SIDE);
            stored[y * w + x] as i16
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("hulu-bench-dicom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let template = OpenFileOptions::new().open_file(&fixture).unwrap();
    for k in 0..SLICES {
        let shuffled = (k * 97) % SLICES; // 97 is coprime with 180: a permutation.
        let mut obj = template.clone();
        obj.put(DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(SIDE as u16),
        ));
        obj.put(DataElement::new(
            tags::COLUMNS,
            VR::US,
            PrimitiveValue::from(SIDE as u16),
        ));
        obj.put(DataElement::new(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            PrimitiveValue::from(format!("-170.0\\-170.0\\{:.2}", 1.25 * k as f64)),
        ));
        obj.put(DataElement::new(
            tags::INSTANCE_NUMBER,
            VR::IS,
            PrimitiveValue::from((shuffled + 1).to_string()),
        ));
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::I16(big.clone().into()),
        ));
        obj.write_to_file(dir.join(format!("IM{shuffled:04}")))
            .unwrap();
    }
    dir
}

fn bench(c: &mut Criterion) {
    let dir = build_series();
    let limits = Limits::default();
    let render = DicomRender {
        window: DicomWindow::preset("mediastinum").unwrap(),
        max_frames: None,
        fps: None,
    };
    let series = DicomSeries::open_dir(&dir, MixedOrientation::Reject, &limits).unwrap();
    assert_eq!(series.len(), SLICES);
    assert!(series.positions.windows(2).all(|p| p[0] < p[1]));

    let mut group = c.benchmark_group("dicom_series_180x512x512_int16");
    group.sample_size(10);
    group.bench_function("open_and_sort", |b| {
        b.iter(|| DicomSeries::open_dir(&dir, MixedOrientation::Reject, &limits).unwrap())
    });
    group.bench_function("decode_window_u8_frames", |b| {
        b.iter(|| series.to_visual(&render).unwrap())
    });
    group.bench_function("load_dicom_all_slices", |b| {
        b.iter(|| load_dicom(&dir, &render, &limits).unwrap())
    });
    let eight = DicomRender {
        max_frames: Some(8),
        ..render
    };
    group.bench_function("load_dicom_8_slices", |b| {
        b.iter(|| load_dicom(&dir, &eight, &limits).unwrap())
    });
    group.finish();
    std::fs::remove_dir_all(&dir).ok();
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
}

criterion_main!(benches);
