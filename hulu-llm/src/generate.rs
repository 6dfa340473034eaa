//! Greedy generation for one prompt or a batch of prompts of different lengths.

use crate::decoder::CausalDecoder;
use crate::stack::LogitsFor;
use crate::{Error, Result};
use tch::{Kind, Tensor};

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

/// Greedy continuation of each prompt (`[len, hidden]` embeddings, lengths may differ),
/// decoded together as one left-padded batch with a KV cache. Returns the new ids per prompt.
pub fn greedy(
    decoder: &dyn CausalDecoder,
    prompts: &[Tensor],
    options: &GreedyOptions,
) -> Result<Vec<Vec<i64>>> {
    let hidden = decoder.config().hidden_size as i64;
    let vocab = decoder.config().vocab_size;
    if prompts.is_empty() {
        return Err(Error::request("no prompts to generate for"));
    }
    let mut lengths = Vec::with_capacity(prompts.len());
    for p in prompts {
        let size = p.size();
        if size.len() != 2 || size[0] == 0 || size[1] != hidden || !p.is_floating_point() {
            return Err(Error::BadInput {
                what: "prompt embeddings",
                expected: format!("a floating [len, {hidden}] tensor with len positive"),
                actual: size,
                kind: p.kind(),
            });
        }
        lengths.push(size[0] as usize);
    }
    if let Some(&id) = options
        .suppress_ids
        .iter()
        .find(|&&id| id < 0 || id >= vocab as i64)
    {
        return Err(Error::TokenOutOfRange { id, vocab });
    }
    let _span = tracing::info_span!(
        "generate_greedy",
        batch = prompts.len(),
        max_new = options.max_new_tokens
    )
    .entered();
    let width = lengths.iter().copied().max().unwrap_or(0);
    let capacity = width + options.max_new_tokens.saturating_sub(1);
    if capacity > decoder.config().max_position_embeddings {
        return Err(Error::TooLong {
            needed: capacity,
            max: decoder.config().max_position_embeddings,
        });
    }
    let (kind, device) = (decoder.kind(), decoder.device());
    let batch = Tensor::f_zeros([prompts.len() as i64, width as i64, hidden], (kind, device))?;
    for (row, (p, &n)) in prompts.iter().zip(&lengths).enumerate() {
        batch
            .f_get(row as i64)?
            .f_narrow(0, (width - n) as i64, n as i64)?
            .f_copy_(&p.f_to_device(device)?.f_to_kind(kind)?)?;
    }
    let mut cache = decoder.new_cache(prompts.len(), capacity.max(1))?;
    let mut logits = decoder
        .prefill_padded(&batch, &lengths, &mut cache, LogitsFor::Last)?
        .logits
        .ok_or_else(|| Error::request("decoder returned no logits"))?;
    let suppress = Tensor::f_from_slice(&options.suppress_ids)?.f_to_device(logits.device())?;
    let mut out = vec![Vec::new(); prompts.len()];
    let mut done = vec![false; prompts.len()];
    for step in 0..options.max_new_tokens {
        if !options.suppress_ids.is_empty() {
            logits = logits.f_index_fill(1, &suppress, f64::NEG_INFINITY)?;
        }
        let next = logits.f_argmax(-1, false)?.f_to_kind(Kind::Int64)?;
        let ids = Vec::<i64>::try_from(&next.f_to_device(tch::Device::Cpu)?)?;
        for (row, &id) in ids.iter().enumerate() {
            if !done[row] {
                out[row].push(id);
                done[row] = options.stop_ids.contains(&id);
            }
        }
        if done.iter().all(|&d| d) || step + 1 == options.max_new_tokens {
            break;
        }
        logits = decoder.decode_step(&next, &mut cache)?;
    }
    Ok(out)
}
