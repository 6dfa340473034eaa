//! Streaming detokenisation: pieces never split a character and concatenate to the one-shot
//! decode; stop strings and `<think>` removal give the same text streamed as all at once.

use std::sync::OnceLock;

use hulu_model::stop::truncate_at_stop;
use hulu_model::{
    strip_think, IncrementalDecoder, StopFilter, TextStream, TextStreamOptions, ThinkFilter,
    Tokenizer,
};
use proptest::prelude::*;

/// The fixture tokenizer assembled from vocab.json + merges.txt, loaded once.
fn tokenizer() -> &'static Tokenizer {
    static TOKENIZER: OnceLock<Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        let dir = hulu_testkit::models()
            .into_iter()
            .find(|d| !d.join("tokenizer.json").is_file())
            .expect("a fixture model without tokenizer.json");
        Tokenizer::from_dir(dir).unwrap()
    })
}

/// All pieces of streaming `ids`, the final flush included.
fn stream_pieces(ids: &[u32], skip_special: bool) -> Vec<String> {
    let mut decoder = IncrementalDecoder::new(tokenizer().clone(), skip_special);
    let mut pieces: Vec<String> = ids.iter().map(|&id| decoder.push(id).unwrap()).collect();
    pieces.push(decoder.finish().unwrap());
    pieces
}

/// The reference behaviour of `<think>` removal, written independently of the filter.
fn strip_think_reference(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("<think>") {
        out.push_str(&rest[..open]);
        match rest[open..].find("</think>") {
            Some(close) => rest = &rest[open + close + "</think>".len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// Text made of medical words, CJK, emoji, tags and stop-string material.
fn text_strategy() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "CT",
        " scan",
        " 肝脏",
        "结节",
        "🫀",
        "👩🏽‍🔬",
        "🇺🇸",
        " مريض",
        " रोगी",
        "\n",
        "  ",
        "<think>",
        "</think>",
        "<th",
        "ink>",
        "STOP",
        "ST",
        "OP",
        "<|im_end|>",
        "<image>",
        "é",
        "e\u{301}",
        "42",
        ".",
        "x",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

/// Splits `text` at random character boundaries.
fn chunks(text: &str, cuts: &[prop::sample::Index]) -> Vec<String> {
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let mut at: Vec<usize> = cuts
        .iter()
        .filter(|_| !bounds.is_empty())
        .map(|c| bounds[c.index(bounds.len())])
        .collect();
    at.push(0);
    at.push(text.len());
    at.sort_unstable();
    at.dedup();
    at.windows(2)
        .map(|w| text[w[0]..w[1]].to_string())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_ids_stream_to_the_full_decode(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..60),
        skip_special in any::<bool>(),
    ) {
        let ids: Vec<u32> = picks
            .iter()
            .map(|p| p.index(tokenizer().vocab_size()) as u32)
            .collect();
        let pieces = stream_pieces(&ids, skip_special);
        prop_assert_eq!(pieces.concat(), tokenizer().decode(&ids, skip_special).unwrap());
    }

    #[test]
    fn byte_token_runs_stream_to_the_full_decode(
        // Ids below 256 are single bytes in the byte-level alphabet: random runs of them are
        // mostly broken UTF-8, the hardest case for holding back.
        ids in prop::collection::vec(0u32..256, 0..60),
    ) {
        let pieces = stream_pieces(&ids, false);
        prop_assert_eq!(pieces.concat(), tokenizer().decode(&ids, false).unwrap());
    }

    #[test]
    fn text_streams_back_without_split_characters(text in text_strategy()) {
        let ids = tokenizer().encode(&text).unwrap();
        let full = tokenizer().decode(&ids, false).unwrap();
        let pieces = stream_pieces(&ids, false);
        // Valid text never shows a replacement character mid-stream.
        for piece in &pieces {
            prop_assert!(!piece.contains('\u{FFFD}'), "piece {:?} of {:?}", piece, text);
        }
        prop_assert_eq!(pieces.concat(), full);
    }

    #[test]
    fn stop_filter_streams_like_one_shot(
        text in text_strategy(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        stops in prop::collection::vec(prop::sample::select(vec!["STOP", "结节", "🫀x", "\n\n", "<th"]), 0..3),
    ) {
        let stops: Vec<String> = stops.into_iter().map(String::from).collect();
        let (expected, found) = truncate_at_stop(&text, &stops);
        let mut filter = StopFilter::new(stops.clone());
        let mut out = String::new();
        let mut stopped = false;
        for chunk in chunks(&text, &cuts) {
            let step = filter.push(&chunk);
            prop_assert!(!stopped || step.text.is_empty(), "text after a stop");
            out.push_str(&step.text);
            stopped |= step.stopped;
        }
        if !stopped {
            out.push_str(&filter.finish());
        }
        prop_assert_eq!(stopped, found);
        prop_assert_eq!(out, expected);
    }

    #[test]
    fn think_filter_streams_like_one_shot(
        text in text_strategy(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let expected = strip_think_reference(&text);
        prop_assert_eq!(strip_think(&text), expected.clone());
        let mut filter = ThinkFilter::new();
        let mut out: String = chunks(&text, &cuts).iter().map(|c| filter.push(c)).collect();
        out.push_str(&filter.finish());
        prop_assert_eq!(out, expected);
    }

    #[test]
    fn text_stream_applies_stops_then_think_removal(
        text in text_strategy(),
        skip_special in any::<bool>(),
    ) {
        let stops = vec!["STOP".to_string()];
        let ids = tokenizer().encode(&text).unwrap();
        let full = tokenizer().decode(&ids, skip_special).unwrap();
        let (cut, found) = truncate_at_stop(&full, &stops);
        let expected = strip_think_reference(cut);

        let mut stream = TextStream::new(
            tokenizer().clone(),
            TextStreamOptions { skip_special, stop_strings: stops, strip_think: true },
        );
        let mut out = String::new();
        let mut stopped = false;
        for &id in &ids {
            let step = stream.push(id).unwrap();
            out.push_str(&step.text);
            stopped |= step.stopped;
        }
        out.push_str(&stream.finish().unwrap());
        prop_assert_eq!(stopped, found);
        prop_assert_eq!(out, expected);
    }
}

#[test]
fn emoji_and_cjk_are_held_until_complete() {
    let text = "🩻肝脏 👨‍⚕️ok";
    let ids = tokenizer().encode(text).unwrap();
    // These characters span several byte-level tokens, so some steps must emit nothing.
    assert!(ids.len() > text.chars().count() / 2);
    let pieces = stream_pieces(&ids, false);
    assert!(pieces.iter().any(String::is_empty));
    assert!(pieces.iter().all(|p| !p.contains('\u{FFFD}')));
    assert_eq!(pieces.concat(), text);
}

#[test]
fn think_blocks_are_removed_including_an_unclosed_one() {
    assert_eq!(
        strip_think("<think>\nlet me see\n</think>\n\nThe liver."),
        "\n\nThe liver."
    );
    assert_eq!(strip_think("a<think>b</think>c<think>d"), "ac");
    assert_eq!(strip_think("no tags"), "no tags");
    let mut inside = ThinkFilter::starting_inside();
    let mut out = inside.push("reasoning</thi");
    out.push_str(&inside.push("nk>answer"));
    out.push_str(&inside.finish());
    assert_eq!(out, "answer");
}

#[test]
fn stop_strings_end_the_stream() {
    let ids = tokenizer()
        .encode("Findings: normal.<|im_end|>\nMore text")
        .unwrap();
    let mut stream = TextStream::new(
        tokenizer().clone(),
        TextStreamOptions {
            skip_special: false,
            stop_strings: vec!["<|im_end|>".into()],
            strip_think: false,
        },
    );
    let mut out = String::new();
    let mut stopped_at = None;
    for (i, &id) in ids.iter().enumerate() {
        let step = stream.push(id).unwrap();
        out.push_str(&step.text);
        if step.stopped && stopped_at.is_none() {
            stopped_at = Some(i);
        }
    }
    out.push_str(&stream.finish().unwrap());
    assert_eq!(out, "Findings: normal.");
    assert!(stream.is_stopped());
    // It stopped on the `<|im_end|>` id itself.
    assert_eq!(
        ids[stopped_at.unwrap()],
        tokenizer().token_to_id("<|im_end|>").unwrap()
    );
}
