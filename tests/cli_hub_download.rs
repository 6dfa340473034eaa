//! `--download`: a Hub id missing from the Hugging Face cache is fetched only when allowed.
//!
//! A small HTTP/1.1 server in the test plays the Hub (`HF_ENDPOINT`): the repository listing
//! (`/api/models/{org}/{name}/revision/{rev}`) and the file endpoint
//! (`/{org}/{name}/resolve/{rev}/{file}`, with the `Range`, `Content-Range`, `etag` and
//! `x-repo-commit` headers `hf-hub` reads), serving the tiny fixture model plus a
//! `pytorch_model.bin` that must never be asked for. Every request is recorded.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

const ORG_NAME: &str = "org/tiny";
/// The commit `main` points at.
const MAIN: &str = "0123456789abcdef0123456789abcdef01234567";
/// The commit the tag `v1.0` points at.
const V1: &str = "fedcba9876543210fedcba9876543210fedcba98";
/// A sibling in the listing that is not a checkpoint file hulu needs.
const BIN: &str = "pytorch_model.bin";

fn tiny() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/tiny-qwen2")
}

/// A fresh folder under the system temp dir, unique to this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hulu-cli-hub-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One request the fake Hub received.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    range: Option<String>,
    authorization: Option<String>,
}

/// The fake Hub: a listener thread answering one request per connection.
struct FakeHub {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeHub {
    /// Serves the tiny model's files (and [`BIN`]) as `org/tiny` at `main` ([`MAIN`]), at the
    /// tag `v1.0` ([`V1`]) and at either commit hash.
    fn start() -> FakeHub {
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(tiny()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            files.insert(name, std::fs::read(entry.path()).unwrap());
        }
        files.insert(BIN.to_string(), b"not a checkpoint hulu reads".to_vec());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &files, &requests);
                    }
                }
            })
        };
        FakeHub {
            url,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Stops the listener: the port refuses connections afterwards.
    fn shut_down(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// The commit a revision names on the fake Hub.
fn commit_of(revision: &str) -> Option<&'static str> {
    match revision {
        "main" | MAIN => Some(MAIN),
        "v1.0" | V1 => Some(V1),
        _ => None,
    }
}

/// A content hash for the `etag` header (FNV-1a; any stable string names the blob).
fn etag(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}{:08x}", bytes.len())
}

/// Answers one HTTP/1.1 request on `stream` and closes it.
fn serve(mut stream: TcpStream, files: &BTreeMap<String, Vec<u8>>, requests: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let (mut range, mut authorization) = (None, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "range" => range = Some(value.trim().to_string()),
                "authorization" => authorization = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    requests.lock().unwrap().push(Request {
        path: path.clone(),
        range: range.clone(),
        authorization,
    });
    let respond =
        |stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]| {
            let mut head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
            let _ = stream.flush();
        };
    let not_found = |stream: &mut TcpStream| {
        let body = br#"{"error":"Repository Not Found"}"#;
        respond(
            stream,
            "404 Not Found",
            &[("Content-Type", "application/json".into())],
            body,
        );
    };
    let listing = format!("/api/models/{ORG_NAME}/revision/");
    let resolve = format!("/{ORG_NAME}/resolve/");
    if let Some(revision) = path.strip_prefix(&listing) {
        let Some(sha) = commit_of(revision) else {
            return not_found(&mut stream);
        };
        let siblings: Vec<Value> = files
            .keys()
            .map(|name| serde_json::json!({ "rfilename": name }))
            .collect();
        let body = serde_json::json!({ "id": ORG_NAME, "sha": sha, "siblings": siblings });
        respond(
            &mut stream,
            "200 OK",
            &[("Content-Type", "application/json".into())],
            body.to_string().as_bytes(),
        );
    } else if let Some(rest) = path.strip_prefix(&resolve) {
        let (revision, name) = rest.split_once('/').unwrap_or((rest, ""));
        let (Some(sha), Some(bytes)) = (commit_of(revision), files.get(name)) else {
            return not_found(&mut stream);
        };
        let size = bytes.len();
        let (start, end) = match range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
            Some(r) => {
                let (a, b) = r.split_once('-').unwrap();
                let a: usize = a.parse().unwrap();
                let b = if b.is_empty() {
                    size - 1
                } else {
                    b.parse::<usize>().unwrap().min(size - 1)
                };
                (a, b)
            }
            None => (0, size - 1),
        };
        if start > end {
            return respond(
                &mut stream,
                "416 Range Not Satisfiable",
                &[("Content-Range", format!("bytes */{size}"))],
                b"",
            );
        }
        let headers = [
            ("Content-Range", format!("bytes {start}-{end}/{size}")),
            ("etag", format!("\"{}\"", etag(bytes))),
            ("x-repo-commit", sha.to_string()),
            ("Accept-Ranges", "bytes".to_string()),
        ];
        let status = if range.is_some() {
            "206 Partial Content"
        } else {
            "200 OK"
        };
        respond(&mut stream, status, &headers, &bytes[start..=end]);
    } else {
        not_found(&mut stream);
    }
}

/// `hulu` with a clean Hugging Face environment: the cache `cache`, `HF_HOME` an empty folder
/// (no token file), no proxy, nothing from the caller's `HULU_*` or `HF_HUB_OFFLINE`.
fn hulu(cache: &Path, home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hulu"));
    for var in [
        "HULU_MODEL",
        "HULU_DOWNLOAD",
        "HF_HUB_OFFLINE",
        "HF_ENDPOINT",
        "HF_TOKEN",
        "HF_TOKEN_PATH",
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ] {
        c.env_remove(var);
    }
    c.env("HF_HUB_CACHE", cache)
        .env("HF_HOME", home)
        .env("RUST_BACKTRACE", "1");
    c
}

/// `ask --json` on `model`, greedy, four tokens, plus `extra` flags.
fn ask(c: &mut Command, model: &str, extra: &[&str]) -> Output {
    c.args([
        "ask",
        "--model",
        model,
        "--question",
        "hi",
        "--max-new-tokens",
        "4",
        "--greedy",
        "--json",
    ])
    .args(extra)
    .output()
    .expect("run hulu")
}

fn answer(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let value: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    value["answer"].as_str().expect("answer").to_string()
}

/// A model error (status 4) printed as one `error: ` line; returns that line.
fn model_error(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_string()
}

/// The checkpoint files of the fixture: every file of it (all are JSON or safetensors).
fn fixture_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(tiny())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_hub_id_downloads_only_with_download_then_answers_from_the_cache() {
    let cache = scratch("cache");
    let home = scratch("home");
    let mut hub = FakeHub::start();
    let local = answer(&ask(
        &mut hulu(&cache, &home),
        tiny().to_str().unwrap(),
        &[],
    ));

    // (a) Without --download: not found, and the message says how to allow it.
    let out = ask(
        hulu(&cache, &home).env("HF_ENDPOINT", &hub.url),
        ORG_NAME,
        &[],
    );
    let err = model_error(&out);
    assert!(err.contains("--download"), "{err}");
    assert!(err.contains("models--org--tiny"), "{err}");
    // HULU_DOWNLOAD=0 is no --download.
    let out = ask(
        hulu(&cache, &home)
            .env("HF_ENDPOINT", &hub.url)
            .env("HULU_DOWNLOAD", "0"),
        ORG_NAME,
        &[],
    );
    assert!(model_error(&out).contains("--download"));
    assert!(hub.requests().is_empty(), "{:?}", hub.requests());

    // (b) With --download: fetched into the cache layout, and the same answer as the folder.
    let out = ask(
        hulu(&cache, &home)
            .env("HF_ENDPOINT", &hub.url)
            .env("HF_TOKEN", "hf_test_token"),
        ORG_NAME,
        &["--download"],
    );
    assert_eq!(answer(&out), local);
    let repo = cache.join("models--org--tiny");
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main"))
            .unwrap()
            .trim(),
        MAIN
    );
    let snapshot = repo.join("snapshots").join(MAIN);
    assert!(snapshot.join("config.json").is_file());
    for name in fixture_files() {
        assert_eq!(
            std::fs::read(snapshot.join(&name)).unwrap(),
            std::fs::read(tiny().join(&name)).unwrap(),
            "{name}"
        );
    }
    assert!(!snapshot.join(BIN).exists());
    // Only branch refs are written, not one per commit.
    let refs: Vec<_> = std::fs::read_dir(repo.join("refs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(refs, ["main"]);

    let requests = hub.requests();
    assert_eq!(
        requests[0].path,
        format!("/api/models/{ORG_NAME}/revision/main")
    );
    assert!(
        requests.iter().all(|r| !r.path.contains(BIN)),
        "{BIN} was requested: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer hf_test_token")),
        "HF_TOKEN not sent: {requests:?}"
    );
    // Every fixture file: a `bytes=0-0` probe, then the whole file, at the listed commit.
    let mut fetched: Vec<String> = Vec::new();
    for r in &requests[1..] {
        let prefix = format!("/{ORG_NAME}/resolve/{MAIN}/");
        let name = r
            .path
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{r:?}"));
        match r.range.as_deref() {
            Some("bytes=0-0") => {}
            Some("bytes=0-") => fetched.push(name.to_string()),
            other => panic!("unexpected range {other:?} in {r:?}"),
        }
    }
    fetched.sort();
    assert_eq!(fetched, fixture_files());
    // config.json comes last: its presence marks the snapshot complete.
    assert!(requests.last().unwrap().path.ends_with("/config.json"));

    // (c) The Hub gone: the cache answers, without --download.
    hub.shut_down();
    let out = ask(
        hulu(&cache, &home).env("HF_ENDPOINT", &hub.url),
        ORG_NAME,
        &[],
    );
    assert_eq!(answer(&out), local);
    // And with --download nothing is fetched again for a cached snapshot.
    let out = ask(
        hulu(&cache, &home).env("HF_ENDPOINT", &hub.url),
        ORG_NAME,
        &["--download"],
    );
    assert_eq!(answer(&out), local);
}

#[test]
fn hf_hub_offline_refuses_a_download() {
    let cache = scratch("offline-cache");
    let home = scratch("offline-home");
    let hub = FakeHub::start();
    for value in ["1", "true"] {
        let out = ask(
            hulu(&cache, &home)
                .env("HF_ENDPOINT", &hub.url)
                .env("HF_HUB_OFFLINE", value),
            ORG_NAME,
            &["--download"],
        );
        let err = model_error(&out);
        assert!(err.contains("HF_HUB_OFFLINE"), "{err}");
        assert!(err.contains(ORG_NAME), "{err}");
    }
    // HULU_DOWNLOAD=1 is --download.
    let out = ask(
        hulu(&cache, &home)
            .env("HF_ENDPOINT", &hub.url)
            .env("HF_HUB_OFFLINE", "1")
            .env("HULU_DOWNLOAD", "1"),
        ORG_NAME,
        &[],
    );
    assert!(model_error(&out).contains("HF_HUB_OFFLINE"));
    assert!(hub.requests().is_empty(), "{:?}", hub.requests());
    assert!(!cache.join("models--org--tiny").exists());
}

#[test]
fn a_tag_downloads_the_commit_it_names() {
    let cache = scratch("tag-cache");
    let home = scratch("tag-home");
    let hub = FakeHub::start();
    let local = answer(&ask(
        &mut hulu(&cache, &home),
        tiny().to_str().unwrap(),
        &[],
    ));
    let out = ask(
        hulu(&cache, &home).env("HF_ENDPOINT", &hub.url),
        &format!("{ORG_NAME}@v1.0"),
        &["--download"],
    );
    assert_eq!(answer(&out), local);
    let repo = cache.join("models--org--tiny");
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/v1.0"))
            .unwrap()
            .trim(),
        V1
    );
    assert!(repo
        .join("snapshots")
        .join(V1)
        .join("config.json")
        .is_file());
    assert!(!repo.join("refs/main").exists());
    assert!(!repo.join("snapshots").join(MAIN).exists());
    assert!(hub
        .requests()
        .iter()
        .skip(1)
        .all(|r| r.path.starts_with(&format!("/{ORG_NAME}/resolve/{V1}/"))));

    // A revision the Hub does not know: a download error naming the repository and the cause.
    let out = ask(
        hulu(&cache, &home).env("HF_ENDPOINT", &hub.url),
        &format!("{ORG_NAME}@nope"),
        &["--download"],
    );
    let err = model_error(&out);
    assert!(
        err.contains("org/tiny@nope") && err.contains("404"),
        "{err}"
    );
    assert!(err.contains(&hub.url), "{err}");
}
