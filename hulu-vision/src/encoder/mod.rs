//! The SigLIP-NaViT vision encoder of Hulu-Med.
//!
//! Patches (`3 · p · p` values each) are embedded by the patch convolution used as a linear
//! map, pass N pre-LayerNorm layers whose attention carries 2-D rotary positions and stays
//! inside each frame, a final LayerNorm, and the in-plane `m × m` merge of
//! [`hulu_compress::merge_tokens`]. Every stage is per frame, so frames are encoded in chunks
//! of bounded size: memory grows with the chunk, never with the square of the patch count.

mod attention;
mod layer;
pub mod rotary;

use crate::config::VisionEncoderConfig;
use crate::nn::{LayerNorm, Linear};
use crate::{Error, Result};
use hulu_io::{MergedGrid, PatchGrid};
use hulu_nn::VarBuilder;
use layer::{Activation, EncoderLayer};
use rotary::VisionRotary;
use tch::{Device, Kind, Tensor};

/// Rotary base of the vision encoder (fixed in the reference).
const ROPE_THETA: f64 = 10_000.0;

/// Turns preprocessed patches into merged visual tokens.
pub trait VisionEncoder {
    /// `pixel_values` `[Σ patches, 3·p·p]` in the processor's order, one grid (with its merge
    /// size) per input; returns `[Σ merged tokens, hidden_size]` in raster order per frame.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `pixel_values` does not hold the grids' patches of this encoder's
    /// width; [`Error::Torch`] when libtorch fails (a device or dtype it cannot run).
    fn encode(&self, pixel_values: &Tensor, grids: &[MergedGrid]) -> Result<Tensor>;

    /// Width of the returned features.
    fn hidden_size(&self) -> usize;

    /// Values in one row of `pixel_values` (`channels · patch_size²`), which the image
    /// processor must produce for this encoder.
    fn patch_values(&self) -> usize;
}

/// Execution choices that do not change results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderOptions {
    /// Most patches encoded at once (whole frames; a frame larger than this goes alone).
    /// Bounds activation memory on large volumes. Default 2 048: one 36 × 36 frame at a time,
    /// which measured both faster and leaner than larger chunks (see the workspace README).
    pub max_chunk_patches: usize,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            max_chunk_patches: 2_048,
        }
    }
}

/// The SigLIP-NaViT encoder with 2-D rotary positions (`model.vision_encoder`).
#[derive(Debug)]
pub struct SiglipNavitEncoder {
    patch_embedding: Linear,
    layers: Vec<EncoderLayer>,
    post_layernorm: LayerNorm,
    rotary: VisionRotary,
    hidden: usize,
    patch_dim: usize,
    kind: Kind,
    device: Device,
    options: EncoderOptions,
}

impl SiglipNavitEncoder {
    /// Loads from a view at `model.vision_encoder`, for any width, depth and head count.
    ///
    /// # Errors
    ///
    /// As [`Self::load_with_options`].
    pub fn load(config: &VisionEncoderConfig, weights: &VarBuilder) -> Result<Self> {
        Self::load_with_options(config, weights, EncoderOptions::default())
    }

    /// [`Self::load`] with explicit execution options.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the config fails validation (sizes over `config::limits`, heads that
    /// do not divide the width, an unknown `hidden_act`); [`Error::Weights`] for a missing or
    /// mis-shaped weight, naming its key.
    pub fn load_with_options(
        config: &VisionEncoderConfig,
        weights: &VarBuilder,
        options: EncoderOptions,
    ) -> Result<Self> {
        let (c, heads, p, ch) = (
            config.hidden_size,
            config.num_attention_heads,
            config.patch_size,
            config.num_channels,
        );
        config.validate()?;
        let act = Activation::parse(&config.hidden_act)?;
        let rotary = VisionRotary::new(c / heads, ROPE_THETA)?;
        let patch_dim = ch * p * p;
        let embed = weights.pp("embeddings").pp("patch_embedding");
        let conv = embed.get("weight", &[c as i64, ch as i64, p as i64, p as i64])?;
        let patch_embedding = Linear::from_parts(
            conv.f_reshape([c as i64, patch_dim as i64])?,
            embed.get("bias", &[c as i64])?,
        );
        let layers_w = weights.pp("encoder").pp("layers");
        let layers = (0..config.num_hidden_layers)
            .map(|i| EncoderLayer::load(&layers_w.pp(i), config, act))
            .collect::<Result<Vec<_>>>()?;
        let post_layernorm =
            LayerNorm::load(&weights.pp("post_layernorm"), c, config.layer_norm_eps)?;
        Ok(SiglipNavitEncoder {
            patch_embedding,
            layers,
            post_layernorm,
            rotary,
            hidden: c,
            patch_dim,
            kind: weights.kind(),
            device: weights.device(),
            options,
        })
    }

    fn check_inputs(&self, pixel_values: &Tensor, grids: &[MergedGrid]) -> Result<()> {
        if let Some(i) = grids.iter().position(|g| g.patches() == 0) {
            return Err(Error::Shape(format!("input {i} has no patches")));
        }
        let total: usize = grids.iter().map(|g| g.patches()).sum();
        let size = pixel_values.size();
        if size != [total as i64, self.patch_dim as i64] {
            return Err(Error::Shape(format!(
                "pixel_values of shape {size:?}, expected [{total}, {}] for the grids",
                self.patch_dim
            )));
        }
        Ok(())
    }

    /// Encodes `frames` frames of one shape: `[frames · S, patch_dim]` to `[frames · S, C]`.
    fn encode_frames(
        &self,
        patches: &Tensor,
        frames: usize,
        per_frame: usize,
        cos: &Tensor,
        sin: &Tensor,
    ) -> Result<Tensor> {
        let x = self.patch_embedding.forward(patches)?;
        let mut x = x.f_view([frames as i64, per_frame as i64, self.hidden as i64])?;
        for layer in &self.layers {
            x = layer.forward(&x, cos, sin)?;
        }
        let x = self.post_layernorm.forward(&x)?;
        Ok(x.f_reshape([-1, self.hidden as i64])?)
    }
}

impl VisionEncoder for SiglipNavitEncoder {
    fn encode(&self, pixel_values: &Tensor, grids: &[MergedGrid]) -> Result<Tensor> {
        let _span = tracing::info_span!("vision_encode", inputs = grids.len()).entered();
        self.check_inputs(pixel_values, grids)?;
        let pixels = pixel_values.f_to_kind(self.kind)?.f_to(self.device)?;
        let mut outputs = Vec::new();
        let mut start = 0i64;
        for g in grids {
            let m = g.merge();
            let per_frame = g.patches_per_frame();
            let (cos, sin) = self.rotary.frame_tables(g.rows, g.cols, m, self.device)?;
            let chunk_frames = (self.options.max_chunk_patches / per_frame).clamp(1, g.frames);
            let mut done = 0;
            while done < g.frames {
                let frames = chunk_frames.min(g.frames - done);
                let rows = (frames * per_frame) as i64;
                let patches = pixels.f_narrow(0, start, rows)?;
                let features = self.encode_frames(&patches, frames, per_frame, &cos, &sin)?;
                // Fewer frames of the same plane: the merge size still fits.
                let chunk_grid = MergedGrid::new(PatchGrid { frames, ..g.grid() }, m)
                    .map_err(hulu_compress::Error::from)?;
                outputs.push(hulu_compress::merge_tokens(&features, &[chunk_grid])?);
                start += rows;
                done += frames;
            }
        }
        Ok(Tensor::f_cat(&outputs, 0)?)
    }

    fn hidden_size(&self) -> usize {
        self.hidden
    }

    fn patch_values(&self) -> usize {
        self.patch_dim
    }
}
