//! Continuous batching: requests admitted into a running batch at different steps, with
//! different lengths and options, each generate what they generate alone, streamed pieces
//! concatenating to their text; a cancelled row leaves without disturbing the others.

use hulu_model::{
    Batcher, GenerateOptions, Generation, HuluMed, PrepareOptions, RowEvent, SamplingOptions,
};
use hulu_testkit::replay::case_turns;
use hulu_testkit::{cases, fixtures_root};
use std::collections::HashMap;
use tch::{Device, Kind};

#[test]
fn rows_admitted_mid_batch_generate_as_alone() {
    let root = fixtures_root();
    for model_dir in hulu_testkit::models() {
        println!("model {}", model_dir.display());
        let model = HuluMed::from_pretrained(&model_dir, Device::Cpu, Kind::Float).unwrap();
        let conversations: Vec<_> = cases()
            .into_iter()
            .filter(|c| c.model_dir == model_dir)
            .map(|c| case_turns(&c.spec(), &root).unwrap().0)
            .collect();
        assert!(conversations.len() >= 2);
        // Request i: conversation i mod n, its own length and sampling.
        let requests: Vec<(usize, GenerateOptions)> = (0..5)
            .map(|i| {
                let sampling = if i % 2 == 0 {
                    SamplingOptions::greedy()
                } else {
                    SamplingOptions {
                        top_p: 0.9,
                        ..SamplingOptions::sampled(0.8, 100 + i as u64)
                    }
                };
                let options = GenerateOptions {
                    max_new_tokens: 3 + 2 * i,
                    suppress_eos: true,
                    sampling,
                    ..GenerateOptions::default()
                };
                (i % conversations.len(), options)
            })
            .collect();
        let prepared: Vec<_> = requests
            .iter()
            .map(|(c, _)| {
                model
                    .prepare(&conversations[*c], &PrepareOptions::default())
                    .unwrap()
            })
            .collect();

        let mut batcher = Batcher::new(&model, 4096);
        let mut pieces: HashMap<u64, String> = HashMap::new();
        let mut done: HashMap<u64, Generation> = HashMap::new();
        let mut next = 0;
        let mut steps = 0;
        let mut widest = 0;
        while done.len() < requests.len() {
            // A newcomer every other step, while others decode.
            if next < requests.len() && steps % 2 == 0 {
                batcher
                    .admit(next as u64, &prepared[next], &requests[next].1)
                    .unwrap();
                next += 1;
            }
            for (key, event) in batcher.step().unwrap() {
                match event {
                    RowEvent::Text(t) => pieces.entry(key).or_default().push_str(&t),
                    RowEvent::Finished(g) => {
                        assert!(
                            done.insert(key, g).is_none(),
                            "request {key} finished twice"
                        );
                    }
                }
            }
            widest = widest.max(batcher.rows());
            steps += 1;
            assert!(steps < 500, "the batch does not finish");
        }
        assert!(widest >= 2, "rows never decoded together");
        assert!(batcher.is_empty());
        for (i, (c, options)) in requests.iter().enumerate() {
            let alone = model
                .generate_prepared(&prepared[i], options, |_| {})
                .unwrap();
            let got = &done[&(i as u64)];
            println!("  request {i}: {} tokens", got.ids.len());
            assert_eq!(got.ids, alone.ids, "request {i} (conversation {c})");
            assert_eq!(got.text, alone.text, "request {i}");
            assert_eq!(
                pieces.get(&(i as u64)).cloned().unwrap_or_default(),
                got.text,
                "request {i}: pieces"
            );
        }
    }
}

#[test]
fn a_cancelled_row_leaves_and_the_rest_go_on() {
    let dir = fixtures_root().join("models/tiny-qwen2");
    let model = HuluMed::from_pretrained(&dir, Device::Cpu, Kind::Float).unwrap();
    let options = GenerateOptions {
        max_new_tokens: 8,
        suppress_eos: true,
        ..GenerateOptions::default()
    };
    let a = model
        .prepare(
            &[hulu_model::Turn::user_text(
                "A long question about the chest.",
            )],
            &PrepareOptions::default(),
        )
        .unwrap();
    let b = model
        .prepare(
            &[hulu_model::Turn::user_text("Short.")],
            &PrepareOptions::default(),
        )
        .unwrap();
    let mut batcher = Batcher::new(&model, 512);
    batcher.admit(0, &a, &options).unwrap();
    batcher.admit(1, &b, &options).unwrap();
    let mut finished = Vec::new();
    for step in 0..20 {
        if step == 4 {
            assert!(batcher.cancel(0).unwrap());
            assert!(!batcher.cancel(0).unwrap());
        }
        for (key, event) in batcher.step().unwrap() {
            if let RowEvent::Finished(g) = event {
                finished.push((key, g));
            }
        }
    }
    assert_eq!(finished.len(), 1, "only the row left in the batch finishes");
    let alone = model.generate_prepared(&b, &options, |_| {}).unwrap();
    assert_eq!(finished[0].0, 1);
    assert_eq!(finished[0].1.ids, alone.ids);
    // A request over the capacity is refused up front.
    let mut tight = Batcher::new(&model, 4);
    assert!(matches!(
        tight.admit(2, &a, &options),
        Err(hulu_model::Error::PromptTooLong { .. })
    ));
}
