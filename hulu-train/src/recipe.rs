//! Recipe files (TOML): the stages of a training run in order, each with its datasets and mix
//! weights, policy, optimizer settings and length. Every setting is checked when the recipe
//! is read, before any model loads.
//!
//! ```toml
//! seed = 0
//! memory = "checkpoint"          # or "plain"
//! precision = "bf16"             # or "f32" (default)
//!
//! [[stage]]
//! name = "align"
//! policy = "align"               # full | projector | lora | ["vision", "projector"]
//! steps = 100
//! batch_size = 4
//! accumulation = 1
//! eval_every = 50
//! [stage.optimizer]
//! lr = { vision = 5e-4, projector = 2e-3 }
//! weight_decay = 0.0
//! warmup_steps = 10
//! [[stage.data]]
//! path = "captions.jsonl"        # relative to the recipe
//! root = "media"                 # media paths in the rows are relative to this
//! weight = 1.0
//! held_out = 8                   # rows kept aside for the held-out loss
//! merge_size = 2
//! slices = 8
//! ```

use crate::optim::OptimizerSettings;
use crate::policy::{Component, LoraSettings, Policy};
use crate::precision::Precision;
use crate::schedule::Schedule;
use crate::step::Memory;
use crate::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A parsed recipe.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Seed of shuffling and fresh adapters.
    #[serde(default)]
    pub seed: u64,
    /// `plain` or `checkpoint` (per-layer recomputation).
    #[serde(default)]
    pub memory: Option<String>,
    /// Saved weights' dtype: `bf16` (default) or `f32`.
    #[serde(default)]
    pub save_dtype: Option<String>,
    /// Compute precision: `f32` (default) or `bf16` (float32 masters and optimizer state).
    #[serde(default)]
    pub precision: Option<String>,
    /// The stages, in order.
    pub stage: Vec<StageSpec>,
    /// The folder relative paths resolve against (the recipe's own).
    #[serde(skip)]
    pub base: PathBuf,
}

/// One stage of a recipe.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// Name (the checkpoint folder under the output).
    pub name: String,
    /// `align`, `full`, `projector`, `lora`, or a list of components.
    pub policy: toml::Value,
    /// Optimizer steps.
    pub steps: u64,
    /// Examples per micro-batch.
    #[serde(default = "one")]
    pub batch_size: usize,
    /// Micro-batches per step.
    #[serde(default = "one")]
    pub accumulation: usize,
    /// Held-out loss every this many steps (0: only at the end).
    #[serde(default)]
    pub eval_every: u64,
    /// Optimizer settings.
    pub optimizer: OptimizerSpec,
    /// LoRA settings of a `lora` policy.
    #[serde(default)]
    pub lora: Option<LoraSpec>,
    /// Datasets and their mix weights.
    pub data: Vec<DataSpec>,
}

fn one() -> usize {
    1
}

/// A stage's optimizer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    /// Learning rate per component (`llm`, `projector`, `vision`).
    pub lr: BTreeMap<String, f64>,
    /// Decoupled weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Adam's betas.
    #[serde(default = "betas")]
    pub betas: [f64; 2],
    /// Adam's ε.
    #[serde(default = "eps")]
    pub eps: f64,
    /// Global-norm clipping (0: none).
    #[serde(default = "clip")]
    pub max_grad_norm: f64,
    /// Linear warm-up steps.
    #[serde(default)]
    pub warmup_steps: u64,
}

fn betas() -> [f64; 2] {
    [0.9, 0.999]
}
fn eps() -> f64 {
    1e-8
}
fn clip() -> f64 {
    1.0
}

/// LoRA settings in a recipe.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraSpec {
    /// Rank.
    pub r: usize,
    /// Alpha.
    pub alpha: f64,
    /// Projection names.
    pub targets: Vec<String>,
    /// Train the projector too.
    #[serde(default)]
    pub with_projector: bool,
}

/// One dataset of a stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The JSONL file, relative to the recipe.
    pub path: PathBuf,
    /// Media root, relative to the recipe (default: the JSONL's folder).
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// Mix weight: rows are drawn in proportion (a weight of 2 shows each row twice).
    #[serde(default = "weight")]
    pub weight: f64,
    /// Rows kept aside for the held-out loss.
    #[serde(default)]
    pub held_out: usize,
    /// Slices of a volume.
    #[serde(default)]
    pub slices: Option<usize>,
    /// Merge size of volumes and videos.
    #[serde(default)]
    pub merge_size: Option<usize>,
    /// Token compression.
    #[serde(default)]
    pub compression: Option<bool>,
    /// Pixel budget in patches.
    #[serde(default)]
    pub max_visual_tokens: Option<usize>,
    /// Frames per second of videos.
    #[serde(default)]
    pub fps: Option<f64>,
}

fn weight() -> f64 {
    1.0
}

impl Recipe {
    /// Reads and checks the recipe at `path`.
    ///
    /// # Errors
    /// [`Error::File`] when unreadable; [`Error::InvalidSetting`] for TOML that is not a
    /// recipe; every error of [`Recipe::validate`].
    pub fn from_file(path: &Path) -> Result<Recipe> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
        let mut recipe: Recipe = toml::from_str(&text)
            .map_err(|e| Error::setting(path.display().to_string(), e.to_string()))?;
        recipe.base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        recipe.validate()?;
        Ok(recipe)
    }

    /// Checks every stage (policy, learning rates, LoRA, data weights) before any work.
    ///
    /// # Errors
    /// [`Error::UnknownComponent`], [`Error::InvalidLearningRate`], [`Error::InvalidSetting`].
    pub fn validate(&self) -> Result<()> {
        if self.stage.is_empty() {
            return Err(Error::setting("stage", "a recipe needs at least one stage"));
        }
        self.memory()?;
        self.save_kind()?;
        self.precision()?;
        for s in &self.stage {
            s.policy()?.validate()?;
            s.optimizer()?.validate()?;
            if s.batch_size == 0 || s.accumulation == 0 {
                return Err(Error::setting(
                    format!("{}.batch_size", s.name),
                    "batch size and accumulation must be at least 1",
                ));
            }
            if s.data.is_empty()
                || s.data
                    .iter()
                    .any(|d| !(d.weight.is_finite() && d.weight > 0.0))
            {
                return Err(Error::setting(
                    format!("{}.data", s.name),
                    "each stage needs datasets with positive weights",
                ));
            }
        }
        Ok(())
    }

    /// The memory mode.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for another word than `plain` or `checkpoint`.
    pub fn memory(&self) -> Result<Memory> {
        match self.memory.as_deref() {
            None | Some("plain") => Ok(Memory::Plain),
            Some("checkpoint") => Ok(Memory::CheckpointLayers),
            Some(other) => Err(Error::setting(
                "memory",
                format!("{other:?} is not plain or checkpoint"),
            )),
        }
    }

    /// The compute precision.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for another word than `f32` or `bf16`.
    pub fn precision(&self) -> Result<Precision> {
        self.precision
            .as_deref()
            .map_or(Ok(Precision::F32), Precision::named)
    }

    /// The dtype of saved weights.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for another word than `bf16` or `f32`.
    pub fn save_kind(&self) -> Result<tch::Kind> {
        match self.save_dtype.as_deref() {
            None | Some("bf16") => Ok(tch::Kind::BFloat16),
            Some("f32") => Ok(tch::Kind::Float),
            Some(other) => Err(Error::setting(
                "save_dtype",
                format!("{other:?} is not bf16 or f32"),
            )),
        }
    }
}

impl StageSpec {
    /// The stage's policy.
    ///
    /// # Errors
    /// [`Error::UnknownComponent`] or [`Error::InvalidSetting`].
    pub fn policy(&self) -> Result<Policy> {
        match &self.policy {
            toml::Value::String(s) if s == "lora" => {
                let l = self.lora.as_ref().ok_or_else(|| {
                    Error::setting(
                        format!("{}.lora", self.name),
                        "a lora policy needs [stage.lora]",
                    )
                })?;
                Ok(Policy::Lora(LoraSettings {
                    r: l.r,
                    alpha: l.alpha,
                    targets: l.targets.clone(),
                    with_projector: l.with_projector,
                }))
            }
            toml::Value::String(s) => Policy::named(s),
            toml::Value::Array(a) => {
                let names = a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| Error::setting("policy", "component names are strings"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Policy::custom(&names)
            }
            _ => Err(Error::setting("policy", "a name or a list of components")),
        }
    }

    /// The stage's optimizer settings.
    ///
    /// # Errors
    /// [`Error::UnknownComponent`] for a learning rate of an unknown component.
    pub fn optimizer(&self) -> Result<OptimizerSettings> {
        let o = &self.optimizer;
        Ok(OptimizerSettings {
            lr: o
                .lr
                .iter()
                .map(|(k, &v)| Ok((Component::parse(k)?, v)))
                .collect::<Result<_>>()?,
            weight_decay: o.weight_decay,
            betas: (o.betas[0], o.betas[1]),
            eps: o.eps,
            max_grad_norm: (o.max_grad_norm > 0.0).then_some(o.max_grad_norm),
            schedule: Schedule {
                warmup_steps: o.warmup_steps,
                total_steps: self.steps,
            },
        })
    }
}
