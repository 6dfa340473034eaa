//! What a study asks, as JSON: its visual inputs (a content type and a path, with reading
//! options) and its per-call options. The same schema serves `hulu batch` manifests and the
//! Python bindings (which hand their keyword arguments over as JSON), so the two read a
//! study identically.

use crate::error::{Error, Result};
use crate::generate::GenerateOptions;
use crate::prepare::PrepareOptions;
use crate::sampling::SamplingOptions;
use crate::sources::{export_root, LoadOptions, VisualSource};
use hulu_io::dicom::{DicomWindow, MixedOrientation, SeriesChoice};
use hulu_io::nifti::{SliceAxis, Window};
use hulu_io::Visual;
use serde::Deserialize;
use std::path::PathBuf;

/// The content type of a visual input, as the Python API and manifests name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A picture file (PNG, JPEG, TIFF, BMP).
    Image,
    /// One DICOM file (image, cine or multi-frame volume).
    Dicom,
    /// A DICOM series: a folder, a `.zip` or a `DICOMDIR` export (the largest series unless
    /// `series` picks one).
    DicomSeries,
    /// A NIfTI-1/2 volume.
    Nifti,
    /// An NRRD or MetaImage volume.
    Volume,
    /// An MP4/MOV video.
    Video,
    /// Told by content ([`VisualSource::detect`]).
    Auto,
}

/// A window as JSON: a preset name or `"centre/width"`, or `[centre, width]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum WindowSpec {
    /// `"lung"`, `"-600/1500"`.
    Text(String),
    /// `[centre, width]`.
    Pair([f64; 2]),
}

impl WindowSpec {
    /// The window; presets and the `centre/width` syntax as [`DicomWindow::parse`] reads them.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] naming `window` for an unknown preset, a width that is not
    /// positive, or `auto`/`file`/`minmax` (which are DICOM display choices, not windows).
    pub fn window(&self) -> Result<Window> {
        let invalid = |reason: String| Error::InvalidRequest {
            field: "window".into(),
            reason,
        };
        let window = match self {
            WindowSpec::Pair([c, w]) => Window::new(*c, *w),
            WindowSpec::Text(s) => {
                match DicomWindow::parse(s).map_err(|e| invalid(e.to_string()))? {
                    DicomWindow::Fixed(w) => w,
                    _ => return Err(invalid(format!("{s:?} is not a preset or CENTRE/WIDTH"))),
                }
            }
        };
        window.bounds().map_err(|e| invalid(e.to_string()))?;
        Ok(window)
    }
}

/// How visual files are read; every field optional so that a part's own choice falls back
/// to the call's ([`ReadOptions::or`]), then to [`LoadOptions::default`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadOptions {
    /// Slices of a volume (linspace over the axis).
    pub slices: Option<usize>,
    /// Volume axis: `0`, `1`, `2`, `axial`, `coronal` or `sagittal`.
    pub axis: Option<AxisSpec>,
    /// Grey window.
    pub window: Option<WindowSpec>,
    /// Video and cine frames per second.
    pub fps: Option<f64>,
    /// Most frames or slices.
    pub max_frames: Option<usize>,
    /// Which series of a DICOM export: a Series Instance UID, a Series Number, or `#N`.
    pub series: Option<String>,
    /// Which volume of a 4-D NIfTI.
    pub volume: Option<usize>,
    /// Stack a DICOM series whose slices' orientations differ.
    pub allow_mixed_orientation: Option<bool>,
}

/// A volume axis as JSON: an index or a name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum AxisSpec {
    /// `0`, `1` or `2`.
    Index(usize),
    /// `"axial"`, `"2"`.
    Name(String),
}

impl ReadOptions {
    /// These choices, each unset one taken from `defaults`.
    pub fn or(&self, defaults: &ReadOptions) -> ReadOptions {
        ReadOptions {
            slices: self.slices.or(defaults.slices),
            axis: self.axis.clone().or_else(|| defaults.axis.clone()),
            window: self.window.clone().or_else(|| defaults.window.clone()),
            fps: self.fps.or(defaults.fps),
            max_frames: self.max_frames.or(defaults.max_frames),
            series: self.series.clone().or_else(|| defaults.series.clone()),
            volume: self.volume.or(defaults.volume),
            allow_mixed_orientation: self
                .allow_mixed_orientation
                .or(defaults.allow_mixed_orientation),
        }
    }

    /// The loader's options.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] naming the field for an unknown axis, window or series, or
    /// a non-positive `fps`.
    pub fn load_options(&self) -> Result<LoadOptions> {
        let defaults = LoadOptions::default();
        let axis = match &self.axis {
            None => defaults.axis,
            Some(AxisSpec::Index(i)) => SliceAxis::Index(*i),
            Some(AxisSpec::Name(name)) => {
                SliceAxis::parse(name).map_err(|e| Error::InvalidRequest {
                    field: "axis".into(),
                    reason: e.to_string(),
                })?
            }
        };
        if let Some(fps) = self.fps {
            if !(fps > 0.0 && fps.is_finite()) {
                return Err(Error::InvalidRequest {
                    field: "fps".into(),
                    reason: format!("{fps} is not a positive number"),
                });
            }
        }
        Ok(LoadOptions {
            slices: self.slices,
            axis,
            volume: self.volume.unwrap_or(defaults.volume),
            window: self.window.as_ref().map(WindowSpec::window).transpose()?,
            fps: self.fps.or(defaults.fps),
            max_frames: self.max_frames.unwrap_or(defaults.max_frames),
            series: self
                .series
                .as_deref()
                .map(parse_series)
                .transpose()?
                .unwrap_or_default(),
            mixed_orientation: if self.allow_mixed_orientation == Some(true) {
                MixedOrientation::OwnNormal
            } else {
                MixedOrientation::Reject
            },
            ..defaults
        })
    }
}

/// A series choice: `#N` or `index:N` an index, `number:N` or an integer a Series Number,
/// `uid:U` or anything else a Series Instance UID (dotted digits, PS3.5 §9.1); the syntax of
/// `hulu ask --series`.
fn parse_series(s: &str) -> Result<SeriesChoice> {
    let s = s.trim();
    let invalid = |reason: String| Error::InvalidRequest {
        field: "series".into(),
        reason,
    };
    let index = s.strip_prefix('#').or_else(|| s.strip_prefix("index:"));
    Ok(if let Some(i) = index {
        SeriesChoice::Index(
            i.parse()
                .map_err(|_| invalid(format!("{i:?} is not an index")))?,
        )
    } else if let Some(n) = s.strip_prefix("number:") {
        SeriesChoice::Number(
            n.parse()
                .map_err(|_| invalid(format!("{n:?} is not a number")))?,
        )
    } else if let Some(uid) = s.strip_prefix("uid:") {
        SeriesChoice::Uid(uid.to_string())
    } else if let Ok(n) = s.parse() {
        SeriesChoice::Number(n)
    } else if s.is_empty() {
        return Err(invalid("empty (a UID, a Series Number or #INDEX)".into()));
    } else {
        SeriesChoice::Uid(s.to_string())
    })
}

/// One visual input named by path: `{"type": "dicom_series", "path": "...", "slices": 32}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// The content type.
    #[serde(rename = "type")]
    pub kind: InputKind,
    /// The file or folder.
    pub path: PathBuf,
    /// Slices of a volume.
    pub slices: Option<usize>,
    /// Volume axis.
    pub axis: Option<AxisSpec>,
    /// Grey window.
    pub window: Option<WindowSpec>,
    /// Frames per second.
    pub fps: Option<f64>,
    /// Most frames or slices.
    pub max_frames: Option<usize>,
    /// Which DICOM series.
    pub series: Option<String>,
    /// Which volume of a 4-D NIfTI.
    pub volume: Option<usize>,
    /// Stack a series of mixed orientations.
    pub allow_mixed_orientation: Option<bool>,
}

impl InputSpec {
    /// This input's own reading choices.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            slices: self.slices,
            axis: self.axis.clone(),
            window: self.window.clone(),
            fps: self.fps,
            max_frames: self.max_frames,
            series: self.series.clone(),
            volume: self.volume,
            allow_mixed_orientation: self.allow_mixed_orientation,
        }
    }

    /// Where the frames come from: the named kind, checked against the path where the kind
    /// says what the path must be (a series is a folder, zip or `DICOMDIR`).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a `dicom_series` that is a single file or a `dicom`
    /// that is a folder; [`VisualSource::detect`]'s errors for `auto`.
    pub fn source(&self) -> Result<VisualSource> {
        let path = self.path.clone();
        let is_export = export_root(&self.path).is_some();
        Ok(match self.kind {
            InputKind::Image => VisualSource::Image(path),
            InputKind::Nifti => VisualSource::Nifti(path),
            InputKind::Volume => VisualSource::Volume(path),
            InputKind::Video => VisualSource::Video(path),
            InputKind::DicomSeries if self.path.exists() && !is_export => {
                return Err(Error::InvalidRequest {
                    field: "type".into(),
                    reason: format!(
                        "dicom_series needs a folder, a .zip or a DICOMDIR; {} is one file \
                         (use \"dicom\")",
                        self.path.display()
                    ),
                })
            }
            InputKind::Dicom if is_export => {
                return Err(Error::InvalidRequest {
                    field: "type".into(),
                    reason: format!(
                        "dicom is one file; {} is an export (use \"dicom_series\")",
                        self.path.display()
                    ),
                })
            }
            InputKind::Dicom | InputKind::DicomSeries => VisualSource::Dicom(path),
            InputKind::Auto => VisualSource::detect(&self.path)?,
        })
    }

    /// Reads the frames, this input's choices over `defaults`.
    ///
    /// # Errors
    /// Those of [`InputSpec::source`], [`ReadOptions::load_options`] and
    /// [`VisualSource::load`].
    pub fn load(&self, defaults: &ReadOptions) -> Result<Visual> {
        let _span = tracing::info_span!("load_input", path = %self.path.display()).entered();
        let options = self.read_options().or(defaults).load_options()?;
        self.source()?.load(&options)
    }
}

/// Per-call options of a question: reading defaults for its inputs, compression, and
/// generation. Unset fields keep the library's defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallOptions {
    /// Slices of a volume (default for every input).
    pub slices: Option<usize>,
    /// Volume axis.
    pub axis: Option<AxisSpec>,
    /// Grey window.
    pub window: Option<WindowSpec>,
    /// Frames per second.
    pub fps: Option<f64>,
    /// Most frames or slices.
    pub max_frames: Option<usize>,
    /// Which DICOM series.
    pub series: Option<String>,
    /// Which volume of a 4-D NIfTI.
    pub volume: Option<usize>,
    /// Stack a series of mixed orientations.
    pub allow_mixed_orientation: Option<bool>,
    /// Token compression on or off (default: the checkpoint's).
    pub compression: Option<bool>,
    /// Compression threshold.
    pub compression_threshold: Option<f64>,
    /// Merge size for volumes and videos.
    pub merge_size: Option<usize>,
    /// Pixel budget in patches shared by the call's visuals.
    pub max_visual_tokens: Option<usize>,
    /// Most new tokens.
    pub max_new_tokens: Option<usize>,
    /// Sample with this temperature (default: greedy).
    pub temperature: Option<f32>,
    /// Top-k filter when sampling.
    pub top_k: Option<usize>,
    /// Top-p filter when sampling.
    pub top_p: Option<f32>,
    /// Min-p filter when sampling.
    pub min_p: Option<f32>,
    /// Repetition penalty.
    pub repetition_penalty: Option<f32>,
    /// Sampling seed.
    pub seed: Option<u64>,
    /// Stop strings.
    pub stop: Option<Vec<String>>,
    /// Generate past EOS (fixed-length output, as the parity fixtures use).
    pub ignore_eos: Option<bool>,
    /// Remove `<think>…</think>` from the text.
    pub strip_think: Option<bool>,
}

impl CallOptions {
    /// Parses options from JSON, naming the unknown or mistyped field.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] with the field's path.
    pub fn from_json(json: &str) -> Result<Self> {
        from_json(json, "options")
    }

    /// These options, each unset one taken from `defaults` (a study's over the run's).
    pub fn or(&self, defaults: &CallOptions) -> CallOptions {
        let d = defaults.clone();
        let s = self.clone();
        CallOptions {
            slices: s.slices.or(d.slices),
            axis: s.axis.or(d.axis),
            window: s.window.or(d.window),
            fps: s.fps.or(d.fps),
            max_frames: s.max_frames.or(d.max_frames),
            series: s.series.or(d.series),
            volume: s.volume.or(d.volume),
            allow_mixed_orientation: s.allow_mixed_orientation.or(d.allow_mixed_orientation),
            compression: s.compression.or(d.compression),
            compression_threshold: s.compression_threshold.or(d.compression_threshold),
            merge_size: s.merge_size.or(d.merge_size),
            max_visual_tokens: s.max_visual_tokens.or(d.max_visual_tokens),
            max_new_tokens: s.max_new_tokens.or(d.max_new_tokens),
            temperature: s.temperature.or(d.temperature),
            top_k: s.top_k.or(d.top_k),
            top_p: s.top_p.or(d.top_p),
            min_p: s.min_p.or(d.min_p),
            repetition_penalty: s.repetition_penalty.or(d.repetition_penalty),
            seed: s.seed.or(d.seed),
            stop: s.stop.or(d.stop),
            ignore_eos: s.ignore_eos.or(d.ignore_eos),
            strip_think: s.strip_think.or(d.strip_think),
        }
    }

    /// The reading defaults for the call's inputs.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            slices: self.slices,
            axis: self.axis.clone(),
            window: self.window.clone(),
            fps: self.fps,
            max_frames: self.max_frames,
            series: self.series.clone(),
            volume: self.volume,
            allow_mixed_orientation: self.allow_mixed_orientation,
        }
    }

    /// The preparation options.
    pub fn prepare_options(&self) -> PrepareOptions {
        PrepareOptions {
            compression: self.compression,
            compression_threshold: self.compression_threshold,
            merge_size: self.merge_size,
            max_visual_tokens: self.max_visual_tokens,
            ..PrepareOptions::default()
        }
    }

    /// The generation options: greedy unless a temperature is given; sampling values are
    /// checked when generation starts ([`SamplingOptions::validate`]).
    pub fn generate_options(&self) -> GenerateOptions {
        let defaults = GenerateOptions::default();
        let mut sampling = SamplingOptions::greedy();
        if let Some(t) = self.temperature {
            sampling = SamplingOptions::sampled(t, self.seed.unwrap_or(0));
        }
        sampling.top_k = self.top_k.unwrap_or(sampling.top_k);
        sampling.top_p = self.top_p.unwrap_or(sampling.top_p);
        sampling.min_p = self.min_p.unwrap_or(sampling.min_p);
        sampling.repetition_penalty = self
            .repetition_penalty
            .unwrap_or(sampling.repetition_penalty);
        GenerateOptions {
            max_new_tokens: self.max_new_tokens.unwrap_or(defaults.max_new_tokens),
            sampling,
            suppress_eos: self.ignore_eos.unwrap_or(false),
            stop_strings: self.stop.clone().unwrap_or_default(),
            strip_think: self.strip_think.unwrap_or(false),
            ..defaults
        }
    }
}

/// `T` from JSON; a failure names the field's path under `what` (`options.window`).
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        Error::InvalidRequest {
            field: if path == "." {
                what.to_string()
            } else {
                format!("{what}.{path}")
            },
            reason: e.into_inner().to_string(),
        }
    })
}
