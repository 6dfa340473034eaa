//! MP4 (ISO BMFF) with an H.264 track, demuxed by the `mp4` crate and decoded by the bundled
//! OpenH264: no system libraries.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

use super::annexb::{push_nal, sample_to_annexb};
use super::sampling::{pick_frames, PickedFrames, VideoOptions};
use super::{boxes, yuv};
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
    boxes::check_boxes(bytes).map_err(|r| invalid(what, r))?;
    // The parser and the decoder are third-party code fed hostile bytes: a panic inside them
    // becomes an error rather than taking the caller down.
    match catch_unwind(AssertUnwindSafe(|| decode(what, bytes, options, limits))) {
        Ok(result) => result,
        Err(_) => Err(invalid(what, "the MP4 parser or H.264 decoder panicked")),
    }
}

struct Track {
    id: u32,
    width: usize,
    height: usize,
    samples: u32,
    timescale: f64,
    /// Media time the edit list starts presentation at (B-frame streams delay their first
    /// frame; the edit list takes that delay back out), in timescale units.
    media_start: f64,
    length_size: usize,
    parameter_sets: Vec<Vec<u8>>,
}

fn find_track(what: &str, reader: &mp4::Mp4Reader<Cursor<&[u8]>>) -> Result<Track> {
    let mut tracks: Vec<_> = reader.tracks().values().collect();
    tracks.sort_by_key(|t| t.track_id());
    let mut other_video = None;
    for t in tracks {
        match t.track_type() {
            Ok(mp4::TrackType::Video) => {}
            _ => continue,
        }
        let stsd = &t.trak.mdia.minf.stbl.stsd;
        let Some(avc1) = &stsd.avc1 else {
            other_video = Some(t.box_type().map(|b| b.to_string()).unwrap_or_default());
            continue;
        };
        let avcc = &avc1.avcc;
        let parameter_sets = avcc
            .sequence_parameter_sets
            .iter()
            .chain(&avcc.picture_parameter_sets)
            .map(|n| n.bytes.clone())
            .collect();
        let timescale = t.timescale();
        if timescale == 0 {
            return Err(invalid(what, "video track has a timescale of 0"));
        }
        // The first edit that is not an empty one (media_time -1) says where presentation
        // starts in the media timeline.
        let media_start = t
            .trak
            .edts
            .as_ref()
            .and_then(|e| e.elst.as_ref())
            .and_then(|elst| {
                elst.entries
                    .iter()
                    .map(|e| e.media_time)
                    .find(|&m| m != u32::MAX as u64 && m != u64::MAX)
            })
            .unwrap_or(0) as f64;
        return Ok(Track {
            id: t.track_id(),
            media_start,
            width: avc1.width as usize,
            height: avc1.height as usize,
            samples: t.sample_count(),
            timescale: timescale as f64,
            length_size: avcc.length_size_minus_one as usize % 4 + 1,
            parameter_sets,
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

fn decode(what: &str, bytes: &[u8], options: &VideoOptions, limits: &Limits) -> Result<Visual> {
    let _span = tracing::info_span!("mp4_decode", what).entered();
    let mut reader = mp4::Mp4Reader::read_header(Cursor::new(bytes), bytes.len() as u64)
        .map_err(|e| invalid(what, format!("MP4 structure: {e}")))?;
    let track = find_track(what, &reader)?;
    limits.check_frame(what, track.width, track.height)?;
    if track.samples as usize > bytes.len() {
        return Err(invalid(
            what,
            format!(
                "the track claims {} samples in a {} byte file",
                track.samples,
                bytes.len()
            ),
        ));
    }
    let stsz = &reader.tracks()[&track.id].trak.mdia.minf.stbl.stsz;
    if stsz.sample_size as usize > bytes.len()
        || stsz.sample_sizes.iter().any(|&s| s as usize > bytes.len())
    {
        return Err(invalid(what, "a sample is larger than the file"));
    }

    // Pass 1: presentation times, to choose frames before decoding any.
    let mut times = Vec::with_capacity(track.samples as usize);
    let mut end = 0f64;
    for id in 1..=track.samples {
        let Some(s) = reader
            .read_sample(track.id, id)
            .map_err(|e| invalid(what, format!("sample {id}: {e}")))?
        else {
            continue;
        };
        let pts =
            (s.start_time as f64 + s.rendering_offset as f64 - track.media_start) / track.timescale;
        end = end.max(pts + s.duration as f64 / track.timescale);
        times.push(pts);
    }
    times.sort_by(f64::total_cmp);
    let picks = pick_frames(&times, end, options);
    if picks.is_empty() {
        return Err(invalid(what, "the video track has no frames"));
    }
    limits.check_frames(what, picks.len())?;
    limits.check_bytes(what, &[picks.len(), track.height, track.width], 3)?;
    let mut picked = PickedFrames::new(picks);

    // Pass 2: decode in file order; frames come out in display order.
    let api = OpenH264API::from_source();
    let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
    let mut decoder =
        Decoder::with_api_config(api, config).map_err(|e| invalid(what, e.to_string()))?;
    let mut annexb = Vec::new();
    for id in 1..=track.samples {
        let Some(s) = reader
            .read_sample(track.id, id)
            .map_err(|e| invalid(what, format!("sample {id}: {e}")))?
        else {
            continue;
        };
        annexb.clear();
        if id == 1 {
            for ps in &track.parameter_sets {
                push_nal(&mut annexb, ps);
            }
        }
        sample_to_annexb(&s.bytes, track.length_size, &mut annexb)
            .ok_or_else(|| invalid(what, format!("sample {id}: NAL length overruns it")))?;
        match decoder.decode(&annexb) {
            Ok(Some(yuv)) => picked.show(|| to_rgb(what, &yuv, &track))?,
            Ok(None) => {}
            Err(e) => return Err(invalid(what, format!("H.264 sample {id}: {e}"))),
        }
    }
    for yuv in decoder
        .flush_remaining()
        .map_err(|e| invalid(what, format!("H.264 flush: {e}")))?
    {
        picked.show(|| to_rgb(what, &yuv, &track))?;
    }
    picked.into_visual(what)
}

fn to_rgb(what: &str, yuv: &DecodedYUV<'_>, track: &Track) -> Result<RgbFrame> {
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
    let rgb = yuv::i420_to_rgb((yuv.y(), yuv.u(), yuv.v()), (w, h), (ys, us))
        .ok_or_else(|| invalid(what, "decoded planes are shorter than the frame"))?;
    Ok(RgbFrame::new(w, h, rgb).expect("w * h * 3 bytes"))
}
