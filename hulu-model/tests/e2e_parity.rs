//! End-to-end parity with the reference for every fixture case of every model, starting from the
//! case's `messages` and `sources` only: ids exact, tensors within the fixtures' float32
//! tolerance, and the greedy continuation exact (EOS suppressed).

use hulu_llm::LogitsFor;
use hulu_model::{GenerateOptions, HuluMed};
use hulu_testkit::replay::case_turns;
use hulu_testkit::{assert_close, cases, fixtures_root, Tolerance};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};

fn to_f32(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1)).unwrap()
}

#[test]
fn every_case_matches_the_reference_end_to_end() {
    let root = fixtures_root();
    let mut models: BTreeMap<PathBuf, HuluMed> = BTreeMap::new();
    for case in cases() {
        println!("case {}", case.label());
        let model = models.entry(case.model_dir.clone()).or_insert_with(|| {
            HuluMed::from_pretrained(&case.model_dir, Device::Cpu, Kind::Float).unwrap()
        });
        let want = case.tensors();
        let (turns, options) = case_turns(&case.spec(), &root).unwrap();
        let prepared = model.prepare(&turns, &options).unwrap();

        assert_eq!(
            prepared.prompt,
            case.json["prompt"].as_str().unwrap(),
            "prompt"
        );
        assert_eq!(prepared.input_ids, want.get("input_ids").i64(), "input_ids");
        assert_eq!(
            prepared.lm_input_ids,
            want.get("lm_input_ids").i64(),
            "lm_input_ids"
        );
        if case.has_visual() {
            let grids: Vec<i64> = prepared
                .grids
                .iter()
                .flat_map(|g| [g.frames as i64, g.rows as i64, g.cols as i64])
                .collect();
            assert_eq!(grids, want.get("grid_sizes").i64(), "grid_sizes");
            let keep: Vec<i64> = prepared.keep.iter().map(|&k| k as i64).collect();
            let want_keep = if case.json["use_token_compression"].as_bool() == Some(true) {
                want.get("compression_mask").i64()
            } else {
                vec![1; keep.len()]
            };
            assert_eq!(keep, want_keep, "compression mask");
            assert_close(
                "mm_features",
                &to_f32(prepared.mm_features.as_ref().unwrap()),
                &want.get("mm_features").f32(),
                Tolerance::F32,
            );
        }
        assert_close(
            "inputs_embeds",
            &to_f32(&prepared.inputs_embeds),
            &want.get("inputs_embeds").f32(),
            Tolerance::F32,
        );
        let out = tch::no_grad(|| {
            model
                .decoder()
                .forward(&prepared.inputs_embeds.unsqueeze(0), LogitsFor::Last)
        })
        .unwrap();
        assert_close(
            "final_hidden",
            &to_f32(&out.hidden),
            &want.get("final_hidden").f32(),
            Tolerance::F32,
        );
        assert_close(
            "logits_last",
            &to_f32(out.logits.as_ref().unwrap()),
            &want.get("logits_last").f32(),
            Tolerance::F32,
        );
        let greedy = want.get("greedy_ids").i64();
        let generation = model
            .generate_prepared(
                &prepared,
                &GenerateOptions {
                    max_new_tokens: greedy.len(),
                    suppress_eos: true,
                    ..GenerateOptions::default()
                },
                |_| {},
            )
            .unwrap();
        assert_eq!(generation.ids, greedy, "greedy_ids");
        println!("  ids equal, {} greedy tokens equal", greedy.len());
    }
}
