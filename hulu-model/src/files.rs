//! Reading the small JSON and text files of a checkpoint directory with typed errors.

use std::path::Path;

use crate::error::{Error, Result};

/// The whole file as UTF-8 text.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// The file parsed as JSON.
pub(crate) fn read_json(path: &Path) -> Result<serde_json::Value> {
    serde_json::from_str(&read_text(path)?).map_err(|e| Error::json(path, e))
}

/// The file parsed as JSON, or `None` when it does not exist.
pub(crate) fn read_json_opt(path: &Path) -> Result<Option<serde_json::Value>> {
    if path.is_file() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}
