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

    /// A DICOM file's data set is encoded differently from what its transfer syntax declares,
    /// in a way that cannot be read anyway: implicit VR under a big-endian, deflated or
    /// compressed transfer syntax (an implicit/explicit little-endian swap is read, with a
    /// warning, as pydicom does).
    #[error("{path}: the file meta declares {declared} but the data set is encoded {found}")]
    DicomEncodingMismatch {
        /// The file.
        path: PathBuf,
        /// The Transfer Syntax UID (0002,0010) the file meta declares.
        declared: String,
        /// The encoding found in the data set, e.g. "implicit VR".
        found: String,
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

    /// A path given as a file names a directory, FIFO, socket or device (`/dev/zero`): only
    /// regular files are read, so nothing blocks on an open or reads without end.
    #[error("{path}: not a regular file but a {kind}; only regular files are read")]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What it is instead, e.g. "FIFO (named pipe)" or "character device".
        kind: &'static str,
    },

    /// A file ended before a read at a known offset was complete (the file is truncated, or
    /// shrank while it was read).
    #[error("{path}: file ends early: read {got} of {needed} bytes at byte {offset}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the read started.
        offset: u64,
        /// How many bytes it needed.
        needed: u64,
        /// How many the file still had.
        got: u64,
    },

    /// A checkpoint shard changed (shrank, grew or was cut short) between opening the
    /// checkpoint and reading a tensor from it.
    #[error("{path}: shard changed while loading tensor {key:?}: {reason}")]
    ShardChanged {
        /// The shard.
        path: PathBuf,
        /// The tensor being read.
        key: String,
        /// What changed.
        reason: String,
    },

    /// An NRRD or MetaImage volume is malformed: a missing or contradictory header field, a
    /// data file that is not beside the header, truncated voxels.
    #[error("{what}: invalid {format}: {reason}")]
    InvalidVolume {
        /// The header file.
        what: String,
        /// "NRRD" or "MetaImage".
        format: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// The shard index names a shard that is refused: a path rather than a file name beside
    /// the index (`../../etc/passwd`), or not a regular file.
    #[error("{index}: shard name {shard:?} refused: {reason}")]
    RefusedShard {
        /// The index file.
        index: PathBuf,
        /// The shard name as the index writes it.
        shard: String,
        /// Why it is refused.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
