//! Allocation limits checked before any buffer is sized from a file's header.

use crate::{Error, Result};

/// Bounds a loader enforces before it allocates from sizes a file declares. Headers lie
/// (corrupt or hostile files): every loader multiplies the declared dimensions with checked
/// arithmetic and compares against these bounds first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest decoded buffer, in bytes, that one load may allocate.
    pub max_bytes: usize,
    /// Most frames (slices, video frames) one load may return.
    pub max_frames: usize,
    /// Largest width or height of one frame, in pixels.
    pub max_dim: usize,
}

impl Default for Limits {
    /// 4 GiB, 100 000 frames, 65 536 pixels a side.
    fn default() -> Self {
        Limits {
            max_bytes: 4 << 30,
            max_frames: 100_000,
            max_dim: 65_536,
        }
    }
}

impl Limits {
    /// Checks that `dims` (each a count) multiplied by `bytes_per_element` stays within
    /// `max_bytes`, and returns the byte count. `what` names the buffer in the error.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] naming `what` when the product overflows or exceeds `max_bytes`.
    pub fn check_bytes(
        &self,
        what: &str,
        dims: &[usize],
        bytes_per_element: usize,
    ) -> Result<usize> {
        let total = dims
            .iter()
            .try_fold(bytes_per_element, |acc, &d| acc.checked_mul(d));
        match total {
            Some(bytes) if bytes <= self.max_bytes => Ok(bytes),
            _ => Err(Error::TooLarge {
                what: what.to_string(),
                reason: format!(
                    "dimensions {dims:?} x {bytes_per_element} bytes exceed the {} byte budget",
                    self.max_bytes
                ),
            }),
        }
    }

    /// Reads a whole regular file whose size fits `max_bytes` (see [`crate::file`]): the size is
    /// checked before reading and the read stops one byte past the budget.
    ///
    /// # Errors
    ///
    /// Those of [`crate::file::read_regular`].
    pub fn read_file(&self, path: &std::path::Path) -> Result<Vec<u8>> {
        crate::file::read_regular(path, self.max_bytes)
    }

    /// Decoded bytes any input may declare regardless of its own size: 1/64 of `max_bytes`
    /// (64 MiB for the default budget). Above it, [`Limits::check_expansion`] applies.
    pub fn expansion_floor(&self) -> u64 {
        (self.max_bytes / 64) as u64
    }

    /// The proportion rule: an input of `input_len` bytes whose encoding (`encoding`, e.g.
    /// "deflate") expands at most `max_ratio` times may not declare more than
    /// `input_len * max_ratio` decoded bytes, unless they fit [`Limits::expansion_floor`].
    /// A small file declaring a huge image or volume is refused before anything is allocated
    /// or inflated for it, instead of being decoded into zeros.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] naming `what` when `decoded` is out of proportion.
    pub fn check_expansion(
        &self,
        what: &str,
        decoded: u64,
        input_len: u64,
        max_ratio: u64,
        encoding: &str,
    ) -> Result<()> {
        let allowed = input_len.saturating_mul(max_ratio);
        if decoded <= self.expansion_floor() || decoded <= allowed {
            return Ok(());
        }
        Err(Error::TooLarge {
            what: what.to_string(),
            reason: format!(
                "declares {decoded} decoded bytes from {input_len} bytes of {encoding}, which \
                 expands at most {max_ratio} times (out of proportion: corrupt or hostile)"
            ),
        })
    }

    /// Checks one frame's width and height against `max_dim`.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] naming `what` for an empty frame or a side above `max_dim`.
    pub fn check_frame(&self, what: &str, width: usize, height: usize) -> Result<()> {
        if width == 0 || height == 0 || width > self.max_dim || height > self.max_dim {
            return Err(Error::TooLarge {
                what: what.to_string(),
                reason: format!(
                    "frame of {width}x{height} is empty or exceeds {} pixels a side",
                    self.max_dim
                ),
            });
        }
        Ok(())
    }

    /// Checks a frame count against `max_frames`.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] naming `what` above `max_frames`.
    pub fn check_frames(&self, what: &str, frames: usize) -> Result<()> {
        if frames > self.max_frames {
            return Err(Error::TooLarge {
                what: what.to_string(),
                reason: format!("{frames} frames exceed the limit of {}", self.max_frames),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_overflowing_and_oversized_buffers() {
        let l = Limits {
            max_bytes: 1000,
            ..Limits::default()
        };
        assert_eq!(l.check_bytes("x", &[10, 10], 2).unwrap(), 200);
        assert!(matches!(
            l.check_bytes("x", &[10, 100], 2),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            l.check_bytes("x", &[usize::MAX, 2], 1),
            Err(Error::TooLarge { .. })
        ));
        assert!(l.check_frame("x", 0, 5).is_err());
        assert!(l.check_frames("x", 100_001).is_err());
    }

    #[test]
    fn expansion_is_bounded_by_ratio_above_the_floor() {
        let l = Limits {
            max_bytes: 64_000,
            ..Limits::default()
        };
        assert_eq!(l.expansion_floor(), 1000);
        // Under the floor anything goes; above it the ratio decides.
        l.check_expansion("x", 1000, 1, 2, "deflate").unwrap();
        l.check_expansion("x", 2000, 1000, 2, "deflate").unwrap();
        let e = l
            .check_expansion("x", 2001, 1000, 2, "deflate")
            .unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("2001"), "{e}");
    }
}
