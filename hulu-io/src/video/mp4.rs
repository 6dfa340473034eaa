//! MP4 (ISO BMFF) with an H.264 track, demuxed by Mozilla's `mp4parse` and decoded by the
//! bundled OpenH264: no system libraries. What FFmpeg applies on top of the decoded pictures
//! is applied here too: the edit list (samples before presentation starts are decoded but not
//! shown), the stream's colour range and matrix, and the display matrix.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mp4parse::{CodecType, SampleEntry, TrackType, VideoCodecSpecific};
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

use super::annexb::{push_nal, sample_to_annexb};
use super::avcc::AvcConfig;
use super::boxes;
use super::display::Orientation;
use super::sampling::{pick_frames, PickedFrames, VideoOptions};
use super::table::{self, Sample};
use super::yuv::{self, Colour};
use crate::{Error, Limits, Result, RgbFrame, Visual};

fn invalid(what: &str, reason: impl Into<String>) -> Error {
    Error::InvalidVideo {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// Decodes the frames `options` selects from an MP4 held in memory.
pub fn load_mp4(
    what: &str,
    bytes: &[u8],
    options: &VideoOptions,
    limits: &Limits,
) -> Result<Visual> {
    let _span = tracing::info_span!("mp4_decode", what).entered();
    boxes::check_boxes(bytes).map_err(|r| invalid(what, r))?;
    let track = demux(what, bytes)?;
    // OpenH264 is C++ behind a Rust wrapper; should the wrapper panic on a stream it does not
    // expect, that becomes an error rather than taking the caller down.
    match catch_unwind(AssertUnwindSafe(|| {
        decode(what, bytes, &track, options, limits)
    })) {
        Ok(result) => result,
        Err(_) => Err(invalid(what, "the H.264 decoder failed on this stream")),
    }
}

/// The video track, as far as decoding needs it.
struct VideoTrack {
    width: usize,
    height: usize,
    timescale: f64,
    /// Media time presentation starts at (the edit list's `media_time`), timescale units;
    /// `None` without an edit list.
    media_start: Option<i64>,
    samples: Vec<Sample>,
    avc: AvcConfig,
    orientation: Orientation,
}

fn demux(what: &str, bytes: &[u8]) -> Result<VideoTrack> {
    let context = mp4parse::read_mp4(&mut Cursor::new(bytes))
        .map_err(|e| invalid(what, format!("MP4 structure: {e:?}")))?;
    let mut other_video = None;
    for track in context.tracks.iter() {
        if track.track_type != TrackType::Video {
            continue;
        }
        let Some(entry) = track.stsd.as_ref().and_then(|s| s.descriptions.first()) else {
            continue;
        };
        let SampleEntry::Video(video) = entry else {
            continue;
        };
        let VideoCodecSpecific::AVCConfig(avcc) = &video.codec_specific else {
            other_video = Some(video.codec_type);
            continue;
        };
        if video.codec_type != CodecType::H264 {
            other_video = Some(video.codec_type);
            continue;
        }
        let avc = AvcConfig::parse(avcc).map_err(|r| invalid(what, format!("avcC: {r}")))?;
        let timescale = track.timescale.map(|t| t.0).unwrap_or(0);
        if timescale == 0 {
            return Err(invalid(what, "the video track has a timescale of 0"));
        }
        let orientation = match &track.tkhd {
            Some(tkhd) => {
                let m = &tkhd.matrix;
                Orientation::from_matrix([m.a, m.b, m.u, m.c, m.d, m.v, m.x, m.y, m.w]).map_err(
                    |theta| Error::UnsupportedMedia {
                        what: what.to_string(),
                        reason: format!(
                            "display matrix rotates by {theta} degrees; only multiples of 90 \
                             are applied"
                        ),
                    },
                )?
            }
            None => Orientation::AsCoded,
        };
        let samples = table::samples(track, bytes.len()).map_err(|r| invalid(what, r))?;
        let media_start = track
            .media_time
            .map(|t| i64::try_from(t.0).unwrap_or(i64::MAX));
        return Ok(VideoTrack {
            width: video.width as usize,
            height: video.height as usize,
            timescale: timescale as f64,
            media_start,
            samples,
            avc,
            orientation,
        });
    }
    Err(match other_video {
        Some(codec) => Error::UnsupportedMedia {
            what: what.to_string(),
            reason: format!(
                "video codec {codec:?}: only H.264 is decoded without the `ffmpeg` feature"
            ),
        },
        None => invalid(what, "no video track"),
    })
}

fn decode(
    what: &str,
    bytes: &[u8],
    track: &VideoTrack,
    options: &VideoOptions,
    limits: &Limits,
) -> Result<Visual> {
    limits.check_frame(what, track.width, track.height)?;

    // Presentation times on the edit list's timeline. Samples before it starts are decoded
    // (later frames may refer to them) but never shown, as FFmpeg's mov demuxer
    // (`mov_fix_index`) marks them discarded.
    // In integer timescale units, as FFmpeg computes them: a shift in seconds would round a
    // frame at 2.0 s down to 1.999... s and move it to the previous second.
    let start = track.media_start.unwrap_or(0);
    let mut pts: Vec<i64> = track
        .samples
        .iter()
        .map(|s| s.cts.saturating_sub(start))
        .collect();
    pts.sort_unstable();
    let hidden = pts.partition_point(|&t| t < 0);
    // `mov_fix_index` then moves the timeline so the first shown frame is at 0 ("Offset DTS
    // ... to make first pts zero") when the edit starts between two frames.
    let shift = match (track.media_start, pts.get(hidden)) {
        (Some(_), Some(&first)) if first > 0 => first,
        _ => 0,
    };
    let seconds = |t: i64| t.saturating_sub(shift) as f64 / track.timescale;
    let end = track
        .samples
        .iter()
        .map(|s| {
            seconds(
                s.cts
                    .saturating_sub(start)
                    .saturating_add(s.duration as i64),
            )
        })
        .fold(0f64, f64::max);
    let times: Vec<f64> = pts.iter().map(|&t| seconds(t)).collect();
    let picks = pick_frames(what, &times[hidden..], end, options, limits)?;
    if picks.is_empty() {
        return Err(invalid(what, "the video track has no frames to present"));
    }
    let (out_w, out_h) = track.orientation.presented_size(track.width, track.height);
    limits.check_bytes(what, &[picks.len(), out_h, out_w], 3)?;
    let mut picked = PickedFrames::new(picks, hidden);

    // Decode in file order; frames come out in display order.
    let api = OpenH264API::from_source();
    let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
    let mut decoder =
        Decoder::with_api_config(api, config).map_err(|e| invalid(what, e.to_string()))?;
    let convert = |yuv: &DecodedYUV<'_>| -> Result<RgbFrame> {
        let frame = to_rgb(what, yuv, track)?;
        Ok(track.orientation.apply(frame))
    };
    let mut annexb = Vec::new();
    for (i, s) in track.samples.iter().enumerate() {
        annexb.clear();
        if i == 0 {
            for ps in track.avc.parameter_sets() {
                push_nal(&mut annexb, ps);
            }
        }
        sample_to_annexb(
            &bytes[s.range.0..s.range.1],
            track.avc.length_size,
            &mut annexb,
        )
        .ok_or_else(|| invalid(what, format!("sample {}: NAL length overruns it", i + 1)))?;
        match decoder.decode(&annexb) {
            Ok(Some(yuv)) => picked.show(|| convert(&yuv))?,
            Ok(None) => {}
            Err(e) => return Err(invalid(what, format!("H.264 sample {}: {e}", i + 1))),
        }
    }
    for yuv in decoder
        .flush_remaining()
        .map_err(|e| invalid(what, format!("H.264 flush: {e}")))?
    {
        picked.show(|| convert(&yuv))?;
    }
    picked.into_visual(what)
}

fn to_rgb(what: &str, yuv: &DecodedYUV<'_>, track: &VideoTrack) -> Result<RgbFrame> {
    let (w, h) = yuv.dimensions();
    if (w, h) != (track.width, track.height) {
        return Err(invalid(
            what,
            format!(
                "decoded frame is {w}x{h}, the track declares {}x{}",
                track.width, track.height
            ),
        ));
    }
    let (ys, us, _) = yuv.strides();
    let colour: Colour = track.avc.colour;
    let rgb = yuv::i420_to_rgb((yuv.y(), yuv.u(), yuv.v()), (w, h), (ys, us), &colour)
        .ok_or_else(|| invalid(what, "decoded planes are shorter than the frame"))?;
    Ok(RgbFrame::new(w, h, rgb).expect("w * h * 3 bytes"))
}
