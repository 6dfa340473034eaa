//! Decoded DICOM frames: stored values, modality values (e.g. Hounsfield units) and 8-bit RGB.

use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, Tag};

use super::info::{DicomInfo, Photometric};
use super::pixels::Samples;
use super::window::DicomWindow;
use crate::{Error, Result, RgbFrame};

/// What the decoded samples of a [`DicomImage`] are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// One grey sample per pixel (MONOCHROME1 or MONOCHROME2: see the photometric).
    Grey,
    /// Three samples per pixel, red, green, blue.
    Rgb,
    /// Luma and chroma, full resolution (converted to RGB during decoding).
    YbrFull,
    /// One index per pixel into the file's colour palette.
    Palette,
}

/// A palette colour lookup table, reduced to 8 bits per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    /// The stored value that maps to the first entry.
    pub first: i64,
    /// Red, green and blue entries.
    pub rgb: [Vec<u8>; 3],
}

impl Palette {
    /// Reads the red, green and blue LUT descriptors and data (0028,1101-1103, 1201-1203).
    pub(crate) fn read(obj: &InMemDicomObject) -> std::result::Result<Self, String> {
        let channels = [
            (
                tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            ),
            (
                tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            ),
            (
                tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
                tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            ),
        ];
        let mut first = 0;
        let mut rgb: [Vec<u8>; 3] = Default::default();
        for (i, (desc_tag, data_tag)) in channels.into_iter().enumerate() {
            let (entries, first_mapped, bits) = descriptor(obj, desc_tag)?;
            first = first_mapped;
            let data = obj
                .get(data_tag)
                .ok_or("palette colour image without palette data (segmented palettes are not supported)")?
                .to_bytes()
                .map_err(|e| e.to_string())?;
            // 16-bit entries keep their high byte; 8-bit entries may be packed one per byte or
            // one per 16-bit word.
            rgb[i] = if bits > 8 || data.len() == entries * 2 {
                let words: Vec<u16> = data
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                words
                    .iter()
                    .map(|&w| if bits > 8 { (w >> 8) as u8 } else { w as u8 })
                    .collect()
            } else {
                data.to_vec()
            };
            if rgb[i].len() < entries {
                return Err(format!(
                    "palette has {} entries, its descriptor declares {entries}",
                    rgb[i].len()
                ));
            }
            rgb[i].truncate(entries);
        }
        Ok(Palette { first, rgb })
    }

    /// The colour of a stored value (values outside the table take its first or last entry).
    pub fn colour(&self, value: i64) -> [u8; 3] {
        let last = self.rgb[0].len() as i64 - 1;
        let i = (value - self.first).clamp(0, last.max(0)) as usize;
        [self.rgb[0][i], self.rgb[1][i], self.rgb[2][i]]
    }
}

/// Entries, first mapped value and bits of one LUT descriptor (0 entries means 65536).
fn descriptor(obj: &InMemDicomObject, tag: Tag) -> std::result::Result<(usize, i64, u16), String> {
    let v: Vec<i64> = obj
        .get(tag)
        .ok_or("palette colour image without a LUT descriptor")?
        .to_multi_int()
        .map_err(|e| e.to_string())?;
    match v[..] {
        [entries, first, bits] => {
            let entries = if entries == 0 {
                65536
            } else {
                entries as usize & 0xFFFF
            };
            Ok((entries.max(1), first, bits as u16))
        }
        _ => Err(format!(
            "LUT descriptor with {} values, expected 3",
            v.len()
        )),
    }
}

/// Decoded frames of one DICOM file with everything needed to display them.
#[derive(Debug, Clone)]
pub struct DicomImage {
    /// Header attributes.
    pub info: DicomInfo,
    /// Which frames of the file these are, in order.
    pub frame_indices: Vec<usize>,
    /// Stored values `[frame][row][column][sample]`; colour images as RGB.
    pub stored: Samples,
    /// What the samples are.
    pub colour: Colour,
    /// The palette, for palette colour images.
    pub palette: Option<Palette>,
}

impl DicomImage {
    /// Number of decoded frames.
    pub fn frames(&self) -> usize {
        self.frame_indices.len()
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.info.columns
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.info.rows
    }

    /// Samples in one frame.
    fn frame_len(&self) -> usize {
        let spp = if self.colour == Colour::Rgb { 3 } else { 1 };
        self.info.rows * self.info.columns * spp
    }

    /// The header as it holds for decoded frame `i`: an enhanced object's per-frame rescale
    /// and window applied (see [`DicomInfo::for_frame`]).
    pub fn frame_info(&self, i: usize) -> std::borrow::Cow<'_, DicomInfo> {
        match self.frame_indices.get(i) {
            Some(&k) if !self.info.per_frame.is_empty() => {
                std::borrow::Cow::Owned(self.info.for_frame(k))
            }
            _ => std::borrow::Cow::Borrowed(&self.info),
        }
    }

    /// Whether the samples are grey levels (modality LUT and windowing apply).
    pub fn is_grey(&self) -> bool {
        self.colour == Colour::Grey
    }

    /// Stored values of frame `i` (of the decoded frames) widened to `i64`.
    pub fn stored_frame(&self, i: usize) -> Vec<i64> {
        let n = self.frame_len();
        self.stored.to_i64(i * n..(i + 1) * n)
    }

    /// Modality values of frame `i`: `stored × RescaleSlope + RescaleIntercept` (Hounsfield
    /// units for CT), with an enhanced object's per-frame slope and intercept; stored values
    /// as they are when the file has no rescale. `None` for colour images, which have no
    /// modality LUT.
    pub fn modality_frame(&self, i: usize) -> Option<Vec<f32>> {
        if !self.is_grey() {
            return None;
        }
        let n = self.frame_len();
        let values = self.stored.to_f64(i * n..(i + 1) * n);
        let info = self.frame_info(i);
        let slope = info.rescale_slope.unwrap_or(1.0);
        let intercept = info.rescale_intercept.unwrap_or(0.0);
        Some(
            values
                .into_iter()
                .map(|v| (v * slope + intercept) as f32)
                .collect(),
        )
    }

    /// Modality values of every decoded frame, `[frame][row][column]`.
    pub fn modality(&self) -> Option<Vec<f32>> {
        let mut out = Vec::with_capacity(self.stored.len());
        for i in 0..self.frames() {
            out.extend(self.modality_frame(i)?);
        }
        Some(out)
    }

    /// Grey levels of integer samples through a lookup table over the frame's stored range:
    /// the window is evaluated once per distinct value instead of once per pixel, with the
    /// same arithmetic (so the same bytes). `None` when the range is wider than the frame.
    fn grey_through_lut(
        &self,
        range: std::ops::Range<usize>,
        info: &DicomInfo,
        window: &DicomWindow,
    ) -> Result<Option<Vec<u8>>> {
        let stored: Vec<i64> = match &self.stored {
            Samples::U8(_) | Samples::I8(_) | Samples::U16(_) | Samples::I16(_) => {
                self.stored.to_i64(range)
            }
            _ => return Ok(None),
        };
        let (Some(&lo), Some(&hi)) = (stored.iter().min(), stored.iter().max()) else {
            return Ok(None);
        };
        let span = (hi - lo) as usize + 1;
        if span > stored.len() {
            return Ok(None);
        }
        let slope = info.rescale_slope.unwrap_or(1.0);
        let intercept = info.rescale_intercept.unwrap_or(0.0);
        let values: Vec<f32> = (lo..=hi)
            .map(|s| (s as f64 * slope + intercept) as f32)
            .collect();
        let lut = window.apply(&values, info)?;
        Ok(Some(
            stored.iter().map(|&s| lut[(s - lo) as usize]).collect(),
        ))
    }

    /// Frame `i` as 8-bit RGB: grey frames through `window` (MONOCHROME1 inverted after),
    /// palette frames through the palette, RGB as stored (16-bit colour scaled down).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for a frame index past the image or a window whose width is not
    /// positive and finite.
    pub fn rgb_frame(&self, i: usize, window: &DicomWindow) -> Result<RgbFrame> {
        if i >= self.frames() {
            return Err(Error::InvalidRequest(format!(
                "frame {i} requested, {} decoded",
                self.frames()
            )));
        }
        let (w, h) = (self.width(), self.height());
        let n = self.frame_len();
        let range = i * n..(i + 1) * n;
        let data = match self.colour {
            Colour::Grey => {
                let invert = self.info.photometric == Photometric::Monochrome1;
                let info = self.frame_info(i);
                let grey = match self.grey_through_lut(range.clone(), &info, window)? {
                    Some(grey) => grey,
                    None => {
                        let values = self.modality_frame(i).unwrap_or_default();
                        window.apply(&values, &info)?
                    }
                };
                let mut data = Vec::with_capacity(grey.len() * 3);
                for g in grey {
                    let g = if invert { 255 - g } else { g };
                    data.extend_from_slice(&[g, g, g]);
                }
                data
            }
            Colour::Palette => {
                let palette = self
                    .palette
                    .as_ref()
                    .ok_or_else(|| Error::InvalidRequest("palette image without palette".into()))?;
                self.stored
                    .to_i64(range)
                    .into_iter()
                    .flat_map(|v| palette.colour(v))
                    .collect()
            }
            Colour::Rgb | Colour::YbrFull => {
                let shift = self.info.bits_stored.saturating_sub(8);
                if shift == 0 {
                    self.stored.to_u8_clamped(range)
                } else {
                    self.stored
                        .to_i64(range)
                        .into_iter()
                        .map(|v| (v.max(0) >> shift).min(255) as u8)
                        .collect()
                }
            }
        };
        RgbFrame::new(w, h, data).ok_or_else(|| Error::InvalidRequest("frame size mismatch".into()))
    }
}
