//! The user surface of the `hulu` binary: exit statuses and one-line errors, `doctor` and
//! `--version`, the defaults taken from the checkpoint (dtype, device, sampling, system
//! prompt), `--json` outputs, the memory check and Hub ids resolved from a fake Hugging Face
//! cache. Everything runs on the repository's tiny model, offline.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tiny() -> PathBuf {
    root().join("tests/fixtures/models/tiny-qwen2")
}

fn nii() -> String {
    root()
        .join("tests/fixtures/inputs/anatomical.nii")
        .display()
        .to_string()
}

/// `hulu` with the tiny model as `HULU_MODEL`, backtraces requested (they must not show), and
/// an empty Hugging Face cache.
fn hulu() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hulu"));
    c.env("HULU_MODEL", tiny())
        .env("RUST_BACKTRACE", "1")
        .env("HF_HUB_CACHE", scratch("empty-hf-cache"));
    c
}

fn run(c: &mut Command) -> (Output, String, String) {
    let out = c.output().expect("run hulu");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// A fresh folder under the system temp dir, unique to this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hulu-cli-surface-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of the tiny model in `dir` made of symlinks, except the files `replace` writes.
fn tiny_copy(dir: &Path, replace: &[(&str, &[u8])]) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(tiny()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let target = dir.join(&name);
        match replace.iter().find(|(n, _)| *n == name.to_str().unwrap()) {
            Some((_, bytes)) => std::fs::write(&target, bytes).unwrap(),
            None => std::os::unix::fs::symlink(entry.path(), &target).unwrap(),
        }
    }
}

/// The error is one line starting `error:`, without a backtrace.
fn assert_one_line_error(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        !stderr.contains("backtrace") && !stderr.contains("Caused by"),
        "{stderr}"
    );
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn a_missing_input_is_one_line_with_status_3_and_read_before_the_weights() {
    // The checkpoint's weights are garbage: had they been read first, the failure would be
    // the model's (status 4), not the input's.
    let model = scratch("broken-weights");
    tiny_copy(
        &model,
        &[
            ("model-00001-of-00002.safetensors", b"not safetensors"),
            ("model-00002-of-00002.safetensors", b"not safetensors"),
        ],
    );
    let (out, _, stderr) = run(hulu().env("HULU_MODEL", &model).args([
        "ask",
        "-q",
        "hi",
        "--dtype",
        "f32",
        "--force",
        "/no/such/scan.nii",
    ]));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_one_line_error(&stderr);
    assert!(stderr.contains("/no/such/scan.nii"), "{stderr}");
    // The same model fails as a model (status 4) once the input is fine.
    let (out, _, stderr) = run(hulu().env("HULU_MODEL", &model).args([
        "ask",
        "-q",
        "hi",
        "--dtype",
        "f32",
        "--force",
        &nii(),
    ]));
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_one_line_error(&stderr);
}

#[test]
fn a_bad_flag_value_is_a_usage_error_with_status_2() {
    let (out, _, stderr) = run(hulu().args(["ask", "-q", "hi", "--window", "lung/x", &nii()]));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_one_line_error(&stderr);
    let (out, _, stderr) = run(hulu().args(["ask", "-q", "hi", "--dtype", "f64"]));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--dtype"), "{stderr}");
    // clap's own usage errors keep clap's status 2.
    let (out, _, _) = run(hulu().args(["ask", "--no-such-flag"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn cuda_on_a_cpu_libtorch_is_one_line_pointing_at_doctor() {
    let (doctor, _, _) = run(hulu().args(["doctor", "--json"]));
    let report = json(&String::from_utf8_lossy(&doctor.stdout));
    if report["cuda"]["available"] == Value::Bool(true) {
        eprintln!("CUDA is available here; the message for its absence cannot be shown");
        return;
    }
    let (out, _, stderr) = run(hulu().args(["ask", "-q", "hi", "--device", "cuda"]));
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_one_line_error(&stderr);
    assert!(stderr.contains("hulu doctor"), "{stderr}");
}

#[test]
fn doctor_reports_libtorch_cuda_and_the_hf_cache() {
    let cache = scratch("doctor-cache");
    let (out, stdout, stderr) = run(hulu()
        .env("HF_HUB_CACHE", &cache)
        .args(["doctor", "--json"]));
    assert!(out.status.success(), "{stdout}{stderr}");
    let report = json(&stdout);
    // The wheel setup-libtorch.sh installs: its version file and library are found.
    let library = report["libtorch"]["library"].as_str().unwrap();
    assert!(library.contains("libtorch_cpu"), "{report}");
    assert!(Path::new(library).exists(), "{report}");
    assert_eq!(
        report["libtorch"]["version"].as_str().map(|v| &v[..6]),
        Some("2.13.0")
    );
    assert!(report["cuda"]["available"].is_boolean(), "{report}");
    assert!(report["cuda"]["device_count"].is_number(), "{report}");
    assert_eq!(report["hf_cache"].as_str(), cache.to_str());
    let checks = report["checks"].as_array().unwrap();
    assert!(checks
        .iter()
        .any(|c| c["name"] == "libtorch version" && c["ok"] == true));
    assert!(checks
        .iter()
        .any(|c| c["name"] == "HULU_MODEL" && c["ok"] == true));
    // The text form says the same.
    let (_, text, _) = run(hulu().env("HF_HUB_CACHE", &cache).arg("doctor"));
    assert!(text.contains("libtorch 2.13.0"), "{text}");
    assert!(
        text.contains(&format!("HF cache    {}", cache.display())),
        "{text}"
    );
}

#[test]
fn version_names_libtorch() {
    let (out, stdout, _) = run(hulu().arg("--version"));
    assert!(out.status.success());
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "{stdout}");
    assert!(stdout.contains("libtorch 2.13.0"), "{stdout}");
    assert!(stdout.contains("CUDA"), "{stdout}");
}

/// The generation defaults of the tiny model, read from its file.
fn generation_config() -> Value {
    let text = std::fs::read_to_string(tiny().join("generation_config.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn cpu_has_native_bf16() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .split_whitespace()
        .any(|f| f == "avx512_bf16" || f == "amx_bf16")
}

fn ask_json(extra: &[&str]) -> Value {
    let mut args = vec![
        "ask",
        "-q",
        "Which organ?",
        "--slices",
        "2",
        "--max-new-tokens",
        "4",
    ];
    args.extend_from_slice(extra);
    args.extend(["--json"]);
    let nii = nii();
    args.push(&nii);
    let (out, stdout, stderr) = run(hulu().args(&args));
    assert!(out.status.success(), "{stderr}");
    json(&stdout)
}

#[test]
fn ask_defaults_follow_the_checkpoint_and_json_has_every_field() {
    let answer = ask_json(&[]);
    // auto dtype: the checkpoint says bfloat16; on a CPU bf16 is kept only with native bf16.
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(tiny().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["torch_dtype"], "bfloat16");
    let want = if cpu_has_native_bf16() { "bf16" } else { "f32" };
    assert_eq!(answer["dtype"], want, "{answer}");
    let (doctor, _, _) = run(hulu().args(["doctor", "--json"]));
    let cuda = json(&String::from_utf8_lossy(&doctor.stdout))["cuda"]["available"] == true;
    assert_eq!(
        answer["device"],
        if cuda { "Cuda(0)" } else { "Cpu" },
        "{answer}"
    );
    // Sampling from generation_config.json.
    let generation = generation_config();
    let s = &answer["sampling"];
    assert_eq!(s["do_sample"], generation["do_sample"], "{answer}");
    for field in ["temperature", "top_p", "repetition_penalty"] {
        let got = s[field].as_f64().unwrap();
        let want = generation[field].as_f64().unwrap();
        assert!((got - want).abs() < 1e-6, "{field}: {got} vs {want}");
    }
    assert_eq!(s["top_k"], generation["top_k"]);
    // Fields tool builders read.
    assert!(answer["answer"].is_string());
    assert!(["eos", "maxtokens", "stopstring"].contains(&answer["finish_reason"].as_str().unwrap()));
    let tokens = &answer["tokens"];
    // 2 slices of 8 × 10 patches merged 2 × 2: 40 visual tokens, no compression by default.
    assert_eq!(tokens["visual_before_compression"], 40, "{answer}");
    assert_eq!(tokens["visual_after_compression"], 40, "{answer}");
    assert!(tokens["new"].as_u64().unwrap() <= 4);
    assert_eq!(
        tokens["prompt"].as_u64(),
        Some(tokens["text"].as_u64().unwrap() + 40)
    );
    for t in [
        "load_s",
        "prepare_s",
        "prefill_s",
        "decode_s",
        "time_to_first_token_s",
    ] {
        assert!(
            answer["timings"][t].as_f64().unwrap() >= 0.0,
            "{t}: {answer}"
        );
    }
}

#[test]
fn greedy_and_explicit_sampling_flags_override_the_checkpoint() {
    let greedy = ask_json(&["--greedy", "--ignore-eos"]);
    assert_eq!(greedy["sampling"]["do_sample"], false, "{greedy}");
    assert_eq!(greedy["tokens"]["new"], 4);
    // Greedy is deterministic whatever the seed.
    let again = ask_json(&["--greedy", "--ignore-eos", "--seed", "7"]);
    assert_eq!(greedy["answer"], again["answer"]);
    let sampled = ask_json(&["--temperature", "0.3", "--top-k", "5"]);
    assert_eq!(sampled["sampling"]["do_sample"], true);
    assert!((sampled["sampling"]["temperature"].as_f64().unwrap() - 0.3).abs() < 1e-6);
    assert_eq!(sampled["sampling"]["top_k"], 5);
    // top_p still the checkpoint's.
    let top_p = generation_config()["top_p"].as_f64().unwrap();
    assert!((sampled["sampling"]["top_p"].as_f64().unwrap() - top_p).abs() < 1e-6);
    // --greedy conflicts with sampling flags.
    let (out, _, _) = run(hulu().args(["ask", "-q", "hi", "--greedy", "--temperature", "1"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn system_prompt_default_none_and_text() {
    // A template that, like VideoLLaMA3's, writes its own system prompt on
    // `add_system_prompt`.
    let text = std::fs::read_to_string(tiny().join("chat_template.json")).unwrap();
    let mut template: Value = serde_json::from_str(&text).unwrap();
    let body = template["chat_template"].as_str().unwrap().to_string();
    template["chat_template"] = Value::String(format!(
        "{{% if add_system_prompt %}}<|im_start|>system\nTEMPLATE SYSTEM PROMPT<|im_end|>\n{{% endif %}}{body}"
    ));
    let model = scratch("system-template");
    tiny_copy(
        &model,
        &[("chat_template.json", template.to_string().as_bytes())],
    );
    let prompt = |flag: &[&str]| -> String {
        let mut args = vec!["ask", "-q", "Hello?", "--max-new-tokens", "1", "--json"];
        args.extend_from_slice(flag);
        let (out, stdout, stderr) = run(hulu().env("HULU_MODEL", &model).args(&args));
        assert!(out.status.success(), "{stderr}");
        json(&stdout)["prompt"].as_str().unwrap().to_string()
    };
    assert!(prompt(&[]).starts_with("<|im_start|>system\nTEMPLATE SYSTEM PROMPT"));
    assert!(prompt(&["--system-prompt", "default"]).contains("TEMPLATE SYSTEM PROMPT"));
    let none = prompt(&["--system-prompt", "none"]);
    assert!(!none.contains("system"), "{none}");
    let own = prompt(&["--system-prompt", "You read CT scans."]);
    assert!(
        own.starts_with("<|im_start|>system\nYou read CT scans.<|im_end|>"),
        "{own}"
    );
    assert!(!own.contains("TEMPLATE SYSTEM PROMPT"), "{own}");
}

#[test]
fn the_memory_check_refuses_an_impossible_load_unless_forced() {
    let (out, _, stderr) = run(hulu().args([
        "ask",
        "-q",
        "hi",
        "--dtype",
        "f32",
        "--memory-limit",
        "1M",
        "--max-new-tokens",
        "1",
    ]));
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_one_line_error(&stderr);
    assert!(
        stderr.contains("--force") && stderr.contains("1.0 MiB"),
        "{stderr}"
    );
    let (out, _, stderr) = run(hulu().args([
        "ask",
        "-q",
        "hi",
        "--dtype",
        "f32",
        "--memory-limit",
        "1M",
        "--force",
        "--max-new-tokens",
        "1",
    ]));
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn info_json_has_the_checkpoint_facts() {
    let (out, stdout, stderr) = run(hulu().args(["info", "--json"]));
    assert!(out.status.success(), "{stderr}");
    let info = json(&stdout);
    assert_eq!(info["torch_dtype"], "bfloat16");
    assert_eq!(info["layout"]["clean"], true);
    assert!(info["weights"]["parameters"].as_u64().unwrap() > 0);
    assert_eq!(info["weights"]["files"], 2);
    assert!(info["decoder"]["hidden_size"].as_u64().unwrap() > 0);
}

/// A Hugging Face cache holding the tiny model as `org/tiny`: `main` and the tag `v1` point
/// at two snapshots, laid out as `huggingface_hub` writes them.
fn fake_cache() -> (PathBuf, PathBuf, PathBuf) {
    let cache = scratch("hf-cache");
    let repo = cache.join("models--org--tiny");
    let main = "0123456789abcdef0123456789abcdef01234567";
    let v1 = "89abcdef0123456789abcdef0123456789abcdef";
    for hash in [main, v1] {
        tiny_copy(&repo.join("snapshots").join(hash), &[]);
    }
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), main).unwrap();
    std::fs::write(repo.join("refs/v1"), v1).unwrap();
    (
        cache,
        repo.join("snapshots").join(main),
        repo.join("snapshots").join(v1),
    )
}

#[test]
fn hub_ids_resolve_offline_from_the_cache() {
    let (cache, main, v1) = fake_cache();
    let info = |model: &str, env: (&str, &Path)| -> Result<Value, String> {
        let (out, stdout, stderr) = run(hulu()
            .env_remove("HF_HUB_CACHE")
            .env(env.0, env.1)
            .args(["info", "--json", "--model", model]));
        if out.status.success() {
            Ok(json(&stdout))
        } else {
            assert_eq!(out.status.code(), Some(4), "{stderr}");
            assert_one_line_error(&stderr);
            Err(stderr)
        }
    };
    let got = info("org/tiny", ("HF_HUB_CACHE", &cache)).unwrap();
    assert_eq!(got["model"].as_str(), main.to_str());
    let got = info("org/tiny@v1", ("HF_HUB_CACHE", &cache)).unwrap();
    assert_eq!(got["model"].as_str(), v1.to_str());
    // A commit hash without a ref names its snapshot.
    let hash = v1.file_name().unwrap().to_str().unwrap();
    let got = info(&format!("org/tiny@{hash}"), ("HF_HUB_CACHE", &cache)).unwrap();
    assert_eq!(got["model"].as_str(), v1.to_str());
    // HF_HOME/hub is the cache when HF_HUB_CACHE is not set.
    let home = scratch("hf-home");
    std::os::unix::fs::symlink(&cache, home.join("hub")).unwrap();
    let got = info("org/tiny", ("HF_HOME", &home)).unwrap();
    assert!(got["model"]
        .as_str()
        .unwrap()
        .ends_with(main.file_name().unwrap().to_str().unwrap()));
    // Missing: the message says where it looked.
    let err = info("org/absent", ("HF_HUB_CACHE", &cache)).unwrap_err();
    assert!(
        err.contains(&cache.join("models--org--absent").display().to_string()),
        "{err}"
    );
    let err = info("org/tiny@v9", ("HF_HUB_CACHE", &cache)).unwrap_err();
    assert!(err.contains("refs/v9"), "{err}");
    // A model answers from the cache too.
    let (out, _, stderr) = run(hulu().env("HF_HUB_CACHE", &cache).args([
        "ask",
        "--model",
        "org/tiny@v1",
        "-q",
        "hi",
        "--max-new-tokens",
        "1",
    ]));
    assert!(out.status.success(), "{stderr}");
}

#[cfg(feature = "parity")]
#[test]
fn parity_json_lists_every_case() {
    let (out, stdout, stderr) = run(hulu().args([
        "parity",
        "--json",
        root().join("tests/fixtures").to_str().unwrap(),
    ]));
    assert!(out.status.success(), "{stderr}");
    let rows = json(&stdout);
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(row["ok"], true, "{row}");
        assert!(
            row["case"].is_string() && row["rel_l2"].is_number(),
            "{row}"
        );
    }
}
