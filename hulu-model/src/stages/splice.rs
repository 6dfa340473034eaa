//! Stage 5: the decoder's input, visual features placed at their tokens.

use crate::error::{Error, Result};
use crate::model::HuluMed;
use crate::prepare::TokenCounts;
use crate::stages::EncodedVisuals;
use hulu_compress::{apply_mask, FrameStats, KeepMask};
use tch::Tensor;

/// The decoder's input.
#[derive(Debug)]
pub struct Spliced {
    /// Ids the decoder sees (shorter than the expanded ids when compression dropped tokens).
    pub lm_input_ids: Vec<i64>,
    /// Token embeddings with the kept visual features spliced in, `[L', H]`.
    pub inputs_embeds: Tensor,
    /// Tokens in and kept for every frame of every visual.
    pub frames: Vec<FrameStats>,
    /// Token accounting.
    pub counts: TokenCounts,
}

impl HuluMed {
    /// Stage 5: drops the image tokens and feature rows `keep` drops, embeds the ids and puts
    /// the kept features, in order, at the image tokens. `input_ids` are the prompt's ids with
    /// each `<image>` expanded ([`RenderedPrompt::expand`](crate::stages::RenderedPrompt));
    /// `visuals` is `None` for a text-only prompt.
    ///
    /// # Errors
    ///
    /// [`Error::Compress`] when the mask does not fit the features or the image tokens;
    /// [`Error::VisualTokenMismatch`] when image tokens and feature rows differ in number;
    /// [`Error::PromptTooLong`] when no room is left for a new token; [`Error::Decoder`] or
    /// [`Error::Tensor`] when embedding fails.
    pub fn splice_visuals(
        &self,
        input_ids: &[i64],
        visuals: Option<(&EncodedVisuals, &KeepMask)>,
    ) -> Result<Spliced> {
        let _span = tracing::info_span!("splice").entered();
        let image_token = self.image_token_id();
        let Some((encoded, keep)) = visuals else {
            self.check_length(input_ids.len())?;
            let features = Tensor::f_zeros([0, 0], (self.kind, self.device))?;
            return Ok(Spliced {
                lm_input_ids: input_ids.to_vec(),
                inputs_embeds: self.embed_with(input_ids, &features)?,
                frames: Vec::new(),
                counts: TokenCounts {
                    text: input_ids.len(),
                    ..TokenCounts::default()
                },
            });
        };
        let compressed = apply_mask(&encoded.mm_features, input_ids, image_token, keep)?;
        let lm_input_ids = compressed.ids;
        self.check_length(lm_input_ids.len())?;
        let inputs_embeds = self.embed_with(&lm_input_ids, &compressed.features)?;
        let counts = TokenCounts {
            text: lm_input_ids.len() - keep.kept(),
            visual_before: keep.len(),
            visual_after: keep.kept(),
        };
        Ok(Spliced {
            lm_input_ids,
            inputs_embeds,
            frames: compressed.frames,
            counts,
        })
    }

    /// Embeddings of `ids` with the rows of `features` placed, in order, at the image tokens.
    fn embed_with(&self, ids: &[i64], features: &Tensor) -> Result<Tensor> {
        let image_token = self.image_token_id();
        let positions: Vec<i64> = ids
            .iter()
            .enumerate()
            .filter(|(_, &id)| id == image_token)
            .map(|(i, _)| i as i64)
            .collect();
        let rows = features.size().first().copied().unwrap_or(0) as usize;
        if positions.len() != rows {
            return Err(Error::VisualTokenMismatch {
                image_tokens: positions.len(),
                features: rows,
            });
        }
        let embeds = self
            .decoder
            .embed(&Tensor::from_slice(ids).f_to_device(self.device)?)?;
        if positions.is_empty() {
            return Ok(embeds);
        }
        let index = Tensor::from_slice(&positions).f_to_device(self.device)?;
        let features = features.f_to_kind(embeds.kind())?;
        Ok(embeds.f_index_copy(0, &index, &features)?)
    }

    /// A prompt of `len` tokens must leave room for at least one new token.
    fn check_length(&self, len: usize) -> Result<()> {
        let max = self.decoder.config().max_position_embeddings;
        if len >= max {
            return Err(Error::PromptTooLong { tokens: len, max });
        }
        Ok(())
    }
}
