//! One training step (forward + backward + AdamW, `full` policy) on a `bench-qwen2`-shaped
//! checkpoint with an 8-slice volume question: tokens per second and peak RSS, float32 and
//! bf16 compute, with and without gradient checkpointing. A plain timer (one warm-up step,
//! then the timed ones): a step takes seconds, far above criterion's resolution.
//!
//! ```text
//! target/release/hulu synth --preset bench-qwen2 --template tests/fixtures/models/tiny-qwen2 --out /tmp/bench-qwen2
//! HULU_BENCH_MODEL=/tmp/bench-qwen2 cargo bench -p hulu-train --bench step
//! ```
//!
//! Run by `cargo test` (no `--bench` argument) it only says how to run it: the checkpoint is
//! built by `hulu synth`, not shipped. `HULU_BENCH_STEPS` sets the timed steps (default 1).
//! Peak RSS is the Linux high-water mark (`VmHWM`), restarted per configuration with
//! `clear_refs` 5; it includes the weights, gradients and Adam's moments.

use hulu_model::{Item, LoadOptions, PrepareOptions, Turn, VisualSource};
use hulu_train::{
    Component, Example, Memory, OptimizerSettings, Policy, Precision, Schedule, Trainer,
    TrainerOptions,
};
use std::path::PathBuf;
use std::time::Instant;

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn options(precision: Precision, memory: Memory, steps: u64) -> TrainerOptions {
    TrainerOptions {
        policy: Policy::Full,
        optimizer: OptimizerSettings {
            lr: Component::ALL.iter().map(|&c| (c, 1e-5)).collect(),
            schedule: Schedule {
                warmup_steps: 0,
                total_steps: steps + 1,
            },
            ..OptimizerSettings::default()
        },
        memory,
        device: tch::Device::Cpu,
        adapter_init: None,
        seed: 0,
        precision,
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("training-step benchmark: run with `cargo bench -p hulu-train --bench step` (see its doc)");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let model = std::env::var_os("HULU_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/bench-qwen2"));
    let steps: u64 = std::env::var("HULU_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let volume = VisualSource::Nifti(root.join("tests/fixtures/inputs/anatomical.nii"))
        .load(&LoadOptions {
            slices: Some(8),
            ..LoadOptions::default()
        })
        .expect("the fixture volume");
    let example = Example {
        turns: vec![
            Turn::user(vec![
                Item::Visual(volume),
                Item::Text("Describe the findings in this MR volume.".into()),
            ]),
            Turn::assistant("An axial T1-weighted MR volume of the head without focal lesions."),
        ],
        options: PrepareOptions::default(),
    };
    println!(
        "model {}, {steps} timed step(s) after one warm-up",
        model.display()
    );
    println!("| precision | memory | tokens | s/step | tokens/s | peak RSS |");
    println!("|---|---|---|---|---|---|");
    for precision in [Precision::F32, Precision::Bf16] {
        for memory in [Memory::Plain, Memory::CheckpointLayers] {
            reset_peak_rss();
            let mut trainer =
                Trainer::new(&model, options(precision, memory, steps)).expect("the checkpoint");
            let encoded = trainer.encode(&example).expect("the example");
            if precision == Precision::F32 && memory == Memory::Plain {
                // The sizes bench/reference_step.py takes.
                let patches = encoded
                    .visuals
                    .as_ref()
                    .map_or(0, |v| v.pixel_values.size()[0]);
                println!(
                    "sizes: --tokens {} --patches {patches} --labels {}",
                    encoded.input_ids.len(),
                    encoded.targets()
                );
            }
            let batch = vec![&encoded];
            trainer
                .step(std::slice::from_ref(&batch))
                .expect("warm-up step");
            let start = Instant::now();
            for _ in 0..steps {
                trainer.step(std::slice::from_ref(&batch)).expect("step");
            }
            let per_step = start.elapsed().as_secs_f64() / steps as f64;
            let tokens = encoded.input_ids.len();
            let rss =
                peak_rss_bytes().map_or("n/a".into(), |b| format!("{:.2} GB", b as f64 / 1e9));
            println!(
                "| {precision:?} | {memory:?} | {tokens} | {per_step:.2} | {:.1} | {rss} |",
                tokens as f64 / per_step
            );
        }
    }
}
