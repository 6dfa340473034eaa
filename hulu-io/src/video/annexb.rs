//! MP4 stores H.264 as length-prefixed NAL units with the parameter sets in the `avcC` box;
//! OpenH264 wants an Annex B byte stream (start codes, parameter sets in band).

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Appends `nal` to `out` behind a start code.
pub fn push_nal(out: &mut Vec<u8>, nal: &[u8]) {
    out.extend_from_slice(&START_CODE);
    out.extend_from_slice(nal);
}

/// Rewrites one MP4 sample (NAL units each behind a `length_size`-byte big-endian length)
/// into `out` as Annex B. `None` when a length runs past the sample or `length_size` is not
/// 1, 2 or 4.
pub fn sample_to_annexb(sample: &[u8], length_size: usize, out: &mut Vec<u8>) -> Option<()> {
    if !matches!(length_size, 1 | 2 | 4) {
        return None;
    }
    let mut rest = sample;
    while !rest.is_empty() {
        let (len_bytes, tail) = rest.split_at_checked(length_size)?;
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        let (nal, tail) = tail.split_at_checked(len)?;
        push_nal(out, nal);
        rest = tail;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_rejects_overruns() {
        let mut out = Vec::new();
        sample_to_annexb(&[0, 0, 0, 2, 0x65, 0xaa, 0, 0, 0, 1, 0x41], 4, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x65, 0xaa, 0, 0, 0, 1, 0x41]);
        assert!(sample_to_annexb(&[0, 0, 0, 9, 0x65], 4, &mut Vec::new()).is_none());
        assert!(sample_to_annexb(&[0, 0], 4, &mut Vec::new()).is_none());
        assert!(sample_to_annexb(&[1, 0x65], 3, &mut Vec::new()).is_none());
    }
}
