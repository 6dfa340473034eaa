//! DICOM RLE Lossless (PS3.5 Annex G), decoded here rather than by the codec registry, whose
//! decoder indexes past short segments (a panic on corrupt files).

/// Decodes one frame (one fragment) into little-endian interleaved samples:
/// `pixels × samples × bytes_per_sample` bytes appended to `out`.
pub(crate) fn decode_frame(
    fragment: &[u8],
    pixels: usize,
    samples: usize,
    bytes_per_sample: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let header = fragment
        .get(..64)
        .ok_or("RLE fragment shorter than its 64-byte header")?;
    let word = |i: usize| u32::from_le_bytes(header[i * 4..i * 4 + 4].try_into().unwrap()) as usize;
    let segments = word(0);
    if segments != samples * bytes_per_sample {
        return Err(format!(
            "RLE header declares {segments} segments, expected {}",
            samples * bytes_per_sample
        ));
    }
    let start = out.len();
    out.resize(start + pixels * samples * bytes_per_sample, 0);
    let dst = &mut out[start..];
    let mut plane = Vec::with_capacity(pixels);
    for seg in 0..segments {
        let from = word(1 + seg);
        let to = if seg + 1 < segments {
            word(2 + seg)
        } else {
            fragment.len()
        };
        let bytes = fragment
            .get(from..to)
            .filter(|_| from >= 64)
            .ok_or_else(|| format!("RLE segment {seg} at {from}..{to} is outside the fragment"))?;
        unpack_bits(bytes, pixels, &mut plane)?;
        // Segments run most significant byte first within each sample.
        let (sample, msb_rank) = (seg / bytes_per_sample, seg % bytes_per_sample);
        let byte = bytes_per_sample - 1 - msb_rank;
        let stride = samples * bytes_per_sample;
        let offset = sample * bytes_per_sample + byte;
        for (p, &v) in plane.iter().enumerate() {
            dst[p * stride + offset] = v;
        }
    }
    Ok(())
}

/// PackBits: a header byte n ≥ 0 copies n + 1 literal bytes, −127..−1 repeats the next byte
/// 1 − n times, −128 is a no-op. Exactly `len` bytes are required.
fn unpack_bits(src: &[u8], len: usize, out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    let mut i = 0;
    while out.len() < len && i < src.len() {
        let n = src[i] as i8;
        i += 1;
        if n >= 0 {
            let count = n as usize + 1;
            let lit = src
                .get(i..i + count)
                .ok_or("RLE literal run past the end of its segment")?;
            out.extend_from_slice(lit);
            i += count;
        } else if n != -128 {
            let v = *src
                .get(i)
                .ok_or("RLE repeat run past the end of its segment")?;
            i += 1;
            out.extend(std::iter::repeat_n(v, (1 - i32::from(n)) as usize));
        }
    }
    if out.len() < len {
        return Err(format!(
            "RLE segment decodes to {} bytes, expected {len}",
            out.len()
        ));
    }
    out.truncate(len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_literal_and_repeat_runs_and_refuses_short_segments() {
        let mut out = Vec::new();
        unpack_bits(&[2, 1, 2, 3, 0xFE, 9, 0x80], 6, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 9, 9, 9]);
        assert!(unpack_bits(&[0xFE, 9], 4, &mut out).is_err());
        assert!(unpack_bits(&[5, 1], 6, &mut out).is_err());

        // One 16-bit sample per pixel, two pixels: MSB segment then LSB segment.
        let mut frag = vec![0u8; 64];
        frag[0] = 2;
        frag[4] = 64;
        frag[8] = 67;
        frag.extend([1, 0x12, 0x34, 1, 0x56, 0x78]);
        let mut px = Vec::new();
        decode_frame(&frag, 2, 1, 2, &mut px).unwrap();
        assert_eq!(px, [0x56, 0x12, 0x78, 0x34]);
    }
}
