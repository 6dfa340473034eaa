//! Resume equals straight; saved checkpoints and adapters load back with the same logits;
//! gradient checkpointing gives the plain gradients.

mod common;

use common::*;
use hulu_llm::LogitsFor;
use hulu_model::HuluMed;
use hulu_train::example::decoder_input;
use hulu_train::{Encoded, Memory, SaveOptions, Trainer};
use tch::{Device, Kind};

fn case(suffix: &str) -> TrainCase {
    train_cases()
        .into_iter()
        .find(|c| c.label.ends_with(suffix))
        .unwrap_or_else(|| panic!("a training case {suffix}"))
}

fn encode_all(trainer: &Trainer, case: &TrainCase) -> Vec<Encoded> {
    examples(case)
        .iter()
        .map(|e| trainer.encode(e).unwrap())
        .collect()
}

fn steps(trainer: &mut Trainer, encoded: &[Encoded], n: usize) {
    let batch: Vec<&Encoded> = encoded.iter().collect();
    for _ in 0..n {
        trainer.step(std::slice::from_ref(&batch)).unwrap();
    }
}

/// Logits of every position of `encoded` through `model`.
fn logits(model: &HuluMed, encoded: &Encoded) -> Vec<f32> {
    tch::no_grad(|| {
        let (embeds, _) = decoder_input(model, encoded).unwrap();
        let out = model
            .decoder()
            .forward(&embeds.unsqueeze(0), LogitsFor::All)
            .unwrap();
        values(&out.logits.unwrap())
    })
}

fn max_rel(a: &[f32], b: &[f32]) -> f64 {
    rel_l2(a, b)
}

#[test]
fn two_steps_resumed_then_two_more_equal_four_straight() {
    let case = case("tiny-qwen2/sft_text_multiturn");
    let options = trainer_options(&case, Memory::Plain);
    let mut straight = Trainer::new(&case.model_dir, options.clone()).unwrap();
    let encoded = encode_all(&straight, &case);
    steps(&mut straight, &encoded, 4);

    let state = tempdir("resume");
    let mut first = Trainer::new(&case.model_dir, options.clone()).unwrap();
    steps(&mut first, &encoded, 2);
    first
        .save_state(&state, &serde_json::json!({"data_position": 2}))
        .unwrap();
    drop(first);
    let mut resumed = Trainer::new(&case.model_dir, options).unwrap();
    let run = resumed.load_state(&state).unwrap();
    assert_eq!(run["data_position"], 2);
    assert_eq!(resumed.optimizer().step_count(), 2);
    steps(&mut resumed, &encoded, 2);
    for (a, b) in straight.params().iter().zip(resumed.params()) {
        assert_eq!(a.key, b.key);
        let r = rel_l2(&values(&b.tensor), &values(&a.tensor));
        assert!(
            r <= 1e-6,
            "{}: resumed differs from straight by {r:.2e}",
            a.key
        );
    }
}

#[test]
fn a_saved_full_checkpoint_loads_back_with_the_same_logits() {
    let case = case("tiny-qwen3/batch2_text_and_image");
    let mut trainer = Trainer::new(&case.model_dir, trainer_options(&case, Memory::Plain)).unwrap();
    let encoded = encode_all(&trainer, &case);
    steps(&mut trainer, &encoded, 2);
    let out = tempdir("full");
    let options = SaveOptions {
        kind: Kind::Float,
        shard_bytes: 8 << 20,
        merge_adapters: true,
    };
    trainer.save_checkpoint(&out, &options).unwrap();
    assert!(
        out.join("model.safetensors.index.json").is_file(),
        "sharded past the limit"
    );
    assert!(out.join("config.json").is_file() && out.join("chat_template.json").is_file());
    let reloaded = HuluMed::from_pretrained(&out, Device::Cpu, Kind::Float).unwrap();
    for e in &encoded {
        let r = max_rel(&logits(&reloaded, e), &logits(trainer.model(), e));
        assert!(r <= 1e-6, "reloaded logits differ by {r:.2e}");
    }
}

#[test]
fn a_saved_adapter_reloads_with_the_same_logits_in_peft_layout() {
    let case = case("tiny-qwen2/lora_image");
    let options = trainer_options(&case, Memory::Plain);
    let mut trainer = Trainer::new(&case.model_dir, options.clone()).unwrap();
    let encoded = encode_all(&trainer, &case);
    steps(&mut trainer, &encoded, 2);
    let out = tempdir("adapter");
    trainer.save_adapter(&out).unwrap();

    // PEFT's keys and shapes, as the fixture's adapter holds them.
    let ours = hulu_testkit::TensorFile::open(&out.join("adapter_model.safetensors"));
    let init = case.adapter_init.clone().unwrap();
    let theirs = hulu_testkit::TensorFile::open(&init.join("adapter_model.safetensors"));
    assert_eq!(ours.names(), theirs.names());
    for name in theirs.names() {
        assert_eq!(ours.get(&name).shape, theirs.get(&name).shape, "{name}");
    }

    let reloaded = Trainer::new(
        &case.model_dir,
        hulu_train::TrainerOptions {
            adapter_init: Some(out.clone()),
            ..options
        },
    )
    .unwrap();
    let merged_dir = tempdir("merged");
    trainer
        .save_checkpoint(
            &merged_dir,
            &SaveOptions {
                kind: Kind::Float,
                ..SaveOptions::default()
            },
        )
        .unwrap();
    let merged = HuluMed::from_pretrained(&merged_dir, Device::Cpu, Kind::Float).unwrap();
    for e in &encoded {
        let want = logits(trainer.model(), e);
        let r = max_rel(&logits(reloaded.model(), e), &want);
        assert!(r <= 1e-6, "reloaded adapter's logits differ by {r:.2e}");
        let r = max_rel(&logits(&merged, e), &want);
        assert!(r <= 1e-5, "merged checkpoint's logits differ by {r:.2e}");
    }
}

#[test]
fn checkpointed_layers_and_vision_give_the_plain_gradients() {
    // Vision recomputation layer by layer: `align` trains the encoder and projector through
    // the recomputed encoder layers; `batch2` (full) pushes two examples through.
    for suffix in [
        "tiny-qwen2/batch2_text_and_image",
        "tiny-qwen3/lora_image",
        "tiny-qwen2/align_image",
        "tiny-qwen3/align_image",
    ] {
        let case = case(suffix);
        let mut grads = Vec::new();
        for memory in [Memory::Plain, Memory::CheckpointLayers] {
            let mut trainer =
                Trainer::new(&case.model_dir, trainer_options(&case, memory)).unwrap();
            let encoded = encode_all(&trainer, &case);
            let loss = trainer.accumulate(&[encoded.iter().collect()]).unwrap();
            let g: Vec<(String, Vec<f32>)> = trainer
                .params()
                .iter()
                .map(|p| (p.key.clone(), values(&p.tensor.grad())))
                .collect();
            grads.push((loss, g));
        }
        let ((plain_loss, plain), (ck_loss, ck)) = (&grads[0], &grads[1]);
        assert!(
            (plain_loss - ck_loss).abs() <= 1e-6 * plain_loss.abs(),
            "{suffix}: losses"
        );
        for ((key, a), (_, b)) in plain.iter().zip(ck) {
            let r = rel_l2(b, a);
            assert!(
                r <= 1e-5,
                "{suffix}: {key} checkpointed grad differs by {r:.2e}"
            );
        }
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hulu-train-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
