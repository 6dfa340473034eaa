//! Opening one DICOM file and decoding its pixel data into stored values.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use dicom_core::{PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::file::ReadPreamble;
use dicom_object::mem::InMemElement;
use dicom_object::meta::{FileMetaTable, FileMetaTableBuilder};
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::image::{Colour, DicomImage, Palette};
use super::info::{DicomInfo, Photometric};
use super::pixels::{self, Samples};
use super::{codestream, detect, guard, jpeg12, jpeg_colour, rle};
use crate::{Error, Limits, Result};

/// Transfer syntaxes whose pixel data is stored as plain samples (no codec).
fn is_native(transfer_syntax: &str) -> bool {
    matches!(
        transfer_syntax,
        "1.2.840.10008.1.2" | "1.2.840.10008.1.2.1" | "1.2.840.10008.1.2.2" | guard::DEFLATED
    )
}

/// RLE Lossless: decoded by [`rle`]; colour stays in the file's photometric space.
const RLE: &str = "1.2.840.10008.1.2.5";
/// JPEG Baseline (process 1): 8-bit lossy JPEG.
const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
/// JPEG Extended (processes 2 and 4): 12-bit lossy JPEG.
const JPEG_EXTENDED: &str = "1.2.840.10008.1.2.4.51";

/// A parsed DICOM image file whose pixel data is not decoded yet: header attributes are
/// available at once, frames are decoded on request (all, or only the frames a caller samples).
#[derive(Debug, Clone)]
pub struct DicomFile {
    path: PathBuf,
    obj: DefaultDicomObject,
    info: DicomInfo,
    limits: Limits,
}

impl DicomFile {
    /// Reads and parses a DICOM Part 10 file (with or without the 128-byte preamble), or a
    /// data set written without the Part 10 header (recognised by content, read as implicit
    /// VR little endian unless its bytes are explicit). The data set's VR mode is taken from
    /// its first element when it differs from the declared transfer syntax (with a warning).
    ///
    /// Every element length is checked against the file before parsing, and the image
    /// dimensions against `limits`.
    ///
    /// # Errors
    /// [`Error::InvalidDicom`] (not DICOM, malformed or lying header, a length the parser
    /// would misread), [`Error::DicomEncodingMismatch`] (implicit VR under a transfer syntax
    /// that must be explicit), [`Error::NoPixelData`] (an RT plan, a report),
    /// [`Error::TooLarge`], [`Error::Io`].
    pub fn open(path: impl AsRef<Path>, limits: &Limits) -> Result<Self> {
        let path = path.as_ref();
        let _span = tracing::info_span!("dicom_open", path = %path.display()).entered();
        let bytes = limits.read_file(path)?;
        Self::parse(path.to_path_buf(), &bytes, limits)
    }

    /// Parses a DICOM file held in memory (errors name the path `<memory>`).
    ///
    /// # Errors
    /// As [`DicomFile::open`].
    pub fn from_bytes(bytes: &[u8], limits: &Limits) -> Result<Self> {
        Self::from_named_bytes("<memory>", bytes, limits)
    }

    /// Parses a DICOM file held in memory that came from `name` (a zip entry, e.g.
    /// `study.zip!SERIES1/IM0001`), which errors name.
    ///
    /// # Errors
    /// As [`DicomFile::open`].
    pub fn from_named_bytes(
        name: impl Into<PathBuf>,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<Self> {
        let name = name.into();
        if bytes.len() > limits.max_bytes {
            return Err(Error::TooLarge {
                what: name.display().to_string(),
                reason: format!(
                    "{} bytes exceed the {} byte budget",
                    bytes.len(),
                    limits.max_bytes
                ),
            });
        }
        Self::parse(name, bytes, limits)
    }

    fn parse(path: PathBuf, bytes: &[u8], limits: &Limits) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidDicom {
            path: path.clone(),
            reason,
        };
        // A Part 10 file, or (recognised by content) a data set without the Part 10 header.
        let (layout, dataset_at, declared) = match guard::file_layout(bytes) {
            Ok(l) => (Some(l.magic_at), l.dataset_at, l.transfer_syntax),
            Err(_) if detect::is_bare_dataset(bytes) => (None, 0, detect::IMPLICIT_LE.into()),
            Err(e) => return Err(invalid(e)),
        };
        let dataset = &bytes[dataset_at..];
        let ts = effective_transfer_syntax(&path, &declared, dataset, layout.is_none())?;
        let bare = |reason: String| {
            if layout.is_some() {
                reason
            } else {
                format!(
                    "a DICOM data set without the Part 10 header (no preamble, DICM or file \
                     meta), read as {}: {reason}",
                    ts_name(&ts)
                )
            }
        };
        if ts == guard::DEFLATED {
            let inflated = guard::inflate(dataset, limits.max_bytes).map_err(invalid)?;
            guard::check_dataset(&inflated, guard::encoding_of(guard::DEFLATED))
        } else {
            guard::check_dataset(dataset, guard::encoding_of(&ts))
        }
        .map_err(|e| invalid(bare(e)))?;
        let obj = match layout {
            Some(magic_at) if ts == declared => OpenFileOptions::new()
                .read_preamble(ReadPreamble::Never)
                .from_reader(&bytes[magic_at..])
                .map_err(|e| invalid(error_chain(&e)))?,
            _ => read_with_transfer_syntax(bytes, layout, dataset, &ts)
                .map_err(|e| invalid(bare(e)))?,
        };
        if pixel_element(&obj).is_none() {
            return Err(Error::NoPixelData {
                path,
                modality: super::info::string(&obj, tags::MODALITY),
            });
        }
        let info = DicomInfo::read(&obj, obj.meta().transfer_syntax().trim_end_matches('\0'))
            .map_err(invalid)?;
        let what = path.display().to_string();
        limits.check_frame(&what, info.columns, info.rows)?;
        limits.check_frames(&what, info.frames())?;
        Ok(DicomFile {
            path,
            obj,
            info,
            limits: *limits,
        })
    }

    /// The file's path (`<memory>` for [`DicomFile::from_bytes`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Header attributes.
    pub fn info(&self) -> &DicomInfo {
        &self.info
    }

    /// Decodes every frame.
    ///
    /// # Errors
    ///
    /// As [`DicomFile::decode_frames`].
    pub fn decode(&self) -> Result<DicomImage> {
        let all: Vec<usize> = (0..self.info.frames()).collect();
        self.decode_frames(&all)
    }

    /// Decodes the listed frames (0-based, in the order given; repeats allowed), checking
    /// the decoded size against the limits first. Colour comes out as RGB (YBR converted,
    /// as pydicom does); palette images keep their indices and carry the palette.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for a frame index past the file's frames; [`Error::TooLarge`]
    /// when the decoded frames exceed the limits; [`Error::NoPixelData`] without Pixel Data;
    /// [`Error::DicomPixels`] when the pixel data is truncated or its encoding cannot be decoded.
    pub fn decode_frames(&self, frames: &[usize]) -> Result<DicomImage> {
        let _span =
            tracing::info_span!("dicom_decode", path = %self.path.display(), frames = frames.len())
                .entered();
        let info = &self.info;
        let pixels_err = |reason: String| Error::DicomPixels {
            path: self.path.clone(),
            reason,
        };
        let n = info.frames();
        if let Some(&bad) = frames.iter().find(|&&f| f >= n) {
            return Err(Error::InvalidRequest(format!(
                "{}: frame {bad} requested, the file has {n}",
                self.path.display()
            )));
        }
        let what = self.path.display().to_string();
        let spp = info.samples_per_pixel;
        let frame_pixels = info.rows * info.columns;
        let bytes_per_sample = pixels::sample_bytes(info.bits_allocated);
        self.limits.check_frames(&what, frames.len())?;
        self.limits
            .check_bytes(&what, &[frames.len(), frame_pixels, spp], bytes_per_sample)?;
        if !matches!(info.bits_allocated, 1 | 8 | 16 | 32 | 64) {
            return Err(pixels_err(format!(
                "Bits Allocated {} is not supported",
                info.bits_allocated
            )));
        }
        let ts = info.transfer_syntax.as_str();
        let (mut stored, mut colour) = if is_native(ts) {
            self.native_frames(frames).map_err(pixels_err)?
        } else if ts == RLE {
            self.rle_frames(frames).map_err(pixels_err)?
        } else {
            self.codec_frames(frames).map_err(pixels_err)?
        };
        if spp > 1 && info.planar_configuration == Some(1) && is_native(ts) {
            stored.interleave_planes(frame_pixels, spp);
        }
        if colour == Colour::YbrFull {
            if let Samples::U8(data) = &mut stored {
                pixels::ybr_full_to_rgb(data);
                colour = Colour::Rgb;
            } else {
                return Err(pixels_err("YBR colour with more than 8 bits".into()));
            }
        }
        let palette = if colour == Colour::Palette {
            Some(Palette::read(&self.obj).map_err(pixels_err)?)
        } else {
            None
        };
        Ok(DicomImage {
            info: self.info.clone(),
            frame_indices: frames.to_vec(),
            stored,
            colour,
            palette,
        })
    }

    /// Colour space of samples as the file stores them (before any codec transform).
    fn stored_colour(&self) -> std::result::Result<Colour, String> {
        let spp = self.info.samples_per_pixel;
        match (&self.info.photometric, spp) {
            (p, 1) if p.is_monochrome() => Ok(Colour::Grey),
            (Photometric::PaletteColor, 1) => Ok(Colour::Palette),
            (Photometric::Rgb, 3) => Ok(Colour::Rgb),
            (Photometric::YbrFull | Photometric::YbrFull422, 3) => Ok(Colour::YbrFull),
            (Photometric::YbrIct | Photometric::YbrRct, 3) => Ok(Colour::Rgb),
            (p, s) => Err(format!(
                "photometric interpretation {:?} with {s} samples per pixel is not supported",
                p.as_str()
            )),
        }
    }

    /// Frames of uncompressed pixel data.
    fn native_frames(&self, frames: &[usize]) -> std::result::Result<(Samples, Colour), String> {
        let info = &self.info;
        let colour = self.stored_colour()?;
        let (element, float) = pixel_element(&self.obj).ok_or("no pixel data")?;
        let Some(value) = element.value().primitive() else {
            return Err("uncompressed transfer syntax with encapsulated pixel data".into());
        };
        let width = pixels::sample_bytes(info.bits_allocated);
        let raw: Cow<[u8]> = if info.transfer_syntax == BIG_ENDIAN && info.bits_allocated != 1 {
            Cow::Owned(pixels::big_endian_to_le(
                &file_order_be(value),
                width,
                element.vr() == VR::OW,
            ))
        } else {
            le_bytes(value)
        };
        if let Some(float_width) = float {
            let count = info.rows * info.columns * info.samples_per_pixel;
            let frame_bytes = count * float_width;
            let mut picked = Vec::with_capacity(frames.len() * frame_bytes);
            for &f in frames {
                picked.extend_from_slice(
                    raw.get(f * frame_bytes..(f + 1) * frame_bytes)
                        .ok_or_else(|| {
                            format!(
                                "{} bytes of float pixel data, frame {f} needs {}",
                                raw.len(),
                                (f + 1) * frame_bytes
                            )
                        })?,
                );
            }
            return Ok((
                pixels::unpack_float(&picked, float_width, count * frames.len())?,
                colour,
            ));
        }
        let frame_pixels = info.rows * info.columns;
        let frame_samples = frame_pixels * info.samples_per_pixel;
        if info.bits_allocated == 1 {
            // Bit-packed frames need not start on a byte boundary: unpack all, then pick.
            let all = pixels::unpack(&raw, info, frame_samples * info.frames())?;
            let Samples::U8(all) = all else {
                unreachable!("1-bit samples unpack to u8")
            };
            let picked = frames
                .iter()
                .flat_map(|&f| &all[f * frame_samples..(f + 1) * frame_samples])
                .copied()
                .collect();
            return Ok((Samples::U8(picked), colour));
        }
        if info.photometric == Photometric::YbrFull422 {
            if info.bits_allocated != 8 {
                return Err("YBR_FULL_422 with more than 8 bits".into());
            }
            let frame_bytes = frame_pixels * 2;
            let need = frame_bytes * info.frames();
            if raw.len() < need {
                return Err(format!(
                    "{} bytes of pixel data, expected {need}",
                    raw.len()
                ));
            }
            let mut out = Vec::with_capacity(frames.len() * frame_samples);
            for &f in frames {
                out.extend(pixels::expand_422(
                    &raw[f * frame_bytes..(f + 1) * frame_bytes],
                    frame_pixels,
                )?);
            }
            return Ok((Samples::U8(out), colour));
        }
        let frame_bytes = frame_samples * usize::from(info.bits_allocated / 8);
        let need = frame_bytes * info.frames();
        if raw.len() < need {
            return Err(format!(
                "{} bytes of pixel data, expected {need}",
                raw.len()
            ));
        }
        let selected: Cow<[u8]> = if frames.iter().copied().eq(0..info.frames()) {
            Cow::Borrowed(&raw[..need])
        } else {
            Cow::Owned(
                frames
                    .iter()
                    .flat_map(|&f| &raw[f * frame_bytes..(f + 1) * frame_bytes])
                    .copied()
                    .collect(),
            )
        };
        Ok((
            pixels::unpack(&selected, info, frame_samples * frames.len())?,
            colour,
        ))
    }

    /// Frames of RLE Lossless pixel data: one fragment per frame.
    fn rle_frames(&self, frames: &[usize]) -> std::result::Result<(Samples, Colour), String> {
        let info = &self.info;
        let colour = self.stored_colour()?;
        let element = self.obj.get(tags::PIXEL_DATA).ok_or("no pixel data")?;
        let fragments = element
            .value()
            .fragments()
            .ok_or("RLE transfer syntax with native pixel data")?;
        if fragments.len() != info.frames() {
            return Err(format!(
                "RLE pixel data has {} fragments for {} frames",
                fragments.len(),
                info.frames()
            ));
        }
        if info.bits_allocated == 1 {
            return Err("RLE with 1-bit samples is not supported".into());
        }
        let pixels = info.rows * info.columns;
        let spp = info.samples_per_pixel;
        let bps = pixels::sample_bytes(info.bits_allocated);
        let mut raw = Vec::with_capacity(frames.len() * pixels * spp * bps);
        for &f in frames {
            rle::decode_frame(&fragments[f], pixels, spp, bps, &mut raw)?;
        }
        Ok((
            pixels::unpack(&raw, info, frames.len() * pixels * spp)?,
            colour,
        ))
    }

    /// Frames of encapsulated pixel data, through the codec of the transfer syntax.
    fn codec_frames(&self, frames: &[usize]) -> std::result::Result<(Samples, Colour), String> {
        let info = &self.info;
        let mut colour = self.stored_colour()?;
        let element = self.obj.get(tags::PIXEL_DATA).ok_or("no pixel data")?;
        let fragments = element
            .value()
            .fragments()
            .ok_or("compressed transfer syntax with native pixel data")?;
        for fragment in fragments {
            if let Some(size) = codestream::declared_size(fragment) {
                let (w, h) = size?;
                if w as usize > info.columns || h as usize > info.rows {
                    return Err(format!(
                        "a codestream declares {w}x{h} pixels in a {}x{} image",
                        info.columns, info.rows
                    ));
                }
            }
        }
        let jpeg_8bit = matches!(info.transfer_syntax.as_str(), JPEG_BASELINE | JPEG_EXTENDED)
            && info.bits_allocated == 8;
        if jpeg_8bit && info.samples_per_pixel == 3 {
            // The Photometric Interpretation decides the colour transform, not the codec.
            let streams = jpeg_colour::frame_streams(fragments, info.frames())?;
            let size = (info.columns, info.rows);
            let mut out = Vec::with_capacity(frames.len() * info.rows * info.columns * 3);
            for &f in frames {
                out.extend(jpeg_colour::decode_rgb_frame(
                    &streams[f],
                    &info.photometric,
                    size,
                    self.limits.max_bytes,
                )?);
            }
            return Ok((Samples::U8(out), Colour::Rgb));
        }
        if info.transfer_syntax == JPEG_EXTENDED && info.bits_stored > 8 {
            // The registry's Rust JPEG decoders have no 12-bit DCT: our own decoder.
            let offsets = element.value().offset_table().unwrap_or(&[]);
            let stored = jpeg12::decode_dicom_frames(fragments, offsets, info, frames)?;
            return Ok((stored, colour));
        }
        let frame_samples = info.rows * info.columns * info.samples_per_pixel;
        let frame_bytes = frame_samples * pixels::sample_bytes(info.bits_allocated);
        let decoded: Vec<u8> = if frames.iter().copied().eq(0..info.frames()) {
            let d = self.obj.decode_pixel_data().map_err(|e| error_chain(&e))?;
            d.into_data()
        } else {
            let mut out = Vec::with_capacity(frames.len() * frame_bytes);
            for &f in frames {
                let d = self
                    .obj
                    .decode_pixel_data_frame(f as u32)
                    .map_err(|e| error_chain(&e))?;
                out.extend_from_slice(d.data().get(..frame_bytes).ok_or_else(|| {
                    format!(
                        "frame {f} decoded to {} bytes, expected {frame_bytes}",
                        d.data().len()
                    )
                })?);
            }
            out
        };
        if info.samples_per_pixel == 3 {
            // The JPEG family codecs convert YCbCr to RGB themselves.
            colour = Colour::Rgb;
        }
        let count = frame_samples * frames.len();
        if decoded.len() < count * pixels::sample_bytes(info.bits_allocated) {
            return Err(format!(
                "codec produced {} bytes, expected {}",
                decoded.len(),
                count * pixels::sample_bytes(info.bits_allocated)
            ));
        }
        Ok((pixels::unpack(&decoded, info, count)?, colour))
    }
}

/// The transfer syntax to read the data set with: the declared one, unless the first
/// element shows the other VR mode of little endian (pydicom's rule, see
/// [`detect::explicit_vr`]), which is then used with a warning. Implicit VR found under a
/// transfer syntax that must be explicit (big endian, encapsulated) cannot be read that way:
/// [`Error::DicomEncodingMismatch`].
fn effective_transfer_syntax(
    path: &Path,
    declared: &str,
    dataset: &[u8],
    bare: bool,
) -> Result<String> {
    let Some(explicit) = detect::explicit_vr(dataset) else {
        return Ok(declared.to_string());
    };
    let found = if explicit {
        "explicit VR"
    } else {
        "implicit VR"
    };
    let switched = match (declared, explicit) {
        (detect::IMPLICIT_LE, true) => detect::EXPLICIT_LE,
        (detect::EXPLICIT_LE, false) => detect::IMPLICIT_LE,
        (guard::DEFLATED, _) | (detect::IMPLICIT_LE, false) | (_, true) => {
            return Ok(declared.to_string())
        }
        (_, false) => {
            return Err(Error::DicomEncodingMismatch {
                path: path.to_path_buf(),
                declared: format!("{} ({declared})", ts_name(declared)),
                found: found.into(),
            })
        }
    };
    if bare {
        tracing::debug!(path = %path.display(), "data set without a file meta group is {found}");
    } else {
        tracing::warn!(
            path = %path.display(),
            declared,
            "the file meta declares {} but the data set is {found}; reading it as {}",
            ts_name(declared),
            ts_name(switched)
        );
    }
    Ok(switched.to_string())
}

/// A transfer syntax's name for messages.
fn ts_name(uid: &str) -> &'static str {
    match uid {
        detect::IMPLICIT_LE => "Implicit VR Little Endian",
        detect::EXPLICIT_LE => "Explicit VR Little Endian",
        BIG_ENDIAN => "Explicit VR Big Endian",
        guard::DEFLATED => "Deflated Explicit VR Little Endian",
        _ => "an encapsulated transfer syntax",
    }
}

/// Parses the data set with `ts` instead of what the file meta says (or without file meta),
/// giving the object a file meta group that names `ts`.
fn read_with_transfer_syntax(
    bytes: &[u8],
    magic_at: Option<usize>,
    dataset: &[u8],
    ts: &str,
) -> std::result::Result<DefaultDicomObject, String> {
    let syntax = TransferSyntaxRegistry
        .get(ts)
        .ok_or_else(|| format!("transfer syntax {ts} is not known"))?;
    let obj =
        InMemDicomObject::read_dataset_with_ts(dataset, syntax).map_err(|e| error_chain(&e))?;
    let meta = match magic_at {
        Some(at) => {
            let mut meta = FileMetaTable::from_reader(&bytes[at..]).map_err(|e| error_chain(&e))?;
            meta.transfer_syntax = ts.to_string();
            meta
        }
        None => {
            let uid = |tag| super::info::string(&obj, tag).unwrap_or_default();
            FileMetaTableBuilder::new()
                .transfer_syntax(ts)
                .media_storage_sop_class_uid(uid(tags::SOP_CLASS_UID))
                .media_storage_sop_instance_uid(uid(tags::SOP_INSTANCE_UID))
                .build()
                .map_err(|e| error_chain(&e))?
        }
    };
    Ok(obj.with_exact_meta(meta))
}

/// Explicit VR Big Endian (retired, still written by old scanners and pydicom's test files).
const BIG_ENDIAN: &str = "1.2.840.10008.1.2.2";

/// The image's pixel element and, for Float (7FE0,0008) or Double Float (7FE0,0009) Pixel
/// Data, the bytes per float sample.
pub(crate) fn pixel_element(obj: &InMemDicomObject) -> Option<(&InMemElement, Option<usize>)> {
    if let Some(e) = obj.get(tags::PIXEL_DATA) {
        return Some((e, None));
    }
    if let Some(e) = obj.get(tags::FLOAT_PIXEL_DATA) {
        return Some((e, Some(4)));
    }
    obj.get(tags::DOUBLE_FLOAT_PIXEL_DATA).map(|e| (e, Some(8)))
}

/// The bytes of a value read from an Explicit VR Big Endian file, in file order: the parser
/// decoded each OW word, OL long and OF/OD float to a native number, which is encoded back
/// most significant byte first. Byte values (OB) are already in file order.
fn file_order_be(p: &PrimitiveValue) -> Vec<u8> {
    match p {
        PrimitiveValue::U8(v) => v.to_vec(),
        PrimitiveValue::U16(v) => v.iter().flat_map(|x| x.to_be_bytes()).collect(),
        PrimitiveValue::I16(v) => v.iter().flat_map(|x| x.to_be_bytes()).collect(),
        PrimitiveValue::U32(v) => v.iter().flat_map(|x| x.to_be_bytes()).collect(),
        PrimitiveValue::I32(v) => v.iter().flat_map(|x| x.to_be_bytes()).collect(),
        PrimitiveValue::U64(v) => v.iter().flat_map(|x| x.to_be_bytes()).collect(),
        PrimitiveValue::I64(v) => v.iter().flat_map(|x| x.to_be_bytes()).collect(),
        PrimitiveValue::F32(v) => v.iter().flat_map(|x| x.to_be_bytes()).collect(),
        PrimitiveValue::F64(v) => v.iter().flat_map(|x| x.to_be_bytes()).collect(),
        other => other.to_bytes().into_owned(),
    }
}

/// Pixel data values as little-endian bytes, whatever the file's byte order was.
fn le_bytes(p: &PrimitiveValue) -> Cow<'_, [u8]> {
    match p {
        PrimitiveValue::U8(v) => Cow::Borrowed(&v[..]),
        _ if cfg!(target_endian = "little") => p.to_bytes(),
        PrimitiveValue::U16(v) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        PrimitiveValue::I16(v) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        PrimitiveValue::U32(v) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        PrimitiveValue::I32(v) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        PrimitiveValue::F32(v) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        PrimitiveValue::F64(v) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        _ => p.to_bytes(),
    }
}

/// An error and its sources, one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}
