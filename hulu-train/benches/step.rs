//! One training step (forward + backward + AdamW, `full` policy) on a `bench-qwen2`-shaped
//! checkpoint with an 8-slice volume question: tokens per second, peak RSS and activation
//! memory, float32 and bf16 compute, with and without gradient checkpointing. A plain timer
//! (one warm-up step, then the timed ones): a step takes seconds, far above criterion's
//! resolution.
//!
//! ```text
//! target/release/hulu synth --preset bench-qwen2 --template tests/fixtures/models/tiny-qwen2 --out /tmp/bench-qwen2
//! HULU_BENCH_MODEL=/tmp/bench-qwen2 cargo bench -p hulu-train --bench step
//! ```
//!
//! Run by `cargo test` (no `--bench` argument) it only says how to run it: the checkpoint is
//! built by `hulu synth`, not shipped. Each configuration runs in a process of its own (the
//! binary runs itself with `--bench <f32|bf16> <plain|checkpoint>`), so its peak RSS is its
//! own. `HULU_BENCH_STEPS` sets the timed steps (default 1), `HULU_BENCH_SLICES` the volume's
//! slices (default 8).
//!
//! Memory, Linux's counters of this process: **peak RSS** is `VmHWM` over the whole run
//! (weights, gradients, Adam's moments, activations). **Activation memory** is measured on one
//! more forward + backward after the timed steps, when the weights, gradients and optimizer
//! state already exist: free heap pages are returned (`malloc_trim`), the resident size is
//! read, the high-water mark is restarted (`clear_refs` 5), and the activation memory is the
//! high-water mark of the forward + backward minus that resident size.
//! `bench/reference_step.py` measures PyTorch's the same way.

use hulu_model::{Item, LoadOptions, PrepareOptions, Turn, VisualSource};
use hulu_train::{
    Component, Example, Memory, OptimizerSettings, Policy, Precision, Schedule, Trainer,
    TrainerOptions,
};
use std::path::PathBuf;
use std::time::Instant;

/// A `/proc/self/status` counter in bytes (`VmHWM`, `VmRSS`).
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

extern "C" {
    /// glibc: returns free heap memory to the system.
    fn malloc_trim(pad: usize) -> i32;
}

fn gb(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), |b| format!("{:.2} GB", b as f64 / 1e9))
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
    let args: Vec<String> = std::env::args().collect();
    let Some(at) = args.iter().position(|a| a == "--bench") else {
        println!("training-step benchmark: run with `cargo bench -p hulu-train --bench step` (see its doc)");
        return;
    };
    match (args.get(at + 1), args.get(at + 2)) {
        (Some(precision), Some(memory)) => {
            let precision = Precision::named(precision).expect("precision: f32 or bf16");
            let memory = match memory.as_str() {
                "plain" => Memory::Plain,
                "checkpoint" => Memory::CheckpointLayers,
                other => panic!("memory {other:?}: plain or checkpoint"),
            };
            one(precision, memory);
        }
        _ => {
            println!("| precision | memory | tokens | s/step | tokens/s | peak RSS | activation memory |");
            println!("|---|---|---|---|---|---|---|");
            for precision in ["f32", "bf16"] {
                for memory in ["plain", "checkpoint"] {
                    let out = std::process::Command::new(&args[0])
                        .args(["--bench", precision, memory])
                        .stderr(std::process::Stdio::inherit())
                        .output()
                        .expect("run one configuration");
                    assert!(out.status.success(), "{precision} {memory} failed");
                    print!("{}", String::from_utf8_lossy(&out.stdout));
                }
            }
        }
    }
}

/// One configuration, in this process: prints its table row (and the sizes
/// `bench/reference_step.py` takes, on stderr).
fn one(precision: Precision, memory: Memory) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let model = std::env::var_os("HULU_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/bench-qwen2"));
    let env_number = |name: &str, default: u64| -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let steps = env_number("HULU_BENCH_STEPS", 1).max(1);
    let slices = env_number("HULU_BENCH_SLICES", 8) as usize;
    let volume = VisualSource::Nifti(root.join("tests/fixtures/inputs/anatomical.nii"))
        .load(&LoadOptions {
            slices: Some(slices),
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
    let mut trainer =
        Trainer::new(&model, options(precision, memory, steps + 2)).expect("the checkpoint");
    let encoded = trainer.encode(&example).expect("the example");
    let patches = encoded
        .visuals
        .as_ref()
        .map_or(0, |v| v.pixel_values.size()[0]);
    eprintln!(
        "{} {precision:?} {memory:?}: {steps} timed step(s) after one warm-up; reference sizes: --tokens {} --patches {patches} --frames {slices} --labels {}",
        model.display(),
        encoded.input_ids.len(),
        encoded.targets()
    );
    let batch = vec![&encoded];
    let batches = std::slice::from_ref(&batch);
    trainer.step(batches).expect("warm-up step");
    let start = Instant::now();
    for _ in 0..steps {
        trainer.step(batches).expect("step");
    }
    let per_step = start.elapsed().as_secs_f64() / steps as f64;
    let peak = status_bytes("VmHWM:");
    // Activation memory: one more forward + backward over the existing weights, gradients
    // and optimizer state.
    // SAFETY: malloc_trim only returns free pages of glibc's heap; it takes no pointers.
    unsafe { malloc_trim(0) };
    let resident = status_bytes("VmRSS:");
    reset_peak_rss();
    trainer.accumulate(batches).expect("forward and backward");
    let activations = status_bytes("VmHWM:")
        .zip(resident)
        .map(|(high, before)| high.saturating_sub(before));
    let tokens = encoded.input_ids.len();
    println!(
        "| {precision:?} | {memory:?} | {tokens} | {per_step:.2} | {:.1} | {} | {} |",
        tokens as f64 / per_step,
        gb(peak),
        gb(activations)
    );
}
