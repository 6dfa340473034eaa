//! A multi-turn conversation: a system prompt, a question about an image, the answer kept in
//! the history, and a follow-up question that refers back to it. Sampled with a seed.
//!
//! ```text
//! cargo run --example chat -- [MODEL_DIR] [IMAGE]
//! ```
//!
//! The model is stateless between calls: each call gets the whole conversation, and the
//! previous answer goes back in as a `Turn::assistant`. The image is read once and stays in
//! the first user turn.
//!
//! Defaults: the tiny test model in `tests/fixtures/models/tiny-qwen2` (random weights, so
//! the answers are random words) and the CT slice `tests/fixtures/inputs/ct_small.png`.

mod common;

use anyhow::{Context, Result};
use hulu_model::{
    GenerateOptions, Generation, HuluMed, Item, LoadOptions, PrepareOptions, SamplingOptions, Turn,
    VisualSource,
};
use tch::{Device, Kind};

fn main() -> Result<()> {
    let [model_dir, image] = common::paths_or([
        "tests/fixtures/models/tiny-qwen2",
        "tests/fixtures/inputs/ct_small.png",
    ]);

    let model = HuluMed::from_pretrained(&model_dir, Device::Cpu, Kind::Float)
        .with_context(|| format!("loading {}", model_dir.display()))?;
    let scan = VisualSource::from_path(&image)
        .load(&LoadOptions::default())
        .with_context(|| format!("reading {}", image.display()))?;

    // Seeded nucleus sampling: the same seed and conversation give the same answer.
    // (`model.default_sampling(seed)` would take the checkpoint's generation_config.json.)
    let options = GenerateOptions {
        max_new_tokens: 12,
        sampling: SamplingOptions {
            top_p: 0.9,
            ..SamplingOptions::sampled(0.7, 42)
        },
        // Generation ends when the text contains a stop string; the string itself is cut.
        stop_strings: vec!["\n\n".into()],
        ..GenerateOptions::default()
    };

    let mut history = vec![
        Turn::system("You are a careful radiologist. Answer briefly."),
        Turn::user(vec![
            Item::Visual(scan),
            Item::Text("Which body region does this CT slice show?".into()),
        ]),
    ];
    let first = say(&model, &history, &options)?;
    // Keep the answer so that the follow-up is read in its context.
    history.push(Turn::assistant(first.text));
    history.push(Turn::user_text(
        "Which window would you use to look at the lungs?",
    ));
    say(&model, &history, &options)?;

    common::note_if_tiny(&model_dir);
    Ok(())
}

/// Prints the last user question, streams the answer and prints its token accounting.
fn say(model: &HuluMed, history: &[Turn], options: &GenerateOptions) -> Result<Generation> {
    if let Some(Item::Text(question)) = history.last().and_then(|t| t.items.last()) {
        println!("user: {question}");
    }
    print!("assistant: ");
    let generation = model.generate_stream(
        history,
        &PrepareOptions::default(),
        options,
        common::print_piece,
    )?;
    println!();
    let c = &generation.counts;
    println!(
        "  [{} turns, {} prompt tokens ({} text + {} visual), {} generated, finish {:?}]",
        history.len(),
        c.total(),
        c.text,
        c.visual_after,
        generation.ids.len(),
        generation.finish
    );
    Ok(generation)
}
