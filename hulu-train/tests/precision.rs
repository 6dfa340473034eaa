//! bf16 compute over float32 masters against float32 training on the tiny model.
//!
//! The bound on the parameters after one step: both runs start from the same float32 values
//! (the masters are read from the checkpoint), AdamW's first update of an element is
//! `-lr · m̂ / (√v̂ + ε)` with `m̂ = g` and `√v̂ = |g|` (bias-corrected, one step), so it lies
//! in `[-lr, lr]` whatever the gradient's precision, and weight decay scales both runs alike.
//! The two runs' parameters therefore differ by at most `2 · lr` per element (a gradient
//! whose sign bf16 flips), and by far less where the gradients agree in sign.

mod common;

use common::*;
use hulu_train::{Encoded, Memory, Precision, Trainer};
use tch::Kind;

fn max_abs(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from((x - y).abs()))
        .fold(0.0, f64::max)
}

#[test]
fn bf16_step_matches_f32_within_the_derived_bounds() {
    let case = train_cases()
        .into_iter()
        .find(|c| c.label.ends_with("tiny-qwen2/batch2_text_and_image"))
        .expect("the batch2 case");
    let mut options = trainer_options(&case, Memory::Plain);
    // A full learning rate at the first step (no warm-up), so the step moves every weight.
    options.optimizer.schedule.warmup_steps = 0;
    let mut runs = Vec::new();
    for precision in [Precision::F32, Precision::Bf16] {
        let options = hulu_train::TrainerOptions {
            precision,
            ..options.clone()
        };
        let mut trainer = Trainer::new(&case.model_dir, options).unwrap();
        let encoded: Vec<Encoded> = examples(&case)
            .iter()
            .map(|e| trainer.encode(e).unwrap())
            .collect();
        let before: Vec<Vec<f32>> = trainer
            .params()
            .iter()
            .map(|p| values(p.master.as_ref().unwrap_or(&p.tensor)))
            .collect();
        let report = trainer.step(&[encoded.iter().collect()]).unwrap();
        let after: Vec<(String, Vec<f32>, f64, Kind, Kind)> = trainer
            .params()
            .iter()
            .map(|p| {
                let master = p.master.as_ref().unwrap_or(&p.tensor);
                (
                    p.key.clone(),
                    values(master),
                    report.lr[&p.component],
                    p.tensor.kind(),
                    master.kind(),
                )
            })
            .collect();
        runs.push((report.loss, before, after));
    }
    let ((f32_loss, f32_before, f32_after), (bf16_loss, bf16_before, bf16_after)) =
        (&runs[0], &runs[1]);
    let rel = (bf16_loss - f32_loss).abs() / f32_loss.abs();
    assert!(
        rel <= 1e-2,
        "bf16 loss {bf16_loss} vs f32 {f32_loss}: {rel:.2e}"
    );
    assert!(!bf16_after.is_empty());
    for (i, ((key, f, lr, f_kind, _), (_, b, _, b_kind, b_master))) in
        f32_after.iter().zip(bf16_after).enumerate()
    {
        assert_eq!(*f_kind, Kind::Float, "{key}: f32 run computes in float32");
        assert_eq!(*b_kind, Kind::BFloat16, "{key}: bf16 run computes in bf16");
        assert_eq!(
            *b_master,
            Kind::Float,
            "{key}: bf16 run keeps float32 masters"
        );
        // Same start: the masters are the checkpoint's float32 values.
        assert_eq!(f32_before[i], bf16_before[i], "{key}: same starting values");
        let d = max_abs(f, b);
        assert!(
            d <= 2.0 * lr * (1.0 + 1e-4),
            "{key}: differ by {d:.3e} > 2·lr = {:.3e}",
            2.0 * lr
        );
        // The masters did move (a step below bf16's resolution is kept, not rounded away).
        let moved = max_abs(b, &bf16_before[i]);
        assert!(
            moved >= 0.5 * lr,
            "{key}: master moved only {moved:.3e} at lr {lr:.1e}"
        );
    }
}

#[test]
fn a_float32_checkpoint_of_a_bf16_run_holds_the_masters() {
    // Saving float32 after bf16 compute must write what the optimizer holds in float32 (the
    // masters) and the source checkpoint's frozen weights, not the bf16 copies widened.
    let case = train_cases()
        .into_iter()
        .find(|c| c.label.ends_with("tiny-qwen2/batch2_text_and_image"))
        .expect("the batch2 case");
    let mut options = trainer_options(&case, Memory::Plain);
    options.optimizer.schedule.warmup_steps = 0;
    options.precision = Precision::Bf16;
    let mut trainer = Trainer::new(&case.model_dir, options).unwrap();
    let encoded: Vec<Encoded> = examples(&case)
        .iter()
        .map(|e| trainer.encode(e).unwrap())
        .collect();
    trainer.step(&[encoded.iter().collect()]).unwrap();
    let out = std::env::temp_dir().join(format!("hulu-f32-masters-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let save = hulu_train::SaveOptions {
        kind: Kind::Float,
        merge_adapters: false,
        ..hulu_train::SaveOptions::default()
    };
    trainer.save_checkpoint(&out, &save).unwrap();
    let saved: std::collections::HashMap<String, tch::Tensor> =
        tch::Tensor::read_safetensors(out.join("model.safetensors"))
            .unwrap()
            .into_iter()
            .collect();
    // Every shard of the source checkpoint, whatever its layout.
    let source: std::collections::HashMap<String, tch::Tensor> = std::fs::read_dir(&case.model_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .flat_map(|p| tch::Tensor::read_safetensors(p).unwrap())
        .collect();
    let mut narrow_copy_differs = 0;
    for p in trainer.params() {
        let Some(master) = &p.master else { continue };
        let Some(written) = saved.get(&p.key) else {
            continue; // an adapter: saved in its own folder
        };
        assert_eq!(written.kind(), Kind::Float, "{}", p.key);
        assert!(written.equal(master), "{}: not the float32 master", p.key);
        if !written.equal(&p.tensor.to_kind(Kind::Float)) {
            narrow_copy_differs += 1;
        }
    }
    // The test would pass with widened copies only if no master held more than bf16 does.
    assert!(
        narrow_copy_differs > 0,
        "no master differs from its bf16 copy"
    );
    let trained: std::collections::HashSet<&str> =
        trainer.params().iter().map(|p| p.key.as_str()).collect();
    for (key, written) in &saved {
        if !trained.contains(key.as_str()) {
            let original = source[key].to_kind(Kind::Float);
            assert!(
                written.equal(&original),
                "{key}: not the source checkpoint's"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}
