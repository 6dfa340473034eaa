//! The reference's target-size rule (`simple_batched_resize`): round each side to a multiple of
//! the patch × merge factor, shrink to fit the pixel budget shared by every frame of a call,
//! grow to reach the minimum.

use crate::{Error, Result};

/// The size constraints of one call for inputs of one merge factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizingRule {
    /// Patch side × merge size: both target sides are multiples of it.
    pub factor: usize,
    /// Fewest pixels a frame may have (`min_tokens · factor²`).
    pub min_pixels: usize,
    /// Pixel budget of the whole call (`max_tokens · factor²`).
    pub max_pixels: usize,
    /// Frames sharing the budget: every frame of every input of the call.
    pub num_frames: usize,
}

impl SizingRule {
    /// The rule for `patch_size × merge_size` with budgets given in patches of that factor.
    pub fn new(
        patch_size: usize,
        merge_size: usize,
        min_tokens: usize,
        max_tokens: usize,
        num_frames: usize,
    ) -> Self {
        let factor = patch_size.saturating_mul(merge_size);
        let area = factor.saturating_mul(factor);
        SizingRule {
            factor,
            min_pixels: min_tokens.saturating_mul(area),
            max_pixels: max_tokens.saturating_mul(area),
            num_frames,
        }
    }

    /// Pixels one frame may use: the budget split evenly (integer division, as the reference).
    pub fn frame_budget(&self) -> usize {
        self.max_pixels / self.num_frames.max(1)
    }

    /// Target `(height, width)` for a `height × width` frame.
    ///
    /// Each side is first rounded (ties to even) to a multiple of the factor; if the area
    /// exceeds [`Self::frame_budget`], both sides are scaled by the same `β` and floored to the
    /// factor; else if it is under `min_pixels`, they are scaled up and ceiled. Fails when a side
    /// ends up zero (an aspect ratio too extreme for the budget) or the input is empty.
    ///
    /// # Errors
    ///
    /// [`Error::Sizing`] for an empty frame or when a side of the target rounds to zero.
    pub fn target_size(&self, height: usize, width: usize) -> Result<(usize, usize)> {
        let fail = |reason: &str| Error::Sizing {
            height,
            width,
            reason: reason.to_string(),
        };
        if height == 0 || width == 0 || self.factor == 0 {
            return Err(fail("empty frame or zero patch factor"));
        }
        let factor = self.factor as f64;
        let (h, w) = (height as f64, width as f64);
        let snap = |x: f64| ((x / factor).round_ties_even() * factor) as usize;
        let (mut h_bar, mut w_bar) = (snap(h), snap(w));
        let budget = self.frame_budget();
        if h_bar.saturating_mul(w_bar) > budget {
            let beta = (h * w / budget as f64).sqrt();
            h_bar = ((h / beta / factor).floor() * factor) as usize;
            w_bar = ((w / beta / factor).floor() * factor) as usize;
        } else if h_bar.saturating_mul(w_bar) < self.min_pixels {
            let beta = (self.min_pixels as f64 / (h * w)).sqrt();
            h_bar = ((h * beta / factor).ceil() * factor) as usize;
            w_bar = ((w * beta / factor).ceil() * factor) as usize;
        }
        if h_bar == 0 || w_bar == 0 {
            return Err(fail(&format!(
                "target {h_bar}x{w_bar} is empty under a budget of {budget} pixels per frame"
            )));
        }
        Ok((h_bar, w_bar))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(merge: usize, frames: usize) -> SizingRule {
        SizingRule::new(14, merge, 16, 16384, frames)
    }

    #[test]
    fn reference_sizes_of_the_fixture_inputs() {
        // us_rgb.png after the height/width swap: 320 "high", 240 "wide".
        assert_eq!(rule(1, 1).target_size(320, 240).unwrap(), (322, 238));
        // ct_small.png, 128 × 128.
        assert_eq!(rule(1, 2).target_size(128, 128).unwrap(), (126, 126));
        // anatomical.nii axial slice, 33 × 41: grown to the 16-token minimum.
        assert_eq!(rule(2, 8).target_size(33, 41).unwrap(), (112, 140));
        // us_cine frames, 240 × 320.
        assert_eq!(rule(2, 6).target_size(240, 320).unwrap(), (252, 308));
    }

    #[test]
    fn rounds_half_to_even() {
        // 21 / 14 = 1.5 → 2 and 35 / 14 = 2.5 → 2 (ties to even), 49 / 14 = 3.5 → 4.
        let r = SizingRule::new(14, 1, 0, 1 << 20, 1);
        assert_eq!(r.target_size(21, 35).unwrap(), (28, 28));
        assert_eq!(r.target_size(49, 49).unwrap(), (56, 56));
    }

    #[test]
    fn a_large_volume_shares_the_budget() {
        // 180 slices of 512 × 512 with merge 2: 16384·784/180 pixels each → 252 × 252.
        assert_eq!(rule(2, 180).target_size(512, 512).unwrap(), (252, 252));
    }

    #[test]
    fn refuses_empty_targets() {
        let r = SizingRule::new(14, 1, 0, 4, 1);
        assert!(matches!(
            r.target_size(10_000, 3),
            Err(Error::Sizing { .. })
        ));
        assert!(matches!(r.target_size(0, 3), Err(Error::Sizing { .. })));
    }
}
