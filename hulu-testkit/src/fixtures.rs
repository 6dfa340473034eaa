//! Locating and enumerating the golden fixtures.

use std::path::{Path, PathBuf};

/// Root of the golden fixtures: `$HULU_FIXTURES` when set, else the copy vendored in
/// `tests/fixtures` at the workspace root.
pub fn fixtures_root() -> PathBuf {
    if let Some(root) = std::env::var_os("HULU_FIXTURES") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .canonicalize()
        .expect("vendored fixtures at tests/fixtures")
}

/// One parity case: `cases/<model>/<name>.json` and its `.safetensors` of intermediates.
#[derive(Debug, Clone)]
pub struct Case {
    /// Case name (file stem), e.g. `text_chat`.
    pub name: String,
    /// Name of the folder under `cases/` that holds it, e.g. `tiny-qwen2`.
    pub group: String,
    /// The parsed case JSON.
    pub json: serde_json::Value,
    /// Path of the case's `.safetensors`.
    pub tensors_path: PathBuf,
    /// The model directory the case JSON names (`model`), resolved under the fixtures root.
    pub model_dir: PathBuf,
}

impl Case {
    /// `group/name`, the label tests print for each case they check.
    pub fn label(&self) -> String {
        format!("{}/{}", self.group, self.name)
    }

    /// Loads the case's tensors.
    pub fn tensors(&self) -> crate::TensorFile {
        crate::TensorFile::open(&self.tensors_path)
    }

    /// Whether the case has visual input (text-only cases have no `pixel_values`).
    pub fn has_visual(&self) -> bool {
        self.json["shapes"].get("pixel_values").is_some()
            || self.json["sources"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
    }

    /// The case JSON in the fixture schema.
    ///
    /// # Panics
    /// When the JSON does not fit the schema the fixtures README defines (a broken fixture).
    pub fn spec(&self) -> crate::CaseSpec {
        serde_json::from_value(self.json.clone())
            .unwrap_or_else(|e| panic!("{}: not a fixture case: {e}", self.label()))
    }
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    entries
}

/// Every case under `<fixtures root>/cases`, sorted by group then name.
pub fn cases() -> Vec<Case> {
    cases_under(&fixtures_root())
}

/// Every case under `<root>/cases`, sorted by group then name.
pub fn cases_under(root: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    for group_dir in sorted_dir(&root.join("cases")) {
        if !group_dir.is_dir() {
            continue;
        }
        let group = group_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for path in sorted_dir(&group_dir) {
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("case json");
            let json: serde_json::Value = serde_json::from_str(&text).expect("valid case json");
            let model = json["model"].as_str().expect("case names its model");
            out.push(Case {
                name: path.file_stem().unwrap().to_string_lossy().into_owned(),
                group: group.clone(),
                tensors_path: path.with_extension("safetensors"),
                model_dir: root.join(model),
                json,
            });
        }
    }
    assert!(!out.is_empty(), "no cases under {}", root.display());
    out
}

/// Every model directory under `<root>/models` (each has a `config.json`).
pub fn models() -> Vec<PathBuf> {
    let dirs: Vec<PathBuf> = sorted_dir(&fixtures_root().join("models"))
        .into_iter()
        .filter(|d| d.join("config.json").is_file())
        .collect();
    assert!(!dirs.is_empty(), "no model directories in the fixtures");
    dirs
}

/// Every file under `<root>/io/<sub>` whose name ends with `suffix`, sorted.
pub fn io_files(sub: &str, suffix: &str) -> Vec<PathBuf> {
    sorted_dir(&fixtures_root().join("io").join(sub))
        .into_iter()
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
        .collect()
}
