//! The error type of `hulu-nn`.

/// Result alias for `hulu-nn`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong fetching a parameter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor the model needs is not in the backend.
    #[error("missing weight {key:?}")]
    MissingWeight {
        /// The full tensor key.
        key: String,
    },

    /// A tensor has a different shape than the model asks for.
    #[error("weight {key:?} has shape {actual:?}, expected {expected:?}")]
    WeightShape {
        /// The full tensor key.
        key: String,
        /// The shape the model asks for.
        expected: Vec<i64>,
        /// The shape the backend holds.
        actual: Vec<i64>,
    },

    /// A requested shape has a negative dimension or more elements than memory can index.
    #[error("weight {key:?}: invalid shape {shape:?}")]
    InvalidShape {
        /// The full tensor key.
        key: String,
        /// The shape asked for.
        shape: Vec<i64>,
    },

    /// Keys a checkpoint holds that no module asked for (a checkpoint made for another config).
    #[error("unexpected weights: {keys:?}")]
    UnexpectedWeights {
        /// The unused keys.
        keys: Vec<String>,
    },

    /// Reading the checkpoint failed (the file, shard and tensor are named by the source).
    #[error("reading weights")]
    Io(#[from] hulu_io::Error),

    /// libtorch refused an operation.
    #[error("libtorch")]
    Torch(#[from] tch::TchError),
}
