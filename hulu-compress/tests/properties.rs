//! Properties of the merge, the keep-mask and its application, on random small inputs.

use hulu_compress::{
    apply_mask, layouts, merge_tokens, CompressionOptions, KeepMask, MedicalCompressor,
    TokenCompressor,
};
use hulu_io::{MergedGrid, PatchGrid};
use proptest::collection::vec;
use proptest::prelude::*;
use tch::{Kind, Tensor};

/// Values per patch in these tests (588 in Hulu-Med; the rule does not depend on it).
const D: usize = 3;

/// One visual input: its grid, merge size and pixel values in patch order.
#[derive(Debug, Clone)]
struct Input {
    grid: PatchGrid,
    merge: usize,
    pixels: Vec<f32>,
}

impl Input {
    fn tokens_per_frame(&self) -> usize {
        (self.grid.rows / self.merge) * (self.grid.cols / self.merge)
    }
}

/// A random input of up to `max_frames` frames; each merged token of a later frame is either
/// the previous frame's copy, a copy plus noise near the default threshold, or fresh pixels.
fn input(max_frames: usize) -> impl Strategy<Value = Input> {
    (1usize..=2, 1..=max_frames, 1usize..=3, 1usize..=3)
        .prop_flat_map(|(m, frames, br, bc)| {
            let values = frames * br * bc * m * m * D;
            (
                Just((m, frames, br, bc)),
                vec(-1.0f32..1.0, values),
                vec(0u8..3, frames * br * bc),
            )
        })
        .prop_map(|((m, frames, br, bc), noise, kinds)| {
            let per_token = m * m * D;
            let per_frame = br * bc * per_token;
            let mut pixels = noise.clone();
            for t in 1..frames {
                for tok in 0..br * bc {
                    let at = t * per_frame + tok * per_token;
                    for i in at..at + per_token {
                        let prev = pixels[i - per_frame];
                        match kinds[t * br * bc + tok] {
                            0 => pixels[i] = prev,
                            1 => pixels[i] = prev + 0.2 * noise[i],
                            _ => {}
                        }
                    }
                }
            }
            Input {
                grid: PatchGrid {
                    frames,
                    rows: br * m,
                    cols: bc * m,
                },
                merge: m,
                pixels,
            }
        })
}

fn options() -> impl Strategy<Value = CompressionOptions> {
    (0.0f64..0.3, 0usize..=3, any::<bool>(), any::<bool>()).prop_map(
        |(threshold, min_tokens, keep_first_frame, compare_to_last_kept)| CompressionOptions {
            threshold,
            min_tokens,
            keep_first_frame,
            compare_to_last_kept,
        },
    )
}

fn mask_of(inputs: &[Input], options: CompressionOptions) -> KeepMask {
    let pixels: Vec<f32> = inputs.iter().flat_map(|i| i.pixels.clone()).collect();
    let pixels = Tensor::from_slice(&pixels).view([-1, D as i64]);
    let grids: Vec<PatchGrid> = inputs.iter().map(|i| i.grid).collect();
    let merges: Vec<usize> = inputs.iter().map(|i| i.merge).collect();
    MedicalCompressor::new(options)
        .unwrap()
        .keep_mask(&pixels, &MergedGrid::zip(&grids, &merges).unwrap())
        .unwrap()
}

/// Keep flags of each frame of a single-input mask.
fn frames_of(mask: &KeepMask, input: &Input) -> Vec<Vec<bool>> {
    mask.as_slice()
        .chunks(input.tokens_per_frame())
        .map(<[bool]>::to_vec)
        .collect()
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(48)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mask_length_equals_token_count(inputs in vec(input(4), 1..=3), o in options()) {
        let mask = mask_of(&inputs, o);
        let tokens: usize = inputs.iter().map(|i| i.grid.merged_tokens(i.merge)).sum();
        prop_assert_eq!(mask.len(), tokens);
        // Images are never pruned.
        let mut at = 0;
        for i in &inputs {
            let n = i.grid.merged_tokens(i.merge);
            if i.grid.frames == 1 {
                prop_assert!(mask.as_slice()[at..at + n].iter().all(|&k| k));
            }
            at += n;
        }
    }

    #[test]
    fn inputs_are_never_mixed(inputs in vec(input(4), 1..=3), o in options()) {
        let together = mask_of(&inputs, o);
        let alone: Vec<bool> = inputs
            .iter()
            .flat_map(|i| mask_of(std::slice::from_ref(i), o).into_vec())
            .collect();
        prop_assert_eq!(together.as_slice(), alone.as_slice());
    }

    #[test]
    fn every_frame_keeps_at_least_min_tokens(inputs in vec(input(5), 1..=2), o in options()) {
        let mask = mask_of(&inputs, o);
        for s in mask.frame_stats() {
            prop_assert!(s.kept >= o.min_tokens.min(s.tokens), "{:?} with {:?}", s, o);
        }
    }

    /// Thresholding is monotone; the only exception is the reference's floor, which may force
    /// on one of a frame's first `min_tokens` tokens when a higher threshold keeps too few.
    #[test]
    fn raising_the_threshold_never_keeps_what_a_lower_one_dropped(
        i in input(5),
        o in options(),
        raise in 0.0f64..0.2,
    ) {
        let o = CompressionOptions { compare_to_last_kept: false, ..o };
        let low = mask_of(std::slice::from_ref(&i), o);
        let high = mask_of(
            std::slice::from_ref(&i),
            CompressionOptions { threshold: o.threshold + raise, ..o },
        );
        for (t, (l, h)) in frames_of(&low, &i).iter().zip(frames_of(&high, &i)).enumerate() {
            for (p, (&l, &h)) in l.iter().zip(&h).enumerate() {
                prop_assert!(
                    !h || l || p < o.min_tokens,
                    "frame {} token {} kept at {} but dropped at {}",
                    t, p, o.threshold + raise, o.threshold
                );
            }
        }
    }

    #[test]
    fn identical_frames_keep_exactly_min_tokens_after_the_first(
        i in input(5),
        o in options(),
    ) {
        let mut i = i;
        let per_frame = i.pixels.len() / i.grid.frames;
        let first = i.pixels[..per_frame].to_vec();
        for frame in i.pixels.chunks_mut(per_frame) {
            frame.copy_from_slice(&first);
        }
        let mask = mask_of(std::slice::from_ref(&i), o);
        if i.grid.frames > 1 {
            for row in frames_of(&mask, &i).iter().skip(1) {
                let n = o.min_tokens.min(row.len());
                let expected: Vec<bool> = (0..row.len()).map(|p| p < n).collect();
                prop_assert_eq!(row, &expected);
            }
        }
    }

    #[test]
    fn reference_frame_zero_rule_and_keep_frame_zero_differ_only_in_frame_zero(
        i in input(5),
        o in options(),
    ) {
        let o = CompressionOptions { compare_to_last_kept: false, ..o };
        let reference = mask_of(
            std::slice::from_ref(&i),
            CompressionOptions { keep_first_frame: false, ..o },
        );
        let whole = mask_of(
            std::slice::from_ref(&i),
            CompressionOptions { keep_first_frame: true, ..o },
        );
        let (r, w) = (frames_of(&reference, &i), frames_of(&whole, &i));
        prop_assert_eq!(&r[1..], &w[1..]);
        prop_assert!(w[0].iter().all(|&k| k));
        if i.grid.frames > 1 {
            let n = o.min_tokens.min(r[0].len());
            let first_only: Vec<bool> = (0..r[0].len()).map(|p| p < n).collect();
            prop_assert_eq!(&r[0], &first_only);
        }
    }

    /// Ids interleave text and image tokens; feature row k holds k. After applying a random
    /// mask, the ids are the input ids minus the dropped image tokens, and the j-th surviving
    /// image token is paired with the feature row of the image token it was.
    #[test]
    fn kept_features_and_ids_stay_aligned_and_in_order(
        layout in vec((0usize..3, 1usize..4), 1..6),
        flags in vec(any::<bool>(), 64),
    ) {
        const IMAGE: i64 = 7;
        let mut ids = Vec::new();
        let mut text = 100i64;
        for &(texts, images) in &layout {
            for _ in 0..texts {
                ids.push(text);
                text += 1;
            }
            ids.extend(std::iter::repeat_n(IMAGE, images));
        }
        let tokens = ids.iter().filter(|&&id| id == IMAGE).count();
        let keep = flags[..tokens].to_vec();
        let grids = [PatchGrid { frames: 1, rows: 1, cols: tokens }];
        let mask = KeepMask::new(keep.clone(), &MergedGrid::zip(&grids, &[1]).unwrap()).unwrap();
        let features = Tensor::arange(tokens as i64, (Kind::Float, tch::Device::Cpu))
            .view([-1, 1])
            .repeat([1, 2]);
        let out = apply_mask(&features, &ids, IMAGE, &mask).unwrap();

        let mut expected_ids = Vec::new();
        let mut expected_rows = Vec::new();
        let mut k = 0;
        for &id in &ids {
            if id != IMAGE {
                expected_ids.push(id);
                continue;
            }
            if keep[k] {
                expected_ids.push(id);
                expected_rows.push(k as f32);
            }
            k += 1;
        }
        prop_assert_eq!(&out.ids, &expected_ids);
        let rows: Vec<f32> = Vec::try_from(out.features.select(1, 0).contiguous()).unwrap();
        prop_assert_eq!(&rows, &expected_rows);
        prop_assert_eq!(out.frames[0].kept, expected_rows.len());
        prop_assert_eq!(out.frames[0].tokens, tokens);
    }
}

/// Random features `[Σ patches, C]` for random grids whose sides are multiples of `m`.
fn feature_grids(m: usize) -> impl Strategy<Value = (Vec<PatchGrid>, Vec<f32>, usize)> {
    (vec((1usize..=3, 1usize..=3, 1usize..=3), 1..=3), 1usize..=4).prop_flat_map(
        move |(shapes, c)| {
            let grids: Vec<PatchGrid> = shapes
                .iter()
                .map(|&(frames, br, bc)| PatchGrid {
                    frames,
                    rows: br * m,
                    cols: bc * m,
                })
                .collect();
            let n: usize = grids.iter().map(PatchGrid::patches).sum();
            (Just(grids), vec(-4.0f32..4.0, n * c), Just(c))
        },
    )
}

fn merge(grids: &[PatchGrid], values: &[f32], c: usize, m: usize) -> Vec<f32> {
    let features = Tensor::from_slice(values).view([-1, c as i64]);
    let grids_m = MergedGrid::zip(grids, &vec![m; grids.len()]).unwrap();
    let merged = merge_tokens(&features, &grids_m).unwrap();
    let tokens: usize = grids.iter().map(|g| g.merged_tokens(m)).sum();
    assert_eq!(merged.size(), [tokens as i64, c as i64]);
    Vec::try_from(merged.contiguous().view([-1])).unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn merge_with_m1_is_the_identity((grids, values, c) in feature_grids(1)) {
        prop_assert_eq!(merge(&grids, &values, c, 1), values);
    }

    #[test]
    fn merge_of_a_constant_field_is_that_constant(
        m in 1usize..=4,
        (grids, _, c) in feature_grids(4),
        value in -4.0f32..4.0,
    ) {
        // Grids are multiples of 4, so every m in 1..=4 that divides 4 applies; m = 3 uses
        // grids of its own.
        let grids: Vec<PatchGrid> = if m == 3 {
            grids.iter().map(|g| PatchGrid { rows: g.rows / 4 * 3, cols: g.cols / 4 * 3, ..*g }).collect()
        } else {
            grids
        };
        let n: usize = grids.iter().map(PatchGrid::patches).sum();
        for v in merge(&grids, &vec![value; n * c], c, m) {
            prop_assert!((v - value).abs() <= 1e-6 * value.abs().max(1.0), "{} vs {}", v, value);
        }
    }

    /// For m = 1 and m = 2 (the merge sizes Hulu-Med uses) each frame's mean is preserved:
    /// an m = 2 token is the mean of its 2×2 block.
    #[test]
    fn merge_preserves_the_mean(m in 1usize..=2, (grids, values, c) in feature_grids(2)) {
        let merged = merge(&grids, &values, c, m);
        let (mut at_in, mut at_out) = (0, 0);
        for g in &grids {
            for _ in 0..g.frames {
                let n_in = g.patches_per_frame();
                let n_out = n_in / (m * m);
                for ch in 0..c {
                    let mean = |v: &[f32], n: usize, at: usize| {
                        (0..n).map(|i| v[(at + i) * c + ch] as f64).sum::<f64>() / n as f64
                    };
                    let (a, b) = (mean(&values, n_in, at_in), mean(&merged, n_out, at_out));
                    prop_assert!((a - b).abs() < 1e-5, "{} vs {}", a, b);
                }
                at_in += n_in;
                at_out += n_out;
            }
        }
    }
}

#[test]
fn layouts_agree_with_patch_grid_token_counts() {
    let grids = [
        PatchGrid {
            frames: 3,
            rows: 4,
            cols: 6,
        },
        PatchGrid {
            frames: 1,
            rows: 9,
            cols: 9,
        },
    ];
    let l = layouts(&MergedGrid::zip(&grids, &[2, 1]).unwrap()).unwrap();
    assert_eq!(l[0].tokens(), grids[0].merged_tokens(2));
    assert_eq!(l[1].tokens(), grids[1].merged_tokens(1));
}
