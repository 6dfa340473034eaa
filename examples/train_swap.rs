//! Swap backbones and train what joins them: the vision side (SigLIP encoder) of one
//! checkpoint, the decoder of another, and a freshly initialised projector of the right
//! widths, trained with the `align` stage (encoder + projector, decoder frozen) on image–caption
//! pairs, saved, reloaded, and asked a question.
//!
//! ```text
//! cargo run --example train_swap -- [OUT_DIR] [STEPS]
//! ```
//!
//! Vision from the tiny Qwen2 test model, decoder from the tiny Qwen3 test model
//! (`tests/fixtures/models/tiny-qwen{2,3}`), captions from `recipes/smoke/captions.jsonl`. The
//! models have random weights, so the answer is random words; the training loss falls.
//!
//! The assembled checkpoint is the decoder's folder (config, tokenizer, template: they belong
//! to the language model) with the vision encoder's config and weights put in, and a projector
//! initialised as PyTorch's `nn.Linear` does (weights and biases uniform in ±1/√fan_in).
//! `hulu ask --model OUT_DIR/aligned` answers from the saved result.

mod common;

use anyhow::{ensure, Context, Result};
use hulu_model::{GenerateOptions, HuluMedBuilder, Item, LoadOptions, PrepareOptions, Turn};
use hulu_nn::{RecordingBackend, VarBuilder};
use hulu_train::{
    Component, Dataset, DatasetOptions, Encoded, OptimizerSettings, Policy, SaveOptions, Schedule,
    Trainer, TrainerOptions,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tch::{Device, Kind, Tensor};

const VISION_PREFIX: &str = "model.vision_encoder.";
const PROJECTOR_PREFIX: &str = "model.mm_projector";

/// What the example did.
struct Report {
    /// Training loss before each step.
    losses: Vec<f64>,
    /// Held-in loss of the trained model in memory and after reloading the saved checkpoint.
    in_memory: f64,
    reloaded: f64,
    /// The saved checkpoint.
    saved: PathBuf,
}

/// `decoder_dir` with the vision encoder of `vision_dir` and a fresh projector, in `out`.
fn assemble(vision_dir: &Path, decoder_dir: &Path, out: &Path, seed: i64) -> Result<()> {
    std::fs::create_dir_all(out)?;
    for entry in std::fs::read_dir(decoder_dir)? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_file() && !name.ends_with(".safetensors") && !name.ends_with(".index.json") {
            std::fs::copy(&path, out.join(path.file_name().unwrap_or_default()))?;
        }
    }
    // The vision encoder's config travels with its weights.
    let read = |dir: &Path| -> Result<serde_json::Value> {
        Ok(serde_json::from_str(&std::fs::read_to_string(
            dir.join("config.json"),
        )?)?)
    };
    let (vision_config, mut config) = (read(vision_dir)?, read(decoder_dir)?);
    config["vision_encoder_config"] = vision_config["vision_encoder_config"].clone();
    std::fs::write(
        out.join("config.json"),
        serde_json::to_string_pretty(&config)?,
    )?;
    let vision_width = config["vision_encoder_config"]["hidden_size"]
        .as_u64()
        .context("vision_encoder_config.hidden_size")? as usize;
    let decoder_width = config["hidden_size"].as_u64().context("hidden_size")? as usize;

    let mut tensors = Vec::new();
    let decoder = hulu_io::Checkpoint::open(decoder_dir)?;
    for key in decoder.keys() {
        if !key.starts_with(VISION_PREFIX) && !key.starts_with(PROJECTOR_PREFIX) {
            tensors.push((
                key.to_string(),
                decoder.tensor(key, None, Kind::Float, Device::Cpu)?,
            ));
        }
    }
    let vision = hulu_io::Checkpoint::open(vision_dir)?;
    for key in vision.keys().filter(|k| k.starts_with(VISION_PREFIX)) {
        tensors.push((
            key.to_string(),
            vision.tensor(key, None, Kind::Float, Device::Cpu)?,
        ));
    }
    // The projector's keys and shapes from a dry build at the new widths.
    let layout = Arc::new(RecordingBackend::new());
    let vb = VarBuilder::from_arc(layout.clone(), Kind::Float, Device::Cpu);
    hulu_vision::Projector::load(&vb.pp(PROJECTOR_PREFIX), vision_width, decoder_width)?;
    let shapes = layout.layout();
    tch::manual_seed(seed);
    for (key, shape) in &shapes {
        let weight = key.replace(".bias", ".weight");
        let fan_in = shapes
            .get(&weight)
            .and_then(|s| s.get(1))
            .copied()
            .unwrap_or(1);
        let bound = 1.0 / (fan_in as f64).sqrt();
        let value =
            (Tensor::rand(shape.as_slice(), (Kind::Float, Device::Cpu)) * 2.0 - 1.0) * bound;
        tensors.push((key.clone(), value));
    }
    Tensor::write_safetensors(&tensors, out.join("model.safetensors"))?;
    Ok(())
}

fn align_options(steps: u64) -> TrainerOptions {
    TrainerOptions {
        policy: Policy::Align,
        optimizer: OptimizerSettings {
            lr: [(Component::Vision, 1e-3), (Component::Projector, 1e-2)].into(),
            schedule: Schedule {
                warmup_steps: 0,
                total_steps: steps,
            },
            ..OptimizerSettings::default()
        },
        memory: hulu_train::Memory::Plain,
        device: Device::Cpu,
        adapter_init: None,
        seed: 0,
        precision: hulu_train::Precision::F32,
    }
}

/// The usable caption rows of `recipes/smoke/captions.jsonl`, encoded for `trainer`.
fn captions(repo: &Path, trainer: &Trainer) -> Result<Vec<Encoded>> {
    let data = Dataset::open(
        &repo.join("recipes/smoke/captions.jsonl"),
        &repo.join("tests/fixtures"),
        DatasetOptions::default(),
    )?;
    let encoded: Vec<Encoded> = (0..data.len())
        .filter_map(|i| data.example(i).ok())
        .filter_map(|e| trainer.encode(&e).ok())
        .collect();
    ensure!(!encoded.is_empty(), "no usable caption row");
    Ok(encoded)
}

fn train_swap(repo: &Path, out: &Path, steps: u64) -> Result<Report> {
    let models = repo.join("tests/fixtures/models");
    let swapped = out.join("swapped");
    assemble(
        &models.join("tiny-qwen2"),
        &models.join("tiny-qwen3"),
        &swapped,
        0,
    )?;
    let mut trainer = Trainer::new(&swapped, align_options(steps))?;
    let encoded = captions(repo, &trainer)?;
    let batch: Vec<&Encoded> = encoded.iter().collect();
    let mut losses = Vec::new();
    for _ in 0..steps {
        losses.push(trainer.step(std::slice::from_ref(&batch))?.loss);
    }
    let in_memory = trainer.eval(&batch)?;
    let saved = out.join("aligned");
    trainer.save_checkpoint(
        &saved,
        &SaveOptions {
            kind: Kind::Float,
            ..SaveOptions::default()
        },
    )?;
    let reloaded = Trainer::new(&saved, align_options(steps))?;
    let again = captions(repo, &reloaded)?;
    let reloaded_loss = reloaded.eval(&again.iter().collect::<Vec<_>>())?;
    Ok(Report {
        losses,
        in_memory,
        reloaded: reloaded_loss,
        saved,
    })
}

#[cfg_attr(test, allow(dead_code))]
fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let out = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("hulu-train-swap"));
    let steps: u64 = match args.next() {
        Some(s) => s.to_string_lossy().parse().context("STEPS is a number")?,
        None => 8,
    };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let report = train_swap(&repo, &out, steps)?;
    for (i, loss) in report.losses.iter().enumerate() {
        println!("step {:>3}  loss {loss:.4}", i + 1);
    }
    println!(
        "held-in loss after training {:.4}, reloaded from {} {:.4}",
        report.in_memory,
        report.saved.display(),
        report.reloaded
    );
    // What `hulu ask --model <saved>` does, in-process.
    let model = HuluMedBuilder::new(&report.saved).build()?;
    let image = repo.join("tests/fixtures/inputs/us_rgb.png");
    let picture = hulu_model::VisualSource::Image(image).load(&LoadOptions::default())?;
    let turns = [Turn::user(vec![
        Item::Visual(picture),
        Item::Text("Describe this image.".into()),
    ])];
    let options = GenerateOptions {
        max_new_tokens: 8,
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
    common::note_if_tiny(&report.saved);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_on_swapped_backbones_lowers_the_loss_and_reloads() {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let out = std::env::temp_dir().join(format!("hulu-train-swap-{}", std::process::id()));
        let report = train_swap(&repo, &out, 6).unwrap();
        let (first, last) = (report.losses[0], *report.losses.last().unwrap());
        assert!(report.losses.iter().all(|l| l.is_finite()));
        // After the last step the loss is below where training started.
        assert!(
            report.in_memory < first && last < first,
            "loss did not fall: {:?}, then {}",
            report.losses,
            report.in_memory
        );
        let rel = (report.reloaded - report.in_memory).abs() / report.in_memory.abs();
        assert!(
            rel <= 1e-5,
            "reloaded {} vs {}",
            report.reloaded,
            report.in_memory
        );
        std::fs::remove_dir_all(&out).unwrap();
    }
}
