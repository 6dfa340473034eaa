//! Parity with the reference implementation on every fixture case: final hidden states at every
//! position and the last position's logits. (The greedy continuation decoded with the KV cache
//! is checked with the generation loop, in `hulu-model/tests/greedy.rs`.)
//!
//! Text-only cases start from `lm_input_ids` (through the decoder's own embedding); cases with
//! visual input start from the reference's `inputs_embeds`, so the decoder is checked without
//! waiting for the vision side.

mod common;

use common::{decoder, f32_tensor, i64_tensor, values};
use hulu_llm::{CausalDecoder, LogitsFor};
use hulu_testkit::{assert_close, cases, Tolerance};
use std::collections::BTreeMap;
use tch::Kind;

#[test]
fn every_case_matches_the_reference() {
    let mut decoders: BTreeMap<std::path::PathBuf, Box<dyn CausalDecoder>> = BTreeMap::new();
    let all = cases();
    for case in &all {
        println!("{}", case.label());
        let dec = decoders
            .entry(case.model_dir.clone())
            .or_insert_with(|| decoder(&case.model_dir, Kind::Float));
        let t = case.tensors();
        let reference_embeds = f32_tensor(&t.get("inputs_embeds"));
        let embeds = if case.has_visual() {
            reference_embeds
        } else {
            let ids = i64_tensor(&t.get("lm_input_ids"));
            let embeds = dec.embed(&ids).expect("embed");
            assert_close(
                "embeddings",
                &values(&embeds),
                &values(&reference_embeds),
                Tolerance::F32,
            );
            embeds
        };
        let out = dec
            .forward(&embeds.unsqueeze(0), LogitsFor::Last)
            .expect("forward");
        assert_close(
            "final_hidden",
            &values(&out.hidden),
            &t.get("final_hidden").f32(),
            Tolerance::F32,
        );
        assert_close(
            "logits_last",
            &values(&out.logits.expect("logits")),
            &t.get("logits_last").f32(),
            Tolerance::F32,
        );
    }
    assert!(
        all.iter().any(|c| !c.has_visual()) && all.iter().any(|c| c.has_visual()),
        "fixtures should hold text-only and visual cases"
    );
}
