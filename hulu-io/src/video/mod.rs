//! Video frames sampled like the reference: one frame per second by default, at most
//! `max_frames` (evenly down-sampled with `linspace`), with timestamps in seconds, presented
//! as FFmpeg presents them (the reference decodes through FFmpeg): display matrix applied,
//! colour range and matrix from the stream, samples before an edit list's start hidden.
//!
//! MP4 files with an H.264 track decode with no system libraries (Mozilla's `mp4parse`
//! demuxer and a bundled OpenH264). Other containers and codecs need the `ffmpeg` cargo
//! feature. Frames already decoded elsewhere go through [`sample_decoded`].
//!
//! # Why `mp4parse`, behind a count guard
//!
//! The `mp4` crate (0.14) this module used panicked on an `stts` entry counting 0 samples
//! (`tests/data/mp4-hostile/stts_sample_count_0.mp4`) and looped forever on a `udta` box of
//! size 0 inside `moov` (`udta_size_0.mp4`). Three ways out were measured on those two files
//! and on 5000 mutations of `carphone_distorted.mp4` (1–5 random bytes changed, half of them
//! then cut short; each parse on its own thread, 2 s limit; release build):
//!
//! | parser | `udta_size_0` | `stts_sample_count_0` | 5000 mutations | largest allocation |
//! |---|---|---|---|---|
//! | `mp4` crate alone | hangs | panics | 3 hangs in the first 1911 (stopped there) | 4.1 GB |
//! | (a) box guard + `mp4` crate (the old guard) | hangs | panics | 3 hangs in the first 1911 | 4.1 GB |
//! | (a) the stricter guard below + `mp4` crate | error | panics | no hang | 4.2 GB |
//! | (b) `mp4parse` 0.17 alone | error | parses | no panic, no hang | 33.5 GB (fallible) |
//! | (b) the guard below + `mp4parse` | error | parses | no panic, no hang, ≤ 104 ms | 1428 bytes |
//!
//! (a) alone is whack-a-mole: each guard rule answers one failure of a crate that was not
//! written for hostile input, and it still allocates gigabytes from one lying field.
//! (c) a watchdog only stops *waiting*: a Rust thread cannot be killed, so the looping parse
//! keeps a core busy for the life of the process (each of the three hangs above spun until
//! the measurement ended) and the 4.1 GB allocation happens well inside any time limit.
//! (b) `mp4parse` is fuzzed continuously by Mozilla (it parses every MP4 Firefox plays) and
//! allocates fallibly, but it reserves a table's memory from the entry count a box declares;
//! the `boxes` module therefore refuses tables whose declared entries do not fit in their box, and
//! boxes of size 0 below the top level, before `mp4parse` runs. The sample table is then
//! walked by our own `table` module, bounded by the samples `stsz` lists (see there for why
//! not `mp4parse::unstable::create_sample_table`). The same checks run in the test suite
//! (`tests/video_hostile.rs`: 400 mutations by default, `HULU_MUTATIONS=5000` for more;
//! no panic anywhere, bounded time, largest allocation within 16 bytes per input byte plus
//! one frame). OpenH264 stays behind `catch_unwind` only for its Rust wrapper.
//!
//! Picking frames costs what the frames cost, never one step per claimed second or per
//! `fps` tick ([`pick_frames`]; the DICOM cine rule, `crate::dicom::sample_cine`, likewise).

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
///
/// # Errors
///
/// As [`load_video_with_limits`].
pub fn load_video(path: impl AsRef<Path>, options: &VideoOptions) -> Result<Visual> {
    load_video_with_limits(path, options, &Limits::default())
}

/// [`load_video`] with an explicit memory budget (checked against the file size and the
/// frames to return before anything is decoded).
///
/// # Errors
///
/// [`Error::NotRegularFile`] / [`Error::Io`] when the path is not a readable regular file;
/// [`Error::TooLarge`] when the file or the frames to return exceed `limits`;
/// [`Error::InvalidVideo`] for a container or stream this crate cannot read (naming the box or
/// table); [`Error::UnsupportedMedia`] for a codec other than H.264.
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
///
/// # Errors
///
/// As [`load_video_with_limits`], naming `what`.
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
