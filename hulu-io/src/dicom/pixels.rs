//! Stored pixel values: unpacking native (uncompressed) sample bytes into typed samples.

use super::info::DicomInfo;

/// Stored pixel values in their own integer type, laid out `[frame][row][column][sample]`
/// (colour samples interleaved). These are the values before any modality LUT.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// Unsigned 8-bit (also 1-bit data, unpacked to 0/1).
    U8(Vec<u8>),
    /// Signed 8-bit.
    I8(Vec<i8>),
    /// Unsigned 16-bit.
    U16(Vec<u16>),
    /// Signed 16-bit.
    I16(Vec<i16>),
    /// Unsigned 32-bit.
    U32(Vec<u32>),
    /// Signed 32-bit.
    I32(Vec<i32>),
    /// 32-bit IEEE floats, from Float Pixel Data (7FE0,0008).
    F32(Vec<f32>),
    /// 64-bit IEEE floats, from Double Float Pixel Data (7FE0,0009).
    F64(Vec<f64>),
}

macro_rules! each {
    ($s:expr, $v:ident => $e:expr) => {
        match $s {
            Samples::U8($v) => $e,
            Samples::I8($v) => $e,
            Samples::U16($v) => $e,
            Samples::I16($v) => $e,
            Samples::U32($v) => $e,
            Samples::I32($v) => $e,
            Samples::F32($v) => $e,
            Samples::F64($v) => $e,
        }
    };
}

/// Like `each!`, for the integer variants only; the float variants take their own arms.
macro_rules! ints_or {
    ($s:expr, $v:ident => $e:expr, $f32:ident => $fe32:expr, $f64:ident => $fe64:expr) => {
        match $s {
            Samples::U8($v) => $e,
            Samples::I8($v) => $e,
            Samples::U16($v) => $e,
            Samples::I16($v) => $e,
            Samples::U32($v) => $e,
            Samples::I32($v) => $e,
            Samples::F32($f32) => $fe32,
            Samples::F64($f64) => $fe64,
        }
    };
}

impl Samples {
    /// Number of samples.
    pub fn len(&self) -> usize {
        each!(self, v => v.len())
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples `range` widened to `i64` (exact for the integer variants; floats are
    /// truncated toward zero, saturating).
    pub fn to_i64(&self, range: std::ops::Range<usize>) -> Vec<i64> {
        ints_or!(self,
            v => v[range].iter().map(|&x| i64::from(x)).collect(),
            f => f[range].iter().map(|&x| x as i64).collect(),
            d => d[range].iter().map(|&x| x as i64).collect())
    }

    /// Samples `range` as `f64` (exact for every variant).
    pub fn to_f64(&self, range: std::ops::Range<usize>) -> Vec<f64> {
        ints_or!(self,
            v => v[range].iter().map(|&x| f64::from(x)).collect(),
            f => f[range].iter().map(|&x| f64::from(x)).collect(),
            d => d[range].to_vec())
    }

    /// Samples `range` clamped to 0..=255 (colour data, which is 8-bit in practice).
    pub(crate) fn to_u8_clamped(&self, range: std::ops::Range<usize>) -> Vec<u8> {
        self.to_i64(range)
            .into_iter()
            .map(|x| x.clamp(0, 255) as u8)
            .collect()
    }

    /// Whether the samples are IEEE floats (Float or Double Float Pixel Data).
    pub fn is_float(&self) -> bool {
        matches!(self, Samples::F32(_) | Samples::F64(_))
    }

    /// Reorders colour-by-plane frames (`RRR…GGG…BBB…`) into interleaved samples.
    pub(crate) fn interleave_planes(&mut self, frame_pixels: usize, channels: usize) {
        fn go<T: Copy>(v: &mut [T], frame_pixels: usize, channels: usize) {
            let frame = frame_pixels * channels;
            let mut tmp = Vec::with_capacity(frame);
            for chunk in v.chunks_exact_mut(frame) {
                tmp.clear();
                tmp.extend((0..frame).map(|i| chunk[(i % channels) * frame_pixels + i / channels]));
                chunk.copy_from_slice(&tmp);
            }
        }
        each!(self, v => go(v, frame_pixels, channels))
    }
}

/// Sign-extends or masks a sample to its `bits_stored` low bits.
fn fit(raw: u32, bits_stored: u16, signed: bool) -> i64 {
    if bits_stored >= 32 {
        return if signed {
            i64::from(raw as i32)
        } else {
            i64::from(raw)
        };
    }
    let masked = raw & ((1u32 << bits_stored) - 1);
    if signed && masked >> (bits_stored - 1) & 1 == 1 {
        i64::from(masked) - (1i64 << bits_stored)
    } else {
        i64::from(masked)
    }
}

/// Bytes one sample occupies once decoded (1-bit samples are unpacked to a byte).
pub(crate) fn sample_bytes(bits_allocated: u16) -> usize {
    usize::from(bits_allocated.div_ceil(8)).max(1)
}

/// Unpacks `count` IEEE floats of `bytes_per_sample` (4 or 8) bytes each from little-endian
/// native bytes (Float and Double Float Pixel Data, PS3.3 C.7.6.3.1.4).
pub(crate) fn unpack_float(
    bytes: &[u8],
    bytes_per_sample: usize,
    count: usize,
) -> Result<Samples, String> {
    let needed = count
        .checked_mul(bytes_per_sample)
        .ok_or("float pixel data size overflows")?;
    if bytes.len() < needed {
        return Err(format!(
            "{} bytes of float pixel data, expected {needed}",
            bytes.len()
        ));
    }
    let bytes = &bytes[..needed];
    Ok(if bytes_per_sample == 8 {
        Samples::F64(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        )
    } else {
        Samples::F32(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        )
    })
}

/// Little-endian sample bytes from native pixel data bytes in file order.
///
/// Explicit VR Big Endian stores every sample most significant byte first, whatever the VR
/// (OB, OW, OL), so each `bytes_per_sample` group is reversed; 8-bit samples in an OW value
/// are swapped pairwise, as pydicom's native decoder does (`be_swap_ow`).
pub(crate) fn big_endian_to_le(file_order: &[u8], bytes_per_sample: usize, ow: bool) -> Vec<u8> {
    let unit = if bytes_per_sample == 1 && ow {
        2
    } else {
        bytes_per_sample.max(1)
    };
    let mut out = file_order.to_vec();
    for chunk in out.chunks_exact_mut(unit) {
        chunk.reverse();
    }
    out
}

/// Unpacks `count` samples from little-endian native bytes (`bits_allocated` 1, 8, 16 or 32;
/// 1-bit data is packed least significant bit first, across frame boundaries).
/// `Err` says why the bytes do not hold the samples the header declares.
pub(crate) fn unpack(bytes: &[u8], info: &DicomInfo, count: usize) -> Result<Samples, String> {
    let (ba, bs, signed) = (info.bits_allocated, info.bits_stored, info.signed);
    let needed = match ba {
        1 => count.div_ceil(8),
        8 | 16 | 32 => count * usize::from(ba / 8),
        _ => return Err(format!("Bits Allocated {ba} is not supported")),
    };
    if bytes.len() < needed {
        return Err(format!(
            "{} bytes of pixel data, expected {needed}",
            bytes.len()
        ));
    }
    let bytes = &bytes[..needed];
    Ok(match (ba, signed) {
        (1, _) => Samples::U8((0..count).map(|i| (bytes[i / 8] >> (i % 8)) & 1).collect()),
        (8, false) => Samples::U8(
            bytes
                .iter()
                .map(|&b| fit(b.into(), bs, false) as u8)
                .collect(),
        ),
        (8, true) => Samples::I8(
            bytes
                .iter()
                .map(|&b| fit(b.into(), bs, true) as i8)
                .collect(),
        ),
        (16, s) => {
            let raw = bytes
                .chunks_exact(2)
                .map(|c| fit(u16::from_le_bytes([c[0], c[1]]).into(), bs, s));
            if s {
                Samples::I16(raw.map(|v| v as i16).collect())
            } else {
                Samples::U16(raw.map(|v| v as u16).collect())
            }
        }
        (_, s) => {
            let raw = bytes
                .chunks_exact(4)
                .map(|c| fit(u32::from_le_bytes([c[0], c[1], c[2], c[3]]), bs, s));
            if s {
                Samples::I32(raw.map(|v| v as i32).collect())
            } else {
                Samples::U32(raw.map(|v| v as u32).collect())
            }
        }
    })
}

/// Converts full-range YCbCr (ITU-R BT.601, as DICOM's YBR_FULL) to RGB, in place.
pub(crate) fn ybr_full_to_rgb(data: &mut [u8]) {
    for px in data.chunks_exact_mut(3) {
        let (y, cb, cr) = (
            f32::from(px[0]),
            f32::from(px[1]) - 128.0,
            f32::from(px[2]) - 128.0,
        );
        let to_u8 = |v: f32| v.round().clamp(0.0, 255.0) as u8;
        px[0] = to_u8(y + 1.402 * cr);
        px[1] = to_u8(y - 0.344_136 * cb - 0.714_136 * cr);
        px[2] = to_u8(y + 1.772 * cb);
    }
}

/// Expands native YBR_FULL_422 (`Y1 Y2 Cb Cr` per pixel pair) to full-resolution YBR.
pub(crate) fn expand_422(data: &[u8], pixels: usize) -> Result<Vec<u8>, String> {
    if !pixels.is_multiple_of(2) || data.len() < pixels * 2 {
        return Err(format!(
            "YBR_FULL_422 needs an even pixel count and {} bytes, found {} pixels and {} bytes",
            pixels * 2,
            pixels,
            data.len()
        ));
    }
    Ok(data[..pixels * 2]
        .chunks_exact(4)
        .flat_map(|c| [c[0], c[2], c[3], c[1], c[2], c[3]])
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_sign_extends_to_bits_stored() {
        assert_eq!(fit(0x0FFF, 12, true), -1);
        assert_eq!(fit(0xF7FF, 12, true), 2047);
        assert_eq!(fit(0xF123, 12, false), 0x123);
        assert_eq!(fit(0xFFFF_FFFF, 32, true), -1);
        assert_eq!(fit(0xFFFF_FFFF, 32, false), 0xFFFF_FFFF);
    }

    #[test]
    fn interleaves_planes_and_expands_422() {
        let mut s = Samples::U8(vec![1, 2, 10, 20, 100, 200]);
        s.interleave_planes(2, 3);
        assert_eq!(s, Samples::U8(vec![1, 10, 100, 2, 20, 200]));
        assert_eq!(expand_422(&[5, 6, 7, 8], 2).unwrap(), [5, 7, 8, 6, 7, 8]);
        let mut grey = [77u8, 128, 128];
        ybr_full_to_rgb(&mut grey);
        assert_eq!(grey, [77, 77, 77]);
    }
}
