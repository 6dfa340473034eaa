//! Speed of the text side: loading the tokenizer from the slow files, rendering and encoding
//! a prompt, sampling over a full vocabulary, and streaming detokenisation.

use criterion::{criterion_main, Criterion};
use hulu_model::template::{Message, Part};
use hulu_model::{ChatTemplate, IncrementalDecoder, Sampler, SamplingOptions, Tokenizer};

fn model_dir() -> std::path::PathBuf {
    hulu_testkit::models()
        .into_iter()
        .find(|d| !d.join("tokenizer.json").is_file())
        .expect("a fixture model built from vocab.json + merges.txt")
}

fn bench(c: &mut Criterion) {
    let dir = model_dir();
    let mut group = c.benchmark_group("tokenizer");
    group.sample_size(10);
    group.bench_function("load_from_vocab_files", |b| {
        b.iter(|| Tokenizer::from_dir(&dir).unwrap())
    });
    group.finish();

    let tokenizer = Tokenizer::from_dir(&dir).unwrap();
    let template = ChatTemplate::from_dir(&dir).unwrap();
    let messages = [
        Message::system("You are a careful radiology assistant."),
        Message::user(vec![
            Part::video((0..32).map(|i| i as f64 * 0.5).collect()),
            Part::text("Describe the findings in this CT series. 患者男性，65岁。".repeat(8)),
        ]),
    ];
    c.bench_function("render_template", |b| {
        b.iter(|| template.render(&messages, true).unwrap())
    });
    let prompt = template.render(&messages, true).unwrap();
    c.bench_function("encode_prompt", |b| {
        b.iter(|| tokenizer.encode(&prompt).unwrap())
    });

    let vocab = 151_936;
    let logits: Vec<f32> = (0..vocab)
        .map(|i| ((i as u64 * 2_654_435_761) % 1000) as f32 / 100.0)
        .collect();
    let previous: Vec<u32> = (0..512).map(|i| i * 97).collect();
    let mut greedy = Sampler::new(SamplingOptions::greedy()).unwrap();
    c.bench_function("sample_greedy_151936", |b| {
        b.iter(|| greedy.sample(&logits, &previous).unwrap())
    });
    let mut sampled = Sampler::new(SamplingOptions {
        top_k: 20,
        top_p: 0.8,
        repetition_penalty: 1.05,
        ..SamplingOptions::sampled(0.7, 0)
    })
    .unwrap();
    c.bench_function("sample_topk_topp_151936", |b| {
        b.iter(|| sampled.sample(&logits, &previous).unwrap())
    });

    let ids = tokenizer.encode(&prompt).unwrap();
    c.bench_function("stream_decode_prompt", |b| {
        b.iter(|| {
            let mut decoder = IncrementalDecoder::new(tokenizer.clone(), true);
            let mut n = decoder.push_all(&ids).unwrap().len();
            n += decoder.finish().unwrap().len();
            n
        })
    });
}

/// The criterion group (its generated function carries no docs of its own).
mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
