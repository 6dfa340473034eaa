//! The error type of `hulu-compress`.

/// Result alias for `hulu-compress`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong compressing visual tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Tensor sizes disagree with the grids they are said to describe.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A merge size that does not divide a grid's rows and columns, or is zero.
    #[error("merge size {merge} does not divide the {rows}x{cols} patch grid")]
    MergeSize {
        /// The merge factor.
        merge: usize,
        /// Patch rows.
        rows: usize,
        /// Patch columns.
        cols: usize,
    },
    /// A keep-mask whose length does not match the tokens it is applied to.
    #[error("keep-mask of {mask} entries applied to {found} {what}")]
    MaskLength {
        /// Entries in the mask.
        mask: usize,
        /// How many tokens (or rows) were found instead.
        found: usize,
        /// What was counted: image-token ids, feature rows, merged tokens of the grids.
        what: &'static str,
    },
    /// Pixel values of a dtype the difference cannot be computed in (integers, bools, complex).
    #[error("pixel values must be floating point, got {0:?}")]
    Dtype(tch::Kind),
    /// A compression option out of its domain (for example a NaN threshold).
    #[error("invalid compression option: {0}")]
    Option(String),
    /// An error from libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

impl From<hulu_io::GridError> for Error {
    fn from(e: hulu_io::GridError) -> Self {
        Error::MergeSize {
            merge: e.merge,
            rows: e.grid.rows,
            cols: e.grid.cols,
        }
    }
}
