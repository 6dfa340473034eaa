//! Properties of the reference sizing rule over random frame sizes, budgets and frame counts.

use hulu_vision::processor::sizing::SizingRule;
use proptest::prelude::*;

/// Frame sizes with aspect ratio at most 4 and a call whose per-frame budget is at least nine
/// times the minimum: the regime where both bounds can hold together after rounding to the
/// factor (see the bounds in the comments below).
fn regime() -> impl Strategy<Value = (usize, usize, SizingRule)> {
    (
        8usize..3000,
        1usize..=4,
        any::<bool>(),
        prop::sample::select(vec![1usize, 2]),
        1usize..64,
        1usize..300,
        1usize..40,
    )
        .prop_flat_map(|(side, ratio, tall, merge, min_tokens, frames, spare)| {
            let other = (side / ratio).max(1);
            let (h, w) = if tall { (side, other) } else { (other, side) };
            let max_tokens = min_tokens * 9 * frames + spare * frames;
            Just((
                h,
                w,
                SizingRule::new(14, merge, min_tokens, max_tokens, frames),
            ))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn sizes_are_multiples_within_budget_and_keep_the_aspect((h, w, rule) in regime()) {
        let (th, tw) = rule.target_size(h, w).unwrap();
        let f = rule.factor;
        // Multiples of patch × merge, never empty.
        prop_assert!(th > 0 && tw > 0 && th % f == 0 && tw % f == 0, "{th}x{tw} for factor {f}");
        // The shared budget: no frame exceeds its share of max_pixels.
        prop_assert!(th * tw <= rule.frame_budget(), "{th}x{tw} over {}", rule.frame_budget());
        // The floor.
        prop_assert!(th * tw >= rule.min_pixels, "{th}x{tw} under {}", rule.min_pixels);
        // Aspect ratio: both sides are one common scale of the input, each within one factor,
        // so the cross products differ by at most f·(h + w).
        let skew = (th * w).abs_diff(tw * h);
        prop_assert!(skew <= f * (h + w), "{h}x{w} -> {th}x{tw}");
    }

    /// Sharing the budget with more frames never enlarges a frame.
    #[test]
    fn more_frames_never_get_a_larger_share(
        (h, w, rule) in regime(),
        extra in 1usize..100,
    ) {
        let (th, tw) = rule.target_size(h, w).unwrap();
        let crowded = SizingRule { num_frames: rule.num_frames + extra, ..rule };
        if let Ok((ch, cw)) = crowded.target_size(h, w) {
            prop_assert!(ch * cw <= th * tw, "{h}x{w}: {th}x{tw} alone, {ch}x{cw} crowded");
        }
    }

    #[test]
    fn sizes_already_on_the_grid_are_kept(
        rows in 1usize..40, cols in 1usize..40, merge in 1usize..=2,
    ) {
        // A frame that is a multiple of the factor and within bounds is not resized.
        let f = 14 * merge;
        let rule = SizingRule::new(14, merge, 1, rows * cols, 1);
        prop_assert_eq!(rule.target_size(rows * f, cols * f).unwrap(), (rows * f, cols * f));
    }
}
