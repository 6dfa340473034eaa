//! Input a user types wrongly: a clear message naming what is wrong, and a chat that goes on.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn hulu() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hulu"));
    c.env(
        "HULU_MODEL",
        root().join("tests/fixtures/models/tiny-qwen2"),
    );
    c
}

#[test]
fn a_window_that_is_not_a_number_names_the_flag_and_the_part() {
    let nii = root().join("tests/fixtures/inputs/anatomical.nii");
    let out = hulu()
        .args([
            "ask",
            "-q",
            "hi",
            "--window",
            "lung/x",
            nii.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    // The first part that is not a number is named: here the centre.
    assert!(
        stderr.contains("--window") && stderr.contains("\"lung\""),
        "{stderr}"
    );
}

#[test]
fn chat_survives_a_line_that_is_not_utf8() {
    let mut child = hulu()
        .args(["chat", "--max-new-tokens", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"\xff\xfe not text\nhello\n/quit\n")
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("not UTF-8"), "{stderr}");
    // The next line was still answered: two prompts after the refused one.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.matches("> ").count() >= 3, "{stdout}");
}
