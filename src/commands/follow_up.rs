//! `hulu bench --follow-up`: the time to first token of a second question about the same
//! study, answered from scratch (prepare and prefill the whole conversation again, as a
//! server without caches or the chat before them did) and with the encoder and prefix caches
//! of [`super::answer::Reuse`] (as `hulu chat` and `hulu serve` answer it).

use super::answer::Reuse;
use super::common::question_turn;
use anyhow::Result;
use hulu_model::{GenerateOptions, Generation, HuluMed, Item, PrepareOptions, Turn};
use serde_json::{json, Value};
use std::time::Instant;

/// The second question.
const FOLLOW_UP: &str = "Which finding matters most, and where is it?";

/// Times to first token, in seconds, of one conversation's two turns.
#[derive(Debug, Clone, Copy)]
pub struct FollowUp {
    /// The first question, caches empty.
    pub first: f64,
    /// The second question from scratch.
    pub second_plain: f64,
    /// The second question with the caches the first one filled.
    pub second_reused: f64,
    /// Prompt tokens of the second question, and those served from the prefix cache.
    pub prompt_tokens: usize,
    /// Those served from the prefix cache.
    pub reused_tokens: usize,
}

impl FollowUp {
    /// The numbers as JSON.
    pub fn to_json(self) -> Value {
        json!({
            "first_turn_ttft_s": self.first,
            "second_turn_ttft_plain_s": self.second_plain,
            "second_turn_ttft_reused_s": self.second_reused,
            "second_turn_prompt_tokens": self.prompt_tokens,
            "second_turn_reused_tokens": self.reused_tokens,
        })
    }
}

/// Prepare + prefill of `turns` (one token generated), with `reuse` or from scratch.
fn ttft(
    model: &HuluMed,
    turns: &[Turn],
    prepare: &PrepareOptions,
    options: &GenerateOptions,
    reuse: Option<&mut Reuse>,
) -> Result<(f64, Generation)> {
    let t = Instant::now();
    let g = match reuse {
        Some(r) => {
            let (prepared, _) = model.prepare_cached(turns, prepare, &mut r.encoder)?;
            model.generate_prepared_reusing(&prepared, options, &mut r.prefix, |_| {})?
        }
        None => {
            let prepared = model.prepare(turns, prepare)?;
            model.generate_prepared(&prepared, options, |_| {})?
        }
    };
    Ok((
        t.elapsed().as_secs_f64() - g.timings.decode.as_secs_f64(),
        g,
    ))
}

/// Asks `question` about `visual`, then a follow-up, timing the follow-up both ways.
///
/// # Errors
///
/// Those of preparing and generating.
pub fn measure(
    model: &HuluMed,
    visual: Item,
    question: &str,
    prepare: &PrepareOptions,
    new_tokens: usize,
) -> Result<FollowUp> {
    let options = GenerateOptions {
        max_new_tokens: new_tokens,
        suppress_eos: true,
        ..GenerateOptions::default()
    };
    let mut reuse = Reuse::new();
    let turns = vec![question_turn(vec![visual], question)];
    let (first, answer) = ttft(model, &turns, prepare, &options, Some(&mut reuse))?;
    let mut turns2 = turns;
    turns2.push(Turn::assistant(answer.text));
    turns2.push(Turn::user_text(FOLLOW_UP));
    // One new token is enough to time the first one.
    let one = GenerateOptions {
        max_new_tokens: 1,
        ..options
    };
    let (second_plain, _) = ttft(model, &turns2, prepare, &one, None)?;
    let (second_reused, g) = ttft(model, &turns2, prepare, &one, Some(&mut reuse))?;
    Ok(FollowUp {
        first,
        second_plain,
        second_reused,
        prompt_tokens: g.counts.total(),
        reused_tokens: g.reused_tokens,
    })
}
