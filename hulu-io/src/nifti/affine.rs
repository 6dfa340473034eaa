//! The voxel-to-world affine (nibabel's `get_best_affine()`) and anatomical axis resolution.

use super::header::NiftiHeader;

/// A 4×4 voxel-to-world (RAS+ millimetre) transform, row-major.
pub type Affine = [[f64; 4]; 4];

/// nibabel's choice: the sform when `sform_code > 0`, else the qform when `qform_code > 0`,
/// else a diagonal of the voxel sizes with x flipped and the origin at the volume centre.
pub fn best_affine(h: &NiftiHeader) -> Affine {
    if h.sform_code > 0 {
        let mut a = identity();
        a[..3].copy_from_slice(&h.srow);
        a
    } else if h.qform_code > 0 {
        qform_affine(h)
    } else {
        base_affine(h)
    }
}

fn identity() -> Affine {
    let mut a = [[0.0; 4]; 4];
    for (i, row) in a.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    a
}

/// Voxel sizes along i, j, k (1 for missing dimensions).
fn spatial_zooms(h: &NiftiHeader) -> [f64; 3] {
    let ndim = h.dim[0].clamp(0, 3) as usize;
    let mut z = [1.0; 3];
    z[..ndim].copy_from_slice(&h.pixdim[1..=ndim]);
    z
}

/// The quaternion transform: rotation from (b, c, d) with `a` filled in, zooms with the k
/// axis flipped when `qfac` (pixdim[0]) is negative, then the offsets.
fn qform_affine(h: &NiftiHeader) -> Affine {
    let [b, c, d] = h.quatern;
    // nibabel fills `a` from the unit-norm constraint and treats a slightly negative residual
    // (float32 rounding) as zero.
    let w2 = 1.0 - (b * b + c * c + d * d);
    let a = if w2 < 0.0 { 0.0 } else { w2.sqrt() };
    let n = a * a + b * b + c * c + d * d;
    let r = if n < f64::EPSILON {
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    } else {
        let s = 2.0 / n;
        let (x, y, z) = (b * s, c * s, d * s);
        let (wx, wy, wz) = (a * x, a * y, a * z);
        let (xx, xy, xz) = (b * x, b * y, b * z);
        let (yy, yz, zz) = (c * y, c * z, d * z);
        [
            [1.0 - (yy + zz), xy - wz, xz + wy],
            [xy + wz, 1.0 - (xx + zz), yz - wx],
            [xz - wy, yz + wx, 1.0 - (xx + yy)],
        ]
    };
    let mut zooms = spatial_zooms(h);
    if h.pixdim[0] < 0.0 {
        zooms[2] = -zooms[2];
    }
    let mut out = identity();
    for i in 0..3 {
        for j in 0..3 {
            out[i][j] = r[i][j] * zooms[j];
        }
        out[i][3] = h.qoffset[i];
    }
    out
}

/// nibabel's `get_base_affine()`: diagonal zooms, x flipped, origin at the centre voxel.
fn base_affine(h: &NiftiHeader) -> Affine {
    let zooms = spatial_zooms(h);
    let mut out = identity();
    for (i, &zoom) in zooms.iter().enumerate() {
        let n = if (i as i64) < h.dim[0] {
            h.dim[i + 1]
        } else {
            1
        };
        let z = if i == 0 { -zoom } else { zoom };
        out[i][i] = z;
        out[i][3] = -((n as f64 - 1.0) / 2.0) * z;
    }
    out
}

/// For each array axis i, j, k: the world axis it runs along (0 = x/left-right,
/// 1 = y/posterior-anterior, 2 = z/inferior-superior) and whether it runs toward the positive
/// (R, A, S) end. Assigned greedily on the direction cosines, largest first, so every world
/// axis gets exactly one array axis even for oblique volumes.
pub fn axis_directions(affine: &Affine) -> [(usize, bool); 3] {
    let mut cos = [[0.0f64; 3]; 3]; // cos[world][array]
    for j in 0..3 {
        let norm = (0..3).map(|i| affine[i][j].powi(2)).sum::<f64>().sqrt();
        for (i, row) in cos.iter_mut().enumerate() {
            row[j] = if norm > 0.0 { affine[i][j] / norm } else { 0.0 };
        }
    }
    let mut out = [(usize::MAX, true); 3];
    let mut world_used = [false; 3];
    for _ in 0..3 {
        let mut best: Option<(usize, usize, f64)> = None;
        for (w, row) in cos.iter().enumerate() {
            for (a, &c) in row.iter().enumerate() {
                if world_used[w] || out[a].0 != usize::MAX {
                    continue;
                }
                if best.is_none_or(|(_, _, b)| c.abs() > b) {
                    best = Some((w, a, c.abs()));
                }
            }
        }
        let (w, a, _) = best.expect("three world axes for three array axes");
        world_used[w] = true;
        out[a] = (w, cos[w][a] >= 0.0);
    }
    out
}

/// nibabel's `aff2axcodes`: the end each array axis points to, e.g. `['L', 'A', 'S']`.
pub fn axis_codes(affine: &Affine) -> [char; 3] {
    axis_directions(affine).map(|(w, positive)| match (w, positive) {
        (0, true) => 'R',
        (0, false) => 'L',
        (1, true) => 'A',
        (1, false) => 'P',
        (_, true) => 'S',
        (_, false) => 'I',
    })
}
