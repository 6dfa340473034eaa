//! Expanding each image placeholder id to one id per visual token.
//!
//! The template writes one `<image>` per visual *frame*: an image is one frame, a video or a
//! volume of `n` frames (slices) writes `n` placeholders. Frame `f` of a visual input with
//! patch grid `(frames, rows, cols)` and merge factor `m` becomes `(rows / m) * (cols / m)`
//! tokens after the vision encoder's `m × m` merge, so the placeholders of that input expand
//! to that many ids each. For the fixtures: `ct_small.png` is a `[1, 9, 9]` grid with `m = 1`
//! (one placeholder → 81 ids); the NIfTI volume is `[8, 8, 10]` with `m = 2` (eight
//! placeholders → 20 ids each, 160 in all); the cine video `[6, 18, 22]` with `m = 2` (six
//! placeholders → 99 ids each). Token compression happens later, on these expanded ids.

use hulu_io::MergedGrid;

use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;

/// Visual tokens per placeholder, in prompt order: for each input, `frames` entries of
/// `(rows / m) * (cols / m)` (the grids are the reference's `grid_sizes` paired with its
/// `merge_sizes`, checked when the [`MergedGrid`] was made).
pub fn tokens_per_placeholder(grids: &[MergedGrid]) -> Vec<usize> {
    grids
        .iter()
        .flat_map(|g| std::iter::repeat_n(g.tokens_per_frame(), g.frames))
        .collect()
}

/// `ids` with the `k`-th occurrence of `image_token_id` replaced by `counts[k]` copies of it.
///
/// The number of occurrences must equal `counts.len()`, else [`Error::ImageCountMismatch`]:
/// a conversation that names more or fewer frames than the visual inputs provide.
///
/// # Errors
///
/// [`Error::ImageCountMismatch`] as above.
pub fn expand_image_tokens(ids: &[u32], image_token_id: u32, counts: &[usize]) -> Result<Vec<u32>> {
    let placeholders = ids.iter().filter(|&&id| id == image_token_id).count();
    if placeholders != counts.len() {
        return Err(Error::ImageCountMismatch {
            placeholders,
            visual_frames: counts.len(),
        });
    }
    let extra: usize = counts.iter().sum::<usize>().saturating_sub(placeholders);
    let mut out = Vec::with_capacity(ids.len() + extra);
    let mut next = counts.iter();
    for &id in ids {
        if id == image_token_id {
            // Counts and placeholders were checked equal above.
            let n = next.next().copied().unwrap_or(0);
            out.extend(std::iter::repeat_n(id, n));
        } else {
            out.push(id);
        }
    }
    Ok(out)
}

/// The image token id of a checkpoint: `config.json`'s `image_token_index` (151669 for the
/// fixtures, 151665 for the published 7B/32B checkpoints).
///
/// # Errors
///
/// [`Error::Config`] when `config.json` cannot be read; [`Error::InvalidImageToken`] when the
/// index is not a token id.
pub fn image_token_id(model_dir: impl AsRef<std::path::Path>) -> Result<u32> {
    let config = crate::config::HuluConfig::from_file(model_dir.as_ref().join("config.json"))?;
    u32::try_from(config.image_token_index)
        .map_err(|_| Error::InvalidImageToken(config.image_token_index))
}

/// The ids of a rendered prompt with each `image_token_id` expanded to `counts[k]` copies
/// (see [`expand_image_tokens`]).
///
/// # Errors
///
/// [`Error::Tokenizer`] when tokenising fails; [`Error::ImageCountMismatch`] as for
/// [`expand_image_tokens`].
pub fn encode_with_images(
    tokenizer: &Tokenizer,
    prompt: &str,
    image_token_id: u32,
    counts: &[usize],
) -> Result<Vec<u32>> {
    let ids = tokenizer.encode(prompt)?;
    expand_image_tokens(&ids, image_token_id, counts)
}
