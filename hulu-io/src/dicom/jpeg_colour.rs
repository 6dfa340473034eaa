//! Colour JPEG frames decoded with the colour transform the DICOM header implies.
//!
//! A JPEG stream says nothing about its colour space unless it carries a JFIF (APP0) or Adobe
//! (APP14) marker; decoders then assume YCbCr, so an RGB-encoded stream comes out magenta. In
//! DICOM the Photometric Interpretation says what the components are (PS3.5 8.2.1): `RGB`
//! means no transform, `YBR_FULL` and `YBR_FULL_422` mean YCbCr. This follows pydicom with
//! pylibjpeg (libjpeg is told the photometric interpretation). With a marker, the marker
//! decides, as in every JPEG decoder. The `jpeg-decoder` crate (the one `dicom-pixeldata`
//! uses) does the decoding; only the transform choice is ours.

use jpeg_decoder::{ColorTransform, Decoder, PixelFormat};

use super::info::Photometric;

/// Whether the stream has a JFIF or Adobe marker segment before its first scan.
pub(crate) fn has_colour_marker(stream: &[u8]) -> bool {
    let mut pos = 2;
    while pos + 4 <= stream.len() && stream[pos] == 0xFF {
        let marker = stream[pos + 1];
        if marker == 0xFF {
            pos += 1;
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([stream[pos + 2], stream[pos + 3]]));
        let body = stream.get(pos + 4..).unwrap_or(&[]);
        if (marker == 0xE0 && body.starts_with(b"JFIF"))
            || (marker == 0xEE && body.starts_with(b"Adobe"))
        {
            return true;
        }
        if len < 2 {
            return false;
        }
        pos += 2 + len;
    }
    false
}

/// The transform to force for a stream without a colour marker; `None` leaves the decoder's
/// own choice (a marker is present, or the interpretation says nothing about JPEG).
fn forced_transform(stream: &[u8], photometric: &Photometric) -> Option<ColorTransform> {
    if has_colour_marker(stream) {
        return None;
    }
    match photometric {
        Photometric::Rgb => Some(ColorTransform::None),
        Photometric::YbrFull | Photometric::YbrFull422 => Some(ColorTransform::YCbCr),
        _ => None,
    }
}

/// Decodes one 8-bit, 3-component JPEG frame to interleaved RGB of `width` × `height`,
/// refusing a stream that decodes to more than `max_bytes` or to another size or format.
pub(crate) fn decode_rgb_frame(
    stream: &[u8],
    photometric: &Photometric,
    (width, height): (usize, usize),
    max_bytes: usize,
) -> Result<Vec<u8>, String> {
    let mut decoder = Decoder::new(stream);
    decoder.set_max_decoding_buffer_size(max_bytes);
    if let Some(t) = forced_transform(stream, photometric) {
        decoder.set_color_transform(t);
    }
    let data = decoder.decode().map_err(|e| format!("JPEG: {e}"))?;
    let info = decoder.info().ok_or("JPEG: no frame header")?;
    if info.pixel_format != PixelFormat::RGB24
        || usize::from(info.width) != width
        || usize::from(info.height) != height
    {
        return Err(format!(
            "JPEG frame is {}x{} {:?}, the header says {width}x{height} RGB",
            info.width, info.height, info.pixel_format
        ));
    }
    Ok(data)
}

/// The bytes of each frame's codestream: one fragment per frame, all fragments for a single
/// frame, else fragments grouped at each start-of-image marker (PS3.5 A.4).
pub(crate) fn frame_streams(fragments: &[Vec<u8>], frames: usize) -> Result<Vec<Vec<u8>>, String> {
    if fragments.len() == frames {
        return Ok(fragments.to_vec());
    }
    if frames == 1 {
        return Ok(vec![fragments.concat()]);
    }
    let mut out: Vec<Vec<u8>> = Vec::new();
    for f in fragments {
        match out.last_mut() {
            Some(last) if !f.starts_with(&[0xFF, 0xD8]) => last.extend_from_slice(f),
            _ => out.push(f.clone()),
        }
    }
    if out.len() != frames {
        return Err(format!(
            "{} JPEG codestreams in {} fragments for {frames} frames",
            out.len(),
            fragments.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_jfif_and_adobe_markers_only_before_the_scan() {
        let jfif = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 7, b'J', b'F', b'I', b'F', 0, 0xFF, 0xDA,
        ];
        assert!(has_colour_marker(&jfif));
        let adobe = [
            0xFF, 0xD8, 0xFF, 0xEE, 0, 8, b'A', b'd', b'o', b'b', b'e', 0,
        ];
        assert!(has_colour_marker(&adobe));
        let bare = [
            0xFF, 0xD8, 0xFF, 0xDB, 0, 2, 0xFF, 0xDA, 0, 2, b'J', b'F', b'I', b'F',
        ];
        assert!(!has_colour_marker(&bare));
        assert_eq!(
            forced_transform(&bare, &Photometric::Rgb),
            Some(ColorTransform::None)
        );
        assert_eq!(forced_transform(&jfif, &Photometric::Rgb), None);
    }
}
