//! Reference cases: a conversation in the reference's content format plus the sources of its
//! visual parts (the fixtures' `cases/<model>/<case>.json`), turned into [`Turn`]s.
//!
//! This is how `hulu parity` and the end-to-end tests replay what the official implementation
//! was asked, starting from the case's `messages` and `sources` only.

use crate::conversation::{Item, Turn};
use crate::error::{Error, Result};
use crate::messages::Role;
use crate::prepare::PrepareOptions;
use crate::sources::{LoadOptions, VisualSource};
use hulu_io::nifti::{SliceAxis, Window};
use hulu_io::{RgbFrame, Visual, VisualKind};
use serde_json::Value;
use std::path::Path;

fn bad(reason: impl Into<String>) -> Error {
    Error::InvalidJson {
        path: "case".into(),
        reason: reason.into(),
    }
}

/// The turns and per-call options of a reference case. `root` is the fixtures root the case's
/// `sources[].file` paths are relative to.
pub fn case_turns(case: &Value, root: &Path) -> Result<(Vec<Turn>, PrepareOptions)> {
    let mut sources = case["sources"]
        .as_array()
        .map(|s| s.iter())
        .ok_or_else(|| bad("no sources array"))?;
    let mut turns = Vec::new();
    for message in case["messages"]
        .as_array()
        .ok_or_else(|| bad("no messages array"))?
    {
        let role = Role::from(
            message["role"]
                .as_str()
                .ok_or_else(|| bad("message without role"))?,
        );
        let items = match &message["content"] {
            Value::String(text) => vec![Item::Text(text.clone())],
            Value::Array(parts) => parts
                .iter()
                .map(|part| match part["type"].as_str() {
                    Some("text") => {
                        Ok(Item::Text(part["text"].as_str().unwrap_or_default().into()))
                    }
                    Some("image") | Some("video") => {
                        let source = sources
                            .next()
                            .ok_or_else(|| bad("more visual parts than sources"))?;
                        Ok(Item::Visual(load_source(source, root)?))
                    }
                    other => Err(bad(format!("unknown content type {other:?}"))),
                })
                .collect::<Result<Vec<_>>>()?,
            other => return Err(bad(format!("content is neither text nor parts: {other}"))),
        };
        turns.push(Turn::new(role, items));
    }
    let options = PrepareOptions {
        compression: case["use_token_compression"].as_bool(),
        merge_size: case["merge_size"].as_u64().map(|m| m as usize),
        ..PrepareOptions::default()
    };
    Ok((turns, options))
}

fn load_source(source: &Value, root: &Path) -> Result<Visual> {
    let file = root.join(
        source["file"]
            .as_str()
            .ok_or_else(|| bad("source without file"))?,
    );
    match source["kind"].as_str() {
        Some("image") => VisualSource::Image(file).load(&LoadOptions::default()),
        Some("nifti") => {
            let window = match &source["window"] {
                Value::Null => None,
                w => Some(Window::new(
                    w["center"]
                        .as_f64()
                        .or(w[0].as_f64())
                        .ok_or_else(|| bad("window centre"))?,
                    w["width"]
                        .as_f64()
                        .or(w[1].as_f64())
                        .ok_or_else(|| bad("window width"))?,
                )),
            };
            VisualSource::Nifti(file).load(&LoadOptions {
                axis: SliceAxis::Index(source["axis"].as_u64().unwrap_or(2) as usize),
                slices: source["num_slices"].as_u64().map(|n| n as usize),
                window,
                ..LoadOptions::default()
            })
        }
        Some("frames") => frames_source(source, &file),
        other => Err(bad(format!("unknown source kind {other:?}"))),
    }
}

/// Frames picked from a `[T, H, W, 3]` u8 tensor in a safetensors file.
fn frames_source(source: &Value, file: &Path) -> Result<Visual> {
    let bytes = std::fs::read(file).map_err(|e| Error::Io {
        path: file.into(),
        source: e,
    })?;
    let tensors = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| bad(format!("{}: {e}", file.display())))?;
    let name = source["tensor"].as_str().unwrap_or("frames");
    let view = tensors
        .tensor(name)
        .map_err(|e| bad(format!("{}: {e}", file.display())))?;
    let shape = view.shape();
    if shape.len() != 4 || shape[3] != 3 || view.dtype() != safetensors::Dtype::U8 {
        return Err(bad(format!(
            "{name}: expected u8 [T, H, W, 3], found {shape:?}"
        )));
    }
    let (t, h, w) = (shape[0], shape[1], shape[2]);
    let frame_len = h * w * 3;
    let indices: Vec<usize> = match source["frame_indices"].as_array() {
        Some(ix) => ix
            .iter()
            .filter_map(|v| v.as_u64())
            .map(|v| v as usize)
            .collect(),
        None => (0..t).collect(),
    };
    let frames = indices
        .iter()
        .map(|&i| {
            let data = view
                .data()
                .get(i * frame_len..(i + 1) * frame_len)
                .ok_or_else(|| bad(format!("frame {i} of {t}")))?;
            RgbFrame::new(w, h, data.to_vec()).ok_or_else(|| bad("frame size"))
        })
        .collect::<Result<Vec<_>>>()?;
    let timestamps = source["timestamps"]
        .as_array()
        .map(|ts| ts.iter().filter_map(Value::as_f64).collect());
    Ok(Visual {
        kind: VisualKind::Video,
        frames,
        timestamps,
    })
}
