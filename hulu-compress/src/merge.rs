//! The in-plane merge: each `m × m` block of patch features becomes one token.

use crate::{Error, Result};
use hulu_io::MergedGrid;
use tch::{Device, Kind, Tensor};

/// Merges each `m × m` block of patches into one token, per input, as the reference does:
/// features in patch order (frame, block row, block column, row in block, column in block) are
/// put back on the raster grid and resized by bilinear interpolation (`align_corners = false`)
/// to `rows/m × cols/m`, which for `m = 2` is the block mean. Output rows are in raster order
/// (frame, row, column). `m = 1` returns the input unchanged.
///
/// `features` is `[Σ patches, C]`; returns `[Σ merged tokens, C]`. Each [`MergedGrid`]
/// carries its merge size, checked when it was made.
///
/// # Errors
///
/// [`Error::Shape`] when `features` is not 2-D with one row per patch of the grids;
/// [`Error::Torch`] when libtorch fails.
pub fn merge_tokens(features: &Tensor, grids: &[MergedGrid]) -> Result<Tensor> {
    let _span = tracing::info_span!("merge_tokens", inputs = grids.len()).entered();
    let size = features.size();
    let total: usize = grids.iter().map(|g| g.patches()).sum();
    if size.len() != 2 || size[0] as usize != total {
        return Err(Error::Shape(format!(
            "features of shape {size:?} for grids holding {total} patches"
        )));
    }
    let c = size[1];
    let mut outputs = Vec::with_capacity(grids.len());
    let mut start = 0i64;
    for g in grids {
        let m = g.merge();
        let n = g.patches() as i64;
        let chunk = features.f_narrow(0, start, n)?;
        start += n;
        if m == 1 {
            outputs.push(chunk);
            continue;
        }
        let (t, h, w, m) = (g.frames as i64, g.rows as i64, g.cols as i64, m as i64);
        if m == 2 && block_sum_matches_kernel(&chunk) {
            outputs.push(block_mean_2x2(&chunk, c)?);
            continue;
        }
        let raster = chunk
            .f_view([t, h / m, w / m, m, m, c])?
            .f_permute([0, 1, 3, 2, 4, 5])?
            .f_reshape([t, h, w, c])?
            .f_permute([0, 3, 1, 2])?;
        let merged = raster.f_upsample_bilinear2d([h / m, w / m], false, None, None)?;
        outputs.push(merged.f_permute([0, 2, 3, 1])?.f_reshape([-1, c])?);
    }
    Ok(Tensor::f_cat(&outputs, 0)?)
}

/// Whether [`block_mean_2x2`] reproduces libtorch's bilinear kernel: on CPU for
/// float32/float64, where the channels-last kernel sums the four weighted patches in the same
/// order (bit-identical for channel counts that are a multiple of the vector width, within
/// rounding in the scalar tail otherwise). Reduced precision (accumulated in float32 by the
/// kernel) and other devices take the general path.
fn block_sum_matches_kernel(chunk: &Tensor) -> bool {
    chunk.device() == Device::Cpu && matches!(chunk.kind(), Kind::Float | Kind::Double)
}

/// `m = 2` without the raster round trip: halving a side bilinearly weighs each of a block's
/// four patches by exactly 1/4, so the merged token is `(a + (b + (c + d))) / 4` over the
/// block's rows in patch order (the order of libtorch's vectorised kernel), read straight from
/// patch order instead of through a permuted copy of the features.
fn block_mean_2x2(chunk: &Tensor, c: i64) -> Result<Tensor> {
    let blocks = chunk.f_reshape([-1, 4, c])?;
    let mut sum = blocks.f_select(1, 2)?.f_add(&blocks.f_select(1, 3)?)?;
    // In place: the returned handles alias `sum`.
    let _ = sum.f_add_(&blocks.f_select(1, 1)?)?;
    let _ = sum.f_add_(&blocks.f_select(1, 0)?)?;
    let _ = sum.f_mul_scalar_(0.25)?;
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    use hulu_io::PatchGrid;

    fn grid(frames: usize, rows: usize, cols: usize) -> PatchGrid {
        PatchGrid { frames, rows, cols }
    }

    /// `merge_tokens` over grids paired with merge sizes (which must fit).
    fn merge(features: &Tensor, grids: &[PatchGrid], merges: &[usize]) -> Result<Tensor> {
        merge_tokens(features, &MergedGrid::zip(grids, merges)?)
    }

    /// A 2×4 frame in patch order (block, row in block, column in block): block 0 holds
    /// 1, 2, 3, 4 and block 1 holds 10, 20, 30, 40, so m = 2 gives their means.
    #[test]
    fn m2_is_the_block_mean_in_raster_order() {
        let values = [1.0f32, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0];
        let features = Tensor::from_slice(&values).view([8, 1]);
        let merged = merge(&features, &[grid(1, 2, 4)], &[2]).unwrap();
        let merged: Vec<f32> = Vec::try_from(merged.view([-1])).unwrap();
        assert_eq!(merged, [2.5, 25.0]);
    }

    /// Bilinear resizing by 3 samples each block's centre patch (not its mean), as the
    /// reference's interpolation does.
    #[test]
    fn m3_samples_the_block_centre() {
        let features = Tensor::arange(9, (Kind::Float, Device::Cpu)).view([9, 1]);
        let merged = merge(&features, &[grid(1, 3, 3)], &[3]).unwrap();
        assert_eq!(merged.double_value(&[0, 0]), 4.0);
    }

    #[test]
    fn inputs_and_frames_are_merged_separately() {
        // Two frames of 2×2 (constant 1 then 3) and an image of 2×2 (constant 5).
        let values = [
            1.0f32, 1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 5.0, 5.0, 5.0, 5.0,
        ];
        let features = Tensor::from_slice(&values).view([12, 1]);
        let merged = merge(&features, &[grid(2, 2, 2), grid(1, 2, 2)], &[2, 2]).unwrap();
        let merged: Vec<f32> = Vec::try_from(merged.view([-1])).unwrap();
        assert_eq!(merged, [1.0, 3.0, 5.0]);
    }

    /// The `m = 2` shortcut against libtorch's bilinear resize of the raster: bit-identical when
    /// the channel count is a multiple of the vector width (16 covers AVX2 and AVX-512; the real
    /// widths 64 and 1152 are), within rounding in the scalar tail otherwise.
    #[test]
    fn m2_shortcut_equals_the_bilinear_kernel() {
        tch::manual_seed(5);
        for c in [1i64, 3, 17, 64, 1152] {
            let (t, h, w) = (2i64, 4i64, 6i64);
            let features = Tensor::randn([t * h * w, c], (Kind::Float, Device::Cpu)) * 3.0;
            let shortcut = block_mean_2x2(&features, c).unwrap();
            let raster = features
                .view([t, h / 2, w / 2, 2, 2, c])
                .permute([0, 1, 3, 2, 4, 5])
                .reshape([t, h, w, c])
                .permute([0, 3, 1, 2]);
            let bilinear = raster
                .upsample_bilinear2d([h / 2, w / 2], false, None, None)
                .permute([0, 2, 3, 1])
                .reshape([-1, c]);
            if c % 16 == 0 {
                assert!(shortcut.equal(&bilinear), "channels {c}");
            } else {
                let err = (&shortcut - &bilinear).abs().max().double_value(&[]);
                assert!(
                    err <= 4.0 * f32::EPSILON as f64 * 12.0,
                    "channels {c}: {err}"
                );
            }
        }
    }

    #[test]
    fn bad_shapes_and_merge_sizes_are_typed_errors() {
        let features = Tensor::zeros([8, 2], (Kind::Float, Device::Cpu));
        assert!(matches!(
            merge(&features, &[grid(1, 2, 2)], &[2]),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            merge(&features, &[grid(1, 2, 4)], &[3]),
            Err(Error::MergeSize { merge: 3, .. })
        ));
        assert!(matches!(
            merge(&features, &[grid(2, 2, 2)], &[0]),
            Err(Error::MergeSize { merge: 0, .. })
        ));
    }
}
