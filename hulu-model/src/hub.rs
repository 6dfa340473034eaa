//! Finding a checkpoint: a directory, or a Hugging Face Hub id (`org/name`, `org/name@revision`)
//! found in the local Hugging Face cache, and downloaded into it when the caller allows.
//!
//! The cache layout is the one `huggingface_hub` writes (its "Manage the cache" guide):
//! `<cache>/models--<org>--<name>/refs/<revision>` holds the commit hash a branch or tag points
//! at, and `<cache>/models--<org>--<name>/snapshots/<commit>/` holds the files of that commit.
//! The cache folder is `HF_HUB_CACHE` when set, else `HF_HOME/hub`, else
//! `~/.cache/huggingface/hub`, as in `huggingface_hub`'s `constants.py`. Reading the refs and
//! the snapshot is delegated to the `hf-hub` crate (the one candle and mistral.rs use).
//!
//! [`resolve`] never goes to the network: a model missing from the cache is an error that
//! names every place looked in. [`resolve_with`] with [`HubOptions::download`] (and the
//! `download` cargo feature, on by default) fetches a missing snapshot through `hf-hub`'s
//! blocking client: the repository's file list at the revision, then, pinned to the commit
//! that list names, the files a checkpoint needs ([`is_checkpoint_file`]: JSON, safetensors,
//! Jinja templates, tokenizer vocabularies; never other weight formats), `config.json` last so
//! that its presence marks a complete snapshot. It honours `HF_ENDPOINT` (another Hub or a
//! mirror), `HF_TOKEN` (else the token file `huggingface-cli login` writes) and
//! `HF_HUB_OFFLINE` (downloads refused).

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

/// How [`resolve_with`] finds a checkpoint.
#[derive(Debug, Clone, Default)]
pub struct HubOptions {
    /// Download a Hub id missing from the cache (needs the `download` feature; refused when
    /// `HF_HUB_OFFLINE` is set). Off: the cache only, as [`resolve`].
    pub download: bool,
    /// Show `hf-hub`'s progress bar on stderr while downloading (callers set it when stderr is
    /// a terminal).
    pub progress: bool,
    /// The hub cache folder; `None` for [`cache_dir`].
    pub cache: Option<PathBuf>,
}

/// The checkpoint directory `spec` names: `spec` itself when it is a directory, else the
/// cached snapshot of the Hub id it spells (see [`ModelSource::parse`]) in [`cache_dir`].
/// Never downloads: see [`resolve_with`].
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
    resolve_with(
        spec,
        &HubOptions {
            cache: Some(cache.to_path_buf()),
            ..HubOptions::default()
        },
    )
}

/// The checkpoint directory `spec` names, as [`resolve`]; a Hub id missing from the cache is
/// downloaded into it when `options.download` allows (see the module docs), and its snapshot
/// folder returned.
///
/// # Errors
///
/// [`Error::ModelNotFound`] naming the directory or the cache paths looked in (and how to allow
/// downloading) when the model is missing and downloading is off; [`Error::DownloadFailed`]
/// naming the repository and the cause when a download was asked for and failed or was
/// refused.
pub fn resolve_with(spec: impl AsRef<Path>, options: &HubOptions) -> Result<PathBuf> {
    let spec = spec.as_ref();
    let _span =
        tracing::info_span!("resolve_model", spec = %spec.display(), download = options.download)
            .entered();
    let cache = options.cache.clone().unwrap_or_else(cache_dir);
    match ModelSource::parse(spec) {
        ModelSource::Dir(dir) if dir.is_dir() => Ok(dir),
        ModelSource::Dir(dir) => Err(Error::ModelNotFound {
            model: spec.display().to_string(),
            looked_in: vec![dir],
            hint: None,
        }),
        ModelSource::Hub { repo_id, revision } => {
            let looked_in = match cached_snapshot(&cache, &repo_id, revision.as_deref()) {
                Ok(dir) => return Ok(dir),
                Err(looked_in) => looked_in,
            };
            if options.download {
                let revision = revision.as_deref().unwrap_or("main");
                return download::snapshot(&cache, &repo_id, revision, options.progress);
            }
            Err(Error::ModelNotFound {
                model: spec.display().to_string(),
                looked_in,
                hint: Some(download::HINT.to_string()),
            })
        }
    }
}

/// Whether a repository file is one a checkpoint needs, and so one a download fetches: JSON
/// (config, tokenizer, template, index), safetensors weights, Jinja templates, and tokenizer
/// vocabularies (`*.txt`, `*.model`, `*.tiktoken`). Other weight formats (`*.bin`, `*.pt`,
/// `*.gguf`, ...) and everything else are skipped, as is any path that is absolute or climbs
/// out of the snapshot.
pub fn is_checkpoint_file(name: &str) -> bool {
    let path = Path::new(name);
    let plain = !name.is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    let wanted = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("json" | "safetensors" | "jinja" | "txt" | "model" | "tiktoken")
    );
    plain && wanted
}

/// Whether `HF_HUB_OFFLINE` asks for no network: `1`, `on`, `yes` or `true` (any case), as
/// `huggingface_hub` reads it.
pub fn hub_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "on" | "yes" | "true"
        )
    })
}

/// The Hub endpoint: `HF_ENDPOINT` when set (without a trailing `/`), else
/// `https://huggingface.co`.
pub fn endpoint() -> String {
    match std::env::var("HF_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_string(),
        _ => "https://huggingface.co".to_string(),
    }
}

/// Downloading a snapshot with `hf-hub`'s blocking client.
#[cfg(feature = "download")]
mod download {
    use super::{endpoint, hub_offline, is_checkpoint_file, CONFIG_FILE};
    use crate::error::{Error, Result};
    use hf_hub::api::sync::ApiBuilder;
    use hf_hub::{Cache, Repo, RepoType};
    use std::path::{Path, PathBuf};

    /// How to allow downloading, appended to [`Error::ModelNotFound`] for Hub ids.
    pub(super) const HINT: &str =
        "to download it from the Hub, pass --download (or set HULU_DOWNLOAD=1)";

    /// Retries of one file's transfer (resuming from what was written) before giving up.
    const RETRIES: usize = 3;

    /// The token for gated and private repositories: `HF_TOKEN`, else the file
    /// `huggingface-cli login` writes (`HF_TOKEN_PATH`, else `HF_HOME/token`, else
    /// `~/.cache/huggingface/token`).
    fn token() -> Option<String> {
        if let Ok(token) = std::env::var("HF_TOKEN") {
            if !token.trim().is_empty() {
                return Some(token.trim().to_string());
            }
        }
        let path = match std::env::var_os("HF_TOKEN_PATH") {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => Cache::from_env().token_path(),
        };
        let token = std::fs::read_to_string(path).ok()?;
        let token = token.trim();
        (!token.is_empty()).then(|| token.to_string())
    }

    /// Downloads the checkpoint files of `repo_id` at `revision` into `cache` and returns the
    /// snapshot folder; `refs/<revision>` then names its commit.
    pub(super) fn snapshot(
        cache: &Path,
        repo_id: &str,
        revision: &str,
        progress: bool,
    ) -> Result<PathBuf> {
        let endpoint = endpoint();
        let _span =
            tracing::info_span!("download_model", repo = repo_id, revision, %endpoint).entered();
        let failed = |cause: String| Error::DownloadFailed {
            repo: repo_id.to_string(),
            revision: revision.to_string(),
            endpoint: endpoint.clone(),
            cause,
        };
        if hub_offline() {
            return Err(failed(
                "HF_HUB_OFFLINE is set, which forbids downloads (unset it to download)".into(),
            ));
        }
        let api = ApiBuilder::from_cache(Cache::new(cache.to_path_buf()))
            .with_endpoint(endpoint.clone())
            .with_token(token())
            .with_progress(progress)
            .with_retries(RETRIES)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let at_revision = Repo::with_revision(repo_id.into(), RepoType::Model, revision.into());
        let info = api
            .repo(at_revision.clone())
            .info()
            .map_err(|e| failed(format!("listing the repository: {e}")))?;
        let commit = info.sha.trim().to_string();
        if commit.is_empty() || !commit.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(failed(format!(
                "the Hub named an invalid commit {:?}",
                info.sha
            )));
        }
        let mut files: Vec<&str> = info
            .siblings
            .iter()
            .map(|s| s.rfilename.as_str())
            .filter(|name| is_checkpoint_file(name))
            .collect();
        if !files.contains(&CONFIG_FILE) {
            return Err(failed(format!(
                "the repository has no {CONFIG_FILE} at commit {commit}"
            )));
        }
        // config.json last: its presence is what marks a snapshot complete.
        files.sort_by_key(|name| *name == CONFIG_FILE);
        tracing::info!(commit = %commit, files = files.len(), "downloading");
        // Every file from the commit the listing named, so a branch moving meanwhile cannot mix
        // two commits.
        let at_commit = Repo::with_revision(repo_id.into(), RepoType::Model, commit.clone());
        let pinned = api.repo(at_commit.clone());
        let repo_dir = cache.join(at_commit.folder_name());
        let dir = repo_dir.join("snapshots").join(&commit);
        let commit_ref = repo_dir.join("refs").join(&commit);
        let had_commit_ref = commit_ref.exists();
        for name in &files {
            // A file an interrupted download already brought is kept.
            if dir.join(name).is_file() {
                continue;
            }
            let _file = tracing::info_span!("download_file", file = name).entered();
            pinned
                .download(name)
                .map_err(|e| failed(format!("{name}: {e}")))?;
        }
        // hf-hub records the revision it fetched (here the commit) as a ref; the cache keeps
        // refs for branches and tags only, as huggingface_hub writes it.
        if revision != commit && !had_commit_ref {
            std::fs::remove_file(&commit_ref).ok();
        }
        let snapshot = Cache::new(cache.to_path_buf()).repo(at_revision);
        if revision != commit {
            snapshot
                .create_ref(&commit)
                .map_err(|e| failed(format!("writing refs/{revision}: {e}")))?;
        }
        if !dir.join(CONFIG_FILE).is_file() {
            return Err(failed(format!(
                "{} missing after the download",
                dir.display()
            )));
        }
        Ok(dir)
    }
}

/// Without the `download` feature: downloads are refused.
#[cfg(not(feature = "download"))]
mod download {
    use super::endpoint;
    use crate::error::{Error, Result};
    use std::path::{Path, PathBuf};

    /// Why a missing Hub id cannot be fetched, appended to [`Error::ModelNotFound`].
    pub(super) const HINT: &str =
        "this build cannot download (hulu-model without its `download` feature)";

    /// Always [`Error::DownloadFailed`]: this build has no download client.
    pub(super) fn snapshot(
        _cache: &Path,
        repo_id: &str,
        revision: &str,
        _progress: bool,
    ) -> Result<PathBuf> {
        Err(Error::DownloadFailed {
            repo: repo_id.to_string(),
            revision: revision.to_string(),
            endpoint: endpoint(),
            cause: HINT.to_string(),
        })
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
    fn only_checkpoint_files_are_downloaded() {
        for name in [
            "config.json",
            "model-00001-of-00002.safetensors",
            "chat_template.jinja",
            "merges.txt",
            "tokenizer.model",
            "sub/dir/tokenizer.json",
        ] {
            assert!(is_checkpoint_file(name), "{name}");
        }
        for name in [
            "pytorch_model.bin",
            "model.pt",
            "model.gguf",
            "modeling_hulumed.py",
            "README.md",
            "../escape.json",
            "/abs.json",
            "",
        ] {
            assert!(!is_checkpoint_file(name), "{name}");
        }
    }

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
