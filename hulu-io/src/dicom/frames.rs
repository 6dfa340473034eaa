//! Per-frame attributes of enhanced multi-frame objects (Enhanced CT/MR/XA …), read from the
//! functional groups (PS3.3 C.7.6.16): each frame's item of the Per-Frame Functional Groups
//! Sequence (5200,9230) first, else the Shared Functional Groups Sequence (5200,9229).

use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, Tag};

use super::file::DicomFile;
use super::info::{fixed, float, floats, nested, DicomInfo};
use super::series::MixedOrientation;
use crate::{Error, Result};

/// What one frame of an enhanced object says about itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameAttributes {
    /// Rescale Slope from the Pixel Value Transformation Sequence (0028,9145).
    pub rescale_slope: Option<f64>,
    /// Rescale Intercept from the Pixel Value Transformation Sequence.
    pub rescale_intercept: Option<f64>,
    /// Window Center values from the Frame VOI LUT Sequence (0028,9132).
    pub window_center: Vec<f64>,
    /// Window Width values from the Frame VOI LUT Sequence.
    pub window_width: Vec<f64>,
    /// Image Position (Patient) from the Plane Position Sequence (0020,9113).
    pub image_position: Option<[f64; 3]>,
    /// Image Orientation (Patient) from the Plane Orientation Sequence (0020,9116).
    pub image_orientation: Option<[f64; 6]>,
    /// Pixel Spacing from the Pixel Measures Sequence (0028,9110).
    pub pixel_spacing: Option<[f64; 2]>,
    /// Slice Thickness from the Pixel Measures Sequence.
    pub slice_thickness: Option<f64>,
}

/// The attributes of each of the first `frames` frames that have a per-frame item (never more
/// entries than items, so a lying Number of Frames allocates nothing); empty when the object
/// has no Per-Frame Functional Groups Sequence (shared values are read as top-level ones).
pub(crate) fn read_per_frame(obj: &InMemDicomObject, frames: usize) -> Vec<FrameAttributes> {
    let Some(items) = obj
        .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|e| e.items())
    else {
        return Vec::new();
    };
    let shared = nested(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    (0..frames.min(items.len()))
        .map(|k| {
            let own = items.get(k);
            // The frame's own macro, else the shared one (PS3.3 C.7.6.16.1).
            let group = |seq: Tag| {
                own.and_then(|item| nested(item, seq))
                    .or_else(|| shared.and_then(|s| nested(s, seq)))
            };
            let pvt = group(tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE);
            let voi = group(tags::FRAME_VOILUT_SEQUENCE);
            let position = group(tags::PLANE_POSITION_SEQUENCE);
            let orientation = group(tags::PLANE_ORIENTATION_SEQUENCE);
            let measures = group(tags::PIXEL_MEASURES_SEQUENCE);
            FrameAttributes {
                rescale_slope: pvt.and_then(|g| float(g, tags::RESCALE_SLOPE)),
                rescale_intercept: pvt.and_then(|g| float(g, tags::RESCALE_INTERCEPT)),
                window_center: voi
                    .and_then(|g| floats(g, tags::WINDOW_CENTER))
                    .unwrap_or_default(),
                window_width: voi
                    .and_then(|g| floats(g, tags::WINDOW_WIDTH))
                    .unwrap_or_default(),
                image_position: position.and_then(|g| fixed(g, tags::IMAGE_POSITION_PATIENT)),
                image_orientation: orientation
                    .and_then(|g| fixed(g, tags::IMAGE_ORIENTATION_PATIENT)),
                pixel_spacing: measures.and_then(|g| fixed(g, tags::PIXEL_SPACING)),
                slice_thickness: measures.and_then(|g| float(g, tags::SLICE_THICKNESS)),
            }
        })
        .collect()
}

/// Largest difference between direction cosines still taken as the same orientation (the
/// series rule).
const ORIENTATION_TOLERANCE: f64 = 1e-4;

impl DicomFile {
    /// The frames of a multi-frame volume in anatomical order: sorted by each frame's Image
    /// Position projected on its slice normal (row × column), as [`DicomSeries`](super::DicomSeries) sorts the
    /// files of a single-frame series, ties by frame number. File order when the frames carry
    /// no position or orientation. Frames whose orientations differ are refused under
    /// [`MixedOrientation::Reject`], as a mixed series is (a [`DicomSeries`](super::DicomSeries) of them would be).
    ///
    /// # Errors
    /// [`Error::DicomSeries`] naming the file and the orientations found.
    pub fn frames_along_normal(&self, mixed: MixedOrientation) -> Result<Vec<usize>> {
        let info = self.info();
        let n = info.frames();
        let per_frame: Vec<DicomInfo> = (0..n.min(info.per_frame.len()))
            .map(|k| info.for_frame(k))
            .collect();
        if per_frame.len() != n || n < 2 {
            return Ok((0..n).collect());
        }
        let Some(first) = per_frame[0].image_orientation else {
            return Ok((0..n).collect());
        };
        let mut others: Vec<[f64; 6]> = Vec::new();
        let mut keyed = Vec::with_capacity(n);
        for (k, f) in per_frame.iter().enumerate() {
            let (Some(o), Some(p), Some(normal)) =
                (f.image_orientation, f.image_position, f.normal())
            else {
                return Ok((0..n).collect());
            };
            let differs = o
                .iter()
                .zip(&first)
                .any(|(a, b)| (a - b).abs() > ORIENTATION_TOLERANCE);
            if differs && mixed == MixedOrientation::Reject {
                if !others.contains(&o) {
                    others.push(o);
                }
                continue;
            }
            let along = p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2];
            keyed.push((along, k));
        }
        if !others.is_empty() {
            return Err(Error::DicomSeries {
                dir: self.path().to_path_buf(),
                reason: format!(
                    "the frames mix orientations: {} at {first:?}, others at {others:?}; \
                     stack them anyway with MixedOrientation::OwnNormal",
                    keyed.len()
                ),
            });
        }
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        Ok(keyed.into_iter().map(|(_, k)| k).collect())
    }
}
