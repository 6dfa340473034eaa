//! Voxel types and their conversion to `f32`, streamed in chunks so that the raw bytes of a
//! whole volume never sit in memory next to the converted values.

use std::io::Read;

use crate::{Error, Result};

/// A voxel type this reader converts (the NIfTI `datatype` codes for real scalars).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoxelType {
    /// `DT_UINT8` (2).
    U8,
    /// `DT_INT8` (256).
    I8,
    /// `DT_INT16` (4).
    I16,
    /// `DT_UINT16` (512).
    U16,
    /// `DT_INT32` (8).
    I32,
    /// `DT_UINT32` (768).
    U32,
    /// `DT_INT64` (1024).
    I64,
    /// `DT_UINT64` (1280).
    U64,
    /// `DT_FLOAT32` (16).
    F32,
    /// `DT_FLOAT64` (64).
    F64,
}

impl VoxelType {
    /// The type for a NIfTI `datatype` code, or an error naming the code.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedMedia`] naming the code for a `datatype` this crate does not read
    /// (complex, RGB, 128-bit).
    pub fn from_code(what: &str, code: i16) -> Result<Self> {
        Ok(match code {
            2 => VoxelType::U8,
            256 => VoxelType::I8,
            4 => VoxelType::I16,
            512 => VoxelType::U16,
            8 => VoxelType::I32,
            768 => VoxelType::U32,
            1024 => VoxelType::I64,
            1280 => VoxelType::U64,
            16 => VoxelType::F32,
            64 => VoxelType::F64,
            other => {
                let name = match other {
                    1 => "binary",
                    32 => "complex64",
                    128 => "RGB24",
                    1536 => "float128",
                    1792 => "complex128",
                    2048 => "complex256",
                    2304 => "RGBA32",
                    _ => "unknown",
                };
                return Err(Error::UnsupportedMedia {
                    what: what.to_string(),
                    reason: format!("NIfTI datatype {other} ({name}) is not a real scalar type"),
                });
            }
        })
    }

    /// Bytes per voxel.
    pub fn size(self) -> usize {
        match self {
            VoxelType::U8 | VoxelType::I8 => 1,
            VoxelType::I16 | VoxelType::U16 => 2,
            VoxelType::I32 | VoxelType::U32 | VoxelType::F32 => 4,
            VoxelType::I64 | VoxelType::U64 | VoxelType::F64 => 8,
        }
    }

    /// One voxel from its bytes in file order, as `f64`.
    fn decode(self, b: &[u8], big_endian: bool) -> f64 {
        macro_rules! num {
            ($t:ty, $n:literal) => {{
                let mut a = [0u8; $n];
                a.copy_from_slice(&b[..$n]);
                if big_endian {
                    <$t>::from_be_bytes(a) as f64
                } else {
                    <$t>::from_le_bytes(a) as f64
                }
            }};
        }
        match self {
            VoxelType::U8 => b[0] as f64,
            VoxelType::I8 => b[0] as i8 as f64,
            VoxelType::I16 => num!(i16, 2),
            VoxelType::U16 => num!(u16, 2),
            VoxelType::I32 => num!(i32, 4),
            VoxelType::U32 => num!(u32, 4),
            VoxelType::I64 => num!(i64, 8),
            VoxelType::U64 => num!(u64, 8),
            VoxelType::F32 => num!(f32, 4),
            VoxelType::F64 => num!(f64, 8),
        }
    }
}

/// Reads `count` voxels of type `ty` from `reader`, applying `scaling` (`v * slope + inter`
/// computed in f64, as nibabel's `get_fdata()` does) and storing f32. The caller has already
/// checked `count` against the memory budget; the output still grows with the voxels read
/// (amortised doubling) rather than being reserved from `count`, so a header that claims more
/// voxels than the stream holds costs at most twice what is there.
///
/// # Errors
///
/// [`Error::InvalidNifti`] naming `what` when the stream fails or ends before `count` voxels.
pub fn read_voxels(
    what: &str,
    reader: &mut impl Read,
    ty: VoxelType,
    big_endian: bool,
    count: usize,
    scaling: Option<(f64, f64)>,
) -> Result<Vec<f32>> {
    const CHUNK_VOXELS: usize = 1 << 14;
    let size = ty.size();
    let mut out = Vec::with_capacity(count.min(CHUNK_VOXELS));
    let mut buf = vec![0u8; count.min(CHUNK_VOXELS) * size];
    while out.len() < count {
        let n = (count - out.len()).min(CHUNK_VOXELS);
        out.reserve(n);
        let bytes = &mut buf[..n * size];
        reader.read_exact(bytes).map_err(|e| Error::InvalidNifti {
            what: what.to_string(),
            reason: if e.kind() == std::io::ErrorKind::UnexpectedEof {
                format!(
                    "voxel data truncated: {} of {count} voxels present",
                    out.len()
                )
            } else {
                format!("reading voxel data: {e}")
            },
        })?;
        match (ty, big_endian, scaling) {
            // The common cases get a tight loop; the generic path handles the rest.
            (VoxelType::I16, false, None) => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32),
            ),
            (VoxelType::U8, _, None) => out.extend(bytes.iter().map(|&b| b as f32)),
            (_, _, None) => out.extend(
                bytes
                    .chunks_exact(size)
                    .map(|c| ty.decode(c, big_endian) as f32),
            ),
            (_, _, Some((slope, inter))) => out.extend(
                bytes
                    .chunks_exact(size)
                    .map(|c| (ty.decode(c, big_endian) * slope + inter) as f32),
            ),
        }
    }
    Ok(out)
}
