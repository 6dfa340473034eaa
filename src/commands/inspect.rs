//! `hulu inspect`: what a visual file holds and how many tokens it would cost, before and after
//! compression, without loading any weights.

use super::common::{ModelArgs, VisualArgs};
use anyhow::Result;
use clap::Args;
use hulu_compress::{CompressionOptions, MedicalCompressor, TokenCompressor};
use hulu_model::VisualSource;
use hulu_vision::PreprocessorConfig;
use hulu_vision::{ImageProcessor, VisualInput};
use std::path::PathBuf;

/// Arguments of `hulu inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    visual: VisualArgs,
    /// Files to inspect (images, NIfTI, DICOM files or series folders, videos).
    files: Vec<PathBuf>,
}

/// Prints, for each file, its frames and the token accounting.
pub fn run(args: &InspectArgs) -> Result<()> {
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
    for file in &args.files {
        let visual = VisualSource::from_path(file).load(&options)?;
        println!("{}", file.display());
        let first = visual.frames.first();
        println!(
            "  {:?}: {} frame(s) of {}x{} pixels{}",
            visual.kind,
            visual.frames.len(),
            first.map_or(0, |f| f.width),
            first.map_or(0, |f| f.height),
            visual
                .timestamps
                .as_ref()
                .map(|t| format!(
                    ", {:.2}s to {:.2}s",
                    t.first().copied().unwrap_or(0.0),
                    t.last().copied().unwrap_or(0.0)
                ))
                .unwrap_or_default()
        );
        let input = VisualInput::with_default_merge(&visual);
        let processed = processor.process(&[input])?;
        let grid = processed.grids[0];
        let m = grid.merge();
        let pixels = processed.to_tensor()?;
        let mask = compressor.keep_mask(&pixels, &processed.grids)?;
        let (tokens, kept) = (mask.len(), mask.kept());
        println!(
            "  patch grid {} x {} x {}, merge {m}x{m}: {} tokens per frame",
            grid.frames,
            grid.rows,
            grid.cols,
            grid.tokens_per_frame()
        );
        println!(
            "  tokens: {tokens} without compression, {kept} with compression (ratio {:.2})",
            kept as f64 / tokens.max(1) as f64
        );
        let per_frame: Vec<String> = mask
            .frame_stats()
            .iter()
            .map(|f| format!("{}/{}", f.kept, f.tokens))
            .collect();
        println!("  kept per frame: {}", per_frame.join(" "));
    }
    Ok(())
}
