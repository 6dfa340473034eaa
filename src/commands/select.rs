//! Choosing the device and dtype (`auto` as the official usage: the checkpoint's
//! `torch_dtype` on CUDA when libtorch has it) and checking that the weights fit in memory
//! before they are read.

use crate::failure::Categorize;
use anyhow::{anyhow, Result};
use std::path::Path;
use tch::{Device, Kind};

/// The device a `--device` value names; `auto` is CUDA 0 when libtorch can use it, else CPU.
///
/// # Errors
///
/// A usage error for an unknown value; a model error (one line pointing at `hulu doctor`)
/// for CUDA when libtorch has none or for a device index it does not have.
pub fn device(value: &str) -> Result<Device> {
    let device = match value {
        "auto" => return Ok(Device::cuda_if_available()),
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse) {
            Some(Ok(n)) => Device::Cuda(n),
            _ => {
                return Err(anyhow!(
                    "unknown device {other:?} for --device (auto, cpu, cuda, cuda:N)"
                ))
                .usage()
            }
        },
    };
    if let Device::Cuda(n) = device {
        if !tch::Cuda::is_available() {
            return Err(anyhow!(
                "--device {value}: CUDA is not available to this libtorch (CPU-only build, or no GPU or driver visible); run `hulu doctor`"
            ))
            .model();
        }
        let count = tch::Cuda::device_count();
        if n as i64 >= count {
            return Err(anyhow!(
                "--device {value}: libtorch sees {count} CUDA device(s); run `hulu doctor`"
            ))
            .model();
        }
    }
    Ok(device)
}

/// The dtype a `--dtype` value names; `auto` is the checkpoint's `torch_dtype`, except on a
/// CPU, where only bf16 on a CPU with native bf16 arithmetic is kept (the README's
/// benchmark: bf16 end to end 10.6 s against 21.3 s in f32 on an AVX-512 BF16 / AMX CPU) and
/// everything else runs in f32 (without those instructions libtorch emulates bf16, and f16
/// CPU kernels are few).
///
/// # Errors
///
/// A usage error for an unknown value; a model error when `config.json` cannot be read.
pub fn kind(value: &str, dir: &Path, device: Device) -> Result<Kind> {
    match value {
        "auto" => {
            let config = hulu_model::HuluConfig::from_file(dir.join("config.json")).model()?;
            let wanted = match config.torch_dtype.as_deref() {
                Some("bfloat16") => Kind::BFloat16,
                Some("float16") => Kind::Half,
                _ => Kind::Float,
            };
            Ok(match (device, wanted) {
                (Device::Cpu, Kind::BFloat16) if cpu_has_native_bf16() => Kind::BFloat16,
                (Device::Cpu, _) => Kind::Float,
                (_, kind) => kind,
            })
        }
        "f32" | "float32" => Ok(Kind::Float),
        "bf16" | "bfloat16" => Ok(Kind::BFloat16),
        "f16" | "float16" => Ok(Kind::Half),
        other => Err(anyhow!(
            "unknown dtype {other:?} for --dtype (auto, f32, bf16, f16)"
        ))
        .usage(),
    }
}

/// Whether the CPU does bf16 arithmetic natively (`avx512_bf16` or `amx_bf16` in
/// `/proc/cpuinfo`).
pub fn cpu_has_native_bf16() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| {
        info.lines()
            .find(|l| l.starts_with("flags"))
            .is_some_and(|flags| {
                flags
                    .split_whitespace()
                    .any(|f| f == "avx512_bf16" || f == "amx_bf16")
            })
    })
}

/// Short name of a dtype, as the flags spell it.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::BFloat16 => "bf16",
        Kind::Half => "f16",
        _ => "f32",
    }
}

/// Bytes the loaded model needs: its parameters in `kind`, plus a fifth for activations,
/// the KV cache and libtorch's own allocations (the README's peak RSS is 1.14 to 1.37 times
/// the weights).
pub fn estimate_bytes(parameters: usize, kind: Kind) -> u64 {
    let weights = parameters as u64 * kind.elt_size_in_bytes() as u64;
    weights + weights / 5
}

/// Memory available to this process: `MemAvailable` of `/proc/meminfo`, within the cgroup
/// v2 limit (`memory.max` less `memory.current`) when there is one.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let mut available = kib * 1024;
    let read = |f: &str| -> Option<u64> {
        std::fs::read_to_string(Path::new("/sys/fs/cgroup").join(f))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    if let (Some(max), Some(current)) = (read("memory.max"), read("memory.current")) {
        available = available.min(max.saturating_sub(current));
    }
    Some(available)
}

/// A size such as `512M`, `8G`, `1.5GiB` or plain bytes (K/M/G/T are powers of 1024).
///
/// # Errors
///
/// A usage error naming the value.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: u64 = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(anyhow!("--memory-limit {s:?}: unknown unit (K, M, G, T)")).usage(),
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok((n * scale as f64) as u64),
        _ => Err(anyhow!("--memory-limit {s:?} is not a size (e.g. 8G)")).usage(),
    }
}

/// Refuses a CPU load whose estimate exceeds `available` (a model error that names both and
/// `--force`). CUDA memory is not checked: `tch` does not expose the free device memory.
///
/// # Errors
///
/// As above; a model error when the checkpoint's headers cannot be read.
pub fn check_memory(dir: &Path, device: Device, kind: Kind, available: Option<u64>) -> Result<()> {
    if device != Device::Cpu {
        return Ok(());
    }
    let Some(available) = available.or_else(available_memory) else {
        return Ok(());
    };
    let parameters = hulu_io::Checkpoint::open(dir).model()?.parameter_count();
    let needed = estimate_bytes(parameters, kind);
    if needed > available {
        return Err(crate::failure::tag(
            anyhow!(
                "{} needs about {} in {} ({parameters} parameters) but {} is available; use --dtype bf16, a smaller model, or --force to try anyway",
                dir.display(),
                human(needed),
                kind_name(kind),
                human(available)
            ),
            crate::failure::Category::Model,
        ));
    }
    Ok(())
}

/// Bytes as `1.5 GiB`.
pub fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", units[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("8G").unwrap(), 8 << 30);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("512 MB").unwrap(), 512 << 20);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("3X").is_err());
    }

    #[test]
    fn the_estimate_covers_the_weights_in_the_dtype() {
        assert_eq!(estimate_bytes(1000, Kind::Float), 4800);
        assert_eq!(estimate_bytes(1000, Kind::BFloat16), 2400);
    }
}
