//! What a byte stream holds before any parser sees it: a Part 10 file or a bare data set, and
//! which VR mode (explicit or implicit) its data set is really encoded in.
//!
//! Old archives write data sets with no preamble, no `DICM` and no file meta group (PS3.10
//! 7.1 makes the header mandatory only for media interchange), and some writers declare one
//! transfer syntax in the meta group while encoding the data set in the other VR mode. Both
//! are recognised here from the bytes, with pydicom's rules, so that the parser is then told
//! the encoding the data set really has.

use std::io::Read;
use std::path::Path;

/// Implicit VR Little Endian, the default transfer syntax (PS3.5 10.1).
pub(crate) const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
/// Explicit VR Little Endian.
pub(crate) const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

/// Whether the element at the start of `data` is encoded with an explicit VR, by pydicom's
/// rule (`filereader._is_implicit_vr`): the two bytes after the tag are both upper-case ASCII
/// letters. An implicit length would need more than 16 kB for its low bytes to read as
/// letters, which a first element never is. `None` when fewer than 6 bytes remain.
pub(crate) fn explicit_vr(data: &[u8]) -> Option<bool> {
    let vr = data.get(4..6)?;
    Some(vr.iter().all(u8::is_ascii_uppercase))
}

/// Whether `bytes` start like a data set written without the Part 10 header: the first
/// element is in group 0008 (every composite object starts there: SOP Class UID (0008,0016)
/// is type 1 and elements are in ascending tag order, PS3.5 7.1) and, read in the VR mode
/// its bytes suggest, its length fits in the file.
pub(crate) fn is_bare_dataset(bytes: &[u8]) -> bool {
    if bytes.len() < 8 || u16::from_le_bytes([bytes[0], bytes[1]]) != 0x0008 {
        return false;
    }
    let len = match explicit_vr(bytes) {
        Some(true) => u64::from(u16::from_le_bytes([bytes[6], bytes[7]])),
        _ => u64::from(u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]])),
    };
    len + 8 <= bytes.len() as u64
}

/// Whether the file at `path` holds DICOM, by content only (extension and name are ignored):
/// a Part 10 file (`DICM` at byte 128, or at 0 without the preamble) or a bare data set
/// (a first element in group 0008 whose length fits). Unreadable files are not DICOM.
pub fn is_dicom(path: impl AsRef<Path>) -> bool {
    let mut head = Vec::with_capacity(132);
    // Through the regular-file opener: a FIFO or device is never opened, let alone read.
    let Ok(file) = crate::file::open_regular(path.as_ref()) else {
        return false;
    };
    if file.take(132).read_to_end(&mut head).is_err() {
        return false;
    }
    (head.len() == 132 && &head[128..132] == b"DICM")
        || head.starts_with(b"DICM")
        || is_bare_dataset(&head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_explicit_from_implicit_and_bare_data_sets() {
        // (0008,0005) CS length 10, explicit; the same element implicit.
        let explicit = [
            8, 0, 5, 0, b'C', b'S', 10, 0, b'I', b'S', b'O', b'_', b'I', b'R', b' ', b'1', b'0',
            b'0',
        ];
        let implicit = [
            8, 0, 5, 0, 10, 0, 0, 0, b'I', b'S', b'O', b'_', b'I', b'R', b' ', b'1', b'0', b'0',
        ];
        assert_eq!(explicit_vr(&explicit), Some(true));
        assert_eq!(explicit_vr(&implicit), Some(false));
        assert_eq!(explicit_vr(&implicit[..5]), None);
        assert!(is_bare_dataset(&explicit) && is_bare_dataset(&implicit));
        // Group 0010 first, or a length past the end: not recognised.
        let mut other = implicit;
        other[0] = 0x10;
        assert!(!is_bare_dataset(&other));
        assert!(!is_bare_dataset(&implicit[..12]));
        assert!(!is_bare_dataset(b"\x89PNG\r\n\x1a\n...."));
    }
}
