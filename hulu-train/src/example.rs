//! One training example: a conversation through the inference stages up to the decoder's
//! input, with its labels carried along (expanded with the visual tokens, and dropped with
//! them when compression drops them).

use crate::labels::{tokenize_conversation, Tokenized, IGNORE};
use crate::{Error, Result};
use hulu_model::stages::PreprocessedVisuals;
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

/// [`decoder_input`], and with `cut_vision` the projected visual features cut from the
/// vision side's graph: the embeddings then depend on a leaf (returned, when the vision side
/// requires grad) instead of on the encoder's activations, which are freed here; the
/// leaf's gradient is pushed through a recomputation in backward (see `step`).
pub(crate) fn decoder_input_parts(
    model: &HuluMed,
    encoded: &Encoded,
    cut_vision: bool,
) -> Result<(Tensor, Vec<i64>, Option<Tensor>)> {
    let Some(pre) = &encoded.visuals else {
        let spliced = model.splice_visuals(&encoded.input_ids, None)?;
        return Ok((spliced.inputs_embeds, encoded.labels.clone(), None));
    };
    let mut visual = model.encode_visuals(pre)?;
    let mut leaf = None;
    if cut_vision && visual.mm_features.requires_grad() {
        let cut = visual.mm_features.detach().set_requires_grad(true);
        visual.mm_features = cut.shallow_clone();
        visual.vision_features = visual.vision_features.detach();
        leaf = Some(cut);
    }
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
    Ok((spliced.inputs_embeds, labels, leaf))
}
