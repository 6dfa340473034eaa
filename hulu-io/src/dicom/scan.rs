//! Hospital exports: every DICOM image under a folder (nested PATIENT/STUDY/SERIES, a
//! `DICOMDIR` beside them) or inside a `.zip`, recognised by content, grouped into series,
//! with a report of every file skipped and why.
//!
//! The folder walk reads each file's first bytes, not its name or extension ([`is_dicom`]),
//! so `IM0001`, `1.2.840…` and `.dcm` are all found. A `DICOMDIR` (PS3.10 8.5) indexes the
//! same files; since every file is read by content anyway its records are not needed, and
//! it is reported as skipped (a DICOM object without pixel data). Zip archives are read with
//! the `zip` crate, bounded: at most [`MAX_ZIP_ENTRIES`] entries, each inflating to at most
//! [`MAX_ZIP_RATIO`] times its compressed size, all together within the byte budget.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::detect::is_dicom;
use super::file::DicomFile;
use super::series::{DicomSeries, MixedOrientation};
use crate::{Error, Limits, Result};

/// Deepest folder nesting walked (PATIENT/STUDY/SERIES exports are 3 to 5 deep).
const MAX_DEPTH: usize = 16;
/// Most entries read from one zip archive.
pub const MAX_ZIP_ENTRIES: usize = 100_000;
/// Largest inflated-to-compressed ratio accepted for one zip entry (DICOM images compress
/// 2–10×; a zip bomb reaches 1000×).
pub const MAX_ZIP_RATIO: u64 = 200;

/// A file the scan did not use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file (a zip entry is `archive.zip!entry`).
    pub path: PathBuf,
    /// Why, e.g. "not DICOM (by content)", "DICOM object without pixel data (DICOMDIR)".
    pub reason: String,
}

/// Which series of a multi-series export to use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SeriesChoice {
    /// The series with the most images; ties go to the lowest Series Number, then UID (the
    /// default: the main acquisition outnumbers scouts and reformats).
    #[default]
    Largest,
    /// The series with this Series Instance UID (0020,000E).
    Uid(String),
    /// The series with this Series Number (0020,0011).
    Number(i64),
    /// The `n`-th series (0-based) in [`DicomScan::series`] order.
    Index(usize),
}

/// Every series found under a folder or in an archive, and the files skipped.
#[derive(Debug, Clone)]
pub struct DicomScan {
    /// The series, each sorted along its normal, ordered by Series Number then UID.
    pub series: Vec<DicomSeries>,
    /// Files not used, with the reason.
    pub skipped: Vec<Skipped>,
}

impl DicomScan {
    /// Finds every DICOM image under `source`: a folder (walked recursively) or a `.zip`
    /// (by content), groups them by Series Instance UID and sorts each series.
    ///
    /// # Errors
    /// [`Error::Io`] for an unreadable folder or archive, [`Error::DicomSeries`] when no
    /// image is found (the skipped files are listed) or a series cannot be sorted,
    /// [`Error::InvalidDicom`] for a broken image file, [`Error::TooLarge`] past the limits.
    pub fn open(
        source: impl AsRef<Path>,
        mixed: MixedOrientation,
        limits: &Limits,
    ) -> Result<Self> {
        let source = source.as_ref();
        let _span = tracing::info_span!("dicom_scan", source = %source.display()).entered();
        let mut files = Vec::new();
        let mut skipped = Vec::new();
        if source.is_file() && is_zip(source) {
            read_zip(source, limits, &mut files, &mut skipped)?;
        } else {
            let mut budget = limits.max_bytes as u64;
            walk(source, 0, limits, &mut budget, &mut files, &mut skipped)?;
        }
        for s in &skipped {
            tracing::info!(path = %s.path.display(), reason = %s.reason, "skipped");
        }
        if files.is_empty() {
            return Err(Error::DicomSeries {
                dir: source.to_path_buf(),
                reason: format!("no DICOM image files; skipped: {}", describe(&skipped)),
            });
        }
        let series = DicomSeries::group(source, files, mixed)?;
        Ok(DicomScan { series, skipped })
    }

    /// One line per series: index, Series Number, UID, image count.
    pub fn listing(&self) -> String {
        self.series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "#{i}: series number {}, UID {}, {} images",
                    s.series_number().map_or("-".into(), |n| n.to_string()),
                    s.series_instance_uid.as_deref().unwrap_or("-"),
                    s.len()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The series `choice` names.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when no series matches (the series are listed).
    pub fn choose(mut self, choice: &SeriesChoice) -> Result<DicomSeries> {
        let at = match choice {
            SeriesChoice::Largest => (0..self.series.len()).max_by(|&a, &b| {
                let (sa, sb) = (&self.series[a], &self.series[b]);
                sa.len().cmp(&sb.len()).then(b.cmp(&a))
            }),
            SeriesChoice::Uid(uid) => self
                .series
                .iter()
                .position(|s| s.series_instance_uid.as_deref() == Some(uid.as_str())),
            SeriesChoice::Number(n) => self
                .series
                .iter()
                .position(|s| s.series_number() == Some(*n)),
            SeriesChoice::Index(i) => (*i < self.series.len()).then_some(*i),
        };
        match at {
            Some(i) => {
                if self.series.len() > 1 {
                    tracing::info!(chosen = i, series = %self.listing(), "several series");
                }
                Ok(self.series.swap_remove(i))
            }
            None => Err(Error::InvalidRequest(format!(
                "no series matches {choice:?}; found {}",
                self.listing()
            ))),
        }
    }
}

/// The skipped files, summarised for an error message.
fn describe(skipped: &[Skipped]) -> String {
    if skipped.is_empty() {
        return "none".into();
    }
    let shown: Vec<String> = skipped
        .iter()
        .take(5)
        .map(|s| format!("{} ({})", s.path.display(), s.reason))
        .collect();
    let more = skipped.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Whether a file starts with a zip local file header (`PK\x03\x04`), by content: a
/// zipped export [`load_dicom`](super::load_dicom) and [`DicomScan::open`] read.
pub fn is_zip(path: &Path) -> bool {
    let mut head = [0u8; 4];
    crate::file::open_regular(path)
        .ok()
        .is_some_and(|mut f| f.read_exact(&mut head).is_ok() && head == *b"PK\x03\x04")
}

/// Opens `bytes` as one DICOM image, sorting the outcome into files or skipped.
fn take(
    name: PathBuf,
    parsed: Result<DicomFile>,
    files: &mut Vec<DicomFile>,
    skipped: &mut Vec<Skipped>,
) -> Result<()> {
    match parsed {
        Ok(f) => files.push(f),
        Err(Error::NoPixelData { modality, .. }) => skipped.push(Skipped {
            path: name.clone(),
            reason: if name.file_name().is_some_and(|n| n == "DICOMDIR") {
                "DICOMDIR (its files are found by the walk)".into()
            } else {
                format!("DICOM object without pixel data (modality {modality:?})")
            },
        }),
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Walks `dir` recursively in name order.
fn walk(
    dir: &Path,
    depth: usize,
    limits: &Limits,
    budget: &mut u64,
    files: &mut Vec<DicomFile>,
    skipped: &mut Vec<Skipped>,
) -> Result<()> {
    if depth > MAX_DEPTH {
        skipped.push(Skipped {
            path: dir.to_path_buf(),
            reason: format!("folder nested deeper than {MAX_DEPTH} levels"),
        });
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
        if hidden {
            skipped.push(Skipped {
                path,
                reason: "hidden".into(),
            });
        } else if meta.is_dir() {
            walk(&path, depth + 1, limits, budget, files, skipped)?;
        } else if !meta.is_file() {
            skipped.push(Skipped {
                path,
                reason: "not a regular file (link, device or pipe)".into(),
            });
        } else if !is_dicom(&path) {
            skipped.push(Skipped {
                path,
                reason: "not DICOM (by content)".into(),
            });
        } else {
            *budget = budget
                .checked_sub(meta.len())
                .ok_or_else(|| Error::TooLarge {
                    what: dir.display().to_string(),
                    reason: format!(
                        "files add up to more than the {} byte budget",
                        limits.max_bytes
                    ),
                })?;
            let parsed = DicomFile::open(&path, limits);
            take(path, parsed, files, skipped)?;
            limits.check_frames(&dir.display().to_string(), files.len())?;
        }
    }
    Ok(())
}

/// Reads every DICOM entry of a zip archive, bounded by entry count, ratio and budget.
fn read_zip(
    path: &Path,
    limits: &Limits,
    files: &mut Vec<DicomFile>,
    skipped: &mut Vec<Skipped>,
) -> Result<()> {
    let bad = |reason: String| Error::DicomSeries {
        dir: path.to_path_buf(),
        reason,
    };
    let file = crate::file::open_regular(path)?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| bad(format!("not a readable zip archive: {e}")))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(Error::TooLarge {
            what: path.display().to_string(),
            reason: format!("{} zip entries exceed {MAX_ZIP_ENTRIES}", archive.len()),
        });
    }
    let mut budget = limits.max_bytes as u64;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| bad(format!("zip entry {i}: {e}")))?;
        let name = PathBuf::from(format!("{}!{}", path.display(), entry.name()));
        if entry.is_dir() {
            continue;
        }
        let declared = entry.size();
        let cap = entry
            .compressed_size()
            .saturating_mul(MAX_ZIP_RATIO)
            .max(4096)
            .min(budget);
        if declared > cap {
            return Err(Error::TooLarge {
                what: name.display().to_string(),
                reason: format!(
                    "declares {declared} bytes from {} compressed (ratio or budget exceeded)",
                    entry.compressed_size()
                ),
            });
        }
        let mut bytes = Vec::with_capacity(declared as usize);
        (&mut entry)
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(format!("{}: {e}", name.display())))?;
        if bytes.len() as u64 > cap {
            return Err(Error::TooLarge {
                what: name.display().to_string(),
                reason: "inflates past its declared size, ratio or the budget".into(),
            });
        }
        budget -= bytes.len() as u64;
        let head = &bytes[..bytes.len().min(132)];
        let dicom = (head.len() == 132 && &head[128..132] == b"DICM")
            || head.starts_with(b"DICM")
            || super::detect::is_bare_dataset(&bytes);
        if !dicom {
            skipped.push(Skipped {
                path: name,
                reason: "not DICOM (by content)".into(),
            });
            continue;
        }
        let parsed = DicomFile::from_named_bytes(name.clone(), &bytes, limits);
        take(name, parsed, files, skipped)?;
        limits.check_frames(&path.display().to_string(), files.len())?;
    }
    Ok(())
}
