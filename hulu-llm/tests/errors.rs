//! Bad input is a typed error, never a panic or a silent wrong answer.

mod common;

use common::{decoder, device};
use hulu_llm::families::read_decoder_config;
use hulu_llm::{load_decoder, DecoderConfig, Error, LogitsFor, Qwen2Decoder, Qwen3Decoder};
use hulu_nn::VarBuilder;
use hulu_testkit::models;
use tch::{Kind, Tensor};

fn config_of(dir: &std::path::Path) -> DecoderConfig {
    read_decoder_config(dir.join("config.json")).unwrap()
}

#[test]
fn token_ids_outside_the_vocabulary_are_refused() {
    let dec = decoder(&models()[0], Kind::Float);
    let vocab = dec.config().vocab_size as i64;
    for bad in [-1, vocab] {
        let ids = Tensor::from_slice(&[1, bad, 2]).to_device(device());
        match dec.embed(&ids) {
            Err(Error::TokenOutOfRange { id, .. }) => assert_eq!(id, bad),
            other => panic!("id {bad}: {other:?}"),
        }
    }
    let floats = Tensor::from_slice(&[1.0f32]).to_device(device());
    assert!(matches!(dec.embed(&floats), Err(Error::BadInput { .. })));
}

#[test]
fn embeddings_of_the_wrong_shape_are_refused() {
    let dec = decoder(&models()[0], Kind::Float);
    let h = dec.config().hidden_size as i64;
    for shape in [vec![4, h], vec![1, 4, h + 1], vec![1, 0, h], vec![0, 3, h]] {
        let x = Tensor::zeros(shape.as_slice(), (Kind::Float, device()));
        let err = dec.forward(&x, LogitsFor::Last).unwrap_err();
        assert!(matches!(err, Error::BadInput { .. }), "{shape:?}: {err}");
    }
    let ints = Tensor::zeros([1, 2, h], (Kind::Int64, device()));
    assert!(matches!(
        dec.forward(&ints, LogitsFor::Last),
        Err(Error::BadInput { .. })
    ));
}

#[test]
fn a_config_of_the_other_family_is_refused() {
    for dir in models() {
        let config = config_of(&dir);
        let w = VarBuilder::from_dir(&dir, Kind::Float, device()).unwrap();
        let (q2, q3) = (
            Qwen2Decoder::load(&config, &w).map(|_| ()),
            Qwen3Decoder::load(&config, &w).map(|_| ()),
        );
        println!(
            "{}: qwen2 {:?}, qwen3 {:?}",
            dir.display(),
            q2.is_ok(),
            q3.is_ok()
        );
        assert!(q2.is_ok() != q3.is_ok(), "exactly one family loads");
        let err = q2.err().or(q3.err()).unwrap();
        assert!(matches!(err, Error::FamilyMismatch { .. }), "{err}");
    }
}

#[test]
fn a_config_that_does_not_fit_the_checkpoint_names_the_key() {
    let dir = &models()[0];
    let mut config = config_of(dir);
    config.intermediate_size += 1;
    let w = VarBuilder::from_dir(dir, Kind::Float, device()).unwrap();
    let err = load_decoder(&config, &w).err().expect("shape mismatch");
    let text = err.to_string();
    println!("{text}");
    assert!(matches!(
        err,
        Error::Weights(hulu_nn::Error::WeightShape { .. })
    ));
    assert!(text.contains("model.layers.0.mlp"), "{text}");
}

#[test]
fn inconsistent_configs_are_refused() {
    let base = DecoderConfig::qwen2_5_0_5b();
    let cases: Vec<(&str, DecoderConfig)> = vec![
        (
            "kv heads not dividing heads",
            DecoderConfig {
                num_key_value_heads: 3,
                ..base.clone()
            },
        ),
        (
            "odd head_dim",
            DecoderConfig {
                head_dim: 63,
                ..base.clone()
            },
        ),
        (
            "zero layers",
            DecoderConfig {
                num_hidden_layers: 0,
                ..base.clone()
            },
        ),
        (
            "rope_theta below 1",
            DecoderConfig {
                rope_theta: 0.5,
                ..base.clone()
            },
        ),
        (
            "NaN eps",
            DecoderConfig {
                rms_norm_eps: f64::NAN,
                ..base.clone()
            },
        ),
    ];
    for (what, config) in cases {
        let err = config.validate().unwrap_err();
        println!("{what}: {err}");
        assert!(matches!(err, Error::InvalidConfig { .. }), "{what}");
    }
    base.validate().unwrap();
}

#[test]
fn cache_requests_that_do_not_fit_are_refused() {
    let dec = decoder(&models()[0], Kind::Float);
    let h = dec.config().hidden_size as i64;
    let x = Tensor::zeros([2, 5, h], (Kind::Float, device()));
    // Batch size mismatch.
    let mut one = dec.new_cache(1, 16).unwrap();
    assert!(matches!(
        dec.prefill(&x, &mut one, LogitsFor::None),
        Err(Error::InvalidRequest { .. })
    ));
    // Dtype mismatch.
    let mut half = hulu_llm::KvCache::new(dec.config(), 2, 16, Kind::BFloat16, device()).unwrap();
    assert!(matches!(
        dec.prefill(&x, &mut half, LogitsFor::None),
        Err(Error::InvalidRequest { .. })
    ));
    // Empty cache sizes.
    assert!(matches!(
        dec.new_cache(0, 4),
        Err(Error::InvalidRequest { .. })
    ));
    assert!(matches!(
        dec.new_cache(1, 0),
        Err(Error::InvalidRequest { .. })
    ));
    // Padding: every row needs a token, lengths must fit, and only a first chunk is padded.
    let mut cache = dec.new_cache(2, 16).unwrap();
    for lengths in [[5, 0], [6, 5]] {
        assert!(matches!(
            dec.prefill_padded(&x, &lengths, &mut cache, LogitsFor::None),
            Err(Error::InvalidRequest { .. })
        ));
    }
    assert!(cache.is_empty(), "refused calls leave the cache untouched");
    dec.prefill_padded(&x, &[5, 2], &mut cache, LogitsFor::None)
        .unwrap();
    assert_eq!(cache.pads(), [0, 3]);
    assert_eq!(cache.row_len(1), Some(2));
    assert!(matches!(
        dec.prefill_padded(&x, &[5, 2], &mut cache, LogitsFor::None),
        Err(Error::InvalidRequest { .. })
    ));
    // Truncating into row 1's padding would leave it without tokens.
    assert!(matches!(
        cache.truncate(3),
        Err(Error::InvalidRequest { .. })
    ));
    cache.truncate(4).unwrap();
    cache.truncate(0).unwrap();
    assert_eq!(cache.pads(), [0, 0]);
}

#[test]
fn decode_steps_take_one_id_per_row() {
    let dec = decoder(&models()[0], Kind::Float);
    let mut cache = dec.new_cache(1, 8).unwrap();
    let two_d = Tensor::from_slice(&[1i64, 2])
        .view([1, 2])
        .to_device(device());
    assert!(matches!(
        dec.decode_step(&two_d, &mut cache),
        Err(Error::BadInput { .. })
    ));
    assert!(cache.is_empty());
}

#[test]
fn a_checkpoint_with_more_layers_than_its_config_is_refused() {
    let source = &models()[0];
    let dir = std::env::temp_dir().join(format!("hulu-llm-extra-layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if name == "config.json" {
            let mut json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let layers = json["num_hidden_layers"].as_u64().unwrap();
            json["num_hidden_layers"] = (layers - 1).into();
            std::fs::write(dir.join(name), json.to_string()).unwrap();
        } else {
            let _ = std::fs::remove_file(dir.join(name));
            std::os::unix::fs::symlink(&path, dir.join(name)).unwrap();
        }
    }
    let err = hulu_llm::load_decoder_from_dir(&dir, Kind::Float, device())
        .err()
        .expect("leftover layer");
    std::fs::remove_dir_all(&dir).unwrap();
    println!("{err}");
    match err {
        Error::Weights(hulu_nn::Error::UnexpectedWeights { keys }) => {
            assert!(!keys.is_empty());
            assert!(
                keys.iter().all(|k| k.starts_with("model.layers.1.")),
                "{keys:?}"
            );
        }
        other => panic!("{other}"),
    }
}
