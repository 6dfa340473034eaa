//! Research volume formats: NRRD (`.nrrd`, or `.nhdr` with a detached data file) and
//! MetaImage (`.mha`, or `.mhd` with a detached data file), raw or compressed.
//!
//! ```no_run
//! use hulu_io::nifti::{SliceAxis, SliceOptions};
//! use hulu_io::volume::RawVolume;
//! let vol = RawVolume::open("ct.nrrd")?;
//! let frames = vol.read_slices(
//!     &SliceOptions { axis: SliceAxis::Axial, count: Some(8), ..SliceOptions::default() },
//!     &hulu_io::Limits::default(),
//! )?;
//! # Ok::<(), hulu_io::Error>(())
//! ```
//!
//! Only the headers are parsed here (small text formats with no well-kept Rust reader that
//! streams: `nrrd-rs` and friends read whole volumes into memory). Everything after the header
//! is the NIfTI code's: the voxel streaming ([`crate::nifti`]'s plane reader), the anatomical
//! axis resolution from the affine, the slice choice, the window and the min-max, so the three
//! formats slice identically. Geometry follows each format's specification, turned into
//! NIfTI's RAS+ affine: NRRD `space directions` (each axis's step, spacing included) in its
//! `space`, MetaImage `TransformMatrix` (axis direction vectors one after the other, as ITK's
//! MetaIO writes them) times `ElementSpacing`, in LPS.

mod metaimage;
mod nrrd;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::nifti::{
    axis_codes, chosen_slices, resolve_axis, slice_shape, Affine, Encoding, Slice, SliceAxis,
    SliceOptions, VoxelLayout, VoxelSource,
};
use crate::{Error, Limits, Result, Visual};

/// Largest header read: both formats' headers are a few hundred bytes of text.
const HEADER_BUDGET: u64 = 1 << 20;

/// A volume described by a text header: where its voxels are, their layout and geometry.
#[derive(Debug, Clone)]
pub struct RawVolume {
    what: String,
    format: &'static str,
    data_path: PathBuf,
    file_offset: u64,
    data_start: u64,
    encoding: Encoding,
    layout: VoxelLayout,
    spacing: [f64; 3],
    affine: Affine,
}

/// What a header parser finds, before the volume is assembled.
struct Parsed {
    data_path: PathBuf,
    file_offset: u64,
    data_start: u64,
    encoding: Encoding,
    layout: VoxelLayout,
    affine: Affine,
}

impl RawVolume {
    /// Reads the header of an NRRD (`.nrrd`, `.nhdr`) or MetaImage (`.mha`, `.mhd`) file,
    /// chosen by its first bytes (`NRRD000`, else MetaImage's `Key = Value` lines).
    ///
    /// # Errors
    ///
    /// [`Error::NotRegularFile`] and [`Error::Io`] for the file; [`Error::InvalidVolume`] for
    /// a malformed header; [`Error::UnsupportedMedia`] for an encoding, voxel type or layout
    /// this reader does not convert (text or bzip2 NRRD, multi-channel voxels, file lists).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let what = path.display().to_string();
        let _span = tracing::info_span!("raw_volume_open", path = %what).entered();
        let mut head = Vec::new();
        crate::file::open_regular(path)?
            .take(HEADER_BUDGET)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(path, e))?;
        let (format, parsed) = if head.starts_with(b"NRRD000") {
            ("NRRD", nrrd::parse(&what, path, &head)?)
        } else {
            ("MetaImage", metaimage::parse(&what, path, &head)?)
        };
        let mut spacing = [1.0; 3];
        for (j, s) in spacing.iter_mut().enumerate() {
            *s = (0..3)
                .map(|i| parsed.affine[i][j].powi(2))
                .sum::<f64>()
                .sqrt();
        }
        Ok(RawVolume {
            what,
            format,
            data_path: parsed.data_path,
            file_offset: parsed.file_offset,
            data_start: parsed.data_start,
            encoding: parsed.encoding,
            layout: parsed.layout,
            spacing,
            affine: parsed.affine,
        })
    }

    /// "NRRD" or "MetaImage".
    pub fn format(&self) -> &'static str {
        self.format
    }

    /// Array shape `[n0, n1, n2, nt]`, first index fastest in the file (padded with 1s).
    pub fn dims(&self) -> [usize; 4] {
        self.layout.dims
    }

    /// Voxel spacing along each array axis, in millimetres.
    pub fn spacing(&self) -> [f64; 3] {
        self.spacing
    }

    /// The voxel-to-world affine in RAS+ millimetres, as NIfTI's.
    pub fn affine(&self) -> &Affine {
        &self.affine
    }

    /// Where each array axis points, e.g. `['L', 'P', 'S']` (nibabel's `aff2axcodes`).
    pub fn axis_codes(&self) -> [char; 3] {
        axis_codes(&self.affine)
    }

    /// Number of slices along `axis`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an axis index above 2.
    pub fn slice_count(&self, axis: SliceAxis) -> Result<usize> {
        Ok(self.layout.dims[resolve_axis(&self.affine, axis)?])
    }

    fn source(&self) -> VoxelSource<'_> {
        VoxelSource {
            what: &self.what,
            path: &self.data_path,
            file_offset: self.file_offset,
            data_start: self.data_start,
            encoding: self.encoding,
            layout: self.layout,
        }
    }

    /// The volume's frames as NIfTI's ([`crate::nifti::NiftiFile::read_slices`]): slices
    /// chosen by `linspace`, windowed, min-max normalised, streamed one plane at a time.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an axis, volume or count the file does not have;
    /// [`Error::TooLarge`] beyond `limits` or out of proportion to the file;
    /// [`Error::InvalidVolume`] for truncated voxel data; [`Error::Io`].
    pub fn read_slices(&self, options: &SliceOptions, limits: &Limits) -> Result<Visual> {
        let _span = tracing::info_span!("raw_volume_read_slices", path = %self.what).entered();
        let a = resolve_axis(&self.affine, options.axis)?;
        let (h, w) = slice_shape(&self.layout.dims, a);
        let indices = chosen_slices(&self.what, self.layout.dims[a], (w, h), options, limits)?;
        self.source()
            .read_slices(a, &indices, options, limits)
            .map_err(|e| self.renamed(e))
    }

    /// The raw values of slice `index` along `axis` of volume `volume` (rows along the first
    /// remaining array axis, as [`crate::nifti::NiftiVolume::slice`]).
    ///
    /// # Errors
    ///
    /// As [`RawVolume::read_slices`].
    pub fn slice(
        &self,
        axis: SliceAxis,
        index: usize,
        volume: usize,
        limits: &Limits,
    ) -> Result<Slice> {
        let a = resolve_axis(&self.affine, axis)?;
        if index >= self.layout.dims[a] {
            return Err(Error::InvalidRequest(format!(
                "{}: slice {index} along axis {a}: it has {}",
                self.what, self.layout.dims[a]
            )));
        }
        let (h, w) = slice_shape(&self.layout.dims, a);
        limits.check_bytes(&self.what, &[h, w], 4)?;
        let mut slices = self
            .source()
            .stream_chosen(a, &[index], volume, limits)
            .map_err(|e| self.renamed(e))?;
        Ok(slices.remove(0))
    }

    /// The shared streaming code words its errors for NIfTI; name this format instead.
    fn renamed(&self, e: Error) -> Error {
        match e {
            Error::InvalidNifti { reason, .. } => Error::InvalidVolume {
                what: self.what.clone(),
                format: self.format,
                reason,
            },
            other => other,
        }
    }
}

/// Byte skip meaning "the voxels end the file" (NRRD `byte skip: -1`, MetaImage
/// `HeaderSize = -1`): the data start is the file length less the voxel bytes.
fn data_at_end(what: &str, format: &'static str, path: &Path, layout: &VoxelLayout) -> Result<u64> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let bytes = layout
        .dims
        .iter()
        .try_fold(layout.ty.size() as u64, |acc, &d| acc.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    len.checked_sub(bytes).ok_or_else(|| Error::InvalidVolume {
        what: what.to_string(),
        format,
        reason: format!("voxel data truncated: {bytes} bytes declared, the data file has {len}"),
    })
}

/// A detached data file named by a header: a file name or relative path resolved beside the
/// header (both formats' rule), never an absolute path or one climbing out with `..`.
fn data_file_beside(
    what: &str,
    format: &'static str,
    header: &Path,
    name: &str,
) -> Result<PathBuf> {
    let rel = Path::new(name);
    let climbs = rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)));
    if name.is_empty() || climbs {
        return Err(Error::InvalidVolume {
            what: what.to_string(),
            format,
            reason: format!("data file {name:?} is not a path beside the header"),
        });
    }
    Ok(header.parent().unwrap_or(Path::new(".")).join(rel))
}

/// `[n0, n1, n2, nt]` from 1 to 4 sizes (first fastest), each at least 1.
fn dims_from(what: &str, format: &'static str, sizes: &[usize]) -> Result<[usize; 4]> {
    if sizes.is_empty() || sizes.len() > 4 || sizes.contains(&0) {
        return Err(Error::InvalidVolume {
            what: what.to_string(),
            format,
            reason: format!("sizes {sizes:?}: expected 1 to 4 sizes, none 0"),
        });
    }
    let mut dims = [1usize; 4];
    dims[..sizes.len()].copy_from_slice(sizes);
    Ok(dims)
}
