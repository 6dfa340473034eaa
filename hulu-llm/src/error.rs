//! The error type of `hulu-llm`.

/// Result alias for `hulu-llm`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong building or running a decoder.
///
/// Input that cannot be processed (a prompt longer than the rotary range, a full cache, a token
/// id outside the vocabulary, a tensor of the wrong shape) is refused with one of these before
/// any work or allocation is sized from it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the checkpoint or its config failed.
    #[error(transparent)]
    Io(#[from] hulu_io::Error),

    /// Writing a file (a quantized checkpoint) failed.
    #[error("cannot write {path}")]
    Write {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// libtorch reported an error (for example an allocation that failed on the device).
    #[error(transparent)]
    Torch(#[from] tch::TchError),

    /// The decoder configuration is inconsistent.
    #[error("invalid decoder config: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },

    /// `config.json` names no decoder family this crate knows, and its fields do not identify
    /// one either.
    #[error("unknown decoder architecture {found:?} (known: {})", known.join(", "))]
    UnknownArchitecture {
        /// The `architectures` entries found.
        found: Vec<String>,
        /// Every architecture name the registry knows.
        known: Vec<&'static str>,
    },

    /// Fetching a weight failed (the key is named).
    #[error(transparent)]
    Weights(#[from] hulu_nn::Error),

    /// A decoder of one family was asked to load a config of the other.
    #[error("config is for the {found:?} family, but a {expected:?} decoder was requested")]
    FamilyMismatch {
        /// The family the decoder implements.
        expected: crate::DecoderFamily,
        /// The family the config names.
        found: crate::DecoderFamily,
    },

    /// A tensor argument has the wrong shape or element type.
    #[error("{what}: expected {expected}, got shape {actual:?} of {kind:?}")]
    BadInput {
        /// Which argument.
        what: &'static str,
        /// What was expected, in words.
        expected: String,
        /// The shape received.
        actual: Vec<i64>,
        /// The element type received.
        kind: tch::Kind,
    },

    /// A token id is negative or not below the vocabulary size.
    #[error("token id {id} is outside the vocabulary of {vocab} ids")]
    TokenOutOfRange {
        /// The offending id.
        id: i64,
        /// Vocabulary size.
        vocab: usize,
    },

    /// A sequence would need rotary positions beyond `max_position_embeddings`.
    #[error(
        "sequence needs {needed} positions, but the model supports {max} (max_position_embeddings)"
    )]
    TooLong {
        /// Positions the sequence would occupy.
        needed: usize,
        /// `max_position_embeddings`.
        max: usize,
    },

    /// Appending to the KV cache would exceed its preallocated capacity.
    #[error("KV cache overflow: {needed} slots needed, capacity is {capacity}")]
    CacheOverflow {
        /// Slots the cache would have to hold.
        needed: usize,
        /// Slots preallocated.
        capacity: usize,
    },

    /// A cache or generation request does not fit the decoder or the batch (batch size, layer
    /// count, truncation into the padding, empty prompt, ...).
    #[error("invalid request: {reason}")]
    InvalidRequest {
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    pub(crate) fn request(reason: impl Into<String>) -> Self {
        Error::InvalidRequest {
            reason: reason.into(),
        }
    }

    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Error::InvalidConfig {
            reason: reason.into(),
        }
    }
}
