//! Applying a keep-mask: features and image-token ids are dropped together.

use crate::{Error, FrameStats, KeepMask, Result};
use tch::Tensor;

/// The result of [`apply_mask`].
#[derive(Debug)]
pub struct Compressed {
    /// The kept feature rows, in their original order.
    pub features: Tensor,
    /// The ids with every dropped image token removed, other ids untouched and in order.
    pub ids: Vec<i64>,
    /// Tokens in and tokens kept for every frame of every visual input.
    pub frames: Vec<FrameStats>,
}

/// Drops the merged tokens `mask` rejects from `features` (`[tokens, …]`, one row per merged
/// token) and from `ids`, where the k-th occurrence of `image_token_id` stands for the k-th
/// merged token. Mask, feature rows and image-token ids must all count the same tokens.
///
/// # Errors
///
/// [`Error::Shape`] when the mask, the feature rows and the image-token ids do not count the same
/// tokens; [`Error::Torch`] when libtorch fails.
pub fn apply_mask(
    features: &Tensor,
    ids: &[i64],
    image_token_id: i64,
    mask: &KeepMask,
) -> Result<Compressed> {
    let _span = tracing::info_span!("apply_mask", tokens = mask.len()).entered();
    let keep = mask.as_slice();
    let rows = features.size().first().copied().unwrap_or(0) as usize;
    if features.dim() == 0 || rows != keep.len() {
        return Err(Error::MaskLength {
            mask: keep.len(),
            found: rows,
            what: "feature rows",
        });
    }
    let image_tokens = ids.iter().filter(|&&id| id == image_token_id).count();
    if image_tokens != keep.len() {
        return Err(Error::MaskLength {
            mask: keep.len(),
            found: image_tokens,
            what: "image-token ids",
        });
    }
    let mut k = 0;
    let kept_ids: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|&id| {
            if id != image_token_id {
                return true;
            }
            k += 1;
            keep[k - 1]
        })
        .collect();
    let rows_kept: Vec<i64> = (0..keep.len() as i64)
        .filter(|&i| keep[i as usize])
        .collect();
    let features = if rows_kept.len() == keep.len() {
        features.shallow_clone()
    } else {
        let index = Tensor::f_from_slice(&rows_kept)?.f_to_device(features.device())?;
        features.f_index_select(0, &index)?
    };
    Ok(Compressed {
        features,
        ids: kept_ids,
        frames: mask.frame_stats(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hulu_io::{MergedGrid, PatchGrid};
    use tch::{Device, Kind};

    const IMAGE: i64 = 9;

    fn mask(keep: Vec<bool>) -> KeepMask {
        let cols = keep.len();
        let grid = PatchGrid {
            frames: 1,
            rows: 1,
            cols,
        };
        KeepMask::new(keep, &[MergedGrid::new(grid, 1).unwrap()]).unwrap()
    }

    #[test]
    fn mismatched_lengths_are_typed_errors() {
        let features = Tensor::zeros([3, 2], (Kind::Float, Device::Cpu));
        let ids = [1, IMAGE, IMAGE, 2, IMAGE];
        let err = apply_mask(&features, &ids, IMAGE, &mask(vec![true; 4])).unwrap_err();
        assert!(matches!(
            err,
            Error::MaskLength {
                mask: 4,
                found: 3,
                what: "feature rows"
            }
        ));
        let err = apply_mask(&features, &ids[..4], IMAGE, &mask(vec![true; 3])).unwrap_err();
        assert!(matches!(
            err,
            Error::MaskLength {
                mask: 3,
                found: 2,
                what: "image-token ids"
            }
        ));
        let scalar = Tensor::from(1.0f32);
        assert!(apply_mask(&scalar, &ids, IMAGE, &mask(vec![true; 3])).is_err());
    }

    #[test]
    fn drops_features_and_ids_together() {
        let features = Tensor::from_slice(&[0.0f32, 1.0, 2.0]).view([3, 1]);
        let ids = [1, IMAGE, IMAGE, 2, IMAGE, 3];
        let out = apply_mask(&features, &ids, IMAGE, &mask(vec![false, true, false])).unwrap();
        assert_eq!(out.ids, [1, IMAGE, 2, 3]);
        let rows: Vec<f32> = Vec::try_from(out.features.view([-1])).unwrap();
        assert_eq!(rows, [1.0]);
        assert_eq!(
            out.frames,
            [FrameStats {
                input: 0,
                frame: 0,
                tokens: 3,
                kept: 1
            }]
        );
    }
}
