//! Visual inputs named by file: images, NIfTI volumes, DICOM files and series, videos, read
//! into frames by `hulu-io` with per-call slicing, windowing and sampling choices.

use crate::error::{Error, Result};
use hulu_io::dicom::{DicomRender, DicomWindow};
use hulu_io::nifti::{NiftiFile, SliceAxis, SliceOptions, Window};
use hulu_io::video::VideoOptions;
use hulu_io::{Limits, Visual};
use std::path::{Path, PathBuf};

/// Where a visual input comes from.
#[derive(Debug, Clone)]
pub enum VisualSource {
    /// A picture: PNG (8/16-bit), JPEG, TIFF, BMP.
    Image(PathBuf),
    /// A NIfTI-1/2 volume (`.nii` or gzip-compressed), sliced along an axis.
    Nifti(PathBuf),
    /// A DICOM file (image, cine or multi-frame volume) or a folder holding one series.
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
        }
    }
}

impl VisualSource {
    /// Guesses the kind of a path: a folder is a DICOM series; `.nii`/`.nii.gz` NIfTI;
    /// `.dcm` or a file with the DICOM preamble DICOM; `.mp4`/`.m4v`/`.mov` video; anything
    /// else an image.
    pub fn from_path(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if path.is_dir() {
            VisualSource::Dicom(path)
        } else if name.ends_with(".nii") || name.ends_with(".nii.gz") {
            VisualSource::Nifti(path)
        } else if name.ends_with(".dcm") || has_dicom_preamble(&path) {
            VisualSource::Dicom(path)
        } else if [".mp4", ".m4v", ".mov"].iter().any(|e| name.ends_with(e)) {
            VisualSource::Video(path)
        } else {
            VisualSource::Image(path)
        }
    }

    /// Reads the frames.
    ///
    /// # Errors
    ///
    /// [`Error::Media`] with `hulu-io`'s error naming the file: unreadable, corrupt or
    /// unsupported, a request it cannot satisfy (an axis or volume it lacks), or over `limits`.
    pub fn load(&self, options: &LoadOptions) -> Result<Visual> {
        let _span = tracing::info_span!("load_visual").entered();
        self.read(options).map_err(Error::Media)
    }

    fn read(&self, options: &LoadOptions) -> hulu_io::Result<Visual> {
        let limits = &options.limits;
        Ok(match self {
            VisualSource::Image(path) => hulu_io::image::load_image_with_limits(path, limits)?,
            VisualSource::Nifti(path) => {
                // Only the header now; the chosen slices' voxels are read below.
                let volume = NiftiFile::open(path)?;
                let available = volume.slice_count(options.axis)?;
                let count = options
                    .slices
                    .unwrap_or(available)
                    .min(options.max_frames)
                    .min(available);
                volume.read_slices(
                    &SliceOptions {
                        axis: options.axis,
                        count: Some(count),
                        volume: options.volume,
                        window: options.window,
                    },
                    limits,
                )?
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
                hulu_io::dicom::load_dicom(path, &render, limits)?
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

fn has_dicom_preamble(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 132];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| &head[128..] == b"DICM")
        .unwrap_or(false)
}
