//! Ask about 3-D scans: a NIfTI volume and a DICOM CT series, with visual-token compression.
//!
//! ```text
//! cargo run --example ask_volume -- [MODEL_DIR] [NIFTI] [DICOM_SERIES_DIR]
//! ```
//!
//! A volume goes to the model as a stack of 2-D slices (a video without timestamps). Adjacent
//! slices look alike, so Hulu-Med's token compression drops the visual tokens of a slice that
//! barely differ from the slice before; the example prints the tokens before and after.
//!
//! Defaults: the tiny test model in `tests/fixtures/models/tiny-qwen2` (random weights, so
//! the answers are random words), `tests/fixtures/inputs/anatomical.nii` (8 axial slices are
//! taken) and the 5-slice CT series `tests/fixtures/io/dicom/series_ct5n`, shown through a
//! mediastinal window.

mod common;

use anyhow::{Context, Result};
use hulu_io::nifti::{SliceAxis, Window};
use hulu_io::Visual;
use hulu_model::{GenerateOptions, HuluMed, Item, LoadOptions, PrepareOptions, Turn, VisualSource};
use tch::{Device, Kind};

fn main() -> Result<()> {
    let [model_dir, nifti, series] = common::paths_or([
        "tests/fixtures/models/tiny-qwen2",
        "tests/fixtures/inputs/anatomical.nii",
        "tests/fixtures/io/dicom/series_ct5n",
    ]);

    let model = HuluMed::from_pretrained(&model_dir, Device::Cpu, Kind::Float)
        .with_context(|| format!("loading {}", model_dir.display()))?;

    // NIfTI: 8 slices evenly spaced along the axial axis (resolved from the affine), each
    // slice min-max scaled to grey levels as the reference does.
    let nifti_options = LoadOptions {
        slices: Some(8),
        axis: SliceAxis::Axial,
        ..LoadOptions::default()
    };
    let volume = VisualSource::Nifti(nifti.clone())
        .load(&nifti_options)
        .with_context(|| format!("reading {}", nifti.display()))?;
    println!("== NIfTI {}", nifti.display());
    ask(
        &model,
        volume,
        "Describe the anatomy shown in this MRI volume.",
    )?;

    // DICOM: a folder is read as one series, slices ordered along the slice normal. A CT
    // window preset (centre/width in Hounsfield units) replaces the files' own window.
    let dicom_options = LoadOptions {
        window: Some(Window::preset("mediastinum")?),
        ..LoadOptions::default()
    };
    let ct = VisualSource::Dicom(series.clone())
        .load(&dicom_options)
        .with_context(|| format!("reading {}", series.display()))?;
    println!("== DICOM series {}", series.display());
    ask(&model, ct, "Is there any abnormality in this chest CT?")?;

    common::note_if_tiny(&model_dir);
    Ok(())
}

/// Prepares the question with compression on, shows what compression kept, then streams the
/// answer from the prepared prompt.
fn ask(model: &HuluMed, volume: Visual, question: &str) -> Result<()> {
    let first = &volume.frames[0];
    println!(
        "{} slices of {}x{}",
        volume.frames.len(),
        first.width,
        first.height
    );
    let turns = [Turn::user(vec![
        Item::Visual(volume),
        Item::Text(question.into()),
    ])];
    // `compression: Some(true)` forces it on; `None` follows the checkpoint's
    // `use_token_compression` (off in the tiny model).
    let prepare = PrepareOptions {
        compression: Some(true),
        ..PrepareOptions::default()
    };
    // `prepare` runs everything up to the decoder (template, image processing, vision
    // encoder, compression) and keeps the intermediate results; `generate_stream` would do the
    // same in one call.
    let prepared = model.prepare(&turns, &prepare)?;
    let kept: Vec<String> = prepared
        .frames
        .iter()
        .map(|f| format!("{}/{}", f.kept, f.tokens))
        .collect();
    // The first slice keeping a single token is the reference's behaviour (its frame-0
    // sentinel falls under the threshold); `hulu_compress::CompressionOptions` has
    // `keep_first_frame` to keep it whole, passed in with `HuluMedBuilder::compressor`.
    println!("visual tokens kept per slice: {}", kept.join(" "));

    let options = GenerateOptions {
        max_new_tokens: 16,
        ..GenerateOptions::default()
    };
    print!("answer: ");
    let generation = model.generate_prepared(&prepared, &options, common::print_piece)?;
    println!();
    let c = &generation.counts;
    println!(
        "tokens: {} text + {} visual = {} prompt; visual before compression {}, after {} \
         (ratio {:.2}); {} generated, finish {:?}",
        c.text,
        c.visual_after,
        c.total(),
        c.visual_before,
        c.visual_after,
        c.compression_ratio(),
        generation.ids.len(),
        generation.finish
    );
    Ok(())
}
