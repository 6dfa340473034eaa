//! Visual inputs named by file: images, NIfTI, NRRD and MetaImage volumes, DICOM files,
//! series and exports, videos, read into frames by `hulu-io` with per-call slicing,
//! windowing, sampling and series choices.
//!
//! The kind of a file is told by its content ([`VisualSource::detect`]), never by its name:
//! hospital exports name files `IM0001` or by UID, and a `.dcm` may be anything.

use crate::error::{Error, Result};
use hulu_io::dicom::{DicomRender, DicomScan, DicomWindow, MixedOrientation, SeriesChoice};
use hulu_io::nifti::{NiftiFile, SliceAxis, SliceOptions, Window};
use hulu_io::video::VideoOptions;
use hulu_io::volume::RawVolume;
use hulu_io::{Limits, Visual};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What [`VisualSource::detect`] recognises, for the error on anything else.
pub const SUPPORTED: &str = "DICOM (Part 10 or headerless data set, a folder, a .zip or a \
    DICOMDIR export), NIfTI-1/2 (.nii, .nii.gz), NRRD (.nrrd, .nhdr), MetaImage (.mha, .mhd), \
    MP4/MOV video, PNG, JPEG, TIFF, BMP";

/// Bytes read to tell a file's kind: NIfTI-1's magic ends at byte 348.
const HEAD_BYTES: u64 = 352;

/// Where a visual input comes from.
#[derive(Debug, Clone)]
pub enum VisualSource {
    /// A picture: PNG (8/16-bit), JPEG, TIFF, BMP.
    Image(PathBuf),
    /// A NIfTI-1/2 volume (`.nii` or gzip-compressed), sliced along an axis.
    Nifti(PathBuf),
    /// An NRRD (`.nrrd`, `.nhdr`) or MetaImage (`.mha`, `.mhd`) volume, sliced like NIfTI
    /// with the same [`LoadOptions`] (axis, slices, window).
    Volume(PathBuf),
    /// A DICOM file (image, cine or multi-frame volume), or an export holding series: a
    /// folder (nested or not), a `.zip`, or a `DICOMDIR` (its folder is scanned).
    Dicom(PathBuf),
    /// An MP4/H.264 video.
    Video(PathBuf),
    /// Frames already in memory.
    Frames(Visual),
}

/// Per-call choices for reading visual files.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// Slices of a volume to keep (`linspace` over the axis, as the reference); `None`: all,
    /// capped at `max_frames`.
    pub slices: Option<usize>,
    /// Volume axis: an array index or an anatomical name resolved from the affine.
    pub axis: SliceAxis,
    /// Which volume of a 4-D NIfTI.
    pub volume: usize,
    /// Grey window (centre/width in modality units, e.g. HU). NIfTI: clip before the
    /// reference's per-slice min-max. DICOM: a fixed display window instead of the file's.
    pub window: Option<Window>,
    /// Video and cine frames per second to sample (reference default 1).
    pub fps: Option<f64>,
    /// Most frames or slices to keep.
    pub max_frames: usize,
    /// Allocation limits for every loader.
    pub limits: Limits,
    /// Which series of a DICOM export holding several (default: the largest).
    pub series: SeriesChoice,
    /// What to do with a DICOM series whose slices' orientations differ (default: refuse).
    pub mixed_orientation: MixedOrientation,
}

impl LoadOptions {
    /// The slicing of a volume with `available` slices along the chosen axis: the requested
    /// count (all when unset), capped by `max_frames` and by what the axis holds. Shared by
    /// NIfTI and NRRD/MetaImage, which slice through the same code.
    fn slice_options(&self, available: usize) -> SliceOptions {
        let count = self
            .slices
            .unwrap_or(available)
            .min(self.max_frames)
            .min(available);
        SliceOptions {
            axis: self.axis,
            count: Some(count),
            volume: self.volume,
            window: self.window,
        }
    }
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            slices: None,
            axis: SliceAxis::Index(2),
            volume: 0,
            window: None,
            fps: Some(1.0),
            max_frames: 180,
            limits: Limits::default(),
            series: SeriesChoice::Largest,
            mixed_orientation: MixedOrientation::Reject,
        }
    }
}

impl VisualSource {
    /// The kind of a path by content ([`VisualSource::detect`]); a path that cannot be told
    /// (missing, unreadable, unsupported) is taken as an image, so that
    /// [`VisualSource::load`] reports the loader's error. Prefer `detect` for its error.
    pub fn from_path(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        Self::detect(path).unwrap_or_else(|_| VisualSource::Image(path.to_path_buf()))
    }

    /// The kind of a path, by its content: a folder, a zip archive or a `DICOMDIR` is a DICOM
    /// export; a file with `DICM` (at byte 128 or 0) or a bare data set is DICOM
    /// ([`hulu_io::dicom::is_dicom`]); the NIfTI-1/2 magic (`n+1`/`ni1` at byte 344, `n+2`
    /// at byte 4) or a gzip stream (NIfTI is the only gzip-wrapped input read) is NIfTI;
    /// `NRRD000` is NRRD; `Key = Value` lines with a MetaImage key are MetaImage; an ISO
    /// base media `ftyp` box is video; the PNG, JPEG, TIFF and BMP signatures are images.
    ///
    /// Only regular files are opened ([`hulu_io::file::open_regular`]): a FIFO or a device
    /// cannot block or feed the check forever.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the path cannot be read, [`Error::Media`] with
    /// [`hulu_io::Error::NotRegularFile`] for a FIFO, socket or device, and [`hulu_io::Error::UnsupportedMedia`] listing what
    /// is supported ([`SUPPORTED`]) when the content matches none of them.
    pub fn detect(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let _span = tracing::info_span!("detect_visual", path = %path.display()).entered();
        let owned = path.to_path_buf();
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir()
            || path.file_name().is_some_and(|n| n == "DICOMDIR")
            || (meta.is_file() && hulu_io::dicom::is_zip(path))
        {
            return Ok(VisualSource::Dicom(owned));
        }
        let mut head = Vec::new();
        hulu_io::file::open_regular(path)
            .map_err(Error::Media)?
            .take(HEAD_BYTES)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(path, e))?;
        let kind = if is_nifti(&head) || head.starts_with(&[0x1f, 0x8b]) {
            VisualSource::Nifti(owned)
        } else if head.starts_with(b"NRRD000") || is_metaimage(&head) {
            VisualSource::Volume(owned)
        } else if hulu_io::dicom::is_dicom(path) {
            VisualSource::Dicom(owned)
        } else if head.get(4..8) == Some(b"ftyp") {
            VisualSource::Video(owned)
        } else if is_picture(&head) {
            VisualSource::Image(owned)
        } else {
            return Err(Error::Media(hulu_io::Error::UnsupportedMedia {
                what: path.display().to_string(),
                reason: format!("not a file kind hulu reads (by content); supported: {SUPPORTED}"),
            }));
        };
        Ok(kind)
    }

    /// Reads the frames.
    ///
    /// # Errors
    ///
    /// [`Error::Media`] with `hulu-io`'s error naming the file: unreadable, corrupt or
    /// unsupported, a request it cannot satisfy (an axis or volume it lacks), or over `limits`.
    pub fn load(&self, options: &LoadOptions) -> Result<Visual> {
        let _span = tracing::info_span!("load_visual").entered();
        let visual = self.read(options).map_err(Error::Media)?;
        Ok(match self.path() {
            Some(path) if visual.origin.is_none() => visual.with_origin(path),
            _ => visual,
        })
    }

    /// The file or folder this source reads; `None` for frames already in memory.
    pub fn path(&self) -> Option<&Path> {
        match self {
            VisualSource::Image(p)
            | VisualSource::Nifti(p)
            | VisualSource::Volume(p)
            | VisualSource::Dicom(p)
            | VisualSource::Video(p) => Some(p),
            VisualSource::Frames(_) => None,
        }
    }

    fn read(&self, options: &LoadOptions) -> hulu_io::Result<Visual> {
        let limits = &options.limits;
        Ok(match self {
            VisualSource::Image(path) => hulu_io::image::load_image_with_limits(path, limits)?,
            VisualSource::Nifti(path) => {
                // Only the header now; the chosen slices' voxels are read below.
                let volume = NiftiFile::open(path)?;
                let available = volume.slice_count(options.axis)?;
                volume.read_slices(&options.slice_options(available), limits)?
            }
            VisualSource::Volume(path) => {
                let volume = RawVolume::open(path)?;
                let available = volume.slice_count(options.axis)?;
                volume.read_slices(&options.slice_options(available), limits)?
            }
            VisualSource::Dicom(path) => {
                let render = DicomRender {
                    window: options.window.map_or(DicomWindow::Auto, DicomWindow::Fixed),
                    max_frames: Some(
                        options
                            .slices
                            .unwrap_or(options.max_frames)
                            .min(options.max_frames),
                    ),
                    fps: options.fps,
                };
                match export_root(path) {
                    Some(root) => DicomScan::open(root, options.mixed_orientation, limits)?
                        .choose(&options.series)?
                        .to_visual(&render)?,
                    None => hulu_io::dicom::load_dicom(path, &render, limits)?,
                }
            }
            VisualSource::Video(path) => hulu_io::video::load_video_with_limits(
                path,
                &VideoOptions {
                    fps: options.fps,
                    max_frames: options.max_frames,
                },
                limits,
            )?,
            VisualSource::Frames(visual) => visual.clone(),
        })
    }
}

/// The folder or archive a DICOM export is scanned from: the path itself for a folder or a
/// zip, the folder of a `DICOMDIR`; `None` for a single DICOM file.
pub fn export_root(path: &Path) -> Option<&Path> {
    if path.is_dir() || (path.is_file() && hulu_io::dicom::is_zip(path)) {
        Some(path)
    } else if path.file_name().is_some_and(|n| n == "DICOMDIR") {
        path.parent()
    } else {
        None
    }
}

/// NIfTI-1 (`n+1`/`ni1` at byte 344) or NIfTI-2 (`n+2`/`ni2` at byte 4), per the NIfTI
/// headers' `magic` field.
fn is_nifti(head: &[u8]) -> bool {
    let magic = |at: usize| {
        head.get(at..at + 4)
            .is_some_and(|m| m == b"n+1\0" || m == b"ni1\0" || m == b"n+2\0" || m == b"ni2\0")
    };
    magic(344) || magic(4)
}

/// A MetaImage header (`.mha`/`.mhd`): its first line is `Key = Value` with a key of the
/// MetaIO specification (ITK's MetaIO writes `ObjectType` first; others start with `NDims`).
fn is_metaimage(head: &[u8]) -> bool {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    let key = line.split('=').next().unwrap_or_default().trim();
    line.contains('=')
        && [
            "ObjectType",
            "NDims",
            "DimSize",
            "ElementType",
            "ElementSpacing",
            "BinaryData",
            "ElementDataFile",
            "Comment",
        ]
        .contains(&key)
}

/// The signatures of the picture formats `hulu_io::image` decodes: PNG, JPEG, TIFF (both
/// byte orders), BMP.
fn is_picture(head: &[u8]) -> bool {
    head.starts_with(b"\x89PNG\r\n\x1a\n")
        || head.starts_with(&[0xff, 0xd8, 0xff])
        || head.starts_with(b"II*\0")
        || head.starts_with(b"MM\0*")
        || head.starts_with(b"BM")
}
