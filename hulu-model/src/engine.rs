//! The generation loop, written once: prefill a left-padded batch of prompt embeddings, then
//! one decode step at a time with the decoder's KV cache, each row picking its next id with its
//! own policy until it finishes. [`HuluMed::generate`](crate::HuluMed::generate) (sampling,
//! streaming text, stop strings) and [`greedy`] (argmax over a bare decoder, as the parity
//! tests and benches use it) are two policies over this loop.
//!
//! The loop computes no gradients on its own account: the public entry points run it inside
//! `tch::no_grad`, so the stages it calls can also be run with gradients by a trainer.

use crate::error::{Error, Result};
use hulu_llm::{CausalDecoder, KvCache, LogitsFor};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};
use tch::{Kind, Tensor};

/// What a streaming callback returns: `()` to go on, or a [`ControlFlow`] whose `Break` stops
/// that sequence after the piece just handed over (a user closed the window, a client
/// disconnected); it then finishes with [`FinishReason::Cancelled`](crate::FinishReason).
pub trait StreamControl {
    /// Whether to go on.
    fn flow(self) -> ControlFlow<()>;
}

impl StreamControl for () {
    fn flow(self) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

impl StreamControl for ControlFlow<()> {
    fn flow(self) -> ControlFlow<()> {
        self
    }
}

/// A row's decision after seeing its logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pick {
    /// The id chosen (fed back to the decoder).
    pub id: i64,
    /// Whether the row has finished.
    pub done: bool,
}

/// Time spent in the loop's two phases.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LoopTimings {
    pub prefill: Duration,
    pub decode: Duration,
}

/// Prefills `prompts` (`[len, hidden]` each, lengths may differ) as one left-padded batch into
/// a cache of `capacity` columns, then calls `pick(row, logits)` for every unfinished row at
/// each of at most `max_new_tokens` steps. A finished row keeps decoding its last id; its
/// output is no longer read.
pub(crate) fn run(
    decoder: &dyn CausalDecoder,
    prompts: &[&Tensor],
    max_new_tokens: usize,
    capacity: usize,
    pick: impl FnMut(usize, &Tensor) -> Result<Pick>,
) -> Result<LoopTimings> {
    if prompts.is_empty() || max_new_tokens == 0 {
        return Ok(LoopTimings::default());
    }
    let t = Instant::now();
    let hidden = decoder.config().hidden_size as i64;
    let (kind, device) = (decoder.kind(), decoder.device());
    let lengths: Vec<usize> = prompts.iter().map(|p| p.size()[0] as usize).collect();
    let width = lengths.iter().copied().max().unwrap_or(0);
    let batch = Tensor::f_zeros([prompts.len() as i64, width as i64, hidden], (kind, device))?;
    for (row, (p, &n)) in prompts.iter().zip(&lengths).enumerate() {
        batch
            .f_get(row as i64)?
            .f_narrow(0, (width - n) as i64, n as i64)?
            .f_copy_(&p.f_to_device(device)?.f_to_kind(kind)?)?;
    }
    let mut cache = decoder.new_cache(prompts.len(), capacity.max(1))?;
    let logits = decoder
        .prefill_padded(&batch, &lengths, &mut cache, LogitsFor::Last)?
        .logits
        .ok_or_else(|| Error::Assembly("decoder returned no logits".into()))?;
    let prefill = t.elapsed();
    let decode = decode_loop(decoder, &mut cache, logits, max_new_tokens, pick)?;
    Ok(LoopTimings { prefill, decode })
}

/// One prompt whose first tokens are already in `cache` (one row): prefills the rest,
/// `suffix` (`[n, hidden]`, `n > 0`), then decodes as [`run`] does. The cache keeps every
/// token fed, for the next reuse.
pub(crate) fn run_cached(
    decoder: &dyn CausalDecoder,
    cache: &mut KvCache,
    suffix: &Tensor,
    max_new_tokens: usize,
    pick: impl FnMut(usize, &Tensor) -> Result<Pick>,
) -> Result<LoopTimings> {
    if max_new_tokens == 0 {
        return Ok(LoopTimings::default());
    }
    let t = Instant::now();
    let embeds = suffix
        .f_to_device(decoder.device())?
        .f_to_kind(decoder.kind())?
        .f_unsqueeze(0)?;
    let logits = decoder
        .prefill(&embeds, cache, LogitsFor::Last)?
        .logits
        .ok_or_else(|| Error::Assembly("decoder returned no logits".into()))?
        .f_reshape([1, -1])?;
    let prefill = t.elapsed();
    let decode = decode_loop(decoder, cache, logits, max_new_tokens, pick)?;
    Ok(LoopTimings { prefill, decode })
}

/// The decode steps after a prefill whose next-token logits (`[B, V]`) are `logits`.
fn decode_loop(
    decoder: &dyn CausalDecoder,
    cache: &mut KvCache,
    mut logits: Tensor,
    max_new_tokens: usize,
    mut pick: impl FnMut(usize, &Tensor) -> Result<Pick>,
) -> Result<Duration> {
    let t = Instant::now();
    let rows = cache.batch();
    let mut last = vec![0i64; rows];
    let mut done = vec![false; rows];
    for step in 0..max_new_tokens {
        for (row, finished) in done.iter_mut().enumerate() {
            if !*finished {
                let p = pick(row, &logits.f_get(row as i64)?)?;
                last[row] = p.id;
                *finished = p.done;
            }
        }
        if step + 1 == max_new_tokens || done.iter().all(|&d| d) {
            break;
        }
        let next = Tensor::f_from_slice(&last)?.f_to_device(decoder.device())?;
        logits = decoder.decode_step(&next, cache)?;
    }
    Ok(t.elapsed())
}

/// What [`greedy`] generates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GreedyOptions {
    /// Most tokens to generate per prompt.
    pub max_new_tokens: usize,
    /// A row stops after producing one of these (it is included in the output).
    pub stop_ids: Vec<i64>,
    /// Ids never chosen, e.g. the end-of-sequence ids to force a fixed-length continuation.
    pub suppress_ids: Vec<i64>,
}

/// Greedy continuation of each prompt (`[len, hidden]` embeddings, lengths may differ) by a
/// bare decoder, decoded together as one left-padded batch with a KV cache. Returns the new
/// ids per prompt. Runs without gradients.
///
/// # Errors
///
/// [`Error::Decoder`] for no prompts, a prompt that is not a floating `[len, hidden]` tensor
/// with `len > 0`, or a suppressed id outside the vocabulary; [`Error::PromptTooLong`] when the
/// longest prompt plus the new tokens exceeds the decoder's context; [`Error::Decoder`] or
/// [`Error::Tensor`] when the decoder fails.
pub fn greedy(
    decoder: &dyn CausalDecoder,
    prompts: &[Tensor],
    options: &GreedyOptions,
) -> Result<Vec<Vec<i64>>> {
    let hidden = decoder.config().hidden_size as i64;
    let vocab = decoder.config().vocab_size;
    if prompts.is_empty() {
        return Err(hulu_llm::Error::InvalidRequest {
            reason: "no prompts to generate for".into(),
        }
        .into());
    }
    for p in prompts {
        let size = p.size();
        if size.len() != 2 || size[0] == 0 || size[1] != hidden || !p.is_floating_point() {
            return Err(hulu_llm::Error::BadInput {
                what: "prompt embeddings",
                expected: format!("a floating [len, {hidden}] tensor with len positive"),
                actual: size,
                kind: p.kind(),
            }
            .into());
        }
    }
    if let Some(&id) = options
        .suppress_ids
        .iter()
        .find(|&&id| id < 0 || id >= vocab as i64)
    {
        return Err(hulu_llm::Error::TokenOutOfRange { id, vocab }.into());
    }
    let _span = tracing::info_span!(
        "generate_greedy",
        batch = prompts.len(),
        max_new = options.max_new_tokens
    )
    .entered();
    let width = prompts
        .iter()
        .map(|p| p.size()[0] as usize)
        .max()
        .unwrap_or(0);
    let capacity = width + options.max_new_tokens.saturating_sub(1);
    let max = decoder.config().max_position_embeddings;
    if capacity > max {
        return Err(Error::PromptTooLong {
            tokens: capacity,
            max,
        });
    }
    let suppress = Tensor::f_from_slice(&options.suppress_ids)?.f_to_device(decoder.device())?;
    let mut out = vec![Vec::new(); prompts.len()];
    let refs: Vec<&Tensor> = prompts.iter().collect();
    tch::no_grad(|| {
        run(
            decoder,
            &refs,
            options.max_new_tokens,
            capacity,
            |row, logits| {
                let logits = if options.suppress_ids.is_empty() {
                    logits.shallow_clone()
                } else {
                    logits.f_index_fill(0, &suppress, f64::NEG_INFINITY)?
                };
                let id = logits
                    .f_argmax(-1, false)?
                    .f_to_kind(Kind::Int64)?
                    .f_int64_value(&[])?;
                out[row].push(id);
                Ok(Pick {
                    id,
                    done: options.stop_ids.contains(&id),
                })
            },
        )
    })?;
    Ok(out)
}
