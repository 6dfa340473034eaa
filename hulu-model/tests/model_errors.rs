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

/// A 24-bit BMP of `width × 1` grey pixels.
fn bmp_strip(width: u32) -> Vec<u8> {
    let row = (width * 3).div_ceil(4) * 4;
    let size = 54 + row;
    let mut b = Vec::with_capacity(size as usize);
    b.extend_from_slice(b"BM");
    b.extend_from_slice(&size.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&width.to_le_bytes());
    b.extend_from_slice(&1i32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 24]);
    b.resize(size as usize, 128);
    b
}

/// A file the loaders read records where it came from, and an input the vision side cannot
/// use names that file in the error, not "invalid visual input 0".
#[test]
fn an_unusable_visual_input_names_its_file() {
    let dir = std::env::temp_dir().join(format!("hulu-strip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("strip.bmp");
    std::fs::write(&path, bmp_strip(40)).unwrap();
    let visual = hulu_model::VisualSource::from_path(&path)
        .load(&hulu_model::LoadOptions::default())
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(visual.origin.as_deref(), Some(path.as_path()));
    // The same file with a second frame of another size: no loader makes one, but frames
    // handed over in memory can be.
    let mut volume = visual.clone();
    volume.kind = VisualKind::Volume;
    volume
        .frames
        .push(RgbFrame::from_grey(8, 8, &[0; 64]).unwrap());
    let turns = [Turn::user(vec![
        Item::Visual(volume),
        Item::Text("Describe".into()),
    ])];
    let err = model()
        .prepare(&turns, &PrepareOptions::default())
        .unwrap_err();
    match &err {
        Error::VisualInput {
            path: named,
            source,
        } => {
            assert_eq!(named, &path);
            assert!(source.to_string().contains("frame 1 is 8x8"), "{source}");
        }
        other => panic!("expected VisualInput, got {other:?}"),
    }
    // Frames made in memory have no file to name.
    let mut anonymous = visual;
    anonymous.origin = None;
    anonymous.kind = VisualKind::Volume;
    anonymous
        .frames
        .push(RgbFrame::from_grey(8, 8, &[0; 64]).unwrap());
    let turns = [Turn::user(vec![
        Item::Visual(anonymous),
        Item::Text("x".into()),
    ])];
    let err = model()
        .prepare(&turns, &PrepareOptions::default())
        .unwrap_err();
    assert!(matches!(err, Error::Vision(_)), "{err:?}");
}
