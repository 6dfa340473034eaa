//! AdamW with decoupled weight decay, global-norm gradient clipping and per-component learning
//! rates, step for step what `torch.optim.AdamW` (and `torch.nn.utils.clip_grad_norm_`) do in
//! float32; the fixtures pin every number.
//!
//! Our own update rather than `tch::nn::Optimizer`: that one owns a `VarStore` and cannot take
//! parameters keyed by checkpoint names, different learning rates per component, or state
//! saved and restored for resume.

use crate::policy::{is_decayed, Component};
use crate::schedule::Schedule;
use crate::{Error, Result};
use std::collections::BTreeMap;
use tch::{Kind, Tensor};

/// Optimizer settings of one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerSettings {
    /// Peak learning rate per component; a trainable component must have one.
    pub lr: BTreeMap<Component, f64>,
    /// Decoupled weight decay (applied to the parameters [`is_decayed`] selects).
    pub weight_decay: f64,
    /// Adam's `(β1, β2)`.
    pub betas: (f64, f64),
    /// Adam's ε.
    pub eps: f64,
    /// Clip the global L2 norm of all gradients to this (`None`: no clipping).
    pub max_grad_norm: Option<f64>,
    /// Warm-up and length.
    pub schedule: Schedule,
}

impl Default for OptimizerSettings {
    /// `transformers`' `TrainingArguments` defaults with a learning rate of 1e-5 everywhere.
    fn default() -> Self {
        OptimizerSettings {
            lr: Component::ALL.iter().map(|&c| (c, 1e-5)).collect(),
            weight_decay: 0.0,
            betas: (0.9, 0.999),
            eps: 1e-8,
            max_grad_norm: Some(1.0),
            schedule: Schedule {
                warmup_steps: 0,
                total_steps: 1,
            },
        }
    }
}

impl OptimizerSettings {
    /// Checks every value against its range.
    ///
    /// # Errors
    /// [`Error::InvalidLearningRate`] for a learning rate ≤ 0 or not finite;
    /// [`Error::InvalidSetting`] for betas outside `[0, 1)`, ε ≤ 0, a negative weight decay or
    /// clipping norm, or a schedule of 0 steps.
    pub fn validate(&self) -> Result<()> {
        for (c, &lr) in &self.lr {
            if !(lr.is_finite() && lr > 0.0) {
                return Err(Error::InvalidLearningRate {
                    component: c.name().into(),
                    lr,
                });
            }
        }
        let (b1, b2) = self.betas;
        if !((0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2)) {
            return Err(Error::setting(
                "betas",
                format!("({b1}, {b2}) must lie in [0, 1)"),
            ));
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(Error::setting(
                "eps",
                format!("must be positive, got {}", self.eps),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::setting(
                "weight_decay",
                format!("must be ≥ 0, got {}", self.weight_decay),
            ));
        }
        if let Some(n) = self.max_grad_norm {
            if !(n.is_finite() && n > 0.0) {
                return Err(Error::setting(
                    "max_grad_norm",
                    format!("must be positive, got {n}"),
                ));
            }
        }
        if self.schedule.total_steps == 0 {
            return Err(Error::setting("steps", "a stage needs at least one step"));
        }
        Ok(())
    }
}

/// One trainable parameter and its Adam state.
#[derive(Debug)]
pub struct Param {
    /// Checkpoint key (PEFT key for adapters).
    pub key: String,
    /// The leaf tensor (requires grad).
    pub tensor: Tensor,
    /// The component whose learning rate applies.
    pub component: Component,
    /// Whether weight decay applies.
    pub decayed: bool,
    /// First moment (created at the first step).
    pub exp_avg: Option<Tensor>,
    /// Second moment (created at the first step).
    pub exp_avg_sq: Option<Tensor>,
    /// Float32 master weight of a parameter that computes in a narrower type (see
    /// [`crate::Precision`]): the optimizer updates it and copies it into `tensor`.
    pub master: Option<Tensor>,
}

/// AdamW over named parameters. Only trainable parameters are handed to it, so frozen ones
/// hold no state.
#[derive(Debug)]
pub struct AdamW {
    settings: OptimizerSettings,
    params: Vec<Param>,
    /// Steps taken (the schedule's position).
    step: u64,
}

impl AdamW {
    /// An optimizer over `params` (key, leaf tensor).
    ///
    /// # Errors
    /// Those of [`OptimizerSettings::validate`]; [`Error::InvalidSetting`] when a parameter's
    /// component has no learning rate.
    pub fn new(settings: OptimizerSettings, params: Vec<(String, Tensor)>) -> Result<Self> {
        settings.validate()?;
        let params = params
            .into_iter()
            .map(|(key, tensor)| {
                let component = Component::of(&key);
                if !settings.lr.contains_key(&component) {
                    return Err(Error::setting(
                        format!("lr.{component}"),
                        format!("{key} trains but {component} has no learning rate"),
                    ));
                }
                Ok(Param {
                    decayed: is_decayed(&key),
                    key,
                    component,
                    master: (tensor.kind() != Kind::Float)
                        .then(|| tensor.detach().to_kind(Kind::Float)),
                    tensor,
                    exp_avg: None,
                    exp_avg_sq: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AdamW {
            settings,
            params,
            step: 0,
        })
    }

    /// The parameters, in the order given.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Mutable access for restoring state.
    pub(crate) fn params_mut(&mut self) -> &mut [Param] {
        &mut self.params
    }

    /// The settings.
    pub fn settings(&self) -> &OptimizerSettings {
        &self.settings
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    pub(crate) fn set_step_count(&mut self, step: u64) {
        self.step = step;
    }

    /// The learning rate of `component` at the current step.
    pub fn lr(&self, component: Component) -> f64 {
        self.settings.lr.get(&component).copied().unwrap_or(0.0)
            * self.settings.schedule.factor(self.step)
    }

    /// Clears every gradient.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            let mut g = p.tensor.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }

    /// The global L2 norm of all gradients (missing gradients count as zero), as
    /// `clip_grad_norm_` computes it: the norm of the per-tensor norms.
    ///
    /// # Errors
    /// libtorch's errors.
    pub fn grad_norm(&self) -> Result<f64> {
        let norms = self
            .params
            .iter()
            .map(|p| p.tensor.grad())
            .filter(Tensor::defined)
            // Norms of bf16 gradients are taken in float32.
            .map(|g| g.f_to_kind(Kind::Float)?.f_norm())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if norms.is_empty() {
            return Ok(0.0);
        }
        Ok(Tensor::f_stack(&norms, 0)?.f_norm()?.double_value(&[]))
    }

    /// Clips gradients to `max_grad_norm` (when set) and takes one AdamW step at the current
    /// learning rate; returns the norm before clipping.
    ///
    /// # Errors
    /// libtorch's errors.
    pub fn step(&mut self) -> Result<f64> {
        let norm = self.grad_norm()?;
        let clip = match self.settings.max_grad_norm {
            // clip_grad_norm_: coef = max / (norm + 1e-6), clamped to 1, applied always.
            Some(max) => (max / (norm + 1e-6)).min(1.0),
            None => 1.0,
        };
        let lrs: BTreeMap<Component, f64> =
            Component::ALL.iter().map(|&c| (c, self.lr(c))).collect();
        let (b1, b2) = self.settings.betas;
        let (eps, wd) = (self.settings.eps, self.settings.weight_decay);
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - b1.powi(t);
        let bc2_sqrt = (1.0 - b2.powi(t)).sqrt();
        tch::no_grad(|| -> Result<()> {
            for p in &mut self.params {
                let g = p.tensor.grad();
                // As torch: a parameter no gradient reached (the vision side on a text-only
                // batch) is skipped, neither decayed nor counted.
                if !g.defined() {
                    continue;
                }
                // With a master, the step runs in float32 on a widened copy of the gradient.
                let g = match p.master {
                    Some(_) => g.f_to_kind(Kind::Float)?,
                    None => g,
                };
                let _ = g.shallow_clone().f_mul_scalar_(clip)?;
                let lr = lrs[&p.component];
                let m = p.exp_avg.get_or_insert_with(|| g.zeros_like());
                let v = p.exp_avg_sq.get_or_insert_with(|| g.zeros_like());
                let mut param = p.master.as_ref().unwrap_or(&p.tensor).shallow_clone();
                if p.decayed && wd != 0.0 {
                    let _ = param.f_mul_scalar_(1.0 - lr * wd)?;
                }
                let _ = m.f_lerp_(&g, 1.0 - b1)?;
                let _ = v.f_mul_scalar_(b2)?;
                let _ = v.f_add_(&g.f_mul(&g)?.f_mul_scalar(1.0 - b2)?)?;
                let denom = v.f_sqrt()?.f_div_scalar(bc2_sqrt)?.f_add_scalar(eps)?;
                let _ = param.f_addcdiv_(&m.f_mul_scalar(-lr / bc1)?, &denom)?;
                if let Some(master) = &p.master {
                    p.tensor.shallow_clone().f_copy_(master)?;
                }
            }
            Ok(())
        })?;
        Ok(norm)
    }
}
