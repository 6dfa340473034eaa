//! DICOM files and series as the workspace's [`Visual`]: which frames, which window, which kind.

use std::path::Path;

use super::file::DicomFile;
use super::scan::{is_zip, DicomScan, SeriesChoice};
use super::series::{DicomSeries, MixedOrientation};
use super::window::DicomWindow;
use crate::video::linspace_indices;
use crate::{Error, Limits, Result, Visual, VisualKind};

/// How to turn a DICOM file or series into frames for the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DicomRender {
    /// Grey-level mapping (default [`DicomWindow::Auto`]: the file's window, else min-max).
    pub window: DicomWindow,
    /// Most slices or frames to keep, chosen by `linspace(0, n - 1, k)` truncated, as the
    /// reference chooses volume slices and video frames; `None` keeps all.
    pub max_frames: Option<usize>,
    /// Cines only: frames per second to sample on the frame times, like video (default 1,
    /// the reference's); `None` keeps every frame.
    pub fps: Option<f64>,
}

impl Default for DicomRender {
    fn default() -> Self {
        DicomRender {
            window: DicomWindow::Auto,
            max_frames: None,
            fps: Some(1.0),
        }
    }
}

/// Frames of a cine sampled like video: at `fps` on the frame times (for each instant
/// `k / fps` up to the last frame's time, the frame nearest to it, ties to the earlier,
/// without repeats), then at most `max_frames` of those by `linspace`.
///
/// `times_s` must be non-decreasing (as [`super::DicomInfo::frame_times_s`] gives them). The
/// work is a few binary searches per frame, never one step per instant: a Frame Time of
/// 10^12 ms (`tests/data/cine-absurd-frame-time/`) or an `fps` of 10^9 costs what a short
/// cine does, and every frame whose neighbourhood holds an instant is kept.
pub fn sample_cine(times_s: &[f64], fps: Option<f64>, max_frames: Option<usize>) -> Vec<usize> {
    let mut picked: Vec<usize> = match (fps, times_s.last()) {
        (Some(fps), Some(&last)) if fps > 0.0 && fps.is_finite() => {
            let in_range = |k: f64| k >= 0.0 && k / fps <= last + 1e-9;
            (0..times_s.len())
                .filter(|&i| {
                    // Instants nearest to frame `i` lie above the midpoint with the previous
                    // frame; the first of them is within a step of that midpoint's tick.
                    let k0 = if i == 0 {
                        0.0
                    } else {
                        ((times_s[i - 1] + times_s[i]) / 2.0 * fps).floor()
                    };
                    let k1 = next_integer(k0);
                    [k0 - 1.0, k0, k1, next_integer(k1)]
                        .into_iter()
                        .any(|k| in_range(k) && nearest_frame(times_s, k / fps) == i)
                })
                .collect()
        }
        _ => (0..times_s.len()).collect(),
    };
    if let Some(k) = max_frames {
        if picked.len() > k {
            picked = linspace_indices(picked.len(), k)
                .into_iter()
                .map(|i| picked[i])
                .collect();
        }
    }
    picked
}

/// The next instant number after `k`: `k + 1`, or beyond 2^53 (where `k + 1 == k`) the next
/// representable number.
fn next_integer(k: f64) -> f64 {
    if k + 1.0 > k || !k.is_finite() || k < 0.0 {
        k + 1.0
    } else {
        f64::from_bits(k.to_bits() + 1)
    }
}

/// The first frame of non-decreasing `times` nearest to `t` (ties go to the earlier frame).
fn nearest_frame(times: &[f64], t: f64) -> usize {
    let above = times.partition_point(|&x| x < t);
    let best = match (above.checked_sub(1), times.get(above)) {
        (Some(below), Some(&next)) if (next - t).abs() < (times[below] - t).abs() => next,
        (Some(below), _) => times[below],
        (None, _) => times[0],
    };
    // The first of a run of equal times.
    times.partition_point(|&x| x < best)
}

/// Indices of `n` slices to keep under `max_frames`.
fn sample_slices(n: usize, max_frames: Option<usize>) -> Vec<usize> {
    match max_frames {
        Some(k) if k < n => linspace_indices(n, k),
        _ => (0..n).collect(),
    }
}

impl DicomFile {
    /// The file as a [`Visual`]: one frame is an image; a multi-frame cine (frame timing, or
    /// ultrasound/angiography) a video with timestamps, sampled by [`sample_cine`]; any
    /// other multi-frame object (enhanced CT/MR) a volume, its frames ordered along the slice
    /// normal ([`DicomFile::frames_along_normal`]) and chosen by `max_frames`.
    /// Only the chosen frames are decoded.
    ///
    /// # Errors
    ///
    /// [`Error::DicomPixels`] / [`Error::NoPixelData`] when a chosen frame cannot be decoded;
    /// [`Error::TooLarge`] over the limits; [`Error::DicomSeries`] when frames cannot be ordered
    /// along one normal.
    pub fn to_visual(&self, render: &DicomRender) -> Result<Visual> {
        let _span = tracing::info_span!("dicom_to_visual", path = %self.path().display()).entered();
        let info = self.info();
        let n = info.frames();
        let (kind, frames, timestamps) = if n == 1 {
            (VisualKind::Image, vec![0], None)
        } else if info.is_cine() {
            let times = info
                .frame_times_s()
                .unwrap_or_else(|| (0..n).map(|i| i as f64).collect());
            let frames = sample_cine(&times, render.fps, render.max_frames);
            let stamps = frames.iter().map(|&f| times[f]).collect();
            (VisualKind::Video, frames, Some(stamps))
        } else {
            // Enhanced volumes: slices in anatomical order, as a single-frame series.
            let order = self.frames_along_normal(MixedOrientation::Reject)?;
            let frames = sample_slices(n, render.max_frames)
                .into_iter()
                .map(|i| order[i])
                .collect();
            (VisualKind::Volume, frames, None)
        };
        let image = self.decode_frames(&frames)?;
        let frames = (0..image.frames())
            .map(|i| image.rgb_frame(i, &render.window))
            .collect::<Result<Vec<_>>>()?;
        Ok(Visual {
            kind,
            frames,
            timestamps,
            origin: None,
        })
    }
}

impl DicomSeries {
    /// The series as a volume [`Visual`], slices chosen by `max_frames`; only the chosen
    /// slices are decoded.
    ///
    /// # Errors
    ///
    /// [`Error::DicomPixels`] / [`Error::NoPixelData`] when a chosen frame cannot be decoded;
    /// [`Error::TooLarge`] over the limits; [`Error::DicomSeries`] when frames cannot be ordered
    /// along one normal.
    pub fn to_visual(&self, render: &DicomRender) -> Result<Visual> {
        let _span = tracing::info_span!("dicom_series_to_visual", slices = self.len()).entered();
        let frames = sample_slices(self.len(), render.max_frames)
            .into_iter()
            .map(|i| {
                let image = self.slices[i].decode_frames(&[0])?;
                image.rgb_frame(0, &render.window)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Visual::new(VisualKind::Volume, frames))
    }
}

/// Reads a DICOM file, a series or study folder, a `DICOMDIR` or a zipped export as a
/// [`Visual`]; see [`load_dicom_with`], with the default [`SeriesChoice::Largest`].
///
/// # Errors
/// As [`load_dicom_with`].
pub fn load_dicom(path: impl AsRef<Path>, render: &DicomRender, limits: &Limits) -> Result<Visual> {
    load_dicom_with(path, render, &SeriesChoice::default(), limits)
}

/// Reads DICOM as a [`Visual`]: a folder (walked recursively, e.g. PATIENT/STUDY/SERIES), a
/// `DICOMDIR` (its folder is scanned) or a `.zip` export (all recognised by content) becomes
/// the volume of the series `choice` picks (mixed orientations refused); a single file an
/// image, video or volume (see [`DicomFile::to_visual`]).
///
/// # Errors
/// [`Error::Io`], those of [`DicomScan::open`] and [`DicomScan::choose`] for exports, of
/// [`DicomFile::open`] and [`DicomFile::to_visual`] for one file.
pub fn load_dicom_with(
    path: impl AsRef<Path>,
    render: &DicomRender,
    choice: &SeriesChoice,
    limits: &Limits,
) -> Result<Visual> {
    let path = path.as_ref();
    let _span = tracing::info_span!("load_dicom", path = %path.display()).entered();
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let export = if meta.is_dir() || is_zip(path) {
        Some(path)
    } else if path.file_name().is_some_and(|n| n == "DICOMDIR") {
        path.parent()
    } else {
        None
    };
    match export {
        Some(source) => DicomScan::open(source, MixedOrientation::Reject, limits)?
            .choose(choice)?
            .to_visual(render),
        None => DicomFile::open(path, limits)?.to_visual(render),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cine_sampling_follows_frame_times() {
        // 30 frames at 30 fps: 1 fps keeps frame 0 only (the clip lasts 0.97 s).
        let times: Vec<f64> = (0..30).map(|i| i as f64 / 30.0).collect();
        assert_eq!(sample_cine(&times, Some(1.0), None), [0]);
        // 10 fps: every third frame.
        assert_eq!(
            sample_cine(&times, Some(10.0), None),
            [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]
        );
        // No fps: all frames, then linspace down to 4.
        assert_eq!(sample_cine(&times, None, Some(4)), [0, 9, 19, 29]);
        assert!(sample_cine(&[], Some(1.0), None).is_empty());
        assert_eq!(sample_slices(5, Some(8)), [0, 1, 2, 3, 4]);
        assert_eq!(sample_slices(25, Some(8)), [0, 3, 6, 10, 13, 17, 20, 24]);
    }
}
