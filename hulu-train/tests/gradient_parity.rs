//! Every case of `<fixtures>/train/` (both models, any new ones): ids and labels exactly, the
//! loss before every step within 1e-5 relative, each trainable parameter's step-0 gradient
//! within 1e-4 relative L2, and after 4 AdamW steps the parameters within 1e-3 and their
//! change within 2e-2 (the fixtures README's tolerances).

mod common;

use common::*;
use hulu_train::{Encoded, Memory, Trainer};
use tch::Tensor;

const LOSS_TOL: f64 = 1e-5;
const GRAD_TOL: f64 = 1e-4;
const AFTER_TOL: f64 = 1e-3;
const CHANGE_TOL: f64 = 2e-2;

/// The tensor compared for `key`: the whole parameter, or for the `[vocab, H]` matrices the
/// rows the fixture stores (`<key>.rows`) and the matrix's norm (`<key>.norm`).
fn compare(
    label: &str,
    what: &str,
    fixture: &hulu_testkit::TensorFile,
    key: &str,
    ours: &Tensor,
    rows: &Tensor,
    tol: f64,
) {
    let name = format!("{what}.{key}");
    if fixture.has(&name) {
        let r = rel_l2(&values(ours), &fixture.get(&name).f32());
        assert!(r <= tol, "{label}: {name} rel L2 {r:.2e} > {tol:.0e}");
    } else {
        let expected = fixture.get(&format!("{name}.rows")).f32();
        let r = rel_l2(&values(&ours.index_select(0, rows)), &expected);
        assert!(r <= tol, "{label}: {name}.rows rel L2 {r:.2e} > {tol:.0e}");
        if fixture.has(&format!("{name}.norm")) {
            let norm = fixture.get(&format!("{name}.norm")).f32()[0] as f64;
            let ours = ours.norm().double_value(&[]);
            assert!(
                ((ours - norm) / norm).abs() <= tol,
                "{label}: {name}.norm {ours} vs {norm}"
            );
        }
    }
}

#[test]
fn every_training_case_matches_the_reference() {
    for case in train_cases() {
        let label = &case.label;
        println!("{label}");
        let fixture = case.tensors();
        let mut trainer =
            Trainer::new(&case.model_dir, trainer_options(&case, Memory::Plain)).expect(label);
        let encoded: Vec<Encoded> = examples(&case)
            .iter()
            .map(|e| trainer.encode(e).expect(label))
            .collect();
        for (i, e) in encoded.iter().enumerate() {
            assert_eq!(
                e.input_ids,
                fixture.get(&format!("input_ids.{i}")).i64(),
                "{label}: input_ids.{i}"
            );
            assert_eq!(
                e.labels,
                fixture.get(&format!("labels.{i}")).i64(),
                "{label}: labels.{i}"
            );
        }
        let keys: Vec<String> = trainer.params().iter().map(|p| p.key.clone()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            strings(&case.json["trainable_parameters"]),
            "{label}: what trains"
        );
        let mut decayed: Vec<String> = trainer
            .params()
            .iter()
            .filter(|p| p.decayed)
            .map(|p| p.key.clone())
            .collect();
        decayed.sort();
        if case.json["optimizer"]["weight_decay"].as_f64() != Some(0.0) {
            assert_eq!(
                decayed,
                strings(&case.json["decayed_parameters"]),
                "{label}: decay rule"
            );
        }
        let rows = Tensor::from_slice(&fixture.get("embedding_row_ids").i64());
        let before: Vec<Tensor> = trainer
            .params()
            .iter()
            .map(|p| p.tensor.detach().copy())
            .collect();
        let micro: Vec<Vec<&Encoded>> = if accumulates(&case) {
            encoded.iter().map(|e| vec![e]).collect()
        } else {
            vec![encoded.iter().collect()]
        };
        let losses = fixture.get("losses").f64();
        let norms = fixture.get("grad_norms").f64();
        let steps = case.json["steps"].as_u64().unwrap() as usize;
        for step in 0..steps {
            let loss = trainer.accumulate(&micro).expect(label);
            let rel = ((loss - losses[step]) / losses[step]).abs();
            assert!(
                rel <= LOSS_TOL,
                "{label}: loss {step}: {loss} vs {} ({rel:.1e})",
                losses[step]
            );
            if step == 0 {
                for p in trainer.params() {
                    // No gradient reached it: the reference stores zeros.
                    let grad = p.tensor.grad();
                    let grad = if grad.defined() {
                        grad
                    } else {
                        p.tensor.zeros_like()
                    };
                    compare(label, "grad0", &fixture, &p.key, &grad, &rows, GRAD_TOL);
                }
            }
            let (norm, _) = trainer.apply().expect(label);
            let rel = ((norm - norms[step]) / norms[step]).abs();
            assert!(
                rel <= GRAD_TOL,
                "{label}: grad norm {step}: {norm} vs {}",
                norms[step]
            );
        }
        let all: Vec<&Encoded> = encoded.iter().collect();
        let last = trainer.eval(&all).expect(label);
        let rel = ((last - losses[steps]) / losses[steps]).abs();
        assert!(
            rel <= LOSS_TOL,
            "{label}: final loss {last} vs {}",
            losses[steps]
        );
        for (p, before) in trainer.params().iter().zip(&before) {
            compare(
                label, "after", &fixture, &p.key, &p.tensor, &rows, AFTER_TOL,
            );
            // The change: the fixture's after minus our before, against ours.
            let name = format!("after.{}", p.key);
            let (ours, theirs) = if fixture.has(&name) {
                let theirs =
                    Tensor::from_slice(&fixture.get(&name).f32()).view(p.tensor.size().as_slice());
                (&p.tensor - before, theirs - before)
            } else {
                let theirs = Tensor::from_slice(&fixture.get(&format!("{name}.rows")).f32())
                    .view([rows.size()[0], -1]);
                let b = before.index_select(0, &rows);
                (p.tensor.index_select(0, &rows) - &b, theirs - b)
            };
            let r = rel_l2(&values(&ours), &values(&theirs));
            assert!(
                r <= CHANGE_TOL,
                "{label}: change of {} rel L2 {r:.2e}",
                p.key
            );
        }
    }
}
