//! Builds the visual inputs of a fixture case from its `sources`, as the fixtures README
//! describes: PNGs decoded to RGB, video frames picked from `us_cine.safetensors`, NIfTI
//! slices read by `hulu_io::nifti` and min-max scaled to 8 bits.

use hulu_io::nifti::{SliceAxis, SliceOptions};
use hulu_io::{NiftiVolume, RgbFrame, Visual, VisualKind};
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
            let volume = NiftiVolume::open(&path).unwrap();
            let axis = SliceAxis::Index(source["axis"].as_u64().expect("slice axis") as usize);
            let picked = indices(&source["slice_indices"]);
            let frames: Vec<RgbFrame> = picked
                .iter()
                .map(|&k| {
                    let slice = volume.slice(axis, k, 0).unwrap();
                    let grey = slice.to_u8(None).unwrap();
                    RgbFrame::from_grey(slice.width, slice.height, &grey).unwrap()
                })
                .collect();
            let visual = Visual::new(VisualKind::Volume, frames);
            // The loader's own slice choice (linspace over the axis) picks the same slices.
            let options = SliceOptions {
                axis,
                count: Some(picked.len()),
                ..SliceOptions::default()
            };
            assert_eq!(volume.slices(&options).unwrap(), visual);
            visual
        }
        other => panic!("unknown source kind {other}"),
    }
}
