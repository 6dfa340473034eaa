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

/// A visual input's patch grid with the side `m` of the `m × m` patch blocks the vision
/// encoder merges into one token, checked once at construction (`m > 0` divides rows and
/// columns, as the reference's `grid_sizes`/`merge_sizes` pairs always do), so every consumer
/// (token counts, the encoder's merge, the compressor's mask) can rely on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MergedGrid {
    grid: PatchGrid,
    merge: usize,
}

/// A merge size that does not fit its patch grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}x{} patches cannot be merged {merge}x{merge}", grid.rows, grid.cols)]
pub struct GridError {
    /// The grid.
    pub grid: PatchGrid,
    /// The merge size asked for.
    pub merge: usize,
}

impl MergedGrid {
    /// `grid` merged `merge × merge`.
    ///
    /// # Errors
    ///
    /// [`GridError`] when `merge` is zero or does not divide the rows and the columns.
    pub fn new(grid: PatchGrid, merge: usize) -> Result<Self, GridError> {
        if merge == 0 || !grid.rows.is_multiple_of(merge) || !grid.cols.is_multiple_of(merge) {
            return Err(GridError { grid, merge });
        }
        Ok(MergedGrid { grid, merge })
    }

    /// Pairs each grid with its merge size (the reference's `grid_sizes` and `merge_sizes`).
    ///
    /// # Errors
    ///
    /// [`GridError`] for the first pair that does not fit; lists of different lengths are a
    /// [`GridError`] on the first unpaired grid with merge size 0.
    pub fn zip(grids: &[PatchGrid], merge_sizes: &[usize]) -> Result<Vec<Self>, GridError> {
        if grids.len() != merge_sizes.len() {
            let grid = grids.get(merge_sizes.len()).copied().unwrap_or(PatchGrid {
                frames: 0,
                rows: 0,
                cols: 0,
            });
            return Err(GridError { grid, merge: 0 });
        }
        grids
            .iter()
            .zip(merge_sizes)
            .map(|(&g, &m)| MergedGrid::new(g, m))
            .collect()
    }

    /// The patch grid.
    pub fn grid(&self) -> PatchGrid {
        self.grid
    }

    /// Side of the merged patch blocks.
    pub fn merge(&self) -> usize {
        self.merge
    }

    /// Tokens of one frame after the merge.
    pub fn tokens_per_frame(&self) -> usize {
        (self.grid.rows / self.merge) * (self.grid.cols / self.merge)
    }

    /// Tokens of the whole input after the merge.
    pub fn tokens(&self) -> usize {
        self.grid.frames * self.tokens_per_frame()
    }
}

impl std::ops::Deref for MergedGrid {
    type Target = PatchGrid;

    fn deref(&self) -> &PatchGrid {
        &self.grid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merged_grid_checks_its_merge_size() {
        let g = PatchGrid {
            frames: 8,
            rows: 8,
            cols: 10,
        };
        let m = MergedGrid::new(g, 2).unwrap();
        assert_eq!((m.merge(), m.tokens_per_frame(), m.tokens()), (2, 20, 160));
        assert_eq!(m.frames, 8);
        assert_eq!(MergedGrid::new(g, 0), Err(GridError { grid: g, merge: 0 }));
        assert_eq!(MergedGrid::new(g, 4), Err(GridError { grid: g, merge: 4 }));
        assert_eq!(
            MergedGrid::new(g, 4).unwrap_err().to_string(),
            "8x10 patches cannot be merged 4x4"
        );
        assert!(MergedGrid::zip(&[g], &[]).is_err());
        assert_eq!(MergedGrid::zip(&[g, g], &[1, 2]).unwrap()[1], m);
    }

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
