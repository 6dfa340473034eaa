//! Conversation → decoder input, step by step as the reference does it: render the template,
//! preprocess every visual, expand each `<image>` to one id per visual token, encode, project,
//! compress, and splice the visual features into the token embeddings. Each step is a stage
//! of [`crate::stages`]; [`HuluMed::prepare`] composes them for inference.

use crate::conversation::Turn;
use crate::encoder_cache::{CacheUse, EncoderCache};
use crate::error::Result;
use crate::model::HuluMed;
use hulu_compress::FrameStats;
use hulu_io::MergedGrid;
use std::time::{Duration, Instant};
use tch::Tensor;

/// Per-call choices for turning a conversation into decoder input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrepareOptions {
    /// Compress visual tokens between slices/frames; `None`: the checkpoint's
    /// `use_token_compression`.
    pub compression: Option<bool>,
    /// Mean absolute pixel difference under which a token is dropped (the compressor's own
    /// default when `None`), handed to the configured compressor
    /// ([`TokenCompressor::with_threshold`](hulu_compress::TokenCompressor::with_threshold));
    /// a compressor without a threshold refuses it.
    pub compression_threshold: Option<f64>,
    /// Merge size for volumes and videos (default 2; images always use 1).
    pub merge_size: Option<usize>,
    /// Pixel budget in patches shared by every visual of the call (default from
    /// `preprocessor_config.json`).
    pub max_visual_tokens: Option<usize>,
    /// Let VideoLLaMA3-style templates prepend their own system prompt.
    pub add_system_prompt: bool,
    /// More variables for the chat template, as `apply_chat_template(**kwargs)` passes them:
    /// Qwen3's `enable_thinking` (`false` renders an empty reasoning block so the model answers
    /// directly), `tools` (a list of JSON function schemas), or any other the checkpoint's
    /// template reads. They cannot override `messages`, `add_generation_prompt`,
    /// `add_system_prompt` or `image_token` ([`TemplateOptions::extra`](crate::TemplateOptions)).
    pub template_variables: serde_json::Map<String, serde_json::Value>,
    /// Encode the text of user and assistant turns literally: `<|im_end|>`, `<image>` and every
    /// other special string in it become plain characters, never control tokens. Set it
    /// wherever the text comes from someone other than the operator (a server's clients);
    /// system turns, the operator's, keep their special tokens. Default off: the reference
    /// reads special strings in any text.
    pub literal_text: bool,
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
    /// Patch grid and merge size of each visual input.
    pub grids: Vec<MergedGrid>,
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
    /// Turns a conversation into decoder input (see [`Prepared`]): the stages of
    /// [`crate::stages`] in order, without gradients. The rendered prompt ends with the
    /// opening of an assistant turn.
    ///
    /// # Errors
    ///
    /// Those of the stages: [`HuluMed::render_prompt`], [`HuluMed::preprocess_visuals`],
    /// [`RenderedPrompt::expand`](crate::stages::RenderedPrompt::expand) (placeholders that are
    /// not one per visual frame), [`HuluMed::encode_visuals`], [`HuluMed::compress_visuals`]
    /// and [`HuluMed::splice_visuals`].
    pub fn prepare(&self, turns: &[Turn], options: &PrepareOptions) -> Result<Prepared> {
        let _span = tracing::info_span!("prepare", turns = turns.len()).entered();
        tch::no_grad(|| self.prepare_stages(turns, options, None)).map(|(prepared, _)| prepared)
    }

    /// [`HuluMed::prepare`] with each visual's features looked up in (and added to) `cache`:
    /// a follow-up question about a study, or a chat turn after one that attached it, skips
    /// the encoder for that study. The result is the one [`HuluMed::prepare`] gives.
    ///
    /// # Errors
    ///
    /// As [`HuluMed::prepare`].
    pub fn prepare_cached(
        &self,
        turns: &[Turn],
        options: &PrepareOptions,
        cache: &mut EncoderCache,
    ) -> Result<(Prepared, CacheUse)> {
        let _span = tracing::info_span!("prepare", turns = turns.len(), cached = true).entered();
        tch::no_grad(|| self.prepare_stages(turns, options, Some(cache)))
    }

    fn prepare_stages(
        &self,
        turns: &[Turn],
        options: &PrepareOptions,
        cache: Option<&mut EncoderCache>,
    ) -> Result<(Prepared, CacheUse)> {
        let start = Instant::now();
        let mut timings = PrepareTimings::default();
        let rendered = self.render_prompt(turns, options)?;
        let visuals: Vec<_> = turns.iter().flat_map(Turn::visuals).collect();
        let Some(pre) = self.preprocess_visuals(&visuals, options)? else {
            let input_ids = rendered.expand(&[])?;
            let spliced = self.splice_visuals(&input_ids, None)?;
            timings.preprocess = start.elapsed();
            let prepared = Prepared {
                prompt: rendered.prompt,
                input_ids,
                lm_input_ids: spliced.lm_input_ids,
                grids: Vec::new(),
                pixel_values: None,
                vision_features: None,
                mm_features: None,
                keep: Vec::new(),
                frames: Vec::new(),
                inputs_embeds: spliced.inputs_embeds,
                counts: spliced.counts,
                timings,
            };
            return Ok((prepared, CacheUse::default()));
        };
        // Before the encoder runs: a prompt that does not fit the visuals fails fast.
        let input_ids = rendered.expand(&pre.grids)?;
        timings.preprocess = start.elapsed();

        let t = Instant::now();
        let (encoded, used) = match cache {
            Some(cache) => cache.encode(self, &pre)?,
            None => (self.encode_visuals(&pre)?, CacheUse::default()),
        };
        timings.vision = t.elapsed();

        let t = Instant::now();
        let keep = self.compress_visuals(&pre, options)?;
        let spliced = self.splice_visuals(&input_ids, Some((&encoded, &keep)))?;
        timings.compress = t.elapsed();
        let prepared = Prepared {
            prompt: rendered.prompt,
            input_ids,
            lm_input_ids: spliced.lm_input_ids,
            grids: pre.grids,
            pixel_values: Some(pre.pixel_values),
            vision_features: Some(encoded.vision_features),
            mm_features: Some(encoded.mm_features),
            keep: keep.into_vec(),
            frames: spliced.frames,
            inputs_embeds: spliced.inputs_embeds,
            counts: spliced.counts,
            timings,
        };
        Ok((prepared, used))
    }
}
