//! Assemble a model from parts: the vision side (SigLIP encoder + projector) of one
//! checkpoint and the language model of another.
//!
//! ```text
//! cargo run --example swap_backbone -- [VISION_DIR] [DECODER_DIR] [IMAGE]
//! ```
//!
//! Defaults: vision from the tiny Qwen2 test model, decoder from the tiny Qwen3 test model
//! (`tests/fixtures/models/tiny-qwen{2,3}`). Both have random weights, so the answer is random
//! words; the point is which pieces have to agree.
//!
//! The builder starts from the *decoder's* directory: the tokenizer, chat template, EOS ids
//! and `config.json` belong to the language model, so they must come from where its weights
//! come from. The vision parts are handed in already loaded. They fit when the projector maps
//! the encoder's width to the decoder's width, and the image token id is inside the decoder's
//! vocabulary (the builder checks both). The image processor settings still come from the
//! decoder's directory; here both checkpoints use the same patch size and pixel budget.

mod common;

use anyhow::{bail, Context, Result};
use hulu_model::HuluConfig;
use hulu_model::{GenerateOptions, HuluMedBuilder, Item, LoadOptions, PrepareOptions, Turn};
use hulu_nn::VarBuilder;
use hulu_vision::{Projector, SiglipNavitEncoder, VisionEncoder};
use tch::{Device, Kind};

fn main() -> Result<()> {
    let [vision_dir, decoder_dir, image] = common::paths_or([
        "tests/fixtures/models/tiny-qwen2",
        "tests/fixtures/models/tiny-qwen3",
        "tests/fixtures/inputs/us_rgb.png",
    ]);
    let (device, kind) = (Device::Cpu, Kind::Float);

    let vision_config = HuluConfig::from_file(vision_dir.join("config.json"))?;
    let decoder_config = HuluConfig::from_file(decoder_dir.join("config.json"))?;
    let vision_width = vision_config.vision_encoder_config.hidden_size;
    let decoder_width = decoder_config.hidden_size();
    // The projector was trained to map into the vision checkpoint's own decoder width; it can
    // only feed a decoder of that same width.
    if vision_config.hidden_size() != decoder_width {
        bail!(
            "the projector of {} outputs {} features but the decoder of {} is {} wide",
            vision_dir.display(),
            vision_config.hidden_size(),
            decoder_dir.display(),
            decoder_width
        );
    }

    // Load the encoder and projector from the vision checkpoint (safetensors read per tensor;
    // the keys live under `model.vision_encoder` and `model.mm_projector`).
    let weights = VarBuilder::from_dir(&vision_dir, kind, device)?;
    let encoder = SiglipNavitEncoder::load(
        &vision_config.vision_encoder_config,
        &weights.pp("model.vision_encoder"),
    )?;
    let projector = Projector::load(
        &weights.pp("model.mm_projector"),
        vision_width,
        vision_config.hidden_size(),
    )?;
    println!(
        "vision : SigLIP encoder ({} layers, width {}) + projector {} -> {}, from {}",
        vision_config.vision_encoder_config.num_hidden_layers,
        encoder.hidden_size(),
        vision_width,
        vision_config.hidden_size(),
        vision_dir.display()
    );

    // The decoder (and everything else not supplied) is loaded from the builder's directory.
    let model = HuluMedBuilder::new(&decoder_dir)
        .device(device)
        .kind(kind)
        .vision(Box::new(encoder), projector)
        .build()
        .context("assembling the model")?;
    let dc = model.decoder().config();
    println!(
        "decoder: {:?} ({} layers, width {}, vocabulary {}), tokenizer and template from {}",
        dc.family,
        dc.num_hidden_layers,
        dc.hidden_size,
        dc.vocab_size,
        model.dir().display()
    );

    let picture = hulu_model::VisualSource::Image(image.clone())
        .load(&LoadOptions::default())
        .with_context(|| format!("reading {}", image.display()))?;
    let turns = [Turn::user(vec![
        Item::Visual(picture),
        Item::Text("What organ is shown in this ultrasound image?".into()),
    ])];
    let options = GenerateOptions {
        max_new_tokens: 16,
        ..GenerateOptions::default()
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
    common::note_if_tiny(&decoder_dir);
    Ok(())
}
