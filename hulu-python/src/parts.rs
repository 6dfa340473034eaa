//! Conversations from Python: the `hulu` package hands each turn over as `(role, parts)`,
//! each part a tuple: `("text", str)`, `("input", json)` for a file named by path (an
//! [`InputSpec`]), `("encoded", bytes)` for a picture file held in memory, or
//! `("frames", kind, bytes, count, height, width, timestamps)` for raw RGB frames (numpy
//! arrays and PIL images, already made contiguous `uint8` by the package).
//!
//! Parts are taken from Python while the GIL is held ([`pending_turns`]), then read into
//! frames without it ([`load_turns`]).

use crate::errors::{input, to_py};
use hulu_model::batch::{InputSpec, ReadOptions};
use hulu_model::Role;
use hulu_model::{Item, Limits, RgbFrame, Turn, Visual, VisualKind};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

/// A part taken from Python, not yet read.
#[derive(Debug, Clone)]
pub enum Pending {
    /// Text.
    Text(String),
    /// A file named by path.
    Input(InputSpec),
    /// A picture file's bytes.
    Encoded(Vec<u8>),
    /// Frames already decoded.
    Frames(Visual),
}

/// A turn taken from Python.
#[derive(Debug, Clone)]
pub struct PendingTurn {
    role: String,
    parts: Vec<Pending>,
}

/// The turns of one conversation, from `[(role, [part, ...]), ...]`.
///
/// # Errors
/// `InputError` naming the turn and part for a malformed tuple or input spec.
pub fn pending_turns(turns: &Bound<'_, PyAny>) -> PyResult<Vec<PendingTurn>> {
    let mut out = Vec::new();
    for (t, turn) in turns.try_iter()?.enumerate() {
        let (role, parts): (String, Vec<Bound<'_, PyTuple>>) = turn?
            .extract()
            .map_err(|e| input(&format!("messages[{t}]"), e))?;
        let parts = parts
            .iter()
            .enumerate()
            .map(|(p, part)| {
                pending_part(part).map_err(|e| prefixed(&format!("messages[{t}].content[{p}]"), e))
            })
            .collect::<PyResult<Vec<_>>>()?;
        out.push(PendingTurn { role, parts });
    }
    Ok(out)
}

fn prefixed(at: &str, err: PyErr) -> PyErr {
    Python::attach(|py| {
        if err.is_instance_of::<crate::errors::HuluError>(py) {
            err
        } else {
            input(at, err)
        }
    })
}

fn pending_part(part: &Bound<'_, PyTuple>) -> PyResult<Pending> {
    let tag: String = part.get_item(0)?.extract()?;
    Ok(match tag.as_str() {
        "text" => Pending::Text(part.get_item(1)?.extract()?),
        "input" => {
            let json: String = part.get_item(1)?.extract()?;
            Pending::Input(serde_json::from_str(&json).map_err(|e| input("input", e))?)
        }
        "encoded" => Pending::Encoded(part.get_item(1)?.cast::<PyBytes>()?.as_bytes().to_vec()),
        "frames" => {
            let (_, kind, data, count, height, width, timestamps): (
                String,
                String,
                Bound<'_, PyBytes>,
                usize,
                usize,
                usize,
                Option<Vec<f64>>,
            ) = part.extract()?;
            Pending::Frames(frames(
                &kind,
                data.as_bytes(),
                count,
                height,
                width,
                timestamps,
            )?)
        }
        other => return Err(input("type", format!("unknown part tag {other:?}"))),
    })
}

/// `count` frames of `height × width × 3` bytes.
fn frames(
    kind: &str,
    data: &[u8],
    count: usize,
    height: usize,
    width: usize,
    timestamps: Option<Vec<f64>>,
) -> PyResult<Visual> {
    let kind = match kind {
        "image" => VisualKind::Image,
        "volume" => VisualKind::Volume,
        "video" => VisualKind::Video,
        other => return Err(input("kind", format!("{other:?} (image, volume or video)"))),
    };
    let frame_len = height * width * 3;
    if count == 0 || frame_len == 0 || data.len() != count * frame_len {
        return Err(input(
            "array",
            format!(
                "{} bytes are not {count} frames of {height}×{width}×3",
                data.len()
            ),
        ));
    }
    if let Some(ts) = &timestamps {
        if ts.len() != count {
            return Err(input(
                "timestamps",
                format!("{} timestamps for {count} frames", ts.len()),
            ));
        }
    }
    let frames = data
        .chunks_exact(frame_len)
        .map(|c| RgbFrame::new(width, height, c.to_vec()).expect("sizes checked"))
        .collect();
    Ok(Visual {
        kind,
        frames,
        timestamps,
        origin: None,
    })
}

/// Reads every part into frames (no GIL needed), file inputs with their own options over
/// `defaults`.
///
/// # Errors
/// The loaders' errors ([`hulu_model::Error`]).
pub fn load_turns(turns: &[PendingTurn], defaults: &ReadOptions) -> hulu_model::Result<Vec<Turn>> {
    turns
        .iter()
        .map(|turn| {
            let items = turn
                .parts
                .iter()
                .map(|part| {
                    Ok(match part {
                        Pending::Text(t) => Item::Text(t.clone()),
                        Pending::Input(spec) => Item::Visual(spec.load(defaults)?),
                        Pending::Encoded(bytes) => {
                            let picture = hulu_io::image::picture_from_bytes(
                                "image bytes",
                                bytes,
                                &Limits::default(),
                            )
                            .map_err(hulu_model::Error::Media)?;
                            Item::Visual(Visual::new(
                                VisualKind::Image,
                                vec![picture.to_rgb_frame()],
                            ))
                        }
                        Pending::Frames(v) => Item::Visual(v.clone()),
                    })
                })
                .collect::<hulu_model::Result<Vec<_>>>()?;
            Ok(Turn::new(Role::from(turn.role.as_str()), items))
        })
        .collect()
}

/// [`load_turns`] with the error as a Python exception.
///
/// # Errors
/// The Python exception of the loader's error.
pub fn load_turns_py(turns: &[PendingTurn], defaults: &ReadOptions) -> PyResult<Vec<Turn>> {
    load_turns(turns, defaults).map_err(|e| to_py(&e))
}
