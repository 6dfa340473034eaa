//! `hulu.inspect`: the report `hulu inspect --json` prints for one file (its frames, header
//! facts, patch grid and tokens before and after compression), built from the same library
//! calls as the CLI's `src/commands/inspect/mod.rs`; `python/tests/test_inspect.py` checks
//! the two agree.

use crate::errors::to_py;
use crate::facts_bridge::{header_facts, kind_name};
use hulu_compress::{CompressionOptions, MedicalCompressor, TokenCompressor};
use hulu_model::batch::CallOptions;
use hulu_model::VisualSource;
use hulu_vision::{ImageProcessor, PreprocessorConfig, VisualInput};
use pyo3::prelude::*;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The report for `path` as JSON; `model` is a checkpoint directory whose
/// `preprocessor_config.json` sizes the frames (the default settings without one).
#[pyfunction]
#[pyo3(signature = (path, options_json, model=None))]
pub fn inspect_json(
    py: Python<'_>,
    path: PathBuf,
    options_json: &str,
    model: Option<PathBuf>,
) -> PyResult<String> {
    let options = CallOptions::from_json(options_json).map_err(|e| to_py(&e))?;
    py.detach(move || report(&path, &options, model.as_deref()))
}

fn model_error(e: impl std::fmt::Display) -> PyErr {
    crate::errors::ModelError::new_err(e.to_string())
}

fn report(file: &Path, options: &CallOptions, model: Option<&Path>) -> PyResult<String> {
    let _span = tracing::info_span!("inspect", path = %file.display()).entered();
    let config_path = model.map(|m| m.join("preprocessor_config.json"));
    let preprocessor = match config_path {
        Some(p) if p.is_file() => PreprocessorConfig::from_file(&p).map_err(model_error)?,
        _ => PreprocessorConfig::default(),
    };
    let processor = ImageProcessor::new(&preprocessor).map_err(model_error)?;
    let compressor = MedicalCompressor::new(CompressionOptions {
        threshold: options
            .compression_threshold
            .unwrap_or(CompressionOptions::default().threshold),
        ..CompressionOptions::default()
    })
    .map_err(|e| crate::errors::input("compression_threshold", e))?;
    let load = options
        .read_options()
        .load_options()
        .map_err(|e| to_py(&e))?;
    let source = VisualSource::detect(file).map_err(|e| to_py(&e))?;
    let visual = source.load(&load).map_err(|e| to_py(&e))?;
    let header = header_facts(
        &source,
        load.window,
        &load.series,
        load.mixed_orientation,
        load.slices.unwrap_or(load.max_frames).min(load.max_frames),
        &load.limits,
    )
    .map_err(|e| crate::errors::FileError::new_err(format!("{}: {e:#}", file.display())))?;
    let processed = processor
        .process(&[VisualInput::with_default_merge(&visual)])
        .map_err(model_error)?;
    let merged = processed.grids[0];
    let (grid, m) = (merged.grid(), merged.merge());
    let pixels = processed.to_tensor().map_err(model_error)?;
    let mask = compressor
        .keep_mask(&pixels, &processed.grids)
        .map_err(model_error)?;
    let per_frame: Vec<_> = mask
        .frame_stats()
        .iter()
        .map(|f| json!({"kept": f.kept, "tokens": f.tokens}))
        .collect();
    let first = visual.frames.first();
    Ok(json!({
        "input": 0,
        "file": file.display().to_string(),
        "kind": kind_name(&source),
        "visual_kind": format!("{:?}", visual.kind),
        "frames": visual.frames.len(),
        "width": first.map_or(0, |f| f.width),
        "height": first.map_or(0, |f| f.height),
        "timestamps": visual.timestamps,
        "patch_grid": {"frames": grid.frames, "rows": grid.rows, "cols": grid.cols, "merge": m},
        "tokens_per_frame": merged.tokens_per_frame(),
        "tokens": {"before": mask.len(), "after": mask.kept(), "kept_per_frame": per_frame},
        "header": header,
    })
    .to_string())
}
