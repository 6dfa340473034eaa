//! Prefill and decode throughput of a decoder with Qwen2.5-0.5B dimensions (hidden 896, 24
//! layers, 14 heads, 2 KV heads, MLP 4864, vocabulary 151936) built from seeded random weights.
//!
//! - `prefill/512`: one 512-token prompt into an empty cache (logits of the last position);
//!   throughput in prompt tokens per second.
//! - `decode/128`: 128 one-token steps after a 512-token prefill; throughput in new tokens per
//!   second.
//!
//! Peak memory (resident set, reset after the weights are built) is printed at the end.
//! `HULU_BENCH_DEVICE=cuda` and `HULU_BENCH_KIND=bf16|f16|f32` choose device and dtype
//! (default: CPU, float32).

use criterion::{Criterion, Throughput};
use hulu_llm::{load_decoder, DecoderConfig, LogitsFor};
use hulu_nn::VarBuilder;
use std::time::Duration;
use tch::{Device, Kind, Tensor};

const PROMPT: i64 = 512;
const NEW: i64 = 128;

fn device() -> Device {
    match std::env::var("HULU_BENCH_DEVICE").as_deref() {
        Ok("cuda") => Device::Cuda(0),
        _ => Device::Cpu,
    }
}

fn kind() -> Kind {
    match std::env::var("HULU_BENCH_KIND").as_deref() {
        Ok("bf16") => Kind::BFloat16,
        Ok("f16") => Kind::Half,
        _ => Kind::Float,
    }
}

/// `(VmHWM, VmRSS)` of this process in MiB, from `/proc/self/status`.
fn rss_mib() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// Resets the peak-RSS counter so it measures inference, not weight construction.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

fn bench(c: &mut Criterion) {
    let (device, kind) = (device(), kind());
    if let Some(n) = std::env::var("HULU_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        tch::set_num_threads(n);
    }
    let config = DecoderConfig::qwen2_5_0_5b();
    let started = std::time::Instant::now();
    let decoder =
        load_decoder(&config, &VarBuilder::random(2024, kind, device)).expect("random decoder");
    let weight_mib =
        (config.parameter_count() * kind.elt_size_in_bytes()) as f64 / (1024.0 * 1024.0);
    println!(
        "decoder: Qwen2.5-0.5B dims, {} parameters ({weight_mib:.0} MiB) as {kind:?} on {device:?}, \
         built in {:.1} s; torch threads {}",
        config.parameter_count(),
        started.elapsed().as_secs_f64(),
        tch::get_num_threads()
    );
    let _no_grad = tch::no_grad_guard();
    reset_peak();

    // Fixed pseudo-random prompt ids.
    let ids: Vec<i64> = (0..PROMPT)
        .map(|i| (i * 7919 + 13) % config.vocab_size as i64)
        .collect();
    let ids = Tensor::from_slice(&ids).to_device(device).unsqueeze(0);
    let embeds = decoder.embed(&ids).expect("embed");
    let capacity = (PROMPT + NEW) as usize;

    let mut group = c.benchmark_group("qwen2.5-0.5b");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));

    let mut cache = decoder.new_cache(1, capacity).expect("cache");
    group.throughput(Throughput::Elements(PROMPT as u64));
    group.bench_function("prefill/512", |b| {
        b.iter(|| {
            cache.reset();
            let out = decoder
                .prefill(&embeds, &mut cache, LogitsFor::Last)
                .expect("prefill");
            sync(device);
            out
        })
    });

    // Decode from one prefilled prompt; truncating back to it between iterations makes every
    // iteration start from the same 512 cached positions without paying for a new prefill.
    cache.reset();
    let out = decoder
        .prefill(&embeds, &mut cache, LogitsFor::Last)
        .expect("prefill");
    let first = out.logits.expect("logits").argmax(-1, false);
    group.throughput(Throughput::Elements(NEW as u64));
    group.bench_function("decode/128", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                cache.truncate(PROMPT as usize).expect("truncate");
                let mut next = first.shallow_clone();
                sync(device);
                let start = std::time::Instant::now();
                for _ in 0..NEW {
                    let logits = decoder.decode_step(&next, &mut cache).expect("decode");
                    next = logits.argmax(-1, false);
                }
                sync(device);
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();

    let mem = cache.memory();
    println!(
        "kv cache: {:.1} MiB allocated for {capacity} positions",
        mem.allocated_bytes as f64 / (1024.0 * 1024.0)
    );
    if let Some((peak, now)) = rss_mib() {
        println!(
            "process memory: peak RSS during prefill/decode {peak:.0} MiB (current {now:.0} MiB; \
             weights {weight_mib:.0} MiB)"
        );
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
