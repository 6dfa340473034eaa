//! The decoder stack both families share: embeddings, layers, final norm and `lm_head`, and the
//! bookkeeping of one forward pass (positions, mask, cache columns).

use crate::attention::StepContext;
use crate::cache::KvCache;
use crate::config::DecoderConfig;
use crate::layer::DecoderLayer;
use crate::linear::Linear;
use crate::norm::RmsNorm;
use crate::rotary::Rotary;
use crate::{Error, Result};
use hulu_nn::VarBuilder;
use tch::{Device, Kind, Tensor};

/// Which positions to compute logits for (the vocabulary projection dominates the cost of a
/// small decoder's prefill, so it is asked for explicitly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogitsFor {
    /// No logits, hidden states only.
    None,
    /// The last column of each row (`[B, V]`): the next-token distribution.
    Last,
    /// Every position (`[B, L, V]`).
    All,
}

/// What a forward pass returns.
#[derive(Debug)]
pub struct DecoderOutput {
    /// Hidden states after the final norm, `[B, L, hidden]`, in the decoder's dtype.
    pub hidden: Tensor,
    /// Logits in float32 as [`LogitsFor`] asked; `None` for [`LogitsFor::None`].
    pub logits: Option<Tensor>,
}

/// The layers and tables of a Qwen-style decoder (`model.*` and `lm_head` keys).
#[derive(Debug)]
pub(crate) struct Stack {
    config: DecoderConfig,
    /// `model.embed_tokens`, `[vocab, hidden]`: looked up by row, and `lm_head` when tied.
    embed_tokens: Linear,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    /// `None` when tied to `embed_tokens`.
    lm_head: Option<Linear>,
    rotary: Rotary,
    kind: Kind,
    device: Device,
}

impl Stack {
    pub(crate) fn load(config: &DecoderConfig, root: &VarBuilder) -> Result<Self> {
        config.validate()?;
        let _span = tracing::info_span!("decoder_load", family = ?config.family, layers = config.num_hidden_layers).entered();
        let model = root.pp("model");
        let embed_tokens = Linear::load_table(
            &model.pp("embed_tokens"),
            config.vocab_size,
            config.hidden_size,
        )?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| DecoderLayer::load(&model.pp("layers").pp(i), config, i))
            .collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::load(&model.pp("norm"), config.hidden_size, config.rms_norm_eps)?;
        let lm_head = if config.tie_word_embeddings {
            None
        } else {
            Some(Linear::load(
                &root.pp("lm_head"),
                config.hidden_size,
                config.vocab_size,
                false,
            )?)
        };
        let rotary = Rotary::new(
            config.head_dim,
            config.rope_theta,
            config.max_position_embeddings,
            root.device(),
        )?;
        Ok(Stack {
            config: config.clone(),
            embed_tokens,
            layers,
            norm,
            lm_head,
            rotary,
            kind: root.kind(),
            device: root.device(),
        })
    }

    /// Quantizes every layer's projections; embeddings, norms and `lm_head` stay dense.
    pub(crate) fn quantize(&mut self, q: &crate::Quantization) -> Result<()> {
        q.validate()?;
        let _span = tracing::info_span!("decoder_quantize", scheme = %q).entered();
        for layer in &mut self.layers {
            layer.quantize(q)?;
        }
        Ok(())
    }

    /// Quantizes the vocabulary tables: `model.embed_tokens` (its rows readable for lookups)
    /// and `lm_head` when untied (tied, it is the same table).
    pub(crate) fn quantize_embeddings(&mut self, q: &crate::Quantization) -> Result<()> {
        q.validate()?;
        let _span = tracing::info_span!("decoder_quantize_embeddings", scheme = %q).entered();
        self.embed_tokens.quantize_table(q)?;
        if let Some(head) = &mut self.lm_head {
            head.quantize(q)?;
        }
        Ok(())
    }

    /// Bytes the weights hold in memory.
    pub(crate) fn weight_bytes(&self) -> usize {
        self.embed_tokens.bytes()
            + self.norm.bytes()
            + self.layers.iter().map(DecoderLayer::bytes).sum::<usize>()
            + self.lm_head.as_ref().map_or(0, Linear::bytes)
    }

    pub(crate) fn config(&self) -> &DecoderConfig {
        &self.config
    }

    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    pub(crate) fn device(&self) -> Device {
        self.device
    }

    pub(crate) fn rotary_table_len(&self) -> usize {
        self.rotary.table_len()
    }

    pub(crate) fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        if ids.kind() != Kind::Int64 || ids.dim() == 0 || ids.numel() == 0 {
            return Err(Error::BadInput {
                what: "token ids",
                expected: "a non-empty int64 tensor".into(),
                actual: ids.size(),
                kind: ids.kind(),
            });
        }
        let vocab = self.config.vocab_size;
        let (lo, hi) = (ids.f_min()?.int64_value(&[]), ids.f_max()?.int64_value(&[]));
        for id in [lo, hi] {
            if id < 0 || id >= vocab as i64 {
                return Err(Error::TokenOutOfRange { id, vocab });
            }
        }
        let ids = ids.f_to_device(self.device)?;
        self.embed_tokens.rows(&ids)
    }

    pub(crate) fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let head = self.lm_head.as_ref().unwrap_or(&self.embed_tokens);
        Ok(head.forward(hidden)?.f_to_kind(Kind::Float)?)
    }

    /// The dense `lm_head` weight (the embedding matrix when tied); `None` once quantized.
    pub(crate) fn lm_head_weight(&self) -> Option<&Tensor> {
        self.lm_head.as_ref().unwrap_or(&self.embed_tokens).weight()
    }

    /// Every decoder layer's linear projections by checkpoint key prefix
    /// (`model.layers.0.self_attn.q_proj`, ...); `lm_head` is not among them.
    pub(crate) fn linears_mut(&mut self) -> Vec<(String, &mut Linear)> {
        self.layers
            .iter_mut()
            .enumerate()
            .flat_map(|(i, layer)| {
                layer
                    .linears_mut()
                    .into_iter()
                    .map(move |(n, l)| (format!("model.layers.{i}.{n}"), l))
            })
            .collect()
    }

    /// A pass over `embeds` (`[B, L, hidden]`, no padding, no cache) split at the layers.
    pub(crate) fn pass(&self, embeds: &Tensor) -> Result<StackPass<'_>> {
        let size = embeds.size();
        if size.len() != 3 || size[1] == 0 || size[2] != self.config.hidden_size as i64 {
            return Err(Error::BadInput {
                what: "input embeddings",
                expected: format!("[batch, len, {}]", self.config.hidden_size),
                actual: size,
                kind: embeds.kind(),
            });
        }
        let (b, l) = (size[0] as usize, size[1] as usize);
        let ctx = self.context(&vec![0; b], 0, l, l)?;
        let input = embeds.f_to_device(self.device)?.f_to_kind(self.kind)?;
        Ok(StackPass {
            stack: self,
            ctx,
            input,
        })
    }

    /// One forward pass over `embeds` (`[B, L, hidden]`), optionally left-padded by `pads`
    /// (first chunk only) and optionally appending to `cache`.
    pub(crate) fn forward(
        &self,
        embeds: &Tensor,
        pads: Option<&[usize]>,
        mut cache: Option<&mut KvCache>,
        which: LogitsFor,
    ) -> Result<DecoderOutput> {
        let size = embeds.size();
        if size.len() != 3
            || size[0] == 0
            || size[1] == 0
            || size[2] != self.config.hidden_size as i64
            || !embeds.is_floating_point()
        {
            return Err(Error::BadInput {
                what: "input embeddings",
                expected: format!(
                    "a floating [batch, len, {}] tensor, batch and len positive",
                    self.config.hidden_size
                ),
                actual: size,
                kind: embeds.kind(),
            });
        }
        let (b, l) = (size[0] as usize, size[1] as usize);
        if let Some(pads) = pads {
            if pads.len() != b || pads.iter().any(|&p| p >= l) {
                return Err(Error::request(format!(
                    "left padding {pads:?} must give each of the {b} rows at least one of its {l} columns"
                )));
            }
        }
        let (start, pads) = match cache.as_deref() {
            Some(cache) => {
                if cache.batch() != b || cache.layers() != self.layers.len() {
                    return Err(Error::request(format!(
                        "cache of batch {} and {} layers cannot serve batch {b} on {} layers",
                        cache.batch(),
                        cache.layers(),
                        self.layers.len()
                    )));
                }
                if cache.kind() != self.kind || cache.device() != self.device {
                    return Err(Error::request(format!(
                        "cache holds {:?} on {:?}, decoder runs {:?} on {:?}",
                        cache.kind(),
                        cache.device(),
                        self.kind,
                        self.device
                    )));
                }
                cache.plan(l, pads)?
            }
            None => (0, pads.map_or_else(|| vec![0; b], <[usize]>::to_vec)),
        };
        let min_pad = pads.iter().copied().min().unwrap_or(0);
        let needed = start + l - min_pad;
        let span = tracing::info_span!("decoder_forward", batch = b, new = l, start);
        let _guard = span.enter();
        let ctx = self.context(&pads, start, l, needed)?;
        let mut x = embeds.f_to_device(self.device)?.f_to_kind(self.kind)?;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(&x, &ctx, cache.as_deref_mut().map(|c| (c, i)))?;
        }
        if let Some(cache) = cache {
            cache.advance(l, pads);
        }
        let hidden = self.norm.forward(&x)?;
        let logits = match which {
            LogitsFor::None => None,
            LogitsFor::Last => Some(self.logits(&hidden.f_select(1, l as i64 - 1)?)?),
            LogitsFor::All => Some(self.logits(&hidden)?),
        };
        Ok(DecoderOutput { hidden, logits })
    }

    /// Positions, rotation angles and the attention mask for `l` new columns starting at
    /// column `start` of rows left-padded by `pads`.
    fn context(
        &self,
        pads: &[usize],
        start: usize,
        l: usize,
        needed: usize,
    ) -> Result<StepContext> {
        let dev = self.device;
        let b = pads.len() as i64;
        let total = (start + l) as i64;
        let pads_t = Tensor::f_from_slice(&pads.iter().map(|&p| p as i64).collect::<Vec<_>>())?
            .f_to_device(dev)?
            .f_view([b, 1])?;
        let cols = Tensor::f_arange_start(start as i64, total, (Kind::Int64, dev))?
            .f_view([1, l as i64])?;
        // A padding column gets position 0; its output is never read.
        let positions = cols.f_sub(&pads_t)?.f_clamp_min(0)?;
        let (cos, sin) = self.rotary.cos_sin(&positions, needed, self.kind)?;
        // Query at column c may see key column j when j <= c and j is not padding; a padding
        // query sees itself only, so its softmax stays finite.
        let keys = Tensor::f_arange(total, (Kind::Int64, dev))?.f_view([1, 1, total])?;
        let queries = cols.f_view([1, l as i64, 1])?;
        let causal = keys.f_le_tensor(&queries)?;
        let real = keys.f_ge_tensor(&pads_t.f_view([b, 1, 1])?)?;
        let own = keys.f_eq_tensor(&queries)?;
        let mask = causal.f_logical_and(&real.f_logical_or(&own)?)?;
        let group = self.config.group_size() as i64;
        let mask = mask.f_unsqueeze(1)?.f_repeat([1, 1, group, 1])?;
        Ok(StepContext {
            cos,
            sin,
            mask,
            start,
        })
    }
}

/// One forward pass of a decoder split at its layers, for a trainer that runs (and, for
/// gradient checkpointing, re-runs) each layer itself: `norm(layer(n-1, … layer(0, input())))`
/// is the decoder's `hidden` for the same embeddings.
pub trait LayerPass {
    /// The embeddings in the decoder's dtype and on its device (part of the autograd graph).
    fn input(&self) -> &Tensor;
    /// Number of layers.
    fn layers(&self) -> usize;
    /// Layer `index` applied to `x` (`[B, L, hidden]`).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an index past the last layer; libtorch's errors.
    fn layer(&self, index: usize, x: &Tensor) -> Result<Tensor>;
    /// The final norm.
    ///
    /// # Errors
    /// libtorch's errors.
    fn norm(&self, x: &Tensor) -> Result<Tensor>;
}

/// [`LayerPass`] over the shared stack.
pub(crate) struct StackPass<'a> {
    stack: &'a Stack,
    ctx: StepContext,
    input: Tensor,
}

impl LayerPass for StackPass<'_> {
    fn input(&self) -> &Tensor {
        &self.input
    }

    fn layers(&self) -> usize {
        self.stack.layers.len()
    }

    fn layer(&self, index: usize, x: &Tensor) -> Result<Tensor> {
        let layer = self.stack.layers.get(index).ok_or_else(|| {
            Error::request(format!(
                "layer {index} of a decoder with {} layers",
                self.stack.layers.len()
            ))
        })?;
        layer.forward(x, &self.ctx, None)
    }

    fn norm(&self, x: &Tensor) -> Result<Tensor> {
        self.stack.norm.forward(x)
    }
}
