//! The weights seam of hulu: every component (vision encoder, projector, every decoder family)
//! asks one [`VarBuilder`] for "the tensor at this key, with this shape".
//!
//! A `VarBuilder` is a key prefix (`vb.pp("model").pp("layers").pp(0)`), a dtype and a device
//! over a [`Backend`] that produces the values:
//!
//! | backend | values | used for |
//! |---|---|---|
//! | [`CheckpointBackend`] | a safetensors checkpoint, read per tensor ([`hulu_io::Checkpoint`]) | loading models |
//! | [`RandomBackend`] | seeded random values, the same for a key in any order or thread | benchmarks, `hulu synth`, property tests |
//! | [`RecordingBackend`] | none (zero-cost views); records every key and shape asked for | the layout a config implies (dry run) |
//! | [`VarMap`] | another backend's values as parameters that require grad | training |
//!
//! Shapes are checked at the call ([`Error::WeightShape`]), and every key fetched is recorded
//! so that [`VarBuilder::unused`] reports checkpoint keys no module asked for. The module tree
//! of each model mirrors the checkpoint's key tree (candle's `VarBuilder` is the model).

mod backend;
mod error;
mod random;
mod recording;
mod var_builder;
mod var_map;

pub use backend::{Backend, CheckpointBackend};
pub use error::{Error, Result};
pub use random::RandomBackend;
pub use recording::RecordingBackend;
pub use var_builder::VarBuilder;
pub use var_map::VarMap;
