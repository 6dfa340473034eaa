//! NIfTI-1 and NIfTI-2 volumes (`.nii`, and gzip-compressed `.nii.gz` detected by its magic
//! bytes, not its name), read into f32 values indexed like nibabel's `get_fdata()`.
//!
//! ```no_run
//! use hulu_io::nifti::{NiftiVolume, SliceAxis, SliceOptions};
//! let vol = NiftiVolume::open("brain.nii.gz")?;
//! let frames = vol.slices(&SliceOptions {
//!     axis: SliceAxis::Axial,
//!     count: Some(8),
//!     ..SliceOptions::default()
//! })?;
//! # Ok::<(), hulu_io::Error>(())
//! ```
//!
//! The header is parsed and validated here (both revisions, both byte orders) and every
//! declared size is checked against [`Limits`] before a buffer is sized from it.

mod affine;
mod header;
mod planes;
mod slices;
mod voxels;
mod window;

use std::io::{BufReader, Cursor, Read};
use std::path::Path;

pub use affine::{axis_codes, axis_directions, best_affine, Affine};
pub use header::{NiftiHeader, NiftiVersion};
pub use planes::NiftiFile;
pub(crate) use planes::{slice_shape, Encoding, VoxelLayout, VoxelSource};
pub use slices::{minmax_to_u8, Slice, SliceAxis, SliceOptions};
pub use voxels::VoxelType;
pub use window::Window;

use crate::video::linspace_indices;
use crate::{Error, Limits, Result, RgbFrame, Visual, VisualKind};

/// A NIfTI volume in memory: the header, the affine and the voxel values.
#[derive(Debug, Clone)]
pub struct NiftiVolume {
    /// The file it was read from (or `<memory>`), for errors.
    what: String,
    header: NiftiHeader,
    shape: Vec<usize>,
    /// `[ni, nj, nk, nt]`, padded with 1s.
    dims: [usize; 4],
    affine: Affine,
    data: Vec<f32>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl NiftiVolume {
    /// Reads a `.nii` or `.nii.gz` file with the default [`Limits`].
    ///
    /// # Errors
    ///
    /// [`Error::NotRegularFile`] and [`Error::Io`] for the file; [`Error::InvalidNifti`] for a
    /// malformed header or truncated voxels; [`Error::UnsupportedMedia`] for a voxel type or
    /// layout this reader does not convert; [`Error::TooLarge`] beyond `limits` or out of
    /// proportion to the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_limits(path, &Limits::default())
    }

    /// Reads a `.nii` or `.nii.gz` file, refusing volumes larger than `limits` allow.
    ///
    /// # Errors
    ///
    /// [`Error::NotRegularFile`] and [`Error::Io`] for the file; [`Error::InvalidNifti`] for a
    /// malformed header or truncated voxels; [`Error::UnsupportedMedia`] for a voxel type or
    /// layout this reader does not convert; [`Error::TooLarge`] beyond `limits` or out of
    /// proportion to the file.
    pub fn open_with_limits(path: impl AsRef<Path>, limits: &Limits) -> Result<Self> {
        let path = path.as_ref();
        let _span = tracing::info_span!("nifti_open", path = %path.display()).entered();
        let file = crate::file::open_regular(path)?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        Self::read_stream(
            &path.display().to_string(),
            BufReader::new(file),
            Some(len),
            limits,
        )
    }

    /// Reads a NIfTI file already in memory (plain or gzip-compressed).
    ///
    /// # Errors
    ///
    /// As [`NiftiVolume::open_with_limits`], without the file errors.
    pub fn from_bytes(bytes: &[u8], limits: &Limits) -> Result<Self> {
        Self::read_stream("<memory>", bytes, Some(bytes.len() as u64), limits)
    }

    /// Reads from any byte stream; `what` names the source in errors. The stream's length is
    /// unknown, so the voxel buffer grows with the voxels actually read (never reserved from
    /// the header).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidNifti`] for a malformed header or truncated voxels,
    /// [`Error::UnsupportedMedia`] for a voxel type or layout this reader does not convert,
    /// [`Error::TooLarge`] beyond `limits`, [`Error::Io`].
    pub fn from_reader(what: &str, reader: impl Read, limits: &Limits) -> Result<Self> {
        Self::read_stream(what, reader, None, limits)
    }

    /// Reads from a stream of `input_len` bytes when known: a plain file must hold the voxels
    /// its header declares, a gzip one may not declare more than deflate can expand it to.
    fn read_stream(
        what: &str,
        mut reader: impl Read,
        input_len: Option<u64>,
        limits: &Limits,
    ) -> Result<Self> {
        let mut magic = [0u8; 2];
        let got = read_up_to(&mut reader, &mut magic).map_err(|e| io_error(what, e))?;
        let stream = Cursor::new(magic[..got].to_vec()).chain(reader);
        if got == 2 && magic == GZIP_MAGIC {
            let mut gz = flate2::read::MultiGzDecoder::new(BufReader::new(stream));
            let bound = input_len.map(|n| (n, 1032, "gzip (deflate)"));
            Self::read_plain(what, &mut gz, bound, limits)
        } else {
            let mut plain = stream;
            Self::read_plain(what, &mut plain, input_len.map(|n| (n, 1, "NIfTI")), limits)
        }
    }

    /// `bound`: the input's length, how many times its encoding expands at most (1 for a
    /// plain file, 1032 for deflate per RFC 1951) and the encoding's name.
    fn read_plain(
        what: &str,
        r: &mut impl Read,
        bound: Option<(u64, u64, &str)>,
        limits: &Limits,
    ) -> Result<Self> {
        let (header, len, ty) = read_header(what, r)?;
        let shape = header.shape();
        let mut dims = [1usize; 4];
        dims[..shape.len()].copy_from_slice(&shape);
        // The f32 values are what stays in memory; the raw bytes stream through a small buffer.
        let bytes = limits.check_bytes(what, &dims, std::mem::size_of::<f32>())?;
        let count = bytes / std::mem::size_of::<f32>();
        if let Some((input_len, ratio, encoding)) = bound {
            let declared = (count as u64)
                .saturating_mul(ty.size() as u64)
                .saturating_add((header.vox_offset.max(0) as u64).max(len as u64));
            if ratio == 1 && declared > input_len {
                return Err(Error::InvalidNifti {
                    what: what.to_string(),
                    reason: format!(
                        "voxel data truncated: the header needs {declared} bytes, the file has \
                         {input_len}"
                    ),
                });
            }
            limits.check_expansion(what, declared, input_len, ratio, encoding)?;
        }
        // Skip extensions up to the voxel data, without letting a lying offset read forever.
        let skip = (header.vox_offset as u64).saturating_sub(len as u64);
        if skip > limits.max_bytes as u64 {
            return Err(Error::TooLarge {
                what: what.to_string(),
                reason: format!("vox_offset {} exceeds the byte budget", header.vox_offset),
            });
        }
        let skipped = std::io::copy(&mut r.take(skip), &mut std::io::sink())
            .map_err(|e| io_error(what, e))?;
        if skipped != skip {
            return Err(Error::InvalidNifti {
                what: what.to_string(),
                reason: format!("file ends before vox_offset {}", header.vox_offset),
            });
        }
        let data = {
            let _span = tracing::info_span!("nifti_voxels", voxels = count).entered();
            voxels::read_voxels(what, r, ty, header.big_endian, count, header.scaling())?
        };
        let affine = affine::best_affine(&header);
        Ok(NiftiVolume {
            what: what.to_string(),
            header,
            shape,
            dims,
            affine,
            data,
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &NiftiHeader {
        &self.header
    }

    /// The array shape, as nibabel's `img.shape` (3 or 4 entries for volumes).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Voxel sizes (mm) and, for 4-D series, the repetition time, as nibabel's `get_zooms()`.
    pub fn zooms(&self) -> Vec<f64> {
        self.header.zooms()
    }

    /// The voxel-to-world affine nibabel returns (`img.affine`).
    pub fn affine(&self) -> &Affine {
        &self.affine
    }

    /// nibabel's `aff2axcodes`: where each array axis points, e.g. `['L', 'A', 'S']`.
    pub fn axis_codes(&self) -> [char; 3] {
        axis_codes(&self.affine)
    }

    /// How many 3-D volumes the file holds (the fourth dimension, 1 for 3-D files).
    pub fn volumes(&self) -> usize {
        self.dims[3]
    }

    /// Every value, scaled as nibabel's `get_fdata()`, first index fastest: voxel
    /// `[i, j, k, t]` is at `i + ni * (j + nj * (k + nk * t))`.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// One value, `None` outside the array (missing trailing indices are 0).
    pub fn get(&self, index: &[usize]) -> Option<f32> {
        if index.len() > 4 {
            return None;
        }
        let mut flat = 0;
        let mut stride = 1;
        for (axis, &n) in self.dims.iter().enumerate() {
            let i = index.get(axis).copied().unwrap_or(0);
            if i >= n {
                return None;
            }
            flat += i * stride;
            stride *= n;
        }
        self.data.get(flat).copied()
    }

    /// The array axis (0, 1 or 2) that `axis` names: itself for an index, else the axis whose
    /// affine column runs closest to the plane's normal.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an axis index above 2.
    pub fn resolve_axis(&self, axis: SliceAxis) -> Result<usize> {
        resolve_axis(&self.affine, axis)
    }

    /// Number of slices along `axis`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an axis index above 2.
    pub fn slice_count(&self, axis: SliceAxis) -> Result<usize> {
        Ok(self.dims[self.resolve_axis(axis)?])
    }

    /// Slice `index` along `axis` of volume `volume`: rows run along the first remaining
    /// array axis and columns along the second (numpy's `data[:, :, k]` for axis 2), no flip.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an axis, slice or volume the file does not have.
    pub fn slice(&self, axis: SliceAxis, index: usize, volume: usize) -> Result<Slice> {
        let a = self.resolve_axis(axis)?;
        if volume >= self.dims[3] {
            return Err(Error::InvalidRequest(format!(
                "{}: volume {volume}: the file holds {}",
                self.what, self.dims[3]
            )));
        }
        if index >= self.dims[a] {
            return Err(Error::InvalidRequest(format!(
                "{}: slice {index} along axis {a}: it has {}",
                self.what, self.dims[a]
            )));
        }
        let [n0, n1, n2, _] = self.dims;
        let strides = [1, n0, n0 * n1];
        let (row_axis, col_axis) = match a {
            0 => (1, 2),
            1 => (0, 2),
            _ => (0, 1),
        };
        let base = volume * n0 * n1 * n2 + index * strides[a];
        let (height, width) = (self.dims[row_axis], self.dims[col_axis]);
        let (rs, cs) = (strides[row_axis], strides[col_axis]);
        // Tiled copy: one of the two strides is large (a column of `data[:, :, k]` is `ni`
        // values apart), so walking small tiles keeps both sides in cache.
        const TILE: usize = 32;
        let mut values = vec![0f32; height * width];
        for r0 in (0..height).step_by(TILE) {
            for c0 in (0..width).step_by(TILE) {
                for r in r0..(r0 + TILE).min(height) {
                    let row = base + r * rs;
                    for c in c0..(c0 + TILE).min(width) {
                        values[r * width + c] = self.data[row + c * cs];
                    }
                }
            }
        }
        Ok(Slice {
            width,
            height,
            values,
        })
    }

    /// The reference's volume frames: slices chosen by `linspace(0, n - 1, count)` truncated,
    /// each clipped to the window (if any), min-max normalised to u8 and replicated to RGB.
    ///
    /// # Errors
    ///
    /// As [`NiftiVolume::slices_with_limits`].
    pub fn slices(&self, options: &SliceOptions) -> Result<Visual> {
        self.slices_with_limits(options, &Limits::default())
    }

    /// [`NiftiVolume::slices`] with an explicit budget for the frames it returns.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an axis or volume the file does not have or 0 slices;
    /// [`Error::TooLarge`] when the frames exceed `limits`; [`Error::InvalidRequest`] for an
    /// invalid window.
    pub fn slices_with_limits(&self, options: &SliceOptions, limits: &Limits) -> Result<Visual> {
        let _span = tracing::info_span!("nifti_slices").entered();
        let a = self.resolve_axis(options.axis)?;
        let (h, w) = match a {
            0 => (self.dims[1], self.dims[2]),
            1 => (self.dims[0], self.dims[2]),
            _ => (self.dims[0], self.dims[1]),
        };
        let indices = chosen_slices(&self.what, self.dims[a], (w, h), options, limits)?;
        let frames = indices
            .iter()
            .map(|&k| {
                slice_frame(
                    &self.slice(SliceAxis::Index(a), k, options.volume)?,
                    options.window,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Visual::new(VisualKind::Volume, frames))
    }
}

/// Reads and validates the header at the start of `r`; returns it with its length in bytes
/// and the voxel type.
fn read_header(what: &str, r: &mut impl Read) -> Result<(NiftiHeader, usize, VoxelType)> {
    let mut head = [0u8; header::NIFTI2_HEADER_LEN];
    read_exact(what, r, &mut head[..4], "header")?;
    let len = header::header_len(what, &head[..4])?;
    read_exact(what, r, &mut head[4..len], "header")?;
    let header = NiftiHeader::parse(what, &head[..len])?;
    let ty = VoxelType::from_code(what, header.datatype)?;
    if header.bitpix as usize != ty.size() * 8 {
        return Err(Error::InvalidNifti {
            what: what.to_string(),
            reason: format!(
                "bitpix {} does not match datatype {} ({} bits)",
                header.bitpix,
                header.datatype,
                ty.size() * 8
            ),
        });
    }
    Ok((header, len, ty))
}

/// The array axis (0, 1 or 2) that `axis` names: itself for an index, else the axis whose
/// affine column runs closest to the plane's normal.
pub(crate) fn resolve_axis(affine: &Affine, axis: SliceAxis) -> Result<usize> {
    let world = match axis {
        SliceAxis::Index(i) if i < 3 => return Ok(i),
        SliceAxis::Index(i) => {
            return Err(Error::InvalidRequest(format!(
                "slice axis {i}: a volume has axes 0, 1 and 2"
            )))
        }
        SliceAxis::Sagittal => 0,
        SliceAxis::Coronal => 1,
        SliceAxis::Axial => 2,
    };
    Ok(axis_directions(affine)
        .iter()
        .position(|&(w, _)| w == world)
        .expect("every world axis is assigned"))
}

/// Which slices `options` keeps along an axis of `n`, with the budget checked for frames of
/// `w` x `h`.
pub(crate) fn chosen_slices(
    what: &str,
    n: usize,
    (w, h): (usize, usize),
    options: &SliceOptions,
    limits: &Limits,
) -> Result<Vec<usize>> {
    let indices = linspace_indices(n, options.count.unwrap_or(n));
    if indices.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "{what}: 0 slices requested (the axis has {n})"
        )));
    }
    limits.check_frames(what, indices.len())?;
    limits.check_frame(what, w, h)?;
    // The f32 values of the chosen slices and their RGB frames are held at once.
    limits.check_bytes(what, &[indices.len(), h, w], 4 + 3)?;
    Ok(indices)
}

/// A slice as the model's frame: windowed, min-max normalised, grey replicated to RGB.
fn slice_frame(slice: &Slice, window: Option<Window>) -> Result<RgbFrame> {
    let grey = slice.to_u8(window)?;
    Ok(RgbFrame::from_grey(slice.width, slice.height, &grey)
        .expect("slice size matches its values"))
}

fn io_error(what: &str, e: std::io::Error) -> Error {
    Error::Io {
        path: what.into(),
        source: e,
    }
}

/// Fills as much of `buf` as the stream has; returns how many bytes were read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn read_exact(what: &str, r: &mut impl Read, buf: &mut [u8], part: &str) -> Result<()> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::InvalidNifti {
                what: what.to_string(),
                reason: format!("truncated {part}"),
            }
        } else {
            io_error(what, e)
        }
    })
}
