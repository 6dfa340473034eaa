//! The attributes of a DICOM image that decoding, display and series assembly need.

use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, Tag};

use super::frames::{read_per_frame, FrameAttributes};

/// How pixel samples are to be interpreted (PS3.3 C.7.6.3.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Photometric {
    /// Grey, minimum sample is white (shown inverted).
    Monochrome1,
    /// Grey, minimum sample is black.
    Monochrome2,
    /// Red, green, blue.
    Rgb,
    /// Luma and two chroma channels, full resolution.
    YbrFull,
    /// Luma and horizontally half-resolution chroma.
    YbrFull422,
    /// JPEG 2000 irreversible colour transform (the codec returns RGB).
    YbrIct,
    /// JPEG 2000 reversible colour transform (the codec returns RGB).
    YbrRct,
    /// Indices into a red/green/blue lookup table.
    PaletteColor,
    /// Anything else, as written in the file.
    Other(String),
}

impl Photometric {
    /// Parses the Photometric Interpretation string.
    pub fn parse(s: &str) -> Self {
        match s.trim() {
            "MONOCHROME1" => Photometric::Monochrome1,
            "MONOCHROME2" => Photometric::Monochrome2,
            "RGB" => Photometric::Rgb,
            "YBR_FULL" => Photometric::YbrFull,
            "YBR_FULL_422" => Photometric::YbrFull422,
            "YBR_ICT" => Photometric::YbrIct,
            "YBR_RCT" => Photometric::YbrRct,
            "PALETTE COLOR" => Photometric::PaletteColor,
            other => Photometric::Other(other.to_string()),
        }
    }

    /// The name as DICOM writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Photometric::Monochrome1 => "MONOCHROME1",
            Photometric::Monochrome2 => "MONOCHROME2",
            Photometric::Rgb => "RGB",
            Photometric::YbrFull => "YBR_FULL",
            Photometric::YbrFull422 => "YBR_FULL_422",
            Photometric::YbrIct => "YBR_ICT",
            Photometric::YbrRct => "YBR_RCT",
            Photometric::PaletteColor => "PALETTE COLOR",
            Photometric::Other(s) => s,
        }
    }

    /// Whether samples are grey levels (modality LUT and windowing apply).
    pub fn is_monochrome(&self) -> bool {
        matches!(self, Photometric::Monochrome1 | Photometric::Monochrome2)
    }
}

/// Header attributes of one DICOM image, as written (absent attributes are `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct DicomInfo {
    /// Transfer Syntax UID (0002,0010).
    pub transfer_syntax: String,
    /// SOP Class UID (0008,0016).
    pub sop_class_uid: Option<String>,
    /// Modality (0008,0060), e.g. `CT`, `MR`, `US`.
    pub modality: Option<String>,
    /// Series Instance UID (0020,000E): which series the image belongs to.
    pub series_instance_uid: Option<String>,
    /// Series Number (0020,0011).
    pub series_number: Option<i64>,
    /// Series Description (0008,103E), e.g. `CHEST 1.25mm`.
    pub series_description: Option<String>,
    /// Rows (0028,0010): image height.
    pub rows: usize,
    /// Columns (0028,0011): image width.
    pub columns: usize,
    /// Number of Frames (0028,0008) when present.
    pub number_of_frames: Option<usize>,
    /// Samples per Pixel (0028,0002): 1 (grey or palette) or 3 (colour).
    pub samples_per_pixel: usize,
    /// Photometric Interpretation (0028,0004).
    pub photometric: Photometric,
    /// Bits Allocated (0028,0100): 1, 8, 16 or 32.
    pub bits_allocated: u16,
    /// Bits Stored (0028,0101).
    pub bits_stored: u16,
    /// Pixel Representation (0028,0103): true for two's-complement samples.
    pub signed: bool,
    /// Planar Configuration (0028,0006): 0 interleaved, 1 one plane per channel.
    pub planar_configuration: Option<u16>,
    /// Rescale Slope (0028,1053), top level or from the shared functional groups.
    pub rescale_slope: Option<f64>,
    /// Rescale Intercept (0028,1052), likewise.
    pub rescale_intercept: Option<f64>,
    /// Window Center (0028,1050): every value the file lists.
    pub window_center: Vec<f64>,
    /// Window Width (0028,1051): every value the file lists.
    pub window_width: Vec<f64>,
    /// Image Position (Patient) (0020,0032): the first pixel's centre, in mm.
    pub image_position: Option<[f64; 3]>,
    /// Image Orientation (Patient) (0020,0037): row then column direction cosines.
    pub image_orientation: Option<[f64; 6]>,
    /// Pixel Spacing (0028,0030): row spacing, column spacing in mm.
    pub pixel_spacing: Option<[f64; 2]>,
    /// Slice Thickness (0018,0050) in mm.
    pub slice_thickness: Option<f64>,
    /// Instance Number (0020,0013).
    pub instance_number: Option<i64>,
    /// Frame Time (0018,1063): milliseconds between frames of a cine.
    pub frame_time_ms: Option<f64>,
    /// Frame Time Vector (0018,1065): milliseconds since the previous frame, per frame.
    pub frame_time_vector_ms: Option<Vec<f64>>,
    /// Enhanced multi-frame objects: each frame's own attributes from the functional groups
    /// (empty for other objects). [`DicomInfo::for_frame`] applies them.
    pub per_frame: Vec<FrameAttributes>,
}

impl DicomInfo {
    /// The attributes that hold for frame `k`: this header with the frame's own rescale,
    /// window, position, orientation and spacing from the Per-Frame Functional Groups
    /// (PS3.3 C.7.6.16) in place of the shared ones. `per_frame` of the result is empty.
    pub fn for_frame(&self, k: usize) -> DicomInfo {
        let mut info = self.clone_without_frames();
        if let Some(f) = self.per_frame.get(k) {
            info.rescale_slope = f.rescale_slope.or(info.rescale_slope);
            info.rescale_intercept = f.rescale_intercept.or(info.rescale_intercept);
            if !f.window_center.is_empty() && !f.window_width.is_empty() {
                info.window_center = f.window_center.clone();
                info.window_width = f.window_width.clone();
            }
            info.image_position = f.image_position.or(info.image_position);
            info.image_orientation = f.image_orientation.or(info.image_orientation);
            info.pixel_spacing = f.pixel_spacing.or(info.pixel_spacing);
            info.slice_thickness = f.slice_thickness.or(info.slice_thickness);
        }
        info
    }

    /// A copy without the per-frame list (cheap for objects of many frames).
    fn clone_without_frames(&self) -> DicomInfo {
        DicomInfo {
            transfer_syntax: self.transfer_syntax.clone(),
            sop_class_uid: self.sop_class_uid.clone(),
            modality: self.modality.clone(),
            series_instance_uid: self.series_instance_uid.clone(),
            series_number: self.series_number,
            series_description: self.series_description.clone(),
            photometric: self.photometric.clone(),
            window_center: self.window_center.clone(),
            window_width: self.window_width.clone(),
            frame_time_vector_ms: self.frame_time_vector_ms.clone(),
            per_frame: Vec::new(),
            rows: self.rows,
            columns: self.columns,
            number_of_frames: self.number_of_frames,
            samples_per_pixel: self.samples_per_pixel,
            bits_allocated: self.bits_allocated,
            bits_stored: self.bits_stored,
            signed: self.signed,
            planar_configuration: self.planar_configuration,
            rescale_slope: self.rescale_slope,
            rescale_intercept: self.rescale_intercept,
            image_position: self.image_position,
            image_orientation: self.image_orientation,
            pixel_spacing: self.pixel_spacing,
            slice_thickness: self.slice_thickness,
            instance_number: self.instance_number,
            frame_time_ms: self.frame_time_ms,
        }
    }

    /// Frames in the pixel data (1 when Number of Frames is absent).
    pub fn frames(&self) -> usize {
        self.number_of_frames.unwrap_or(1)
    }

    /// Whether the multi-frame object is a cine (frames in time) rather than a volume: it
    /// has frame timing, or it is ultrasound, angiography or endoscopy.
    pub fn is_cine(&self) -> bool {
        self.frame_time_ms.is_some()
            || self.frame_time_vector_ms.is_some()
            || matches!(
                self.modality.as_deref(),
                Some("US" | "XA" | "RF" | "ES" | "IVUS")
            )
    }

    /// The slice normal, row × column direction (not renormalised: unit length as far as
    /// the stored cosines are, and what pydicom-based sorting projects on), when the
    /// orientation is known and not degenerate.
    pub fn normal(&self) -> Option<[f64; 3]> {
        let o = self.image_orientation?;
        let n = [
            o[1] * o[5] - o[2] * o[4],
            o[2] * o[3] - o[0] * o[5],
            o[0] * o[4] - o[1] * o[3],
        ];
        let norm = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
        (norm > 1e-6).then_some(n)
    }

    /// Seconds from the first frame for each of `frames` frames of a cine: from the Frame Time
    /// Vector, else Frame Time, else `None`.
    pub fn frame_times_s(&self) -> Option<Vec<f64>> {
        let n = self.frames();
        if let Some(v) = &self.frame_time_vector_ms {
            if v.len() == n && v.iter().all(|t| t.is_finite() && *t >= 0.0) {
                // The first entry is the delay before frame 0; times are cumulative after it.
                let mut t = 0.0;
                return Some(
                    v.iter()
                        .enumerate()
                        .map(|(i, dt)| {
                            if i > 0 {
                                t += dt / 1000.0;
                            }
                            t
                        })
                        .collect(),
                );
            }
        }
        let dt = self.frame_time_ms.filter(|t| t.is_finite() && *t > 0.0)? / 1000.0;
        Some((0..n).map(|i| i as f64 * dt).collect())
    }

    /// Reads the attributes from a parsed object; `Err` names a required attribute that is
    /// missing or malformed.
    pub(crate) fn read(obj: &InMemDicomObject, transfer_syntax: &str) -> Result<Self, String> {
        let required = |tag: Tag, name: &str| {
            int(obj, tag).ok_or_else(|| format!("missing or invalid {name} {tag}"))
        };
        let rows = required(tags::ROWS, "Rows")?;
        let columns = required(tags::COLUMNS, "Columns")?;
        let bits_allocated = required(tags::BITS_ALLOCATED, "Bits Allocated")?;
        let samples_per_pixel = int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
        let bits_stored = int(obj, tags::BITS_STORED).unwrap_or(bits_allocated);
        let photometric = string(obj, tags::PHOTOMETRIC_INTERPRETATION)
            .map(|s| Photometric::parse(&s))
            .unwrap_or(if samples_per_pixel == 3 {
                Photometric::Rgb
            } else {
                Photometric::Monochrome2
            });
        let in_range = |v: i64, lo: i64, hi: i64| (lo..=hi).contains(&v);
        if !in_range(rows, 1, 65535) || !in_range(columns, 1, 65535) {
            return Err(format!("image of {columns}x{rows} pixels"));
        }
        if !in_range(bits_allocated, 1, 64) || !in_range(bits_stored, 1, bits_allocated) {
            return Err(format!(
                "Bits Allocated {bits_allocated}, Bits Stored {bits_stored}"
            ));
        }
        if !in_range(samples_per_pixel, 1, 4) {
            return Err(format!("Samples per Pixel {samples_per_pixel}"));
        }
        let number_of_frames = match int(obj, tags::NUMBER_OF_FRAMES) {
            None => None,
            Some(n) if n >= 1 => Some(n as usize),
            Some(n) => return Err(format!("Number of Frames {n}")),
        };
        let shared = shared_group(obj);
        let rescale = |tag: Tag| {
            float(obj, tag).or_else(|| {
                let fg = shared?;
                float(nested(fg, tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE)?, tag)
            })
        };
        let voi = shared.and_then(|fg| nested(fg, tags::FRAME_VOILUT_SEQUENCE));
        let windows = |tag: Tag| {
            floats(obj, tag)
                .or_else(|| floats(voi?, tag))
                .unwrap_or_default()
        };
        let plane = shared.and_then(|fg| nested(fg, tags::PLANE_ORIENTATION_SEQUENCE));
        let measures = shared.and_then(|fg| nested(fg, tags::PIXEL_MEASURES_SEQUENCE));
        Ok(DicomInfo {
            transfer_syntax: transfer_syntax.to_string(),
            sop_class_uid: string(obj, tags::SOP_CLASS_UID),
            modality: string(obj, tags::MODALITY),
            series_instance_uid: string(obj, tags::SERIES_INSTANCE_UID),
            series_number: int(obj, tags::SERIES_NUMBER),
            series_description: string(obj, tags::SERIES_DESCRIPTION),
            rows: rows as usize,
            columns: columns as usize,
            number_of_frames,
            samples_per_pixel: samples_per_pixel as usize,
            photometric,
            bits_allocated: bits_allocated as u16,
            bits_stored: bits_stored as u16,
            signed: int(obj, tags::PIXEL_REPRESENTATION) == Some(1),
            planar_configuration: int(obj, tags::PLANAR_CONFIGURATION).map(|v| v as u16),
            rescale_slope: rescale(tags::RESCALE_SLOPE),
            rescale_intercept: rescale(tags::RESCALE_INTERCEPT),
            window_center: windows(tags::WINDOW_CENTER),
            window_width: windows(tags::WINDOW_WIDTH),
            image_position: fixed(obj, tags::IMAGE_POSITION_PATIENT),
            image_orientation: fixed(obj, tags::IMAGE_ORIENTATION_PATIENT)
                .or_else(|| fixed(plane?, tags::IMAGE_ORIENTATION_PATIENT)),
            pixel_spacing: fixed(obj, tags::PIXEL_SPACING)
                .or_else(|| fixed(measures?, tags::PIXEL_SPACING)),
            slice_thickness: float(obj, tags::SLICE_THICKNESS)
                .or_else(|| float(measures?, tags::SLICE_THICKNESS)),
            instance_number: int(obj, tags::INSTANCE_NUMBER),
            frame_time_ms: float(obj, tags::FRAME_TIME),
            frame_time_vector_ms: floats(obj, tags::FRAME_TIME_VECTOR),
            per_frame: read_per_frame(obj, number_of_frames.unwrap_or(1)),
        })
    }
}

/// First item of the Shared Functional Groups Sequence of an enhanced multi-frame object.
pub(crate) fn shared_group(obj: &InMemDicomObject) -> Option<&InMemDicomObject> {
    nested(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)
}

/// First item of a sequence attribute.
pub(crate) fn nested(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    obj.get(tag)?.items()?.first()
}

pub(crate) fn string(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let s = obj.get(tag)?.to_str().ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_string())
}

pub(crate) fn int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.get(tag)?.to_int::<i64>().ok()
}

pub(crate) fn float(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    obj.get(tag)?.to_float64().ok().filter(|v| v.is_finite())
}

pub(crate) fn floats(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    let v = obj.get(tag)?.to_multi_float64().ok()?;
    (!v.is_empty() && v.iter().all(|x| x.is_finite())).then_some(v)
}

pub(crate) fn fixed<const N: usize>(obj: &InMemDicomObject, tag: Tag) -> Option<[f64; N]> {
    floats(obj, tag)?.try_into().ok()
}
