//! Properties that hold for any weights, checked on small random decoders of both families:
//! splitting a sequence anywhere between prefill and decode steps changes nothing.

mod common;

use common::{device, values};
use hulu_llm::{load_decoder, DecoderConfig, DecoderFamily, LogitsFor};
use hulu_nn::{Backend, RandomBackend, VarBuilder};
use hulu_testkit::{Closeness, Tolerance};
use proptest::prelude::*;
use tch::{Kind, Tensor};

fn tiny(family: DecoderFamily, kv_heads: usize) -> DecoderConfig {
    DecoderConfig {
        family,
        vocab_size: 97,
        hidden_size: 24,
        intermediate_size: 40,
        num_hidden_layers: 2,
        num_attention_heads: 6,
        num_key_value_heads: kv_heads,
        head_dim: if family == DecoderFamily::Qwen3 {
            10
        } else {
            4
        },
        rope_theta: 10_000.0,
        rms_norm_eps: 1e-6,
        tie_word_embeddings: family == DecoderFamily::Qwen3,
        max_position_embeddings: 64,
        qkv_bias: family == DecoderFamily::Qwen2,
        moe: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn any_prefill_split_gives_the_full_forward_logits(
        qwen3 in any::<bool>(),
        kv_heads in prop::sample::select(vec![1usize, 2, 3, 6]),
        seed in any::<u64>(),
        ids in prop::collection::vec(0i64..97, 2..24),
        split_frac in 0.0f64..1.0,
    ) {
        let family = if qwen3 { DecoderFamily::Qwen3 } else { DecoderFamily::Qwen2 };
        let config = tiny(family, kv_heads);
        let dec = load_decoder(&config, &VarBuilder::random(seed, Kind::Float, device())).unwrap();
        let len = ids.len() as i64;
        let split = 1 + ((len - 1) as f64 * split_frac) as i64;
        let ids = Tensor::from_slice(&ids).to_device(device()).unsqueeze(0);
        let full = dec.forward(&dec.embed(&ids).unwrap(), LogitsFor::All).unwrap().logits.unwrap();
        let mut cache = dec.new_cache(1, len as usize).unwrap();
        let first = dec
            .prefill(&dec.embed(&ids.narrow(1, 0, split)).unwrap(), &mut cache, LogitsFor::Last)
            .unwrap()
            .logits
            .unwrap();
        let mut got = vec![first];
        for pos in split..len {
            got.push(dec.decode_step(&ids.select(1, pos), &mut cache).unwrap());
        }
        for (i, logits) in got.iter().enumerate() {
            let pos = split - 1 + i as i64;
            let c = Closeness::measure(&values(logits), &values(&full.select(1, pos)));
            prop_assert!(
                c.within(Tolerance { rel_l2: 1e-5, max_abs: 1e-4 }),
                "position {pos}: {c:?}"
            );
        }
    }
}

#[test]
fn random_weights_are_reproducible_and_shaped() {
    let (a, b) = (RandomBackend::new(3), RandomBackend::new(3));
    let (kind, dev) = (Kind::Float, device());
    let key = "model.layers.0.mlp.up_proj.weight";
    let (x, y) = (
        a.tensor(key, &[40, 24], kind, dev).unwrap(),
        b.tensor(key, &[40, 24], kind, dev).unwrap(),
    );
    assert_eq!(x.size(), [40, 24]);
    assert_eq!(values(&x), values(&y));
    let other = a
        .tensor("model.layers.1.mlp.up_proj.weight", &[40, 24], kind, dev)
        .unwrap();
    assert_ne!(values(&x), values(&other), "each key draws its own values");
    let std = f64::try_from(x.std(true)).unwrap();
    assert!((0.015..0.025).contains(&std), "std {std}");
    let norm = values(&a.tensor("model.norm.weight", &[24], kind, dev).unwrap());
    assert!(
        norm.iter().all(|v| (0.9..=1.1).contains(v)),
        "norms near one"
    );
}

#[test]
fn parameter_count_matches_the_checkpoint() {
    for dir in hulu_testkit::models() {
        let config = hulu_llm::families::read_decoder_config(dir.join("config.json")).unwrap();
        let ckpt = hulu_io::Checkpoint::open(&dir).unwrap();
        let stored: usize = ckpt
            .keys()
            .filter(|k| {
                !k.starts_with("model.vision_encoder") && !k.starts_with("model.mm_projector")
            })
            .map(|k| ckpt.meta(k).unwrap().shape.iter().product::<usize>())
            .sum();
        println!("{}: {stored} decoder parameters", dir.display());
        assert_eq!(config.parameter_count(), stored);
    }
    // The published Qwen2.5-0.5B has 494,032,768 parameters.
    assert_eq!(DecoderConfig::qwen2_5_0_5b().parameter_count(), 494_032_768);
}
