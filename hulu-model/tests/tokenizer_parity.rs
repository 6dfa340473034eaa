//! The tokenizer assembled from the slow files (`vocab.json` + `merges.txt` + ...) of the
//! qwen3 fixture must give the same ids as the qwen2 fixture's `tokenizer.json` (both are the
//! real Qwen3 tokenizer plus Hulu-Med's three added tokens).

use std::path::PathBuf;
use std::sync::OnceLock;

use hulu_model::Tokenizer;
use hulu_testkit::models;

/// The model directory with a `tokenizer.json` and the one without.
fn json_and_vocab_dirs() -> (PathBuf, PathBuf) {
    let dirs = models();
    let json = dirs
        .iter()
        .find(|d| d.join("tokenizer.json").is_file())
        .expect("a fixture model with tokenizer.json");
    let vocab = dirs
        .iter()
        .find(|d| !d.join("tokenizer.json").is_file() && d.join("vocab.json").is_file())
        .expect("a fixture model with vocab.json + merges.txt only");
    (json.clone(), vocab.clone())
}

/// Both tokenizers, loaded once: (from tokenizer.json, from vocab + merges).
fn tokenizers() -> &'static (Tokenizer, Tokenizer) {
    static PAIR: OnceLock<(Tokenizer, Tokenizer)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let (json_dir, vocab_dir) = json_and_vocab_dirs();
        println!("tokenizer.json: {}", json_dir.display());
        println!("vocab + merges: {}", vocab_dir.display());
        (
            Tokenizer::from_dir(&json_dir).unwrap(),
            Tokenizer::from_dir(&vocab_dir).unwrap(),
        )
    })
}

/// Medical, multilingual, emoji, whitespace, numbers, code and special-token text.
const CORPUS: &[&str] = &[
    "The CT shows a 2.3 cm hypodense lesion in segment VII of the liver.",
    "Findings: no acute intracranial haemorrhage; mild periventricular white-matter change.",
    "Impression:\n1. Right lower-lobe consolidation.\n2. Small left pleural effusion (≈150 mL).",
    "MRI T2-FLAIR hyperintensity, ADC 0.62×10⁻³ mm²/s, SUVmax 12.4, HU = -1000…+3000",
    "患者男性，65岁，胸部CT示右肺上叶磨玻璃结节，建议随访。",
    "肝脏大小形态正常，实质密度均匀。",
    "المريض يعاني من ألم في الصدر منذ ثلاثة أيام.",
    "रोगी को तीन दिनों से सीने में दर्द है।",
    "Пациент жалуется на головную боль и тошноту.",
    "患者は腹部の痛みを訴えています。超音波検査を行いました。",
    "환자는 복부 통증을 호소합니다.",
    "Ο ασθενής έχει πυρετό 38,5°C.",
    "Der Patient klagt über Kopfschmerzen; Größe 1,82 m.",
    "ผู้ป่วยมีไข้สูง",
    "emoji: 🫀🫁🧠🦴💊🩺🩻 👨‍⚕️ 👩🏽‍🔬 🇺🇸 ❤️‍🔥",
    "spaces:   three, \ttab,\n\n\nnewlines\r\n crlf   \n  trailing   ",
    "        ",
    "\n",
    "numbers 0 1 12 123 1234 12345 3.14159 -2.5e-3 1,000,000 2024-06-01 07:45:00",
    "fn main() {\n    let x: Vec<u32> = (0..10).map(|i| i * i).collect();\n    println!(\"{x:?}\");\n}",
    "def f(x):\n\treturn {'a': [1, 2, 3], \"b\": None}  # comment\n",
    "<|im_start|>system\nYou are a careful radiology assistant.<|im_end|>\n<|im_start|>user\n",
    "<image>\n<image>,<image>\nDescribe these images.<|im_end|>\n<|im_start|>assistant\n",
    "<|stream_start|>live<|stream_end|><|endoftext|><think>\nreasoning\n</think>\n\nanswer",
    "<|vision_start|><|image_pad|><|vision_end|><tool_call>{\"name\": \"x\"}</tool_call>",
    "Don't, I'll, they're, we've, she'd, IT'S, you'RE",
    "mixed: CT扫描显示 a nodule (8 mm) — العقدة 🩻 <image> done",
    "",
];

#[test]
fn vocab_files_match_tokenizer_json_on_corpus() {
    let (from_json, from_vocab) = tokenizers();
    assert_eq!(from_json.vocab_size(), from_vocab.vocab_size());

    for text in CORPUS {
        let expected = from_json.encode(text).unwrap();
        let actual = from_vocab.encode(text).unwrap();
        assert_eq!(actual, expected, "ids differ for {text:?}");
        // Byte-level BPE is lossless on NFC text.
        assert_eq!(from_vocab.decode(&actual, false).unwrap(), *text);
        assert_eq!(
            from_vocab.decode(&actual, true).unwrap(),
            from_json.decode(&expected, true).unwrap(),
            "skip-special decode differs for {text:?}"
        );
    }
    // The whole corpus as one text, so runs span languages and markup.
    let all = CORPUS.join(" ");
    assert_eq!(
        from_vocab.encode(&all).unwrap(),
        from_json.encode(&all).unwrap()
    );
}

#[test]
fn added_tokens_have_the_same_ids_and_flags() {
    let (from_json, from_vocab) = tokenizers();
    let first_added = from_json.token_to_id("<|endoftext|>").unwrap();
    for id in first_added..from_json.vocab_size() as u32 {
        let token = from_json.id_to_token(id).unwrap();
        assert_eq!(from_vocab.id_to_token(id).as_deref(), Some(token.as_str()));
        assert_eq!(
            from_vocab.is_special(id),
            from_json.is_special(id),
            "{token}"
        );
        assert_eq!(
            from_vocab.encode(&token).unwrap(),
            vec![id],
            "{token} is one id"
        );
    }
    // The Hulu-Med tokens named in the fixture README.
    for (token, id) in [
        ("<image>", 151669),
        ("<|stream_start|>", 151670),
        ("<|stream_end|>", 151671),
    ] {
        assert_eq!(from_vocab.token_to_id(token), Some(id));
        assert!(from_vocab.is_special(id));
    }
    // `<think>` is an added token but not a special one: skip-special decoding keeps it.
    let think = from_vocab.token_to_id("<think>").unwrap();
    assert!(!from_vocab.is_special(think));
    assert_eq!(from_vocab.decode(&[think], true).unwrap(), "<think>");
}

#[test]
fn no_bos_is_added_and_special_tokens_are_skipped_on_request() {
    let (_, tok) = tokenizers();
    let ids = tok.encode("<|im_start|>user\nhi<|im_end|>").unwrap();
    assert_eq!(ids[0], tok.token_to_id("<|im_start|>").unwrap());
    assert_eq!(*ids.last().unwrap(), tok.token_to_id("<|im_end|>").unwrap());
    assert_eq!(tok.decode(&ids, true).unwrap(), "user\nhi");
    assert!(tok.encode("").unwrap().is_empty());
}

#[test]
fn unknown_ids_and_missing_files_are_typed_errors() {
    let (_, tok) = tokenizers();
    let beyond = tok.vocab_size() as u32;
    assert!(matches!(
        tok.decode(&[1, beyond], false),
        Err(hulu_model::Error::UnknownTokenId { id, .. }) if id == beyond
    ));
    let empty = std::env::temp_dir().join("hulu-model-no-tokenizer");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(matches!(
        Tokenizer::from_dir(&empty),
        Err(hulu_model::Error::NoTokenizer { .. })
    ));
}

#[test]
fn nfc_normalisation_applies() {
    let (from_json, from_vocab) = tokenizers();
    // "é" written as e + combining acute encodes like the precomposed character.
    let decomposed = "caf\u{65}\u{301}";
    let composed = "caf\u{e9}";
    assert_eq!(
        from_vocab.encode(decomposed).unwrap(),
        from_vocab.encode(composed).unwrap()
    );
    assert_eq!(
        from_vocab.encode(decomposed).unwrap(),
        from_json.encode(decomposed).unwrap()
    );
}
