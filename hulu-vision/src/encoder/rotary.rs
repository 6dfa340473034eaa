//! 2-D rotary position embedding of the vision encoder: a quarter of each head's channels
//! rotate with the patch row, a quarter with the patch column, and the pattern repeats once so
//! that `rotate_half` pairs channel `i` with `i + head_dim/2`.

use crate::{Error, Result};
use tch::{Device, Kind, Tensor};

/// Rotary frequencies for one head width.
#[derive(Debug, Clone)]
pub struct VisionRotary {
    head_dim: usize,
    inv_freq: Vec<f32>,
}

impl VisionRotary {
    /// Frequencies `1 / θ^(2i / (head_dim/2))` for `i < head_dim/4`; `head_dim` must be a
    /// multiple of 4.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `head_dim` is zero or not a multiple of 4.
    pub fn new(head_dim: usize, theta: f64) -> Result<Self> {
        if head_dim == 0 || !head_dim.is_multiple_of(4) {
            return Err(Error::Config(format!(
                "vision head width {head_dim} is not a positive multiple of 4, as 2-D rotary needs"
            )));
        }
        let dim = head_dim / 2;
        let inv_freq = (0..dim)
            .step_by(2)
            .map(|i| (1.0 / theta.powf(i as f64 / dim as f64)) as f32)
            .collect();
        Ok(VisionRotary { head_dim, inv_freq })
    }

    /// `(cos, sin)` for one frame of `rows × cols` patches in merge-block order, each float32
    /// `[rows·cols, head_dim]`.
    ///
    /// # Errors
    ///
    /// [`Error::Torch`] when libtorch fails (a device it cannot allocate on).
    pub fn frame_tables(
        &self,
        rows: usize,
        cols: usize,
        merge: usize,
        device: Device,
    ) -> Result<(Tensor, Tensor)> {
        let quarter = self.inv_freq.len();
        let n = rows * cols;
        let mut cos = Vec::with_capacity(n * self.head_dim);
        let mut sin = Vec::with_capacity(n * self.head_dim);
        let mut angles = vec![0f32; 2 * quarter];
        for (row, col) in merge_block_positions(rows, cols, merge) {
            for (j, &f) in self.inv_freq.iter().enumerate() {
                angles[j] = row as f32 * f;
                angles[quarter + j] = col as f32 * f;
            }
            for _ in 0..2 {
                cos.extend(angles.iter().map(|a| a.cos()));
                sin.extend(angles.iter().map(|a| a.sin()));
            }
        }
        let shape = [n as i64, self.head_dim as i64];
        let to = |v: Vec<f32>| -> Result<Tensor> {
            Ok(Tensor::f_from_slice(&v)?.f_view(shape)?.f_to(device)?)
        };
        Ok((to(cos)?, to(sin)?))
    }
}

/// `(row, col)` of each patch of a `rows × cols` frame in patch order: merge blocks in raster
/// order, patches inside a block in raster order.
pub fn merge_block_positions(
    rows: usize,
    cols: usize,
    merge: usize,
) -> impl Iterator<Item = (usize, usize)> {
    let (block_rows, block_cols) = (rows / merge, cols / merge);
    (0..block_rows).flat_map(move |br| {
        (0..block_cols).flat_map(move |bc| {
            (0..merge)
                .flat_map(move |ir| (0..merge).map(move |ic| (br * merge + ir, bc * merge + ic)))
        })
    })
}

/// Rotates `x` `[T, S, heads, head_dim]` by the tables `[S, head_dim]`, in float32, returning
/// `x`'s dtype: `x·cos + rotate_half(x)·sin` with `rotate_half(a, b) = (−b, a)`.
///
/// # Errors
///
/// [`Error::Torch`] when the shapes do not broadcast as described.
pub fn apply_rotary(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let kind = x.kind();
    let xf = x.f_to_kind(Kind::Float)?;
    let half = xf.size()[3] / 2;
    let rotated = Tensor::f_cat(
        &[
            xf.f_narrow(3, half, half)?.f_neg()?,
            xf.f_narrow(3, 0, half)?,
        ],
        3,
    )?;
    let cos = cos.f_unsqueeze(1)?;
    let sin = sin.f_unsqueeze(1)?;
    let out = xf.f_mul(&cos)?.f_add(&rotated.f_mul(&sin)?)?;
    Ok(out.f_to_kind(kind)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_merge_blocks() {
        let p: Vec<_> = merge_block_positions(2, 4, 2).collect();
        assert_eq!(
            p,
            vec![
                (0, 0),
                (0, 1),
                (1, 0),
                (1, 1),
                (0, 2),
                (0, 3),
                (1, 2),
                (1, 3)
            ]
        );
        let raster: Vec<_> = merge_block_positions(2, 3, 1).collect();
        assert_eq!(raster, vec![(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]);
    }

    #[test]
    fn tables_split_row_and_column_channels() {
        let rope = VisionRotary::new(8, 10_000.0).unwrap();
        // head_dim 8: inv_freq = [1, 1/100]; channels (row, row, col, col) twice.
        let (cos, _) = rope.frame_tables(2, 3, 1, Device::Cpu).unwrap();
        let patch5: Vec<f32> = Vec::try_from(cos.get(5)).unwrap(); // row 1, col 2
        let expect = [1f32.cos(), 0.01f32.cos(), 2f32.cos(), 0.02f32.cos()];
        for (i, e) in expect.iter().chain(expect.iter()).enumerate() {
            assert!((patch5[i] - e).abs() < 1e-6, "channel {i}");
        }
    }

    #[test]
    fn rotation_keeps_norms() {
        let rope = VisionRotary::new(8, 10_000.0).unwrap();
        let (cos, sin) = rope.frame_tables(2, 2, 2, Device::Cpu).unwrap();
        let x = Tensor::randn([3, 4, 2, 8], (Kind::Float, Device::Cpu));
        let y = apply_rotary(&x, &cos, &sin).unwrap();
        let diff = (x.norm_scalaropt_dim(2, [3], false) - y.norm_scalaropt_dim(2, [3], false))
            .abs()
            .max()
            .double_value(&[]);
        assert!(diff < 1e-5);
    }

    #[test]
    fn refuses_head_widths_it_cannot_split() {
        assert!(VisionRotary::new(6, 10_000.0).is_err());
    }
}
