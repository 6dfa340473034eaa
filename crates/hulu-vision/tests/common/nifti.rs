//! A test-only reader for plain NIfTI-1 files (uncompressed, either byte order), enough for
//! the fixtures' `anatomical.nii`.

use std::path::Path;

/// A 3-D volume as f64 values (after `scl_slope`/`scl_inter`), Fortran order.
pub struct Volume {
    dims: [usize; 3],
    data: Vec<f64>,
}

impl Volume {
    /// Reads `path`; panics on anything this helper does not cover.
    pub fn read(path: &Path) -> Volume {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(bytes.len() >= 348, "short NIfTI header");
        let big = i32::from_be_bytes(bytes[0..4].try_into().unwrap()) == 348;
        let i16_at = |o: usize| {
            let b = [bytes[o], bytes[o + 1]];
            if big {
                i16::from_be_bytes(b)
            } else {
                i16::from_le_bytes(b)
            }
        };
        let f32_at = |o: usize| {
            let b: [u8; 4] = bytes[o..o + 4].try_into().unwrap();
            if big {
                f32::from_be_bytes(b)
            } else {
                f32::from_le_bytes(b)
            }
        };
        let ndim = i16_at(40);
        assert!((3..=4).contains(&ndim), "{ndim} dimensions");
        let dims = [i16_at(42), i16_at(44), i16_at(46)].map(|d| d as usize);
        let (datatype, offset) = (i16_at(70), f32_at(108) as usize);
        let (slope, inter) = (f32_at(112) as f64, f32_at(116) as f64);
        let n = dims.iter().product::<usize>();
        let raw = &bytes[offset..];
        let data: Vec<f64> = match datatype {
            2 => raw[..n].iter().map(|&v| v as f64).collect(),
            4 => raw[..2 * n]
                .chunks_exact(2)
                .map(|c| {
                    let b = [c[0], c[1]];
                    (if big {
                        i16::from_be_bytes(b)
                    } else {
                        i16::from_le_bytes(b)
                    }) as f64
                })
                .collect(),
            other => panic!("NIfTI datatype {other} is not covered by this helper"),
        };
        let data = if slope != 0.0 && (slope != 1.0 || inter != 0.0) {
            data.into_iter().map(|v| v * slope + inter).collect()
        } else {
            data
        };
        Volume { dims, data }
    }

    /// Slice `index` along `axis` as `(rows, cols, values)`: rows follow the first remaining
    /// axis, columns the second (a `[i, j]` array for an axial slice).
    pub fn slice(&self, axis: usize, index: usize) -> (usize, usize, Vec<f64>) {
        let [nx, ny, nz] = self.dims;
        let at = |i: usize, j: usize, k: usize| self.data[i + nx * (j + ny * k)];
        let (rows, cols) = match axis {
            0 => (ny, nz),
            1 => (nx, nz),
            _ => (nx, ny),
        };
        let mut out = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                out.push(match axis {
                    0 => at(index, r, c),
                    1 => at(r, index, c),
                    _ => at(r, c, index),
                });
            }
        }
        (rows, cols, out)
    }
}
