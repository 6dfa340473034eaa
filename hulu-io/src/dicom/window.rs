//! Grey levels to 8 bits: the file's own window, CT presets, explicit centre/width, min-max.

use super::info::DicomInfo;
use crate::nifti::{minmax_to_u8, Window};
use crate::{Error, Result};

/// How modality values of a grey frame become 0..255.
///
/// Display windows ([`DicomWindow::File`], [`DicomWindow::Fixed`], and [`DicomWindow::Auto`]
/// when the file has a window) clip to `centre ± width / 2` and scale that range to 0..255,
/// rounded, so a value means the same grey on every slice. [`DicomWindow::MinMax`] stretches
/// each frame's own range, rounded. [`DicomWindow::Reference`] is the Hulu-Med reference's
/// volume rule (optional clip, then per-slice min-max truncated), as for NIfTI slices.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum DicomWindow {
    /// The file's first window when it has one, else [`DicomWindow::MinMax`].
    #[default]
    Auto,
    /// The file's window at this index (files may list several); an error when absent.
    File(usize),
    /// Each frame's minimum to 0 and maximum to 255 (a constant frame becomes 0).
    MinMax,
    /// A fixed window in modality units, e.g. [`Window::LUNG`] or `Window::new(40.0, 400.0)`.
    Fixed(Window),
    /// The reference's rule: clip to the window if any, then per-frame min-max, truncated.
    Reference(Option<Window>),
}

impl DicomWindow {
    /// A CT preset by name: `lung`, `mediastinum` / `soft_tissue`, `bone`, `brain`,
    /// `abdomen`, `liver` (see [`Window::preset`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an unknown preset name (the message lists the known ones).
    pub fn preset(name: &str) -> Result<Self> {
        Ok(DicomWindow::Fixed(Window::preset(name)?))
    }

    /// Parses a user's choice: `auto`, `file`, `minmax`, a preset name, or `centre/width`
    /// (also `centre,width`), e.g. `-600/1500`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for text that is none of the accepted forms, or a width that is
    /// not positive and finite.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "auto" | "" => return Ok(DicomWindow::Auto),
            "file" => return Ok(DicomWindow::File(0)),
            "minmax" | "min-max" | "min_max" => return Ok(DicomWindow::MinMax),
            _ => {}
        }
        if let Some((c, w)) = t.split_once(['/', ',']) {
            let parse = |v: &str| v.trim().parse::<f64>().ok();
            if let (Some(c), Some(w)) = (parse(c), parse(w)) {
                let window = Window::new(c, w);
                window.bounds()?;
                return Ok(DicomWindow::Fixed(window));
            }
        }
        Self::preset(&t)
    }

    /// Maps one frame's modality values to grey levels.
    pub(crate) fn apply(&self, values: &[f32], info: &DicomInfo) -> Result<Vec<u8>> {
        let file_window = |i: usize| {
            Some(Window::new(
                *info.window_center.get(i)?,
                *info.window_width.get(i)?,
            ))
            .filter(|w| w.width > 0.0)
        };
        match *self {
            DicomWindow::Auto => match file_window(0) {
                Some(w) => display(values, w),
                None => Ok(minmax_rounded(values)),
            },
            DicomWindow::File(i) => match file_window(i) {
                Some(w) => display(values, w),
                None => Err(Error::InvalidRequest(format!(
                    "the file has no window {i} (centres {:?}, widths {:?})",
                    info.window_center, info.window_width
                ))),
            },
            DicomWindow::MinMax => Ok(minmax_rounded(values)),
            DicomWindow::Fixed(w) => display(values, w),
            DicomWindow::Reference(w) => minmax_to_u8(values, w),
        }
    }
}

/// Clips to the window and scales its range to 0..255, rounded half to even.
fn display(values: &[f32], window: Window) -> Result<Vec<u8>> {
    let (lo, hi) = window.bounds()?;
    // Divide, then multiply (not by a precomputed 255 / width) and round half to even: the
    // arithmetic of numpy renderings such as fixtures/inputs/ct_small.png, bit for bit.
    Ok(values
        .iter()
        .map(|&v| ((f64::from(v).clamp(lo, hi) - lo) / (hi - lo) * 255.0).round_ties_even() as u8)
        .collect())
}

/// Stretches the values' own range to 0..255, rounded half to even (as [`display`]); a
/// constant frame becomes zeros.
fn minmax_rounded(values: &[f32]) -> Vec<u8> {
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(f64::from(v)), hi.max(f64::from(v)))
        });
    if hi <= lo {
        return vec![0; values.len()];
    }
    values
        .iter()
        .map(|&v| {
            ((f64::from(v) - lo) / (hi - lo) * 255.0)
                .round_ties_even()
                .clamp(0.0, 255.0) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_presets_and_explicit_windows() {
        assert_eq!(
            DicomWindow::parse("Lung").unwrap(),
            DicomWindow::Fixed(Window::LUNG)
        );
        assert_eq!(
            DicomWindow::parse("soft tissue").unwrap(),
            DicomWindow::Fixed(Window::MEDIASTINUM)
        );
        assert_eq!(
            DicomWindow::parse("-600/1500").unwrap(),
            DicomWindow::Fixed(Window::new(-600.0, 1500.0))
        );
        assert_eq!(DicomWindow::parse("file").unwrap(), DicomWindow::File(0));
        assert!(DicomWindow::parse("40/0").is_err());
        assert!(DicomWindow::parse("kidney").is_err());
    }

    #[test]
    fn display_window_clips_and_rounds() {
        let w = Window::new(40.0, 400.0);
        let g = display(&[-1000.0, -160.0, 40.0, 240.0, 3000.0], w).unwrap();
        assert_eq!(g, [0, 0, 128, 255, 255]);
        assert_eq!(minmax_rounded(&[5.0, 5.0]), [0, 0]);
        assert_eq!(minmax_rounded(&[0.0, 1.0, 2.0]), [0, 128, 255]);
    }
}
