//! Finding a checkpoint: a directory, or a Hugging Face Hub id (`org/name`, `org/name@revision`)
//! resolved offline from the local Hugging Face cache.
//!
//! The cache layout is the one `huggingface_hub` writes (its "Manage the cache" guide):
//! `<cache>/models--<org>--<name>/refs/<revision>` holds the commit hash a branch or tag points
//! at, and `<cache>/models--<org>--<name>/snapshots/<commit>/` holds the files of that commit.
//! The cache folder is `HF_HUB_CACHE` when set, else `HF_HOME/hub`, else
//! `~/.cache/huggingface/hub`, as in `huggingface_hub`'s `constants.py`. Reading the refs and
//! the snapshot is delegated to the `hf-hub` crate (the one candle and mistral.rs use); nothing
//! here goes to the network: a model missing from the cache is an error that names every place
//! looked in.

use crate::error::{Error, Result};
use hf_hub::{Cache, Repo, RepoType};
use std::path::{Path, PathBuf};

/// The file every checkpoint directory has; its presence marks a usable snapshot.
const CONFIG_FILE: &str = "config.json";

/// Where a checkpoint comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A checkpoint directory.
    Dir(PathBuf),
    /// A Hub repository, optionally at a revision (branch, tag or commit hash; default `main`).
    Hub {
        /// `org/name`.
        repo_id: String,
        /// The revision after `@`.
        revision: Option<String>,
    },
}

impl ModelSource {
    /// Reads a `--model` value: an existing path is a directory; otherwise `org/name` or
    /// `org/name@revision` (names of letters, digits, `-`, `_` and `.`, as the Hub allows) is a
    /// Hub id; anything else is a directory (that [`resolve`] will report missing).
    pub fn parse(spec: &Path) -> ModelSource {
        if spec.exists() {
            return ModelSource::Dir(spec.to_path_buf());
        }
        let Some(text) = spec.to_str() else {
            return ModelSource::Dir(spec.to_path_buf());
        };
        let (id, revision) = match text.split_once('@') {
            Some((id, rev)) => (id, Some(rev)),
            None => (text, None),
        };
        let name_ok = |s: &str| {
            !s.is_empty()
                && !s.starts_with(['.', '-'])
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match id.split_once('/') {
            Some((org, name))
                if name_ok(org)
                    && name_ok(name)
                    && revision.is_none_or(|r| !r.is_empty() && !r.contains("..")) =>
            {
                ModelSource::Hub {
                    repo_id: id.to_string(),
                    revision: revision.map(str::to_string),
                }
            }
            _ => ModelSource::Dir(spec.to_path_buf()),
        }
    }
}

/// The Hugging Face hub cache folder: `HF_HUB_CACHE`, else `HF_HOME/hub`, else
/// `~/.cache/huggingface/hub` (the last two as `hf-hub`'s `Cache::from_env`).
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("HF_HUB_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Cache::from_env().path().clone(),
    }
}

/// The checkpoint directory `spec` names: `spec` itself when it is a directory, else the
/// cached snapshot of the Hub id it spells (see [`ModelSource::parse`]) in [`cache_dir`].
///
/// # Errors
///
/// [`Error::ModelNotFound`] naming the directory or the cache paths looked in.
pub fn resolve(spec: impl AsRef<Path>) -> Result<PathBuf> {
    resolve_in(spec, &cache_dir())
}

/// [`resolve`] with the hub cache at `cache`.
///
/// # Errors
///
/// [`Error::ModelNotFound`] naming the directory or the cache paths looked in.
pub fn resolve_in(spec: impl AsRef<Path>, cache: &Path) -> Result<PathBuf> {
    let spec = spec.as_ref();
    let _span = tracing::info_span!("resolve_model", spec = %spec.display()).entered();
    match ModelSource::parse(spec) {
        ModelSource::Dir(dir) if dir.is_dir() => Ok(dir),
        ModelSource::Dir(dir) => Err(Error::ModelNotFound {
            model: spec.display().to_string(),
            looked_in: vec![dir],
        }),
        ModelSource::Hub { repo_id, revision } => {
            cached_snapshot(cache, &repo_id, revision.as_deref()).map_err(|looked_in| {
                Error::ModelNotFound {
                    model: spec.display().to_string(),
                    looked_in,
                }
            })
        }
    }
}

/// The snapshot folder of `repo_id` at `revision` (default `main`) in `cache`, or the paths
/// looked in. A revision is first read as a ref (branch or tag, `refs/<revision>`), then as a
/// commit hash (`snapshots/<revision>`), as `huggingface_hub` does.
fn cached_snapshot(
    cache: &Path,
    repo_id: &str,
    revision: Option<&str>,
) -> std::result::Result<PathBuf, Vec<PathBuf>> {
    let revision = revision.unwrap_or("main");
    let repo = Repo::with_revision(repo_id.to_string(), RepoType::Model, revision.to_string());
    let repo_dir = cache.join(repo.folder_name());
    if let Some(config) = Cache::new(cache.to_path_buf()).repo(repo).get(CONFIG_FILE) {
        if let Some(dir) = config.parent() {
            return Ok(dir.to_path_buf());
        }
    }
    let by_commit = repo_dir.join("snapshots").join(revision);
    if by_commit.join(CONFIG_FILE).is_file() {
        return Ok(by_commit);
    }
    Err(vec![repo_dir.join("refs").join(revision), by_commit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids_and_paths_are_told_apart() {
        let hub = |id: &str, rev: Option<&str>| ModelSource::Hub {
            repo_id: id.into(),
            revision: rev.map(Into::into),
        };
        assert_eq!(
            ModelSource::parse(Path::new("ZJU-AI4H/Hulu-Med-7B")),
            hub("ZJU-AI4H/Hulu-Med-7B", None)
        );
        assert_eq!(
            ModelSource::parse(Path::new("org/name@v1.0")),
            hub("org/name", Some("v1.0"))
        );
        for dir in [
            "a/b/c",
            "/abs/olute",
            "./rel",
            "org/",
            "org/na me",
            "org/n@",
        ] {
            assert_eq!(
                ModelSource::parse(Path::new(dir)),
                ModelSource::Dir(dir.into()),
                "{dir}"
            );
        }
    }
}
