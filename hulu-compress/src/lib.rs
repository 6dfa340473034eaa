//! Medical-aware visual token compression for Hulu-Med.
//!
//! Two operations, one implementation each:
//! - [`merge_tokens`]: the in-plane `m × m` bilinear merge of encoder outputs (every input,
//!   every frame).
//! - inter-plane pruning behind the [`TokenCompressor`] trait: [`MedicalCompressor`] drops a
//!   merged token of slice/frame `t` when its pixels barely differ from the same token of slice
//!   `t − 1` (options in [`CompressionOptions`]); [`NoCompression`] keeps everything.
//!
//! A policy returns a [`KeepMask`]; [`apply_mask`] drops the rejected features and their
//! image-token ids together and reports [`FrameStats`] per frame.

mod apply;
mod compressor;
mod error;
mod mask;
mod medical;
pub mod merge;

pub use apply::{apply_mask, Compressed};
pub use compressor::{NoCompression, TokenCompressor};
pub use error::{Error, Result};
pub use mask::{layouts, FrameStats, InputLayout, KeepMask};
pub use medical::{CompressionOptions, MedicalCompressor};
pub use merge::merge_tokens;
