//! Rotary position embeddings, computed in float32 whatever the activation dtype.
//!
//! The cos/sin tables grow on demand (to the next power of two of the longest position seen, at
//! most `max_position_embeddings`) instead of being built eagerly for every supported position:
//! a 262k-position model would otherwise spend hundreds of megabytes on rows it rarely reads.

use crate::{Error, Result};
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// Smallest table built, so short prompts followed by decoding do not regrow it every step.
const MIN_TABLE: usize = 256;

/// Per-position rotation angles for one head width.
#[derive(Debug)]
pub(crate) struct Rotary {
    /// `1 / theta^(2i/d)`, float32, `[d/2]`.
    inv_freq: Tensor,
    max_positions: usize,
    /// `(cos, sin)`, float32 `[n, d]`, covering positions `0..n`.
    table: Mutex<Option<(Tensor, Tensor)>>,
}

impl Rotary {
    pub(crate) fn new(
        head_dim: usize,
        theta: f64,
        max_positions: usize,
        device: Device,
    ) -> Result<Self> {
        // Same float32 arithmetic as the reference, so angles agree to the last bit.
        let exponent = Tensor::f_arange_start_step(0, head_dim as i64, 2, (Kind::Int64, device))?
            .f_to_kind(Kind::Float)?
            .f_div_scalar(head_dim as f64)?;
        let inv_freq = Tensor::f_pow_scalar(theta, &exponent)?.f_reciprocal()?;
        Ok(Rotary {
            inv_freq,
            max_positions,
            table: Mutex::new(None),
        })
    }

    /// Rows currently held by the table (for tests of the lazy sizing).
    pub(crate) fn table_len(&self) -> usize {
        self.table
            .lock()
            .map(|t| t.as_ref().map_or(0, |(c, _)| c.size()[0] as usize))
            .unwrap_or(0)
    }

    fn build(&self, n: usize) -> Result<(Tensor, Tensor)> {
        let device = self.inv_freq.device();
        let pos = Tensor::f_arange(n as i64, (Kind::Float, device))?;
        let freqs = pos.f_unsqueeze(1)?.f_mul(&self.inv_freq.f_unsqueeze(0)?)?;
        let emb = Tensor::f_cat(&[&freqs, &freqs], -1)?;
        Ok((emb.f_cos()?, emb.f_sin()?))
    }

    /// cos and sin for `positions` (`[B, L]`, int64, every value below `needed`), shaped
    /// `[B, 1, L, d]` in `kind` to broadcast over heads.
    pub(crate) fn cos_sin(
        &self,
        positions: &Tensor,
        needed: usize,
        kind: Kind,
    ) -> Result<(Tensor, Tensor)> {
        if needed > self.max_positions {
            return Err(Error::TooLong {
                needed,
                max: self.max_positions,
            });
        }
        let mut guard = self
            .table
            .lock()
            .map_err(|_| Error::request("rotary table lock poisoned by a panic elsewhere"))?;
        let have = guard.as_ref().map_or(0, |(c, _)| c.size()[0] as usize);
        if have < needed {
            let n = needed
                .next_power_of_two()
                .max(MIN_TABLE)
                .min(self.max_positions);
            *guard = Some(self.build(n)?);
        }
        let (cos, sin) = guard.as_ref().expect("table built above");
        let size = positions.size();
        let flat = positions.f_reshape([-1])?;
        let pick = |t: &Tensor| -> Result<Tensor> {
            let rows = t.f_index_select(0, &flat)?;
            Ok(rows.f_reshape([size[0], 1, size[1], -1])?.f_to_kind(kind)?)
        };
        Ok((pick(cos)?, pick(sin)?))
    }
}

/// Rotates `x` (`[B, heads, L, d]`) by the angles in `cos`/`sin` (`[B, 1, L, d]`): pairs are
/// `(i, i + d/2)`, the "rotate half" layout of the Hugging Face checkpoints.
pub(crate) fn apply(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let half = x.size()[3] / 2;
    let first = x.f_narrow(3, 0, half)?;
    let second = x.f_narrow(3, half, half)?;
    let rotated = Tensor::f_cat(&[&second.f_neg()?, &first], 3)?;
    Ok(x.f_mul(cos)?.f_add(&rotated.f_mul(sin)?)?)
}
