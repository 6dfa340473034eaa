//! Everything hulu reads from disk.
//!
//! - **Checkpoints** ([`checkpoint`], [`json`]): weights from one `model.safetensors` or from
//!   shards listed in `model.safetensors.index.json`, read per tensor and converted on request to
//!   the dtype and device the caller asks for (feature `tch`, on by default), and JSON files
//!   read with errors that name the file and field. What the configs *mean* belongs to the model
//!   crates: hulu-io knows no model.
//! - **Medical and visual inputs**: images, DICOM files and series, NIfTI volumes and video,
//!   read into one [`visual`] type. These never touch libtorch: build with
//!   `--no-default-features` to use them without it.
//!
//! Every fallible function returns [`Error`], one documented enum for the crate. Hostile input
//! (truncated files, lying headers, absurd dimensions) is refused with a typed error before any
//! allocation is sized from it.

pub mod checkpoint;
pub mod dicom;
mod error;
pub mod file;
pub mod grid;
pub mod image;
pub mod json;
pub mod limits;
pub mod nifti;
pub mod video;
pub mod visual;
pub mod volume;

pub use checkpoint::{Checkpoint, TensorMeta};
pub use dicom::{load_dicom, DicomFile, DicomImage, DicomRender, DicomSeries, DicomWindow};
pub use error::{Error, Result};
pub use grid::{GridError, MergedGrid, PatchGrid};
pub use limits::Limits;
pub use nifti::NiftiVolume;
pub use visual::{RgbFrame, Visual, VisualKind};
