//! Replaying a reference case through hulu (feature `replay`): the case's `messages` and
//! `sources` become a conversation whose visual parts are read by hulu's own loaders, exactly
//! as the official implementation was asked. Serves the end-to-end parity tests and the
//! `hulu parity` developer command.

use crate::{CaseContent, CaseSource, CaseSpec};
use hulu_io::nifti::{SliceAxis, Window};
use hulu_io::{RgbFrame, Visual, VisualKind};
use hulu_model::Role;
use hulu_model::{Item, LoadOptions, PrepareOptions, Turn, VisualSource};
use std::path::Path;

/// Why a case could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The case JSON does not describe a replayable conversation.
    #[error("case: {0}")]
    Case(String),
    /// hulu failed to read a source.
    #[error("reading a source")]
    Model(#[from] hulu_model::Error),
}

fn bad(reason: impl Into<String>) -> ReplayError {
    ReplayError::Case(reason.into())
}

/// The turns and per-call options of a reference case; `root` is the fixtures root the
/// sources' `file` paths are relative to.
///
/// # Errors
/// [`ReplayError::Case`] for more visual parts than sources or an unknown source kind,
/// [`ReplayError::Model`] when a source cannot be read.
pub fn case_turns(
    spec: &CaseSpec,
    root: &Path,
) -> Result<(Vec<Turn>, PrepareOptions), ReplayError> {
    let mut sources = spec.sources.iter();
    let mut turns = Vec::new();
    for message in &spec.messages {
        let items = match &message.content {
            CaseContent::Text(text) => vec![Item::Text(text.clone())],
            CaseContent::Parts(parts) => parts
                .iter()
                .map(|part| match part.kind.as_str() {
                    "text" => Ok(Item::Text(part.text.clone().unwrap_or_default())),
                    _ => {
                        let source = sources
                            .next()
                            .ok_or_else(|| bad("more visual parts than sources"))?;
                        Ok(Item::Visual(load_source(source, root)?))
                    }
                })
                .collect::<Result<Vec<_>, ReplayError>>()?,
        };
        turns.push(Turn::new(Role::from(message.role.as_str()), items));
    }
    let options = PrepareOptions {
        compression: spec.use_token_compression,
        merge_size: spec.merge_size,
        ..PrepareOptions::default()
    };
    Ok((turns, options))
}

fn load_source(source: &CaseSource, root: &Path) -> Result<Visual, ReplayError> {
    let file = root.join(&source.file);
    match source.kind.as_str() {
        "image" => Ok(VisualSource::Image(file).load(&LoadOptions::default())?),
        "nifti" => {
            // An explicit array axis wins; else the anatomical name; else the reference's
            // default (axis 2).
            let axis = match (source.axis, &source.axis_name) {
                (Some(i), _) => SliceAxis::Index(i),
                (None, Some(name)) => {
                    SliceAxis::parse(name).map_err(|e| bad(format!("axis name {name:?}: {e}")))?
                }
                (None, None) => SliceAxis::Index(2),
            };
            let window = source.window.map(|w| {
                let (c, width) = w.center_width();
                Window::new(c, width)
            });
            let defaults = LoadOptions::default();
            Ok(VisualSource::Nifti(file).load(&LoadOptions {
                axis,
                // All slices: the whole axis, whatever the frame cap says.
                slices: source.num_slices,
                max_frames: if source.num_slices.is_none() {
                    usize::MAX
                } else {
                    defaults.max_frames
                },
                volume: source.volume.unwrap_or(0),
                window,
                ..defaults
            })?)
        }
        "frames" => frames_source(source, &file),
        other => Err(bad(format!("unknown source kind {other:?}"))),
    }
}

/// Frames picked from a `[T, H, W, 3]` u8 tensor in a safetensors file.
fn frames_source(source: &CaseSource, file: &Path) -> Result<Visual, ReplayError> {
    let tensors = crate::TensorFile::open(file);
    let name = source.tensor.as_deref().unwrap_or("frames");
    let t = tensors.get(name);
    let shape = &t.shape;
    if shape.len() != 4 || shape[3] != 3 || t.dtype != safetensors::Dtype::U8 {
        return Err(bad(format!(
            "{name}: expected u8 [T, H, W, 3], found {shape:?}"
        )));
    }
    let (count, h, w) = (shape[0], shape[1], shape[2]);
    let frame_len = h * w * 3;
    let data = t.bytes();
    let indices: Vec<usize> = source
        .frame_indices
        .clone()
        .unwrap_or_else(|| (0..count).collect());
    let frames = indices
        .iter()
        .map(|&i| {
            let bytes = data
                .get(i * frame_len..(i + 1) * frame_len)
                .ok_or_else(|| bad(format!("frame {i} of {count}")))?;
            RgbFrame::new(w, h, bytes.to_vec()).ok_or_else(|| bad("frame size"))
        })
        .collect::<Result<Vec<_>, ReplayError>>()?;
    Ok(Visual {
        kind: VisualKind::Video,
        frames,
        timestamps: source.timestamps.clone(),
        origin: None,
    })
}
