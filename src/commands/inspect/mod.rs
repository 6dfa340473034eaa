//! `hulu inspect`: what a visual file holds, what the model would see of it and how many
//! tokens it would cost before and after compression, without loading any weights.

mod facts;
mod font;
mod frames_out;

use super::common::{reading_error, ModelArgs, VisualArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use hulu_compress::{CompressionOptions, MedicalCompressor, TokenCompressor};
use hulu_model::VisualSource;
use hulu_vision::PreprocessorConfig;
use hulu_vision::{ImageProcessor, VisualInput};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `hulu inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    visual: VisualArgs,
    /// Print one JSON array, an object per input, instead of text.
    #[arg(long)]
    json: bool,
    /// Write every frame as handed to the image processor (before resizing) as 8-bit RGB
    /// PNG, DIR/<input index>/<frame index, 4 digits>.png, both zero-based.
    #[arg(long, value_name = "DIR")]
    save_frames: Option<PathBuf>,
    /// Write the frames of the one input as a labelled grid (index, then slice position or
    /// timestamp), the areas of tokens compression drops shaded red.
    #[arg(long, value_name = "OUT.png")]
    contact_sheet: Option<PathBuf>,
    /// Files to inspect (images, NIfTI, NRRD, MetaImage, DICOM files, folders, zips or
    /// DICOMDIR exports, videos), told apart by content.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Prints, for each file, its frames, header facts and the token accounting.
///
/// # Errors
/// When a file cannot be read or processed, or an output cannot be written (a closed
/// stdout is reported as an [`std::io::ErrorKind::BrokenPipe`] error the caller ends on
/// quietly).
pub fn run(args: &InspectArgs) -> Result<()> {
    if args.contact_sheet.is_some() && args.files.len() != 1 {
        bail!(
            "--contact-sheet draws one input; {} were given",
            args.files.len()
        );
    }
    let config_path = args.model.model.join("preprocessor_config.json");
    let preprocessor = if config_path.is_file() {
        PreprocessorConfig::from_file(&config_path)?
    } else {
        PreprocessorConfig::default()
    };
    let processor = ImageProcessor::new(&preprocessor)?;
    let compressor = MedicalCompressor::new(CompressionOptions {
        threshold: args
            .visual
            .threshold
            .unwrap_or(CompressionOptions::default().threshold),
        ..CompressionOptions::default()
    })?;
    let options = args.visual.load_options()?;
    let mut stdout = std::io::stdout().lock();
    let mut reports = Vec::new();
    for (index, file) in args.files.iter().enumerate() {
        let source = VisualSource::detect(file).map_err(|e| reading_error(file, e))?;
        let visual = source.load(&options).map_err(|e| reading_error(file, e))?;
        let header = facts::header_facts(
            &source,
            options.window,
            &options.series,
            options.mixed_orientation,
            options
                .slices
                .unwrap_or(options.max_frames)
                .min(options.max_frames),
            &options.limits,
        )
        .with_context(|| format!("reading the header of {}", file.display()))?;
        let input = VisualInput::with_default_merge(&visual);
        let processed = processor.process(&[input])?;
        let merged = processed.grids[0];
        let (grid, m) = (merged.grid(), merged.merge());
        let pixels = processed.to_tensor()?;
        let mask = compressor.keep_mask(&pixels, &processed.grids)?;
        let per_frame: Vec<Value> = mask
            .frame_stats()
            .iter()
            .map(|f| json!({"kept": f.kept, "tokens": f.tokens}))
            .collect();
        let first = visual.frames.first();
        let report = json!({
            "input": index,
            "file": file.display().to_string(),
            "kind": facts::kind_name(&source),
            "visual_kind": format!("{:?}", visual.kind),
            "frames": visual.frames.len(),
            "width": first.map_or(0, |f| f.width),
            "height": first.map_or(0, |f| f.height),
            "timestamps": visual.timestamps,
            "patch_grid": {"frames": grid.frames, "rows": grid.rows, "cols": grid.cols, "merge": m},
            "tokens_per_frame": merged.tokens_per_frame(),
            "tokens": {"before": mask.len(), "after": mask.kept(), "kept_per_frame": per_frame},
            "header": header,
        });
        if let Some(dir) = &args.save_frames {
            frames_out::save_frames(dir, index, &visual)?;
        }
        if let Some(out) = &args.contact_sheet {
            let tpf = merged.tokens_per_frame();
            let keep: Vec<Vec<bool>> = mask
                .as_slice()
                .chunks(tpf.max(1))
                .map(<[bool]>::to_vec)
                .collect();
            let labels = frame_labels(&report);
            frames_out::contact_sheet(out, &visual, &labels, &keep, grid.rows / m, grid.cols / m)?;
        }
        if !args.json {
            write_plain(&mut stdout, &report)?;
        }
        reports.push(report);
    }
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&reports)?)?;
    }
    stdout.flush()?;
    Ok(())
}

/// Each frame's label after its index: `t=1.00s` for video, `p=-12.5` (mm along the slice
/// normal) for a DICOM series, nothing otherwise.
fn frame_labels(report: &Value) -> Vec<String> {
    if let Some(ts) = report["timestamps"].as_array() {
        return ts
            .iter()
            .map(|t| format!("t={:.2}s", t.as_f64().unwrap_or(0.0)))
            .collect();
    }
    if let Some(ps) = report["header"]["frame_positions_mm"].as_array() {
        return ps
            .iter()
            .map(|p| format!("p={:.1}", p.as_f64().unwrap_or(0.0)))
            .collect();
    }
    Vec::new()
}

/// The report as readable lines.
fn write_plain(out: &mut impl Write, r: &Value) -> std::io::Result<()> {
    writeln!(out, "{}", r["file"].as_str().unwrap_or_default())?;
    let span = r["timestamps"]
        .as_array()
        .map(|t| {
            format!(
                ", {:.2}s to {:.2}s",
                t.first().and_then(Value::as_f64).unwrap_or(0.0),
                t.last().and_then(Value::as_f64).unwrap_or(0.0)
            )
        })
        .unwrap_or_default();
    writeln!(
        out,
        "  {}: {} frame(s) of {}x{} pixels{span} (read as {})",
        r["visual_kind"].as_str().unwrap_or_default(),
        r["frames"],
        r["width"],
        r["height"],
        r["kind"].as_str().unwrap_or_default(),
    )?;
    if let Some(header) = r["header"].as_object() {
        for line in facts::plain_lines(header) {
            writeln!(out, "  {line}")?;
        }
    }
    let g = &r["patch_grid"];
    writeln!(
        out,
        "  patch grid {} x {} x {}, merge {m}x{m}: {} tokens per frame",
        g["frames"],
        g["rows"],
        g["cols"],
        r["tokens_per_frame"],
        m = g["merge"]
    )?;
    let (before, after) = (
        r["tokens"]["before"].as_u64().unwrap_or(0),
        r["tokens"]["after"].as_u64().unwrap_or(0),
    );
    writeln!(
        out,
        "  tokens: {before} without compression, {after} with compression (ratio {:.2})",
        after as f64 / before.max(1) as f64
    )?;
    let per_frame: Vec<String> = r["tokens"]["kept_per_frame"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| format!("{}/{}", f["kept"], f["tokens"]))
                .collect()
        })
        .unwrap_or_default();
    writeln!(out, "  kept per frame: {}", per_frame.join(" "))
}
