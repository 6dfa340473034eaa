//! The H.264 decoder configuration record (`avcC`, ISO/IEC 14496-15 §5.3.3): NAL length size,
//! parameter sets, and the colour range and matrix the sequence parameter set's VUI declares
//! (parsed by the `h264-reader` crate), which FFmpeg's decoder reports and its `rgb24`
//! conversion follows.

use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::nal::{Nal, RefNal};

use super::yuv::Colour;

/// What decoding and colour conversion need from an `avcC` box.
#[derive(Debug, Clone, PartialEq)]
pub struct AvcConfig {
    /// Bytes of each NAL unit's length prefix in a sample (1, 2 or 4).
    pub length_size: usize,
    /// Sequence parameter sets, then picture parameter sets.
    sets: Vec<Vec<u8>>,
    /// From the first SPS's VUI; BT.601 limited range when it has none.
    pub colour: Colour,
}

impl AvcConfig {
    /// Parses the payload of an `avcC` box. `Err(reason)` when it is truncated.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let truncated = || "truncated decoder configuration record".to_string();
        let length_size = (*bytes.get(4).ok_or_else(truncated)? & 3) as usize + 1;
        if length_size == 3 {
            return Err("NAL length size of 3 bytes".into());
        }
        let mut at = 5;
        let mut sets = Vec::new();
        let mut sps_count = 0;
        for group in 0..2 {
            let mut n = *bytes.get(at).ok_or_else(truncated)? as usize;
            if group == 0 {
                n &= 0x1f;
                sps_count = n;
            }
            at += 1;
            for _ in 0..n {
                let len = bytes
                    .get(at..at + 2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
                    .ok_or_else(truncated)?;
                let set = bytes.get(at + 2..at + 2 + len).ok_or_else(truncated)?;
                sets.push(set.to_vec());
                at += 2 + len;
            }
        }
        if sps_count == 0 {
            return Err("no sequence parameter set".into());
        }
        let colour = vui_colour(&sets[0]).unwrap_or_default();
        Ok(AvcConfig {
            length_size,
            sets,
            colour,
        })
    }

    /// The parameter sets to send the decoder before the first sample.
    pub fn parameter_sets(&self) -> impl Iterator<Item = &[u8]> {
        self.sets.iter().map(Vec::as_slice)
    }
}

/// The colour the SPS's VUI declares (ITU-T H.264 E.1.1: `video_full_range_flag`,
/// `matrix_coefficients`); `None` when the SPS does not parse.
fn vui_colour(sps: &[u8]) -> Option<Colour> {
    let nal = RefNal::new(sps, &[], true);
    let sps = SeqParameterSet::from_bits(nal.rbsp_bits()).ok()?;
    let signal = sps
        .vui_parameters
        .as_ref()
        .and_then(|v| v.video_signal_type.as_ref());
    Some(match signal {
        Some(s) => Colour::from_vui(
            s.video_full_range_flag,
            s.colour_description.as_ref().map(|c| c.matrix_coefficients),
        ),
        None => Colour::default(),
    })
}
