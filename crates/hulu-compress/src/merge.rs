//! The in-plane merge: each `m × m` block of patch features becomes one token.

use crate::{Error, Result};
use hulu_io::PatchGrid;
use tch::Tensor;

/// Merges each `m × m` block of patches into one token, per input, as the reference does:
/// features in patch order (frame, block row, block column, row in block, column in block) are
/// put back on the raster grid and resized by bilinear interpolation (`align_corners = false`)
/// to `rows/m × cols/m`, which for `m = 2` is the block mean. Output rows are in raster order
/// (frame, row, column). `m = 1` returns the input unchanged.
///
/// `features` is `[Σ patches, C]`; returns `[Σ merged tokens, C]`.
pub fn merge_tokens(
    features: &Tensor,
    grids: &[PatchGrid],
    merge_sizes: &[usize],
) -> Result<Tensor> {
    let _span = tracing::debug_span!("merge_tokens", inputs = grids.len()).entered();
    if grids.len() != merge_sizes.len() {
        return Err(Error::Shape(format!(
            "{} grids but {} merge sizes",
            grids.len(),
            merge_sizes.len()
        )));
    }
    let size = features.size();
    let total: usize = grids.iter().map(PatchGrid::patches).sum();
    if size.len() != 2 || size[0] as usize != total {
        return Err(Error::Shape(format!(
            "features of shape {size:?} for grids holding {total} patches"
        )));
    }
    let c = size[1];
    let mut outputs = Vec::with_capacity(grids.len());
    let mut start = 0i64;
    for (g, &m) in grids.iter().zip(merge_sizes) {
        if m == 0 || g.rows % m != 0 || g.cols % m != 0 {
            return Err(Error::MergeSize {
                merge: m,
                rows: g.rows,
                cols: g.cols,
            });
        }
        let n = g.patches() as i64;
        let chunk = features.f_narrow(0, start, n)?;
        start += n;
        if m == 1 {
            outputs.push(chunk);
            continue;
        }
        let (t, h, w, m) = (g.frames as i64, g.rows as i64, g.cols as i64, m as i64);
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
