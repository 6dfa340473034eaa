//! [`NiftiFile`]: frames straight from a NIfTI file, reading only the voxels of the chosen slices.
//!
//! Slices along array axis 2 (`data[:, :, k]`) are contiguous planes in the file, so an
//! uncompressed volume needs only `count` seeks and reads: 8 slices of a 180-slice CT read
//! 4 MB instead of 94. Along axes 0 and 1, and from gzip files (which cannot seek), the
//! voxels stream through one plane at a time: the whole volume is never held, so a header
//! that lies about its size costs nothing before the lie is found. The streaming
//! ([`stream_slices`]) knows only the voxel layout, so NIfTI, NRRD and MetaImage share it.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::voxels::{read_voxels, VoxelType};
use super::{
    affine, chosen_slices, io_error, read_header, resolve_axis, slice_frame, Affine, NiftiHeader,
    Slice, SliceAxis, SliceOptions, GZIP_MAGIC,
};
use crate::{Error, Limits, Result, Visual, VisualKind};

/// A NIfTI file whose header has been read, with voxels read on demand.
#[derive(Debug, Clone)]
pub struct NiftiFile {
    path: PathBuf,
    header: NiftiHeader,
    /// Where the voxels start (`vox_offset`, or the header's end when it points inside it).
    data_start: u64,
    header_len: u64,
    ty: VoxelType,
    /// `[ni, nj, nk, nt]`, padded with 1s.
    dims: [usize; 4],
    affine: Affine,
    gzip: bool,
}

impl NiftiFile {
    /// Reads and validates the header of a `.nii` or `.nii.gz` file (gzip by magic bytes).
    ///
    /// # Errors
    ///
    /// [`Error::NotRegularFile`] and [`Error::Io`] for the file; [`Error::InvalidNifti`] for a
    /// malformed header; [`Error::UnsupportedMedia`] for a voxel type this reader does not
    /// convert.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let what = path.display().to_string();
        let mut file = crate::file::open_regular(path)?;
        let mut magic = [0u8; 2];
        let gzip = file.read_exact(&mut magic).is_ok() && magic == GZIP_MAGIC;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| io_error(&what, e))?;
        let (header, header_len, ty) = if gzip {
            read_header(&what, &mut MultiGzDecoder::new(BufReader::new(file)))?
        } else {
            read_header(&what, &mut file)?
        };
        let shape = header.shape();
        let mut dims = [1usize; 4];
        dims[..shape.len()].copy_from_slice(&shape);
        Ok(NiftiFile {
            path: path.to_path_buf(),
            data_start: (header.vox_offset.max(0) as u64).max(header_len as u64),
            header_len: header_len as u64,
            affine: affine::best_affine(&header),
            header,
            ty,
            dims,
            gzip,
        })
    }

    /// The parsed header.
    pub fn header(&self) -> &NiftiHeader {
        &self.header
    }

    /// Number of slices along `axis` (anatomical names resolved from the affine).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an axis index above 2.
    pub fn slice_count(&self, axis: SliceAxis) -> Result<usize> {
        Ok(self.dims[resolve_axis(&self.affine, axis)?])
    }

    /// The frames [`super::NiftiVolume::slices_with_limits`] would make from this file, equal to
    /// them value for value, streaming the voxels instead of holding the volume: only the
    /// chosen slices and one plane are ever in memory (see [`stream_slices`]).
    ///
    /// A `.nii` must hold every voxel its header declares (checked against the file size
    /// first, as a full read would); a `.nii.gz` may not declare more than deflate can expand
    /// its size to ([`Limits::check_expansion`], 1032:1 per RFC 1951) and is inflated to the
    /// end of its voxels, so a truncated stream is refused as a full read would refuse it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an axis, volume or count the file does not have;
    /// [`Error::TooLarge`] when the frames exceed `limits` or the header is out of proportion
    /// to the file; [`Error::InvalidNifti`] for truncated voxel data; [`Error::Io`].
    pub fn read_slices(&self, options: &SliceOptions, limits: &Limits) -> Result<Visual> {
        let what = self.path.display().to_string();
        let _span = tracing::info_span!("nifti_read_slices", path = %what).entered();
        let a = resolve_axis(&self.affine, options.axis)?;
        let (h, w) = slice_shape(&self.dims, a);
        let indices = chosen_slices(&what, self.dims[a], (w, h), options, limits)?;
        if self.data_start - self.header_len > limits.max_bytes as u64 {
            return Err(Error::TooLarge {
                what,
                reason: format!(
                    "vox_offset {} exceeds the byte budget",
                    self.header.vox_offset
                ),
            });
        }
        let source = VoxelSource {
            what: &what,
            path: &self.path,
            file_offset: 0,
            data_start: self.data_start,
            encoding: if self.gzip {
                Encoding::Gzip
            } else {
                Encoding::Raw
            },
            layout: VoxelLayout {
                dims: self.dims,
                ty: self.ty,
                big_endian: self.header.big_endian,
                scaling: self.header.scaling(),
            },
        };
        source.read_slices(a, &indices, options, limits)
    }
}

/// How the voxel bytes are stored in their file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// As they are.
    Raw,
    /// A gzip stream (NIfTI `.nii.gz`, NRRD `encoding: gzip`).
    Gzip,
    /// A zlib stream (MetaImage `CompressedData = True`).
    Zlib,
}

/// Where a volume's voxels are and how they are laid out: what NIfTI, NRRD and MetaImage
/// headers all come down to, and all the slicing code needs.
pub(crate) struct VoxelSource<'a> {
    /// Names the input in errors.
    pub what: &'a str,
    /// The file holding the voxels.
    pub path: &'a Path,
    /// Where the (raw or compressed) voxel stream starts in the file.
    pub file_offset: u64,
    /// Where the first voxel is in the decoded stream.
    pub data_start: u64,
    /// How the stream is stored.
    pub encoding: Encoding,
    /// The voxels' layout.
    pub layout: VoxelLayout,
}

impl VoxelSource<'_> {
    /// The frames of slices `indices` along array axis `a` (already chosen and checked
    /// against `limits` by the caller), streamed: a raw stream must hold every voxel (checked
    /// against the file size first), a compressed one may not declare more than deflate can
    /// expand it to (1032:1, RFC 1951) and is inflated to the end of its voxels.
    pub(crate) fn read_slices(
        &self,
        a: usize,
        indices: &[usize],
        options: &SliceOptions,
        limits: &Limits,
    ) -> Result<Visual> {
        let slices = self.stream_chosen(a, indices, options.volume, limits)?;
        let frames = slices
            .iter()
            .map(|s| slice_frame(s, options.window))
            .collect::<Result<Vec<_>>>()?;
        Ok(Visual::new(VisualKind::Volume, frames))
    }

    /// The raw (scaled) values of slices `indices` along array axis `a` of volume `volume`.
    pub(crate) fn stream_chosen(
        &self,
        a: usize,
        indices: &[usize],
        volume: usize,
        limits: &Limits,
    ) -> Result<Vec<Slice>> {
        let what = self.what;
        let nt = self.layout.dims[3];
        if volume >= nt {
            return Err(Error::InvalidRequest(format!(
                "{what}: volume {volume}: the file holds {nt}"
            )));
        }
        let mut file = crate::file::open_regular(self.path)?;
        let file_len = file.metadata().map_err(|e| Error::io(self.path, e))?.len();
        let stored = file_len.saturating_sub(self.file_offset);
        let voxel_bytes = self
            .layout
            .dims
            .iter()
            .try_fold(self.layout.ty.size() as u64, |acc, &d| {
                acc.checked_mul(d as u64)
            })
            .ok_or_else(|| Error::TooLarge {
                what: what.to_string(),
                reason: format!("dimensions {:?} overflow", self.layout.dims),
            })?;
        let data_end = voxel_bytes.saturating_add(self.data_start);
        file.seek(SeekFrom::Start(self.file_offset))
            .map_err(|e| io_error(what, e))?;
        let layout = &self.layout;
        let slices = match self.encoding {
            Encoding::Raw => {
                // The whole volume must be present, as a full read would require: a truncated
                // file is refused even when the chosen planes happen to survive.
                if data_end > stored {
                    return Err(Error::InvalidNifti {
                        what: what.to_string(),
                        reason: format!(
                            "voxel data truncated: the header needs {data_end} bytes of data, \
                             the file has {stored}"
                        ),
                    });
                }
                let mut stream = BufReader::new(file);
                skip_exactly(what, &mut stream, self.data_start)?;
                stream_slices(what, &mut stream, layout, a, indices, volume)?.0
            }
            Encoding::Gzip | Encoding::Zlib => {
                let name = if self.encoding == Encoding::Gzip {
                    "gzip (deflate)"
                } else {
                    "zlib (deflate)"
                };
                limits.check_expansion(what, data_end, stored, 1032, name)?;
                let buffered = BufReader::new(file);
                let mut stream: Inflating<Box<dyn Read>> = if self.encoding == Encoding::Gzip {
                    Inflating(Box::new(MultiGzDecoder::new(buffered)))
                } else {
                    Inflating(Box::new(flate2::read::ZlibDecoder::new(buffered)))
                };
                skip_exactly(what, &mut stream, self.data_start)?;
                let (slices, at) = stream_slices(what, &mut stream, layout, a, indices, volume)?;
                // The rest of the declared voxels must be there too, as a full read requires.
                skip_inside(what, &mut stream, voxel_bytes - at)?;
                slices
            }
        };
        Ok(slices)
    }
}

/// Rows and columns of a slice along array axis `a` of a volume of `dims`: rows run along the
/// first remaining axis, columns along the second (numpy's `data[:, :, k]` for axis 2).
pub(crate) fn slice_shape(dims: &[usize; 4], a: usize) -> (usize, usize) {
    match a {
        0 => (dims[1], dims[2]),
        1 => (dims[0], dims[2]),
        _ => (dims[0], dims[1]),
    }
}

/// How voxels are laid out in a stream: `[n0, n1, n2, nt]` with the first index fastest (as
/// NIfTI, NRRD and MetaImage store them), their type, byte order and scaling.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VoxelLayout {
    /// `[n0, n1, n2, nt]`, padded with 1s.
    pub dims: [usize; 4],
    /// Stored type.
    pub ty: VoxelType,
    /// Byte order.
    pub big_endian: bool,
    /// `v * slope + inter`, when the format scales.
    pub scaling: Option<(f64, f64)>,
}

impl VoxelLayout {
    /// Byte offset, from the first voxel, of volume `t`.
    fn volume_start(&self, t: usize) -> u64 {
        let [n0, n1, n2, _] = self.dims;
        (t as u64) * (n0 * n1 * n2) as u64 * self.ty.size() as u64
    }
}

/// A voxel stream that can move forward without keeping what it passes over: a seek for a
/// plain file, inflating into nothing for gzip.
pub(crate) trait VoxelStream: Read {
    /// Moves `n` bytes forward.
    fn skip(&mut self, n: u64) -> std::io::Result<()>;
}

impl VoxelStream for BufReader<File> {
    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        let n = i64::try_from(n).map_err(std::io::Error::other)?;
        self.seek_relative(n)
    }
}

/// A stream that can only be read forward (gzip): skipping reads and drops.
pub(crate) struct Inflating<R>(pub R);

impl<R: Read> Read for Inflating<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> VoxelStream for Inflating<R> {
    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        let got = std::io::copy(&mut (&mut self.0).take(n), &mut std::io::sink())?;
        if got < n {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

/// Skips `n` bytes, naming a stream that ends first as truncated.
fn skip_exactly(what: &str, r: &mut impl VoxelStream, n: u64) -> Result<()> {
    r.skip(n)
        .map_err(|e| truncated_or_io(what, e, "before the voxel data"))
}

fn truncated_or_io(what: &str, e: std::io::Error, part: &str) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        Error::InvalidNifti {
            what: what.to_string(),
            reason: format!("file ends {part}"),
        }
    } else {
        io_error(what, e)
    }
}

/// The slices `indices` (ascending) along array axis `a` of volume `volume`, read from a
/// stream positioned at the first voxel: along axis 2 only the chosen planes are read (the
/// others skipped); along axes 0 and 1 every plane of the volume is read once, and each
/// chosen slice takes its column from it. Memory: the chosen slices plus one plane. Returns
/// the slices and how many bytes past the first voxel the stream now is.
pub(crate) fn stream_slices(
    what: &str,
    r: &mut impl VoxelStream,
    layout: &VoxelLayout,
    a: usize,
    indices: &[usize],
    volume: usize,
) -> Result<(Vec<Slice>, u64)> {
    let [n0, n1, n2, _] = layout.dims;
    let plane = n0 * n1;
    let plane_bytes = plane as u64 * layout.ty.size() as u64;
    let first = layout.volume_start(volume);
    let mut at = 0u64;
    if a == 2 {
        let mut out: Vec<Slice> = Vec::with_capacity(indices.len());
        for (n, &k) in indices.iter().enumerate() {
            if n > 0 && indices[n - 1] == k {
                out.push(out[n - 1].clone());
                continue;
            }
            let to = first + k as u64 * plane_bytes;
            skip_inside(what, r, to - at)?;
            out.push(plane_to_slice(&read_plane(what, r, layout)?, n0, n1));
            at = to + plane_bytes;
        }
        return Ok((out, at));
    }
    let (h, w) = if a == 0 { (n1, n2) } else { (n0, n2) };
    let mut out: Vec<Slice> = indices
        .iter()
        .map(|_| Slice {
            width: w,
            height: h,
            values: vec![0f32; h * w],
        })
        .collect();
    skip_inside(what, r, first)?;
    for k in 0..n2 {
        let values = read_plane(what, r, layout)?;
        for (slice, &idx) in out.iter_mut().zip(indices) {
            if a == 0 {
                // Slice i = idx: row j, column k is voxel (idx, j, k).
                for j in 0..n1 {
                    slice.values[j * n2 + k] = values[idx + j * n0];
                }
            } else {
                // Slice j = idx: row i, column k is voxel (i, idx, k).
                for i in 0..n0 {
                    slice.values[i * n2 + k] = values[i + idx * n0];
                }
            }
        }
    }
    Ok((out, first + n2 as u64 * plane_bytes))
}

/// One plane along axis 2 (`n0 * n1` voxels), scaled to f32.
fn read_plane(what: &str, r: &mut impl Read, layout: &VoxelLayout) -> Result<Vec<f32>> {
    let plane = layout.dims[0] * layout.dims[1];
    read_voxels(what, r, layout.ty, layout.big_endian, plane, layout.scaling)
}

/// Skips `n` bytes of voxel data, naming a stream that ends first as truncated.
pub(crate) fn skip_inside(what: &str, r: &mut impl VoxelStream, n: u64) -> Result<()> {
    r.skip(n)
        .map_err(|e| truncated_or_io(what, e, "inside the voxel data"))
}

/// A plane stored with axis 0 fastest (`v[i + j * n0]`) as a slice with rows along axis 0:
/// row `i`, column `j` at `i * n1 + j`, as [`NiftiVolume::slice`] lays out `data[:, :, k]`.
fn plane_to_slice(values: &[f32], n0: usize, n1: usize) -> Slice {
    // Tiled transpose, so both the reads and the writes stay in cache.
    const TILE: usize = 32;
    let mut out = vec![0f32; n0 * n1];
    for j0 in (0..n1).step_by(TILE) {
        for i0 in (0..n0).step_by(TILE) {
            for j in j0..(j0 + TILE).min(n1) {
                for i in i0..(i0 + TILE).min(n0) {
                    out[i * n1 + j] = values[i + j * n0];
                }
            }
        }
    }
    Slice {
        width: n1,
        height: n0,
        values: out,
    }
}
