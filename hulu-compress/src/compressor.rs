//! The compressor trait: a policy deciding which merged tokens reach the language model.

use crate::{Error, KeepMask, Result};
use hulu_io::MergedGrid;
use tch::Tensor;

/// A token-compression policy.
///
/// It sees the preprocessed pixels of one call (`pixel_values`, `[N, D]` with `D = 3·14·14 =
/// 588` for Hulu-Med, rows in patch order: input, frame, merge-block row, merge-block column,
/// row in block, column in block) and the patch grid and merge size of each visual input, and
/// returns one keep flag per merged token over all inputs, in merged-token order (input, frame,
/// row, column). A policy decides each input on its own pixels only.
pub trait TokenCompressor: Send + Sync + std::fmt::Debug {
    /// The keep-mask of one call.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] or [`Error::Dtype`] when the pixels do not match the grids;
    /// [`Error::Torch`] when libtorch fails.
    fn keep_mask(&self, pixel_values: &Tensor, grids: &[MergedGrid]) -> Result<KeepMask>;

    /// This policy with its threshold (the difference under which a token is dropped) set to
    /// `threshold`, for a call that asks for one; the configured policy is never swapped for
    /// another.
    ///
    /// # Errors
    ///
    /// [`Error::Option`] when the policy has no threshold (the default) or refuses the value.
    fn with_threshold(&self, threshold: f64) -> Result<Box<dyn TokenCompressor>> {
        Err(Error::Option(format!(
            "the compressor {self:?} has no threshold to set to {threshold}"
        )))
    }
}

/// The policy that keeps every token (Hulu-Med with `use_token_compression = false`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCompression;

impl TokenCompressor for NoCompression {
    fn keep_mask(&self, pixel_values: &Tensor, grids: &[MergedGrid]) -> Result<KeepMask> {
        crate::medical::check_pixels(pixel_values, grids)?;
        KeepMask::keep_all(grids)
    }
}
