//! The error type of `hulu-io`.

use std::path::PathBuf;

/// Result alias for `hulu-io`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading checkpoints and medical files.
///
/// Variants name the file (and, for checkpoints, the tensor key) so a user can tell which part of
/// a multi-gigabyte download is broken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system error opening or reading a file.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A JSON config file is not valid JSON or lacks a required field.
    #[error("{path}: invalid config: {reason}")]
    InvalidConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong, e.g. "missing field `hidden_size`".
        reason: String,
    },

    /// `config.json` names an architecture this crate cannot load.
    #[error("{path}: unknown architecture {found:?} (expected HulumedQwen2ForCausalLM or HulumedQwen3ForCausalLM)")]
    UnknownArchitecture {
        /// The config file.
        path: PathBuf,
        /// The `architectures` entries found.
        found: Vec<String>,
    },

    /// The checkpoint directory has neither `model.safetensors` nor an index.
    #[error("{dir}: no model.safetensors or model.safetensors.index.json")]
    NoWeights {
        /// The checkpoint directory.
        dir: PathBuf,
    },

    /// A safetensors file is malformed: truncated, a header length past the end of the file,
    /// overlapping or out-of-range offsets, a header that is not JSON.
    #[error("{path}: invalid safetensors file: {reason}")]
    InvalidSafetensors {
        /// The shard.
        path: PathBuf,
        /// What the parser found.
        reason: String,
    },

    /// The shard index names a file that does not exist.
    #[error("{index}: names shard {shard:?}, which is missing")]
    MissingShard {
        /// The index file.
        index: PathBuf,
        /// The missing shard's file name.
        shard: String,
    },

    /// The shard index maps a key to a shard that does not contain it.
    #[error("{index}: maps {key:?} to {shard:?}, which does not contain it")]
    IndexMismatch {
        /// The index file.
        index: PathBuf,
        /// The tensor key.
        key: String,
        /// The shard the index names.
        shard: String,
    },

    /// A tensor the model needs is not in the checkpoint.
    #[error("missing weight {key:?}")]
    MissingWeight {
        /// The full tensor key.
        key: String,
    },

    /// A tensor has a different shape than the config implies.
    #[error("weight {key:?} has shape {actual:?}, expected {expected:?}")]
    WeightShape {
        /// The full tensor key.
        key: String,
        /// The shape the config implies.
        expected: Vec<i64>,
        /// The shape stored in the checkpoint.
        actual: Vec<i64>,
    },

    /// Tensors under a prefix that the model did not use (a checkpoint for another config).
    #[error("unexpected weights: {keys:?}")]
    UnexpectedWeights {
        /// The unused keys.
        keys: Vec<String>,
    },

    /// A checkpoint's tensors differ from the layout its config implies (every problem listed).
    #[error("checkpoint does not match its config: {0}")]
    WeightLayout(Box<crate::checkpoint::WeightReport>),

    /// A tensor is stored in a dtype that cannot be converted.
    #[error("weight {key:?} has unsupported dtype {dtype}")]
    UnsupportedDtype {
        /// The tensor key.
        key: String,
        /// The stored dtype.
        dtype: String,
    },

    /// Declared dimensions exceed the configured [`crate::Limits`]; nothing was allocated.
    #[error("{what}: too large: {reason}")]
    TooLarge {
        /// What was being loaded.
        what: String,
        /// Which bound was exceeded.
        reason: String,
    },

    /// A file is not readable DICOM: no `DICM` file meta group, a malformed element, a declared
    /// length past the end of the file, a truncated data set.
    #[error("{path}: invalid DICOM: {reason}")]
    InvalidDicom {
        /// The file.
        path: PathBuf,
        /// What the parser found.
        reason: String,
    },

    /// A DICOM file holds no image (an RT plan, a structured report): no Pixel Data element.
    #[error("{path}: DICOM object has no pixel data (modality {modality:?})")]
    NoPixelData {
        /// The file.
        path: PathBuf,
        /// The object's Modality, when present.
        modality: Option<String>,
    },

    /// DICOM pixel data this crate cannot decode (a transfer syntax, photometric
    /// interpretation or bit depth it does not support), or whose codec failed on it.
    #[error("{path}: cannot decode DICOM pixel data: {reason}")]
    DicomPixels {
        /// The file.
        path: PathBuf,
        /// What is unsupported or broken, e.g. "8130 bytes of pixel data, expected 8192".
        reason: String,
    },

    /// A DICOM series cannot be assembled into one volume: no image files, several series in
    /// one folder, slices of different orientations or sizes, missing geometry.
    #[error("{dir}: invalid DICOM series: {reason}")]
    DicomSeries {
        /// The folder (or the first file of the list).
        dir: PathBuf,
        /// What is inconsistent.
        reason: String,
    },

    /// A NIfTI file is malformed: not NIfTI, a lying or inconsistent header, truncated data.
    #[error("{what}: invalid NIfTI: {reason}")]
    InvalidNifti {
        /// The file (or `<memory>`).
        what: String,
        /// What is wrong.
        reason: String,
    },

    /// A video is malformed or its stream cannot be decoded.
    #[error("{what}: invalid video: {reason}")]
    InvalidVideo {
        /// The file (or `<memory>`).
        what: String,
        /// What is wrong.
        reason: String,
    },

    /// A picture (PNG, JPEG, TIFF, BMP) is malformed or in an unknown format.
    #[error("{what}: invalid image: {reason}")]
    InvalidImage {
        /// The file (or `<memory>`).
        what: String,
        /// What is wrong.
        reason: String,
    },

    /// A well-formed file uses something this crate does not read (a two-file NIfTI, complex
    /// voxels, a video codec other than H.264 without the `ffmpeg` feature).
    #[error("{what}: unsupported: {reason}")]
    UnsupportedMedia {
        /// The file (or `<memory>`).
        what: String,
        /// What is not supported.
        reason: String,
    },

    /// A caller asked for something the input does not have (slice 40 of 25, axis 3, a
    /// window of width 0, an unknown preset name).
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// An error from libtorch while building a tensor.
    #[cfg(feature = "tch")]
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
