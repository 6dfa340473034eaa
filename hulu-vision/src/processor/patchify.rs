//! Rescale, normalise and cut one resized frame into patch rows in the reference's order.

/// Per-channel map from an 8-bit value to its normalised float, computed as the reference
/// does: rescale in f64, cast to f32, then `(x − mean) / std` in f32.
#[derive(Debug, Clone)]
pub struct Normalizer {
    table: [[f32; 256]; 3],
}

impl Normalizer {
    /// The map for a rescale factor (or none) and per-channel mean/std (or none).
    pub fn new(rescale: Option<f64>, mean_std: Option<([f64; 3], [f64; 3])>) -> Self {
        let mut table = [[0f32; 256]; 3];
        for (c, row) in table.iter_mut().enumerate() {
            for (v, out) in row.iter_mut().enumerate() {
                let x = match rescale {
                    Some(s) => (v as f64 * s) as f32,
                    None => v as f32,
                };
                *out = match mean_std {
                    Some((mean, std)) => (x - mean[c] as f32) / std[c] as f32,
                    None => x,
                };
            }
        }
        Normalizer { table }
    }

    /// The normalised value of 8-bit `v` in channel `c`.
    #[inline]
    pub fn map(&self, c: usize, v: u8) -> f32 {
        self.table[c][v as usize]
    }
}

/// Writes the patches of one `width × height` interleaved RGB frame into `out`
/// (`(height/p)·(width/p)` rows of `3·p·p` values).
///
/// Rows run over merge blocks in raster order and, inside a block, over its `m × m` patches in
/// raster order; each row is channel-major (`c`, then pixel row, then pixel column). Both sides
/// must be multiples of `p · m`.
pub fn patchify_frame(
    rgb: &[u8],
    width: usize,
    height: usize,
    patch: usize,
    merge: usize,
    norm: &Normalizer,
    out: &mut [f32],
) {
    let (rows, cols) = (height / patch, width / patch);
    let row_len = 3 * patch * patch;
    debug_assert_eq!(out.len(), rows * cols * row_len);
    let blocks_per_row = cols / merge;
    for pr in 0..rows {
        let (br, ir) = (pr / merge, pr % merge);
        for pc in 0..cols {
            let (bc, ic) = (pc / merge, pc % merge);
            let index = ((br * blocks_per_row + bc) * merge + ir) * merge + ic;
            let dst = &mut out[index * row_len..(index + 1) * row_len];
            for py in 0..patch {
                let y = pr * patch + py;
                let src = &rgb[(y * width + pc * patch) * 3..(y * width + (pc + 1) * patch) * 3];
                for (px, pixel) in src.chunks_exact(3).enumerate() {
                    for (c, &v) in pixel.iter().enumerate() {
                        dst[(c * patch + py) * patch + px] = norm.map(c, v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_merge_blocks_and_are_channel_major() {
        // A 2 × 4 patch frame (patch 1) with merge 2: blocks (0,0) then (0,1).
        let (w, h) = (4, 2);
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| [i as u8, 100 + i as u8, 200 + i as u8])
            .collect();
        let norm = Normalizer::new(None, None);
        let mut out = vec![0f32; w * h * 3];
        patchify_frame(&rgb, w, h, 1, 2, &norm, &mut out);
        // Pixel indices (y·w + x) in block order: block 0 is pixels 0, 1, 4, 5.
        let order: Vec<f32> = out.chunks(3).map(|r| r[0]).collect();
        assert_eq!(order, vec![0.0, 1.0, 4.0, 5.0, 2.0, 3.0, 6.0, 7.0]);
        assert_eq!(&out[..3], &[0.0, 100.0, 200.0]);

        // Patch 2, merge 1: one row per 2 × 2 patch, channel-major.
        let mut out = vec![0f32; w * h * 3];
        patchify_frame(&rgb, w, h, 2, 1, &norm, &mut out);
        assert_eq!(&out[..4], &[0.0, 1.0, 4.0, 5.0]);
        assert_eq!(&out[4..8], &[100.0, 101.0, 104.0, 105.0]);
        assert_eq!(&out[12..16], &[2.0, 3.0, 6.0, 7.0]);
    }

    #[test]
    fn normalises_like_the_reference() {
        let n = Normalizer::new(Some(1.0 / 255.0), Some(([0.5; 3], [0.5; 3])));
        assert_eq!(n.map(0, 0), -1.0);
        assert_eq!(n.map(1, 255), 1.0);
        assert_eq!(n.map(2, 51), ((51.0f64 / 255.0) as f32 - 0.5) / 0.5);
    }
}
