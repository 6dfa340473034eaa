//! DICOM files and series, without libtorch.
//!
//! - [`DicomFile`]: one Part 10 file, parsed (every declared length checked against the file
//!   first, sizes against [`crate::Limits`]), pixel data decoded on request for every
//!   transfer syntax of the fixtures: implicit and explicit VR little endian, explicit big
//!   endian, deflate, RLE, JPEG baseline/extended/lossless, JPEG 2000, JPEG-LS.
//! - [`DicomImage`]: decoded frames as stored values ([`Samples`], in their own integer
//!   type), modality values (rescale slope/intercept: Hounsfield units for CT) and 8-bit
//!   RGB frames through a [`DicomWindow`] (file window, CT presets, explicit centre/width,
//!   min-max), with MONOCHROME1 inverted, YBR converted to RGB and palettes applied.
//! - [`DicomSeries`]: the files of one Series Instance UID sorted along the slice normal,
//!   refusing mixed orientations and sizes.
//! - [`DicomScan`]: hospital exports — nested study folders, `DICOMDIR`, `.zip` — by content,
//!   every series listed, every skipped file reported, one chosen by [`SeriesChoice`].
//! - [`load_dicom`]: a file, a series or study folder, a `DICOMDIR` or a zip straight to a
//!   [`crate::Visual`] (image, cine video with timestamps, or volume), with a window and a
//!   frame count.
//!
//! Files are recognised by content ([`is_dicom`]): Part 10 files, and data sets written
//! without the Part 10 header. The VR mode of a data set is read from its bytes, not only
//! from the declared transfer syntax. Enhanced multi-frame objects use each frame's own
//! functional groups ([`FrameAttributes`]).

mod codestream;
mod detect;
mod file;
mod frames;
mod guard;
mod image;
mod info;
mod jpeg12;
mod jpeg_colour;
mod pixels;
mod rle;
mod scan;
mod series;
mod visual;
mod window;

pub use detect::is_dicom;
pub use file::DicomFile;
pub use frames::FrameAttributes;
pub use image::{Colour, DicomImage, Palette};
pub use info::{DicomInfo, Photometric};
pub use pixels::Samples;
pub use scan::{is_zip, DicomScan, SeriesChoice, Skipped, MAX_ZIP_ENTRIES, MAX_ZIP_RATIO};
pub use series::{DicomSeries, MixedOrientation};
pub use visual::{load_dicom, load_dicom_with, sample_cine, DicomRender};
pub use window::DicomWindow;
