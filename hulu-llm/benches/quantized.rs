//! Weight-only quantization and the mixture-of-experts decoder: prefill and decode throughput,
//! resident weight bytes and peak RSS, one configuration per process (so peak RSS is its own).
//!
//! ```text
//! cargo bench -p hulu-llm --bench quantized -- <shape> <scheme>
//!   shape:  qwen2     Qwen2.5-0.5B dimensions (the `bench-qwen2` decoder)
//!           qwen3     the `bench-qwen3` decoder (Qwen3-0.6B dimensions)
//!           moe       64 experts, top-8, hidden 1024 (30B-A3B's ratios scaled down;
//!                     `DecoderConfig::qwen3_moe_bench`)
//!           moe-dense the same stack with a dense MLP of the same active width (8 × 256)
//!   scheme: bf16 | f32 | int8 | int4 (int8/int4 quantize a bf16 decoder's projections);
//!           int8+emb | int4+emb also quantize the vocabulary tables (`embed_tokens`,
//!           `lm_head`; `CausalDecoder::quantize_embeddings`);
//!           accuracy: no timing; logits of a 256-token prompt (every position) of the float32
//!           decoder against int8 / int4, with and without the tables (relative L2, top-1
//!           agreement)
//! ```
//!
//! Weights are seeded random (`VarBuilder::random`, as `hulu synth` writes them). The prompt
//! is `HULU_BENCH_PROMPT` tokens (default 128), then `HULU_BENCH_NEW` decode steps (default
//! 32); each is timed `HULU_BENCH_RUNS` times (default 3) after one warm-up, and the median is
//! printed. `HULU_BENCH_DEVICE=cuda` runs on the GPU. Not a test: numbers depend on the machine.

use hulu_llm::{load_decoder, DecoderConfig, LogitsFor, Quantization};
use hulu_nn::VarBuilder;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `(VmHWM, VmRSS)` of this process in MiB, from `/proc/self/status`.
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn config(shape: &str) -> DecoderConfig {
    match shape {
        "qwen2" => DecoderConfig::qwen2_5_0_5b(),
        "qwen3" => DecoderConfig {
            family: hulu_llm::DecoderFamily::Qwen3,
            hidden_size: 1024,
            intermediate_size: 3072,
            num_hidden_layers: 28,
            num_attention_heads: 16,
            num_key_value_heads: 8,
            head_dim: 128,
            max_position_embeddings: 40_960,
            qkv_bias: false,
            ..DecoderConfig::qwen2_5_0_5b()
        },
        "moe" => DecoderConfig::qwen3_moe_bench(),
        "moe-dense" => {
            let mut c = DecoderConfig::qwen3_moe_bench();
            let moe = c.moe.take().expect("MoE bench config");
            c.family = hulu_llm::DecoderFamily::Qwen3;
            c.intermediate_size = moe.num_experts_per_tok * moe.moe_intermediate_size;
            c
        }
        other => panic!("unknown shape {other:?} (qwen2, qwen3, moe, moe-dense)"),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; the configuration is the other arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let shape = args.first().map_or("qwen2", String::as_str);
    let scheme = args.get(1).map_or("bf16", String::as_str);
    let device = match std::env::var("HULU_BENCH_DEVICE").as_deref() {
        Ok("cuda") => Device::Cuda(0),
        _ => Device::Cpu,
    };
    if scheme == "accuracy" {
        accuracy(shape, &config(shape));
        return;
    }
    let (base, embeddings) = match scheme.strip_suffix("+emb") {
        Some(base) => (base, true),
        None => (scheme, false),
    };
    let (kind, quant) = match base {
        "f32" => (Kind::Float, None),
        "bf16" => (Kind::BFloat16, None),
        other => (
            Kind::BFloat16,
            Some(Quantization::parse(other).expect("scheme: f32, bf16, int8, int4[+emb]")),
        ),
    };
    let (prompt, new, runs) = (
        env_usize("HULU_BENCH_PROMPT", 128) as i64,
        env_usize("HULU_BENCH_NEW", 32) as i64,
        env_usize("HULU_BENCH_RUNS", 3),
    );
    let config = config(shape);
    let _no_grad = tch::no_grad_guard();
    let started = Instant::now();
    let mut decoder =
        load_decoder(&config, &VarBuilder::random(2024, kind, device)).expect("decoder");
    if let Some(q) = &quant {
        decoder.quantize(q).expect("quantize");
        if embeddings {
            decoder
                .quantize_embeddings(q)
                .expect("quantize the vocabulary tables");
        }
    }
    let built = started.elapsed().as_secs_f64();
    let weights = decoder.weight_bytes();
    let _ = std::fs::write("/proc/self/clear_refs", "5");

    let ids: Vec<i64> = (0..prompt)
        .map(|i| (i * 7919 + 13) % config.vocab_size as i64)
        .collect();
    let ids = Tensor::from_slice(&ids).to_device(device).unsqueeze(0);
    let embeds = decoder.embed(&ids).expect("embed");
    let mut cache = decoder
        .new_cache(1, (prompt + new) as usize)
        .expect("cache");
    let mut prefill = Vec::new();
    let mut decode = Vec::new();
    for run in 0..=runs {
        cache.reset();
        sync(device);
        let t = Instant::now();
        let out = decoder
            .prefill(&embeds, &mut cache, LogitsFor::Last)
            .expect("prefill");
        sync(device);
        let p = t.elapsed().as_secs_f64();
        let mut next = out.logits.expect("logits").argmax(-1, false);
        let t = Instant::now();
        for _ in 0..new {
            next = decoder
                .decode_step(&next, &mut cache)
                .expect("decode")
                .argmax(-1, false);
        }
        sync(device);
        let d = t.elapsed().as_secs_f64();
        if run > 0 {
            prefill.push(prompt as f64 / p);
            decode.push(new as f64 / d);
        }
    }
    let (peak, _) = rss_mib();
    println!(
        "{shape} {scheme} on {device:?} ({} torch threads): prefill {prompt} tok {:.1} tok/s, \
         decode {:.2} tok/s, weights {:.1} MiB, peak RSS {peak:.0} MiB (built in {built:.1} s)",
        tch::get_num_threads(),
        median(prefill),
        median(decode),
        weights as f64 / (1u64 << 20) as f64,
    );
}

/// Logits of every position of a fixed 256-token prompt: the float32 decoder against each
/// quantized one built from the same seeded weights (relative L2, top-1 agreement).
fn accuracy(shape: &str, config: &DecoderConfig) {
    let _no_grad = tch::no_grad_guard();
    let positions = 256i64;
    let ids: Vec<i64> = (0..positions)
        .map(|i| (i * 7919 + 13) % config.vocab_size as i64)
        .collect();
    let ids = Tensor::from_slice(&ids).unsqueeze(0);
    let logits = |scheme: Option<(Quantization, bool)>| -> Tensor {
        let mut decoder = load_decoder(config, &VarBuilder::random(2024, Kind::Float, Device::Cpu))
            .expect("decoder");
        if let Some((q, tables)) = scheme {
            decoder.quantize(&q).expect("quantize");
            if tables {
                decoder
                    .quantize_embeddings(&q)
                    .expect("quantize the tables");
            }
        }
        let embeds = decoder.embed(&ids).expect("embed");
        let out = decoder.forward(&embeds, LogitsFor::All).expect("forward");
        out.logits
            .expect("logits")
            .squeeze_dim(0)
            .to_kind(Kind::Double)
    };
    let dense = logits(None);
    for (q, tables) in [
        (Quantization::Int8, false),
        (Quantization::int4(), false),
        (Quantization::Int8, true),
        (Quantization::int4(), true),
    ] {
        let quantized = logits(Some((q, tables)));
        let rel = (&quantized - &dense).norm().double_value(&[]) / dense.norm().double_value(&[]);
        let agree = quantized
            .argmax(-1, false)
            .eq_tensor(&dense.argmax(-1, false))
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[]);
        println!(
            "{shape} {q}{}: logits rel_l2 {rel:.4}, top-1 agreement {:.1} % over {positions} positions",
            if tables { " + tables" } else { "" },
            agree * 100.0
        );
    }
}
