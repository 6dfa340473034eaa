//! The keep-mask: one flag per merged token, with the frame layout it was computed on, so that
//! callers can report what compression did frame by frame.

use crate::{Error, Result};
use hulu_io::MergedGrid;

/// Token layout of one visual input after the in-plane merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLayout {
    /// Frames (1 for an image, slices for a volume, sampled frames for a video).
    pub frames: usize,
    /// Merged tokens of one frame (`rows/m · cols/m`).
    pub tokens_per_frame: usize,
}

impl InputLayout {
    /// Merged tokens of the whole input.
    pub fn tokens(&self) -> usize {
        self.frames * self.tokens_per_frame
    }
}

/// Token layouts of `grids` (their merge sizes were checked when the grids were made),
/// checking that no count overflows.
///
/// # Errors
///
/// [`Error::Shape`] when a grid's token count overflows.
pub fn layouts(grids: &[MergedGrid]) -> Result<Vec<InputLayout>> {
    grids
        .iter()
        .map(|g| {
            let m = g.merge();
            let tokens_per_frame = (g.rows / m).checked_mul(g.cols / m);
            let total = tokens_per_frame.and_then(|n| n.checked_mul(g.frames));
            match (tokens_per_frame, total) {
                (Some(tokens_per_frame), Some(_)) => Ok(InputLayout {
                    frames: g.frames,
                    tokens_per_frame,
                }),
                _ => Err(Error::Shape(format!(
                    "token count of grid {:?} overflows",
                    g.grid()
                ))),
            }
        })
        .collect()
}

/// What compression did to one frame of one visual input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStats {
    /// Index of the visual input in the call.
    pub input: usize,
    /// Index of the frame (slice) within that input.
    pub frame: usize,
    /// Merged tokens the frame had.
    pub tokens: usize,
    /// Merged tokens kept.
    pub kept: usize,
}

/// Which merged tokens survive compression: one flag per merged token over all visual inputs of
/// a call, in merged-token order (input, frame, row, column), with the layout it describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepMask {
    keep: Vec<bool>,
    layout: Vec<InputLayout>,
}

impl KeepMask {
    /// Wraps flags computed elsewhere, checking that they cover the merged tokens of `grids`.
    ///
    /// # Errors
    ///
    /// [`Error::MaskLength`] when they do not; [`Error::Shape`] when a count overflows.
    pub fn new(keep: Vec<bool>, grids: &[MergedGrid]) -> Result<Self> {
        Self::from_layout(keep, layouts(grids)?)
    }

    /// Wraps flags for an explicit layout, checking that their number is the layout's tokens.
    ///
    /// # Errors
    ///
    /// [`Error::MaskLength`] when it is not.
    pub fn from_layout(keep: Vec<bool>, layout: Vec<InputLayout>) -> Result<Self> {
        let tokens: usize = layout.iter().map(InputLayout::tokens).sum();
        if keep.len() != tokens {
            return Err(Error::MaskLength {
                mask: keep.len(),
                found: tokens,
                what: "merged tokens of the grids",
            });
        }
        Ok(KeepMask { keep, layout })
    }

    /// The mask that keeps every merged token of `grids` (compression off).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when a count overflows.
    pub fn keep_all(grids: &[MergedGrid]) -> Result<Self> {
        let layout = layouts(grids)?;
        let tokens = layout.iter().map(InputLayout::tokens).sum();
        Ok(KeepMask {
            keep: vec![true; tokens],
            layout,
        })
    }

    /// The flags, one per merged token.
    pub fn as_slice(&self) -> &[bool] {
        &self.keep
    }

    /// The flags, one per merged token.
    pub fn into_vec(self) -> Vec<bool> {
        self.keep
    }

    /// The per-input layout the flags are laid out in.
    pub fn layout(&self) -> &[InputLayout] {
        &self.layout
    }

    /// Merged tokens covered (kept or not).
    pub fn len(&self) -> usize {
        self.keep.len()
    }

    /// Whether the mask covers no token (no visual input).
    pub fn is_empty(&self) -> bool {
        self.keep.is_empty()
    }

    /// Merged tokens kept.
    pub fn kept(&self) -> usize {
        self.keep.iter().filter(|&&k| k).count()
    }

    /// Fraction of merged tokens dropped, `1 − kept/len` (0 for an empty mask).
    pub fn reduction(&self) -> f64 {
        if self.keep.is_empty() {
            0.0
        } else {
            1.0 - self.kept() as f64 / self.keep.len() as f64
        }
    }

    /// Tokens in and tokens kept for every frame of every input, in order.
    pub fn frame_stats(&self) -> Vec<FrameStats> {
        let mut stats = Vec::new();
        let mut rest = self.keep.as_slice();
        for (input, l) in self.layout.iter().enumerate() {
            for frame in 0..l.frames {
                let (row, tail) = rest.split_at(l.tokens_per_frame);
                rest = tail;
                stats.push(FrameStats {
                    input,
                    frame,
                    tokens: row.len(),
                    kept: row.iter().filter(|&&k| k).count(),
                });
            }
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(frames: usize, rows: usize, cols: usize, merge: usize) -> MergedGrid {
        MergedGrid::new(hulu_io::PatchGrid { frames, rows, cols }, merge).unwrap()
    }

    #[test]
    fn layouts_count_merged_tokens_per_frame() {
        let l = layouts(&[grid(3, 4, 6, 2), grid(1, 5, 7, 1)]).unwrap();
        assert_eq!(
            l,
            vec![
                InputLayout {
                    frames: 3,
                    tokens_per_frame: 6
                },
                InputLayout {
                    frames: 1,
                    tokens_per_frame: 35
                }
            ]
        );
    }

    #[test]
    fn layouts_reject_overflowing_counts() {
        assert!(matches!(
            layouts(&[grid(usize::MAX, 2, 2, 1)]),
            Err(Error::Shape(_))
        ));
    }

    #[test]
    fn mask_of_wrong_length_is_rejected() {
        let err = KeepMask::new(vec![true; 5], &[grid(2, 2, 2, 1)]).unwrap_err();
        assert!(matches!(
            err,
            Error::MaskLength {
                mask: 5,
                found: 8,
                ..
            }
        ));
        // 2·4 + 3 = 11 tokens, not 7.
        let message = KeepMask::new(vec![true; 7], &[grid(2, 2, 2, 1), grid(1, 1, 3, 1)])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("7 entries") && message.contains("11"),
            "{message}"
        );
    }

    #[test]
    fn frame_stats_follow_the_layout() {
        let keep = vec![true, false, false, true, true, true, false];
        let mask = KeepMask::new(keep, &[grid(2, 2, 4, 2), grid(1, 1, 3, 1)]).unwrap();
        let stats = mask.frame_stats();
        let summary: Vec<(usize, usize, usize, usize)> = stats
            .iter()
            .map(|s| (s.input, s.frame, s.tokens, s.kept))
            .collect();
        assert_eq!(summary, vec![(0, 0, 2, 1), (0, 1, 2, 1), (1, 0, 3, 2)]);
        assert_eq!(mask.kept(), 4);
        assert!((mask.reduction() - 3.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn keep_all_keeps_every_token() {
        let mask = KeepMask::keep_all(&[grid(3, 4, 4, 2)]).unwrap();
        assert_eq!(mask.len(), 12);
        assert_eq!(mask.kept(), 12);
        assert_eq!(mask.reduction(), 0.0);
    }
}
