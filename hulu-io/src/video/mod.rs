//! Video frames sampled like the reference: one frame per second by default, at most
//! `max_frames` (evenly down-sampled with `linspace`), with timestamps in seconds.
//!
//! MP4 files with an H.264 track decode with no system libraries (the `mp4` crate and a
//! bundled OpenH264). Other containers and codecs need the `ffmpeg` cargo feature.
//! Frames already decoded elsewhere (a DICOM cine) go through [`sample_decoded`].

mod annexb;
mod avcc;
mod boxes;
mod display;
#[cfg(feature = "ffmpeg")]
mod ffmpeg;
mod mp4;
mod sampling;
mod table;
mod yuv;

use std::path::Path;

#[cfg(feature = "ffmpeg")]
pub use ffmpeg::load_with_ffmpeg;
pub use sampling::{linspace_indices, pick_frames, Pick, VideoOptions};

use crate::{Error, Limits, Result, RgbFrame, Visual, VisualKind};

/// Reads a video file and returns the frames `options` selects, with timestamps.
pub fn load_video(path: impl AsRef<Path>, options: &VideoOptions) -> Result<Visual> {
    load_video_with_limits(path, options, &Limits::default())
}

/// [`load_video`] with an explicit memory budget (checked against the file size and the
/// frames to return before anything is decoded).
pub fn load_video_with_limits(
    path: impl AsRef<Path>,
    options: &VideoOptions,
    limits: &Limits,
) -> Result<Visual> {
    let path = path.as_ref();
    let _span = tracing::info_span!("load_video", path = %path.display()).entered();
    let what = path.display().to_string();
    let bytes = limits.read_file(path)?;
    match video_from_bytes(&what, &bytes, options, limits) {
        // Not MP4/H.264: FFmpeg reads the rest when the feature is on.
        #[cfg(feature = "ffmpeg")]
        Err(Error::UnsupportedMedia { .. }) => {
            drop(bytes);
            ffmpeg::load_with_ffmpeg(path, options, limits)
        }
        other => other,
    }
}

/// Decodes a video held in memory; `what` names it in errors.
pub fn video_from_bytes(
    what: &str,
    bytes: &[u8],
    options: &VideoOptions,
    limits: &Limits,
) -> Result<Visual> {
    check_options(options)?;
    if is_mp4(bytes) {
        return mp4::load_mp4(what, bytes, options, limits);
    }
    Err(Error::UnsupportedMedia {
        what: what.to_string(),
        reason: "not an MP4 file; other containers need the `ffmpeg` feature".into(),
    })
}

/// ISO BMFF files carry an `ftyp` box first (some writers put `moov` or `mdat` first).
fn is_mp4(bytes: &[u8]) -> bool {
    matches!(
        bytes.get(4..8),
        Some(b"ftyp" | b"moov" | b"mdat" | b"free" | b"wide")
    )
}

fn check_options(options: &VideoOptions) -> Result<()> {
    if options.max_frames == 0 {
        return Err(Error::InvalidRequest(
            "max_frames must be at least 1".into(),
        ));
    }
    if let Some(f) = options.fps {
        if !(f > 0.0 && f.is_finite()) {
            return Err(Error::InvalidRequest(format!(
                "fps {f}: must be positive and finite"
            )));
        }
    }
    Ok(())
}

/// Samples frames decoded elsewhere with the same rule as a video: frame `i` is presented at
/// `i / frames_per_second` and the stream ends one frame after the last.
///
/// # Errors
///
/// [`Error::InvalidRequest`] for a frame rate or options out of range, [`Error::TooLarge`]
/// when the picks exceed `limits.max_frames`.
pub fn sample_decoded(
    frames: Vec<RgbFrame>,
    frames_per_second: f64,
    options: &VideoOptions,
    limits: &Limits,
) -> Result<Visual> {
    check_options(options)?;
    if !(frames_per_second > 0.0 && frames_per_second.is_finite()) {
        return Err(Error::InvalidRequest(format!(
            "frame rate {frames_per_second}: must be positive and finite"
        )));
    }
    let pts: Vec<f64> = (0..frames.len())
        .map(|i| i as f64 / frames_per_second)
        .collect();
    let end = frames.len() as f64 / frames_per_second;
    let picks = pick_frames("decoded frames", &pts, end, options, limits)?;
    let out: Vec<RgbFrame> = picks.iter().map(|p| frames[p.frame].clone()).collect();
    let mut visual = Visual::new(VisualKind::Video, out);
    visual.timestamps = Some(picks.iter().map(|p| p.timestamp).collect());
    Ok(visual)
}
