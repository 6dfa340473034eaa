//! One answer with per-stage progress: the conversation is prepared (preprocess, encode,
//! compress) under one spinner and prefilled under another, which the first piece of text
//! clears; the answer streams to `on_text`. Also the `--json` form of an answer.

use super::progress::spinner;
use super::select::kind_name;
use anyhow::Result;
use hulu_model::{
    CacheUse, EncoderCache, GenerateOptions, Generation, HuluMed, PrefixCache, PrepareOptions,
    StreamControl, Turn,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// What a conversation keeps between turns: each file's encoded features and the decoder's
/// KV cache of the turns so far, so a follow-up question costs only its new tokens.
pub struct Reuse {
    /// Encoded visuals.
    pub encoder: EncoderCache,
    /// The conversation so far in the decoder's cache.
    pub prefix: PrefixCache,
}

impl Reuse {
    /// Room for one conversation and its files.
    pub fn new() -> Self {
        Reuse {
            encoder: EncoderCache::new(64),
            prefix: PrefixCache::new(1),
        }
    }

    /// Forgets everything (a new conversation).
    pub fn clear(&mut self) {
        self.encoder.clear();
        self.prefix.clear();
    }
}

/// Prepares `turns` and generates, showing the stage on a terminal, reusing and filling
/// `reuse` when given; returns the generation, the rendered prompt and how the encoder cache
/// served the visuals.
///
/// # Errors
///
/// Those of [`HuluMed::prepare`] and [`HuluMed::generate_prepared`].
pub fn answer<R: StreamControl>(
    model: &HuluMed,
    turns: &[Turn],
    prepare: &PrepareOptions,
    options: &GenerateOptions,
    mut reuse: Option<&mut Reuse>,
    mut on_text: impl FnMut(&str) -> R,
) -> Result<(Generation, String, CacheUse)> {
    let frames: usize = turns
        .iter()
        .flat_map(Turn::visuals)
        .map(|v| v.frames.len())
        .sum();
    let stage = spinner(if frames > 0 {
        format!("encoding {frames} frame(s)")
    } else {
        "preparing the prompt".to_string()
    });
    let start = Instant::now();
    let (prepared, used) = match reuse.as_deref_mut() {
        Some(r) => model.prepare_cached(turns, prepare, &mut r.encoder)?,
        None => (model.prepare(turns, prepare)?, CacheUse::default()),
    };
    let prepare_time = start.elapsed();
    stage.finish_and_clear();
    let mut stage = Some(spinner(format!(
        "prefill {} tokens",
        prepared.lm_input_ids.len()
    )));
    let on_piece = |piece: &str| {
        if let Some(s) = stage.take() {
            s.finish_and_clear();
        }
        on_text(piece)
    };
    let mut generation = match reuse {
        Some(r) => model.generate_prepared_reusing(&prepared, options, &mut r.prefix, on_piece)?,
        None => model.generate_prepared(&prepared, options, on_piece)?,
    };
    if let Some(s) = stage.take() {
        s.finish_and_clear();
    }
    generation.timings.prepare = prepare_time;
    Ok((generation, prepared.prompt, used))
}

/// The `--json` object of one answer: the text, why it ended, the token counts before and
/// after compression, the timings in seconds, and what produced it.
pub fn to_json(
    g: &Generation,
    prompt: &str,
    model: &HuluMed,
    options: &GenerateOptions,
    load: Option<Duration>,
) -> Value {
    let c = &g.counts;
    let s = &options.sampling;
    json!({
        "answer": g.text,
        "finish_reason": format!("{:?}", g.finish).to_lowercase(),
        "tokens": {
            "prompt": c.total(),
            "text": c.text,
            "visual_before_compression": c.visual_before,
            "visual_after_compression": c.visual_after,
            "new": g.ids.len(),
        },
        "timings": {
            "load_s": load.map(|d| d.as_secs_f64()),
            "prepare_s": g.timings.prepare.as_secs_f64(),
            "prefill_s": g.timings.prefill.as_secs_f64(),
            "decode_s": g.timings.decode.as_secs_f64(),
            "time_to_first_token_s": g.timings.time_to_first_token().as_secs_f64(),
        },
        "model": model.dir(),
        "device": format!("{:?}", model.device()),
        "dtype": kind_name(model.kind()),
        "decoder_weight_bytes": model.decoder().weight_bytes(),
        "sampling": {
            "do_sample": s.do_sample,
            "temperature": s.temperature,
            "top_k": s.top_k,
            "top_p": s.top_p,
            "min_p": s.min_p,
            "repetition_penalty": s.repetition_penalty,
            "seed": s.seed,
        },
        "prompt": prompt,
    })
}
