//! Datasets in both formats with unusable rows skipped and counted; bad settings refused with
//! typed errors before any work.

mod common;

use common::*;
use hulu_train::{
    Component, Dataset, DatasetOptions, Error, LoraSettings, Memory, Policy, SkipReason, SkipTable,
    Trainer,
};
use std::path::Path;

fn dataset() -> Dataset {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mixed.jsonl");
    Dataset::open(&path, &root(), DatasetOptions::default()).unwrap()
}

#[test]
fn both_formats_give_the_same_example_and_bad_rows_are_counted() {
    let data = dataset();
    let case = train_cases()
        .into_iter()
        .find(|c| c.label.ends_with("tiny-qwen2/align_image"))
        .unwrap();
    let trainer = Trainer::new(&case.model_dir, trainer_options(&case, Memory::Plain)).unwrap();
    let mut skipped = SkipTable::default();
    let mut encoded = Vec::new();
    for i in 0..data.len() {
        match data.example(i) {
            Ok(e) => encoded.push(trainer.encode(&e).unwrap()),
            Err(reason) => skipped.add(reason),
        }
    }
    assert_eq!(encoded.len(), 4);
    // The reference row, the LLaVA row with `<image>` and the one without it say the same.
    for e in &encoded[1..3] {
        assert_eq!(e.input_ids, encoded[0].input_ids);
        assert_eq!(e.labels, encoded[0].labels);
    }
    assert!(encoded[3].visuals.is_none());
    assert_eq!(skipped.count(SkipReason::MissingFile), 1);
    assert_eq!(skipped.count(SkipReason::CorruptMedia), 1);
    assert_eq!(skipped.count(SkipReason::NoAssistantTurn), 1);
    assert_eq!(skipped.count(SkipReason::Malformed), 1);
    let table = skipped.to_string();
    assert!(
        table.contains("missing file") && table.contains("total"),
        "{table}"
    );
}

#[test]
fn bad_settings_are_typed_errors_before_any_work() {
    let case = train_cases().into_iter().next().unwrap();
    // A model folder that does not exist: the settings error must come first.
    let nowhere = Path::new("/nonexistent/model");
    let mut options = trainer_options(&case, Memory::Plain);
    options.optimizer.lr.insert(Component::Llm, 0.0);
    options.policy = Policy::Full;
    assert!(matches!(
        Trainer::new(nowhere, options.clone()),
        Err(Error::InvalidLearningRate { ref component, .. }) if component == "llm"
    ));
    options.optimizer.lr.insert(Component::Llm, -1e-3);
    assert!(matches!(
        Trainer::new(nowhere, options.clone()),
        Err(Error::InvalidLearningRate { .. })
    ));
    assert!(matches!(
        Policy::custom(&["vision", "decoder"]),
        Err(Error::UnknownComponent { ref name }) if name == "decoder"
    ));
    assert_eq!(
        Policy::custom(&["vision", "projector"])
            .unwrap()
            .components(),
        Policy::Align.components()
    );
    let mut options = trainer_options(&case, Memory::Plain);
    options.policy = Policy::Lora(LoraSettings {
        r: 0,
        alpha: 8.0,
        targets: vec!["q_proj".into()],
        with_projector: false,
    });
    assert!(matches!(
        Trainer::new(nowhere, options.clone()),
        Err(Error::InvalidSetting { .. })
    ));
    options.policy = Policy::Lora(LoraSettings {
        r: 4,
        alpha: 8.0,
        targets: vec!["q_proj".into(), "qkv".into()],
        with_projector: false,
    });
    options.optimizer.lr.insert(Component::Llm, 1e-3);
    options.adapter_init = None;
    assert!(matches!(
        Trainer::new(&case.model_dir, options),
        Err(Error::LoraTargetMatchesNothing { ref target }) if target == "qkv"
    ));
}
