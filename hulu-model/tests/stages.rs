//! The stages `prepare` composes, called one by one, give what `prepare` gives; the builder's
//! processor options reach the processor; a per-call threshold goes through the configured
//! compressor (never a silent swap); unreadable visuals are media errors, not config errors.

use hulu_compress::{CompressionOptions, MedicalCompressor, NoCompression};
use hulu_model::{
    Error, HuluMed, HuluMedBuilder, Item, LoadOptions, PrepareOptions, RgbFrame, Turn, Visual,
    VisualKind, VisualSource,
};
use hulu_vision::ProcessorOptions;
use std::path::PathBuf;

fn dir() -> PathBuf {
    hulu_testkit::fixtures_root().join("models/tiny-qwen2")
}

fn model() -> HuluMed {
    HuluMedBuilder::new(dir()).build().unwrap()
}

/// Four 56 × 56 slices: the first two equal, the others shifted, so compression drops some.
fn volume() -> Visual {
    let frames = (0..4)
        .map(|s| {
            let shift = if s < 2 { 0 } else { s * 37 };
            let data: Vec<u8> = (0..56 * 56)
                .map(|i| ((i * 7 + shift) % 251) as u8)
                .collect();
            RgbFrame::from_grey(56, 56, &data).unwrap()
        })
        .collect();
    Visual::new(VisualKind::Volume, frames)
}

fn turns() -> Vec<Turn> {
    vec![Turn::user(vec![
        Item::Visual(volume()),
        Item::Text("Describe the volume.".into()),
    ])]
}

fn compressed(threshold: Option<f64>) -> PrepareOptions {
    PrepareOptions {
        compression: Some(true),
        compression_threshold: threshold,
        ..PrepareOptions::default()
    }
}

#[test]
fn the_stages_one_by_one_give_what_prepare_gives() {
    let model = model();
    let turns = turns();
    let options = compressed(None);
    let prepared = model.prepare(&turns, &options).unwrap();
    tch::no_grad(|| {
        let rendered = model.render_prompt(&turns, &options).unwrap();
        let visuals: Vec<&Visual> = turns.iter().flat_map(Turn::visuals).collect();
        let pre = model
            .preprocess_visuals(&visuals, &options)
            .unwrap()
            .unwrap();
        let input_ids = rendered.expand(&pre.grids).unwrap();
        let encoded = model.encode_visuals(&pre).unwrap();
        let keep = model.compress_visuals(&pre, &options).unwrap();
        let spliced = model
            .splice_visuals(&input_ids, Some((&encoded, &keep)))
            .unwrap();
        assert_eq!(rendered.prompt, prepared.prompt);
        assert_eq!(input_ids, prepared.input_ids);
        assert_eq!(pre.grids, prepared.grids);
        assert_eq!(keep.as_slice(), prepared.keep.as_slice());
        assert!(keep.kept() < keep.len(), "the repeated slice is dropped");
        assert_eq!(spliced.lm_input_ids, prepared.lm_input_ids);
        assert_eq!(spliced.counts, prepared.counts);
        assert!(spliced.inputs_embeds.equal(&prepared.inputs_embeds));
    });
}

#[test]
fn processor_options_from_the_builder_reach_the_processor() {
    let default = model()
        .prepare(&turns(), &PrepareOptions::default())
        .unwrap();
    // A minimum size above the frames' own makes the processor upsample them.
    let large = HuluMedBuilder::new(dir())
        .processor_options(ProcessorOptions {
            min_tokens: Some(400),
            ..ProcessorOptions::default()
        })
        .build()
        .unwrap()
        .prepare(&turns(), &PrepareOptions::default())
        .unwrap();
    assert!(
        large.counts.visual_before > default.counts.visual_before,
        "{} vs {}",
        large.counts.visual_before,
        default.counts.visual_before
    );
}

#[test]
fn a_threshold_goes_through_the_configured_compressor() {
    // A compressor without a threshold refuses one instead of being replaced.
    let none = HuluMedBuilder::new(dir())
        .compressor(Box::new(NoCompression))
        .build()
        .unwrap();
    assert!(none.prepare(&turns(), &compressed(None)).is_ok());
    let err = none.prepare(&turns(), &compressed(Some(0.3))).unwrap_err();
    assert!(
        matches!(err, Error::Compress(hulu_compress::Error::Option(_))),
        "{err}"
    );
    // A configured medical compressor keeps its own options with the call's threshold.
    let whole_first = HuluMedBuilder::new(dir())
        .compressor(Box::new(
            MedicalCompressor::new(CompressionOptions {
                keep_first_frame: true,
                ..CompressionOptions::default()
            })
            .unwrap(),
        ))
        .build()
        .unwrap()
        .prepare(&turns(), &compressed(Some(0.1)))
        .unwrap();
    let reference = model().prepare(&turns(), &compressed(Some(0.1))).unwrap();
    assert_eq!(whole_first.frames[0].kept, whole_first.frames[0].tokens);
    assert!(reference.frames[0].kept < reference.frames[0].tokens);
    assert_eq!(whole_first.frames[1..], reference.frames[1..]);
}

#[test]
fn unreadable_visuals_are_media_errors_that_say_it_once() {
    let scratch = std::env::temp_dir().join(format!("hulu-model-media-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    // A DICOM cut short inside its header.
    let real = hulu_testkit::fixtures_root().join("io/dicom/rtdose_1frame.dcm");
    let bytes = std::fs::read(real).unwrap();
    let corrupt = scratch.join("corrupt.dcm");
    std::fs::write(&corrupt, &bytes[..200]).unwrap();
    let err = VisualSource::from_path(&corrupt)
        .load(&LoadOptions::default())
        .unwrap_err();
    assert!(matches!(err, Error::Media(_)), "{err:?}");
    assert!(err.to_string().contains("corrupt.dcm"), "{err}");

    let missing = scratch.join("missing.png");
    let err = VisualSource::from_path(&missing)
        .load(&LoadOptions::default())
        .unwrap_err();
    assert!(matches!(err, Error::Media(_)), "{err:?}");
    // Each message of the chain says its own part: the OS error appears once.
    let mut chain = vec![err.to_string()];
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    let os = chain.last().unwrap().clone();
    assert!(chain.len() >= 2, "{chain:?}");
    assert_eq!(
        chain.iter().filter(|m| m.contains(&os)).count(),
        1,
        "{chain:?}"
    );
    assert!(chain[0].contains("missing.png"), "{chain:?}");
    std::fs::remove_dir_all(&scratch).unwrap();
}
