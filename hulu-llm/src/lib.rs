//! Qwen2 / Qwen2.5 / Qwen3 causal decoders with a KV cache, on libtorch, for Hulu-Med.
//!
//! Hulu-Med-7B and -32B use a Qwen2.5 decoder, Hulu-Med-4B and -14B a Qwen3 decoder. Both are
//! implementations of one trait, [`CausalDecoder`], over a shared stack: RMSNorm with float32
//! statistics, rotary embeddings computed in float32 from lazily grown tables, grouped-query
//! attention, a SwiGLU MLP, and a tied or separate `lm_head`.
//!
//! The decoder takes input *embeddings* (so a caller can splice visual features in) and returns
//! final hidden states and, on request, logits:
//!
//! ```no_run
//! use hulu_llm::{load_decoder_from_dir, CausalDecoder, LogitsFor};
//! use tch::{Device, Kind, Tensor};
//!
//! let decoder = load_decoder_from_dir("Hulu-Med-7B", Kind::BFloat16, Device::Cuda(0))?;
//! let ids = Tensor::from_slice(&[151644i64, 872, 198]).unsqueeze(0);
//! let mut cache = decoder.new_cache(1, 4096)?;
//! let out = decoder.prefill(&decoder.embed(&ids)?, &mut cache, LogitsFor::Last)?;
//! let next = out.logits.unwrap().argmax(-1, false);
//! let logits = decoder.decode_step(&next, &mut cache)?;
//! # Ok::<(), hulu_llm::Error>(())
//! ```
//!
//! The [`KvCache`] is preallocated per sequence; a batch of prompts of different lengths is
//! left-padded ([`CausalDecoder::prefill_padded`]) with padding masked out, so each row computes
//! what it would alone, and rows can join and leave a running batch ([`BatchCache`]). The
//! generation loop itself (sampling, streaming, stopping) lives in `hulu-model`. Dtype and device are the caller's: float32 on the CPU is the
//! reference path, bf16 and f16 run on the CPU and on CUDA.

mod attention;
mod cache;
mod config;
mod decoder;
mod error;
mod layer;
mod linear;
mod lora;
mod memory;
mod mlp;
mod moe;
mod norm;
mod quant;
mod quant_checkpoint;
mod quant_rows;
mod rotary;
mod stack;

pub mod families;

pub use cache::{BatchCache, CacheMemory, KvCache};
pub use config::{limits, DecoderConfig, DecoderFamily, MoeConfig};
pub use decoder::{
    load_decoder, load_decoder_from_dir, CausalDecoder, Qwen2Decoder, Qwen3Decoder,
    Qwen3MoeDecoder, PREFILL_CHUNK_TOKENS,
};
pub use error::{Error, Result};
pub use lora::LoraAdapter;
pub use memory::weight_bytes;
pub use quant::{Quantization, DEFAULT_INT4_GROUP, INT4_GROUPS};
pub use quant_checkpoint::{
    is_quantized_key, quantize_checkpoint, QuantizedCheckpoint, QUANTIZATION_FILE, SHARD_BYTES,
};
pub use stack::{DecoderOutput, LayerPass, LogitsFor};
