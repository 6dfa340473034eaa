//! Any container and codec the system FFmpeg reads (feature `ffmpeg`, FFmpeg 5.1 or newer).
//!
//! Two passes: the packets' presentation times choose the frames (the same rule as the MP4
//! path), then a decode keeps only those, converted to RGB by swscale.

use std::path::Path;

use ffmpeg_next as ff;

use super::sampling::{pick_frames, PickedFrames, VideoOptions};
use crate::{Error, Limits, Result, RgbFrame, Visual};

fn invalid(what: &str, reason: impl std::fmt::Display) -> Error {
    Error::InvalidVideo {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

/// Decodes the frames `options` selects from any video FFmpeg can open.
///
/// # Errors
///
/// [`Error::InvalidVideo`] when FFmpeg's libraries cannot open or decode the file (their
/// message is kept); [`Error::TooLarge`] over `limits`.
pub fn load_with_ffmpeg(path: &Path, options: &VideoOptions, limits: &Limits) -> Result<Visual> {
    let what = path.display().to_string();
    let _span = tracing::info_span!("ffmpeg_decode", path = %what).entered();
    ff::init().map_err(|e| invalid(&what, e))?;

    // Pass 1: presentation times of the video packets.
    let mut input = ff::format::input(&path).map_err(|e| invalid(&what, e))?;
    let stream = input
        .streams()
        .best(ff::media::Type::Video)
        .ok_or_else(|| invalid(&what, "no video stream"))?;
    let index = stream.index();
    let tb = stream.time_base();
    let seconds = |t: i64| t as f64 * tb.numerator() as f64 / tb.denominator().max(1) as f64;
    let mut times = Vec::new();
    let mut end = f64::NEG_INFINITY;
    for (s, packet) in input.packets() {
        if s.index() != index {
            continue;
        }
        let Some(pts) = packet.pts().or(packet.dts()) else {
            continue;
        };
        let t = seconds(pts);
        end = end.max(t + seconds(packet.duration()));
        times.push(t);
    }
    times.sort_by(f64::total_cmp);
    let picks = pick_frames(&what, &times, end, options, limits)?;
    if picks.is_empty() {
        return Err(invalid(&what, "the video stream has no frames"));
    }

    // Pass 2: decode, keeping the chosen frames (display order = sorted presentation times).
    let mut input = ff::format::input(&path).map_err(|e| invalid(&what, e))?;
    let stream = input
        .stream(index)
        .ok_or_else(|| invalid(&what, "video stream vanished"))?;
    let context = ff::codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| invalid(&what, e))?;
    let mut decoder = context.decoder().video().map_err(|e| invalid(&what, e))?;
    let (w, h) = (decoder.width() as usize, decoder.height() as usize);
    limits.check_frame(&what, w, h)?;
    limits.check_frames(&what, picks.len())?;
    limits.check_bytes(&what, &[picks.len(), h, w], 3)?;
    let mut scaler = ff::software::scaling::Context::get(
        decoder.format(),
        w as u32,
        h as u32,
        ff::format::Pixel::RGB24,
        w as u32,
        h as u32,
        ff::software::scaling::Flags::BILINEAR,
    )
    .map_err(|e| invalid(&what, e))?;
    let mut picked = PickedFrames::new(picks, 0);
    let mut drain = |decoder: &mut ff::decoder::Video| -> Result<()> {
        let mut frame = ff::frame::Video::empty();
        while decoder.receive_frame(&mut frame).is_ok() {
            picked.show(|| {
                if (frame.width() as usize, frame.height() as usize) != (w, h) {
                    return Err(invalid(&what, "the frame size changes mid-stream"));
                }
                let mut rgb = ff::frame::Video::empty();
                scaler
                    .run(&frame, &mut rgb)
                    .map_err(|e| invalid(&what, e))?;
                let stride = rgb.stride(0);
                let plane = rgb.data(0);
                let mut data = Vec::with_capacity(w * h * 3);
                for row in 0..h {
                    data.extend_from_slice(&plane[row * stride..row * stride + w * 3]);
                }
                Ok(RgbFrame::new(w, h, data).expect("w * h * 3 bytes"))
            })?;
        }
        Ok(())
    };
    for (s, packet) in input.packets() {
        if s.index() != index {
            continue;
        }
        decoder
            .send_packet(&packet)
            .map_err(|e| invalid(&what, e))?;
        drain(&mut decoder)?;
    }
    decoder.send_eof().map_err(|e| invalid(&what, e))?;
    drain(&mut decoder)?;
    picked.into_visual(&what)
}
