//! Ask one question about one picture, streaming the answer as it is generated.
//!
//! ```text
//! cargo run --example ask_image -- [MODEL_DIR] [IMAGE]
//! ```
//!
//! Without arguments it uses the tiny test model shipped in `tests/fixtures/models/tiny-qwen2`
//! and an ultrasound frame from `tests/fixtures/inputs`. The tiny model has random weights, so
//! its answer is a string of random words: the point is the plumbing, not the medicine. Pass a
//! real Hulu-Med checkpoint directory (Hugging Face layout) to get a real answer.

mod common;

use anyhow::{Context, Result};
use hulu_model::{GenerateOptions, HuluMed, Item, LoadOptions, PrepareOptions, Turn, VisualSource};
use tch::{Device, Kind};

fn main() -> Result<()> {
    let [model_dir, image] = common::paths_or([
        "tests/fixtures/models/tiny-qwen2",
        "tests/fixtures/inputs/us_rgb.png",
    ]);

    // Everything a checkpoint directory holds: weights, tokenizer, chat template, image
    // processor settings. Use `Device::Cuda(0)` and `Kind::BFloat16` for a real 7B model.
    let model = HuluMed::from_pretrained(&model_dir, Device::Cpu, Kind::Float)
        .with_context(|| format!("loading {}", model_dir.display()))?;
    println!(
        "model: {} ({:?})",
        model_dir.display(),
        model.config().family()
    );

    // Read the picture into RGB frames. `VisualSource::from_path` guesses the kind from the
    // name; `VisualSource::Image(path)` says it explicitly.
    let visual = VisualSource::Image(image.clone())
        .load(&LoadOptions::default())
        .with_context(|| format!("reading {}", image.display()))?;
    let frame = &visual.frames[0];
    println!(
        "image: {} ({}x{})",
        image.display(),
        frame.width,
        frame.height
    );

    // One user turn: the picture first, then the question, as the reference prompts do.
    let turns = [Turn::user(vec![
        Item::Visual(visual),
        Item::Text("What imaging modality is this, and what structures are visible?".into()),
    ])];
    let options = GenerateOptions {
        max_new_tokens: 24,
        ..GenerateOptions::default() // greedy, stops on the checkpoint's EOS ids
    };

    print!("answer: ");
    let generation = model.generate_stream(
        &turns,
        &PrepareOptions::default(),
        &options,
        common::print_piece,
    )?;
    println!();

    common::print_counts(&generation);
    println!(
        "time to first token {:.2}s, decode {:.1} tok/s",
        generation.timings.time_to_first_token().as_secs_f64(),
        generation.decode_tokens_per_second()
    );
    common::note_if_tiny(&model_dir);
    Ok(())
}
