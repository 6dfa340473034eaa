//! Requests the model cannot honour give typed errors, never a panic or a silent wrong answer.

use hulu_io::{RgbFrame, Visual, VisualKind};
use hulu_model::{Error, HuluMed, Item, PrepareOptions, Turn};
use tch::{Device, Kind};

fn model() -> HuluMed {
    let dir = hulu_testkit::fixtures_root().join("models/tiny-qwen2");
    HuluMed::from_pretrained(dir, Device::Cpu, Kind::Float).unwrap()
}

fn grey_image(w: usize, h: usize) -> Visual {
    let data: Vec<u8> = (0..w * h).map(|i| (i % 251) as u8).collect();
    Visual::new(
        VisualKind::Image,
        vec![RgbFrame::from_grey(w, h, &data).unwrap()],
    )
}

#[test]
fn a_typed_image_token_without_a_visual_is_named() {
    let turns = [Turn::user_text("What is in <image>?")];
    let err = model()
        .prepare(&turns, &PrepareOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, Error::LiteralImageToken { turn: 0, text } if text == "<image>"),
        "{err}"
    );
    assert!(err.to_string().contains("\"<image>\""), "{err}");
}

#[test]
fn a_typed_image_token_beside_a_visual_is_named() {
    let turns = [
        Turn::system("You read images."),
        Turn::user(vec![
            Item::Visual(grey_image(64, 48)),
            Item::Text("Compare with <image>".into()),
        ]),
    ];
    let err = model()
        .prepare(&turns, &PrepareOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, Error::LiteralImageToken { turn: 1, text } if text == "<image>"),
        "{err}"
    );
    // The message names the string and the turn instead of counting placeholders.
    let message = err.to_string();
    assert!(
        message.contains("<image>") && message.contains("turn 1"),
        "{message}"
    );
}

#[test]
fn a_visual_with_no_frames_is_refused() {
    let turns = [Turn::user(vec![
        Item::Visual(Visual::new(VisualKind::Volume, Vec::new())),
        Item::Text("Describe".into()),
    ])];
    assert!(model().prepare(&turns, &PrepareOptions::default()).is_err());
}

#[test]
fn a_zero_merge_size_is_refused() {
    let frames = vec![RgbFrame::from_grey(56, 56, &[7; 56 * 56]).unwrap(); 2];
    let turns = [Turn::user(vec![
        Item::Visual(Visual::new(VisualKind::Volume, frames)),
        Item::Text("Describe".into()),
    ])];
    let options = PrepareOptions {
        merge_size: Some(0),
        ..PrepareOptions::default()
    };
    assert!(model().prepare(&turns, &options).is_err());
}
