//! `hulu doctor` and `hulu --version`: which libtorch this binary runs on and where it was
//! found, what CUDA and cuDNN it can reach, where models are looked for, and the checks that
//! explain the usual failures (a CPU-only libtorch asked for CUDA, a libtorch that is not the
//! version `tch` expects, a `HULU_MODEL` that does not resolve).
//!
//! The libtorch path is read from `/proc/self/maps` (the library the loader actually mapped,
//! not the one the build was pointed at) and its version from the file beside it: a PyPI
//! wheel's `torch/version.py`, a libtorch archive's `build-version`.

use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The libtorch version `tch` 0.26 is written against (`TORCH_VERSION` in `torch-sys`'s
/// build script).
pub const EXPECTED_LIBTORCH: &str = "2.13.0";

/// Arguments of `hulu doctor`.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// What libtorch this process loaded.
#[derive(Debug, Clone, Default)]
pub struct Libtorch {
    /// `libtorch_cpu.so` as mapped into this process.
    pub library: Option<PathBuf>,
    /// Its version (`2.13.0`, `2.13.0+cpu`), when the file beside it says.
    pub version: Option<String>,
    /// Built with CUDA support.
    pub has_cuda: bool,
    /// CUDA usable now (support, driver and at least one device).
    pub cuda_available: bool,
    /// CUDA devices visible.
    pub cuda_devices: i64,
    /// cuDNN usable.
    pub cudnn_available: bool,
    /// cuDNN version as libtorch reports it (0 without cuDNN).
    pub cudnn_version: i64,
    /// GPU names from the NVIDIA driver (`/proc/driver/nvidia/gpus/*/information`).
    pub gpu_names: Vec<String>,
}

impl Libtorch {
    /// Probes the libtorch linked into this process.
    pub fn probe() -> Libtorch {
        let cuda_available = tch::Cuda::is_available();
        let library = mapped_library("libtorch_cpu");
        let version = library.as_deref().and_then(version_beside);
        let has_cuda = tch::utils::has_cuda();
        Libtorch {
            library,
            version,
            has_cuda,
            cuda_available,
            cuda_devices: if cuda_available {
                tch::Cuda::device_count()
            } else {
                0
            },
            cudnn_available: cuda_available && tch::Cuda::cudnn_is_available(),
            cudnn_version: if has_cuda {
                tch::utils::version_cudnn()
            } else {
                0
            },
            gpu_names: gpu_names(),
        }
    }

    /// Whether the version is the one `tch` expects (unknown counts as a mismatch).
    pub fn version_matches(&self) -> bool {
        self.version
            .as_deref()
            .is_some_and(|v| v.split('+').next() == Some(EXPECTED_LIBTORCH))
    }

    /// One line: version and path.
    pub fn summary(&self) -> String {
        format!(
            "libtorch {} ({})",
            self.version.as_deref().unwrap_or("unknown version"),
            self.library
                .as_deref()
                .map_or("path unknown".into(), |p| p.display().to_string())
        )
    }
}

/// The path of the first library whose file name starts with `stem` mapped into this
/// process (Linux; `None` elsewhere).
fn mapped_library(stem: &str) -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .map(PathBuf::from)
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(stem) && n.contains(".so"))
        })
}

/// The version written beside `lib/libtorch_cpu.so`: `../version.py` (wheel) or
/// `../build-version` (archive).
fn version_beside(library: &Path) -> Option<String> {
    let root = library.parent()?.parent()?;
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        let line = text.lines().find(|l| l.starts_with("__version__"))?;
        return Some(line.split(['\'', '"']).nth(1)?.to_string());
    }
    let text = std::fs::read_to_string(root.join("build-version")).ok()?;
    Some(text.trim().to_string())
}

/// GPU names the NVIDIA driver lists.
fn gpu_names() -> Vec<String> {
    let Ok(dirs) = std::fs::read_dir("/proc/driver/nvidia/gpus") else {
        return Vec::new();
    };
    let mut names: Vec<String> = dirs
        .filter_map(|d| std::fs::read_to_string(d.ok()?.path().join("information")).ok())
        .filter_map(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("Model:").map(|m| m.trim().to_string()))
        })
        .collect();
    names.sort();
    names
}

/// The long `--version` text: the crate version, libtorch and CUDA.
pub fn version_text() -> String {
    let torch = Libtorch::probe();
    format!(
        "{}\n{}\nCUDA {}",
        env!("CARGO_PKG_VERSION"),
        torch.summary(),
        if torch.cuda_available {
            format!("available, {} device(s)", torch.cuda_devices)
        } else {
            "not available (see `hulu doctor`)".into()
        }
    )
}

/// One check and its outcome.
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

fn checks(torch: &Libtorch) -> Vec<Check> {
    let mut out = vec![Check {
        name: "libtorch version",
        ok: torch.version_matches(),
        detail: if torch.version_matches() {
            format!("{EXPECTED_LIBTORCH}, as tch 0.26 expects")
        } else {
            format!(
                "tch 0.26 expects libtorch {EXPECTED_LIBTORCH}, found {}; run scripts/setup-libtorch.sh or point LIBTORCH at a {EXPECTED_LIBTORCH} build and rebuild",
                torch.version.as_deref().unwrap_or("an unknown version")
            )
        },
    }];
    out.push(Check {
        name: "CUDA",
        ok: true,
        detail: if torch.cuda_available {
            format!(
                "{} device(s){}",
                torch.cuda_devices,
                if torch.gpu_names.is_empty() {
                    String::new()
                } else {
                    format!(": {}", torch.gpu_names.join(", "))
                }
            )
        } else if torch.has_cuda {
            "this libtorch has CUDA but no GPU or driver is visible: --device cuda will fail".into()
        } else {
            "this libtorch is CPU-only: --device cuda will fail; to use a GPU, export LIBTORCH=<a CUDA libtorch 2.13.0> and rebuild (README, section libtorch)".into()
        },
    });
    let cache = hulu_model::hub::cache_dir();
    out.push(Check {
        name: "Hugging Face cache",
        ok: true,
        detail: format!(
            "{} ({}; set HF_HUB_CACHE or HF_HOME to move it)",
            cache.display(),
            if cache.is_dir() { "exists" } else { "absent" }
        ),
    });
    if let Some(model) = std::env::var_os("HULU_MODEL") {
        let resolved = hulu_model::hub::resolve(&model);
        out.push(Check {
            name: "HULU_MODEL",
            ok: resolved.is_ok(),
            detail: match resolved {
                Ok(dir) => format!("{} -> {}", Path::new(&model).display(), dir.display()),
                Err(e) => e.to_string(),
            },
        });
    }
    out
}

/// Runs `hulu doctor`: prints the report; fails (status 4) when a check fails.
///
/// # Errors
///
/// When a check fails, naming it.
pub fn run(args: &DoctorArgs) -> Result<()> {
    use crate::failure::Categorize;
    let torch = Libtorch::probe();
    let checks = checks(&torch);
    if args.json {
        let report = json!({
            "hulu_version": env!("CARGO_PKG_VERSION"),
            "libtorch": {
                "version": torch.version,
                "expected_version": EXPECTED_LIBTORCH,
                "library": torch.library,
                "has_cuda": torch.has_cuda,
            },
            "cuda": {
                "available": torch.cuda_available,
                "device_count": torch.cuda_devices,
                "device_names": torch.gpu_names,
                "cudnn_available": torch.cudnn_available,
                "cudnn_version": torch.cudnn_version,
            },
            "hf_cache": hulu_model::hub::cache_dir(),
            "checks": checks.iter().map(|c| json!({"name": c.name, "ok": c.ok, "detail": c.detail})).collect::<Vec<_>>(),
        });
        println!("{report:#}");
    } else {
        println!("hulu        {}", env!("CARGO_PKG_VERSION"));
        println!("{}", torch.summary());
        println!(
            "CUDA        built with CUDA: {}; available: {}; devices: {}{}",
            yes(torch.has_cuda),
            yes(torch.cuda_available),
            torch.cuda_devices,
            if torch.gpu_names.is_empty() {
                String::new()
            } else {
                format!(" ({})", torch.gpu_names.join(", "))
            }
        );
        println!(
            "cuDNN       available: {}; version: {}",
            yes(torch.cudnn_available),
            torch.cudnn_version
        );
        println!("HF cache    {}", hulu_model::hub::cache_dir().display());
        for c in &checks {
            println!(
                "[{}] {}: {}",
                if c.ok { "ok" } else { "FAIL" },
                c.name,
                c.detail
            );
        }
    }
    let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("failed checks: {}", failed.join(", "))).model()
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
