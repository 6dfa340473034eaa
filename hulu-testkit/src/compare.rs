//! Numeric comparison with explicit tolerances, reporting the errors it measured.

/// Tolerances for comparing a computed tensor against a golden one.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    /// Largest allowed `‖a − b‖₂ / ‖b‖₂`.
    pub rel_l2: f64,
    /// Largest allowed `max |a − b|`.
    pub max_abs: f64,
}

impl Tolerance {
    /// The fixtures' suggested float32 tolerance: 1e-4 relative L2 and 1e-3 absolute.
    pub const F32: Tolerance = Tolerance {
        rel_l2: 1e-4,
        max_abs: 1e-3,
    };
}

/// Measured closeness of two equally long slices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Closeness {
    /// `‖a − b‖₂ / ‖b‖₂` (or `‖a − b‖₂` when `b` is all zeros).
    pub rel_l2: f64,
    /// `max |a − b|`.
    pub max_abs: f64,
}

impl Closeness {
    /// Measures `actual` against `expected`; panics when lengths differ.
    pub fn measure(actual: &[f32], expected: &[f32]) -> Closeness {
        assert_eq!(actual.len(), expected.len(), "length mismatch");
        let (mut diff2, mut ref2, mut max_abs) = (0f64, 0f64, 0f64);
        for (&a, &b) in actual.iter().zip(expected) {
            let d = (a as f64 - b as f64).abs();
            diff2 += d * d;
            ref2 += (b as f64) * (b as f64);
            if d > max_abs || d.is_nan() {
                max_abs = if d.is_nan() { f64::INFINITY } else { d };
            }
        }
        let rel_l2 = if ref2 > 0.0 {
            (diff2 / ref2).sqrt()
        } else {
            diff2.sqrt()
        };
        Closeness { rel_l2, max_abs }
    }

    /// Whether both measured errors are within `tol`.
    pub fn within(&self, tol: Tolerance) -> bool {
        self.rel_l2 <= tol.rel_l2 && self.max_abs <= tol.max_abs
    }
}

/// Asserts `actual` is within `tol` of `expected`, printing what it measured under `label`.
pub fn assert_close(label: &str, actual: &[f32], expected: &[f32], tol: Tolerance) -> Closeness {
    let c = Closeness::measure(actual, expected);
    println!(
        "  {label}: rel_l2 {:.2e} max_abs {:.2e}",
        c.rel_l2, c.max_abs
    );
    assert!(
        c.within(tol),
        "{label}: rel_l2 {:.3e} (tol {:.1e}), max_abs {:.3e} (tol {:.1e})",
        c.rel_l2,
        tol.rel_l2,
        c.max_abs,
        tol.max_abs
    );
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_slices_are_exactly_close() {
        let c = Closeness::measure(&[1.0, -2.0, 3.0], &[1.0, -2.0, 3.0]);
        assert_eq!(
            c,
            Closeness {
                rel_l2: 0.0,
                max_abs: 0.0
            }
        );
    }

    #[test]
    fn measures_relative_l2_and_max_abs() {
        let c = Closeness::measure(&[3.0, 4.5], &[3.0, 4.0]);
        assert!((c.rel_l2 - 0.1).abs() < 1e-12);
        assert!((c.max_abs - 0.5).abs() < 1e-12);
        assert!(!c.within(Tolerance::F32));
    }

    #[test]
    fn nan_is_never_close() {
        let c = Closeness::measure(&[f32::NAN], &[1.0]);
        assert!(!c.within(Tolerance {
            rel_l2: 1e9,
            max_abs: 1e9
        }));
    }
}
