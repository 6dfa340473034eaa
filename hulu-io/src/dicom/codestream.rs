//! Sizes declared inside encapsulated codestreams, checked before a codec allocates from them.
//!
//! A JPEG, JPEG-LS or JPEG 2000 codestream carries its own width and height, and the codecs
//! size their buffers from those, not from the DICOM Rows and Columns. A fragment that claims
//! 65535 × 65535 inside a 64 × 64 image is refused here.

/// Width and height a codestream declares, when `bytes` starts one this module recognises
/// (JPEG and JPEG-LS start-of-frame, JPEG 2000 SIZ, raw or in a JP2 box); `None` otherwise
/// (a continuation fragment, RLE).
pub(crate) fn declared_size(bytes: &[u8]) -> Option<Result<(u32, u32), String>> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return Some(jpeg_size(bytes));
    }
    if bytes.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return Some(j2k_size(bytes));
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"jP  " {
        // JP2 file format: the codestream follows the `jp2c` box header.
        let at = bytes.windows(4).position(|w| w == b"jp2c")?;
        return Some(j2k_size(&bytes[at + 4..]));
    }
    None
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Walks JPEG marker segments to the first start-of-frame (SOF0–SOF15 or JPEG-LS SOF55).
fn jpeg_size(b: &[u8]) -> Result<(u32, u32), String> {
    let cut = || "JPEG header is cut off before its frame header".to_string();
    let mut pos = 2;
    loop {
        // Markers may be preceded by fill bytes 0xFF.
        while b.get(pos) == Some(&0xFF) && b.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        if b.get(pos) != Some(&0xFF) {
            return Err(format!("JPEG header: no marker at byte {pos}"));
        }
        let marker = *b.get(pos + 1).ok_or_else(cut)?;
        let len = usize::from(be16(b, pos + 2).ok_or_else(cut)?);
        let is_sof = matches!(marker, 0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC))
            || marker == 0xF7;
        if is_sof {
            let h = be16(b, pos + 5).ok_or_else(cut)?;
            let w = be16(b, pos + 7).ok_or_else(cut)?;
            return Ok((u32::from(w), u32::from(h)));
        }
        if len < 2 {
            return Err(format!("JPEG header: segment of length {len}"));
        }
        pos += 2 + len;
    }
}

/// Reads the image size from a JPEG 2000 SIZ marker segment (right after SOC).
fn j2k_size(b: &[u8]) -> Result<(u32, u32), String> {
    let cut = || "JPEG 2000 SIZ segment is cut off".to_string();
    if !b.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return Err("JPEG 2000 codestream does not start with SOC, SIZ".into());
    }
    // SOC(2) SIZ marker(2) Lsiz(2) Rsiz(2) Xsiz Ysiz XOsiz YOsiz (4 each).
    let (x, y) = (be32(b, 8).ok_or_else(cut)?, be32(b, 12).ok_or_else(cut)?);
    let (xo, yo) = (be32(b, 16).ok_or_else(cut)?, be32(b, 20).ok_or_else(cut)?);
    match (x.checked_sub(xo), y.checked_sub(yo)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!(
            "JPEG 2000 SIZ: offset beyond the image ({x}x{y} at {xo},{yo})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jpeg_and_j2k_sizes() {
        // SOI, APP0 of length 4, SOF0 with height 3, width 5.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0, 3, 0, 5, 1,
        ];
        assert_eq!(declared_size(&jpeg).unwrap().unwrap(), (5, 3));
        let mut j2k = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [70u32, 40, 6, 0] {
            j2k.extend(v.to_be_bytes());
        }
        assert_eq!(declared_size(&j2k).unwrap().unwrap(), (64, 40));
        assert!(declared_size(&[0xFF, 0xD8, 0xFF]).unwrap().is_err());
        assert!(declared_size(&[1, 2, 3]).is_none());
    }
}
