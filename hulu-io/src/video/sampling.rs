//! Which frames or slices to keep: the reference's `numpy.linspace(0, n - 1, k)` truncated
//! to integers, and its frames-per-second rule for video (FFmpeg's `fps` filter with
//! `round=down`, then `linspace` down-sampling to `max_frames`).

use std::collections::BTreeMap;

use crate::{Error, Limits, Result, RgbFrame, Visual, VisualKind};

/// The frames a list of [`Pick`]s wants, collected while a decoder shows frames in display
/// order: each decoder converts a frame to RGB only when it is wanted.
pub(crate) struct PickedFrames {
    picks: Vec<Pick>,
    wanted: BTreeMap<usize, Option<RgbFrame>>,
    /// Frames the decoder outputs first that are never shown (before an edit list starts).
    hidden: usize,
    shown: usize,
}

impl PickedFrames {
    /// Collects `picks`, whose frame numbers count from the first frame after `hidden` ones.
    pub(crate) fn new(picks: Vec<Pick>, hidden: usize) -> Self {
        let wanted = picks.iter().map(|p| (p.frame + hidden, None)).collect();
        PickedFrames {
            picks,
            wanted,
            hidden,
            shown: 0,
        }
    }

    /// Counts the next frame in display order, keeping `convert()` of it when it is wanted.
    pub(crate) fn show(&mut self, convert: impl FnOnce() -> Result<RgbFrame>) -> Result<()> {
        if let Some(slot) = self.wanted.get_mut(&self.shown) {
            *slot = Some(convert()?);
        }
        self.shown += 1;
        Ok(())
    }

    /// The picked frames in pick order (repeats allowed), stamped with the picks' times; an
    /// error naming `what` when the stream ended before a chosen frame.
    pub(crate) fn into_visual(self, what: &str) -> Result<Visual> {
        let mut frames = Vec::with_capacity(self.picks.len());
        for p in &self.picks {
            let frame = self
                .wanted
                .get(&(p.frame + self.hidden))
                .and_then(|f| f.clone())
                .ok_or_else(|| Error::InvalidVideo {
                    what: what.to_string(),
                    reason: format!(
                        "decoded {} frames, but frame {} was chosen",
                        self.shown,
                        p.frame + self.hidden
                    ),
                })?;
            frames.push(frame);
        }
        let mut visual = Visual::new(VisualKind::Video, frames);
        visual.timestamps = Some(self.picks.iter().map(|p| p.timestamp).collect());
        Ok(visual)
    }
}

/// `k` indices spread evenly over `0..n`, as `numpy.linspace(0, n - 1, k).astype(int)`:
/// `i * step` with `step = (n - 1) / (k - 1)`, the last value exactly `n - 1`, each truncated.
/// Indices repeat when `k > n` (as the reference's do). Empty when `n` or `k` is 0.
pub fn linspace_indices(n: usize, k: usize) -> Vec<usize> {
    if n == 0 || k == 0 {
        return Vec::new();
    }
    if k == 1 {
        return vec![0];
    }
    let stop = (n - 1) as f64;
    let step = stop / (k - 1) as f64;
    (0..k)
        .map(|i| {
            if i == k - 1 {
                n - 1
            } else {
                ((i as f64) * step) as usize
            }
        })
        .collect()
}

/// How to sample a video: the reference's `load_video(fps=1, max_frames=180)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoOptions {
    /// Frames per second to keep (default 1). `None` keeps every frame, with timestamps spread
    /// evenly over the duration as the reference does without an fps filter.
    pub fps: Option<f64>,
    /// Most frames to return (default 180); more are down-sampled with `linspace`.
    pub max_frames: usize,
}

impl Default for VideoOptions {
    fn default() -> Self {
        VideoOptions {
            fps: Some(1.0),
            max_frames: 180,
        }
    }
}

/// One frame to keep: which decoded frame (display order) and the timestamp the reference
/// gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    /// Index of the frame in display order.
    pub frame: usize,
    /// Seconds.
    pub timestamp: f64,
}

/// Chooses frames from presentation times `pts` (seconds, display order, ascending) of a
/// stream that ends at `end` seconds (last pts plus its duration).
///
/// With `fps = Some(f)` this is FFmpeg's `fps=f:round=down` filter: output tick `n` (from
/// `floor(pts[0] * f)` up to, not including, `floor(end * f)`) shows the last frame with
/// `floor(pts * f) <= n`, stamped `pts[0] + (n - first) / f` as the reference's `arange`.
/// At least one frame is kept for a non-empty stream. Then, if more than `max_frames`
/// remain, `linspace` picks `max_frames` of them.
///
/// The work is one binary search per pick: the ticks are chosen before any is visited, so a
/// claimed duration of 10^15 s or an `fps` of 10^9 costs no more than a short clip.
///
/// # Errors
///
/// [`Error::TooLarge`] naming `what` when the picks would exceed `limits.max_frames` (a
/// stream whose durations claim more seconds than the frame limit, with a large
/// `max_frames`), checked before anything is allocated.
pub fn pick_frames(
    what: &str,
    pts: &[f64],
    end: f64,
    options: &VideoOptions,
    limits: &Limits,
) -> Result<Vec<Pick>> {
    if pts.is_empty() {
        return Ok(Vec::new());
    }
    let start = pts[0];
    match options.fps {
        Some(f) if f > 0.0 && f.is_finite() => {
            let first = (start * f).floor();
            let last = (end * f).floor();
            // A saturating cast: a corrupt duration gives many ticks, never a panic.
            let ticks = ((last - first).max(1.0)) as usize;
            let count = ticks.min(options.max_frames);
            limits.check_frames(what, count)?;
            // Choose the ticks first, so a hostile duration costs `max_frames` lookups rather
            // than one entry per second of claimed duration.
            let chosen = if ticks > options.max_frames {
                linspace_indices(ticks, options.max_frames)
            } else {
                (0..ticks).collect()
            };
            Ok(chosen
                .into_iter()
                .map(|n| {
                    let tick = first + n as f64;
                    let shown = pts.partition_point(|&p| (p * f).floor() <= tick);
                    Pick {
                        frame: shown.saturating_sub(1),
                        timestamp: start + n as f64 / f,
                    }
                })
                .collect())
        }
        _ => {
            let n = pts.len();
            limits.check_frames(what, n.min(options.max_frames))?;
            let span = end - start;
            let chosen = if n > options.max_frames {
                linspace_indices(n, options.max_frames)
            } else {
                (0..n).collect()
            };
            Ok(chosen
                .into_iter()
                .map(|i| Pick {
                    frame: i,
                    timestamp: if n > 1 {
                        start + span * i as f64 / (n - 1) as f64
                    } else {
                        start
                    },
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_fixture_slice_choice() {
        // tests/fixtures/cases/*/volume_nifti.json: 25 slices, 8 kept.
        assert_eq!(linspace_indices(25, 8), [0, 3, 6, 10, 13, 17, 20, 24]);
        assert_eq!(linspace_indices(5, 1), [0]);
        assert_eq!(linspace_indices(3, 5), [0, 0, 1, 1, 2]);
        assert!(linspace_indices(0, 4).is_empty());
    }

    #[test]
    fn one_fps_takes_the_last_frame_of_each_second() {
        // 25 fps for 5.28 s: FFmpeg's fps=1:round=down emits frames 24, 49, 74, 99, 124.
        let pts: Vec<f64> = (0..132).map(|i| i as f64 / 25.0).collect();
        let limits = Limits::default();
        let picks = pick_frames("t", &pts, 5.28, &VideoOptions::default(), &limits).unwrap();
        let frames: Vec<usize> = picks.iter().map(|p| p.frame).collect();
        assert_eq!(frames, [24, 49, 74, 99, 124]);
        let ts: Vec<f64> = picks.iter().map(|p| p.timestamp).collect();
        assert_eq!(ts, [0.0, 1.0, 2.0, 3.0, 4.0]);
        // max_frames 3 keeps ticks 0, 2 and 4.
        let few = pick_frames(
            "t",
            &pts,
            5.28,
            &VideoOptions {
                max_frames: 3,
                ..VideoOptions::default()
            },
            &limits,
        )
        .unwrap();
        assert_eq!(
            few.iter().map(|p| p.frame).collect::<Vec<_>>(),
            [24, 74, 124]
        );
        // A corrupt duration of 10^15 s is sampled without one entry per second.
        let hostile = pick_frames("t", &pts, 1e15, &VideoOptions::default(), &limits).unwrap();
        assert_eq!(hostile.len(), 180);
        assert_eq!(hostile[0].frame, 24);
        assert_eq!(hostile[179].frame, 131);
        // A clip shorter than a second still yields one frame.
        assert_eq!(
            pick_frames("t", &pts[..5], 0.2, &VideoOptions::default(), &limits)
                .unwrap()
                .len(),
            1
        );
    }
}
