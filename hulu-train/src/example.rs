//! One training example: a conversation through the inference stages up to the decoder's
//! input, with its labels carried along (expanded with the visual tokens, and dropped with
//! them when compression drops them).

use crate::labels::{tokenize_conversation, Tokenized, IGNORE};
use crate::{Error, Result};
use hulu_model::stages::{EncodedVisuals, PreprocessedVisuals};
use hulu_model::{HuluMed, PrepareOptions, Turn};
use tch::Tensor;

/// A conversation with the per-call options its visuals are processed with.
#[derive(Debug, Clone)]
pub struct Example {
    /// The conversation (with at least one assistant turn).
    pub turns: Vec<Turn>,
    /// Compression, merge size, pixel budget.
    pub options: PrepareOptions,
}

/// An example tokenised and preprocessed: what does not change between steps.
#[derive(Debug)]
pub struct Encoded {
    /// Ids with each visual placeholder expanded to one id per visual token.
    pub input_ids: Vec<i64>,
    /// Labels of `input_ids` ([`IGNORE`] where no loss is taken).
    pub labels: Vec<i64>,
    /// Patches and grids, `None` for a text-only example.
    pub visuals: Option<PreprocessedVisuals>,
    /// The options of the example.
    pub options: PrepareOptions,
}

impl Encoded {
    /// Positions that carry a label.
    pub fn targets(&self) -> usize {
        self.labels.iter().filter(|&&l| l != IGNORE).count()
    }
}

/// Tokenises `example` with its labels and preprocesses its visuals (one pixel budget for
/// the example, as one inference call).
///
/// # Errors
/// Those of [`tokenize_conversation`]; [`Error::Model`] when a visual cannot be processed or
/// the placeholders do not match the visuals; [`Error::Example`] when no label is left.
pub fn encode_example(model: &HuluMed, example: &Example) -> Result<Encoded> {
    let Tokenized { ids, labels } = tokenize_conversation(model, &example.turns)?;
    let visuals: Vec<_> = example.turns.iter().flat_map(Turn::visuals).collect();
    let pre = model.preprocess_visuals(&visuals, &example.options)?;
    let image = model.image_token_id();
    let (input_ids, labels) = match &pre {
        None => (ids, labels),
        Some(pre) => {
            let counts = hulu_model::tokens_per_placeholder(&pre.grids);
            let mut counts = counts.into_iter();
            let mut out_ids = Vec::with_capacity(ids.len());
            let mut out_labels = Vec::with_capacity(ids.len());
            for (&id, &label) in ids.iter().zip(&labels) {
                if id == image {
                    let n = counts.next().ok_or_else(|| {
                        Error::example("more <image> placeholders than visual frames")
                    })?;
                    out_ids.extend(std::iter::repeat_n(id, n));
                    out_labels.extend(std::iter::repeat_n(IGNORE, n));
                } else {
                    out_ids.push(id);
                    out_labels.push(label);
                }
            }
            if counts.next().is_some() {
                return Err(Error::example(
                    "fewer <image> placeholders than visual frames",
                ));
            }
            (out_ids, out_labels)
        }
    };
    let encoded = Encoded {
        input_ids,
        labels,
        visuals: pre,
        options: example.options.clone(),
    };
    if encoded.targets() == 0 {
        return Err(Error::example("no assistant token carries a label"));
    }
    Ok(encoded)
}

/// The decoder input of one encoded example (vision encoder and projector run with
/// gradients), and the labels of the positions the decoder sees.
///
/// # Errors
/// [`Error::Model`] from the encode, compress and splice stages.
pub fn decoder_input(model: &HuluMed, encoded: &Encoded) -> Result<(Tensor, Vec<i64>)> {
    let (embeds, labels, _) = decoder_input_parts(model, encoded, false)?;
    Ok((embeds, labels))
}

/// How the vision side of an example is recomputed in backward under gradient
/// checkpointing (see `step`).
pub(crate) enum VisionRecompute<'a> {
    /// Layer by layer: each encoder layer's input was kept (detached) in the forward; the
    /// projected features hang from `top`, the last layer's output as a leaf, through the
    /// post-layer norm, the merge and the projector (small, kept with their graph).
    Layers {
        /// The encoder's layer pass (its input carries the patch embedding's graph).
        pass: Box<dyn hulu_vision::VisionLayerPass + 'a>,
        /// Each layer's input, detached, per chunk.
        inputs: Vec<Vec<Tensor>>,
        /// The last layer's output, per chunk, as leaves that require grad.
        top: Vec<Tensor>,
    },
    /// For an encoder without a layer pass: the projected features were cut from the vision
    /// side's graph as `leaf`, and the whole encoder and projector run again in backward.
    Whole {
        /// The projected features as a leaf that requires grad.
        leaf: Tensor,
        /// The example's patches and grids.
        visuals: &'a PreprocessedVisuals,
    },
}

impl VisionRecompute<'_> {
    /// Pushes the gradient the decoder's backward left on the cut into the vision side's
    /// parameters: layer by layer in reverse (one layer's activations alive at a time), or
    /// through one recomputation of the whole side.
    ///
    /// # Errors
    /// The encoder's and projector's errors; libtorch's.
    pub(crate) fn backward(self, model: &HuluMed) -> Result<()> {
        match self {
            VisionRecompute::Layers { pass, inputs, top } => {
                let mut grads: Vec<Tensor> = top.iter().map(Tensor::grad).collect();
                if grads.iter().any(|g| !g.defined()) {
                    return Ok(());
                }
                for (i, x) in inputs.into_iter().enumerate().rev() {
                    let x: Vec<Tensor> = x
                        .iter()
                        .map(|t| t.detach().set_requires_grad(true))
                        .collect();
                    let out = pass.layer(i, &x)?;
                    seed_backward(&out, &grads)?;
                    grads = x.iter().map(Tensor::grad).collect();
                }
                let bottom = pass.input();
                if bottom.iter().any(Tensor::requires_grad) {
                    seed_backward(bottom, &grads)?;
                }
                Ok(())
            }
            VisionRecompute::Whole { leaf, visuals } => {
                let grad = leaf.grad();
                if grad.defined() {
                    let features = model.encode_visuals(visuals)?.mm_features;
                    seed_backward(&[features], &[grad])?;
                }
                Ok(())
            }
        }
    }
}

/// Backpropagates `Σ (outputs · grads)`, whose gradient is the outputs' vector-Jacobian
/// product with `grads`.
pub(crate) fn seed_backward(outputs: &[Tensor], grads: &[Tensor]) -> Result<()> {
    let mut total: Option<Tensor> = None;
    for (out, grad) in outputs.iter().zip(grads) {
        let part = out.f_mul(grad)?.f_sum(out.kind())?;
        total = Some(match total {
            None => part,
            Some(t) => t.f_add(&part)?,
        });
    }
    if let Some(total) = total {
        total.f_backward()?;
    }
    Ok(())
}

/// The vision side of `pre` for a checkpointed step: the encoder's layers run without a graph
/// (their inputs kept), the rest with one; the recomputation to run in backward, if the
/// vision encoder trains.
fn encode_checkpointed<'a>(
    model: &'a HuluMed,
    pre: &'a PreprocessedVisuals,
) -> Result<(EncodedVisuals, Option<VisionRecompute<'a>>)> {
    let pass = match model.vision().layer_pass(&pre.pixel_values, &pre.grids) {
        Ok(pass) => pass,
        Err(hulu_vision::Error::Config(_)) => {
            let mut visual = model.encode_visuals(pre)?;
            if !visual.mm_features.requires_grad() {
                return Ok((visual, None));
            }
            let leaf = visual.mm_features.detach().set_requires_grad(true);
            visual.mm_features = leaf.shallow_clone();
            visual.vision_features = visual.vision_features.detach();
            return Ok((visual, Some(VisionRecompute::Whole { leaf, visuals: pre })));
        }
        Err(e) => return Err(e.into()),
    };
    let trains = pass.input().iter().any(Tensor::requires_grad);
    let mut inputs = Vec::with_capacity(pass.layers());
    let top = tch::no_grad(|| -> Result<Vec<Tensor>> {
        let mut x: Vec<Tensor> = pass.input().iter().map(Tensor::detach).collect();
        for i in 0..pass.layers() {
            let next = pass.layer(i, &x)?;
            if trains {
                inputs.push(x);
            }
            x = next;
        }
        Ok(x)
    })?;
    let top: Vec<Tensor> = top
        .into_iter()
        .map(|t| t.detach().set_requires_grad(trains))
        .collect();
    let vision_features = pass.finish(&top)?;
    let mm_features = model.projector().forward(&vision_features)?;
    let visual = EncodedVisuals {
        vision_features,
        mm_features,
    };
    let recompute = trains.then_some(VisionRecompute::Layers { pass, inputs, top });
    Ok((visual, recompute))
}

/// [`decoder_input`], and with `checkpoint` the vision side run for gradient checkpointing
/// (see [`VisionRecompute`]): the encoder's activations are not kept for the decoder's
/// backward, and the returned recomputation pushes the gradient into them afterwards.
pub(crate) fn decoder_input_parts<'a>(
    model: &'a HuluMed,
    encoded: &'a Encoded,
    checkpoint: bool,
) -> Result<(Tensor, Vec<i64>, Option<VisionRecompute<'a>>)> {
    let Some(pre) = &encoded.visuals else {
        let spliced = model.splice_visuals(&encoded.input_ids, None)?;
        return Ok((spliced.inputs_embeds, encoded.labels.clone(), None));
    };
    let (visual, recompute) = if checkpoint {
        encode_checkpointed(model, pre)?
    } else {
        (model.encode_visuals(pre)?, None)
    };
    let keep = model.compress_visuals(pre, &encoded.options)?;
    let spliced = model.splice_visuals(&encoded.input_ids, Some((&visual, &keep)))?;
    // A dropped visual token takes its (ignored) label with it.
    let image = model.image_token_id();
    let mut mask = keep.as_slice().iter();
    let labels = encoded
        .input_ids
        .iter()
        .zip(&encoded.labels)
        .filter(|(&id, _)| id != image || mask.next().copied().unwrap_or(false))
        .map(|(_, &l)| l)
        .collect::<Vec<_>>();
    if labels.len() != spliced.lm_input_ids.len() {
        return Err(Error::example(format!(
            "{} labels for {} decoder positions",
            labels.len(),
            spliced.lm_input_ids.len()
        )));
    }
    Ok((spliced.inputs_embeds, labels, recompute))
}
