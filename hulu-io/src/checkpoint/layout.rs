//! The tensor layout a Hulu-Med config implies, and a check of a checkpoint against it.
//!
//! Model crates check each tensor as they load it; this lists every problem at once, before
//! anything is loaded (what `hulu inspect` shows, and what a user wants when a 30 GB download
//! is for the wrong config).

use crate::{Checkpoint, DecoderFamily, Error, HuluConfig, Result};
use std::collections::BTreeMap;

/// Every tensor key of a Hulu-Med checkpoint for `config`, with its shape.
pub fn expected_weights(config: &HuluConfig) -> BTreeMap<String, Vec<usize>> {
    let mut w = BTreeMap::new();
    let mut put = |key: String, shape: &[usize]| {
        w.insert(key, shape.to_vec());
    };
    let v = &config.vision_encoder_config;
    let (cv, iv, p) = (v.hidden_size, v.intermediate_size, v.patch_size);
    let ve = "model.vision_encoder";
    put(
        format!("{ve}.embeddings.patch_embedding.weight"),
        &[cv, v.num_channels, p, p],
    );
    put(format!("{ve}.embeddings.patch_embedding.bias"), &[cv]);
    for i in 0..v.num_hidden_layers {
        let l = format!("{ve}.encoder.layers.{i}");
        for norm in ["layer_norm1", "layer_norm2"] {
            put(format!("{l}.{norm}.weight"), &[cv]);
            put(format!("{l}.{norm}.bias"), &[cv]);
        }
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            put(format!("{l}.self_attn.{proj}.weight"), &[cv, cv]);
            put(format!("{l}.self_attn.{proj}.bias"), &[cv]);
        }
        put(format!("{l}.mlp.fc1.weight"), &[iv, cv]);
        put(format!("{l}.mlp.fc1.bias"), &[iv]);
        put(format!("{l}.mlp.fc2.weight"), &[cv, iv]);
        put(format!("{l}.mlp.fc2.bias"), &[cv]);
    }
    put(format!("{ve}.post_layernorm.weight"), &[cv]);
    put(format!("{ve}.post_layernorm.bias"), &[cv]);

    let (h, i, vocab) = (
        config.hidden_size,
        config.intermediate_size,
        config.vocab_size,
    );
    put("model.mm_projector.readout.0.weight".into(), &[h, cv]);
    put("model.mm_projector.readout.0.bias".into(), &[h]);
    put("model.mm_projector.readout.2.weight".into(), &[h, h]);
    put("model.mm_projector.readout.2.bias".into(), &[h]);

    let (hd, q, kv) = (
        config.head_dim(),
        config.num_attention_heads * config.head_dim(),
        config.kv_heads() * config.head_dim(),
    );
    put("model.embed_tokens.weight".into(), &[vocab, h]);
    for layer in 0..config.num_hidden_layers {
        let l = format!("model.layers.{layer}");
        for (proj, rows) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
            put(format!("{l}.self_attn.{proj}.weight"), &[rows, h]);
            if config.qkv_bias() {
                put(format!("{l}.self_attn.{proj}.bias"), &[rows]);
            }
        }
        put(format!("{l}.self_attn.o_proj.weight"), &[h, q]);
        if config.family() == Some(DecoderFamily::Qwen3) {
            put(format!("{l}.self_attn.q_norm.weight"), &[hd]);
            put(format!("{l}.self_attn.k_norm.weight"), &[hd]);
        }
        put(format!("{l}.mlp.gate_proj.weight"), &[i, h]);
        put(format!("{l}.mlp.up_proj.weight"), &[i, h]);
        put(format!("{l}.mlp.down_proj.weight"), &[h, i]);
        put(format!("{l}.input_layernorm.weight"), &[h]);
        put(format!("{l}.post_attention_layernorm.weight"), &[h]);
    }
    put("model.norm.weight".into(), &[h]);
    if !config.tie_word_embeddings {
        put("lm_head.weight".into(), &[vocab, h]);
    }
    w
}

/// A tensor whose stored shape differs from the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisShaped {
    /// Tensor key.
    pub key: String,
    /// Shape the config implies.
    pub expected: Vec<usize>,
    /// Shape stored in the checkpoint.
    pub actual: Vec<usize>,
}

/// Differences between a checkpoint and the layout its config implies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeightReport {
    /// Expected keys absent from the checkpoint.
    pub missing: Vec<String>,
    /// Checkpoint keys the config does not explain.
    pub unexpected: Vec<String>,
    /// Keys present with another shape.
    pub mis_shaped: Vec<MisShaped>,
}

impl WeightReport {
    /// Whether the checkpoint matches exactly.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mis_shaped.is_empty()
    }

    /// `Ok` when clean, else [`Error::WeightLayout`] listing every problem.
    pub fn into_result(self) -> Result<()> {
        if self.is_clean() {
            Ok(())
        } else {
            Err(Error::WeightLayout(Box::new(self)))
        }
    }
}

impl std::fmt::Display for WeightReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "missing {:?}, unexpected {:?}, mis-shaped [",
            self.missing, self.unexpected
        )?;
        for (n, m) in self.mis_shaped.iter().enumerate() {
            let sep = if n == 0 { "" } else { ", " };
            write!(
                f,
                "{sep}{} {:?} (expected {:?})",
                m.key, m.actual, m.expected
            )?;
        }
        write!(f, "]")
    }
}

impl Checkpoint {
    /// Compares the stored tensors with `expected` (see [`expected_weights`]).
    pub fn check_layout(&self, expected: &BTreeMap<String, Vec<usize>>) -> WeightReport {
        let mut report = WeightReport::default();
        for (key, shape) in expected {
            match self.meta(key) {
                None => report.missing.push(key.clone()),
                Some(meta) if &meta.shape != shape => report.mis_shaped.push(MisShaped {
                    key: key.clone(),
                    expected: shape.clone(),
                    actual: meta.shape.clone(),
                }),
                Some(_) => {}
            }
        }
        report.unexpected = self
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .map(str::to_string)
            .collect();
        report
    }
}
