//! A DICOM series: the image files of one SeriesInstanceUID, ordered along the slice normal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::file::DicomFile;
use super::scan::DicomScan;
use crate::{Error, Limits, Result};

/// Largest difference between direction cosines still taken as the same orientation.
const ORIENTATION_TOLERANCE: f64 = 1e-4;

/// What to do with slices of one series whose orientations differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MixedOrientation {
    /// Refuse the series with an error listing the orientations (the default: stacking
    /// differently oriented slices into one volume is rarely meaningful).
    #[default]
    Reject,
    /// Sort each slice by its position along its own normal, as pydicom-based pipelines
    /// do, and stack them anyway (e.g. radial or localizer slices).
    OwnNormal,
}

/// The slices of one series, sorted by position along the slice normal (the cross product
/// of the row and column directions), never by Instance Number or file name. Pixel data is
/// decoded on request, so choosing a few slices of a long series decodes only those.
#[derive(Debug, Clone)]
pub struct DicomSeries {
    /// The folder, or the first file of an explicit list.
    pub source: PathBuf,
    /// Series Instance UID shared by every slice (`None` when the files have none).
    pub series_instance_uid: Option<String>,
    /// The slices, in anatomical order.
    pub slices: Vec<DicomFile>,
    /// Each slice's Image Position projected on the normal, ascending, in mm.
    pub positions: Vec<f64>,
    /// Slice normal (row × column) of the first file read (per-slice normals may differ under
    /// [`MixedOrientation::OwnNormal`]).
    pub normal: [f64; 3],
}

impl DicomSeries {
    /// The one series under a folder (walked recursively). A folder holding several series
    /// is an error that lists them (use [`DicomScan::open`] and [`DicomScan::choose`]).
    /// Files that are not DICOM by content and DICOM objects without pixel data (DICOMDIR,
    /// reports) are skipped and reported; broken image files are errors. `mixed` decides
    /// what happens to slices whose orientations differ.
    ///
    /// # Errors
    /// [`Error::DicomSeries`] (no image, several series, inconsistent geometry), and those
    /// of [`DicomScan::open`].
    pub fn open_dir(
        dir: impl AsRef<Path>,
        mixed: MixedOrientation,
        limits: &Limits,
    ) -> Result<Self> {
        let dir = dir.as_ref();
        let mut all = Self::scan_dir(dir, mixed, limits)?;
        match all.len() {
            1 => Ok(all.remove(0)),
            _ => Err(series_err(
                dir,
                format!(
                    "{} series in one folder ({}); choose one with scan_dir",
                    all.len(),
                    all.iter()
                        .map(|s| format!(
                            "{} with {} slices",
                            s.series_instance_uid.as_deref().unwrap_or("no UID"),
                            s.slices.len()
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// Every series under a folder (walked recursively, files recognised by content), each
    /// sorted, ordered by Series Number then UID. Skipped files are logged; use
    /// [`DicomScan::open`] to get them.
    ///
    /// # Errors
    /// As [`DicomScan::open`].
    pub fn scan_dir(
        dir: impl AsRef<Path>,
        mixed: MixedOrientation,
        limits: &Limits,
    ) -> Result<Vec<Self>> {
        Ok(DicomScan::open(dir, mixed, limits)?.series)
    }

    /// Groups image files by Series Instance UID and sorts each group.
    pub(crate) fn group(
        source: &Path,
        files: Vec<DicomFile>,
        mixed: MixedOrientation,
    ) -> Result<Vec<Self>> {
        let mut groups: BTreeMap<Option<String>, Vec<DicomFile>> = BTreeMap::new();
        for f in files {
            groups
                .entry(f.info().series_instance_uid.clone())
                .or_default()
                .push(f);
        }
        let mut series = groups
            .into_values()
            .map(|files| Self::sorted(source, files, mixed))
            .collect::<Result<Vec<_>>>()?;
        series.sort_by(|a, b| {
            let key = |s: &Self| (s.series_number().is_none(), s.series_number());
            key(a)
                .cmp(&key(b))
                .then_with(|| a.series_instance_uid.cmp(&b.series_instance_uid))
        });
        Ok(series)
    }

    /// Series Number (0020,0011) of the first slice.
    pub fn series_number(&self) -> Option<i64> {
        self.slices.first().and_then(|f| f.info().series_number)
    }

    /// A series from an explicit list of files, which must all share one Series Instance UID.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::InvalidDicom`] for a file that cannot be read or parsed;
    /// [`Error::DicomSeries`] when the list is empty, the files belong to different series, or
    /// their orientations disagree and `mixed` rejects that.
    pub fn from_files<P: AsRef<Path>>(
        paths: &[P],
        mixed: MixedOrientation,
        limits: &Limits,
    ) -> Result<Self> {
        let source = paths
            .first()
            .map(|p| p.as_ref().to_path_buf())
            .unwrap_or_default();
        limits.check_frames(&source.display().to_string(), paths.len())?;
        let files = paths
            .iter()
            .map(|p| DicomFile::open(p, limits))
            .collect::<Result<Vec<_>>>()?;
        if files.is_empty() {
            return Err(series_err(&source, "no files".into()));
        }
        let uid = &files[0].info().series_instance_uid;
        if let Some(other) = files.iter().find(|f| &f.info().series_instance_uid != uid) {
            return Err(series_err(
                &source,
                format!(
                    "{} belongs to series {:?}, not {uid:?}",
                    other.path().display(),
                    other.info().series_instance_uid
                ),
            ));
        }
        Self::sorted(&source, files, mixed)
    }

    /// Checks one series' geometry and sorts it along the normal.
    fn sorted(source: &Path, files: Vec<DicomFile>, mixed: MixedOrientation) -> Result<Self> {
        let first = files[0].info();
        let uid = first.series_instance_uid.clone();
        let (rows, cols) = (first.rows, first.columns);
        let orientation = first.image_orientation.ok_or_else(|| {
            series_err(
                source,
                format!(
                    "{} has no Image Orientation (Patient)",
                    files[0].path().display()
                ),
            )
        })?;
        let normal = first.normal().ok_or_else(|| {
            series_err(
                source,
                format!(
                    "{} has a degenerate orientation {orientation:?}",
                    files[0].path().display()
                ),
            )
        })?;
        let mut keyed = Vec::with_capacity(files.len());
        let mut other_orientations: Vec<[f64; 6]> = Vec::new();
        for f in files {
            let info = f.info();
            if (info.rows, info.columns) != (rows, cols) {
                return Err(series_err(
                    source,
                    format!(
                        "{} is {}x{}, the series is {cols}x{rows}",
                        f.path().display(),
                        info.columns,
                        info.rows
                    ),
                ));
            }
            let o = info.image_orientation.ok_or_else(|| {
                series_err(
                    source,
                    format!("{} has no Image Orientation (Patient)", f.path().display()),
                )
            })?;
            let differs = o
                .iter()
                .zip(&orientation)
                .any(|(a, b)| (a - b).abs() > ORIENTATION_TOLERANCE);
            if differs && mixed == MixedOrientation::Reject {
                if !other_orientations.iter().any(|k| k == &o) {
                    other_orientations.push(o);
                }
                continue;
            }
            let p = info.image_position.ok_or_else(|| {
                series_err(
                    source,
                    format!("{} has no Image Position (Patient)", f.path().display()),
                )
            })?;
            let n = if differs {
                info.normal().ok_or_else(|| {
                    series_err(
                        source,
                        format!("{} has a degenerate orientation {o:?}", f.path().display()),
                    )
                })?
            } else {
                normal
            };
            let along = p[0] * n[0] + p[1] * n[1] + p[2] * n[2];
            keyed.push((along, f));
        }
        if !other_orientations.is_empty() {
            return Err(series_err(
                source,
                format!(
                    "series {:?} mixes orientations: {} slices at {orientation:?}, others at {:?}; \
                     split it by Image Orientation (Patient), or stack it anyway with \
                     MixedOrientation::OwnNormal",
                    uid,
                    keyed.len(),
                    other_orientations
                ),
            ));
        }
        keyed.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then_with(|| a.1.info().instance_number.cmp(&b.1.info().instance_number))
        });
        let (positions, slices) = keyed.into_iter().unzip();
        Ok(DicomSeries {
            source: source.to_path_buf(),
            series_instance_uid: uid,
            slices,
            positions,
            normal,
        })
    }

    /// Number of slices.
    pub fn len(&self) -> usize {
        self.slices.len()
    }

    /// Whether the series has no slices (never true for a constructed series).
    pub fn is_empty(&self) -> bool {
        self.slices.is_empty()
    }

    /// Median distance between neighbouring slices along the normal, in mm.
    pub fn slice_spacing(&self) -> Option<f64> {
        let mut gaps: Vec<f64> = self.positions.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_by(f64::total_cmp);
        gaps.get(gaps.len() / 2).copied()
    }

    /// Modality values of the slices listed (indices into the sorted series), stacked
    /// `[slice][row][column]`; the limits bound the stacked volume before decoding.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for a slice index past the series; [`Error::TooLarge`] when the
    /// stacked volume exceeds `limits`; [`Error::DicomSeries`] when slices differ in size;
    /// [`Error::DicomPixels`] / [`Error::NoPixelData`] when a slice cannot be decoded.
    pub fn volume_of(&self, slices: &[usize], limits: &Limits) -> Result<Vec<f32>> {
        let _span = tracing::info_span!("dicom_series_volume", slices = slices.len()).entered();
        let first = self.slices[0].info();
        let what = self.source.display().to_string();
        limits.check_bytes(&what, &[slices.len(), first.rows, first.columns], 4)?;
        let mut out = Vec::with_capacity(slices.len() * first.rows * first.columns);
        for &i in slices {
            let file = self.slices.get(i).ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "slice {i} requested, the series has {}",
                    self.len()
                ))
            })?;
            let image = file.decode_frames(&[0])?;
            let values = image.modality_frame(0).ok_or_else(|| {
                series_err(
                    &self.source,
                    format!("{} is not a grey image", file.path().display()),
                )
            })?;
            out.extend(values);
        }
        Ok(out)
    }

    /// Modality values of every slice, stacked `[slice][row][column]`.
    ///
    /// # Errors
    ///
    /// As [`DicomSeries::volume_of`].
    pub fn volume(&self, limits: &Limits) -> Result<Vec<f32>> {
        let all: Vec<usize> = (0..self.len()).collect();
        self.volume_of(&all, limits)
    }
}

fn series_err(dir: &Path, reason: String) -> Error {
    Error::DicomSeries {
        dir: dir.to_path_buf(),
        reason,
    }
}
