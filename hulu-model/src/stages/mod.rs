//! The stages from a conversation to decoder input, each a method of [`HuluMed`] with its own
//! input and output types, so a caller can cache one stage's output (a server keeps the
//! [`EncodedVisuals`] of a study for follow-up questions) or run them with gradients (a
//! trainer): [`HuluMed::prepare`](crate::HuluMed::prepare) is their composition, under `tch::no_grad`.
//!
//! 1. [`HuluMed::render_prompt`](crate::HuluMed::render_prompt): chat template and tokenizer ([`RenderedPrompt`]);
//! 2. [`HuluMed::preprocess_visuals`](crate::HuluMed::preprocess_visuals): frames to patches ([`PreprocessedVisuals`]);
//! 3. [`HuluMed::encode_visuals`](crate::HuluMed::encode_visuals): vision encoder and projector ([`EncodedVisuals`]);
//! 4. [`HuluMed::compress_visuals`](crate::HuluMed::compress_visuals): the configured compressor's keep-mask;
//! 5. [`HuluMed::splice_visuals`](crate::HuluMed::splice_visuals): expand `<image>`, drop what compression dropped, place the
//!    features in the token embeddings ([`Spliced`]).
//!
//! [`HuluMed`]: crate::HuluMed

mod compress;
mod encode;
mod render;
mod splice;
mod visuals;

pub use encode::EncodedVisuals;
pub use render::RenderedPrompt;
pub use splice::Spliced;
pub use visuals::PreprocessedVisuals;
