//! A pre-scan of TIFF directories before the `tiff` crate sees the file.
//!
//! The `tiff` decoder reads the first directory while it is being constructed, before any
//! limits can be set, and holds each tag value as a 32-byte item: one tag whose count is
//! corrupt can make it allocate hundreds of megabytes. Walking the directories here (entry
//! headers only, no values) refuses those files cheaply: a value block that runs past the end
//! of the file is corrupt, and one whose decoded list would exceed the budget is too large.

use crate::{Error, Result};

/// Bytes the `tiff` crate spends on each decoded tag value (`size_of::<tiff::Value>()`).
const DECODED_VALUE_BYTES: u64 = 32;

/// Most directories (pages) walked; a longer chain is refused as hostile.
const MAX_DIRECTORIES: usize = 4096;

/// Byte order and offset width of a TIFF file.
struct Layout {
    little: bool,
    big_tiff: bool,
}

impl Layout {
    fn uint(&self, bytes: &[u8]) -> u64 {
        let mut v = 0u64;
        if self.little {
            for &b in bytes.iter().rev() {
                v = (v << 8) | u64::from(b);
            }
        } else {
            for &b in bytes {
                v = (v << 8) | u64::from(b);
            }
        }
        v
    }

    /// Width of an offset or count field, and of an inline value slot.
    fn word(&self) -> usize {
        if self.big_tiff {
            8
        } else {
            4
        }
    }
}

/// Bytes per value of a TIFF field type; `None` for types the decoder does not know (it
/// skips those entries without reading them).
fn type_size(field_type: u64) -> Option<u64> {
    match field_type {
        1 | 2 | 6 | 7 => Some(1),
        3 | 8 => Some(2),
        4 | 9 | 11 | 13 => Some(4),
        5 | 10 | 12 | 16 | 17 | 18 => Some(8),
        _ => None,
    }
}

/// Checks every directory entry of a TIFF file: values inside the file, and decoded value
/// lists within `max_alloc` bytes. Files that are not TIFF pass untouched.
pub(crate) fn check_tiff_directories(what: &str, bytes: &[u8], max_alloc: u64) -> Result<()> {
    let invalid = |reason: String| Error::InvalidImage {
        what: what.to_string(),
        reason,
    };
    let little = match bytes.get(..2) {
        Some(b"II") => true,
        Some(b"MM") => false,
        _ => return Ok(()),
    };
    let probe = Layout {
        little,
        big_tiff: false,
    };
    let big_tiff = match bytes.get(2..4).map(|b| probe.uint(b)) {
        Some(42) => false,
        Some(43) => true,
        _ => return Ok(()),
    };
    let layout = Layout { little, big_tiff };
    let word = layout.word();
    let read = |at: u64, len: usize| -> Result<u64> {
        usize::try_from(at)
            .ok()
            .and_then(|at| bytes.get(at..at.checked_add(len)?))
            .map(|b| layout.uint(b))
            .ok_or_else(|| invalid(format!("a directory field at byte {at} is past the end")))
    };
    let first_at = if big_tiff { 8 } else { 4 };
    let mut next = read(first_at, word)?;
    let mut seen = std::collections::HashSet::new();
    while next != 0 {
        if !seen.insert(next) || seen.len() > MAX_DIRECTORIES {
            return Err(invalid(format!(
                "the directory chain loops or holds more than {MAX_DIRECTORIES} directories"
            )));
        }
        let count_width = if big_tiff { 8 } else { 2 };
        let entry_width = if big_tiff { 20 } else { 12 };
        let entries = read(next, count_width)?;
        let first_entry = next + count_width as u64;
        let end = entries
            .checked_mul(entry_width)
            .and_then(|n| n.checked_add(first_entry))
            .filter(|&end| end <= bytes.len() as u64)
            .ok_or_else(|| invalid(format!("directory at byte {next} runs past the end")))?;
        for i in 0..entries {
            let at = first_entry + i * entry_width;
            let tag = read(at, 2)?;
            let Some(size) = type_size(read(at + 2, 2)?) else {
                continue;
            };
            let count = read(at + 4, word)?;
            let value_bytes = count.checked_mul(size).ok_or_else(|| {
                invalid(format!("tag {tag} declares an impossible count {count}"))
            })?;
            if value_bytes > word as u64 {
                let offset = read(at + 4 + word as u64, word)?;
                if offset
                    .checked_add(value_bytes)
                    .is_none_or(|e| e > bytes.len() as u64)
                {
                    return Err(invalid(format!(
                        "tag {tag}'s {count} values run past the end of the file"
                    )));
                }
            }
            if count.saturating_mul(DECODED_VALUE_BYTES) > max_alloc {
                return Err(Error::TooLarge {
                    what: what.to_string(),
                    reason: format!(
                        "tag {tag} holds {count} values, beyond the {max_alloc} byte budget"
                    ),
                });
            }
        }
        next = read(end, word)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic little-endian TIFF with one directory of the given (tag, type, count, value).
    fn tiff(entries: &[(u16, u16, u32, u32)], tail: usize) -> Vec<u8> {
        let mut b = b"II*\0".to_vec();
        b.extend(8u32.to_le_bytes());
        b.extend((entries.len() as u16).to_le_bytes());
        for &(tag, ty, count, value) in entries {
            b.extend(tag.to_le_bytes());
            b.extend(ty.to_le_bytes());
            b.extend(count.to_le_bytes());
            b.extend(value.to_le_bytes());
        }
        b.extend(0u32.to_le_bytes());
        b.resize(b.len() + tail, 0);
        b
    }

    #[test]
    fn a_sound_directory_passes() {
        let b = tiff(&[(256, 3, 1, 40), (273, 4, 4, 26)], 64);
        check_tiff_directories("t", &b, 1 << 20).unwrap();
    }

    #[test]
    fn values_past_the_end_are_invalid() {
        let b = tiff(&[(273, 4, 1000, 26)], 64);
        let e = check_tiff_directories("t", &b, 1 << 20).unwrap_err();
        assert!(matches!(e, Error::InvalidImage { .. }), "{e}");
    }

    #[test]
    fn a_count_beyond_the_budget_is_too_large() {
        let b = tiff(&[(273, 1, 1000, 26)], 1000);
        let e = check_tiff_directories("t", &b, 1000 * 32 - 1).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        check_tiff_directories("t", &b, 1000 * 32).unwrap();
    }

    #[test]
    fn a_looping_chain_is_invalid() {
        let mut b = tiff(&[(256, 3, 1, 40)], 0);
        let n = b.len();
        b[n - 4..].copy_from_slice(&8u32.to_le_bytes());
        let e = check_tiff_directories("t", &b, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("loops"), "{e}");
    }

    #[test]
    fn non_tiff_bytes_pass_untouched() {
        check_tiff_directories("t", b"\x89PNG\r\n\x1a\n", 0).unwrap();
    }
}
