//! The 8×8 inverse DCT of T.81 A.3.3, separable, in `f32`.
//!
//! A float IDCT is within a rounding step of the exact transform at 12-bit precision, so
//! our samples agree with libjpeg's accurate integer IDCT to about one level.

use std::sync::OnceLock;

/// `basis[x * 8 + u] = C(u) / 2 · cos((2x + 1) u π / 16)`, with C(0) = 1/√2, else 1.
fn basis() -> &'static [f32; 64] {
    static BASIS: OnceLock<[f32; 64]> = OnceLock::new();
    BASIS.get_or_init(|| {
        let mut b = [0f32; 64];
        for x in 0..8 {
            for u in 0..8 {
                let c = if u == 0 {
                    std::f64::consts::FRAC_1_SQRT_2
                } else {
                    1.0
                };
                let angle = (2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0;
                b[x * 8 + u] = (c / 2.0 * angle.cos()) as f32;
            }
        }
        b
    })
}

/// Inverse DCT of dequantised coefficients (natural order, row-major `[v * 8 + u]`) into
/// samples: level shift `2^(precision-1)` added, rounded, clamped to `0..2^precision`.
pub(super) fn idct_block(coefficients: &[f32; 64], precision: u8, out: &mut [u16; 64]) {
    let shift = f32::from(1u16 << (precision - 1));
    let max = f32::from(((1u32 << precision) - 1) as u16);
    // A block with only a DC coefficient is flat: DC / 8 everywhere (most blocks of
    // medical images, and a cheap exact path).
    if coefficients[1..].iter().all(|&c| c == 0.0) {
        let v = (coefficients[0] / 8.0 + shift).round().clamp(0.0, max) as u16;
        out.fill(v);
        return;
    }
    let b = basis();
    // Rows first (along u), then columns (along v), both over the coefficient rows that
    // hold anything: quantised blocks are sparse, high frequencies mostly zero.
    let mut rows = [0f32; 64];
    let mut used = [0usize; 8];
    let mut n_used = 0;
    for v in 0..8 {
        let line = &coefficients[v * 8..v * 8 + 8];
        if line.iter().all(|&c| c == 0.0) {
            continue;
        }
        used[n_used] = v;
        n_used += 1;
        for x in 0..8 {
            let basis_x = &b[x * 8..x * 8 + 8];
            rows[v * 8 + x] = line.iter().zip(basis_x).map(|(c, k)| c * k).sum();
        }
    }
    for y in 0..8 {
        let basis_y = &b[y * 8..y * 8 + 8];
        for x in 0..8 {
            let s: f32 = used[..n_used]
                .iter()
                .map(|&v| rows[v * 8 + x] * basis_y[v])
                .sum();
            out[y * 8 + x] = (s + shift).round().clamp(0.0, max) as u16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// T.81 A.3.3 straight from the formula, in f64, without level shift or rounding.
    fn reference(coefficients: &[f32; 64]) -> [f64; 64] {
        let c = |u: usize| {
            if u == 0 {
                std::f64::consts::FRAC_1_SQRT_2
            } else {
                1.0
            }
        };
        let mut out = [0f64; 64];
        for y in 0..8 {
            for x in 0..8 {
                let mut s = 0.0;
                for v in 0..8 {
                    for u in 0..8 {
                        let cx =
                            ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos();
                        let cy =
                            ((2 * y + 1) as f64 * v as f64 * std::f64::consts::PI / 16.0).cos();
                        s += c(u) * c(v) * f64::from(coefficients[v * 8 + u]) * cx * cy;
                    }
                }
                out[y * 8 + x] = s / 4.0;
            }
        }
        out
    }

    #[test]
    fn dc_only_block_is_flat() {
        let mut coefficients = [0f32; 64];
        coefficients[0] = 8.0 * 100.0;
        let mut out = [0u16; 64];
        idct_block(&coefficients, 12, &mut out);
        assert!(out.iter().all(|&v| v == 2048 + 100), "{out:?}");
        // Clamped at both ends of the 8-bit range.
        coefficients[0] = -8.0 * 1000.0;
        idct_block(&coefficients, 8, &mut out);
        assert!(out.iter().all(|&v| v == 0));
        coefficients[0] = 8.0 * 1000.0;
        idct_block(&coefficients, 8, &mut out);
        assert!(out.iter().all(|&v| v == 255));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Random 12-bit coefficient blocks (sparse, like real ones, and dense), with
        /// every sample within 0.5 + 0.02 of the f64 formula (clamped like ours): rounding
        /// differs from the exact transform's by at most one level, f32 error included.
        #[test]
        fn matches_the_dct_iii_formula(
            values in proptest::collection::vec(-400i32..400, 64),
            keep in proptest::collection::vec(any::<bool>(), 64),
            dc in -8000i32..8000,
        ) {
            let mut coefficients = [0f32; 64];
            for i in 1..64 {
                if keep[i] {
                    coefficients[i] = values[i] as f32;
                }
            }
            coefficients[0] = dc as f32;
            let mut out = [0u16; 64];
            idct_block(&coefficients, 12, &mut out);
            let exact = reference(&coefficients);
            for i in 0..64 {
                let want = exact[i] + 2048.0;
                let clamped = want.clamp(0.0, 4095.0);
                prop_assert!(
                    (f64::from(out[i]) - clamped).abs() <= 0.52,
                    "sample {i}: ours {} exact {want}", out[i]
                );
            }
        }
    }
}
