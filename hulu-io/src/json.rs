//! Reading a JSON file (configs, indexes, templates) into a serde type, with errors that name
//! the file and the field.
//!
//! Errors go through `serde_path_to_error`, so "data did not match any variant of untagged
//! enum" becomes "`eos_token_id`: data did not match …": a user sees which field to fix.

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use std::io::Read;
use std::path::Path;

/// Largest JSON file read (64 MiB): far above any config or tokenizer file, and a bound on
/// what a hostile path (a device, a huge download by mistake) can make us hold.
pub const MAX_JSON_BYTES: u64 = 64 << 20;

/// Reads `path` (a regular file of at most [`MAX_JSON_BYTES`]) as UTF-8 text.
///
/// # Errors
/// [`Error::Io`] when it cannot be opened or read, [`Error::InvalidConfig`] when it is not a
/// regular file, too large or not UTF-8.
pub fn read_text(path: &Path) -> Result<String> {
    let bad = |reason: String| Error::InvalidConfig {
        path: path.into(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_JSON_BYTES {
        return Err(bad(format!("larger than {MAX_JSON_BYTES} bytes")));
    }
    String::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8 ({e})")))
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
