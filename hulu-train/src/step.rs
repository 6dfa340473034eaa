//! The loss of a batch and its backward pass, plain or with per-layer gradient checkpointing.
//!
//! A batch is right-padded: padding follows every real token of a row, so under the causal
//! mask no real position attends to it, and its labels are ignored; the padding's embeddings
//! are zeros. The loss is the summed cross-entropy of the shifted labels over the labelled
//! positions, divided by their count in the batch or by an explicit count (gradient
//! accumulation divides every micro-batch by the count of the whole batch, so the accumulated
//! gradient is the gradient of the mean, as the fixtures pin).
//!
//! Only the labelled positions go through `lm_head` (the `[tokens, vocab]` logits of a whole
//! batch would dominate memory); the loss is the same.
//!
//! Gradient checkpointing: `tch` has no custom autograd function, so the decoder layers run
//! forward under `no_grad` keeping each layer's input; after the loss's backward reaches the
//! last layer's output, each layer is recomputed in reverse from its detached input (which
//! requires grad) and `(output · grad_output).sum()` is backpropagated, whose gradient is the
//! layer's vector-Jacobian product; the input's gradient passes to the layer below, and at the
//! bottom into the embeddings.
//!
//! The vision encoder is checkpointed the same way, layer by layer, one example at a time:
//! its layers run under `no_grad` keeping each layer's input, the last layer's output becomes
//! a leaf that requires grad, and the small rest (post-layer norm, merge, projector) keeps its
//! graph into the decoder input. After the decoder's backward has left a gradient on each
//! example's leaf, that example's encoder layers are recomputed in reverse as above, down to
//! the patch embedding. An encoder without a layer pass (a user's own
//! `hulu_vision::VisionEncoder`) is cut at its projected features and recomputed whole.

use crate::example::{decoder_input_parts, seed_backward, Encoded, VisionRecompute};
use crate::labels::IGNORE;
use crate::{Error, Result};
use hulu_llm::LogitsFor;
use hulu_model::HuluMed;
use tch::{Kind, Reduction, Tensor};

/// How the decoder runs in backward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Memory {
    /// Autograd keeps every activation.
    #[default]
    Plain,
    /// Keep only each decoder and vision encoder layer's input and recompute the layer in
    /// backward.
    CheckpointLayers,
}

/// The right-padded decoder input of a batch and the shifted targets.
struct BatchInput<'a> {
    embeds: Tensor,
    /// Flat `row · width + column` of each position that predicts a label.
    positions: Vec<i64>,
    /// The label each of those positions predicts.
    targets: Vec<i64>,
    /// Under checkpointing: each example's vision recomputation, to run after the decoder's
    /// backward.
    vision: Vec<VisionRecompute<'a>>,
}

fn batch_input<'a>(
    model: &'a HuluMed,
    batch: &[&'a Encoded],
    checkpoint: bool,
) -> Result<BatchInput<'a>> {
    if batch.is_empty() {
        return Err(Error::example("an empty batch"));
    }
    let mut vision = Vec::new();
    let mut rows = Vec::with_capacity(batch.len());
    for e in batch {
        let (embeds, labels, recompute) = decoder_input_parts(model, e, checkpoint)?;
        vision.extend(recompute);
        rows.push((embeds, labels));
    }
    let width = rows.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
    let mut padded = Vec::with_capacity(rows.len());
    let (mut positions, mut targets) = (Vec::new(), Vec::new());
    for (b, (embeds, labels)) in rows.iter().enumerate() {
        let len = labels.len();
        let embeds = if len < width {
            let hidden = embeds.size()[1];
            let pad = Tensor::f_zeros(
                [(width - len) as i64, hidden],
                (embeds.kind(), embeds.device()),
            )?;
            Tensor::f_cat(&[embeds.shallow_clone(), pad], 0)?
        } else {
            embeds.shallow_clone()
        };
        padded.push(embeds);
        for (t, &label) in labels.iter().enumerate().skip(1) {
            if label != IGNORE {
                positions.push((b * width + t - 1) as i64);
                targets.push(label);
            }
        }
    }
    Ok(BatchInput {
        embeds: Tensor::f_stack(&padded, 0)?,
        positions,
        targets,
        vision,
    })
}

/// Summed cross-entropy of the labelled positions of `hidden` (`[B, L, H]`) over `divisor`.
fn head_loss(
    model: &HuluMed,
    hidden: &Tensor,
    input: &BatchInput<'_>,
    divisor: f64,
) -> Result<Tensor> {
    let size = hidden.size();
    let device = hidden.device();
    let flat = hidden.f_reshape([size[0] * size[1], size[2]])?;
    let index = Tensor::f_from_slice(&input.positions)?.f_to_device(device)?;
    let logits = model.decoder().logits(&flat.f_index_select(0, &index)?)?;
    let targets = Tensor::f_from_slice(&input.targets)?.f_to_device(device)?;
    let loss = logits
        .f_to_kind(Kind::Float)?
        .f_cross_entropy_loss::<Tensor>(&targets, None, Reduction::Sum, IGNORE, 0.0)?;
    Ok(loss.f_div_scalar(divisor)?)
}

/// Labelled positions of a batch (the divisor of its mean loss).
pub fn batch_targets(batch: &[&Encoded]) -> usize {
    batch
        .iter()
        .map(|e| e.labels.iter().skip(1).filter(|&&l| l != IGNORE).count())
        .sum()
}

/// The loss of `batch` divided by `divisor` (default: its labelled positions), with its
/// gradients accumulated into every parameter that requires grad. Returns the loss.
///
/// # Errors
/// [`Error::Example`] for an empty batch or one without labels; the stages' and decoder's
/// errors.
pub fn forward_backward<'a>(
    model: &'a HuluMed,
    batch: &[&'a Encoded],
    divisor: Option<usize>,
    memory: Memory,
) -> Result<f64> {
    let _span = tracing::info_span!("train_step", batch = batch.len(), ?memory).entered();
    let input = batch_input(model, batch, memory == Memory::CheckpointLayers)?;
    let divisor = divisor.unwrap_or(input.targets.len());
    if input.targets.is_empty() || divisor == 0 {
        return Err(Error::example("the batch has no labelled position"));
    }
    let divisor = divisor as f64;
    match memory {
        Memory::Plain => {
            let hidden = model
                .decoder()
                .forward(&input.embeds, LogitsFor::None)?
                .hidden;
            let loss = head_loss(model, &hidden, &input, divisor)?;
            loss.f_backward()?;
            Ok(loss.double_value(&[]))
        }
        Memory::CheckpointLayers => {
            let pass = model.decoder().layer_pass(&input.embeds)?;
            let bottom = pass.input().shallow_clone();
            let mut inputs = Vec::with_capacity(pass.layers());
            let top = tch::no_grad(|| -> Result<Tensor> {
                let mut x = bottom.detach();
                for i in 0..pass.layers() {
                    let next = pass.layer(i, &x)?;
                    inputs.push(x);
                    x = next;
                }
                Ok(x)
            })?;
            let top = top.detach().set_requires_grad(true);
            let loss = head_loss(model, &pass.norm(&top)?, &input, divisor)?;
            loss.f_backward()?;
            let mut grad = top.grad();
            for (i, x) in inputs.into_iter().enumerate().rev() {
                let x = x.detach().set_requires_grad(true);
                let out = pass.layer(i, &x)?;
                seed_backward(&[out], &[grad])?;
                grad = x.grad();
            }
            if bottom.requires_grad() {
                seed_backward(&[bottom], &[grad])?;
            }
            for recompute in input.vision {
                recompute.backward(model)?;
            }
            Ok(loss.double_value(&[]))
        }
    }
}

/// The mean loss of `batch` without gradients (held-out evaluation).
///
/// # Errors
/// As [`forward_backward`].
pub fn eval_loss(model: &HuluMed, batch: &[&Encoded]) -> Result<f64> {
    tch::no_grad(|| {
        let input = batch_input(model, batch, false)?;
        if input.targets.is_empty() {
            return Err(Error::example("the batch has no labelled position"));
        }
        let hidden = model
            .decoder()
            .forward(&input.embeds, LogitsFor::None)?
            .hidden;
        Ok(head_loss(model, &hidden, &input, input.targets.len() as f64)?.double_value(&[]))
    })
}
