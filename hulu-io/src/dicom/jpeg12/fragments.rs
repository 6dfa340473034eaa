//! DICOM encapsulated pixel data to JPEG codestreams, one per frame, decoded to stored values.

use std::borrow::Cow;

use super::decode;
use crate::dicom::info::DicomInfo;
use crate::dicom::pixels::{self, Samples};

/// The codestream of frame `frame` (0-based) of `frames`, from the pixel data fragments
/// (PS3.5 A.4): the whole sequence for one frame, one fragment per frame when the counts
/// agree, else grouped by the Basic Offset Table, else by the fragments that start a
/// codestream (SOI), as pydicom does.
pub(super) fn frame_codestream<'a>(
    fragments: &'a [Vec<u8>],
    offsets: &[u32],
    frames: usize,
    frame: usize,
) -> Result<Cow<'a, [u8]>, String> {
    let range = if frames == 1 {
        0..fragments.len()
    } else if fragments.len() == frames {
        frame..frame + 1
    } else if offsets.len() == frames {
        by_offsets(fragments, offsets, frame)?
    } else {
        by_soi(fragments, frames, frame)?
    };
    Ok(match &fragments[range] {
        [] => return Err(format!("no pixel data fragments for frame {frame}")),
        [one] => Cow::Borrowed(&one[..]),
        many => Cow::Owned(many.concat()),
    })
}

/// Fragments of one frame from the Basic Offset Table: byte offsets of each frame's first
/// item, counted from the first fragment's item header (8 bytes per item header).
fn by_offsets(
    fragments: &[Vec<u8>],
    offsets: &[u32],
    frame: usize,
) -> Result<std::ops::Range<usize>, String> {
    let mut starts = Vec::with_capacity(fragments.len() + 1);
    let mut at = 0u64;
    for f in fragments {
        starts.push(at);
        at += 8 + f.len() as u64;
    }
    starts.push(at);
    let index_of = |offset: u64| {
        starts
            .iter()
            .position(|&s| s == offset)
            .ok_or_else(|| format!("Basic Offset Table entry {offset} is not a fragment start"))
    };
    let first = index_of(u64::from(offsets[frame]))?;
    let end = match offsets.get(frame + 1) {
        Some(&next) => index_of(u64::from(next))?,
        None => fragments.len(),
    };
    if end <= first {
        return Err(format!(
            "Basic Offset Table gives frame {frame} no fragments"
        ));
    }
    Ok(first..end)
}

/// Fragments of one frame when each frame's first fragment starts with SOI.
fn by_soi(
    fragments: &[Vec<u8>],
    frames: usize,
    frame: usize,
) -> Result<std::ops::Range<usize>, String> {
    let starts: Vec<usize> = (0..fragments.len())
        .filter(|&i| fragments[i].starts_with(&[0xFF, 0xD8]))
        .collect();
    if starts.len() != frames || starts.first() != Some(&0) {
        return Err(format!(
            "{} pixel data fragments, {} starting a JPEG codestream, for {frames} frames",
            fragments.len(),
            starts.len()
        ));
    }
    Ok(starts[frame]..starts.get(frame + 1).copied().unwrap_or(fragments.len()))
}

/// Decodes the listed frames of a grey JPEG Extended image to stored values. Colour
/// (more than one sample per pixel) is refused: DICOM leaves open whether 12-bit JPEG
/// colour is YBR or RGB, and [`crate::dicom::DicomImage`] has no YBR conversion above
/// 8 bits.
pub(crate) fn decode_dicom_frames(
    fragments: &[Vec<u8>],
    offsets: &[u32],
    info: &DicomInfo,
    frames: &[usize],
) -> Result<Samples, String> {
    if info.samples_per_pixel != 1 {
        return Err(format!(
            "{}-bit lossy JPEG with {} samples per pixel is not supported (grey only)",
            info.bits_stored, info.samples_per_pixel
        ));
    }
    if info.bits_allocated != 16 {
        return Err(format!(
            "{}-bit lossy JPEG in {}-bit samples",
            info.bits_stored, info.bits_allocated
        ));
    }
    let _span = tracing::info_span!("jpeg12_decode", frames = frames.len()).entered();
    let frame_pixels = info.rows * info.columns;
    let mut raw = Vec::with_capacity(frames.len() * frame_pixels * 2);
    for &f in frames {
        let bytes = frame_codestream(fragments, offsets, info.frames(), f)?;
        let d = decode(&bytes, info.columns, info.rows).map_err(|e| format!("frame {f}: {e}"))?;
        if (d.width, d.height, d.components) != (info.columns, info.rows, 1) {
            return Err(format!(
                "frame {f}: JPEG of {}x{} pixels, {} components in a {}x{} grey image",
                d.width, d.height, d.components, info.columns, info.rows
            ));
        }
        raw.extend(d.samples.iter().flat_map(|s| s.to_le_bytes()));
    }
    pixels::unpack(&raw, info, frames.len() * frame_pixels)
}

#[cfg(test)]
mod tests {
    use super::frame_codestream;

    fn frags() -> Vec<Vec<u8>> {
        // Frame 0 in two fragments, frame 1 in one, frame 2 in two.
        vec![
            vec![0xFF, 0xD8, 1],
            vec![2, 3],
            vec![0xFF, 0xD8, 4, 5],
            vec![0xFF, 0xD8, 6],
            vec![7],
        ]
    }

    #[test]
    fn one_frame_takes_every_fragment() {
        let f = frags();
        assert_eq!(frame_codestream(&f, &[], 1, 0).unwrap().len(), 13);
    }

    #[test]
    fn frames_are_grouped_by_offset_table_or_by_soi() {
        let f = frags();
        // Item starts: 0, 11, 21, 33, 44 (8-byte headers).
        let offsets = [0, 21, 33];
        let want: [&[u8]; 3] = [
            &[0xFF, 0xD8, 1, 2, 3],
            &[0xFF, 0xD8, 4, 5],
            &[0xFF, 0xD8, 6, 7],
        ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(&*frame_codestream(&f, &offsets, 3, i).unwrap(), *w);
            assert_eq!(&*frame_codestream(&f, &[], 3, i).unwrap(), *w);
        }
        // An offset that is no fragment start, and offsets that go backwards.
        assert!(frame_codestream(&f, &[0, 20, 33], 3, 1).is_err());
        assert!(frame_codestream(&f, &[0, 33, 21], 3, 1).is_err());
        // Without an offset table, SOI starts that do not match the frame count.
        assert!(frame_codestream(&f, &[], 4, 0).is_err());
        // One fragment per frame.
        assert_eq!(&*frame_codestream(&f, &[], 5, 4).unwrap(), &[7]);
    }
}
