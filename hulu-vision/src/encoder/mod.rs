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

    /// The same encoding split into its layers, for gradient checkpointing (a trainer keeps
    /// each layer's input and recomputes the layer in backward). Composing the pass,
    /// `finish(layer(n-1, … layer(0, input())))`, equals [`VisionEncoder::encode`].
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for encoders that cannot be split (the default); otherwise as
    /// [`VisionEncoder::encode`].
    fn layer_pass<'a>(
        &'a self,
        pixel_values: &Tensor,
        grids: &[MergedGrid],
    ) -> Result<Box<dyn VisionLayerPass + 'a>> {
        let _ = (pixel_values, grids);
        Err(Error::Config(
            "this vision encoder cannot run layer by layer".into(),
        ))
    }
}

/// A vision encoder's forward pass split into its layers ([`VisionEncoder::layer_pass`]).
///
/// The state between layers is one tensor per chunk of frames (frames of one shape,
/// `[frames, patches per frame, C]`), since attention stays inside a frame and each chunk has
/// its own rotary table.
pub trait VisionLayerPass {
    /// Layer 0's input, one tensor per chunk: the patch embeddings (carrying the patch
    /// embedding's graph when its weights require grad).
    fn input(&self) -> &[Tensor];
    /// Number of encoder layers.
    fn layers(&self) -> usize;
    /// Layer `i` applied to every chunk of `x`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] for an `i` past the last layer or a state with another chunk count;
    /// [`Error::Torch`] when libtorch fails.
    fn layer(&self, i: usize, x: &[Tensor]) -> Result<Vec<Tensor>>;
    /// The post-layer norm and the in-plane merge of the last layer's output:
    /// `[Σ merged tokens, C]`, what [`VisionEncoder::encode`] returns.
    ///
    /// # Errors
    ///
    /// As [`VisionLayerPass::layer`].
    fn finish(&self, x: &[Tensor]) -> Result<Tensor>;
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

    /// The chunks `encode` runs: consecutive frames of one grid, at most
    /// `max_chunk_patches` patches each (a larger frame alone), with their rotary tables.
    fn chunks(&self, grids: &[MergedGrid]) -> Result<Vec<Chunk>> {
        let mut chunks = Vec::new();
        let mut start = 0i64;
        for g in grids {
            let m = g.merge();
            let per_frame = g.patches_per_frame();
            let (cos, sin) = self.rotary.frame_tables(g.rows, g.cols, m, self.device)?;
            let chunk_frames = (self.options.max_chunk_patches / per_frame).clamp(1, g.frames);
            let mut done = 0;
            while done < g.frames {
                let frames = chunk_frames.min(g.frames - done);
                // Fewer frames of the same plane: the merge size still fits.
                let grid = MergedGrid::new(PatchGrid { frames, ..g.grid() }, m)
                    .map_err(hulu_compress::Error::from)?;
                chunks.push(Chunk {
                    start,
                    frames,
                    per_frame,
                    cos: cos.shallow_clone(),
                    sin: sin.shallow_clone(),
                    grid,
                });
                start += (frames * per_frame) as i64;
                done += frames;
            }
        }
        Ok(chunks)
    }

    /// The patch embeddings of `chunk`: `[frames, S, C]`.
    fn embed_chunk(&self, pixels: &Tensor, chunk: &Chunk) -> Result<Tensor> {
        let rows = (chunk.frames * chunk.per_frame) as i64;
        let x = self
            .patch_embedding
            .forward(&pixels.f_narrow(0, chunk.start, rows)?)?;
        Ok(x.f_view([
            chunk.frames as i64,
            chunk.per_frame as i64,
            self.hidden as i64,
        ])?)
    }

    /// The post-layer norm and merge of a chunk's last layer output: `[merged tokens, C]`.
    fn finish_chunk(&self, x: &Tensor, chunk: &Chunk) -> Result<Tensor> {
        let x = self
            .post_layernorm
            .forward(x)?
            .f_reshape([-1, self.hidden as i64])?;
        Ok(hulu_compress::merge_tokens(&x, &[chunk.grid])?)
    }

    fn pixels(&self, pixel_values: &Tensor, grids: &[MergedGrid]) -> Result<Tensor> {
        self.check_inputs(pixel_values, grids)?;
        Ok(pixel_values.f_to_kind(self.kind)?.f_to(self.device)?)
    }
}

/// Consecutive frames of one grid encoded together.
#[derive(Debug)]
struct Chunk {
    /// First row of the chunk in `pixel_values`.
    start: i64,
    frames: usize,
    per_frame: usize,
    cos: Tensor,
    sin: Tensor,
    /// The chunk's frames as a grid, for the merge.
    grid: MergedGrid,
}

/// [`SiglipNavitEncoder`]'s layer pass.
struct SiglipLayerPass<'a> {
    encoder: &'a SiglipNavitEncoder,
    chunks: Vec<Chunk>,
    input: Vec<Tensor>,
}

impl SiglipLayerPass<'_> {
    fn check(&self, x: &[Tensor]) -> Result<()> {
        if x.len() != self.chunks.len() {
            return Err(Error::Shape(format!(
                "a layer-pass state of {} chunks, expected {}",
                x.len(),
                self.chunks.len()
            )));
        }
        Ok(())
    }
}

impl VisionLayerPass for SiglipLayerPass<'_> {
    fn input(&self) -> &[Tensor] {
        &self.input
    }

    fn layers(&self) -> usize {
        self.encoder.layers.len()
    }

    fn layer(&self, i: usize, x: &[Tensor]) -> Result<Vec<Tensor>> {
        self.check(x)?;
        let layer = self.encoder.layers.get(i).ok_or_else(|| {
            Error::Shape(format!(
                "layer {i} of an encoder with {} layers",
                self.encoder.layers.len()
            ))
        })?;
        x.iter()
            .zip(&self.chunks)
            .map(|(x, c)| layer.forward(x, &c.cos, &c.sin))
            .collect()
    }

    fn finish(&self, x: &[Tensor]) -> Result<Tensor> {
        self.check(x)?;
        let merged = x
            .iter()
            .zip(&self.chunks)
            .map(|(x, c)| self.encoder.finish_chunk(x, c))
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::f_cat(&merged, 0)?)
    }
}

impl VisionEncoder for SiglipNavitEncoder {
    fn encode(&self, pixel_values: &Tensor, grids: &[MergedGrid]) -> Result<Tensor> {
        let _span = tracing::info_span!("vision_encode", inputs = grids.len()).entered();
        let pixels = self.pixels(pixel_values, grids)?;
        // One chunk through every layer at a time: activations grow with the chunk only.
        let outputs = self
            .chunks(grids)?
            .iter()
            .map(|chunk| {
                let mut x = self.embed_chunk(&pixels, chunk)?;
                for layer in &self.layers {
                    x = layer.forward(&x, &chunk.cos, &chunk.sin)?;
                }
                self.finish_chunk(&x, chunk)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::f_cat(&outputs, 0)?)
    }

    fn hidden_size(&self) -> usize {
        self.hidden
    }

    fn patch_values(&self) -> usize {
        self.patch_dim
    }

    fn layer_pass<'a>(
        &'a self,
        pixel_values: &Tensor,
        grids: &[MergedGrid],
    ) -> Result<Box<dyn VisionLayerPass + 'a>> {
        let _span = tracing::info_span!("vision_layer_pass", inputs = grids.len()).entered();
        let pixels = self.pixels(pixel_values, grids)?;
        let chunks = self.chunks(grids)?;
        let input = chunks
            .iter()
            .map(|c| self.embed_chunk(&pixels, c))
            .collect::<Result<Vec<_>>>()?;
        Ok(Box::new(SiglipLayerPass {
            encoder: self,
            chunks,
            input,
        }))
    }
}
