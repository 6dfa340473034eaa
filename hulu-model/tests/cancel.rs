//! A streaming callback can stop generation: returning `ControlFlow::Break` ends that
//! sequence right after the piece it was handed, with `FinishReason::Cancelled`; in a batch
//! the other rows go on and answer what they answer alone.

use hulu_model::{FinishReason, GenerateOptions, HuluMed, PrepareOptions, Turn};
use hulu_testkit::fixtures_root;
use std::ops::ControlFlow;
use tch::{Device, Kind};

fn model() -> HuluMed {
    let dir = fixtures_root().join("models/tiny-qwen2");
    HuluMed::from_pretrained(&dir, Device::Cpu, Kind::Float).unwrap()
}

fn options() -> GenerateOptions {
    GenerateOptions {
        max_new_tokens: 12,
        suppress_eos: true,
        ..GenerateOptions::default()
    }
}

#[test]
fn a_callback_returning_stop_ends_generation_after_that_piece() {
    let model = model();
    let turns = vec![Turn::user_text("Say something.")];
    let free = model
        .generate(&turns, &PrepareOptions::default(), &options())
        .unwrap();
    assert_eq!(free.finish, FinishReason::MaxTokens);
    let mut pieces = Vec::new();
    let stopped = model
        .generate_stream(&turns, &PrepareOptions::default(), &options(), |piece| {
            pieces.push(piece.to_string());
            if pieces.len() == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(stopped.finish, FinishReason::Cancelled);
    assert_eq!(pieces.len(), 2, "no piece after the stop: {pieces:?}");
    assert_eq!(stopped.text, pieces.concat());
    assert!(free.text.starts_with(&stopped.text), "{:?}", stopped.text);
    assert!(stopped.ids.len() < free.ids.len());
    assert_eq!(stopped.ids, free.ids[..stopped.ids.len()]);
}

#[test]
fn a_stopped_row_leaves_the_others_of_its_batch_running() {
    let model = model();
    let conversations = [
        vec![Turn::user_text("Say something.")],
        vec![Turn::user_text("Describe a chest X-ray in a few words.")],
    ];
    let prepared: Vec<_> = conversations
        .iter()
        .map(|t| model.prepare(t, &PrepareOptions::default()).unwrap())
        .collect();
    let refs: Vec<_> = prepared.iter().collect();
    let free = model
        .generate_prepared_batch(&refs, &options(), |_, _| {})
        .unwrap();
    let mut seen = [0usize; 2];
    let out = model
        .generate_prepared_batch(&refs, &options(), |row, _| {
            seen[row] += 1;
            if row == 0 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(seen[0], 1);
    assert_eq!(out[0].finish, FinishReason::Cancelled);
    assert_eq!(out[1].finish, FinishReason::MaxTokens);
    assert_eq!(out[1].ids, free[1].ids);
    assert_eq!(out[1].text, free[1].text);
    assert_eq!(out[0].ids, free[0].ids[..out[0].ids.len()]);
}
