//! The NIfTI-1 (348-byte) and NIfTI-2 (540-byte) headers, parsed by hand so every size is
//! validated before anything is allocated from it.

use crate::{Error, Result};

/// Bytes of a NIfTI-1 header.
pub const NIFTI1_HEADER_LEN: usize = 348;
/// Bytes of a NIfTI-2 header.
pub const NIFTI2_HEADER_LEN: usize = 540;

/// Which revision of the format a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NiftiVersion {
    /// NIfTI-1: 16-bit dimensions, 32-bit floats in the header.
    Nifti1,
    /// NIfTI-2: 64-bit dimensions, 64-bit floats in the header.
    Nifti2,
}

/// The header fields a reader needs, widened to the NIfTI-2 types.
#[derive(Debug, Clone, PartialEq)]
pub struct NiftiHeader {
    /// Format revision.
    pub version: NiftiVersion,
    /// Whether the file is big-endian.
    pub big_endian: bool,
    /// `dim[0]` and `dim[1..=7]`: number of dimensions, then each size.
    pub dim: [i64; 8],
    /// The voxel type code (`datatype`), e.g. 4 = int16, 16 = float32.
    pub datatype: i16,
    /// Bits per voxel as declared.
    pub bitpix: i16,
    /// `pixdim[0]` is the qform handedness (qfac), `pixdim[1..]` the voxel sizes and TR.
    pub pixdim: [f64; 8],
    /// Byte offset of the voxel data in the file.
    pub vox_offset: i64,
    /// Scale slope (`scl_slope`); 0 or non-finite means no scaling.
    pub scl_slope: f64,
    /// Scale intercept (`scl_inter`).
    pub scl_inter: f64,
    /// Method of the quaternion transform (0 = none).
    pub qform_code: i32,
    /// Method of the affine rows (0 = none).
    pub sform_code: i32,
    /// Quaternion b, c, d parameters.
    pub quatern: [f64; 3],
    /// Quaternion translation.
    pub qoffset: [f64; 3],
    /// The three stored affine rows.
    pub srow: [[f64; 4]; 3],
    /// Free-text description (`descrip`), trailing NULs removed.
    pub descrip: String,
}

/// Little reader over a byte slice in the file's byte order.
struct Fields<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl Fields<'_> {
    fn take<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[at..at + N]);
        if self.big_endian {
            out.reverse();
        }
        out
    }
    fn i16(&self, at: usize) -> i16 {
        i16::from_le_bytes(self.take(at))
    }
    fn i32(&self, at: usize) -> i32 {
        i32::from_le_bytes(self.take(at))
    }
    fn i64(&self, at: usize) -> i64 {
        i64::from_le_bytes(self.take(at))
    }
    fn f32(&self, at: usize) -> f64 {
        f32::from_le_bytes(self.take(at)) as f64
    }
    fn f64(&self, at: usize) -> f64 {
        f64::from_le_bytes(self.take(at))
    }
    fn text(&self, at: usize, len: usize) -> String {
        let raw = &self.bytes[at..at + len];
        let end = raw.iter().position(|&b| b == 0).unwrap_or(len);
        String::from_utf8_lossy(&raw[..end]).trim_end().to_string()
    }
}

fn invalid(what: &str, reason: impl Into<String>) -> Error {
    Error::InvalidNifti {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// How many header bytes a file starting with `first4` needs, or an error when the first
/// four bytes are no NIfTI `sizeof_hdr` in either byte order.
///
/// # Errors
///
/// [`Error::InvalidNifti`] when `first4` is shorter than four bytes or is not a NIfTI-1 or NIfTI-2
/// `sizeof_hdr` in either byte order.
pub fn header_len(what: &str, first4: &[u8]) -> Result<usize> {
    let Ok(word) = <[u8; 4]>::try_from(first4) else {
        return Err(invalid(what, "shorter than a NIfTI header"));
    };
    for n in [i32::from_le_bytes(word), i32::from_be_bytes(word)] {
        match n {
            348 => return Ok(NIFTI1_HEADER_LEN),
            540 => return Ok(NIFTI2_HEADER_LEN),
            _ => {}
        }
    }
    Err(invalid(
        what,
        "sizeof_hdr is neither 348 (NIfTI-1) nor 540 (NIfTI-2): not a NIfTI file",
    ))
}

impl NiftiHeader {
    /// Parses a header from its first bytes (at least [`header_len`] of them).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidNifti`] when the bytes are too short, the magic or `sizeof_hdr` is wrong,
    /// or a field is out of range (dimensions, voxel sizes, `vox_offset`), naming the field.
    pub fn parse(what: &str, bytes: &[u8]) -> Result<Self> {
        let len = header_len(what, bytes.get(..4).unwrap_or(bytes))?;
        if bytes.len() < len {
            return Err(invalid(what, "truncated header"));
        }
        let little = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) == len as i32;
        let f = Fields {
            bytes,
            big_endian: !little,
        };
        let header = if len == NIFTI1_HEADER_LEN {
            Self::parse1(what, &f)?
        } else {
            Self::parse2(what, &f)?
        };
        header.validate(what)?;
        Ok(header)
    }

    fn parse1(what: &str, f: &Fields) -> Result<Self> {
        match &f.bytes[344..348] {
            b"n+1\0" => {}
            b"ni1\0" => {
                return Err(Error::UnsupportedMedia {
                    what: what.to_string(),
                    reason: "two-file NIfTI (.hdr + .img) is not supported; convert it to a \
                             single .nii"
                        .into(),
                })
            }
            _ => return Err(invalid(what, "NIfTI-1 magic is not \"n+1\"")),
        }
        let mut dim = [0i64; 8];
        for (i, d) in dim.iter_mut().enumerate() {
            *d = f.i16(40 + 2 * i) as i64;
        }
        let mut pixdim = [0f64; 8];
        for (i, p) in pixdim.iter_mut().enumerate() {
            *p = f.f32(76 + 4 * i);
        }
        let mut srow = [[0f64; 4]; 3];
        for (r, row) in srow.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = f.f32(280 + 16 * r + 4 * c);
            }
        }
        let vox_offset = f.f32(108);
        if !vox_offset.is_finite() || vox_offset < 0.0 || vox_offset > i64::MAX as f64 / 2.0 {
            return Err(invalid(
                what,
                format!("vox_offset {vox_offset} is not an offset"),
            ));
        }
        Ok(NiftiHeader {
            version: NiftiVersion::Nifti1,
            big_endian: f.big_endian,
            dim,
            datatype: f.i16(70),
            bitpix: f.i16(72),
            pixdim,
            vox_offset: vox_offset as i64,
            scl_slope: f.f32(112),
            scl_inter: f.f32(116),
            qform_code: f.i16(252) as i32,
            sform_code: f.i16(254) as i32,
            quatern: [f.f32(256), f.f32(260), f.f32(264)],
            qoffset: [f.f32(268), f.f32(272), f.f32(276)],
            srow,
            descrip: f.text(148, 80),
        })
    }

    fn parse2(what: &str, f: &Fields) -> Result<Self> {
        match &f.bytes[4..12] {
            b"n+2\0\r\n\x1a\n" => {}
            b"ni2\0\r\n\x1a\n" => {
                return Err(Error::UnsupportedMedia {
                    what: what.to_string(),
                    reason: "two-file NIfTI-2 (.hdr + .img) is not supported".into(),
                })
            }
            _ => return Err(invalid(what, "NIfTI-2 magic is not \"n+2\"")),
        }
        let mut dim = [0i64; 8];
        for (i, d) in dim.iter_mut().enumerate() {
            *d = f.i64(16 + 8 * i);
        }
        let mut pixdim = [0f64; 8];
        for (i, p) in pixdim.iter_mut().enumerate() {
            *p = f.f64(104 + 8 * i);
        }
        let mut srow = [[0f64; 4]; 3];
        for (r, row) in srow.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = f.f64(400 + 32 * r + 8 * c);
            }
        }
        Ok(NiftiHeader {
            version: NiftiVersion::Nifti2,
            big_endian: f.big_endian,
            dim,
            datatype: f.i16(12),
            bitpix: f.i16(14),
            pixdim,
            vox_offset: f.i64(168),
            scl_slope: f.f64(176),
            scl_inter: f.f64(184),
            qform_code: f.i32(344),
            sform_code: f.i32(348),
            quatern: [f.f64(352), f.f64(360), f.f64(368)],
            qoffset: [f.f64(376), f.f64(384), f.f64(392)],
            srow,
            descrip: f.text(240, 80),
        })
    }

    fn validate(&self, what: &str) -> Result<()> {
        let ndim = self.dim[0];
        if !(1..=7).contains(&ndim) {
            return Err(invalid(what, format!("dim[0] = {ndim} is not 1..7")));
        }
        for (i, &d) in self.dim[1..=ndim as usize].iter().enumerate() {
            if d < 1 {
                return Err(invalid(
                    what,
                    format!("dim[{}] = {d} is not positive", i + 1),
                ));
            }
        }
        if ndim > 4 && self.dim[5..=ndim as usize].iter().any(|&d| d != 1) {
            return Err(Error::UnsupportedMedia {
                what: what.to_string(),
                reason: format!(
                    "{ndim}-D NIfTI with dims {:?}: only 3-D volumes and 4-D series are read",
                    &self.dim[1..=ndim as usize]
                ),
            });
        }
        let min_offset = match self.version {
            NiftiVersion::Nifti1 => NIFTI1_HEADER_LEN as i64,
            NiftiVersion::Nifti2 => NIFTI2_HEADER_LEN as i64,
        };
        if self.vox_offset < min_offset {
            return Err(invalid(
                what,
                format!("vox_offset {} lies inside the header", self.vox_offset),
            ));
        }
        if self.scl_slope.is_finite() && self.scl_slope != 0.0 && !self.scl_inter.is_finite() {
            return Err(invalid(what, "valid scl_slope with a non-finite scl_inter"));
        }
        Ok(())
    }

    /// The array shape as nibabel reports it: `dim[1..=dim[0]]`, with trailing singleton
    /// dimensions past the fourth dropped.
    pub fn shape(&self) -> Vec<usize> {
        let ndim = (self.dim[0] as usize).min(4);
        self.dim[1..=ndim].iter().map(|&d| d as usize).collect()
    }

    /// Voxel sizes (and TR for 4-D), `pixdim[1..=ndim]` as nibabel's `get_zooms()`.
    pub fn zooms(&self) -> Vec<f64> {
        let ndim = (self.dim[0] as usize).min(4);
        self.pixdim[1..=ndim].to_vec()
    }

    /// `(slope, intercept)` when the header asks for scaling: nibabel's rule, a slope of 0 or
    /// NaN (or infinity) means none.
    pub fn scaling(&self) -> Option<(f64, f64)> {
        (self.scl_slope.is_finite() && self.scl_slope != 0.0)
            .then_some((self.scl_slope, self.scl_inter))
    }
}
