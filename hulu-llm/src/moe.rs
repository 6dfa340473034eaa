//! The sparse mixture-of-experts MLP of Qwen3-MoE (`transformers`' `Qwen3MoeSparseMoeBlock`):
//! a router picks `k` of `E` SwiGLU experts per token, and the token's output is the sum of
//! those experts' outputs weighted by their router probabilities.
//!
//! Only the chosen experts run: tokens are sorted by expert, each expert takes its contiguous
//! slice of tokens in one call, and the weighted outputs are added back to their rows with
//! `index_add`. Running every expert on every token would cost `E / k` times the compute.

use crate::config::MoeConfig;
use crate::linear::Linear;
use crate::mlp::Mlp;
use crate::{Quantization, Result};
use hulu_nn::VarBuilder;
use tch::{Kind, Tensor};

#[derive(Debug)]
pub(crate) struct SparseMoe {
    /// `mlp.gate`: hidden → one logit per expert, no bias.
    gate: Linear,
    experts: Vec<Mlp>,
    top_k: i64,
    norm_topk_prob: bool,
}

impl SparseMoe {
    pub(crate) fn load(scope: &VarBuilder, hidden: usize, moe: &MoeConfig) -> Result<Self> {
        let experts = (0..moe.num_experts)
            .map(|e| {
                Mlp::load(
                    &scope.pp("experts").pp(e),
                    hidden,
                    moe.moe_intermediate_size,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SparseMoe {
            gate: Linear::load(&scope.pp("gate"), hidden, moe.num_experts, false)?,
            experts,
            top_k: moe.num_experts_per_tok as i64,
            norm_topk_prob: moe.norm_topk_prob,
        })
    }

    /// Quantizes every expert (the router stays dense: it is small and its logits decide
    /// which experts run).
    pub(crate) fn quantize(&mut self, q: &Quantization) -> Result<()> {
        for expert in &mut self.experts {
            expert.quantize(q)?;
        }
        Ok(())
    }

    pub(crate) fn bytes(&self) -> usize {
        self.gate.bytes() + self.experts.iter().map(Mlp::bytes).sum::<usize>()
    }

    /// `x`: `[..., hidden]`.
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let shape = x.size();
        let hidden = *shape.last().expect("x has the hidden width");
        let flat = x.f_reshape([-1, hidden])?;
        let tokens = flat.size()[0];
        // Softmax over the router logits in float32, then the k largest (as the reference).
        let probs = self.gate.forward(&flat)?.f_softmax(-1, Kind::Float)?;
        let (mut weights, chosen) = probs.f_topk(self.top_k, -1, true, true)?;
        if self.norm_topk_prob {
            weights = weights.f_div(&weights.f_sum_dim_intlist(-1, true, Kind::Float)?)?;
        }
        let weights = weights.f_to_kind(x.kind())?;
        // Sort the (token, slot) pairs by expert: each expert's tokens become one slice.
        let chosen = chosen.f_reshape([-1])?;
        let order = chosen.f_argsort_stable(true, 0, false)?;
        let counts = Vec::<i64>::try_from(
            chosen
                .f_bincount::<Tensor>(None, self.experts.len() as i64)?
                .f_to_device(tch::Device::Cpu)?,
        )?;
        let rows = order.f_div_scalar_mode(self.top_k, "floor")?;
        let slot_weights = weights.f_reshape([-1])?.f_index_select(0, &order)?;
        let mut out = flat.f_zeros_like()?;
        let mut at = 0i64;
        for (expert, &count) in self.experts.iter().zip(&counts) {
            if count == 0 {
                continue;
            }
            let rows = rows.f_narrow(0, at, count)?;
            let y = expert
                .forward(&flat.f_index_select(0, &rows)?)?
                .f_mul(&slot_weights.f_narrow(0, at, count)?.f_unsqueeze(1)?)?;
            let _ = out.f_index_add_(0, &rows, &y)?;
            at += count;
        }
        debug_assert_eq!(at, tokens * self.top_k);
        Ok(out.f_reshape(shape)?)
    }
}
