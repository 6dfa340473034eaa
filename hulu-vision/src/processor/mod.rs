//! The Hulu-Med image processor: visual inputs (8-bit RGB frames) to `pixel_values`.
//!
//! For each input of a call: a target size from [`sizing`] (one pixel budget shared by every
//! frame of the call), a Pillow-exact bicubic [`resize`], rescale and normalise, and
//! [`patchify`] into rows of `3 · p · p` values in the reference's order (frame, merge-block
//! row, merge-block column, row in block, column in block).

pub mod patchify;
pub mod resize;
pub mod sizing;

use crate::config::PreprocessorConfig;
use crate::{Error, Result};
use hulu_io::{MergedGrid, PatchGrid, RgbFrame, Visual, VisualKind};
use patchify::{patchify_frame, Normalizer};
use resize::BicubicResize;
use sizing::SizingRule;
use std::borrow::Cow;
use tch::Tensor;

/// PIL's resample code for bicubic, the only filter the reference uses.
const PIL_BICUBIC: u32 = 3;

/// Choices a user may want to differ from the reference; the defaults reproduce it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorOptions {
    /// Size 2-D pictures ([`VisualKind::Image`]) with height and width swapped, as the reference
    /// does (it reads PIL's `(width, height)` as `(height, width)`): a 240 × 320 picture gets a
    /// 23 × 17 patch grid. Volumes and videos are never swapped. Default `true`.
    pub swap_image_height_width: bool,
    /// Pixel budget of a call in patches of the input's factor, instead of the config's
    /// `max_tokens`.
    pub max_tokens: Option<usize>,
    /// Minimum size of a frame in patches of the input's factor, instead of the config's
    /// `min_tokens`.
    pub min_tokens: Option<usize>,
    /// Largest `pixel_values` buffer (bytes) one call may allocate. Default 4 GiB.
    pub max_output_bytes: usize,
    /// Worker threads for resizing and patchifying; 0 uses the available parallelism.
    pub threads: usize,
}

impl Default for ProcessorOptions {
    fn default() -> Self {
        ProcessorOptions {
            swap_image_height_width: true,
            max_tokens: None,
            min_tokens: None,
            max_output_bytes: 4 << 30,
            threads: 0,
        }
    }
}

/// One visual input of a call and its merge size (reference: 1 for images, 2 for volumes
/// and videos).
#[derive(Debug, Clone, Copy)]
pub struct VisualInput<'a> {
    /// The frames and their kind.
    pub visual: &'a Visual,
    /// Side of the patch blocks merged into one token.
    pub merge_size: usize,
}

impl<'a> VisualInput<'a> {
    /// An input with an explicit merge size.
    pub fn new(visual: &'a Visual, merge_size: usize) -> Self {
        VisualInput { visual, merge_size }
    }

    /// An input with the reference's merge size for its kind: 1 for images, 2 otherwise.
    pub fn with_default_merge(visual: &'a Visual) -> Self {
        let merge_size = match visual.kind {
            VisualKind::Image => 1,
            VisualKind::Volume | VisualKind::Video => 2,
        };
        VisualInput { visual, merge_size }
    }
}

/// The processor's output for one call, ready for the vision encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedVisuals {
    /// `[N, patch_dim]` row-major: every patch of every input, in input order.
    pub pixel_values: Vec<f32>,
    /// Values per patch row: `3 · patch_size²` (588 for Hulu-Med).
    pub patch_dim: usize,
    /// Per input: frames, patch rows/columns and merge size.
    pub grids: Vec<MergedGrid>,
}

impl ProcessedVisuals {
    /// Number of patch rows `N`.
    pub fn num_patches(&self) -> usize {
        self.pixel_values.len() / self.patch_dim.max(1)
    }

    /// Visual tokens after each input's merge: what the decoder will see.
    pub fn num_tokens(&self) -> usize {
        self.grids.iter().map(MergedGrid::tokens).sum()
    }

    /// `pixel_values` as a float32 CPU tensor of shape `[N, patch_dim]`.
    ///
    /// # Errors
    ///
    /// [`Error::Torch`] when libtorch cannot allocate the tensor.
    pub fn to_tensor(&self) -> Result<Tensor> {
        let n = self.num_patches() as i64;
        Ok(Tensor::f_from_slice(&self.pixel_values)?.f_view([n, self.patch_dim as i64])?)
    }
}

/// How one input is resized and cut.
#[derive(Debug, Clone)]
struct InputPlan {
    merge: usize,
    in_size: (usize, usize),
    out_size: (usize, usize),
    grid: MergedGrid,
}

/// The Hulu-Med image processor (`HulumedImageProcessor`).
#[derive(Debug, Clone)]
pub struct ImageProcessor {
    patch_size: usize,
    min_tokens: usize,
    max_tokens: usize,
    do_resize: bool,
    normalizer: Normalizer,
    options: ProcessorOptions,
}

impl ImageProcessor {
    /// The processor `preprocessor_config.json` describes, with the reference's behaviour.
    ///
    /// # Errors
    ///
    /// As [`Self::with_options`].
    pub fn new(config: &PreprocessorConfig) -> Result<Self> {
        Self::with_options(config, ProcessorOptions::default())
    }

    /// The processor `config` describes, with `options` applied.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a zero patch size, a resampling filter other than bicubic, or a
    /// zero in `image_std`.
    pub fn with_options(config: &PreprocessorConfig, options: ProcessorOptions) -> Result<Self> {
        if config.patch_size == 0 {
            return Err(Error::Config("patch_size must be positive".into()));
        }
        if config.do_resize && config.resample != PIL_BICUBIC {
            return Err(Error::Config(format!(
                "resample {} is not supported (only 3, bicubic)",
                config.resample
            )));
        }
        if config.do_normalize && config.image_std.contains(&0.0) {
            return Err(Error::Config("image_std has a zero entry".into()));
        }
        let normalizer = Normalizer::new(
            config.do_rescale.then_some(config.rescale_factor),
            config
                .do_normalize
                .then_some((config.image_mean, config.image_std)),
        );
        Ok(ImageProcessor {
            patch_size: config.patch_size,
            min_tokens: options.min_tokens.unwrap_or(config.min_tokens),
            max_tokens: options.max_tokens.unwrap_or(config.max_tokens),
            do_resize: config.do_resize,
            normalizer,
            options,
        })
    }

    /// Patch side in pixels.
    pub fn patch_size(&self) -> usize {
        self.patch_size
    }

    /// Values per patch row (`3 · patch_size²`).
    pub fn patch_dim(&self) -> usize {
        3 * self.patch_size * self.patch_size
    }

    /// The patch grid each input will get, without touching pixels (cheap; for counting tokens).
    ///
    /// # Errors
    ///
    /// As [`ImageProcessor::process`], without the allocation limit.
    pub fn grids(&self, inputs: &[VisualInput]) -> Result<Vec<MergedGrid>> {
        Ok(self.plan(inputs)?.into_iter().map(|p| p.grid).collect())
    }

    fn plan(&self, inputs: &[VisualInput]) -> Result<Vec<InputPlan>> {
        let num_frames: usize = inputs.iter().map(|i| i.visual.frames.len()).sum();
        inputs
            .iter()
            .enumerate()
            .map(|(index, input)| self.plan_one(index, input, num_frames))
            .collect()
    }

    fn plan_one(&self, index: usize, input: &VisualInput, num_frames: usize) -> Result<InputPlan> {
        let bad = |reason: String| Error::InvalidInput { index, reason };
        let merge = input.merge_size;
        let frames = &input.visual.frames;
        let first = frames.first().ok_or_else(|| bad("no frames".into()))?;
        let (w, h) = (first.width, first.height);
        if w == 0 || h == 0 {
            return Err(bad(format!("empty {w}x{h} frame")));
        }
        if merge == 0 {
            return Err(bad("merge size 0".into()));
        }
        for (f, frame) in frames.iter().enumerate() {
            if (frame.width, frame.height) != (w, h) {
                return Err(bad(format!(
                    "frame {f} is {}x{}, frame 0 is {w}x{h}",
                    frame.width, frame.height
                )));
            }
            if Some(frame.data.len()) != w.checked_mul(h).and_then(|n| n.checked_mul(3)) {
                return Err(bad(format!(
                    "frame {f} holds {} bytes, not {w}x{h}x3",
                    frame.data.len()
                )));
            }
        }
        let factor = self.patch_size * merge;
        let (out_h, out_w) = if self.do_resize {
            let rule = SizingRule::new(
                self.patch_size,
                merge,
                self.min_tokens,
                self.max_tokens,
                num_frames,
            );
            let swap =
                self.options.swap_image_height_width && input.visual.kind == VisualKind::Image;
            // A size no rule fits is this input's fault: say which input.
            let sized = if swap {
                rule.target_size(w, h)
            } else {
                rule.target_size(h, w)
            };
            sized.map_err(|e| bad(e.to_string()))?
        } else if h % factor == 0 && w % factor == 0 {
            (h, w)
        } else {
            return Err(bad(format!(
                "do_resize is off and {w}x{h} is not a multiple of {factor}"
            )));
        };
        let grid = PatchGrid {
            frames: frames.len(),
            rows: out_h / self.patch_size,
            cols: out_w / self.patch_size,
        };
        Ok(InputPlan {
            merge,
            in_size: (w, h),
            out_size: (out_w, out_h),
            grid: MergedGrid::new(grid, merge).map_err(|e| bad(e.to_string()))?,
        })
    }

    /// Preprocesses every input of one call; all of them share the `max_tokens` budget.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the input's position for no frames, frames of different
    /// sizes, an empty frame, a zero merge size or a size no resize rule fits; [`Error::TooLarge`]
    /// when the call's pixel values exceed the limit.
    pub fn process(&self, inputs: &[VisualInput]) -> Result<ProcessedVisuals> {
        let _span = tracing::info_span!("preprocess", inputs = inputs.len()).entered();
        let plans = self.plan(inputs)?;
        let patch_dim = self.patch_dim();
        let total = plans
            .iter()
            .try_fold(0usize, |acc, p| acc.checked_add(p.grid.patches()))
            .and_then(|n| n.checked_mul(patch_dim * std::mem::size_of::<f32>()));
        match total {
            Some(bytes) if bytes <= self.options.max_output_bytes => {}
            other => {
                return Err(Error::TooLarge {
                    what: "pixel_values".into(),
                    bytes: other.unwrap_or(usize::MAX),
                    limit: self.options.max_output_bytes,
                })
            }
        }
        let mut pixel_values = vec![0f32; total.unwrap_or(0) / std::mem::size_of::<f32>()];

        let resizers: Vec<BicubicResize> = plans
            .iter()
            .map(|p| BicubicResize::new(p.in_size.0, p.in_size.1, p.out_size.0, p.out_size.1))
            .collect();
        // One job per frame, each owning the slice of output rows its patches fill.
        let mut jobs: Vec<(usize, &RgbFrame, &mut [f32])> = Vec::new();
        let mut rest = pixel_values.as_mut_slice();
        for (i, (plan, input)) in plans.iter().zip(inputs).enumerate() {
            let frame_len = plan.grid.patches_per_frame() * patch_dim;
            for frame in &input.visual.frames {
                let (head, tail) = rest.split_at_mut(frame_len);
                jobs.push((i, frame, head));
                rest = tail;
            }
        }
        let threads = match self.options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let per_thread = jobs.len().div_ceil(threads.max(1)).max(1);
        let work = &|batch: &mut [(usize, &RgbFrame, &mut [f32])]| {
            for (i, frame, out) in batch.iter_mut() {
                let plan = &plans[*i];
                let resized: Cow<[u8]> = if self.do_resize {
                    Cow::Owned(resizers[*i].apply(&frame.data))
                } else {
                    Cow::Borrowed(&frame.data)
                };
                let (w, h) = plan.out_size;
                let (p, m) = (self.patch_size, plan.merge);
                patchify_frame(&resized, w, h, p, m, &self.normalizer, out);
            }
        };
        std::thread::scope(|s| {
            let mut chunks = jobs.chunks_mut(per_thread);
            let own = chunks.next();
            for chunk in chunks {
                s.spawn(move || work(chunk));
            }
            if let Some(chunk) = own {
                work(chunk);
            }
        });
        Ok(ProcessedVisuals {
            pixel_values,
            patch_dim,
            grids: plans.iter().map(|p| p.grid).collect(),
        })
    }
}
