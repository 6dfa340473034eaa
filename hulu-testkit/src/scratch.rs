//! A private, writable copy of a fixture checkpoint for tests that damage or edit one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Copies made by this process so far: each copy gets its own folder, even for one model in
/// parallel tests.
static COPIES: AtomicUsize = AtomicUsize::new(0);

/// A copy of `fixtures/models/<model>` in the temporary folder, removed when dropped.
pub struct ScratchModel(PathBuf);

impl ScratchModel {
    /// Copies every file of the fixture model `model` (e.g. `"tiny-qwen2"`).
    pub fn of(model: &str) -> Self {
        let src = crate::fixtures_root().join("models").join(model);
        let n = COPIES.fetch_add(1, Ordering::Relaxed);
        let dst =
            std::env::temp_dir().join(format!("hulu-scratch-{model}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dst);
        std::fs::create_dir_all(&dst).unwrap();
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dst.join(path.file_name().unwrap())).unwrap();
        }
        ScratchModel(dst)
    }

    /// The copy's folder.
    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// The copy of file `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Rewrites the JSON file `name` after `f` edits its value.
    pub fn edit_json(&self, name: &str, f: impl FnOnce(&mut serde_json::Value)) {
        let path = self.path(name);
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    }
}

impl Drop for ScratchModel {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
