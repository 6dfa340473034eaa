//! Everything hulu reads from disk.
//!
//! - **Checkpoints** ([`config`], [`checkpoint`]): Hulu-Med `config.json` (both the Qwen2 and the
//!   Qwen3 family, with the nested vision encoder config), `generation_config.json`,
//!   `preprocessor_config.json`, and weights from one `model.safetensors` or from shards listed
//!   in `model.safetensors.index.json`, memory-mapped and converted on request to the dtype and
//!   device the caller asks for (feature `tch`, on by default).
//! - **Medical and visual inputs**: images, DICOM files and series, NIfTI volumes and video,
//!   read into one [`visual`] type. These never touch libtorch: build with
//!   `--no-default-features` to use them without it.
//!
//! Every fallible function returns [`Error`], one documented enum for the crate. Hostile input
//! (truncated files, lying headers, absurd dimensions) is refused with a typed error before any
//! allocation is sized from it.

pub mod checkpoint;
pub mod config;
pub mod dicom;
mod error;
pub mod grid;
pub mod image;
pub mod limits;
pub mod nifti;
pub mod video;
pub mod visual;

#[cfg(feature = "tch")]
pub use checkpoint::Weights;
pub use checkpoint::{Checkpoint, TensorMeta};
pub use config::{
    DecoderFamily, GenerationConfig, HuluConfig, PreprocessorConfig, VisionEncoderConfig,
};
pub use dicom::{load_dicom, DicomFile, DicomImage, DicomRender, DicomSeries, DicomWindow};
pub use error::{Error, Result};
pub use grid::{GridError, MergedGrid, PatchGrid};
pub use limits::Limits;
pub use nifti::NiftiVolume;
pub use visual::{RgbFrame, Visual, VisualKind};
