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
                // With a master, the step runs in float32 on a widened copy of the gradient
                // (made chunk by chunk below); without one the gradient is clipped in place,
                // as `clip_grad_norm_` does.
                let widen = p.master.is_some();
                let state_kind = if widen { Kind::Float } else { g.kind() };
                let lr = lrs[&p.component];
                let zeros = || Tensor::zeros(g.size(), (state_kind, g.device()));
                let m = p.exp_avg.get_or_insert_with(zeros);
                let v = p.exp_avg_sq.get_or_insert_with(zeros);
                let param = p.master.as_ref().unwrap_or(&p.tensor).shallow_clone();
                let update = AdamwUpdate {
                    decay: if p.decayed { 1.0 - lr * wd } else { 1.0 },
                    b1,
                    b2,
                    eps,
                    bc2_sqrt,
                    step_size: lr / bc1,
                };
                for_each_chunk(&[&param, &g, m, v], |[param, g, m, v]| {
                    let mut g = if widen {
                        g.f_to_kind(Kind::Float)?
                    } else {
                        g.shallow_clone()
                    };
                    let _ = g.f_mul_scalar_(clip)?;
                    update.apply(param, &g, m, v)
                })?;
                if let Some(master) = &p.master {
                    p.tensor.shallow_clone().f_copy_(master)?;
                }
            }
            Ok(())
        })?;
        Ok(norm)
    }
}

/// One AdamW update's constants, as `torch.optim.AdamW` (single-tensor path) applies them.
struct AdamwUpdate {
    /// `1 − lr·weight_decay` for decayed parameters, else 1 (decoupled decay).
    decay: f64,
    b1: f64,
    b2: f64,
    eps: f64,
    /// `√(1 − β₂ᵗ)`.
    bc2_sqrt: f64,
    /// `lr / (1 − β₁ᵗ)`.
    step_size: f64,
}

impl AdamwUpdate {
    /// Updates `param`, `m` and `v` in place from the (already clipped) gradient `g`, in the
    /// reference's order: decay, `m.lerp_(g, 1 − β₁)`, `v = β₂ v + (1 − β₂) g²`,
    /// `param −= step_size · m / (√v / bc2 + eps)`.
    fn apply(&self, param: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor) -> Result<()> {
        let (mut param, mut m, mut v) =
            (param.shallow_clone(), m.shallow_clone(), v.shallow_clone());
        if self.decay != 1.0 {
            let _ = param.f_mul_scalar_(self.decay)?;
        }
        let _ = m.f_lerp_(g, 1.0 - self.b1)?;
        let _ = v.f_mul_scalar_(self.b2)?;
        let mut g2 = g.f_mul(g)?;
        let _ = g2.f_mul_scalar_(1.0 - self.b2)?;
        let _ = v.f_add_(&g2)?;
        drop(g2);
        let mut denom = v.f_sqrt()?;
        let _ = denom.f_div_scalar_(self.bc2_sqrt)?;
        let _ = denom.f_add_scalar_(self.eps)?;
        let scaled = m.f_mul_scalar(-self.step_size)?;
        let _ = param.f_addcdiv_(&scaled, &denom)?;
        Ok(())
    }
}

/// Elements per chunk of [`for_each_chunk`]: 4 Mi (16 MiB in float32).
const CHUNK: i64 = 1 << 22;

/// Runs `f` over matching flat chunks of same-shaped contiguous tensors, so the temporaries
/// of an elementwise update are bounded by the chunk, not by the largest parameter (a
/// 151,936-word embedding's are half a gigabyte each in float32); the values are those of
/// one whole-tensor call, as every operation is elementwise. Tensors that cannot be viewed
/// flat are updated whole.
fn for_each_chunk(
    tensors: &[&Tensor; 4],
    mut f: impl FnMut([&Tensor; 4]) -> Result<()>,
) -> Result<()> {
    let numel = tensors[0].numel() as i64;
    let [a, b, c, d] = *tensors;
    if numel <= CHUNK {
        return f([a, b, c, d]);
    }
    let flat: Option<Vec<Tensor>> = tensors
        .iter()
        .map(|t| match t.is_contiguous() && t.numel() as i64 == numel {
            true => t.f_view([-1]).ok(),
            false => None,
        })
        .collect();
    let Some(flat) = flat else {
        return f([a, b, c, d]);
    };
    let mut start = 0;
    while start < numel {
        let len = CHUNK.min(numel - start);
        let parts = flat
            .iter()
            .map(|t| t.f_narrow(0, start, len))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        f([&parts[0], &parts[1], &parts[2], &parts[3]])?;
        start += len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// The chunked update must give bit for bit what one whole-tensor update gives: a
    /// parameter one chunk and a short tail long, through three steps.
    #[test]
    fn a_chunked_update_equals_the_whole_tensor_update() {
        tch::manual_seed(5);
        let numel = CHUNK + 1234;
        let opts = (Kind::Float, Device::Cpu);
        let param = Tensor::randn([numel], opts);
        let (mut whole, mut chunked) = (
            [
                param.copy(),
                Tensor::zeros([numel], opts),
                Tensor::zeros([numel], opts),
            ],
            [
                param.copy(),
                Tensor::zeros([numel], opts),
                Tensor::zeros([numel], opts),
            ],
        );
        for t in 1..=3 {
            let g = Tensor::randn([numel], opts) * 0.1;
            let update = AdamwUpdate {
                decay: 1.0 - 1e-3 * 0.1,
                b1: 0.9,
                b2: 0.999,
                eps: 1e-8,
                bc2_sqrt: (1.0 - 0.999f64.powi(t)).sqrt(),
                step_size: 1e-3 / (1.0 - 0.9f64.powi(t)),
            };
            let [p, m, v] = &mut whole;
            update.apply(p, &g, m, v).unwrap();
            let [p, m, v] = &mut chunked;
            let mut calls = 0;
            for_each_chunk(&[p, &g, m, v], |[p, g, m, v]| {
                calls += 1;
                update.apply(p, g, m, v)
            })
            .unwrap();
            assert_eq!(calls, 2, "one full chunk and the tail");
        }
        for (name, (a, b)) in ["param", "exp_avg", "exp_avg_sq"]
            .iter()
            .zip(whole.iter().zip(chunked.iter()))
        {
            assert!(a.equal(b), "{name} differs");
            assert!(
                !a.equal(&Tensor::zeros([numel], opts)),
                "{name} never moved"
            );
        }
    }

    /// A tensor that cannot be viewed flat is updated whole, in place.
    #[test]
    fn a_strided_parameter_is_updated_whole() {
        let opts = (Kind::Float, Device::Cpu);
        let base = Tensor::ones([CHUNK / 1024 + 1, 2048], opts);
        let param = base.narrow(1, 0, 1024);
        let zeros = || Tensor::zeros([CHUNK / 1024 + 1, 1024], opts);
        let (g, m, v) = (Tensor::ones_like(&param), zeros(), zeros());
        let mut calls = 0;
        for_each_chunk(&[&param, &g, &m, &v], |[p, g, m, v]| {
            calls += 1;
            let _ = p.shallow_clone().f_sub_(g)?;
            let _ = m.shallow_clone().f_add_(g)?;
            let _ = v.shallow_clone().f_add_(g)?;
            Ok(())
        })
        .unwrap();
        assert_eq!(calls, 1);
        assert_eq!(
            base.narrow(1, 0, 1024).sum(Kind::Float).double_value(&[]),
            0.0
        );
        assert_eq!(
            base.narrow(1, 1024, 1024)
                .mean(Kind::Float)
                .double_value(&[]),
            1.0,
            "the untouched half stays"
        );
    }
}
