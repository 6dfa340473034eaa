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
    /// An error from libtorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}
