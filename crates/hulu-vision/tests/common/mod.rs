//! Builds the visual inputs of a fixture case from its `sources`, as the fixtures README
//! describes: PNGs decoded to RGB, video frames picked from `us_cine.safetensors`, NIfTI
//! slices min-max scaled to 8 bits.

pub mod nifti;

use hulu_io::{RgbFrame, Visual, VisualKind};
use hulu_testkit::{fixtures_root, Case, TensorFile};
use serde_json::Value;

/// The visual inputs of `case`, one per entry of its `sources`, in order.
pub fn case_visuals(case: &Case) -> Vec<Visual> {
    let sources = case.json["sources"].as_array().expect("case lists sources");
    sources.iter().map(source_visual).collect()
}

fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("an index list")
        .iter()
        .map(|i| i.as_u64().expect("an index") as usize)
        .collect()
}

fn source_visual(source: &Value) -> Visual {
    let path = fixtures_root().join(source["file"].as_str().expect("source file"));
    match source["kind"].as_str().expect("source kind") {
        "image" => {
            let img = image::open(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .to_rgb8();
            let (w, h) = img.dimensions();
            let frame = RgbFrame::new(w as usize, h as usize, img.into_raw()).unwrap();
            Visual::new(VisualKind::Image, vec![frame])
        }
        "frames" => {
            let tensor = TensorFile::open(&path).get(source["tensor"].as_str().unwrap());
            let [t, h, w, c] = tensor.shape[..] else {
                panic!("frames tensor of shape {:?}", tensor.shape)
            };
            assert_eq!(c, 3);
            let bytes = tensor.bytes();
            let frames = indices(&source["frame_indices"])
                .into_iter()
                .map(|i| {
                    assert!(i < t);
                    let data = bytes[i * h * w * 3..(i + 1) * h * w * 3].to_vec();
                    RgbFrame::new(w, h, data).unwrap()
                })
                .collect();
            let mut visual = Visual::new(VisualKind::Video, frames);
            visual.timestamps = source["timestamps"]
                .as_array()
                .map(|ts| ts.iter().map(|t| t.as_f64().unwrap()).collect());
            visual
        }
        "nifti" => {
            assert!(
                source["window"].is_null(),
                "windowed NIfTI sources are not covered by this helper"
            );
            let volume = nifti::Volume::read(&path);
            let axis = source["axis"].as_u64().expect("slice axis") as usize;
            let frames = indices(&source["slice_indices"])
                .into_iter()
                .map(|k| {
                    let (rows, cols, values) = volume.slice(axis, k);
                    RgbFrame::from_grey(cols, rows, &min_max_u8(&values)).unwrap()
                })
                .collect();
            Visual::new(VisualKind::Volume, frames)
        }
        other => panic!("unknown source kind {other}"),
    }
}

/// Per-slice min-max to 0..255, truncating; a constant slice becomes zeros.
pub fn min_max_u8(values: &[f64]) -> Vec<u8> {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if hi <= lo {
        return vec![0; values.len()];
    }
    values
        .iter()
        .map(|&v| ((v - lo) / (hi - lo) * 255.0) as u8)
        .collect()
}
