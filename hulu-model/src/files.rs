//! Reading the small JSON and text files of a checkpoint directory with typed errors.
//!
//! Every read goes through [`hulu_io::file::read_text`]: only regular files, at most
//! [`hulu_io::file::TEXT_BUDGET`] bytes, so a FIFO or `/dev/zero` named as a config cannot
//! block or exhaust memory.

use std::path::Path;

use crate::error::{Error, Result};

/// The whole file as UTF-8 text.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    hulu_io::file::read_text(path, hulu_io::file::TEXT_BUDGET).map_err(|e| match e {
        hulu_io::Error::Io { path, source } => Error::Io { path, source },
        other => Error::Config(other),
    })
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
