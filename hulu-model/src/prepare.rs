//! Conversation → decoder input, step by step as the reference does it: render the template,
//! preprocess every visual, expand each `<image>` to one id per visual token, encode, project,
//! compress, and splice the visual features into the token embeddings.

use crate::conversation::{to_messages, Turn};
use crate::error::{Error, Result};
use crate::expand::{encode_with_images, tokens_per_placeholder};
use crate::model::HuluMed;
use crate::template::TemplateOptions;
use hulu_compress::{
    apply_mask, CompressionOptions, FrameStats, KeepMask, MedicalCompressor, TokenCompressor,
};
use hulu_io::PatchGrid;
use hulu_vision::VisualInput;
use std::time::{Duration, Instant};
use tch::Tensor;

/// Per-call choices for turning a conversation into decoder input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrepareOptions {
    /// Compress visual tokens between slices/frames; `None`: the checkpoint's
    /// `use_token_compression`.
    pub compression: Option<bool>,
    /// Mean absolute pixel difference under which a token is dropped (default 0.1); setting it
    /// implies the medical compressor with otherwise default options.
    pub compression_threshold: Option<f64>,
    /// Merge size for volumes and videos (default 2; images always use 1).
    pub merge_size: Option<usize>,
    /// Pixel budget in patches shared by every visual of the call (default from
    /// `preprocessor_config.json`).
    pub max_visual_tokens: Option<usize>,
    /// Let VideoLLaMA3-style templates prepend their own system prompt.
    pub add_system_prompt: bool,
}

/// Token accounting of one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// Text tokens of the prompt (everything but visual tokens).
    pub text: usize,
    /// Visual tokens after the in-plane merge, before compression.
    pub visual_before: usize,
    /// Visual tokens the decoder sees.
    pub visual_after: usize,
}

impl TokenCounts {
    /// Tokens the decoder sees.
    pub fn total(&self) -> usize {
        self.text + self.visual_after
    }

    /// `visual_after / visual_before` (1 without visuals).
    pub fn compression_ratio(&self) -> f64 {
        if self.visual_before == 0 {
            1.0
        } else {
            self.visual_after as f64 / self.visual_before as f64
        }
    }
}

/// Time spent in each preparation stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PrepareTimings {
    /// Template, tokenizer and image processor (frames → pixel values).
    pub preprocess: Duration,
    /// Vision encoder and projector.
    pub vision: Duration,
    /// Compression mask, dropping tokens, splicing into the embeddings.
    pub compress: Duration,
}

/// Everything computed on the way from a conversation to the decoder, kept for inspection and
/// parity checks.
#[derive(Debug)]
pub struct Prepared {
    /// The rendered template, before `<image>` expansion.
    pub prompt: String,
    /// Prompt ids with each `<image>` expanded to one id per merged visual token.
    pub input_ids: Vec<i64>,
    /// Ids the decoder sees (shorter than `input_ids` when compression dropped tokens).
    pub lm_input_ids: Vec<i64>,
    /// Patch grid of each visual input.
    pub grids: Vec<PatchGrid>,
    /// Merge size of each visual input.
    pub merge_sizes: Vec<usize>,
    /// Preprocessed patches `[N, 588]` in the model's dtype (absent without visuals).
    pub pixel_values: Option<Tensor>,
    /// Vision encoder output after the merge, `[Σ merged tokens, Cv]`.
    pub vision_features: Option<Tensor>,
    /// Projected features, `[Σ merged tokens, H]`, before compression.
    pub mm_features: Option<Tensor>,
    /// The keep mask (all true without compression).
    pub keep: Vec<bool>,
    /// Tokens in and kept for every frame of every visual.
    pub frames: Vec<FrameStats>,
    /// Token embeddings with visual features spliced in, `[L', H]`.
    pub inputs_embeds: Tensor,
    /// Token accounting.
    pub counts: TokenCounts,
    /// Time per stage.
    pub timings: PrepareTimings,
}

impl HuluMed {
    /// Turns a conversation into decoder input (see [`Prepared`]). The rendered prompt ends
    /// with the opening of an assistant turn.
    pub fn prepare(&self, turns: &[Turn], options: &PrepareOptions) -> Result<Prepared> {
        let _span = tracing::info_span!("prepare", turns = turns.len()).entered();
        let start = Instant::now();
        let mut timings = PrepareTimings::default();
        let messages = to_messages(turns);
        let prompt = {
            let _span = tracing::info_span!("render_template").entered();
            self.template.render_with(
                &messages,
                &TemplateOptions {
                    add_generation_prompt: true,
                    add_system_prompt: options.add_system_prompt,
                    ..TemplateOptions::default()
                },
            )?
        };
        let visuals: Vec<_> = turns.iter().flat_map(Turn::visuals).collect();
        let image_token = self.image_token_id();
        let image_token_u32 =
            u32::try_from(image_token).map_err(|_| Error::InvalidImageToken(image_token))?;

        if visuals.is_empty() {
            let ids = encode_with_images(&self.tokenizer, &prompt, image_token_u32, &[])?;
            let ids: Vec<i64> = ids.into_iter().map(i64::from).collect();
            let inputs_embeds = self.embed_ids(&ids)?;
            let counts = TokenCounts {
                text: ids.len(),
                ..TokenCounts::default()
            };
            self.check_length(ids.len())?;
            return Ok(Prepared {
                prompt,
                input_ids: ids.clone(),
                lm_input_ids: ids,
                grids: Vec::new(),
                merge_sizes: Vec::new(),
                pixel_values: None,
                vision_features: None,
                mm_features: None,
                keep: Vec::new(),
                frames: Vec::new(),
                inputs_embeds,
                counts,
                timings: PrepareTimings {
                    preprocess: start.elapsed(),
                    ..timings
                },
            });
        }

        let inputs: Vec<VisualInput> = visuals
            .iter()
            .map(|v| {
                let default = VisualInput::with_default_merge(v);
                match (options.merge_size, v.kind) {
                    (Some(m), hulu_io::VisualKind::Volume | hulu_io::VisualKind::Video) => {
                        VisualInput::new(v, m)
                    }
                    _ => default,
                }
            })
            .collect();
        let processed = {
            let _span = tracing::info_span!("preprocess", inputs = inputs.len()).entered();
            match options.max_visual_tokens {
                None => self.processor.process(&inputs)?,
                Some(budget) => {
                    let mut config = self.preprocessor.clone();
                    config.max_tokens = budget;
                    hulu_vision::ImageProcessor::new(&config)?.process(&inputs)?
                }
            }
        };
        let counts_per_placeholder =
            tokens_per_placeholder(&processed.grids, &processed.merge_sizes)?;
        let input_ids: Vec<i64> = encode_with_images(
            &self.tokenizer,
            &prompt,
            image_token_u32,
            &counts_per_placeholder,
        )?
        .into_iter()
        .map(i64::from)
        .collect();

        timings.preprocess = start.elapsed();
        let vision_start = Instant::now();
        let pixel_values = processed
            .to_tensor()?
            .f_to_device(self.device)?
            .f_to_kind(self.kind)?;
        let grids = processed.grids.clone();
        let merge_sizes = processed.merge_sizes.clone();
        let (vision_features, mm_features) = tch::no_grad(|| -> Result<(Tensor, Tensor)> {
            let _span = tracing::info_span!("vision", patches = processed.num_patches()).entered();
            let features = self.vision.encode(&pixel_values, &grids, &merge_sizes)?;
            let _span = tracing::info_span!("project").entered();
            let projected = self.projector.forward(&features)?;
            Ok((features, projected))
        })?;

        timings.vision = vision_start.elapsed();
        let compress_start = Instant::now();
        let compress = options
            .compression
            .unwrap_or(self.config.use_token_compression);
        let mask = {
            let _span = tracing::info_span!("compress", enabled = compress).entered();
            if !compress {
                KeepMask::keep_all(&grids, &merge_sizes)?
            } else if let Some(threshold) = options.compression_threshold {
                MedicalCompressor::new(CompressionOptions {
                    threshold,
                    ..CompressionOptions::default()
                })?
                .keep_mask(&pixel_values, &grids, &merge_sizes)?
            } else {
                self.compressor
                    .keep_mask(&pixel_values, &grids, &merge_sizes)?
            }
        };
        let compressed = apply_mask(&mm_features, &input_ids, image_token, &mask)?;
        let lm_input_ids = compressed.ids;
        self.check_length(lm_input_ids.len())?;
        let inputs_embeds = self.splice(&lm_input_ids, &compressed.features)?;
        let visual_before = mask.len();
        let visual_after = mask.kept();
        timings.compress = compress_start.elapsed();
        let counts = TokenCounts {
            text: lm_input_ids.len() - visual_after,
            visual_before,
            visual_after,
        };
        Ok(Prepared {
            prompt,
            input_ids,
            lm_input_ids,
            grids,
            merge_sizes,
            pixel_values: Some(pixel_values),
            vision_features: Some(vision_features),
            mm_features: Some(mm_features),
            keep: mask.into_vec(),
            frames: compressed.frames,
            inputs_embeds,
            counts,
            timings,
        })
    }

    /// Token embeddings of `ids`, `[L, H]`.
    fn embed_ids(&self, ids: &[i64]) -> Result<Tensor> {
        let ids = Tensor::from_slice(ids).f_to_device(self.device)?;
        Ok(tch::no_grad(|| self.decoder.embed(&ids))?)
    }

    /// Embeddings of `ids` with the rows of `features` placed, in order, at the image tokens.
    fn splice(&self, ids: &[i64], features: &Tensor) -> Result<Tensor> {
        let _span = tracing::info_span!("splice").entered();
        let image_token = self.image_token_id();
        let positions: Vec<i64> = ids
            .iter()
            .enumerate()
            .filter(|(_, &id)| id == image_token)
            .map(|(i, _)| i as i64)
            .collect();
        let rows = features.size().first().copied().unwrap_or(0) as usize;
        if positions.len() != rows {
            return Err(Error::VisualTokenMismatch {
                image_tokens: positions.len(),
                features: rows,
            });
        }
        let embeds = self.embed_ids(ids)?;
        if positions.is_empty() {
            return Ok(embeds);
        }
        let index = Tensor::from_slice(&positions).f_to_device(self.device)?;
        let features = features.f_to_kind(embeds.kind())?;
        Ok(embeds.f_index_copy(0, &index, &features)?)
    }

    /// A prompt of `len` tokens must leave room for at least one new token.
    fn check_length(&self, len: usize) -> Result<()> {
        let max = self.decoder.config().max_position_embeddings;
        if len >= max {
            return Err(Error::PromptTooLong { tokens: len, max });
        }
        Ok(())
    }
}
