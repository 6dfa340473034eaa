//! `--show-think` on a real forward pass: a checkpoint crafted from the tiny Qwen3 fixture
//! whose decoder is a deterministic bigram chain, so that after any prompt it writes
//! `<think>reason</think>answer<|im_end|>`.
//!
//! Every layer's `o_proj` and `down_proj` are zero, so each position's hidden state is its own
//! token's embedding; the final norm is ones; embeddings are one-hot (`e_0` for every token
//! but the chain's); the untied `lm_head` maps `e_k` to the next token of the chain with a
//! logit margin of `50 * sqrt(hidden)` over every other token, far beyond what the fixture's
//! sampling settings (temperature 0.7, top-k 20, top-p 0.8, repetition penalty 1.05) could
//! overturn.

use hulu_model::Tokenizer;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tch::{Kind, Tensor};

/// The logit scale of the `lm_head` rows.
const C: f64 = 50.0;

fn qwen3() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/tiny-qwen3")
}

/// The crafted checkpoint, written once per test process (tests share it).
fn crafted() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hulu-cli-think-{}-model", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        craft(&dir);
        dir
    })
}

/// The ids of the chain `<think> reason </think> answer <|im_end|>` in the fixture's
/// tokenizer, checked to decode back to the tags (they are added tokens that are not
/// special, so decoding does not skip them).
fn chain(tokenizer: &Tokenizer) -> [i64; 5] {
    let id = |t: &str| {
        let ids = tokenizer.encode(t).unwrap();
        assert_eq!(ids.len(), 1, "{t} is not one token: {ids:?}");
        assert_eq!(tokenizer.token_to_id(t), Some(ids[0]), "{t}");
        ids[0]
    };
    let ids = [
        id("<think>"),
        id("reason"),
        id("</think>"),
        id("answer"),
        tokenizer.token_to_id("<|im_end|>").unwrap(),
    ];
    assert_eq!(
        tokenizer.decode(&ids[..4], true).unwrap(),
        "<think>reason</think>answer"
    );
    assert!(tokenizer.is_special(ids[4]));
    ids.map(i64::from)
}

/// Copies the tiny Qwen3 fixture into `dir` with the bigram-chain weights.
fn craft(dir: &Path) {
    for entry in std::fs::read_dir(qwen3()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name != "model.safetensors" && name != "config.json" {
            std::fs::copy(entry.path(), dir.join(&name)).unwrap();
        }
    }
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(qwen3().join("config.json")).unwrap()).unwrap();
    config["tie_word_embeddings"] = Value::Bool(false);
    let hidden = config["hidden_size"].as_i64().unwrap();
    let vocab = config["vocab_size"].as_i64().unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();

    let tokenizer = Tokenizer::from_dir(dir).unwrap();
    let [think, reason, think_end, answer, im_end] = chain(&tokenizer);

    let mut tensors = Tensor::read_safetensors(qwen3().join("model.safetensors")).unwrap();
    let kind = tensors[0].1.kind();
    for (name, tensor) in &mut tensors {
        if name.ends_with("self_attn.o_proj.weight") || name.ends_with("mlp.down_proj.weight") {
            *tensor = tensor.zeros_like();
        } else if name == "model.norm.weight" {
            *tensor = tensor.ones_like();
        } else if name == "model.embed_tokens.weight" {
            assert_eq!(tensor.size(), [vocab, hidden]);
            // Row t is e_0, except the chain's tokens: <think> e_1, reason e_2, </think> e_3,
            // answer e_4.
            let embed = Tensor::zeros([vocab, hidden], (Kind::Float, tch::Device::Cpu));
            let _ = embed.narrow(1, 0, 1).fill_(1.0);
            for (k, token) in [think, reason, think_end, answer].into_iter().enumerate() {
                let mut row = embed.get(token);
                let _ = row.fill_(0.0);
                let _ = row.get(k as i64 + 1).fill_(1.0);
            }
            *tensor = embed.to_kind(kind);
        }
    }
    assert!(tensors.iter().all(|(n, _)| n != "lm_head.weight"));
    // lm_head row of the next token: e_0 -> <think>, e_1 -> reason, e_2 -> </think>,
    // e_3 -> answer, e_4 -> <|im_end|>; every other row zero.
    let head = Tensor::zeros([vocab, hidden], (Kind::Float, tch::Device::Cpu));
    for (k, token) in [think, reason, think_end, answer, im_end]
        .into_iter()
        .enumerate()
    {
        let _ = head.get(token).get(k as i64).fill_(C);
    }
    tensors.push(("lm_head.weight".to_string(), head.to_kind(kind)));
    Tensor::write_safetensors(&tensors, dir.join("model.safetensors")).unwrap();
}

fn hulu() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hulu"));
    c.env_remove("HULU_MODEL").env("RUST_BACKTRACE", "1");
    c
}

/// `hulu ask --json` on the crafted model with `extra` flags; the answer and finish reason.
fn ask(extra: &[&str]) -> (String, String) {
    let out: Output = hulu()
        .args(["ask", "--model"])
        .arg(crafted())
        .args(["--question", "hi", "--max-new-tokens", "16", "--json"])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (
        value["answer"].as_str().unwrap().to_string(),
        value["finish_reason"].as_str().unwrap().to_string(),
    )
}

#[test]
fn ask_strips_the_thinking_unless_show_think() {
    let both = |extra: &[&str]| {
        let hidden = ask(extra);
        let shown = ask(&[extra, &["--show-think"]].concat());
        (hidden, shown)
    };
    // Greedy, and the checkpoint's own sampling (do_sample with temperature, top-k, top-p and
    // a repetition penalty): the margin leaves one candidate at every step.
    for extra in [&["--greedy"][..], &[][..], &["--seed", "7"][..]] {
        let ((hidden, why), (shown, why_shown)) = both(extra);
        assert_eq!(hidden, "answer", "{extra:?}");
        assert_eq!(shown, "<think>reason</think>answer", "{extra:?}");
        // It stopped at <|im_end|>, not at the token limit.
        assert_eq!(
            (why.as_str(), why_shown.as_str()),
            ("eos", "eos"),
            "{extra:?}"
        );
    }
}

#[test]
fn chat_set_show_think_on_shows_the_block() -> Result<(), rexpect::error::Error> {
    let mut command = hulu();
    command
        .env("TERM", "xterm")
        .args(["chat", "--greedy", "--max-new-tokens", "16", "--model"])
        .arg(crafted());
    let mut chat = rexpect::session::spawn_command(command, Some(120_000))?;
    chat.exp_string("> ")?;
    chat.send_line("hi")?;
    let (before, _) = chat.exp_regex(r"\[tokens: \d+ prompt")?;
    assert!(before.contains("answer"), "{before}");
    assert!(
        !before.contains("reason") && !before.contains("think>"),
        "{before}"
    );
    chat.send_line("/set show_think on")?;
    chat.exp_string("show_think on")?;
    chat.send_line("hi")?;
    let (after, _) = chat.exp_regex(r"\[tokens: \d+ prompt")?;
    assert!(after.contains("<think>reason</think>answer"), "{after}");
    chat.send_control('d')?;
    chat.exp_eof()?;
    Ok(())
}
