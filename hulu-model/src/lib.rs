//! The text side of the Hulu-Med runtime: tokenizer, chat template, `<image>` expansion,
//! sampling and streaming detokenisation.
//!
//! A conversation ([`Message`]s of text, image and video/volume [`Part`]s) is rendered by the
//! checkpoint's [`ChatTemplate`], encoded by its [`Tokenizer`], and each image placeholder is
//! expanded to one id per visual token ([`expand_image_tokens`]). Generated logits go through
//! a [`Sampler`]; the ids come back as text through a [`TextStream`] (UTF-8 safe pieces, stop
//! strings, `<think>` removal).

mod error;
mod files;
mod held;

pub mod config;
pub mod conversation;
pub mod expand;
pub mod generate;
pub mod layout;
pub mod messages;
pub mod model;
pub mod prepare;
pub mod sampling;
pub mod sources;
pub mod stop;
pub mod stream;
pub mod template;
pub mod think;
pub mod tokenizer;

pub use config::{GenerationConfig, HuluConfig, TokenIds};
pub use conversation::{Item, Turn};
pub use error::{Error, Result};
pub use expand::{encode_with_images, expand_image_tokens, image_token_id, tokens_per_placeholder};
pub use generate::{FinishReason, GenerateOptions, Generation, Timings};
pub use layout::expected_layout;
pub use messages::{Content, Message, Part, Role};
pub use model::{HuluMed, HuluMedBuilder};
pub use prepare::{PrepareOptions, PrepareTimings, Prepared, TokenCounts};
pub use sampling::{Sampler, SamplingOptions};
pub use sources::{LoadOptions, VisualSource};
pub use stop::StopFilter;
pub use stream::{IncrementalDecoder, StreamStep, TextStream, TextStreamOptions};
pub use template::{ChatTemplate, TemplateOptions};
pub use think::{strip_think, ThinkFilter};
pub use tokenizer::Tokenizer;
