//! Hulu-Med, the medical vision-language model, on libtorch: one dependency from files
//! (DICOM series, NIfTI volumes, videos, images) to answers.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // inside a function returning Result<_, Box<dyn std::error::Error>>
//! use hulu_model::{
//!     Device, GenerateOptions, HuluMed, Item, Kind, LoadOptions, PrepareOptions, Turn,
//!     VisualSource, Window,
//! };
//!
//! let model = HuluMed::from_pretrained("Hulu-Med-7B", Device::Cuda(0), Kind::BFloat16)?;
//! // A CT series folder: grouped by SeriesInstanceUID, sorted along the slice normal.
//! let ct = VisualSource::from_path("study/CT_chest").load(&LoadOptions {
//!     slices: Some(32),
//!     window: Some(Window::LUNG),
//!     ..LoadOptions::default()
//! })?;
//! let turns = [Turn::user(vec![Item::Visual(ct), Item::Text("Describe the findings.".into())])];
//! let answer = model.generate_stream(
//!     &turns,
//!     &PrepareOptions { compression: Some(true), ..PrepareOptions::default() },
//!     &GenerateOptions::default(),
//!     |piece| print!("{piece}"),
//! )?;
//! println!("\n{} visual tokens kept of {}", answer.counts.visual_after, answer.counts.visual_before);
//! # Ok(())
//! # }
//! ```
//!
//! A conversation ([`Turn`]s of text and visual [`Item`]s) is rendered by the checkpoint's
//! [`ChatTemplate`], encoded by its [`Tokenizer`], and each image placeholder is expanded to
//! one id per visual token ([`expand_image_tokens`]). The way to decoder input is a chain of
//! named [`stages`] (render, preprocess, encode, compress, splice) that [`HuluMed::prepare`]
//! composes; generation is one loop ([`engine`]): logits go through a [`Sampler`], the ids
//! come back as text through a [`TextStream`] (UTF-8 safe pieces, stop strings, `<think>`
//! removal), and a streaming callback can stop it ([`StreamControl`]).
//!
//! What the example needs is re-exported here: `tch`'s [`Device`] and [`Kind`], the media
//! types of `hulu-io` ([`Visual`], [`VisualKind`], [`RgbFrame`]) and the window presets
//! ([`Window`]).

mod error;
mod files;
mod held;

pub mod batch;
pub mod batcher;
pub mod config;
pub mod conversation;
pub mod encoder_cache;
pub mod engine;
pub mod expand;
pub mod generate;
pub mod hub;
pub mod layout;
mod messages;
pub mod model;
pub mod prefix;
pub mod prepare;
pub mod sampling;
pub mod sources;
pub mod stages;
pub mod stop;
pub mod stream;
pub mod template;
pub mod think;
pub mod tokenizer;

pub use batcher::{Batcher, RowEvent};
pub use config::{GenerationConfig, HuluConfig, TokenIds};
pub use conversation::{Item, Turn};
pub use encoder_cache::{CacheUse, EncoderCache};
pub use engine::{greedy, GreedyOptions, StreamControl};
pub use error::{Error, Result};
pub use expand::{encode_with_images, expand_image_tokens, image_token_id, tokens_per_placeholder};
pub use generate::{FinishReason, GenerateOptions, Generation, Timings};
pub use layout::expected_layout;
pub use messages::Role;
pub use model::{HuluMed, HuluMedBuilder};
pub use prefix::PrefixCache;
pub use prepare::{PrepareOptions, PrepareTimings, Prepared, TokenCounts};
pub use sampling::{Sampler, SamplingOptions};
pub use sources::{LoadOptions, VisualSource};
pub use stop::StopFilter;
pub use stream::{IncrementalDecoder, StreamStep, TextStream, TextStreamOptions};
pub use template::{ChatTemplate, TemplateOptions};
pub use think::{strip_think, ThinkFilter};
pub use tokenizer::Tokenizer;

pub use hulu_io::dicom::{MixedOrientation, SeriesChoice};
pub use hulu_io::nifti::{SliceAxis, Window};
pub use hulu_io::{Limits, RgbFrame, Visual, VisualKind};
pub use tch::{Device, Kind};
