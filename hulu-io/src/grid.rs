//! The shape of one visual input in patches, shared by the vision, compression and model crates.

/// One visual input (an image, a volume or a video) as the vision encoder sees it: `frames`
/// planes of `rows × cols` patches each. Matches one row of the reference's `grid_sizes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PatchGrid {
    /// Number of frames (1 for an image, slices for a volume, sampled frames for a video).
    pub frames: usize,
    /// Patch rows per frame.
    pub rows: usize,
    /// Patch columns per frame.
    pub cols: usize,
}

impl PatchGrid {
    /// Patches of one frame.
    pub fn patches_per_frame(&self) -> usize {
        self.rows * self.cols
    }

    /// Patches of the whole input.
    pub fn patches(&self) -> usize {
        self.frames * self.patches_per_frame()
    }

    /// Tokens of the whole input after an `m × m` merge (`m` must divide rows and cols).
    pub fn merged_tokens(&self, merge: usize) -> usize {
        self.frames * (self.rows / merge) * (self.cols / merge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_patches_and_merged_tokens() {
        let g = PatchGrid {
            frames: 8,
            rows: 8,
            cols: 10,
        };
        assert_eq!(g.patches_per_frame(), 80);
        assert_eq!(g.patches(), 640);
        assert_eq!(g.merged_tokens(2), 160);
        assert_eq!(g.merged_tokens(1), 640);
    }
}
