//! `hulu chat` on a pseudo-terminal, as a person types: `/help`, `/file` (what was attached
//! and its token cost), a question and a follow-up, the Up arrow recalling the last line,
//! an unknown command kept from the model, and Ctrl-D leaving. The follow-up reuses the
//! study's encoded features and the first exchange's KV cache (the counts it prints).

use rexpect::session::spawn_command;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(reused, prompt, visual hits, visuals)` of a `[reused: …]` line.
fn reuse_counts(line: &str) -> (usize, usize, usize, usize) {
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), 4, "{line}");
    (numbers[0], numbers[1], numbers[2], numbers[3])
}

#[test]
fn chat_on_a_terminal() -> Result<(), rexpect::error::Error> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hulu"));
    command
        .env(
            "HULU_MODEL",
            root().join("tests/fixtures/models/tiny-qwen2"),
        )
        .env("TERM", "xterm")
        .args(["chat", "--greedy", "--max-new-tokens", "2", "--slices", "2"]);
    let mut chat = spawn_command(command, Some(120_000))?;
    chat.exp_string("/help lists the commands")?;
    chat.exp_string("> ")?;

    chat.send_line("/help")?;
    chat.exp_string("/file PATH")?;
    chat.exp_string("/set KEY VALUE")?;

    let nii = root().join("tests/fixtures/inputs/anatomical.nii");
    chat.send_line(&format!("/file {}", nii.display()))?;
    // 2 slices of 8 x 10 patches merged 2 x 2.
    chat.exp_string("(Volume, 2 frame(s)")?;
    chat.exp_string("40 visual tokens before compression")?;

    chat.send_line("Which organ is shown?")?;
    chat.exp_string("40 visual")?;
    chat.exp_string("2 new")?;
    let (_, first) = chat.exp_regex(r"\[reused: \d+ of \d+ prompt tokens[^\]]*\]")?;
    let (reused, prompt, hits, visuals) = reuse_counts(&first);
    assert_eq!((reused, hits, visuals), (0, 0, 1), "{first}");

    chat.send_line("And its size?")?;
    let (_, follow_up) = chat.exp_regex(r"\[tokens: \d+ prompt")?;
    assert!(follow_up.contains("[tokens:"), "{follow_up}");
    chat.exp_string("2 new")?;
    // The second turn prefills only what the first did not hold: the question (and the
    // template's turn markers); the volume is not encoded again.
    let (_, second) = chat.exp_regex(r"\[reused: \d+ of \d+ prompt tokens[^\]]*\]")?;
    let (reused, prompt2, hits, visuals) = reuse_counts(&second);
    assert!(
        reused >= prompt && reused < prompt2,
        "{second} after {first}"
    );
    assert_eq!((hits, visuals), (1, 1), "{second}");

    // Up arrow, then Enter: the last line again, from the history.
    chat.send("\x1b[A")?;
    chat.flush()?;
    chat.exp_string("And its size?")?;
    chat.send_line("")?;
    chat.exp_string("2 new")?;

    chat.send_line("/bogus")?;
    chat.exp_string("unknown or incomplete command")?;

    chat.send_line("/set temperature 0.5")?;
    chat.exp_string("greedy off, temperature 0.5")?;

    chat.send_control('d')?;
    chat.exp_eof()?;
    Ok(())
}
