//! Parity with the reference: the keep-masks of every fixture case with visual input, in
//! float32 and in bf16, and the ids the decoder sees once the mask is applied.

use hulu_compress::{apply_mask, KeepMask, MedicalCompressor, NoCompression, TokenCompressor};
use hulu_io::{MergedGrid, PatchGrid};
use hulu_testkit::{cases, Case, TensorFile};
use tch::{Kind, Tensor};

struct Visual {
    pixels: Tensor,
    grids: Vec<PatchGrid>,
    merges: Vec<usize>,
}

fn visual(t: &TensorFile) -> Visual {
    let pv = t.get("pixel_values");
    let pixels = Tensor::from_slice(&pv.f32()).view([pv.shape[0] as i64, pv.shape[1] as i64]);
    let grids = t
        .get("grid_sizes")
        .i64()
        .chunks_exact(3)
        .map(|g| PatchGrid {
            frames: g[0] as usize,
            rows: g[1] as usize,
            cols: g[2] as usize,
        })
        .collect();
    let merges = t
        .get("merge_sizes")
        .i64()
        .into_iter()
        .map(|m| m as usize)
        .collect();
    Visual {
        pixels,
        grids,
        merges,
    }
}

fn golden_mask(t: &TensorFile, name: &str) -> Vec<bool> {
    t.get(name).i64().into_iter().map(|v| v != 0).collect()
}

fn visual_cases() -> Vec<Case> {
    let all: Vec<Case> = cases().into_iter().filter(Case::has_visual).collect();
    assert!(!all.is_empty(), "no fixture case with visual input");
    all
}

fn describe(mask: &KeepMask) -> String {
    let frames: Vec<String> = mask
        .frame_stats()
        .iter()
        .map(|s| format!("{}/{}", s.kept, s.tokens))
        .collect();
    format!(
        "kept {}/{} tokens (reduction {:.1}%), per frame [{}]",
        mask.kept(),
        mask.len(),
        100.0 * mask.reduction(),
        frames.join(" ")
    )
}

#[test]
fn float32_masks_equal_the_reference() {
    for case in visual_cases() {
        let t = case.tensors();
        let v = visual(&t);
        let mask = MedicalCompressor::default()
            .keep_mask(&v.pixels, &MergedGrid::zip(&v.grids, &v.merges).unwrap())
            .unwrap();
        println!("{}: {}", case.label(), describe(&mask));
        assert_eq!(
            mask.as_slice(),
            golden_mask(&t, "compression_mask"),
            "{}",
            case.label()
        );
    }
}

#[test]
fn bf16_masks_equal_the_reference() {
    for case in visual_cases() {
        let t = case.tensors();
        let v = visual(&t);
        let pixels = v.pixels.to_kind(Kind::BFloat16);
        let mask = MedicalCompressor::default()
            .keep_mask(&pixels, &MergedGrid::zip(&v.grids, &v.merges).unwrap())
            .unwrap();
        println!("{}: bf16 {}", case.label(), describe(&mask));
        assert_eq!(
            mask.as_slice(),
            golden_mask(&t, "compression_mask_bf16"),
            "{}",
            case.label()
        );
    }
}

/// With compression on, the mask applied to `input_ids` gives `lm_input_ids`; with it off,
/// the decoder sees `input_ids` unchanged. The kept features are the kept rows, in order.
#[test]
fn applied_masks_give_the_decoder_ids() {
    for case in visual_cases() {
        let t = case.tensors();
        let v = visual(&t);
        let image_token_id = case.json["image_token_id"]
            .as_i64()
            .expect("image_token_id");
        let compress = case.json["use_token_compression"]
            .as_bool()
            .expect("use_token_compression");
        let policy: Box<dyn TokenCompressor> = if compress {
            Box::new(MedicalCompressor::default())
        } else {
            Box::new(NoCompression)
        };
        let mask = policy
            .keep_mask(&v.pixels, &MergedGrid::zip(&v.grids, &v.merges).unwrap())
            .unwrap();
        let vf = t.get("vision_features");
        let features = Tensor::from_slice(&vf.f32()).view([vf.shape[0] as i64, -1]);
        let out = apply_mask(&features, &t.get("input_ids").i64(), image_token_id, &mask).unwrap();
        let kept: usize = out.frames.iter().map(|s| s.kept).sum();
        println!(
            "{}: compression {compress}, {} ids -> {} ids, {kept} visual tokens",
            case.label(),
            t.get("input_ids").shape[0],
            out.ids.len()
        );
        assert_eq!(out.ids, t.get("lm_input_ids").i64(), "{}", case.label());
        let rows: Vec<i64> = (0..mask.len() as i64)
            .filter(|&i| mask.as_slice()[i as usize])
            .collect();
        let expected = features.index_select(0, &Tensor::from_slice(&rows));
        assert!(out.features.equal(&expected), "{}", case.label());
        assert_eq!(kept, rows.len());
    }
}
