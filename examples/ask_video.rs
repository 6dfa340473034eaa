//! Ask about a video: an ultrasound cine loop stored as multi-frame DICOM, or an MP4 file.
//!
//! ```text
//! cargo run --example ask_video -- [MODEL_DIR] [VIDEO.mp4 | CINE.dcm]
//! ```
//!
//! A cine loop is a video: its frames are sampled at a chosen rate (here 10 per second) and
//! carry their timestamps, which the chat template writes before each frame. A path ending in
//! `.mp4` is read as an H.264 video with `VisualSource::Video`; anything else as DICOM.
//!
//! Defaults: the tiny test model in `tests/fixtures/models/tiny-qwen2` (random weights, so
//! the answer is random words) and the 30-frame colour ultrasound cine
//! `tests/fixtures/io/dicom/examples_ybr_color.dcm`.

mod common;

use anyhow::{Context, Result};
use hulu_model::{GenerateOptions, HuluMed, Item, LoadOptions, PrepareOptions, Turn, VisualSource};
use tch::{Device, Kind};

fn main() -> Result<()> {
    let [model_dir, video] = common::paths_or([
        "tests/fixtures/models/tiny-qwen2",
        "tests/fixtures/io/dicom/examples_ybr_color.dcm",
    ]);

    let model = HuluMed::from_pretrained(&model_dir, Device::Cpu, Kind::Float)
        .with_context(|| format!("loading {}", model_dir.display()))?;

    let is_mp4 = video
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("mp4"));
    let source = if is_mp4 {
        VisualSource::Video(video.clone())
    } else {
        VisualSource::Dicom(video.clone())
    };
    // Sample 10 frames per second (the reference default is 1), at most 180 frames.
    let options = LoadOptions {
        fps: Some(10.0),
        ..LoadOptions::default()
    };
    let clip = source
        .load(&options)
        .with_context(|| format!("reading {}", video.display()))?;
    let first = &clip.frames[0];
    println!(
        "video: {} -> {:?}, {} frames of {}x{}",
        video.display(),
        clip.kind,
        clip.frames.len(),
        first.width,
        first.height
    );
    if let Some(times) = &clip.timestamps {
        let times: Vec<String> = times.iter().map(|t| format!("{t:.1}s")).collect();
        println!("frame times: {}", times.join(" "));
    }

    let turns = [Turn::user(vec![
        Item::Visual(clip),
        Item::Text("What does this ultrasound clip show?".into()),
    ])];
    let generate = GenerateOptions {
        max_new_tokens: 16,
        ..GenerateOptions::default()
    };
    print!("answer: ");
    let generation = model.generate_stream(
        &turns,
        &PrepareOptions::default(),
        &generate,
        common::print_piece,
    )?;
    println!();
    common::print_counts(&generation);
    common::note_if_tiny(&model_dir);
    Ok(())
}
