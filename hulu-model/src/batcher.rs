//! Continuous batching, step by step: prompts join one running decode batch and finished or
//! cancelled rows leave it between decode steps ([`hulu_llm::BatchCache`]), so a server
//! decodes every active request in one forward pass per token.
//!
//! Each [`Batcher::step`] runs at most one prefill chunk ([`hulu_llm::PREFILL_CHUNK_TOKENS`]
//! columns) of the oldest waiting prompt, then one decode step of the batch: a newcomer's
//! prefill never stalls the running rows for longer than one chunk. A row generates what it
//! would generate alone (same sampler, seed, stop rules as
//! [`HuluMed::generate_prepared`]); `hulu-llm/tests/join.rs` shows the cache side of that.
//!
//! The batch lives in one [`KvCache`] of `capacity` columns; a prompt whose first token is
//! ready waits (holding its own cache) until the batch has room for it.

use crate::error::{Error, Result};
use crate::generate::{FinishReason, GenerateOptions, Generation, Row, Timings};
use crate::model::HuluMed;
use crate::prefix::PrefixCache;
use crate::prepare::Prepared;
use hulu_llm::{BatchCache, KvCache, LogitsFor, PREFILL_CHUNK_TOKENS};
use std::time::{Duration, Instant};
use tch::Tensor;

/// What a step reports for one request.
#[derive(Debug)]
pub enum RowEvent {
    /// Visible text (UTF-8 complete, never empty).
    Text(String),
    /// The request finished; the text pieces concatenate to `Generation::text`.
    Finished(Generation),
}

/// A request being generated.
struct Active {
    key: u64,
    row: Row,
    /// The prompt's decoder input, `[L, hidden]`, kept for the prefix cache.
    prompt: Tensor,
    /// Prompt tokens that came from the prefix cache.
    reused: usize,
    /// The id fed at the next decode step.
    last: i64,
    /// Decode steps left.
    remaining: usize,
    prefill: Duration,
    decode_start: Instant,
}

/// A request whose prompt is being prefilled, chunk by chunk, into its own cache.
struct Pending {
    key: u64,
    row: Row,
    embeds: Tensor,
    at: usize,
    reused: usize,
    cache: KvCache,
    max_new: usize,
    prefill: Duration,
}

/// A prefilled request waiting for room in the batch.
struct Ready {
    active: Active,
    cache: KvCache,
}

/// The running batch.
pub struct Batcher<'m> {
    model: &'m HuluMed,
    capacity: usize,
    cache: Option<KvCache>,
    active: Vec<Active>,
    pending: Vec<Pending>,
    ready: Vec<Ready>,
    prefix: PrefixCache,
}

impl<'m> Batcher<'m> {
    /// An empty batch over `model` whose cache holds `capacity` columns (capped by the
    /// decoder's context): every row's prompt and new tokens, padding included.
    pub fn new(model: &'m HuluMed, capacity: usize) -> Self {
        Self::with_prefix_cache(model, capacity, PrefixCache::new(0))
    }

    /// [`Batcher::new`] keeping finished conversations in `prefix`: a prompt that starts with
    /// one of them (a follow-up question about the same study) prefills only its new tokens.
    pub fn with_prefix_cache(model: &'m HuluMed, capacity: usize, prefix: PrefixCache) -> Self {
        let capacity = capacity
            .min(model.decoder.config().max_position_embeddings)
            .max(1);
        Batcher {
            model,
            capacity,
            cache: None,
            active: Vec::new(),
            pending: Vec::new(),
            ready: Vec::new(),
            prefix,
        }
    }

    /// The prefix cache (conversations held, bytes).
    pub fn prefix_cache(&self) -> &PrefixCache {
        &self.prefix
    }

    /// Rows decoding now.
    pub fn rows(&self) -> usize {
        self.active.len()
    }

    /// Requests held (decoding, prefilling or waiting for room).
    pub fn len(&self) -> usize {
        self.active.len() + self.pending.len() + self.ready.len()
    }

    /// Whether no request is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes a prepared prompt under `key`; its prefill starts at the next [`Batcher::step`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSampling`] for out-of-range sampling options, [`Error::PromptTooLong`]
    /// when the prompt and `max_new_tokens` do not fit the batch's capacity, and the tensor
    /// errors of moving the prompt.
    pub fn admit(
        &mut self,
        key: u64,
        prepared: &Prepared,
        options: &GenerateOptions,
    ) -> Result<()> {
        options.sampling.validate()?;
        let len = prepared.lm_input_ids.len();
        let need = len + options.max_new_tokens;
        if need > self.capacity {
            return Err(Error::PromptTooLong {
                tokens: need,
                max: self.capacity,
            });
        }
        let decoder = self.model.decoder.as_ref();
        let embeds = prepared
            .inputs_embeds
            .f_to_device(decoder.device())?
            .f_to_kind(decoder.kind())?
            .f_unsqueeze(0)?;
        let row = Row::new(self.model, prepared, options, &self.model.eos_ids(), 0)?;
        // Full capacity: when the batch is empty this cache becomes the batch.
        let (cache, reused) = match self.prefix.lookup(&embeds.f_get(0)?, self.capacity)? {
            Some(hit) => hit,
            None => (decoder.new_cache(1, self.capacity)?, 0),
        };
        self.pending.push(Pending {
            key,
            row,
            embeds,
            at: reused,
            reused,
            cache,
            max_new: options.max_new_tokens,
            prefill: Duration::ZERO,
        });
        Ok(())
    }

    /// Drops request `key` wherever it is (its client left); `false` if it is not held.
    ///
    /// # Errors
    ///
    /// The cache's error when the row cannot leave.
    pub fn cancel(&mut self, key: u64) -> Result<bool> {
        if let Some(i) = self.pending.iter().position(|p| p.key == key) {
            self.pending.remove(i);
            return Ok(true);
        }
        if let Some(i) = self.ready.iter().position(|r| r.active.key == key) {
            self.ready.remove(i);
            return Ok(true);
        }
        if let Some(b) = self.active.iter().position(|a| a.key == key) {
            self.remove_row(b)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// One prefill chunk of the oldest waiting prompt, then one decode step of the batch.
    /// Runs without gradients.
    ///
    /// # Errors
    ///
    /// The decoder's, sampler's and detokeniser's errors (the batch is then unusable).
    pub fn step(&mut self) -> Result<Vec<(u64, RowEvent)>> {
        tch::no_grad(|| {
            let mut events = Vec::new();
            self.prefill_chunk(&mut events)?;
            self.join_ready()?;
            self.decode(&mut events)?;
            Ok(events)
        })
    }

    fn prefill_chunk(&mut self, events: &mut Vec<(u64, RowEvent)>) -> Result<()> {
        let Some(p) = self.pending.first_mut() else {
            return Ok(());
        };
        let t = Instant::now();
        let len = p.embeds.size()[1] as usize;
        let n = PREFILL_CHUNK_TOKENS.min(len - p.at);
        let last = p.at + n == len;
        let chunk = p.embeds.f_narrow(1, p.at as i64, n as i64)?;
        let out = self.model.decoder.prefill(
            &chunk,
            &mut p.cache,
            if last {
                LogitsFor::Last
            } else {
                LogitsFor::None
            },
        )?;
        p.at += n;
        p.prefill += t.elapsed();
        if !last {
            return Ok(());
        }
        let mut p = self.pending.remove(0);
        let logits = out
            .logits
            .ok_or_else(|| Error::Assembly("decoder returned no logits".into()))?
            .f_reshape([1, -1])?
            .f_get(0)?;
        let piece = p.row.step(&logits)?;
        if !piece.is_empty() {
            events.push((p.key, RowEvent::Text(piece)));
        }
        let active = Active {
            key: p.key,
            prompt: p.embeds.f_get(0)?,
            reused: p.reused,
            last: p.row.ids.last().copied().unwrap_or(0),
            remaining: p.max_new - 1,
            prefill: p.prefill,
            decode_start: Instant::now(),
            row: p.row,
        };
        if active.row.done || active.remaining == 0 {
            let decoder = self.model.decoder.as_ref();
            self.prefix
                .keep(decoder, &active.prompt, &active.row.ids, &p.cache, 0)?;
            finish(active, events)?;
        } else {
            self.ready.push(Ready {
                active,
                cache: p.cache,
            });
        }
        Ok(())
    }

    /// Moves prefilled requests into the batch while it has room for them.
    fn join_ready(&mut self) -> Result<()> {
        while let Some(r) = self.ready.first() {
            let len = r.cache.len();
            let fits = match &self.cache {
                None => true,
                Some(cache) => {
                    let remaining = self
                        .active
                        .iter()
                        .map(|a| a.remaining)
                        .chain([r.active.remaining])
                        .max()
                        .unwrap_or(0);
                    cache.len().max(len) + remaining <= self.capacity
                }
            };
            if !fits {
                break;
            }
            let r = self.ready.remove(0);
            match &mut self.cache {
                None => self.cache = Some(r.cache),
                Some(cache) => {
                    cache.join(r.cache)?;
                }
            }
            self.active.push(r.active);
        }
        Ok(())
    }

    fn decode(&mut self, events: &mut Vec<(u64, RowEvent)>) -> Result<()> {
        let Some(cache) = self.cache.as_mut() else {
            return Ok(());
        };
        let device = self.model.decoder.device();
        let ids: Vec<i64> = self.active.iter().map(|a| a.last).collect();
        let logits = self
            .model
            .decoder
            .decode_step(&Tensor::f_from_slice(&ids)?.f_to_device(device)?, cache)?;
        let mut finished = Vec::new();
        for (b, a) in self.active.iter_mut().enumerate() {
            let piece = a.row.step(&logits.f_get(b as i64)?)?;
            a.last = a.row.ids.last().copied().unwrap_or(0);
            a.remaining -= 1;
            if !piece.is_empty() {
                events.push((a.key, RowEvent::Text(piece)));
            }
            if a.row.done || a.remaining == 0 {
                finished.push(b);
            }
        }
        for &b in finished.iter().rev() {
            if let Some(cache) = &self.cache {
                let a = &self.active[b];
                self.prefix
                    .keep(self.model.decoder.as_ref(), &a.prompt, &a.row.ids, cache, b)?;
            }
            let a = self.remove_row(b)?;
            finish(a, events)?;
        }
        Ok(())
    }

    /// Takes row `b` out of the batch (and its cache).
    fn remove_row(&mut self, b: usize) -> Result<Active> {
        let a = self.active.remove(b);
        if self.active.is_empty() {
            self.cache = None;
        } else if let Some(cache) = &mut self.cache {
            cache.leave(b)?;
        }
        Ok(a)
    }
}

/// Reports a finished row: the text stream's held-back tail as a last piece, then its
/// generation.
fn finish(mut a: Active, events: &mut Vec<(u64, RowEvent)>) -> Result<()> {
    if a.row.finish != FinishReason::Cancelled {
        let rest = a.row.stream.finish()?;
        if !rest.is_empty() {
            a.row.text.push_str(&rest);
            events.push((a.key, RowEvent::Text(rest)));
        }
    }
    let timings = Timings {
        prefill: a.prefill,
        decode: a.decode_start.elapsed(),
        ..Timings::default()
    };
    let key = a.key;
    let mut generation = a.row.finish(timings)?;
    generation.reused_tokens = a.reused;
    events.push((key, RowEvent::Finished(generation)));
    Ok(())
}
