//! Hulu-Med's medical-aware inter-plane pruning: a merged token of frame `t` is dropped when its
//! pixels barely differ from the same token of frame `t − 1`.

use crate::mask::{layouts, InputLayout};
use crate::{Error, KeepMask, Result, TokenCompressor};
use hulu_io::MergedGrid;
use tch::{Device, Kind, Tensor};

/// Largest number of pixel values differenced at once; longer inputs are processed in runs of
/// whole frames so that the temporary difference stays bounded (the result does not change:
/// every token's mean is reduced on its own).
const MAX_DIFF_ELEMENTS: usize = 1 << 24;

/// Options of [`MedicalCompressor`]. The defaults reproduce the reference implementation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompressionOptions {
    /// A merged token of frame `t > 0` is kept when the mean absolute difference of its pixel
    /// values (all `m·m·588`, normalised to `[-1, 1]`) to the token it is compared with exceeds
    /// this. Compared in the dtype of the pixel values, as the reference does. Default 0.1.
    pub threshold: f64,
    /// Every frame keeps at least this many tokens: a frame keeping fewer gets its first
    /// `min_tokens` tokens (in raster order) forced on, in addition to those it kept. Default 1.
    pub min_tokens: usize,
    /// `false` (the reference): frame 0 keeps only what `min_tokens` forces, i.e. its first
    /// token, because the reference's frame-0 sentinel falls under its own threshold. `true`:
    /// frame 0 is kept whole.
    pub keep_first_frame: bool,
    /// `false` (the reference): compare each token with the same token of the previous frame.
    /// `true`: compare with the same token in the last frame where it was kept (what the model
    /// last saw of it), so that slow drift is eventually kept; a token never kept yet is compared
    /// with the previous frame.
    pub compare_to_last_kept: bool,
}

impl Default for CompressionOptions {
    fn default() -> Self {
        CompressionOptions {
            threshold: 0.1,
            min_tokens: 1,
            keep_first_frame: false,
            compare_to_last_kept: false,
        }
    }
}

/// Hulu-Med's medical-aware token compressor (see [`CompressionOptions`]). Images (one frame)
/// are never pruned; each input is decided on its own pixels.
#[derive(Debug, Clone, Copy, Default)]
pub struct MedicalCompressor {
    options: CompressionOptions,
}

impl MedicalCompressor {
    /// A compressor with these options; a NaN threshold is rejected.
    ///
    /// # Errors
    ///
    /// [`Error::Option`] for a NaN threshold.
    pub fn new(options: CompressionOptions) -> Result<Self> {
        if options.threshold.is_nan() {
            return Err(Error::Option("threshold is NaN".into()));
        }
        Ok(MedicalCompressor { options })
    }

    /// The options in use.
    pub fn options(&self) -> &CompressionOptions {
        &self.options
    }

    /// Keep flags of one multi-frame input `x` (`[frames, tokens, values per token]`).
    fn input_mask(&self, x: &Tensor, l: InputLayout) -> Result<Vec<bool>> {
        let mut keep = vec![self.options.keep_first_frame; l.tokens_per_frame];
        force_min_tokens(&mut keep, self.options.min_tokens);
        if self.options.compare_to_last_kept {
            self.against_last_kept(x, l, keep)
        } else {
            let mut rest = self.against_previous_frame(x, l)?;
            for row in rest.chunks_mut(l.tokens_per_frame) {
                force_min_tokens(row, self.options.min_tokens);
            }
            keep.append(&mut rest);
            Ok(keep)
        }
    }

    /// Threshold flags of frames `1..` against their previous frame, before forcing.
    fn against_previous_frame(&self, x: &Tensor, l: InputLayout) -> Result<Vec<bool>> {
        let per_frame = l.tokens_per_frame * x.size()[2] as usize;
        let run = (MAX_DIFF_ELEMENTS / per_frame.max(1)).max(1);
        let mut flags = Vec::with_capacity((l.frames - 1) * l.tokens_per_frame);
        let mut t = 1;
        while t < l.frames {
            let n = run.min(l.frames - t);
            let cur = x.f_narrow(0, t as i64, n as i64)?;
            let prev = x.f_narrow(0, t as i64 - 1, n as i64)?;
            flags.extend(self.above_threshold(&cur, &prev)?);
            t += n;
        }
        Ok(flags)
    }

    /// Frames `1..` compared with each token's last kept version, forcing frame by frame
    /// (forced tokens are kept, so they become the reference of later frames).
    fn against_last_kept(&self, x: &Tensor, l: InputLayout, first: Vec<bool>) -> Result<Vec<bool>> {
        let mut anchor = x.f_get(0)?;
        let mut ever_kept = first.clone();
        let mut keep = first;
        for t in 1..l.frames {
            let frame = x.f_get(t as i64)?;
            let mut row = self.above_threshold(&frame, &anchor)?;
            force_min_tokens(&mut row, self.options.min_tokens);
            // A kept token becomes its own reference; one never kept follows the previous frame.
            let update: Vec<bool> = row.iter().zip(&ever_kept).map(|(&k, &e)| k || !e).collect();
            let update = Tensor::f_from_slice(&update)?
                .f_to_device(x.device())?
                .f_unsqueeze(-1)?;
            anchor = frame.f_where_self(&update, &anchor)?;
            for (e, &k) in ever_kept.iter_mut().zip(&row) {
                *e |= k;
            }
            keep.extend(row);
        }
        Ok(keep)
    }

    /// `mean |cur − prev| > threshold` over the last dimension, in the pixels' dtype.
    fn above_threshold(&self, cur: &Tensor, prev: &Tensor) -> Result<Vec<bool>> {
        let flags = cur
            .f_sub(prev)?
            .f_abs_()?
            .f_mean_dim(-1, false, None)?
            .f_gt(self.options.threshold)?
            .f_to_device(Device::Cpu)?
            .f_flatten(0, -1)?;
        let n = flags.numel();
        let mut out = vec![false; n];
        flags.f_copy_data(&mut out, n)?;
        Ok(out)
    }
}

impl TokenCompressor for MedicalCompressor {
    fn keep_mask(&self, pixel_values: &Tensor, grids: &[MergedGrid]) -> Result<KeepMask> {
        let _span = tracing::info_span!("compression_mask", inputs = grids.len()).entered();
        let layout = layouts(grids)?;
        let values = check_pixels(pixel_values, grids)?;
        let mut keep = Vec::with_capacity(layout.iter().map(InputLayout::tokens).sum());
        let mut start = 0i64;
        for (l, m) in layout.iter().zip(grids.iter().map(MergedGrid::merge)) {
            let rows = (l.tokens() * m * m) as i64;
            let x = pixel_values.f_narrow(0, start, rows)?;
            start += rows;
            if l.frames <= 1 || l.tokens_per_frame == 0 {
                // Images are never pruned (and an empty grid has nothing to prune).
                keep.extend(std::iter::repeat_n(true, l.tokens()));
                continue;
            }
            // Rows of one merged token are consecutive in patch order: view them as one vector.
            let x = x.f_reshape([
                l.frames as i64,
                l.tokens_per_frame as i64,
                (m * m * values) as i64,
            ])?;
            keep.extend(self.input_mask(&x, *l)?);
        }
        KeepMask::from_layout(keep, layout)
    }

    fn with_threshold(&self, threshold: f64) -> Result<Box<dyn TokenCompressor>> {
        Ok(Box::new(MedicalCompressor::new(CompressionOptions {
            threshold,
            ..self.options
        })?))
    }
}

/// Checks `pixel_values` is a floating `[Σ patches, D]` matrix for `grids`; returns `D`.
pub(crate) fn check_pixels(pixel_values: &Tensor, grids: &[MergedGrid]) -> Result<usize> {
    let size = pixel_values.size();
    let patches = grids
        .iter()
        .try_fold(0usize, |acc, g| acc.checked_add(g.patches()));
    if size.len() != 2 || Some(size[0] as usize) != patches {
        return Err(Error::Shape(format!(
            "pixel values of shape {size:?} for grids holding {patches:?} patches"
        )));
    }
    let kind = pixel_values.kind();
    if !matches!(
        kind,
        Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
    ) {
        return Err(Error::Dtype(kind));
    }
    Ok(size[1] as usize)
}

/// The reference's floor: a frame keeping fewer than `min_tokens` gets its first ones forced.
fn force_min_tokens(row: &mut [bool], min_tokens: usize) {
    if row.iter().filter(|&&k| k).count() < min_tokens {
        let n = min_tokens.min(row.len());
        row[..n].fill(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hulu_io::PatchGrid;

    fn merged(grids: &[PatchGrid], merge: usize) -> Vec<MergedGrid> {
        grids
            .iter()
            .map(|&g| MergedGrid::new(g, merge).unwrap())
            .collect()
    }

    #[test]
    fn forcing_sets_the_first_tokens_only_when_short() {
        let mut row = [false, false, true, false];
        force_min_tokens(&mut row, 1);
        assert_eq!(row, [false, false, true, false]);
        force_min_tokens(&mut row, 2);
        assert_eq!(row, [true, true, true, false]);
        let mut short = [false; 2];
        force_min_tokens(&mut short, 5);
        assert_eq!(short, [true, true]);
    }

    #[test]
    fn nan_threshold_is_rejected() {
        let options = CompressionOptions {
            threshold: f64::NAN,
            ..Default::default()
        };
        assert!(matches!(
            MedicalCompressor::new(options),
            Err(Error::Option(_))
        ));
    }

    #[test]
    fn integer_pixels_and_wrong_row_counts_are_typed_errors() {
        let grids = [PatchGrid {
            frames: 2,
            rows: 2,
            cols: 2,
        }];
        let c = MedicalCompressor::default();
        let ints = Tensor::zeros([8, 3], (Kind::Int64, Device::Cpu));
        assert!(matches!(
            c.keep_mask(&ints, &merged(&grids, 1)),
            Err(Error::Dtype(Kind::Int64))
        ));
        let short = Tensor::zeros([7, 3], (Kind::Float, Device::Cpu));
        assert!(matches!(
            c.keep_mask(&short, &merged(&grids, 1)),
            Err(Error::Shape(_))
        ));
    }

    #[test]
    fn empty_grids_give_empty_masks() {
        let grids = [PatchGrid {
            frames: 3,
            rows: 0,
            cols: 2,
        }];
        let pixels = Tensor::zeros([0, 5], (Kind::Float, Device::Cpu));
        let mask = MedicalCompressor::default()
            .keep_mask(&pixels, &merged(&grids, 2))
            .unwrap();
        assert!(mask.is_empty());
        assert_eq!(mask.frame_stats().len(), 3);
    }

    /// One token per frame whose pixels are a constant: the mean absolute difference is the
    /// difference of constants, so the thresholding can be checked by hand.
    #[test]
    fn threshold_and_frame_zero_rules_by_hand() {
        let levels = [0.0f32, 0.05, 0.3, 0.3, 0.45, 0.0];
        // Each frame is 2×4 patches merged 2×2: two tokens, the second always constant 0.
        let mut rows = Vec::new();
        for &v in &levels {
            rows.extend(std::iter::repeat_n(v, 4 * 4));
            rows.extend(std::iter::repeat_n(0.0f32, 4 * 4));
        }
        let pixels = Tensor::from_slice(&rows).view([-1, 4]);
        let grids = [PatchGrid {
            frames: 6,
            rows: 2,
            cols: 4,
        }];
        let mask = MedicalCompressor::default()
            .keep_mask(&pixels, &merged(&grids, 2))
            .unwrap();
        // Diffs of token 0: -, .05, .25, 0, .15, .45; token 1 never changes, so frames keeping
        // nothing get their first token forced.
        let expected = [
            true, false, // frame 0: only its first token
            true, false, // 0.05 ≤ 0.1: dropped, forced
            true, false, // 0.25 kept
            true, false, // 0: forced
            true, false, // 0.15 kept
            true, false, // 0.45 kept
        ];
        assert_eq!(mask.as_slice(), expected);

        let whole = MedicalCompressor::new(CompressionOptions {
            keep_first_frame: true,
            min_tokens: 0,
            ..Default::default()
        })
        .unwrap()
        .keep_mask(&pixels, &merged(&grids, 2))
        .unwrap();
        let expected_whole = [
            true, true, false, false, true, false, false, false, true, false, true, false,
        ];
        assert_eq!(whole.as_slice(), expected_whole);
    }

    /// 0.1002 is above 0.1 in float32, but in bf16 both round to 0.10009765625: the bf16 mask
    /// drops what the float32 mask keeps, as a bf16 model does.
    #[test]
    fn bf16_pixels_are_compared_in_bf16() {
        let rows: Vec<f32> = [0.0f32, 0.1002]
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, 6))
            .collect();
        let pixels = Tensor::from_slice(&rows).view([2, 6]);
        let grids = [PatchGrid {
            frames: 2,
            rows: 1,
            cols: 1,
        }];
        let c = MedicalCompressor::new(CompressionOptions {
            min_tokens: 0,
            keep_first_frame: true,
            ..Default::default()
        })
        .unwrap();
        let f32_mask = c.keep_mask(&pixels, &merged(&grids, 1)).unwrap();
        assert_eq!(f32_mask.as_slice(), [true, true]);
        let bf16 = pixels.to_kind(Kind::BFloat16);
        let bf16_mask = c.keep_mask(&bf16, &merged(&grids, 1)).unwrap();
        assert_eq!(bf16_mask.as_slice(), [true, false]);
    }

    /// Slow drift of 0.06 per frame: the previous-frame rule drops it forever, the
    /// last-kept rule keeps it once it has drifted past the threshold.
    #[test]
    fn last_kept_reference_catches_slow_drift() {
        let levels = [0.0f32, 0.06, 0.12, 0.18, 0.24];
        let rows: Vec<f32> = levels
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, 3))
            .collect();
        let pixels = Tensor::from_slice(&rows).view([-1, 3]);
        let grids = [PatchGrid {
            frames: 5,
            rows: 1,
            cols: 1,
        }];
        let options = CompressionOptions {
            min_tokens: 0,
            keep_first_frame: true,
            ..Default::default()
        };
        let previous = MedicalCompressor::new(options)
            .unwrap()
            .keep_mask(&pixels, &merged(&grids, 1))
            .unwrap();
        assert_eq!(previous.as_slice(), [true, false, false, false, false]);
        let last_kept = MedicalCompressor::new(CompressionOptions {
            compare_to_last_kept: true,
            ..options
        })
        .unwrap()
        .keep_mask(&pixels, &merged(&grids, 1))
        .unwrap();
        // Against the last kept frame: 0.06, 0.12 (kept), 0.06, 0.12 (kept).
        assert_eq!(last_kept.as_slice(), [true, false, true, false, true]);
    }
}
