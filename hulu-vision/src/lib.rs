//! The vision side of Hulu-Med.
//!
//! - [`processor`]: turns images, volume slices and video frames (8-bit RGB) into the
//!   reference's `pixel_values`: per-input target size under one shared pixel budget,
//!   Pillow-exact bicubic resize, rescale and normalise, patchify in merge-block order.
//! - [`encoder`]: the SigLIP-NaViT vision encoder with 2-D rotary positions; attention stays
//!   inside each frame, frames are encoded in bounded chunks, and each input's `m × m` patch
//!   blocks are merged into tokens.
//! - [`projector`]: the `mlp2x_gelu` projector from vision width to decoder width.
//!
//! Every fallible function returns [`Error`].

pub mod config;
pub mod encoder;
mod error;
mod nn;
pub mod processor;
pub mod projector;

pub use config::{PreprocessorConfig, VisionEncoderConfig};
pub use encoder::{EncoderOptions, SiglipNavitEncoder, VisionEncoder, VisionLayerPass};
pub use error::{Error, Result};
pub use processor::{ImageProcessor, ProcessedVisuals, ProcessorOptions, VisualInput};
pub use projector::Projector;
