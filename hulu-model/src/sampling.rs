//! Choosing the next token from a logits vector: greedy, or seeded sampling with temperature,
//! top-k, top-p, min-p and a repetition penalty, with the semantics of the `transformers`
//! logits processors.
//!
//! Order of the stages, as `transformers` applies them: repetition penalty (greedy too), then
//! temperature, top-k, top-p, min-p, then a draw from the softmax of what is left.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// How to pick tokens. The default is greedy decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingOptions {
    /// Sample (true) or take the most likely token (false).
    pub do_sample: bool,
    /// Divides the logits before sampling; `0.0` means greedy. Must not be negative.
    pub temperature: f32,
    /// Keep only tokens whose logit is at least the `top_k`-th largest (ties kept); 0 = off.
    pub top_k: usize,
    /// Keep the most likely tokens whose probabilities add up to `top_p`; `1.0` = off.
    /// Must lie in `(0, 1]`.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one; `0.0` = off.
    /// Must lie in `[0, 1]`.
    pub min_p: f32,
    /// Divides positive logits and multiplies negative logits of every id already seen;
    /// `1.0` = off. Must be positive.
    pub repetition_penalty: f32,
    /// Seed of the random stream; the same seed and inputs give the same tokens.
    pub seed: u64,
}

impl Default for SamplingOptions {
    fn default() -> Self {
        Self::greedy()
    }
}

impl SamplingOptions {
    /// Greedy decoding without repetition penalty.
    pub fn greedy() -> Self {
        SamplingOptions {
            do_sample: false,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            seed: 0,
        }
    }

    /// Sampling at `temperature` with no other filter.
    pub fn sampled(temperature: f32, seed: u64) -> Self {
        SamplingOptions {
            do_sample: true,
            temperature,
            seed,
            ..Self::greedy()
        }
    }

    /// The defaults of a checkpoint's `generation_config.json`; fields it leaves out take the
    /// `transformers` defaults (greedy, temperature 1, top-k 50, top-p 1, no penalty).
    pub fn from_generation_config(config: &crate::config::GenerationConfig, seed: u64) -> Self {
        SamplingOptions {
            do_sample: config.do_sample.unwrap_or(false),
            temperature: config.temperature.unwrap_or(1.0) as f32,
            top_k: config.top_k.unwrap_or(50),
            top_p: config.top_p.unwrap_or(1.0) as f32,
            min_p: config.min_p.unwrap_or(0.0) as f32,
            repetition_penalty: config.repetition_penalty.unwrap_or(1.0) as f32,
            seed,
        }
    }

    /// Whether these options pick the most likely token (no sampling, or temperature 0).
    pub fn is_greedy(&self) -> bool {
        !self.do_sample || self.temperature == 0.0
    }

    /// Checks every parameter's range.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSampling`] naming the first parameter out of its range.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidSampling(msg));
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad(format!("temperature {} must be >= 0", self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(format!("top_p {} must be in (0, 1]", self.top_p));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad(format!("min_p {} must be in [0, 1]", self.min_p));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return bad(format!(
                "repetition_penalty {} must be > 0",
                self.repetition_penalty
            ));
        }
        Ok(())
    }
}

/// A token picker with its own seeded random stream (ChaCha20, so a seed gives the same
/// stream on every platform).
#[derive(Debug, Clone)]
pub struct Sampler {
    options: SamplingOptions,
    rng: ChaCha20Rng,
}

impl Sampler {
    /// A sampler for `options` (checked with [`SamplingOptions::validate`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSampling`] as [`SamplingOptions::validate`].
    pub fn new(options: SamplingOptions) -> Result<Self> {
        options.validate()?;
        let rng = ChaCha20Rng::seed_from_u64(options.seed);
        Ok(Sampler { options, rng })
    }

    /// The options this sampler uses.
    pub fn options(&self) -> &SamplingOptions {
        &self.options
    }

    /// The next token for `logits` (one per vocabulary id), given the ids seen so far (prompt
    /// and generated) for the repetition penalty.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLogits`] for empty logits, NaN, or every logit `-inf`.
    pub fn sample(&mut self, logits: &[f32], previous: &[u32]) -> Result<u32> {
        let scores = penalised(logits, previous, &self.options)?;
        if self.options.is_greedy() {
            return greedy(&scores);
        }
        let candidates = filter_candidates(&scores, &self.options)?;
        Ok(draw(&candidates, uniform(&mut self.rng)))
    }

    /// [`Sampler::sample`] for a 1-D logits tensor (any float kind, any device).
    ///
    /// # Errors
    ///
    /// [`Error::Tensor`] for a tensor that is not 1-D floating point; then as
    /// [`Sampler::sample`].
    pub fn sample_tensor(&mut self, logits: &Tensor, previous: &[u32]) -> Result<u32> {
        let logits = logits_to_vec(logits)?;
        self.sample(&logits, previous)
    }
}

/// The id of the largest logit (the first one on ties, as `argmax` does).
///
/// # Errors
///
/// [`Error::InvalidLogits`] for empty logits, NaN, or every logit `-inf`.
pub fn greedy(logits: &[f32]) -> Result<u32> {
    check_logits(logits)?;
    let mut best = 0;
    for (i, &x) in logits.iter().enumerate() {
        if x > logits[best] {
            best = i;
        }
    }
    Ok(best as u32)
}

/// The repetition penalty of `transformers`: each id in `previous` (counted once) has its
/// logit divided by `penalty` when positive and multiplied by it when negative.
///
/// # Errors
///
/// [`Error::InvalidSampling`] for a penalty that is not positive and finite.
pub fn apply_repetition_penalty(logits: &mut [f32], previous: &[u32], penalty: f32) -> Result<()> {
    if penalty == 1.0 {
        return Ok(());
    }
    let mut seen = vec![false; logits.len()];
    for &id in previous {
        let i = id as usize;
        let Some(flag) = seen.get_mut(i) else {
            return Err(Error::InvalidLogits(format!(
                "previous id {id} is outside the {} logits",
                logits.len()
            )));
        };
        if !std::mem::replace(flag, true) {
            let x = logits[i];
            logits[i] = if x < 0.0 { x * penalty } else { x / penalty };
        }
    }
    Ok(())
}

/// The tokens [`Sampler::sample`] may pick for these inputs, with their probabilities (summing
/// to 1), in increasing id order: after the repetition penalty, temperature, top-k, top-p and
/// min-p; for greedy options, the one most likely token. Exposed so callers can inspect the
/// distribution.
///
/// # Errors
///
/// [`Error::InvalidSampling`] and [`Error::InvalidLogits`] as [`Sampler::sample`].
pub fn candidate_distribution(
    logits: &[f32],
    previous: &[u32],
    options: &SamplingOptions,
) -> Result<Vec<(u32, f64)>> {
    options.validate()?;
    let scores = penalised(logits, previous, options)?;
    if options.is_greedy() {
        return Ok(vec![(greedy(&scores)?, 1.0)]);
    }
    let mut candidates = filter_candidates(&scores, options)?;
    candidates.sort_by_key(|c| c.0);
    let probs = softmax(&candidates);
    Ok(candidates.iter().map(|c| c.0).zip(probs).collect())
}

/// The logits after the checks and the repetition penalty.
fn penalised(logits: &[f32], previous: &[u32], options: &SamplingOptions) -> Result<Vec<f32>> {
    check_logits(logits)?;
    let mut scores = logits.to_vec();
    apply_repetition_penalty(&mut scores, previous, options.repetition_penalty)?;
    Ok(scores)
}

/// `(id, scaled logit)` of every token that survives the filters.
fn filter_candidates(logits: &[f32], options: &SamplingOptions) -> Result<Vec<(u32, f32)>> {
    let t = options.temperature;
    let mut candidates: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .filter(|(_, x)| **x > f32::NEG_INFINITY)
        .map(|(i, &x)| (i as u32, if t > 0.0 { x / t } else { x }))
        .filter(|(_, x)| *x > f32::NEG_INFINITY)
        .collect();
    if candidates.is_empty() {
        return Err(Error::InvalidLogits("every logit is -inf".into()));
    }
    if options.top_k > 0 && options.top_k < candidates.len() {
        keep_top_k(&mut candidates, options.top_k);
    }
    if options.top_p < 1.0 {
        keep_top_p(&mut candidates, options.top_p as f64);
    }
    if options.min_p > 0.0 {
        keep_min_p(&mut candidates, options.min_p as f64);
    }
    Ok(candidates)
}

/// Drops tokens below the `k`-th largest score (ties with it are kept).
fn keep_top_k(candidates: &mut Vec<(u32, f32)>, k: usize) {
    let mut scores: Vec<f32> = candidates.iter().map(|c| c.1).collect();
    let (_, kth, _) = scores.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let kth = *kth;
    candidates.retain(|c| c.1 >= kth);
}

/// Nucleus filter: sorted from least to most likely, drops each token whose cumulative
/// probability (its own and all less likely ones) is at most `1 - top_p`; the most likely
/// token always stays.
fn keep_top_p(candidates: &mut Vec<(u32, f32)>, top_p: f64) {
    // Least likely first; among equal scores the higher id counts as less likely, so the
    // ordering agrees with `greedy`'s first-index rule.
    candidates.sort_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
    let probs = softmax(candidates);
    let mut cumulative = 0.0;
    let mut drop = 0;
    for (i, p) in probs.iter().enumerate() {
        cumulative += p;
        if cumulative <= 1.0 - top_p && i + 1 < probs.len() {
            drop = i + 1;
        } else {
            break;
        }
    }
    candidates.drain(..drop);
}

/// Drops tokens whose probability is below `min_p` times the largest probability.
fn keep_min_p(candidates: &mut Vec<(u32, f32)>, min_p: f64) {
    let probs = softmax(candidates);
    let top = probs.iter().copied().fold(0.0, f64::max);
    let threshold = min_p * top;
    let mut keep = probs.iter().map(|&p| p >= threshold);
    candidates.retain(|_| keep.next().unwrap_or(true));
}

/// Softmax of the scores, in f64.
fn softmax(candidates: &[(u32, f32)]) -> Vec<f64> {
    let max = candidates
        .iter()
        .map(|c| c.1 as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = candidates
        .iter()
        .map(|c| (c.1 as f64 - max).exp())
        .collect();
    let total: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / total).collect()
}

/// The token at the point `u ∈ [0, 1)` of the cumulative distribution.
fn draw(candidates: &[(u32, f32)], u: f64) -> u32 {
    let probs = softmax(candidates);
    let total: f64 = probs.iter().sum();
    let target = u * total;
    let mut cumulative = 0.0;
    let mut last_positive = candidates[0].0;
    for (c, p) in candidates.iter().zip(&probs) {
        if *p > 0.0 {
            last_positive = c.0;
            cumulative += p;
            if cumulative > target {
                return c.0;
            }
        }
    }
    // Only reachable through rounding in the last step.
    last_positive
}

/// A uniform number in `[0, 1)` from the top 53 bits of the stream.
fn uniform(rng: &mut ChaCha20Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Rejects empty logits, NaN and `+inf`.
fn check_logits(logits: &[f32]) -> Result<()> {
    if logits.is_empty() {
        return Err(Error::InvalidLogits("no logits".into()));
    }
    if let Some(i) = logits
        .iter()
        .position(|x| x.is_nan() || *x == f32::INFINITY)
    {
        return Err(Error::InvalidLogits(format!("logit {i} is {}", logits[i])));
    }
    if logits.iter().all(|&x| x == f32::NEG_INFINITY) {
        return Err(Error::InvalidLogits("every logit is -inf".into()));
    }
    Ok(())
}

/// The values of a 1-D logits tensor as `f32` on the CPU.
///
/// # Errors
///
/// [`Error::Tensor`] for a tensor that is not 1-D floating point.
pub fn logits_to_vec(logits: &Tensor) -> Result<Vec<f32>> {
    let size = logits.size();
    if size.len() != 1 {
        return Err(Error::Tensor(format!(
            "logits must be 1-D, got shape {size:?}"
        )));
    }
    let cpu = logits
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_contiguous()?;
    Ok(Vec::<f32>::try_from(&cpu)?)
}
