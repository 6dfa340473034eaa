//! `config.json` as the model crates read it: the layout a config implies comes from a dry run
//! of the model over the recording backend and must equal every fixture checkpoint's key set and
//! shapes; hostile or broken configs are typed errors that name the field, before anything is
//! built.

use hulu_llm::DecoderFamily;
use hulu_model::{expected_layout, Error, GenerationConfig, HuluConfig};
use hulu_testkit::ScratchModel;
use std::time::{Duration, Instant};

fn config_of(s: &ScratchModel) -> hulu_model::Result<HuluConfig> {
    HuluConfig::from_file(s.path("config.json"))
}

#[test]
fn the_recorded_layout_equals_every_fixture_checkpoint() {
    for dir in hulu_testkit::models() {
        println!("checking {}", dir.display());
        let config = HuluConfig::from_file(dir.join("config.json")).unwrap();
        let layout = expected_layout(&config).unwrap();
        let ckpt = hulu_io::Checkpoint::open(&dir).unwrap();
        let stored: Vec<(&str, &[usize])> = ckpt
            .keys()
            .map(|k| (k, ckpt.meta(k).unwrap().shape.as_slice()))
            .collect();
        let recorded: Vec<(&str, &[usize])> = layout
            .iter()
            .map(|(k, s)| (k.as_str(), s.as_slice()))
            .collect();
        assert_eq!(recorded, stored, "{}", dir.display());
        let report = ckpt.check_layout(&layout);
        assert!(report.is_clean(), "{}: {report}", dir.display());
        // Tied embeddings: no lm_head exactly when the config says so.
        assert_eq!(
            layout.contains_key("lm_head.weight"),
            !config.decoder.tie_word_embeddings
        );
    }
}

#[test]
fn a_wider_mlp_than_the_weights_is_named_by_the_layout_check() {
    let s = ScratchModel::of("tiny-qwen3");
    s.edit_json("config.json", |v| v["intermediate_size"] = 80.into());
    let config = config_of(&s).unwrap();
    let ckpt = hulu_io::Checkpoint::open(s.dir()).unwrap();
    let report = ckpt.check_layout(&expected_layout(&config).unwrap());
    let names: Vec<&str> = report.mis_shaped.iter().map(|m| m.key.as_str()).collect();
    assert!(
        names.contains(&"model.layers.0.mlp.gate_proj.weight"),
        "{names:?}"
    );
    assert_eq!(
        report.mis_shaped.len(),
        3 * config.decoder.num_hidden_layers
    );
    assert!(report.missing.is_empty() && report.unexpected.is_empty());
    let err = report.into_result().unwrap_err();
    assert!(
        err.to_string()
            .contains("model.layers.1.mlp.down_proj.weight"),
        "{err}"
    );
}

#[test]
fn missing_and_unexpected_keys_are_listed() {
    // Claiming three layers: layer 2's keys are missing. Claiming a tied head on qwen2:
    // lm_head.weight is unexpected.
    let s = ScratchModel::of("tiny-qwen2");
    s.edit_json("config.json", |v| {
        v["num_hidden_layers"] = 3.into();
        v["tie_word_embeddings"] = true.into();
    });
    let config = config_of(&s).unwrap();
    let report = hulu_io::Checkpoint::open(s.dir())
        .unwrap()
        .check_layout(&expected_layout(&config).unwrap());
    assert!(report
        .missing
        .iter()
        .all(|k| k.starts_with("model.layers.2.")));
    assert_eq!(report.missing.len(), 12);
    assert_eq!(report.unexpected, ["lm_head.weight"]);
}

#[test]
fn the_fixture_families_and_their_rules() {
    let root = hulu_testkit::fixtures_root().join("models");
    let q3 = HuluConfig::from_file(root.join("tiny-qwen3/config.json")).unwrap();
    assert_eq!(q3.family(), DecoderFamily::Qwen3);
    assert_eq!(q3.decoder.head_dim, 16);
    assert_eq!(q3.hidden_size() / q3.decoder.num_attention_heads, 8);
    assert!(q3.decoder.tie_word_embeddings && !q3.decoder.qkv_bias);
    let q2 = HuluConfig::from_file(root.join("tiny-qwen2/config.json")).unwrap();
    assert_eq!(q2.family(), DecoderFamily::Qwen2);
    assert!(q2.decoder.qkv_bias);
    assert_eq!(q2.decoder.head_dim, 8);
}

#[test]
fn a_missing_field_is_named() {
    let s = ScratchModel::of("tiny-qwen2");
    s.edit_json("config.json", |v| {
        v.as_object_mut().unwrap().remove("hidden_size");
    });
    let text = config_of(&s).unwrap_err().to_string();
    assert!(text.contains("hidden_size"), "{text}");

    let s = ScratchModel::of("tiny-qwen3");
    s.edit_json("config.json", |v| {
        v["vision_encoder_config"]
            .as_object_mut()
            .unwrap()
            .remove("patch_size");
    });
    let text = config_of(&s).unwrap_err().to_string();
    assert!(text.contains("patch_size"), "{text}");
}

#[test]
fn a_mistyped_untagged_field_is_named() {
    // serde alone says "data did not match any variant of untagged enum TokenIds".
    let s = ScratchModel::of("tiny-qwen2");
    s.edit_json("config.json", |v| v["eos_token_id"] = "end".into());
    let text = config_of(&s).unwrap_err().to_string();
    assert!(text.contains("eos_token_id"), "{text}");
}

#[test]
fn an_unknown_architecture_falls_back_on_the_fields_or_is_refused() {
    let s = ScratchModel::of("tiny-qwen3");
    s.edit_json("config.json", |v| {
        v["architectures"] = serde_json::json!(["MyFineTunedHuluMed"])
    });
    // model_type `hulumed_qwen3` still identifies the family.
    assert_eq!(config_of(&s).unwrap().family(), DecoderFamily::Qwen3);
    s.edit_json("config.json", |v| {
        v["architectures"] = serde_json::json!(["LlavaForCausalLM"]);
        v["model_type"] = "llava".into();
    });
    match config_of(&s) {
        Err(Error::Decoder(hulu_llm::Error::UnknownArchitecture { found, known })) => {
            assert_eq!(found, ["LlavaForCausalLM"]);
            assert!(known.contains(&"HulumedQwen2ForCausalLM"), "{known:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn inconsistent_head_counts_are_refused() {
    let s = ScratchModel::of("tiny-qwen2");
    s.edit_json("config.json", |v| v["num_key_value_heads"] = 3.into());
    let text = config_of(&s).unwrap_err().to_string();
    assert!(text.contains("num_key_value_heads"), "{text}");
}

/// `/work/shared/hostile/config-million-layers`: `num_hidden_layers: 1000000` made `hulu info`
/// run 167 s and print a 12-million-key listing; a vision depth of 2^40 aborted at 3.7 GB.
#[test]
fn absurd_sizes_are_refused_at_once_by_name() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 5] = [
        ("num_hidden_layers", |v| {
            v["num_hidden_layers"] = 1_000_000.into()
        }),
        ("vision_encoder_config.num_hidden_layers", |v| {
            v["vision_encoder_config"]["num_hidden_layers"] = (1u64 << 40).into()
        }),
        ("vocab_size", |v| v["vocab_size"] = (1u64 << 40).into()),
        ("hidden_size", |v| v["hidden_size"] = (1u64 << 33).into()),
        ("vision_encoder_config.intermediate_size", |v| {
            v["vision_encoder_config"]["intermediate_size"] = u64::MAX.into()
        }),
    ];
    for (field, edit) in cases {
        let s = ScratchModel::of("tiny-qwen2");
        s.edit_json("config.json", edit);
        let start = Instant::now();
        let err = config_of(&s).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(2), "{field}");
        let text = err.to_string();
        println!("{field}: {text}");
        assert!(text.contains(field), "{field}: {text}");
    }
}

#[test]
fn generation_and_preprocessor_configs_parse() {
    for dir in hulu_testkit::models() {
        let g = GenerationConfig::from_file(dir.join("generation_config.json")).unwrap();
        assert_eq!(g.eos_ids(), [151645, 151643]);
        let p = hulu_vision::PreprocessorConfig::from_file(dir.join("preprocessor_config.json"))
            .unwrap();
        assert_eq!((p.min_tokens, p.max_tokens, p.patch_size), (16, 16384, 14));
        assert_eq!(p.image_mean, [0.5; 3]);
    }
}
