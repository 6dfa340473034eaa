//! Pictures (PNG 8/16-bit grey and colour, JPEG, TIFF, BMP) through the `image` crate, with
//! the format recognised from the bytes, not the file name.
//!
//! [`Picture`] keeps the decoded samples at their own depth (16-bit PNG and TIFF stay
//! 16-bit); [`Picture::to_rgb_frame`] makes the model's 8-bit RGB frame: grey is replicated,
//! alpha dropped (as Pillow's `convert("RGB")` does), and 16-bit samples scaled by 255/65535
//! (rounded). Pillow instead clips 16-bit grey to 0..255, which saturates almost every
//! medical 16-bit picture; we do not copy that.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::{Error, Limits, Result, RgbFrame, Visual, VisualKind};

mod tiff_guard;

/// A decoded picture at its stored depth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
    pub channels: usize,
    /// 8 or 16: the range of `samples` is `0..2^bit_depth`.
    pub bit_depth: u32,
    /// `height * width * channels` samples, row-major, channels interleaved.
    pub samples: Vec<u16>,
    /// The container format, e.g. "Png".
    pub format: String,
}

impl Picture {
    /// The model's frame: 8-bit RGB, grey replicated, alpha dropped, 16-bit scaled.
    pub fn to_rgb_frame(&self) -> RgbFrame {
        let to8 = |v: u16| -> u8 {
            if self.bit_depth <= 8 {
                v as u8
            } else {
                ((v as u32 * 255 + 32767) / 65535) as u8
            }
        };
        let mut data = Vec::with_capacity(self.width * self.height * 3);
        for px in self.samples.chunks_exact(self.channels) {
            match self.channels {
                1 | 2 => data.extend([to8(px[0]); 3]),
                _ => data.extend([to8(px[0]), to8(px[1]), to8(px[2])]),
            }
        }
        RgbFrame::new(self.width, self.height, data).expect("w * h * 3 bytes")
    }
}

fn invalid(what: &str, reason: impl Into<String>) -> Error {
    Error::InvalidImage {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// Reads a picture file into a one-frame [`Visual`] of kind `Image`.
///
/// # Errors
///
/// [`Error::NotRegularFile`], [`Error::Io`] and [`Error::TooLarge`] for the file; those of
/// [`picture_from_bytes`] for its content.
pub fn load_image(path: impl AsRef<Path>) -> Result<Visual> {
    load_image_with_limits(path, &Limits::default())
}

/// [`load_image`] with an explicit memory budget.
///
/// # Errors
///
/// [`Error::NotRegularFile`], [`Error::Io`] and [`Error::TooLarge`] for the file; those of
/// [`picture_from_bytes`] for its content.
pub fn load_image_with_limits(path: impl AsRef<Path>, limits: &Limits) -> Result<Visual> {
    let picture = read_picture(path, limits)?;
    Ok(Visual::new(VisualKind::Image, vec![picture.to_rgb_frame()]))
}

/// Reads a picture file at its stored depth.
///
/// # Errors
///
/// [`Error::NotRegularFile`], [`Error::Io`] and [`Error::TooLarge`] for the file; those of
/// [`picture_from_bytes`] for its content.
pub fn read_picture(path: impl AsRef<Path>, limits: &Limits) -> Result<Picture> {
    let path = path.as_ref();
    let _span = tracing::info_span!("load_image", path = %path.display()).entered();
    let bytes = limits.read_file(path)?;
    picture_from_bytes(&path.display().to_string(), &bytes, limits)
}

/// Decodes a picture held in memory; `what` names it in errors. The declared size is checked
/// against `limits` (by the decoder, before it allocates) and again after decoding.
///
/// # Errors
///
/// [`Error::InvalidImage`] for a malformed or truncated picture, [`Error::UnsupportedMedia`]
/// for another format, [`Error::TooLarge`] when the declared size exceeds `limits` or is out
/// of proportion to the file ([`Limits::check_expansion`]).
pub fn picture_from_bytes(what: &str, bytes: &[u8], limits: &Limits) -> Result<Picture> {
    let format = image::guess_format(bytes)
        .map_err(|_| invalid(what, "not a PNG, JPEG, TIFF or BMP file"))?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Tiff | ImageFormat::Bmp
    ) {
        return Err(Error::UnsupportedMedia {
            what: what.to_string(),
            reason: format!("{format:?} pictures are not read (PNG, JPEG, TIFF and BMP are)"),
        });
    }
    // The decoder's buffer, our u16 copy of it and the RGB frame are all held at once: the
    // decoder alone may use a third of the budget (its own check), all three together the
    // whole of it (checked below from the header, before decoding).
    let max_alloc = (limits.max_bytes / 3) as u64;
    if format == ImageFormat::Tiff {
        tiff_guard::check_tiff_directories(what, bytes, max_alloc)?;
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let max_dim = u32::try_from(limits.max_dim).unwrap_or(u32::MAX);
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(max_dim);
    image_limits.max_image_height = Some(max_dim);
    image_limits.max_alloc = Some(max_alloc);
    reader.limits(image_limits);
    let decoder = reader.into_decoder().map_err(|e| decode_error(what, e))?;
    // The header's claim, checked before the decoder allocates its buffer for it.
    let (w, h) = decoder.dimensions();
    limits.check_frame(what, w as usize, h as usize)?;
    let decoded = decoder.total_bytes();
    let pixels = u64::from(w) * u64::from(h);
    let samples = pixels * u64::from(decoder.color_type().channel_count()) * 2;
    let held = decoded.saturating_add(samples).saturating_add(pixels * 3);
    if decoded > max_alloc || held > limits.max_bytes as u64 {
        return Err(Error::TooLarge {
            what: what.to_string(),
            reason: format!(
                "{w}x{h} needs {held} bytes decoded, beyond the {} byte budget",
                limits.max_bytes
            ),
        });
    }
    let (ratio, encoding) = max_expansion(format);
    limits.check_expansion(what, decoded, bytes.len() as u64, ratio, encoding)?;
    let image = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(what, e))?;
    let (width, height) = (image.width() as usize, image.height() as usize);
    limits.check_frame(what, width, height)?;
    let (channels, bit_depth, samples): (usize, u32, Vec<u16>) = match image {
        DynamicImage::ImageLuma8(i) => (1, 8, widen(i.into_raw())),
        DynamicImage::ImageLumaA8(i) => (2, 8, widen(i.into_raw())),
        DynamicImage::ImageRgb8(i) => (3, 8, widen(i.into_raw())),
        DynamicImage::ImageRgba8(i) => (4, 8, widen(i.into_raw())),
        DynamicImage::ImageLuma16(i) => (1, 16, i.into_raw()),
        DynamicImage::ImageLumaA16(i) => (2, 16, i.into_raw()),
        DynamicImage::ImageRgb16(i) => (3, 16, i.into_raw()),
        DynamicImage::ImageRgba16(i) => (4, 16, i.into_raw()),
        other => (3, 16, other.into_rgb16().into_raw()),
    };
    Ok(Picture {
        width,
        height,
        channels,
        bit_depth,
        samples,
        format: format!("{format:?}"),
    })
}

/// How many times a format's encoding can expand at most, with the encoding named for the
/// error (the proportion rule of [`Limits::check_expansion`]):
///
/// - PNG: deflate, at most 1032:1 (RFC 1951: a 258-byte match costs at least 2 bits).
/// - JPEG: at least 1 bit per 8x8 block and component (a 1-bit DC code of a progressive first
///   scan; baseline needs 2), which with 4:1 subsampling gives at most about 1365:1 in RGB.
/// - TIFF: LZW with 12-bit codes emits at most 4096 bytes per code, about 2730:1 (deflate and
///   PackBits expand less).
/// - BMP: RLE8/RLE4 runs give at most 255 pixels per 2 bytes (510:1 as RGBA); delta escapes
///   and an early end of bitmap can skip more, so BMP is held to a policy bound, not a proof.
fn max_expansion(format: ImageFormat) -> (u64, &'static str) {
    match format {
        ImageFormat::Png => (1032, "PNG (deflate)"),
        ImageFormat::Jpeg => (1536, "JPEG"),
        ImageFormat::Tiff => (2800, "TIFF (LZW at most)"),
        _ => (1024, "BMP"),
    }
}

fn decode_error(what: &str, e: image::ImageError) -> Error {
    match e {
        image::ImageError::Limits(l) => Error::TooLarge {
            what: what.to_string(),
            reason: l.to_string(),
        },
        image::ImageError::Unsupported(u) => Error::UnsupportedMedia {
            what: what.to_string(),
            reason: u.to_string(),
        },
        // The decoders report a short file as a bare "failed to fill whole buffer".
        image::ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            invalid(what, "the file ends before its image data does (truncated)")
        }
        other => invalid(what, other.to_string()),
    }
}

fn widen(v: Vec<u8>) -> Vec<u16> {
    v.into_iter().map(u16::from).collect()
}
