//! The `hulu` binary, run as a user would, on the repository's tiny model (named through
//! `HULU_MODEL`, as a user's shell would) and the fixtures.

use std::path::PathBuf;
use std::process::{Command, Output};

fn hulu(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_hulu"))
        .env("HULU_MODEL", fixtures().join("models/tiny-qwen2"))
        .args(args)
        .output()
        .expect("run hulu");
    println!("hulu {}", args.join(" "));
    out
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn demo_answers_about_a_dicom_series_and_a_nifti_volume() {
    let inputs = fixtures();
    let out = hulu(&["demo", "--inputs", inputs.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("io/dicom/series_ct5n (Volume, 5 slices)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("inputs/anatomical.nii (Volume, 8 slices)"),
        "{stdout}"
    );
    // Token accounting for both questions, with compression on.
    assert_eq!(stdout.matches("compression ratio").count(), 2, "{stdout}");
    assert!(
        stdout.contains("random"),
        "the demo must say the tiny model's words are random"
    );
}

#[test]
fn ask_reports_tokens_and_generates_the_requested_length() {
    let nii = fixtures().join("inputs/anatomical.nii");
    let out = hulu(&[
        "ask",
        "--question",
        "Which organ is shown?",
        "--slices",
        "8",
        "--max-new-tokens",
        "5",
        "--ignore-eos",
        nii.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // 8 slices of 8 × 10 patches merged 2 × 2: 160 visual tokens, no compression by default.
    assert!(stderr.contains("160 visual"), "{stderr}");
    assert!(stderr.contains("5 new"), "{stderr}");
}

#[cfg(feature = "parity")]
#[test]
fn parity_passes_on_the_vendored_fixtures() {
    let root = fixtures();
    let out = hulu(&["parity", root.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let lines = stdout.lines().filter(|l| l.ends_with(" ok")).count();
    let cases = std::fs::read_dir(fixtures().join("cases"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "json")
        })
        .count();
    assert_eq!(lines, cases, "{stdout}");
}

#[cfg(feature = "parity")]
#[test]
fn parity_fails_on_a_root_without_cases() {
    let out = hulu(&["parity", "/nonexistent-fixtures-root"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no cases/"));
}

#[test]
fn inspect_counts_tokens_before_and_after_compression() {
    let cine = fixtures().join("io/dicom/examples_ybr_color.dcm");
    let out = hulu(&["inspect", "--fps", "10", cine.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("Video: 10 frame(s)"), "{stdout}");
    assert!(stdout.contains("without compression"), "{stdout}");
}

#[test]
fn bench_runs_on_the_tiny_model() {
    let nii = fixtures().join("inputs/anatomical.nii");
    let out = hulu(&[
        "bench",
        "--nifti",
        nii.to_str().unwrap(),
        "--slices",
        "4",
        "--new",
        "3",
        "--runs",
        "2",
        "--json",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["runs"], 2);
    assert_eq!(report["frames"], 4);
    assert_eq!(report["new_tokens"], 3);
    assert_eq!(report["visual_tokens_before"], 80);
    for key in [
        "load_s",
        "preprocess_s",
        "prefill_s",
        "decode_s",
        "end_to_end_s",
    ] {
        assert!(report[key].as_f64().unwrap() >= 0.0, "{key}");
    }
    // Each median lies within its range.
    for (key, range) in report["ranges"].as_object().unwrap() {
        let (lo, hi) = (range[0].as_f64().unwrap(), range[1].as_f64().unwrap());
        let median = report[key].as_f64().unwrap();
        assert!(lo <= median && median <= hi, "{key}: {lo} {median} {hi}");
    }
    let peak = report["peak_rss_bytes"].as_u64().unwrap();
    assert!(peak > 0);
    // The run's peak is the largest of the stage peaks.
    let stages: Vec<u64> = [
        "peak_rss_load_bytes",
        "peak_rss_preprocess_vision_bytes",
        "peak_rss_generate_bytes",
    ]
    .iter()
    .filter_map(|k| report[*k].as_u64())
    .collect();
    if !stages.is_empty() {
        assert_eq!(stages.iter().copied().max(), Some(peak));
    }
}

#[test]
fn info_checks_the_checkpoint_layout() {
    let out = hulu(&["info"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("every tensor present"), "{stdout}");
}

#[test]
fn info_reports_the_memory_each_dtype_and_quantization_needs() {
    let out = hulu(&["info"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success());
    let line = stdout
        .lines()
        .find(|l| l.starts_with("memory"))
        .unwrap_or_else(|| panic!("no memory line: {stdout}"));
    for part in ["f32", "bf16", "int8", "int4"] {
        assert!(line.contains(part), "{line}");
    }
}

#[test]
fn an_unknown_quantization_is_a_clear_error() {
    let out = hulu(&["ask", "--quantize", "int3", "--question", "hi"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--quantize") && stderr.contains("int3"),
        "{stderr}"
    );
}

#[test]
fn quantizing_the_vocabulary_tables_too_shrinks_the_decoder_and_still_answers() {
    let bytes = |extra: &[&str]| -> u64 {
        let mut args = vec!["ask", "--question", "hi", "--max-new-tokens", "3", "--json"];
        args.extend_from_slice(extra);
        let out = hulu(&args);
        assert!(out.status.success(), "{extra:?}: {}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["answer"].is_string(), "{v}");
        v["decoder_weight_bytes"].as_u64().unwrap()
    };
    let dense = bytes(&[]);
    let layers = bytes(&["--quantize", "int8"]);
    let tables = bytes(&["--quantize", "int8", "--quantize-embeddings"]);
    // The tiny model's vocabulary tables are most of its bytes.
    assert!(
        tables < layers && layers < dense,
        "{dense} {layers} {tables}"
    );
    assert!(tables * 3 < dense, "{dense} → {tables}");
    // The flag means nothing without a scheme: a usage error, not a silent no-op.
    let out = hulu(&["ask", "--quantize-embeddings", "--question", "hi"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--quantize"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn unknown_dtype_is_a_clear_error() {
    let out = hulu(&["ask", "--dtype", "f8", "--question", "hi"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unknown dtype"));
}

#[test]
fn synth_reads_the_template_it_is_given() {
    // A binary installed away from its source tree names its own template directory; one
    // without a config is refused before anything is written.
    let empty = std::env::temp_dir().join(format!("hulu-cli-no-template-{}", std::process::id()));
    let out_dir = empty.join("out");
    std::fs::create_dir_all(&empty).unwrap();
    let out = hulu(&[
        "synth",
        "--preset",
        "bench-qwen2",
        "--template",
        empty.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("template config"), "{stderr}");
    assert!(!out_dir.exists(), "nothing may be written");
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn a_command_that_needs_a_model_asks_for_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_hulu"))
        .env_remove("HULU_MODEL")
        .arg("info")
        .output()
        .expect("run hulu");
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--model <MODEL>"), "{stderr}");
}

/// `/work/shared/hostile/config-million-layers`: `hulu info` ran 167 s, used 3.2 GB and printed
/// a 12-million-key listing twice. Now the config's sizes are refused before anything is
/// listed or built.
#[test]
fn info_refuses_a_config_of_a_million_layers_at_once() {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/hostile/config-million-layers");
    let start = std::time::Instant::now();
    let out = hulu(&["info", "--model", dir.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    assert!(stderr.contains("num_hidden_layers"), "{stderr}");
    // One error, not a listing of millions of keys.
    assert!(out.stdout.len() + out.stderr.len() < 16 << 10, "{stderr}");
}
