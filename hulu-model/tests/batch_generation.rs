//! Generating for several conversations at once gives each the answer it gets alone.

use hulu_model::{GenerateOptions, HuluMed, PrepareOptions, SamplingOptions};
use hulu_testkit::replay::case_turns;
use hulu_testkit::{cases, fixtures_root};
use tch::{Device, Kind};

#[test]
fn batch_of_different_lengths_equals_one_by_one() {
    let root = fixtures_root();
    for model_dir in hulu_testkit::models() {
        println!("model {}", model_dir.display());
        let model = HuluMed::from_pretrained(&model_dir, Device::Cpu, Kind::Float).unwrap();
        // Every case of this model: text-only and visual prompts of very different lengths.
        let conversations: Vec<_> = cases()
            .into_iter()
            .filter(|c| c.model_dir == model_dir)
            .map(|c| {
                println!("  case {}", c.label());
                case_turns(&c.spec(), &root).unwrap().0
            })
            .collect();
        assert!(conversations.len() >= 2);
        for sampling in [
            SamplingOptions::greedy(),
            SamplingOptions {
                top_k: 20,
                top_p: 0.9,
                ..SamplingOptions::sampled(0.8, 11)
            },
        ] {
            let options = GenerateOptions {
                max_new_tokens: 6,
                suppress_eos: true,
                sampling: sampling.clone(),
                ..GenerateOptions::default()
            };
            let batch = model
                .generate_batch(&conversations, &PrepareOptions::default(), &options)
                .unwrap();
            for (i, (turns, got)) in conversations.iter().zip(&batch).enumerate() {
                // Row i of a batch samples with seed + i.
                let mut alone_options = options.clone();
                alone_options.sampling.seed = sampling.seed + i as u64;
                let alone = model
                    .generate(turns, &PrepareOptions::default(), &alone_options)
                    .unwrap();
                assert_eq!(got.ids, alone.ids, "row {i}");
                assert_eq!(got.text, alone.text, "row {i}");
                assert_eq!(got.counts, alone.counts, "row {i}");
            }
        }
    }
}

#[test]
fn stop_strings_and_eos_end_rows_independently() {
    let dir = fixtures_root().join("models/tiny-qwen2");
    let model = HuluMed::from_pretrained(&dir, Device::Cpu, Kind::Float).unwrap();
    let turns = vec![hulu_model::Turn::user_text("Say something.")];
    let free_running = GenerateOptions {
        max_new_tokens: 12,
        suppress_eos: true,
        ..GenerateOptions::default()
    };
    let free = model
        .generate(&turns, &PrepareOptions::default(), &free_running)
        .unwrap();
    assert_eq!(free.ids.len(), 12);
    // Stop on a piece of the free-running text: the answer ends right before it.
    let chars: Vec<char> = free.text.chars().collect();
    assert!(chars.len() >= 4, "{:?}", free.text);
    let stop: String = chars[chars.len() / 2..chars.len() / 2 + 2].iter().collect();
    let stopped = model
        .generate(
            &turns,
            &PrepareOptions::default(),
            &GenerateOptions {
                stop_strings: vec![stop.clone()],
                ..free_running.clone()
            },
        )
        .unwrap();
    assert_eq!(stopped.finish, hulu_model::FinishReason::StopString);
    assert!(!stopped.text.contains(&stop));
    assert!(free.text.starts_with(&stopped.text));
    // Streaming pieces concatenate to the returned text.
    let mut streamed = String::new();
    let again = model
        .generate_stream(&turns, &PrepareOptions::default(), &free_running, |piece| {
            streamed.push_str(piece)
        })
        .unwrap();
    assert_eq!(streamed, again.text);
    assert_eq!(again.text, free.text);
}

#[test]
fn prompt_longer_than_the_context_is_a_typed_error() {
    let dir = fixtures_root().join("models/tiny-qwen3");
    let model = HuluMed::from_pretrained(&dir, Device::Cpu, Kind::Float).unwrap();
    let turns = vec![hulu_model::Turn::user_text("hi")];
    let err = model
        .generate(
            &turns,
            &PrepareOptions::default(),
            &GenerateOptions {
                max_new_tokens: 1_000_000,
                ..GenerateOptions::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, hulu_model::Error::PromptTooLong { max: 40960, .. }),
        "{err}"
    );
}
