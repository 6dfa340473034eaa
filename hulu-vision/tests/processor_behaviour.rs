//! Processor behaviour beyond the fixtures: the height/width swap option, the shared budget,
//! the minimum, and typed errors for bad input.

use hulu_io::{RgbFrame, Visual, VisualKind};
use hulu_vision::PreprocessorConfig;
use hulu_vision::{Error, ImageProcessor, ProcessorOptions, VisualInput};

fn frame(width: usize, height: usize, seed: u8) -> RgbFrame {
    let data = (0..width * height * 3)
        .map(|i| (i as u32 * 31 + seed as u32 * 7) as u8)
        .collect();
    RgbFrame::new(width, height, data).unwrap()
}

fn processor(options: ProcessorOptions) -> ImageProcessor {
    ImageProcessor::with_options(&PreprocessorConfig::default(), options).unwrap()
}

fn grid(p: &ImageProcessor, visual: &Visual) -> (usize, usize, usize) {
    let g = p.grids(&[VisualInput::with_default_merge(visual)]).unwrap()[0];
    (g.frames, g.rows, g.cols)
}

#[test]
fn images_are_swapped_by_default_and_not_when_switched_off() {
    // 320 wide × 240 high, like us_rgb.png.
    let image = Visual::new(VisualKind::Image, vec![frame(320, 240, 0)]);
    assert_eq!(
        grid(&processor(ProcessorOptions::default()), &image),
        (1, 23, 17)
    );
    let plain = processor(ProcessorOptions {
        swap_image_height_width: false,
        ..Default::default()
    });
    assert_eq!(grid(&plain, &image), (1, 17, 23));
    // Volumes and videos are never swapped: 240 high → 9 blocks of 2 patches.
    let video = Visual::new(
        VisualKind::Video,
        vec![frame(320, 240, 1), frame(320, 240, 2)],
    );
    assert_eq!(
        grid(&processor(ProcessorOptions::default()), &video),
        (2, 18, 22)
    );
}

#[test]
fn every_input_of_a_call_shares_the_budget() {
    let p = processor(ProcessorOptions {
        max_tokens: Some(256),
        ..Default::default()
    });
    let a = Visual::new(VisualKind::Image, vec![frame(512, 512, 3)]);
    let b = Visual::new(VisualKind::Image, vec![frame(400, 600, 4)]);
    let alone = p.process(&[VisualInput::with_default_merge(&a)]).unwrap();
    let together = p
        .process(&[
            VisualInput::with_default_merge(&a),
            VisualInput::with_default_merge(&b),
        ])
        .unwrap();
    assert!(alone.num_patches() <= 256);
    assert!(together.num_patches() <= 256, "{}", together.num_patches());
    assert!(together.grids[0].patches() < alone.grids[0].patches());
    assert!(together.grids.iter().all(|g| g.patches() <= 128));
}

#[test]
fn small_frames_grow_to_the_minimum() {
    let p = processor(ProcessorOptions {
        min_tokens: Some(64),
        ..Default::default()
    });
    let tiny = Visual::new(VisualKind::Image, vec![frame(10, 12, 5)]);
    let out = p
        .process(&[VisualInput::with_default_merge(&tiny)])
        .unwrap();
    assert!(out.num_patches() >= 64, "{}", out.num_patches());
}

#[test]
fn output_is_the_same_for_any_thread_count() {
    let volume = Visual::new(
        VisualKind::Volume,
        (0..5).map(|s| frame(97, 61, s)).collect(),
    );
    let run = |threads| {
        processor(ProcessorOptions {
            threads,
            ..Default::default()
        })
        .process(&[VisualInput::with_default_merge(&volume)])
        .unwrap()
    };
    let one = run(1);
    assert_eq!(one, run(3));
    assert_eq!(one.grids[0].merge(), 2);
    assert_eq!(one.num_tokens() * 4, one.num_patches());
    let t = one.to_tensor().unwrap();
    assert_eq!(t.size(), [one.num_patches() as i64, 588]);
    // Values are normalised 8-bit levels in [-1, 1].
    assert!(one.pixel_values.iter().all(|v| (-1.0..=1.0).contains(v)));
}

#[test]
fn bad_inputs_are_typed_errors() {
    let p = processor(ProcessorOptions::default());
    let empty = Visual::new(VisualKind::Video, vec![]);
    let err = p
        .process(&[VisualInput::with_default_merge(&empty)])
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { index: 0, .. }), "{err}");

    let ok = Visual::new(VisualKind::Image, vec![frame(30, 30, 0)]);
    let mixed = Visual::new(VisualKind::Volume, vec![frame(30, 30, 0), frame(31, 30, 0)]);
    let err = p
        .process(&[
            VisualInput::with_default_merge(&ok),
            VisualInput::with_default_merge(&mixed),
        ])
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { index: 1, .. }), "{err}");

    let err = p.process(&[VisualInput::new(&ok, 0)]).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");

    let lying = RgbFrame {
        width: 30,
        height: 30,
        data: vec![0; 10],
    };
    let lying = Visual::new(VisualKind::Image, vec![lying]);
    let err = p
        .process(&[VisualInput::with_default_merge(&lying)])
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");

    let capped = processor(ProcessorOptions {
        max_output_bytes: 1000,
        ..Default::default()
    });
    let err = capped
        .process(&[VisualInput::with_default_merge(&ok)])
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
}

#[test]
fn unsupported_settings_are_refused() {
    let config = PreprocessorConfig {
        resample: 2,
        ..Default::default()
    };
    assert!(matches!(
        ImageProcessor::new(&config),
        Err(Error::Config(_))
    ));
    let config = PreprocessorConfig {
        patch_size: 0,
        ..Default::default()
    };
    assert!(matches!(
        ImageProcessor::new(&config),
        Err(Error::Config(_))
    ));
}
