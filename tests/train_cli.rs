//! `hulu train` run as a user would: `recipes/smoke.toml` on the repository's tiny model, the
//! checkpoint it saves answered from by `hulu ask`, bad recipes refused before any weight is
//! read, and a run stopped by SIGTERM and resumed ending where a straight run ends.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tiny() -> PathBuf {
    root().join("tests/fixtures/models/tiny-qwen2")
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("train_cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hulu(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_hulu"))
        .env_remove("HULU_MODEL")
        .args(args)
        .output()
        .expect("run hulu");
    println!("hulu {}", args.join(" "));
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn train_args<'a>(recipe: &'a Path, model: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "train",
        "--recipe",
        recipe.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]
}

/// `metrics.jsonl` of a run, one record per step.
fn metrics(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The smoke recipe with its data paths made absolute (so a copy can live anywhere) and
/// `edit` applied (`from`, `to`, replacing the first occurrence).
fn smoke_recipe(dir: &Path, name: &str, edit: &[(&str, &str)]) -> PathBuf {
    let recipes = root().join("recipes");
    let mut text = std::fs::read_to_string(recipes.join("smoke.toml")).unwrap();
    text = text.replace(
        "path = \"smoke/",
        &format!("path = \"{}/smoke/", recipes.display()),
    );
    text = text.replace(
        "root = \"../tests/fixtures\"",
        &format!("root = \"{}\"", root().join("tests/fixtures").display()),
    );
    for (from, to) in edit {
        assert!(text.contains(from), "{from} in smoke.toml");
        text = text.replacen(from, to, 1);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn smoke_recipe_trains_logs_plots_and_saves_a_checkpoint_hulu_ask_answers_from() {
    let out = scratch("smoke");
    let recipe = root().join("recipes/smoke.toml");
    let run = hulu(&train_args(&recipe, &tiny(), &out));
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{}{stdout}", text(&run.stderr));
    // The skip table ends the run.
    assert!(stdout.contains("skipped rows"), "{stdout}");

    // One line per step, stages in order, steps counted within each stage, losses finite.
    let lines = metrics(&out);
    let steps: Vec<(String, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["stage"].as_str().unwrap().into(),
                l["step"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> =
        [("align", 1), ("align", 2), ("instruct", 1), ("instruct", 2)]
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect();
    assert_eq!(steps, expected);
    for l in &lines {
        let loss = l["loss"].as_f64().unwrap();
        assert!(loss.is_finite() && loss > 0.0, "{l}");
        assert!(l["tokens"].as_u64().unwrap() > 0, "{l}");
    }
    // The align stage holds a row out and evaluates it every step.
    assert!(lines[0]["held_out_loss"].as_f64().unwrap().is_finite());

    // The loss curve: a PNG of the documented size.
    let png = image::open(out.join("loss.png")).expect("loss.png decodes");
    assert_eq!(
        (png.width(), png.height()),
        hulu_train::plot::LOSS_PLOT_SIZE
    );

    // The last stage's checkpoint (LoRA merged) is a model `hulu ask` loads and answers from.
    let checkpoint = out.join("instruct");
    assert!(checkpoint.join("adapter/adapter_config.json").is_file());
    let nii = root().join("tests/fixtures/inputs/anatomical.nii");
    let ask = hulu(&[
        "ask",
        "--model",
        checkpoint.to_str().unwrap(),
        "--question",
        "Which organ is shown?",
        "--slices",
        "8",
        "--max-new-tokens",
        "3",
        "--ignore-eos",
        nii.to_str().unwrap(),
    ]);
    let stderr = text(&ask.stderr);
    assert!(ask.status.success(), "{stderr}");
    assert!(stderr.contains("3 new"), "{stderr}");
}

#[test]
fn bad_recipes_exit_with_the_usage_status_before_any_weight_is_read() {
    let dir = scratch("bad");
    // A model folder with the config alone: reading any weight would fail with status 4.
    let model = dir.join("config-only");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::copy(tiny().join("config.json"), model.join("config.json")).unwrap();
    let cases: [(&str, (&str, &str), &str); 4] = [
        ("lr", ("vision = 5e-4", "vision = -1e-4"), "vision"),
        (
            "zero-lr",
            ("projector = 2e-3", "projector = 0.0"),
            "projector",
        ),
        (
            "component",
            ("policy = \"align\"", "policy = [\"vision\", \"retina\"]"),
            "retina",
        ),
        (
            "lora",
            (
                "targets = [\"q_proj\", \"v_proj\"]",
                "targets = [\"q_proj\", \"qkv\"]",
            ),
            "qkv",
        ),
    ];
    for (name, edit, subject) in cases {
        let recipe = smoke_recipe(&dir, &format!("{name}.toml"), &[edit]);
        let out = dir.join(format!("out-{name}"));
        let run = hulu(&train_args(&recipe, &model, &out));
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(subject), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
        assert!(!out.exists(), "{name}: nothing written before the check");
    }
    // The same recipe with good settings does reach the weights (and fails there with the
    // model status), so the statuses above came from the checks.
    let recipe = smoke_recipe(&dir, "good.toml", &[]);
    let run = hulu(&train_args(&recipe, &model, &dir.join("out-good")));
    assert_eq!(run.status.code(), Some(4), "{}", text(&run.stderr));
}

/// A smoke recipe whose first stage is long enough to be interrupted.
fn long_recipe(dir: &Path) -> PathBuf {
    smoke_recipe(
        dir,
        "long.toml",
        &[
            ("steps = 2", "steps = 12"),
            ("eval_every = 1", "eval_every = 4"),
        ],
    )
}

#[test]
fn sigterm_saves_the_stage_and_resume_ends_where_a_straight_run_ends() {
    let dir = scratch("signal");
    let recipe = long_recipe(&dir);
    let straight = dir.join("straight");
    let run = hulu(&train_args(&recipe, &tiny(), &straight));
    assert!(run.status.success(), "{}", text(&run.stderr));

    let out = dir.join("interrupted");
    let tiny = tiny();
    let child = Command::new(env!("CARGO_BIN_EXE_hulu"))
        .args(train_args(&recipe, &tiny, &out))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::read_to_string(out.join("metrics.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
        == 0
    {
        assert!(started.elapsed() < Duration::from_secs(120), "no step");
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let stopped = child.wait_with_output().unwrap();
    assert_eq!(
        stopped.status.code(),
        Some(143),
        "{}",
        text(&stopped.stderr)
    );
    let done = metrics(&out).len();
    assert!(done < 14, "stopped before the end, after {done} steps");

    // The stage was saved as incomplete, with its checkpoint beside the resume state.
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("align/state/trainer_state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["run"]["complete"], Value::Bool(false), "{state}");
    assert_eq!(state["run"]["stage_step"].as_u64().unwrap() as usize, done);
    assert!(out.join("align/model.safetensors").is_file());

    let mut args = train_args(&recipe, &tiny, &out);
    args.push("--resume");
    let resumed = hulu(&args);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let (a, b) = (metrics(&straight), metrics(&out));
    assert_eq!(a.len(), 14);
    assert_eq!(b.len(), a.len(), "the resumed run logs the remaining steps");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((&x["stage"], &x["step"]), (&y["stage"], &y["step"]));
        let (lx, ly) = (x["loss"].as_f64().unwrap(), y["loss"].as_f64().unwrap());
        assert!(
            (lx - ly).abs() <= 1e-5 * lx.abs(),
            "step {} of {}: straight {lx}, resumed {ly}",
            x["step"],
            x["stage"]
        );
    }
    // The skip table counts the rows skipped before the interruption too: the same table as
    // the straight run's (the missing-file row is drawn several times in 12 steps).
    let table = |stdout: &[u8]| -> String {
        let out = text(stdout);
        let start = out.find("skipped rows").expect("a skip table");
        let end = start + out[start..].find("total").expect("a total line");
        let end = end + out[end..].find('\n').unwrap_or(out.len() - end);
        out[start..end].to_string()
    };
    let (straight_table, resumed_table) = (table(&run.stdout), table(&resumed.stdout));
    assert!(straight_table.contains("missing file"), "{straight_table}");
    assert_eq!(resumed_table, straight_table);
}
