//! `HuluMedBuilder::build` refuses parts that do not chain (processor patches → encoder →
//! projector → decoder) with `Error::Assembly` or a named tensor, never at the first request.

use std::path::{Path, PathBuf};

use hulu_model::HuluConfig;
use hulu_model::{Error, HuluMed, HuluMedBuilder};
use hulu_nn::VarBuilder;
use hulu_testkit::ScratchModel;
use hulu_vision::{Projector, SiglipNavitEncoder};
use safetensors::tensor::{Dtype, TensorView};
use tch::{Device, Kind};

fn fixture(name: &str) -> PathBuf {
    hulu_testkit::fixtures_root().join("models").join(name)
}

/// The error of loading a copy of fixture `name` whose JSON `file` has `key` changed from
/// `from` to `to`.
fn load_edited(name: &str, file: &str, key: &str, from: i64, to: i64) -> Error {
    let scratch = ScratchModel::of(name);
    scratch.edit_json(file, |v| {
        assert_eq!(v[key], from, "{file}'s {key}");
        v[key] = to.into();
    });
    match HuluMed::from_pretrained(scratch.dir(), Device::Cpu, Kind::Float) {
        Ok(_) => panic!("{name} with {file}'s {key} set to {to} loaded"),
        Err(err) => err,
    }
}

/// The fixture's own vision encoder and projector, loaded outside the builder.
fn fixture_vision(name: &str) -> (SiglipNavitEncoder, Projector) {
    let dir = fixture(name);
    let config = HuluConfig::from_file(dir.join("config.json")).unwrap();
    let w = VarBuilder::from_dir(&dir, Kind::Float, Device::Cpu).unwrap();
    let encoder =
        SiglipNavitEncoder::load(&config.vision_encoder_config, &w.pp("model.vision_encoder"))
            .unwrap();
    let projector = Projector::load(
        &w.pp("model.mm_projector"),
        config.vision_encoder_config.hidden_size,
        config.hidden_size(),
    )
    .unwrap();
    (encoder, projector)
}

/// A projector `vision → llm` with small deterministic weights, written as a safetensors file.
fn projector_of(dir: &Path, vision: usize, llm: usize) -> Projector {
    std::fs::create_dir_all(dir).unwrap();
    let shapes = [
        ("readout.0.weight", vec![llm, vision]),
        ("readout.0.bias", vec![llm]),
        ("readout.2.weight", vec![llm, llm]),
        ("readout.2.bias", vec![llm]),
    ];
    let bytes: Vec<Vec<u8>> = shapes
        .iter()
        .map(|(_, shape)| {
            let n: usize = shape.iter().product();
            (0..n)
                .flat_map(|i| (i as f32 * 1e-3).to_le_bytes())
                .collect()
        })
        .collect();
    let views: Vec<(String, TensorView)> = shapes
        .iter()
        .zip(&bytes)
        .map(|((key, shape), data)| {
            let key = format!("model.mm_projector.{key}");
            (
                key,
                TensorView::new(Dtype::F32, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
    let w = VarBuilder::from_dir(dir, Kind::Float, Device::Cpu).unwrap();
    Projector::load(&w.pp("model.mm_projector"), vision, llm).unwrap()
}

#[test]
fn the_fixture_parts_assemble() {
    let (encoder, projector) = fixture_vision("tiny-qwen2");
    let model = HuluMedBuilder::new(fixture("tiny-qwen2"))
        .vision(Box::new(encoder), projector)
        .build()
        .unwrap();
    assert_eq!(model.vision().patch_values(), 3 * 14 * 14);
}

#[test]
fn a_preprocessor_patch_size_the_encoder_was_not_trained_on_is_refused() {
    let err = load_edited(
        "tiny-qwen2",
        "preprocessor_config.json",
        "patch_size",
        14,
        16,
    );
    assert!(
        matches!(&err, Error::Assembly(m) if m.contains("588") && m.contains("768")),
        "{err}"
    );
}

#[test]
fn a_projector_that_does_not_chain_is_refused() {
    // (projector in → out, what the error must name): the fixture encoder is 64 wide and the
    // decoder 32.
    let cases = [
        ((48, 32), ["48", "64"], "another encoder width"),
        ((64, 40), ["40", "32"], "another decoder width"),
    ];
    let scratch = ScratchModel::of("tiny-qwen2");
    for (i, ((vision, llm), named, what)) in cases.into_iter().enumerate() {
        let (encoder, _) = fixture_vision("tiny-qwen2");
        let projector = projector_of(&scratch.path(&format!("projector-{i}")), vision, llm);
        let err = HuluMedBuilder::new(fixture("tiny-qwen2"))
            .vision(Box::new(encoder), projector)
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, Error::Assembly(m) if named.iter().all(|n| m.contains(n))),
            "{what}: {err}"
        );
    }
}

#[test]
fn a_decoder_of_another_width_cannot_be_assembled() {
    // The qwen3 fixture's decoder is 32 wide like qwen2's, so widen the config instead: a
    // checkpoint whose config disagrees with its tensors names the tensor.
    let err = load_edited("tiny-qwen3", "config.json", "intermediate_size", 64, 96);
    assert!(err.to_string().contains("mlp"), "{err}");
}
