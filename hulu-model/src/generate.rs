//! Generation: prefill the prepared prompt, then one token at a time with the KV cache, picking
//! tokens with a [`Sampler`], streaming UTF-8-safe text, stopping on EOS ids and stop strings.

use crate::conversation::Turn;
use crate::engine::{self, Pick, StreamControl};
use crate::error::{Error, Result};
use crate::model::HuluMed;
use crate::prefix::PrefixCache;
use crate::prepare::{PrepareOptions, Prepared, TokenCounts};
use crate::sampling::{logits_to_vec, Sampler, SamplingOptions};
use crate::stream::{TextStream, TextStreamOptions};
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
    /// The streaming callback asked to stop (see [`StreamControl`]).
    Cancelled,
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
    /// Prompt tokens whose keys and values came from a [`PrefixCache`] instead of the
    /// prefill (0 without one).
    pub reused_tokens: usize,
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

    /// Answers the conversation (which should end with a user turn). Runs without gradients.
    ///
    /// # Errors
    ///
    /// Those of [`HuluMed::prepare`] and [`HuluMed::generate_prepared_batch`].
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
    /// returned text. `on_text` returns `()` to go on, or a [`std::ops::ControlFlow`] whose
    /// `Break` ends generation after that piece ([`FinishReason::Cancelled`]).
    ///
    /// # Errors
    ///
    /// Those of [`HuluMed::prepare`] and [`HuluMed::generate_prepared_batch`].
    pub fn generate_stream<R: StreamControl>(
        &self,
        turns: &[Turn],
        prepare: &PrepareOptions,
        options: &GenerateOptions,
        on_text: impl FnMut(&str) -> R,
    ) -> Result<Generation> {
        let start = Instant::now();
        let prepared = self.prepare(turns, prepare)?;
        let prepare_time = start.elapsed();
        let mut generation = self.generate_prepared(&prepared, options, on_text)?;
        generation.timings.prepare = prepare_time;
        Ok(generation)
    }

    /// Generates from an already prepared prompt; `on_text` as for
    /// [`HuluMed::generate_stream`].
    ///
    /// # Errors
    ///
    /// Those of [`HuluMed::generate_prepared_batch`].
    pub fn generate_prepared<R: StreamControl>(
        &self,
        prepared: &Prepared,
        options: &GenerateOptions,
        mut on_text: impl FnMut(&str) -> R,
    ) -> Result<Generation> {
        let mut out =
            self.generate_prepared_batch(&[prepared], options, |_, piece| on_text(piece))?;
        Ok(out.remove(0))
    }

    /// [`HuluMed::generate_prepared`] reusing the keys and values of the longest prefix of
    /// the prompt that `prefix` holds (the earlier turns of a chat, an earlier question about
    /// the same study), and adding this conversation (prompt and answer) to it: only the new
    /// tokens are prefilled. [`Generation::reused_tokens`] says how many were not.
    ///
    /// The answer is the one [`HuluMed::generate_prepared`] gives up to floating-point
    /// rounding: reused keys and values of generated tokens were computed one step at a time,
    /// where a fresh prefill computes them together.
    ///
    /// # Errors
    ///
    /// As [`HuluMed::generate_prepared_batch`].
    pub fn generate_prepared_reusing<R: StreamControl>(
        &self,
        prepared: &Prepared,
        options: &GenerateOptions,
        prefix: &mut PrefixCache,
        mut on_text: impl FnMut(&str) -> R,
    ) -> Result<Generation> {
        let _span =
            tracing::info_span!("generate_reusing", max_new = options.max_new_tokens).entered();
        options.sampling.validate()?;
        let len = prepared.lm_input_ids.len();
        let capacity = len + options.max_new_tokens;
        let max = self.decoder.config().max_position_embeddings;
        if capacity > max {
            return Err(Error::PromptTooLong {
                tokens: capacity,
                max,
            });
        }
        let decoder = self.decoder.as_ref();
        let mut row = Row::new(self, prepared, options, &self.eos_ids(), 0)?;
        let (timings, reused) = tch::no_grad(|| -> Result<_> {
            let embeds = prepared
                .inputs_embeds
                .f_to_device(decoder.device())?
                .f_to_kind(decoder.kind())?;
            let (mut cache, reused) = match prefix.lookup(&embeds, capacity)? {
                Some(hit) => hit,
                None => (decoder.new_cache(1, capacity.max(1))?, 0),
            };
            let suffix = embeds.f_narrow(0, reused as i64, (len - reused) as i64)?;
            let run = engine::run_cached(
                decoder,
                &mut cache,
                &suffix,
                options.max_new_tokens,
                |_, logits| {
                    let piece = row.step(logits)?;
                    if !piece.is_empty() && on_text(&piece).flow().is_break() {
                        row.finish = FinishReason::Cancelled;
                        row.done = true;
                    }
                    Ok(Pick {
                        id: row.ids.last().copied().unwrap_or(0),
                        done: row.done,
                    })
                },
            )?;
            prefix.keep(decoder, &embeds, &row.ids, &cache, 0)?;
            Ok((run, reused))
        })?;
        if row.finish != FinishReason::Cancelled {
            let rest = row.stream.finish()?;
            if !rest.is_empty() {
                let _ = on_text(&rest).flow();
                row.text.push_str(&rest);
            }
        }
        let mut generation = row.finish(Timings {
            prefill: timings.prefill,
            decode: timings.decode,
            ..Timings::default()
        })?;
        generation.reused_tokens = reused;
        Ok(generation)
    }

    /// Answers several conversations together: their prompts are left-padded into one batch
    /// (padding masked out, so each row generates what it would alone) and decoded step by
    /// step until every row has finished. Row `i` of a sampled batch uses seed
    /// `options.sampling.seed + i`.
    ///
    /// # Errors
    ///
    /// Those of [`HuluMed::prepare`] and [`HuluMed::generate_prepared_batch`].
    pub fn generate_batch(
        &self,
        conversations: &[Vec<Turn>],
        prepare: &PrepareOptions,
        options: &GenerateOptions,
    ) -> Result<Vec<Generation>> {
        let start = Instant::now();
        let prepared = conversations
            .iter()
            .map(|turns| self.prepare(turns, prepare))
            .collect::<Result<Vec<_>>>()?;
        let prepare_time = start.elapsed();
        let refs: Vec<&Prepared> = prepared.iter().collect();
        let mut out = self.generate_prepared_batch(&refs, options, |_, _| {})?;
        for g in &mut out {
            g.timings.prepare = prepare_time;
        }
        Ok(out)
    }

    /// Generates for a batch of prepared prompts; `on_text(row, piece)` receives each row's
    /// visible text as it completes and may stop that row (see [`StreamControl`]). Runs
    /// without gradients.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSampling`] for out-of-range sampling options, [`Error::PromptTooLong`]
    /// when the longest prompt plus `max_new_tokens` exceeds the decoder's context, and the
    /// decoder's, sampler's or detokeniser's errors.
    pub fn generate_prepared_batch<R: StreamControl>(
        &self,
        prepared: &[&Prepared],
        options: &GenerateOptions,
        mut on_text: impl FnMut(usize, &str) -> R,
    ) -> Result<Vec<Generation>> {
        let _span = tracing::info_span!(
            "generate",
            batch = prepared.len(),
            max_new = options.max_new_tokens
        )
        .entered();
        options.sampling.validate()?;
        if prepared.is_empty() {
            return Ok(Vec::new());
        }
        let width = prepared
            .iter()
            .map(|p| p.lm_input_ids.len())
            .max()
            .unwrap_or(0);
        let max = self.decoder.config().max_position_embeddings;
        if width + options.max_new_tokens > max {
            return Err(Error::PromptTooLong {
                tokens: width + options.max_new_tokens,
                max,
            });
        }
        let eos = self.eos_ids();
        let mut rows = prepared
            .iter()
            .enumerate()
            .map(|(i, p)| Row::new(self, p, options, &eos, i as u64))
            .collect::<Result<Vec<_>>>()?;
        let embeds: Vec<&Tensor> = prepared.iter().map(|p| &p.inputs_embeds).collect();
        let run = tch::no_grad(|| {
            engine::run(
                self.decoder.as_ref(),
                &embeds,
                options.max_new_tokens,
                width + options.max_new_tokens,
                |b, logits| {
                    let row = &mut rows[b];
                    let piece = row.step(logits)?;
                    if !piece.is_empty() && on_text(b, &piece).flow().is_break() {
                        row.finish = FinishReason::Cancelled;
                        row.done = true;
                    }
                    Ok(Pick {
                        id: row.ids.last().copied().unwrap_or(0),
                        done: row.done,
                    })
                },
            )
        })?;
        let timings = Timings {
            prefill: run.prefill,
            decode: run.decode,
            ..Timings::default()
        };
        rows.into_iter()
            .enumerate()
            .map(|(b, mut row)| {
                // A cancelled row's caller has stopped listening: nothing more is handed over.
                if row.finish != FinishReason::Cancelled {
                    let rest = row.stream.finish()?;
                    if !rest.is_empty() {
                        // The last piece: there is nothing left to stop.
                        let _ = on_text(b, &rest).flow();
                        row.text.push_str(&rest);
                    }
                }
                row.finish(timings)
            })
            .collect()
    }
}

/// The generation state of one sequence of a batch (also a row of the continuous
/// [`Batcher`](crate::batcher::Batcher)).
pub(crate) struct Row {
    sampler: Sampler,
    pub(crate) stream: TextStream,
    history: Vec<u32>,
    pub(crate) ids: Vec<i64>,
    pub(crate) text: String,
    pub(crate) finish: FinishReason,
    pub(crate) done: bool,
    options: GenerateOptions,
    eos: Vec<i64>,
    vocab: usize,
    tokenizer_vocab: usize,
    counts: TokenCounts,
}

impl Row {
    pub(crate) fn new(
        model: &HuluMed,
        prepared: &Prepared,
        options: &GenerateOptions,
        eos: &[i64],
        row: u64,
    ) -> Result<Self> {
        let mut sampling = options.sampling.clone();
        sampling.seed = sampling.seed.wrapping_add(row);
        Ok(Row {
            sampler: Sampler::new(sampling)?,
            stream: TextStream::new(
                model.tokenizer.clone(),
                TextStreamOptions {
                    skip_special: true,
                    stop_strings: options.stop_strings.clone(),
                    strip_think: options.strip_think,
                },
            ),
            history: prepared.lm_input_ids.iter().map(|&id| id as u32).collect(),
            ids: Vec::new(),
            text: String::new(),
            finish: FinishReason::MaxTokens,
            done: false,
            options: options.clone(),
            eos: eos.to_vec(),
            vocab: model.decoder.config().vocab_size,
            tokenizer_vocab: model.tokenizer.vocab_size(),
            counts: prepared.counts.clone(),
        })
    }

    /// Picks the next id from this row's logits; returns the visible text it completes.
    pub(crate) fn step(&mut self, logits: &Tensor) -> Result<String> {
        let mut row = logits_to_vec(logits)?;
        if self.options.suppress_eos {
            for &id in &self.eos {
                if let Some(v) = row.get_mut(id as usize) {
                    *v = f32::NEG_INFINITY;
                }
            }
        }
        let id = self
            .sampler
            .sample(&row[..self.vocab.min(row.len())], &self.history)?;
        self.ids.push(i64::from(id));
        self.history.push(id);
        if self.options.stop_on_eos
            && !self.options.suppress_eos
            && self.eos.contains(&i64::from(id))
        {
            self.finish = FinishReason::Eos;
            self.done = true;
            return Ok(String::new());
        }
        if id as usize >= self.tokenizer_vocab {
            // Ids of the padded embedding rows past the tokenizer have no text (as
            // `transformers` decodes them): nothing to show, generation goes on.
            return Ok(String::new());
        }
        let piece = self.stream.push(id)?;
        self.text.push_str(&piece.text);
        if piece.stopped {
            self.finish = FinishReason::StopString;
            self.done = true;
        }
        Ok(piece.text)
    }

    pub(crate) fn finish(self, timings: Timings) -> Result<Generation> {
        Ok(Generation {
            ids: self.ids,
            text: self.text,
            finish: self.finish,
            counts: self.counts,
            timings,
            reused_tokens: 0,
        })
    }
}
