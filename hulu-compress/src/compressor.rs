//! The compressor trait: a policy deciding which merged tokens reach the language model.

use crate::{KeepMask, Result};
use hulu_io::PatchGrid;
use tch::Tensor;

/// A token-compression policy.
///
/// It sees the preprocessed pixels of one call (`pixel_values`, `[N, D]` with `D = 3·14·14 =
/// 588` for Hulu-Med, rows in patch order: input, frame, merge-block row, merge-block column,
/// row in block, column in block), the patch grid of each visual input and its merge size, and
/// returns one keep flag per merged token over all inputs, in merged-token order (input, frame,
/// row, column). A policy decides each input on its own pixels only.
pub trait TokenCompressor: Send + Sync + std::fmt::Debug {
    /// The keep-mask of one call; a typed error when the pixels do not match the grids.
    fn keep_mask(
        &self,
        pixel_values: &Tensor,
        grids: &[PatchGrid],
        merge_sizes: &[usize],
    ) -> Result<KeepMask>;
}

/// The policy that keeps every token (Hulu-Med with `use_token_compression = false`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCompression;

impl TokenCompressor for NoCompression {
    fn keep_mask(
        &self,
        pixel_values: &Tensor,
        grids: &[PatchGrid],
        merge_sizes: &[usize],
    ) -> Result<KeepMask> {
        crate::medical::check_pixels(pixel_values, grids)?;
        KeepMask::keep_all(grids, merge_sizes)
    }
}
