//! `hulu serve`, started as a user would on a loopback port with the repository's tiny model,
//! driven by the official `openai` Python client (installed into the project venv by
//! `scripts/setup-python.sh`; the scripts are in `hulu-server/tests/python`). Answers are
//! compared with `hulu ask` on the same input and options.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const QUESTION: &str = "What does this show?";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures")
}

fn model() -> PathBuf {
    fixtures().join("models/tiny-qwen2")
}

/// The project venv's python, provisioned once per test binary.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new(repo().join("scripts/setup-python.sh"))
            .output()
            .expect("run scripts/setup-python.sh");
        assert!(
            out.status.success(),
            "setup-python: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// A running `hulu serve`; killed when dropped.
struct Server {
    child: Child,
    base: String,
    key: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let key = "test-key-0123456789".to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_hulu"))
            .args(["serve", "--port", "0", "--api-key", &key])
            .arg("--model")
            .arg(model())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start hulu serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("server: {line}");
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("hulu serve printed no address");
            };
            if let Some(addr) = line.strip_prefix("listening on ") {
                return Server {
                    child,
                    base: addr.trim().to_string(),
                    key,
                };
            }
        }
    }

    /// Runs a script of `hulu-server/tests/python` against this server; returns its stdout.
    fn python(&self, script: &str, env: &[(&str, &str)]) -> String {
        let out = self
            .python_command(script, env)
            .output()
            .expect("run python");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        println!("{script}: {stdout}");
        assert!(
            out.status.success(),
            "{script} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn python_command(&self, script: &str, env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(python());
        command
            .arg(repo().join("hulu-server/tests/python").join(script))
            .env("HULU_BASE_URL", &self.base)
            .env("HULU_API_KEY", &self.key)
            .env("HULU_MODEL_ID", "tiny-qwen2")
            .env("HULU_FIXTURES", fixtures())
            .env("HULU_QUESTION", QUESTION)
            .env("NO_PROXY", "*")
            .envs(env.iter().copied());
        command
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last JSON line a script reported.
fn reported(stdout: &str) -> serde_json::Value {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .expect("a JSON report");
    serde_json::from_str(line).unwrap()
}

/// What `hulu ask` answers (its stdout without the final newline).
fn ask(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hulu"))
        .arg("ask")
        .arg("--model")
        .arg(model())
        .args(["--question", QUESTION])
        // The server's defaults: greedy without a temperature, no system prompt.
        .args(["--greedy", "--system-prompt", "none"])
        .args(args)
        .output()
        .expect("run hulu ask");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.strip_suffix('\n').unwrap_or(&stdout).to_string()
}

/// A media root holding `volumes/anatomical.nii`, a symlink to a file outside it and one to a
/// folder outside it, and the folder outside.
fn media_root(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("hulu-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (root, outside) = (dir.join("root"), dir.join("outside"));
    std::fs::create_dir_all(root.join("volumes")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let nii = fixtures().join("inputs/anatomical.nii");
    std::fs::copy(&nii, root.join("volumes/anatomical.nii")).unwrap();
    std::fs::copy(&nii, outside.join("anatomical.nii")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.join("anatomical.nii"), root.join("escape.nii"))
            .unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape_dir")).unwrap();
    }
    (root, outside)
}

#[test]
fn chat_with_an_image_streams_and_matches_ask() {
    let server = Server::start(&[]);
    let report = reported(&server.python("chat.py", &[]));
    let image = fixtures().join("inputs/ct_small.png");
    let expected = ask(&["--max-new-tokens", "12", image.to_str().unwrap()]);
    assert_eq!(report["answer"].as_str().unwrap(), expected);
}

#[test]
fn medical_parts_by_upload_and_media_root_match_ask() {
    let (root, outside) = media_root("medical");
    let server = Server::start(&["--media-root", root.to_str().unwrap()]);
    let report = reported(&server.python(
        "medical.py",
        &[
            ("HULU_MEDIA_ROOT", root.to_str().unwrap()),
            ("HULU_OUTSIDE", outside.to_str().unwrap()),
        ],
    ));
    let nii = fixtures().join("inputs/anatomical.nii");
    let nifti = ask(&[
        "--max-new-tokens",
        "8",
        "--slices",
        "4",
        "--no-compress",
        nii.to_str().unwrap(),
    ]);
    assert_eq!(report["nifti"].as_str().unwrap(), nifti);
    let series = fixtures().join("io/dicom/series_ct5n");
    let dicom = ask(&[
        "--max-new-tokens",
        "8",
        "--window",
        "lung",
        "--no-compress",
        series.to_str().unwrap(),
    ]);
    assert_eq!(report["series"].as_str().unwrap(), dicom);
}

#[test]
fn errors_reach_the_client_typed() {
    let server = Server::start(&["--max-body-mib", "2", "--max-upload-mib", "2"]);
    let stdout = server.python("errors.py", &[]);
    assert!(stdout.contains("errors ok"));
}

#[test]
fn non_loopback_without_a_key_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_hulu"))
        .args(["serve", "--host", "0.0.0.0", "--port", "0"])
        .arg("--model")
        .arg(model())
        .env_remove("HULU_API_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs an API key"), "{stderr}");
}

#[test]
fn load_every_request_succeeds_or_gets_429() {
    let (root, _) = media_root("load");
    let server = Server::start(&["--media-root", root.to_str().unwrap(), "--max-queue", "16"]);
    let report = reported(&server.python("load.py", &[]));
    assert_eq!(
        report["ok"].as_u64().unwrap() + report["rejected"].as_u64().unwrap(),
        256
    );
}

#[test]
fn disconnects_and_slow_clients_do_not_hold_the_server() {
    let server = Server::start(&["--header-timeout", "2"]);
    let stdout = server.python("faults.py", &[]);
    assert!(stdout.contains("faults ok"));
}

#[test]
fn sigterm_drains_in_flight_streams_and_exits_cleanly() {
    let mut server = Server::start(&["--grace", "60"]);
    let mut client = server
        .python_command("drain.py", &[])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let first = lines.next().expect("drain.py started").unwrap();
    assert_eq!(first, "started");
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(client.wait().unwrap().success(), "{rest:?}");
    assert!(rest.iter().any(|l| l.starts_with("drained")), "{rest:?}");
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "hulu serve exited with {exit}");
}
