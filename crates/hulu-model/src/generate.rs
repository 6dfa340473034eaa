//! Generation: prefill the prepared prompt, then one token at a time with the KV cache, picking
//! tokens with a [`Sampler`], streaming UTF-8-safe text, stopping on EOS ids and stop strings.

use crate::conversation::Turn;
use crate::error::{Error, Result};
use crate::model::HuluMed;
use crate::prepare::{PrepareOptions, Prepared, TokenCounts};
use crate::sampling::{logits_to_vec, Sampler, SamplingOptions};
use crate::stream::{TextStream, TextStreamOptions};
use hulu_llm::LogitsFor;
use std::time::{Duration, Instant};
use tch::Tensor;

/// Per-call generation choices.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Most tokens to generate.
    pub max_new_tokens: usize,
    /// How tokens are picked (default: greedy).
    pub sampling: SamplingOptions,
    /// Stop on the checkpoint's EOS ids (`generation_config.json`, else `config.json`).
    pub stop_on_eos: bool,
    /// Never pick an EOS id (fixed-length continuations, as the parity fixtures use).
    pub suppress_eos: bool,
    /// Stop when the text contains one of these; the text is cut before it.
    pub stop_strings: Vec<String>,
    /// Remove `<think>…</think>` from the visible text.
    pub strip_think: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_new_tokens: 256,
            sampling: SamplingOptions::greedy(),
            stop_on_eos: true,
            suppress_eos: false,
            stop_strings: Vec::new(),
            strip_think: false,
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// An EOS id was generated.
    Eos,
    /// A stop string appeared in the text.
    StopString,
    /// `max_new_tokens` were generated.
    MaxTokens,
}

/// Time spent in each stage of one generation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Conversation → decoder input (preprocess, vision, compression, splice).
    pub prepare: Duration,
    /// The prompt's forward pass.
    pub prefill: Duration,
    /// Every decode step after the first token.
    pub decode: Duration,
}

impl Timings {
    /// Prepare + prefill: the wait for the first token.
    pub fn time_to_first_token(&self) -> Duration {
        self.prepare + self.prefill
    }
}

/// One answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// Generated ids, the EOS id included when it ended generation.
    pub ids: Vec<i64>,
    /// Visible text (special tokens skipped, stop string cut, reasoning removed on request).
    pub text: String,
    /// Why generation ended.
    pub finish: FinishReason,
    /// Token accounting of the prompt.
    pub counts: TokenCounts,
    /// Time per stage.
    pub timings: Timings,
}

impl Generation {
    /// Decode tokens per second (tokens after the first over the decode time).
    pub fn decode_tokens_per_second(&self) -> f64 {
        let steps = self.ids.len().saturating_sub(1) as f64;
        let secs = self.timings.decode.as_secs_f64();
        if secs > 0.0 {
            steps / secs
        } else {
            0.0
        }
    }

    /// Prefill tokens per second.
    pub fn prefill_tokens_per_second(&self) -> f64 {
        let secs = self.timings.prefill.as_secs_f64();
        if secs > 0.0 {
            self.counts.total() as f64 / secs
        } else {
            0.0
        }
    }
}

impl HuluMed {
    /// The EOS ids generation stops on.
    pub fn eos_ids(&self) -> Vec<i64> {
        let ids = self.generation.eos_ids();
        if !ids.is_empty() {
            return ids;
        }
        self.config
            .eos_token_id
            .as_ref()
            .map(|e| e.to_vec())
            .unwrap_or_default()
    }

    /// The sampling defaults of the checkpoint's `generation_config.json` with `seed`.
    pub fn default_sampling(&self, seed: u64) -> SamplingOptions {
        SamplingOptions::from_generation_config(&self.generation, seed)
    }

    /// Answers the conversation (which should end with a user turn).
    pub fn generate(
        &self,
        turns: &[Turn],
        prepare: &PrepareOptions,
        options: &GenerateOptions,
    ) -> Result<Generation> {
        self.generate_stream(turns, prepare, options, |_| {})
    }

    /// Answers the conversation, handing each new piece of visible text to `on_text` as soon
    /// as it is complete (never a split UTF-8 character). The pieces concatenate to the
    /// returned text.
    pub fn generate_stream(
        &self,
        turns: &[Turn],
        prepare: &PrepareOptions,
        options: &GenerateOptions,
        on_text: impl FnMut(&str),
    ) -> Result<Generation> {
        let start = Instant::now();
        let prepared = self.prepare(turns, prepare)?;
        let prepare_time = start.elapsed();
        let mut generation = self.generate_prepared(&prepared, options, on_text)?;
        generation.timings.prepare = prepare_time;
        Ok(generation)
    }

    /// Generates from an already prepared prompt.
    pub fn generate_prepared(
        &self,
        prepared: &Prepared,
        options: &GenerateOptions,
        mut on_text: impl FnMut(&str),
    ) -> Result<Generation> {
        let _span = tracing::info_span!("generate", max_new = options.max_new_tokens).entered();
        options.sampling.validate()?;
        let prompt_len = prepared.lm_input_ids.len();
        let max = self.decoder.config().max_position_embeddings;
        if prompt_len + options.max_new_tokens > max {
            return Err(Error::PromptTooLong {
                tokens: prompt_len + options.max_new_tokens,
                max,
            });
        }
        let eos = self.eos_ids();
        let vocab = self.decoder.config().vocab_size;
        let mut sampler = Sampler::new(options.sampling.clone())?;
        let mut stream = TextStream::new(
            self.tokenizer.clone(),
            TextStreamOptions {
                skip_special: true,
                stop_strings: options.stop_strings.clone(),
                strip_think: options.strip_think,
            },
        );
        let mut history: Vec<u32> = prepared.lm_input_ids.iter().map(|&id| id as u32).collect();
        let mut ids = Vec::new();
        let mut text = String::new();
        let mut timings = Timings::default();
        let mut finish = FinishReason::MaxTokens;
        if options.max_new_tokens == 0 {
            return Ok(Generation {
                ids,
                text,
                finish,
                counts: prepared.counts.clone(),
                timings,
            });
        }

        let mut cache = self
            .decoder
            .new_cache(1, prompt_len + options.max_new_tokens)?;
        let t = Instant::now();
        let out = tch::no_grad(|| {
            self.decoder.prefill(
                &prepared.inputs_embeds.unsqueeze(0),
                &mut cache,
                LogitsFor::Last,
            )
        })?;
        let mut logits = out
            .logits
            .ok_or_else(|| Error::Assembly("decoder returned no logits".into()))?;
        timings.prefill = t.elapsed();
        let t = Instant::now();
        for step in 0..options.max_new_tokens {
            let mut row = logits_to_vec(&logits.get(0))?;
            if options.suppress_eos {
                for &id in &eos {
                    if let Some(v) = row.get_mut(id as usize) {
                        *v = f32::NEG_INFINITY;
                    }
                }
            }
            let id = sampler.sample(&row[..vocab.min(row.len())], &history)?;
            ids.push(i64::from(id));
            history.push(id);
            if options.stop_on_eos && !options.suppress_eos && eos.contains(&i64::from(id)) {
                finish = FinishReason::Eos;
                break;
            }
            let piece = stream.push(id)?;
            if !piece.text.is_empty() {
                on_text(&piece.text);
                text.push_str(&piece.text);
            }
            if piece.stopped {
                finish = FinishReason::StopString;
                break;
            }
            if step + 1 == options.max_new_tokens {
                break;
            }
            let next = Tensor::from_slice(&[i64::from(id)]).to_device(self.device);
            logits = tch::no_grad(|| self.decoder.decode_step(&next, &mut cache))?;
        }
        let rest = stream.finish()?;
        if !rest.is_empty() {
            on_text(&rest);
            text.push_str(&rest);
        }
        timings.decode = t.elapsed();
        Ok(Generation {
            ids,
            text,
            finish,
            counts: prepared.counts.clone(),
            timings,
        })
    }
}
