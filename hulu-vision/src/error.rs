//! The error type of `hulu-vision`.

/// Result alias for `hulu-vision`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong preprocessing, encoding or projecting visual input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A visual input the processor cannot use (no frames, frames of different sizes, an
    /// empty frame, a zero merge size, ...).
    #[error("invalid visual input {index}: {reason}")]
    InvalidInput {
        /// Position of the input in the call.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The sizing rule produced an empty target (an extreme aspect ratio under the budget).
    #[error("cannot size a {height}x{width} frame: {reason}")]
    Sizing {
        /// Frame height in pixels (after any height/width swap).
        height: usize,
        /// Frame width in pixels (after any height/width swap).
        width: usize,
        /// Why no target size exists.
        reason: String,
    },
    /// The call would produce more pixel values than the configured limit allows.
    #[error("{what} needs {bytes} bytes, over the {limit} byte limit")]
    TooLarge {
        /// The buffer that would be allocated.
        what: String,
        /// Bytes it would need (saturated at `usize::MAX`).
        bytes: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A setting the processor or encoder does not support.
    #[error("unsupported configuration: {0}")]
    Config(String),
    /// Tensor sizes that disagree with the grids or the model.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// Loading weights or configs failed.
    #[error(transparent)]
    Io(#[from] hulu_io::Error),
    /// The in-plane token merge failed.
    #[error(transparent)]
    Compress(#[from] hulu_compress::Error),
    /// An error from libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// Fetching a weight failed (the key is named).
    #[error(transparent)]
    Weights(#[from] hulu_nn::Error),
}
