//! The causal-decoder trait and its implementations, [`Qwen2Decoder`] (Qwen2 / Qwen2.5),
//! [`Qwen3Decoder`] and [`Qwen3MoeDecoder`].

use crate::cache::KvCache;
use crate::config::DecoderConfig;
use crate::config::DecoderFamily;
use crate::lora::LoraAdapter;
use crate::stack::{DecoderOutput, LayerPass, LogitsFor, Stack};
use crate::{Error, Result};
use hulu_nn::VarBuilder;
use tch::{Device, Kind, Tensor};

/// A decoder-only language model over input embeddings, with a KV cache.
///
/// Implementors provide [`forward_with`](CausalDecoder::forward_with); the other entry points
/// are shapes of it. Inputs are embeddings rather than ids so that a caller can splice visual
/// features in; [`embed`](CausalDecoder::embed) turns ids into embeddings.
pub trait CausalDecoder: Send {
    /// The hyper-parameters.
    fn config(&self) -> &DecoderConfig;
    /// Element type of weights and activations.
    fn kind(&self) -> Kind;
    /// Device the weights live on.
    fn device(&self) -> Device;
    /// Token embeddings of `ids` (int64, any shape): `[..., hidden]` in the decoder's dtype.
    /// Ids outside the vocabulary are an error.
    ///
    /// # Errors
    ///
    /// [`Error::BadInput`] for ids that are not int64; [`Error::TokenOutOfRange`] for an id
    /// outside the vocabulary.
    fn embed(&self, ids: &Tensor) -> Result<Tensor>;
    /// The `lm_head` projection of final hidden states, in float32.
    ///
    /// # Errors
    ///
    /// [`Error::BadInput`] for hidden states of the wrong width; [`Error::Torch`] when libtorch
    /// fails.
    fn logits(&self, hidden: &Tensor) -> Result<Tensor>;
    /// One forward pass over `embeds` (`[B, L, hidden]`, converted to the decoder's dtype and
    /// device).
    ///
    /// `pads` gives each row's left padding (only for the first chunk of a cache, or without
    /// a cache); padding columns are masked and do not advance positions. With a cache the new
    /// columns are appended and attend to every cached one.
    ///
    /// # Errors
    ///
    /// [`Error::BadInput`] for embeddings of the wrong rank or width; [`Error::InvalidRequest`]
    /// for `pads` that do not fit the batch; [`Error::CacheOverflow`] when the cache has no room
    /// for the new columns; [`Error::TooLong`] past `max_position_embeddings`; [`Error::Torch`]
    /// when libtorch fails.
    fn forward_with(
        &self,
        embeds: &Tensor,
        pads: Option<&[usize]>,
        cache: Option<&mut KvCache>,
        logits: LogitsFor,
    ) -> Result<DecoderOutput>;

    /// Quantizes the decoder's linear layers in place (attention and MLP projections, experts
    /// included; embeddings, norms, the MoE router and `lm_head` stay in the compute dtype).
    /// The layers are quantized from the dense weights already loaded, so peak memory is the
    /// dense model's; [`crate::quantize_checkpoint`] converts a checkpoint tensor by tensor
    /// instead, once.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an int4 group size no kernel takes, [`Error::Torch`] when
    /// a kernel refuses the weights.
    fn quantize(&mut self, q: &crate::Quantization) -> Result<()>;

    /// Quantizes the vocabulary tables too, which [`CausalDecoder::quantize`] leaves dense:
    /// `model.embed_tokens` (its lookups then dequantize only the rows asked for) and
    /// `lm_head`, tied or not. On a small model they are much of the weight (Qwen2.5-0.5B's
    /// tied 151936 × 896 table is 28 % of it) and `lm_head` is read at every decode step, so
    /// this is where the bytes and the decode time are; the cost is the logits' accuracy,
    /// measured in the crate README. An int4 table is stored once on the CPU (rows are read
    /// back from the packed kernel layout, see `quant_rows.rs`), with an extra int8 copy for
    /// lookups elsewhere.
    ///
    /// # Errors
    /// As [`CausalDecoder::quantize`].
    fn quantize_embeddings(&mut self, q: &crate::Quantization) -> Result<()>;

    /// Bytes the weights hold in memory (quantized ones as stored, scales included).
    fn weight_bytes(&self) -> usize;

    /// Checkpoint key prefixes of the linear projections adapters can attach to
    /// (`model.layers.<i>.self_attn.q_proj`, …); empty for decoders that take none.
    fn linear_names(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// Attaches `adapter` to the projection `name` (one of [`Self::linear_names`]), or removes
    /// it with `None`; returns the adapter it replaces.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a name that is not a projection of this decoder, or an
    /// adapter whose widths do not fit it.
    fn set_adapter(
        &mut self,
        name: &str,
        adapter: Option<LoraAdapter>,
    ) -> Result<Option<LoraAdapter>> {
        let _ = adapter;
        Err(Error::request(format!(
            "this decoder takes no adapters (asked for {name:?})"
        )))
    }

    /// One pass over `embeds` (`[B, L, hidden]`, causal, no padding or cache) split at the
    /// layers, for gradient checkpointing.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for decoders that cannot be split; [`Error::BadInput`] for
    /// embeddings of the wrong shape.
    fn layer_pass<'a>(&'a self, embeds: &Tensor) -> Result<Box<dyn LayerPass + 'a>> {
        let _ = embeds;
        Err(Error::request("this decoder cannot run layer by layer"))
    }

    /// A cache for `batch` sequences of up to `capacity` columns, in the decoder's dtype.
    ///
    /// # Errors
    ///
    /// As [`KvCache::new`].
    fn new_cache(&self, batch: usize, capacity: usize) -> Result<KvCache> {
        KvCache::new(self.config(), batch, capacity, self.kind(), self.device())
    }

    /// A whole sequence at once, no cache.
    ///
    /// # Errors
    ///
    /// As [`CausalDecoder::forward_with`].
    fn forward(&self, embeds: &Tensor, logits: LogitsFor) -> Result<DecoderOutput> {
        self.forward_with(embeds, None, None, logits)
    }

    /// Appends `embeds` (a prompt, or any chunk of one) to `cache`, in chunks of at most
    /// [`PREFILL_CHUNK_TOKENS`] columns so attention scores stay small on long prompts.
    ///
    /// # Errors
    ///
    /// As [`CausalDecoder::forward_with`].
    fn prefill(
        &self,
        embeds: &Tensor,
        cache: &mut KvCache,
        logits: LogitsFor,
    ) -> Result<DecoderOutput> {
        chunked_prefill(self, embeds, None, cache, logits)
    }

    /// Prefills an empty `cache` with a batch of prompts left-padded to a common length:
    /// row `b`'s `lengths[b]` real tokens are its last columns.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when the cache is not empty or a length is zero or longer than
    /// the padded width; else as [`CausalDecoder::forward_with`].
    fn prefill_padded(
        &self,
        embeds: &Tensor,
        lengths: &[usize],
        cache: &mut KvCache,
        logits: LogitsFor,
    ) -> Result<DecoderOutput> {
        let width = embeds.size().get(1).copied().unwrap_or(0).max(0) as usize;
        if !cache.is_empty() {
            return Err(Error::request("a padded prefill needs an empty cache"));
        }
        if lengths.iter().any(|&n| n == 0 || n > width) {
            return Err(Error::request(format!(
                "prompt lengths {lengths:?} must be between 1 and the padded width {width}"
            )));
        }
        let pads: Vec<usize> = lengths.iter().map(|&n| width - n).collect();
        chunked_prefill(self, embeds, Some(&pads), cache, logits)
    }

    /// One new token per row (`ids`: int64 `[B]`): the next-token logits, `[B, V]` float32.
    ///
    /// # Errors
    ///
    /// [`Error::BadInput`] unless `ids` is one id per row of the cache; else as
    /// [`CausalDecoder::forward_with`].
    fn decode_step(&self, ids: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        if ids.dim() != 1 {
            return Err(Error::BadInput {
                what: "decode ids",
                expected: "one id per row, shape [batch]".into(),
                actual: ids.size(),
                kind: ids.kind(),
            });
        }
        let embeds = self.embed(&ids.f_unsqueeze(1)?)?;
        let out = self.forward_with(&embeds, None, Some(cache), LogitsFor::Last)?;
        out.logits
            .ok_or_else(|| Error::request("decoder returned no logits"))
    }
}

/// Most prompt columns one prefill forward pass takes. Attention scores grow with the chunk
/// times the whole cached length (a 2,600-token prompt in one pass holds about 0.8 GB of them
/// on a 0.5B decoder); the projections lose nothing at this size.
pub const PREFILL_CHUNK_TOKENS: usize = 512;

/// Feeds `embeds` to `cache` chunk by chunk: the first chunk carries the left padding (and
/// is widened to hold it), and the outputs are joined along the sequence.
fn chunked_prefill<D: CausalDecoder + ?Sized>(
    decoder: &D,
    embeds: &Tensor,
    pads: Option<&[usize]>,
    cache: &mut KvCache,
    logits: LogitsFor,
) -> Result<DecoderOutput> {
    let width = embeds.size().get(1).copied().unwrap_or(0).max(0) as usize;
    let first = pads
        .and_then(|p| p.iter().max())
        .map_or(PREFILL_CHUNK_TOKENS, |&pad| {
            PREFILL_CHUNK_TOKENS.max(pad + 1)
        });
    if width <= first {
        return decoder.forward_with(embeds, pads, Some(cache), logits);
    }
    let mut hidden = Vec::new();
    // Every chunk's logits for `All`; for `Last` only the final chunk computes any.
    let mut parts = Vec::new();
    let mut at = 0;
    while at < width {
        let len = if at == 0 { first } else { PREFILL_CHUNK_TOKENS }.min(width - at);
        let which = match logits {
            LogitsFor::Last if at + len < width => LogitsFor::None,
            other => other,
        };
        let chunk = embeds.f_narrow(1, at as i64, len as i64)?;
        let out = decoder.forward_with(
            &chunk,
            if at == 0 { pads } else { None },
            Some(cache),
            which,
        )?;
        hidden.push(out.hidden);
        parts.extend(out.logits);
        at += len;
    }
    Ok(DecoderOutput {
        hidden: Tensor::f_cat(&hidden, 1)?,
        logits: match logits {
            LogitsFor::All => Some(Tensor::f_cat(&parts, 1)?),
            _ => parts.pop(),
        },
    })
}

macro_rules! decoder_impl {
    ($name:ident, $family:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name {
            stack: Stack,
        }

        impl $name {
            /// Builds the decoder from `vb` (checkpoint keys `model.*` and `lm_head.*`), in the
            /// builder's dtype and on its device.
            ///
            /// # Errors
            /// [`Error::FamilyMismatch`] for another family's config, [`Error::InvalidConfig`]
            /// for an inconsistent one, [`Error::Weights`] for a missing or mis-shaped weight.
            pub fn load(config: &DecoderConfig, vb: &VarBuilder) -> Result<Self> {
                if config.family != $family {
                    return Err(Error::FamilyMismatch {
                        expected: $family,
                        found: config.family,
                    });
                }
                Ok($name {
                    stack: Stack::load(config, vb)?,
                })
            }

            /// Rows of the rotary table built so far (it grows with the longest position seen).
            pub fn rotary_table_len(&self) -> usize {
                self.stack.rotary_table_len()
            }

            /// The `lm_head` weight, `[vocab, hidden]` (the embedding matrix when tied);
            /// `None` once quantized ([`CausalDecoder::quantize_embeddings`]).
            pub fn lm_head_weight(&self) -> Option<&Tensor> {
                self.stack.lm_head_weight()
            }
        }

        impl CausalDecoder for $name {
            fn config(&self) -> &DecoderConfig {
                self.stack.config()
            }
            fn kind(&self) -> Kind {
                self.stack.kind()
            }
            fn device(&self) -> Device {
                self.stack.device()
            }
            fn embed(&self, ids: &Tensor) -> Result<Tensor> {
                self.stack.embed(ids)
            }
            fn quantize(&mut self, q: &crate::Quantization) -> Result<()> {
                self.stack.quantize(q)
            }
            fn quantize_embeddings(&mut self, q: &crate::Quantization) -> Result<()> {
                self.stack.quantize_embeddings(q)
            }
            fn weight_bytes(&self) -> usize {
                self.stack.weight_bytes()
            }
            fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
                self.stack.logits(hidden)
            }
            fn forward_with(
                &self,
                embeds: &Tensor,
                pads: Option<&[usize]>,
                cache: Option<&mut KvCache>,
                logits: LogitsFor,
            ) -> Result<DecoderOutput> {
                self.stack.forward(embeds, pads, cache, logits)
            }
            fn linear_names(&mut self) -> Vec<String> {
                self.stack
                    .linears_mut()
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect()
            }
            fn set_adapter(
                &mut self,
                name: &str,
                adapter: Option<LoraAdapter>,
            ) -> Result<Option<LoraAdapter>> {
                let linear = self
                    .stack
                    .linears_mut()
                    .into_iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, l)| l)
                    .ok_or_else(|| Error::request(format!("no projection named {name:?}")))?;
                if let Some(a) = &adapter {
                    let size = linear
                        .weight()
                        .ok_or_else(|| {
                            Error::request(format!(
                                "{name} is quantized: adapters need dense weights"
                            ))
                        })?
                        .size();
                    if a.widths() != (size[1], size[0]) {
                        return Err(Error::request(format!(
                            "adapter of widths {:?} does not fit {name} ({size:?})",
                            a.widths()
                        )));
                    }
                }
                Ok(linear.set_adapter(adapter))
            }
            fn layer_pass<'a>(&'a self, embeds: &Tensor) -> Result<Box<dyn LayerPass + 'a>> {
                Ok(Box::new(self.stack.pass(embeds)?))
            }
        }
    };
}

decoder_impl!(
    Qwen2Decoder,
    DecoderFamily::Qwen2,
    "The Qwen2 / Qwen2.5 decoder (Hulu-Med-7B, -32B): q/k/v projections with bias, o without."
);
decoder_impl!(
    Qwen3Decoder,
    DecoderFamily::Qwen3,
    "The Qwen3 decoder (Hulu-Med-4B, -14B): no projection bias, per-head RMSNorm on q and k \
     before the rotation, and a `head_dim` that may differ from `hidden / heads`."
);

decoder_impl!(
    Qwen3MoeDecoder,
    DecoderFamily::Qwen3Moe,
    "The Qwen3-MoE decoder (Hulu-Med-30A3, -235A22): Qwen3 attention, and MLPs that route each \
     token to its top-k experts (dense SwiGLU on `mlp_only_layers` and off the \
     `decoder_sparse_step` grid)."
);

/// The decoder `config.family` names, built from `vb` through the family registry.
///
/// # Errors
/// As the family's `load` (see [`Qwen2Decoder::load`]).
pub fn load_decoder(config: &DecoderConfig, vb: &VarBuilder) -> Result<Box<dyn CausalDecoder>> {
    (crate::families::family(config.family).load)(config, vb)
}

/// Checkpoint key prefixes that belong to the decoder; leftovers under them mean the checkpoint
/// was made for another configuration.
const DECODER_PREFIXES: [&str; 4] = [
    "model.embed_tokens.",
    "model.layers.",
    "model.norm.",
    "lm_head.",
];

/// Loads the decoder of the checkpoint in `dir` (`config.json` and safetensors) in `kind` on
/// `device`, the family chosen by the registry. Decoder keys the config does not account for
/// (an extra layer, an `lm_head` beside tied embeddings) are an error; other keys (a vision
/// side) are left to their crates.
///
/// # Errors
/// [`Error::Io`] for an unreadable config or checkpoint, [`Error::UnknownArchitecture`],
/// [`Error::InvalidConfig`], [`Error::Weights`] (missing, mis-shaped or unexpected weights).
pub fn load_decoder_from_dir(
    dir: impl AsRef<std::path::Path>,
    kind: Kind,
    device: Device,
) -> Result<Box<dyn CausalDecoder>> {
    let dir = dir.as_ref();
    let path = dir.join("config.json");
    let json: serde_json::Value = hulu_io::json::read_json(&path)?;
    let config = crate::families::decoder_config(&json)?;
    let vb = VarBuilder::from_dir(dir, kind, device)?;
    let decoder = load_decoder(&config, &vb)?;
    let leftover: Vec<String> = vb
        .unused()
        .into_iter()
        .filter(|k| DECODER_PREFIXES.iter().any(|p| k.starts_with(p)))
        .collect();
    if !leftover.is_empty() {
        return Err(hulu_nn::Error::UnexpectedWeights { keys: leftover }.into());
    }
    Ok(decoder)
}
