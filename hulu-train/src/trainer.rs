//! The trainer: a [`HuluMed`] built over trainable parameters (a [`VarMap`] keyed by
//! checkpoint names), the policy's adapters, and AdamW over exactly what trains.

use crate::example::{encode_example, Encoded, Example};
use crate::lora::Adapters;
use crate::optim::{AdamW, OptimizerSettings, Param};
use crate::policy::{Component, Policy};
use crate::precision::Precision;
use crate::step::{batch_targets, eval_loss, forward_backward, Memory};
use crate::{Error, Result};
use hulu_model::{HuluConfig, HuluMed, HuluMedBuilder};
use hulu_nn::{Backend, CheckpointBackend, VarBuilder, VarMap};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// How a trainer is set up.
#[derive(Debug, Clone)]
pub struct TrainerOptions {
    /// What trains.
    pub policy: Policy,
    /// AdamW, clipping and schedule.
    pub optimizer: OptimizerSettings,
    /// Plain backward or per-layer recomputation.
    pub memory: Memory,
    /// Device of weights and optimizer state.
    pub device: Device,
    /// Starting adapters in PEFT's layout for a `lora` policy (`None`: fresh ones).
    pub adapter_init: Option<PathBuf>,
    /// Seed of fresh adapters.
    pub seed: u64,
    /// float32, or bf16 compute over float32 masters.
    pub precision: Precision,
}

impl TrainerOptions {
    /// Checks the settings before any work: the policy's, the optimizer's, and that every
    /// component that trains has a learning rate.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`], [`Error::InvalidLearningRate`], [`Error::NothingToTrain`].
    pub fn validate(&self) -> Result<()> {
        self.policy.validate()?;
        self.optimizer.validate()?;
        let mut trained = self.policy.components();
        if self.policy.lora().is_some() {
            trained.insert(Component::Llm);
        }
        if trained.is_empty() {
            return Err(Error::NothingToTrain {
                policy: self.policy.name(),
            });
        }
        for c in trained {
            if !self.optimizer.lr.contains_key(&c) {
                return Err(Error::setting(
                    format!("lr.{c}"),
                    format!(
                        "policy {} trains {c} but gives it no learning rate",
                        self.policy.name()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// What one optimizer step did.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// The loss before the step (mean over the batch's labelled tokens).
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// The learning rate per component at this step.
    pub lr: BTreeMap<Component, f64>,
    /// Labelled tokens of the step.
    pub tokens: usize,
}

/// A model and its optimizer. Master weights and optimizer state are float32; the model
/// computes in [`TrainerOptions::precision`].
pub struct Trainer {
    dir: PathBuf,
    model: HuluMed,
    vars: VarMap,
    adapters: Option<Adapters>,
    optimizer: AdamW,
    options: TrainerOptions,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("dir", &self.dir)
            .field("policy", &self.options.policy)
            .field("step", &self.optimizer.step_count())
            .finish_non_exhaustive()
    }
}

impl Trainer {
    /// Loads the checkpoint directory `dir` for training under `options`.
    ///
    /// # Errors
    /// Those of [`TrainerOptions::validate`] (before anything is loaded); [`Error::Model`] and
    /// [`Error::Decoder`] when the model does not load; [`Error::LoraTargetMatchesNothing`];
    /// [`Error::Adapter`] for an unusable adapter folder.
    pub fn new(dir: impl AsRef<Path>, options: TrainerOptions) -> Result<Trainer> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let _span = tracing::info_span!("trainer_load", dir = %dir.display(), policy = %options.policy.name()).entered();
        let policy = options.policy.clone();
        let vars = VarMap::with_rule(CheckpointBackend::open(&dir)?, move |k| policy.trains(k));
        let kind = options.precision.compute_kind();
        let vb = VarBuilder::new(vars.clone(), kind, options.device);
        let config = HuluConfig::from_file(dir.join("config.json"))?;
        let mut decoder = hulu_llm::load_decoder(&config.decoder, &vb)?;
        let adapters = match options.policy.lora() {
            None => None,
            Some(settings) => {
                let mut adapters = match &options.adapter_init {
                    Some(init) => {
                        let a = Adapters::load_peft(init, kind, options.device)?;
                        // The stage's targets must still match something.
                        crate::lora::target_names(decoder.as_mut(), settings)?;
                        a
                    }
                    None => Adapters::fresh(
                        decoder.as_mut(),
                        settings,
                        options.seed,
                        kind,
                        options.device,
                    )?,
                };
                adapters.set_trainable(true);
                adapters.attach(decoder.as_mut())?;
                Some(adapters)
            }
        };
        let model = HuluMedBuilder::new(&dir)
            .weights(vb)
            .decoder(decoder)
            .build()?;
        let mut params = vars.trainable();
        if let Some(a) = &adapters {
            params.extend(a.named());
        }
        if params.is_empty() {
            return Err(Error::NothingToTrain {
                policy: options.policy.name(),
            });
        }
        let mut optimizer = AdamW::new(options.optimizer.clone(), params)?;
        if kind != Kind::Float {
            // Base masters straight from the checkpoint, not widened from the bf16 copies.
            let ckpt = CheckpointBackend::open(&dir)?;
            for p in optimizer.params_mut() {
                if let (Some(master), true) = (&mut p.master, ckpt.contains(&p.key)) {
                    *master = ckpt.tensor(&p.key, &p.tensor.size(), Kind::Float, options.device)?;
                }
            }
        }
        Ok(Trainer {
            dir,
            model,
            vars,
            adapters,
            optimizer,
            options,
        })
    }

    /// The model being trained (its stages run with gradients).
    pub fn model(&self) -> &HuluMed {
        &self.model
    }

    /// The checkpoint directory trained from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every base parameter (trainable or frozen) by checkpoint key.
    pub fn vars(&self) -> &VarMap {
        &self.vars
    }

    /// The LoRA adapters of a `lora` policy.
    pub fn adapters(&self) -> Option<&Adapters> {
        self.adapters.as_ref()
    }

    /// The trainable parameters and their optimizer state.
    pub fn params(&self) -> &[Param] {
        self.optimizer.params()
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &AdamW {
        &self.optimizer
    }

    pub(crate) fn optimizer_mut(&mut self) -> &mut AdamW {
        &mut self.optimizer
    }

    /// The options the trainer was built with.
    pub fn options(&self) -> &TrainerOptions {
        &self.options
    }

    /// Tokenises and preprocesses an example for this model.
    ///
    /// # Errors
    /// Those of [`encode_example`].
    pub fn encode(&self, example: &Example) -> Result<Encoded> {
        encode_example(&self.model, example)
    }

    /// Clears the gradients and accumulates those of `micro_batches`, each divided by the
    /// labelled tokens of all of them (the accumulated gradient is that of the mean).
    /// Returns the mean loss.
    ///
    /// # Errors
    /// Those of [`forward_backward`].
    pub fn accumulate(&mut self, micro_batches: &[Vec<&Encoded>]) -> Result<f64> {
        self.optimizer.zero_grad();
        let total: usize = micro_batches.iter().map(|b| batch_targets(b)).sum();
        let mut loss = 0.0;
        for batch in micro_batches {
            loss += forward_backward(&self.model, batch, Some(total), self.options.memory)?;
        }
        Ok(loss)
    }

    /// Clips and applies the accumulated gradients (one optimizer step).
    ///
    /// # Errors
    /// libtorch's errors.
    pub fn apply(&mut self) -> Result<(f64, BTreeMap<Component, f64>)> {
        let lr = Component::ALL
            .iter()
            .map(|&c| (c, self.optimizer.lr(c)))
            .collect();
        let norm = self.optimizer.step()?;
        Ok((norm, lr))
    }

    /// One optimizer step over `micro_batches` (gradient accumulation when more than one).
    ///
    /// # Errors
    /// Those of [`Trainer::accumulate`] and [`Trainer::apply`].
    pub fn step(&mut self, micro_batches: &[Vec<&Encoded>]) -> Result<StepReport> {
        let tokens = micro_batches.iter().map(|b| batch_targets(b)).sum();
        let loss = self.accumulate(micro_batches)?;
        let (grad_norm, lr) = self.apply()?;
        Ok(StepReport {
            loss,
            grad_norm,
            lr,
            tokens,
        })
    }

    /// The mean loss of `batch` without gradients.
    ///
    /// # Errors
    /// Those of [`eval_loss`].
    pub fn eval(&self, batch: &[&Encoded]) -> Result<f64> {
        eval_loss(&self.model, batch)
    }

    /// A trainable parameter by key (checkpoint key, or PEFT key for adapters), else any
    /// base parameter.
    pub fn parameter(&self, key: &str) -> Option<Tensor> {
        self.params()
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.tensor.shallow_clone())
            .or_else(|| self.vars.get(key))
    }
}
