//! Reading a JSON file (configs, indexes, templates) into a serde type, with errors that name
//! the file and the field.
//!
//! Errors go through `serde_path_to_error`, so "data did not match any variant of untagged
//! enum" becomes "`eos_token_id`: data did not match …": a user sees which field to fix.

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use std::path::Path;

/// Reads `path` as UTF-8 text: a regular file only (never a device or a FIFO), at most
/// [`crate::file::TEXT_BUDGET`] bytes (far above any config or tokenizer file).
///
/// # Errors
/// As [`crate::file::read_text`]: the path names what is wrong.
pub fn read_text(path: &Path) -> Result<String> {
    crate::file::read_text(path, crate::file::TEXT_BUDGET)
}

/// Parses `text` (the contents of `path`) into `T`, naming the offending field on failure.
///
/// # Errors
/// [`Error::InvalidConfig`] with the field path and serde's reason.
pub fn parse_json<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let reason = if field == "." {
            e.into_inner().to_string()
        } else {
            format!("field `{field}`: {}", e.into_inner())
        };
        Error::InvalidConfig {
            path: path.into(),
            reason,
        }
    })
}

/// [`read_text`] then [`parse_json`].
///
/// # Errors
/// As those two.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    parse_json(path, &read_text(path)?)
}
