//! The KV cache: prefill + decode equals one full forward, chunked prefill, truncation for
//! retries, memory reporting, overflow and length errors.

mod common;

use common::{decoder, device, i64_tensor, values};
use hulu_llm::{CausalDecoder, DecoderConfig, Error, LogitsFor, Qwen3Decoder};
use hulu_nn::VarBuilder;
use hulu_testkit::{assert_close, cases, models, Tolerance};
use tch::{Kind, Tensor};

/// Same-implementation comparisons (only the order of float operations differs).
const SAME: Tolerance = Tolerance {
    rel_l2: 1e-5,
    max_abs: 1e-4,
};

/// The text-only prompt ids of one fixture model, `[1, L]`.
fn prompt_ids(model_dir: &std::path::Path) -> Tensor {
    let case = cases()
        .into_iter()
        .find(|c| c.model_dir == model_dir && !c.has_visual())
        .expect("a text-only case for every model");
    i64_tensor(&case.tensors().get("lm_input_ids")).unsqueeze(0)
}

#[test]
fn prefill_then_decode_equals_full_forward() {
    for model in models() {
        println!("{}", model.display());
        let dec = decoder(&model, Kind::Float);
        let ids = prompt_ids(&model);
        let len = ids.size()[1];
        let full = dec
            .forward(&dec.embed(&ids).unwrap(), LogitsFor::All)
            .unwrap();
        let full_logits = full.logits.unwrap();

        let split = len - 8;
        let mut cache = dec.new_cache(1, len as usize).unwrap();
        let prefill = dec
            .prefill(
                &dec.embed(&ids.narrow(1, 0, split)).unwrap(),
                &mut cache,
                LogitsFor::Last,
            )
            .unwrap();
        assert_close(
            "prefill hidden",
            &values(&prefill.hidden),
            &values(&full.hidden.narrow(1, 0, split)),
            SAME,
        );
        assert_close(
            "prefill logits",
            &values(&prefill.logits.unwrap()),
            &values(&full_logits.select(1, split - 1)),
            SAME,
        );
        for pos in split..len {
            let step = dec.decode_step(&ids.select(1, pos), &mut cache).unwrap();
            assert_close(
                &format!("decode logits at {pos}"),
                &values(&step),
                &values(&full_logits.select(1, pos)),
                SAME,
            );
        }
        assert_eq!(cache.len(), len as usize);
    }
}

#[test]
fn chunked_prefill_equals_one_prefill() {
    for model in models() {
        println!("{}", model.display());
        let dec = decoder(&model, Kind::Float);
        let embeds = dec.embed(&prompt_ids(&model)).unwrap();
        let len = embeds.size()[1];
        let whole = dec.forward(&embeds, LogitsFor::None).unwrap().hidden;
        let mut cache = dec.new_cache(1, len as usize).unwrap();
        let mut parts = Vec::new();
        for (start, n) in [(0, 20), (20, 1), (21, len - 21)] {
            let out = dec
                .prefill(&embeds.narrow(1, start, n), &mut cache, LogitsFor::None)
                .unwrap();
            parts.push(out.hidden);
        }
        assert_close(
            "chunked hidden",
            &values(&Tensor::cat(&parts, 1)),
            &values(&whole),
            SAME,
        );
    }
}

#[test]
fn long_prompts_are_prefilled_in_chunks_with_the_same_result() {
    // Longer than PREFILL_CHUNK_TOKENS, so prefill splits it; a batch row padded past one
    // chunk widens the first.
    let model = &models()[0];
    let dec = decoder(model, Kind::Float);
    let len = (hulu_llm::PREFILL_CHUNK_TOKENS * 2 + 37) as i64;
    let vocab = dec.config().vocab_size as i64;
    let ids = Tensor::arange(len, (Kind::Int64, device()))
        .remainder(vocab - 1)
        .unsqueeze(0);
    let embeds = dec.embed(&ids).unwrap();
    let whole = dec.forward(&embeds, LogitsFor::All).unwrap();
    let mut cache = dec.new_cache(1, len as usize).unwrap();
    let chunked = dec.prefill(&embeds, &mut cache, LogitsFor::All).unwrap();
    assert_eq!(cache.len(), len as usize);
    assert_close(
        "chunked hidden",
        &values(&chunked.hidden),
        &values(&whole.hidden),
        SAME,
    );
    assert_close(
        "chunked logits",
        &values(&chunked.logits.unwrap()),
        &values(whole.logits.as_ref().unwrap()),
        SAME,
    );
    let mut cache = dec.new_cache(1, len as usize).unwrap();
    let last = dec.prefill(&embeds, &mut cache, LogitsFor::Last).unwrap();
    assert_close(
        "last logits",
        &values(&last.logits.unwrap()),
        &values(&whole.logits.unwrap().select(1, len - 1)),
        SAME,
    );

    // Two rows: the full prompt, and its last 40 tokens left-padded by len - 40.
    let short = 40;
    let mut cache = dec.new_cache(2, len as usize).unwrap();
    let batch = Tensor::cat(&[embeds.shallow_clone(), embeds.shallow_clone()], 0);
    let out = dec
        .prefill_padded(&batch, &[len as usize, short], &mut cache, LogitsFor::Last)
        .unwrap();
    let alone = dec
        .forward(
            &embeds.narrow(1, len - short as i64, short as i64),
            LogitsFor::Last,
        )
        .unwrap();
    assert_close(
        "padded row",
        &values(&out.logits.unwrap().select(0, 1)),
        &values(&alone.logits.unwrap().select(0, 0)),
        SAME,
    );
}

#[test]
fn truncate_allows_an_exact_retry() {
    let model = &models()[0];
    let dec = decoder(model, Kind::Float);
    let ids = prompt_ids(model);
    let len = ids.size()[1] as usize;
    let mut cache = dec.new_cache(1, len + 4).unwrap();
    dec.prefill(&dec.embed(&ids).unwrap(), &mut cache, LogitsFor::None)
        .unwrap();
    let tokens = [Tensor::from_slice(&[11i64]), Tensor::from_slice(&[77i64])];
    let first: Vec<Vec<f32>> = tokens
        .iter()
        .map(|t| values(&dec.decode_step(&t.to_device(device()), &mut cache).unwrap()))
        .collect();
    assert_eq!(cache.len(), len + 2);
    cache.truncate(len).unwrap();
    assert_eq!(cache.len(), len);
    for (t, expected) in tokens.iter().zip(&first) {
        let again = dec.decode_step(&t.to_device(device()), &mut cache).unwrap();
        assert_close("retry logits", &values(&again), expected, SAME);
    }
    assert!(matches!(
        cache.truncate(len + 5),
        Err(Error::InvalidRequest { .. })
    ));
}

#[test]
fn memory_report_counts_every_layer() {
    for model in models() {
        let dec = decoder(&model, Kind::Float);
        let c = dec.config().clone();
        let mut cache = dec.new_cache(3, 40).unwrap();
        let per_column = 2 * c.num_hidden_layers * 3 * c.num_key_value_heads * c.head_dim * 4;
        let mem = cache.memory();
        println!("{}: {mem:?}", model.display());
        assert_eq!(mem.allocated_bytes, per_column * 40);
        assert_eq!(mem.used_bytes, 0);
        let embeds = Tensor::zeros([3, 5, c.hidden_size as i64], (Kind::Float, device()));
        dec.prefill(&embeds, &mut cache, LogitsFor::None).unwrap();
        assert_eq!(cache.memory().used_bytes, per_column * 5);
        // bf16 halves it.
        let half = hulu_llm::KvCache::new(&c, 3, 40, Kind::BFloat16, device()).unwrap();
        assert_eq!(half.memory().allocated_bytes, per_column * 40 / 2);
    }
}

#[test]
fn overflowing_the_cache_is_a_typed_error() {
    let model = &models()[0];
    let dec = decoder(model, Kind::Float);
    let hidden = dec.config().hidden_size as i64;
    let mut cache = dec.new_cache(1, 6).unwrap();
    let embeds = Tensor::zeros([1, 4, hidden], (Kind::Float, device()));
    dec.prefill(&embeds, &mut cache, LogitsFor::None).unwrap();
    let err = dec
        .prefill(&embeds, &mut cache, LogitsFor::None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::CacheOverflow {
                needed: 8,
                capacity: 6
            }
        ),
        "{err}"
    );
    // The failed call left the cache usable.
    assert_eq!(cache.len(), 4);
    let id = Tensor::from_slice(&[5i64]).to_device(device());
    let _ = dec.decode_step(&id, &mut cache).unwrap();
    let _ = dec.decode_step(&id, &mut cache).unwrap();
    assert!(matches!(
        dec.decode_step(&id, &mut cache),
        Err(Error::CacheOverflow {
            needed: 7,
            capacity: 6
        })
    ));
}

/// A tiny Qwen3-shaped config with a short position range, from random weights.
fn short_range_decoder(max_positions: usize) -> Qwen3Decoder {
    let config = DecoderConfig {
        family: hulu_llm::DecoderFamily::Qwen3,
        vocab_size: 64,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 4,
        num_key_value_heads: 1,
        head_dim: 8,
        rope_theta: 10_000.0,
        rms_norm_eps: 1e-6,
        tie_word_embeddings: true,
        max_position_embeddings: max_positions,
        qkv_bias: false,
        moe: None,
    };
    Qwen3Decoder::load(&config, &VarBuilder::random(7, Kind::Float, device())).unwrap()
}

#[test]
fn a_prompt_longer_than_the_position_range_is_a_typed_error() {
    let dec = short_range_decoder(16);
    let ok = Tensor::zeros([1, 16, 16], (Kind::Float, device()));
    dec.forward(&ok, LogitsFor::Last).unwrap();
    let long = Tensor::zeros([1, 17, 16], (Kind::Float, device()));
    let err = dec.forward(&long, LogitsFor::Last).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLong {
                needed: 17,
                max: 16
            }
        ),
        "{err}"
    );
    assert!(matches!(
        dec.new_cache(1, 17),
        Err(Error::TooLong {
            needed: 17,
            max: 16
        })
    ));
}

#[test]
fn rotary_tables_grow_lazily() {
    let dec = short_range_decoder(1 << 18);
    assert_eq!(dec.rotary_table_len(), 0, "nothing is built before use");
    let x = Tensor::zeros([1, 300, 16], (Kind::Float, device()));
    dec.forward(&x, LogitsFor::None).unwrap();
    assert_eq!(dec.rotary_table_len(), 512, "next power of two of 300");
    dec.forward(&x.narrow(1, 0, 10), LogitsFor::None).unwrap();
    assert_eq!(dec.rotary_table_len(), 512, "never shrinks");
}
