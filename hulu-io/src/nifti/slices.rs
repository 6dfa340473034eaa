//! 2-D slices of a volume and the reference's conversion of them to 8-bit frames.

use super::window::Window;
use crate::{Error, Result};

/// Which array axis to slice along: by index, or by anatomical plane resolved from the affine
/// (so a volume stored sagittally still yields axial slices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceAxis {
    /// Array axis 0, 1 or 2 (`data[k, :, :]`, `data[:, k, :]`, `data[:, :, k]`).
    Index(usize),
    /// Slices perpendicular to the inferior–superior axis.
    Axial,
    /// Slices perpendicular to the posterior–anterior axis.
    Coronal,
    /// Slices perpendicular to the left–right axis.
    Sagittal,
}

impl SliceAxis {
    /// Parses `"axial"`, `"coronal"`, `"sagittal"` (case-insensitive) or `"0"`, `"1"`, `"2"`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for any other text.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "axial" | "transverse" => Ok(SliceAxis::Axial),
            "coronal" => Ok(SliceAxis::Coronal),
            "sagittal" => Ok(SliceAxis::Sagittal),
            "0" => Ok(SliceAxis::Index(0)),
            "1" => Ok(SliceAxis::Index(1)),
            "2" => Ok(SliceAxis::Index(2)),
            _ => Err(Error::InvalidRequest(format!(
                "slice axis {s:?}: expected axial, coronal, sagittal, 0, 1 or 2"
            ))),
        }
    }
}

/// How to turn a volume into frames: the reference's options, with its defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SliceOptions {
    /// The axis to slice along (default `Index(2)`, the reference's).
    pub axis: SliceAxis,
    /// How many slices, chosen by `linspace(0, n - 1, count)` truncated; `None` keeps all.
    pub count: Option<usize>,
    /// Which volume of a 4-D series (the last index); 0 for 3-D files.
    pub volume: usize,
    /// Clip to this window before the per-slice min-max (e.g. [`Window::LUNG`]).
    pub window: Option<Window>,
}

impl Default for SliceOptions {
    fn default() -> Self {
        SliceOptions {
            axis: SliceAxis::Index(2),
            count: None,
            volume: 0,
            window: None,
        }
    }
}

/// One 2-D slice of raw (scaled) values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    /// Columns: the size of the second remaining array axis.
    pub width: usize,
    /// Rows: the size of the first remaining array axis.
    pub height: usize,
    /// `height * width` values; row `r`, column `c` at `r * width + c`.
    pub values: Vec<f32>,
}

impl Slice {
    /// The reference's 8-bit conversion: optional clip to `window`, then per-slice min-max
    /// to 0..255, truncated (`((v - min) / (max - min) * 255) as u8`, in f64); a constant
    /// slice becomes zeros. NaN voxels are ignored for the range and become 0.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when `window` has a width that is not positive and finite.
    pub fn to_u8(&self, window: Option<Window>) -> Result<Vec<u8>> {
        minmax_to_u8(&self.values, window)
    }
}

/// See [`Slice::to_u8`].
///
/// # Errors
///
/// [`Error::InvalidRequest`] when `window` has a width that is not positive and finite.
pub fn minmax_to_u8(values: &[f32], window: Option<Window>) -> Result<Vec<u8>> {
    let bounds = window.map(|w| w.bounds()).transpose()?;
    let clip = |v: f32| -> f64 {
        let v = v as f64;
        match bounds {
            Some((lo, hi)) if !v.is_nan() => v.clamp(lo, hi),
            _ => v,
        }
    };
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &v in values {
        let v = clip(v);
        if v < lo {
            lo = v;
        }
        if v > hi {
            hi = v;
        }
    }
    // Also catches an all-NaN slice (lo and hi stay infinite) and infinite values.
    let range = hi - lo;
    if range.is_nan() || range <= 0.0 || range.is_infinite() {
        return Ok(vec![0; values.len()]);
    }
    // `as u8` truncates toward zero and maps NaN to 0, like numpy's astype(uint8) here.
    Ok(values
        .iter()
        .map(|&v| ((clip(v) - lo) / range * 255.0) as u8)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minmax_truncates_and_constant_slices_are_zero() {
        // (v - 0) / 3 * 255: 0, 85, 170, 255 exactly; 1.5 → 127.5 truncates to 127.
        assert_eq!(
            minmax_to_u8(&[0.0, 1.0, 2.0, 3.0, 1.5], None).unwrap(),
            [0, 85, 170, 255, 127]
        );
        assert_eq!(minmax_to_u8(&[7.0; 4], None).unwrap(), [0; 4]);
        assert_eq!(minmax_to_u8(&[f32::NAN; 3], None).unwrap(), [0; 3]);
        assert_eq!(
            minmax_to_u8(&[f32::NAN, 0.0, 2.0], None).unwrap(),
            [0, 0, 255]
        );
    }

    #[test]
    fn window_clips_before_the_minmax() {
        // Lung window: -1350..150 HU. -2000 clips to -1350 (0), 1000 clips to 150 (255).
        let v = [-2000.0, -1350.0, -600.0, 150.0, 1000.0];
        assert_eq!(
            minmax_to_u8(&v, Some(Window::LUNG)).unwrap(),
            [0, 0, 127, 255, 255]
        );
        assert!(minmax_to_u8(&v, Some(Window::new(0.0, 0.0))).is_err());
        assert_eq!(Window::preset("Soft Tissue").unwrap(), Window::MEDIASTINUM);
        assert!(Window::preset("kidney").is_err());
    }
}
