//! Batched decoding of prompts of different lengths (left-padded, masked) equals decoding each
//! prompt alone. (Batched greedy generation is tested with the generation loop, in
//! `hulu-model/tests/greedy.rs`.)

mod common;

use common::{decoder, device, i64_tensor, values};
use hulu_llm::LogitsFor;
use hulu_testkit::{assert_close, cases, models, Tolerance};
use tch::{Kind, Tensor};

const SAME: Tolerance = Tolerance {
    rel_l2: 1e-5,
    max_abs: 1e-4,
};

/// Three prompts of different lengths and contents cut from a model's text-only case.
fn prompts(model_dir: &std::path::Path) -> Vec<Tensor> {
    let case = cases()
        .into_iter()
        .find(|c| c.model_dir == model_dir && !c.has_visual())
        .expect("a text-only case for every model");
    let ids = i64_tensor(&case.tensors().get("lm_input_ids"));
    let len = ids.size()[0];
    vec![
        ids.narrow(0, 0, len),
        ids.narrow(0, 10, 31),
        ids.narrow(0, 40, 9),
    ]
}

#[test]
fn padded_batch_equals_one_by_one() {
    for model in models() {
        println!("{}", model.display());
        let dec = decoder(&model, Kind::Float);
        let hidden = dec.config().hidden_size as i64;
        let prompts = prompts(&model);
        let lengths: Vec<usize> = prompts.iter().map(|p| p.size()[0] as usize).collect();
        let width = *lengths.iter().max().unwrap();
        let steps = 4;

        let batch = Tensor::zeros(
            [prompts.len() as i64, width as i64, hidden],
            (Kind::Float, device()),
        );
        for (row, p) in prompts.iter().enumerate() {
            let n = p.size()[0];
            batch
                .get(row as i64)
                .narrow(0, width as i64 - n, n)
                .copy_(&dec.embed(p).unwrap());
        }
        let mut cache = dec.new_cache(prompts.len(), width + steps).unwrap();
        let out = dec
            .prefill_padded(&batch, &lengths, &mut cache, LogitsFor::Last)
            .unwrap();
        assert_eq!(cache.pads(), [0, width - 31, width - 9]);
        let batch_logits = out.logits.unwrap();
        // The same tokens fed to every row, one by one, against each row decoded alone.
        let feed: Vec<i64> = vec![198, 54850, 13320, 7];
        let mut batch_steps = Vec::new();
        for &id in &feed {
            let ids = Tensor::from_slice(&vec![id; prompts.len()]).to_device(device());
            batch_steps.push(dec.decode_step(&ids, &mut cache).unwrap());
        }

        for (row, p) in prompts.iter().enumerate() {
            let n = p.size()[0];
            let mut alone_cache = dec.new_cache(1, n as usize + steps).unwrap();
            let alone = dec
                .prefill(
                    &dec.embed(&p.unsqueeze(0)).unwrap(),
                    &mut alone_cache,
                    LogitsFor::Last,
                )
                .unwrap();
            assert_close(
                &format!("row {row} hidden"),
                &values(&out.hidden.get(row as i64).narrow(0, width as i64 - n, n)),
                &values(&alone.hidden),
                SAME,
            );
            assert_close(
                &format!("row {row} prefill logits"),
                &values(&batch_logits.get(row as i64)),
                &values(&alone.logits.unwrap()),
                SAME,
            );
            for (step, &id) in feed.iter().enumerate() {
                let ids = Tensor::from_slice(&[id]).to_device(device());
                let single = dec.decode_step(&ids, &mut alone_cache).unwrap();
                assert_close(
                    &format!("row {row} step {step} logits"),
                    &values(&batch_steps[step].get(row as i64)),
                    &values(&single),
                    SAME,
                );
            }
        }
    }
}
