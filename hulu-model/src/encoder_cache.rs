//! The encoder cache: each visual's features, kept for the follow-up questions about it.
//!
//! Keyed per visual input by the SHA-256 of what the encoder reads: its preprocessed patches,
//! its grid and merge size, and their dtype. Two calls that reach the same patches share one
//! encoding, whatever path, upload or message brought the file; any option that changes the
//! patches (slices, window, pixel budget, fps) changes the key. A call whose visuals are all
//! new is encoded in one pass exactly as without a cache; one that adds a visual to cached
//! ones encodes only the new one (the encoder attends within each visual, so the features
//! are the same). Least recently used entries go first.

use crate::error::{Error, Result};
use crate::model::HuluMed;
use crate::stages::{EncodedVisuals, PreprocessedVisuals};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use tch::{Device, Kind, Tensor};

/// A content hash of one preprocessed visual.
pub type CacheKey = [u8; 32];

/// How a call used the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheUse {
    /// Visuals whose features came from the cache.
    pub hits: usize,
    /// Visuals encoded by this call.
    pub misses: usize,
}

/// Encoded visuals by key, at most `capacity` of them.
pub struct EncoderCache {
    capacity: usize,
    entries: VecDeque<(CacheKey, EncodedVisuals)>,
}

impl std::fmt::Debug for EncoderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncoderCache")
            .field("entries", &self.entries.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl EncoderCache {
    /// An empty cache holding up to `capacity` visuals (0 caches nothing).
    pub fn new(capacity: usize) -> Self {
        EncoderCache {
            capacity,
            entries: VecDeque::new(),
        }
    }

    /// Visuals held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every visual.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The features for `key` (views sharing the cached storage), marked most recently used.
    pub fn get(&mut self, key: &CacheKey) -> Option<EncodedVisuals> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        let entry = self.entries.remove(at)?;
        let view = share(&entry.1);
        self.entries.push_back(entry);
        Some(view)
    }

    /// Keeps `encoded` under `key`, dropping the least recently used beyond the capacity.
    pub fn put(&mut self, key: CacheKey, encoded: &EncodedVisuals) {
        if self.capacity == 0 {
            return;
        }
        self.entries.retain(|(k, _)| k != &key);
        self.entries.push_back((key, share(encoded)));
        while self.entries.len() > self.capacity {
            self.entries.pop_front();
        }
    }

    /// [`HuluMed::encode_visuals`] for `visuals`, each visual looked up first and the missing
    /// ones encoded together and added.
    ///
    /// # Errors
    ///
    /// Those of [`HuluMed::encode_visuals`]; [`Error::Tensor`] when hashing or joining fails.
    pub fn encode(
        &mut self,
        model: &HuluMed,
        visuals: &PreprocessedVisuals,
    ) -> Result<(EncodedVisuals, CacheUse)> {
        let parts = split(visuals)?;
        let keys = parts
            .iter()
            .zip(&visuals.grids)
            .map(|(pixels, grid)| key(pixels, grid))
            .collect::<Result<Vec<_>>>()?;
        let mut found: Vec<Option<EncodedVisuals>> = keys.iter().map(|k| self.get(k)).collect();
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| found[i].is_none()).collect();
        let used = CacheUse {
            hits: keys.len() - missing.len(),
            misses: missing.len(),
        };
        if missing.len() == keys.len() {
            // Nothing cached: one pass, exactly as without a cache.
            let encoded = model.encode_visuals(visuals)?;
            for (i, piece) in split_features(&encoded, &visuals.grids)?
                .into_iter()
                .enumerate()
            {
                self.put(keys[i], &piece);
            }
            return Ok((encoded, used));
        }
        if !missing.is_empty() {
            let pixels: Vec<&Tensor> = missing.iter().map(|&i| &parts[i]).collect();
            let sub = PreprocessedVisuals {
                pixel_values: Tensor::f_cat(&pixels, 0)?,
                grids: missing.iter().map(|&i| visuals.grids[i]).collect(),
            };
            let encoded = model.encode_visuals(&sub)?;
            for (piece, &i) in split_features(&encoded, &sub.grids)?
                .into_iter()
                .zip(&missing)
            {
                self.put(keys[i], &piece);
                found[i] = Some(piece);
            }
        }
        let found: Vec<EncodedVisuals> = found.into_iter().flatten().collect();
        let vision: Vec<&Tensor> = found.iter().map(|e| &e.vision_features).collect();
        let mm: Vec<&Tensor> = found.iter().map(|e| &e.mm_features).collect();
        Ok((
            EncodedVisuals {
                vision_features: Tensor::f_cat(&vision, 0)?,
                mm_features: Tensor::f_cat(&mm, 0)?,
            },
            used,
        ))
    }
}

/// Each visual's patches (rows of `pixel_values`), in the order of the grids.
fn split(visuals: &PreprocessedVisuals) -> Result<Vec<Tensor>> {
    let mut at = 0i64;
    let mut out = Vec::with_capacity(visuals.grids.len());
    for g in &visuals.grids {
        let n = g.grid().patches() as i64;
        out.push(visuals.pixel_values.f_narrow(0, at, n)?);
        at += n;
    }
    if at != visuals.pixel_values.size()[0] {
        return Err(Error::Tensor(format!(
            "{} patch rows for grids of {at} patches",
            visuals.pixel_values.size()[0]
        )));
    }
    Ok(out)
}

/// `encoded` cut into one piece per grid (merged tokens of each).
fn split_features(
    encoded: &EncodedVisuals,
    grids: &[hulu_io::MergedGrid],
) -> Result<Vec<EncodedVisuals>> {
    let mut at = 0i64;
    let mut out = Vec::with_capacity(grids.len());
    for g in grids {
        let n = g.tokens() as i64;
        out.push(EncodedVisuals {
            vision_features: encoded.vision_features.f_narrow(0, at, n)?,
            mm_features: encoded.mm_features.f_narrow(0, at, n)?,
        });
        at += n;
    }
    Ok(out)
}

/// The key of one visual's patches and grid.
fn key(pixel_values: &Tensor, grid: &hulu_io::MergedGrid) -> Result<CacheKey> {
    let mut hash = Sha256::new();
    hash.update(format!("{grid:?};{:?};", pixel_values.kind()).as_bytes());
    let flat = pixel_values
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_contiguous()?
        .f_view([-1])?;
    let values = Vec::<f32>::try_from(&flat)?;
    for v in values {
        hash.update(v.to_le_bytes());
    }
    Ok(hash.finalize().into())
}

fn share(e: &EncodedVisuals) -> EncodedVisuals {
    EncodedVisuals {
        vision_features: e.vision_features.shallow_clone(),
        mm_features: e.mm_features.shallow_clone(),
    }
}
