//! `hulu batch` run as a user would on the tiny model: one answer line per study in manifest
//! order, a failed study recorded with its error while the run goes on, and a restart that
//! skips the studies already answered (including after a crash cut the last line short).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn batch(manifest: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hulu"))
        .env("HULU_MODEL", fixtures().join("models/tiny-qwen2"))
        .args(["batch", "--manifest"])
        .arg(manifest)
        .arg("--out")
        .arg(out)
        .args(["--options", r#"{"max_new_tokens": 4, "ignore_eos": true}"#])
        .output()
        .expect("run hulu")
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hulu-cli-batch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn manifest(dir: &Path) -> PathBuf {
    let f = fixtures();
    let studies = [
        serde_json::json!({"id": "mr", "question": "Which organ?", "inputs": [
            {"type": "nifti", "path": f.join("inputs/anatomical.nii"), "slices": 8}]}),
        serde_json::json!({"id": "missing", "question": "Which organ?", "inputs": [
            {"type": "nifti", "path": dir.join("absent.nii")}]}),
        serde_json::json!({"id": "ct", "question": "Describe.", "inputs": [
            {"type": "dicom_series", "path": f.join("io/dicom/series_ct5n")}],
            "options": {"max_new_tokens": 2}}),
        serde_json::json!({"id": "typo", "question": "?", "inputs": [
            {"type": "nifti", "path": "x.nii", "slice": 3}]}),
    ];
    let path = dir.join("studies.jsonl");
    let text: String = studies.iter().map(|s| format!("{s}\n")).collect();
    // A blank line and a line that is not JSON: skipped and recorded, respectively.
    std::fs::write(&path, format!("{text}\nnot json\n")).unwrap();
    path
}

#[test]
fn batch_answers_every_study_and_records_failures() {
    let dir = scratch("answers");
    let out = dir.join("answers.jsonl");
    let run = batch(&manifest(&dir), &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("[2 answered, 3 failed, 0 already done]"),
        "{stderr}"
    );
    let got = lines(&out);
    let ids: Vec<&str> = got.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["mr", "missing", "ct", "typo", "line 6"]);
    // 8 slices of 8 × 10 patches merged 2 × 2, as `hulu ask` counts them (tests/cli.rs).
    assert_eq!(got[0]["tokens"]["visual_before"], 160);
    assert_eq!(got[0]["ids"].as_array().unwrap().len(), 4);
    assert_eq!(got[0]["finish_reason"], "max_tokens");
    assert_eq!(got[1]["error"]["class"], "FileError");
    assert!(got[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("absent.nii"));
    // The study's own option wins over --options.
    assert_eq!(got[2]["ids"].as_array().unwrap().len(), 2);
    assert_eq!(got[3]["error"]["class"], "InputError");
    assert!(got[3]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("slice"));
    assert_eq!(got[4]["error"]["class"], "InputError");
}

#[test]
fn batch_resumes_where_it_stopped() {
    let dir = scratch("resume");
    let manifest = manifest(&dir);
    let out = dir.join("answers.jsonl");
    assert!(batch(&manifest, &out).status.success());
    let first = std::fs::read_to_string(&out).unwrap();
    // A rerun answers nothing and leaves the file as it was.
    let again = batch(&manifest, &out);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("[0 answered, 0 failed, 5 already done]"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), first);
    // A crash in mid-write of "ct": the partial line is cut, and "ct" and what followed run again.
    let cut = first.find(r#"{"id":"ct""#).unwrap() + 12;
    std::fs::write(&out, &first[..cut]).unwrap();
    let resumed = batch(&manifest, &out);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(
        stderr.contains("[1 answered, 2 failed, 2 already done]"),
        "{stderr}"
    );
    // Greedy answers are deterministic: the resumed file is the uninterrupted one.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), first);
}

#[test]
fn batch_refuses_a_manifest_with_an_id_twice() {
    let dir = scratch("dup");
    let manifest = dir.join("studies.jsonl");
    std::fs::write(
        &manifest,
        "{\"id\": \"a\", \"question\": \"?\"}\n{\"id\": \"a\", \"question\": \"?\"}\n",
    )
    .unwrap();
    let run = batch(&manifest, &dir.join("out.jsonl"));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("line 2") && stderr.contains("\"a\""),
        "{stderr}"
    );
}
