//! Build-script helper shared by every crate that links libtorch through `tch`.
//!
//! `torch-sys` tells the linker where libtorch is but not the dynamic loader, so binaries built
//! against a libtorch outside the system paths fail at start-up with "libtorch_cpu.so: cannot
//! open shared object file". Calling [`link_libtorch_rpath`] from a crate's `build.rs` embeds the
//! library folders as an rpath in that crate's binaries, tests, benches and examples.
//!
//! The folders come from `LIBTORCH` (set by `.cargo/config.toml` to the wheel that
//! `scripts/setup-libtorch.sh` provisions, or exported by the user), plus the CUDA runtime
//! folders that PyPI's torch wheel expects beside it (`nvidia/*/lib`): the wheel's
//! `libtorch_cpu.so` needs `libcudart` and `libcupti` even on a CPU-only machine.

use std::path::{Path, PathBuf};

/// The library folders that must be on the dynamic loader's path for the libtorch in `libtorch`.
///
/// Returns `libtorch/lib` and, for a PyPI wheel (`site-packages/torch`), every
/// `site-packages/nvidia/*/lib` folder that exists. Missing folders are skipped.
pub fn libtorch_library_dirs(libtorch: &Path) -> Vec<PathBuf> {
    let libtorch = libtorch
        .canonicalize()
        .unwrap_or_else(|_| libtorch.to_path_buf());
    let mut dirs = vec![libtorch.join("lib")];
    if let Some(site) = libtorch.parent() {
        if let Ok(entries) = std::fs::read_dir(site.join("nvidia")) {
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("lib"))
                .filter(|p| p.is_dir())
                .collect();
            found.sort();
            dirs.extend(found);
        }
    }
    dirs.retain(|d| d.is_dir());
    dirs
}

/// Emits the cargo instructions that embed libtorch's folders as an rpath in this package's
/// linked targets. Call it from `build.rs`; it does nothing when `LIBTORCH` is unset (a user
/// relying on `LIBTORCH_USE_PYTORCH` or system paths keeps their own loader set-up).
pub fn link_libtorch_rpath() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Some(libtorch) = std::env::var_os("LIBTORCH") else {
        return;
    };
    for dir in libtorch_library_dirs(Path::new(&libtorch)) {
        // -rpath also serves as -rpath-link, which the linker needs to resolve libtorch's own
        // dependencies (libcudart) when it checks an executable for undefined symbols.
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lib_and_wheel_cuda_runtime_folders() {
        let root = std::env::temp_dir().join(format!("hulu-build-test-{}", std::process::id()));
        let torch = root.join("torch");
        std::fs::create_dir_all(torch.join("lib")).unwrap();
        std::fs::create_dir_all(root.join("nvidia/cu13/lib")).unwrap();
        std::fs::create_dir_all(root.join("nvidia/empty")).unwrap();
        let dirs = libtorch_library_dirs(&torch);
        let root = root.canonicalize().unwrap();
        assert_eq!(
            dirs,
            vec![root.join("torch/lib"), root.join("nvidia/cu13/lib")]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_libtorch_gives_no_folders() {
        assert!(libtorch_library_dirs(Path::new("/nonexistent/hulu/torch")).is_empty());
    }
}
