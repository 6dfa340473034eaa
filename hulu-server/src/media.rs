//! Server-side paths under `--media-root`: the only files a request may name by path.
//!
//! A path is refused when it has a `..` component, and accepted only when its canonical form
//! (every symlink resolved, [`std::fs::canonicalize`]) lies inside the canonical root, so
//! neither `../`, an absolute path elsewhere nor a symlink pointing out reaches a file outside.
//! The file read is the canonical path, not the one the client sent.

use crate::error::ApiError;
use std::path::{Component, Path, PathBuf};

/// Resolves `requested` (relative to `root`, or absolute) to a canonical path inside `root`.
/// `root` must itself be canonical ([`crate::ServerConfig::validate`] makes it so).
///
/// # Errors
///
/// [`ApiError::PathRefused`] when no media root is set, the path has a `..` component, does
/// not resolve (missing, unreadable), or resolves outside the root.
pub fn resolve(root: Option<&Path>, requested: &str) -> Result<PathBuf, ApiError> {
    let refuse = |reason: &str| ApiError::PathRefused {
        path: requested.to_string(),
        reason: reason.to_string(),
    };
    let Some(root) = root else {
        return Err(refuse(
            "the server has no --media-root; upload the file instead",
        ));
    };
    let path = Path::new(requested);
    if requested.is_empty() || requested.contains('\0') {
        return Err(refuse("empty or not a path"));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(refuse("`..` is not allowed"));
    }
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    };
    // Same message whether missing or outside: a client learns nothing about the disk.
    let canonical =
        std::fs::canonicalize(&joined).map_err(|_| refuse("not found under the media root"))?;
    if !canonical.starts_with(root) {
        return Err(refuse("not found under the media root"));
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hulu-media-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/study")).unwrap();
        std::fs::write(dir.join("root/study/a.nii"), b"x").unwrap();
        std::fs::write(dir.join("secret.txt"), b"s").unwrap();
        std::fs::canonicalize(dir).unwrap()
    }

    #[test]
    fn paths_inside_resolve_escapes_are_refused() {
        let dir = scratch("escape");
        let root = dir.join("root");
        let inside = resolve(Some(&root), "study/a.nii").unwrap();
        assert_eq!(inside, root.join("study/a.nii"));
        let absolute_inside = root.join("study/a.nii");
        assert!(resolve(Some(&root), absolute_inside.to_str().unwrap()).is_ok());
        for bad in [
            "../secret.txt",
            "study/../../secret.txt",
            "study/../a.nii",
            dir.join("secret.txt").to_str().unwrap(),
            "/etc/passwd",
            "missing.nii",
            "",
        ] {
            let err = resolve(Some(&root), bad).unwrap_err();
            assert!(matches!(err, ApiError::PathRefused { .. }), "{bad}: {err}");
        }
        assert!(resolve(None, "study/a.nii").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_are_refused_symlinks_in_are_followed() {
        let dir = scratch("symlink");
        let root = dir.join("root");
        std::os::unix::fs::symlink(dir.join("secret.txt"), root.join("out.nii")).unwrap();
        std::os::unix::fs::symlink(&dir, root.join("up")).unwrap();
        std::os::unix::fs::symlink(root.join("study/a.nii"), root.join("in.nii")).unwrap();
        assert!(resolve(Some(&root), "out.nii").is_err());
        assert!(resolve(Some(&root), "up/secret.txt").is_err());
        assert_eq!(
            resolve(Some(&root), "in.nii").unwrap(),
            root.join("study/a.nii")
        );
    }
}
